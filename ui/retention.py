"""Retention tables and charts for the Retention, My work and Account pages."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from ui.session import lang, tr
from ui.widgets import money, pct
from valuation import i18n

__all__ = ["capacity_table", "counter_table", "order_table", "pipeline_table", "var_chart"]


def _name(df: pd.DataFrame, zh_col: str, en_col: str) -> pd.Series:
    if lang() == "zh":
        return df[zh_col]
    return df[en_col].where(df[en_col].notna() & (df[en_col] != ""), df[zh_col])


def order_table(orders: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """Work orders (optionally with priority columns) labelled for display."""
    L = lang()
    out = pd.DataFrame({
        tr("col.account_id"): orders["account_id"],
        tr("col.name"): _name(orders, "account_name", "account_name_en"),
        tr("col.rule"): orders["rule"].map(lambda r: i18n.rule(r, L)),
    })
    for col, key in (("value_at_risk", "col.value_at_risk"), ("fits", "col.fits")):
        if col in orders.columns:
            out[tr(key)] = orders[col]
    out[tr("col.due_date")] = pd.to_datetime(orders["due_date"])
    out[tr("col.status")] = orders["status"].map(lambda s: tr(f"status.{s}"))
    out[tr("col.assignee")] = orders["assignee_id"].map(lambda u: names.get(u, u))
    out[tr("col.escalated")] = orders["escalated"].map({True: "⬆", False: ""}).fillna("")
    out[tr("col.severity")] = orders["severity"].round(2)
    out[tr("col.hits")] = orders["hits"]
    if "priority" in orders.columns:
        out[tr("col.priority")] = orders["priority"]
    return out


def order_config() -> dict[str, object]:
    return {
        tr("col.due_date"): st.column_config.DateColumn(format="YYYY-MM-DD"),
        tr("col.value_at_risk"): st.column_config.NumberColumn(format="¥%,.0f"),
        tr("col.priority"): st.column_config.NumberColumn(format="%,.0f"),
        tr("col.fits"): st.column_config.CheckboxColumn(),
    }


def capacity_table(summary: pd.DataFrame, teams: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({
        tr("col.team"): summary["team_id"].map(lambda t: teams.get(t, t)),
        tr("col.capacity_hours"): summary["capacity_hours"].round(0),
        tr("col.hours_needed"): summary["hours_needed"].round(1),
        tr("col.cases"): summary["cases"],
        tr("col.cases_fit"): summary["cases_fit"],
        tr("col.utilisation"): summary["utilisation"].map(pct),
        tr("retention.value_at_risk"): summary["value_at_risk_fit"].map(money) + " / "
        + summary["value_at_risk_left"].map(money),
    })


def pipeline_table(pipeline: pd.DataFrame) -> pd.DataFrame:
    L = lang()
    return pd.DataFrame({
        tr("col.account_id"): pipeline["account_id"],
        tr("col.name"): _name(pipeline, "name", "name_en"),
        tr("col.tier"): pipeline["tier"],
        tr("col.contract_type"): pipeline["contract_type"].map(
            lambda c: i18n.enum("contract_type", c, L)),
        tr("col.end_date"): pd.to_datetime(pipeline["end_date"]),
        tr("col.value"): pipeline["value"],
        tr("col.monthly_revenue"): pipeline["monthly_revenue"],
    })


def counter_table(counter: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        tr("col.account_id"): counter["account_id"],
        tr("col.name"): _name(counter, "name", "name_en"),
        tr("col.tier"): counter["tier"],
        tr("col.value_score"): counter["value_score"].round(1),
        tr("col.competitor_score"): counter["competitor_score"].round(1),
        tr("col.competitor_spend"): counter["competitor_spend"].round(0),
        tr("col.win_chance"): counter["win_chance"].map(pct),
        tr("col.win_back_value"): counter["win_back_value"].round(0),
    })


def var_chart(plan: pd.DataFrame, names: dict[str, str], teams: dict[str, str]) -> alt.Chart:
    """Value at risk of open cases per manager, coloured by team, fitting or not."""
    d = plan.assign(
        manager=plan["owner_id"].map(lambda u: names.get(u, u)),
        team=plan["team_id"].map(lambda t: teams.get(t, t)),
        fit=plan["fits"].map({True: tr("col.fits"), False: tr("retention.left")}),
    ).groupby(["team", "manager", "fit"], as_index=False)["value_at_risk"].sum()
    return alt.Chart(d).mark_bar().encode(
        y=alt.Y("manager:N", title=None, sort="-x"),
        x=alt.X("value_at_risk:Q", title=tr("col.value_at_risk")),
        color=alt.Color("fit:N", title=None, legend=alt.Legend(orient="top"),
                        scale=alt.Scale(range=["#1f6fb2", "#e76f51"])),
        row=alt.Row("team:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")),
        tooltip=["team:N", "manager:N", "fit:N",
                 alt.Tooltip("value_at_risk:Q", format=",.0f")],
    ).resolve_scale(y="independent").properties(width=560)
