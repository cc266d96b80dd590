-- What WhatsApp tells about a customer's messages beyond their text.
--
-- ai_messages.reply_to_message_id: the wamid the customer's message quotes (WhatsApp's
--   `context.id`): a reply to a reminder or a confirmation names that message.
-- ai_messages.edited_at / deleted_at: the customer edited the message (its content is
--   the corrected text) or deleted it (its content is cleared, the row stays).
-- ai_conversations.referral: the click-to-WhatsApp ad or post the customer last came
--   from (source_url, source_id, source_type, ctwa_clid, headline, ...), for attribution.
-- message_statuses.recipient_user_id: the business-scoped user id WhatsApp reports for a
--   reply's recipient (a username user's only id).
-- inbound_messages_reply_idx: finds the reply that holds a wamid a customer quotes.

ALTER TABLE ai_messages
    ADD COLUMN reply_to_message_id text,
    ADD COLUMN edited_at timestamptz,
    ADD COLUMN deleted_at timestamptz;

ALTER TABLE ai_conversations
    ADD COLUMN referral jsonb,
    ADD COLUMN referral_at timestamptz;

ALTER TABLE message_statuses
    ADD COLUMN recipient_user_id text;

CREATE INDEX inbound_messages_reply_idx ON inbound_messages USING gin (reply jsonb_path_ops);

-- A message of a burst stored without a reply of its own (a later message of the same
-- customer had already arrived): the burst's last turn answers it, and clears the flag.
ALTER TABLE ai_messages ADD COLUMN held boolean NOT NULL DEFAULT false;
CREATE INDEX ai_messages_held_idx ON ai_messages (conversation_id) WHERE held;
