"""The account roll-ups on one machine (DuckDB) or a cluster (Apache Spark), Parquet in and out.

The SQL in ``valuation/sql/`` is the contract: DuckDB runs it as written (with ``$name``
parameters); for Spark it is translated with sqlglot (DuckDB dialect to Spark SQL) after every
parameter has become a typed literal (dates as ``DATE``, figures as ``DOUBLE``). The facts are
read in the import schema from Parquet (the layout ``valuation export --format parquet``
writes: ``<table>.parquet`` per table, or ``<table>/`` folders of part files) or from Hive
tables (``hive:DATABASE``, Spark only). Results land under ``out`` as Parquet datasets
partitioned by region (``city=<name>/``):

- ``account_frame``: one row per account onboarded by the as-of date (``account_frame.sql``
  plus the ratios ``features.account_frame`` derives: revenue_trend, arrears_rate_3m,
  share_of_wallet; English names fall back to the Chinese as there);
- ``line_warnings``: rules W1-W7b per member line (``line_warnings.sql``);
- ``line_rollup``: the member-line warnings per account (``line_rollup.sql``);
- ``account_rules``: one row per (account, account-level rule) that trips
  (``warn_account_rules.sql``).

The as-of date is the data's own, as ``features.data_as_of`` defines it (the last day of daily
usage, else the end of the last billed month), computed on the engine. Nothing here loops over
accounts: every figure comes out of the engine's SQL.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from valuation import schema
from valuation.config import Settings, load_settings
from valuation.features import load_sql
from valuation.store import sql_type
from valuation.warnings import _line_params, account_rule_params

__all__ = [
    "ENGINES",
    "FACTS",
    "OUTPUTS",
    "SPARK_DIALECTS",
    "SparkUnavailableError",
    "add_arguments",
    "as_of_sql",
    "bind",
    "main",
    "output_sql",
    "read_account_frame",
    "rollup",
    "run",
    "stage_sql",
    "to_spark_sql",
]

ENGINES = ("duckdb", "spark")
# The fact tables the roll-ups read (a table missing from the facts reads as empty, as an
# export leaves out empty tables; ``accounts`` must be there).
FACTS = ("users", "products", "accounts", "holdings", "contracts", "billing_monthly", "lines",
         "line_daily", "interactions", "churn_events")
# Output dataset -> its key (unique per row; the partition column is ``city``).
OUTPUTS: dict[str, tuple[str, ...]] = {
    "account_frame": ("account_id",),
    "line_warnings": ("line_id",),
    "line_rollup": ("account_id",),
    "account_rules": ("account_id", "rule"),
}
# sqlglot's Spark dialects: "spark" is Spark 3 and later (3.5, 4.x), "spark2" the older one;
# the SQL must translate to both without an unsupported function.
SPARK_DIALECTS = ("spark", "spark2")
PARTITION = "city"
MANIFEST = "_rollup.json"

_INSTALL_HINT = (
    "the Spark engine needs pyspark: pip install -e '.[spark]' (or pip install 'pyspark>=3.5'). "
    "Spark runs on a Java 17 or 21 runtime: java on PATH or JAVA_HOME set (Debian / Ubuntu: "
    "apt-get install -y openjdk-17-jre-headless; elsewhere e.g. Eclipse Temurin 17)."
)
# The data's as-of date (features.data_as_of): the last day of daily usage, else the end of
# the last billed month.
_AS_OF_DAILY = "SELECT max(day) FROM line_daily"
_AS_OF_BILLED = "SELECT last_day(max(month)) FROM billing_monthly"
_BILL_MONTH = "SELECT max(month) FROM billing_monthly WHERE month <= $as_of"
_LINE_MARKER = "/*LINE_WARNINGS*/"


class SparkUnavailableError(RuntimeError):
    """Spark was asked for but pyspark is not installed or the JVM does not start."""


def rollup(
    facts: Path | str,
    out: Path | str,
    *,
    engine: str = "duckdb",
    as_of: date | None = None,
    spark: Any = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Run the account-frame and warning roll-ups over ``facts`` on ``engine``; write ``out``.

    ``facts``: a folder of Parquet fact tables (``<table>.parquet`` files or ``<table>/``
    folders of part files), or ``hive:DATABASE`` (Spark only). ``out``: a folder (for Spark
    also a URI such as ``hdfs:///`` or ``s3a://``); each dataset of :data:`OUTPUTS` is
    replaced under ``out/<name>/city=<city>/``. ``as_of`` defaults to the data's own.
    ``spark``: a SparkSession to use (default: one from ``SPARK_MASTER``, else ``local[*]``,
    stopped at the end). ``settings``: the warning thresholds (default: the default settings).

    Returns engine, facts, out, as_of, as_of_source (given / data / today), rows per dataset,
    seconds per stage and the dataset paths.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    settings = settings or load_settings()
    seconds: dict[str, float] = {}
    rows: dict[str, int] = {}
    with _timed(seconds, "session"):
        eng: _Engine = _DuckEngine() if engine == "duckdb" else _SparkEngine(spark, facts)
    try:
        with _timed(seconds, "load"):
            eng.load(facts)
        with _timed(seconds, "as_of"):
            day, source = _as_of(eng, as_of)
            bill_month = eng.scalar(_BILL_MONTH, {"as_of": day})
        params = _params(day, None if bill_month is None else pd.Timestamp(bill_month).date(),
                         settings)
        sqls = stage_sql()
        paths = {}
        for name in OUTPUTS:  # four datasets, each one SQL statement on the engine
            with _timed(seconds, name):
                eng.materialize(f"_{name}", sqls[name], params[name],
                                cache=name == "line_warnings")
                paths[name] = _join(out, name)
                rows[name] = eng.write(output_sql(name), paths[name])
    finally:
        eng.close()
    res = {
        "engine": engine, "facts": str(facts), "out": str(out), "as_of": day.isoformat(),
        "as_of_source": source, "rows": rows,
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "total_seconds": round(sum(seconds.values()), 3), "paths": paths,
    }
    if "://" not in str(out):  # a local result says what it is, for read_account_frame
        (Path(out) / MANIFEST).write_text(json.dumps(res, indent=2), encoding="utf-8")
    return res


def read_account_frame(out: Path | str, *, regions: Sequence[str] | None = None,
                       as_of: date | None = None) -> pd.DataFrame:
    """The ``account_frame`` dataset of a roll-up result (DuckDB's or Spark's), for scoring,
    tiers and the app: the regions asked for (default all), typed as the app's own frame,
    ``attrs["as_of"]`` from the result's manifest (or ``as_of``)."""
    from valuation import features

    root = Path(out)
    manifest = root / MANIFEST
    if as_of is None:
        if not manifest.exists():
            raise FileNotFoundError(f"{root}: no {MANIFEST} (not a roll-up result?); give the "
                                    "as-of date")
        as_of = date.fromisoformat(json.loads(manifest.read_text(encoding="utf-8"))["as_of"])
    folder = root / "account_frame"
    if not folder.is_dir():
        raise FileNotFoundError(f"{root}: no account_frame/ dataset")
    con = duckdb.connect()
    try:
        pattern = str(folder / "**" / "*.parquet").replace("'", "''")
        where, params = "", []
        if regions:
            where = f" WHERE {PARTITION} IN ({', '.join('?' for _ in regions)})"
            params = [str(r) for r in regions]
        table = con.sql(
            f"SELECT * FROM read_parquet('{pattern}', hive_partitioning = true, "
            f"union_by_name = true){where} ORDER BY account_id", params=params).to_arrow_table()
    finally:
        con.close()
    if regions:
        missing = sorted(set(map(str, regions)) - set(table.column(PARTITION).to_pylist()))
        if missing:
            raise ValueError(f"{root}: no accounts in {', '.join(missing)}")
    df = table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)
    for c in ("churned",):
        df[c] = df[c].fillna(False).astype(bool)
    return features.finish_frame(df, as_of)


def stage_sql() -> dict[str, str]:
    """The DuckDB-dialect SQL of each dataset, as the engine runs it (``$name`` parameters).

    ``line_rollup`` reads the materialised line warnings (``_line_warnings``) instead of
    evaluating ``line_warnings.sql`` a second time.
    """
    return {
        "account_frame": load_sql("account_frame"),
        "line_warnings": load_sql("line_warnings"),
        "line_rollup": load_sql("line_rollup").replace(
            _LINE_MARKER, "SELECT * FROM _line_warnings"),
        "account_rules": load_sql("warn_account_rules"),
    }


def output_sql(name: str) -> str:
    """The SELECT that writes dataset ``name`` from its materialised ``_<name>`` (with city)."""
    if name == "account_frame":
        cols = _select_names(load_sql("account_frame"))
        fill = {"name_en": "coalesce(f.name_en, f.name) AS name_en",
                "owner_name_en": "coalesce(f.owner_name_en, f.owner_name) AS owner_name_en"}
        select = ", ".join(fill.get(c, f"f.{c}") for c in cols)
        return (
            f"SELECT {select},\n"
            "  (f.revenue_3m - f.revenue_prev_3m)\n"
            "    / (CASE WHEN f.revenue_prev_3m > 0 THEN f.revenue_prev_3m END) AS revenue_trend,\n"
            "  f.arrears_3m / (CASE WHEN f.revenue_3m > 0 THEN f.revenue_3m END)"
            " AS arrears_rate_3m,\n"
            "  f.our_spend / (CASE WHEN f.our_spend + f.competitor_spend > 0"
            " THEN f.our_spend + f.competitor_spend END) AS share_of_wallet\n"
            "FROM _account_frame f"
        )
    if name not in OUTPUTS:
        raise ValueError(f"unknown roll-up {name!r}: one of {', '.join(OUTPUTS)}")
    return (f"SELECT r.*, a.city FROM _{name} r "
            "JOIN accounts a ON a.account_id = r.account_id")


def as_of_sql() -> tuple[str, ...]:
    """The scalar queries the engine answers: the data's as-of (daily usage, else billed
    months) and the latest billed month on or before it (``$as_of``)."""
    return (_AS_OF_DAILY, _AS_OF_BILLED, _BILL_MONTH)


def bind(sql: str, params: Mapping[str, Any]) -> str:
    """``sql`` (DuckDB dialect) with every ``$name`` parameter replaced by a typed literal, still
    in DuckDB dialect: dates ``DATE 'YYYY-MM-DD'``, floats ``CAST(x AS DOUBLE)``, integers,
    booleans, text. A parameter without a value raises KeyError."""
    return _bound_tree(sql, params).sql(dialect="duckdb")


def to_spark_sql(sql: str, params: Mapping[str, Any] | None = None, *,
                 dialect: str = "spark") -> str:
    """``sql`` (DuckDB dialect, one statement) as Spark SQL; with ``params``, bound first.

    Raises sqlglot's UnsupportedError for a construct the target cannot express (an unknown
    function is never passed through silently).
    """
    import sqlglot

    if params is not None:
        tree = _bound_tree(sql, params)
        return tree.sql(dialect=dialect, unsupported_level=sqlglot.ErrorLevel.RAISE)
    out = sqlglot.transpile(sql, read="duckdb", write=dialect,
                            unsupported_level=sqlglot.ErrorLevel.RAISE)
    if len(out) != 1:
        raise ValueError(f"expected one SQL statement, got {len(out)}")
    return out[0]


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of ``valuation rollup`` (wire with ``set_defaults(func=rollup.run)``)."""
    parser.add_argument("--engine", choices=ENGINES, default="duckdb",
                        help="duckdb (one machine) or spark (SPARK_MASTER, else local[*])")
    parser.add_argument("--facts", required=True,
                        help="folder of Parquet fact tables (<table>.parquet or <table>/), "
                             "or hive:DATABASE (Spark)")
    parser.add_argument("--out", required=True,
                        help="output folder (Spark: also hdfs:// or s3a://); one Parquet "
                             "dataset per roll-up, partitioned by city")
    parser.add_argument("--as-of", type=date.fromisoformat, default=None,
                        help="as-of date YYYY-MM-DD (default: the data's own)")
    parser.add_argument("--settings", type=Path, default=None,
                        help="settings TOML with the warning thresholds (default: the defaults)")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run :func:`rollup` from parsed arguments; print a summary and the JSON; exit code."""
    settings = load_settings(args.settings) if getattr(args, "settings", None) else None
    out: Path | str = args.out if "://" in str(args.out) else Path(args.out)
    try:
        res = rollup(args.facts, out, engine=args.engine, as_of=args.as_of, settings=settings)
    except SparkUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows = ", ".join(f"{k} {v:,}" for k, v in res["rows"].items())
    print(f"rollup on {res['engine']} as of {res['as_of']} ({res['as_of_source']}): {rows} "
          f"rows in {res['total_seconds']:.1f} s -> {res['out']}")
    print(json.dumps(res, indent=2, ensure_ascii=False))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry for ``spark-submit`` (a launcher calling it) and ``python -m valuation.rollup``."""
    parser = add_arguments(argparse.ArgumentParser(
        prog="valuation-rollup", description="The account roll-ups on DuckDB or Spark."))
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


# ---------------------------------------------------------------------------------------------
# Parameters and SQL
# ---------------------------------------------------------------------------------------------
def _as_of(eng: _Engine, as_of: date | None) -> tuple[date, str]:
    if as_of is not None:
        return pd.Timestamp(as_of).date(), "given"
    for sql in (_AS_OF_DAILY, _AS_OF_BILLED):
        v = eng.scalar(sql, {})
        if v is not None:
            return pd.Timestamp(v).date(), "data"
    return date.today(), "today"


def _params(day: date, bill_month: date | None, settings: Settings) -> dict[str, dict[str, Any]]:
    """Parameters per dataset: the same date bounds and thresholds ``warnings`` computes."""
    ts = pd.Timestamp(day)
    frame = {"as_of": day, **{f"m{k}": (ts - pd.DateOffset(months=k)).date()
                              for k in (1, 3, 6, 12)}}
    line = _line_params(day, settings)
    return {"account_frame": frame, "line_warnings": line, "line_rollup": line,
            "account_rules": account_rule_params(day, bill_month, settings)}


def _bound_tree(sql: str, params: Mapping[str, Any]) -> Any:
    import sqlglot
    from sqlglot import exp

    def literal(node: Any) -> Any:
        if not isinstance(node, exp.Placeholder):
            return node
        name = node.name
        if name not in params:
            raise KeyError(f"no value for SQL parameter ${name}")
        v = params[name]
        if isinstance(v, bool):
            return exp.Boolean(this=v)
        if isinstance(v, date):
            return exp.cast(exp.Literal.string(pd.Timestamp(v).date().isoformat()), "DATE")
        if isinstance(v, int):
            return exp.Literal.number(v)
        if isinstance(v, float):
            return exp.cast(exp.Literal.number(repr(v)), "DOUBLE")
        if v is None:
            return exp.Null()
        return exp.Literal.string(str(v))

    return sqlglot.parse_one(sql, read="duckdb").transform(literal)


def _select_names(sql: str) -> list[str]:
    import sqlglot

    return list(sqlglot.parse_one(sql, read="duckdb").named_selects)


def _used(sql: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters ``sql`` names (DuckDB refuses extra ones)."""
    names = set(re.findall(r"\$(\w+)", _strip_comments(sql)))
    return {k: v for k, v in params.items() if k in names}


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def _join(out: Path | str, name: str) -> str:
    s = str(out)
    return f"{s.rstrip('/')}/{name}" if "://" in s else str(Path(s) / name)


def _empty_select(table: str) -> str:
    cols = ", ".join(f'CAST(NULL AS {sql_type(c.dtype)}) AS "{c.name}"'
                     for c in schema.table(table).columns)
    return f"SELECT {cols} WHERE 1 = 0"


def _typed_select(table: str, source: str, present: Sequence[str]) -> str:
    """SELECT the schema's columns of ``table`` from ``source``, cast to the schema's types;
    an optional column the source lacks reads as NULL, a required one is refused."""
    have = {c.lower() for c in present}
    t = schema.table(table)
    missing = [c.name for c in t.columns if c.required and c.name.lower() not in have]
    if missing:
        raise ValueError(f"facts table {table} lacks required column(s) {', '.join(missing)}")
    cols = ", ".join(
        f'CAST("{c.name}" AS {sql_type(c.dtype)}) AS "{c.name}"' if c.name.lower() in have
        else f'CAST(NULL AS {sql_type(c.dtype)}) AS "{c.name}"' for c in t.columns)
    return f"SELECT {cols} FROM {source}"


@contextmanager
def _timed(seconds: dict[str, float], name: str) -> Iterator[None]:
    t0 = time.perf_counter()
    try:
        yield
    finally:
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# Engines
# ---------------------------------------------------------------------------------------------
class _Engine:
    """What the roll-up needs of an engine: fact views, scalars, named results, writes."""

    def load(self, facts: Path | str) -> None:
        raise NotImplementedError

    def scalar(self, sql: str, params: Mapping[str, Any]) -> Any:
        raise NotImplementedError

    def materialize(self, name: str, sql: str, params: Mapping[str, Any], *,
                    cache: bool) -> None:
        raise NotImplementedError

    def write(self, sql: str, path: str) -> int:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def _parquet_source(facts: Path, table: str) -> Path | None:
    """``<facts>/<table>.parquet`` (a file or a folder) or ``<facts>/<table>/``, else None."""
    for p in (facts / f"{table}.parquet", facts / table):
        if p.exists():
            return p
    return None


class _DuckEngine(_Engine):
    """An in-memory DuckDB with a view per fact table over its Parquet."""

    def __init__(self) -> None:
        import duckdb

        self.con = duckdb.connect()
        self.con.execute("SET enable_progress_bar = false")

    def load(self, facts: Path | str) -> None:
        if str(facts).startswith("hive:"):
            raise ValueError("hive: facts need --engine spark; DuckDB reads Parquet folders")
        root = Path(facts)
        if not root.is_dir():
            raise FileNotFoundError(f"no facts folder {root}")
        for table in FACTS:
            p = _parquet_source(root, table)
            if p is None:
                if table == "accounts":
                    raise ValueError(f"no accounts.parquet (or accounts/) in {root}")
                select = _empty_select(table)
            else:
                glob = str(p / "**" / "*.parquet") if p.is_dir() else str(p)
                src = "read_parquet('{}')".format(glob.replace("'", "''"))
                present = [r[0] for r in self.con.execute(f"DESCRIBE SELECT * FROM {src}")
                           .fetchall()]
                select = _typed_select(table, src, present)
            self.con.execute(f'CREATE VIEW "{table}" AS {select}')

    def scalar(self, sql: str, params: Mapping[str, Any]) -> Any:
        row = self.con.execute(sql, _used(sql, params)).fetchone()
        return None if row is None else row[0]

    def materialize(self, name: str, sql: str, params: Mapping[str, Any], *,
                    cache: bool) -> None:
        self.con.execute(f"CREATE TEMP TABLE {name} AS {sql}", _used(sql, params))

    def write(self, sql: str, path: str) -> int:
        desc = self.con.execute(f"DESCRIBE {sql}").fetchall()
        # HUGEINT (DuckDB's sum of integers) would land as DOUBLE; Spark's is BIGINT
        cols = ", ".join(f'CAST("{n}" AS BIGINT) AS "{n}"' if t == "HUGEINT" else f'"{n}"'
                         for n, t, *_ in desc)
        target = Path(path)
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        quoted = str(target).replace("'", "''")
        row = self.con.execute(
            f"COPY (SELECT {cols} FROM ({sql}) q) TO '{quoted}' "
            f"(FORMAT PARQUET, PARTITION_BY ({PARTITION}))").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self.con.close()


class _SparkEngine(_Engine):
    """A SparkSession: temp views over the facts, the translated SQL through ``spark.sql``."""

    def __init__(self, spark: Any, facts: Path | str) -> None:
        self.own = spark is None
        self.spark = spark if spark is not None else _spark_session(
            hive=str(facts).startswith("hive:"))
        self.cached: list[Any] = []
        self.views: list[str] = []

    def _sql(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.spark.sql(to_spark_sql(sql, params or {}))

    def load(self, facts: Path | str) -> None:
        s = str(facts)
        for table in FACTS:
            df = self._read(s, table)
            if df is None:
                if table == "accounts":
                    raise ValueError(f"no accounts table in {s}")
                typed = self._sql(_empty_select(table))
            else:
                raw = f"_raw_{table}"
                df.createOrReplaceTempView(raw)
                self.views.append(raw)
                typed = self._sql(_typed_select(table, raw, df.columns))
            typed.createOrReplaceTempView(table)
            self.views.append(table)

    def _read(self, facts: str, table: str) -> Any:
        spark = self.spark
        if facts.startswith("hive:"):
            db = facts.split(":", 1)[1]
            name = f"{db}.{table}"
            return spark.table(name) if spark.catalog.tableExists(name) else None
        if "://" not in facts:
            root = Path(facts)
            if not root.is_dir():
                raise FileNotFoundError(f"no facts folder {root}")
            p = _parquet_source(root, table)
            return None if p is None else spark.read.parquet(str(p.resolve()))
        from pyspark.errors import AnalysisException

        for p in (f"{facts.rstrip('/')}/{table}.parquet", f"{facts.rstrip('/')}/{table}"):
            try:
                return spark.read.parquet(p)
            except AnalysisException:
                continue
        return None

    def scalar(self, sql: str, params: Mapping[str, Any]) -> Any:
        row = self._sql(sql, params).collect()
        return row[0][0] if row else None

    def materialize(self, name: str, sql: str, params: Mapping[str, Any], *,
                    cache: bool) -> None:
        df = self._sql(sql, params)
        if cache:
            df = df.persist()
            self.cached.append(df)
        df.createOrReplaceTempView(name)
        self.views.append(name)

    def write(self, sql: str, path: str) -> int:
        target = path if "://" in path else str(Path(path).resolve())
        self._sql(sql).write.mode("overwrite").partitionBy(PARTITION).parquet(target)
        return int(self.spark.read.parquet(target).count())  # from the Parquet footers

    def close(self) -> None:
        for df in self.cached:
            df.unpersist()
        for v in self.views:
            self.spark.catalog.dropTempView(v)
        if self.own:
            self.spark.stop()


# Standard Spark environment variables -> settings (a spark-defaults.conf under SPARK_CONF_DIR
# or SPARK_HOME/conf is read by Spark itself).
_SPARK_ENV = {
    "SPARK_DRIVER_MEMORY": "spark.driver.memory",
    "SPARK_EXECUTOR_MEMORY": "spark.executor.memory",
    "SPARK_EXECUTOR_CORES": "spark.executor.cores",
}


def _spark_session(*, hive: bool = False) -> Any:
    """A SparkSession: master ``SPARK_MASTER`` (else the one spark-submit set, else
    ``local[*]``), memory from ``SPARK_DRIVER_MEMORY`` / ``SPARK_EXECUTOR_MEMORY``."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SparkUnavailableError(_INSTALL_HINT) from exc
    builder: Any = SparkSession.builder.appName(os.environ.get("SPARK_APP_NAME",
                                                               "valuation-rollup"))
    if os.environ.get("SPARK_MASTER"):
        builder = builder.master(os.environ["SPARK_MASTER"])
    elif "PYSPARK_GATEWAY_PORT" not in os.environ:  # not under spark-submit: this machine
        # a few shuffle partitions per core, not Spark's cluster-sized default of 200
        builder = builder.master("local[*]").config(
            "spark.sql.shuffle.partitions", str(4 * (os.cpu_count() or 1)))
    for env, key in _SPARK_ENV.items():
        if os.environ.get(env):
            builder = builder.config(key, os.environ[env])
    if hive:
        builder = builder.enableHiveSupport()
    try:
        return builder.getOrCreate()
    except Exception as exc:  # the JVM did not start: no or the wrong Java
        raise SparkUnavailableError(f"Spark did not start ({exc}). {_INSTALL_HINT}") from exc


if __name__ == "__main__":
    raise SystemExit(main())
