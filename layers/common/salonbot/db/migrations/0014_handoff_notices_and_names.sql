-- A handed-off customer is never met with silence.
--
-- While staff have the conversation the assistant does not answer, but the customer's
-- messages are acknowledged: the first one after the hand-off began with "the staff will
-- answer you here", later ones with a short acknowledgement at most once every
-- HANDOFF_ACK_MINUTES, and none while the staff themselves answered within that time.
--
-- handoff_notice_at: when the customer was last told the staff will answer (NULL: not
--                    yet in this hand-off; every new hand-off starts with NULL);
-- staff_replied_at:  the staff's latest reply to the customer (it starts or extends the
--                    hand-off).

ALTER TABLE ai_conversations
    ADD COLUMN handoff_notice_at timestamptz,
    ADD COLUMN staff_replied_at timestamptz;

-- Names per language from the salon file: a service's aliases (the words customers use
-- for it, {"ru": [...], "en": [...]}), a master's name and the salon's address written
-- for other languages ({"en": "Anna"}). masters.name and salons.address stay the names
-- in the salon's own language, which every existing reader keeps using.

ALTER TABLE services ADD COLUMN aliases jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE masters ADD COLUMN names jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE salons ADD COLUMN addresses jsonb NOT NULL DEFAULT '{}'::jsonb;
