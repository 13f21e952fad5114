"""What-if: add or remove products for one account and re-score it, side by side with today."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from valuation.bundling.common import (
    _DEFAULT,
    COMPETITOR_FAMILIES,
    FAMILIES,
    BundlingParams,
    _catalogue,
    _eligibility,
    _family_onehot,
    _py,
)
from valuation.bundling.holdings import Holdings, _two_row_holdings, _typical_for
from valuation.bundling.metrics import bundle_metrics

__all__ = [
    "WhatIf",
    "what_if",
]

_WHATIF_METRICS = ("families_covered", "products_held", *(f"depth_{f}" for f in FAMILIES),
                   "cohesion", "switching_cost", "services", "lock_in", "integration", "cug",
                   "our_spend", "competitor_products", "competitor_families", "competitor_spend")

_WHATIF_SCORES = ("value_score", "loyalty_score", "competitor_score", "tier")


@dataclass(frozen=True, eq=False)
class WhatIf:
    """A what-if for one account: ``table`` has one row per metric (bundle metrics, spend,
    scores, tier) with ``before``, ``after`` and ``change``; ``before``/``after`` are the same
    as dicts. ``notes`` lists what was ignored (already held, not held, not offered).
    ``changes``: the account-frame columns the change sets (holdings counts and spend,
    competitor columns, share of wallet, monthly_revenue, revenue_12m), for other models of
    the account to read (e.g. ``churn.what_if_risk``)."""

    account_id: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    table: pd.DataFrame
    before: dict[str, Any]
    after: dict[str, Any]
    notes: tuple[str, ...] = ()
    changes: dict[str, Any] = field(default_factory=dict)


def what_if(analysis: Any, h: Holdings, products: pd.DataFrame, account_id: Any, *,
            add: Iterable[str] = (), remove: Iterable[str] = (),
            graph: nx.MultiDiGraph | None = None, contracts: pd.DataFrame | None = None,
            revenue: Mapping[str, float] | None = None,
            params: BundlingParams = _DEFAULT) -> WhatIf:
    """Add or remove products for one account and compare with today.

    ``analysis``: the :class:`valuation.analysis.Analysis` of the portfolio (its frame, fitted
    tier cuts and settings). ``add`` / ``remove``: product ids (ours or competitors'). An
    added product brings ``revenue[product]`` per month if given, else its typical revenue
    for the account's size from ``graph`` (else its list price); a removed one takes its
    current revenue away.

    The account's row of the account frame is changed as the holdings SQL would compute it
    (our_products, our_families, products_/spend_<family>, our_spend, has_cug,
    competitor_products/families/spend, share_of_wallet; revenue_12m and monthly_revenue
    shifted by the change in our monthly revenue x 12 / x 1) and re-scored among the accounts
    of its scoring model (:func:`valuation.scoring.score_one`: what re-scoring them all would
    give it; normalisation is per model, so the other accounts' scores are unchanged); its
    tier comes from the analysis' fitted cutter. Nothing passed in is mutated.
    """
    from valuation.measures import raw_measures
    from valuation.pyramid import basis_score
    from valuation.scoring import assign_models, score_one

    cat = _catalogue(products, h.product_ids)
    settings = analysis.settings
    frame = analysis.frame
    pos = np.flatnonzero((frame["account_id"] == str(account_id)).to_numpy(bool))
    if len(pos) == 0:
        raise KeyError(f"unknown account {account_id!r}")
    label = frame.index[pos[0]]
    i = int(h.rows([str(account_id)])[0])
    col = {p: j for j, p in enumerate(cat.product_ids)}
    add, remove = tuple(dict.fromkeys(map(str, add))), tuple(dict.fromkeys(map(str, remove)))
    unknown = [p for p in add + remove if p not in col]
    if unknown:
        raise ValueError(f"unknown products: {', '.join(unknown)}")
    before_row = np.zeros(h.n_products, np.float32)
    before_spend = np.zeros(h.n_products)
    if i >= 0:
        lo, hi = h.matrix.indptr[i], h.matrix.indptr[i + 1]
        before_row[h.matrix.indices[lo:hi]] = 1.0
        before_spend[h.spend.indices[lo:hi]] = h.spend.data[lo:hi]
    after_row, after_spend = before_row.copy(), before_spend.copy()
    notes: list[str] = []
    industry = frame.at[label, "industry"]
    size = frame.at[label, "size_class"]
    typical = graph.graph.get("typical_revenue") if graph is not None else None
    elig = _eligibility(cat, np.array([industry], dtype=object))[0]
    added, removed = [], []
    for p in add:  # the handful of products asked for
        j = col[p]
        if before_row[j] > 0:
            notes.append(f"{p}: already held")
            continue
        if not elig[j]:
            notes.append(f"{p}: an industry application not offered to {industry}")
        after_row[j] = 1.0
        if revenue is not None and p in revenue:
            after_spend[j] = float(revenue[p])
        elif typical is not None:
            after_spend[j] = float(_typical_for(typical, np.array([size], dtype=object),
                                                [p])[0, 0])
        else:
            after_spend[j] = float(cat.price[j])
        added.append(p)
    for p in remove:
        j = col[p]
        if before_row[j] == 0:
            notes.append(f"{p}: not held")
            continue
        after_row[j] = 0.0
        after_spend[j] = 0.0
        removed.append(p)

    two = _two_row_holdings(h, str(account_id), before_row, before_spend, after_row,
                            after_spend)
    g = graph if graph is not None else nx.MultiDiGraph()
    acc_contracts = None
    if contracts is not None:  # the account's contracts, once for each of the two rows
        mine = contracts.loc[(contracts["account_id"] == str(account_id)).to_numpy(bool)]
        acc_contracts = pd.concat([mine.assign(account_id="before"),
                                   mine.assign(account_id="after")], ignore_index=True)
    m = bundle_metrics(two, g, products, contracts=acc_contracts, as_of=h.as_of,
                       params=params)
    # the account frame row, changed as the holdings SQL would compute it
    d_ours = float((after_spend * cat.ours).sum() - (before_spend * cat.ours).sum())
    fam_ours = _family_onehot(cat, ours=True)
    depth = np.asarray(after_row @ fam_ours).ravel()
    fam_spend = np.asarray((after_spend * cat.ours) @ fam_ours).ravel()
    comp = ~cat.ours
    row = frame.loc[[label]].copy()
    upd: dict[str, Any] = {
        "our_products": int(depth.sum()),
        "our_families": int((depth > 0).sum()),
        **{f"products_{f}": int(depth[k]) for k, f in enumerate(FAMILIES)},
        **{f"spend_{f}": float(fam_spend[k]) for k, f in enumerate(FAMILIES)},
        "our_spend": float((after_spend * cat.ours).sum()),
        "has_cug": bool((after_row * (cat.ours & (cat.function == "cug"))).sum() > 0),
        "competitor_products": int((after_row * comp).sum()),
        "competitor_families": int(sum(
            (after_row * (comp & (cat.family == f))).sum() > 0 for f in COMPETITOR_FAMILIES)),
        "competitor_spend": float((after_spend * comp).sum()),
    }
    for c, mult in (("revenue_12m", 12.0), ("monthly_revenue", 1.0)):
        if c in row.columns:
            upd[c] = float(row.at[label, c]) + d_ours * mult
    if "share_of_wallet" in row.columns:
        wallet = upd["our_spend"] + upd["competitor_spend"]
        upd["share_of_wallet"] = upd["our_spend"] / wallet if wallet > 0 else np.nan
    for c, v in upd.items():  # the account frame's holdings columns
        if c in row.columns:
            row.at[label, c] = v
    # re-score the account among the other accounts of its scoring model: the normalisation
    # is per model, so this gives the account's score on the whole frame (the others' scores
    # do not change), and the population's raw measures are the scorecard's
    card0 = analysis.card
    new_model = str(assign_models(row, settings).at[label])
    model = next(m for m in settings.models if m.name == new_model)
    raw_row = raw_measures(row, as_of=frame.attrs.get("as_of")).loc[label]
    others = card0.scores["model"].to_numpy() == new_model
    others[pos[0]] = False  # the account itself: its changed row is scored among the others
    population = {mw.name: card0.raw[mw.name].to_numpy()[others] for mw in model.measures}
    subs = score_one(raw_row, population, model, tuple(card0.unavailable.get(new_model, ())))
    s_after = pd.DataFrame({"account_id": [str(account_id)], "model": [new_model], **{
        k: [v] for k, v in subs.items()}}, index=[label])
    tier_after = str(analysis.cutter.predict(basis_score(s_after, settings))[0])

    before = {**{c: _py(m.iloc[0][c]) for c in _WHATIF_METRICS},
              **{c: _py(frame.at[label, c]) for c in _WHATIF_SCORES if c in frame.columns}}
    after = {**{c: _py(m.iloc[1][c]) for c in _WHATIF_METRICS},
             **{c: _py(s_after.at[label, c]) for c in _WHATIF_SCORES if c in s_after.columns},
             "tier": tier_after}
    before.setdefault("tier", _py(frame.at[label, "tier"]) if "tier" in frame.columns else None)
    names = list(before)
    b = [before[n] for n in names]
    a = [after.get(n) for n in names]
    change = [(y - x) if isinstance(x, (int, float)) and isinstance(y, (int, float))
              and not isinstance(x, bool) else (None if x == y else f"{x} -> {y}")
              for x, y in zip(b, a, strict=True)]
    table = pd.DataFrame({"metric": names, "before": b, "after": a, "change": change})
    return WhatIf(account_id=str(account_id), added=tuple(added), removed=tuple(removed),
                  table=table, before=before, after=after, notes=tuple(notes),
                  changes={c: row.at[label, c] for c in upd if c in row.columns})
