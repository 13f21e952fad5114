"""Training, evaluation (time split or cross-sectional), the saved model and its card,
scoring, the look-ahead check.

``training_set`` rebuilds the portfolio as it was at month ends of the history
(``churn_frame``: the account frame of :mod:`valuation.features` plus dated roll-ups),
keeps the accounts live at each date and labels churn within the horizon after it:
``as_of < churn_date <= horizon_end(as_of, horizon)``. Its features are ``FEATURES`` plus
indicators for the most held products of ours at the latest date. Nothing dated after an
as-of date reaches its features (``assert_no_lookahead`` proves it on any store).

``evaluate`` and ``train`` pick one of three designs, and say which (``mode``, ``status``):

- ``time_split``: validate on the latest as-of date whose horizon is fully observed,
  training only on dates whose whole label window ended by then (a purged time split: no
  training label looks into the validation window); used when those training dates hold
  at least ``churn.min_events`` churn events. ``train`` fits on every eligible date.
- ``cross_sectional``: when the history cannot feed the time split (snapshot exports: one
  row per customer, every churn in the last month), the latest labelled date alone,
  evaluated by stratified k-fold out-of-fold predictions; ``train`` fits on that date.
- ``rules_fallback``: when even that date holds fewer than ``churn.min_events`` events:
  no model, accounts are ranked by the transparent rules.

Both report every rule against history (``rule_evaluation``) and the mean predicted
probability against the observed churn rate on the evaluation rows.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold

from valuation import features
from valuation.churn.frame import (
    FEATURES,
    PRODUCT_PREFIX,
    RULES,
    churn_frame,
    feature_labels,
    feature_matrix,
    history_start,
    horizon_end,
    label,
    product_feature,
    rule_evaluation,
    top_products,
)
from valuation.churn.model import ChurnModel
from valuation.config import Settings
from valuation.store import Store, json_default

__all__ = [
    "assert_no_lookahead",
    "card_path",
    "eligible_dates",
    "evaluate",
    "latest_labelled_date",
    "load_model",
    "model_path",
    "score_accounts",
    "score_store",
    "time_split",
    "train",
    "training_set",
]

_FOLDS = 5  # cross-sectional mode: stratified folds of out-of-fold predictions
_MIN_HOLDERS = 10  # a product indicator needs at least this many holders
_PRODUCT_FEATURES = 12  # default of the setting churn.product_features


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


def latest_labelled_date(store: Store, *, horizon_months: int) -> date | None:
    """The latest month end whose whole horizon is observed by the data's as-of date (and
    with at least its own month billed): the date of the cross-sectional mode. None when no
    month end qualifies."""
    data_as_of = features.data_as_of(store)
    start = history_start(store)
    if data_as_of is None or start is None:
        return None
    ends = pd.date_range(pd.Timestamp(start) + pd.offsets.MonthEnd(0), pd.Timestamp(data_as_of),
                         freq="ME")
    ok = [d for d in ends if horizon_end(d, horizon_months) <= pd.Timestamp(data_as_of)]
    return ok[-1].date() if ok else None


def training_set(store: Store, *, settings: Settings, horizon_months: int | None = None,
                 as_of_dates: list[date] | None = None, min_history_months: int = 6,
                 products: Sequence[str] | None = None
                 ) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """Features, labels and ``meta`` (account_id, as_of) stacked over snapshot dates.

    For each date (default: :func:`eligible_dates`) the churn frame as of that date, restricted
    to accounts onboarded and not churned by then; the label is churn within the horizon
    (default ``churn.horizon_months``). The features are ``FEATURES`` plus a ``holds_<id>``
    indicator per product in ``products`` (default: :func:`top_products` at the latest date,
    ``churn.product_features`` of them, each held by at least 10 live accounts; ``()``:
    none); ``meta.attrs["products"]`` lists them. The rows' order is by date, then account."""
    h = _horizon(horizon_months, settings)
    dates = list(as_of_dates) if as_of_dates is not None else eligible_dates(
        store, horizon_months=h, min_history_months=min_history_months)
    data_as_of = features.data_as_of(store)
    late = [d for d in dates if data_as_of is None or horizon_end(d, h) > pd.Timestamp(data_as_of)]
    if late:
        raise ValueError(f"the {h}-month horizon after {late[0]} is not observed "
                         f"(data as of {data_as_of})")
    first_churn = _first_churn(store)
    built: dict[date, pd.DataFrame] = {}
    if products is None:
        products = []
        if dates:  # the most held products at the latest date
            last = max(dates, key=pd.Timestamp)
            built[last] = churn_frame(store, as_of=last)
            products = top_products(_live(built[last]), n=_n_products(settings),
                                    min_holders=_MIN_HOLDERS)
    products = [str(p) for p in products]
    xs, ys, metas = [], [], []
    for d in dates:
        fr = built.pop(d, None)
        live = _live(fr if fr is not None else churn_frame(store, as_of=d))
        xs.append(feature_matrix(live, settings=settings, products=products))
        ids = live["account_id"].astype(str)
        ys.append(label(ids.map(first_churn), d, h).to_numpy())
        metas.append(pd.DataFrame({"account_id": ids.to_numpy(),
                                   "as_of": np.full(len(live), pd.Timestamp(d))}))
    if not xs:
        x = pd.DataFrame(columns=[*FEATURES, *(product_feature(p) for p in products)],
                         dtype="float32")
        y = pd.Series([], dtype=bool, name="churn")
        meta = pd.DataFrame({"account_id": pd.Series([], dtype=str),
                             "as_of": pd.Series([], dtype="datetime64[ns]")})
    else:
        x = pd.concat(xs, ignore_index=True)
        y = pd.Series(np.concatenate(ys), name="churn")
        meta = pd.concat(metas, ignore_index=True)
    meta.attrs["horizon_months"] = h
    meta.attrs["products"] = products
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
             data: tuple[pd.DataFrame, pd.Series, pd.DataFrame] | None = None,
             folds: int = _FOLDS) -> dict[str, Any]:
    """The calibrated model, the logistic baseline and the rules-only baseline, evaluated
    the way the history allows (``mode``; ``status`` says what ``train`` would save):

    - ``time_split``: trained on the purged earlier dates, scored on the held-out latest
      as-of date(s), when the training dates hold at least ``churn.min_events`` events;
    - ``cross_sectional``: otherwise, the latest labelled date's accounts, each scored by
      a model fitted on the other ``folds`` - 1 stratified folds (seeded);
    - status ``rules_fallback``: that date has fewer than ``churn.min_events`` events (only
      the rules are scored, out of fold), or no month end is labelled (``mode`` "none").

    Metrics per method: AUC (95% bootstrap interval), PR-AUC (average precision), Brier score
    and lift in the top decile (churn rate among the riskiest 10% / overall; ties shared
    out evenly); plus the Brier score of predicting the training base rate, the AUC gain of
    the model over the rules with a paired bootstrap interval, event counts, the mean
    predicted probability against the observed rate (``mean_predicted``, ``observed_rate``,
    ``calibration_ok``), every rule on the evaluation rows (``rules_evaluation``) and
    ``reason`` (why this mode). JSON-safe. ``data`` reuses a ``training_set`` result."""
    h = _horizon(horizon_months, settings)
    plan = _plan(store, settings=settings, horizon_months=h, validation_dates=validation_dates,
                 data=data)
    if plan["mode"] == "time_split":
        data = data if data is not None else training_set(store, settings=settings,
                                                          horizon_months=h)
    elif plan["mode"] == "cross_sectional":
        data = _rows_at(store, settings=settings, horizon_months=h, as_of=plan["as_of"],
                        data=data)
    return _evaluate(store, settings=settings, horizon_months=h, plan=plan, data=data,
                     validation_dates=validation_dates, n_boot=n_boot,
                     random_state=random_state, folds=folds)


def train(store: Store, *, settings: Settings, horizon_months: int | None = None,
          path: str | Path | None = None, random_state: int = 0,
          evaluation: bool = True,
          progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Fit the model the history allows and save it (joblib) with its card (JSON).

    ``time_split`` (see :func:`evaluate`): fitted on every eligible as-of date;
    ``cross_sectional``: on the latest labelled date's accounts; ``rules_fallback``: no
    model, the rules' churn rates on those rows. The card: status, mode, reason, method,
    message, horizon, data version and as-of, snapshot dates, features (the product
    indicators picked and their labels), rules, their thresholds and their record on the
    training rows (``rules_evaluation``), events, the evaluation (``evaluate`` on the same
    rows, unless ``evaluation`` is False), the mean predicted probability against the
    observed rate on the evaluation rows (in-sample without an evaluation), estimator
    settings, library versions, intended use and limitations (plain language, naming the
    mode's own). ``path`` defaults to ``<db stem>.churn.joblib`` beside the database; the
    card goes to the same name ending ``.json``. Returns the card plus
    ``model_path``/``card_path``. ``progress`` is told each stage as it starts: ``plan``,
    ``rows``, ``evaluate``, ``fit``, ``save``."""
    say = progress or (lambda _stage: None)
    h = _horizon(horizon_months, settings)
    t0 = datetime.now(UTC)
    say("plan")
    plan = _plan(store, settings=settings, horizon_months=h)
    say("rows")
    if plan["mode"] == "time_split":
        data = training_set(store, settings=settings, horizon_months=h)
    elif plan["mode"] == "cross_sectional":
        data = _rows_at(store, settings=settings, horizon_months=h, as_of=plan["as_of"])
    else:
        data = training_set(store, settings=settings, horizon_months=h, as_of_dates=[])
    x, y, meta = data
    dates = sorted(pd.to_datetime(meta["as_of"]).unique())
    if evaluation:
        say("evaluate")
    metrics = _evaluate(store, settings=settings, horizon_months=h, plan=plan, data=data,
                        random_state=random_state) if evaluation else None
    # one row per account on one date: stratified calibration folds, as in the evaluation
    groups = meta["account_id"] if plan["mode"] == "time_split" else None
    say("fit")
    model = _model(settings, h, random_state).fit(x, y, groups=groups)
    if model.fallback_ and plan["mode"] == "none":
        model.card_["message"] = (
            f"No month end has {h} months of observed follow-up: no model was learned; "
            "accounts are ranked by the transparent rules instead.")
    status = "rules_fallback" if model.fallback_ else plan["mode"]
    if metrics is not None:
        mean_predicted, observed = metrics.get("mean_predicted"), metrics.get("observed_rate")
        check = "evaluation rows (" + ("held-out date" if plan["mode"] == "time_split"
                                       else "out-of-fold") + ")"
    else:
        mean_predicted = _round(float(model.risk(x).mean())) if len(x) else None
        observed = _round(float(y.mean())) if len(y) else None
        check = "training rows (in-sample: evaluation skipped)"
    rules_eval = rule_evaluation(x, y)
    target = Path(path) if path is not None else model_path(store.path)
    labels = feature_labels(model.features_, store.read_table("products"))
    model.feature_labels_ = labels
    card = {
        "name": "churn propensity",
        "status": status,
        "mode": plan["mode"],
        "reason": plan["reason"],
        **model.card_,
        "data_version": store.data_version,
        "data_as_of": _iso(features.data_as_of(store)),
        "as_of_dates": {"first": _iso(dates[0]) if dates else None,
                        "last": _iso(dates[-1]) if dates else None, "count": len(dates)},
        "accounts": int(meta["account_id"].nunique()),
        "product_labels": {f: labels[f] for f in model.features_ if f not in FEATURES},
        "rule_settings": {s: settings.get(s) for r in RULES for s in r.settings},
        "rules_evaluation": _records(rules_eval),
        "mean_predicted": mean_predicted,
        "observed_rate": observed,
        "calibration_ok": _calibration_ok(mean_predicted, observed),
        "calibration_check": check,
        "evaluation": metrics,
        "trained_at": t0.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "train_seconds": round((datetime.now(UTC) - t0).total_seconds(), 1),
        "versions": {"scikit-learn": sklearn.__version__, "numpy": np.__version__,
                     "pandas": pd.__version__},
        "intended_use": (
            f"Rank live government & enterprise accounts by the chance of churning within "
            f"{h} months, to plan retention; probabilities are calibrated on this portfolio's "
            "history. Advice for account teams, not an automatic decision."),
        "limitations": _limitations(status, plan, h, rules_eval, mean_predicted, observed),
    }
    model.card_ = card
    say("save")
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
    """A model saved by :func:`train` (its card in ``card_``).

    A model saved by an earlier version (before product indicators, ``rule_no_contract``
    and the card's status) scores as it was trained: on its own ``features_`` and rules,
    no product indicators, status ``time_split`` (or ``rules_fallback``) on its card. One
    that reads a feature this version no longer builds raises ValueError: retrain it."""
    model = joblib.load(Path(path))
    if not isinstance(model, ChurnModel):
        raise ValueError(f"{path} does not hold a churn model")
    if not hasattr(model, "features_") or not hasattr(model, "fallback_"):
        raise ValueError(f"{path} holds a churn model that was never fitted: retrain it "
                         "(valuation churn train)")
    held = [f for f in model.features_ if f.startswith(PRODUCT_PREFIX)]
    unknown = [f for f in model.features_ if f not in FEATURES and f not in held]
    if unknown:
        raise ValueError(f"{path} was trained on features this version no longer builds "
                         f"({', '.join(unknown[:5])}): retrain it (valuation churn train)")
    defaults = {"product_features": 0, "min_product_holders": _MIN_HOLDERS,
                "products_": [f[len(PRODUCT_PREFIX):] for f in held],
                "rules_": [r.name for r in RULES if r.name in model.features_]}
    for name, value in defaults.items():
        if not hasattr(model, name):
            setattr(model, name, value)
    if not hasattr(model, "feature_labels_"):
        model.feature_labels_ = feature_labels(model.features_)
    card = getattr(model, "card_", None)
    if isinstance(card, dict):
        card.setdefault("status", "rules_fallback" if model.fallback_ else "time_split")
        card.setdefault("mode", "time_split")
    return model


def score_accounts(model: ChurnModel, frame: pd.DataFrame, *, settings: Settings,
                   k: int = 3) -> pd.DataFrame:
    """Churn probability, rules score and top ``k`` factors for the live accounts of a churn
    frame (``churn_frame``): one row per live account, indexed like ``frame`` (churned rows
    are left out). Sort by churn_probability, then rules_score, for a risk ranking."""
    live = frame[~frame["churned"].astype(bool)]
    x = feature_matrix(live, settings=settings, products=getattr(model, "products_", []))
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
                        frame_builder: Any = None, products: Sequence[str] | None = None
                        ) -> None:
    """Raise AssertionError unless the features at ``as_of`` equal those built from a copy of
    the store truncated at ``as_of``: every fact dated after it removed (bills, holdings and
    contracts that start later, interactions, churn events, member lines and their days,
    accounts onboarded later) and every end date after it blanked (holdings and lines still
    open then). ``frame_builder(store, as_of=...)`` defaults to :func:`churn_frame`; the
    product indicators checked default to every product of ours held at ``as_of``.

    Costs a copy of the store: for tests and audits, not for every run."""
    build = frame_builder or churn_frame
    d = pd.Timestamp(as_of)
    full = build(store, as_of=d.date())
    if products is None:
        products = (top_products(_live(full), n=None, min_holders=1)
                    if "our_product_ids" in full.columns else [])
    tmp = Path(tempfile.mkdtemp(prefix="lookahead-"))
    try:
        with Store(tmp / "truncated.duckdb") as cut:
            cut.replace_facts(_truncate(store, d), source=f"truncated at {d.date()}")
            past = build(cut, as_of=d.date())
            left, right = (feature_matrix(_live(f), settings=settings, products=products)
                           .set_axis(_live(f)["account_id"].astype(str))
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


def _n_products(settings: Settings) -> int:
    """``churn.product_features``: how many product indicators a model may learn (0: none)."""
    return max(int(settings.values.get("churn.product_features", _PRODUCT_FEATURES)), 0)


def _model(settings: Settings, h: int, random_state: int, min_events: int | None = None
           ) -> ChurnModel:
    return ChurnModel(horizon_months=h, product_features=_n_products(settings),
                      min_product_holders=_MIN_HOLDERS, random_state=random_state,
                      min_events=int(settings.get("churn.min_events")
                                     if min_events is None else min_events))


def _live(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[~frame["churned"].astype(bool)]


def _first_churn(store: Store) -> pd.Series:
    churn = store.query("SELECT account_id, min(churn_date) AS churn_date FROM churn_events "
                        "GROUP BY account_id")
    return pd.Series(pd.to_datetime(churn["churn_date"]).to_numpy(),
                     index=churn["account_id"].astype(str).to_numpy())


def _plan(store: Store, *, settings: Settings, horizon_months: int, validation_dates: int = 1,
          data: tuple[pd.DataFrame, pd.Series, pd.DataFrame] | None = None) -> dict[str, Any]:
    """Which design the history allows: ``mode`` (time_split, cross_sectional or none),
    ``as_of`` (the cross-sectional date) and ``reason`` in words. Reads the labels only
    (the accounts' onboarding and first churn dates), not the features, unless ``data``."""
    h = horizon_months
    min_events = int(settings.get("churn.min_events"))
    try:
        if data is not None:
            _, y, meta = data
            tr, va = time_split(meta, horizon_months=h, validation_dates=validation_dates)
            pos = tr & np.asarray(y).astype(bool)
            events = int(meta["account_id"][pos].nunique())
            when = pd.to_datetime(meta["as_of"])
            train_dates, valid_first = sorted(when[tr].unique()), when[va].min()
        else:
            events, train_dates, valid_first = _split_events(
                store, eligible_dates(store, horizon_months=h), h, validation_dates)
    except ValueError as exc:
        reason = f"No time split: {exc}."
    else:
        span = f"{_iso(train_dates[0])} to {_iso(train_dates[-1])}"
        if events >= min_events:
            return {"mode": "time_split", "as_of": None, "reason": (
                f"Time split: {events} churn events in the purged training dates ({span}), "
                f"at least churn.min_events = {min_events}; validated on the later date(s) "
                f"from {_iso(valid_first)}.")}
        reason = (f"No time split: only {events} churn events in the purged training dates "
                  f"({span}), fewer than churn.min_events = {min_events}.")
    d = latest_labelled_date(store, horizon_months=h)
    if d is None:
        return {"mode": "none", "as_of": None,
                "reason": f"{reason} No month end has its {h}-month horizon observed."}
    return {"mode": "cross_sectional", "as_of": d, "reason": (
        f"{reason} Cross-sectional instead: the accounts live at {d.isoformat()} (the latest "
        f"month end with its {h}-month horizon observed), churn within {h} month(s) after it, "
        f"{_FOLDS}-fold stratified out-of-fold predictions.")}


def _split_events(store: Store, dates: list[date], h: int, validation_dates: int
                  ) -> tuple[int, list[pd.Timestamp], pd.Timestamp]:
    """The time split over ``dates`` from the labels alone: churn events (distinct accounts)
    in the purged training dates, those dates, the first validation date. Raises
    ValueError as :func:`time_split` does."""
    acc = store.query("SELECT account_id, onboard_date FROM accounts")
    onboard = pd.to_datetime(acc["onboard_date"]).to_numpy()
    churn = pd.to_datetime(acc["account_id"].astype(str).map(_first_churn(store))).to_numpy()
    stamps = [pd.Timestamp(d) for d in dates]
    live = {d: (onboard <= d.to_datetime64()) & ~(churn <= d.to_datetime64()) for d in stamps}
    with_rows = sorted(d for d in stamps if live[d].any())
    meta = pd.DataFrame({"account_id": np.zeros(len(with_rows)), "as_of": with_rows})
    tr, va = time_split(meta, horizon_months=h, validation_dates=validation_dates)
    train_dates = [d for d, t in zip(with_rows, tr, strict=True) if t]
    hit = np.zeros(len(onboard), dtype=bool)
    for d in train_dates:  # a loop over dates, vectorised over accounts
        hit |= live[d] & (churn > d.to_datetime64()) \
            & (churn <= horizon_end(d, h).to_datetime64())
    return int(hit.sum()), train_dates, with_rows[int(np.flatnonzero(va)[0])]


def _rows_at(store: Store, *, settings: Settings, horizon_months: int, as_of: date,
             data: tuple[pd.DataFrame, pd.Series, pd.DataFrame] | None = None
             ) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """The training set of one as-of date: taken from ``data`` when it holds that date (and
    picked its products there), else built."""
    if data is not None:
        x, y, meta = data
        when = pd.to_datetime(meta["as_of"])
        if len(when) and when.max() == pd.Timestamp(as_of):
            keep = (when == pd.Timestamp(as_of)).to_numpy()
            sub = meta[keep].reset_index(drop=True)
            sub.attrs = dict(meta.attrs)
            return x[keep].reset_index(drop=True), y[keep].reset_index(drop=True), sub
    return training_set(store, settings=settings, horizon_months=horizon_months,
                        as_of_dates=[as_of])


def _evaluate(store: Store, *, settings: Settings, horizon_months: int, plan: dict[str, Any],
              data: tuple[pd.DataFrame, pd.Series, pd.DataFrame] | None,
              validation_dates: int = 1, n_boot: int = 200, random_state: int = 0,
              folds: int = _FOLDS) -> dict[str, Any]:
    """:func:`evaluate` once the design is chosen (``plan``) and its rows built (``data``)."""
    h = horizon_months
    mode = plan["mode"]
    min_events = int(settings.get("churn.min_events"))
    out: dict[str, Any] = {"horizon_months": h, "data_as_of": _iso(features.data_as_of(store)),
                           "data_version": store.data_version, "mode": mode,
                           "reason": plan["reason"]}
    if mode == "none" or data is None:
        return {**out, "status": "rules_fallback", "method": "none", "error": plan["reason"],
                "message": "Nothing to evaluate: no labelled as-of date."}
    x, y, meta = data
    out["products"] = list(meta.attrs.get("products", []))
    rule_cols = [r.name for r in RULES]
    if mode == "time_split":
        tr, va = time_split(meta, horizon_months=h, validation_dates=validation_dates)
        model = _model(settings, h, random_state).fit(x[tr], y[tr],
                                                      groups=meta["account_id"][tr])
        xv, yv = x[va], y[va].to_numpy().astype(int)
        fallback = bool(model.fallback_)
        pred = {"rules_score": xv[rule_cols].to_numpy().sum(1).astype(float),
                "rules": model.rules_proba(xv), "base": np.full(len(yv), model.base_rate_)}
        if not fallback:
            pred.update(model=model.risk(xv), logistic=model.baseline_proba(xv))
        train_dates = sorted(pd.to_datetime(meta["as_of"][tr]).unique())
        valid_dates = sorted(pd.to_datetime(meta["as_of"][va]).unique())
        message = model.card_["message"]
        out["train"] = {"as_of_first": _iso(train_dates[0]), "as_of_last": _iso(train_dates[-1]),
                        "dates": len(train_dates), "rows": int(tr.sum()),
                        "events": model.n_events_, "positive_rows": model.n_positive_rows_,
                        "base_rate": round(model.base_rate_, 6)}
        out["validation"] = {"as_of": [_iso(d) for d in valid_dates], "rows": int(va.sum()),
                             "events": int(meta["account_id"][va][yv == 1].nunique()),
                             "base_rate": round(float(yv.mean()), 6) if len(yv) else None}
    else:  # cross-sectional: one date, out-of-fold predictions
        xv, yv = x, y.to_numpy().astype(int)
        events = int(meta["account_id"][yv == 1].nunique())
        fallback = events < min_events
        pred, k = _out_of_fold(x, yv, settings=settings, h=h, random_state=random_state,
                               folds=folds, fallback=fallback)
        fallback = fallback or "model" not in pred
        d = _iso(plan["as_of"])
        design = (f"{k}-fold stratified out-of-fold (seed {random_state})" if k
                  else "in-sample (too few rows of one class for folds)")
        if fallback:
            message = (f"Only {events} churn events among the accounts live at {d}, fewer than "
                       f"churn.min_events = {min_events}: no model was learned; accounts are "
                       "ranked by the transparent rules (number of rules tripped) instead.")
        else:
            message = (f"Cross-sectional: the history cannot feed a time split, so the model "
                       f"is checked by {design} predictions among the {len(yv)} accounts "
                       f"live at {d}; there is no later period to test it on.")
        rate = round(float(yv.mean()), 6) if len(yv) else None
        out["train"] = {"as_of_first": d, "as_of_last": d, "dates": 1, "rows": len(yv),
                        "events": events, "positive_rows": int(yv.sum()), "base_rate": rate,
                        "folds": k}
        out["validation"] = {"as_of": [d], "rows": len(yv), "events": events,
                             "base_rate": rate, "design": design}
    out.update(status="rules_fallback" if fallback else mode,
               method="rules" if fallback else "model", message=message)
    scores = {"rules": (pred["rules_score"], pred["rules"])}
    if not fallback:
        scores = {"model": (pred["model"],) * 2, "logistic": (pred["logistic"],) * 2, **scores}
    rng = np.random.default_rng(random_state)
    weights = rng.poisson(1.0, (n_boot, len(yv))).astype(np.float32) if n_boot else None
    metrics = {name: _metrics(yv, sc, p, weights) for name, (sc, p) in scores.items()}
    metrics["base_rate"] = {"brier": _round(brier_score_loss(yv, pred["base"]))
                            if len(yv) else None}
    out["metrics"] = metrics
    if not fallback and weights is not None and 0 < yv.sum() < len(yv):
        diff = (_boot_auc(yv, scores["model"][0], weights)
                - _boot_auc(yv, scores["rules"][0], weights))
        gain = metrics["model"]["auc"] - metrics["rules"]["auc"]
        out["auc_gain_vs_rules"] = {"diff": _round(gain),
                                    "low": _round(np.percentile(diff, 2.5)),
                                    "high": _round(np.percentile(diff, 97.5))}
        out["beats_rules"] = bool(gain > 0)
    prob = scores["model"][1] if not fallback else scores["rules"][1]
    out["mean_predicted"] = _round(float(np.mean(prob))) if len(yv) else None
    out["observed_rate"] = _round(float(yv.mean())) if len(yv) else None
    out["calibration_ok"] = _calibration_ok(out["mean_predicted"], out["observed_rate"])
    out["rules_evaluation"] = _records(rule_evaluation(xv, yv))
    return out


def _out_of_fold(x: pd.DataFrame, y: np.ndarray, *, settings: Settings, h: int,
                 random_state: int, folds: int, fallback: bool
                 ) -> tuple[dict[str, np.ndarray], int]:
    """Out-of-fold predictions over stratified folds (seeded): each row scored by a model
    fitted on the other folds. Keys rules_score, rules, base (the fold's training base
    rate) and, unless ``fallback``, model and logistic; and the number of folds (0: too
    few rows of a class to fold, predictions in-sample)."""
    n_pos = int(y.sum())
    k = min(int(folds), n_pos, len(y) - n_pos)
    rule_cols = [r.name for r in RULES]
    names = ["rules", "base"] if fallback else ["rules", "base", "model", "logistic"]
    pred = {name: np.zeros(len(y)) for name in names}
    pred["rules_score"] = x[rule_cols].to_numpy().sum(1).astype(float)
    # the date holds enough events (or none are needed): each fold's model learns
    min_events = 2**62 if fallback else 0
    splits = (StratifiedKFold(n_splits=k, shuffle=True, random_state=random_state).split(x, y)
              if k >= 2 else [(np.arange(len(y)), np.arange(len(y)))])
    for tr, te in splits:
        model = _model(settings, h, random_state, min_events=min_events).fit(x.iloc[tr], y[tr])
        xt = x.iloc[te]
        pred["rules"][te] = model.rules_proba(xt)
        pred["base"][te] = model.base_rate_
        if "model" in pred:
            if model.fallback_:
                del pred["model"], pred["logistic"]
            else:
                pred["model"][te] = model.risk(xt)
                pred["logistic"][te] = model.baseline_proba(xt)
    return pred, (k if k >= 2 else 0)


def _calibration_ok(mean_predicted: float | None, observed: float | None) -> bool | None:
    """The mean predicted probability within max(1 point, 20%) of the observed rate."""
    if mean_predicted is None or observed is None:
        return None
    return bool(abs(mean_predicted - observed) <= max(0.01, 0.2 * observed))


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """A rule evaluation as JSON-safe records (NaN = None)."""
    out = []
    for rule, row in table.iterrows():  # one row per rule
        out.append({"rule": str(rule), "label_en": row["label_en"], "label_zh": row["label_zh"],
                    "flagged_rows": int(row["flagged_rows"]),
                    **{c: _round(row[c]) for c in ("flagged_share", "rate_flagged",
                                                   "rate_not_flagged", "lift")},
                    "weak": bool(row["weak"])})
    return out


def _limitations(status: str, plan: dict[str, Any], h: int, rules: pd.DataFrame,
                 mean_predicted: float | None, observed: float | None) -> list[str]:
    """The card's limitations in plain language: the general ones, the mode's own, the
    weak rules and a failed calibration check."""
    out = [
        "Account profile attributes (employees, revenue, credit rating) and holding "
        "revenues are undated: they are taken as they are now at every snapshot.",
        "Churn reasons are not features; an account is labelled by its first churn.",
        "Trained on month-end snapshots; score month-end data for like-for-like features.",
    ]
    d = _iso(plan.get("as_of"))
    if plan["mode"] == "cross_sectional":
        out += [
            f"Cross-sectional model: the history has no churn spread over time to test on, "
            f"so it was checked by {_FOLDS}-fold cross-validation among the accounts of one "
            f"date ({d}), not by predicting a later period; how well it ranks in a later "
            "period is not measured.",
            f"Features as of one date: each account is described as it stood on {d}; how "
            "its bills, holdings or contracts changed before then counts only as far as "
            "that one snapshot shows it.",
            f"Learned from one period: the churn of the {h} month(s) after {d} only. If "
            "customers leave for other reasons later, the model will not know until it is "
            "retrained on newer data.",
        ]
    if status == "rules_fallback":
        out.append("No model was learned: accounts are ranked by how many rules they trip, "
                   "every rule counting the same; the probabilities are the churn rates "
                   "seen per number of rules.")
    else:
        out.append("Top factors explain the logistic baseline, not each boosted tree.")
    for rule, row in rules[rules["weak"]].iterrows():
        out.append(
            f"Rule '{row['label_en']}' ({rule}) is weak on this history: the accounts it "
            f"flags churned at {row['rate_flagged']:.1%} against {row['rate_not_flagged']:.1%} "
            f"for the others (lift {row['lift']:.2f}, below 1); it still counts in the rules "
            "score.")
    if _calibration_ok(mean_predicted, observed) is False:
        out.append(f"The mean predicted probability ({mean_predicted:.1%}) is off the "
                   f"observed churn rate ({observed:.1%}) on the evaluation rows: use the "
                   "probabilities to rank accounts, not as rates.")
    return out


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
