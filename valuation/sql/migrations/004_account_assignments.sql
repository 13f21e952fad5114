-- Schema version 4: owners assigned in the app to accounts imported without a known owner
-- (the unassigned pool). Re-applied after every import while the import names no known owner.
CREATE TABLE "account_assignments" (
    "account_id" VARCHAR PRIMARY KEY,
    "owner_id" VARCHAR,
    "version" BIGINT,
    "updated_at" VARCHAR,
    "updated_by" VARCHAR
);
