"""The learned co-holding model: P(holds product j | the rest of the holdings, the segment).

:class:`CoHoldingModel` fits, for each product of ours j, an L2-regularised logistic
regression predicting "holds j" from the account's other holdings (a sparse 0/1 indicator per
product, ours and competitors'; j's own column excluded) and one-hot industry, size class and
industry x size segment (so it also learns what segment popularity knows). It is a candidate
ranker of the cross-sell (:class:`~valuation.bundling.blend.Blend` ``model`` weight: the log of
its probability), chosen like any other blend on held-out accounts by
:func:`~valuation.bundling.evaluate.choose_blend`.

What it is fitted on decides whether the evaluation is honest: :func:`choose_blend` and
:func:`evaluate_recommender` fit it on the masked matrix (the hidden cells removed: they are
neither inputs nor labels; the hidden cell of an account counts as "not held", as a product
an account does not hold yet does in use), :func:`recommend` on the live holdings.

Fitting is fast at a portfolio's scale: the accounts are first reduced to their distinct
(holdings, segment) rows with a count each (the weighted fit is the same fit), and where one
product's non-holders still exceed ``max_negatives`` they are thinned at random (each kept
with probability r, seeded by ``random_state``; the intercept is corrected by log r, so
probabilities stay calibrated). Sparse inputs, one ``liblinear`` (or ``lbfgs``) fit per
product.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from valuation.bundling.common import _CHUNK, _DEFAULT, BundlingParams, _catalogue
from valuation.bundling.holdings import Holdings, _aligned

__all__ = [
    "CoHoldingModel",
]


class CoHoldingModel:
    """Per product of ours: logistic regression of "holds it" on the other holdings and the
    segment (scikit-learn estimator contract: ``__init__`` stores, ``fit`` learns).

    ``c``: inverse L2 strength (scikit-learn's ``C``; the penalty is on the coefficients:
    ``liblinear`` is given an intercept scaling of 100, so its intercept is all but
    unpenalised, as ``lbfgs``'s). ``max_negatives``: non-holders per product above which they
    are thinned at random (see the module docstring; 0 or None: never). ``solver``:
    ``liblinear`` (default: tens of times faster here than scipy's L-BFGS-B) or ``lbfgs``.
    ``random_state``: seeds the thinning (the fits are deterministic).

    After :meth:`fit`: ``product_ids_`` (the input products, the columns of the holdings),
    ``candidates_`` (our products modelled), ``coef_`` (products x candidates: the log-odds
    a held product adds to a candidate; 0 on the candidate's own row), ``industries_``,
    ``sizes_``, ``segments_`` (the categories seen; an unseen one adds nothing),
    ``industry_coef_``, ``size_coef_``, ``segment_coef_`` (category x candidate),
    ``intercept_`` (per candidate, corrected for thinning), ``n_accounts_`` (accounts holding
    anything: the rows fitted), ``n_rows_`` (distinct rows), ``holders_`` (per candidate) and
    ``negative_rate_`` (per candidate: the share of non-holders kept, 1 when none were
    thinned).
    """

    def __init__(self, *, c: float = 0.3, max_negatives: int | None = 200_000,
                 solver: str = "liblinear", max_iter: int = 200,
                 random_state: int = 0) -> None:
        self.c = c
        self.max_negatives = max_negatives
        self.solver = solver
        self.max_iter = max_iter
        self.random_state = random_state

    @classmethod
    def from_params(cls, params: BundlingParams = _DEFAULT, *, random_state: int = 0
                    ) -> CoHoldingModel:
        """The model with ``params``' ``cohold_c`` and ``cohold_max_negatives``."""
        return cls(c=params.cohold_c, max_negatives=params.cohold_max_negatives,
                   random_state=random_state)

    def fit(self, h: Holdings, products: pd.DataFrame,
            accounts: pd.DataFrame | None = None) -> CoHoldingModel:
        """Learn from the holdings ``h`` (every row holding anything; empty rows, e.g.
        churned accounts, say nothing) and the segments in ``accounts`` (account_id,
        industry, size_class; accounts missing there have an unknown segment)."""
        from sklearn.linear_model import LogisticRegression

        if self.solver not in ("lbfgs", "liblinear"):
            raise ValueError(f"solver: lbfgs or liblinear, not {self.solver!r}")
        if not self.c > 0:
            raise ValueError(f"c must be > 0, not {self.c!r}")
        cat = _catalogue(products, h.product_ids)
        cand = np.flatnonzero(cat.ours)
        x = h.matrix
        active = np.flatnonzero(np.diff(x.indptr) > 0)
        x = x[active]
        n, p = x.shape
        groups = _segment_codes(h, accounts, active)
        xu, codes_u, count = _distinct_rows(x, [g[0] for g in groups])
        # the design: holdings, then one-hot industry, size class, industry x size
        widths = [len(g[1]) for g in groups]
        design = sp.hstack([xu.astype(np.float64),
                            *[_onehot(c, w) for c, w in zip(codes_u, widths, strict=True)]],
                           format="csc")
        rng = np.random.default_rng(self.random_state)
        n_cand = len(cand)
        coef = np.zeros((design.shape[1], n_cand))
        intercept = np.zeros(n_cand)
        holders = np.zeros(n_cand, np.int64)
        rate = np.ones(n_cand)
        y_all = np.asarray(xu[:, cand].toarray() > 0)
        cols = np.arange(design.shape[1])
        for k, j in enumerate(cand):  # our products (tens): one fit each
            y = y_all[:, k]
            w = count.astype(np.float64)
            pos, neg = float(w[y].sum()), float(w[~y].sum())
            holders[k] = int(pos)
            if pos == 0 or neg == 0:  # nothing to learn: the (smoothed) share alone
                intercept[k] = np.log((pos + 0.5) / (neg + 0.5))
                continue
            if self.max_negatives and neg > self.max_negatives:
                rate[k] = self.max_negatives / neg
                w = np.where(y, w, rng.binomial(count, rate[k]).astype(np.float64))
            keep_rows = np.flatnonzero(w > 0)
            keep_cols = cols[cols != j]
            xp = design[:, keep_cols][keep_rows].tocsr()
            extra = {"intercept_scaling": 100.0} if self.solver == "liblinear" else {}
            lr = LogisticRegression(C=float(self.c), solver=self.solver,
                                    max_iter=int(self.max_iter),
                                    random_state=int(self.random_state), **extra)
            lr.fit(xp, y[keep_rows], sample_weight=w[keep_rows])
            coef[keep_cols, k] = lr.coef_.ravel()
            intercept[k] = float(lr.intercept_[0]) + np.log(rate[k])
        cuts = np.cumsum([p, *widths])
        self.product_ids_ = np.asarray(h.product_ids, dtype=object)
        self.candidates_ = self.product_ids_[cand]
        self.coef_ = coef[:p]
        self.industries_, self.sizes_, self.segments_ = (g[1] for g in groups)
        self.industry_coef_, self.size_coef_, self.segment_coef_ = (
            coef[a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True))
        self.intercept_ = intercept
        self.n_accounts_ = int(n)
        self.n_rows_ = int(xu.shape[0])
        self.holders_ = holders
        self.negative_rate_ = rate
        return self

    def segment_logit(self, industry: Any, size: Any) -> np.ndarray:
        """len(industry) x candidates: the intercept plus the segment's coefficients (what
        the model says before the holdings; industry and size per row, None unknown)."""
        self._check_fitted()
        ind = pd.Series(np.asarray(industry, dtype=object), dtype=object)
        siz = pd.Series(np.asarray(size, dtype=object), dtype=object)
        out = np.broadcast_to(self.intercept_, (len(ind), len(self.intercept_))).copy()
        for values, cats, coef in ((ind, self.industries_, self.industry_coef_),
                                   (siz, self.sizes_, self.size_coef_),
                                   (_cell(ind, siz), self.segments_, self.segment_coef_)):
            pos = pd.Index(cats).get_indexer(values.where(values.notna(), None))
            ok = pos >= 0
            out[ok] += coef[pos[ok]]
        return out

    def decision_function(self, h: Holdings, accounts: pd.DataFrame | None = None
                          ) -> np.ndarray:
        """rows of ``h`` x candidates: the log-odds of holding each candidate given the
        row's holdings (the candidate's own cell ignored) and segment (from ``accounts``)."""
        self._check_fitted()
        coef = self._coef_for(h.product_ids)
        rows = np.arange(h.n_accounts)
        ind = _aligned(h, accounts, "industry") if accounts is not None else [None] * len(rows)
        siz = (_aligned(h, accounts, "size_class") if accounts is not None
               else [None] * len(rows))
        return np.asarray(h.matrix @ coef) + self.segment_logit(ind, siz)

    def predict_proba(self, h: Holdings, accounts: pd.DataFrame | None = None
                      ) -> np.ndarray:
        """rows of ``h`` x candidates: P(holds the candidate) (see :meth:`decision_function`)."""
        return 1.0 / (1.0 + np.exp(-self.decision_function(h, accounts)))

    def _coef_for(self, product_ids: Any) -> np.ndarray:
        """``coef_`` with rows in the order of ``product_ids`` (0 for a product the model
        never saw)."""
        pos = pd.Index(self.product_ids_).get_indexer(
            pd.Index(np.asarray(product_ids, dtype=object)).astype(str))
        out = np.zeros((len(pos), self.coef_.shape[1]))
        out[pos >= 0] = self.coef_[pos[pos >= 0]]
        return out

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise ValueError("CoHoldingModel: call fit first")

    def __repr__(self) -> str:
        return (f"CoHoldingModel(c={self.c!r}, max_negatives={self.max_negatives!r}, "
                f"solver={self.solver!r}, random_state={self.random_state!r})")


def _cell(industry: pd.Series, size: pd.Series) -> pd.Series:
    """The industry x size cell as one label (None where either is unknown)."""
    ok = (industry.notna() & size.notna()).to_numpy()
    lab = industry.astype(str).to_numpy(dtype=object) + "|" + size.astype(str).to_numpy(
        dtype=object)
    return pd.Series(np.where(ok, lab, None), dtype=object)


def _segment_codes(h: Holdings, accounts: pd.DataFrame | None, rows: np.ndarray
                   ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per row of ``rows``: industry, size class and industry x size codes (-1 unknown),
    each with its categories (sorted)."""
    if accounts is None:
        none = pd.Series([None] * len(rows), dtype=object)
        ind = siz = none
    else:
        cols = set(accounts.columns)
        ind = pd.Series(_aligned(h, accounts, "industry")[rows] if "industry" in cols
                        else [None] * len(rows), dtype=object)
        siz = pd.Series(_aligned(h, accounts, "size_class")[rows] if "size_class" in cols
                        else [None] * len(rows), dtype=object)
    out = []
    for values in (ind, siz, _cell(ind, siz)):
        codes, uniq = pd.factorize(values, sort=True, use_na_sentinel=True)
        out.append((np.asarray(codes, np.int64), np.asarray(uniq, dtype=object)))
    return out


def _distinct_rows(x: sp.csr_matrix, codes: list[np.ndarray]
                   ) -> tuple[sp.csr_matrix, list[np.ndarray], np.ndarray]:
    """The distinct rows of (``x`` as 0/1, ``codes``), with their counts: many accounts hold
    the same products in the same segment, and a weighted fit on the distinct rows is the
    same fit (packed bits per block of rows; no per-account Python)."""
    n = x.shape[0]
    if n == 0:
        return x, [c[:0] for c in codes], np.zeros(0, np.int64)
    packed = np.concatenate([np.packbits(x[lo:lo + _CHUNK].toarray() > 0, axis=1)
                             for lo in range(0, n, _CHUNK)])  # blocks of accounts
    tail = np.stack(codes, axis=1).astype(np.int64).view(np.uint8).reshape(n, -1)
    key = np.ascontiguousarray(np.hstack([packed, tail]))
    void = key.view(np.dtype((np.void, key.shape[1]))).ravel()
    _, first, count = np.unique(void, return_index=True, return_counts=True)
    return x[first], [c[first] for c in codes], count.astype(np.int64)


def _onehot(codes: np.ndarray, width: int) -> sp.csr_matrix:
    """rows x width: 1 at each row's code (an empty row for -1)."""
    ok = codes >= 0
    r = np.flatnonzero(ok)
    return sp.csr_matrix((np.ones(len(r)), (r, codes[ok])), shape=(len(codes), width))
