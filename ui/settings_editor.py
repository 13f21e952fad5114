"""Settings editors: model weights, cuts and tiers as tables, producing a settings document."""

from __future__ import annotations

import copy
from typing import Any

import pandas as pd
import streamlit as st

from ui.session import labeller, lang, tr
from valuation import i18n, schema
from valuation.config import NORMS
from valuation.measures import MEASURES

__all__ = ["cuts_editor", "model_editor", "tier_editor"]


def model_editor(doc: dict[str, Any], i: int) -> dict[str, Any]:
    """Edit one model's value weights and measure weights / normalisations; the edited copy."""
    m = copy.deepcopy(doc["models"][i])
    zh = lang() == "zh"
    c1, c2, c3 = st.columns(3)
    m["precedence"] = int(c1.number_input(tr("settings.precedence"), value=int(m.get("precedence", 100)),
                                          step=1, key=f"prec_{i}"))
    vw = m.get("value_weights", {"influence": 0.5, "payment": 0.5})
    m["value_weights"] = {
        "influence": float(c2.number_input(tr("settings.influence_weight"), value=float(vw["influence"]),
                                           min_value=0.0, step=0.05, key=f"vwi_{i}")),
        "payment": float(c3.number_input(tr("settings.payment_weight"), value=float(vw["payment"]),
                                         min_value=0.0, step=0.05, key=f"vwp_{i}")),
    }
    st.caption(tr("settings.scope", scope=_scope_text(m.get("scope") or {})))
    rows = pd.DataFrame(m["measures"])
    if "missing" not in rows.columns:
        rows["missing"] = [MEASURES[n].missing for n in rows["name"]]
    rows["missing"] = rows["missing"].fillna(rows["name"].map(lambda n: MEASURES[n].missing))
    rows.insert(1, "label", rows["name"].map(lambda n: MEASURES[n].label_zh if zh else MEASURES[n].label_en))
    rows.insert(2, "dimension", rows["name"].map(lambda n: tr(f"col.{MEASURES[n].dimension}_score")))
    edited = st.data_editor(
        rows, hide_index=True, width="stretch", key=f"measures_{i}", num_rows="fixed",
        disabled=["name", "label", "dimension"],
        column_config={
            "name": st.column_config.TextColumn(tr("chart.measure")),
            "label": st.column_config.TextColumn(tr("col.name")),
            "dimension": st.column_config.TextColumn(tr("settings.dimension")),
            "weight": st.column_config.NumberColumn(tr("settings.weight"), step=0.1),
            "norm": st.column_config.SelectboxColumn(tr("settings.norm"), options=list(NORMS)),
            "missing": st.column_config.SelectboxColumn(tr("settings.missing"),
                                                        options=["zero", "median", "best"]),
        },
    )
    m["measures"] = [
        {"name": r["name"], "weight": float(r["weight"]) if pd.notna(r["weight"]) else float("nan"),
         "norm": r["norm"], "missing": r["missing"]}
        for r in edited.to_dict("records")
    ]
    return m


def cuts_editor(doc: dict[str, Any]) -> dict[str, Any]:
    """Positioning cuts and the tiering rule."""
    d = copy.deepcopy(doc)
    pos = d.setdefault("positioning", {})
    c = st.columns(3)
    for col, key in zip(c, ("value_high", "loyalty_high", "competitor_high"), strict=True):
        pos[key] = float(col.number_input(tr(f"settings.{key}"), value=float(pos.get(key, 50.0)),
                                          min_value=0.0, max_value=100.0, step=1.0, key=f"cut_{key}"))
    tiers = d.setdefault("tiers", {})
    t1, t2, t3 = st.columns(3)
    methods = ["quantile", "threshold", "kmeans"]
    tiers["method"] = t1.selectbox(tr("settings.method"), methods,
                                   index=methods.index(tiers.get("method", "quantile")),
                                   format_func=labeller("method.", methods), key="tier_method")
    tiers["basis"] = t2.selectbox(tr("settings.basis"), ["value", "composite"],
                                  index=["value", "composite"].index(tiers.get("basis", "value")),
                                  format_func=labeller("basis.", ["value", "composite"]), key="tier_basis")
    tiers["composite_loyalty_weight"] = float(t3.number_input(
        tr("settings.loyalty_weight"), value=float(tiers.get("composite_loyalty_weight", 0.3)),
        min_value=0.0, max_value=1.0, step=0.05, key="tier_lw"))
    return d


def tier_editor(doc: dict[str, Any]) -> dict[str, Any]:
    """Tier names, shares, thresholds and service entitlements."""
    d = copy.deepcopy(doc)
    rows = pd.DataFrame(d["tiers"]["tier"])
    edited = st.data_editor(
        rows, hide_index=True, width="stretch", key="tier_table", num_rows="fixed",
        disabled=["code"],
        column_config={
            "share": st.column_config.NumberColumn(tr("settings.share"), format="%.2f", step=0.01),
            "threshold": st.column_config.NumberColumn(tr("settings.threshold"), step=1.0),
            "repair_sla_hours": st.column_config.NumberColumn(tr("pyramid.repair_sla")),
            "visit_days": st.column_config.NumberColumn(tr("pyramid.visit_days")),
            "dedicated_agent": st.column_config.CheckboxColumn(tr("pyramid.dedicated_agent")),
        },
    )
    d["tiers"]["tier"] = [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
        for r in edited.to_dict("records")
    ]
    return d


def _scope_text(scope: dict[str, Any]) -> str:
    """A model's scope in words: column: allowed values (labelled), or everyone."""
    if not scope:
        return tr("settings.everyone")
    parts = []
    for col, allowed in scope.items():
        values = allowed if isinstance(allowed, list) else [allowed]
        enum = schema.table("accounts").column(col.removeprefix("min_").removeprefix("max_")).enum
        shown = [i18n.enum(enum, v, lang()) if enum else str(v) for v in values]
        parts.append(f"{tr(f'col.{col}') if f'col.{col}' in i18n.STRINGS else col}: {', '.join(shown)}")
    return "; ".join(parts)
