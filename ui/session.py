"""Sign-in, sign-out, the language switch and translated labels for the current session.

Every run of app.py calls :func:`guard` first: it restores a session from the browser's
cookie after a reload, signs out a session idle longer than ``auth.idle_timeout_minutes``,
re-reads the user from the users table (a removed user is signed out, a changed role or team
holds at once) and notices a session revoked elsewhere. :func:`cookie_sync` then writes (or
clears) the cookie from the page. A fragment's rerun does not run app.py, so every fragment is
made with :func:`fragment`, which runs the same checks first: a click inside a fragment counts
as activity, and one after the idle timeout (or a revocation, a removal, a role change) turns
into a whole-app rerun that signs out or re-scopes. The rules themselves live in
:mod:`valuation.signin`.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from valuation import access, i18n, signin
from valuation.access import User, user_from_row
from valuation.schema import enum_label

__all__ = ["cookie_sync", "current_user", "fragment", "guard", "labeller", "lang",
           "language_switch", "policy", "sign_in_page", "sign_in_pages", "sign_out", "tr"]

_LANGS = {"zh": "中文", "en": "English"}
_TOKEN = "_auth_token"  # the session's token (its digest is the signin_sessions key)
_COOKIE = "_auth_cookie"  # the cookie value the browser should hold now
_LAST = "_auth_last_active"  # epoch seconds of the last run
_TOUCHED = "_auth_touched"  # epoch seconds of the last write of activity to the app database
_TRIED = "_auth_restore_tried"  # this browser session tried its cookie already
_CLEAR = "_auth_clear_cookie"  # the browser still holds a cookie that must go
_NOTICE = "_auth_notice"  # why the session ended, shown on the sign-in page
_KEEP = ("lang", _TRIED, _CLEAR, _NOTICE)  # what signing out keeps
_LANG_COOKIE = "valuation_lang"  # the reader's language, kept across reloads
_TOUCH_EVERY = 60.0  # seconds between writes of activity (and cookie refreshes)


def lang() -> str:
    """The session's language: "zh" (default) or "en"; ``?lang=en`` in the address sets it."""
    if "lang" not in st.session_state:
        q = st.query_params.get("lang") or st.context.cookies.get(_LANG_COOKIE, "zh")
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


@st.cache_resource(max_entries=4, show_spinner=False)
def _policy(path: str, settings_id: int) -> signin.Policy:
    from ui import state
    from valuation.settings_store import settings_by_id

    return signin.Policy.from_settings(settings_by_id(state.store(), settings_id))


def policy() -> signin.Policy:
    """The sign-in settings in force (read once per active settings version)."""
    from ui import state
    from valuation.settings_store import active_settings_id

    s = state.store()
    return _policy(str(s.path.resolve()), active_settings_id(s))


@st.cache_resource(max_entries=4, show_spinner=False)
def _users(path: str, data_version: str) -> pd.DataFrame:
    """The users table by user_id, once per data version (an import may change it)."""
    from ui import state

    return state.store().read_table("users").set_index("user_id")


def _fresh_user(user_id: str) -> User | None:
    """The user as the users table has them in the current data version, or None."""
    from ui import state

    s = state.store()
    users = _users(str(s.path.resolve()), s.data_version)
    return user_from_row(users.loc[user_id]) if user_id in users.index else None


def _browser_cookie() -> str | None:
    """The session cookie the browser sent when this session's connection opened."""
    return st.context.cookies.get(signin.COOKIE)


def guard() -> User | None:
    """The signed-in user after this run's checks (see the module docstring), or None."""
    from ui import state

    user = current_user()
    pol = policy()
    now = signin.utcnow()
    if user is None:
        _restore(pol, now)
        return current_user()
    last = st.session_state.get(_LAST)
    if last is not None and now.timestamp() - float(last) > pol.idle.total_seconds():
        sign_out(why="idle", notice=tr("signin.idle",
                                       minutes=f"{pol.idle.total_seconds() / 60:g}"))
        return None
    st.session_state[_LAST] = now.timestamp()
    fresh = _fresh_user(user.user_id)
    if fresh is None:
        sign_out(why="removed", notice=tr("signin.removed"))
        return None
    if not access.is_active(state.store(), fresh.user_id):  # an admin deactivated them
        sign_out(why="deactivated", notice=tr("admin.signin_deactivated"))
        return None
    if fresh != user:
        st.session_state["user"] = fresh
        from ui import widgets

        widgets.flash(tr("signin.role_changed", role=enum_label("role", fresh.role, lang())))
    token = st.session_state.get(_TOKEN)
    touched = float(st.session_state.get(_TOUCHED, 0.0))
    if token and now.timestamp() - touched >= _TOUCH_EVERY:
        cookie = signin.touch(state.store(), token, policy=pol, now=now)
        if cookie is None:
            sign_out(why="revoked", notice=tr("signin.revoked"))
            return None
        st.session_state[_COOKIE] = cookie
        st.session_state[_TOUCHED] = now.timestamp()
    return fresh


def checked(fn: Callable[..., object]) -> Callable[..., object]:
    """``fn`` behind this session's checks (:func:`guard`): when the user is gone (idle, signed
    out or revoked elsewhere, removed) or changed (role, team), the whole app reruns instead,
    so the sign-in page or the new scope shows; otherwise ``fn`` runs."""

    @functools.wraps(fn)
    def run(*args: object, **kwargs: object) -> object:
        before = current_user()
        after = guard() if before is not None else None
        if after is None or after != before:
            st.rerun(scope="app")
        if _in_fragment_rerun():
            from ui.guard import admitted

            with admitted():  # a fragment's own rerun takes a page-run slot like a page
                return fn(*args, **kwargs)
        return fn(*args, **kwargs)

    return run


def _in_fragment_rerun() -> bool:
    """True when this script run reruns fragments only (app.py did not run: no page-run slot
    is held); False in a full run, where the fragment runs inside the page's slot."""
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    return bool(ctx is not None and ctx.fragment_ids_this_run)


def fragment(fn: Callable[..., object]) -> Callable[..., object]:
    """``st.fragment`` whose every rerun passes this session's checks first (see
    :func:`checked`): use it for every fragment of the app."""
    return st.fragment(checked(fn))


def _restore(pol: signin.Policy, now: datetime) -> None:
    """Sign in from the cookie the browser sent, once per browser session."""
    from ui import state

    if st.session_state.get(_TRIED):
        return
    st.session_state[_TRIED] = True
    value = _browser_cookie()
    if not value:
        return
    got = signin.restore(state.store(), value, policy=pol, now=now)
    if got is None:
        st.session_state[_CLEAR] = True
        return
    _start(got.user, got.token, got.cookie, now)


def _start(user: User, token: str, cookie: str, now: datetime) -> None:
    st.session_state["user"] = user
    st.session_state[_TOKEN] = token
    st.session_state[_COOKIE] = cookie
    st.session_state[_LAST] = now.timestamp()
    st.session_state[_TOUCHED] = now.timestamp()
    st.session_state.pop(_CLEAR, None)
    st.session_state.pop(_NOTICE, None)


def sign_out(why: str = "sign_out", notice: str | None = None) -> None:
    """End the session: its server-side token revoked, audited, the cookie cleared on the
    next run (:func:`cookie_sync`); ``notice`` is shown on the sign-in page."""
    from ui import state

    user = current_user()
    if user is not None:
        signin.sign_out(state.store(), user.user_id, st.session_state.get(_TOKEN), why=why)
    for k in list(st.session_state.keys()):
        if k not in _KEEP:
            del st.session_state[k]
    st.session_state[_CLEAR] = True
    if notice:
        st.session_state[_NOTICE] = notice


def cookie_sync(where: object = st) -> None:
    """Write the cookies the browser should hold from the page: a script in the page itself
    (st.html runs it once per new value). The session cookie (or its removal) is SameSite=Strict,
    Secure on https, expiring with the idle timeout; it cannot be HttpOnly, being written by a
    script. The reader's language is kept in a cookie of its own, so a reload keeps it."""
    value = st.session_state.get(_COOKIE)
    cookies = []
    if value:
        age = int(policy().idle.total_seconds())
        cookies.append(f"{signin.COOKIE}={value}; Path=/; Max-Age={age}; SameSite=Strict")
    elif st.session_state.get(_CLEAR):
        cookies.append(f"{signin.COOKIE}=; Path=/; Max-Age=0; SameSite=Strict")
    if st.context.cookies.get(_LANG_COOKIE) != lang():
        cookies.append(f"{_LANG_COOKIE}={lang()}; Path=/; Max-Age=31536000; SameSite=Strict")
    if not cookies:
        return
    secure = " + (location.protocol === 'https:' ? '; Secure' : '')"
    js = "".join(f"document.cookie = {json.dumps(c)}{secure};" for c in cookies)
    where.html(f"<script>{js}</script>", unsafe_allow_javascript=True)  # type: ignore[attr-defined]


def _local(t: datetime) -> str:
    """A moment in the browser's time zone (UTC when the browser gave none)."""
    try:
        tz = ZoneInfo(st.context.timezone) if st.context.timezone else UTC
    except (KeyError, ValueError):
        tz = UTC
    shown = t.astimezone(tz)
    return shown.strftime("%Y-%m-%d %H:%M ") + (shown.tzname() or "UTC")


def sign_in_pages() -> list[st.Page]:
    """The signed-out navigation: the sign-in form at ``/signin`` (the default) and, hidden,
    at the address of every page of :data:`ui.nav.PAGES`. A bookmarked link
    (``/account?account=ID``, ``/my_work?order=ID``) opened signed out shows the form at its
    own address with its query kept, and the rerun after the sign-in runs the page of that
    address (a page the role may not open falls back to the first page; the page itself
    refuses an account outside the user's scope)."""
    from ui.nav import PAGES

    title = tr("signin.title")
    return [st.Page(sign_in_page, title=title, url_path="signin", default=True)] + [
        st.Page(sign_in_page, title=title, url_path=st.Page(p.path).url_path,
                visibility="hidden")
        for p in PAGES  # the registered pages (a handful)
    ]


def sign_in_page() -> None:
    """The sign-in form; on success the user lands on the page of the address they
    came by (:func:`sign_in_pages`), else on their first page."""
    from ui import state

    store = state.store()
    language_switch(st)
    st.title(tr("app.title"))
    st.caption(tr("app.tagline"))
    notice = st.session_state.get(_NOTICE)
    if notice:
        st.info(notice)
    with st.form("sign_in"):
        user_id = st.text_input(tr("signin.user"), key="signin_user")
        password = st.text_input(tr("signin.password"), type="password", key="signin_password")
        submitted = st.form_submit_button(tr("signin.submit"), type="primary")
    if submitted:
        now = signin.utcnow()
        out = signin.attempt(store, user_id, password, policy=policy(), now=now)
        if out.user is not None and out.cookie and out.token:
            _start(out.user, out.token, out.cookie, now)
            st.rerun()
        elif out.locked_until is not None:
            st.error(tr("signin.locked", until=_local(out.locked_until)))
        elif out.retry_at is not None:
            wait = math.ceil((out.retry_at - now).total_seconds())
            st.error(tr("signin.wait", seconds=max(wait, 1)))
        else:
            st.error(tr("signin.failed"))


def labeller(prefix: str, options: list[str]) -> object:
    """A format_func for ``options``: labels looked up now, in the session's language (a
    lazy lookup could run outside the script and see no session)."""
    labels = {o: tr(f"{prefix}{o}") for o in options}
    return labels.get
