"""The churn propensity model: calibrated gradient boosting, a logistic baseline and the rules.

``ChurnModel`` is a gradient-boosting classifier calibrated on out-of-fold predictions
(folds by account, so no account is calibrated on itself), next to a logistic baseline
on standardised features (which also gives the top factors per account) and the
transparent rules (``RULES``). Its features are the fixed base list ``FEATURES`` plus the
product indicators it picks at fit time (``products_``: the most held of the ``holds_*``
columns offered), so its ``features_`` depend on the data. Below ``churn.min_events``
churn events it fits no model and ranks by the rules, and says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from valuation.churn.frame import FEATURES, PRODUCT_PREFIX, RULES, product_feature

__all__ = [
    "ChurnModel",
]

_P_FLOOR = 0.001  # model probabilities stay within [_P_FLOOR, 1 - _P_FLOOR]


class ChurnModel(ClassifierMixin, BaseEstimator):
    """Calibrated gradient boosting, a logistic baseline and the rules, in one estimator.

    ``fit(X, y, groups=account_ids)`` learns, on ``FEATURES`` plus ``products_`` (of the
    product indicators in ``X`` (``holds_<id>`` columns, see ``feature_matrix``), the
    ``product_features`` held on most rows, each on at least ``min_product_holders``; the
    full column list is ``features_``, and scoring reads exactly those columns):

    - ``model_``: ``CalibratedClassifierCV`` around ``HistGradientBoostingClassifier`` over
      ``cv`` folds grouped by account (an account's rows at every date stay in one fold, so
      no account calibrates its own predictions). With ``ensemble`` each fold fits a booster
      on the other folds and its calibrator (``calibration``: isotonic or sigmoid) on the
      fold, and predictions average the ``cv`` pairs; without it one booster is fitted on
      all rows and one calibrator on the out-of-fold predictions. ``"auto"`` (default): the
      ensemble unless the rows were subsampled (``max_train_rows``): small portfolios gain
      from averaging, large ones score a million accounts three times faster with one
      booster (AUC the same on the 100,000-account demo);
    - ``baseline_``: standardised features -> ``LogisticRegression``;
    - ``rules_rates_``: churn rate per number of rules tripped (smoothed towards the base
      rate, made non-decreasing): the rules-only baseline as a probability.

    The boosted trees are shallow (``max_leaf_nodes`` 4): on one row per account (a
    snapshot export of a few thousand customers) deeper trees overfit, and on the demo's
    stacked month ends they rank no worse. ``train`` adds ``feature_labels_`` (English and
    Chinese label per feature, product names from the products table) and ``card_``.

    With fewer than ``min_events`` churn events (distinct accounts with a positive label when
    ``groups`` is given, positive rows otherwise) it fits neither model: ``fallback_`` is
    True, probabilities are the rules' rates (``products_`` empty: no indicator is read)
    and ``card_["message"]`` says why.
    ``max_train_rows`` caps the rows the learners see: all churners are kept and a random
    share ``negative_rate_`` of the others; probabilities are then mapped back to the full
    population by the prior correction odds x ``negative_rate_`` (King & Zeng), which is
    exact for a calibrated model and far cheaper than sample weights.
    """

    def __init__(self, *, horizon_months: int = 6, min_events: int = 100,
                 calibration: str = "isotonic", cv: int = 3, max_iter: int = 150,
                 learning_rate: float = 0.08, max_leaf_nodes: int = 4,
                 min_samples_leaf: int = 40, l2_regularization: float = 1.0,
                 logistic_c: float = 0.5, max_train_rows: int | None = 100_000,
                 ensemble: bool | str = "auto", product_features: int = 12,
                 min_product_holders: int = 10, random_state: int = 0) -> None:
        self.horizon_months = horizon_months
        self.min_events = min_events
        self.calibration = calibration
        self.cv = cv
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.logistic_c = logistic_c
        self.max_train_rows = max_train_rows
        self.ensemble = ensemble
        self.product_features = product_features
        self.min_product_holders = min_product_holders
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: Any, *, groups: Any = None) -> ChurnModel:  # noqa: N803
        offered = _offered_products(X)
        yv = np.asarray(y).astype(np.int8)
        if len(yv) != len(X):
            raise ValueError("X and y differ in length")
        self.products_ = _pick_products(X, offered, int(self.product_features),
                                        int(self.min_product_holders))
        self.features_ = [*FEATURES, *(product_feature(p) for p in self.products_)]
        x = _as_features(X, self.features_)
        self.classes_ = np.array([0, 1])
        self.rules_ = [r.name for r in RULES]
        self.negative_rate_ = 1.0
        self.n_rows_ = int(len(yv))
        self.n_positive_rows_ = int(yv.sum())
        self.n_events_ = (int(pd.Series(np.asarray(groups))[yv == 1].nunique())
                          if groups is not None else self.n_positive_rows_)
        self.base_rate_ = float(yv.mean()) if len(yv) else 0.0
        self.rules_rates_ = _rule_rates(x[self.rules_].to_numpy().sum(1), yv, self.base_rate_,
                                        len(self.rules_))
        self.fallback_ = self.n_events_ < int(self.min_events) or self.n_positive_rows_ < self.cv
        if self.fallback_:  # the rules read no product indicator: scoring needs none
            self.products_ = []
            self.features_ = list(FEATURES)
        card: dict[str, Any] = {
            "horizon_months": int(self.horizon_months), "rows": self.n_rows_,
            "positive_rows": self.n_positive_rows_, "events": self.n_events_,
            "base_rate": round(self.base_rate_, 6), "min_events": int(self.min_events),
            "features": self.features_, "products": self.products_, "rules": self.rules_,
            "rules_rates": [round(float(r), 6) for r in self.rules_rates_],
            "sklearn_version": sklearn.__version__,
        }
        if self.fallback_:
            self.model_: Any = None
            self.baseline_: Any = None
            card.update(method="rules", message=(
                f"Only {self.n_events_} churn events in the training history, fewer than "
                f"churn.min_events = {self.min_events}: no model was learned; accounts are ranked "
                "by the transparent rules (number of rules tripped) instead."))
            self.card_ = card
            return self
        rng = np.random.default_rng(self.random_state)
        keep, self.negative_rate_ = _subsample(yv, self.max_train_rows, rng)
        xs, ys = x.iloc[keep], yv[keep]
        gs = None if groups is None else np.asarray(groups)[keep]
        seed = int(rng.integers(2**31 - 1))
        if gs is not None:
            splits = _group_folds(gs, self.cv, rng)
        else:
            splits = list(StratifiedKFold(n_splits=self.cv, shuffle=True, random_state=seed)
                          .split(xs, ys))
        gbm = HistGradientBoostingClassifier(
            max_iter=self.max_iter, learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes, min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization, early_stopping=False,
            random_state=seed)
        ensemble = (len(keep) == len(yv)) if self.ensemble == "auto" else bool(self.ensemble)
        self.model_ = CalibratedClassifierCV(gbm, method=self.calibration, cv=splits,
                                             ensemble=ensemble)
        self.model_.fit(xs, ys)
        self.baseline_ = Pipeline([
            ("scale", StandardScaler()),
            ("logistic", LogisticRegression(C=self.logistic_c, max_iter=2000)),
        ]).fit(xs, ys)
        card.update(
            method="calibrated_gbm",
            message="Calibrated gradient boosting; logistic baseline gives the top factors.",
            trained_rows=int(len(keep)),
            estimator={"model": "HistGradientBoostingClassifier", "max_iter": self.max_iter,
                       "learning_rate": self.learning_rate,
                       "max_leaf_nodes": self.max_leaf_nodes,
                       "min_samples_leaf": self.min_samples_leaf,
                       "l2_regularization": self.l2_regularization,
                       "calibration": self.calibration,
                       "calibration_cv": f"{self.cv} folds grouped by account"
                       if gs is not None else f"{self.cv} stratified folds",
                       "calibration_ensemble": ensemble,
                       "max_train_rows": self.max_train_rows,
                       "negative_rate": round(self.negative_rate_, 6),
                       "baseline": "StandardScaler + LogisticRegression",
                       "logistic_c": self.logistic_c,
                       "product_features": self.product_features,
                       "min_product_holders": self.min_product_holders,
                       "random_state": self.random_state},
        )
        self.card_ = card
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """(n, 2) probabilities; column 1 is churn within the horizon."""
        p = self.risk(X)
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        return (self.risk(X) >= 0.5).astype(int)

    def risk(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Churn probability within the horizon (rules' rates in fallback), within
        [0.001, 0.999]."""
        x = _as_features(X, self.features_)
        if self.fallback_:
            return self.rules_proba(x)
        p = _chunked(x, lambda part: self.model_.predict_proba(part)[:, 1])
        # isotonic steps reach exactly 0 or 1 where the training history saw no exception;
        # no account is certain to stay or to leave
        return np.clip(_prior_shift(p, self.negative_rate_), _P_FLOOR, 1.0 - _P_FLOOR)

    def baseline_proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """The logistic baseline's churn probability (rules' rates in fallback)."""
        x = _as_features(X, self.features_)
        if self.fallback_:
            return self.rules_proba(x)
        return _prior_shift(self.baseline_.predict_proba(x)[:, 1], self.negative_rate_)

    def rules_proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """The rules-only baseline: the training churn rate of accounts tripping as many rules."""
        x = _as_features(X, self.rules_)
        count = x.to_numpy().sum(1).astype(np.int64)
        return self.rules_rates_[np.clip(count, 0, len(self.rules_rates_) - 1)]

    def top_factors(self, X: pd.DataFrame, k: int = 3) -> pd.DataFrame:  # noqa: N803
        """The ``k`` features raising each account's risk most: ``factor_1..k`` (feature names,
        see ``FEATURE_LABELS``) and ``weight_1..k`` (log-odds added; None/NaN past the last).

        A factor's weight is the logistic baseline's coefficient x the account's standardised
        value: its push on the log-odds relative to an average account. It explains the
        transparent baseline, which ranks accounts much like the boosted model; in fallback
        the factors are the rules tripped, in ``RULES`` order, weight 1."""
        x = _as_features(X, self.features_)
        n = len(x)
        names = np.array(self.features_, dtype=object)
        if self.fallback_:
            return _rule_factors(x[self.rules_], k)
        scaler = self.baseline_.named_steps["scale"]
        coef = self.baseline_.named_steps["logistic"].coef_[0]
        mean = scaler.mean_.astype(np.float32)
        scale = (coef / scaler.scale_).astype(np.float32)
        parts = []
        for lo in range(0, n, 200_000):
            part = x.iloc[lo: lo + 200_000]
            contrib = (part.to_numpy(np.float32) - mean) * scale
            parts.append(_top_k(contrib, names, k, part.index))
        return pd.concat(parts) if parts else _top_k(np.zeros((0, len(names)), np.float32),
                                                     names, k, x.index)


# ---------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------
def _as_features(X: Any, names: list[str]) -> pd.DataFrame:  # noqa: N803
    """The columns ``names`` of X (an array: its columns are ``names``)."""
    if not isinstance(X, pd.DataFrame):
        arr = np.asarray(X, np.float32)
        if arr.ndim != 2 or arr.shape[1] != len(names):
            raise ValueError(f"X has {arr.shape[-1]} columns, the model reads {len(names)}")
        return pd.DataFrame(arr, columns=list(names))
    missing = [c for c in names if c not in X.columns]
    if missing:
        products = [c[len(PRODUCT_PREFIX):] for c in missing if c.startswith(PRODUCT_PREFIX)]
        hint = (f"build it with churn.feature_matrix(..., products=model.products_) "
                f"(missing products: {', '.join(products[:5])})" if products
                else "use churn.feature_matrix")
        raise ValueError(f"X lacks features {', '.join(missing[:5])}: {hint}")
    return X[list(names)]


def _offered_products(X: Any) -> list[str]:  # noqa: N803
    """The product ids of the ``holds_*`` columns of X, in column order."""
    if not isinstance(X, pd.DataFrame):
        return []
    return [str(c)[len(PRODUCT_PREFIX):] for c in X.columns
            if str(c).startswith(PRODUCT_PREFIX)]


def _pick_products(X: Any, offered: list[str], n: int, min_holders: int  # noqa: N803
                   ) -> list[str]:
    """Of the offered product indicators, the ``n`` set on most rows, each on at least
    ``min_holders`` rows; most held first, ties in the order offered."""
    if not offered or n <= 0:
        return []
    held = X[[product_feature(p) for p in offered]].to_numpy() > 0
    count = held.sum(0)
    order = np.argsort(-count, kind="stable")
    return [offered[j] for j in order if count[j] >= max(min_holders, 1)][:n]


def _rule_rates(count: np.ndarray, y: np.ndarray, base: float, n_rules: int,
                prior_rows: float = 20.0) -> np.ndarray:
    n = int(n_rules) + 1
    c = np.clip(count.astype(np.int64), 0, n - 1)
    rows = np.bincount(c, minlength=n).astype(float)
    pos = np.bincount(c, weights=y.astype(float), minlength=n)
    rates = (pos + prior_rows * base) / (rows + prior_rows)
    return np.maximum.accumulate(rates)


def _subsample(y: np.ndarray, cap: int | None, rng: np.random.Generator
               ) -> tuple[np.ndarray, float]:
    """Rows to learn from (every churner, then non-churners at random up to ``cap`` rows) and
    the share of non-churners kept."""
    n = len(y)
    if cap is None or n <= cap:
        return np.arange(n), 1.0
    pos = np.flatnonzero(y == 1)
    neg = np.flatnonzero(y == 0)
    k = max(int(cap) - len(pos), min(len(neg), len(pos)))
    take = np.sort(rng.choice(neg, size=min(k, len(neg)), replace=False))
    keep = np.sort(np.concatenate([pos, take]))
    return keep, len(take) / max(len(neg), 1)


def _prior_shift(p: np.ndarray, negative_rate: float) -> np.ndarray:
    """Probabilities learned with non-churners kept at ``negative_rate``, for everyone:
    odds x rate."""
    if negative_rate >= 1.0:
        return p
    return negative_rate * p / (negative_rate * p + (1.0 - p))


def _group_folds(groups: np.ndarray, k: int, rng: np.random.Generator
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` (train, test) splits with every group's rows in one test fold (groups dealt out
    at random). Linear time, unlike GroupKFold(shuffle=True) on a million rows."""
    _, inverse = np.unique(groups, return_inverse=True)
    fold = (rng.permutation(int(inverse.max()) + 1) % k)[inverse]
    return [(np.flatnonzero(fold != i), np.flatnonzero(fold == i)) for i in range(k)]


def _chunked(x: pd.DataFrame, fn: Any, size: int = 250_000) -> np.ndarray:
    if len(x) <= size:
        return np.asarray(fn(x), float)
    return np.concatenate([np.asarray(fn(x.iloc[i: i + size]), float)
                           for i in range(0, len(x), size)])


def _top_k(contrib: np.ndarray, names: np.ndarray, k: int, index: pd.Index,
           weights: np.ndarray | None = None) -> pd.DataFrame:
    n, m = contrib.shape
    k = min(int(k), m)
    if n == 0:
        cols: dict[str, Any] = {}
        for j in range(k):
            cols[f"factor_{j + 1}"] = pd.Series([], dtype=object)
            cols[f"weight_{j + 1}"] = pd.Series([], dtype=float)
        return pd.DataFrame(cols, index=index)
    part = np.argpartition(-contrib, k - 1, axis=1)[:, :k] if k < m else np.tile(np.arange(m),
                                                                                  (n, 1))
    vals = np.take_along_axis(contrib, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    idx = np.take_along_axis(part, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    shown = np.take_along_axis(weights, idx, axis=1) if weights is not None else vals
    cols = {}
    for j in range(k):
        pos = vals[:, j] > 0
        named = names[idx[:, j]]
        named[~pos] = None
        cols[f"factor_{j + 1}"] = named
        cols[f"weight_{j + 1}"] = np.where(pos, np.round(shown[:, j].astype(float), 4), np.nan)
    return pd.DataFrame(cols, index=index)


def _rule_factors(flags: pd.DataFrame, k: int) -> pd.DataFrame:
    """The rules tripped as factors, in ``RULES`` order, weight 1."""
    f = flags.to_numpy(np.float32)
    contrib = f * (1.0 - np.arange(f.shape[1], dtype=np.float32) * 1e-3)
    return _top_k(contrib, np.array(flags.columns, dtype=object), k, flags.index, weights=f)
