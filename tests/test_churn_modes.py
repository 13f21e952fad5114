"""Churn modes on data the demo never saw: the cross-sectional mode on a snapshot export
(the generated wide CRM export: one row per customer, every churn on the export date), the
time split kept on the demo, the status on every card, product indicators, the no-contract
rule and every rule read against history, and models saved before all this."""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import joblib
import numpy as np
import pandas as pd
import pytest
from conftest import toy_frames
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from valuation import churn
from valuation.churn import model as model_module
from valuation.config import Settings, load_settings
from valuation.store import Store

WIDE_LABELLED = date(2026, 9, 30)  # the export is dated 2026-10-31: one month of follow-up
# The demo fixture's time-split AUC before the cross-sectional mode, product indicators and
# the no-contract rule (churn.min_events = 50: its purged training dates hold 55 events)
DEMO_AUC_BEFORE = 0.704


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings()


def _with(settings: Settings, **values: object) -> Settings:
    return dataclasses.replace(settings, values={**settings.values, **values})


@pytest.fixture(scope="module")
def wide(wide_path):
    with Store(wide_path) as s:
        yield s


@pytest.fixture(scope="module")
def wide_eval(wide, settings):
    return churn.evaluate(wide, settings=settings, horizon_months=1)


@pytest.fixture(scope="module")
def wide_trained(wide, settings, tmp_path_factory):
    path = tmp_path_factory.mktemp("wide-model") / "wide.churn.joblib"
    return churn.train(wide, settings=settings, horizon_months=1, path=path)


def _oof_auc(make, x: pd.DataFrame, y: np.ndarray, folds) -> float:
    p = np.zeros(len(y))
    for tr, te in folds:
        p[te] = make().fit(x.iloc[tr], y[tr]).predict_proba(x.iloc[te])[:, 1]
    return float(roc_auc_score(y, p))


# -- the cross-sectional mode on a snapshot export ----------------------------------------------
def test_snapshot_export_is_evaluated_cross_sectionally(wide_eval):
    ev = wide_eval
    assert ev["mode"] == ev["status"] == "cross_sectional" and ev["method"] == "model"
    # why: no churn in the purged training dates; which date, and how
    assert "only 0 churn events" in ev["reason"] and "churn.min_events" in ev["reason"]
    assert ev["validation"]["as_of"] == [WIDE_LABELLED.isoformat()]
    assert ev["validation"]["design"].startswith("5-fold stratified out-of-fold")
    assert ev["validation"]["events"] >= 600 and 0.2 < ev["observed_rate"] < 0.3
    m = ev["metrics"]
    assert m["model"]["auc"] > 0.8 and m["model"]["auc"] > m["rules"]["auc"] + 0.05
    assert ev["beats_rules"] and ev["auc_gain_vs_rules"]["low"] > 0
    assert m["model"]["brier"] < m["base_rate"]["brier"]
    assert abs(ev["mean_predicted"] - ev["observed_rate"]) < 0.03 and ev["calibration_ok"]
    json.dumps(ev)  # JSON-safe as it is


def test_cross_sectional_model_matches_a_tuned_logistic(wide, wide_eval, settings):
    """The calibrated model against scikit-learn learners on the same feature matrix and the
    same 5 stratified folds (the figures are in the assertion messages)."""
    x, y, meta = churn.training_set(wide, settings=settings, horizon_months=1,
                                    as_of_dates=[WIDE_LABELLED])
    yv = y.to_numpy().astype(int)
    assert len(x) == wide_eval["validation"]["rows"] and int(yv.sum()) == wide_eval[
        "validation"]["events"]
    folds = list(StratifiedKFold(n_splits=5, shuffle=True, random_state=0).split(x, yv))
    tuned = _oof_auc(lambda: GridSearchCV(  # C tuned inside each training fold
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
        {"logisticregression__C": [0.01, 0.03, 0.1, 0.3, 1.0, 3.0]}, cv=5,
        scoring="roc_auc"), x, yv, folds)
    boosted = _oof_auc(lambda: HistGradientBoostingClassifier(random_state=0), x, yv, folds)
    ours = wide_eval["metrics"]["model"]["auc"]
    figures = f"model {ours:.4f}, tuned logistic {tuned:.4f}, plain boosting {boosted:.4f}"
    assert ours >= tuned - 0.02, figures
    assert ours >= boosted - 0.01, figures


def test_train_on_a_snapshot_export_says_cross_sectional(wide_trained, wide, settings):
    card = json.loads(churn.card_path(wide_trained["model_path"]).read_text(encoding="utf-8"))
    assert card["status"] == card["mode"] == "cross_sectional"
    assert card["method"] == "calibrated_gbm" and card["evaluation"]["status"] == "cross_sectional"
    assert card["as_of_dates"] == {"first": "2026-09-30", "last": "2026-09-30", "count": 1}
    # the calibration check on the out-of-fold predictions
    assert abs(card["mean_predicted"] - card["observed_rate"]) < 0.03
    assert card["calibration_ok"] and "out-of-fold" in card["calibration_check"]
    text = " ".join(card["limitations"])
    for words in ("later period", "one date", "one period"):
        assert words in text
    # the weak rule is named in the limitations; the card carries every rule's record
    assert "rule_contract_ending" in text
    rules = {r["rule"]: r for r in card["rules_evaluation"]}
    assert set(rules) == {r.name for r in churn.RULES}
    # the saved model scores the live accounts at about the observed rate
    model = churn.load_model(wide_trained["model_path"])
    assert not model.fallback_ and model.card_["status"] == "cross_sectional"
    scored = churn.score_store(model, wide, settings=settings, as_of=WIDE_LABELLED)
    assert abs(scored["churn_probability"].mean() - card["observed_rate"]) < 0.03


def test_default_six_month_horizon_still_works_on_a_snapshot(wide, settings, tmp_path):
    ev = churn.evaluate(wide, settings=settings, n_boot=0)  # churn.horizon_months = 6
    assert ev["horizon_months"] == 6 and ev["status"] == "cross_sectional"
    assert ev["validation"]["as_of"] == ["2026-04-30"]
    # accounts onboarded after that date are not in it
    assert ev["validation"]["rows"] < churn.training_set(
        wide, settings=settings, horizon_months=1, as_of_dates=[WIDE_LABELLED],
        products=())[0].shape[0]
    assert ev["metrics"]["model"]["auc"] > 0.75
    out = churn.train(wide, settings=settings, path=tmp_path / "m.joblib", evaluation=False)
    assert out["status"] == "cross_sectional" and out["as_of_dates"]["last"] == "2026-04-30"
    assert "in-sample" in out["calibration_check"]
    assert abs(out["mean_predicted"] - out["observed_rate"]) < 0.03


def test_too_few_events_on_the_date_fall_back_to_the_rules_and_say_so(wide, settings, tmp_path):
    few = _with(settings, **{"churn.min_events": 10_000})
    ev = churn.evaluate(wide, settings=few, horizon_months=1, n_boot=0)
    assert ev["mode"] == "cross_sectional" and ev["status"] == "rules_fallback"
    assert set(ev["metrics"]) == {"rules", "base_rate"} and "churn.min_events" in ev["message"]
    out = churn.train(wide, settings=few, horizon_months=1, path=tmp_path / "m.joblib")
    card = json.loads(churn.card_path(tmp_path / "m.joblib").read_text(encoding="utf-8"))
    assert out["status"] == card["status"] == "rules_fallback" and card["method"] == "rules"
    assert any("No model was learned" in t for t in card["limitations"])
    assert churn.load_model(tmp_path / "m.joblib").fallback_
    # the rules' rates, learned on the date's rows, are at the observed level
    assert abs(card["mean_predicted"] - card["observed_rate"]) < 0.03


# -- the time split on the demo ---------------------------------------------------------------
def test_demo_keeps_the_time_split_and_its_auc(demo_path, settings):
    enough = _with(settings, **{"churn.min_events": 50})
    with Store(demo_path) as s:
        ev = churn.evaluate(s, settings=enough)
        assert ev["mode"] == ev["status"] == "time_split" and ev["method"] == "model"
        assert ev["train"]["events"] >= 50 and ev["validation"]["as_of"] == ["2026-04-30"]
        assert ev["metrics"]["model"]["auc"] >= DEMO_AUC_BEFORE, ev["metrics"]
        assert ev["observed_rate"] == pytest.approx(ev["validation"]["base_rate"], abs=1e-4)
        assert ev["mean_predicted"] is not None
        # with the default 100 events the time split has too few: neither mode learns
        ev = churn.evaluate(s, settings=settings, n_boot=0)
    assert ev["status"] == "rules_fallback" and "fewer than churn.min_events" in ev["reason"]


# -- product indicators -------------------------------------------------------------------------
def test_product_indicators_are_picked_at_fit_time_and_scored_alike(wide, wide_trained,
                                                                    settings):
    model = churn.load_model(wide_trained["model_path"])
    assert 0 < len(model.products_) <= 12 and "fiber" in model.products_
    assert model.features_ == [*churn.FEATURES,
                               *(churn.product_feature(p) for p in model.products_)]
    assert wide_trained["features"] == model.features_
    assert list(wide_trained["product_labels"]["holds_fiber"]) == ["Holds: Fibre broadband",
                                                                    "持有：光纤宽带"]
    assert model.feature_labels_["holds_fiber"] == ("Holds: Fibre broadband", "持有：光纤宽带")
    # the training rows and the scoring rows of the same date are the same features
    x, _, meta = churn.training_set(wide, settings=settings, horizon_months=1,
                                    as_of_dates=[WIDE_LABELLED])
    assert meta.attrs["products"] == model.products_
    fr = churn.churn_frame(wide, as_of=WIDE_LABELLED)
    live = fr[~fr["churned"].astype(bool)]
    scoring = churn.feature_matrix(live, settings=settings, products=model.products_)
    pd.testing.assert_frame_equal(scoring.reset_index(drop=True), x[model.features_])
    scored = churn.score_store(model, wide, settings=settings, as_of=WIDE_LABELLED)
    assert np.allclose(scored["churn_probability"], model.risk(scoring))
    # the indicator is the holding: fibre customers per the export's own column
    holders = set(wide.query("SELECT account_id FROM holdings WHERE product_id = 'fiber'")
                  ["account_id"])
    got = set(live["account_id"][scoring["holds_fiber"].to_numpy() == 1])
    assert got == holders & set(live["account_id"])
    # a matrix without the model's product columns is refused, not scored as zeros
    with pytest.raises(ValueError, match="products_"):
        model.risk(churn.feature_matrix(live, settings=settings))


def test_product_indicators_read_live_holdings_of_ours(tmp_path, settings):
    as_of = date(2026, 3, 31)
    frames = toy_frames()
    extra = pd.DataFrame({
        "account_id": ["A002", "A003", "A004"], "product_id": ["P-CLOUD", "P-BB", "P-MAIL"],
        "provider": ["ours"] * 3, "quantity": [1] * 3, "monthly_revenue": [500.0, 300.0, 80.0],
        # starts after the date; ended before it; ends after it (live on the date)
        "start_date": pd.to_datetime(["2026-04-15", "2024-01-01", "2025-01-01"]),
        "end_date": pd.to_datetime([None, "2026-02-28", "2026-05-31"])})
    frames["holdings"] = pd.concat([frames["holdings"], extra], ignore_index=True)
    with Store(tmp_path / "toy.duckdb") as s:
        s.replace_facts(frames, source="toy")
        fr = churn.churn_frame(s, as_of=as_of)
    products = ["P-VOICE", "P-MAIL", "P-CLOUD", "P-BB", "C1-BB"]
    x = churn.feature_matrix(fr, settings=settings, products=products)
    assert list(x.columns) == [*churn.FEATURES, *(f"holds_{p}" for p in products)]
    held = x[[f"holds_{p}" for p in products]].set_axis(fr["account_id"].astype(str))
    assert held.sum().to_dict() == {"holds_P-VOICE": 6, "holds_P-MAIL": 2, "holds_P-CLOUD": 0,
                                    "holds_P-BB": 0, "holds_C1-BB": 0}  # C1-BB: not ours
    assert held.loc["A004", "holds_P-MAIL"] == 1 and held.loc["A001", "holds_P-MAIL"] == 1
    # the most held first, ties by id; "a handful" of holders required
    assert churn.top_products(fr, n=3, min_holders=1) == ["P-VOICE", "P-MAIL", "P-CUG"]
    assert churn.top_products(fr, min_holders=6) == ["P-VOICE"]
    labels = churn.feature_labels(["holds_P-MAIL", "tenure_months"], frames["products"])
    assert labels == {"holds_P-MAIL": ("Holds: E-mail", "持有：企业邮箱"),
                      "tenure_months": churn.FEATURE_LABELS["tenure_months"]}


def test_top_products_counts_live_holders(wide, settings):
    fr = churn.churn_frame(wide, as_of=WIDE_LABELLED)
    live = fr[~fr["churned"].astype(bool)]
    sql = wide.query(
        "SELECT product_id, count(DISTINCT account_id) AS n FROM holdings WHERE provider = "
        "'ours' AND start_date <= ? AND (end_date IS NULL OR end_date > ?) GROUP BY 1",
        [WIDE_LABELLED, WIDE_LABELLED]).set_index("product_id")["n"]
    ranked = sql.sort_values(ascending=False)
    top = churn.top_products(live, n=5)
    assert top == churn.top_products(live, n=None)[:5]
    assert [int(sql[p]) for p in top] == sorted(ranked.to_numpy())[::-1][:5]
    third = int(ranked.iloc[2])  # held by at least as many as the third: ties included
    assert churn.top_products(live, n=None, min_holders=third) == [
        p for p in churn.top_products(live, n=None) if sql[p] >= third]
    assert len(churn.top_products(live, n=None, min_holders=third)) >= 3


def test_product_indicators_take_no_later_holding(wide, settings):
    churn.assert_no_lookahead(wide, WIDE_LABELLED, settings=settings)  # every product held

    def leaky(store, *, as_of):  # the products held a month later, on the date's accounts
        fr = churn.churn_frame(store, as_of=as_of)
        later = churn.churn_frame(store, as_of=(pd.Timestamp(as_of)
                                                + pd.offsets.MonthEnd(1)).date())
        fr["our_product_ids"] = fr["account_id"].map(
            later.set_index("account_id")["our_product_ids"].astype(object))
        return fr

    with pytest.raises(AssertionError, match="look-ahead.*holds_"):
        churn.assert_no_lookahead(wide, WIDE_LABELLED, settings=settings, frame_builder=leaky)


def test_what_if_moves_the_product_indicators(wide, wide_trained, settings):
    model = churn.load_model(wide_trained["model_path"])
    assert "tech_support" in model.products_
    fr = churn.churn_frame(wide, as_of=WIDE_LABELLED)
    live = fr[~fr["churned"].astype(bool)]
    lacking = live[~live["our_product_ids"].astype(str).str.contains("tech_support")
                   & live["our_product_ids"].astype(str).str.contains("fiber")].iloc[:20]
    moved = []
    for i in range(len(lacking)):
        row = lacking.iloc[[i]]
        row.attrs = dict(fr.attrs)
        out = churn.what_if_risk(row, {}, settings=settings, model=model,
                                 added=["tech_support"])
        moved.append(out.loc["churn_probability"].to_numpy())
    before, after = np.array(moved).T
    # tech support keeps customers in this export; adding it lowers the risk on average
    assert after.mean() < before.mean() and (after != before).any()


# -- rules: no contract, and every rule read against history -------------------------------------
def test_no_contract_rule_fires_on_the_wide_export(wide_eval, wide, settings):
    rules = {r["rule"]: r for r in wide_eval["rules_evaluation"]}
    nc = rules["rule_no_contract"]
    assert 0.3 < nc["flagged_share"] < 0.7 and nc["lift"] > 1.5 and not nc["weak"]
    assert nc["rate_flagged"] > 2 * nc["rate_not_flagged"]
    # the rule the export defeats: contract ending soon flags loyal customers
    ending = rules["rule_contract_ending"]
    assert ending["weak"] and ending["lift"] < 1
    # no contract = no live agreement of any type at the date
    fr = churn.churn_frame(wide, as_of=WIDE_LABELLED)
    flags = churn.rule_flags(fr, settings=settings).set_axis(fr["account_id"])
    termed = set(wide.query("SELECT account_id FROM contracts WHERE start_date <= ? AND "
                            "end_date >= ?", [WIDE_LABELLED, WIDE_LABELLED])["account_id"])
    assert set(flags.index[~flags["rule_no_contract"]]) == termed & set(fr["account_id"])
    assert flags["rule_no_contract"].any() and not flags["rule_no_contract"].all()


def test_rule_evaluation_by_hand():
    names = [r.name for r in churn.RULES]
    x = pd.DataFrame(0.0, index=range(10), columns=names)
    x.loc[:3, "rule_arrears"] = 1.0  # rows 0-3: churners 0, 1 -> rate 0.5
    x.loc[4:8, "rule_contract_ending"] = 1.0  # rows 4-8: no churner -> rate 0, lift 0
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 1])  # overall 0.3
    ev = churn.rule_evaluation(x, y)
    assert list(ev.index) == names
    a = ev.loc["rule_arrears"]
    assert a["flagged_rows"] == 4 and a["flagged_share"] == pytest.approx(0.4)
    assert a["rate_flagged"] == pytest.approx(0.5)
    assert a["rate_not_flagged"] == pytest.approx(1 / 6)
    assert a["lift"] == pytest.approx(0.5 / 0.3) and not a["weak"]
    c = ev.loc["rule_contract_ending"]
    assert c["rate_flagged"] == 0 and c["rate_not_flagged"] == pytest.approx(0.6)
    assert c["lift"] == 0 and c["weak"]
    never = ev.loc["rule_escalation"]  # never fires: no rate, no lift, not called weak
    assert never["flagged_rows"] == 0 and np.isnan(never["lift"]) and not never["weak"]
    assert ev.loc["rule_arrears", "label_en"] == "Arrears"


# -- models saved before these changes -------------------------------------------------------------
def test_a_model_saved_before_still_scores(wide, settings, tmp_path, monkeypatch):
    """A model fitted on the old base features (no rule_no_contract, no product indicators),
    its new attributes removed as an old pickle lacks them, still scores."""
    old_rules = tuple(r for r in churn.RULES if r.name != "rule_no_contract")
    old_features = tuple(f for f in churn.FEATURES if f != "rule_no_contract")
    x, y, _ = churn.training_set(wide, settings=settings, horizon_months=1,
                                 as_of_dates=[WIDE_LABELLED])
    monkeypatch.setattr(model_module, "FEATURES", old_features)
    monkeypatch.setattr(model_module, "RULES", old_rules)
    old = churn.ChurnModel(max_iter=20).fit(x[list(old_features)], y)
    monkeypatch.undo()
    for name in ("products_", "product_features", "min_product_holders"):
        delattr(old, name)
    old.card_ = {k: v for k, v in old.card_.items() if k != "products"}
    joblib.dump(old, tmp_path / "old.joblib")
    model = churn.load_model(tmp_path / "old.joblib")
    assert model.products_ == [] and model.card_["status"] == "time_split"
    assert "rule_no_contract" not in model.features_ and len(model.rules_rates_) == 7
    scored = churn.score_store(model, wide, settings=settings, as_of=WIDE_LABELLED)
    assert scored["churn_probability"].between(0, 1).all()
    assert scored["rules_score"].max() <= len(churn.RULES)
    # a model reading a feature this version no longer builds: a clear error, retrain
    old.features_ = [*old.features_, "some_removed_feature"]
    joblib.dump(old, tmp_path / "gone.joblib")
    with pytest.raises(ValueError, match="retrain"):
        churn.load_model(tmp_path / "gone.joblib")
