-- Customers who asked a salon to stop its reminders and offers ("STOP", "стоп", ...), or
-- whom WhatsApp reports as having stopped the business's marketing messages (error
-- 131050). One row per salon and customer; "START" deletes it.
--
-- scope: 'all'       the customer's own opt-out: no reminders, no marketing;
--        'marketing' Meta's signal: no marketing templates (reminders still go out).
CREATE TABLE opt_outs (
    salon_id        uuid NOT NULL REFERENCES salons (id) ON DELETE CASCADE,
    phone           text NOT NULL,
    scope           text NOT NULL CHECK (scope IN ('all', 'marketing')),
    source          text NOT NULL CHECK (source IN ('customer', 'whatsapp')),
    opted_out_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (salon_id, phone)
);

-- What each message the salon sent costs at WhatsApp: one row per wamid, priced from the
-- package's rate table when sent (salonbot/cost/whatsapp_rates.py), and repriced from the
-- `pricing` object of its status webhook when Meta sends one (category, billable).
CREATE TABLE message_costs (
    wamid       text PRIMARY KEY,
    salon_id    uuid NOT NULL REFERENCES salons (id) ON DELETE CASCADE,
    category    text NOT NULL,        -- marketing, utility, authentication, service, ...
    market      text NOT NULL,        -- the rate card's market of the recipient's number
    price_usd   numeric(10, 6) NOT NULL CHECK (price_usd >= 0),
    priced_by   text NOT NULL CHECK (priced_by IN ('rate_table', 'pricing')),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX message_costs_salon_created_idx ON message_costs (salon_id, created_at);

-- The customer's 1-5 rating of a visit, asked for `feedback_after_minutes` after it.
ALTER TABLE bookings
    ADD COLUMN rating smallint CHECK (rating BETWEEN 1 AND 5),
    ADD COLUMN rated_at timestamptz;
