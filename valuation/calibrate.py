"""Calibration: learn each scoring model's loyalty and competitor weights from churn history.

The method names the indicators of loyalty (depth of our bundle) and of competitor
entanglement but fixes no weights (DOMAIN.md section 2). Calibration reads them off the
portfolio's own outcomes and stays a transparent scorecard: per scoring model and dimension,
a logistic regression of churn within the horizon on the measures' normalised values, with
sign constraints (a loyalty measure can only lower the risk, a competitor measure only raise
it: every weight is >= 0 in the scorecard's own direction) and an L2 penalty. The fitted
weights replace the model's, scaled to the dimension's old total, so a scorecard still reads
"points per measure". Measures of the dimension that the model does not use yet are offered
too (with their registry normalisation); a measure missing or constant in the model's scope
ends with weight 0.

Validation is out of sample: a time split where the history has enough churn events before
the latest labelled month end (fit on the month ends whose horizon closed by then, validate
on it), else stratified k-fold on that month end alone (a snapshot export with churn in one
month). The AUC of the dimension score before (the weights in force) and after (the fitted
weights, never fitted on the rows they are scored on) is reported with a bootstrap 95%
interval. Too few events in a model's scope (``calibration.min_events``): its weights are
kept, and the result says so. Value is worth, not risk: it is never fitted to churn.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from valuation import features
from valuation.config import MeasureWeight, Settings, dump_settings, parse_settings
from valuation.history import auc_ci, churn_label
from valuation.measures import MEASURES
from valuation.periods import horizon_end, labelled_month_ends
from valuation.scoring import score
from valuation.store import Store

__all__ = ["CALIBRATED", "calibrate", "fit_weights"]

CALIBRATED = ("loyalty", "competitor")
_SIGN = {"loyalty": -1.0, "competitor": 1.0}  # risk = sign x score


def calibrate(store: Store, settings: Settings, *, horizon_months: int | None = None,
              seed: int = 0, n_boot: int = 300) -> dict[str, Any]:
    """Fit, validate and propose new loyalty and competitor weights for every scoring model.

    Returns a JSON-safe dict: the horizon, the evaluation dates, per model and dimension the
    mode (``time_split``, ``kfold`` or ``kept``), the message, events, the AUC before and
    after with 95% intervals, and each measure's old and new weight; ``toml`` holds the new
    settings (None when nothing changed), to be saved as a new version by the caller."""
    h = int(horizon_months or settings.get("calibration.horizon_months"))
    as_of = features.data_as_of(store)
    first = store.scalar("SELECT min(month) FROM billing_monthly")
    labelled = labelled_month_ends(first, as_of, h)
    out: dict[str, Any] = {"horizon_months": h, "data_as_of": str(as_of), "models": [],
                           "toml": None, "changed": False}
    if not labelled:
        out["error"] = f"no month end with {h} months of follow-up observed"
        return out
    # the latest labelled month end validates; the training dates are the latest month ends
    # whose own window closed by then (a purged time split)
    earlier = [d for d in labelled if horizon_end(d, h) <= pd.Timestamp(labelled[-1])]
    dates = [*earlier[-int(settings.get("calibration.max_dates")):], labelled[-1]]
    out["dates"] = {"first": str(dates[0]), "last": str(dates[-1]), "count": len(dates)}
    wide = _with_candidates(settings)
    data = pd.concat([_rows_at(store, settings, wide, d) for d in dates], ignore_index=True)
    data["label"] = churn_label(store, data, h).to_numpy()
    last = pd.Timestamp(dates[-1])
    train_dates = {pd.Timestamp(d) for d in dates if horizon_end(d, h) <= last}
    rng = np.random.default_rng(seed)
    latest_all = data[data["as_of"] == last]
    results: dict[tuple[str, str], tuple[dict[str, Any], dict[str, float] | None,
                                         np.ndarray | None]] = {}
    for m in settings.models:
        rows = data[data["model"] == m.name]
        for dim in CALIBRATED:
            results[(m.name, dim)] = _calibrate_dimension(
                rows, m, wide.model(m.name), dim, last, train_dates, settings, rng, n_boot, seed)
    for dim in CALIBRATED:
        _portfolio_check(latest_all, dim, settings, results)
    new_models = {}
    for m in settings.models:
        entry: dict[str, Any] = {"model": m.name, "label_en": m.label_en, "label_zh": m.label_zh,
                                 "accounts": int((latest_all["model"] == m.name).sum()),
                                 "dimensions": {}}
        measures = list(m.measures)
        for dim in CALIBRATED:
            res, weights, _ = results[(m.name, dim)]
            entry["dimensions"][dim] = res
            if weights is not None:
                measures = _apply(measures, weights, dim)
        out["models"].append(entry)
        if measures != list(m.measures):
            new_models[m.name] = measures
    for dim in CALIBRATED:
        out.setdefault("portfolio", {})[dim] = _portfolio_auc(latest_all, dim, settings, results,
                                                              n_boot, rng)
    if new_models:
        out["toml"] = _settings_text(settings, new_models)
        out["changed"] = True
    return out


def fit_weights(x: np.ndarray, y: np.ndarray, *, sign: float, c: float = 1.0) -> np.ndarray:
    """Non-negative weights ``w`` (one per column of ``x``) of the L2-penalised logistic
    regression ``P(y) = sigmoid(b + sign * x @ w)``: the scorecard's own direction, so a
    measure can only push the risk the way its dimension reads. ``c`` as in scikit-learn
    (smaller: more penalty). Returns ``w`` (the intercept is not needed by a scorecard)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    k = x.shape[1]
    sx = sign * x

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        b, w = theta[0], theta[1:]
        z = b + sx @ w
        p = 1.0 / (1.0 + np.exp(-z))
        value = float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 / c * (w @ w))
        r = p - y
        grad = np.concatenate([[r.sum()], sx.T @ r + w / c])
        return value, grad

    base = np.clip(y.mean(), 1e-6, 1 - 1e-6)
    theta0 = np.concatenate([[np.log(base / (1 - base))], np.full(k, 0.1)])
    res = minimize(loss, theta0, jac=True, method="L-BFGS-B",
                   bounds=[(None, None)] + [(0.0, None)] * k)
    w = np.asarray(res.x[1:], dtype=np.float64)
    w[w < 1e-8] = 0.0
    return w


# ---------------------------------------------------------------------------------------------
def _portfolio_check(latest: pd.DataFrame, dim: str, settings: Settings,
                     results: dict[tuple[str, str], Any]) -> None:
    """Accept the models' proposals for ``dim`` one by one (largest gain first) only while the
    portfolio-wide out-of-sample AUC of the dimension does not fall: scores of different
    models are compared on one scale (tiers, strategies), so a model may rank its own
    accounts better yet mix worse with the others. A rejected proposal is kept as is."""
    sign = _SIGN[dim]
    y = latest["label"].to_numpy(dtype=np.int8)
    if y.min() == y.max():
        return
    risk = sign * latest[f"{dim}_score"].to_numpy(dtype=np.float64)
    best = roc_auc_score(y, risk)
    order = sorted((k for k, v in results.items() if k[1] == dim and v[1] is not None),
                   key=lambda k: -(results[k][0]["auc_after"]["auc"]
                                   - results[k][0]["auc_before"]["auc"]))
    for key in order:
        entry, _weights, after = results[key]
        mask = (latest["model"] == key[0]).to_numpy()
        trial = risk.copy()
        trial[mask] = after
        auc = roc_auc_score(y, trial)
        if auc >= best:
            risk, best = trial, auc
            continue
        entry["mode"] = "kept"
        entry["message"] = (f"better within this model (AUC {entry['auc_after']['auc']:.3f} vs "
                            f"{entry['auc_before']['auc']:.3f}) but lowers the portfolio-wide "
                            f"AUC of {dim} (scores of all models share one scale): weights kept")
        entry["weights"] = [{**w, "new": None} for w in entry["weights"]]
        results[key] = (entry, None, None)


def _portfolio_auc(latest: pd.DataFrame, dim: str, settings: Settings,
                   results: dict[tuple[str, str], Any], n_boot: int,
                   rng: np.random.Generator) -> dict[str, Any]:
    """The dimension's AUC over every model's accounts at the latest month end, with the
    weights in force and with the accepted proposals (out of sample)."""
    sign = _SIGN[dim]
    before = sign * latest[f"{dim}_score"].to_numpy(dtype=np.float64)
    after = before.copy()
    for (model, d), (_e, weights, oof) in results.items():
        if d == dim and weights is not None:
            after[(latest["model"] == model).to_numpy()] = oof
    y = pd.Series(latest["label"].to_numpy(dtype=np.int8))
    return {"before": auc_ci(pd.Series(before), y, n_boot, rng),
            "after": auc_ci(pd.Series(after), y, n_boot, rng)}


def _with_candidates(settings: Settings) -> Settings:
    """The settings with every loyalty and competitor measure of the registry in every model
    (weight 1 where the model lacks it): the candidates whose normalised values we need."""
    models = []
    for m in settings.models:
        have = {mw.name for mw in m.measures}
        extra = tuple(MeasureWeight(md.name, 1.0, md.norm, md.missing) for md in MEASURES.values()
                      if md.dimension in CALIBRATED and md.name not in have)
        models.append(replace(m, measures=m.measures + extra))
    return replace(settings, models=tuple(models))


def _rows_at(store: Store, settings: Settings, wide: Settings, as_of: date) -> pd.DataFrame:
    """Per live account at ``as_of``: model, the dimension scores under ``settings`` and the
    normalised value of every candidate measure (NaN where unavailable in the scope)."""
    frame = features.live_accounts(features.account_frame(store, as_of=as_of)).reset_index(
        drop=True)
    now = score(frame, settings, as_of=as_of)
    cand = score(frame, wide, as_of=as_of)
    names = [n for n, md in MEASURES.items() if md.dimension in CALIBRATED]
    out = pd.concat([now.scores[["account_id", "model", "loyalty_score", "competitor_score"]],
                     cand.normalised[names]], axis=1)
    out["as_of"] = pd.Timestamp(as_of)
    return out


def _calibrate_dimension(rows: pd.DataFrame, model: Any, wide_model: Any, dim: str,
                         last: pd.Timestamp, train_dates: set[pd.Timestamp], settings: Settings,
                         rng: np.random.Generator, n_boot: int, seed: int
                         ) -> tuple[dict[str, Any], dict[str, float] | None, np.ndarray | None]:
    """One model's dimension: the result entry, the new weights (None: keep) and the
    out-of-sample risk of the latest month end's accounts under them, on the score's scale
    (sign x points, so that models can be pooled)."""
    min_events = int(settings.get("calibration.min_events"))
    c = float(settings.get("calibration.c"))
    sign = _SIGN[dim]
    old = {mw.name: mw.weight for mw in model.measures if MEASURES[mw.name].dimension == dim}
    latest = rows[rows["as_of"] == last]
    candidates = [mw.name for mw in wide_model.measures if MEASURES[mw.name].dimension == dim]
    usable = [n for n in candidates if _varies(latest[n])]
    y_last = latest["label"].to_numpy(dtype=np.int8)
    entry: dict[str, Any] = {"events": int(y_last.sum()), "rows": int(len(latest)),
                             "unavailable": [n for n in candidates if n not in usable]}
    train = rows[rows["as_of"].isin(train_dates)]
    y_train = train["label"].to_numpy(dtype=np.int8)
    before = sign * latest[f"{dim}_score"].to_numpy(dtype=np.float64)
    rule = {mw.name: mw for mw in model.measures}

    def weights_table(new: dict[str, float] | None) -> list[dict[str, Any]]:
        names = list(dict.fromkeys([*old, *candidates]))
        return [{"measure": n, "old": round(float(old[n]), 3) if n in old else None,
                 "new": (None if new is None else round(float(new.get(n, 0.0)), 3)),
                 "available": n in usable, "norm": (rule[n].norm if n in rule
                                                    else MEASURES[n].norm)}
                for n in names]

    if not usable:
        entry.update(mode="kept", message=f"no {dim} measure varies in this model's scope: "
                     "weights kept")
        entry["weights"] = weights_table(None)
        return entry, None, None
    if y_train.sum() >= min_events and 0 < y_last.sum() < len(y_last):
        mode = "time_split"
        w_fit = fit_weights(_x(train, usable), y_train, sign=sign, c=c)
        after = _points(_x(latest, usable), w_fit, before, sign)
    elif y_last.sum() >= min_events and (len(y_last) - y_last.sum()) >= min_events:
        mode = "kfold"
        folds = int(settings.get("calibration.folds"))
        after = np.zeros(len(latest))
        xl = _x(latest, usable)
        for tr, va in StratifiedKFold(folds, shuffle=True, random_state=seed).split(xl, y_last):
            after[va] = _points(xl[va], fit_weights(xl[tr], y_last[tr], sign=sign, c=c),
                                before[va], sign)
    else:
        entry.update(mode="kept", message=(
            f"only {int(max(y_train.sum(), y_last.sum()))} churn events in this model's scope, "
            f"fewer than calibration.min_events = {min_events}: weights kept"))
        entry["auc_before"] = auc_ci(pd.Series(before), pd.Series(y_last), n_boot, rng)
        entry["weights"] = weights_table(None)
        return entry, None, None
    fit_rows = rows if mode == "time_split" else latest
    w = fit_weights(_x(fit_rows, usable), fit_rows["label"].to_numpy(dtype=np.int8), sign=sign,
                    c=c)
    entry["mode"] = mode
    entry["train_events"] = int(y_train.sum()) if mode == "time_split" else int(y_last.sum())
    entry["auc_before"] = auc_ci(pd.Series(before), pd.Series(y_last), n_boot, rng)
    entry["auc_after"] = auc_ci(pd.Series(after), pd.Series(y_last), n_boot, rng)
    if w.sum() <= 0:
        entry["mode"] = "kept"
        entry["message"] = f"no {dim} measure separates churn in this scope: weights kept"
        entry["weights"] = weights_table(None)
        return entry, None, None
    b, a = entry["auc_before"].get("auc"), entry["auc_after"].get("auc")
    if b is not None and a is not None and a <= b:
        entry["mode"] = "kept"
        entry["message"] = (f"the fitted weights do not separate churn better than the weights "
                            f"in force on data they were not fitted on (AUC {a:.3f} vs {b:.3f}): "
                            "weights kept")
        entry["weights"] = weights_table(None)
        return entry, None, None
    total = sum(old.values()) or float(len(usable))
    new = {n: float(v) / float(w.sum()) * total for n, v in zip(usable, w, strict=True)}
    entry["message"] = {"time_split": "fitted on earlier month ends, validated on the latest",
                        "kfold": "too few events before the latest month end for a time split: "
                                 "validated by stratified k-fold on the latest month end"}[mode]
    entry["weights"] = weights_table(new)
    return entry, new, after


def _apply(measures: list[MeasureWeight], weights: dict[str, float], dim: str
           ) -> list[MeasureWeight]:
    """A model's measures with the dimension's weights replaced; measures the fit adds come
    last with their registry normalisation; measures of the dimension not fitted get 0."""
    out = []
    for mw in measures:
        if MEASURES[mw.name].dimension == dim:
            out.append(replace(mw, weight=round(weights.get(mw.name, 0.0), 3)))
        else:
            out.append(mw)
    have = {mw.name for mw in measures}
    for name, w in weights.items():
        if name not in have and round(w, 3) > 0:
            md = MEASURES[name]
            out.append(MeasureWeight(name, round(w, 3), md.norm, md.missing))
    return out


def _settings_text(settings: Settings, new_models: dict[str, list[MeasureWeight]]) -> str:
    """The settings TOML with the models' measures replaced; validated."""
    doc = tomllib.loads(settings.source) if settings.source else {}
    for m in doc.get("models", []):
        if m.get("name") in new_models:
            m["measures"] = [_measure_doc(mw) for mw in new_models[m["name"]]]
    text = dump_settings(doc)
    parse_settings(text)  # never hand out settings that do not load
    return text


def _measure_doc(mw: MeasureWeight) -> dict[str, Any]:
    d: dict[str, Any] = {"name": mw.name, "weight": float(mw.weight), "norm": mw.norm}
    if mw.missing != MEASURES[mw.name].missing:
        d["missing"] = mw.missing
    return d


def _points(x: np.ndarray, w: np.ndarray, fallback: np.ndarray, sign: float) -> np.ndarray:
    """Risk on the score's scale: sign x the dimension score the weights ``w`` give (a
    weighted mean of normalised values x 100); ``fallback`` where ``w`` is all zero."""
    total = float(w.sum())
    return sign * (x @ w) / total * 100.0 if total > 0 else fallback


def _x(rows: pd.DataFrame, names: list[str]) -> np.ndarray:
    return np.nan_to_num(rows[names].to_numpy(dtype=np.float64), nan=0.0)


def _varies(col: pd.Series) -> bool:
    v = col.dropna()
    return len(v) > 1 and float(v.min()) < float(v.max())
