"""The store: facts in DuckDB, what people write in the app database.

Facts (and score snapshots) live in one DuckDB file that every process reads through read-only
connections. A write never touches the live file: it builds the new file beside it (a copy,
changed in one transaction) and swaps it in with an atomic rename, under a lock file, so
readers are never locked out and pick up the new data version on their next read.

What people write lives in the app database (:mod:`valuation.appdb`): an SQLite file beside
the DuckDB file, or PostgreSQL by ``VALUATION_APP_DB``.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import sqlalchemy as sa

from valuation import schema
from valuation.appdb import APP_DB_TABLES, AppDB, ConflictError, Tx, json_default, to_arrow

__all__ = [
    "ConflictError",
    "DEFAULT_DB",
    "DatabaseError",
    "SCHEMA_VERSION",
    "Store",
    "copy_database",
    "default_app_db",
    "default_db_path",
    "facts_lock",
    "is_default_db",
    "json_default",
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


def default_db_path() -> Path:
    """``VALUATION_DB`` if set, else ``data/portfolio.duckdb`` under the working directory."""
    env = os.environ.get("VALUATION_DB")
    return Path(env) if env else DEFAULT_DB


def is_default_db(path: str | Path) -> bool:
    """True when ``path`` is the stock first-run database (``data/portfolio.duckdb`` under the
    working directory), the only one the app may fill with the demo on its own."""
    return Path(path).resolve() == DEFAULT_DB.resolve()


class DatabaseError(RuntimeError):
    """A database file that cannot be used as it is: damaged, not a valuation database, written
    by a newer version, or read-only for a write. The message says which file, what is wrong
    and what to do; commands and the app show it instead of a traceback."""


_RESTORE_HINT = ("restore it from a backup (valuation restore --db {path} BACKUP.zip) or point "
                 "--db / VALUATION_DB at the right file")


def _damaged(path: Path, what: str) -> DatabaseError:
    return DatabaseError(f"{path}: {what}; {_RESTORE_HINT.format(path=path)}")


def _newer(path: Path, found: int, known: int, kind: str = "") -> DatabaseError:
    return DatabaseError(
        f"{path}: {kind}schema version {found} was written by a newer version of valuation "
        f"(this one reads up to {known}); upgrade valuation (pip install -U valuation) before "
        "opening it, or restore a backup taken by this version")


def _inspect_facts(path: Path) -> int:
    """The schema version of the facts file ``path`` (0 for a new, empty DuckDB file), or
    DatabaseError when it is empty, damaged, not DuckDB, not ours or newer than this code."""
    size = path.stat().st_size
    if size == 0:
        raise _damaged(path, "the file is empty (0 bytes), not a database")
    con = duckdb.connect(":memory:")
    try:
        quoted = str(path.resolve()).replace("'", "''")
        try:
            con.execute(f"ATTACH '{quoted}' AS facts (READ_ONLY)")
            tables = {r[0] for r in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_catalog = 'facts'").fetchall()}
            row = (con.execute("SELECT value FROM facts.meta WHERE key = 'schema_version'")
                   .fetchone() if "meta" in tables else None)
        except duckdb.Error as e:
            text = str(e).splitlines()[0] if str(e) else type(e).__name__
            if "not a valid DuckDB database" in text:
                what = "not a DuckDB database file (damaged, or another kind of file)"
            elif "read enough bytes" in text or "truncat" in text.lower():
                what = f"the file is truncated ({size:,} bytes; DuckDB: {text})"
            else:
                what = f"the file is damaged (DuckDB: {text})"
            raise _damaged(path, what) from None
    finally:
        con.close()
    if "meta" not in tables or row is None:
        if tables - {"meta"}:
            raise DatabaseError(
                f"{path}: a DuckDB file, but not a valuation database (tables "
                f"{', '.join(sorted(tables)[:5])}; no schema version); point --db / VALUATION_DB "
                "at a valuation database, or import your files into a new one")
        return 0
    try:
        version = int(row[0]) if row else 0
    except (TypeError, ValueError):
        raise _damaged(path, f"its schema version {row[0]!r} is not a number") from None
    if version > SCHEMA_VERSION:
        raise _newer(path, version, SCHEMA_VERSION)
    return version


def _check_writable(path: Path) -> None:
    """DatabaseError when the facts file (or its folder) may not be replaced: a read-only file
    is the operator's way of saying "do not change this", even where the folder would allow
    the swap (and even for root)."""
    if path.exists():
        mode = path.stat().st_mode
        if not mode & 0o222 or not os.access(path, os.W_OK):
            raise DatabaseError(
                f"{path}: the file is read-only, so nothing can be written to it; make it "
                f"writable (chmod u+w {path}) or work on a copy (valuation backup, then "
                "valuation restore into another path)")
    folder = path.parent
    if folder.exists() and not os.access(folder, os.W_OK | os.X_OK):
        raise DatabaseError(
            f"{folder}: the folder of {path.name} is read-only, so the database cannot be "
            "written; make the folder writable or move the database")


@contextmanager
def facts_lock(path: str | Path, *, shared: bool = False) -> Iterator[None]:
    """The writers' lock of the facts file ``path`` (``<file>.lock``): exclusive for a swap,
    shared for a consistent copy (no swap happens meanwhile)."""
    p = Path(path)
    try:
        lock = open(p.with_name(p.name + ".lock"), "a")  # noqa: SIM115
    except OSError as e:
        raise DatabaseError(f"{p.parent}: cannot create the lock file of {p.name} "
                            f"({e.strerror}); make the folder writable") from None
    try:
        fcntl.flock(lock, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


def sql_type(dtype: str) -> str:
    """The DuckDB type of a schema dtype."""
    return _SQL_TYPES[dtype]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")



def default_app_db(path: str | Path) -> str:
    """The app database of the facts file ``path``: ``VALUATION_APP_DB`` when ``path`` is the
    default database (``VALUATION_DB``), else an SQLite file beside it
    (``portfolio.duckdb`` -> ``portfolio.app.sqlite``)."""
    p = Path(path)
    env = os.environ.get("VALUATION_APP_DB")
    if env and p.resolve() == default_db_path().resolve():
        return env
    return f"sqlite:///{p.with_suffix('.app.sqlite').resolve()}"


_APP_NAME_RE = re.compile(r"\b(" + "|".join(APP_DB_TABLES) + r")\b")


class Store:
    """The facts (DuckDB, read-only, swapped on write) and the app database. Thread-safe:
    every call uses its own cursor."""

    def __init__(self, path: str | Path | None = None, *, read_only: bool = False,
                 app_db: str | None = None) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        self.read_only = read_only
        self._lock = threading.RLock()
        self._writer: duckdb.DuckDBPyConnection | None = None
        self._writer_thread: int | None = None  # reads of that thread go to the copy
        self._depth = 0
        self._con: duckdb.DuckDBPyConnection | None = None
        self._stat: tuple[int, int, int] | None = None
        if read_only and not self.path.exists():
            raise FileNotFoundError(f"no database at {self.path}")
        if self.path.exists() and not Path(str(self.path) + ".wal").exists():
            _inspect_facts(self.path)  # damaged, foreign or newer: say so before anything
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.app = _open_app_db(app_db or default_app_db(self.path))
        self.migrated_rows: dict[str, int] = {}
        if not read_only:
            self.migrate()
        self._open()

    # -- lifecycle -----------------------------------------------------------------
    def _open(self) -> None:
        with self._lock:
            self._con = None
            self._fresh()

    def _fresh(self) -> duckdb.DuckDBPyConnection:
        """The read-only connection, reopened when another process swapped a new file in.

        The file is attached read-only to a private in-memory database: DuckDB caches one
        database per path and process, which would keep serving the replaced file."""
        with self._lock:
            if self._writer is not None and self._writer_thread == threading.get_ident():
                return self._writer
            st = self.path.stat()
            if self._con is None or (st.st_ino, st.st_mtime_ns, st.st_size) != self._stat:
                con = duckdb.connect(":memory:")
                quoted = str(self.path.resolve()).replace("'", "''")
                try:
                    con.execute(f"ATTACH '{quoted}' AS facts (READ_ONLY)")
                except duckdb.Error:
                    con.close()
                    _inspect_facts(self.path)  # says what is wrong with the file
                    raise
                # the old connection closes itself once its last cursor is gone
                self._con = con
                self._stat = (st.st_ino, st.st_mtime_ns, st.st_size)
            return self._con

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None
        self.app.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor on the facts (the write session's, inside :meth:`facts_session`)."""
        with self._lock:
            con = self._fresh()
            cur = con.cursor()
            if con is not self._writer or self._writer_thread != threading.get_ident():
                cur.execute("USE facts")
            return cur

    @contextmanager
    def facts_session(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Change the facts: a copy of the file beside it, changed through the yielded
        connection, swapped in atomically at the end (discarded on any exception). Writers
        queue on a lock file; readers keep reading the old file until the swap. A nested
        session of the same thread joins the outer one, and that thread's reads go to the
        copy meanwhile; other threads read the live file until the swap."""
        me = threading.get_ident()
        with self._lock:
            outer = self._writer if self._writer_thread == me else None
            if outer is not None:
                self._depth += 1
        if outer is not None:  # joins the session already open (not holding the lock)
            try:
                yield outer
            finally:
                with self._lock:
                    self._depth -= 1
            return
        _check_writable(self.path)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}")
        with facts_lock(self.path):
            try:
                _replay_wal(self.path)
                if self.path.exists():
                    shutil.copyfile(self.path, tmp)
                con = duckdb.connect(str(tmp))
                with self._lock:
                    self._writer, self._writer_thread = con, me
                try:
                    yield con
                    con.execute("CHECKPOINT")
                finally:
                    with self._lock:
                        self._writer, self._writer_thread = None, None
                    con.close()
                os.replace(tmp, self.path)
                _fsync_dir(self.path.parent)
            finally:
                tmp.unlink(missing_ok=True)
                Path(str(tmp) + ".wal").unlink(missing_ok=True)
        with self._lock:
            self._con = None  # reopen on the next read
            self._stat = None

    @contextmanager
    def _facts_tx(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor inside BEGIN ... COMMIT on the facts session's copy (rolled back, and the
        copy discarded, on any exception)."""
        with self.facts_session() as con:
            cur = con.cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            finally:
                cur.close()

    @contextmanager
    def transaction(self, tx: Tx | None = None) -> Iterator[Tx]:
        """A write transaction on the app database; rolled back on any exception. Lost races
        become ConflictError."""
        with self.app.transaction(tx) as t:
            yield t

    def _schema_version(self) -> int:
        if not self.path.exists():
            return 0
        con = duckdb.connect(str(self.path), read_only=True)
        try:
            has = con.execute("SELECT count(*) FROM information_schema.tables "
                              "WHERE table_name = 'meta'").fetchone()[0]
            if not has:
                return 0
            row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            return int(row[0]) if row else 0
        finally:
            con.close()

    def migrate(self) -> int:
        """Apply pending schema migrations in order (one swap); return the schema version.
        Version 5 moves every user-written row into the app database first, keeping rows
        that are already there."""
        if self.path.exists() and not Path(str(self.path) + ".wal").exists():
            current = self._schema_version()
            if current >= SCHEMA_VERSION:
                return current
        with self.facts_session() as con:
            con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, "
                        "value VARCHAR)")
            row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            current = int(row[0]) if row else 0
            if current > SCHEMA_VERSION:
                raise _newer(self.path, current, SCHEMA_VERSION)
            for version, sql in _migrations():
                if version <= current:
                    continue
                con.execute("BEGIN TRANSACTION")
                try:
                    if version == 5:
                        self.migrated_rows = _move_app_tables(con, self.app)
                    for stmt in [s.strip() for s in sql.split(";") if s.strip()]:
                        con.execute(stmt)
                    con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                                [str(version)])
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                current = version
        return current

    # -- reads ---------------------------------------------------------------------
    def query(self, sql: str, params: list[Any] | Mapping[str, Any] | None = None, *,
              frames: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Rows of a DuckDB query over the facts. App tables it names are read from the app
        database (cached per process until they change); ``frames`` adds named frames."""
        cur = self._bridged(sql, frames)
        try:
            return cur.execute(sql, params or []).df()
        finally:
            cur.close()

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        cur = self._bridged(sql, None)
        try:
            row = cur.execute(sql, params or []).fetchone()
            return None if row is None else row[0]
        finally:
            cur.close()

    def _bridged(self, sql: str, frames: Mapping[str, Any] | None) -> duckdb.DuckDBPyConnection:
        cur = self.cursor()
        for name, tbl in self.app.arrow(sorted(set(_APP_NAME_RE.findall(sql)))).items():
            cur.register(name, tbl)
        for name, df in (frames or {}).items():
            cur.register(name, df)
        return cur

    def read_table(self, name: str) -> pd.DataFrame:
        if name in APP_DB_TABLES:
            return self.app.select(name)
        t = schema.table(name)
        cols = ", ".join(f'"{c}"' for c in t.names)
        order = ", ".join(f'"{c}"' for c in t.key) if t.key else "1"
        return self.query(f'SELECT {cols} FROM "{name}" ORDER BY {order}')

    def row_counts(self) -> dict[str, int]:
        cur = self.cursor()
        try:
            facts = {t: int(cur.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0])
                     for t in [tb.name for tb in schema.FACT_TABLES + schema.APP_TABLES]
                     if t not in APP_DB_TABLES}
        finally:
            cur.close()
        return {**facts, **self.app.row_counts()}

    def meta(self, key: str) -> str | None:
        cur = self.cursor()
        try:
            row = cur.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        finally:
            cur.close()
        return None if row is None else str(row[0])

    @property
    def data_version(self) -> str:
        """Changes on every import of facts; '' before the first."""
        return self.meta("data_version") or ""

    @property
    def has_facts(self) -> bool:
        return int(self.scalar("SELECT count(*) FROM accounts")) > 0

    # -- fact loads ----------------------------------------------------------------
    def replace_facts(
        self, frames: Mapping[str, pd.DataFrame], *, source: str, user: str = "system",
        meta: Mapping[str, str | None] | None = None,
    ) -> str:
        """Replace the given fact tables wholesale in one swap; return the new data version.

        Frames must already be valid (see :mod:`valuation.ingest`). App-owned tables are never
        touched. Either every table lands or none does. ``meta`` sets (or, with None, removes)
        keys of the meta table in the same swap; a ``users`` table that does not set ``demo``
        makes the database no longer a demo one (see :func:`valuation.demo.is_demo`).
        """
        meta = dict(meta or {})
        if "users" in frames:
            meta.setdefault("demo", None)
        unknown = [n for n in frames if n not in schema.TABLES or schema.TABLES[n].app_owned]
        if unknown:
            raise ValueError(f"not fact tables: {', '.join(unknown)}")
        version = _new_version()
        counts = {}
        with self._facts_tx() as tx:
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
            if "users" in frames or "teams" in frames:
                arrow = self.app.arrow(["user_changes", "team_changes"])
                self._apply_directory(tx, users=arrow["user_changes"],
                                      teams=arrow["team_changes"])
            if "accounts" in frames or "users" in frames:
                self._apply_assignments(tx)
            for k, v in meta.items():
                if v is None:
                    tx.execute("DELETE FROM meta WHERE key = ?", [k])
                else:
                    tx.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [k, str(v)])
            _stamp(tx, version, user, source, counts)
        return version

    def _apply_assignments(self, tx: duckdb.DuckDBPyConnection) -> None:
        """Owners given in the app hold for accounts the import gives no known owner, and for
        accounts the import still gives the owner they had when they were moved (an import
        naming another known owner wins: the source system moved the account since)."""
        tx.register("account_assignments", self.app.arrow(["account_assignments"])[
            "account_assignments"])
        tx.execute(
            """UPDATE accounts SET owner_id = asg.owner_id
               FROM account_assignments asg
               WHERE accounts.account_id = asg.account_id
                 AND (accounts.owner_id IS NULL
                      OR accounts.owner_id NOT IN (SELECT user_id FROM users)
                      OR accounts.owner_id = asg.imported_owner_id)
                 AND asg.owner_id IN (SELECT user_id FROM users)""")
        tx.unregister("account_assignments")

    def _apply_directory(self, tx: duckdb.DuckDBPyConnection, *, users: Any = None,
                         teams: Any = None) -> None:
        """Users and teams changed in the app (``user_changes`` / ``team_changes`` rows, as
        Arrow tables or frames) over the facts: every field set there replaces the imported
        one (an empty field keeps it), and a row created in the app is added when the facts
        do not have it."""
        for name, changes, fields in (
                ("teams", teams, ("name", "name_en", "lead_id", "city")),
                ("users", users, ("name", "name_en", "role", "team_id", "email"))):
            if changes is None or len(changes) == 0:
                continue
            key = schema.table(name).key[0]
            view = f"_{name}_changes"
            tx.register(view, changes)
            sets = ", ".join(f'"{f}" = coalesce(c."{f}", "{name}"."{f}")' for f in fields)
            tx.execute(f'UPDATE "{name}" SET {sets} FROM {view} c '
                       f'WHERE "{name}"."{key}" = c."{key}"')
            cols = ", ".join(f'"{c}"' for c in (key, *fields))
            tx.execute(f'INSERT INTO "{name}" ({cols}) SELECT {cols} FROM {view} '
                       f'WHERE created AND name IS NOT NULL '
                       f'AND "{key}" NOT IN (SELECT "{key}" FROM "{name}")')
            tx.unregister(view)

    def write_directory(self, name: str, row: Mapping[str, Any], *, user: str,
                        expected_version: int | None, action: str) -> str:
        """Write a user or team change made in the app (``user_changes`` or ``team_changes``,
        versioned and audited) and apply it to the facts in the same step, under a new data
        version (scope and names read the facts). Returns the data version."""
        if name not in ("user_changes", "team_changes"):
            raise ValueError(f"{name} is not a user or team change")
        key = "user_id" if name == "user_changes" else "team_id"
        tbl = self.app.tables[name]
        version = _new_version()
        with self.transaction() as tx:
            self.write_row(name, row, user=user, expected_version=expected_version,
                           action=action, tx=tx)
            got = tx.execute(sa.select(tbl).where(tbl.c[key] == str(row[key]))).mappings().all()
            frame = to_arrow(pd.DataFrame([dict(r) for r in got]), name)
            with self._facts_tx() as cur:
                self._apply_directory(cur, **{"users" if key == "user_id" else "teams": frame})
                _stamp(cur, version, user, f"{action} {row[key]} in the app", {name: 1})
        return version

    def assign_owner(self, account_ids: list[str], owner_id: str, *, user: str,
                     expected_owner: str | None = None) -> str:
        """Give accounts an owner in the app: the unassigned pool's, or moved from another
        owner. An audited assignment per account in the app database and, in the same step,
        their owner in the facts, under a new data version (the facts changed). Each
        assignment keeps the owner the facts named before the app first gave the account one
        (``imported_owner_id``), so a re-import that still names it keeps the move. Refuses
        an unknown owner or account; with ``expected_owner``, refuses (ConflictError) when
        any of the accounts no longer has that owner (someone moved it meanwhile). Returns
        the data version."""
        ids = list(dict.fromkeys(str(a) for a in account_ids))
        if not ids:
            return self.data_version
        version = _new_version()
        ids_df = pd.DataFrame({"account_id": ids})
        with self.transaction() as tx:
            if not self.scalar("SELECT count(*) FROM users WHERE user_id = ?", [owner_id]):
                raise ValueError(f"no user {owner_id!r}")
            found = self.query(
                "SELECT account_id, owner_id, owner_id IN (SELECT user_id FROM users) AS known "
                "FROM accounts WHERE account_id IN (SELECT account_id FROM _ids) "
                "ORDER BY account_id", frames={"_ids": ids_df})
            if len(found) != len(ids):
                raise ValueError(f"{len(ids) - len(found)} of the accounts do not exist")
            if expected_owner is not None:
                moved = int((found["owner_id"].astype(object) != expected_owner).sum())
                if moved:
                    raise ConflictError(f"{moved} of the {len(ids)} accounts no longer belong "
                                        f"to {expected_owner}: someone moved them meanwhile")
            stored = self.app.select("account_assignments")
            prev = found.merge(stored[["account_id", "owner_id", "imported_owner_id", "version"]]
                               .rename(columns={"owner_id": "assigned"}), on="account_id",
                               how="left")
            # the assignment in force keeps the owner first imported; else the facts' owner
            # is the imported one (none for the unassigned pool)
            in_force = prev["assigned"].notna() & (prev["assigned"] == prev["owner_id"])
            imported = prev["owner_id"].where(prev["known"].fillna(False).astype(bool))
            imported = prev["imported_owner_id"].where(in_force, imported)
            at = _now()
            rows = pd.DataFrame({
                "account_id": prev["account_id"], "owner_id": owner_id,
                "version": prev["version"].fillna(0).astype(int) + 1, "updated_at": at,
                "updated_by": user, "imported_owner_id": imported.astype(object),
                "_action": "assign_owner"})
            self.app.upsert_frame("account_assignments", rows, user=user, at=at, tx=tx)
            with self._facts_tx() as cur:
                cur.register("_ids", ids_df)
                cur.execute("UPDATE accounts SET owner_id = ? WHERE account_id IN "
                            "(SELECT account_id FROM _ids)", [owner_id])
                _stamp(cur, version, user, f"assigned {len(ids)} accounts to {owner_id}",
                       {"assigned_accounts": len(ids)})
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
        tx: Tx | None = None,
    ) -> int:
        """Insert or update one app-owned row by its key; audited; return its new version.

        With ``expected_version``, refuse (ConflictError) when the stored row has moved on:
        another editor saved first. With ``tx`` (from :meth:`transaction`), the write joins
        that transaction, so several writes land together or not at all.
        """
        t = schema.table(name)
        if not t.app_owned or name not in APP_DB_TABLES:
            raise ValueError(f"{name} is not a table people write")
        return self.app.write_row(name, row, user=user, expected_version=expected_version,
                                  action=action, redact=redact, tx=tx)

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
        """Replace the rows of a machine-written table kept with the facts (score snapshots)
        matching ``replace_where`` by ``rows``, in one swap, with one audit entry (counts
        before and after). Versions continue from the replaced rows. Returns the row count."""
        t = schema.table(name)
        if not t.app_owned or name in APP_DB_TABLES:
            raise ValueError(f"{name} is not a machine-written table kept with the facts")
        where, params = replace_where
        with self._facts_tx() as tx:
            prev = tx.execute(
                f'SELECT count(*), coalesce(max(version), 0) FROM "{name}" WHERE {where}',
                params).fetchone()
            df = rows.copy()
            df["version"] = int(prev[1]) + 1
            df["updated_at"] = _now()
            df["updated_by"] = user
            tx.execute(f'DELETE FROM "{name}" WHERE {where}', params)
            tx.register("_batch", df)
            cols = ", ".join(f'"{c}"' for c in t.names if c in df.columns)
            tx.execute(f'INSERT INTO "{name}" ({cols}) SELECT {cols} FROM _batch')
            tx.unregister("_batch")
            with self.transaction() as atx:
                self.app.audit(atx, user=user, action=action, table_name=name,
                               row_key=row_key, before=json.dumps({"rows": int(prev[0])}),
                               after=json.dumps({"rows": len(df)}))
        return len(rows)

    def audit_entries(self, table_name: str | None = None) -> pd.DataFrame:
        tbl = self.app.tables["audit_log"]
        return self.app.select("audit_log", None if table_name is None
                               else tbl.c.table_name == table_name)


# ---------------------------------------------------------------------------------------------
def _open_app_db(url: str) -> AppDB:
    """The app database at ``url``, or DatabaseError (which file, what is wrong, what to do)
    when it cannot be opened or was written by a newer version."""
    import sqlalchemy as sa

    from valuation import appdb

    shown = sa.engine.make_url(url).render_as_string(hide_password=True)
    try:
        app = AppDB(url)
        found = app.scalar("SELECT value FROM app_meta WHERE key = 'schema_version'")
    except sa.exc.SQLAlchemyError as e:
        text = str(getattr(e, "orig", e)).strip().splitlines()
        text = text[0][:200] if text else type(e).__name__
        raise DatabaseError(
            f"app database {shown}: cannot be opened ({text}); if it is the SQLite file beside "
            "the facts, it is damaged or not a database: restore it from a backup (valuation "
            "restore --db PATH BACKUP.zip), or give the right one with --app-db / "
            "VALUATION_APP_DB") from None
    if found is not None and int(found) > appdb.SCHEMA_VERSION:
        app.dispose()
        raise _newer(Path(shown), int(found), appdb.SCHEMA_VERSION, "app database ")
    return app


def _new_version() -> str:
    return f"{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}"


def _stamp(tx: duckdb.DuckDBPyConnection, version: str, user: str, source: str,
           counts: Mapping[str, int]) -> None:
    tx.execute("INSERT OR REPLACE INTO meta VALUES ('data_version', ?)", [version])
    tx.execute("INSERT INTO import_log VALUES (?, ?, ?, ?, ?)",
               [version, _now(), user, source, json.dumps(dict(counts))])


def _replay_wal(path: Path) -> None:
    """A write-ahead log left beside the live file (a writer of an older version was killed):
    replay it into the file, which then has no log. Called under the writers' lock."""
    if Path(str(path) + ".wal").exists() and path.exists():
        con = duckdb.connect(str(path))
        con.execute("CHECKPOINT")
        con.close()


def _fsync_dir(d: Path) -> None:
    fd = os.open(str(d), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _move_app_tables(con: duckdb.DuckDBPyConnection, app: AppDB) -> dict[str, int]:
    """Copy every row of the app-owned tables of a schema-4 file into the app database, keeping
    the rows the app database already has (by key). Returns rows copied per table."""
    import sqlalchemy as sa

    have = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}
    moved: dict[str, int] = {}
    with app.transaction() as tx:
        for name in APP_DB_TABLES:
            if name not in have:
                continue
            t = schema.table(name)
            cols = [c for c in t.names
                    if c in {r[0] for r in con.execute(
                        "SELECT column_name FROM information_schema.columns "
                        "WHERE table_name = ?", [name]).fetchall()}]
            df = con.execute(f'SELECT {", ".join(chr(34) + c + chr(34) for c in cols)} '
                             f'FROM "{name}"').df()
            if df.empty:
                continue
            tbl = app.tables[name]
            if name == "audit_log":
                n_have = tx.execute(sa.select(sa.func.count()).select_from(tbl)).scalar()
                if n_have:
                    df = df.drop(columns=["audit_id"])
            else:
                key = list(t.key)
                df = df.drop_duplicates(key, keep="last")
                stored = app.select(name)
                if len(stored):
                    k_new = df[key].astype(str).agg("\x1f".join, axis=1)
                    k_old = set(stored[key].astype(str).agg("\x1f".join, axis=1))
                    df = df[~k_new.isin(k_old)]
            app.insert_frame(name, df, tx=tx)
            moved[name] = len(df)
        if app.dialect == "postgresql" and "audit_log" in moved:
            tx.execute(sa.text("SELECT setval(pg_get_serial_sequence('audit_log', 'audit_id'), "
                               "(SELECT coalesce(max(audit_id), 1) FROM audit_log))"))
        if moved:
            app.audit(tx, user="system", action="migrate", table_name="meta",
                      row_key='{"schema_version": 5}', before=None,
                      after=json.dumps(moved))
    return moved


def copy_database(src: str | Path, dst: str | Path) -> Path:
    """Copy a database to ``dst``: its facts file and, when the app database is the SQLite file
    beside it, that too (through SQLite's online backup, so a copy taken while the app is
    writing is consistent). A PostgreSQL app database is shared, not copied. Returns ``dst``."""
    import sqlite3

    src, dst = Path(src), Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with facts_lock(src, shared=True):  # not in the middle of a swap
        shutil.copyfile(src, dst)
    app_src = src.with_suffix(".app.sqlite")
    if app_src.exists():
        app_dst = dst.with_suffix(".app.sqlite")
        for p in (app_dst, Path(str(app_dst) + "-wal"), Path(str(app_dst) + "-shm")):
            p.unlink(missing_ok=True)
        with sqlite3.connect(app_src) as a, sqlite3.connect(app_dst) as b:
            a.backup(b)
        b.close()
        a.close()
    return dst
