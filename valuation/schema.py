"""Every table's columns, types and rules: the one place column names are spelled."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "APP_TABLES",
    "ENUMS",
    "FACT_TABLES",
    "TABLES",
    "Column",
    "DateOrder",
    "Ref",
    "Table",
    "enum_label",
    "fact_load_order",
    "table",
]

# Enumerations: code -> (English label, Chinese label). Import accepts either the code,
# the English label or the Chinese label; the store keeps the code.
ENUMS: dict[str, dict[str, tuple[str, str]]] = {
    "industry": {
        "government": ("Government", "政府机关"),
        "public_security": ("Public security", "公检法"),
        "education": ("Education", "教育"),
        "healthcare": ("Healthcare", "医疗卫生"),
        "energy": ("Energy", "能源"),
        "water_utility": ("Water utility", "水务"),
        "finance": ("Banking & insurance", "金融保险"),
        "manufacturing": ("Manufacturing", "制造业"),
        "logistics": ("Logistics", "物流"),
        "shipping": ("Shipping & pilotage", "航运引航"),
        "conglomerate": ("Conglomerate", "企业集团"),
        "park": ("Industrial park", "园区开发区"),
        "commerce": ("Commerce & services", "商贸服务"),
    },
    "size_class": {
        "large": ("Large", "大型"),
        "medium": ("Medium", "中型"),
        "small": ("Small", "小型"),
    },
    "footprint": {
        "local": ("Local", "本地"),
        "provincial": ("Provincial", "全省"),
        "national": ("National", "全国"),
        "multinational": ("Multinational", "跨国"),
    },
    "admin_level": {
        "ministry": ("Ministry / central", "部级"),
        "province": ("Provincial", "省级"),
        "prefecture": ("Prefecture / city", "地市级"),
        "county": ("County", "县级"),
        "township": ("Township", "乡镇级"),
    },
    "credit_rating": {
        "AAA": ("AAA", "AAA"),
        "AA": ("AA", "AA"),
        "A": ("A", "A"),
        "B": ("B", "B"),
        "C": ("C", "C"),
    },
    "family": {
        "communication": ("Communication", "通信应用"),
        "information": ("Information", "信息应用"),
        "industry": ("Industry applications", "行业应用"),
        "service_support": ("Service support", "服务支持"),
    },
    "contract_type": {
        "comprehensive_bundle": ("Comprehensive bundle agreement", "综合协议"),
        "handset_lease": ("Handset lease", "租机协议"),
        "bill_subsidy": ("Bill subsidy", "话费补贴协议"),
        "service": ("Single-service agreement", "单项业务协议"),
    },
    "line_type": {
        "mobile": ("Mobile", "移动"),
        "fixed": ("Fixed", "固话"),
    },
    "interaction_kind": {
        "visit": ("Visit", "拜访"),
        "call": ("Call", "电话"),
        "complaint": ("Complaint", "投诉"),
        "escalated_complaint": ("Escalated complaint", "升级投诉"),
    },
    "churn_reason": {
        "competitor": ("Moved to a competitor", "转网竞争对手"),
        "price": ("Price", "资费"),
        "service": ("Service quality", "服务质量"),
        "relocation": ("Relocation", "迁址"),
        "closure": ("Closed or merged", "注销合并"),
        "other": ("Other", "其他"),
    },
    "role": {
        "account_manager": ("Account manager", "客户经理"),
        "sales_lead": ("Sales lead", "销售主管"),
        "executive": ("Executive", "分管领导"),
        "admin": ("Admin", "支撑经理"),
    },
}


@dataclass(frozen=True)
class Column:
    """One column: name, type (str/int/float/date/bool), Chinese header and rules."""

    name: str
    dtype: str
    zh: str
    required: bool = False
    min: float | None = None
    max: float | None = None
    enum: str | None = None
    help: str = ""


@dataclass(frozen=True)
class Ref:
    """A reference: ``columns`` of this table must exist as ``ref_columns`` of ``table``.

    ``extra`` lists values accepted besides the referenced ones (e.g. provider ``ours``).
    A ``soft`` reference that fails is a note, not an error: an account whose owner is not a
    user lands in the unassigned pool.
    """

    columns: tuple[str, ...]
    table: str
    ref_columns: tuple[str, ...]
    extra: tuple[str, ...] = ()
    soft: bool = False


@dataclass(frozen=True)
class DateOrder:
    """``later`` must be on or after ``earlier`` when both are present."""

    earlier: str
    later: str


@dataclass(frozen=True)
class Table:
    """A table with its Chinese name, columns, unique key, references and row checks."""

    name: str
    zh: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    refs: tuple[Ref, ...] = ()
    date_orders: tuple[DateOrder, ...] = ()
    help: str = ""
    app_owned: bool = False
    _by_name: dict[str, Column] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({c.name: c for c in self.columns})

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return self._by_name[name]


def C(name: str, dtype: str, zh: str, **kw: object) -> Column:  # noqa: N802 - terse builder
    return Column(name, dtype, zh, **kw)  # type: ignore[arg-type]


FACT_TABLES: tuple[Table, ...] = (
    Table(
        "teams",
        "团队",
        (
            C("team_id", "str", "团队编号", required=True),
            C("name", "str", "团队名称", required=True),
            C("name_en", "str", "团队英文名称"),
            C("lead_id", "str", "主管工号", help="user_id of the sales lead"),
            C("city", "str", "所属地市"),
        ),
        key=("team_id",),
        refs=(Ref(("lead_id",), "users", ("user_id",)),),
        help="Sales teams; each led by a sales lead.",
    ),
    Table(
        "users",
        "用户",
        (
            C("user_id", "str", "工号", required=True, help="Sign-in name"),
            C("name", "str", "姓名", required=True),
            C("name_en", "str", "英文姓名"),
            C("role", "str", "角色", required=True, enum="role"),
            C("team_id", "str", "团队编号", help="Required for account managers and sales leads"),
            C("email", "str", "邮箱"),
        ),
        key=("user_id",),
        refs=(Ref(("team_id",), "teams", ("team_id",)),),
        help="People who use the toolkit. Passwords are never imported: an admin sets them.",
    ),
    Table(
        "competitors",
        "竞争对手",
        (
            C("competitor_id", "str", "竞争对手编号", required=True),
            C("name", "str", "名称", required=True),
            C("name_en", "str", "英文名称"),
        ),
        key=("competitor_id",),
        help="Other operators whose products our accounts hold (异网).",
    ),
    Table(
        "products",
        "产品",
        (
            C("product_id", "str", "产品编号", required=True),
            C("name", "str", "产品名称", required=True),
            C("name_en", "str", "英文名称"),
            C("family", "str", "产品族", required=True, enum="family"),
            C("provider", "str", "提供方", required=True, help="`ours` or a competitor_id"),
            C("function", "str", "功能", help="Function code; products of one function substitute each other"),
            C("industries", "str", "适用行业", help="Industry codes separated by `;` for industry applications; empty = any"),
            C("list_price", "float", "标准月资费", min=0),
        ),
        key=("product_id",),
        refs=(Ref(("provider",), "competitors", ("competitor_id",), extra=("ours",)),),
        help="The product catalogue: ours in four families, competitors' in the first three.",
    ),
    Table(
        "accounts",
        "客户",
        (
            C("account_id", "str", "客户编号", required=True),
            C("name", "str", "客户名称", required=True),
            C("name_en", "str", "英文名称"),
            C("industry", "str", "行业", enum="industry"),
            C("size_class", "str", "规模", enum="size_class"),
            C("city", "str", "地市"),
            C("district", "str", "区县"),
            C("city_tier", "int", "城市等级", min=1, max=6),
            C("footprint", "str", "覆盖范围", enum="footprint"),
            C("admin_level", "str", "行政级别", enum="admin_level", help="Government bodies only"),
            C("employees", "int", "员工数", min=0),
            C("sites", "int", "网点数", min=1),
            C("listed", "bool", "是否上市"),
            C("industry_leader", "bool", "行业龙头/示范"),
            C("annual_revenue", "float", "年收入或预算(元)", min=0),
            C("credit_rating", "str", "信用等级", enum="credit_rating"),
            C("it_maturity", "int", "信息化程度", min=1, max=5),
            C("parent_account_id", "str", "上级客户编号", help="Group account of a branch"),
            C("owner_id", "str", "客户经理工号"),
            C("onboard_date", "date", "入网日期", required=True),
        ),
        key=("account_id",),
        refs=(
            Ref(("parent_account_id",), "accounts", ("account_id",)),
            Ref(("owner_id",), "users", ("user_id",), soft=True),
        ),
        help=("Government and enterprise accounts, one owner each (an owner who is not a user, "
              "or none, puts the account in the unassigned pool); groups and their branches. "
              "Only the id, name and onboarding date are required: a measure whose column is "
              "missing takes no weight."),
    ),
    Table(
        "holdings",
        "业务持有",
        (
            C("account_id", "str", "客户编号", required=True),
            C("product_id", "str", "产品编号", required=True),
            C("provider", "str", "提供方", required=True, help="Must equal the product's provider"),
            C("quantity", "int", "数量", required=True, min=1),
            C("monthly_revenue", "float", "月收入(元)", required=True, min=0,
              help="Ours: billed; competitor's: estimated spend"),
            C("start_date", "date", "开始日期", required=True),
            C("end_date", "date", "结束日期", help="Empty while held"),
        ),
        key=("account_id", "product_id", "start_date"),
        refs=(
            Ref(("account_id",), "accounts", ("account_id",)),
            Ref(("product_id",), "products", ("product_id",)),
            Ref(("product_id", "provider"), "products", ("product_id", "provider")),
        ),
        date_orders=(DateOrder("start_date", "end_date"),),
        help="Which products each account holds, ours and competitors'.",
    ),
    Table(
        "contracts",
        "协议",
        (
            C("contract_id", "str", "协议编号", required=True),
            C("account_id", "str", "客户编号", required=True),
            C("contract_type", "str", "协议类型", required=True, enum="contract_type"),
            C("start_date", "date", "开始日期", required=True),
            C("end_date", "date", "到期日期", required=True),
            C("value", "float", "协议金额(元)", required=True, min=0),
        ),
        key=("contract_id",),
        refs=(Ref(("account_id",), "accounts", ("account_id",)),),
        date_orders=(DateOrder("start_date", "end_date"),),
        help="Agreements: comprehensive bundles, handset leases, bill subsidies, single services.",
    ),
    Table(
        "billing_monthly",
        "月账单",
        (
            C("account_id", "str", "客户编号", required=True),
            C("month", "date", "账期", required=True, help="First day of the month"),
            C("billed", "float", "出账金额(元)", required=True, min=0),
            C("paid", "float", "实收金额(元)", required=True, min=0),
            C("arrears", "float", "欠费金额(元)", required=True, min=0),
        ),
        key=("account_id", "month"),
        refs=(Ref(("account_id",), "accounts", ("account_id",)),),
        help="Monthly bills per account.",
    ),
    Table(
        "lines",
        "成员号码",
        (
            C("line_id", "str", "号码编号", required=True),
            C("account_id", "str", "客户编号", required=True),
            C("line_type", "str", "号码类型", required=True, enum="line_type"),
            C("open_date", "date", "开通日期", required=True),
            C("close_date", "date", "拆机日期"),
        ),
        key=("line_id",),
        refs=(Ref(("account_id",), "accounts", ("account_id",)),),
        date_orders=(DateOrder("open_date", "close_date"),),
        help="Member lines (subscriber numbers) of an account.",
    ),
    Table(
        "line_daily",
        "号码日使用",
        (
            C("line_id", "str", "号码编号", required=True),
            C("day", "date", "日期", required=True),
            C("voice_out_calls", "int", "主动语音呼出次数", required=True, min=0),
            C("sms_out", "int", "短信条数", required=True, min=0),
            C("vas_spend", "float", "增值业务消费(元)", required=True, min=0),
            C("spend", "float", "当日话费(元)", required=True, min=0),
            C("forwarded_offnet_calls", "int", "呼转异网次数", required=True, min=0),
            C("balance", "float", "信控余额(元)", required=True),
            C("self_suspended", "bool", "主动停机", required=True),
        ),
        key=("line_id", "day"),
        refs=(Ref(("line_id",), "lines", ("line_id",)),),
        help="Daily usage per member line: the raw material of the early warnings.",
    ),
    Table(
        "interactions",
        "客户接触",
        (
            C("interaction_id", "str", "接触编号", required=True),
            C("account_id", "str", "客户编号", required=True),
            C("date", "date", "日期", required=True),
            C("kind", "str", "类型", required=True, enum="interaction_kind"),
            C("user_id", "str", "经办人工号"),
            C("note", "str", "说明"),
        ),
        key=("interaction_id",),
        refs=(
            Ref(("account_id",), "accounts", ("account_id",)),
            Ref(("user_id",), "users", ("user_id",)),
        ),
        help="Visits, calls, complaints and escalated complaints.",
    ),
    Table(
        "churn_events",
        "离网记录",
        (
            C("account_id", "str", "客户编号", required=True),
            C("churn_date", "date", "离网日期", required=True),
            C("reason", "str", "离网原因", required=True, enum="churn_reason"),
        ),
        key=("account_id", "churn_date"),
        refs=(Ref(("account_id",), "accounts", ("account_id",)),),
        help="Accounts that left, when and why.",
    ),
)

# App-owned tables: written by the app only, never touched by an import. Every row has
# a `version` (optimistic concurrency) and every write adds an audit_log entry.
APP_TABLES: tuple[Table, ...] = (
    Table(
        "credentials",
        "登录凭据",
        (
            C("user_id", "str", "工号", required=True),
            C("password_hash", "str", "口令摘要", required=True),
            C("version", "int", "版本", required=True),
            C("updated_at", "str", "更新时间", required=True),
            C("updated_by", "str", "更新人", required=True),
        ),
        key=("user_id",),
        app_owned=True,
        help="Salted Argon2id hashes of passwords (older scrypt ones until their next "
             "sign-in); never the password itself.",
    ),
    Table(
        "plans",
        "客户计划",
        (
            C("plan_id", "str", "计划编号", required=True),
            C("account_id", "str", "客户编号", required=True),
            C("objective", "str", "目标", required=True),
            C("action", "str", "行动"),
            C("owner_id", "str", "负责人"),
            C("due_date", "date", "到期日"),
            C("status", "str", "状态", required=True),
            C("note", "str", "备注"),
            C("work_order_id", "str", "关联工单"),
            C("version", "int", "版本", required=True),
            C("updated_at", "str", "更新时间", required=True),
            C("updated_by", "str", "更新人", required=True),
            C("product_id", "str", "推荐产品"),  # schema version 3
        ),
        key=("plan_id",),
        app_owned=True,
    ),
    Table(
        "work_orders",
        "虚拟工单",
        (
            C("work_order_id", "str", "工单编号", required=True),
            C("account_id", "str", "客户编号", required=True),
            C("rule", "str", "预警规则", required=True),
            C("status", "str", "状态", required=True),
            C("assignee_id", "str", "处理人"),
            C("severity", "float", "严重度"),
            C("due_date", "date", "到期日"),
            C("first_hit", "date", "首次触发"),
            C("last_hit", "date", "最近触发"),
            C("hits", "int", "触发次数"),
            C("escalated", "bool", "已升级"),
            C("outcome", "str", "结果"),
            C("note", "str", "备注"),
            C("version", "int", "版本", required=True),
            C("updated_at", "str", "更新时间", required=True),
            C("updated_by", "str", "更新人", required=True),
        ),
        key=("work_order_id",),
        app_owned=True,
    ),
    Table(
        "work_order_events",
        "工单记录",
        (
            C("event_id", "str", "记录编号", required=True),
            C("work_order_id", "str", "工单编号", required=True),
            C("at", "str", "时间", required=True),
            C("user_id", "str", "操作人", required=True),
            C("kind", "str", "类型", required=True, help="hit, status, assign, note, escalate"),
            C("detail", "str", "详情", help="JSON"),
            C("version", "int", "版本", required=True),
            C("updated_at", "str", "更新时间", required=True),
            C("updated_by", "str", "更新人", required=True),
        ),
        key=("event_id",),
        app_owned=True,
        help="The history of a work order: every warning hit, assignment, status change and note.",
    ),
    Table(
        "contact_log",
        "接触记录(应用内登记)",
        (
            C("contact_id", "str", "登记编号", required=True),
            C("account_id", "str", "客户编号", required=True),
            C("date", "date", "接触日期", required=True),
            C("kind", "str", "类型", required=True, help="call, visit, email, meeting"),
            C("user_id", "str", "经办人工号", required=True),
            C("note", "str", "说明"),
            C("outcome", "str", "结果",
              help="reached, not_reached, follow_up, at_risk, resolved (or empty)"),
            C("version", "int", "版本", required=True),
            C("updated_at", "str", "更新时间", required=True),
            C("updated_by", "str", "更新人", required=True),
        ),
        key=("contact_id",),
        app_owned=True,
        help="Calls, visits, e-mails and meetings logged in the app by the person who made "
             "them (the interactions of the facts come from imports). Kept across every "
             "import; shown in the account's interaction history beside the imported ones.",
    ),
    Table(
        "score_snapshots",
        "评分快照",
        (
            C("as_of", "date", "快照日期", required=True),
            C("account_id", "str", "客户编号", required=True),
            C("model", "str", "评估模型"),
            C("value_score", "float", "价值得分"),
            C("influence_score", "float", "社会影响力得分"),
            C("payment_score", "float", "支付能力得分"),
            C("loyalty_score", "float", "忠诚度得分"),
            C("competitor_score", "float", "竞争关系得分"),
            C("tier", "str", "价值层级"),
            C("strategy", "str", "策略"),
            C("monthly_revenue", "float", "月收入"),
            C("version", "int", "版本", required=True),
            C("updated_at", "str", "更新时间", required=True),
            C("updated_by", "str", "更新人", required=True),
        ),
        key=("as_of", "account_id"),
        app_owned=True,
    ),
    Table(
        "settings_versions",
        "设置版本",
        (
            C("settings_id", "int", "设置版本号", required=True),
            C("toml", "str", "设置内容", required=True),
            C("comment", "str", "说明"),
            C("active", "bool", "生效", required=True),
            C("version", "int", "版本", required=True),
            C("updated_at", "str", "更新时间", required=True),
            C("updated_by", "str", "更新人", required=True),
        ),
        key=("settings_id",),
        app_owned=True,
    ),
    Table(
        "account_assignments",
        "客户分配",
        (
            C("account_id", "str", "客户编号", required=True),
            C("owner_id", "str", "客户经理工号", required=True),
            C("version", "int", "版本", required=True),
            C("updated_at", "str", "更新时间", required=True),
            C("updated_by", "str", "更新人", required=True),
            C("imported_owner_id", "str", "导入时的客户经理",
              help="The owner the facts named when the account was first given an owner here "
                   "(empty for the unassigned pool)"),
        ),
        key=("account_id",),
        app_owned=True,
        help="Owners given in the app: to accounts imported without a known owner (the "
             "unassigned pool), or moved from one account manager to another. They hold "
             "across re-imports until an import names another known owner than the one the "
             "account had when it was given its owner here.",
    ),
    Table(
        "user_changes",
        "用户变更",
        (
            C("user_id", "str", "工号", required=True),
            C("name", "str", "姓名"),
            C("name_en", "str", "英文姓名"),
            C("role", "str", "角色", enum="role"),
            C("team_id", "str", "团队编号"),
            C("email", "str", "邮箱"),
            C("active", "bool", "可登录", required=True),
            C("created", "bool", "在应用中创建", required=True),
            C("version", "int", "版本", required=True),
            C("updated_at", "str", "更新时间", required=True),
            C("updated_by", "str", "更新人", required=True),
        ),
        key=("user_id",),
        app_owned=True,
        help="Users created or changed by an admin in the app. The fields set here hold over "
             "every import of users (an empty one: as imported); a user created here stays "
             "when an import does not name them; a deactivated one (active false) cannot sign "
             "in, and keeps their accounts.",
    ),
    Table(
        "team_changes",
        "团队变更",
        (
            C("team_id", "str", "团队编号", required=True),
            C("name", "str", "团队名称"),
            C("name_en", "str", "团队英文名称"),
            C("lead_id", "str", "主管工号"),
            C("city", "str", "所属地市"),
            C("created", "bool", "在应用中创建", required=True),
            C("version", "int", "版本", required=True),
            C("updated_at", "str", "更新时间", required=True),
            C("updated_by", "str", "更新人", required=True),
        ),
        key=("team_id",),
        app_owned=True,
        help="Teams created or changed by an admin in the app, applied over every import of "
             "teams as user changes are.",
    ),
    Table(
        "signin_attempts",
        "登录失败",
        (
            C("login_id", "str", "所填工号", required=True,
              help="The user ID as typed: unknown IDs are counted (and locked) the same way"),
            C("failures", "int", "连续失败次数", required=True),
            C("last_failure_at", "str", "最近失败时间"),
            C("locked_until", "str", "锁定至"),
            C("version", "int", "版本", required=True),
            C("updated_at", "str", "更新时间", required=True),
            C("updated_by", "str", "更新人", required=True),
        ),
        key=("login_id",),
        app_owned=True,
        help="Failed sign-ins in a row per typed user ID, shared by every server process; a "
             "success removes the row, and so does age (auth.failure_memory_hours).",
    ),
    Table(
        "signin_sessions",
        "登录会话",
        (
            C("token_hash", "str", "令牌摘要", required=True,
              help="SHA-256 of the random token in the browser's cookie; never the token"),
            C("user_id", "str", "工号", required=True),
            C("issued_at", "str", "签发时间", required=True),
            C("last_seen_at", "str", "最近活动时间", required=True),
            C("expires_at", "str", "最迟失效时间", required=True),
            C("revoked_at", "str", "撤销时间"),
            C("revoked_why", "str", "撤销原因", help="sign_out, idle, lockout, password, removed"),
            C("version", "int", "版本", required=True),
            C("updated_at", "str", "更新时间", required=True),
            C("updated_by", "str", "更新人", required=True),
        ),
        key=("token_hash",),
        app_owned=True,
        help="Signed-in sessions a browser cookie may restore after a reload; signing out, a "
             "lockout or a new password revokes them.",
    ),
    Table(
        "app_secrets",
        "服务器密钥",
        (
            C("name", "str", "名称", required=True),
            C("value", "str", "值", required=True),
            C("version", "int", "版本", required=True),
            C("updated_at", "str", "更新时间", required=True),
            C("updated_by", "str", "更新人", required=True),
        ),
        key=("name",),
        app_owned=True,
        help="Server secrets created on first use (the key that signs session cookies); "
             "audited with the value redacted.",
    ),
    Table(
        "audit_log",
        "审计日志",
        (
            C("audit_id", "int", "序号", required=True),
            C("at", "str", "时间", required=True),
            C("user_id", "str", "操作人", required=True),
            C("action", "str", "操作", required=True),
            C("table_name", "str", "表", required=True),
            C("row_key", "str", "记录", required=True),
            C("before", "str", "修改前"),
            C("after", "str", "修改后"),
        ),
        key=("audit_id",),
        app_owned=True,
        help="Who changed what, when, with the row before and after (JSON).",
    ),
)

TABLES: dict[str, Table] = {t.name: t for t in FACT_TABLES + APP_TABLES}


def table(name: str) -> Table:
    """The table called ``name`` (English name)."""
    return TABLES[name]


def enum_label(enum: str, code: str, lang: str = "en") -> str:
    """Display label of an enum code in ``lang`` ("en" or "zh"); the code if unknown."""
    labels = ENUMS[enum].get(code)
    if labels is None:
        return code
    return labels[1] if lang.startswith("zh") else labels[0]


def fact_load_order() -> list[str]:
    """Fact table names in the order they are documented and loaded."""
    return [t.name for t in FACT_TABLES]
