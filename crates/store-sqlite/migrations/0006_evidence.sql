-- Evidence items, the custody log (one Merkle leaf per custody event),
-- the node's signed tree heads, tree heads seen from other nodes, and
-- resumable uploads in progress.
CREATE TABLE evidence_items (
    id BLOB PRIMARY KEY NOT NULL,
    case_id BLOB NOT NULL REFERENCES cases (id),
    sha256 TEXT NOT NULL,
    md5 TEXT,
    sha1 TEXT,
    size INTEGER NOT NULL,
    file_name TEXT NOT NULL,
    description TEXT NOT NULL,
    source TEXT NOT NULL,
    acquired_at INTEGER,
    acquired_place TEXT,
    performer TEXT,
    authorisation TEXT,
    exhibit_number TEXT,
    origin TEXT,
    state TEXT NOT NULL,
    legal_hold BOOLEAN NOT NULL DEFAULT FALSE,
    retention_until TEXT,
    integrity TEXT NOT NULL,
    verified_at INTEGER,
    disposed_at INTEGER,
    disposal_reason TEXT,
    created_by BLOB REFERENCES users (id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX evidence_items_case ON evidence_items (case_id, created_at);
CREATE INDEX evidence_items_sha256 ON evidence_items (sha256);
CREATE UNIQUE INDEX evidence_items_exhibit ON evidence_items (case_id, exhibit_number) WHERE exhibit_number IS NOT NULL;

CREATE TABLE custody_events (
    leaf_index INTEGER PRIMARY KEY NOT NULL,
    id BLOB NOT NULL UNIQUE,
    case_id BLOB NOT NULL REFERENCES cases (id),
    item_id BLOB REFERENCES evidence_items (id),
    kind TEXT NOT NULL,
    at INTEGER NOT NULL,
    actor_id BLOB,
    actor TEXT NOT NULL,
    record TEXT NOT NULL,
    leaf_hash TEXT NOT NULL
);
CREATE INDEX custody_events_item ON custody_events (item_id, leaf_index);
CREATE INDEX custody_events_case ON custody_events (case_id, leaf_index);

CREATE TRIGGER custody_events_no_update BEFORE UPDATE ON custody_events
BEGIN
    SELECT RAISE(ABORT, 'the custody log is append-only');
END;

CREATE TRIGGER custody_events_no_delete BEFORE DELETE ON custody_events
BEGIN
    SELECT RAISE(ABORT, 'the custody log is append-only');
END;

CREATE TABLE custody_tree_heads (
    tree_size INTEGER PRIMARY KEY NOT NULL,
    root_hash TEXT NOT NULL,
    signed_at INTEGER NOT NULL,
    signature TEXT NOT NULL,
    public_key TEXT NOT NULL,
    exported BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE foreign_tree_heads (
    public_key TEXT NOT NULL,
    tree_size INTEGER NOT NULL,
    root_hash TEXT NOT NULL,
    node_id TEXT NOT NULL,
    signed_at INTEGER,
    signature TEXT,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (public_key, tree_size)
);

CREATE TABLE evidence_uploads (
    id BLOB PRIMARY KEY NOT NULL,
    case_id BLOB NOT NULL REFERENCES cases (id),
    created_by BLOB NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    size INTEGER NOT NULL,
    received INTEGER NOT NULL,
    metadata TEXT NOT NULL
);

-- One row that every writer of the custody log updates first: writers take
-- turns (on SQLite and across PostgreSQL replicas alike), so leaf indices
-- are assigned without gaps or duplicates.
CREATE TABLE custody_log_writer (
    id INTEGER PRIMARY KEY NOT NULL,
    writes INTEGER NOT NULL
);
INSERT INTO custody_log_writer (id, writes) VALUES (1, 0);
