"""Settings editors: model weights, cuts and tiers as tables, producing a settings document."""

from __future__ import annotations

import copy
from typing import Any

import pandas as pd
import streamlit as st

from ui.session import labeller, lang, tr
from ui.widgets import keep_choice
from valuation import i18n, schema
from valuation.config import MISSING, NORMS
from valuation.measures import MEASURES

__all__ = ["column_label", "cuts_editor", "history_table", "model_editor", "tier_editor"]


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
            "name": None,  # the measure's identifier: the label says it in the reader's words
            "label": st.column_config.TextColumn(tr("chart.measure")),
            "dimension": st.column_config.TextColumn(tr("settings.dimension")),
            "weight": st.column_config.NumberColumn(tr("settings.weight"), step=0.1),
            "norm": st.column_config.SelectboxColumn(
                tr("settings.norm"), options=list(NORMS), format_func=labeller("pf.norm.", NORMS)),
            "missing": st.column_config.SelectboxColumn(
                tr("settings.missing"), options=list(MISSING),
                format_func=labeller("pf.missing.", MISSING)),
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
    bases = ["value", "composite"]
    # the choice is kept as a code across a language switch (first: the settings' own)
    tiers["method"] = t1.selectbox(
        tr("settings.method"), methods, format_func=labeller("method.", methods),
        key=keep_choice("tier_method", tiers.get("method", "quantile")))
    tiers["basis"] = t2.selectbox(
        tr("settings.basis"), bases, format_func=labeller("basis.", bases),
        key=keep_choice("tier_basis", tiers.get("basis", "value")))
    tiers["composite_loyalty_weight"] = float(t3.number_input(
        tr("settings.loyalty_weight"), value=float(tiers.get("composite_loyalty_weight", 0.3)),
        min_value=0.0, max_value=1.0, step=0.05, key="tier_lw"))
    return d


def tier_editor(doc: dict[str, Any]) -> dict[str, Any]:
    """Tier names, shares, thresholds and service entitlements."""
    d = copy.deepcopy(doc)
    rows = pd.DataFrame(d["tiers"]["tier"])
    config: dict[str, Any] = {
        "code": st.column_config.TextColumn(tr("pf.set.code")),
        "label_en": st.column_config.TextColumn(tr("pf.set.label_en")),
        "label_zh": st.column_config.TextColumn(tr("pf.set.label_zh")),
        "share": st.column_config.NumberColumn(tr("settings.share"), format="%.2f", step=0.01),
        "threshold": st.column_config.NumberColumn(tr("settings.threshold"), step=1.0),
        "repair_sla_hours": st.column_config.NumberColumn(tr("pyramid.repair_sla")),
        "visit_days": st.column_config.NumberColumn(tr("pyramid.visit_days")),
        "dedicated_agent": st.column_config.CheckboxColumn(tr("pyramid.dedicated_agent")),
    }
    for c in rows.columns:  # a column a settings file adds: its label where there is one
        config.setdefault(c, st.column_config.Column(column_label(c)))
    edited = st.data_editor(
        rows, hide_index=True, width="stretch", key="tier_table", num_rows="fixed",
        disabled=["code"], column_config=config,
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
        base = col.removeprefix("min_").removeprefix("max_")
        if base != col:  # a bound: "employees at least 500"
            parts.append(tr(f"pf.set.scope_{col[:3]}", col=column_label(base),
                            value=", ".join(shown)))
        else:
            parts.append(f"{column_label(col)}: {', '.join(shown)}")
    return "; ".join(parts)


def column_label(name: str) -> str:
    """A settings field's or column's label in the reader's language (``pf.set.<name>``, else
    ``col.<name>``), the name itself only where the app has no label for it."""
    for key in (f"pf.set.{name}", f"col.{name}"):
        if key in i18n.STRINGS:
            return tr(key)
    return name


def history_table(hist: pd.DataFrame) -> pd.DataFrame:
    """The saved settings versions with headers and values in the reader's words."""
    from ui.widgets import dash, person_namer

    yes, no = tr("label.yes"), tr("label.no")
    who = person_namer()
    out = hist.assign(
        active=hist["active"].map(lambda a: yes if bool(a) else no),
        updated_by=hist["updated_by"].map(who),
        comment=dash(hist["comment"].where(hist["comment"].astype("string").str.strip() != "")),
    )
    return out.rename(columns={c: column_label(c) for c in out.columns})
