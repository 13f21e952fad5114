"""Sign-in, sign-out, the language switch and translated labels for the current session."""

from __future__ import annotations

import streamlit as st

from valuation import i18n
from valuation.access import User, authenticate

__all__ = ["current_user", "labeller", "lang", "language_switch", "sign_in_page", "sign_out", "tr"]

_LANGS = {"zh": "中文", "en": "English"}


def lang() -> str:
    """The session's language: "zh" (default) or "en"; ``?lang=en`` in the address sets it."""
    if "lang" not in st.session_state:
        q = st.query_params.get("lang", "zh")
        st.session_state["lang"] = q if q in _LANGS else "zh"
    return str(st.session_state["lang"])


def tr(key: str, **kw: object) -> str:
    """The label ``key`` in the session's language."""
    return i18n.t(key, lang(), **kw)


def language_switch(where: object = st.sidebar) -> None:
    current = lang()
    choice = where.segmented_control(  # type: ignore[attr-defined]
        "🌐", options=list(_LANGS), format_func=_LANGS.get, default=current,
        key="lang_switch", label_visibility="collapsed",
    )
    if choice and choice != current:
        st.session_state["lang"] = choice
        st.rerun()


def current_user() -> User | None:
    u = st.session_state.get("user")
    return u if isinstance(u, User) else None


def sign_out() -> None:
    for k in list(st.session_state.keys()):
        if k != "lang":
            del st.session_state[k]


def sign_in_page() -> None:
    """The sign-in form; on success the user lands on their first page."""
    from ui import state

    store = state.store()
    language_switch(st)
    st.title(tr("app.title"))
    st.caption(tr("app.tagline"))
    with st.form("sign_in"):
        user_id = st.text_input(tr("signin.user"), key="signin_user")
        password = st.text_input(tr("signin.password"), type="password", key="signin_password")
        submitted = st.form_submit_button(tr("signin.submit"), type="primary")
    if submitted:
        user = authenticate(store, user_id.strip(), password)
        if user is None:
            st.error(tr("signin.failed"))
        else:
            st.session_state["user"] = user
            st.rerun()


def labeller(prefix: str, options: list[str]) -> object:
    """A format_func for ``options``: labels looked up now, in the session's language (a
    lazy lookup could run outside the script and see no session)."""
    labels = {o: tr(f"{prefix}{o}") for o in options}
    return labels.get
