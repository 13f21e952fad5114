-- Schema version 5: what people write moves to the app database (SQLite or PostgreSQL through
-- SQLAlchemy, see valuation/appdb.py), shared by every process. Before these statements run,
-- the store copies every row of these tables into the app database, keeping what is there.
-- Score snapshots stay here, with the facts.
DROP TABLE "credentials";
DROP TABLE "plans";
DROP TABLE "work_orders";
DROP TABLE "work_order_events";
DROP TABLE "settings_versions";
DROP TABLE "account_assignments";
DROP TABLE "audit_log";
DROP SEQUENCE audit_seq;
