"""Account: how valuable, how at risk and what next at a glance; then, one tab at a time,
valuation, retention and plan, products and cross-sell, profile and history."""

from datetime import date

import numpy as np
import pandas as pd
import streamlit as st

from ui import panels, state, widgets
from ui.nav import require_page
from ui.session import current_user, lang, tr
from valuation import charts, features, i18n
from valuation.portfolio import filter_positions

require_page(__file__)  # the role check of ui/nav.py PAGES, not only the navigation's
user = current_user()
frame = state.scoped_frame(user)
as_of = date.fromisoformat(frame.attrs["as_of"])
L = lang()

st.title(tr("account.title"))
wanted = st.query_params.get("account") or st.session_state.get("account_id")
index = state.picker(user)  # account_id -> row, and the picking order, once per version
if wanted and wanted not in index.ids:
    st.error(tr("account.not_in_scope", account=wanted))
    st.session_state.pop("account_id", None)
    st.stop()

text = st.text_input(tr("filter.search"), placeholder=tr("filter.search_hint"), key="acc_search")
if text.strip():  # the matches, in the picking order
    hits = filter_positions(frame, text=text, include_churned=True)
    first = hits[np.argsort(index.rank[hits], kind="stable")[:200]]
else:
    first = index.order[:200]
options = index.ids[first].tolist()
if wanted and wanted not in options and not text.strip():  # a search shows its own matches
    options.insert(0, wanted)
at = index.ids.get_indexer(options)
names = frame["name"].iloc[at]
if L != "zh":
    names = frame["name_en"].iloc[at].where(frame["name_en"].iloc[at].notna(), names)
labels = dict(zip(options, names.tolist(), strict=True))
account_id = st.selectbox(
    tr("account.pick"), options, index=options.index(wanted) if wanted in options else 0,
    format_func=lambda a: f"{labels.get(a) or a} · {a}", placeholder=tr("account.pick_hint"),
    key="acc_pick", help=tr("account.pick_help"),
)
if not account_id:
    st.info(tr("account.none"))
    st.stop()
if account_id != wanted:
    st.session_state["account_id"] = account_id
    st.query_params["account"] = account_id

d = features.account_detail(state.store(), account_id)
a = d["account"].iloc[0]
row = frame.iloc[int(index.ids.get_loc(account_id))]
name = a["name"] if L == "zh" or pd.isna(a["name_en"]) or not a["name_en"] else a["name_en"]
st.header(widgets.plain(name))
owner = a["owner_name"] if L == "zh" or pd.isna(a["owner_name_en"]) else a["owner_name_en"]
st.caption(" · ".join(widgets.plain(x) for x in [
    account_id, *(i18n.enum(e, a[e], L) for e in ("industry", "size_class") if pd.notna(a[e])),
    *([i18n.city(a["city"], L)] if pd.notna(a["city"]) else []),
    tr("account.owner", owner=owner if pd.notna(owner) else tr("account.unassigned")),
]))
if not d["churn"].empty:
    ch = d["churn"].iloc[0]
    st.error(tr("account.churned", date=pd.Timestamp(ch["churn_date"]).date(),
                reason=i18n.enum("churn_reason", ch["reason"], L)))

m = st.columns(5)
m[0].metric(tr("col.monthly_revenue"), widgets.money(row["monthly_revenue"]),
            delta=widgets.pct(row["revenue_trend"], signed=True))
m[1].metric(tr("col.our_families"), f"{row['our_families']} / 4")
m[2].metric(tr("col.competitor_products"), f"{row['competitor_products']}")
m[3].metric(tr("col.share_of_wallet"), widgets.pct(row["share_of_wallet"]))
m[4].metric(tr("col.arrears_3m"), widgets.money(row["arrears_3m"]))

panels.at_a_glance(account_id, row)
with st.container():  # the one-page visit brief (PDF), built when clicked
    from ui.reports import brief_download

    brief_download(account_id)
panels.field_actions(account_id, user)  # log a contact, raise a work order (closed until opened)


def _profile() -> None:
    """Profile, group links, holdings and bills, contracts and interactions."""
    left, right = st.columns([1, 1])
    with left:
        st.subheader(tr("account.profile"))
        st.dataframe(i18n.profile_table(a, L), hide_index=True, width="stretch")
        if pd.notna(a["parent_account_id"]):
            st.markdown(tr("account.parent"))
            pname = a["parent_name"] if L == "zh" else a["parent_name_en"]
            if str(a["parent_account_id"]) in index.ids:
                if st.button(widgets.plain(f"{pname} · {a['parent_account_id']}"),
                             key="go_parent"):
                    widgets.open_account(a["parent_account_id"])
            else:
                st.caption(widgets.plain(f"{pname} · {a['parent_account_id']}")
                           + f" ({tr('account.outside_scope')})")
        if not d["branches"].empty:
            st.markdown(tr("account.branches", n=len(d["branches"])))
            b = d["branches"]
            b_vis = b[b["account_id"].astype(str).isin(index.ids)]
            b_names = dict(zip(b_vis["account_id"], b_vis["name"] if L == "zh" else
                               b_vis["name_en"].fillna(b_vis["name"]), strict=True))
            pick = st.selectbox(tr("account.open_branch"), b_vis["account_id"], index=None,
                                format_func=lambda x: f"{b_names.get(x) or x} · {x}", key="go_branch")
            if pick:
                widgets.open_account(pick)
            if len(b_vis) < len(b):
                st.caption(tr("account.branches_hidden", n=len(b) - len(b_vis)))
    with right:
        st.altair_chart(charts.holdings_chart(d["holdings"], L), width="stretch")
        st.altair_chart(charts.account_bills_chart(d["bills"], L), width="stretch")

    st.subheader(tr("account.holdings"))
    st.dataframe(i18n.holdings_table(d["holdings"], L), hide_index=True, width="stretch",
                 column_config=widgets.detail_config())

    st.subheader(tr("account.contracts"))
    ct = d["contracts"].copy()
    months = state.analysis().settings.get("warnings.w4_contract_months")
    ends = pd.to_datetime(ct["end_date"])
    soon = ends.between(pd.Timestamp(as_of), pd.Timestamp(as_of) + pd.DateOffset(months=months))
    ct.insert(0, tr("col.ending_soon"), soon.map({True: "⚠️", False: ""}))
    ct["contract_type"] = ct["contract_type"].map(lambda v: i18n.enum("contract_type", v, L))
    st.dataframe(i18n.headers(ct, L), hide_index=True, width="stretch",
                 column_config=widgets.detail_config())
    # full width: imported and logged in the app, marked, with the note last (it is long)
    st.subheader(tr("account.interactions"))
    panels.interaction_history(account_id)


# The first question (how valuable, how at risk, what next) is answered above; the rest is one
# click away, and only the open tab runs (a lazy tab: the others cost nothing on a rerun).
TABS = ("account.tab_valuation", "account.tab_retention", "account.tab_products",
        "account.tab_profile")
tabs = st.tabs([tr(t) for t in TABS], key="acc_tab", on_change="rerun")
if tabs[0].open:
    with tabs[0]:
        panels.valuation_section(account_id)
if tabs[1].open:
    with tabs[1]:
        panels.retention_section(account_id, user)
if tabs[2].open:
    with tabs[2]:
        panels.bundle_section(account_id)
if tabs[3].open:
    with tabs[3]:
        _profile()
