"""Password hashing, sign-in and account scope per role."""

import pandas as pd
import pytest

from valuation import access
from valuation.access import User
from valuation.store import Store


@pytest.fixture()
def store(tmp_path):
    s = Store(tmp_path / "a.duckdb")
    s.replace_facts(
        {
            "teams": pd.DataFrame({"team_id": ["T1", "T2"], "name": ["一组", "二组"],
                                   "lead_id": ["lead1", "lead2"]}),
            "users": pd.DataFrame({
                "user_id": ["am1", "am2", "am3", "lead1", "lead2", "ex", "adm"],
                "name": ["甲", "乙", "丙", "丁", "戊", "己", "庚"],
                "role": ["account_manager"] * 3 + ["sales_lead"] * 2 + ["executive", "admin"],
                "team_id": ["T1", "T1", "T2", "T1", "T2", None, None],
            }),
        },
        source="test",
    )
    yield s
    s.close()


def test_hash_is_salted_and_verifies():
    h1, h2 = access.hash_password("correct horse"), access.hash_password("correct horse")
    assert h1 != h2  # different salts
    assert h1.startswith("$argon2id$v=19$m=47104,t=2,p=1$")
    assert "correct horse" not in h1
    assert access.verify_password("correct horse", h1)
    assert not access.verify_password("correct horsE", h1)
    assert not access.verify_password("x", "garbage")


def test_authenticate_and_audit(store):
    access.set_password(store, "am1", "s3cret-pass", by="adm")
    assert access.authenticate(store, "am1", "s3cret-pass").role == "account_manager"
    assert access.authenticate(store, "am1", "wrong-pass") is None
    assert access.authenticate(store, "nobody", "s3cret-pass") is None
    assert access.authenticate(store, "am2", "s3cret-pass") is None  # no password set
    log = store.audit_entries("credentials")
    assert list(log["action"]) == ["set_password"]
    assert "s3cret" not in log["after"].iloc[0] and "argon2" not in log["after"].iloc[0]


def test_set_password_rules(store):
    with pytest.raises(ValueError, match="at least 8"):
        access.set_password(store, "am1", "short", by="adm")
    with pytest.raises(ValueError, match="no user"):
        access.set_password(store, "ghost", "long-enough", by="adm")


def test_credentials_survive_reimport_of_users(store):
    access.set_password(store, "am1", "s3cret-pass", by="adm")
    store.replace_facts({"users": store.read_table("users")}, source="again")
    assert access.authenticate(store, "am1", "s3cret-pass") is not None


@pytest.mark.parametrize(
    ("user_id", "expected"),
    [("am1", {"A1", "A2"}), ("am2", {"A3"}), ("lead1", {"A1", "A2", "A3"}),
     ("lead2", {"A4"}), ("ex", {"A1", "A2", "A3", "A4"}), ("adm", {"A1", "A2", "A3", "A4"})],
)
def test_scope_filter_and_sql_agree(store, user_id, expected):
    accounts = pd.DataFrame({"account_id": ["A1", "A2", "A3", "A4"],
                             "owner_id": ["am1", "am1", "am2", "am3"]})
    user = access.get_user(store, user_id)
    mask = access.scope_filter(user, accounts, store.read_table("users"))
    assert set(accounts.loc[mask, "account_id"]) == expected
    cur = store.cursor()
    cur.register("a", accounts)
    pred, params = access.scope_sql(user, alias="a")
    got = {r[0] for r in cur.execute(f"SELECT account_id FROM a WHERE {pred}", params).fetchall()}
    assert got == expected


def test_roles_rights():
    mk = lambda role: User("u", "n", "n", role, None)  # noqa: E731
    assert not access.can_edit_accounts(mk("executive"))
    assert access.can_edit_accounts(mk("account_manager"))
    assert access.can_import(mk("admin")) and not access.can_import(mk("sales_lead"))
