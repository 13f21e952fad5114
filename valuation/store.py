"""The embedded DuckDB store: migrations, reads, all-or-nothing fact loads, audited app writes."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from valuation import schema

__all__ = [
    "ConflictError",
    "DEFAULT_DB",
    "SCHEMA_VERSION",
    "Store",
    "default_db_path",
    "sql_type",
]

DEFAULT_DB = Path("data") / "portfolio.duckdb"
_MIGRATIONS_DIR = Path(__file__).parent / "sql" / "migrations"
_SQL_TYPES = {"str": "VARCHAR", "int": "BIGINT", "float": "DOUBLE", "date": "DATE", "bool": "BOOLEAN"}


def _migrations() -> list[tuple[int, str]]:
    out = []
    for p in sorted(_MIGRATIONS_DIR.glob("*.sql")):
        out.append((int(p.name.split("_", 1)[0]), p.read_text(encoding="utf-8")))
    return out


SCHEMA_VERSION = max(v for v, _ in _migrations())


class ConflictError(RuntimeError):
    """Someone else changed the row since it was read (its version moved on)."""


def default_db_path() -> Path:
    """``VALUATION_DB`` if set, else ``data/portfolio.duckdb`` under the working directory."""
    env = os.environ.get("VALUATION_DB")
    return Path(env) if env else DEFAULT_DB


def sql_type(dtype: str) -> str:
    """The DuckDB type of a schema dtype."""
    return _SQL_TYPES[dtype]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def json_default(v: Any) -> Any:
    """``json.dumps`` default: dates as ISO text, numpy scalars as Python, else ``str``."""
    if isinstance(v, (date, datetime, pd.Timestamp)):
        return v.isoformat()
    if hasattr(v, "item"):
        return v.item()
    return str(v)


class Store:
    """One DuckDB file. Thread-safe: every call uses its own cursor."""

    def __init__(self, path: str | Path | None = None, *, read_only: bool = False) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = duckdb.connect(str(self.path), read_only=read_only)
        self._lock = threading.Lock()
        self.read_only = read_only
        if not read_only:
            self.migrate()

    # -- lifecycle -----------------------------------------------------------------
    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            return self._con.cursor()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor inside BEGIN ... COMMIT; rolled back on any exception."""
        cur = self.cursor()
        cur.execute("BEGIN TRANSACTION")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        else:
            cur.execute("COMMIT")
        finally:
            cur.close()

    def migrate(self) -> int:
        """Apply pending schema migrations in order; return the schema version."""
        cur = self.cursor()
        cur.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        row = cur.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        current = int(row[0]) if row else 0
        for version, sql in _migrations():
            if version <= current:
                continue
            with self.transaction() as tx:
                for stmt in [s.strip() for s in sql.split(";") if s.strip()]:
                    tx.execute(stmt)
                tx.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(version)]
                )
            current = version
        cur.close()
        return current

    # -- reads ---------------------------------------------------------------------
    def query(self, sql: str, params: list[Any] | Mapping[str, Any] | None = None) -> pd.DataFrame:
        cur = self.cursor()
        try:
            return cur.execute(sql, params or []).df()
        finally:
            cur.close()

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        cur = self.cursor()
        try:
            row = cur.execute(sql, params or []).fetchone()
            return None if row is None else row[0]
        finally:
            cur.close()

    def read_table(self, name: str) -> pd.DataFrame:
        t = schema.table(name)
        cols = ", ".join(f'"{c}"' for c in t.names)
        order = ", ".join(f'"{c}"' for c in t.key) if t.key else "1"
        return self.query(f'SELECT {cols} FROM "{name}" ORDER BY {order}')

    def row_counts(self) -> dict[str, int]:
        return {
            t: int(self.scalar(f'SELECT count(*) FROM "{t}"'))
            for t in [tb.name for tb in schema.FACT_TABLES + schema.APP_TABLES]
        }

    def meta(self, key: str) -> str | None:
        v = self.scalar("SELECT value FROM meta WHERE key = ?", [key])
        return None if v is None else str(v)

    @property
    def data_version(self) -> str:
        """Changes on every import of facts; '' before the first."""
        return self.meta("data_version") or ""

    @property
    def has_facts(self) -> bool:
        return int(self.scalar("SELECT count(*) FROM accounts")) > 0

    # -- fact loads ----------------------------------------------------------------
    def replace_facts(
        self, frames: Mapping[str, pd.DataFrame], *, source: str, user: str = "system"
    ) -> str:
        """Replace the given fact tables wholesale in one transaction; return the new data version.

        Frames must already be valid (see :mod:`valuation.ingest`). App-owned tables are never
        touched. Either every table lands or none does.
        """
        unknown = [n for n in frames if n not in schema.TABLES or schema.TABLES[n].app_owned]
        if unknown:
            raise ValueError(f"not fact tables: {', '.join(unknown)}")
        version = f"{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}"
        counts = {}
        with self.transaction() as tx:
            for name in schema.fact_load_order():
                if name not in frames:
                    continue
                t = schema.table(name)
                df = frames[name]
                counts[name] = len(df)
                view = f"_load_{name}"
                tx.register(view, df)
                select = ", ".join(
                    f'CAST("{c.name}" AS {sql_type(c.dtype)}) AS "{c.name}"'
                    if c.name in df.columns
                    else f'CAST(NULL AS {sql_type(c.dtype)}) AS "{c.name}"'
                    for c in t.columns
                )
                tx.execute(f'DELETE FROM "{name}"')
                tx.execute(f'INSERT INTO "{name}" SELECT {select} FROM "{view}"')
                tx.unregister(view)
            if "accounts" in frames or "users" in frames:
                _apply_assignments(tx)
            tx.execute("INSERT OR REPLACE INTO meta VALUES ('data_version', ?)", [version])
            tx.execute(
                "INSERT INTO import_log VALUES (?, ?, ?, ?, ?)",
                [version, _now(), user, source, json.dumps(counts)],
            )
        return version

    def assign_owner(self, account_ids: list[str], owner_id: str, *, user: str) -> str:
        """Give accounts an owner in the app (the unassigned pool): one transaction that stores
        an audited assignment per account, sets their owner and starts a new data version
        (the facts changed). Refuses an unknown owner or account. Returns the data version."""
        ids = list(dict.fromkeys(str(a) for a in account_ids))
        if not ids:
            return self.data_version
        version = f"{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}"
        with self.transaction() as tx:
            if not tx.execute("SELECT count(*) FROM users WHERE user_id = ?",
                              [owner_id]).fetchall()[0][0]:
                raise ValueError(f"no user {owner_id!r}")
            tx.register("_ids", pd.DataFrame({"account_id": ids}))
            found = int(tx.execute("SELECT count(*) FROM accounts WHERE account_id IN "
                                   "(SELECT account_id FROM _ids)").fetchall()[0][0])
            if found != len(ids):
                tx.unregister("_ids")
                raise ValueError(f"{len(ids) - found} of the accounts do not exist")
            before = tx.execute(
                "SELECT a.account_id, a.owner_id, coalesce(g.version, 0) AS version FROM accounts a"
                " LEFT JOIN account_assignments g ON g.account_id = a.account_id"
                " WHERE a.account_id IN (SELECT account_id FROM _ids) ORDER BY a.account_id").df()
            tx.execute("DELETE FROM account_assignments WHERE account_id IN "
                       "(SELECT account_id FROM _ids)")
            tx.register("_before", before)
            tx.execute("INSERT INTO account_assignments SELECT account_id, ?, version + 1, ?, ? "
                       "FROM _before", [owner_id, _now(), user])
            tx.unregister("_before")
            tx.execute("UPDATE accounts SET owner_id = ? WHERE account_id IN "
                       "(SELECT account_id FROM _ids)", [owner_id])
            self._audit(tx, user=user, action="assign_owner", table_name="account_assignments",
                        row_key=json.dumps({"accounts": len(ids)}),
                        before=json.dumps(dict(zip(before["account_id"], before["owner_id"].where(
                            before["owner_id"].notna(), None), strict=True)), ensure_ascii=False,
                            default=json_default),
                        after=json.dumps({"owner_id": owner_id, "account_ids": ids},
                                         ensure_ascii=False))
            tx.unregister("_ids")
            tx.execute("INSERT OR REPLACE INTO meta VALUES ('data_version', ?)", [version])
            tx.execute("INSERT INTO import_log VALUES (?, ?, ?, ?, ?)",
                       [version, _now(), user, f"assigned {len(ids)} accounts to {owner_id}",
                        json.dumps({"accounts": len(ids)})])
        return version

    def import_history(self) -> pd.DataFrame:
        return self.query('SELECT * FROM import_log ORDER BY "at" DESC')

    # -- app-owned writes ------------------------------------------------------------
    def write_row(
        self,
        name: str,
        row: Mapping[str, Any],
        *,
        user: str,
        expected_version: int | None = None,
        action: str | None = None,
        redact: tuple[str, ...] = (),
        tx: duckdb.DuckDBPyConnection | None = None,
    ) -> int:
        """Insert or update one app-owned row by its key; audited; return its new version.

        With ``expected_version``, refuse (ConflictError) when the stored row has moved on:
        another editor saved first. With ``tx`` (from :meth:`transaction`), the write joins
        that transaction, so several writes land together or not at all.
        """
        if tx is None:
            with self.transaction() as own:
                return self.write_row(name, row, user=user, expected_version=expected_version,
                                      action=action, redact=redact, tx=own)
        t = schema.table(name)
        if not t.app_owned:
            raise ValueError(f"{name} is not app-owned")
        key = {k: row[k] for k in t.key}
        where = " AND ".join(f'"{k}" = ?' for k in t.key)
        cur_rows = tx.execute(f'SELECT * FROM "{name}" WHERE {where}', list(key.values())).df()
        before = cur_rows.iloc[0].to_dict() if len(cur_rows) else None
        current_version = int(before["version"]) if before else 0
        if expected_version is not None and expected_version != current_version:
            raise ConflictError(
                f"{name} {key} was changed by {before.get('updated_by') if before else '?'} "
                f"(version {current_version}, you edited version {expected_version})"
            )
        new = dict(before or {})
        new.update(row)
        new["version"] = current_version + 1
        new["updated_at"] = _now()
        new["updated_by"] = user
        cols = [c for c in t.names if c in new]
        if before is not None:
            tx.execute(f'DELETE FROM "{name}" WHERE {where}', list(key.values()))
        tx.execute(
            f'INSERT INTO "{name}" ({", ".join(chr(34) + c + chr(34) for c in cols)}) '
            f"VALUES ({', '.join('?' for _ in cols)})",
            [None if pd.isna(new[c]) else new[c] for c in cols],
        )
        self._audit(
            tx,
            user=user,
            action=action or ("update" if before else "insert"),
            table_name=name,
            row_key=json.dumps(key, default=json_default, ensure_ascii=False),
            before=_redacted(before, redact),
            after=_redacted(new, redact),
        )
        return int(new["version"])

    def write_batch(
        self,
        name: str,
        rows: pd.DataFrame,
        *,
        replace_where: tuple[str, list[Any]],
        user: str,
        action: str,
        row_key: str,
    ) -> int:
        """Replace the app-owned rows matching ``replace_where`` by ``rows`` in one transaction,
        with one audit entry (counts before and after). Versions continue from the replaced
        rows. For machine-written batches such as score snapshots; returns the row count."""
        t = schema.table(name)
        if not t.app_owned:
            raise ValueError(f"{name} is not app-owned")
        where, params = replace_where
        with self.transaction() as tx:
            prev = tx.execute(
                f'SELECT count(*), coalesce(max(version), 0) FROM "{name}" WHERE {where}', params
            ).fetchone()
            df = rows.copy()
            df["version"] = int(prev[1]) + 1
            df["updated_at"] = _now()
            df["updated_by"] = user
            tx.execute(f'DELETE FROM "{name}" WHERE {where}', params)
            tx.register("_batch", df)
            cols = ", ".join(f'"{c}"' for c in t.names if c in df.columns)
            tx.execute(f'INSERT INTO "{name}" ({cols}) SELECT {cols} FROM _batch')
            tx.unregister("_batch")
            self._audit(
                tx, user=user, action=action, table_name=name, row_key=row_key,
                before=json.dumps({"rows": int(prev[0])}), after=json.dumps({"rows": len(df)}),
            )
        return len(rows)

    def audit_entries(self, table_name: str | None = None) -> pd.DataFrame:
        if table_name is None:
            return self.query("SELECT * FROM audit_log ORDER BY audit_id")
        return self.query(
            "SELECT * FROM audit_log WHERE table_name = ? ORDER BY audit_id", [table_name]
        )

    @staticmethod
    def _audit(tx: duckdb.DuckDBPyConnection, **e: Any) -> None:
        tx.execute(
            "INSERT INTO audit_log (audit_id, \"at\", user_id, action, table_name, row_key, before, after)"
            " VALUES (nextval('audit_seq'), ?, ?, ?, ?, ?, ?, ?)",
            [_now(), e["user"], e["action"], e["table_name"], e["row_key"], e["before"], e["after"]],
        )


def _apply_assignments(tx: duckdb.DuckDBPyConnection) -> None:
    """Owners assigned in the app hold for accounts the import gives no known owner."""
    tx.execute(
        """UPDATE accounts SET owner_id = asg.owner_id
           FROM account_assignments asg
           WHERE accounts.account_id = asg.account_id
             AND (accounts.owner_id IS NULL
                  OR accounts.owner_id NOT IN (SELECT user_id FROM users))
             AND asg.owner_id IN (SELECT user_id FROM users)""")


def _redacted(row: Mapping[str, Any] | None, redact: tuple[str, ...]) -> str | None:
    if row is None:
        return None
    clean = {
        k: ("***" if k in redact else (None if _isna(v) else v)) for k, v in row.items()
    }
    return json.dumps(clean, default=json_default, ensure_ascii=False)


def _isna(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False
