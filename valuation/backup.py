"""Backup and restore of a whole database: the facts (DuckDB) and every row people wrote (the app
database, SQLite or PostgreSQL), consistent while the app runs, in one zip file.

The zip holds ``manifest.json`` (format, schema versions, row counts, SHA-256 of every member),
``facts.duckdb`` (the facts file, copied under the writers' shared lock: never mid-swap),
``app.sqlite`` (when the app database is the SQLite file: SQLite's online backup, one
consistent snapshot) and ``app/<table>.parquet`` (every app table, read in one snapshot; what a
restore loads, so a backup of either kind of app database restores into either kind).

A restore checks the manifest and the checksums, refuses a schema newer than this code, then,
under the writers' exclusive lock, replaces every app table's rows in one transaction and swaps
the facts file in with an atomic rename. Running readers see the restored facts on their next
read (they re-open on inode change) and the restored app rows at once (the change counters
move on).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import tempfile
import zipfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from valuation import appdb, schema
from valuation.appdb import APP_DB_TABLES, AppDB
from valuation.store import (
    SCHEMA_VERSION,
    DatabaseError,
    Store,
    _check_writable,
    _fsync_dir,
    _inspect_facts,
    default_app_db,
    facts_lock,
)

__all__ = ["FORMAT", "backup", "read_manifest", "restore"]

FORMAT = "valuation-backup/1"
_FACTS = "facts.duckdb"
_SQLITE = "app.sqlite"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _facts_counts(path: Path) -> tuple[dict[str, int], dict[str, str]]:
    """Row count of every table of a facts file, and its meta."""
    con = duckdb.connect(":memory:")
    try:
        quoted = str(path.resolve()).replace("'", "''")
        con.execute(f"ATTACH '{quoted}' AS f (READ_ONLY)")
        names = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'f' "
            "ORDER BY table_name").fetchall()]
        counts = {n: int(con.execute(f'SELECT count(*) FROM f."{n}"').fetchone()[0])
                  for n in names}
        meta = dict(con.execute("SELECT key, value FROM f.meta").fetchall()) if "meta" in names \
            else {}
    finally:
        con.close()
    return counts, {str(k): str(v) for k, v in meta.items()}


def _dump_app(conn: sa.Connection) -> tuple[dict[str, pa.Table], dict[str, int]]:
    """Every app table (schema-typed Arrow) and the change counters, through one connection
    inside one transaction (one snapshot)."""
    tables: dict[str, pa.Table] = {}
    for name in APP_DB_TABLES:
        tbl = appdb.METADATA.tables[name]
        res = conn.execute(sa.select(tbl).order_by(*tbl.primary_key.columns))
        df = appdb._typed(pd.DataFrame(res.fetchall(), columns=list(res.keys())), name)
        tables[name] = appdb.to_arrow(df, name)
    meta = appdb.METADATA.tables["app_meta"]
    counters = {str(k): int(v) for k, v in conn.execute(sa.select(meta.c.key, meta.c.value))}
    return tables, counters


def backup(db: str | Path, out: str | Path, *, app_db: str | None = None) -> dict[str, Any]:
    """Write a backup of the database ``db`` (facts and app database) to the zip ``out``,
    atomically (a partial file never has the final name). Safe while the app serves and
    writes. Returns the manifest."""
    db, out = Path(db), Path(out)
    if not db.exists():
        raise FileNotFoundError(f"no database at {db}")
    with Store(db, read_only=True, app_db=app_db) as s:  # damaged or newer: said here
        url = s.app.url
        dialect = s.app.dialect
        shown = s.app.display_url
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".backup-", dir=out.parent) as tmp:
        t = Path(tmp)
        facts = t / _FACTS
        # No swap happens while the shared lock is held: the facts copied and the app rows
        # read below belong together (a writer waits, it never sees an error).
        with facts_lock(db, shared=True):
            shutil.copyfile(db, facts)
            taken = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            if dialect == "sqlite":
                src = sa.engine.make_url(url).database
                with sqlite3.connect(src, timeout=60) as a, \
                        sqlite3.connect(t / _SQLITE) as b:
                    a.backup(b)  # one step: a consistent snapshot, even mid-write
                b.close()
                a.close()
                eng = sa.create_engine(f"sqlite:///{t / _SQLITE}")
                try:
                    with eng.connect() as c, c.begin():
                        tables, counters = _dump_app(c)
                finally:
                    eng.dispose()
            else:
                eng = sa.create_engine(url)
                try:
                    with eng.connect().execution_options(
                            isolation_level="REPEATABLE READ") as c, c.begin():
                        tables, counters = _dump_app(c)
                finally:
                    eng.dispose()
        fact_counts, meta = _facts_counts(facts)
        members: dict[str, Path] = {_FACTS: facts}
        if (t / _SQLITE).exists():
            members[_SQLITE] = t / _SQLITE
        for name, tbl in tables.items():
            p = t / f"{name}.parquet"
            pq.write_table(tbl, p)
            members[f"app/{name}.parquet"] = p
        manifest = {
            "format": FORMAT,
            "taken_at": taken,
            "source": {"db": str(db.resolve()), "app_db": shown, "app_dialect": dialect},
            "schema_version": int(meta.get("schema_version", 0)),
            "app_schema_version": int(counters.get("schema_version", appdb.SCHEMA_VERSION)),
            "data_version": meta.get("data_version", ""),
            "demo": meta.get("demo") is not None,
            "facts_rows": fact_counts,
            "app_rows": {n: tables[n].num_rows for n in APP_DB_TABLES},
            "app_counters": {k: v for k, v in counters.items() if k.startswith("v:")},
            "sha256": {name: _sha256(p) for name, p in members.items()},
        }
        part = out.with_name(f".{out.name}.part")
        with zipfile.ZipFile(part, "w", compression=zipfile.ZIP_DEFLATED,
                             compresslevel=1) as z:
            z.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
            for name, p in members.items():
                z.write(p, name)
        with open(part, "rb") as f:
            os.fsync(f.fileno())
        os.replace(part, out)
    return manifest


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of a backup file, checked (format, schema versions): DatabaseError when
    it is not a backup, damaged, or from a newer version."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no backup file {path}")
    try:
        with zipfile.ZipFile(path) as z:
            manifest = json.loads(z.read("manifest.json"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError) as e:
        raise DatabaseError(f"{path}: not a valuation backup, or damaged ({e}); take a new one "
                            "with valuation backup --db PATH --out FILE") from None
    if manifest.get("format") != FORMAT:
        raise DatabaseError(f"{path}: backup format {manifest.get('format')!r} is not "
                            f"{FORMAT!r}; restore it with the version of valuation that took it")
    for key, known, what in (("schema_version", SCHEMA_VERSION, ""),
                             ("app_schema_version", appdb.SCHEMA_VERSION, "app database ")):
        if int(manifest.get(key, 0)) > known:
            raise DatabaseError(
                f"{path}: the backup's {what}schema version {manifest[key]} is newer than this "
                f"version of valuation reads ({known}); upgrade valuation before restoring it")
    return manifest


def _verify(z: zipfile.ZipFile, manifest: Mapping[str, Any], path: Path, t: Path) -> None:
    """Extract every member to ``t`` and check it against the manifest's checksum."""
    sums = manifest.get("sha256") or {}
    needed = {_FACTS, *(f"app/{n}.parquet" for n in manifest.get("app_rows", {}))}
    missing = sorted(needed - set(sums) | (set(sums) - set(z.namelist())))
    if missing:
        raise DatabaseError(f"{path}: the backup lacks {', '.join(missing)}; it is incomplete")
    for name, want in sums.items():
        dst = t / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            with z.open(name) as src, open(dst, "wb") as f:
                shutil.copyfileobj(src, f, 1 << 20)
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise DatabaseError(f"{path}: {name} cannot be read ({e}); the backup is "
                                "damaged") from None
        if _sha256(dst) != want:
            raise DatabaseError(f"{path}: {name} does not match its checksum; the backup is "
                                "damaged or was changed")


def restore(db: str | Path, backup_file: str | Path, *, app_db: str | None = None
            ) -> dict[str, Any]:
    """Replace the database ``db`` (facts and every app table) by the backup, all or nothing;
    safe while the app serves. Returns the manifest."""
    db, backup_file = Path(db), Path(backup_file)
    manifest = read_manifest(backup_file)
    db.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{db.name}.restore-", dir=db.parent) as tmp:
        t = Path(tmp)
        with zipfile.ZipFile(backup_file) as z:
            _verify(z, manifest, backup_file, t)
        facts = t / _FACTS
        version = _inspect_facts(facts)
        counts, _meta = _facts_counts(facts)
        if counts != manifest["facts_rows"] or version != manifest["schema_version"]:
            raise DatabaseError(f"{backup_file}: its facts do not match the manifest (rows "
                                "or schema version differ); the backup is damaged")
        frames = {}
        for name, n in manifest["app_rows"].items():
            if name not in APP_DB_TABLES:
                raise DatabaseError(f"{backup_file}: unknown app table {name!r}")
            tbl = pq.read_table(t / "app" / f"{name}.parquet")
            if tbl.num_rows != int(n):
                raise DatabaseError(f"{backup_file}: app/{name}.parquet has {tbl.num_rows} "
                                    f"rows, the manifest says {n}; the backup is damaged")
            frames[name] = tbl.to_pandas()
        _check_writable(db)  # a damaged target is what a restore is for; a read-only one not
        app = _open_target_app(app_db or default_app_db(db), manifest)
        try:
            staged = db.with_name(f".{db.name}.restore-{os.getpid()}")
            shutil.copyfile(facts, staged)
            try:
                with facts_lock(db):
                    _load_app(app, frames, manifest)
                    os.replace(staged, db)
                    Path(str(db) + ".wal").unlink(missing_ok=True)
                    _fsync_dir(db.parent)
            finally:
                staged.unlink(missing_ok=True)
        finally:
            app.dispose()
    with Store(db, app_db=app_db):  # opens as any reader will; an older schema migrates
        pass
    return manifest


def _open_target_app(url: str, manifest: dict[str, Any]) -> AppDB:
    """The app database to restore into. A damaged SQLite file beside the facts is moved
    aside (``<file>.damaged-<time>``, named in the manifest returned) and made anew."""
    try:
        return AppDB(url)
    except sa.exc.SQLAlchemyError:
        u = sa.engine.make_url(url)
        if u.get_backend_name() != "sqlite" or not u.database or not Path(u.database).exists():
            raise
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    bad = Path(u.database)
    aside = bad.with_name(f"{bad.name}.damaged-{stamp}")
    os.replace(bad, aside)
    for suffix in ("-wal", "-shm"):
        Path(str(bad) + suffix).unlink(missing_ok=True)
    manifest["moved_aside"] = str(aside)
    return AppDB(url)


def _load_app(app: AppDB, frames: Mapping[str, Any], manifest: Mapping[str, Any]) -> None:
    """Every app table's rows replaced by the backup's, in one transaction; the change
    counters move past both the current and the backed-up ones (caches re-read)."""
    meta = app.tables["app_meta"]
    with app.transaction() as tx:
        # children first, so a database with foreign keys would not object
        for name in reversed(APP_DB_TABLES):
            tx.execute(sa.delete(app.tables[name]))
        for name in APP_DB_TABLES:
            df = frames.get(name)
            if df is None or df.empty:
                continue
            cols = [c for c in schema.table(name).names if c in df.columns]
            rows = appdb.records(df[cols], name)
            for i in range(0, len(rows), 5000):
                tx.execute(sa.insert(app.tables[name]), rows[i:i + 5000])
        for name in APP_DB_TABLES:
            n = tx.execute(sa.select(sa.func.count()).select_from(app.tables[name])).scalar()
            if int(n) != int(manifest["app_rows"].get(name, 0)):
                raise DatabaseError(f"restore of {name}: {n} rows landed, the backup has "
                                    f"{manifest['app_rows'].get(name, 0)}; nothing was changed")
        if app.dialect == "postgresql":
            tx.execute(sa.text(
                "SELECT setval(pg_get_serial_sequence('audit_log', 'audit_id'), "
                "(SELECT coalesce(max(audit_id), 1) FROM audit_log))"))
        have = {str(k): int(v) for k, v in tx.execute(sa.select(meta.c.key, meta.c.value))}
        backed = manifest.get("app_counters", {})
        for name in APP_DB_TABLES:
            key = f"v:{name}"
            value = max(have.get(key, 0), int(backed.get(key, 0))) + 1
            if key in have:
                tx.execute(sa.update(meta).where(meta.c.key == key).values(value=value))
            else:
                tx.execute(sa.insert(meta).values(key=key, value=value))


def manifest_text(m: Mapping[str, Any]) -> str:
    """A short human summary of a manifest."""
    facts = sum(int(v) for v in m["facts_rows"].values())
    app = ", ".join(f"{n:,} {k.replace('_', ' ')}" for k, n in m["app_rows"].items() if n)
    buf = io.StringIO()
    buf.write(f"taken {m['taken_at']} from {m['source']['db']} (app database "
              f"{m['source']['app_db']}); schema {m['schema_version']}, data version "
              f"{m['data_version'] or '-'}\n")
    buf.write(f"  facts: {facts:,} rows in {len(m['facts_rows'])} tables\n")
    buf.write(f"  written in the app: {app or 'nothing'}")
    return buf.getvalue()
