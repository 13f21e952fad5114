"""Cross-sell: next-best products of ours per account, ranked by a :class:`Blend`.

:func:`recommend`: next-best products of ours per account, with guardrails, in the order of a
blend of co-holding evidence, popularity, loyalty gain and the size rule (the blend chosen on
the portfolio's own data by :func:`~valuation.bundling.evaluate.choose_blend`, else
:data:`DEFAULT_BLEND`). Nothing here writes holdings: recommendations are suggestions for an
account manager to discuss with the customer, never activations (DOMAIN.md section 5).
"""

from __future__ import annotations

import os
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from valuation.bundling.blend import Blend, _Terms
from valuation.bundling.cohold import CoHoldingModel
from valuation.bundling.common import (
    _CHUNK,
    _DEFAULT,
    _DEPTH_CAP,
    APPROACH_OF_SIZE,
    FAMILIES,
    REASONS,
    BundlingParams,
    _Catalogue,
    _catalogue,
    _eligibility,
    _family_onehot,
    _settings,
)
from valuation.bundling.graph import _lift_matrix, _substitute_index
from valuation.bundling.holdings import (
    Holdings,
    _accounts_view,
    _rows_matrix,
    _typical_for,
    _typical_revenue,
)
from valuation.config import Settings

__all__ = [
    "recommend",
]

_THREADS = max(1, min(2, os.cpu_count() or 1))  # blocks scored in parallel

_REC_COLUMNS = ("account_id", "rank", "product_id", "family", "score", "evidence",
                "loyalty_gain", "typical_revenue", "expected_revenue", "segment_share",
                "reason_code", "because_product", "because_lift", "displaces", "approach")


def recommend(h: Holdings, graph: nx.MultiDiGraph, products: pd.DataFrame,
              accounts: pd.DataFrame, *, k: int = 5, settings: Settings | None = None,
              params: BundlingParams = _DEFAULT, blend: Blend | None = None,
              cohold: CoHoldingModel | None = None) -> pd.DataFrame:
    """Next-best products of ours for each account of ``accounts`` (suggestions only).

    ``accounts``: account_id, industry, size_class; optional ``model`` (the scoring model, as
    in the analysed frame) and ``churned`` (churned accounts get no suggestions). Accounts
    missing from ``h`` count as holding nothing.

    Evidence (0-1) for a candidate product j: the share of the account's industry x size
    segment holding j (shrunk to the portfolio's share by ``segment_shrinkage``), as odds,
    times the co-holding evidence of the whole held set: the product over every product held
    (ours and competitors') of its graph edge's shrunk segment lift, (count + m) / (expected
    + m), to the power ``evidence_weight`` x the blend's ``co_holding``. Products held
    together more often than the segment mix explains raise each other.

    The order is the ``blend``'s (:class:`Blend`; default: the blend stored in ``settings``
    (``bundling.blend_*``), else ``params``' (:data:`DEFAULT_BLEND` unless changed)): a
    weighted product of the evidence, the portfolio penetration, the segment share, the
    expected loyalty gain (1 + gain / ``loyalty_unit``; the gain in loyalty points is
    estimated from the account's scoring model: new family, one more product, family depth,
    closed user group) and the size rule (large and medium accounts, function and service
    led, favour larger solutions and industry applications / service support; small ones,
    price led, cheaper additions). Pick the weights on the portfolio's own data with
    :func:`~valuation.bundling.evaluate.choose_blend`.

    A blend with a ``model`` weight (:attr:`Blend.uses_model`) also ranks by the learned
    co-holding model's probability that the account holds j (:class:`CoHoldingModel`: per
    product of ours, a logistic regression on the other holdings and the segment). Pass it
    fitted as ``cohold``; else it is fitted here on ``h`` with the segments of ``accounts``
    (fit it on the whole portfolio and pass it when ``accounts`` lists only some accounts).
    The model is only used, and fitted, when the blend uses it.

    Guardrails: never a product the account holds, never one of ours with the function of a
    product of ours it holds, never an industry application for another industry, never a
    competitor's product; nothing is activated: these are suggestions to discuss.

    Returns long rows, best first per account: account_id, rank (1..k), product_id, family,
    score (the blend's, comparable within one blend only), evidence (the co-holding model's
    probability when the blend uses the model), loyalty_gain,
    typical_revenue (monthly, yuan, for the account's size), expected_revenue (evidence x
    typical revenue), segment_share, reason_code (see :data:`REASONS`), because_product and
    because_lift (the held product adding most to the score through the co-holding terms:
    its edge's log-lift and / or, with the model, its coefficient, as the blend weighs them;
    and the edge's lift, empty without an edge; both empty when no held product adds anything
    or the blend gives co-holding and the model no weight, as they then play no part in the
    order), displaces (a competitor product of the same function the account holds),
    approach (function_service / price_led). ``frame.attrs["blend"]`` holds the blend used
    (:meth:`Blend.as_dict`).
    """
    cat = _catalogue(products, h.product_ids)
    settings = _settings(settings)
    if blend is None:
        blend = Blend.from_settings(settings, default=Blend.from_params(params))
    if blend.uses_model and cohold is None:
        cohold = CoHoldingModel.from_params(params).fit(h, products, accounts)
    acc = _accounts_view(h, accounts)
    model = _Recommender(h, graph, cat, params, settings,
                         cohold=cohold if blend.uses_model else None)
    ctx = model.prepare(acc)
    n = len(acc["rows"])
    kk = max(0, min(int(k), len(model.cand)))
    out = _RecsOut(n, kk)
    if kk > 0:
        _map_blocks(lambda lo: model.top_k(acc, ctx, lo, min(lo + _CHUNK, n), out, blend), n)
    frame = out.frame(acc, cat)
    frame.attrs["blend"] = blend.as_dict()
    return frame


class _Recommender:
    """The learned pieces of the recommender (products x products and segments x products
    arrays, from the graph) and the per-block scoring kernels. Loops run over blocks of
    accounts, products, the k ranks and the scoring models; never over accounts."""

    def __init__(self, h: Holdings, graph: nx.MultiDiGraph, cat: _Catalogue,
                 params: BundlingParams, settings: Settings,
                 cohold: CoHoldingModel | None = None) -> None:
        self.h, self.cat, self.params, self.settings = h, cat, params, settings
        n_acc = max(int(graph.graph.get("accounts", 0)), 1)
        holders = np.array([graph.nodes[p].get("holders", 0) if p in graph else 0
                            for p in cat.product_ids], dtype=np.float64)
        self.p = (holders + 0.5) / (n_acc + 1.0)
        m = params.evidence_shrinkage
        count = _lift_matrix(graph, cat, "count")
        expected = _lift_matrix(graph, cat, "expected")
        w = np.where(count > 0, np.log((count + m) / (expected + m)), 0.0)
        np.fill_diagonal(w, 0.0)
        self.cand = np.flatnonzero(cat.ours)
        self.w = w[:, self.cand].astype(np.float32)  # products x candidates
        self.lift = _lift_matrix(graph, cat, "lift")[:, self.cand]
        func = cat.function
        self.same_func = np.array([[func[i] == func[j] and cat.ours[i] for j in self.cand]
                                   for i in range(len(func))], dtype=np.float32)
        self.sub_of = _substitute_index(graph, cat)  # competitor product -> our column
        self.cand_pos = np.full(len(cat.product_ids), -1, np.int64)
        self.cand_pos[self.cand] = np.arange(len(self.cand))
        self.fam_idx = np.array([FAMILIES.index(f) for f in cat.family[self.cand]])
        self.industry_app = np.array([bool(s) for s in cat.industries])[self.cand]
        self.is_cug = (cat.function[self.cand] == "cug")
        deep = np.isin(cat.family[self.cand], ["industry", "service_support"])
        self.deep_fam = deep
        self.seg_acc = graph.graph.get("segment_accounts")
        self.seg_hold = graph.graph.get("segment_holders")
        self.typical = graph.graph.get("typical_revenue")
        if self.typical is None:
            self.typical = _typical_revenue(h, None, cat)
        self.gain: _LoyaltyGain | None = None
        self.cohold = cohold
        self.mcoef = None if cohold is None else _model_coef(cohold, cat, self.cand)

    # -- per-account context, once for all accounts ---------------------------------------
    def prepare(self, acc: dict[str, Any]) -> dict[str, Any]:
        """Segment rows, eligibility rows, size approach, scoring model and typical revenue
        per account, as small tables plus integer codes (no per-account Python)."""
        cat, prm, cand = self.cat, self.params, self.cand
        ind_codes, ind_u = pd.factorize(pd.Series(acc["industry"], dtype=object))
        size_codes, size_u = pd.factorize(pd.Series(acc["size"], dtype=object))
        # segment share table: (industry, size) combinations present -> shrunk shares
        prior = self.p[cand]
        m = prm.segment_shrinkage
        n_i, n_s = len(ind_u) + 1, len(size_u) + 1
        q = np.tile(prior, (n_i * n_s, 1))
        if self.seg_acc is not None:
            keys = pd.MultiIndex.from_product(
                [[*map(str, ind_u), ""], [*map(str, size_u), ""]])
            pos = self.seg_acc.index.get_indexer(keys)
            hold = self.seg_hold.reindex(columns=list(cat.product_ids[cand])).to_numpy(
                dtype=np.float64)
            n_seg = self.seg_acc.to_numpy(dtype=np.float64)
            ok = pos >= 0
            q[ok] = (hold[pos[ok]] + m * prior[None, :]) / (n_seg[pos[ok], None] + m)
        ic = np.where(ind_codes >= 0, ind_codes, n_i - 1)
        sc = np.where(size_codes >= 0, size_codes, n_s - 1)
        elig = _eligibility(cat, np.array([*ind_u, None], dtype=object))[:, cand]
        fs_u = np.array([APPROACH_OF_SIZE.get(str(s)) == "function_service" for s in size_u]
                        + [False])
        typ = _typical_for(self.typical, np.array([*map(str, size_u), "all"], dtype=object),
                           list(cat.product_ids[cand]))
        model = acc["model"]
        if bool(pd.isna(model).all()):
            from valuation.scoring import assign_models

            try:
                model = assign_models(acc["frame"], self.settings).to_numpy(dtype=object)
            except KeyError:  # scope columns missing: the catch-all model
                model = np.full(len(model), self.settings.models[-1].name, dtype=object)
        names = [m_.name for m_ in self.settings.models]
        model_code = pd.Index(names).get_indexer(pd.Series(model, dtype=object).astype(str))
        model_code = np.where(model_code >= 0, model_code, len(names) - 1)
        # the loyalty-gain estimate normalises against each model's accounts where known
        of_rows = np.full(self.h.n_accounts, -1, np.int64)
        ok = acc["rows"] >= 0
        of_rows[acc["rows"][ok]] = model_code[ok]
        self.gain = _LoyaltyGain(self.h, cat, self.settings, of_rows)
        q = np.clip(q, 1e-9, 1 - 1e-9)
        # the size rule, per size class x candidate: revenue elasticity and family boost
        elasticity = np.where(fs_u, prm.revenue_elasticity, -prm.revenue_elasticity)
        size_factor = ((1.0 + typ / prm.revenue_unit) ** elasticity[:, None]) * (
            1.0 + prm.function_service_boost * (fs_u[:, None] & self.deep_fam[None, :]))
        churned = acc["frame"]["churned"] if "churned" in acc["frame"].columns else None
        active = (np.ones(len(ic), bool) if churned is None
                  else ~churned.fillna(False).to_numpy(dtype=bool))
        # the co-holding model's segment log-odds, per (industry, size) combination
        mseg = None
        if self.cohold is not None:
            combo_i = np.repeat(np.array([*ind_u, None], dtype=object), n_s)
            combo_s = np.tile(np.array([*size_u, None], dtype=object), n_i)
            pos = pd.Index(self.cohold.candidates_).get_indexer(cat.product_ids[cand])
            mseg = self.cohold.segment_logit(combo_i, combo_s)[:, pos].astype(np.float32)
        return {"seg": ic * n_s + sc, "q": q.astype(np.float32), "active": active,
                "model_seg": mseg,
                "logit_q": np.log(q / (1 - q)).astype(np.float32), "ind": ic, "elig": elig,
                "size": sc, "fs_u": fs_u, "typ": typ.astype(np.float32),
                "size_factor": size_factor.astype(np.float32), "model": model_code}

    def scores(self, acc: dict[str, Any], ctx: dict[str, Any], lo: int, hi: int
               ) -> dict[str, Any]:
        """Everything about the candidates of accounts ``lo:hi`` (dense blocks); ``terms``
        holds the log terms every :class:`Blend` ranks by."""
        prm = self.params
        x = _rows_matrix(self.h.matrix, acc["rows"][lo:hi])
        xd = x.toarray()  # float32, accounts x products
        seg = ctx["seg"][lo:hi]
        co = xd @ self.w  # the held set's co-holding log-lift, accounts x candidates
        # not held, and no product of ours of the same function held (same_func includes the
        # product itself); industry fit
        allowed = ctx["elig"][ctx["ind"][lo:hi]] & ((xd @ self.same_func) == 0)
        allowed &= ctx["active"][lo:hi, None]
        size = ctx["size"][lo:hi]
        depth = xd @ self.gain.fam_onehot  # n x 4
        gain = self.gain.points(depth, (xd @ self.gain.cug) > 0, ctx["model"][lo:hi],
                                self.fam_idx, self.is_cug)
        q = ctx["q"][seg]
        model_logit = (None if self.mcoef is None
                       else xd @ self.mcoef + ctx["model_seg"][seg])
        terms = _Terms(co, ctx["logit_q"][seg], q, self.p[self.cand].astype(np.float32), gain,
                       ctx["size_factor"][size], evidence_weight=prm.evidence_weight,
                       loyalty_unit=prm.loyalty_unit, model_logit=model_logit)
        return {"x": x, "depth": depth, "allowed": allowed, "terms": terms, "gain": gain,
                "typical": ctx["typ"][size], "segment_share": q,
                "function_service": ctx["fs_u"][size]}

    def top_k(self, acc: dict[str, Any], ctx: dict[str, Any], lo: int, hi: int,
              out: _RecsOut, blend: Blend) -> None:
        """The best ``out.k`` allowed candidates of accounts ``lo:hi`` by ``blend``, written
        into ``out``."""
        sc = self.scores(acc, ctx, lo, hi)
        cand = self.cand
        s = np.where(sc["allowed"], blend.log_score(sc["terms"]), np.float32(-np.inf))
        n, c = s.shape
        kk = out.k
        part = (np.argpartition(-s, kk - 1, axis=1)[:, :kk] if kk < c
                else np.broadcast_to(np.arange(c), (n, c)))
        ps = np.take_along_axis(s, part, axis=1)
        order = np.argsort(-ps, axis=1, kind="stable")
        top = np.take_along_axis(part, order, axis=1)
        top_s = np.take_along_axis(ps, order, axis=1)
        r = np.arange(n)[:, None]
        sl = slice(lo * kk, hi * kk)
        f = out.floats[:, sl]
        f[0] = np.exp(top_s.astype(np.float64)).ravel()
        f[1] = (sc["terms"].model_at(r, top) if blend.uses_model
                else sc["terms"].evidence_at(blend.co_holding, r, top)).ravel()
        f[2] = sc["gain"][r, top].ravel()
        f[3] = sc["typical"][r, top].ravel()
        np.multiply(f[1], f[3], out=f[4])
        f[5] = sc["segment_share"][r, top].ravel()
        out.product[sl] = cand[top].ravel()
        out.valid[sl] = np.isfinite(top_s).ravel()
        out.function_service[lo:hi] = sc["function_service"]
        # the held product adding most to each suggestion's log score (its co-holding
        # log-lift and / or model coefficient, as weighted by the blend; over the sparse held
        # entries: the cost grows with holdings, not accounts x products)
        x = sc["x"]
        nz_row = np.repeat(np.arange(n), np.diff(x.indptr))
        because = np.full((n, kk), -1, np.int64)
        push = self._because_weights(blend)
        for t in range(kk if push is not None else 0):  # the k ranks
            best, arg = _row_argmax(x.indptr, push[x.indices, top[nz_row, t]], nz_row)
            because[:, t] = np.where(best > 0, x.indices[np.maximum(arg, 0)], -1)
        lift = self.lift[np.maximum(because, 0), top]
        f[6] = np.where((because >= 0) & (lift > 0), lift, np.nan).ravel()
        out.because[sl] = because.ravel()
        # competitor products held whose substitute is a suggestion (largest spend wins)
        sp_ = _rows_matrix(self.h.spend, acc["rows"][lo:hi])
        ours_sub = self.sub_of[sp_.indices]
        keep = np.flatnonzero(ours_sub >= 0)
        keep = keep[np.argsort(sp_.data[keep], kind="stable")]
        srow = np.repeat(np.arange(n), np.diff(sp_.indptr))[keep]
        disp_tab = np.full((n, len(cand)), -1, np.int16 if len(self.cand_pos) < 2**15
                           else np.int64)
        disp_tab[srow, self.cand_pos[ours_sub[keep]]] = sp_.indices[keep]
        displaces = disp_tab[r, top]
        out.displaces[sl] = displaces.ravel()
        new_family = sc["depth"][r, self.fam_idx[top]] == 0
        out.reason[sl] = np.select([displaces >= 0, self.industry_app[top], new_family,
                                    self.is_cug[top]], [0, 1, 2, 3], default=4).ravel()

    def _because_weights(self, blend: Blend) -> np.ndarray | None:
        """products x candidates: what holding a product adds to a candidate's log score
        through the blend's co-holding terms (None: the blend has none)."""
        ev = blend.evidence * blend.co_holding * self.params.evidence_weight
        if ev <= 0 and not blend.uses_model:
            return None
        if not blend.uses_model:
            return self.w  # one term: its own scale orders the same
        push = np.float32(blend.model) * self._require_model()
        return push + np.float32(ev) * self.w if ev > 0 else push

    def _require_model(self) -> np.ndarray:
        if self.mcoef is None:
            raise ValueError("the blend uses the co-holding model, and none was fitted")
        return self.mcoef


def _model_coef(cohold: CoHoldingModel, cat: _Catalogue, cand: np.ndarray) -> np.ndarray:
    """products (of ``cat``) x candidates: the fitted model's holding coefficients (float32)."""
    if not hasattr(cohold, "coef_"):
        raise ValueError("cohold: a fitted CoHoldingModel is needed")
    pos = pd.Index(cohold.candidates_).get_indexer(cat.product_ids[cand])
    if (pos < 0).any():
        missing = [str(p) for p in cat.product_ids[cand][pos < 0]]
        raise ValueError(f"cohold: fitted without products {', '.join(missing[:5])}")
    return cohold._coef_for(cat.product_ids)[:, pos].astype(np.float32)


class _RecsOut:
    """Preallocated results of :func:`recommend` (accounts x k, flattened), filled block by
    block, then turned into one DataFrame without copying the figures."""

    _FLOATS = ("score", "evidence", "loyalty_gain", "typical_revenue", "expected_revenue",
               "segment_share", "because_lift")

    def __init__(self, n: int, k: int) -> None:
        self.n, self.k = n, k
        m = n * k
        self.floats = np.empty((len(self._FLOATS), m), dtype=np.float64)
        self.product = np.empty(m, np.int64)
        self.because = np.empty(m, np.int64)
        self.displaces = np.empty(m, np.int64)
        self.reason = np.empty(m, np.int8)
        self.valid = np.zeros(m, bool)
        self.function_service = np.zeros(n, bool)

    def frame(self, acc: dict[str, Any], cat: _Catalogue) -> pd.DataFrame:
        import pyarrow as pa

        n, k = self.n, self.k
        acc_pos = np.repeat(np.arange(n), k)
        pids = list(cat.product_ids)
        fams = list(FAMILIES)
        fam_code = np.array([fams.index(f) for f in cat.family], dtype=np.int8)
        out = pd.DataFrame(self.floats.T, columns=list(self._FLOATS), copy=False)
        ids = pa.array(acc["ids"], pa.string()).take(pa.array(acc_pos))
        extra = {
            "account_id": pd.array(ids, dtype=pd.StringDtype("pyarrow")),
            "rank": np.tile(np.arange(1, k + 1, dtype=np.int64), n),
            "product_id": pd.Categorical.from_codes(self.product, categories=pids),
            "family": pd.Categorical.from_codes(fam_code[self.product], categories=fams),
            "reason_code": pd.Categorical.from_codes(self.reason, categories=list(REASONS)),
            "because_product": pd.Categorical.from_codes(self.because, categories=pids),
            "displaces": pd.Categorical.from_codes(self.displaces, categories=pids),
            "approach": pd.Categorical.from_codes(
                np.where(self.function_service[acc_pos], 0, 1).astype(np.int8),
                categories=["function_service", "price_led"]),
        }
        for i, name in enumerate(_REC_COLUMNS):  # the output columns, in order
            if name in extra:
                out.insert(i, name, extra[name])
        if not self.valid.all():  # accounts with fewer than k allowed products
            out = out.loc[self.valid].reset_index(drop=True)
        return out


def _map_blocks(fn: Any, n: int) -> list[Any]:
    """``fn(lo)`` for every block start of ``n`` accounts, in order, on up to two threads
    (numpy releases the GIL in the array kernels; blocks are independent)."""
    from concurrent.futures import ThreadPoolExecutor
    from contextlib import nullcontext

    try:  # installed with scikit-learn
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        threadpool_limits = None

    starts = list(range(0, n, _CHUNK))
    workers = min(_THREADS, len(starts))
    # the matrix products are small: one BLAS thread each beats BLAS threads fighting ours
    limit = (threadpool_limits(limits=1, user_api="blas") if threadpool_limits is not None
             else nullcontext())
    with limit:
        if workers <= 1:
            return [fn(lo) for lo in starts]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(fn, starts))


def _row_argmax(indptr: np.ndarray, vals: np.ndarray, rows: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Per CSR row: the largest of ``vals`` (one per stored entry; ``rows`` is each entry's
    row) and its entry position (-inf and -1 for empty rows)."""
    n = len(indptr) - 1
    best = np.full(n, -np.inf)
    arg = np.full(n, -1, np.int64)
    if len(vals) == 0:
        return best, arg
    nonempty = np.diff(indptr) > 0
    best[nonempty] = np.maximum.reduceat(vals, indptr[:-1][nonempty])
    hit = np.flatnonzero(vals == best[rows])
    first = np.r_[True, rows[hit][1:] != rows[hit][:-1]]
    arg[rows[hit][first]] = hit[first]
    return best, arg


class _LoyaltyGain:
    """Estimated loyalty points from adding one product of ours, per account and candidate.

    The bundle measures a product moves (our_families, our_products, family_depth,
    closed_user_group) are normalised as the account's scoring model does, against the
    distribution over every account of ``h`` (the scorecard uses its model's scope: this is
    an estimate; :func:`what_if` gives the exact re-scored figure), and weighted by the
    model's effective weights (points of the loyalty dimension). ``model_of_rows`` (the
    model code of each row of ``h``, -1 unknown) narrows each model's reference to its own
    accounts, as the scorecard does."""

    _MEASURES = ("our_families", "our_products", "family_depth", "closed_user_group")

    def __init__(self, h: Holdings, cat: _Catalogue, settings: Settings,
                 model_of_rows: np.ndarray | None = None) -> None:
        from valuation.measures import MEASURES
        from valuation.scoring import effective_weights

        self.fam_onehot = _family_onehot(cat, ours=True)
        self.cug = (cat.ours & (cat.function == "cug")).astype(np.float32)
        depth = np.asarray(h.matrix @ self.fam_onehot)
        ref = {
            "our_families": (depth > 0).sum(axis=1).astype(np.float64),
            "our_products": depth.sum(axis=1).astype(np.float64),
            "family_depth": np.minimum(depth, _DEPTH_CAP).sum(axis=1) / (
                _DEPTH_CAP * len(FAMILIES)),
            "closed_user_group": (np.asarray(h.matrix @ self.cug).ravel() > 0).astype(float),
        }
        self.terms: list[list[tuple[str, float, Any]]] = []
        for code, model in enumerate(settings.models):  # the scoring models (a handful)
            eff = effective_weights(model)
            mine = (model_of_rows == code) if model_of_rows is not None else None
            use = mine if mine is not None and mine.sum() >= 2 else slice(None)
            terms = []
            for mw in model.measures:
                if mw.name in self._MEASURES and eff.get(mw.name, 0) > 0:
                    md = MEASURES[mw.name]
                    terms.append((mw.name, eff[mw.name] * 100.0,
                                  _norm_fn(ref[mw.name][use], mw.norm, md.lo, md.hi)))
            self.terms.append(terms)

    def points(self, depth: np.ndarray, has_cug: np.ndarray, model: np.ndarray,
               fam_idx: np.ndarray, is_cug: np.ndarray) -> np.ndarray:
        """accounts x candidates: estimated loyalty points. ``depth``: accounts x families of
        ours held; ``fam_idx``/``is_cug``: per candidate."""
        unit = 1.0 / (_DEPTH_CAP * len(FAMILIES))
        fams = (depth > 0).sum(axis=1).astype(np.float64)
        prods = depth.sum(axis=1).astype(np.float64)
        fdep = np.minimum(depth, _DEPTH_CAP).sum(axis=1) * unit
        cugh = has_cug.astype(np.float64)
        # per account: the points of each kind of step, by the account's model
        step = {name: np.zeros(len(depth)) for name in self._MEASURES}
        moved = {"our_families": (fams, fams + 1), "our_products": (prods, prods + 1),
                 "family_depth": (fdep, fdep + unit), "closed_user_group": (cugh, cugh * 0 + 1)}
        for code, terms in enumerate(self.terms):  # scoring models
            sel = model == code
            if not sel.any():
                continue
            for measure, pts, fn in terms:
                b, a = moved[measure]
                step[measure][sel] = pts * (fn(a[sel]) - fn(b[sel]))
        # per account and family: the points of one more product of ours in that family
        per_family = (step["our_products"][:, None]
                      + step["our_families"][:, None] * (depth == 0)
                      + step["family_depth"][:, None] * (depth < _DEPTH_CAP)).astype(np.float32)
        out = per_family[:, fam_idx]
        for j in np.flatnonzero(is_cug):  # the closed-user-group candidates (one or two)
            out[:, j] += step["closed_user_group"].astype(np.float32)
        return np.maximum(out, np.float32(0.0))


def _norm_fn(ref: np.ndarray, norm: str, lo: float, hi: float) -> Any:
    """A function mapping raw values to 0-1 as scoring.normalise would over ``ref``."""
    ref = np.sort(np.asarray(ref, dtype=np.float64))
    if norm == "fixed":
        span = hi - lo
        return (lambda v: np.clip((v - lo) / span, 0, 1)) if span > 0 else (
            lambda v: np.full(np.shape(v), 0.5))
    if len(ref) < 2:
        return lambda v: np.full(np.shape(v), 0.5)
    if norm == "percentile":
        n = len(ref)

        def pct(v: np.ndarray) -> np.ndarray:
            below = np.searchsorted(ref, v, side="left")
            upto = np.searchsorted(ref, v, side="right")
            # average 1-based rank among ties -> (rank - 1) / (n - 1); a value not in ref
            # sits between its neighbours
            rank = np.where(upto > below, (below + 1 + upto) / 2.0, below + 0.5)
            return np.clip((rank - 1) / (n - 1), 0, 1)

        return pct
    y = np.log1p(np.clip(ref, 0, None)) if norm == "log" else ref
    q_lo, q_hi = np.quantile(y, [0.01, 0.99])
    if q_hi <= q_lo:
        return lambda v: np.full(np.shape(v), 0.5)
    if norm == "log":
        return lambda v: np.clip((np.log1p(np.clip(v, 0, None)) - q_lo) / (q_hi - q_lo), 0, 1)
    return lambda v: np.clip((v - q_lo) / (q_hi - q_lo), 0, 1)
