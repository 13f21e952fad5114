"""The executive pack (PDF, XLSX) and the account brief: tables that add up, the scope
respected, both languages, hostile text shown as text and inert, the command, the pages."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest

from valuation import access, i18n, report
from valuation.cli import main
from valuation.config import DEFAULT_SETTINGS_PATH
from valuation.settings_store import save_settings
from valuation.store import Store, copy_database

ROOT = Path(__file__).resolve().parent.parent
AS_OF = "2026-10-31"
# a name that is markup and a spreadsheet formula at once
HOSTILE = '=HYPERLINK("http://x","<script>alert(1)</script>")'
HOSTILE_EN = "<b>bold</b> & <img src=x onerror=alert(1)>"

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None,
                                reason="poppler-utils (pdftotext, pdftoppm, pdfinfo) needed")


def _text(pdf: bytes, tmp_path: Path, name: str = "r.pdf") -> str:
    f = tmp_path / name
    f.write_bytes(pdf)
    # -raw: the order the document wrote its text in, so a table cell's wrapped lines stay
    # together (-layout interleaves them with the cells beside it)
    return subprocess.run(["pdftotext", "-raw", str(f), "-"], capture_output=True, text=True,
                          check=True).stdout


def _info(pdf: bytes, tmp_path: Path) -> dict[str, str]:
    f = tmp_path / "i.pdf"
    f.write_bytes(pdf)
    out = subprocess.run(["pdfinfo", str(f)], capture_output=True, text=True, check=True).stdout
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}


def _flat(text: str) -> str:
    return "".join(text.split())


@pytest.fixture(scope="module")
def db(demo_path, tmp_path_factory):
    """A copy of the demo with a saved settings version (so the pack says "version 1") and
    the account the model flags first renamed to hostile text."""
    from valuation.churn import card_path, model_path

    path = copy_database(demo_path, tmp_path_factory.mktemp("report") / "r.duckdb")
    shutil.copyfile(model_path(demo_path), model_path(path))  # the trained churn model
    shutil.copyfile(card_path(model_path(demo_path)), card_path(model_path(path)))
    with Store(path) as s:
        first = report.pack_for(s, lang="en").tables["flagged"]["account_id"].iloc[0]
        accounts = s.read_table("accounts")
        hit = accounts["account_id"] == first
        accounts.loc[hit, "name"] = HOSTILE
        accounts.loc[hit, "name_en"] = HOSTILE_EN
        s.replace_facts({"accounts": accounts}, source="test")
        save_settings(s, DEFAULT_SETTINGS_PATH.read_text(encoding="utf-8"), user="test",
                      comment="the pack names this version")
    return path


@pytest.fixture(scope="module")
def packs(db):
    with Store(db) as s:
        return {L: report.pack_for(s, lang=L) for L in ("zh", "en")}


@pytest.fixture(scope="module")
def pdfs(packs):
    return {L: report.pack_pdf(p) for L, p in packs.items()}


@pytest.fixture(scope="module")
def analysed(db):
    from valuation import prepared
    from valuation.settings_store import settings_by_id

    with Store(db) as s:
        built = prepared.build(s)
        a = prepared.load(s, built.data_version, built.settings_id,
                          settings_by_id(s, built.settings_id))
        users = s.read_table("users")
    return a, users, built


def test_the_tables_add_up(packs, analysed, db):
    a, _users, built = analysed
    live = a.frame[~a.frame["churned"].astype(bool)]
    p = packs["en"]
    assert p.meta["as_of"] == AS_OF and p.meta["settings_id"] == built.settings_id >= 1
    pyr = p.tables["pyramid"].set_index("tier")
    assert pyr["accounts"].to_dict() == live["tier"].value_counts().reindex(pyr.index).to_dict()
    assert pyr["monthly_revenue"].sum() == pytest.approx(live["monthly_revenue"].sum())
    assert p.summary["accounts"] == len(live)
    # value at risk by team adds up to the scope's total, which is the risk frame's
    team = p.tables["risk_by_team"]
    assert team["accounts"].sum() == len(live)
    assert team["revenue_at_risk"].sum() == pytest.approx(p.summary["revenue_at_risk"])
    with Store(db) as s:
        risk = report._risk(s, a, built)
    assert p.summary["revenue_at_risk"] == pytest.approx(
        risk.reindex(live["account_id"].astype(str))["revenue_at_risk"].sum())
    assert team["share"].sum() == pytest.approx(1.0)
    # KPIs by city count every active account once; the migration's moves cover its cells
    assert p.tables["kpis_city"]["accounts"].sum() == len(live)
    assert p.tables["kpis_industry"]["accounts"].sum() == len(live)
    assert p.tables["moves"]["accounts"].sum() == p.tables["migration"]["accounts"].sum() > 0
    assert p.meta["previous"] == "2026-09-30"
    stay = p.tables["migration"].query("from_tier == to_tier")["accounts"].sum()
    assert p.tables["moves"].set_index("move").at["same", "accounts"] == stay
    # concentration: the top 20% row is the headline figure
    conc = p.tables["concentration"].set_index("top_share")
    assert conc.at[0.2, "revenue_share"] == pytest.approx(p.summary["top20"])
    assert conc["revenue_share"].is_monotonic_increasing
    # movers: the largest rises and falls of the value score, in order
    up, down = p.tables["movers_up"], p.tables["movers_down"]
    assert len(up) == len(down) == 10
    assert (up["value_change"] > 0).all() and up["value_change"].is_monotonic_decreasing
    assert (down["value_change"] < 0).all() and down["value_change"].is_monotonic_increasing
    assert (up["value_score"] - up["previous_value"]).round(6).tolist() == \
        up["value_change"].round(6).tolist()
    # flagged before any rule: live, in the model's top decile, no open work order
    from valuation import warnings as W

    flagged = p.tables["flagged"]
    assert 0 < len(flagged) <= 20 and p.summary["flagged"] >= len(flagged)
    with Store(db) as s:
        open_ids = set(W.open_orders(s)["account_id"].astype(str))
    assert not set(flagged["account_id"]) & open_ids
    assert set(flagged["account_id"]) <= set(live["account_id"].astype(str))
    assert (flagged["churn_probability"] >= risk["churn_probability"].quantile(0.9)).all()
    assert flagged["revenue_at_risk"].is_monotonic_decreasing


def test_the_pdf_in_both_languages(pdfs, packs, analysed, tmp_path):
    a, _, built = analysed
    for L, pdf in pdfs.items():
        assert pdf[:5] == b"%PDF-"
        info = _info(pdf, tmp_path)
        assert info["Page size"].startswith("595.") and "(A4)" in info["Page size"]
        assert 3 <= int(info["Pages"]) <= 8
        text = _text(pdf, tmp_path)
        flat = _flat(text)
        for tier in a.settings.tiers:
            assert tier.label(L) in text, (L, tier.code)
        assert AS_OF in text
        version = i18n.t("report.settings_version", L, id=built.settings_id)
        assert _flat(version) in flat
        # the running footer dates every page with the data's as-of date (and the cover too)
        stamp = _flat(i18n.t("report.stamp", L, as_of=AS_OF, settings=version))
        assert flat.count(stamp) == int(info["Pages"]) + 1
        for key in ("report.pyramid", "report.concentration", "report.migration",
                    "report.kpis_city", "report.kpis_industry", "report.risk_by_team",
                    "report.movers_up", "report.movers_down", "report.flagged"):
            assert _flat(i18n.t(key, L)) in flat, (L, key)
        total = i18n.money(packs[L].summary["revenue_at_risk"], L)
        assert total in text
    assert "价值金字塔" in _text(pdfs["zh"], tmp_path) and "战略客户" in _text(pdfs["zh"], tmp_path)
    assert "Value pyramid" in _text(pdfs["en"], tmp_path)


def test_the_chinese_pdf_embeds_its_font(pdfs, tmp_path):
    f = tmp_path / "zh.pdf"
    f.write_bytes(pdfs["zh"])
    fonts = subprocess.run(["pdffonts", str(f)], capture_output=True, text=True,
                           check=True).stdout
    cjk = [line for line in fonts.splitlines() if "CJK" in line]
    assert cjk and all(" yes yes " in line for line in cjk), fonts  # embedded, as a subset


def test_the_pages_render_to_png(pdfs, tmp_path):
    """The pages as a reader sees them (pdftoppm, 60 dpi): every page drawn, none blank."""
    from PIL import Image, ImageStat

    for L, pdf in pdfs.items():
        f = tmp_path / f"{L}.pdf"
        f.write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", "60", "-png", str(f), str(tmp_path / L)], check=True)
        pngs = sorted(tmp_path.glob(f"{L}-*.png"))
        assert len(pngs) == int(_info(pdf, tmp_path)["Pages"])
        for png in pngs:
            im = Image.open(png).convert("L")
            w, h = im.size  # A4 at 60 dpi: 496 x 702 (pdftoppm rounds up)
            assert abs(w - 496) <= 1 and abs(h - 702) <= 1, im.size
            assert ImageStat.Stat(im).stddev[0] > 10, png  # ink on the page


def test_hostile_names_are_text_in_the_pdf_and_inert_in_the_xlsx(packs, pdfs, tmp_path):
    zh, en = _flat(_text(pdfs["zh"], tmp_path)), _flat(_text(pdfs["en"], tmp_path))
    assert _flat(HOSTILE) in zh  # the markup came through as the text it is
    assert _flat(HOSTILE_EN) in en
    wb = openpyxl.load_workbook(io_bytes(report.pack_xlsx(packs["zh"])))
    ws = wb[i18n.t("report.flagged", "zh")[:31]]
    names = [c for c in ws.iter_rows(min_row=2, values_only=True) if c[1] and "HYPERLINK" in c[1]]
    assert len(names) == 1
    cell = next(c for c in ws["B"] if c.value and "HYPERLINK" in str(c.value))
    assert cell.data_type == "s" and cell.value == "'" + HOSTILE  # text, never a formula
    assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row)


def io_bytes(data: bytes):
    import io

    return io.BytesIO(data)


def test_the_xlsx_reads_back_as_numbers(packs, analysed, tmp_path):
    a, _, built = analysed
    live = a.frame[~a.frame["churned"].astype(bool)]
    for L, p in packs.items():
        wb = openpyxl.load_workbook(io_bytes(report.pack_xlsx(p)))
        names = wb.sheetnames

        def T(key: str, L: str = L) -> str:  # noqa: N802, N803 - the pages' t()
            return i18n.t(key, L)

        assert names[0] == T("report.sheet.about") and names[1] == T("report.sheet.summary")
        assert [T(title)[:31] for title, _ in report.LAYOUT.values()] == names[2:]
        about = {r[0]: r[1] for r in wb[names[0]].iter_rows(values_only=True) if r[0]}
        assert about[T("report.about.as_of")] == AS_OF
        assert about[T("report.about.settings")] == built.settings_id
        assert about[T("report.about.scope")] == T("report.scope.all")
        assert hasattr(about[T("report.about.generated")], "year")  # a real date-time
        pyr = wb[T("report.pyramid")]
        head = [c.value for c in pyr[1]]
        assert head[:2] == [T("col.tier"), T("kpi.accounts")]
        rows = list(pyr.iter_rows(min_row=2, values_only=True))
        counts = {r[0].split(" · ")[0]: r[1] for r in rows}
        assert counts == live["tier"].value_counts().to_dict()
        assert all(isinstance(r[1], int) and isinstance(r[3], float) for r in rows)
        assert pyr.cell(2, 3).number_format == "0.0%" and 0 < pyr.cell(2, 3).value < 1
        team = wb[T("report.risk_by_team")]
        col = [c.value for c in team[1]].index(T("account.revenue_at_risk")) + 1
        var = [r[0].value for r in team.iter_rows(min_row=2, min_col=col, max_col=col)]
        summary = {r[0]: r[1] for r in wb[names[1]].iter_rows(min_row=2, values_only=True)}
        assert sum(var) == pytest.approx(summary[T("account.revenue_at_risk")])
        assert summary[T("kpi.accounts")] == len(live)


def test_the_command_and_the_scope(db, analysed, tmp_path, capsys):
    a, users, _ = analysed
    out = tmp_path / "am01.xlsx"
    assert main(["report", "--db", str(db), "--lang", "en", "--out", str(out),
                 "--scope", "am01"]) == 0
    said = capsys.readouterr().out
    assert "Accounts of" in said and "(am01)" in said and str(out) in said
    with Store(db) as s:
        user = access.get_user(s, "am01")
    mine = a.frame[access.scope_filter(user, a.frame, users).to_numpy()]
    live = mine[~mine["churned"].astype(bool)]
    own = set(mine["account_id"].astype(str))
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[0] == "About"
    pyr = list(wb["Value pyramid"].iter_rows(min_row=2, values_only=True))
    assert sum(r[1] for r in pyr) == len(live)
    for sheet in ("Top movers up", "Top movers down",
                  "Flagged by the churn model before any rule"):
        ids = [r[0] for r in wb[sheet[:31]].iter_rows(min_row=2, values_only=True)]
        assert set(ids) <= own, sheet
    teams = [r[0] for r in wb["Value at risk by team"].iter_rows(min_row=2, values_only=True)]
    assert len(teams) == 1  # one manager, one team

    pdf = tmp_path / "am01.pdf"
    assert main(["report", "--db", str(db), "--format", "pdf", "--lang", "zh", "--out",
                 str(pdf), "--scope", "am01"]) == 0
    text = _text(pdf.read_bytes(), tmp_path)
    assert "(am01)" in text.replace("（", "(").replace("）", ")") and AS_OF in text
    others = set(a.frame["account_id"].astype(str)) - own
    assert not [i for i in others if i in text]  # no account of anyone else is named

    assert main(["report", "--db", str(db), "--out", str(tmp_path / "x.pdf"),
                 "--scope", "nobody"]) == 2
    assert "no user 'nobody'" in capsys.readouterr().err


def test_a_chinese_report_without_the_font_fails_naming_it(packs, monkeypatch):
    monkeypatch.setattr(report, "cjk_font", lambda: None)
    with pytest.raises(report.ReportError, match="Noto Sans CJK SC"):
        report.pack_pdf(packs["zh"])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_visit_brief_is_one_page(db, analysed, packs, lang, tmp_path):
    a, _, built = analysed
    with Store(db) as s:
        from valuation import warnings as W

        orders = W.open_orders(s)
        busiest = orders.groupby("account_id").size().idxmax()  # more orders than fit
        hostile = packs["en"].tables["flagged"]["account_id"].iloc[0]
        for account_id in (busiest, hostile):
            pdf = report.brief_pdf(report.brief_for(s, account_id, lang=lang))
            assert _info(pdf, tmp_path)["Pages"] == "1"
            text = _text(pdf, tmp_path)
            row = a.frame.set_index("account_id").loc[account_id]
            tier = a.settings.tier(row["tier"])
            assert AS_OF in text and tier.label(lang) in text and account_id in text
            assert _flat(i18n.t("report.brief.title", lang)) in _flat(text)
            assert _flat(i18n.t("report.settings_version", lang, id=built.settings_id)) in \
                _flat(text)
        assert _flat(HOSTILE if lang == "zh" else HOSTILE_EN) in _flat(text)
        with pytest.raises(report.ReportError, match="outside"):
            other = a.frame.loc[a.frame["owner_id"] != "am01", "account_id"].iloc[0]
            report.brief_for(s, other, lang=lang, user_id="am01")


def test_the_pages_offer_the_downloads_and_build_them_on_click(db, monkeypatch):
    """The Pyramid page offers the pack (PDF, XLSX) of the signed-in scope and the Account page
    the visit brief; nothing is built while the page runs, and what a click builds is the
    reader's scope in the reader's language."""
    import streamlit as st
    from streamlit.delta_generator import DeltaGenerator
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("VALUATION_DB", str(db))
    offered: dict[str, object] = {}
    real = DeltaGenerator.download_button

    def spy(self, label, data, *args, **kw):
        offered[kw.get("key")] = data
        return real(self, label, data, *args, **kw)

    monkeypatch.setattr(DeltaGenerator, "download_button", spy)
    monkeypatch.setattr(st, "download_button", lambda *a, **kw: spy(st._main, *a, **kw))
    built: list[str] = []
    for name in ("pack_pdf", "pack_xlsx", "brief_pdf"):
        fn = getattr(report, name)
        monkeypatch.setattr(report, name, lambda *a, _fn=fn, _n=name, **kw: built.append(_n)
                            or _fn(*a, **kw))
    with Store(db) as s:
        lead = access.get_user(s, "lead01")
        am = access.get_user(s, "am01")
    at = AppTest.from_file(str(ROOT / "pages" / "pyramid.py"), default_timeout=180)
    at.session_state["user"] = lead
    at.session_state["lang"] = "en"
    at.run()
    assert not at.exception
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Executive pack (PDF)" in labels and "Executive pack (XLSX)" in labels
    assert built == []  # offered, not built
    wb = openpyxl.load_workbook(io_bytes(offered["pack_xlsx"]()))
    assert built == ["pack_xlsx"]
    about = {r[0]: r[1] for r in wb["About"].iter_rows(values_only=True) if r[0]}
    assert "(lead01)" in about["Scope"] and about["Data as of"] == AS_OF

    # the brief's suggestions come from the province's product bundle (over a GB at a
    # million accounts): the Account page's first tab must not load it, the click does
    from ui import state as ui_state
    from valuation import prepared

    ui_state._bundle.clear()
    parts: list[str] = []
    real_part = prepared.part
    monkeypatch.setattr(prepared, "part", lambda s, dv, sid, name: parts.append(name)
                        or real_part(s, dv, sid, name))
    at = AppTest.from_file(str(ROOT / "pages" / "account.py"), default_timeout=180)
    at.session_state["user"] = am
    at.session_state["lang"] = "zh"
    at.run()
    assert not at.exception
    assert "拜访简报（PDF）" in [b.proto.label for b in at.get("download_button")]
    assert built == ["pack_xlsx"] and "bundle" not in parts
    pdf = offered["acc_brief"]()
    assert built[-1] == "brief_pdf" and pdf[:5] == b"%PDF-" and "bundle" in parts
    assert os.environ["VALUATION_DB"] == str(db)


def test_concentration_moves_and_segment_labels_by_hand():
    import pandas as pd

    from valuation import pyramid

    revenue = pd.Series([1.0] * 8 + [46.0, 46.0])  # 100 in all, two accounts hold 92
    conc = pyramid.concentration(revenue, shares=(0.1, 0.2, 0.5)).set_index("top_share")
    assert conc["accounts"].tolist() == [1, 2, 5]
    assert conc["revenue_share"].tolist() == pytest.approx([0.46, 0.92, 0.95])
    assert conc["monthly_revenue"].tolist() == pytest.approx([46.0, 92.0, 95.0])
    assert conc.at[0.2, "revenue_share"] == pytest.approx(pyramid.lorenz(revenue)[1])

    mig = pd.DataFrame({"from_tier": ["A", "A", "B", "C", "new", "B"],
                        "to_tier": ["A", "B", "A", "C", "C", "gone"],
                        "accounts": [5, 2, 1, 7, 3, 4], "revenue": [50.0, 8, 9, 7, 3, 4]})
    moves = pyramid.migration_summary(mig, ["A", "B", "C"]).set_index("move")
    assert moves["accounts"].to_dict() == {"up": 1, "same": 12, "down": 2, "new": 3, "gone": 4}
    assert moves.loc["same", "revenue"] == 57.0

    cities = pd.Series(["Hangzhou", None, "Ningbo", "Hangzhou"])
    assert pyramid.segment_labels(cities, "city", "zh").tolist() == ["杭州", "未知", "宁波", "杭州"]
    assert pyramid.segment_labels(cities, "city", "en").tolist() == [
        "Hangzhou", "Unknown", "Ningbo", "Hangzhou"]
    assert pyramid.segment_labels(pd.Series(["government", ""]), "industry", "en").tolist() == [
        i18n.enum("industry", "government", "en"), "Unknown"]


def test_the_retention_page_lists_what_the_pack_calls_model_flagged(db, analysed, monkeypatch):
    """One function (planning.model_flagged) behind the Retention page's at-risk list and the
    pack's: the page shows the first 50 of the lead's scope that no open order covers."""
    from streamlit.testing.v1 import AppTest

    from valuation import warnings as W
    from valuation.planning import model_flagged

    monkeypatch.setenv("VALUATION_DB", str(db))
    a, users, built = analysed
    with Store(db) as s:
        lead = access.get_user(s, "lead01")
    at = AppTest.from_file(str(ROOT / "pages" / "retention.py"), default_timeout=180)
    at.session_state["user"] = lead
    at.session_state["lang"] = "en"
    at.session_state["ret_tab"] = "Churn risk"  # a lazy tab: only the open one runs
    at.run()
    assert not at.exception, at.exception
    shown = next(d.value for d in at.dataframe if "Main factor" in d.value.columns)
    with Store(db) as s:
        risk = report._risk(s, a, built)
        open_ids = W.open_orders(s, lead)["account_id"].astype(str)
    scoped = a.frame[access.scope_filter(lead, a.frame, users).to_numpy()]
    want = model_flagged(risk, scoped, open_ids, 50)
    assert len(shown) > 0
    assert shown["Account ID"].tolist() == want["account_id"].tolist()
