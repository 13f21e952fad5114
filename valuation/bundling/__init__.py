"""Bundling depth as a graph: product graph, bundle metrics, switching cost, cross-sell, what-if."""

from valuation.bundling.common import (
    APPROACH_OF_SIZE,
    COMPETITOR_FAMILIES,
    FAMILIES,
    METRIC_LABELS,
    REASONS,
    BundlingParams,
)
from valuation.bundling.common import OURS as OURS
from valuation.bundling.graph import build_graph, ego_graph, graph_frames, layout
from valuation.bundling.holdings import Holdings, holdings_from_frame, load_holdings
from valuation.bundling.metrics import bundle_metrics, explain_bundle
from valuation.bundling.recommend import evaluate_recommender, recommend
from valuation.bundling.whatif import WhatIf, what_if
from valuation.bundling.whitespace import displacement, whitespace

__all__ = [
    "APPROACH_OF_SIZE",
    "BundlingParams",
    "COMPETITOR_FAMILIES",
    "FAMILIES",
    "Holdings",
    "METRIC_LABELS",
    "REASONS",
    "WhatIf",
    "build_graph",
    "bundle_metrics",
    "displacement",
    "ego_graph",
    "evaluate_recommender",
    "explain_bundle",
    "graph_frames",
    "holdings_from_frame",
    "layout",
    "load_holdings",
    "recommend",
    "what_if",
    "whitespace",
]
