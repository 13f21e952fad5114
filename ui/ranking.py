"""How the Bundling page's suggestions are ranked: the blend in use and the evidence for it."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ui import state
from ui.session import tr
from valuation.access import User, can_manage_settings
from valuation.config import Settings
from valuation.settings_store import save_settings, with_values
from valuation.store import Store

__all__ = ["blend_label", "ranking_view"]

_NAMED = ("popularity", "segment_popularity", "evidence", "model", "hand_tuned", "default")
_SAVED = "rank_saved"


def blend_label(name: str) -> str:
    """A blend's name as the reader says it ("Co-holding model + size rule")."""
    key = f"blend.name.{name}"
    from valuation.i18n import STRINGS

    return tr(key) if key in STRINGS else tr("blend.name.grid", name=name.replace("_", " "))


def ranking_view(bundle: Any, user: User, store: Store, settings: Settings) -> None:
    """The ranking in use, whether an admin saved it or it was chosen on this portfolio, and
    hit rates of the candidates on accounts the choice never saw; an admin can keep it."""
    if _SAVED in st.session_state:
        st.success(tr("settings.saved", id=st.session_state.pop(_SAVED)))
    blend, choice = bundle.blend, bundle.choice
    stored = any(k.startswith("bundling.blend_") for k in settings.values)
    st.markdown(tr("blend.in_use", name=blend_label(blend.name)) + " · "
                + tr("blend.stored" if stored else "blend.auto"))
    if choice is None:
        st.caption(tr("blend.no_choice"))
        return
    st.caption(tr("blend.caption", selection=f"{choice.selection['accounts']:,}",
                  test=f"{choice.test['accounts']:,}", chosen=blend_label(choice.name)))
    t = choice.table.set_index("blend")
    names = [choice.name, *[n for n in _NAMED if n in t.index and n != choice.name]]
    if blend.name not in names and blend.name in t.index:
        names.insert(0, blend.name)
    st.dataframe(pd.DataFrame({
        tr("blend.col.ranking"): [blend_label(n) + (" ✓" if n == choice.name else "")
                                  for n in names],
        tr("blend.col.selection", k=3): [t.at[n, "selection_hit@3"] for n in names],
        tr("blend.col.test", k=3): [t.at[n, "test_hit@3"] for n in names],
        tr("blend.col.test", k=5): [t.at[n, "test_hit@5"] for n in names],
    }), hide_index=True, width="stretch", column_config={
        c: st.column_config.NumberColumn(format="%.3f") for c in (
            tr("blend.col.selection", k=3), tr("blend.col.test", k=3), tr("blend.col.test", k=5))})
    if can_manage_settings(user) and (not stored or not blend.same_weights(choice.blend)):
        if st.button(tr("blend.keep", name=blend_label(choice.name)), key="rank_keep"):
            st.session_state[_SAVED] = save_settings(
                store, with_values(settings, choice.blend.settings_values()),
                user=user.user_id, comment=tr("blend.comment", name=choice.name))
            state.build_now()
            st.rerun()
