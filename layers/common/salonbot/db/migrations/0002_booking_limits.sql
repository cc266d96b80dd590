-- Booking limits per customer.
--
-- salons.max_live_bookings_per_client: how many live (confirmed, not yet over) bookings
-- one customer may hold; the store counts them under the client's row lock, so
-- concurrent bookings of one customer cannot pass it together.
--
-- bookings_client_no_overlap: one customer's confirmed bookings never overlap in time,
-- from start to the end of the service. The buffer after a service is the master's time
-- (cleaning, preparing), not the customer's: a customer may go from one master straight
-- to another, as the items of a visit do.

ALTER TABLE salons
    ADD COLUMN max_live_bookings_per_client integer NOT NULL DEFAULT 3
        CHECK (max_live_bookings_per_client BETWEEN 1 AND 100);

-- Overlapping bookings of one customer made before this migration would make the
-- constraint fail. Nothing a customer was promised is taken away: of each customer's
-- overlapping bookings the one made first (lowest id) is checked as usual and the later
-- ones stay confirmed with `legacy_overlap` set, which leaves them out of the constraint
-- (staff find them with `WHERE legacy_overlap`). The store's own check still sees them,
-- so no new booking may overlap them either.
ALTER TABLE bookings ADD COLUMN legacy_overlap boolean NOT NULL DEFAULT false;

DO $$
DECLARE
    candidate record;
    marked integer := 0;
BEGIN
    FOR candidate IN
        SELECT b.id, b.client_id, b.starts_at, b.ends_at
          FROM bookings b
         WHERE b.status = 'confirmed'
           AND EXISTS (
                SELECT 1 FROM bookings o
                 WHERE o.client_id = b.client_id AND o.id < b.id AND o.status = 'confirmed'
                   AND tstzrange(o.starts_at, o.ends_at, '[)')
                       && tstzrange(b.starts_at, b.ends_at, '[)'))
         ORDER BY b.id
    LOOP
        -- In id order, against the bookings the constraint will check: a booking that
        -- overlapped only one marked here is checked as usual.
        IF EXISTS (
            SELECT 1 FROM bookings o
             WHERE o.client_id = candidate.client_id AND o.id < candidate.id
               AND o.status = 'confirmed' AND NOT o.legacy_overlap
               AND tstzrange(o.starts_at, o.ends_at, '[)')
                   && tstzrange(candidate.starts_at, candidate.ends_at, '[)'))
        THEN
            UPDATE bookings SET legacy_overlap = true WHERE id = candidate.id;
            marked := marked + 1;
        END IF;
    END LOOP;
    IF marked > 0 THEN
        RAISE NOTICE '% booking(s) overlap an earlier one of the same client: kept, marked legacy_overlap',
            marked;
    END IF;
END
$$;

ALTER TABLE bookings
    ADD CONSTRAINT bookings_client_no_overlap EXCLUDE USING gist (
        client_id WITH =,
        tstzrange(starts_at, ends_at, '[)') WITH &&
    ) WHERE (status = 'confirmed' AND NOT legacy_overlap);
