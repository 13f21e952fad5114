-- Schema version 2: the history of each virtual work order (hits, assignments, statuses, notes).
CREATE TABLE "work_order_events" (
    "event_id" VARCHAR,
    "work_order_id" VARCHAR,
    "at" VARCHAR,
    "user_id" VARCHAR,
    "kind" VARCHAR,
    "detail" VARCHAR,
    "version" BIGINT,
    "updated_at" VARCHAR,
    "updated_by" VARCHAR
);
