"""The app on data it has never seen: the generated wide export, imported through its transform.

No owners, no competitors, no member lines, empty profile columns, all churn in one month:
every page must still answer its question, and the unassigned pool must work end to end.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from valuation import access, i18n, ingest
from valuation.store import Store, copy_database

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
PAGES = ["pages/portfolio.py", "pages/account.py", "pages/bundling.py", "pages/pyramid.py",
         "pages/retention.py", "pages/my_work.py", "pages/import_data.py", "pages/settings.py"]


@pytest.fixture(scope="module")
def wide_db(wide_path, tmp_path_factory):
    """The wide export plus one team: a lead, two account managers and an admin."""
    d = tmp_path_factory.mktemp("wide_app")
    db = d / "w.duckdb"
    copy_database(wide_path, db)
    people = d / "people"
    people.mkdir()
    pd.DataFrame({"team_id": ["T1"], "name": ["一组"], "name_en": ["Team 1"],
                  "lead_id": ["lead1"]}).to_csv(people / "teams.csv", index=False)
    pd.DataFrame({"user_id": ["lead1", "am1", "am2", "admin"],
                  "name": ["李主管", "王经理", "张经理", "管理员"],
                  "name_en": ["Li", "Wang", "Zhang", "Admin"],
                  "role": ["sales_lead", "account_manager", "account_manager", "admin"],
                  "team_id": ["T1", "T1", "T1", None]}).to_csv(people / "users.csv", index=False)
    with Store(db) as s:
        report = ingest.import_files(s, [people])
        assert report.ok and report.committed, report.to_text()
    old = os.environ.get("VALUATION_DB")
    os.environ["VALUATION_DB"] = str(db)
    yield db
    if old is None:
        os.environ.pop("VALUATION_DB", None)
    else:
        os.environ["VALUATION_DB"] = old


def _app(user_id: str, lang: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    with Store(os.environ["VALUATION_DB"]) as s:
        at.session_state["user"] = access.get_user(s, user_id)
    at.session_state["lang"] = lang
    return at


def _texts(at: AppTest) -> str:
    parts = [e.value for e in at.markdown] + [e.value for e in at.caption]
    parts += [str(e.value) for e in at.info] + [str(e.value) for e in at.warning]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_renders_on_the_wide_export(wide_db, lang):
    for page in PAGES:
        # My work is a page of managers and leads; the admin opens every other page
        at = _app("lead1" if page == "pages/my_work.py" else "admin", lang).run()
        assert not at.exception, at.exception
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert at.title, page
        shown = _texts(at) + "".join(str(e.value) for e in at.header)
        assert "nan" not in shown.split() and "None" not in shown.split(), page


def test_account_page_names_the_measures_it_could_not_use(wide_db):
    at = _app("admin", "en").run()
    at.switch_page("pages/account.py").run()
    assert not at.exception
    text = _texts(at)
    assert "Not scored in this account's model" in text
    assert "Closed user group" in text  # nobody holds one here


def test_lead_assigns_the_unassigned_pool_and_the_manager_sees_it(wide_db):
    at = _app("lead1", "en").run()
    at.switch_page("pages/retention.py")
    at.session_state["ret_tab"] = i18n.t("retention.unassigned", "en")  # lazy tabs
    at.run()
    assert not at.exception
    assert "live accounts have no owner" in _texts(at)
    at.multiselect(key="own_tier").set_value(["A"]).run()
    assert not at.exception
    at.selectbox(key="own_who").set_value("am2").run()
    at.button(key="own_assign_all").click().run()
    assert not at.exception
    assert any("assigned to Zhang" in str(e.value) for e in at.success)
    with Store(wide_db) as s:
        mine = s.query("SELECT account_id FROM accounts WHERE owner_id = 'am2'")
        audit = s.audit_entries("account_assignments")
    assert len(mine) > 0
    assert audit.iloc[-1]["user_id"] == "lead1"
    am = _app("am2", "en").run()
    assert not am.exception
    am.switch_page("pages/portfolio.py").run()
    assert not am.exception
    accounts = next(m for m in am.metric if m.label == "Active accounts")
    assert int(accounts.value.replace(",", "")) == len(mine)


def test_admin_calibrates_on_the_settings_page(wide_db, tmp_path):
    db = tmp_path / "cal.duckdb"
    copy_database(wide_db, db)
    os.environ["VALUATION_DB"] = str(db)
    try:
        at = _app("admin", "en").run()
        at.switch_page("pages/settings.py").run()
        at.number_input(key="cal_horizon").set_value(1).run()
        at.button(key="cal_run").click().run()
        assert not at.exception, at.exception
        assert "validated" in _texts(at) or any(
            "stratified k-fold" in str(df.value) for df in at.dataframe)
        at.toggle(key="cal_preview").set_value(True).run()
        assert not at.exception
        moved = next(m for m in at.metric if m.label == "Accounts changing strategy")
        assert int(moved.value.replace(",", "")) > 0
        at.button(key="set_save").click().run()
        assert not at.exception
        with Store(db) as s:
            from valuation.settings_store import active_settings

            sme = active_settings(s).model("sme")
            weights = {m.name: m.weight for m in sme.measures}
        assert weights["term_contract"] > 0 and weights["our_families"] == 0
    finally:
        os.environ["VALUATION_DB"] = str(wide_db)


def test_bundling_ranks_by_the_model_chosen_here_and_an_admin_keeps_it(wide_db, tmp_path):
    db = tmp_path / "rank.duckdb"
    copy_database(wide_db, db)
    os.environ["VALUATION_DB"] = str(db)
    try:
        at = _app("admin", "en").run()
        at.switch_page("pages/bundling.py").run()
        assert not at.exception
        text = _texts(at)
        assert "Ranked by **Co-holding model" in text
        assert "chosen on this portfolio's own holdings" in text
        at.button(key="rank_keep").click().run()
        assert not at.exception
        with Store(db) as s:
            from valuation.bundling import Blend
            from valuation.settings_store import active_settings

            kept = Blend.from_settings(active_settings(s))
        assert kept.uses_model
        assert "kept in the settings by an admin" in _texts(at)
    finally:
        os.environ["VALUATION_DB"] = str(wide_db)


def test_a_cross_sectional_model_says_so_and_its_rules_are_read_against_history(wide_db,
                                                                                  tmp_path):
    from valuation import churn
    from valuation.settings_store import active_settings

    db = tmp_path / "churn.duckdb"
    copy_database(wide_db, db)
    with Store(db) as s:
        card = churn.train(s, settings=active_settings(s), horizon_months=1)
    assert card["status"] == "cross_sectional"
    os.environ["VALUATION_DB"] = str(db)
    try:
        at = _app("admin", "en").run()
        at.switch_page("pages/retention.py")
        at.session_state["ret_tab"] = i18n.t("retention.churn", "en")
        at.run()
        assert not at.exception
        assert any("Cross-sectional" in str(w.value) for w in at.warning)
        assert "5-fold cross-validation" in _texts(at)
        at.switch_page("pages/settings.py").run()
        assert not at.exception
        rules = next(df.value for df in at.dataframe if "Lift" in df.value.columns)
        row = rules.set_index("Rule").loc["No term contract"]
        assert float(row["Lift"]) > 1.2
        ending = rules.set_index("Rule").loc["Contract ending soon"]
        assert ending["Weak"] == "lift < 1"
    finally:
        os.environ["VALUATION_DB"] = str(wide_db)


def test_a_hostile_account_name_renders_as_text(wide_db, tmp_path):
    hostile = "![x](http://198.51.100.7/p.png) [click](http://198.51.100.7) $x^2$ <b>bold</b>"
    db = tmp_path / "hostile.duckdb"
    copy_database(wide_db, db)
    with Store(db) as s:
        account = s.scalar("SELECT account_id FROM accounts ORDER BY account_id LIMIT 1")
        with s.facts_session() as con:
            con.execute("UPDATE accounts SET name = ?, name_en = ? WHERE account_id = ?",
                        [hostile, hostile, account])
    os.environ["VALUATION_DB"] = str(db)
    try:
        at = _app("admin", "en")
        at.session_state["account_id"] = account
        at.run()
        at.switch_page("pages/account.py").run()
        assert not at.exception
        header = at.header[0].value
        # every sign that would make an image, a link, a formula or HTML is escaped
        import re

        assert re.search(r"(?<!\\)[!\[\]()$<>]", header) is None, header
        assert header.replace("\\", "").replace("\u200b", "") == hostile
    finally:
        os.environ["VALUATION_DB"] = str(wide_db)
