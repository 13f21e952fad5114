"""Survival on the tenure scale (lifelines): curves by bundle depth or tier, expected lifetime.

``survival_frame`` follows the accounts live at a landmark date to churn or the data's
as-of date, on the tenure scale with delayed entry (left truncation: an account enters
the risk set at its tenure on the landmark). ``fit_survival`` gives Kaplan-Meier curves
by bundle depth (our product families) or tier; ``expected_remaining_lifetime`` reads each
live account's curve conditional on its tenure, up to ``churn.max_lifetime_months``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter, NelsonAalenFitter
from lifelines.exceptions import StatError

from valuation import features
from valuation.churn.frame import _MONTH_DAYS, _require, history_start
from valuation.config import Settings
from valuation.store import Store

__all__ = [
    "conditional_survival",
    "expected_remaining_lifetime",
    "fit_survival",
    "survival_curves",
    "survival_frame",
]

# Survival: the accounts live at a landmark, with our product families held then and their
# first churn date (the account frame's definitions, without the rest of it).
_SURVIVAL_SQL = """
WITH fam AS (
    SELECT h.account_id, count(DISTINCT pr.family) AS our_families
    FROM holdings h
    JOIN products pr ON pr.product_id = h.product_id
    WHERE h.provider = 'ours' AND h.start_date <= $lm
          AND (h.end_date IS NULL OR h.end_date > $lm)
    GROUP BY h.account_id
),
churn AS (
    SELECT account_id, min(churn_date) AS churn_date FROM churn_events GROUP BY account_id
)
SELECT a.account_id, a.onboard_date, coalesce(fam.our_families, 0) AS our_families,
       churn.churn_date
FROM accounts a
LEFT JOIN fam ON fam.account_id = a.account_id
LEFT JOIN churn ON churn.account_id = a.account_id
WHERE a.onboard_date <= $lm AND (churn.churn_date IS NULL OR churn.churn_date > $lm)
ORDER BY a.account_id
"""


def survival_frame(store: Store, *, settings: Settings, landmark: date | None = None,
                   as_of: date | None = None, with_tier: bool = True) -> pd.DataFrame:
    """Accounts live at ``landmark`` followed to churn or ``as_of``, on the tenure scale.

    Columns: account_id, entry_months (tenure at the landmark: the account enters the risk
    set then), duration_months (tenure at churn or at ``as_of``), event (churned in between),
    our_families and tier as of the landmark. Default landmark: the first snapshot month end
    with 6 months of billing history; default ``as_of``: the data's. Groups are taken at the
    landmark because a churned account holds nothing afterwards."""
    from valuation.analysis import analyse  # scoring stack: imported only when needed

    as_of = as_of or features.data_as_of(store)
    if as_of is None:
        raise ValueError("the store holds no data")
    if landmark is None:
        start = history_start(store)
        first = pd.Timestamp(start) + pd.offsets.MonthEnd(6) if start else pd.Timestamp(as_of)
        landmark = min(first, pd.Timestamp(as_of) - pd.offsets.MonthEnd(1)).date()
    lm = pd.Timestamp(landmark)
    cur = store.cursor()
    try:  # the accounts live at the landmark, their bundle depth then and first churn date
        fr = cur.sql(_SURVIVAL_SQL, params={"lm": lm.date()}).df()
    finally:
        cur.close()
    if with_tier and len(fr):  # scoring the landmark's portfolio: only when tiers are wanted
        full = features.account_frame(store, as_of=lm.date())
        full = full[~full["churned"].astype(bool)].reset_index(drop=True)
        full.attrs["as_of"] = lm.date().isoformat()
        tiers = analyse(full, settings).frame.set_index(full["account_id"].astype(str))["tier"]
        tier = fr["account_id"].astype(str).map(tiers)
    else:
        tier = pd.Series([None] * len(fr), dtype=object)
    cd = pd.to_datetime(fr["churn_date"])
    end = pd.Timestamp(as_of)
    event = (cd > lm) & (cd <= end)
    exit_day = cd.where(event, end)
    onboard = pd.to_datetime(fr["onboard_date"])
    out = pd.DataFrame({
        "account_id": fr["account_id"].to_numpy(),
        "entry_months": ((lm - onboard).dt.days / _MONTH_DAYS).to_numpy(),
        "duration_months": ((exit_day - onboard).dt.days / _MONTH_DAYS).to_numpy(),
        "event": event.to_numpy(bool),
        "our_families": fr["our_families"].astype("int64").to_numpy(),
        "tier": np.asarray(tier, dtype=object),
    })
    out.attrs.update(landmark=lm.date().isoformat(), as_of=end.date().isoformat(),
                     tiers=[t.code for t in settings.tiers])
    return out


def fit_survival(sframe: pd.DataFrame, *, by: str = "bundle") -> dict[str, KaplanMeierFitter]:
    """Kaplan-Meier curves over tenure (months) with delayed entry, one per group and "all".

    ``by="bundle"``: our product families held (0-4); ``by="tier"``: the value tier.

    A small group whose risk set empties early with every account gone (the Kaplan-Meier
    curve would drop to 0 and stay there) gets the Breslow-Fleming-Harrington estimate
    instead, exp(-Nelson-Aalen) (``_BreslowSurvival``), which never reaches 0; it reads the
    same way."""
    col = _group_column(by)
    groups = sframe[col].astype(str)
    fits: dict[str, KaplanMeierFitter] = {}
    for g in ["all", *_group_order(groups.unique(), by, sframe.attrs.get("tiers"))]:
        rows = sframe if g == "all" else sframe[groups == g]
        if len(rows) == 0:
            continue
        args = (rows["duration_months"], rows["event"])
        try:
            fits[g] = KaplanMeierFitter().fit(*args, entry=rows["entry_months"], label=g)
        except StatError:
            fits[g] = _BreslowSurvival(*args, entry=rows["entry_months"],  # type: ignore
                                       label=g)
    return fits


def survival_curves(sframe: pd.DataFrame, *, by: str = "bundle", step: float = 1.0
                    ) -> pd.DataFrame:
    """Tidy Kaplan-Meier curves for a chart, on a grid of tenure months (every ``step``) up
    to each group's longest follow-up: group, months, survival, lower and upper (95%
    interval), at_risk (accounts under observation at that tenure)."""
    col = _group_column(by)
    groups = sframe[col].astype(str)
    parts = []
    for g, km in fit_survival(sframe, by=by).items():
        rows = sframe if g == "all" else sframe[groups == g]
        grid = np.arange(0.0, float(rows["duration_months"].max()) + step, step)
        curve = _Curve.of(km)
        ci = km.confidence_interval_survival_function_
        i = np.clip(np.searchsorted(curve.times, grid, side="right") - 1, 0, None)
        entry = np.sort(rows["entry_months"].to_numpy(float))
        exit_ = np.sort(rows["duration_months"].to_numpy(float))
        at_risk = np.searchsorted(entry, grid, side="left") - np.searchsorted(exit_, grid,
                                                                              side="left")
        parts.append(pd.DataFrame({
            "group": g, "months": grid, "survival": curve.at(grid),
            "lower": ci.iloc[:, 0].to_numpy(float)[i], "upper": ci.iloc[:, 1].to_numpy(float)[i],
            "at_risk": at_risk.astype(np.int64)}))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["group", "months", "survival", "lower", "upper", "at_risk"])
    out.attrs = {"by": by, **sframe.attrs}
    return out


def conditional_survival(km: KaplanMeierFitter, tenure_months: float, *,
                         months: int = 120) -> pd.Series:
    """P(still here ``u`` months from now | here at ``tenure_months``), u = 0..``months``:
    S(tenure + u) / S(tenure). Past the curve's last time the group's average hazard
    (events / months at risk) carries it on (exponential tail)."""
    curve = _Curve.of(km)
    u = np.arange(int(months) + 1, dtype=float)
    s0 = curve.at(np.array([float(tenure_months)]))[0]
    s = curve.at(float(tenure_months) + u)
    cond = s / s0 if s0 > 0 else np.exp(-curve.tail_hazard * u)
    return pd.Series(cond, index=pd.Index(u.astype(int), name="months_ahead"),
                     name="survival")


def expected_remaining_lifetime(frame: pd.DataFrame, survival: dict[str, KaplanMeierFitter], *,
                                settings: Settings, by: str = "bundle") -> pd.DataFrame:
    """Expected remaining months per account within ``churn.max_lifetime_months`` (H).

    With S the account's group curve (``fit_survival``; "all" when its group has none) and
    a its tenure at the frame's as-of date: remaining = sum over u = 1..H of S(a+u)/S(a);
    discounted = the same sum with each month discounted, v^u, v = 1/(1+r),
    r = (1 + ``churn.discount_rate``)^(1/12) - 1. Vectorised per group on a monthly grid of
    cumulative sums (a loop over groups, never over accounts)."""
    col = _group_column(by)
    _require(frame, ("account_id", "onboard_date", col))
    as_of = pd.Timestamp(frame.attrs["as_of"])
    h = int(settings.get("churn.max_lifetime_months"))
    v = 1.0 / (1.0 + _monthly_rate(settings))
    tenure = ((as_of - pd.to_datetime(frame["onboard_date"])).dt.days / _MONTH_DAYS).clip(
        lower=0).to_numpy(float)
    groups = frame[col].astype(str).to_numpy()
    known = np.isin(groups, list(survival))
    groups = np.where(known, groups, "all")
    remaining = np.full(len(frame), np.nan)
    discounted = np.full(len(frame), np.nan)
    grid = np.arange(0, int(np.ceil(tenure.max(initial=0.0))) + h + 2, dtype=float)
    for g in np.unique(groups):
        rows = groups == g
        curve = _Curve.of(survival[g])
        s = curve.at(grid)
        cum = np.cumsum(s)  # cum[m] = sum_{j<=m} S(j)
        dcum = np.cumsum(s * v ** grid)
        a = tenure[rows]
        s_a = curve.at(a)
        # sum_{u=1..H} S(a+u) = C(a+H) - C(a) for whole months; interpolated between them
        rem = np.interp(a + h, grid, cum) - np.interp(a, grid, cum)
        disc = (np.interp(a + h, grid, dcum) - np.interp(a, grid, dcum)) * v ** -a
        tail = s_a <= 0  # the curve ran out: carry on with the group's average hazard
        lam = curve.tail_hazard
        q = math.exp(-lam)
        geo = q * (1 - q**h) / (1 - q) if q < 1 else float(h)
        dgeo = q * v * (1 - (q * v) ** h) / (1 - q * v)
        remaining[rows] = np.where(tail, geo, rem / np.where(tail, 1.0, s_a))
        discounted[rows] = np.where(tail, dgeo, disc / np.where(tail, 1.0, s_a))
    return pd.DataFrame({"account_id": frame["account_id"].to_numpy(),
                         "remaining_months": remaining, "discounted_months": discounted},
                        index=frame.index)


# ---------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------
class _BreslowSurvival:
    """The Breslow-Fleming-Harrington survival estimate exp(-H), H the Nelson-Aalen cumulative
    hazard (unsmoothed) with delayed entry, in the shape of a fitted KaplanMeierFitter:
    survival_function_, confidence_interval_survival_function_ (exp of the hazard's interval,
    bounds swapped), event_table. Built on NelsonAalenFitter directly: lifelines'
    BreslowFlemingHarringtonFitter misplaces the steps when entries are late."""

    def __init__(self, durations: pd.Series, events: pd.Series, *, entry: pd.Series,
                 label: str) -> None:
        na = NelsonAalenFitter(nelson_aalen_smoothing=False).fit(
            durations, events, entry=entry, label=label)
        h = na.cumulative_hazard_.iloc[:, 0]
        ci = na.confidence_interval_
        self.survival_function_ = pd.DataFrame({label: np.exp(-h.to_numpy(float))}, index=h.index)
        self.confidence_interval_survival_function_ = pd.DataFrame({
            f"{label}_lower_0.95": np.exp(-ci.iloc[:, 1].to_numpy(float)),
            f"{label}_upper_0.95": np.exp(-ci.iloc[:, 0].to_numpy(float))}, index=ci.index)
        self.event_table = na.event_table


@dataclass(frozen=True)
class _Curve:
    """A Kaplan-Meier step curve with an exponential tail past its last time."""

    times: np.ndarray
    surv: np.ndarray
    tail_hazard: float

    @classmethod
    def of(cls, km: KaplanMeierFitter) -> _Curve:
        sf = km.survival_function_.iloc[:, 0]
        et = km.event_table
        t = et.index.to_numpy(float)
        exposure = float(np.sum(et["at_risk"].to_numpy(float)[1:] * np.diff(t))) if len(t) > 1 \
            else 0.0
        events = float(et["observed"].sum())
        lam = events / exposure if exposure > 0 else 0.0
        return cls(sf.index.to_numpy(float), sf.to_numpy(float), lam)

    def at(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, float)
        i = np.searchsorted(self.times, t, side="right") - 1
        s = np.where(i >= 0, self.surv[np.clip(i, 0, None)], 1.0)
        last = self.times[-1] if len(self.times) else 0.0
        past = t > last
        if past.any():
            s = np.where(past, self.surv[-1] * np.exp(-self.tail_hazard * (t - last)), s)
        return s


def _monthly_rate(settings: Settings) -> float:
    return (1.0 + float(settings.get("churn.discount_rate"))) ** (1.0 / 12.0) - 1.0


def _group_column(by: str) -> str:
    if by == "bundle":
        return "our_families"
    if by == "tier":
        return "tier"
    raise ValueError(f"by must be 'bundle' or 'tier', not {by!r}")


def _group_order(values: Any, by: str, tiers: list[str] | None) -> list[str]:
    vals = [str(v) for v in values]
    if by == "tier" and tiers:
        return [t for t in tiers if t in vals] + sorted(v for v in vals if v not in tiers)
    return sorted(vals, key=lambda v: (not v.lstrip("-").isdigit(), int(v) if v.lstrip(
        "-").isdigit() else 0, v))
