"""Transforms: a SQL file of views, run by DuckDB over a user's raw export, that yields fact tables.

A transform is a text file of ``CREATE VIEW`` (and ``CREATE MACRO``) statements. Every view
named after a fact table (English or Chinese name, e.g. ``accounts`` or ``客户``) becomes that
table; other views are steps in between. The views read the user's files in one of two ways:

- ``FROM "crm_export.csv"``: a file beside the transform (or uploaded with it) by its name,
  read by the import's own reader (UTF-8, UTF-8 BOM, UTF-16 or GBK/GB18030 text, any
  delimiter; ``"book.xlsx"`` is a workbook's first sheet, ``"book.xlsx/Sheet2"`` another
  sheet; Parquet typed). Text cells arrive as VARCHAR, and every such file has one more
  column, ``_row``, its row number as the user sees it (the header is row 1); a view that
  passes it on as ``source_row`` makes the import report point at rows of the source file.
- ``read_csv('big.csv')``, ``read_parquet('part-*.parquet')`` and the rest of DuckDB, with
  relative paths resolved beside the transform (command line only).

In a sandbox (the Import page), DuckDB's access to files, extensions and settings is closed:
the views can read only the files uploaded with the transform, through the first form.

The frames that come out carry the origin columns of :mod:`valuation.ingest` and go through
the same validation and the same all-or-nothing load as files do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from valuation import ingest

__all__ = ["SOURCE_ROW", "Transform", "TransformResult", "read_transform", "run_transform"]

SOURCE_ROW = "source_row"  # a view column naming the source file's row, for the report
_ROW = "_row"  # the row-number column every registered input file gets
_DATA_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".parquet", ".pq")
_CREATE = re.compile(
    r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP(?:ORARY)?\s+)?(VIEW|MACRO)\s+"
    r"(?:IF\s+NOT\s+EXISTS\s+)?(\"(?:[^\"]|\"\")+\"|[^\s(]+)", re.IGNORECASE)
_QUOTED = re.compile(r"\"((?:[^\"]|\"\")+)\"")
_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)


@dataclass(frozen=True)
class Transform:
    """A transform's text, a label for reports and where its files come from: ``base_dir``
    (files beside it, command line) or ``files`` (name -> path, uploads). ``sandbox`` closes
    DuckDB's own file access."""

    sql: str
    label: str = "transform.sql"
    base_dir: Path | None = None
    files: Mapping[str, Path] = field(default_factory=dict)
    sandbox: bool = False


@dataclass
class TransformResult:
    """Raw frames per fact table (for :func:`valuation.ingest.validate`), file label -> table,
    problems met, and the labels in report order."""

    frames: dict[str, pd.DataFrame]
    files: dict[str, str]
    problems: list[ingest.Problem]
    order: list[str]
    inputs: list[str] = field(default_factory=list)  # input files read


def read_transform(path: str | Path, *, files: Mapping[str, Path] | None = None,
                   sandbox: bool = False) -> Transform:
    """A transform from a file; its data files are looked up beside it unless ``files``."""
    p = Path(path)
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("gb18030", errors="replace")
    return Transform(sql=text, label=p.name, base_dir=None if files else p.resolve().parent,
                     files=dict(files or {}), sandbox=sandbox)


def run_transform(t: Transform) -> TransformResult:
    """Run the transform's statements in a private in-memory DuckDB and read the fact views.

    Never raises for a bad transform or bad files: the problems say what is wrong, naming
    the statement's line, the view and the source file where they can."""
    problems: list[ingest.Problem] = []
    order = [t.label]
    statements = _statements(t, problems)
    if problems:
        return TransformResult({}, {}, problems, order)
    config = {"autoinstall_known_extensions": False}
    if t.sandbox:
        config.update(enable_external_access=False, autoload_known_extensions=False)
    elif t.base_dir is not None:
        config["file_search_path"] = str(t.base_dir)
    con = duckdb.connect(":memory:", config=config)
    try:
        if t.sandbox:
            con.execute("SET lock_configuration = true")
        inputs = _register_inputs(con, t, problems, order)
        if any(p.blocking for p in problems):
            return TransformResult({}, {}, problems, order, inputs)
        for line, kind, name, sql in statements:
            try:
                con.execute(sql)
            except duckdb.Error as e:
                problems.append(_problem(
                    t.label, "", f"line {line}: {kind.lower()} {name}: {_first_line(e)}",
                    f"第{line}行：{name}：{_first_line(e)}"))
        if problems:
            return TransformResult({}, {}, problems, order, inputs)
        views = [(name, sql) for _, kind, name, sql in statements if kind == "VIEW"]
        targets = [(name, ingest.table_from_name(name), sql) for name, sql in views]
        targets = [(n, tb, s) for n, tb, s in targets if tb is not None]
        if not targets:
            problems.append(_problem(
                t.label, "", "the transform creates no view named after a fact table "
                f"({ingest.accepted_tables()})",
                f"转换脚本没有创建以事实表命名的视图（{ingest.accepted_tables()}）"))
            return TransformResult({}, {}, problems, order, inputs)
        seen: dict[str, str] = {}
        sources: list[ingest.Source] = []
        labels: dict[str, str] = {}
        view_sql = {n: s for n, s in views}
        for name, table, _sql in targets:
            if table in seen:
                problems.append(_problem(
                    t.label, table, f"views {seen[table]!r} and {name!r} are both {table}",
                    f"视图“{seen[table]}”和“{name}”都对应表 {table}"))
                continue
            seen[table] = name
            used = _inputs_used(name, view_sql, inputs)
            label = f"{t.label} › {name}" + (f" ({', '.join(used)})" if used else "")
            order.append(label)
            try:
                quoted = name.replace('"', '""')
                tbl = con.sql(f'SELECT * FROM "{quoted}"').to_arrow_table()
            except duckdb.Error as e:
                problems.append(_problem(label, table, f"view {name}: {_first_line(e)}",
                                         f"视图 {name}：{_first_line(e)}"))
                continue
            headers, raw, rows = _frame(tbl)
            labels[label] = table
            sources.append(ingest.canonical(label, table, headers, raw, rows, False,
                                            ingest.empty_mapping(), problems))
    finally:
        con.close()
    return TransformResult(ingest.combine(sources), labels, problems, order, inputs)


# ---------------------------------------------------------------------------------------------
def _statements(t: Transform, problems: list[ingest.Problem]) -> list[tuple[int, str, str, str]]:
    """(line, VIEW|MACRO, name, sql) per statement; anything else is a problem."""
    try:
        parsed = duckdb.extract_statements(t.sql)
    except duckdb.Error as e:
        problems.append(_problem(t.label, "", f"not valid SQL: {_first_line(e)}",
                                 f"SQL 语法错误：{_first_line(e)}"))
        return []
    out = []
    pos = 0
    for k, st in enumerate(parsed, start=1):
        text = st.query
        at = t.sql.find(text.strip()[:40], pos)
        if at >= 0:
            pos = at + 1
        line = t.sql.count("\n", 0, max(at, 0)) + 1
        m = _CREATE.match(_COMMENT.sub(" ", text))
        if st.type != duckdb.StatementType.CREATE or m is None:
            problems.append(_problem(
                t.label, "", f"line {line}: statement {k} is not CREATE VIEW or CREATE MACRO; a "
                "transform only defines views (one per fact table) and macros",
                f"第{line}行：第{k}条语句不是 CREATE VIEW 或 CREATE MACRO；转换脚本只能定义视图"
                "（每张事实表一个）和宏"))
            continue
        name = m.group(2)
        if name.startswith('"'):
            name = name[1:-1].replace('""', '"')
        out.append((line, m.group(1).upper(), name, text))
    if not out and not problems:
        problems.append(_problem(t.label, "", "the transform is empty", "转换脚本为空"))
    return out


def _register_inputs(con: duckdb.DuckDBPyConnection, t: Transform,
                     problems: list[ingest.Problem], order: list[str]) -> list[str]:
    """Read every data file the SQL names as a quoted identifier and register it under it."""
    body = _COMMENT.sub(" ", t.sql)
    names = dict.fromkeys(m.group(1).replace('""', '"') for m in _QUOTED.finditer(body))
    done = []
    for name in names:
        base, _, sheet = name.partition("/") if name.lower().split("/")[0].endswith(
            (".xlsx", ".xlsm")) else (name, "", "")
        path = _input_path(t, base)
        if path is None:
            continue
        label = name
        order.append(label)
        try:
            read = ingest.read_raw(path, label, sheet=sheet or None)
        except ingest.UnreadableError as e:
            problems.append(ingest.Problem(label, "", None, None, None, "unreadable", e.en,
                                           message_zh=e.zh))
            continue
        except OSError as e:
            problems.append(ingest.Problem(label, "", None, None, None, "unreadable", str(e),
                                           message_zh=f"无法读取：{e}"))
            continue
        problems.extend(read.problems)
        if read.problems:
            continue
        con.register(name, _arrow(read.headers, read.frame, read.rows, label, problems))
        done.append(name)
    return done


def _input_path(t: Transform, name: str) -> Path | None:
    if not name.lower().endswith(_DATA_SUFFIXES):
        return None
    if t.files:
        for key, path in t.files.items():
            if key == name or Path(key).name == name:
                return Path(path)
        return None
    if t.base_dir is None:
        return None
    p = (t.base_dir / name)
    return p if p.is_file() else None


def _arrow(headers: list[str], frame: pd.DataFrame, rows: np.ndarray, label: str,
           problems: list[ingest.Problem]) -> pa.Table:
    cols: dict[str, pa.Array] = {}
    for i, h in enumerate(headers):
        name = h.strip() or f"column{i + 1}"
        if name in cols:
            problems.append(ingest.Problem(
                label, "", None, name, None, "unknown_column",
                f"header {name!r} appears twice; the second is read as {name}_{i + 1}",
                severity="warning",
                message_zh=f"表头“{name}”出现两次；第二个按 {name}_{i + 1} 读取"))
            name = f"{name}_{i + 1}"
        col = frame[f"c{i}"] if f"c{i}" in frame else pd.Series([""] * len(frame), dtype="string")
        if pd.api.types.is_string_dtype(col.dtype) or pd.api.types.is_object_dtype(col.dtype):
            text = col.astype("string").str.strip()
            cols[name] = pa.array(text.mask(text == ""), type=pa.string(), from_pandas=True)
        else:
            cols[name] = pa.array(col, from_pandas=True)
    cols[_ROW] = pa.array(rows, type=pa.int64())
    return pa.table(cols)


def _frame(tbl: pa.Table) -> tuple[list[str], pd.DataFrame, np.ndarray]:
    """Headers, a raw frame with columns c0.. and row numbers (``source_row`` when given)."""
    df = tbl.to_pandas(types_mapper={pa.string(): pd.StringDtype(), pa.large_string():
                                     pd.StringDtype(), pa.bool_(): pd.BooleanDtype(),
                                     pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int64Dtype()
                                     }.get, date_as_object=False)
    headers = [str(c) for c in df.columns]
    rows = np.arange(1, len(df) + 1, dtype=np.int64)
    if SOURCE_ROW in headers:
        src = pd.to_numeric(df[SOURCE_ROW], errors="coerce")
        if src.notna().all():
            rows = src.to_numpy(dtype=np.int64)
        keep = [i for i, h in enumerate(headers) if h != SOURCE_ROW]
        df = df.iloc[:, keep]
        headers = [headers[i] for i in keep]
    df.columns = [f"c{i}" for i in range(len(headers))]
    return headers, df.reset_index(drop=True), rows


def _inputs_used(view: str, views: Mapping[str, str], inputs: list[str]) -> list[str]:
    """The input files a view reads, directly or through other views (by name in the text)."""
    seen: set[str] = set()
    found: list[str] = []
    stack = [view]
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        body = _COMMENT.sub(" ", views.get(v, ""))
        quoted = {m.group(1).replace('""', '"') for m in _QUOTED.finditer(body)}
        words = set(re.findall(r"[\w\u4e00-\u9fff]+", body))
        for name in inputs:
            if name in quoted and name not in found:
                found.append(name)
        stack.extend(w for w in views if w != v and (w in quoted or w in words))
    return found


def _first_line(e: BaseException) -> str:
    lines = [x.strip() for x in str(e).splitlines() if x.strip()]
    msg = lines[0] if lines else type(e).__name__
    extra = [x for x in lines[1:] if x.upper().startswith(("LINE", "CANDIDATE", "DID YOU"))]
    return " ".join([msg, *extra[:1]])


def _problem(label: str, table: str, en: str, zh: str) -> ingest.Problem:
    return ingest.Problem(label, table, None, None, None, "transform", en, message_zh=zh)
