"""Blends of the cross-sell ranking: which evidence orders the suggestions, and how much.

A :class:`Blend` scores a candidate product j of ours for an account as a weighted sum of logs
(the score is its exponential, so a blend of one term ranks exactly as that term does)::

    log score = evidence   x log(evidence_j)
              + popularity x log(penetration_j)                  (portfolio-wide share holding j)
              + segment    x log(segment share_j)                (industry x size segment, shrunk)
              + loyalty    x log(1 + loyalty gain_j / loyalty_unit)
              + size       x log(size factor_j)                  (the size rule, DOMAIN.md 3)
              + model      x log P_model(holds j | other holdings, segment)


    evidence_j = sigmoid(logit segment share_j
                         + evidence_weight x co_holding x co-holding log-lift of the held set)

    P_model: the learned co-holding model (:class:`~valuation.bundling.cohold.CoHoldingModel`,
    one logistic regression per product of ours on the other holdings and the segment).

Which blend serves a portfolio best is an empirical question: :func:`blend_candidates` is the
small family :func:`~valuation.bundling.evaluate.choose_blend` picks from on held-out data
(it always holds "popularity only", "segment popularity only", "evidence only", the former
hand-set blend, :data:`HAND_TUNED_BLEND`, and the co-holding model, :data:`MODEL_BLEND`).
:data:`DEFAULT_BLEND` is used until a blend has been chosen. A blend is stored as the
``blend_*`` fields of :class:`BundlingParams`, i.e. the ``[bundling]`` settings
``blend_name``, ``blend_evidence``, ... (:meth:`Blend.settings_values` writes them,
:meth:`Blend.from_settings` / :meth:`Blend.from_params` read them).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from valuation.bundling.common import _DEFAULT, BundlingParams
from valuation.config import Settings

__all__ = [
    "BLEND_TERMS",
    "Blend",
    "DEFAULT_BLEND",
    "EVIDENCE_BLEND",
    "HAND_TUNED_BLEND",
    "MODEL_BLEND",
    "POPULARITY_BLEND",
    "SEGMENT_POPULARITY_BLEND",
    "blend_candidates",
]

# The weighted terms of a blend, in display order (``co_holding`` scales inside the evidence).
BLEND_TERMS = ("evidence", "co_holding", "popularity", "segment", "loyalty", "size", "model")


@dataclass(frozen=True)
class Blend:
    """The weights of one cross-sell ranking (see the module docstring for the formula).

    ``name`` identifies the blend in evaluation tables and settings; the weights are
    non-negative, at least one of evidence / popularity / segment / loyalty / size / model
    positive. ``co_holding`` multiplies ``BundlingParams.evidence_weight`` inside the evidence
    (0: the segment prior alone; 1: the evidence as documented in :func:`recommend`).
    ``model`` weighs the log-probability of the learned co-holding model: a blend with
    ``model`` > 0 (:attr:`uses_model`) needs the model fitted (:func:`recommend` fits it on
    the live holdings unless given one; :func:`choose_blend` on the masked holdings).
    """

    name: str = "custom"
    evidence: float = 1.0
    co_holding: float = 1.0
    popularity: float = 0.0
    segment: float = 0.0
    loyalty: float = 0.0
    size: float = 0.0
    model: float = 0.0

    def __post_init__(self) -> None:
        for term in BLEND_TERMS:
            v = getattr(self, term)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                    or v < 0:
                raise ValueError(f"blend {self.name!r}: {term} must be a number >= 0, not {v!r}")
            object.__setattr__(self, term, float(v))
        if not any(getattr(self, t) > 0 for t in BLEND_TERMS if t != "co_holding"):
            raise ValueError(f"blend {self.name!r}: every weight is 0")

    @property
    def weights(self) -> tuple[float, ...]:
        """The weights in :data:`BLEND_TERMS` order (``co_holding`` counts only with evidence)."""
        w = [getattr(self, t) for t in BLEND_TERMS]
        if self.evidence == 0:
            w[1] = 0.0
        return tuple(w)

    @property
    def uses_model(self) -> bool:
        """Whether ranking by this blend needs the co-holding model."""
        return self.model > 0

    def terms(self) -> dict[str, float]:
        """The terms this blend uses, with their weights (for a legend: term -> weight)."""
        return {t: v for t, v in zip(BLEND_TERMS, self.weights, strict=True) if v > 0}

    def same_weights(self, other: Blend) -> bool:
        return self.weights == other.weights

    def renamed(self, name: str) -> Blend:
        return Blend(**{**asdict(self), "name": name})

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: name and weights (:meth:`from_dict` reads it back)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Blend:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"blend: unknown fields {', '.join(sorted(unknown))}")
        return cls(**d)

    def settings_values(self) -> dict[str, Any]:
        """The blend as ``[bundling]`` settings: ``bundling.blend_name`` and
        ``bundling.blend_<term>`` (the ``blend_*`` fields of :class:`BundlingParams`)."""
        return {"bundling.blend_name": self.name,
                **{f"bundling.blend_{t}": getattr(self, t) for t in BLEND_TERMS}}

    @classmethod
    def from_params(cls, params: BundlingParams) -> Blend:
        """The blend held by ``params``' ``blend_*`` fields."""
        return cls(name=params.blend_name,
                   **{t: getattr(params, f"blend_{t}") for t in BLEND_TERMS})

    @classmethod
    def from_settings(cls, settings: Settings | None, default: Blend | None = None) -> Blend:
        """The blend stored in ``settings.values`` (``bundling.blend_*``); ``default``
        (:data:`DEFAULT_BLEND`) where nothing is stored. A partly stored blend takes the
        missing weights from ``default`` (and the name "custom" when none is stored)."""
        base = default if default is not None else DEFAULT_BLEND
        values = settings.values if settings is not None else {}
        keys = ["name", *BLEND_TERMS]
        if not any(f"bundling.blend_{k}" in values for k in keys):
            return base
        over = {k: values[f"bundling.blend_{k}"] for k in keys if f"bundling.blend_{k}" in values}
        over.setdefault("name", "custom")
        return cls(**{**asdict(base), **over})

    def log_score(self, t: _Terms) -> np.ndarray:
        """accounts x candidates: the blend's log score on a block of terms."""
        out = np.zeros(t.shape, np.float32)
        if self.evidence > 0:
            out += np.float32(self.evidence) * t.log_evidence(self.co_holding)
        for term, arr in (("popularity", t.log_p), ("segment", t.log_q),
                          ("loyalty", t.log_gain), ("size", t.log_size),
                          ("model", t.log_model)):
            w = getattr(self, term)
            if w > 0:
                out += np.float32(w) * arr()
        return out


POPULARITY_BLEND = Blend("popularity", evidence=0.0, popularity=1.0)
"""Portfolio-wide penetration: the baseline every chosen blend must match."""
SEGMENT_POPULARITY_BLEND = Blend("segment_popularity", evidence=0.0, segment=1.0)
"""Penetration within the account's industry x size segment."""
EVIDENCE_BLEND = Blend("evidence")
"""Co-holding evidence alone (segment prior and the held set's log-lift)."""
HAND_TUNED_BLEND = Blend("hand_tuned", loyalty=1.0, size=1.0)
"""The former fixed ranking: evidence x (1 + gain / loyalty_unit) x size factor."""
MODEL_BLEND = Blend("model", evidence=0.0, model=1.0)
"""The learned co-holding model alone (its probability that the account holds j)."""
DEFAULT_BLEND = Blend.from_params(_DEFAULT)
"""Out of the box, before a blend is chosen on the portfolio's own data: the evidence with a
quarter of the co-holding weight (the segment prior leads, co-holding nudges), no loyalty or
size push. Measured on test halves (four seeds), hit@3: demo 0.545 (segment popularity
0.543, popularity 0.410); generated wide CRM exports 0.748 and 0.736 (popularity 0.743 and
0.780; the former hand-set blend 0.593 and 0.570). No fixed blend of the family matches
popularity everywhere and stays good on the demo: choose one on the portfolio's data."""

_GRID = {"co_holding": (0.25, 0.5, 1.0, 2.0), "popularity": (0.0, 0.5, 1.0),
         "loyalty": (0.0, 0.25, 1.0), "size": (0.0, 1.0)}


def blend_candidates(*, model: bool = True) -> tuple[Blend, ...]:
    """The family :func:`choose_blend` picks from (81 blends; 77 without ``model``): the
    named ones (popularity, segment_popularity, evidence, hand_tuned, default) first, then
    evidence x co-holding {0.25, 0.5, 1, 2} x popularity {0, 0.5, 1} x loyalty {0, 0.25, 1} x
    size {0, 1}, three mixes of portfolio and segment popularity, and last the learned
    co-holding model (:data:`MODEL_BLEND`) alone, with loyalty 0.25, with the size rule, and
    with the evidence at co-holding 0.25 (``model=False``: none of these, and no model is
    fitted). Blends with the same weights appear once (under the first name)."""
    named = [POPULARITY_BLEND, SEGMENT_POPULARITY_BLEND, EVIDENCE_BLEND, HAND_TUNED_BLEND,
             DEFAULT_BLEND]
    grid = [Blend(_grid_name(co, p, 0.0, lo, sz), co_holding=co, popularity=p, loyalty=lo,
                  size=sz)
            for co, p, lo, sz in itertools.product(*_GRID.values())]
    mixes = [Blend(_grid_name(None, p, s, 0.0, 0.0), evidence=0.0, popularity=p, segment=s)
             for p, s in ((1.0, 1.0), (0.5, 1.0), (1.0, 0.5))]
    learned = [MODEL_BLEND, Blend("model_l0.25", evidence=0.0, model=1.0, loyalty=0.25),
               Blend("model_z1", evidence=0.0, model=1.0, size=1.0),
               Blend("model_e1c0.25", co_holding=0.25, model=1.0)] if model else []
    out: list[Blend] = []
    for bl in [*named, *grid, *mixes, *learned]:  # the candidates (tens)
        if not any(bl.same_weights(o) for o in out):
            out.append(bl)
    return tuple(out)


def _grid_name(co: float | None, p: float, s: float, lo: float, sz: float) -> str:
    parts = [] if co is None else [f"e1c{co:g}"]
    parts += [f"{k}{v:g}" for k, v in (("p", p), ("s", s), ("l", lo), ("z", sz)) if v > 0]
    return "blend_" + "_".join(parts)


class _Terms:
    """The log terms of one block of accounts x candidates, computed once and shared by every
    blend ranked on the block (the evidence is cached per co-holding multiplier).
    ``model_logit``: the co-holding model's log-odds (None: no model fitted)."""

    def __init__(self, co: np.ndarray, logit_q: np.ndarray, q: np.ndarray, p: np.ndarray,
                 gain: np.ndarray, size_factor: np.ndarray, *, evidence_weight: float,
                 loyalty_unit: float, model_logit: np.ndarray | None = None) -> None:
        self.co, self.logit_q, self.q, self.p = co, logit_q, q, p
        self.model_logit = model_logit
        self.gain, self.size_factor = gain, size_factor
        self.evidence_weight, self.loyalty_unit = float(evidence_weight), float(loyalty_unit)
        self.shape = co.shape
        self._cache: dict[Any, np.ndarray] = {}

    def z(self, co_holding: float) -> np.ndarray:
        """The evidence's logit: segment prior plus the weighted co-holding log-lift."""
        w = np.float32(self.evidence_weight * co_holding)
        return self.logit_q + w * self.co

    def evidence_at(self, co_holding: float, r: np.ndarray, c: np.ndarray) -> np.ndarray:
        """The 0-1 evidence at rows ``r`` and candidate columns ``c`` only (float64)."""
        z = (self.logit_q[r, c].astype(np.float64)
             + self.evidence_weight * co_holding * self.co[r, c].astype(np.float64))
        return 1.0 / (1.0 + np.exp(-z))

    def model_at(self, r: np.ndarray, c: np.ndarray) -> np.ndarray:
        """The co-holding model's probability at rows ``r`` and candidate columns ``c``."""
        return 1.0 / (1.0 + np.exp(-self._model()[r, c].astype(np.float64)))

    def _model(self) -> np.ndarray:
        if self.model_logit is None:
            raise ValueError("the blend uses the co-holding model, and none was fitted")
        return self.model_logit

    def log_model(self) -> np.ndarray:
        return self._log("model", lambda: -np.logaddexp(np.float32(0.0), -self._model()))

    def log_evidence(self, co_holding: float) -> np.ndarray:
        key = ("ev", float(co_holding))
        if key not in self._cache:
            self._cache[key] = -np.logaddexp(np.float32(0.0), -self.z(co_holding))
        return self._cache[key]

    def _log(self, key: str, fn: Any) -> np.ndarray:
        if key not in self._cache:
            self._cache[key] = np.asarray(fn(), dtype=np.float32)
        return self._cache[key]

    def log_p(self) -> np.ndarray:
        return self._log("p", lambda: np.broadcast_to(np.log(self.p), self.shape))

    def log_q(self) -> np.ndarray:
        return self._log("q", lambda: np.log(np.maximum(self.q, np.float32(1e-12))))

    def log_gain(self) -> np.ndarray:
        return self._log("gain", lambda: np.log1p(self.gain / np.float32(self.loyalty_unit)))

    def log_size(self) -> np.ndarray:
        return self._log("size", lambda: np.log(self.size_factor))
