"""A throwaway PostgreSQL server for the store tests.

``.ci/run`` starts one and passes its admin URL in ``VALUATION_TEST_PG``; without it the tests
start their own from Debian's ``postgresql`` binaries (as the ``postgres`` user when run as
root), on a free local port, stopped at the end of the session.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa


def _bin() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return os.path.dirname(found[-1]) if found else None


def _as_server_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextmanager
def server() -> Iterator[str]:
    """The admin URL of a running PostgreSQL server (started here unless given)."""
    if os.environ.get("VALUATION_TEST_PG"):
        yield os.environ["VALUATION_TEST_PG"]
        return
    bindir = _bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql")
    root = tempfile.mkdtemp(prefix="valuation-pg-")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = os.path.join(root, "data")
    subprocess.run(_as_server_user([f"{bindir}/initdb", "-D", data, "-A", "trust", "-U",
                                    "postgres", "-E", "UTF8"]), check=True,
                   capture_output=True)
    subprocess.run(_as_server_user([
        f"{bindir}/pg_ctl", "-D", data, "-l", os.path.join(root, "log"), "-w", "-o",
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=300 "
        "-c fsync=off", "start"]), check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_server_user([f"{bindir}/pg_ctl", "-D", data, "-m", "immediate",
                                        "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(admin_url: str) -> tuple[str, str]:
    """A new empty database on the server: (its URL, its name)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    eng = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    eng.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name, name


def drop_database(admin_url: str, name: str) -> None:
    eng = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    eng.dispose()
