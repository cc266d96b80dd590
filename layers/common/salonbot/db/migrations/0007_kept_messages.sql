-- Customer messages no engine answers, kept for the salon's staff instead of dropped.
--
-- reason `stale`: the webhook received it more than MAX_MESSAGE_AGE_S (a day) after the
-- customer sent it; answering a day-old "are you open now?" does more harm than good,
-- but the salon should still see it.
-- reason `unknown_number`: for a WhatsApp number (`phone_number_id`) no salon has yet;
-- `salon_id` is null, the number says whose it will be once the salon is imported.
--
-- One row per WhatsApp message id: a redelivery keeps it once.

CREATE TABLE kept_messages (
    message_id       text PRIMARY KEY,                      -- wamid
    salon_id         uuid REFERENCES salons (id) ON DELETE CASCADE,
    phone_number_id  text NOT NULL,                         -- the salon's WhatsApp number
    phone_number     text NOT NULL,                         -- the customer, E.164
    contact_name     text,
    message_type     text NOT NULL,
    content          text NOT NULL,
    reason           text NOT NULL CHECK (reason IN ('stale', 'unknown_number')),
    sent_at          timestamptz NOT NULL,                  -- when the customer sent it
    received_at      timestamptz NOT NULL DEFAULT now()     -- when it was kept
);
CREATE INDEX kept_messages_salon_received_idx ON kept_messages (salon_id, received_at);
CREATE INDEX kept_messages_number_received_idx ON kept_messages (phone_number_id, received_at);
