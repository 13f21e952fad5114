"""Hardening for a real operator (issue 12 items 2, 9, 10): demo credentials live only in a demo
database; damaged, foreign, newer or read-only files are refused with a clear message; backup
and restore are consistent while the app writes; the app binds to this machine only."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import tomllib
import zipfile
from datetime import date
from pathlib import Path

import duckdb
import pytest

from valuation import access, backup, demo, ingest
from valuation.cli import main
from valuation.store import DatabaseError, Store, copy_database, is_default_db

ROOT = Path(__file__).resolve().parent.parent
AS_OF = date(2026, 10, 31)


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory) -> Path:
    """A small demo database (facts and the demo sign-ins), copied for each test."""
    path = tmp_path_factory.mktemp("hardening") / "demo.duckdb"
    with Store(path) as s:
        demo.write_demo(s, accounts=200, seed=4, as_of=AS_OF, line_accounts=20)
    return path


@pytest.fixture
def demo_db(tmp_path: Path, demo_template: Path) -> Path:
    return copy_database(demo_template, tmp_path / "demo.duckdb")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------
# A. Demo credentials
# ---------------------------------------------------------------------------------------------
def test_demo_database_is_marked_and_its_sign_ins_listed(demo_db: Path) -> None:
    with Store(demo_db) as s:
        assert demo.is_demo(s)
        assert demo.demo_sign_ins_left(s) == ["admin", "am01", "am02", "exec01", "lead01"]
        assert access.authenticate(s, "admin", "demo-admin") is not None


def test_real_users_import_removes_the_demo_sign_ins_and_keeps_real_ones(
        demo_db: Path, tmp_path: Path) -> None:
    with Store(demo_db) as s:
        access.set_password(s, "am02", "real-am02-pass", by="admin")  # a real one
        access.set_password(s, "exec01", "demo-exec01", by="admin")  # the published one, by hand
        users = s.read_table("users")
    path = tmp_path / "users.csv"
    users.to_csv(path, index=False)
    with Store(demo_db) as s:
        report = ingest.import_files(s, [path], user="ops")
        assert report.ok and report.committed, report.to_text()
        notes = [p for p in report.warnings if p.rule == "demo_sign_ins"]
        assert len(notes) == 1 and notes[0].value == "admin, am01, exec01, lead01"
        assert "valuation passwd" in report.to_text() and "valuation passwd" in report.to_text("zh")
        assert access.authenticate(s, "admin", "demo-admin") is None
        assert access.authenticate(s, "am01", "demo-am01") is None
        assert access.authenticate(s, "exec01", "demo-exec01") is None
        assert access.authenticate(s, "am02", "real-am02-pass").user_id == "am02"
        assert not demo.is_demo(s) and demo.demo_sign_ins_left(s) == []
        audit = s.audit_entries("credentials")
        removed = audit[audit["action"] == "remove_demo_password"]
        assert sorted(removed["row_key"].map(lambda k: json.loads(k)["user_id"])) == [
            "admin", "am01", "exec01", "lead01"]
        assert set(removed["user_id"]) == {"ops"}
        # a second users import finds nothing more to remove
        again = ingest.import_files(s, [path], user="ops")
        assert again.ok and not [p for p in again.warnings if p.rule == "demo_sign_ins"]


def test_valuation_demo_keeps_a_password_someone_set(demo_db: Path, capsys) -> None:
    with Store(demo_db) as s:
        access.set_password(s, "admin", "the-real-admin", by="ops")
    capsys.readouterr()
    assert main(["demo", "--db", str(demo_db), "--accounts", "150", "--seed", "2",
                 "--as-of", "2026-10-31", "--line-accounts", "10"]) == 0
    out = capsys.readouterr().out
    assert "kept the passwords someone set for: admin" in out
    assert "valuation passwd" in out
    with Store(demo_db) as s:
        assert access.authenticate(s, "admin", "the-real-admin") is not None
        assert access.authenticate(s, "admin", "demo-admin") is None
        assert access.authenticate(s, "am01", "demo-am01") is not None
        assert demo.demo_sign_ins_left(s) == ["am01", "am02", "exec01", "lead01"]
        assert demo.set_demo_passwords(s) == (["am01", "am02", "lead01", "exec01"], ["admin"])


def test_missing_database_at_a_non_default_path_is_an_error(tmp_path: Path, capsys,
                                                            monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VALUATION_DB", raising=False)
    monkeypatch.delenv("VALUATION_NO_DEMO", raising=False)
    assert is_default_db("data/portfolio.duckdb")
    assert is_default_db(tmp_path / "data" / "portfolio.duckdb")
    assert not is_default_db(tmp_path / "data" / "portfolo.duckdb")
    called = []
    monkeypatch.setattr(subprocess, "call", lambda *a, **k: called.append(a) or 0)
    typo = tmp_path / "data" / "portfolo.duckdb"
    assert main(["app", "--db", str(typo)]) == 2
    err = capsys.readouterr().err
    assert f"no database at {typo}" in err and f"valuation demo --db {typo}" in err
    assert "Traceback" not in err
    assert not typo.exists() and not typo.with_suffix(".app.sqlite").exists() and not called


def test_missing_database_in_the_app_is_a_message_not_a_demo(tmp_path: Path,
                                                             monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    typo = tmp_path / "typo.duckdb"
    monkeypatch.setenv("VALUATION_DB", str(typo))
    monkeypatch.delenv("VALUATION_NO_DEMO", raising=False)
    monkeypatch.delenv("VALUATION_DEMO", raising=False)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert len(at.error) == 1 and f"no database at {typo}" in at.error[0].value
    assert "valuation demo --db" in at.error[0].value
    assert not typo.exists()


def test_admin_sees_the_demo_passwords_notice(demo_db: Path) -> None:
    from streamlit.testing.v1 import AppTest

    def script(path: str) -> None:
        from ui.guard import demo_passwords_notice
        from valuation.store import Store

        with Store(path) as s:
            demo_passwords_notice(s, "en")

    at = AppTest.from_function(script, args=(str(demo_db),), default_timeout=60).run()
    assert not at.exception
    assert len(at.warning) == 1 and "admin, am01, am02, exec01, lead01" in at.warning[0].value
    assert "valuation passwd" in at.warning[0].value
    with Store(demo_db) as s:
        retired = demo.retire_demo_sign_ins(s, by="ops")
    assert retired == ["admin", "am01", "am02", "exec01", "lead01"]
    at = AppTest.from_function(script, args=(str(demo_db),), default_timeout=60).run()
    assert not at.exception and len(at.warning) == 0


# ---------------------------------------------------------------------------------------------
# B. Damaged or foreign files
# ---------------------------------------------------------------------------------------------
def _damage(kind: str, good: Path, target: Path) -> str:
    """Make ``target`` a damaged database of ``kind``; the words the message must hold."""
    if kind == "zero":
        target.write_bytes(b"")
        return "empty (0 bytes)"
    if kind == "truncated":
        data = good.read_bytes()
        target.write_bytes(data[: len(data) // 2])
        return "truncated"
    if kind == "random":
        target.write_bytes(os.urandom(64 * 1024))
        return "not a DuckDB database file"
    if kind == "csv":
        target.write_text("account_id,name\nA1,x\n", encoding="utf-8")
        return "not a DuckDB database file"
    if kind == "foreign":
        con = duckdb.connect(str(target))
        con.execute("CREATE TABLE orders AS SELECT 1 AS id")
        con.close()
        return "not a valuation database"
    if kind == "newer":
        shutil.copyfile(good, target)
        con = duckdb.connect(str(target))
        con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
        con.close()
        return "schema version 99 was written by a newer version"
    raise AssertionError(kind)


KINDS = ["zero", "truncated", "random", "csv", "foreign", "newer"]


@pytest.mark.parametrize("kind", KINDS)
def test_damaged_facts_file_gives_a_clear_cli_message(kind: str, demo_db: Path, tmp_path: Path,
                                                      capsys) -> None:
    bad = tmp_path / f"{kind}.duckdb"
    words = _damage(kind, demo_db, bad)
    before = _sha(bad)
    with pytest.raises(DatabaseError) as e:
        Store(bad)
    assert words in str(e.value)
    for argv in (["info", "--db", str(bad)], ["import", "--db", str(bad), str(tmp_path)],
                 ["backup", "--db", str(bad), "--out", str(tmp_path / "b.zip")]):
        assert main(argv) == 3, argv
        err = capsys.readouterr().err
        assert err.startswith(f"error: {bad}: ") and words in err, err
        assert "Traceback" not in err
    assert _sha(bad) == before  # nothing was written to it ...
    assert not bad.with_suffix(".app.sqlite").exists()  # ... nor beside it


def test_damaged_file_from_the_command_line_has_no_traceback(demo_db: Path,
                                                             tmp_path: Path) -> None:
    bad = tmp_path / "cut.duckdb"
    _damage("truncated", demo_db, bad)
    r = subprocess.run([sys.executable, "-m", "valuation", "info", "--db", str(bad)],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 3
    assert r.stderr.startswith(f"error: {bad}: the file is truncated")
    assert "valuation restore --db" in r.stderr and "Traceback" not in r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("kind", ["zero", "newer"])
def test_damaged_facts_file_in_the_app_is_an_error_message(kind: str, demo_db: Path,
                                                           tmp_path: Path, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    bad = tmp_path / f"{kind}.duckdb"
    words = _damage(kind, demo_db, bad)
    monkeypatch.setenv("VALUATION_DB", str(bad))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert len(at.error) == 1 and str(bad) in at.error[0].value and words in at.error[0].value


def test_damaged_app_database_gives_a_clear_message(demo_db: Path, capsys) -> None:
    app = demo_db.with_suffix(".app.sqlite")
    app.write_bytes(os.urandom(8192))
    with pytest.raises(DatabaseError, match="app database sqlite:///.*cannot be opened"):
        Store(demo_db)
    assert main(["info", "--db", str(demo_db)]) == 3
    err = capsys.readouterr().err
    assert str(app) in err and "file is not a database" in err and "valuation restore" in err
    assert "Traceback" not in err


def test_newer_app_database_is_refused(demo_db: Path) -> None:
    import sqlite3

    app = demo_db.with_suffix(".app.sqlite")
    with sqlite3.connect(app) as c:
        c.execute("UPDATE app_meta SET value = 42 WHERE key = 'schema_version'")
    c.close()
    with pytest.raises(DatabaseError, match="app database schema version 42 .* newer"):
        Store(demo_db)


def test_read_only_file_reads_but_refuses_writes(demo_db: Path, tmp_path: Path,
                                                 capsys) -> None:
    before = _sha(demo_db)
    os.chmod(demo_db, 0o444)
    try:
        assert main(["info", "--db", str(demo_db)]) == 0  # reading is fine
        capsys.readouterr()
        users = tmp_path / "in" / "users.csv"
        users.parent.mkdir()
        with Store(demo_db) as s:
            s.read_table("users").to_csv(users, index=False)
        assert main(["import", "--db", str(demo_db), str(users)]) == 3
        err = capsys.readouterr().err
        assert f"error: {demo_db}: the file is read-only" in err
        assert f"chmod u+w {demo_db}" in err and "Traceback" not in err
        with Store(demo_db) as s, pytest.raises(DatabaseError, match="read-only"):
            s.replace_facts({"users": s.read_table("users")}, source="x")
    finally:
        os.chmod(demo_db, 0o644)
    assert _sha(demo_db) == before


# ---------------------------------------------------------------------------------------------
# C. Backup and restore
# ---------------------------------------------------------------------------------------------
def _plan(i: int, account: str) -> dict:
    return {"plan_id": f"P{i:05d}", "account_id": account, "objective": f"objective {i}",
            "status": "open"}


def test_backup_while_plans_are_written_keeps_every_committed_plan(demo_db: Path,
                                                                   tmp_path: Path) -> None:
    with Store(demo_db) as s:
        account = str(s.query("SELECT min(account_id) AS a FROM accounts")["a"].iloc[0])
    committed: list[str] = []
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with Store(demo_db) as w:
                i = 0
                while not stop.is_set():
                    w.write_row("plans", _plan(i, account), user="am01")
                    committed.append(f"P{i:05d}")
                    i += 1
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    t = threading.Thread(target=writer)
    t.start()
    try:
        deadline = time.monotonic() + 60
        while len(committed) < 20:
            assert time.monotonic() < deadline and not errors
            time.sleep(0.01)
        before = set(committed)  # committed before the backup began
        manifest = backup.backup(demo_db, tmp_path / "b.zip")
        time.sleep(0.2)  # the writer goes on after the backup
    finally:
        stop.set()
        t.join(60)
    assert not errors
    after_all = set(committed)
    assert len(after_all) > len(before)
    with zipfile.ZipFile(tmp_path / "b.zip") as z:
        names = set(z.namelist())
    assert {"manifest.json", "facts.duckdb", "app.sqlite", "app/plans.parquet",
            "app/credentials.parquet", "app/audit_log.parquet"} <= names
    target = tmp_path / "restored.duckdb"
    backup.restore(target, tmp_path / "b.zip")
    with Store(target) as r:
        plans = set(r.read_table("plans")["plan_id"])
        assert before <= plans <= after_all  # every plan committed before; nothing half-made
        assert manifest["app_rows"]["plans"] == len(plans)
        counts = r.row_counts()
        assert {k: counts[k] for k in manifest["app_rows"]} == manifest["app_rows"]
        audit = r.audit_entries("plans")
        assert set(audit["row_key"].map(lambda k: json.loads(k)["plan_id"])) == plans
        assert access.authenticate(r, "admin", "demo-admin") is not None  # credentials too
        for t_name in ("accounts", "holdings", "billing_monthly", "users"):
            assert counts[t_name] == manifest["facts_rows"][t_name]


def test_backup_restores_into_either_kind_of_app_database(demo_db: Path, tmp_path: Path,
                                                          app_url: str) -> None:
    """SQLite -> (SQLite or PostgreSQL) -> SQLite: every app row survives both ways."""
    with Store(demo_db) as s:
        account = str(s.query("SELECT min(account_id) AS a FROM accounts")["a"].iloc[0])
        for i in range(3):
            s.write_row("plans", _plan(i, account), user="am01")
        want = s.row_counts()
        audit = len(s.audit_entries())
    backup.backup(demo_db, tmp_path / "a.zip")
    mid = tmp_path / "mid.duckdb"
    backup.restore(mid, tmp_path / "a.zip", app_db=app_url)
    with Store(mid, app_db=app_url) as s:
        assert s.row_counts() == want and len(s.audit_entries()) == audit
        assert access.authenticate(s, "lead01", "demo-lead01") is not None
        s.write_row("plans", _plan(9, account), user="am01")  # ids go on after the restore
    m = backup.backup(mid, tmp_path / "b.zip", app_db=app_url)
    assert m["source"]["app_dialect"] == app_url.split(":")[0].split("+")[0]
    end = tmp_path / "end.duckdb"
    backup.restore(end, tmp_path / "b.zip")
    with Store(end) as s:
        assert s.row_counts() == {**want, "plans": 4, "audit_log": audit + 1}
        assert sorted(s.read_table("plans")["plan_id"]) == ["P00000", "P00001", "P00002",
                                                            "P00009"]


def test_restore_into_a_running_reader(demo_db: Path, tmp_path: Path, capsys) -> None:
    reader = Store(demo_db)  # an app process, opened before everything below
    try:
        with Store(demo_db) as w:
            account = str(w.query("SELECT min(account_id) AS a FROM accounts")["a"].iloc[0])
            w.write_row("plans", _plan(1, account), user="am01")
        version = reader.data_version
        assert int(reader.scalar("SELECT count(*) FROM plans")) == 1
        assert main(["backup", "--db", str(demo_db), "--out", str(tmp_path / "b.zip")]) == 0
        # after the backup: more plans, and new facts (3 accounts fewer)
        with Store(demo_db) as w:
            for i in range(2, 6):
                w.write_row("plans", _plan(i, account), user="am01")
            acc = w.read_table("accounts")
            w.replace_facts({"accounts": acc.iloc[3:]}, source="later")
        assert int(reader.scalar("SELECT count(*) FROM plans")) == 5
        assert int(reader.scalar("SELECT count(*) FROM accounts")) == 197
        assert reader.data_version != version
        capsys.readouterr()
        assert main(["restore", "--db", str(demo_db), str(tmp_path / "b.zip")]) == 0
        assert "restored from" in capsys.readouterr().out
        # the reader sees the restored facts (new inode) and app rows (counters moved on)
        assert reader.data_version == version
        assert int(reader.scalar("SELECT count(*) FROM accounts")) == 200
        assert int(reader.scalar("SELECT count(*) FROM plans")) == 1
        assert reader.read_table("plans")["plan_id"].tolist() == ["P00001"]
    finally:
        reader.close()


def test_restore_refuses_a_newer_or_tampered_backup(demo_db: Path, tmp_path: Path,
                                                    capsys) -> None:
    good = tmp_path / "b.zip"
    backup.backup(demo_db, good)
    before = _sha(demo_db)

    def rewrite(dst: Path, change) -> Path:
        with zipfile.ZipFile(good) as src, zipfile.ZipFile(dst, "w") as out:
            for item in src.namelist():
                data = src.read(item)
                out.writestr(item, change(item, data))
        return dst

    def newer(item: str, data: bytes) -> bytes:
        if item != "manifest.json":
            return data
        m = json.loads(data)
        m["schema_version"] = 99
        return json.dumps(m).encode()

    def tampered(item: str, data: bytes) -> bytes:
        return data[:-1] + bytes([data[-1] ^ 1]) if item == "app/plans.parquet" else data

    for dst, change, words in ((tmp_path / "newer.zip", newer, "schema version 99 is newer"),
                               (tmp_path / "bad.zip", tampered, "does not match its checksum")):
        rewrite(dst, change)
        assert main(["restore", "--db", str(demo_db), str(dst)]) == 3
        err = capsys.readouterr().err
        assert str(dst) in err and words in err and "Traceback" not in err
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    assert main(["restore", "--db", str(demo_db), str(tmp_path / "junk.zip")]) == 3
    assert "not a valuation backup" in capsys.readouterr().err
    assert _sha(demo_db) == before


def test_restore_over_a_damaged_database(demo_db: Path, tmp_path: Path) -> None:
    backup.backup(demo_db, tmp_path / "b.zip")
    with Store(demo_db) as s:
        accounts = int(s.scalar("SELECT count(*) FROM accounts"))
    demo_db.write_bytes(b"")  # the facts file lost
    app = demo_db.with_suffix(".app.sqlite")
    app.write_bytes(os.urandom(4096))  # and the app database damaged
    for extra in (Path(str(app) + "-wal"), Path(str(app) + "-shm")):
        extra.unlink(missing_ok=True)
    m = backup.restore(demo_db, tmp_path / "b.zip")
    assert Path(m["moved_aside"]).exists()  # the damaged one is kept for a post-mortem
    with Store(demo_db) as s:
        assert int(s.scalar("SELECT count(*) FROM accounts")) == accounts
        assert access.authenticate(s, "am01", "demo-am01") is not None


# ---------------------------------------------------------------------------------------------
# D. Limits: the server's address, errors shown to users
# ---------------------------------------------------------------------------------------------
def test_config_binds_to_localhost_and_hides_error_details() -> None:
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert cfg["server"]["address"] == "127.0.0.1"
    assert cfg["client"]["showErrorDetails"] == "none"


def test_app_address_option_reaches_streamlit(demo_db: Path, monkeypatch) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(subprocess, "call", lambda cmd, **k: calls.append(cmd) or 0)
    monkeypatch.delenv("VALUATION_NO_DEMO", raising=False)
    assert main(["app", "--db", str(demo_db)]) == 0
    assert main(["app", "--db", str(demo_db), "--address", "0.0.0.0"]) == 0
    assert "--server.address" not in calls[0]  # the config's 127.0.0.1
    i = calls[1].index("--server.address")
    assert calls[1][i + 1] == "0.0.0.0"


def test_a_failing_page_shows_a_reference_and_logs_the_details(caplog) -> None:
    from streamlit.testing.v1 import AppTest

    def script() -> None:
        from ui.guard import run_page

        class Page:
            url_path = "broken"

            def run(self) -> None:
                raise KeyError("secret-column-name")

        run_page(Page(), "en")

    with caplog.at_level("ERROR", logger="valuation.app"):
        at = AppTest.from_function(script, default_timeout=60).run()
    assert len(at.exception) == 1
    shown = at.exception[0].message
    assert "secret-column-name" not in shown and "KeyError" not in shown
    ref = shown.split("(reference ")[1].split(")")[0]
    assert len(ref) == 8 and int(ref, 16) >= 0
    logged = [r for r in caplog.records if r.name == "valuation.app"]
    assert len(logged) == 1 and ref in logged[0].getMessage()
    assert "secret-column-name" in str(logged[0].exc_info[1])


def test_parent_cycle_refused_via_the_cli_with_the_database_unchanged(demo_db: Path,
                                                                      tmp_path: Path,
                                                                      capsys) -> None:
    with Store(demo_db) as s:
        acc = s.read_table("accounts")
        version = s.data_version
    ids = acc["account_id"].tolist()
    acc.loc[0, "parent_account_id"] = ids[1]
    acc.loc[1, "parent_account_id"] = ids[2]
    acc.loc[2, "parent_account_id"] = ids[0]
    path = tmp_path / "accounts.csv"
    acc.to_csv(path, index=False)
    before = _sha(demo_db)
    assert main(["import", "--db", str(demo_db), str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{ids[0]} -> {ids[1]} -> {ids[2]} -> {ids[0]}" in out
    assert "accounts.csv row 2" in out and "accounts.csv row 4" in out
    assert "parent_cycle" in out
    assert _sha(demo_db) == before
    with Store(demo_db) as s:
        assert s.data_version == version


def test_page_runs_are_admitted_a_few_at_a_time_and_released_however_they_end() -> None:
    """Ten sessions' runs through a gate of two: never more than two inside at once, all ten
    done; a run that ends by a rerun or stop (BaseException) gives its slot back."""
    import threading

    from ui.guard import admitted, concurrent_runs

    gate = threading.BoundedSemaphore(2)
    inside, most, lock = [0], [0], threading.Lock()
    both_in = threading.Barrier(2, timeout=30)
    done: list[int] = []

    def run(i: int) -> None:
        with admitted(gate):
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            if i < 2:
                both_in.wait()  # the first two meet inside: two at once is reached
            with lock:
                inside[0] -= 1
            done.append(i)

    first = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in first:
        t.start()
    rest = [threading.Thread(target=run, args=(i,)) for i in range(2, 10)]
    for t in rest:
        t.start()
    for t in first + rest:
        t.join(timeout=60)
    assert sorted(done) == list(range(10)) and most[0] == 2

    class Stop(BaseException):
        pass

    with pytest.raises(Stop):
        with admitted(gate):
            raise Stop
    assert gate.acquire(blocking=False) and gate.acquire(blocking=False)  # both slots free
    gate.release(), gate.release()
    assert concurrent_runs() >= 1
