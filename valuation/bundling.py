"""Bundling depth as a graph: product graph, bundle metrics, switching cost, cross-sell, what-if.

DOMAIN.md sections 2 and 5. The deeper an account's bundle with us, the higher its switching
cost and the lower its churn; the deeper a competitor's bundle, the lower our chance of
winning the account over. This module turns live holdings into:

- :class:`Holdings`: a sparse accounts x products view of what is held at an as-of date;
- :func:`build_graph`: a networkx ``MultiDiGraph`` of products (ours and competitors') with
  co-holding edges (support, confidence, lift) and substitution edges (competitor -> ours);
- :func:`bundle_metrics`: families covered, depth, cohesion and a switching-cost index whose
  four parts are explained (:func:`explain_bundle`);
- :func:`recommend`: next-best products of ours per account, with guardrails;
- :func:`displacement`: our substitute for each competitor product held, and the chance to win;
- :func:`whitespace`: held by us / by a competitor / open, per account or segment;
- :func:`what_if`: add or remove products and re-score an account, side by side with today;
- :func:`evaluate_recommender`: hide one held product per account and measure hit rates
  against a popularity baseline;
- :func:`graph_frames`, :func:`ego_graph`: tidy node and edge tables for Altair charts.

Everything over accounts is sparse-matrix or whole-array work; graph algorithms only touch the
product graph (tens of nodes). Nothing here writes holdings: recommendations are suggestions
for an account manager to discuss with the customer, never activations (DOMAIN.md section 5).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp

from valuation.config import Settings
from valuation.store import Store

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

OURS = "ours"
FAMILIES = ("communication", "information", "industry", "service_support")
# Competitor entanglement counts communication, information and industry only (DOMAIN.md 2).
COMPETITOR_FAMILIES = FAMILIES[:3]
# The size rule (DOMAIN.md 3): large and medium accounts value function and service, small
# ones price. Unknown sizes are treated as price led.
APPROACH_OF_SIZE = {"large": "function_service", "medium": "function_service",
                    "small": "price_led"}
_DEPTH_CAP = 3  # as measures.family_depth: min(products in the family, 3) / 3
_CHUNK = 65_536  # accounts per block in the dense per-account kernels (bounded memory)
_THREADS = max(1, min(2, os.cpu_count() or 1))  # blocks scored in parallel

# Reason codes of a recommendation: code -> (English, Chinese). The UI translates the code;
# ``because_product`` and ``because_lift`` fill in the evidence.
REASONS: dict[str, tuple[str, str]] = {
    "displace_competitor": ("Replaces a competitor's product of the same function",
                            "替换同功能的异网产品"),
    "industry_solution": ("Application for the account's industry", "匹配客户行业的行业应用"),
    "new_family": ("Opens a product family the account does not use yet", "拓展新的产品族"),
    "closed_user_group": ("Closed user group: locks in every member line",
                          "集团V网:锁定全部成员号码"),
    "deepen_family": ("Deepens a family the account already uses", "深化已使用的产品族"),
}

# Labels of bundle metrics and switching-cost parts: code -> (English, Chinese, help).
METRIC_LABELS: dict[str, tuple[str, str, str]] = {
    "families_covered": ("Families covered", "产品族覆盖", "families of ours held, 0-4"),
    "products_held": ("Products held", "持有产品数", "distinct products of ours held"),
    "depth": ("Depth within families", "族内深度",
              "mean over the four families of min(products in the family, 3) / 3"),
    "cohesion": ("Bundle cohesion", "捆绑紧密度",
                 "lift of the co-holding edges among our products held, averaged over every "
                 "pair held (a pair without an edge counts 0); 0 with fewer than two products"),
    "switching_cost": ("Switching-cost index", "转网成本指数",
                       "services + lock-in + integration + closed user group"),
    "services": ("Services to replace", "需替换的业务", "points per product of ours held"),
    "lock_in": ("Lock-in contracts", "协议锁定",
                "points per live contract by type; a live comprehensive agreement adds points "
                "for every product of ours it covers"),
    "integration": ("Integration depth", "集成深度",
                    "points per product of ours by family; industry applications and service "
                    "support weigh more"),
    "cug": ("Closed user group", "集团V网", "points when the account holds our closed user group"),
    "competitor_families": ("Competitor families", "异网产品族",
                            "communication, information, industry families held from competitors"),
    "competitor_products": ("Competitor products", "异网产品数", "competitor products held"),
    "competitor_spend": ("Competitor spend", "异网月支出", "estimated monthly spend, yuan"),
    "competitor_lock_in": ("Competitor switching cost", "异网转网成本",
                           "the same services + integration points over competitor products"),
}


@dataclass(frozen=True)
class BundlingParams:
    """Every knob of this module, with its default. The source documents fix none of these
    numbers (DOMAIN.md 2): they are this product's documented defaults.

    Read from settings with :meth:`from_settings` (any ``bundling.<field>`` value present in
    the settings overrides the default).
    """

    # product graph
    min_support: float = 0.0005
    """Co-holding edges need at least this share of accounts holding both products."""
    min_count: int = 3
    """... and at least this many accounts holding both."""
    # switching cost
    service_points: float = 1.0
    """Services to replace: points per product of ours held."""
    integration_communication: float = 0.5
    integration_information: float = 1.0
    integration_industry: float = 2.0
    integration_service_support: float = 2.0
    """Integration depth: points per product of ours by family."""
    lock_in_comprehensive_bundle: float = 2.0
    lock_in_handset_lease: float = 1.0
    lock_in_bill_subsidy: float = 1.0
    lock_in_service: float = 1.0
    """Lock-in: points per live contract by type."""
    bundle_per_service: float = 0.5
    """A live comprehensive agreement raises the exit cost of every service (000 L138): points
    per product of ours held while one is live."""
    cug_points: float = 2.0
    """Closed user group of ours held (every member line is locked in)."""
    # recommender
    segment_shrinkage: float = 20.0
    """Pseudo-accounts pulling a segment's (industry x size) penetration to the portfolio's."""
    evidence_shrinkage: float = 50.0
    """Pseudo-accounts pulling co-holding evidence towards 'no evidence' (lift 1)."""
    evidence_weight: float = 0.5
    """Weight of the held set's log-lift evidence next to the segment prior (naive Bayes
    over-counts correlated products; 1 = plain naive Bayes)."""
    loyalty_unit: float = 10.0
    """Loyalty points that double a candidate's score."""
    revenue_unit: float = 1000.0
    revenue_elasticity: float = 0.1
    """Score x (1 + expected revenue / unit) ** elasticity for function/service-led accounts,
    ** -elasticity for price-led ones (small accounts prefer cheap additions)."""
    function_service_boost: float = 0.2
    """Large and medium accounts: industry applications and service support score x (1 + this)."""
    # displacement
    base_win_chance: float = 0.5
    """Chance to win a competitor's product with no competitor entanglement."""
    win_factor_communication: float = 1.0
    win_factor_information: float = 0.8
    win_factor_industry: float = 0.6
    """Harder to displace what is integrated deeper."""
    dual_source_boost: float = 0.3
    """The account already holds our substitute too: chance x (1 + this)."""
    max_win_chance: float = 0.95

    @classmethod
    def from_settings(cls, settings: Settings | None) -> BundlingParams:
        """Defaults overridden by any ``bundling.<field>`` present in ``settings.values``."""
        if settings is None:
            return cls()
        over = {f.name: settings.values[f"bundling.{f.name}"] for f in fields(cls)
                if f"bundling.{f.name}" in settings.values}
        return cls(**over)

    def integration(self, family: str) -> float:
        return float(getattr(self, f"integration_{family}", 0.0))

    def lock_in(self, contract_type: str) -> float:
        return float(getattr(self, f"lock_in_{contract_type}", 0.0))

    def win_factor(self, family: str) -> float:
        return float(getattr(self, f"win_factor_{family}", 0.0))


_DEFAULT = BundlingParams()


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


# ---------------------------------------------------------------------------------------------
# Holdings
# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
# The product graph
# ---------------------------------------------------------------------------------------------
def build_graph(h: Holdings, products: pd.DataFrame, *, accounts: pd.DataFrame | None = None,
                min_support: float | None = None, min_count: int | None = None,
                params: BundlingParams = _DEFAULT) -> nx.MultiDiGraph:
    """The product graph learned from live holdings.

    Nodes: every product of ``h`` (ours and competitors'), with ``family``, ``provider``,
    ``function``, ``industries``, ``name``, ``name_en``, ``list_price``, ``holders`` (accounts
    holding it), ``penetration`` (holders / accounts holding anything) and
    ``typical_revenue`` (geometric mean monthly revenue among holders, else the list price).

    Edges, keyed by kind:

    - ``co_holding`` a -> b and b -> a for every pair held together by at least ``min_count``
      accounts and a share ``min_support`` of accounts: ``count``, ``support`` (share of
      accounts holding both), ``confidence`` (P(b | a) on the edge a -> b), ``lift``
      (support / (P(a) P(b))), ``expected`` (accounts expected to hold both given each
      account's industry x size segment; the plain P(a) P(b) N without ``accounts``) and
      ``lift_segment`` (count / expected: co-holding beyond what the segment mix explains).
    - ``substitute`` competitor -> ours for products of the same ``function``.

    Accounts are the rows of ``h`` holding at least one product (empty rows, e.g. churned
    accounts, carry no co-holding evidence). With ``accounts`` (account_id, industry,
    size_class) the graph also keeps, in ``graph.graph``, the holders per industry x size
    segment (``segment_holders``, ``segment_accounts``) used by :func:`recommend`, and the
    typical revenue per size class (``typical_revenue``: DataFrame, size_class x product).
    Built from ``X.T @ X`` on the sparse matrix; no per-account Python.
    """
    min_support = params.min_support if min_support is None else float(min_support)
    min_count = params.min_count if min_count is None else int(min_count)
    cat = _catalogue(products, h.product_ids)
    x = h.matrix
    active = np.diff(x.indptr) > 0
    n = int(active.sum())
    counts = np.asarray(x.sum(axis=0)).ravel().astype(np.float64)
    co = _cooccurrence(x)
    p = counts / max(n, 1)
    seg = _segments(h, accounts) if accounts is not None else None
    if seg is not None:
        codes, keys = seg
        s_acc = np.bincount(codes[active], minlength=len(keys)).astype(np.float64)
        s_hold = _segment_holders(x, codes, len(keys))
        q = s_hold / np.maximum(s_acc, 1)[:, None]
        expected = q.T @ (s_acc[:, None] * q)
    else:
        expected = np.outer(counts, counts) / max(n, 1)
    typical = _typical_revenue(h, accounts, cat)

    g = nx.MultiDiGraph(accounts=n, as_of=h.as_of, min_support=min_support,
                        min_count=min_count)
    for j, pid in enumerate(cat.product_ids):
        g.add_node(pid, family=cat.family[j], provider=cat.provider[j],
                   function=cat.function[j], industries=cat.industries_raw[j],
                   name=cat.name[j], name_en=cat.name_en[j], list_price=float(cat.price[j]),
                   ours=bool(cat.ours[j]), holders=int(counts[j]), penetration=float(p[j]),
                   typical_revenue=float(typical.loc["all", pid]))
    thr = max(float(min_count), min_support * n, 1e-12)
    a_idx, b_idx = np.nonzero(np.triu(co >= thr, k=1))
    edges = []
    for a, b in zip(a_idx.tolist(), b_idx.tolist(), strict=True):  # pairs of products
        c = float(co[a, b])
        lift = c * n / (counts[a] * counts[b])
        e = float(expected[a, b])
        common = {"count": int(c), "support": c / n, "lift": lift, "expected": e,
                  "lift_segment": c / e if e > 0 else float("nan")}
        edges.append((cat.product_ids[a], cat.product_ids[b], "co_holding",
                      {**common, "confidence": c / counts[a]}))
        edges.append((cat.product_ids[b], cat.product_ids[a], "co_holding",
                      {**common, "confidence": c / counts[b]}))
    g.add_edges_from(edges)
    for comp_j, our_j in _substitute_pairs(cat):
        g.add_edge(cat.product_ids[comp_j], cat.product_ids[our_j], key="substitute",
                   function=cat.function[comp_j])
    if seg is not None:
        codes, keys = seg
        g.graph["segment_accounts"] = pd.Series(s_acc, index=keys)
        g.graph["segment_holders"] = pd.DataFrame(s_hold, index=keys,
                                                  columns=list(cat.product_ids))
    g.graph["typical_revenue"] = typical
    return g


# ---------------------------------------------------------------------------------------------
# Bundle metrics and switching cost
# ---------------------------------------------------------------------------------------------
def bundle_metrics(h: Holdings, graph: nx.MultiDiGraph, products: pd.DataFrame, *,
                   contracts: pd.DataFrame | None = None, as_of: date | None = None,
                   params: BundlingParams = _DEFAULT) -> pd.DataFrame:
    """Bundle depth per account (one row per row of ``h``, same order).

    Columns: ``account_id``; ``families_covered`` (families of ours held, 0-4);
    ``products_held`` (products of ours); ``depth_<family>`` (products of ours in the family);
    ``depth`` (mean of min(depth, 3) / 3 over the families, as the family_depth measure);
    ``cohesion`` (lift of the co-holding edges among the products of ours held, summed and
    divided by the number of pairs held; 0 with fewer than two); ``cohesion_edges`` (pairs
    held joined by an edge); ``switching_cost`` = ``services`` + ``lock_in`` + ``integration``
    + ``cug`` (see :class:`BundlingParams` and :func:`explain_bundle`); ``live_contracts``;
    ``competitor_families`` (communication, information, industry; 0-3),
    ``competitor_products``, ``competitor_spend``, ``competitor_lock_in`` (services and
    integration points over competitor products); ``our_spend`` (monthly).

    ``contracts`` (schema ``contracts`` columns) live at ``as_of`` (default ``h.as_of``:
    started on or before it, ending on or after it) make up the lock-in part.
    """
    cat = _catalogue(products, h.product_ids)
    x = h.matrix
    xo = x @ sp.diags(cat.ours.astype(np.float32))
    fam_ours = _family_onehot(cat, ours=True)
    depth = np.asarray(x @ fam_ours).astype(np.int64)  # accounts x 4
    fam_comp = _family_onehot(cat, ours=False)[:, :3]
    cdepth = np.asarray(x @ fam_comp).astype(np.int64)
    products_held = depth.sum(axis=1)
    lift = _lift_matrix(graph, cat)
    lift_ours = lift * np.outer(cat.ours, cat.ours)
    cohesion_sum = _pair_sum(xo, lift_ours) / 2.0
    edge_sum = _pair_sum(xo, (lift_ours > 0).astype(np.float32)) / 2.0
    pairs = products_held * (products_held - 1) / 2.0
    cohesion = np.where(pairs > 0, cohesion_sum / np.maximum(pairs, 1), 0.0)

    integ_w = np.array([params.integration(f) for f in cat.family], dtype=np.float64)
    services = params.service_points * products_held
    integration = np.asarray(xo @ integ_w).ravel()
    cug_col = cat.ours & (cat.function == "cug")
    has_cug = np.asarray(x @ cug_col.astype(np.float32)).ravel() > 0
    cug = params.cug_points * has_cug
    lock_in, live_contracts, bundle_live = _lock_in(h, contracts, as_of or h.as_of, params)
    lock_in = lock_in + params.bundle_per_service * products_held * bundle_live
    comp_mask = (~cat.ours).astype(np.float64)
    comp_products = np.asarray(x @ comp_mask).ravel()
    comp_lock = np.asarray(x @ (comp_mask * (params.service_points + integ_w))).ravel()
    spend = h.spend
    ints = {
        "families_covered": (depth > 0).sum(axis=1),
        "products_held": products_held,
        **{f"depth_{f}": depth[:, k] for k, f in enumerate(FAMILIES)},
    }
    floats = {
        "depth": np.minimum(depth, _DEPTH_CAP).sum(axis=1) / (_DEPTH_CAP * len(FAMILIES)),
        "cohesion": cohesion,
        "switching_cost": services + lock_in + integration + cug,
        "services": services, "lock_in": lock_in, "integration": integration, "cug": cug,
    }
    tail = {
        "cohesion_edges": edge_sum.astype(np.int64), "live_contracts": live_contracts,
        "has_cug": has_cug, "has_bundle_agreement": bundle_live,
        "competitor_families": (cdepth > 0).sum(axis=1),
        "competitor_products": comp_products.astype(np.int64),
    }
    tail_floats = {
        "competitor_spend": np.asarray(spend @ comp_mask).ravel(),
        "competitor_lock_in": comp_lock,
        "our_spend": np.asarray(spend @ cat.ours.astype(np.float64)).ravel(),
    }
    cols = {"account_id": h.account_ids, **ints, **floats, **tail, **tail_floats}
    return _frame_of({c: cols[c] for c in _METRIC_COLUMNS}, order=_METRIC_COLUMNS)


# grouped by dtype (one block each, no copy): account id, counts, figures, flags
_METRIC_COLUMNS = ("account_id", "families_covered", "products_held",
                   *(f"depth_{f}" for f in FAMILIES), "cohesion_edges", "live_contracts",
                   "competitor_families", "competitor_products", "depth", "cohesion",
                   "switching_cost", "services", "lock_in", "integration", "cug",
                   "competitor_spend", "competitor_lock_in", "our_spend", "has_cug",
                   "has_bundle_agreement")


def _frame_of(columns: Mapping[str, np.ndarray], *, order: Sequence[str]) -> pd.DataFrame:
    """A DataFrame of equal-length columns, built one block per dtype (no consolidation)."""
    groups: dict[str, list[str]] = {}
    for name, values in columns.items():
        arr = np.asarray(values)
        kind = "f8" if arr.dtype.kind == "f" else "i8" if arr.dtype.kind in "iu" else (
            "b" if arr.dtype.kind == "b" else "O")
        groups.setdefault(kind, []).append(name)
    parts = []
    for kind, names in groups.items():
        dtype = {"f8": np.float64, "i8": np.int64, "b": bool, "O": object}[kind]
        block = np.empty((len(names), len(next(iter(columns.values())))), dtype=dtype)
        for i, name in enumerate(names):  # columns
            block[i] = columns[name]
        parts.append(pd.DataFrame(block.T, columns=names, copy=False))
    out = pd.concat(parts, axis=1, copy=False) if len(parts) > 1 else parts[0]
    return out if list(out.columns) == list(order) else out[list(order)]


def explain_bundle(metrics: pd.DataFrame, account_id: Any, *, lang: str = "en",
                   params: BundlingParams = _DEFAULT) -> pd.DataFrame:
    """One account's bundle metrics and switching-cost parts, each with its label, value and
    how it is computed (``help``), in ``lang`` ("en" or "zh"). Rows: families_covered,
    products_held, depth, cohesion, services, lock_in, integration, cug, switching_cost,
    competitor_families, competitor_products, competitor_spend, competitor_lock_in."""
    row = metrics.loc[metrics["account_id"] == account_id]
    if row.empty:
        raise KeyError(f"unknown account {account_id!r}")
    r = row.iloc[0]
    zh = lang.startswith("zh")
    rule = {
        "services": f"{params.service_points:g} x {int(r['products_held'])}",
        "integration": " + ".join(
            f"{params.integration(f):g} x {int(r[f'depth_{f}'])}" for f in FAMILIES),
        "cug": f"{params.cug_points:g} x {int(bool(r['has_cug']))}",
        "lock_in": (f"{int(r['live_contracts'])} live contract(s)"
                    + (f" + {params.bundle_per_service:g} x {int(r['products_held'])}"
                       if bool(r["has_bundle_agreement"]) else "")),
    }
    names = ["families_covered", "products_held", "depth", "cohesion", "services", "lock_in",
             "integration", "cug", "switching_cost", "competitor_families",
             "competitor_products", "competitor_spend", "competitor_lock_in"]
    return pd.DataFrame({
        "part": names,
        "label": [METRIC_LABELS[n][1 if zh else 0] for n in names],
        "value": [float(r[n]) for n in names],
        "help": [METRIC_LABELS[n][2] for n in names],
        "computed": [rule.get(n, "") for n in names],
    })


# ---------------------------------------------------------------------------------------------
# Cross-sell
# ---------------------------------------------------------------------------------------------
def recommend(h: Holdings, graph: nx.MultiDiGraph, products: pd.DataFrame,
              accounts: pd.DataFrame, *, k: int = 5, settings: Settings | None = None,
              params: BundlingParams = _DEFAULT) -> pd.DataFrame:
    """Next-best products of ours for each account of ``accounts`` (suggestions only).

    ``accounts``: account_id, industry, size_class; optional ``model`` (the scoring model, as
    in the analysed frame) and ``churned`` (churned accounts get no suggestions). Accounts
    missing from ``h`` count as holding nothing.

    Evidence (0-1) for a candidate product j: the share of the account's industry x size
    segment holding j (shrunk to the portfolio's share by ``segment_shrinkage``), as odds,
    times the co-holding evidence of the whole held set: the product over every product held
    (ours and competitors') of its graph edge's shrunk segment lift, (count + m) / (expected
    + m), to the power ``evidence_weight``. Products held together more often than the
    segment mix explains raise each other. The score multiplies the evidence by the expected
    loyalty gain (1 + gain / ``loyalty_unit``; the gain in loyalty points is estimated from
    the account's scoring model: new family, one more product, family depth, closed user
    group) and by the size rule: large and medium accounts (function and service) favour
    larger solutions and industry applications / service support, small ones (price) favour
    cheaper additions.

    Guardrails: never a product the account holds, never one of ours with the function of a
    product of ours it holds, never an industry application for another industry, never a
    competitor's product; nothing is activated: these are suggestions to discuss.

    Returns long rows, best first per account: account_id, rank (1..k), product_id, family,
    score, evidence, loyalty_gain, typical_revenue (monthly, yuan, for the account's size),
    expected_revenue (evidence x typical revenue), segment_share, reason_code (see
    :data:`REASONS`), because_product and because_lift (the held product whose edge adds
    most evidence, and its lift), displaces (a competitor product of the same function the
    account holds), approach (function_service / price_led).
    """
    cat = _catalogue(products, h.product_ids)
    settings = _settings(settings)
    acc = _accounts_view(h, accounts)
    model = _Recommender(h, graph, cat, params, settings)
    ctx = model.prepare(acc)
    n = len(acc["rows"])
    kk = max(0, min(int(k), len(model.cand)))
    out = _RecsOut(n, kk)
    if kk > 0:
        _map_blocks(lambda lo: model.top_k(acc, ctx, lo, min(lo + _CHUNK, n), out), n)
    return out.frame(acc, cat)


def displacement(h: Holdings, graph: nx.MultiDiGraph, products: pd.DataFrame,
                 competitor_score: pd.Series | None = None, *,
                 accounts: Sequence[Any] | None = None,
                 params: BundlingParams = _DEFAULT) -> pd.DataFrame:
    """For every competitor product an account holds: our substitute and the chance to win it.

    ``competitor_score`` (0-100, indexed by account_id; the competitor-entanglement score of
    the scorecard) sets the entanglement e = score / 100; without it e = competitor families
    held / 3. win_chance = base_win_chance x (1 - e) x win_factor(family) x (1 +
    dual_source_boost when the account already holds our substitute), capped at
    max_win_chance: the deeper the competitor's bundle, the lower our chance (DOMAIN.md 2).

    Rows: account_id, competitor_product, competitor, family, function, spend (monthly,
    estimated), our_product (None when we have no substitute), holds_ours, entanglement,
    win_chance, expected_revenue (win_chance x spend). ``accounts`` limits the rows.
    """
    cat = _catalogue(products, h.product_ids)
    x = h.spend.tocoo() if accounts is None else h.spend[_valid_rows(h, accounts)].tocoo()
    row_ids = (np.arange(h.n_accounts) if accounts is None else _valid_rows(h, accounts))
    comp = ~cat.ours[x.col]
    r, c, spend = row_ids[x.row[comp]], x.col[comp], x.data[comp]
    sub = _substitute_index(graph, cat)  # product -> our substitute (-1 none)
    our = sub[c]
    held = h.matrix
    holds_ours = np.zeros(len(r), dtype=bool)
    ok = our >= 0
    if ok.any():
        holds_ours[ok] = np.asarray(held[r[ok], our[ok]]).ravel() > 0
    if competitor_score is not None:
        cs = pd.Series(competitor_score)
        e = (cs.reindex(h.account_ids[r]).to_numpy(dtype=np.float64) / 100.0)
        e = np.nan_to_num(e, nan=0.0)
    else:
        fam_comp = _family_onehot(cat, ours=False)[:, :3]
        cfam = (np.asarray(held @ fam_comp) > 0).sum(axis=1)
        e = cfam[r] / 3.0
    e = np.clip(e, 0.0, 1.0)
    factor = np.array([params.win_factor(f) for f in cat.family])[c]
    win = params.base_win_chance * (1.0 - e) * factor * np.where(
        holds_ours, 1.0 + params.dual_source_boost, 1.0)
    win = np.where(ok, np.minimum(win, params.max_win_chance), 0.0)
    pid = cat.product_ids
    out = pd.DataFrame({
        "account_id": h.account_ids[r],
        "competitor_product": pid[c],
        "competitor": cat.provider[c],
        "family": cat.family[c],
        "function": cat.function[c],
        "spend": spend,
        "our_product": np.where(ok, pid[np.maximum(our, 0)], None),
        "holds_ours": holds_ours,
        "entanglement": e,
        "win_chance": win,
        "expected_revenue": win * spend,
    })
    return out.sort_values(["account_id", "expected_revenue"], ascending=[True, False],
                           ignore_index=True)


def whitespace(h: Holdings, products: pd.DataFrame, accounts: pd.DataFrame, *,
               by: str | None = None, level: str = "product",
               graph: nx.MultiDiGraph | None = None) -> pd.DataFrame:
    """Held by us, by a competitor, or open: per account (``by`` None) or per segment.

    Cells are our products (``level="product"``; a competitor's product counts against ours
    of the same function) or families (``level="family"``). ``accounts`` gives the rows
    (account_id, industry, size_class and the ``by`` column, e.g. industry, tier, city).

    Per account, long rows: account_id, family, product_id (product level), status (``ours``,
    ``competitor``, ``open``, or ``not_offered`` for industry applications of another
    industry), our_spend, competitor (the competitor with the largest spend in the cell),
    competitor_spend, opportunity (monthly yuan: for open cells the typical revenue of the
    product for the account's size, for competitor cells the competitor's spend, else 0).

    Per segment: ``by``, family, product_id, accounts, ours, competitor, open, not_offered
    (account counts), competitor_<id> (accounts where that competitor holds the cell),
    competitor_spend and opportunity (sums), and the shares ours_share, competitor_share,
    open_share (of the accounts offered the cell).
    """
    if level not in ("product", "family"):
        raise ValueError("level: product or family")
    if by is not None and by not in accounts.columns:
        raise ValueError(f"by: {by!r} is not a column of accounts")
    cat = _catalogue(products, h.product_ids)
    acc = _accounts_view(h, accounts)
    comps = sorted({p for p in cat.provider if p != OURS})
    typical = graph.graph.get("typical_revenue") if graph is not None else None
    if typical is None:
        typical = _typical_revenue(h, None, cat)
    if level == "product":
        cells = [(cat.family[j], cat.product_ids[j], [j],
                  list(np.flatnonzero(~cat.ours & (cat.function == cat.function[j]))))
                 for j in np.flatnonzero(cat.ours)]
    else:
        cells = [(f, None, list(np.flatnonzero(cat.ours & (cat.family == f))),
                  list(np.flatnonzero(~cat.ours & (cat.family == f)))) for f in FAMILIES]
    n = len(acc["rows"])
    blocks = (_whitespace_block(h, cat, acc, cells, comps, typical, lo, min(lo + _CHUNK, n))
              for lo in range(0, n, _CHUNK))
    if by is None:
        frames = []
        for lo, blk in zip(range(0, n, _CHUNK), blocks, strict=True):  # blocks of accounts
            ids = acc["ids"][lo:lo + _CHUNK]
            for (fam, pid, _, _), cell in zip(cells, blk, strict=True):  # cells
                frames.append(pd.DataFrame({
                    "account_id": ids, "family": fam, "product_id": pid,
                    "status": np.asarray(_WS_STATUS, dtype=object)[cell["status"]],
                    "our_spend": cell["our_spend"],
                    "competitor": (np.where(cell["comp_held"], np.asarray(
                        comps, dtype=object)[cell["top"]], None) if comps else None),
                    "competitor_spend": cell["competitor_spend"],
                    "opportunity": cell["opportunity"]}))
        cols = ["account_id", "family", "product_id", "status", "our_spend", "competitor",
                "competitor_spend", "opportunity"]
        long = (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols))
        long = long.sort_values(["account_id"], kind="stable", ignore_index=True)
        return long.drop(columns="product_id") if level == "family" else long
    seg_codes, seg_u = pd.factorize(accounts[by].astype(object), use_na_sentinel=False)
    m = len(seg_u)
    comp_keys = [f"competitor_{c}" for c in comps]
    keys = (*_WS_STATUS, *comp_keys, "competitor_spend", "opportunity")
    tot = np.zeros((len(cells), len(keys), m))
    for lo, blk in zip(range(0, n, _CHUNK), blocks, strict=True):  # blocks of accounts
        codes = seg_codes[lo:lo + _CHUNK]
        for ci, cell in enumerate(blk):  # cells (products or families)
            tot[ci, :len(_WS_STATUS)] += np.stack([
                np.bincount(codes, weights=cell["status"] == k, minlength=m)
                for k in range(len(_WS_STATUS))])
            for j in range(len(comps)):  # competitors
                tot[ci, len(_WS_STATUS) + j] += np.bincount(
                    codes, weights=cell["held_by"][:, j], minlength=m)
            tot[ci, -2] += np.bincount(codes, weights=cell["competitor_spend"], minlength=m)
            tot[ci, -1] += np.bincount(codes, weights=cell["opportunity"], minlength=m)
    frames = []
    n_seg = np.bincount(seg_codes, minlength=m)
    for ci, (fam, pid, _, _) in enumerate(cells):  # cells (products or families)
        d = pd.DataFrame({by: np.asarray(seg_u, dtype=object), "family": fam,
                          "product_id": pid, "accounts": n_seg})
        for ki, key in enumerate(keys):
            d[key] = tot[ci, ki].round().astype(np.int64) if ki < len(keys) - 2 else tot[ci, ki]
        frames.append(d)
    agg = pd.concat(frames, ignore_index=True)
    offered = (agg["accounts"] - agg["not_offered"]).where(lambda v: v > 0)
    for key in ("ours", "competitor", "open"):
        agg[f"{key}_share"] = agg[key] / offered
    agg = agg.sort_values([by, "family"], kind="stable", ignore_index=True)
    return agg.drop(columns="product_id") if level == "family" else agg


_WS_STATUS = ("ours", "competitor", "open", "not_offered")


def _whitespace_block(h: Holdings, cat: _Catalogue, acc: dict[str, Any],
                      cells: list[tuple[Any, Any, list[int], list[int]]], comps: list[str],
                      typical: pd.DataFrame, lo: int, hi: int) -> list[dict[str, np.ndarray]]:
    """Per cell, for accounts ``lo:hi``: status code (index in _WS_STATUS), our spend, which
    competitors hold the cell and their spend, the top competitor, the opportunity."""
    rows = acc["rows"][lo:hi]
    xd = _rows_matrix(h.matrix, rows).toarray() > 0
    sd = _rows_matrix(h.spend, rows).toarray()
    elig = _eligibility(cat, acc["industry"][lo:hi])
    n = hi - lo
    tv_all = np.where(elig, _typical_for(typical, acc["size"][lo:hi], list(cat.product_ids)),
                      0.0)
    out = []
    for _fam, _pid, our_cols, comp_cols in cells:  # cells (products or families)
        ours_held = xd[:, our_cols].any(axis=1)
        offered = elig[:, our_cols].any(axis=1) | ours_held
        by_comp = np.zeros((n, len(comps)))
        held_by = np.zeros((n, len(comps)), bool)
        for ci, cp in enumerate(comps):  # competitors
            cols = [j for j in comp_cols if cat.provider[j] == cp]
            if cols:
                held_by[:, ci] = xd[:, cols].any(axis=1)
                by_comp[:, ci] = sd[:, cols].sum(axis=1)
        comp_held = held_by.any(axis=1)
        comp_spend = by_comp.sum(axis=1)
        status = np.where(ours_held, 0, np.where(comp_held, 1, np.where(offered, 2, 3)))
        open_value = tv_all[:, our_cols].max(axis=1) if our_cols else np.zeros(n)
        out.append({
            "status": status.astype(np.int8), "our_spend": sd[:, our_cols].sum(axis=1),
            "held_by": held_by, "comp_held": comp_held,
            # the competitor with the largest spend among those holding the cell
            "top": np.where(held_by, by_comp, -1.0).argmax(axis=1) if comps else None,
            "competitor_spend": comp_spend,
            "opportunity": np.where(status == 2, open_value,
                                    np.where(status == 1, comp_spend, 0.0)),
        })
    return out


# ---------------------------------------------------------------------------------------------
# What-if
# ---------------------------------------------------------------------------------------------
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
    shifted by the change in our monthly revenue x 12 / x 1) and re-scored with
    :func:`valuation.scoring.score` over the accounts of its scoring model (normalisation is
    per model, so the other accounts' scores are unchanged); its tier comes from the
    analysis' fitted cutter. Nothing passed in is mutated.
    """
    from valuation.pyramid import basis_score
    from valuation.scoring import assign_models, score

    cat = _catalogue(products, h.product_ids)
    settings = analysis.settings
    frame = analysis.frame
    pos = np.flatnonzero(frame["account_id"].astype(str).to_numpy() == str(account_id))
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
        mine = contracts.loc[contracts["account_id"].astype(str) == str(account_id)]
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
    # re-score over the accounts of the account's scoring model(s), before and after: the
    # normalisation is per model, so this gives the account's score on the whole frame
    old_models = (frame["model"].astype(str) if "model" in frame.columns
                  else assign_models(frame, settings))
    new_model = assign_models(row, settings).at[label]
    scope = old_models.isin([old_models.at[label], new_model]).to_numpy()
    sub = frame.loc[scope].copy()
    for c in upd:
        if c in sub.columns:
            sub.at[label, c] = row.at[label, c]
    card = score(sub, settings, as_of=frame.attrs.get("as_of"))
    s_after = card.scores.loc[[label]]
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


# ---------------------------------------------------------------------------------------------
# Evidence: does the graph recommender beat popularity?
# ---------------------------------------------------------------------------------------------
def evaluate_recommender(h: Holdings, products: pd.DataFrame, accounts: pd.DataFrame, *,
                         seed: int = 0, ks: Sequence[int] = (3, 5), min_held: int = 2,
                         settings: Settings | None = None,
                         params: BundlingParams = _DEFAULT) -> dict[str, Any]:
    """Hide one held product of ours per account, rank, and report hit rates.

    Every account holding at least ``min_held`` products of ours has one of them, drawn at
    random (``seed``), hidden. The graph is rebuilt on the masked matrix (the hidden cells are
    gone: no leakage) and every method ranks the products of ours the account does not hold
    under the same guardrails (not held, industry fit, not a substitute of ours held). A hit
    at k: the hidden product is among the top k.

    Methods: ``graph`` (the ranking :func:`recommend` returns), ``graph_evidence`` (its
    evidence alone, without loyalty and revenue weighting), ``popularity`` (portfolio-wide
    penetration, the baseline) and ``segment_popularity`` (penetration within the account's
    industry x size segment, a stronger baseline). Returns {"accounts", "seed", "min_held",
    "methods": {method: {"hit@3": ..., "hit@5": ...}}}.
    """
    cat = _catalogue(products, h.product_ids)
    settings = _settings(settings)
    rng = np.random.default_rng(seed)
    x = h.matrix
    row_of = np.repeat(np.arange(h.n_accounts), np.diff(x.indptr))
    ours_nz = cat.ours[x.indices]
    n_ours = np.bincount(row_of[ours_nz], minlength=h.n_accounts)
    # one random product of ours per evaluated account: the largest random key among them
    keys = np.where(ours_nz & (n_ours[row_of] >= min_held), rng.random(x.nnz), -1.0)
    best, arg = _row_argmax(x.indptr, keys, row_of)
    eval_rows = np.flatnonzero(best >= 0)
    pick_idx = arg[eval_rows]
    hidden = np.full(h.n_accounts, -1, np.int64)
    hidden[eval_rows] = x.indices[pick_idx]
    keep = np.ones(x.nnz, bool)
    keep[pick_idx] = False
    masked = _drop_entries(h, keep)
    graph = build_graph(masked, products, accounts=accounts, params=params)
    acc = _accounts_view(masked, _rows_of_accounts(masked, accounts, eval_rows))
    rows = acc["rows"]
    target = hidden[rows]
    model = _Recommender(masked, graph, cat, params, settings)
    ctx = model.prepare(acc)
    ctx["active"] = np.ones(len(rows), bool)  # every evaluated account holds something
    names = ("graph", "graph_evidence", "popularity", "segment_popularity")

    def ranks(lo: int) -> dict[str, np.ndarray]:
        hi = min(lo + _CHUNK, len(rows))
        sc = model.scores(acc, ctx, lo, hi)
        tcol = np.searchsorted(model.cand, target[lo:hi])
        pop = np.broadcast_to(np.log(model.p[model.cand] + 1e-12), sc["score"].shape)
        res = {}
        for name, s in zip(names, (sc["score"], sc["logit"], pop,
                                   np.log(sc["segment_share"] + 1e-12)), strict=True):
            s = np.where(sc["allowed"], s, -np.inf)
            tv = s[np.arange(hi - lo), tcol]
            # products strictly better, plus ties (ties are counted against the method)
            rank = (s > tv[:, None]).sum(axis=1) + ((s == tv[:, None]).sum(axis=1) - 1)
            res[name] = np.where(np.isfinite(tv), rank, 10**6)
        return res

    blocks = _map_blocks(ranks, len(rows))
    methods = {name: [b[name] for b in blocks] for name in names}
    out = {"accounts": int(len(rows)), "seed": int(seed), "min_held": int(min_held),
           "methods": {}}
    for name, parts in methods.items():
        rank = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        out["methods"][name] = {f"hit@{k}": (float(np.mean(rank < k)) if len(rank) else
                                             float("nan")) for k in ks}
    return out


# ---------------------------------------------------------------------------------------------
# Chart frames
# ---------------------------------------------------------------------------------------------
def layout(graph: nx.MultiDiGraph) -> dict[str, tuple[float, float]]:
    """Deterministic positions: products on a circle grouped by family (in family order) and
    function; ours on the inner ring, competitors' just outside, next to their substitute."""
    fam_rank = {f: i for i, f in enumerate(FAMILIES)}
    nodes = sorted(graph.nodes, key=lambda n: (
        fam_rank.get(graph.nodes[n].get("family"), 9), str(graph.nodes[n].get("function")),
        graph.nodes[n].get("provider") != OURS, str(n)))
    m = max(len(nodes), 1)
    pos = {}
    for k, node in enumerate(nodes):  # the products
        angle = 2 * np.pi * k / m
        r = 1.0 if graph.nodes[node].get("provider") == OURS else 1.3
        pos[node] = (float(r * np.cos(angle)), float(r * np.sin(angle)))
    return pos


def graph_frames(graph: nx.MultiDiGraph, *, min_lift: float = 0.0,
                 kinds: tuple[str, ...] = ("co_holding", "substitute"),
                 pos: Mapping[str, tuple[float, float]] | None = None,
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Node and edge tables for an Altair chart of the product graph.

    Nodes: product_id, name, name_en, family, provider, function, penetration, holders,
    x, y. Edges: one row per co-holding pair (a, b with a before b in node order; lift at
    least ``min_lift``) and per substitution: source, target, kind, count, support, lift,
    lift_segment, confidence_ab (P(b | a)), confidence_ba, x, y, x2, y2.
    """
    pos = dict(pos) if pos is not None else layout(graph)
    nodes = pd.DataFrame([
        {"product_id": n, "name": d.get("name"), "name_en": d.get("name_en"),
         "family": d.get("family"), "provider": d.get("provider"),
         "function": d.get("function"), "penetration": d.get("penetration", 0.0),
         "holders": d.get("holders", 0), "x": pos[n][0], "y": pos[n][1]}
        for n, d in graph.nodes(data=True) if n in pos
    ], columns=["product_id", "name", "name_en", "family", "provider", "function",
                "penetration", "holders", "x", "y"])
    order = {n: i for i, n in enumerate(graph.nodes)}
    rows = []
    for a, b, key, d in graph.edges(keys=True, data=True):  # edges of the product graph
        if key not in kinds or a not in pos or b not in pos:
            continue
        if key == "co_holding":
            if order[a] > order[b] or d["lift"] < min_lift:
                continue
            back = graph.edges[b, a, "co_holding"]
            rows.append({"source": a, "target": b, "kind": key, "count": d["count"],
                         "support": d["support"], "lift": d["lift"],
                         "lift_segment": d.get("lift_segment"),
                         "confidence_ab": d["confidence"], "confidence_ba": back["confidence"]})
        else:
            rows.append({"source": a, "target": b, "kind": key})
    edges = pd.DataFrame(rows, columns=["source", "target", "kind", "count", "support", "lift",
                                        "lift_segment", "confidence_ab", "confidence_ba"])
    edges["x"] = [pos[s][0] for s in edges["source"]]
    edges["y"] = [pos[s][1] for s in edges["source"]]
    edges["x2"] = [pos[t][0] for t in edges["target"]]
    edges["y2"] = [pos[t][1] for t in edges["target"]]
    return nodes, edges


def ego_graph(graph: nx.MultiDiGraph, held_product_ids: Iterable[str], *,
              recommended: Iterable[str] = (), neighbours: int = 5, min_lift: float = 1.0,
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One account's corner of the product graph, for a chart next to its recommendations.

    Nodes: the products held, the ``recommended`` ones, the ``neighbours`` products of ours
    with the strongest lift (at least ``min_lift``) to the held set, and our substitutes of
    the competitor products held; each flagged ``held`` / ``recommended``. Edges: co-holding
    edges with lift >= ``min_lift`` and substitutions, each touching a held product.
    Positions are those of
    the whole graph's :func:`layout`, so an account's view matches the portfolio's.
    """
    held = [p for p in dict.fromkeys(map(str, held_product_ids)) if p in graph]
    rec = [p for p in dict.fromkeys(map(str, recommended)) if p in graph]
    strength: dict[str, float] = {}
    for p in held:  # the held products (a handful)
        for _, q, key, d in graph.out_edges(p, keys=True, data=True):
            if key == "co_holding" and q not in held and graph.nodes[q].get("ours") \
                    and d["lift"] >= min_lift:
                strength[q] = strength.get(q, 0.0) + float(np.log(d["lift"]))
            if key == "substitute":
                strength.setdefault(q, float("inf"))
    extra = sorted(strength, key=lambda q: (-strength[q], q))[:neighbours]
    keep = list(dict.fromkeys(held + rec + extra +
                              [q for q, v in strength.items() if v == float("inf")]))
    sub = graph.subgraph(keep)
    nodes, edges = graph_frames(sub, min_lift=min_lift, pos=layout(graph))
    edges = edges.loc[edges["source"].isin(held) | edges["target"].isin(held)].reset_index(
        drop=True)
    nodes["held"] = nodes["product_id"].isin(held)
    nodes["recommended"] = nodes["product_id"].isin(rec)
    return nodes, edges


# ---------------------------------------------------------------------------------------------
# Private: catalogue, matrices, kernels
# ---------------------------------------------------------------------------------------------
_WHATIF_METRICS = ("families_covered", "products_held", *(f"depth_{f}" for f in FAMILIES),
                   "cohesion", "switching_cost", "services", "lock_in", "integration", "cug",
                   "our_spend", "competitor_products", "competitor_families", "competitor_spend")
_WHATIF_SCORES = ("value_score", "loyalty_score", "competitor_score", "tier")


@dataclass(frozen=True)
class _Catalogue:
    product_ids: np.ndarray
    family: np.ndarray
    provider: np.ndarray
    function: np.ndarray
    industries: tuple[frozenset[str], ...]
    industries_raw: tuple[str | None, ...]
    price: np.ndarray
    name: np.ndarray
    name_en: np.ndarray
    ours: np.ndarray


def _catalogue(products: pd.DataFrame, product_ids: np.ndarray) -> _Catalogue:
    """The products table aligned to ``product_ids`` (validated once here)."""
    need = {"product_id", "family", "provider"}
    missing = need - set(products.columns)
    if missing:
        raise ValueError(f"products: missing columns {', '.join(sorted(missing))}")
    p = products.assign(product_id=products["product_id"].astype(str)).drop_duplicates(
        "product_id").set_index("product_id")
    ids = np.asarray(product_ids, dtype=object).astype(str)
    absent = [i for i in ids if i not in p.index]
    if absent:
        raise ValueError(f"products missing from the catalogue: {', '.join(absent[:5])}")
    p = p.reindex(ids)

    def col(name: str, default: Any) -> np.ndarray:
        if name not in p.columns:
            return np.full(len(p), default, dtype=object)
        return p[name].astype(object).where(p[name].notna(), default).to_numpy(dtype=object)

    raw = col("industries", None)
    inds = tuple(frozenset(s.strip() for s in str(v).split(";") if s.strip())
                 if v is not None and str(v).strip() else frozenset() for v in raw)
    fam = p["family"].astype(str).to_numpy(dtype=object)
    bad = set(fam) - set(FAMILIES)
    if bad:
        raise ValueError(f"products: unknown families {', '.join(sorted(bad))}")
    prov = p["provider"].astype(str).to_numpy(dtype=object)
    return _Catalogue(
        product_ids=ids.astype(object), family=fam, provider=prov,
        function=np.array([str(v) if v is not None else f"_{i}" for i, v in
                           enumerate(col("function", None))], dtype=object),
        industries=inds, industries_raw=tuple(None if v is None else str(v) for v in raw),
        price=pd.to_numeric(pd.Series(col("list_price", 0.0)), errors="coerce").fillna(
            0.0).to_numpy(dtype=np.float64),
        name=col("name", None), name_en=col("name_en", None), ours=prov == OURS)


def _str_ids(ids: Sequence[Any]) -> np.ndarray:
    """Ids as an object array of str (checked in C; converted only when needed)."""
    arr = np.asarray(ids, dtype=object)
    if len(arr) and pd.api.types.infer_dtype(arr, skipna=False) != "string":
        arr = arr.astype(str).astype(object)
    return arr


def _settings(settings: Settings | None) -> Settings:
    if settings is not None:
        return settings
    from valuation.config import load_settings

    return load_settings()


def _py(v: Any) -> Any:
    if isinstance(v, (np.generic,)):
        return v.item()
    return v


def _cooccurrence(x: sp.csr_matrix) -> np.ndarray:
    """X.T @ X as a dense products x products array (float64)."""
    xt = x.T.tocsr()
    return np.asarray((xt @ x).toarray(), dtype=np.float64)


def _family_onehot(cat: _Catalogue, *, ours: bool) -> np.ndarray:
    """products x families: 1 where the product is of the family (and ours / a competitor's)."""
    sel = cat.ours if ours else ~cat.ours
    return np.stack([(cat.family == f) & sel for f in FAMILIES], axis=1).astype(np.float32)


def _lift_matrix(graph: nx.MultiDiGraph, cat: _Catalogue, attr: str = "lift") -> np.ndarray:
    """products x products: the co-holding edge's ``attr`` (0 where there is no edge)."""
    col = {p: j for j, p in enumerate(cat.product_ids)}
    w = np.zeros((len(col), len(col)))
    for a, b, key, d in graph.edges(keys=True, data=True):  # edges of the product graph
        if key == "co_holding" and a in col and b in col:
            w[col[a], col[b]] = d[attr]
    return w


def _pair_sum(x: sp.csr_matrix, w: np.ndarray) -> np.ndarray:
    """Per row: sum over held i, j of w[i, j] = row sums of (X @ W) * X, by blocks of rows."""
    n = x.shape[0]
    out = np.zeros(n)
    w32 = np.asarray(w, dtype=np.float32)
    for lo in range(0, n, _CHUNK):  # blocks of accounts, not accounts
        blk = x[lo:lo + _CHUNK]
        y = np.asarray(blk @ w32)
        rows = np.repeat(np.arange(blk.shape[0]), np.diff(blk.indptr))
        out[lo:lo + blk.shape[0]] = np.bincount(rows, weights=y[rows, blk.indices] * blk.data,
                                                minlength=blk.shape[0])
    return out


def _lock_in(h: Holdings, contracts: pd.DataFrame | None, as_of: date | None,
             params: BundlingParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per account: contract lock-in points, live contracts, a live comprehensive agreement."""
    n = h.n_accounts
    if contracts is None or len(contracts) == 0:
        return np.zeros(n), np.zeros(n, np.int64), np.zeros(n, bool)
    c = contracts
    if as_of is not None:
        ts = pd.Timestamp(as_of)
        live = (pd.to_datetime(c["start_date"]) <= ts) & (pd.to_datetime(c["end_date"]) >= ts)
        c = c.loc[live.to_numpy()]
    r = h.rows(c["account_id"].astype(str).to_numpy())
    ok = r >= 0
    r = r[ok]
    types = c["contract_type"].astype(str).to_numpy()[ok]
    w = pd.Series(types).map({t: params.lock_in(t) for t in set(types)}).to_numpy(np.float64)
    points = np.bincount(r, weights=w, minlength=n)
    count = np.bincount(r, minlength=n)
    bundle = np.bincount(r, weights=(types == "comprehensive_bundle").astype(float),
                         minlength=n) > 0
    return points, count, bundle


def _substitute_pairs(cat: _Catalogue) -> list[tuple[int, int]]:
    """(competitor product, our product) column pairs of the same function."""
    out = []
    ours = np.flatnonzero(cat.ours)
    for j in np.flatnonzero(~cat.ours):  # competitor products
        for o in ours[cat.function[ours] == cat.function[j]]:
            out.append((int(j), int(o)))
    return out


def _substitute_index(graph: nx.MultiDiGraph, cat: _Catalogue) -> np.ndarray:
    """Per product column: the column of our substitute (via the graph; -1 for none). With
    several, the cheapest by list price."""
    col = {p: j for j, p in enumerate(cat.product_ids)}
    out = np.full(len(col), -1, np.int64)
    for a, b, key in graph.edges(keys=True):  # edges of the product graph
        if key == "substitute" and a in col and b in col:
            j, o = col[a], col[b]
            if out[j] < 0 or cat.price[o] < cat.price[out[j]]:
                out[j] = o
    return out


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


def _eligibility(cat: _Catalogue, industries: np.ndarray) -> np.ndarray:
    """accounts x products: False for an industry application of another industry (and for
    any industry-specific product when the account's industry is unknown)."""
    codes, uniq = pd.factorize(pd.Series(industries, dtype=object), use_na_sentinel=True)
    table = np.array([[not s or (u in s) for s in cat.industries] for u in uniq],
                     dtype=bool).reshape(len(uniq), len(cat.industries))
    unknown = np.array([not s for s in cat.industries], dtype=bool)
    table = np.vstack([table, unknown[None, :]])
    return table[np.where(codes >= 0, codes, len(uniq))]


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


class _Recommender:
    """The learned pieces of the recommender (products x products and segments x products
    arrays, from the graph) and the per-block scoring kernels. Loops run over blocks of
    accounts, products, the k ranks and the scoring models; never over accounts."""

    def __init__(self, h: Holdings, graph: nx.MultiDiGraph, cat: _Catalogue,
                 params: BundlingParams, settings: Settings) -> None:
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
        return {"seg": ic * n_s + sc, "q": q.astype(np.float32), "active": active,
                "logit_q": np.log(q / (1 - q)).astype(np.float32), "ind": ic, "elig": elig,
                "size": sc, "fs_u": fs_u, "typ": typ.astype(np.float32),
                "size_factor": size_factor.astype(np.float32), "model": model_code}

    def scores(self, acc: dict[str, Any], ctx: dict[str, Any], lo: int, hi: int
               ) -> dict[str, np.ndarray]:
        """Everything about the candidates of accounts ``lo:hi`` (dense blocks)."""
        prm = self.params
        x = _rows_matrix(self.h.matrix, acc["rows"][lo:hi])
        xd = x.toarray()  # float32, accounts x products
        seg = ctx["seg"][lo:hi]
        z = ctx["logit_q"][seg] + np.float32(prm.evidence_weight) * (xd @ self.w)
        evidence = 1.0 / (1.0 + np.exp(-z))
        # not held, and no product of ours of the same function held (same_func includes the
        # product itself); industry fit
        allowed = ctx["elig"][ctx["ind"][lo:hi]] & ((xd @ self.same_func) == 0)
        allowed &= ctx["active"][lo:hi, None]
        size = ctx["size"][lo:hi]
        depth = xd @ self.gain.fam_onehot  # n x 4
        gain = self.gain.points(depth, (xd @ self.gain.cug) > 0, ctx["model"][lo:hi],
                                self.fam_idx, self.is_cug)
        score = evidence * (1.0 + gain / np.float32(prm.loyalty_unit)) * ctx["size_factor"][size]
        q = ctx["q"][seg]
        typical = ctx["typ"][size]
        fs = ctx["fs_u"][size]
        return {"x": x, "depth": depth, "logit": z, "evidence": evidence, "allowed": allowed,
                "score": score, "gain": gain, "typical": typical, "segment_share": q,
                "function_service": fs}

    def top_k(self, acc: dict[str, Any], ctx: dict[str, Any], lo: int, hi: int,
              out: _RecsOut) -> None:
        """The best ``out.k`` allowed candidates of accounts ``lo:hi``, written into ``out``."""
        sc = self.scores(acc, ctx, lo, hi)
        cand = self.cand
        s = np.where(sc["allowed"], sc["score"], np.float32(-np.inf))
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
        f[0] = top_s.ravel()
        f[1] = sc["evidence"][r, top].ravel()
        f[2] = sc["gain"][r, top].ravel()
        f[3] = sc["typical"][r, top].ravel()
        np.multiply(f[1], f[3], out=f[4])
        f[5] = sc["segment_share"][r, top].ravel()
        out.product[sl] = cand[top].ravel()
        out.valid[sl] = np.isfinite(top_s).ravel()
        out.function_service[lo:hi] = sc["function_service"]
        # the held product adding most evidence to each suggestion (over the sparse held
        # entries: the cost grows with holdings, not accounts x products)
        x = sc["x"]
        nz_row = np.repeat(np.arange(n), np.diff(x.indptr))
        because = np.empty((n, kk), np.int64)
        for t in range(kk):  # the k ranks
            best, arg = _row_argmax(x.indptr, self.w[x.indices, top[nz_row, t]], nz_row)
            because[:, t] = np.where(best > 0, x.indices[np.maximum(arg, 0)], -1)
        f[6] = np.where(because >= 0, self.lift[np.maximum(because, 0), top], np.nan).ravel()
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


_REC_COLUMNS = ("account_id", "rank", "product_id", "family", "score", "evidence",
                "loyalty_gain", "typical_revenue", "expected_revenue", "segment_share",
                "reason_code", "because_product", "because_lift", "displaces", "approach")


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
