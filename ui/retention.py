"""Retention tables and charts for the Retention, My work and Account pages."""

from __future__ import annotations

import json

import altair as alt
import pandas as pd
import streamlit as st

from ui.session import lang, tr
from ui.widgets import dash, money, pct, person_namer
from valuation import charts, i18n

__all__ = ["capacity_table", "counter_table", "history_table", "model_card_view", "order_table",
           "pipeline_table", "queue_filter", "rules_table",
           "survival_view", "unflagged_table", "var_chart"]


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
    if "tier" in orders.columns:  # an account no longer live has no tier: a dash, not "None"
        out.insert(2, tr("col.tier"), dash(orders["tier"]))
    for col, key in (("value_at_risk", "col.value_at_risk"), ("fits", "col.fits")):
        if col in orders.columns:
            out[tr(key)] = orders[col]
    out[tr("col.due_date")] = pd.to_datetime(orders["due_date"])
    out[tr("col.status")] = orders["status"].map(lambda s: tr(f"status.{s}"))
    out[tr("col.assignee")] = orders["assignee_id"].map(
        lambda u: names.get(u, u) if isinstance(u, str) else "–")
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
        tr("col.churn_probability"): st.column_config.ProgressColumn(
            format="percent", min_value=0.0, max_value=1.0),
        tr("col.lifetime_value"): st.column_config.NumberColumn(format="¥%,.0f"),
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


def model_card_view(card: dict | None) -> None:
    """What the churn model is, what it was trained on and how well it ranks, next to the
    logistic and rules-only baselines (time-split validation from its card)."""
    if card is None:
        st.info(tr("model.none"))
        return
    method = card.get("method", "rules")
    first, last = (card.get("as_of_dates") or {}).get("first"), (card.get("as_of_dates") or {}).get("last")
    status = card.get("status", "rules_fallback" if method != "calibrated_gbm" else "time_split")
    (st.warning if status != "time_split" else st.info)(tr(f"model.status.{status}"))
    st.markdown(tr(f"model.method.{'model' if method == 'calibrated_gbm' else 'rules'}",
                   events=card.get("events", 0), min_events=card.get("min_events", 0)))
    if card.get("mean_predicted") is not None and card.get("observed_rate") is not None:
        st.caption(tr("model.calibration", predicted=pct(card["mean_predicted"]),
                      observed=pct(card["observed_rate"]))
                   + ("" if card.get("calibration_ok", True) else " " + tr("model.calibration_off")))
    st.caption(tr("model.trained", at=str(card.get("trained_at", "–")).replace("T", " ")[:16],
                  as_of=card.get("data_as_of") or "–", first=first or "–", last=last or "–",
                  accounts=f"{card.get('accounts', 0):,}", events=f"{card.get('events', 0):,}",
                  months=card.get("horizon_months", 6)))
    ev = card.get("evaluation") or {}
    metrics = ev.get("metrics") or {}
    rows = [m for m in ("model", "logistic", "rules") if metrics.get(m)]
    if rows:
        st.dataframe(pd.DataFrame({
            tr("model.ranker"): [tr(f"model.ranker.{m}") for m in rows],
            "AUC": [f"{metrics[m]['auc']:.3f} ({metrics[m].get('auc_low', float('nan')):.2f}–"
                    f"{metrics[m].get('auc_high', float('nan')):.2f})" for m in rows],
            "PR-AUC": [round(metrics[m]["pr_auc"], 3) for m in rows],
            "Brier": [round(metrics[m]["brier"], 4) for m in rows],
            tr("model.lift"): [round(metrics[m]["lift_top_decile"], 2) for m in rows],
        }), hide_index=True, width="stretch")
        val = ev.get("validation") or {}
        gain = ev.get("auc_gain_vs_rules") or {}
        key = "model.validation_cv" if status == "cross_sectional" else "model.validation"
        as_of = val.get("as_of", [])
        as_of = ", ".join(as_of) if isinstance(as_of, list) else str(as_of or "")
        st.caption(tr(key, as_of=as_of or "–",
                      rows=f"{val.get('rows', 0):,}", events=f"{val.get('events', 0):,}")
                   + (" " + tr("model.gain", diff=f"{gain['diff']:+.3f}",
                               low=f"{gain['low']:+.3f}", high=f"{gain['high']:+.3f}")
                      if gain.get("diff") is not None else ""))
    elif card.get("data_version") is not None:
        st.caption(tr("model.no_evaluation"))
    rules = card.get("rules_evaluation") or (ev.get("rules_evaluation") if ev else None)
    if rules:
        st.markdown(f"**{tr('model.rules_title')}**")
        st.dataframe(rules_table(rules), hide_index=True, width="stretch")
        weak = [r for r in rules if r.get("weak")]
        if weak:
            st.caption(tr("model.rules_weak", rules="、".join(
                r["label_zh"] if lang() == "zh" else r["label_en"] for r in weak)))


def rules_table(rules: list[dict]) -> pd.DataFrame:
    """Each transparent churn rule read against history: how often it fires, the churn rate
    when it does and when not, and its lift (a rule below 1 flags accounts that stay)."""
    zh = lang() == "zh"
    return pd.DataFrame({
        tr("model.rule"): [r["label_zh"] if zh else r["label_en"] for r in rules],
        tr("model.flagged_share"): [pct(r.get("flagged_share")) for r in rules],
        tr("model.rate_flagged"): [pct(r.get("rate_flagged")) for r in rules],
        tr("model.rate_not_flagged"): [pct(r.get("rate_not_flagged")) for r in rules],
        tr("model.rule_lift"): ["–" if r.get("lift") is None else f"{r['lift']:.2f}"
                                for r in rules],
        tr("model.weak"): [tr("model.weak_yes") if r.get("weak") else "" for r in rules],
    })


def survival_view(curves_by: dict[str, pd.DataFrame], *, key: str) -> None:
    """Kaplan-Meier survival by bundle depth or by tier, with a reading of the five-year
    survival of each group."""
    L = lang()
    by = st.segmented_control(tr("survival.by"), ["bundle", "tier"], default="bundle", key=key,
                              format_func={b: tr(f"survival.by.{b}") for b in
                                           ("bundle", "tier")}.get) or "bundle"
    curves = curves_by[by]
    groups = [g for g in curves["group"].unique() if g != "all"] + ["all"]
    labels = {g: tr("chart.all_accounts") if g == "all" else (
        tr("chart.families", n=g) if by == "bundle" else tr("chart.tier", tier=g))
        for g in groups}
    st.altair_chart(charts.survival_chart(curves, L, labels=labels, groups=groups),
                    width="stretch")
    at5 = curves[(curves["months"] == 60) & (curves["at_risk"] >= charts.MIN_AT_RISK)].set_index("group")
    if len(at5):
        st.caption(tr("survival.reading") + " " + " · ".join(
            f"{labels[g]} {at5.loc[g, 'survival']:.0%}" for g in groups if g in at5.index))


def unflagged_table(risk: pd.DataFrame, frame: pd.DataFrame, open_accounts: set[str],
                    n: int = 50) -> pd.DataFrame:
    """The live accounts in the model's top decile of churn probability that no open work
    order covers, by revenue at risk: where the rules are silent but the history says churn
    is likely."""
    p = risk["churn_probability"]
    if p.notna().sum() == 0:
        return pd.DataFrame()
    high = p >= p.quantile(0.9)  # the model's top decile: where it finds most of the churn
    r = risk[high & ~risk.index.isin(list(open_accounts))]
    ids = pd.Index(frame["account_id"].astype(str).to_numpy())
    r = r[ids.get_indexer(r.index) >= 0]
    top = r.nlargest(n, "revenue_at_risk")
    info = frame[[c for c in ("name", "name_en", "tier") if c in frame.columns]].iloc[
        ids.get_indexer(top.index)]
    from ui.state import feature_labels

    labels = feature_labels()
    idx = 1 if lang() == "zh" else 0
    factor = top["factor_1"].map(lambda f: labels.get(f, (f, f))[idx]
                                 if isinstance(f, str) else "")
    return pd.DataFrame({
        tr("col.account_id"): top.index,
        tr("col.name"): _name(info, "name", "name_en").to_numpy(),
        tr("col.tier"): info["tier"].to_numpy(),
        tr("col.churn_probability"): top["churn_probability"].to_numpy(),
        tr("col.value_at_risk"): top["revenue_at_risk"].round(0).to_numpy(),
        tr("col.lifetime_value"): top["lifetime_value"].round(0).to_numpy(),
        tr("col.main_factor"): factor.to_numpy(),
    })


def history_table(hist: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """A work order's events in words: when (a hit by the data day it was found on, anything
    else by when it was done), who, what, and the detail."""
    L = lang()

    who = person_namer(names)

    def words(kind: str, d: dict) -> str:
        if kind == "hit":
            return tr("history.hit", hits=d.get("hits", ""), severity=f"{d.get('severity', 0):.2f}")
        if kind == "escalate":
            reasons = [r.strip() for r in str(d.get("reason") or "").split(",") if r.strip()]
            return tr("history.escalate", who=who(d.get("assignee")), reason=", ".join(
                tr(f"history.reason.{r.replace(' ', '_')}") if r in _REASONS else r
                for r in reasons))
        if kind == "assign":
            return tr("history.assign", who=who(d.get("to")))
        if kind == "status":
            text = tr("history.status", old=tr(f"status.{d.get('from')}"),
                      new=tr(f"status.{d.get('to')}"))
            return text + (f": {d['note']}" if d.get("note") else "")
        if kind == "note":
            return str(d.get("note") or "")
        return ", ".join(f"{k}={v}" for k, v in d.items())

    details = [json.loads(d or "{}") for d in hist["detail"]]
    when = [d["as_of"] if k == "hit" and d.get("as_of") else str(at)[:16].replace("T", " ")
            for k, d, at in zip(hist["kind"], details, hist["at"], strict=True)]
    return pd.DataFrame({
        tr("col.date"): when,
        tr("col.user_id"): hist["user_id"].map(who),
        tr("col.kind"): hist["kind"].map(lambda k: tr(f"event.{k}") if k in _EVENTS else k),
        tr("col.note"): [words(k, d) for k, d in zip(hist["kind"], details, strict=True)],
    })


_EVENTS = ("hit", "escalate", "assign", "status", "note")
_REASONS = ("contested", "visibly churning")


def queue_filter(ranked: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """Filters over the work-order queue (warning, status, assignee, tier, escalated, within
    capacity); the rows that pass, in the queue's order."""
    L = lang()
    rules = sorted(ranked["rule"].dropna().unique())
    statuses = [s for s in ("new", "assigned", "contacted") if s in set(ranked["status"])]
    people = sorted(ranked["assignee_id"].dropna().unique(), key=lambda u: names.get(u, u))
    tiers = sorted(ranked["tier"].dropna().unique()) if "tier" in ranked.columns else []
    c = st.columns([3, 2, 2, 1])
    pick_rules = c[0].multiselect(tr("col.rule"), rules, key="ret_f_rule",
                                  format_func={r: i18n.rule(r, L) for r in rules}.get,
                                  placeholder=tr("filter.any"))
    pick_status = c[1].multiselect(tr("col.status"), statuses, key="ret_f_status",
                                   format_func={x: tr(f"status.{x}") for x in statuses}.get,
                                   placeholder=tr("filter.any"))
    pick_people = c[2].multiselect(tr("col.assignee"), people, key="ret_f_who",
                                   format_func={u: names.get(u, u) for u in people}.get,
                                   placeholder=tr("filter.any"))
    pick_tiers = c[3].multiselect(tr("col.tier"), tiers, key="ret_f_tier",
                                  placeholder=tr("filter.any"))
    t = st.columns(3)
    escalated = t[0].toggle(tr("retention.only_escalated"), key="ret_f_esc")
    fitting = t[1].toggle(tr("retention.only_fits"), key="ret_f_fits")
    keep = pd.Series(True, index=ranked.index)
    if pick_rules:
        keep &= ranked["rule"].isin(pick_rules)
    if pick_status:
        keep &= ranked["status"].isin(pick_status)
    if pick_people:
        keep &= ranked["assignee_id"].isin(pick_people)
    if pick_tiers:
        keep &= ranked["tier"].isin(pick_tiers)
    if escalated:
        keep &= ranked["escalated"].fillna(False).astype(bool)
    if fitting:
        keep &= ranked["fits"].fillna(False).astype(bool)
    out = ranked[keep].reset_index(drop=True)
    t[2].caption(tr("retention.shown", n=f"{len(out):,}", total=f"{len(ranked):,}"))
    return out
