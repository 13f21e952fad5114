"""Sign-in attempts, lockout, their audit, and the sessions a browser cookie restores.

Failed attempts are counted per typed user ID in the app database (``signin_attempts``), so
every server process shares the count; an ID nobody has is counted and locked exactly like a
real one, so the answers never tell whether a user exists. An attempt is counted *before* its
password is checked (and the lock set when it reaches the limit), so attempts sent in parallel
cannot slip past the limit; a success removes the row. The backoff waits after a *confirmed*
failure only, so one person's attempts in flight at once (two windows) do not throttle each
other. Rows of IDs last tried longer ago than ``auth.failure_memory_hours`` are removed.

A successful sign-in opens a session (``signin_sessions``): a random token whose SHA-256 is
stored, handed to the browser as a cookie value ``v1.<token>.<expiry>.<HMAC>`` signed with a
server secret kept in ``app_secrets`` (created on first use). A reload restores the session
only when the signature, the expiry, the stored row (not revoked, not idle, not past its
lifetime) and the user (still in the users table; role read afresh) all check out. Signing
out, a lockout, a new password or the user's removal revokes the row.

Every sign-in, failure, refusal while locked, lockout, restore and sign-out adds an
``audit_log`` row; passwords and tokens are never written (only a token digest's prefix).
Times are UTC; every function takes ``now`` so tests move the clock instead of sleeping.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from valuation.access import User, authenticate, get_user, is_active
from valuation.appdb import Tx
from valuation.store import ConflictError, Store

__all__ = ["COOKIE", "Outcome", "Policy", "Restored", "attempt", "cookie_value", "prune",
           "revoke_sessions", "restore", "sign_out", "touch", "utcnow"]

COOKIE = "valuation_session"
_SECRET_NAME = "session_hmac"
_MAX_LOGIN = 100  # characters of a typed user ID that are kept
_RETRIES = 5
_SECRETS: dict[str, bytes] = {}  # app database URL -> secret (it never changes)


def utcnow() -> datetime:
    """The clock every function here reads when not given ``now`` (tests replace it)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Policy:
    """The sign-in settings (``auth.*``): failures that lock, for how long, the wait between
    attempts, idle timeout, the longest a restored session lasts and how long failures are
    remembered."""

    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)
    backoff_seconds: float = 1.0
    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)
    memory: timedelta = timedelta(hours=24)

    @classmethod
    def from_settings(cls, settings: Any) -> Policy:
        return cls(max_failures=int(settings.get("auth.max_failures")),
                   lockout=timedelta(minutes=float(settings.get("auth.lockout_minutes"))),
                   backoff_seconds=float(settings.get("auth.backoff_seconds")),
                   idle=timedelta(minutes=float(settings.get("auth.idle_timeout_minutes"))),
                   lifetime=timedelta(hours=float(settings.get("auth.session_hours"))),
                   memory=timedelta(hours=float(settings.get("auth.failure_memory_hours"))))

    def wait_after(self, failures: int) -> timedelta:
        """The wait before the next attempt after ``failures`` in a row: none after the first,
        then ``backoff_seconds``, doubling with every further failure."""
        if failures < 2 or self.backoff_seconds <= 0:
            return timedelta(0)
        return timedelta(seconds=self.backoff_seconds * 2 ** (failures - 2))


@dataclass(frozen=True)
class Outcome:
    """What a sign-in attempt came to: the user, cookie value and token on success; else until
    when the ID is locked, or when the next attempt may come (backoff), or neither (wrong)."""

    user: User | None
    cookie: str | None = None
    token: str | None = None
    locked_until: datetime | None = None
    retry_at: datetime | None = None


@dataclass(frozen=True)
class Restored:
    """A session restored from its cookie: the user as the users table has them now, the
    session's token and the refreshed cookie value."""

    user: User
    token: str
    cookie: str


def attempt(store: Store, login_id: str, password: str, *, policy: Policy,
            now: datetime | None = None) -> Outcome:
    """Check one sign-in: refused unchecked while the typed ID is locked or must wait, else the
    password is checked (scrypt hashes upgraded, see :func:`valuation.access.authenticate`).
    Audited as ``sign_in``, ``sign_in_failed``, ``lockout``, ``sign_in_locked`` or
    ``sign_in_throttled``."""
    now = now or utcnow()
    login = str(login_id).strip()[:_MAX_LOGIN]
    secret = _secret(store)  # before any transaction: creating it is a write of its own
    prune(store, policy=policy, now=now)
    reserved = _reserve(store, login, policy, now)
    if isinstance(reserved, Outcome):
        return reserved
    failures, lock = reserved
    user = authenticate(store, login, password)
    att = store.app.tables["signin_attempts"]
    with store.transaction() as tx:
        if user is not None:
            tx.execute(sa.delete(att).where(att.c.login_id == login))
            tx.touched.add("signin_attempts")
            token = secrets.token_urlsafe(32)
            digest = _digest(token)
            tx.execute(sa.insert(store.app.tables["signin_sessions"]).values(
                token_hash=digest, user_id=user.user_id, issued_at=_iso(now),
                last_seen_at=_iso(now), expires_at=_iso(now + policy.lifetime), version=1,
                updated_at=_iso(now), updated_by=user.user_id))
            tx.touched.add("signin_sessions")
            _audit(store, tx, user.user_id, "sign_in", "signin_sessions",
                   {"user_id": user.user_id, "session": digest[:12]},
                   {"role": user.role, "team_id": user.team_id})
            return Outcome(user, cookie=_cookie(secret, token, now + policy.idle), token=token)
        # the failure is confirmed: from now on the next attempt waits (backoff). Attempts still
        # in flight are counted (toward the lock) but make nobody wait, so a person signing in
        # from two windows at once is not throttled by their own success.
        tx.execute(sa.update(att).where(att.c.login_id == login)
                   .values(last_failure_at=_iso(now)))
        _audit(store, tx, login, "sign_in_failed", "signin_attempts", {"login_id": login},
               {"failures": failures})
        if lock is None:
            return Outcome(None)
        _audit(store, tx, login, "lockout", "signin_attempts", {"login_id": login},
               {"failures": failures, "locked_until": _iso(lock)})
        revoke_sessions(store, login, why="lockout", by="system", now=now, tx=tx)
    return Outcome(None, locked_until=lock)


def prune(store: Store, *, policy: Policy, now: datetime | None = None) -> tuple[int, int]:
    """Remove what no longer counts: attempt rows whose last attempt is older than
    ``policy.memory`` and whose lock (if any) has run out, and session rows past their lifetime
    or revoked longer than that ago (the audit log keeps their history). Typed IDs nobody has
    cannot fill the table. Returns (attempt rows, session rows) removed."""
    now = now or utcnow()
    att = store.app.tables["signin_attempts"]
    ses = store.app.tables["signin_sessions"]
    forget = _iso(now - policy.memory)
    with store.transaction() as tx:
        gone = tx.execute(sa.delete(att).where(
            att.c.updated_at < forget,
            sa.or_(att.c.locked_until.is_(None), att.c.locked_until < _iso(now)))).rowcount
        ended = tx.execute(sa.delete(ses).where(sa.or_(
            ses.c.expires_at < forget, ses.c.revoked_at < forget))).rowcount
        if gone:
            tx.touched.add("signin_attempts")
        if ended:
            tx.touched.add("signin_sessions")
    return int(gone or 0), int(ended or 0)


def _reserve(store: Store, login: str, policy: Policy,
             now: datetime) -> Outcome | tuple[int, datetime | None]:
    """Count the attempt before its password is checked, in one transaction with the checks:
    the refusal when locked or too early, else (failures counted, lock set or None)."""
    att = store.app.tables["signin_attempts"]
    for n in range(_RETRIES):
        try:
            with store.transaction() as tx:
                row = tx.execute(sa.select(att).where(att.c.login_id == login)
                                 .with_for_update()).mappings().first()
                failures = int(row["failures"]) if row else 0
                locked = _parse(row["locked_until"]) if row else None
                if locked is not None and now < locked:
                    _audit(store, tx, login, "sign_in_locked", "signin_attempts",
                           {"login_id": login}, {"locked_until": _iso(locked)})
                    return Outcome(None, locked_until=locked)
                last = _parse(row["last_failure_at"]) if row else None
                seen = _parse(row["updated_at"]) if row else None
                if locked is not None or (seen is not None and now >= seen + policy.memory):
                    failures = 0  # the lock ran out, or the failures are forgotten: afresh
                wait = policy.wait_after(failures)
                if last is not None and failures and now < last + wait:
                    _audit(store, tx, login, "sign_in_throttled", "signin_attempts",
                           {"login_id": login}, {"retry_at": _iso(last + wait)})
                    return Outcome(None, retry_at=last + wait)
                failures += 1
                lock = now + policy.lockout if failures >= policy.max_failures else None
                values = {"failures": failures, "locked_until": _iso(lock) if lock else None,
                          "updated_at": _iso(now), "updated_by": "system"}
                if row is None:
                    tx.execute(sa.insert(att).values(login_id=login, version=1, **values))
                else:
                    tx.execute(sa.update(att).where(att.c.login_id == login)
                               .values(version=att.c.version + 1, **values))
                tx.touched.add("signin_attempts")
                return failures, lock
        except ConflictError:  # two first attempts inserted the row at once: count again
            if n == _RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def restore(store: Store, cookie: str, *, policy: Policy,
            now: datetime | None = None) -> Restored | None:
    """The session of a cookie value, or None when its signature, expiry or stored row does
    not check out, or its user is gone (the row is then revoked). The user is read afresh
    (a changed role or team holds); the row's last activity moves to ``now``. A bad signature
    is audited as ``session_refused``, a restore as ``session_restored``."""
    now = now or utcnow()
    parts = str(cookie).split(".")
    if len(parts) != 4 or parts[0] != "v1" or not parts[2].isdigit():
        return None
    _, token, exp, sig = parts
    secret = _secret(store)
    if not hmac.compare_digest(sig, _sign(secret, f"v1.{token}.{exp}")):
        with store.transaction() as tx:
            _audit(store, tx, "?", "session_refused", "signin_sessions",
                   {"session": _digest(token)[:12]}, {"why": "signature"})
        return None
    if int(exp) <= now.timestamp():
        return None
    digest = _digest(token)
    tbl = store.app.tables["signin_sessions"]
    rows = store.app.select("signin_sessions", tbl.c.token_hash == digest, order=False)
    if rows.empty:
        return None
    row = rows.iloc[0]
    if (isinstance(row["revoked_at"], str) or now >= _parse(row["expires_at"])
            or now >= _parse(row["last_seen_at"]) + policy.idle):
        return None
    user = get_user(store, str(row["user_id"]))
    if user is not None and not is_active(store, user.user_id):
        user = None  # deactivated by an admin: as good as removed
    with store.transaction() as tx:
        if user is None:
            _revoke(store, tx, tbl.c.token_hash == digest, why="removed", by="system", now=now)
            return None
        tx.execute(sa.update(tbl).where(tbl.c.token_hash == digest)
                   .values(last_seen_at=_iso(now)))
        _audit(store, tx, user.user_id, "session_restored", "signin_sessions",
               {"user_id": user.user_id, "session": digest[:12]},
               {"role": user.role, "team_id": user.team_id})
    return Restored(user, token, _cookie(secret, token, now + policy.idle))


def touch(store: Store, token: str, *, policy: Policy, now: datetime | None = None) -> str | None:
    """Record activity on an open session: the refreshed cookie value, or None when the session
    was revoked meanwhile (signed out elsewhere, lockout, new password) or is past its
    lifetime. Not audited (no one changed anything)."""
    now = now or utcnow()
    secret = _secret(store)
    tbl = store.app.tables["signin_sessions"]
    with store.transaction() as tx:
        res = tx.execute(sa.update(tbl).where(tbl.c.token_hash == _digest(token),
                                              tbl.c.revoked_at.is_(None),
                                              tbl.c.expires_at > _iso(now))
                         .values(last_seen_at=_iso(now)))
    return _cookie(secret, token, now + policy.idle) if res.rowcount == 1 else None


def sign_out(store: Store, user_id: str, token: str | None, *, why: str = "sign_out",
             now: datetime | None = None) -> None:
    """End a session: its row revoked (a reload no longer restores it), audited as
    ``sign_out`` (or ``sign_out_<why>``, e.g. ``sign_out_idle``)."""
    now = now or utcnow()
    tbl = store.app.tables["signin_sessions"]
    digest = _digest(token) if token else None
    with store.transaction() as tx:
        if digest:
            _revoke(store, tx, tbl.c.token_hash == digest, why=why, by=user_id, now=now)
        _audit(store, tx, user_id, "sign_out" if why == "sign_out" else f"sign_out_{why}",
               "signin_sessions", {"user_id": user_id, "session": (digest or "")[:12]},
               {"why": why})


def revoke_sessions(store: Store, user_id: str, *, why: str, by: str,
                    now: datetime | None = None, tx: Tx | None = None) -> int:
    """Revoke every open session of ``user_id`` (joins ``tx``); one audit row
    (``revoke_sessions``) when there were any. Returns how many."""
    now = now or utcnow()
    tbl = store.app.tables["signin_sessions"]
    with store.transaction(tx) as t:
        n = _revoke(store, t, tbl.c.user_id == str(user_id), why=why, by=by, now=now)
        if n:
            _audit(store, t, by, "revoke_sessions", "signin_sessions", {"user_id": user_id},
                   {"why": why, "sessions": n})
    return n


def cookie_value(store: Store, token: str, expires: datetime) -> str:
    """The signed cookie value of ``token`` valid until ``expires``."""
    return _cookie(_secret(store), token, expires)


# ---------------------------------------------------------------------------------------------
def _revoke(store: Store, tx: Tx, where: Any, *, why: str, by: str, now: datetime) -> int:
    tbl = store.app.tables["signin_sessions"]
    res = tx.execute(sa.update(tbl).where(where, tbl.c.revoked_at.is_(None)).values(
        revoked_at=_iso(now), revoked_why=why, version=tbl.c.version + 1,
        updated_at=_iso(now), updated_by=by))
    if res.rowcount:
        tx.touched.add("signin_sessions")
    return int(res.rowcount)


def _audit(store: Store, tx: Tx, user: str, action: str, table: str, key: dict[str, Any],
           after: dict[str, Any]) -> None:
    store.app.audit(tx, user=user, action=action, table_name=table,
                    row_key=json.dumps(key, ensure_ascii=False), before=None,
                    after=json.dumps(after, ensure_ascii=False))


def _secret(store: Store) -> bytes:
    """The key that signs session cookies: one per app database, created on first use (audited
    with the value redacted); every process of the app reads the same one."""
    url = store.app.url
    if url not in _SECRETS:
        q = "SELECT value FROM app_secrets WHERE name = :n"
        value = store.app.scalar(q, {"n": _SECRET_NAME})
        if value is None:
            try:
                store.write_row("app_secrets", {"name": _SECRET_NAME,
                                                "value": secrets.token_hex(32)},
                                user="system", action="create_secret", redact=("value",),
                                expected_version=0)
            except ConflictError:
                pass  # another process created it first: use theirs
            value = store.app.scalar(q, {"n": _SECRET_NAME})
        _SECRETS[url] = bytes.fromhex(str(value))
    return _SECRETS[url]


def _cookie(secret: bytes, token: str, expires: datetime) -> str:
    body = f"v1.{token}.{int(expires.timestamp())}"
    return f"{body}.{_sign(secret, body)}"


def _sign(secret: bytes, body: str) -> str:
    mac = hmac.new(secret, body.encode("ascii", "replace"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
