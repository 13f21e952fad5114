-- Member-line warnings rolled up per account: lines observed on $as_of, lines tripping each
-- line rule, and the figures quoted in a warning's detail. The marker in the CTE below is
-- replaced by the text of line_warnings.sql (same parameters). Standard SQL: one aggregate.
WITH lw AS (
/*LINE_WARNINGS*/
)
SELECT
    lw.account_id,
    count(*) AS lines,
    sum(CASE WHEN lw.w1 THEN 1 ELSE 0 END) AS w1_lines,
    sum(CASE WHEN lw.w2 THEN 1 ELSE 0 END) AS w2_lines,
    sum(CASE WHEN lw.w3 THEN 1 ELSE 0 END) AS w3_lines,
    sum(CASE WHEN lw.w5 THEN 1 ELSE 0 END) AS w5_lines,
    sum(CASE WHEN lw.w6 THEN 1 ELSE 0 END) AS w6_lines,
    sum(CASE WHEN lw.w7a THEN 1 ELSE 0 END) AS w7a_lines,
    sum(CASE WHEN lw.w7b THEN 1 ELSE 0 END) AS w7b_lines,
    avg(CASE WHEN lw.w1 THEN lw.spend_drop END) AS w1_drop,
    min(CASE WHEN lw.w5 THEN lw.balance END) AS w5_balance,
    avg(CASE WHEN lw.w7a THEN lw.avg_spend_prev END) AS w7a_spend,
    min(CASE WHEN lw.w7a THEN lw.balance END) AS w7a_balance
FROM lw
GROUP BY lw.account_id
