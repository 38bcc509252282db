-- When a received message was applied (a request registered, an update
-- mirrored...). A message stored but not yet applied — the node stopped in
-- between — is applied again at start or when the sender retries it.
-- Messages received before this column existed were applied on arrival.
ALTER TABLE inbox_messages ADD COLUMN applied_at BIGINT;
UPDATE inbox_messages SET applied_at = received_at;
