-- Key rotation: the key a peer announced it will move to, and until when
-- its current (pinned) key stays valid.
ALTER TABLE peers ADD COLUMN next_signing_key TEXT;
ALTER TABLE peers ADD COLUMN key_valid_until BIGINT;
