-- The law's clocks (issue 15 §4).

-- A request follows earlier requests of its case: an MLA request or a
-- production order the preservations that keep the data, an extension the
-- preservation it extends. A preservation stays in force while a request
-- for its data is pending (Budapest art. 29(7)).
CREATE TABLE request_follows (
    request_id BLOB NOT NULL REFERENCES requests (id),
    follows_id BLOB NOT NULL REFERENCES requests (id),
    PRIMARY KEY (request_id, follows_id)
);
CREATE INDEX request_follows_followed ON request_follows (follows_id);

-- When an event really happened, beside when it was recorded (`at`); NULL
-- when they are the same.
ALTER TABLE request_events ADD COLUMN occurred_at INTEGER;

-- What started the deadline, and when that event really happened.
ALTER TABLE requests ADD COLUMN deadline_trigger TEXT;
ALTER TABLE requests ADD COLUMN deadline_started_at INTEGER;
UPDATE requests SET deadline_trigger = CASE
    WHEN kind IN ('expedited_preservation', 'preservation_extension') THEN 'preservation_confirmed'
    ELSE 'received' END
WHERE deadline_due IS NOT NULL;

-- The enforcing authority of a European Production Order: when it was
-- notified (Regulation (EU) 2023/1543 art. 8), its window to object
-- (arts. 10(4), 12(1)), and what it answered.
ALTER TABLE requests ADD COLUMN enforcing_notified_at INTEGER;
ALTER TABLE requests ADD COLUMN objection_due INTEGER;
ALTER TABLE requests ADD COLUMN objection_source TEXT;
ALTER TABLE requests ADD COLUMN objection_effect TEXT;
ALTER TABLE requests ADD COLUMN objection_at INTEGER;
ALTER TABLE requests ADD COLUMN objection_conditions TEXT;
