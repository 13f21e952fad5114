"""Shared fixtures: a hand-built toy portfolio small enough to compute by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from valuation.store import Store

AS_OF = pd.Timestamp("2026-06-30")

PRODUCTS = pd.DataFrame(
    [
        ("P-VOICE", "固定电话", "Fixed voice", "communication", "ours", "voice", None, 100.0),
        ("P-CUG", "集团V网", "Closed user group", "communication", "ours", "cug", None, 50.0),
        ("P-BB", "宽带", "Broadband", "communication", "ours", "broadband", None, 300.0),
        ("P-MAIL", "企业邮箱", "E-mail", "information", "ours", "email", None, 80.0),
        ("P-CLOUD", "云主机", "Cloud", "information", "ours", "cloud", None, 500.0),
        ("P-EGOV", "电子政务", "E-government", "industry", "ours", "egov", "government", 900.0),
        ("P-SCHOOL", "家校互动", "School-home", "industry", "ours", "school_home", "education", 200.0),
        ("P-VIP", "VIP专席", "Dedicated agent", "service_support", "ours", "vip", None, 0.0),
        ("C1-BB", "电信宽带", "Telecom broadband", "communication", "C1", "broadband", None, 280.0),
        ("C1-MAIL", "电信邮箱", "Telecom e-mail", "information", "C1", "email", None, 70.0),
        ("C2-EGOV", "联通政务", "Unicom e-gov", "industry", "C2", "egov", "government", 800.0),
    ],
    columns=["product_id", "name", "name_en", "family", "provider", "function", "industries",
             "list_price"],
)


def toy_frames(n_accounts: int = 6) -> dict[str, pd.DataFrame]:
    """A valid small portfolio: two teams, three managers, ``n_accounts`` accounts."""
    teams = pd.DataFrame({"team_id": ["T01", "T02"], "name": ["杭州一组", "宁波一组"],
                          "name_en": ["Hangzhou 1", "Ningbo 1"], "lead_id": ["lead01", "lead02"],
                          "city": ["Hangzhou", "Ningbo"]})
    users = pd.DataFrame({
        "user_id": ["am01", "am02", "am03", "lead01", "lead02", "exec01", "admin"],
        "name": ["王芳", "李强", "张伟", "刘洋", "陈静", "杨总", "管理员"],
        "name_en": ["Wang Fang", "Li Qiang", "Zhang Wei", "Liu Yang", "Chen Jing", "Yang Zong", "Admin"],
        "role": ["account_manager"] * 3 + ["sales_lead"] * 2 + ["executive", "admin"],
        "team_id": ["T01", "T01", "T02", "T01", "T02", None, None],
        "email": [None] * 7,
    })
    comps = pd.DataFrame({"competitor_id": ["C1", "C2"], "name": ["中国电信", "中国联通"],
                          "name_en": ["China Telecom", "China Unicom"]})
    ids = [f"A{i:03d}" for i in range(1, n_accounts + 1)]
    owners = (["am01", "am02", "am03"] * n_accounts)[:n_accounts]
    accounts = pd.DataFrame({
        "account_id": ids,
        "name": [f"测试客户{i}" for i in range(1, n_accounts + 1)],
        "name_en": [f"Test account {i}" for i in range(1, n_accounts + 1)],
        "industry": (["government", "education", "manufacturing"] * n_accounts)[:n_accounts],
        "size_class": (["large", "medium", "small"] * n_accounts)[:n_accounts],
        "city": ["Hangzhou"] * n_accounts, "district": [None] * n_accounts,
        "city_tier": [1] * n_accounts,
        "footprint": (["provincial", "local", "local"] * n_accounts)[:n_accounts],
        "admin_level": (["prefecture", None, None] * n_accounts)[:n_accounts],
        "employees": [500 + 10 * i for i in range(n_accounts)],
        "sites": [1 + i % 4 for i in range(n_accounts)],
        "listed": [False] * n_accounts, "industry_leader": [i == 0 for i in range(n_accounts)],
        "annual_revenue": [1e7 * (i + 1) for i in range(n_accounts)],
        "credit_rating": (["AA", "A", "B"] * n_accounts)[:n_accounts],
        "it_maturity": [3] * n_accounts, "parent_account_id": [None] * n_accounts,
        "owner_id": owners,
        "onboard_date": pd.to_datetime(["2020-01-15"] * n_accounts),
    })
    held = [("A001", "P-VOICE"), ("A001", "P-CUG"), ("A001", "P-MAIL"), ("A001", "P-EGOV"),
            ("A001", "P-VIP"), ("A002", "P-VOICE"), ("A002", "P-SCHOOL"), ("A002", "C1-BB"),
            ("A003", "P-VOICE"), ("A003", "C1-MAIL"), ("A003", "C1-BB")]
    held = [h for h in held if h[0] in ids] + [(a, "P-VOICE") for a in ids[3:]]
    prov = PRODUCTS.set_index("product_id")["provider"]
    price = PRODUCTS.set_index("product_id")["list_price"]
    holdings = pd.DataFrame(held, columns=["account_id", "product_id"])
    holdings["provider"] = holdings["product_id"].map(prov)
    holdings["quantity"] = 1
    holdings["monthly_revenue"] = holdings["product_id"].map(price)
    holdings["start_date"] = pd.Timestamp("2021-01-01")
    holdings["end_date"] = pd.NaT
    months = pd.date_range("2025-07-01", "2026-06-01", freq="MS")
    ours = holdings[holdings["provider"] == "ours"].groupby("account_id")["monthly_revenue"].sum()
    bills = pd.DataFrame([(a, m) for a in ids for m in months], columns=["account_id", "month"])
    bills["billed"] = bills["account_id"].map(ours).fillna(0.0)
    bills["paid"] = bills["billed"]
    bills["arrears"] = 0.0
    contracts = pd.DataFrame({
        "contract_id": ["K1", "K2"], "account_id": ["A001", "A002"],
        "contract_type": ["comprehensive_bundle", "handset_lease"],
        "start_date": pd.to_datetime(["2025-01-01", "2024-08-01"]),
        "end_date": pd.to_datetime(["2027-12-31", "2026-08-31"]), "value": [120000.0, 5000.0],
    })
    return {"teams": teams, "users": users, "competitors": comps, "products": PRODUCTS.copy(),
            "accounts": accounts, "holdings": holdings, "contracts": contracts,
            "billing_monthly": bills}


@pytest.fixture()
def toy_store(tmp_path):
    s = Store(tmp_path / "toy.duckdb")
    s.replace_facts(toy_frames(), source="toy")
    yield s
    s.close()


@pytest.fixture(scope="session")
def demo_path(tmp_path_factory):
    """A small demo portfolio with its score history, built once per test session."""
    from valuation.setup import create_demo

    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    with Store(path) as s:
        create_demo(s, accounts=900, seed=11, as_of=pd.Timestamp("2026-10-31").date(),
                    line_accounts=300)
    return path


@pytest.fixture(scope="session")
def wide_path(tmp_path_factory):
    """The generated wide CRM export (churn driven by tenure and term, one snapshot), imported
    through its transform; built once per test session. Treat as read-only."""
    from wide_export import wide_store

    return wide_store(tmp_path_factory.mktemp("wide"), rows=3000, seed=1)


@pytest.fixture(scope="session")
def pg_admin_url():
    """A PostgreSQL server for the app-database tests (see tests/pg.py)."""
    from tests import pg

    with pg.server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def app_url(request, tmp_path):
    """The app database URL for a test, once on SQLite (a file) and once on PostgreSQL (a
    fresh database on the session's server)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'app.sqlite'}"
        return
    from tests import pg

    admin = request.getfixturevalue("pg_admin_url")
    url, name = pg.fresh_database(admin)
    yield url
    pg.drop_database(admin, name)
