"""The Streamlit app through AppTest: sign-in, pages per role, scope, both languages."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from valuation import access
from valuation.store import Store, copy_database

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
PASSWORDS = {"am01": "demo-am01", "am02": "demo-am02", "lead01": "demo-lead01",
             "exec01": "demo-exec01", "admin": "demo-admin"}


@pytest.fixture(scope="module")
def demo_db(demo_path):
    os.environ["VALUATION_DB"] = str(demo_path)
    yield demo_path
    os.environ.pop("VALUATION_DB", None)


def _signed_in(user_id: str, lang: str = "zh") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    with Store(os.environ["VALUATION_DB"]) as s:
        user = access.get_user(s, user_id)
    at.session_state["user"] = user
    at.session_state["lang"] = lang
    return at


def _texts(at: AppTest) -> str:
    parts = [e.value for e in at.title] + [e.value for e in at.header] + [e.value for e in at.subheader]
    parts += [e.value for e in at.markdown] + [e.value for e in at.caption]
    parts += [str(e.value) for e in at.error] + [str(e.value) for e in at.info]
    return "\n".join(str(p) for p in parts)


def test_sign_in_form(demo_db):
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    at.text_input(key="signin_user").input("am01")
    at.text_input(key="signin_password").input("wrong-password")
    at.button[0].click().run()
    assert any("错误" in str(e.value) or "Wrong" in str(e.value) for e in at.error)
    at.text_input(key="signin_password").input(PASSWORDS["am01"])
    at.button[0].click().run()
    assert not at.exception
    assert at.session_state["user"].user_id == "am01"


ROLE_PAGES = {
    "am01": ["pages/portfolio.py", "pages/account.py", "pages/bundling.py",
             "pages/my_work.py"],
    "lead01": ["pages/portfolio.py", "pages/account.py", "pages/bundling.py", "pages/pyramid.py",
               "pages/retention.py", "pages/my_work.py"],
    "exec01": ["pages/portfolio.py", "pages/account.py", "pages/bundling.py", "pages/pyramid.py",
               "pages/retention.py"],
    "admin": ["pages/portfolio.py", "pages/account.py", "pages/bundling.py", "pages/pyramid.py",
              "pages/retention.py", "pages/import_data.py", "pages/settings.py"],
}


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("user_id", list(ROLE_PAGES))
def test_every_page_renders_for_each_role(demo_db, user_id, lang):
    at = _signed_in(user_id, lang).run()
    assert not at.exception, at.exception
    for page in ROLE_PAGES[user_id]:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert at.title, page


def test_account_manager_sees_only_own_accounts(demo_db):
    at = _signed_in("am01", "en").run()
    table = at.dataframe[-1].value if at.dataframe else None
    assert table is not None
    with Store(os.environ["VALUATION_DB"]) as s:
        own = set(s.query("SELECT account_id FROM accounts WHERE owner_id = 'am01'")["account_id"])
    assert set(table["Account ID"]) <= own and len(table) > 0


def test_account_manager_cannot_open_another_managers_account(demo_db):
    with Store(os.environ["VALUATION_DB"]) as s:
        other = s.scalar("SELECT min(account_id) FROM accounts WHERE owner_id = 'am02'")
        name = s.scalar("SELECT name FROM accounts WHERE account_id = ?", [other])
    at = _signed_in("am01", "zh")
    at.query_params["account"] = other
    at.run()
    at.switch_page("pages/account.py")
    at.query_params["account"] = other
    at.run()
    assert not at.exception
    assert any(other in str(e.value) for e in at.error)
    assert name not in _texts(at)
    # ...and the session state route is closed too
    at.session_state["account_id"] = other
    at.run()
    assert name not in _texts(at)


def _account_tab(at: AppTest, tab: str, lang: str = "en") -> AppTest:
    """Open one of the Account page's tabs (lazy: only the open one runs) on the next run."""
    from valuation import i18n

    at.session_state["acc_tab"] = i18n.t(f"account.tab_{tab}", lang)
    return at


def test_sales_lead_sees_team_accounts(demo_db):
    at = _signed_in("lead01", "en").run()
    at.switch_page("pages/account.py")
    with Store(os.environ["VALUATION_DB"]) as s:
        am02 = s.scalar("SELECT min(account_id) FROM accounts WHERE owner_id = 'am02'")
    at.query_params["account"] = am02
    at.run()
    assert not at.exception
    assert not any(am02 in str(e.value) for e in at.error)


def test_admin_pages_refuse_other_roles_even_when_opened_directly(demo_db):
    """Not in their navigation, and the page itself refuses when run anyway."""
    for page, message in (("pages/import_data.py", "may not open the page Import"),
                          ("pages/settings.py", "may not open the page Settings")):
        at = AppTest.from_file(str(ROOT / page), default_timeout=120)
        with Store(os.environ["VALUATION_DB"]) as s:
            at.session_state["user"] = access.get_user(s, "exec01")
        at.session_state["lang"] = "en"
        at.run()
        assert any(message in str(e.value) for e in at.error), page
        assert not at.get("file_uploader") and not at.get("text_area")


def test_admin_changes_settings_previews_saves_and_the_pyramid_moves(demo_path, tmp_path):
    """Issue flow: an admin changes tiering, previews the effect, saves, sees tiers move."""

    from valuation import features, settings_store
    from valuation.analysis import analyse

    db = tmp_path / "settings.duckdb"
    copy_database(demo_path, db)
    os.environ["VALUATION_DB"] = str(db)
    try:
        at = _signed_in("admin", "en").run()
        at.switch_page("pages/settings.py").run()
        assert not at.exception
        assert any("No change" in str(e.value) for e in at.info)
        text = at.text_area(key="set_toml_text").value
        edited = text.replace('method = "quantile"', 'method = "threshold"')
        assert edited != text
        at.text_area(key="set_toml_text").input(edited)
        at.toggle(key="set_use_toml").set_value(True).run()
        assert not at.exception
        moved = next(m for m in at.metric if m.label == "Accounts changing tier")
        assert int(moved.value.replace(",", "")) > 0
        at.text_input(key="set_comment").input("thresholds instead of quantiles")
        at.button(key="set_save").click().run()
        assert not at.exception
        with Store(db) as s:
            hist = settings_store.settings_history(s)
            assert hist.iloc[0]["comment"] == "thresholds instead of quantiles"
            assert bool(hist.iloc[0]["active"]) and hist.iloc[0]["updated_by"] == "admin"
            now = analyse(features.account_frame(s), settings_store.active_settings(s))
            assert now.settings.get("tiers.method") == "threshold"
            assert len(s.audit_entries("settings_versions")) >= 1
        at.switch_page("pages/pyramid.py").run()
        assert not at.exception and "thresholds" in _texts(at)
    finally:
        os.environ["VALUATION_DB"] = str(demo_path)


def test_lead_assigns_and_manager_records_outcome(demo_path, tmp_path):
    """Issue flow: the lead sees warnings as work orders and assigns them; the account
    manager records the outcome on My work; the history keeps every step."""

    from valuation import warnings as W

    db = tmp_path / "retention.duckdb"
    copy_database(demo_path, db)
    os.environ["VALUATION_DB"] = str(db)
    try:
        at = _signed_in("lead01", "en").run()
        at.switch_page("pages/retention.py").run()
        assert not at.exception, at.exception
        with Store(db) as s:
            lead = access.get_user(s, "lead01")
            orders = W.open_orders(s, lead)
        assert len(orders) > 0
        assert set(orders["team_id"].dropna()) == {"T01"}
        queue = at.dataframe(key=at.session_state["ret_queue_key"])
        assert len(queue.value) == orders["account_id"].nunique()  # one row per account
        # assign the first open order of am02's accounts to am01 through the page's controls
        target = orders[orders["owner_id"] == "am02"].iloc[0]["work_order_id"]
        row = list(queue.value["Account ID"]).index(
            orders.set_index("work_order_id").at[target, "account_id"])
        qkey = at.session_state["ret_queue_key"]  # the key follows the rows shown
        at.session_state[qkey] = {"selection": {"rows": [row], "columns": []}}
        at.run()
        at.selectbox(key="ret_who").set_value("am01")
        at.button(key="ret_assign").click().run()
        assert not at.exception, at.exception
        with Store(db) as s:
            assigned = W.open_orders(s, lead)
        moved = assigned.set_index("work_order_id").loc[target]
        assert moved["assignee_id"] == "am01" and moved["status"] == "assigned"
        picked = target

        am = _signed_in("am01", "en").run()
        am.switch_page("pages/my_work.py").run()
        assert not am.exception, am.exception
        am.selectbox(key="mw_pick").set_value(picked).run()
        for step in ("contacted", "retained"):
            keys = am.session_state["mw_keys"]  # the form's keys follow the order's version
            am.selectbox(key=keys["move"]).set_value(step)
            am.text_area(key=keys["note"]).input(f"called back: {step}")
            next(b for b in am.button if b.label == "Save").click().run()
            assert not am.exception, am.exception
            am.selectbox(key="mw_pick")  # still there while other orders are open
            if step == "contacted":
                am.selectbox(key="mw_pick").set_value(picked).run()
                history = next(d.value for d in am.dataframe if "Note" in d.value.columns
                               and "Date" in d.value.columns)
                words = list(history["Note"])
                assert "Status Assigned → Contacted: called back: contacted" in words
                assert any(w.startswith("Assigned to ") for w in words)
                hits = history[history["Kind"] == "Warning"]
                assert len(hits) >= 1 and hits["Date"].str.match(r"2026-10-\d\d$").all()
                assert (hits.iloc[:, 1] == "System").all()  # the jobs by name, not "system"
        with Store(db) as s:
            done = s.query("SELECT * FROM work_orders WHERE work_order_id = ?", [picked]).iloc[0]
            kinds = list(W.order_history(s, picked)["kind"])
            audit = s.audit_entries("work_orders")
        assert done["status"] == "retained" and done["outcome"] == "retained"
        assert kinds.count("status") == 2 and "assign" in kinds and kinds[0] == "hit"
        assert (audit["user_id"] == "am01").sum() >= 2
    finally:
        os.environ["VALUATION_DB"] = str(demo_path)


def test_lead_filters_the_queue(demo_db):
    from valuation import warnings as W

    with Store(os.environ["VALUATION_DB"]) as s:
        orders = W.open_orders(s, access.get_user(s, "lead01"))
    at = _signed_in("lead01", "en")
    at.switch_page("pages/retention.py").run()
    assert not at.exception, at.exception
    first = at.dataframe(key=at.session_state["ret_queue_key"]).value
    assert len(first) == orders["account_id"].nunique()  # one row per account
    # the order the caption states: retention priority, highest first
    assert "retention priority" in " ".join(str(c.value) for c in at.caption)
    assert not first["Tier"].isna().any() and "None" not in set(first["Tier"].astype(str))
    known = first["Priority"].dropna()  # orders of accounts no longer live have none: last
    assert len(known) > 0 and known.is_monotonic_decreasing
    assert first["Priority"].iloc[:len(known)].notna().all()
    rule = orders["rule"].value_counts().index[0]
    at.multiselect(key="ret_f_rule").set_value([rule]).run()
    queue = at.dataframe(key=at.session_state["ret_queue_key"]).value
    assert len(queue) == int((orders["rule"] == rule).sum()) and len(queue) < len(first)
    at.toggle(key="ret_f_esc").set_value(True).run()
    queue = at.dataframe(key=at.session_state["ret_queue_key"]).value
    expected = int(((orders["rule"] == rule) & orders["escalated"].fillna(False)).sum())
    assert len(queue) == expected and set(queue["Escalated"]) <= {"⬆"}
    assert any(f"{expected:,} of {len(orders):,} orders" in str(c.value) for c in at.caption)


def test_account_manager_writes_a_plan_that_survives_reimport(demo_path, tmp_path):

    from valuation import ingest, planning

    db = tmp_path / "plans.duckdb"
    copy_database(demo_path, db)
    os.environ["VALUATION_DB"] = str(db)
    try:
        with Store(db) as s:
            acc = s.scalar("SELECT min(account_id) FROM accounts WHERE owner_id = 'am01'")
        at = _signed_in("am01", "en")
        at.query_params["account"] = acc
        at.run()
        at.switch_page("pages/account.py")
        at.query_params["account"] = acc
        _account_tab(at, "retention").run()
        assert not at.exception, at.exception
        at.selectbox(key="plan_objective").set_value("grow_share")
        at.text_input(key="plan_action").input("Propose cloud PBX with the renewal")
        at.date_input(key="plan_due").set_value(date(2026, 12, 15))  # a plan states by when
        next(b for b in at.button if b.label == "Save").click().run()
        assert not at.exception, at.exception
        with Store(db) as s:
            plans = planning.plans_for(s, acc)
            assert list(plans["action"]) == ["Propose cloud PBX with the renewal"]
            out = tmp_path / "export"
            ingest.export_tables(s, out, fmt="parquet")
            assert ingest.import_files(s, [out]).ok  # facts re-imported
            assert list(planning.plans_for(s, acc)["objective"]) == ["grow_share"]
        ex = _signed_in("exec01", "en")
        ex.switch_page("pages/account.py")
        ex.query_params["account"] = acc
        _account_tab(ex, "retention").run()
        assert "Propose cloud PBX with the renewal" in str(
            [d.value for d in ex.dataframe])
        assert not ex.get("text_input") or "plan_action" not in [w.key for w in ex.text_input]
    finally:
        os.environ["VALUATION_DB"] = str(demo_path)


def test_a_plan_follows_a_suggestion_and_answers_a_work_order(demo_path, tmp_path):
    """The plan editor links one of the account's open work orders and a cross-sell
    suggestion; left without an action, the suggestion names it."""

    from valuation import planning

    db = tmp_path / "plan-links.duckdb"
    copy_database(demo_path, db)
    os.environ["VALUATION_DB"] = str(db)
    try:
        with Store(db) as s:
            acc, order = s.query(
                "SELECT w.account_id, min(w.work_order_id) FROM work_orders w JOIN accounts a "
                "USING (account_id) WHERE a.owner_id = 'am01' GROUP BY w.account_id "
                "ORDER BY w.account_id LIMIT 1").iloc[0]
        at = _signed_in("am01", "en")
        at.switch_page("pages/account.py")
        at.query_params["account"] = acc
        _account_tab(at, "retention").run()
        assert not at.exception, at.exception
        suggestions = [o for o in at.selectbox(key="plan_product").options if o != "–"]
        assert suggestions, "the account has cross-sell suggestions to follow"
        at.selectbox(key="plan_objective").set_value("grow_share")
        at.selectbox(key="plan_work_order").set_value(order)
        product_label = suggestions[0]
        with Store(db) as s:
            product = s.scalar("SELECT product_id FROM products WHERE name_en = ?",
                               [product_label])
        at.selectbox(key="plan_product").set_value(product)
        at.date_input(key="plan_due").set_value(date(2026, 12, 15))  # a plan states by when
        next(b for b in at.button if b.label == "Save").click().run()
        assert not at.exception, at.exception
        with Store(db) as s:
            plans = planning.plans_for(s, acc)
        mine = plans[plans["objective"] == "grow_share"].iloc[0]
        assert mine["work_order_id"] == order and mine["work_order_rule"]
        assert mine["product_id"] == product and mine["action"] == f"Offer {product_label}"
    finally:
        os.environ["VALUATION_DB"] = str(demo_path)


def test_what_if_on_the_account_page_raises_loyalty(demo_db):
    """An account manager picks a suggested product in the what-if panel: loyalty moves up."""
    with Store(os.environ["VALUATION_DB"]) as s:
        acc = s.scalar(
            "SELECT a.account_id FROM accounts a JOIN holdings h USING (account_id) "
            "WHERE a.owner_id = 'am01' AND h.provider = 'ours' GROUP BY a.account_id "
            "HAVING count(DISTINCT h.product_id) = 1 ORDER BY a.account_id LIMIT 1")
    at = _signed_in("am01", "en")
    at.switch_page("pages/account.py")
    at.query_params["account"] = acc
    _account_tab(at, "products").run()
    assert not at.exception, at.exception
    assert at.multiselect(key="wi_add").value, "the top suggestion is preselected"
    table = next(d.value for d in at.dataframe if "Today" in d.value.columns)
    row = table.set_index("Measure").loc["Loyalty"]
    assert float(row["After"]) > float(row["Today"])
    # the churn side of the same change: probability, expected life and lifetime value
    measures = table.set_index("Measure")
    assert {"Churn probability (6 months)", "Expected remaining months",
            "Lifetime value"} <= set(measures.index)
    assert measures.loc["Churn probability (6 months)", "Today"].endswith("%")
    assert measures.loc["Lifetime value", "After"].startswith("¥")
    if int(measures.loc["Families covered", "After"]) > int(measures.loc["Families covered",
                                                                         "Today"]):
        assert float(measures.loc["Expected remaining months", "After"]) != float(
            measures.loc["Expected remaining months", "Today"])


def test_admin_trains_the_churn_model_and_the_pages_use_it(demo_path, tmp_path):
    """Without a model the pages say so and rank by the rules; an admin trains it on the
    Import page; then the Account page shows the model's probability and factors and the
    Retention page its card and the at-risk accounts no work order covers."""

    from valuation import churn, settings_store
    from valuation.config import DEFAULT_SETTINGS_PATH

    db = tmp_path / "model.duckdb"
    copy_database(demo_path, db)  # the database only: no model beside it yet
    assert not churn.model_path(db).exists()
    os.environ["VALUATION_DB"] = str(db)
    try:
        with Store(db) as s:
            # the demo copy has fewer churn events than the default 100 a model needs
            text = DEFAULT_SETTINGS_PATH.read_text(encoding="utf-8") + "\n[churn]\nmin_events = 40\n"
            settings_store.save_settings(s, text, user="admin", comment="a small portfolio")
            assert settings_store.active_settings(s).get("churn.min_events") == 40
            acc = s.scalar("SELECT account_id FROM work_orders ORDER BY severity DESC, "
                           "account_id LIMIT 1")
        at = _signed_in("admin", "en")
        at.switch_page("pages/account.py")
        at.query_params["account"] = acc
        _account_tab(at, "retention").run()
        assert not at.exception, at.exception
        prob = next(m for m in at.metric if m.label == "Churn probability (6 months)")
        assert prob.value == "–" and "No churn model trained yet" in _texts(at)

        at.switch_page("pages/models_jobs.py").run()
        assert not at.exception and "No churn model trained yet" in _texts(at)
        at.button(key="mj_train").click().run()  # the retrain job, its stages shown meanwhile
        assert not at.exception, at.exception
        assert any("Churn model retraining done" in m
                   for m in at.session_state["_flash_messages"])
        card = json.loads(churn.card_path(churn.model_path(db)).read_text(encoding="utf-8"))
        assert card["method"] == "calibrated_gbm" and card["min_events"] == 40
        assert "Calibrated gradient boosting" in _texts(at)

        with Store(db) as s:
            risk = churn.portfolio_risk(s, settings=settings_store.active_settings(s),
                                        model=churn.load_model(churn.model_path(db)))
        assert risk.attrs["risk_source"] == "model"
        high, low = risk["churn_probability"].idxmax(), risk["churn_probability"].idxmin()
        for account, expect in ((high, "Main factors raising the risk"),
                                (low, "Below the portfolio's churn rate")):
            at.switch_page("pages/account.py")
            at.query_params["account"] = account
            _account_tab(at, "retention").run()
            assert not at.exception, at.exception
            prob = next(m for m in at.metric if m.label == "Churn probability (6 months)")
            shown = risk.loc[account, "churn_probability"]
            assert prob.value == (">99%" if shown >= .995 else "<1%" if shown < .005
                                  else f"{shown:.0%}")
            assert expect in _texts(at)
            assert ("still with us in 1 year" in _texts(at)) != (
                "to draw their survival curve" in _texts(at))
            ltv = next(m for m in at.metric if m.label == "Lifetime value")
            assert ltv.value != "–" and risk.loc[account, "lifetime_value"] > 0

        lead = _signed_in("lead01", "en")
        lead.switch_page("pages/retention.py")
        lead.session_state["ret_tab"] = "Churn risk"  # a lazy tab: only the open one runs
        lead.run()
        assert not lead.exception, lead.exception
        texts = _texts(lead)
        assert "Calibrated gradient boosting" in texts and "after 5 years of tenure" in texts
        unflagged = next(d.value for d in lead.dataframe if "Main factor" in d.value.columns)
        with Store(db) as s:
            open_accounts = set(s.query("SELECT account_id FROM work_orders WHERE status NOT IN "
                                        "('retained', 'lost', 'false_alarm')")["account_id"])
        assert len(unflagged) > 0 and not set(unflagged["Account ID"]) & open_accounts
    finally:
        os.environ["VALUATION_DB"] = str(demo_path)


def _fingerprint(df) -> tuple:
    import pandas as pd

    parts = []
    for c in df.columns:
        s = df[c]
        try:
            h = int(pd.util.hash_pandas_object(s, index=True).sum())
        except TypeError:  # list-valued cells
            h = int(pd.util.hash_pandas_object(s.astype(str), index=True).sum())
        parts.append((c, str(s.dtype), h))
    return tuple(parts), len(df), json.dumps(df.attrs, sort_keys=True, default=str)


def test_no_page_changes_the_shared_analysis(demo_db):
    """The analysed portfolio is one object shared by every session (st.cache_resource): after
    every page in every role has run, it is exactly what it was."""
    from ui import state

    at = _signed_in("admin", "en").run()
    assert not at.exception
    with Store(os.environ["VALUATION_DB"]) as s:
        from valuation import prepared

        dv, sid = prepared.current_key(s)
    key = (str(Path(os.environ["VALUATION_DB"]).resolve()), dv, sid)
    shared = state._analysis(*key).frame
    with_prev = state._with_previous(*key)
    before = _fingerprint(shared), _fingerprint(with_prev)
    for user_id, pages in ROLE_PAGES.items():
        at = _signed_in(user_id, "en").run()
        for page in pages:
            at.switch_page(page).run()
            assert not at.exception, (user_id, page, at.exception)
    assert state._analysis(*key).frame is shared  # the same object was served throughout
    assert (_fingerprint(shared), _fingerprint(with_prev)) == before


def test_big_tables_are_capped_and_the_download_is_built_on_click(demo_db, monkeypatch):
    """A table never sends more than TABLE_ROWS rows to the browser and says so; the CSV of
    the whole set is not built while the page runs."""
    from ui import widgets

    monkeypatch.setattr(widgets, "TABLE_ROWS", 50)
    monkeypatch.setattr(widgets.capped, "__defaults__", (50,))
    monkeypatch.setattr(widgets.capped_note, "__defaults__", (50,))
    built = []
    import valuation.safety as safety

    real = safety.escape_formulas
    monkeypatch.setattr(safety, "escape_formulas", lambda df: built.append(len(df)) or real(df))
    at = _signed_in("admin", "en").run()
    assert not at.exception
    sizes = [len(d.value) for d in at.dataframe]
    assert max(sizes) == 50 and 50 in sizes
    assert "The first 50 of" in _texts(at) and "the download has them all" in _texts(at)
    assert built == []  # no CSV was built for the downloads on the page


def test_ticks_do_not_survive_a_filter_change_and_assign_acts_on_the_ticked_ids(demo_path,
                                                                               tmp_path):
    """Issue 12's bulk-assign case: two orders ticked, then a filter change. The ticks are
    cleared (never re-read as positions in the new list), the lead is told, Assign does
    nothing; ticking again in the filtered list assigns exactly the two orders ticked."""
    from valuation import i18n
    from valuation import warnings as W

    db = tmp_path / "ticks.duckdb"
    copy_database(demo_path, db)
    os.environ["VALUATION_DB"] = str(db)
    try:
        at = _signed_in("lead01", "en").run()
        at.switch_page("pages/retention.py").run()
        with Store(db) as s:
            lead = access.get_user(s, "lead01")
            before = W.open_orders(s, lead).set_index("work_order_id")
        first = at.session_state["ret_queue_key"]
        at.session_state[first] = {"selection": {"rows": [0, 1], "columns": []}}
        at.run()
        counts = before["rule"].value_counts()
        rule = counts[counts >= 2].index[-1]  # a rare rule: a different, shorter list
        at.multiselect(key="ret_f_rule").set_value([rule]).run()
        assert not at.exception, at.exception
        second = at.session_state["ret_queue_key"]
        assert second != first
        assert any("nothing was assigned" in str(e.value) for e in at.info)
        assert at.button(key="ret_assign").disabled  # nothing ticked in the new list
        with Store(db) as s:
            unchanged = W.open_orders(s, lead).set_index("work_order_id")
        assert unchanged["version"].equals(before["version"])  # nothing was written

        shown = at.dataframe(key=second).value
        assert len(shown) >= 2 and set(shown["Warning"]) == {i18n.rule(rule, "en")}
        at.session_state[second] = {"selection": {"rows": [0, 1], "columns": []}}
        at.run()
        at.selectbox(key="ret_who").set_value("am01")
        at.button(key="ret_assign").click().run()
        assert not at.exception, at.exception
        with Store(db) as s:
            after = W.open_orders(s, lead).set_index("work_order_id")
        moved = after.index[after["version"] != before["version"].reindex(after.index)]
        ticked = before[(before["rule"] == rule)].index  # the filtered list, in page order
        assert len(moved) == 2 and set(moved) <= set(ticked)
        assert set(after.loc[moved, "account_id"]) == set(shown["Account ID"].iloc[:2])
        assert (after.loc[moved, "assignee_id"] == "am01").all()
    finally:
        os.environ["VALUATION_DB"] = str(demo_path)


def test_a_bulk_assign_on_a_stale_list_changes_nothing(demo_path, tmp_path):
    """The lead selects an order; before the click someone else assigns it. The page's assign
    is checked against the version the lead saw: nothing is assigned, a clear message says
    why; the other person's assignment stands."""
    from valuation import warnings as W

    db = tmp_path / "stale.duckdb"
    copy_database(demo_path, db)
    os.environ["VALUATION_DB"] = str(db)
    try:
        at = _signed_in("lead01", "en").run()
        at.switch_page("pages/retention.py").run()
        assert not at.exception, at.exception
        queue = at.dataframe(key=at.session_state["ret_queue_key"]).value
        qkey = at.session_state["ret_queue_key"]
        at.session_state[qkey] = {"selection": {"rows": [0], "columns": []}}
        at.run()
        with Store(db) as s:
            lead = access.get_user(s, "lead01")
            orders = W.open_orders(s, lead)
            ids = orders.loc[orders["account_id"] == queue["Account ID"].iloc[0],
                             "work_order_id"].tolist()  # the selected row's among them
            W.assign(s, ids, "lead01", user="admin")  # someone else, meanwhile
        at.selectbox(key="ret_who").set_value("am01")
        at.button(key="ret_assign").click().run()
        assert not at.exception, at.exception
        # the queue shows the new versions: the ticks are cleared (a fresh table key), the
        # lead is told so, and the click assigns nothing
        assert qkey != at.session_state["ret_queue_key"]
        assert any("nothing was assigned" in str(e.value) for e in at.info), [
            str(e.value) for e in at.info]
        with Store(db) as s:
            now = W.open_orders(s, lead).set_index("work_order_id")
        assert (now.loc[ids, "assignee_id"] == "lead01").all()
    finally:
        os.environ["VALUATION_DB"] = str(demo_path)


def test_a_leads_group_rollup_names_every_group_head(demo_db):
    """A team's branches of a group whose head another team owns: the head is named (marked
    outside the scope), never "None"; the head's own tier shows only inside the scope."""
    at = _signed_in("lead01", "en")
    at.switch_page("pages/pyramid.py").run()
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "Head's tier" in d.value.columns
                 or "Members" in d.value.columns)
    names = table["Name"].astype(str)
    assert len(table) > 0 and not names.isin(["None", "nan", "–", ""]).any(), names
    with Store(os.environ["VALUATION_DB"]) as s:
        mine = set(s.query("SELECT a.account_id FROM accounts a JOIN users u "
                           "ON u.user_id = a.owner_id WHERE u.team_id = 'T01'")["account_id"])
    outside = ~table["Account ID"].isin(mine)
    assert outside.any(), "the demo has groups headed outside the team"
    assert names[outside].str.endswith("(outside your scope)").all()
    assert not names[~outside].str.contains("outside your scope").any()
