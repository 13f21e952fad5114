"""Altair chart builders: pure functions from frames to charts, labelled in one language."""

from __future__ import annotations

import altair as alt
import pandas as pd

from valuation import i18n
from valuation.schema import ENUMS, enum_label

__all__ = ["account_bills_chart", "holdings_chart", "revenue_trend_chart"]

OURS_COLOR = "#1f6fb2"
COMPETITOR_COLOR = "#d9822b"
ARREARS_COLOR = "#c0392b"
FAMILY_COLORS = ["#1f6fb2", "#2a9d8f", "#8e6bbf", "#e9c46a"]


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
    """Products held per family, ours vs competitors', sized by monthly spend."""
    t = i18n.t
    live = holdings[holdings["end_date"].isna()]
    df = (
        live.assign(
            who=(live["provider"] == "ours").map(
                {True: t("label.ours", lang), False: t("label.competitor", lang)}
            ),
            family_label=live["family"].map(lambda f: enum_label("family", f, lang)),
        )
        .groupby(["family_label", "who"], as_index=False)
        .agg(products=("product_id", "nunique"), spend=("monthly_revenue", "sum"))
    )
    families = [enum_label("family", f, lang) for f in ENUMS["family"]]
    who = [t("label.ours", lang), t("label.competitor", lang)]
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            y=alt.Y("family_label:N", title=None, sort=families),
            x=alt.X("products:Q", title=t("chart.products", lang), axis=alt.Axis(tickMinStep=1)),
            yOffset=alt.YOffset("who:N", sort=who),
            color=alt.Color(
                "who:N", title=None, scale=alt.Scale(domain=who, range=[OURS_COLOR, COMPETITOR_COLOR]),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("family_label:N", title=t("col.family", lang)),
                alt.Tooltip("who:N", title=""),
                alt.Tooltip("products:Q", title=t("chart.products", lang)),
                alt.Tooltip("spend:Q", title=t("col.monthly_revenue", lang), format=",.0f"),
            ],
        )
        .properties(height=220, title=t("chart.holdings", lang))
    )
