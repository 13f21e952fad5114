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

from valuation.store import DatabaseError, Store, default_db_path, is_default_db

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
    except DatabaseError as exc:  # damaged, foreign, newer or read-only: no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 3
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
        sp.add_argument(
            "--app-db", default=None, metavar="URL",
            help="app database (what people write): SQLAlchemy URL, e.g. "
                 "postgresql+psycopg://user@host/db (default: $VALUATION_APP_DB, else an SQLite "
                 "file beside the DuckDB file)",
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
    sp.add_argument("paths", nargs="*", type=Path, help="files or directories")
    sp.add_argument("--mapping", type=Path, default=None, help="TOML file mapping names")
    sp.add_argument("--transform", type=Path, default=None, metavar="FILE.sql",
                    help="SQL file of CREATE VIEW <table> AS SELECT ... over the files beside it")
    sp.add_argument("--dry-run", action="store_true", help="validate only; write nothing")
    sp.add_argument("--allow-shrink", action="store_true",
                    help="replace tables even when they shrink by more than import.max_shrink "
                         "or leave work orders and plans without their account")
    sp.add_argument("--merge", action="store_true",
                    help="update and add rows by key (partial files); remove nothing")
    sp.add_argument("--lang", choices=["en", "zh"], default="en", help="report language")
    _rollup_args(sp)

    sp = cmd("export", _export, "Export every fact table, one file per table.")
    db(sp)
    sp.add_argument("--out", type=Path, required=True, help="output directory")
    sp.add_argument("--format", choices=["csv", "xlsx", "parquet"], default="csv")

    sp = cmd("score", _score, "Score, tier and position every account; one row per account.")
    db(sp)
    sp.add_argument("--as-of", type=date.fromisoformat, default=None,
                    help="score as of this date (default: the data's as-of date)")
    sp.add_argument("--out", type=Path, required=True, help="output file (.csv or .parquet)")
    sp.add_argument("--include-churned", action="store_true",
                    help="also the accounts that churned by the as-of date (flagged)")
    _rollup_args(sp)

    sp = cmd("snapshot", _snapshot, "Store scores and tiers as of a date (score history).")
    db(sp)
    sp.add_argument("--as-of", type=date.fromisoformat, default=None)
    sp.add_argument("--backfill", type=int, default=0, metavar="MONTHS",
                    help="instead: month-end snapshots over the last MONTHS months")

    sp = cmd("evaluate", _evaluate,
             "How well each dimension, scored under the settings in force, separated accounts "
             "that churned within the horizon (AUC).")
    db(sp)
    sp.add_argument("--horizon", type=int, default=12, help="months of follow-up (default 12)")
    sp.add_argument("--json", action="store_true", help="print JSON")

    sp = cmd("calibrate", _calibrate,
             "Fit the loyalty and competitor weights of every scoring model to churn history.")
    db(sp)
    sp.add_argument("--horizon", type=int, default=None,
                    help="months of follow-up (default: calibration.horizon_months)")
    sp.add_argument("--save", action="store_true",
                    help="save the calibrated weights as a new active settings version")
    sp.add_argument("--json", action="store_true", help="print JSON")

    sp = cmd("warnings", _warnings,
             "Evaluate the early-warning rules; write one row per account and rule tripped.")
    db(sp)
    sp.add_argument("--as-of", type=date.fromisoformat, default=None)
    sp.add_argument("--out", type=Path, default=None, help="output file (.csv or .parquet)")
    sp.add_argument("--dispatch", action="store_true",
                    help="also turn the warnings into (deduplicated) work orders")

    sp = cmd("recommend", _recommend,
             "Cross-sell suggestions per account, or (evaluate) their hit rate against popularity.")
    db(sp)
    sp.add_argument("action", choices=["list", "evaluate"])
    sp.add_argument("--k", type=int, default=5, help="suggestions per account (list)")
    sp.add_argument("--out", type=Path, default=None, help="output file for list")
    sp.add_argument("--seed", type=int, default=0, help="which product is hidden (evaluate)")
    sp.add_argument("--save", action="store_true",
                    help="evaluate: save the chosen ranking as a new active settings version")
    sp.add_argument("--json", action="store_true")

    sp = cmd("churn", _churn, "Train or evaluate the churn model (time split, vs rules).")
    db(sp)
    sp.add_argument("action", choices=["train", "evaluate"])
    sp.add_argument("--horizon", type=int, default=None, help="months (default: churn.horizon_months)")
    sp.add_argument("--json", action="store_true")

    sp = cmd("rollup", _rollup, "Run the account and warning roll-ups on DuckDB or Apache Spark "
             "over exported facts; per-account results as Parquet partitioned by city.")
    from valuation.rollup import add_arguments

    add_arguments(sp)

    sp = cmd("settings", _settings, "Show, validate or save scoring settings (TOML).")
    db(sp)
    sp.add_argument("--check", type=Path, default=None, help="validate a TOML file")
    sp.add_argument("--save", type=Path, default=None, help="validate and save as the active version")
    sp.add_argument("--show", action="store_true", help="print the active settings")

    sp = cmd("info", _info, "Row counts, data version and as-of date of a database.")
    db(sp)

    sp = cmd("jobs", _jobs, "Run scheduled jobs (analysis, dispatch, snapshot, retrain), each "
             "once per data and settings version; or show their last runs.")
    db(sp)
    sp.add_argument("names", nargs="*", metavar="JOB",
                    help="analysis, dispatch, snapshot, retrain (default: all)")
    sp.add_argument("--force", action="store_true", help="run even if done for these versions")
    sp.add_argument("--status", action="store_true", help="show each job's last run")
    sp.add_argument("--json", action="store_true", help="print JSON only")

    sp = cmd("digest", _digest, "E-mail the weekly digest: each account manager the new, "
             "escalated and overdue work orders and the tier drops of their accounts, each "
             "sales lead the team's summary; once per data version and week.")
    db(sp)
    sp.add_argument("--dry-run", action="store_true",
                    help="print what would be sent (recipient, subject, body); send nothing")
    sp.add_argument("--to", metavar="USER_ID", default=None, help="only this user's digest")
    sp.add_argument("--lang", choices=["zh", "en"], default=None,
                    help="language of the mails (default: the setting digest.default_lang)")
    sp.add_argument("--force", action="store_true",
                    help="send again to those already sent this data version's digest this week")

    sp = cmd("report", _report, "The executive pack (value pyramid, tier migration, revenue "
             "concentration, KPIs by city and industry, value at risk by team, top movers, the "
             "accounts the churn model flags before any rule) as PDF or XLSX.")
    db(sp)
    sp.add_argument("--format", choices=["pdf", "xlsx"], default=None,
                    help="file format (default: from --out's suffix, else pdf)")
    sp.add_argument("--lang", choices=["zh", "en"], default="zh", help="language (default zh)")
    sp.add_argument("--out", type=Path, required=True, help="file to write")
    sp.add_argument("--scope", metavar="USER_ID", default=None,
                    help="only the accounts this user sees in the app (default: all)")

    sp = cmd("migrate", _migrate, "Upgrade a database to this version, keeping every row people "
             "wrote (safe while the app serves).")
    db(sp)

    sp = cmd("backup", _backup, "Back up a database (facts and everything people wrote) into one "
             "zip file, consistently, while the app runs.")
    db(sp)
    sp.add_argument("--out", type=Path, required=True, help="backup file to write (.zip)")

    sp = cmd("restore", _restore, "Replace a database by a backup (checked first; all or nothing; "
             "the running app picks it up).")
    db(sp)
    sp.add_argument("file", type=Path, help="backup file written by valuation backup")

    sp = cmd("passwd", _passwd, "Set a user's password (read from the terminal or stdin).")
    db(sp)
    sp.add_argument("user_id")
    sp.add_argument("--by", default="admin", help="who is setting it (audit log)")

    sp = cmd("bench", _bench, "Time each stage on a generated portfolio; JSON out.")
    sp.add_argument("--accounts", type=int, default=100_000)
    sp.add_argument("--line-accounts", type=int, default=None)
    sp.add_argument("--seed", type=int, default=7)
    sp.add_argument("--churn-train-accounts", type=int, default=100_000,
                    help="accounts to train the churn model on (default 100,000)")
    sp.add_argument("--json", action="store_true", help="print JSON only")
    sp.add_argument("--app", action="store_true",
                    help="time the app in headless Chromium instead: sign-in, Portfolio, a filter "
                         "change, Account, Retention, Pyramid, for an account manager and an "
                         "admin, with --sessions concurrent sessions; the server's peak memory")
    sp.add_argument("--sessions", type=int, default=2, help="concurrent sessions (--app)")
    sp.add_argument("--db", type=Path, default=None,
                    help="(--app) serve this database instead of generating one")

    sp = cmd("app", _app, "Start the Streamlit app (on first run at the default path, creates "
             "the demo database).")
    db(sp)
    sp.add_argument("--port", type=int, default=8501)
    sp.add_argument("--address", default=None,
                    help="interface to listen on (default 127.0.0.1, this machine only; "
                         "0.0.0.0 for every interface, e.g. behind a reverse proxy)")
    sp.add_argument("--demo", action="store_true",
                    help="create the demo portfolio at --db when it has no data (only the "
                         "default path gets it without asking)")
    return p


def _rollup_args(sp: Any) -> None:
    sp.add_argument("--rollup", type=Path, default=None, metavar="DIR",
                    help="take the account frame from a `valuation rollup` result (DuckDB or "
                         "Spark) instead of computing it from this database's facts")
    sp.add_argument("--region", action="append", default=None, metavar="CITY",
                    help="with --rollup: only these regions (repeatable; default all)")


def _rollup_frame(args: argparse.Namespace, s: Store) -> Any:
    """The roll-up's account frame, limited to the accounts of this database when it has any
    (a province's file serving its slice of the national roll-up)."""
    from valuation.rollup import read_account_frame

    frame = read_account_frame(args.rollup, regions=args.region)
    if s.has_facts:
        known = s.query("SELECT account_id FROM accounts")["account_id"].astype(str)
        extra = ~frame["account_id"].astype(str).isin(known)
        if extra.all():
            raise ValueError(f"{args.rollup}: none of its {len(frame):,} accounts is in {s.path}"
                             " (another province? use --region)")
        if extra.any():
            attrs = dict(frame.attrs)
            frame = frame[~extra.to_numpy()].reset_index(drop=True)
            frame.attrs = attrs
    return frame


def _store(args: argparse.Namespace) -> Store:
    return Store(args.db if args.db is not None else default_db_path(),
                 app_db=getattr(args, "app_db", None) or os.environ.get("VALUATION_APP_DB"))


def _build_analysis(s: Store) -> None:
    """The writer builds the analysed portfolio of the new versions, so the app's next reader
    loads it instead of waiting for it (stderr: the JSON of stdout stays clean)."""
    from valuation import prepared

    if not s.has_facts:
        return
    t0 = time.perf_counter()
    b = prepared.build(s)
    print(f"analysis of data version {b.data_version}, settings version {b.settings_id} "
          f"ready ({b.accounts:,} accounts, {time.perf_counter() - t0:.1f} s)", file=sys.stderr)


def _jobs(args: argparse.Namespace) -> int:
    from valuation import jobs

    with _store(args) as s:
        if args.status:
            runs = jobs.last_runs(s)
            if args.json:
                print(runs.to_json(orient="records", force_ascii=False))
            else:
                for r in runs.itertuples():
                    print(f"{r.job:<10} {r.at}  {r.versions}  {r.result}")
            return 0
        out = jobs.run(s, args.names or list(jobs.JOBS), force=args.force)
    if args.json:
        print(json.dumps(out, indent=2, default=str, ensure_ascii=False))
    else:
        for r in out:
            what = json.dumps(r["result"], default=str, ensure_ascii=False) if r["ran"] else \
                r["skipped"]
            print(f"{r['job']:<10} {'done' if r['ran'] else 'skipped'}: {what}")
    return 0


def _digest(args: argparse.Namespace) -> int:
    from valuation import digest

    with _store(args) as s:
        out = digest.run(s, dry_run=args.dry_run, to=args.to, lang=args.lang, force=args.force)
    for o in out["outcomes"]:
        who = f"{o['name']} ({o['user_id']})" + (f" <{o['email']}>" if o["email"] else "")
        if args.dry_run and o["status"] == "would send":
            d = o["digest"]
            print(f"=== to: {who}\nsubject: {d.subject}\n\n{d.text}")
    for o in out["outcomes"]:
        who = f"{o['name']} ({o['user_id']})" + (f" <{o['email']}>" if o["email"] else "")
        c = o["counts"]
        what = "" if not c else (
            f"new {c['new']}, escalated {c['escalated']}, overdue {c['overdue']}, "
            + ("no earlier snapshot" if c["tier_drop"] is None else f"tier drops {c['tier_drop']}"))
        detail = "; ".join(x for x in (what, o["detail"]) if x)
        print(f"{o['status']:<10} {who}: {detail}")
    n = {k: sum(o["status"] == k for o in out["outcomes"])
         for k in ("sent", "would send", "skipped", "failed")}
    print(f"digest of {out['as_of']} (week {out['week']}): "
          + (f"{n['would send']} would be sent, nothing sent (dry run)" if args.dry_run
             else f"{n['sent']} sent") + f", {n['skipped']} skipped, {n['failed']} failed",
          file=sys.stderr)
    return 1 if n["failed"] else 0


def _report(args: argparse.Namespace) -> int:
    from valuation import report

    fmt = args.format or ("xlsx" if args.out.suffix.lower() == ".xlsx" else "pdf")
    with _store(args) as s:
        pack = report.pack_for(s, user_id=args.scope, lang=args.lang)
        data = report.pack_pdf(pack) if fmt == "pdf" else report.pack_xlsx(pack)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    m = pack.meta
    print(f"executive pack ({fmt}, {args.lang}) of {m['scope']}, data as of {m['as_of']}, "
          f"settings version {m['settings_id'] or 'defaults'}: {args.out} "
          f"({len(data):,} bytes)")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from valuation.store import SCHEMA_VERSION

    path = args.db if args.db is not None else default_db_path()
    if not Path(path).exists():
        raise FileNotFoundError(f"no database at {path}")
    with _store(args) as s:
        moved = s.migrated_rows
        print(f"{s.path}: schema version {SCHEMA_VERSION}; app database {s.app.display_url}")
        if moved:
            print("moved to the app database: " + ", ".join(
                f"{n:,} {t.replace('_', ' ')}" for t, n in moved.items()))
        else:
            print("nothing to move")
    return 0


def _stages(what: str) -> Any:
    """A progress printer for long work: each stage on stderr with the seconds since the start
    (``[  12.3 s] demo: holdings and contracts``), so a terminal never sits silent."""
    t0 = time.perf_counter()

    def say(stage: str) -> None:
        print(f"[{time.perf_counter() - t0:7.1f} s] {what}: {stage}", file=sys.stderr, flush=True)

    return say


def _demo(args: argparse.Namespace) -> int:
    from valuation.setup import create_demo

    t0 = time.perf_counter()
    say = _stages("demo")
    with _store(args) as s:
        counts = create_demo(s, accounts=args.accounts, seed=args.seed, as_of=args.as_of,
                             line_accounts=args.line_accounts, progress=say)
        say("the analysis the app reads")
        _build_analysis(s)
        print(f"demo portfolio written to {s.path} in {time.perf_counter() - t0:.1f} s "
              f"(data version {s.data_version})")
        _demo_notice(s)
    for t, n in counts.items():
        print(f"  {t:<16} {n:>12,}")
    return 0


def _demo_notice(s: Store) -> None:
    """Say which sign-ins still use the demo's published passwords, and what to do."""
    from valuation.demo import DEMO_SIGN_INS, PASSWD_HINT, demo_sign_ins_left

    left = demo_sign_ins_left(s)
    kept = [u for u, _pw, _r in DEMO_SIGN_INS if u not in left]
    if left:
        print(f"demo sign-ins (published passwords, demo only): {', '.join(left)}; "
              f"{PASSWD_HINT}", flush=True)
    if kept:
        print(f"kept the passwords someone set for: {', '.join(kept)}", flush=True)


def _import(args: argparse.Namespace) -> int:
    from valuation.ingest import import_files

    if args.rollup is not None:
        return _import_rollup(args)
    if not args.paths and args.transform is None:
        raise ValueError("give files or folders to import, or --transform FILE.sql")
    if args.transform is not None and not args.transform.is_file():
        raise FileNotFoundError(f"no transform file {args.transform}")
    from valuation.settings_store import active_settings

    with _store(args) as s:
        report = import_files(s, args.paths, mapping_path=args.mapping, dry_run=args.dry_run,
                              transform=args.transform, user=os.environ.get("USER", "cli"),
                              max_shrink=float(active_settings(s).get("import.max_shrink")),
                              allow_shrink=args.allow_shrink, merge=args.merge)
        if report.ok and not args.dry_run:
            _build_analysis(s)
    print(report.to_text(args.lang))
    return 0 if report.ok else 1


def _import_rollup(args: argparse.Namespace) -> int:
    """The app serves a roll-up: its account frame becomes the analysed portfolio of this
    database's data version (scores, tiers, strategies; the pages read it)."""
    from valuation import prepared

    if args.paths or args.transform is not None:
        raise ValueError("--rollup imports a roll-up result only: give no other files")
    with _store(args) as s:
        if not s.has_facts:
            raise ValueError(f"{s.path} has no facts: import the province's facts first (the "
                             "pages need its accounts, users and products)")
        frame = _rollup_frame(args, s)
        if args.dry_run:
            print(f"{args.rollup}: {len(frame):,} accounts as of {frame.attrs['as_of']} "
                  "(dry run: nothing written)")
            return 0
        b = prepared.build(s, frame=frame, source=str(args.rollup))
    print(f"{args.rollup}: {b.accounts:,} accounts as of {frame.attrs['as_of']} analysed for "
          f"data version {b.data_version}, settings version {b.settings_id}: the app serves them")
    return 0


def _export(args: argparse.Namespace) -> int:
    from valuation.ingest import export_tables

    with _store(args) as s:
        paths = export_tables(s, args.out, fmt=args.format)
    for p in paths:
        print(p)
    return 0


def _score(args: argparse.Namespace) -> int:
    from valuation import features
    from valuation.analysis import analyse
    from valuation.pyramid import path_to_next_tier
    from valuation.settings_store import active_settings

    cols = ["account_id", "name", "model", "value_score", "influence_score", "payment_score",
            "loyalty_score", "competitor_score", "value_grade", "loyalty_grade",
            "competitor_grade", "tier", "strategy", "approach", "lifecycle_stage", "top_up",
            "top_down", "monthly_revenue"]
    if args.include_churned:
        cols = [*cols, "churned", "churn_date"]
    with _store(args) as s:
        if args.rollup is not None:
            if args.as_of is not None:
                raise ValueError("--as-of and --rollup: the roll-up has its own as-of date")
            frame = _rollup_frame(args, s)
        else:
            frame = features.account_frame(s, as_of=args.as_of)
        a = analyse(frame, active_settings(s))
    live = ~a.frame["churned"].astype(bool)
    out = a.frame.loc[live | bool(args.include_churned), cols].copy()
    path = path_to_next_tier(a.card, a.frame["tier"], a.cutter, a.settings, rows=out.index)
    best = path.groupby("account_id").head(1).set_index("account_id")
    out["next_tier_move"] = out["account_id"].map(
        best["measure"] + " " + best["current"].round(2).astype(str) + " -> "
        + best["target"].round(2).astype(str)).fillna("")
    _write(out, args.out)
    gone = int((~live).sum())
    note = (f" (with {gone:,} churned)" if args.include_churned else
            f"; {gone:,} churned accounts left out (--include-churned keeps them)") if gone else ""
    print(f"{len(out):,} accounts scored as of {a.frame.attrs['as_of']} -> {args.out}{note}")
    return 0


def _snapshot(args: argparse.Namespace) -> int:
    from valuation import features, history
    from valuation.settings_store import active_settings

    with _store(args) as s:
        settings = active_settings(s)
        if args.backfill:
            dates = history.backfill_snapshots(s, settings, months=args.backfill, user="cli")
            print(f"{len(dates)} snapshots: {dates[0]} .. {dates[-1]}" if dates else "no data")
        else:
            as_of = args.as_of or features.data_as_of(s)
            n = history.snapshot(s, settings, as_of, user="cli")
            print(f"snapshot {as_of}: {n:,} accounts")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from valuation import history
    from valuation.settings_store import active_settings, active_settings_id

    with _store(args) as s:
        result = history.evaluate(s, active_settings(s), horizon_months=args.horizon)
        result["settings_id"] = active_settings_id(s)
    if args.json:
        print(json.dumps(result, indent=2))
    elif "error" in result:
        print(result["error"])
    else:
        print(f"{result['snapshot']}: {result['accounts']:,} accounts, "
              f"{result['churned']:,} churned within {result['horizon_months']} month(s) "
              f"(settings version {result['settings_id'] or 'defaults'})")
        for d, r in result["dimensions"].items():
            auc = "constant score, separates nothing" if r.get("constant") else (
                f"AUC {r['auc']}  95% CI [{r['low']}, {r['high']}]")
            print(f"  {d:<18} {auc}")
    return 0 if "error" not in result else 1


def _calibrate(args: argparse.Namespace) -> int:
    from valuation.calibrate import calibrate
    from valuation.settings_store import active_settings, active_settings_id, save_settings

    with _store(args) as s:
        result = calibrate(s, active_settings(s), horizon_months=args.horizon)
        result["settings_id"] = active_settings_id(s)
        if args.save and result["changed"]:
            result["saved_as"] = save_settings(
                s, result["toml"], user=os.environ.get("USER", "cli"),
                comment=f"calibrated to churn within {result['horizon_months']} months")
            _build_analysis(s)
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "toml"}, indent=2,
                         ensure_ascii=False))
    else:
        print(_calibration_text(result))
    return 0 if "error" not in result else 1


def _calibration_text(r: dict[str, Any]) -> str:
    if "error" in r:
        return r["error"]
    out = [f"calibrated to churn within {r['horizon_months']} month(s); month ends "
           f"{r['dates']['first']} .. {r['dates']['last']} ({r['dates']['count']})"]

    def auc(x: dict[str, Any] | None) -> str:
        if not x or x.get("auc") is None:
            return "n/a"
        return f"{x['auc']:.3f} [{x['low']:.3f}, {x['high']:.3f}]"

    for m in r["models"]:
        out.append(f"\n{m['model']} ({m['accounts']:,} accounts)")
        for dim, e in m["dimensions"].items():
            out.append(f"  {dim}: {e['mode']}; {e['events']:,} events; AUC {auc(e.get('auc_before'))}"
                       f" -> {auc(e.get('auc_after'))}" + (f"  ({e['message']})"
                                                           if e.get("message") else ""))
            for w in e["weights"]:
                if w["new"] is None and w["old"] is None:
                    continue
                old = "-" if w["old"] is None else f"{w['old']:g}"
                new = "kept" if w["new"] is None else f"{w['new']:g}"
                flag = "" if w["available"] else "  (unavailable in this scope)"
                out.append(f"    {w['measure']:<22} {old:>7} -> {new:<7}{flag}")
    for dim, p in (r.get("portfolio") or {}).items():
        out.append(f"\nportfolio-wide {dim} AUC, out of sample: {auc(p['before'])} -> "
                   f"{auc(p['after'])}")
    if r.get("saved_as"):
        out.append(f"\nsaved as settings version {r['saved_as']}")
    elif r["changed"]:
        out.append("\nnot saved: run again with --save to make these weights active")
    else:
        out.append("\nno weight changed")
    return "\n".join(out)


def _warnings(args: argparse.Namespace) -> int:
    from valuation import features
    from valuation import warnings as W
    from valuation.analysis import analyse
    from valuation.settings_store import active_settings

    with _store(args) as s:
        settings = active_settings(s)
        built, a = None, None
        if args.as_of is None and s.has_facts:  # the analysis the app reads, built once
            from valuation import prepared

            built = prepared.build(s)
            a = prepared.load(s, built.data_version, built.settings_id, settings)
        if a is None:
            a = analyse(features.account_frame(s, as_of=args.as_of), settings)
        if args.dispatch:
            w, counts = W.warn_and_dispatch(s, a.frame, settings, user="cli", as_of=args.as_of)
            if built is not None:
                prepared.mark_dispatched(s, built.data_version, built.settings_id, counts)
        else:
            w, counts = W.account_warnings(s, a.frame, settings=settings, as_of=args.as_of), {}
    if args.out is not None:
        _write(w, args.out)
    summary = w.groupby("rule").agg(accounts=("account_id", "nunique")).reset_index()
    print(f"{len(w):,} warnings on {w['account_id'].nunique():,} accounts as of "
          f"{a.frame.attrs['as_of']}")
    for r in summary.itertuples():
        print(f"  {r.rule:<15} {r.accounts:>8,}")
    if counts:
        print("work orders: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return 0


def _recommend(args: argparse.Namespace) -> int:
    from valuation import bundling, features
    from valuation.analysis import analyse
    from valuation.settings_store import active_settings

    with _store(args) as s:
        settings = active_settings(s)
        frame = features.account_frame(s)
        products = s.read_table("products")
        h = bundling.load_holdings(s)
        if args.action == "evaluate":
            choice = bundling.choose_blend(h, products, frame, seed=args.seed, settings=settings,
                                           params=bundling.BundlingParams.from_settings(settings))
            result = choice.as_dict()
            result["in_use"] = bundling.Blend.from_settings(settings).as_dict()
            if args.save:
                from valuation.settings_store import save_settings, with_values

                result["saved_as"] = save_settings(
                    s, with_values(settings, choice.blend.settings_values()),
                    user=os.environ.get("USER", "cli"),
                    comment=f"cross-sell ranking chosen by evidence: {choice.name}")
            if args.json:
                print(json.dumps(result, indent=2, default=str))
            else:
                print(_choice_text(result))
            return 0
        a = analyse(frame, settings)
        params = bundling.BundlingParams.from_settings(settings)
        graph = bundling.build_graph(h, products, accounts=a.frame, params=params)
        blend, _choice = bundling.blend_in_use(h, products, a.frame, settings=settings)
        recs = bundling.recommend(h, graph, products, a.frame, k=args.k, settings=settings,
                                  params=params, blend=blend)
    if args.out is not None:
        _write(recs, args.out)
    print(f"{len(recs):,} suggestions for {recs['account_id'].nunique():,} accounts, ranked by "
          f"{blend.name}")
    return 0


def _choice_text(r: dict[str, Any]) -> str:
    sel, test = r["selection"], r["test"]
    out = [f"one held product hidden per account; chosen on {sel['accounts']:,} accounts "
           f"(seed {sel['seed']}), reported on {test['accounts']:,} others (seed {test['seed']})",
           f"chosen: {r['chosen']} (in use: {r['in_use']['name']})",
           f"  {'ranking':<20} {'selection':>22} {'test':>22}"]
    for name, fig in test["methods"].items():
        s_fig = sel["methods"][name]
        out.append(f"  {name:<20} " + "  ".join(f"{k} {v:.3f}" for k, v in s_fig.items())
                   + "   " + "  ".join(f"{k} {v:.3f}" for k, v in fig.items()))
    if r.get("saved_as"):
        out.append(f"saved as settings version {r['saved_as']}")
    return "\n".join(out)


def _churn(args: argparse.Namespace) -> int:
    from valuation import churn
    from valuation.settings_store import active_settings

    with _store(args) as s:
        settings = active_settings(s)
        fn = churn.train if args.action == "train" else churn.evaluate
        result = fn(s, settings=settings, horizon_months=args.horizon)
        if args.action == "train" and s.has_facts:
            from valuation import prepared

            prepared.refresh_risk(s)  # the app's risk lists read the new model at once
    print(json.dumps(result, indent=2 if args.json else None, default=str))
    return 0


def _rollup(args: argparse.Namespace) -> int:
    from valuation.rollup import run

    return run(args)


def _write(df: Any, out: Path) -> None:
    """A result for people: Parquet as is; CSV with formula-like text escaped."""
    from valuation.safety import escape_formulas

    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        df.to_parquet(out, index=False)
    elif out.suffix == ".csv":
        escape_formulas(df).to_csv(out, index=False, encoding="utf-8")
    else:
        raise ValueError(f"--out must end in .csv or .parquet, not {out.suffix!r}")


def _settings(args: argparse.Namespace) -> int:
    from valuation.config import parse_settings
    from valuation.settings_store import active_settings, save_settings

    if args.check is not None:
        parse_settings(args.check.read_text(encoding="utf-8"))
        print(f"{args.check}: valid")
        return 0
    with _store(args) as s:
        if args.save is not None:
            sid = save_settings(s, args.save.read_text(encoding="utf-8"),
                                user=os.environ.get("USER", "cli"), comment=f"from {args.save.name}")
            print(f"saved as settings version {sid}")
            _build_analysis(s)
        else:
            print(active_settings(s).source)
    return 0


def _info(args: argparse.Namespace) -> int:
    from valuation.features import data_as_of

    with _store(args) as s:
        out = {
            "db": str(s.path),
            "app_db": s.app.display_url,
            "data_version": s.data_version,
            "as_of": str(data_as_of(s)),
            "rows": s.row_counts(),
        }
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


def _backup(args: argparse.Namespace) -> int:
    from valuation.backup import backup, manifest_text

    path = args.db if args.db is not None else default_db_path()
    t0 = time.perf_counter()
    m = backup(path, args.out, app_db=args.app_db or os.environ.get("VALUATION_APP_DB"))
    print(f"backup written to {args.out} ({args.out.stat().st_size:,} bytes, "
          f"{time.perf_counter() - t0:.1f} s)")
    print(manifest_text(m))
    return 0


def _restore(args: argparse.Namespace) -> int:
    from valuation.backup import manifest_text, restore

    path = args.db if args.db is not None else default_db_path()
    t0 = time.perf_counter()
    m = restore(path, args.file, app_db=args.app_db or os.environ.get("VALUATION_APP_DB"))
    print(f"{path} restored from {args.file} in {time.perf_counter() - t0:.1f} s")
    print(manifest_text(m))
    if m.get("moved_aside"):
        print(f"the damaged app database was moved aside to {m['moved_aside']}")
    print("prepared analyses and the churn model follow on the next `valuation jobs` run")
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

    if args.app:
        from valuation import appbench

        result = appbench.run(accounts=args.accounts, sessions=args.sessions,
                              line_accounts=args.line_accounts, db=args.db, seed=args.seed)
        print(json.dumps(result, indent=2))
        return 0
    result = bench.run(accounts=args.accounts, line_accounts=args.line_accounts, seed=args.seed,
                       churn_train_accounts=args.churn_train_accounts)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result["stages_s"].items():
            print(f"{k:<12} {v:8.2f} s")
        print(f"peak memory {result['peak_rss_mb']:,.0f} MB")
    return 0


def missing_db_message(path: Path) -> str:
    """What to say when the app is pointed at a database that does not exist."""
    return (f"no database at {path}: check the path (--db / VALUATION_DB); to create the demo "
            f"portfolio there, run `valuation demo --db {path}` (or `valuation app --db {path} "
            "--demo`); to start empty, import your files with `valuation import --db "
            f"{path} FILES`")


def _first_run(path: Path, args: argparse.Namespace, *, demo: bool) -> None:
    """No data yet: build the demo here, in the terminal, with its progress, before the server
    starts (instead of behind a blank page on the first visit). Only at the default path or
    when asked (``demo``): a mistyped path is an error, not a demo with known passwords."""
    from valuation.setup import create_demo

    if path.exists():
        with Store(path, read_only=True, app_db=args.app_db
                   or os.environ.get("VALUATION_APP_DB")) as s:
            if s.has_facts or not demo:
                if s.has_facts:
                    _demo_notice(s)
                return
    elif not demo:
        raise FileNotFoundError(missing_db_message(path))
    print(f"no data in {path} yet: creating the demo portfolio (5,000 accounts, 24 months of "
          "history, weekly warnings, the churn model; about a minute)...", flush=True)
    t0 = time.perf_counter()
    args.db = path
    say = _stages("demo")
    with _store(args) as s:
        create_demo(s, progress=say)
        say("the analysis the app reads")
        _build_analysis(s)
        print(f"demo ready in {time.perf_counter() - t0:.0f} s", flush=True)
        _demo_notice(s)


def _app(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    # Resolved here, in the caller's directory: streamlit runs in the app's own directory (for
    # its .streamlit/config.toml), which for an installed wheel is inside site-packages.
    env["VALUATION_DB"] = str((args.db if args.db is not None else default_db_path()).resolve())
    if args.app_db:
        env["VALUATION_APP_DB"] = args.app_db
    path = Path(env["VALUATION_DB"])
    demo = bool(args.demo) or is_default_db(path)
    if env.get("VALUATION_NO_DEMO") != "1":
        _first_run(path, args, demo=demo)
    elif not path.exists():
        raise FileNotFoundError(missing_db_message(path))
    if demo:
        env["VALUATION_DEMO"] = "1"  # the server may fill this database with the demo
    from valuation.appbench import app_script, server_env

    env = server_env(env)
    app = app_script()
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(args.port),
           "--browser.gatherUsageStats", "false"]
    if args.address:
        cmd += ["--server.address", args.address]
    return subprocess.call(cmd, env=env, cwd=app.parent)

