"""Settings: scorecards, positioning cuts, lifecycle rules and tiers, loaded from TOML and validated."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from valuation.measures import MEASURES
from valuation.schema import TABLES

__all__ = [
    "DEFAULT_SETTINGS_PATH",
    "NORMS",
    "SETTINGS",
    "MeasureWeight",
    "ScoringModel",
    "Settings",
    "SettingsError",
    "Tier",
    "dump_settings",
    "load_settings",
    "parse_settings",
    "same_settings",
]

DEFAULT_SETTINGS_PATH = Path(__file__).resolve().parent / "models" / "default.toml"
NORMS = ("percentile", "minmax", "log", "fixed")
MISSING = ("zero", "median", "best")
TIER_METHODS = ("quantile", "threshold", "kmeans")

# The scalar settings: dotted name -> (default, help). The TOML file may override any;
# docs/scoring.md documents every one (a test checks).
SETTINGS: dict[str, tuple[Any, str]] = {
    "grades.cuts": ([80.0, 60.0, 40.0, 20.0], "Score cuts between the five grades, high to low."),
    "positioning.value_high": (50.0, "Value score at or above which value counts as high."),
    "positioning.loyalty_high": (45.0, "Loyalty score at or above which loyalty counts as high."),
    "positioning.competitor_high": (
        30.0, "Competitor-entanglement score at or above which entanglement counts as high."),
    "lifecycle.identification_months": (12, "Accounts younger than this are in identification."),
    "lifecycle.warning_revenue_drop": (
        0.20, "A 3-month revenue drop of at least this share puts an account in warning."),
    "lifecycle.warning_arrears_ratio": (
        0.10, "Arrears over billed in the last 3 months at or above this: warning."),
    "lifecycle.warning_escalations": (1, "Escalated complaints in 12 months at or above this: warning."),
    "lifecycle.warning_contract_days": (
        90, "A contract ending within this many days, with low loyalty: warning."),
    "lifecycle.warning_contract_min_loyalty": (
        30.0, "Loyalty below this makes an ending contract a warning."),
    "tiers.method": ("quantile", "How tiers are cut: quantile, threshold or kmeans."),
    "tiers.basis": ("composite", "The score tiers are cut on: value or composite."),
    "tiers.composite_loyalty_weight": (
        0.3, "With basis composite: value x (1 - w) + loyalty x w."),
    # Early warnings (DOMAIN.md section 4; the source's defaults)
    "warnings.w1_spend_drop": (
        0.30, "W1: average daily spend this month below last month's by more than this share."),
    "warnings.w2_silent_days": (3, "W2: consecutive days with no outgoing voice call (SMS not counted)."),
    "warnings.w3_forward_days": (3, "W3: consecutive days with calls forwarded to another operator."),
    "warnings.w4_contract_months": (3, "W4: a contract (incl. handset lease, bill subsidy) ends within this many months."),
    "warnings.w5_balance": (5.0, "W5: credit-control balance below this many yuan."),
    "warnings.w7a_high_spend": (
        8.0, "W7a: average daily spend over the previous 30 days at or above this (yuan): high ARPU."),
    "warnings.w7a_low_balance": (10.0, "W7a: ... while today's prepaid balance is below this (yuan)."),
    "warnings.w7b_days": (
        5, "W7b: consecutive days with SMS or value-added use but no voice, after normal voice use."),
    "warnings.line_share": (
        0.10, "An account trips a line rule when at least this share of its member lines do."),
    "warnings.bill_drop": (
        0.30, "Account rule: this month's bill below the previous 3 months' average by this share."),
    "warnings.arrears": (1000.0, "Account rule: arrears over the last 3 months above this (yuan)."),
    "warnings.competitor_new_days": (
        60, "Account rule: a competitor product first held within this many days."),
    "warnings.complaint_days": (
        30, "Account rule: an escalated complaint within this many days."),
    "warnings.severity_weights": (
        [4.0, 3.0, 2.0, 1.0], "Severity multiplier per tier, top tier first."),
    # Retention work
    "retention.assign_to": ("owner", "Who new work orders go to: owner (account manager) or lead."),
    "retention.due_days": ([2.0, 3.0, 5.0, 10.0], "Days to act on a work order per tier, top tier first."),
    "retention.escalate_rules": (
        3, "Distinct rules tripping at once that make an account visibly churning (escalate)."),
    "retention.escalate_competitor": (
        60.0, "Competitor entanglement at or above which a warned account is contested (escalate)."),
    "retention.hours_per_manager": (24.0, "Retention hours per account manager per month."),
    "retention.hours_per_order": (
        [8.0, 5.0, 3.0, 1.5], "Hours one work order takes per tier, top tier first."),
    "retention.base_save_chance": (
        0.6, "Chance to save an account with no competitor entanglement; falls with entanglement."),
    "retention.manual_priority": (
        [1.0, 0.75, 0.5], "Base severity of a work order raised by hand, priority high, normal, "
                          "low (x the tier's severity weight, as a rule's)."),
    # Churn model, survival and lifetime value
    "churn.horizon_months": (6, "Churn label: the account churns within this many months."),
    "churn.min_events": (100, "Below this many churn events, rank by the transparent rules instead."),
    "churn.margin_rate": (0.35, "Monthly margin as a share of monthly revenue (lifetime value)."),
    "churn.discount_rate": (0.08, "Annual discount rate for lifetime value."),
    "churn.max_lifetime_months": (120, "Horizon of expected remaining lifetime."),
    # Imports
    "import.max_shrink": (
        0.2, "An import that would shrink a stored table by more than this share stops."),
    "quality.max_age_days": (
        35, "Data quality: a fact table whose newest date lies more than this many days "
            "before the as-of date is shown as behind."),
    # Sign-in
    "auth.max_failures": (
        5, "Failed sign-ins in a row for one user ID that lock it (even the right password is "
           "refused while locked)."),
    "auth.lockout_minutes": (15, "How long a locked user ID stays locked."),
    "auth.backoff_seconds": (
        1.0, "From the second failure in a row, the next attempt waits this long, doubling with "
             "every further failure (0: no wait)."),
    "auth.idle_timeout_minutes": (
        30, "A session idle this long is signed out; the reload cookie expires with it."),
    "auth.session_hours": (12, "A session restored from its cookie lasts at most this long."),
    "auth.failure_memory_hours": (
        24, "Failures older than this (and no lock in force) are forgotten: their count starts "
            "afresh and the row is removed, so IDs nobody has do not pile up."),
    # Calibration of the loyalty and competitor weights to churn history
    "calibration.horizon_months": (
        12, "Calibration label: the account churns within this many months of a month end."),
    "calibration.min_events": (
        30, "Fewer churn events than this in a model's scope: its weights are kept."),
    "calibration.c": (
        1.0, "Inverse strength of the L2 penalty on the fitted weights (as scikit-learn's C)."),
    "calibration.folds": (5, "Stratified folds when the history allows no time split."),
    "calibration.max_dates": (
        6, "Month ends the calibration fits on, the latest whose window closed before the one "
           "it validates on."),
    # The weekly digest e-mail (valuation digest)
    "digest.base_url": (
        "http://localhost:8501", "Address of the app the digest links into (each account: "
                                 "/account?account=ID)."),
    "digest.default_lang": (
        "zh", "Language of the digest e-mails, zh or en (users have no language of their own; "
              "valuation digest --lang overrides it)."),
    "digest.max_items": (
        50, "Items listed per section of a digest e-mail; the rest are counted, with a link "
            "to the app."),
    "digest.smtp_host": ("localhost", "SMTP server the digest is sent through "
                                      "(VALUATION_SMTP_HOST overrides it)."),
    "digest.smtp_port": (25, "SMTP port (VALUATION_SMTP_PORT overrides it)."),
    "digest.smtp_from": ("valuation@localhost", "Sender address of the digest."),
    "digest.smtp_starttls": (False, "Upgrade the SMTP connection with STARTTLS before "
                                    "signing in and sending."),
    "digest.smtp_user": ("", "SMTP user to sign in as (empty: no sign-in); the password comes "
                             "only from the environment, VALUATION_SMTP_PASSWORD."),
}


# Settings that hold one number per tier, top tier first.
PER_TIER = ("warnings.severity_weights", "retention.due_days", "retention.hours_per_order")


class SettingsError(ValueError):
    """Settings that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class MeasureWeight:
    name: str
    weight: float
    norm: str
    missing: str


@dataclass(frozen=True)
class ScoringModel:
    """A scorecard applied to the accounts in its scope."""

    name: str
    label_en: str
    label_zh: str
    precedence: int
    scope: dict[str, tuple[Any, ...]]
    value_weights: dict[str, float]
    measures: tuple[MeasureWeight, ...]

    def label(self, lang: str) -> str:
        return self.label_zh if lang.startswith("zh") else self.label_en


@dataclass(frozen=True)
class Tier:
    code: str
    label_en: str
    label_zh: str
    share: float
    threshold: float
    dedicated_agent: bool
    repair_sla_hours: float
    visit_days: int

    def label(self, lang: str) -> str:
        return self.label_zh if lang.startswith("zh") else self.label_en


@dataclass(frozen=True)
class Settings:
    """Every knob of scoring, positioning and tiering (frozen; pass it explicitly)."""

    models: tuple[ScoringModel, ...]
    tiers: tuple[Tier, ...]
    values: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def get(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        default = SETTINGS[name][0]
        if name in PER_TIER and len(default) != len(self.tiers):
            # a default per tier for another tier count: keep the top values, end on the last
            n = len(self.tiers)
            return [*default[: n - 1], default[-1]] if n > 0 else []
        return default

    def model(self, name: str) -> ScoringModel:
        return next(m for m in self.models if m.name == name)

    def tier(self, code: str) -> Tier:
        return next(t for t in self.tiers if t.code == code)


def same_settings(a: Settings, b: Settings) -> bool:
    """True when two settings score, tier and position every account identically."""
    return (a.models, a.tiers) == (b.models, b.tiers) and all(
        a.get(k) == b.get(k) for k in SETTINGS)


def load_settings(path: str | Path | None = None) -> Settings:
    """Settings from a TOML file (default: valuation/models/default.toml)."""
    p = Path(path) if path is not None else DEFAULT_SETTINGS_PATH
    return parse_settings(p.read_text(encoding="utf-8"))


def parse_settings(text: str) -> Settings:
    """Parse and validate settings TOML; raise SettingsError naming the bad entry."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"not valid TOML: {exc}") from exc
    _refuse_unknown(doc)
    values: dict[str, Any] = {}
    for name, (default, _help) in SETTINGS.items():
        section, key = name.split(".", 1)
        if key in doc.get(section, {}):
            values[name] = doc[section][key]
            _check_type(name, values[name], default)
    for key, value in (doc.get("bundling") or {}).items():
        name = f"bundling.{key}"
        _check_type(name, value, _bundling_defaults()[key])
        values[name] = value
    s = Settings(
        models=_models(doc.get("models", [])),
        tiers=_tiers(doc.get("tiers", {}).get("tier", [])),
        values=values,
        source=text,
    )
    _validate(s)
    return s


_MODEL_KEYS = ("name", "label_en", "label_zh", "precedence", "scope", "value_weights", "measures")
_MEASURE_KEYS = ("name", "weight", "norm", "missing")
_TIER_KEYS = ("code", "label_en", "label_zh", "share", "threshold", "dedicated_agent",
              "repair_sla_hours", "visit_days")


def _bundling_defaults() -> dict[str, Any]:
    """The ``[bundling]`` keys (the fields of BundlingParams) and their defaults."""
    from dataclasses import fields  # noqa: PLC0415

    from valuation.bundling.common import BundlingParams  # noqa: PLC0415 - bundling imports us

    d = BundlingParams()
    return {f.name: getattr(d, f.name) for f in fields(BundlingParams)}


def _refuse_unknown(doc: dict[str, Any]) -> None:
    """Sections and keys that nothing reads are refused: a typo must not be silently ignored."""
    known: dict[str, set[str]] = {}
    for name in SETTINGS:
        section, key = name.split(".", 1)
        known.setdefault(section, set()).add(key)
    known["tiers"].add("tier")
    known["bundling"] = set(_bundling_defaults())

    def refuse(where: str, key: str, allowed: Any) -> None:
        raise SettingsError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(allowed))})")

    for section, body in doc.items():
        if section == "models":
            if not isinstance(body, list):
                raise SettingsError("models: an array of [[models]] tables")
            for i, m in enumerate(body):
                where = f"models[{i}] ({m.get('name', '?') if isinstance(m, dict) else '?'})"
                if not isinstance(m, dict):
                    raise SettingsError(f"{where}: a table")
                for k in m:
                    if k not in _MODEL_KEYS:
                        refuse(where, k, _MODEL_KEYS)
                for j, mw in enumerate(m.get("measures") or []):
                    if not isinstance(mw, dict):
                        raise SettingsError(f"{where} measure {j}: a table {{ name = ..., weight = ... }}")
                    for k in mw:
                        if k not in _MEASURE_KEYS:
                            refuse(f"{where} measure {mw.get('name', j)}", k, _MEASURE_KEYS)
            continue
        if section not in known:
            raise SettingsError(
                f"unknown section [{section}] (known: {', '.join(sorted([*known, 'models']))})")
        if not isinstance(body, dict):
            raise SettingsError(f"[{section}] must be a table")
        for k in body:
            if k not in known[section]:
                refuse(f"[{section}]", k, known[section])
    for i, t in enumerate((doc.get("tiers") or {}).get("tier") or []):
        for k in t:
            if k not in _TIER_KEYS:
                refuse(f"tiers[{i}] ({t.get('code', '?')})", k, _TIER_KEYS)


def _check_type(name: str, value: Any, default: Any) -> None:
    if isinstance(default, list):
        ok = isinstance(value, list) and all(isinstance(v, (int, float)) for v in value)
    elif isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, str):
        ok = isinstance(value, str)
    else:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok:
        raise SettingsError(f"{name}: expected {type(default).__name__}, got {value!r}")


def _models(raw: list[dict[str, Any]]) -> tuple[ScoringModel, ...]:
    if not raw:
        raise SettingsError("models: at least one scoring model is needed")
    account_cols = set(TABLES["accounts"].names)
    out = []
    for i, m in enumerate(raw):
        where = f"models[{i}] ({m.get('name', '?')})"
        for req in ("name", "measures"):
            if req not in m:
                raise SettingsError(f"{where}: missing {req}")
        scope: dict[str, tuple[Any, ...]] = {}
        for col, allowed in (m.get("scope") or {}).items():
            base = col.removeprefix("min_").removeprefix("max_")
            if base not in account_cols:
                raise SettingsError(f"{where}: scope on unknown account column {col!r}")
            scope[col] = tuple(allowed) if isinstance(allowed, list) else (allowed,)
        measures = []
        for j, mw in enumerate(m["measures"]):
            name = mw.get("name")
            if name not in MEASURES:
                raise SettingsError(
                    f"{where} measure {j}: unknown measure {name!r} (known: {', '.join(MEASURES)})")
            w = mw.get("weight", 1.0)
            if not isinstance(w, (int, float)) or isinstance(w, bool) or w < 0 or w != w:
                raise SettingsError(f"{where} measure {name}: weight must be a number >= 0, got {w!r}")
            norm = mw.get("norm", "percentile")
            if norm not in NORMS:
                raise SettingsError(f"{where} measure {name}: norm {norm!r} not one of {NORMS}")
            missing = mw.get("missing", MEASURES[name].missing)
            if missing not in MISSING:
                raise SettingsError(f"{where} measure {name}: missing {missing!r} not one of {MISSING}")
            measures.append(MeasureWeight(name, float(w), norm, missing))
        names = [x.name for x in measures]
        if len(set(names)) != len(names):
            raise SettingsError(f"{where}: a measure is listed twice")
        vw = {"influence": 0.5, "payment": 0.5} | dict(m.get("value_weights", {}))
        if set(vw) != {"influence", "payment"} or any(
            not isinstance(v, (int, float)) or v < 0 for v in vw.values()
        ) or sum(vw.values()) <= 0:
            raise SettingsError(f"{where}: value_weights needs influence and payment >= 0, not both 0")
        out.append(ScoringModel(
            name=str(m["name"]), label_en=str(m.get("label_en", m["name"])),
            label_zh=str(m.get("label_zh", m.get("label_en", m["name"]))),
            precedence=int(m.get("precedence", 100 + i)), scope=scope,
            value_weights={k: float(v) for k, v in vw.items()}, measures=tuple(measures),
        ))
    return tuple(sorted(out, key=lambda x: x.precedence))


def _tiers(raw: list[dict[str, Any]]) -> tuple[Tier, ...]:
    if len(raw) < 2:
        raise SettingsError("tiers: at least two tiers are needed")
    out = []
    for i, t in enumerate(raw):
        try:
            out.append(Tier(
                code=str(t["code"]), label_en=str(t.get("label_en", t["code"])),
                label_zh=str(t.get("label_zh", t.get("label_en", t["code"]))),
                share=float(t.get("share", 0.0)), threshold=float(t.get("threshold", 0.0)),
                dedicated_agent=bool(t.get("dedicated_agent", False)),
                repair_sla_hours=float(t.get("repair_sla_hours", 48)),
                visit_days=int(t.get("visit_days", 365)),
            ))
        except (KeyError, TypeError, ValueError) as exc:
            raise SettingsError(f"tiers[{i}]: {exc}") from exc
    return tuple(out)


def _validate(s: Settings) -> None:
    names = [m.name for m in s.models]
    if len(set(names)) != len(names):
        raise SettingsError("models: two models share a name")
    if s.models[-1].scope:
        raise SettingsError(
            f"models: the last model by precedence ({s.models[-1].name}) must have an empty scope, "
            "so that every account is scored by exactly one model")
    for m in s.models:
        dims = {MEASURES[x.name].dimension for x in m.measures if x.weight > 0}
        missing = {"value", "loyalty", "competitor"} - dims
        if missing:
            raise SettingsError(
                f"model {m.name}: no measure with weight > 0 for {', '.join(sorted(missing))}")
        for g in ("influence", "payment"):
            if m.value_weights[g] > 0 and not any(
                MEASURES[x.name].group == g and x.weight > 0 for x in m.measures
            ):
                raise SettingsError(f"model {m.name}: value weight on {g} but no {g} measure")
    cuts = s.get("grades.cuts")
    if len(cuts) != 4 or any(not 0 <= c <= 100 for c in cuts) or sorted(cuts, reverse=True) != cuts:
        raise SettingsError("grades.cuts: four numbers from 100 down to 0, in decreasing order")
    for k in ("positioning.value_high", "positioning.loyalty_high", "positioning.competitor_high"):
        if not 0 <= s.get(k) <= 100:
            raise SettingsError(f"{k}: must be between 0 and 100")
    for k in ("auth.max_failures", "auth.lockout_minutes", "auth.idle_timeout_minutes",
              "auth.session_hours", "auth.failure_memory_hours"):
        if s.get(k) < 1:
            raise SettingsError(f"{k}: at least 1")
    age = s.get("quality.max_age_days")
    if not isinstance(age, int) or isinstance(age, bool) or age < 0:
        raise SettingsError("quality.max_age_days: a whole number of days, 0 or more")
    if s.get("auth.backoff_seconds") < 0:
        raise SettingsError("auth.backoff_seconds: 0 or more")
    manual = s.get("retention.manual_priority")
    if len(manual) != 3 or any(v < 0 for v in manual):
        raise SettingsError("retention.manual_priority: three base severities (high, normal, "
                            "low), none below 0")
    if s.get("digest.default_lang") not in ("zh", "en"):
        raise SettingsError("digest.default_lang: zh or en")
    port = s.get("digest.smtp_port")
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise SettingsError("digest.smtp_port: a whole number from 1 to 65535")
    if not isinstance(s.get("digest.max_items"), int) or s.get("digest.max_items") < 1:
        raise SettingsError("digest.max_items: a whole number, at least 1")
    if not str(s.get("digest.base_url")).startswith(("http://", "https://")):
        raise SettingsError("digest.base_url: an http:// or https:// address")
    if s.get("tiers.method") not in TIER_METHODS:
        raise SettingsError(f"tiers.method: one of {', '.join(TIER_METHODS)}")
    if s.get("tiers.basis") not in ("value", "composite"):
        raise SettingsError("tiers.basis: value or composite")
    if not 0 <= s.get("tiers.composite_loyalty_weight") <= 1:
        raise SettingsError("tiers.composite_loyalty_weight: between 0 and 1")
    codes = [t.code for t in s.tiers]
    for k in PER_TIER:
        if k in s.values and len(s.get(k)) != len(codes):
            raise SettingsError(f"{k}: one number per tier ({len(codes)}), got {len(s.get(k))}")
    if len(set(codes)) != len(codes):
        raise SettingsError("tiers: two tiers share a code")
    if s.get("tiers.method") == "quantile":
        shares = [t.share for t in s.tiers]
        if any(x <= 0 for x in shares) or abs(sum(shares) - 1.0) > 1e-6:
            raise SettingsError(
                f"tiers: with method quantile the shares must be > 0 and add up to 1 (they add up "
                f"to {sum(shares):.3f})")
    if s.get("tiers.method") == "threshold":
        th = [t.threshold for t in s.tiers]
        if sorted(th, reverse=True) != th or len(set(th)) != len(th):
            raise SettingsError("tiers: with method threshold, thresholds must fall strictly from the top tier")


def dump_settings(doc: dict[str, Any]) -> str:
    """TOML text for a settings document (the shape :func:`parse_settings` reads)."""
    lines: list[str] = []
    tables = {k: v for k, v in doc.items() if isinstance(v, dict)}
    arrays = {k: v for k, v in doc.items() if isinstance(v, list) and v and isinstance(v[0], dict)}
    for key, value in doc.items():
        if key not in tables and key not in arrays:
            lines.append(f"{key} = {_toml_value(value)}")
    for key, table in tables.items():
        lines.append(f"\n[{key}]")
        for k, v in table.items():
            if isinstance(v, list) and v and isinstance(v[0], dict):
                continue
            lines.append(f"{k} = {_toml_value(v)}")
        for k, v in table.items():
            if isinstance(v, list) and v and isinstance(v[0], dict):
                for item in v:
                    lines.append(f"\n[[{key}.{k}]]")
                    lines.extend(f"{ik} = {_toml_value(iv)}" for ik, iv in item.items())
    for key, items in arrays.items():
        for item in items:
            lines.append(f"\n[[{key}]]")
            for k, v in item.items():
                if k == "measures":
                    lines.append("measures = [")
                    lines.extend(f"  {_toml_value(m)}," for m in v)
                    lines.append("]")
                else:
                    lines.append(f"{k} = {_toml_value(v)}")
    return "\n".join(lines).lstrip() + "\n"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(float(v)) if isinstance(v, float) else str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }" if v else "{}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")
