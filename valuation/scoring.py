"""Scorecards: measures -> value (influence + payment), loyalty, competitor -> grades and reasons."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from valuation.config import ScoringModel, Settings
from valuation.measures import DIMENSIONS, MEASURES, raw_measures

__all__ = [
    "GRADES",
    "Scorecard",
    "assign_models",
    "explain",
    "grade",
    "normalise",
    "score",
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
    s = scores.to_numpy()
    conds = [s >= cuts[0], s >= cuts[1], s >= cuts[2], s >= cuts[3]]
    return pd.Series(np.select(conds, GRADES[:4], GRADES[4]), index=scores.index)


def score(frame: pd.DataFrame, settings: Settings, *, as_of: object = None) -> Scorecard:
    """Score every account of ``frame`` (an account frame) with its model."""
    raw = raw_measures(frame, as_of=as_of)
    models = assign_models(frame, settings)
    names = list(MEASURES)
    normd = pd.DataFrame(np.nan, index=frame.index, columns=names)
    contrib = pd.DataFrame(np.nan, index=frame.index, columns=names)
    sub = pd.DataFrame(0.0, index=frame.index, columns=["influence", "payment", *DIMENSIONS])
    for m in settings.models:
        idx = models.index[models == m.name]
        if len(idx) == 0:
            continue
        n_m, c_m, sub_m = _score_model(raw.loc[idx], m)
        normd.loc[idx, n_m.columns] = n_m
        contrib.loc[idx, c_m.columns] = c_m
        sub.loc[idx] = sub_m
    cuts = settings.get("grades.cuts")
    scores = pd.DataFrame(
        {
            "account_id": frame["account_id"].to_numpy(),
            "model": models.to_numpy(),
            "value_score": sub["value"].round(2),
            "influence_score": sub["influence"].round(2),
            "payment_score": sub["payment"].round(2),
            "loyalty_score": sub["loyalty"].round(2),
            "competitor_score": sub["competitor"].round(2),
        },
        index=frame.index,
    )
    for d in DIMENSIONS:
        scores[f"{d}_grade"] = grade(scores[f"{d}_score"], cuts)
    up, down = _top_factors(contrib, models)
    scores["top_up"] = up
    scores["top_down"] = down
    return Scorecard(scores=scores, normalised=normd, contributions=contrib, raw=raw)


def effective_weights(model: ScoringModel) -> dict[str, float]:
    """Each measure's share of its dimension (value: including the influence/payment split)."""
    w = {mw.name: mw.weight for mw in model.measures}
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


def _score_model(
    raw: pd.DataFrame, model: ScoringModel
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    eff = effective_weights(model)
    normd = {}
    for mw in model.measures:
        md = MEASURES[mw.name]
        x = raw[mw.name]
        if mw.missing == "median":
            x = x.fillna(x.median())
        n = normalise(x, mw.norm, lo=md.lo, hi=md.hi)
        if md.direction < 0:
            n = 1 - n
        normd[mw.name] = n.fillna(1.0 if mw.missing == "best" else 0.0)
    n_df = pd.DataFrame(normd, index=raw.index)
    c_df = n_df.mul(pd.Series(eff)[n_df.columns], axis=1) * 100.0
    sub = pd.DataFrame(0.0, index=raw.index, columns=["influence", "payment", *DIMENSIONS])
    for d in DIMENSIONS:
        cols = [c for c in c_df.columns if MEASURES[c].dimension == d]
        sub[d] = c_df[cols].sum(axis=1)
    for g in ("influence", "payment"):
        cols = [mw.name for mw in model.measures if MEASURES[mw.name].group == g]
        total = sum(mw.weight for mw in model.measures if mw.name in cols)
        if total > 0:
            gw = pd.Series({mw.name: mw.weight / total for mw in model.measures if mw.name in cols})
            sub[g] = n_df[cols].mul(gw[cols], axis=1).sum(axis=1) * 100.0
    return n_df, c_df, sub


def _top_factors(contrib: pd.DataFrame, models: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Measures pulling each account furthest above / below its model's average, ';'-joined."""
    means = contrib.groupby(models).transform("mean")
    delta = (contrib - means).to_numpy()
    names = np.array(contrib.columns)
    filled_up = np.where(np.isnan(delta), -np.inf, delta)
    filled_dn = np.where(np.isnan(delta), np.inf, delta)
    k = min(_TOP, delta.shape[1])
    up_idx = np.argsort(-filled_up, axis=1, kind="stable")[:, :k]
    dn_idx = np.argsort(filled_dn, axis=1, kind="stable")[:, :k]
    up_val = np.take_along_axis(filled_up, up_idx, axis=1)
    dn_val = np.take_along_axis(filled_dn, dn_idx, axis=1)
    up_names = np.where(up_val > 0.05, names[up_idx], "")
    dn_names = np.where(dn_val < -0.05, names[dn_idx], "")
    return _join(up_names, contrib.index), _join(dn_names, contrib.index)


def _join(names: np.ndarray, index: pd.Index) -> pd.Series:
    """Row-wise ';'-join of a names matrix whose empty entries come last in each row."""
    cols = [pd.Series(names[:, i], index=index, dtype="object") for i in range(names.shape[1])]
    if not cols:
        return pd.Series("", index=index)
    return cols[0].str.cat(cols[1:], sep=";").str.rstrip(";")


def explain(card: Scorecard, row: object, lang: str = "en") -> pd.DataFrame:
    """One account's reasons: per measure of its model, the dimension, raw value, normalised
    value, contribution (points) and the difference from its model's average contribution."""
    model = card.scores.at[row, "model"]
    used = card.contributions.columns[card.contributions.loc[row].notna()]
    peers = card.contributions.loc[card.scores["model"] == model, used].mean()
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
