-- A customer's media on their message's row: the Cloud API's media id (to fetch it again
-- while WhatsApp keeps it), its MIME type and its caption. Runs on PostgreSQL 15 and 18.

ALTER TABLE ai_messages
    ADD COLUMN media_id text,
    ADD COLUMN media_mime_type text,
    ADD COLUMN caption text;
