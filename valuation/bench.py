"""Benchmarks: time every pipeline stage on a generated portfolio; peak memory."""

from __future__ import annotations

import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from valuation import demo, features
from valuation.store import Store

__all__ = ["run"]

T = TypeVar("T")


def run(*, accounts: int, line_accounts: int | None = None, seed: int = 7) -> dict[str, Any]:
    """Generate ``accounts``, load them into a temporary store and time each stage."""
    stages: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], T]) -> T:
        t0 = time.perf_counter()
        out = fn()
        stages[name] = round(time.perf_counter() - t0, 3)
        return out

    with tempfile.TemporaryDirectory() as tmp:
        frames = timed("generate", lambda: demo.generate(
            accounts=accounts, seed=seed, line_accounts=line_accounts))
        rows = {k: len(v) for k, v in frames.items()}
        with Store(Path(tmp) / "bench.duckdb") as store:
            timed("load", lambda: store.replace_facts(frames, source="bench"))
            del frames
            timed("features", lambda: features.account_frame(store))
    return {
        "accounts": accounts,
        "rows": rows,
        "stages_s": stages,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
