"""Portfolio: KPIs of the filtered accounts with their change month on month and year on year,
revenue trend, positioning map and the filterable account table in scope."""

import math
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from ui import state, widgets
from ui.nav import require_page
from ui.session import current_user, fragment, lang, tr
from valuation import charts, history, i18n, portfolio

require_page(__file__)  # the role check of ui/nav.py PAGES, not only the navigation's
user = current_user()
frame = state.scoped_frame(user)
settings = state.analysis().settings
as_of = frame.attrs.get("as_of")
L = lang()

st.title(tr("portfolio.title"))
st.caption(tr("portfolio.caption", as_of=as_of, scope=tr(f"scope.{user.role}")))


@st.cache_resource(max_entries=2, show_spinner=False)
def _comparisons(path: str, data_version: str, settings_id: int, as_of: str
                 ) -> dict[str, history.Comparison]:
    """The portfolio a month and a year before ``as_of`` (snapshots and bills), aligned to the
    shared province frame row for row in compact columns, once per version for every session:
    shared, read-only. A user's scope takes its rows from it."""
    return history.kpi_comparisons(state.store(), date.fromisoformat(as_of),
                                   shape=portfolio.aligner(state.shared_frame()))


def comparisons() -> dict[str, history.Comparison]:
    now = state.reading()
    points = _comparisons(str(state.store().path.resolve()), now["data_version"],
                          now["settings_id"], str(as_of))
    return portfolio.scope_comparisons(points, state.scope_rows(user))


@st.cache_resource(max_entries=64, show_spinner=False)
def _filter_options(path: str, data_version: str, settings_id: int, who: object,
                    language: str) -> dict[str, Any]:
    """The filters' choices in the user's scope (distinct codes, their labels, the owners),
    once per version, user and language rather than scanning the scope on every rerun."""
    f = state.scoped_frame(who)  # type: ignore[arg-type]
    codes = {c: sorted(f[c].dropna().unique().tolist())
             for c in ("industry", "city", "size_class", "strategy", "lifecycle_stage")}
    return {**codes,
            "industry": {c: i18n.enum("industry", c, language) for c in codes["industry"]},
            "size_class": {c: i18n.enum("size_class", c, language) for c in codes["size_class"]},
            "owner": portfolio.owner_options(f, language) if who.role != "account_manager"  # type: ignore[attr-defined]
            else {}}


def filter_options() -> dict[str, Any]:
    now = state.reading()
    return _filter_options(str(state.store().path.resolve()), now["data_version"],
                           now["settings_id"], user, L)


MAP_POINTS = 4000  # the positioning map's points at most: the largest accounts by revenue

# (figure, label, help, how its change reads, True when a rise is bad)
KPI_ROW = (("accounts", "kpi.accounts", None, "count", False),
           ("monthly_revenue", "kpi.monthly_revenue", None, "ratio", False),
           ("revenue_trend", "kpi.revenue_trend", "kpi.revenue_trend_help", "points", False),
           ("churned_12m", "kpi.churned_12m", "kpi.churned_help", "count", True),
           ("arrears_rate", "kpi.arrears_rate", "kpi.arrears_help", "points", True))


def _change(d: float, how: str) -> tuple[str, bool] | None:
    """A change as the reader reads it, and whether it shows as zero; None when undefined."""
    if d is None or not math.isfinite(d):
        return None
    if how == "count":
        return (f"{d:+,.0f}", False) if round(d) else ("0", True)
    if how == "ratio":
        return (widgets.pct(d, signed=True), False) if round(d * 1000) else ("0.0%", True)
    shown = f"{d * 100:+.1f}" if round(d * 1000) else "0.0"
    return tr("pf.pp", x=shown), shown == "0.0"


def _why(c: history.Comparison) -> str:
    """Why there is no change against the point ``c``."""
    first = c.first.isoformat() if c.first else ""
    if c.as_of is not None:
        return tr("pf.why.undefined")
    if c.reason == "one_snapshot":
        return tr("pf.why.one_snapshot", first=first) if c.first else tr("pf.why.no_history")
    if c.reason == "no_bills":
        return tr("pf.why.no_bills", month=c.month)
    return tr("pf.why.no_snapshot", month=c.month, first=first[:7])


def _kpi_row(changes: pd.DataFrame, points: dict[str, history.Comparison]) -> None:
    """The headline figures of the filtered accounts, each with its change (st.metric's delta:
    month on month, else year on year) and, in its help, both changes or why there is none."""
    cols = st.columns(len(KPI_ROW))
    for col, (k, label, help_key, how, bad_up) in zip(cols, KPI_ROW, strict=True):
        v = changes.loc[k, "value"]
        if k == "accounts":
            value = f"{v:,.0f}"
        elif k == "monthly_revenue":
            value = widgets.money(v)
        elif k == "churned_12m":
            value = f"{v:,.0f} · {widgets.pct(changes.loc['churn_rate_12m', 'value'])}"
        else:
            value = widgets.pct(v, signed=k == "revenue_trend")
        shown = {p: _change(changes.loc[k, p], how) for p in points}
        lines = [tr(help_key)] if help_key else []
        for p, c in points.items():  # month on month, year on year
            if shown[p] is None:
                lines.append(tr(f"pf.help_no_{p}", why=_why(c)))
            else:
                lines.append(tr(f"pf.help_{p}", change=shown[p][0], month=c.month,
                                date=c.as_of.isoformat()))
        lines.append(tr("pf.help_basis"))
        first = next((p for p in points if shown[p] is not None), None)
        if first is None:  # no history to compare with: no delta (never a made-up 0)
            col.metric(tr(label), value, help="\n\n".join(lines))
            continue
        text, zero = shown[first]  # type: ignore[misc]
        col.metric(tr(label), value, delta=text, help="\n\n".join(lines),
                   delta_color="off" if zero else "inverse" if bad_up else "normal",
                   delta_arrow="off" if zero else "auto", delta_description=tr(f"pf.{first}"))
        if first == "mom" and shown.get("yoy") is not None:  # the year on year change below
            yoy, flat = shown["yoy"]  # type: ignore[misc]
            good = (not yoy.startswith("-")) != bad_up
            col.caption(f"{tr('pf.yoy')} :{'gray' if flat else 'green' if good else 'red'}[{yoy}]")


@fragment
def _explore() -> None:
    """Filters, map, trend and table: a filter change reruns this part only."""
    kpi_box = st.container()  # the KPIs, above the filters they follow
    keep = widgets.keep_choice  # each choice is codes: a language switch keeps it
    with st.expander(tr("portfolio.filters"), expanded=True, icon=":material/filter_list:"):
        f1, f2, f3, f4 = st.columns([2, 2, 2, 2])
        text = f1.text_input(tr("filter.search"), placeholder=tr("filter.search_hint"), key="pf_text")
        opts = filter_options()
        industries = f2.multiselect(tr("col.industry"), list(opts["industry"]),
                                    format_func=opts["industry"].get, key=keep("pf_ind"),
                                    placeholder=tr("filter.any"))
        cities = f3.multiselect(tr("col.city"), opts["city"],
                                format_func=lambda x: i18n.city(x, L), key=keep("pf_city"),
                                placeholder=tr("filter.any"))
        sizes = f4.multiselect(tr("col.size_class"), list(opts["size_class"]),
                               format_func=opts["size_class"].get, key=keep("pf_size"),
                               placeholder=tr("filter.any"))
        g1, g2, g3, g4 = st.columns([2, 2, 2, 2])
        tiers = g1.multiselect(tr("col.tier"), [t.code for t in settings.tiers],
                               format_func=lambda x: f"{x} · {settings.tier(x).label(L)}",
                               key=keep("pf_tier"), placeholder=tr("filter.any"))
        strategies = g2.multiselect(tr("col.strategy"), opts["strategy"],
                                    format_func=lambda x: i18n.strategy(x, L),
                                    key=keep("pf_strategy"), placeholder=tr("filter.any"))
        stages = g3.multiselect(tr("col.lifecycle_stage"), opts["lifecycle_stage"],
                                format_func=lambda x: i18n.stage(x, L), key=keep("pf_stage"),
                                placeholder=tr("filter.any"))
        owners: list[str] = []
        if user.role != "account_manager":
            people = opts["owner"]
            owners = g4.multiselect(tr("col.owner"), list(people),
                                    format_func=lambda o: people[o] or tr("account.unassigned"),
                                    key=keep("pf_owner"), placeholder=tr("filter.any"))
        include_churned = st.toggle(tr("filter.include_churned"), key="pf_churned")

    chosen = dict(text=text, industries=industries, cities=cities, sizes=sizes, owners=owners,
                  tiers=tiers, strategies=strategies, stages=stages)
    hits = portfolio.filter_positions(frame, **chosen, include_churned=include_churned)
    points = comparisons()
    with kpi_box:
        _kpi_row(portfolio.kpi_changes(frame, points, **chosen),
                 {k: points[k] for k in history.COMPARISONS})  # month on month, year on year
        if any(bool(v.strip()) if isinstance(v, str) else bool(v) for v in chosen.values()):
            st.caption(tr("pf.kpi_caption"))
    # the map's points (the largest by revenue) and the counts' two columns: no more copied
    on_map = portfolio.take(frame, portfolio.largest(frame, hits, "monthly_revenue", MAP_POINTS),
                            portfolio.MAP_COLUMNS)
    counted = portfolio.take(frame, hits, ("strategy", "monthly_revenue"))

    left, right = st.columns([3, 2])
    left.altair_chart(
        charts.positioning_chart(on_map, L, max_points=MAP_POINTS, value_cut=settings.get("positioning.value_high"),
                                 loyalty_cut=settings.get("positioning.loyalty_high"),
                                 ink=widgets.ink()),
        width="stretch",
    )
    right.altair_chart(charts.revenue_trend_chart(state.revenue_trend(user), L), width="stretch")
    right.dataframe(widgets.strategy_counts(counted), hide_index=True, width="stretch")

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
