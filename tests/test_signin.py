"""Sign-in hardening: Argon2id with the scrypt upgrade, backoff and lockout shared through the
app database, the audit of every sign-in event, idle timeout, the reload cookie and its
server-side token, the role re-read in an open session, and each page's own role check.

Every clock is injected (``now=`` or a patched ``signin.utcnow``); nothing sleeps."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from valuation import access, signin
from valuation.store import Store, copy_database

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
POLICY = signin.Policy()  # the defaults: 5 failures, 15 minutes, 1 s backoff, 30 minutes idle
PASSWORD = "right-pass-1"


@pytest.fixture()
def store(tmp_path):
    s = Store(tmp_path / "a.duckdb")
    s.replace_facts(
        {
            "teams": pd.DataFrame({"team_id": ["T1", "T2"], "name": ["一组", "二组"],
                                   "lead_id": ["lead1", "lead2"]}),
            "users": pd.DataFrame({
                "user_id": ["am1", "lead1", "lead2"], "name": ["甲", "丁", "戊"],
                "role": ["account_manager", "sales_lead", "sales_lead"],
                "team_id": ["T1", "T1", "T2"]}),
        },
        source="test",
    )
    access.set_password(s, "am1", PASSWORD, by="adm")
    yield s
    s.close()


def _fail(store, login, n, start=T0, step=timedelta(minutes=1)):
    """``n`` wrong passwords a minute apart (past every backoff); the last outcome."""
    out = None
    for i in range(n):
        out = signin.attempt(store, login, "wrong-password", policy=POLICY, now=start + i * step)
    return out


def _fresh_copy(src, db) -> None:
    """A copy of the shared demo database without sign-in state: other tests sign in to it."""
    import sqlalchemy as sa

    copy_database(src, db)
    with Store(db) as s, s.app.transaction() as tx:
        for table in ("signin_sessions", "signin_attempts"):
            tx.execute(sa.text(f"DELETE FROM {table}"))
        tx.execute(sa.text("DELETE FROM audit_log WHERE table_name IN "
                           "('signin_attempts', 'signin_sessions')"))


def _audit(store) -> pd.DataFrame:
    log = store.audit_entries()
    return log[log["table_name"].isin(["signin_attempts", "signin_sessions"])]


# -- hashing ------------------------------------------------------------------------------------
def test_new_hashes_are_argon2id_with_at_least_owasp_parameters():
    h = access.hash_password("correct horse")
    m, t, p = map(int, re.match(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$", h).groups())
    assert m >= 19 * 1024 and t >= 2 and p >= 1  # OWASP: m=19 MiB, t=2, p=1 at least
    assert (m, t, p) == (47104, 2, 1)
    assert access.verify_password("correct horse", h)
    assert not access.verify_password("correct horsE", h)
    assert access.hash_password("correct horse") != h  # salted


def test_a_scrypt_hash_is_upgraded_at_sign_in_and_still_verifies(store):
    old = access.scrypt_hash(PASSWORD)
    assert old.startswith("scrypt$32768$8$1$") and access.verify_password(PASSWORD, old)
    store.write_row("credentials", {"user_id": "am1", "password_hash": old}, user="adm",
                    redact=("password_hash",))
    assert signin.attempt(store, "am1", "wrong-password", policy=POLICY, now=T0).user is None
    assert store.app.scalar("SELECT password_hash FROM credentials") == old  # no upgrade on failure
    out = signin.attempt(store, "am1", PASSWORD, policy=POLICY, now=T0 + timedelta(minutes=1))
    assert out.user is not None and out.user.user_id == "am1"
    new = store.app.scalar("SELECT password_hash FROM credentials WHERE user_id = 'am1'")
    assert new.startswith("$argon2id$v=19$m=47104,t=2,p=1$") and not access.needs_rehash(new)
    assert access.verify_password(PASSWORD, new) and not access.verify_password("wrong", new)
    log = store.audit_entries("credentials")
    assert list(log["action"]) == ["set_password", "update", "rehash_password"]
    after = json.loads(log["after"].iloc[-1])
    assert after["password_hash"] == "***"
    assert PASSWORD not in log["after"].iloc[-1] and "argon2" not in log["after"].iloc[-1]
    # signed in again: nothing left to upgrade
    signin.attempt(store, "am1", PASSWORD, policy=POLICY, now=T0 + timedelta(minutes=2))
    assert list(store.audit_entries("credentials")["action"]).count("rehash_password") == 1


# -- lockout and backoff ------------------------------------------------------------------------
def test_lockout_after_five_failures_refuses_even_the_right_password_until_it_runs_out(store):
    for i in range(4):
        out = signin.attempt(store, "am1", "wrong-password", policy=POLICY,
                             now=T0 + timedelta(minutes=i))
        assert out.user is None and out.locked_until is None, i
    fifth = T0 + timedelta(minutes=4)
    out = signin.attempt(store, "am1", "wrong-password", policy=POLICY, now=fifth)
    until = fifth + timedelta(minutes=15)  # 08:19
    assert out.locked_until == until == datetime(2026, 3, 2, 8, 19, tzinfo=UTC)
    for at in (fifth + timedelta(seconds=1), until - timedelta(microseconds=1)):
        refused = signin.attempt(store, "am1", PASSWORD, policy=POLICY, now=at)
        assert refused.user is None and refused.cookie is None and refused.locked_until == until
    ok = signin.attempt(store, "am1", PASSWORD, policy=POLICY, now=until)
    assert ok.user is not None and ok.user.user_id == "am1" and ok.cookie
    assert store.app.scalar("SELECT count(*) FROM signin_attempts") == 0  # success resets


def test_an_unknown_user_id_is_counted_and_locked_exactly_the_same(store):
    real = [signin.attempt(store, "am1", "wrong-password", policy=POLICY,
                           now=T0 + timedelta(minutes=i)) for i in range(6)]
    ghost = [signin.attempt(store, "ghost", "wrong-password", policy=POLICY,
                            now=T0 + timedelta(minutes=i)) for i in range(6)]
    assert real == ghost  # same outcomes, same lock times: nothing tells who exists
    assert real[4].locked_until == real[5].locked_until == T0 + timedelta(minutes=19)
    # ...and the right password of nobody is refused as "locked" too
    assert signin.attempt(store, "ghost", PASSWORD, policy=POLICY,
                          now=T0 + timedelta(minutes=7)).locked_until == T0 + timedelta(minutes=19)


def test_a_success_resets_the_count(store):
    _fail(store, "am1", 4)
    assert signin.attempt(store, "am1", PASSWORD, policy=POLICY,
                          now=T0 + timedelta(minutes=5)).user is not None
    out = _fail(store, "am1", 4, start=T0 + timedelta(minutes=6))  # 4 more: not 8 in a row
    assert out.locked_until is None
    assert store.app.scalar("SELECT failures FROM signin_attempts WHERE login_id = 'am1'") == 4


def test_backoff_waits_from_the_second_failure_and_a_refused_early_try_is_not_counted(store):
    assert signin.attempt(store, "am1", "x", policy=POLICY, now=T0).retry_at is None
    # right after the first failure the second try is allowed (a typo costs nothing)
    assert signin.attempt(store, "am1", "x", policy=POLICY, now=T0).retry_at is None
    # after two failures: wait 1 s; after three: 2 s
    early = signin.attempt(store, "am1", PASSWORD, policy=POLICY,
                           now=T0 + timedelta(milliseconds=500))
    assert early.user is None and early.retry_at == T0 + timedelta(seconds=1)
    assert store.app.scalar("SELECT failures FROM signin_attempts") == 2
    at = T0 + timedelta(seconds=1)
    assert signin.attempt(store, "am1", "x", policy=POLICY, now=at).retry_at is None
    assert signin.attempt(store, "am1", "x", policy=POLICY,
                          now=at + timedelta(seconds=1.9)).retry_at == at + timedelta(seconds=2)
    assert signin.Policy().wait_after(4) == timedelta(seconds=4)
    assert signin.Policy(backoff_seconds=0).wait_after(4) == timedelta(0)


def test_sign_ins_in_flight_at_once_do_not_throttle_each_other(store):
    """Three attempts of one ID still being checked (counted, not yet failed) make nobody
    wait: the right password then signs in at once. Only a confirmed failure starts the
    backoff; the in-flight attempts still count toward the lock."""
    for _ in range(3):
        assert signin._reserve(store, "am1", POLICY, T0)[1] is None  # counted, in flight
    assert signin.attempt(store, "am1", PASSWORD, policy=POLICY, now=T0).user is not None
    for _ in range(4):
        signin._reserve(store, "lead1", POLICY, T0)
    out = signin.attempt(store, "lead1", "wrong", policy=POLICY, now=T0)  # the 5th: locks
    assert out.locked_until == T0 + POLICY.lockout
    # a confirmed failure does start the wait
    _fail(store, "lead2", 2, step=timedelta(0))
    assert signin.attempt(store, "lead2", "x", policy=POLICY, now=T0).retry_at is not None


def test_one_person_signing_in_from_five_windows_at_once(store):
    """Five threads (as five browser windows, each its own store) sign in the same user at
    the same moment: every one gets in."""
    import threading

    got: list[object] = []
    gate = threading.Barrier(5)

    def one() -> None:
        with Store(store.path, app_db=store.app.url) as s:
            gate.wait()
            got.append(signin.attempt(s, "am1", PASSWORD, policy=POLICY, now=T0).user)

    threads = [threading.Thread(target=one) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 5 and all(u is not None for u in got), got


def test_the_count_is_shared_by_every_process_through_the_app_database(store):
    """Two stores on one app database (as two server processes): failures add up."""
    _fail(store, "am1", 3)
    with Store(store.path, app_db=store.app.url) as other:
        out = _fail(other, "am1", 2, start=T0 + timedelta(minutes=3))
        assert out.locked_until == T0 + timedelta(minutes=4 + 15)  # the 5th failure, + 15
    refused = signin.attempt(store, "am1", PASSWORD, policy=POLICY, now=T0 + timedelta(minutes=5))
    assert refused.locked_until is not None


def test_ids_nobody_has_do_not_pile_up_and_old_failures_are_forgotten(store):
    """Every typed ID gets a row, so a spray of made-up IDs would grow the table forever:
    rows whose last failure is older than ``memory`` (and not locked) are removed by the next
    attempt, and their count starts afresh; a lock in force outlives the memory."""
    policy = signin.Policy(lockout=timedelta(hours=48), backoff_seconds=0)
    rows = lambda: store.query("SELECT login_id, failures FROM signin_attempts")  # noqa: E731
    for i in range(40):
        signin.attempt(store, f"junk{i:03d}", "x", policy=policy, now=T0)
    for i in range(5):  # am1 locked until T0 + 48 h
        signin.attempt(store, "am1", "wrong", policy=policy, now=T0 + timedelta(minutes=i))
    signin.attempt(store, "lead1", "wrong", policy=policy, now=T0 + timedelta(hours=2))
    assert len(rows()) == 42
    later = T0 + timedelta(hours=24, minutes=30)  # junk older than 24 h, lead1's 22.5 h old
    signin.attempt(store, "lead2", "wrong", policy=policy, now=later)
    left = rows().set_index("login_id")["failures"].to_dict()
    assert left == {"am1": 5, "lead1": 1, "lead2": 1}
    locked = signin.attempt(store, "am1", PASSWORD, policy=policy, now=later)
    assert locked.user is None and locked.locked_until == T0 + timedelta(minutes=4, hours=48)
    # four failures, then a day of quiet: the next four do not lock (counting starts afresh)
    for i in range(1, 4):
        signin.attempt(store, "lead2", "wrong", policy=policy, now=later + timedelta(minutes=i))
    assert rows().set_index("login_id").at["lead2", "failures"] == 4
    quiet = later + timedelta(hours=25)  # am1's lock ran out too, and its failures are old
    for i in range(4):
        out = signin.attempt(store, "lead2", "wrong", policy=policy,
                             now=quiet + timedelta(minutes=i))
        assert out.locked_until is None
    assert rows().set_index("login_id")["failures"].to_dict() == {"lead2": 4}
    assert signin.prune(store, policy=policy, now=quiet + timedelta(days=3)) == (1, 0)
    assert rows().empty


def test_ended_sessions_are_removed_and_live_ones_kept(store):
    first = _signed_in(store)
    signin.sign_out(store, "am1", first.token, now=T0 + timedelta(minutes=5))
    second = _signed_in(store, now=T0 + timedelta(hours=20))  # its attempt pruned nothing
    assert len(store.query("SELECT token_hash FROM signin_sessions")) == 2
    # 36 h on: the first was revoked 36 h ago (past the memory), the second expired 4 h ago
    # (kept for now); the next sign-in's attempt prunes the same way
    assert signin.prune(store, policy=POLICY, now=T0 + timedelta(hours=36)) == (0, 1)
    third = _signed_in(store, now=T0 + timedelta(hours=36))
    left = set(store.query("SELECT token_hash FROM signin_sessions")["token_hash"])
    assert left == {signin._digest(second.token), signin._digest(third.token)}
    assert signin.restore(store, third.cookie, policy=POLICY,
                          now=T0 + timedelta(hours=36, minutes=1)) is not None
    assert (store.audit_entries()["action"] == "sign_out").sum() == 1  # history is kept


def test_policy_comes_from_the_settings():
    from valuation.config import load_settings, parse_settings

    assert signin.Policy.from_settings(load_settings()) == POLICY
    text = (ROOT / "valuation" / "models" / "default.toml").read_text(encoding="utf-8")
    s = parse_settings(text.replace("max_failures = 5", "max_failures = 3"))
    assert signin.Policy.from_settings(s).max_failures == 3
    with pytest.raises(ValueError, match="auth.max_failures"):
        parse_settings(text.replace("max_failures = 5", "max_failures = 0"))


# -- audit ----------------------------------------------------------------------------------
def test_every_sign_in_event_is_audited_and_no_password_is(store):
    _fail(store, "am1", 5)  # 5 failures, the 5th locks
    signin.attempt(store, "am1", PASSWORD, policy=POLICY, now=T0 + timedelta(minutes=6))
    ok = signin.attempt(store, "am1", PASSWORD, policy=POLICY, now=T0 + timedelta(minutes=30))
    signin.sign_out(store, "am1", ok.token, now=T0 + timedelta(minutes=31))
    log = _audit(store)
    assert list(log["action"]) == ["sign_in_failed"] * 5 + [
        "lockout", "sign_in_locked", "sign_in", "sign_out"]
    assert set(log["user_id"]) == {"am1"}
    assert [json.loads(a)["failures"] for a in log["after"][:5]] == [1, 2, 3, 4, 5]
    assert json.loads(log["after"].iloc[5])["locked_until"] == "2026-03-02T08:19:00.000000Z"
    everything = store.audit_entries().to_json()
    assert PASSWORD not in everything and "wrong-password" not in everything
    assert ok.token not in everything  # only a prefix of the token's digest


# -- sessions and the cookie ----------------------------------------------------------------
def _signed_in(store, now=T0):
    out = signin.attempt(store, "am1", PASSWORD, policy=POLICY, now=now)
    assert out.user is not None
    return out


def test_a_cookie_restores_its_session_and_a_tampered_one_is_refused(store):
    out = _signed_in(store)
    later = T0 + timedelta(minutes=10)
    got = signin.restore(store, out.cookie, policy=POLICY, now=later)
    assert got is not None and got.user.user_id == "am1" and got.token == out.token
    v, token, exp, sig = out.cookie.split(".")
    assert int(exp) == int((T0 + POLICY.idle).timestamp())
    assert int(got.cookie.split(".")[2]) == int((later + POLICY.idle).timestamp())  # slides on
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    longer = str(int(exp) + 3600)
    for bad in (f"{v}.{flipped}.{exp}.{sig}", f"{v}.{token}.{longer}.{sig}",
                f"{v}.{token}.{exp}.{sig[:-2]}xx", "garbage", f"v2.{token}.{exp}.{sig}", ""):
        assert signin.restore(store, bad, policy=POLICY, now=later) is None, bad
    assert (store.audit_entries()["action"] == "session_refused").sum() == 3


def test_an_expired_or_idle_cookie_is_refused(store):
    out = _signed_in(store)
    # the cookie's own expiry: the idle timeout after it was written
    assert signin.restore(store, out.cookie, policy=POLICY, now=T0 + POLICY.idle) is None
    # a fresh cookie, but the server saw no activity for longer than the idle timeout
    fresh = signin.cookie_value(store, out.token, T0 + timedelta(hours=2))
    assert signin.restore(store, fresh, policy=POLICY,
                          now=T0 + POLICY.idle + timedelta(seconds=1)) is None
    assert signin.restore(store, fresh, policy=POLICY,
                          now=T0 + POLICY.idle - timedelta(seconds=1)) is not None
    # and never past the session's lifetime, however active
    far = signin.cookie_value(store, out.token, T0 + timedelta(hours=13))
    for h in range(1, 12):
        assert signin.touch(store, out.token, policy=POLICY, now=T0 + timedelta(hours=h))
    assert signin.touch(store, out.token, policy=POLICY, now=T0 + timedelta(hours=12)) is None
    assert signin.restore(store, far, policy=POLICY,
                          now=T0 + timedelta(hours=12, minutes=1)) is None


def test_sign_out_lockout_and_a_new_password_revoke_the_token(store):
    now = T0 + timedelta(minutes=1)
    a = _signed_in(store)
    signin.sign_out(store, "am1", a.token, now=now)
    assert signin.restore(store, a.cookie, policy=POLICY, now=now) is None
    assert signin.touch(store, a.token, policy=POLICY, now=now) is None
    b = _signed_in(store, now)
    _fail(store, "am1", 5, start=now)
    assert signin.restore(store, b.cookie, policy=POLICY, now=now + timedelta(minutes=5)) is None
    c = _signed_in(store, now + timedelta(minutes=30))
    access.set_password(store, "am1", "a-new-pass-2", by="adm")
    assert signin.restore(store, c.cookie, policy=POLICY, now=now + timedelta(minutes=31)) is None
    why = store.app.query("SELECT revoked_why FROM signin_sessions ORDER BY issued_at")
    assert list(why["revoked_why"]) == ["sign_out", "lockout", "password"]


def test_a_restored_session_reads_the_role_afresh_and_a_removed_user_is_refused(store):
    out = _signed_in(store)
    users = store.read_table("users")
    store.replace_facts({"users": users.assign(
        role=users["role"].where(users["user_id"] != "am1", "sales_lead"),
        team_id=users["team_id"].where(users["user_id"] != "am1", "T2"))}, source="re-role")
    got = signin.restore(store, out.cookie, policy=POLICY, now=T0 + timedelta(minutes=1))
    assert (got.user.role, got.user.team_id) == ("sales_lead", "T2")
    store.replace_facts({"users": users[users["user_id"] != "am1"]}, source="removed")
    assert signin.restore(store, out.cookie, policy=POLICY, now=T0 + timedelta(minutes=2)) is None
    assert store.app.scalar("SELECT revoked_why FROM signin_sessions") == "removed"


def test_the_new_tables_reach_an_existing_app_database(tmp_path):
    """A database made before these tables existed gets them on its next open."""
    path = tmp_path / "old.duckdb"
    Store(path).close()
    url = f"sqlite:///{path.with_suffix('.app.sqlite')}"
    eng = sa.create_engine(url)
    with eng.begin() as c:
        for t in ("signin_attempts", "signin_sessions", "app_secrets"):
            c.exec_driver_sql(f"DROP TABLE {t}")
            c.exec_driver_sql(f"DELETE FROM app_meta WHERE key = 'v:{t}'")
    eng.dispose()
    with Store(path) as s:
        assert {"signin_attempts", "signin_sessions", "app_secrets"} <= set(
            sa.inspect(s.app._r).get_table_names())
        assert signin.attempt(s, "x", "y", policy=POLICY, now=T0).user is None
        assert "signin_attempts" in s.app.counters()


def test_the_secret_is_made_once_and_shared(store):
    signin._SECRETS.clear()
    first = signin._secret(store)
    signin._SECRETS.clear()
    assert signin._secret(store) == first and len(first) == 32
    log = store.audit_entries("app_secrets")
    assert list(log["action"]) == ["create_secret"] and first.hex() not in log.to_json()


# -- the app ------------------------------------------------------------------------------------
@pytest.fixture()
def app_db(demo_path, tmp_path, monkeypatch):
    db = tmp_path / "signin.duckdb"
    _fresh_copy(demo_path, db)
    monkeypatch.setenv("VALUATION_DB", str(db))
    return db


def _app(lang="en") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["lang"] = lang
    return at


def _run(at: AppTest) -> AppTest:
    """Rerun through app.py, as a browser's rerun does: AppTest otherwise reruns the page file
    a multipage app finished on by itself, skipping app.py (and so the session's checks)."""
    at._finished_page_script_hash = ""
    at._page_hash = ""
    return at.run()


def _sign_in(at: AppTest, user_id: str, password: str) -> AppTest:
    at.text_input(key="signin_user").input(user_id)
    at.text_input(key="signin_password").input(password)
    at.button[0].click().run()
    return at


def test_the_form_locks_after_five_failures_and_says_until_when(app_db, monkeypatch):
    clock = {"now": T0}
    monkeypatch.setattr(signin, "utcnow", lambda: clock["now"])
    at = _app().run()
    for i in range(5):
        clock["now"] = T0 + timedelta(minutes=i)
        _sign_in(at, "am01", "wrong-password")
        assert not at.exception
    assert any("locked until 2026-03-02 08:19" in str(e.value) for e in at.error)
    clock["now"] = T0 + timedelta(minutes=10)
    _sign_in(at, "am01", "demo-am01")  # the right password, still locked
    assert "user" not in at.session_state
    assert any("locked until 2026-03-02 08:19" in str(e.value) for e in at.error)
    clock["now"] = T0 + timedelta(minutes=19)
    _sign_in(at, "am01", "demo-am01")
    assert not at.exception and at.session_state["user"].user_id == "am01"
    assert at.session_state["_auth_cookie"].startswith("v1.")
    with Store(app_db) as s:
        acts = list(_audit(s)["action"])
    assert acts == ["sign_in_failed"] * 5 + ["lockout", "sign_in_locked", "sign_in"]


def test_signing_in_writes_the_cookie_and_signing_out_revokes_and_clears_it(app_db):
    at = _sign_in(_app().run(), "am01", "demo-am01")
    token = at.session_state["_auth_token"]
    assert any("document.cookie" in h.proto.body and "Max-Age=1800" in h.proto.body
               and at.session_state["_auth_cookie"] in h.proto.body for h in at.get("html"))
    with Store(app_db) as s:
        assert signin.touch(s, token, policy=POLICY) is not None  # open
    _run(at).sidebar.button(key="sign_out").click()  # (a widget's id includes the page run)
    _run(at)
    assert "user" not in at.session_state and not at.exception
    assert at.text_input(key="signin_user")  # the sign-in form again
    assert any("Max-Age=0" in h.proto.body for h in at.get("html"))
    with Store(app_db) as s:
        assert list(_audit(s)["action"])[-2:] == ["sign_in", "sign_out"]
        assert signin.touch(s, token, policy=POLICY) is None  # revoked


def test_an_idle_session_is_signed_out_on_its_next_interaction(app_db, monkeypatch):
    clock = {"now": T0}
    monkeypatch.setattr(signin, "utcnow", lambda: clock["now"])
    at = _sign_in(_app().run(), "am01", "demo-am01")
    clock["now"] = T0 + timedelta(minutes=29)
    _run(at)
    assert at.session_state["user"].user_id == "am01"  # 29 minutes: still in
    clock["now"] = T0 + timedelta(minutes=29 + 31)
    _run(at)
    assert "user" not in at.session_state
    assert any("signed out after 30 minutes without activity" in str(e.value) for e in at.info)
    with Store(app_db) as s:
        assert list(_audit(s)["action"])[-1] == "sign_out_idle"


def test_a_reload_restores_the_session_from_its_cookie(app_db, monkeypatch):
    """A new browser session (AppTest cannot send cookies: the read is patched) with the
    cookie of a signed-in one is signed in; with a tampered cookie it is not."""
    from ui import session

    first = _sign_in(_app().run(), "lead01", "demo-lead01")
    cookie = first.session_state["_auth_cookie"]
    monkeypatch.setattr(session, "_browser_cookie", lambda: cookie)
    again = _app().run()
    assert not again.exception and again.session_state["user"].user_id == "lead01"
    monkeypatch.setattr(session, "_browser_cookie", lambda: cookie[:-3] + "abc")
    tampered = _app().run()
    assert "user" not in tampered.session_state
    assert any("Max-Age=0" in h.proto.body for h in tampered.get("html"))  # the cookie goes


def test_a_role_change_by_an_import_holds_in_an_open_session(app_db):
    at = _sign_in(_app().run(), "am01", "demo-am01")
    assert at.session_state["user"].role == "account_manager"
    with Store(app_db) as s:
        users = s.read_table("users")
        s.replace_facts({"users": users.assign(role=users["role"].where(
            users["user_id"] != "am01", "executive"), team_id=users["team_id"].where(
            users["user_id"] != "am01", None))}, source="re-role")
    _run(at)
    assert not at.exception
    assert at.session_state["user"].role == "executive"
    at.switch_page("pages/pyramid.py").run()  # an executive's page, not an account manager's
    assert not at.exception and not at.error
    with Store(app_db) as s:
        s.replace_facts({"users": users[users["user_id"] != "am01"]}, source="removed")
    _run(at)
    assert "user" not in at.session_state
    assert any("no longer in the user list" in str(e.value) for e in at.info)


@pytest.mark.parametrize(("page", "user_id", "stopped"), [
    ("pages/pyramid.py", "am01", True), ("pages/retention.py", "am01", True),
    ("pages/import_data.py", "lead01", True), ("pages/settings.py", "exec01", True),
    ("pages/my_work.py", "exec01", True), ("pages/my_work.py", "am01", False),
])
def test_a_page_checks_the_role_itself(demo_path, monkeypatch, page, user_id, stopped):
    """Run a page file directly (as if the navigation had let it through)."""
    monkeypatch.setenv("VALUATION_DB", str(demo_path))
    at = AppTest.from_file(str(ROOT / page), default_timeout=120)
    with Store(demo_path) as s:
        at.session_state["user"] = access.get_user(s, user_id)
    at.session_state["lang"] = "en"
    at.run()
    assert not at.exception
    refused = [e for e in at.error if "may not open the page" in str(e.value)]
    assert bool(refused) == stopped
    assert bool(at.title) != stopped  # a stopped page shows nothing of its own


class _Rerun(Exception):
    pass


@pytest.mark.parametrize("case", ["live", "idle", "removed", "role", "signed_out"])
def test_a_fragment_rerun_passes_the_session_checks_first(case, monkeypatch):
    """A fragment's rerun does not run app.py: ``session.checked`` runs the checks itself. A
    live session runs the fragment (and counts as activity); idle, removed, signed out or a
    changed role give a whole-app rerun instead of the fragment's body."""
    from ui import session

    me = access.User("am1", "甲", "Jia", "account_manager", "T1")
    changed = access.User("am1", "甲", "Jia", "sales_lead", "T1")
    state = {"user": None if case == "signed_out" else me}
    after = {"live": me, "idle": None, "removed": None, "role": changed, "signed_out": me}[case]
    monkeypatch.setattr(session, "current_user", lambda: state["user"])
    monkeypatch.setattr(session, "guard", lambda: after)
    reruns: list[str] = []

    def rerun(scope="app"):
        reruns.append(scope)
        raise _Rerun

    monkeypatch.setattr(session.st, "rerun", rerun)
    ran: list[int] = []
    body = session.checked(lambda x: ran.append(x) or x)
    if case == "live":
        assert body(7) == 7 and ran == [7] and reruns == []
    else:
        with pytest.raises(_Rerun):
            body(7)
        assert ran == [] and reruns == ["app"]


def test_every_fragment_is_made_with_the_session_checks():
    for path in sorted([*(ROOT / "pages").glob("*.py"), *(ROOT / "ui").glob("*.py")]):
        text = path.read_text(encoding="utf-8")
        assert "@st.fragment" not in text and "st.fragment(" not in text.replace(
            "return st.fragment(checked(fn))", ""), path.name


def test_every_page_file_calls_the_role_check():
    for path in sorted((ROOT / "pages").glob("*.py")):
        assert "\nrequire_page(__file__)" in path.read_text(encoding="utf-8"), path.name


# -- a real browser -----------------------------------------------------------------------------
@pytest.mark.browser
def test_a_browser_reload_keeps_the_session_and_sign_out_ends_it(demo_path, tmp_path):
    """streamlit run + headless Chromium: sign in, reload (a new Streamlit session: only the
    cookie carries it), still signed in; sign out, reload: the sign-in form, the cookie gone."""
    from playwright.sync_api import sync_playwright

    from valuation.appbench import ARGS, CHROMIUM, serve

    db = tmp_path / "portfolio.duckdb"
    _fresh_copy(demo_path, db)
    with serve(db, tmp_path / "streamlit.log", timeout=90) as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_context(locale="en-US").new_page()
            page.goto(f"{url}/?lang=en", wait_until="domcontentloaded")
            page.locator('input[type="text"]').first.wait_for(timeout=90_000)
            page.locator('input[type="text"]').first.fill("lead01")
            page.locator('input[type="password"]').first.fill("demo-lead01")
            page.locator('[data-testid="stFormSubmitButton"] button').click()
            nav = page.locator('[data-testid="stSidebarNav"] a')
            nav.first.wait_for(timeout=90_000)
            page.wait_for_function(
                "() => document.cookie.includes('valuation_session=v1.')", timeout=30_000)
            cookie = next(c for c in page.context.cookies() if c["name"] == signin.COOKIE)
            assert cookie["sameSite"] == "Strict" and 0 < cookie["expires"] - datetime.now(
                UTC).timestamp() <= 1800 + 5

            nav.nth(1).click()  # another page: the address no longer says ?lang=en
            page.wait_for_url(lambda u: "lang=" not in u, timeout=30_000)
            page.wait_for_function(
                "() => document.cookie.includes('valuation_lang=en')", timeout=30_000)
            page.reload(wait_until="domcontentloaded")
            nav.first.wait_for(timeout=90_000)  # signed in again, by the cookie alone
            assert nav.count() == 6  # a sales lead's pages
            assert page.locator('input[type="password"]').count() == 0
            assert nav.first.inner_text().split()[-1] == "Portfolio"  # and still in English

            page.locator('[data-testid="stSidebar"] button', has_text="Sign out").click()
            page.locator('input[type="password"]').first.wait_for(timeout=90_000)
            page.wait_for_function(
                "() => !document.cookie.includes('valuation_session=')", timeout=30_000)
            page.reload(wait_until="domcontentloaded")
            page.locator('input[type="password"]').first.wait_for(timeout=90_000)
            page.wait_for_timeout(1500)  # give a (wrong) restore the time to show the pages
            assert nav.count() == 0
        finally:
            browser.close()
    with Store(db) as s:
        acts = list(_audit(s)["action"])
    assert acts == ["sign_in", "session_restored", "sign_out"]
