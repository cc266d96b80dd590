-- Reaching out to customers within WhatsApp's rules (docs/outbound.md).
--
-- The 24-hour window: when the customer last wrote to the salon. A free-form message
-- (bot, staff, reminder) goes out only within 24 hours of it; outside, only a template.
ALTER TABLE ai_conversations ADD COLUMN last_inbound_at timestamptz;
-- Conversations from before: their latest customer message as stored (within seconds of
-- when the customer sent it), so an open window is not taken for a closed one.
UPDATE ai_conversations c
   SET last_inbound_at = (SELECT max(m.created_at) FROM ai_messages m
                           WHERE m.conversation_id = c.id AND m.role = 'user');

-- The salon's WhatsApp Business Account (its templates live there) and its outbound
-- settings from the salon file: reminders, quiet hours.
ALTER TABLE salons
    ADD COLUMN whatsapp_business_account_id text,
    ADD COLUMN outbound jsonb NOT NULL DEFAULT '{}'::jsonb;

-- The customer tapped "Confirm" on a reminder (cleared when the booking moves).
ALTER TABLE bookings ADD COLUMN customer_confirmed_at timestamptz;

-- The salon's message templates by purpose and language, with Meta's verdict. Only an
-- APPROVED template is ever sent. A re-import keeps the verdict of an unchanged template.
CREATE TABLE whatsapp_templates (
    salon_id          uuid NOT NULL REFERENCES salons (id) ON DELETE CASCADE,
    purpose           text NOT NULL,
    language          text NOT NULL,
    name              text NOT NULL,
    category          text NOT NULL CHECK (category IN ('utility', 'marketing')),
    spec              jsonb NOT NULL,          -- body, body_parameters, buttons
    status            text NOT NULL DEFAULT 'draft'
                      CHECK (status IN ('draft', 'pending', 'approved', 'rejected',
                                        'paused', 'disabled')),
    status_reason     text,
    meta_template_id  text,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (salon_id, purpose, language)
);
CREATE INDEX whatsapp_templates_name_idx ON whatsapp_templates (name, language);

-- Every message the salon starts (reminders, offers, requests), claimed here before its
-- send request: the unique key makes each (booking, kind, booking start) go out at most
-- once however runs overlap, and a claim left `sending` (a crash, an unknown outcome) is
-- never sent again. No phone number: the customer is the booking's client.
CREATE TABLE outbound_messages (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    salon_id       uuid NOT NULL REFERENCES salons (id) ON DELETE CASCADE,
    booking_id     bigint REFERENCES bookings (id) ON DELETE CASCADE,
    kind           text NOT NULL,              -- reminder:1440, ...
    for_starts_at  timestamptz,                -- the booking's start it was about
    state          text NOT NULL DEFAULT 'sending'
                   CHECK (state IN ('sending', 'sent', 'failed', 'unknown', 'skipped')),
    form           text CHECK (form IN ('template', 'free_form')),
    template_name  text,
    category       text,                       -- utility, marketing, service
    wamid          text UNIQUE,
    error          text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    sent_at        timestamptz,
    UNIQUE (booking_id, kind, for_starts_at)
);
CREATE INDEX outbound_messages_salon_created_idx ON outbound_messages (salon_id, created_at);
