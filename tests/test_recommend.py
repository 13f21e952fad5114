"""The cross-sell blend chosen by evidence: honest selection, never below popularity, stored."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from wide_export import wide_store

from valuation import bundling as b
from valuation import features
from valuation.config import Settings, load_settings, parse_settings
from valuation.store import Store


def _portfolio(path):
    with Store(path, read_only=True) as s:
        return (b.load_holdings(s), s.read_table("products"), features.account_frame(s))


@pytest.fixture(scope="module")
def demo(demo_path):
    return _portfolio(demo_path)


@pytest.fixture(scope="module")
def wide(wide_path):
    return _portfolio(wide_path)


@pytest.fixture(scope="module")
def wide2(tmp_path_factory):
    return _portfolio(wide_store(tmp_path_factory.mktemp("wide2"), rows=3000, seed=2))


@pytest.fixture(scope="module")
def settings():
    return load_settings()


# -- the choice on real-looking data -------------------------------------------------------

@pytest.mark.parametrize("data", ["demo", "wide", "wide2"])
def test_chosen_blend_is_never_below_popularity_on_the_test_split(data, request, settings):
    h, products, accounts = request.getfixturevalue(data)
    choice = b.choose_blend(h, products, accounts, seed=0, settings=settings)
    t = choice.table.set_index("blend")
    win = t.loc[choice.name]
    assert bool(win["chosen"]) and t["chosen"].sum() == 1
    for split in ("selection", "test"):
        assert win[f"{split}_hit@3"] >= t.loc["popularity", f"{split}_hit@3"], split
    # the former hand-set blend, today's loser on the export, was a candidate
    assert {"popularity", "segment_popularity", "evidence", "hand_tuned", "default"} <= set(t.index)
    m = choice.methods("test")
    assert m["chosen"]["hit@3"] == win["test_hit@3"]
    assert 0 < m["popularity"]["hit@3"] <= m["popularity"]["hit@5"] <= 1


def test_the_choice_is_made_on_a_split_other_than_the_reported_one(demo, settings):
    h, products, accounts = demo
    a = b.choose_blend(h, products, accounts, seed=3, test_seed=4, settings=settings)
    c = b.choose_blend(h, products, accounts, seed=3, test_seed=9, settings=settings)
    # disjoint halves of the accounts holding two products of ours or more
    sel, test = set(a.selection_accounts), set(a.test_accounts)
    assert sel and test and not sel & test
    ours = np.isin(h.product_ids, products.loc[products["provider"] == "ours", "product_id"])
    n_ours = np.asarray(h.matrix[:, ours].sum(axis=1)).ravel()
    assert sel | test == set(h.account_ids[n_ours >= 2])
    assert a.selection == {"seed": 3, "accounts": len(sel)}
    assert a.test == {"seed": 4, "accounts": len(test)}
    # the test split's draw changes the reported figures, never the choice or what it saw
    sel_cols = [col for col in a.table.columns if col.startswith("selection_")]
    test_cols = [col for col in a.table.columns if col.startswith("test_")]
    pd.testing.assert_frame_equal(a.table[["blend", *sel_cols, "eligible", "chosen"]],
                                  c.table[["blend", *sel_cols, "eligible", "chosen"]])
    assert a.name == c.name
    assert not np.allclose(a.table[test_cols], c.table[test_cols])
    # the figure reported is not the one the choice was made on
    assert not np.allclose(a.table["selection_hit@3"], a.table["test_hit@3"])


def test_a_winner_needs_a_clear_margin_over_popularity(wide, settings):
    h, products, accounts = wide
    loose = b.choose_blend(h, products, accounts, seed=0, settings=settings, margin=0.0)
    strict = b.choose_blend(h, products, accounts, seed=0, settings=settings, margin=50.0)
    t = loose.table.set_index("blend")
    assert t.loc[loose.name, "selection_hit@3"] == t["selection_hit@3"].max()
    assert strict.name == "popularity"  # nothing beats popularity by fifty standard errors
    assert strict.table.loc[strict.table["eligible"], "blend"].tolist() == ["popularity"]


def test_popularity_is_always_a_candidate(demo, settings):
    h, products, accounts = demo
    only = [b.HAND_TUNED_BLEND]
    choice = b.choose_blend(h, products, accounts, seed=1, settings=settings, candidates=only)
    assert choice.table["blend"].tolist() == ["popularity", "hand_tuned"]
    with pytest.raises(ValueError, match="unique"):
        b.choose_blend(h, products, accounts, candidates=[b.EVIDENCE_BLEND,
                                                           b.DEFAULT_BLEND.renamed("evidence")])


# -- a hand-built case: co-holding is the only signal --------------------------------------

_PAIRS = (("C1", "C2", "communication"), ("I1", "I2", "information"),
          ("S1", "S2", "service_support"))
_PRODUCTS = pd.DataFrame(
    [(p, p, p, fam, "ours", p.lower(), None, 100.0) for *ps, fam in _PAIRS for p in ps],
    columns=["product_id", "name", "name_en", "family", "provider", "function", "industries",
             "list_price"])


def _pairs_portfolio(n: int = 600):
    """Every account holds exactly one pair (the two products of one family), the pairs
    equally common, one segment: which product is missing is told by the one held only."""
    pids = sorted(_PRODUCTS["product_id"])
    col = {p: j for j, p in enumerate(pids)}
    pair = np.arange(n) % len(_PAIRS)
    rows = np.repeat(np.arange(n), 2)
    cols = np.array([[col[_PAIRS[k][0]], col[_PAIRS[k][1]]] for k in pair]).ravel()
    ids = [f"A{i:04d}" for i in range(n)]
    h = b.Holdings.from_codes(rows, cols, np.full(len(rows), 100.0), account_ids=ids,
                              product_ids=pids)
    accounts = pd.DataFrame({"account_id": ids, "industry": "manufacturing",
                             "size_class": "medium"})
    return h, accounts


def test_evidence_alone_wins_where_co_holding_is_the_only_signal(settings):
    h, accounts = _pairs_portfolio()
    choice = b.choose_blend(h, _PRODUCTS, accounts, seed=0, settings=settings)
    assert choice.name == "evidence"
    t = choice.table.set_index("blend")
    for split in ("selection", "test"):
        assert t.loc["evidence", f"{split}_hit@3"] == 1.0
        assert t.loc["popularity", f"{split}_hit@3"] < 0.8
        # the loyalty multiplier pushes the other families' products past the missing one
        assert t.loc["hand_tuned", f"{split}_hit@3"] < 0.8
    assert t.loc["evidence", "selection_z"] > 2
    # and the chosen blend drives the suggestions: a lone product's partner comes first
    one = b.Holdings.from_codes(h.matrix.tocoo().row[::2], h.matrix.tocoo().col[::2],
                                np.full(h.n_accounts, 100.0), account_ids=h.account_ids,
                                product_ids=h.product_ids)
    g = b.build_graph(h, _PRODUCTS, accounts=accounts)
    r = b.recommend(one, g, _PRODUCTS, accounts, k=3, settings=settings, blend=choice.blend)
    first = r[r["rank"] == 1].set_index("account_id")
    partner = {a: q for a, q, *_ in _PAIRS} | {q: a for a, q, *_ in _PAIRS}
    held = {a: one.held(a)[0] for a in first.index}
    assert (first["product_id"].astype(str) == first.index.map(lambda a: partner[held[a]])).all()
    assert (first["because_product"].astype(str) == first.index.map(held.get)).all()
    assert r.attrs["blend"] == choice.blend.as_dict()


# -- the blend in use: storage, evaluation, explanations -----------------------------------

def test_blend_round_trips_through_settings_and_recommend_uses_it(demo, settings):
    h, products, accounts = demo
    chosen = b.Blend("mine", co_holding=0.5, popularity=0.5, size=1.0)
    assert b.Blend.from_dict(chosen.as_dict()) == chosen
    stored = Settings(models=settings.models, tiers=settings.tiers,
                      values={**settings.values, **chosen.settings_values()})
    assert b.Blend.from_settings(stored) == chosen
    assert b.Blend.from_settings(settings) == b.DEFAULT_BLEND
    g = b.build_graph(h, products, accounts=accounts)
    r = b.recommend(h, g, products, accounts, k=3, settings=stored)
    assert r.attrs["blend"]["name"] == "mine"
    direct = b.recommend(h, g, products, accounts, k=3, settings=settings, blend=chosen)
    pd.testing.assert_frame_equal(r, direct)
    other = b.recommend(h, g, products, accounts, k=3, settings=settings)
    assert not r["product_id"].astype(str).equals(other["product_id"].astype(str))
    assert b.Blend.from_params(b.BundlingParams()) == b.DEFAULT_BLEND
    # as the [bundling] table of a settings file (the blend_* fields of BundlingParams)
    toml = "\n[bundling]\n" + "".join(
        f"{key.removeprefix('bundling.')} = {value!r}\n".replace("'", '"')
        for key, value in chosen.settings_values().items())
    parsed = parse_settings(settings.source + toml)
    assert b.Blend.from_settings(parsed) == chosen
    assert b.Blend.from_params(b.BundlingParams.from_settings(parsed)) == chosen
    with pytest.raises(ValueError):
        b.Blend("bad", popularity=-1.0)
    with pytest.raises(ValueError):
        b.Blend("none", evidence=0.0)


def test_evaluate_reports_the_blend_next_to_the_baselines(demo, settings):
    h, products, accounts = demo
    res = b.evaluate_recommender(h, products, accounts, seed=0, settings=settings,
                                 blend=b.SEGMENT_POPULARITY_BLEND)
    m = res["methods"]
    assert set(m) == {"graph", "graph_evidence", "popularity", "segment_popularity",
                      "hand_tuned"}
    assert res["blend"]["name"] == "segment_popularity"
    assert m["graph"] == m["segment_popularity"]
    assert m["graph"]["hit@3"] > m["popularity"]["hit@3"]
    default = b.evaluate_recommender(h, products, accounts, seed=0, settings=settings)
    assert default["blend"] == b.DEFAULT_BLEND.as_dict()
    assert default["methods"]["popularity"] == m["popularity"]  # the same hidden products


def test_new_family_no_longer_dominates_the_first_suggestions(wide, settings):
    h, products, accounts = wide
    g = b.build_graph(h, products, accounts=accounts)
    share = {}
    for blend in (b.HAND_TUNED_BLEND, b.DEFAULT_BLEND):
        r = b.recommend(h, g, products, accounts, k=3, settings=settings, blend=blend)
        share[blend.name] = float((r.loc[r["rank"] == 1, "reason_code"] == "new_family").mean())
    assert share["hand_tuned"] > 0.5 > 0.3 > share["default"]


def test_a_blend_without_co_holding_names_no_because_product(demo, settings):
    h, products, accounts = demo
    g = b.build_graph(h, products, accounts=accounts)
    pop = b.recommend(h, g, products, accounts, k=3, settings=settings,
                      blend=b.POPULARITY_BLEND)
    ev = b.recommend(h, g, products, accounts, k=3, settings=settings, blend=b.EVIDENCE_BLEND)
    assert pop["because_product"].isna().all() and pop["because_lift"].isna().all()
    assert ev["because_product"].notna().any()
    for r in (pop, ev):
        assert r.groupby("account_id")["score"].apply(lambda s: s.is_monotonic_decreasing).all()
        assert r["evidence"].between(0, 1).all()
