-- salonbot schema: salons and their catalogue, clients, bookings, the AI tables the
-- product already uses (ai_conversations, ai_messages) and the processing ledger.
-- Runs on PostgreSQL 15 (RDS) and 18.

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE salons (
    id                        uuid PRIMARY KEY,
    name                      text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    timezone                  text NOT NULL,
    language                  text NOT NULL DEFAULT 'ru',
    currency                  char(3) NOT NULL DEFAULT 'RUB',
    address                   text,
    whatsapp_phone_number_id  text UNIQUE,
    ai_enabled                boolean NOT NULL DEFAULT false,
    daily_budget_usd          numeric(12, 4) NOT NULL DEFAULT 5 CHECK (daily_budget_usd >= 0),
    slot_step_minutes         integer NOT NULL DEFAULT 15 CHECK (slot_step_minutes BETWEEN 5 AND 240),
    min_notice_minutes        integer NOT NULL DEFAULT 60 CHECK (min_notice_minutes >= 0),
    booking_horizon_days      integer NOT NULL DEFAULT 30 CHECK (booking_horizon_days BETWEEN 1 AND 365),
    -- Bumped on every import: caches of salon data (prompts, FAQ replies) key on it.
    revision                  integer NOT NULL DEFAULT 1,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE services (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    salon_id              uuid NOT NULL REFERENCES salons (id) ON DELETE CASCADE,
    code                  text NOT NULL,
    names                 jsonb NOT NULL,            -- {"ru": "Маникюр", "en": "Manicure"}
    duration_minutes      integer NOT NULL CHECK (duration_minutes BETWEEN 5 AND 720),
    buffer_after_minutes  integer NOT NULL DEFAULT 0 CHECK (buffer_after_minutes BETWEEN 0 AND 240),
    price                 numeric(12, 2) NOT NULL CHECK (price >= 0),
    active                boolean NOT NULL DEFAULT true,
    position              integer NOT NULL DEFAULT 0,
    UNIQUE (salon_id, code)
);

CREATE TABLE masters (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    salon_id  uuid NOT NULL REFERENCES salons (id) ON DELETE CASCADE,
    code      text NOT NULL,
    name      text NOT NULL,
    active    boolean NOT NULL DEFAULT true,
    position  integer NOT NULL DEFAULT 0,
    UNIQUE (salon_id, code),
    UNIQUE (salon_id, id)
);

CREATE TABLE master_services (
    master_id   bigint NOT NULL REFERENCES masters (id) ON DELETE CASCADE,
    service_id  bigint NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    PRIMARY KEY (master_id, service_id)
);
CREATE INDEX master_services_service_idx ON master_services (service_id);

-- Weekly schedule in the salon's local time; a break is the gap between two shifts.
CREATE TABLE working_hours (
    master_id   bigint NOT NULL REFERENCES masters (id) ON DELETE CASCADE,
    weekday     smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7),   -- ISO: 1 = Monday
    start_time  time NOT NULL,
    end_time    time NOT NULL,
    CHECK (start_time < end_time),
    EXCLUDE USING gist (
        master_id WITH =, weekday WITH =,
        tsrange('2000-01-01'::date + start_time, '2000-01-01'::date + end_time) WITH &&
    )
);

CREATE TABLE days_off (
    master_id  bigint NOT NULL REFERENCES masters (id) ON DELETE CASCADE,
    day        date NOT NULL,
    PRIMARY KEY (master_id, day)
);

CREATE TABLE clients (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    salon_id    uuid NOT NULL REFERENCES salons (id) ON DELETE CASCADE,
    phone       text NOT NULL,                 -- E.164 without spaces, e.g. +79001234567
    name        text,
    language    text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (salon_id, phone)
);

CREATE TABLE bookings (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code               text NOT NULL UNIQUE,
    salon_id           uuid NOT NULL REFERENCES salons (id) ON DELETE CASCADE,
    master_id          bigint NOT NULL REFERENCES masters (id),
    service_id         bigint NOT NULL REFERENCES services (id),
    client_id          bigint NOT NULL REFERENCES clients (id),
    starts_at          timestamptz NOT NULL,
    ends_at            timestamptz NOT NULL,   -- end of the service itself
    blocked_until      timestamptz NOT NULL,   -- ends_at plus the service's buffer
    price              numeric(12, 2) NOT NULL,
    status             text NOT NULL DEFAULT 'confirmed'
                       CHECK (status IN ('confirmed', 'cancelled', 'completed', 'no_show')),
    source             text NOT NULL DEFAULT 'whatsapp',
    -- The inbound message that created it: a redelivered message finds its booking.
    source_message_id  text UNIQUE,
    moved_from         bigint REFERENCES bookings (id),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    cancelled_at       timestamptz,
    CHECK (starts_at < ends_at AND ends_at <= blocked_until),
    -- Two live bookings of one master never overlap: the database enforces it.
    CONSTRAINT bookings_no_overlap EXCLUDE USING gist (
        master_id WITH =,
        tstzrange(starts_at, blocked_until, '[)') WITH &&
    ) WHERE (status = 'confirmed')
);
CREATE INDEX bookings_salon_starts_idx ON bookings (salon_id, starts_at) WHERE status = 'confirmed';
CREATE INDEX bookings_client_idx ON bookings (client_id, starts_at);

-- Conversation id is `conv_<salon>_<phone>`, as the product already uses.
CREATE TABLE ai_conversations (
    id               text PRIMARY KEY,
    salon_id         uuid NOT NULL REFERENCES salons (id) ON DELETE CASCADE,
    phone_number     text NOT NULL,
    client_id        bigint REFERENCES clients (id) ON DELETE SET NULL,
    language         text,
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'handoff', 'closed')),
    handoff_until    timestamptz,
    -- Guided-flow dialogue state; survives container restarts.
    state            jsonb NOT NULL DEFAULT '{}'::jsonb,
    state_updated_at timestamptz,
    message_count    integer NOT NULL DEFAULT 0,
    total_tokens     integer NOT NULL DEFAULT 0,
    total_cost       numeric(14, 6) NOT NULL DEFAULT 0,
    booking_count    integer NOT NULL DEFAULT 0,
    last_message_at  timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (salon_id, phone_number)
);
CREATE INDEX ai_conversations_salon_created_idx ON ai_conversations (salon_id, created_at);
CREATE INDEX ai_conversations_last_message_idx ON ai_conversations (last_message_at);

CREATE TABLE ai_messages (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id    text NOT NULL REFERENCES ai_conversations (id) ON DELETE CASCADE,
    salon_id           uuid NOT NULL REFERENCES salons (id) ON DELETE CASCADE,
    role               text NOT NULL CHECK (role IN ('user', 'assistant', 'tool', 'system', 'staff')),
    content            text NOT NULL DEFAULT '',
    message_type       text NOT NULL DEFAULT 'text',
    tool_calls         jsonb,
    tool_call_id       text,
    -- WhatsApp message id (wamid) of an inbound message; unique for idempotency.
    external_id        text,
    prompt_tokens      integer NOT NULL DEFAULT 0,
    completion_tokens  integer NOT NULL DEFAULT 0,
    cached_tokens      integer NOT NULL DEFAULT 0,
    tokens_used        integer GENERATED ALWAYS AS (prompt_tokens + completion_tokens) STORED,
    cost               numeric(14, 8) NOT NULL DEFAULT 0,
    response_time_ms   integer,
    model              text,
    booking_code       text,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ai_messages_conversation_created_idx ON ai_messages (conversation_id, created_at);
CREATE INDEX ai_messages_salon_created_idx ON ai_messages (salon_id, created_at);
CREATE UNIQUE INDEX ai_messages_external_id_key ON ai_messages (external_id)
    WHERE external_id IS NOT NULL;

-- One row per inbound WhatsApp message the processor has taken on. Written in the same
-- transaction as the message's effects; the reply is sent after commit and its send
-- state recorded here, so a redelivery resumes instead of repeating.
CREATE TABLE inbound_messages (
    message_id        text PRIMARY KEY,        -- wamid
    salon_id          uuid NOT NULL REFERENCES salons (id) ON DELETE CASCADE,
    conversation_id   text REFERENCES ai_conversations (id) ON DELETE SET NULL,
    phone_number      text NOT NULL,
    received_at       timestamptz NOT NULL,
    processed_at      timestamptz NOT NULL DEFAULT now(),
    reply             jsonb,                   -- outgoing WhatsApp payload(s)
    reply_status      text NOT NULL DEFAULT 'pending'
                      CHECK (reply_status IN ('pending', 'sent', 'failed', 'none')),
    reply_attempts    integer NOT NULL DEFAULT 0,
    reply_error       text,
    reply_message_id  text,                    -- wamid WhatsApp gave our reply
    sent_at           timestamptz
);
CREATE INDEX inbound_messages_salon_processed_idx ON inbound_messages (salon_id, processed_at);

-- Delivery statuses WhatsApp reports for our outgoing messages.
CREATE TABLE message_statuses (
    message_id    text NOT NULL,               -- wamid of our outgoing message
    status        text NOT NULL,               -- sent, delivered, read, failed
    recipient     text,
    error_code    integer,
    error_title   text,
    occurred_at   timestamptz NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, status)
);
