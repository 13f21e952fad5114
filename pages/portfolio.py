"""Portfolio: KPIs, revenue trend, positioning map and the filterable account table in scope."""

import streamlit as st

from ui import state, widgets
from ui.nav import require_page
from ui.session import current_user, fragment, lang, tr
from valuation import charts, features, i18n, portfolio

require_page(__file__)  # the role check of ui/nav.py PAGES, not only the navigation's
user = current_user()
frame = state.scoped_frame(user)
settings = state.analysis().settings
as_of = frame.attrs.get("as_of")
L = lang()

st.title(tr("portfolio.title"))
st.caption(tr("portfolio.caption", as_of=as_of, scope=tr(f"scope.{user.role}")))

kpi = features.portfolio_kpis(frame)
c = st.columns(5)
c[0].metric(tr("kpi.accounts"), f"{kpi['accounts']:,.0f}")
c[1].metric(tr("kpi.monthly_revenue"), widgets.money(kpi["monthly_revenue"]))
c[2].metric(tr("kpi.revenue_trend"), widgets.pct(kpi["revenue_trend"], signed=True),
            help=tr("kpi.revenue_trend_help"))
c[3].metric(tr("kpi.churned_12m"), f"{kpi['churned_12m']:,.0f} · {widgets.pct(kpi['churn_rate_12m'])}",
            help=tr("kpi.churned_help"))
c[4].metric(tr("kpi.arrears_rate"), widgets.pct(kpi["arrears_rate"]), help=tr("kpi.arrears_help"))


@fragment
def _explore() -> None:
    """Filters, map, trend and table: a filter change reruns this part only."""
    with st.expander(tr("portfolio.filters"), expanded=True, icon=":material/filter_list:"):
        f1, f2, f3, f4 = st.columns([2, 2, 2, 2])
        text = f1.text_input(tr("filter.search"), placeholder=tr("filter.search_hint"), key="pf_text")
        ind_codes, ind_labels = widgets.enum_options(frame["industry"], "industry")
        industries = f2.multiselect(tr("col.industry"), ind_codes, format_func=ind_labels.get,
                                    key="pf_ind", placeholder=tr("filter.any"))
        cities = f3.multiselect(tr("col.city"), sorted(frame["city"].dropna().unique()),
                                format_func=lambda x: i18n.city(x, L), key="pf_city", placeholder=tr("filter.any"))
        size_codes, size_labels = widgets.enum_options(frame["size_class"], "size_class")
        sizes = f4.multiselect(tr("col.size_class"), size_codes, format_func=size_labels.get,
                               key="pf_size", placeholder=tr("filter.any"))
        g1, g2, g3, g4 = st.columns([2, 2, 2, 2])
        tiers = g1.multiselect(tr("col.tier"), [t.code for t in settings.tiers],
                               format_func=lambda x: f"{x} · {settings.tier(x).label(L)}", key="pf_tier", placeholder=tr("filter.any"))
        strategies = g2.multiselect(tr("col.strategy"), sorted(frame["strategy"].unique()),
                                    format_func=lambda x: i18n.strategy(x, L), key="pf_strategy", placeholder=tr("filter.any"))
        stages = g3.multiselect(tr("col.lifecycle_stage"), sorted(frame["lifecycle_stage"].unique()),
                                format_func=lambda x: i18n.stage(x, L), key="pf_stage", placeholder=tr("filter.any"))
        owners: list[str] = []
        if user.role != "account_manager":
            people = portfolio.owner_options(frame, L)
            owners = g4.multiselect(tr("col.owner"), list(people),
                                    format_func=lambda o: people[o] or tr("account.unassigned"),
                                    key="pf_owner", placeholder=tr("filter.any"))
        include_churned = st.toggle(tr("filter.include_churned"), key="pf_churned")

    hits = portfolio.filter_positions(
        frame, text=text, industries=industries, cities=cities, sizes=sizes, owners=owners,
        tiers=tiers, strategies=strategies, stages=stages, include_churned=include_churned,
    )
    shown = portfolio.take(frame, hits, portfolio.MAP_COLUMNS)  # what the map and counts read

    left, right = st.columns([3, 2])
    left.altair_chart(
        charts.positioning_chart(shown, L, value_cut=settings.get("positioning.value_high"),
                                 loyalty_cut=settings.get("positioning.loyalty_high"),
                                 ink=widgets.ink()),
        width="stretch",
    )
    right.altair_chart(charts.revenue_trend_chart(state.revenue_trend(user), L), width="stretch")
    right.dataframe(widgets.strategy_counts(shown), hide_index=True, width="stretch")

    st.subheader(tr("portfolio.accounts"))
    top = portfolio.take(frame, widgets.capped(hits), portfolio.VIEW_COLUMNS)
    table = portfolio.account_table(top, L)  # what the page shows
    st.caption(" · ".join(x for x in (tr("portfolio.count", n=len(hits), total=len(frame)),
                                       widgets.capped_note(len(hits)), tr("portfolio.select_hint"))
                          if x))
    event = st.dataframe(
        table, hide_index=True, width="stretch", height=420, on_select="rerun",
        selection_mode="single-row", key="pf_table", column_config=widgets.table_config(),
    )
    rows = event.selection.rows if event is not None else []
    if rows:
        widgets.open_account(str(top.iloc[rows[0]]["account_id"]))
    widgets.csv_download(
        lambda: portfolio.account_table(portfolio.take(frame, hits, portfolio.VIEW_COLUMNS), L),
        f"portfolio-{as_of}", key="pf_download")


_explore()
