"""Cached store connection and analysed portfolio, keyed by data version and settings."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from valuation import features, history, portfolio
from valuation.access import User, scope_filter
from valuation.analysis import Analysis, analyse
from valuation.settings_store import active_settings_id
from valuation.store import Store, default_db_path

__all__ = ["Bundle", "analysis", "build_now", "bundle", "churn_model", "churn_probability",
           "churn_row", "churn_scores", "ensure_work_orders", "feature_labels", "model_card",
           "orders_and_priority", "picker", "reading", "recommendations_for",
           "retention_tables", "revenue_trend", "scoped_frame", "store", "survival_curves",
           "survival_fits", "tier_migration", "users"]


def _open_store(path: str) -> Store:
    """The store at ``path``, one per process. A database that cannot be used (missing at a
    path that is not the default one, damaged, foreign, newer) stops the page with what is
    wrong and what to do, never a traceback."""
    from valuation.store import DatabaseError

    try:
        return _open_store_once(path)
    except (DatabaseError, FileNotFoundError) as e:
        st.error(str(e), icon=":material/database:")
        st.stop()


@st.cache_resource(show_spinner=False)
def _open_store_once(path: str) -> Store:
    from pathlib import Path

    from valuation.store import is_default_db

    # The demo (published passwords) only where it is meant: the default database, or when
    # `valuation app --demo` / VALUATION_DEMO=1 asked; a mistyped path is an error.
    demo = os.environ.get("VALUATION_NO_DEMO") != "1" and (
        os.environ.get("VALUATION_DEMO") == "1" or is_default_db(path)
        or not os.environ.get("VALUATION_DB"))
    if not Path(path).exists() and not (demo or is_default_db(path)):
        from valuation.cli import missing_db_message

        raise FileNotFoundError(missing_db_message(Path(path)))
    s = Store(path, app_db=os.environ.get("VALUATION_APP_DB"))
    if not s.has_facts and demo:
        from valuation.setup import create_demo

        create_demo(s)
    return s


def store() -> Store:
    """The app's store: ``VALUATION_DB`` or data/portfolio.duckdb; demo data on first run."""
    return _open_store(str(default_db_path().resolve()))


_BUILDING: dict[tuple[str, str, int], threading.Thread] = {}
_FAILED: dict[tuple[str, str, int], str] = {}
_BUILD_LOCK = threading.Lock()


def _build_in_background(s: Store, key: tuple[str, str, int]) -> None:
    """Build the analysis of ``key`` once per process, off the page request."""
    from valuation import prepared

    with _BUILD_LOCK:
        t = _BUILDING.get(key)
        if t is not None and (t.is_alive() or prepared.is_built(s, key[1], key[2])):
            return
        def run() -> None:
            try:
                prepared.build(s)
            except Exception as e:  # noqa: BLE001 - the page then builds it and shows why
                _FAILED[key] = repr(e)

        t = threading.Thread(target=run, daemon=True, name=f"analysis-{key[1]}-{key[2]}")
        _BUILDING[key] = t
        t.start()


def _key() -> tuple[str, str, int]:
    """(database, data version, settings version) the pages read: the store's current ones,
    or, while their analysis is still being built, the newest built ones."""
    from valuation import prepared

    s = store()
    current = (str(s.path.resolve()), s.data_version, active_settings_id(s))
    if prepared.is_built(s, current[1], current[2]):
        return current
    newest = prepared.newest(s)
    if newest is None or current in _FAILED:  # nothing to show meanwhile, or the background
        return current                        # build failed: the page builds it (and says why)
    _build_in_background(s, current)
    return current[0], newest.data_version, newest.settings_id


def reading() -> dict[str, Any]:
    """What the pages show: data version, as-of date, settings version, and the newer
    versions being analysed meanwhile (None when the pages are current)."""
    s = store()
    key = _key()
    a = analysis()
    cur = (s.data_version, active_settings_id(s))
    return {"data_version": key[1], "settings_id": key[2], "as_of": a.frame.attrs.get("as_of"),
            "building": None if cur == key[1:] else {"data_version": cur[0],
                                                       "settings_id": cur[1]}}


@st.cache_resource(max_entries=2, show_spinner=False)
def _analysis(path: str, data_version: str, settings_id: int) -> Analysis:
    """One analysis per version for every session: read-only, never modify it."""
    from valuation import prepared
    from valuation.settings_store import settings_by_id

    s = _open_store(path)
    settings = settings_by_id(s, settings_id)
    a = prepared.load(s, data_version, settings_id, settings)
    if a is None:
        if (s.data_version, active_settings_id(s)) == (data_version, settings_id):
            prepared.build(s, settings)  # nobody built it yet (first run): this reader does
            a = prepared.load(s, data_version, settings_id, settings)
        if a is None:
            a = analyse(features.account_frame(s), settings)
    return a


def build_now() -> None:
    """After this session changed the data or the settings: build their analysis now, as the
    writer, so the next page shows it (a job or another process may have built it already)."""
    from valuation import i18n, prepared

    with st.spinner(i18n.t("state.building_now", st.session_state.get("lang", "zh"))):
        prepared.build(store())


def analysis() -> Analysis:
    """The whole portfolio scored with the settings in force (shared, read-only)."""
    return _analysis(*_key())


@st.cache_resource(max_entries=2, show_spinner=False)
def _with_previous(path: str, data_version: str, settings_id: int) -> pd.DataFrame:
    f = _analysis(path, data_version, settings_id).frame
    prev = history.previous_snapshot(_open_store(path), date.fromisoformat(f.attrs["as_of"]))
    return portfolio.with_previous(f, prev)


@st.cache_resource(max_entries=4, show_spinner=False)
def _users(path: str, data_version: str) -> pd.DataFrame:
    return _open_store(path).read_table("users")


def users() -> pd.DataFrame:
    path, version, _ = _key()
    return _users(path, version)


def scoped_frame(user: User) -> pd.DataFrame:
    """The analysed accounts the signed-in user may see: rows picked from the shared frame
    before anything is copied (an account manager's 150 accounts cost 150 rows), and for a
    province-wide scope a view of the shared frame (copy-on-write: changing it copies)."""
    f = _with_previous(*_key())
    rows = _scope_rows(f, user)
    out = f.copy(deep=False) if rows is None else f.iloc[rows].reset_index(drop=True)
    out.attrs = dict(f.attrs)
    return out


def _scope_rows(f: pd.DataFrame, user: User) -> np.ndarray | None:
    mask = scope_filter(user, f, users()).to_numpy()
    return None if bool(mask.all()) else np.flatnonzero(mask)


def scope_rows(user: User) -> np.ndarray | None:
    """The positions in :func:`shared_frame` of the rows :func:`scoped_frame` gives ``user``,
    in order; None when the scope is the whole frame."""
    return _scope_rows(_with_previous(*_key()), user)


def shared_frame() -> pd.DataFrame:
    """The province-wide analysed frame every session shares (read-only: never modify it);
    :func:`scoped_frame` picks a user's rows from it."""
    return _with_previous(*_key())


@dataclass(frozen=True, eq=False)
class Picker:
    """The account picker's index over a user's scope (row positions of ``scoped_frame``):
    ``ids`` (account_id -> position, a hash lookup) and ``order`` (positions, live accounts
    first, then by monthly revenue, largest first), ``rank`` (position -> place in order)."""

    ids: pd.Index
    order: np.ndarray
    rank: np.ndarray


@st.cache_resource(max_entries=64, show_spinner=False)
def _picker(path: str, data_version: str, settings_id: int, user: User) -> Picker:
    f = scoped_frame(user)
    revenue = pd.to_numeric(f["monthly_revenue"], errors="coerce").fillna(0.0).to_numpy(float)
    order = np.lexsort((-revenue, f["churned"].astype(bool).to_numpy()))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return Picker(ids=pd.Index(f["account_id"].astype(str).to_numpy()), order=order,
                  rank=rank)


def picker(user: User) -> Picker:
    """The account picker's index of the user's scope, built once per version and user."""
    return _picker(*_key(), user)


@st.cache_data(max_entries=32, show_spinner=False)
def _migration(path: str, data_version: str, settings_id: int, user: User, d_from: date,
               d_to: date, snapshots: int) -> pd.DataFrame:
    from valuation import pyramid

    s = _open_store(path)
    ids = scoped_frame(user)["account_id"].astype(str)
    before, after = (history.load_snapshot(s, d) for d in (d_from, d_to))
    codes = [t.code for t in _analysis(path, data_version, settings_id).settings.tiers]
    return pyramid.migration(before[before["account_id"].astype(str).isin(ids)],
                             after[after["account_id"].astype(str).isin(ids)], codes)


def tier_migration(user: User, d_from: date, d_to: date) -> pd.DataFrame:
    """Tier migration of the user's accounts between two score snapshots (``pyramid.migration``),
    computed once per pair of dates, scope and version: two snapshots of a province are
    millions of rows."""
    key = _key()
    n = len(history.snapshot_dates(store()))
    return _migration(*key, user, d_from, d_to, n)


@st.cache_data(max_entries=32, show_spinner=False)
def _trend(path: str, data_version: str, user: User) -> pd.DataFrame:
    return features.revenue_trend(_open_store(path), user)


def revenue_trend(user: User) -> pd.DataFrame:
    """Monthly billed / paid / arrears over the user's scope."""
    path, version, _ = _key()
    return _trend(path, version, user)


@st.cache_resource(show_spinner=False, max_entries=8)
def _dispatched(path: str, data_version: str, settings_id: int) -> dict[str, int]:
    """Evaluate the warnings of the data's as-of date and sync them into work orders, once
    per data and settings version (the sync is idempotent: a repeat changes nothing)."""
    from valuation import prepared
    from valuation.warnings import warn_and_dispatch

    s = _open_store(path)
    done = prepared.dispatched(s, data_version, settings_id)
    if done is not None:  # a job, the CLI or another server process synced these versions
        return done
    a = _analysis(path, data_version, settings_id)
    _, counts = warn_and_dispatch(s, a.frame, a.settings, user="system")
    prepared.mark_dispatched(s, data_version, settings_id, counts)
    return counts


# Per-user caches keyed by the work-order change counter: every edit starts new entries, and
# a province-wide user's entry is hundreds of MB at a million accounts, so old ones expire.
@st.cache_resource(show_spinner=False, max_entries=16, ttl=3600)
def _orders_and_priority(path: str, data_version: str, settings_id: int, stamp: int,
                         orders_version: int, user: User) -> tuple[pd.DataFrame, pd.DataFrame]:
    from valuation import planning
    from valuation import warnings as W

    a = _analysis(path, data_version, settings_id)
    orders = W.open_orders(_open_store(path), user)
    prio = planning.priority(a.frame, orders, settings=a.settings,
                             churn_probability=churn_probability())
    return orders, prio


def orders_and_priority(user: User) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The user's open work orders and the retention priority of their accounts (shared,
    read-only), recomputed only when a work order, the data, the settings or the churn model
    changed: at a million accounts the priority takes seconds."""
    path, dv, sid = _key()
    version = store().app.counters().get("work_orders", 0)
    return _orders_and_priority(path, dv, sid, _model_stamp(path), version, user)


@st.cache_resource(show_spinner=False, max_entries=16, ttl=3600)
def _retention(path: str, data_version: str, settings_id: int, stamp: int, orders_version: int,
               user: User, lang: str) -> dict[str, Any]:
    from ui import retention as R
    from valuation import planning

    s = _open_store(path)
    settings = _analysis(path, data_version, settings_id).settings
    orders, prio = _orders_and_priority(path, data_version, settings_id, stamp, orders_version,
                                        user)
    frame = scoped_frame(user)
    plan = planning.capacity_plan(s, prio, settings=settings)
    ranked = orders.merge(plan[["account_id", "tier", "value_at_risk", "priority", "fits"]],
                          on="account_id", how="left").sort_values(
        "priority", ascending=False, ignore_index=True)
    return {
        "orders": orders, "plan": plan, "ranked": ranked,
        "pipeline": {m: planning.contract_pipeline(s, frame, months=(m,)) for m in (3, 6)},
        "counter": planning.counter_poaching(frame, settings=settings),
        "unflagged": R.unflagged_table(churn_scores(), frame,
                                       set(orders["account_id"].astype(str))),
    }


def retention_tables(user: User, lang: str) -> dict[str, Any]:
    """What the Retention page shows over the user's scope (shared, read-only): the open
    orders, the capacity plan, the queue ranked by priority, the contract pipeline for 3 and
    6 months, the counter-poaching list and the accounts the model flags that no order
    covers; computed once per work-order change, data, settings, model version and user."""
    path, dv, sid = _key()
    version = store().app.counters().get("work_orders", 0)
    return _retention(path, dv, sid, _model_stamp(path), version, user, lang)


def ensure_work_orders() -> dict[str, int]:
    """Make sure today's warnings are work orders; the counts of the sync that did it."""
    return _dispatched(*_key())


def _model_stamp(path: str) -> int:
    from valuation.churn import model_path

    f = model_path(path)
    return f.stat().st_mtime_ns if f.exists() else 0


@st.cache_resource(max_entries=2, show_spinner=False)
def _survival_frame(path: str, data_version: str, settings_id: int) -> pd.DataFrame:
    from valuation import churn

    s = _open_store(path)
    return churn.survival_frame(s, settings=_analysis(path, data_version, settings_id).settings)


@st.cache_resource(max_entries=2, show_spinner=False)
def _survival(path: str, data_version: str, settings_id: int) -> dict[str, Any] | None:
    """The survival curves stored with the build ({"fits", "curves"}), None when not there."""
    from valuation import prepared

    return prepared.part(_open_store(path), data_version, settings_id, "survival")


@st.cache_data(max_entries=8, show_spinner=False)
def _survival_curves(path: str, data_version: str, settings_id: int, by: str) -> pd.DataFrame:
    from valuation import churn

    stored = _survival(path, data_version, settings_id)
    if stored is not None and by in stored["curves"]:
        return stored["curves"][by]
    return churn.survival_curves(_survival_frame(path, data_version, settings_id), by=by)


def survival_curves(by: str = "bundle") -> pd.DataFrame:
    """Kaplan-Meier curves over tenure by bundle depth ("bundle") or value tier ("tier")."""
    return _survival_curves(*_key(), by)


@st.cache_resource(show_spinner=False, max_entries=2)
def _model(path: str, stamp: int) -> Any:
    from valuation import churn

    return churn.load_model(churn.model_path(path)) if stamp else None


def churn_model() -> Any:
    """The saved churn model (``churn.ChurnModel``), None when none is trained; read-only."""
    path = _key()[0]
    return _model(path, _model_stamp(path))


@st.cache_resource(show_spinner=False, max_entries=4)
def _fits(path: str, data_version: str, settings_id: int) -> dict[str, Any]:
    from valuation import churn

    stored = _survival(path, data_version, settings_id)
    if stored is not None:
        return dict(stored["fits"])
    return churn.fit_survival(_survival_frame(path, data_version, settings_id), by="bundle")


def survival_fits() -> dict[str, Any]:
    """Survival curves by bundle depth (fitted, read-only), for lifetime values."""
    return _fits(*_key())


@st.cache_resource(max_entries=2, show_spinner=False)
def _churn_frame(path: str, data_version: str, settings_id: int) -> pd.DataFrame:
    from valuation import churn, prepared

    frame = _analysis(path, data_version, settings_id).frame
    extra = prepared.part(_open_store(path), data_version, settings_id, "churn_extra")
    if extra is not None:
        try:
            return prepared.churn_frame_from(frame, extra)
        except ValueError:  # not this frame's (a roll-up build): computed below
            pass
    return churn.churn_frame(_open_store(path), frame=frame)


def _rows_of(frame: pd.DataFrame, account_id: str) -> pd.DataFrame:
    """The rows of a shared per-account frame that belong to ``account_id`` (attrs kept): one
    vectorised comparison of the id column (Arrow strings: about 10 ms for four million rows),
    instead of a hash index of Python strings kept beside each frame (hundreds of MB at a
    province's scale)."""
    out = frame.loc[(frame["account_id"] == str(account_id)).to_numpy(bool)]
    out.attrs = dict(frame.attrs)
    return out


def churn_row(account_id: str) -> pd.DataFrame:
    """The account's row of the portfolio's churn frame (attrs kept)."""
    return _rows_of(_churn_frame(*_key()), account_id)


def recommendations_for(account_id: str) -> pd.DataFrame:
    """The account's cross-sell suggestions (rows of the shared bundle, in rank order)."""
    return _rows_of(bundle().recommendations, account_id)


@st.cache_resource(max_entries=2, show_spinner=False)
def _risk(path: str, data_version: str, settings_id: int, stamp: int) -> pd.DataFrame:
    from valuation import churn, prepared

    s = _open_store(path)
    stored = prepared.part(s, data_version, settings_id, "risk")
    if stored is not None and stored[1] == stamp:  # scored by the writer with this model
        return stored[0]
    return churn.portfolio_risk(
        s, settings=_analysis(path, data_version, settings_id).settings,
        model=_model(path, stamp), frame=_churn_frame(path, data_version, settings_id),
        survival=_fits(path, data_version, settings_id))


def churn_scores() -> pd.DataFrame:
    """Per live account_id: churn probability (NaN without a trained model), rules tripped,
    top factors, expected remaining months, lifetime value and value at risk
    (``churn.portfolio_risk``); attrs["risk_source"] says where the probability comes from."""
    key = _key()
    return _risk(*key, _model_stamp(key[0]))


def churn_probability() -> pd.Series | None:
    """Churn probability per account_id from the trained model, None without one."""
    risk = churn_scores()
    if risk.attrs.get("risk_source") == "none":
        return None
    return risk["churn_probability"]


def feature_labels() -> dict[str, tuple[str, str]]:
    """(English, Chinese) labels of the churn model's features, product indicators included."""
    from valuation.churn import FEATURE_LABELS

    labels = getattr(churn_model(), "feature_labels_", None)
    return {**FEATURE_LABELS, **(labels or {})}


def model_card() -> dict[str, Any] | None:
    """The saved churn model's card (JSON beside the database), None when there is none."""
    import json

    from valuation.churn import card_path, model_path

    f = card_path(model_path(_key()[0]))
    if not f.exists():
        return None
    return dict(json.loads(f.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Bundle:
    holdings: Any
    graph: Any
    products: pd.DataFrame
    metrics: pd.DataFrame
    recommendations: pd.DataFrame
    blend: Any = None  # the ranking in use (bundling.Blend)
    choice: Any = None  # the held-out choice behind it (bundling.BlendChoice or None)


@st.cache_resource(show_spinner=False, max_entries=4)
def _bundle(path: str, data_version: str, settings_id: int) -> Bundle:
    from valuation import bundling, prepared

    s = _open_store(path)
    a = _analysis(path, data_version, settings_id)
    products = s.read_table("products")
    stored = prepared.part(s, data_version, settings_id, "bundle")
    if stored is not None:  # built by the writer with the analysis
        return Bundle(products=products, **stored)
    contracts = s.read_table("contracts")
    h = bundling.load_holdings(s)
    params = bundling.BundlingParams.from_settings(a.settings)
    g = bundling.build_graph(h, products, accounts=a.frame, params=params)
    blend, choice = bundling.blend_in_use(h, products, a.frame, settings=a.settings)
    return Bundle(
        holdings=h, graph=g, products=products,
        metrics=bundling.bundle_metrics(h, g, products, contracts=contracts, as_of=None,
                                        params=params),
        recommendations=bundling.recommend(h, g, products, a.frame, k=5, settings=a.settings,
                                           params=params, blend=blend),
        blend=blend, choice=choice,
    )


def suggestions_later(account_id: str) -> Callable[[], tuple[pd.DataFrame, pd.DataFrame]]:
    """For work done after the page run (a download's callable): the catalogue and the
    account's cross-sell suggestions of this page's version, loading the shared bundle only
    when called, not while the page renders."""
    key = _key()

    def get() -> tuple[pd.DataFrame, pd.DataFrame]:
        b = _bundle(*key)
        return b.products, _rows_of(b.recommendations, account_id)
    return get


def contracts_of(account_id: str) -> pd.DataFrame:
    """The account's contracts, read from the facts when asked (the province's contracts are
    not held in memory for a what-if on one account)."""
    from valuation import schema

    cols = ", ".join(f'"{c}"' for c in schema.table("contracts").names)
    return store().query(f'SELECT {cols} FROM contracts WHERE account_id = ? ORDER BY 1',
                         [str(account_id)])


def bundle() -> Bundle:
    """Product graph, bundle metrics and top-5 suggestions for every account (read-only:
    shared across sessions, never modify)."""
    return _bundle(*_key())
