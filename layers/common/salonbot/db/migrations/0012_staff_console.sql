-- The staff console.
--
-- bookings.arrived_at: a receptionist marked the customer arrived. The booking stays
-- `confirmed` (it still holds its master's time, which the exclusion constraint keys on
-- that status); the staff API shows it as `arrived`. A no-show is the existing status.
--
-- ai_messages.staff_user: who of the salon's people wrote a `staff` message (the Cognito
-- user's e-mail, or `whatsapp_business_app` for a message sent from the phone app).
--
-- staff_requests: the staff API's `Idempotency-Key`s. A POST claims (salon, key) in its
-- own transaction and keeps the answer it gave, so a retry gets the same answer and
-- sends or books nothing twice; a key used again with another body is refused.

ALTER TABLE bookings ADD COLUMN arrived_at timestamptz;

ALTER TABLE ai_messages ADD COLUMN staff_user text;

CREATE TABLE staff_requests (
    salon_id      uuid NOT NULL REFERENCES salons (id) ON DELETE CASCADE,
    key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request       text NOT NULL,              -- sha256 of route and body
    status_code   integer,
    response      jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (salon_id, key)
);
CREATE INDEX staff_requests_created_idx ON staff_requests (created_at);

-- ai_conversations.staff_released_at: when staff last gave the conversation back (or, for
-- a salon with AI off, marked it done): the inbox waits only on customer messages after it.
ALTER TABLE ai_conversations ADD COLUMN staff_released_at timestamptz;
