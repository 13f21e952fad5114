"""Write a Chinese-header CRM export in GBK: one row per account, products as a list in a cell.

Synthetic and seeded, with rules of its own (not the demo portfolio's): churn is driven by the
competitor products an account already uses (异网产品) and by a lapsed or missing agreement;
the number of our products plays no part. Churn is spread over the two years before the
export, with its date and reason, as a CRM that keeps departed customers writes it. Amounts
carry thousands separators, dates are written 2019/3/5, and the file is GBK-encoded, as an
export from a Chinese CRM on Windows usually is.

    python docs/examples/gbk_crm/generate.py --rows 2000 --seed 1

``transform.sql`` beside this file imports it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["FILE_NAME", "generate", "write"]

FILE_NAME = "客户清单.csv"
EXPORT_DATE = pd.Timestamp("2026-10-31")
# our products: Chinese name (as the CRM writes it) and monthly price
_OURS = (("固定电话", 120.0), ("集团V网", 300.0), ("互联网专线", 2400.0), ("宽带", 260.0),
         ("企业邮箱", 90.0), ("集团短信", 150.0), ("云主机", 900.0), ("视频会议", 400.0),
         ("视频监控", 1100.0), ("VIP专席", 0.0))
_THEIRS = ("电信宽带", "联通专线", "电信云主机", "联通视频监控")
_INDUSTRIES = ("政府机关", "教育", "医疗卫生", "制造业", "物流", "金融保险", "商贸服务")
_SIZES = ("大型", "中型", "小型")
_CITIES = ("杭州", "宁波", "温州", "绍兴", "金华", "台州")
_REASONS = ("转网竞争对手", "资费", "服务质量", "迁址", "注销合并")
_NAMES_A = ("杭州", "宁波", "温州", "绍兴", "金华", "台州", "浙江", "东海", "钱江", "之江")
_NAMES_B = ("水务", "港务", "物流", "医院", "中学", "制造", "贸易", "科技", "银行", "文旅")
_NAMES_C = ("集团", "有限公司", "股份有限公司", "中心", "总公司")


def generate(rows: int = 2000, *, seed: int = 1) -> pd.DataFrame:
    """The export as a frame of text cells, Chinese headers."""
    rng = np.random.default_rng(seed)
    n = int(rows)
    size = rng.choice(_SIZES, n, p=[0.15, 0.3, 0.55])
    tenure_days = rng.integers(60, 365 * 9, n)
    onboard = EXPORT_DATE - pd.to_timedelta(tenure_days, unit="D")
    held = rng.random((n, len(_OURS))) < np.array([0.8, 0.35, 0.2, 0.6, 0.4, 0.35, 0.2, 0.2,
                                                   0.12, 0.1])
    held[:, 0] |= ~held.any(axis=1)
    theirs = rng.random((n, len(_THEIRS))) < np.array([0.25, 0.12, 0.1, 0.06])
    n_theirs = theirs.sum(axis=1)
    agreement = rng.random(n) < np.where(size == "小型", 0.3, 0.6)
    agreement_end = EXPORT_DATE + pd.to_timedelta(rng.integers(-300, 720, n), unit="D")
    lapsed = agreement & (agreement_end < EXPORT_DATE)
    # churn over two years: competitor entanglement and a missing or lapsed agreement
    logit = -2.9 + 0.9 * n_theirs + 1.1 * (~agreement | lapsed) + 0.3 * (size == "小型")
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    churn_day = EXPORT_DATE - pd.to_timedelta(rng.integers(0, 730, n), unit="D")
    churned &= churn_day > onboard + pd.Timedelta(days=30)
    price = np.array([p for _, p in _OURS])
    spend = (held * price).sum(axis=1) * rng.uniform(0.8, 1.2, n) * np.select(
        [size == "大型", size == "中型"], [4.0, 2.0], 1.0)

    def listing(mask: np.ndarray, names: tuple[str, ...]) -> list[str]:
        return [";".join(nm for nm, h in zip(names, row, strict=True) if h) for row in mask]

    def ymd(d: pd.Series | pd.DatetimeIndex) -> list[str]:
        return [f"{x.year}/{x.month}/{x.day}" for x in d]

    ids = rng.choice(np.arange(10_000, 100_000), n, replace=False)
    return pd.DataFrame({
        "客户编号": [f"ZJ{i}" for i in ids],
        "客户名称": [f"{a}{b}{c}" for a, b, c in zip(
            rng.choice(_NAMES_A, n), rng.choice(_NAMES_B, n), rng.choice(_NAMES_C, n),
            strict=True)],
        "行业": rng.choice(_INDUSTRIES, n),
        "规模": size,
        "地市": rng.choice(_CITIES, n),
        "客户经理工号": [f"zj{k:03d}" for k in rng.integers(1, 40, n)],
        "入网日期": ymd(onboard),
        "月均消费(元)": [f"{v:,.2f}" for v in spend],
        "在用产品": listing(held, tuple(nm for nm, _ in _OURS)),
        "异网产品": listing(theirs, _THEIRS),
        "协议到期日": np.where(agreement, ymd(agreement_end), ""),
        "离网日期": np.where(churned, ymd(churn_day), ""),
        "离网原因": np.where(churned, rng.choice(_REASONS, n, p=[0.45, 0.25, 0.15, 0.1, 0.05]),
                          ""),
    })


def write(folder: Path, *, rows: int = 2000, seed: int = 1) -> Path:
    """Write the export, GBK-encoded, into ``folder``; return its path."""
    path = Path(folder) / FILE_NAME
    generate(rows, seed=seed).to_csv(path, index=False, encoding="gbk")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = ap.parse_args()
    path = write(args.out, rows=args.rows, seed=args.seed)
    print(f"{args.rows:,} accounts -> {path}")


if __name__ == "__main__":
    main()
