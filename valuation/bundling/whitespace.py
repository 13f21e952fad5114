"""Displacement and whitespace: what a competitor holds that we could win, and what is open.

:func:`displacement`: our substitute for each competitor product held, and the chance to win;
:func:`whitespace`: held by us / by a competitor / open, per account or segment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from valuation.bundling.common import (
    _CHUNK,
    _DEFAULT,
    FAMILIES,
    OURS,
    BundlingParams,
    _Catalogue,
    _catalogue,
    _eligibility,
    _family_onehot,
)
from valuation.bundling.graph import _substitute_index
from valuation.bundling.holdings import (
    Holdings,
    _accounts_view,
    _rows_matrix,
    _typical_for,
    _typical_revenue,
    _valid_rows,
)

__all__ = [
    "displacement",
    "whitespace",
]

_WS_STATUS = ("ours", "competitor", "open", "not_offered")


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
