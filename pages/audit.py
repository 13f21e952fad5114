"""Audit log (admin): who changed what, when, in which table, with the row before and after;
filtered by person, action, table, key or account and time; exported whole as CSV or XLSX."""

from datetime import date

import pandas as pd
import streamlit as st

from ui import admin as A
from ui import state, widgets
from ui.nav import require_page
from ui.session import tr
from valuation import admin

require_page(__file__)  # the role check of ui/nav.py PAGES, not only the navigation's
store = state.store()

st.title(tr("admin.audit.title"))
st.caption(tr("admin.audit.caption"))

facets = admin.audit_facets(store)
who = A.person()
first = pd.Timestamp(facets["first"]).date() if facets["first"] else date.today()
last = pd.Timestamp(facets["last"]).date() if facets["last"] else date.today()

# labels looked up now, in the reader's language (a format_func may run outside the script)
people = {u: who(u) for u in facets["users"]}
action_labels = {a: A.action_label(a) for a in facets["actions"]}
table_labels = {t: A.table_label(t) for t in facets["tables"]}
c = st.columns([2, 2, 2])
users = c[0].multiselect(tr("admin.audit.who"), facets["users"], format_func=people.get,
                         key="aud_users", placeholder=tr("filter.any"))
actions = c[1].multiselect(tr("admin.audit.action"), facets["actions"], key="aud_actions",
                           format_func=action_labels.get, placeholder=tr("filter.any"))
tables = c[2].multiselect(tr("admin.audit.table"), facets["tables"],
                          format_func=table_labels.get, key="aud_tables",
                          placeholder=tr("filter.any"))
c = st.columns([2, 2, 2])
key = c[0].text_input(tr("admin.audit.key"), key="aud_key", help=tr("admin.audit.key_help"))
span = c[1].date_input(tr("admin.audit.span"), value=(first, last), key="aud_span",
                       help=tr("admin.audit.span_help"))
since, until = (tuple(span) + (None, None))[:2] if isinstance(span, (tuple, list)) else (span, span)
f = admin.AuditFilter(users=tuple(users), actions=tuple(actions), tables=tuple(tables),
                      key=key, since=since, until=until)

rows, total = admin.audit_query(store, f, limit=widgets.TABLE_ROWS)
c[2].metric(tr("admin.audit.matching"), f"{total:,}")
if rows.empty:
    st.info(tr("admin.audit.none"))
    st.stop()

table = pd.DataFrame({
    "#": rows["audit_id"],
    tr("admin.audit.at"): A.moments(rows["at"]),
    tr("admin.audit.who"): rows["user_id"].map(who),
    tr("admin.audit.action"): rows["action"].map(A.action_label),
    tr("admin.audit.row"): admin.key_text(rows["row_key"]),
    tr("admin.audit.change"): admin.change_summary(rows["before"], rows["after"],
                                                   rows["row_key"]),
    tr("admin.audit.table"): rows["table_name"].map(A.table_label),
})
picker = widgets.selection_key("aud_table", rows, ["audit_id"])
st.session_state["aud_table_key"] = picker  # which table the tick belongs to (tests read it)
event = st.dataframe(table, hide_index=True, width="stretch", height=420, on_select="rerun",
                     selection_mode="single-row", key=picker,
                     column_config={"#": st.column_config.NumberColumn(format="%d", width="small"),
                                    tr("admin.audit.change"): st.column_config.TextColumn(
                                        width="large")})
st.caption(widgets.capped_note(total) or tr("admin.audit.shown", n=f"{len(rows):,}"))


def _export() -> pd.DataFrame:
    """Every matching row, readable: who by name, the change, before and after as stored."""
    df = admin.audit_export(store, f)
    return pd.DataFrame({
        "audit_id": df["audit_id"], "at": df["at"], "user_id": df["user_id"],
        "action": df["action"], "table_name": df["table_name"], "row_key": df["row_key"],
        "before": df["before"], "after": df["after"]})


widgets.csv_download(_export, "audit-log", key="aud_csv")  # CSV and Excel, built on click

picked = [r for r in (event.selection.rows if event else []) if 0 <= r < len(rows)]
st.subheader(tr("admin.audit.detail"))
if not picked:
    st.caption(tr("admin.audit.pick"))
else:
    r = rows.iloc[picked[0]]
    st.text(f"#{int(r['audit_id'])} · {A.moments(pd.Series([r['at']])).iloc[0]} · "
            f"{who(r['user_id'])} · {A.action_label(r['action'])} ({r['action']}) · "
            f"{A.table_label(r['table_name'])}")
    st.text(str(r["row_key"]))
    detail = admin.audit_detail(r["before"], r["after"])
    st.dataframe(pd.DataFrame({
        tr("admin.field"): detail["field"],
        tr("admin.audit.before"): detail["before"],
        tr("admin.audit.after"): detail["after"],
        tr("admin.audit.changed"): detail["changed"].map({True: "●", False: ""}),
    }), hide_index=True, width="stretch")
