"""Import and export of fact tables: CSV (UTF-8, UTF-8 BOM, GBK/GB18030), XLSX and Parquet.

Reading turns every file into a frame of raw cells keyed by the table it is (by file or sheet
name, English or Chinese, ``<table>_N`` continuations, or a TOML mapping file), with the English
column names of :mod:`valuation.schema`; several files of one table are concatenated.
Validation parses and checks whole columns at once (no Python loop over rows; dates, enums and
booleans are parsed once per distinct value) and reports every problem with the file, the row
as the user sees it, the column, the value and a rule id. It is plain vectorised pandas /
pyarrow rather than pandera: cells must be parsed from text before they can be checked, and
problems must name source rows across concatenated files and stay cheap when millions fail.
An import lands only when no blocking problem was found, through
:meth:`Store.replace_facts`, all tables in one transaction.

Row numbers: CSV and XLSX count the header as row 1, so the first data row is row 2 (blank
lines inside a CSV are skipped by the parser and not counted; XLSX rows are the sheet's own
row numbers). Parquet rows (and plain frames given to :func:`validate`) are numbered from 1.

Months (``billing_monthly.month``) accept ``2024-03`` and any date, stored as the first of the
month. A file with a header but no rows is refused (``empty``): replacing a table by nothing is
almost always a broken export, so :func:`export_tables` skips empty tables unless named.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import tempfile
import tomllib
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from valuation import schema
from valuation.store import Store

__all__ = [
    "BLOCKING_RULES",
    "EXCEL_MAX_ROWS",
    "XLSX_MAX_BYTES",
    "XLSX_MAX_CELLS",
    "MAX_PROBLEMS",
    "RULE_ZH",
    "WARNING_RULES",
    "ImportReport",
    "Problem",
    "RawFile",
    "Source",
    "UnreadableError",
    "accepted_tables",
    "canonical",
    "combine",
    "empty_mapping",
    "export_tables",
    "import_files",
    "import_uploads",
    "load_mapping",
    "read_files",
    "read_raw",
    "table_from_name",
    "validate",
]

MAX_PROBLEMS = 100
MAX_SHRINK = 0.2  # an import that would shrink a table by more than this share stops
EXCEL_MAX_ROWS = 1_048_575  # data rows per sheet: Excel's 1,048,576 rows minus the header
# Workbooks are refused before parsing when their sheets (worksheet XML and shared strings,
# uncompressed, as the zip directory says) or their declared cells (<dimension ref=...>) exceed
# these; import_files / read_files / read_raw take xlsx_max_bytes= / xlsx_max_cells= to override.
XLSX_MAX_BYTES = 500_000_000
XLSX_MAX_CELLS = 50_000_000

# Hidden columns of the raw frames returned by read_files: where each row came from.
FILE_COL = "__file__"
ROW_COL = "__row__"
EXCEL_COL = "__excel__"
_HIDDEN = (FILE_COL, ROW_COL, EXCEL_COL)
_ABSENT_ATTR = "ingest_absent"  # frame.attrs: {column: [file labels lacking it]}

_KINDS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".parquet": "parquet",
    ".pq": "parquet",
}

BLOCKING_RULES: tuple[str, ...] = (
    "unreadable",
    "encoding",
    "quote",
    "too_large",
    "nested_column",
    "unknown_table",
    "mapping",
    "empty",
    "missing_column",
    "duplicate_column",
    "required",
    "type",
    "enum",
    "min",
    "max",
    "duplicate_key",
    "reference",
    "parent_cycle",
    "date_order",
    "transform",
    "shrink",
    "app_orphans",
)
WARNING_RULES: tuple[str, ...] = (
    "unknown_column", "ignored_sheet", "reference_unchecked", "orphan", "unassigned",
    "demo_sign_ins")

RULE_ZH: dict[str, str] = {
    "unreadable": "无法读取",
    "encoding": "编码",
    "quote": "引号",
    "too_large": "文件过大",
    "nested_column": "嵌套列",
    "unknown_table": "未知表",
    "mapping": "映射文件",
    "empty": "无数据",
    "missing_column": "缺少列",
    "duplicate_column": "重复列",
    "required": "必填",
    "type": "类型",
    "enum": "枚举",
    "min": "最小值",
    "max": "最大值",
    "duplicate_key": "重复主键",
    "reference": "引用",
    "parent_cycle": "上级循环",
    "date_order": "日期顺序",
    "transform": "转换脚本",
    "unknown_column": "未知列",
    "ignored_sheet": "忽略的工作表",
    "reference_unchecked": "未检查引用",
    "orphan": "孤立记录",
    "unassigned": "未分配",
    "merge": "合并",
    "shrink": "表大幅缩小",
    "app_orphans": "用户数据失去关联",
    "demo_sign_ins": "演示口令",
}
_RULE_ORDER = {r: i for i, r in enumerate(BLOCKING_RULES + WARNING_RULES)}

# Columns holding a month: "2024-03" is accepted and every date becomes the first of its month.
_MONTH_COLUMNS = {("billing_monthly", "month")}
# Users with these roles must belong to a team.
_ROLES_NEEDING_TEAM = ("account_manager", "sales_lead")

_TRUE = ("true", "t", "1", "1.0", "yes", "y", "是", "真", "对")
_FALSE = ("false", "f", "0", "0.0", "no", "n", "否", "假", "错")
_BOOLS = {**{v: True for v in _TRUE}, **{v: False for v in _FALSE}}

_THOUSANDS = r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?"
_DATE_PATTERNS = (
    # 2024-03-01, 2024/3/1, 2024.3.1, optionally followed by a time and an offset (checked:
    # 00:00-23:59:59, offsets up to +-14:59, then ignored: the day is kept)
    r"^(?P<y>\d{4})(?P<s>[-/.])(?P<m>\d{1,2})(?P=s)(?P<d>\d{1,2})"
    r"(?:[ T](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.\d*)?)?"
    r"(?:Z|[+-](?P<zh>\d{2}):?(?P<zm>\d{2}))?)?$",
    r"^(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日$",
    r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$",
)
_MONTH_PATTERNS = (
    r"^(?P<y>\d{4})(?P<s>[-/.])(?P<m>\d{1,2})$",
    r"^(?P<y>\d{4})年(?P<m>\d{1,2})月$",
    r"^(?P<y>\d{4})(?P<m>\d{2})$",
)
_SERIAL = r"^\d{1,7}(\.\d+)?$"


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """One validation problem (or, with ``severity="warning"``, a note that does not block)."""

    file: str
    table: str
    row: int | None
    column: str | None
    value: str | None
    rule: str
    message: str
    severity: str = "error"
    message_zh: str = ""

    @property
    def blocking(self) -> bool:
        return self.severity == "error"

    def text(self, lang: str = "en") -> str:
        """One line, e.g. ``accounts.csv row 7, column credit_rating = "AAAA": enum — ...``."""
        zh = lang.startswith("zh")
        where = self.file or self.table or "-"
        if self.row is not None:
            where += f" 第{self.row}行" if zh else f" row {self.row}"
        if self.column:
            col = self.column
            if zh:
                zh_name = _column_zh(self.table, self.column)
                col = f"{zh_name}（{self.column}）" if zh_name else self.column
            sep = "，" if zh else ", "
            where += f"{sep}列 {col}" if zh else f"{sep}column {col}"
            if self.value is not None:
                where += f' = "{_short(self.value)}"'
        elif self.value is not None and self.row is not None:
            where += f' "{_short(self.value)}"'
        rule = RULE_ZH.get(self.rule, self.rule) if zh else self.rule
        message = (self.message_zh or self.message) if zh else self.message
        return f"{where}: {rule} — {message}"


@dataclass
class ImportReport:
    """What an import found and did. ``ok`` is False when any blocking problem was found."""

    ok: bool
    tables: dict[str, int]
    problems: list[Problem]
    counts: dict[str, int]
    files: dict[str, str]
    data_version: str | None = None
    warnings: list[Problem] = field(default_factory=list)
    warning_counts: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False
    # Typed frames that would land (set by a valid dry run / validate; emptied once committed).
    frames: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False, compare=False)

    @property
    def committed(self) -> bool:
        return self.data_version is not None

    @property
    def total_problems(self) -> int:
        return sum(self.counts.values())

    def to_text(self, lang: str = "en") -> str:
        """A human report: outcome, rows per table, counts per rule, then one line per problem."""
        zh = lang.startswith("zh")
        out: list[str] = []
        n_rows = sum(self.tables.values())
        if self.ok and self.committed:
            out.append(
                f"导入成功：{len(self.tables)} 张表，{n_rows:,} 行；数据版本 {self.data_version}。"
                if zh
                else f"Imported {len(self.tables)} tables, {n_rows:,} rows; "
                f"data version {self.data_version}."
            )
        elif self.ok:
            out.append(
                f"校验通过：{len(self.tables)} 张表，{n_rows:,} 行可以导入（未写入数据库）。"
                if zh
                else f"Valid: {len(self.tables)} tables, {n_rows:,} rows would be imported "
                "(nothing written)."
            )
        else:
            out.append(
                f"导入被拒绝：发现 {self.total_problems:,} 个问题，数据库未做任何修改。"
                if zh
                else f"Import refused: {self.total_problems:,} "
                f"problem{'' if self.total_problems == 1 else 's'} found; nothing was written."
            )
        if self.tables:
            names = [
                f"{(schema.table(t).zh if zh else t)} {n:,}" for t, n in self.tables.items()
            ]
            out.append(("各表行数：" if zh else "Rows per table: ") + ", ".join(names))
        if self.counts:
            head = "按规则统计：" if zh else "Problems by rule: "
            out.append(head + _counts_text(self.counts, zh))
            out.extend(p.text(lang) for p in self.problems)
            rest = self.total_problems - len(self.problems)
            if rest > 0:
                out.append(f"……另有 {rest:,} 个问题未列出。" if zh else f"... and {rest:,} more.")
        if self.warning_counts:
            out.append(("提示：" if zh else "Notes: ") + _counts_text(self.warning_counts, zh))
            out.extend(p.text(lang) for p in self.warnings)
            rest = sum(self.warning_counts.values()) - len(self.warnings)
            if rest > 0:
                out.append(f"……另有 {rest:,} 条提示未列出。" if zh else f"... and {rest:,} more.")
        return "\n".join(out)

    def to_frame(self, *, warnings: bool = True) -> pd.DataFrame:
        """Problems (then warnings) as a table, for display or download."""
        rows = list(self.problems) + (list(self.warnings) if warnings else [])
        cols = ["severity", "file", "table", "row", "column", "value", "rule", "message",
                "message_zh"]
        df = pd.DataFrame([{c: getattr(p, c) for c in cols} for p in rows], columns=cols)
        df["row"] = df["row"].astype("Int64")
        return df


def _counts_text(counts: Mapping[str, int], zh: bool) -> str:
    items = sorted(counts.items(), key=lambda kv: _RULE_ORDER.get(kv[0], 99))
    if zh:
        return "，".join(f"{RULE_ZH.get(r, r)} {n:,}" for r, n in items)
    return ", ".join(f"{r} {n:,}" for r, n in items)


def _short(v: str, n: int = 60) -> str:
    v = v.replace("\r", " ").replace("\n", " ")
    return v if len(v) <= n else v[: n - 1] + "…"


def _column_zh(table: str, column: str) -> str:
    t = schema.TABLES.get(table)
    if t is None or column not in t.names:
        return ""
    return t.column(column).zh


# ---------------------------------------------------------------------------------------------
# Names: tables, headers, mapping files
# ---------------------------------------------------------------------------------------------
def _norm(s: object) -> str:
    """Normalised name for matching: NFKC (full-width to half-width), no BOM, trimmed, lower
    case, runs of spaces and hyphens as one underscore."""
    t = unicodedata.normalize("NFKC", str(s)).replace("\ufeff", "").strip().strip('"').strip()
    return re.sub(r"[\s\-]+", "_", t.lower())


_TABLE_NAMES: dict[str, str] = {}
for _t in schema.FACT_TABLES:
    _TABLE_NAMES[_norm(_t.name)] = _t.name
    _TABLE_NAMES[_norm(_t.zh)] = _t.name
_APP_NAMES = {_norm(n): t.name for t in schema.APP_TABLES for n in (t.name, t.zh)}


def _accepted_tables() -> str:
    return ", ".join(f"{t.name} ({t.zh})" for t in schema.FACT_TABLES)


def _table_from_name(name: str) -> str | None:
    """The fact table called ``name`` (English or Chinese, or ``<table>_N`` continuation)."""
    n = _norm(name)
    if n in _TABLE_NAMES:
        return _TABLE_NAMES[n]
    m = re.fullmatch(r"(.+?)_(\d+)", n)
    if m and m.group(1) in _TABLE_NAMES:
        return _TABLE_NAMES[m.group(1)]
    return None


def _header_lookup(table: str, mapping: _Mapping) -> dict[str, str]:
    t = schema.table(table)
    lookup: dict[str, str] = {}
    for c in t.columns:
        lookup.setdefault(_norm(c.zh), c.name)
    for c in t.columns:
        lookup[_norm(c.name)] = c.name  # English names win over a clashing Chinese header
    lookup.update(mapping.columns.get(table, {}))  # the user's mapping wins over both
    return lookup


@dataclass
class _Mapping:
    files: dict[str, str] = field(default_factory=dict)  # normalised file name or stem -> table
    sheets: dict[str, str] = field(default_factory=dict)  # normalised sheet name -> table
    columns: dict[str, dict[str, str]] = field(default_factory=dict)  # table -> header -> column
    problems: list[Problem] = field(default_factory=list)


def load_mapping(path: str | Path) -> dict:
    """Read a TOML mapping file::

        [files]            # file name or stem -> table (English or Chinese name)
        "客户清单.csv" = "accounts"
        [sheets]           # XLSX sheet name -> table (optional)
        "客户" = "accounts"
        [columns.accounts] # source header -> column (English name or Chinese header)
        "客户编码" = "account_id"
    """
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def _compile_mapping(raw: Mapping | None, label: str = "mapping") -> _Mapping:
    out = _Mapping()
    if not raw:
        return out

    def bad(en: str, zh: str, value: str | None = None) -> None:
        out.problems.append(Problem(label, "", None, None, value, "mapping", en, message_zh=zh))

    def table_of(name: object) -> str | None:
        t = _table_from_name(str(name)) if _norm(name) in _TABLE_NAMES else None
        if t is None:
            bad(f"{name!r} is not a fact table; use one of {_accepted_tables()}",
                f"“{name}”不是可导入的表；可用：{_accepted_tables()}", str(name))
        return t

    known = {"files", "sheets", "columns"}
    for key in raw:
        if key not in known:
            bad(f"unknown section [{key}]; expected [files], [sheets] or [columns.<table>]",
                f"未知的节 [{key}]；应为 [files]、[sheets] 或 [columns.<表名>]", str(key))
    for section, target in (("files", out.files), ("sheets", out.sheets)):
        entries = raw.get(section) or {}
        if not isinstance(entries, Mapping):
            bad(f"[{section}] must be a table of name = table", f"[{section}] 格式应为 名称 = 表名")
            continue
        for src, dst in entries.items():
            t = table_of(dst)
            if t is not None:
                target[_norm(src)] = t
    columns = raw.get("columns") or {}
    if not isinstance(columns, Mapping):
        bad("[columns] must hold [columns.<table>] sections",
            "[columns] 下应为 [columns.<表名>] 节")
        columns = {}
    for tname, entries in columns.items():
        t = table_of(tname)
        if t is None:
            continue
        if not isinstance(entries, Mapping):
            bad(f"[columns.{tname}] must be a table of header = column",
                f"[columns.{tname}] 格式应为 源列名 = 列名")
            continue
        names = {_norm(c.name): c.name for c in schema.table(t).columns}
        names.update({_norm(c.zh): c.name for c in schema.table(t).columns})
        cmap = out.columns.setdefault(t, {})
        for src, dst in entries.items():
            col = names.get(_norm(dst))
            if col is None:
                bad(f"[columns.{tname}] {src!r} = {dst!r}: {dst!r} is not a column of {t} "
                    f"({', '.join(schema.table(t).names)})",
                    f"[columns.{tname}] “{src}” = “{dst}”：{t} 没有列 “{dst}”", str(dst))
            else:
                cmap[_norm(src)] = col
    return out


def _merge(a: Mapping, b: Mapping) -> dict:
    out = dict(a)
    for k, v in b.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _resolve_mapping(*sources: Mapping | str | Path | bytes | None) -> _Mapping:
    """One mapping from TOML paths, TOML bytes and/or dicts (later ones win); problems instead
    of exceptions."""
    merged: dict[str, Any] = {}
    problems: list[Problem] = []
    label = "mapping"
    for src in sources:
        if src is None:
            continue
        try:
            if isinstance(src, (bytes, bytearray)):
                raw: Any = tomllib.loads(bytes(src).decode("utf-8-sig"))
            elif isinstance(src, (str, Path)):
                label = Path(src).name
                raw = load_mapping(src)
            else:
                raw = src
            if not isinstance(raw, Mapping):
                raise TypeError(f"a mapping must be a TOML table, not {type(raw).__name__}")
            merged = _merge(merged, raw)
        except tomllib.TOMLDecodeError as e:
            problems.append(_toml_problem(label, src, e))
        except (OSError, UnicodeDecodeError, TypeError) as e:
            problems.append(Problem(label, "", None, None, None, "mapping",
                                    f"cannot read the mapping file: {e}",
                                    message_zh=f"无法读取映射文件：{e}"))
    out = _compile_mapping(merged, label)
    out.problems[:0] = problems
    return out


def _toml_problem(label: str, src: Any, e: tomllib.TOMLDecodeError) -> Problem:
    """One clear message for a mapping file that is not valid TOML; a header given twice
    (TOML's "Cannot overwrite a value") is named with its line."""
    m = re.search(r"line (\d+)", str(e))
    line = int(m.group(1)) if m else None
    text = ""
    if line is not None:
        try:
            raw = (bytes(src).decode("utf-8-sig") if isinstance(src, (bytes, bytearray))
                   else Path(src).read_text(encoding="utf-8-sig"))
            text = raw.splitlines()[line - 1]
        except (OSError, UnicodeDecodeError, IndexError, TypeError):
            text = ""
    key = text.split("=", 1)[0].strip().strip('"') if "=" in text else ""
    if "overwrite" in str(e).lower() and key:
        return Problem(label, "", line, None, key, "mapping",
                       f"line {line}: {key!r} is given twice; map each header to one column "
                       "(and name each section once)",
                       message_zh=f"第{line}行：“{key}”重复出现；每个源列名只能对应一个列"
                       "（每个节也只能出现一次）")
    where = f"line {line}: " if line else ""
    return Problem(label, "", line, None, None, "mapping",
                   f"{where}not valid TOML: {e}",
                   message_zh=f"{'第' + str(line) + '行：' if line else ''}不是有效的 TOML：{e}")


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------
class _UnreadableError(Exception):
    """A file that cannot be read; ``row`` / ``column`` / ``rule`` say where and why when known."""

    def __init__(self, en: str, zh: str, *, row: int | None = None, column: str | None = None,
                 rule: str = "unreadable", value: str | None = None) -> None:
        super().__init__(en)
        self.en, self.zh = en, zh
        self.row, self.column, self.rule, self.value = row, column, rule, value


@dataclass(frozen=True)
class _Limits:
    xlsx_max_bytes: int | None = None  # None: the module's XLSX_MAX_BYTES at call time
    xlsx_max_cells: int | None = None


@dataclass(frozen=True)
class _Guard:
    """How an import may change what the store holds: a table may shrink by at most
    ``max_shrink`` (a share) and no open work order, plan or owner assignment may lose its
    account, unless ``allow_shrink``; with ``merge`` the imported rows update and add to the
    stored ones by key and nothing is removed."""

    max_shrink: float = MAX_SHRINK
    allow_shrink: bool = False
    merge: bool = False


@dataclass
class _Source:
    label: str
    table: str
    frame: pd.DataFrame  # canonical column names, raw cells
    rows: np.ndarray  # 1-based row numbers
    excel: bool
    absent: list[str]  # required columns this source lacks


@dataclass
class _Read:
    frames: dict[str, pd.DataFrame]
    files: dict[str, str]
    problems: list[Problem]
    order: list[str]  # file labels in the order given
    extra_counts: dict[str, int] = field(default_factory=dict)  # problems not listed one by one


def _cell_text(v: Any) -> str:
    """Text of one spreadsheet / parquet cell: ISO dates, integral floats without '.0'."""
    if v is None:
        return ""
    if isinstance(v, str):
        return v.strip()
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (datetime, pd.Timestamp)):
        if pd.isna(v):
            return ""
        if v.time() == time(0) and v.tzinfo is None:
            return v.date().isoformat()
        return v.isoformat(sep=" ")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, (float, np.floating)):
        if np.isnan(v):
            return ""
        if np.isfinite(v) and float(v).is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(float(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (time, timedelta)):
        return str(v)
    try:
        if pd.isna(v):
            return ""
    except (TypeError, ValueError):
        pass
    return str(v).strip()


def _expand(paths: Sequence[str | Path]) -> tuple[list[Path], list[Problem]]:
    files: list[Path] = []
    problems: list[Problem] = []
    for p in [Path(x) for x in paths]:
        if p.is_dir():
            found = sorted(
                f for f in p.iterdir()
                if f.is_file() and f.suffix.lower() in (*_KINDS, ".xls")
                and not f.name.startswith((".", "~$"))
            )
            if not found:
                problems.append(Problem(str(p), "", None, None, None, "empty",
                                        "no .csv, .xlsx or .parquet files in this folder",
                                        message_zh="文件夹中没有 .csv、.xlsx 或 .parquet 文件"))
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            problems.append(Problem(str(p), "", None, None, None, "unreadable", "file not found",
                                    message_zh="找不到文件"))
    seen: set[Path] = set()
    unique = []
    for f in files:  # a file named twice (itself and through its folder) is read once
        if f.resolve() not in seen:
            seen.add(f.resolve())
            unique.append(f)
    return unique, problems


def _line(raw: bytes | str, at: int) -> int:
    """Physical line (1-based) of offset ``at``: the header line is row 1."""
    return raw.count(b"\n" if isinstance(raw, bytes) else "\n", 0, at) + 1


_GB_CLASS: np.ndarray | None = None  # code point -> 0 neutral, 1 common Chinese, 2 unlikely
_GB_CHUNK = 1 << 22  # characters scored at a time


def _gb_class() -> np.ndarray:
    """Code point classes for telling GBK text from other encodings read as GBK: GB2312 (the
    6,763 common simplified characters and its punctuation, full-width forms) is common;
    other CJK ideographs, compatibility ideographs and private-use code points (where the
    bytes of Big5, Shift-JIS and Windows-1252 text mostly land) are unlikely."""
    global _GB_CLASS
    if _GB_CLASS is None:
        t = np.zeros(0x110000, dtype=np.int8)
        t[0x3400:0x4DC0] = 2
        t[0x4E00:0xA000] = 2
        t[0xE000:0xFB00] = 2  # private use, CJK compatibility ideographs
        t[0x2000:0x2070] = 1  # general punctuation
        t[0x3000:0x3040] = 1  # CJK punctuation
        t[0xFF00:0xFFF0] = 1  # full-width forms
        pairs = [bytes((lead, trail)) for lead in range(0xA1, 0xF8) for trail in range(0xA1, 0xFF)]
        for b in pairs:
            try:
                t[ord(b.decode("gb2312"))] = 1
            except UnicodeDecodeError:
                continue
        _GB_CLASS = t
    return _GB_CLASS


def _implausible_gbk(text: str) -> int | None:
    """Offset of the first unlikely character when ``text`` (decoded as GB18030) does not look
    like Chinese text: some unlikely characters and no common ones, or fewer than four common
    characters per unlikely one. None when it looks fine. Vectorised per chunk of 4M chars."""
    table = _gb_class()
    good = rare = 0
    first: int | None = None
    for start in range(0, len(text), _GB_CHUNK):
        cp = np.frombuffer(text[start:start + _GB_CHUNK].encode("utf-32-le"), dtype="<u4")
        k = table[cp]
        good += int(np.count_nonzero(k == 1))
        bad = np.flatnonzero(k == 2)
        rare += len(bad)
        if first is None and len(bad):
            first = start + int(bad[0])
    if rare and (good == 0 or (rare >= 2 and good < 4 * rare)):
        return first
    return None


def _decode(raw: bytes) -> tuple[bytes, str]:
    """UTF-8 bytes of a text file and the encoding it was in (UTF-8, UTF-8 BOM, UTF-16, GB18030).

    Refuses (rule ``encoding``, naming the row) binary data (a NUL byte anywhere), UTF-8 text
    with invalid bytes, bytes that are neither UTF-8 nor GB18030, and text that decodes as
    GB18030 but is not plausibly Chinese (Big5, Shift-JIS, Windows-1252 read as GBK)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16").encode("utf-8"), "utf-16"
        except UnicodeDecodeError:
            pass
    if raw.startswith(b"PK\x03\x04"):
        raise _UnreadableError("this is a zip/Excel workbook, not CSV text: name it .xlsx",
                          "这是 Excel 工作簿（zip），不是 CSV 文本：请使用 .xlsx 扩展名")
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise _UnreadableError("binary data (a NUL byte), not CSV text",
                               "二进制数据（含 NUL 字节），不是 CSV 文本",
                               row=_line(raw, nul), rule="encoding")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
        enc = "utf-8-sig"
    else:
        enc = "utf-8"
    try:
        raw.decode("utf-8")
        return raw, enc
    except UnicodeDecodeError as e:
        utf8_error = e
    # Mostly UTF-8 (at least four valid multi-byte characters per invalid sequence; GBK text
    # read as UTF-8 gives far fewer): a damaged UTF-8 file, not a GBK one.
    loose = raw.decode("utf-8", errors="replace")
    n_bad = loose.count("\ufffd")
    n_ok = len(loose) - len(loose.encode("ascii", errors="ignore")) - n_bad
    if enc == "utf-8-sig" or n_ok >= 4 * n_bad:
        raise _UnreadableError(
            f"invalid UTF-8 (byte 0x{raw[utf8_error.start]:02x}) in a UTF-8 file",
            f"UTF-8 文件中有无效字节（0x{raw[utf8_error.start]:02x}）",
            row=_line(raw, utf8_error.start), rule="encoding")
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError as e:
        raise _UnreadableError(
            "text is neither UTF-8 nor GBK/GB18030: save it as UTF-8",
            "文本编码既不是 UTF-8 也不是 GBK/GB18030：请另存为 UTF-8",
            row=_line(raw, e.start), rule="encoding") from None
    at = _implausible_gbk(text)
    if at is not None:
        others = []
        for name, shown in (("big5", "Big5"), ("shift_jis", "Shift-JIS"),
                            ("cp1252", "Windows-1252")):
            try:
                raw.decode(name)
                others.append(shown)
            except UnicodeDecodeError:
                continue
        maybe = f" (it may be {' or '.join(others)})" if others else ""
        maybe_zh = f"（可能是 {' 或 '.join(others)}）" if others else ""
        raise _UnreadableError(
            f"the text is not UTF-8 and does not read as Chinese GBK/GB18030{maybe}: "
            "save it as UTF-8",
            f"文本不是 UTF-8，按 GBK/GB18030 读出的也不像中文{maybe_zh}：请另存为 UTF-8",
            row=_line(text, at), rule="encoding", value=text[at])
    return text.encode("utf-8"), "gb18030"


def _read_csv(path: Path, label: str
              ) -> tuple[list[str], pd.DataFrame, np.ndarray, list[Problem], int]:
    """Headers, a frame of strings (columns c0..), 1-based row numbers, problems for the first
    rows with the wrong number of fields and how many there are in all."""
    data, _enc = _decode(path.read_bytes())
    blank = re.match(rb"(?:[ \t]*\r?\n)*", data)
    lead = blank.group().count(b"\n") if blank else 0  # blank lines before the header
    data = data[blank.end():] if blank else data
    if not data.strip():
        return [], pd.DataFrame(), np.zeros(0, dtype=np.int64), [], 0
    head = data[:65536].decode("utf-8", errors="ignore")
    first_line = head.split("\n", 1)[0].rstrip("\r")
    hint = re.fullmatch(r"sep=(.)", first_line)  # Excel's "sep=;" first line
    if hint:
        delim = hint.group(1)
        cut = data.find(b"\n")
        data = data[cut + 1:] if cut >= 0 else b""
        lead += 1
        head = data[:65536].decode("utf-8", errors="ignore")
        if not data.strip():
            return [], pd.DataFrame(), np.zeros(0, dtype=np.int64), [], 0
    else:
        delim = max((",", ";", "\t", "|"), key=lambda d: (first_line.count(d), d == ","))
    try:
        header = next(csv.reader(io.StringIO(head), delimiter=delim))
    except (csv.Error, StopIteration) as e:
        raise _UnreadableError(f"cannot read the header: {e}", f"无法读取表头：{e}") from None
    names = [f"c{i}" for i in range(len(header))]
    ragged: list[tuple[str, int, int]] = []

    def on_bad_row(row: Any) -> str:
        if len(ragged) < MAX_PROBLEMS:
            ragged.append((row.text, row.expected_columns, row.actual_columns))
        else:
            ragged.append(("", 0, 0))
        return "skip"

    try:
        tbl = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1,
                                           block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delim, newlines_in_values=True,
                                              invalid_row_handler=on_bad_row),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (pa.ArrowException, ValueError) as e:
        raise _UnreadableError(f"cannot parse as CSV: {e}", f"无法按 CSV 解析：{e}") from None
    problems: list[Problem] = []
    if ragged:
        pos = 0
        for text, expected, actual in ragged[:MAX_PROBLEMS]:
            row = None
            if text:
                at = data.find(text.encode("utf-8"), pos)
                if at >= 0:
                    row = lead + data.count(b"\n", 0, at) + 1
                    pos = at + 1
            if "\n" in text or "\r" in text or text.count('"') % 2:  # a quote left open
                problems.append(Problem(
                    label, "", row, None, text, "quote",
                    f"a quote (\") opened in this row is not closed: it swallows the "
                    f"{text.count(chr(10))} lines after it; close or remove it",
                    message_zh=f"该行的引号（\"）没有闭合，吞掉了其后 {text.count(chr(10))} 行："
                    "请补上或删除该引号"))
                continue
            problems.append(Problem(
                label, "", row, None, text, "unreadable",
                f"this row has {actual} fields but the header has {expected}",
                message_zh=f"该行有 {actual} 个字段，而表头有 {expected} 个"))
    rows = np.arange(2, tbl.num_rows + 2, dtype=np.int64) + lead
    if tbl.num_rows and data.count(b"\n") + (not data.endswith(b"\n")) > tbl.num_rows + 1:
        # more lines than records: blank lines, or quoted values spanning lines
        quoted = _check_multiline(tbl, header, delim, rows, label)
        if quoted is not None:
            rows, found = quoted
            if found:
                return (header, pd.DataFrame(), np.zeros(0, dtype=np.int64), problems + found,
                        len(ragged) + len(found))
    df = tbl.to_pandas()
    return header, df, rows, problems, len(ragged)


_MAX_QUOTE_CHECKS = 1000  # records with line breaks and many delimiters looked at one by one


def _check_multiline(tbl: pa.Table, header: list[str], delim: str, rows: np.ndarray,
                     label: str) -> tuple[np.ndarray, list[Problem]] | None:
    """Row numbers corrected for values spanning lines, and ``quote`` problems for records
    that a stray quote made of several rows. None when no value spans lines.

    A record is refused when every non-blank physical line it spans, read with quotes
    ignored, has at least the header's number of fields: each line is a row of its own,
    merged by a quote that opened a field (``A1,"Port group,...``) and was closed rows
    later, or never meant to open one. A legitimate multi-line note
    (``...,"line 1\nline 2"``) has lines of one or a few fields. Vectorised over the
    records; only records holding at least a row's delimiters inside their cells are looked
    at one by one."""
    ncols = len(header)
    nl: np.ndarray | None = None
    for name in tbl.column_names:
        col = tbl.column(name)
        if pc.any(pc.match_substring(col, "\n")).as_py():
            cnt = pc.count_substring(col, "\n").to_numpy(zero_copy_only=False).astype(np.int64)
            nl = cnt if nl is None else nl + cnt
    if nl is None:
        return None
    before = np.concatenate(([0], np.cumsum(nl)[:-1]))
    rows = rows + before  # a record starts as many lines later as the records before it span
    problems: list[Problem] = []
    if ncols < 2:
        return rows, problems
    multi = np.flatnonzero(nl > 0)
    sub = tbl.take(pa.array(multi))
    delims = np.zeros(len(multi), dtype=np.int64)
    for name in sub.column_names:
        delims += pc.count_substring(sub.column(name), delim).to_numpy(
            zero_copy_only=False).astype(np.int64)
    # two such lines put at least a row's delimiters inside the cells
    suspects = np.flatnonzero(delims >= ncols - 1)[:_MAX_QUOTE_CHECKS]
    if not len(suspects):
        return rows, problems
    cells = sub.take(pa.array(suspects)).to_pylist()
    for k, rec in zip(suspects, cells, strict=True):
        values = [rec[n] or "" for n in sub.column_names]
        lines = [line for line in delim.join(values).replace("\r\n", "\n").split("\n")
                 if line.strip()]  # blank lines (a quote left open at the end) tell nothing
        if len(lines) < 2 or any(line.count(delim) < ncols - 1 for line in lines):
            continue
        j = next(i for i, v in enumerate(values) if "\n" in v)
        n = len(lines) - 1
        problems.append(Problem(
            label, "", int(rows[multi[k]]), header[j] or None, values[j], "quote",
            f"a quoted value starting in this row runs over {n} line break"
            f"{'s' if n > 1 else ''} and holds {n} more row{'s' if n > 1 else ''} of "
            f"{ncols} fields: a quote (\") was probably not meant to open a field, or was "
            "not closed; remove it, or double it (\"\") inside a quoted value",
            message_zh=f"从该行开始的带引号的值跨越了 {n} 个换行，包含了 {n} 行完整的 {ncols} "
            "个字段的数据：引号（\"）可能是误输入或没有闭合；请删除它，或在带引号的值中写成 \"\""))
        if len(problems) >= MAX_PROBLEMS:
            break
    return rows, problems


def _read_parquet(path: Path) -> tuple[list[str], pd.DataFrame, np.ndarray]:
    try:
        fields = list(pq.read_schema(path))
    except Exception as e:  # noqa: BLE001 - any parquet/arrow failure means unreadable
        raise _UnreadableError(f"cannot read as Parquet: {e}",
                               f"无法按 Parquet 读取：{e}") from None
    nested = [f for f in fields if pa.types.is_nested(f.type)
              or (pa.types.is_dictionary(f.type) and pa.types.is_nested(f.type.value_type))]
    if nested:
        shown = ", ".join(f"{f.name} ({f.type})" for f in nested)
        raise _UnreadableError(
            f"nested column{'s' if len(nested) > 1 else ''} {shown}: list, struct and map "
            "columns cannot be imported; flatten them to one plain value per cell",
            f"嵌套列 {shown}：列表（list）、结构（struct）和映射（map）列不能导入；"
            "请展开为每个单元格一个普通值", column=nested[0].name, rule="nested_column")
    try:
        tbl = pq.read_table(path)
        df = tbl.to_pandas(date_as_object=False)
    except Exception as e:  # noqa: BLE001 - any parquet/arrow failure means unreadable
        raise _UnreadableError(f"cannot read as Parquet: {e}",
                               f"无法按 Parquet 读取：{e}") from None
    headers = [str(c) for c in df.columns]
    df.columns = [f"c{i}" for i in range(len(headers))]
    return headers, df, np.arange(1, len(df) + 1, dtype=np.int64)


def _read_sheet(ws: Any) -> tuple[list[str], pd.DataFrame, np.ndarray]:
    """Header (first non-empty row) and cells as text; rows are the sheet's row numbers."""
    header: list[str] | None = None
    data: list[tuple] = []
    rownums: list[int] = []
    for i, row in enumerate(ws.iter_rows(values_only=True), start=1):
        if header is None:
            if row and any(v is not None and str(v).strip() != "" for v in row):
                header = [_cell_text(v) for v in row]
            continue
        if row and any(v is not None for v in row):
            data.append(row)
            rownums.append(i)
    if header is None:
        return [], pd.DataFrame(), np.zeros(0, dtype=np.int64)
    while header and header[-1] == "":
        header.pop()
    cols = {}
    for j in range(len(header)):
        cols[f"c{j}"] = pd.Series([_cell_text(r[j]) if j < len(r) else "" for r in data],
                                  dtype="string")
    return header, pd.DataFrame(cols, index=range(len(data))), np.asarray(rownums, dtype=np.int64)


def _canonical(label: str, table: str, headers: list[str], raw: pd.DataFrame, rows: np.ndarray,
               excel: bool, mapping: _Mapping, problems: list[Problem]) -> _Source:
    """Rename a raw frame's columns to the schema's, noting unknown, duplicate and missing ones."""
    t = schema.table(table)
    lookup = _header_lookup(table, mapping)
    chosen: dict[str, str] = {}  # column -> raw column c<i>
    for i, h in enumerate(headers):
        col = lookup.get(_norm(h))
        if col is None:
            if not h.strip() and (f"c{i}" not in raw or not _text(raw[f"c{i}"]).ne("").any()):
                continue  # an empty column without a header: spreadsheet padding
            shown = h.strip() or f"(column {i + 1}, no header)"
            problems.append(Problem(
                label, table, None, shown, None, "unknown_column",
                f"column {shown!r} is not part of {table}; ignored",
                severity="warning", message_zh=f"列“{shown}”不属于{t.zh}（{table}），已忽略"))
            continue
        if col in chosen:
            first = headers[int(chosen[col][1:])]
            problems.append(Problem(
                label, table, None, col, h, "duplicate_column",
                f"headers {first!r} and {h!r} both mean {col}; keep one",
                message_zh=f"表头“{first}”和“{h}”都对应列 {col}，请只保留一个"))
            continue
        chosen[col] = f"c{i}"
    absent = []
    for c in t.columns:
        if c.required and c.name not in chosen:
            absent.append(c.name)
            problems.append(Problem(
                label, table, None, c.name, None, "missing_column",
                f"required column {c.name} is missing (header {c.name} or {c.zh})",
                message_zh=f"缺少必填列 {c.zh}（{c.name}）"))
    frame = pd.DataFrame({col: raw[src] for col, src in chosen.items()}, index=raw.index)
    if len(frame.columns) and len(frame):
        # Rows with every cell empty (e.g. ",,,," from spreadsheets) are not data rows.
        nonempty = np.zeros(len(frame), dtype=bool)
        for c in frame.columns:
            col = frame[c]
            if pd.api.types.is_string_dtype(col.dtype) or pd.api.types.is_object_dtype(col.dtype):
                text = _text(col)
                if col.dtype == "str":
                    frame[c] = text
                nonempty |= (text != "").to_numpy()
            else:  # typed (Parquet) cells: present unless null
                nonempty |= col.notna().to_numpy()
        if not nonempty.all():
            frame = frame.loc[nonempty]
            rows = rows[nonempty]
    frame = frame.reset_index(drop=True)
    if len(frame) == 0:
        problems.append(Problem(label, table, None, None, None, "empty", "no data rows",
                                message_zh="没有数据行"))
    return _Source(label, table, frame, rows, excel, absent)


def _file_table(path: Path, mapping: _Mapping) -> str | None:
    for key in (_norm(path.name), _norm(path.stem)):
        if key in mapping.files:
            return mapping.files[key]
    return _table_from_name(path.stem)


@dataclass
class RawFile:
    """One data file read as the user wrote it: headers, cells (columns c0..), row numbers."""

    headers: list[str]
    frame: pd.DataFrame
    rows: np.ndarray
    problems: list[Problem]


UnreadableError = _UnreadableError
Source = _Source


def read_raw(path: Path, label: str, *, sheet: str | None = None,
             xlsx_max_bytes: int | None = None, xlsx_max_cells: int | None = None) -> RawFile:
    """Read one CSV, XLSX (``sheet``, default the first) or Parquet file without knowing its
    table. Raises :class:`UnreadableError` (or OSError) when it cannot be read at all (its
    ``rule``, ``row`` and ``column`` say why and where, when known)."""
    kind = _KINDS.get(path.suffix.lower())
    if kind == "csv":
        headers, raw, rows, ragged, _n = _read_csv(path, label)
        return RawFile(headers, raw, rows, ragged)
    if kind == "parquet":
        return RawFile(*_read_parquet(path), [])
    if kind == "xlsx":
        import openpyxl  # noqa: PLC0415 - only needed for workbooks

        _check_workbook_size(path, _Limits(xlsx_max_bytes, xlsx_max_cells))
        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as e:  # noqa: BLE001 - zip/xml errors of all kinds
            raise _UnreadableError(f"cannot open as an Excel workbook: {e}",
                                   f"无法作为 Excel 工作簿打开：{e}") from None
        try:
            names = wb.sheetnames
            if sheet is not None and sheet not in names:
                raise _UnreadableError(
                    f"no sheet {sheet!r} (sheets: {', '.join(names)})",
                    f"没有工作表“{sheet}”（现有：{'、'.join(names)}）")
            if not names:
                raise _UnreadableError("no sheets", "没有工作表")
            return RawFile(*_read_sheet(wb[sheet or names[0]]), [])
        finally:
            wb.close()
    raise _UnreadableError(f"unsupported file type {path.suffix or '(none)'}",
                           f"不支持的文件类型 {path.suffix or '（无）'}")


def canonical(label: str, table: str, headers: list[str], raw: pd.DataFrame, rows: np.ndarray,
              excel: bool, mapping: _Mapping, problems: list[Problem]) -> _Source:
    """A raw frame renamed to the schema's columns (see :func:`read_files`)."""
    return _canonical(label, table, headers, raw, rows, excel, mapping, problems)


def combine(sources: list[_Source]) -> dict[str, pd.DataFrame]:
    """One raw frame per table from several sources, with the hidden origin columns."""
    return _combine(sources)


def empty_mapping() -> _Mapping:
    return _Mapping()


def table_from_name(name: str) -> str | None:
    """The fact table called ``name`` (English or Chinese), or None."""
    return _table_from_name(name)


def accepted_tables() -> str:
    return _accepted_tables()


def _unknown_table(label: str, name: str) -> Problem:
    app = _APP_NAMES.get(_norm(name))
    if app:
        en = f"{app} is kept by the app and cannot be imported"
        zh = f"{app} 由应用维护，不能导入"
    else:
        en = (f"cannot tell which table {name!r} is: name it after a table "
              f"({_accepted_tables()}) or map it in a mapping file")
        zh = (f"无法识别“{name}”是哪张表：请用表名命名文件或工作表（{_accepted_tables()}），"
              "或在映射文件中指定")
    return Problem(label, "", None, None, None, "unknown_table", en, message_zh=zh)


def _read(paths: Sequence[str | Path], mapping: _Mapping, limits: _Limits = _Limits()
          ) -> _Read:
    files, problems = _expand(paths)
    problems = list(mapping.problems) + problems
    order: list[str] = [p.file for p in problems]
    sources: list[_Source] = []
    labels: dict[str, str] = {}
    extra: dict[str, int] = {}
    for path in files:
        kind = _KINDS.get(path.suffix.lower())
        label = path.name
        k = 1
        while label in order:  # two files of the same name (from different folders)
            k += 1
            label = f"{path.stem} ({k}){path.suffix}"
        order.append(label)
        if kind is None:
            problems.append(Problem(
                label, "", None, None, None, "unreadable",
                f"unsupported file type {path.suffix or '(none)'}: use .csv, .xlsx or .parquet"
                + (" (save the .xls workbook as .xlsx)" if path.suffix.lower() == ".xls" else ""),
                message_zh=f"不支持的文件类型 {path.suffix or '（无）'}："
                "请使用 .csv、.xlsx 或 .parquet"))
            continue
        if kind == "xlsx":
            sources.extend(_read_workbook(path, label, mapping, problems, labels, order,
                                          limits))
            continue
        table = _file_table(path, mapping)
        if table is None:
            problems.append(_unknown_table(label, path.stem))
            continue
        try:
            if kind == "csv":
                headers, raw, rows, ragged, n_ragged = _read_csv(path, label)
                lookup = _header_lookup(table, mapping) if ragged else {}
                for p in ragged:
                    col = lookup.get(_norm(p.column), p.column) if p.column else None
                    problems.append(Problem(p.file, table, p.row, col, p.value, p.rule,
                                            p.message, message_zh=p.message_zh))
                if n_ragged > len(ragged):
                    extra["unreadable"] = extra.get("unreadable", 0) + n_ragged - len(ragged)
                if n_ragged:
                    continue
            else:
                headers, raw, rows = _read_parquet(path)
        except _UnreadableError as e:
            problems.append(Problem(label, table, e.row, e.column, e.value, e.rule, e.en,
                                    message_zh=e.zh))
            continue
        except OSError as e:
            problems.append(Problem(label, table, None, None, None, "unreadable", str(e),
                                    message_zh=f"无法读取：{e}"))
            continue
        if not headers:
            problems.append(Problem(label, table, None, None, None, "empty",
                                    "the file is empty (no header, no data)",
                                    message_zh="文件为空（没有表头和数据）"))
            continue
        labels[label] = table
        sources.append(_canonical(label, table, headers, raw, rows, False, mapping, problems))
    frames = _combine(sources)
    return _Read(frames, labels, problems, list(dict.fromkeys(order)), extra)


_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\b[^>]*?\bref=[\"']([A-Za-z]*)(\d*)"
                        rb"(?::([A-Za-z]*)(\d*))?[\"']")


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


def _check_workbook_size(path: Path, limits: _Limits) -> None:
    """Refuse (``too_large``) a workbook whose sheets are too big before parsing them: the zip
    directory's uncompressed sizes of the worksheet XML and shared strings, and the cells each
    sheet declares (``<dimension ref="A1:Z100"/>``, read from the first 8 KiB of the sheet).
    Costs a directory read and a few KiB of inflating, whatever the workbook holds."""
    import zipfile  # noqa: PLC0415

    max_bytes = XLSX_MAX_BYTES if limits.xlsx_max_bytes is None else limits.xlsx_max_bytes
    max_cells = XLSX_MAX_CELLS if limits.xlsx_max_cells is None else limits.xlsx_max_cells
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # not a zip: openpyxl says so
    with zf:
        parts = [i for i in zf.infolist()
                 if i.filename.startswith("xl/worksheets/") and i.filename.endswith(".xml")
                 or i.filename == "xl/sharedStrings.xml"]
        size = sum(i.file_size for i in parts)
        if size > max_bytes:
            raise _UnreadableError(
                f"the workbook's sheets are {size / 1e6:,.0f} MB uncompressed, more than the "
                f"{max_bytes / 1e6:,.0f} MB allowed: split it or save it as CSV",
                f"工作簿的工作表解压后共 {size / 1e6:,.0f} MB，超过上限 {max_bytes / 1e6:,.0f} MB："
                "请拆分或另存为 CSV", rule="too_large")
        cells = 0
        for info in parts:
            if not info.filename.startswith("xl/worksheets/"):
                continue
            try:
                with zf.open(info) as f:
                    head = f.read(8192)
            except Exception:  # noqa: BLE001, S112 - a damaged part: openpyxl reports it
                continue
            m = _DIMENSION.search(head)
            if not m:
                continue
            c1, r1, c2, r2 = m.groups()
            if c2 is None and r2 is None:
                c2, r2 = c1, r1
            n_rows = abs(int(r2 or 1048576) - int(r1 or 1)) + 1
            n_cols = abs(_col_number(c2 or b"XFD") - _col_number(c1 or b"A")) + 1
            cells += n_rows * n_cols
        if cells > max_cells:
            raise _UnreadableError(
                f"the workbook's sheets declare {cells:,} cells, more than the {max_cells:,} "
                "allowed: split it or save it as CSV",
                f"工作簿的工作表声明了 {cells:,} 个单元格，超过上限 {max_cells:,}："
                "请拆分或另存为 CSV",
                rule="too_large")


def _read_workbook(path: Path, name: str, mapping: _Mapping, problems: list[Problem],
                   labels: dict[str, str], order: list[str], limits: _Limits = _Limits()
                   ) -> list[_Source]:
    import openpyxl  # noqa: PLC0415 - only needed for workbooks

    try:
        _check_workbook_size(path, limits)
    except _UnreadableError as e:
        problems.append(Problem(name, "", None, None, None, e.rule, e.en, message_zh=e.zh))
        return []
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # noqa: BLE001 - zip/xml errors of all kinds
        problems.append(Problem(name, "", None, None, None, "unreadable",
                                f"cannot open as an Excel workbook: {e}",
                                message_zh=f"无法作为 Excel 工作簿打开：{e}"))
        return []
    try:
        sheets = list(wb.worksheets)
        if not sheets:
            problems.append(Problem(name, "", None, None, None, "empty", "no sheets",
                                    message_zh="没有工作表"))
            return []
        named = []
        for ws in sheets:
            t = mapping.sheets.get(_norm(ws.title)) or _table_from_name(ws.title)
            named.append((ws, t))
        if not any(t for _, t in named):
            t = _file_table(path, mapping)
            if t is None:
                problems.append(_unknown_table(name, path.stem))
                return []
            named = [(sheets[0], t)] + [(ws, None) for ws in sheets[1:]]
        out = []
        for ws, table in named:
            label = name if len(sheets) == 1 else f"{name}[{ws.title}]"
            order.append(label)
            if table is None:
                problems.append(Problem(
                    label, "", None, None, None, "ignored_sheet",
                    f"sheet {ws.title!r} is not a table; ignored", severity="warning",
                    message_zh=f"工作表“{ws.title}”不是可导入的表，已忽略"))
                continue
            try:
                headers, raw, rows = _read_sheet(ws)
            except Exception as e:  # noqa: BLE001 - malformed sheet xml
                problems.append(Problem(label, table, None, None, None, "unreadable",
                                        f"cannot read sheet: {e}",
                                        message_zh=f"无法读取工作表：{e}"))
                continue
            if not headers:
                problems.append(Problem(label, table, None, None, None, "empty",
                                        "the sheet is empty (no header, no data)",
                                        message_zh="工作表为空（没有表头和数据）"))
                continue
            labels[label] = table
            out.append(_canonical(label, table, headers, raw, rows, True, mapping, problems))
        return out
    finally:
        wb.close()


def _combine(sources: list[_Source]) -> dict[str, pd.DataFrame]:
    """One raw frame per table, rows in file order, with the hidden origin columns."""
    by_table: dict[str, list[_Source]] = {}
    for s in sources:
        by_table.setdefault(s.table, []).append(s)
    frames: dict[str, pd.DataFrame] = {}
    for table, srcs in by_table.items():
        parts = []
        absent: dict[str, list[str]] = {}
        for s in srcs:
            f = s.frame.copy()
            f[FILE_COL] = s.label
            f[ROW_COL] = s.rows
            f[EXCEL_COL] = s.excel
            parts.append(f)
            for c in s.absent:
                absent.setdefault(c, []).append(s.label)
        df = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
        df.attrs[_ABSENT_ATTR] = absent
        frames[table] = df
    return frames


def read_files(
    paths: Sequence[str | Path], *, mapping: Mapping | None = None,
    xlsx_max_bytes: int | None = None, xlsx_max_cells: int | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, str], list[Problem]]:
    """Read files (and the data files directly inside given folders).

    Returns raw frames keyed by table (schema column names, cells as read, plus the hidden
    columns ``__file__``, ``__row__`` and ``__excel__``), file label -> table, and the problems
    met while reading (including non-blocking ``unknown_column`` notes).
    """
    r = _read(paths, _resolve_mapping(mapping), _Limits(xlsx_max_bytes, xlsx_max_cells))
    return r.frames, r.files, r.problems


# ---------------------------------------------------------------------------------------------
# Parsing whole columns
# ---------------------------------------------------------------------------------------------
def _text(r: pd.Series) -> pd.Series:
    """Stripped text of every cell ('' when missing) as a ``str`` Series."""
    missing = r.isna().to_numpy()
    dt = r.dtype
    if isinstance(dt, pd.CategoricalDtype):
        r = r.astype(object)
        dt = r.dtype
    if pd.api.types.is_bool_dtype(dt):
        out = r.map({True: "true", False: "false"}).astype("string")
    elif pd.api.types.is_datetime64_any_dtype(dt):
        s = r.dt.tz_localize(None) if getattr(r.dt, "tz", None) is not None else r
        timed = bool((s.dropna() != s.dropna().dt.normalize()).any())
        out = s.dt.strftime("%Y-%m-%d %H:%M:%S" if timed else "%Y-%m-%d").astype("string")
    elif pd.api.types.is_float_dtype(dt):
        v = r.to_numpy(dtype="float64", na_value=np.nan)
        integral = np.isfinite(v) & (np.abs(v) < 1e15) & (v == np.floor(v))
        out = r.astype("string")
        if integral.any():
            ints = pd.Series(np.where(integral, v, 0).astype(np.int64), index=r.index).astype("string")
            out = out.where(~integral, ints)
    elif pd.api.types.is_numeric_dtype(dt):
        out = r.astype("string")
    elif pd.api.types.is_object_dtype(dt):
        kind = pd.api.types.infer_dtype(r, skipna=True)
        out = r.astype("string") if kind in ("string", "empty") else r.map(
            _cell_text, na_action="ignore").astype("string")
    else:
        out = r.astype("string")
    # astype("string") spells a missing object cell "None" and a missing float "nan"
    return out.where(~missing, "").fillna("").str.strip()


def _map_unique(t: pd.Series, fn: Callable[[str], Any]) -> np.ndarray:
    """``fn`` applied once per distinct value of ``t``, spread back to every row (object array)."""
    codes, uniq = pd.factorize(t)
    mapped = np.empty(len(uniq) + 1, dtype=object)
    mapped[:-1] = [fn(u) for u in uniq]
    mapped[-1] = None
    return mapped[codes]


def _parse_number(r: pd.Series, missing: np.ndarray, t: pd.Series | None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """float64 values (NaN when missing or bad) and the mask of bad (non-numeric) cells."""
    dt = r.dtype
    if pd.api.types.is_numeric_dtype(dt) and not pd.api.types.is_bool_dtype(dt):
        v = r.to_numpy(dtype="float64", na_value=np.nan)
    else:
        assert t is not None
        if t.str.contains(",", regex=False).any():
            thousands = t.str.fullmatch(_THOUSANDS).fillna(False).to_numpy(dtype=bool)
            t = t.where(~thousands, t.str.replace(",", "", regex=False))
        arr = pa.array(t.mask(missing), type=pa.string(), from_pandas=True)
        try:
            v = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            v = pd.to_numeric(t.mask(missing), errors="coerce").to_numpy(
                dtype="float64", na_value=np.nan)
        v = np.asarray(v, dtype="float64")
    bad = ~missing & ~np.isfinite(v)
    v = np.where(bad | missing, np.nan, v)
    return v, bad


def _parse_bool(r: pd.Series, missing: np.ndarray, t: pd.Series | None
                ) -> tuple[np.ndarray, np.ndarray]:
    if t is None:
        v = r.to_numpy(dtype=bool, na_value=False)
        return v, np.zeros(len(r), dtype=bool)

    def one(u: str) -> Any:
        return _BOOLS.get(unicodedata.normalize("NFKC", u).lower())

    mapped = _map_unique(t, one)
    bad = ~missing & pd.isna(mapped)
    return np.where(bad | missing, False, mapped).astype(bool), bad


def _parse_date_strings(uniq: Sequence[str], month: bool) -> np.ndarray:
    """datetime64[us] per distinct string (NaT when not a date) — vectorised over the uniques."""
    s = pd.Series([unicodedata.normalize("NFKC", u) for u in uniq], dtype=object)
    y = pd.Series(np.nan, index=s.index)
    m = y.copy()
    d = y.copy()
    patterns = _DATE_PATTERNS + (_MONTH_PATTERNS if month else ())
    for pat in patterns:
        todo = y.isna()
        if not todo.any():
            break
        ex = s[todo].str.extract(pat)
        ok = ex["y"].notna()
        if not ok.any():
            continue
        if "H" in ex:  # a time part: refuse 25:00, 12:61, +99:99 rather than ignore them
            n = ex[["H", "M", "S", "zh", "zm"]].astype(float)
            wrong = ((n["H"] > 23) | (n["M"] > 59) | (n["S"] > 59) | (n["zh"] > 14)
                     | (n["zm"] > 59))
            ok &= ~wrong
            if not ok.any():
                continue
        idx = ex.index[ok]
        y[idx] = ex.loc[ok, "y"].astype(float)
        m[idx] = ex.loc[ok, "m"].astype(float)
        d[idx] = ex.loc[ok, "d"].astype(float) if "d" in ex else 1.0
    parts = pd.DataFrame({"year": y, "month": m, "day": d})
    out = pd.to_datetime(parts, errors="coerce") if len(parts) else pd.Series([], dtype="M8[us]")
    return np.asarray(out, dtype="datetime64[us]")


def _parse_date(r: pd.Series, missing: np.ndarray, t: pd.Series | None, excel: np.ndarray,
                month: bool) -> tuple[np.ndarray, np.ndarray]:
    """datetime64[us] day values (NaT when missing/bad) and the mask of bad cells."""
    if pd.api.types.is_datetime64_any_dtype(r.dtype):
        s = r
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_localize(None)
        v = np.asarray(s.dt.floor("D"), dtype="datetime64[us]")
        bad = np.zeros(len(r), dtype=bool)
    else:
        assert t is not None
        codes, uniq = pd.factorize(t)
        uniq_list = [str(u) for u in uniq]
        parsed = _parse_date_strings(uniq_list, month)
        if excel.any():
            # Excel serial day numbers (cells not formatted as dates): 45352 -> 2024-03-01
            us = pd.Series(uniq_list, dtype=object)
            is_serial = us.str.fullmatch(_SERIAL).fillna(False).to_numpy(dtype=bool, copy=True)
            num = pd.to_numeric(us.where(is_serial), errors="coerce").to_numpy(dtype="float64")
            is_serial &= (num >= 1) & (num < 2958466)
            serial = np.full(len(uniq_list), np.datetime64("NaT"), dtype="datetime64[us]")
            if is_serial.any():
                days = np.floor(num[is_serial]).astype(np.int64)
                serial[is_serial] = (np.datetime64("1899-12-30", "D") + days).astype(
                    "datetime64[us]")
            pv = parsed[codes]
            sv = serial[codes]
            v = np.where(excel & np.isnat(pv), sv, pv)
        else:
            v = parsed[codes]
        bad = ~missing & np.isnat(v)
        v = np.where(missing | bad, np.datetime64("NaT"), v).astype("datetime64[us]")
    if month:
        v = v.astype("datetime64[M]").astype("datetime64[us]")
    return v, bad


def _enum_lookup(enum: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for code, (en, zh) in schema.ENUMS[enum].items():
        out[_norm(en)] = code
        out[unicodedata.normalize("NFKC", zh).strip()] = code
    for code in schema.ENUMS[enum]:
        out[_norm(code)] = code
    return out


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------
Formatter = Callable[[int], tuple[str | None, str, str]]  # position -> value, message, message_zh


@dataclass
class _Batch:
    table: str
    column: str | None
    rule: str
    pos: np.ndarray  # positions (in table order) with the problem
    fmt: Formatter
    severity: str = "error"


class _Ctx:
    """One table being validated: its raw frame, where rows came from, parsed columns."""

    def __init__(self, name: str, raw: pd.DataFrame, labels: list[str]) -> None:
        self.name = name
        self.t = schema.table(name)
        self.raw = raw.reset_index(drop=True)
        n = len(self.raw)
        self.n = n
        if FILE_COL in raw:
            fl = self.raw[FILE_COL].astype(str).to_numpy()
        else:
            fl = np.full(n, labels[0] if labels else name, dtype=object)
        codes, uniq = pd.factorize(fl)
        self.file_labels = [str(u) for u in uniq]
        self.file_codes = codes
        self.rows = (self.raw[ROW_COL].to_numpy(dtype=np.int64) if ROW_COL in raw
                     else np.arange(1, n + 1, dtype=np.int64))
        self.excel = (self.raw[EXCEL_COL].to_numpy(dtype=bool) if EXCEL_COL in raw
                      else np.zeros(n, dtype=bool))
        self.absent: dict[str, list[str]] = dict(raw.attrs.get(_ABSENT_ATTR, {}))
        self.values: dict[str, Any] = {}  # column -> parsed values (numpy / pandas array)
        self.missing: dict[str, np.ndarray] = {}
        self.bad: dict[str, np.ndarray] = {}
        self.texts: dict[str, pd.Series] = {}
        self._series: dict[str, pd.Series] = {}

    @property
    def first_label(self) -> str:
        return self.file_labels[0] if self.file_labels else self.name

    def cell(self, column: str, pos: int) -> str:
        if column in self.texts:
            return str(self.texts[column].iloc[pos])
        if column in self.raw:
            return _cell_text(self.raw[column].iloc[pos])
        return ""

    def where(self, pos: int, lang: str = "en") -> str:
        label = self.file_labels[self.file_codes[pos]]
        return f"{label} 第{self.rows[pos]}行" if lang == "zh" else f"{label} row {self.rows[pos]}"

    def skip_mask(self, column: str) -> np.ndarray:
        labels = self.absent.get(column)
        if not labels:
            return np.zeros(self.n, dtype=bool)
        idx = [i for i, lab in enumerate(self.file_labels) if lab in labels]
        return np.isin(self.file_codes, idx)

    def series(self, column: str) -> pd.Series:
        """Parsed column as a pandas Series of the store's dtype (null where missing or bad)."""
        s = self._series.get(column)
        if s is None:
            s = self._series[column] = self._build(column)
        return s

    def _build(self, column: str) -> pd.Series:
        c = self.t.column(column)
        v = self.values.get(column)
        null = self.missing[column] | self.bad[column]
        if c.dtype == "str":
            s = v if isinstance(v, pd.Series) else pd.Series(v, dtype="string")
            s = s.astype("string").reset_index(drop=True)
            return s.mask(null) if null.any() else s
        if c.dtype == "int":
            data = np.where(null, 0, np.nan_to_num(v)).astype(np.int64)
            return pd.Series(pd.arrays.IntegerArray(data, null.copy()))
        if c.dtype == "float":
            return pd.Series(np.where(null, np.nan, v), dtype="float64")
        if c.dtype == "bool":
            return pd.Series(pd.arrays.BooleanArray(np.where(null, False, v).astype(bool),
                                                    null.copy()))
        return pd.Series(np.where(null, np.datetime64("NaT"), v).astype("datetime64[us]"))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({c: self.series(c) for c in self.t.names})


def _fmt_value(ctx: _Ctx, column: str, en: str, zh: str) -> Formatter:
    return lambda p: (ctx.cell(column, p), en, zh)


def _num(x: float | None) -> str:
    return "" if x is None else (str(int(x)) if float(x).is_integer() else str(x))


def _nulls(dtype: str, n: int) -> Any:
    """Parsed values of an absent column."""
    if dtype == "str":
        return pd.Series(np.full(n, np.nan), dtype="string")
    if dtype == "bool":
        return np.zeros(n, dtype=bool)
    if dtype == "date":
        return np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
    return np.full(n, np.nan)


def _parse_table(ctx: _Ctx, out: list[_Batch], fixed: list[Problem]) -> None:
    t = ctx.t
    for c in t.columns:
        name = c.name
        n = ctx.n
        if name not in ctx.raw.columns:
            if c.required and name not in ctx.absent:
                fixed.append(Problem(ctx.first_label, t.name, None, name, None, "missing_column",
                                     f"required column {name} is missing (header {name} or {c.zh})",
                                     message_zh=f"缺少必填列 {c.zh}（{name}）"))
            ctx.values[name] = _nulls(c.dtype, n)
            ctx.missing[name] = np.ones(n, dtype=bool)
            ctx.bad[name] = np.zeros(n, dtype=bool)
            continue
        r = ctx.raw[name]
        is_bool = pd.api.types.is_bool_dtype(r.dtype)
        is_num = pd.api.types.is_numeric_dtype(r.dtype) and not is_bool
        typed = (
            (is_num and c.dtype in ("int", "float"))
            or (is_bool and c.dtype == "bool")
            or (pd.api.types.is_datetime64_any_dtype(r.dtype) and c.dtype == "date"))
        if typed:
            missing = r.isna().to_numpy(dtype=bool)
            text = None
        else:
            text = _text(r)
            ctx.texts[name] = text
            missing = (text == "").to_numpy(dtype=bool)
        bad = np.zeros(n, dtype=bool)
        skip = ctx.skip_mask(name)
        if c.required:
            req = missing & ~skip
            if req.any():
                out.append(_Batch(t.name, name, "required", np.flatnonzero(req),
                                  lambda p: (None, "required value is empty", "必填项为空")))
        if c.dtype == "str":
            assert text is not None
            if c.enum:
                lookup = _enum_lookup(c.enum)
                mapped = _map_unique(text, lambda u, lk=lookup: lk.get(_norm(u)) or lk.get(u))
                bad = ~missing & pd.isna(mapped)
                codes = ", ".join(schema.ENUMS[c.enum])
                if bad.any():
                    out.append(_Batch(t.name, name, "enum", np.flatnonzero(bad), _fmt_value(
                        ctx, name, f"not one of {codes}",
                        f"不是可接受的值（{codes}，或对应的中文/英文名称）")))
                values: Any = pd.Series(np.where(missing | bad, None, mapped), dtype="string")
            else:
                values = text
        elif c.dtype in ("int", "float"):
            values, bad = _parse_number(r, missing, text)
            if c.dtype == "int":
                ok = ~missing & ~bad
                not_int = ok & ((values != np.floor(values)) | (np.abs(values) > 2**53))
                not_int = np.where(ok, not_int, False)
                if bad.any() or not_int.any():
                    out.append(_Batch(t.name, name, "type", np.flatnonzero(bad | not_int),
                                      _fmt_value(ctx, name, "not a whole number", "不是整数")))
                bad = bad | not_int
            elif bad.any():
                out.append(_Batch(t.name, name, "type", np.flatnonzero(bad),
                                  _fmt_value(ctx, name, "not a number", "不是数字")))
            ok = ~missing & ~bad
            if c.min is not None:
                low = ok & (np.nan_to_num(values, nan=c.min) < c.min)
                if low.any():
                    out.append(_Batch(t.name, name, "min", np.flatnonzero(low), _fmt_value(
                        ctx, name, f"less than the minimum {_num(c.min)}",
                        f"小于最小值 {_num(c.min)}")))
            if c.max is not None:
                high = ok & (np.nan_to_num(values, nan=c.max) > c.max)
                if high.any():
                    out.append(_Batch(t.name, name, "max", np.flatnonzero(high), _fmt_value(
                        ctx, name, f"more than the maximum {_num(c.max)}",
                        f"大于最大值 {_num(c.max)}")))
        elif c.dtype == "bool":
            values, bad = _parse_bool(r, missing, text)
            if bad.any():
                out.append(_Batch(t.name, name, "type", np.flatnonzero(bad), _fmt_value(
                    ctx, name, "not a yes/no value (use true/false, 1/0, yes/no or 是/否)",
                    "不是“是/否”值（可用 true/false、1/0、yes/no、是/否）")))
        elif c.dtype == "date":
            month = (t.name, name) in _MONTH_COLUMNS
            values, bad = _parse_date(r, missing, text, ctx.excel, month)
            if bad.any():
                if month:
                    en, zh = ("not a month (use 2024-03 or 2024-03-01)",
                              "不是月份（可用 2024-03 或 2024-03-01）")
                else:
                    en, zh = ("not a date (use 2024-03-01, 2024/3/1, 20240301 or 2024年3月1日)",
                              "不是日期（可用 2024-03-01、2024/3/1、20240301 或 2024年3月1日）")
                out.append(_Batch(t.name, name, "type", np.flatnonzero(bad),
                                  _fmt_value(ctx, name, en, zh)))
        else:  # pragma: no cover - schema dtypes are fixed
            raise ValueError(f"unknown dtype {c.dtype}")
        ctx.values[name] = values
        ctx.missing[name] = missing
        ctx.bad[name] = bad


def _ok(ctx: _Ctx, cols: Iterable[str]) -> np.ndarray:
    m = np.ones(ctx.n, dtype=bool)
    for c in cols:
        m &= ~ctx.missing[c] & ~ctx.bad[c]
    return m


def _check_rows(ctx: _Ctx, out: list[_Batch]) -> None:
    """Business rules, unique key and date order of one table."""
    t = ctx.t
    if t.name == "users":
        needs = _ok(ctx, ["role"]) & ctx.series("role").isin(_ROLES_NEEDING_TEAM).to_numpy(bool)
        lacking = needs & ctx.missing["team_id"]
        if lacking.any():
            out.append(_Batch(t.name, "team_id", "required", np.flatnonzero(lacking), lambda p: (
                None, "required for account managers and sales leads",
                "客户经理和销售主管必须填写团队编号")))
    if t.name == "accounts":
        both = _ok(ctx, ["account_id", "parent_account_id"])
        same = ctx.series("account_id") == ctx.series("parent_account_id")
        own = both & same.fillna(False).to_numpy(dtype=bool)
        if own.any():
            out.append(_Batch(t.name, "parent_account_id", "reference", np.flatnonzero(own),
                              _fmt_value(ctx, "parent_account_id",
                                         "an account cannot be its own parent",
                                         "客户的上级客户不能是它自己")))
        cycles = _parent_cycles(ctx.series("account_id"), ctx.series("parent_account_id"),
                                both & ~own)
        if cycles:
            cycle_of = {p: c for c in cycles for p in c}

            def fmt_cycle(p: int, cycle_of: dict = cycle_of) -> tuple:
                c = cycle_of[p]
                chain = _chain([ctx.cell("account_id", q) for q in c])
                rows_en = ", ".join(ctx.where(q) for q in c[:_CYCLE_SHOWN])
                rows_zh = "、".join(ctx.where(q, "zh") for q in c[:_CYCLE_SHOWN])
                return (ctx.cell("parent_account_id", p),
                        f"parent accounts form a cycle {chain} ({rows_en}): group roll-ups would "
                        "count these accounts twice; give one of them no parent or another one",
                        f"上级客户形成循环 {chain}（{rows_zh}）：集团汇总会重复计算这些客户；"
                        "请去掉其中一个的上级客户或改为其他客户")

            out.append(_Batch(t.name, "parent_account_id", "parent_cycle",
                              np.array(sorted(cycle_of), dtype=np.int64), fmt_cycle))
    if t.key and all(k in ctx.values for k in t.key):
        complete = _ok(ctx, t.key)
        pos = np.flatnonzero(complete)
        if len(pos) > 1:
            keys = pd.DataFrame({k: ctx.series(k).take(pos).reset_index(drop=True)
                                 for k in t.key})
            dup = keys.duplicated(keep="first").to_numpy()
            if dup.any():
                keys["_pos"] = pos
                first = keys.groupby(list(t.key), sort=False, dropna=False)["_pos"].transform(
                    "first").to_numpy()
                first_of = dict(zip(pos[dup], first[dup], strict=True))
                cols = ", ".join(t.key)

                def fmt(p: int, first_of: dict = first_of, cols: str = cols) -> tuple:
                    vals = ", ".join(ctx.cell(k, p) for k in t.key)
                    f = int(first_of[p])
                    return (vals, f"duplicate key ({cols}) = ({vals}); first at {ctx.where(f)}",
                            f"主键（{cols}）=（{vals}）重复；首次出现在 {ctx.where(f, 'zh')}")

                out.append(_Batch(t.name, t.key[-1] if len(t.key) == 1 else ", ".join(t.key),
                                  "duplicate_key", pos[dup], fmt))
    for order in t.date_orders:
        both = _ok(ctx, [order.earlier, order.later])
        before = both & (ctx.values[order.later] < ctx.values[order.earlier])
        if before.any():
            e, lt = order.earlier, order.later
            ez, lz = t.column(e).zh, t.column(lt).zh
            out.append(_Batch(t.name, lt, "date_order", np.flatnonzero(before), lambda p, e=e,
                              lt=lt, ez=ez, lz=lz: (
                ctx.cell(lt, p), f"{lt} is before {e} {ctx.cell(e, p)}",
                f"{lz}早于{ez} {ctx.cell(e, p)}")))


_CYCLE_SHOWN = 10  # accounts of a cycle named in its message


def _parent_cycles(ids: pd.Series, parents: pd.Series,
                   linked: np.ndarray | None = None) -> list[list[int]]:
    """The cycles of the parent links ``ids[i] -> parents[i]`` (rows where ``linked``), as lists
    of positions, each starting at its first row in table order and following the links. An
    id given twice counts at its first row (the duplicate is reported on its own)."""
    ids = ids.reset_index(drop=True)
    parents = parents.reset_index(drop=True)
    if linked is None:
        linked = (ids.notna() & parents.notna()).to_numpy(dtype=bool)
    pos = np.flatnonzero(linked)
    if len(pos) == 0:
        return []
    first = pd.Series(np.arange(len(ids)), index=ids.astype("string")).groupby(level=0).first()
    target = pd.Index(first.index).get_indexer(parents.take(pos).astype("string"))
    target = np.where(target >= 0, first.to_numpy()[np.maximum(target, 0)], -1)
    # The links as a function on positions, a sink (position n) for rows without a parent among
    # the rows. Following it n steps (by repeated squaring) lands every row on a cycle or in
    # the sink, and each cycle maps onto itself: the rows reached are the rows on cycles.
    n = len(ids)
    step = np.full(n + 1, n, dtype=np.int64)
    step[pos] = target
    step[step < 0] = n
    reach = step.copy()
    for _ in range(max(int(n).bit_length(), 1)):
        reach = reach[reach]
    on_cycle = np.unique(reach[reach < n])
    cycles: list[list[int]] = []
    left = set(on_cycle.tolist())
    for start in on_cycle.tolist():  # rows on cycles only: each is an error to report
        if start not in left:
            continue
        c = [start]
        node = int(step[start])
        while node != start:
            c.append(node)
            node = int(step[node])
        left.difference_update(c)
        cycles.append(c)
    return sorted(cycles)


def _chain(names: list[str]) -> str:
    shown = names[:_CYCLE_SHOWN]
    more = f" -> ... ({len(names) - _CYCLE_SHOWN} more)" if len(names) > _CYCLE_SHOWN else ""
    return " -> ".join([*shown]) + more + " -> " + names[0]


def _check_merged_cycles(report: ImportReport) -> None:
    """A merge keeps stored accounts: the imported parents may close a cycle through them."""
    frame = report.frames.get("accounts")
    if frame is None:
        return
    ids = frame["account_id"].astype("string")
    cycles = _parent_cycles(ids, frame["parent_account_id"].astype("string"))
    if not cycles:
        return
    label = next((f for f, tb in report.files.items() if tb == "accounts"), "accounts")
    stops = []
    for c in cycles:
        chain = _chain([str(ids.iloc[q]) for q in c])
        stops.append(Problem(
            label, "accounts", None, "parent_account_id", chain, "parent_cycle",
            f"with the accounts kept in the database, parent accounts form a cycle {chain}: "
            "group roll-ups would count these accounts twice; give one of them no parent or "
            "another one", message_zh=f"与数据库中保留的客户一起，上级客户形成循环 {chain}："
            "集团汇总会重复计算这些客户；请去掉其中一个的上级客户或改为其他客户"))
    report.ok = False
    report.problems = stops + report.problems
    report.counts["parent_cycle"] = report.counts.get("parent_cycle", 0) + len(stops)
    report.frames = {}


def _joined(cols: Sequence[pd.Series]) -> pd.Series:
    s = cols[0].astype("string")
    for c in cols[1:]:
        s = s.str.cat(c.astype("string"), sep="\x1f")
    return s


def _check_refs(ctxs: dict[str, _Ctx], existing: Store | None, failed: set[str],
                out: list[_Batch], fixed: list[Problem], merge: bool = False) -> None:
    for ctx in ctxs.values():
        t = ctx.t
        flagged: dict[str, np.ndarray] = {}  # column -> rows already failing a reference
        for ref in sorted(t.refs, key=lambda r: len(r.columns)):
            if not all(c in ctx.values for c in ref.columns):
                continue
            rows = _ok(ctx, ref.columns)
            for c in ref.columns:
                rows &= ~flagged.get(c, np.zeros(ctx.n, dtype=bool))
            if not rows.any():
                continue
            target = _ref_target(ref, ctxs, existing, failed)
            if merge and existing is not None and ref.table in ctxs and target is not None:
                kept = _ref_target(ref, {}, existing, failed)
                if kept is not None and kept is not _MISSING:
                    target = target.union(kept)
            if ref.soft and target is None and ref.table not in failed:
                n = int(rows.sum())
                fixed.append(Problem(
                    ctx.first_label, t.name, None, ref.columns[-1], None, "unassigned",
                    f"{ref.table} is neither in this import nor in the database: the {n:,} "
                    f"rows' {', '.join(ref.columns)} cannot be matched, and the {t.name} land in "
                    "the unassigned pool until their owners are imported or assigned",
                    severity="warning",
                    message_zh=f"本次导入和数据库中都没有{schema.table(ref.table).zh}"
                    f"（{ref.table}）：{n:,} 行的 {', '.join(ref.columns)} 无法对照，"
                    "这些记录进入未分配池，直到导入其负责人或由主管分配"))
                continue
            if target is _MISSING and not (ref.extra and _joined(
                    [ctx.series(c)[rows].reset_index(drop=True) for c in ref.columns]
            ).isin(list(ref.extra)).all()):
                rt = schema.table(ref.table)
                fixed.append(Problem(
                    ctx.first_label, t.name, None, ref.columns[-1], None, "reference",
                    f"{t.name} refers to {ref.table}, which is neither in this import nor in the "
                    f"database: import {ref.table} with it",
                    message_zh=f"{t.zh}（{t.name}）引用{rt.zh}（{ref.table}），但本次导入和数据库"
                    f"中都没有该表：请一并导入 {ref.table}"))
                continue
            if target is _MISSING:
                continue
            if target is None:
                if ref.table not in ctxs and ref.table not in failed:
                    fixed.append(Problem(
                        ctx.first_label, t.name, None, ref.columns[-1], None,
                        "reference_unchecked",
                        f"{', '.join(ref.columns)} not checked against {ref.table}: it is neither "
                        "in this import nor in a database", severity="warning",
                        message_zh=f"{', '.join(ref.columns)} 未对照 {ref.table} 检查："
                        "本次导入和数据库中都没有该表"))
                continue
            pos = np.flatnonzero(rows)
            src = _joined([ctx.series(c).iloc[pos].reset_index(drop=True) for c in ref.columns])
            found = src.isin(target).to_numpy(dtype=bool, copy=True)
            if ref.extra:
                found |= src.isin(list(ref.extra)).to_numpy(dtype=bool)
            miss = pos[~found]
            if len(miss) == 0:
                continue
            mask = np.zeros(ctx.n, dtype=bool)
            mask[miss] = True
            rt = schema.table(ref.table)
            if ref.soft:
                column = ref.columns[-1]
                out.append(_Batch(t.name, column, "unassigned", miss, _fmt_value(
                    ctx, column, f"not a user in {rt.name}: the account is unassigned until a "
                    "sales lead or admin assigns it",
                    f"{rt.zh}表中没有此工号：该客户进入未分配池，由销售主管或管理员分配"),
                    severity="warning"))
                continue
            for c in ref.columns:
                flagged[c] = flagged.get(c, np.zeros(ctx.n, dtype=bool)) | mask
            cols = ", ".join(ref.ref_columns)
            extra = f" (or {', '.join(ref.extra)})" if ref.extra else ""
            extra_zh = f"（或 {', '.join(ref.extra)}）" if ref.extra else ""
            column = ref.columns[-1]

            def fmt(p: int, ctx: _Ctx = ctx, ref: Any = ref, cols: str = cols, rt: Any = rt,
                    extra: str = extra, extra_zh: str = extra_zh, column: str = column) -> tuple:
                vals = ", ".join(ctx.cell(c, p) for c in ref.columns)
                shown = vals if len(ref.columns) == 1 else f"({vals})"
                return (ctx.cell(column, p),
                        f"{shown} not found in {rt.name}.{cols}{extra}" if len(ref.columns) == 1
                        else f"({', '.join(ref.columns)}) = {shown} not found in "
                             f"{rt.name} ({cols}){extra}",
                        f"在{rt.zh}（{rt.name}）的 {cols} 中找不到 {shown}{extra_zh}")

            out.append(_Batch(t.name, column, "reference", miss, fmt))


_MISSING = pd.Index([], dtype="string")  # the referenced table is nowhere: one problem, not one per row


def _ref_target(ref: schema.Ref, ctxs: dict[str, _Ctx], existing: Store | None,
                failed: set[str]) -> pd.Index | None:
    """The referenced values, from this import if the table is in it, else from the store
    (``_MISSING`` when the store's table is empty too; None when it cannot be told)."""
    if ref.table in failed:
        return None  # unreadable in this import: cannot tell
    if ref.table in ctxs:
        tc = ctxs[ref.table]
        if any(c in tc.absent or c not in tc.raw.columns for c in ref.ref_columns):
            return None
        ok = _ok(tc, ref.ref_columns)
        vals = _joined([tc.series(c)[ok].reset_index(drop=True) for c in ref.ref_columns])
        return pd.Index(vals.unique())
    if existing is None:
        return None
    if int(existing.scalar(f'SELECT count(*) FROM "{ref.table}"')) == 0:
        return None if ref.soft else _MISSING
    cols = ", ".join(f'"{c}"' for c in ref.ref_columns)
    not_null = " AND ".join(f'"{c}" IS NOT NULL' for c in ref.ref_columns)
    df = existing.query(f'SELECT DISTINCT {cols} FROM "{ref.table}" WHERE {not_null}')
    if len(df) == 0:
        return pd.Index([], dtype="string")
    return pd.Index(_joined([df[c] for c in ref.ref_columns]).unique())


def _check_orphans(ctxs: dict[str, _Ctx], existing: Store | None, failed: set[str],
                   fixed: list[Problem]) -> None:
    """Warn when tables left in the store would point at rows this import removes."""
    if existing is None:
        return
    for t in schema.FACT_TABLES:
        if t.name in ctxs:
            continue
        for ref in t.refs:
            if ref.table not in ctxs:
                continue
            target = _ref_target(ref, ctxs, None, failed)
            if target is None:
                continue
            cols = ", ".join(f'"{c}"' for c in ref.columns)
            not_null = " AND ".join(f'"{c}" IS NOT NULL' for c in ref.columns)
            df = existing.query(f'SELECT {cols}, count(*) AS n FROM "{t.name}" WHERE {not_null} '
                                f"GROUP BY {cols}")
            if len(df) == 0:
                continue
            keys = _joined([df[c] for c in ref.columns])
            lost = ~keys.isin(target) & ~keys.isin(list(ref.extra))
            if not lost.any():
                continue
            n = int(df.loc[lost.to_numpy(), "n"].sum())
            examples = ", ".join(keys[lost].head(5).str.replace("\x1f", "/").tolist())
            rt = schema.table(ref.table)
            fixed.append(Problem(
                ctxs[ref.table].first_label, ref.table, None, ref.ref_columns[-1], examples,
                "orphan",
                f"{n:,} rows of {t.name} in the database refer to {', '.join(ref.ref_columns)} "
                f"values not in the imported {ref.table} (e.g. {examples}); import {t.name} too",
                severity="warning",
                message_zh=f"数据库中 {t.zh}（{t.name}）有 {n:,} 行引用的 "
                f"{', '.join(ref.ref_columns)} 不在本次导入的{rt.zh}中（例如 {examples}）；"
                f"请一并导入 {t.name}"))


def _guard(report: ImportReport, store: Store, max_shrink: float) -> None:
    """Stop an import that would shrink a stored table by more than ``max_shrink`` or leave
    app-owned rows (open work orders, plans, owner assignments) without their account."""
    stops: list[Problem] = []
    for name, after in report.tables.items():
        before = int(store.scalar(f'SELECT count(*) FROM "{name}"'))
        if before > 0 and (before - after) / before > max_shrink:
            t = schema.table(name)
            stops.append(Problem(
                next((f for f, tb in report.files.items() if tb == name), name), name, None,
                None, f"{before} -> {after}", "shrink",
                f"{name} would go from {before:,} rows to {after:,} ({after / before - 1:+.0%}), "
                f"more than the {max_shrink:.0%} an import may remove: check the file; to "
                "replace the table anyway import with --allow-shrink (or confirm on the Import "
                "page); to update and add rows of a partial file use --merge",
                message_zh=f"{t.zh}（{name}）将从 {before:,} 行变为 {after:,} 行"
                f"（{after / before - 1:+.0%}），超过一次导入允许删除的 {max_shrink:.0%}："
                "请检查文件；确需替换请加 --allow-shrink（或在导入页确认）；"
                "若只是部分数据，请用 --merge 按主键更新和新增"))
    frame = report.frames.get("accounts")
    if frame is not None:
        kept = pd.DataFrame({"account_id": frame["account_id"].astype(str)})
        lost = {name: int(store.query(
            f'SELECT count(*) AS n FROM "{name}" WHERE account_id NOT IN '
            f"(SELECT account_id FROM _kept){cond}", frames={"_kept": kept})["n"].iloc[0])
            for name, cond in (("work_orders", " AND status NOT IN "
                                "('retained', 'lost', 'false_alarm')"),
                               ("plans", " AND status NOT IN ('done', 'dropped')"),
                               ("account_assignments", ""), ("contact_log", ""))}
        lost = {k: v for k, v in lost.items() if v}
        if lost:
            what = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in lost.items())
            stops.append(Problem(
                next((f for f, tb in report.files.items() if tb == "accounts"), "accounts"),
                "accounts", None, "account_id", None, "app_orphans",
                f"{what} written in the app would point at accounts this import removes: "
                "import every account, use --merge for a partial file, or --allow-shrink to "
                "go ahead (nothing written in the app is deleted)",
                message_zh=f"应用中已有的 {what} 将指向本次导入删除的客户：请导入全部客户，"
                "部分数据请用 --merge，确需继续请加 --allow-shrink（应用中写入的内容不会被删除）"))
    if stops:
        report.ok = False
        report.problems = stops + report.problems
        for p in stops:
            report.counts[p.rule] = report.counts.get(p.rule, 0) + 1
        report.frames = {}


def _merge_into(report: ImportReport, store: Store) -> None:
    """Add to each imported table the stored rows whose key the import does not hold; note
    how many rows were updated, added and kept."""
    for name, new in list(report.frames.items()):
        t = schema.table(name)
        old = store.read_table(name)
        if not t.key or old.empty:
            continue
        k_new, k_old = _key_text(new, t.key), _key_text(old, t.key)
        stored = k_old.isin(set(k_new)).to_numpy()
        kept = old.loc[~stored]
        updated = int(stored.sum())
        report.frames[name] = pd.concat([new, kept], ignore_index=True)
        report.tables[name] = len(report.frames[name])
        report.warnings.append(Problem(
            name, name, None, None, None, "merge",
            f"merged by {', '.join(t.key)}: {updated:,} rows updated, {len(new) - updated:,} "
            f"added, {len(kept):,} kept from the database", severity="warning",
            message_zh=f"按 {', '.join(t.key)} 合并：更新 {updated:,} 行，新增 "
            f"{len(new) - updated:,} 行，保留数据库中 {len(kept):,} 行"))
        report.warning_counts["merge"] = report.warning_counts.get("merge", 0) + 1


def _key_text(df: pd.DataFrame, key: Sequence[str]) -> pd.Series:
    """A table's key as one text per row, alike for imported and stored frames."""
    parts = []
    for k in key:
        col = df[k]
        if pd.api.types.is_datetime64_any_dtype(col.dtype):
            parts.append(pd.to_datetime(col).dt.strftime("%Y-%m-%d"))
        elif col.dtype == object and len(col) and isinstance(col.dropna().iloc[0]
                                                              if col.notna().any() else None,
                                                              (date, datetime)):
            parts.append(pd.to_datetime(col).dt.strftime("%Y-%m-%d"))
        else:
            parts.append(col.astype("string"))
    return _joined(parts).reset_index(drop=True)


def _note_unowned(ctxs: dict[str, _Ctx], fixed: list[Problem]) -> None:
    """One note for accounts without an owner: they land in the unassigned pool."""
    ctx = ctxs.get("accounts")
    if ctx is None or "owner_id" not in ctx.missing:
        return
    n = int(ctx.missing["owner_id"].sum())
    if n:
        fixed.append(Problem(
            ctx.first_label, "accounts", None, "owner_id", None, "unassigned",
            f"{n:,} accounts have no owner: they land in the unassigned pool, which sales leads "
            "and admins see and assign", severity="warning",
            message_zh=f"{n:,} 个客户没有客户经理：进入未分配池，由销售主管和管理员查看并分配"))


def _select(batches: list[_Batch], fixed: list[Problem], ctxs: dict[str, _Ctx],
            order: Mapping[str, int], severity: str) -> tuple[list[Problem], dict[str, int]]:
    """First MAX_PROBLEMS problems in (file, row) order and the count per rule of all."""
    counts: dict[str, int] = {}
    cands: list[tuple[tuple, Any]] = []
    big = len(order) + 1
    for i, p in enumerate(fixed):
        if p.severity != severity:
            continue
        counts[p.rule] = counts.get(p.rule, 0) + 1
        cands.append(((order.get(p.file, big), p.row or 0, i, 0), p))
    for bi, b in enumerate(batches):
        if b.severity != severity or len(b.pos) == 0:
            continue
        counts[b.rule] = counts.get(b.rule, 0) + len(b.pos)
        ctx = ctxs[b.table]
        col_idx = ctx.t.names.index(b.column) if b.column in ctx.t.names else len(ctx.t.names)
        for p in b.pos[:MAX_PROBLEMS]:
            label = ctx.file_labels[ctx.file_codes[p]]
            key = (order.get(label, big), int(ctx.rows[p]), len(fixed) + col_idx,
                   _RULE_ORDER.get(b.rule, 99), bi)
            cands.append((key, (b, int(p))))
    cands.sort(key=lambda kv: kv[0])
    problems: list[Problem] = []
    for _, item in cands[:MAX_PROBLEMS]:
        if isinstance(item, Problem):
            problems.append(item)
            continue
        b, p = item
        ctx = ctxs[b.table]
        value, en, zh = b.fmt(p)
        problems.append(Problem(ctx.file_labels[ctx.file_codes[p]], b.table, int(ctx.rows[p]),
                                b.column, value, b.rule, en, b.severity, zh))
    return problems, counts


def validate(
    frames: Mapping[str, pd.DataFrame],
    files: Mapping[str, str] | None = None,
    *,
    existing: Store | None = None,
    problems: Sequence[Problem] = (),
    order: Sequence[str] | None = None,
    extra_counts: Mapping[str, int] | None = None,
    merge: bool = False,
) -> ImportReport:
    """Parse and check raw frames (as from :func:`read_files`, or any frames with schema column
    names); ``problems`` are those met while reading. References to tables not in ``frames`` are
    checked against ``existing`` (with ``merge``, references to an imported table also find
    the rows ``existing`` keeps). The report's ``frames`` hold the typed frames to load."""
    files = dict(files or {})
    frames = {(_table_from_name(k) or k): v for k, v in frames.items()}
    if order is None:
        order = list(dict.fromkeys([p.file for p in problems] + list(files)))
    order_idx = {lab: i for i, lab in enumerate(order)}
    fixed: list[Problem] = list(problems)
    labels_of: dict[str, list[str]] = {}
    for lab, tb in files.items():
        labels_of.setdefault(tb, []).append(lab)
    ctxs: dict[str, _Ctx] = {}
    for name in schema.fact_load_order():
        if name in frames:
            ctxs[name] = _Ctx(name, frames[name], labels_of.get(name, [f"{name}"]))
    for name in frames:
        if name not in ctxs:
            fixed.append(_unknown_table(name, name))
    failed = {p.table for p in fixed if p.rule in ("unreadable", "empty") and p.table}
    batches: list[_Batch] = []
    for ctx in ctxs.values():
        _parse_table(ctx, batches, fixed)
    for ctx in ctxs.values():
        _check_rows(ctx, batches)
    _check_refs(ctxs, existing, failed, batches, fixed, merge)
    if not merge:  # a merge removes nothing: nothing is orphaned
        _check_orphans(ctxs, existing, failed, fixed)
    _note_unowned(ctxs, fixed)
    errors, counts = _select(batches, fixed, ctxs, order_idx, "error")
    for rule, n in (extra_counts or {}).items():
        counts[rule] = counts.get(rule, 0) + n
    warns, wcounts = _select(batches, fixed, ctxs, order_idx, "warning")
    ok = not counts and bool(ctxs)
    if not ctxs and not counts:
        counts = {"empty": 1}
        errors = [Problem("", "", None, None, None, "empty", "nothing to import",
                          message_zh="没有可导入的数据")]
    tables = {name: ctx.n for name, ctx in ctxs.items()}
    out_frames = {name: ctx.frame() for name, ctx in ctxs.items()} if ok else {}
    return ImportReport(ok=ok, tables=tables, problems=errors, counts=counts, files=files,
                        warnings=warns, warning_counts=wcounts, frames=out_frames)


# ---------------------------------------------------------------------------------------------
# Import
# ---------------------------------------------------------------------------------------------
def import_files(
    store: Store | None,
    paths: Sequence[str | Path] | str | Path = (),
    *,
    mapping_path: str | Path | None = None,
    mapping: Mapping | None = None,
    transform: str | Path | None = None,
    dry_run: bool = False,
    user: str = "import",
    xlsx_max_bytes: int | None = None,
    xlsx_max_cells: int | None = None,
    max_shrink: float = MAX_SHRINK,
    allow_shrink: bool = False,
    merge: bool = False,
) -> ImportReport:
    """Read, validate and (when valid, not a dry run and a store is given) load the files.

    All or nothing: with any blocking problem, in any file, the store is left exactly as it
    was. Never raises for bad data; the report says what is wrong. ``mapping`` entries win
    over those of ``mapping_path``. With ``transform`` (a SQL file of views, see
    :mod:`valuation.transform`) the tables come from its views over the files beside it, and
    ``paths`` may add plain table files. ``xlsx_max_bytes`` / ``xlsx_max_cells`` override
    :data:`XLSX_MAX_BYTES` / :data:`XLSX_MAX_CELLS` for the workbooks read.

    An import replaces the tables it holds. One that would shrink a stored table by more than
    ``max_shrink``, or leave open work orders, plans or owner assignments without their
    account, stops with the counts before and after (``shrink`` / ``app_orphans``) unless
    ``allow_shrink``. With ``merge`` the imported rows update the stored ones of the same key
    and add the others; no stored row is removed (for partial files)."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    t = None
    if transform is not None:
        from valuation.transform import read_transform  # noqa: PLC0415 - transform imports us

        t = read_transform(transform)
    return _import(store, paths, _resolve_mapping(mapping_path, mapping), dry_run, user, t,
                   _Limits(xlsx_max_bytes, xlsx_max_cells),
                   _Guard(max_shrink, allow_shrink, merge))


def _import(store: Store | None, paths: Sequence[str | Path], m: _Mapping, dry_run: bool,
            user: str, transform: Any = None, limits: _Limits = _Limits(),
            guard: _Guard = _Guard()) -> ImportReport:
    if any(p.blocking for p in m.problems):  # a broken mapping: say so, not what follows from it
        return validate({}, {}, problems=m.problems, order=[p.file for p in m.problems])
    r = (_read(paths, m, limits) if paths or transform is None
         else _Read({}, {}, list(m.problems), []))
    source_parts = list(r.files)
    if transform is not None:
        from valuation.transform import run_transform  # noqa: PLC0415

        tr = run_transform(transform)
        clash = sorted(set(tr.frames) & set(r.frames))
        if clash:
            tr.problems.append(Problem(
                transform.label, clash[0], None, None, None, "transform",
                f"{', '.join(clash)} come both from the transform and from files; give each "
                "table once", message_zh=f"{', '.join(clash)} 既来自转换脚本又来自文件；每张表只能给一次"))
        r = _Read({**r.frames, **tr.frames}, {**r.files, **tr.files}, r.problems + tr.problems,
                  r.order + tr.order, r.extra_counts)
        source_parts = [transform.label, *tr.inputs, *source_parts]
    report = validate(r.frames, r.files, existing=store, problems=r.problems, order=r.order,
                      extra_counts=r.extra_counts, merge=guard.merge and store is not None)
    report.dry_run = dry_run
    if report.ok and store is not None:
        if guard.merge:
            _merge_into(report, store)
            _check_merged_cycles(report)
        elif not guard.allow_shrink:
            _guard(report, store, guard.max_shrink)
    if report.ok and not dry_run and store is not None:
        source = ", ".join(dict.fromkeys(source_parts)) or ", ".join(str(p) for p in paths)
        if len(source) > 500:
            source = source[:497] + "..."
        real_users = "users" in report.frames
        report.data_version = store.replace_facts(report.frames, source=source, user=user)
        report.frames = {}  # landed: the store has them; do not keep millions of rows around
        if real_users:
            _retire_demo(report, store, user)
    return report


def _retire_demo(report: ImportReport, store: Store, user: str) -> None:
    """Real users arrived: the demo's known passwords stop working; the report says so."""
    from valuation.demo import retire_demo_sign_ins  # noqa: PLC0415 - demo is heavy

    gone = retire_demo_sign_ins(store, by=user)
    if not gone:
        return
    who = ", ".join(gone)
    report.warnings.append(Problem(
        "users", "users", None, None, who, "demo_sign_ins",
        f"the demo passwords of {who} were removed (this is no longer a demo database); "
        "set real passwords with `valuation passwd USER` before anyone signs in",
        severity="warning",
        message_zh=f"已删除 {who} 的演示口令（此数据库不再是演示库）；请先用 "
        "`valuation passwd 工号` 设置真实口令，再让用户登录"))
    report.warning_counts["demo_sign_ins"] = report.warning_counts.get("demo_sign_ins", 0) + 1


def import_uploads(
    store: Store | None,
    uploads: Sequence[tuple[str, bytes]],
    *,
    dry_run: bool,
    user: str,
    mapping: Mapping | str | Path | bytes | None = None,
    xlsx_max_bytes: int | None = None,
    xlsx_max_cells: int | None = None,
    max_shrink: float = MAX_SHRINK,
    allow_shrink: bool = False,
    merge: bool = False,
) -> ImportReport:
    """Same as :func:`import_files` for files uploaded in the browser as (name, content).

    An uploaded ``*.toml`` file is taken as a mapping file; ``mapping`` (a dict, a path or
    TOML bytes) wins over it. An uploaded ``*.sql`` file is a transform: it runs sandboxed
    (DuckDB reads no file, extension or setting of the server) over the other uploads, which
    it names as ``"file.csv"``; uploads it does not name are imported as table files."""
    with tempfile.TemporaryDirectory(prefix="valuation-upload-") as tmp:
        paths: list[Path] = []
        tomls: list[bytes] = []
        sqls: list[tuple[str, bytes]] = []
        by_name: dict[str, Path] = {}
        for i, (name, content) in enumerate(uploads):
            base = Path(str(name).replace("\\", "/")).name or f"upload{i}"
            if base.lower().endswith(".toml"):
                tomls.append(bytes(content))
                continue
            if base.lower().endswith(".sql"):
                sqls.append((base, bytes(content)))
                continue
            folder = Path(tmp) / f"{i:04d}"  # own folder: two uploads may share a name
            folder.mkdir()
            path = folder / base
            path.write_bytes(bytes(content))
            paths.append(path)
            by_name.setdefault(base, path)
        m = _resolve_mapping(*tomls, mapping)
        if len(sqls) > 1:
            m.problems.append(Problem(sqls[1][0], "", None, None, None, "transform",
                                      "upload one transform (.sql) at a time",
                                      message_zh="每次只能上传一个转换脚本（.sql）"))
        transform = None
        if sqls:
            from valuation.transform import Transform  # noqa: PLC0415

            label, raw = sqls[0]
            transform = Transform(sql=raw.decode("utf-8-sig", errors="replace"), label=label,
                                  files=by_name, sandbox=True)
            named = set(_quoted_names(transform.sql))
            paths = [p for p in paths if p.name not in named
                     and p.name.split("/")[0] not in named]
        return _import(store, paths, m, dry_run, user, transform,
                       _Limits(xlsx_max_bytes, xlsx_max_cells),
                       _Guard(max_shrink, allow_shrink, merge))


def _quoted_names(sql: str) -> list[str]:
    """Double-quoted identifiers of a SQL text, with an xlsx sheet suffix cut off."""
    return [n.replace('""', '"').split("/")[0] if ".xls" in n.lower() else n.replace('""', '"')
            for n in re.findall(r'"((?:[^"]|"")+)"', sql)]


# ---------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------
def export_tables(
    store: Store,
    out_dir: str | Path,
    *,
    fmt: str = "csv",
    tables: Sequence[str] | None = None,
    bom: bool = False,
) -> list[Path]:
    """Write one file per fact table into ``out_dir``; return the paths written.

    ``csv``: UTF-8 (with a BOM if ``bom``, which Excel likes), English headers, ISO dates,
    booleans true/false, empty for null. ``parquet``: typed columns (dates as date32).
    ``xlsx``: a sheet named after the table, continued on ``<table>_2``... past Excel's
    1,048,575 data rows. Without ``tables``, every fact table that has rows is written (an
    empty file would be refused on import); tables named explicitly are always written.
    """
    fmt = fmt.lower().lstrip(".")
    if fmt not in ("csv", "parquet", "xlsx"):
        raise ValueError(f"unknown export format {fmt!r}: use csv, parquet or xlsx")
    if tables is None:
        names = [n for n in schema.fact_load_order()
                 if int(store.scalar(f'SELECT count(*) FROM "{n}"')) > 0]
    else:
        names = []
        for n in tables:
            t = _table_from_name(n)
            if t is None:
                raise ValueError(f"{n!r} is not a fact table; use one of {_accepted_tables()}")
            names.append(t)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        path = out / f"{name}.{fmt}"
        if fmt == "xlsx":
            _write_xlsx(name, store.read_table(name), path)
        else:
            _copy_out(store, name, path, fmt, bom)
        written.append(path)
    return written


def _copy_out(store: Store, name: str, path: Path, fmt: str, bom: bool) -> None:
    """CSV / Parquet straight from DuckDB (fast, no pandas): rows in key order, the schema's
    columns; CSV with ISO dates, true/false, empty for null, shortest round-trip floats."""
    t = schema.table(name)
    cols = ", ".join(f'"{c}"' for c in t.names)
    order = ", ".join(f'"{c}"' for c in t.key) if t.key else "1"
    target = path if not bom else path.with_name(path.name + ".tmp")
    quoted = str(target).replace("'", "''")
    options = "(FORMAT CSV, HEADER, DELIMITER ',')" if fmt == "csv" else "(FORMAT PARQUET)"
    cur = store.cursor()
    try:
        cur.execute(f'COPY (SELECT {cols} FROM "{name}" ORDER BY {order}) TO \'{quoted}\' '
                    f"{options}")
    finally:
        cur.close()
    if bom:
        with open(path, "wb") as dst, open(target, "rb") as src:
            dst.write(b"\xef\xbb\xbf")
            shutil.copyfileobj(src, dst, 1 << 20)
        target.unlink()


def _write_xlsx(name: str, df: pd.DataFrame, path: Path) -> None:
    import openpyxl  # noqa: PLC0415
    from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # noqa: PLC0415

    t = schema.table(name)
    cols = []
    for c in t.columns:
        s = df[c.name]
        if c.dtype == "date":
            d = pd.to_datetime(s)
            vals = [None if pd.isna(x) else x.date() for x in d]
        elif c.dtype == "int":
            vals = [None if pd.isna(x) else int(x) for x in s]
        elif c.dtype == "float":
            vals = [None if pd.isna(x) else float(x) for x in s]
        elif c.dtype == "bool":
            vals = [None if pd.isna(x) else bool(x) for x in s]
        else:  # control characters are not allowed in xlsx cells: dropped
            vals = [None if pd.isna(x) else ILLEGAL_CHARACTERS_RE.sub("", str(x)) for x in s]
        cols.append(vals)
    wb = openpyxl.Workbook(write_only=True)
    probe = wb.create_sheet("_probe")
    # text that would read as a formula ("=cmd|...") is written as a text cell: the export
    # keeps the exact value, a spreadsheet runs nothing, and the file imports back the same
    for vals in cols:
        for i, v in enumerate(vals):
            if isinstance(v, str) and v.startswith(("=", "+", "-", "@")):
                cell = WriteOnlyCell(probe, value=v)
                cell.data_type = "s"
                vals[i] = cell
    wb.remove(probe)
    n = len(df)
    chunks = max(1, -(-n // EXCEL_MAX_ROWS))
    for k in range(chunks):
        ws = wb.create_sheet(name if k == 0 else f"{name}_{k + 1}")
        ws.append(list(t.names))
        lo, hi = k * EXCEL_MAX_ROWS, min(n, (k + 1) * EXCEL_MAX_ROWS)
        for row in zip(*(c[lo:hi] for c in cols), strict=True):
            ws.append(list(row))
    wb.save(path)
