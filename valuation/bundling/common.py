"""Shared pieces of the bundling package: families, labels, parameters, the catalogue.

DOMAIN.md sections 2 and 5. The deeper an account's bundle with us, the higher its switching
cost and the lower its churn; the deeper a competitor's bundle, the lower our chance of
winning the account over. Everything over accounts is sparse-matrix or whole-array work; graph
algorithms only touch the product graph (tens of nodes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from valuation.config import Settings

__all__ = [
    "APPROACH_OF_SIZE",
    "BundlingParams",
    "COMPETITOR_FAMILIES",
    "FAMILIES",
    "METRIC_LABELS",
    "OURS",
    "REASONS",
]

OURS = "ours"
FAMILIES = ("communication", "information", "industry", "service_support")
# Competitor entanglement counts communication, information and industry only (DOMAIN.md 2).
COMPETITOR_FAMILIES = FAMILIES[:3]
# The size rule (DOMAIN.md 3): large and medium accounts value function and service, small
# ones price. Unknown sizes are treated as price led.
APPROACH_OF_SIZE = {"large": "function_service", "medium": "function_service",
                    "small": "price_led"}
_DEPTH_CAP = 3  # as measures.family_depth: min(products in the family, 3) / 3
_CHUNK = 65_536  # accounts per block in the dense per-account kernels (bounded memory)

# Reason codes of a recommendation: code -> (English, Chinese). The UI translates the code;
# ``because_product`` and ``because_lift`` fill in the evidence.
REASONS: dict[str, tuple[str, str]] = {
    "displace_competitor": ("Replaces a competitor's product of the same function",
                            "替换同功能的异网产品"),
    "industry_solution": ("Application for the account's industry", "匹配客户行业的行业应用"),
    "new_family": ("Opens a product family the account does not use yet", "拓展新的产品族"),
    "closed_user_group": ("Closed user group: locks in every member line",
                          "集团V网:锁定全部成员号码"),
    "deepen_family": ("Deepens a family the account already uses", "深化已使用的产品族"),
}

# Labels of bundle metrics and switching-cost parts: code -> (English, Chinese, help).
METRIC_LABELS: dict[str, tuple[str, str, str]] = {
    "families_covered": ("Families covered", "产品族覆盖", "families of ours held, 0-4"),
    "products_held": ("Products held", "持有产品数", "distinct products of ours held"),
    "depth": ("Depth within families", "族内深度",
              "mean over the four families of min(products in the family, 3) / 3"),
    "cohesion": ("Bundle cohesion", "捆绑紧密度",
                 "lift of the co-holding edges among our products held, averaged over every "
                 "pair held (a pair without an edge counts 0); 0 with fewer than two products"),
    "switching_cost": ("Switching-cost index", "转网成本指数",
                       "services + lock-in + integration + closed user group"),
    "services": ("Services to replace", "需替换的业务", "points per product of ours held"),
    "lock_in": ("Lock-in contracts", "协议锁定",
                "points per live contract by type; a live comprehensive agreement adds points "
                "for every product of ours it covers"),
    "integration": ("Integration depth", "集成深度",
                    "points per product of ours by family; industry applications and service "
                    "support weigh more"),
    "cug": ("Closed user group", "集团V网", "points when the account holds our closed user group"),
    "competitor_families": ("Competitor families", "异网产品族",
                            "communication, information, industry families held from competitors"),
    "competitor_products": ("Competitor products", "异网产品数", "competitor products held"),
    "competitor_spend": ("Competitor spend", "异网月支出", "estimated monthly spend, yuan"),
    "competitor_lock_in": ("Competitor switching cost", "异网转网成本",
                           "the same services + integration points over competitor products"),
}


@dataclass(frozen=True)
class BundlingParams:
    """Every knob of this module, with its default. The source documents fix none of these
    numbers (DOMAIN.md 2): they are this product's documented defaults.

    Read from settings with :meth:`from_settings` (any ``bundling.<field>`` value present in
    the settings overrides the default).
    """

    # product graph
    min_support: float = 0.0005
    """Co-holding edges need at least this share of accounts holding both products."""
    min_count: int = 3
    """... and at least this many accounts holding both."""
    # switching cost
    service_points: float = 1.0
    """Services to replace: points per product of ours held."""
    integration_communication: float = 0.5
    integration_information: float = 1.0
    integration_industry: float = 2.0
    integration_service_support: float = 2.0
    """Integration depth: points per product of ours by family."""
    lock_in_comprehensive_bundle: float = 2.0
    lock_in_handset_lease: float = 1.0
    lock_in_bill_subsidy: float = 1.0
    lock_in_service: float = 1.0
    """Lock-in: points per live contract by type."""
    bundle_per_service: float = 0.5
    """A live comprehensive agreement raises the exit cost of every service (000 L138): points
    per product of ours held while one is live."""
    cug_points: float = 2.0
    """Closed user group of ours held (every member line is locked in)."""
    # recommender
    segment_shrinkage: float = 20.0
    """Pseudo-accounts pulling a segment's (industry x size) penetration to the portfolio's."""
    evidence_shrinkage: float = 50.0
    """Pseudo-accounts pulling co-holding evidence towards 'no evidence' (lift 1)."""
    evidence_weight: float = 0.5
    """Weight of the held set's log-lift evidence next to the segment prior (naive Bayes
    over-counts correlated products; 1 = plain naive Bayes)."""
    loyalty_unit: float = 10.0
    """Loyalty points that double a candidate's score."""
    revenue_unit: float = 1000.0
    revenue_elasticity: float = 0.1
    """Score x (1 + expected revenue / unit) ** elasticity for function/service-led accounts,
    ** -elasticity for price-led ones (small accounts prefer cheap additions)."""
    function_service_boost: float = 0.2
    """Large and medium accounts: industry applications and service support score x (1 + this)."""
    # the cross-sell blend (valuation.bundling.blend.Blend): the one recommend ranks by
    blend_name: str = "default"
    """Name of the blend in use (as :func:`choose_blend` names its candidates)."""
    blend_evidence: float = 1.0
    blend_co_holding: float = 0.25
    blend_popularity: float = 0.0
    blend_segment: float = 0.0
    blend_loyalty: float = 0.0
    blend_size: float = 0.0
    blend_model: float = 0.0
    """The blend's weights (:class:`Blend`); the defaults are :data:`DEFAULT_BLEND`. Store a
    chosen blend with :meth:`Blend.settings_values`. ``blend_model`` > 0: the blend ranks by
    the learned co-holding model (:class:`~valuation.bundling.cohold.CoHoldingModel`)."""
    cohold_c: float = 0.3
    """The co-holding model's inverse L2 strength (scikit-learn's ``C``; 0.3 did as well as
    1 on generated wide exports and better on the demo, where co-holding is mostly noise)."""
    cohold_max_negatives: int = 200_000
    """The co-holding model: non-holders of a product above this many are thinned at random
    for its fit (the intercept corrects for it); 0: never. Below it the fit is exact (about
    2 s for 100,000 accounts and 31 products of ours)."""
    blend_margin: float = 2.0
    """Choosing a blend: on the selection half, a blend replaces popularity only when its
    hit rate beats popularity's by more than this many standard errors (paired, per account)."""
    # displacement
    base_win_chance: float = 0.5
    """Chance to win a competitor's product with no competitor entanglement."""
    win_factor_communication: float = 1.0
    win_factor_information: float = 0.8
    win_factor_industry: float = 0.6
    """Harder to displace what is integrated deeper."""
    dual_source_boost: float = 0.3
    """The account already holds our substitute too: chance x (1 + this)."""
    max_win_chance: float = 0.95

    @classmethod
    def from_settings(cls, settings: Settings | None) -> BundlingParams:
        """Defaults overridden by any ``bundling.<field>`` present in ``settings.values``."""
        if settings is None:
            return cls()
        over = {f.name: settings.values[f"bundling.{f.name}"] for f in fields(cls)
                if f"bundling.{f.name}" in settings.values}
        return cls(**over)

    def integration(self, family: str) -> float:
        return float(getattr(self, f"integration_{family}", 0.0))

    def lock_in(self, contract_type: str) -> float:
        return float(getattr(self, f"lock_in_{contract_type}", 0.0))

    def win_factor(self, family: str) -> float:
        return float(getattr(self, f"win_factor_{family}", 0.0))


_DEFAULT = BundlingParams()


@dataclass(frozen=True)
class _Catalogue:
    product_ids: np.ndarray
    family: np.ndarray
    provider: np.ndarray
    function: np.ndarray
    industries: tuple[frozenset[str], ...]
    industries_raw: tuple[str | None, ...]
    price: np.ndarray
    name: np.ndarray
    name_en: np.ndarray
    ours: np.ndarray


def _catalogue(products: pd.DataFrame, product_ids: np.ndarray) -> _Catalogue:
    """The products table aligned to ``product_ids`` (validated once here)."""
    need = {"product_id", "family", "provider"}
    missing = need - set(products.columns)
    if missing:
        raise ValueError(f"products: missing columns {', '.join(sorted(missing))}")
    p = products.assign(product_id=products["product_id"].astype(str)).drop_duplicates(
        "product_id").set_index("product_id")
    ids = np.asarray(product_ids, dtype=object).astype(str)
    absent = [i for i in ids if i not in p.index]
    if absent:
        raise ValueError(f"products missing from the catalogue: {', '.join(absent[:5])}")
    p = p.reindex(ids)

    def col(name: str, default: Any) -> np.ndarray:
        if name not in p.columns:
            return np.full(len(p), default, dtype=object)
        return p[name].astype(object).where(p[name].notna(), default).to_numpy(dtype=object)

    raw = col("industries", None)
    inds = tuple(frozenset(s.strip() for s in str(v).split(";") if s.strip())
                 if v is not None and str(v).strip() else frozenset() for v in raw)
    fam = p["family"].astype(str).to_numpy(dtype=object)
    bad = set(fam) - set(FAMILIES)
    if bad:
        raise ValueError(f"products: unknown families {', '.join(sorted(bad))}")
    prov = p["provider"].astype(str).to_numpy(dtype=object)
    return _Catalogue(
        product_ids=ids.astype(object), family=fam, provider=prov,
        function=np.array([str(v) if v is not None else f"_{i}" for i, v in
                           enumerate(col("function", None))], dtype=object),
        industries=inds, industries_raw=tuple(None if v is None else str(v) for v in raw),
        price=pd.to_numeric(pd.Series(col("list_price", 0.0)), errors="coerce").fillna(
            0.0).to_numpy(dtype=np.float64),
        name=col("name", None), name_en=col("name_en", None), ours=prov == OURS)


def _eligibility(cat: _Catalogue, industries: np.ndarray) -> np.ndarray:
    """accounts x products: False for an industry application of another industry (and for
    any industry-specific product when the account's industry is unknown)."""
    codes, uniq = pd.factorize(pd.Series(industries, dtype=object), use_na_sentinel=True)
    table = np.array([[not s or (u in s) for s in cat.industries] for u in uniq],
                     dtype=bool).reshape(len(uniq), len(cat.industries))
    unknown = np.array([not s for s in cat.industries], dtype=bool)
    table = np.vstack([table, unknown[None, :]])
    return table[np.where(codes >= 0, codes, len(uniq))]


def _family_onehot(cat: _Catalogue, *, ours: bool) -> np.ndarray:
    """products x families: 1 where the product is of the family (and ours / a competitor's)."""
    sel = cat.ours if ours else ~cat.ours
    return np.stack([(cat.family == f) & sel for f in FAMILIES], axis=1).astype(np.float32)


def _str_ids(ids: Sequence[Any]) -> np.ndarray:
    """Ids as an object array of str (checked in C; converted only when needed)."""
    arr = np.asarray(ids, dtype=object)
    if len(arr) and pd.api.types.infer_dtype(arr, skipna=False) != "string":
        arr = arr.astype(str).astype(object)
    return arr


def _settings(settings: Settings | None) -> Settings:
    if settings is not None:
        return settings
    from valuation.config import load_settings

    return load_settings()


def _py(v: Any) -> Any:
    if isinstance(v, (np.generic,)):
        return v.item()
    return v
