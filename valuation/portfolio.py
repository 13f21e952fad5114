"""Filtering and presenting the account frame: what the Portfolio page and downloads show."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from valuation import i18n
from valuation.schema import enum_label

__all__ = ["MAP_COLUMNS", "TABLE_COLUMNS", "UNASSIGNED", "VIEW_COLUMNS", "account_table",
           "filter_accounts", "filter_positions", "owner_options", "take", "with_previous"]

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
    mask = np.ones(len(frame), dtype=bool)
    if text.strip():
        needle = text.strip().lower()
        hay = (
            frame["account_id"].astype("string").str.lower()
            + "\n" + frame["name"].astype("string").str.lower()
            + "\n" + frame["name_en"].fillna("").astype("string").str.lower()
        )
        mask &= hay.str.contains(needle, regex=False).fillna(False).to_numpy(bool)
    for col, chosen in (
        ("industry", industries), ("city", cities), ("size_class", sizes),
        ("tier", tiers), ("strategy", strategies), ("lifecycle_stage", stages),
    ):
        if chosen and col in frame.columns:
            mask &= frame[col].isin(list(chosen)).fillna(False).to_numpy(bool)
    if owners:
        owned = frame["owner_id"].isin(list(owners)).fillna(False).to_numpy(bool)
        if UNASSIGNED in owners:  # no owner, or one who is not a user (no name joined)
            owned = owned | frame["owner_name"].isna().to_numpy()  # (a CoW view is read-only)
        mask &= owned
    if not include_churned:
        mask &= ~frame["churned"].astype(bool).to_numpy()
    return np.flatnonzero(mask)


def take(frame: pd.DataFrame, positions: np.ndarray,
         columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The rows at ``positions`` (attrs kept), only ``columns`` (those the frame has) when
    given; a view when every row is taken."""
    src = frame if columns is None else frame[[c for c in dict.fromkeys(columns)
                                               if c in frame.columns]]
    out = src.copy(deep=False) if len(positions) == len(frame) else src.iloc[positions]
    out.attrs = frame.attrs
    return out


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
