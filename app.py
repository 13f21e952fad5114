"""Streamlit entry: page config, sign-in gate, language, navigation."""

import streamlit as st

from ui import nav, state
from ui.session import current_user, lang, language_switch, sign_in_page, sign_out, tr
from valuation.schema import enum_label

st.set_page_config(page_title="政企客户价值 · Account Valuation", page_icon="📶", layout="wide")

state.store()  # opens the embedded database; creates the demo portfolio on first run
user = current_user()

if user is None:
    page = st.navigation([st.Page(sign_in_page, title=tr("signin.title"), url_path="signin")])
else:
    with st.sidebar:
        st.markdown(f"**{user.display_name(lang())}**")
        st.caption(enum_label("role", user.role, lang()))
        language_switch()
        if st.button(tr("signin.signout"), key="sign_out"):
            sign_out()
            st.rerun()
    page = st.navigation(nav.pages_for(user, tr))
page.run()
