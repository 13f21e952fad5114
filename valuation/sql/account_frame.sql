-- One row per account as of $as_of: profile, owner, revenue, arrears, holdings by family
-- and provider, contracts, interactions, churn. $m3, $m6, $m12 are $as_of minus 3, 6 and
-- 12 months (computed by the caller). Standard SQL: plain aggregates and joins.
WITH
bills AS (
    SELECT
        b.account_id,
        sum(CASE WHEN b.month > $m1 THEN b.billed END) AS monthly_revenue,
        sum(CASE WHEN b.month > $m12 THEN b.billed ELSE 0 END) AS revenue_12m,
        sum(CASE WHEN b.month > $m3 THEN b.billed ELSE 0 END) AS revenue_3m,
        sum(CASE WHEN b.month > $m6 AND b.month <= $m3 THEN b.billed ELSE 0 END) AS revenue_prev_3m,
        sum(CASE WHEN b.month > $m12 THEN b.arrears ELSE 0 END) AS arrears_12m,
        sum(CASE WHEN b.month > $m3 THEN b.arrears ELSE 0 END) AS arrears_3m,
        CAST(sum(CASE WHEN b.month > $m12 AND b.billed > 0 THEN 1 ELSE 0 END) AS INTEGER) AS months_billed_12m,
        CAST(sum(CASE WHEN b.month > $m12 AND b.arrears > 0 THEN 1 ELSE 0 END) AS INTEGER) AS months_in_arrears_12m
    FROM billing_monthly b
    WHERE b.month <= $as_of AND b.month > $m12
    GROUP BY b.account_id
),
held_products AS (
    -- one row per account and product live at $as_of
    SELECT h.account_id, h.product_id, h.provider, pr.family, pr.function,
           sum(h.monthly_revenue) AS revenue
    FROM holdings h
    JOIN products pr ON pr.product_id = h.product_id
    WHERE h.start_date <= $as_of AND (h.end_date IS NULL OR h.end_date > $as_of)
    GROUP BY h.account_id, h.product_id, h.provider, pr.family, pr.function
),
held_counts AS (
    SELECT
        account_id,
        CAST(sum(CASE WHEN provider = 'ours' AND family = 'communication' THEN 1 ELSE 0 END) AS INTEGER) AS products_communication,
        CAST(sum(CASE WHEN provider = 'ours' AND family = 'information' THEN 1 ELSE 0 END) AS INTEGER) AS products_information,
        CAST(sum(CASE WHEN provider = 'ours' AND family = 'industry' THEN 1 ELSE 0 END) AS INTEGER) AS products_industry,
        CAST(sum(CASE WHEN provider = 'ours' AND family = 'service_support' THEN 1 ELSE 0 END) AS INTEGER) AS products_service_support,
        CAST(sum(CASE WHEN provider <> 'ours' AND family = 'communication' THEN 1 ELSE 0 END) AS INTEGER) AS competitor_communication,
        CAST(sum(CASE WHEN provider <> 'ours' AND family = 'information' THEN 1 ELSE 0 END) AS INTEGER) AS competitor_information,
        CAST(sum(CASE WHEN provider <> 'ours' AND family = 'industry' THEN 1 ELSE 0 END) AS INTEGER) AS competitor_industry,
        CAST(sum(CASE WHEN provider <> 'ours' THEN 1 ELSE 0 END) AS INTEGER) AS competitor_products,
        sum(CASE WHEN provider = 'ours' THEN revenue ELSE 0 END) AS our_spend,
        sum(CASE WHEN provider <> 'ours' THEN revenue ELSE 0 END) AS competitor_spend,
        max(CASE WHEN provider = 'ours' AND function = 'cug' THEN 1 ELSE 0 END) AS has_cug,
        sum(CASE WHEN provider = 'ours' AND family = 'communication' THEN revenue ELSE 0 END) AS spend_communication,
        sum(CASE WHEN provider = 'ours' AND family = 'information' THEN revenue ELSE 0 END) AS spend_information,
        sum(CASE WHEN provider = 'ours' AND family = 'industry' THEN revenue ELSE 0 END) AS spend_industry,
        sum(CASE WHEN provider = 'ours' AND family = 'service_support' THEN revenue ELSE 0 END) AS spend_service_support
    FROM held_products
    GROUP BY account_id
),
contr AS (
    SELECT
        c.account_id,
        min(CASE WHEN c.end_date >= $as_of THEN c.end_date END) AS next_contract_end,
        max(CASE WHEN c.contract_type = 'comprehensive_bundle' AND c.start_date <= $as_of
                  AND c.end_date >= $as_of THEN 1 ELSE 0 END) AS has_bundle_agreement
    FROM contracts c
    WHERE c.start_date <= $as_of
    GROUP BY c.account_id
),
touch AS (
    SELECT
        i.account_id,
        CAST(sum(CASE WHEN i.kind = 'visit' THEN 1 ELSE 0 END) AS INTEGER) AS visits_12m,
        CAST(sum(CASE WHEN i.kind IN ('complaint', 'escalated_complaint') THEN 1 ELSE 0 END) AS INTEGER) AS complaints_12m,
        CAST(sum(CASE WHEN i.kind = 'escalated_complaint' THEN 1 ELSE 0 END) AS INTEGER) AS escalations_12m
    FROM interactions i
    WHERE i.date <= $as_of AND i.date > $m12
    GROUP BY i.account_id
),
churn AS (
    SELECT e.account_id, min(e.churn_date) AS churn_date
    FROM churn_events e
    WHERE e.churn_date <= $as_of
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
    coalesce(hc.products_communication, 0) + coalesce(hc.products_information, 0)
        + coalesce(hc.products_industry, 0) + coalesce(hc.products_service_support, 0) AS our_products,
    (CASE WHEN coalesce(hc.products_communication, 0) > 0 THEN 1 ELSE 0 END)
        + (CASE WHEN coalesce(hc.products_information, 0) > 0 THEN 1 ELSE 0 END)
        + (CASE WHEN coalesce(hc.products_industry, 0) > 0 THEN 1 ELSE 0 END)
        + (CASE WHEN coalesce(hc.products_service_support, 0) > 0 THEN 1 ELSE 0 END) AS our_families,
    coalesce(hc.competitor_products, 0) AS competitor_products,
    -- service support is never counted for competitors (DOMAIN.md section 2)
    (CASE WHEN coalesce(hc.competitor_communication, 0) > 0 THEN 1 ELSE 0 END)
        + (CASE WHEN coalesce(hc.competitor_information, 0) > 0 THEN 1 ELSE 0 END)
        + (CASE WHEN coalesce(hc.competitor_industry, 0) > 0 THEN 1 ELSE 0 END) AS competitor_families,
    coalesce(hc.our_spend, 0) AS our_spend,
    coalesce(hc.competitor_spend, 0) AS competitor_spend,
    coalesce(hc.has_cug, 0) = 1 AS has_cug,
    coalesce(hc.products_communication, 0) AS products_communication,
    coalesce(hc.products_information, 0) AS products_information,
    coalesce(hc.products_industry, 0) AS products_industry,
    coalesce(hc.products_service_support, 0) AS products_service_support,
    coalesce(hc.spend_communication, 0) AS spend_communication,
    coalesce(hc.spend_information, 0) AS spend_information,
    coalesce(hc.spend_industry, 0) AS spend_industry,
    coalesce(hc.spend_service_support, 0) AS spend_service_support,
    contr.next_contract_end,
    coalesce(contr.has_bundle_agreement, 0) = 1 AS has_bundle_agreement,
    coalesce(touch.visits_12m, 0) AS visits_12m,
    coalesce(touch.complaints_12m, 0) AS complaints_12m,
    coalesce(touch.escalations_12m, 0) AS escalations_12m,
    churn.churn_date,
    churn.churn_date IS NOT NULL AS churned
FROM accounts a
LEFT JOIN users u ON u.user_id = a.owner_id
LEFT JOIN bills ON bills.account_id = a.account_id
LEFT JOIN held_counts hc ON hc.account_id = a.account_id
LEFT JOIN contr ON contr.account_id = a.account_id
LEFT JOIN touch ON touch.account_id = a.account_id
LEFT JOIN churn ON churn.account_id = a.account_id
WHERE a.onboard_date <= $as_of
ORDER BY a.account_id
