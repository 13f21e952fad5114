"""Import (admin): upload fact files, read the validation report, commit all or nothing."""

import tomllib

import pandas as pd
import streamlit as st

from ui import state, widgets
from ui.nav import require_page
from ui.session import current_user, lang, tr
from valuation import i18n, ingest
from valuation.access import can_import
from valuation.settings_store import active_settings

require_page(__file__)  # the role check of ui/nav.py PAGES, not only the navigation's
user = current_user()
st.title(tr("import.title"))
if not can_import(user):
    st.error(tr("import.admin_only"))
    st.stop()

store = state.store()
st.caption(tr("import.caption"))
files = st.file_uploader(
    tr("import.files"), type=["csv", "xlsx", "parquet"], accept_multiple_files=True, key="imp_files"
)
c_map, c_sql = st.columns(2)
mapping_file = c_map.file_uploader(tr("import.mapping"), type=["toml"], key="imp_mapping")
transform_file = c_sql.file_uploader(tr("import.transform"), type=["sql"], key="imp_transform",
                                     help=tr("import.transform_help"))

mapping = None
if mapping_file is not None:
    try:
        mapping = tomllib.loads(mapping_file.getvalue().decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        st.error(tr("import.bad_mapping", error=str(exc)))
        st.stop()

uploads = [(f.name, f.getvalue()) for f in files or []]
if transform_file is not None:
    uploads.append((transform_file.name, transform_file.getvalue()))
merge = st.toggle(tr("import.merge"), key="imp_merge", help=tr("import.merge_help"))
c1, c2 = st.columns(2)
check = c1.button(tr("import.validate"), disabled=not uploads, key="imp_check")
commit = c2.button(tr("import.commit"), type="primary", disabled=not uploads, key="imp_commit")

if check or commit:
    with st.spinner(tr("import.working")):
        report = ingest.import_uploads(
            store, uploads, dry_run=not commit, user=user.user_id, mapping=mapping,
            max_shrink=float(active_settings(store).get("import.max_shrink")),
            allow_shrink=bool(st.session_state.get("imp_allow")), merge=merge,
        )
        if commit and report.ok:
            state.build_now()
    st.session_state["imp_report"] = (report, commit)

if "imp_report" in st.session_state:
    report, committed = st.session_state["imp_report"]
    counts = pd.DataFrame(
        {tr("import.table"): list(report.tables), tr("import.rows"): list(report.tables.values())}
    )
    if report.ok and committed:
        st.success(tr("import.done", version=report.data_version))
    elif report.ok:
        st.success(tr("import.valid"))
    else:
        st.error(tr("import.refused", n=sum(report.counts.values())))
        if set(report.counts) <= {"shrink", "app_orphans"}:  # only the guard stopped it
            st.checkbox(tr("import.allow_shrink"), key="imp_allow")
        st.dataframe(
            pd.DataFrame({tr("import.rule"): [ingest.RULE_ZH.get(r, r) if lang() == "zh" else r
                                             for r in report.counts],
                          tr("import.count"): list(report.counts.values())}),
            hide_index=True,
        )
        st.dataframe(widgets.report_table(report), hide_index=True, width="stretch")
        st.download_button(
            tr("import.download_report"), report.to_text(lang()).encode("utf-8"),
            file_name="import-report.txt", key="imp_report_dl",
        )
    if report.warnings:
        with st.expander(tr("import.notes", n=sum(report.warning_counts.values())),
                         expanded=report.ok):
            st.dataframe(widgets.report_table(report, warnings=True), hide_index=True,
                         width="stretch")
    st.dataframe(counts, hide_index=True)

st.subheader(tr("import.history"))
hist = store.import_history()
st.dataframe(i18n.headers(hist, lang()), hide_index=True, width="stretch")
st.caption(tr("import.version", version=store.data_version or "–"))
widgets.csv_download(hist, "import-history", key="imp_hist_dl")

# After an import: the churn model, the jobs and the data-quality checks are one click away.
card = state.model_card()
if card is not None and card.get("data_version") != store.data_version:
    st.warning(tr("model.stale"))
c1, c2 = st.columns(2)
c1.page_link("pages/models_jobs.py", label=tr("admin.import.models_link"),
             icon=":material/model_training:")
c2.page_link("pages/data_quality.py", label=tr("admin.import.quality_link"),
             icon=":material/fact_check:")
