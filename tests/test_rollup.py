"""The roll-ups beyond one machine: every SQL file translates to Spark SQL; the DuckDB engine
over exported Parquet equals the app's own path; Spark (local[2]) equals DuckDB row for row."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as pads
import pytest
import sqlglot

from valuation import demo, features, ingest, rollup
from valuation import warnings as warn
from valuation.config import load_settings
from valuation.store import Store

SQL_DIR = Path(rollup.__file__).parent / "sql"
SQL_FILES = sorted(SQL_DIR.glob("*.sql"))  # the roll-ups (migrations are DuckDB store DDL)
AS_OF = date(2026, 10, 31)
SETTINGS = load_settings()
ORDERED_AGGREGATES = ("GROUP_CONCAT", "STRING_AGG", "LISTAGG")


# ---------------------------------------------------------------------------------------------
# Translation (every run, no Spark)
# ---------------------------------------------------------------------------------------------
def _as_run(path: Path) -> str:
    """A SQL file as the app runs it (line_rollup.sql embeds line_warnings.sql)."""
    sql = path.read_text(encoding="utf-8")
    return sql.replace("/*LINE_WARNINGS*/", features.load_sql("line_warnings"))


def _rollup_sql() -> dict[str, str]:
    """Every statement the roll-up sends to an engine besides the SQL files."""
    out = {f"stage:{k}": v for k, v in rollup.stage_sql().items()}
    out |= {f"output:{k}": rollup.output_sql(k) for k in rollup.OUTPUTS}
    out |= {f"scalar:{i}": s for i, s in enumerate(rollup.as_of_sql())}
    out["typed:accounts"] = rollup._typed_select("accounts", "_raw_accounts",
                                                 ["account_id", "name", "city", "onboard_date"])
    out["empty:line_daily"] = rollup._empty_select("line_daily")
    return out


def _assert_portable(spark_sql: str) -> None:
    upper = spark_sql.upper()
    for fn in ORDERED_AGGREGATES:
        assert fn not in upper, f"{fn} does not run on Spark 3.5: {spark_sql[:200]}"


@pytest.mark.parametrize("dialect", rollup.SPARK_DIALECTS)
@pytest.mark.parametrize("path", SQL_FILES, ids=lambda p: p.name)
def test_sql_file_translates_to_spark(path, dialect):
    out = sqlglot.transpile(_as_run(path), read="duckdb", write=dialect,
                            unsupported_level=sqlglot.ErrorLevel.RAISE)
    assert len(out) == 1
    _assert_portable(out[0])


@pytest.mark.parametrize("dialect", rollup.SPARK_DIALECTS)
@pytest.mark.parametrize("name", list(_rollup_sql()))
def test_rollup_sql_translates_to_spark(name, dialect):
    out = sqlglot.transpile(_rollup_sql()[name], read="duckdb", write=dialect,
                            unsupported_level=sqlglot.ErrorLevel.RAISE)
    assert len(out) == 1
    _assert_portable(out[0])


def test_sql_files_are_covered():
    assert {p.stem for p in SQL_FILES} == {"account_frame", "line_rollup", "line_warnings",
                                           "warn_account_rules"}, "a new SQL file: test it here"


def test_parameters_become_typed_literals():
    params = rollup._params(AS_OF, date(2026, 10, 1), SETTINGS)
    for name, sql in rollup.stage_sql().items():
        out = rollup.to_spark_sql(sql, params[name])
        tree = sqlglot.parse_one(out, read="spark")
        assert not list(tree.find_all(sqlglot.exp.Placeholder, sqlglot.exp.Parameter)), name
        if name != "line_rollup":  # reads the materialised line warnings: no parameters
            assert "CAST('2026-10-31' AS DATE)" in out, name
    line = rollup.to_spark_sql("SELECT 1 WHERE x > $w1 AND n = $w2_days",
                               {"w1": 0.3, "w2_days": 7})
    assert "CAST(0.3 AS DOUBLE)" in line and "= 7" in line
    assert rollup.bind("SELECT $d", {"d": AS_OF}) == "SELECT CAST('2026-10-31' AS DATE)"
    with pytest.raises(KeyError, match="as_of"):
        rollup.bind("SELECT $as_of", {})


def test_competitor_products_are_sorted_and_joined_as_before():
    """warn_account_rules.sql's portable list equals the ordered string_agg it replaced."""
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES ('A', 'P3'), ('A', 'P1'), ('A', 'P2'), "
                "('B', 'Z'), ('B', 'C-9')) v(account_id, product_id)")
    new = con.execute("SELECT account_id, array_to_string(array_sort(array_agg(product_id)), ';') "
                      "FROM t GROUP BY 1 ORDER BY 1").fetchall()
    old = con.execute("SELECT account_id, string_agg(product_id, ';' ORDER BY product_id) "
                      "FROM t GROUP BY 1 ORDER BY 1").fetchall()
    assert new == old == [("A", "P1;P2;P3"), ("B", "C-9;Z")]


# ---------------------------------------------------------------------------------------------
# A generated portfolio, exported as Parquet
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def portfolio(tmp_path_factory):
    root = tmp_path_factory.mktemp("rollup")
    store = Store(root / "demo.duckdb")
    store.replace_facts(demo.generate(accounts=400, seed=3, as_of=AS_OF, line_accounts=60),
                        source="demo")
    facts = root / "facts"
    ingest.export_tables(store, facts, fmt="parquet")
    return store, facts, root


@pytest.fixture(scope="module")
def duck(portfolio):
    _, facts, root = portfolio
    res = rollup.rollup(facts, root / "out_duckdb", engine="duckdb")
    return res


def _read(path: str | Path) -> pd.DataFrame:
    df = pads.dataset(str(path), format="parquet", partitioning="hive").to_table().to_pandas()
    df["city"] = df["city"].astype(str)
    return df


def _norm(s: pd.Series) -> pd.Series:
    """A column as plain values: floats, dates as Timestamps, the rest as Python objects."""
    if pd.api.types.is_bool_dtype(s):
        return s.astype(object).where(s.notna(), None)
    if pd.api.types.is_numeric_dtype(s):
        return s.astype("float64")
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.astype("datetime64[ns]")
    non_null = s.dropna()
    if len(non_null) and isinstance(non_null.iloc[0], date):
        return pd.to_datetime(s)
    return s.astype(object).where(s.notna(), None)


def assert_same_rows(a: pd.DataFrame, b: pd.DataFrame, key: list[str],
                     columns: list[str] | None = None) -> None:
    """Row for row on ``columns`` (default: both's): sorted by key, floats within 1e-9,
    dates and NULLs equal."""
    cols = columns or sorted(set(a.columns) & set(b.columns))
    assert len(a) == len(b)
    a = a.sort_values(key, ignore_index=True)
    b = b.sort_values(key, ignore_index=True)
    for c in cols:
        x, y = _norm(a[c]), _norm(b[c])
        assert (x.isna() == y.isna()).all(), f"{c}: NULLs differ"
        m = x.notna().to_numpy()
        if x.dtype == "float64" and y.dtype == "float64":
            ok = np.isclose(x[m], y[m], rtol=1e-9, atol=1e-9)
            assert ok.all(), f"{c}: {x[m][~ok].head().tolist()} vs {y[m][~ok].head().tolist()}"
        else:
            bad = (x[m].to_numpy() != y[m].to_numpy())
            assert not bad.any(), f"{c}: {x[m][bad].head().tolist()} vs {y[m][bad].head().tolist()}"


# ---------------------------------------------------------------------------------------------
# DuckDB engine = the app's own path
# ---------------------------------------------------------------------------------------------
def test_duckdb_account_frame_equals_the_app(portfolio, duck):
    store, _, _ = portfolio
    app = features.account_frame(store)
    got = _read(duck["paths"]["account_frame"])
    assert duck["as_of"] == AS_OF.isoformat() == app.attrs["as_of"]
    assert duck["as_of_source"] == "data"
    assert set(app.columns) <= set(got.columns)
    assert duck["rows"]["account_frame"] == len(app) == 400
    assert_same_rows(got, app, ["account_id"], list(app.columns))


def test_duckdb_line_warnings_equal_the_app(portfolio, duck):
    store, _, _ = portfolio
    app = warn.line_warnings(store, settings=SETTINGS)
    got = _read(duck["paths"]["line_warnings"])
    assert len(app) > 100 and got[["w1", "w2", "w5", "w6"]].any().any()
    assert_same_rows(got, app, ["line_id"], [c for c in app.columns if c != "days_since_call"])


def test_duckdb_line_rollup_equals_the_app(portfolio, duck):
    store, _, _ = portfolio
    params = warn._line_params(AS_OF, SETTINGS)
    sql = features.load_sql("line_rollup").replace("/*LINE_WARNINGS*/",
                                                   features.load_sql("line_warnings"))
    app = warn._sql_frame(store, sql, params)
    got = _read(duck["paths"]["line_rollup"])
    assert_same_rows(got, app, ["account_id"], list(app.columns))


def test_duckdb_account_rules_equal_the_app(portfolio, duck):
    store, _, _ = portfolio
    app = warn._account_rule_rows(store, AS_OF, SETTINGS)
    got = _read(duck["paths"]["account_rules"])
    assert set(zip(got["account_id"], got["rule"], strict=True)) == set(
        zip(app["account_id"], app["rule"], strict=True))
    assert {"W4", "competitor_new"} <= set(got["rule"])
    comp = got[got["rule"] == "competitor_new"].set_index("account_id")["txt"]
    detail = app[app["rule"] == "competitor_new"].set_index("account_id")["detail"].map(
        lambda d: json.loads(d)["products"])
    assert comp.sort_index().tolist() == detail.sort_index().tolist()


def test_results_are_partitioned_by_city(portfolio, duck):
    store, _, _ = portfolio
    cities = set(store.query("SELECT DISTINCT city FROM accounts")["city"])
    for name in rollup.OUTPUTS:
        path = Path(duck["paths"][name])
        assert {p.name for p in path.iterdir()} <= {f"city={c}" for c in cities}
        assert duck["rows"][name] == len(_read(path)) > 0
    assert set(duck["seconds"]) == {"session", "load", "as_of", *rollup.OUTPUTS}


def test_folders_of_part_files_and_missing_tables(portfolio, duck, tmp_path):
    """``<table>/`` folders of part files read like ``<table>.parquet``; a table the export
    left out (no rows) reads as empty; an explicit as_of wins."""
    _, facts, _ = portfolio
    alt = tmp_path / "facts"
    alt.mkdir()
    for p in facts.glob("*.parquet"):
        if p.stem == "churn_events":
            continue
        (alt / p.stem).mkdir()
        shutil.copy(p, alt / p.stem / "part-00000.parquet")
    res = rollup.rollup(alt, tmp_path / "out", engine="duckdb")
    a = _read(res["paths"]["account_frame"])
    b = _read(duck["paths"]["account_frame"])
    assert not a["churned"].any() and b["churned"].any()
    assert_same_rows(a, b, ["account_id"], ["revenue_12m", "our_spend", "next_contract_end"])
    early = rollup.rollup(facts, tmp_path / "early", engine="duckdb", as_of=date(2026, 9, 30))
    assert early["as_of"] == "2026-09-30" and early["as_of_source"] == "given"


def test_bad_facts_are_refused(tmp_path, portfolio):
    with pytest.raises(ValueError, match="spark"):
        rollup.rollup("hive:gov", tmp_path / "out", engine="duckdb")
    with pytest.raises(ValueError, match="engine"):
        rollup.rollup(tmp_path, tmp_path / "out", engine="presto")
    with pytest.raises(ValueError, match="accounts"):
        rollup.rollup(tmp_path, tmp_path / "out", engine="duckdb")


def test_cli_hook_prints_summary_and_json(portfolio, tmp_path, capsys):
    _, facts, _ = portfolio
    parser = rollup.add_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["--engine", "duckdb", "--facts", str(facts),
                              "--out", str(tmp_path / "o"), "--as-of", "2026-10-31"])
    assert rollup.run(args) == 0
    out = capsys.readouterr().out
    first, rest = out.split("\n", 1)
    assert "account_frame 400" in first and "duckdb" in first
    res = json.loads(rest)
    assert res["rows"]["account_frame"] == 400 and res["as_of"] == "2026-10-31"
    assert all(isinstance(v, float) for v in res["seconds"].values())


def test_spark_missing_says_what_to_install(portfolio, tmp_path, monkeypatch, capsys):
    _, facts, _ = portfolio
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)  # as if pyspark were not installed
    with pytest.raises(rollup.SparkUnavailableError) as info:
        rollup.rollup(facts, tmp_path / "o", engine="spark")
    assert "pip install -e '.[spark]'" in str(info.value) and "Java" in str(info.value)
    args = rollup.add_arguments(argparse.ArgumentParser()).parse_args(
        ["--engine", "spark", "--facts", str(facts), "--out", str(tmp_path / "o")])
    assert rollup.run(args) == 2
    assert "pip install -e '.[spark]'" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# Spark (local[2]) = DuckDB
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        pytest.fail("pyspark is not installed: the Spark roll-up tests need it "
                    "(pip install -e '.[spark,test]'; Java 17 on PATH or JAVA_HOME)",
                    pytrace=False)
    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = (SparkSession.builder.master("local[2]").appName("valuation-tests")
               .config("spark.sql.shuffle.partitions", "4")
               .config("spark.default.parallelism", "2")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.warehouse.dir", str(warehouse))
               .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={warehouse}")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def on_spark(portfolio, spark):
    _, facts, root = portfolio
    return rollup.rollup(facts, root / "out_spark", engine="spark", spark=spark)


@pytest.mark.parametrize("name", list(rollup.OUTPUTS))
def test_spark_equals_duckdb(name, duck, on_spark):
    assert on_spark["as_of"] == duck["as_of"]
    assert on_spark["rows"] == duck["rows"]
    a = _read(on_spark["paths"][name])
    b = _read(duck["paths"][name])
    assert list(a.columns) == list(b.columns)
    ta = pads.dataset(on_spark["paths"][name], partitioning="hive").schema
    tb = pads.dataset(duck["paths"][name], partitioning="hive").schema
    assert [(f.name, f.type) for f in ta] == [(f.name, f.type) for f in tb]
    assert_same_rows(a, b, list(rollup.OUTPUTS[name]))


def test_spark_reads_hive_tables(portfolio, spark, duck, tmp_path):
    """``hive:DATABASE``: the fact tables of a metastore database (here Spark's own catalog)."""
    _, facts, _ = portfolio
    spark.sql("CREATE DATABASE IF NOT EXISTS gov_facts")
    for p in facts.glob("*.parquet"):
        spark.read.parquet(str(p)).write.mode("overwrite").saveAsTable(f"gov_facts.{p.stem}")
    res = rollup.rollup("hive:gov_facts", tmp_path / "out", engine="spark", spark=spark,
                        as_of=AS_OF)
    assert res["rows"] == duck["rows"]
    assert_same_rows(_read(res["paths"]["account_rules"]),
                     _read(duck["paths"]["account_rules"]), ["account_id", "rule"])
    assert not spark.catalog.tableExists("accounts")  # the temp views are dropped


# ---------------------------------------------------------------------------------------------
# The roll-up's results scored and served
# ---------------------------------------------------------------------------------------------
def _scores(frame: pd.DataFrame) -> pd.DataFrame:
    from valuation.analysis import analyse

    a = analyse(frame, SETTINGS).frame
    cols = ["account_id", "model", "value_score", "loyalty_score", "competitor_score", "tier",
            "strategy", "lifecycle_stage", "churned"]
    return a[cols].sort_values("account_id", ignore_index=True)


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_a_rollup_scores_and_serves_like_the_database(engine, portfolio, request, tmp_path):
    """`score --rollup` and `import --rollup` take DuckDB's or Spark's account frame: the scores,
    tiers and strategies equal those of the database's own facts, a region is one slice
    (scored on its own accounts, as a province is), and the app then serves that analysis."""
    from ui import state
    from valuation import cli, prepared
    from valuation.store import copy_database

    store, _, _ = portfolio
    res = request.getfixturevalue("duck" if engine == "duckdb" else "on_spark")
    out = res["out"]
    mine = _scores(features.account_frame(store))
    theirs = _scores(rollup.read_account_frame(out))
    assert_same_rows(theirs, mine, ["account_id"])
    city = str(store.query("SELECT city FROM accounts ORDER BY account_id LIMIT 1")["city"][0])
    one = rollup.read_account_frame(out, regions=[city])
    assert set(one["city"].astype(str)) == {city} and 0 < len(one) < len(mine)
    with pytest.raises(ValueError, match="no accounts in Atlantis"):
        rollup.read_account_frame(out, regions=["Atlantis"])

    db = copy_database(store.path, tmp_path / "province.duckdb")
    assert cli.main(["score", "--db", str(db), "--rollup", str(out), "--out",
                     str(tmp_path / "s.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "s.csv")) == int((~mine["churned"]).sum())
    assert cli.main(["import", "--db", str(db), "--rollup", str(out), "--region", city]) == 0
    with Store(db) as s:
        dv, sid = prepared.current_key(s)
        built = prepared.builds(s)[0]
        assert (built.data_version, built.source, built.accounts) == (dv, str(out), len(one))
        served = state._analysis(str(db.resolve()), dv, sid).frame
    # scores are relative to the population scored: a province is scored on its own accounts
    assert set(served["account_id"]) == set(one["account_id"])
    assert_same_rows(_scores(served), _scores(one), ["account_id"])
