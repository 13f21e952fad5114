-- Early-warning rules W1-W7b per member line as of $as_of (DOMAIN.md section 4).
-- One row per line open on $as_of (open_date <= $as_of, no close_date or close_date after it)
-- with at least one day of usage in the scanned window. Every date bound is computed by the
-- caller (valuation/warnings.py), so the SQL needs no date arithmetic:
--   $cur_start  = $as_of - 30 days: "this month" is day > $cur_start (the 30 days ending $as_of)
--   $prev_start = $as_of - 60 days: "last month" is $prev_start < day <= $cur_start
--   $w2_start, $w3_start, $w7b_start = $as_of - N days: the last N days are day > $x_start
--   $scan_start = the earliest of the above; $w4_end = $as_of + N calendar months
-- A run "of N consecutive days ending at $as_of" trips when all N of the last N days have a
-- row satisfying the condition: (line_id, day) is unique, so a count of N says exactly that
-- (a missing day breaks the run). Standard SQL: conditional aggregates and joins only.
WITH usage AS (
    SELECT
        d.line_id,
        count(CASE WHEN d.day > $cur_start THEN 1 END) AS days_cur,
        count(CASE WHEN d.day > $prev_start AND d.day <= $cur_start THEN 1 END) AS days_prev,
        sum(CASE WHEN d.day > $cur_start THEN d.spend END) AS spend_cur,
        sum(CASE WHEN d.day > $prev_start AND d.day <= $cur_start THEN d.spend END) AS spend_prev,
        max(CASE WHEN d.voice_out_calls > 0 THEN d.day END) AS last_call,
        count(CASE WHEN d.day > $w2_start AND d.voice_out_calls = 0 THEN 1 END) AS silent_days,
        count(CASE WHEN d.day > $w3_start AND d.forwarded_offnet_calls > 0 THEN 1 END)
            AS forward_days,
        count(CASE WHEN d.day > $w7b_start AND d.voice_out_calls = 0
                        AND (d.sms_out > 0 OR d.vas_spend > 0) THEN 1 END) AS sms_only_days,
        max(CASE WHEN d.day = $as_of THEN d.balance END) AS balance,
        max(CASE WHEN d.day = $as_of AND d.self_suspended THEN 1 ELSE 0 END) AS suspended
    FROM line_daily d
    WHERE d.day > $scan_start AND d.day <= $as_of
    GROUP BY d.line_id
),
rates AS (
    SELECT
        u.*,
        u.spend_cur / nullif(u.days_cur, 0) AS avg_spend_cur,
        u.spend_prev / nullif(u.days_prev, 0) AS avg_spend_prev
    FROM usage u
),
ending AS (
    SELECT DISTINCT c.account_id
    FROM contracts c
    WHERE c.end_date >= $as_of AND c.end_date <= $w4_end
)
SELECT
    l.line_id,
    l.account_id,
    l.line_type,
    r.days_cur,
    r.days_prev,
    r.avg_spend_cur,
    r.avg_spend_prev,
    CASE WHEN r.avg_spend_prev > 0
         THEN round(1 - coalesce(r.avg_spend_cur, 0) / r.avg_spend_prev, 6) END AS spend_drop,
    r.last_call,
    r.balance,
    -- W1: average daily spend this month dropped by more than $w1 vs last month
    coalesce(r.days_cur > 0 AND r.avg_spend_prev > 0
             AND round(1 - r.avg_spend_cur / r.avg_spend_prev, 6) > $w1, FALSE) AS w1,
    -- W2: the last $w2_days days without an outgoing call, after some call earlier in the window
    (r.silent_days = $w2_days AND r.last_call IS NOT NULL) AS w2,
    -- W3: the last $w3_days days each with calls forwarded to another operator
    (r.forward_days = $w3_days) AS w3,
    -- W4 (an account rule, carried to its lines): a contract ends within the next N months
    (e.account_id IS NOT NULL) AS w4,
    -- W5: credit-control balance on $as_of below $w5
    coalesce(r.balance < $w5, FALSE) AS w5,
    -- W6: suspended by the customer on $as_of
    (r.suspended = 1) AS w6,
    -- W7a: high average daily spend last month, low balance on $as_of
    coalesce(r.avg_spend_prev >= $w7a_spend AND r.balance < $w7a_balance, FALSE) AS w7a,
    -- W7b: the last $w7b_days days with SMS or value-added use but no voice, after voice use
    (r.sms_only_days = $w7b_days AND r.last_call IS NOT NULL) AS w7b
FROM rates r
JOIN lines l ON l.line_id = r.line_id
LEFT JOIN ending e ON e.account_id = l.account_id
WHERE l.open_date <= $as_of AND (l.close_date IS NULL OR l.close_date > $as_of)
