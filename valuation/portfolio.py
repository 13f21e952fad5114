"""Filtering and presenting the account frame: what the Portfolio page and downloads show."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from valuation import i18n
from valuation.schema import enum_label

__all__ = ["KPIS", "MAP_COLUMNS", "TABLE_COLUMNS", "UNASSIGNED", "VIEW_COLUMNS", "account_table",
           "align_comparisons", "aligner", "filter_accounts", "filter_positions", "kpi_changes",
           "largest", "owner_options", "scope_comparisons", "take", "with_previous"]

UNASSIGNED = "__unassigned__"  # the owner filter's choice for the unassigned pool

# Columns of the account table, in order, as (frame column, label key).
TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("account_id", "col.account_id"),
    ("name", "col.name"),
    ("industry", "col.industry"),
    ("size_class", "col.size_class"),
    ("city", "col.city"),
    ("owner_name", "col.owner"),
    ("tier", "col.tier"),
    ("strategy", "col.strategy"),
    ("lifecycle_stage", "col.lifecycle_stage"),
    ("value_score", "col.value_score"),
    ("loyalty_score", "col.loyalty_score"),
    ("competitor_score", "col.competitor_score"),
    ("value_change", "col.value_change"),
    ("monthly_revenue", "col.monthly_revenue"),
    ("revenue_trend", "col.revenue_trend"),
    ("our_families", "col.our_families"),
    ("our_products", "col.our_products"),
    ("competitor_products", "col.competitor_products"),
    ("share_of_wallet", "col.share_of_wallet"),
    ("arrears_3m", "col.arrears_3m"),
    ("next_contract_end", "col.next_contract_end"),
    ("complaints_12m", "col.complaints_12m"),
    ("churned", "col.churned"),
)


def filter_positions(
    frame: pd.DataFrame,
    *,
    text: str = "",
    industries: Sequence[str] = (),
    cities: Sequence[str] = (),
    sizes: Sequence[str] = (),
    owners: Sequence[str] = (),
    tiers: Sequence[str] = (),
    strategies: Sequence[str] = (),
    stages: Sequence[str] = (),
    include_churned: bool = False,
) -> np.ndarray:
    """Row positions of ``frame`` matching every given filter, in frame order; empty filters
    match everything. Nothing is copied: a page takes the rows it shows.

    ``text`` matches the account id, Chinese or English name (case-insensitive substring).
    """
    mask = _attribute_mask(frame, text=text, industries=industries, cities=cities, sizes=sizes,
                           owners=owners, stages=stages)
    mask &= _chosen(frame, "tier", tiers) & _chosen(frame, "strategy", strategies)
    if not include_churned:
        mask &= ~frame["churned"].astype(bool).to_numpy()
    return np.flatnonzero(mask)


def _chosen(frame: pd.DataFrame, col: str, chosen: Sequence[str],
            values: pd.Series | None = None) -> np.ndarray:
    """True where ``values`` (default: ``frame[col]``) is one of ``chosen``; all True when
    nothing is chosen or the frame has no such column."""
    if not chosen or (values is None and col not in frame.columns):
        return np.ones(len(frame), dtype=bool)
    v = frame[col] if values is None else values
    return v.isin(list(chosen)).fillna(False).to_numpy(bool)


def _attribute_mask(frame: pd.DataFrame, *, text: str = "", industries: Sequence[str] = (),
                    cities: Sequence[str] = (), sizes: Sequence[str] = (),
                    owners: Sequence[str] = (), stages: Sequence[str] = ()) -> np.ndarray:
    """The filters on what an account is (name, industry, city, size, owner, stage): every
    filter but tier, strategy and churn, which change with the date."""
    mask = np.ones(len(frame), dtype=bool)
    if text.strip():
        needle = text.strip().lower()
        hay = (
            frame["account_id"].astype("string").str.lower()
            + "\n" + frame["name"].astype("string").str.lower()
            + "\n" + frame["name_en"].fillna("").astype("string").str.lower()
        )
        mask &= hay.str.contains(needle, regex=False).fillna(False).to_numpy(bool)
    for col, chosen in (("industry", industries), ("city", cities), ("size_class", sizes),
                        ("lifecycle_stage", stages)):
        mask &= _chosen(frame, col, chosen)
    if owners:
        owned = frame["owner_id"].isin(list(owners)).fillna(False).to_numpy(bool)
        if UNASSIGNED in owners:  # no owner, or one who is not a user (no name joined)
            owned = owned | frame["owner_name"].isna().to_numpy()  # (a CoW view is read-only)
        mask &= owned
    return mask


KPIS: dict[str, str] = {"accounts": "diff", "monthly_revenue": "ratio", "revenue_trend": "diff",
                        "churned_12m": "diff", "churn_rate_12m": "diff", "arrears_rate": "diff"}
"""The headline figures and how their change is read: ``diff`` (now minus then: a count, or
a rate in points) or ``ratio`` (now over then, minus one)."""


def aligner(frame: pd.DataFrame) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """A function re-indexing one point's frame of :func:`valuation.history.kpi_comparisons`
    to ``frame``'s rows (position for position; an account unknown then is not live and has
    no bills), compact: no id column, tier and strategy as categoricals, so a province's point
    costs about 35 bytes per account. ``frame``'s ids are hashed once, for every point."""
    ids = pd.Index(frame["account_id"].astype(str).to_numpy())
    n = len(ids)
    rows = np.arange(n)
    if not ids.is_unique:  # one row per account is the frame's contract; else the first
        first = ~ids.duplicated()
        ids, rows = ids[first], rows[first]

    def align(point: pd.DataFrame) -> pd.DataFrame:
        at = ids.get_indexer(point["account_id"].astype(str).to_numpy())
        found = at >= 0
        where, src = rows[at[found]], point[found]
        live = np.zeros(n, bool)
        live[where] = src["live"].to_numpy(bool)
        out = {"live": live}
        for col in ("tier", "strategy"):
            cat = pd.Categorical(src[col])
            codes = np.full(n, -1, dtype=cat.codes.dtype)
            codes[where] = cat.codes
            out[col] = pd.Categorical.from_codes(codes, cat.categories)
        for col in ("monthly_revenue", "revenue_3m", "revenue_prev_3m", "arrears_3m"):
            values = np.zeros(n)
            values[where] = src[col].to_numpy(float)
            out[col] = values
        return pd.DataFrame(out, copy=False)

    return align


def align_comparisons(frame: pd.DataFrame, comparisons: Mapping[str, Any]
                      ) -> dict[str, Any]:
    """``comparisons`` (:func:`valuation.history.kpi_comparisons`) with each point's frame
    re-indexed to ``frame``'s rows by :func:`aligner`, for :func:`kpi_changes`; the same as
    passing ``shape=aligner(frame)`` to ``kpi_comparisons``, which holds less while reading."""
    from dataclasses import replace

    align = aligner(frame)
    return {key: c if c.as_of is None else replace(c, frame=align(c.frame))
            for key, c in comparisons.items()}


def scope_comparisons(comparisons: Mapping[str, Any], rows: np.ndarray | None
                      ) -> dict[str, Any]:
    """Aligned ``comparisons`` narrowed to the frame rows at ``rows`` (a user's scope picked
    from the frame they were aligned to; None: every row, nothing copied)."""
    from dataclasses import replace

    if rows is None:
        return dict(comparisons)
    return {key: c if c.as_of is None else replace(c, frame=c.frame.iloc[rows]
                                                   .reset_index(drop=True))
            for key, c in comparisons.items()}


def kpi_changes(frame: pd.DataFrame, comparisons: Mapping[str, Any], *, text: str = "",
                industries: Sequence[str] = (), cities: Sequence[str] = (),
                sizes: Sequence[str] = (), owners: Sequence[str] = (),
                tiers: Sequence[str] = (), strategies: Sequence[str] = (),
                stages: Sequence[str] = (), **_: Any) -> pd.DataFrame:
    """The headline figures of the accounts the filters select (churned ones included: they
    make the churn figure; ``include_churned`` does not apply), now and at each earlier point
    of ``comparisons`` (aligned to ``frame`` by :func:`align_comparisons`), with the change.

    At an earlier point the same filters select from the portfolio as it was: who was live
    then and their tier, strategy and monthly revenue come from that month's score snapshot,
    the three-month revenue and arrears from the bills to its date, churn from the churn
    dates in the twelve months to it; what an account is (name, industry, city, size, owner,
    stage) is read as it is now. An account not live then keeps its present tier and
    strategy (it counts only where it churned in those twelve months).

    ``value`` is the figure of the frame (what the page's table shows). A change compares
    like with like: the figure at this month's snapshot (``comparisons["now"]``; the frame
    where there is none) against the figure at the earlier one.

    One row per :data:`KPIS` figure: ``value`` and, per point (``mom``, ``yoy``), ``<key>``
    (the change: NaN where the point is missing or the figure undefined then) and
    ``<key>_value`` (the figure then)."""
    attrs = _attribute_mask(frame, text=text, industries=industries, cities=cities, sizes=sizes,
                            owners=owners, stages=stages)
    as_of = pd.Timestamp(frame.attrs["as_of"])
    churn = pd.to_datetime(frame["churn_date"])

    def figures(mask: np.ndarray, live: np.ndarray, cols: Mapping[str, Any],
                day: pd.Timestamp) -> dict[str, float]:
        recent = ((churn > day - pd.DateOffset(months=12)) & (churn <= day)).to_numpy()
        from valuation.features import kpis_of

        return kpis_of(live[mask], np.asarray(cols["monthly_revenue"], float)[mask],
                       np.asarray(cols["revenue_3m"], float)[mask],
                       np.asarray(cols["revenue_prev_3m"], float)[mask],
                       np.asarray(cols["arrears_3m"], float)[mask], recent[mask])

    def at_point(c: Any) -> pd.Series:
        """The figures at one point (a snapshot's month), the same filters applied."""
        f = c.frame
        live = f["live"].to_numpy(bool)
        mask = attrs.copy()
        for col, chosen in (("tier", tiers), ("strategy", strategies)):
            if chosen and col in frame.columns:  # as it was where live then, else as now
                was = pd.Series(np.where(live, f[col].to_numpy(object),
                                         frame[col].to_numpy(object)))
                mask &= _chosen(frame, col, chosen, was)
        return pd.Series(figures(mask, live, f, pd.Timestamp(c.as_of)))

    now_mask = attrs & _chosen(frame, "tier", tiers) & _chosen(frame, "strategy", strategies)
    out = pd.DataFrame({"value": pd.Series(figures(
        now_mask, ~frame["churned"].astype(bool).to_numpy(), frame, as_of))}).reindex(list(KPIS))
    here = comparisons.get("now")
    # a change is one snapshot against another (same scoring); the frame where none is of now
    now = (at_point(here).reindex(out.index) if here is not None and here.as_of is not None
           else out["value"])
    ratio = np.array([KPIS[k] == "ratio" for k in out.index])
    for key, c in comparisons.items():  # the earlier points (month on month, year on year)
        if key == "now":
            continue
        then = (at_point(c).reindex(out.index) if c.as_of is not None
                else pd.Series(np.nan, index=out.index))
        out[key] = np.where(ratio, now / then.where(then > 0) - 1, now - then)
        out[f"{key}_value"] = then
    return out


def take(frame: pd.DataFrame, positions: np.ndarray,
         columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The rows at ``positions`` (attrs kept), only ``columns`` (those the frame has) when
    given; a view when every row is taken."""
    src = frame if columns is None else frame[[c for c in dict.fromkeys(columns)
                                               if c in frame.columns]]
    out = src.copy(deep=False) if len(positions) == len(frame) else src.iloc[positions]
    out.attrs = frame.attrs
    return out


def largest(frame: pd.DataFrame, positions: np.ndarray, column: str, n: int) -> np.ndarray:
    """The ``n`` positions among ``positions`` with the largest ``column`` (missing ones
    last), in frame order: what a chart of at most ``n`` points shows, picked before any row
    is copied."""
    if len(positions) <= n:
        return positions
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(float, na_value=np.nan)
    v = np.nan_to_num(values[positions], nan=-np.inf)
    return np.sort(positions[np.argpartition(-v, n - 1)[:n]])


def filter_accounts(frame: pd.DataFrame, *, columns: Sequence[str] | None = None,
                    **filters: Any) -> pd.DataFrame:
    """Rows matching every given filter (:func:`filter_positions`); ``columns``: only these
    columns in the result, so a province's rows are copied for what the caller shows."""
    return take(frame, filter_positions(frame, **filters), columns)


VIEW_COLUMNS: tuple[str, ...] = (
    *(c for c, _ in TABLE_COLUMNS), "name_en", "owner_id", "owner_name_en")
"""The columns the account table reads."""

MAP_COLUMNS: tuple[str, ...] = (
    "account_id", "name", "name_en", "strategy", "tier", "monthly_revenue", "value_score",
    "loyalty_score", "competitor_score")
"""The columns the positioning map and the strategy counts read (over every matching row)."""


def owner_options(frame: pd.DataFrame, lang: str) -> dict[str, str]:
    """Owner filter options: owner_id -> "name (id)", sorted by id, and :data:`UNASSIGNED`
    (label "") last when some accounts have no known owner."""
    known = frame[frame["owner_name"].notna()].drop_duplicates("owner_id")
    label = known["owner_name" if lang == "zh" else "owner_name_en"].fillna(known["owner_name"])
    out = {str(o): f"{n} ({o})" for o, n in sorted(zip(known["owner_id"], label, strict=True))}
    if frame["owner_name"].isna().any():
        out[UNASSIGNED] = ""
    return out


def account_table(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The account table with translated values and headers, in display order."""
    df = frame[[c for c, _ in TABLE_COLUMNS if c in frame.columns]].copy()
    zh = lang.startswith("zh")
    if not zh:
        df["name"] = frame["name_en"].where(frame["name_en"].notna() & (frame["name_en"] != ""),
                                            frame["name"])
        df["owner_name"] = frame["owner_name_en"].where(frame["owner_name_en"].notna(),
                                                        frame["owner_name"])
    for col, enum in (("industry", "industry"), ("size_class", "size_class")):
        labels = {code: enum_label(enum, code, lang) for code in df[col].dropna().unique()}
        df[col] = df[col].map(labels).fillna("–")
    df["city"] = df["city"].map({c: i18n.city(c, lang) for c in df["city"].dropna().unique()}
                                ).fillna("–")
    if "owner_name" in df.columns:
        df["owner_name"] = df["owner_name"].fillna(i18n.t("account.unassigned", lang))
    if "strategy" in df.columns:
        df["strategy"] = df["strategy"].map(
            {c: i18n.strategy(c, lang) for c in df["strategy"].dropna().unique()})
        df["lifecycle_stage"] = df["lifecycle_stage"].map(
            {c: i18n.stage(c, lang) for c in df["lifecycle_stage"].dropna().unique()})
    df["next_contract_end"] = pd.to_datetime(df["next_contract_end"]).dt.date
    df.attrs = {}
    return df.rename(columns={c: i18n.t(k, lang) for c, k in TABLE_COLUMNS})


def with_previous(frame: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """``frame`` plus the previous snapshot's tier and value score, and the change since."""
    prev = previous.set_index("account_id")
    out = frame.assign(
        previous_tier=frame["account_id"].map(prev["tier"]),
        previous_value=frame["account_id"].map(prev["value_score"]),
    )
    out["value_change"] = out["value_score"] - out["previous_value"]
    out.attrs = frame.attrs
    return out
