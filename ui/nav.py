"""The page registry: every page file, its title, icon and the roles that see it."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from valuation.access import User

__all__ = ["PAGES", "PageSpec", "pages_for"]


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
)


def pages_for(user: User, tr: object) -> list[st.Page]:
    """The st.Page objects the user's role may open, titled in the session language."""
    return [
        st.Page(p.path, title=tr(p.title_key), icon=p.icon)  # type: ignore[operator]
        for p in PAGES
        if user.role in p.roles
    ]
