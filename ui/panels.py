"""Account-page sections for the valuation: scores and reasons, strategy, path, history."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import state
from ui.session import lang, tr
from valuation import charts, history, i18n, positioning
from valuation.measures import MEASURES
from valuation.pyramid import path_to_next_tier
from valuation.scoring import explain

__all__ = ["valuation_section"]


def valuation_section(account_id: str) -> None:
    """Scores with grades, model, tier, strategy and actions, reasons, path, history."""
    a = state.analysis()
    L = lang()
    hit = a.frame.index[a.frame["account_id"] == account_id]
    if len(hit) == 0:
        return
    idx = hit[0]
    row = a.frame.loc[idx]
    settings = a.settings
    st.subheader(tr("account.valuation"))
    m = st.columns(5)
    for col, dim in zip(m[:3], ("value", "loyalty", "competitor"), strict=True):
        col.metric(tr(f"col.{dim}_score"), f"{row[f'{dim}_score']:.1f}",
                   help=tr(f"help.{dim}"))
        col.caption(i18n.grade(row[f"{dim}_grade"], L))
    tier = settings.tier(row["tier"])
    m[3].metric(tr("col.tier"), tier.code, help=tier.label(L))
    m[3].caption(f"**{tier.label(L)}** · " + tr(
        "account.entitlements", sla=f"{tier.repair_sla_hours:g}", visit=tier.visit_days,
        agent=tr("label.yes" if tier.dedicated_agent else "label.no")))
    m[4].markdown(f"{tr('col.model')}  \n**{settings.model(row['model']).label(L)}**")
    m[4].caption(tr("account.influence_payment", i=f"{row['influence_score']:.0f}",
                    p=f"{row['payment_score']:.0f}"))

    s1, s2 = st.columns([1, 1])
    with s1:
        st.markdown(f"**{tr('col.strategy')}: {i18n.strategy(row['strategy'], L)}** · "
                    f"{i18n.stage(row['lifecycle_stage'], L)} · {i18n.approach(row['approach'], L)}")
        st.caption(i18n.strategy_help(row["strategy"], L))
        for action in positioning.actions(row["strategy"], row["approach"], row["lifecycle_stage"], L):
            st.markdown(f"- {action}")
        st.markdown(f"**{tr('account.path')}**")
        path = path_to_next_tier(a.card, a.frame["tier"], a.cutter, settings,
                                 rows=pd.Index([idx]))
        if row["tier"] == settings.tiers[0].code:
            st.success(tr("account.top_tier"))
        elif path.empty:
            st.info(tr("account.no_single_move"))
        else:
            st.dataframe(_path_table(path.head(4), L), hide_index=True, width="stretch")
    with s2:
        reasons = explain(a.card, idx, L)
        st.altair_chart(charts.contributions_chart(reasons, L), width="stretch")
    hist = history.account_history(state.store(), account_id)
    if not hist.empty:
        st.altair_chart(charts.score_history_chart(hist, L), width="stretch")


def _path_table(path: pd.DataFrame, lang: str) -> pd.DataFrame:
    zh = lang.startswith("zh")
    return pd.DataFrame({
        tr("chart.measure"): path["measure"].map(
            lambda m: MEASURES[m].label_zh if zh else MEASURES[m].label_en),
        tr("account.now"): path["current"].round(2),
        tr("account.target"): path["target"].round(2),
        tr("account.change"): path["change"].round(2),
    })
