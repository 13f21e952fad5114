"""The Calibrate tab of the Settings page: learn loyalty and competitor weights from churn."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ui.session import lang, tr
from valuation.calibrate import calibrate
from valuation.config import Settings
from valuation.measures import MEASURES
from valuation.store import Store

__all__ = ["calibration_view"]

_RESULT = "cal_result"


def calibration_view(store: Store, settings: Settings, settings_id: int) -> str | None:
    """Run the calibration on demand and show, per model and dimension, how it was validated,
    the AUC before and after with 95% intervals, and every weight old and new. Returns the
    calibrated settings TOML when the admin asks to preview it (then the page's preview and
    save apply), else None."""
    st.caption(tr("cal.caption"))
    c1, c2 = st.columns([1, 3])
    horizon = int(c1.number_input(tr("cal.horizon"), min_value=1, max_value=36, step=1,
                                  value=int(settings.get("calibration.horizon_months")),
                                  key="cal_horizon"))
    key = (store.data_version, settings_id, horizon)
    if c2.button(tr("cal.run"), key="cal_run", type="primary"):
        with st.spinner(tr("cal.running")):
            st.session_state[_RESULT] = (key, calibrate(store, settings, horizon_months=horizon))
    stored = st.session_state.get(_RESULT)
    if stored is None or stored[0] != key:
        return None
    result = stored[1]
    if "error" in result:
        st.warning(result["error"])
        return None
    d = result["dates"]
    st.markdown(tr("cal.read", h=result["horizon_months"], first=d["first"], last=d["last"],
                   n=d["count"]))
    port = result.get("portfolio") or {}
    st.dataframe(pd.DataFrame({
        tr("settings.dimension"): [tr(f"col.{d}_score") for d in port],
        tr("cal.auc_before"): [_auc(p["before"]) for p in port.values()],
        tr("cal.auc_after"): [_auc(p["after"]) for p in port.values()],
    }), hide_index=True, width="stretch")
    st.caption(tr("cal.portfolio"))
    for m in result["models"]:
        st.markdown(f"**{m['label_zh'] if lang() == 'zh' else m['label_en']}** · "
                    + tr("cal.accounts", n=f"{m['accounts']:,}"))
        st.dataframe(_summary(m), hide_index=True, width="stretch")
        st.dataframe(_weights(m), hide_index=True, width="stretch")
    if not result["changed"]:
        st.info(tr("cal.no_change"))
        return None
    if st.toggle(tr("cal.preview"), key="cal_preview"):
        return str(result["toml"])
    return None


def _auc(x: dict[str, Any] | None) -> str:
    if not x or x.get("auc") is None:
        return "–"
    return f"{x['auc']:.3f} ({x['low']:.3f}–{x['high']:.3f})"


def _summary(m: dict[str, Any]) -> pd.DataFrame:
    dims = m["dimensions"]
    return pd.DataFrame({
        tr("settings.dimension"): [tr(f"col.{d}_score") for d in dims],
        tr("cal.mode"): [tr(f"cal.mode.{e['mode']}") for e in dims.values()],
        tr("cal.events"): [e["events"] for e in dims.values()],
        tr("cal.auc_before"): [_auc(e.get("auc_before")) for e in dims.values()],
        tr("cal.auc_after"): [_auc(e.get("auc_after")) for e in dims.values()],
        tr("cal.note"): [_note(e) for e in dims.values()],
    })


def _note(e: dict[str, Any]) -> str:
    if e["mode"] == "kept" and "portfolio-wide" in e.get("message", ""):
        return tr("cal.kept_portfolio")
    if e["mode"] == "kept" and "do not separate churn better" in e.get("message", ""):
        return tr("cal.kept_worse")
    if e["mode"] == "kept":
        return tr("cal.kept_none") if not any(w["available"] for w in e["weights"]) else tr(
            "cal.kept_few", n=e["events"])
    return tr(f"cal.how.{e['mode']}")


def _weights(m: dict[str, Any]) -> pd.DataFrame:
    zh = lang() == "zh"
    rows = [(dim, w) for dim, e in m["dimensions"].items() for w in e["weights"]
            if not (w["old"] is None and not w["new"])]
    return pd.DataFrame({
        tr("settings.dimension"): [tr(f"col.{d}_score") for d, _ in rows],
        tr("cal.measure"): [MEASURES[w["measure"]].label_zh if zh
                            else MEASURES[w["measure"]].label_en for _, w in rows],
        tr("cal.old"): [_weight(w["old"]) for _, w in rows],
        tr("cal.new"): [_weight(w["new"] if w["new"] is not None else w["old"]) for _, w in rows],
        tr("cal.available"): [tr("label.yes") if w["available"] else tr("cal.unavailable")
                              for _, w in rows],
    })


def _weight(x: float | None) -> str:
    """A weight as a scorecard shows it; "–" for a measure the model does not use."""
    return "–" if x is None else f"{x:g}"
