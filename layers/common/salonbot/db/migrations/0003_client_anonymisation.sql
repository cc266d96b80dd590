-- Privacy: a client can be anonymised (retention after CLIENT_RETENTION_DAYS idle, or a
-- customer's erasure request) while the salon keeps their past bookings for its figures.
-- An anonymised client has no phone, name or language, and says when it lost them.

ALTER TABLE clients ALTER COLUMN phone DROP NOT NULL;
ALTER TABLE clients ADD COLUMN anonymised_at timestamptz;
ALTER TABLE clients ADD CONSTRAINT clients_phone_until_anonymised
    CHECK ((phone IS NULL) = (anonymised_at IS NOT NULL));
