"""Small Streamlit building blocks shared by pages: metrics, money, account picking."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from ui.session import lang, tr
from valuation import i18n

__all__ = ["csv_download", "keep_choice", "money", "open_account", "pct", "plain",
           "report_table"]


_MARKUP = str.maketrans({c: "\\" + c for c in "\\`*_{}[]()<>#+-.!|$~:"})


def plain(text: object) -> str:
    """User-supplied text (a name, a note) safe inside Streamlit's Markdown elements (header,
    caption, markdown, button labels): every Markdown, HTML and LaTeX sign is escaped and bare
    addresses are broken by a zero-width space, so an imported name shows as the text it is
    and never loads an image, a link or a formula."""
    if text is None:
        return ""
    # a zero-width space keeps bare addresses from turning into links (GFM autolinks)
    t = str(text).replace("://", ":\u200b//").replace("www.", "www\u200b.").replace("@", "@\u200b")
    return t.translate(_MARKUP)


def money(yuan: float) -> str:
    """Yuan in the reader's units (万 / 亿, k / M / B): :func:`valuation.i18n.money`."""
    return i18n.money(yuan, lang())


def person_namer(names: dict[str, str] | None = None) -> Callable[[object], str]:
    """user_id -> the person's name in the reader's language (``names``, else the users
    table's): "System" for the jobs, the id itself only for someone no longer in the users
    table, "" for nobody."""
    if names is None:
        from ui import state

        users = state.users().set_index("user_id")
        col = "name" if lang() == "zh" else "name_en"
        names = users[col].fillna(users["name"]).to_dict()

    def name(u: object) -> str:
        if u is None or u != u or u == "":
            return ""
        if u == "system":
            return tr("label.system")
        return str(names.get(str(u), u))

    return name


def dash(values: pd.Series) -> pd.Series:
    """Missing values shown as "–" (never "None") in a table column of text."""
    return values.astype(object).where(values.notna(), "–")


def ink() -> str:
    """The chart text colour for the reader's theme (light unless the browser says dark)."""
    from valuation.charts import INK

    theme = getattr(getattr(st.context, "theme", None), "type", None)
    return INK.get(str(theme), INK["light"])


def pct(x: float, *, signed: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:+.1%}" if signed else f"{x:.1%}"


def open_account(account_id: str) -> None:
    """Go to the Account page for ``account_id``."""
    st.session_state["account_id"] = account_id
    st.switch_page("pages/account.py", query_params={"account": account_id})


def csv_download(df: pd.DataFrame | Callable[[], pd.DataFrame], name: str, *,
                 key: str) -> None:
    """Two download buttons side by side for ``df`` (or what a zero-argument function returns:
    the whole table of a page that shows only its first rows): UTF-8-with-BOM CSV (opens
    cleanly in Excel), text that a spreadsheet would run as a formula escaped
    (:func:`valuation.safety.escape_formulas`); and the same table as an XLSX workbook
    (``key`` + "_xlsx"), numbers as numbers and formula-like text an inert string cell
    (:func:`valuation.safety.to_xlsx`). Headers named by a column (``industry``) are shown in
    the reader's language in both."""
    from valuation import safety

    L = lang()

    def table() -> pd.DataFrame:
        # Built only when clicked (and outside the script run: it may use nothing but what it
        # closes over); a page with a download costs nothing until then.
        return i18n.headers(df() if callable(df) else df, L)

    def build() -> bytes:
        return safety.escape_formulas(table()).to_csv(index=False).encode("utf-8-sig")

    def build_xlsx() -> bytes:
        return safety.to_xlsx(table(), sheet=name)

    with st.container(horizontal=True, gap="small"):
        st.download_button(
            tr("action.download_csv"),
            build,
            file_name=f"{name}.csv",
            mime="text/csv",
            key=key,
            icon=":material/download:",
            on_click="ignore",
        )
        st.download_button(
            tr("pf.download_xlsx"),
            build_xlsx,
            file_name=f"{name}.xlsx",
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            key=f"{key}_xlsx",
            icon=":material/table_view:",
            on_click="ignore",
            help=tr("pf.download_xlsx_help", rows=f"{safety.XLSX_ROWS:,}"),
        )


_CHOICE_LANG = "_choice_lang"  # widget key -> the language its choice was last shown in


def keep_choice(key: str, default: Any = None) -> str:
    """``key`` for a selectbox, multiselect or segmented control whose options are codes
    labelled by ``format_func``, so that a language switch keeps its choice (call it on every
    run, before the widget: ``st.multiselect(..., key=widgets.keep_choice("pf_city"))``).

    Streamlit keeps such a widget's choice as its labels; after a switch the labels are the
    other language's, match no option and the choice would be dropped (or shown in the old
    language). On the first run after a switch the choice, read as codes through the labels
    it was chosen with, is set again, and the widget shows it in the new language. ``default``
    (a code, or a list for a multiselect) is the first choice: set here rather than passed to
    the widget, which must then get no ``default`` / ``index`` of its own."""
    seen = st.session_state.setdefault(_CHOICE_LANG, {})
    now = lang()
    if key in st.session_state:
        if seen.get(key, now) != now:
            st.session_state[key] = st.session_state[key]  # codes, read through the old labels
    elif default is not None:
        st.session_state[key] = default
    seen[key] = now
    return key


_FLASH = "_flash_messages"


def flash(message: str) -> None:
    """A message that outlives the rerun that follows a save: shown as a toast on the next
    run (see :func:`show_flashes`), instead of an st.success the rerun wipes at once."""
    st.session_state.setdefault(_FLASH, []).append(message)


def show_flashes() -> None:
    """Toast and forget the messages queued by :func:`flash` (called once per run)."""
    for m in st.session_state.pop(_FLASH, []):
        st.toast(m, icon=":material/check_circle:")


TABLE_ROWS = 1000
"""Rows a page table shows at most; the whole set is one click away as a download."""


def capped(df: Any, rows: int = TABLE_ROWS) -> Any:
    """The first ``rows`` rows of a table (or of an array of row positions) for the page (a
    province's million rows would be a message of hundreds of megabytes); say so with
    :func:`capped_note`."""
    return df if len(df) <= rows else df[:rows]


def selection_key(prefix: str, rows: pd.DataFrame, columns: list[str]) -> str:
    """A table widget's key that changes whenever the rows it shows change (which rows, in
    which order, at which version). Streamlit keeps a selection as row positions across a data
    change; with this key a changed table starts with an empty selection, so the positions a
    page reads always point at the rows the reader ticked."""
    hashed = pd.util.hash_pandas_object(rows[columns].astype(str), index=False).to_numpy()
    return f"{prefix}:{hashlib.blake2b(hashed.tobytes(), digest_size=8).hexdigest()}"


def capped_note(total: int, rows: int = TABLE_ROWS) -> str:
    """'' when nothing was cut, else "first N of M shown; download for all"."""
    return "" if total <= rows else tr("table.capped", n=f"{rows:,}", total=f"{total:,}")


def report_table(report: object, *, warnings: bool = False) -> pd.DataFrame:
    """An import report's problems (or notes) in the reader's language: where, rule, why."""
    from valuation.ingest import RULE_ZH

    items = report.warnings if warnings else report.problems  # type: ignore[attr-defined]
    zh = lang() == "zh"
    return pd.DataFrame({
        tr("import.file"): [p.file for p in items],
        tr("import.row"): pd.array([p.row for p in items], dtype="Int64"),
        tr("import.column"): [p.column or "" for p in items],
        tr("import.value"): [p.value if p.value is not None else "" for p in items],
        tr("import.rule"): [RULE_ZH.get(p.rule, p.rule) if zh else p.rule for p in items],
        tr("import.message"): [(p.message_zh or p.message) if zh else p.message for p in items],
    })


def table_config() -> dict[str, object]:
    """Number formats for the account table's columns, by their translated headers."""
    money_fmt = st.column_config.NumberColumn(format="¥%,.0f")
    score_fmt = st.column_config.ProgressColumn(min_value=0, max_value=100, format="%.0f")
    return {
        tr("col.monthly_revenue"): money_fmt,
        tr("col.arrears_3m"): money_fmt,
        tr("col.revenue_trend"): st.column_config.NumberColumn(format="percent"),
        tr("col.share_of_wallet"): st.column_config.NumberColumn(format="percent"),
        tr("col.value_score"): score_fmt,
        tr("col.loyalty_score"): score_fmt,
        tr("col.competitor_score"): score_fmt,
        tr("col.value_change"): st.column_config.NumberColumn(format="%+.1f"),
    }


def strategy_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Accounts and monthly revenue per strategy, largest revenue first, labelled."""
    g = frame.groupby("strategy").agg(accounts=("monthly_revenue", "size"),
                                      revenue=("monthly_revenue", "sum"))
    g = g.sort_values("revenue", ascending=False).reset_index()
    return pd.DataFrame({
        tr("col.strategy"): g["strategy"].map(lambda s: i18n.strategy(s, lang())),
        tr("kpi.accounts"): g["accounts"],
        tr("col.monthly_revenue"): g["revenue"].map(money),
    })


def tier_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The per-tier summary with translated headers and service entitlements."""
    yes, no = tr("label.yes"), tr("label.no")
    return pd.DataFrame({
        tr("col.tier"): summary["tier"] + " · " + summary["label"],
        tr("kpi.accounts"): summary["accounts"].astype(int),
        tr("pyramid.account_share"): summary["account_share"].map(pct),
        tr("col.monthly_revenue"): summary["monthly_revenue"].map(money),
        tr("pyramid.revenue_share"): summary["revenue_share"].map(pct),
        tr("col.value_score"): summary["value_score"].round(1),
        tr("col.loyalty_score"): summary["loyalty_score"].round(1),
        tr("col.competitor_score"): summary["competitor_score"].round(1),
        tr("pyramid.dedicated_agent"): summary["dedicated_agent"].map({True: yes, False: no}),
        tr("pyramid.repair_sla"): summary["repair_sla_hours"].map("{:g} h".format),
        tr("pyramid.visit_days"): summary["visit_days"],
    })


def kpi_table(kpis: pd.DataFrame, by: str) -> pd.DataFrame:
    """KPIs per city or industry, labelled."""
    L = lang()
    known = kpis[by].map(lambda x: isinstance(x, str) and x != "")
    label = (kpis[by].map(lambda x: i18n.city(x, L) if isinstance(x, str) else "") if by == "city"
             else kpis[by].map(lambda x: i18n.enum(by, x, L) if isinstance(x, str) else ""))
    label = label.where(known, tr("label.unknown"))
    return pd.DataFrame({
        tr(f"col.{by}"): label,
        tr("kpi.accounts"): kpis["accounts"].astype(int),
        tr("col.monthly_revenue"): kpis["monthly_revenue"].map(money),
        tr("pyramid.top_share"): kpis["top_share"].map(pct),
        tr("col.value_score"): kpis["value_score"].round(1),
        tr("col.loyalty_score"): kpis["loyalty_score"].round(1),
        tr("col.competitor_score"): kpis["competitor_score"].round(1),
        tr("kpi.churned_12m"): kpis["churned_12m"].astype(int),
        tr("pyramid.churn_rate"): kpis["churn_rate_12m"].map(pct),
        tr("kpi.arrears_rate"): kpis["arrears_rate"].map(pct),
    })


def group_table(groups: pd.DataFrame) -> pd.DataFrame:
    """Groups scored as one, with the head's own tier beside the group's."""
    zh = lang() == "zh"
    return pd.DataFrame({
        tr("col.account_id"): groups["group_id"],
        tr("col.name"): dash(groups["name"] if zh else groups["name_en"].fillna(groups["name"])),
        tr("pyramid.members"): groups["members"],
        tr("col.monthly_revenue"): groups["monthly_revenue"].map(money),
        tr("col.value_score"): groups["value_score"].round(1),
        tr("col.loyalty_score"): groups["loyalty_score"].round(1),
        tr("pyramid.group_tier"): groups["group_tier"],
        tr("pyramid.head_tier"): dash(groups["head_tier"]),
    })


def detail_config() -> dict[str, object]:
    """Formats for an account's holdings and contracts tables."""
    day = st.column_config.DateColumn(format="YYYY-MM-DD")
    return {
        tr("col.monthly_revenue"): st.column_config.NumberColumn(format="¥%,.0f"),
        tr("col.value"): st.column_config.NumberColumn(format="¥%,.0f"),
        tr("col.start_date"): day,
        tr("col.end_date"): day,
    }
