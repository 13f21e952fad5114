"""The churn frame, its features, the transparent rules and the churn label.

``churn_frame``: the account frame of :mod:`valuation.features` plus four dated roll-ups
(among them ``our_product_ids``, the products of ours live at the as-of date).
``feature_matrix`` reads only columns of it, so nothing dated after its as-of date reaches
the features: the fixed base list ``FEATURES`` (the transparent rules, ``RULES``, are
features too) plus, when asked, one ``holds_<product_id>`` indicator per product of ours
(``top_products`` picks the most held; a fitted model keeps its list). ``rule_evaluation``
reads each rule against the churn it was meant to flag. The label is churn within the
horizon after an as-of date: ``as_of < churn_date <= horizon_end(as_of, horizon)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from valuation import features, schema
from valuation.config import Settings
from valuation.store import Store

__all__ = [
    "FEATURES",
    "FEATURE_LABELS",
    "PRODUCT_PREFIX",
    "RULES",
    "Rule",
    "churn_frame",
    "feature_labels",
    "feature_matrix",
    "history_start",
    "horizon_end",
    "label",
    "product_feature",
    "rule_evaluation",
    "rule_flags",
    "rules_score",
    "top_products",
]

_MONTH_DAYS = 365.25 / 12
_CAP_MONTHS = 24.0  # "months since / until" features are capped here; no date = the cap
_FAMILIES = tuple(schema.ENUMS["family"])
_INDUSTRIES = tuple(schema.ENUMS["industry"])
_SIZES = tuple(schema.ENUMS["size_class"])
_CREDIT = {"C": 1, "B": 2, "A": 3, "AA": 4, "AAA": 5}
_FOOTPRINT = {"local": 1, "provincial": 2, "national": 3, "multinational": 4}
_ADMIN = {"township": 1, "county": 2, "prefecture": 3, "province": 4, "ministry": 5}
_SEP = "\x1f"  # between the product ids of ``our_product_ids`` (ASCII unit separator)

PRODUCT_PREFIX = "holds_"  # product indicator features: holds_<product_id>


@dataclass(frozen=True)
class Rule:
    """One transparent churn rule: a warning-like condition read from the churn frame.

    ``settings`` names the thresholds it reads (DOMAIN.md section 4 and the lifecycle
    warning settings); the rules-only risk is the number of rules an account trips."""

    name: str
    label_en: str
    label_zh: str
    settings: tuple[str, ...]


RULES: tuple[Rule, ...] = (
    Rule("rule_revenue_drop", "Revenue dropped", "收入下滑",
         ("warnings.bill_drop", "lifecycle.warning_revenue_drop")),
    Rule("rule_arrears", "Arrears", "欠费",
         ("warnings.arrears", "lifecycle.warning_arrears_ratio")),
    Rule("rule_contract_ending", "Contract ending soon", "协议即将到期",
         ("warnings.w4_contract_months",)),
    Rule("rule_escalation", "Escalated complaint", "升级投诉", ("lifecycle.warning_escalations",)),
    Rule("rule_competitor_new", "Competitor product newly held", "新增异网产品",
         ("warnings.competitor_new_days",)),
    Rule("rule_competitor_held", "Holds competitor products", "使用异网产品", ()),
    Rule("rule_no_contract", "No term contract", "无在约协议", ()),
)

# Feature name -> (English, Chinese) label. The order is the model's column order.
FEATURE_LABELS: dict[str, tuple[str, str]] = {
    "log_monthly_revenue": ("Monthly bill (log)", "当月出账(对数)"),
    "bill_vs_avg_12m": ("This month's bill vs the 12-month average", "当月出账较近12月均值变化"),
    "bill_change_1m": ("This month's bill vs the 3 months before", "当月出账较前3月变化"),
    "revenue_trend": ("Last 3 months' bills vs the 3 before", "近3月出账较前3月变化"),
    "arrears_rate_3m": ("Arrears / billed, 3 months", "近3月欠费率"),
    "arrears_rate_12m": ("Arrears / billed, 12 months", "近12月欠费率"),
    "months_in_arrears_12m": ("Months in arrears, 12 months", "近12月欠费月数"),
    "our_products": ("Our products", "我方产品数"),
    "our_families": ("Our product families", "我方产品族覆盖"),
    **{f"products_{f}": (f"Our {schema.ENUMS['family'][f][0].lower()} products",
                         f"我方{schema.ENUMS['family'][f][1]}产品数") for f in _FAMILIES},
    "has_cug": ("Closed user group", "集团V网"),
    "has_bundle_agreement": ("Comprehensive agreement", "综合协议"),
    "competitor_products": ("Competitor products", "异网产品数"),
    "competitor_families": ("Competitor families", "异网产品族覆盖"),
    "log_competitor_spend": ("Competitor spend (log)", "异网月支出(对数)"),
    "share_of_wallet": ("Share of wallet", "钱包份额"),
    "complaints_12m": ("Complaints, 12 months", "近12月投诉"),
    "escalations_12m": ("Escalated complaints, 12 months", "近12月升级投诉"),
    "visits_12m": ("Visits, 12 months", "近12月拜访"),
    "observed_months": ("Months of history observed (max 12)", "可观察月数(至多12)"),
    "tenure_months": ("Tenure (months)", "在网月数"),
    "contract_months_left": ("Months to the next contract end", "距协议到期月数"),
    "has_live_contract": ("Has a live contract", "有在约协议"),
    "months_since_contract_end": ("Months since a contract ended", "协议到期后月数"),
    "months_since_competitor_new": ("Months since a competitor product started",
                                    "新增异网产品后月数"),
    "log_employees": ("Employees (log)", "员工数(对数)"),
    "log_sites": ("Sites (log)", "网点数(对数)"),
    "log_annual_revenue": ("Customer's annual revenue (log)", "客户年收入(对数)"),
    "credit": ("Credit rating", "信用等级"),
    "it_maturity": ("IT maturity", "信息化程度"),
    "city_tier": ("City tier", "城市等级"),
    "footprint": ("Footprint", "覆盖范围"),
    "admin_level": ("Administrative level", "行政级别"),
    "listed": ("Listed company", "上市公司"),
    "industry_leader": ("Industry leader", "行业龙头"),
    "is_branch": ("Branch of a group", "集团分支"),
    **{f"size_{s}": (f"Size: {schema.ENUMS['size_class'][s][0]}",
                     f"规模:{schema.ENUMS['size_class'][s][1]}") for s in _SIZES},
    **{f"industry_{i}": (f"Industry: {schema.ENUMS['industry'][i][0]}",
                         f"行业:{schema.ENUMS['industry'][i][1]}") for i in _INDUSTRIES},
    **{r.name: (f"Rule: {r.label_en}", f"规则:{r.label_zh}") for r in RULES},
}
FEATURES: tuple[str, ...] = tuple(FEATURE_LABELS)

# Four dated roll-ups the account frame lacks: the three bills before this month, the latest
# start of a competitor product held now, the latest end of a contract that has ended, and
# the products of ours held now (their ids, sorted, joined by $sep).
_EXTRAS_SQL = """
WITH
prev AS (
    SELECT b.account_id, sum(b.billed) AS billed_prev_3m
    FROM billing_monthly b
    WHERE b.month <= $m1 AND b.month > $m4
    GROUP BY b.account_id
),
comp AS (
    SELECT h.account_id, max(h.start_date) AS last_competitor_start
    FROM holdings h
    WHERE h.provider <> 'ours' AND h.start_date <= $as_of
          AND (h.end_date IS NULL OR h.end_date > $as_of)
    GROUP BY h.account_id
),
ended AS (
    SELECT c.account_id, max(c.end_date) AS last_contract_end
    FROM contracts c
    WHERE c.start_date <= $as_of AND c.end_date < $as_of
    GROUP BY c.account_id
),
ours AS (
    SELECT h.account_id,
           string_agg(DISTINCT h.product_id, $sep ORDER BY h.product_id) AS our_product_ids
    FROM holdings h
    WHERE h.provider = 'ours' AND h.start_date <= $as_of
          AND (h.end_date IS NULL OR h.end_date > $as_of)
    GROUP BY h.account_id
)
SELECT a.account_id, coalesce(prev.billed_prev_3m, 0) AS billed_prev_3m,
       comp.last_competitor_start, ended.last_contract_end, ours.our_product_ids
FROM accounts a
LEFT JOIN prev ON prev.account_id = a.account_id
LEFT JOIN comp ON comp.account_id = a.account_id
LEFT JOIN ended ON ended.account_id = a.account_id
LEFT JOIN ours ON ours.account_id = a.account_id
WHERE a.onboard_date <= $as_of
ORDER BY a.account_id
"""

_EXTRA_COLUMNS = ("billed_prev_3m", "last_competitor_start", "last_contract_end",
                  "our_product_ids")
_BASE_EXTRAS = _EXTRA_COLUMNS[:3]  # what the base features and the rules read


def churn_frame(store: Store, *, as_of: date | None = None,
                frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """The account frame as of ``as_of`` plus the dated roll-ups the churn features need.

    With ``frame`` (an account frame already built for its ``attrs["as_of"]``) only the
    extra columns are added, to a copy. ``our_product_ids`` holds the ids of the products of
    ours live at the as-of date, sorted and joined by the unit separator (categorical: the
    portfolio has far fewer distinct bundles than accounts; missing = none held). ``attrs``
    carries ``as_of`` and ``history_start`` (the first billed month in the store: earlier
    facts are not observed)."""
    if frame is None:
        frame = features.account_frame(store, as_of=as_of)
    as_of_ts = pd.Timestamp(frame.attrs.get("as_of") or as_of or features.data_as_of(store))
    params = {"as_of": as_of_ts.date(),
              "m1": (as_of_ts - pd.DateOffset(months=1)).date(),
              "m4": (as_of_ts - pd.DateOffset(months=4)).date(), "sep": _SEP}
    cur = store.cursor()
    try:
        extra = cur.sql(_EXTRAS_SQL, params=params).df()
    finally:
        cur.close()
    extra["our_product_ids"] = extra["our_product_ids"].astype("category")
    out = frame.drop(columns=[c for c in _EXTRA_COLUMNS if c in frame.columns])
    ids = out["account_id"].astype(str).to_numpy()
    if len(ids) == len(extra) and np.array_equal(ids, extra["account_id"].astype(str).to_numpy()):
        for c in _EXTRA_COLUMNS:
            out[c] = extra[c].array
    else:  # a filtered or reordered frame: match by account, keep its index
        by_id = extra.set_index(extra["account_id"].astype(str))
        key = pd.Series(ids, index=out.index)
        for c in _EXTRA_COLUMNS:
            out[c] = key.map(by_id[c].astype(object) if c == "our_product_ids" else by_id[c])
        out["billed_prev_3m"] = out["billed_prev_3m"].fillna(0.0)
        out["our_product_ids"] = out["our_product_ids"].astype("category")
    out.attrs = dict(frame.attrs)
    out.attrs["as_of"] = as_of_ts.date().isoformat()
    start = history_start(store)
    out.attrs["history_start"] = start.isoformat() if start else None
    return out


def history_start(store: Store) -> date | None:
    """The first billed month in the store: the start of the observed history."""
    v = store.scalar("SELECT min(month) FROM billing_monthly")
    return None if v is None else pd.Timestamp(v).date()


def feature_matrix(frame: pd.DataFrame, *, settings: Settings,
                   products: Sequence[str] = ()) -> pd.DataFrame:
    """The model's features (float32) for every row of a churn frame: ``FEATURES``, then one
    indicator ``holds_<product_id>`` (1 = a product of ours live at the as-of date) per id
    in ``products``, in that order (a fitted model's ``products_``; see ``top_products``).

    Only columns of the frame are read, and the frame holds only facts dated up to its
    as-of date. Ratios without a denominator are 0; "months since / until" are capped at
    24 (no such date = 24); rule flags follow ``RULES`` with the thresholds in ``settings``."""
    _require(frame, ("onboard_date", "monthly_revenue", *_BASE_EXTRAS))
    f = frame
    as_of = pd.Timestamp(f.attrs["as_of"])
    num = _num(f)
    onboard = pd.to_datetime(f["onboard_date"])
    tenure = ((as_of - onboard).dt.days / _MONTH_DAYS).clip(lower=0)
    start = f.attrs.get("history_start")
    since_start = (as_of - pd.Timestamp(start)).days / _MONTH_DAYS + 1 if start else 12.0
    observed = np.minimum(np.minimum(tenure, since_start), 12.0).clip(lower=1.0)
    rev1, rev3, rev12 = num("monthly_revenue"), num("revenue_3m"), num("revenue_12m")
    prev3 = num("billed_prev_3m")
    out: dict[str, Any] = {
        "log_monthly_revenue": np.log1p(rev1),
        "bill_vs_avg_12m": _ratio(rev1, rev12 / observed).sub(1.0).where(rev12 > 0, 0.0)
        .clip(-1, 2),
        "bill_change_1m": _ratio(rev1, prev3 / 3.0).sub(1.0).where(prev3 > 0, 0.0).clip(-1, 2),
        "revenue_trend": num("revenue_trend").clip(-1, 2),
        "arrears_rate_3m": _ratio(num("arrears_3m"), rev3).clip(0, 1),
        "arrears_rate_12m": _ratio(num("arrears_12m"), rev12).clip(0, 1),
        "months_in_arrears_12m": num("months_in_arrears_12m"),
        "our_products": num("our_products"),
        "our_families": num("our_families"),
        **{f"products_{fam}": num(f"products_{fam}") for fam in _FAMILIES},
        "has_cug": num("has_cug"),
        "has_bundle_agreement": num("has_bundle_agreement"),
        "competitor_products": num("competitor_products"),
        "competitor_families": num("competitor_families"),
        "log_competitor_spend": np.log1p(num("competitor_spend")),
        "share_of_wallet": pd.to_numeric(f["share_of_wallet"], errors="coerce")
        .astype("float64").fillna(1.0),
        "complaints_12m": num("complaints_12m"),
        "escalations_12m": num("escalations_12m"),
        "visits_12m": num("visits_12m"),
        "observed_months": observed,
        "tenure_months": tenure,
        "contract_months_left": _months(f["next_contract_end"], as_of, after=True),
        "has_live_contract": f["next_contract_end"].notna().astype("float64"),
        "months_since_contract_end": _months(f["last_contract_end"], as_of, after=False),
        "months_since_competitor_new": _months(f["last_competitor_start"], as_of, after=False),
        "log_employees": np.log1p(num("employees")),
        "log_sites": np.log1p(num("sites")),
        "log_annual_revenue": np.log1p(num("annual_revenue")),
        "credit": _codes(f["credit_rating"], _CREDIT),
        "it_maturity": num("it_maturity"),
        "city_tier": num("city_tier"),
        "footprint": _codes(f["footprint"], _FOOTPRINT),
        "admin_level": _codes(f["admin_level"], _ADMIN),
        "listed": num("listed"),
        "industry_leader": num("industry_leader"),
        "is_branch": f["parent_account_id"].notna().astype("float64"),
    }
    size = pd.Categorical(f["size_class"].astype(object), categories=list(_SIZES)).codes
    out.update({f"size_{s}": size == j for j, s in enumerate(_SIZES)})
    ind = pd.Categorical(f["industry"].astype(object), categories=list(_INDUSTRIES)).codes
    out.update({f"industry_{i}": ind == j for j, i in enumerate(_INDUSTRIES)})
    flags = rule_flags(frame, settings=settings)
    out.update({r.name: flags[r.name] for r in RULES})
    products = [str(p) for p in products]
    names = [*FEATURES, *(product_feature(p) for p in products)]
    values = np.empty((len(f), len(names)), dtype=np.float32, order="F")  # column by column
    for j, name in enumerate(FEATURES):
        values[:, j] = np.asarray(out[name], dtype=np.float32)
    if products:
        _require(frame, ("our_product_ids",))
        values[:, len(FEATURES):] = _held(f["our_product_ids"], products)
    np.nan_to_num(values, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return pd.DataFrame(values, index=f.index, columns=names, copy=False)


def product_feature(product_id: str) -> str:
    """The feature name of the indicator for one product of ours: ``holds_<product_id>``."""
    return f"{PRODUCT_PREFIX}{product_id}"


def top_products(frame: pd.DataFrame, *, n: int | None = 12, min_holders: int = 10) -> list[str]:
    """The ``n`` products of ours held by most accounts of a churn frame (live holdings at its
    as-of date; pass the live rows), each held by at least ``min_holders``: the product
    indicators a model learns. Most held first, ties by product id; ``n=None``: all."""
    _require(frame, ("our_product_ids",))
    holders = _holders(frame["our_product_ids"])
    holders = holders[holders >= max(int(min_holders), 1)]
    ranked = holders.rename("holders").rename_axis("product_id").reset_index() \
        .sort_values(["holders", "product_id"], ascending=[False, True], kind="stable")
    ids = ranked["product_id"].astype(str).tolist()
    return ids if n is None else ids[: max(int(n), 0)]


def feature_labels(names: Iterable[str], products: pd.DataFrame | None = None
                   ) -> dict[str, tuple[str, str]]:
    """(English, Chinese) labels of features: ``FEATURE_LABELS`` for the base list and, for a
    product indicator, "Holds: <name_en>" / "持有：<name>" from ``products`` (the products
    table: product_id, name, name_en; the product id where a name is missing)."""
    named: dict[str, tuple[str, str]] = {}
    if products is not None and len(products):
        pid = products["product_id"].astype(str)
        zh = products["name"].astype(object).where(products["name"].notna(), pid) \
            if "name" in products.columns else pid
        en = products["name_en"].astype(object).where(products["name_en"].notna(), zh) \
            if "name_en" in products.columns else zh
        named = dict(zip(pid, zip(en.astype(str), zh.astype(str), strict=True), strict=True))
    out: dict[str, tuple[str, str]] = {}
    for name in names:
        if name in FEATURE_LABELS:
            out[name] = FEATURE_LABELS[name]
        elif name.startswith(PRODUCT_PREFIX):
            p = name[len(PRODUCT_PREFIX):]
            en, zh = named.get(p, (p, p))
            out[name] = (f"Holds: {en}", f"持有：{zh}")
        else:
            out[name] = (name, name)
    return out


def rule_evaluation(x: pd.DataFrame, y: Any) -> pd.DataFrame:
    """Each rule of ``RULES`` read against the churn it should flag, on labelled rows (a
    feature matrix ``x`` and its labels ``y``, e.g. a ``training_set``).

    One row per rule (index: rule name): label_en, label_zh, flagged_rows, flagged_share
    (share of rows the rule flags), rate_flagged / rate_not_flagged (churn rate of the rows
    it flags / does not flag; NaN without such rows), lift (rate_flagged / the overall
    rate) and weak (lift below 1: the rule flags accounts that churn less than average)."""
    yv = np.asarray(y).astype(np.float64)
    if len(yv) != len(x):
        raise ValueError("x and y differ in length")
    rules = [r for r in RULES if r.name in x.columns]
    flags = x[[r.name for r in rules]].to_numpy() > 0
    n = len(yv)
    hit = flags.sum(0).astype(np.int64)
    pos = (flags * yv[:, None]).sum(0)
    total = float(yv.sum())
    overall = total / n if n else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        rate_in = np.where(hit > 0, pos / np.maximum(hit, 1), np.nan)
        rate_out = np.where(n - hit > 0, (total - pos) / np.maximum(n - hit, 1), np.nan)
        lift = rate_in / overall if overall > 0 else np.full(len(rules), np.nan)
    return pd.DataFrame({
        "label_en": [r.label_en for r in rules],
        "label_zh": [r.label_zh for r in rules],
        "flagged_rows": hit,
        "flagged_share": hit / n if n else np.full(len(rules), np.nan),
        "rate_flagged": rate_in,
        "rate_not_flagged": rate_out,
        "lift": lift,
        "weak": np.nan_to_num(lift, nan=1.0) < 1.0,
    }, index=pd.Index([r.name for r in rules], name="rule"))


def rule_flags(frame: pd.DataFrame, *, settings: Settings) -> pd.DataFrame:
    """Which ``RULES`` each account of a churn frame trips (boolean columns, one per rule).

    - revenue drop: this month's bill below the 3 months before by ``warnings.bill_drop``,
      or the last 3 months below the 3 before by ``lifecycle.warning_revenue_drop``;
    - arrears: arrears over 3 months above ``warnings.arrears`` yuan, or at least
      ``lifecycle.warning_arrears_ratio`` of the bills;
    - contract ending: a contract ends within ``warnings.w4_contract_months`` months;
    - escalation: at least ``lifecycle.warning_escalations`` escalated complaints in 12 months;
    - competitor new: a competitor product first held within ``warnings.competitor_new_days``;
    - competitor held: any competitor product in the communication, information or industry
      families (entanglement);
    - no contract: no live agreement of any type at the as-of date (none started by then
      and ending on or after it).
    """
    _require(frame, _BASE_EXTRAS)
    f = frame
    as_of = pd.Timestamp(f.attrs["as_of"])
    num = _num(f)
    rev1, rev3, prev3 = num("monthly_revenue"), num("revenue_3m"), num("billed_prev_3m")
    prev_avg = prev3 / 3.0
    bill_drop = (prev_avg > 0) & (rev1 < prev_avg * (1 - float(settings.get("warnings.bill_drop"))))
    trend = pd.to_numeric(f["revenue_trend"], errors="coerce").astype("float64")
    trend_drop = trend <= -float(settings.get("lifecycle.warning_revenue_drop"))
    arrears3 = num("arrears_3m")
    arrears = (arrears3 > float(settings.get("warnings.arrears"))) | (
        (rev3 > 0) & (arrears3 >= float(settings.get("lifecycle.warning_arrears_ratio")) * rev3))
    end = pd.to_datetime(f["next_contract_end"])
    ending = end.notna() & (end <= as_of + pd.DateOffset(
        months=int(settings.get("warnings.w4_contract_months"))))
    comp_start = pd.to_datetime(f["last_competitor_start"])
    comp_new = comp_start.notna() & (
        (as_of - comp_start).dt.days < int(settings.get("warnings.competitor_new_days")))
    return pd.DataFrame({
        "rule_revenue_drop": (bill_drop | trend_drop).to_numpy(bool),
        "rule_arrears": arrears.to_numpy(bool),
        "rule_contract_ending": ending.to_numpy(bool),
        "rule_escalation": (num("escalations_12m")
                            >= float(settings.get("lifecycle.warning_escalations"))).to_numpy(bool),
        "rule_competitor_new": comp_new.to_numpy(bool),
        "rule_competitor_held": (num("competitor_families") > 0).to_numpy(bool),
        "rule_no_contract": f["next_contract_end"].isna().to_numpy(bool),
    }, index=f.index)


def rules_score(frame: pd.DataFrame, settings: Settings) -> pd.Series:
    """The transparent rules-only churn risk: how many of ``RULES`` an account trips (0-7).

    The baseline the model must beat, and the ranking used when there are too few churn
    events to learn from."""
    return rule_flags(frame, settings=settings).sum(axis=1).astype("int64").rename("rules_score")


def horizon_end(as_of: date | pd.Timestamp, horizon_months: int) -> pd.Timestamp:
    """The last day of the label window after ``as_of``: the same day ``horizon_months`` later,
    or, from a month end, the month end ``horizon_months`` later (Feb 28 + 6 = Aug 31)."""
    ts = pd.Timestamp(as_of)
    if ts.is_month_end:
        return ts + pd.offsets.MonthEnd(int(horizon_months))
    return ts + pd.DateOffset(months=int(horizon_months))


def label(churn_date: pd.Series, as_of: date | pd.Timestamp, horizon_months: int) -> pd.Series:
    """True where the account churns after ``as_of`` and on or before ``horizon_end``."""
    cd = pd.to_datetime(churn_date)
    ts = pd.Timestamp(as_of)
    return ((cd > ts) & (cd <= horizon_end(ts, horizon_months))).rename("churn")


# ---------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------
def _require(frame: pd.DataFrame, cols: tuple[str, ...]) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValueError(f"the frame lacks {', '.join(missing)}: build it with churn.churn_frame")
    if "as_of" not in frame.attrs:
        raise ValueError("the frame has no attrs['as_of']: build it with churn.churn_frame")


def _codes_and_bundles(col: pd.Series) -> tuple[np.ndarray, int, pd.Series]:
    """Each row's bundle code (-1 = none held), the number of distinct bundles and, per
    bundle, its product ids exploded (index = bundle code): bundles are far fewer than
    accounts, so the work is per bundle."""
    cat = col if isinstance(col.dtype, pd.CategoricalDtype) else col.astype("category")
    if len(cat) < len(cat.cat.categories):  # a few rows of a province's frame: their bundles
        cat = cat.cat.remove_unused_categories()
    codes = np.asarray(cat.cat.codes, dtype=np.int64)
    bundles = pd.Series(cat.cat.categories.astype(str), dtype=object)
    ids = bundles.str.split(_SEP).explode()
    return codes, len(bundles), ids[ids.notna() & (ids != "")]


def _holders(col: pd.Series) -> pd.Series:
    """Accounts holding each product (from ``our_product_ids``)."""
    codes, n_bundles, ids = _codes_and_bundles(col)
    per_bundle = np.bincount(codes[codes >= 0], minlength=n_bundles)
    counts = pd.Series(per_bundle[ids.index.to_numpy(np.int64)], index=ids.to_numpy(),
                       dtype="int64")
    return counts.groupby(level=0).sum()


def _held(col: pd.Series, products: list[str]) -> np.ndarray:
    """(rows, len(products)) float32 indicators: the row's bundle holds the product."""
    codes, n_bundles, ids = _codes_and_bundles(col)
    table = np.zeros((n_bundles + 1, len(products)), dtype=np.float32)  # last row: none held
    wanted = pd.Index(products)
    first = wanted[~wanted.duplicated()]  # a repeated id gets the same column
    hit = ids[ids.isin(first)]
    if len(hit):
        table[hit.index.to_numpy(np.int64), first.get_indexer(hit.to_numpy())] = 1.0
    table = table[:, first.get_indexer(wanted)]
    return table[np.where(codes >= 0, codes, n_bundles)]


def _num(f: pd.DataFrame) -> Any:
    def num(col: str) -> pd.Series:
        return pd.to_numeric(f[col], errors="coerce").astype("float64").fillna(0.0)
    return num


def _ratio(a: pd.Series, b: pd.Series) -> pd.Series:
    return (a / b.where(b > 0)).fillna(0.0)


def _codes(s: pd.Series, mapping: dict[str, int]) -> pd.Series:
    return s.astype(object).map(mapping).astype("float64").fillna(0.0)


def _months(col: pd.Series, as_of: pd.Timestamp, *, after: bool) -> pd.Series:
    d = pd.to_datetime(col)
    days = (d - as_of).dt.days if after else (as_of - d).dt.days
    return (days / _MONTH_DAYS).clip(0, _CAP_MONTHS).fillna(_CAP_MONTHS)
