"""Retention (sales lead): work-order queue, capacity plan, contract pipeline, counter-poaching."""

import pandas as pd
import streamlit as st

from ui import owners, state, widgets
from ui import retention as R
from ui.nav import require_page
from ui.session import current_user, lang, tr
from valuation import planning
from valuation import warnings as W
from valuation.access import can_edit_accounts
from valuation.store import ConflictError

require_page(__file__)  # the role check of ui/nav.py PAGES, not only the navigation's
user = current_user()
store = state.store()
a = state.analysis()
settings = a.settings
state.ensure_work_orders()
frame = state.scoped_frame(user)
users = state.users()
names = users.set_index("user_id")["name" if lang() == "zh" else "name_en"].to_dict()
teams = store.query("SELECT team_id, name, name_en FROM teams").set_index("team_id")[
    "name" if lang() == "zh" else "name_en"].to_dict()

st.title(tr("retention.title"))
st.caption(tr("retention.caption", as_of=frame.attrs["as_of"]))
if not can_edit_accounts(user):
    st.info(tr("retention.read_only"))

tables = state.retention_tables(user, lang())  # once per version, user and order change
orders, plan, ranked = tables["orders"], tables["plan"], tables["ranked"]
risk = state.churn_scores()
k = st.columns(4)
k[0].metric(tr("retention.open_orders"), f"{len(orders):,}")
k[1].metric(tr("retention.escalated"), f"{int(orders['escalated'].fillna(False).sum()):,}")
k[2].metric(tr("retention.value_at_risk"), widgets.money(float(plan["value_at_risk"].sum())),
            help=tr("retention.value_at_risk_help") + " "
            + tr(f"account.risk_source.{risk.attrs.get('risk_source', 'none')}"))
k[3].metric(tr("retention.fits"), f"{int(plan['fits'].sum()):,} / {len(plan):,}")

pool_tab = user.role != "account_manager"
# Lazy tabs: only the open one runs on a rerun (the others' tables cost nothing meanwhile).
tabs = st.tabs([tr("retention.queue"), tr("retention.capacity"), tr("retention.pipeline"),
                tr("retention.counter"), tr("retention.by_owner"), tr("retention.churn"),
                *([tr("retention.unassigned")] if pool_tab else [])],
               key="ret_tab", on_change="rerun")
if tabs[0].open:
    with tabs[0]:
        if ranked.empty:
            st.info(tr("retention.none"))
        else:
            ranked = R.queue_filter(ranked, names)  # one row per order, filtered
            grouped = R.group_orders(ranked)  # one row per account, in priority order
            assigns = can_edit_accounts(user) and user.role != "account_manager"
            if assigns:
                st.caption(tr("retention.select_hint") + " " + tr("field.select_hint"))
            note = widgets.capped_note(len(grouped))
            if note:
                st.caption(note)
            # A selection is row positions, and Streamlit keeps positions across a data change:
            # the table's key carries a digest of the orders (and versions) behind the rows it
            # shows, so a filter change, a new order or someone else's write gives a fresh,
            # empty selection, and the positions read here always refer to the very rows the
            # reader ticked. A row is an account: assigning it assigns all its orders shown.
            visible = widgets.capped(grouped)
            pos = pd.Series(range(len(visible)), index=visible["account_id"].to_numpy())
            behind = ranked[ranked["account_id"].isin(visible["account_id"])]
            behind = behind.assign(_pos=behind["account_id"].map(pos)).sort_values(
                ["_pos", "work_order_id"], kind="stable")
            qkey = widgets.selection_key("ret_queue", behind,
                                         ["account_id", "work_order_id", "version"])
            st.session_state["ret_queue_key"] = qkey
            event = st.dataframe(R.queue_table(visible, names), hide_index=True,
                                 width="stretch", height=420,
                                 on_select="rerun" if assigns else "ignore",
                                 selection_mode="multi-row", key=qkey,
                                 column_config=R.queue_config())
            rows = [i for i in (event.selection.rows if assigns else []) if i < len(visible)]
            before = st.session_state.get("ret_queue_ticked", ("", 0))
            if before[0] != qkey and before[1]:
                st.info(tr("retention.selection_cleared", n=before[1]))
            st.session_state["ret_queue_ticked"] = (qkey, len(rows))
            ticked = visible["account_id"].iloc[rows]
            chosen = behind.loc[behind["account_id"].isin(ticked),
                                ["work_order_id", "version"]].astype(
                {"work_order_id": str, "version": int})
            if assigns:
                pool = users[users["role"] == "account_manager"]
                if user.role == "sales_lead":
                    pool = pool[pool["team_id"] == user.team_id]
                c1, c2, c3 = st.columns([3, 1, 1], vertical_alignment="bottom")
                who = c1.selectbox(tr("retention.assign_to"), pool["user_id"].tolist(),
                                   format_func=lambda u: f"{names.get(u, u)} ({u})", key="ret_who")
                who_name = widgets.plain(names.get(who, who))

                def _assign(ids_versions: pd.DataFrame) -> None:
                    """Assign against the versions on screen: a stale list changes nothing."""
                    try:
                        seen = dict(zip(ids_versions["work_order_id"].astype(str),
                                        ids_versions["version"].astype(int), strict=True))
                        n = W.assign(store, list(seen), who, user=user.user_id,
                                     expected_versions=seen)
                    except (ConflictError, ValueError) as exc:
                        st.error(tr("retention.assign_conflict", error=str(exc)))
                    else:
                        widgets.flash(tr("retention.assigned", n=n, who=who_name))
                        st.rerun()

                if c2.button(tr("field.assign_ticked", n=len(chosen)),
                             disabled=chosen.empty or not who, type="primary",
                             key="ret_assign") and not chosen.empty:
                    _assign(chosen)
                # Everything the filters let through (not only the rows on screen), confirmed
                # with its count; the confirmation holds only while that set and its versions
                # stay what they were when asked.
                every = ranked[["work_order_id", "version"]].astype(
                    {"work_order_id": str, "version": int})
                fkey = widgets.selection_key("ret_all", every, ["work_order_id", "version"])
                n_all, m_all = f"{len(every):,}", f"{ranked['account_id'].nunique():,}"
                if c3.button(tr("field.select_all", n=n_all, m=m_all), key="ret_all",
                             disabled=every.empty or not who):
                    st.session_state["ret_all_pending"] = fkey
                pending = st.session_state.get("ret_all_pending")
                if pending is not None and pending != fkey:
                    st.session_state.pop("ret_all_pending", None)
                    st.info(tr("field.select_all_changed"))
                elif pending is not None:
                    with st.container(border=True):
                        st.warning(tr("field.select_all_confirm", n=n_all, m=m_all,
                                      who=who_name))
                        y, n_, _ = st.columns([1, 1, 3])
                        if y.button(tr("field.confirm_assign", n=n_all), type="primary",
                                    key="ret_all_yes"):
                            st.session_state.pop("ret_all_pending", None)
                            _assign(every)
                        if n_.button(tr("action.cancel"), key="ret_all_no"):
                            st.session_state.pop("ret_all_pending", None)
                            st.rerun()
            widgets.csv_download(lambda: R.order_table(ranked, names), "work-orders", key="ret_dl")
if tabs[1].open:
    with tabs[1]:
        st.dataframe(R.capacity_table(planning.capacity_summary(plan), teams), hide_index=True,
                     width="stretch")
if tabs[2].open:
    with tabs[2]:
        month_labels = {m: tr("retention.months", m=m) for m in (3, 6)}
        months = st.segmented_control(tr("retention.pipeline"), [3, 6], default=3,
                                      key="ret_months", format_func=month_labels.get) or 3
        pipe = tables["pipeline"][months]
        if widgets.capped_note(len(pipe)):
            st.caption(widgets.capped_note(len(pipe)))
        st.dataframe(R.pipeline_table(widgets.capped(pipe)), hide_index=True, width="stretch",
                     column_config=widgets.detail_config())
        widgets.csv_download(lambda: R.pipeline_table(pipe), f"contracts-{months}m",
                             key="ret_pipe_dl")
if tabs[3].open:
    with tabs[3]:
        counter = tables["counter"]
        if widgets.capped_note(len(counter)):
            st.caption(widgets.capped_note(len(counter)))
        st.dataframe(R.counter_table(widgets.capped(counter)), hide_index=True, width="stretch")
        widgets.csv_download(lambda: R.counter_table(counter), "counter-poaching",
                             key="ret_counter_dl")
if tabs[4].open:
    with tabs[4]:
        if not plan.empty:
            st.altair_chart(R.var_chart(plan, names, teams), width="content")
if tabs[5].open:
    with tabs[5]:
        st.markdown(f"**{tr('retention.unflagged')}**")
        st.caption(tr("retention.unflagged_help"))
        unflagged = tables["unflagged"]
        if unflagged.empty:
            st.caption(tr("retention.unflagged_none"))
        else:
            raises = can_edit_accounts(user)
            id_col = tr("col.account_id")
            ukey = widgets.selection_key("ret_unflagged", unflagged, [id_col])
            st.session_state["ret_unflagged_key"] = ukey
            picked = st.dataframe(unflagged, hide_index=True, width="stretch", height=300,
                                  on_select="rerun" if raises else "ignore",
                                  selection_mode="single-row", key=ukey,
                                  column_config=R.order_config())
            sel = [i for i in (picked.selection.rows if raises else []) if i < len(unflagged)]
            if raises and not sel:
                st.caption(tr("field.unflagged_pick"))
            elif sel:
                target = str(unflagged[id_col].iloc[sel[0]])
                name = unflagged[tr("col.name")].iloc[sel[0]]
                with st.container(border=True):
                    st.markdown("**" + tr("field.order_for", name=widgets.plain(name),
                                          id=widgets.plain(target)) + "**")
                    R.order_form(a.frame, settings, target, user, users, key="ret_wo")
        left, right = st.columns([5, 4])
        with left:
            st.markdown(f"**{tr('survival.title')}**")
            R.survival_view({b: state.survival_curves(b) for b in ("bundle", "tier")},
                            key="ret_surv")
        with right:
            st.markdown(f"**{tr('model.title')}**")
            R.model_card_view(state.model_card())
if pool_tab and tabs[6].open:
    with tabs[6]:
        owners.unassigned_view(store, user, frame, users, names)
