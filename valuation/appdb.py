"""The app's own database: what people write (credentials, plans, work orders and their events,
contacts logged in the app, settings versions, owner assignments, the audit log), shared by every
process. A table the schema gained since a database was made is created when it is opened (as
``valuation migrate`` does), keeping every row already there.

SQLAlchemy over an SQLite file in WAL mode by default (embedded, zero set-up) or PostgreSQL by
URL (``VALUATION_APP_DB=postgresql+psycopg://...``). Every table has its primary key and the
unique constraints its meaning needs; versioned writes are one ``UPDATE ... WHERE version =
:expected``; a lost race is a :class:`ConflictError`, never a driver traceback.

Facts and everything derived from them stay in DuckDB (:mod:`valuation.store`).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy import event, exc

from valuation import schema

__all__ = ["APP_DB_TABLES", "AppDB", "ConflictError", "Tx", "json_default", "now"]

# App-owned tables kept in the app database. Score snapshots are machine-written, large and
# analytical: they stay with the facts in DuckDB and are carried over every import.
APP_DB_TABLES: tuple[str, ...] = tuple(
    t.name for t in schema.APP_TABLES if t.name != "score_snapshots")
# Work-order statuses after which an order is closed (see valuation.warnings.FINAL).
_FINAL = ("retained", "lost", "false_alarm")
_SA_TYPES = {"str": sa.Text, "int": sa.BigInteger, "float": sa.Float, "date": sa.Date,
             "bool": sa.Boolean}
_PA_TYPES = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "date": pa.date32(),
             "bool": pa.bool_()}
SCHEMA_VERSION = 1
_CHUNK = 5000


class ConflictError(RuntimeError):
    """Someone else changed the row since it was read (its version moved on)."""


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def json_default(v: Any) -> Any:
    """``json.dumps`` default: dates as ISO text, numpy scalars as Python, else ``str``."""
    if isinstance(v, (date, datetime, pd.Timestamp)):
        return v.isoformat()
    if hasattr(v, "item"):
        return v.item()
    return str(v)


def _metadata() -> sa.MetaData:
    md = sa.MetaData()
    for name in APP_DB_TABLES:
        t = schema.table(name)
        cols = []
        for c in t.columns:
            if name == "audit_log" and c.name == "audit_id":
                cols.append(sa.Column("audit_id", sa.BigInteger().with_variant(sa.Integer,
                                                                                 "sqlite"),
                                      primary_key=True, autoincrement=True))
                continue
            cols.append(sa.Column(c.name, _SA_TYPES[c.dtype](), primary_key=c.name in t.key,
                                  nullable=c.name not in t.key))
        sa.Table(name, md, *cols)
    tb = md.tables
    # The meaning of the tables: one active settings version; at most one open work order per
    # account and rule; lookups by account and by order.
    sa.Index("ux_settings_active", tb["settings_versions"].c.active, unique=True,
             sqlite_where=tb["settings_versions"].c.active.is_(True),
             postgresql_where=tb["settings_versions"].c.active.is_(True))
    wo = tb["work_orders"]
    sa.Index("ux_work_orders_open", wo.c.account_id, wo.c.rule, unique=True,
             sqlite_where=wo.c.status.notin_(_FINAL), postgresql_where=wo.c.status.notin_(_FINAL))
    sa.Index("ix_work_orders_account", wo.c.account_id)
    sa.Index("ix_plans_account", tb["plans"].c.account_id)
    sa.Index("ix_events_order", tb["work_order_events"].c.work_order_id)
    sa.Index("ix_contact_log_account", tb["contact_log"].c.account_id)
    sa.Index("ix_audit_table", tb["audit_log"].c.table_name)
    sa.Table("app_meta", md, sa.Column("key", sa.String(100), primary_key=True),
             sa.Column("value", sa.BigInteger, nullable=False))
    return md


METADATA = _metadata()


class Tx:
    """One write transaction: the connection, and the tables it touched (their change counters
    move on at commit, in name order, so concurrent writers never deadlock on them)."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.touched: set[str] = set()

    def execute(self, stmt: Any, params: Any = None) -> sa.CursorResult:
        return self.conn.execute(stmt, params) if params is not None else self.conn.execute(stmt)


class AppDB:
    """The app database at ``url`` (SQLAlchemy). Thread-safe; one per process is enough."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dialect = sa.engine.make_url(url).get_backend_name()
        self.tables = METADATA.tables
        if self.dialect == "sqlite":
            args = {"timeout": 60, "check_same_thread": False}
            self._w = sa.create_engine(url, connect_args=args, pool_pre_ping=False)
            self._r = sa.create_engine(url, connect_args=args)
            for eng, immediate in ((self._w, True), (self._r, False)):
                _sqlite_events(eng, immediate=immediate)
        else:
            self._w = self._r = sa.create_engine(url, pool_pre_ping=True, pool_size=10,
                                                 max_overflow=20)
        self._cache: dict[str, tuple[int, pa.Table]] = {}
        self._create()

    # -- lifecycle -----------------------------------------------------------------------
    def _create(self) -> None:
        for attempt in range(5):  # several processes may create the tables at once
            try:
                METADATA.create_all(self._w, checkfirst=True)
                break
            except exc.DBAPIError:
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))
        self._add_columns()
        keys = ["schema_version", *(f"v:{t}" for t in APP_DB_TABLES)]
        with self.transaction() as tx:
            have = {r[0] for r in tx.execute(sa.select(self.tables["app_meta"].c.key))}
            missing = [{"key": k, "value": SCHEMA_VERSION if k == "schema_version" else 0}
                       for k in keys if k not in have]
            if missing:
                tx.execute(sa.insert(self.tables["app_meta"]), missing)

    def _add_columns(self) -> None:
        """Columns the schema gained after this database was made (each nullable, e.g.
        ``account_assignments.imported_owner_id``) are added in place: every row is kept, and
        an earlier version of the code still reads and writes the table (it ignores them)."""
        def missing() -> list[tuple[str, sa.Column]]:
            insp = sa.inspect(self._w)
            out = []
            for name in APP_DB_TABLES:
                have = {c["name"] for c in insp.get_columns(name)}
                out += [(name, c) for c in self.tables[name].columns if c.name not in have]
            return out

        for name, col in missing():
            kind = col.type.compile(dialect=self._w.dialect)
            try:
                with self._w.begin() as c:
                    c.exec_driver_sql(f'ALTER TABLE "{name}" ADD COLUMN "{col.name}" {kind}')
            except exc.DBAPIError:
                if (name, col.name) in {(n, c.name) for n, c in missing()}:
                    raise  # not another process adding it first

    def dispose(self) -> None:
        self._w.dispose()
        if self._r is not self._w:
            self._r.dispose()

    @property
    def display_url(self) -> str:
        """The URL with any password hidden."""
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    # -- transactions --------------------------------------------------------------------
    @contextmanager
    def transaction(self, tx: Tx | None = None) -> Iterator[Tx]:
        """A write transaction (joins ``tx`` when given). Integrity and serialization failures
        (another writer won a race) become ConflictError."""
        if tx is not None:
            yield tx
            return
        try:
            with self._w.begin() as conn:
                t = Tx(conn)
                yield t
                meta = self.tables["app_meta"]
                for name in sorted(t.touched):
                    conn.execute(sa.update(meta).where(meta.c.key == f"v:{name}")
                                 .values(value=meta.c.value + 1))
        except exc.IntegrityError as e:
            raise ConflictError(f"another change was saved first ({_short(e)})") from e
        except exc.OperationalError as e:
            if _is_race(e):
                raise ConflictError(f"another change was saved at the same time ({_short(e)})"
                                    ) from e
            raise

    # -- reads ---------------------------------------------------------------------------
    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Rows of a portable SQL query (``:name`` parameters), columns typed by the schema
        where their names are known."""
        with self._r.connect() as c:
            res = c.execute(sa.text(sql), dict(params or {}))
            df = pd.DataFrame(res.fetchall(), columns=list(res.keys()))
        return _typed(df)

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        with self._r.connect() as c:
            return c.execute(sa.text(sql), dict(params or {})).scalar()

    def select(self, name: str, where: Any = None, order: bool = True) -> pd.DataFrame:
        """Rows of an app table (optionally filtered), typed, in key order."""
        tbl = self.tables[name]
        stmt = sa.select(tbl)
        if where is not None:
            stmt = stmt.where(where)
        if order:
            stmt = stmt.order_by(*tbl.primary_key.columns)
        with self._r.connect() as c:
            res = c.execute(stmt)
            df = pd.DataFrame(res.fetchall(), columns=list(res.keys()))
        return _typed(df, name)

    def read(self, stmt: Any, name: str | None = None) -> pd.DataFrame:
        """Rows of a SQLAlchemy select (filters, order, limit built by the caller), typed as
        :meth:`select` types them (by the table ``name`` when given)."""
        with self._r.connect() as c:
            res = c.execute(stmt)
            df = pd.DataFrame(res.fetchall(), columns=list(res.keys()))
        return _typed(df, name)

    def counters(self) -> dict[str, int]:
        meta = self.tables["app_meta"]
        with self._r.connect() as c:
            return {k[2:]: int(v) for k, v in c.execute(
                sa.select(meta.c.key, meta.c.value).where(meta.c.key.like("v:%")))}

    def arrow(self, names: Iterable[str]) -> dict[str, pa.Table]:
        """Whole app tables as Arrow tables with the schema's types, cached per process and
        re-read only when a write has moved the table's change counter on."""
        names = list(names)
        counters = self.counters()
        out = {}
        for name in names:
            hit = self._cache.get(name)
            if hit is None or hit[0] != counters.get(name, 0):
                df = self.select(name, order=False)
                hit = (counters.get(name, 0), to_arrow(df, name))
                self._cache[name] = hit
            out[name] = hit[1]
        return out

    def row_counts(self) -> dict[str, int]:
        with self._r.connect() as c:
            return {n: int(c.execute(sa.select(sa.func.count()).select_from(self.tables[n]))
                           .scalar()) for n in APP_DB_TABLES}

    # -- writes --------------------------------------------------------------------------
    def write_row(self, name: str, row: Mapping[str, Any], *, user: str,
                  expected_version: int | None = None, action: str | None = None,
                  redact: tuple[str, ...] = (), tx: Tx | None = None) -> int:
        """Insert or update one row by its key, audited; return its new version.

        The update is ``UPDATE ... WHERE key AND version = <read>``: if another writer got
        there first, nothing changes and ConflictError says who. With ``expected_version``
        the row must still be at that version (the version the editor read).
        """
        t = schema.table(name)
        tbl = self.tables[name]
        key = {k: row[k] for k in t.key}
        cond = sa.and_(*(tbl.c[k] == v for k, v in key.items()))
        with self.transaction(tx) as w:
            got = w.execute(sa.select(tbl).where(cond)).mappings().first()
            before = _typed(pd.DataFrame([dict(got)]), name).iloc[0].to_dict() if got else None
            current = int(before["version"]) if before else 0
            if expected_version is not None and expected_version != current:
                who = before.get("updated_by") if before else "?"
                raise ConflictError(
                    f"{name} {_key_text(key)} was changed by {who} (version {current}, you "
                    f"edited version {expected_version})")
            new = dict(before or {})
            new.update(row)
            new.update(version=current + 1, updated_at=now(), updated_by=user)
            values = {c: _py(new.get(c), t.column(c).dtype) for c in t.names if c in new}
            if before is None:
                w.execute(sa.insert(tbl).values(**values))
            else:
                res = w.execute(sa.update(tbl).where(cond, tbl.c.version == current)
                                .values(**{k: v for k, v in values.items() if k not in key}))
                if res.rowcount != 1:
                    raise ConflictError(f"{name} {_key_text(key)} was changed by someone else "
                                        f"while you saved (version {current})")
            w.touched.add(name)
            self.audit(w, user=user, action=action or ("update" if before else "insert"),
                       table_name=name, row_key=json.dumps(key, default=json_default,
                                                           ensure_ascii=False),
                       before=_redacted(before, redact), after=_redacted(values, redact))
        return int(new["version"])

    def upsert_frame(self, name: str, rows: pd.DataFrame, *, user: str, at: str,
                     tx: Tx) -> None:
        """Write many rows of a one-key table at once: rows whose key exists are updated only
        where the stored version is still ``version - 1`` (else ConflictError, nothing lands);
        the others are inserted. One audit row each (``_action`` column; before and after as
        JSON)."""
        if rows.empty:
            return
        t = schema.table(name)
        (key,) = t.key
        tbl = self.tables[name]
        rows = rows.sort_values(key, kind="stable")  # one lock order for every writer
        ids = rows[key].astype(str).tolist()
        stmt = sa.select(tbl).where(tbl.c[key].in_(sa.bindparam("ids", expanding=True)))
        got = [r for i in range(0, len(ids), _CHUNK)  # drivers cap the parameters per query
               for r in tx.execute(stmt, {"ids": ids[i:i + _CHUNK]}).mappings().all()]
        stored = _typed(pd.DataFrame(got, columns=list(t.names)), name)
        exists = rows[key].isin(stored[key] if len(stored) else [])
        values = records(rows[list(t.names)], name)
        upd = [v for v, e in zip(values, exists.to_numpy(), strict=True) if e]
        ins = [v for v, e in zip(values, exists.to_numpy(), strict=True) if not e]
        if upd:
            cols = [c for c in t.names if c != key]
            stmt = (sa.update(tbl).where(tbl.c[key] == sa.bindparam("_k"),
                                         tbl.c.version == sa.bindparam("_v"))
                    .values({c: sa.bindparam("_" + c) for c in cols}))
            params = [{"_k": v[key], "_v": int(v["version"]) - 1,
                       **{"_" + c: v[c] for c in cols}} for v in upd]
            if self._w.dialect.supports_sane_multi_rowcount:
                n = tx.execute(stmt, params).rowcount
            else:
                n = sum(tx.execute(stmt, p).rowcount for p in params)
            if n != len(params):
                raise ConflictError(f"{len(params) - n} {name.replace('_', ' ')} changed by "
                                    "someone else meanwhile")
        if ins:
            tx.execute(sa.insert(tbl), ins)
        tx.touched.add(name)
        before = (_json_rows(stored.set_index(key)) if len(stored)
                  else pd.Series(dtype=object))
        after = _json_rows(rows[list(t.names)].set_index(key, drop=False))
        keys = rows[key].astype(str)
        self.audit_many(tx, pd.DataFrame({
            "at": at, "user_id": user, "action": rows["_action"].to_numpy(),
            "table_name": name,
            "row_key": ('{"' + key + '": ' + keys.map(json.dumps) + "}").to_numpy(),
            "before": keys.map(before).to_numpy(), "after": after.to_numpy()}))

    def insert_frame(self, name: str, rows: pd.DataFrame, *, tx: Tx) -> None:
        if rows.empty:
            return
        tx.execute(sa.insert(self.tables[name]), records(rows, name))
        tx.touched.add(name)

    def audit(self, tx: Tx, **e: Any) -> None:
        tx.execute(sa.insert(self.tables["audit_log"]).values(
            at=now(), user_id=e["user"], action=e["action"], table_name=e["table_name"],
            row_key=e["row_key"], before=e["before"], after=e["after"]))
        tx.touched.add("audit_log")

    def audit_many(self, tx: Tx, rows: pd.DataFrame) -> None:
        cols = ["at", "user_id", "action", "table_name", "row_key", "before", "after"]
        tx.execute(sa.insert(self.tables["audit_log"]), records(rows[cols], "audit_log"))
        tx.touched.add("audit_log")

    def next_event_ids(self, n: int) -> np.ndarray:
        """``n`` event ids unique across processes: one random prefix, then a counter."""
        prefix = secrets.token_hex(8)
        return np.char.add(prefix + "-", np.arange(n).astype(str))


# ---------------------------------------------------------------------------------------------
def to_arrow(df: pd.DataFrame, name: str) -> pa.Table:
    """An app table's frame as Arrow with the schema's exact types (DuckDB reads it as is)."""
    t = schema.table(name)
    arrays = {}
    for c in t.columns:
        s = df[c.name] if c.name in df.columns else pd.Series([None] * len(df), dtype=object)
        if c.dtype == "date":
            s = pd.to_datetime(s, errors="coerce").dt.date
        elif c.dtype == "str":
            s = s.astype(object).where(s.notna(), None).map(
                lambda v: v if v is None or isinstance(v, str) else str(v))
        arrays[c.name] = pa.array(s.astype(object).where(s.notna(), None).tolist()
                                  if c.dtype in ("bool", "int") else s,
                                  type=_PA_TYPES[c.dtype], from_pandas=True)
    return pa.table(arrays)


def records(df: pd.DataFrame, name: str) -> list[dict[str, Any]]:
    """Rows as driver-ready dicts: NaN/NaT as None, dates as ``date``, numpy as Python."""
    t = schema.table(name)
    out = {}
    for c in df.columns:
        s = df[c]
        dtype = t.column(c).dtype if c in t.names else None
        if dtype == "date":
            d = pd.to_datetime(s, errors="coerce")
            out[c] = [None if pd.isna(v) else v.date() for v in d]
            continue
        vals = s.astype(object).where(s.notna(), None).tolist()
        if dtype == "int":
            vals = [None if v is None else int(v) for v in vals]
        elif dtype == "float":
            vals = [None if v is None else float(v) for v in vals]
        elif dtype == "bool":
            vals = [None if v is None else bool(v) for v in vals]
        elif dtype == "str":
            vals = [None if v is None else str(v) for v in vals]
        out[c] = vals
    n = len(df)
    cols = list(out)
    return [dict(zip(cols, row, strict=True)) for row in zip(*(out[c] for c in cols),
                                                              strict=True)] if n else []


def _typed(df: pd.DataFrame, name: str | None = None) -> pd.DataFrame:
    """Columns typed as DuckDB hands them out: dates as datetime64, ints as Int64 when null."""
    types: dict[str, str] = {}
    tables = [schema.table(name)] if name else [schema.table(n) for n in APP_DB_TABLES]
    for t in tables:
        for c in t.columns:
            types.setdefault(c.name, c.dtype)
    for c in df.columns:
        dt = types.get(c)
        if dt == "date":
            df[c] = pd.to_datetime(df[c], errors="coerce")
        elif dt == "bool":
            df[c] = df[c].astype(object).where(df[c].notna(), None).map(
                lambda v: v if v is None else bool(v))
        elif dt == "float":
            df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
        elif dt == "int":
            s = pd.to_numeric(df[c], errors="coerce")
            df[c] = s.astype("int64") if s.notna().all() else s.astype("Int64")
    return df


def _py(v: Any, dtype: str) -> Any:
    if v is None:
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    if dtype == "date":
        return pd.Timestamp(v).date()
    if dtype == "int":
        return int(v)
    if dtype == "float":
        return float(v)
    if dtype == "bool":
        return bool(v)
    return str(v) if not isinstance(v, str) else v


def _json_rows(df: pd.DataFrame) -> pd.Series:
    """One JSON object per row (index kept), dates as ISO text, NaN as null."""
    if df.empty:
        return pd.Series([], index=df.index, dtype=object)
    d = df.copy()
    for c in d.columns:
        if pd.api.types.is_datetime64_any_dtype(d[c]):
            d[c] = d[c].dt.strftime("%Y-%m-%d").where(d[c].notna(), None)
    text = d.to_json(orient="records", lines=True, force_ascii=False, double_precision=6)
    return pd.Series(text.splitlines(), index=df.index, dtype=object)


def _redacted(row: Mapping[str, Any] | None, redact: tuple[str, ...]) -> str | None:
    if row is None:
        return None
    clean = {k: ("***" if k in redact else (None if _isna(v) else v)) for k, v in row.items()}
    return json.dumps(clean, default=json_default, ensure_ascii=False)


def _isna(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _key_text(key: Mapping[str, Any]) -> str:
    return ", ".join(str(v) for v in key.values())


def _short(e: BaseException) -> str:
    text = str(getattr(e, "orig", e)).strip().splitlines()
    return text[0][:160] if text else type(e).__name__


def _is_race(e: exc.OperationalError) -> bool:
    text = str(getattr(e, "orig", e)).lower()
    return any(s in text for s in ("deadlock", "could not serialize", "database is locked"))


def _sqlite_events(engine: sa.Engine, *, immediate: bool) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _: Any) -> None:
        dbapi_conn.isolation_level = None  # transactions are begun below, explicitly
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        # A writer takes the write lock up front, so it waits its turn instead of failing
        # when it would upgrade a read lock; readers never block (WAL).
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
