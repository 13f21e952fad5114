"""Calibration to churn, evaluation under the settings in force, month-end label windows."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from conftest import toy_frames
from sklearn.linear_model import LogisticRegression

from valuation import history
from valuation.calibrate import calibrate, fit_weights
from valuation.config import SettingsError, load_settings, parse_settings
from valuation.measures import MEASURES, raw_measures
from valuation.periods import horizon_end, labelled_month_ends
from valuation.settings_store import active_settings, save_settings
from valuation.store import Store, copy_database


# -- month ends --------------------------------------------------------------------------------
@pytest.mark.parametrize(("start", "months", "end"), [
    ("2024-11-30", 1, "2024-12-31"),   # the bug: a day offset gave 12-30
    ("2024-12-31", 2, "2025-02-28"),
    ("2024-01-31", 1, "2024-02-29"),   # leap year
    ("2025-02-28", 6, "2025-08-31"),
    ("2024-09-30", 12, "2025-09-30"),
    ("2024-03-15", 1, "2024-04-15"),   # not a month end: the same day
])
def test_horizon_end_by_calendar_month_ends(start, months, end):
    assert horizon_end(date.fromisoformat(start), months) == pd.Timestamp(end)


def test_labelled_month_ends_need_their_whole_window():
    got = labelled_month_ends(date(2024, 1, 1), date(2024, 12, 31), 1)
    assert got[0] == date(2024, 1, 31) and got[-1] == date(2024, 11, 30)
    assert labelled_month_ends(date(2024, 1, 1), date(2024, 12, 30), 1)[-1] == date(2024, 10, 31)
    assert labelled_month_ends(None, date(2024, 12, 31), 1) == []


def test_a_churn_on_the_31st_after_a_30th_month_end_is_counted(tmp_path):
    frames = toy_frames()
    frames["churn_events"] = pd.DataFrame({"account_id": ["A002"],
                                           "churn_date": [pd.Timestamp("2025-12-31")],
                                           "reason": ["price"]})
    months = pd.date_range("2025-01-01", "2025-12-01", freq="MS")
    b = frames["billing_monthly"]
    frames["billing_monthly"] = pd.concat(
        [b.assign(month=m) for m in months]).drop_duplicates(["account_id", "month"])
    with Store(tmp_path / "t.duckdb") as s:
        s.replace_facts(frames, source="toy")
        rows = pd.DataFrame({"account_id": ["A002", "A003"],
                             "as_of": pd.to_datetime(["2025-11-30", "2025-11-30"])})
        assert history.churn_label(s, rows, 1).tolist() == [True, False]
        result = history.evaluate(s, load_settings(), horizon_months=1, n_boot=0)
    assert result["snapshot"] == "2025-11-30" and result["churned"] == 1


# -- the fit -----------------------------------------------------------------------------------
def test_fit_weights_respects_signs_and_recovers_a_known_ranking():
    rng = np.random.default_rng(0)
    x = rng.random((4000, 3))
    # loyalty reading: column 0 protects strongly, column 1 a little, column 2 raises churn
    z = 1.0 - 3.0 * x[:, 0] - 1.0 * x[:, 1] + 2.0 * x[:, 2]
    y = rng.random(4000) < 1 / (1 + np.exp(-z))
    w = fit_weights(x, y, sign=-1.0, c=10.0)
    assert (w >= 0).all()
    assert w[2] == 0.0  # a measure that raises churn cannot gain loyalty weight
    assert w[0] > w[1] > 0
    # unconstrained, the same data gives column 2 a protective (negative) sign
    lr = LogisticRegression(C=10.0).fit(x, y)
    assert lr.coef_[0][2] > 0


def test_raw_measures_come_in_registry_order(toy_store):
    from valuation import features

    raw = raw_measures(features.account_frame(toy_store))
    assert list(raw.columns) == list(MEASURES)


# -- on data generated with other rules than the demo --------------------------------------------
@pytest.fixture(scope="module")
def wide_copy(wide_path, tmp_path_factory):
    d = tmp_path_factory.mktemp("wide_cal") / "w.duckdb"
    copy_database(wide_path, d)
    return d


def test_calibration_moves_weight_to_tenure_and_term_and_lifts_loyalty(wide_copy):
    with Store(wide_copy) as s:
        settings = active_settings(s)
        before = history.evaluate(s, settings, horizon_months=1, n_boot=0)
        result = calibrate(s, settings, horizon_months=1, n_boot=100)
        assert result["changed"]
        sme = next(m for m in result["models"] if m["model"] == "sme")
        loy = sme["dimensions"]["loyalty"]
        assert loy["mode"] == "kfold"  # all churn in the last month: no time split
        new = {w["measure"]: w["new"] for w in loy["weights"]}
        old = {w["measure"]: w["old"] for w in loy["weights"]}
        # product counts carry no signal here; tenure and the term agreement do
        assert new["tenure_years"] > old["tenure_years"]
        assert new["term_contract"] > 0 and old["term_contract"] is None
        assert new["our_families"] < old["our_families"]
        # a measure constant in the scope ends with no weight
        assert new["closed_user_group"] == 0.0
        assert not next(w for w in loy["weights"] if w["measure"] == "closed_user_group")[
            "available"]
        # out of sample, by a clear margin, with intervals that do not overlap
        assert loy["auc_after"]["auc"] >= loy["auc_before"]["auc"] + 0.15
        assert loy["auc_after"]["low"] > loy["auc_before"]["high"]
        # no competitor product exists here: those weights are kept, and it says so
        assert sme["dimensions"]["competitor"]["mode"] == "kept"
        sid = save_settings(s, result["toml"], user="test", comment="calibrated")
        after = history.evaluate(s, active_settings(s), horizon_months=1, n_boot=0)
    assert sid == 1
    assert after["dimensions"]["loyalty_score"]["auc"] > (
        before["dimensions"]["loyalty_score"]["auc"] + 0.15)
    # value is never fitted: its AUC does not move
    assert after["dimensions"]["value_score"] == before["dimensions"]["value_score"]


def test_too_few_events_keep_the_weights(wide_copy, tmp_path):
    db = tmp_path / "w.duckdb"
    copy_database(wide_copy, db)
    with Store(db) as s:
        text = active_settings(s).source + "\n[calibration]\nmin_events = 100000\n"
        result = calibrate(s, parse_settings(text), horizon_months=1, n_boot=0)
    assert not result["changed"] and result["toml"] is None
    for m in result["models"]:
        e = m["dimensions"]["loyalty"]
        assert e["mode"] == "kept" and "fewer than calibration.min_events" in e["message"]


def test_evaluate_follows_a_settings_change(wide_copy, tmp_path):
    db = tmp_path / "w.duckdb"
    copy_database(wide_copy, db)
    with Store(db) as s:
        base = load_settings()
        a = history.evaluate(s, base, horizon_months=1, n_boot=0)
        doc = base.source.replace('{ name = "tenure_years", weight = 1.5, norm = "minmax" }',
                                  '{ name = "tenure_years", weight = 30.0, norm = "minmax" }')
        assert doc != base.source
        b = history.evaluate(s, parse_settings(doc), horizon_months=1, n_boot=0)
    assert b["dimensions"]["loyalty_score"]["auc"] > a["dimensions"]["loyalty_score"]["auc"]
    # the competitor score is constant here: reported as such, not as AUC 0.5
    assert a["dimensions"]["competitor_score"]["constant"] is True


def test_calibrated_settings_score_the_demo_no_worse(demo_path, tmp_path):
    """On the demo, calibration only keeps weights or improves them out of sample."""
    db = tmp_path / "d.duckdb"
    copy_database(demo_path, db)
    with Store(db) as s:
        result = calibrate(s, active_settings(s), horizon_months=6, n_boot=0)
    for m in result["models"]:
        for e in m["dimensions"].values():
            if e["mode"] != "kept":
                assert e["auc_after"]["auc"] > e["auc_before"]["auc"]


# -- settings that nothing reads -----------------------------------------------------------------
@pytest.mark.parametrize(("extra", "message"), [
    ("[bundling]\nmin_cont = 5\n", "[bundling]: unknown key 'min_cont'"),
    ("[churn]\nhorizon = 3\n", "[churn]: unknown key 'horizon'"),
    ("[scoring]\nx = 1\n", "unknown section [scoring]"),
    ("[bundling]\nmin_count = \"five\"\n", "bundling.min_count: expected int"),
])
def test_unknown_settings_are_refused(extra, message):
    with pytest.raises(SettingsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_settings(load_settings().source + "\n" + extra)


def test_known_bundling_settings_are_read():
    from valuation.bundling import BundlingParams

    s = parse_settings(load_settings().source + "\n[bundling]\nmin_count = 7\n")
    assert BundlingParams.from_settings(s).min_count == 7


def test_unknown_measure_key_is_refused():
    text = load_settings().source.replace(
        '{ name = "admin_level", weight = 3.0, norm = "fixed" }',
        '{ name = "admin_level", weight = 3.0, norm = "fixed", wieght = 2 }')
    with pytest.raises(SettingsError, match="unknown key 'wieght'"):
        parse_settings(text)
