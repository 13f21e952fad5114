"""Training, time-split evaluation, the saved model and its card, scoring, the look-ahead check.

``training_set`` rebuilds the portfolio as it was at month ends of the history
(``churn_frame``: the account frame of :mod:`valuation.features` plus three dated
roll-ups), keeps the accounts live at each date and labels churn within the horizon
after it: ``as_of < churn_date <= horizon_end(as_of, horizon)``. Nothing dated after an
as-of date reaches its features (``assert_no_lookahead`` proves it on any store).
``evaluate`` validates on the latest as-of date whose horizon is fully observed, training
only on dates whose whole label window ended by then (a purged time split: no training
label looks into the validation window). ``train`` fits on every eligible date and saves
the model and its card beside the database.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from valuation import features
from valuation.churn.frame import (
    FEATURES,
    RULES,
    churn_frame,
    feature_matrix,
    history_start,
    horizon_end,
    label,
)
from valuation.churn.model import ChurnModel
from valuation.config import Settings
from valuation.store import Store, json_default

__all__ = [
    "assert_no_lookahead",
    "card_path",
    "eligible_dates",
    "evaluate",
    "load_model",
    "model_path",
    "score_accounts",
    "score_store",
    "time_split",
    "train",
    "training_set",
]

def eligible_dates(store: Store, *, horizon_months: int, min_history_months: int = 6
                   ) -> list[date]:
    """Month ends usable as training snapshots, oldest first: at least ``min_history_months``
    billed months observed before (so 3-month trends exist), and the whole horizon after it
    observed by the data's as-of date."""
    data_as_of = features.data_as_of(store)
    start = history_start(store)
    if data_as_of is None or start is None:
        return []
    first = pd.Timestamp(start) + pd.offsets.MonthEnd(int(min_history_months))
    ends = pd.date_range(first, pd.Timestamp(data_as_of), freq="ME")
    return [d.date() for d in ends if horizon_end(d, horizon_months) <= pd.Timestamp(data_as_of)]


def training_set(store: Store, *, settings: Settings, horizon_months: int | None = None,
                 as_of_dates: list[date] | None = None,
                 min_history_months: int = 6) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """Features, labels and ``meta`` (account_id, as_of) stacked over snapshot dates.

    For each date (default: :func:`eligible_dates`) the churn frame as of that date, restricted
    to accounts onboarded and not churned by then; the label is churn within the horizon
    (default ``churn.horizon_months``). The rows' order is by date, then account."""
    h = _horizon(horizon_months, settings)
    dates = list(as_of_dates) if as_of_dates is not None else eligible_dates(
        store, horizon_months=h, min_history_months=min_history_months)
    data_as_of = features.data_as_of(store)
    late = [d for d in dates if data_as_of is None or horizon_end(d, h) > pd.Timestamp(data_as_of)]
    if late:
        raise ValueError(f"the {h}-month horizon after {late[0]} is not observed "
                         f"(data as of {data_as_of})")
    churn = store.query("SELECT account_id, min(churn_date) AS churn_date FROM churn_events "
                        "GROUP BY account_id")
    first_churn = pd.Series(pd.to_datetime(churn["churn_date"]).to_numpy(),
                            index=churn["account_id"].astype(str).to_numpy())
    xs, ys, metas = [], [], []
    for d in dates:
        fr = churn_frame(store, as_of=d)
        live = fr[~fr["churned"].astype(bool)]
        xs.append(feature_matrix(live, settings=settings))
        ids = live["account_id"].astype(str)
        ys.append(label(ids.map(first_churn), d, h).to_numpy())
        metas.append(pd.DataFrame({"account_id": ids.to_numpy(),
                                   "as_of": np.full(len(live), pd.Timestamp(d))}))
    if not xs:
        return (pd.DataFrame(columns=list(FEATURES), dtype="float32"),
                pd.Series([], dtype=bool, name="churn"),
                pd.DataFrame({"account_id": pd.Series([], dtype=str),
                              "as_of": pd.Series([], dtype="datetime64[ns]")}))
    x = pd.concat(xs, ignore_index=True)
    y = pd.Series(np.concatenate(ys), name="churn")
    meta = pd.concat(metas, ignore_index=True)
    meta.attrs["horizon_months"] = h
    return x, y, meta


def time_split(meta: pd.DataFrame, *, horizon_months: int,
               validation_dates: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (train, validation) over the rows of ``meta``.

    Validation: the latest ``validation_dates`` as-of dates. Training: dates whose label
    window ended on or before the first validation date (purged), so neither a training
    row nor a training label comes from the validation period. Never a random split."""
    when = pd.to_datetime(meta["as_of"])
    dates = sorted(when.unique())
    if len(dates) < 2:
        raise ValueError("a time split needs at least two as-of dates")
    first_valid = pd.Timestamp(dates[-int(validation_dates)])
    valid = (when >= first_valid).to_numpy()
    ok = [d for d in dates if horizon_end(d, horizon_months) <= first_valid]
    if not ok:
        raise ValueError(f"no as-of date has its {horizon_months}-month label window closed by "
                         f"the validation date {first_valid.date()}: history too short")
    train = when.isin(ok).to_numpy()
    return train, valid


def evaluate(store: Store, *, settings: Settings, horizon_months: int | None = None,
             validation_dates: int = 1, n_boot: int = 200, random_state: int = 0,
             data: tuple[pd.DataFrame, pd.Series, pd.DataFrame] | None = None) -> dict[str, Any]:
    """Time-split evaluation: the calibrated model, the logistic baseline and the rules-only
    baseline on the held-out latest as-of date(s), trained on the purged earlier dates.

    Metrics per method: AUC (95% bootstrap interval), PR-AUC (average precision), Brier score
    and lift in the top decile (churn rate among the riskiest 10% / overall; ties shared
    out evenly); plus the Brier score of predicting the training base rate, the AUC gain of
    the model over the rules with a paired bootstrap interval, and event counts. JSON-safe.
    ``data`` reuses a ``training_set`` result."""
    h = _horizon(horizon_months, settings)
    x, y, meta = data if data is not None else training_set(store, settings=settings,
                                                            horizon_months=h)
    out: dict[str, Any] = {"horizon_months": h, "data_as_of": _iso(features.data_as_of(store)),
                           "data_version": store.data_version}
    try:
        tr, va = time_split(meta, horizon_months=h, validation_dates=validation_dates)
    except ValueError as exc:
        return {**out, "method": "none", "error": str(exc)}
    model = ChurnModel(horizon_months=h, min_events=int(settings.get("churn.min_events")),
                       random_state=random_state)
    model.fit(x[tr], y[tr], groups=meta["account_id"][tr])
    yv = y[va].to_numpy().astype(int)
    xv = x[va]
    train_dates = sorted(pd.to_datetime(meta["as_of"][tr]).unique())
    valid_dates = sorted(pd.to_datetime(meta["as_of"][va]).unique())
    out.update({
        "method": "rules" if model.fallback_ else "model",
        "message": model.card_["message"],
        "train": {"as_of_first": _iso(train_dates[0]), "as_of_last": _iso(train_dates[-1]),
                  "dates": len(train_dates), "rows": int(tr.sum()),
                  "events": model.n_events_, "positive_rows": model.n_positive_rows_,
                  "base_rate": round(model.base_rate_, 6)},
        "validation": {"as_of": [_iso(d) for d in valid_dates], "rows": int(va.sum()),
                       "events": int(meta["account_id"][va][yv == 1].nunique()),
                       "base_rate": round(float(yv.mean()), 6) if len(yv) else None},
    })
    scores = {"rules": (x[va][[r.name for r in RULES]].to_numpy().sum(1).astype(float),
                        model.rules_proba(xv))}
    if not model.fallback_:
        scores = {"model": (model.risk(xv),) * 2,
                  "logistic": (model.baseline_proba(xv),) * 2, **scores}
    rng = np.random.default_rng(random_state)
    weights = rng.poisson(1.0, (n_boot, len(yv))).astype(np.float32) if n_boot else None
    metrics = {name: _metrics(yv, s, p, weights) for name, (s, p) in scores.items()}
    metrics["base_rate"] = {"brier": _round(brier_score_loss(yv, np.full(len(yv),
                                                                         model.base_rate_)))
                            if len(yv) else None}
    out["metrics"] = metrics
    if not model.fallback_ and weights is not None and 0 < yv.sum() < len(yv):
        diff = (_boot_auc(yv, scores["model"][0], weights)
                - _boot_auc(yv, scores["rules"][0], weights))
        gain = metrics["model"]["auc"] - metrics["rules"]["auc"]
        out["auc_gain_vs_rules"] = {"diff": _round(gain),
                                    "low": _round(np.percentile(diff, 2.5)),
                                    "high": _round(np.percentile(diff, 97.5))}
        out["beats_rules"] = bool(gain > 0)
    return out


def train(store: Store, *, settings: Settings, horizon_months: int | None = None,
          path: str | Path | None = None, random_state: int = 0,
          evaluation: bool = True) -> dict[str, Any]:
    """Fit on every eligible as-of date and save the model (joblib) and its card (JSON).

    The card: method, message, horizon, data version and as-of, snapshot dates, features,
    rules and their thresholds, events, the time-split metrics (``evaluate`` on the same
    snapshots, unless ``evaluation`` is False), estimator settings, library versions,
    intended use and limitations. ``path`` defaults to ``<db stem>.churn.joblib`` beside the
    database; the card goes to the same name ending ``.json``. Returns the card plus
    ``model_path``/``card_path``. Below ``churn.min_events`` the saved model ranks by the rules
    and the card says so."""
    h = _horizon(horizon_months, settings)
    t0 = datetime.now(UTC)
    data = training_set(store, settings=settings, horizon_months=h)
    x, y, meta = data
    dates = sorted(pd.to_datetime(meta["as_of"]).unique())
    metrics = evaluate(store, settings=settings, horizon_months=h, random_state=random_state,
                       data=data) if evaluation and len(dates) >= 2 else None
    model = ChurnModel(horizon_months=h, min_events=int(settings.get("churn.min_events")),
                       random_state=random_state).fit(x, y, groups=meta["account_id"])
    if not dates:
        model.card_["message"] = (
            f"No month end has {h} months of observed follow-up and 6 months of history before "
            "it: no model was learned; accounts are ranked by the transparent rules instead.")
    target = Path(path) if path is not None else model_path(store.path)
    card = {
        "name": "churn propensity",
        **model.card_,
        "data_version": store.data_version,
        "data_as_of": _iso(features.data_as_of(store)),
        "as_of_dates": {"first": _iso(dates[0]) if dates else None,
                        "last": _iso(dates[-1]) if dates else None, "count": len(dates)},
        "accounts": int(meta["account_id"].nunique()),
        "rule_settings": {s: settings.get(s) for r in RULES for s in r.settings},
        "evaluation": metrics,
        "trained_at": t0.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "train_seconds": round((datetime.now(UTC) - t0).total_seconds(), 1),
        "versions": {"scikit-learn": sklearn.__version__, "numpy": np.__version__,
                     "pandas": pd.__version__},
        "intended_use": (
            f"Rank live government & enterprise accounts by the chance of churning within "
            f"{h} months, to plan retention; probabilities are calibrated on this portfolio's "
            "history. Advice for account teams, not an automatic decision."),
        "limitations": [
            "Account profile attributes (employees, revenue, credit rating) and holding "
            "revenues are undated: they are taken as they are now at every snapshot.",
            "Churn reasons are not features; an account is labelled by its first churn.",
            "Trained on month-end snapshots; score month-end data for like-for-like features.",
            "Top factors explain the logistic baseline, not each boosted tree.",
        ],
    }
    model.card_ = card
    target.parent.mkdir(parents=True, exist_ok=True)
    cpath = card_path(target)
    # written beside and renamed into place: a reader never sees half a file
    tmp_model, tmp_card = (target.with_name(target.name + ".tmp"),
                           cpath.with_name(cpath.name + ".tmp"))
    joblib.dump(model, tmp_model)
    tmp_card.write_text(json.dumps(card, ensure_ascii=False, indent=2, default=json_default),
                        encoding="utf-8")
    tmp_card.replace(cpath)
    tmp_model.replace(target)
    return {**card, "model_path": str(target), "card_path": str(cpath)}


def model_path(db_path: str | Path) -> Path:
    """Where the churn model of a database lives: ``<db stem>.churn.joblib`` beside it."""
    p = Path(db_path)
    return p.with_name(f"{p.stem}.churn.joblib")


def card_path(model_file: str | Path) -> Path:
    """The model card beside a saved model: the same name ending ``.json``."""
    return Path(model_file).with_suffix(".json")


def load_model(path: str | Path) -> ChurnModel:
    """A model saved by :func:`train` (its card in ``card_``)."""
    model = joblib.load(Path(path))
    if not isinstance(model, ChurnModel):
        raise ValueError(f"{path} does not hold a churn model")
    return model


def score_accounts(model: ChurnModel, frame: pd.DataFrame, *, settings: Settings,
                   k: int = 3) -> pd.DataFrame:
    """Churn probability, rules score and top ``k`` factors for the live accounts of a churn
    frame (``churn_frame``): one row per live account, indexed like ``frame`` (churned rows
    are left out). Sort by churn_probability, then rules_score, for a risk ranking."""
    live = frame[~frame["churned"].astype(bool)]
    x = feature_matrix(live, settings=settings)
    out = pd.DataFrame({
        "account_id": live["account_id"].to_numpy(),
        "churn_probability": model.risk(x),
        "rules_score": x[[r.name for r in RULES]].to_numpy().sum(1).astype(np.int64),
    }, index=live.index)
    return pd.concat([out, model.top_factors(x, k=k)], axis=1)


def score_store(model: ChurnModel, store: Store, *, settings: Settings,
                as_of: date | None = None, k: int = 3) -> pd.DataFrame:
    """:func:`score_accounts` on the store's churn frame as of ``as_of`` (default: the data's)."""
    return score_accounts(model, churn_frame(store, as_of=as_of), settings=settings, k=k)


def assert_no_lookahead(store: Store, as_of: date, *, settings: Settings,
                        frame_builder: Any = None) -> None:
    """Raise AssertionError unless the features at ``as_of`` equal those built from a copy of
    the store truncated at ``as_of``: every fact dated after it removed (bills, holdings and
    contracts that start later, interactions, churn events, member lines and their days,
    accounts onboarded later) and every end date after it blanked (holdings and lines still
    open then). ``frame_builder(store, as_of=...)`` defaults to :func:`churn_frame`.

    Costs a copy of the store: for tests and audits, not for every run."""
    build = frame_builder or churn_frame
    d = pd.Timestamp(as_of)
    full = build(store, as_of=d.date())
    tmp = Path(tempfile.mkdtemp(prefix="lookahead-"))
    try:
        with Store(tmp / "truncated.duckdb") as cut:
            cut.replace_facts(_truncate(store, d), source=f"truncated at {d.date()}")
            past = build(cut, as_of=d.date())
            left, right = (feature_matrix(f[~f["churned"].astype(bool)], settings=settings)
                           .set_axis(f["account_id"][~f["churned"].astype(bool)].astype(str))
                           for f in (full, past))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not left.index.equals(right.index):
        raise AssertionError(f"accounts live at {d.date()} differ once later facts are removed")
    diff = (left - right).abs().to_numpy() > 1e-5 * (1 + right.abs().to_numpy())
    if diff.any():
        rows, cols = np.nonzero(diff)
        raise AssertionError(
            f"look-ahead at {d.date()}: {len(set(rows))} accounts' features change when facts "
            f"after that date are removed (e.g. {left.index[rows[0]]}: "
            f"{', '.join(sorted({left.columns[c] for c in cols})[:6])})")


# ---------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------
def _horizon(horizon_months: int | None, settings: Settings) -> int:
    h = int(horizon_months if horizon_months is not None else settings.get("churn.horizon_months"))
    if h < 1:
        raise ValueError("the horizon is at least one month")
    return h


def _metrics(y: np.ndarray, score: np.ndarray, prob: np.ndarray,
             weights: np.ndarray | None) -> dict[str, Any]:
    if len(y) == 0 or y.min() == y.max():
        return {"auc": None, "auc_low": None, "auc_high": None, "pr_auc": None,
                "brier": _round(brier_score_loss(y, prob)) if len(y) else None,
                "lift_top_decile": None}
    auc = float(roc_auc_score(y, score))
    low = high = None
    if weights is not None and len(weights):
        boots = _boot_auc(y, score, weights)
        low, high = np.percentile(boots, [2.5, 97.5])
    return {"auc": _round(auc), "auc_low": _round(low), "auc_high": _round(high),
            "pr_auc": _round(average_precision_score(y, score)),
            "brier": _round(brier_score_loss(y, prob)),
            "lift_top_decile": _round(_lift(y, score, 0.1))}


def _lift(y: np.ndarray, score: np.ndarray, share: float) -> float:
    """Churn rate among the top ``share`` by score over the overall rate; the accounts tied at
    the cut count in proportion (the expected value under random tie-breaking)."""
    n = len(y)
    n_top = max(1, int(math.ceil(share * n)))
    cut = np.sort(score)[::-1][n_top - 1]
    above = score > cut
    tied = score == cut
    hits = y[above].sum() + (n_top - above.sum()) * y[tied].mean()
    return float((hits / n_top) / y.mean())


def _boot_auc(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUC under each row of bootstrap weights (Poisson bootstrap), ties counted half."""
    order = np.argsort(score, kind="stable")
    s = score[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    yo = y[order].astype(np.float32)
    out = []
    for lo in range(0, len(weights), 25):
        w = weights[lo: lo + 25][:, order]
        pos = np.add.reduceat(w * yo, starts, axis=1)
        neg = np.add.reduceat(w * (1 - yo), starts, axis=1)
        below = np.cumsum(neg, axis=1) - neg
        num = (pos * (below + 0.5 * neg)).sum(1, dtype=np.float64)
        den = pos.sum(1, dtype=np.float64) * neg.sum(1, dtype=np.float64)
        out.append(np.where(den > 0, num / np.where(den > 0, den, 1), np.nan))
    res = np.concatenate(out)
    return res[np.isfinite(res)]


def _truncate(store: Store, d: pd.Timestamp) -> dict[str, pd.DataFrame]:
    day = d.date()
    q = store.query
    return {
        "teams": store.read_table("teams"),
        "users": store.read_table("users"),
        "competitors": store.read_table("competitors"),
        "products": store.read_table("products"),
        "accounts": q("SELECT * FROM accounts WHERE onboard_date <= ?", [day]),
        "holdings": q("SELECT * REPLACE (CASE WHEN end_date > ? THEN NULL ELSE end_date END "
                      "AS end_date) FROM holdings WHERE start_date <= ?", [day, day]),
        "contracts": q("SELECT * FROM contracts WHERE start_date <= ?", [day]),
        "billing_monthly": q("SELECT * FROM billing_monthly WHERE month <= ?", [day]),
        "lines": q("SELECT * REPLACE (CASE WHEN close_date > ? THEN NULL ELSE close_date END "
                   "AS close_date) FROM lines WHERE open_date <= ?", [day, day]),
        "line_daily": q("SELECT * FROM line_daily WHERE day <= ?", [day]),
        "interactions": q("SELECT * FROM interactions WHERE date <= ?", [day]),
        "churn_events": q("SELECT * FROM churn_events WHERE churn_date <= ?", [day]),
    }


def _iso(d: Any) -> str | None:
    return None if d is None else pd.Timestamp(d).date().isoformat()


def _round(v: Any, digits: int = 4) -> float | None:
    if v is None:
        return None
    v = float(v)
    return None if not math.isfinite(v) else round(v, digits)
