"""The `valuation` command end to end: demo -> export -> import, score, snapshots, settings."""

import io
import json
import subprocess
import sys

import pandas as pd
import pytest

from valuation.cli import main
from valuation.store import Store, copy_database

FACTS = ["teams", "users", "competitors", "products", "accounts", "holdings", "contracts",
         "billing_monthly", "lines", "line_daily", "interactions", "churn_events"]


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    db = tmp_path_factory.mktemp("cli") / "a.duckdb"
    assert main(["demo", "--db", str(db), "--accounts", "400", "--seed", "3",
                 "--as-of", "2026-10-31", "--line-accounts", "60"]) == 0
    return db


def test_demo_export_import_round_trip(small_demo, tmp_path, capsys):
    out = tmp_path / "export"
    assert main(["export", "--db", str(small_demo), "--out", str(out), "--format", "parquet"]) == 0
    db2 = tmp_path / "b.duckdb"
    assert main(["import", "--db", str(db2), str(out)]) == 0
    with Store(small_demo) as a, Store(db2) as b:
        for t in FACTS:
            pd.testing.assert_frame_equal(a.read_table(t), b.read_table(t), obj=t)
        assert b.data_version and b.data_version != a.data_version


def test_bad_import_exits_1_and_changes_nothing(small_demo, tmp_path, capsys):
    with Store(small_demo) as s:
        before = s.data_version
        counts = s.row_counts()
    bad = tmp_path / "accounts.csv"
    bad.write_text("account_id,name,industry\nX1,坏客户,not-an-industry\n", encoding="utf-8")
    assert main(["import", "--db", str(small_demo), str(bad)]) == 1
    report = capsys.readouterr().out
    assert "accounts.csv" in report and "missing_column" in report
    with Store(small_demo) as s:
        assert s.data_version == before and s.row_counts() == counts


def test_score_snapshot_evaluate(small_demo, tmp_path, capsys):
    out = tmp_path / "scores.csv"
    assert main(["score", "--db", str(small_demo), "--out", str(out)]) == 0
    df = pd.read_csv(out)
    for col in ["account_id", "model", "value_score", "influence_score", "payment_score",
                "loyalty_score", "competitor_score", "tier", "strategy", "lifecycle_stage",
                "top_up", "top_down", "next_tier_move"]:
        assert col in df.columns
    assert df["account_id"].is_unique and set(df["tier"]) <= {"A", "B", "C", "D"}
    left_out = capsys.readouterr().out
    with Store(small_demo) as s:
        gone = int(s.scalar("SELECT count(DISTINCT account_id) FROM churn_events"))
    assert gone > 0 and f"{gone:,} churned accounts left out" in left_out
    everyone = tmp_path / "all.csv"
    assert main(["score", "--db", str(small_demo), "--out", str(everyone),
                 "--include-churned"]) == 0
    full = pd.read_csv(everyone)
    assert len(full) == len(df) + gone and int(full["churned"].sum()) == gone
    assert full.loc[full["churned"], "churn_date"].notna().all()
    assert main(["snapshot", "--db", str(small_demo), "--backfill", "24"]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--db", str(small_demo), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["horizon_months"] == 12
    assert set(result["dimensions"]) == {"value_score", "loyalty_score", "competitor_score"}
    for r in result["dimensions"].values():
        assert r["auc"] is None or 0 <= r["low"] <= r["auc"] <= r["high"] <= 1


def test_settings_check_and_save(small_demo, tmp_path, capsys):
    good = tmp_path / "s.toml"
    assert main(["settings", "--db", str(small_demo), "--show"]) == 0
    text = capsys.readouterr().out
    good.write_text(text.replace("value_high = 50.0", "value_high = 55.0"), encoding="utf-8")
    assert main(["settings", "--check", str(good)]) == 0
    assert main(["settings", "--db", str(small_demo), "--save", str(good)]) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('weight = 3.0', 'weight = -3.0', 1), encoding="utf-8")
    assert main(["settings", "--check", str(bad)]) == 2
    assert "weight must be a number >= 0" in capsys.readouterr().err


def test_passwd_from_stdin(small_demo, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-new-password\n"))
    assert main(["passwd", "--db", str(small_demo), "am02"]) == 0
    from valuation.access import authenticate

    with Store(small_demo) as s:
        assert authenticate(s, "am02", "a-new-password") is not None


def test_module_entry_point_runs():
    r = subprocess.run([sys.executable, "-m", "valuation", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "demo" in r.stdout and "import" in r.stdout


def test_warnings_command_writes_and_dispatches(small_demo, tmp_path, capsys):
    out = tmp_path / "w.csv"
    assert main(["warnings", "--db", str(small_demo), "--out", str(out), "--dispatch"]) == 0
    text = capsys.readouterr().out
    df = pd.read_csv(out)
    assert {"account_id", "rule", "severity"} <= set(df.columns) and len(df) > 0
    assert "work orders:" in text
    with Store(small_demo) as s:
        n = s.scalar("SELECT count(*) FROM work_orders")
    assert main(["warnings", "--db", str(small_demo), "--dispatch"]) == 0
    with Store(small_demo) as s:  # the same warnings again open no duplicate
        assert s.scalar("SELECT count(*) FROM work_orders") == n


def test_recommend_evaluate_chooses_on_one_half_and_reports_the_other(small_demo, tmp_path,
                                                                      capsys):
    assert main(["recommend", "evaluate", "--db", str(small_demo), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    sel, test = r["selection"], r["test"]
    assert sel["accounts"] > 25 and test["accounts"] > 25
    assert sel["methods"]["chosen"]["hit@3"] >= sel["methods"]["popularity"]["hit@3"]
    m = test["methods"]
    assert 0 <= m["chosen"]["hit@3"] <= m["chosen"]["hit@5"] <= 1
    assert r["chosen"] == r["blend"]["name"] and r["in_use"]["name"] == "default"
    db = tmp_path / "saved.duckdb"
    copy_database(small_demo, db)
    assert main(["recommend", "evaluate", "--db", str(db), "--save"]) == 0
    assert "saved as settings version" in capsys.readouterr().out
    with Store(db) as s:
        from valuation.bundling import Blend
        from valuation.settings_store import active_settings

        assert Blend.from_settings(active_settings(s)).name == r["chosen"]


def test_bench_reports_every_stage(capsys):
    assert main(["bench", "--accounts", "300", "--line-accounts", "30",
                 "--churn-train-accounts", "200", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert set(r["stages_s"]) >= {"generate", "load", "features", "scoring", "positioning",
                                  "pyramid", "bundling", "warnings", "churn_train", "churn_score",
                                  "churn_value"}
    # 200 accounts churn too rarely for a time split: one labelled month end, k-fold
    assert r["churn_mode"] in ("cross_sectional", "rules_fallback")
    assert 150 < r["rows"]["churn_training_rows"] <= 200
    assert all(v >= 0 for v in r["stages_s"].values()) and r["peak_rss_mb"] > 0
    assert r["rows"]["accounts"] == 300


def test_churn_evaluate_reports_model_and_rules(small_demo, capsys):
    assert main(["churn", "evaluate", "--db", str(small_demo), "--json"]) == 0
    text = capsys.readouterr().out
    r = json.loads(text)
    assert "rules" in json.dumps(r) and "auc" in json.dumps(r).lower()


def test_demo_shows_its_stages_as_it_goes(tmp_path, capsys):
    """A long demo never sits silent: every stage on stderr as it starts, in order, with the
    seconds since the start; stdout keeps only the summary."""
    import re

    assert main(["demo", "--db", str(tmp_path / "p.duckdb"), "--accounts", "300", "--seed", "5",
                 "--as-of", "2026-10-31", "--line-accounts", "40"]) == 0
    out, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if re.match(r"\[ *\d+\.\d s\] demo: ", ln)]
    stages = [ln.split("] demo: ", 1)[1] for ln in lines]
    expected = ["accounts (300)", "holdings and contracts", "churn history", "monthly bills",
                "member lines (40 accounts) and their daily usage", "interactions",
                "assembling the tables", "writing the facts", "score history (24 month ends)",
                "weekly warnings, week 1 of 4", "weekly warnings, week 2 of 4",
                "weekly warnings, week 3 of 4", "weekly warnings, week 4 of 4",
                "the churn model", "the analysis the app reads"]
    assert stages == expected, stages
    seconds = [float(re.match(r"\[ *(\d+\.\d) s\]", ln).group(1)) for ln in lines]
    assert seconds == sorted(seconds)
    assert "demo portfolio written to" in out and "] demo:" not in out
