"""Cells a spreadsheet would run as formulas, made inert in files meant for people to open."""

from __future__ import annotations

import pandas as pd

__all__ = ["FORMULA_START", "escape_formulas", "is_formula_like"]

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
