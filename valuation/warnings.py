"""Churn early warnings (W1-W7b per member line, account rules) and virtual work orders."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from valuation import schema
from valuation.access import User, scope_sql
from valuation.config import SETTINGS, Settings
from valuation.features import frame_as_of, live_accounts, load_sql
from valuation.store import ConflictError, Store, Tx

__all__ = [
    "ACCOUNT_RULES",
    "ALLOWED",
    "COUNTER_PLAN_PREFIX",
    "COUNTER_PLAN_SUFFIX",
    "FINAL",
    "LINE_RULES",
    "MANUAL",
    "MANUAL_PRIORITIES",
    "OpenManualOrder",
    "RULES",
    "STATUSES",
    "account_rule_params",
    "account_warnings",
    "add_note",
    "assign",
    "create_order",
    "due_for",
    "hit_timeline",
    "line_warnings",
    "open_orders",
    "order_history",
    "orders_for",
    "rule_summary",
    "summarise",
    "sync_work_orders",
    "transition",
    "warn_and_dispatch",
]

# The action of the counter-poaching plan an escalation writes: prefix + reason(s) + suffix
# (``i18n.plan_action`` shows it in the reader's language).
COUNTER_PLAN_PREFIX = "反抢计划 Counter-poaching plan ("
COUNTER_PLAN_SUFFIX = ("): the team lead visits, learns the competitor's offer and writes the "
                       "response and retention offer")

# Rule id -> (level, English label, Chinese label). Line rules are evaluated per member line and
# rolled up per account; account rules on the account's contracts, bills, contacts, holdings.
RULES: dict[str, tuple[str, str, str]] = {
    "W1": ("line", "Average daily spend dropped", "日均话费突降"),
    "W2": ("line", "No outgoing voice calls", "连续无主动语音呼出"),
    "W3": ("line", "Calls forwarded to another operator", "呼转异网"),
    "W4": ("account", "Contract ending soon", "协议到期"),
    "W5": ("line", "Low credit-control balance", "信控余额不足"),
    "W6": ("line", "Suspended by the customer", "主动停机"),
    "W7a": ("line", "High ARPU before, low prepaid balance now",
            "往月高ARPU,近日低预存款"),
    "W7b": ("line", "Only SMS or value-added use, no voice", "仅短信/增值业务,无语音"),
    "bill_drop": ("account", "Account bill dropped", "账单突降"),
    "arrears": ("account", "Arrears over the threshold", "欠费超限"),
    "complaint": ("account", "Escalated complaint", "升级投诉"),
    "competitor_new": ("account", "Competitor product newly held", "新增异网业务"),
}
LINE_RULES = tuple(r for r, v in RULES.items() if v[0] == "line")
ACCOUNT_RULES = tuple(r for r, v in RULES.items() if v[0] == "account")
# The rule of a work order raised by hand (:func:`create_order`): no warning rule of
# RULES, so a dispatch never hits, updates, closes or escalates it.
MANUAL = "manual"
# Its priorities, highest first: the base severity of each is retention.manual_priority.
MANUAL_PRIORITIES = ("high", "normal", "low")

# Work-order status flow. A false alarm can be declared as soon as the data is checked (new,
# assigned) or after the call-back (contacted); retained / lost only after a contact.
STATUSES = ("new", "assigned", "contacted", "retained", "lost", "false_alarm")
FINAL = frozenset({"retained", "lost", "false_alarm"})
ALLOWED: dict[str, frozenset[str]] = {
    "new": frozenset({"assigned", "false_alarm"}),
    "assigned": frozenset({"contacted", "false_alarm"}),
    "contacted": frozenset({"retained", "lost", "false_alarm"}),
    "retained": frozenset(),
    "lost": frozenset(),
    "false_alarm": frozenset(),
}

_MONTH_DAYS = 30  # W1 compares the 30 days ending at as_of with the 30 days before
_COMPLAINT_DAYS = 30  # default look-back of the escalated-complaint rule (see _setting)
_WO = schema.table("work_orders").names
_SYNC_RETRIES = 8
_PLANS = schema.table("plans").names
_EVENTS = schema.table("work_order_events").names


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------
def line_warnings(
    store: Store, *, settings: Settings, as_of: date | None = None, tripped_only: bool = False
) -> pd.DataFrame:
    """Rules W1-W7b for every member line open on ``as_of`` (default: the data's as-of date).

    One row per line open on ``as_of`` with usage in the last 60 days: line_id, account_id,
    line_type, the figures (avg_spend_cur / avg_spend_prev: average daily spend over the
    recorded days of the 30 days ending at ``as_of`` / of the 30 days before; spend_drop;
    last_call: the last day with an outgoing call; balance on ``as_of``; days_since_call) and a
    boolean per rule:

    - ``w1``: spend_drop = 1 - avg_spend_cur / avg_spend_prev is *more than*
      ``warnings.w1_spend_drop`` (a drop of exactly 30% does not trip).
    - ``w2``: each of the last ``warnings.w2_silent_days`` days (ending at ``as_of``, all
      recorded) has no outgoing voice call, SMS not counted, and the line made a call earlier
      in the window (a line that never calls, e.g. a data card, is not "going silent").
    - ``w3``: each of the last ``warnings.w3_forward_days`` days has calls forwarded off-net.
    - ``w4``: the line's account has a contract ending within ``warnings.w4_contract_months``
      calendar months (an account rule, carried to the line for display).
    - ``w5``: balance on ``as_of`` below ``warnings.w5_balance``.
    - ``w6``: self-suspended on ``as_of``.
    - ``w7a``: average daily spend over the previous month (the 30 days before the 30 days
      ending at ``as_of``: "往月") at least ``warnings.w7a_high_spend`` and balance on
      ``as_of`` below ``warnings.w7a_low_balance``.
    - ``w7b``: each of the last ``warnings.w7b_days`` days has SMS or value-added use but no
      outgoing voice, after some voice use earlier in the window.

    A run of exactly N days trips; a missing day breaks a run.
    """
    day = frame_as_of(store, None, as_of)
    params = _line_params(day, settings)
    df = _sql_frame(store, load_sql("line_warnings"), params)
    since = (pd.Timestamp(day) - pd.to_datetime(df["last_call"])).dt.days
    df["days_since_call"] = since.astype("Int64")
    flags = [r.lower() for r in LINE_RULES] + ["w4"]
    if tripped_only:
        df = df[df[flags].any(axis=1)]
    return df.sort_values(["account_id", "line_id"], ignore_index=True)


def account_warnings(
    store: Store,
    analysed_frame: pd.DataFrame,
    *,
    settings: Settings,
    as_of: date | None = None,
) -> pd.DataFrame:
    """One row per (account, rule) that trips on ``as_of``, for live accounts of the frame.

    ``as_of`` defaults to the frame's own as-of (``attrs["as_of"]``), else the data's.
    Line rules (W1-W3, W5-W7b) trip for an account when at least ``warnings.line_share`` of
    its member lines observed on ``as_of`` trip (and at least one does). Account rules:

    - ``W4``: a contract of any type ends on or after ``as_of`` and on or before ``as_of`` +
      ``warnings.w4_contract_months`` calendar months (30 Nov + 3 months = 28 Feb: day 90
      trips, day 91 does not).
    - ``bill_drop``: the bill of the latest billed month on or before ``as_of`` is below the
      average of the three months before it by more than ``warnings.bill_drop``.
    - ``arrears``: arrears of the bills of the last 3 months (month after ``as_of`` - 3
      months) above ``warnings.arrears``.
    - ``complaint``: an escalated complaint within ``warnings.complaint_days`` days
      (default 30) up to ``as_of``.
    - ``competitor_new``: a competitor product first held within
      ``warnings.competitor_new_days`` days up to ``as_of`` and still held.

    Columns: account_id, rule, level, lines (observed), lines_tripped, line_share, tier, base,
    weight, severity, detail (JSON text with the figures, e.g. ``{"drop": 0.42, ...}``).
    ``base`` is 0.5 + 0.5 x line_share for a line rule, 1 for an account rule; ``severity`` =
    base x ``warnings.severity_weights`` of the account's tier (top tier first).
    """
    day = frame_as_of(store, analysed_frame, as_of)
    params = _line_params(day, settings)
    rollup_sql = load_sql("line_rollup").replace("/*LINE_WARNINGS*/", load_sql("line_warnings"))
    rollup = _sql_frame(store, rollup_sql, params)
    line_rows = _line_rule_rows(rollup, settings)
    acc_rows = _account_rule_rows(store, day, settings)
    out = pd.concat([line_rows, acc_rows], ignore_index=True)
    frame = live_accounts(analysed_frame, ["account_id", "tier"])
    out = out.merge(frame, on="account_id", how="inner")
    weights = np.asarray(settings.get("warnings.severity_weights"), dtype=float)
    out["weight"] = weights[_tier_index(out["tier"], settings)]
    out["severity"] = (out["base"] * out["weight"]).round(4)
    out["level"] = out["rule"].map({r: v[0] for r, v in RULES.items()})
    cols = ["account_id", "rule", "level", "lines", "lines_tripped", "line_share", "tier", "base",
            "weight", "severity", "detail"]
    out = out[cols].sort_values(["severity", "account_id", "rule"], ascending=[False, True, True])
    out = out.reset_index(drop=True)
    out.attrs["as_of"] = day.isoformat()
    return out


def summarise(warnings: pd.DataFrame) -> pd.DataFrame:
    """Per account: rules tripping (count and ids in rule order), total and top severity, and
    the most member lines tripping any one rule (when the input has lines_tripped)."""
    cols = ["account_id", "rules", "rule_list", "severity", "max_severity", "lines_tripped"]
    if warnings.empty:
        return pd.DataFrame(columns=cols)
    g = warnings.groupby("account_id")
    out = pd.DataFrame({
        "rules": g["rule"].nunique(),
        "severity": g["severity"].sum().round(4),
        "max_severity": g["severity"].max(),
    })
    out["rule_list"] = _rule_lists(warnings).reindex(out.index)
    if "lines_tripped" in warnings.columns:
        out["lines_tripped"] = g["lines_tripped"].max()
    else:
        out["lines_tripped"] = pd.NA
    out = out.reset_index()[cols]
    return out.sort_values(["severity", "account_id"], ascending=[False, True], ignore_index=True)


def rule_summary(warnings: pd.DataFrame) -> pd.DataFrame:
    """Per rule: accounts tripping, member lines tripping, total severity (every rule listed)."""
    g = warnings.groupby("rule")
    out = pd.DataFrame({
        "accounts": g["account_id"].nunique(),
        "lines_tripped": g["lines_tripped"].sum(min_count=1),
        "severity": g["severity"].sum(),
    }).reindex(list(RULES))
    out["accounts"] = out["accounts"].fillna(0).astype(int)
    out["severity"] = out["severity"].fillna(0.0)
    out["level"] = [RULES[r][0] for r in out.index]
    return out.rename_axis("rule").reset_index()


# ---------------------------------------------------------------------------------------------
# Virtual work orders (虚拟工单)
# ---------------------------------------------------------------------------------------------
def sync_work_orders(
    store: Store,
    warnings_df: pd.DataFrame,
    analysed_frame: pd.DataFrame,
    settings: Settings,
    *,
    as_of: date,
    user: str,
) -> dict[str, int]:
    """Turn the warnings of ``as_of`` into work orders, in one transaction; return counts.

    Per (account, rule) there is at most one open order (status not final). A warning with an
    open order adds a ``hit`` event and bumps ``hits`` / ``last_hit`` / ``severity``, once per
    ``as_of`` (syncing the same date twice changes nothing). Without an open order a new one
    opens (status ``new``, assignee the account owner, or the team lead with
    ``retention.assign_to = "lead"``, due ``as_of`` + ``retention.due_days`` of the tier),
    unless the last closed order of that account and rule already counted a hit on or after
    ``as_of``: closed orders are never reopened, a later hit opens a new order.

    Escalation: when the account is contested (competitor_score at least
    ``retention.escalate_competitor``) or visibly churning (at least
    ``retention.escalate_rules`` distinct rules tripping at once), each of its open orders not
    yet escalated (orders raised by hand excepted) is escalated to the team lead
    (``escalated``, assignee the lead, an ``escalate`` event) and, unless the account already
    has an open ``win_back`` plan, a counter-poaching plan (反抢计划) stub is written to
    ``plans`` for the lead, linked to the account's most severe escalated order.

    Every changed row is versioned and audited (before / after JSON). Returns counts: created,
    updated, escalated, plans, unchanged (hit already counted), skipped (closed for this date).
    """
    day = pd.Timestamp(as_of).normalize()
    hits = _dispatch(store, warnings_df, analysed_frame, settings, day)
    if hits.empty:
        return dict(created=0, updated=0, escalated=0, plans=0, unchanged=0, skipped=0)
    for attempt in range(_SYNC_RETRIES):  # another process may sync or edit at the same time
        try:
            return _sync(store, hits, day, user=user)
        except ConflictError:
            if attempt == _SYNC_RETRIES - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _sync(store: Store, hits: pd.DataFrame, day: pd.Timestamp, *, user: str) -> dict[str, int]:
    """One attempt of :func:`sync_work_orders`: read, decide, write with version checks."""
    at = _now()
    counts = dict(created=0, updated=0, escalated=0, plans=0, unchanged=0, skipped=0)
    key = ["account_id", "rule"]
    all_orders = _orders_table(store)
    with store.transaction() as tx:
        existing = all_orders[all_orders["account_id"].isin(hits["account_id"])]
        final = existing["status"].isin(FINAL)
        open_ = existing[~final]
        closed_last = (existing[final].groupby(key)["last_hit"].max()
                       .rename("closed_last_hit").reset_index())
        n_orders = existing.groupby(key).size().rename("n_orders").reset_index()
        h = (hits.merge(open_[[*key, "work_order_id", "last_hit"]], on=key, how="left")
             .merge(closed_last, on=key, how="left").merge(n_orders, on=key, how="left"))
        has_open = h["work_order_id"].notna()
        is_update = has_open & (h["last_hit"] < day)
        is_create = ~has_open & ~(h["closed_last_hit"] >= day)
        counts["unchanged"] = int((has_open & ~is_update).sum())
        counts["skipped"] = int((~has_open & ~is_create).sum())

        new = _new_orders(all_orders, h[is_create], day)
        parts = [f for f in (open_, new) if len(f)]
        rows = pd.concat(parts, ignore_index=True) if parts else open_.copy()
        rows["_new"] = rows["work_order_id"].isin(new["work_order_id"])
        upd = h.loc[is_update, ["work_order_id", "severity"]]
        m_upd = rows["work_order_id"].isin(upd["work_order_id"]).to_numpy()
        sev = rows["work_order_id"].map(upd.set_index("work_order_id")["severity"])
        rows.loc[m_upd, "hits"] = rows.loc[m_upd, "hits"] + 1
        rows.loc[m_upd, "last_hit"] = day
        rows.loc[m_upd, "severity"] = sev[m_upd]

        esc = hits.loc[hits["escalate"]].drop_duplicates("account_id").set_index("account_id")
        # an order raised by hand keeps the assignee its author chose: never escalated here
        m_esc = (rows["account_id"].isin(esc.index) & ~rows["escalated"].eq(True)
                 & rows["rule"].ne(MANUAL)).to_numpy()
        lead = rows["account_id"].map(esc["lead_id"])
        rows.loc[m_esc, "escalated"] = True
        rows.loc[m_esc & lead.notna().to_numpy(), "assignee_id"] = lead[m_esc & lead.notna()]

        changed = rows[rows["_new"].to_numpy() | m_upd | m_esc].copy()
        m_upd_c = changed["work_order_id"].isin(upd["work_order_id"])
        m_esc_c = changed["work_order_id"].isin(rows.loc[m_esc, "work_order_id"])
        changed["version"] = np.where(changed["_new"], 1, changed["version"].fillna(0) + 1)
        changed["updated_at"] = at
        changed["updated_by"] = user
        changed["_action"] = np.select(
            [changed["_new"] & m_esc_c, changed["_new"], m_upd_c & m_esc_c, m_upd_c],
            ["create+escalate", "create", "hit+escalate", "hit"], "escalate")
        store.app.upsert_frame("work_orders", changed, user=user, at=at, tx=tx)

        plans = _counter_poaching_plans(store, changed[m_esc_c], esc)
        if len(plans):
            plans["version"] = 1
            plans["updated_at"] = at
            plans["updated_by"] = user
            plans["_action"] = "create"
            store.app.upsert_frame("plans", plans, user=user, at=at, tx=tx)

        hit_rows = changed[changed["_new"] | m_upd_c].merge(
            h[[*key, "detail"]], on=key, how="left")
        events = [pd.DataFrame({
            "work_order_id": hit_rows["work_order_id"],
            "kind": "hit",
            "detail": ('{"as_of": "' + day.date().isoformat() + '", "first": '
                       + hit_rows["_new"].map({True: "true", False: "false"}) + ', "hits": '
                       + hit_rows["hits"].astype(int).astype(str) + ', "severity": '
                       + hit_rows["severity"].round(4).astype(str) + ', "rule_detail": '
                       + hit_rows["detail"].fillna("null") + "}"),
        })]
        esc_rows = changed[m_esc_c]
        if len(esc_rows):
            e = esc.loc[esc_rows["account_id"]]
            plan_of = plans.set_index("account_id")["plan_id"] if len(plans) else pd.Series(
                dtype=object)
            events.append(pd.DataFrame({
                "work_order_id": esc_rows["work_order_id"].to_numpy(),
                "kind": "escalate",
                "detail": _json_lines(pd.DataFrame({
                    "reason": e["reason"].to_numpy(),
                    "assignee": esc_rows["assignee_id"].to_numpy(),
                    "competitor_score": e["competitor_score"].round(1).to_numpy(),
                    "rules": e["n_rules"].astype(int).to_numpy(),
                    "plan_id": esc_rows["account_id"].map(plan_of).to_numpy(),
                })).to_numpy(),
            }))
        _insert_events(store, tx, pd.concat(events, ignore_index=True), user=user, at=at,
                       row_key={"as_of": day.date().isoformat(), "sync": True})
    counts["created"] = int(changed["_new"].sum())
    counts["updated"] = int(m_upd_c.sum())
    counts["escalated"] = int(m_esc_c.sum())
    counts["plans"] = len(plans)
    return counts


def warn_and_dispatch(
    store: Store,
    analysed_frame: pd.DataFrame,
    settings: Settings,
    *,
    user: str,
    as_of: date | None = None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Evaluate the warnings of ``as_of`` and sync them into work orders: (warnings, counts)."""
    day = frame_as_of(store, analysed_frame, as_of)
    w = account_warnings(store, analysed_frame, settings=settings, as_of=day)
    return w, sync_work_orders(store, w, analysed_frame, settings, as_of=day, user=user)


def transition(
    store: Store,
    work_order_id: str,
    status: str,
    *,
    user: str,
    expected_version: int,
    note: str | None = None,
    outcome: str | None = None,
) -> int:
    """Move a work order to ``status`` (see ALLOWED); return its new version.

    Raises ConflictError when the order changed since ``expected_version`` was read, and
    ValueError for an unknown order or status or a move the flow does not allow (naming the
    from and to status). ``assigned`` needs an assignee. The change is versioned and audited
    and adds a ``status`` event with the note and outcome.
    """
    if status not in STATUSES:
        raise ValueError(f"unknown work-order status {status!r} (one of {', '.join(STATUSES)})")
    cur = _order(store, work_order_id)
    if int(cur["version"]) != expected_version:
        raise ConflictError(
            f"work order {work_order_id} was changed by {cur['updated_by']} (version "
            f"{int(cur['version'])}, you edited version {expected_version})")
    frm = str(cur["status"])
    if status not in ALLOWED[frm]:
        allowed = ", ".join(sorted(ALLOWED[frm])) or "none: it is closed"
        raise ValueError(
            f"work order {work_order_id}: cannot move from {frm!r} to {status!r} "
            f"(allowed from {frm!r}: {allowed})")
    if status == "assigned" and _isna(cur["assignee_id"]):
        raise ValueError(f"work order {work_order_id}: assign someone before 'assigned'")
    row: dict[str, Any] = {"work_order_id": work_order_id, "status": status}
    if note is not None:
        row["note"] = note
    if outcome is not None:
        row["outcome"] = outcome
    with store.transaction() as tx:  # the order and its history land together
        version = store.write_row("work_orders", row, user=user,
                                  expected_version=expected_version,
                                  action=f"status {frm}->{status}", tx=tx)
        _event(store, work_order_id, "status",
               {"from": frm, "to": status, "note": note, "outcome": outcome}, user=user, tx=tx)
    return version


def assign(
    store: Store,
    ids: Iterable[str],
    assignee: str,
    *,
    user: str,
    expected_versions: Mapping[str, int] | None = None,
) -> int:
    """Assign open work orders to ``assignee`` in one transaction; return how many.

    ``new`` orders move to ``assigned``; others keep their status. All or nothing: an unknown
    or closed order, an unknown assignee, or (with ``expected_versions``) an order changed
    since it was read refuses the whole batch. Each row is versioned and audited and gets an
    ``assign`` event.
    """
    ids = list(dict.fromkeys(ids))
    if not ids:
        return 0
    if not store.scalar("SELECT count(*) FROM users WHERE user_id = ?", [assignee]):
        raise ValueError(f"no user {assignee!r}")
    at = _now()
    orders = _orders_table(store)
    with store.transaction() as tx:
        cur = orders[orders["work_order_id"].isin(ids)].reset_index(drop=True)
        missing = sorted(set(ids) - set(cur["work_order_id"]))
        if missing:
            raise ValueError(f"no work order {', '.join(missing)}")
        closed = cur.loc[cur["status"].isin(FINAL), "work_order_id"]
        if len(closed):
            raise ValueError(f"closed work orders cannot be assigned: {', '.join(sorted(closed))}")
        if expected_versions is not None:
            exp = cur["work_order_id"].map(expected_versions)
            stale = cur.loc[exp.isna() | (exp != cur["version"]), "work_order_id"]
            if len(stale):
                raise ConflictError(f"work orders changed since read: {', '.join(sorted(stale))}")
        new = cur.copy()
        new["assignee_id"] = assignee
        new["status"] = np.where(cur["status"] == "new", "assigned", cur["status"])
        new["version"] = cur["version"] + 1
        new["updated_at"] = at
        new["updated_by"] = user
        new["_action"] = "assign"
        store.app.upsert_frame("work_orders", new, user=user, at=at, tx=tx)
        detail = _json_lines(pd.DataFrame({
            "from": cur["assignee_id"].to_numpy(), "to": assignee,
            "status_from": cur["status"].to_numpy(), "status_to": new["status"].to_numpy()}))
        _insert_events(store, tx, pd.DataFrame({"work_order_id": cur["work_order_id"],
                                                "kind": "assign",
                                         "detail": detail.to_numpy()}),
                       user=user, at=at, row_key={"assign": assignee})
    return len(cur)


def add_note(
    store: Store,
    work_order_id: str,
    note: str,
    *,
    user: str,
    expected_version: int | None = None,
) -> int:
    """Set the order's latest note and add a ``note`` event; return the new version."""
    _order(store, work_order_id)
    with store.transaction() as tx:
        version = store.write_row("work_orders", {"work_order_id": work_order_id, "note": note},
                                  user=user, expected_version=expected_version, action="note",
                                  tx=tx)
        _event(store, work_order_id, "note", {"note": note}, user=user, tx=tx)
    return version


class OpenManualOrder(ValueError):
    """The account already has an open work order raised by hand (one per account, as one
    per account and warning rule): add a note to it instead."""

    def __init__(self, account_id: str, work_order_id: str) -> None:
        super().__init__(f"account {account_id} already has an open work order raised by hand "
                         f"({work_order_id}): add a note to it instead")
        self.account_id = account_id
        self.work_order_id = work_order_id


def due_for(settings: Settings, tier: object, as_of: date) -> date:
    """The due date of a work order opened on ``as_of`` for an account of ``tier``: ``as_of``
    + ``retention.due_days`` of the tier (rounded up; an unknown tier: the last tier's)."""
    idx = int(_tier_index(pd.Series([tier], dtype=object), settings)[0])
    days = float(np.asarray(settings.get("retention.due_days"), dtype=float)[idx])
    return (pd.Timestamp(as_of) + pd.Timedelta(days=int(np.ceil(days)))).date()


def create_order(
    store: Store,
    analysed_frame: pd.DataFrame,
    settings: Settings,
    *,
    account_id: str,
    user: User,
    priority: str = "normal",
    due_date: date | None = None,
    assignee: str | None = None,
    note: str | None = None,
    as_of: date | None = None,
) -> str:
    """Raise a work order by hand (rule :data:`MANUAL`) for one live account; return its id.

    Through the same table and versioned, audited write as dispatched orders: the order is
    written as a new row (``expected_version=0``) with a ``create`` event, in one
    transaction. It opens ``assigned`` to ``assignee`` (default: the account's owner, else the
    author), due ``due_date`` (default: ``as_of`` + ``retention.due_days`` of the account's
    tier; never before ``as_of``, the data's date the overdue count is read against), with
    severity = ``retention.manual_priority`` of ``priority`` (high, normal, low) x the tier's
    ``warnings.severity_weights``, as a rule's base severity is weighted, so the retention
    priority ranks it with the warnings. ``first_hit`` / ``last_hit`` are ``as_of`` (the
    frame's as-of by default), ``hits`` 0.

    A weekly dispatch never touches it: no warning rule is ``manual``, and escalation leaves
    orders raised by hand with the assignee their author chose. Its id,
    ``WO-<account>-manual-<n>``, cannot be the id of a dispatched order.

    Refused (ValueError) for a user who may not write (an executive), an account outside the
    user's scope, unknown or no longer live, an unknown priority or assignee, an assignee
    the user may not give work to (an account manager: themselves; a sales lead: their
    team; an admin: anyone), a due date before ``as_of``; :class:`OpenManualOrder` when the
    account already has an open order raised by hand. A concurrent create of the same order
    is a ConflictError.
    """
    from valuation.access import can_edit_accounts

    account_id = str(account_id)
    if not can_edit_accounts(user):
        raise ValueError(f"{user.user_id} ({user.role}) may not raise work orders")
    pred, params = scope_sql(user, alias="a")
    if not store.scalar(f"SELECT count(*) FROM accounts a WHERE a.account_id = ? AND ({pred})",
                        [account_id, *params]):
        raise ValueError(f"account {account_id!r} is not in the scope of {user.user_id}")
    if priority not in MANUAL_PRIORITIES:
        raise ValueError(f"priority {priority!r} not one of {', '.join(MANUAL_PRIORITIES)}")
    live = live_accounts(analysed_frame, ["account_id", "tier", "owner_id"])
    acc = live[live["account_id"].astype(str).eq(account_id).to_numpy()]
    if acc.empty:
        raise ValueError(f"account {account_id!r} is not a live account of the portfolio")
    day = pd.Timestamp(frame_as_of(store, analysed_frame, as_of)).normalize()
    tier = acc["tier"].astype(object)
    idx = int(_tier_index(tier, settings)[0])
    bases = [float(b) for b in settings.get("retention.manual_priority")]
    if len(bases) != len(MANUAL_PRIORITIES):
        raise ValueError("retention.manual_priority: one base severity per priority "
                         f"({', '.join(MANUAL_PRIORITIES)}), not {bases}")
    weight = float(np.asarray(settings.get("warnings.severity_weights"), dtype=float)[idx])
    severity = round(bases[MANUAL_PRIORITIES.index(priority)] * weight, 4)
    if due_date is None:
        due = pd.Timestamp(due_for(settings, acc["tier"].iloc[0], day.date()))
    else:
        due = pd.Timestamp(due_date).normalize()
        if due < day:
            raise ValueError(f"due date {due.date()} is before the data's date {day.date()}")
    owner = acc["owner_id"].iloc[0]
    users = store.query("SELECT user_id, role, team_id FROM users").set_index("user_id")
    if assignee is None:
        assignee = str(owner) if not _isna(owner) and str(owner) in users.index else user.user_id
    if assignee not in users.index:
        raise ValueError(f"no user {assignee!r}")
    if user.role == "account_manager" and assignee != user.user_id:
        raise ValueError(f"an account manager raises work orders for themselves, not for "
                         f"{assignee}")
    if user.role == "sales_lead" and assignee != user.user_id and (
            users.at[assignee, "team_id"] != user.team_id):
        raise ValueError(f"{assignee} is not in the team of {user.user_id}")
    mine = orders_for(store, account_id)
    manual = mine[mine["rule"].eq(MANUAL)]
    still_open = manual[~manual["status"].isin(FINAL)]
    if len(still_open):
        raise OpenManualOrder(account_id, str(still_open["work_order_id"].iloc[0]))
    work_order_id = f"WO-{account_id}-{MANUAL}-{len(manual) + 1}"
    if store.app.scalar("SELECT count(*) FROM work_orders WHERE work_order_id = :w",
                        {"w": work_order_id}):
        work_order_id += "-" + uuid.uuid4().hex[:8]
    text = (note or "").strip() or None
    row = {"work_order_id": work_order_id, "account_id": account_id, "rule": MANUAL,
           "status": "assigned", "assignee_id": assignee, "severity": severity,
           "due_date": due.date(), "first_hit": day.date(), "last_hit": day.date(), "hits": 0,
           "escalated": False, "outcome": None, "note": text}
    with store.transaction() as tx:  # the order and its first event land together
        store.write_row("work_orders", row, user=user.user_id, expected_version=0,
                        action="create manual", tx=tx)
        _event(store, work_order_id, "create",
               {"as_of": day.date().isoformat(), "priority": priority, "severity": severity,
                "assignee": assignee, "due_date": due.date().isoformat(), "note": text},
               user=user.user_id, tx=tx)
    return work_order_id


def open_orders(
    store: Store, user: User | None = None, *, include_closed: bool = False
) -> pd.DataFrame:
    """Work orders the user may see, most severe first (open only unless ``include_closed``).

    Account manager: orders assigned to them or on accounts they own. Sales lead: orders on
    their team's accounts or assigned to a member of their team. Executive, admin or no user:
    all. Adds the account's name, owner and the owner's team.
    """
    where = ["TRUE"] if include_closed else [
        "w.status NOT IN (" + ", ".join(f"'{s}'" for s in sorted(FINAL)) + ")"]
    params: list[Any] = []
    if user is not None and user.role in ("account_manager", "sales_lead"):
        pred, p = scope_sql(user, alias="a")
        if user.role == "account_manager":
            where.append(f"(({pred}) OR w.assignee_id = ?)")
            params += [*p, user.user_id]
        else:
            where.append(
                f"(({pred}) OR w.assignee_id IN (SELECT user_id FROM users WHERE team_id = ?))")
            params += [*p, user.team_id or ""]
    cols = ", ".join(f"w.{c}" for c in _WO)
    return store.query(
        f"""SELECT {cols}, a.name AS account_name, a.name_en AS account_name_en, a.owner_id,
                   u.team_id
            FROM work_orders w
            LEFT JOIN accounts a ON a.account_id = w.account_id
            LEFT JOIN users u ON u.user_id = a.owner_id
            WHERE {' AND '.join(where)}
            ORDER BY w.severity DESC, w.due_date, w.work_order_id""",
        params,
    )


def orders_for(store: Store, account_id: str) -> pd.DataFrame:
    """Every work order of one account, newest first hit first."""
    wo = store.app.tables["work_orders"]
    df = store.app.select("work_orders", wo.c.account_id == str(account_id))
    return df.sort_values(["first_hit", "work_order_id"], ascending=[False, True],
                          na_position="last", kind="stable").reset_index(drop=True)


def hit_timeline(store: Store, account_id: str) -> pd.DataFrame:
    """Every warning hit of one account's work orders, by the data date it was found on:
    work_order_id, rule, status (the order's now), day, severity; oldest first."""
    rows = store.app.query(
        """SELECT o.work_order_id, o.rule, o.status, e.detail
           FROM work_order_events e JOIN work_orders o ON o.work_order_id = e.work_order_id
           WHERE o.account_id = :a AND e.kind = 'hit'""", {"a": str(account_id)})
    return store.query(
        """SELECT work_order_id, rule, status,
                  CAST(json_extract_string(detail, '$.as_of') AS DATE) AS day,
                  CAST(json_extract(detail, '$.severity') AS DOUBLE) AS severity
           FROM _hits ORDER BY day, rule""", frames={"_hits": rows.astype(object)})


def order_history(store: Store, work_order_id: str) -> pd.DataFrame:
    """The events of one work order (hits, assignments, escalation, statuses, notes), in order."""
    return store.app.query(
        """SELECT event_id, work_order_id, at, user_id, kind, detail FROM work_order_events
           WHERE work_order_id = :w
           ORDER BY at, CASE kind WHEN 'hit' THEN 0 WHEN 'escalate' THEN 1 ELSE 2 END,
                    event_id""",
        {"w": str(work_order_id)})


# ---------------------------------------------------------------------------------------------
# Private helpers: rules
# ---------------------------------------------------------------------------------------------


def _setting(settings: Settings, name: str, default: Any) -> Any:
    """A setting that may not be registered yet: its value, else the registry's default."""
    if name in settings.values:
        return settings.values[name]
    return SETTINGS[name][0] if name in SETTINGS else default


def _line_params(day: date, settings: Settings) -> dict[str, Any]:
    ts = pd.Timestamp(day)

    def back(n: int) -> date:
        return (ts - pd.Timedelta(days=int(n))).date()

    n2 = int(settings.get("warnings.w2_silent_days"))
    n3 = int(settings.get("warnings.w3_forward_days"))
    n7 = int(settings.get("warnings.w7b_days"))
    return {
        "as_of": day,
        "cur_start": back(_MONTH_DAYS),
        "prev_start": back(2 * _MONTH_DAYS),
        "w2_start": back(n2), "w3_start": back(n3), "w7b_start": back(n7),
        "scan_start": back(max(2 * _MONTH_DAYS, n2, n3, n7)),
        "w4_end": (ts + pd.DateOffset(months=int(settings.get("warnings.w4_contract_months"))))
        .date(),
        "w1": float(settings.get("warnings.w1_spend_drop")),
        "w2_days": n2, "w3_days": n3, "w7b_days": n7,
        "w5": float(settings.get("warnings.w5_balance")),
        "w7a_spend": float(settings.get("warnings.w7a_high_spend")),
        "w7a_balance": float(settings.get("warnings.w7a_low_balance")),
    }


def _sql_frame(store: Store, sql: str, params: Mapping[str, Any]) -> pd.DataFrame:
    cur = store.cursor()
    try:
        return cur.sql(sql, params=dict(params)).df()
    finally:
        cur.close()


def _line_rule_rows(rollup: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Long rows (account_id, rule, lines, lines_tripped, line_share, base, detail)."""
    min_share = float(settings.get("warnings.line_share"))
    figures = {  # rule -> {detail key: roll-up column}
        "W1": {"drop": "w1_drop"},
        "W2": {"days": None}, "W3": {"days": None}, "W7b": {"days": None},
        "W5": {"min_balance": "w5_balance"},
        "W6": {},
        "W7a": {"avg_daily_spend_before": "w7a_spend", "min_balance": "w7a_balance"},
    }
    days = {"W2": settings.get("warnings.w2_silent_days"),
            "W3": settings.get("warnings.w3_forward_days"),
            "W7b": settings.get("warnings.w7b_days")}
    parts = []
    for rule in LINE_RULES:  # a loop over the seven rules, never over accounts
        n = rollup[f"{rule.lower()}_lines"].fillna(0).astype(int)
        share = (n / rollup["lines"]).round(9)
        keep = (n > 0) & (share >= min_share)
        r = rollup.loc[keep]
        d = pd.DataFrame({"lines": n[keep], "of": r["lines"], "share": share[keep].round(4)})
        for k, col in figures[rule].items():
            d[k] = int(days[rule]) if col is None else r[col].round(4)
        parts.append(pd.DataFrame({
            "account_id": r["account_id"], "rule": rule, "lines": r["lines"].astype(int),
            "lines_tripped": n[keep], "line_share": share[keep],
            "base": 0.5 + 0.5 * share[keep], "detail": _json_lines(d),
        }))
    return pd.concat(parts, ignore_index=True)


def account_rule_params(day: date, bill_month: date | None, settings: Settings
                        ) -> dict[str, Any]:
    """The parameters of ``warn_account_rules.sql`` as of ``day``: the date bounds and
    thresholds of the account rules; ``bill_month`` is the latest billed month (default:
    ``day``)."""
    ts = pd.Timestamp(day)
    month = pd.Timestamp(bill_month if bill_month is not None else ts).date()
    complaint_days = int(_setting(settings, "warnings.complaint_days", _COMPLAINT_DAYS))
    return {
        "as_of": day,
        "w4_end": (ts + pd.DateOffset(months=int(settings.get("warnings.w4_contract_months"))))
        .date(),
        "bill_month": month,
        "bill_prev_start": (pd.Timestamp(month) - pd.DateOffset(months=3)).date(),
        "bill_drop": float(settings.get("warnings.bill_drop")),
        "arrears_start": (ts - pd.DateOffset(months=3)).date(),
        "arrears": float(settings.get("warnings.arrears")),
        "complaint_start": (ts - pd.Timedelta(days=complaint_days)).date(),
        "competitor_start": (ts - pd.Timedelta(days=int(
            settings.get("warnings.competitor_new_days")))).date(),
    }


def _account_rule_rows(store: Store, day: date, settings: Settings) -> pd.DataFrame:
    bill_month = store.scalar("SELECT max(month) FROM billing_monthly WHERE month <= ?", [day])
    params = account_rule_params(day, None if bill_month is None
                                 else pd.Timestamp(bill_month).date(), settings)
    raw = _sql_frame(store, load_sql("warn_account_rules"), params)
    details = {
        "W4": lambda r: pd.DataFrame({"contracts": r["v1"].astype(int),
                                      "value": r["v2"].round(2), "next_end": r["txt"]}),
        "bill_drop": lambda r: pd.DataFrame({
            "bill": r["v1"].round(2), "previous_avg": r["v2"].round(2),
            "drop": (1 - r["v1"] / r["v2"]).round(4)}),
        "arrears": lambda r: pd.DataFrame({"arrears": r["v1"].round(2),
                                           "threshold": float(params["arrears"])}),
        "complaint": lambda r: pd.DataFrame({"complaints": r["v1"].astype(int),
                                             "latest": r["txt"]}),
        "competitor_new": lambda r: pd.DataFrame({
            "products": r["txt"], "count": r["v1"].astype(int),
            "monthly_spend": r["v2"].round(2)}),
    }
    parts = []
    for rule, make in details.items():  # a loop over the five rules
        r = raw[raw["rule"] == rule]
        parts.append(pd.DataFrame({
            "account_id": r["account_id"], "rule": rule, "lines": pd.NA, "lines_tripped": pd.NA,
            "line_share": np.nan, "base": 1.0, "detail": _json_lines(make(r)),
        }))
    out = pd.concat(parts, ignore_index=True)
    out["lines"] = out["lines"].astype("Int64")
    out["lines_tripped"] = out["lines_tripped"].astype("Int64")
    return out


def _rule_lists(warnings: pd.DataFrame) -> pd.Series:
    """Comma-joined rule ids per account, in RULES order (a loop over rules, not accounts)."""
    flags = pd.crosstab(warnings["account_id"], warnings["rule"])
    lists = pd.Series("", index=flags.index, dtype=object)
    for rule in [r for r in RULES if r in flags.columns]:
        lists = lists + np.where(flags[rule].to_numpy() > 0, rule + ",", "")
    return lists.str.rstrip(",")


def _tier_index(tier: pd.Series, settings: Settings) -> np.ndarray:
    """Position of each tier code in settings.tiers (top first); unknown: the last tier."""
    codes = {t.code: i for i, t in enumerate(settings.tiers)}
    return tier.map(codes).fillna(len(settings.tiers) - 1).astype(int).to_numpy()


def _json_lines(df: pd.DataFrame) -> pd.Series:
    """One JSON object (text) per row, same index; NaN becomes null."""
    if df.empty:
        return pd.Series([], index=df.index, dtype=object)
    text = df.to_json(orient="records", lines=True, force_ascii=False, double_precision=6)
    return pd.Series(text.splitlines(), index=df.index, dtype=object)


# ---------------------------------------------------------------------------------------------
# Private helpers: work orders
# ---------------------------------------------------------------------------------------------
def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _isna(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _dispatch(store: Store, warnings_df: pd.DataFrame, analysed_frame: pd.DataFrame,
              settings: Settings, day: pd.Timestamp) -> pd.DataFrame:
    """The warnings joined to their account's tier, owner, lead, due date and escalation."""
    acc = analysed_frame[["account_id", "tier", "owner_id", "team_id", "competitor_score"]]
    hits = (warnings_df[["account_id", "rule", "severity", "detail"]]
            .drop_duplicates(["account_id", "rule"]).merge(acc, on="account_id", how="inner"))
    leads = store.query("SELECT team_id, lead_id FROM teams")
    hits = hits.merge(leads, on="team_id", how="left")
    hits["lead_id"] = hits["lead_id"].astype(object).where(hits["lead_id"].notna(), None)
    idx = _tier_index(hits["tier"], settings)
    due = np.ceil(np.asarray(settings.get("retention.due_days"), dtype=float)[idx])
    hits["due_date"] = day + pd.to_timedelta(due, unit="D")
    to = settings.get("retention.assign_to")
    if to not in ("owner", "lead"):
        raise ValueError(f"retention.assign_to: owner or lead, not {to!r}")
    hits["dispatch"] = hits["owner_id"] if to == "owner" else hits["lead_id"].fillna(
        hits["owner_id"])
    hits["n_rules"] = hits.groupby("account_id")["rule"].transform("nunique")
    contested = hits["competitor_score"].fillna(0) >= float(
        settings.get("retention.escalate_competitor"))
    churning = hits["n_rules"] >= int(settings.get("retention.escalate_rules"))
    hits["escalate"] = contested | churning
    hits["reason"] = np.select([contested & churning, contested, churning],
                               ["contested, visibly churning", "contested", "visibly churning"],
                               "")
    return hits


def _typed_orders(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in ("due_date", "first_hit", "last_hit"):
        out[c] = pd.to_datetime(out[c])
    out["escalated"] = out["escalated"].astype(object)
    return out


def _orders_table(store: Store) -> pd.DataFrame:
    """Every work order (the process's cached copy, re-read when any changed), typed."""
    return _typed_orders(store.app.arrow(["work_orders"])["work_orders"].to_pandas(
        date_as_object=False))


def _new_orders(all_orders: pd.DataFrame, c: pd.DataFrame, day: pd.Timestamp
                ) -> pd.DataFrame:
    """Rows for orders to open: id WO-<account>-<rule>-<n> (n-th order of that pair)."""
    if c.empty:
        return pd.DataFrame(columns=_WO)
    n = c["n_orders"].fillna(0).astype(int) + 1
    ids = "WO-" + c["account_id"] + "-" + c["rule"] + "-" + n.astype(str)
    clash = ids.isin(all_orders["work_order_id"])
    if clash.any():  # only if ids were written by hand: fall back to random ids for those
        ids = ids.copy()
        ids[clash] = ids[clash] + "-" + [uuid.uuid4().hex[:8] for _ in range(int(clash.sum()))]
    return pd.DataFrame({
        "work_order_id": ids.to_numpy(), "account_id": c["account_id"].to_numpy(),
        "rule": c["rule"].to_numpy(), "status": "new", "assignee_id": c["dispatch"].to_numpy(),
        "severity": c["severity"].to_numpy(), "due_date": c["due_date"].to_numpy(),
        "first_hit": day, "last_hit": day, "hits": 1, "escalated": False,
        "outcome": None, "note": None, "version": 0, "updated_at": None, "updated_by": None,
    })


def _counter_poaching_plans(store: Store, escalated: pd.DataFrame, esc: pd.DataFrame
                            ) -> pd.DataFrame:
    """Plan stubs for escalated accounts without an open win_back plan (one per account;
    never a second plan for the same order)."""
    if escalated.empty:
        return pd.DataFrame(columns=_PLANS)
    top = (escalated.sort_values(["severity", "work_order_id"], ascending=[False, True])
           .drop_duplicates("account_id"))
    plans = store.app.arrow(["plans"])["plans"].to_pandas()
    have = plans.loc[plans["objective"].eq("win_back")
                     & plans["status"].isin(["open", "in_progress"]), "account_id"]
    top = top[~top["account_id"].isin(have)
              & ~("CP-" + top["work_order_id"]).isin(plans["plan_id"])]
    e = esc.loc[top["account_id"]]
    return pd.DataFrame({
        "plan_id": ("CP-" + top["work_order_id"]).to_numpy(),
        "account_id": top["account_id"].to_numpy(),
        "objective": "win_back",
        "action": (COUNTER_PLAN_PREFIX + e["reason"].to_numpy() + COUNTER_PLAN_SUFFIX),
        "owner_id": top["assignee_id"].to_numpy(),
        "due_date": top["due_date"].to_numpy(),
        "status": "open",
        "note": None,
        "work_order_id": top["work_order_id"].to_numpy(),
        "product_id": None,
    })


def _insert_events(store: Store, tx: Tx, events: pd.DataFrame, *, user: str, at: str,
                   row_key: Mapping[str, Any]) -> None:
    """Append work-order events (work_order_id, kind, detail) with one summary audit row."""
    if events.empty:
        return
    rows = pd.DataFrame({
        "event_id": store.app.next_event_ids(len(events)),
        "work_order_id": events["work_order_id"].to_numpy(), "at": at, "user_id": user,
        "kind": events["kind"].to_numpy(), "detail": events["detail"].to_numpy(),
        "version": 1, "updated_at": at, "updated_by": user})
    store.app.insert_frame("work_order_events", rows, tx=tx)
    store.app.audit(tx, user=user, action="append", table_name="work_order_events",
                    row_key=json.dumps(dict(row_key), ensure_ascii=False), before=None,
                    after=json.dumps({"rows": len(events)}))


def _event(store: Store, work_order_id: str, kind: str, detail: Mapping[str, Any], *,
           user: str, tx: Any = None) -> None:
    store.write_row("work_order_events", {
        "event_id": uuid.uuid4().hex, "work_order_id": work_order_id, "at": _now(),
        "user_id": user, "kind": kind,
        "detail": json.dumps({k: v for k, v in detail.items() if v is not None},
                             ensure_ascii=False),
    }, user=user, action=kind, tx=tx)


def _order(store: Store, work_order_id: str) -> pd.Series:
    wo = store.app.tables["work_orders"]
    df = store.app.select("work_orders", wo.c.work_order_id == str(work_order_id))
    if df.empty:
        raise ValueError(f"no work order {work_order_id!r}")
    return df.iloc[0]
