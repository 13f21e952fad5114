"""Scorecards: measures -> value (influence + payment), loyalty, competitor -> grades and reasons."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from valuation.config import ScoringModel, Settings
from valuation.measures import DIMENSIONS, MEASURES, raw_measures

__all__ = [
    "GRADES",
    "Scorecard",
    "assign_models",
    "effective_weights",
    "explain",
    "unavailable_measures",
    "grade",
    "normalise",
    "score",
    "score_one",
]

GRADES = ("high", "fairly_high", "medium", "fairly_low", "low")
_TOP = 3


@dataclass(frozen=True)
class Scorecard:
    """Scores per account, plus every measure's normalised value and contribution.

    ``scores``: account_id, model, value/influence/payment/loyalty/competitor scores and
    grades, top factors up and down. ``normalised`` and ``contributions``: one column per
    measure (NaN where the account's model does not use it); a contribution is in points of
    its dimension, so a dimension's contributions add up to its score.
    """

    scores: pd.DataFrame
    normalised: pd.DataFrame
    contributions: pd.DataFrame
    raw: pd.DataFrame
    unavailable: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Per model: the measures that took no weight because their input is missing for every
    account in the model's scope, or the same for all of them (they cannot tell accounts
    apart). The model's other measures of the dimension share its weight."""


def assign_models(frame: pd.DataFrame, settings: Settings) -> pd.Series:
    """The one model that scores each account: the first by precedence whose scope matches."""
    out = pd.Series(pd.NA, index=frame.index, dtype="object")
    for m in settings.models:
        mask = out.isna() & _in_scope(frame, m)
        out[mask] = m.name
    return out.astype(str)


def normalise(x: pd.Series, norm: str, *, lo: float = 0.0, hi: float = 1.0) -> pd.Series:
    """Map raw values to 0-1 by ``norm``; NaN stays NaN. Percentile/minmax/log use ``x`` itself
    as the scope: percentile = (rank - 1) / (n - 1) with ties averaged; minmax and log are
    winsorised at the 1st and 99th percentiles; a constant scope maps to 0.5; fixed uses
    ``lo``..``hi``. Values are clipped to 0-1."""
    x = x.astype("float64")
    valid = x.notna()
    if norm == "fixed":
        span = hi - lo
        return ((x - lo) / span).clip(0, 1) if span > 0 else x.where(~valid, 0.5)
    if valid.sum() == 0:
        return x
    if norm == "percentile":
        n = int(valid.sum())
        if n == 1:
            return x.where(~valid, 0.5)
        return (x.rank(method="average") - 1) / (n - 1)
    if norm == "log":
        x = np.log1p(x.clip(lower=0))
    elif norm != "minmax":
        raise ValueError(f"unknown normalisation {norm!r}")
    q_lo, q_hi = np.nanquantile(x.to_numpy(), [0.01, 0.99])
    if q_hi <= q_lo:
        return x.where(~valid, 0.5)
    return ((x - q_lo) / (q_hi - q_lo)).clip(0, 1)


def grade(scores: pd.Series, cuts: list[float]) -> pd.Series:
    """Grade codes (high ... low) for 0-100 scores by the four cuts, high to low."""
    s = scores.to_numpy(dtype="float64")
    below = (s[:, None] < np.asarray(cuts, dtype="float64")[None, :]).sum(axis=1)
    return pd.Series(pd.Categorical.from_codes(below, categories=list(GRADES)), index=scores.index)


def score(frame: pd.DataFrame, settings: Settings, *, as_of: object = None,
          unavailable: dict[str, tuple[str, ...]] | None = None) -> Scorecard:
    """Score every account of ``frame`` (an account frame) with its model.

    A measure whose raw value is missing for every account of a model's scope, or the same
    for all of them, takes no weight there (``Scorecard.unavailable``). ``unavailable``
    imposes that set instead of detecting it, e.g. to re-score a changed copy of the frame
    (what-if) with the weights the portfolio was scored with."""
    raw = raw_measures(frame, as_of=as_of)
    models = assign_models(frame, settings)
    names = list(MEASURES)
    col = {n: j for j, n in enumerate(names)}
    r = raw.to_numpy(dtype="float64")
    n_all = np.full(r.shape, np.nan)
    c_all = np.full(r.shape, np.nan)
    parts = ["influence", "payment", *DIMENSIONS]
    sub = np.zeros((len(frame), len(parts)))
    model_arr = models.to_numpy()
    found: dict[str, tuple[str, ...]] = {}
    for m in settings.models:
        rows = np.flatnonzero(model_arr == m.name)
        if len(rows) == 0:
            continue
        cols = [col[mw.name] for mw in m.measures]
        block = r[np.ix_(rows, cols)]
        gone = (tuple(unavailable.get(m.name, ())) if unavailable is not None
                else unavailable_measures(block, [mw.name for mw in m.measures]))
        if gone:
            found[m.name] = gone
        n_m, c_m, sub_m = _score_model(block, m, gone)
        dropped = [j for j, mw in enumerate(m.measures) if mw.name in gone]
        n_m[:, dropped] = np.nan  # not used: no normalised value, no contribution
        c_m[:, dropped] = np.nan
        n_all[np.ix_(rows, cols)] = n_m
        c_all[np.ix_(rows, cols)] = c_m
        sub[rows] = sub_m
    cuts = settings.get("grades.cuts")
    scores = pd.DataFrame(
        {
            "account_id": frame["account_id"].to_numpy(),
            "model": model_arr,
            **{f"{p}_score": np.round(sub[:, i], 2) for i, p in enumerate(parts)},
        },
        index=frame.index,
    )
    scores = scores[["account_id", "model", "value_score", "influence_score", "payment_score",
                     "loyalty_score", "competitor_score"]]
    for d in DIMENSIONS:
        scores[f"{d}_grade"] = grade(scores[f"{d}_score"], cuts)
    contrib = pd.DataFrame(c_all, index=frame.index, columns=names)
    up, down = _top_factors(contrib, models)
    scores["top_up"] = up
    scores["top_down"] = down
    return Scorecard(scores=scores, normalised=pd.DataFrame(n_all, index=frame.index, columns=names),
                     contributions=contrib, raw=raw, unavailable=found)


def unavailable_measures(raw: np.ndarray, names: list[str]) -> tuple[str, ...]:
    """Names of the columns of ``raw`` (accounts x measures of one model's scope) that cannot
    tell accounts apart: missing everywhere, or one value for every account that has it.
    A scope of fewer than two accounts tells nothing either way: none is dropped."""
    if raw.shape[0] < 2:
        return ()
    valid = ~np.isnan(raw)
    lo = np.where(valid, raw, np.inf).min(axis=0)
    hi = np.where(valid, raw, -np.inf).max(axis=0)
    gone = ~valid.any(axis=0) | (lo == hi)
    return tuple(n for n, g in zip(names, gone, strict=True) if g)


def effective_weights(model: ScoringModel, exclude: tuple[str, ...] | set[str] = ()
                      ) -> dict[str, float]:
    """Each measure's share of its dimension (value: including the influence/payment split);
    measures in ``exclude`` (unavailable in the scope) take none, the others share it."""
    w = {mw.name: (0.0 if mw.name in exclude else mw.weight) for mw in model.measures}
    out: dict[str, float] = {}
    vw_total = sum(
        model.value_weights[g] for g in ("influence", "payment")
        if any(MEASURES[n].group == g and w[n] > 0 for n in w)
    )
    for name, weight in w.items():
        md = MEASURES[name]
        peers = [n for n in w if MEASURES[n].dimension == md.dimension
                 and (md.dimension != "value" or MEASURES[n].group == md.group)]
        total = sum(w[n] for n in peers)
        share = weight / total if total > 0 else 0.0
        if md.dimension == "value":
            share *= model.value_weights[md.group] / vw_total if vw_total > 0 else 0.0
        out[name] = share
    return out


def _in_scope(frame: pd.DataFrame, model: ScoringModel) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for col, allowed in model.scope.items():
        if col.startswith("min_"):
            mask &= pd.to_numeric(frame[col[4:]], errors="coerce") >= float(allowed[0])
        elif col.startswith("max_"):
            mask &= pd.to_numeric(frame[col[4:]], errors="coerce") <= float(allowed[0])
        else:
            mask &= frame[col].isin(list(allowed))
    return mask


def _score_model(raw: np.ndarray, model: ScoringModel, gone: tuple[str, ...] = ()
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalised values, contributions (columns in the model's measure order) and the
    sub-scores influence, payment, value, loyalty, competitor for one model's accounts;
    measures in ``gone`` take no weight."""
    n = np.empty_like(raw)
    for j, mw in enumerate(model.measures):
        md = MEASURES[mw.name]
        x = pd.Series(raw[:, j])
        if mw.missing == "median":
            x = x.fillna(x.median())
        v = normalise(x, mw.norm, lo=md.lo, hi=md.hi).to_numpy(dtype="float64")
        n[:, j] = _oriented(v, mw)
    c, sub = _combine(n, model, gone)
    return n, c, sub


def _oriented(v: np.ndarray, mw: object) -> np.ndarray:
    """Normalised values turned so that higher is better, missing ones set by the rule."""
    if MEASURES[mw.name].direction < 0:  # type: ignore[attr-defined]
        v = 1 - v
    return np.where(np.isnan(v), 1.0 if mw.missing == "best" else 0.0, v)  # type: ignore[attr-defined]


def _combine(n: np.ndarray, model: ScoringModel, gone: tuple[str, ...] = ()
             ) -> tuple[np.ndarray, np.ndarray]:
    """Contributions and the sub-scores (influence, payment, value, loyalty, competitor) of
    normalised values (columns in the model's measure order)."""
    eff = effective_weights(model, gone)
    w = np.array([eff[mw.name] for mw in model.measures])
    c = n * w[None, :] * 100.0
    dims = np.array([MEASURES[mw.name].dimension for mw in model.measures])
    groups = np.array([MEASURES[mw.name].group for mw in model.measures])
    raw_w = np.array([0.0 if mw.name in gone else mw.weight for mw in model.measures])
    sub = np.zeros((len(n), 5))
    for i, g in enumerate(("influence", "payment")):
        mask = groups == g
        total = raw_w[mask].sum()
        if total > 0:
            sub[:, i] = n[:, mask] @ (raw_w[mask] / total) * 100.0
    for i, d in enumerate(DIMENSIONS):
        sub[:, 2 + i] = c[:, dims == d].sum(axis=1)
    return c, sub


def _normalise_one(v: float, others: np.ndarray, norm: str, *, lo: float, hi: float,
                   fill_median: bool) -> float:
    """:func:`normalise` of one value among ``others`` (the rest of its scope), exactly as
    normalising the whole scope would give it, in one pass over the scope and no sort."""
    if fill_median:
        both = np.append(others, v)
        med = float(np.nanmedian(both)) if (~np.isnan(both)).any() else np.nan
        others = np.where(np.isnan(others), med, others)
        v = med if np.isnan(v) else v
    if norm == "fixed":
        span = hi - lo
        if np.isnan(v):
            return np.nan
        return float(np.clip((v - lo) / span, 0, 1)) if span > 0 else 0.5
    valid = others[~np.isnan(others)]
    if np.isnan(v):
        return np.nan
    if norm == "percentile":
        n = len(valid) + 1
        if n == 1:
            return 0.5
        rank = (valid < v).sum() + ((valid == v).sum() + 2) / 2  # ties averaged
        return float((rank - 1) / (n - 1))
    if norm == "log":
        valid, v = np.log1p(np.clip(valid, 0, None)), float(np.log1p(max(v, 0.0)))
    elif norm != "minmax":
        raise ValueError(f"unknown normalisation {norm!r}")
    q_lo, q_hi = np.quantile(np.append(valid, v), [0.01, 0.99])
    if q_hi <= q_lo:
        return 0.5
    return float(np.clip((v - q_lo) / (q_hi - q_lo), 0, 1))


def score_one(raw_row: pd.Series, population: pd.DataFrame | dict[str, np.ndarray],
              model: ScoringModel,
              gone: tuple[str, ...] = ()) -> dict[str, float]:
    """One account's sub-scores (influence, payment, value, loyalty, competitor, rounded as
    :func:`score` rounds them) when its raw measures are ``raw_row`` and the rest of its
    model's scope has ``population`` (raw measures by name, the account left out): what
    scoring the whole scope with the account changed would give it, without re-scoring the
    scope (a what-if at a million accounts). ``gone``: the measures the portfolio was scored
    without."""
    n = np.zeros((1, len(model.measures)))  # a measure in ``gone`` takes no weight: stays 0
    for j, mw in enumerate(model.measures):
        if mw.name in gone:
            continue
        md = MEASURES[mw.name]
        v = _normalise_one(float(raw_row[mw.name]),
                           np.asarray(population[mw.name], dtype="float64"), mw.norm,
                           lo=md.lo, hi=md.hi, fill_median=mw.missing == "median")
        n[0, j] = _oriented(np.array([v]), mw)[0]
    _, sub = _combine(n, model, gone)
    return {f"{p}_score": float(np.round(sub[0, i], 2))
            for i, p in enumerate(["influence", "payment", *DIMENSIONS])}


def _top_factors(contrib: pd.DataFrame, models: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Measures pulling each account furthest above / below its model's average, ';'-joined.

    A measure is either used for every account of a model or for none, so per-model means
    are plain column means over the model's rows.
    """
    x = contrib.to_numpy(dtype="float64")
    codes, uniques = pd.factorize(models)
    counts = np.bincount(codes, minlength=len(uniques)).astype("float64")
    means = np.empty((len(uniques), x.shape[1]))
    for j in range(x.shape[1]):
        means[:, j] = np.bincount(codes, weights=np.nan_to_num(x[:, j]), minlength=len(uniques))
    means /= counts[:, None]
    delta = x - means[codes]
    names = np.array(contrib.columns)
    up = _top_names(np.where(np.isnan(delta), -np.inf, delta), names)
    down = _top_names(np.where(np.isnan(delta), -np.inf, -delta), names)
    return pd.Series(up, index=contrib.index), pd.Series(down, index=contrib.index)


def _top_names(values: np.ndarray, names: np.ndarray, *, k: int = _TOP,
               min_points: float = 0.05) -> np.ndarray:
    """Per row, the names of the ``k`` largest values above ``min_points``, ';'-joined.
    ``values`` is overwritten (pass a scratch array).

    Rows are encoded as integer tuples of measure indexes and only the distinct tuples are
    turned into text, so the cost does not grow with string work per account."""
    k = min(k, values.shape[1])
    rows = np.arange(len(values))
    idx = np.empty((len(values), k), dtype=np.int64)
    keep = np.empty((len(values), k), dtype=bool)
    for j in range(k):  # k passes of argmax beat a full sort or argpartition
        idx[:, j] = values.argmax(axis=1)
        keep[:, j] = values[rows, idx[:, j]] > min_points
        values[rows, idx[:, j]] = -np.inf
    base = len(names) + 1
    code = np.zeros(len(values), dtype=np.int64)
    for j in range(k):
        code = code * base + np.where(keep[:, j], idx[:, j] + 1, 0)
    uniq, inverse = np.unique(code, return_inverse=True)
    text = []
    for c in uniq.tolist():
        parts = []
        for _ in range(k):
            c, r = divmod(c, base)
            if r:
                parts.append(names[r - 1])
        text.append(";".join(reversed(parts)))
    return np.array(text, dtype=object)[inverse]


def model_means(card: Scorecard) -> pd.DataFrame:
    """Mean contribution of every measure per scoring model (rows: model), computed once per
    scorecard and kept with it: an account's explanation compares it with its peers."""
    cached = card.__dict__.get("_model_means")
    if cached is None:
        cached = card.contributions.groupby(card.scores["model"].to_numpy()).mean()
        object.__setattr__(card, "_model_means", cached)
    return cached


def explain(card: Scorecard, row: object, lang: str = "en") -> pd.DataFrame:
    """One account's reasons: per measure of its model, the dimension, raw value, normalised
    value, contribution (points) and the difference from its model's average contribution."""
    model = card.scores.at[row, "model"]
    used = card.contributions.columns[card.contributions.loc[row].notna()]
    peers = model_means(card).loc[model, used]
    zh = lang.startswith("zh")
    return pd.DataFrame({
        "measure": used,
        "label": [MEASURES[m].label_zh if zh else MEASURES[m].label_en for m in used],
        "dimension": [MEASURES[m].dimension for m in used],
        "raw": card.raw.loc[row, used].to_numpy(dtype="float64"),
        "normalised": card.normalised.loc[row, used].to_numpy(dtype="float64"),
        "points": card.contributions.loc[row, used].to_numpy(dtype="float64"),
        "delta": (card.contributions.loc[row, used] - peers).to_numpy(dtype="float64"),
    })
