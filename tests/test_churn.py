"""Churn model, survival and lifetime value: no look-ahead, label edges, time split, fallback,
a model that beats the rules on the demo, calibration, survival curves, hand-computed values."""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import numpy as np
import pandas as pd
import pytest
from conftest import toy_frames

from valuation import churn, features
from valuation.config import Settings, load_settings
from valuation.demo import write_demo
from valuation.store import Store

TOY_AS_OF = date(2026, 3, 31)  # the toy bills run 2025-07 .. 2026-06
DEMO_AS_OF = date(2026, 10, 31)


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings()


def _with(settings: Settings, **values: object) -> Settings:
    return dataclasses.replace(settings, values={**settings.values, **values})


def _toy(tmp_path, extra: dict[str, pd.DataFrame] | None = None, edit=None) -> Store:
    """The conftest toy portfolio, with ``extra`` rows appended and ``edit(frames)`` applied."""
    frames = toy_frames()
    for name, df in (extra or {}).items():
        frames[name] = pd.concat([frames[name], df], ignore_index=True) if name in frames else df
    if edit is not None:
        edit(frames)
    tmp_path.mkdir(parents=True, exist_ok=True)
    s = Store(tmp_path / "toy.duckdb")
    s.replace_facts(frames, source="toy")
    return s


def _row(store: Store, account: str, settings: Settings, as_of: date = TOY_AS_OF) -> pd.Series:
    fr = churn.churn_frame(store, as_of=as_of)
    x = churn.feature_matrix(fr, settings=settings)
    return x[fr["account_id"].astype(str).to_numpy() == account].iloc[0]


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("churn") / "demo.duckdb"
    with Store(path) as s:
        write_demo(s, accounts=3000, seed=5, as_of=DEMO_AS_OF, line_accounts=200,
                   passwords=False)
        yield s


@pytest.fixture(scope="module")
def trained(demo_store, settings):
    """train() on the demo: fits the time-split evaluation and the final model, saves both."""
    return churn.train(demo_store, settings=settings)


# -- no look-ahead ------------------------------------------------------------------------------
FUTURE = {
    "holdings": pd.DataFrame({  # a competitor product taken up after the as-of date
        "account_id": ["A001"], "product_id": ["C1-BB"], "provider": ["C1"], "quantity": [3],
        "monthly_revenue": [900.0], "start_date": [pd.Timestamp("2026-04-15")],
        "end_date": [pd.NaT]}),
    "contracts": pd.DataFrame({  # a contract signed after the as-of date
        "contract_id": ["K9"], "account_id": ["A001"], "contract_type": ["handset_lease"],
        "start_date": [pd.Timestamp("2026-04-02")], "end_date": [pd.Timestamp("2026-05-31")],
        "value": [1000.0]}),
    "interactions": pd.DataFrame({  # an escalated complaint after the as-of date
        "interaction_id": ["I9"], "account_id": ["A001"], "date": [pd.Timestamp("2026-04-10")],
        "kind": ["escalated_complaint"], "user_id": ["am01"], "note": ["x"]}),
    "churn_events": pd.DataFrame({  # and the account leaves after it
        "account_id": ["A001"], "churn_date": [pd.Timestamp("2026-05-20")],
        "reason": ["competitor"]}),
}


def _later_bills_and_exit(frames: dict[str, pd.DataFrame]) -> None:
    """A001's bills after the as-of date soar into arrears; its holdings end at its churn."""
    b = frames["billing_monthly"]
    late = (b["account_id"] == "A001") & (b["month"] > pd.Timestamp(TOY_AS_OF))
    b.loc[late, ["billed", "arrears"]] = 99_999.0
    h = frames["holdings"]
    h.loc[(h["account_id"] == "A001") & h["end_date"].isna()
          & (h["start_date"] <= pd.Timestamp(TOY_AS_OF)), "end_date"] = pd.Timestamp("2026-05-20")


def _same_facts_earlier(frames: dict[str, pd.DataFrame]) -> None:
    frames["interactions"]["date"] = pd.Timestamp(TOY_AS_OF)
    h = frames["holdings"]
    h.loc[h["start_date"] == pd.Timestamp("2026-04-15"), "start_date"] = pd.Timestamp("2026-03-01")


def test_facts_after_the_as_of_date_change_no_feature(tmp_path, settings):
    with _toy(tmp_path / "clean") as s:
        before = _row(s, "A001", settings)
    with _toy(tmp_path / "future", FUTURE, _later_bills_and_exit) as s:
        after = _row(s, "A001", settings)
        assert features.data_as_of(s) == date(2026, 6, 30)
    pd.testing.assert_series_equal(before, after)
    # control: the same facts dated on or before the as-of date do move the features
    with _toy(tmp_path / "earlier", FUTURE, _same_facts_earlier) as s:
        moved = _row(s, "A001", settings)
    assert moved["escalations_12m"] == 1 and moved["rule_escalation"] == 1
    assert moved["competitor_products"] == 1 and moved["rule_competitor_new"] == 1


def test_assert_no_lookahead_passes_on_the_demo(demo_store, settings):
    churn.assert_no_lookahead(demo_store, date(2025, 9, 30), settings=settings)


def test_a_feature_from_after_the_as_of_date_fails(demo_store, settings):
    def leaky(store, *, as_of):  # reads bills, holdings, complaints two months ahead
        fr = churn.churn_frame(store, as_of=(pd.Timestamp(as_of) + pd.offsets.MonthEnd(2)).date())
        fr = fr[pd.to_datetime(fr["onboard_date"]) <= pd.Timestamp(as_of)]
        fr["churned"] = False
        fr.attrs["as_of"] = pd.Timestamp(as_of).date().isoformat()
        return fr

    with pytest.raises(AssertionError, match="look-ahead|differ"):
        churn.assert_no_lookahead(demo_store, date(2025, 9, 30), settings=settings,
                                  frame_builder=leaky)


# -- labels and snapshots -----------------------------------------------------------------------
def test_horizon_end():
    assert churn.horizon_end(date(2026, 3, 31), 6) == pd.Timestamp("2026-09-30")
    assert churn.horizon_end(date(2026, 2, 28), 6) == pd.Timestamp("2026-08-31")
    assert churn.horizon_end(date(2026, 3, 15), 6) == pd.Timestamp("2026-09-15")


def test_label_boundaries(tmp_path, settings):
    end = churn.horizon_end(TOY_AS_OF, 3)  # 2026-06-30: the toy data's as-of date
    events = pd.DataFrame({
        "account_id": ["A002", "A003", "A004", "A005", "A006"],
        "churn_date": pd.to_datetime([TOY_AS_OF, "2026-01-10", "2026-04-01", end,
                                      end + pd.Timedelta(days=1)]),
        "reason": ["other"] * 5})
    with _toy(tmp_path, {"churn_events": events}) as s:
        assert features.data_as_of(s) == end.date()
        x, y, meta = churn.training_set(s, settings=settings, horizon_months=3,
                                        as_of_dates=[TOY_AS_OF])
        with pytest.raises(ValueError, match="not observed"):
            churn.training_set(s, settings=settings, horizon_months=4, as_of_dates=[TOY_AS_OF])
    got = dict(zip(meta["account_id"], y, strict=True))
    # churn on or before the as-of date: not in the set; the first day after and the last day of
    # the window count; the day after the window does not (the account was still here then)
    assert got == {"A001": False, "A004": True, "A005": True, "A006": False}
    assert len(x) == 4 and list(x.columns) == list(churn.FEATURES)
    assert (meta["as_of"] == pd.Timestamp(TOY_AS_OF)).all()


def test_eligible_dates_leave_the_horizon_observed(demo_store):
    dates = churn.eligible_dates(demo_store, horizon_months=6)
    assert dates[0] == date(2025, 4, 30) and dates[-1] == date(2026, 4, 30)
    assert all(pd.Timestamp(d).is_month_end for d in dates)


def test_time_split_is_purged_and_never_random():
    dates = pd.date_range("2025-01-31", periods=12, freq="ME")
    meta = pd.DataFrame({"account_id": np.tile(["a", "b", "c"], 12),
                         "as_of": np.repeat(dates, 3)})
    train, valid = churn.time_split(meta, horizon_months=3)
    assert set(meta["as_of"][valid]) == {dates[-1]}
    train_dates = set(meta["as_of"][train])
    assert train_dates == set(dates[:-3])  # label windows closed by the validation date
    assert not (train & valid).any()
    two = churn.time_split(meta, horizon_months=3, validation_dates=2)
    assert set(meta["as_of"][two[1]]) == set(dates[-2:]) and max(meta["as_of"][two[0]]) == dates[-5]
    with pytest.raises(ValueError, match="history too short"):
        churn.time_split(meta.iloc[-9:], horizon_months=3)


# -- the model on the demo ---------------------------------------------------------------------
def test_model_beats_the_rules_on_the_held_out_date(trained):
    ev = trained["evaluation"]
    m = ev["metrics"]
    assert ev["method"] == "model" and trained["method"] == "calibrated_gbm"
    assert ev["mode"] == ev["status"] == trained["status"] == "time_split"
    assert ev["validation"]["as_of"] == ["2026-04-30"]
    assert churn.horizon_end(ev["train"]["as_of_last"], 6) <= pd.Timestamp("2026-04-30")
    assert ev["validation"]["events"] >= 50 and ev["train"]["events"] >= 100
    assert m["model"]["auc"] > m["rules"]["auc"]
    assert ev["beats_rules"] and ev["auc_gain_vs_rules"]["low"] > 0
    assert m["model"]["pr_auc"] > m["rules"]["pr_auc"]
    assert m["model"]["lift_top_decile"] > 1.5
    # calibration sanity: no worse than predicting the training base rate for everyone
    assert m["model"]["brier"] <= m["base_rate"]["brier"]


def test_train_saves_model_and_card_beside_the_database(trained, demo_store, settings):
    path = churn.model_path(demo_store.path)
    assert path.name == "demo.churn.joblib" and trained["model_path"] == str(path)
    card = json.loads(churn.card_path(path).read_text(encoding="utf-8"))
    for key in ("data_version", "as_of_dates", "features", "evaluation", "events",
                "horizon_months", "sklearn_version", "intended_use", "limitations"):
        assert key in card
    assert card["data_version"] == demo_store.data_version and card["horizon_months"] == 6
    model = churn.load_model(path)
    assert model.card_["method"] == "calibrated_gbm"
    scored = churn.score_store(model, demo_store, settings=settings)
    frame = features.account_frame(demo_store)
    assert len(scored) == int((~frame["churned"]).sum())
    p = scored["churn_probability"]
    assert p.between(0, 1).all() and p.std() > 0
    named = scored[["factor_1", "factor_2", "factor_3"]].stack().dropna()
    assert set(named) <= set(model.features_)
    w = scored[["weight_1", "weight_2", "weight_3"]].to_numpy()
    ok = ~np.isnan(w[:, 1])
    assert (w[ok, 0] >= w[ok, 1]).all() and (w[~np.isnan(w)] > 0).all()


def test_scores_are_vectorised_and_leave_the_frame_alone(demo_store, settings, trained):
    model = churn.load_model(trained["model_path"])
    fr = churn.churn_frame(demo_store)
    before = fr.copy()
    x = churn.feature_matrix(fr, settings=settings, products=model.products_)
    assert x.dtypes.eq("float32").all() and np.isfinite(x.to_numpy()).all()
    assert list(x.columns) == model.features_
    pd.testing.assert_frame_equal(fr, before)
    proba = model.predict_proba(x)
    assert proba.shape == (len(x), 2) and np.allclose(proba.sum(1), 1)


def test_fallback_below_min_events_ranks_by_the_rules(demo_store, settings, tmp_path):
    few = _with(settings, **{"churn.min_events": 100_000})
    out = churn.train(demo_store, settings=few, path=tmp_path / "m.joblib", evaluation=False)
    assert out["method"] == "rules" and out["status"] == "rules_fallback"
    assert "churn.min_events" in out["message"] and "rules" in out["message"]
    model = churn.load_model(tmp_path / "m.joblib")
    assert model.fallback_ and model.model_ is None
    scored = churn.score_store(model, demo_store, settings=few)
    assert model.products_ == [] and model.features_ == list(churn.FEATURES)
    # the ranking is the rules' ranking (rates pooled where counts are rare: ties by count)
    ranked = scored.sort_values(["churn_probability", "rules_score"], kind="stable")
    assert ranked["rules_score"].is_monotonic_increasing
    assert scored.groupby("rules_score")["churn_probability"].nunique().eq(1).all()
    assert scored.loc[scored["rules_score"] == 0, "factor_1"].isna().all()
    flagged = scored[scored["rules_score"] > 0]
    assert flagged["factor_1"].str.startswith("rule_").all()
    ev = churn.evaluate(demo_store, settings=few, n_boot=0)
    assert ev["method"] == "rules" and set(ev["metrics"]) == {"rules", "base_rate"}
    assert ev["status"] == "rules_fallback" and ev["mode"] == "cross_sectional"


def test_rules_on_the_toy_portfolio(tmp_path, settings):
    with _toy(tmp_path) as s:
        fr = churn.churn_frame(s, as_of=date(2026, 6, 30))
    flags = churn.rule_flags(fr, settings=settings).set_axis(fr["account_id"].astype(str))
    # A002: handset lease ends 2026-08-31 (within 3 months); A002, A003 hold competitor products
    assert flags["rule_contract_ending"].to_dict() == {a: a == "A002" for a in flags.index}
    assert flags["rule_competitor_held"].to_dict() == {
        a: a in ("A002", "A003") for a in flags.index}
    assert not flags[["rule_revenue_drop", "rule_arrears", "rule_escalation",
                      "rule_competitor_new"]].any().any()
    score = churn.rules_score(fr, settings).set_axis(fr["account_id"].astype(str))
    # A003-A006 have no contract at all: the no-contract rule
    assert flags["rule_no_contract"].to_dict() == {
        a: a not in ("A001", "A002") for a in flags.index}
    assert score.to_dict() == {"A001": 0, "A002": 2, "A003": 2, "A004": 1, "A005": 1, "A006": 1}


# -- survival, lifetime value, value at risk ----------------------------------------------------
def test_survival_curves_fall_within_zero_and_one(demo_store, settings):
    sf = churn.survival_frame(demo_store, settings=settings)
    assert (sf["duration_months"] > sf["entry_months"]).all() and sf["event"].sum() > 50
    for by in ("bundle", "tier"):
        curves = churn.survival_curves(sf, by=by)
        assert "all" in set(curves["group"]) and curves["group"].nunique() >= 4
        for _, c in curves.groupby("group"):
            s = c.sort_values("months")["survival"].to_numpy()
            assert ((s >= 0) & (s <= 1)).all() and (np.diff(s) <= 1e-12).all()
            assert (c["lower"] <= c["survival"] + 1e-9).all()
    kms = churn.fit_survival(sf, by="bundle")
    cond = churn.conditional_survival(kms["all"], 60, months=24)
    assert cond.iloc[0] == 1 and (np.diff(cond.to_numpy()) <= 1e-12).all()


def _toy_survival(durations: list[float], events: list[bool]) -> pd.DataFrame:
    n = len(durations)
    return pd.DataFrame({"account_id": [f"S{i}" for i in range(n)], "entry_months": [0.0] * n,
                         "duration_months": durations, "event": events,
                         "our_families": [1] * n, "tier": ["A"] * n})


def _toy_live(tenure_days: list[int], revenue: list[float]) -> pd.DataFrame:
    as_of = pd.Timestamp("2026-06-30")
    fr = pd.DataFrame({"account_id": [f"L{i}" for i in range(len(revenue))],
                       "onboard_date": [as_of - pd.Timedelta(days=d) for d in tenure_days],
                       "our_families": [1] * len(revenue), "monthly_revenue": revenue})
    fr.attrs["as_of"] = as_of.date().isoformat()
    return fr


def test_lifetime_value_hand_computed(settings):
    s = _with(settings, **{"churn.max_lifetime_months": 12, "churn.discount_rate": 0.1,
                           "churn.margin_rate": 0.4})
    v = 1 / 1.1 ** (1 / 12)
    # S = 1, .75, .5, .25, 0 at 0..4 months; a new account (tenure 0)
    kms = churn.fit_survival(_toy_survival([0.5, 1.5, 2.5, 3.5], [True] * 4))
    live = _toy_live([0], [1000.0])
    rem = churn.expected_remaining_lifetime(live, kms, settings=s)
    assert rem["remaining_months"].iloc[0] == pytest.approx(0.75 + 0.5 + 0.25)
    disc = 0.75 * v + 0.5 * v**2 + 0.25 * v**3
    assert rem["discounted_months"].iloc[0] == pytest.approx(disc)
    ltv = churn.lifetime_value(live, rem, settings=s)
    assert ltv.iloc[0] == pytest.approx(1000 * 0.4 * disc)
    # nobody ever left: every one of the 12 months is expected, discounted monthly
    kms = churn.fit_survival(_toy_survival([30.0, 40.0], [False, False]))
    live = _toy_live([1461], [500.0])  # 1461 days = exactly 48 months
    rem = churn.expected_remaining_lifetime(live, kms, settings=s)
    assert rem["remaining_months"].iloc[0] == pytest.approx(12)
    annuity = sum(v**u for u in range(1, 13))
    assert rem["discounted_months"].iloc[0] == pytest.approx(annuity)
    assert churn.lifetime_value(live, rem, settings=s).iloc[0] == pytest.approx(500 * .4 * annuity)
    # a remaining lifetime given in months is discounted as an annuity
    r = 1.1 ** (1 / 12) - 1
    got = churn.lifetime_value(live, pd.Series([12.0], index=live.index), settings=s)
    assert got.iloc[0] == pytest.approx(500 * 0.4 * (1 - (1 + r) ** -12) / r)
    assert got.iloc[0] == pytest.approx(500 * 0.4 * annuity)


def test_value_at_risk_hand_computed():
    fr = pd.DataFrame({"account_id": ["X", "Y"], "monthly_revenue": [1000.0, 200.0]})
    out = churn.value_at_risk(pd.Series([0.1, 0.5]), fr, pd.Series([50_000.0, 3_000.0]))
    assert out["annual_revenue"].tolist() == [12_000.0, 2_400.0]
    assert out["revenue_at_risk"].tolist() == pytest.approx([1_200.0, 1_200.0])
    assert out["ltv_at_risk"].tolist() == pytest.approx([5_000.0, 1_500.0])
    part = churn.value_at_risk(pd.Series([0.2], index=[1]), fr)
    assert np.isnan(part["revenue_at_risk"].iloc[0]) and part["revenue_at_risk"].iloc[1] == 480.0


def test_too_short_a_history_says_so(tmp_path, settings):
    with _toy(tmp_path) as s:  # 12 months of bills: one snapshot with 6 months of follow-up
        assert churn.eligible_dates(s, horizon_months=6) == [date(2025, 12, 31)]
        ev = churn.evaluate(s, settings=settings)
        # no time split (one date); the latest labelled date has no churn: the rules, and why
        assert ev["mode"] == "cross_sectional" and ev["status"] == "rules_fallback"
        assert ev["method"] == "rules" and "two as-of dates" in ev["reason"]
        assert "churn.min_events" in ev["message"]
        out = churn.train(s, settings=settings, path=tmp_path / "m.joblib")
        assert out["method"] == "rules" and "churn.min_events" in out["message"]
        assert out["status"] == "rules_fallback" and out["mode"] == "cross_sectional"
        assert churn.load_model(tmp_path / "m.joblib").fallback_


# -- the portfolio's risk, as the app reads it ---------------------------------------------------
def test_portfolio_risk_combines_probability_lifetime_value_and_value_at_risk(
        demo_store, settings, trained):
    model = churn.load_model(trained["model_path"])
    s = _with(settings, **{"churn.margin_rate": 0.5})
    risk = churn.portfolio_risk(demo_store, settings=s, model=model)
    frame = features.account_frame(demo_store)
    live = frame[~frame["churned"].astype(bool)]
    assert list(risk.index) == live["account_id"].astype(str).tolist()
    assert risk.attrs == {"as_of": DEMO_AS_OF.isoformat(), "risk_source": "model",
                          "base_rate": model.base_rate_, "horizon_months": 6}
    assert risk["churn_probability"].between(0.001, 0.999).all()
    # the model's own scores, account by account
    direct = churn.score_store(model, demo_store, settings=s).set_index("account_id")
    assert np.allclose(risk["churn_probability"], direct.loc[risk.index, "churn_probability"])
    assert (risk["factor_1"] == direct.loc[risk.index, "factor_1"]).all()
    # value at risk and lifetime value, recomputed by hand from their parts
    revenue = live.set_index(live["account_id"].astype(str))["monthly_revenue"].astype(float)
    assert np.allclose(risk["annual_revenue"], 12 * revenue)
    assert np.allclose(risk["revenue_at_risk"], risk["churn_probability"] * 12 * revenue)
    assert np.allclose(risk["lifetime_value"], revenue * 0.5 * risk["discounted_months"])
    assert np.allclose(risk["ltv_at_risk"], risk["churn_probability"] * risk["lifetime_value"])
    assert (risk["discounted_months"] <= risk["remaining_months"] + 1e-9).all()
    assert risk["remaining_months"].between(0, settings.get("churn.max_lifetime_months")).all()
    # accounts holding more of our families are expected to stay longer (the demo's hazard)
    fam = live.set_index(live["account_id"].astype(str))["our_families"].astype(int)
    by_depth = risk["remaining_months"].groupby(fam).median()
    assert by_depth.loc[by_depth.index.max()] > by_depth.loc[by_depth.index.min()]


def test_portfolio_risk_without_a_model_keeps_value_and_names_the_rules(demo_store, settings):
    risk = churn.portfolio_risk(demo_store, settings=settings, model=None)
    assert risk.attrs["risk_source"] == "none"
    assert risk["churn_probability"].isna().all() and risk["revenue_at_risk"].isna().all()
    assert (risk["lifetime_value"] >= 0).all() and risk["lifetime_value"].gt(0).any()
    # without a model the factors are the rules tripped, as many as the rules score says
    rules = {r.name for r in churn.RULES}
    named = risk[[f"factor_{j}" for j in (1, 2, 3)]].notna().sum(axis=1)
    assert (named == risk["rules_score"].clip(upper=3)).all()
    assert set(risk["factor_1"].dropna()) <= rules


def test_a_small_group_that_empties_early_still_gets_a_curve():
    # group "1": one account enters at 0 and leaves at 1 month, emptying the risk set early;
    # four more enter at 60 months and all leave. Kaplan-Meier refuses such a group.
    sf = pd.DataFrame({
        "account_id": [f"S{i}" for i in range(9)],
        "entry_months": [0.0] + [60.0] * 4 + [0.0] * 4,
        "duration_months": [1.0, 61, 62, 63, 64, 5, 30, 40, 50],
        "event": [True] * 5 + [False, True, False, False],
        "our_families": [1] * 5 + [2] * 4, "tier": ["A"] * 9})
    fits = churn.fit_survival(sf, by="bundle")
    assert set(fits) == {"all", "1", "2"}
    assert type(fits["2"]).__name__ == "KaplanMeierFitter"
    assert type(fits["1"]).__name__ == "_BreslowSurvival"
    curve = fits["1"].survival_function_.iloc[:, 0]
    assert (curve > 0).all() and curve.is_monotonic_decreasing
    # exp(-Nelson-Aalen): 1 at risk leaves at 1; then 4, 3, 2, 1 at risk, one leaving each time
    assert curve.iloc[-1] == pytest.approx(np.exp(-(1 + 1 / 4 + 1 / 3 + 1 / 2 + 1)))
    live = pd.DataFrame({"account_id": ["L"], "onboard_date": [pd.Timestamp("2021-06-30")],
                         "our_families": [1], "monthly_revenue": [100.0]})
    live.attrs["as_of"] = "2026-06-30"
    rem = churn.expected_remaining_lifetime(live, fits, settings=load_settings())
    assert np.isfinite(rem["remaining_months"]).all() and (rem["remaining_months"] > 0).all()
    curves = churn.survival_curves(sf, by="bundle")
    assert curves["survival"].between(0, 1).all()


def test_train_replaces_the_saved_model_whole(demo_store, settings, tmp_path):
    path = tmp_path / "m.churn.joblib"
    first = churn.train(demo_store, settings=settings, path=path, evaluation=False)
    second = churn.train(demo_store, settings=settings, path=path, evaluation=False)
    assert first["trained_at"] <= second["trained_at"]
    assert not list(tmp_path.glob("*.tmp"))  # written beside, renamed into place
    card = json.loads(churn.card_path(path).read_text(encoding="utf-8"))
    assert card["trained_at"] == second["trained_at"]
    assert churn.load_model(path).card_["trained_at"] == second["trained_at"]


def test_what_if_risk_reads_the_changed_bundle(demo_store, settings, trained):
    model = churn.load_model(trained["model_path"])
    cf = churn.churn_frame(demo_store)
    fits = churn.fit_survival(churn.survival_frame(demo_store, settings=settings,
                                                   with_tier=False))
    live = cf[~cf["churned"].astype(bool)]
    one = live[live["our_families"] == 1].iloc[[0]]
    one.attrs = dict(cf.attrs)
    # no change: before and after agree, and match the portfolio's own figures
    same = churn.what_if_risk(one, {}, settings=settings, model=model, survival=fits)
    assert list(same.index) == ["churn_probability", "remaining_months", "lifetime_value"]
    assert np.allclose(same["before"], same["after"])
    risk = churn.portfolio_risk(demo_store, settings=settings, model=model, frame=cf,
                                survival=fits)
    aid = str(one["account_id"].iloc[0])
    assert same.at["churn_probability", "before"] == pytest.approx(
        risk.at[aid, "churn_probability"])
    assert same.at["lifetime_value", "before"] == pytest.approx(risk.at[aid, "lifetime_value"])
    # a second family of ours and ¥1,000 more a month: a longer expected life on the deeper
    # curve, a lifetime value recomputed from both, the billing history left as it is
    revenue = float(one["monthly_revenue"].iloc[0])
    changes = {"our_families": 2, "our_products": int(one["our_products"].iloc[0]) + 1,
               "monthly_revenue": revenue + 1000.0}
    moved = churn.what_if_risk(one, changes, settings=settings, model=model, survival=fits)
    deeper = one.assign(our_families=2)
    deeper.attrs = dict(cf.attrs)
    rem = churn.expected_remaining_lifetime(deeper, fits, settings=settings)
    assert moved.at["remaining_months", "after"] == pytest.approx(
        rem["remaining_months"].iloc[0])
    assert moved.at["lifetime_value", "after"] == pytest.approx(
        (revenue + 1000.0) * settings.get("churn.margin_rate") * rem["discounted_months"].iloc[0])
    held = one.assign(our_families=2, our_products=changes["our_products"])
    held.attrs = dict(cf.attrs)
    p_held = model.risk(churn.feature_matrix(held, settings=settings,
                                             products=model.products_))[0]
    assert moved.at["churn_probability", "after"] == pytest.approx(p_held)
    # without a model only the survival rows; with neither, nothing
    assert list(churn.what_if_risk(one, changes, settings=settings, survival=fits).index) == [
        "remaining_months", "lifetime_value"]
    assert churn.what_if_risk(one, changes, settings=settings).empty
    with pytest.raises(ValueError, match="one account"):
        churn.what_if_risk(live.iloc[:2], {}, settings=settings)
