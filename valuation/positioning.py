"""Positioning: value x loyalty x competitor entanglement -> strategy, size approach, lifecycle stage."""

from __future__ import annotations

import numpy as np
import pandas as pd

from valuation.config import Settings

__all__ = [
    "APPROACHES",
    "STAGES",
    "STRATEGIES",
    "actions",
    "approach",
    "lifecycle_stage",
    "position",
    "strategy_label",
]

# (value high, loyalty high, competitor high) -> strategy code. The source screens targets on
# these three dimensions; the eight cells and their playbook are this product's defaults.
_CELLS: dict[tuple[bool, bool, bool], str] = {
    (True, True, False): "core_retention",
    (True, True, True): "defend_and_displace",
    (True, False, False): "deepen_bundle",
    (True, False, True): "counter_poaching",
    (False, True, False): "efficient_growth",
    (False, True, True): "protect_base",
    (False, False, False): "low_cost_maintenance",
    (False, False, True): "selective_winback",
}

# code -> (English name, Chinese name, what it means)
STRATEGIES: dict[str, tuple[str, str, str, str]] = {
    "core_retention": ("Core retention", "核心保有",
                       "High value, deeply bundled, little competitor presence: keep it that way.",
                       "高价值、深捆绑、异网渗透少:重点保有,巩固优势。"),
    "defend_and_displace": ("Defend and displace", "防御替换",
                            "High value and loyal, but a competitor is inside: defend and replace "
                            "their products with ours.",
                            "高价值且忠诚,但异网已渗透:守住存量并替换异网业务。"),
    "deepen_bundle": ("Deepen the bundle", "深化捆绑",
                      "High value, shallow bundle, no competitor lock-in: extend and deepen.",
                      "高价值、捆绑浅、异网未锁定:延伸和深捆绑。"),
    "counter_poaching": ("Counter-poaching battleground", "反抢攻坚",
                         "High value, shallow with us, deep with a competitor: the battleground.",
                         "高价值、我方捆绑浅而异网捆绑深:竞争主战场,制定反抢计划。"),
    "efficient_growth": ("Efficient growth", "高效培育",
                         "Loyal but of modest value: grow spend at low service cost.",
                         "忠诚但价值一般:以低服务成本提升消费。"),
    "protect_base": ("Protect the base", "稳固基础",
                     "Loyal, modest value, competitor present: pre-empt with a cheaper bundle.",
                     "忠诚、价值一般、异网存在:以更优惠的组合提前锁定。"),
    "low_cost_maintenance": ("Low-cost maintenance", "低成本维系",
                             "Low value, shallow bundle, no competitor: basic service, e-channels.",
                             "低价值、捆绑浅、无异网:基础服务,电子渠道维系。"),
    "selective_winback": ("Selective win-back", "选择性挽回",
                          "Low value and entangled with a competitor: win back only when cheap.",
                          "低价值且被异网捆绑:仅在成本可控时挽回。"),
}

APPROACHES = {
    "function_service": ("Function and service led", "功能与服务导向"),
    "price_led": ("Price led", "资费导向"),
}

STAGES = {
    "identification": ("Identification", "识别期"),
    "growth": ("Growth", "成长期"),
    "warning": ("Warning", "预警期"),
}

# (strategy, approach) -> actions (English, Chinese). Large and medium accounts value function
# and service; small ones value price (the source's size rule).
_ACTIONS: dict[str, dict[str, list[tuple[str, str]]]] = {
    "core_retention": {
        "function_service": [
            ("Dedicated end-to-end service: named agent and on-site manager", "贴身服务:VIP专席与驻点客户经理"),
            ("Renew the comprehensive agreement early with added service levels", "提前续签综合协议并提升服务等级"),
            ("Quarterly executive review of the account's ICT roadmap", "每季度高层拜访,共商信息化规划"),
        ],
        "price_led": [
            ("Loyalty tariff on renewal; lock in with a multi-year bundle", "续约忠诚优惠,多年期组合锁定"),
            ("Proactive bill review to keep the price competitive", "主动账单优化,保持资费竞争力"),
        ],
    },
    "defend_and_displace": {
        "function_service": [
            ("Map every competitor product and offer our substitute with migration support", "梳理异网业务,提供替代方案和迁移支持"),
            ("Integrate our industry application with their systems to raise switching cost", "行业应用与客户系统深度集成,提高转网成本"),
            ("Lead visits by the team lead; write a counter-poaching plan", "主管带队拜访,制定反抢计划"),
        ],
        "price_led": [
            ("Same quality at a lower price than the competitor for the overlapping services", "重叠业务同质低价"),
            ("Bundle discount when consolidating onto our network", "业务归集至我方给予组合优惠"),
        ],
    },
    "deepen_bundle": {
        "function_service": [
            ("Extend into the missing families: information and industry applications", "延伸至未覆盖的信息化和行业应用"),
            ("Propose a comprehensive agreement bundling voice, long distance and data", "推荐综合协议,捆绑语音、长途和数据"),
            ("Closed user group for all staff lines", "全员集团V网"),
        ],
        "price_led": [
            ("Starter bundle: add one family at a discount for 12 months", "入门组合:新增产品族首年优惠"),
            ("Closed user group to cut internal call costs", "集团V网降低内部通话成本"),
        ],
    },
    "counter_poaching": {
        "function_service": [
            ("Counter-poaching plan led by the department head", "部门主任牵头制定反抢计划"),
            ("Higher quality at the same price for their core service", "核心业务高质同价"),
            ("Pilot our industry application free for 3 months", "行业应用免费试用3个月"),
        ],
        "price_led": [
            ("Match or beat the competitor's tariff on the contested services", "争夺业务资费对标或更优"),
            ("Subsidised handsets or bill credit tied to a 2-year agreement", "租机或话费补贴绑定两年协议"),
        ],
    },
    "efficient_growth": {
        "function_service": [
            ("Cross-sell information services through the account manager's regular contact", "借常规维系交叉销售信息化业务"),
            ("Move service to e-channels and the call centre", "服务转向电子渠道和呼叫中心"),
        ],
        "price_led": [
            ("Upgrade offers at a small price step", "小额加价升级套餐"),
            ("Self-service portal for changes and bills", "自助门户办理变更和账单"),
        ],
    },
    "protect_base": {
        "function_service": [
            ("Pre-empt with a cheaper converged product before the competitor expands", "在异网扩张前以更优融合产品提前锁定"),
            ("Renew contracts early", "协议提前续签"),
        ],
        "price_led": [
            ("Lock in with a cheaper package now", "当下以更低资费套餐锁定"),
            ("Bill subsidy tied to renewal", "续约话费补贴"),
        ],
    },
    "low_cost_maintenance": {
        "function_service": [
            ("Basic service through the call centre and e-channels", "呼叫中心和电子渠道提供基础服务"),
            ("Annual needs check for standard products", "年度需求回访,推荐标准产品"),
        ],
        "price_led": [
            ("Standard packages; no bespoke discounts", "标准套餐,不做定制优惠"),
            ("Self-service for changes and payments", "变更和缴费自助办理"),
        ],
    },
    "selective_winback": {
        "function_service": [
            ("Win back only where a standard product fits; no bespoke work", "仅以标准产品挽回,不做定制"),
            ("Keep in the counter-poaching watch list", "列入反抢观察名单"),
        ],
        "price_led": [
            ("Targeted price offer on one service when the competitor's contract ends", "异网协议到期时针对单项业务资费出击"),
            ("No costly incentives", "不投入高成本激励"),
        ],
    },
}

_STAGE_ACTIONS = {
    "identification": ("Onboarding: confirm needs, decision makers and the competitor's footprint",
                       "识别期:摸清需求、决策人和异网情况"),
    "growth": ("Growth: raise purchase level and share of wallet with cross-sell",
               "成长期:交叉销售,提升购买层级和钱包份额"),
    "warning": ("Warning: call back within a week to learn the reason; retention offer by value",
                "预警期:一周内回访了解原因,按价值分类维系"),
}


def position(scores: pd.DataFrame, settings: Settings) -> pd.Series:
    """Strategy code per account from its three scores and the positioning cuts."""
    v = scores["value_score"].to_numpy() >= settings.get("positioning.value_high")
    lo = scores["loyalty_score"].to_numpy() >= settings.get("positioning.loyalty_high")
    c = scores["competitor_score"].to_numpy() >= settings.get("positioning.competitor_high")
    code = v.astype(int) * 4 + lo.astype(int) * 2 + c.astype(int)
    lookup = np.empty(8, dtype=object)
    for (vh, lh, ch), name in _CELLS.items():
        lookup[int(vh) * 4 + int(lh) * 2 + int(ch)] = name
    return pd.Series(lookup[code], index=scores.index, name="strategy")


def approach(frame: pd.DataFrame) -> pd.Series:
    """Large and medium accounts: function and service led; small: price led."""
    return pd.Series(
        np.where(frame["size_class"].isin(["large", "medium"]), "function_service", "price_led"),
        index=frame.index, name="approach",
    )


def lifecycle_stage(frame: pd.DataFrame, loyalty: pd.Series, settings: Settings) -> pd.Series:
    """identification (young), warning (any warning rule holds) or growth.

    Warning rules: 3-month revenue down by ``lifecycle.warning_revenue_drop`` or more; 3-month
    arrears ratio at or above ``warning_arrears_ratio``; escalated complaints in 12 months at or
    above ``warning_escalations``; or a contract ending within ``warning_contract_days`` while
    loyalty is below ``warning_contract_min_loyalty``. Warning wins over identification.
    """
    as_of = pd.Timestamp(frame.attrs.get("as_of"))
    g = settings.get
    tenure_m = (as_of - pd.to_datetime(frame["onboard_date"])).dt.days / 30.44
    days_left = (pd.to_datetime(frame["next_contract_end"]) - as_of).dt.days
    warning = (
        (frame["revenue_trend"].fillna(0) <= -g("lifecycle.warning_revenue_drop"))
        | (frame["arrears_rate_3m"].fillna(0) >= g("lifecycle.warning_arrears_ratio"))
        | (frame["escalations_12m"] >= g("lifecycle.warning_escalations"))
        | ((days_left <= g("lifecycle.warning_contract_days")).fillna(False)
           & (loyalty < g("lifecycle.warning_contract_min_loyalty")))
    )
    stage = np.where(warning, "warning",
                     np.where(tenure_m < g("lifecycle.identification_months"), "identification",
                              "growth"))
    return pd.Series(stage, index=frame.index, name="lifecycle_stage")


def strategy_label(code: str, lang: str) -> str:
    en, zh, _, _ = STRATEGIES[code]
    return zh if lang.startswith("zh") else en


def actions(strategy: str, approach_code: str, stage: str, lang: str) -> list[str]:
    """The recommended actions for one account's cell, size approach and lifecycle stage."""
    i = 1 if lang.startswith("zh") else 0
    out = [a[i] for a in _ACTIONS[strategy][approach_code]]
    out.append(_STAGE_ACTIONS[stage][i])
    return out
