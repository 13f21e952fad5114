"""Users, roles, password hashing and who may see which accounts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import pandas as pd

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
    "scope_filter",
    "scope_sql",
    "set_password",
    "unassigned",
    "verify_password",
]

ROLES = ("account_manager", "sales_lead", "executive", "admin")

# scrypt cost: 2**15 x 8 x 1 needs 32 MiB and ~0.1 s per check on this hardware class.
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
    """A salted scrypt hash, self-describing: ``scrypt$N$r$p$salt$hash`` (base64)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P,
        maxmem=128 * 1024 * 1024, dklen=32,
    )
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored`` (constant-time comparison)."""
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
    r = df.iloc[0]
    return User(
        user_id=str(r["user_id"]),
        name=str(r["name"]),
        name_en=str(r["name_en"]) if pd.notna(r["name_en"]) else "",
        role=str(r["role"]),
        team_id=str(r["team_id"]) if pd.notna(r["team_id"]) else None,
    )


def set_password(store: Store, user_id: str, password: str, *, by: str) -> None:
    """Store a new salted hash for ``user_id`` (audited, the hash itself redacted)."""
    if get_user(store, user_id) is None:
        raise ValueError(f"no user {user_id!r}")
    if len(password) < _MIN_PASSWORD:
        raise ValueError(f"a password needs at least {_MIN_PASSWORD} characters")
    store.write_row(
        "credentials",
        {"user_id": user_id, "password_hash": hash_password(password)},
        user=by,
        action="set_password",
        redact=("password_hash",),
    )


def authenticate(store: Store, user_id: str, password: str) -> User | None:
    """The user when the password is right, else None (same work either way)."""
    stored = store.app.scalar("SELECT password_hash FROM credentials WHERE user_id = :u",
                              {"u": str(user_id)})
    # Compare against a dummy hash when the user is unknown, so timing does not tell.
    ok = verify_password(password, stored or _DUMMY_HASH)
    return get_user(store, user_id) if ok and stored else None


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
