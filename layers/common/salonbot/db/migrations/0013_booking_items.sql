-- Visits: a booking is a visit of one or more items (service, master, start, end), booked
-- back to back, created, moved and cancelled as one.
--
-- bookings keeps what it always held, now for the whole visit: its code, client, status,
-- source, `starts_at` (the first item's start), `ends_at` (the last item's end),
-- `blocked_until` (the latest an item's master is blocked), `price` (the items' sum), and
-- `master_id` / `service_id` of the first item. `bookings_client_no_overlap` (0002) keeps
-- comparing the visit's span: the customer is in the salon from its start to its end.
--
-- booking_items holds each item's own time. `master_busy` is when the item's master is
-- taken: from the start to the end plus the service's buffer, less the processing gap
-- (`processing_from`..`processing_until`: a colour developing, the master free for someone
-- else). `bookings_no_overlap` moves here, per item: no two live items of one master
-- overlap. An item's `status` is its visit's, kept by the trigger below, because an
-- exclusion constraint can only look at its own row.
--
-- A booking inserted on its own (a writer that knows nothing of items) gets its one item
-- from its own columns when the statement ends; the store inserts a visit and its items
-- in one statement, and then nothing is added. Runs on PostgreSQL 15 (RDS) and 18.

CREATE TABLE booking_items (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    booking_id        bigint NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    position          smallint NOT NULL CHECK (position BETWEEN 0 AND 19),
    service_id        bigint NOT NULL REFERENCES services (id),
    master_id         bigint NOT NULL REFERENCES masters (id),
    starts_at         timestamptz NOT NULL,
    ends_at           timestamptz NOT NULL,   -- end of the service itself
    blocked_until     timestamptz NOT NULL,   -- ends_at plus the service's buffer
    processing_from   timestamptz,            -- the master is free from here ...
    processing_until  timestamptz,            -- ... to here
    price             numeric(12, 2) NOT NULL,
    status            text NOT NULL DEFAULT 'confirmed',
    master_busy       tstzmultirange GENERATED ALWAYS AS (
        CASE WHEN processing_from IS NULL
             THEN tstzmultirange(tstzrange(starts_at, blocked_until, '[)'))
             ELSE tstzmultirange(tstzrange(starts_at, processing_from, '[)'),
                                 tstzrange(processing_until, blocked_until, '[)'))
        END) STORED,
    UNIQUE (booking_id, position),
    CHECK (starts_at < ends_at AND ends_at <= blocked_until),
    CHECK ((processing_from IS NULL) = (processing_until IS NULL)),
    CHECK (processing_from IS NULL
           OR (starts_at < processing_from AND processing_from < processing_until
               AND processing_until <= ends_at))
);
CREATE INDEX booking_items_booking_idx ON booking_items (booking_id);

-- Every existing booking becomes a one-item visit.
INSERT INTO booking_items (booking_id, position, service_id, master_id, starts_at, ends_at,
                           blocked_until, price, status)
SELECT id, 0, service_id, master_id, starts_at, ends_at, blocked_until, price, status
  FROM bookings;

ALTER TABLE bookings DROP CONSTRAINT bookings_no_overlap;
-- Two live items of one master in different visits never overlap: the database enforces
-- it. Items of one visit may (the master's buffer after an item runs into the same
-- master's next item of that visit, which starts when the previous one ends).
ALTER TABLE booking_items
    ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist (
        master_id WITH =,
        master_busy WITH &&,
        booking_id WITH <>
    ) WHERE (status = 'confirmed');

CREATE FUNCTION booking_items_from_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM booking_items WHERE booking_id = NEW.id) THEN
        INSERT INTO booking_items (booking_id, position, service_id, master_id, starts_at,
                                   ends_at, blocked_until, price, status)
        VALUES (NEW.id, 0, NEW.service_id, NEW.master_id, NEW.starts_at, NEW.ends_at,
                NEW.blocked_until, NEW.price, NEW.status);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER bookings_one_item AFTER INSERT ON bookings
    FOR EACH ROW EXECUTE FUNCTION booking_items_from_row();

-- A visit's status is its items'; a one-item visit moved by a writer that knows nothing of
-- items moves its item too (a visit of several items is moved by moving its items).
CREATE FUNCTION booking_items_follow_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        UPDATE booking_items SET status = NEW.status
         WHERE booking_id = NEW.id AND status IS DISTINCT FROM NEW.status;
    END IF;
    IF (NEW.master_id, NEW.service_id, NEW.starts_at, NEW.ends_at, NEW.blocked_until)
       IS DISTINCT FROM (OLD.master_id, OLD.service_id, OLD.starts_at, OLD.ends_at,
                         OLD.blocked_until)
       AND (SELECT count(*) FROM booking_items WHERE booking_id = NEW.id) = 1
    THEN
        UPDATE booking_items
           SET master_id = NEW.master_id, service_id = NEW.service_id,
               starts_at = NEW.starts_at, ends_at = NEW.ends_at,
               blocked_until = NEW.blocked_until
         WHERE booking_id = NEW.id
           AND (master_id, service_id, starts_at, ends_at, blocked_until)
               IS DISTINCT FROM (NEW.master_id, NEW.service_id, NEW.starts_at, NEW.ends_at,
                                 NEW.blocked_until)
           AND processing_from IS NULL;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER bookings_items_follow AFTER UPDATE ON bookings
    FOR EACH ROW EXECUTE FUNCTION booking_items_follow_row();
