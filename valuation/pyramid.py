"""The value pyramid: tier cuts (an estimator), per-tier distribution and composition, Lorenz
curve, group roll-up, migration between snapshots, and the path to the next tier."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans

from valuation import i18n
from valuation.config import Settings, Tier
from valuation.measures import MEASURES
from valuation.schema import enum_label
from valuation.scoring import Scorecard, effective_weights

__all__ = [
    "TierCutter",
    "basis_score",
    "composition",
    "concentration",
    "group_rollup",
    "kpis_by",
    "lorenz",
    "migration",
    "migration_summary",
    "path_to_next_tier",
    "segment_labels",
    "tier_summary",
]

FAMILIES = ("communication", "information", "industry", "service_support")


class TierCutter:
    """Learns score cuts between tiers (scikit-learn estimator contract).

    ``method``: ``quantile`` (each tier's share of accounts, top first), ``threshold`` (fixed
    minimum scores) or ``kmeans`` (1-D k-means; cuts halfway between ordered centres).
    After ``fit``, ``cuts_[i]`` is the lowest score of tier ``i`` (for all but the last tier).
    """

    def __init__(self, *, tiers: tuple[Tier, ...], method: str = "quantile",
                 random_state: int = 0) -> None:
        self.tiers = tiers
        self.method = method
        self.random_state = random_state

    def fit(self, scores: pd.Series | np.ndarray) -> TierCutter:
        s = np.asarray(scores, dtype="float64")
        s = s[~np.isnan(s)]
        k = len(self.tiers)
        if self.method == "threshold":
            cuts = np.array([t.threshold for t in self.tiers[:-1]], dtype="float64")
        elif len(s) == 0:
            cuts = np.full(k - 1, np.inf)
        elif self.method == "quantile":
            top_shares = np.cumsum([t.share for t in self.tiers])[:-1]
            cuts = np.quantile(s, np.clip(1 - top_shares, 0, 1), method="higher")
        elif self.method == "kmeans":
            sample = s if len(s) <= 200_000 else np.random.default_rng(
                self.random_state).choice(s, 200_000, replace=False)
            n_clusters = min(k, len(np.unique(sample)))
            km = KMeans(n_clusters=n_clusters, n_init=4, random_state=self.random_state)
            km.fit(sample.reshape(-1, 1))
            centres = np.sort(km.cluster_centers_.ravel())[::-1]
            mids = (centres[:-1] + centres[1:]) / 2
            cuts = np.concatenate([mids, np.full(k - 1 - len(mids), -np.inf)])
        else:
            raise ValueError(f"unknown tier method {self.method!r}")
        self.cuts_ = cuts
        self.codes_ = np.array([t.code for t in self.tiers], dtype=object)
        return self

    def predict(self, scores: pd.Series | np.ndarray) -> np.ndarray:
        """Tier code per score: the first tier whose cut the score reaches."""
        s = np.asarray(scores, dtype="float64")
        # number of cuts the score falls below = tier index
        idx = (s[:, None] < self.cuts_[None, :]).sum(axis=1) if len(self.cuts_) else np.zeros(
            len(s), dtype=int)
        return self.codes_[idx]


def basis_score(scores: pd.DataFrame, settings: Settings) -> pd.Series:
    """The score tiers are cut on: value, or value x (1 - w) + loyalty x w."""
    if settings.get("tiers.basis") == "value":
        return scores["value_score"].astype("float64")
    w = settings.get("tiers.composite_loyalty_weight")
    return (scores["value_score"] * (1 - w) + scores["loyalty_score"] * w).astype("float64")


def tier_summary(analysed: pd.DataFrame, settings: Settings, lang: str = "en") -> pd.DataFrame:
    """Per tier: accounts and share, monthly revenue and share, average scores, entitlements."""
    g = analysed.groupby("tier", observed=False)
    out = pd.DataFrame({
        "accounts": g.size(),
        "monthly_revenue": g["monthly_revenue"].sum(),
        "value_score": g["value_score"].mean(),
        "loyalty_score": g["loyalty_score"].mean(),
        "competitor_score": g["competitor_score"].mean(),
    }).reindex([t.code for t in settings.tiers]).fillna({"accounts": 0, "monthly_revenue": 0.0})
    out["account_share"] = out["accounts"] / max(out["accounts"].sum(), 1)
    total = out["monthly_revenue"].sum()
    out["revenue_share"] = out["monthly_revenue"] / total if total > 0 else 0.0
    out["label"] = [settings.tier(c).label(lang) for c in out.index]
    out["dedicated_agent"] = [settings.tier(c).dedicated_agent for c in out.index]
    out["repair_sla_hours"] = [settings.tier(c).repair_sla_hours for c in out.index]
    out["visit_days"] = [settings.tier(c).visit_days for c in out.index]
    out.index.name = "tier"
    return out.reset_index()


def composition(analysed: pd.DataFrame, by: str) -> pd.DataFrame:
    """Monthly revenue by tier and ``by`` (``family``, ``industry`` or ``city``) with shares
    within each tier. ``family`` splits our held monthly spend by product family."""
    if by == "family":
        cols = [f"spend_{f}" for f in FAMILIES]
        long = analysed.groupby("tier", observed=True)[cols].sum().reset_index().melt(
            id_vars="tier", var_name="family", value_name="revenue")
        long["family"] = long["family"].str.removeprefix("spend_")
    else:
        long = analysed.groupby(["tier", by], observed=True, dropna=False)[
            "monthly_revenue"].sum().rename("revenue").reset_index()
    total = long.groupby("tier", observed=True)["revenue"].transform("sum")
    long["share"] = long["revenue"] / total.where(total > 0)
    return long


def _cumulative(revenue: pd.Series) -> np.ndarray | None:
    """Cumulative share of revenue over accounts sorted from smallest (0 first), None when
    there is no positive revenue."""
    r = np.sort(np.clip(np.asarray(revenue, dtype="float64"), 0, None))
    if len(r) == 0 or r.sum() <= 0:
        return None
    return np.concatenate([[0.0], np.cumsum(r) / r.sum()])


def lorenz(revenue: pd.Series, *, points: int = 101) -> tuple[pd.DataFrame, float, float]:
    """Lorenz curve of revenue (accounts sorted from smallest), the top 20% share and Gini."""
    cum = _cumulative(revenue)
    if cum is None:
        grid = np.linspace(0, 1, points)
        nan = float("nan")
        return pd.DataFrame({"accounts_share": grid, "revenue_share": grid}), nan, nan
    n = len(cum) - 1
    x = np.linspace(0, 1, points)
    y = np.interp(x * n, np.arange(n + 1), cum)
    top20 = 1 - np.interp(0.8 * n, np.arange(n + 1), cum)
    gini = 1 - 2 * np.trapezoid(cum, dx=1 / n)
    return pd.DataFrame({"accounts_share": x, "revenue_share": y}), float(top20), float(gini)


def concentration(revenue: pd.Series, shares: tuple[float, ...] = (0.01, 0.05, 0.1, 0.2, 0.5)
                  ) -> pd.DataFrame:
    """Share of monthly revenue from the largest ``shares`` of accounts (read off the Lorenz
    curve, so the top 20% row is :func:`lorenz`'s figure): top_share, accounts (how many
    accounts that is), monthly_revenue, revenue_share."""
    s = np.asarray(shares, dtype="float64")
    r = np.asarray(revenue, dtype="float64")
    n = len(r)
    cum = _cumulative(revenue)
    share = (1 - np.interp((1 - s) * n, np.arange(n + 1), cum)) if cum is not None \
        else np.full(len(s), np.nan)
    total = float(np.clip(r, 0, None).sum()) if n else 0.0
    return pd.DataFrame({"top_share": s, "accounts": np.ceil(s * n - 1e-9).astype("int64"),
                         "monthly_revenue": share * total, "revenue_share": share})


def group_rollup(analysed: pd.DataFrame, cutter: TierCutter, settings: Settings) -> pd.DataFrame:
    """Groups (a head and its branches) scored as one: revenue-weighted scores, summed revenue,
    and a group tier from the same cuts. Accounts without group links are left out."""
    head = analysed["parent_account_id"].fillna(analysed["account_id"])
    has_branches = head.isin(analysed["parent_account_id"].dropna())
    scored = ["account_id", "monthly_revenue", "value_score", "loyalty_score", "competitor_score"]
    g = analysed.loc[has_branches.to_numpy(bool), scored].assign(group_id=head[has_branches])
    w = g["monthly_revenue"].clip(lower=0) + 1e-9
    agg = g.assign(
        wv=g["value_score"] * w, wl=g["loyalty_score"] * w, wc=g["competitor_score"] * w, w=w
    ).groupby("group_id").agg(
        members=("account_id", "size"), monthly_revenue=("monthly_revenue", "sum"),
        wv=("wv", "sum"), wl=("wl", "sum"), wc=("wc", "sum"), w=("w", "sum"),
    )
    out = pd.DataFrame({
        "members": agg["members"],
        "monthly_revenue": agg["monthly_revenue"],
        "value_score": agg["wv"] / agg["w"],
        "loyalty_score": agg["wl"] / agg["w"],
        "competitor_score": agg["wc"] / agg["w"],
    })
    out["group_tier"] = cutter.predict(basis_score(out, settings))
    heads = analysed[["account_id", "name", "name_en", "tier"]].set_index("account_id")
    out["name"] = heads["name"].reindex(out.index)
    out["name_en"] = heads["name_en"].reindex(out.index)
    out["head_tier"] = heads["tier"].reindex(out.index)
    return out.reset_index().sort_values("monthly_revenue", ascending=False, ignore_index=True)


def migration(before: pd.DataFrame, after: pd.DataFrame, tiers: list[str]) -> pd.DataFrame:
    """Accounts and monthly revenue moving between tiers from one snapshot to another.

    Each frame has account_id, tier, monthly_revenue. Accounts only in ``before`` go to
    ``gone``; only in ``after`` come from ``new``. Revenue is taken from ``after`` (``before``
    for gone accounts). Returns long rows: from_tier, to_tier, accounts, revenue.
    """
    m = before[["account_id", "tier", "monthly_revenue"]].merge(
        after[["account_id", "tier", "monthly_revenue"]], on="account_id", how="outer",
        suffixes=("_from", "_to"),
    )
    m["from_tier"] = m["tier_from"].fillna("new")
    m["to_tier"] = m["tier_to"].fillna("gone")
    m["revenue"] = m["monthly_revenue_to"].fillna(m["monthly_revenue_from"]).fillna(0.0)
    out = m.groupby(["from_tier", "to_tier"]).agg(
        accounts=("account_id", "size"), revenue=("revenue", "sum")).reset_index()
    order = {t: i for i, t in enumerate(["new", *tiers, "gone"])}
    return out.sort_values(["from_tier", "to_tier"], key=lambda s: s.map(order),
                           ignore_index=True)


MOVES = ("up", "same", "down", "new", "gone")


def migration_summary(mig: pd.DataFrame, tiers: list[str]) -> pd.DataFrame:
    """Accounts and revenue of a :func:`migration` that moved up a tier (or more), stayed,
    moved down, are new or left: one row per move of :data:`MOVES`, in that order."""
    rank = {t: i for i, t in enumerate(tiers)}  # 0 is the top tier
    before, after = mig["from_tier"].map(rank), mig["to_tier"].map(rank)
    move = np.select([mig["from_tier"].eq("new").to_numpy(), mig["to_tier"].eq("gone").to_numpy(),
                      (after < before).to_numpy(), (after > before).to_numpy()],
                     ["new", "gone", "up", "down"], "same")
    out = mig.assign(move=move).groupby("move")[["accounts", "revenue"]].sum()
    out = out.reindex(list(MOVES)).fillna(0)
    out["accounts"] = out["accounts"].astype("int64")
    out.index.name = "move"
    return out.reset_index()


def segment_labels(values: pd.Series, by: str, lang: str) -> pd.Series:
    """A segment column (``family``, ``industry``, ``city``, or another enum's codes) in
    ``lang``, each distinct value labelled once; a missing value reads "Unknown"."""
    unknown = i18n.t("label.unknown", lang)

    def label(x: object) -> str:
        if not isinstance(x, str) or x == "":
            return unknown
        return i18n.city(x, lang) if by == "city" else enum_label(by, x, lang)

    codes = pd.Series(values.astype(object).where(values.notna(), None), index=values.index)
    return codes.map({c: label(c) for c in pd.unique(codes)}).fillna(unknown).astype(object)


def path_to_next_tier(
    card: Scorecard, tiers: pd.Series, cutter: TierCutter, settings: Settings,
    *, rows: pd.Index | None = None,
) -> pd.DataFrame:
    """The single-measure moves that would lift each account into the next tier up.

    For each actionable measure the account's model uses, the smallest change (rounded up to
    the measure's natural step) that closes the gap between the account's tier basis score and
    the next tier's cut, holding everything else fixed. Long rows: account_id, measure,
    current, target, change, gain (basis points), effort (share of the measure's range
    needed); sorted by account and effort. Accounts in the top tier get no rows.
    """
    rows = card.scores.index if rows is None else rows
    sc = card.scores.loc[rows]
    basis = basis_score(sc, settings)
    tier_idx = pd.Series({c: i for i, c in enumerate(cutter.codes_)})
    idx = tier_idx.reindex(tiers.loc[rows]).to_numpy()
    cuts = np.concatenate([[np.inf], cutter.cuts_])  # cut of the tier above each tier index
    gap = pd.Series(cuts[idx] - basis.to_numpy(), index=rows)
    comp = settings.get("tiers.basis") == "composite"
    w_loy = settings.get("tiers.composite_loyalty_weight") if comp else 0.0
    factor = {"value": 1 - w_loy, "loyalty": w_loy, "competitor": 0.0}
    out = []
    for model in settings.models:
        in_model = sc.index[(sc["model"] == model.name).to_numpy() & (idx > 0)]
        if len(in_model) == 0:
            continue
        scope_all = card.scores.index[card.scores["model"] == model.name]
        eff = effective_weights(model, card.unavailable.get(model.name, ()))
        for mw in model.measures:
            md = MEASURES[mw.name]
            ppu = eff[mw.name] * 100 * factor[md.dimension]
            if not md.actionable or ppu <= 0:
                continue
            n = card.normalised.loc[in_model, mw.name]
            need = gap.loc[in_model] / ppu
            ok = (n + need <= 1 + 1e-9) & (need > 0)
            if not ok.any():
                continue
            acc = in_model[ok.to_numpy()]
            target_n = (n[ok] + need[ok]).clip(0, 1)
            un = target_n if md.direction > 0 else 1 - target_n
            scope_raw = card.raw.loc[scope_all, mw.name]
            if mw.missing == "median":
                scope_raw = scope_raw.fillna(scope_raw.median())
            step = md.step or 1.0
            target = _inverse(un, scope_raw, mw.norm, md.lo, md.hi, step=step)
            current = card.raw.loc[acc, mw.name].fillna(0.0)
            change = target - current
            change = np.sign(change) * np.ceil(np.abs(change) / step - 1e-9) * step
            moved = (change * md.direction > 0).to_numpy()
            if not moved.any():
                continue
            acc, change, current, need_ok = acc[moved], change[moved], current[moved], need[ok][moved]
            out.append(pd.DataFrame({
                "account_id": sc.loc[acc, "account_id"].to_numpy(),
                "measure": mw.name, "current": current.to_numpy(),
                "target": (current + change).to_numpy(), "change": change.to_numpy(),
                "gain": gap.loc[acc].to_numpy(), "effort": need_ok.to_numpy(),
            }))
    if not out:
        return pd.DataFrame(columns=["account_id", "measure", "current", "target", "change",
                                     "gain", "effort"])
    return pd.concat(out, ignore_index=True).sort_values(["account_id", "effort"],
                                                         ignore_index=True)


def _inverse(
    n: pd.Series, scope: pd.Series, norm: str, lo: float, hi: float, *, step: float
) -> pd.Series:
    """Raw values whose normalisation (over ``scope``) reaches ``n``. For percentiles: one
    ``step`` above the scope value at that rank, so that ties are passed, not joined."""
    if norm == "fixed":
        return lo + n * (hi - lo)
    s = scope.dropna().to_numpy(dtype="float64")
    if len(s) == 0:
        return n * np.nan
    if norm == "percentile":
        srt = np.sort(s)
        pos = np.ceil(n.to_numpy() * (len(srt) - 1) - 1e-9).astype(int).clip(0, len(srt) - 1)
        return pd.Series(srt[pos] + step, index=n.index)
    y = np.log1p(np.clip(s, 0, None)) if norm == "log" else s
    q_lo, q_hi = np.nanquantile(y, [0.01, 0.99])
    v = q_lo + n * (q_hi - q_lo)
    return np.expm1(v) if norm == "log" else v



def kpis_by(analysed: pd.DataFrame, by: str, *, top_tiers: tuple[str, ...] = ("A", "B")
            ) -> pd.DataFrame:
    """Per ``by`` (city, industry, ...): live accounts, monthly revenue, share in the top tiers,
    average scores, churned in 12 months and the 3-month arrears rate."""
    as_of = pd.Timestamp(analysed.attrs.get("as_of"))
    recent = pd.to_datetime(analysed["churn_date"]) > as_of - pd.DateOffset(months=12)
    live = ~analysed["churned"].astype(bool)
    d = analysed.assign(
        live=live, top=live & analysed["tier"].isin(list(top_tiers)), recent=recent,
        rev=analysed["monthly_revenue"].where(live, 0.0),
    )
    g = d.groupby(by, dropna=False).agg(  # accounts without the attribute are a row too
        accounts=("live", "sum"), monthly_revenue=("rev", "sum"), top=("top", "sum"),
        value_score=("value_score", "mean"), loyalty_score=("loyalty_score", "mean"),
        competitor_score=("competitor_score", "mean"), churned_12m=("recent", "sum"),
        arrears_3m=("arrears_3m", "sum"), revenue_3m=("revenue_3m", "sum"),
    )
    g["top_share"] = g["top"] / g["accounts"].where(g["accounts"] > 0)
    g["churn_rate_12m"] = g["churned_12m"] / (g["accounts"] + g["churned_12m"]).where(
        g["accounts"] + g["churned_12m"] > 0)
    g["arrears_rate"] = g["arrears_3m"] / g["revenue_3m"].where(g["revenue_3m"] > 0)
    return g.drop(columns=["top", "arrears_3m", "revenue_3m"]).sort_values(
        "monthly_revenue", ascending=False).reset_index()
