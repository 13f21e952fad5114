"""Structure: the library never imports streamlit; every page is registered; labels are translated."""

import ast
import re
from pathlib import Path

import pandas as pd
import pytest

from valuation import i18n
from valuation.schema import ENUMS

ROOT = Path(__file__).resolve().parent.parent
UI_FILES = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "ui").glob("*.py"))]
LABEL_CALLS = {
    "title", "header", "subheader", "caption", "markdown", "write", "button", "text_input",
    "selectbox", "multiselect", "metric", "info", "error", "warning", "success", "toggle",
    "checkbox", "radio", "download_button", "file_uploader", "form_submit_button", "expander",
    "tabs", "number_input", "date_input", "text_area", "slider", "spinner", "page_link",
}


def test_library_never_imports_streamlit():
    offenders = []
    for path in (ROOT / "valuation").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            if any(n == "streamlit" or n.startswith("streamlit.") for n in names):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_every_page_file_is_registered():
    from ui.nav import PAGES

    registered = {p.path for p in PAGES}
    files = {f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py")}
    assert files == registered


def test_every_string_has_both_languages():
    for key, (en, zh) in i18n.STRINGS.items():
        assert en.strip() and zh.strip(), key
        assert re.search(r"[\u4e00-\u9fff]", zh) or key in {"col.account_id"}, f"{key} has no Chinese"
        # the same placeholders in both languages
        assert set(re.findall(r"{(\w+)", en)) == set(re.findall(r"{(\w+)", zh)), key


def test_every_enum_has_both_labels():
    for name, codes in ENUMS.items():
        for code, (en, zh) in codes.items():
            assert en and zh, (name, code)


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.name)
def test_ui_labels_go_through_i18n(path):
    """No literal natural-language text as the label of a Streamlit element."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bad = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in LABEL_CALLS or not node.args:
            continue
        arg = node.args[0]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            if re.search(r"[A-Za-z\u4e00-\u9fff]{2,}", arg.value) and not arg.value.startswith("pages/"):
                bad.append(f"line {node.lineno}: {arg.value!r}")
    assert bad == []


def test_every_label_key_used_exists():
    used = set()
    for path in UI_FILES + list((ROOT / "valuation").glob("*.py")):
        used |= set(re.findall(r"\btr?\(\s*\"([a-z_]+\.[a-z_0-9.]+)\"", path.read_text(encoding="utf-8")))
    from ui.nav import PAGES

    used |= {p.title_key for p in PAGES}
    used |= {f"scope.{r}" for r in ENUMS["role"]}
    missing = sorted(k for k in used if k not in i18n.STRINGS)
    assert missing == []


def test_data_format_documents_every_column():
    from valuation.schema import FACT_TABLES

    doc = (ROOT / "docs" / "data-format.md").read_text(encoding="utf-8")
    for t in FACT_TABLES:
        assert f"## `{t.name}` · {t.zh}" in doc
        section = doc.split(f"## `{t.name}`", 1)[1].split("\n## ", 1)[0]
        for c in t.columns:
            assert f"| `{c.name}` | {c.zh} | {c.dtype} |" in section, (t.name, c.name)


def test_places_read_in_chinese():
    from valuation import i18n
    from valuation.demo import _CITIES

    assert i18n.district("Xiaoshan", "zh") == "萧山区"  # 区
    assert i18n.district("Chun'an", "zh") == "淳安县"  # 县
    assert i18n.district("Yuyao", "zh") == "余姚市"  # 县级市
    assert i18n.district("Xiaoshan", "en") == "Xiaoshan"
    assert i18n.district("Somewhere", "zh") == "Somewhere" and i18n.district(None, "zh") == ""
    every = [d.split(":")[0] for *_, ds in _CITIES for d in ds.split()]
    assert all(i18n.district(d, "zh") != d for d in every)
    row = pd.Series({"city": "Hangzhou", "district": "Xiaoshan"})
    table = i18n.profile_table(row, "zh").set_index("字段")["值"]
    assert (table["地市"], table["区县"]) == ("杭州", "萧山区")


def test_system_plans_read_in_the_readers_language():
    from valuation import i18n
    from valuation.warnings import COUNTER_PLAN_PREFIX, COUNTER_PLAN_SUFFIX

    written = COUNTER_PLAN_PREFIX + "contested, visibly churning" + COUNTER_PLAN_SUFFIX
    assert i18n.plan_action(written, "zh").startswith("反抢计划(异网争夺, 明显离网迹象):")
    assert i18n.plan_action(written, "en").startswith(
        "Counter-poaching plan (contested by a competitor, visibly churning): the team lead")
    assert "Counter" not in i18n.plan_action(written, "zh")
    mine = "Propose cloud PBX (contested) with the renewal"
    assert i18n.plan_action(mine, "zh") == mine and i18n.plan_action(None, "en") == ""
