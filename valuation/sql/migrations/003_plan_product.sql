-- Schema version 3: an account plan may follow a cross-sell suggestion: the product it offers.
ALTER TABLE "plans" ADD COLUMN "product_id" VARCHAR;
