-- Envelopes of queued messages in their own table (the same schema as on
-- SQLite, where every UPDATE rewrites the whole row: with the envelope in
-- outbox_messages each claim and delivery of an attachment chunk rewrote
-- its megabytes).
CREATE TABLE outbox_envelopes (
    message_id UUID PRIMARY KEY NOT NULL REFERENCES outbox_messages (message_id),
    envelope TEXT NOT NULL
);
INSERT INTO outbox_envelopes (message_id, envelope)
    SELECT message_id, envelope FROM outbox_messages;
ALTER TABLE outbox_messages DROP COLUMN envelope;
