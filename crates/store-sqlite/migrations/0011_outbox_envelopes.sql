-- Envelopes of queued messages in their own table. SQLite rewrites a whole
-- row (overflow pages included) on every UPDATE, so with the envelope in
-- outbox_messages each claim and each delivery of a 3 MB attachment chunk
-- rewrote its 3 MB; the outbox's changing columns now live in small rows.
CREATE TABLE outbox_envelopes (
    message_id BLOB PRIMARY KEY NOT NULL REFERENCES outbox_messages (message_id),
    envelope TEXT NOT NULL
);
INSERT INTO outbox_envelopes (message_id, envelope)
    SELECT message_id, envelope FROM outbox_messages;
ALTER TABLE outbox_messages DROP COLUMN envelope;
