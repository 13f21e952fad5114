"""The admin's tools: users and teams, account moves, the audit log, data quality, models and
jobs; in the library and through the pages (AppTest) for every role."""

from __future__ import annotations

import io
import json
import os
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import toy_frames
from streamlit.testing.v1 import AppTest

from valuation import access, admin, i18n, jobs, signin
from valuation.store import ConflictError, Store, copy_database

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
ADMIN_PAGES = ("pages/admin_users.py", "pages/audit.py", "pages/data_quality.py",
               "pages/models_jobs.py")
TITLES = {"pages/admin_users.py": "Users and teams", "pages/audit.py": "Audit log",
          "pages/data_quality.py": "Data quality", "pages/models_jobs.py": "Models and jobs"}


@pytest.fixture()
def db(demo_path, tmp_path):
    """A copy of the demo database the app serves for one test (the writes stay in it)."""
    path = tmp_path / "admin.duckdb"
    copy_database(demo_path, path)
    before = os.environ.get("VALUATION_DB")
    os.environ["VALUATION_DB"] = str(path)
    yield path
    if before is None:
        os.environ.pop("VALUATION_DB", None)
    else:
        os.environ["VALUATION_DB"] = before


@pytest.fixture(scope="module")
def shared_db(demo_path, tmp_path_factory):
    """One copy for the tests that only read."""
    path = tmp_path_factory.mktemp("admin-read") / "read.duckdb"
    copy_database(demo_path, path)
    return path


def _as(user_id: str, lang: str = "en", script: str = APP) -> AppTest:
    at = AppTest.from_file(script, default_timeout=180)
    with Store(os.environ["VALUATION_DB"]) as s:
        at.session_state["user"] = access.get_user(s, user_id)
    at.session_state["lang"] = lang
    return at


def _users_page(user_id: str = "admin", tab: str = "users", lang: str = "en") -> AppTest:
    at = _as(user_id, lang).run()
    at.switch_page("pages/admin_users.py")
    at.session_state["adm_tab"] = i18n.t(f"admin.tab.{tab}", lang)  # lazy tabs
    at.run()
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest) -> str:
    parts = [e.value for e in at.title] + [e.value for e in at.subheader]
    parts += [e.value for e in at.markdown] + [e.value for e in at.caption]
    parts += [str(e.value) for k in ("error", "info", "warning", "success") for e in at.get(k)]
    return "\n".join(str(p) for p in parts)


def _audit(path: Path, action: str) -> pd.DataFrame:
    with Store(path) as s:
        a = s.audit_entries()
    return a[a["action"] == action].reset_index(drop=True)


# -- who sees the pages ------------------------------------------------------------------------
@pytest.mark.parametrize("user_id", ["am01", "lead01", "exec01"])
def test_other_roles_neither_see_nor_open_the_admin_pages(shared_db, user_id):
    from ui import nav

    os.environ["VALUATION_DB"] = str(shared_db)
    with Store(shared_db) as s:
        user = access.get_user(s, user_id)
    assert not any(nav.allowed(user, p) for p in ADMIN_PAGES)
    offered = {p.path for p in nav.PAGES if user.role in p.roles}
    assert offered.isdisjoint(ADMIN_PAGES)
    for page in ADMIN_PAGES:  # opened directly, the page refuses by itself
        at = _as(user_id, "en", str(ROOT / page)).run()
        assert not at.exception, (page, at.exception)
        assert any("may not open the page" in str(e.value) for e in at.error), page
        assert not at.title and not at.dataframe and not at.button, page


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_admin_sees_every_admin_page(shared_db, lang):
    os.environ["VALUATION_DB"] = str(shared_db)
    at = _as("admin", lang).run()
    assert not at.exception, at.exception
    for page in ADMIN_PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        want = TITLES[page] if lang == "en" else i18n.t(
            {"pages/admin_users.py": "admin.users.title", "pages/audit.py": "admin.audit.title",
             "pages/data_quality.py": "admin.quality.title",
             "pages/models_jobs.py": "admin.models.title"}[page], "zh")
        assert [t.value for t in at.title] == [want], page
        assert at.dataframe, page
    for tab in ("teams", "move"):
        at = _users_page("admin", tab, lang)
        assert at.dataframe


# -- users and teams: every write in the app database and in the audit log -------------------
def test_an_admin_creates_a_user_on_the_page_and_hands_over_the_password(db):
    at = _users_page()
    at.text_input(key="adm_new_id").input("am77")
    at.text_input(key="adm_new_name").input("新经理")
    at.text_input(key="adm_new_name_en").input("New Manager")
    at.selectbox(key="adm_new_role").set_value("account_manager")
    at.selectbox(key="adm_new_team").set_value("T02")
    at.button(key="adm_new_submit").click().run()
    assert not at.exception, at.exception
    uid, pw = at.session_state["adm_password"]
    assert uid == "am77" and len(pw) == 12
    assert any(c.value == pw for c in at.code)  # shown once, as text
    with Store(db) as s:
        assert access.get_user(s, "am77") == access.User("am77", "新经理", "New Manager",
                                                         "account_manager", "T02")
        assert access.authenticate(s, "am77", pw) is not None
        changes = s.read_table("user_changes").set_index("user_id")
    assert bool(changes.loc["am77", "created"]) and changes.loc["am77", "updated_by"] == "admin"
    created = _audit(db, "create_user")
    assert created["user_id"].tolist() == ["admin"]
    assert json.loads(created["after"].iloc[0])["team_id"] == "T02"
    pw_row = _audit(db, "set_password")
    pw_row = pw_row[pw_row["row_key"].str.contains("am77")]
    assert pw_row["user_id"].tolist() == ["admin"]
    assert json.loads(pw_row["after"].iloc[0])["password_hash"] == "***"
    at.button(key="adm_pw_noted").click().run()
    assert "adm_password" not in at.session_state and not at.code


def test_role_and_team_changes_are_versioned_audited_and_refuse_a_stale_form(db):
    at = _users_page()
    at.selectbox(key="adm_pick").set_value("am02").run()
    at.selectbox(key="adm_edit_am02_0_team").set_value("T02")
    at.button(key="adm_edit_am02_0_submit").click().run()
    assert not at.exception, at.exception
    with Store(db) as s:
        assert access.get_user(s, "am02").team_id == "T02"
    change = _audit(db, "change_user")
    assert change["user_id"].tolist() == ["admin"]
    assert json.loads(change["after"].iloc[0])["team_id"] == "T02"
    assert change["before"].iloc[0] is None  # the first change of an imported user

    # the form for am01 is open (version 0 seen); another admin saves a change meanwhile
    at.selectbox(key="adm_pick").set_value("am01").run()
    assert at.session_state["adm_seen:user:am01"] == 0
    with Store(db) as s:
        admin.change_user(s, "am01", by="admin2", expected_version=0, email="am01@new.example")
    at.text_input(key="adm_edit_am01_0_name_en").input("Someone Else")
    at.button(key="adm_edit_am01_0_submit").click().run()
    assert not at.exception, at.exception
    assert any("Someone else saved a change meanwhile" in str(e.value) for e in at.error)
    with Store(db) as s:
        now = access.get_user(s, "am01")
        email = s.scalar("SELECT email FROM users WHERE user_id = 'am01'")
    assert now.name_en != "Someone Else" and email == "am01@new.example"  # theirs stands
    assert "adm_seen:user:am01" not in at.session_state  # the next form reads the new row


def test_the_last_active_admin_keeps_the_role_and_nobody_deactivates_themselves(db):
    at = _users_page()
    at.selectbox(key="adm_pick").set_value("admin").run()
    assert at.button(key="adm_deactivate").disabled  # not oneself
    at.selectbox(key="adm_edit_admin_0_role").set_value("executive")
    at.button(key="adm_edit_admin_0_submit").click().run()
    assert any("last active admin" in str(e.value) for e in at.error)
    with Store(db) as s:
        assert access.get_user(s, "admin").role == "admin"
        with pytest.raises(admin.AdminError, match="yourself"):
            admin.set_active(s, "admin", False, by="admin", expected_version=0)
        with pytest.raises(admin.AdminError) as e:
            admin.set_active(s, "admin", False, by="someone", expected_version=0)
        assert e.value.key == "admin.err.last_admin"
        assert "最后一位" in e.value.text("zh")
        # with a second admin, the first may go; then the second is the last one
        admin.create_user(s, user_id="admin2", name="第二管理员", role="admin", by="admin",
                          password="second-admin-pw")
        admin.set_active(s, "admin", False, by="admin2", expected_version=0)
        with pytest.raises(admin.AdminError, match="last active admin"):
            admin.set_active(s, "admin2", False, by="someone",
                             expected_version=admin.change_version(s, "user_changes",
                                                                   "admin2"))
    assert _audit(db, "deactivate_user")["user_id"].tolist() == ["admin2"]


def test_deactivation_on_the_page_ends_sign_in_and_keeps_the_accounts(db):
    pol = signin.Policy()
    with Store(db) as s:
        opened = signin.attempt(s, "am02", "demo-am02", policy=pol)
        assert opened.user is not None
        owned = int(s.scalar("SELECT count(*) FROM accounts WHERE owner_id = 'am02'"))
    at = _users_page()
    at.selectbox(key="adm_pick").set_value("am02").run()
    at.button(key="adm_deactivate").click().run()
    assert at.button(key="adm_deact_yes")  # asked in a dialog first
    with Store(db) as s:
        assert access.is_active(s, "am02")  # nothing happened yet
    at.button(key="adm_deact_yes").click().run()
    assert not at.exception, at.exception
    with Store(db) as s:
        assert not access.is_active(s, "am02")
        assert access.authenticate(s, "am02", "demo-am02") is None
        assert signin.restore(s, opened.cookie, policy=pol) is None  # the reload cookie too
        assert int(s.scalar("SELECT count(*) FROM accounts WHERE owner_id = 'am02'")) == owned
    assert _audit(db, "deactivate_user")["user_id"].tolist() == ["admin"]
    revoked = _audit(db, "revoke_sessions")
    assert json.loads(revoked["after"].iloc[-1]) == {"why": "deactivated", "sessions": 1}
    # an open session of the deactivated user ends on its next run
    gone = _as("am02").run()
    assert "user" not in gone.session_state or gone.session_state["user"] is None
    # activated again, the user signs in again
    at.selectbox(key="adm_pick").set_value("am02").run()
    at.button(key="adm_activate").click().run()
    with Store(db) as s:
        assert access.authenticate(s, "am02", "demo-am02") is not None


def test_a_password_reset_is_shown_once_ends_the_sessions_and_is_audited_without_the_hash(db):
    pol = signin.Policy()
    with Store(db) as s:
        opened = signin.attempt(s, "am01", "demo-am01", policy=pol)
        for _ in range(5):
            signin.attempt(s, "am01", "wrong-password", policy=signin.Policy(backoff_seconds=0))
    at = _users_page()
    at.selectbox(key="adm_pick").set_value("am01").run()
    assert "Locked" in at.metric[3].label and at.metric[3].value == "1"
    at.button(key="adm_reset").click().run()
    at.button(key="adm_reset_yes").click().run()
    assert not at.exception, at.exception
    uid, pw = at.session_state["adm_password"]
    with Store(db) as s:
        assert uid == "am01" and access.authenticate(s, "am01", pw) is not None
        assert access.authenticate(s, "am01", "demo-am01") is None
        assert signin.restore(s, opened.cookie, policy=pol) is None
        assert signin.attempt(s, "am01", pw, policy=pol).user is not None  # the lock is gone
        stored = s.read_table("credentials").set_index("user_id").loc["am01", "password_hash"]
        audit = s.audit_entries()
    assert not (audit["before"].fillna("").str.contains(stored, regex=False).any()
                or audit["after"].fillna("").str.contains(stored, regex=False).any())
    reset = audit[(audit["action"] == "set_password") & audit["row_key"].str.contains("am01")]
    assert reset["user_id"].iloc[-1] == "admin"
    assert json.loads(reset["after"].iloc[-1])["password_hash"] == "***"
    assert audit[audit["action"] == "unlock"]["user_id"].tolist() == ["admin"]


def test_teams_are_created_and_changed_on_the_page(db):
    at = _users_page(tab="teams")
    at.text_input(key="adm_team_new_id").input("T99")
    at.text_input(key="adm_team_new_name").input("新团队")
    at.selectbox(key="adm_team_new_lead").set_value("lead01")
    at.button(key="adm_team_new_submit").click().run()
    assert not at.exception, at.exception
    with Store(db) as s:
        row = s.query("SELECT name, lead_id FROM teams WHERE team_id = 'T99'").iloc[0]
    assert (row["name"], row["lead_id"]) == ("新团队", "lead01")
    assert _audit(db, "create_team")["user_id"].tolist() == ["admin"]
    at.selectbox(key="adm_team_pick").set_value("T99").run()
    at.text_input(key="adm_team_edit_T99_1_city").input("Hangzhou")
    at.button(key="adm_team_edit_T99_1_submit").click().run()
    assert not at.exception, at.exception
    with Store(db) as s:
        assert s.scalar("SELECT city FROM teams WHERE team_id = 'T99'") == "Hangzhou"
    assert json.loads(_audit(db, "change_team")["after"].iloc[0])["city"] == "Hangzhou"


# -- moving accounts ----------------------------------------------------------------------------
def test_accounts_move_one_and_many_audited_and_the_move_survives_a_reimport(db, demo_path):
    at = _users_page(tab="move")
    at.selectbox(key="adm_from").set_value("am01").run()
    at.selectbox(key="adm_to").set_value("am02").run()
    key = at.session_state["adm_move_key"]
    shown = at.dataframe(key=key).value
    one = str(shown["Account ID"].iloc[0])
    at.session_state[key] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    at.button(key="adm_move_sel").click().run()  # one account: no confirmation
    assert not at.exception, at.exception
    with Store(db) as s:
        assert s.scalar("SELECT owner_id FROM accounts WHERE account_id = ?", [one]) == "am02"
    moved = _audit(db, "assign_owner")
    assert moved["user_id"].tolist() == ["admin"]
    assert json.loads(moved["row_key"].iloc[0]) == {"account_id": one}
    assert json.loads(moved["after"].iloc[0])["imported_owner_id"] == "am01"

    # many: every A-tier account am01 still has, after a confirmation
    at.selectbox(key="adm_from").set_value("am01").run()
    at.multiselect(key="adm_mv_tier").set_value(["A"]).run()
    key = at.session_state["adm_move_key"]
    many = set(at.dataframe(key=key).value["Account ID"].astype(str))
    assert len(many) >= 2 and one not in many
    at.selectbox(key="adm_to").set_value("am02").run()
    at.button(key="adm_move_all").click().run()
    assert at.button(key="adm_move_yes")
    at.button(key="adm_move_yes").click().run()
    assert not at.exception, at.exception
    with Store(db) as s:
        owners = s.query("SELECT account_id, owner_id FROM accounts WHERE owner_id = 'am02'")
    assert many | {one} <= set(owners["account_id"])
    audit = _audit(db, "assign_owner")
    assert len(audit) == 1 + len(many) and set(audit["user_id"]) == {"admin"}

    # a re-import that still names am01 keeps the moves; one naming another owner wins
    with Store(demo_path) as src:
        original = src.read_table("accounts")
    assert (original.set_index("account_id").loc[list(many | {one}), "owner_id"] == "am01").all()
    other = sorted(many)[0]
    crm = original.copy()
    crm.loc[crm["account_id"] == other, "owner_id"] = "am03"
    with Store(db) as s:
        s.replace_facts({"accounts": crm}, source="crm export", user="import")
        now = s.query("SELECT account_id, owner_id FROM accounts").set_index("account_id")
    assert now.loc[other, "owner_id"] == "am03"
    assert (now.loc[sorted((many | {one}) - {other}), "owner_id"] == "am02").all()


def test_a_move_refuses_a_stale_list_and_anyone_but_an_active_account_manager(db):
    with Store(db) as s:
        ids = s.query("SELECT account_id FROM accounts WHERE owner_id = 'am01' "
                      "ORDER BY account_id LIMIT 3")["account_id"].tolist()
        admin.move_accounts(s, ids[:1], "am02", by="admin2")  # someone else, meanwhile
        with pytest.raises(ConflictError, match="no longer belong to am01"):
            admin.move_accounts(s, ids, "am02", by="admin", from_owner="am01")
        assert s.query("SELECT count(*) AS n FROM accounts WHERE owner_id = 'am01' AND "
                       f"account_id IN ('{ids[1]}', '{ids[2]}')")["n"].iloc[0] == 2
        for bad in ("lead01", "nobody"):
            with pytest.raises(admin.AdminError, match="active account manager"):
                admin.move_accounts(s, ids[1:], bad, by="admin", from_owner="am01")
        admin.set_active(s, "am03", False, by="admin", expected_version=0)
        with pytest.raises(admin.AdminError, match="active account manager"):
            admin.move_accounts(s, ids[1:], "am03", by="admin", from_owner="am01")


# -- what the app sets holds over imports ------------------------------------------------------
def test_users_and_teams_set_in_the_app_hold_over_a_reimport(toy_store):
    s = toy_store
    admin.create_team(s, team_id="T09", name="新组", by="admin")
    admin.create_user(s, user_id="am09", name="新人", role="account_manager", team_id="T09",
                      by="admin", password="a-long-password")
    admin.change_user(s, "am03", by="admin", expected_version=0, role="sales_lead")
    admin.set_active(s, "am02", False, by="admin", expected_version=0)
    version = s.data_version
    s.replace_facts({k: v for k, v in toy_frames().items() if k in ("users", "teams")},
                    source="hr export")
    assert s.data_version != version
    assert access.get_user(s, "am09").team_id == "T09"
    assert s.scalar("SELECT name FROM teams WHERE team_id = 'T09'") == "新组"
    assert access.get_user(s, "am03").role == "sales_lead"  # the admin's change holds
    assert access.get_user(s, "am03").name == "张伟"  # the rest follows the import
    assert not access.is_active(s, "am02") and access.inactive_ids(s) == {"am02"}
    assert access.authenticate(s, "am09", "a-long-password") is not None


def test_an_older_app_database_gains_the_new_column_and_keeps_its_rows(tmp_path):
    from valuation.appdb import AppDB

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    app = AppDB(url)
    with app.transaction() as tx:
        tx.execute(sa.text("ALTER TABLE account_assignments DROP COLUMN imported_owner_id"))
        tx.execute(sa.text("INSERT INTO account_assignments VALUES ('A1', 'am01', 1, 't', 'x')"))
    app.dispose()
    again = AppDB(url)
    rows = again.select("account_assignments")
    assert rows["account_id"].tolist() == ["A1"] and rows["imported_owner_id"].isna().all()
    again.dispose()


# -- the audit log -------------------------------------------------------------------------------
def test_the_audit_filter_returns_exactly_the_expected_rows(toy_store):
    s = toy_store
    admin.create_user(s, user_id="am09", name="新人", role="account_manager", team_id="T01",
                      by="admin", password="a-long-password")
    admin.change_user(s, "am09", by="admin", expected_version=1, team_id="T02")
    admin.move_accounts(s, ["A001", "A004"], "am09", by="lead01", from_owner="am01")
    admin.move_accounts(s, ["A002"], "am09", by="admin", from_owner="am02")
    everything, total = admin.audit_query(s)
    assert total == len(everything)

    def got(**kw):
        rows, n = admin.audit_query(s, admin.AuditFilter(**kw))
        assert n == len(rows)
        return list(zip(rows["action"], rows["row_key"].map(lambda k: tuple(json.loads(k)
                                                                            .values())),
                        strict=True))

    assert got(users=("lead01",)) == [("assign_owner", ("A004",)), ("assign_owner", ("A001",))]
    assert got(users=("admin",), actions=("change_user", "create_user")) == [
        ("change_user", ("am09",)), ("create_user", ("am09",))]
    assert got(tables=("credentials",)) == [("set_password", ("am09",))]
    assert got(key="A001") == [("assign_owner", ("A001",))]
    assert got(key="am09", actions=("assign_owner",)) == []  # the key, not the new owner
    today = date.today()
    assert got(since=today + timedelta(days=1)) == [] and got(until=today - timedelta(days=1)) == []
    assert len(got(since=today, until=today)) == total
    rows, n = admin.audit_query(s, limit=2)
    assert len(rows) == 2 and n == total and rows["audit_id"].is_monotonic_decreasing
    rows = admin.audit_query(s, admin.AuditFilter(actions=("change_user",)))[0]
    change = admin.change_summary(rows["before"], rows["after"])
    assert change.tolist() == ["team_id: T01 → T02"]


def test_the_audit_page_filters_shows_an_entry_whole_and_exports_it(db):
    with Store(db) as s:
        admin.change_user(s, "am01", by="admin", expected_version=0, team_id="T02")
    at = _as("admin").run()
    at.switch_page("pages/audit.py").run()
    assert not at.exception, at.exception
    at.multiselect(key="aud_actions").set_value(["change_user"]).run()
    assert at.metric[0].value == "1"
    table = at.dataframe[0].value
    # the first change of an imported user: the app's change row is new
    assert table["What changed"].tolist() == ["team_id: T02; active: true; created: false"]
    assert table["Who"].iloc[0].endswith("(admin)") and table["Row"].iloc[0] == "am01"
    key = at.session_state["aud_table_key"]
    at.session_state[key] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    detail = at.dataframe[1].value.set_index("Field")
    assert detail.loc["team_id", "Before"] == "" and detail.loc["team_id", "After"] == "T02"
    assert detail.loc["team_id", "Changed"] == "●"
    assert detail.index[-3:].tolist() == ["version", "updated_at", "updated_by"]
    # the export: every matching row; formula-like text inert in the CSV and the workbook
    from openpyxl import load_workbook

    from valuation.safety import escape_formulas, to_xlsx

    with Store(db) as s:
        admin.change_user(s, "am02", by="admin", expected_version=0, name="=HYPERLINK(1)")
        rows = admin.audit_export(s, admin.AuditFilter(actions=("change_user",)))
    assert len(rows) == 2 and rows["after"].str.startswith("{").all()
    hostile = pd.DataFrame({"name": ["=HYPERLINK(1)"]})
    assert escape_formulas(hostile)["name"].iloc[0] == "'=HYPERLINK(1)"
    cell = load_workbook(io.BytesIO(to_xlsx(hostile))).active["A2"]
    assert cell.value == "=HYPERLINK(1)" and cell.data_type == "s"  # text, never a formula


# -- data quality ---------------------------------------------------------------------------------
def test_data_quality_figures_equal_hand_counts(toy_store):
    s = toy_store
    frames = toy_frames()
    acc = frames["accounts"].copy()
    acc.loc[acc["account_id"].isin(["A002", "A005"]), "city"] = None  # two missing cities
    acc.loc[acc["account_id"] == "A003", "industry"] = None
    acc.loc[acc["account_id"] == "A006", "owner_id"] = "X9"  # not a user: unassigned
    hold = pd.concat([frames["holdings"], frames["holdings"].iloc[[0]].assign(
        account_id="A999")], ignore_index=True)  # left behind by an earlier accounts import
    s.replace_facts({"accounts": acc}, source="accounts.csv", user="admin")
    s.replace_facts({"accounts": acc.iloc[:5], "holdings": hold}, source="crm.csv", user="lead01")
    admin.create_user(s, user_id="am09", name="新人", role="executive", by="admin",
                      password="a-long-password")  # an app change, not an import

    miss = admin.missing_values(s).set_index(["table_name", "column"])
    assert miss.loc[("accounts", "city"), "missing"] == 2
    assert miss.loc[("accounts", "city"), "share"] == pytest.approx(2 / 5)
    assert miss.loc[("accounts", "industry"), "missing"] == 1
    assert miss.loc[("accounts", "account_id"), "missing"] == 0
    assert miss.loc[("accounts", "district"), "missing"] == 5  # never filled
    assert miss.loc[("holdings", "end_date"), "missing"] == len(hold)

    refs = admin.failed_references(s).set_index(["table_name", "columns"])
    # A006 left with the second import: its holding and bills and A999's holding are orphans
    a006 = frames["holdings"]["account_id"].eq("A006").sum()
    assert refs.loc[("holdings", "account_id"), "rows"] == 1 + a006
    assert refs.loc[("billing_monthly", "account_id"), "rows"] == 12
    assert refs.loc[("accounts", "owner_id"), "rows"] == 0  # X9's account is gone too
    assert bool(refs.loc[("accounts", "owner_id"), "soft"])
    assert refs.loc[("users", "team_id"), "rows"] == 0

    imp = admin.imports(s).set_index("table_name")
    assert imp.loc["accounts", "rows_now"] == 5 and imp.loc["accounts", "rows"] == 5
    assert imp.loc["accounts", "previous_rows"] == 6 and imp.loc["accounts", "change"] == -1
    assert imp.loc["accounts", "user_id"] == "lead01" and imp.loc["accounts", "source"] == "crm.csv"
    assert imp.loc["users", "rows_now"] == 8 and imp.loc["users", "rows"] == 7  # +1 in the app
    assert imp.loc["holdings", "previous_rows"] == len(frames["holdings"])

    from valuation.features import data_as_of

    as_of = data_as_of(s)
    assert as_of == date(2026, 6, 30)  # the end of the last bill: no daily usage here
    age = admin.data_age(s, as_of, max_age_days=35).set_index("table_name")
    assert age.loc["billing_monthly", "newest"] == date(2026, 6, 30)
    assert age.loc["billing_monthly", "days"] == 0 and not age.loc["billing_monthly", "behind"]
    assert age.loc["contracts", "days"] == (as_of - date(2025, 1, 1)).days
    assert bool(age.loc["contracts", "behind"])
    assert pd.isna(age.loc["line_daily", "newest"])


def test_the_data_quality_page_shows_the_counts(db):
    with Store(db) as s:
        acc = s.read_table("accounts")
        acc.loc[acc.index[:7], "city"] = None
        s.replace_facts({"accounts": acc}, source="accounts.csv", user="admin")
        broken = admin.failed_references(s)
        broken = int(broken.loc[~broken["soft"], "rows"].sum())
    at = _as("admin").run()
    at.switch_page("pages/data_quality.py").run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Broken references"] == f"{broken:,}"
    missing = at.dataframe[-1].value
    city = missing[(missing["Table"] == "accounts") & (missing["Column"] == "city")]
    assert city["Missing"].tolist() == ["7"]
    imports = at.dataframe[0].value.set_index("Table")
    assert imports.loc["accounts", "By"] == next(
        n for n in [imports.loc["accounts", "By"]] if n.endswith("(admin)"))
    assert imports.loc["accounts", "Change"] == "+0"


# -- models and jobs ------------------------------------------------------------------------------
def test_a_job_runs_from_the_page_with_its_progress_and_is_recorded(db):
    with Store(db) as s:
        assert jobs.overview(s).set_index("job").loc["analysis", "due"]
    at = _as("admin").run()
    at.switch_page("pages/models_jobs.py").run()
    assert not at.exception, at.exception
    assert "mj_run_retrain" not in [b.key for b in at.button]  # under the model instead
    at.button(key="mj_run_analysis").click().run()
    assert not at.exception, at.exception
    with Store(db) as s:
        ov = jobs.overview(s).set_index("job")
    assert not ov.loc["analysis", "due"] and ov.loc["analysis", "user_id"] == "admin"
    # the result waits as a toast for the next run of the app (flash outlives the rerun)
    assert any("Analysis done" in m for m in at.session_state["_flash_messages"])
    table = at.dataframe[0].value.set_index("Job")
    assert table.loc["Analysis", "Due"].startswith("✓")


def test_retraining_tells_its_stages(db):
    seen = []
    with Store(db) as s:
        out = jobs.run_job(s, "retrain", force=True, user="admin", progress=seen.append)
    assert out["ran"] and seen[:2] == ["plan", "rows"] and seen[-2:] == ["save", "risk"]
    assert set(seen) <= set(jobs.STAGES["retrain"])
    runs = jobs.last_runs(Store(db)).set_index("job")
    assert runs.loc["retrain", "user_id"] == "admin"
