"""Scorecards, normalisations, model scopes, positioning and tiers, checked by hand."""

import numpy as np
import pandas as pd
import pytest
from conftest import toy_frames
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from valuation import features
from valuation.analysis import analyse
from valuation.config import SettingsError, load_settings, parse_settings
from valuation.pyramid import TierCutter, lorenz, migration, path_to_next_tier
from valuation.scoring import assign_models, grade, normalise, score
from valuation.store import Store

TIERS = """
[tiers]
method = "{method}"
basis = "value"
[[tiers.tier]]
code = "A"
share = 0.25
threshold = 60.0
[[tiers.tier]]
code = "B"
share = 0.75
threshold = 0.0
"""

SIMPLE = """
[positioning]
value_high = 50.0
loyalty_high = 50.0
competitor_high = 30.0

[[models]]
name = "simple"
scope = {}
value_weights = { influence = 0.5, payment = 0.5 }
measures = [
  { name = "footprint", weight = 1.0, norm = "fixed" },
  { name = "credit_rating", weight = 1.0, norm = "fixed" },
  { name = "our_families", weight = 1.0, norm = "fixed" },
  { name = "competitor_families", weight = 1.0, norm = "fixed" },
]
""" + TIERS.format(method="threshold")


# -- normalisations ------------------------------------------------------------------------

def test_percentile_averages_ties():
    x = pd.Series([10.0, 20.0, 20.0, 40.0, np.nan])
    assert normalise(x, "percentile").tolist()[:4] == [0.0, 0.5, 0.5, 1.0]
    assert np.isnan(normalise(x, "percentile").iloc[4])


def test_fixed_clips_to_range():
    assert normalise(pd.Series([1.0, 2.5, 4.0, 5.0, 0.0]), "fixed", lo=1, hi=4).tolist() == [
        0.0, 0.5, 1.0, 1.0, 0.0]


def test_minmax_is_winsorised_at_1_and_99_percent():
    x = pd.Series(np.arange(101, dtype=float))  # q01 = 1, q99 = 99
    n = normalise(x, "minmax")
    assert n.iloc[0] == 0.0 and n.iloc[100] == 1.0
    assert n.iloc[50] == pytest.approx(49 / 98)


def test_log_and_constant_scope():
    x = pd.Series([0.0, np.e - 1, np.e**2 - 1] * 40)  # log1p -> 0, 1, 2
    n = normalise(x, "log")
    assert n.iloc[1] == pytest.approx(0.5)
    assert normalise(pd.Series([7.0, 7.0]), "minmax").tolist() == [0.5, 0.5]


def test_grades():
    g = grade(pd.Series([100, 80, 79.99, 45, 20, 0]), [80, 60, 40, 20])
    assert g.tolist() == ["high", "high", "fairly_high", "medium", "fairly_low", "low"]


# -- a hand-computed scorecard ---------------------------------------------------------------

def test_hand_computed_scores(toy_store):
    f = features.account_frame(toy_store, as_of=pd.Timestamp("2026-06-30").date())
    card = score(f, parse_settings(SIMPLE))
    s = card.scores.set_index("account_id")
    # A001: provincial (2 -> 1/3), AA (4 -> 3/4); families 4 of ours (P-VOICE, P-CUG comm;
    # P-MAIL info; P-EGOV industry; P-VIP service) -> 1; no competitor -> 0.
    assert s.at["A001", "influence_score"] == pytest.approx(100 / 3, abs=0.01)
    assert s.at["A001", "payment_score"] == pytest.approx(75.0)
    assert s.at["A001", "value_score"] == pytest.approx(0.5 * 100 / 3 + 0.5 * 75, abs=0.01)
    assert s.at["A001", "loyalty_score"] == 100.0
    assert s.at["A001", "competitor_score"] == 0.0
    # A003: local (0), B (2 -> 1/4); our families 1 (voice) -> 25; competitor: C1 broadband
    # (communication) + C1 e-mail (information) = 2 of 3 families.
    assert s.at["A003", "value_score"] == pytest.approx(12.5)
    assert s.at["A003", "loyalty_score"] == 25.0
    assert s.at["A003", "competitor_score"] == pytest.approx(200 / 3, abs=0.01)
    # contributions add up to each dimension's score
    c = card.contributions.set_index(card.scores["account_id"])
    assert c.loc["A001", ["footprint", "credit_rating"]].sum() == pytest.approx(s.at["A001", "value_score"], abs=0.01)
    assert "competitor_families" in s.at["A003", "top_up"].split(";")


def test_scope_precedence_and_exactly_one_model():
    f = toy_frames(9)["accounts"]
    settings = load_settings()
    models = assign_models(f, settings)
    # government accounts (even large ones) take the government model (precedence 10 < 20)
    assert set(models[f["industry"] == "government"]) == {"government"}
    assert set(models[(f["industry"] != "government") & (f["size_class"] != "small")]) == {"large_enterprise"}
    assert set(models[(f["industry"] != "government") & (f["size_class"] == "small")]) == {"sme"}
    assert models.notna().all() and len(models) == len(f)
    # listing order in the file does not matter, precedence does
    text = settings.source
    gov = text.index("[[models]]")
    swapped = text[:gov] + text[gov:].replace('precedence = 10', 'precedence = 25')
    assert set(assign_models(f, parse_settings(swapped))[
        (f["industry"] == "government") & (f["size_class"] == "large")]) == {"large_enterprise"}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (('{ name = "footprint", weight = 1.0', '{ name = "footprint", weight = -1.0'), "weight must be a number >= 0"),
        (('{ name = "footprint", weight = 1.0', '{ name = "footprint", weight = "x"'), "weight must be a number"),
        (('name = "footprint"', 'name = "shoe_size"'), "unknown measure 'shoe_size'"),
        (('norm = "fixed" },\n  { name = "credit', 'norm = "cubic" },\n  { name = "credit'), "norm 'cubic'"),
        (('scope = {}', 'scope = { industry = ["x"] }'), "must have an empty scope"),
        (('{ name = "our_families", weight = 1.0', '{ name = "our_families", weight = 0.0'), "no measure with weight > 0 for loyalty"),
        (('value_high = 50.0', 'value_high = 150.0'), "between 0 and 100"),
        (('method = "threshold"', 'method = "quantile"'), None),
        (('threshold = 60.0', 'threshold = -5.0'), "thresholds must fall strictly"),
        (('share = 0.75', 'share = 0.5'), None),
    ],
)
def test_settings_validation_names_the_problem(edit, message):
    text = SIMPLE.replace(*edit)
    assert text != SIMPLE
    if message is None:
        parse_settings(text)  # valid edit
    else:
        with pytest.raises(SettingsError, match=message):
            parse_settings(text)


def test_quantile_shares_must_add_up():
    text = SIMPLE.replace('method = "threshold"', 'method = "quantile"').replace("share = 0.75", "share = 0.5")
    with pytest.raises(SettingsError, match="add up to 0.750"):
        parse_settings(text)


def test_default_settings_are_valid_and_documented():
    from pathlib import Path

    from valuation.config import SETTINGS

    s = load_settings()
    assert [m.name for m in s.models] == ["government", "large_enterprise", "sme"]
    doc = (Path(__file__).resolve().parent.parent / "docs" / "scoring.md").read_text(encoding="utf-8")
    for name in SETTINGS:
        assert f"`{name}`" in doc, f"{name} is not documented in docs/scoring.md"
    from valuation.measures import MEASURES

    for name in MEASURES:
        assert f"`{name}`" in doc, f"measure {name} is not documented"


# -- tiers ---------------------------------------------------------------------------------

def test_quantile_tiers_follow_shares():
    tiers = parse_settings(SIMPLE.replace('method = "threshold"', 'method = "quantile"')).tiers
    scores = pd.Series(np.arange(100, dtype=float))
    cut = TierCutter(tiers=tiers, method="quantile").fit(scores)
    got = pd.Series(cut.predict(scores)).value_counts()
    assert got["A"] == 25 and got["B"] == 75


def test_threshold_and_kmeans_tiers():
    tiers = parse_settings(SIMPLE).tiers
    cut = TierCutter(tiers=tiers, method="threshold").fit(pd.Series([1.0]))
    assert list(cut.predict(np.array([60.0, 59.99, 0.0]))) == ["A", "B", "B"]
    scores = np.concatenate([np.full(30, 90.0), np.full(70, 20.0)])
    km = TierCutter(tiers=tiers, method="kmeans").fit(scores)
    assert km.cuts_[0] == pytest.approx(55.0)
    assert (km.predict(scores) == np.where(scores > 50, "A", "B")).all()


def test_lorenz_and_top20():
    curve, top20, gini = lorenz(pd.Series([1.0] * 8 + [46.0, 46.0]))
    assert top20 == pytest.approx(0.92)
    assert curve["revenue_share"].iloc[0] == 0 and curve["revenue_share"].iloc[-1] == pytest.approx(1)
    assert lorenz(pd.Series([5.0] * 10))[2] == pytest.approx(0.0)


def test_migration_matrix():
    before = pd.DataFrame({"account_id": ["a", "b", "c"], "tier": ["A", "B", "B"],
                           "monthly_revenue": [10.0, 5.0, 1.0]})
    after = pd.DataFrame({"account_id": ["a", "b", "d"], "tier": ["B", "B", "A"],
                          "monthly_revenue": [9.0, 6.0, 2.0]})
    m = migration(before, after, ["A", "B"]).set_index(["from_tier", "to_tier"])
    assert m.loc[("A", "B"), "accounts"] == 1 and m.loc[("A", "B"), "revenue"] == 9.0
    assert m.loc[("B", "gone"), "revenue"] == 1.0
    assert m.loc[("new", "A"), "accounts"] == 1
    assert m["accounts"].sum() == 4


def test_path_to_next_tier_reaches_it(toy_store):
    settings = parse_settings(SIMPLE.replace("threshold = 60.0", "threshold = 45.0").replace(
        'basis = "value"', 'basis = "composite"'))
    f = features.account_frame(toy_store)
    a = analyse(f, settings)
    path = path_to_next_tier(a.card, a.frame["tier"], a.cutter, settings)
    assert set(path["account_id"]) <= set(a.frame.loc[a.frame["tier"] == "B", "account_id"])
    assert not path.empty
    first = path.groupby("account_id").head(1).set_index("account_id")
    for acc, move in first.iterrows():
        row = f.index[f["account_id"] == acc][0]
        moved = f.copy()
        col = {"our_families": "our_families", "credit_rating": None}.get(move["measure"])
        if col is None:
            continue
        moved.loc[row, col] = move["target"]
        after = analyse(moved, settings)
        assert after.frame.loc[row, "tier"] == "A", (acc, move.to_dict())


# -- positioning ---------------------------------------------------------------------------

def test_eight_cells_and_size_approach(toy_store):
    from valuation import positioning

    settings = parse_settings(SIMPLE)
    combos = [(v, l, c) for v in (80, 20) for l in (80, 20) for c in (80, 0)]
    scores = pd.DataFrame(combos, columns=["value_score", "loyalty_score", "competitor_score"])
    strategies = positioning.position(scores, settings)
    assert strategies.nunique() == 8
    assert strategies.iloc[0] == "defend_and_displace" and strategies.iloc[1] == "core_retention"
    assert strategies.iloc[7] == "low_cost_maintenance" and strategies.iloc[6] == "selective_winback"
    f = features.account_frame(toy_store)
    appr = positioning.approach(f)
    assert (appr[f["size_class"] == "small"] == "price_led").all()
    assert (appr[f["size_class"] != "small"] == "function_service").all()
    acts = positioning.actions("counter_poaching", "price_led", "warning", "zh")
    assert len(acts) == 3 and all(any("\u4e00" <= ch <= "\u9fff" for ch in a) for a in acts)


def test_lifecycle_rules(toy_store):
    from valuation import positioning

    settings = load_settings()
    f = features.account_frame(toy_store)
    f.loc[0, "onboard_date"] = pd.Timestamp("2026-03-01")  # young
    f.loc[1, "revenue_trend"] = -0.25                      # falling revenue
    f.loc[2, "escalations_12m"] = 1                        # escalated complaint
    stage = positioning.lifecycle_stage(f, pd.Series(80.0, index=f.index), settings)
    assert stage.tolist()[:3] == ["identification", "warning", "warning"]
    assert stage.iloc[3] == "growth"


# -- properties ----------------------------------------------------------------------------

def _frame(frames):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d, Store(Path(d) / "p.duckdb") as s:
        s.replace_facts(frames, source="prop")
        return features.account_frame(s)


def _analysed(frames):
    return analyse(_frame(frames), load_settings()).frame.set_index("account_id")


TOY9 = _frame(toy_frames(9))


@hsettings(max_examples=15, deadline=None)
@given(acc=st.integers(0, 8), product=st.sampled_from(["P-CUG", "P-BB", "P-MAIL", "P-CLOUD", "P-VIP"]))
def test_adding_our_product_never_lowers_loyalty(acc, product):
    frames = toy_frames(9)
    account = frames["accounts"]["account_id"].iloc[acc]
    before = _analysed(frames)
    h = frames["holdings"]
    if ((h["account_id"] == account) & (h["product_id"] == product)).any():
        return
    add = h.iloc[[0]].assign(account_id=account, product_id=product, provider="ours",
                             monthly_revenue=50.0)
    frames["holdings"] = pd.concat([h, add], ignore_index=True)
    after = _analysed(frames)
    assert after.at[account, "loyalty_score"] >= before.at[account, "loyalty_score"] - 1e-9


@hsettings(max_examples=15, deadline=None)
@given(acc=st.integers(0, 8), product=st.sampled_from(["C1-BB", "C1-MAIL", "C2-EGOV"]))
def test_adding_competitor_product_never_lowers_entanglement(acc, product):
    frames = toy_frames(9)
    account = frames["accounts"]["account_id"].iloc[acc]
    h = frames["holdings"]
    if ((h["account_id"] == account) & (h["product_id"] == product)).any():
        return
    before = _analysed(frames)
    add = h.iloc[[0]].assign(account_id=account, product_id=product,
                             provider=product.split("-")[0], monthly_revenue=300.0)
    frames["holdings"] = pd.concat([h, add], ignore_index=True)
    after = _analysed(frames)
    assert after.at[account, "competitor_score"] >= before.at[account, "competitor_score"] - 1e-9


@hsettings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_row_order_changes_no_score_and_tiers_are_a_partition(seed):
    f = TOY9
    a = analyse(f, load_settings()).frame.set_index("account_id")
    shuffled = f.sample(frac=1, random_state=seed).reset_index(drop=True)
    shuffled.attrs = f.attrs
    b = analyse(shuffled, load_settings()).frame.set_index("account_id").loc[a.index]
    cols = ["value_score", "loyalty_score", "competitor_score", "tier", "model", "strategy"]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    assert a["tier"].isin(["A", "B", "C", "D"]).all() and a["model"].notna().all()


# -- one account re-scored among its peers (the what-if's shortcut) ----------------------------
@hsettings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-3, 6).map(float),
                          st.floats(-50, 5000, allow_nan=False)), min_size=1, max_size=40),
       st.sampled_from(["percentile", "minmax", "log", "fixed"]), st.booleans(),
       st.integers(0, 39))
def test_one_value_normalised_among_the_rest_equals_normalising_the_scope(values, norm, median,
                                                                          at):
    """_normalise_one(v, others) is what normalise() over the whole scope gives v: ties,
    missing values, median filling, winsorising and constant scopes included."""
    from valuation.scoring import _normalise_one

    x = pd.Series([np.nan if v is None else v for v in values], dtype="float64")
    i = at % len(x)
    full = x.fillna(x.median()) if median else x
    want = normalise(full, norm, lo=0.0, hi=100.0).iloc[i]
    got = _normalise_one(float(x.iloc[i]), x.drop(index=i).to_numpy(), norm, lo=0.0, hi=100.0,
                         fill_median=median)
    if np.isnan(want):
        assert np.isnan(got)
    else:
        assert got == pytest.approx(want, abs=1e-12)


def test_score_one_equals_rescoring_the_whole_model_scope(tmp_path):
    """Every account of the demo, changed (holdings and revenue moved), scored alone among
    the rest of its model equals scoring the whole frame with that one row changed."""
    from valuation import demo
    from valuation.measures import raw_measures
    from valuation.scoring import score_one

    frames = demo.generate(accounts=600, seed=11, line_accounts=0)
    with Store(tmp_path / "d.duckdb") as s:
        s.replace_facts(frames, source="demo")
        frame = features.account_frame(s)
    settings = load_settings()
    card = score(frame, settings)
    rng = np.random.default_rng(3)
    for label in rng.choice(frame.index.to_numpy(), size=25, replace=False):
        changed = frame.copy()
        changed.loc[label, "our_families"] = int(rng.integers(0, 5))
        changed.loc[label, "revenue_12m"] = float(rng.uniform(0, 2e6))
        changed.loc[label, "competitor_spend"] = float(rng.uniform(0, 5e4))
        want = score(changed, settings, unavailable=card.unavailable).scores.loc[label]
        name = str(assign_models(changed.loc[[label]], settings).iloc[0])
        model = next(m for m in settings.models if m.name == name)
        others = (card.scores["model"].to_numpy() == name) & (frame.index != label)
        raw = raw_measures(changed.loc[[label]]).loc[label]
        got = score_one(raw, card.raw.loc[others], model, card.unavailable.get(name, ()))
        for k, v in got.items():
            assert v == pytest.approx(float(want[k]), abs=0.011), (label, k)
