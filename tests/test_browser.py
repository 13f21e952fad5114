"""A real `streamlit run` driven by headless Chromium: sign in as each role, in both languages,
open every page, find no exception, keep screenshots (artifacts/screenshots)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlparse
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
SIGN_INS = {"account_manager": ("am01", "demo-am01", 4), "sales_lead": ("lead01", "demo-lead01", 6),
            "executive": ("exec01", "demo-exec01", 5), "admin": ("admin", "demo-admin", 7)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(demo_path, tmp_path_factory):
    db = tmp_path_factory.mktemp("browser") / "portfolio.duckdb"
    shutil.copy(demo_path, db)
    port = _free_port()
    env = dict(os.environ, VALUATION_DB=str(db))
    log = open(db.parent / "streamlit.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            log.close()
            raise RuntimeError((db.parent / "streamlit.log").read_text())
        time.sleep(0.25)
    yield url
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def _settle(page, timeout: float = 90.0) -> None:
    """Wait until the script has finished: no running indicator for a few polls in a row."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 4:
        busy = page.evaluate(
            """() => !!document.querySelector('[data-testid="stStatusWidget"]')
                 || !!document.querySelector('[data-testid="stSkeleton"]')
                 || !!document.querySelector('[data-testid="stSpinner"]')""")
        quiet = 0 if busy else quiet + 1
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not settle")
        page.wait_for_timeout(250)


def _no_exception(page, where: str) -> None:
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, f"{where}: {errors.first.inner_text()}"


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("role", list(SIGN_INS))
def test_sign_in_and_every_page(server, browser, role, lang):
    user_id, password, n_pages = SIGN_INS[role]
    SHOTS.mkdir(parents=True, exist_ok=True)
    ctx = browser.new_context(viewport={"width": 1440, "height": 2400}, locale="zh-CN" if lang == "zh" else "en-US")
    page = ctx.new_page()
    try:
        page.goto(f"{server}/?lang={lang}", wait_until="domcontentloaded")
        page.locator('input[type="text"]').first.wait_for(timeout=90_000)
        _settle(page)
        if role == "account_manager":
            page.screenshot(path=str(SHOTS / f"signin-{lang}.png"), full_page=True)
        page.locator('input[type="text"]').first.fill(user_id)
        page.locator('input[type="password"]').first.fill(password)
        page.locator('[data-testid="stFormSubmitButton"] button').click()
        nav = page.locator('[data-testid="stSidebarNav"] a')
        nav.first.wait_for(timeout=90_000)
        _settle(page)
        assert nav.count() == n_pages
        for i in range(n_pages):
            link = nav.nth(i)
            name = urlparse(link.get_attribute("href")).path.strip("/") or "portfolio"
            link.click()
            page.locator("h1").first.wait_for(timeout=90_000)
            _settle(page)
            _no_exception(page, f"{role}/{lang}/{name}")
            page.screenshot(path=str(SHOTS / f"{role}-{lang}-{name}.png"), full_page=True)
    finally:
        ctx.close()
