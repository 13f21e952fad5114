-- Import a wide CRM export (one row per customer, a Yes/No column per service, the contract
-- term as text, tenure in months, the monthly charge and a churn flag) with one command:
--
--     valuation import --transform docs/examples/wide_crm/transform.sql
--
-- Each view named after a fact table becomes that table; the others are steps in between.
-- "crm_export.csv" is read from beside this file by the import's own reader (any encoding,
-- every cell as text, plus _row: its row number in the file, header = row 1).

-- The day the export was taken: change it to yours. Tenure is counted back from it, and
-- customers flagged as churned left in its month.
CREATE MACRO export_date() AS DATE '2026-10-31';

-- One clean row per customer. Passing _row on as source_row makes every error in the
-- import report point at the export's own row.
CREATE VIEW crm AS
SELECT
    _row AS source_row,
    trim(customer_id) AS customer_id,
    nullif(trim(company), '') AS company,
    nullif(trim(industry), '') AS industry,
    TRY_CAST(nullif(trim(employees), '') AS INTEGER) AS employees,
    nullif(trim(region), '') AS region,
    CAST(tenure_months AS INTEGER) AS tenure_months,
    contract,
    TRY_CAST(monthly_charges AS DOUBLE) AS monthly_charges,
    churn = 'Yes' AS churned,
    CAST(export_date() - to_months(CAST(tenure_months AS INTEGER)) AS DATE) AS onboard_date,
    fixed_voice, multiple_lines, internet_service, managed_security, cloud_backup,
    device_care, tech_support, video_conferencing, cloud_storage, leased_line, iot_fleet
FROM "crm_export.csv";

-- The catalogue: every service column is one of our products, in the four families.
CREATE VIEW products AS
SELECT * FROM (VALUES
    ('fixed_voice', '固定电话', 'Fixed voice', 'communication', 'ours', 'voice', NULL, 20.0),
    ('multiple_lines', '多线路', 'Multiple lines', 'communication', 'ours', 'multi_line', NULL, 5.0),
    ('fiber', '光纤宽带', 'Fibre broadband', 'communication', 'ours', 'broadband', NULL, 45.0),
    ('dsl', 'DSL宽带', 'DSL broadband', 'communication', 'ours', 'broadband', NULL, 25.0),
    ('leased_line', '互联网专线', 'Leased line', 'communication', 'ours', 'leased_line', NULL, 60.0),
    ('video_conferencing', '视频会议', 'Video conferencing', 'information', 'ours', 'video', NULL, 14.0),
    ('cloud_storage', '云存储', 'Cloud storage', 'information', 'ours', 'storage', NULL, 13.0),
    ('cloud_backup', '云备份', 'Cloud backup', 'information', 'ours', 'backup', NULL, 10.0),
    ('iot_fleet', '车联网', 'Connected fleet', 'industry', 'ours', 'fleet', NULL, 30.0),
    ('managed_security', '安全托管', 'Managed security', 'service_support', 'ours', 'security', NULL, 12.0),
    ('device_care', '终端维保', 'Device care', 'service_support', 'ours', 'device_care', NULL, 9.0),
    ('tech_support', '技术支持', 'Tech support', 'service_support', 'ours', 'support', NULL, 11.0)
) AS p(product_id, name, name_en, family, provider, "function", industries, list_price);

-- Accounts: what the export knows; everything else stays empty (a scoring measure whose
-- input is missing takes no weight). No owner column: the accounts land in the unassigned
-- pool, and a sales lead or admin assigns them in the app.
CREATE VIEW accounts AS
SELECT
    source_row,
    customer_id AS account_id,
    coalesce(company, customer_id) AS name,
    CASE industry
        WHEN 'Retail' THEN 'commerce' WHEN 'Hospitality' THEN 'commerce'
        WHEN 'Manufacturing' THEN 'manufacturing' WHEN 'Logistics' THEN 'logistics'
        WHEN 'Healthcare' THEN 'healthcare' WHEN 'Education' THEN 'education'
        WHEN 'Finance' THEN 'finance' WHEN 'Public sector' THEN 'government'
    END AS industry,
    CASE WHEN employees >= 1000 THEN 'large' WHEN employees >= 100 THEN 'medium'
         WHEN employees IS NOT NULL THEN 'small' END AS size_class,
    region AS city,
    employees,
    onboard_date
FROM crm;

-- Holdings: unpivot the service columns and keep the ones held. The monthly charge is split
-- over the products held in proportion to their list prices.
CREATE VIEW held AS
SELECT c.source_row, c.customer_id, c.onboard_date, c.churned, c.monthly_charges,
       CASE WHEN u.service = 'internet_service'
            THEN CASE u.answer WHEN 'Fiber optic' THEN 'fiber' ELSE 'dsl' END
            ELSE u.service END AS product_id
FROM crm c
JOIN (UNPIVOT (SELECT customer_id, fixed_voice, multiple_lines, internet_service,
                      managed_security, cloud_backup, device_care, tech_support,
                      video_conferencing, cloud_storage, leased_line, iot_fleet FROM crm)
      ON COLUMNS(* EXCLUDE (customer_id)) INTO NAME service VALUE answer) u
  ON u.customer_id = c.customer_id
WHERE u.answer IN ('Yes', 'Fiber optic', 'DSL');

CREATE VIEW holdings AS
SELECT
    h.source_row,
    h.customer_id AS account_id,
    h.product_id,
    'ours' AS provider,
    1 AS quantity,
    round(coalesce(h.monthly_charges, 0) * p.list_price
          / sum(p.list_price) OVER (PARTITION BY h.customer_id), 2) AS monthly_revenue,
    h.onboard_date AS start_date,
    CASE WHEN h.churned THEN export_date() END AS end_date
FROM held h JOIN products p ON p.product_id = h.product_id;

-- A one- or two-year term is a live service agreement that renews on its anniversary.
CREATE VIEW contracts AS
SELECT
    source_row,
    customer_id || '-TERM' AS contract_id,
    customer_id AS account_id,
    'service' AS contract_type,
    CAST(export_date() - to_months((tenure_months - 1) % term + 1) AS DATE) AS start_date,
    CAST(export_date() - to_months((tenure_months - 1) % term + 1) + to_months(term) AS DATE)
        AS end_date,
    round(coalesce(monthly_charges, 0) * term, 2) AS value
FROM (SELECT *, CASE contract WHEN 'One year' THEN 12 WHEN 'Two year' THEN 24 END AS term
      FROM crm)
WHERE term IS NOT NULL AND tenure_months > 0;

-- One bill a month over the customer's tenure (the last 24 months at most), at the monthly
-- charge; the export has no payment history, so everything billed was paid.
CREATE VIEW billing_monthly AS
SELECT
    c.source_row,
    c.customer_id AS account_id,
    CAST(date_trunc('month', export_date()) - to_months(k.k) AS DATE) AS month,
    coalesce(c.monthly_charges, 0) AS billed,
    coalesce(c.monthly_charges, 0) AS paid,
    0.0 AS arrears
FROM crm c, range(0, 24) AS k(k)
WHERE k.k < greatest(c.tenure_months, 1);

-- Churn: the flag says the customer left; the export says no more than that it was this month.
CREATE VIEW churn_events AS
SELECT source_row, customer_id AS account_id, export_date() AS churn_date, 'other' AS reason
FROM crm
WHERE churned;
