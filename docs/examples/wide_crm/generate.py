"""Write a wide CRM export: one row per business customer, a Yes/No column per service.

Synthetic and seeded, with rules of its own (not the demo portfolio's, and not a copy of any
real data set). What drives churn here is how long a customer has been with us, the term of
its contract, how it pays and whether it is on fibre; how many products it holds carries no
signal of its own (customers with voice only are the most loyal). Services are co-held through
three hidden needs (collaboration, protection, connected assets), so what a customer holds
says something about what it lacks. One snapshot: every churned customer left in the export's
last month, as in most CRM exports. About a quarter of the customers churned.

    python docs/examples/wide_crm/generate.py --rows 7000 --seed 1 --out crm_export.csv

The columns are described in README.md beside this file; ``transform.sql`` imports it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["SERVICES", "generate"]

# column, monthly price, base logit, loadings on the three needs, needs internet
SERVICES: tuple[tuple[str, float, float, tuple[float, float, float], bool], ...] = (
    ("managed_security", 12.0, -0.9, (0.0, 1.6, 0.0), True),
    ("cloud_backup", 10.0, -0.7, (0.9, 1.1, 0.0), True),
    ("device_care", 9.0, -0.8, (0.0, 1.3, 0.3), True),
    ("tech_support", 11.0, -0.9, (0.2, 1.4, 0.0), True),
    ("video_conferencing", 14.0, -0.5, (1.7, 0.0, 0.0), True),
    ("cloud_storage", 13.0, -0.5, (1.6, 0.2, 0.0), True),
    ("leased_line", 60.0, -2.0, (0.3, 0.0, 1.5), False),
    ("iot_fleet", 30.0, -2.3, (0.0, 0.2, 1.8), False),
)
_INDUSTRIES = ("Retail", "Manufacturing", "Logistics", "Healthcare", "Education", "Finance",
               "Public sector", "Hospitality")
_REGIONS = ("North", "South", "East", "West", "Central")
_PAYMENT = ("Electronic check", "Mailed check", "Bank transfer (automatic)",
            "Credit card (automatic)")
_WORDS = ("Harbor", "Summit", "Lotus", "Pioneer", "Jade", "Orchid", "Granite", "Maple", "Delta",
          "Crescent", "Golden", "River", "Bright", "Eastern", "Silver", "Vista")
_KINDS = ("Trading", "Logistics", "Clinic", "Foods", "Machinery", "Academy", "Partners",
          "Hotel", "Textiles", "Studio", "Motors", "Supply")


def generate(rows: int = 7000, *, seed: int = 1) -> pd.DataFrame:
    """The export as a frame of text cells (as a CRM would write them)."""
    rng = np.random.default_rng(seed)
    n = int(rows)
    # tenure: many new customers, a long flat tail, a bump of the longest-standing
    tenure = np.where(rng.random(n) < 0.3, rng.integers(1, 13, n), rng.integers(1, 73, n))
    tenure = np.where(rng.random(n) < 0.06, 72, tenure)
    tenure = np.where(rng.random(n) < 0.01, 0, tenure)
    # contract term grows with tenure
    z = rng.normal(size=n) + 0.045 * tenure
    contract = np.where(z > 2.6, "Two year", np.where(z > 1.2, "One year", "Month-to-month"))
    payment = rng.choice(_PAYMENT, n, p=[0.34, 0.22, 0.22, 0.22])
    paperless = rng.random(n) < 0.59
    internet = rng.choice(["Fiber optic", "DSL", "No"], n, p=[0.44, 0.34, 0.22])
    voice = rng.random(n) < 0.9
    needs = rng.normal(size=(n, 3))
    out: dict[str, object] = {}
    held = {}
    for col, _price, base, load, web in SERVICES:
        logit = base + needs @ np.asarray(load) + (0.4 if web else 0.0) * (internet == "Fiber optic")
        has = rng.random(n) < 1 / (1 + np.exp(-logit))
        if web:
            has &= internet != "No"
        held[col] = has
    multiple = voice & (rng.random(n) < 0.45 + 0.004 * tenure)
    # churn: tenure, term, payment and fibre; product count has no effect of its own
    term_effect = np.select([contract == "One year", contract == "Two year"], [-1.6, -3.0], 0.0)
    logit = (0.95 + term_effect - 0.62 * np.log1p(tenure) + 0.75 * (internet == "Fiber optic")
             - 0.9 * (internet == "No") + 0.45 * (payment == "Electronic check")
             + 0.25 * paperless - 0.35 * held["tech_support"] - 0.3 * held["managed_security"]
             + rng.normal(0, 0.35, n))
    churn = (rng.random(n) < 1 / (1 + np.exp(-logit))) & (tenure > 0)
    price = (20.0 * voice + 5.0 * multiple + np.select([internet == "Fiber optic", internet == "DSL"],
                                                       [45.0, 25.0], 0.0)
             + sum(p * held[c] for c, p, *_ in SERVICES) + rng.normal(0, 2.0, n)).clip(min=5.0)
    total = price * tenure * rng.uniform(0.92, 1.04, n)

    def yes(x: np.ndarray) -> np.ndarray:
        return np.where(x, "Yes", "No")

    ids = rng.choice(np.arange(100_000, 1_000_000), n, replace=False)
    out["customer_id"] = [f"CU{i}" for i in ids]
    out["company"] = [f"{_WORDS[a]} {_KINDS[b]} {c}" for a, b, c in zip(
        rng.integers(0, len(_WORDS), n), rng.integers(0, len(_KINDS), n),
        rng.integers(1, 999, n), strict=True)]
    industry = rng.choice(_INDUSTRIES, n).astype(object)
    industry[rng.random(n) < 0.12] = ""
    out["industry"] = industry
    employees = np.round(np.exp(rng.normal(3.6, 1.3, n))).astype(int).astype(object)
    employees[rng.random(n) < 0.35] = ""
    out["employees"] = employees
    region = rng.choice(_REGIONS, n).astype(object)
    region[rng.random(n) < 0.05] = ""
    out["region"] = region
    out["tenure_months"] = tenure
    out["contract"] = contract
    out["payment_method"] = payment
    out["paperless_billing"] = yes(paperless)
    out["fixed_voice"] = yes(voice)
    out["multiple_lines"] = np.where(voice, yes(multiple), "No phone service")
    out["internet_service"] = internet
    for col, _p, _b, _l, web in SERVICES:
        v = yes(held[col])
        out[col] = np.where(internet == "No", "No internet service", v) if web else v
    out["monthly_charges"] = np.round(price, 2)
    out["total_charges"] = np.where(tenure > 0, np.round(total, 2).astype(str), " ")
    out["churn"] = yes(churn)
    return pd.DataFrame(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=7000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("crm_export.csv"))
    args = ap.parse_args()
    df = generate(args.rows, seed=args.seed)
    df.to_csv(args.out, index=False)
    print(f"{len(df):,} customers, {(df['churn'] == 'Yes').mean():.1%} churned -> {args.out}")


if __name__ == "__main__":
    main()
