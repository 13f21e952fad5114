"""Calendar arithmetic for label windows: month ends, and the end of a horizon after a date."""

from __future__ import annotations

from datetime import date

import pandas as pd

__all__ = ["horizon_end", "labelled_month_ends"]


def horizon_end(as_of: date | pd.Timestamp, horizon_months: int) -> pd.Timestamp:
    """The last day of the label window after ``as_of``: the same day ``horizon_months`` later,
    or, from a month end, the month end ``horizon_months`` later (Nov 30 + 1 = Dec 31,
    Feb 28 + 6 = Aug 31, Jan 31 + 1 = Feb 28)."""
    ts = pd.Timestamp(as_of)
    if ts.is_month_end:
        return ts + pd.offsets.MonthEnd(int(horizon_months))
    return ts + pd.DateOffset(months=int(horizon_months))


def labelled_month_ends(first: date | pd.Timestamp | None, data_as_of: date | pd.Timestamp | None,
                        horizon_months: int) -> list[date]:
    """Month ends from the one ending ``first``'s month up to ``data_as_of`` whose whole
    ``horizon_months`` window after them is observed by ``data_as_of``, oldest first."""
    if first is None or data_as_of is None:
        return []
    end = pd.Timestamp(data_as_of)
    start = pd.Timestamp(first) + pd.offsets.MonthEnd(0)
    ends = pd.date_range(start, end, freq="ME")
    return [d.date() for d in ends if horizon_end(d, horizon_months) <= end]
