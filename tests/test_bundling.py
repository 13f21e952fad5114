"""Bundling graph, bundle metrics, switching cost, cross-sell and what-if, checked by hand."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from valuation import bundling as b
from valuation import demo, features
from valuation.analysis import analyse
from valuation.config import load_settings
from valuation.store import Store

AS_OF = date(2026, 6, 30)

# A hand-built catalogue: six products of ours in four families, two of a competitor.
PRODUCTS = pd.DataFrame(
    [
        ("P-VOICE", "固定电话", "Fixed voice", "communication", "ours", "voice", None, 100.0),
        ("P-CUG", "集团V网", "Closed user group", "communication", "ours", "cug", None, 50.0),
        ("P-MAIL", "企业邮箱", "E-mail", "information", "ours", "email", None, 80.0),
        ("P-EGOV", "电子政务", "E-government", "industry", "ours", "egov", "government", 900.0),
        ("P-SCHOOL", "家校互动", "School-home", "industry", "ours", "school_home", "education",
         200.0),
        ("P-VIP", "VIP专席", "Dedicated agent", "service_support", "ours", "vip", None, 0.0),
        ("C1-VOICE", "电信固话", "Telecom voice", "communication", "C1", "voice", None, 90.0),
        ("C1-MAIL", "电信邮箱", "Telecom e-mail", "information", "C1", "email", None, 70.0),
    ],
    columns=["product_id", "name", "name_en", "family", "provider", "function", "industries",
             "list_price"],
)

# Five accounts. Counts: VOICE 4, CUG 2, MAIL 2, EGOV 2, SCHOOL 1, VIP 1, C1-VOICE 1,
# C1-MAIL 2; every account holds something, so N = 5.
HELD = {
    "A1": ["P-VOICE", "P-CUG", "P-MAIL", "P-EGOV", "P-VIP"],
    "A2": ["P-VOICE", "P-CUG", "P-EGOV"],
    "A3": ["P-VOICE", "P-MAIL"],
    "A4": ["P-VOICE", "P-SCHOOL", "C1-MAIL"],
    "A5": ["C1-VOICE", "C1-MAIL"],
}
ACCOUNTS = pd.DataFrame({
    "account_id": ["A1", "A2", "A3", "A4", "A5"],
    "industry": ["government", "government", "education", "education", "manufacturing"],
    "size_class": ["large", "medium", "small", "small", "small"],
})
CONTRACTS = pd.DataFrame({
    "contract_id": ["K1", "K2", "K3"],
    "account_id": ["A1", "A2", "A2"],
    "contract_type": ["comprehensive_bundle", "handset_lease", "service"],
    "start_date": pd.to_datetime(["2025-01-01", "2025-06-01", "2023-01-01"]),
    "end_date": pd.to_datetime(["2027-12-31", "2026-12-31", "2025-12-31"]),  # K3 has ended
    "value": [100000.0, 5000.0, 3000.0],
})


def _holdings_table() -> pd.DataFrame:
    rows = [(a, p) for a, ps in HELD.items() for p in ps]
    h = pd.DataFrame(rows, columns=["account_id", "product_id"])
    price = PRODUCTS.set_index("product_id")["list_price"]
    h["provider"] = h["product_id"].map(PRODUCTS.set_index("product_id")["provider"])
    h["quantity"] = 1
    h["monthly_revenue"] = h["product_id"].map(price)
    h["start_date"] = pd.Timestamp("2024-01-01")
    h["end_date"] = pd.NaT
    # a product given up before as_of, and one not started yet: neither is live
    extra = pd.DataFrame([
        ("A3", "P-VIP", "ours", 1, 10.0, pd.Timestamp("2023-01-01"), pd.Timestamp("2025-01-01")),
        ("A5", "P-MAIL", "ours", 1, 10.0, pd.Timestamp("2026-09-01"), pd.NaT),
    ], columns=h.columns)
    return pd.concat([h, extra], ignore_index=True)


@pytest.fixture(scope="module")
def toy():
    h = b.holdings_from_frame(_holdings_table(), PRODUCTS, as_of=AS_OF)
    g = b.build_graph(h, PRODUCTS, accounts=ACCOUNTS, min_support=0.0, min_count=1)
    return h, g


def _edge(g, a, c):
    return g.edges[a, c, "co_holding"]


# -- holdings ------------------------------------------------------------------------------

def test_holdings_are_live_cells(toy):
    h, _ = toy
    assert list(h.account_ids) == ["A1", "A2", "A3", "A4", "A5"]
    assert list(h.product_ids) == sorted(PRODUCTS["product_id"])
    assert h.matrix.nnz == sum(len(v) for v in HELD.values())  # ended / future rows dropped
    for a, ps in HELD.items():
        assert sorted(h.held(a)) == sorted(ps)
    assert set(np.unique(h.matrix.data)) == {1.0}


def test_duplicate_rows_add_spend_not_holdings():
    t = _holdings_table()
    dup = t.iloc[[0]].assign(start_date=pd.Timestamp("2025-01-01"), monthly_revenue=5.0)
    h = b.holdings_from_frame(pd.concat([t, dup]), PRODUCTS, as_of=AS_OF)
    i, j = 0, list(h.product_ids).index("P-VOICE")
    assert h.matrix[i, j] == 1.0
    assert h.spend[i, j] == pytest.approx(105.0)


def test_load_holdings_matches_the_frame(tmp_path):
    from conftest import toy_frames

    with Store(tmp_path / "t.duckdb") as s:
        s.replace_facts(toy_frames(), source="toy")
        h = b.load_holdings(s, as_of=date(2026, 6, 30))
        frame = features.account_frame(s, as_of=date(2026, 6, 30))
        products = s.read_table("products")
    assert list(h.account_ids) == frame["account_id"].astype(str).tolist()
    m = b.bundle_metrics(h, b.build_graph(h, products), products)
    assert m["families_covered"].tolist() == frame["our_families"].tolist()
    assert m["products_held"].tolist() == frame["our_products"].tolist()
    assert np.allclose(m["our_spend"], frame["our_spend"])
    assert np.allclose(m["competitor_spend"], frame["competitor_spend"])


# -- the graph: support, confidence, lift by hand ------------------------------------------

def test_graph_nodes_penetration(toy):
    _, g = toy
    assert g.graph["accounts"] == 5
    assert g.nodes["P-VOICE"]["penetration"] == pytest.approx(4 / 5)
    assert g.nodes["P-VOICE"]["holders"] == 4
    assert g.nodes["C1-MAIL"]["provider"] == "C1"
    assert g.nodes["P-EGOV"]["family"] == "industry"


def test_support_confidence_lift_by_hand(toy):
    _, g = toy
    e = _edge(g, "P-VOICE", "P-CUG")  # held together by A1, A2
    assert e["count"] == 2
    assert e["support"] == pytest.approx(2 / 5)
    assert e["confidence"] == pytest.approx(2 / 4)  # P(CUG | VOICE)
    assert _edge(g, "P-CUG", "P-VOICE")["confidence"] == pytest.approx(1.0)  # P(VOICE | CUG)
    assert e["lift"] == pytest.approx((2 / 5) / ((4 / 5) * (2 / 5)))  # 1.25
    assert _edge(g, "P-CUG", "P-EGOV")["lift"] == pytest.approx(2.5)
    assert _edge(g, "P-VOICE", "C1-MAIL")["lift"] == pytest.approx(0.625)  # A4 only: below 1
    assert not g.has_edge("P-EGOV", "P-SCHOOL")  # never held together


def test_segment_lift_by_hand(toy):
    _, g = toy
    # VOICE and CUG: every government account holds both, no education account holds CUG:
    # expected = 1 x 1 x 1 (gov large) + 1 x 1 x 1 (gov medium) + 2 x 1 x 0 + 1 x 0 x 0 = 2
    e = _edge(g, "P-VOICE", "P-CUG")
    assert e["expected"] == pytest.approx(2.0)
    assert e["lift_segment"] == pytest.approx(1.0)


def test_min_support_prunes_edges():
    h = b.holdings_from_frame(_holdings_table(), PRODUCTS, as_of=AS_OF)
    g = b.build_graph(h, PRODUCTS, min_support=0.4, min_count=1)  # at least 2 of 5 accounts
    co = {(a, c) for a, c, k in g.edges(keys=True) if k == "co_holding"}
    pairs = {frozenset(p) for p in co}
    assert pairs == {frozenset(p) for p in [("P-VOICE", "P-CUG"), ("P-VOICE", "P-MAIL"),
                                            ("P-VOICE", "P-EGOV"), ("P-CUG", "P-EGOV")]}


def test_substitution_edges_point_from_competitor_to_ours(toy):
    _, g = toy
    subs = sorted((a, c) for a, c, k in g.edges(keys=True) if k == "substitute")
    assert subs == [("C1-MAIL", "P-MAIL"), ("C1-VOICE", "P-VOICE")]


# -- bundle metrics and switching cost by hand ---------------------------------------------

def test_bundle_metrics_by_hand(toy):
    h, g = toy
    m = b.bundle_metrics(h, g, PRODUCTS, contracts=CONTRACTS, as_of=AS_OF).set_index(
        "account_id")
    assert m["families_covered"].to_dict() == {"A1": 4, "A2": 2, "A3": 2, "A4": 2, "A5": 0}
    assert m["products_held"].to_dict() == {"A1": 5, "A2": 3, "A3": 2, "A4": 2, "A5": 0}
    assert m.loc["A1", "depth_communication"] == 2
    assert m.loc["A1", "depth"] == pytest.approx((2 + 1 + 1 + 1) / 12)
    # cohesion: lift summed over the pairs of ours held / pairs held
    # A2: VOICE-CUG 1.25, VOICE-EGOV 1.25, CUG-EGOV 2.5 -> 5 / 3
    assert m.loc["A2", "cohesion"] == pytest.approx(5 / 3)
    # A1: ten pairs; the six with VOICE, or MAIL with CUG / EGOV at 1.25, four at 2.5
    assert m.loc["A1", "cohesion"] == pytest.approx((6 * 1.25 + 4 * 2.5) / 10)
    assert m.loc["A3", "cohesion"] == pytest.approx(1.25)
    assert m.loc["A5", "cohesion"] == 0.0
    # switching cost A1: services 5; lock-in: bundle 2 + 0.5 x 5; integration
    # 0.5 + 0.5 + 1 + 2 + 2; closed user group 2
    assert m.loc["A1", "services"] == 5
    assert m.loc["A1", "lock_in"] == pytest.approx(4.5)
    assert m.loc["A1", "integration"] == pytest.approx(6.0)
    assert m.loc["A1", "cug"] == 2.0
    assert m.loc["A1", "switching_cost"] == pytest.approx(17.5)
    # A2: the handset lease is live, the service contract ended -> lock-in 1
    assert m.loc["A2", "live_contracts"] == 1
    assert m.loc["A2", "switching_cost"] == pytest.approx(3 + 1 + 3 + 2)
    assert m.loc["A5", "switching_cost"] == 0.0
    # competitor entanglement: A5 holds C1 voice and e-mail
    assert m.loc["A5", "competitor_families"] == 2
    assert m.loc["A5", "competitor_products"] == 2
    assert m.loc["A5", "competitor_spend"] == pytest.approx(160.0)
    assert m.loc["A5", "competitor_lock_in"] == pytest.approx((1 + 0.5) + (1 + 1))


def test_cohesion_only_counts_edges_in_the_graph():
    h = b.holdings_from_frame(_holdings_table(), PRODUCTS, as_of=AS_OF)
    g = b.build_graph(h, PRODUCTS, min_support=0.0, min_count=2)
    m = b.bundle_metrics(h, g, PRODUCTS).set_index("account_id")
    # A1: only VOICE-CUG, VOICE-MAIL, VOICE-EGOV (1.25) and CUG-EGOV (2.5) are edges
    assert m.loc["A1", "cohesion"] == pytest.approx((3 * 1.25 + 2.5) / 10)
    assert m.loc["A1", "cohesion_edges"] == 4


def test_explain_bundle_lists_every_part(toy):
    h, g = toy
    m = b.bundle_metrics(h, g, PRODUCTS, contracts=CONTRACTS, as_of=AS_OF)
    e = b.explain_bundle(m, "A1", lang="zh").set_index("part")
    assert {"services", "lock_in", "integration", "cug", "switching_cost"} <= set(e.index)
    assert e.loc["switching_cost", "value"] == pytest.approx(
        e.loc[["services", "lock_in", "integration", "cug"], "value"].sum())
    assert e.loc["cug", "label"] == "集团V网"
    assert e.loc["integration", "computed"] == "0.5 x 2 + 1 x 1 + 2 x 1 + 2 x 1"


def test_metrics_do_not_mutate_inputs(toy):
    h, g = toy
    before = (h.matrix.copy(), PRODUCTS.copy(), CONTRACTS.copy(), g.number_of_edges())
    b.bundle_metrics(h, g, PRODUCTS, contracts=CONTRACTS)
    b.recommend(h, g, PRODUCTS, ACCOUNTS, k=3)
    assert (h.matrix != before[0]).nnz == 0
    pd.testing.assert_frame_equal(PRODUCTS, before[1])
    pd.testing.assert_frame_equal(CONTRACTS, before[2])
    assert g.number_of_edges() == before[3]


# -- cross-sell, displacement, whitespace --------------------------------------------------

def test_recommendations_respect_guardrails(toy):
    h, g = toy
    r = b.recommend(h, g, PRODUCTS, ACCOUNTS, k=5)
    held = {(a, p) for a, ps in HELD.items() for p in ps}
    assert not any((a, p) in held for a, p in zip(r["account_id"], r["product_id"].astype(str),
                                                     strict=True))
    assert set(r["product_id"].astype(str)) <= set(PRODUCTS.loc[PRODUCTS["provider"] == "ours",
                                                               "product_id"])
    egov = set(r.loc[r["product_id"] == "P-EGOV", "account_id"])
    school = set(r.loc[r["product_id"] == "P-SCHOOL", "account_id"])
    assert egov <= {"A1", "A2"} and school <= {"A3", "A4"}  # industry applications fit
    for _, grp in r.groupby("account_id"):
        assert grp["rank"].tolist() == list(range(1, len(grp) + 1))
        assert grp["score"].is_monotonic_decreasing
    # A5 holds the competitor's voice: our voice replaces it
    a5 = r.loc[(r["account_id"] == "A5") & (r["product_id"] == "P-VOICE")].iloc[0]
    assert a5["displaces"] == "C1-VOICE"
    assert a5["reason_code"] == "displace_competitor"
    assert r.loc[r["product_id"] == "P-SCHOOL", "reason_code"].eq("industry_solution").all()


def test_recommendations_adapt_to_size(toy):
    h, g = toy
    r = b.recommend(h, g, PRODUCTS, ACCOUNTS, k=5)
    approach = r.groupby("account_id")["approach"].first().astype(str).to_dict()
    # A1 holds every product of ours it may get (P-SCHOOL is for education): nothing to offer
    assert approach == {"A2": "function_service", "A3": "price_led", "A4": "price_led",
                        "A5": "price_led"}


def test_displacement_chance_falls_with_entanglement(toy):
    h, g = toy
    d = b.displacement(h, g, PRODUCTS)
    a5 = d.loc[d["account_id"] == "A5"].set_index("competitor_product")
    # A5: competitor families 2 of 3 -> e = 2/3; voice 0.5 x 1/3 x 1.0, e-mail x 0.8
    assert a5.loc["C1-VOICE", "our_product"] == "P-VOICE"
    assert a5.loc["C1-VOICE", "win_chance"] == pytest.approx(0.5 / 3)
    assert a5.loc["C1-MAIL", "win_chance"] == pytest.approx(0.5 / 3 * 0.8)
    a4 = d.loc[d["account_id"] == "A4"].iloc[0]
    assert a4["win_chance"] == pytest.approx(0.5 * (2 / 3) * 0.8)
    score = pd.Series({"A4": 10.0, "A5": 80.0})
    d2 = b.displacement(h, g, PRODUCTS, score).set_index(["account_id", "competitor_product"])
    assert d2.loc[("A4", "C1-MAIL"), "win_chance"] > d2.loc[("A5", "C1-MAIL"), "win_chance"]


def test_whitespace_cells(toy):
    h, g = toy
    w = b.whitespace(h, PRODUCTS, ACCOUNTS, graph=g).set_index(["account_id", "product_id"])
    assert w.loc[("A1", "P-EGOV"), "status"] == "ours"
    assert w.loc[("A4", "P-EGOV"), "status"] == "not_offered"
    assert w.loc[("A3", "P-CUG"), "status"] == "open"
    assert w.loc[("A3", "P-CUG"), "opportunity"] > 0
    cell = w.loc[("A5", "P-VOICE")]
    assert cell["status"] == "competitor" and cell["competitor"] == "C1"
    assert cell["competitor_spend"] == pytest.approx(90.0)
    assert cell["opportunity"] == pytest.approx(90.0)
    assert w.loc[("A1", "P-VOICE"), "opportunity"] == 0.0
    seg = b.whitespace(h, PRODUCTS, ACCOUNTS, by="industry", graph=g).set_index(
        ["industry", "product_id"])
    edu_mail = seg.loc[("education", "P-MAIL")]
    assert (edu_mail["accounts"], edu_mail["ours"], edu_mail["competitor"]) == (2, 1, 1)
    assert edu_mail["competitor_C1"] == 1 and edu_mail["ours_share"] == pytest.approx(0.5)
    fam = b.whitespace(h, PRODUCTS, ACCOUNTS, level="family").set_index(
        ["account_id", "family"])
    assert fam.loc[("A5", "information"), "status"] == "competitor"
    assert fam.loc[("A5", "service_support"), "status"] == "open"


def test_graph_frames_and_ego_graph(toy):
    h, g = toy
    nodes, edges = b.graph_frames(g)
    assert len(nodes) == len(PRODUCTS)
    assert {"x", "y", "family", "provider", "penetration"} <= set(nodes.columns)
    co = edges[edges["kind"] == "co_holding"]
    assert len(co) == sum(1 for *_, k in g.edges(keys=True) if k == "co_holding") // 2
    assert {"x", "y", "x2", "y2", "lift", "kind"} <= set(edges.columns)
    assert b.layout(g) == b.layout(g)  # deterministic
    n2, e2 = b.ego_graph(g, h.held("A5"), recommended=["P-VOICE"])
    assert set(n2.loc[n2["held"], "product_id"]) == {"C1-VOICE", "C1-MAIL"}
    assert {"P-VOICE", "P-MAIL"} <= set(n2["product_id"])  # our substitutes
    assert (e2["source"].isin(h.held("A5")) | e2["target"].isin(h.held("A5"))).all()


# -- properties ----------------------------------------------------------------------------

_OURS = [j for j, p in enumerate(sorted(PRODUCTS["product_id"])) if not p.startswith("C1")]
_PIDS = sorted(PRODUCTS["product_id"])
_INDUSTRIES = ["government", "education", "manufacturing"]


@st.composite
def portfolios(draw):
    n = draw(st.integers(min_value=2, max_value=12))
    cells = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, len(_PIDS) - 1)),
                          min_size=1, max_size=40))
    rows = np.array([c[0] for c in cells])
    cols = np.array([c[1] for c in cells])
    spend = np.array(draw(st.lists(st.floats(0, 1000), min_size=len(cells),
                                   max_size=len(cells))))
    ids = [f"A{i:02d}" for i in range(n)]
    h = b.Holdings.from_codes(rows, cols, spend, account_ids=ids, product_ids=_PIDS)
    accounts = pd.DataFrame({
        "account_id": ids,
        "industry": draw(st.lists(st.sampled_from(_INDUSTRIES), min_size=n, max_size=n)),
        "size_class": draw(st.lists(st.sampled_from(["large", "medium", "small"]), min_size=n,
                                    max_size=n)),
    })
    return h, accounts


@hsettings(max_examples=40, deadline=None)
@given(portfolios(), st.data())
def test_adding_one_of_our_products_never_lowers_bundle(pf, data):
    h, accounts = pf
    i = data.draw(st.integers(0, h.n_accounts - 1))
    j = data.draw(st.sampled_from(_OURS))
    g = b.build_graph(h, PRODUCTS, accounts=accounts, min_support=0.0, min_count=1)
    x = h.matrix.tocoo()
    h2 = b.Holdings.from_codes(np.r_[x.row, i], np.r_[x.col, j], np.r_[h.spend.tocoo().data, 1.0],
                               account_ids=h.account_ids, product_ids=h.product_ids)
    m1 = b.bundle_metrics(h, g, PRODUCTS, contracts=CONTRACTS.assign(account_id="A00"),
                          as_of=AS_OF)
    m2 = b.bundle_metrics(h2, g, PRODUCTS, contracts=CONTRACTS.assign(account_id="A00"),
                          as_of=AS_OF)
    for col in ("families_covered", "switching_cost", "products_held", "services",
                "integration", "lock_in", "cug", "depth"):
        assert m2.at[i, col] >= m1.at[i, col] - 1e-12, col
    others = np.arange(h.n_accounts) != i
    assert (m2.loc[others, "switching_cost"].to_numpy()
            == m1.loc[others, "switching_cost"].to_numpy()).all()


@hsettings(max_examples=40, deadline=None)
@given(portfolios(), st.integers(1, 8))
def test_recommendations_never_held_never_another_industry(pf, k):
    h, accounts = pf
    g = b.build_graph(h, PRODUCTS, accounts=accounts, min_support=0.0, min_count=1)
    r = b.recommend(h, g, PRODUCTS, accounts, k=k)
    fit = PRODUCTS.set_index("product_id")["industries"]
    ind = accounts.set_index("account_id")["industry"]
    func = PRODUCTS.set_index("product_id")["function"]
    for a, p in zip(r["account_id"], r["product_id"].astype(str), strict=True):
        held = h.held(a)
        assert p not in held
        assert func[p] not in {func[q] for q in held if not q.startswith("C1")}
        assert pd.isna(fit[p]) or ind[a] in fit[p].split(";")
    assert (r.groupby("account_id").size() <= k).all()


# -- the demo portfolio: what-if and evidence ----------------------------------------------

@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("bundling") / "demo.duckdb"
    with Store(path) as s:
        frames = demo.generate(accounts=600, seed=3, as_of=date(2026, 10, 31), line_accounts=50)
        s.replace_facts(frames, source="test")
        frame = features.account_frame(s)
        h = b.load_holdings(s)
        products = s.read_table("products")
        contracts = s.read_table("contracts")
    an = analyse(frame, load_settings())
    g = b.build_graph(h, products, accounts=frame)
    return an, h, g, products, contracts


def test_metrics_agree_with_the_account_frame(small_demo):
    an, h, g, products, contracts = small_demo
    m = b.bundle_metrics(h, g, products, contracts=contracts)
    f = an.frame
    assert (m["account_id"].to_numpy() == f["account_id"].astype(str).to_numpy()).all()
    for ours, theirs in (("families_covered", "our_families"), ("products_held", "our_products"),
                         ("competitor_families", "competitor_families"), ("has_cug", "has_cug"),
                         ("has_bundle_agreement", "has_bundle_agreement")):
        assert (m[ours].to_numpy() == f[theirs].to_numpy()).all(), ours
    assert np.allclose(m["our_spend"], f["our_spend"])


def test_what_if_new_family_raises_loyalty(small_demo):
    an, h, g, products, contracts = small_demo
    f = an.frame
    live = f.loc[~f["churned"] & f["our_families"].between(1, 3)]
    ours = products.loc[(products["provider"] == "ours") & products["industries"].isna()]
    fam = ours.set_index("product_id")["family"]
    checked = 0
    for aid in live["account_id"].astype(str).head(8):
        held_fams = set(products.set_index("product_id").loc[h.held(aid), "family"])
        new = [p for p in fam.index if fam[p] not in held_fams][0]
        w = b.what_if(an, h, products, aid, add=[new], graph=g, contracts=contracts)
        assert w.after["families_covered"] == w.before["families_covered"] + 1
        assert w.after["loyalty_score"] > w.before["loyalty_score"]
        assert w.after["switching_cost"] > w.before["switching_cost"]
        checked += 1
    assert checked == 8


def test_what_if_adding_any_product_of_ours_never_lowers_loyalty(small_demo):
    an, h, g, products, contracts = small_demo
    aid = str(an.frame.loc[~an.frame["churned"], "account_id"].iloc[3])
    for p in products.loc[products["provider"] == "ours", "product_id"]:
        if p in h.held(aid):
            continue
        w = b.what_if(an, h, products, aid, add=[p], graph=g)
        assert w.after["loyalty_score"] >= w.before["loyalty_score"] - 1e-9, p


def test_what_if_no_change_reproduces_today_and_mutates_nothing(small_demo):
    an, h, g, products, contracts = small_demo
    frame_before = an.frame.copy()
    aid = str(an.frame["account_id"].iloc[10])
    w = b.what_if(an, h, products, aid, graph=g, contracts=contracts)
    for k in ("value_score", "loyalty_score", "competitor_score", "tier", "switching_cost"):
        assert w.after[k] == pytest.approx(w.before[k]) if k != "tier" else (
            w.after[k] == w.before[k])
    pd.testing.assert_frame_equal(an.frame, frame_before)
    held = h.held(aid)
    w2 = b.what_if(an, h, products, aid, remove=held[:1], add=held[:1], graph=g)
    assert w2.removed == tuple(held[:1]) and w2.notes  # adding a held product is ignored
    tbl = w.table.set_index("metric")
    assert {"before", "after", "change"} <= set(tbl.columns)
    with pytest.raises(ValueError):
        b.what_if(an, h, products, aid, add=["NO-SUCH"], graph=g)


def test_loyalty_gain_estimate_matches_what_if(small_demo):
    an, h, g, products, contracts = small_demo
    r = b.recommend(h, g, products, an.frame, k=3, settings=an.settings)
    for _, row in r.head(6).iterrows():
        w = b.what_if(an, h, products, row["account_id"], add=[row["product_id"]], graph=g)
        real = w.after["loyalty_score"] - w.before["loyalty_score"]
        assert row["loyalty_gain"] == pytest.approx(real, abs=1.0)


def test_graph_recommender_beats_popularity_on_the_demo(tmp_path):
    frames = demo.generate(accounts=3000, seed=5, as_of=date(2026, 6, 30), line_accounts=0)
    h = b.holdings_from_frame(frames["holdings"], frames["products"], as_of=date(2026, 6, 30),
                              account_ids=np.sort(frames["accounts"]["account_id"].astype(str)))
    res = b.evaluate_recommender(h, frames["products"], frames["accounts"], seed=0)
    m = res["methods"]
    assert res["accounts"] > 1500
    assert m["graph"]["hit@5"] > m["popularity"]["hit@5"]
    assert m["graph"]["hit@3"] > m["popularity"]["hit@3"]
    assert m["graph_evidence"]["hit@5"] > m["popularity"]["hit@5"]
    assert 0 < m["popularity"]["hit@3"] <= m["popularity"]["hit@5"] <= 1


def test_churned_accounts_get_no_suggestions(toy):
    h, g = toy
    r = b.recommend(h, g, PRODUCTS, ACCOUNTS.assign(churned=[False, False, False, False, True]))
    assert "A5" not in set(r["account_id"]) and {"A3", "A4"} <= set(r["account_id"])


def test_params_from_settings_override_defaults():
    s = load_settings()
    assert b.BundlingParams.from_settings(s) == b.BundlingParams()
    s2 = type(s)(models=s.models, tiers=s.tiers, values={**s.values, "bundling.cug_points": 5.0})
    assert b.BundlingParams.from_settings(s2).cug_points == 5.0
