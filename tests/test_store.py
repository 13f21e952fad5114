"""The DuckDB store: migrations, all-or-nothing loads, audited versioned app writes."""

import duckdb
import pandas as pd
import pytest

from valuation import schema
from valuation.store import SCHEMA_VERSION, ConflictError, Store


def test_migrated_schema_matches_schema_module(tmp_path):
    with Store(tmp_path / "s.duckdb") as s:
        assert s.meta("schema_version") == str(SCHEMA_VERSION)
        for t in schema.TABLES.values():
            cols = s.query(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = ? ORDER BY ordinal_position", [t.name])
            assert list(cols["column_name"]) == t.names, t.name


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
        with pytest.raises(ValueError, match="not app-owned"):
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
