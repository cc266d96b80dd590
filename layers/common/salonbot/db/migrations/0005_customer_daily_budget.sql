-- One customer's daily share of the salon's model budget (salon file
-- `customer_daily_budget_usd`); NULL: the default, 10% of daily_budget_usd.
ALTER TABLE salons
    ADD COLUMN customer_daily_budget_usd numeric(12, 4)
        CHECK (customer_daily_budget_usd >= 0);
