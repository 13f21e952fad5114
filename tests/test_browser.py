"""A real `streamlit run` driven by headless Chromium: sign in as each role, in both languages,
open every page, find no exception, keep screenshots (artifacts/screenshots)."""

from __future__ import annotations

import json
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
            "executive": ("exec01", "demo-exec01", 5), "admin": ("admin", "demo-admin", 11)}


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


def _sign_in(browser, server, user_id: str, password: str, lang: str = "en"):
    """A signed-in page. The password is set first: an earlier test's users import retires
    the demo sign-ins, as it should."""
    from valuation import access
    from valuation.store import Store

    with Store(server.db) as s:
        access.set_password(s, user_id, password, by="test")
    ctx = browser.new_context(viewport={"width": 1440, "height": 1600},
                              locale="zh-CN" if lang == "zh" else "en-US")
    page = ctx.new_page()
    page.goto(f"{server}/?lang={lang}", wait_until="domcontentloaded")
    page.locator('input[type="text"]').first.wait_for(timeout=90_000)
    page.locator('input[type="text"]').first.fill(user_id)
    page.locator('input[type="password"]').first.fill(password)
    page.locator('[data-testid="stFormSubmitButton"] button').click()
    page.locator('[data-testid="stSidebarNav"] a').first.wait_for(timeout=90_000)
    _settle(page)
    return ctx, page


_ROW_TICKED = """(i) => document.querySelector(
    `[data-testid="stDataFrame"] tbody tr[aria-rowindex="${i + 2}"]`)?.getAttribute('aria-selected')"""
_ROW_ACCOUNT = """(i) => document.querySelector(
    `[data-testid="stDataFrame"] [data-testid="glide-cell-1-${i}"]`)?.innerText"""


def _tick(page, row: int) -> None:
    """Click the row's selection box in the first table (the grid is a canvas: 35 px rows
    under a 35 px header, the boxes in the leftmost column)."""
    box = page.locator('[data-testid="stDataFrame"]').first.bounding_box()
    page.mouse.click(box["x"] + 15, box["y"] + 35 + 35 * row + 17)
    _settle(page)


def test_ticks_on_retention_do_not_move_to_other_orders_when_a_filter_changes(server, browser):
    """Issue 12's bulk-assign case in the browser: a lead ticks two work orders, then picks a
    warning filter. The ticks are not carried over to whichever orders now sit in those rows:
    the table shows none ticked, Assign is disabled and a notice says why. Ticking two rows of
    the filtered list and assigning moves exactly those two orders."""
    from valuation import access
    from valuation import warnings as W
    from valuation.store import Store

    ctx, page = _sign_in(browser, server, "lead01", "demo-lead01")
    try:
        page.locator('[data-testid="stSidebarNav"] a', has_text="Retention").click()
        page.locator("h1").first.wait_for(timeout=90_000)
        _settle(page)
        assign = page.locator('[data-testid="stButton"] button', has_text="Assign").last
        assert not assign.is_enabled()
        _tick(page, 0)
        _tick(page, 1)
        assert [page.evaluate(_ROW_TICKED, i) for i in range(3)] == ["true", "true", "false"]
        assert assign.is_enabled()

        page.locator('[data-testid="stMultiSelect"]').first.click()
        options = page.get_by_role("option")
        options.nth(options.count() - 1).click()  # the last warning: another, shorter list
        page.keyboard.press("Escape")
        _settle(page)
        _no_exception(page, "retention after a filter change")
        assert [page.evaluate(_ROW_TICKED, i) for i in range(2)] == ["false", "false"]
        assert not assign.is_enabled()
        notices = " ".join(page.locator('[data-testid="stAlert"]').all_inner_texts())
        assert "nothing was assigned" in notices

        with Store(server.db) as s:
            lead = access.get_user(s, "lead01")
            before = W.open_orders(s, lead).set_index("work_order_id")
        _tick(page, 0)
        _tick(page, 1)
        ticked = [page.evaluate(_ROW_ACCOUNT, i) for i in range(2)]
        assign.click()
        _settle(page)
        _no_exception(page, "retention after assign")
        with Store(server.db) as s:
            after = W.open_orders(s, lead).set_index("work_order_id")
        moved = after[after["version"] != before["version"].reindex(after.index)]
        assert sorted(moved["account_id"]) == sorted(ticked), (moved, ticked)
        assert len(moved) == 2 and moved["assignee_id"].nunique() == 1
        with Store(server.db) as s:
            who = access.get_user(s, moved["assignee_id"].iloc[0])
        assert who.role == "account_manager" and who.team_id == lead.team_id
        page.screenshot(path=str(SHOTS / "lead-en-retention-ticks.png"), full_page=True)
    finally:
        ctx.close()


HOSTILE = ('**bold** ![x](http://127.0.0.1:9/md.png) <img src="http://127.0.0.1:9/html.png"> '
           '[click](http://evil.example/) $\\frac{1}{2}$ :red[red] 恶意名称')


def test_markup_in_an_imported_name_is_shown_as_text_in_the_browser(server, browser, tmp_path):
    """An account renamed by a merge import to Markdown, HTML, LaTeX and a remote image: on
    the Account page, in the picker and on My work the name reads literally; the browser
    loads nothing from the name, shows no link, image, bold or formula made from it."""
    import pandas as pd

    db = str(server.db)
    out = tmp_path / "export"
    _cli("export", "--db", db, "--out", str(out), "--format", "csv")
    accounts = pd.read_csv(out / "accounts.csv", dtype=str, keep_default_na=False)
    mine = accounts[accounts["owner_id"] == "am01"].iloc[[0]].copy()
    account_id = mine["account_id"].iloc[0]
    mine["name"] = HOSTILE
    if "name_en" in mine.columns:
        mine["name_en"] = HOSTILE
    part = tmp_path / "part"
    part.mkdir()
    mine.to_csv(part / "accounts.csv", index=False)
    _cli("import", "--db", db, "--merge", str(part))

    ctx, page = _sign_in(browser, server, "am01", "demo-am01", "zh")
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url))
    try:
        deadline = time.monotonic() + 120
        while True:  # the import's analysis may still be building: the page shows it when ready
            page.goto(f"{server}/account?account={account_id}", wait_until="domcontentloaded")
            page.locator("h1").first.wait_for(timeout=90_000)
            _settle(page)
            if "恶意名称" in page.locator('[data-testid="stMainBlockContainer"]').inner_text():
                break
            assert time.monotonic() < deadline, "the renamed account never showed"
            page.wait_for_timeout(1000)
        _no_exception(page, "account with a hostile name")
        main = page.locator('[data-testid="stMainBlockContainer"]')
        header = page.locator("h2").first.inner_text()
        # reads as typed; a zero-width space after "http:" keeps the Markdown from linking it
        assert header.strip().replace("\u200b", "") == HOSTILE, header
        picker = page.locator('[data-testid="stSelectbox"]').first.evaluate(
            "e => e.innerText + ' ' + [...e.querySelectorAll('input')].map(i => i.value).join(' ')")
        assert HOSTILE in picker.replace("\u200b", ""), picker
        for selector in ('img[src*="127.0.0.1:9"]', 'a[href*="evil.example"]', ".katex",
                         "strong", '[data-testid="stMarkdownColoredText"]'):
            hits = main.locator(selector)
            texts = hits.all_inner_texts()
            assert not any(t in HOSTILE for t in texts if t), (selector, texts)
            assert not (selector.startswith(("img", "a[")) and hits.count()), selector
        page.screenshot(path=str(SHOTS / "am-zh-hostile-name.png"), full_page=True)
        page.locator('[data-testid="stSidebarNav"] a', has_text="我的工单").click()
        page.locator("h1").first.wait_for(timeout=90_000)
        _settle(page)
        _no_exception(page, "my work with a hostile name")
        assert main.locator('img[src*="127.0.0.1:9"], a[href*="evil.example"]').count() == 0
        assert not [u for u in fetched if "127.0.0.1:9" in u or "evil.example" in u], fetched
    finally:
        ctx.close()


def test_backup_and_restore_while_the_app_serves_a_signed_in_session(server, browser, tmp_path):
    """The restore drill beside a real server: an account manager is signed in on an account
    with a plan; `valuation backup` runs; a later plan and a renamed account follow; `valuation
    restore` brings the backup back. The open session keeps working (no restart, no sign-in
    again) and the page shows the backed-up plan and name, not the later ones."""
    import pandas as pd

    from valuation import planning
    from valuation.store import Store

    db = str(server.db)
    out = tmp_path / "export"
    _cli("export", "--db", db, "--out", str(out), "--format", "csv")
    accounts = pd.read_csv(out / "accounts.csv", dtype=str, keep_default_na=False)
    row = accounts[accounts["owner_id"] == "am01"].iloc[[1]].copy()
    account_id, name = row["account_id"].iloc[0], row["name"].iloc[0]
    with Store(db) as s:
        planning.save_plan(s, {"account_id": account_id, "objective": "retain",
                               "action": "renew early", "due_date": "2026-12-31",
                               "note": "kept by the backup"}, user="am01")

    def shown() -> str:
        page.goto(f"{server}/account?account={account_id}", wait_until="domcontentloaded")
        page.locator("h2").first.wait_for(timeout=90_000)
        _settle(page)
        page.get_by_role("tab", name="维系与计划").click()  # the plans are on this tab
        _settle(page)
        _no_exception(page, "account during the restore drill")
        tables = page.evaluate("""() => [...document.querySelectorAll(
            '[data-testid="stDataFrame"] table')].map(t => t.textContent).join(' ')""")
        return page.locator("h2").first.inner_text() + " " + tables

    ctx, page = _sign_in(browser, server, "am01", "demo-am01", "zh")
    try:
        assert "kept by the backup" in shown()
        backup = tmp_path / "drill.zip"
        assert "backup" in _cli("backup", "--db", db, "--out", str(backup)).lower()
        version = json.loads(_cli("info", "--db", db))["data_version"]
        with Store(db) as s:
            planning.save_plan(s, {"account_id": account_id, "objective": "grow_share",
                                   "action": "offer cloud", "due_date": "2026-12-31",
                                   "note": "written after the backup"}, user="am01")
        row["name"] = "Renamed after the backup"
        part = tmp_path / "part"
        part.mkdir()
        row.to_csv(part / "accounts.csv", index=False)
        _cli("import", "--db", db, "--merge", str(part))
        assert json.loads(_cli("info", "--db", db))["data_version"] != version
        deadline = time.monotonic() + 120
        while "Renamed after the backup" not in (now := shown()):
            assert time.monotonic() < deadline, now
            page.wait_for_timeout(1000)
        assert "written after the backup" in now

        assert "restored from" in _cli("restore", "--db", db, str(backup))
        assert json.loads(_cli("info", "--db", db))["data_version"] == version
        deadline = time.monotonic() + 120
        while "Renamed after the backup" in (now := shown()):
            assert time.monotonic() < deadline, now
            page.wait_for_timeout(1000)
        assert name in now and "kept by the backup" in now
        assert "written after the backup" not in now
        assert page.locator('[data-testid="stSidebarNav"] a').count() == 4  # still signed in
        page.screenshot(path=str(SHOTS / "am-zh-after-restore.png"), full_page=True)
    finally:
        ctx.close()
