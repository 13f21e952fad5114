"""No import silently wipes a table: the shrink guard, app-owned orphans, merge mode."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import toy_frames

from valuation import ingest
from valuation.store import Store


@pytest.fixture()
def store(tmp_path: Path):
    s = Store(tmp_path / "g.duckdb")
    s.replace_facts(toy_frames(), source="toy")
    yield s
    s.close()


def _write(tmp_path: Path, name: str, df: pd.DataFrame) -> Path:
    d = tmp_path / f"in_{name}_{len(df)}"
    d.mkdir(exist_ok=True)
    df.to_csv(d / f"{name}.csv", index=False)
    return d


def _tables(s: Store) -> dict[str, int]:
    return {t: int(s.scalar(f'SELECT count(*) FROM "{t}"')) for t in ("accounts", "users")}


def test_a_tiny_accounts_file_stops_with_its_counts(store, tmp_path):
    before, version = _tables(store), store.data_version
    report = ingest.import_files(store, [_write(tmp_path, "accounts",
                                                toy_frames()["accounts"].head(2))])
    assert not report.ok and not report.committed
    assert report.counts == {"shrink": 1}
    p = report.problems[0]
    assert (p.file, p.table, p.value) == ("accounts.csv", "accounts", "6 -> 2")
    assert "from 6 rows to 2 (-67%)" in p.message and "--allow-shrink" in p.message
    assert _tables(store) == before and store.data_version == version
    report = ingest.import_files(store, [_write(tmp_path, "accounts",
                                                toy_frames()["accounts"].head(2))],
                                 allow_shrink=True)
    assert report.ok and report.committed
    assert _tables(store)["accounts"] == 2


def test_a_one_row_users_file_stops(store, tmp_path):
    users = toy_frames()["users"].head(1)
    report = ingest.import_files(store, [_write(tmp_path, "users", users)])
    assert not report.ok and report.counts.get("shrink") == 1
    assert _tables(store)["users"] == 7


def test_a_shrink_within_the_limit_goes_ahead(store, tmp_path):
    # 6 accounts -> 5 is -17%, within the default 20%; holdings of the sixth become notes
    accounts = toy_frames()["accounts"].head(5)
    report = ingest.import_files(store, [_write(tmp_path, "accounts", accounts)])
    assert report.ok and report.committed, report.to_text()
    report = ingest.import_files(store, [_write(tmp_path, "accounts", accounts.head(4))],
                                 max_shrink=0.1)
    assert not report.ok and report.counts == {"shrink": 1}


def test_work_orders_that_would_lose_their_account_stop_the_import(store, tmp_path):
    store.write_row("work_orders", {"work_order_id": "WO-1", "account_id": "A006",
                                    "rule": "W1", "status": "new"}, user="system")
    accounts = toy_frames()["accounts"].head(5)  # -17%: only the orphan stops it
    report = ingest.import_files(store, [_write(tmp_path, "accounts", accounts)])
    assert not report.ok and report.counts == {"app_orphans": 1}
    assert "1 work orders written in the app would point at accounts" in report.problems[0].message
    assert _tables(store)["accounts"] == 6
    # a closed order does not stop it
    store.write_row("work_orders", {"work_order_id": "WO-1", "status": "retained"},
                    user="am01", expected_version=1)
    assert ingest.import_files(store, [_write(tmp_path, "accounts", accounts)]).ok


def test_merge_updates_adds_and_keeps_by_key(store, tmp_path):
    f = toy_frames()["accounts"]
    part = f.iloc[[0]].copy()
    part["name"] = "改名后的客户"
    extra = f.iloc[[1]].copy()
    extra["account_id"] = "A999"
    report = ingest.import_files(store, [_write(tmp_path, "accounts",
                                                pd.concat([part, extra]))], merge=True)
    assert report.ok and report.committed, report.to_text()
    assert report.warning_counts.get("merge") == 1
    note = next(w for w in report.warnings if w.rule == "merge")
    assert "1 rows updated, 1 added, 5 kept" in note.message
    got = store.query("SELECT account_id, name FROM accounts ORDER BY account_id")
    assert len(got) == 7
    assert got.set_index("account_id").at["A001", "name"] == "改名后的客户"
    # holdings of the kept accounts still point at them: nothing was orphaned
    assert not [w for w in report.warnings if w.rule == "orphan"]


def test_merge_of_holdings_finds_accounts_kept_in_the_store(store, tmp_path):
    h = toy_frames()["holdings"].iloc[[0]].copy()
    h["product_id"], h["provider"] = "P-CLOUD", "ours"
    report = ingest.import_files(store, [_write(tmp_path, "holdings", h)], merge=True)
    assert report.ok and report.committed, report.to_text()
    assert int(store.scalar("SELECT count(*) FROM holdings")) == len(toy_frames()["holdings"]) + 1


def test_the_command_stops_then_goes_ahead_with_allow_shrink_or_merges(store, tmp_path, capsys):
    from valuation.cli import main

    db = str(store.path)
    store.close()
    part = _write(tmp_path, "accounts", toy_frames()["accounts"].head(2))
    assert main(["import", "--db", db, str(part)]) == 1
    assert "accounts would go from 6 rows to 2" in capsys.readouterr().out
    assert main(["import", "--db", db, str(part), "--merge"]) == 0
    assert "2 rows updated, 0 added, 4 kept" in capsys.readouterr().out
    assert main(["import", "--db", db, str(part), "--allow-shrink"]) == 0
    with Store(db) as s:
        assert int(s.scalar("SELECT count(*) FROM accounts")) == 2
