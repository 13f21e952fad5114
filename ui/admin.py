"""Streamlit helpers of the admin pages: refusals and conflicts as the app's messages, a
workbook download built on click, the data-quality figures cached per data version, moments
in the reader's time zone, labels of tables and jobs."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from ui import state
from ui.session import checked, lang, tr
from valuation import admin, i18n, schema
from valuation.store import ConflictError

__all__ = ["action_label", "dialog", "error_text", "job_label", "moments", "person", "quality",
           "table_label"]


def dialog(title: str, *, on_dismiss: Callable[[], None]) -> Callable[[Callable], Callable]:
    """``st.dialog`` whose clicks pass this session's checks first (a dialog reruns as a
    fragment, without app.py: see :func:`ui.session.checked`)."""
    def wrap(fn: Callable) -> Callable:
        return st.dialog(title, on_dismiss=on_dismiss)(checked(fn))

    return wrap


def error_text(exc: BaseException) -> str:
    """What a refused write says: the admin rule broken, or who changed the row meanwhile."""
    if isinstance(exc, admin.AdminError):
        return exc.text(lang())
    if isinstance(exc, ConflictError):
        return tr("admin.conflict", error=str(exc))
    return str(exc)


def table_label(name: object) -> str:
    """A table as the reader names it: 客户 (accounts) / accounts."""
    t = schema.TABLES.get(str(name))
    if t is None:
        return str(name)
    return f"{t.zh} ({t.name})" if lang() == "zh" else t.name


def job_label(name: str) -> str:
    return tr(f"admin.job.{name}")


def action_label(code: object) -> str:
    """An audit action as the reader names it (the code itself for one without a label)."""
    key = "admin.action." + str(code).replace(":", "_").replace("+", "_")
    return tr(key) if key in i18n.STRINGS else str(code)


def person() -> Callable[[object], str]:
    """user_id -> "name (id)" in the reader's language; the id alone for someone no longer in
    the users table, "System" for the jobs."""
    users = state.users().set_index("user_id")
    col = "name" if lang() == "zh" else "name_en"
    names = users[col].fillna(users["name"]).to_dict()
    system = tr("label.system")  # looked up now: a format_func may run outside the script

    def name(u: object) -> str:
        if u is None or u != u or u == "":
            return "–"
        if u in ("system", "jobs"):
            return system
        n = names.get(str(u))
        return f"{n} ({u})" if n else str(u)

    return name


def moments(at: pd.Series) -> pd.Series:
    """Stored UTC moments (``2026-06-30T08:00:00.000000Z``) as the reader's local time."""
    try:
        tz = ZoneInfo(st.context.timezone) if st.context.timezone else ZoneInfo("UTC")
    except (KeyError, ValueError):
        tz = ZoneInfo("UTC")
    t = pd.to_datetime(at, utc=True, errors="coerce", format="ISO8601")
    text = t.dt.tz_convert(tz).dt.strftime("%Y-%m-%d %H:%M")
    return text.astype(object).where(t.notna(), "–")


@st.cache_data(max_entries=4, show_spinner=False)
def _facts_quality(path: str, data_version: str, max_age_days: int) -> dict[str, pd.DataFrame]:
    from valuation.features import data_as_of

    s = state.store()
    as_of = data_as_of(s)
    return {"imports": admin.imports(s), "missing": admin.missing_values(s),
            "refs": admin.failed_references(s, app=False),
            "age": admin.data_age(s, as_of, max_age_days=max_age_days),
            "as_of": pd.DataFrame({"as_of": [as_of]})}


def quality(max_age_days: int) -> dict[str, pd.DataFrame]:
    """The data-quality figures: those of the facts once per data version (every session
    shares them), the app's own rows whose account is gone read afresh."""
    s = state.store()
    out = dict(_facts_quality(str(s.path.resolve()), s.data_version, int(max_age_days)))
    out["refs"] = pd.concat([out["refs"], admin.failed_references(s, facts=False)],
                            ignore_index=True)
    return out
