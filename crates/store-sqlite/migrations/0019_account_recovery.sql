-- Stuck accounts and e-mail.
--
-- `must_change_password`: set when an administrator resets a password; the
-- user can do nothing with a session until they choose a new one.
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;

-- Self-service password reset links: the SHA-256 of the secret in the link
-- (never the secret), valid until `expires_at`, used once (`used_at`).
CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id BLOB NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX password_resets_user ON password_resets (user_id, created_at);

-- Mail waiting to be sent, sent, or given up on. Any replica may send a
-- pending mail once it holds its claim (`claimed_until`); retries wait for
-- `next_attempt_at`. `dedup_key`, when given, makes queueing the same mail
-- twice (two replicas noticing the same event) queue it once. The body is
-- emptied once the mail is sent or given up on: a link it carried is in the
-- database only while the mail waits.
CREATE TABLE mail_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id BLOB NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    dedup_key TEXT UNIQUE,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    sent_at INTEGER
);
CREATE INDEX mail_outbox_due ON mail_outbox (status, next_attempt_at);
