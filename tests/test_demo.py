"""The synthetic portfolio: valid against the schema, deterministic, and carrying honest signal."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from valuation import demo, schema
from valuation.store import Store

AS_OF = date(2025, 12, 31)
N = 1500


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return demo.generate(accounts=N, seed=11, as_of=AS_OF)


def _str(s: pd.Series) -> pd.Series:
    return s.astype("string")


def _keys(df: pd.DataFrame, cols: tuple[str, ...]) -> pd.Series:
    out = _str(df[cols[0]])
    for c in cols[1:]:
        out = out + "\x1f" + _str(df[c])
    return out


def schema_problems(frames: dict[str, pd.DataFrame]) -> list[str]:
    """Every violation of schema.py's rules, checked on whole columns."""
    problems = []
    for t in schema.FACT_TABLES:
        df = frames[t.name]
        if list(df.columns) != t.names:
            problems.append(f"{t.name}: columns {list(df.columns)}")
            continue
        for c in t.columns:
            s = df[c.name]
            if c.required and s.isna().any():
                problems.append(f"{t.name}.{c.name}: {int(s.isna().sum())} missing")
            v = s.dropna()
            if c.enum and not v.isin(list(schema.ENUMS[c.enum])).all():
                bad = set(v) - set(schema.ENUMS[c.enum])
                problems.append(f"{t.name}.{c.name}: bad codes {bad}")
            if c.min is not None and (v < c.min).any():
                problems.append(f"{t.name}.{c.name}: below {c.min}")
            if c.max is not None and (v > c.max).any():
                problems.append(f"{t.name}.{c.name}: above {c.max}")
        if t.key and _keys(df, t.key).duplicated().any():
            problems.append(f"{t.name}: duplicate key {t.key}")
        for ref in t.refs:
            sub = df[list(ref.columns)].dropna()
            target = _keys(frames[ref.table], ref.ref_columns)
            bad = ~_keys(sub, ref.columns).isin(set(target) | set(ref.extra))
            if bad.any():
                problems.append(f"{t.name}{ref.columns} -> {ref.table}: {int(bad.sum())} dangling")
        for order in t.date_orders:
            both = df[order.earlier].notna() & df[order.later].notna()
            if (df.loc[both, order.later] < df.loc[both, order.earlier]).any():
                problems.append(f"{t.name}: {order.later} before {order.earlier}")
    users = frames["users"]
    needs = users["role"].isin(["account_manager", "sales_lead"])
    if users.loc[needs, "team_id"].isna().any():
        problems.append("users: managers and leads need a team")
    return problems


def test_default_as_of() -> None:
    assert demo.default_as_of(date(2026, 3, 15)) == date(2026, 2, 28)
    assert demo.default_as_of(date(2026, 1, 1)) == date(2025, 12, 31)


def test_deterministic_and_seeded() -> None:
    a = demo.generate(accounts=300, seed=3, as_of=AS_OF)
    b = demo.generate(accounts=300, seed=3, as_of=AS_OF)
    c = demo.generate(accounts=300, seed=4, as_of=AS_OF)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    assert not a["accounts"].equals(c["accounts"])
    assert not a["billing_monthly"].equals(c["billing_monthly"])


def test_exact_schema_columns_and_types(frames) -> None:
    assert list(frames) == schema.fact_load_order()
    for t in schema.FACT_TABLES:
        df = frames[t.name]
        assert list(df.columns) == t.names, t.name
        assert len(df) > 0, t.name
        for c in t.columns:
            s = df[c.name]
            if c.dtype == "date":
                assert pd.api.types.is_datetime64_any_dtype(s), (t.name, c.name)
            elif c.dtype == "int":
                assert s.dtype == np.int64, (t.name, c.name)
            elif c.dtype == "float":
                assert s.dtype == np.float64, (t.name, c.name)
            elif c.dtype == "bool":
                assert s.dtype == bool, (t.name, c.name)
            else:
                assert pd.api.types.is_string_dtype(s) or s.dtype == object, (t.name, c.name)


def test_schema_rules_hold(frames) -> None:
    assert schema_problems(frames) == []


def test_schema_rules_hold_for_a_tiny_portfolio() -> None:
    tiny = demo.generate(accounts=40, seed=5, as_of=date(2024, 2, 29))
    assert schema_problems(tiny) == []
    assert {"am01", "am02", "lead01", "exec01", "admin"} <= set(tiny["users"]["user_id"])


def test_checker_catches_a_broken_reference(frames) -> None:
    broken = dict(frames)
    acc = frames["accounts"].copy()
    acc.loc[0, "owner_id"] = "nobody"
    broken["accounts"] = acc
    assert any("owner_id" in p for p in schema_problems(broken))


def test_accounts_are_realistic(frames) -> None:
    acc = frames["accounts"]
    assert acc["name"].is_unique
    assert acc["account_id"].str.fullmatch(r"A\d{7}").all()
    assert set(acc["city"]) <= {"Hangzhou", "Ningbo", "Wenzhou", "Jiaxing", "Huzhou", "Shaoxing",
                                "Jinhua", "Taizhou", "Quzhou", "Zhoushan", "Lishui"}
    assert (acc.loc[acc["city"] == "Hangzhou", "city_tier"] == 1).all()
    share = acc["size_class"].value_counts(normalize=True)
    assert 0.03 < share["large"] < 0.08 and 0.15 < share["medium"] < 0.27
    gov = acc["industry"].isin(["government", "public_security"])
    assert acc.loc[gov, "admin_level"].notna().all() and acc.loc[~gov, "admin_level"].isna().all()
    large = acc[acc["size_class"] == "large"]
    small = acc[acc["size_class"] == "small"]
    assert large["employees"].median() > 10 * small["employees"].median()
    assert (large["footprint"] != "local").mean() > (small["footprint"] != "local").mean()
    as_of = pd.Timestamp(AS_OF)
    assert (acc["onboard_date"] <= as_of).all()
    assert (acc["onboard_date"] > as_of - pd.DateOffset(months=12)).mean() > 0.02
    # groups: depth one, branches share the head's industry and sit in other cities
    br = acc[acc["parent_account_id"].notna()]
    assert len(br) > 0
    head = acc.set_index("account_id").loc[br["parent_account_id"]]
    assert head["parent_account_id"].isna().all()
    assert (head["industry"].to_numpy() == br["industry"].to_numpy()).all()
    assert (head["city"].to_numpy() != br["city"].to_numpy()).all()
    assert br["name"].str.contains("分公司").all()


def test_holdings_fit_industries_and_schools_hold_school_home(frames) -> None:
    h = frames["holdings"].merge(frames["products"], on=["product_id", "provider"])
    h = h.merge(frames["accounts"][["account_id", "industry"]], on="account_id")
    restricted = h[h["industries"].notna()]
    fits = [ind in allowed.split(";") for ind, allowed in
            zip(restricted["industry"], restricted["industries"], strict=True)]
    assert all(fits)
    edu = frames["accounts"].loc[frames["accounts"]["industry"] == "education", "account_id"]
    school = set(h.loc[h["function"] == "school_home", "account_id"])
    assert edu.isin(school).mean() > 0.75
    assert (frames["products"].loc[frames["products"]["product_id"] == "P-COM-CUG",
                                   "function"] == "cug").all()
    comp = frames["products"][frames["products"]["provider"] != "ours"]
    assert "service_support" not in set(comp["family"])
    ours_funcs = set(frames["products"].loc[frames["products"]["provider"] == "ours", "function"])
    assert set(comp["function"]) <= ours_funcs


def test_bundle_depth_grows_with_size(frames) -> None:
    h = frames["holdings"]
    ours = h[(h["provider"] == "ours") & h["end_date"].isna()]
    n = ours.groupby("account_id").size()
    size = frames["accounts"].set_index("account_id")["size_class"]
    live = size.index.difference(frames["churn_events"]["account_id"])
    depth = n.reindex(live).fillna(0).groupby(size.reindex(live)).mean()
    assert depth["small"] < depth["medium"] < depth["large"]
    assert 1 <= depth["small"] <= 3.5 and 4 <= depth["large"] <= 10


def test_managers_teams_and_demo_sign_ins(frames) -> None:
    users = frames["users"].set_index("user_id")
    teams = frames["teams"].set_index("team_id")
    acc = frames["accounts"]
    managers = users.index[users["role"] == "account_manager"]
    assert len(managers) == max(2, round(N / 150))
    per = acc["owner_id"].value_counts()
    assert set(per.index) <= set(managers)
    assert 120 <= per.mean() <= 180 and per.min() >= 50 and per.max() <= 300
    for uid, _pw, role in demo.DEMO_SIGN_INS:
        assert users.loc[uid, "role"] == role
    assert users.loc["am01", "team_id"] == "T01" and users.loc["am02", "team_id"] == "T01"
    assert teams.loc["T01", "lead_id"] == "lead01" and users.loc["lead01", "team_id"] == "T01"
    assert (teams["lead_id"].map(users["team_id"]) == teams.index).all()
    mine = set(acc.loc[acc["owner_id"] == "am01", "account_id"])
    theirs = set(acc.loc[acc["owner_id"] == "am02", "account_id"])
    assert mine and theirs and not mine & theirs
    # an account's owner works in a team of the account's city when there is one
    team_city = acc["owner_id"].map(users["team_id"]).map(teams["city"])
    has_team = acc["city"].isin(set(teams["city"]))
    assert (team_city[has_team] == acc.loc[has_team, "city"]).all()


# --- churn history: rates, honest signal, precursors ------------------------------------------
def _churned(frames) -> pd.Series:
    acc = frames["accounts"].set_index("account_id")
    return acc.index.isin(frames["churn_events"]["account_id"])


def test_churn_rates_by_size(frames) -> None:
    acc = frames["accounts"]
    ce = frames["churn_events"]
    assert (ce["churn_date"] <= pd.Timestamp(AS_OF)).all()
    assert ce["account_id"].is_unique
    years = demo.HISTORY_MONTHS / 12
    rate = acc["account_id"].isin(ce["account_id"]).groupby(acc["size_class"]).mean() / years
    assert rate["large"] < rate["medium"] < rate["small"]
    assert rate["large"] < 0.03 and 0.05 < rate["small"] < 0.15
    # competitors are the most common reason among accounts entangled with one
    h = frames["holdings"]
    entangled = set(h.loc[h["provider"] != "ours", "account_id"])
    reasons = ce.loc[ce["account_id"].isin(entangled), "reason"].value_counts()
    assert reasons.index[0] == "competitor"


def test_churners_had_shallower_bundles_and_more_trouble(frames) -> None:
    acc = frames["accounts"].set_index("account_id")
    churned = pd.Series(_churned(frames), index=acc.index)
    h = frames["holdings"].merge(frames["products"][["product_id", "family"]], on="product_id")
    fams = h[h["provider"] == "ours"].groupby("account_id")["family"].nunique()
    fams = fams.reindex(acc.index).fillna(0)
    assert fams[churned].mean() < fams[~churned].mean() - 0.2
    # entanglement, arrears and complaints go with churn
    entangled = acc.index.isin(h.loc[h["provider"] != "ours", "account_id"])
    assert churned[entangled].mean() > churned[~entangled].mean()
    b = frames["billing_monthly"]
    in_arrears = acc.index.isin(b.loc[b["arrears"] > 0, "account_id"])
    assert churned[in_arrears].mean() > 1.5 * churned[~in_arrears].mean()
    i = frames["interactions"]
    complained = acc.index.isin(i.loc[i["kind"].isin(["complaint", "escalated_complaint"]),
                                      "account_id"])
    assert churned[complained].mean() > 1.5 * churned[~complained].mean()
    # a comprehensive bundle agreement and a closed user group go with staying
    k = frames["contracts"]
    bundle = acc.index.isin(k.loc[k["contract_type"] == "comprehensive_bundle", "account_id"])
    lm = acc["size_class"].isin(["large", "medium"]).to_numpy()
    assert churned[bundle & lm].mean() < churned[~bundle & lm].mean()


def test_bills_fall_before_churn(frames) -> None:
    b = frames["billing_monthly"].merge(frames["churn_events"], on="account_id")
    k = ((b["churn_date"].dt.year * 12 + b["churn_date"].dt.month)
         - (b["month"].dt.year * 12 + b["month"].dt.month))
    assert (k >= 0).all()  # no bills after the churn month
    last3 = b[(k >= 1) & (k <= 3)].groupby("account_id")["billed"].mean()
    before = b[(k >= 4) & (k <= 9)].groupby("account_id")["billed"].mean()
    last3, before = last3.align(before, join="inner")
    assert len(last3) > 20
    ratio = last3 / before
    assert ratio.median() < 0.9
    assert last3.sum() < 0.9 * before.sum()
    # survivors' bills do not fall
    s = frames["billing_monthly"]
    s = s[~s["account_id"].isin(frames["churn_events"]["account_id"])]
    recent = s[s["month"] >= pd.Timestamp(AS_OF) - pd.DateOffset(months=3)]["billed"].sum()
    earlier = s[(s["month"] < pd.Timestamp(AS_OF) - pd.DateOffset(months=3))
                & (s["month"] >= pd.Timestamp(AS_OF) - pd.DateOffset(months=9))]["billed"].sum()
    assert recent / 3 > 0.9 * earlier / 6


def test_nothing_happens_after_churn(frames) -> None:
    ce = frames["churn_events"].set_index("account_id")["churn_date"]
    h = frames["holdings"]
    hc = h[h["account_id"].isin(ce.index)]
    assert hc["end_date"].notna().all()
    assert (hc["end_date"] <= hc["account_id"].map(ce)).all()
    ln = frames["lines"]
    lc = ln[ln["account_id"].isin(ce.index)]
    assert (lc["close_date"] <= lc["account_id"].map(ce)).all()
    i = frames["interactions"]
    ic = i[i["account_id"].isin(ce.index)]
    assert (ic["date"] <= ic["account_id"].map(ce)).all()
    k = frames["contracts"]
    kc = k[k["account_id"].isin(ce.index)]
    assert (kc["start_date"] <= kc["account_id"].map(ce)).all()
    d = frames["line_daily"].merge(ln, on="line_id")
    assert (d["close_date"].isna() | (d["day"] < d["close_date"])).all()
    assert (d["day"] >= d["open_date"]).all()


def test_contracts(frames) -> None:
    k = frames["contracts"]
    years = (k["end_date"] - k["start_date"]).dt.days / 365.25
    assert years.max() <= 3.05
    as_of = pd.Timestamp(AS_OF)
    live = frames["accounts"].loc[~_churned(frames), "account_id"]
    soon = k.loc[(k["end_date"] >= as_of) & (k["end_date"] <= as_of + pd.Timedelta(days=91)),
                 "account_id"]
    assert 0.06 <= live.isin(soon).mean() <= 0.14
    size = k["account_id"].map(frames["accounts"].set_index("account_id")["size_class"])
    bundles = size[k["contract_type"] == "comprehensive_bundle"]
    assert bundles.isin(["large", "medium"]).mean() > 0.7


def test_interactions(frames) -> None:
    i = frames["interactions"]
    acc = frames["accounts"].set_index("account_id")
    own = i["kind"].isin(["visit", "call"])
    assert (i.loc[own, "user_id"] == i.loc[own, "account_id"].map(acc["owner_id"])).all()
    per = i[i["kind"] == "visit"].groupby("account_id").size().reindex(acc.index).fillna(0)
    by = per.groupby(acc["size_class"]).mean()
    assert by["large"] > by["medium"] > by["small"]
    as_of = pd.Timestamp(AS_OF)
    assert i["date"].between(as_of - pd.DateOffset(months=24), as_of).all()


# --- member lines and daily usage ---------------------------------------------------------------
def _runs(daily: pd.DataFrame, flag: pd.Series, length: int = 3) -> set[str]:
    """Lines with ``length`` or more consecutive days where ``flag`` holds."""
    d = daily[["line_id", "day"]].assign(x=flag.to_numpy()).sort_values(["line_id", "day"])
    block = (d["x"] != d.groupby("line_id")["x"].shift()).cumsum()
    runs = d[d["x"]].groupby([d.loc[d["x"], "line_id"], block[d["x"]]]).size()
    return set(runs[runs >= length].index.get_level_values(0))


def test_lines_and_daily_usage(frames) -> None:
    ln, d = frames["lines"], frames["line_daily"]
    as_of = pd.Timestamp(AS_OF)
    assert ln["account_id"].nunique() == N  # default: min(accounts, 5000)
    assert (ln["line_type"] == "mobile").mean() > 0.7
    assert d["day"].between(as_of - pd.Timedelta(days=demo.USAGE_DAYS - 1), as_of).all()
    open_lines = ln[ln["close_date"].isna() & (ln["open_date"] <= as_of)]
    assert open_lines["line_id"].isin(d.loc[d["day"] == as_of, "line_id"]).all()
    per = ln.groupby("account_id").size()
    size = frames["accounts"].set_index("account_id")["size_class"]
    assert per[size[per.index] == "small"].between(1, 6).all()
    assert per[size[per.index] == "large"].between(20, 80).all()


def test_line_accounts_limits_usage_and_covers_segments() -> None:
    f = demo.generate(accounts=800, seed=2, as_of=AS_OF, line_accounts=60)
    ln = f["lines"]
    assert ln["account_id"].nunique() == 60
    acc = f["accounts"].set_index("account_id")
    assert set(acc.loc[ln["account_id"].unique(), "size_class"]) == {"large", "medium", "small"}
    assert set(f["line_daily"]["line_id"]) <= set(ln["line_id"])
    assert schema_problems(f) == []
    # the rest of the portfolio does not depend on line_accounts
    g = demo.generate(accounts=800, seed=2, as_of=AS_OF, line_accounts=10)
    pd.testing.assert_frame_equal(f["accounts"], g["accounts"])
    pd.testing.assert_frame_equal(f["billing_monthly"], g["billing_monthly"])
    none = demo.generate(accounts=50, seed=2, as_of=AS_OF, line_accounts=0)
    assert len(none["lines"]) == 0 and len(none["line_daily"]) == 0
    assert list(none["line_daily"].columns) == schema.table("line_daily").names


def test_warning_patterns_precede_churn(frames) -> None:
    """Lines of accounts that churned inside the usage window show DOMAIN.md section 4 patterns
    before closing (no outgoing voice while SMS goes on, forwarding off-net, low balance,
    self-suspension); other lines only rarely."""
    ln, d = frames["lines"], frames["line_daily"]
    ce = frames["churn_events"]
    as_of = pd.Timestamp(AS_OF)
    recent = ce.loc[ce["churn_date"] > as_of - pd.Timedelta(days=demo.USAGE_DAYS - 10),
                    "account_id"]
    silent = _runs(d, (d["voice_out_calls"] == 0) & (d["sms_out"] > 0))
    forward = _runs(d, d["forwarded_offnet_calls"] > 0)
    low = set(d.loc[(d["balance"] < 5) | d["self_suspended"], "line_id"])
    flagged = silent | forward | low
    churn_lines = ln.loc[ln["account_id"].isin(recent), "line_id"]
    other = ln.loc[~ln["account_id"].isin(ce["account_id"]), "line_id"]
    assert len(churn_lines) > 10
    assert churn_lines.isin(flagged).mean() > 0.25
    assert other.isin(flagged).mean() < 0.03


# --- into a store --------------------------------------------------------------------------------
def test_write_demo_into_a_store(tmp_path) -> None:
    from valuation import access, features

    with Store(tmp_path / "demo.duckdb") as store:
        counts = demo.write_demo(store, accounts=300, seed=5, as_of=AS_OF)
        assert set(counts) == set(schema.fact_load_order())
        stored = store.row_counts()
        assert all(stored[t] == n for t, n in counts.items())
        assert counts["accounts"] == 300
        assert store.data_version
        assert "demo accounts=300 seed=5" in store.import_history()["source"].iloc[0]
        user = access.authenticate(store, "am01", "demo-am01")
        assert user is not None and user.role == "account_manager" and user.team_id == "T01"
        assert access.authenticate(store, "am01", "wrong-password") is None
        frame = features.account_frame(store, as_of=AS_OF)
        assert len(frame) == 300
        assert frame["has_cug"].any() and frame["churned"].any()
        assert (frame.loc[~frame["churned"], "our_products"] > 0).all()


def test_bills_add_up(frames) -> None:
    b = frames["billing_monthly"]
    assert (b["paid"] <= b["billed"]).all()
    assert np.allclose(b["billed"] - b["paid"], b["arrears"], atol=0.011)
    assert (b["month"].dt.day == 1).all()
    months = sorted(b["month"].unique())
    assert len(months) == demo.HISTORY_MONTHS
    assert pd.Timestamp(months[-1]) == pd.Timestamp(AS_OF).replace(day=1)
    assert 0 < (b["arrears"] > 0).mean() < 0.08
    # low credit ratings fall into arrears more often
    rating = b["account_id"].map(frames["accounts"].set_index("account_id")["credit_rating"])
    owing = (b["arrears"] > 0).groupby(rating).mean()
    assert owing["C"] > owing["AAA"]
