"""Money in the units people read, through one formatter (valuation.i18n.money)."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from valuation.i18n import money

CASES = [  # yuan, Chinese, English: worked out by hand
    (0, "¥0", "¥0"),
    (830, "¥830", "¥830"),
    (1234, "¥1,234", "¥1.23k"),
    (12_345, "¥1.23万", "¥12.3k"),
    (126_100, "¥12.6万", "¥126k"),
    (9_999.6, "¥1万", "¥10k"),  # rounds up into the next unit, never "¥10,000"
    (999_999, "¥100万", "¥1M"),
    (1_200_000, "¥120万", "¥1.2M"),
    (250_000_000, "¥2.5亿", "¥250M"),  # the case that read "¥25,000.0万"
    (123_456_789, "¥1.23亿", "¥123M"),
    (3_456_000_000, "¥34.6亿", "¥3.46B"),
    (-45_678, "-¥4.57万", "-¥45.7k"),
]


@pytest.mark.parametrize(("yuan", "zh", "en"), CASES)
def test_amounts_read_in_the_readers_units(yuan, zh, en):
    assert money(yuan, "zh") == zh
    assert money(yuan, "en") == en


@pytest.mark.parametrize("missing", [None, float("nan"), "", "abc"])
def test_a_missing_amount_is_a_dash(missing):
    assert money(missing, "zh") == money(missing, "en") == "–"


UNITS = {"亿": 1e8, "万": 1e4, "B": 1e9, "M": 1e6, "k": 1e3, "": 1.0}


@given(st.floats(min_value=-1e13, max_value=1e13, allow_nan=False))
def test_the_text_reads_back_within_half_a_percent(yuan):
    for lang in ("zh", "en"):
        text = money(yuan, lang)
        m = re.fullmatch(r"(-?)¥([\d,]+(?:\.\d+)?)(亿|万|B|M|k|)", text)
        assert m, text
        back = float(m.group(2).replace(",", "")) * UNITS[m.group(3)]
        back = -back if m.group(1) else back
        assert math.isclose(back, yuan, rel_tol=5e-3, abs_tol=0.5), (yuan, text)
        assert len(m.group(2).replace(",", "").replace(".", "")) <= max(
            3, len(f"{abs(yuan) / UNITS[m.group(3)]:.0f}")), text  # three figures at most


def test_english_counts_take_the_singular_for_one():
    from valuation.i18n import STRINGS, t

    assert t("owners.assigned", "en", n=1, who="Li") == "1 account assigned to Li."
    assert t("owners.assigned", "en", n=2, who="Li") == "2 accounts assigned to Li."
    assert t("retention.assigned", "en", n=1, who="Li") == "1 work order assigned to Li."
    assert t("retention.assigned", "en", n="1,204", who="Li") == "1,204 work orders assigned to Li."
    assert t("account.branches_hidden", "en", n=1) == "1 branch is owned outside your scope."
    assert t("account.branches_hidden", "en", n=3) == "3 branches are owned outside your scope."
    assert t("retention.months", "en", m=1) == "Ending within 1 month"
    assert t("owners.assigned", "zh", n=1, who="李") == "已将 1 个客户分配给 李。"
    # no English string asks the reader to work out "(s)" any more
    assert not [k for k, (en, _) in STRINGS.items() if "(s)" in en]


def test_chart_text_takes_the_readers_theme_colour():
    """No hard-coded dark text in the charts: the pyramid's labels and the product graph's
    names follow the colour the page passes (the dark theme's light text)."""
    import json
    from pathlib import Path

    import pandas as pd

    from valuation import charts

    src = (Path(charts.__file__)).read_text(encoding="utf-8")
    assert "#333" not in src
    summary = pd.DataFrame({"tier": ["A", "B"], "label": ["Strategic", "Key"],
                            "accounts": [10, 30], "monthly_revenue": [5e5, 2e5],
                            "account_share": [0.25, 0.75], "revenue_share": [0.7, 0.3]})
    spec = json.dumps(charts.pyramid_chart(summary, "en", measure="accounts",
                                           ink=charts.INK["dark"]).to_dict())
    assert charts.INK["dark"] in spec and charts.INK["light"] not in spec


def test_the_digests_column_formatter_reads_plural_markers_too():
    import pandas as pd

    from valuation import i18n
    from valuation.digest import _vformat

    idx = pd.RangeIndex(3)
    out = _vformat(i18n.STRINGS["digest.overdue_days"][0], idx,
                   {"days": pd.Series(["1", "3", "12"], index=idx)})
    assert list(out) == ["1 day overdue", "3 days overdue", "12 days overdue"]
    assert list(out) == [i18n.t("digest.overdue_days", "en", days=d) for d in ("1", "3", "12")]
