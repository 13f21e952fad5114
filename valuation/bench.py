"""Benchmarks: time every pipeline stage on a generated portfolio; peak memory."""

from __future__ import annotations

import os
import platform
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from valuation import bundling, churn, demo, features, positioning, pyramid, warnings
from valuation.config import load_settings
from valuation.scoring import score
from valuation.store import Store

__all__ = ["run"]

T = TypeVar("T")


def run(*, accounts: int, line_accounts: int | None = None, seed: int = 7,
        churn_train_accounts: int = 100_000) -> dict[str, Any]:
    """Generate ``accounts``, load them into a temporary store and time each stage.

    Stages: generate (synthetic portfolio), load (into DuckDB), features (SQL roll-ups to one
    row per account), scoring (three scorecards with reasons), positioning (strategy, size
    approach, lifecycle stage), pyramid (tier cuts, per-tier summary, composition, Lorenz),
    bundling (product graph, bundle metrics, top-5 suggestions for every account), warnings
    (W1-W7b over every line-day plus the account rules), churn_train (fit the churn model on
    every eligible month end of min(accounts, ``churn_train_accounts``) accounts; a larger
    portfolio trains on a separately generated one of that size, not timed), churn_score
    (churn probability and top three factors for every live account, from the account frame
    plus the churn frame's dated roll-ups, which are timed here too), churn_value (bundle-depth
    survival curves, expected remaining lifetime, lifetime value and value at risk for every
    live account).
    """
    stages: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], T]) -> T:
        t0 = time.perf_counter()
        out = fn()
        stages[name] = round(time.perf_counter() - t0, 3)
        return out

    settings = load_settings()
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.duckdb") as store:
        frames = timed("generate", lambda: demo.generate(
            accounts=accounts, seed=seed, line_accounts=line_accounts))
        rows = {k: len(v) for k, v in frames.items()}
        timed("load", lambda: store.replace_facts(frames, source="bench"))
        del frames
        frame = timed("features", lambda: features.account_frame(store))
        card = timed("scoring", lambda: score(frame, settings))
        s = card.scores

        def _position() -> Any:
            return (positioning.position(s, settings), positioning.approach(frame),
                    positioning.lifecycle_stage(frame, s["loyalty_score"], settings))

        strategy = timed("positioning", _position)[0]

        def _pyramid() -> Any:
            basis = pyramid.basis_score(s, settings)
            cutter = pyramid.TierCutter(tiers=settings.tiers,
                                        method=settings.get("tiers.method")).fit(basis)
            analysed = frame.assign(tier=cutter.predict(basis), strategy=strategy, **{
                c: s[c] for c in ("value_score", "loyalty_score", "competitor_score")})
            analysed.attrs = frame.attrs
            pyramid.tier_summary(analysed, settings)
            pyramid.composition(analysed, "family")
            pyramid.composition(analysed, "industry")
            pyramid.lorenz(analysed["monthly_revenue"])
            return analysed

        analysed = timed("pyramid", _pyramid)
        products, contracts = store.read_table("products"), store.read_table("contracts")

        def _bundling() -> Any:
            h = bundling.load_holdings(store)
            g = bundling.build_graph(h, products, accounts=analysed)
            bundling.bundle_metrics(h, g, products, contracts=contracts, as_of=None)
            return bundling.recommend(h, g, products, analysed, k=5, settings=settings)

        timed("bundling", _bundling)
        timed("warnings", lambda: warnings.account_warnings(store, analysed, settings=settings))
        n_train = min(accounts, churn_train_accounts)
        model_file = Path(tmp) / "bench.churn.joblib"
        if n_train == accounts:
            card = timed("churn_train", lambda: churn.train(
                store, settings=settings, path=model_file, evaluation=False))
        else:
            with Store(Path(tmp) / "train.duckdb") as train_store:
                train_store.replace_facts(demo.generate(accounts=n_train, seed=seed + 1,
                                                        line_accounts=0), source="bench")
                card = timed("churn_train", lambda: churn.train(
                    train_store, settings=settings, path=model_file, evaluation=False))
        model = churn.load_model(model_file)

        def _score() -> Any:
            cf = churn.churn_frame(store, frame=analysed)
            return cf, churn.score_accounts(model, cf, settings=settings)

        cf, scored = timed("churn_score", _score)

        def _value() -> Any:
            live = cf.loc[scored.index]
            fits = churn.fit_survival(churn.survival_frame(store, settings=settings,
                                                           with_tier=False), by="bundle")
            rem = churn.expected_remaining_lifetime(live, fits, settings=settings)
            ltv = churn.lifetime_value(live, rem, settings=settings)
            return churn.value_at_risk(scored["churn_probability"], live, ltv)

        timed("churn_value", _value)
        rows["churn_training_rows"] = int(card.get("rows", 0))
        churn_mode = card.get("mode")
    core = ("features", "scoring", "positioning", "pyramid")
    return {
        "accounts": accounts,
        "rows": rows,
        "churn_mode": churn_mode,
        "stages_s": stages,
        "features_to_pyramid_s": round(sum(stages[k] for k in core), 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
