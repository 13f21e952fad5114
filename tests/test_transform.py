"""Transforms: a SQL file of views over a raw export becomes fact tables, all or nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from wide_export import EXAMPLES, generator, write_export

from valuation import features, ingest
from valuation.store import Store


def _count(db: Path, table: str) -> int:
    with Store(db) as s:
        return int(s.scalar(f'SELECT count(*) FROM "{table}"'))


def test_wide_export_imports_with_one_transform(tmp_path: Path) -> None:
    sql = write_export(tmp_path, rows=400, seed=3)
    raw = pd.read_csv(tmp_path / "crm_export.csv", dtype=str, keep_default_na=False)
    with Store(tmp_path / "w.duckdb") as s:
        report = ingest.import_files(s, transform=sql)
        assert report.ok and report.committed, report.to_text()
        # one account per customer, one churn event per churned customer, every Yes a holding
        assert report.tables["accounts"] == len(raw)
        assert report.tables["churn_events"] == int((raw["churn"] == "Yes").sum())
        services = [c for c, *_ in generator().SERVICES] + ["fixed_voice", "multiple_lines"]
        held = int(sum((raw[c] == "Yes").sum() for c in services)
                   + (raw["internet_service"] != "No").sum())
        assert report.tables["holdings"] == held
        assert report.tables["contracts"] == int(
            (raw["contract"].isin(["One year", "Two year"]) & (raw["tenure_months"] != "0")).sum())
        assert report.warning_counts == {"unassigned": 1}
        frame = features.account_frame(s)
        assert frame.attrs["as_of"] == "2026-10-31"
        one = raw.iloc[0]
        row = frame.set_index("account_id").loc[one["customer_id"]]
        tenure = int(one["tenure_months"])
        assert pd.Timestamp(row["onboard_date"]) == (
            pd.Timestamp("2026-10-31") - pd.DateOffset(months=tenure))
        # the account frame's bills are the monthly charge over the last 12 months of tenure
        months = min(tenure if tenure else 1, 12)
        assert row["revenue_12m"] == pytest.approx(float(one["monthly_charges"]) * months)
        assert s.import_history().iloc[0]["source"].startswith("transform.sql, crm_export.csv")


def test_an_error_names_the_view_file_and_source_row(tmp_path: Path) -> None:
    sql = write_export(tmp_path, rows=50, seed=4)
    raw = pd.read_csv(tmp_path / "crm_export.csv", dtype=str, keep_default_na=False)
    raw.loc[6, "customer_id"] = raw.loc[2, "customer_id"]  # a duplicate id on file row 8
    raw.to_csv(tmp_path / "crm_export.csv", index=False)
    db = tmp_path / "w.duckdb"
    with Store(db) as s:
        report = ingest.import_files(s, transform=sql)
        assert not report.ok and not report.committed
        assert s.data_version == ""
    dup = [p for p in report.problems if p.table == "accounts" and p.rule == "duplicate_key"]
    assert dup, report.to_text()
    assert dup[0].file == "transform.sql › accounts (crm_export.csv)"
    assert dup[0].row == 8  # the export's own row: the header is row 1
    assert _count(db, "accounts") == 0


def test_bad_sql_and_forbidden_statements_are_refused_with_their_line(tmp_path: Path) -> None:
    (tmp_path / "t.sql").write_text(
        "CREATE VIEW accounts AS SELECT 1 AS account_id;\n\nCOPY accounts TO 'x.csv';\n",
        encoding="utf-8")
    report = ingest.import_files(None, transform=tmp_path / "t.sql")
    assert not report.ok
    p = report.problems[0]
    assert (p.file, p.rule) == ("t.sql", "transform")
    assert p.message.startswith("line 3: statement 2 is not CREATE VIEW")
    (tmp_path / "u.sql").write_text("CREATE VIEW accounts AS SELEC 1;", encoding="utf-8")
    report = ingest.import_files(None, transform=tmp_path / "u.sql")
    assert not report.ok and report.problems[0].rule == "transform"
    assert "not valid SQL" in report.problems[0].message
    (tmp_path / "v.sql").write_text("CREATE VIEW helper AS SELECT 1 AS x;", encoding="utf-8")
    report = ingest.import_files(None, transform=tmp_path / "v.sql")
    assert "no view named after a fact table" in report.problems[0].message


def test_a_view_that_fails_names_itself(tmp_path: Path) -> None:
    (tmp_path / "t.sql").write_text(
        "CREATE VIEW 客户 AS SELECT CAST('x' AS INTEGER) AS account_id;", encoding="utf-8")
    report = ingest.import_files(None, transform=tmp_path / "t.sql")
    assert not report.ok
    p = report.problems[0]
    assert p.table == "accounts" and p.file == "t.sql › 客户"
    assert p.message.startswith("view 客户: Conversion Error")


GBK_SQL = """
CREATE VIEW accounts AS
SELECT _row AS source_row, "客户编号" AS account_id, "客户名称" AS name,
       CAST(strptime("入网日期", '%Y/%m/%d') AS DATE) AS onboard_date
FROM "客户清单.csv";
"""


def test_gbk_upload_runs_sandboxed_and_reads_only_its_uploads(tmp_path: Path) -> None:
    text = "客户编号,客户名称,入网日期\nK1,杭州市水务集团,2019/3/5\nK2,宁波港,2020/11/30\n"
    uploads = [("客户清单.csv", text.encode("gbk")), ("t.sql", GBK_SQL.encode("utf-8"))]
    with Store(tmp_path / "g.duckdb") as s:
        report = ingest.import_uploads(s, uploads, dry_run=False, user="admin")
        assert report.ok and report.committed, report.to_text()
        names = s.query("SELECT name FROM accounts ORDER BY account_id")["name"].tolist()
    assert names == ["杭州市水务集团", "宁波港"]
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n", encoding="utf-8")
    for body in (f"CREATE VIEW accounts AS SELECT * FROM read_csv('{secret}');",
                 f"CREATE VIEW accounts AS SELECT * FROM '{secret}';",
                 "CREATE VIEW accounts AS SELECT * FROM read_text('/etc/passwd');",
                 f'CREATE VIEW accounts AS SELECT * FROM "{secret.name}";'):
        report = ingest.import_uploads(None, [("t.sql", body.encode())], dry_run=True, user="x")
        assert not report.ok, body
        assert all(p.rule == "transform" for p in report.problems), report.to_text()


def test_the_example_transforms_parse_and_their_readme_exists() -> None:
    for name in ("wide_crm", "gbk_crm"):
        folder = EXAMPLES / name
        assert (folder / "transform.sql").is_file() and (folder / "README.md").is_file()


def test_gbk_example_imports_end_to_end(tmp_path: Path) -> None:
    folder = tmp_path / "gbk"
    folder.mkdir()
    gen = generator("gbk_crm")
    gen.write(folder, rows=300, seed=5)
    shutil.copy(EXAMPLES / "gbk_crm" / "transform.sql", folder / "transform.sql")
    raw = (folder / gen.FILE_NAME).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # it really is GBK
    with Store(tmp_path / "g.duckdb") as s:
        report = ingest.import_files(s, transform=folder / "transform.sql")
        assert report.ok and report.committed, report.to_text()
        assert report.tables["accounts"] == 300
        churned = int(s.scalar("SELECT count(*) FROM churn_events"))
        assert 0 < churned < 300
        # churn here is spread over time, not in one month
        assert int(s.scalar("SELECT count(DISTINCT date_trunc('month', churn_date)) "
                            "FROM churn_events")) > 6
