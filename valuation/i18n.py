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
        "users (which removes them) and set real passwords with `valuation passwd USER`.",
        "演示数据库：{users} 仍可用公开的演示口令登录。请导入真实用户（将删除演示口令），"
        "并用 `valuation passwd 工号` 设置真实口令。",
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
    "model.none": ("No churn model trained yet. An administrator trains it on the Import page "
                   "or with `valuation churn train`.",
                   "尚未训练离网模型。管理员可在数据导入页或用 valuation churn train 训练。"),
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
        "No churn model trained yet: an administrator trains it on the Import page "
        "(or `valuation churn train`). Lifetime value uses the survival curves meanwhile.",
        "尚未训练离网模型:管理员可在数据导入页训练(或运行 valuation churn train)。"
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
