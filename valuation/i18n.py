"""zh-CN / English strings: every label of the app goes through :func:`t`."""

from __future__ import annotations

import functools
import re

import pandas as pd

from valuation import schema

__all__ = [
    "LANGS",
    "STRINGS",
    "approach",
    "city",
    "enum",
    "grade",
    "headers",
    "holdings_table",
    "money",
    "profile_table",
    "rule",
    "stage",
    "strategy",
    "strategy_help",
    "t",
]

LANGS = ("zh", "en")

# key -> (English, 中文). Placeholders use str.format names.
STRINGS: dict[str, tuple[str, str]] = {
    "app.title": ("Government & Enterprise Account Valuation", "政企客户价值评估"),
    "app.error": (
        "Something went wrong on this page (reference {ref}). The details are in the server "
        "log: give this reference to your administrator.",
        "本页出错（编号 {ref}）。详细信息已记入服务器日志，请将此编号告知管理员。",
    ),
    "app.demo_passwords": (
        "Demo database: {users} still sign in with the published demo passwords. Import your "
        "users (which removes them) and set real passwords on the Users & teams page or with "
        "`valuation passwd USER`.",
        "演示数据库：{users} 仍可用公开的演示口令登录。请导入真实用户（将删除演示口令），"
        "并在用户与团队页或用 `valuation passwd 工号` 设置真实口令。",
    ),
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
    "signin.locked": (
        "Too many failed sign-ins: this user ID is locked until {until}. Try again then.",
        "登录失败次数过多：该工号已锁定至 {until}，请届时再试。",
    ),
    "signin.wait": ("Please wait {seconds} s before trying again.", "请等待 {seconds} 秒后再试。"),
    "signin.idle": (
        "You were signed out after {minutes} {minutes|minute|minutes} without activity. Please sign in again.",
        "您已超过 {minutes} 分钟未操作，已自动退出登录，请重新登录。",
    ),
    "signin.removed": (
        "Your user ID is no longer in the user list. Please contact an admin.",
        "您的工号已不在用户名单中，请联系支撑经理。",
    ),
    "signin.revoked": (
        "Your session was ended (signed out elsewhere, new password or lockout). Please sign "
        "in again.",
        "您的会话已结束（在别处退出、修改了密码或被锁定），请重新登录。",
    ),
    "signin.role_changed": ("Your role or team changed: {role}.", "您的角色或团队已变更：{role}。"),
    "nav.not_allowed": (
        "Your role ({role}) may not open the page {page}.",
        "您的角色（{role}）无权打开页面“{page}”。",
    ),
    "state.reading": ("Data as of {as_of} · data version {data_version} · settings version "
                      "{settings_id}",
                      "数据截至 {as_of} · 数据版本 {data_version} · 设置版本 {settings_id}"),
    "state.default_settings": ("0 (defaults)", "0（默认）"),
    "state.building_now": ("Analysing the portfolio with the change…", "正在按变更重新分析客户…"),
    "state.building": ("Newer data (version {data_version}, settings version {settings_id}) is "
                       "being analysed; the pages show the previous analysis until it is ready.",
                       "新数据（版本 {data_version}，设置版本 {settings_id}）正在分析中；"
                       "完成前页面显示上一版分析结果。"),
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
    "table.capped": ("The first {n} of {total} {total|row|rows} are shown; the download has them all.",
                     "表中显示前 {n} 行（共 {total} 行）；下载文件包含全部。"),
    "portfolio.count": ("{n:,} of {total:,} {total|account|accounts} shown", "显示 {n:,} / {total:,} 个客户"),
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
    "kpi.churned_help": (
        "Accounts that left in the last 12 months, and their share of the accounts live a year ago.",
        "近12个月离网的客户数,及其占一年前在网客户的比例。",
    ),
    "kpi.arrears_rate": ("Arrears rate (3 months)", "欠费率(近3月)"),
    "kpi.arrears_help": (
        "Unpaid share of what was billed in the last 3 months.",
        "近3个月出账金额中未缴部分的占比。",
    ),
    "filter.search": ("Search", "搜索"),
    "filter.any": ("Any", "全部"),
    "filter.search_hint": ("Name or account ID", "客户名称或编号"),
    "filter.include_churned": ("Include churned accounts", "包含已离网客户"),
    # -- page fixes: KPIs that follow the filters, links, XLSX, settings labels, product graph --
    "pf.kpi_caption": (
        "Figures for the accounts the filters select, with their change month on month and "
        "year on year.",
        "以下指标按当前筛选条件统计,并给出环比与同比变化。",
    ),
    "pf.mom": ("vs last month", "环比"),
    "pf.yoy": ("vs a year ago", "同比"),
    "pf.pp": ("{x} pp", "{x} 个百分点"),
    "pf.help_mom": ("Month on month: {change} against {month} (score snapshot of {date}).",
                    "环比:较 {month}({date} 评分快照)变化 {change}。"),
    "pf.help_yoy": ("Year on year: {change} against {month} (score snapshot of {date}).",
                    "同比:较 {month}({date} 评分快照)变化 {change}。"),
    "pf.help_no_mom": ("No month-on-month change: {why}.", "无环比:{why}。"),
    "pf.help_no_yoy": ("No year-on-year change: {why}.", "无同比:{why}。"),
    "pf.why.one_snapshot": (
        "the score history is a single snapshot ({first}), as an export of one date is",
        "评分历史只有 {first} 一个快照(单一日期的导入数据即如此)",
    ),
    "pf.why.no_history": ("there is no score history yet (valuation snapshot makes one)",
                          "尚无评分历史(可用 valuation snapshot 生成)"),
    "pf.why.no_snapshot": ("the score history has no snapshot of {month} (it starts {first})",
                           "评分历史中没有 {month} 的快照(历史始于 {first})"),
    "pf.why.no_bills": ("there are no bills of {month}", "没有 {month} 的账单"),
    "pf.why.undefined": ("the figure is undefined then (nothing billed to compare)",
                         "当时该指标无法计算(无可比的出账收入)"),
    "pf.help_basis": (
        "Churned accounts count in the churn figure only. An earlier month applies the same "
        "filters to the portfolio as it was then: who was live, their tier, strategy and "
        "monthly revenue from that month's score snapshot, the three-month figures from the "
        "bills to its date, the rest of the filters as things are now.",
        "已离网客户只计入离网指标。往期指标对当时的客户组合套用同样的筛选:在网客户及其层级、"
        "策略与月收入取当月评分快照,近3月指标取截至当时的账单,其余筛选条件按现状。",
    ),
    "pf.download_xlsx": ("Download Excel", "下载 Excel"),
    "pf.download_xlsx_help": (
        "The same table as an Excel workbook, numbers as numbers (at most {rows} rows).",
        "同一表格的 Excel 工作簿,数字保留为数值(最多 {rows} 行)。",
    ),
    "pf.set.code": ("Tier", "层级"),
    "pf.set.label_en": ("Name (English)", "英文名称"),
    "pf.set.label_zh": ("Name (Chinese)", "中文名称"),
    "pf.set.settings_id": ("Version", "版本"),
    "pf.set.comment": ("Comment", "说明"),
    "pf.set.active": ("Active", "生效中"),
    "pf.set.updated_by": ("Changed by", "修改人"),
    "pf.set.updated_at": ("Changed at", "修改时间"),
    "pf.set.scope_min": ("{col} at least {value}", "{col}不低于 {value}"),
    "pf.set.scope_max": ("{col} at most {value}", "{col}不高于 {value}"),
    "pf.norm.percentile": ("percentile rank", "百分位排名"),
    "pf.norm.minmax": ("min–max (winsorised)", "最小-最大缩放(截尾)"),
    "pf.norm.log": ("logarithm, then min–max", "取对数后最小-最大缩放"),
    "pf.norm.fixed": ("fixed range", "固定区间"),
    "pf.missing.zero": ("count as zero", "按零计"),
    "pf.missing.median": ("the scope's median", "取范围内中位数"),
    "pf.missing.best": ("the best value", "取最优值"),
    "pf.graph.centre": ("Centre on", "聚焦"),
    "pf.graph.whole": ("The whole catalogue", "全部产品"),
    "pf.graph.family": ("Family: {name}", "产品族:{name}"),
    "pf.graph.top_k": ("Strongest pairs per product", "每个产品显示的最强共持关系数"),
    "pf.graph.top_k_help": (
        "Each product keeps its co-holding pairs with the highest lift, this many at most, "
        "and only those at or above the minimum lift.",
        "每个产品最多保留提升度最高的这么多条共持关系,且提升度不低于最小值。",
    ),
    "pf.graph.caption": (
        "{shown} of {total} co-holding {total|pair|pairs} with lift at least {lift} shown: each "
        "product's {k} strongest. Grey line: held together (thicker: higher lift); dashed: a "
        "competitor's product and our substitute. Hover a product or a line for its figures.",
        "共 {total} 条提升度不低于 {lift} 的共持关系,显示其中 {shown} 条(每个产品最强的 {k} 条)。"
        "灰线:共同持有(越粗提升度越高);虚线:异网产品与我方替代产品。悬停查看数值。",
    ),
    "pf.graph.pairs": ("Pairs shown, strongest first", "图中共持关系(按提升度排序)"),
    "pf.graph.product_a": ("Product", "产品"),
    "pf.graph.product_b": ("Held with", "共同持有"),
    "pf.graph.lift": ("Lift", "提升度"),
    "pf.graph.accounts": ("Accounts holding both", "同时持有的客户数"),
    "pf.order_not_open": ("Work order {order} is not among your open work orders.",
                          "工单 {order} 不在您的未结工单中。"),
    "pf.graph.none": ("No co-holding pair reaches this lift: lower the minimum lift.",
                      "没有共持关系达到该提升度:请降低最小提升度。"),
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
    "label.unknown": ("Unknown", "未知"),
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
    "account.pick_help": (
        "Largest accounts first; type in the search box to find any account in your scope.",
        "按月收入从高到低排列;在搜索框输入可查找您权限内的任意客户。",
    ),
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
    "label.system": ("System", "系统"),
    "account.tab_valuation": ("Valuation", "价值评估"),
    "account.tab_retention": ("Retention and plan", "维系与计划"),
    "account.tab_products": ("Products and cross-sell", "产品与交叉销售"),
    "account.tab_profile": ("Profile and history", "概况与记录"),
    "account.next_step": ("Next step", "下一步"),
    "account.due": ("due {date}", "{date} 到期"),
    "account.parent": ("Group (parent account):", "所属集团(上级客户):"),
    "account.outside_scope": ("outside your scope", "不在您的权限范围"),
    "account.branches": ("Branches: {n}", "下属分支:{n} 个"),
    "account.open_branch": ("Open a branch", "打开分支客户"),
    "account.branches_hidden": (
        "{n} {n|branch is|branches are} owned outside your scope.",
        "{n} 个分支不在您的权限范围内。",
    ),
    "account.holdings": ("Products held", "业务持有"),
    "account.contracts": ("Contracts", "协议"),
    "account.interactions": ("Interactions", "客户接触"),
    "account.valuation": ("Valuation", "价值评估"),
    "account.entitlements": ("Repair SLA {sla} h · visit every {visit} {visit|day|days} · dedicated agent: {agent}",
                             "修障时限 {sla} 小时 · 每 {visit} 天拜访 · 专席服务:{agent}"),
    "account.influence_payment": ("Influence {i} · ability to pay {p}", "社会影响力 {i} · 支付能力 {p}"),
    "account.path": ("Path to the next tier", "晋级路径"),
    "account.top_tier": ("Already in the top tier.", "已处于最高层级。"),
    "account.no_single_move": (
        "No single move lifts this account to the next tier; it needs several at once.",
        "没有单项改进可使该客户晋级,需要多项同时提升。",
    ),
    "account.now": ("Now", "当前"),
    "account.target": ("Target", "目标"),
    "account.change": ("Change", "变化"),
    "basis.value": ("value score", "价值得分"),
    "basis.composite": ("value and loyalty", "价值与忠诚度综合"),
    "method.quantile": ("quantiles", "分位数"),
    "method.threshold": ("thresholds", "阈值"),
    "method.kmeans": ("clustering", "聚类"),
    "chart.composition_family": ("Revenue by product family", "按产品族的收入构成"),
    "chart.composition_industry": ("Revenue by industry", "按行业的收入构成"),
    "chart.composition_city": ("Revenue by city", "按地市的收入构成"),
    "chart.from_tier": ("From", "原层级"),
    "chart.to_tier": ("To", "现层级"),
    "chart.lorenz": ("Revenue concentration (Lorenz curve)", "收入集中度(洛伦兹曲线)"),
    "chart.lorenz_x": ("Share of accounts (smallest first)", "客户占比(由小到大)"),
    "chart.lorenz_y": ("Share of revenue", "收入占比"),
    "chart.measure": ("Measure", "指标"),
    "chart.points": ("Points", "得分贡献"),
    "chart.raw": ("Value", "原始值"),
    "chart.above_average": ("Above the model average", "高于模型均值"),
    "chart.below_average": ("Below the model average", "低于模型均值"),
    "chart.reasons": ("Why: each measure's points", "得分原因:各指标贡献"),
    "chart.vs_average": ("vs model average", "较模型均值"),
    "chart.positioning": ("Positioning: value × loyalty (colour: competitor entanglement)",
                          "客户定位:价值 × 忠诚度(颜色:异网捆绑度)"),
    "chart.pyramid_accounts": ("Value pyramid by accounts", "价值金字塔(客户数)"),
    "chart.pyramid_revenue": ("Value pyramid by monthly revenue (¥10k)", "价值金字塔(月收入,万元)"),
    "chart.score": ("Score", "得分"),
    "chart.score_history": ("Score history", "得分历史"),
    "col.value_score": ("Value", "价值"),
    "col.loyalty_score": ("Loyalty", "忠诚度"),
    "col.competitor_score": ("Competitor entanglement", "异网捆绑度"),
    "col.value_change": ("Value change", "价值变化"),
    "col.tier": ("Tier", "层级"),
    "col.strategy": ("Strategy", "策略"),
    "col.lifecycle_stage": ("Stage", "生命周期"),
    "col.model": ("Scoring model", "评估模型"),
    "col.share": ("Share", "占比"),
    "help.value": ("Social influence plus ability to pay (0-100).", "社会影响力与经济支付能力(0-100)。"),
    "help.loyalty": ("Depth of our bundle across the four families (0-100).",
                     "使用我方四类业务的深度(0-100)。"),
    "help.competitor": ("Depth of competitors' products in the account (0-100); high is bad for us.",
                        "客户使用异网业务的深度(0-100),越高对我方越不利。"),
    "label.new": ("New", "新增"),
    "label.gone": ("Left", "流失"),
    "portfolio.filters": ("Filters", "筛选"),
    "pyramid.title": ("Value pyramid", "价值金字塔"),
    "pyramid.basis": ("tiers by {basis}, cut by {method}", "按{basis}分层,{method}切分"),
    "pyramid.measure": ("Show", "显示"),
    "pyramid.by_accounts": ("By accounts", "按客户数"),
    "pyramid.by_revenue": ("By revenue", "按收入"),
    "pyramid.top20": ("Top 20% revenue share", "前20%客户收入占比"),
    "pyramid.top20_help": ("Share of monthly revenue from the largest fifth of accounts.",
                           "收入最高的20%客户贡献的月收入占比。"),
    "pyramid.gini": ("Gini coefficient", "基尼系数"),
    "pyramid.account_share": ("Share of accounts", "客户占比"),
    "pyramid.revenue_share": ("Share of revenue", "收入占比"),
    "pyramid.dedicated_agent": ("Dedicated agent", "专席服务"),
    "pyramid.repair_sla": ("Repair SLA", "修障时限"),
    "pyramid.visit_days": ("Visit every (days)", "拜访周期(天)"),
    "pyramid.composition": ("Value composition by tier", "各层级价值构成"),
    "pyramid.migration": ("Tier migration between snapshots", "层级迁移"),
    "pyramid.no_snapshots": ("Fewer than two snapshots: run `valuation snapshot`.",
                             "快照少于两个:请运行 valuation snapshot。"),
    "pyramid.from": ("From snapshot", "起始快照"),
    "pyramid.to": ("To snapshot", "对比快照"),
    "pyramid.kpis": ("KPIs by region and industry", "分地市、分行业指标"),
    "pyramid.kpis_by": ("By", "维度"),
    "pyramid.top_share": ("Share in tiers A-B", "A/B层级占比"),
    "pyramid.churn_rate": ("Churn rate, 12 months", "近12月离网率"),
    "pyramid.groups": ("Groups scored as one", "集团整体评估"),
    "pyramid.members": ("Members", "成员数"),
    "pyramid.group_tier": ("Group tier", "集团层级"),
    "pyramid.head_tier": ("Head's own tier", "总部自身层级"),
    "pyramid.drill": ("Accounts in a tier", "层级客户明细"),
    "settings.title": ("Settings", "评估设置"),
    "settings.calibrate": ("Calibrate to churn", "按离网校准"),
    "settings.rules": ("Churn rules", "离网规则"),
    "settings.rules_caption": (
        "How each transparent churn rule did on the history the churn model was trained on. "
        "Their thresholds are the warnings.* and lifecycle.* settings in the settings file.",
        "各透明离网规则在离网模型训练所用历史上的表现。其阈值即设置文件中的 warnings.* 与 lifecycle.* 设置。"),
    "settings.rules_none": ("Train the churn model (Import page) to read the rules against "
                            "history.", "请先训练离网模型(数据导入页),再查看规则的历史表现。"),
    "cal.caption": (
        "Fit each model's loyalty and competitor weights to this portfolio's churn history: "
        "a loyalty measure can only lower the risk, a competitor measure only raise it; "
        "validated on data the fit never saw. Value is worth, not risk: it is not fitted. "
        "Nothing changes until you preview and save below.",
        "用本组合的离网历史拟合各模型的忠诚度与异网捆绑权重:忠诚度指标只能降低风险,异网指标只能提高风险;"
        "在拟合未使用的数据上验证。价值衡量的是客户值多少,不是流失风险,因此不参与拟合。"
        "预览并在下方保存之前不会改变任何设置。"),
    "cal.horizon": ("Churn within (months)", "离网观察期(月)"),
    "cal.run": ("Calibrate", "开始校准"),
    "cal.running": ("Rebuilding the month ends and fitting…", "正在重建各月末数据并拟合…"),
    "cal.read": ("Churn within {h} {h|month|months} after the month ends {first} … {last} ({n}).",
                 "以月末 {first} … {last}(共 {n} 个)之后 {h} 个月内是否离网为标签。"),
    "cal.accounts": ("{n} {n|account|accounts} at the latest month end", "最近月末 {n} 个客户"),
    "cal.mode": ("Validation", "验证方式"),
    "cal.mode.time_split": ("time split", "时间切分"),
    "cal.mode.kfold": ("k-fold", "k 折交叉"),
    "cal.mode.kept": ("weights kept", "保留原权重"),
    "cal.how.time_split": ("fitted on earlier month ends, validated on the latest",
                           "用较早月末拟合,在最近月末验证"),
    "cal.how.kfold": ("churn sits in one period: stratified k-fold on the latest month end",
                      "离网集中在一个时期:在最近月末做分层 k 折验证"),
    "cal.kept_none": ("no measure of this dimension varies here", "该维度指标在此范围内无差异"),
    "cal.kept_few": ("only {n} churn events: too few to learn from", "仅 {n} 个离网事件,不足以拟合"),
    "cal.events": ("Churn events", "离网事件"),
    "cal.portfolio": (
        "All accounts together, out of sample. A model's new weights are proposed only when "
        "they rank its own accounts better and do not lower this figure (every model's scores "
        "share one scale: tiers and strategies compare them).",
        "全部客户合并、样本外的结果。只有当某模型的新权重既能更好地区分其自身客户,又不降低这一合并结果时才会被提出"
        "(各模型得分处在同一标尺上,层级和策略要在它们之间比较)。"),
    "cal.kept_portfolio": ("better within the model, but lowers the portfolio-wide figure",
                           "模型内更好,但会降低全组合的结果"),
    "cal.kept_worse": ("the fit does not beat the weights in force out of sample",
                       "拟合结果在样本外不优于当前权重"),
    "cal.auc_before": ("AUC now (95% CI)", "当前 AUC(95% 区间)"),
    "cal.auc_after": ("AUC calibrated (95% CI)", "校准后 AUC(95% 区间)"),
    "cal.note": ("How", "说明"),
    "cal.measure": ("Measure", "指标"),
    "cal.old": ("Weight now", "当前权重"),
    "cal.new": ("Calibrated weight", "校准权重"),
    "cal.available": ("Available", "可用"),
    "cal.unavailable": ("no (missing or constant)", "否(缺失或取值相同)"),
    "cal.no_change": ("Calibration changes no weight.", "校准未改变任何权重。"),
    "cal.comment": ("calibrated to churn", "按离网校准"),
    "cal.preview": ("Preview these weights below, then save", "在下方预览这些权重,再保存"),
    "settings.admin_only": ("Only admins may change settings.", "仅支撑经理可修改设置。"),
    "settings.active": ("Active settings version: {id}", "当前生效设置版本:{id}"),
    "settings.defaults": ("defaults", "默认"),
    "settings.models": ("Scoring models", "评估模型"),
    "settings.cuts": ("Cuts and tiers", "切分与层级"),
    "settings.toml": ("Settings file (TOML)", "设置文件(TOML)"),
    "settings.toml_help": (
        "The full settings as TOML. Switch on 'use this text' to save edits made here.",
        "完整设置(TOML 格式)。打开“使用此文本”后保存此处的修改。",
    ),
    "settings.use_toml": ("Use this text", "使用此文本"),
    "settings.history": ("Versions", "历史版本"),
    "settings.restore_pick": ("Version", "版本"),
    "settings.restore": ("Restore this version", "恢复此版本"),
    "settings.restore_title": ("Restore a settings version", "恢复设置版本"),
    "settings.restore_confirm": (
        "Version {id} becomes the active settings again, as a new version: every score, tier "
        "and strategy is recomputed with it. Go ahead?",
        "版本 {id} 将作为新版本重新生效：所有得分、层级和策略都将按其重新计算。确定继续吗？"),
    "action.cancel": ("Cancel", "取消"),
    "settings.saved": ("Saved as version {id}.", "已保存为版本 {id}。"),
    "settings.invalid": ("These settings cannot be used: {error}", "设置无效:{error}"),
    "settings.preview": ("Effect before saving", "保存前预览影响"),
    "settings.no_change": ("No change yet.", "尚未修改。"),
    "settings.moved_accounts": ("Accounts changing tier", "层级变化客户数"),
    "settings.moved_revenue": ("Monthly revenue changing tier", "层级变化的月收入"),
    "settings.strategy_changes": ("Accounts changing strategy", "策略变化客户数"),
    "settings.comment": ("Comment", "说明"),
    "settings.save": ("Save as the active version", "保存并生效"),
    "settings.precedence": ("Precedence (lower first)", "优先级(越小越优先)"),
    "settings.influence_weight": ("Weight of social influence", "社会影响力权重"),
    "settings.payment_weight": ("Weight of ability to pay", "支付能力权重"),
    "settings.scope": ("Scope: {scope}", "适用范围:{scope}"),
    "settings.everyone": ("every account not matched earlier", "前序模型未覆盖的全部客户"),
    "settings.dimension": ("Dimension", "维度"),
    "settings.weight": ("Weight", "权重"),
    "settings.norm": ("Normalisation", "标准化方法"),
    "settings.missing": ("Missing values", "缺失值处理"),
    "settings.value_high": ("Value high from", "高价值起点"),
    "settings.loyalty_high": ("Loyalty high from", "高忠诚度起点"),
    "settings.competitor_high": ("Competitor entanglement high from", "高异网捆绑起点"),
    "settings.method": ("Tier method", "分层方法"),
    "settings.basis": ("Tier basis", "分层依据"),
    "settings.loyalty_weight": ("Loyalty weight in the composite", "综合得分中忠诚度权重"),
    "settings.share": ("Share", "占比"),
    "settings.threshold": ("Threshold", "阈值"),
    "nav.pyramid": ("Pyramid", "价值金字塔"),
    "nav.settings": ("Settings", "评估设置"),
    "grade.high": ("High", "高"),
    "grade.fairly_high": ("Fairly high", "较高"),
    "grade.medium": ("Medium", "中"),
    "grade.fairly_low": ("Fairly low", "较低"),
    "grade.low": ("Low", "低"),
    "nav.retention": ("Retention", "离网维系"),
    "nav.my_work": ("My work", "我的工单"),
    "status.new": ("New", "新建"),
    "status.assigned": ("Assigned", "已派发"),
    "status.contacted": ("Contacted", "已回访"),
    "status.retained": ("Retained", "已挽留"),
    "status.lost": ("Lost", "已流失"),
    "status.false_alarm": ("False alarm", "误报"),
    "objective.retain": ("Retain", "保有"),
    "objective.grow_share": ("Grow share of wallet", "提升钱包份额"),
    "objective.win_back": ("Win back (counter-poaching)", "反抢挽回"),
    "plan_status.open": ("Open", "未开始"),
    "plan_status.in_progress": ("In progress", "进行中"),
    "plan_status.done": ("Done", "已完成"),
    "plan_status.dropped": ("Dropped", "已放弃"),
    "retention.only_escalated": ("Escalated only", "仅看已升级"),
    "retention.only_fits": ("Within this month's hours only", "仅看本月工时内"),
    "retention.shown": ("{n} of {total} {total|order|orders}", "显示 {n} / {total} 张工单"),
    "retention.churn": ("Churn risk", "离网风险"),
    "retention.unflagged": ("At risk with no open work order", "高风险但无未结工单"),
    "retention.unflagged_help": (
        "Live accounts in the churn model's top 10% of churn probability that no warning rule "
        "has turned into a work order, by revenue at risk: call them before a rule fires.",
        "离网概率处于模型前10%、但尚未因预警规则生成工单的在网客户,按收入风险排序:在规则触发前主动联系。"),
    "retention.unflagged_none": ("No such account: every modelled risk has a work order, or no "
                                 "model is trained yet.",
                                 "无此类客户:模型识别的风险均已有工单,或尚未训练模型。"),
    "survival.title": ("How long accounts stay", "客户在网时长(生存曲线)"),
    "survival.by": ("Group by", "分组"),
    "survival.by.bundle": ("Bundle depth", "产品族覆盖"),
    "survival.by.tier": ("Value tier", "价值层级"),
    "survival.reading": ("Still with us after 5 years of tenure:", "在网满5年的留存率:"),
    "model.title": ("Churn model", "离网模型"),
    "model.none": ("No churn model trained yet. An administrator trains it on the Models & "
                   "jobs page or with `valuation churn train`.",
                   "尚未训练离网模型。管理员可在模型与任务页或用 valuation churn train 训练。"),
    "model.method.model": (
        "Calibrated gradient boosting, learned from {events} churn events; a logistic "
        "baseline explains each account's factors.",
        "校准的梯度提升模型,基于 {events} 个离网事件训练;逻辑回归基线给出各客户的风险因素。"),
    "model.method.rules": (
        "Only {events} churn events (fewer than {min_events}): no model learned; accounts are "
        "ranked by the transparent rules.",
        "仅 {events} 个离网事件(少于 {min_events}):未训练模型,按透明规则排序。"),
    "model.trained": (
        "Trained {at} on data as of {as_of}: {accounts} {accounts|account|accounts} at month ends {first} to "
        "{last}, {events} churn events, churn within {months} {months|month|months}.",
        "训练于 {at},数据截至 {as_of}:{accounts} 个客户,月末快照 {first} 至 {last},"
        "{events} 个离网事件,预测 {months} 个月内离网。"),
    "model.status.time_split": ("Tested on a later period than it learned from (time split).",
                                "已在晚于训练数据的时期检验(时间切分)。"),
    "model.status.cross_sectional": (
        "Cross-sectional: churn in this history sits in one period, so the model was learned "
        "and 5-fold cross-validated on one month end. It is not tested on a later period.",
        "横截面模型:历史中的离网集中在一个时期,模型在单一月末上训练并做5折交叉验证,未在后续时期检验。"),
    "model.status.rules_fallback": (
        "Rules only: too few churn events to learn a model; accounts are ranked by the rules.",
        "仅规则:离网事件过少,未训练模型,按规则排序。"),
    "model.calibration": ("Mean predicted churn {predicted} against {observed} observed.",
                          "平均预测离网概率 {predicted},实际离网率 {observed}。"),
    "model.calibration_off": ("The probabilities are off: retrain on newer data.",
                              "概率偏离实际:请用更新的数据重新训练。"),
    "model.rules_title": ("The rules on history", "规则的历史表现"),
    "model.rule": ("Rule", "规则"),
    "model.flagged_share": ("Share flagged", "触发占比"),
    "model.rate_flagged": ("Churn when flagged", "触发时离网率"),
    "model.rate_not_flagged": ("Churn when not", "未触发时离网率"),
    "model.rule_lift": ("Lift", "提升度"),
    "model.weak": ("Weak", "弱规则"),
    "model.weak_yes": ("lift < 1", "提升度<1"),
    "model.rules_weak": (
        "Weak on this history (they flag accounts that churn less than average): {rules}. "
        "Review their thresholds on the Settings page.",
        "在本组合历史上偏弱(被触发的客户离网率低于平均):{rules}。请在评估设置页复核其阈值。"),
    "model.ranker": ("Ranking by", "排序依据"),
    "model.ranker.model": ("Churn model", "离网模型"),
    "model.ranker.logistic": ("Logistic baseline", "逻辑回归基线"),
    "model.ranker.rules": ("Rules only", "仅规则"),
    "model.lift": ("Lift, top 10%", "前10%提升度"),
    "model.validation": (
        "Validated on later data than it learned from (as of {as_of}: {rows} {rows|account|accounts}, "
        "{events} churned within the horizon).",
        "在晚于训练数据的时点验证(截至 {as_of}:{rows} 个客户,其中 {events} 个在预测期内离网)。"),
    "model.validation_cv": (
        "Validated by 5-fold cross-validation on {as_of}: {rows} {rows|account|accounts}, {events} churned "
        "within the horizon; each account scored by a model that never saw it.",
        "在 {as_of} 上做5折交叉验证:{rows} 个客户,其中 {events} 个在预测期内离网;每个客户都由未见过它的模型打分。"),
    "model.gain": ("AUC gain over the rules: {diff} (95% interval {low} to {high}).",
                   "AUC 较规则提升 {diff}(95%区间 {low} 至 {high})。"),
    "model.no_evaluation": ("Too little history for a time-split evaluation.",
                            "历史数据不足,无法按时间切分评估。"),
    "model.stale": ("The data changed since the model was trained: train it again to learn "
                    "from the new history.", "模型训练后数据已更新:请重新训练以学习新的历史。"),
    "model.train": ("Train the churn model", "训练离网模型"),
    "model.training": ("Training on every month end of the history…", "正在用历史各月末快照训练…"),
    "model.trained_now": ("Trained and saved in {seconds} s.", "训练完成并已保存,用时 {seconds} 秒。"),
    "col.churn_probability": ("Churn probability", "离网概率"),
    "col.lifetime_value": ("Lifetime value (¥)", "生命周期价值(元)"),
    "col.main_factor": ("Main factor", "主要因素"),
    "chart.tenure_years": ("Tenure (years)", "在网时长(年)"),
    "chart.survival": ("Still with us", "留存率"),
    "chart.survival_title": ("Survival over tenure (Kaplan-Meier, 95% band)",
                             "在网生存曲线(Kaplan-Meier,95%区间)"),
    "chart.group": ("Group", "分组"),
    "chart.lower": ("Lower 95%", "95%下限"),
    "chart.upper": ("Upper 95%", "95%上限"),
    "chart.at_risk": ("Accounts followed", "观察客户数"),
    "chart.today": ("today", "当前"),
    "chart.all_accounts": ("All accounts", "全部客户"),
    "chart.families": ("{n} of our families", "覆盖{n}个产品族"),
    "chart.tier": ("Tier {tier}", "{tier}层"),
    "chart.date": ("Date", "日期"),
    "chart.warnings_timeline": ("Warning hits by day (colour: work-order status now)",
                                "每日预警触发(颜色:工单当前状态)"),
    "retention.title": ("Retention", "离网维系"),
    "retention.unassigned": ("Unassigned accounts", "未分配客户"),
    "account.unavailable": (
        "Not scored in this account's model (no data, or the same for every account it "
        "scores): {measures}. Their weight goes to the other measures of their dimension.",
        "本客户所用模型未计入以下指标(无数据,或该模型下所有客户取值相同):{measures}。"
        "其权重由同一维度的其他指标分担。"),
    "account.unassigned": ("unassigned", "未分配"),
    "retention.shown_accounts": ("{n} of {total} {total|account|accounts}", "显示 {n} / {total} 个客户"),
    "owners.caption": (
        "{n} live accounts have no owner (none was imported, or the owner is not a user). "
        "Give each one account manager: it then appears in the manager's portfolio, and the "
        "assignment holds across re-imports until an import names a known owner.",
        "{n} 个在网客户没有客户经理(导入时未提供,或提供的工号不是用户)。为每个客户指定一名客户经理后,"
        "它会出现在该客户经理的客户组合中;在导入数据给出有效负责人之前,这一分配在重新导入后仍然保留。"),
    "owners.none": ("Every account in your scope has an owner.", "您范围内的客户都已有客户经理。"),
    "owners.no_managers": (
        "There is no account manager to assign to: import users (and teams) first.",
        "没有可分配的客户经理:请先导入用户(和团队)。"),
    "owners.assign_to": ("Assign to", "分配给"),
    "owners.assign_selected": ("Assign the {n} selected", "分配选中的 {n} 个"),
    "owners.assign_all": ("Assign all {n} shown", "分配显示的全部 {n} 个"),
    "owners.assigned": ("{n} {n|account|accounts} assigned to {who}.", "已将 {n} 个客户分配给 {who}。"),
    "retention.caption": (
        "Warnings as of {as_of} become work orders, ranked by retention priority: value at "
        "risk × chance to save it ÷ hours the case takes.",
        "截至 {as_of} 的预警已转为工单,按维系优先级排序:风险价值 × 挽留成功率 ÷ 所需工时。"),
    "retention.open_orders": ("Open work orders", "未结工单"),
    "retention.escalated": ("Escalated to the lead", "已升级主管"),
    "retention.value_at_risk": ("Value at risk", "风险价值"),
    "retention.value_at_risk_help": (
        "Churn probability x a year of revenue (or lifetime value), over open work orders.",
        "离网概率 × 一年收入(或生命周期价值),按未结工单汇总。",
    ),
    "retention.fits": ("Cases that fit this month's hours", "本月工时可覆盖的工单"),
    "retention.left": ("Beyond capacity", "超出产能"),
    "retention.queue": ("Work-order queue", "工单队列"),
    "retention.capacity": ("Capacity plan", "产能计划"),
    "retention.pipeline": ("Contract expiries", "协议到期"),
    "retention.counter": ("Counter-poaching", "反抢清单"),
    "retention.by_owner": ("Value at risk by team and manager", "按团队与客户经理的风险价值"),
    "retention.assign_to": ("Assign the selected orders to", "将选中工单派发给"),
    "retention.assign": ("Assign", "派发"),
    "retention.assigned": ("{n} work {n|order|orders} assigned to {who}.", "已将 {n} 张工单派发给 {who}。"),
    "retention.select_hint": ("Select rows to assign them in bulk; a change of the list clears "
                              "the selection.", "选中多行可批量派发；列表变化时选择会清空。"),
    "retention.selection_cleared": (
        "The list changed (a filter, or someone else's update), so the rows you had ticked "
        "({n}) were cleared and nothing was assigned. Tick the orders again.",
        "列表已变化（筛选条件或他人的更新），已勾选的 {n} 行已清空，未派发任何工单。请重新勾选。"),
    "retention.read_only": ("Read-only: executives review, leads assign.", "只读:领导查看,主管派发。"),
    "retention.none": ("No open work orders in your scope.", "您的范围内没有未结工单。"),
    "retention.months": ("Ending within {m} {m|month|months}", "{m}个月内到期"),
    "col.rule": ("Warning", "预警"),
    "col.status": ("Status", "状态"),
    "col.assignee": ("Assigned to", "处理人"),
    "col.due_date": ("Due", "到期日"),
    "col.severity": ("Severity", "严重度"),
    "col.hits": ("Hits", "触发次数"),
    "col.escalated": ("Escalated", "已升级"),
    "col.priority": ("Priority", "优先级"),
    "col.value_at_risk": ("Value at risk (¥)", "风险价值(元)"),
    "col.save_chance": ("Chance to save", "挽留可能性"),
    "col.effort_hours": ("Hours", "工时"),
    "col.fits": ("Fits capacity", "工时内"),
    "col.team": ("Team", "团队"),
    "col.capacity_hours": ("Capacity (h)", "产能(小时)"),
    "col.hours_needed": ("Hours needed", "所需工时"),
    "col.cases": ("Cases", "工单数"),
    "col.cases_fit": ("Cases that fit", "可覆盖工单"),
    "col.utilisation": ("Utilisation", "利用率"),
    "col.win_chance": ("Chance to win", "获胜可能性"),
    "col.win_back_value": ("Win-back value (¥/yr)", "反抢价值(元/年)"),
    "col.competitor_spend": ("Competitor spend (¥/month)", "异网月支出(元)"),
    "col.objective": ("Objective", "目标"),
    "col.action": ("Action", "行动"),
    "col.outcome": ("Outcome", "结果"),
    "mywork.title": ("My work", "我的工单"),
    "mywork.caption": ("Your open work orders, soonest due first.", "您的未结工单,按到期日排序。"),
    "mywork.none": ("No open work orders. Well done.", "没有未结工单。"),
    "mywork.pick": ("Work order", "工单"),
    "mywork.history": ("History", "处理记录"),
    "mywork.move": ("Move to", "变更状态为"),
    "mywork.note": ("Note (what the customer said, what you agreed)", "备注(客户反馈与约定事项)"),
    "mywork.save": ("Save", "保存"),
    "mywork.saved": ("Saved.", "已保存。"),
    "retention.assign_conflict": (
        "Nothing was assigned: {error}. The list has been reloaded; choose again.",
        "未派发：{error}。列表已刷新，请重新选择。"),
    "mywork.conflict": ("Someone changed this order meanwhile; reload and try again: {error}",
                        "该工单已被他人修改,请刷新后重试:{error}"),
    "mywork.overdue": ("{n} overdue", "{n} 张已逾期"),
    "account.first_hit": ("First hit", "首次触发"),
    "account.last_hit": ("Last hit", "最近触发"),
    "account.no_churn_model": (
        "No churn model trained yet: an administrator trains it on the Models & jobs page "
        "(or `valuation churn train`). Lifetime value uses the survival curves meanwhile.",
        "尚未训练离网模型:管理员可在模型与任务页训练(或运行 valuation churn train)。"
        "生命周期价值仍按生存曲线估算。"),
    "account.churn_risk": ("Churn risk", "离网风险"),
    "account.churn_not_live": ("The account has churned: there is no risk left to estimate.",
                               "该客户已离网,无需再估计风险。"),
    "account.churn_probability": ("Churn probability ({months} {months|month|months})", "离网概率({months}个月)"),
    "account.risk_source.model": (
        "From the churn model trained on this portfolio's history (calibrated).",
        "来自基于本组合历史训练的离网模型(已校准)。"),
    "account.risk_source.rules": (
        "Too few churn events to learn a model: the churn rate of accounts tripping as many "
        "rules.", "离网事件过少,未训练模型:取触发同样多规则的客户的历史离网率。"),
    "account.risk_source.none": ("No churn model yet: risk comes from the warning rules.",
                                 "尚无离网模型:风险由预警规则估计。"),
    "account.lifetime_value": ("Lifetime value", "生命周期价值"),
    "account.lifetime_value_help": (
        "Monthly revenue x margin x discounted expected remaining months (about {months} "
        "months for accounts with this bundle depth and tenure).",
        "月收入 × 毛利率 × 折现后的预期剩余在网月数(同等产品族覆盖与在网时长的客户约 {months} 个月)。"),
    "account.no_survival": (
        "Too few accounts hold {n} of our families to draw their survival curve.",
        "覆盖{n}个产品族的客户过少,无法绘制其生存曲线。"),
    "account.revenue_at_risk": ("Revenue at risk, 1 year", "一年收入风险"),
    "account.revenue_at_risk_help": ("Churn probability x a year of revenue.",
                                     "离网概率 × 一年收入。"),
    "account.ltv_at_risk": ("Lifetime value at risk", "生命周期价值风险"),
    "account.ltv_at_risk_help": ("Churn probability x lifetime value.", "离网概率 × 生命周期价值。"),
    "event.hit": ("Warning", "预警触发"),
    "event.escalate": ("Escalated", "升级"),
    "event.assign": ("Assigned", "派单"),
    "event.status": ("Status", "状态变更"),
    "event.note": ("Note", "备注"),
    "history.hit": ("Rule tripped (hit {hits}, severity {severity})",
                    "规则触发(第 {hits} 次,严重度 {severity})"),
    "history.escalate": ("Escalated to {who}: {reason}", "升级至 {who}:{reason}"),
    "history.reason.contested": ("contested by a competitor", "异网争夺"),
    "history.reason.visibly_churning": ("visibly churning", "明显离网迹象"),
    "history.assign": ("Assigned to {who}", "派给 {who}"),
    "history.status": ("Status {old} → {new}", "状态 {old} → {new}"),
    "account.model_only_risk": (
        "In the model's top 10% of churn risk, yet no warning rule has opened a work order: "
        "call before a rule fires.",
        "离网风险居模型前10%,但尚无预警规则生成工单:请在规则触发前主动联系。"),
    "plan.counter_poaching": (
        "Counter-poaching plan ({reasons}): the team lead visits, learns the competitor's offer "
        "and writes the response and retention offer",
        "反抢计划({reasons}):主管带队拜访,了解异网报价,制定应对与挽留方案"),
    "account.still_here": (
        "Accounts of this bundle depth and tenure still with us in 1 year: {y1} · 3 years: {y3} "
        "· 5 years: {y5}. A baseline for lifetime value; the probability above reads this "
        "account's own signs.",
        "同等产品族覆盖与在网时长的客户1年后仍在网 {y1} · 3年后 {y3} · 5年后 {y5}。"
        "此为生命周期价值的基准;上方概率反映该客户自身的迹象。"),
    "account.low_risk": ("Below the portfolio's churn rate of {base}: no factor stands out.",
                         "低于组合 {base} 的离网率:无突出风险因素。"),
    "bundle.our_spend": ("Our monthly revenue", "我方月收入"),
    "bundle.remaining_months": ("Expected remaining months", "预期剩余在网月数"),
    "account.churn_factors_title": ("**Main factors raising the risk**", "**推高风险的主要因素**"),
    "account.churn_factors_help": (
        "Each factor's push on the log-odds of churn against an average account.",
        "各因素相对普通客户对离网对数几率的推高幅度。"),
    "account.no_factors": ("No factor raises this account's risk above the average.",
                           "没有因素使该客户风险高于平均水平。"),
    "account.plan_action_help": ("What you will do; left empty, a followed suggestion names it.",
                                 "计划采取的行动;留空时以所选推荐产品命名。"),
    "account.plan_work_order": ("Work order it answers", "关联工单"),
    "account.plan_product": ("Suggestion it follows", "采纳的推荐产品"),
    "account.plan_offer": ("Offer {product}", "推荐办理{product}"),
    "col.data_version": ("Data version", "数据版本"),
    "col.at": ("When", "时间"),
    "col.source": ("Source", "来源"),
    "col.row_counts": ("Rows per table", "各表行数"),
    "col.work_order": ("Work order", "关联工单"),
    "account.update_plan": ("Or update an existing objective", "或更新已有目标"),
    "account.retention": ("Retention", "离网维系"),
    "account.orders": ("Warnings and work orders", "预警与工单"),
    "account.no_orders": ("No warnings on this account.", "该客户暂无预警。"),
    "account.plans": ("Account plan", "客户计划"),
    "account.add_plan": ("Add an objective", "新增目标"),
    "account.plan_saved": ("Plan saved.", "计划已保存。"),
    "account.read_only": ("Executives have read-only access.", "领导为只读权限。"),
    "nav.bundling": ("Bundling", "业务捆绑"),
    "bundle.title": ("Bundling depth", "业务捆绑深度"),
    "bundle.avg_families": ("Families covered (average)", "平均覆盖产品族"),
    "bundle.all_four": ("Accounts using all four families", "四类业务全覆盖客户占比"),
    "bundle.avg_switching": ("Switching cost (average)", "平均转网成本指数"),
    "bundle.switching_help": (
        "Services to replace + lock-in contracts + integration depth (industry applications "
        "and service support weigh more) + closed user group.",
        "需替换的业务 + 锁定协议 + 集成深度(行业应用与服务支持权重更高)+ 集团V网。",
    ),
    "bundle.cross_sell_value": ("Cross-sell: expected monthly revenue", "交叉销售预期月收入"),
    "bundle.cross_sell_help": (
        "Sum over accounts of the best suggestion's typical revenue x its evidence.",
        "各客户首选推荐的典型收入 × 证据强度之和。",
    ),
    "bundle.min_lift": ("Show co-holding edges with lift at least", "显示提升度不低于此值的共持关系"),
    "bundle.segment": ("Segment", "细分维度"),
    "bundle.cross_sell": ("Cross-sell opportunities (best suggestion per account)",
                          "交叉销售机会(每个客户的首选推荐)"),
    "bundle.reason": ("Why", "推荐理由"),
    "bundle.evidence": ("Evidence", "证据强度"),
    "bundle.loyalty_gain": ("Loyalty gain (points)", "忠诚度提升(分)"),
    "bundle.expected_revenue": ("Expected revenue (¥/month)", "预期月收入(元)"),
    "bundle.whitespace": ("Whitespace: largest open opportunities", "空白市场:最大开放机会"),
    "bundle.whitespace_help": (
        "Per segment and product of ours: accounts holding ours, a competitor's, or nothing "
        "(open), and the value of the open and competitor-held cells.",
        "按细分和我方产品:持有我方、持有异网或尚未持有(空白)的客户数,以及空白与异网单元的机会价值。",
    ),
    "bundle.open_accounts": ("Open", "空白"),
    "bundle.competitor_accounts": ("Competitor", "异网持有"),
    "bundle.ours_accounts": ("Ours", "我方持有"),
    "bundle.opportunity": ("Opportunity (¥/month)", "机会价值(元/月)"),
    "bundle.coverage": ("Share holding ours", "我方覆盖率"),
    "bundle.lift": ("Lift", "提升度"),
    "bundle.support": ("Support", "支持度"),
    "bundle.confidence": ("Confidence", "置信度"),
    "bundle.penetration": ("Penetration", "渗透率"),
    "bundle.node_held": ("Held", "已持有"),
    "bundle.node_recommended": ("Suggested", "推荐"),
    "bundle.node_other": ("Related", "相关"),
    "bundle.account_title": ("Bundle", "业务捆绑"),
    "bundle.lift": ("lift {x}", "提升度 {x}"),
    "bundle.switching_why": ("Why the switching cost is what it is", "转网成本构成"),
    "bundle.computed": ("How", "计算"),
    "bundle.next_best": ("Next-best products", "推荐产品"),
    "bundle.no_recs": ("No suggestion passes the guardrails for this account.",
                       "该客户没有通过约束条件的推荐。"),
    "bundle.suggestions_only": (
        "Suggestions only: never activate a service without the customer's consent.",
        "仅为建议:未经客户同意不得开通任何业务。",
    ),
    "bundle.what_if": ("What if", "模拟变化"),
    "bundle.add": ("Add products", "增加产品"),
    "bundle.remove": ("Remove products", "移除产品"),
    "bundle.today": ("Today", "当前"),
    "bundle.after": ("After", "变化后"),
    "chart.product_graph": ("Product graph: co-holding (grey, width = lift) and substitution "
                            "(dashed)", "产品关系图:共同持有(灰线,粗细为提升度)与替代(虚线)"),
    "chart.ego_graph": ("The account's bundle in the product graph", "客户业务在产品关系图中的位置"),
    "chart.coverage": ("Family coverage by segment", "各细分的产品族覆盖率"),
    "action.download_csv": ("Download CSV", "下载 CSV"),
    "import.title": ("Import data", "数据导入"),
    "bundle.ranking": ("How suggestions are ranked", "推荐如何排序"),
    "blend.in_use": ("Ranked by **{name}**", "排序方式:**{name}**"),
    "blend.stored": ("kept in the settings by an admin", "由管理员保存在设置中"),
    "blend.auto": ("chosen on this portfolio's own holdings", "根据本组合的持有数据自动选择"),
    "blend.no_choice": ("Too few accounts hold two products of ours to compare rankings: the "
                        "default ranking is used.", "持有两个以上我方产品的客户太少,无法比较排序方式:使用默认排序。"),
    "blend.caption": (
        "One product each account holds was hidden and the rankings asked to find it: chosen "
        "({chosen}) on {selection} {selection|account|accounts}, hit rates shown on {test} other accounts the "
        "choice never saw. Popularity is always a candidate, so the choice never loses to it "
        "where it was made.",
        "对每个客户隐藏一个已持有产品,看各排序方式能否找回:在 {selection} 个客户上选出({chosen}),"
        "下表命中率来自选择时未使用的另外 {test} 个客户。热门度始终是候选,因此选中的方式在选择集上不会输给它。"),
    "blend.col.ranking": ("Ranking", "排序方式"),
    "blend.col.selection": ("Hit@{k}, choice half", "前{k}命中率(选择集)"),
    "blend.col.test": ("Hit@{k}, other half", "前{k}命中率(测试集)"),
    "blend.keep": ("Keep “{name}” in the settings", "将“{name}”保存到设置"),
    "blend.comment": ("cross-sell ranking chosen by evidence: {name}", "按验证结果选择的交叉销售排序:{name}"),
    "blend.name.popularity": ("Popularity only", "仅热门度"),
    "blend.name.segment_popularity": ("Popularity in the segment", "同细分热门度"),
    "blend.name.evidence": ("Co-holding evidence", "共持证据"),
    "blend.name.model": ("Co-holding model", "共持模型"),
    "blend.name.model_l0.25": ("Co-holding model + loyalty gain", "共持模型 + 忠诚度提升"),
    "blend.name.model_z1": ("Co-holding model + size rule", "共持模型 + 规模规则"),
    "blend.name.model_e1c0.25": ("Co-holding model + co-holding evidence", "共持模型 + 共持证据"),
    "blend.name.hand_tuned": ("Former fixed blend", "原固定组合"),
    "blend.name.default": ("Default blend", "默认组合"),
    "blend.name.custom": ("Custom blend", "自定义组合"),
    "blend.name.grid": ("Blend {name}", "组合 {name}"),
    "import.admin_only": ("Only admins may import data.", "仅支撑经理可导入数据。"),
    "import.caption": (
        "CSV (UTF-8 or GBK), Excel or Parquet; English or Chinese headers. "
        "One file per table, named after it (accounts.csv or 客户.csv). "
        "Nothing is written unless every file is valid.",
        "支持 CSV(UTF-8 或 GBK)、Excel、Parquet;中英文表头均可。"
        "每张表一个文件,以表名命名(accounts.csv 或 客户.csv)。所有文件全部通过校验才会写入。",
    ),
    "import.files": ("Files", "数据文件"),
    "import.transform": ("Transform (optional, .sql)", "转换脚本(可选,.sql)"),
    "import.transform_help": (
        "A SQL file of CREATE VIEW <table> AS SELECT ... statements that reshape an export "
        "into the tables (see docs/examples). It reads only the files uploaded with it, by "
        "name: FROM \"export.csv\".",
        "由 CREATE VIEW <表名> AS SELECT ... 语句组成的 SQL 文件,把导出文件整理成各张表"
        "(示例见 docs/examples)。它只能按文件名读取随同上传的文件:FROM \"export.csv\"。"),
    "import.merge": ("Merge into the stored tables (partial files)", "合并到已有数据(部分文件)"),
    "import.merge_help": (
        "Rows update the stored rows of the same key and add the others; nothing stored is "
        "removed. Off: each imported table replaces the stored one.",
        "导入行按主键更新已有行并新增其余行,不删除任何已有数据。关闭时,每张导入的表整体替换已有的表。"),
    "import.allow_shrink": (
        "I have checked: replace the tables anyway (then validate and import again)",
        "已核实:仍然替换这些表(然后再次校验并导入)"),
    "import.notes": ("Notes ({n:,}): nothing blocking", "提示({n:,} 条):不影响导入"),
    "import.mapping": ("Mapping file (optional)", "字段映射文件(可选)"),
    "import.bad_mapping": ("The mapping file is not valid TOML: {error}", "映射文件不是有效的 TOML:{error}"),
    "import.validate": ("Validate only", "仅校验"),
    "import.commit": ("Validate and import", "校验并导入"),
    "import.working": ("Reading and validating…", "正在读取和校验…"),
    "import.done": ("Imported. Data version {version}.", "导入完成。数据版本 {version}。"),
    "import.valid": ("All files are valid. Nothing was written yet.", "全部文件校验通过,尚未写入。"),
    "import.refused": (
        "Refused: {n:,} {n|problem|problems}. Nothing was changed.",
        "已拒绝:发现 {n:,} 个问题,数据库未作任何改动。",
    ),
    "import.table": ("Table", "表"),
    "import.file": ("File", "文件"),
    "import.row": ("Row", "行"),
    "import.column": ("Column", "列"),
    "import.value": ("Value", "值"),
    "import.message": ("Why", "原因"),
    "import.rows": ("Rows", "行数"),
    "import.rule": ("Rule", "规则"),
    "import.count": ("Problems", "问题数"),
    "import.download_report": ("Download the report", "下载校验报告"),
    "import.history": ("Import history", "导入历史"),
    "import.version": ("Current data version: {version}", "当前数据版本:{version}"),
    # The admin's pages: users and teams, audit log, data quality, models and jobs
    # (pages/admin_users.py, pages/audit.py, pages/data_quality.py, pages/models_jobs.py)
    "admin.nav.users": ("Users & teams", "用户与团队"),
    "admin.nav.audit": ("Audit log", "审计日志"),
    "admin.nav.quality": ("Data quality", "数据质量"),
    "admin.nav.models": ("Models & jobs", "模型与任务"),
    "admin.users.title": ("Users and teams", "用户与团队"),
    "admin.users.caption": (
        "Create users, change a role or team, deactivate, reset a password, and move accounts "
        "between account managers. Every change is versioned and in the audit log; what is "
        "set here holds over later imports of users and teams.",
        "创建用户、调整角色或团队、停用、重置口令，以及在客户经理之间移交客户。每次修改都有版本并记入审计日志；"
        "此处的设置在以后导入用户和团队时保持有效。"),
    "admin.tab.users": ("Users", "用户"),
    "admin.tab.teams": ("Teams", "团队"),
    "admin.tab.move": ("Move accounts", "移交客户"),
    "admin.users_n": ("Users", "用户数"),
    "admin.deactivated_n": ("Deactivated", "已停用"),
    "admin.no_password_n": ("Without a password", "未设口令"),
    "admin.no_password_help": (
        "Active users who cannot sign in yet: reset their password to give them one.",
        "尚无法登录的在用用户：重置口令即可为其设置。"),
    "admin.locked_n": ("Locked now", "当前锁定"),
    "admin.create_user": ("Create a user", "新建用户"),
    "admin.create_team": ("Create a team", "新建团队"),
    "admin.user_id": ("User ID", "工号"),
    "admin.user_id_help": (
        "The sign-in name: letters, digits, dot, dash or underscore, starting with a letter "
        "or digit.", "登录名：字母、数字、点、横线或下划线，以字母或数字开头。"),
    "admin.name": ("Name", "姓名"),
    "admin.name_en": ("English name", "英文名称"),
    "admin.role": ("Role", "角色"),
    "admin.team": ("Team", "团队"),
    "admin.team_help": ("Required for account managers and sales leads.",
                        "客户经理和销售主管必须填写。"),
    "admin.email": ("E-mail", "邮箱"),
    "admin.password": ("Password", "口令"),
    "admin.password_help": (
        "At least 8 characters. Leave it empty to generate a temporary one, shown once.",
        "至少 8 个字符。留空则生成临时口令，仅显示一次。"),
    "admin.create": ("Create", "创建"),
    "admin.save": ("Save", "保存"),
    "admin.created": ("User created.", "用户已创建。"),
    "admin.team_created": ("Team created.", "团队已创建。"),
    "admin.saved": ("Saved.", "已保存。"),
    "admin.no_change": ("Nothing to save: the values are unchanged.", "没有修改，无需保存。"),
    "admin.search": ("Search", "搜索"),
    "admin.search_hint": ("user ID or name", "工号或姓名"),
    "admin.status": ("Status", "状态"),
    "admin.status.active": ("active", "在用"),
    "admin.status.deactivated": ("deactivated", "已停用"),
    "admin.status.locked": ("locked", "已锁定"),
    "admin.status.no_password": ("no password", "未设口令"),
    "admin.accounts": ("Live accounts", "在网客户"),
    "admin.last_sign_in": ("Last sign-in", "最近登录"),
    "admin.changed": ("Changed here", "已在此修改"),
    "admin.users_shown": ("{n} of {total} {total|user|users}", "显示 {n} / {total} 个用户"),
    "admin.pick_user": ("User to change (or tick a row above)", "要修改的用户（或在上表中勾选一行）"),
    "admin.edit_user": ("Name, role and team", "姓名、角色与团队"),
    "admin.sign_in": ("Sign-in", "登录"),
    "admin.field": ("Field", "字段"),
    "admin.value": ("Value", "值"),
    "admin.has_password": ("Password set", "已设口令"),
    "admin.locked_until": ("Locked until", "锁定至"),
    "admin.reset": ("Reset the password", "重置口令"),
    "admin.reset_title": ("Reset the password", "重置口令"),
    "admin.reset_confirm": (
        "A new password for this user; their open sessions end and a lockout is lifted.",
        "为该用户设置新口令；其已登录的会话将结束，锁定解除。"),
    "admin.reset_done": ("Password reset.", "口令已重置。"),
    "admin.password_once": (
        "The temporary password, shown only this once: hand it over in person and ask them "
        "to keep it secret.", "临时口令，仅显示这一次：请当面交给本人，并提醒其妥善保管。"),
    "admin.password_noted": ("Done: I have handed it over", "已交给本人"),
    "admin.deactivate": ("Deactivate", "停用"),
    "admin.activate": ("Activate again", "重新启用"),
    "admin.deactivate_title": ("Deactivate this user?", "停用该用户？"),
    "admin.deactivate_confirm": (
        "They can no longer sign in and their open sessions end. Their {n} live "
        "{n|account stays|accounts stay} theirs: move them on the Move accounts tab.",
        "其将无法登录，已登录的会话立即结束。其名下 {n} 个在网客户保持不变：可在“移交客户”页签移交。"),
    "admin.deactivated": ("User deactivated.", "用户已停用。"),
    "admin.activated": ("User active again.", "用户已重新启用。"),
    "admin.inactive_owns": (
        "Deactivated, and still the owner of {n} live {n|account|accounts}: move them on the "
        "Move accounts tab.", "已停用，但名下仍有 {n} 个在网客户：请在“移交客户”页签移交。"),
    "admin.signin_deactivated": (
        "Your user has been deactivated by an administrator: you were signed out.",
        "您的账号已被管理员停用，已退出登录。"),
    "admin.team_id": ("Team ID", "团队编号"),
    "admin.team_name": ("Team", "团队名称"),
    "admin.lead": ("Sales lead", "销售主管"),
    "admin.city": ("City", "所属地市"),
    "admin.members": ("Members", "成员"),
    "admin.pick_team": ("Team to change", "要修改的团队"),
    "admin.move_caption": (
        "Pick the owner, narrow the list, tick accounts (or take every account shown) and "
        "move them to another active account manager. The move holds across re-imports that "
        "still name the previous owner.",
        "选择原客户经理，筛选列表，勾选客户（或全部显示的客户），移交给另一位在用的客户经理。"
        "以后导入的数据若仍写原客户经理，移交保持有效。"),
    "admin.move_from": ("From (owner · live accounts)", "原客户经理（在网客户数）"),
    "admin.move_to": ("To (account manager · live accounts)", "移交给（在网客户数）"),
    "admin.move_none": ("No user owns a live account.", "没有用户名下有在网客户。"),
    "admin.move_selected": ("Move ticked ({n})", "移交勾选的客户（{n}）"),
    "admin.move_all": ("Move all {n} shown", "移交显示的全部 {n} 个"),
    "admin.move_title": ("Move these accounts?", "移交这些客户？"),
    "admin.move_confirm": ("{n} {n|account goes|accounts go} to:", "{n} 个客户将移交给："),
    "admin.move": ("Move", "移交"),
    "admin.moved": ("{n} {n|account|accounts} moved.", "已移交 {n} 个客户。"),
    "admin.conflict": (
        "Someone else saved a change meanwhile, so nothing was saved: {error}. The page now "
        "shows the current values; make your change again if it still applies.",
        "期间已有他人保存修改，因此本次未保存：{error}。页面已显示最新内容，如仍需要请重新修改。"),
    "admin.err.bad_id": ("{id!r} cannot be an ID: use letters, digits, dot, dash or underscore",
                         "{id!r} 不能作为编号：请使用字母、数字、点、横线或下划线"),
    "admin.err.exists": ("There is already a user {id}.", "已有工号为 {id} 的用户。"),
    "admin.err.team_exists": ("There is already a team {id}.", "已有编号为 {id} 的团队。"),
    "admin.err.no_user": ("There is no user {id}.", "没有工号为 {id} 的用户。"),
    "admin.err.no_team": ("There is no team {team}.", "没有编号为 {team} 的团队。"),
    "admin.err.no_name": ("A name is required.", "必须填写名称。"),
    "admin.err.bad_role": ("{role!r} is not a role.", "{role!r} 不是有效角色。"),
    "admin.err.needs_team": ("Account managers and sales leads need a team.",
                             "客户经理和销售主管必须属于一个团队。"),
    "admin.err.bad_email": ("{email!r} is not an e-mail address.", "{email!r} 不是有效的邮箱地址。"),
    "admin.err.short_password": ("A password needs at least 8 characters.",
                                 "口令至少需要 8 个字符。"),
    "admin.err.self": ("You cannot deactivate yourself.", "不能停用自己的账号。"),
    "admin.err.last_admin": (
        "This is the last active admin: another admin must exist before this one stops "
        "being one.", "这是最后一位在用的支撑经理：须先有另一位支撑经理。"),
    "admin.err.inactive": ("{id} is deactivated: activate them first.",
                           "{id} 已停用：请先重新启用。"),
    "admin.err.not_lead": ("{id} is not a sales lead.", "{id} 不是销售主管。"),
    "admin.err.not_manager": ("{id} is not an active account manager.",
                              "{id} 不是在用的客户经理。"),
    "admin.err.same_owner": ("The accounts already belong to that account manager.",
                             "这些客户已属于该客户经理。"),
    "admin.err.no_accounts": ("No account was chosen.", "未选择客户。"),
    "admin.audit.title": ("Audit log", "审计日志"),
    "admin.audit.caption": (
        "Every change anyone made, newest first: who, when, what, in which table, and the row "
        "before and after. Passwords and secrets are never written (shown as ***).",
        "所有修改记录，最新在前：谁、何时、做了什么、在哪张表，以及修改前后的记录。口令和密钥从不写入（显示为 ***）。"),
    "admin.audit.who": ("Who", "操作人"),
    "admin.audit.action": ("Action", "操作"),
    "admin.audit.table": ("Table", "表"),
    "admin.audit.key": ("Account or key", "客户或记录编号"),
    "admin.audit.key_help": (
        "An account ID finds the rows about that account (also work orders and plans naming "
        "it); other text finds the rows whose key contains it (a user ID, a work order).",
        "输入客户编号可查到与该客户有关的记录（包括提到它的工单和计划）；其他文字查找记录编号中包含它的记录（工号、工单号）。"),
    "admin.audit.span": ("From … to", "时间范围"),
    "admin.audit.span_help": ("Days in UTC, both included.", "按 UTC 日期，含首尾两天。"),
    "admin.audit.matching": ("Entries", "记录数"),
    "admin.audit.none": ("No entry matches these filters.", "没有符合条件的记录。"),
    "admin.audit.at": ("When", "时间"),
    "admin.audit.row": ("Row", "记录"),
    "admin.audit.change": ("What changed", "修改内容"),
    "admin.audit.shown": ("{n} {n|entry|entries}; tick one to read it whole.",
                          "共 {n} 条；勾选一条查看完整内容。"),
    "admin.audit.detail": ("The entry, before and after", "记录详情：修改前后"),
    "admin.audit.pick": ("Tick an entry in the table to see every field before and after.",
                         "在上表中勾选一条记录，查看每个字段修改前后的值。"),
    "admin.audit.before": ("Before", "修改前"),
    "admin.audit.after": ("After", "修改后"),
    "admin.audit.changed": ("Changed", "有变化"),
    "admin.quality.title": ("Data quality", "数据质量"),
    "admin.quality.caption": (
        "Each fact table: its last import and how its rows changed, how far its newest date "
        "lies before the as-of date (behind after {days} days), references that find nothing, "
        "and missing values per column.",
        "每张数据表：最近一次导入及行数变化、最新日期距数据截止日多少天（超过 {days} 天为滞后）、"
        "找不到对应记录的引用，以及各列的缺失值。"),
    "admin.quality.working": ("Counting every table…", "正在统计各表…"),
    "admin.quality.as_of": ("As-of date", "数据截止日"),
    "admin.quality.as_of_help": (
        "The data's own date: the last day of daily usage, else the end of the last billed "
        "month.", "数据自身的日期：号码日使用的最后一天，否则为最近出账月的月末。"),
    "admin.quality.last_import": ("Last import", "最近导入"),
    "admin.quality.behind_n": ("Tables behind", "滞后的表"),
    "admin.quality.behind_help": (
        "Tables whose newest date lies more than {days} days before the as-of date "
        "(quality.max_age_days).", "最新日期早于数据截止日超过 {days} 天的表（quality.max_age_days）。"),
    "admin.quality.broken_n": ("Broken references", "失效引用"),
    "admin.quality.broken_help": (
        "Rows pointing at a row that is no longer there (an import replaced the table it "
        "refers to without it). The unassigned pool is not counted.",
        "指向已不存在记录的行（某次导入替换了被引用的表而缺少这些记录）。未分配客户不计在内。"),
    "admin.quality.gaps_n": ("Columns with gaps", "有缺失的列"),
    "admin.quality.gaps_help": (
        "Optional columns with at least one missing value: a measure fed by a column that is "
        "often empty weighs less.", "至少有一个缺失值的可选列：经常为空的列所支撑的指标权重会降低。"),
    "admin.quality.imports": ("Imports", "导入"),
    "admin.quality.rows_now": ("Rows now", "当前行数"),
    "admin.quality.imported_at": ("Last imported", "最近导入时间"),
    "admin.quality.imported_by": ("By", "导入人"),
    "admin.quality.rows_then": ("Rows imported", "导入行数"),
    "admin.quality.rows_before": ("Import before", "上次导入行数"),
    "admin.quality.change": ("Change", "变化"),
    "admin.quality.source": ("From", "来源"),
    "admin.quality.empty_tables": ("Empty: {tables}", "空表：{tables}"),
    "admin.quality.age": ("Data age", "数据时效"),
    "admin.quality.date_column": ("Date column", "日期列"),
    "admin.quality.newest": ("Newest", "最新日期"),
    "admin.quality.days": ("Days before the as-of date", "距截止日天数"),
    "admin.quality.behind": ("behind", "滞后"),
    "admin.quality.current": ("current", "及时"),
    "admin.quality.refs": ("References that find nothing", "失效引用"),
    "admin.quality.refs_ok": ("Every reference finds its row.", "所有引用都能找到对应记录。"),
    "admin.quality.columns": ("Column", "列"),
    "admin.quality.refers_to": ("Refers to", "引用"),
    "admin.quality.failed_rows": ("Rows", "行数"),
    "admin.quality.example": ("For example", "示例"),
    "admin.quality.meaning": ("Meaning", "含义"),
    "admin.quality.hard": ("broken: the row it names is gone", "失效：所指记录已不存在"),
    "admin.quality.soft": ("unassigned pool: the owner is not a user", "未分配：负责人不是系统用户"),
    "admin.quality.pool_hint": (
        "Accounts of the unassigned pool are assigned on the Retention page, or moved on the "
        "Users and teams page.", "未分配客户可在离网维系页分配，或在用户与团队页移交。"),
    "admin.quality.missing": ("Missing values", "缺失值"),
    "admin.quality.only_gaps": ("Only columns with missing values", "只显示有缺失的列"),
    "admin.quality.no_gaps": ("No column has a missing value.", "没有列存在缺失值。"),
    "admin.quality.column": ("Column", "列"),
    "admin.quality.required": ("Required", "必填"),
    "admin.quality.missing_n": ("Missing", "缺失数"),
    "admin.quality.rows": ("Rows", "行数"),
    "admin.quality.share": ("Share missing", "缺失比例"),
    "admin.models.title": ("Models and jobs", "模型与任务"),
    "admin.models.caption": (
        "The scheduled jobs with their last run and result, the churn model and its "
        "retraining, and the calibration of the scores. Jobs run here as they do from "
        "`valuation jobs`, beside the running app.",
        "定时任务的最近运行与结果、离网模型及其重新训练、评分校准。这里运行任务与 `valuation jobs` 相同，不影响系统使用。"),
    "admin.models.jobs": ("Jobs", "定时任务"),
    "admin.models.job": ("Job", "任务"),
    "admin.models.what": ("What it does", "作用"),
    "admin.models.last_run": ("Last run", "最近运行"),
    "admin.models.by": ("By", "执行人"),
    "admin.models.result": ("Result", "结果"),
    "admin.models.for": ("For", "数据与设置版本"),
    "admin.models.due": ("Due", "是否待运行"),
    "admin.models.due_yes": ("due: not run for this data", "待运行：尚未针对当前数据运行"),
    "admin.models.due_no": ("done for this data", "当前数据已运行"),
    "admin.models.versions": ("data {data} · settings {settings}", "数据 {data} · 设置 {settings}"),
    "admin.models.jobs_hint": (
        "A job is due when it has not run for the current data and settings versions; the "
        "buttons run one now all the same (the churn model's retraining: under the model "
        "below).",
        "某任务尚未针对当前的数据和设置版本运行时即为待运行；下方按钮可随时立即运行（离网模型训练见下方模型部分）。"),
    "admin.models.run": ("Run {job}", "运行：{job}"),
    "admin.models.running": ("{job}: running…", "{job}：运行中…"),
    "admin.models.done": ("{job}: done", "{job}：已完成"),
    "admin.models.done_result": ("{job} done: {result}", "{job} 已完成：{result}"),
    "admin.models.failed": ("{job} failed; nothing it would have written was kept.",
                            "{job} 运行失败；未保留任何部分结果。"),
    "admin.models.no_data": ("No data yet: import (or create the demo) first.",
                             "尚无数据：请先导入数据（或创建演示数据）。"),
    "admin.models.train_help": (
        "Learns from every month end of the history (minutes on a large portfolio); the "
        "pages read the new model at once.", "用历史各月末数据训练（数据量大时需几分钟）；各页面随即使用新模型。"),
    "admin.models.calibration": ("Calibration of the scores", "评分校准"),
    "admin.models.calibration_caption": (
        "The loyalty and competitor weights fitted to the portfolio's own churn are reviewed "
        "and saved on the Settings page, where their effect on tiers is previewed.",
        "按本组合离网情况拟合的忠诚度和竞争关系权重，在评估设置页预览其对层级的影响后保存。"),
    "admin.models.in_force": ("In force", "当前生效"),
    "admin.models.last_calibration": ("Last calibration saved", "最近一次保存的校准"),
    "admin.models.never": ("never", "从未"),
    "admin.models.settings_version": ("Settings version", "设置版本"),
    "admin.models.comment": ("Comment", "说明"),
    "admin.models.at": ("When", "时间"),
    "admin.models.calibrate_link": ("Calibrate on the Settings page (Calibrate tab)",
                                    "到评估设置页校准（“校准”页签）"),
    "admin.job.analysis": ("Analysis", "分析构建"),
    "admin.job.dispatch": ("Warning dispatch", "预警派单"),
    "admin.job.snapshot": ("Score snapshot", "评分快照"),
    "admin.job.retrain": ("Churn model retraining", "离网模型训练"),
    "admin.job_help.analysis": ("Builds the analysed portfolio the pages read.",
                                "构建各页面读取的组合分析。"),
    "admin.job_help.dispatch": ("Turns this week's early warnings into work orders.",
                                "将本周预警转为工单。"),
    "admin.job_help.snapshot": ("Stores today's scores and tiers for history and migration.",
                                "保存当前评分和层级，用于历史和迁移分析。"),
    "admin.job_help.retrain": ("Trains the churn model on the history and re-scores the risk.",
                               "用历史数据训练离网模型并重新计算风险。"),
    "admin.stage.analysis": ("Building the analysis…", "正在构建分析…"),
    "admin.stage.warnings": ("Running the warning rules and dispatching…", "正在运行预警规则并派单…"),
    "admin.stage.snapshot": ("Scoring the accounts as of the data's date…", "正在按数据日期评分…"),
    "admin.stage.plan": ("Choosing how to train on this history…", "正在确定训练方式…"),
    "admin.stage.rows": ("Rebuilding every month end of the history…", "正在重建历史各月末数据…"),
    "admin.stage.evaluate": ("Testing on a later period than it learns from…", "正在用较晚的时期检验…"),
    "admin.stage.fit": ("Fitting the model…", "正在拟合模型…"),
    "admin.stage.save": ("Saving the model and its card…", "正在保存模型及其说明卡…"),
    "admin.stage.risk": ("Re-scoring the churn risk the pages read…", "正在重新计算各页面使用的离网风险…"),
    "admin.import.models_link": ("Churn model and jobs", "离网模型与定时任务"),
    "admin.import.quality_link": ("Check the data quality", "检查数据质量"),
    "admin.action.sign_in": ("signed in", "登录"),
    "admin.action.sign_in_failed": ("sign-in failed", "登录失败"),
    "admin.action.sign_in_locked": ("sign-in refused: locked", "锁定中拒绝登录"),
    "admin.action.sign_in_throttled": ("sign-in refused: too soon", "尝试过快被拒绝"),
    "admin.action.lockout": ("locked out", "锁定"),
    "admin.action.sign_out": ("signed out", "退出登录"),
    "admin.action.sign_out_idle": ("signed out: idle", "空闲退出"),
    "admin.action.sign_out_revoked": ("signed out: session ended elsewhere", "会话被撤销退出"),
    "admin.action.sign_out_removed": ("signed out: user removed", "用户已删除退出"),
    "admin.action.sign_out_deactivated": ("signed out: deactivated", "停用后退出"),
    "admin.action.session_restored": ("session restored", "恢复会话"),
    "admin.action.session_refused": ("session cookie refused", "拒绝会话凭证"),
    "admin.action.revoke_sessions": ("sessions ended", "结束会话"),
    "admin.action.set_password": ("password set", "设置口令"),
    "admin.action.rehash_password": ("password hash upgraded", "口令摘要升级"),
    "admin.action.remove_demo_password": ("demo password removed", "删除演示口令"),
    "admin.action.unlock": ("lockout lifted", "解除锁定"),
    "admin.action.create_secret": ("server key created", "创建服务器密钥"),
    "admin.action.create_user": ("user created", "创建用户"),
    "admin.action.change_user": ("user changed", "修改用户"),
    "admin.action.deactivate_user": ("user deactivated", "停用用户"),
    "admin.action.activate_user": ("user activated", "启用用户"),
    "admin.action.create_team": ("team created", "创建团队"),
    "admin.action.change_team": ("team changed", "修改团队"),
    "admin.action.assign_owner": ("owner assigned", "分配客户经理"),
    "admin.action.save_settings": ("settings saved", "保存设置"),
    "admin.action.deactivate": ("settings version retired", "设置版本停用"),
    "admin.action.snapshot": ("score snapshot", "评分快照"),
    "admin.action.migrate": ("database upgraded", "数据库升级"),
    "admin.action.insert": ("row added", "新增记录"),
    "admin.action.update": ("row changed", "修改记录"),
    "admin.action.create": ("created", "创建"),
    "admin.action.assign": ("assigned", "分派"),
    "admin.action.hit": ("warning hit again", "预警再次触发"),
    "admin.action.escalate": ("escalated", "升级"),
    "admin.action.append": ("history appended", "追加记录"),
    "admin.action.note": ("note", "备注"),
    "admin.action.plan": ("plan", "计划"),
    "admin.action.job_analysis": ("job: analysis", "任务：分析构建"),
    "admin.action.job_dispatch": ("job: warning dispatch", "任务：预警派单"),
    "admin.action.job_snapshot": ("job: score snapshot", "任务：评分快照"),
    "admin.action.job_retrain": ("job: churn model retraining", "任务：离网模型训练"),
    "admin.action.job_digest": ("job: weekly digest", "任务：周报邮件"),
    # The weekly digest e-mail (valuation/digest.py)
    "digest.subject": ("Weekly digest {date}: {name}", "客户周报 {date}：{name}"),
    "digest.subject_lead": ("Team weekly digest {date}: {team}", "团队周报 {date}：{team}"),
    "digest.greeting": ("Hello {name},", "{name}，您好："),
    "digest.intro": (
        "Your accounts as of {date} (the date of the data).",
        "以下是截至 {date}（数据日期）您所负责客户的情况。"),
    "digest.intro_lead": (
        "Your team {team} as of {date} (the date of the data).",
        "以下是截至 {date}（数据日期）{team}的情况。"),
    "digest.members": ("Per account manager", "按客户经理"),
    "digest.member_counts": (
        "{name}: {new} new, {escalated} escalated, {overdue} overdue, {tier} tier drops",
        "{name}：新增 {new}，升级 {escalated}，逾期 {overdue}，层级下降 {tier}"),
    "digest.col.manager": ("Account manager", "客户经理"),
    "digest.col.new": ("New", "新增"),
    "digest.col.escalated": ("Escalated", "升级"),
    "digest.col.overdue": ("Overdue", "逾期"),
    "digest.col.tier_drop": ("Tier drops", "层级下降"),
    "digest.section.new": ("New work orders this week ({n})", "本周新增工单（{n}）"),
    "digest.section.escalated": ("Escalated work orders ({n})", "已升级工单（{n}）"),
    "digest.section.overdue": ("Overdue work orders ({n})", "逾期工单（{n}）"),
    "digest.section.tier_drop": (
        "Accounts whose tier dropped since {prev} ({n})", "自 {prev} 以来层级下降的客户（{n}）"),
    "digest.no_snapshot": (
        "Tier changes: there is no earlier score snapshot to compare with, so no tier drop can "
        "be listed (snapshots are stored by `valuation jobs snapshot`).",
        "层级变化：没有更早的评分快照可供比较，因此无法列出层级下降的客户"
        "（评分快照由 `valuation jobs snapshot` 生成）。"),
    "digest.none": ("None.", "无。"),
    "digest.more": ("… and {n} more in the app: {url}", "……另有 {n} 项，请在系统中查看：{url}"),
    "digest.due": ("due {date}", "{date} 到期"),
    "digest.overdue_days": ("{days} {days|day|days} overdue", "已逾期 {days} 天"),
    "digest.assignee": ("with {name}", "处理人 {name}"),
    "digest.owner": ("account manager {name}", "客户经理 {name}"),
    "digest.tier_change": ("{old} to {new}", "由 {old} 降至 {new}"),
    "digest.note": ("note: {note}", "备注：{note}"),
    "digest.unassigned": ("unassigned", "未分配"),
    "digest.not_a_user": ("someone who is not a user", "非系统用户"),
    "digest.open_app": ("Open the app: {url}", "打开系统：{url}"),
    "digest.footer": (
        "Sent by the account valuation toolkit; the figures are as of {date}.",
        "本邮件由政企客户价值评估系统自动发送；数据截至 {date}。"),
    # The executive pack and the account brief (valuation/report.py)
    "report.title": ("Executive pack: value pyramid and retention", "经营分析简报：价值金字塔与客户保有"),
    "report.scope.all": ("All accounts", "全部客户"),
    "report.scope.account_manager": ("Accounts of {name} ({user})", "{name}（{user}）的客户"),
    "report.scope.sales_lead": (
        "Team {team} of {name} ({user}) and the unassigned pool",
        "{name}（{user}）所在团队 {team} 及待分配客户"),
    "report.stamp": ("Data as of {as_of} · {settings}", "数据截至 {as_of} · {settings}"),
    "report.settings_version": ("settings version {id}", "评估设置第 {id} 版"),
    "report.settings_default": ("default settings", "默认评估设置"),
    "report.generated": ("generated {at}", "生成于 {at}"),
    "report.total": ("Total", "合计"),
    "report.none": ("None.", "无。"),
    "report.unassigned_pool": ("Unassigned pool", "待分配客户"),
    "report.pyramid": ("Value pyramid", "价值金字塔"),
    "report.pyramid_about": (
        "Per tier: accounts, monthly revenue, average scores and service entitlements.",
        "各层级的客户数、月收入、平均得分与服务权益。"),
    "report.composition": ("Value composition by tier", "各层级价值构成"),
    "report.composition_about": (
        "Monthly revenue of each tier by product family, industry and city, with its share "
        "of the tier.", "各层级按产品族、行业、地市划分的月收入及其在该层级中的占比。"),
    "report.composition_note": (
        "Share of each tier's revenue: by product family (our held monthly spend) and by "
        "industry.", "各层级收入构成：按产品族（我方在用产品月支出）和按行业。"),
    "report.family_shares": ("Share of the tier's revenue by product family",
                             "各层级收入中各产品族占比"),
    "report.concentration": ("Revenue concentration", "收入集中度"),
    "report.concentration_about": (
        "Share of monthly revenue from the largest accounts (read off the Lorenz curve).",
        "最大客户群贡献的月收入占比（取自洛伦兹曲线）。"),
    "report.gini_note": ("Gini coefficient {gini}: 0 is revenue spread evenly, 1 is all of "
                         "it from one account.",
                         "基尼系数 {gini}：0 表示收入平均分布，1 表示全部收入来自一个客户。"),
    "report.migration": ("Tier migration since the previous snapshot", "较上期快照的层级迁移"),
    "report.migration_about": (
        "Accounts and monthly revenue moving between tiers from the previous score snapshot "
        "to the as-of date.", "自上期评分快照至数据日期，在各层级之间迁移的客户数与月收入。"),
    "report.migration_note": (
        "Accounts by tier in the snapshot of {previous} (rows) and on {as_of} (columns); "
        "'New' came in since, 'Left' churned.",
        "行：{previous} 快照中的层级；列：{as_of} 的层级。“新增”为此后新进客户，“流失”为已离网客户。"),
    "report.no_previous": (
        "No earlier score snapshot to compare with (snapshots are stored by `valuation jobs "
        "snapshot`).", "没有更早的评分快照可供比较（评分快照由 `valuation jobs snapshot` 生成）。"),
    "report.moves": ("Tier moves", "层级变动"),
    "report.moves_about": ("Accounts that moved up, stayed, moved down, came in or left.",
                           "层级上升、不变、下降、新增和流失的客户。"),
    "report.move.up": ("Moved up", "上升"),
    "report.move.same": ("Stayed", "不变"),
    "report.move.down": ("Moved down", "下降"),
    "report.move.new": ("New", "新增"),
    "report.move.gone": ("Left", "流失"),
    "report.kpis_city": ("KPIs by city", "分地市指标"),
    "report.kpis_industry": ("KPIs by industry", "分行业指标"),
    "report.kpis_city_about": ("Per city: accounts, revenue, top-tier share, scores, churn, "
                               "arrears.", "各地市的客户数、收入、高层级占比、得分、离网与欠费。"),
    "report.kpis_industry_about": ("Per industry: the same figures as by city.",
                                   "各行业的同类指标。"),
    "report.kpis_note": (
        "Churn rate: accounts that churned in the last 12 months over those plus the active "
        "ones. Arrears rate: 3 months of arrears over 3 months of revenue.",
        "离网率：近12个月离网客户数 ÷（离网客户数 + 在网客户数）。欠费率：近3月欠费 ÷ 近3月收入。"),
    "report.risk_by_team": ("Value at risk by team", "分团队风险价值"),
    "report.risk_by_team_about": (
        "Per team: active accounts, a year of revenue, mean churn probability, revenue and "
        "lifetime value at risk.", "各团队的在网客户数、年收入、平均离网概率、一年收入风险与生命周期价值风险。"),
    "report.risk_note": (
        "Revenue at risk: churn probability x a year of revenue; lifetime value at risk: churn "
        "probability x lifetime value. A team is the account manager's.",
        "一年收入风险 = 离网概率 × 一年收入；生命周期价值风险 = 离网概率 × 生命周期价值。团队按客户经理归属。"),
    "report.risk_basis": ("Churn probability within {months} months.",
                          "离网概率指未来 {months} 个月内离网的概率。"),
    "report.no_model": (
        "No churn model is trained yet, so there is no value at risk and no model-flagged "
        "account (`valuation churn train`).",
        "尚未训练离网模型，因此没有风险价值和模型预警客户（`valuation churn train`）。"),
    "report.movers_up": ("Top movers up", "价值上升最多的客户"),
    "report.movers_down": ("Top movers down", "价值下降最多的客户"),
    "report.movers_up_about": ("The accounts whose value score rose most since the previous "
                               "snapshot.", "较上期快照价值得分上升最多的客户。"),
    "report.movers_down_about": ("The accounts whose value score fell most since the previous "
                                 "snapshot.", "较上期快照价值得分下降最多的客户。"),
    "report.movers_note": ("Value score change since the snapshot of {previous}.",
                           "价值得分较 {previous} 快照的变化。"),
    "report.flagged": ("Flagged by the churn model before any rule",
                       "模型先于规则预警的高风险客户"),
    "report.flagged_about": (
        "Active accounts in the churn model's top decile that no open work order covers, by "
        "revenue at risk.", "离网概率居模型前10%、且尚无未结工单的在网客户，按一年收入风险排序。"),
    "report.flagged_note": (
        "{n} {n|account|accounts} in the model's top decile of churn probability with no open "
        "work order (largest revenue at risk first): the rules are silent, the history says "
        "churn is likely.",
        "共 {n} 个客户离网概率居模型前10%且无未结工单（按一年收入风险排序）：规则尚未预警，但历史规律显示其离网可能性高。"),
    "report.kpi.flagged": ("Flagged by the model only", "仅模型预警客户"),
    "report.kpi.moved_up": ("Moved up a tier", "层级上升客户"),
    "report.kpi.moved_down": ("Moved down a tier", "层级下降客户"),
    "report.col.dimension": ("Breakdown", "维度"),
    "report.col.segment": ("Segment", "细分"),
    "report.col.share_in_tier": ("Share of the tier", "层级内占比"),
    "report.col.largest": ("Largest accounts", "最大客户占比"),
    "report.col.move": ("Move", "变动"),
    "report.col.annual_revenue": ("Revenue, 1 year", "年收入"),
    "report.col.mean_probability": ("Mean churn probability", "平均离网概率"),
    "report.col.risk_share": ("Share of revenue at risk", "风险占比"),
    "report.col.previous_tier": ("Tier before", "原层级"),
    "report.col.tier_now": ("Tier now", "现层级"),
    "report.col.previous_value": ("Value before", "原价值得分"),
    "report.col.value_now": ("Value now", "现价值得分"),
    "report.col.measure": ("Figure", "指标"),
    "report.col.value": ("Value", "数值"),
    "report.sheet.about": ("About", "说明"),
    "report.sheet.summary": ("Headline figures", "核心指标"),
    "report.about.scope": ("Scope", "范围"),
    "report.about.as_of": ("Data as of", "数据截至"),
    "report.about.settings": ("Settings version", "评估设置版本"),
    "report.about.data_version": ("Data version", "数据版本"),
    "report.about.previous": ("Previous snapshot", "上期快照"),
    "report.about.no_previous": ("none", "无"),
    "report.about.generated": ("Generated", "生成时间"),
    "report.about.risk": ("Churn risk", "离网风险"),
    "report.about.sheets": ("Sheets", "工作表"),
    "report.download_pdf": ("Executive pack (PDF)", "经营分析简报（PDF）"),
    "report.download_xlsx": ("Executive pack (XLSX)", "经营分析简报（XLSX）"),
    "report.download_help": (
        "The pyramid, migration, concentration, KPIs, value at risk, movers and model-flagged "
        "accounts of {scope}, as of {as_of}; built when you click.",
        "{scope}的价值金字塔、层级迁移、收入集中度、各项指标、风险价值、价值变动和模型预警客户，数据截至 {as_of}；点击时生成。"),
    "report.brief.title": ("Visit brief", "客户拜访简报"),
    "report.brief.download": ("Visit brief (PDF)", "拜访简报（PDF）"),
    "report.brief.download_help": (
        "One page for a visit: value and tier, scores and reasons, churn risk, products and "
        "the next-best one, open work, recent interactions; built when you click.",
        "一页拜访准备材料：价值与层级、得分及原因、离网风险、在用产品与推荐产品、未结工单、近期接触记录；点击时生成。"),
    "report.brief.scores": ("Scores and their top reasons", "得分及主要原因"),
    "report.brief.col.dimension": ("Dimension", "维度"),
    "report.brief.col.score": ("Score", "得分"),
    "report.brief.col.grade": ("Grade", "等级"),
    "report.brief.factors": ("Churn risk drivers: {factors}", "离网风险主要因素：{factors}"),
    "report.brief.products": ("Products", "产品"),
    "report.brief.next_best": ("Top cross-sell suggestion", "首推产品"),
    "report.brief.suggestion": ("{product} ({family}): {why}; expected {revenue} a month",
                                "{product}（{family}）：{why}；预计月收入 {revenue}"),
    "report.brief.work": ("Open work orders and the plan", "未结工单与客户计划"),
    "report.brief.more_orders": ("… and {n} more open work orders.", "……另有 {n} 张未结工单。"),
    "report.brief.plan": ("{objective}: {action} (due {due}, {status})",
                          "{objective}：{action}（{due} 到期，{status}）"),
    "report.brief.no_plan": ("No open plan; the strategy suggests: {action}",
                             "暂无进行中的计划；策略建议：{action}"),
    "report.brief.interactions": ("Recent interactions", "近期接触记录"),
    "report.brief.no_interactions": ("No interaction recorded.", "暂无接触记录。"),
    # -- field work: contacts logged in the app, work orders raised by hand, the queue by
    #    account, complete plans, My work's saves
    "field.log_title": ("Log a call or visit", "登记电话或拜访"),
    "field.order_title": ("Raise a work order", "新建工单"),
    "field.kind.call": ("Call", "电话"),
    "field.kind.visit": ("Visit", "拜访"),
    "field.kind.email": ("E-mail", "邮件"),
    "field.kind.meeting": ("Meeting", "会议"),
    "field.outcome.reached": ("Spoke with the customer", "已与客户沟通"),
    "field.outcome.not_reached": ("Not reached", "未联系上"),
    "field.outcome.follow_up": ("Follow-up agreed", "约定跟进"),
    "field.outcome.at_risk": ("Customer considering leaving", "客户有离网意向"),
    "field.outcome.resolved": ("Concern resolved", "问题已解决"),
    "field.contact_date": ("Date of the contact", "接触日期"),
    "field.contact_date_help": (
        "When it happened, by the calendar (today at the latest): not the data's date.",
        "实际发生的日期(最晚为今天),不是数据截止日期。"),
    "field.contact_note": ("What was said, what was agreed", "沟通内容与约定事项"),
    "field.contact_note_hint": ("e.g. asked about the renewal price; send the offer by Friday",
                                "例如:客户询问续约价格,周五前发送报价"),
    "field.log_save": ("Log the contact", "登记"),
    "field.logged": ("{kind} on {date} logged.", "已登记 {date} 的{kind}。"),
    "field.source.app": ("✎ Logged in the app", "✎ 应用内登记"),
    "field.source.import": ("Imported", "导入"),
    "field.history_caption": (
        "{n} {n|contact|contacts} logged in the app, kept across every import. The scores "
        "(visits and complaints in 12 months) count imported interactions only.",
        "应用内登记 {n} 条,重新导入后仍保留。评分中的接触指标(近12个月拜访与投诉)只计导入的接触记录。"),
    "field.priority": ("Priority", "优先级"),
    "field.priority.high": ("High", "高"),
    "field.priority.normal": ("Normal", "中"),
    "field.priority.low": ("Low", "低"),
    "field.due_help": (
        "Counted from the data's date ({as_of}), as the warnings' due dates are; overdue is "
        "read against it too.",
        "与预警工单一样从数据截止日期({as_of})起算,逾期也按该日期判断。"),
    "field.order_note": ("What to do, and why", "处理事项与原因"),
    "field.order_note_hint": ("e.g. the CIO mentioned a competitor's cloud offer",
                              "例如:信息中心主任提到异网的云服务报价"),
    "field.create_order": ("Create the work order", "创建工单"),
    "field.order_created": ("Work order {id} created for {who}, due {due}.",
                            "已创建工单 {id},处理人 {who},{due} 到期。"),
    "field.order_exists": (
        "This account already has an open work order raised by hand ({id}): add a note to it "
        "on My work instead.",
        "该客户已有一张人工创建的未结工单({id}):请在“我的工单”中为其添加备注。"),
    "field.order_open": (
        "Open work order raised by hand: {id}, {status}, for {who}, due {due}. One is open per "
        "account at a time: add what is new to it as a note on My work.",
        "已有人工创建的未结工单:{id},{status},处理人 {who},{due} 到期。每个客户同时只保留一张,"
        "新情况请在“我的工单”中作为备注添加。"),
    "field.order_not_live": ("The account is no longer live: no work order can be raised.",
                             "该客户已离网,不能新建工单。"),
    "field.order_for": ("Raise a work order for {name} · {id}", "为 {name} · {id} 新建工单"),
    "field.unflagged_pick": ("Select a row to raise a work order for that account.",
                             "选中一行,即可为该客户新建工单。"),
    "field.event.create": ("Raised by hand", "人工创建"),
    "field.history.create": ("Raised by hand for {who}, priority {priority}, due {due}",
                             "人工创建,处理人 {who},优先级{priority},{due} 到期"),
    "field.rule.manual": ("Raised by hand", "人工创建"),
    "field.failed": ("Not saved: {error}", "未保存:{error}"),
    "field.col.orders": ("Orders", "工单数"),
    "field.accounts_shown": ("{n} {n|account|accounts}", "{n} 个客户"),
    "field.select_hint": ("A row is an account: assigning it assigns all its orders shown.",
                          "每行是一个客户:派发该行即派发其显示的全部工单。"),
    "field.assign_ticked": ("Assign {n} ticked {n|order|orders}", "派发选中的 {n} 张工单"),
    "field.select_all": ("Select all filtered ({n})", "选择全部筛选结果({n})"),
    "field.select_all_confirm": (
        "Assign all {n} filtered work orders, on {m} accounts, to {who}?",
        "将筛选出的全部 {n} 张工单(涉及 {m} 个客户)派发给 {who}?"),
    "field.confirm_assign": ("Assign all {n}", "派发全部 {n} 张"),
    "field.select_all_changed": (
        "The filtered list changed since you selected it (a filter, or someone else's "
        "update): nothing was assigned. Select all again to assign the list as it is now.",
        "选择后筛选结果已变化(筛选条件或他人的更新),未派发任何工单。请重新选择全部。"),
    "field.plan_missing": ("Not saved: an open plan needs {what}.", "未保存:进行中的计划需要填写{what}。"),
    "field.plan_needs.action": ("an action", "行动"),
    "field.plan_needs.due_date": ("a due date", "到期日"),
    "field.and": ("{a} and {b}", "{a}和{b}"),
    "field.mw_nothing": ("Nothing to save: no new status and the note is unchanged.",
                         "没有需要保存的内容:未选择新状态,备注也未修改。"),
    "field.mw_stale": (
        "Not saved: that step was already made. The order is now “{status}”; choose the next "
        "step below.",
        "未保存:该步骤已完成。工单当前状态为“{status}”,请在下方选择下一步。"),
    "field.mw_gone": (
        "{order} was closed meanwhile by {who} (now “{status}”); nothing of yours was saved "
        "on it.",
        "{order} 已被 {who} 关闭(当前状态“{status}”),您对它的修改未保存。"),
    "field.mw_conflict": (
        "Not saved: {who} changed this work order meanwhile; it is now “{status}”. The form "
        "below shows it as it is: make your change again.",
        "未保存:{who} 刚刚修改了这张工单,当前状态为“{status}”。下方表单已按最新状态显示,请重新操作。"),
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


# Amounts in the units people read: 万 and 亿 in Chinese (1 亿 = 10,000 万), k, M and B in
# English; three significant figures at most, trailing zeros dropped.
_ZH_UNITS = ((1e8, "亿"), (1e4, "万"))
_EN_UNITS = ((1e9, "B"), (1e6, "M"), (1e3, "k"))


def money(yuan: object, lang: str) -> str:
    """Yuan as a reader writes it: ``¥2.5亿`` not ``¥25,000.0万``, ``¥1.2M``, ``¥830``;
    "–" for a missing amount. Negative amounts keep their sign."""
    if yuan is None or isinstance(yuan, str):
        return "–"
    try:
        v = float(yuan)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "–"
    if v != v:  # NaN
        return "–"
    sign, a = ("-" if v < 0 else ""), abs(v)
    for size, unit in _ZH_UNITS if lang.startswith("zh") else _EN_UNITS:
        if round(a / size, 2) >= 1:  # 9,999.6 yuan reads ¥1万, not ¥10,000
            x = a / size
            digits = 0 if x >= 100 else 1 if x >= 10 else 2
            text = f"{x:,.{digits}f}".rstrip("0").rstrip(".") if digits else f"{x:,.0f}"
            return f"{sign}¥{text}{unit}"
    return f"{sign}¥{a:,.0f}"


# English plurals: "{n} {n|account|accounts}" reads "1 account", "2 accounts" (the count may be
# a number or its formatted text, "1,234").
_PLURAL = re.compile(r"\{(\w+)\|([^|{}]*)\|([^|{}]*)\}")


def _is_one(value: object) -> bool:
    return str(value).strip() in ("1", "1.0", "-1")


def t(key: str, lang: str, **kw: object) -> str:
    """The string ``key`` in ``lang`` ("zh" or "en"), formatted with ``kw``; English plural
    markers ``{n|one|many}`` pick by ``kw[n]``."""
    en, zh = STRINGS[key]
    text = zh if lang.startswith("zh") else en
    if not kw:
        return text
    text = _PLURAL.sub(lambda m: (m.group(2) if _is_one(kw.get(m.group(1))) else m.group(3))
                       if m.group(1) in kw else m.group(0), text)
    return text.format(**kw)


def enum(name: str, code: object, lang: str) -> str:
    """Label of an enum code (see :data:`valuation.schema.ENUMS`); '' for a missing value."""
    if code is None or (isinstance(code, float) and pd.isna(code)):
        return ""
    return schema.enum_label(name, str(code), lang)


def strategy(code: str, lang: str) -> str:
    """A positioning strategy's name in ``lang``."""
    from valuation.positioning import STRATEGIES

    en, zh, _, _ = STRATEGIES[code]
    return zh if lang.startswith("zh") else en


def strategy_help(code: str, lang: str) -> str:
    from valuation.positioning import STRATEGIES

    _, _, en, zh = STRATEGIES[code]
    return zh if lang.startswith("zh") else en


def stage(code: str, lang: str) -> str:
    from valuation.positioning import STAGES

    en, zh = STAGES[code]
    return zh if lang.startswith("zh") else en


def approach(code: str, lang: str) -> str:
    from valuation.positioning import APPROACHES

    en, zh = APPROACHES[code]
    return zh if lang.startswith("zh") else en


def grade(code: str, lang: str) -> str:
    return t(f"grade.{code}", lang)


def rule(code: str, lang: str) -> str:
    """A warning rule's name in ``lang``, prefixed with its id for line rules (W1 ...)."""
    from valuation.warnings import RULES

    if code not in RULES and f"field.rule.{code}" in STRINGS:  # e.g. raised by hand
        return t(f"field.rule.{code}", lang)
    level, en, zh = RULES.get(code, ("", code, code))
    text = zh if lang.startswith("zh") else en
    return f"{code} {text}" if code.startswith("W") else text


def city(name: object, lang: str) -> str:
    """A city name in ``lang``; unknown names pass through."""
    if name is None or (isinstance(name, float) and pd.isna(name)):
        return ""
    return _CITIES.get(str(name), str(name)) if lang.startswith("zh") else str(name)


def plan_action(action: object, lang: str) -> str:
    """A plan's action for display: the counter-poaching plan an escalation writes reads in
    ``lang``; what people wrote is shown as written."""
    from valuation.warnings import COUNTER_PLAN_PREFIX, COUNTER_PLAN_SUFFIX

    if action is None or (isinstance(action, float) and pd.isna(action)):
        return ""
    text = str(action)
    if not (text.startswith(COUNTER_PLAN_PREFIX) and text.endswith(COUNTER_PLAN_SUFFIX)):
        return text
    reasons = text[len(COUNTER_PLAN_PREFIX):len(text) - len(COUNTER_PLAN_SUFFIX)]
    words = ", ".join(t(f"history.reason.{r.strip().replace(' ', '_')}", lang)
                      if f"history.reason.{r.strip().replace(' ', '_')}" in STRINGS else r.strip()
                      for r in reasons.split(",") if r.strip())
    return t("plan.counter_poaching", lang, reasons=words)


@functools.cache
def _districts() -> dict[str, str]:
    """Pinyin district name -> Chinese (区 / 县 / 市 by kind), from the demo's geography."""
    from valuation.demo import _CITIES as GEO

    suffix = {"q": "区", "x": "县", "s": "市"}
    out: dict[str, str] = {}
    for *_, districts in GEO:
        for item in districts.split():
            pinyin, zh, kind = item.split(":")
            out.setdefault(pinyin, zh + suffix.get(kind, ""))
    return out


def district(name: object, lang: str) -> str:
    """A district name in ``lang``; unknown names pass through."""
    if name is None or (isinstance(name, float) and pd.isna(name)):
        return ""
    return _districts().get(str(name), str(name)) if lang.startswith("zh") else str(name)


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
        elif f == "district":
            shown = district(v, lang)
        elif f == "annual_revenue":
            shown = money(v, lang)
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
            "start_date": pd.to_datetime(holdings["start_date"]),
            "end_date": pd.to_datetime(holdings["end_date"]),
        }
    )
    return headers(df, lang)
