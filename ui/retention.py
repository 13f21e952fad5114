"""Retention tables and charts for the Retention, My work and Account pages."""

from __future__ import annotations

import json

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from ui.session import labeller, lang, tr
from ui.widgets import dash, money, pct, person_namer
from valuation import charts, i18n
from valuation.access import User
from valuation.config import Settings

__all__ = ["capacity_table", "counter_table", "fresh_fields", "group_orders", "history_table",
           "model_card_view", "order_form", "order_table", "pipeline_table", "queue_config",
           "queue_filter", "queue_table", "rules_table", "survival_view", "unflagged_table",
           "var_chart"]


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
    order covers, by revenue at risk (``planning.model_flagged``), labelled: where the rules
    are silent but the history says churn is likely."""
    from ui.state import feature_labels
    from valuation.planning import model_flagged

    if risk["churn_probability"].notna().sum() == 0:
        return pd.DataFrame()
    top = model_flagged(risk, frame, open_accounts, n)

    labels = feature_labels()
    idx = 1 if lang() == "zh" else 0
    factor = top["factor_1"].map(lambda f: labels.get(f, (f, f))[idx]
                                 if isinstance(f, str) else "")
    return pd.DataFrame({
        tr("col.account_id"): top["account_id"].to_numpy(),
        tr("col.name"): _name(top, "name", "name_en").to_numpy(),
        tr("col.tier"): top["tier"].to_numpy(),
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
        if kind == "create":  # raised by hand
            pr = d.get("priority")
            text = tr("field.history.create", who=who(d.get("assignee")),
                      priority=tr(f"field.priority.{pr}") if pr in _PRIORITIES else str(pr),
                      due=str(d.get("due_date") or "–"))
            return text + (f": {d['note']}" if d.get("note") else "")
        return ", ".join(f"{k}={v}" for k, v in d.items())

    details = [json.loads(d or "{}") for d in hist["detail"]]
    when = [d["as_of"] if k == "hit" and d.get("as_of") else str(at)[:16].replace("T", " ")
            for k, d, at in zip(hist["kind"], details, hist["at"], strict=True)]
    return pd.DataFrame({
        tr("col.date"): when,
        tr("col.user_id"): hist["user_id"].map(who),
        tr("col.kind"): hist["kind"].map(lambda k: tr(f"event.{k}") if k in _EVENTS
                                         else tr("field.event.create") if k == "create" else k),
        tr("col.note"): [words(k, d) for k, d in zip(hist["kind"], details, strict=True)],
    })


_EVENTS = ("hit", "escalate", "assign", "status", "note")
_PRIORITIES = ("high", "normal", "low")
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
        keep &= ranked["fits"].eq(True)
    out = ranked[keep].reset_index(drop=True)
    t[2].caption(tr("retention.shown", n=f"{len(out):,}", total=f"{len(ranked):,}") + " · "
                 + tr("field.accounts_shown", n=f"{out['account_id'].nunique():,}"))
    return out


# ---------------------------------------------------------------------------------------------
# The queue by account, and work orders raised by hand
# ---------------------------------------------------------------------------------------------
_STATUS_RANK = {"new": 0, "assigned": 1, "contacted": 2}


def group_orders(orders: pd.DataFrame) -> pd.DataFrame:
    """One row per account of a queue of open orders (``ranked``: orders with the account's
    tier, value_at_risk, fits, priority): the account's rules (ids in rule order, the one
    raised by hand last), how many orders, the earliest due date, the highest severity, the
    least advanced status (new, assigned, contacted), the assignee of its most urgent order
    and how many people share the row, escalated when any is, hits summed, the account's
    priority. Ranked by priority, highest first (accounts without one last), then account.
    Whole columns: the only loop is over the rules."""
    from valuation.warnings import MANUAL, RULES

    cols = ["account_id", "account_name", "account_name_en", "tier", "value_at_risk", "fits",
            "priority", "rules", "orders", "due_date", "severity", "status", "assignee_id",
            "assignees", "escalated", "hits"]
    if orders.empty:
        return pd.DataFrame(columns=cols)
    o = orders.assign(due_date=pd.to_datetime(orders["due_date"]),
                      _rank=orders["status"].map(_STATUS_RANK).fillna(9),
                      _esc=orders["escalated"].fillna(False).astype(bool))
    for c in ("tier", "value_at_risk", "fits", "priority"):
        if c not in o.columns:
            o[c] = pd.NA
    # the most urgent order of each account first: earliest due, then the most severe
    o = o.sort_values(["account_id", "due_date", "severity", "work_order_id"],
                      ascending=[True, True, False, True], na_position="last", kind="stable")
    g = o.groupby("account_id", sort=False)
    first = g.first()
    out = pd.DataFrame({
        "account_name": first["account_name"],
        "account_name_en": first["account_name_en"],
        "tier": first["tier"], "value_at_risk": first["value_at_risk"],
        "fits": first["fits"], "priority": first["priority"],
        "orders": g.size(),
        "due_date": g["due_date"].min(),
        "severity": g["severity"].max(),
        "status": g["_rank"].min().map({v: k for k, v in _STATUS_RANK.items()}),
        "assignee_id": g["assignee_id"].first(),
        "assignees": g["assignee_id"].nunique(),
        "escalated": g["_esc"].max(),
        "hits": g["hits"].sum(min_count=1),
    })
    flags = pd.crosstab(o["account_id"], o["rule"]).reindex(out.index, fill_value=0)
    rules = pd.Series("", index=out.index, dtype=object)
    for rule in [r for r in (*RULES, MANUAL) if r in flags.columns]:  # over the rules only
        rules = rules + np.where(flags[rule].to_numpy() > 0, rule + ",", "")
    out["rules"] = rules.str.rstrip(",")
    out = out.rename_axis("account_id").reset_index()
    out = out.sort_values(["priority", "account_id"], ascending=[False, True],
                          na_position="last", kind="stable", ignore_index=True)
    return out[cols]


def queue_table(grouped: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """The queue by account (:func:`group_orders`) labelled for display: the warnings in one
    cell, the count of orders, the earliest due date, the highest severity."""
    L = lang()
    sep = "、" if L == "zh" else ", "
    labels = {r: i18n.rule(r, L) for r in set(",".join(grouped["rules"]).split(",")) if r}
    who = person_namer(names)
    more = grouped["assignees"].fillna(1).astype(int) - 1
    return pd.DataFrame({
        tr("col.account_id"): grouped["account_id"],
        tr("col.name"): _name(grouped, "account_name", "account_name_en"),
        tr("col.tier"): dash(grouped["tier"]),
        tr("col.rule"): grouped["rules"].str.split(",").map(
            lambda rs: sep.join(labels[r] for r in rs if r)),
        tr("field.col.orders"): grouped["orders"].astype(int),
        tr("col.priority"): grouped["priority"],
        tr("col.value_at_risk"): grouped["value_at_risk"],
        tr("col.fits"): grouped["fits"],
        tr("col.due_date"): pd.to_datetime(grouped["due_date"]),
        tr("col.status"): grouped["status"].map(
            lambda s: tr(f"status.{s}") if isinstance(s, str) else "–"),
        tr("col.assignee"): grouped["assignee_id"].map(lambda u: who(u) or "–")
        + np.where(more > 0, " +" + more.astype(str), ""),
        tr("col.escalated"): grouped["escalated"].map({True: "⬆", False: ""}).fillna(""),
        tr("col.severity"): grouped["severity"].round(2),
        tr("col.hits"): grouped["hits"],
    })


def fresh_fields(key: str, subject: str, defaults: dict[str, object]) -> None:
    """Start a form's fields (widget keys -> values) from ``defaults``: the first time, after
    a save (``{key}_reset`` set by the page), or when the form is about another ``subject``
    (an account) than last time. Set through the session state, before the widgets, so the
    browser shows them too (a widget keeps what it showed unless its value is set); the
    widgets themselves then take no ``value`` / ``index``. A refused save keeps what was
    typed."""
    again = st.session_state.pop(f"{key}_reset", False)
    again = again or st.session_state.get(f"{key}_for") != subject
    st.session_state[f"{key}_for"] = subject
    for k, v in defaults.items():
        if again or k not in st.session_state:
            st.session_state[k] = v


def queue_config() -> dict[str, object]:
    """The queue by account's formats: :func:`order_config`, with the long text columns held
    to a width that leaves the counts, priority and due date in view."""
    return {**order_config(),
            tr("col.name"): st.column_config.TextColumn(width="medium"),
            tr("col.rule"): st.column_config.TextColumn(width="medium"),
            tr("field.col.orders"): st.column_config.NumberColumn(width="small"),
            tr("col.tier"): st.column_config.TextColumn(width="small")}


def order_form(analysed_frame: pd.DataFrame, settings: Settings, account_id: str, user: User,
               people: pd.DataFrame, *, key: str) -> None:
    """Raise a work order by hand for ``account_id`` (:func:`valuation.warnings.create_order`):
    priority, due date (counted from the data's date, as the warnings' are), assignee (the
    account's owner by default; an account manager raises them for themselves, a lead for
    the team, an admin for anyone), a note. ``people``: the users table."""
    from ui import state, widgets
    from valuation import warnings as W
    from valuation.features import live_accounts
    from valuation.store import ConflictError

    L = lang()
    as_of = pd.Timestamp(analysed_frame.attrs["as_of"]).date()
    live = live_accounts(analysed_frame, ["account_id", "tier", "owner_id"])
    acc = live[live["account_id"].astype(str).eq(str(account_id)).to_numpy()]
    if acc.empty:
        st.caption(tr("field.order_not_live"))
        return
    mine = W.orders_for(state.store(), str(account_id))
    still = mine[mine["rule"].eq(W.MANUAL) & ~mine["status"].isin(W.FINAL)]
    if len(still):  # one open order raised by hand per account: say so before the form
        o = still.iloc[0]
        st.info(tr("field.order_open", id=o["work_order_id"],
                   due=str(pd.Timestamp(o["due_date"]).date()),
                   who=widgets.plain(person_namer()(o["assignee_id"]) or "–"),
                   status=tr(f"status.{o['status']}")))
        return
    p = people.reset_index() if "user_id" not in people.columns else people
    if user.role == "account_manager":
        pool = p[p["user_id"] == user.user_id]
    elif user.role == "sales_lead":
        pool = p[(p["team_id"] == user.team_id)
                 & p["role"].isin(["account_manager", "sales_lead"])]
    else:
        pool = p[p["role"].isin(["account_manager", "sales_lead"])]
    col = "name" if L == "zh" else "name_en"
    labels = dict(zip(pool["user_id"].astype(str), pool[col].fillna(pool["name"]), strict=True))
    options = list(labels) or [user.user_id]
    owner = str(acc["owner_id"].iloc[0])
    fields = {f: f"{key}_{f}" for f in ("priority", "due", "who", "note")}
    fresh_fields(key, f"{account_id}@{as_of}", {
        fields["priority"]: "normal",
        fields["due"]: W.due_for(settings, acc["tier"].iloc[0], as_of),
        fields["who"]: owner if owner in options else options[0],
        fields["note"]: ""})
    with st.form(f"{key}_form", border=False):
        c1, c2 = st.columns(2)
        priority = c1.radio(tr("field.priority"), list(W.MANUAL_PRIORITIES), horizontal=True,
                            key=fields["priority"],
                            format_func=labeller("field.priority.", list(W.MANUAL_PRIORITIES)))
        due = c2.date_input(tr("col.due_date"), min_value=as_of, key=fields["due"],
                            help=tr("field.due_help", as_of=as_of.isoformat()))
        who = st.selectbox(tr("col.assignee"), options, key=fields["who"],
                           disabled=len(options) == 1,
                           format_func=lambda u: f"{labels.get(u, u)} ({u})")
        note = st.text_area(tr("field.order_note"), key=fields["note"], max_chars=1000,
                            height=80, placeholder=tr("field.order_note_hint"))
        submitted = st.form_submit_button(tr("field.create_order"), type="primary",
                                          icon=":material/assignment_add:")
    if not submitted:
        return
    try:
        wid = W.create_order(state.store(), analysed_frame, settings, account_id=str(account_id),
                             user=user, priority=str(priority), due_date=due, assignee=who,
                             note=note or None)
    except W.OpenManualOrder as exc:
        st.warning(tr("field.order_exists", id=exc.work_order_id))
    except (ConflictError, ValueError) as exc:
        st.error(tr("field.failed", error=str(exc)))
    else:
        st.session_state[f"{key}_reset"] = True
        widgets.flash(tr("field.order_created", id=wid, due=str(due),
                         who=widgets.plain(labels.get(who, who))))
        st.rerun()
