"""Lifetime value and value at risk per account, the portfolio's risk frame, what-if risk.

``lifetime_value`` = monthly revenue x ``churn.margin_rate`` x discounted expected
remaining months; ``value_at_risk`` = churn probability x annual revenue, and x lifetime
value. ``portfolio_risk`` joins propensity, survival and value per live account for the
pages; ``what_if_risk`` reads one account before and after a change to its holdings.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter

from valuation.churn.frame import _EXTRA_COLUMNS, _SEP, RULES, churn_frame, feature_matrix
from valuation.churn.model import ChurnModel, _rule_factors
from valuation.churn.survival import (
    _monthly_rate,
    expected_remaining_lifetime,
    fit_survival,
    survival_frame,
)
from valuation.churn.training import score_accounts
from valuation.config import Settings
from valuation.store import Store

__all__ = [
    "lifetime_value",
    "portfolio_risk",
    "value_at_risk",
    "what_if_risk",
]

_REVENUE_COLUMNS = ("monthly_revenue", "revenue_12m")


def lifetime_value(frame: pd.DataFrame, remaining_months: pd.DataFrame | pd.Series, *,
                   settings: Settings) -> pd.Series:
    """Monthly revenue x ``churn.margin_rate`` x discounted expected remaining months.

    ``remaining_months``: the frame of :func:`expected_remaining_lifetime` (its
    ``discounted_months``, matched by account_id), or a Series of remaining months aligned
    with ``frame`` read as a certain lifetime L, discounted as an annuity:
    sum over u = 1..L of v^u = (1 - v^L) / r, monthly rate r from ``churn.discount_rate``."""
    margin = float(settings.get("churn.margin_rate"))
    revenue = pd.to_numeric(frame["monthly_revenue"], errors="coerce").astype(float).fillna(0.0)
    if isinstance(remaining_months, pd.DataFrame) and remaining_months.index.equals(frame.index):
        disc = remaining_months["discounted_months"].astype(float)  # built from this frame
    elif isinstance(remaining_months, pd.DataFrame):
        disc = frame["account_id"].astype(str).map(pd.Series(
            remaining_months["discounted_months"].to_numpy(float),
            index=remaining_months["account_id"].astype(str))).astype(float)
    else:
        r = _monthly_rate(settings)
        months = pd.Series(np.asarray(remaining_months, float), index=frame.index)
        disc = months if r == 0 else (1 - (1 + r) ** -months) / r
    return (revenue * margin * disc).rename("lifetime_value")


def value_at_risk(prob: pd.Series | np.ndarray, frame: pd.DataFrame,
                  ltv: pd.Series | None = None) -> pd.DataFrame:
    """Per account: churn probability x annual revenue (12 x this month's bill), and x
    lifetime value when ``ltv`` is given. A Series aligns on ``frame``'s index (accounts it
    lacks get NaN), an array by position."""
    p = _aligned(prob, frame)
    annual = 12.0 * pd.to_numeric(frame["monthly_revenue"], errors="coerce").astype(float) \
        .fillna(0.0).to_numpy()
    out = pd.DataFrame({"account_id": frame["account_id"].to_numpy(), "churn_probability": p,
                        "annual_revenue": annual, "revenue_at_risk": p * annual},
                       index=frame.index)
    if ltv is not None:
        lv = _aligned(ltv, frame)
        out["lifetime_value"] = lv
        out["ltv_at_risk"] = p * lv
    return out


def portfolio_risk(store: Store, *, settings: Settings, model: ChurnModel | None = None,
                   frame: pd.DataFrame | None = None, survival: dict[str, KaplanMeierFitter]
                   | None = None, k: int = 3) -> pd.DataFrame:
    """Everything the retention pages read per live account, in one frame indexed by
    account_id: churn_probability (the model's; NaN without one), rules_score (rules tripped),
    factor_1..k / weight_1..k (the model's top factors, or the rules tripped without one),
    remaining_months and discounted_months (expected, from the bundle-depth survival curves),
    lifetime_value, annual_revenue, revenue_at_risk and ltv_at_risk.

    ``frame``: an account frame (``features.account_frame``) or a churn frame
    (:func:`churn_frame`) to reuse, else built at the data's as-of; ``survival``:
    ``fit_survival(..., by="bundle")`` curves to reuse, else fitted on
    :func:`survival_frame`. ``attrs``: as_of, risk_source ("model", "rules": a saved model
    that fell back to the rules, or "none"), base_rate (the training history's churn rate
    within the horizon; None without a model), horizon_months."""
    if frame is not None and all(c in frame.columns for c in _EXTRA_COLUMNS) \
            and "history_start" in frame.attrs:
        cf = frame  # already a churn frame
    else:
        cf = churn_frame(store, frame=frame)
    live = cf[~cf["churned"].astype(bool)]
    if survival is None:
        survival = fit_survival(survival_frame(store, settings=settings, with_tier=False),
                                by="bundle")
    if model is not None:
        scored = score_accounts(model, cf, settings=settings, k=k)
        prob = scored["churn_probability"]
        source = "rules" if model.fallback_ else "model"
    else:
        flags = feature_matrix(live, settings=settings)[[r.name for r in RULES]]
        scored = pd.concat([pd.DataFrame({
            "rules_score": flags.to_numpy().sum(1).astype(np.int64)}, index=live.index),
            _rule_factors(flags, k)], axis=1)
        prob = pd.Series(np.nan, index=live.index)
        source = "none"
    if survival:
        rem = expected_remaining_lifetime(live, survival, settings=settings, by="bundle")
    else:  # no account was followed: no curve to read
        rem = pd.DataFrame({"remaining_months": np.nan, "discounted_months": np.nan},
                           index=live.index)
    ltv = lifetime_value(live, rem, settings=settings)
    var = value_at_risk(prob, live, ltv)
    out = pd.DataFrame({
        "churn_probability": prob.to_numpy(float),
        "rules_score": scored["rules_score"].to_numpy(np.int64),
        **{c: scored[c].to_numpy() for c in scored.columns
           if c.startswith(("factor_", "weight_"))},
        "remaining_months": rem["remaining_months"].to_numpy(float),
        "discounted_months": rem["discounted_months"].to_numpy(float),
        "lifetime_value": ltv.to_numpy(float),
        "annual_revenue": var["annual_revenue"].to_numpy(float),
        "revenue_at_risk": var["revenue_at_risk"].to_numpy(float),
        "ltv_at_risk": var["ltv_at_risk"].to_numpy(float),
    }, index=pd.Index(live["account_id"].astype(str).to_numpy(), name="account_id"))
    out.attrs = {"as_of": cf.attrs["as_of"], "risk_source": source,
                 "base_rate": float(model.base_rate_) if model is not None else None,
                 "horizon_months": int(model.horizon_months) if model is not None
                 else int(settings.get("churn.horizon_months"))}
    return out


def what_if_risk(churn_row: pd.DataFrame, changes: dict[str, Any], *, settings: Settings,
                 model: ChurnModel | None = None,
                 survival: dict[str, KaplanMeierFitter] | None = None,
                 added: Iterable[str] = (), removed: Iterable[str] = ()) -> pd.DataFrame:
    """Churn probability, expected remaining months and lifetime value of one account before
    and after a change to its holdings: rows churn_probability (with a model),
    remaining_months and lifetime_value (with survival curves), columns before and after.

    ``churn_row``: the account's row of a churn frame (:func:`churn_frame`, attrs as_of);
    ``changes``: account-frame columns and their new values (``bundling.WhatIf.changes``).
    The probability reads the changed holdings with the billing history as it is: a new
    product's revenue would otherwise look like a rising bill, which the model reads as
    loyalty it has not earned. Lifetime value takes the new monthly revenue and the curve
    of the new bundle depth. ``added`` / ``removed``: product ids (``bundling.WhatIf.added``
    / ``removed``) that move the model's product indicators (``products_``) too."""
    if len(churn_row) != 1:
        raise ValueError(f"one account's row expected, got {len(churn_row)}")
    after = churn_row.copy()
    for c, v in changes.items():
        if c in after.columns and c != "our_product_ids":
            after[c] = pd.Series([v], index=after.index).astype(after[c].dtype, errors="ignore")
    added, removed = {str(p) for p in added}, {str(p) for p in removed}
    if "our_product_ids" in after.columns and (added or removed
                                               or "our_product_ids" in changes):
        now = changes.get("our_product_ids", after["our_product_ids"].astype(object).iloc[0])
        held = set(str(now).split(_SEP)) if isinstance(now, str) and now else set()
        ids = _SEP.join(sorted((held | added) - removed)) or None
        after["our_product_ids"] = pd.Series([ids], index=after.index, dtype=object)
    held = after.copy()
    for c in _REVENUE_COLUMNS:
        if c in held.columns:
            held[c] = churn_row[c].to_numpy()
    rows: dict[str, tuple[float, float]] = {}
    if model is not None:
        both = pd.concat([churn_row, held], ignore_index=True)
        both.attrs = dict(churn_row.attrs)
        p = model.risk(feature_matrix(both, settings=settings,
                                      products=getattr(model, "products_", [])))
        rows["churn_probability"] = (float(p[0]), float(p[1]))
    if survival:
        both = pd.concat([churn_row, after], ignore_index=True)
        both.attrs = dict(churn_row.attrs)
        rem = expected_remaining_lifetime(both, survival, settings=settings, by="bundle")
        ltv = lifetime_value(both, rem, settings=settings)
        rows["remaining_months"] = (float(rem["remaining_months"].iloc[0]),
                                    float(rem["remaining_months"].iloc[1]))
        rows["lifetime_value"] = (float(ltv.iloc[0]), float(ltv.iloc[1]))
    return pd.DataFrame.from_dict(rows, orient="index", columns=["before", "after"])


# ---------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------
def _aligned(v: pd.Series | np.ndarray, frame: pd.DataFrame) -> np.ndarray:
    if isinstance(v, pd.Series):
        return v.reindex(frame.index).to_numpy(dtype=float)
    arr = np.asarray(v, dtype=float)
    if len(arr) != len(frame):
        raise ValueError(f"{len(arr)} values for {len(frame)} accounts")
    return arr
