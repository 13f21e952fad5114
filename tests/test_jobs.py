"""The analysis built by the writer and the scheduled jobs: stored once per data and settings
version, loaded equal to a fresh analysis, and idempotent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.conftest import toy_frames
from valuation import features, jobs, prepared
from valuation.analysis import analyse
from valuation.config import load_settings
from valuation.settings_store import active_settings, save_settings
from valuation.store import Store

ROOT = Path(__file__).resolve().parent.parent


def test_a_stored_analysis_loads_equal_to_a_fresh_one(demo_path, tmp_path):
    from valuation.store import copy_database

    db = copy_database(demo_path, tmp_path / "d.duckdb")
    with Store(db) as s:
        b = prepared.build(s)
        assert (b.data_version, b.settings_id) == prepared.current_key(s)
        again = prepared.build(s)  # nothing to do: the same build
        assert again.built_at == b.built_at
        loaded = prepared.load(s, b.data_version, b.settings_id, active_settings(s))
        fresh = analyse(features.account_frame(s), active_settings(s))
        pd.testing.assert_frame_equal(loaded.frame, fresh.frame)
        assert loaded.frame.attrs == fresh.frame.attrs
        for part in ("scores", "normalised", "contributions", "raw"):
            pd.testing.assert_frame_equal(getattr(loaded.card, part), getattr(fresh.card, part))
        assert loaded.card.unavailable == fresh.card.unavailable
        assert list(loaded.cutter.cuts_) == list(fresh.cutter.cuts_)
        assert prepared.load(s, "no-such-version", 0, active_settings(s)) is None


def test_the_build_carries_what_the_pages_derive_equal_to_computing_it(demo_path, tmp_path):
    """Churn frame, survival curves, churn risk and the product bundle come with the build,
    each equal to what the pages would compute; a retrained model re-scores the stored risk;
    a part that cannot be built is recorded and left to the pages."""
    from valuation import bundling, churn
    from valuation.store import copy_database

    db = copy_database(demo_path, tmp_path / "d.duckdb")
    with Store(db) as s:
        b = prepared.build(s)
        meta = json.loads((b.path / "build.json").read_text())
        assert set(meta["derived"]) == {"churn_frame", "survival", "risk", "bundle"}
        assert all("seconds" in v for v in meta["derived"].values()), meta["derived"]
        st = active_settings(s)
        a = prepared.load(s, b.data_version, b.settings_id, st)
        key = (b.data_version, b.settings_id)
        cf = prepared.churn_frame_from(a.frame, prepared.part(s, *key, "churn_extra"))
        want_cf = churn.churn_frame(s, frame=a.frame)
        pd.testing.assert_frame_equal(cf, want_cf)
        assert cf.attrs == want_cf.attrs
        sf = churn.survival_frame(s, settings=st)
        surv = prepared.part(s, *key, "survival")
        for by in ("bundle", "tier"):
            pd.testing.assert_frame_equal(surv["curves"][by], churn.survival_curves(sf, by=by))
        fits = churn.fit_survival(sf, by="bundle")
        assert set(surv["fits"]) == set(fits)
        model_file = churn.model_path(s.path)
        assert not model_file.exists()  # the copy has no model yet: the rules' risk
        risk, stamp = prepared.part(s, *key, "risk")
        assert stamp == 0 and risk.attrs["risk_source"] == "none"
        want = churn.portfolio_risk(s, settings=st, model=None, frame=want_cf, survival=fits)
        pd.testing.assert_frame_equal(risk, want)
        assert risk.attrs == want.attrs
        bd = prepared.part(s, *key, "bundle")
        products = s.read_table("products")
        h = bundling.load_holdings(s)
        params = bundling.BundlingParams.from_settings(st)
        g = bundling.build_graph(h, products, accounts=a.frame, params=params)
        blend, _ = bundling.blend_in_use(h, products, a.frame, settings=st)
        pd.testing.assert_frame_equal(bd["recommendations"], bundling.recommend(
            h, g, products, a.frame, k=5, settings=st, params=params, blend=blend))
        # retraining: the stored risk follows the new model file
        churn.train(s, settings=st, evaluation=False)
        assert prepared.refresh_risk(s)
        risk2, stamp2 = prepared.part(s, *key, "risk")
        assert stamp2 == model_file.stat().st_mtime_ns != stamp
        want2 = churn.portfolio_risk(s, settings=st, model=churn.load_model(model_file),
                                     frame=want_cf, survival=fits)
        assert want2.attrs["risk_source"] != "none"
        pd.testing.assert_frame_equal(risk2, want2)
        # a part that fails is recorded, the build still lands
        real = bundling.load_holdings

        def broken(store):
            raise RuntimeError("no holdings today")

        bundling.load_holdings = broken
        try:
            b2 = prepared.build(s, force=True)
        finally:
            bundling.load_holdings = real
        meta = json.loads((b2.path / "build.json").read_text())
        assert meta["derived"]["bundle"] == {"error": "RuntimeError: no holdings today"}
        assert prepared.part(s, *key, "bundle") is None
        assert prepared.part(s, *key, "risk") is not None


def test_a_warning_sync_is_recorded_per_build_and_not_repeated(demo_path, tmp_path):
    from valuation.store import copy_database

    db = copy_database(demo_path, tmp_path / "d.duckdb")
    with Store(db) as s:
        b = prepared.build(s)
        assert prepared.dispatched(s, b.data_version, b.settings_id) is None
        out = jobs.run_job(s, "dispatch")
        done = prepared.dispatched(s, b.data_version, b.settings_id)
        assert done is not None and done["created"] == out["result"]["created"]


def test_a_settings_save_or_an_import_needs_a_new_build_and_old_ones_are_pruned(tmp_path):
    with Store(tmp_path / "s.duckdb") as s:
        s.replace_facts(toy_frames(), source="toy")
        first = prepared.build(s)
        save_settings(s, load_settings().source, user="admin")
        assert not prepared.is_built(s, *prepared.current_key(s))
        second = prepared.build(s)
        assert second.settings_id == first.settings_id + 1
        for n in range(prepared.KEEP + 1):
            s.replace_facts(toy_frames(6 + n), source=f"toy {n}")
            prepared.build(s)
        kept = prepared.builds(s)
        assert len(kept) == prepared.KEEP and kept[0].accounts == 6 + prepared.KEEP
        assert not any(p.name.startswith(".building") for p in prepared.folder(s).iterdir())


def test_jobs_run_once_per_version_and_again_after_an_import(tmp_path):
    with Store(tmp_path / "s.duckdb") as s:
        s.replace_facts(toy_frames(), source="toy")
        first = jobs.run(s, ["dispatch", "analysis", "snapshot"])
        assert [r["job"] for r in first] == ["analysis", "dispatch", "snapshot"]
        assert all(r["ran"] for r in first)
        assert first[2]["result"]["accounts"] == len(s.read_table("score_snapshots"))
        repeat = jobs.run(s, ["analysis", "dispatch", "snapshot"])
        assert [r["ran"] for r in repeat] == [False, False, False]
        assert "already ran" in repeat[1]["skipped"]
        orders = len(s.read_table("work_orders"))
        forced = jobs.run_job(s, "dispatch", force=True)
        assert forced["ran"] and len(s.read_table("work_orders")) == orders  # idempotent sync
        s.replace_facts(toy_frames(8), source="new data")
        assert jobs.run_job(s, "analysis")["ran"]
        runs = jobs.last_runs(s).set_index("job")
        assert json.loads(runs.loc["analysis", "versions"])["data_version"] == s.data_version
        assert json.loads(runs.loc["analysis", "result"])["accounts"] == 8


def test_jobs_refuse_an_unknown_job_and_an_empty_database(tmp_path):
    import pytest

    with Store(tmp_path / "s.duckdb") as s:
        with pytest.raises(ValueError, match="no job"):
            jobs.run(s, ["dispatch", "coffee"])
        with pytest.raises(ValueError, match="no data yet"):
            jobs.run_job(s, "dispatch")


def test_the_cli_import_builds_the_analysis_for_the_app(tmp_path):
    """`valuation import` leaves the analysis of the new data version built, so the app's next
    reader loads it instead of computing it."""
    with Store(tmp_path / "s.duckdb") as s:
        s.replace_facts(toy_frames(), source="toy")
    out = tmp_path / "export"
    run = [sys.executable, "-m", "valuation"]
    subprocess.run([*run, "export", "--db", str(tmp_path / "s.duckdb"), "--out", str(out)],
                   check=True, cwd=ROOT, capture_output=True)
    r = subprocess.run([*run, "import", "--db", str(tmp_path / "s.duckdb"), str(out)],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "analysis of data version" in r.stderr
    with Store(tmp_path / "s.duckdb") as s:
        assert prepared.is_built(s, *prepared.current_key(s))


def test_pages_show_the_newest_built_analysis_while_a_newer_one_builds(tmp_path, monkeypatch):
    """After new data lands, the pages keep reading the newest built analysis and say that a
    newer one is being built (in the background); once it is, they read it. A build that fails
    in the background falls back to building in the page, which shows why."""
    import time

    from ui import state

    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        s.replace_facts(toy_frames(), source="toy")
        prepared.build(s)
        old = prepared.current_key(s)
    monkeypatch.setenv("VALUATION_DB", str(db))
    monkeypatch.setenv("VALUATION_NO_DEMO", "1")
    s = state.store()
    s.replace_facts(toy_frames(8), source="new data")  # now current != built
    new = prepared.current_key(s)
    assert new != old
    key = state._key()
    assert key[1:] == old  # the pages read what is built ...
    assert state.reading()["building"] == {"data_version": new[0], "settings_id": new[1]}
    deadline = time.monotonic() + 60
    while not prepared.is_built(s, *new):  # ... while the background thread builds the new one
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert state._key()[1:] == new and state.reading()["building"] is None
    assert len(state.analysis().frame) == 8

    s.replace_facts(toy_frames(9), source="newer")
    failing = (str(db.resolve()), *prepared.current_key(s))
    monkeypatch.setitem(state._FAILED, failing, "RuntimeError('disk full')")
    assert state._key() == failing  # no stale notice forever: the page builds it itself
