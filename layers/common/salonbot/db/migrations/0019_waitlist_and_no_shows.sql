-- The waitlist: customers who wanted a day (and, optionally, a master) that was full.
-- When a live booking's time frees up (cancelled, marked a no-show, moved), the trigger
-- below records the freed slot in the same transaction, whatever path changed the
-- booking; the outbound run offers each freed slot to the waitlist once, and the first
-- customer to take it gets it.
CREATE TABLE waitlist (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    salon_id    uuid NOT NULL REFERENCES salons (id) ON DELETE CASCADE,
    phone       text NOT NULL,
    service_id  bigint NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    master_id   bigint REFERENCES masters (id) ON DELETE CASCADE,   -- NULL: any master
    day         date NOT NULL,                                       -- the salon's calendar day
    language    text,
    state       text NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'booked')),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX waitlist_once_idx
    ON waitlist (salon_id, phone, service_id, day, coalesce(master_id, 0));
CREATE INDEX waitlist_waiting_idx ON waitlist (salon_id, service_id, day) WHERE state = 'waiting';

-- A slot a booking left: offered once (offered_at), until expires_at; taken_booking_id
-- is the booking of the customer who took it.
CREATE TABLE freed_slots (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    salon_id          uuid NOT NULL REFERENCES salons (id) ON DELETE CASCADE,
    service_id        bigint NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    master_id         bigint NOT NULL REFERENCES masters (id) ON DELETE CASCADE,
    starts_at         timestamptz NOT NULL,
    freed_at          timestamptz NOT NULL DEFAULT now(),
    offered_at        timestamptz,
    expires_at        timestamptz,
    taken_booking_id  bigint REFERENCES bookings (id) ON DELETE SET NULL
);
CREATE INDEX freed_slots_unoffered_idx ON freed_slots (salon_id) WHERE offered_at IS NULL;

-- One offer of a freed slot to one waitlisted customer, claimed before it is sent (the
-- same states as outbound_messages).
CREATE TABLE waitlist_offers (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slot_id      bigint NOT NULL REFERENCES freed_slots (id) ON DELETE CASCADE,
    waitlist_id  bigint NOT NULL REFERENCES waitlist (id) ON DELETE CASCADE,
    state        text NOT NULL DEFAULT 'sending'
                 CHECK (state IN ('sending', 'sent', 'failed', 'unknown')),
    wamid        text,
    error        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (slot_id, waitlist_id)
);

CREATE FUNCTION bookings_free_slot() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'confirmed'
       AND (NEW.status IN ('cancelled', 'no_show')
            OR NEW.starts_at <> OLD.starts_at OR NEW.master_id <> OLD.master_id) THEN
        INSERT INTO freed_slots (salon_id, service_id, master_id, starts_at)
        VALUES (OLD.salon_id, OLD.service_id, OLD.master_id, OLD.starts_at);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER bookings_free_slot
    AFTER UPDATE OF status, starts_at, master_id ON bookings
    FOR EACH ROW EXECUTE FUNCTION bookings_free_slot();

-- A booking of a client with `confirm_required_after_no_shows` or more no-shows: handed
-- to the salon's staff when made, and its reminder asks the customer to confirm.
ALTER TABLE bookings ADD COLUMN needs_confirmation boolean NOT NULL DEFAULT false;
