"""Altair chart builders: pure functions from frames to charts, labelled in one language."""

from __future__ import annotations

import altair as alt
import pandas as pd

from valuation import i18n
from valuation.schema import ENUMS, enum_label

__all__ = [
    "account_bills_chart",
    "composition_chart",
    "contributions_chart",
    "coverage_heatmap",
    "holdings_chart",
    "lorenz_chart",
    "migration_chart",
    "positioning_chart",
    "product_graph_chart",
    "pyramid_chart",
    "revenue_trend_chart",
    "score_history_chart",
    "survival_chart",
    "warnings_timeline_chart",
]

OURS_COLOR = "#1f6fb2"
COMPETITOR_COLOR = "#d9822b"
ARREARS_COLOR = "#c0392b"
FAMILY_COLORS = ["#1f6fb2", "#2a9d8f", "#8e6bbf", "#e9c46a"]
MIN_AT_RISK = 30  # survival points followed by fewer accounts are not drawn


def revenue_trend_chart(trend: pd.DataFrame, lang: str) -> alt.Chart:
    """Monthly billed revenue (bars, 10k yuan) with arrears (line) over the scope."""
    t = i18n.t
    df = trend.assign(
        billed_10k=trend["billed"] / 1e4,
        arrears_10k=trend["arrears"] / 1e4,
        month=pd.to_datetime(trend["month"]),
    )
    base = alt.Chart(df).encode(
        x=alt.X("yearmonth(month):T", title=None, axis=alt.Axis(format="%Y-%m", labelAngle=-40))
    )
    bars = base.mark_bar(color=OURS_COLOR, opacity=0.85).encode(
        y=alt.Y("billed_10k:Q", title=t("chart.billed_10k", lang)),
        tooltip=[
            alt.Tooltip("yearmonth(month):T", title=t("chart.month", lang), format="%Y-%m"),
            alt.Tooltip("billed_10k:Q", title=t("chart.billed_10k", lang), format=",.1f"),
            alt.Tooltip("arrears_10k:Q", title=t("chart.arrears_10k", lang), format=",.1f"),
        ],
    )
    line = base.mark_line(color=ARREARS_COLOR, point=True).encode(
        y=alt.Y("arrears_10k:Q", title=t("chart.arrears_10k", lang))
    )
    return (
        alt.layer(bars, line)
        .resolve_scale(y="independent")
        .properties(height=260, title=t("chart.revenue_trend", lang))
    )


def account_bills_chart(bills: pd.DataFrame, lang: str) -> alt.Chart:
    """One account's 24 months: billed (bars), paid (line) and arrears (red bars)."""
    t = i18n.t
    df = bills.assign(month=pd.to_datetime(bills["month"]))
    long = df.melt(
        id_vars="month", value_vars=["billed", "paid", "arrears"], var_name="m", value_name="yuan"
    )
    long["series"] = long["m"].map(lambda k: t(f"chart.{k}", lang))
    order = [t("chart.billed", lang), t("chart.paid", lang), t("chart.arrears", lang)]
    color = alt.Color(
        "series:N",
        title=None,
        sort=order,
        scale=alt.Scale(domain=order, range=[OURS_COLOR, "#2a9d8f", ARREARS_COLOR]),
        legend=alt.Legend(orient="top"),
    )
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("yearmonth(month):T", title=None, axis=alt.Axis(format="%Y-%m", labelAngle=-40)),
            xOffset=alt.XOffset("series:N", sort=order),
            y=alt.Y("yuan:Q", title=t("chart.yuan", lang)),
            color=color,
            tooltip=[
                alt.Tooltip("yearmonth(month):T", title=t("chart.month", lang), format="%Y-%m"),
                alt.Tooltip("series:N", title=""),
                alt.Tooltip("yuan:Q", title=t("chart.yuan", lang), format=",.0f"),
            ],
        )
        .properties(height=260, title=t("chart.bills", lang))
    )


def holdings_chart(holdings: pd.DataFrame, lang: str) -> alt.Chart:
    """Products held per family, ours vs competitors' (grouped bars; tooltip: spend)."""
    t = i18n.t
    live = holdings[holdings["end_date"].isna()]
    who = [t("label.ours", lang), t("label.competitor", lang)]
    families = list(ENUMS["family"])
    grid = pd.MultiIndex.from_product([families, [True, False]], names=["family", "ours"])
    counts = live.assign(ours=live["provider"] == "ours").groupby(["family", "ours"]).agg(
        products=("product_id", "nunique"), spend=("monthly_revenue", "sum")).reindex(
        grid, fill_value=0).reset_index()
    counts["family_label"] = counts["family"].map(lambda f: enum_label("family", f, lang))
    counts["who"] = counts["ours"].map({True: who[0], False: who[1]})
    labels = [enum_label("family", f, lang) for f in families]
    return (
        alt.Chart(counts)
        .mark_bar()
        .encode(
            x=alt.X("family_label:N", title=None, sort=labels, axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("who:N", sort=who),
            y=alt.Y("products:Q", title=t("chart.products", lang), axis=alt.Axis(tickMinStep=1)),
            color=alt.Color("who:N", title=None, sort=who,
                            scale=alt.Scale(domain=who, range=[OURS_COLOR, COMPETITOR_COLOR]),
                            legend=alt.Legend(orient="top")),
            tooltip=[
                alt.Tooltip("family_label:N", title=t("col.family", lang)),
                alt.Tooltip("who:N", title=t("col.provider", lang)),
                alt.Tooltip("products:Q", title=t("chart.products", lang)),
                alt.Tooltip("spend:Q", title=t("col.monthly_revenue", lang), format=",.0f"),
            ],
        )
        .properties(height=240, title=t("chart.holdings", lang))
    )


TIER_COLORS = ["#0b3d91", "#1f6fb2", "#6baed6", "#c6dbef", "#e0e0e0", "#f0f0f0"]


# Text and outline colour of the marks: Streamlit's own text colours, so labels stay legible
# in the dark theme (the pages pass the reader's theme, see ui.widgets.ink).
INK = {"light": "#31333F", "dark": "#FAFAFA"}


def positioning_chart(df: pd.DataFrame, lang: str, *, value_cut: float, loyalty_cut: float,
                      max_points: int = 4000, ink: str = INK["light"]) -> alt.LayerChart:
    """Value (x) vs loyalty (y); colour = competitor entanglement; size = monthly revenue."""
    t = i18n.t
    d = df.nlargest(max_points, "monthly_revenue") if len(df) > max_points else df
    zh = lang.startswith("zh")
    d = d.assign(
        label=d["name"] if zh else d["name_en"].fillna(d["name"]),
        strategy_label=d["strategy"].map(lambda s: i18n.strategy(s, lang)),
    )[["account_id", "label", "value_score", "loyalty_score", "competitor_score",
       "monthly_revenue", "tier", "strategy_label"]]
    points = alt.Chart(d).mark_circle(opacity=0.7, stroke=ink, strokeWidth=0.3).encode(
        x=alt.X("value_score:Q", title=t("col.value_score", lang), scale=alt.Scale(domain=[0, 100])),
        y=alt.Y("loyalty_score:Q", title=t("col.loyalty_score", lang),
                scale=alt.Scale(domain=[0, 100])),
        color=alt.Color("competitor_score:Q", title=t("col.competitor_score", lang),
                        scale=alt.Scale(scheme="orangered", domain=[0, 100])),
        size=alt.Size("monthly_revenue:Q", title=t("col.monthly_revenue", lang),
                      scale=alt.Scale(range=[10, 600])),
        tooltip=[
            alt.Tooltip("label:N", title=t("col.name", lang)),
            alt.Tooltip("account_id:N", title=t("col.account_id", lang)),
            alt.Tooltip("tier:N", title=t("col.tier", lang)),
            alt.Tooltip("strategy_label:N", title=t("col.strategy", lang)),
            alt.Tooltip("value_score:Q", title=t("col.value_score", lang), format=".1f"),
            alt.Tooltip("loyalty_score:Q", title=t("col.loyalty_score", lang), format=".1f"),
            alt.Tooltip("competitor_score:Q", title=t("col.competitor_score", lang), format=".1f"),
            alt.Tooltip("monthly_revenue:Q", title=t("col.monthly_revenue", lang), format=",.0f"),
        ],
    )
    rules = alt.Chart(pd.DataFrame({"v": [value_cut], "l": [loyalty_cut]}))
    vline = rules.mark_rule(strokeDash=[4, 4], color="#888").encode(x="v:Q")
    hline = rules.mark_rule(strokeDash=[4, 4], color="#888").encode(y="l:Q")
    return alt.layer(points, vline, hline).properties(
        height=420, title=t("chart.positioning", lang))


def pyramid_chart(summary: pd.DataFrame, lang: str, *, measure: str,
                  ink: str = INK["light"]) -> alt.LayerChart:
    """The pyramid: one centred bar per tier (top tier on top), width = accounts or revenue."""
    t = i18n.t
    d = summary.assign(
        amount=summary["accounts"] if measure == "accounts" else summary["monthly_revenue"] / 1e4,
        share=summary["account_share"] if measure == "accounts" else summary["revenue_share"],
        name=summary["tier"] + " · " + summary["label"],
    )
    d["x0"], d["x1"] = -d["amount"] / 2, d["amount"] / 2
    d["text"] = d["amount"].map("{:,.0f}".format) + "  (" + d["share"].map("{:.1%}".format) + ")"
    title = t("chart.pyramid_accounts" if measure == "accounts" else "chart.pyramid_revenue", lang)
    order = list(d["name"])
    base = alt.Chart(d).encode(y=alt.Y("name:N", sort=order, title=None))
    bars = base.mark_bar(cornerRadius=3).encode(
        x=alt.X("x0:Q", axis=None), x2="x1:Q",
        color=alt.Color("tier:N", legend=None,
                        scale=alt.Scale(domain=list(d["tier"]), range=TIER_COLORS[: len(d)])),
        tooltip=[alt.Tooltip("name:N", title=t("col.tier", lang)),
                 alt.Tooltip("accounts:Q", title=t("kpi.accounts", lang), format=","),
                 alt.Tooltip("monthly_revenue:Q", title=t("col.monthly_revenue", lang), format=",.0f"),
                 alt.Tooltip("share:Q", title=t("col.share", lang), format=".1%")],
    )
    text = base.mark_text(align="left", dx=6, color=ink).encode(x="x1:Q", text="text:N")
    return alt.layer(bars, text).properties(height=240, title=title)


def composition_chart(comp: pd.DataFrame, by: str, lang: str, *, labeller=None) -> alt.Chart:
    """Share of each tier's revenue by family / industry / city (100% stacked bars)."""
    t = i18n.t
    d = comp.assign(part=comp[by].map(labeller) if labeller else comp[by])
    return alt.Chart(d).mark_bar().encode(
        y=alt.Y("tier:N", title=t("col.tier", lang)),
        x=alt.X("revenue:Q", stack="normalize", title=t("col.share", lang),
                axis=alt.Axis(format="%")),
        color=alt.Color("part:N", title=t(f"col.{by}", lang),
                        sort=alt.EncodingSortField("revenue", op="sum", order="descending"),
                        # ten colours tell up to ten parts apart; industries and cities are more
                        scale=alt.Scale(scheme="tableau20") if d["part"].nunique() > 10
                        else alt.Undefined),
        order=alt.Order("revenue:Q", sort="descending"),
        tooltip=[alt.Tooltip("tier:N", title=t("col.tier", lang)),
                 alt.Tooltip("part:N", title=t(f"col.{by}", lang)),
                 alt.Tooltip("revenue:Q", title=t("col.monthly_revenue", lang), format=",.0f"),
                 alt.Tooltip("share:Q", title=t("col.share", lang), format=".1%")],
    ).properties(height=200, title=t(f"chart.composition_{by}", lang))


def migration_chart(mig: pd.DataFrame, lang: str, *, measure: str, order: list[str]) -> alt.LayerChart:
    """Heatmap of accounts (or revenue) moving from one tier (rows) to another (columns)."""
    t = i18n.t
    d = mig.assign(amount=mig["accounts"] if measure == "accounts" else mig["revenue"] / 1e4)
    rename = {"new": t("label.new", lang), "gone": t("label.gone", lang)}
    d = d.assign(from_label=d["from_tier"].replace(rename), to_label=d["to_tier"].replace(rename))
    labels = [rename.get(o, o) for o in order]
    base = alt.Chart(d).encode(
        y=alt.Y("from_label:N", sort=labels, title=t("chart.from_tier", lang)),
        x=alt.X("to_label:N", sort=labels, title=t("chart.to_tier", lang),
                axis=alt.Axis(orient="top", labelAngle=0)),
    )
    rect = base.mark_rect().encode(
        color=alt.Color("amount:Q", scale=alt.Scale(scheme="blues", type="sqrt"), legend=None),
        tooltip=[alt.Tooltip("from_label:N", title=t("chart.from_tier", lang)),
                 alt.Tooltip("to_label:N", title=t("chart.to_tier", lang)),
                 alt.Tooltip("accounts:Q", title=t("kpi.accounts", lang), format=","),
                 alt.Tooltip("revenue:Q", title=t("col.monthly_revenue", lang), format=",.0f")],
    )
    text = base.mark_text(fontSize=12).encode(
        text=alt.Text("amount:Q", format=",.0f"),
        color=alt.condition(alt.datum.amount > d["amount"].max() / 2, alt.value("white"),
                            alt.value("#222")),
    )
    return alt.layer(rect, text).properties(height=260)


def lorenz_chart(curve: pd.DataFrame, lang: str) -> alt.LayerChart:
    """Lorenz curve of revenue concentration with the line of equality."""
    t = i18n.t
    line = alt.Chart(curve).mark_line(color=OURS_COLOR, strokeWidth=2.5).encode(
        x=alt.X("accounts_share:Q", title=t("chart.lorenz_x", lang), axis=alt.Axis(format="%")),
        y=alt.Y("revenue_share:Q", title=t("chart.lorenz_y", lang), axis=alt.Axis(format="%")),
    )
    diag = alt.Chart(pd.DataFrame({"a": [0, 1], "b": [0, 1]})).mark_line(
        strokeDash=[4, 4], color="#999").encode(x="a:Q", y="b:Q")
    return alt.layer(diag, line).properties(height=260, title=t("chart.lorenz", lang))


def score_history_chart(hist: pd.DataFrame, lang: str) -> alt.Chart:
    """An account's three scores over its snapshots."""
    t = i18n.t
    cols = ["value_score", "loyalty_score", "competitor_score"]
    long = hist.melt(id_vars=["as_of", "tier"], value_vars=cols, var_name="dim", value_name="score")
    long["dimension"] = long["dim"].map(lambda c: t(f"col.{c}", lang))
    return alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("as_of:T", title=None, axis=alt.Axis(format="%Y-%m")),
        y=alt.Y("score:Q", title=t("chart.score", lang), scale=alt.Scale(domain=[0, 100])),
        color=alt.Color("dimension:N", title=None, legend=alt.Legend(orient="top"),
                        scale=alt.Scale(range=[OURS_COLOR, "#2a9d8f", COMPETITOR_COLOR])),
        tooltip=["as_of:T", "tier:N", alt.Tooltip("score:Q", format=".1f"), "dimension:N"],
    ).properties(height=280, title=t("chart.score_history", lang))


def contributions_chart(contrib: pd.DataFrame, lang: str) -> alt.Chart:
    """One account's measure contributions (points) per dimension; colour: above or below the
    model's average contribution."""
    t = i18n.t
    dims = ["value", "loyalty", "competitor"]
    d = contrib.assign(
        dimension_label=contrib["dimension"].map(lambda c: t(f"col.{c}_score", lang)),
        order=contrib["dimension"].map({k: i for i, k in enumerate(dims)}),
        side=(contrib["delta"] >= 0).map({True: t("chart.above_average", lang),
                                          False: t("chart.below_average", lang)}),
    ).sort_values(["order", "points"], ascending=[True, False])
    d["item"] = d["dimension_label"] + " · " + d["label"]
    sides = [t("chart.above_average", lang), t("chart.below_average", lang)]
    return alt.Chart(d).mark_bar().encode(
        y=alt.Y("item:N", title=None, sort=list(d["item"]),
                axis=alt.Axis(labelLimit=260, labelOverlap=False)),
        x=alt.X("points:Q", title=t("chart.points", lang)),
        color=alt.Color("side:N", title=t("chart.vs_average", lang), sort=sides,
                        scale=alt.Scale(domain=sides, range=["#2a9d8f", "#e76f51"]),
                        legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("item:N", title=t("chart.measure", lang)),
                 alt.Tooltip("raw:Q", title=t("chart.raw", lang), format=",.2f"),
                 alt.Tooltip("points:Q", title=t("chart.points", lang), format=".1f"),
                 alt.Tooltip("delta:Q", title=t("chart.vs_average", lang), format="+.1f")],
    # the height Streamlit fits holds the title, legend and axis too: ~150 px besides the bars
    ).properties(height=150 + 26 * len(d), title=t("chart.reasons", lang))


def product_graph_chart(nodes: pd.DataFrame, edges: pd.DataFrame, lang: str, *,
                        height: int = 520, title_key: str = "chart.product_graph",
                        ink: str = INK["light"], square: int | None = None) -> alt.LayerChart:
    """The product graph: node size = penetration, edge width = lift, colour = family;
    competitors' products drawn as hollow diamonds, substitutions dashed.

    ``square`` (pixels): a square chart on equal scales for a ring layout
    (:func:`valuation.bundling.graph_view`), each label running outward from its product like
    a spoke (none overlaps another), the ``central`` products' in bold, products without a
    pair shown faded; without it, the chart of any layout with labels above the products."""
    t = i18n.t
    zh = lang.startswith("zh")
    n = nodes.assign(
        label=nodes["name"] if zh else nodes["name_en"].fillna(nodes["name"]),
        family_label=nodes["family"].map(lambda f: enum_label("family", f, lang)),
        who=(nodes["provider"] == "ours").map({True: t("label.ours", lang),
                                               False: t("label.competitor", lang)}),
    )
    if "state" in n.columns:
        n["state_label"] = n["state"].map(lambda s: t(f"bundle.node_{s}", lang))
    families = [enum_label("family", f, lang) for f in ENUMS["family"]]
    fam_scale = alt.Scale(domain=families, range=FAMILY_COLORS)
    co = edges[edges["kind"] == "co_holding"]
    sub = edges[edges["kind"] == "substitute"]
    if square:
        lim = 1.85  # the ring (radius 1) and room for the labels around it
        scale = alt.Scale(domain=[-lim, lim], nice=False, zero=False)
    else:
        scale = alt.Scale(padding=40)
    axis = dict(axis=None, scale=scale)
    e1 = alt.Chart(co).mark_rule(color="#8a96a3").encode(
        x=alt.X("x:Q", **axis), y=alt.Y("y:Q", **axis), x2="x2:Q", y2="y2:Q",
        strokeWidth=alt.StrokeWidth("lift:Q", legend=None, scale=alt.Scale(
            range=[0.6, 4], **({"domain": [1.0, max(3.0, float(co["lift"].max()))]}
                               if square and len(co) else {}))),  # width by lift, not rank
        opacity=alt.value(0.55 if square else 0.45),
        tooltip=[alt.Tooltip("source:N"), alt.Tooltip("target:N"),
                 alt.Tooltip("lift:Q", title=t("pf.graph.lift", lang), format=".2f"),
                 alt.Tooltip("support:Q", title=t("bundle.support", lang), format=".1%"),
                 alt.Tooltip("confidence_ab:Q", title=t("bundle.confidence", lang), format=".1%")])
    e2 = alt.Chart(sub).mark_rule(color=COMPETITOR_COLOR, strokeDash=[4, 3]).encode(
        x=alt.X("x:Q", **axis), y=alt.Y("y:Q", **axis), x2="x2:Q", y2="y2:Q")
    if square and "strength" in n.columns:
        central = n["central"] if "central" in n.columns else pd.Series(False, index=n.index)
        # the whole catalogue: a product without a pair shown fades; around a centre, none does
        n["alpha"] = ((n["strength"] > 0) | bool(central.any())).map({True: 0.95, False: 0.35})
    else:
        n["alpha"] = 0.9
    below = dict(orient="bottom", direction="horizontal") if square else {}  # keeps it square
    enc = dict(
        x=alt.X("x:Q", **axis), y=alt.Y("y:Q", **axis),
        size=alt.Size("penetration:Q", title=t("bundle.penetration", lang),
                      scale=alt.Scale(range=[40, 900] if not square else [30, 600]),
                      legend=alt.Legend(format=".0%", **(
                          dict(below, direction="vertical") if square else {}))),
        color=alt.Color("family_label:N", title=t("col.family", lang), scale=fam_scale,
                        legend=alt.Legend(**below)),
        opacity=alt.Opacity("alpha:Q", scale=None, legend=None),
        tooltip=[alt.Tooltip("label:N", title=t("col.product", lang)),
                 alt.Tooltip("who:N", title=t("col.provider", lang)),
                 alt.Tooltip("family_label:N", title=t("col.family", lang)),
                 alt.Tooltip("penetration:Q", title=t("bundle.penetration", lang), format=".1%")],
    )
    ours = alt.Chart(n[n["provider"] == "ours"]).mark_circle(stroke=ink,
                                                            strokeWidth=0.5).encode(**enc)
    theirs = alt.Chart(n[n["provider"] != "ours"]).mark_point(
        shape="diamond", filled=False, strokeWidth=2).encode(**enc)
    layers = [e1, e2, ours, theirs]
    if square:
        layers += _spoke_labels(n, axis, ink, zh)
    else:
        layers.append(alt.Chart(n).mark_text(dy=-12, fontSize=10, color=ink).encode(
            x=alt.X("x:Q", **axis), y=alt.Y("y:Q", **axis), text="label:N"))
    if "state" in n.columns:
        ring = alt.Chart(n[n["state"] == "recommended"]).mark_circle(
            size=1100, fill=None, stroke="#2a9d8f", strokeWidth=2.5, strokeDash=[3, 2]).encode(
            x=alt.X("x:Q", **axis), y=alt.Y("y:Q", **axis))
        layers.insert(2, ring)
    if square and "central" in n.columns and bool(n["central"].any()):
        halo = alt.Chart(n[n["central"]]).mark_circle(
            size=1300, fill=None, stroke=ink, strokeWidth=1.5).encode(
            x=alt.X("x:Q", **axis), y=alt.Y("y:Q", **axis))
        layers.insert(2, halo)
    chart = alt.layer(*layers).properties(title=t(title_key, lang))
    if square:  # the plot itself square (the legends beside it): a ring stays round
        return chart.properties(width=square, height=square,
                                autosize=alt.AutoSizeParams(type="pad", contains="padding")
                                ).configure_view(strokeWidth=0)
    return chart.properties(height=height)


def _spoke_labels(n: pd.DataFrame, axis: dict, ink: str, zh: bool) -> list[alt.Chart]:
    """Labels running outward from products on a ring, like spokes (none overlaps another):
    upright on the right half, turned half round on the left so none reads upside down; a
    product in the middle labelled below. Long names are cut (the tooltip has them whole)."""
    import numpy as np

    cut = 10 if zh else 22
    text = n["label"].astype(str)
    text = text.where(text.str.len() <= cut, text.str.slice(0, cut - 1) + "…")
    r = np.hypot(n["x"], n["y"])
    theta = np.degrees(np.arctan2(n["y"], n["x"]))
    hub = r < 1e-9
    right = (np.cos(np.radians(theta)) >= -1e-9) & ~hub
    push = np.where(hub, 0.0, 1.0 + 0.09 / np.maximum(r, 1e-9))
    d = n.assign(text=text, label_alpha=n["alpha"].clip(lower=0.55), lx=n["x"] * push,
                 ly=np.where(hub, n["y"] - 0.16, n["y"] * push),
                 angle=np.where(hub, 0.0, np.where(right, -theta, 180.0 - theta)))
    central = d["central"] if "central" in d.columns else pd.Series(False, index=d.index)
    out = []
    for mask, align in ((right, "left"), (~right & ~hub, "right"), (hub, "center")):
        for bold in (False, True):
            part = d[np.asarray(mask) & (central == bold).to_numpy()]
            if part.empty:
                continue
            out.append(alt.Chart(part).mark_text(
                align=align, baseline="middle", fontSize=12 if bold else 10.5,
                fontWeight="bold" if bold else "normal", color=ink).encode(
                x=alt.X("lx:Q", **axis), y=alt.Y("ly:Q", **axis), text="text:N",
                angle=alt.Angle("angle:Q", scale=None),
                opacity=alt.Opacity("label_alpha:Q", scale=None, legend=None)))
    return out


def coverage_heatmap(ws: pd.DataFrame, by: str, lang: str, *, labeller=None) -> alt.LayerChart:
    """Share of accounts holding our products per family, by segment."""
    t = i18n.t
    d = ws.assign(
        seg=ws[by].map(labeller) if labeller else ws[by].astype(str),
        family_label=ws["family"].map(lambda f: enum_label("family", f, lang)),
    )
    families = [enum_label("family", f, lang) for f in ENUMS["family"]]
    base = alt.Chart(d).encode(
        x=alt.X("family_label:N", title=None, sort=families, axis=alt.Axis(labelAngle=0,
                                                                          orient="top")),
        y=alt.Y("seg:N", title=None, axis=alt.Axis(labelOverlap=False)),
    )
    rect = base.mark_rect().encode(
        color=alt.Color("ours_share:Q", title=t("bundle.coverage", lang),
                        scale=alt.Scale(scheme="blues", domain=[0, 1]),
                        legend=alt.Legend(format=".0%")),
        tooltip=[alt.Tooltip("seg:N", title=t(f"col.{by}", lang)),
                 alt.Tooltip("family_label:N", title=t("col.family", lang)),
                 alt.Tooltip("ours_share:Q", title=t("bundle.coverage", lang), format=".0%"),
                 alt.Tooltip("competitor_share:Q", title=t("label.competitor", lang), format=".0%"),
                 alt.Tooltip("opportunity:Q", title=t("bundle.opportunity", lang), format=",.0f")])
    text = base.mark_text(fontSize=11).encode(
        text=alt.Text("ours_share:Q", format=".0%"),
        color=alt.condition(alt.datum.ours_share > 0.55, alt.value("white"), alt.value("#222")))
    return alt.layer(rect, text).properties(height=110 + 28 * d["seg"].nunique(),
                                            title=t("chart.coverage", lang))


def survival_chart(curves: pd.DataFrame, lang: str, *, labels: dict[str, str] | None = None,
                   groups: list[str] | None = None, highlight: str | None = None,
                   tenure_months: float | None = None, min_at_risk: int = MIN_AT_RISK,
                   height: int = 320, title: bool = False) -> alt.LayerChart:
    """Kaplan-Meier survival over tenure (years), one step line per group with its 95% band.

    ``curves``: ``churn.survival_curves`` output; ``labels`` names the groups; ``groups``
    keeps some (in that order); ``highlight`` draws one group thick and the others thin;
    ``tenure_months`` marks an account's tenure today. Points followed by fewer than
    ``min_at_risk`` accounts are not drawn: the curve there is noise. ``title``: draw the
    chart's title (pages that head the chart themselves leave it off)."""
    t = i18n.t
    d = curves[curves["at_risk"].ge(min_at_risk) | curves["months"].eq(0)]
    if groups is not None:
        d = d[d["group"].isin(groups)]
    drawn = set(d.loc[d["months"] > 0, "group"])  # groups with a curve past month 0
    order = [g for g in dict.fromkeys(groups if groups is not None else d["group"]) if g in drawn]
    d = d[d["group"].isin(order)]
    names = {g: (labels or {}).get(g, g) for g in order}
    d = d.assign(years=d["months"] / 12.0, name=d["group"].map(names), band=d["group"].map(names),
                 thick=(d["group"] == highlight) if highlight is not None else True)
    domain = [names[g] for g in order]
    palette = ["#1f6fb2", "#2a9d8f", "#8e6bbf", "#e9c46a", "#e76f51", "#264653", "#f4a261"]
    colours = ["#777777" if g == "all" else palette[i % len(palette)]
               for i, g in enumerate(order)]
    colour = alt.Color("name:N", title=None, sort=domain,
                       scale=alt.Scale(domain=domain, range=colours),
                       legend=alt.Legend(orient="top", labelLimit=220, symbolType="stroke",
                                         symbolStrokeWidth=3, columns=4))
    x = alt.X("years:Q", title=t("chart.tenure_years", lang))
    band = alt.Chart(d).mark_area(opacity=0.12, interpolate="step-after").encode(
        x=x, y=alt.Y("lower:Q"), y2="upper:Q",
        # a field of its own: a legend-less channel on the line's field would hide its legend
        fill=alt.Fill("band:N", sort=domain, scale=alt.Scale(domain=domain, range=colours),
                      legend=None))
    line = alt.Chart(d).mark_line(interpolate="step-after").encode(
        x=x,
        y=alt.Y("survival:Q", title=t("chart.survival", lang), axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1])),
        color=colour,
        strokeWidth=alt.StrokeWidth("thick:N", legend=None,
                                    scale=alt.Scale(domain=[True, False], range=[3, 1.2])),
        strokeDash=alt.condition(alt.datum.group == "all", alt.value([5, 3]), alt.value([1, 0])),
        tooltip=[alt.Tooltip("name:N", title=t("chart.group", lang)),
                 alt.Tooltip("years:Q", title=t("chart.tenure_years", lang), format=".1f"),
                 alt.Tooltip("survival:Q", title=t("chart.survival", lang), format=".1%"),
                 alt.Tooltip("lower:Q", title=t("chart.lower", lang), format=".1%"),
                 alt.Tooltip("upper:Q", title=t("chart.upper", lang), format=".1%"),
                 alt.Tooltip("at_risk:Q", title=t("chart.at_risk", lang), format=",")])
    layers = [band, line]
    if tenure_months is not None:
        now = pd.DataFrame({"years": [tenure_months / 12.0], "text": [t("chart.today", lang)]})
        layers.append(alt.Chart(now).mark_rule(color="#c0392b", strokeDash=[2, 2]).encode(
            x="years:Q"))
        layers.append(alt.Chart(now).mark_text(align="left", dx=4, dy=-4, color="#c0392b",
                                               baseline="top").encode(
            x="years:Q", y=alt.value(0), text="text:N"))
    chart = alt.layer(*layers).properties(height=height)
    return chart.properties(title=t("chart.survival_title", lang)) if title else chart


def warnings_timeline_chart(hits: pd.DataFrame, lang: str, *, rule_label=None,
                            status_label=None) -> alt.Chart:
    """An account's warning hits over time: one row per rule, a dot per day it tripped
    (size: severity), coloured by the status of its work order now. Untitled: the page
    heads it.

    ``hits``: ``warnings.hit_timeline`` output (rule, status, day, severity)."""
    t = i18n.t
    rule_label = rule_label or (lambda r: r)
    status_label = status_label or (lambda s: s)
    statuses = ["new", "assigned", "contacted", "retained", "lost", "false_alarm"]
    colours = dict(zip(statuses, [ARREARS_COLOR, "#e9c46a", OURS_COLOR, "#2a9d8f", "#555555",
                                  "#bbbbbb"]))
    present = [x for x in statuses if x in set(hits["status"])]
    names = [status_label(x) for x in present]
    d = hits.assign(day=pd.to_datetime(hits["day"]), rule_name=hits["rule"].map(rule_label),
                    status_name=hits["status"].map(status_label))
    return alt.Chart(d).mark_circle(opacity=0.85).encode(
        x=alt.X("day:T", title=None, axis=alt.Axis(format="%m-%d")),
        y=alt.Y("rule_name:N", title=None, axis=alt.Axis(labelLimit=220)),
        size=alt.Size("severity:Q", legend=None, scale=alt.Scale(range=[60, 260])),
        color=alt.Color("status_name:N", title=None, sort=names,
                        scale=alt.Scale(domain=names, range=[colours[x] for x in present]),
                        legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("day:T", title=t("chart.date", lang), format="%Y-%m-%d"),
                 alt.Tooltip("rule_name:N", title=t("col.rule", lang)),
                 alt.Tooltip("status_name:N", title=t("col.status", lang)),
                 alt.Tooltip("severity:Q", title=t("col.severity", lang), format=".2f")],
    ).properties(height=110 + 28 * d["rule"].nunique())
