"""How well the cross-sell ranking finds what accounts hold, and which blend to rank by.

:func:`evaluate_recommender`: hide one held product of ours per account, rank, and report hit
rates of the blend in use next to popularity baselines. :func:`choose_blend`: pick the
:class:`Blend` (of :func:`blend_candidates`) that finds hidden products best on one half of
the accounts, and report every candidate on the other half, so the figure quoted is not the
one the choice was made on. Both rebuild the product graph without the hidden cells (no
leakage) and rank under :func:`recommend`'s guardrails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from valuation.bundling.blend import (
    BLEND_TERMS,
    EVIDENCE_BLEND,
    HAND_TUNED_BLEND,
    POPULARITY_BLEND,
    SEGMENT_POPULARITY_BLEND,
    Blend,
    blend_candidates,
)
from valuation.bundling.cohold import CoHoldingModel
from valuation.bundling.common import (
    _CHUNK,
    _DEFAULT,
    BundlingParams,
    _Catalogue,
    _catalogue,
    _settings,
)
from valuation.bundling.graph import build_graph
from valuation.bundling.holdings import Holdings, _accounts_view, _drop_entries, _rows_of_accounts
from valuation.bundling.recommend import _map_blocks, _Recommender, _row_argmax
from valuation.config import Settings

__all__ = [
    "BlendChoice",
    "blend_in_use",
    "choose_blend",
    "evaluate_recommender",
]

# The candidates a choice reports by name next to the winner (when present).
_NAMED = ("popularity", "segment_popularity", "evidence", "hand_tuned", "default", "model")


def evaluate_recommender(h: Holdings, products: pd.DataFrame, accounts: pd.DataFrame, *,
                         seed: int = 0, ks: Sequence[int] = (3, 5), min_held: int = 2,
                         settings: Settings | None = None,
                         params: BundlingParams = _DEFAULT,
                         blend: Blend | None = None) -> dict[str, Any]:
    """Hide one held product of ours per account, rank, and report hit rates.

    Every account holding at least ``min_held`` products of ours has one of them, drawn at
    random (``seed``), hidden. The graph is rebuilt on the masked matrix (the hidden cells are
    gone: no leakage) and every method ranks the products of ours the account does not hold
    under the same guardrails (not held, industry fit, not a substitute of ours held). A hit
    at k: the hidden product is among the top k (ties count against the method).

    Methods: ``graph`` (the ranking :func:`recommend` returns with ``blend``; default: as
    :func:`recommend`'s, the blend stored in ``settings``, else ``params``'; pass the blend
    :func:`choose_blend` chose to report it), ``graph_evidence`` (the co-holding evidence
    alone), ``popularity`` (portfolio-wide penetration, the baseline),
    ``segment_popularity`` (penetration within the account's industry x size segment, a
    stronger baseline) and ``hand_tuned`` (the former fixed blend: evidence x loyalty gain x
    size factor). A ``blend`` using the co-holding model (:attr:`Blend.uses_model`) has it
    fitted on the masked holdings (the hidden cells are neither its inputs nor its labels;
    ``seed`` seeds it). Figures on the accounts the blend was chosen on flatter it: quote
    :func:`choose_blend`'s test split, or evaluate with another seed.

    Returns {"accounts", "seed", "min_held", "blend": the blend's weights (:meth:`Blend.as_dict`),
    "methods": {method: {"hit@3": ..., "hit@5": ...}}}.
    """
    cat = _catalogue(products, h.product_ids)
    settings = _settings(settings)
    if blend is None:
        blend = Blend.from_settings(settings, default=Blend.from_params(params))
    ks = tuple(int(k) for k in ks)
    methods = {"graph": blend, "graph_evidence": EVIDENCE_BLEND,
               "popularity": POPULARITY_BLEND, "segment_popularity": SEGMENT_POPULARITY_BLEND,
               "hand_tuned": HAND_TUNED_BLEND}
    rows = _eligible_rows(h, cat, min_held)
    res = _hit_rates(h, products, accounts, cat, rows, np.random.default_rng(seed),
                     list(methods.values()), ks=ks, settings=settings, params=params,
                     model_seed=int(seed))
    return {"accounts": res["accounts"], "seed": int(seed), "min_held": int(min_held),
            "blend": blend.as_dict(),
            "methods": {name: _figures(res, i, ks) for i, name in enumerate(methods)}}


@dataclass(frozen=True, eq=False)
class BlendChoice:
    """The outcome of :func:`choose_blend`.

    ``blend``: the winner (pass it to :func:`recommend` / :func:`evaluate_recommender`, store
    it with :meth:`Blend.settings_values`). ``table``: one row per candidate, in candidate
    order: blend (name), the weights (:data:`BLEND_TERMS`), ``selection_hit@k`` and
    ``test_hit@k`` for every k, ``selection_gain`` (hit@``k`` minus popularity's, selection
    half), ``selection_z`` (that gain in paired standard errors), ``eligible`` (popularity, or
    a gain above ``margin`` standard errors) and ``chosen``. ``selection`` / ``test``: the
    splits' seeds and account counts; ``selection_accounts`` / ``test_accounts``: their
    account ids (disjoint).
    """

    blend: Blend
    table: pd.DataFrame
    k: int
    margin: float
    selection: dict[str, Any]
    test: dict[str, Any]
    selection_accounts: np.ndarray
    test_accounts: np.ndarray

    @property
    def name(self) -> str:
        return self.blend.name

    def methods(self, split: str = "test") -> dict[str, dict[str, float]]:
        """Hit rates on ``split`` ("test" or "selection") of the chosen blend (``chosen``) and
        of the named candidates present (popularity, segment_popularity, evidence,
        hand_tuned, default, model), as :func:`evaluate_recommender`'s ``methods``."""
        if split not in ("test", "selection"):
            raise ValueError("split: test or selection")
        t = self.table.set_index("blend")
        cols = [c for c in t.columns if c.startswith(f"{split}_hit@")]
        rows = {"chosen": self.name, **{n: n for n in _NAMED if n in t.index}}
        return {label: {c.removeprefix(f"{split}_"): float(t.at[name, c]) for c in cols}
                for label, name in rows.items()}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the chosen blend, both splits with their figures, every candidate."""
        return {"chosen": self.name, "blend": self.blend.as_dict(), "k": self.k,
                "margin": self.margin,
                "selection": {**self.selection, "methods": self.methods("selection")},
                "test": {**self.test, "methods": self.methods("test")},
                "candidates": [{k: (v.item() if isinstance(v, np.generic) else v)
                                for k, v in r.items()}
                               for r in self.table.to_dict("records")]}


def choose_blend(h: Holdings, products: pd.DataFrame, accounts: pd.DataFrame, *,
                 seed: int = 0, settings: Settings | None = None,
                 test_seed: int | None = None, candidates: Sequence[Blend] | None = None,
                 k: int = 3, ks: Sequence[int] = (3, 5), min_held: int = 2,
                 margin: float | None = None,
                 params: BundlingParams = _DEFAULT) -> BlendChoice:
    """The blend that finds hidden products best on held-out accounts, honestly reported.

    The accounts holding at least ``min_held`` products of ours are split at random
    (``seed``) into a selection half and a test half. On each half one held product of ours
    per account is hidden (drawn with ``seed`` on the selection half, with ``test_seed``,
    default ``seed + 1``, on the test half), the graph is rebuilt without that half's hidden
    cells, and every candidate (default :func:`blend_candidates`; popularity is always
    added) ranks that half's accounts under :func:`recommend`'s guardrails.

    The choice uses the selection half only: the candidate with the best hit@``k`` (then the
    best hit at the other ``ks``, then candidate order) among popularity and the candidates
    beating popularity there by more than ``margin`` paired standard errors (default
    ``params.blend_margin``), so the chosen blend never loses to popularity on the selection
    half, and a blend that wins by noise does not replace it. The test half's figures do not
    enter the choice (changing ``test_seed`` changes them, never the choice): they are the
    ones to quote, whatever they are.

    The learned co-holding model (candidates with :attr:`Blend.uses_model`; pass
    ``blend_candidates(model=False)`` to leave them out) is fitted once per half, on the same
    masked matrix the half's graph is rebuilt from: every account's live holdings with that
    half's hidden cells removed. A hidden cell is then neither an input (the account's other
    holdings are) nor a label (it counts as "not held", as a product an account does not
    hold yet counts in use), so the model never sees the products it is scored on; the other
    half's holdings are training data only, as for the graph. The selection half's model is
    seeded with ``seed``, the test half's with the test seed. The chosen blend says whether it
    uses the model (:attr:`Blend.uses_model`); :func:`recommend` then fits it on the live
    holdings (or is given one: ``cohold``).
    """
    cat = _catalogue(products, h.product_ids)
    settings = _settings(settings)
    margin = float(params.blend_margin if margin is None else margin)
    k = int(k)
    ks = tuple(sorted({int(x) for x in ks} | {k}))
    cands = list(blend_candidates() if candidates is None else candidates)
    base = next((i for i, c in enumerate(cands) if c.same_weights(POPULARITY_BLEND)), None)
    if base is None:
        cands.insert(0, POPULARITY_BLEND)
        base = 0
    names = [c.name for c in cands]
    if len(set(names)) != len(names):
        raise ValueError("candidates: blend names must be unique")
    rows = _eligible_rows(h, cat, min_held)
    if len(rows) < 2:
        raise ValueError(f"choose_blend: {len(rows)} accounts hold {min_held} or more products "
                         "of ours; at least 2 are needed")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(rows)
    half = (len(rows) + 1) // 2
    sel_rows, test_rows = np.sort(perm[:half]), np.sort(perm[half:])
    t_seed = int(seed) + 1 if test_seed is None else int(test_seed)
    common = {"ks": ks, "settings": settings, "params": params, "baseline": base, "k": k}
    sel = _hit_rates(h, products, accounts, cat, sel_rows, rng, cands, model_seed=int(seed),
                     **common)
    test = _hit_rates(h, products, accounts, cat, test_rows, np.random.default_rng(t_seed),
                      cands, model_seed=t_seed, **common)
    gain, z = _paired(sel)
    eligible = (np.arange(len(cands)) == base) | (gain > margin * np.sqrt(
        np.maximum(sel["var"], 0.0) / max(sel["accounts"], 1)))
    ki = ks.index(k)
    rate = np.where(eligible[:, None], sel["rates"], -np.inf)
    others = [rate[:, j] for j in range(len(ks)) if j != ki]
    order = np.lexsort((np.arange(len(cands)), *[-o for o in others[::-1]], -rate[:, ki]))
    win = int(order[0])
    table = pd.DataFrame({"blend": names,
                          **{t: [c.weights[i] for c in cands] for i, t in enumerate(BLEND_TERMS)}})
    for split, res in (("selection", sel), ("test", test)):
        for j, kk in enumerate(ks):
            table[f"{split}_hit@{kk}"] = res["rates"][:, j]
    table["selection_gain"] = gain
    table["selection_z"] = z
    table["eligible"] = eligible
    table["chosen"] = np.arange(len(cands)) == win
    ids = np.asarray(h.account_ids, dtype=object)
    return BlendChoice(
        blend=cands[win], table=table, k=k, margin=margin,
        selection={"seed": int(seed), "accounts": sel["accounts"]},
        test={"seed": t_seed, "accounts": test["accounts"]},
        selection_accounts=ids[sel["rows"]], test_accounts=ids[test["rows"]])


def blend_in_use(h: Holdings, products: pd.DataFrame, accounts: pd.DataFrame, *,
                 settings: Settings | None, seed: int = 0) -> tuple[Blend, BlendChoice | None]:
    """The ranking the suggestions use, and the evidence for it: the blend an admin saved in
    the settings (``bundling.blend_*``) if any, else the one :func:`choose_blend` picks on this
    portfolio. The choice (None when too few accounts hold two products of ours to choose:
    then the default blend) is returned either way, so its figures can be shown."""
    params = BundlingParams.from_settings(settings)
    try:
        choice: BlendChoice | None = choose_blend(h, products, accounts, seed=seed,
                                                  settings=settings, params=params)
    except ValueError:
        choice = None
    stored = settings is not None and any(k.startswith("bundling.blend_") for k in settings.values)
    if stored or choice is None:
        return Blend.from_settings(settings), choice
    return choice.blend, choice


def _eligible_rows(h: Holdings, cat: _Catalogue, min_held: int) -> np.ndarray:
    """Rows of ``h`` holding at least ``min_held`` (and at least one) products of ours."""
    x = h.matrix
    row_of = np.repeat(np.arange(h.n_accounts), np.diff(x.indptr))
    n_ours = np.bincount(row_of[cat.ours[x.indices]], minlength=h.n_accounts)
    return np.flatnonzero(n_ours >= max(int(min_held), 1))


def _hide(h: Holdings, cat: _Catalogue, rows: np.ndarray, rng: np.random.Generator
          ) -> tuple[Holdings, np.ndarray]:
    """``h`` without one product of ours per row of ``rows`` (drawn with ``rng``), and the
    hidden product column per row of ``rows``."""
    x = h.matrix
    row_of = np.repeat(np.arange(h.n_accounts), np.diff(x.indptr))
    chosen = np.zeros(h.n_accounts, bool)
    chosen[rows] = True
    # one random product of ours per row: the largest random key among its entries
    keys = np.where(cat.ours[x.indices] & chosen[row_of], rng.random(x.nnz), -1.0)
    best, arg = _row_argmax(x.indptr, keys, row_of)
    if (best[rows] < 0).any():
        raise ValueError("a row to hide from holds no product of ours")
    pick = arg[rows]
    keep = np.ones(x.nnz, bool)
    keep[pick] = False
    return _drop_entries(h, keep), x.indices[pick].astype(np.int64)


def _hit_rates(h: Holdings, products: pd.DataFrame, accounts: pd.DataFrame, cat: _Catalogue,
               rows: np.ndarray, rng: np.random.Generator, blends: Sequence[Blend], *,
               ks: Sequence[int], settings: Settings, params: BundlingParams,
               baseline: int | None = None, k: int | None = None,
               model_seed: int = 0) -> dict[str, Any]:
    """Hide one product of ours per row of ``rows``, rebuild the graph, rank those accounts
    by every blend. Returns "rows", "accounts", "rates" (blends x ks), and with ``baseline``
    (a blend's position) the per-account paired comparison at ``k`` against it: "gain" and
    "var" (mean and variance of hit - baseline hit)."""
    ks = list(ks)
    masked, hidden = _hide(h, cat, rows, rng)
    graph = build_graph(masked, products, accounts=accounts, params=params)
    acc = _accounts_view(masked, _rows_of_accounts(masked, accounts, rows))
    # the co-holding model learns from the masked matrix, as the graph does: the hidden cells
    # are neither inputs nor labels (each counts as "not held", as in use)
    cohold = (_fit_model(masked, products, accounts, params, model_seed)
              if any(bl.uses_model for bl in blends) else None)
    model = _Recommender(masked, graph, cat, params, settings, cohold=cohold)
    ctx = model.prepare(acc)
    ctx["active"] = np.ones(len(rows), bool)  # every evaluated account holds something
    nb, n = len(blends), len(rows)

    def block(lo: int) -> tuple[np.ndarray, np.ndarray]:
        hi = min(lo + _CHUNK, n)
        sc = model.scores(acc, ctx, lo, hi)
        tcol = np.searchsorted(model.cand, hidden[lo:hi])
        hits = np.zeros((nb, len(ks)), np.int64)
        paired = np.zeros((nb, 2), np.int64)  # accounts the blend hits and the baseline
        # misses, and the other way round
        at_k = []
        for i, bl in enumerate(blends):  # the candidate blends (tens)
            s = np.where(sc["allowed"], bl.log_score(sc["terms"]), np.float32(-np.inf))
            tv = s[np.arange(hi - lo), tcol]
            # products strictly better, plus ties (ties are counted against the method)
            rank = (s > tv[:, None]).sum(axis=1) + ((s == tv[:, None]).sum(axis=1) - 1)
            rank = np.where(np.isfinite(tv), rank, 10**6)
            hits[i] = [(rank < kk).sum() for kk in ks]
            if baseline is not None:
                at_k.append(rank < k)
        if baseline is not None:
            hk = np.stack(at_k)
            paired[:, 0] = (hk & ~hk[baseline]).sum(axis=1)
            paired[:, 1] = (~hk & hk[baseline]).sum(axis=1)
        return hits, paired

    parts = _map_blocks(block, n)
    hits = sum((p[0] for p in parts), np.zeros((nb, len(ks)), np.int64))
    paired = sum((p[1] for p in parts), np.zeros((nb, 2), np.int64))
    m = max(n, 1)
    gain = (paired[:, 0] - paired[:, 1]) / m
    return {"rows": rows, "accounts": int(n),
            "rates": hits / m if n else np.full((nb, len(ks)), np.nan),
            "gain": gain, "var": (paired[:, 0] + paired[:, 1]) / m - gain ** 2}


def _fit_model(masked: Holdings, products: pd.DataFrame, accounts: pd.DataFrame,
               params: BundlingParams, seed: int) -> CoHoldingModel:
    """The co-holding model of an evaluation, fitted on the masked holdings only."""
    return CoHoldingModel.from_params(params, random_state=seed).fit(masked, products, accounts)


def _paired(res: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Gain over the baseline and its z (gain / paired standard error; 0 for no gain)."""
    gain = res["gain"]
    se = np.sqrt(np.maximum(res["var"], 0.0) / max(res["accounts"], 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(gain == 0, 0.0, gain / se)
    return gain, z


def _figures(res: dict[str, Any], i: int, ks: Sequence[int]) -> dict[str, float]:
    return {f"hit@{k}": float(res["rates"][i, j]) for j, k in enumerate(ks)}
