"""Models & jobs (admin): the scheduled jobs with their last run, result and whether they are
due; the churn model's card and its retraining; the calibration in force, done on Settings."""

import json

import pandas as pd
import streamlit as st

from ui import admin as A
from ui import retention as R
from ui import state, widgets
from ui.nav import require_page
from ui.session import current_user, tr
from valuation import admin, jobs, settings_store

require_page(__file__)  # the role check of ui/nav.py PAGES, not only the navigation's
user = current_user()
store = state.store()
who = A.person()

st.title(tr("admin.models.title"))
st.caption(tr("admin.models.caption"))

_FAILED = "mj_failed"


def _result(text: object) -> str:
    """A job's result (JSON) as short "key value" text."""
    if not isinstance(text, str) or not text:
        return "–"
    try:
        got = json.loads(text)
    except ValueError:
        return text
    if not isinstance(got, dict):
        return str(got)
    return ", ".join(f"{k} {v:,}" if isinstance(v, int) and not isinstance(v, bool)
                     else f"{k} {v}" for k, v in got.items() if v is not None)


def _versions(text: object) -> str:
    try:
        v = json.loads(str(text))
    except ValueError:
        return "–"
    return tr("admin.models.versions", data=v.get("data_version") or "–",
              settings=v.get("settings_id", 0))


def _run(name: str) -> None:
    """Run one job now (even if it already ran for these versions), its stages shown as they
    start; the result stays in the table, a failure on the page until the next run."""
    stages = jobs.STAGES[name]
    with st.status(tr("admin.models.running", job=A.job_label(name)), expanded=True) as box:
        bar = st.progress(0.0)

        def say(stage: str) -> None:
            i = stages.index(stage) if stage in stages else 0
            text = tr(f"admin.stage.{stage}") if stage in stages else stage
            bar.progress(i / len(stages), text=text)
            st.write(text)

        try:
            out = jobs.run_job(store, name, force=True, user=user.user_id, progress=say)
        except Exception as exc:  # noqa: BLE001 - shown on the page; the job left nothing half-done
            box.update(label=tr("admin.models.failed", job=A.job_label(name)), state="error")
            st.session_state[_FAILED] = (name, f"{type(exc).__name__}: {exc}")
            return
        bar.progress(1.0, text=tr("admin.models.done", job=A.job_label(name)))
        box.update(label=tr("admin.models.done", job=A.job_label(name)), state="complete")
    st.session_state.pop(_FAILED, None)
    widgets.flash(tr("admin.models.done_result", job=A.job_label(name),
                     result=widgets.plain(_result(json.dumps(out["result"], default=str)))))
    st.rerun()


# -- jobs ------------------------------------------------------------------------------------
st.subheader(tr("admin.models.jobs"))
ov = jobs.overview(store) if store.has_facts else pd.DataFrame()
if ov.empty:
    st.info(tr("admin.models.no_data"))
else:
    st.dataframe(pd.DataFrame({
        tr("admin.models.job"): ov["job"].map(A.job_label),
        tr("admin.models.due"): ov["due"].map({True: "⚠ " + tr("admin.models.due_yes"),
                                               False: "✓ " + tr("admin.models.due_no")}),
        tr("admin.models.last_run"): A.moments(ov["at"]),
        tr("admin.models.by"): ov["user_id"].map(who),
        tr("admin.models.result"): ov["result"].map(_result),
        tr("admin.models.for"): ov["versions"].map(lambda v: _versions(v) if isinstance(v, str)
                                                   else "–"),
        tr("admin.models.what"): ov["job"].map(lambda j: tr(f"admin.job_help.{j}")),
    }), hide_index=True, width="stretch", column_config={
        tr("admin.models.result"): st.column_config.TextColumn(width="medium"),
        tr("admin.models.for"): st.column_config.TextColumn(width="medium")})
    st.caption(tr("admin.models.jobs_hint"))
    failed = st.session_state.get(_FAILED)
    if failed:
        st.error(tr("admin.models.failed", job=A.job_label(failed[0])))
        st.text(failed[1])
    runnable = [j for j in jobs.JOBS if j != "retrain"]  # retraining: under the model below
    cols = st.columns(len(runnable) + 1)
    for col, name in zip(cols, runnable, strict=False):
        if col.button(tr("admin.models.run", job=A.job_label(name)), key=f"mj_run_{name}",
                      icon=":material/play_arrow:", width="stretch"):
            _run(name)

# -- the churn model -----------------------------------------------------------------------------
st.subheader(tr("model.title"))
card = state.model_card()
if card is not None and card.get("data_version") != store.data_version:
    st.warning(tr("model.stale"))
if st.button(tr("model.train"), disabled=not store.has_facts, key="mj_train", type="primary",
             icon=":material/model_training:", help=tr("admin.models.train_help")):
    _run("retrain")
R.model_card_view(card)

# -- calibration ---------------------------------------------------------------------------------
st.subheader(tr("admin.models.calibration"))
st.caption(tr("admin.models.calibration_caption"))
hist = settings_store.settings_history(store)
cal = admin.calibrations(store)
active = hist[hist["active"].astype(bool)]
rows = []
if not active.empty:
    a = active.iloc[0]
    rows.append((tr("admin.models.in_force"), f"#{int(a['settings_id'])}",
                 a["comment"] if isinstance(a["comment"], str) and a["comment"] else "–",
                 who(a["updated_by"]), A.moments(pd.Series([a["updated_at"]])).iloc[0]))
else:
    rows.append((tr("admin.models.in_force"), tr("settings.defaults"), "–", "–", "–"))
if not cal.empty:
    c = cal.iloc[0]
    rows.append((tr("admin.models.last_calibration"), f"#{int(c['settings_id'])}",
                 str(c["comment"]), who(c["updated_by"]),
                 A.moments(pd.Series([c["updated_at"]])).iloc[0]))
else:
    rows.append((tr("admin.models.last_calibration"), tr("admin.models.never"), "–", "–", "–"))
st.dataframe(pd.DataFrame(rows, columns=[
    "", tr("admin.models.settings_version"), tr("admin.models.comment"), tr("admin.models.by"),
    tr("admin.models.at")]), hide_index=True, width="stretch")
st.page_link("pages/settings.py", label=tr("admin.models.calibrate_link"),
             icon=":material/tune:")
