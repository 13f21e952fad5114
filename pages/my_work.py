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
account_names = orders["account_name"] if L == "zh" else orders["account_name_en"].where(
    orders["account_name_en"].notna(), orders["account_name"])
labels = {w: f"{i18n.rule(r, L)} · {a}" for w, r, a in
          zip(orders["work_order_id"], orders["rule"], account_names, strict=True)}
shown = st.session_state.get("mw_shown")
if shown is not None and shown not in labels:  # the order on screen was closed meanwhile
    gone = store.app.select("work_orders",
                            store.app.tables["work_orders"].c.work_order_id == shown)
    if len(gone) and gone["updated_by"].iloc[0] != user.user_id:  # by someone else
        st.warning(tr("field.mw_gone", who=widgets.plain(
            widgets.person_namer(names)(gone["updated_by"].iloc[0])),
            status=tr(f"status.{gone['status'].iloc[0]}"),
            order=f"{i18n.rule(gone['rule'].iloc[0], L)} · {shown}"))
wanted = st.query_params.get("order")  # a link to one order: /my_work?order=ID
if wanted and wanted not in labels and wanted != shown:  # the order on screen: said above
    st.warning(tr("pf.order_not_open", order=wanted))
pick = st.selectbox(tr("mywork.pick"), orders["work_order_id"].tolist(),
                    index=rows[0] if rows else list(labels).index(wanted) if wanted in labels
                    else 0, format_func=labels.get, key="mw_pick")
if pick != wanted:
    st.query_params["order"] = pick  # the address names the order shown: a link to keep
st.session_state["mw_shown"] = pick
order = orders.set_index("work_order_id").loc[pick]

left, right = st.columns([1, 1])
with left:
    version = int(order["version"])
    nxt = sorted(W.ALLOWED[order["status"]])
    status_labels = {s: tr(f"status.{s}") for s in nxt}
    st.markdown(f"**{tr('col.status')}: {tr('status.' + order['status'])}**")
    refused = st.session_state.pop("mw_refused", None)
    if refused:
        st.error(refused)
    # The form's widgets are keyed by the order and the version it shows: after a save (or
    # someone else's) the next version starts with fresh fields, so a move already made (or
    # its label, which the browser would send back) is never submitted a second time, and
    # another order's note never carries over.
    form_key = f"{pick}:{version}"
    st.session_state["mw_keys"] = {"move": f"mw_move:{form_key}", "note": f"mw_note:{form_key}"}
    stored_note = "" if pd.isna(order["note"]) else str(order["note"])
    with st.form(f"mw_form:{form_key}"):
        move = st.selectbox(tr("mywork.move"), ["", *nxt],
                            format_func=lambda s: status_labels.get(s, s) if s else "–",
                            key=f"mw_move:{form_key}")
        note = st.text_area(tr("mywork.note"), value=stored_note, key=f"mw_note:{form_key}")
        saved = st.form_submit_button(tr("mywork.save"), type="primary")
    if saved:
        if move not in ("", *nxt):  # a stale choice (not a step from this status): not sent
            st.session_state["mw_refused"] = tr("field.mw_stale", status=tr(
                f"status.{order['status']}"))
            st.rerun()
        note_changed = note != stored_note and move in ("", "assigned")
        if not move and not note_changed:
            st.info(tr("field.mw_nothing"))
        else:
            try:
                if move == "assigned":  # taking a new order: it becomes the user's
                    W.assign(store, [pick], user.user_id, user=user.user_id,
                             expected_versions={pick: version})
                    version += 1
                elif move:
                    W.transition(store, pick, move, user=user.user_id, expected_version=version,
                                 note=note or None, outcome=move if move in W.FINAL else None)
                    version += 1
                if note_changed:
                    W.add_note(store, pick, note, user=user.user_id, expected_version=version)
            except (ConflictError, ValueError):
                # someone else moved the order on (or closed it): say so in the reader's words,
                # with what it is now, and show the form of the version it is at
                now = store.app.select("work_orders",
                                       store.app.tables["work_orders"].c.work_order_id == pick)
                who = widgets.person_namer(names)
                st.session_state["mw_refused"] = tr(
                    "field.mw_conflict",
                    who=widgets.plain(who(now["updated_by"].iloc[0]) if len(now) else "–"),
                    status=tr(f"status.{now['status'].iloc[0]}") if len(now) else "–")
                st.rerun()
            else:
                widgets.flash(tr("mywork.saved"))
                st.rerun()
with right:
    st.markdown(f"**{tr('mywork.history')}**")
    hist = W.order_history(store, pick)
    st.dataframe(R.history_table(hist, names), hide_index=True, width="stretch", height=300)
    if st.button(tr("nav.account"), key="mw_open"):
        open_account(order["account_id"])
