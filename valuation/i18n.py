"""zh-CN / English strings: every label of the app goes through :func:`t`."""

from __future__ import annotations

import pandas as pd

from valuation import schema

__all__ = [
    "LANGS",
    "STRINGS",
    "city",
    "enum",
    "headers",
    "holdings_table",
    "profile_table",
    "t",
]

LANGS = ("zh", "en")

# key -> (English, 中文). Placeholders use str.format names.
STRINGS: dict[str, tuple[str, str]] = {
    "app.title": ("Government & Enterprise Account Valuation", "政企客户价值评估"),
    "app.tagline": (
        "Which accounts matter, which are slipping away, and what to do about each.",
        "哪些客户最重要、哪些正在流失、每个客户该怎么做。",
    ),
    "signin.title": ("Sign in", "登录"),
    "signin.user": ("User ID", "工号"),
    "signin.password": ("Password", "密码"),
    "signin.submit": ("Sign in", "登录"),
    "signin.failed": ("Wrong user ID or password.", "工号或密码错误。"),
    "signin.signout": ("Sign out", "退出登录"),
    "nav.portfolio": ("Portfolio", "客户组合"),
    "nav.account": ("Account", "客户视图"),
    "nav.import": ("Import", "数据导入"),
    "scope.account_manager": ("your accounts", "我的客户"),
    "scope.sales_lead": ("your team's accounts", "本团队客户"),
    "scope.executive": ("all accounts (read-only)", "全部客户(只读)"),
    "scope.admin": ("all accounts", "全部客户"),
    "portfolio.title": ("Portfolio", "客户组合"),
    "portfolio.caption": ("Data as of {as_of} · {scope}", "数据截至 {as_of} · {scope}"),
    "portfolio.accounts": ("Accounts", "客户清单"),
    "portfolio.count": ("{n:,} of {total:,} accounts shown", "显示 {n:,} / {total:,} 个客户"),
    "portfolio.select_hint": (
        "Select a row to open the account.",
        "选中一行即可打开该客户视图。",
    ),
    "kpi.accounts": ("Active accounts", "在网客户数"),
    "kpi.monthly_revenue": ("Monthly revenue", "月收入"),
    "kpi.revenue_trend": ("Revenue trend (3 months)", "收入趋势(近3月)"),
    "kpi.revenue_trend_help": (
        "Billed in the last 3 months against the 3 months before.",
        "近3个月出账收入与前3个月相比。",
    ),
    "kpi.churned_12m": ("Churned, last 12 months", "近12个月离网"),
    "kpi.arrears_rate": ("Arrears rate (3 months)", "欠费率(近3月)"),
    "kpi.arrears_help": (
        "Unpaid share of what was billed in the last 3 months.",
        "近3个月出账金额中未缴部分的占比。",
    ),
    "filter.search": ("Search", "搜索"),
    "filter.search_hint": ("Name or account ID", "客户名称或编号"),
    "filter.include_churned": ("Include churned accounts", "包含已离网客户"),
    "col.account_id": ("Account ID", "客户编号"),
    "col.name": ("Name", "客户名称"),
    "col.industry": ("Industry", "行业"),
    "col.size_class": ("Size", "规模"),
    "col.city": ("City", "地市"),
    "col.owner": ("Account manager", "客户经理"),
    "col.monthly_revenue": ("Monthly revenue (¥)", "月收入(元)"),
    "col.revenue_trend": ("Revenue trend", "收入趋势"),
    "col.our_families": ("Our families", "我方产品族数"),
    "col.our_products": ("Our products", "我方产品数"),
    "col.competitor_products": ("Competitor products", "异网产品数"),
    "col.share_of_wallet": ("Share of wallet", "钱包份额"),
    "col.arrears_3m": ("Arrears, 3 months (¥)", "近3月欠费(元)"),
    "col.next_contract_end": ("Next contract end", "最近协议到期"),
    "col.complaints_12m": ("Complaints, 12 months", "近12月投诉"),
    "col.churned": ("Churned", "已离网"),
    "col.family": ("Family", "产品族"),
    "col.ending_soon": ("Ends ≤ 3 months", "3个月内到期"),
    "col.product": ("Product", "产品"),
    "col.provider": ("Provider", "提供方"),
    "col.quantity": ("Quantity", "数量"),
    "col.start_date": ("Start", "开始日期"),
    "col.end_date": ("End", "结束日期"),
    "col.contract_id": ("Contract", "协议编号"),
    "col.contract_type": ("Type", "协议类型"),
    "col.value": ("Value (¥)", "协议金额(元)"),
    "col.date": ("Date", "日期"),
    "col.kind": ("Kind", "类型"),
    "col.user_id": ("By", "经办人"),
    "col.note": ("Note", "说明"),
    "col.field": ("Field", "字段"),
    "col.field_value": ("Value", "值"),
    "label.ours": ("Ours", "我方"),
    "label.competitor": ("Competitor", "异网"),
    "label.yes": ("Yes", "是"),
    "label.no": ("No", "否"),
    "chart.revenue_trend": ("Monthly billed revenue and arrears", "月出账收入与欠费"),
    "chart.billed_10k": ("Billed (¥10k)", "出账(万元)"),
    "chart.arrears_10k": ("Arrears (¥10k)", "欠费(万元)"),
    "chart.month": ("Month", "账期"),
    "chart.billed": ("Billed", "出账"),
    "chart.paid": ("Paid", "实收"),
    "chart.arrears": ("Arrears", "欠费"),
    "chart.yuan": ("Yuan", "元"),
    "chart.bills": ("Bills, last 24 months", "近24个月账单"),
    "chart.products": ("Products held", "持有产品数"),
    "chart.holdings": ("Bundle by family: ours vs competitors'", "各产品族持有:我方与异网"),
    "account.title": ("Account", "客户视图"),
    "account.pick": ("Account", "客户"),
    "account.pick_hint": ("Choose an account", "请选择客户"),
    "account.none": (
        "Choose an account above, or select one in the Portfolio table.",
        "请在上方选择客户,或在客户组合表中选中一行。",
    ),
    "account.not_in_scope": (
        "Account {account} is not in your scope.",
        "客户 {account} 不在您的权限范围内。",
    ),
    "account.owner": ("Manager: {owner}", "客户经理:{owner}"),
    "account.churned": ("Churned on {date}: {reason}", "已于 {date} 离网:{reason}"),
    "account.profile": ("Profile", "客户概况"),
    "account.parent": ("Group (parent account):", "所属集团(上级客户):"),
    "account.outside_scope": ("outside your scope", "不在您的权限范围"),
    "account.branches": ("Branches: {n}", "下属分支:{n} 个"),
    "account.open_branch": ("Open a branch", "打开分支客户"),
    "account.branches_hidden": (
        "{n} branches are owned outside your scope.",
        "{n} 个分支不在您的权限范围内。",
    ),
    "account.holdings": ("Products held", "业务持有"),
    "account.contracts": ("Contracts", "协议"),
    "account.interactions": ("Interactions", "客户接触"),
    "action.download_csv": ("Download CSV", "下载 CSV"),
    "import.title": ("Import data", "数据导入"),
    "import.admin_only": ("Only admins may import data.", "仅支撑经理可导入数据。"),
    "import.caption": (
        "CSV (UTF-8 or GBK), Excel or Parquet; English or Chinese headers. "
        "One file per table, named after it (accounts.csv or 客户.csv). "
        "Nothing is written unless every file is valid.",
        "支持 CSV(UTF-8 或 GBK)、Excel、Parquet;中英文表头均可。"
        "每张表一个文件,以表名命名(accounts.csv 或 客户.csv)。所有文件全部通过校验才会写入。",
    ),
    "import.files": ("Files", "数据文件"),
    "import.mapping": ("Mapping file (optional)", "字段映射文件(可选)"),
    "import.bad_mapping": ("The mapping file is not valid TOML: {error}", "映射文件不是有效的 TOML:{error}"),
    "import.validate": ("Validate only", "仅校验"),
    "import.commit": ("Validate and import", "校验并导入"),
    "import.working": ("Reading and validating…", "正在读取和校验…"),
    "import.done": ("Imported. Data version {version}.", "导入完成。数据版本 {version}。"),
    "import.valid": ("All files are valid. Nothing was written yet.", "全部文件校验通过,尚未写入。"),
    "import.refused": (
        "Refused: {n:,} problems. Nothing was changed.",
        "已拒绝:发现 {n:,} 个问题,数据库未作任何改动。",
    ),
    "import.table": ("Table", "表"),
    "import.rows": ("Rows", "行数"),
    "import.rule": ("Rule", "规则"),
    "import.count": ("Problems", "问题数"),
    "import.download_report": ("Download the report", "下载校验报告"),
    "import.history": ("Import history", "导入历史"),
    "import.version": ("Current data version: {version}", "当前数据版本:{version}"),
}

_CITIES = {
    "Hangzhou": "杭州", "Ningbo": "宁波", "Wenzhou": "温州", "Jiaxing": "嘉兴",
    "Huzhou": "湖州", "Shaoxing": "绍兴", "Jinhua": "金华", "Taizhou": "台州",
    "Quzhou": "衢州", "Zhoushan": "舟山", "Lishui": "丽水",
}

_PROFILE_FIELDS = (
    "industry", "size_class", "city", "district", "city_tier", "footprint", "admin_level",
    "employees", "sites", "listed", "industry_leader", "annual_revenue", "credit_rating",
    "it_maturity", "onboard_date",
)


def t(key: str, lang: str, **kw: object) -> str:
    """The string ``key`` in ``lang`` ("zh" or "en"), formatted with ``kw``."""
    en, zh = STRINGS[key]
    text = zh if lang.startswith("zh") else en
    return text.format(**kw) if kw else text


def enum(name: str, code: object, lang: str) -> str:
    """Label of an enum code (see :data:`valuation.schema.ENUMS`); '' for a missing value."""
    if code is None or (isinstance(code, float) and pd.isna(code)):
        return ""
    return schema.enum_label(name, str(code), lang)


def city(name: object, lang: str) -> str:
    """A city name in ``lang``; unknown names pass through."""
    if name is None or (isinstance(name, float) and pd.isna(name)):
        return ""
    return _CITIES.get(str(name), str(name)) if lang.startswith("zh") else str(name)


def headers(df: pd.DataFrame, lang: str) -> pd.DataFrame:
    """``df`` with its column headers translated where a ``col.<name>`` label exists."""
    return df.rename(columns={c: t(f"col.{c}", lang) for c in df.columns if f"col.{c}" in STRINGS})


def profile_table(account: pd.Series, lang: str) -> pd.DataFrame:
    """Two columns, field and value, describing one account."""
    accounts = schema.table("accounts")
    rows = []
    for f in _PROFILE_FIELDS:
        col = accounts.column(f)
        v = account.get(f)
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            shown = "–"
        elif col.enum:
            shown = enum(col.enum, v, lang)
        elif col.dtype == "bool":
            shown = t("label.yes" if bool(v) else "label.no", lang)
        elif f == "city":
            shown = city(v, lang)
        elif f == "annual_revenue":
            shown = f"¥{float(v) / 1e4:,.0f}万" if lang.startswith("zh") else f"¥{float(v) / 1e6:,.1f}M"
        elif col.dtype == "date":
            shown = str(pd.Timestamp(v).date())
        else:
            shown = f"{v:,}" if isinstance(v, int) else str(v)
        label = col.zh if lang.startswith("zh") else col.name.replace("_", " ").capitalize()
        rows.append((label, shown))
    return pd.DataFrame(rows, columns=[t("col.field", lang), t("col.field_value", lang)])


def holdings_table(holdings: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Holdings with product, family and provider in ``lang``."""
    zh = lang.startswith("zh")
    ours = t("label.ours", lang)
    comp = holdings["competitor_name" if zh else "competitor_name_en"]
    df = pd.DataFrame(
        {
            "product": holdings["name" if zh else "name_en"].fillna(holdings["name"]),
            "family": holdings["family"].map({f: enum("family", f, lang) for f in schema.ENUMS["family"]}),
            "provider": comp.where(holdings["provider"] != "ours", ours).fillna(holdings["provider"]),
            "quantity": holdings["quantity"],
            "monthly_revenue": holdings["monthly_revenue"],
            "start_date": pd.to_datetime(holdings["start_date"]).dt.date,
            "end_date": pd.to_datetime(holdings["end_date"]).dt.date,
        }
    )
    return headers(df, lang)
