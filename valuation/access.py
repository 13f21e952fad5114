"""Users, roles, password hashing and who may see which accounts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import argon2
import pandas as pd

from valuation.appdb import Tx
from valuation.store import Store

__all__ = [
    "ROLES",
    "User",
    "authenticate",
    "can_assign_owners",
    "can_edit_accounts",
    "can_import",
    "can_manage_settings",
    "get_user",
    "hash_password",
    "inactive_ids",
    "is_active",
    "needs_rehash",
    "scope_filter",
    "scope_sql",
    "scrypt_hash",
    "set_password",
    "unassigned",
    "user_from_row",
    "verify_password",
]

ROLES = ("account_manager", "sales_lead", "executive", "admin")

# Argon2id at 46 MiB, 2 passes, 1 lane: above both OWASP floors (19 MiB x 2 and 46 MiB x 1);
# ~65 ms per check on this hardware class. Older hashes are scrypt (2**15 x 8 x 1): they still
# verify and are replaced by an Argon2id hash at their next successful sign-in.
_ARGON2 = argon2.PasswordHasher(time_cost=2, memory_cost=47104, parallelism=1, hash_len=32,
                                salt_len=16, type=argon2.Type.ID)
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1
_MIN_PASSWORD = 8


@dataclass(frozen=True)
class User:
    """A signed-in person and the scope of accounts they may see."""

    user_id: str
    name: str
    name_en: str
    role: str
    team_id: str | None

    def display_name(self, lang: str) -> str:
        return self.name if lang.startswith("zh") or not self.name_en else self.name_en


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A salted Argon2id hash in the PHC format: ``$argon2id$v=19$m=47104,t=2,p=1$salt$hash``."""
    if salt is None:
        return _ARGON2.hash(password)
    return _ARGON2.hash(password, salt=salt)


def scrypt_hash(password: str, *, salt: bytes | None = None) -> str:
    """The former format, ``scrypt$N$r$p$salt$hash`` (base64): only to test the upgrade."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P,
        maxmem=128 * 1024 * 1024, dklen=32,
    )
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` is not an Argon2id hash with today's parameters (scrypt, weaker)."""
    if not stored.startswith("$argon2id$"):
        return True
    try:
        return _ARGON2.check_needs_rehash(stored)
    except argon2.exceptions.InvalidHashError:
        return True


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``: Argon2id, or a former scrypt hash
    (constant-time comparison)."""
    if stored.startswith("$argon2"):
        try:
            return _ARGON2.verify(stored, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False
    try:
        kind, n, r, p, salt_b64, hash_b64 = stored.split("$")
    except ValueError:
        return False
    if kind != "scrypt":
        return False
    expected = base64.b64decode(hash_b64)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=base64.b64decode(salt_b64), n=int(n), r=int(r),
        p=int(p), maxmem=128 * 1024 * 1024, dklen=len(expected),
    )
    return hmac.compare_digest(digest, expected)


def get_user(store: Store, user_id: str) -> User | None:
    """The user called ``user_id``, or None."""
    df = store.query(
        "SELECT user_id, name, name_en, role, team_id FROM users WHERE user_id = ?", [user_id]
    )
    if df.empty:
        return None
    return user_from_row(df.iloc[0])


def is_active(store: Store, user_id: str) -> bool:
    """False for a user an admin deactivated (``user_changes.active``): they cannot sign in,
    and their open sessions end; everyone else is active."""
    v = store.app.scalar("SELECT active FROM user_changes WHERE user_id = :u",
                         {"u": str(user_id)})
    return v is None or bool(v)


def inactive_ids(store: Store) -> set[str]:
    """The user IDs an admin deactivated."""
    df = store.app.query("SELECT user_id FROM user_changes WHERE active = :f", {"f": False})
    return set(df["user_id"].astype(str))


def user_from_row(r: pd.Series) -> User:
    """The User of one row of the users table (``user_id`` a column or the row's name)."""
    return User(
        user_id=str(r["user_id"] if "user_id" in r.index else r.name),
        name=str(r["name"]),
        name_en=str(r["name_en"]) if pd.notna(r["name_en"]) else "",
        role=str(r["role"]),
        team_id=str(r["team_id"]) if pd.notna(r["team_id"]) else None,
    )


def set_password(store: Store, user_id: str, password: str, *, by: str) -> None:
    """Store a new salted hash for ``user_id`` (audited, the hash itself redacted); the user's
    open sessions are revoked in the same transaction (a reload no longer restores them)."""
    from valuation import signin

    if get_user(store, user_id) is None:
        raise ValueError(f"no user {user_id!r}")
    if len(password) < _MIN_PASSWORD:
        raise ValueError(f"a password needs at least {_MIN_PASSWORD} characters")
    with store.transaction() as tx:
        _write_hash(store, user_id, hash_password(password), by=by, action="set_password", tx=tx)
        signin.revoke_sessions(store, user_id, why="password", by=by, tx=tx)


def _write_hash(store: Store, user_id: str, password_hash: str, *, by: str, action: str,
                tx: Tx | None = None) -> None:
    store.write_row("credentials", {"user_id": user_id, "password_hash": password_hash},
                    user=by, action=action, redact=("password_hash",), tx=tx)


def authenticate(store: Store, user_id: str, password: str) -> User | None:
    """The user when the password is right, else None (same work either way). A right password
    whose stored hash is scrypt (or weaker Argon2id) is re-hashed with Argon2id, audited as
    ``rehash_password`` with the hash redacted."""
    row = store.app.query("SELECT password_hash, version FROM credentials WHERE user_id = :u",
                          {"u": str(user_id)})
    stored = str(row["password_hash"].iloc[0]) if len(row) else None
    # Compare against a dummy hash when the user is unknown, so timing does not tell.
    ok = verify_password(password, stored or _DUMMY_HASH)
    user = get_user(store, user_id) if ok and stored and is_active(store, user_id) else None
    if user is not None and needs_rehash(stored):
        from valuation.store import ConflictError

        try:  # only over the hash just verified: a new password set meanwhile stands
            store.write_row("credentials", {"user_id": user.user_id,
                                            "password_hash": hash_password(password)},
                            user=user.user_id, action="rehash_password",
                            redact=("password_hash",),
                            expected_version=int(row["version"].iloc[0]))
        except ConflictError:
            pass
    return user


def scope_sql(user: User, *, alias: str = "a") -> tuple[str, list[str]]:
    """A SQL predicate on accounts ``alias`` restricting them to the user's scope: an account
    manager's own accounts; a sales lead's team's accounts and the unassigned pool (no owner,
    or an owner who is not a user); everything for executives and admins."""
    if user.role == "account_manager":
        return f"{alias}.owner_id = ?", [user.user_id]
    if user.role == "sales_lead":
        return (
            f"({alias}.owner_id IN (SELECT user_id FROM users WHERE team_id = ?) "
            f"OR {alias}.owner_id IS NULL "
            f"OR {alias}.owner_id NOT IN (SELECT user_id FROM users))",
            [user.team_id or ""],
        )
    return "TRUE", []


def scope_filter(user: User, accounts: pd.DataFrame, users: pd.DataFrame) -> pd.Series:
    """Boolean mask over ``accounts`` (owner_id column) of the rows the user may see (the
    same scope as :func:`scope_sql`)."""
    owner = accounts["owner_id"]
    if user.role == "account_manager":
        return (owner == user.user_id).fillna(False).astype(bool)
    if user.role == "sales_lead":
        team = users.loc[users["team_id"] == user.team_id, "user_id"]
        return (owner.isin(team) | unassigned(accounts, users)).astype(bool)
    return pd.Series(True, index=accounts.index)


def unassigned(accounts: pd.DataFrame, users: pd.DataFrame) -> pd.Series:
    """Accounts in the unassigned pool: no owner, or an owner who is not a user."""
    return ~accounts["owner_id"].isin(users["user_id"]).fillna(False).astype(bool)


def can_assign_owners(user: User) -> bool:
    """Sales leads and admins give unassigned accounts an owner."""
    return user.role in ("sales_lead", "admin")


def can_edit_accounts(user: User) -> bool:
    """Executives read; everyone else may write plans and work orders in scope."""
    return user.role != "executive"


def can_import(user: User) -> bool:
    return user.role == "admin"


def can_manage_settings(user: User) -> bool:
    return user.role == "admin"


_DUMMY_HASH = hash_password("not-a-real-password", salt=b"\x00" * 16)
