"""Roll-ups from holdings, bills, contracts and interactions to one row per account (SQL)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from valuation.access import User, scope_sql
from valuation.store import Store

__all__ = [
    "account_detail",
    "account_frame",
    "finish_frame",
    "data_as_of",
    "kpis_of",
    "frame_as_of",
    "live_accounts",
    "load_sql",
    "portfolio_kpis",
    "revenue_trend",
]

_SQL_DIR = Path(__file__).parent / "sql"


@cache
def load_sql(name: str) -> str:
    """The text of ``valuation/sql/<name>.sql``."""
    return (_SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def data_as_of(store: Store) -> date | None:
    """The portfolio's as-of date: the last day of daily usage, else the end of the last bill."""
    day = store.scalar("SELECT max(day) FROM line_daily")
    if day is not None:
        return pd.Timestamp(day).date()
    month = store.scalar("SELECT last_day(max(month)) FROM billing_monthly")
    return None if month is None else pd.Timestamp(month).date()


def frame_as_of(store: Store, frame: pd.DataFrame | None, as_of: date | None) -> date:
    """``as_of`` if given, else the frame's own (``attrs["as_of"]``), else the data's, else
    today."""
    if as_of is not None:
        return pd.Timestamp(as_of).date()
    if frame is not None and frame.attrs.get("as_of"):
        return pd.Timestamp(frame.attrs["as_of"]).date()
    return data_as_of(store) or date.today()


def live_accounts(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The accounts of a frame that have not churned (all without a churned column);
    ``columns``: only these (those the frame has), so a province's live rows are copied for
    the columns the caller reads, not for the whole analysed frame."""
    src = frame if columns is None else frame[[c for c in dict.fromkeys(columns)
                                               if c in frame.columns]]
    if "churned" not in frame.columns:
        return src
    return src.loc[~frame["churned"].fillna(False).astype(bool).to_numpy()]


def account_frame(store: Store, *, as_of: date | None = None) -> pd.DataFrame:
    """One row per account onboarded by ``as_of`` (default: the data's as-of date)."""
    as_of = as_of or data_as_of(store) or date.today()
    ts = pd.Timestamp(as_of)
    params = {"as_of": as_of, **{
        f"m{k}": (ts - pd.DateOffset(months=k)).date() for k in (1, 3, 6, 12)}}
    cur = store.cursor()
    try:
        table = cur.sql(load_sql("account_frame"), params=params).to_arrow_table()
    finally:
        cur.close()
    # Arrow-backed strings: no Python object per cell (several times faster at 1M rows).
    return finish_frame(table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get),
                        as_of)


def finish_frame(df: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """The account frame's derived columns, from ``account_frame.sql``'s output as DuckDB or
    Spark (``valuation rollup``) wrote it; ``attrs["as_of"]`` set."""
    # an export without English names shows the Chinese (or only) name in English views too
    df["name_en"] = df["name_en"].fillna(df["name"])
    df["owner_name_en"] = df["owner_name_en"].fillna(df["owner_name"])
    prev = df["revenue_prev_3m"]
    df["revenue_trend"] = (df["revenue_3m"] - prev).div(prev.where(prev > 0))
    df["arrears_rate_3m"] = df["arrears_3m"].div(df["revenue_3m"].where(df["revenue_3m"] > 0))
    wallet = df["our_spend"] + df["competitor_spend"]
    df["share_of_wallet"] = df["our_spend"].div(wallet.where(wallet > 0))
    df.attrs["as_of"] = pd.Timestamp(as_of).date().isoformat()  # JSON-safe: frames travel to the UI
    return df


def portfolio_kpis(frame: pd.DataFrame) -> dict[str, float]:
    """Headline figures over an account frame (already scoped)."""
    live = ~frame["churned"].astype(bool).to_numpy()  # a mask: no copy of the frame's rows
    as_of = pd.Timestamp(frame.attrs.get("as_of", date.today()))
    churn_dates = pd.to_datetime(frame["churn_date"])
    recent = (churn_dates > as_of - pd.DateOffset(months=12)).to_numpy()
    return kpis_of(live, frame["monthly_revenue"].to_numpy(float),
                   frame["revenue_3m"].to_numpy(float), frame["revenue_prev_3m"].to_numpy(float),
                   frame["arrears_3m"].to_numpy(float), recent)


def kpis_of(live: np.ndarray, monthly_revenue: np.ndarray, revenue_3m: np.ndarray,
            revenue_prev_3m: np.ndarray, arrears_3m: np.ndarray,
            churned_recent: np.ndarray) -> dict[str, float]:
    """The headline figures of :func:`portfolio_kpis` from whole columns of the rows in
    question (live or not): accounts and monthly revenue of the live ones, the revenue trend
    (last three months over the three before) and the arrears rate over all, the accounts
    churned in the last twelve months and their share of those live a year ago."""
    live = np.asarray(live, dtype=bool)
    recent = np.asarray(churned_recent, dtype=bool)
    rev3, prev3 = float(np.sum(revenue_3m)), float(np.sum(revenue_prev_3m))
    n_live, n_recent = float(live.sum()), float(recent.sum())
    return {
        "accounts": n_live,
        "monthly_revenue": float(np.sum(np.asarray(monthly_revenue)[live])),
        "revenue_trend": float(rev3 / prev3 - 1) if prev3 > 0 else float("nan"),
        "churned_12m": n_recent,
        "churn_rate_12m": float(n_recent / max(n_live + n_recent, 1)),
        "arrears_rate": float(np.sum(arrears_3m) / rev3) if rev3 > 0 else float("nan"),
    }


def revenue_trend(store: Store, user: User, *, months: int = 24) -> pd.DataFrame:
    """Billed, paid and arrears per month over the user's accounts (the last ``months``)."""
    pred, params = scope_sql(user, alias="a")
    return store.query(
        f"""
        SELECT b.month, sum(b.billed) AS billed, sum(b.paid) AS paid, sum(b.arrears) AS arrears
        FROM billing_monthly b JOIN accounts a ON a.account_id = b.account_id
        WHERE {pred}
        GROUP BY b.month ORDER BY b.month DESC LIMIT {int(months)}
        """,
        params,
    ).sort_values("month", ignore_index=True)


def account_detail(store: Store, account_id: str) -> dict[str, pd.DataFrame]:
    """Everything the account page shows about one account, table by table."""
    q = store.query
    p = [account_id]
    return {
        "account": q(
            """SELECT a.*, u.name AS owner_name, u.name_en AS owner_name_en, u.team_id,
                      pa.name AS parent_name, pa.name_en AS parent_name_en
               FROM accounts a LEFT JOIN users u ON u.user_id = a.owner_id
               LEFT JOIN accounts pa ON pa.account_id = a.parent_account_id
               WHERE a.account_id = ?""",
            p,
        ),
        "branches": q(
            "SELECT account_id, name, name_en, city, owner_id FROM accounts "
            "WHERE parent_account_id = ? ORDER BY account_id",
            p,
        ),
        "holdings": q(
            """SELECT h.product_id, pr.name, pr.name_en, pr.family, h.provider,
                      c.name AS competitor_name, c.name_en AS competitor_name_en,
                      h.quantity, h.monthly_revenue, h.start_date, h.end_date
               FROM holdings h JOIN products pr ON pr.product_id = h.product_id
               LEFT JOIN competitors c ON c.competitor_id = h.provider
               WHERE h.account_id = ? ORDER BY pr.family, h.provider, h.product_id""",
            p,
        ),
        "bills": q(
            "SELECT month, billed, paid, arrears FROM billing_monthly "
            "WHERE account_id = ? ORDER BY month",
            p,
        ),
        "contracts": q(
            "SELECT contract_id, contract_type, start_date, end_date, value FROM contracts "
            "WHERE account_id = ? ORDER BY end_date",
            p,
        ),
        "interactions": q(
            "SELECT date, kind, user_id, note FROM interactions "
            "WHERE account_id = ? ORDER BY date DESC",
            p,
        ),
        "churn": q("SELECT churn_date, reason FROM churn_events WHERE account_id = ?", p),
    }
