"""Pyramid: tiers by count and revenue, composition, concentration, migration, KPIs, drill-down."""

import numpy as np
import streamlit as st

from ui import reports, state, widgets
from ui.nav import require_page
from ui.session import current_user, labeller, lang, tr
from valuation import charts, history, pyramid
from valuation.portfolio import VIEW_COLUMNS, account_table, take
from valuation.pyramid import FAMILIES

require_page(__file__)  # the role check of ui/nav.py PAGES, not only the navigation's
user = current_user()
a = state.analysis()
settings = a.settings
frame = state.scoped_frame(user)
# the live accounts with the columns this page reads: a province's rows are copied for what
# is shown, not for all seventy columns of the analysed frame
live_rows = np.flatnonzero(~frame["churned"].astype(bool).to_numpy())
live = take(frame, live_rows, ("tier", "monthly_revenue", "value_score", "loyalty_score",
                               "competitor_score", "industry", "city",
                               *(f"spend_{f}" for f in FAMILIES)))
L = lang()
codes = [t.code for t in settings.tiers]

st.title(tr("pyramid.title"))
st.caption(tr("portfolio.caption", as_of=frame.attrs.get("as_of"), scope=tr(f"scope.{user.role}"))
           + " · " + tr("pyramid.basis", basis=tr(f"basis.{settings.get('tiers.basis')}"),
                        method=tr(f"method.{settings.get('tiers.method')}")))

reports.pack_downloads(user, frame)  # the executive pack of this scope, built when clicked

MEASURES = ["accounts", "revenue"]
keep = widgets.keep_choice  # each choice is a code: a language switch keeps it
measure = st.segmented_control(tr("pyramid.measure"), MEASURES,
                               format_func=labeller("pyramid.by_", MEASURES),
                               key=keep("pyr_measure", "accounts"))
measure = measure or "accounts"
summary = pyramid.tier_summary(live, settings, L)
curve, top20, gini = pyramid.lorenz(live["monthly_revenue"])

c1, c2 = st.columns([3, 2])
c1.altair_chart(charts.pyramid_chart(summary, L, measure=measure, ink=widgets.ink()), width="stretch")
with c2:
    k = st.columns(2)
    k[0].metric(tr("pyramid.top20"), widgets.pct(top20), help=tr("pyramid.top20_help"))
    k[1].metric(tr("pyramid.gini"), f"{gini:.2f}")
    st.altair_chart(charts.lorenz_chart(curve, L), width="stretch")
st.dataframe(widgets.tier_table(summary), hide_index=True, width="stretch")

st.subheader(tr("pyramid.composition"))
tabs = st.tabs([tr("col.family"), tr("col.industry"), tr("col.city")])
for tab, by in zip(tabs, ("family", "industry", "city"), strict=True):
    comp = pyramid.composition(live, by)
    comp[by] = pyramid.segment_labels(comp[by], by, L)
    tab.altair_chart(charts.composition_chart(comp, by, L), width="stretch")

st.subheader(tr("pyramid.migration"))
dates = history.snapshot_dates(state.store())
if len(dates) < 2:
    st.info(tr("pyramid.no_snapshots"))
else:
    m1, m2, m3 = st.columns(3)
    d_from = m1.selectbox(tr("pyramid.from"), dates, index=max(len(dates) - 13, 0), key="pyr_from")
    d_to = m2.selectbox(tr("pyramid.to"), dates, index=len(dates) - 1, key="pyr_to")
    mig_measure = m3.segmented_control(tr("pyramid.measure"), ["accounts", "revenue"],
                                       key=keep("pyr_mig_measure", "accounts"),
                                       format_func=labeller("pyramid.by_", MEASURES))
    mig = state.tier_migration(user, d_from, d_to)
    st.altair_chart(charts.migration_chart(mig, L, measure=mig_measure or "accounts",
                                           order=["new", *codes, "gone"]), width="stretch")

st.subheader(tr("pyramid.kpis"))
by = st.segmented_control(tr("pyramid.kpis_by"), ["city", "industry"],
                          format_func=labeller("col.", ["city", "industry"]),
                          key=keep("pyr_kpi_by", "city")) or "city"
st.dataframe(widgets.kpi_table(pyramid.kpis_by(frame, by), by), hide_index=True, width="stretch")

groups = pyramid.group_rollup(frame, a.cutter, settings)
if not groups.empty and len(frame) < len(a.frame):
    # a team's branches of a group whose head another team owns: the head is named (as the
    # Account page names a parent outside the scope), its own tier is not shown
    outside = ~groups["group_id"].isin(frame["account_id"])
    if outside.any():
        heads = a.frame.set_index("account_id").reindex(groups.loc[outside, "group_id"])
        note = f" ({tr('account.outside_scope')})"
        groups.loc[outside, "name"] = (heads["name"].astype(object) + note).to_numpy()
        groups.loc[outside, "name_en"] = (heads["name_en"].fillna(heads["name"]).astype(object)
                                          + note).to_numpy()
if not groups.empty:
    st.subheader(tr("pyramid.groups"))
    if widgets.capped_note(len(groups)):  # the largest groups shown, all of them downloadable
        st.caption(widgets.capped_note(len(groups)))
    st.dataframe(widgets.group_table(widgets.capped(groups)), hide_index=True, width="stretch",
                 height=260)
    widgets.csv_download(lambda: widgets.group_table(groups), "groups", key="pyr_groups_dl")

st.subheader(tr("pyramid.drill"))
tier = st.selectbox(tr("col.tier"), codes, format_func=lambda c: f"{c} · {settings.tier(c).label(L)}",
                    key=keep("pyr_drill"))
members = take(frame, live_rows[(live["tier"] == tier).to_numpy(bool)],
               (*VIEW_COLUMNS, "monthly_revenue")).sort_values("monthly_revenue", ascending=False)
table = account_table(widgets.capped(members), L)
if widgets.capped_note(len(members)):
    st.caption(widgets.capped_note(len(members)))
event = st.dataframe(table, hide_index=True, width="stretch", height=320, on_select="rerun",
                     selection_mode="single-row", key="pyr_table",
                     column_config=widgets.table_config())
if event is not None and event.selection.rows:
    widgets.open_account(str(members.iloc[event.selection.rows[0]]["account_id"]))
widgets.csv_download(lambda: account_table(members, L), f"tier-{tier}", key="pyr_download")
