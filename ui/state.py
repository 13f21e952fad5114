"""Cached store connection and analysed portfolio, keyed by data version."""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from valuation import features
from valuation.access import User, scope_filter
from valuation.store import Store, default_db_path

__all__ = ["frame", "revenue_trend", "scoped_frame", "store", "users"]


@st.cache_resource(show_spinner=False)
def _open_store(path: str) -> Store:
    s = Store(path)
    if not s.has_facts and os.environ.get("VALUATION_NO_DEMO") != "1":
        from valuation.demo import write_demo

        write_demo(s)
    return s


def store() -> Store:
    """The app's store: ``VALUATION_DB`` or data/portfolio.duckdb; demo data on first run."""
    path = str(default_db_path().resolve())
    with st.spinner("…"):
        return _open_store(path)


@st.cache_data(max_entries=4, show_spinner=False)
def _frame(path: str, data_version: str) -> pd.DataFrame:
    return features.account_frame(_open_store(path))


def frame() -> pd.DataFrame:
    """The whole portfolio's account frame (a private copy: safe to modify)."""
    s = store()
    return _frame(str(s.path.resolve()), s.data_version)


@st.cache_data(max_entries=4, show_spinner=False)
def _users(path: str, data_version: str) -> pd.DataFrame:
    return _open_store(path).read_table("users")


def users() -> pd.DataFrame:
    s = store()
    return _users(str(s.path.resolve()), s.data_version)


def scoped_frame(user: User) -> pd.DataFrame:
    """Only the accounts the signed-in user may see."""
    f = frame()
    out = f[scope_filter(user, f, users())].reset_index(drop=True)
    out.attrs = f.attrs
    return out


@st.cache_data(max_entries=32, show_spinner=False)
def _trend(path: str, data_version: str, user: User) -> pd.DataFrame:
    return features.revenue_trend(_open_store(path), user)


def revenue_trend(user: User) -> pd.DataFrame:
    """Monthly billed / paid / arrears over the user's scope."""
    s = store()
    return _trend(str(s.path.resolve()), s.data_version, user)
