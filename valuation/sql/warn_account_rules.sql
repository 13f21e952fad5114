-- Account-level early-warning rules as of $as_of: one row per (account_id, rule) that trips,
-- with up to two figures (v1, v2) and a text figure (txt) for the warning's detail.
-- Date bounds are computed by the caller (valuation/warnings.py):
--   W4             a contract of any type ends on or after $as_of and on or before $w4_end
--                  ($as_of + N calendar months). v1 contracts, v2 their value, txt first end.
--   bill_drop      the bill of $bill_month (the latest billed month on or before $as_of) is
--                  below the average of the months $bill_prev_start <= month < $bill_month by
--                  more than $bill_drop. v1 this month's bill, v2 the previous average.
--   arrears        arrears of the months after $arrears_start ($as_of - 3 months) up to $as_of
--                  above $arrears. v1 the arrears.
--   complaint      an escalated complaint dated after $complaint_start, up to $as_of.
--                  v1 how many, txt the latest date.
--   competitor_new a competitor product first held after $competitor_start, up to $as_of,
--                  and still held. v1 how many, v2 their monthly spend, txt the product ids.
--                  (sorted, ';'-joined: array_agg + array_sort + array_to_string, which
--                  translate to Spark 3 and 4 alike; an ordered string aggregate does not).
WITH
bills AS (
    SELECT
        b.account_id,
        max(CASE WHEN b.month = $bill_month THEN b.billed END) AS bill_cur,
        avg(CASE WHEN b.month >= $bill_prev_start AND b.month < $bill_month THEN b.billed END)
            AS bill_prev
    FROM billing_monthly b
    WHERE b.month >= $bill_prev_start AND b.month <= $bill_month
    GROUP BY b.account_id
),
arrears AS (
    SELECT b.account_id, sum(b.arrears) AS arrears
    FROM billing_monthly b
    WHERE b.month > $arrears_start AND b.month <= $as_of
    GROUP BY b.account_id
),
competitor_first AS (
    SELECT h.account_id, h.product_id, min(h.start_date) AS first_start
    FROM holdings h
    WHERE h.provider <> 'ours'
    GROUP BY h.account_id, h.product_id
),
competitor_new AS (
    SELECT h.account_id, h.product_id, sum(h.monthly_revenue) AS spend
    FROM holdings h
    JOIN competitor_first f ON f.account_id = h.account_id AND f.product_id = h.product_id
    WHERE h.provider <> 'ours'
      AND f.first_start > $competitor_start AND f.first_start <= $as_of
      AND h.start_date <= $as_of AND (h.end_date IS NULL OR h.end_date > $as_of)
    GROUP BY h.account_id, h.product_id
)
SELECT c.account_id, 'W4' AS rule, CAST(count(*) AS DOUBLE) AS v1, sum(c.value) AS v2,
       CAST(min(c.end_date) AS VARCHAR) AS txt
FROM contracts c
WHERE c.end_date >= $as_of AND c.end_date <= $w4_end
GROUP BY c.account_id
UNION ALL
SELECT account_id, 'bill_drop', bill_cur, bill_prev, CAST(NULL AS VARCHAR)
FROM bills
WHERE bill_cur IS NOT NULL AND bill_prev > 0 AND round(1 - bill_cur / bill_prev, 6) > $bill_drop
UNION ALL
SELECT account_id, 'arrears', arrears, CAST(NULL AS DOUBLE), CAST(NULL AS VARCHAR)
FROM arrears
WHERE arrears > $arrears
UNION ALL
SELECT i.account_id, 'complaint', CAST(count(*) AS DOUBLE), CAST(NULL AS DOUBLE),
       CAST(max(i.date) AS VARCHAR)
FROM interactions i
WHERE i.kind = 'escalated_complaint' AND i.date > $complaint_start AND i.date <= $as_of
GROUP BY i.account_id
UNION ALL
SELECT account_id, 'competitor_new', CAST(count(*) AS DOUBLE), sum(spend),
       array_to_string(array_sort(array_agg(product_id)), ';')
FROM competitor_new
GROUP BY account_id
