"""``valuation bench --app``: the app as its users feel it. A real ``streamlit run`` on a
generated portfolio, driven by headless Chromium (Debian's, never a downloaded one) through
sign-in, Portfolio, a filter change, an Account, Retention and Pyramid, for an account manager
and an admin, with N concurrent sessions. Reports median and worst settle times per step and
the server's peak memory, as JSON.

"Settled" means the page has finished its script run: no running indicator, spinner or
skeleton for a second in a row.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["app_script", "run", "serve", "server_env"]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
ROLES = {"account_manager": ("am01", "demo-am01"), "admin": ("admin", "demo-admin")}
_BUSY = """() => !!document.querySelector('[data-testid="stStatusWidget"]')
    || !!document.querySelector('[data-testid="stSkeleton"]')
    || !!document.querySelector('[data-testid="stSpinner"]')"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


# glibc's allocator, tuned for one long-lived server process holding a few large shared frames
# while many script threads allocate and free column-sized arrays: a handful of arenas instead
# of eight per core (each thread's freed memory otherwise sits in its own arena), and a fixed
# mmap threshold so arrays above 1 MiB always come from (and go back to) the system instead of
# fragmenting the heap once the dynamic threshold has climbed to 32 MiB.
ALLOCATOR = {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": str(1 << 20),
             "MALLOC_TRIM_THRESHOLD_": str(4 << 20)}


def server_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` for the app's server process: the allocator settings above unless the operator
    set them (or ``VALUATION_MALLOC_TUNING=0`` turns them off)."""
    out = dict(env)
    if out.get("VALUATION_MALLOC_TUNING", "1") != "0":
        for k, v in ALLOCATOR.items():
            out.setdefault(k, v)
    return out


def app_script() -> Path:
    """app.py: the copy a wheel installs as valuation/_app/, else the source checkout's."""
    here = Path(__file__).resolve().parent
    installed = here / "_app" / "app.py"
    return installed if installed.is_file() else here.parent / "app.py"


@contextmanager
def serve(db: Path, log: Path, *, timeout: float = 120.0,
          env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """A real ``streamlit run`` of the app on ``db`` on a free local port, until healthy:
    (its address, its process); stopped at the end. The server's output goes to ``log``."""
    port = _free_port()
    app = app_script()
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
             "--server.port", str(port), "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=app.parent, stdout=out, stderr=subprocess.STDOUT,
            env=server_env(dict(os.environ, **(env or {}), VALUATION_DB=str(Path(db).resolve()))))
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the app did not start:\n" + log.read_text()[-3000:])
                time.sleep(0.25)
            yield url, proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


async def _settle(page: Any, timeout: float = 600.0) -> float:
    """Wait until the page has been quiet for four polls in a row; return when that quiet
    began (``time.perf_counter``), so the wait itself is not counted."""
    deadline = time.monotonic() + timeout
    quiet, since = 0, time.perf_counter()
    while quiet < 4:
        busy = await page.evaluate(_BUSY)
        if busy:
            quiet = 0
        else:
            if quiet == 0:
                since = time.perf_counter()
            quiet += 1
        if time.monotonic() > deadline:
            raise TimeoutError("the page did not settle")
        await page.wait_for_timeout(250)
    return since


async def _session(browser: Any, url: str, role: str, times: dict[str, list[float]]) -> None:
    user_id, password = ROLES[role]
    ctx = await browser.new_context(viewport={"width": 1440, "height": 1200}, locale="en-US")
    page = await ctx.new_page()

    async def step(name: str, action: Any) -> None:
        t0 = time.perf_counter()
        await action()
        settled = await _settle(page)
        times.setdefault(f"{role}.{name}", []).append(round(max(settled - t0, 0.0), 3))

    try:
        await page.goto(f"{url}/?lang=en", wait_until="domcontentloaded")
        await page.locator('input[type="text"]').first.wait_for(timeout=600_000)
        await _settle(page)
        await page.locator('input[type="text"]').first.fill(user_id)
        await page.locator('input[type="password"]').first.fill(password)

        async def sign_in() -> None:
            await page.locator('[data-testid="stFormSubmitButton"] button').click()
            await page.locator('[data-testid="stSidebarNav"] a').first.wait_for(timeout=600_000)
            await page.locator("h1").first.wait_for(timeout=600_000)

        await step("first_page", sign_in)

        async def filter_change() -> None:
            await page.locator('[data-testid="stMultiSelect"]').nth(3).click()  # tier
            await page.locator('[role="option"]').first.click()
            await page.keyboard.press("Escape")

        await step("filter_change", filter_change)

        nav = page.locator('[data-testid="stSidebarNav"] a')
        hrefs = [await nav.nth(i).get_attribute("href") for i in range(await nav.count())]

        async def goto(part: str) -> None:
            i = next(i for i, h in enumerate(hrefs) if h and h.rstrip("/").endswith(part))
            await nav.nth(i).click()
            await page.locator("h1").first.wait_for(timeout=600_000)

        await step("account", lambda: goto("account"))
        if any(h and h.rstrip("/").endswith("retention") for h in hrefs):
            await step("retention", lambda: goto("retention"))
            await step("pyramid", lambda: goto("pyramid"))
        errors = await page.locator('[data-testid="stException"]').count()
        if errors:
            raise RuntimeError(f"{role}: the page shows an exception")
    finally:
        await ctx.close()


async def _drive(url: str, sessions: int) -> dict[str, list[float]]:
    from playwright.async_api import async_playwright

    times: dict[str, list[float]] = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            # one warm-up pass per role, then the concurrent sessions
            for role in ROLES:
                await _session(browser, url, role, {})
            roles = [list(ROLES)[i % len(ROLES)] for i in range(sessions)]
            await asyncio.gather(*(_session(browser, url, r, times) for r in roles))
        finally:
            await browser.close()
    return times


def run(*, accounts: int, sessions: int = 2, line_accounts: int | None = None,
        db: Path | None = None, seed: int = 7) -> dict[str, Any]:
    """Generate (or use ``db``), build the analysis, serve, drive, measure."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install chromium")
    try:
        import playwright  # noqa: F401
    except ImportError as e:
        raise RuntimeError("bench --app drives a browser: pip install -e '.[test]'") from e
    from valuation import prepared
    from valuation.setup import create_demo
    from valuation.store import Store

    out: dict[str, Any] = {"accounts": accounts, "sessions": sessions}
    with tempfile.TemporaryDirectory() as tmp:
        path = db if db is not None else Path(tmp) / "bench.duckdb"
        t0 = time.perf_counter()
        with Store(path) as s:
            if not s.has_facts:
                create_demo(s, accounts=accounts, seed=seed, line_accounts=line_accounts,
                            history_months=2, dispatch_weeks=1, train_model=True)
            out["generate_s"] = round(time.perf_counter() - t0, 1)
            t0 = time.perf_counter()
            b = prepared.build(s)
            out["accounts"] = b.accounts
            out["analysis_build_s"] = round(time.perf_counter() - t0, 1)
        with serve(Path(path), Path(tmp) / "server.log",
                   env={"VALUATION_NO_DEMO": "1"}) as (url, proc):
            times = asyncio.run(_drive(url, sessions))
            out["server_peak_rss_mb"] = _peak_rss_mb(proc.pid)
    out["steps_s"] = {k: {"median": round(statistics.median(v), 2), "worst": round(max(v), 2),
                          "n": len(v)} for k, v in sorted(times.items())}
    return out
