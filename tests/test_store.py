"""The DuckDB store: migrations, all-or-nothing loads, audited versioned app writes."""

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa

from valuation import schema
from valuation.appdb import APP_DB_TABLES
from valuation.store import SCHEMA_VERSION, ConflictError, Store


def test_migrated_schema_matches_schema_module(tmp_path):
    """Facts (and score snapshots) in DuckDB, what people write in the app database: every
    table where it belongs, with the schema module's columns in order, and nowhere else."""
    with Store(tmp_path / "s.duckdb") as s:
        assert s.meta("schema_version") == str(SCHEMA_VERSION)
        app = sa.inspect(s.app._r)
        for t in schema.TABLES.values():
            cols = s.query(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = ? ORDER BY ordinal_position", [t.name])
            if t.name in APP_DB_TABLES:
                assert cols.empty, t.name
                assert [c["name"] for c in app.get_columns(t.name)] == t.names, t.name
                assert app.get_pk_constraint(t.name)["constrained_columns"] == list(t.key)
            else:
                assert list(cols["column_name"]) == t.names, t.name
                assert not app.has_table(t.name), t.name


def test_reopen_does_not_migrate_twice(tmp_path):
    Store(tmp_path / "s.duckdb").close()
    with Store(tmp_path / "s.duckdb") as s:
        assert s.meta("schema_version") == str(SCHEMA_VERSION)


def test_replace_facts_is_all_or_nothing(tmp_path):
    with Store(tmp_path / "s.duckdb") as s:
        comps = pd.DataFrame({"competitor_id": ["C1"], "name": ["电信"], "name_en": ["Telecom"]})
        v1 = s.replace_facts({"competitors": comps}, source="t")
        bad_products = pd.DataFrame({"product_id": ["P1"], "name": ["x"], "family": ["industry"],
                                     "provider": ["ours"], "list_price": ["not a number"]})
        with pytest.raises(duckdb.Error):
            s.replace_facts({"competitors": comps.iloc[0:0], "products": bad_products}, source="t")
        assert len(s.read_table("competitors")) == 1  # the delete of competitors was rolled back
        assert s.data_version == v1
        v2 = s.replace_facts({"competitors": comps}, source="t")
        assert v2 != v1


def test_write_row_versions_conflicts_and_audit(tmp_path):
    with Store(tmp_path / "s.duckdb") as s:
        row = {"plan_id": "p1", "account_id": "A1", "objective": "retain", "status": "open"}
        assert s.write_row("plans", row, user="am1") == 1
        assert s.write_row("plans", {"plan_id": "p1", "note": "called"}, user="am1",
                           expected_version=1) == 2
        with pytest.raises(ConflictError, match="version 2"):
            s.write_row("plans", {"plan_id": "p1", "note": "stale"}, user="am2", expected_version=1)
        plan = s.read_table("plans").iloc[0]
        assert plan["note"] == "called" and plan["objective"] == "retain" and plan["version"] == 2
        log = s.audit_entries("plans")
        assert list(log["action"]) == ["insert", "update"]
        assert '"note": null' in log["before"].iloc[1] and '"note": "called"' in log["after"].iloc[1]
        with pytest.raises(ValueError, match="not a table people write"):
            s.write_row("accounts", {"account_id": "A1"}, user="x")


def test_app_rows_survive_fact_replacement(tmp_path):
    with Store(tmp_path / "s.duckdb") as s:
        s.write_row("plans", {"plan_id": "p1", "account_id": "A1", "objective": "grow",
                              "status": "open"}, user="am1")
        s.replace_facts({"competitors": pd.DataFrame({"competitor_id": ["C1"], "name": ["x"]})},
                        source="t")
        assert list(s.read_table("plans")["plan_id"]) == ["p1"]
        with pytest.raises(ValueError, match="not fact tables"):
            s.replace_facts({"plans": pd.DataFrame()}, source="t")


def test_a_version_2_database_migrates_and_keeps_its_plans(tmp_path):
    """An existing database at schema version 2 gains the plan's product column on open;
    the plans already written stay as they were."""
    from valuation import store as store_module

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    for version, sql in store_module._migrations():
        if version <= 2:
            for stmt in [x.strip() for x in sql.split(";") if x.strip()]:
                con.execute(stmt)
    con.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    con.execute("INSERT INTO plans (plan_id, account_id, objective, action, status, version, "
                "updated_at, updated_by) VALUES ('PL-1', 'A001', 'retain', 'call the CIO', "
                "'open', 1, '2026-10-01T00:00:00Z', 'am01')")
    con.close()
    with Store(path) as s:
        assert s.meta("schema_version") == str(SCHEMA_VERSION) and SCHEMA_VERSION >= 3
        plans = s.read_table("plans")
        assert list(plans.columns) == schema.table("plans").names
        row = plans.iloc[0]
        assert (row["plan_id"], row["action"], row["version"]) == ("PL-1", "call the CIO", 1)
        assert row["product_id"] is None or pd.isna(row["product_id"])


def _version_4_file(path):
    """A database as the previous release wrote it: schema version 4, every app-owned table in
    the DuckDB file, with rows in each."""
    from valuation import store as store_module
    from valuation.access import hash_password

    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    for version, sql in store_module._migrations():
        if version <= 4:
            for stmt in [x.strip() for x in sql.split(";") if x.strip()]:
                con.execute(stmt)
    con.execute("INSERT INTO meta VALUES ('schema_version', '4'), ('data_version', 'v-old')")
    con.execute("INSERT INTO users (user_id, name, role) VALUES ('am01', '王芳', "
                "'account_manager')")
    con.execute("INSERT INTO accounts (account_id, name, owner_id, onboard_date) VALUES "
                "('A001', '老客户', 'am01', DATE '2020-01-01')")
    con.execute("INSERT INTO credentials VALUES ('am01', ?, 3, '2026-10-01T00:00:00Z', 'admin')",
                [hash_password("old-secret-1")])
    con.execute("INSERT INTO plans VALUES ('PL-1', 'A001', 'retain', 'call the CIO', 'am01', "
                "DATE '2026-12-01', 'open', '备注', 'WO-1', 2, '2026-10-01T00:00:00Z', 'am01', "
                "'P-CLOUD')")
    con.execute("INSERT INTO work_orders VALUES ('WO-1', 'A001', 'W1', 'assigned', 'am01', 0.8, "
                "DATE '2026-11-01', DATE '2026-10-01', DATE '2026-10-08', 2, true, NULL, "
                "'visited', 4, '2026-10-08T00:00:00Z', 'am01')")
    con.execute("INSERT INTO work_order_events VALUES ('E1', 'WO-1', '2026-10-01T00:00:00Z', "
                "'system', 'hit', '{\"as_of\": \"2026-10-01\"}', 1, '2026-10-01T00:00:00Z', "
                "'system')")
    con.execute("INSERT INTO settings_versions VALUES (1, 'x = 1', 'first', false, 2, 't', 'a'), "
                "(2, '[value]', 'second', true, 1, 't', 'admin')")
    con.execute("INSERT INTO account_assignments VALUES ('A001', 'am01', 1, 't', 'lead01')")
    con.execute("INSERT INTO score_snapshots (as_of, account_id, tier, version, updated_at, "
                "updated_by) VALUES (DATE '2026-09-30', 'A001', 'B', 1, 't', 'system')")
    for i in range(1, 4):
        con.execute("INSERT INTO audit_log VALUES (nextval('audit_seq'), 't', 'am01', 'update', "
                    "'plans', ?, NULL, NULL)", [f'{{"n": {i}}}'])
    con.close()


def test_a_version_4_database_migrates_with_every_user_written_row(tmp_path):
    """Plans, work orders and their events, passwords, settings versions, owner assignments
    and the audit log move to the app database unchanged; score snapshots and facts stay."""
    from valuation.access import authenticate
    from valuation.settings_store import active_settings_id

    path = tmp_path / "old.duckdb"
    _version_4_file(path)
    with Store(path) as s:
        assert s.meta("schema_version") == str(SCHEMA_VERSION)
        assert s.migrated_rows == {"credentials": 1, "plans": 1, "work_orders": 1,
                                   "work_order_events": 1, "settings_versions": 2,
                                   "account_assignments": 1, "audit_log": 3}
        plan = s.read_table("plans").iloc[0]
        assert (plan["plan_id"], plan["action"], plan["note"], plan["version"],
                plan["product_id"]) == ("PL-1", "call the CIO", "备注", 2, "P-CLOUD")
        assert plan["due_date"] == pd.Timestamp("2026-12-01")
        wo = s.read_table("work_orders").iloc[0]
        assert (wo["status"], wo["hits"], bool(wo["escalated"]), wo["note"], wo["version"]) == (
            "assigned", 2, True, "visited", 4)
        assert s.read_table("work_order_events")["detail"].iloc[0] == '{"as_of": "2026-10-01"}'
        assert active_settings_id(s) == 2
        assert authenticate(s, "am01", "old-secret-1") is not None
        assert list(s.audit_entries("plans")["audit_id"][:3]) == [1, 2, 3]
        assert s.read_table("account_assignments")["updated_by"].iloc[0] == "lead01"
        assert len(s.read_table("score_snapshots")) == 1 and s.data_version == "v-old"
        # the moved tables are gone from the facts file; new writes continue the audit ids
        raw = duckdb.connect(str(path), read_only=True)
        left = {r[0] for r in raw.execute("SELECT table_name FROM information_schema.tables")
                .fetchall()}
        raw.close()
        assert left.isdisjoint(APP_DB_TABLES) and "score_snapshots" in left
        s.write_row("plans", {"plan_id": "PL-1", "note": "after"}, user="am01",
                    expected_version=2)
        assert s.audit_entries("plans")["audit_id"].iloc[-1] > 3
    with Store(path) as again:  # opening again migrates nothing twice
        assert again.migrated_rows == {} and len(again.read_table("plans")) == 1


def test_a_store_in_a_folder_that_does_not_exist_yet(tmp_path):
    """The default database lives in data/, which a fresh checkout or install lacks."""
    with Store(tmp_path / "new" / "deeper" / "p.duckdb") as s:
        assert s.path.exists() and (tmp_path / "new" / "deeper" / "p.app.sqlite").exists()
    with pytest.raises(FileNotFoundError, match="no database"):
        Store(tmp_path / "absent" / "p.duckdb", read_only=True)
