-- Schema version 1: every fact table, every app-owned table, the import log.
-- Frozen: later changes go in new numbered files, never here.

CREATE TABLE "teams" (
    "team_id" VARCHAR,
    "name" VARCHAR,
    "name_en" VARCHAR,
    "lead_id" VARCHAR,
    "city" VARCHAR
);

CREATE TABLE "users" (
    "user_id" VARCHAR,
    "name" VARCHAR,
    "name_en" VARCHAR,
    "role" VARCHAR,
    "team_id" VARCHAR,
    "email" VARCHAR
);

CREATE TABLE "competitors" (
    "competitor_id" VARCHAR,
    "name" VARCHAR,
    "name_en" VARCHAR
);

CREATE TABLE "products" (
    "product_id" VARCHAR,
    "name" VARCHAR,
    "name_en" VARCHAR,
    "family" VARCHAR,
    "provider" VARCHAR,
    "function" VARCHAR,
    "industries" VARCHAR,
    "list_price" DOUBLE
);

CREATE TABLE "accounts" (
    "account_id" VARCHAR,
    "name" VARCHAR,
    "name_en" VARCHAR,
    "industry" VARCHAR,
    "size_class" VARCHAR,
    "city" VARCHAR,
    "district" VARCHAR,
    "city_tier" BIGINT,
    "footprint" VARCHAR,
    "admin_level" VARCHAR,
    "employees" BIGINT,
    "sites" BIGINT,
    "listed" BOOLEAN,
    "industry_leader" BOOLEAN,
    "annual_revenue" DOUBLE,
    "credit_rating" VARCHAR,
    "it_maturity" BIGINT,
    "parent_account_id" VARCHAR,
    "owner_id" VARCHAR,
    "onboard_date" DATE
);

CREATE TABLE "holdings" (
    "account_id" VARCHAR,
    "product_id" VARCHAR,
    "provider" VARCHAR,
    "quantity" BIGINT,
    "monthly_revenue" DOUBLE,
    "start_date" DATE,
    "end_date" DATE
);

CREATE TABLE "contracts" (
    "contract_id" VARCHAR,
    "account_id" VARCHAR,
    "contract_type" VARCHAR,
    "start_date" DATE,
    "end_date" DATE,
    "value" DOUBLE
);

CREATE TABLE "billing_monthly" (
    "account_id" VARCHAR,
    "month" DATE,
    "billed" DOUBLE,
    "paid" DOUBLE,
    "arrears" DOUBLE
);

CREATE TABLE "lines" (
    "line_id" VARCHAR,
    "account_id" VARCHAR,
    "line_type" VARCHAR,
    "open_date" DATE,
    "close_date" DATE
);

CREATE TABLE "line_daily" (
    "line_id" VARCHAR,
    "day" DATE,
    "voice_out_calls" BIGINT,
    "sms_out" BIGINT,
    "vas_spend" DOUBLE,
    "spend" DOUBLE,
    "forwarded_offnet_calls" BIGINT,
    "balance" DOUBLE,
    "self_suspended" BOOLEAN
);

CREATE TABLE "interactions" (
    "interaction_id" VARCHAR,
    "account_id" VARCHAR,
    "date" DATE,
    "kind" VARCHAR,
    "user_id" VARCHAR,
    "note" VARCHAR
);

CREATE TABLE "churn_events" (
    "account_id" VARCHAR,
    "churn_date" DATE,
    "reason" VARCHAR
);

CREATE TABLE "credentials" (
    "user_id" VARCHAR,
    "password_hash" VARCHAR,
    "version" BIGINT,
    "updated_at" VARCHAR,
    "updated_by" VARCHAR
);

CREATE TABLE "plans" (
    "plan_id" VARCHAR,
    "account_id" VARCHAR,
    "objective" VARCHAR,
    "action" VARCHAR,
    "owner_id" VARCHAR,
    "due_date" DATE,
    "status" VARCHAR,
    "note" VARCHAR,
    "work_order_id" VARCHAR,
    "version" BIGINT,
    "updated_at" VARCHAR,
    "updated_by" VARCHAR
);

CREATE TABLE "work_orders" (
    "work_order_id" VARCHAR,
    "account_id" VARCHAR,
    "rule" VARCHAR,
    "status" VARCHAR,
    "assignee_id" VARCHAR,
    "severity" DOUBLE,
    "due_date" DATE,
    "first_hit" DATE,
    "last_hit" DATE,
    "hits" BIGINT,
    "escalated" BOOLEAN,
    "outcome" VARCHAR,
    "note" VARCHAR,
    "version" BIGINT,
    "updated_at" VARCHAR,
    "updated_by" VARCHAR
);

CREATE TABLE "score_snapshots" (
    "as_of" DATE,
    "account_id" VARCHAR,
    "model" VARCHAR,
    "value_score" DOUBLE,
    "influence_score" DOUBLE,
    "payment_score" DOUBLE,
    "loyalty_score" DOUBLE,
    "competitor_score" DOUBLE,
    "tier" VARCHAR,
    "strategy" VARCHAR,
    "monthly_revenue" DOUBLE,
    "version" BIGINT,
    "updated_at" VARCHAR,
    "updated_by" VARCHAR
);

CREATE TABLE "settings_versions" (
    "settings_id" BIGINT,
    "toml" VARCHAR,
    "comment" VARCHAR,
    "active" BOOLEAN,
    "version" BIGINT,
    "updated_at" VARCHAR,
    "updated_by" VARCHAR
);

CREATE TABLE "audit_log" (
    "audit_id" BIGINT,
    "at" VARCHAR,
    "user_id" VARCHAR,
    "action" VARCHAR,
    "table_name" VARCHAR,
    "row_key" VARCHAR,
    "before" VARCHAR,
    "after" VARCHAR
);

CREATE SEQUENCE audit_seq START 1;

CREATE TABLE import_log (
    data_version VARCHAR,
    "at" VARCHAR,
    user_id VARCHAR,
    source VARCHAR,
    row_counts VARCHAR
);
