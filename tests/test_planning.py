"""Retention planning: priority (hand-computed), capacity plan within team hours, contract
pipeline windows, counter-poaching list, account plans (CRUD, links, scope, re-import)."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from conftest import toy_frames

from valuation import planning as P
from valuation import warnings as W
from valuation.access import User
from valuation.config import load_settings
from valuation.store import ConflictError, Store

SETTINGS = load_settings()
AS_OF = pd.Timestamp("2026-06-30")


def frame(**over: list) -> pd.DataFrame:
    f = pd.DataFrame({
        "account_id": ["A001", "A002", "A003"], "name": ["一", "二", "三"],
        "tier": ["A", "D", "B"], "churned": False, "owner_id": ["am01", "am02", "am03"],
        "team_id": ["T01", "T01", "T02"], "monthly_revenue": [1000.0, 500.0, 800.0],
        "competitor_score": [50.0, 0.0, 10.0], "value_score": [70.0, 40.0, 70.0],
        "competitor_products": [1, 0, 2], "competitor_spend": [1000.0, 0.0, 300.0],
    } | over)
    f.attrs["as_of"] = AS_OF.date().isoformat()
    return f


HITS = pd.DataFrame({"account_id": ["A001", "A002", "A002"], "rule": ["W4", "W1", "W5"],
                     "severity": [4.0, 1.0, 0.5]})


def test_priority_hand_computed():
    p = P.priority(frame(), HITS, settings=SETTINGS).set_index("account_id")
    assert list(p.index) == ["A002", "A001"]  # highest priority first; A003 has no warning
    a1, a2 = p.loc["A001"], p.loc["A002"]
    # A001: tier A weight 4, severity 4 -> base 1 -> risk 1/3; value 12 x 1000; save 0.6 x 0.5
    assert a1["risk"] == pytest.approx(1 / 3) and a1["value_at_risk"] == pytest.approx(4000)
    assert a1["save_chance"] == pytest.approx(0.3) and a1["effort_hours"] == 8.0
    assert a1["priority"] == pytest.approx(4000 * 0.3 / 8)
    # A002: tier D weight 1, base 1 + 0.5 -> risk 0.5; value 6000; save 0.6; 1.5 hours
    assert a2["risk"] == pytest.approx(0.5) and a2["priority"] == pytest.approx(3000 * 0.6 / 1.5)
    assert a2["rules"] == 2 and a2["rule_list"] == "W1,W5" and a1["risk_source"] == "rules"


def test_priority_takes_churn_probability_and_value():
    p = P.priority(frame(), HITS, settings=SETTINGS,
                   churn_probability=pd.Series({"A001": 0.9}),
                   value=pd.Series({"A001": 50000.0})).set_index("account_id")
    assert p.loc["A001", "risk"] == 0.9 and p.loc["A001", "risk_source"] == "model"
    assert p.loc["A001", "value_at_risk"] == pytest.approx(45000)
    assert p.loc["A002", "risk_source"] == "rules" and p.loc["A002", "value"] == 6000


def test_capacity_plan_fits_team_hours_exactly(toy_store):
    # T01 has two account managers (48 h), T02 one (24 h); hours per tier 8 / 5 / 3 / 1.5
    t01 = pd.DataFrame({"account_id": [f"X{i}" for i in range(7)], "team_id": "T01",
                        "priority": [70.0, 60, 50, 40, 30, 20, 10], "effort_hours": 8.0})
    t02 = pd.DataFrame({"account_id": [f"Y{i}" for i in range(6)], "team_id": "T02",
                        "priority": [60.0, 50, 40, 30, 20, 10],
                        "effort_hours": [8.0, 5.0, 3.0, 8.0, 1.5, 0.5]})
    none = pd.DataFrame({"account_id": ["Z"], "team_id": [None], "priority": [99.0],
                         "effort_hours": [1.0]})
    work = pd.concat([t02, none, t01], ignore_index=True)
    work["value_at_risk"] = 100.0
    plan = P.capacity_plan(toy_store, work, settings=SETTINGS)
    fits = plan.set_index("account_id")["fits"]
    assert list(fits[[f"X{i}" for i in range(7)]]) == [True] * 6 + [False]  # 6 x 8 = 48
    # 8 + 5 + 3 + 8 = 24 fits; 1.5 more does not, nor the 0.5 after it (no queue jumping)
    assert list(fits[[f"Y{i}" for i in range(6)]]) == [True] * 4 + [False] * 2
    assert not fits["Z"]
    assert plan.set_index("account_id").loc["Y3", "cum_hours"] == 24.0
    s = P.capacity_summary(plan).set_index("team_id")
    assert s.loc["T01", "capacity_hours"] == 48 and s.loc["T01", "hours_fit"] == 48
    assert (s.loc["T01", "cases_fit"], s.loc["T01", "cases_left"]) == (6, 1)
    assert (s.loc["T02", "hours_fit"], s.loc["T02", "hours_needed"]) == (24.0, 26.0)
    assert s.loc["T02", "utilisation"] == 1.0 and s.loc["T02", "value_at_risk_left"] == 200.0


def test_capacity_follows_settings(toy_store):
    s = dataclasses.replace(
        SETTINGS, values={**SETTINGS.values, "retention.hours_per_manager": 10.0})
    work = pd.DataFrame({"account_id": ["Y0", "Y1"], "team_id": "T02", "priority": [2.0, 1.0],
                         "effort_hours": [8.0, 3.0], "value_at_risk": 1.0})
    assert list(P.capacity_plan(toy_store, work, settings=s)["fits"]) == [True, False]


def test_work_plan_from_open_orders(toy_store):
    W.sync_work_orders(toy_store, HITS.assign(detail="{}"), frame(), SETTINGS,
                       as_of=AS_OF.date(), user="system")
    plan = P.work_plan(toy_store, frame(), settings=SETTINGS).set_index("account_id")
    assert set(plan.index) == {"A001", "A002"} and plan["fits"].all()
    assert plan.loc["A002", "orders"] == 2 and plan.loc["A001", "capacity_hours"] == 48.0


def test_contract_pipeline_windows(tmp_path):
    f = toy_frames()
    ends = ["2026-06-29", "2026-06-30", "2026-09-30", "2026-10-01", "2026-12-30", "2026-12-31"]
    f["contracts"] = pd.DataFrame({
        "contract_id": [f"K{i}" for i in range(6)], "account_id": "A001",
        "contract_type": "service", "start_date": pd.Timestamp("2025-01-01"),
        "end_date": pd.to_datetime(ends), "value": [1.0, 10.0, 100.0, 1000.0, 10000.0, 1e5]})
    f["contracts"].loc[3, "account_id"] = "A002"
    with Store(tmp_path / "p.duckdb") as s:
        s.replace_facts(f, source="t")
        p = P.contract_pipeline(s, frame()).set_index("contract_id")
        # ended yesterday: out; today and 30 Sep (+3 months): 3; 1 Oct and 30 Dec (+6): 6
        assert list(p.index) == ["K1", "K2", "K3", "K4"]
        assert list(p["window"]) == [3, 3, 6, 6] and list(p["days_left"]) == [0, 92, 93, 183]
        assert p.loc["K3", "monthly_revenue"] == 500.0 and p.loc["K1", "tier"] == "A"
        summ = P.pipeline_summary(p.reset_index()).set_index("months")
        assert summ.loc[3, "contracts"] == 2 and summ.loc[3, "contract_value"] == 110.0
        assert summ.loc[6, "contracts"] == 4 and summ.loc[6, "contract_value"] == 11110.0
        assert summ.loc[6, "accounts"] == 2 and summ.loc[6, "monthly_revenue"] == 1500.0


def test_counter_poaching_list():
    f = frame(competitor_score=[20.0, 0.0, 40.0], value_score=[70.0, 90.0, 80.0])
    likely = P.counter_poaching(f, settings=SETTINGS)
    assert list(likely["account_id"]) == ["A001"]  # A002 holds none; A003 too entangled
    r = likely.iloc[0]
    assert r["win_chance"] == pytest.approx(0.6 * 0.8)
    assert r["win_back_value"] == pytest.approx(12 * 1000 * 0.48)
    every = P.counter_poaching(f, settings=SETTINGS, only_likely=False)
    assert list(every["account_id"]) == ["A001", "A003"] and not every["likely"].iloc[1]


def test_plans_crud_and_links(toy_store):
    W.sync_work_orders(toy_store, HITS.assign(detail="{}"), frame(), SETTINGS,
                       as_of=AS_OF.date(), user="system")
    pid, v = P.save_plan(toy_store, {"account_id": "A001", "objective": "retain",
                                     "action": "renew the bundle agreement early",
                                     "owner_id": "am01", "due_date": "2026-07-15",
                                     "work_order_id": "WO-A001-W4-1"}, user="am01")
    assert v == 1 and pid.startswith("PL-")
    _, v = P.save_plan(toy_store, {"plan_id": pid, "status": "in_progress"}, user="am01",
                       expected_version=1)
    with pytest.raises(ConflictError):
        P.save_plan(toy_store, {"plan_id": pid, "status": "done"}, user="am02",
                    expected_version=1)
    for bad, msg in [({"objective": "upsell"}, "objective"), ({"status": "closed"}, "status"),
                     ({"colour": "red"}, "unknown plan fields"),
                     ({"account_id": "NOPE"}, "no account"),
                     ({"work_order_id": "WO-NOPE"}, "no work order"),
                     ({"account_id": "A002", "work_order_id": "WO-A001-W4-1"}, "no work order"),
                     ({"product_id": "NO-SUCH-PRODUCT"}, "no product")]:
        with pytest.raises(ValueError, match=msg):
            P.save_plan(toy_store, {"account_id": "A001", "objective": "retain", **bad},
                        user="am01")
    product = toy_store.scalar("SELECT min(product_id) FROM products WHERE provider = 'ours'")
    P.save_plan(toy_store, {"account_id": "A001", "objective": "grow_share", "status": "done",
                            "product_id": product}, user="am01")
    plans = P.plans_for(toy_store, "A001")
    assert list(plans["status"]) == ["in_progress", "done"]
    assert plans["product_id"].tolist() == [None, product]
    first = plans.iloc[0]
    assert first["due_date"] == pd.Timestamp("2026-07-15")
    assert (first["work_order_rule"], first["work_order_status"]) == ("W4", "new")
    assert list(toy_store.audit_entries("plans")["action"]) == ["plan"] * 3


def test_plans_in_scope_and_survive_reimport(toy_store):
    plan = {"action": "call the CIO", "due_date": "2026-07-31"}  # what, by when
    P.save_plan(toy_store, {"account_id": "A001", "objective": "retain", **plan}, user="am01")
    P.save_plan(toy_store, {"account_id": "A003", "objective": "win_back", **plan}, user="am03")
    P.save_plan(toy_store, {"account_id": "A002", "objective": "retain", "status": "dropped"},
                user="am02")
    toy_store.replace_facts(toy_frames(), source="re-import")

    def seen(uid: str, role: str, team: str | None, **kw: bool) -> set[str]:
        return set(P.plans_in_scope(toy_store, User(uid, uid, uid, role, team), **kw)
                   ["account_id"])

    assert seen("am01", "account_manager", "T01") == {"A001"}
    assert seen("lead01", "sales_lead", "T01") == {"A001"}
    assert seen("lead01", "sales_lead", "T01", include_closed=True) == {"A001", "A002"}
    assert seen("lead02", "sales_lead", "T02") == {"A003"}
    assert seen("exec01", "executive", None) == {"A001", "A003"}


# -- portfolio filters: positions, not copies ---------------------------------------------------
def _accounts_for_filters(n: int, seed: int) -> pd.DataFrame:
    import numpy as np

    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "account_id": [f"A{i:04d}" for i in range(n)],
        "name": rng.choice(["市教育局", "华东医院", "港务集团", "城投公司"], n),
        "name_en": rng.choice(["Education", "Hospital", None, "Port"], n),
        "industry": rng.choice(["government", "education", "health"], n),
        "city": rng.choice(["hangzhou", "ningbo"], n),
        "size_class": rng.choice(["large", "small"], n),
        "tier": rng.choice(["A", "B", "C"], n),
        "strategy": rng.choice(["grow", "keep"], n),
        "lifecycle_stage": rng.choice(["mature", "decline"], n),
        "owner_id": rng.choice(["am01", "am02", "gone"], n),
        "owner_name": None,
        "churned": rng.random(n) < 0.2,
        "monthly_revenue": rng.uniform(0, 1e5, n),
    }).assign(owner_name=lambda d: d["owner_id"].map({"am01": "张", "am02": "李"}))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_filter_positions_match_a_row_by_row_reading_of_the_filters(seed):
    """filter_positions agrees with checking every row by hand, for random filter choices;
    take() copies only the columns asked for and is a view when every row matches."""
    import numpy as np

    from valuation import features
    from valuation.portfolio import UNASSIGNED, filter_accounts, filter_positions, take

    f = _accounts_for_filters(400, seed)
    rng = np.random.default_rng(seed + 10)
    for _ in range(30):
        pick = {c: list(rng.choice(sorted(f[c].unique()), rng.integers(0, 3), replace=False))
                for c in ("industry", "city", "tier", "strategy")}
        owners = list(rng.choice(["am01", "am02", UNASSIGNED], rng.integers(0, 3),
                                 replace=False))
        text = str(rng.choice(["", "a00", "hosp", "港务"]))
        churned = bool(rng.integers(0, 2))
        got = filter_positions(f, text=text, industries=pick["industry"], cities=pick["city"],
                               tiers=pick["tier"], strategies=pick["strategy"], owners=owners,
                               include_churned=churned)
        want = []
        for i, r in enumerate(f.itertuples()):  # the reference: every rule, one row at a time
            hay = f"{r.account_id}\n{r.name}\n{r.name_en or ''}".lower()
            if text and text.lower() not in hay:
                continue
            if any(pick[c] and getattr(r, c) not in pick[c] for c in pick):
                continue
            if owners and not (r.owner_id in owners
                               or (UNASSIGNED in owners and pd.isna(r.owner_name))):
                continue
            if not churned and r.churned:
                continue
            want.append(i)
        assert got.tolist() == want
        out = filter_accounts(f, text=text, industries=pick["industry"], cities=pick["city"],
                              tiers=pick["tier"], strategies=pick["strategy"], owners=owners,
                              include_churned=churned, columns=["account_id", "tier", "nope"])
        assert list(out.columns) == ["account_id", "tier"]
        assert out["account_id"].tolist() == f["account_id"].iloc[want].tolist()
    everything = take(f, np.arange(len(f)))
    assert everything.equals(f) and everything is not f
    live = features.live_accounts(f, ["account_id", "monthly_revenue"])
    assert list(live.columns) == ["account_id", "monthly_revenue"]
    assert live["account_id"].tolist() == f.loc[~f["churned"], "account_id"].tolist()
