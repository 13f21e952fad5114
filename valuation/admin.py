"""The admin's tools: users and teams, moving accounts between owners, the audit log, the
quality of the facts and the calibrations saved.

Every write goes through the store's versioned and audited paths: users and teams through
:meth:`Store.write_directory` (the change in the app database and in the facts in one step),
deactivation through :meth:`Store.write_row`, passwords through
:func:`valuation.access.set_password` (the hash redacted in the audit log, the user's sessions
ended), account moves through :meth:`Store.assign_owner`. The reads (audit log, data quality)
are SQL on the app database and on the facts' read-only connection, one statement per table,
never whole tables in pandas.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from valuation import i18n, schema, signin
from valuation.access import ROLES, get_user, inactive_ids, is_active, set_password
from valuation.store import Store

__all__ = [
    "AdminError",
    "AuditFilter",
    "DATE_COLUMNS",
    "audit_detail",
    "audit_export",
    "audit_facets",
    "audit_query",
    "calibrations",
    "change_summary",
    "change_team",
    "change_user",
    "change_version",
    "create_team",
    "create_user",
    "data_age",
    "directory",
    "failed_references",
    "generate_password",
    "imports",
    "key_text",
    "missing_values",
    "move_accounts",
    "reset_password",
    "set_active",
    "teams",
]

_USER_FIELDS = ("name", "name_en", "role", "team_id", "email")
_TEAM_FIELDS = ("name", "name_en", "lead_id", "city")
_NEEDS_TEAM = ("account_manager", "sales_lead")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AdminError(ValueError):
    """An admin action refused for a reason people can fix; ``key`` and ``params`` say it in
    either language (:func:`valuation.i18n.t`), the message in English."""

    def __init__(self, key: str, **params: Any) -> None:
        self.key = key
        self.params = params
        super().__init__(i18n.t(key, "en", **params))

    def text(self, lang: str) -> str:
        return i18n.t(self.key, lang, **self.params)


# -- users and teams ----------------------------------------------------------------------------
def generate_password() -> str:
    """A temporary password of 12 characters (letters and digits; 71 bits)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


def change_version(store: Store, name: str, key: str) -> int:
    """The version of the ``user_changes`` / ``team_changes`` row of ``key`` (0: none yet),
    the version an editor reads and writes against."""
    col = "user_id" if name == "user_changes" else "team_id"
    if name not in ("user_changes", "team_changes"):
        raise ValueError(name)
    v = store.app.scalar(f"SELECT version FROM {name} WHERE {col} = :k", {"k": str(key)})
    return int(v or 0)


def directory(store: Store) -> pd.DataFrame:
    """One row per user: user_id, name, name_en, role, team_id, team_name, team_name_en,
    email; live accounts owned; active; has_password; locked_until (a lockout in force, else
    None); last_sign_in; created (in the app) and changed (by an admin in the app); version
    (of the user's change row, 0 for none)."""
    users = store.query(
        """SELECT u.user_id, u.name, u.name_en, u.role, u.team_id, t.name AS team_name,
                  t.name_en AS team_name_en, u.email, coalesce(o.accounts, 0) AS accounts
           FROM users u
           LEFT JOIN teams t ON t.team_id = u.team_id
           LEFT JOIN (SELECT owner_id, count(*) AS accounts FROM accounts a
                      WHERE NOT EXISTS (SELECT 1 FROM churn_events c
                                        WHERE c.account_id = a.account_id)
                      GROUP BY owner_id) o ON o.owner_id = u.user_id
           ORDER BY u.user_id""")
    changes = store.app.query("SELECT user_id, active, created, version FROM user_changes")
    creds = store.app.query("SELECT user_id FROM credentials")
    now = signin._iso(signin.utcnow())
    locks = store.app.query("SELECT login_id AS user_id, locked_until FROM signin_attempts "
                            "WHERE locked_until > :now", {"now": now})
    # sign-ins are audited against signin_sessions: the table's index keeps this a short read
    last = store.app.query(
        "SELECT user_id, max(at) AS last_sign_in FROM audit_log "
        "WHERE table_name = 'signin_sessions' AND action = 'sign_in' GROUP BY user_id")
    out = (users.merge(changes, on="user_id", how="left")
           .merge(locks, on="user_id", how="left").merge(last, on="user_id", how="left"))
    out["active"] = out["active"].astype(object).where(out["active"].notna(), True).astype(bool)
    out["changed"] = out["version"].notna()
    out["created"] = out["created"].astype(object).where(out["created"].notna(), False
                                                         ).astype(bool)
    out["version"] = out["version"].fillna(0).astype(int)
    out["has_password"] = out["user_id"].isin(creds["user_id"])
    out["accounts"] = out["accounts"].astype(int)
    return out


def teams(store: Store) -> pd.DataFrame:
    """One row per team: team_id, name, name_en, lead_id, lead's name and name_en, city,
    members, live accounts owned by its members; changed, created and version as in
    :func:`directory`."""
    out = store.query(
        """SELECT t.team_id, t.name, t.name_en, t.lead_id, l.name AS lead_name,
                  l.name_en AS lead_name_en, t.city, coalesce(m.members, 0) AS members,
                  coalesce(m.accounts, 0) AS accounts
           FROM teams t
           LEFT JOIN users l ON l.user_id = t.lead_id
           LEFT JOIN (SELECT u.team_id, count(DISTINCT u.user_id) AS members,
                             count(a.account_id) AS accounts
                      FROM users u LEFT JOIN accounts a ON a.owner_id = u.user_id
                        AND NOT EXISTS (SELECT 1 FROM churn_events c
                                        WHERE c.account_id = a.account_id)
                      GROUP BY u.team_id) m ON m.team_id = t.team_id
           ORDER BY t.team_id""")
    changes = store.app.query("SELECT team_id, created, version FROM team_changes")
    out = out.merge(changes, on="team_id", how="left")
    out["changed"] = out["version"].notna()
    out["created"] = out["created"].astype(object).where(out["created"].notna(), False
                                                         ).astype(bool)
    out["version"] = out["version"].fillna(0).astype(int)
    out[["members", "accounts"]] = out[["members", "accounts"]].astype(int)
    return out


def _text(v: Any) -> str | None:
    """Stripped text, None for empty."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    s = str(v).strip()
    return s or None


def _check_id(value: Any) -> str:
    uid = _text(value) or ""
    if not _ID.match(uid):
        raise AdminError("admin.err.bad_id", id=uid)
    return uid


def _check_user_fields(store: Store, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The user fields cleaned and checked (role known; a team, and an existing one, for
    account managers and sales leads; a plausible e-mail)."""
    out = {k: _text(v) for k, v in fields.items() if k in _USER_FIELDS}
    if "name" in out and not out["name"]:
        raise AdminError("admin.err.no_name")
    role = out.get("role")
    if "role" in out and role not in ROLES:
        raise AdminError("admin.err.bad_role", role=role or "")
    team = out.get("team_id")
    if role in _NEEDS_TEAM and not team:
        raise AdminError("admin.err.needs_team")
    if team and not store.scalar("SELECT count(*) FROM teams WHERE team_id = ?", [team]):
        raise AdminError("admin.err.no_team", team=team)
    email = out.get("email")
    if email and not _EMAIL.match(email):
        raise AdminError("admin.err.bad_email", email=email)
    return out


def _check_password(password: str) -> None:
    if len(password) < 8:
        raise AdminError("admin.err.short_password")


def _other_active_admins(store: Store, user_id: str, inactive: set[str]) -> int:
    admins = store.query("SELECT user_id FROM users WHERE role = 'admin'")["user_id"]
    return int((~admins.isin(inactive | {user_id})).sum())


def create_user(store: Store, *, user_id: str, name: str, role: str, by: str,
                team_id: str | None = None, name_en: str | None = None,
                email: str | None = None, password: str | None = None) -> str:
    """A new user, created in the app (held across imports of users), with a password: the
    one given, else a generated one. Audited (``create_user``; the password's hash
    redacted). Returns the password, to be handed over once."""
    uid = _check_id(user_id)
    if get_user(store, uid) is not None:
        raise AdminError("admin.err.exists", id=uid)
    fields = _check_user_fields(store, {"name": name, "name_en": name_en, "role": role,
                                        "team_id": team_id, "email": email})
    if "role" not in fields or fields["role"] is None:
        raise AdminError("admin.err.bad_role", role="")
    pw = password or generate_password()
    _check_password(pw)
    store.write_directory("user_changes", {"user_id": uid, **fields, "active": True,
                                           "created": True},
                          user=by, expected_version=change_version(store, "user_changes", uid),
                          action="create_user")
    set_password(store, uid, pw, by=by)
    return pw


def change_user(store: Store, user_id: str, *, by: str, expected_version: int,
                **changes: Any) -> str | None:
    """Change a user's name, English name, role, team or e-mail as of the row version the
    editor read (a stale one: ConflictError). Only the fields that differ from the user's
    current ones are written; they hold across imports. The last active admin keeps the
    admin role. Returns the new data version (None when nothing changed)."""
    current = get_user(store, user_id)
    if current is None:
        raise AdminError("admin.err.no_user", id=user_id)
    email = store.scalar("SELECT email FROM users WHERE user_id = ?", [user_id])
    now = {"name": current.name, "name_en": current.name_en or None, "role": current.role,
           "team_id": current.team_id, "email": _text(email)}
    want = _check_user_fields(store, {**now, **{k: v for k, v in changes.items()
                                                 if k in _USER_FIELDS}})
    diff = {k: v for k, v in want.items() if v != now[k] and v is not None}
    if not diff:
        return None
    if current.role == "admin" and diff.get("role", "admin") != "admin" and not \
            _other_active_admins(store, user_id, inactive_ids(store)):
        raise AdminError("admin.err.last_admin")
    row: dict[str, Any] = {"user_id": user_id, **diff}
    if expected_version == 0:
        row.update(active=True, created=False)
    return store.write_directory("user_changes", row, user=by,
                                 expected_version=expected_version, action="change_user")


def set_active(store: Store, user_id: str, active: bool, *, by: str,
               expected_version: int) -> None:
    """Deactivate a user (they can no longer sign in; their open sessions end; their
    accounts stay theirs) or activate them again, as of the row version the editor read.
    Nobody deactivates themselves, and the last active admin stays. Audited
    (``deactivate_user`` / ``activate_user``, and ``revoke_sessions``)."""
    user = get_user(store, user_id)
    if user is None:
        raise AdminError("admin.err.no_user", id=user_id)
    tbl = store.app.tables["user_changes"]
    with store.transaction() as tx:
        if not active:
            if user_id == by:
                raise AdminError("admin.err.self")
            # read inside the write transaction: two admins deactivating the last two admins
            # at once are serialised here, and the second is refused
            inactive = {str(r[0]) for r in tx.execute(
                sa.select(tbl.c.user_id).where(tbl.c.active.is_(False)))}
            if user.role == "admin" and not _other_active_admins(store, user_id, inactive):
                raise AdminError("admin.err.last_admin")
        row: dict[str, Any] = {"user_id": user_id, "active": bool(active)}
        if expected_version == 0:
            row["created"] = False
        store.write_row("user_changes", row, user=by, expected_version=expected_version,
                        action="activate_user" if active else "deactivate_user", tx=tx)
        if not active:
            signin.revoke_sessions(store, user_id, why="deactivated", by=by, tx=tx)


def reset_password(store: Store, user_id: str, *, by: str, password: str | None = None) -> str:
    """A new password for an active user: the one given, else a generated one. Their open
    sessions end and a lockout in force is lifted; audited (``set_password`` with the hash
    redacted, ``revoke_sessions``, ``unlock``). Returns the password, to be handed over
    once."""
    if get_user(store, user_id) is None:
        raise AdminError("admin.err.no_user", id=user_id)
    if not is_active(store, user_id):
        raise AdminError("admin.err.inactive", id=user_id)
    pw = password or generate_password()
    _check_password(pw)
    set_password(store, user_id, pw, by=by)
    att = store.app.tables["signin_attempts"]
    with store.transaction() as tx:
        got = tx.execute(sa.select(att).where(att.c.login_id == user_id)).mappings().first()
        if got is not None:
            tx.execute(sa.delete(att).where(att.c.login_id == user_id))
            tx.touched.add("signin_attempts")
            store.app.audit(tx, user=by, action="unlock", table_name="signin_attempts",
                            row_key=json.dumps({"login_id": user_id}, ensure_ascii=False),
                            before=json.dumps(dict(got), default=str, ensure_ascii=False),
                            after=None)
    return pw


def _check_team_fields(store: Store, fields: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: _text(v) for k, v in fields.items() if k in _TEAM_FIELDS}
    if "name" in out and not out["name"]:
        raise AdminError("admin.err.no_name")
    lead = out.get("lead_id")
    if lead:
        role = store.scalar("SELECT role FROM users WHERE user_id = ?", [lead])
        if role != "sales_lead":
            raise AdminError("admin.err.not_lead", id=lead)
    return out


def create_team(store: Store, *, team_id: str, name: str, by: str, name_en: str | None = None,
                lead_id: str | None = None, city: str | None = None) -> str:
    """A new team, created in the app (held across imports of teams); audited
    (``create_team``). Returns the new data version."""
    tid = _check_id(team_id)
    if store.scalar("SELECT count(*) FROM teams WHERE team_id = ?", [tid]):
        raise AdminError("admin.err.team_exists", id=tid)
    fields = _check_team_fields(store, {"name": name, "name_en": name_en, "lead_id": lead_id,
                                        "city": city})
    return store.write_directory("team_changes", {"team_id": tid, **fields, "created": True},
                                 user=by,
                                 expected_version=change_version(store, "team_changes", tid),
                                 action="create_team")


def change_team(store: Store, team_id: str, *, by: str, expected_version: int,
                **changes: Any) -> str | None:
    """Change a team's names, lead or city as of the row version the editor read; only what
    differs is written. Returns the new data version (None when nothing changed)."""
    cur = store.query("SELECT name, name_en, lead_id, city FROM teams WHERE team_id = ?",
                      [team_id])
    if cur.empty:
        raise AdminError("admin.err.no_team", team=team_id)
    now = {k: _text(v) for k, v in cur.iloc[0].to_dict().items()}
    want = _check_team_fields(store, {**now, **{k: v for k, v in changes.items()
                                                 if k in _TEAM_FIELDS}})
    diff = {k: v for k, v in want.items() if v != now[k] and v is not None}
    if not diff:
        return None
    row: dict[str, Any] = {"team_id": team_id, **diff}
    if expected_version == 0:
        row["created"] = False
    return store.write_directory("team_changes", row, user=by,
                                 expected_version=expected_version, action="change_team")


def move_accounts(store: Store, account_ids: Sequence[str], to_owner: str, *, by: str,
                  from_owner: str | None = None) -> str:
    """Move accounts to another active account manager (one or many at once), audited per
    account (``assign_owner``) and kept across re-imports that still name the owner they had
    (:meth:`Store.assign_owner`). With ``from_owner``, every account must still be theirs
    (else ConflictError: someone moved some meanwhile, nothing moves). Returns the new data
    version."""
    target = get_user(store, to_owner)
    if target is None or target.role != "account_manager" or not is_active(store, to_owner):
        raise AdminError("admin.err.not_manager", id=to_owner)
    if from_owner is not None and from_owner == to_owner:
        raise AdminError("admin.err.same_owner")
    if not len(account_ids):
        raise AdminError("admin.err.no_accounts")
    return store.assign_owner(list(account_ids), to_owner, user=by, expected_owner=from_owner)


# -- audit log ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuditFilter:
    """What the audit viewer asks for: who, which actions, which tables, a key (text the row
    key contains, or an account id the row before or after names) and a time range (UTC
    dates, both ends included). Empty means any."""

    users: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()
    key: str = ""
    since: date | None = None
    until: date | None = None


def _audit_where(tbl: sa.Table, f: AuditFilter) -> Any:
    conds: list[Any] = []
    if f.users:
        conds.append(tbl.c.user_id.in_(list(f.users)))
    if f.actions:
        conds.append(tbl.c.action.in_(list(f.actions)))
    if f.tables:
        conds.append(tbl.c.table_name.in_(list(f.tables)))
    key = f.key.strip()
    if key:
        quoted = json.dumps(key, ensure_ascii=False)
        named = [f'"account_id": {quoted}', f'"account_id":{quoted}']  # json.dumps, pandas
        conds.append(sa.or_(tbl.c.row_key.contains(key, autoescape=True),
                            *(c.contains(p, autoescape=True) for c in (tbl.c.before, tbl.c.after)
                              for p in named)))
    if f.since is not None:
        conds.append(tbl.c.at >= f.since.isoformat())
    if f.until is not None:
        conds.append(tbl.c.at < (f.until + timedelta(days=1)).isoformat())
    return sa.and_(sa.true(), *conds)


def audit_query(store: Store, f: AuditFilter = AuditFilter(), *, limit: int | None = None
                ) -> tuple[pd.DataFrame, int]:
    """The audit rows matching ``f``, newest first (at most ``limit``), and how many match in
    all."""
    tbl = store.app.tables["audit_log"]
    where = _audit_where(tbl, f)
    stmt = sa.select(tbl).where(where).order_by(tbl.c.audit_id.desc())
    if limit is not None:
        stmt = stmt.limit(int(limit))
    rows = store.app.read(stmt, "audit_log")
    total = (len(rows) if limit is None or len(rows) < limit else int(store.app.read(
        sa.select(sa.func.count().label("n")).select_from(tbl).where(where))["n"].iloc[0]))
    return rows, total


def audit_export(store: Store, f: AuditFilter = AuditFilter()) -> pd.DataFrame:
    """Every audit row matching ``f`` (newest first), for a download."""
    return audit_query(store, f)[0]


def audit_facets(store: Store) -> dict[str, Any]:
    """The values the filters offer: users, actions and tables that occur, first and last
    moment."""
    q = store.app.query
    return {
        "users": q("SELECT DISTINCT user_id FROM audit_log ORDER BY user_id")["user_id"].tolist(),
        "actions": q("SELECT DISTINCT action FROM audit_log ORDER BY action")["action"].tolist(),
        "tables": q("SELECT DISTINCT table_name FROM audit_log ORDER BY table_name"
                    )["table_name"].tolist(),
        "first": store.app.scalar("SELECT min(at) FROM audit_log"),
        "last": store.app.scalar("SELECT max(at) FROM audit_log"),
    }


_BOOKKEEPING = ("version", "updated_at", "updated_by")


def _parsed(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        v = json.loads(text)
    except ValueError:
        return {"": text}
    return v if isinstance(v, dict) else {"": v}


def _shown(v: Any) -> str:
    if v is None:
        return "–"
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)


def audit_detail(before: Any, after: Any) -> pd.DataFrame:
    """One audit row's before and after side by side: field, before, after, changed (the
    row's own version and stamp last)."""
    b, a = _parsed(before) or {}, _parsed(after) or {}
    fields = [k for k in dict.fromkeys([*b, *a]) if k not in _BOOKKEEPING]
    fields += [k for k in _BOOKKEEPING if k in b or k in a]
    return pd.DataFrame({
        "field": fields,
        "before": [_shown(b.get(k)) if k in b else "" for k in fields],
        "after": [_shown(a.get(k)) if k in a else "" for k in fields],
        "changed": [b.get(k) != a.get(k) for k in fields],
    })


def change_summary(before: pd.Series, after: pd.Series, row_key: pd.Series | None = None, *,
                   limit: int = 160) -> pd.Series:
    """For each audit row (of a page-sized table): what changed, ``field: old → new; ...``
    (a new row: its fields; the row's version and stamp, and the key fields of ``row_key``,
    left out)."""
    keys = [set(_parsed(k) or {}) for k in (row_key.tolist() if row_key is not None
                                            else [None] * len(before))]
    out = []
    for b_text, a_text, key in zip(before.tolist(), after.tolist(), keys, strict=True):
        b, a = _parsed(b_text), _parsed(a_text)
        if a is None and b is None:
            out.append("")
            continue
        b, a = b or {}, a or {}
        parts = []
        for k in dict.fromkeys([*b, *a]):
            if k in _BOOKKEEPING or k in key or b.get(k) == a.get(k):
                continue
            if k in b and b.get(k) is not None:
                parts.append(f"{k}: {_shown(b.get(k))} → {_shown(a.get(k))}")
            else:
                parts.append(f"{k}: {_shown(a.get(k))}")
        text = "; ".join(parts)
        out.append(text if len(text) <= limit else text[:limit - 1] + "…")
    return pd.Series(out, index=before.index, dtype=object)


def key_text(row_key: pd.Series) -> pd.Series:
    """Row keys of a page-sized table as their values, ``A0001 · 2026-06-30`` (the JSON as
    stored when it is not an object)."""
    out = []
    for text in row_key.tolist():
        got = _parsed(text)
        out.append("" if got is None else " · ".join(_shown(v) for v in got.values()))
    return pd.Series(out, index=row_key.index, dtype=object)


# -- data quality -------------------------------------------------------------------------------
# The date that says how recent a table is: its newest row's.
DATE_COLUMNS: dict[str, str] = {
    "accounts": "onboard_date", "holdings": "start_date", "contracts": "start_date",
    "billing_monthly": "month", "lines": "open_date", "line_daily": "day",
    "interactions": "date", "churn_events": "churn_date",
}
# Stamps of owner assignments written before they had a count key of their own.
_LEGACY_ASSIGN = r"^assigned \d+ accounts to "


def imports(store: Store) -> pd.DataFrame:
    """Per fact table: rows now; its last import (at, user_id, source, rows it brought); the
    rows of the import before it, and the change. Changes made in the app (owner moves,
    users and teams) are not imports."""
    names = [t.name for t in schema.FACT_TABLES]
    now = store.query(" UNION ALL ".join(
        f"SELECT '{n}' AS table_name, count(*) AS rows_now FROM \"{n}\"" for n in names))
    log = store.query('SELECT "at", user_id, source, row_counts FROM import_log ORDER BY "at"')
    log = log[~log["source"].fillna("").str.match(_LEGACY_ASSIGN)].reset_index(drop=True)
    counts = pd.DataFrame([json.loads(c) if isinstance(c, str) and c else {}
                           for c in log["row_counts"]], index=log.index)
    cols = [n for n in names if n in counts.columns]
    long = (counts[cols].rename_axis("_log").reset_index()
            .melt(id_vars="_log", var_name="table_name", value_name="rows").dropna()
            .join(log[["at", "user_id", "source"]], on="_log")
            .sort_values(["at", "_log"], kind="stable"))
    g = long.groupby("table_name", sort=False)
    last = g.tail(1).set_index("table_name")
    prev = g.nth(-2).set_index("table_name")["rows"].rename("previous_rows")
    out = now.set_index("table_name").join(last).join(prev).reset_index()
    out["rows"] = out["rows"].astype("Int64")
    out["previous_rows"] = out["previous_rows"].astype("Int64")
    out["change"] = out["rows"] - out["previous_rows"]
    out["rows_now"] = out["rows_now"].astype(int)
    return out[["table_name", "rows_now", "at", "user_id", "source", "rows", "previous_rows",
                "change"]]


def missing_values(store: Store) -> pd.DataFrame:
    """Per fact table and column: required (by the import format), rows, missing (NULL)
    values and their share; counted in SQL on the facts, one statement per table."""
    parts = []
    for t in schema.FACT_TABLES:
        sel = ", ".join(f'count(*) - count("{c}") AS "{c}"' for c in t.names)
        row = store.query(f'SELECT count(*) AS _rows, {sel} FROM "{t.name}"').iloc[0]
        n = int(row["_rows"])
        miss = np.array([int(row[c]) for c in t.names], dtype=np.int64)
        parts.append(pd.DataFrame({
            "table_name": t.name, "column": t.names,
            "required": [c.required for c in t.columns], "rows": n, "missing": miss,
            "share": miss / n if n else np.zeros(len(miss))}))
    return pd.concat(parts, ignore_index=True)


def failed_references(store: Store, *, facts: bool = True, app: bool = True) -> pd.DataFrame:
    """Rows whose reference finds nothing: per fact table and reference (a hard one an
    import left behind when it replaced the table referred to; the soft one of accounts
    whose owner is not a user: the unassigned pool), and rows written in the app (open work
    orders, open plans, owner assignments) whose account is gone (``facts`` / ``app``: which
    of the two). Columns: table_name, columns, refers_to, soft, rows, example (one such
    value)."""
    out: list[dict[str, Any]] = []
    for t in schema.FACT_TABLES if facts else ():
        for ref in t.refs:
            cols = list(ref.columns)
            rt = schema.table(ref.table)
            join = " AND ".join(f'r."{rc}" = x."{c}"' for c, rc in
                                zip(cols, ref.ref_columns, strict=True))
            cond = " AND ".join(f'x."{c}" IS NOT NULL' for c in cols)
            if ref.extra:
                extra = ", ".join("'" + e.replace("'", "''") + "'" for e in ref.extra)
                cond += f' AND x."{cols[-1]}" NOT IN ({extra})'
            shown = (f'x."{cols[0]}"' if len(cols) == 1 else
                     "concat_ws('/', " + ", ".join(f'x."{c}"' for c in cols) + ")")
            row = store.query(
                f'SELECT count(*) AS n, min({shown}) AS example FROM "{t.name}" x '
                f'WHERE {cond} AND NOT EXISTS (SELECT 1 FROM "{rt.name}" r WHERE {join})'
            ).iloc[0]
            out.append({"table_name": t.name, "columns": ", ".join(cols),
                        "refers_to": f"{rt.name}." + ", ".join(ref.ref_columns),
                        "soft": ref.soft, "rows": int(row["n"]),
                        "example": row["example"] if int(row["n"]) else None})
    for name, cond in (("work_orders", " AND status NOT IN ('retained', 'lost', 'false_alarm')"),
                       ("plans", " AND status NOT IN ('done', 'dropped')"),
                       ("account_assignments", "")) if app else ():
        row = store.query(
            f"SELECT count(*) AS n, min(x.account_id) AS example FROM {name} x WHERE NOT "
            f"EXISTS (SELECT 1 FROM accounts a WHERE a.account_id = x.account_id){cond}"
        ).iloc[0]
        out.append({"table_name": name, "columns": "account_id",
                    "refers_to": "accounts.account_id", "soft": False, "rows": int(row["n"]),
                    "example": row["example"] if int(row["n"]) else None})
    df = pd.DataFrame(out, columns=["table_name", "columns", "refers_to", "soft", "rows",
                                    "example"])
    df["rows"] = df["rows"].astype(int)
    return df


def data_age(store: Store, as_of: date | None, *, max_age_days: int) -> pd.DataFrame:
    """Per fact table with dates: the column read, its newest date (a bill month at its
    month's end), the days from it to the as-of date, and whether that is more than
    ``max_age_days`` (behind). Tables without rows have no date."""
    rows = []
    for name, col in DATE_COLUMNS.items():
        expr = f'last_day(max("{col}"))' if name == "billing_monthly" else f'max("{col}")'
        newest = store.scalar(f'SELECT {expr} FROM "{name}"')
        rows.append({"table_name": name, "column": col,
                     "newest": None if newest is None else pd.Timestamp(newest).date()})
    df = pd.DataFrame(rows)
    if as_of is None:
        df["days"] = pd.array([None] * len(df), dtype="Int64")
    else:
        newest = pd.to_datetime(df["newest"])
        df["days"] = (pd.Timestamp(as_of) - newest).dt.days.astype("Int64")
    df["behind"] = (df["days"] > int(max_age_days)).fillna(False).astype(bool)
    return df


# -- calibration ----------------------------------------------------------------------------
_CALIBRATED = ("calibrated to churn", i18n.t("cal.comment", "zh"), i18n.t("cal.comment", "en"))


def calibrations(store: Store) -> pd.DataFrame:
    """The settings versions saved from a calibration (on the Settings page, or by
    ``valuation calibrate --save``), newest first: settings_id, comment, active, updated_by,
    updated_at."""
    from valuation.settings_store import settings_history  # noqa: PLC0415

    hist = settings_history(store)
    hit = hist["comment"].fillna("").str.startswith(_CALIBRATED)
    return hist[hit.to_numpy()].reset_index(drop=True)
