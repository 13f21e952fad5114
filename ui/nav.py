"""The page registry: every page file, its title, icon and the roles that see it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from valuation.access import User

__all__ = ["PAGES", "PageSpec", "allowed", "pages_for", "require_page"]


@dataclass(frozen=True)
class PageSpec:
    path: str
    title_key: str
    icon: str
    roles: tuple[str, ...]


_ALL = ("account_manager", "sales_lead", "executive", "admin")

PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/portfolio.py", "nav.portfolio", ":material/table_view:", _ALL),
    PageSpec("pages/account.py", "nav.account", ":material/apartment:", _ALL),
    PageSpec("pages/bundling.py", "nav.bundling", ":material/hub:", _ALL),
    PageSpec("pages/pyramid.py", "nav.pyramid", ":material/change_history:",
             ("sales_lead", "executive", "admin")),
    PageSpec("pages/retention.py", "nav.retention", ":material/crisis_alert:",
             ("sales_lead", "executive", "admin")),
    PageSpec("pages/my_work.py", "nav.my_work", ":material/assignment:",
             ("account_manager", "sales_lead")),
    PageSpec("pages/import_data.py", "nav.import", ":material/upload_file:", ("admin",)),
    PageSpec("pages/settings.py", "nav.settings", ":material/tune:", ("admin",)),
    PageSpec("pages/admin_users.py", "admin.nav.users", ":material/manage_accounts:", ("admin",)),
    PageSpec("pages/audit.py", "admin.nav.audit", ":material/history:", ("admin",)),
    PageSpec("pages/data_quality.py", "admin.nav.quality", ":material/fact_check:", ("admin",)),
    PageSpec("pages/models_jobs.py", "admin.nav.models", ":material/model_training:",
             ("admin",)),
)


def pages_for(user: User, tr: object) -> list[st.Page]:
    """The st.Page objects the user's role may open, titled in the session language."""
    return [
        st.Page(p.path, title=tr(p.title_key), icon=p.icon)  # type: ignore[operator]
        for p in PAGES
        if user.role in p.roles
    ]


def allowed(user: User | None, page_file: str) -> bool:
    """True when ``user``'s role may open the page file ``page_file`` (any path ending in the
    registered file's name: the source tree's or the installed copy's); an unregistered file
    is open to nobody."""
    spec = _spec(page_file)
    return user is not None and spec is not None and user.role in spec.roles


def require_page(page_file: str) -> User:
    """The signed-in user when their role may open ``page_file`` (call it with ``__file__`` at
    the top of the page); else the page stops with an error, whatever the navigation shows."""
    from ui.session import current_user, lang, tr
    from valuation.schema import enum_label

    _through_app()
    user = current_user()
    if not allowed(user, page_file):
        spec = _spec(page_file)
        role = enum_label("role", user.role, lang()) if user else "–"
        st.error(tr("nav.not_allowed", role=role,
                    page=tr(spec.title_key) if spec else Path(page_file).stem))
        st.stop()
    return user  # type: ignore[return-value]


def _through_app() -> None:
    """Rerun through app.py when Streamlit ran this page file by itself: in a new server
    process, before any st.navigation call, an address naming a page (a bookmarked
    ``/account?account=ID``) runs the file of pages/ directly (its folder fallback), with no
    sign-in gate and every file in the sidebar. The rerun keeps the address, which app.py's
    navigation then resolves. (AppTest runs page files this way on purpose: left alone.)"""
    from streamlit import config
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory and not config.get_option("global.appTest"):
        PagesManager.uses_pages_directory = False  # what st.navigation sets on its first call
        st.rerun()


def _spec(page_file: str) -> PageSpec | None:
    name = Path(page_file).name
    return next((p for p in PAGES if Path(p.path).name == name), None)
