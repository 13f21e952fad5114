"""Live holdings as sparse accounts x products matrices, and the helpers aligning accounts to them.

:class:`Holdings` is a sparse accounts x products view of what is held at an as-of date, read
from the store (:func:`load_holdings`) or from a holdings table (:func:`holdings_from_frame`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from valuation.bundling.common import _Catalogue, _str_ids
from valuation.store import Store

__all__ = [
    "Holdings",
    "holdings_from_frame",
    "load_holdings",
]

_HOLDINGS_SQL = """
WITH acc AS (
    SELECT account_id, row_number() OVER (ORDER BY account_id) - 1 AS i
    FROM accounts WHERE onboard_date <= $as_of
),
prod AS (
    SELECT product_id, row_number() OVER (ORDER BY product_id) - 1 AS j FROM products
)
SELECT acc.i, prod.j, sum(h.monthly_revenue) AS spend
FROM holdings h
JOIN acc ON acc.account_id = h.account_id
JOIN prod ON prod.product_id = h.product_id
WHERE h.start_date <= $as_of AND (h.end_date IS NULL OR h.end_date > $as_of)
GROUP BY acc.i, prod.j
"""


@dataclass(frozen=True, eq=False)
class Holdings:
    """Live holdings at ``as_of`` as sparse accounts x products matrices.

    ``matrix``: 1.0 where the account holds the product (float32 CSR, sorted indices, one
    entry per held cell). ``spend``: monthly revenue of the cell (ours billed, competitors'
    estimated), same sparsity pattern, explicit zeros kept. Rows follow ``account_ids``,
    columns ``product_ids`` (every product of the catalogue, held or not).
    """

    matrix: sp.csr_matrix
    spend: sp.csr_matrix
    account_ids: np.ndarray
    product_ids: np.ndarray
    as_of: date | None = None
    _row: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def n_accounts(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def n_products(self) -> int:
        return int(self.matrix.shape[1])

    def rows(self, account_ids: Iterable[Any]) -> np.ndarray:
        """Row positions of ``account_ids`` (-1 where unknown)."""
        if "index" not in self._row:  # built once, on first use
            self._row["index"] = pd.Index(self.account_ids)
        ids = account_ids if isinstance(account_ids, (pd.Series, np.ndarray, pd.Index)) \
            else list(account_ids)
        return np.asarray(self._row["index"].get_indexer(pd.Index(ids).astype(str)))

    def held(self, account_id: Any) -> list[str]:
        """Product ids the account holds (catalogue order)."""
        i = int(self.rows([account_id])[0])
        if i < 0:
            raise KeyError(f"unknown account {account_id!r}")
        m = self.matrix
        return [str(p) for p in self.product_ids[m.indices[m.indptr[i]:m.indptr[i + 1]]]]

    @classmethod
    def from_codes(cls, rows: np.ndarray, cols: np.ndarray, spend: np.ndarray, *,
                   account_ids: Sequence[Any], product_ids: Sequence[Any],
                   as_of: date | None = None) -> Holdings:
        """Build from parallel arrays of row positions, column positions and monthly revenue
        (several entries of one cell add up). No Python loop over entries."""
        n, p = len(account_ids), len(product_ids)
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        key = rows * p + cols
        order = np.argsort(key, kind="stable")
        key = key[order]
        first = np.r_[True, key[1:] != key[:-1]] if len(key) else np.zeros(0, bool)
        starts = np.flatnonzero(first)
        cell = key[starts]
        vals = (np.add.reduceat(np.asarray(spend, dtype=np.float64)[order], starts)
                if len(starts) else np.zeros(0))
        r, c = cell // p, (cell % p).astype(np.int32)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(r, minlength=n), out=indptr[1:])
        idx_t = np.int32 if len(cell) < 2**31 else np.int64
        spend_m = sp.csr_matrix((vals, c.astype(idx_t), indptr.astype(idx_t)), shape=(n, p))
        mat = sp.csr_matrix((np.ones(len(cell), np.float32), c.astype(idx_t),
                             indptr.astype(idx_t)), shape=(n, p))
        return cls(matrix=mat, spend=spend_m, account_ids=_str_ids(account_ids),
                   product_ids=_str_ids(product_ids), as_of=as_of)


def load_holdings(store: Store, *, as_of: date | None = None) -> Holdings:
    """Live holdings at ``as_of`` (default: the data's as-of date) from the store.

    Rows are every account onboarded by ``as_of`` in account-id order (the account frame's
    rows, so the two align), columns every product in product-id order. One aggregate query
    returns the live cells as (row, column, spend) triples (two small ones read the ordered
    ids); the matrices are built from them without a loop.
    """
    from valuation.features import data_as_of

    as_of = as_of or data_as_of(store) or date.today()
    as_of = pd.Timestamp(as_of).date()
    ids = store.query("SELECT account_id FROM accounts WHERE onboard_date <= ? "
                      "ORDER BY account_id", [as_of])["account_id"].to_numpy(dtype=object)
    pids = store.query("SELECT product_id FROM products ORDER BY product_id")[
        "product_id"].to_numpy(dtype=object)
    cur = store.cursor()
    try:
        t = cur.sql(_HOLDINGS_SQL, params={"as_of": as_of}).fetchnumpy()
    finally:
        cur.close()
    return Holdings.from_codes(np.asarray(t["i"]), np.asarray(t["j"]),
                               np.asarray(t["spend"], dtype=np.float64),
                               account_ids=ids, product_ids=pids, as_of=as_of)


def holdings_from_frame(holdings: pd.DataFrame, products: pd.DataFrame, *,
                        as_of: date | None = None,
                        account_ids: Sequence[Any] | None = None) -> Holdings:
    """Live holdings at ``as_of`` from a holdings table (schema ``holdings`` columns).

    Columns are the catalogue's products in product-id order. Rows are ``account_ids`` when
    given (holdings of other accounts are dropped), else every account in ``holdings`` in
    sorted order. ``as_of`` None keeps every row without an end date.
    """
    h = holdings
    if as_of is None:
        live = h["end_date"].isna().to_numpy()
    else:
        ts = pd.Timestamp(as_of)
        start = pd.to_datetime(h["start_date"])
        end = pd.to_datetime(h["end_date"])
        live = ((start <= ts) & (end.isna() | (end > ts))).to_numpy()
    h = h.loc[live]
    pids = np.sort(products["product_id"].astype(str).to_numpy()).astype(object)
    if account_ids is None:
        ids = np.sort(h["account_id"].astype(str).unique()).astype(object)
    else:
        ids = np.asarray(account_ids, dtype=object)
    r = pd.Index(ids).get_indexer(h["account_id"].astype(str))
    c = pd.Index(pids).get_indexer(h["product_id"].astype(str))
    if (c < 0).any():
        missing = sorted(set(h["product_id"].astype(str)[c < 0]))
        raise ValueError(f"holdings of products not in the catalogue: {', '.join(missing[:5])}")
    keep = r >= 0
    return Holdings.from_codes(r[keep], c[keep],
                               h["monthly_revenue"].to_numpy(dtype=np.float64)[keep],
                               account_ids=ids, product_ids=pids,
                               as_of=None if as_of is None else pd.Timestamp(as_of).date())


def _aligned(h: Holdings, accounts: pd.DataFrame, column: str) -> np.ndarray:
    """``accounts[column]`` per row of ``h`` (object array; None where the account or the
    value is missing). Fast path when ``accounts`` lists exactly ``h``'s accounts in order."""
    ids = accounts["account_id"]
    vals = accounts[column].astype(object)
    vals = vals.where(vals.notna(), None).to_numpy(dtype=object)
    if len(ids) == h.n_accounts and bool(np.array_equal(
            ids.to_numpy(dtype=object), h.account_ids)):
        return vals
    pos = pd.Index(ids.astype(str)).get_indexer(pd.Index(h.account_ids).astype(str))
    return np.where(pos >= 0, vals[np.maximum(pos, 0)] if len(vals) else None, None)


def _rows_of_accounts(h: Holdings, accounts: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """The rows of ``accounts`` for rows ``rows`` of ``h``, in that order (every column;
    accounts missing from ``accounts`` keep only their account_id)."""
    pos = pd.Index(accounts["account_id"].astype(str)).get_indexer(
        pd.Index(h.account_ids[rows]).astype(str))
    out = accounts.iloc[np.maximum(pos, 0)].reset_index(drop=True)
    if (pos < 0).any():
        out = out.where(pd.Series(pos >= 0).to_numpy()[:, None])
    out["account_id"] = h.account_ids[rows].astype(str)
    return out


def _segments(h: Holdings, accounts: pd.DataFrame) -> tuple[np.ndarray, pd.MultiIndex]:
    """Per row of ``h``: a code of its (industry, size_class) segment (missing values are
    the empty string), and the segments' keys."""
    ic, iu = pd.factorize(pd.Series(_aligned(h, accounts, "industry"), dtype=object).fillna(""))
    sc, su = pd.factorize(pd.Series(_aligned(h, accounts, "size_class"),
                                    dtype=object).fillna(""))
    combo = ic.astype(np.int64) * len(su) + sc
    codes, uniq = pd.factorize(combo, sort=True)
    keys = pd.MultiIndex.from_arrays([np.asarray(iu, dtype=object)[uniq // len(su)],
                                      np.asarray(su, dtype=object)[uniq % len(su)]],
                                     names=["industry", "size_class"])
    return np.asarray(codes, np.int64), keys


def _segment_holders(x: sp.csr_matrix, codes: np.ndarray, k: int) -> np.ndarray:
    """segments x products: accounts holding each product, per segment (S.T @ X)."""
    s = sp.csr_matrix((np.ones(len(codes), np.float32), (codes, np.arange(len(codes)))),
                      shape=(k, len(codes)))
    return np.asarray((s @ x).toarray(), dtype=np.float64)


def _typical_revenue(h: Holdings, accounts: pd.DataFrame | None,
                     cat: _Catalogue) -> pd.DataFrame:
    """size_class (and "all") x product: geometric mean monthly revenue among holders; the
    list price where nobody (of the size) holds the product."""
    sp_ = h.spend.tocoo()
    logv = np.log1p(np.clip(sp_.data, 0, None))
    p = h.n_products
    tot = np.bincount(sp_.col, weights=logv, minlength=p)
    cnt = np.bincount(sp_.col, minlength=p)
    rows = {"all": np.where(cnt > 0, np.expm1(tot / np.maximum(cnt, 1)), cat.price)}
    if accounts is not None and "size_class" in accounts.columns:
        codes, uniq = pd.factorize(pd.Series(_aligned(h, accounts, "size_class"),
                                             dtype=object))
        for k, s in enumerate(uniq):  # size classes
            sel = codes[sp_.row] == k
            t = np.bincount(sp_.col[sel], weights=logv[sel], minlength=p)
            c = np.bincount(sp_.col[sel], minlength=p)
            rows[str(s)] = np.where(c > 0, np.expm1(t / np.maximum(c, 1)), rows["all"])
    return pd.DataFrame(rows, index=list(cat.product_ids)).T


def _typical_for(typical: pd.DataFrame, sizes: np.ndarray, product_ids: Sequence[Any]
                 ) -> np.ndarray:
    """accounts x products: typical revenue for each account's size (else the overall)."""
    t = typical.reindex(columns=list(product_ids))
    idx = pd.Index(t.index).get_indexer(pd.Series(sizes, dtype=object).astype(str))
    allrow = int(pd.Index(t.index).get_loc("all"))
    idx = np.where(idx >= 0, idx, allrow)
    return np.nan_to_num(t.to_numpy(dtype=np.float64)[idx])


def _accounts_view(h: Holdings, accounts: pd.DataFrame) -> dict[str, np.ndarray]:
    """The accounts asked for: ids, their rows in ``h`` (-1 unknown), industry, size, model."""
    if "account_id" not in accounts.columns:
        raise ValueError("accounts: an account_id column is needed")
    ids = accounts["account_id"].astype(str).to_numpy(dtype=object)

    def col(name: str) -> np.ndarray:
        if name in accounts.columns:
            return accounts[name].astype(object).where(accounts[name].notna(), None).to_numpy(
                dtype=object)
        return np.full(len(ids), None, dtype=object)

    same = len(ids) == h.n_accounts and bool(np.array_equal(ids, h.account_ids.astype(str)))
    rows = np.arange(h.n_accounts) if same else h.rows(ids)
    return {"ids": ids, "rows": rows, "industry": col("industry"),
            "size": col("size_class"), "model": col("model"), "frame": accounts}


def _rows_matrix(m: sp.csr_matrix, rows: np.ndarray) -> sp.csr_matrix:
    """Rows of ``m`` (-1 gives an empty row)."""
    ok = rows >= 0
    out = m[np.where(ok, rows, 0)]
    if not ok.all():
        out = sp.diags(ok.astype(m.dtype)) @ out
        out.eliminate_zeros()
    return out.tocsr()


def _valid_rows(h: Holdings, accounts: Sequence[Any]) -> np.ndarray:
    r = h.rows(np.asarray(list(accounts), dtype=object).astype(str))
    return r[r >= 0]


def _drop_entries(h: Holdings, keep: np.ndarray) -> Holdings:
    """``h`` without the stored entries where ``keep`` is False (same rows and columns)."""
    x = h.matrix
    rows = np.repeat(np.arange(h.n_accounts), np.diff(x.indptr))
    return Holdings.from_codes(rows[keep], x.indices[keep], h.spend.data[keep],
                               account_ids=h.account_ids, product_ids=h.product_ids,
                               as_of=h.as_of)


def _two_row_holdings(h: Holdings, account_id: str, r0: np.ndarray, s0: np.ndarray,
                      r1: np.ndarray, s1: np.ndarray) -> Holdings:
    rows = np.r_[np.zeros(int((r0 > 0).sum()), np.int64), np.ones(int((r1 > 0).sum()),
                                                                    np.int64)]
    cols = np.r_[np.flatnonzero(r0 > 0), np.flatnonzero(r1 > 0)]
    spend = np.r_[s0[r0 > 0], s1[r1 > 0]]
    return Holdings.from_codes(rows, cols, spend, account_ids=["before", "after"],
                               product_ids=h.product_ids, as_of=h.as_of)
