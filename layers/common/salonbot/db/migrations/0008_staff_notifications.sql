-- Staff notifications collapse per conversation.
--
-- A customer's messages for staff (AI off for the salon, or the conversation handed off)
-- are all stored in ai_messages; the notification is only a nudge. At most one goes out
-- per conversation every STAFF_NOTIFY_INTERVAL_MINUTES, carrying how many messages came
-- since the previous one:
--
-- staff_notified_at: when the last notification for this conversation was published;
-- staff_unnotified:  messages stored for staff since then that no notification counted.
--
-- Both change in the message's own transaction (the conversation's row is locked by the
-- turn from its first statement), so two messages of one customer never both decide to
-- notify, and a rolled-back turn leaves no trace here either.

ALTER TABLE ai_conversations
    ADD COLUMN staff_notified_at timestamptz,
    ADD COLUMN staff_unnotified integer NOT NULL DEFAULT 0 CHECK (staff_unnotified >= 0);
