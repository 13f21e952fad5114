"""The measures a scorecard can use: definitions and their raw values from the account frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["DIMENSIONS", "MEASURES", "MeasureDef", "raw_measures"]

DIMENSIONS = ("value", "loyalty", "competitor")


@dataclass(frozen=True)
class MeasureDef:
    """One measure: where it rolls up, its natural range and how to read it.

    ``direction`` -1 means more of the raw measure lowers its dimension (e.g. arrears).
    ``lo``/``hi`` is the range used by the ``fixed`` normalisation. ``missing`` is the
    default policy for accounts without the measure: ``zero`` (the worst normalised value),
    ``median`` (the scope's median) or ``best``. ``actionable`` measures can be moved by the
    account team and appear on the path to the next tier; ``step`` is their natural unit.

    ``norm`` is the normalisation a measure gets when calibration adds it to a model.
    """

    name: str
    dimension: str
    group: str
    label_en: str
    label_zh: str
    help: str
    direction: int = 1
    lo: float = 0.0
    hi: float = 1.0
    missing: str = "zero"
    actionable: bool = False
    step: float = 0.0
    norm: str = "fixed"


_M = MeasureDef
MEASURES: dict[str, MeasureDef] = {
    m.name: m
    for m in (
        _M("footprint", "value", "influence", "Footprint", "覆盖范围",
           "local 1, provincial 2, national 3, multinational 4", lo=1, hi=4),
        _M("admin_level", "value", "influence", "Administrative level", "行政级别",
           "township 1 ... ministry 5; 0 for non-government", lo=0, hi=5),
        _M("sites", "value", "influence", "Sites", "网点数", "number of sites", norm="log"),
        _M("employees", "value", "influence", "Employees", "员工数", "head count", norm="log"),
        _M("listed", "value", "influence", "Listed company", "上市公司", "1 when listed"),
        _M("industry_leader", "value", "influence", "Industry leader / demonstration", "行业龙头/示范",
           "1 when an industry leader or demonstration account"),
        _M("annual_revenue", "value", "payment", "Annual revenue or budget", "年收入或预算",
           "yuan per year", norm="log"),
        _M("our_spend", "value", "payment", "Monthly spend with us", "月均消费(我方)",
           "average monthly billed over the last 12 months, yuan", actionable=True, step=100.0,
           norm="percentile"),
        _M("wallet", "value", "payment", "Telecom wallet", "通信总支出",
           "monthly spend with us plus estimated competitor spend, yuan", norm="percentile"),
        _M("punctuality", "value", "payment", "Payment punctuality", "缴费及时性",
           "share of the last 12 billed months without arrears", missing="median"),
        _M("arrears_ratio", "value", "payment", "Arrears ratio", "欠费比例",
           "arrears / billed over 12 months (0-50% range); no bill yet counts as no arrears",
           direction=-1, hi=0.5, missing="best", actionable=True, step=0.01),
        _M("credit_rating", "value", "payment", "Credit rating", "信用等级",
           "C 1 ... AAA 5", lo=1, hi=5),
        _M("our_families", "loyalty", "bundle", "Our product families", "我方产品族覆盖",
           "families of ours held, 0-4", hi=4, actionable=True, step=1.0),
        _M("our_products", "loyalty", "bundle", "Our products", "我方产品数",
           "distinct products of ours held", actionable=True, step=1.0, norm="log"),
        _M("family_depth", "loyalty", "bundle", "Depth within families", "族内深度",
           "mean over the four families of min(our products in the family, 3) / 3"),
        _M("tenure_years", "loyalty", "bundle", "Tenure", "在网年限", "years since onboarding",
           norm="minmax"),
        _M("term_contract", "loyalty", "bundle", "Term agreement", "在约协议",
           "1 with any live agreement (comprehensive, single-service, handset lease, subsidy)",
           actionable=True, step=1.0),
        _M("contract_months_left", "loyalty", "bundle", "Months left on agreements",
           "协议剩余月数", "months until the next live agreement ends (0 without one), 0-24",
           hi=24),
        _M("bundle_agreement", "loyalty", "bundle", "Comprehensive agreement", "综合协议",
           "1 with a live comprehensive bundle agreement", actionable=True, step=1.0),
        _M("closed_user_group", "loyalty", "bundle", "Closed user group", "集团V网",
           "1 when holding our closed user group", actionable=True, step=1.0),
        _M("competitor_families", "competitor", "entanglement", "Competitor families",
           "异网产品族覆盖", "communication, information, industry families held from competitors (0-3)",
           hi=3),
        _M("competitor_products", "competitor", "entanglement", "Competitor products",
           "异网产品数", "distinct competitor products held", norm="log"),
        _M("competitor_spend", "competitor", "entanglement", "Competitor spend", "异网月支出",
           "estimated monthly spend with competitors, yuan", norm="log"),
        _M("wallet_share_lost", "competitor", "entanglement", "Wallet share to competitors",
           "异网钱包份额", "competitor spend / (ours + competitors') held spend", actionable=True,
           step=0.05),
    )
}

_FOOTPRINT = {"local": 1, "provincial": 2, "national": 3, "multinational": 4}
_ADMIN = {"township": 1, "county": 2, "prefecture": 3, "province": 4, "ministry": 5}
_CREDIT = {"C": 1, "B": 2, "A": 3, "AA": 4, "AAA": 5}
_FAMILIES = ("communication", "information", "industry", "service_support")
_DEPTH_CAP = 3
_MONTH_DAYS = 365.25 / 12


def raw_measures(frame: pd.DataFrame, *, as_of: object = None) -> pd.DataFrame:
    """Every measure's raw value per account (NaN where missing), index aligned to ``frame``."""
    as_of = pd.Timestamp(as_of if as_of is not None else frame.attrs.get("as_of"))
    f = frame

    def num(col: str) -> pd.Series:
        return pd.to_numeric(f[col], errors="coerce").astype("float64")

    rev12 = num("revenue_12m")
    our_spend = rev12 / 12.0
    held = num("our_spend") + num("competitor_spend")
    billed_months = num("months_billed_12m")
    out = pd.DataFrame(
        {
            "footprint": f["footprint"].map(_FOOTPRINT).astype("float64"),
            "admin_level": f["admin_level"].map(_ADMIN).astype("float64").fillna(0.0),
            "sites": num("sites"),
            "employees": num("employees"),
            "listed": f["listed"].astype("float64"),
            "industry_leader": f["industry_leader"].astype("float64"),
            "annual_revenue": num("annual_revenue"),
            "our_spend": our_spend,
            "wallet": our_spend + num("competitor_spend"),
            "punctuality": 1.0 - num("months_in_arrears_12m") / billed_months.where(billed_months > 0),
            "arrears_ratio": (num("arrears_12m") / rev12.where(rev12 > 0)).clip(0, None),
            "credit_rating": f["credit_rating"].map(_CREDIT).astype("float64"),
            "our_families": num("our_families"),
            "our_products": num("our_products"),
            "family_depth": sum(
                num(f"products_{fam}").clip(upper=_DEPTH_CAP) for fam in _FAMILIES
            ) / (_DEPTH_CAP * len(_FAMILIES)),
            "tenure_years": (as_of - pd.to_datetime(f["onboard_date"])).dt.days / 365.25,
            "bundle_agreement": f["has_bundle_agreement"].astype("float64"),
            "term_contract": f["next_contract_end"].notna().astype("float64"),
            "contract_months_left": ((pd.to_datetime(f["next_contract_end"]) - as_of).dt.days
                                     / _MONTH_DAYS).fillna(0.0).clip(0, 24),
            "closed_user_group": f["has_cug"].astype("float64"),
            "competitor_families": num("competitor_families"),
            "competitor_products": num("competitor_products"),
            "competitor_spend": num("competitor_spend"),
            "wallet_share_lost": (num("competitor_spend") / held.where(held > 0)).fillna(0.0),
        },
        index=f.index,
    )
    values = out[list(MEASURES)].to_numpy(dtype="float64", copy=True)  # registry order
    values[np.isinf(values)] = np.nan
    return pd.DataFrame(values, index=out.index, columns=list(MEASURES))
