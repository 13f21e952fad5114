"""My work (account manager): open work orders by due date; record contacts and outcomes."""

import pandas as pd
import streamlit as st

from ui import retention as R
from ui import state, widgets
from ui.nav import require_page
from ui.session import current_user, lang, tr
from ui.widgets import open_account
from valuation import i18n
from valuation import warnings as W
from valuation.store import ConflictError

require_page(__file__)  # the role check of ui/nav.py PAGES, not only the navigation's
user = current_user()
store = state.store()
state.ensure_work_orders()
L = lang()
names = state.users().set_index("user_id")["name" if L == "zh" else "name_en"].to_dict()

st.title(tr("mywork.title"))
st.caption(tr("mywork.caption"))
orders = W.open_orders(store, user)
if user.role == "account_manager":
    orders = orders[(orders["assignee_id"] == user.user_id) | (orders["owner_id"] == user.user_id)]
orders = orders.sort_values(["due_date", "severity"], ascending=[True, False], ignore_index=True)
if orders.empty:
    st.success(tr("mywork.none"))
    st.stop()
as_of = pd.Timestamp(state.analysis().frame.attrs["as_of"])
overdue = int((pd.to_datetime(orders["due_date"]) < as_of).sum())
k = st.columns(3)
k[0].metric(tr("retention.open_orders"), f"{len(orders):,}")
k[1].metric(tr("retention.escalated"), f"{int(orders['escalated'].fillna(False).sum()):,}")
k[2].metric(tr("col.due_date"), tr("mywork.overdue", n=overdue))

event = st.dataframe(R.order_table(orders, names), hide_index=True, width="stretch", height=320,
                     on_select="rerun", selection_mode="single-row", key="mw_table",
                     column_config=R.order_config())
rows = event.selection.rows if event is not None else []
labels = {w: f"{i18n.rule(r, L)} · {a}" for w, r, a in
          zip(orders["work_order_id"], orders["rule"], orders["account_name"], strict=True)}
pick = st.selectbox(tr("mywork.pick"), orders["work_order_id"].tolist(),
                    index=rows[0] if rows else 0, format_func=labels.get, key="mw_pick")
order = orders.set_index("work_order_id").loc[pick]

left, right = st.columns([1, 1])
with left:
    nxt = sorted(W.ALLOWED[order["status"]])
    status_labels = {s: tr(f"status.{s}") for s in nxt}
    st.markdown(f"**{tr('col.status')}: {tr('status.' + order['status'])}**")
    with st.form("mw_form"):
        move = st.selectbox(tr("mywork.move"), ["", *nxt],
                            format_func=lambda s: status_labels.get(s, "–"), key="mw_move")
        note = st.text_area(tr("mywork.note"), value="" if pd.isna(order["note"]) else order["note"],
                            key="mw_note")
        saved = st.form_submit_button(tr("mywork.save"), type="primary")
    if saved:
        try:
            version = int(order["version"])
            if move == "assigned":  # taking a new order: it becomes the user's
                W.assign(store, [pick], user.user_id, user=user.user_id,
                         expected_versions={pick: version})
                version += 1
            elif move:
                W.transition(store, pick, move, user=user.user_id, expected_version=version,
                             note=note or None, outcome=move if move in W.FINAL else None)
                version += 1
            if note != ("" if pd.isna(order["note"]) else order["note"]) and move in ("", "assigned"):
                W.add_note(store, pick, note, user=user.user_id, expected_version=version)
            widgets.flash(tr("mywork.saved"))
            st.rerun()
        except (ConflictError, ValueError) as exc:
            st.error(tr("mywork.conflict", error=str(exc)))
with right:
    st.markdown(f"**{tr('mywork.history')}**")
    hist = W.order_history(store, pick)
    st.dataframe(R.history_table(hist, names), hide_index=True, width="stretch", height=300)
    if st.button(tr("nav.account"), key="mw_open"):
        open_account(order["account_id"])
