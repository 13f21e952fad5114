"""Cells a spreadsheet would run as formulas, made inert in files meant for people to open."""

from __future__ import annotations

import io
from datetime import date, datetime

import numpy as np
import pandas as pd

__all__ = ["FORMULA_START", "XLSX_ROWS", "escape_formulas", "is_formula_like", "to_xlsx"]

# A cell starting with one of these is read as a formula (or a DDE command) by Excel, WPS and
# LibreOffice: OWASP's CSV-injection list.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(values: pd.Series) -> pd.Series:
    """True for the text cells a spreadsheet would evaluate."""
    text = values.astype("string")
    return text.str.startswith(FORMULA_START).fillna(False).astype(bool)


def escape_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells starting with ``= + - @``, tab or CR are prefixed with
    a single quote, as OWASP recommends for CSV downloads: the spreadsheet shows the text and
    runs nothing. Numbers are left alone (a negative number is not text)."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if not (pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype)):
            continue
        risky = s.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_START)).astype(bool)
        if risky.any():
            out[col] = s.where(~risky, "'" + s.astype("string"))
    return out


XLSX_ROWS = 1_048_575
"""Data rows a worksheet holds (Excel's 1,048,576 rows, less the header)."""

_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]"  # what no XLSX cell may hold
_CELL_CHARS = 32_767  # the most characters an Excel cell holds
_CHUNK = 50_000  # rows turned into XML at a time
_EPOCH = pd.Timestamp("1899-12-30")  # day 0 of a spreadsheet's date serials
# cellXfs of the workbook's styles: 0 general, 1 date, 2 date and time, 3 text with the quote
# prefix, 4 bold (the header), 5 bold with the quote prefix
_DATE, _DATETIME, _QUOTED, _BOLD, _BOLD_QUOTED = 1, 2, 3, 4, 5


def to_xlsx(df: pd.DataFrame, *, sheet: str = "data") -> bytes:
    """``df`` as a one-sheet workbook for people: the header row as it is (bold, frozen),
    numbers, booleans and dates as such, missing values as empty cells, at most
    :data:`XLSX_ROWS` rows.

    Text is written as text. A workbook, unlike CSV, says which cells are formulas (none
    here), so text a spreadsheet would run (:data:`FORMULA_START`) is made inert without
    changing it: a string cell with Excel's quote prefix (what typing ``'=1+1`` does), shown
    as ``=1+1`` by Excel, WPS and LibreOffice and run by none, also after an edit. Characters
    no cell may hold (control characters but tab and line breaks) are dropped, text beyond a
    cell's 32,767 characters cut.

    The sheet's XML is built column by column with whole-column string operations, a chunk
    of rows at a time (a province's table is a million rows), and streamed into the file."""
    import zipfile

    table = df.head(XLSX_ROWS)
    letters = [_column_letter(j) for j in range(table.shape[1])]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, xml in _XLSX_PARTS.items():
            z.writestr(name, xml.replace("{sheet}", _xml_text(_sheet_title(sheet))))
        with z.open("xl/worksheets/sheet1.xml", "w") as f:
            f.write(_SHEET_HEAD.encode())
            f.write(_columns_xml(table).encode())
            f.write(b"<sheetData>")
            head = pd.Series([str(c) for c in table.columns], dtype=object)
            f.write(_rows_xml([_cells(head.iloc[[j]].reset_index(drop=True), letters[j],
                                      np.array(["1"], dtype=object), header=True)
                               for j in range(len(head))], np.array(["1"], dtype=object)))
            for lo in range(0, len(table), _CHUNK):  # a chunk of rows at a time
                part = table.iloc[lo:lo + _CHUNK]
                rows = (np.arange(lo, lo + len(part)) + 2).astype(str).astype(object)
                f.write(_rows_xml([_cells(part.iloc[:, j].reset_index(drop=True), letters[j],
                                          rows) for j in range(part.shape[1])], rows))
            f.write(b"</sheetData></worksheet>")
    return buf.getvalue()


def _column_letter(j: int) -> str:
    out = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        out = chr(65 + r) + out
    return out


def _sheet_title(name: str) -> str:
    import re

    return (re.sub(r"[\[\]:*?/\\]", "_", str(name)).strip("'") or "data")[:31]


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace(
        '"', "&quot;")


def _clean(text: pd.Series) -> pd.Series:
    """Text made fit for a cell and escaped for XML (whole column)."""
    t = text.astype(str).str.replace(_CONTROL, "", regex=True).str.slice(0, _CELL_CHARS)
    return (t.str.replace("&", "&amp;", regex=False).str.replace("<", "&lt;", regex=False)
            .str.replace(">", "&gt;", regex=False))


def _rows_xml(cells: list[np.ndarray], rows: np.ndarray) -> bytes:
    line = '<row r="' + rows + '">'
    for c in cells:  # a column at a time
        line = line + c
    return "".join((line + "</row>").tolist()).encode()


def _cells(s: pd.Series, letter: str, rows: np.ndarray, *, header: bool = False) -> np.ndarray:
    """The XML of one column's cells (rows ``rows``): "" for a missing value."""
    ref = '<c r="' + letter + rows + '"'
    n = len(s)
    kind = np.full(n, "", dtype=object)  # the value's XML, by type
    if pd.api.types.is_bool_dtype(s.dtype):
        ok = s.notna().to_numpy()
        out = np.where(ok, ref + ' t="b"><v>' + np.where(s.fillna(False).to_numpy(bool), "1",
                                                         "0").astype(object) + "</v></c>", "")
        return out.astype(object)
    if pd.api.types.is_numeric_dtype(s.dtype):
        return _numbers(pd.to_numeric(s, errors="coerce").astype("float64"), ref,
                        pd.api.types.is_integer_dtype(s.dtype))
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return _dates(s, ref)
    values = s.astype(object)
    is_text = values.map(lambda v: isinstance(v, str)).to_numpy(bool)
    is_bool = values.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(bool)
    is_date = values.map(lambda v: isinstance(v, (date, datetime))).to_numpy(bool)
    rest = ~(is_text | is_bool | is_date) & values.notna().to_numpy(bool)
    num = pd.to_numeric(values[rest], errors="coerce").astype("float64")
    odd = np.zeros(n, dtype=bool)
    odd[np.flatnonzero(rest)[num.isna().to_numpy()]] = True  # neither number nor text: as text
    is_text, rest = is_text | odd, rest & ~odd
    if is_text.any():
        text = values[is_text].map(str)
        quoted = text.str.startswith(FORMULA_START).to_numpy(bool)
        style = np.where(quoted, f' s="{_BOLD_QUOTED if header else _QUOTED}"',
                         f' s="{_BOLD}"' if header else "").astype(object)
        kind[is_text] = (ref[is_text] + style + ' t="inlineStr"><is><t xml:space="preserve">'
                         + _clean(text).to_numpy(object) + "</t></is></c>")
    if is_bool.any():
        kind[is_bool] = (ref[is_bool] + ' t="b"><v>'
                         + np.where(values[is_bool].astype(bool).to_numpy(), "1", "0").astype(
                             object) + "</v></c>")
    if is_date.any():
        kind[is_date] = _dates(pd.to_datetime(values[is_date].map(pd.Timestamp)).reset_index(
            drop=True), ref[is_date])
    if rest.any():
        kind[rest] = _numbers(num[~num.isna()].reset_index(drop=True), ref[rest], False)
    return kind


def _numbers(x: pd.Series, ref: np.ndarray, integer: bool) -> np.ndarray:
    v = x.to_numpy("float64")
    ok = np.isfinite(v)
    shown = _text(np.where(ok, v, 0).astype(np.int64) if integer else np.where(ok, v, 0))
    return np.where(ok, ref + "><v>" + shown + "</v></c>", "").astype(object)


def _text(v: np.ndarray) -> np.ndarray:
    """Numbers as the shortest text that reads back the same (Arrow's cast: a C loop)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.cast(pa.array(v), pa.string()).to_numpy(zero_copy_only=False).astype(object)


def _dates(s: pd.Series, ref: np.ndarray) -> np.ndarray:
    t = pd.to_datetime(s)
    if getattr(t.dt, "tz", None) is not None:
        t = t.dt.tz_localize(None)
    ok = t.notna().to_numpy()
    serial = ((t - _EPOCH) / pd.Timedelta(days=1)).fillna(0).to_numpy("float64")
    timed = bool((t[ok] != t[ok].dt.normalize()).any())
    style = f' s="{_DATETIME if timed else _DATE}"'
    shown = _text(serial)
    return np.where(ok, ref + style + "><v>" + shown + "</v></c>", "").astype(object)


def _columns_xml(table: pd.DataFrame) -> str:
    """Column widths from the header's and a sample of the values' length (CJK counts two)."""
    import unicodedata

    def width(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)

    sample = table.head(200)
    cols = []
    for j, c in enumerate(table.columns, start=1):  # a column at a time
        seen = [width(str(c))] + [width(str(v)) for v in sample.iloc[:, j - 1].dropna().tolist()]
        w = min(max(max(seen) + 2, 8), 60)
        cols.append(f'<col min="{j}" max="{j}" width="{w}" customWidth="1"/>')
    return f"<cols>{''.join(cols)}</cols>" if cols else ""


_NS = "http://schemas.openxmlformats.org"
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<worksheet xmlns="{_NS}/spreadsheetml/2006/main"><sheetViews><sheetView workbookViewId="0">'
    '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView>'
    "</sheetViews>")
_XLSX_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Types xmlns="{_NS}/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
        'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.styles+xml"/></Types>'),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{_NS}/package/2006/relationships"><Relationship Id="rId1" '
        f'Type="{_NS}/officeDocument/2006/relationships/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>'),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<workbook xmlns="{_NS}/spreadsheetml/2006/main" '
        f'xmlns:r="{_NS}/officeDocument/2006/relationships"><sheets>'
        '<sheet name="{sheet}" sheetId="1" r:id="rId1"/></sheets></workbook>'),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{_NS}/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{_NS}/officeDocument/2006/relationships/worksheet" '
        'Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_NS}/officeDocument/2006/relationships/styles" '
        'Target="styles.xml"/></Relationships>'),
    "xl/styles.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<styleSheet xmlns="{_NS}/spreadsheetml/2006/main">'
        '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
        '<numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts>'
        '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
        '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        '</cellStyleXfs><cellXfs count="6">'
        '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" quotePrefix="1"/>'
        '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
        '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" '
        'quotePrefix="1"/></cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"),
}
