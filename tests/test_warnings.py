"""Early warnings: each rule on hand-built line histories (with boundaries), the roll-up per
account, work orders (dedupe, status flow, escalation, scoping) and survival of re-imports."""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import numpy as np
import pandas as pd
import pytest
from conftest import toy_frames

from valuation import features
from valuation import warnings as W
from valuation.access import User
from valuation.analysis import analyse
from valuation.config import load_settings

_W7A = load_settings().get("warnings.w7a_high_spend")
_W7A_BAL = load_settings().get("warnings.w7a_low_balance")
from valuation.store import ConflictError, Store

AS_OF = pd.Timestamp("2026-06-30")
DAYS = pd.date_range(end=AS_OF, periods=60)
SETTINGS = load_settings()
TIERS = {"A001": "A", "A002": "B", "A003": "C", "A004": "D", "A005": "A", "A006": "B",
         "A007": "C", "A008": "D"}


def _last(n: int, value: object, other: object) -> np.ndarray:
    """60 values ending at AS_OF: the last ``n`` are ``value``, the others ``other``."""
    return np.where(np.arange(60) >= 60 - n, value, other)


def _history(line_id: str, **cols: object) -> pd.DataFrame:
    base: dict[str, object] = dict(voice_out_calls=5, sms_out=1, vas_spend=0.0, spend=10.0,
                                   forwarded_offnet_calls=0, balance=100.0,
                                   self_suspended=False)
    base.update(cols)
    return pd.DataFrame({"line_id": line_id, "day": DAYS, **base})


# line id -> (account, history): rule lines on A001 (no contract ending soon); share lines on
# A003 (10 lines, one low balance) and A004 (11 lines, one low balance)
RULE_LINES: dict[str, pd.DataFrame] = {
    "normal": _history("normal"),
    "w1_30": _history("w1_30", spend=_last(30, 7.0, 10.0)),  # exactly 30% drop
    "w1_31": _history("w1_31", spend=_last(30, 6.9, 10.0)),  # 31%
    # a spike on day -30 makes a 42% drop only if day -30 belongs to last month (it does)
    "w1_window": _history("w1_window", spend=np.r_[np.full(29, 10.0), 100.0, np.full(30, 7.5)]),
    "w2_3": _history("w2_3", voice_out_calls=_last(3, 0, 5), sms_out=_last(3, 9, 1)),
    "w2_2": _history("w2_2", voice_out_calls=_last(2, 0, 5)),
    "w2_broken": _history("w2_broken", voice_out_calls=np.r_[np.full(56, 5), 0, 0, 0, 1]),
    "w2_never": _history("w2_never", voice_out_calls=0),
    "w2_gap": _history("w2_gap", voice_out_calls=_last(3, 0, 5)).drop(index=58),  # day -1 missing
    "w3_3": _history("w3_3", forwarded_offnet_calls=_last(3, 2, 0)),
    "w3_2": _history("w3_2", forwarded_offnet_calls=_last(2, 2, 0)),
    "w5_499": _history("w5_499", balance=_last(1, 4.99, 100.0)),
    "w5_5": _history("w5_5", balance=_last(1, 5.0, 100.0)),
    "w5_yesterday": _history("w5_yesterday", balance=np.r_[np.full(58, 100.0), 1.0, 100.0]),
    "w6_today": _history("w6_today", self_suspended=_last(1, True, False)),
    "w6_yesterday": _history("w6_yesterday", self_suspended=np.r_[[False] * 58, True, False]),
    "w7a_hit": _history("w7a_hit", spend=_W7A, balance=_last(1, _W7A_BAL - 0.01, 100.0)),
    "w7a_low": _history("w7a_low", spend=_W7A - 0.01, balance=_last(1, _W7A_BAL - 0.01, 100.0)),
    "w7a_bal": _history("w7a_bal", spend=_W7A, balance=_last(1, _W7A_BAL, 100.0)),
    "w7b_5": _history("w7b_5", voice_out_calls=_last(5, 0, 5), sms_out=_last(5, 2, 0)),
    "w7b_4": _history("w7b_4", voice_out_calls=_last(4, 0, 5), sms_out=_last(4, 2, 0)),
    "w7b_vas": _history("w7b_vas", voice_out_calls=_last(5, 0, 5), sms_out=0,
                        vas_spend=_last(5, 3.0, 0.0)),
    "w7b_none": _history("w7b_none", voice_out_calls=_last(5, 0, 5), sms_out=0),
}

EXPECTED = [  # (line, rule flag, trips?)
    ("normal", "w1", False), ("normal", "w2", False), ("normal", "w5", False),
    ("w1_30", "w1", False), ("w1_31", "w1", True), ("w1_window", "w1", True),
    ("w2_3", "w2", True), ("w2_2", "w2", False), ("w2_broken", "w2", False),
    ("w2_never", "w2", False), ("w2_gap", "w2", False),
    ("w3_3", "w3", True), ("w3_2", "w3", False),
    ("w5_499", "w5", True), ("w5_5", "w5", False), ("w5_yesterday", "w5", False),
    ("w6_today", "w6", True), ("w6_yesterday", "w6", False),
    ("w7a_hit", "w7a", True), ("w7a_low", "w7a", False), ("w7a_bal", "w7a", False),
    ("w7b_5", "w7b", True), ("w7b_4", "w7b", False), ("w7b_vas", "w7b", True),
    ("w7b_none", "w7b", False), ("w7b_none", "w2", True),
]


def rule_frames() -> dict[str, pd.DataFrame]:
    """toy_frames(8) plus member lines, daily usage, contracts, bills, complaints, holdings
    built so that each account rule trips on one account and misses just on another."""
    f = toy_frames(8)
    share = {f"s10_{i}": "A003" for i in range(10)} | {f"s11_{i}": "A004" for i in range(11)}
    owner = {k: "A001" for k in RULE_LINES} | share
    daily = [*RULE_LINES.values()] + [
        _history(k, balance=_last(1, 4.0 if k.endswith("_0") else 100.0, 100.0), spend=5.0)
        for k in share]
    f["lines"] = pd.DataFrame({"line_id": list(owner), "account_id": list(owner.values()),
                               "line_type": "mobile", "open_date": pd.Timestamp("2024-01-01"),
                               "close_date": pd.NaT})
    f["line_daily"] = pd.concat(daily, ignore_index=True)
    f["contracts"] = pd.concat([f["contracts"], pd.DataFrame({
        "contract_id": ["K3", "K4", "K5", "K6", "K7", "K8"],
        "account_id": ["A003", "A004", "A005", "A006", "A007", "A008"],
        "contract_type": ["service", "handset_lease", "bill_subsidy", "service", "service",
                          "service"],
        "start_date": pd.Timestamp("2025-01-01"),
        # as_of 30 Jun + 3 months = 30 Sep; as_of 30 Nov + 3 months = 28 Feb (day 90)
        "end_date": pd.to_datetime(["2026-09-30", "2026-10-01", "2026-06-29", "2026-06-30",
                                    "2027-02-28", "2027-03-01"]),
        "value": [1000.0, 2000.0, 3000.0, 4000.0, 5000.0, 6000.0]})], ignore_index=True)
    b = f["billing_monthly"]
    june = b["month"] == pd.Timestamp("2026-06-01")
    b.loc[june & (b["account_id"] == "A005"), "billed"] = 69.0  # 100 before: 31% drop
    b.loc[june & (b["account_id"] == "A006"), "billed"] = 70.0  # exactly 30%
    b.loc[(b["account_id"] == "A007") & (b["month"] == pd.Timestamp("2026-04-01")),
          "arrears"] = 1000.01
    b.loc[(b["account_id"] == "A008") & (b["month"] == pd.Timestamp("2026-03-01")),
          "arrears"] = 5000.0  # outside the last 3 months
    b.loc[june & (b["account_id"] == "A008"), "arrears"] = 1000.0  # not above 1000
    f["interactions"] = pd.DataFrame({
        "interaction_id": ["I1", "I2", "I3"], "account_id": ["A001", "A002", "A003"],
        "date": pd.to_datetime(["2026-06-01", "2026-05-31", "2026-06-20"]),
        "kind": ["escalated_complaint", "escalated_complaint", "complaint"],
        "user_id": "am01", "note": None})
    f["holdings"] = pd.concat([f["holdings"], pd.DataFrame({
        "account_id": ["A005", "A006", "A007", "A007"],
        "product_id": ["C2-EGOV", "C2-EGOV", "C1-BB", "C1-BB"],
        "provider": ["C2", "C2", "C1", "C1"],
        "quantity": 1, "monthly_revenue": 800.0,
        "start_date": pd.to_datetime(["2026-05-02", "2026-05-01", "2021-01-01", "2026-06-01"]),
        "end_date": pd.to_datetime([None, None, "2026-05-31", None])})], ignore_index=True)
    return f


def analysed(**competitor: float) -> pd.DataFrame:
    """A hand-built analysed frame for the 8 accounts (tiers A B C D A B C D)."""
    ids = list(TIERS)
    owners = (["am01", "am02", "am03"] * 3)[:8]
    f = pd.DataFrame({
        "account_id": ids, "tier": list(TIERS.values()), "churned": False, "owner_id": owners,
        "team_id": ["T02" if o == "am03" else "T01" for o in owners],
        "competitor_score": [competitor.get(a, 0.0) for a in ids],
        "monthly_revenue": 1000.0, "value_score": 50.0, "competitor_products": 0,
        "competitor_spend": 0.0,
    })
    f.attrs["as_of"] = AS_OF.date().isoformat()
    return f


@pytest.fixture(scope="module")
def rules_store(tmp_path_factory):
    s = Store(tmp_path_factory.mktemp("rules") / "rules.duckdb")
    s.replace_facts(rule_frames(), source="rules")
    yield s
    s.close()


@pytest.fixture(scope="module")
def lines(rules_store):
    return W.line_warnings(rules_store, settings=SETTINGS).set_index("line_id")


@pytest.fixture(scope="module")
def acc_warn(rules_store):
    return W.account_warnings(rules_store, analysed(), settings=SETTINGS)


# -- line rules ------------------------------------------------------------------------------
@pytest.mark.parametrize(("line", "flag", "trips"), EXPECTED)
def test_line_rule(lines, line, flag, trips):
    assert bool(lines.loc[line, flag]) is trips


def test_line_figures(lines):
    assert lines.loc["w1_31", "spend_drop"] == pytest.approx(0.31)
    assert lines.loc["w1_30", "spend_drop"] == pytest.approx(0.30)
    assert lines.loc["w1_31", "avg_spend_prev"] == pytest.approx(10.0)
    assert lines.loc["w2_3", "days_since_call"] == 3
    assert lines.loc["w5_499", "balance"] == pytest.approx(4.99)
    assert set(lines.index) == set(RULE_LINES) | {f"s10_{i}" for i in range(10)} | {
        f"s11_{i}" for i in range(11)}


def test_line_thresholds_are_settings(rules_store):
    s = dataclasses.replace(SETTINGS, values={**SETTINGS.values, "warnings.w2_silent_days": 2,
                                              "warnings.w1_spend_drop": 0.25})
    lw = W.line_warnings(rules_store, settings=s).set_index("line_id")
    assert lw.loc["w2_2", "w2"] and lw.loc["w1_30", "w1"]
    assert not lw.loc["w2_broken", "w2"]  # its run does not end at as_of


def test_w4_is_carried_to_lines_of_the_account(rules_store):
    lw = W.line_warnings(rules_store, settings=SETTINGS, tripped_only=True)
    assert not lw["line_id"].isin(["normal"]).any()
    assert lw.loc[lw["account_id"] == "A003", "w4"].all()  # K3 ends 30 Sep: within 3 months


# -- account roll-up and account rules ---------------------------------------------------------
def _rules(w: pd.DataFrame, account: str) -> set[str]:
    return set(w.loc[w["account_id"] == account, "rule"])


def test_line_share_boundary(acc_warn):
    row = acc_warn[(acc_warn["account_id"] == "A003") & (acc_warn["rule"] == "W5")].iloc[0]
    assert (row["lines"], row["lines_tripped"], row["line_share"]) == (10, 1, 0.1)
    assert "W5" not in _rules(acc_warn, "A004")  # 1 of 11 lines < 10%
    # severity = (0.5 + 0.5 x share) x the tier's weight (C: 2)
    assert row["base"] == pytest.approx(0.55) and row["severity"] == pytest.approx(1.1)
    assert json.loads(row["detail"]) == {"lines": 1, "of": 10, "share": 0.1, "min_balance": 4.0}


def test_account_rules_and_boundaries(acc_warn):
    assert _rules(acc_warn, "A002") == {"W4"}  # K2 ends 31 Aug; complaint exactly 30 days ago
    assert {"W4"} <= _rules(acc_warn, "A003")  # ends 30 Sep = as_of + 3 months
    assert "W4" not in _rules(acc_warn, "A004")  # 1 Oct
    # 31% drop; competitor product first held 59 days ago; contract ended yesterday
    assert _rules(acc_warn, "A005") == {"bill_drop", "competitor_new"}
    assert _rules(acc_warn, "A006") == {"W4"}  # ends today; 30% drop; competitor 60 days ago
    assert _rules(acc_warn, "A007") == {"arrears"}  # 1000.01; C1-BB first held in 2021
    assert _rules(acc_warn, "A008") == set()  # 1000 in 3 months; 5000 in March is too old
    assert "complaint" in _rules(acc_warn, "A001")  # 29 days ago
    assert "W1" not in _rules(acc_warn, "A001")  # 2 of its 23 lines: below 10%


def test_every_line_rule_rolls_up(rules_store):
    s = dataclasses.replace(SETTINGS, values={**SETTINGS.values, "warnings.line_share": 0.04})
    w = W.account_warnings(rules_store, analysed(), settings=s)
    assert _rules(w, "A001") == {"W1", "W2", "W3", "W5", "W6", "W7a", "W7b", "complaint"}
    w1 = w[(w["account_id"] == "A001") & (w["rule"] == "W1")].iloc[0]
    assert (w1["lines"], w1["lines_tripped"]) == (23, 2)
    assert json.loads(w1["detail"])["drop"] == pytest.approx((0.31 + 0.423077) / 2, abs=1e-4)


def test_account_rule_details_and_severity(acc_warn):
    w = acc_warn.set_index(["account_id", "rule"])
    d = json.loads(w.loc[("A005", "bill_drop"), "detail"])
    assert d == {"bill": 69.0, "previous_avg": 100.0, "drop": 0.31}
    assert w.loc[("A005", "bill_drop"), "severity"] == 4.0  # base 1 x tier A weight 4
    assert json.loads(w.loc[("A007", "arrears"), "detail"])["arrears"] == 1000.01
    assert json.loads(w.loc[("A003", "W4"), "detail"]) == {
        "contracts": 1, "value": 1000.0, "next_end": "2026-09-30"}
    assert json.loads(w.loc[("A005", "competitor_new"), "detail"])["products"] == "C2-EGOV"
    assert list(acc_warn["severity"]) == sorted(acc_warn["severity"], reverse=True)


def test_w4_day_90_vs_91(rules_store):
    nov30 = pd.Timestamp("2026-11-30").date()  # + 3 months = 28 Feb 2027 = day 90
    w = W.account_warnings(rules_store, analysed(), settings=SETTINGS, as_of=nov30)
    w4 = set(w.loc[w["rule"] == "W4", "account_id"])
    assert "A007" in w4 and "A008" not in w4  # day 90 trips, day 91 does not
    assert "A003" not in w4  # ended 30 Sep


def test_churned_accounts_get_no_warnings(rules_store):
    f = analysed()
    f.loc[f["account_id"] == "A002", "churned"] = True
    w = W.account_warnings(rules_store, f, settings=SETTINGS)
    assert "A002" not in set(w["account_id"])


def test_summaries(acc_warn):
    s = W.summarise(acc_warn).set_index("account_id")
    assert s.loc["A005", "rule_list"] == "bill_drop,competitor_new"
    assert s.loc["A005", "rules"] == 2 and s.loc["A005", "severity"] == 8.0
    r = W.rule_summary(acc_warn).set_index("rule")
    assert list(r.index) == list(W.RULES) and r.loc["arrears", "accounts"] == 1


# -- work orders -------------------------------------------------------------------------------
def hits(*pairs: tuple[str, str], severity: float = 2.0) -> pd.DataFrame:
    return pd.DataFrame({"account_id": [a for a, _ in pairs], "rule": [r for _, r in pairs],
                         "severity": severity, "detail": '{"x": 1}'})


def _sync(store, w, day="2026-06-30", frame=None, settings=SETTINGS):
    return W.sync_work_orders(store, w, frame if frame is not None else analysed(), settings,
                              as_of=pd.Timestamp(day).date(), user="system")


def test_sync_creates_orders_with_due_date_and_assignee(toy_store):
    c = _sync(toy_store, hits(("A001", "W1"), ("A002", "W5")))
    assert c["created"] == 2 and c["escalated"] == 0
    o = W.open_orders(toy_store).set_index("account_id")
    assert o.loc["A001", "work_order_id"] == "WO-A001-W1-1"
    assert o.loc["A001", "status"] == "new" and o.loc["A001", "assignee_id"] == "am01"
    assert o.loc["A001", "due_date"] == pd.Timestamp("2026-07-02")  # tier A: 2 days
    assert o.loc["A002", "due_date"] == pd.Timestamp("2026-07-03")  # tier B: 3 days
    audit = toy_store.audit_entries("work_orders")
    assert len(audit) == 2 and set(audit["action"]) == {"create"}
    assert json.loads(audit["after"].iloc[0])["status"] == "new"


def test_repeated_hits_update_the_open_order(toy_store):
    _sync(toy_store, hits(("A001", "W1")))
    again = _sync(toy_store, hits(("A001", "W1")))  # same date: already counted
    assert again["created"] == 0 and again["updated"] == 0 and again["unchanged"] == 1
    later = _sync(toy_store, hits(("A001", "W1"), severity=3.0), day="2026-07-01")
    assert later["updated"] == 1 and later["created"] == 0
    o = W.orders_for(toy_store, "A001")
    assert len(o) == 1
    r = o.iloc[0]
    assert (r["hits"], r["version"], r["severity"]) == (2, 2, 3.0)
    assert r["first_hit"] == AS_OF and r["last_hit"] == pd.Timestamp("2026-07-01")
    h = W.order_history(toy_store, r["work_order_id"])
    assert list(h["kind"]) == ["hit", "hit"]
    assert json.loads(h["detail"].iloc[1])["hits"] == 2


def test_closed_orders_are_never_reopened(toy_store):
    _sync(toy_store, hits(("A001", "W1")))
    W.transition(toy_store, "WO-A001-W1-1", "false_alarm", user="am01", expected_version=1,
                 outcome="holiday")
    same = _sync(toy_store, hits(("A001", "W1")))
    assert same["skipped"] == 1 and same["created"] == 0
    later = _sync(toy_store, hits(("A001", "W1")), day="2026-07-05")
    assert later["created"] == 1
    o = W.orders_for(toy_store, "A001").set_index("work_order_id")
    assert o.loc["WO-A001-W1-1", "status"] == "false_alarm"
    assert o.loc["WO-A001-W1-2", "status"] == "new"


def test_status_flow_and_illegal_moves(toy_store):
    _sync(toy_store, hits(("A001", "W1")))
    wo = "WO-A001-W1-1"
    with pytest.raises(ValueError, match="from 'new' to 'contacted'"):
        W.transition(toy_store, wo, "contacted", user="am01", expected_version=1)
    with pytest.raises(ValueError, match="unknown work-order status"):
        W.transition(toy_store, wo, "closed", user="am01", expected_version=1)
    v = W.transition(toy_store, wo, "assigned", user="am01", expected_version=1)
    with pytest.raises(ConflictError):
        W.transition(toy_store, wo, "contacted", user="am01", expected_version=1)
    with pytest.raises(ValueError, match="from 'assigned' to 'retained'"):
        W.transition(toy_store, wo, "retained", user="am01", expected_version=v)
    v = W.transition(toy_store, wo, "contacted", user="am01", expected_version=v,
                     note="called the IT director")
    v = W.add_note(toy_store, wo, "offer sent", user="am01", expected_version=v)
    v = W.transition(toy_store, wo, "retained", user="am01", expected_version=v,
                     outcome="renewed 2 years")
    with pytest.raises(ValueError, match="from 'retained' to 'lost'.*closed"):
        W.transition(toy_store, wo, "lost", user="am01", expected_version=v)
    r = W.orders_for(toy_store, "A001").iloc[0]
    assert (r["status"], r["outcome"], r["note"]) == ("retained", "renewed 2 years", "offer sent")
    assert list(W.order_history(toy_store, wo)["kind"]) == [
        "hit", "status", "status", "note", "status"]
    actions = list(toy_store.audit_entries("work_orders")["action"])
    assert actions == ["create", "status new->assigned", "status assigned->contacted", "note",
                       "status contacted->retained"]
    assert W.open_orders(toy_store).empty
    assert len(W.open_orders(toy_store, include_closed=True)) == 1


def test_bulk_assign(toy_store):
    _sync(toy_store, hits(("A001", "W1"), ("A001", "W5"), ("A002", "W2")))
    ids = ["WO-A001-W1-1", "WO-A001-W5-1"]
    with pytest.raises(ValueError, match="no user"):
        W.assign(toy_store, ids, "nobody", user="lead01")
    with pytest.raises(ConflictError):
        W.assign(toy_store, ids, "am02", user="lead01", expected_versions={ids[0]: 1})
    assert W.assign(toy_store, ids, "am02", user="lead01") == 2
    o = W.open_orders(toy_store).set_index("work_order_id")
    assert list(o.loc[ids, "status"]) == ["assigned", "assigned"]
    assert list(o.loc[ids, "assignee_id"]) == ["am02", "am02"]
    assert o.loc["WO-A002-W2-1", "status"] == "new"
    ev = W.order_history(toy_store, ids[0])
    assert list(ev["kind"]) == ["hit", "assign"]
    assert json.loads(ev["detail"].iloc[1])["to"] == "am02"
    W.transition(toy_store, ids[0], "false_alarm", user="am02", expected_version=2)
    with pytest.raises(ValueError, match="closed"):
        W.assign(toy_store, ids, "am01", user="lead01")
    assert W.open_orders(toy_store).loc[lambda d: d["work_order_id"] == ids[1],
                                        "assignee_id"].item() == "am02"  # all or nothing


def test_assign_to_lead_setting(toy_store):
    s = dataclasses.replace(SETTINGS, values={**SETTINGS.values, "retention.assign_to": "lead"})
    _sync(toy_store, hits(("A003", "W1")), settings=s)
    assert W.orders_for(toy_store, "A003")["assignee_id"].item() == "lead02"


def test_escalation_contested_and_visibly_churning(toy_store):
    frame = analysed(A002=75.0)  # contested (>= 60)
    c = _sync(toy_store, hits(("A001", "W1"), ("A001", "W2"), ("A001", "W5"), ("A002", "W4"),
                              ("A003", "W1")), frame=frame)
    assert c == {"created": 5, "updated": 0, "escalated": 4, "plans": 2, "unchanged": 0,
                 "skipped": 0}
    o = W.open_orders(toy_store).set_index("work_order_id")
    assert o.loc["WO-A001-W1-1", "escalated"] and o.loc["WO-A001-W1-1", "assignee_id"] == "lead01"
    assert o.loc["WO-A002-W4-1", "escalated"] and not o.loc["WO-A003-W1-1", "escalated"]
    esc = W.order_history(toy_store, "WO-A002-W4-1")
    assert list(esc["kind"]) == ["hit", "escalate"]
    assert json.loads(esc["detail"].iloc[1])["reason"] == "contested"
    plans = toy_store.read_table("plans").set_index("account_id")
    assert set(plans.index) == {"A001", "A002"}
    assert (plans["objective"] == "win_back").all() and (plans["status"] == "open").all()
    assert plans.loc["A002", "owner_id"] == "lead01"
    assert plans.loc["A002", "work_order_id"] == "WO-A002-W4-1"
    again = _sync(toy_store, hits(("A001", "W1"), ("A001", "W2"), ("A001", "W5"),
                                  ("A001", "W6")), day="2026-07-01", frame=frame)
    assert again["escalated"] == 1 and again["plans"] == 0  # the new W6 order; plan exists
    assert len(toy_store.read_table("plans")) == 2


def test_open_orders_scoped_by_role(toy_store):
    _sync(toy_store, hits(("A001", "W1"), ("A002", "W1"), ("A003", "W1")))
    W.assign(toy_store, ["WO-A003-W1-1"], "am01", user="lead02")

    def seen(uid: str, role: str, team: str | None) -> set[str]:
        u = User(uid, uid, uid, role, team)
        return set(W.open_orders(toy_store, u)["account_id"])

    assert seen("am01", "account_manager", "T01") == {"A001", "A003"}  # owns A001, assigned A003
    assert seen("am03", "account_manager", "T02") == {"A003"}
    assert seen("lead01", "sales_lead", "T01") == {"A001", "A002", "A003"}
    assert seen("lead02", "sales_lead", "T02") == {"A003"}
    assert seen("exec01", "executive", None) == {"A001", "A002", "A003"}


def test_work_orders_survive_reimport(tmp_path):
    from valuation import analysis, features
    from valuation.demo import write_demo

    day = pd.Timestamp("2026-10-31").date()
    with Store(tmp_path / "demo.duckdb") as s:
        write_demo(s, accounts=300, seed=5, as_of=day, line_accounts=150, passwords=False)
        frame = analysis.analyse(features.account_frame(s), SETTINGS).frame
        w, counts = W.warn_and_dispatch(s, frame, SETTINGS, user="system")
        assert counts["created"] == len(w) > 0
        o = W.open_orders(s).iloc[0]
        W.transition(s, o["work_order_id"], "assigned", user="am01",
                     expected_version=int(o["version"]))
        before = {t: s.read_table(t) for t in ("work_orders", "work_order_events", "plans",
                                                "audit_log")}
        write_demo(s, accounts=300, seed=5, as_of=day, line_accounts=150, passwords=False)
    with Store(tmp_path / "demo.duckdb") as s:  # and a restart
        for t, df in before.items():
            pd.testing.assert_frame_equal(s.read_table(t), df)
        frame = analysis.analyse(features.account_frame(s), SETTINGS).frame
        _, again = W.warn_and_dispatch(s, frame, SETTINGS, user="system")
        assert again["created"] == 0 and again["unchanged"] == counts["created"]


def test_hit_timeline_dates_each_hit_by_its_data_day(toy_store):
    a = analyse(features.account_frame(toy_store), load_settings())
    days = [date(2026, 6, 28), date(2026, 6, 29), date(2026, 6, 30)]
    for d in days:
        W.warn_and_dispatch(toy_store, a.frame, a.settings, user="system", as_of=d)
    orders = toy_store.query("SELECT account_id, rule, hits FROM work_orders")
    account = orders.sort_values("hits").iloc[-1]["account_id"]
    t = W.hit_timeline(toy_store, account)
    mine = orders[orders["account_id"] == account]
    assert len(t) == int(mine["hits"].sum())  # one row per counted hit, no more
    assert set(t["rule"]) == set(mine["rule"]) and set(t["status"]) == {"new"}
    assert set(pd.to_datetime(t["day"]).dt.date) <= set(days)
    assert list(t["day"]) == sorted(t["day"]) and (t["severity"] > 0).all()
    assert W.hit_timeline(toy_store, "NO-SUCH-ACCOUNT").empty


def test_the_demo_dispatches_weekly_without_duplicates(demo_path):
    from valuation.churn import card_path, model_path

    with Store(demo_path) as s:
        orders = s.query("SELECT * FROM work_orders")
        hits = s.query("SELECT detail FROM work_order_events WHERE kind = 'hit'")
    assert not orders.duplicated(["account_id", "rule"]).any()  # one open order each
    assert orders["hits"].max() >= 2 and (orders["hits"] == 1).any()
    days = {json.loads(d)["as_of"] for d in hits["detail"]}
    assert days == {"2026-10-10", "2026-10-17", "2026-10-24", "2026-10-31"}
    assert int(orders["hits"].sum()) == len(hits)
    assert model_path(demo_path).exists() and card_path(model_path(demo_path)).exists()
