"""First run: the demo portfolio with its score history and this month's work orders."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from valuation import features, history
from valuation.analysis import analyse
from valuation.demo import write_demo
from valuation.settings_store import active_settings
from valuation.store import Store

__all__ = ["create_demo"]


def create_demo(store: Store, *, accounts: int = 5000, seed: int = 7, as_of: date | None = None,
                line_accounts: int | None = None, history_months: int = 24,
                dispatch_weeks: int = 4, train_model: bool = True,
                progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Write the demo facts, back-fill monthly score snapshots, dispatch the warnings of the
    last ``dispatch_weeks`` weeks (weekly, oldest first, as a scheduled run would have: open
    orders gather repeat hits instead of duplicates) and train the churn model beside the
    database, so that every page has something true to show. Returns row counts.
    ``progress`` is told each stage as it starts."""
    from valuation.warnings import warn_and_dispatch

    with store.facts_session():  # the facts and their score history land in one swap
        say = progress or (lambda _stage: None)
        counts = write_demo(store, accounts=accounts, seed=seed, as_of=as_of,
                            line_accounts=line_accounts, progress=progress)
        settings = active_settings(store)
        say(f"score history ({history_months} month ends)")
        history.backfill_snapshots(store, settings, months=history_months, user="demo")
        day = features.data_as_of(store)
        weeks = max(int(dispatch_weeks), 1)
        for weeks_back in range(weeks - 1, -1, -1):
            say(f"weekly warnings, week {weeks - weeks_back} of {weeks}")
            d = day - timedelta(weeks=weeks_back)
            a = analyse(features.account_frame(store, as_of=d), settings)
            warn_and_dispatch(store, a.frame, settings, user="system", as_of=d)
    if train_model:
        from valuation import churn

        say("the churn model")
        churn.train(store, settings=settings)
    return counts
