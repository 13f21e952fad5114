"""First run: the demo portfolio with its score history and this month's work orders."""

from __future__ import annotations

from datetime import date

from valuation import features, history
from valuation.analysis import analyse
from valuation.demo import write_demo
from valuation.settings_store import active_settings
from valuation.store import Store

__all__ = ["create_demo"]


def create_demo(store: Store, *, accounts: int = 5000, seed: int = 7, as_of: date | None = None,
                line_accounts: int | None = None, history_months: int = 24) -> dict[str, int]:
    """Write the demo facts, back-fill monthly score snapshots and dispatch today's warnings
    as work orders, so that every page has something true to show. Returns row counts."""
    from valuation.warnings import warn_and_dispatch

    counts = write_demo(store, accounts=accounts, seed=seed, as_of=as_of,
                        line_accounts=line_accounts)
    settings = active_settings(store)
    history.backfill_snapshots(store, settings, months=history_months, user="demo")
    a = analyse(features.account_frame(store), settings)
    warn_and_dispatch(store, a.frame, settings, user="demo")
    return counts
