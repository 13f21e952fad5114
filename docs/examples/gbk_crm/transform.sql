-- Import a Chinese CRM export (GBK, Chinese headers, one row per account, the products in use
-- listed in one cell) with one command:
--
--     valuation import --transform docs/examples/gbk_crm/transform.sql
--
-- "客户清单.csv" is read by the import's own reader, which detects the GBK encoding; every
-- cell arrives as text, with _row (its row in the file) for the import report.

CREATE MACRO export_date() AS DATE '2026-10-31';
CREATE MACRO ymd(s) AS CAST(strptime(nullif(trim(s), ''), '%Y/%m/%d') AS DATE);

CREATE VIEW src AS
SELECT
    _row AS source_row,
    trim("客户编号") AS account_id,
    trim("客户名称") AS name,
    "行业" AS industry,
    "规模" AS size_class,
    "地市" AS city,
    nullif(trim("客户经理工号"), '') AS owner_id,
    ymd("入网日期") AS onboard_date,
    CAST(replace("月均消费(元)", ',', '') AS DOUBLE) AS monthly_spend,
    coalesce("在用产品", '') AS ours,
    coalesce("异网产品", '') AS theirs,
    ymd("协议到期日") AS agreement_end,
    ymd("离网日期") AS churn_date,
    nullif(trim("离网原因"), '') AS churn_reason
FROM "客户清单.csv";

CREATE VIEW competitors AS
SELECT * FROM (VALUES ('CT', '中国电信', 'China Telecom'), ('CU', '中国联通', 'China Unicom'))
    AS c(competitor_id, name, name_en);

-- The catalogue: the CRM's product names, mapped to ids, families and functions. A product's
-- function makes a competitor's product its substitute.
CREATE VIEW products AS
SELECT * FROM (VALUES
    ('VOICE', '固定电话', 'Fixed voice', 'communication', 'ours', 'voice', NULL, 120.0),
    ('CUG', '集团V网', 'Closed user group', 'communication', 'ours', 'cug', NULL, 300.0),
    ('DIA', '互联网专线', 'Dedicated internet access', 'communication', 'ours', 'dia', NULL, 2400.0),
    ('BB', '宽带', 'Broadband', 'communication', 'ours', 'broadband', NULL, 260.0),
    ('MAIL', '企业邮箱', 'Corporate e-mail', 'information', 'ours', 'email', NULL, 90.0),
    ('SMS', '集团短信', 'Bulk messaging', 'information', 'ours', 'sms', NULL, 150.0),
    ('CLOUD', '云主机', 'Cloud hosts', 'information', 'ours', 'cloud', NULL, 900.0),
    ('VIDEO', '视频会议', 'Video conferencing', 'information', 'ours', 'video', NULL, 400.0),
    ('CCTV', '视频监控', 'Video surveillance', 'industry', 'ours', 'surveillance', NULL, 1100.0),
    ('VIP', 'VIP专席', 'Dedicated agent', 'service_support', 'ours', 'vip', NULL, 0.0),
    ('CT-BB', '电信宽带', 'China Telecom broadband', 'communication', 'CT', 'broadband', NULL, 240.0),
    ('CU-DIA', '联通专线', 'China Unicom leased line', 'communication', 'CU', 'dia', NULL, 2200.0),
    ('CT-CLOUD', '电信云主机', 'China Telecom cloud', 'information', 'CT', 'cloud', NULL, 850.0),
    ('CU-CCTV', '联通视频监控', 'China Unicom surveillance', 'industry', 'CU', 'surveillance', NULL, 1000.0)
) AS p(product_id, name, name_en, family, provider, "function", industries, list_price);

CREATE VIEW accounts AS
SELECT source_row, account_id, name, industry, size_class, city, owner_id, onboard_date
FROM src;

-- Holdings: split the product lists; ours share the monthly spend by list price (plus one, so
-- a free product still gets a share), competitors'
-- are estimated at their list price. Everything ends on the churn date for those who left.
CREATE VIEW listed AS
SELECT s.source_row, s.account_id, s.onboard_date, s.churn_date, s.monthly_spend,
       trim(x.item) AS product_name
FROM src s, unnest(string_split(s.ours || ';' || s.theirs, ';')) AS x(item)
WHERE trim(x.item) <> '';

CREATE VIEW holdings AS
SELECT
    l.source_row,
    l.account_id,
    p.product_id,
    p.provider,
    1 AS quantity,
    CASE WHEN p.provider = 'ours'
         THEN round(l.monthly_spend * (p.list_price + 1)
                    / sum(CASE WHEN p.provider = 'ours' THEN p.list_price + 1 END)
                      OVER (PARTITION BY l.account_id), 2)
         ELSE p.list_price END AS monthly_revenue,
    l.onboard_date AS start_date,
    l.churn_date AS end_date
FROM listed l JOIN products p ON p.name = l.product_name;

-- One comprehensive agreement per account that has one; it started a year before it ends, or
-- at onboarding if later.
CREATE VIEW contracts AS
SELECT source_row, account_id || '-K' AS contract_id, account_id,
       'comprehensive_bundle' AS contract_type,
       greatest(onboard_date, CAST(agreement_end - INTERVAL 1 YEAR AS DATE)) AS start_date,
       agreement_end AS end_date,
       round(monthly_spend * 12, 2) AS value
FROM src
WHERE agreement_end IS NOT NULL AND agreement_end > onboard_date;

-- Bills: the monthly spend every month from onboarding (at most 24 months back) to the month
-- of leaving or of the export; no payment history, so everything billed was paid.
CREATE VIEW billing_monthly AS
SELECT s.source_row, s.account_id, CAST(m.month AS DATE) AS month,
       s.monthly_spend AS billed, s.monthly_spend AS paid, 0.0 AS arrears
FROM src s,
     generate_series(greatest(date_trunc('month', s.onboard_date),
                              date_trunc('month', export_date()) - INTERVAL 23 MONTH),
                     date_trunc('month', coalesce(s.churn_date, export_date())),
                     INTERVAL 1 MONTH) AS m(month);

CREATE VIEW churn_events AS
SELECT source_row, account_id, churn_date, coalesce(churn_reason, '其他') AS reason
FROM src
WHERE churn_date IS NOT NULL;
