"""Streamlit entry: page config, sign-in gate, language, navigation."""

import pandas as pd
import streamlit as st

from ui import nav, state, widgets
from ui.guard import demo_passwords_notice, run_page
from ui.session import cookie_sync, guard, lang, language_switch, sign_in_pages, sign_out, tr
from valuation.schema import enum_label

st.set_page_config(page_title="政企客户价值 · Account Valuation", page_icon="📶", layout="wide")
# The analysed portfolio is one shared frame per version: derived frames copy on write, so no
# page can change what another session reads.
pd.set_option("mode.copy_on_write", True)

state.store()  # opens the embedded database; creates the demo portfolio on first run
# Restores a session from its cookie after a reload, ends an idle or revoked one, re-reads the
# user's role and team from the users table.
user = guard()

if user is None:
    page = st.navigation(sign_in_pages())  # the form at every page's address: links survive
else:
    with st.sidebar:
        st.markdown(f"**{widgets.plain(user.display_name(lang()))}**")
        st.caption(enum_label("role", user.role, lang()))
        language_switch()
        if st.button(tr("signin.signout"), key="sign_out"):
            sign_out()
            st.rerun()
        now = state.reading()
        st.caption(tr("state.reading", as_of=now["as_of"], data_version=now["data_version"],
                      settings_id=now["settings_id"] or tr("state.default_settings")))
        if now["building"]:
            st.info(tr("state.building", **now["building"]), icon=":material/hourglass_top:")
        if user.role == "admin":  # published demo passwords still open this database
            demo_passwords_notice(state.store(), lang())
    page = st.navigation(nav.pages_for(user, tr))
widgets.show_flashes()
cookie_sync(st.sidebar if user is not None else st)
run_page(page, lang())  # a failure: its traceback to the log, a reference to the user
