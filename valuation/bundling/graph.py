"""The product graph: co-holding and substitution edges, layout, tidy frames for charts.

:func:`build_graph`: a networkx ``MultiDiGraph`` of products (ours and competitors') with
co-holding edges (support, confidence, lift) and substitution edges (competitor -> ours);
:func:`graph_frames`, :func:`ego_graph`: tidy node and edge tables for Altair charts;
:func:`graph_view`: the readable part of them (each product's strongest pairs, optionally
around a product or a family) laid out on a ring.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp

from valuation.bundling.common import (
    _DEFAULT,
    FAMILIES,
    OURS,
    BundlingParams,
    _Catalogue,
    _catalogue,
)
from valuation.bundling.holdings import Holdings, _segment_holders, _segments, _typical_revenue

__all__ = [
    "build_graph",
    "ego_graph",
    "graph_frames",
    "graph_view",
    "layout",
]


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


def graph_view(nodes: pd.DataFrame, edges: pd.DataFrame, *, top_k: int = 3,
               centre: Iterable[str] = ()) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """The part of the product graph a reader can follow, laid out for a chart.

    ``nodes`` and ``edges`` are :func:`graph_frames`' (co-holding edges already at the minimum
    lift). Each co-holding pair is ranked by lift at both of its products; without a
    ``centre`` a pair stays when it is among the ``top_k`` strongest of either product, and
    every product is shown. With a ``centre`` (product ids: one product, or a family's) only
    the centre's own ``top_k`` strongest pairs per product stay, with the products they reach
    and the substitutions touching the centre.

    Positions: the products on a ring of radius 1 in the catalogue's order (family, function,
    ours before competitors'), evenly spaced, so that labels can run outward like spokes; a
    single centre product sits in the middle. Nodes gain ``central`` (in the centre) and
    ``strength`` (their strongest lift shown); edges their end points. Returns the nodes, the
    edges (strongest first) and the number of co-holding pairs the view chose from."""
    centre = [str(c) for c in dict.fromkeys(map(str, centre))]
    co = edges[edges["kind"] == "co_holding"].reset_index(drop=True)
    sub = edges[edges["kind"] == "substitute"].reset_index(drop=True)
    ends = pd.concat([
        pd.DataFrame({"edge": co.index, "product": co["source"], "lift": co["lift"]}),
        pd.DataFrame({"edge": co.index, "product": co["target"], "lift": co["lift"]}),
    ], ignore_index=True)
    ends["rank"] = ends.sort_values(["lift", "edge"], ascending=[False, True]).groupby(
        "product").cumcount() + 1  # 1 = the product's strongest pair
    if centre:
        mine = ends["product"].isin(centre)
        total = int(ends.loc[mine, "edge"].nunique())
        kept = ends.loc[mine & (ends["rank"] <= top_k), "edge"].unique()
        sub = sub[sub["source"].isin(centre) | sub["target"].isin(centre)]
    else:
        total = len(co)
        kept = ends.loc[ends["rank"] <= top_k, "edge"].unique()
    co = co.loc[np.sort(kept)].sort_values("lift", ascending=False, kind="stable")
    shown = pd.concat([co, sub], ignore_index=True)
    if centre:
        keep = set(centre) | set(shown["source"]) | set(shown["target"])
        out = nodes[nodes["product_id"].isin(keep)].copy()
    else:
        out = nodes.copy()
    fam = {f: i for i, f in enumerate(FAMILIES)}
    out = out.assign(_f=out["family"].map(fam).fillna(9), _fn=out["function"].astype(str),
                     _them=out["provider"] != OURS, _id=out["product_id"].astype(str))
    out = out.sort_values(["_f", "_fn", "_them", "_id"]).drop(columns=["_f", "_fn", "_them", "_id"])
    out["central"] = out["product_id"].isin(centre)
    hub = len(centre) == 1 and bool(out["central"].any())
    ring = ~out["central"].to_numpy() if hub else np.ones(len(out), dtype=bool)
    angle = np.zeros(len(out))
    k = int(ring.sum())
    angle[ring] = np.pi / 2 - 2 * np.pi * np.arange(k) / max(k, 1)  # clockwise from the top
    out["x"] = np.where(ring, np.cos(angle), 0.0)
    out["y"] = np.where(ring, np.sin(angle), 0.0)
    lift = pd.concat([co[["source", "lift"]].rename(columns={"source": "p"}),
                      co[["target", "lift"]].rename(columns={"target": "p"})])
    out["strength"] = out["product_id"].map(lift.groupby("p")["lift"].max()).fillna(0.0)
    at = out.set_index("product_id")[["x", "y"]]
    shown = shown[shown["source"].isin(at.index) & shown["target"].isin(at.index)]
    shown = shown.assign(x=shown["source"].map(at["x"]), y=shown["source"].map(at["y"]),
                         x2=shown["target"].map(at["x"]), y2=shown["target"].map(at["y"]))
    return out.reset_index(drop=True), shown.reset_index(drop=True), total


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


def _cooccurrence(x: sp.csr_matrix) -> np.ndarray:
    """X.T @ X as a dense products x products array (float64)."""
    xt = x.T.tocsr()
    return np.asarray((xt @ x).toarray(), dtype=np.float64)


def _lift_matrix(graph: nx.MultiDiGraph, cat: _Catalogue, attr: str = "lift") -> np.ndarray:
    """products x products: the co-holding edge's ``attr`` (0 where there is no edge)."""
    col = {p: j for j, p in enumerate(cat.product_ids)}
    w = np.zeros((len(col), len(col)))
    for a, b, key, d in graph.edges(keys=True, data=True):  # edges of the product graph
        if key == "co_holding" and a in col and b in col:
            w[col[a], col[b]] = d[attr]
    return w


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
