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
