"""Data quality (admin): each fact table's last import and its change, how far each lags the
as-of date, references that find nothing, and missing values per column."""

import pandas as pd
import streamlit as st

from ui import admin as A
from ui import state, widgets
from ui.nav import require_page
from ui.session import tr
from valuation.settings_store import active_settings

require_page(__file__)  # the role check of ui/nav.py PAGES, not only the navigation's
store = state.store()
max_age = int(active_settings(store).get("quality.max_age_days"))

st.title(tr("admin.quality.title"))
st.caption(tr("admin.quality.caption", days=max_age))

with st.spinner(tr("admin.quality.working")):
    q = A.quality(max_age)
imp, age, refs, miss = q["imports"], q["age"], q["refs"], q["missing"]
as_of = q["as_of"]["as_of"].iloc[0]
who = A.person()

broken = refs[(refs["rows"] > 0) & ~refs["soft"]]
pool = refs[(refs["rows"] > 0) & refs["soft"]]
optional = miss[~miss["required"] & (miss["rows"] > 0)]
k = st.columns(5)
k[0].metric(tr("admin.quality.as_of"), str(as_of or "–"), help=tr("admin.quality.as_of_help"))
latest = A.moments(imp["at"].dropna().sort_values().tail(1))
k[1].metric(tr("admin.quality.last_import"), latest.iloc[0][:10] if len(latest) else "–",
            help=latest.iloc[0] if len(latest) else None)
k[2].metric(tr("admin.quality.behind_n"), f"{int(age['behind'].sum()):,}",
            help=tr("admin.quality.behind_help", days=max_age))
k[3].metric(tr("admin.quality.broken_n"), f"{int(broken['rows'].sum()):,}",
            help=tr("admin.quality.broken_help"))
k[4].metric(tr("admin.quality.gaps_n"), f"{int((optional['missing'] > 0).sum()):,}",
            help=tr("admin.quality.gaps_help"))

st.subheader(tr("admin.quality.imports"))
have = imp[imp["rows_now"] > 0].reset_index(drop=True)


def _count(v: pd.Series, sign: bool = False) -> pd.Series:
    """Counts as text with thousands separators; "–" where there is none (no earlier
    import)."""
    fmt = "{:+,}" if sign else "{:,}"
    return v.astype(object).map(lambda x: "–" if pd.isna(x) else fmt.format(int(x)))


def _height(n: int) -> int:
    return 38 + 35 * n  # every row shown, no inner scroll


st.dataframe(pd.DataFrame({
    tr("admin.audit.table"): have["table_name"].map(A.table_label),
    tr("admin.quality.rows_now"): have["rows_now"],
    tr("admin.quality.imported_at"): A.moments(have["at"]),
    tr("admin.quality.imported_by"): have["user_id"].map(who),
    tr("admin.quality.rows_then"): _count(have["rows"]),
    tr("admin.quality.rows_before"): _count(have["previous_rows"]),
    tr("admin.quality.change"): _count(have["change"], sign=True),
    tr("admin.quality.source"): widgets.dash(have["source"]),
}), hide_index=True, width="stretch", height=_height(len(have)), column_config={
    tr("admin.quality.rows_now"): st.column_config.NumberColumn(format="localized"),
})
empty = imp.loc[imp["rows_now"] == 0, "table_name"].map(A.table_label)
if len(empty):
    st.caption(tr("admin.quality.empty_tables", tables=", ".join(empty)))

st.subheader(tr("admin.quality.age"))
dated = age[age["newest"].notna()].reset_index(drop=True)
st.dataframe(pd.DataFrame({
    tr("admin.audit.table"): dated["table_name"].map(A.table_label),
    tr("admin.quality.date_column"): dated["column"],
    tr("admin.quality.newest"): dated["newest"].astype(str),
    tr("admin.quality.days"): dated["days"],
    tr("admin.status"): dated["behind"].map({True: "⚠ " + tr("admin.quality.behind"),
                                             False: "✓ " + tr("admin.quality.current")}),
}), hide_index=True, width="stretch", height=_height(len(dated)))

st.subheader(tr("admin.quality.refs"))
failing = refs[refs["rows"] > 0].reset_index(drop=True)
if failing.empty:
    st.success(tr("admin.quality.refs_ok"))
else:
    st.dataframe(pd.DataFrame({
        tr("admin.audit.table"): failing["table_name"].map(A.table_label),
        tr("admin.quality.columns"): failing["columns"],
        tr("admin.quality.refers_to"): failing["refers_to"],
        tr("admin.quality.failed_rows"): _count(failing["rows"]),
        tr("admin.quality.example"): widgets.dash(failing["example"]),
        tr("admin.quality.meaning"): failing["soft"].map(
            {True: tr("admin.quality.soft"), False: tr("admin.quality.hard")}),
    }), hide_index=True, width="stretch")
    if len(pool):
        st.caption(tr("admin.quality.pool_hint"))

st.subheader(tr("admin.quality.missing"))
only = st.toggle(tr("admin.quality.only_gaps"), value=True, key="dq_only")
m = miss[miss["rows"] > 0]
if only:
    m = m[m["missing"] > 0]
m = m.sort_values(["share", "table_name"], ascending=[False, True]).reset_index(drop=True)
if m.empty:
    st.success(tr("admin.quality.no_gaps"))
else:
    st.dataframe(pd.DataFrame({
        tr("admin.audit.table"): m["table_name"].map(A.table_label),
        tr("admin.quality.column"): m["column"],
        tr("admin.quality.required"): m["required"].map({True: tr("label.yes"), False: ""}),
        tr("admin.quality.missing_n"): _count(m["missing"]),
        tr("admin.quality.rows"): _count(m["rows"]),
        tr("admin.quality.share"): m["share"],
    }), hide_index=True, width="stretch", column_config={
        tr("admin.quality.share"): st.column_config.ProgressColumn(
            min_value=0.0, max_value=1.0, format="percent"),
    })
    widgets.csv_download(lambda: miss, "missing-values", key="dq_missing_dl")
