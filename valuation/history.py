"""Score history: snapshots as of past dates, migration between them, and how well each
dimension separated the accounts that churned afterwards."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from valuation import features
from valuation.analysis import analyse
from valuation.config import Settings
from valuation.periods import horizon_end, labelled_month_ends
from valuation.scoring import score
from valuation.store import Store

__all__ = [
    "COMPARISONS",
    "SNAPSHOT_COLUMNS",
    "Comparison",
    "account_history",
    "auc_ci",
    "backfill_snapshots",
    "churn_label",
    "evaluate",
    "kpi_comparisons",
    "load_snapshot",
    "previous_snapshot",
    "scored_at",
    "snapshot",
    "snapshot_dates",
]

SNAPSHOT_COLUMNS = ["account_id", "model", "value_score", "influence_score", "payment_score",
                    "loyalty_score", "competitor_score", "tier", "strategy", "monthly_revenue"]
# A priori direction of each dimension as a churn signal: higher value and loyalty keep an
# account, higher competitor entanglement pulls it away.
_RISK_SIGN = {"value_score": -1, "loyalty_score": -1, "competitor_score": 1}


def snapshot(store: Store, settings: Settings, as_of: date, *, user: str) -> int:
    """Score the accounts live at ``as_of`` as they were then; store them (replacing an
    earlier snapshot of that date). Returns the number of accounts."""
    frame = features.account_frame(store, as_of=as_of)
    frame = frame[~frame["churned"].astype(bool)].reset_index(drop=True)
    frame.attrs["as_of"] = pd.Timestamp(as_of).date().isoformat()
    a = analyse(frame, settings).frame
    rows = a[SNAPSHOT_COLUMNS].assign(as_of=pd.Timestamp(as_of))
    return store.write_batch(
        "score_snapshots", rows, replace_where=("as_of = ?", [as_of]), user=user,
        action="snapshot", row_key=f'{{"as_of": "{as_of}"}}',
    )


def backfill_snapshots(store: Store, settings: Settings, *, months: int = 24,
                       user: str = "system") -> list[date]:
    """Month-end snapshots over the last ``months`` months of billing, oldest first."""
    as_of = features.data_as_of(store)
    if as_of is None:
        return []
    ends = pd.date_range(end=pd.Timestamp(as_of), periods=months, freq="ME")
    first_bill = store.scalar("SELECT min(month) FROM billing_monthly")
    done = []
    with store.facts_session():  # every month end in one swap of the facts file
        for end in ends:
            if first_bill is not None and end < pd.Timestamp(first_bill):
                continue
            snapshot(store, settings, end.date(), user=user)
            done.append(end.date())
        if pd.Timestamp(as_of) not in ends:
            snapshot(store, settings, as_of, user=user)
            done.append(as_of)
    return done


def snapshot_dates(store: Store) -> list[date]:
    df = store.query("SELECT DISTINCT as_of FROM score_snapshots ORDER BY as_of")
    return [pd.Timestamp(d).date() for d in df["as_of"]]


def load_snapshot(store: Store, as_of: date) -> pd.DataFrame:
    return store.query(
        f"SELECT {', '.join(SNAPSHOT_COLUMNS)} FROM score_snapshots WHERE as_of = ?", [as_of])


def previous_snapshot(store: Store, before: date) -> pd.DataFrame:
    """The latest snapshot strictly before ``before`` (empty when there is none)."""
    d = store.scalar("SELECT max(as_of) FROM score_snapshots WHERE as_of < ?", [before])
    if d is None:
        return pd.DataFrame(columns=SNAPSHOT_COLUMNS)
    return load_snapshot(store, pd.Timestamp(d).date())


COMPARISONS: dict[str, int] = {"mom": 1, "yoy": 12}
"""The earlier points the headline figures are compared with: months back from the as-of
month (month on month, year on year)."""

COMPARISON_COLUMNS = ["account_id", "live", "tier", "strategy", "monthly_revenue", "revenue_3m",
                      "revenue_prev_3m", "arrears_3m"]


@dataclass(frozen=True)
class Comparison:
    """The portfolio as it was at one earlier point, for the headline figures' change.

    ``month`` ("YYYY-MM") is the month compared with, ``as_of`` the date of its score snapshot
    (the latest of that month). ``frame`` has one row per account live then (``live``: in the
    snapshot, with its ``tier``, ``strategy`` and ``monthly_revenue`` then) or billed in the
    six months to ``as_of`` (``revenue_3m``, ``revenue_prev_3m``, ``arrears_3m`` as the
    account frame reads them at that date). Without a snapshot of that month, or without
    bills of it, ``as_of`` is None, ``frame`` is empty and ``reason`` says why:
    ``"one_snapshot"`` (the history is a single snapshot, e.g. an export's one date),
    ``"no_snapshot"``, ``"no_bills"``; ``first`` is the first snapshot's date.
    """

    key: str
    month: str
    as_of: date | None
    reason: str | None
    first: date | None
    frame: pd.DataFrame = field(repr=False)


def kpi_comparisons(store: Store, as_of: date,
                    shape: Callable[[pd.DataFrame], pd.DataFrame] | None = None
                    ) -> dict[str, Comparison]:
    """The earlier points of :data:`COMPARISONS` for the headline figures as of ``as_of``:
    the score snapshot of that month (who was live, in which tier and strategy, with which
    monthly revenue) and the bills to its date; and, as ``"now"``, the same for the month of
    ``as_of`` (a change is one snapshot against another: the analysis the pages show scores
    churned accounts too, so its tiers differ a little from any snapshot's). Two queries per
    point, over whole tables. ``shape`` (e.g. :func:`valuation.portfolio.aligner`) is applied
    to each point's frame as soon as it is read, so only one point's raw rows are held at a
    time."""
    dates = snapshot_dates(store)
    first = dates[0] if dates else None
    month_now = pd.Timestamp(as_of).to_period("M")
    out: dict[str, Comparison] = {}
    for key, back in {"now": 0, **COMPARISONS}.items():  # this month's snapshot, the two points
        month = month_now - back
        label = str(month)
        inside = [d for d in dates if pd.Timestamp(d).to_period("M") == month]
        empty = pd.DataFrame(columns=COMPARISON_COLUMNS)
        if not inside:
            why = "one_snapshot" if len(dates) <= 1 else "no_snapshot"
            out[key] = Comparison(key, label, None, why, first, empty)
            continue
        d = max(inside)
        ts = pd.Timestamp(d)
        m1, m3, m6 = ((ts - pd.DateOffset(months=k)).date() for k in (1, 3, 6))
        billed = store.scalar("SELECT count(*) FROM billing_monthly WHERE month > ? AND month <= ?",
                              [m1, d])
        if not billed:
            out[key] = Comparison(key, label, None, "no_bills", first, empty)
            continue
        snap = store.query(
            "SELECT account_id, tier, strategy, monthly_revenue FROM score_snapshots "
            "WHERE as_of = ?", [d])
        bills = store.query(
            """
            SELECT account_id,
                   sum(CASE WHEN month > ? THEN billed ELSE 0 END) AS revenue_3m,
                   sum(CASE WHEN month <= ? THEN billed ELSE 0 END) AS revenue_prev_3m,
                   sum(CASE WHEN month > ? THEN arrears ELSE 0 END) AS arrears_3m
            FROM billing_monthly
            WHERE month > ? AND month <= ?
            GROUP BY account_id
            """, [m3, m3, m3, m6, d])
        snap["account_id"] = snap["account_id"].astype(str)
        bills["account_id"] = bills["account_id"].astype(str)
        frame = snap.assign(live=True).merge(bills, on="account_id", how="outer")
        frame["live"] = frame["live"].astype("boolean").fillna(False).astype(bool)
        for c in ("monthly_revenue", "revenue_3m", "revenue_prev_3m", "arrears_3m"):
            frame[c] = pd.to_numeric(frame[c], errors="coerce").fillna(0.0).astype(float)
        frame = frame[COMPARISON_COLUMNS]
        del snap, bills
        out[key] = Comparison(key, label, d, None, first,
                              frame if shape is None else shape(frame))
    return out


def account_history(store: Store, account_id: str) -> pd.DataFrame:
    return store.query(
        "SELECT as_of, value_score, loyalty_score, competitor_score, tier, strategy "
        "FROM score_snapshots WHERE account_id = ? ORDER BY as_of", [account_id])


def evaluate(store: Store, settings: Settings, *, horizon_months: int = 12, n_boot: int = 500,
             seed: int = 0, max_dates: int = 12) -> dict[str, object]:
    """AUC (with a 95% bootstrap interval) of each dimension for churn within
    ``horizon_months`` after a month end, scored under ``settings`` (the settings in force,
    not those a stored snapshot was made with).

    The evaluation dates are the month ends, from the first billed month, whose whole label
    window (calendar month ends: Nov 30 + 1 month = Dec 31) is observed by the data's as-of
    date; the portfolio is rebuilt and scored as it was at each. The headline uses the
    latest (one row per live account); ``pooled`` repeats it over the latest ``max_dates``.
    Scores are oriented as risks: value and loyalty negated.
    """
    as_of = features.data_as_of(store)
    first = store.scalar("SELECT min(month) FROM billing_monthly")
    dates = labelled_month_ends(first, as_of, horizon_months)[-int(max_dates):]
    if not dates:
        return {"error": f"no month end with {horizon_months} months of follow-up observed",
                "as_of": str(as_of)}
    rows = pd.concat([scored_at(store, settings, d) for d in dates], ignore_index=True)
    rows["label"] = churn_label(store, rows, horizon_months)
    latest = rows[rows["as_of"] == pd.Timestamp(max(dates))]
    rng = np.random.default_rng(seed)
    return {
        "as_of": str(as_of),
        "horizon_months": horizon_months,
        "snapshot": str(max(dates)),
        "accounts": int(len(latest)),
        "churned": int(latest["label"].sum()),
        "dimensions": {d: auc_ci(latest[d] * s, latest["label"], n_boot, rng)
                       for d, s in _RISK_SIGN.items()},
        "pooled": {
            "snapshots": len(dates),
            "first": str(min(dates)),
            "rows": int(len(rows)),
            "churned": int(rows["label"].sum()),
            "dimensions": {d: auc_ci(rows[d] * s, rows["label"], 0, rng)
                           for d, s in _RISK_SIGN.items()},
        },
        "direction": "risk = -value, -loyalty, +competitor; AUC above 0.5 separates as expected",
    }


def scored_at(store: Store, settings: Settings, as_of: date) -> pd.DataFrame:
    """account_id, model and the dimension scores of the accounts live at ``as_of``, scored
    under ``settings`` as the portfolio was then; ``as_of`` as a column."""
    frame = features.live_accounts(features.account_frame(store, as_of=as_of))
    card = score(frame.reset_index(drop=True), settings, as_of=as_of)
    out = card.scores[["account_id", "model", *_RISK_SIGN]].copy()
    out["as_of"] = pd.Timestamp(as_of)
    return out


def churn_label(store: Store, rows: pd.DataFrame, horizon_months: int) -> pd.Series:
    """True where the account of each row (account_id, as_of) churned after its as_of and on
    or before the end of the horizon (calendar month ends)."""
    churn = store.query("SELECT account_id, min(churn_date) AS churn_date FROM churn_events "
                        "GROUP BY account_id")
    first = pd.Series(pd.to_datetime(churn["churn_date"]).to_numpy(),
                      index=churn["account_id"].astype(str).to_numpy())
    cd = pd.to_datetime(rows["account_id"].astype(str).map(first))
    start = pd.to_datetime(rows["as_of"])
    ends = {d: horizon_end(d, horizon_months) for d in start.unique()}
    end = start.map(ends)
    return ((cd > start) & (cd <= end)).fillna(False).astype(bool).rename("label")


def auc_ci(score: pd.Series, label: pd.Series, n_boot: int,
           rng: np.random.Generator) -> dict[str, float | None]:
    """AUC of ``score`` for ``label`` with a percentile bootstrap 95% interval (``n_boot``
    resamples; none when 0). None when one class is missing, or when the score is the same
    for every row (it separates nothing: ``constant`` is then True)."""
    y = label.to_numpy().astype(int)
    x = score.to_numpy(dtype="float64")
    if len(y) == 0 or y.min() == y.max():
        return {"auc": None, "low": None, "high": None}
    if np.nanmin(x) == np.nanmax(x):
        return {"auc": None, "low": None, "high": None, "constant": True}
    auc = float(roc_auc_score(y, x))
    if n_boot <= 0:
        return {"auc": round(auc, 4), "low": None, "high": None}
    boots = []
    for _ in range(n_boot):
        i = rng.integers(0, len(y), len(y))
        if y[i].min() != y[i].max():
            boots.append(roc_auc_score(y[i], x[i]))
    low, high = np.percentile(boots, [2.5, 97.5])
    return {"auc": round(auc, 4), "low": round(float(low), 4), "high": round(float(high), 4)}
