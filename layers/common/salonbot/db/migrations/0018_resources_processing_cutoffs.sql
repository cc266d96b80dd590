-- Resources (chairs, rooms) with a capacity, processing time on services, and the salon's
-- change cut-offs. Runs on PostgreSQL 15 (RDS) and 18.
--
-- A service may need one resource (`services.resource_id`); each booking item of it holds
-- one unit of that resource from its start to its end (processing included: the client
-- stays in the chair). No resource is ever over its capacity at any instant: the trigger
-- below checks every live item written, after taking transaction-level advisory locks on
-- the resource's 15-minute blocks the item covers, so concurrent writers of overlapping
-- items of one resource are checked one after the other and each sees the others'
-- committed items (READ COMMITTED: every statement of the check takes a fresh snapshot
-- once the lock is granted). Items that do not overlap cannot together pass the capacity
-- at any instant, so their writers need not wait on each other.
--
-- Processing: a service of `duration_minutes` is active, then processing for
-- `processing_minutes` (the master free), then finishing for `finishing_minutes`.

CREATE TABLE resources (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    salon_id  uuid NOT NULL REFERENCES salons (id) ON DELETE CASCADE,
    code      text NOT NULL,
    capacity  integer NOT NULL CHECK (capacity BETWEEN 1 AND 1000),
    active    boolean NOT NULL DEFAULT true,
    UNIQUE (salon_id, code)
);

ALTER TABLE services
    ADD COLUMN processing_minutes integer NOT NULL DEFAULT 0
        CHECK (processing_minutes BETWEEN 0 AND 600),
    ADD COLUMN finishing_minutes integer NOT NULL DEFAULT 0
        CHECK (finishing_minutes BETWEEN 0 AND 600),
    ADD COLUMN resource_id bigint REFERENCES resources (id) ON DELETE SET NULL,
    ADD CONSTRAINT services_processing_fits
        CHECK (processing_minutes + finishing_minutes < duration_minutes
               AND (finishing_minutes = 0 OR processing_minutes > 0));

ALTER TABLE booking_items ADD COLUMN resource_id bigint REFERENCES resources (id);
CREATE INDEX booking_items_resource_idx ON booking_items
    USING gist (resource_id, tstzrange(starts_at, ends_at, '[)'))
    WHERE status = 'confirmed' AND resource_id IS NOT NULL;

ALTER TABLE salons
    ADD COLUMN cancel_notice_minutes integer CHECK (cancel_notice_minutes BETWEEN 0 AND 43200),
    ADD COLUMN move_notice_minutes integer CHECK (move_notice_minutes BETWEEN 0 AND 43200);

CREATE FUNCTION booking_items_resource_capacity() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    cap integer;
    peak bigint;
BEGIN
    -- One lock per resource and 15-minute block of time the item holds, in ascending
    -- order: two items whose spans overlap share a block, so their checks run one after
    -- the other; items apart in time do not wait on each other. The key's top byte
    -- (82, "R") keeps it apart from the other single-key advisory locks.
    PERFORM pg_advisory_xact_lock((82::bigint << 56) | (NEW.resource_id << 24) | q)
       FROM generate_series(floor(extract(epoch FROM NEW.starts_at) / 900)::bigint,
                            ceil(extract(epoch FROM NEW.ends_at) / 900)::bigint - 1) AS q
      ORDER BY q;
    SELECT capacity INTO cap FROM resources WHERE id = NEW.resource_id;
    -- The most items holding the resource at one instant of the new item's span: the
    -- count changes only where an item starts, so those instants (and the span's own
    -- start) are the ones to count at.
    SELECT max(n) INTO peak FROM (
        SELECT (SELECT count(*) FROM booking_items o
                 WHERE o.resource_id = NEW.resource_id AND o.status = 'confirmed'
                   AND tstzrange(o.starts_at, o.ends_at, '[)') @> p.t) AS n
          FROM (SELECT NEW.starts_at AS t
                UNION
                SELECT i.starts_at FROM booking_items i
                 WHERE i.resource_id = NEW.resource_id AND i.status = 'confirmed'
                   AND tstzrange(i.starts_at, i.ends_at, '[)')
                       && tstzrange(NEW.starts_at, NEW.ends_at, '[)')
                   AND i.starts_at > NEW.starts_at) AS p
    ) AS counted;
    IF peak > cap THEN
        RAISE EXCEPTION 'resource % is at its capacity (%) at that time', NEW.resource_id, cap
            USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'booking_items_resource_capacity',
                  TABLE = 'booking_items';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER booking_items_resource_capacity
    AFTER INSERT OR UPDATE OF resource_id, starts_at, ends_at, status ON booking_items
    FOR EACH ROW WHEN (NEW.resource_id IS NOT NULL AND NEW.status = 'confirmed')
    EXECUTE FUNCTION booking_items_resource_capacity();
