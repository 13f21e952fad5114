"""Measure the method on data it has never seen, beside honest baselines, over several seeds.

For each seed: generate the wide CRM export (docs/examples/wide_crm: churn driven by tenure and
term, one snapshot), import it through its transform, and run what a user would run:

- ``evaluate`` with the default (hand) weights, ``calibrate`` (the out-of-sample AUC it
  reports), then ``evaluate`` again under the calibrated settings;
- ``churn evaluate`` (the product's model, its logistic baseline and the rules), next to a
  plain scikit-learn LogisticRegressionCV and a plain HistGradientBoostingClassifier
  cross-validated with the same folds on the same features;
- ``recommend evaluate`` (the blend chosen on one half, reported on the other) next to
  popularity.

The same on the demo portfolio (``--demo``; its figures must not get worse). Prints a Markdown
table per data set; ``--json`` writes everything.

    python docs/examples/measure.py --rows 7000 --seeds 1 2 [--demo 5000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from valuation import bundling, churn, features, history  # noqa: E402
from valuation.calibrate import calibrate  # noqa: E402
from valuation.periods import labelled_month_ends  # noqa: E402
from valuation.settings_store import active_settings, save_settings  # noqa: E402
from valuation.store import Store  # noqa: E402


def measure(store: Store, *, horizon: int, churn_horizon: int, seed: int) -> dict[str, Any]:
    """Every figure for one store (it is changed: calibrated settings are saved)."""
    out: dict[str, Any] = {}
    s0 = active_settings(store)
    ev = history.evaluate(store, s0, horizon_months=horizon, n_boot=200, seed=seed)
    out["loyalty_hand"] = ev["dimensions"]["loyalty_score"]
    out["value"] = ev["dimensions"]["value_score"]
    cal = calibrate(store, s0, horizon_months=horizon, n_boot=200, seed=seed)
    out["loyalty_calibrated_oos"] = cal["portfolio"]["loyalty"]["after"]
    out["competitor_hand"] = cal["portfolio"]["competitor"]["before"]
    out["competitor_calibrated_oos"] = cal["portfolio"]["competitor"]["after"]
    if cal["changed"]:
        save_settings(store, cal["toml"], user="measure", comment="calibrated")
    ev2 = history.evaluate(store, active_settings(store), horizon_months=horizon, n_boot=200,
                           seed=seed)
    out["loyalty_after_save"] = ev2["dimensions"]["loyalty_score"]
    out["churn"] = _churn(store, churn_horizon, seed)
    h = bundling.load_holdings(store)
    choice = bundling.choose_blend(h, store.read_table("products"), features.account_frame(store),
                                   seed=seed, settings=active_settings(store))
    out["recommend"] = {**choice.methods("test"), "chosen_name": choice.name}
    return out


def _churn(store: Store, horizon: int, seed: int) -> dict[str, Any]:
    settings = active_settings(store)
    t0 = time.perf_counter()
    ev = churn.evaluate(store, settings=settings, horizon_months=horizon, n_boot=200,
                        random_state=seed)
    res: dict[str, Any] = {"mode": ev.get("mode", ev.get("method")),
                           "seconds": round(time.perf_counter() - t0, 1)}
    res.update({k: (v or {}).get("auc") for k, v in (ev.get("metrics") or {}).items()
                if isinstance(v, dict) and "auc" in v})
    # plain scikit-learn on the same features, cross-validated on the latest labelled date
    first = store.scalar("SELECT min(month) FROM billing_monthly")
    dates = labelled_month_ends(first, features.data_as_of(store), horizon)
    x, y, _meta = churn.training_set(store, settings=settings, horizon_months=horizon,
                                     as_of_dates=dates[-1:])
    yv = y.to_numpy().astype(int)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=seed).split(x, yv))
    for name, make in (("sklearn_logistic_cv", lambda: make_pipeline(
            StandardScaler(), LogisticRegressionCV(Cs=8, max_iter=3000))),
            ("sklearn_boosting", lambda: HistGradientBoostingClassifier(random_state=seed))):
        p = np.zeros(len(yv))
        for tr, va in folds:
            p[va] = make().fit(x.iloc[tr], yv[tr]).predict_proba(x.iloc[va])[:, 1]
        res[name] = round(float(roc_auc_score(yv, p)), 4)
    res["events"] = int(yv.sum())
    res["rows"] = int(len(yv))
    return res


def _wide(rows: int, seed: int, tmp: Path) -> Store:
    sys.path.insert(0, str(HERE.parent.parent / "tests"))
    from wide_export import wide_store  # noqa: PLC0415

    return Store(wide_store(tmp / f"wide{seed}", rows=rows, seed=seed))


def _demo(accounts: int, seed: int, tmp: Path) -> Store:
    from valuation.setup import create_demo  # noqa: PLC0415

    s = Store(tmp / f"demo{seed}.duckdb")
    create_demo(s, accounts=accounts, seed=seed)
    return s


def _auc(x: Any) -> str:
    if isinstance(x, dict):
        if x.get("auc") is None:
            return "–"
        low, high = x.get("low"), x.get("high")
        return f"{x['auc']:.3f}" + (f" ({low:.3f}–{high:.3f})" if low is not None else "")
    return "–" if x is None else f"{x:.3f}"


def table(name: str, results: dict[int, dict[str, Any]]) -> str:
    seeds = list(results)
    head = f"| {name} | " + " | ".join(f"seed {s}" for s in seeds) + " |"
    lines = [head, "|---|" + "---|" * len(seeds)]

    def row(label: str, get: Any) -> None:
        lines.append(f"| {label} | " + " | ".join(get(results[s]) for s in seeds) + " |")

    row("loyalty AUC, default weights", lambda r: _auc(r["loyalty_hand"]))
    row("loyalty AUC, calibrated (out of sample)", lambda r: _auc(r["loyalty_calibrated_oos"]))
    row("loyalty AUC, calibrated and saved (`evaluate`)", lambda r: _auc(r["loyalty_after_save"]))
    row("competitor AUC, default → calibrated (out of sample)",
        lambda r: f"{_auc(r['competitor_hand'])} → {_auc(r['competitor_calibrated_oos'])}")
    row("value AUC (not calibrated)", lambda r: _auc(r["value"]))
    row("churn model mode", lambda r: str(r["churn"]["mode"]))
    for key, label in (("model", "churn: calibrated boosting (product)"),
                       ("logistic", "churn: logistic baseline (product)"),
                       ("rules", "churn: rules only"),
                       ("sklearn_logistic_cv", "churn: plain LogisticRegressionCV, same folds"),
                       ("sklearn_boosting", "churn: plain HistGradientBoosting, same folds")):
        row(label, lambda r, k=key: _auc(r["churn"].get(k)))
    row("cross-sell: chosen ranking", lambda r: r["recommend"]["chosen_name"])
    for key in ("chosen", "popularity", "segment_popularity", "evidence"):
        row(f"cross-sell hit@3 / hit@5, {key} (test half)", lambda r, k=key: (
            f"{r['recommend'][k]['hit@3']:.3f} / {r['recommend'][k]['hit@5']:.3f}"
            if k in r["recommend"] else "–"))
    return "\n".join(lines)


def main() -> None:
    warnings.simplefilter("ignore", FutureWarning)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=7000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--demo", type=int, default=0, help="also the demo with this many accounts")
    ap.add_argument("--demo-seeds", type=int, nargs="+", default=[7, 8])
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        wide = {}
        for seed in args.seeds:
            with _wide(args.rows, seed, tmp) as s:
                wide[seed] = measure(s, horizon=1, churn_horizon=1, seed=seed)
        out["wide"] = wide
        if args.json:
            args.json.write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")
        print(table(f"wide export, {args.rows:,} customers", wide) + "\n", flush=True)
        if args.demo:
            demo = {}
            for seed in args.demo_seeds:
                with _demo(args.demo, seed, tmp) as s:
                    demo[seed] = measure(s, horizon=12, churn_horizon=6, seed=seed)
            out["demo"] = demo
            print(table(f"demo, {args.demo:,} accounts", demo))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
