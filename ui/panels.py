"""Account-page sections for the valuation: scores and reasons, strategy, path, history."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import streamlit as st

from ui import state, widgets
from ui.session import fragment, labeller, lang, tr
from ui.widgets import money
from valuation import charts, history, i18n, planning, positioning
from valuation import warnings as W
from valuation.access import User, can_edit_accounts
from valuation.measures import MEASURES
from valuation.pyramid import path_to_next_tier
from valuation.scoring import explain
from valuation.store import ConflictError

__all__ = ["at_a_glance", "bundle_section", "churn_panel", "field_actions",
           "interaction_history", "plan_editor", "retention_section", "valuation_section"]


def at_a_glance(account_id: str, row: pd.Series) -> None:
    """The account manager's first question in one row: how valuable (value score, tier and
    what it is entitled to), how at risk (churn probability, value at risk), what is open
    (work orders, the most urgent) and what to do next (the strategy's first action)."""
    a = state.analysis()
    L = lang()
    settings = a.settings
    risk = state.churn_scores()
    orders = W.orders_for(state.store(), account_id)
    open_orders = orders[~orders["status"].isin(W.FINAL)].sort_values("due_date", kind="stable")
    c = st.columns([2, 2, 2, 3])
    with c[0].container(border=True):
        tier = settings.tier(row["tier"]) if isinstance(row["tier"], str) else None
        st.metric(tr("col.value_score"), f"{row['value_score']:.1f}"
                  + (f" · {tier.code}" if tier else ""), help=tr("help.value"))
        st.caption(i18n.grade(row["value_grade"], L) + (f" · {tier.label(L)}" if tier else ""))
    with c[1].container(border=True):
        if account_id in risk.index:
            r = risk.loc[account_id]
            source = risk.attrs.get("risk_source", "none")
            st.metric(tr("account.churn_risk"), _probability(float(r["churn_probability"])),
                      help=tr("account.churn_probability",
                              months=risk.attrs.get("horizon_months", 6))
                      + ". " + tr(f"account.risk_source.{source}"))
            st.caption(tr("account.revenue_at_risk") + " " + money(float(r["revenue_at_risk"])))
        else:
            st.metric(tr("account.churn_risk"), "–")
            st.caption(tr("account.churn_not_live"))
    with c[2].container(border=True):
        st.metric(tr("retention.open_orders"), f"{len(open_orders):,}")
        if open_orders.empty:
            st.caption(tr("account.no_orders"))
        else:
            first = open_orders.iloc[0]
            st.caption(widgets.plain(f"{i18n.rule(first['rule'], L)} · "
                                     + tr("account.due", date=str(first["due_date"])[:10])))
    with c[3].container(border=True):
        st.markdown(f"**{tr('account.next_step')}: {i18n.strategy(row['strategy'], L)}**")
        actions = positioning.actions(row["strategy"], row["approach"], row["lifecycle_stage"],
                                      L)
        st.caption(" · ".join(actions[:2]) if actions else i18n.strategy_help(row["strategy"], L))


def field_actions(account_id: str, user: User) -> None:
    """Field work from the account, side by side under the at-a-glance row: log a call, visit,
    e-mail or meeting, and raise a work order by hand (both closed until opened)."""
    if not can_edit_accounts(user):
        return
    left, right = st.columns(2)
    with left, st.expander(tr("field.log_title"), icon=":material/call:"):
        contact_form(account_id, user)
    with right, st.expander(tr("field.order_title"), icon=":material/assignment_add:"):
        from ui import retention as R

        a = state.analysis()
        R.order_form(a.frame, a.settings, account_id, user, state.users(), key="acc_wo")


def _today() -> date:
    """The reader's calendar date (the browser's time zone, else the server's): the latest day
    a contact can be logged for."""
    tz = getattr(st.context, "timezone", None)
    if tz:
        try:
            from zoneinfo import ZoneInfo

            return datetime.now(ZoneInfo(str(tz))).date()
        except (KeyError, ValueError):
            pass
    return date.today()


def contact_form(account_id: str, user: User) -> None:
    """Log a contact: what it was, when (the contact's own date, by the calendar: today by
    default, never later), a note and what came of it."""
    from valuation import contacts

    from ui.retention import fresh_fields

    today = _today()
    fields = {f: f"acc_ct_{f}" for f in ("kind", "date", "outcome", "note")}
    fresh_fields("acc_ct", f"{account_id}@{today}", {
        fields["kind"]: contacts.KINDS[0], fields["date"]: today, fields["outcome"]: "",
        fields["note"]: ""})
    outcomes = {"": "–", **{o: tr(f"field.outcome.{o}") for o in contacts.OUTCOMES}}
    with st.form("acc_ct_form", border=False):
        kind = st.radio(tr("col.kind"), list(contacts.KINDS), horizontal=True, key=fields["kind"],
                        format_func=labeller("field.kind.", list(contacts.KINDS)))
        c1, c2 = st.columns(2)
        day = c1.date_input(tr("field.contact_date"), max_value=today, key=fields["date"],
                            help=tr("field.contact_date_help"))
        outcome = c2.selectbox(tr("col.outcome"), list(outcomes), key=fields["outcome"],
                               format_func=outcomes.get)
        note = st.text_area(tr("field.contact_note"), key=fields["note"], height=80,
                            max_chars=contacts.MAX_NOTE, placeholder=tr("field.contact_note_hint"))
        submitted = st.form_submit_button(tr("field.log_save"), type="primary",
                                          icon=":material/edit_note:")
    if not submitted:
        return
    try:
        contacts.log_contact(state.store(), account_id, user=user, kind=str(kind), day=day,
                             note=note or None, outcome=outcome or None, today=today)
    except (ConflictError, ValueError) as exc:
        st.error(tr("field.failed", error=str(exc)))
    else:
        st.session_state["acc_ct_reset"] = True
        widgets.flash(tr("field.logged", kind=tr(f"field.kind.{kind}"), date=str(day)))
        st.rerun()


def interaction_history(account_id: str) -> None:
    """The account's interactions, imported and logged here, newest first; which is which,
    and what the scores count."""
    from valuation import contacts

    L = lang()
    h = contacts.interaction_history(state.store(), account_id)
    logged = h["source"].eq("app")
    kinds = h["kind"].astype(object)
    kind = np.where(logged, kinds.map(lambda k: tr(f"field.kind.{k}")
                                      if k in contacts.KINDS else str(k)),
                    kinds.map(lambda k: i18n.enum("interaction_kind", k, L)))
    outcome = h["outcome"].map(lambda o: tr(f"field.outcome.{o}")
                               if o in contacts.OUTCOMES else "")
    st.dataframe(pd.DataFrame({
        tr("col.date"): pd.to_datetime(h["date"]),
        tr("col.kind"): kind,
        tr("col.source"): np.where(logged, tr("field.source.app"), tr("field.source.import")),
        tr("col.user_id"): h["user_id"].map(widgets.person_namer()),
        tr("col.outcome"): outcome,
        tr("col.note"): h["note"].astype(object).where(h["note"].notna(), ""),
    }), hide_index=True, width="stretch", height=min(360, 35 * (len(h) + 1) + 3),
        column_config={tr("col.date"): st.column_config.DateColumn(format="YYYY-MM-DD"),
                       tr("col.note"): st.column_config.TextColumn(width="large")})
    st.caption(tr("field.history_caption", n=f"{int(logged.sum()):,}"))


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
        gone = a.card.unavailable.get(row["model"], ())
        if gone:
            st.caption(tr("account.unavailable", measures="、".join(
                MEASURES[m].label_zh for m in gone) if L == "zh" else ", ".join(
                MEASURES[m].label_en for m in gone)))
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


def retention_section(account_id: str, user: User) -> None:
    """Warnings and work orders with their timeline; churn risk, its reasons, lifetime value
    and survival; the plan."""
    store = state.store()
    L = lang()
    left, right = st.columns([1, 1])
    with left:
        st.markdown(f"**{tr('account.orders')}**")
        orders = W.orders_for(store, account_id)
        if orders.empty:
            st.caption(tr("account.no_orders"))
        else:
            hit = orders["rule"].ne(W.MANUAL)  # one raised by hand has no hits: blank
            st.dataframe(pd.DataFrame({
                tr("col.rule"): orders["rule"].map(lambda r: i18n.rule(r, L)),
                tr("col.status"): orders["status"].map(lambda s: tr(f"status.{s}")),
                tr("col.hits"): orders["hits"].where(hit),
                "first": pd.to_datetime(orders["first_hit"]),
                "last": pd.to_datetime(orders["last_hit"]).where(hit),
                tr("col.due_date"): pd.to_datetime(orders["due_date"]),
            }).rename(columns={"first": tr("account.first_hit"), "last": tr("account.last_hit")}),
                hide_index=True, width="stretch", column_config={
                    k: st.column_config.DateColumn(format="YYYY-MM-DD") for k in (
                        tr("account.first_hit"), tr("account.last_hit"), tr("col.due_date"))})
            hits = W.hit_timeline(store, account_id)
            if not hits.empty:
                st.markdown(f"**{tr('chart.warnings_timeline')}**")
                st.altair_chart(charts.warnings_timeline_chart(
                    hits, L, rule_label=lambda r: i18n.rule(r, L),
                    status_label=lambda s: i18n.t(f"status.{s}", L)), width="stretch")
    open_orders = orders[~orders["status"].isin(W.FINAL)]
    with right:
        churn_panel(account_id, has_open_order=not open_orders.empty)
    plan_editor(account_id, user, open_orders)


def _probability(p: float) -> str:
    if not np.isfinite(p):
        return "–"
    return ">99%" if p >= 0.995 else ("<1%" if p < 0.005 else f"{p:.0%}")


def churn_panel(account_id: str, *, has_open_order: bool) -> None:
    """Churn probability and its main factors, lifetime value, value at risk and the
    account's survival curve (its bundle depth against the whole portfolio)."""
    FEATURE_LABELS = state.feature_labels()  # noqa: N806 - the model's, product ones too
    risk = state.churn_scores()
    st.markdown(f"**{tr('account.churn_risk')}**")
    if account_id not in risk.index:
        st.caption(tr("account.churn_not_live"))
        return
    L = lang()
    r = risk.loc[account_id]
    source = risk.attrs.get("risk_source", "none")
    c = st.columns(2)
    c[0].metric(tr("account.churn_probability", months=risk.attrs.get("horizon_months", 6)),
                _probability(float(r["churn_probability"])),
                help=tr(f"account.risk_source.{source}"))
    c[1].metric(tr("account.revenue_at_risk"), money(float(r["revenue_at_risk"])),
                help=tr("account.revenue_at_risk_help"))
    c = st.columns(2)
    c[0].metric(tr("account.lifetime_value"), money(float(r["lifetime_value"])),
                help=tr("account.lifetime_value_help", months=f"{r['remaining_months']:.0f}"))
    c[1].metric(tr("account.ltv_at_risk"), money(float(r["ltv_at_risk"])),
                help=tr("account.ltv_at_risk_help"))
    if source == "none":
        st.caption(tr("account.no_churn_model"))
    elif (not has_open_order
          and float(r["churn_probability"]) >= float(risk["churn_probability"].quantile(0.9))):
        st.warning(tr("account.model_only_risk"))  # no open order: the rules are silent
    factors = [(r[f"factor_{j}"], r[f"weight_{j}"]) for j in range(1, 4)
               if f"factor_{j}" in r.index and isinstance(r[f"factor_{j}"], str)]
    base = risk.attrs.get("base_rate")
    if source == "model" and base and float(r["churn_probability"]) < base:
        st.caption(tr("account.low_risk", base=f"{base:.1%}"))
    elif factors:
        idx = 1 if L == "zh" else 0
        lines = [f"- {FEATURE_LABELS.get(f, (f, f))[idx]}" + (
            f" (+{w:.2f})" if source == "model" else "") for f, w in factors]
        st.markdown(tr("account.churn_factors_title") + "\n" + "\n".join(lines))
        if source == "model":
            st.caption(tr("account.churn_factors_help"))
    else:
        st.caption(tr("account.no_factors"))
    a = state.analysis().frame
    row = a[a["account_id"] == account_id].iloc[0]
    group = str(int(row["our_families"]))
    curves = state.survival_curves("bundle")
    drawn = curves[(curves["group"] == group) & (curves["at_risk"] >= charts.MIN_AT_RISK)]
    if drawn.empty:
        st.caption(tr("account.no_survival", n=group))
    else:
        tenure = (pd.Timestamp(a.attrs["as_of"]) - pd.Timestamp(row["onboard_date"])).days / 30.4375
        labels = {g: tr("chart.all_accounts") if g == "all" else tr("chart.families", n=g)
                  for g in curves["group"].unique()}
        fits = state.survival_fits()
        if group in fits:
            from valuation.churn import conditional_survival

            ahead = conditional_survival(fits[group], tenure, months=60)
            st.caption(tr("account.still_here", y1=f"{ahead.loc[12]:.0%}",
                          y3=f"{ahead.loc[36]:.0%}", y5=f"{ahead.loc[60]:.0%}"))
        st.markdown(f"**{tr('chart.survival_title')}**")
        st.altair_chart(charts.survival_chart(
            curves, L, labels=labels, groups=[group, "all"], highlight=group,
            tenure_months=tenure, height=280), width="stretch")


def plan_editor(account_id: str, user: User, open_orders: pd.DataFrame) -> None:
    """The account plan: objectives with action, owner, due date and status, the open work
    order it answers (of ``open_orders``, the account's) and the suggestion it follows."""
    store = state.store()
    plans = planning.plans_for(store, account_id)
    L = lang()
    b = state.bundle()
    pname = b.products.set_index("product_id")["name" if L == "zh" else "name_en"].to_dict()
    st.markdown(f"**{tr('account.plans')}**")
    if not plans.empty:
        st.dataframe(pd.DataFrame({
            tr("col.objective"): plans["objective"].map(lambda o: tr(f"objective.{o}")),
            tr("col.action"): plans["action"].map(lambda x: i18n.plan_action(x, L)),
            tr("col.owner"): plans["owner_id"].map(widgets.person_namer()),
            tr("col.due_date"): pd.to_datetime(plans["due_date"]),
            tr("col.status"): plans["status"].map(lambda s: tr(f"plan_status.{s}")),
            tr("col.work_order"): plans["work_order_rule"].map(
                lambda r: i18n.rule(r, L) if isinstance(r, str) else ""),
            tr("col.product"): plans["product_id"].map(lambda p: pname.get(p, p) or ""),
            tr("col.note"): plans["note"],
        }), hide_index=True, width="stretch",
            column_config={tr("col.due_date"): st.column_config.DateColumn(format="YYYY-MM-DD")})
    if not can_edit_accounts(user):
        st.caption(tr("account.read_only"))
        return
    from ui.retention import fresh_fields

    # afresh after a save or for another account; a refused save keeps what the user typed
    fresh_fields("plan", str(account_id), {
        "plan_objective": planning.OBJECTIVES[0], "plan_action": "", "plan_work_order": "",
        "plan_product": "", "plan_due": None, "plan_edit": "", "plan_status": "open",
        "plan_note": ""})
    with st.expander(tr("account.add_plan"), icon=":material/add_task:"):
        with st.form(f"plan_{account_id}"):
            objective = st.selectbox(tr("col.objective"), list(planning.OBJECTIVES),
                                     format_func=labeller("objective.", list(planning.OBJECTIVES)),
                                     key="plan_objective")
            action = st.text_input(tr("col.action"), key="plan_action",
                                   help=tr("account.plan_action_help"))
            order_labels = {"": "–", **{o: f"{i18n.rule(r, L)} · {tr('status.' + st_)}"
                                        for o, r, st_ in zip(open_orders["work_order_id"],
                                                             open_orders["rule"],
                                                             open_orders["status"], strict=True)}}
            work_order = st.selectbox(tr("account.plan_work_order"), list(order_labels),
                                      format_func=order_labels.get, key="plan_work_order")
            recs = state.recommendations_for(account_id)
            rec_labels = {"": "–", **{p: pname.get(p, p) for p in recs["product_id"]}}
            product = st.selectbox(tr("account.plan_product"), list(rec_labels),
                                   format_func=rec_labels.get, key="plan_product")
            due = st.date_input(tr("col.due_date"), key="plan_due")
            if not plans.empty:
                edit = st.selectbox(tr("account.update_plan"), ["", *plans["plan_id"]],
                                    format_func=_plan_labels(plans), key="plan_edit")
                status = st.selectbox(tr("col.status"), list(planning.PLAN_STATUSES),
                                      format_func=labeller("plan_status.",
                                                           list(planning.PLAN_STATUSES)),
                                      key="plan_status")
            else:
                edit, status = "", "open"
            note = st.text_input(tr("col.note"), key="plan_note")
            submitted = st.form_submit_button(tr("mywork.save"), type="primary")
        if submitted:
            if product and not action:  # following a suggestion: it names the action
                action = tr("account.plan_offer", product=rec_labels[product])
            row = {"account_id": account_id, "objective": objective, "owner_id": user.user_id,
                   "status": status, "action": action or None, "note": note or None,
                   "due_date": due, "work_order_id": work_order or None,
                   "product_id": product or None}
            expected = None
            if edit:
                current = plans.set_index("plan_id").loc[edit]
                row = {"plan_id": edit, "status": status,
                       **({"note": note} if note else {}), **({"action": action} if action else {}),
                       **({"due_date": due} if due else {}),
                       **({"work_order_id": work_order} if work_order else {}),
                       **({"product_id": product} if product else {})}
                expected = int(current["version"])
            try:
                planning.save_plan(store, row, user=user.user_id, expected_version=expected)
            except planning.PlanIncomplete as exc:
                st.error(tr("field.plan_missing", what=_missing_words(exc.missing)))
            except (ConflictError, ValueError) as exc:
                st.error(tr("mywork.conflict", error=str(exc)))
            else:
                st.session_state["plan_reset"] = True
                widgets.flash(tr("account.plan_saved"))
                st.rerun()


def _missing_words(missing: list[str]) -> str:
    """What an incomplete plan lacks, in the reader's words ("an action and a due date")."""
    words = [tr(f"field.plan_needs.{m}") for m in missing]
    return tr("field.and", a=words[0], b=words[1]) if len(words) == 2 else words[0]


def _plan_labels(plans: pd.DataFrame) -> object:
    labels = {"": "–"}
    labels.update({p: f"{tr('objective.' + o)} · {i18n.plan_action(a, lang())}" for p, o, a in
                   zip(plans["plan_id"], plans["objective"], plans["action"], strict=True)})
    return labels.get


def bundle_section(account_id: str) -> None:
    """The account's corner of the product graph, why its switching cost is what it is,
    the next-best products with their reasons, and a what-if."""
    from valuation import bundling

    b = state.bundle()
    L = lang()
    zh = L == "zh"
    held = b.holdings.held(account_id)
    recs = state.recommendations_for(account_id)
    pname = b.products.set_index("product_id")["name" if zh else "name_en"].to_dict()
    left, right = st.columns([3, 2])
    with left:
        nodes, edges = bundling.ego_graph(b.graph, held, recommended=recs["product_id"])
        nodes = nodes.assign(state=np.where(nodes["held"], "held",
                                            np.where(nodes["recommended"], "recommended", "other")))
        st.altair_chart(charts.product_graph_chart(nodes, edges, L, height=380,
                                                   title_key="chart.ego_graph",
                                                   ink=widgets.ink()), width="stretch")
    with right:
        parts = bundling.explain_bundle(b.metrics, account_id, lang=L)
        st.markdown(f"**{tr('bundle.switching_why')}**")
        st.dataframe(parts[["label", "value", "computed"]].rename(columns={
            "label": tr("chart.measure"), "value": tr("col.field_value"),
            "computed": tr("bundle.computed")}), hide_index=True, width="stretch", height=300)
    st.markdown(f"**{tr('bundle.next_best')}**")
    if recs.empty:
        st.caption(tr("bundle.no_recs"))
    else:
        st.dataframe(pd.DataFrame({
            tr("col.product"): recs["product_id"].map(pname),
            tr("col.family"): recs["family"].map(lambda f: i18n.enum("family", f, L)),
            tr("bundle.reason"): [
                bundling.REASONS[r][1 if zh else 0]
                + (f" ({pname.get(p, p)}, {tr('bundle.lift', x=f'{x:.2f}')})"
                   if isinstance(p, str) else "")
                for r, p, x in zip(recs["reason_code"], recs["because_product"],
                                   recs["because_lift"].fillna(0), strict=True)],
            tr("bundle.loyalty_gain"): recs["loyalty_gain"].round(1),
            tr("bundle.expected_revenue"): recs["expected_revenue"].round(0),
        }), hide_index=True, width="stretch")
        st.caption(tr("bundle.suggestions_only"))
    what_if_panel(account_id, tuple(recs["product_id"].head(1)))


@fragment
def what_if_panel(account_id: str, suggested: tuple[str, ...] = ()) -> None:
    """Add or remove products and see the scores, tier, churn risk and lifetime value move:
    a change reruns this panel only, not the whole Account page."""
    from valuation import bundling

    b = state.bundle()
    a = state.analysis()
    zh = lang() == "zh"
    held = b.holdings.held(account_id)
    pname = b.products.set_index("product_id")["name" if zh else "name_en"].to_dict()
    st.markdown(f"**{tr('bundle.what_if')}**")
    ours = b.products[b.products["provider"] == "ours"]["product_id"]
    c1, c2 = st.columns(2)
    add = c1.multiselect(tr("bundle.add"), [p for p in ours if p not in set(held)],
                         default=list(suggested), format_func=pname.get,
                         key="wi_add", placeholder=tr("filter.any"))
    remove = c2.multiselect(tr("bundle.remove"), list(held), format_func=pname.get, key="wi_remove",
                            placeholder=tr("filter.any"))
    if add or remove:
        wi = bundling.what_if(a, b.holdings, b.products, account_id, add=add, remove=remove,
                              graph=b.graph, contracts=state.contracts_of(account_id))
        t = wi.table
        show = t[t["metric"].isin(["families_covered", "products_held", "switching_cost",
                                   "our_spend", "value_score", "loyalty_score",
                                   "competitor_score", "tier"])]
        labels = {k: (v[1] if zh else v[0]) for k, v in bundling.METRIC_LABELS.items()}
        labels |= {"value_score": tr("col.value_score"), "loyalty_score": tr("col.loyalty_score"),
                   "competitor_score": tr("col.competitor_score"), "tier": tr("col.tier")}
        labels["our_spend"] = tr("bundle.our_spend")
        from valuation.churn import what_if_risk

        risk = what_if_risk(state.churn_row(account_id), wi.changes, settings=a.settings,
                            model=state.churn_model(), survival=state.survival_fits())
        if len(risk):
            show = pd.concat([show, pd.DataFrame({"metric": risk.index,
                                                  "before": risk["before"].to_numpy(),
                                                  "after": risk["after"].to_numpy()})])
        labels |= {"churn_probability": tr("account.churn_probability",
                                           months=state.churn_scores().attrs["horizon_months"]),
                   "remaining_months": tr("bundle.remaining_months"),
                   "lifetime_value": tr("account.lifetime_value")}

        def shown(metric: str, v: object) -> str:
            if metric in ("our_spend", "lifetime_value"):
                return money(float(v))  # type: ignore[arg-type]
            if metric == "churn_probability":
                return f"{float(v):.1%}"  # type: ignore[arg-type]
            return f"{v:,.1f}" if isinstance(v, float) else str(v)

        st.dataframe(pd.DataFrame({
            tr("chart.measure"): show["metric"].map(lambda m: labels.get(m, m)),
            tr("bundle.today"): [shown(m, v) for m, v in zip(show["metric"], show["before"],
                                                             strict=True)],
            tr("bundle.after"): [shown(m, v) for m, v in zip(show["metric"], show["after"],
                                                             strict=True)],
        }), hide_index=True, width="stretch", height=36 * (len(show) + 1) + 4)  # no scrolling
