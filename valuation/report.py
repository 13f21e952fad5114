"""The executive pack (PDF and XLSX) and the one-page account brief (PDF).

:func:`executive_pack` computes the pack's tables as pandas frames from the analysed portfolio
of one scope: the value pyramid (distribution, value and composition per tier), revenue
concentration, tier migration since the previous score snapshot, KPIs by city and industry,
value at risk by team, the top movers up and down, and the accounts the churn model flags
before any warning rule. :func:`pack_pdf` lays them out for A4 (WeasyPrint: HTML and CSS,
running header and footer, tables that break across pages with their header repeated) with
the pages' own charts (the Altair specifications of :mod:`valuation.charts`, rendered to SVG
by vl-convert); :func:`pack_xlsx` writes one sheet per table, numbers as numbers, behind a
cover sheet. :func:`account_brief` and :func:`brief_pdf` make the one-page visit brief of an
account with the same machinery.

Every string from the data is HTML-escaped in the PDF (it shows as the text it is) and made
inert in the XLSX (:func:`valuation.safety.escape_formulas`). Both are in one language
(:func:`valuation.i18n.t`) and dated with the data's as-of date and the settings version.
A report with Chinese text needs the CJK font :data:`CJK_FAMILY`; without it the report
fails naming the font, rather than printing empty boxes.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import re
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from valuation import charts, history, i18n, pyramid
from valuation.config import Settings
from valuation.planning import model_flagged
from valuation.portfolio import with_previous
from valuation.store import Store

__all__ = [
    "CJK_FAMILY",
    "Brief",
    "Pack",
    "ReportError",
    "account_brief",
    "brief_for",
    "brief_pdf",
    "cjk_font",
    "executive_pack",
    "pack_for",
    "pack_pdf",
    "pack_xlsx",
    "scope_label",
]

CJK_FAMILY = "Noto Sans CJK SC"
"""The font Chinese text is set in (Debian's fonts-noto-cjk); embedded as a subset."""
_FONTS = f'"{CJK_FAMILY}", "Noto Sans", "DejaVu Sans", sans-serif'
_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
UNASSIGNED_TEAM = "__unassigned__"


class ReportError(ValueError):
    """A report that cannot be made as asked (a missing font, an unknown user)."""


# ---------------------------------------------------------------------------------------------
# The pack's tables
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Col:
    """A column of a table for people: frame field, header key, kind (text; label: text kept
    on one line; int, money, pct, score, signed, ratio, hours, date)."""

    field: str
    key: str
    kind: str = "text"


# name -> (title key, columns): the order of the XLSX sheets and of the PDF's tables.
LAYOUT: dict[str, tuple[str, tuple[Col, ...]]] = {
    "pyramid": ("report.pyramid", (
        Col("tier_name", "col.tier", "label"), Col("accounts", "kpi.accounts", "int"),
        Col("account_share", "pyramid.account_share", "pct"),
        Col("monthly_revenue", "col.monthly_revenue", "money"),
        Col("revenue_share", "pyramid.revenue_share", "pct"),
        Col("value_score", "col.value_score", "score"),
        Col("loyalty_score", "col.loyalty_score", "score"),
        Col("competitor_score", "col.competitor_score", "score"),
        Col("repair_sla_hours", "pyramid.repair_sla", "hours"),
        Col("visit_days", "pyramid.visit_days", "int"),
        Col("agent", "pyramid.dedicated_agent"))),
    "composition": ("report.composition", (
        Col("dimension", "report.col.dimension"), Col("tier", "col.tier"),
        Col("segment", "report.col.segment"), Col("revenue", "col.monthly_revenue", "money"),
        Col("share", "report.col.share_in_tier", "pct"))),
    "concentration": ("report.concentration", (
        Col("top_share", "report.col.largest", "pct"), Col("accounts", "kpi.accounts", "int"),
        Col("monthly_revenue", "col.monthly_revenue", "money"),
        Col("revenue_share", "pyramid.revenue_share", "pct"))),
    "migration": ("report.migration", (
        Col("from_label", "chart.from_tier"), Col("to_label", "chart.to_tier"),
        Col("accounts", "kpi.accounts", "int"), Col("revenue", "col.monthly_revenue", "money"))),
    "moves": ("report.moves", (
        Col("move_label", "report.col.move"), Col("accounts", "kpi.accounts", "int"),
        Col("revenue", "col.monthly_revenue", "money"))),
    "kpis_city": ("report.kpis_city", ()),
    "kpis_industry": ("report.kpis_industry", ()),
    "risk_by_team": ("report.risk_by_team", (
        Col("team", "col.team"), Col("accounts", "kpi.accounts", "int"),
        Col("annual_revenue", "report.col.annual_revenue", "money"),
        Col("churn_probability", "report.col.mean_probability", "pct"),
        Col("revenue_at_risk", "account.revenue_at_risk", "money"),
        Col("ltv_at_risk", "account.ltv_at_risk", "money"),
        Col("share", "report.col.risk_share", "pct"))),
    "movers_up": ("report.movers_up", ()),
    "movers_down": ("report.movers_down", ()),
    "flagged": ("report.flagged", (
        Col("account_id", "col.account_id"), Col("name", "col.name"), Col("tier", "col.tier"),
        Col("owner", "col.owner"), Col("churn_probability", "col.churn_probability", "pct"),
        Col("revenue_at_risk", "account.revenue_at_risk", "money"),
        Col("lifetime_value", "account.lifetime_value", "money"),
        Col("factor", "col.main_factor"))),
}
_KPI_COLS = (Col("accounts", "kpi.accounts", "int"),
             Col("monthly_revenue", "col.monthly_revenue", "money"),
             Col("top_share", "pyramid.top_share", "pct"),
             Col("value_score", "col.value_score", "score"),
             Col("loyalty_score", "col.loyalty_score", "score"),
             Col("competitor_score", "col.competitor_score", "score"),
             Col("churned_12m", "kpi.churned_12m", "int"),
             Col("churn_rate_12m", "pyramid.churn_rate", "pct"),
             Col("arrears_rate", "kpi.arrears_rate", "pct"))
LAYOUT["kpis_city"] = ("report.kpis_city", (Col("label", "col.city"), *_KPI_COLS))
LAYOUT["kpis_industry"] = ("report.kpis_industry", (Col("label", "col.industry"), *_KPI_COLS))
_MOVER_COLS = (Col("account_id", "col.account_id"), Col("name", "col.name"),
               Col("city", "col.city"), Col("owner", "col.owner"),
               Col("previous_tier", "report.col.previous_tier"), Col("tier", "report.col.tier_now"),
               Col("previous_value", "report.col.previous_value", "score"),
               Col("value_score", "report.col.value_now", "score"),
               Col("value_change", "col.value_change", "signed"),
               Col("monthly_revenue", "col.monthly_revenue", "money"))
LAYOUT["movers_up"] = ("report.movers_up", _MOVER_COLS)
LAYOUT["movers_down"] = ("report.movers_down", _MOVER_COLS)

SUMMARY = (("accounts", "kpi.accounts", "int"), ("monthly_revenue", "kpi.monthly_revenue", "money"),
           ("top20", "pyramid.top20", "pct"), ("gini", "pyramid.gini", "ratio"),
           ("revenue_at_risk", "account.revenue_at_risk", "money"),
           ("ltv_at_risk", "account.ltv_at_risk", "money"),
           ("flagged", "report.kpi.flagged", "int"), ("moved_up", "report.kpi.moved_up", "int"),
           ("moved_down", "report.kpi.moved_down", "int"))
"""The pack's headline figures: (key, label key, kind)."""


@dataclass(frozen=True)
class Pack:
    """The executive pack of one scope in one language: its tables (raw numbers, labels in
    ``lang``), the Lorenz curve, the headline figures and what it is dated with (``meta``:
    as_of, settings_id, data_version, scope, generated, previous (the snapshot migration and
    movers start from, None without one), risk_source, horizon_months, tiers)."""

    lang: str
    tables: dict[str, pd.DataFrame]
    summary: dict[str, float]
    curve: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)


def _name(df: pd.DataFrame, zh_col: str, en_col: str, lang: str) -> pd.Series:
    """A name column in ``lang``: the English one where there is one, else the Chinese."""
    if lang.startswith("zh") or en_col not in df.columns:
        return df[zh_col].astype(object)
    en = df[en_col].astype(object)
    return en.where(en.notna() & (en != ""), df[zh_col].astype(object))


def scope_label(user: Any, lang: str, teams: pd.DataFrame | None = None) -> str:
    """Whose accounts a pack covers, for its cover: everything, an account manager's, or a
    sales lead's team (with the unassigned pool)."""
    if user is None or user.role in ("executive", "admin"):
        return i18n.t("report.scope.all", lang)
    name = user.display_name(lang)
    if user.role == "sales_lead":
        team = user.team_id or ""
        if teams is not None and user.team_id in set(teams["team_id"]):
            row = teams.set_index("team_id").loc[user.team_id]
            team = row["name"] if lang.startswith("zh") or not isinstance(
                row.get("name_en"), str) else row["name_en"]
        return i18n.t("report.scope.sales_lead", lang, team=team, name=name, user=user.user_id)
    return i18n.t("report.scope.account_manager", lang, name=name, user=user.user_id)


def executive_pack(store: Store | None, frame: pd.DataFrame, settings: Settings, *, lang: str,
                   risk: pd.DataFrame, open_accounts: Iterable[str], scope: str,
                   settings_id: int, data_version: str = "",
                   users: pd.DataFrame | None = None, teams: pd.DataFrame | None = None,
                   previous: tuple[str, pd.DataFrame] | None = None,
                   feature_labels: Mapping[str, tuple[str, str]] | None = None,
                   movers: int = 10, flagged: int = 20,
                   generated: datetime | None = None) -> Pack:
    """The executive pack's tables over ``frame`` (the analysed accounts of one scope, live
    and churned, attrs as_of).

    ``risk``: ``churn.portfolio_risk`` of the portfolio (the model's top decile is read over
    all of it); ``open_accounts``: the accounts an open work order covers; ``previous``: the
    date and rows of the score snapshot migration and movers start from (default: the latest
    before the as-of date, read from ``store``); ``users`` and ``teams`` (default: read from
    ``store``) name
    the teams; ``feature_labels``: (English, Chinese) labels of the model's factors."""
    L = lang
    as_of = str(frame.attrs.get("as_of"))
    codes = [t.code for t in settings.tiers]
    live = frame[~frame["churned"].astype(bool).to_numpy()]
    if users is None:
        users = store.read_table("users") if store is not None else pd.DataFrame(
            columns=["user_id", "team_id"])
    if teams is None:
        teams = store.query("SELECT team_id, name, name_en FROM teams") if store is not None \
            else pd.DataFrame(columns=["team_id", "name", "name_en"])
    if previous is None and store is not None:
        before = [d for d in history.snapshot_dates(store) if d < date.fromisoformat(as_of)]
        if before:
            previous = (before[-1].isoformat(), history.load_snapshot(store, before[-1]))
    prev_date, snap = previous if previous is not None else (
        None, pd.DataFrame(columns=history.SNAPSHOT_COLUMNS))
    prev = snap[snap["account_id"].astype(str).isin(frame["account_id"].astype(str))]
    if prev.empty:
        prev_date = None

    tables: dict[str, pd.DataFrame] = {}
    summary = pyramid.tier_summary(live, settings, L)
    yes, no = i18n.t("label.yes", L), i18n.t("label.no", L)
    tables["pyramid"] = summary.assign(
        tier_name=summary["tier"] + " · " + summary["label"],
        agent=summary["dedicated_agent"].map({True: yes, False: no}))

    parts = []
    for by in ("family", "industry", "city"):
        comp = pyramid.composition(live, by)
        parts.append(pd.DataFrame({
            "by": by, "dimension": i18n.t(f"col.{by}", L), "tier": comp["tier"].astype(str),
            "code": comp[by].astype(object),
            "segment": pyramid.segment_labels(comp[by], by, L),
            "revenue": comp["revenue"].astype(float), "share": comp["share"].astype(float)}))
    tables["composition"] = pd.concat(parts, ignore_index=True)

    curve, top20, gini = pyramid.lorenz(live["monthly_revenue"])
    tables["concentration"] = pyramid.concentration(live["monthly_revenue"])

    after = live[["account_id", "tier", "monthly_revenue"]].astype({"account_id": str})
    mig = pyramid.migration(prev.astype({"account_id": str}), after, codes) if len(prev) else \
        pd.DataFrame(columns=["from_tier", "to_tier", "accounts", "revenue"])
    rename = {"new": i18n.t("label.new", L), "gone": i18n.t("label.gone", L)}
    tables["migration"] = mig.assign(from_label=mig["from_tier"].replace(rename),
                                     to_label=mig["to_tier"].replace(rename))
    moves = pyramid.migration_summary(mig, codes) if len(prev) else pd.DataFrame(
        {"move": list(pyramid.MOVES), "accounts": 0, "revenue": 0.0})
    tables["moves"] = moves.assign(
        move_label=moves["move"].map(lambda m: i18n.t(f"report.move.{m}", L)))

    for by in ("city", "industry"):
        k = pyramid.kpis_by(frame, by)
        tables[f"kpis_{by}"] = k.assign(label=pyramid.segment_labels(k[by], by, L))

    tables["risk_by_team"] = _risk_by_team(live, risk, users, teams, L)

    owner = _name(frame, "owner_name", "owner_name_en", L) if "owner_name" in frame.columns \
        else pd.Series(None, index=frame.index, dtype=object)
    m = with_previous(live.assign(owner=owner[live.index]), prev)
    m = m[m["value_change"].notna().to_numpy()]
    for name, picked in (("movers_up", m[m["value_change"] > 0].nlargest(movers, "value_change")),
                         ("movers_down",
                          m[m["value_change"] < 0].nsmallest(movers, "value_change"))):
        tables[name] = pd.DataFrame({
            "account_id": picked["account_id"].astype(str).to_numpy(),
            "name": _name(picked, "name", "name_en", L).to_numpy(),
            "city": pyramid.segment_labels(picked["city"], "city", L).to_numpy(),
            "owner": _unassigned(picked["owner"], L).to_numpy(),
            "previous_tier": picked["previous_tier"].astype(object).to_numpy(),
            "tier": picked["tier"].astype(object).to_numpy(),
            "previous_value": picked["previous_value"].astype(float).to_numpy(),
            "value_score": picked["value_score"].astype(float).to_numpy(),
            "value_change": picked["value_change"].astype(float).to_numpy(),
            "monthly_revenue": picked["monthly_revenue"].astype(float).to_numpy()})

    every = model_flagged(risk, frame, open_accounts)
    top = every.head(flagged)
    labels = dict(feature_labels or {})
    idx = 1 if L.startswith("zh") else 0
    tables["flagged"] = pd.DataFrame({
        "account_id": top["account_id"].astype(str).to_numpy(),
        "name": _name(top, "name", "name_en", L).to_numpy() if len(top) else [],
        "tier": top["tier"].astype(object).to_numpy(),
        "owner": _unassigned(_name(top, "owner_name", "owner_name_en", L), L).to_numpy()
        if "owner_name" in top.columns else None,
        "churn_probability": top["churn_probability"].astype(float).to_numpy(),
        "revenue_at_risk": top["revenue_at_risk"].astype(float).to_numpy(),
        "lifetime_value": top["lifetime_value"].astype(float).to_numpy(),
        "factor": top["factor_1"].map(lambda f: labels.get(f, (f, f))[idx]
                                      if isinstance(f, str) else None).to_numpy()})

    team_risk = tables["risk_by_team"]
    by_move = moves.set_index("move")["accounts"]
    figures = {
        "accounts": float(len(live)),
        "monthly_revenue": float(live["monthly_revenue"].astype(float).sum()),
        "top20": top20, "gini": gini,
        "revenue_at_risk": float(team_risk["revenue_at_risk"].sum(min_count=1)),
        "ltv_at_risk": float(team_risk["ltv_at_risk"].sum(min_count=1)),
        "flagged": float(len(every)) if risk["churn_probability"].notna().any() else float("nan"),
        "moved_up": float(by_move.get("up", 0)) if len(prev) else float("nan"),
        "moved_down": float(by_move.get("down", 0)) if len(prev) else float("nan"),
    }
    meta = {"as_of": as_of, "settings_id": int(settings_id), "data_version": data_version,
            "scope": scope, "previous": prev_date,
            "generated": (generated or datetime.now()).replace(microsecond=0),
            "risk_source": risk.attrs.get("risk_source", "none"),
            "horizon_months": risk.attrs.get("horizon_months"), "tiers": codes,
            "basis": settings.get("tiers.basis"), "method": settings.get("tiers.method")}
    return Pack(lang=L, tables=tables, summary=figures, curve=curve, meta=meta)


def _unassigned(owner: pd.Series, lang: str) -> pd.Series:
    return owner.astype(object).where(owner.notna(), i18n.t("account.unassigned", lang))


def _risk_by_team(live: pd.DataFrame, risk: pd.DataFrame, users: pd.DataFrame,
                  teams: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Per team (the account owner's; the unassigned pool as one row): live accounts, a year
    of revenue, mean churn probability, revenue and lifetime value at risk and the team's
    share of the scope's revenue at risk; largest first."""
    r = risk.reindex(pd.Index(live["account_id"].astype(str).to_numpy()))
    team_of = users.drop_duplicates("user_id").set_index("user_id")["team_id"]
    team = live["owner_id"].map(team_of).astype(object)
    d = pd.DataFrame({
        "team_id": team.where(team.notna(), UNASSIGNED_TEAM).to_numpy(),
        "annual_revenue": 12.0 * pd.to_numeric(live["monthly_revenue"], errors="coerce")
        .fillna(0.0).to_numpy(float),
        "churn_probability": r["churn_probability"].to_numpy(float),
        "revenue_at_risk": r["revenue_at_risk"].to_numpy(float),
        "ltv_at_risk": r["ltv_at_risk"].to_numpy(float)})
    g = d.groupby("team_id").agg(
        accounts=("annual_revenue", "size"), annual_revenue=("annual_revenue", "sum"),
        churn_probability=("churn_probability", "mean"),
        revenue_at_risk=("revenue_at_risk", lambda s: s.sum(min_count=1)),
        ltv_at_risk=("ltv_at_risk", lambda s: s.sum(min_count=1))).reset_index()
    total = g["revenue_at_risk"].sum(min_count=1)
    g["share"] = g["revenue_at_risk"] / total if total and total > 0 else np.nan
    names = teams.drop_duplicates("team_id").set_index("team_id")
    label = names["name" if lang.startswith("zh") else "name_en"].reindex(g["team_id"])
    label = label.where(label.notna(), names["name"].reindex(g["team_id"]))
    g["team"] = label.where(label.notna(), g["team_id"].to_numpy()).to_numpy()
    g.loc[g["team_id"] == UNASSIGNED_TEAM, "team"] = i18n.t("report.unassigned_pool", lang)
    return g.sort_values(["revenue_at_risk", "annual_revenue"], ascending=False,
                         na_position="last", ignore_index=True)


# ---------------------------------------------------------------------------------------------
# The pack from a database (the CLI's way to read the analysed portfolio)
# ---------------------------------------------------------------------------------------------
def _portfolio(store: Store) -> tuple[Any, Any]:
    """The analysed portfolio the app serves (built now if nobody did) and its build."""
    from valuation import prepared
    from valuation.settings_store import settings_by_id

    if not store.has_facts:
        raise ReportError(f"{store.path} has no data: import facts or run `valuation demo`")
    built = prepared.build(store)
    settings = settings_by_id(store, built.settings_id)
    a = prepared.load(store, built.data_version, built.settings_id, settings)
    if a is None:  # pruned meanwhile by a newer build
        built = prepared.build(store)
        a = prepared.load(store, built.data_version, built.settings_id,
                          settings_by_id(store, built.settings_id))
    return a, built


def _model(store: Store) -> tuple[Any, int]:
    from valuation import churn

    f = churn.model_path(store.path)
    stamp = f.stat().st_mtime_ns if f.exists() else 0
    return (churn.load_model(f) if stamp else None), stamp


def _risk(store: Store, a: Any, built: Any) -> pd.DataFrame:
    """Every live account's churn risk: the build's, when scored with the model file there
    is now; else scored here."""
    from valuation import churn, prepared

    model, stamp = _model(store)
    stored = prepared.part(store, built.data_version, built.settings_id, "risk")
    if stored is not None and stored[1] == stamp:
        return stored[0]
    extra = prepared.part(store, built.data_version, built.settings_id, "churn_extra")
    frame = a.frame
    if extra is not None:
        try:
            frame = prepared.churn_frame_from(a.frame, extra)
        except ValueError:
            frame = a.frame
    return churn.portfolio_risk(store, settings=a.settings, model=model, frame=frame)


def _feature_labels(model: Any) -> dict[str, tuple[str, str]]:
    from valuation.churn import FEATURE_LABELS

    return {**FEATURE_LABELS, **(getattr(model, "feature_labels_", None) or {})}


def _user(store: Store, user_id: str | None) -> Any:
    from valuation.access import get_user

    if user_id is None:
        return None
    user = get_user(store, user_id)
    if user is None:
        raise ReportError(f"no user {user_id!r}")
    return user


def _scoped(frame: pd.DataFrame, user: Any, users: pd.DataFrame) -> pd.DataFrame:
    from valuation.access import scope_filter

    if user is None:
        return frame
    mask = scope_filter(user, frame, users).to_numpy()
    out = frame[mask].reset_index(drop=True)
    out.attrs = dict(frame.attrs)
    return out


def pack_for(store: Store, *, user_id: str | None = None, lang: str = "zh") -> Pack:
    """The executive pack of the analysed portfolio the app serves, over ``user_id``'s scope
    (as the app scopes it: ``access.scope_filter``) or everything."""
    from valuation import warnings as W

    a, built = _portfolio(store)
    users = store.read_table("users")
    teams = store.query("SELECT team_id, name, name_en FROM teams")
    user = _user(store, user_id)
    frame = _scoped(a.frame, user, users)
    model, _ = _model(store)
    orders = W.open_orders(store, user)
    return executive_pack(store, frame, a.settings, lang=lang, risk=_risk(store, a, built),
                          open_accounts=orders["account_id"].astype(str), users=users,
                          teams=teams, scope=scope_label(user, lang, teams),
                          settings_id=built.settings_id, data_version=built.data_version,
                          feature_labels=_feature_labels(model))


# ---------------------------------------------------------------------------------------------
# Fonts and charts
# ---------------------------------------------------------------------------------------------
@functools.cache
def cjk_font() -> Path | None:
    """The file of :data:`CJK_FAMILY` as fontconfig (which WeasyPrint uses) finds it, None
    when the machine has none."""
    try:
        out = subprocess.run(["fc-list", CJK_FAMILY, "file"], capture_output=True, text=True,
                             timeout=30, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    files = sorted(Path(line.split(":")[0].strip()) for line in out.splitlines() if line.strip())
    return next((f for f in files if f.exists()), None)


def _require_font(lang: str, *texts: str) -> bool:
    """True when the CJK font is there; a Chinese report (or one with Chinese text in it)
    without it raises :class:`ReportError` naming the font."""
    if cjk_font() is not None:
        return True
    if lang.startswith("zh") or any(_CJK.search(t) for t in texts):
        raise ReportError(
            f'a report with Chinese text needs the font "{CJK_FAMILY}", which this machine does '
            "not have (Debian: apt-get install fonts-noto-cjk); nothing was written")
    return False


_REGISTERED: set[str] = set()


def _svg(chart: Any, *, cjk: bool) -> str:
    """An Altair chart as SVG (vl-convert), its text in the report's font."""
    import altair as alt
    import vl_convert as vlc

    font = cjk_font()
    if cjk and font is not None and str(font.parent) not in _REGISTERED:
        vlc.register_font_directory(str(font.parent))
        _REGISTERED.add(str(font.parent))
    spec = chart.configure(font=CJK_FAMILY if cjk else "DejaVu Sans",
                           background="white").to_dict()
    version = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    kw = {"vl_version": version} if version in vlc.get_vegalite_versions() else {}
    return vlc.vegalite_to_svg(spec, **kw)


def _figure(svg: str, *, cls: str = "") -> str:
    """An SVG as an image at its own size (never wider than its column)."""
    m = re.search(r'<svg[^>]*\swidth="([\d.]+)', svg)
    width = f"width: {float(m.group(1)):.0f}px; " if m else ""
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return (f'<figure class="{cls}"><img style="{width}max-width: 100%" '
            f'src="data:image/svg+xml;base64,{data}"></figure>')


# ---------------------------------------------------------------------------------------------
# HTML pieces (every text from the data through _e)
# ---------------------------------------------------------------------------------------------
def _e(text: object) -> str:
    """Text for HTML: control characters dropped, markup escaped (shown as the text it is)."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return "–"
    return html.escape(_CONTROL.sub("", str(text)), quote=True)


def _formatted(values: pd.Series, kind: str, lang: str) -> list[str]:
    """One column as escaped display text."""
    def num(fmt: str) -> list[str]:
        v = pd.to_numeric(values, errors="coerce").astype(float)
        return ["–" if x != x else _e(fmt.format(x)) for x in v]

    if kind == "money":
        return [_e(i18n.money(x, lang)) for x in pd.to_numeric(values, errors="coerce")]
    if kind in ("pct",):
        return num("{:.1%}")
    if kind == "int":
        return num("{:,.0f}")
    if kind == "score":
        return num("{:.1f}")
    if kind == "signed":
        return num("{:+.1f}")
    if kind == "ratio":
        return num("{:.2f}")
    if kind == "hours":
        return num("{:g} h")
    if kind == "date":
        return [_e(str(x)[:10]) if pd.notna(x) else "–" for x in values]
    if kind == "label":
        kind = "text"
    return [_e(x) for x in values.astype(object).where(values.notna(), None)]


def _table(df: pd.DataFrame, cols: tuple[Col, ...], lang: str, *, cls: str = "",
           total: dict[str, object] | None = None, empty: str = "",
           headers: list[str] | None = None) -> str:
    """A table for print: header repeated on every page it runs over, numbers right-aligned.
    ``headers``: the header texts, instead of the columns' keys."""
    if df.empty:
        return f'<p class="note">{_e(empty or i18n.t("report.none", lang))}</p>'
    heads = headers if headers is not None else [i18n.t(c.key, lang) for c in cols]
    head = "".join(f'<th class="{c.kind}">{_e(h)}</th>' for c, h in zip(cols, heads,
                                                                         strict=True))
    cells = [_formatted(df[c.field], c.kind, lang) for c in cols]
    rows = ["<tr>" + "".join(f'<td class="{c.kind}">{v}</td>' for c, v in zip(cols, r,
                                                                             strict=True))
            + "</tr>" for r in zip(*cells, strict=True)]
    foot = ""
    if total is not None:
        tr = pd.DataFrame([total])
        vals = [_formatted(tr[c.field], c.kind, lang)[0] if c.field in tr.columns else ""
                for c in cols]
        foot = "<tfoot><tr>" + "".join(f'<td class="{c.kind}">{v}</td>' for c, v in zip(
            cols, vals, strict=True)) + "</tr></tfoot>"
    return (f'<table class="data {cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}'
            f"</tbody>{foot}</table>")


def _css(lang: str) -> str:
    return """
@page { size: A4; margin: 17mm 13mm 15mm 13mm;
  @top-left { content: string(doctitle); font-size: 7.5pt; color: #555; }
  @top-right { content: string(scope); font-size: 7.5pt; color: #555; }
  @bottom-left { content: string(stamp); font-size: 7.5pt; color: #555; }
  @bottom-right { content: counter(page) " / " counter(pages); font-size: 7.5pt; color: #555; }
}
@page :first { @top-left { content: none; } @top-right { content: none; } }
html { font-family: FONTS; font-size: 9pt; color: #1d1d1f; line-height: 1.35; }
body { margin: 0; }
h1 { font-size: 17pt; margin: 0 0 1mm 0; color: #0b3d91; string-set: doctitle content(); }
.scope { string-set: scope content(); font-size: 10pt; margin: 0; font-weight: bold; }
.stamp { string-set: stamp content(); color: #555; margin: 0.5mm 0 3mm 0; font-size: 8pt; }
h2 { font-size: 11.5pt; color: #0b3d91; margin: 5mm 0 1.5mm 0; padding-bottom: 0.8mm;
     border-bottom: 0.6pt solid #9db4d8; break-after: avoid; }
h3 { font-size: 9.5pt; margin: 3mm 0 1mm 0; break-after: avoid; }
section { break-inside: auto; }
.keep { break-inside: avoid; }
.note { color: #555; font-size: 7.5pt; margin: 1mm 0 0 0; }
.row { display: flex; gap: 5mm; align-items: flex-start; break-inside: avoid; }
.row > * { flex: 1 1 0; min-width: 0; }
figure { margin: 0; break-inside: avoid; text-align: center; }
figure img { display: block; margin: 0 auto; }
.kpis { display: flex; gap: 2.5mm; margin: 1mm 0 2mm 0; }
.kpi { flex: 1 1 0; border: 0.6pt solid #c9d6ea; border-radius: 1.5mm; padding: 1.5mm 2mm;
       background: #f4f7fc; }
.kpi .v { font-size: 12.5pt; font-weight: bold; color: #0b3d91; white-space: nowrap; }
.kpi .l { font-size: 7pt; color: #444; }
table.data { border-collapse: collapse; width: 100%; font-size: 7.8pt; margin-top: 1mm; }
table.data th { background: #0b3d91; color: white; font-weight: bold; padding: 1mm 1.2mm;
                text-align: left; vertical-align: bottom; }
table.data td { padding: 0.8mm 1.2mm; border-bottom: 0.4pt solid #d5dbe5;
                vertical-align: top; }
table.data tbody tr:nth-child(even) td { background: #f5f7fa; }
table.data tr { break-inside: avoid; }
table.data tfoot td { font-weight: bold; border-top: 0.8pt solid #0b3d91; border-bottom: none; }
table.data th.text, table.data td.text, table.data th.label, table.data td.label {
  text-align: left; }
table.data th:not(.text):not(.label) { text-align: right; }
table.data td:not(.text) { font-variant-numeric: tabular-nums; white-space: nowrap; }
table.data td:not(.text):not(.label) { text-align: right; }
table.keep { break-inside: avoid; }
table.data td.text { overflow-wrap: break-word; }
table.narrow { width: auto; min-width: 60%; }
""".replace("FONTS", _FONTS)


def _document(title: str, body: str, lang: str) -> str:
    return (f'<!doctype html><html lang="{"zh-CN" if lang.startswith("zh") else "en"}"><head>'
            f'<meta charset="utf-8"><title>{_e(title)}</title><style>{_css(lang)}</style>'
            f"</head><body>{body}</body></html>")


def _pdf(document: str) -> bytes:
    """HTML to PDF; nothing is fetched but the document's own data: URIs."""
    import weasyprint
    from weasyprint.urls import URLFetcher

    return bytes(weasyprint.HTML(string=document, url_fetcher=URLFetcher(
        allowed_protocols={"data"})).write_pdf())


def _stamp(meta: Mapping[str, Any], lang: str) -> str:
    sid = meta["settings_id"]
    version = i18n.t("report.settings_version", lang, id=sid) if sid else i18n.t(
        "report.settings_default", lang)
    return i18n.t("report.stamp", lang, as_of=meta["as_of"], settings=version)


# ---------------------------------------------------------------------------------------------
# The pack as PDF
# ---------------------------------------------------------------------------------------------
def pack_pdf(pack: Pack) -> bytes:
    """The pack laid out for A4: headline figures, the pyramid and its composition,
    concentration, migration, KPIs by city and industry, value at risk by team, movers and
    the accounts the model flags. Charts are the pages' Altair specifications."""
    L, t, T = pack.lang, pack.tables, (lambda k, **kw: i18n.t(k, pack.lang, **kw))
    meta = pack.meta
    texts = [str(meta["scope"]), *(" ".join(map(str, df.select_dtypes(exclude="number")
                                                .astype(str).to_numpy().ravel()))
                                   for df in t.values())]
    cjk = _require_font(L, *texts)
    order = ["new", *meta["tiers"], "gone"]
    svg = functools.partial(_svg, cjk=cjk)
    summary = t["pyramid"]
    pyr = [svg(charts.pyramid_chart(summary, L, measure=m).properties(width=190, height=150))
           for m in ("accounts", "revenue")]
    comp = t["composition"]

    def comp_chart(by: str) -> str:
        c = comp[comp["by"] == by].rename(columns={"segment": by})
        return svg(charts.composition_chart(c, by, L).properties(width=430, height=110))

    body = [f"<h1>{_e(T('report.title'))}</h1>",
            f'<p class="scope">{_e(meta["scope"])}</p>',
            f'<p class="stamp">{_e(_stamp(meta, L))} · '
            f'{_e(T("report.generated", at=str(meta["generated"])[:16]))}</p>']
    kpis = "".join(
        f'<div class="kpi"><div class="v">{_formatted(pd.Series([pack.summary[k]]), kind, L)[0]}'
        f'</div><div class="l">{_e(T(key))}</div></div>'
        for k, key, kind in SUMMARY if k not in ("ltv_at_risk", "moved_down"))
    body.append(f'<div class="kpis">{kpis}</div>')
    body.append(f'<p class="note">{_e(_risk_note(meta, L))}</p>')

    body.append(f'<section><h2>{_e(T("report.pyramid"))}</h2>'
                f'<p class="note">{_e(_sentence(T("pyramid.basis", basis=T("basis." + meta["basis"]), method=T("method." + meta["method"]))))}</p>'  # noqa: E501
                f'<div class="row">{_figure(pyr[0])}{_figure(pyr[1])}</div>'
                + _table(summary, LAYOUT["pyramid"][1], L, total={
                    "tier_name": T("report.total"), "accounts": summary["accounts"].sum(),
                    "account_share": 1.0 if summary["accounts"].sum() else np.nan,
                    "monthly_revenue": summary["monthly_revenue"].sum(),
                    "revenue_share": 1.0 if summary["monthly_revenue"].sum() else np.nan})
                + "</section>")

    fam = comp[comp["by"] == "family"].pivot_table(index="tier", columns="segment",
                                                   values="share", aggfunc="sum", sort=False)
    fam = fam.reindex([c for c in meta["tiers"] if c in fam.index]).reset_index()
    fam.columns = [str(c) for c in fam.columns]
    fam_table = _table(fam, tuple(Col(c, "col.tier", "text" if c == "tier" else "pct")
                                  for c in fam.columns), L,
                       headers=[T("col.tier") if c == "tier" else c for c in fam.columns],
                       cls="narrow")
    body.append(f'<section><div class="keep"><h2>{_e(T("report.composition"))}</h2>'
                f'<p class="note">{_e(T("report.composition_note"))}</p>'
                f'{_figure(comp_chart("family"))}</div>'
                f'<div class="keep"><h3>{_e(T("report.family_shares"))}</h3>{fam_table}</div>'
                f'{_figure(comp_chart("industry"))}</section>')

    curve = charts.lorenz_chart(pack.curve, L).properties(width=230, height=190)
    conc = t["concentration"]
    body.append(f'<section class="keep"><h2>{_e(T("report.concentration"))}</h2>'
                f'<div class="row">{_figure(svg(curve))}<div>'
                + _table(conc, LAYOUT["concentration"][1], L)
                + f'<p class="note">{_e(T("report.gini_note", gini=_formatted(pd.Series([pack.summary["gini"]]), "ratio", L)[0]))}</p>'  # noqa: E501
                + "</div></div></section>")

    if meta["previous"] is None:
        body.append(f'<section class="keep"><h2>{_e(T("report.migration"))}</h2>'
                    f'<p class="note">{_e(T("report.no_previous"))}</p></section>')
    else:
        mig = t["migration"]
        heat = charts.migration_chart(mig, L, measure="accounts", order=order).properties(
            width=260, height=190)
        body.append(f'<section class="keep"><h2>{_e(T("report.migration"))}</h2>'
                    f'<p class="note">{_e(T("report.migration_note", previous=meta["previous"], as_of=meta["as_of"]))}</p>'  # noqa: E501
                    f'<div class="row">{_figure(svg(heat))}<div>'
                    + _table(t["moves"], LAYOUT["moves"][1], L, cls="narrow")
                    + "</div></div></section>")

    for name in ("kpis_city", "kpis_industry"):
        title, cols = LAYOUT[name]
        body.append(f"<section><h2>{_e(T(title))}</h2>" + _table(t[name], cols, L)
                    + (f'<p class="note">{_e(T("report.kpis_note"))}</p>'
                       if name == "kpis_industry" else "") + "</section>")

    team = t["risk_by_team"]
    body.append(f'<section><h2>{_e(T("report.risk_by_team"))}</h2>'
                + _table(team, LAYOUT["risk_by_team"][1], L, cls="keep", total={
                    "team": T("report.total"), "accounts": team["accounts"].sum(),
                    "annual_revenue": team["annual_revenue"].sum(),
                    "revenue_at_risk": pack.summary["revenue_at_risk"],
                    "ltv_at_risk": pack.summary["ltv_at_risk"],
                    "share": 1.0 if pack.summary["revenue_at_risk"] > 0 else np.nan})
                + f'<p class="note">{_e(T("report.risk_note"))}</p></section>')

    for name in ("movers_up", "movers_down"):
        title, cols = LAYOUT[name]
        note = T("report.movers_note", previous=meta["previous"]) if meta["previous"] else \
            T("report.no_previous")
        body.append(f"<section><h2>{_e(T(title))}</h2>"
                    + _table(t[name], cols, L, empty=note, cls="keep") + (
                        f'<p class="note">{_e(note)}</p>' if len(t[name]) else "") + "</section>")

    flagged_note = T("report.flagged_note", n=_formatted(
        pd.Series([pack.summary["flagged"]]), "int", L)[0]) if meta["risk_source"] != "none" \
        else T("report.no_model")
    body.append(f'<section><h2>{_e(T("report.flagged"))}</h2>'
                + _table(t["flagged"], LAYOUT["flagged"][1], L, empty=flagged_note)
                + (f'<p class="note">{_e(flagged_note)}</p>' if len(t["flagged"]) else "")
                + "</section>")
    return _pdf(_document(T("report.title"), "".join(body), L))


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _risk_note(meta: Mapping[str, Any], lang: str) -> str:
    source = meta.get("risk_source", "none")
    if source == "none":
        return i18n.t("report.no_model", lang)
    return i18n.t("report.risk_basis", lang, months=meta.get("horizon_months") or 6) + " " + \
        i18n.t(f"account.risk_source.{source}", lang)


# ---------------------------------------------------------------------------------------------
# The pack as XLSX
# ---------------------------------------------------------------------------------------------
_XLSX_FORMATS = {"int": "#,##0", "money": '"¥"#,##0', "pct": "0.0%", "score": "0.0",
                 "signed": "+0.0;-0.0;0.0", "ratio": "0.00", "hours": '0 "h"',
                 "date": "yyyy-mm-dd"}


def pack_xlsx(pack: Pack) -> bytes:
    """The pack as a workbook: a cover sheet (scope, as-of date, settings version, generated
    time), the headline figures, then one sheet per table with headers in the pack's
    language, numbers as numbers and text that looks like a formula made inert."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    from valuation.safety import escape_formulas

    L, meta = pack.lang, pack.meta
    T = functools.partial(i18n.t, lang=L)
    wb = Workbook()
    bold = Font(bold=True)
    head_font = Font(bold=True, color="FFFFFF")
    head_fill = PatternFill("solid", fgColor="0B3D91")
    about = wb.active
    about.title = _sheet_name(T("report.sheet.about"), set())
    about.append([T("report.title")])
    about["A1"].font = Font(bold=True, size=14)
    sid = meta["settings_id"]
    rows = [(T("report.about.scope"), meta["scope"]), (T("report.about.as_of"), meta["as_of"]),
            (T("report.about.settings"), sid if sid else T("report.settings_default")),
            (T("report.about.data_version"), meta["data_version"]),
            (T("report.about.previous"), meta["previous"] or T("report.about.no_previous")),
            (T("report.about.generated"), meta["generated"]),
            (T("report.about.risk"), _risk_note(meta, L))]
    for k, v in rows:
        about.append([k, _cell(v)])
        about.cell(about.max_row, 1).font = bold
    about.cell(about.max_row - 1, 2).number_format = "yyyy-mm-dd hh:mm"
    about.append([])
    about.append([T("report.about.sheets")])
    about.cell(about.max_row, 1).font = bold
    about.column_dimensions["A"].width = 26
    about.column_dimensions["B"].width = 70

    names: set[str] = {about.title}
    summary = wb.create_sheet(_sheet_name(T("report.sheet.summary"), names))
    summary.append([T("report.col.measure"), T("report.col.value")])
    for k, key, kind in SUMMARY:
        summary.append([T(key), _cell(pack.summary.get(k))])
        summary.cell(summary.max_row, 2).number_format = _XLSX_FORMATS.get(kind, "General")
    _style_header(summary, 2, head_font, head_fill)
    summary.column_dimensions["A"].width = 30
    summary.column_dimensions["B"].width = 18

    for name, (title, cols) in LAYOUT.items():
        df = pack.tables[name]
        ws = wb.create_sheet(_sheet_name(T(title), names))
        about.append([ws.title, T(f"{title}_about") if f"{title}_about" in i18n.STRINGS else ""])
        text_cols = [c.field for c in cols if c.kind in ("text", "label")]
        safe = escape_formulas(df[[c.field for c in cols]].astype(
            {f: object for f in text_cols}))
        ws.append([T(c.key) for c in cols])
        for values in zip(*(safe[c.field].tolist() for c in cols), strict=True):
            ws.append([_cell(v) for v in values])
        for j, c in enumerate(cols, start=1):
            fmt = _XLSX_FORMATS.get(c.kind)
            width = max([len(T(c.key)) * (2 if L.startswith("zh") else 1.1) + 2, 10])
            if c.kind in ("text", "label") and len(df):
                width = max(width, min(50, float(df[c.field].astype(str).str.len().max()) * (
                    2 if L.startswith("zh") else 1.1) + 2))
            ws.column_dimensions[get_column_letter(j)].width = width
            if fmt:
                for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                    cell.number_format = fmt
        _style_header(ws, len(cols), head_font, head_fill)
        ws.freeze_panes = "A2"
        if len(df):
            ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{len(df) + 1}"
        for cell in ws[1]:
            cell.alignment = Alignment(wrap_text=True, vertical="bottom")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _style_header(ws: Any, n: int, font: Any, fill: Any) -> None:
    for cell in ws[1][:n]:
        cell.font, cell.fill = font, fill


def _sheet_name(title: str, taken: set[str]) -> str:
    """A valid, unused sheet name (31 characters, none of []:*?/\\)."""
    base = re.sub(r"[\[\]:*?/\\]", " ", title).strip()[:31] or "Sheet"
    name, i = base, 2
    while name in taken:
        name = f"{base[:28]} {i}"
        i += 1
    taken.add(name)
    return name


def _cell(v: object) -> object:
    """A value as a spreadsheet cell: numbers as numbers, missing as empty, text without the
    control characters a workbook cannot hold."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (float, np.floating)):
        return None if np.isnan(v) else float(v)
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if isinstance(v, (datetime, date)):
        return v
    return _CONTROL.sub("", str(v))


# ---------------------------------------------------------------------------------------------
# The account brief: one page for a visit
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Brief:
    """One account's visit brief in one language: ``account`` (the analysed row), ``parts``
    (frames: reasons, holdings, orders, interactions; a dict: risk, suggestion, plan) and
    what it is dated with (``meta``: as_of, settings_id, generated)."""

    lang: str
    account: pd.Series
    parts: dict[str, Any]
    meta: dict[str, Any]


def account_brief(store: Store, analysis: Any, account_id: str, *, lang: str,
                  risk: pd.DataFrame, recommendations: pd.DataFrame,
                  products: pd.DataFrame, settings_id: int,
                  feature_labels: Mapping[str, tuple[str, str]] | None = None,
                  users: pd.DataFrame | None = None, interactions: int = 5,
                  generated: datetime | None = None) -> Brief:
    """What an account manager takes to a visit: value and tier, the scores with their top
    reasons, churn risk and value at risk, products held and the top cross-sell suggestion,
    open work orders and the plan's next step, recent interactions.

    ``analysis``: the analysed portfolio (``analysis.Analysis``); ``risk``:
    ``churn.portfolio_risk`` (the account's row, or all); ``recommendations``: the account's
    cross-sell suggestions in rank order; ``products``: the catalogue."""
    from valuation import bundling, features, planning, positioning
    from valuation import warnings as W
    from valuation.scoring import explain

    frame = analysis.frame
    hit = np.flatnonzero(frame["account_id"].astype(str).to_numpy() == str(account_id))
    if len(hit) == 0:
        raise ReportError(f"no account {account_id!r} in the analysed portfolio")
    row = frame.iloc[hit[0]]
    idx = frame.index[hit[0]]
    L = lang
    zh = L.startswith("zh")
    reasons = explain(analysis.card, idx, L)
    detail = features.account_detail(store, str(account_id))
    orders = W.orders_for(store, str(account_id))
    open_orders = orders[~orders["status"].isin(W.FINAL)].sort_values("due_date", kind="stable")
    plans = planning.plans_for(store, str(account_id))
    plan = plans[plans["status"].isin(("open", "in_progress"))].head(1)
    if users is None:
        users = store.read_table("users")
    who = users.drop_duplicates("user_id").set_index("user_id")
    who = (who["name"] if zh else who["name_en"].fillna(who["name"])).to_dict()
    who["system"] = i18n.t("label.system", L)
    inter = detail["interactions"].head(interactions)
    inter = inter.assign(kind=inter["kind"].map(lambda k: i18n.enum("interaction_kind", k, L)),
                         user=inter["user_id"].map(lambda u: who.get(u, u)))
    held = detail["holdings"]
    held = held[held["end_date"].isna()] if "end_date" in held.columns else held
    r = risk.loc[str(account_id)] if str(account_id) in risk.index else None
    labels = dict(feature_labels or {})
    factors = [labels.get(r[f"factor_{j}"], (r[f"factor_{j}"],) * 2)[1 if zh else 0]
               for j in range(1, 4) if r is not None and f"factor_{j}" in r.index
               and isinstance(r[f"factor_{j}"], str)]
    suggestion = None
    if len(recommendations):
        s = recommendations.iloc[0]
        names = products.set_index("product_id")["name" if zh else "name_en"].to_dict()
        because = s.get("because_product")
        why = bundling.REASONS.get(s["reason_code"], (s["reason_code"],) * 2)[1 if zh else 0]
        if isinstance(because, str):
            why += f" ({names.get(because, because)})"
        suggestion = {"product": names.get(s["product_id"], s["product_id"]), "why": why,
                      "family": i18n.enum("family", s.get("family"), L),
                      "revenue": s.get("expected_revenue"),
                      "loyalty_gain": s.get("loyalty_gain")}
    actions = positioning.actions(row["strategy"], row["approach"], row["lifecycle_stage"], L)
    a = detail["account"].iloc[0]
    parts = {
        "reasons": reasons, "holdings": held, "orders": open_orders, "plan": plan,
        "interactions": inter, "risk": r, "factors": factors, "suggestion": suggestion,
        "actions": actions, "profile": a,
        "risk_source": risk.attrs.get("risk_source", "none"),
        "horizon_months": risk.attrs.get("horizon_months", 6),
        "churn": detail["churn"],
    }
    meta = {"as_of": str(frame.attrs.get("as_of")), "settings_id": int(settings_id),
            "generated": (generated or datetime.now()).replace(microsecond=0),
            "tier": analysis.settings.tier(row["tier"]) if isinstance(row["tier"], str) else None,
            "model": analysis.settings.model(row["model"]).label(L)}
    return Brief(lang=L, account=row, parts=parts, meta=meta)


def brief_for(store: Store, account_id: str, *, lang: str = "zh",
              user_id: str | None = None) -> Brief:
    """The visit brief of an account of the analysed portfolio the app serves (refused when
    ``user_id`` is given and the account is outside that user's scope)."""
    from valuation import bundling, prepared

    a, built = _portfolio(store)
    users = store.read_table("users")
    user = _user(store, user_id)
    if user is not None and str(account_id) not in set(
            _scoped(a.frame, user, users)["account_id"].astype(str)):
        raise ReportError(f"account {account_id!r} is outside {user_id}'s scope")
    stored = prepared.part(store, built.data_version, built.settings_id, "bundle")
    products = store.read_table("products")
    if stored is not None:
        recs = stored["recommendations"]
    else:
        h = bundling.load_holdings(store)
        params = bundling.BundlingParams.from_settings(a.settings)
        g = bundling.build_graph(h, products, accounts=a.frame, params=params)
        blend, _ = bundling.blend_in_use(h, products, a.frame, settings=a.settings)
        recs = bundling.recommend(h, g, products, a.frame, k=5, settings=a.settings,
                                  params=params, blend=blend)
    recs = recs[recs["account_id"].astype(str) == str(account_id)]
    model, _ = _model(store)
    return account_brief(store, a, account_id, lang=lang, risk=_risk(store, a, built),
                         recommendations=recs, products=products, users=users,
                         settings_id=built.settings_id, feature_labels=_feature_labels(model))


def _probability(p: object) -> str:
    x = float(p) if p is not None else float("nan")
    if not np.isfinite(x):
        return "–"
    return ">99%" if x >= 0.995 else ("<1%" if x < 0.005 else f"{x:.0%}")


def _clip(text: object, n: int) -> str:
    s = "" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text)
    return s if len(s) <= n else s[: n - 1] + "…"


def brief_pdf(brief: Brief) -> bytes:
    """The visit brief on one A4 page."""
    L, row, p, meta = brief.lang, brief.account, brief.parts, brief.meta
    T = functools.partial(i18n.t, lang=L)
    zh = L.startswith("zh")
    a = p["profile"]
    name = a["name"] if zh or not isinstance(a.get("name_en"), str) or not a["name_en"] \
        else a["name_en"]
    owner = a.get("owner_name") if zh or not isinstance(a.get("owner_name_en"), str) \
        else a.get("owner_name_en")
    cjk = _require_font(L, str(name), str(owner), " ".join(
        p["interactions"]["note"].astype(str)), " ".join(p["holdings"]["name"].astype(str)))
    del cjk  # the brief has no chart: the font matters to WeasyPrint only
    facts = [str(row["account_id"]),
             *(i18n.enum(e, a.get(e), L) for e in ("industry", "size_class")
               if isinstance(a.get(e), str)),
             *([i18n.city(a["city"], L)] if isinstance(a.get("city"), str) else []),
             T("account.owner", owner=owner if isinstance(owner, str) else T(
                 "account.unassigned"))]
    tier = meta["tier"]
    r = p["risk"]

    def box(label: str, value: str, lines: list[str]) -> str:
        return (f'<div class="kpi"><div class="l">{_e(label)}</div><div class="v">{_e(value)}'
                "</div>" + "".join(f'<div class="s">{_e(x)}</div>' for x in lines) + "</div>")

    value_box = box(T("col.value_score"), f"{row['value_score']:.1f}"
                    + (f" · {tier.code}" if tier else ""),
                    [i18n.grade(row["value_grade"], L) + (f" · {tier.label(L)}" if tier else ""),
                     T("account.entitlements", sla=f"{tier.repair_sla_hours:g}",
                       visit=tier.visit_days,
                       agent=T("label.yes" if tier.dedicated_agent else "label.no"))
                     if tier else ""])
    if r is not None:
        risk_box = box(T("account.churn_probability", months=p["horizon_months"]),
                       _probability(r["churn_probability"]),
                       [f"{T('account.revenue_at_risk')}: {i18n.money(r['revenue_at_risk'], L)}",
                        f"{T('account.lifetime_value')}: {i18n.money(r['lifetime_value'], L)}",
                        f"{T('account.ltv_at_risk')}: {i18n.money(r['ltv_at_risk'], L)}"])
    else:
        risk_box = box(T("account.churn_risk"), "–", [T("account.churn_not_live")])
    money_box = box(T("col.monthly_revenue"), i18n.money(row["monthly_revenue"], L), [
        f"{T('kpi.revenue_trend')}: " + (f"{row['revenue_trend']:+.1%}"
                                         if pd.notna(row.get("revenue_trend")) else "–"),
        f"{T('col.share_of_wallet')}: " + (f"{row['share_of_wallet']:.0%}"
                                           if pd.notna(row.get("share_of_wallet")) else "–"),
        f"{T('col.arrears_3m')}: {i18n.money(row['arrears_3m'], L)}"])
    strategy_box = box(T("col.strategy"), i18n.strategy(row["strategy"], L), [
        f"{i18n.stage(row['lifecycle_stage'], L)} · {i18n.approach(row['approach'], L)}",
        f"{T('col.model')}: {meta['model']}"])

    reasons = p["reasons"]
    rows = []
    for dim in ("value", "loyalty", "competitor"):
        d = reasons[reasons["dimension"] == dim]
        up = d[d["delta"] > 0].nlargest(2, "delta")
        down = d[d["delta"] < 0].nsmallest(2, "delta")
        rows.append({"dimension": T(f"col.{dim}_score"), "score": row[f"{dim}_score"],
                     "grade": i18n.grade(row[f"{dim}_grade"], L),
                     "up": "; ".join(f"{x} ({v:+.1f})" for x, v in zip(up["label"], up["delta"],
                                                                         strict=True)) or "–",
                     "down": "; ".join(f"{x} ({v:+.1f})" for x, v in zip(
                         down["label"], down["delta"], strict=True)) or "–"})
    reason_table = _table(pd.DataFrame(rows), (
        Col("dimension", "report.brief.col.dimension"),
        Col("score", "report.brief.col.score", "score"),
        Col("grade", "report.brief.col.grade"), Col("up", "chart.above_average"),
        Col("down", "chart.below_average")), L, cls="reasons")

    factors = p["factors"]
    if p["risk_source"] == "none":
        factor_text = T("account.no_churn_model")
    elif factors:
        factor_text = T("report.brief.factors", factors="; ".join(factors))
    else:
        factor_text = T("account.no_factors")

    held = p["holdings"]
    ours = held[held["provider"] == "ours"]
    theirs = held[held["provider"] != "ours"]

    def pname(df: pd.DataFrame) -> pd.Series:
        return (df["name"] if zh else df["name_en"].fillna(df["name"])).astype(str)

    sep = "、" if zh else ", "
    ours_text = sep.join(pname(ours)) or "–"
    comp_names = theirs["competitor_name" if zh else "competitor_name_en"].fillna(
        theirs["provider"]).astype(str) if len(theirs) else pd.Series(dtype=str)
    theirs_text = sep.join(f"{n} ({c})" for n, c in zip(pname(theirs), comp_names,
                                                        strict=True)) or "–"
    s = p["suggestion"]
    sugg = (T("report.brief.suggestion", product=s["product"], family=s["family"], why=s["why"],
              revenue=i18n.money(s["revenue"], L))
            if s is not None else T("bundle.no_recs"))

    orders = p["orders"].head(4)
    order_rows = pd.DataFrame({
        "rule": orders["rule"].map(lambda x: i18n.rule(x, L)),
        "status": orders["status"].map(lambda x: T(f"status.{x}")),
        "due": pd.to_datetime(orders["due_date"]).dt.date.astype(str),
        "hits": orders["hits"]})
    order_table = _table(order_rows, (Col("rule", "col.rule"), Col("status", "col.status"),
                                      Col("due", "col.due_date"), Col("hits", "col.hits", "int")),
                         L, empty=T("account.no_orders"))
    if len(p["orders"]) > len(orders):
        order_table += f'<p class="note">{_e(T("report.brief.more_orders", n=len(p["orders"]) - len(orders)))}</p>'  # noqa: E501
    plan = p["plan"]
    if len(plan):
        q = plan.iloc[0]
        due = str(q["due_date"])[:10] if pd.notna(q.get("due_date")) else "–"
        next_step = T("report.brief.plan", objective=T(f"objective.{q['objective']}"),
                      action=_clip(i18n.plan_action(q.get("action"), L), 160), due=due,
                      status=T(f"plan_status.{q['status']}"))
    else:
        next_step = T("report.brief.no_plan", action=p["actions"][0] if p["actions"] else
                      i18n.strategy_help(row["strategy"], L))
    inter = p["interactions"]
    inter_rows = pd.DataFrame({"date": inter["date"].astype(str).str[:10], "kind": inter["kind"],
                               "user": inter["user"],
                               "note": inter["note"].map(lambda x: _clip(x, 140))})
    inter_table = _table(inter_rows, (Col("date", "col.date"), Col("kind", "col.kind"),
                                      Col("user", "col.user_id"), Col("note", "col.note")),
                         L, empty=T("report.brief.no_interactions"))
    churned = ""
    if len(p["churn"]):
        ch = p["churn"].iloc[0]
        churned = (f'<p class="alert">{_e(T("account.churned", date=pd.Timestamp(ch["churn_date"]).date(), reason=i18n.enum("churn_reason", ch["reason"], L)))}</p>')  # noqa: E501

    body = (f"<h1>{_e(name)}</h1>"
            f'<p class="scope">{_e(" · ".join(facts))}</p>'
            f'<p class="stamp">{_e(T("report.brief.title"))} · {_e(_stamp(meta, L))} · '
            f'{_e(T("report.generated", at=str(meta["generated"])[:16]))}</p>{churned}'
            f'<div class="kpis">{value_box}{risk_box}{money_box}{strategy_box}</div>'
            f'<h2>{_e(T("report.brief.scores"))}</h2>{reason_table}'
            f'<p class="note">{_e(factor_text)}</p>'
            f'<h2>{_e(T("report.brief.products"))}</h2>'
            f'<p><b>{_e(T("label.ours"))}</b>: {_e(_clip(ours_text, 400))}</p>'
            f'<p><b>{_e(T("label.competitor"))}</b>: {_e(_clip(theirs_text, 300))}</p>'
            f'<p><b>{_e(T("report.brief.next_best"))}</b>: {_e(sugg)}</p>'
            f'<h2>{_e(T("report.brief.work"))}</h2>{order_table}'
            f'<p><b>{_e(T("account.next_step"))}</b>: {_e(next_step)}</p>'
            f'<h2>{_e(T("report.brief.interactions"))}</h2>{inter_table}')
    css_extra = ("<style>.kpi .s { font-size: 7.3pt; color: #333; } "
                 ".alert { color: #a61b1b; font-weight: bold; margin: 1mm 0; } "
                 "p { margin: 0.8mm 0; } h2 { margin-top: 3.5mm; } "
                 "table.reasons td.text { white-space: normal; }</style>")
    doc = _document(T("report.brief.title"), body, L).replace("</head>", css_extra + "</head>", 1)
    return _pdf(doc)
