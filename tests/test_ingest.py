"""Import / export of fact tables: round trips, encodings, every validation rule, atomicity."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from valuation import ingest, schema
from valuation.ingest import Problem
from valuation.store import Store, copy_database

FACTS = schema.fact_load_order()


# ---------------------------------------------------------------------------------------------
# A tiny valid portfolio (typed, as the store holds it) and writers for it
# ---------------------------------------------------------------------------------------------
def _d(*xs: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(xs)), dtype="datetime64[us]")


def _portfolio() -> dict[str, pd.DataFrame]:
    f: dict[str, pd.DataFrame] = {}
    f["teams"] = pd.DataFrame({
        "team_id": ["T1", "T2"], "name": ["政企一部", "政企二部"],
        "name_en": ["Enterprise 1", None],
        "lead_id": ["U2", None], "city": ["宁波", "温州"]})
    f["users"] = pd.DataFrame({
        "user_id": ["U1", "U2", "U3", "U4"], "name": ["张三", "李四", "王五", "赵六"],
        "name_en": ["Zhang San", None, None, None],
        "role": ["account_manager", "sales_lead", "executive", "admin"],
        "team_id": ["T1", "T1", None, None], "email": ["z@x.cn", None, None, None]})
    f["competitors"] = pd.DataFrame({
        "competitor_id": ["C1", "C2"], "name": ["异网甲", "异网乙"], "name_en": ["Rival A", None]})
    f["products"] = pd.DataFrame({
        "product_id": ["P1", "P2", "P3", "P4"], "name": ["专线", "智慧校园", "对手专线", "对手云"],
        "name_en": ["Leased line", None, None, None],
        "family": ["communication", "industry", "communication", "information"],
        "provider": ["ours", "ours", "C1", "C2"], "function": ["line", "campus", "line", None],
        "industries": [None, "education;healthcare", None, None],
        "list_price": [1200.5, 3000.0, None, 0.1]})
    f["accounts"] = pd.DataFrame({
        "account_id": ["A1", "A2", "A3"], "name": ["宁波港集团", "宁波港北仑分公司", "某市教育局"],
        "name_en": ["Port group", None, None], "industry": ["shipping", "shipping", "education"],
        "size_class": ["large", "medium", "small"], "city": ["宁波", "宁波", "温州"],
        "district": [None, "北仑", None], "city_tier": pd.array([2, 2, 3], dtype="Int64"),
        "footprint": ["national", "local", "provincial"],
        "admin_level": [None, None, "prefecture"],
        "employees": pd.array([12000, 800, 150], dtype="Int64"),
        "sites": pd.array([40, 3, 1], dtype="Int64"),
        "listed": pd.array([True, False, False], dtype="boolean"),
        "industry_leader": pd.array([True, False, True], dtype="boolean"),
        "annual_revenue": [1.25e10, 3.3e8, 2.0e7], "credit_rating": ["AAA", "AA", "A"],
        "it_maturity": pd.array([5, 3, 2], dtype="Int64"),
        "parent_account_id": [None, "A1", None], "owner_id": ["U1", "U1", "U2"],
        "onboard_date": _d("2010-05-01", "2015-01-15", "2020-12-31")})
    f["holdings"] = pd.DataFrame({
        "account_id": ["A1", "A1", "A2", "A3"], "product_id": ["P1", "P3", "P2", "P4"],
        "provider": ["ours", "C1", "ours", "C2"], "quantity": pd.array([2, 1, 5, 1], dtype="Int64"),
        "monthly_revenue": [2401.0, 999.99, 15000.0, 0.1 + 0.2],  # exact floats survive
        "start_date": _d("2020-01-01", "2021-06-01", "2022-02-28", "2023-03-01"),
        "end_date": _d(None, None, "2024-02-29", None)})
    f["contracts"] = pd.DataFrame({
        "contract_id": ["K1", "K2"], "account_id": ["A1", "A3"],
        "contract_type": ["comprehensive_bundle", "handset_lease"],
        "start_date": _d("2023-01-01", "2024-01-01"), "end_date": _d("2025-12-31", "2024-12-31"),
        "value": [5_000_000.0, 12_345.67]})
    f["billing_monthly"] = pd.DataFrame({
        "account_id": ["A1", "A1", "A2"], "month": _d("2024-01-01", "2024-02-01", "2024-01-01"),
        "billed": [100000.0, 98000.5, 5000.0], "paid": [100000.0, 90000.0, 5000.0],
        "arrears": [0.0, 8000.5, 0.0]})
    f["lines"] = pd.DataFrame({
        "line_id": ["L1", "L2", "L3"], "account_id": ["A1", "A1", "A2"],
        "line_type": ["mobile", "fixed", "mobile"],
        "open_date": _d("2019-01-01", "2019-01-01", "2022-05-05"),
        "close_date": _d(None, "2024-03-31", None)})
    f["line_daily"] = pd.DataFrame({
        "line_id": ["L1", "L1", "L3"], "day": _d("2024-03-01", "2024-03-02", "2024-03-01"),
        "voice_out_calls": pd.array([12, 0, 3], dtype="Int64"),
        "sms_out": pd.array([1, 0, 0], dtype="Int64"), "vas_spend": [0.5, 0.0, 2.25],
        "spend": [3.2, 0.0, 5.0], "forwarded_offnet_calls": pd.array([0, 2, 0], dtype="Int64"),
        "balance": [120.0, -3.5, 1 / 3],
        "self_suspended": pd.array([False, True, False], dtype="boolean")})
    f["interactions"] = pd.DataFrame({
        "interaction_id": ["I1", "I2"], "account_id": ["A1", "A3"],
        "date": _d("2024-03-05", "2024-03-06"), "kind": ["visit", "escalated_complaint"],
        "user_id": ["U1", None], "note": ['客户说："再考虑", 下周回访', "line 1\nline 2"]})
    f["churn_events"] = pd.DataFrame({
        "account_id": ["A3"], "churn_date": _d("2024-06-01"), "reason": ["competitor"]})
    for df in f.values():
        for c in df.columns:
            if df[c].dtype == object:
                df[c] = df[c].astype("string")
    return f


@pytest.fixture
def portfolio() -> dict[str, pd.DataFrame]:
    return _portfolio()


def _as_text(df: pd.DataFrame) -> pd.DataFrame:
    """Cells as a user's CSV would have them: ISO dates, empty for null."""
    out = pd.DataFrame(index=df.index)
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_datetime64_any_dtype(s):
            out[c] = s.dt.strftime("%Y-%m-%d").fillna("")
        else:
            out[c] = s.astype(object).where(s.notna(), "").astype(str)
    return out


def write_csv(d: Path, frames: dict[str, pd.DataFrame], encoding: str = "utf-8") -> list[Path]:
    d.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, df in frames.items():
        p = d / f"{name}.csv"
        _as_text(df).to_csv(p, index=False, encoding=encoding)
        paths.append(p)
    return paths


def write_xlsx(path: Path, frames: dict[str, pd.DataFrame]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        for name, df in frames.items():
            out = df.copy()
            for c in out.columns:  # nullable extension arrays -> plain objects for openpyxl
                if not pd.api.types.is_datetime64_any_dtype(out[c]):
                    out[c] = out[c].astype(object).where(out[c].notna(), None)
            out.to_excel(xw, sheet_name=name, index=False)
    return path


def write_parquet(d: Path, frames: dict[str, pd.DataFrame]) -> list[Path]:
    d.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, df in frames.items():
        p = d / f"{name}.parquet"
        df.to_parquet(p, index=False)
        paths.append(p)
    return paths


def snapshot(store: Store) -> dict[str, pd.DataFrame]:
    return {t: store.read_table(t) for t in FACTS}


def assert_same_tables(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    assert a.keys() == b.keys()
    for t in a:
        pd.testing.assert_frame_equal(a[t], b[t], obj=t)


def assert_matches_portfolio(store: Store, frames: dict[str, pd.DataFrame],
                             exact: bool = True) -> None:
    """The store holds exactly the portfolio's values (compared as text, row order by key).

    Not ``exact``: floats to 15 significant digits (XLSX keeps 16 at most, Excel shows 15)."""
    for name, df in frames.items():
        t = schema.table(name)
        got_df = store.read_table(name)
        want_df = df.sort_values(list(t.key)).reset_index(drop=True)
        if not exact:
            floats = [c.name for c in t.columns if c.dtype == "float"]
            got_df[floats] = got_df[floats].map(lambda x: float(f"{x:.15g}"))
            want_df[floats] = want_df[floats].map(lambda x: float(f"{x:.15g}"))
        got = _as_text(got_df).reset_index(drop=True)
        want = _as_text(want_df)
        for c in t.names:  # booleans: the store gives True/False
            if t.column(c).dtype == "bool":
                got[c] = got[c].str.lower()
                want[c] = want[c].str.lower()
        pd.testing.assert_frame_equal(got[t.names], want[t.names], obj=name)


@pytest.fixture(scope="module")
def loaded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed database file holding the valid portfolio (copied for each test: faster)."""
    d = tmp_path_factory.mktemp("template")
    store = Store(d / "loaded.duckdb")
    report = ingest.import_files(store, write_csv(d / "base", _portfolio()))
    assert report.ok, report.to_text()
    store.close()
    return d / "loaded.duckdb"


@pytest.fixture
def loaded(tmp_path: Path, loaded_template: Path) -> Store:
    """A store holding the valid portfolio."""
    path = tmp_path / "loaded.duckdb"
    copy_database(loaded_template, path)
    store = Store(path)
    yield store
    store.close()


def only(report: ingest.ImportReport, rule: str) -> Problem:
    found = [p for p in report.problems if p.rule == rule]
    assert found, report.to_text()
    return found[0]


# ---------------------------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
def test_round_trip(tmp_path: Path, portfolio: dict[str, pd.DataFrame], fmt: str) -> None:
    if fmt == "csv":
        paths: list[Path] = write_csv(tmp_path / "in", portfolio)
    elif fmt == "xlsx":
        paths = [write_xlsx(tmp_path / "in" / "portfolio.xlsx", portfolio)]
    else:
        paths = write_parquet(tmp_path / "in", portfolio)
    a = Store(tmp_path / "a.duckdb")
    report = ingest.import_files(a, paths, user="tester")
    assert report.ok, report.to_text()
    assert report.committed and report.data_version == a.data_version
    assert report.tables == {t: len(portfolio[t]) for t in FACTS}
    assert_matches_portfolio(a, portfolio, exact=fmt != "xlsx")

    exported = ingest.export_tables(a, tmp_path / "out", fmt=fmt)
    assert [p.name for p in exported] == [f"{t}.{fmt}" for t in FACTS]
    b = Store(tmp_path / "b.duckdb")
    again = ingest.import_files(b, [tmp_path / "out"])
    assert again.ok, again.to_text()
    assert again.problems == [] and again.warnings == []
    assert_same_tables(snapshot(a), snapshot(b))
    assert b.import_history()["user_id"].tolist() == ["import"]
    a.close()
    b.close()


def test_csv_export_format(loaded: Store, tmp_path: Path) -> None:
    paths = ingest.export_tables(loaded, tmp_path / "out", tables=["accounts", "客户接触"])
    assert [p.name for p in paths] == ["accounts.csv", "interactions.csv"]
    raw = paths[0].read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8").splitlines()))
    assert rows[0] == schema.table("accounts").names
    a2 = dict(zip(rows[0], rows[2], strict=True))
    assert a2["account_id"] == "A2" and a2["onboard_date"] == "2015-01-15"
    assert a2["listed"] == "false" and a2["admin_level"] == "" and a2["city_tier"] == "2"
    notes = pd.read_csv(paths[1], dtype=str, keep_default_na=False)
    assert notes["note"].tolist() == ['客户说："再考虑", 下周回访', "line 1\nline 2"]
    bom = ingest.export_tables(loaded, tmp_path / "bom", tables=["teams"], bom=True)
    assert bom[0].read_bytes().startswith(b"\xef\xbb\xbf")


def test_export_skips_empty_tables_unless_asked(tmp_path: Path,
                                               portfolio: dict[str, pd.DataFrame]) -> None:
    store = Store(tmp_path / "s.duckdb")
    del portfolio["churn_events"]
    assert ingest.import_files(store, write_csv(tmp_path / "in", portfolio)).ok
    names = [p.name for p in ingest.export_tables(store, tmp_path / "out")]
    assert "churn_events.csv" not in names and len(names) == len(FACTS) - 1
    asked = ingest.export_tables(store, tmp_path / "asked", tables=["churn_events"])
    assert asked[0].read_text(encoding="utf-8").strip() == "account_id,churn_date,reason"
    with pytest.raises(ValueError):
        ingest.export_tables(store, tmp_path / "x", tables=["plans"])
    with pytest.raises(ValueError):
        ingest.export_tables(store, tmp_path / "x", fmt="json")


def test_xlsx_export_continues_on_numbered_sheets(loaded: Store, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "EXCEL_MAX_ROWS", 2)
    paths = ingest.export_tables(loaded, tmp_path / "out", fmt="xlsx",
                                 tables=["users", "line_daily"])
    wb = openpyxl.load_workbook(paths[0], read_only=True)
    assert wb.sheetnames == ["users", "users_2"]
    wb.close()
    b = Store(tmp_path / "b.duckdb")
    # users refer to teams, line_daily to lines: give those from the first store
    ingest.export_tables(loaded, tmp_path / "out", fmt="csv", tables=["teams", "lines"])
    ingest.export_tables(loaded, tmp_path / "out", fmt="csv", tables=["accounts"])
    report = ingest.import_files(b, [tmp_path / "out"])
    assert report.ok, report.to_text()
    assert report.files["users.xlsx[users_2]"] == "users"
    for t in ("users", "line_daily"):
        pd.testing.assert_frame_equal(b.read_table(t), loaded.read_table(t))


def test_one_workbook_many_sheets_chinese_names_and_excel_cells(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "说明"
    ws.append(["this sheet explains the workbook"])
    teams = wb.create_sheet("团队")
    teams.append(["团队编号", "团队名称"])
    teams.append(["T1", "一部"])
    comp = wb.create_sheet("competitors")
    comp.append(["competitor_id", "name"])
    comp.append([101, "数字编号的对手"])  # a numeric id cell
    comp.append([102.0, "浮点编号"])
    comp.append([None, None])  # empty row: skipped
    comp.append(["C3", "第五行"])
    path = tmp_path / "book.xlsx"
    wb.save(path)
    store = Store(tmp_path / "s.duckdb")
    report = ingest.import_files(store, [path])
    assert report.ok, report.to_text()
    assert report.files == {"book.xlsx[团队]": "teams", "book.xlsx[competitors]": "competitors"}
    assert [w.rule for w in report.warnings] == ["ignored_sheet"]
    assert store.read_table("competitors")["competitor_id"].tolist() == ["101", "102", "C3"]


def test_xlsx_dates_serials_and_rows(tmp_path: Path, loaded: Store) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "anything"
    ws.append(["account_id", "month", "billed", "paid", "arrears"])
    ws.append(["A1", 45352, 1.5, 1.5, 0])  # Excel serial of 2024-03-01
    ws.append(["A1", pd.Timestamp("2024-04-01").to_pydatetime(), 2, 2, 0])
    ws.append(["A2", "2024-03", "3", "3", "0"])
    ws.append(["A2", "2024年4月", "1,234.5", "1234.5", " 0 "])
    ws.append(["A3", "no month", 1, 1, 0])
    path = tmp_path / "月账单.xlsx"  # first sheet is the file's table when no sheet name matches
    wb.save(path)
    report = ingest.import_files(loaded, [path], dry_run=True)
    assert not report.ok
    p = only(report, "type")
    assert (p.file, p.row, p.column, p.value) == ("月账单.xlsx", 6, "month", "no month")
    assert report.total_problems == 1
    ws.delete_rows(6)
    wb.save(path)
    report = ingest.import_files(loaded, [path])
    assert report.ok, report.to_text()
    got = loaded.read_table("billing_monthly")
    assert got["month"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-03-01", "2024-04-01", "2024-03-01", "2024-04-01"]
    assert got["billed"].tolist() == [1.5, 2.0, 3.0, 1234.5]


# ---------------------------------------------------------------------------------------------
# Encodings, Chinese headers and labels, value formats
# ---------------------------------------------------------------------------------------------
def _accounts_zh(portfolio: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """accounts with Chinese headers, Chinese enum labels and Chinese booleans / dates."""
    t = schema.table("accounts")
    df = _as_text(portfolio["accounts"])
    for c in t.columns:
        if c.enum:
            df[c.name] = [schema.enum_label(c.enum, v, "zh") if v else "" for v in df[c.name]]
    df["listed"] = df["listed"].map({"True": "是", "False": "否"})
    df["industry_leader"] = df["industry_leader"].map({"True": "Y", "False": "n"})
    df["onboard_date"] = ["2010年5月1日", "2015/1/15", "20201231"]
    df["annual_revenue"] = ["12,500,000,000", " 330000000.0 ", "2e7"]
    return df.rename(columns={c.name: c.zh for c in t.columns})


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig", "gb18030"])
def test_chinese_headers_and_labels(tmp_path: Path, portfolio: dict[str, pd.DataFrame],
                                    encoding: str) -> None:
    store = Store(tmp_path / "s.duckdb")
    rest = {k: v for k, v in portfolio.items() if k != "accounts"}
    paths = write_csv(tmp_path / "in", rest)
    zh = _accounts_zh(portfolio)
    assert zh.columns[0] == "客户编号" and zh.loc[0, "行业"] == "航运引航"
    path = tmp_path / "in" / "客户.csv"
    zh.to_csv(path, index=False, encoding=encoding)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    report = ingest.import_files(store, [*paths, path])
    assert report.ok, report.to_text()
    assert report.files["客户.csv"] == "accounts"
    assert_matches_portfolio(store, portfolio)  # codes stored, not labels


def test_english_labels_case_and_semicolon_delimiter(tmp_path: Path, loaded: Store) -> None:
    path = tmp_path / "Holdings.CSV"
    path.write_text(
        " Account_ID ;product_id;PROVIDER;quantity;monthly_revenue;start_date;end_date\n"
        "A1;P1;ours;3;\"1,200.50\";2024-01-01;\n"
        "A2;P4;C2;1;0;2024-1-5;2024-12-31\n", encoding="utf-8")
    report = ingest.import_files(loaded, [path], allow_shrink=True)
    assert report.ok, report.to_text()
    got = loaded.read_table("holdings")
    assert got["monthly_revenue"].tolist() == [1200.5, 0.0]
    assert got["start_date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-01", "2024-01-05"]
    # an enum given by its English label, any case
    teams = tmp_path / "users.csv"
    teams.write_text("user_id,name,role,team_id\nU1,a,ACCOUNT MANAGER,T1\nU2,b,Sales lead,T1\n"
                     "U3,c,分管领导,\n", encoding="utf-8")
    report = ingest.import_files(loaded, [teams], dry_run=True, allow_shrink=True)
    assert report.ok, report.to_text()
    assert report.frames["users"]["role"].tolist() == ["account_manager", "sales_lead",
                                                       "executive"]


def test_csv_quirks_keep_row_numbers(tmp_path: Path, loaded: Store) -> None:
    """Blank lines before the header, Excel's "sep=" line, empty ",,," rows, UTF-16 text."""
    body = ("\n\nsep=;\ncompetitor_id;name;name_en\nC1;甲;\n;;\nC2;乙;\nC3;;x\n;;\n")
    path = tmp_path / "competitors.csv"
    path.write_text(body, encoding="utf-8")
    frames, files, problems = ingest.read_files([path])
    assert files == {"competitors.csv": "competitors"} and problems == []
    raw = frames["competitors"]
    assert raw["competitor_id"].tolist() == ["C1", "C2", "C3"]
    assert raw[ingest.ROW_COL].tolist() == [5, 7, 8]  # as an editor numbers the lines
    report = ingest.import_files(loaded, [path], dry_run=True)
    p = only(report, "required")
    assert (p.row, p.column) == (8, "name")
    path.write_text(body.replace("C3;;x", "C3;丙;x"), encoding="utf-16")
    report = ingest.import_files(loaded, [path])
    assert report.ok, report.to_text()
    assert loaded.read_table("competitors")["name"].tolist() == ["甲", "乙", "丙"]


def test_frames_have_store_dtypes(tmp_path: Path, portfolio: dict[str, pd.DataFrame]) -> None:
    report = ingest.import_files(None, write_csv(tmp_path / "in", portfolio), dry_run=True)
    assert report.ok and not report.committed
    acc = report.frames["accounts"]
    assert list(acc.columns) == schema.table("accounts").names
    kinds = {"int": "Int64", "float": "float64", "bool": "boolean", "str": "string"}
    for c in schema.table("accounts").columns:
        if c.dtype == "date":
            assert pd.api.types.is_datetime64_any_dtype(acc[c.name])
        else:
            assert str(acc[c.name].dtype) == kinds[c.dtype], c.name
    assert acc["admin_level"].isna().tolist() == [True, True, False]


# ---------------------------------------------------------------------------------------------
# Each rule, from a specific bad file
# ---------------------------------------------------------------------------------------------
def _bad_import(tmp_path: Path, portfolio: dict[str, pd.DataFrame], table: str,
                edit, store: Store | None, alone: bool = False) -> ingest.ImportReport:
    """Write the portfolio as CSV with ``edit`` applied to ``table``'s text frame, import it
    (only that table if ``alone``: the others are then taken from the store)."""
    frames = {k: _as_text(v) for k, v in portfolio.items() if not alone or k == table}
    frames[table] = edit(frames[table].copy())
    d = tmp_path / "bad"
    d.mkdir(parents=True)
    for name, df in frames.items():
        df.to_csv(d / f"{name}.csv", index=False)
    return ingest.import_files(store, [d])


def _set(col: str, row: int, value: str):
    """Set a cell; ``row`` as the user sees it in the CSV (header is row 1)."""
    def edit(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[row - 2, col] = value
        return df
    return edit


CELL_CASES = [
    ("accounts", "credit_rating", 3, "AAAA", "enum"),
    ("accounts", "industry", 2, "farming", "enum"),
    ("accounts", "city_tier", 4, "7", "max"),
    ("accounts", "it_maturity", 2, "0", "min"),
    ("accounts", "employees", 3, "2.5", "type"),
    ("accounts", "sites", 2, "many", "type"),
    ("accounts", "annual_revenue", 4, "-1", "min"),
    ("accounts", "annual_revenue", 2, "1,2,3", "type"),
    ("accounts", "listed", 3, "maybe", "type"),
    ("accounts", "onboard_date", 2, "2023-02-29", "type"),
    ("accounts", "onboard_date", 3, "2024-13-01", "type"),
    ("accounts", "name", 4, "", "required"),
    ("accounts", "parent_account_id", 3, "A2", "reference"),  # itself
    ("accounts", "parent_account_id", 4, "A7", "reference"),
    ("users", "team_id", 2, "", "required"),  # an account manager without a team
    ("users", "team_id", 5, "T9", "reference"),
    ("teams", "lead_id", 2, "U7", "reference"),
    ("products", "provider", 4, "C9", "reference"),  # alone: else holdings (P3, C1) fail too
    ("products", "list_price", 2, "nan", "type"),
    ("holdings", "account_id", 3, "A9", "reference"),
    ("holdings", "provider", 2, "C1", "reference"),  # P1 is ours, not C1's
    ("holdings", "quantity", 5, "0", "min"),
    ("holdings", "end_date", 4, "2022-01-01", "date_order"),
    ("contracts", "contract_type", 3, "lease", "enum"),
    ("billing_monthly", "month", 2, "March", "type"),
    ("lines", "close_date", 3, "2018-12-31", "date_order"),
    ("line_daily", "line_id", 4, "L9", "reference"),
    ("line_daily", "self_suspended", 2, "2", "type"),
    ("line_daily", "sms_out", 3, "1e100", "type"),
    ("interactions", "user_id", 2, "U8", "reference"),
    ("churn_events", "reason", 2, "bored", "enum"),
]


@pytest.mark.parametrize(("table", "column", "row", "value", "rule"), CELL_CASES)
def test_cell_rules(tmp_path: Path, portfolio: dict[str, pd.DataFrame], loaded: Store,
                    table: str, column: str, row: int, value: str, rule: str) -> None:
    before, version = snapshot(loaded), loaded.data_version
    alone = (table, column) == ("products", "provider")
    report = _bad_import(tmp_path, portfolio, table, _set(column, row, value), loaded, alone)
    assert not report.ok
    assert report.total_problems == 1, report.to_text()
    p = report.problems[0]
    assert (p.file, p.table, p.row, p.column, p.rule) == (
        f"{table}.csv", table, row, column, rule)
    assert p.value == (value if rule != "required" else None)
    assert report.counts == {rule: 1}
    assert report.data_version is None
    assert loaded.data_version == version
    assert_same_tables(snapshot(loaded), before)


def test_unknown_owner_lands_unassigned(tmp_path: Path, portfolio: dict[str, pd.DataFrame],
                                        loaded: Store) -> None:
    """An owner who is not a user is a note, not an error: the account imports, unassigned."""
    report = _bad_import(tmp_path, portfolio, "accounts", _set("owner_id", 2, "U9"), loaded)
    assert report.ok and report.committed, report.to_text()
    assert report.warning_counts == {"unassigned": 1}
    w = report.warnings[0]
    assert (w.file, w.row, w.column, w.value, w.rule) == (
        "accounts.csv", 2, "owner_id", "U9", "unassigned")
    assert loaded.scalar("SELECT owner_id FROM accounts WHERE account_id = 'A1'") == "U9"


def test_accounts_without_owners_or_users(tmp_path: Path,
                                         portfolio: dict[str, pd.DataFrame]) -> None:
    """Accounts and their facts import without any user or team: one note, not one per row."""
    d = tmp_path / "noowner"
    d.mkdir()
    for name in ("products", "competitors", "accounts", "holdings"):
        df = _as_text(portfolio[name])
        if name == "accounts":
            df = df.drop(columns=["owner_id", "credit_rating", "employees", "industry"])
        df.to_csv(d / f"{name}.csv", index=False)
    with Store(tmp_path / "fresh.duckdb") as s:
        report = ingest.import_files(s, [d])
        assert report.ok and report.committed, report.to_text()
        assert report.warning_counts.get("unassigned") == 1
        assert "3 accounts have no owner" in report.to_text()
        assert s.scalar("SELECT count(*) FROM accounts WHERE owner_id IS NULL") == 3


def test_missing_reference_table_is_one_problem(tmp_path: Path,
                                                portfolio: dict[str, pd.DataFrame]) -> None:
    """Holdings into an empty database, without their accounts: one problem, not one per row."""
    d = tmp_path / "orphan"
    d.mkdir()
    for name in ("products", "competitors", "holdings"):
        _as_text(portfolio[name]).to_csv(d / f"{name}.csv", index=False)
    with Store(tmp_path / "empty.duckdb") as s:
        report = ingest.import_files(s, [d])
    assert not report.ok
    assert report.counts == {"reference": 1}, report.to_text()
    p = report.problems[0]
    assert (p.table, p.row, p.column) == ("holdings", None, "account_id")
    assert "import accounts with it" in p.message


def test_header_mapped_twice_is_one_clear_message(tmp_path: Path,
                                                  portfolio: dict[str, pd.DataFrame]) -> None:
    d = tmp_path / "mapped"
    d.mkdir()
    _as_text(portfolio["accounts"]).to_csv(d / "客户清单.csv", index=False)
    m = tmp_path / "map.toml"
    m.write_text('[files]\n"客户清单.csv" = "accounts"\n[columns.accounts]\n'
                 '"客户编码" = "account_id"\n"客户编码" = "name"\n', encoding="utf-8")
    report = ingest.import_files(None, [d], mapping_path=m)
    assert not report.ok
    assert report.total_problems == 1, report.to_text()
    p = report.problems[0]
    assert (p.file, p.rule, p.row, p.value) == ("map.toml", "mapping", 5, "客户编码")
    assert "given twice" in p.message


def test_enum_report_line(tmp_path: Path, portfolio: dict[str, pd.DataFrame]) -> None:
    report = _bad_import(tmp_path, portfolio, "accounts", _set("credit_rating", 3, "AAAA"), None)
    line = report.problems[0].text()
    assert line == 'accounts.csv row 3, column credit_rating = "AAAA": enum — not one of ' \
                   "AAA, AA, A, B, C"
    zh = report.to_text("zh")
    assert "导入被拒绝" in zh and "枚举 1" in zh
    assert 'accounts.csv 第3行，列 信用等级（credit_rating） = "AAAA": 枚举' in zh
    text = report.to_text()
    assert text.splitlines()[0] == "Import refused: 1 problem found; nothing was written."
    assert line in text
    frame = report.to_frame()
    assert frame.loc[0, ["file", "row", "column", "rule"]].tolist() == [
        "accounts.csv", 3, "credit_rating", "enum"]


def test_duplicate_key(tmp_path: Path, portfolio: dict[str, pd.DataFrame]) -> None:
    def dup(df: pd.DataFrame) -> pd.DataFrame:
        return pd.concat([df, df.iloc[[1]], df.iloc[[1]]], ignore_index=True)

    report = _bad_import(tmp_path, portfolio, "holdings", dup, None)
    assert report.counts == {"duplicate_key": 2}
    rows = [(p.file, p.row, p.rule) for p in report.problems]
    assert rows == [("holdings.csv", 6, "duplicate_key"), ("holdings.csv", 7, "duplicate_key")]
    p = report.problems[0]
    assert p.value == "A1, P3, 2021-06-01"
    assert "(account_id, product_id, start_date)" in p.message
    assert "first at holdings.csv row 3" in p.message


def test_missing_unknown_and_duplicate_columns(tmp_path: Path,
                                               portfolio: dict[str, pd.DataFrame]) -> None:
    def edit(df: pd.DataFrame) -> pd.DataFrame:
        df = df.drop(columns=["onboard_date", "district"])  # required and optional
        df["备注"] = "x"  # unknown: a note, not blocking
        return df

    report = _bad_import(tmp_path, portfolio, "accounts", edit, None)
    assert report.counts == {"missing_column": 1}
    p = report.problems[0]
    assert (p.file, p.row, p.column, p.rule) == (
        "accounts.csv", None, "onboard_date", "missing_column")
    assert [(w.column, w.rule) for w in report.warnings] == [("备注", "unknown_column")]
    # the unknown column alone does not block
    report = _bad_import(tmp_path / "2", portfolio, "accounts",
                         lambda df: df.assign(备注="x"), None)
    assert report.ok and report.warning_counts == {"unknown_column": 1}
    # the same column twice, in English and in Chinese
    report = _bad_import(tmp_path / "3", portfolio, "accounts",
                         lambda df: df.assign(地市=df["city"]), None)
    assert report.counts == {"duplicate_column": 1}


def test_file_level_rules(tmp_path: Path, loaded: Store) -> None:
    d = tmp_path / "files"
    d.mkdir()
    (d / "customers.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (d / "plans.csv").write_text("plan_id\nX\n", encoding="utf-8")
    (d / "teams.csv").write_bytes(b"PK\x03\x04" + bytes(range(256)))
    (d / "accounts.csv").write_text(",".join(schema.table("accounts").names) + "\n",
                                    encoding="utf-8")
    (d / "lines.csv").write_bytes(b"\xff\xfe\xfa" * 3 + b"\x81\x30\x81")
    (d / "competitors.csv").write_text("competitor_id,name\nC1,a\nC2,b,extra\nC3,c\n",
                                       encoding="utf-8")
    report = ingest.import_files(loaded, [d, tmp_path / "nowhere.csv"])
    got = {(p.file, p.rule, p.row) for p in report.problems}
    assert ("customers.csv", "unknown_table", None) in got
    assert ("plans.csv", "unknown_table", None) in got
    assert ("teams.csv", "unreadable", None) in got
    assert ("accounts.csv", "empty", None) in got
    assert ("lines.csv", "unreadable", None) in got
    assert ("competitors.csv", "unreadable", 3) in got
    assert (str(tmp_path / "nowhere.csv"), "unreadable", None) in got
    assert "accounts (客户)" in only(report, "unknown_table").message
    assert "app" in [p for p in report.problems if p.file == "plans.csv"][0].message
    # problems come in file order
    files = [p.file for p in report.problems]
    assert files.index("accounts.csv") < files.index("competitors.csv") < files.index("teams.csv")
    assert not report.ok and loaded.row_counts()["accounts"] == 3


def test_reference_to_a_table_that_failed_to_read_is_not_checked(
        tmp_path: Path, portfolio: dict[str, pd.DataFrame]) -> None:
    def edit(df: pd.DataFrame) -> pd.DataFrame:
        return df.iloc[:0]  # accounts.csv with a header only

    report = _bad_import(tmp_path, portfolio, "accounts", edit, None)
    assert report.counts == {"empty": 1}  # no flood of reference problems


def test_references_checked_against_the_store(tmp_path: Path, loaded: Store) -> None:
    path = tmp_path / "holdings.csv"
    path.write_text("account_id,product_id,provider,quantity,monthly_revenue,start_date\n"
                    "A1,P1,ours,1,10,2024-01-01\nA4,P2,ours,1,10,2024-01-01\n"
                    "A2,P9,ours,1,10,2024-01-01\n", encoding="utf-8")
    report = ingest.import_files(loaded, [path])
    assert [(p.row, p.column, p.rule) for p in report.problems] == [
        (3, "account_id", "reference"), (4, "product_id", "reference")]
    # without a store the references cannot be checked: a note, not a problem
    report = ingest.import_files(None, [path], dry_run=True)
    assert report.ok and set(report.warning_counts) == {"reference_unchecked"}


def test_orphan_note_when_replacing_a_referenced_table(tmp_path: Path, loaded: Store,
                                                       portfolio) -> None:
    accounts = portfolio["accounts"].iloc[:2]  # drop A3, still held / contracted / churned
    report = ingest.import_files(loaded, write_csv(tmp_path / "in", {"accounts": accounts}), allow_shrink=True)
    assert report.ok, report.to_text()
    orphans = [w for w in report.warnings if w.rule == "orphan"]
    assert {w.message.split(" rows of ")[1].split(" ")[0] for w in orphans} >= {
        "holdings", "contracts", "churn_events"}
    assert all(w.value == "A3" for w in orphans)


# ---------------------------------------------------------------------------------------------
# Garbage never crashes, is always reported, never lands
# ---------------------------------------------------------------------------------------------
_CHECKED = [(c.name, c.dtype) for c in schema.table("accounts").columns
            if c.dtype in ("int", "float", "date", "bool") or c.enum]
_JUNK = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\u2028\u2029"
                           ) | st.sampled_from([",", '"', "\n", ";", "\t"]),
    max_size=12)


@pytest.fixture(scope="module")
def garbage_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    d = tmp_path_factory.mktemp("garbage")
    store = Store(d / "g.duckdb")
    assert ingest.import_files(store, write_csv(d / "base", _portfolio())).ok
    yield store
    store.close()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(col=st.sampled_from(_CHECKED), row=st.integers(0, 2), left=_JUNK, right=_JUNK,
       junk=st.sampled_from(["#", "@", "?", "%", "~", "!"]))
def test_garbage_cells_are_reported_and_never_land(
        garbage_store: Store, tmp_path_factory: pytest.TempPathFactory,
        col: tuple[str, str], row: int, left: str, right: str, junk: str) -> None:
    name, _dtype = col
    value = left + junk + right
    df = _as_text(_portfolio()["accounts"])
    df.loc[row, name] = value
    d = tmp_path_factory.mktemp("g")
    df.to_csv(d / "accounts.csv", index=False, quoting=csv.QUOTE_ALL)
    version = garbage_store.data_version
    report = ingest.import_files(garbage_store, [d / "accounts.csv"])
    assert not report.ok
    hits = [p for p in report.problems if p.row == row + 2 and p.column == name]
    assert hits and hits[0].rule in ("type", "enum"), report.to_text()
    assert junk in (hits[0].value or "")
    assert garbage_store.data_version == version


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=300))
def test_random_bytes_never_crash(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    d = tmp_path_factory.mktemp("bytes")
    (d / "accounts.csv").write_bytes(b"account_id,name,city_tier\n" + data)
    (d / "lines.xlsx").write_bytes(data)
    (d / "holdings.parquet").write_bytes(data)
    report = ingest.import_files(None, [d], dry_run=True)
    assert not report.ok
    assert {"lines.xlsx", "holdings.parquet"} <= {p.file for p in report.problems}
    assert isinstance(report.to_text("zh"), str)


# ---------------------------------------------------------------------------------------------
# Atomicity, data versions, app-owned tables
# ---------------------------------------------------------------------------------------------
def test_one_bad_table_blocks_every_table(tmp_path: Path, loaded: Store,
                                          portfolio: dict[str, pd.DataFrame]) -> None:
    before, version = snapshot(loaded), loaded.data_version
    teams = portfolio["teams"].assign(name=["改名一部", "改名二部"])  # valid change
    contracts = _as_text(portfolio["contracts"])
    contracts.loc[1, "value"] = "lots"
    d = tmp_path / "mixed"
    write_csv(d, {"teams": teams})
    contracts.to_csv(d / "contracts.csv", index=False)
    report = ingest.import_files(loaded, [d])
    assert not report.ok and report.counts == {"type": 1}
    assert report.tables == {"teams": 2, "contracts": 2}
    assert loaded.data_version == version
    assert_same_tables(snapshot(loaded), before)
    assert len(loaded.import_history()) == 1


def test_data_version_and_app_owned_rows(tmp_path: Path, loaded: Store,
                                         portfolio: dict[str, pd.DataFrame]) -> None:
    loaded.write_row("plans", {"plan_id": "PL1", "account_id": "A1", "objective": "续约",
                               "status": "open"}, user="u")
    plans = loaded.read_table("plans")
    v1 = loaded.data_version
    assert v1
    dry = ingest.import_files(loaded, write_csv(tmp_path / "x", portfolio), dry_run=True)
    assert dry.ok and dry.dry_run and dry.data_version is None and loaded.data_version == v1
    teams = portfolio["teams"].assign(city=["杭州", "湖州"])
    before = snapshot(loaded)
    ok = ingest.import_files(loaded, write_csv(tmp_path / "y", {"teams": teams}), user="alice")
    assert ok.ok and ok.data_version == loaded.data_version != v1
    assert loaded.read_table("teams")["city"].tolist() == ["杭州", "湖州"]
    pd.testing.assert_frame_equal(loaded.read_table("plans"), plans)
    assert len(loaded.audit_entries("plans")) == 1
    pd.testing.assert_frame_equal(loaded.read_table("accounts"), before["accounts"])
    v2 = loaded.data_version
    bad = ingest.import_files(loaded, write_csv(tmp_path / "z", {"teams": teams.iloc[:0]}))
    assert not bad.ok and loaded.data_version == v2
    history = loaded.import_history()
    assert history["user_id"].tolist()[0] == "alice" and len(history) == 2
    assert "teams.csv" in history["source"].iloc[0]


def test_only_imported_tables_are_replaced(tmp_path: Path, loaded: Store,
                                           portfolio: dict[str, pd.DataFrame]) -> None:
    before = snapshot(loaded)
    holdings = portfolio["holdings"].iloc[:2]
    report = ingest.import_files(loaded, write_csv(tmp_path / "h", {"holdings": holdings}), allow_shrink=True)
    assert report.ok, report.to_text()
    after = snapshot(loaded)
    assert len(after["holdings"]) == 2
    for t in FACTS:
        if t != "holdings":
            pd.testing.assert_frame_equal(after[t], before[t], obj=t)


# ---------------------------------------------------------------------------------------------
# Mapping files, uploads, limits, speed
# ---------------------------------------------------------------------------------------------
def test_mapping_file(tmp_path: Path, loaded: Store) -> None:
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        '[files]\n"客户清单.csv" = "competitors"\n"usage" = "号码日使用"\n'
        '[columns.competitors]\n"对手编码" = "competitor_id"\n"对手名" = "名称"\n'
        '[columns.line_daily]\n"号码" = "line_id"\n', encoding="utf-8")
    comp = tmp_path / "客户清单.csv"
    comp.write_text("对手编码,对手名,英文名称\nC1,甲,A\nC2,乙,\n", encoding="gbk")
    usage = tmp_path / "usage.csv"
    usage.write_text("号码,日期,主动语音呼出次数,短信条数,增值业务消费(元),当日话费（元）,"
                     "呼转异网次数,信控余额(元),主动停机\nL1,2024-03-05,1,2,0,1.5,0,9,否\n",
                     encoding="utf-8")
    report = ingest.import_files(loaded, [comp, usage], mapping_path=mapping, allow_shrink=True)
    assert report.ok, report.to_text()
    assert report.files == {"客户清单.csv": "competitors", "usage.csv": "line_daily"}
    assert loaded.read_table("competitors")["name"].tolist() == ["甲", "乙"]
    assert loaded.read_table("line_daily")["spend"].tolist() == [1.5]
    # a dict mapping works the same; a wrong target is a problem, not an exception
    report = ingest.import_files(loaded, [comp], mapping={
        "files": {"客户清单": "competitors"},
        "columns": {"competitors": {"对手编码": "competitor_id", "对手名": "nom"}}}, allow_shrink=True)
    assert not report.ok and only(report, "mapping").value == "nom"
    bad = tmp_path / "bad.toml"
    bad.write_text("[files\n", encoding="utf-8")
    report = ingest.import_files(loaded, [comp], mapping_path=bad, allow_shrink=True)
    assert not report.ok and report.counts.get("mapping") == 1


def test_import_uploads(tmp_path: Path, portfolio: dict[str, pd.DataFrame]) -> None:
    store = Store(tmp_path / "s.duckdb")
    uploads = [(p.name, p.read_bytes()) for p in write_csv(tmp_path / "in", portfolio)]
    uploads[0] = ("C:\\Users\\me\\团队清单.csv", uploads[0][1])
    uploads.append(("map.toml", '[files]\n"团队清单" = "teams"\n'.encode()))
    dry = ingest.import_uploads(store, uploads, dry_run=True, user="web")
    assert dry.ok, dry.to_text()
    assert store.data_version == "" and dry.files["团队清单.csv"] == "teams"
    done = ingest.import_uploads(store, uploads, dry_run=False, user="web")
    assert done.ok and store.data_version == done.data_version
    assert store.import_history()["user_id"].tolist() == ["web"]
    assert_matches_portfolio(store, portfolio)


def test_report_keeps_first_100_problems(tmp_path: Path) -> None:
    n = 250
    df = pd.DataFrame({"competitor_id": [f"C{i}" for i in range(n)], "name": "x"})
    df.to_csv(tmp_path / "competitors.csv", index=False)
    teams = pd.DataFrame({"team_id": [f"T{i}" for i in range(n)], "name": ""})
    teams.to_csv(tmp_path / "teams.csv", index=False)
    report = ingest.import_files(None, [tmp_path / "teams.csv", tmp_path / "competitors.csv"],
                                 dry_run=True)
    assert report.counts == {"required": n}
    assert len(report.problems) == ingest.MAX_PROBLEMS
    assert [p.row for p in report.problems] == list(range(2, 102))
    assert report.to_text().splitlines()[-1] == "... and 150 more."
    assert len(report.to_frame()) == 100


def test_wide_error_file_is_fast_and_ordered(tmp_path: Path) -> None:
    n = 200_000
    rng = np.random.default_rng(1)
    df = pd.DataFrame({
        "line_id": [f"L{i % 5000}" for i in range(n)],
        "day": pd.date_range("2020-01-01", periods=n // 5000 + 1).repeat(5000)[:n]
        .strftime("%Y-%m-%d"),
        "voice_out_calls": rng.integers(0, 9, n).astype(str),
        "sms_out": "1", "vas_spend": "0.5", "spend": "1,234.5", "forwarded_offnet_calls": "0",
        "balance": "-3", "self_suspended": rng.choice(["是", "否", "true", "0"], n)})
    df.loc[150_000:, "sms_out"] = "x"  # 50,000 type errors near the end
    lines = pd.DataFrame({"line_id": [f"L{i}" for i in range(5000)], "account_id": "A1",
                          "line_type": "移动", "open_date": "2019-01-01"})
    df.to_csv(tmp_path / "line_daily.csv", index=False)
    lines.to_csv(tmp_path / "lines.csv", index=False)
    start = time.perf_counter()
    report = ingest.import_files(None, [tmp_path / "lines.csv", tmp_path / "line_daily.csv"],
                                 dry_run=True)
    elapsed = time.perf_counter() - start
    assert report.counts == {"type": 50_000}
    assert report.problems[0].row == 150_002 and report.problems[-1].row == 150_101
    assert elapsed < 15, elapsed


def test_validate_accepts_plain_frames(portfolio: dict[str, pd.DataFrame]) -> None:
    """Typed frames (e.g. from a generator) validate without files; rows numbered from 1."""
    frames = dict(portfolio)
    acc = frames["accounts"].copy()
    acc.loc[2, "city_tier"] = 9
    frames["客户"] = acc
    del frames["accounts"]
    report = ingest.validate(frames, {})
    assert report.counts == {"max": 1}
    p = report.problems[0]
    assert (p.file, p.row, p.column, p.value) == ("accounts", 3, "city_tier", "9")


def test_parquet_nulls_in_text_and_number_columns_stay_missing(tmp_path):
    """Parquet (and any typed source) gives None / NaN for missing cells: never 'None'/'nan'."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from conftest import toy_frames

    frames = toy_frames()
    acc = frames["accounts"]
    assert acc["admin_level"].isna().any() and acc["parent_account_id"].isna().all()
    folder = tmp_path / "pq"
    folder.mkdir()
    for name, df in frames.items():
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), folder / f"{name}.parquet")
    products = frames["products"].astype({"list_price": "float64"})
    products.loc[0, "list_price"] = float("nan")
    pq.write_table(pa.Table.from_pandas(products, preserve_index=False), folder / "products.parquet")
    with Store(tmp_path / "p.duckdb") as s:
        report = ingest.import_files(s, [folder])
        assert report.ok, report.to_text()
        got = s.read_table("accounts").set_index("account_id")
        assert got["parent_account_id"].isna().all()
        assert got["admin_level"].isna().sum() == acc["admin_level"].isna().sum()
        assert pd.isna(s.read_table("products").set_index("product_id").at["P-VOICE", "list_price"])
