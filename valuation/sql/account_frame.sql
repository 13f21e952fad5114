-- One row per account as of $as_of: profile, owner, revenue, arrears, holdings by family
-- and provider, contracts, interactions, churn. Standard SQL (window-free aggregates).
WITH
params AS (
    SELECT CAST($as_of AS DATE) AS as_of
),
bills AS (
    SELECT
        b.account_id,
        sum(CASE WHEN b.month = date_trunc('month', p.as_of) THEN b.billed END) AS monthly_revenue,
        sum(CASE WHEN b.month > p.as_of - INTERVAL 12 MONTH THEN b.billed ELSE 0 END) AS revenue_12m,
        sum(CASE WHEN b.month > p.as_of - INTERVAL 3 MONTH THEN b.billed ELSE 0 END) AS revenue_3m,
        sum(CASE WHEN b.month > p.as_of - INTERVAL 6 MONTH
                  AND b.month <= p.as_of - INTERVAL 3 MONTH THEN b.billed ELSE 0 END) AS revenue_prev_3m,
        sum(CASE WHEN b.month > p.as_of - INTERVAL 12 MONTH THEN b.arrears ELSE 0 END) AS arrears_12m,
        sum(CASE WHEN b.month > p.as_of - INTERVAL 3 MONTH THEN b.arrears ELSE 0 END) AS arrears_3m,
        sum(CASE WHEN b.month > p.as_of - INTERVAL 12 MONTH AND b.billed > 0 THEN 1 ELSE 0 END) AS months_billed_12m,
        sum(CASE WHEN b.month > p.as_of - INTERVAL 12 MONTH AND b.arrears > 0 THEN 1 ELSE 0 END) AS months_in_arrears_12m
    FROM billing_monthly b, params p
    WHERE b.month <= p.as_of
    GROUP BY b.account_id
),
held AS (
    SELECT
        h.account_id,
        count(DISTINCT CASE WHEN h.provider = 'ours' THEN h.product_id END) AS our_products,
        count(DISTINCT CASE WHEN h.provider = 'ours' THEN pr.family END) AS our_families,
        count(DISTINCT CASE WHEN h.provider <> 'ours' THEN h.product_id END) AS competitor_products,
        count(DISTINCT CASE WHEN h.provider <> 'ours' AND pr.family <> 'service_support'
                            THEN pr.family END) AS competitor_families,
        max(CASE WHEN h.provider = 'ours' AND pr.function = 'cug' THEN 1 ELSE 0 END) AS has_cug,
        sum(CASE WHEN h.provider = 'ours' THEN h.monthly_revenue ELSE 0 END) AS our_spend,
        sum(CASE WHEN h.provider <> 'ours' THEN h.monthly_revenue ELSE 0 END) AS competitor_spend,
        count(DISTINCT CASE WHEN h.provider = 'ours' AND pr.family = 'communication' THEN h.product_id END) AS products_communication,
        count(DISTINCT CASE WHEN h.provider = 'ours' AND pr.family = 'information' THEN h.product_id END) AS products_information,
        count(DISTINCT CASE WHEN h.provider = 'ours' AND pr.family = 'industry' THEN h.product_id END) AS products_industry,
        count(DISTINCT CASE WHEN h.provider = 'ours' AND pr.family = 'service_support' THEN h.product_id END) AS products_service_support,
        sum(CASE WHEN h.provider = 'ours' AND pr.family = 'communication' THEN h.monthly_revenue ELSE 0 END) AS spend_communication,
        sum(CASE WHEN h.provider = 'ours' AND pr.family = 'information' THEN h.monthly_revenue ELSE 0 END) AS spend_information,
        sum(CASE WHEN h.provider = 'ours' AND pr.family = 'industry' THEN h.monthly_revenue ELSE 0 END) AS spend_industry,
        sum(CASE WHEN h.provider = 'ours' AND pr.family = 'service_support' THEN h.monthly_revenue ELSE 0 END) AS spend_service_support
    FROM holdings h
    JOIN products pr ON pr.product_id = h.product_id
    CROSS JOIN params p
    WHERE h.start_date <= p.as_of AND (h.end_date IS NULL OR h.end_date > p.as_of)
    GROUP BY h.account_id
),
contr AS (
    SELECT
        c.account_id,
        min(CASE WHEN c.end_date >= p.as_of THEN c.end_date END) AS next_contract_end,
        max(CASE WHEN c.contract_type = 'comprehensive_bundle' AND c.start_date <= p.as_of
                  AND c.end_date >= p.as_of THEN 1 ELSE 0 END) AS has_bundle_agreement
    FROM contracts c, params p
    GROUP BY c.account_id
),
touch AS (
    SELECT
        i.account_id,
        sum(CASE WHEN i.kind = 'visit' THEN 1 ELSE 0 END) AS visits_12m,
        sum(CASE WHEN i.kind IN ('complaint', 'escalated_complaint') THEN 1 ELSE 0 END) AS complaints_12m,
        sum(CASE WHEN i.kind = 'escalated_complaint' THEN 1 ELSE 0 END) AS escalations_12m
    FROM interactions i, params p
    WHERE i.date <= p.as_of AND i.date > p.as_of - INTERVAL 12 MONTH
    GROUP BY i.account_id
),
churn AS (
    SELECT e.account_id, min(e.churn_date) AS churn_date
    FROM churn_events e, params p
    WHERE e.churn_date <= p.as_of
    GROUP BY e.account_id
)
SELECT
    a.account_id, a.name, a.name_en, a.industry, a.size_class, a.city, a.district, a.city_tier,
    a.footprint, a.admin_level, a.employees, a.sites, a.listed, a.industry_leader,
    a.annual_revenue, a.credit_rating, a.it_maturity, a.parent_account_id, a.owner_id,
    u.name AS owner_name, u.name_en AS owner_name_en, u.team_id, a.onboard_date,
    coalesce(bills.monthly_revenue, 0) AS monthly_revenue,
    coalesce(bills.revenue_12m, 0) AS revenue_12m,
    coalesce(bills.revenue_3m, 0) AS revenue_3m,
    coalesce(bills.revenue_prev_3m, 0) AS revenue_prev_3m,
    coalesce(bills.arrears_12m, 0) AS arrears_12m,
    coalesce(bills.arrears_3m, 0) AS arrears_3m,
    coalesce(bills.months_billed_12m, 0) AS months_billed_12m,
    coalesce(bills.months_in_arrears_12m, 0) AS months_in_arrears_12m,
    coalesce(held.our_products, 0) AS our_products,
    coalesce(held.our_families, 0) AS our_families,
    coalesce(held.competitor_products, 0) AS competitor_products,
    coalesce(held.competitor_families, 0) AS competitor_families,
    coalesce(held.our_spend, 0) AS our_spend,
    coalesce(held.competitor_spend, 0) AS competitor_spend,
    coalesce(held.has_cug, 0) = 1 AS has_cug,
    coalesce(held.products_communication, 0) AS products_communication,
    coalesce(held.products_information, 0) AS products_information,
    coalesce(held.products_industry, 0) AS products_industry,
    coalesce(held.products_service_support, 0) AS products_service_support,
    coalesce(held.spend_communication, 0) AS spend_communication,
    coalesce(held.spend_information, 0) AS spend_information,
    coalesce(held.spend_industry, 0) AS spend_industry,
    coalesce(held.spend_service_support, 0) AS spend_service_support,
    contr.next_contract_end,
    coalesce(contr.has_bundle_agreement, 0) = 1 AS has_bundle_agreement,
    coalesce(touch.visits_12m, 0) AS visits_12m,
    coalesce(touch.complaints_12m, 0) AS complaints_12m,
    coalesce(touch.escalations_12m, 0) AS escalations_12m,
    churn.churn_date,
    churn.churn_date IS NOT NULL AS churned
FROM accounts a
CROSS JOIN params p
LEFT JOIN users u ON u.user_id = a.owner_id
LEFT JOIN bills ON bills.account_id = a.account_id
LEFT JOIN held ON held.account_id = a.account_id
LEFT JOIN contr ON contr.account_id = a.account_id
LEFT JOIN touch ON touch.account_id = a.account_id
LEFT JOIN churn ON churn.account_id = a.account_id
WHERE a.onboard_date <= p.as_of
ORDER BY a.account_id
