"""Small Streamlit building blocks shared by pages: metrics, money, account picking."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from ui.session import lang, tr
from valuation import i18n

__all__ = ["csv_download", "money", "open_account", "pct"]


def money(yuan: float) -> str:
    """Yuan in the reader's convention: 万元 in Chinese, k / M in English."""
    if yuan is None or (isinstance(yuan, float) and math.isnan(yuan)):
        return "–"
    if lang() == "zh":
        return f"¥{yuan / 1e4:,.1f}万" if abs(yuan) >= 1e4 else f"¥{yuan:,.0f}"
    if abs(yuan) >= 1e6:
        return f"¥{yuan / 1e6:,.2f}M"
    return f"¥{yuan / 1e3:,.1f}k" if abs(yuan) >= 1e3 else f"¥{yuan:,.0f}"


def pct(x: float, *, signed: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:+.1%}" if signed else f"{x:.1%}"


def open_account(account_id: str) -> None:
    """Go to the Account page for ``account_id``."""
    st.session_state["account_id"] = account_id
    st.switch_page("pages/account.py", query_params={"account": account_id})


def csv_download(df: pd.DataFrame, name: str, *, key: str) -> None:
    """A download button for ``df`` as UTF-8-with-BOM CSV (opens cleanly in Excel)."""
    st.download_button(
        tr("action.download_csv"),
        df.to_csv(index=False).encode("utf-8-sig"),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=key,
        icon=":material/download:",
    )


def enum_options(values: pd.Series, enum: str) -> tuple[list[str], dict[str, str]]:
    """Sorted distinct codes of ``values`` and their labels in the session language."""
    codes = sorted(values.dropna().unique().tolist())
    return codes, {c: i18n.enum(enum, c, lang()) for c in codes}
