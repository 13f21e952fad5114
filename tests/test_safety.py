"""Formula-like text: inert in files for people, exact in the export, which round-trips."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pytest
from conftest import toy_frames

from valuation import ingest
from valuation.safety import escape_formulas
from valuation.store import Store

HOSTILE = ["=cmd|'/c calc'!A1", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


@pytest.mark.parametrize("text", HOSTILE)
def test_escape_prefixes_a_quote(text):
    out = escape_formulas(pd.DataFrame({"name": [text, "ok"], "n": [-5, 3]}))
    assert out["name"].tolist() == ["'" + text, "ok"]
    assert out["n"].tolist() == [-5, 3]  # numbers are not text


def test_xlsx_export_writes_text_cells_and_round_trips(tmp_path: Path):
    f = toy_frames()
    f["accounts"].loc[:5, "name"] = HOSTILE[:4] + ["普通名称", "-"]
    with Store(tmp_path / "a.duckdb") as s:
        s.replace_facts(f, source="t")
        paths = ingest.export_tables(s, tmp_path / "x", fmt="xlsx")
    book = next(p for p in paths if p.name == "accounts.xlsx")
    sheet = zipfile.ZipFile(book).read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet  # no live formula
    with Store(tmp_path / "b.duckdb") as s2:
        report = ingest.import_files(s2, [tmp_path / "x"])
        assert report.ok, report.to_text()
        names = s2.query("SELECT name FROM accounts ORDER BY account_id")["name"].tolist()
    assert names[:6] == HOSTILE[:4] + ["普通名称", "-"]


def test_score_csv_for_people_is_escaped(tmp_path: Path):
    from valuation.cli import main

    f = toy_frames()
    f["accounts"].loc[0, "name"] = "=HYPERLINK(\"http://x\",\"y\")"
    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        s.replace_facts(f, source="t")
    out = tmp_path / "scores.csv"
    assert main(["score", "--db", str(db), "--out", str(out)]) == 0
    first = pd.read_csv(out, dtype=str).set_index("account_id").at["A001", "name"]
    assert first.startswith("'=HYPERLINK")
