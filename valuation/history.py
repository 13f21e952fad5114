"""Score history: snapshots as of past dates, migration between them, and how well each
dimension separated the accounts that churned afterwards."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from valuation import features
from valuation.analysis import analyse
from valuation.config import Settings
from valuation.store import Store

__all__ = [
    "SNAPSHOT_COLUMNS",
    "account_history",
    "backfill_snapshots",
    "evaluate",
    "load_snapshot",
    "previous_snapshot",
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


def account_history(store: Store, account_id: str) -> pd.DataFrame:
    return store.query(
        "SELECT as_of, value_score, loyalty_score, competitor_score, tier, strategy "
        "FROM score_snapshots WHERE account_id = ? ORDER BY as_of", [account_id])


def evaluate(store: Store, *, horizon_months: int = 12, n_boot: int = 500,
             seed: int = 0) -> dict[str, object]:
    """AUC (with a 95% bootstrap interval) of each dimension for churn within
    ``horizon_months`` after a snapshot, using only snapshots whose whole horizon is observed.

    The headline uses the latest such snapshot (one row per account); ``pooled`` repeats it
    over every eligible snapshot. Scores are oriented as risks: value and loyalty negated.
    """
    as_of = features.data_as_of(store)
    dates = [d for d in snapshot_dates(store)
             if pd.Timestamp(d) + pd.DateOffset(months=horizon_months) <= pd.Timestamp(as_of)]
    if not dates:
        return {"error": f"no snapshot with {horizon_months} months of follow-up", "as_of": str(as_of)}
    churn = store.query("SELECT account_id, min(churn_date) AS churn_date FROM churn_events "
                        "GROUP BY account_id")
    rows = store.query(
        "SELECT as_of, account_id, value_score, loyalty_score, competitor_score FROM score_snapshots"
        f" WHERE as_of IN ({', '.join('?' for _ in dates)})", dates)
    rows = rows.merge(churn, on="account_id", how="left")
    end = pd.to_datetime(rows["as_of"]) + pd.DateOffset(months=horizon_months)
    cd = pd.to_datetime(rows["churn_date"])
    rows["label"] = (cd > pd.to_datetime(rows["as_of"])) & (cd <= end)
    latest = rows[pd.to_datetime(rows["as_of"]) == pd.Timestamp(max(dates))]
    rng = np.random.default_rng(seed)
    return {
        "as_of": str(as_of),
        "horizon_months": horizon_months,
        "snapshot": str(max(dates)),
        "accounts": int(len(latest)),
        "churned": int(latest["label"].sum()),
        "dimensions": {d: _auc_ci(latest[d] * s, latest["label"], n_boot, rng)
                       for d, s in _RISK_SIGN.items()},
        "pooled": {
            "snapshots": len(dates),
            "rows": int(len(rows)),
            "churned": int(rows["label"].sum()),
            "dimensions": {d: _auc_ci(rows[d] * s, rows["label"], 0, rng)
                           for d, s in _RISK_SIGN.items()},
        },
        "direction": "risk = -value, -loyalty, +competitor; AUC above 0.5 separates as expected",
    }


def _auc_ci(score: pd.Series, label: pd.Series, n_boot: int,
            rng: np.random.Generator) -> dict[str, float | None]:
    y = label.to_numpy().astype(int)
    x = score.to_numpy(dtype="float64")
    if y.min() == y.max():
        return {"auc": None, "low": None, "high": None}
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
