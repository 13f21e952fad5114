"""A real `streamlit run` driven by headless Chromium: sign in as each role, in both languages,
open every page, find no exception, keep screenshots (artifacts/screenshots)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from valuation.appbench import ARGS, CHROMIUM, serve
from valuation.store import copy_database

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "artifacts" / "screenshots"
SIGN_INS = {"account_manager": ("am01", "demo-am01", 4), "sales_lead": ("lead01", "demo-lead01", 6),
            "executive": ("exec01", "demo-exec01", 5), "admin": ("admin", "demo-admin", 7)}


class Served(str):
    """The app's address, and the database it serves."""

    def __new__(cls, url: str, db: Path) -> Served:
        self = super().__new__(cls, url)
        self.db = db
        return self


@pytest.fixture(scope="module")
def server(demo_path, tmp_path_factory):
    db = tmp_path_factory.mktemp("browser") / "portfolio.duckdb"
    copy_database(demo_path, db)
    with serve(db, db.parent / "streamlit.log", timeout=90) as (url, _):
        yield Served(url, db)


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


def _cli(*args: str, stdin: str | None = None) -> str:
    out = subprocess.run([sys.executable, "-m", "valuation", *args], cwd=ROOT, input=stdin,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, f"valuation {' '.join(args)}: {out.stderr[-3000:]}"
    return out.stdout


def test_commands_run_while_the_app_serves_and_the_page_shows_the_new_data(server, browser,
                                                                            tmp_path):
    """With a signed-in session open, an admin exports, re-imports, dispatches warnings, sets a
    password, takes a snapshot, runs the jobs and reads the database's info from the command
    line: every command succeeds (no lock), and the open page shows the new data version on
    its next rerun, no restart."""
    import json

    db = str(server.db)
    ctx = browser.new_context(viewport={"width": 1440, "height": 1200}, locale="en-US")
    page = ctx.new_page()
    try:
        page.goto(f"{server}/?lang=en", wait_until="domcontentloaded")
        page.locator('input[type="text"]').first.wait_for(timeout=90_000)
        page.locator('input[type="text"]').first.fill("admin")
        page.locator('input[type="password"]').first.fill("demo-admin")
        page.locator('[data-testid="stFormSubmitButton"] button').click()
        nav = page.locator('[data-testid="stSidebarNav"] a')
        nav.first.wait_for(timeout=90_000)
        _settle(page)
        sidebar = page.locator('[data-testid="stSidebar"]')
        before = json.loads(_cli("info", "--db", db))["data_version"]
        assert before in sidebar.inner_text()

        out = tmp_path / "export"
        _cli("export", "--db", db, "--out", str(out), "--format", "parquet")
        _cli("import", "--db", db, str(out))
        info = json.loads(_cli("info", "--db", db))
        after = info["data_version"]
        assert after != before
        assert "work orders" in _cli("warnings", "--db", db, "--dispatch")
        _cli("passwd", "--db", db, "am02", stdin="a-new-secret-2\n")
        assert "accounts" in _cli("snapshot", "--db", db)
        assert "dispatch" in _cli("jobs", "--db", db, "analysis", "dispatch")

        nav.nth(1).click()  # any rerun picks the new file up
        deadline = time.monotonic() + 120
        while after not in sidebar.inner_text():
            assert time.monotonic() < deadline, sidebar.inner_text()
            page.wait_for_timeout(500)
            nav.nth(0).click()
        _settle(page)
        _no_exception(page, "after the import")
        page.screenshot(path=str(SHOTS / "admin-en-after-cli-import.png"), full_page=True)
    finally:
        ctx.close()
