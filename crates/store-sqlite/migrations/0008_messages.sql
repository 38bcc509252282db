-- Messages to and from peers. The outbox delivers in order per peer, with
-- retries; the inbox keeps each envelope as received with the receipt
-- returned for it (a duplicate gets the same receipt, never a second row).
CREATE TABLE outbox_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id BLOB NOT NULL UNIQUE,
    recipient TEXT NOT NULL,
    message_type TEXT NOT NULL,
    envelope TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    claimed_until INTEGER,
    last_error TEXT,
    receipt TEXT,
    retrieval_receipt TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    delivered_at INTEGER
);
CREATE INDEX outbox_pending ON outbox_messages (status, recipient, seq);

CREATE TABLE inbox_messages (
    message_id BLOB PRIMARY KEY NOT NULL,
    sender TEXT NOT NULL,
    message_type TEXT NOT NULL,
    envelope TEXT NOT NULL,
    receipt TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    retrieved_at INTEGER,
    retrieved_by TEXT
);
CREATE INDEX inbox_received ON inbox_messages (received_at);
