"""The ``valuation`` command: demo data, import, export, users, benchmarks, the app."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from valuation.store import Store, default_db_path

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="valuation",
        description="Government & enterprise account valuation for telecom account teams.",
    )
    sub = p.add_subparsers(title="commands")

    def cmd(name: str, func: Callable[[argparse.Namespace], int], help_: str) -> Any:
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.set_defaults(func=func)
        return sp

    def db(sp: Any) -> None:
        sp.add_argument(
            "--db", type=Path, default=None,
            help="DuckDB file (default: $VALUATION_DB or data/portfolio.duckdb)",
        )

    sp = cmd("demo", _demo, "Create (or replace the facts of) a seeded demo portfolio.")
    db(sp)
    sp.add_argument("--accounts", type=int, default=5000, help="number of accounts (default 5000)")
    sp.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    sp.add_argument("--as-of", type=date.fromisoformat, default=None,
                    help="as-of date (default: the last day of the previous month)")
    sp.add_argument("--line-accounts", type=int, default=None,
                    help="accounts that get member lines with daily usage (default min(N, 5000))")

    sp = cmd("import", _import, "Validate and import fact files (CSV, XLSX, Parquet) all or nothing.")
    db(sp)
    sp.add_argument("paths", nargs="+", type=Path, help="files or directories")
    sp.add_argument("--mapping", type=Path, default=None, help="TOML file mapping names")
    sp.add_argument("--dry-run", action="store_true", help="validate only; write nothing")
    sp.add_argument("--lang", choices=["en", "zh"], default="en", help="report language")

    sp = cmd("export", _export, "Export every fact table, one file per table.")
    db(sp)
    sp.add_argument("--out", type=Path, required=True, help="output directory")
    sp.add_argument("--format", choices=["csv", "xlsx", "parquet"], default="csv")

    sp = cmd("info", _info, "Row counts, data version and as-of date of a database.")
    db(sp)

    sp = cmd("passwd", _passwd, "Set a user's password (read from the terminal or stdin).")
    db(sp)
    sp.add_argument("user_id")
    sp.add_argument("--by", default="admin", help="who is setting it (audit log)")

    sp = cmd("bench", _bench, "Time each stage on a generated portfolio; JSON out.")
    sp.add_argument("--accounts", type=int, default=100_000)
    sp.add_argument("--line-accounts", type=int, default=None)
    sp.add_argument("--seed", type=int, default=7)
    sp.add_argument("--json", action="store_true", help="print JSON only")

    sp = cmd("app", _app, "Start the Streamlit app (creates the demo database on first run).")
    db(sp)
    sp.add_argument("--port", type=int, default=8501)
    return p


def _store(args: argparse.Namespace) -> Store:
    return Store(args.db if args.db is not None else default_db_path())


def _demo(args: argparse.Namespace) -> int:
    from valuation.demo import write_demo

    t0 = time.perf_counter()
    with _store(args) as s:
        counts = write_demo(s, accounts=args.accounts, seed=args.seed, as_of=args.as_of,
                            line_accounts=args.line_accounts)
        print(f"demo portfolio written to {s.path} in {time.perf_counter() - t0:.1f} s "
              f"(data version {s.data_version})")
    for t, n in counts.items():
        print(f"  {t:<16} {n:>12,}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from valuation.ingest import import_files

    with _store(args) as s:
        report = import_files(s, args.paths, mapping_path=args.mapping, dry_run=args.dry_run,
                              user=os.environ.get("USER", "cli"))
    print(report.to_text(args.lang))
    return 0 if report.ok else 1


def _export(args: argparse.Namespace) -> int:
    from valuation.ingest import export_tables

    with _store(args) as s:
        paths = export_tables(s, args.out, fmt=args.format)
    for p in paths:
        print(p)
    return 0


def _info(args: argparse.Namespace) -> int:
    from valuation.features import data_as_of

    with _store(args) as s:
        out = {
            "db": str(s.path),
            "data_version": s.data_version,
            "as_of": str(data_as_of(s)),
            "rows": s.row_counts(),
        }
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


def _passwd(args: argparse.Namespace) -> int:
    from valuation.access import set_password

    if sys.stdin.isatty():
        pw = getpass.getpass(f"new password for {args.user_id}: ")
        if getpass.getpass("again: ") != pw:
            raise ValueError("the two passwords differ")
    else:
        pw = sys.stdin.readline().rstrip("\n")
    with _store(args) as s:
        set_password(s, args.user_id, pw, by=args.by)
    print(f"password set for {args.user_id}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from valuation import bench

    result = bench.run(accounts=args.accounts, line_accounts=args.line_accounts, seed=args.seed)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result["stages_s"].items():
            print(f"{k:<12} {v:8.2f} s")
        print(f"peak memory {result['peak_rss_mb']:,.0f} MB")
    return 0


def _app(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    if args.db is not None:
        env["VALUATION_DB"] = str(args.db.resolve())
    app = Path(__file__).resolve().parent.parent / "app.py"
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(args.port),
           "--browser.gatherUsageStats", "false"]
    return subprocess.call(cmd, env=env, cwd=app.parent)

