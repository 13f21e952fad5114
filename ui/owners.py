"""The unassigned pool: accounts imported without a known owner, given one by a lead or admin."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import state
from ui.session import lang, tr
from ui.widgets import plain, selection_key
from valuation import features, i18n
from valuation.access import User, can_assign_owners, inactive_ids, unassigned
from valuation.store import Store

__all__ = ["unassigned_view"]

_FLASH = "own_flash"


def unassigned_view(store: Store, user: User, frame: pd.DataFrame, users: pd.DataFrame,
                    names: dict[str, str]) -> None:
    """The unassigned live accounts in the user's scope, filters, and bulk assignment to an
    account manager (the lead's own team; any for an admin)."""
    if _FLASH in st.session_state:
        st.success(st.session_state.pop(_FLASH))
    live = features.live_accounts(frame)
    pool = live[unassigned(live, users).to_numpy()]
    if pool.empty:
        st.info(tr("owners.none"))
        return
    L = lang()
    st.caption(tr("owners.caption", n=f"{len(pool):,}"))
    c = st.columns(3)
    cities = sorted(pool["city"].dropna().unique())
    inds = sorted(pool["industry"].dropna().unique())
    tiers = sorted(pool["tier"].dropna().unique())
    pick_city = c[0].multiselect(tr("col.city"), cities, key="own_city",
                                 format_func=lambda x: i18n.city(x, L),
                                 placeholder=tr("filter.any"))
    pick_ind = c[1].multiselect(tr("col.industry"), inds, key="own_ind",
                                format_func=lambda x: i18n.enum("industry", x, L),
                                placeholder=tr("filter.any"))
    pick_tier = c[2].multiselect(tr("col.tier"), tiers, key="own_tier",
                                 placeholder=tr("filter.any"))
    keep = pd.Series(True, index=pool.index)
    if pick_city:
        keep &= pool["city"].isin(pick_city)
    if pick_ind:
        keep &= pool["industry"].isin(pick_ind)
    if pick_tier:
        keep &= pool["tier"].isin(pick_tier)
    shown = pool[keep].sort_values("tier_basis", ascending=False, ignore_index=True)
    table = pd.DataFrame({
        tr("col.account_id"): shown["account_id"].astype(str),
        tr("col.name"): shown["name"].astype(str),
        tr("col.industry"): shown["industry"].map(
            lambda x: i18n.enum("industry", x, L) if isinstance(x, str) else "–"),
        tr("col.city"): shown["city"].map(lambda x: i18n.city(x, L) if isinstance(x, str) else "–"),
        tr("col.tier"): shown["tier"],
        tr("col.value_score"): shown["value_score"].round(1),
        tr("col.loyalty_score"): shown["loyalty_score"].round(1),
        tr("col.monthly_revenue"): shown["monthly_revenue"],
    })
    allowed = can_assign_owners(user)
    event = st.dataframe(table, hide_index=True, width="stretch", height=360,
                         on_select="rerun" if allowed else "ignore", selection_mode="multi-row",
                         key=selection_key("own_table", shown, ["account_id"]),
                         column_config={tr("col.monthly_revenue"): st.column_config.NumberColumn(
                             format="¥%,.0f")})
    st.caption(tr("retention.shown_accounts", n=f"{len(shown):,}", total=f"{len(pool):,}"))
    if not allowed:
        return
    managers = users[(users["role"] == "account_manager")
                     & ~users["user_id"].isin(inactive_ids(store))]  # not the deactivated
    if user.role == "sales_lead":
        managers = managers[managers["team_id"] == user.team_id]
    if managers.empty:
        st.warning(tr("owners.no_managers"))
        return
    # the selection is read as account ids from the table it was made on (the key changes with
    # the rows shown, so a selection never outlives the rows it points at)
    rows = [r for r in event.selection.rows if 0 <= r < len(shown)] if event else []
    chosen = shown["account_id"].astype(str).iloc[rows].tolist()
    c1, c2, c3 = st.columns([3, 1, 1])
    who = c1.selectbox(tr("owners.assign_to"), managers["user_id"].tolist(), key="own_who",
                       format_func=lambda u: f"{names.get(u, u)} ({u})")
    ids = None
    if c2.button(tr("owners.assign_selected", n=len(chosen)), disabled=not chosen,
                 type="primary", key="own_assign"):
        ids = chosen
    if c3.button(tr("owners.assign_all", n=f"{len(shown):,}"), key="own_assign_all"):
        ids = shown["account_id"].astype(str).tolist()
    if ids:
        store.assign_owner(ids, who, user=user.user_id)
        state.build_now()
        st.session_state[_FLASH] = tr("owners.assigned", n=f"{len(ids):,}",
                                      who=plain(names.get(who, who)))
        st.rerun()
