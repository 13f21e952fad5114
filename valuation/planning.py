"""Retention planning: priority, capacity plan, contract pipeline, counter-poaching, plans."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from valuation import schema
from valuation.access import User, scope_sql
from valuation.config import Settings
from valuation.features import frame_as_of, live_accounts
from valuation.store import Store
from valuation.warnings import open_orders, summarise

__all__ = [
    "OBJECTIVES",
    "PLAN_STATUSES",
    "PlanIncomplete",
    "capacity_plan",
    "capacity_summary",
    "contract_pipeline",
    "counter_poaching",
    "model_flagged",
    "pipeline_summary",
    "plans_for",
    "plans_in_scope",
    "priority",
    "save_plan",
    "work_plan",
]

OBJECTIVES = ("retain", "grow_share", "win_back")
PLAN_STATUSES = ("open", "in_progress", "done", "dropped")
_PLAN_COLUMNS = tuple(schema.table("plans").names)
_PLAN_EDITABLE = frozenset(_PLAN_COLUMNS) - {"version", "updated_at", "updated_by"}
_STATUS_ORDER = ("CASE p.status " + " ".join(
    f"WHEN '{s}' THEN {i}" for i, s in enumerate(PLAN_STATUSES)) + " ELSE 9 END")


def priority(
    analysed_frame: pd.DataFrame,
    hits: pd.DataFrame,
    *,
    settings: Settings,
    churn_probability: pd.Series | None = None,
    value: pd.Series | None = None,
) -> pd.DataFrame:
    """Retention priority of every live account with a warning or open work order.

    ``hits``: rows with account_id, rule and severity (the output of
    :func:`valuation.warnings.account_warnings` or of :func:`valuation.warnings.open_orders`);
    with a work_order_id column, ``orders`` counts them per account.

    priority = value_at_risk x save_chance / effort_hours, where

    - value: ``value`` (a Series indexed by account_id, e.g. lifetime value from the churn
      module) or else 12 x monthly_revenue: a year of the account's revenue;
    - risk: ``churn_probability`` (Series indexed by account_id) where given, else the
      transparent rules-based risk min(1, sum of the rules' base severity /
      ``retention.escalate_rules``): base severity is severity / the tier's
      ``warnings.severity_weights`` (0.5-1 per rule), so an account tripping as many full
      rules as make it "visibly churning" counts as certain to leave if nobody acts;
    - value_at_risk = value x risk;
    - save_chance = ``retention.base_save_chance`` x (1 - competitor_score / 100): the deeper a
      competitor's bundle, the lower the chance to keep the account;
    - effort_hours = ``retention.hours_per_order`` of the account's tier: one retention case
      per account, however many of its rules trip (they are worked in one contact).

    Sorted by priority, highest first; risk_source says "model" or "rules".
    """
    cols = [c for c in ("account_id", "name", "name_en", "tier", "owner_id", "team_id",
                        "monthly_revenue", "competitor_score") if c in analysed_frame.columns]
    live = live_accounts(analysed_frame, cols)
    acc = live[cols]
    h = hits[["account_id", "rule", "severity", *(
        ["work_order_id"] if "work_order_id" in hits.columns else [])]]
    h = h.merge(acc[["account_id", "tier"]], on="account_id", how="inner")
    weights = np.asarray(settings.get("warnings.severity_weights"), dtype=float)
    h = h.assign(base=h["severity"].astype(float) / weights[_tier_index(h["tier"], settings)])
    agg = summarise(h)[["account_id", "rules", "rule_list", "severity"]]
    agg["base"] = agg["account_id"].map(h.groupby("account_id")["base"].sum())
    if "work_order_id" in h.columns:
        agg["orders"] = agg["account_id"].map(h.groupby("account_id")["work_order_id"].size())
    out = acc.merge(agg, on="account_id", how="inner")
    yearly = 12.0 * out["monthly_revenue"].astype(float).fillna(0.0)
    out["value"] = (out["account_id"].map(value).astype(float).fillna(yearly)
                    if value is not None else yearly)
    rules_risk = (out["base"] / float(settings.get("retention.escalate_rules"))).clip(0, 1)
    model = (out["account_id"].map(churn_probability).astype(float) if churn_probability is not None
             else pd.Series(np.nan, index=out.index))
    out["risk"] = model.fillna(rules_risk).clip(0, 1)
    out["risk_source"] = np.where(model.notna(), "model", "rules")
    out["value_at_risk"] = out["value"] * out["risk"]
    out["save_chance"] = _save_chance(out["competitor_score"], settings)
    hours = np.asarray(settings.get("retention.hours_per_order"), dtype=float)
    out["effort_hours"] = hours[_tier_index(out["tier"], settings)]
    out["priority"] = out["value_at_risk"] * out["save_chance"] / out["effort_hours"]
    out = out.drop(columns="base")
    return out.sort_values(["priority", "account_id"], ascending=[False, True], ignore_index=True)


def capacity_plan(store: Store, prioritised: pd.DataFrame, *, settings: Settings) -> pd.DataFrame:
    """Which retention cases fit each team's account-manager hours this month.

    A team's capacity is ``retention.hours_per_manager`` x its account managers (users with
    role account_manager). Within each team, cases are taken in priority order while the
    running total of effort_hours stays within capacity: the first case that does not fit and
    every case after it are marked ``fits = False`` (nothing of lower priority jumps the queue).
    Cases of accounts without a team never fit. Adds rank (within team), cum_hours,
    managers, capacity_hours and fits.
    """
    managers = store.query(
        "SELECT team_id, count(*) AS managers FROM users WHERE role = 'account_manager' "
        "AND team_id IS NOT NULL GROUP BY team_id")
    p = prioritised.merge(managers, on="team_id", how="left")
    p["managers"] = p["managers"].fillna(0).astype(int)
    p["capacity_hours"] = p["managers"] * float(settings.get("retention.hours_per_manager"))
    p = p.sort_values(["team_id", "priority", "account_id"], ascending=[True, False, True],
                      ignore_index=True, na_position="last")
    g = p.groupby("team_id", dropna=False, sort=False)
    p["rank"] = g.cumcount() + 1
    p["cum_hours"] = g["effort_hours"].cumsum()
    p["fits"] = (p["cum_hours"] <= p["capacity_hours"] + 1e-9) & p["team_id"].notna()
    p["fits"] = p.groupby("team_id", dropna=False, sort=False)["fits"].cummin()
    return p


def capacity_summary(plan: pd.DataFrame) -> pd.DataFrame:
    """Per team: capacity, hours planned and needed, cases and value at risk in and out."""
    p = plan.assign(
        hours_fit=plan["effort_hours"].where(plan["fits"], 0.0),
        var_fit=plan["value_at_risk"].where(plan["fits"], 0.0),
        var_left=plan["value_at_risk"].where(~plan["fits"], 0.0),
    )
    g = p.groupby("team_id", dropna=False)
    out = pd.DataFrame({
        "managers": g["managers"].first(),
        "capacity_hours": g["capacity_hours"].first(),
        "cases": g["account_id"].size(),
        "cases_fit": g["fits"].sum().astype(int),
        "hours_fit": g["hours_fit"].sum(),
        "hours_needed": g["effort_hours"].sum(),
        "value_at_risk_fit": g["var_fit"].sum(),
        "value_at_risk_left": g["var_left"].sum(),
    })
    out["cases_left"] = out["cases"] - out["cases_fit"]
    out["utilisation"] = out["hours_fit"] / out["capacity_hours"].where(out["capacity_hours"] > 0)
    return out.reset_index()


def work_plan(
    store: Store,
    analysed_frame: pd.DataFrame,
    *,
    settings: Settings,
    user: User | None = None,
    churn_probability: pd.Series | None = None,
    value: pd.Series | None = None,
) -> pd.DataFrame:
    """The capacity plan of the open work orders the user may see (see :func:`priority`)."""
    orders = open_orders(store, user)
    p = priority(analysed_frame, orders, settings=settings,
                 churn_probability=churn_probability, value=value)
    return capacity_plan(store, p, settings=settings)


def contract_pipeline(
    store: Store,
    analysed_frame: pd.DataFrame,
    *,
    as_of: date | None = None,
    months: tuple[int, ...] = (3, 6),
) -> pd.DataFrame:
    """Contracts of live accounts ending on or after ``as_of`` and within max(months) months.

    ``window`` is the first horizon (in calendar months after ``as_of``) the end date falls
    in, e.g. 3 for the next 3 months, 6 for months 4-6. Adds days_left, the contract value and
    the account's name, tier, owner, team and monthly revenue. Soonest first.
    """
    if not months:
        raise ValueError("months: at least one horizon")
    day = frame_as_of(store, analysed_frame, as_of)
    ts = pd.Timestamp(day)
    horizons = sorted(int(m) for m in months)
    ends = [(ts + pd.DateOffset(months=m)) for m in horizons]
    c = store.query(
        "SELECT contract_id, account_id, contract_type, start_date, end_date, value "
        "FROM contracts WHERE end_date >= ? AND end_date <= ? ORDER BY end_date, contract_id",
        [day, ends[-1].date()])
    cols = [x for x in ("account_id", "name", "name_en", "tier", "owner_id", "team_id",
                        "monthly_revenue") if x in analysed_frame.columns]
    live = live_accounts(analysed_frame, cols)
    out = c.merge(live[cols], on="account_id", how="inner")
    end = pd.to_datetime(out["end_date"])
    out["days_left"] = (end - ts).dt.days
    pos = np.searchsorted(np.array(ends, dtype="datetime64[ns]"), end.to_numpy(), side="left")
    out["window"] = np.asarray(horizons)[pos]
    out.attrs["as_of"] = day.isoformat()
    return out


def pipeline_summary(pipeline: pd.DataFrame, *, months: tuple[int, ...] = (3, 6)
                     ) -> pd.DataFrame:
    """Per horizon (cumulative: the next 3 months include the first 3 of the next 6):
    contracts, accounts, contract value and the accounts' monthly revenue."""
    rows = []
    for m in sorted(months):  # a loop over the horizons, not over contracts
        p = pipeline[pipeline["window"] <= m]
        acc = p.drop_duplicates("account_id")
        rows.append({"months": m, "contracts": len(p), "accounts": len(acc),
                     "contract_value": float(p["value"].sum()),
                     "monthly_revenue": float(acc["monthly_revenue"].sum())})
    return pd.DataFrame(rows)


def counter_poaching(
    analysed_frame: pd.DataFrame, *, settings: Settings, only_likely: bool = True
) -> pd.DataFrame:
    """Counter-poaching (反抢) list: live accounts holding competitor products, best first.

    likely: value_score at least ``positioning.value_high`` and competitor_score below
    ``positioning.competitor_high`` (a valuable account only lightly bound to the
    competitor: "the deeper the competitor's bundle, the lower our chance", DOMAIN.md 2.3).
    win_chance = ``retention.base_save_chance`` x (1 - competitor_score / 100);
    win_back_value = 12 x competitor_spend x win_chance (a year of the competitor's share of
    wallet, weighted by the chance to win it). With ``only_likely=False`` every account with
    a competitor product is listed, likely ones first.
    """
    cols = [c for c in ("account_id", "name", "name_en", "tier", "owner_id", "team_id",
                        "value_score", "loyalty_score", "competitor_score",
                        "competitor_products", "competitor_families", "competitor_spend",
                        "our_spend", "share_of_wallet", "monthly_revenue", "strategy")
            if c in analysed_frame.columns]
    live = live_accounts(analysed_frame, [*cols, "competitor_products"])
    out = live.loc[live["competitor_products"] > 0, cols].copy()
    out["win_chance"] = _save_chance(out["competitor_score"], settings)
    out["win_back_value"] = 12.0 * out["competitor_spend"].astype(float) * out["win_chance"]
    out["likely"] = ((out["value_score"] >= float(settings.get("positioning.value_high")))
                     & (out["competitor_score"]
                        < float(settings.get("positioning.competitor_high"))))
    if only_likely:
        out = out[out["likely"]]
    return out.sort_values(["likely", "win_back_value", "account_id"],
                           ascending=[False, False, True], ignore_index=True)


FLAGGED_COLUMNS = ("account_id", "name", "name_en", "tier", "owner_id", "owner_name",
                   "owner_name_en", "team_id", "monthly_revenue", "churn_probability",
                   "revenue_at_risk", "lifetime_value", "factor_1")


def model_flagged(risk: pd.DataFrame, frame: pd.DataFrame, open_accounts: Any,
                  n: int | None = None) -> pd.DataFrame:
    """The accounts the churn model flags before any rule: live accounts of ``frame`` in the
    model's top decile of churn probability (over all of ``risk``, where it finds most of the
    churn) that no open work order covers (``open_accounts``: account ids), largest revenue
    at risk first (the first ``n`` when given). Columns :data:`FLAGGED_COLUMNS` (those the
    frame has); no rows without a trained model.

    ``risk``: ``churn.portfolio_risk`` (indexed by account_id)."""
    p = risk["churn_probability"]
    info_cols = [c for c in FLAGGED_COLUMNS[1:9] if c in frame.columns]
    if p.notna().sum() == 0:
        return pd.DataFrame(columns=["account_id", *info_cols, *FLAGGED_COLUMNS[9:]])
    high = (p >= p.quantile(0.9)).to_numpy()
    covered = risk.index.isin(pd.Index([str(a) for a in open_accounts], dtype=object))
    r = risk[high & ~covered]
    ids = pd.Index(frame["account_id"].astype(str).to_numpy())
    r = r[ids.get_indexer(r.index) >= 0]
    top = r.nlargest(n, "revenue_at_risk") if n is not None else r.sort_values(
        "revenue_at_risk", ascending=False, kind="stable")
    info = frame[info_cols].iloc[ids.get_indexer(top.index)].reset_index(drop=True)
    return pd.concat([pd.DataFrame({"account_id": top.index.to_numpy()}), info,
                      top[list(FLAGGED_COLUMNS[9:])].reset_index(drop=True)], axis=1)


class PlanIncomplete(ValueError):
    """An open plan without what makes it a plan: ``missing`` names the fields (``action``,
    ``due_date``) in that order."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__("an open plan needs an action and a due date; missing: "
                         + ", ".join(m.replace("_", " ") for m in missing))
        self.missing = missing


def _blank(v: Any) -> bool:
    if v is None:
        return True
    try:
        if pd.isna(v):
            return True
    except (TypeError, ValueError):
        pass
    return isinstance(v, str) and not v.strip()


def save_plan(
    store: Store,
    plan: Mapping[str, Any],
    *,
    user: str,
    expected_version: int | None = None,
) -> tuple[str, int]:
    """Create (no plan_id) or update an account plan; return (plan_id, version).

    Objectives: retain, grow_share, win_back; statuses: open, in_progress, done, dropped
    (new plans default to open). A plan may link one of the account's work orders
    (work_order_id) and the product of a cross-sell suggestion it follows (product_id).
    Versioned and audited; with ``expected_version`` a stale edit raises ConflictError.
    Unknown fields, objectives, statuses, accounts or work orders raise ValueError.

    A plan that is open or in progress after the save (a new one, or an edit of one) states
    what will be done and by when: without an action or a due date it is refused with
    :class:`PlanIncomplete`, naming what is missing. Closing a plan (done, dropped) needs
    neither, so one written before this rule can still be closed as it is.
    """
    unknown = sorted(set(plan) - _PLAN_EDITABLE)
    if unknown:
        raise ValueError(f"unknown plan fields: {', '.join(unknown)}")
    row = dict(plan)
    plan_id = row.get("plan_id")
    if plan_id:
        before = store.query("SELECT * FROM plans WHERE plan_id = ?", [plan_id])
        merged = {**(before.iloc[0].to_dict() if len(before) else {}), **row}
    else:
        row["plan_id"] = plan_id = f"PL-{uuid.uuid4().hex[:12]}"
        row.setdefault("status", "open")
        merged = row
    for req in ("account_id", "objective"):
        if not merged.get(req):
            raise ValueError(f"a plan needs {req}")
    if merged["objective"] not in OBJECTIVES:
        raise ValueError(f"objective {merged['objective']!r} not one of {', '.join(OBJECTIVES)}")
    if merged.get("status", "open") not in PLAN_STATUSES:
        raise ValueError(f"status {merged['status']!r} not one of {', '.join(PLAN_STATUSES)}")
    if "account_id" in row and not store.scalar(
            "SELECT count(*) FROM accounts WHERE account_id = ?", [row["account_id"]]):
        raise ValueError(f"no account {row['account_id']!r}")
    if row.get("work_order_id") and not store.scalar(
            "SELECT count(*) FROM work_orders WHERE work_order_id = ? AND account_id = ?",
            [row["work_order_id"], merged["account_id"]]):
        raise ValueError(f"no work order {row['work_order_id']!r} on account "
                         f"{merged['account_id']!r}")
    if row.get("product_id") and not store.scalar(
            "SELECT count(*) FROM products WHERE product_id = ?", [row["product_id"]]):
        raise ValueError(f"no product {row['product_id']!r}")
    if merged.get("status", "open") in ("open", "in_progress"):
        missing = [f for f in ("action", "due_date") if _blank(merged.get(f))]
        if missing:
            raise PlanIncomplete(missing)
    if row.get("due_date") is not None:
        row["due_date"] = pd.Timestamp(row["due_date"]).date()
    version = store.write_row("plans", row, user=user, expected_version=expected_version,
                              action="plan")
    return str(plan_id), version


def plans_for(store: Store, account_id: str) -> pd.DataFrame:
    """An account's plans with their linked work order's rule and status; open ones first."""
    return store.query(
        f"""SELECT {', '.join('p.' + c for c in _PLAN_COLUMNS)},
                   w.rule AS work_order_rule, w.status AS work_order_status
            FROM plans p LEFT JOIN work_orders w ON w.work_order_id = p.work_order_id
            WHERE p.account_id = ?
            ORDER BY {_STATUS_ORDER}, p.due_date NULLS LAST, p.plan_id""",
        [account_id])


def plans_in_scope(store: Store, user: User | None = None, *, include_closed: bool = False
                   ) -> pd.DataFrame:
    """Plans the user may see: on accounts in their scope or owned by them (all for
    executives, admins or no user); open and in-progress only unless ``include_closed``."""
    where = ["TRUE"] if include_closed else ["p.status IN ('open', 'in_progress')"]
    params: list[Any] = []
    if user is not None and user.role in ("account_manager", "sales_lead"):
        pred, p = scope_sql(user, alias="a")
        where.append(f"(({pred}) OR p.owner_id = ?)")
        params += [*p, user.user_id]
    return store.query(
        f"""SELECT {', '.join('p.' + c for c in _PLAN_COLUMNS)}, a.name AS account_name,
                   a.name_en AS account_name_en, w.rule AS work_order_rule,
                   w.status AS work_order_status
            FROM plans p
            LEFT JOIN accounts a ON a.account_id = p.account_id
            LEFT JOIN work_orders w ON w.work_order_id = p.work_order_id
            WHERE {' AND '.join(where)}
            ORDER BY {_STATUS_ORDER}, p.due_date NULLS LAST, p.plan_id""",
        params)




def _save_chance(competitor_score: pd.Series, settings: Settings) -> pd.Series:
    base = float(settings.get("retention.base_save_chance"))
    return (base * (1.0 - competitor_score.astype(float).fillna(0.0) / 100.0)).clip(0.0, 1.0)


def _tier_index(tier: pd.Series, settings: Settings) -> np.ndarray:
    codes = {t.code: i for i, t in enumerate(settings.tiers)}
    return tier.map(codes).fillna(len(settings.tiers) - 1).astype(int).to_numpy()
