"""The app database shared by many writers: on SQLite and on a real PostgreSQL server.

Threads in one process and separate processes race on the same rows; every stale write must be
refused with a ConflictError (never a driver traceback), no update may be lost, every write
lands in the audit log, and the keys hold.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa

from tests.conftest import toy_frames
from valuation import settings_store, warnings
from valuation.config import load_settings
from valuation.store import ConflictError, Store

N_WRITERS = 20
ROUNDS = 12


def _store(tmp_path: Path, app_url: str) -> Store:
    s = Store(tmp_path / "s.duckdb", app_db=app_url)
    if not s.has_facts:
        s.replace_facts(toy_frames(), source="toy")
    return s


def _race(store: Store, plan_id: str, who: str, results: list, errors: list) -> None:
    """Read the plan, then save it against the version read; count what happened."""
    for _ in range(ROUNDS):
        try:
            v = int(store.app.select("plans", store.app.tables["plans"].c.plan_id == plan_id)
                    ["version"].iloc[0])
            store.write_row("plans", {"plan_id": plan_id, "note": f"{who}@{v}"}, user=who,
                            expected_version=v)
            results.append(("ok", who, v))
        except ConflictError:
            results.append(("conflict", who, None))
        except Exception as e:  # noqa: BLE001 - anything else is the failure under test
            errors.append(repr(e))


def test_twenty_threads_lose_no_update(tmp_path, app_url):
    with _store(tmp_path, app_url) as s:
        s.write_row("plans", {"plan_id": "P1", "account_id": "A001", "objective": "retain",
                              "status": "open"}, user="am01")
        results: list = []
        errors: list = []
        threads = [threading.Thread(target=_race, args=(s, "P1", f"u{i}", results, errors))
                   for i in range(N_WRITERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        ok = [r for r in results if r[0] == "ok"]
        assert len(results) == N_WRITERS * ROUNDS
        # every success moved the version by exactly one: none was lost or applied twice
        plan = s.read_table("plans").iloc[0]
        assert int(plan["version"]) == 1 + len(ok)
        assert sorted(v for _, _, v in ok) == list(range(1, 1 + len(ok)))
        # the saved note is the last success's
        last = max(ok, key=lambda r: r[2])
        assert plan["note"] == f"{last[1]}@{last[2]}"
        audit = s.audit_entries("plans")
        assert len(audit) == 1 + len(ok)
        assert audit["audit_id"].is_unique


_WORKER = r"""
import json, sys
from valuation.store import Store, ConflictError
path, url, who, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
s = Store(path, app_db=url)
out = []
for _ in range(rounds):
    try:
        v = int(s.app.select("plans", s.app.tables["plans"].c.plan_id == "P1")["version"].iloc[0])
        s.write_row("plans", {"plan_id": "P1", "note": f"{who}@{v}"}, user=who,
                    expected_version=v)
        out.append(["ok", v])
    except ConflictError:
        out.append(["conflict", None])
print(json.dumps(out))
"""


def test_twenty_processes_lose_no_update(tmp_path, app_url):
    with _store(tmp_path, app_url) as s:
        s.write_row("plans", {"plan_id": "P1", "account_id": "A001", "objective": "retain",
                              "status": "open"}, user="am01")
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, str(tmp_path / "s.duckdb"),
                               app_url, f"p{i}", str(ROUNDS)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(N_WRITERS)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-2000:]
    results = [r for out, _ in outs for r in json.loads(out)]
    ok = sorted(v for kind, v in results if kind == "ok")
    assert len(results) == N_WRITERS * ROUNDS
    assert ok == list(range(1, 1 + len(ok)))  # each version was won by exactly one writer
    with Store(tmp_path / "s.duckdb", app_db=app_url) as s:
        assert int(s.read_table("plans")["version"].iloc[0]) == 1 + len(ok)
        assert len(s.audit_entries("plans")) == 1 + len(ok)


def test_concurrent_creates_of_one_key_leave_one_row(tmp_path, app_url):
    with _store(tmp_path, app_url) as s:
        outcome: list = []
        barrier = threading.Barrier(N_WRITERS)

        def create(i: int) -> None:
            barrier.wait()
            try:
                s.write_row("plans", {"plan_id": "PX", "account_id": "A001",
                                      "objective": "grow_share", "status": "open",
                                      "note": str(i)}, user=f"u{i}", expected_version=0)
                outcome.append("ok")
            except ConflictError:
                outcome.append("conflict")
            except Exception as e:  # noqa: BLE001
                outcome.append(repr(e))

        threads = [threading.Thread(target=create, args=(i,)) for i in range(N_WRITERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert Counter(outcome) == {"ok": 1, "conflict": N_WRITERS - 1}
        plans = s.read_table("plans")
        assert list(plans["plan_id"]) == ["PX"] and int(plans["version"].iloc[0]) == 1


def test_concurrent_settings_saves_all_land_with_one_active(tmp_path, app_url):
    with _store(tmp_path, app_url) as s:
        text = load_settings().source
        ids: list = []
        errors: list = []
        barrier = threading.Barrier(6)

        def save(i: int) -> None:
            barrier.wait()
            try:
                ids.append(settings_store.save_settings(s, text, user=f"u{i}",
                                                        comment=f"save {i}"))
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))

        threads = [threading.Thread(target=save, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sorted(ids) == [1, 2, 3, 4, 5, 6]
        hist = settings_store.settings_history(s)
        assert sorted(hist["comment"]) == [f"save {i}" for i in range(6)]
        assert hist["active"].astype(bool).sum() == 1
        assert settings_store.active_settings_id(s) == 6


def test_a_failed_settings_save_keeps_the_active_version(tmp_path, app_url, monkeypatch):
    with _store(tmp_path, app_url) as s:
        text = load_settings().source
        first = settings_store.save_settings(s, text, user="admin", comment="first")
        real = s.write_row
        calls = []

        def failing(name, row, **kw):
            calls.append(name)
            if len(calls) == 2:  # after the old version was switched off
                raise OSError("disk full")
            return real(name, row, **kw)

        monkeypatch.setattr(s, "write_row", failing)
        with pytest.raises(OSError):
            settings_store.save_settings(s, text, user="admin", comment="second")
        monkeypatch.setattr(s, "write_row", real)
        assert settings_store.active_settings_id(s) == first
        assert list(settings_store.settings_history(s)["comment"]) == ["first"]


def test_only_one_active_settings_version_by_constraint(tmp_path, app_url):
    with _store(tmp_path, app_url) as s:
        settings_store.save_settings(s, load_settings().source, user="admin")
        with pytest.raises(ConflictError):
            s.write_row("settings_versions", {"settings_id": 99, "toml": "", "active": True},
                        user="rogue")
        assert settings_store.active_settings_id(s) == 1


def _orders_fixture(s: Store) -> list[str]:
    at = pd.Timestamp("2026-06-30")
    w = pd.DataFrame({"account_id": ["A001", "A002", "A003"], "rule": ["W1", "W2", "W1"],
                      "severity": [0.9, 0.5, 0.7], "detail": ['{"x": 1}'] * 3})
    frame = pd.DataFrame({"account_id": ["A001", "A002", "A003"], "tier": ["B", "C", "C"],
                          "owner_id": ["am01", "am02", "am03"], "team_id": ["T01", "T01", "T02"],
                          "competitor_score": [10.0, 10.0, 10.0]})
    warnings.sync_work_orders(s, w, frame, load_settings(), as_of=at.date(), user="system")
    return sorted(s.read_table("work_orders")["work_order_id"])


def test_two_people_editing_one_work_order_get_a_conflict(tmp_path, app_url):
    with _store(tmp_path, app_url) as s:
        wo = _orders_fixture(s)[0]
        v = int(s.read_table("work_orders").set_index("work_order_id").loc[wo, "version"])
        warnings.add_note(s, wo, "first", user="am01", expected_version=v)
        with pytest.raises(ConflictError, match="changed by am01"):
            warnings.add_note(s, wo, "second, stale", user="lead01", expected_version=v)
        assert s.read_table("work_orders").set_index("work_order_id").loc[wo, "note"] == "first"
        # the bulk assign refuses the whole batch when one order moved on
        vs = s.read_table("work_orders").set_index("work_order_id")["version"].to_dict()
        stale = {**vs, wo: vs[wo] - 1}
        with pytest.raises(ConflictError):
            warnings.assign(s, list(vs), "lead01", user="admin", expected_versions=stale)
        assert (s.read_table("work_orders")["assignee_id"] != "lead01").all()
        assert warnings.assign(s, list(vs), "lead01", user="admin", expected_versions=vs) == 3
        assert (s.read_table("work_orders")["assignee_id"] == "lead01").all()


def test_concurrent_dispatches_make_each_order_once(tmp_path, app_url):
    with _store(tmp_path, app_url) as s:
        at = pd.Timestamp("2026-06-30")
        ids = [f"A{i:03d}" for i in range(1, 7)]
        w = pd.DataFrame({"account_id": ids, "rule": "W1", "severity": 0.5, "detail": "{}"})
        frame = pd.DataFrame({"account_id": ids, "tier": "C", "owner_id": "am01",
                              "team_id": "T01", "competitor_score": 0.0})
        errors: list = []
        barrier = threading.Barrier(4)

        def run() -> None:
            barrier.wait()
            try:
                warnings.sync_work_orders(s, w, frame, load_settings(), as_of=at.date(),
                                          user="system")
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))

        threads = [threading.Thread(target=run) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        orders = s.read_table("work_orders")
        assert len(orders) == 6 and set(orders["account_id"]) == set(ids)
        assert (orders["hits"] == 1).all()  # the same day's hit is counted once
        assert s.audit_entries("work_orders")["row_key"].nunique() == 6


def test_facts_swap_under_an_open_reader(tmp_path, app_url):
    """A reader holding the facts open (as the app does) never blocks a writer in another
    process, and sees the new data version on its next read, without reopening."""
    with _store(tmp_path, app_url) as reader:
        before = reader.data_version
        n = len(reader.read_table("accounts"))
        script = ("import sys; from tests.conftest import toy_frames; "
                  "from valuation.store import Store; "
                  "s = Store(sys.argv[1], app_db=sys.argv[2]); "
                  "print(s.replace_facts(toy_frames(9), source='cli'))")
        out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "s.duckdb"), app_url],
                             capture_output=True, text=True, timeout=120,
                             cwd=Path(__file__).parent.parent)
        assert out.returncode == 0, out.stderr[-2000:]
        assert reader.data_version == out.stdout.strip() != before
        assert len(reader.read_table("accounts")) == 9 != n
        # the live file is never opened for writing: no lock, no log beside it
        assert not (tmp_path / "s.duckdb.wal").exists()
        con = duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True)
        assert con.execute("SELECT count(*) FROM accounts").fetchone()[0] == 9
        con.close()


def test_a_failed_fact_load_leaves_the_live_file_alone(tmp_path, app_url):
    with _store(tmp_path, app_url) as s:
        v = s.data_version
        stamp = (tmp_path / "s.duckdb").stat().st_ino
        with pytest.raises(duckdb.Error):
            s.replace_facts({"products": pd.DataFrame({"product_id": ["X"],
                                                       "list_price": ["not a number"]})},
                            source="bad")
        assert s.data_version == v and (tmp_path / "s.duckdb").stat().st_ino == stamp
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".s.duckdb")) == []


def test_keys_and_constraints_exist(tmp_path, app_url):
    with _store(tmp_path, app_url) as s:
        insp = sa.inspect(s.app._w)
        assert insp.get_pk_constraint("work_orders")["constrained_columns"] == ["work_order_id"]
        assert insp.get_pk_constraint("plans")["constrained_columns"] == ["plan_id"]
        uniques = {i["name"] for i in insp.get_indexes("work_orders") if i["unique"]}
        assert "ux_work_orders_open" in uniques
        # a second open order for one account and rule is refused by the database itself
        base = {"account_id": "A001", "rule": "W1", "status": "new"}
        s.write_row("work_orders", {"work_order_id": "X1", **base}, user="t")
        with pytest.raises(ConflictError):
            s.write_row("work_orders", {"work_order_id": "X2", **base}, user="t")
        s.write_row("work_orders", {"work_order_id": "X1", "status": "lost"}, user="t")
        s.write_row("work_orders", {"work_order_id": "X2", **base}, user="t")  # now allowed


def test_other_threads_read_the_live_file_during_a_facts_session(tmp_path, app_url):
    """While one thread changes the facts, another keeps reading the file as it was (its query
    never lands on the copy being changed), and sees the change after the swap."""
    with _store(tmp_path, app_url) as s:
        before = int(s.scalar("SELECT count(*) FROM accounts"))
        seen: list = []
        with s.facts_session() as con:
            con.execute("DELETE FROM accounts WHERE account_id = 'A001'")
            assert int(s.scalar("SELECT count(*) FROM accounts")) == before - 1  # this thread
            t = threading.Thread(target=lambda: seen.append(
                int(s.scalar("SELECT count(*) FROM accounts"))))
            t.start()
            t.join()
        assert seen == [before]
        assert int(s.scalar("SELECT count(*) FROM accounts")) == before - 1
