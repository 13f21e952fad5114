"""Page fixes: KPIs that follow the Portfolio filters with their month-on-month and year-on-year
change, choices kept as codes across a language switch, bookmarked links through the sign-in,
an XLSX beside every CSV, the Settings editor labelled in Chinese, a readable product graph."""

from __future__ import annotations

import io
import json
import os
from datetime import date
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from valuation import access, bundling, features, history, i18n, portfolio, safety
from valuation.analysis import analyse
from valuation.settings_store import active_settings
from valuation.store import Store, copy_database

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")


@pytest.fixture(scope="module")
def demo_db(demo_path):
    os.environ["VALUATION_DB"] = str(demo_path)
    yield demo_path
    os.environ.pop("VALUATION_DB", None)


def _signed_in(user_id: str, lang: str = "zh") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    with Store(os.environ["VALUATION_DB"]) as s:
        at.session_state["user"] = access.get_user(s, user_id)
    at.session_state["lang"] = lang
    return at


def _through_app(at: AppTest) -> AppTest:
    """Rerun through app.py, as a browser's rerun does (AppTest otherwise reruns the page
    file it finished on by itself, skipping app.py and its sidebar)."""
    at._finished_page_script_hash = ""
    at._page_hash = ""
    return at.run()


# -- 1. KPIs that follow the filters, with their change -------------------------------------
@pytest.fixture(scope="module")
def analysed(demo_path):
    with Store(demo_path) as s:
        frame = analyse(features.account_frame(s), active_settings(s)).frame
        points = history.kpi_comparisons(s, date.fromisoformat(frame.attrs["as_of"]))
        snaps = s.query("SELECT account_id, as_of, tier, monthly_revenue FROM score_snapshots")
    return frame, points, snaps


def test_the_kpis_are_the_filtered_accounts_and_the_change_is_two_snapshots_apart(analysed):
    frame, points, snaps = analysed
    aligned = portfolio.align_comparisons(frame, points)
    chosen = {"industries": ["government", "manufacturing"], "tiers": ["B", "C"]}
    got = portfolio.kpi_changes(frame, aligned, **chosen)

    # now: the filtered frame's own sums (by hand)
    live = ~frame["churned"].astype(bool)
    hit = frame["industry"].isin(chosen["industries"]) & frame["tier"].isin(chosen["tiers"])
    assert got.loc["accounts", "value"] == (hit & live).sum() > 0
    assert got.loc["monthly_revenue", "value"] == pytest.approx(
        frame.loc[hit & live, "monthly_revenue"].sum())
    assert got.loc["revenue_trend", "value"] == pytest.approx(
        frame.loc[hit, "revenue_3m"].sum() / frame.loc[hit, "revenue_prev_3m"].sum() - 1)
    assert got.loc["arrears_rate", "value"] == pytest.approx(
        frame.loc[hit, "arrears_3m"].sum() / frame.loc[hit, "revenue_3m"].sum())
    # ...and the whole scope's is the page's old headline row
    whole = portfolio.kpi_changes(frame, aligned)["value"]
    assert whole.to_dict() == pytest.approx(features.portfolio_kpis(frame), nan_ok=True)

    # the change: the same filter on two snapshots (tier as it was then, industry as now)
    as_of = pd.Timestamp(frame.attrs["as_of"])
    assert points["mom"].month == str((as_of.to_period("M") - 1))
    assert points["yoy"].month == str((as_of.to_period("M") - 12))
    industry = frame.set_index("account_id")["industry"]

    def counted(day: date) -> tuple[int, float]:
        snap = snaps[pd.to_datetime(snaps["as_of"]) == pd.Timestamp(day)]
        ok = snap["account_id"].map(industry).isin(chosen["industries"]) & snap["tier"].isin(
            chosen["tiers"])
        return int(ok.sum()), float(snap.loc[ok, "monthly_revenue"].sum())

    latest = counted(as_of.date())  # this month's snapshot (its scoring: live accounts only)
    assert points["now"].as_of == as_of.date()
    for key in ("mom", "yoy"):
        then = counted(points[key].as_of)
        assert got.loc["accounts", key] == latest[0] - then[0]
        assert got.loc["accounts", f"{key}_value"] == then[0]
        assert got.loc["monthly_revenue", key] == pytest.approx(latest[1] / then[1] - 1)
    # an earlier month's churn: churn dates in the twelve months to it
    churn = pd.to_datetime(frame["churn_date"])
    day = pd.Timestamp(points["mom"].as_of)
    assert got.loc["churned_12m", "mom_value"] == (
        (churn > day - pd.DateOffset(months=12)) & (churn <= day)
        & frame["industry"].isin(chosen["industries"])
        & pd.Series(np.where(aligned["mom"].frame["live"], aligned["mom"].frame["tier"],
                             frame["tier"])).isin(chosen["tiers"])).sum()
    # without a tier or strategy filter the snapshot of now and the frame agree
    plain = portfolio.kpi_changes(frame, aligned, industries=["government"])
    gov = frame["industry"] == "government"
    snap = snaps[pd.to_datetime(snaps["as_of"]) == pd.Timestamp(points["mom"].as_of)]
    then = int(snap["account_id"].map(industry).eq("government").sum())
    assert plain.loc["accounts", "mom"] == (gov & live).sum() - then


def test_the_portfolio_page_shows_the_change_and_follows_a_filter(demo_db, analysed):
    frame, points, _ = analysed
    at = _signed_in("admin", "en").run()
    assert not at.exception
    accounts = next(m for m in at.metric if m.label == "Active accounts")
    want = portfolio.kpi_changes(frame, portfolio.align_comparisons(frame, points))
    assert accounts.value == f"{want.loc['accounts', 'value']:,.0f}"
    assert accounts.proto.delta == f"{want.loc['accounts', 'mom']:+,.0f}" or (
        want.loc["accounts", "mom"] == 0 and accounts.proto.delta == "0")
    assert "Month on month" in accounts.proto.help and "Year on year" in accounts.proto.help
    at.multiselect(key="pf_ind").set_value(["government"]).run()
    accounts = next(m for m in at.metric if m.label == "Active accounts")
    live = ~frame["churned"].astype(bool)
    assert accounts.value == f"{int((live & (frame['industry'] == 'government')).sum()):,}"


def test_a_scope_taken_from_the_shared_alignment_reads_as_its_own(analysed, demo_path):
    """The page aligns the earlier points once to the province frame (compact columns) and
    takes a user's rows from it: the same figures as aligning to the user's own frame."""
    frame, points, _ = analysed
    with Store(demo_path) as s:
        aligned = history.kpi_comparisons(s, date.fromisoformat(frame.attrs["as_of"]),
                                          shape=portfolio.aligner(frame))
        user = access.get_user(s, "am01")
        users = s.read_table("users")
    mom = aligned["mom"].frame
    assert len(mom) == len(frame) and "account_id" not in mom.columns
    assert mom["tier"].dtype == "category"
    assert mom.memory_usage(deep=True).sum() < 60 * len(frame)  # compact: no strings per row
    rows = np.flatnonzero(access.scope_filter(user, frame, users).to_numpy())
    assert 0 < len(rows) < len(frame)
    mine = frame.iloc[rows].reset_index(drop=True)
    mine.attrs = frame.attrs
    chosen = {"tiers": ["A", "B", "C"], "strategies": sorted(frame["strategy"].dropna().unique())[:2]}
    got = portfolio.kpi_changes(mine, portfolio.scope_comparisons(aligned, rows), **chosen)
    want = portfolio.kpi_changes(mine, portfolio.align_comparisons(mine, points), **chosen)
    pd.testing.assert_frame_equal(got, want)
    assert got.loc["accounts", "value"] > 0 and np.isfinite(got.loc["accounts", "mom"])
    # every row: nothing copied, the same points
    assert portfolio.scope_comparisons(aligned, None)["mom"].frame is mom


@pytest.fixture(scope="module")
def one_snapshot(demo_path, tmp_path_factory):
    """The demo with its score history cut to the latest snapshot: an export of one date."""
    db = tmp_path_factory.mktemp("one_snapshot") / "one.duckdb"
    copy_database(demo_path, db)
    with Store(db) as s:
        with s.facts_session() as con:
            con.execute("DELETE FROM score_snapshots WHERE as_of < "
                        "(SELECT max(as_of) FROM score_snapshots)")
    return db


def test_without_history_no_delta_is_shown_and_the_help_says_why(one_snapshot, monkeypatch):
    with Store(one_snapshot) as s:
        as_of = features.data_as_of(s)
        points = history.kpi_comparisons(s, as_of)
    assert points["now"].as_of == as_of  # the one snapshot: this month's
    earlier = [points[k] for k in history.COMPARISONS]
    assert {p.reason for p in earlier} == {"one_snapshot"}
    assert all(p.as_of is None and p.frame.empty for p in earlier)

    monkeypatch.setenv("VALUATION_DB", str(one_snapshot))
    at = _signed_in("am01", "en").run()
    assert not at.exception
    shown = [m for m in at.metric if m.label in {
        i18n.t(k, "en") for k in ("kpi.accounts", "kpi.monthly_revenue", "kpi.revenue_trend",
                                  "kpi.churned_12m", "kpi.arrears_rate")}]
    assert len(shown) == 5
    for m in shown:
        assert not m.proto.delta, m.label  # no delta at all: never a made-up 0
        assert "No month-on-month change: the score history is a single snapshot" in m.proto.help
        assert "No year-on-year change" in m.proto.help


# -- 2. a language switch keeps the chosen filters ------------------------------------------
def test_a_language_switch_keeps_the_filters_and_shows_them_in_the_new_language(demo_db):
    at = _signed_in("admin", "zh").run()
    assert not at.exception
    city = at.multiselect(key="pf_city")
    assert "杭州" in city.options
    city.set_value(["Hangzhou"])
    at.multiselect(key="pf_ind").set_value(["government"])
    at.multiselect(key="pf_tier").set_value(["A"])
    _through_app(at)
    count = next(c.value for c in at.caption if "显示" in c.value)

    at.segmented_control(key="lang_switch").set_value("en")  # the reader switches to English
    _through_app(at)
    assert not at.exception and at.session_state["lang"] == "en"
    for key, codes, shown in (("pf_city", ["Hangzhou"], ["Hangzhou"]),
                              ("pf_ind", ["government"], ["Government"]),
                              ("pf_tier", ["A"], ["A · Strategic"])):
        w = at.multiselect(key=key)
        assert w.value == codes, key  # the choice is kept, as codes...
        # ...and the browser is told to show it with the English labels (it holds the labels
        # it was sent: without this it would keep showing, and sending back, the Chinese)
        assert w.proto.set_value and list(w.proto.raw_values) == shown, key
    n = count.split("/")[0].split()[-1]
    assert any(c.value.startswith(f"{n} of ") for c in at.caption)  # the same accounts


def test_the_pyramid_keeps_its_choices_across_a_language_switch(demo_db):
    at = _signed_in("exec01", "zh").run()
    at.switch_page("pages/pyramid.py").run()
    assert not at.exception
    at.segmented_control(key="pyr_measure").set_value("revenue")
    at.segmented_control(key="pyr_kpi_by").set_value("industry")
    at.selectbox(key="pyr_drill").set_value("B")
    at.run()
    assert "重点" in at.selectbox(key="pyr_drill").format_func("B")  # labelled in Chinese
    at.session_state["lang"] = "en"  # what the language switch sets
    at.run()
    assert not at.exception
    assert at.segmented_control(key="pyr_measure").value == "revenue"
    assert at.segmented_control(key="pyr_kpi_by").value == "industry"
    drill = at.selectbox(key="pyr_drill")
    assert drill.value == "B"
    assert drill.proto.set_value and drill.proto.raw_value == drill.format_func("B")
    assert drill.proto.raw_value == "B · Key"


# -- 3. bookmarked links through the sign-in (a real server: its routing, not AppTest's) -----
@pytest.mark.browser
def test_a_bookmarked_link_opens_its_page_after_signing_in(demo_path, tmp_path):
    from playwright.sync_api import sync_playwright

    from valuation import warnings as W
    from valuation.appbench import ARGS, CHROMIUM, serve

    db = tmp_path / "links.duckdb"
    copy_database(demo_path, db)
    with Store(db) as s:
        access.set_password(s, "am01", "demo-am01", by="test")
        own = s.scalar("SELECT min(account_id) FROM accounts WHERE owner_id = 'am01'")
        name = s.scalar("SELECT name_en FROM accounts WHERE account_id = ?", [own])
        other = s.scalar("SELECT min(account_id) FROM accounts WHERE owner_id = 'am02'")
        orders = W.open_orders(s, access.get_user(s, "am01"))
        orders = orders[(orders["assignee_id"] == "am01") | (orders["owner_id"] == "am01")]
    order = orders.iloc[-1]  # not the first one My work would show anyway
    with serve(db, tmp_path / "streamlit.log", timeout=120) as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)

        def follow(link: str):
            ctx = browser.new_context(viewport={"width": 1440, "height": 1400}, locale="en-US")
            page = ctx.new_page()
            page.goto(f"{url}/{link}", wait_until="domcontentloaded")
            page.locator('input[type="password"]').first.wait_for(timeout=90_000)
            page.locator('input[type="text"]').first.fill("am01")
            page.locator('input[type="password"]').first.fill("demo-am01")
            page.locator('[data-testid="stFormSubmitButton"] button').click()
            page.locator('[data-testid="stSidebarNav"] a').first.wait_for(timeout=90_000)
            page.locator("h1").first.wait_for(timeout=90_000)
            page.wait_for_timeout(1500)
            page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached",
                                                                    timeout=90_000)
            return ctx, page

        # the first request of a fresh server is a link: no page runs before the sign-in
        ctx, page = follow(f"account?account={own}&lang=en")
        assert page.locator("h1").first.inner_text() == "Account"
        assert page.get_by_role("heading", name=name).count() == 1
        assert f"account={own}" in page.url
        ctx.close()
        ctx, page = follow(f"account?account={other}&lang=en")  # another manager's: refused
        assert page.get_by_text(f"Account {other} is not in your scope.").count() == 1
        ctx.close()
        ctx, page = follow(f"my_work?order={order['work_order_id']}&lang=en")
        assert page.locator("h1").first.inner_text() == "My work"
        pick = page.get_by_role("combobox", name="Work order").input_value()
        assert str(order["account_name_en"] or order["account_name"]) in pick
        assert f"order={order['work_order_id']}" in page.url
        ctx.close()
        browser.close()


# -- 4. an XLSX beside every CSV ----------------------------------------------------------
def test_the_xlsx_keeps_numbers_as_numbers_and_formula_like_text_inert():
    df = pd.DataFrame({
        "客户名称": ["=HYPERLINK(\"http://x\",\"y\")", "plain", None, "+cmd|' /C calc'!A0"],
        "monthly_revenue": [1200.5, np.nan, 3.0, -4.25],
        "accounts": pd.array([1, 2, None, 4], dtype="Int64"),
        "churned": [True, False, True, False],
        "since": pd.to_datetime(["2026-01-31", None, "2025-12-31", "2026-02-28"]),
        "note": ["a\x07b", "-5", "@SUM(A1)", "ok"],
    })
    ws = openpyxl.load_workbook(io.BytesIO(safety.to_xlsx(df, sheet="portfolio"))).active
    rows = [[c for c in r] for r in ws.iter_rows()]
    assert [c.value for c in rows[0]] == list(df.columns)
    assert [c.value for c in rows[1][1:4]] == [1200.5, 1, True]
    assert [c.data_type for c in rows[1][1:4]] == ["n", "n", "b"]
    assert rows[2][1].value is None and rows[3][2].value is None  # missing: empty cells
    assert rows[1][4].value.date() == date(2026, 1, 31) and rows[1][4].is_date
    for r, c in ((1, 0), (4, 0), (2, 5), (3, 5)):  # formula-like text: a string, quoted
        cell = rows[r][c]
        assert cell.data_type == "s" and cell.quotePrefix, (r, c)
        assert cell.value == df.iat[r - 1, c]  # the text itself, not changed
    assert not any(c.data_type == "f" for r in rows for c in r)  # no formula anywhere
    assert rows[1][5].value == "ab"  # a control character no cell may hold is dropped
    assert not rows[4][5].quotePrefix


def test_every_csv_download_has_an_xlsx_beside_it_built_only_when_clicked(demo_db,
                                                                         monkeypatch):
    import streamlit as st

    buttons: dict[str, tuple[str, object]] = {}
    real = st.download_button

    def spy(label, data, *args, **kwargs):
        buttons[kwargs["key"]] = (kwargs.get("file_name"), data)
        return real(label, data, *args, **kwargs)

    monkeypatch.setattr(st, "download_button", spy)
    built = []
    real_xlsx = safety.to_xlsx
    monkeypatch.setattr(safety, "to_xlsx", lambda df, **kw: built.append(len(df))
                        or real_xlsx(df, **kw))
    at = _signed_in("admin", "zh").run()
    assert not at.exception
    at.switch_page("pages/bundling.py").run()
    assert not at.exception
    assert built == []  # nothing was built while the pages ran
    for key in ("pf_download", "bd_recs_dl"):
        name, csv = buttons[key]
        xname, xlsx = buttons[f"{key}_xlsx"]
        assert name.endswith(".csv") and xname == name[:-4] + ".xlsx"
        table = pd.read_csv(io.BytesIO(csv()), encoding="utf-8-sig")
        ws = openpyxl.load_workbook(io.BytesIO(xlsx())).active
        values = list(ws.values)
        assert list(values[0]) == list(table.columns)  # the same headers, in Chinese
        assert len(values) - 1 == len(table)  # the same rows
        numeric = [j for j, c in enumerate(table.columns)
                   if pd.api.types.is_numeric_dtype(table[c]) and table[c].notna().any()]
        assert numeric
        for j in numeric:  # numbers as numbers, the same numbers
            got = pd.to_numeric(pd.Series([r[j] for r in values[1:]]), errors="raise")
            assert np.allclose(got.fillna(-1), table.iloc[:, j].fillna(-1))
    assert built  # ...and the clicks built them
    assert "客户编号" in list(openpyxl.load_workbook(io.BytesIO(
        buttons["pf_download_xlsx"][1]())).active.values)[0]


# -- 5. the Settings editor in Chinese: no raw keys -----------------------------------------
RAW = {"admin_level", "fixed", "log", "percentile", "minmax", "zero", "median", "best",
       "label_en", "label_zh", "code", "settings_id", "comment", "active", "updated_by",
       "updated_at", "name", "label", "dimension", "weight", "norm", "missing", "share",
       "threshold", "dedicated_agent", "repair_sla_hours", "visit_days"}


def test_the_settings_page_in_chinese_shows_no_raw_keys(demo_db):
    at = _signed_in("admin", "zh").run()
    at.switch_page("pages/settings.py").run()
    assert not at.exception
    tables = list(at.dataframe)
    assert len(tables) >= 3
    seen = []
    for t in tables:
        config = json.loads(t.proto.columns) if t.proto.columns else {}
        for col in t.value.columns:
            c = config.get(str(col)) or {}
            if c.get("hidden"):
                continue  # not shown (the measure's identifier: its label is shown)
            label = c.get("label") or str(col)
            seen.append(label)
            assert label not in RAW, (col, label)
            options = (c.get("type_config") or {}).get("options") or []
            for o in options:  # a choice list's entries: their labels, in Chinese
                assert isinstance(o, dict) and o["label"] not in RAW, (col, o)
    assert {"英文名称", "中文名称", "版本", "修改人", "标准化方法"} <= set(seen)
    text = "\n".join(str(e.value) for e in [*at.caption, *at.markdown])
    for raw in ("admin_level", "label_en", "settings_id", "fixed/log"):
        assert raw not in text
    history = next(t for t in tables if "版本" in t.value.columns)
    assert set(history.value["生效中"]) <= {"是", "否"}


def test_settings_choices_survive_a_language_switch(demo_db):
    at = _signed_in("admin", "zh").run()
    at.switch_page("pages/settings.py").run()
    at.selectbox(key="tier_method").set_value("threshold").run()
    assert at.selectbox(key="tier_method").value == "threshold"
    at.session_state["lang"] = "en"  # what the switch sets (app.py's sidebar), then a rerun:
    at.run()  # the browser sends back the choice as it was labelled, in Chinese
    method = at.selectbox(key="tier_method")
    assert method.value == "threshold"
    assert method.proto.set_value and method.proto.raw_value == "thresholds"


# -- 6. a readable product graph ------------------------------------------------------------
@pytest.fixture(scope="module")
def graph(demo_path):
    from valuation.bundling import build_graph, load_holdings

    with Store(demo_path) as s:
        h = load_holdings(s)
        products = s.read_table("products")
    return build_graph(h, products)


def test_the_graph_keeps_each_products_strongest_pairs(graph):
    nodes, edges = bundling.graph_frames(graph, min_lift=1.3)
    co = edges[edges["kind"] == "co_holding"]
    v_nodes, v_edges, total = bundling.graph_view(nodes, edges, top_k=2)
    shown = v_edges[v_edges["kind"] == "co_holding"]
    assert total == len(co) and 0 < len(shown) < len(co)
    assert shown["lift"].is_monotonic_decreasing and (shown["lift"] >= 1.3).all()
    # by hand: a pair stays when it is among the two highest lifts of one of its products
    ends = pd.concat([co[["source", "lift"]].rename(columns={"source": "p"}),
                      co[["target", "lift"]].rename(columns={"target": "p"})])
    second = ends.groupby("p")["lift"].apply(lambda x: x.nlargest(2).min())
    kept = (co["lift"] >= co["source"].map(second)) | (co["lift"] >= co["target"].map(second))
    assert set(zip(shown["source"], shown["target"], strict=True)) == set(
        zip(co.loc[kept, "source"], co.loc[kept, "target"], strict=True))
    # every product on one ring, each at its own angle: labels run outward like spokes
    assert len(v_nodes) == len(nodes)
    assert np.allclose(np.hypot(v_nodes["x"], v_nodes["y"]), 1.0)
    angles = np.round(np.degrees(np.arctan2(v_nodes["y"], v_nodes["x"])), 6)
    assert len(set(angles)) == len(v_nodes)


def test_the_graph_centres_on_a_product_or_a_family(graph):
    nodes, edges = bundling.graph_frames(graph, min_lift=1.0)
    hub = str(nodes.loc[nodes["provider"] == "ours"].sort_values("holders")["product_id"].iloc[-1])
    v_nodes, v_edges, total = bundling.graph_view(nodes, edges, top_k=3, centre=[hub])
    co = v_edges[v_edges["kind"] == "co_holding"]
    assert 0 < len(co) <= 3 and total >= len(co)
    assert ((v_edges["source"] == hub) | (v_edges["target"] == hub)).all()
    mine = edges[(edges["kind"] == "co_holding")
                 & ((edges["source"] == hub) | (edges["target"] == hub))]
    assert sorted(co["lift"]) == sorted(mine["lift"].nlargest(3))  # its three strongest
    at = v_nodes.set_index("product_id")
    assert (at.loc[hub, "x"], at.loc[hub, "y"]) == (0.0, 0.0) and at.loc[hub, "central"]
    assert set(v_nodes["product_id"]) == {hub} | set(v_edges["source"]) | set(v_edges["target"])

    family = nodes.loc[nodes["family"] == "information", "product_id"].tolist()
    f_nodes, f_edges, _ = bundling.graph_view(nodes, edges, top_k=2, centre=family)
    assert (f_edges["source"].isin(family) | f_edges["target"].isin(family)).all()
    assert set(f_nodes.loc[f_nodes["central"], "product_id"]) == set(family) & set(
        f_nodes["product_id"])


def test_the_graph_chart_is_square_with_spoke_labels(graph):
    from valuation import charts

    nodes, edges = bundling.graph_frames(graph, min_lift=1.3)
    v_nodes, v_edges, _ = bundling.graph_view(nodes, edges, top_k=2)
    spec = charts.product_graph_chart(v_nodes, v_edges, "zh", square=580).to_dict()
    assert spec["width"] == spec["height"] == 580 and spec["autosize"]["type"] == "pad"
    texts = [layer for layer in spec["layer"] if layer["mark"]["type"] == "text"]
    assert {t["mark"]["align"] for t in texts} == {"left", "right"}
    assert all("angle" in t["encoding"] for t in texts)
    labelled = sum(len(spec["datasets"][t["data"]["name"]]) for t in texts)
    assert labelled == len(v_nodes)  # every product once


def test_the_bundling_page_centres_the_graph(demo_db):
    at = _signed_in("am01", "en").run()
    at.switch_page("pages/bundling.py").run()
    assert not at.exception
    centre = at.selectbox(key="bd_centre")
    assert centre.value == "" and centre.options[0] == "The whole catalogue"
    assert "Family: Information" in centre.options
    centre.set_value("P-INF-CLOUD").run()
    assert not at.exception
    pairs = next(d.value for d in at.dataframe if "Held with" in d.value.columns)
    assert 0 < len(pairs) <= 2  # its two strongest (the default)
    assert ((pairs["Product"] == "Cloud hosts & storage")
            | (pairs["Held with"] == "Cloud hosts & storage")).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_maps_points_are_the_largest_of_the_filtered_rows(seed):
    """``largest`` picks, before any copy, the rows ``nlargest`` would keep (missing last)."""
    rng = np.random.default_rng(seed)
    n = 500
    revenue = rng.permutation(n).astype(float)  # distinct: one right answer
    revenue[rng.choice(n, 40, replace=False)] = np.nan
    frame = pd.DataFrame({"monthly_revenue": pd.array(revenue, dtype="Float64")})
    hits = np.sort(rng.choice(n, 300, replace=False))
    got = portfolio.largest(frame, hits, "monthly_revenue", 50)
    want = frame.iloc[hits].astype(float).nlargest(50, "monthly_revenue").index.to_numpy()
    assert list(got) == sorted(want)
    few = hits[:30]
    assert portfolio.largest(frame, few, "monthly_revenue", 50) is few  # all of them
    # more asked than have a figure: the missing ones come last
    some = portfolio.largest(frame, hits, "monthly_revenue", 290)
    assert np.isnan(revenue[np.setdiff1d(hits, some)]).all()
