"""Scheduled work: the analysis build, the warning dispatch, the score snapshot and the churn
model's retraining, each idempotent per data version and settings version, safe to run beside
the app (facts are swapped in, app rows are version-checked).

A job's run is recorded in the audit log (``action = 'job:<name>'``, the versions as its key,
the outcome as JSON), which is also how a repeat knows there is nothing to do.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from valuation import features, prepared
from valuation.settings_store import active_settings, active_settings_id, settings_by_id
from valuation.store import Store

__all__ = ["JOBS", "STAGES", "last_runs", "overview", "run", "run_job"]


Progress = Callable[[str], None]


def _quiet(_stage: str) -> None:
    pass


def _job_analysis(store: Store, say: Progress = _quiet) -> dict[str, Any]:
    say("analysis")
    b = prepared.build(store)
    return {"accounts": b.accounts, "seconds": b.seconds}


def _job_dispatch(store: Store, say: Progress = _quiet) -> dict[str, Any]:
    from valuation.warnings import warn_and_dispatch

    say("analysis")
    b = prepared.build(store)
    a = prepared.load(store, b.data_version, b.settings_id, settings_by_id(store, b.settings_id))
    say("warnings")
    w, counts = warn_and_dispatch(store, a.frame, a.settings, user="jobs")
    prepared.mark_dispatched(store, b.data_version, b.settings_id, counts)
    return {"warnings": len(w), **counts}


def _job_snapshot(store: Store, say: Progress = _quiet) -> dict[str, Any]:
    from valuation import history

    as_of = features.data_as_of(store)
    say("snapshot")
    n = history.snapshot(store, active_settings(store), as_of, user="jobs")
    return {"as_of": str(as_of), "accounts": n}


def _job_retrain(store: Store, say: Progress = _quiet) -> dict[str, Any]:
    from valuation import churn

    card = churn.train(store, settings=active_settings(store), progress=say)
    say("risk")
    prepared.refresh_risk(store)
    return {k: card.get(k) for k in ("mode", "status", "auc", "events", "rows") if k in card}


# The stages each job tells its progress by, in order (the app shows them as they start).
STAGES: dict[str, tuple[str, ...]] = {
    "analysis": ("analysis",),
    "dispatch": ("analysis", "warnings"),
    "snapshot": ("snapshot",),
    "retrain": ("plan", "rows", "evaluate", "fit", "save", "risk"),
}

JOBS: dict[str, Callable[..., dict[str, Any]]] = {
    "analysis": _job_analysis,   # after every import or settings change
    "dispatch": _job_dispatch,   # weekly
    "snapshot": _job_snapshot,   # nightly
    "retrain": _job_retrain,     # weekly or monthly
}


def _key(store: Store) -> str:
    return json.dumps({"data_version": store.data_version,
                       "settings_id": active_settings_id(store)})


def last_runs(store: Store) -> pd.DataFrame:
    """The last run of each job: job, at, user_id, versions (JSON), result (JSON)."""
    q = ("SELECT a.action, a.at, a.user_id, a.row_key, a.after FROM audit_log a "
         "JOIN (SELECT max(audit_id) AS audit_id FROM audit_log WHERE action LIKE 'job:%' "
         "GROUP BY action) last ON last.audit_id = a.audit_id ORDER BY a.audit_id")
    df = store.app.query(q)
    if df.empty:
        return pd.DataFrame(columns=["job", "at", "user_id", "versions", "result"])
    return pd.DataFrame({"job": df["action"].str.removeprefix("job:").to_numpy(),
                         "at": df["at"].to_numpy(), "user_id": df["user_id"].to_numpy(),
                         "versions": df["row_key"].to_numpy(), "result": df["after"].to_numpy()})


def overview(store: Store) -> pd.DataFrame:
    """Every job with its last run (at, by whom, for which versions, result) and whether it
    is due: it has not run for the store's current data and settings versions."""
    runs = last_runs(store).set_index("job")
    key = _key(store)
    tbl = store.app.tables["audit_log"]
    done = store.app.select("audit_log", tbl.c.action.like("job:%") & (tbl.c.row_key == key))
    ran_now = set(done["action"].str.removeprefix("job:"))
    names = list(JOBS)
    last = runs.reindex(names)
    return pd.DataFrame({
        "job": names, "at": last["at"].to_numpy(), "user_id": last["user_id"].to_numpy(),
        "versions": last["versions"].to_numpy(), "result": last["result"].to_numpy(),
        "due": [n not in ran_now for n in names]})


def run_job(store: Store, name: str, *, force: bool = False, user: str = "jobs",
            progress: Progress | None = None) -> dict[str, Any]:
    """Run one job unless it already ran for the store's data and settings versions; return
    {"job", "ran", "result" or "skipped"}. ``user`` is recorded as who ran it (the jobs, or
    the admin who clicked); ``progress`` is told each stage as it starts."""
    if name not in JOBS:
        raise ValueError(f"no job {name!r} (one of {', '.join(JOBS)})")
    if not store.has_facts:
        raise ValueError("the database has no data yet: import (or create the demo) first")
    key = _key(store)
    tbl = store.app.tables["audit_log"]
    done = store.app.select("audit_log", (tbl.c.action == f"job:{name}") & (tbl.c.row_key == key))
    if len(done) and not force:
        return {"job": name, "ran": False, "skipped": f"already ran for {key} at "
                                                      f"{done['at'].iloc[-1]}"}
    t0 = time.perf_counter()
    result = JOBS[name](store, progress or _quiet)
    result["seconds"] = round(time.perf_counter() - t0, 2)
    with store.transaction() as tx:
        store.app.audit(tx, user=user, action=f"job:{name}", table_name="jobs", row_key=key,
                        before=None, after=json.dumps(result, default=str, ensure_ascii=False))
    return {"job": name, "ran": True, "result": result}


def run(store: Store, names: Iterable[str], *, force: bool = False) -> list[dict[str, Any]]:
    """Run jobs in order (the analysis first when several are asked for)."""
    order = [n for n in JOBS if n in set(names)]
    unknown = sorted(set(names) - set(JOBS))
    if unknown:
        raise ValueError(f"no job {', '.join(unknown)} (jobs: {', '.join(JOBS)})")
    return [run_job(store, n, force=force) for n in order]
