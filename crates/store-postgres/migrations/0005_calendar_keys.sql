-- A secret per user for the iCalendar feed of deadlines (only its SHA-256
-- is kept), and when a deadline reminder was sent.
ALTER TABLE users ADD COLUMN calendar_key_hash TEXT;
CREATE UNIQUE INDEX users_calendar_key ON users (calendar_key_hash) WHERE calendar_key_hash IS NOT NULL;
ALTER TABLE requests ADD COLUMN reminded_at BIGINT;
