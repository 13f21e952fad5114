"""Bundle metrics and switching cost per account, and one account's explanation of them.

:func:`bundle_metrics`: families covered, depth, cohesion and a switching-cost index whose
four parts are explained (:func:`explain_bundle`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp

from valuation.bundling.common import (
    _CHUNK,
    _DEFAULT,
    _DEPTH_CAP,
    FAMILIES,
    METRIC_LABELS,
    BundlingParams,
    _catalogue,
    _family_onehot,
)
from valuation.bundling.graph import _lift_matrix
from valuation.bundling.holdings import Holdings

__all__ = [
    "bundle_metrics",
    "explain_bundle",
]

# grouped by dtype (one block each, no copy): account id, counts, figures, flags
_METRIC_COLUMNS = ("account_id", "families_covered", "products_held",
                   *(f"depth_{f}" for f in FAMILIES), "cohesion_edges", "live_contracts",
                   "competitor_families", "competitor_products", "depth", "cohesion",
                   "switching_cost", "services", "lock_in", "integration", "cug",
                   "competitor_spend", "competitor_lock_in", "our_spend", "has_cug",
                   "has_bundle_agreement")


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
