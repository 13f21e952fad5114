"""Bundling depth as a graph: product graph, bundle metrics, switching cost, cross-sell, what-if.

Cross-sell is ranked by a :class:`Blend` (``blend``) chosen on the portfolio's own data by
:func:`choose_blend` (``evaluate``, with :func:`evaluate_recommender`); one candidate ranks by
the learned :class:`CoHoldingModel` (``cohold``).
"""

from valuation.bundling.blend import (
    DEFAULT_BLEND,
    EVIDENCE_BLEND,
    HAND_TUNED_BLEND,
    MODEL_BLEND,
    POPULARITY_BLEND,
    SEGMENT_POPULARITY_BLEND,
    Blend,
    blend_candidates,
)
from valuation.bundling.cohold import CoHoldingModel
from valuation.bundling.common import (
    APPROACH_OF_SIZE,
    COMPETITOR_FAMILIES,
    FAMILIES,
    METRIC_LABELS,
    REASONS,
    BundlingParams,
)
from valuation.bundling.common import OURS as OURS
from valuation.bundling.evaluate import (
    BlendChoice,
    blend_in_use,
    choose_blend,
    evaluate_recommender,
)
from valuation.bundling.graph import build_graph, ego_graph, graph_frames, graph_view, layout
from valuation.bundling.holdings import Holdings, holdings_from_frame, load_holdings
from valuation.bundling.metrics import bundle_metrics, explain_bundle
from valuation.bundling.recommend import recommend
from valuation.bundling.whatif import WhatIf, what_if
from valuation.bundling.whitespace import displacement, whitespace

__all__ = [
    "APPROACH_OF_SIZE",
    "Blend",
    "BlendChoice",
    "BundlingParams",
    "COMPETITOR_FAMILIES",
    "CoHoldingModel",
    "DEFAULT_BLEND",
    "EVIDENCE_BLEND",
    "FAMILIES",
    "HAND_TUNED_BLEND",
    "Holdings",
    "METRIC_LABELS",
    "MODEL_BLEND",
    "POPULARITY_BLEND",
    "REASONS",
    "SEGMENT_POPULARITY_BLEND",
    "WhatIf",
    "blend_candidates",
    "blend_in_use",
    "build_graph",
    "bundle_metrics",
    "choose_blend",
    "displacement",
    "ego_graph",
    "evaluate_recommender",
    "explain_bundle",
    "graph_frames",
    "graph_view",
    "holdings_from_frame",
    "layout",
    "load_holdings",
    "recommend",
    "what_if",
    "whitespace",
]
