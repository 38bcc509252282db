-- Messages to and from peers. The outbox delivers in order per peer, with
-- retries; the inbox keeps each envelope as received with the receipt
-- returned for it (a duplicate gets the same receipt, never a second row).
CREATE TABLE outbox_messages (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id UUID NOT NULL UNIQUE,
    recipient TEXT NOT NULL,
    message_type TEXT NOT NULL,
    envelope TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT,
    last_error TEXT,
    receipt TEXT,
    retrieval_receipt TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX outbox_pending ON outbox_messages (status, recipient, seq);

CREATE TABLE inbox_messages (
    message_id UUID PRIMARY KEY NOT NULL,
    sender TEXT NOT NULL,
    message_type TEXT NOT NULL,
    envelope TEXT NOT NULL,
    receipt TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    retrieved_at BIGINT,
    retrieved_by TEXT
);
CREATE INDEX inbox_received ON inbox_messages (received_at);
