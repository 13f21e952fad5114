"""The analysed portfolio: account frame + scores + tiers + positioning, in one pass."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from valuation import positioning
from valuation.config import Settings
from valuation.pyramid import TierCutter, basis_score
from valuation.scoring import Scorecard, score

__all__ = ["Analysis", "analyse"]


@dataclass(frozen=True)
class Analysis:
    """``frame``: one row per account with every feature, score, tier, strategy, stage and
    top reasons. ``card``: the scorecard behind it. ``cutter``: the fitted tier cuts."""

    frame: pd.DataFrame
    card: Scorecard
    cutter: TierCutter
    settings: Settings


def analyse(frame: pd.DataFrame, settings: Settings) -> Analysis:
    """Score, tier and position every account of an account frame.

    Tier cuts are learned on live (not churned) accounts and applied to all.
    """
    card = score(frame, settings)
    s = card.scores
    basis = basis_score(s, settings)
    live = ~frame["churned"].astype(bool)
    cutter = TierCutter(tiers=settings.tiers, method=settings.get("tiers.method")).fit(basis[live])
    out = frame.copy()
    for col in s.columns.drop("account_id"):
        out[col] = s[col]
    out["tier_basis"] = basis
    out["tier"] = cutter.predict(basis)
    out["strategy"] = positioning.position(s, settings)
    out["approach"] = positioning.approach(frame)
    out["lifecycle_stage"] = positioning.lifecycle_stage(frame, s["loyalty_score"], settings)
    out.attrs = dict(frame.attrs)
    return Analysis(frame=out, card=card, cutter=cutter, settings=settings)
