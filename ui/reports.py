"""Download buttons for the reports of valuation.report: the executive pack of the signed-in
scope (Pyramid page) and an account's visit brief (Account page), each built when clicked."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from ui import state
from ui.session import lang, tr
from valuation import report
from valuation.access import User

__all__ = ["brief_download", "pack_downloads"]

_MIME = {"pdf": "application/pdf",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def pack_downloads(user: User, frame: pd.DataFrame) -> None:
    """The executive pack of ``frame`` (the user's scoped accounts) as PDF and as XLSX in the
    session language. What the pack reads beyond the page's shared objects (open work orders,
    the previous snapshot, the teams) is read when a button is clicked."""
    from valuation import warnings as W

    a = state.analysis()
    store = state.store()
    seen = state.reading()
    risk = state.churn_scores()
    users = state.users()
    labels = state.feature_labels()
    L = lang()
    teams = store.query("SELECT team_id, name, name_en FROM teams")
    scope = report.scope_label(user if user.role in ("account_manager", "sales_lead") else None,
                               L, teams)

    def build(render: Callable[[report.Pack], bytes]) -> Callable[[], bytes]:
        def run() -> bytes:  # outside the script run: only what it closes over
            orders = W.open_orders(store, user)
            pack = report.executive_pack(
                store, frame, a.settings, lang=L, risk=risk,
                open_accounts=orders["account_id"].astype(str), users=users, teams=teams,
                scope=scope, settings_id=seen["settings_id"],
                data_version=seen["data_version"], feature_labels=labels)
            return render(pack)
        return run

    name = f"executive-pack-{frame.attrs.get('as_of')}" + (
        f"-{user.user_id}" if user.role in ("account_manager", "sales_lead") else "")
    help_text = tr("report.download_help", scope=scope, as_of=frame.attrs.get("as_of"))
    c = st.columns([1, 1, 3])
    for col, fmt, render, icon in ((c[0], "pdf", report.pack_pdf, ":material/picture_as_pdf:"),
                                   (c[1], "xlsx", report.pack_xlsx, ":material/table:")):
        col.download_button(tr(f"report.download_{fmt}"), build(render),
                            file_name=f"{name}.{fmt}", mime=_MIME[fmt], key=f"pack_{fmt}",
                            icon=icon, on_click="ignore", help=help_text)


def brief_download(account_id: str) -> None:
    """The account's one-page visit brief (PDF) in the session language."""
    a = state.analysis()
    store = state.store()
    seen = state.reading()
    risk = state.churn_scores()
    suggestions = state.suggestions_later(account_id)  # the bundle is read when clicked
    users = state.users()
    labels = state.feature_labels()
    L = lang()

    def run() -> bytes:  # outside the script run: only what it closes over
        products, recs = suggestions()
        brief = report.account_brief(store, a, account_id, lang=L, risk=risk,
                                     recommendations=recs, products=products, users=users,
                                     settings_id=seen["settings_id"], feature_labels=labels)
        return report.brief_pdf(brief)

    st.download_button(tr("report.brief.download"), run,
                       file_name=f"visit-brief-{account_id}-{seen['as_of']}.pdf",
                       mime=_MIME["pdf"], key="acc_brief", icon=":material/description:",
                       on_click="ignore", help=tr("report.brief.download_help"))
