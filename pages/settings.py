"""Settings (admin): edit scorecards, cuts and tiers; preview the effect; save; restore."""

import tomllib

import streamlit as st

from ui import calibration, settings_editor, state, widgets
from ui import retention as R
from ui.nav import require_page
from ui.session import current_user, lang, tr
from valuation import charts, features, pyramid, settings_store
from valuation.access import can_manage_settings
from valuation.analysis import analyse
from valuation.config import SettingsError, dump_settings, parse_settings, same_settings

require_page(__file__)  # the role check of ui/nav.py PAGES, not only the navigation's
user = current_user()
st.title(tr("settings.title"))
if not can_manage_settings(user):
    st.error(tr("settings.admin_only"))
    st.stop()

store = state.store()
current = state.analysis()
L = lang()
doc = tomllib.loads(current.settings.source)
st.caption(tr("settings.active", id=settings_store.active_settings_id(store) or tr("settings.defaults")))

tab_models, tab_cuts, tab_cal, tab_rules, tab_toml, tab_history = st.tabs(
    [tr("settings.models"), tr("settings.cuts"), tr("settings.calibrate"), tr("settings.rules"),
     tr("settings.toml"), tr("settings.history")])
with tab_models:
    names = [m["name"] for m in doc["models"]]
    pick = st.selectbox(tr("col.model"), range(len(names)),
                        format_func=lambda i: current.settings.model(names[i]).label(L),
                        key=widgets.keep_choice("set_model"))
    doc["models"][pick] = settings_editor.model_editor(doc, pick)
with tab_cuts:
    doc = settings_editor.cuts_editor(doc)
    doc = settings_editor.tier_editor(doc)
with tab_cal:
    calibrated = calibration.calibration_view(
        store, current.settings, settings_store.active_settings_id(store))
with tab_rules:
    st.caption(tr("settings.rules_caption"))
    card = state.model_card()
    if card and card.get("rules_evaluation"):
        st.dataframe(R.rules_table(card["rules_evaluation"]), hide_index=True, width="stretch")
    else:
        st.info(tr("settings.rules_none"))
with tab_toml:
    st.caption(tr("settings.toml_help"))
    raw = st.text_area(tr("settings.toml"), dump_settings(doc), height=420, key="set_toml_text")
    use_raw = st.toggle(tr("settings.use_toml"), key="set_use_toml")
@st.dialog(tr("settings.restore_title"))
def _confirm_restore(settings_id: int) -> None:
    """Restoring changes every score and tier: asked once more, in a dialog."""
    st.write(tr("settings.restore_confirm", id=settings_id))
    yes, no = st.columns(2)
    if yes.button(tr("settings.restore"), type="primary", key="set_restore_yes"):
        new_id = settings_store.restore(store, settings_id, user=user.user_id)
        state.build_now()
        widgets.flash(tr("settings.saved", id=new_id))
        st.rerun()
    if no.button(tr("action.cancel"), key="set_restore_no"):
        st.rerun()


with tab_history:
    hist = settings_store.settings_history(store)
    st.dataframe(settings_editor.history_table(hist), hide_index=True, width="stretch")
    if not hist.empty:
        back = st.selectbox(tr("settings.restore_pick"), hist["settings_id"], key="set_restore_pick")
        if st.button(tr("settings.restore"), key="set_restore"):
            _confirm_restore(int(back))

text = calibrated or (raw if use_raw else dump_settings(doc))
try:
    candidate = parse_settings(text)
except SettingsError as exc:
    st.error(tr("settings.invalid", error=str(exc)))
    st.stop()

st.subheader(tr("settings.preview"))
if same_settings(candidate, current.settings):
    st.info(tr("settings.no_change"))
else:
    new = analyse(features.account_frame(store), candidate).frame
    old = current.frame
    live = ~old["churned"].astype(bool)
    mig = pyramid.migration(old.loc[live], new.loc[live], [t.code for t in candidate.tiers])
    moved = mig[mig["from_tier"] != mig["to_tier"]]
    k = st.columns(3)
    k[0].metric(tr("settings.moved_accounts"), f"{int(moved['accounts'].sum()):,}")
    k[1].metric(tr("settings.moved_revenue"), widgets.money(float(moved["revenue"].sum())))
    k[2].metric(tr("settings.strategy_changes"),
                f"{int((old.loc[live, 'strategy'] != new.loc[live, 'strategy']).sum()):,}")
    codes = [t.code for t in candidate.tiers]
    st.altair_chart(charts.migration_chart(mig, L, measure="accounts", order=codes), width="stretch")
    comment = st.text_input(tr("settings.comment"), key="set_comment")
    if st.button(tr("settings.save"), type="primary", key="set_save"):
        new_id = settings_store.save_settings(
            store, text, user=user.user_id,
            comment=comment or (tr("cal.comment") if calibrated else ""))
        state.build_now()
        widgets.flash(tr("settings.saved", id=new_id))
        st.rerun()
