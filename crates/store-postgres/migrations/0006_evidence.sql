-- Evidence items, the custody log (one Merkle leaf per custody event),
-- the node's signed tree heads, tree heads seen from other nodes, and
-- resumable uploads in progress.
CREATE TABLE evidence_items (
    id UUID PRIMARY KEY NOT NULL,
    case_id UUID NOT NULL REFERENCES cases (id),
    sha256 TEXT NOT NULL,
    md5 TEXT,
    sha1 TEXT,
    size BIGINT NOT NULL,
    file_name TEXT NOT NULL,
    description TEXT NOT NULL,
    source TEXT NOT NULL,
    acquired_at BIGINT,
    acquired_place TEXT,
    performer TEXT,
    authorisation TEXT,
    exhibit_number TEXT,
    origin TEXT,
    state TEXT NOT NULL,
    legal_hold BOOLEAN NOT NULL DEFAULT FALSE,
    retention_until TEXT,
    integrity TEXT NOT NULL,
    verified_at BIGINT,
    disposed_at BIGINT,
    disposal_reason TEXT,
    created_by UUID REFERENCES users (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX evidence_items_case ON evidence_items (case_id, created_at);
CREATE INDEX evidence_items_sha256 ON evidence_items (sha256);
CREATE UNIQUE INDEX evidence_items_exhibit ON evidence_items (case_id, exhibit_number) WHERE exhibit_number IS NOT NULL;

CREATE TABLE custody_events (
    leaf_index BIGINT PRIMARY KEY NOT NULL,
    id UUID NOT NULL UNIQUE,
    case_id UUID NOT NULL REFERENCES cases (id),
    item_id UUID REFERENCES evidence_items (id),
    kind TEXT NOT NULL,
    at BIGINT NOT NULL,
    actor_id UUID,
    actor TEXT NOT NULL,
    record TEXT NOT NULL,
    leaf_hash TEXT NOT NULL
);
CREATE INDEX custody_events_item ON custody_events (item_id, leaf_index);
CREATE INDEX custody_events_case ON custody_events (case_id, leaf_index);

CREATE FUNCTION custody_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the custody log is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER custody_events_no_change BEFORE UPDATE OR DELETE OR TRUNCATE ON custody_events
FOR EACH STATEMENT EXECUTE FUNCTION custody_events_append_only();

CREATE TABLE custody_tree_heads (
    tree_size BIGINT PRIMARY KEY NOT NULL,
    root_hash TEXT NOT NULL,
    signed_at BIGINT NOT NULL,
    signature TEXT NOT NULL,
    public_key TEXT NOT NULL,
    exported BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE foreign_tree_heads (
    public_key TEXT NOT NULL,
    tree_size BIGINT NOT NULL,
    root_hash TEXT NOT NULL,
    node_id TEXT NOT NULL,
    signed_at BIGINT,
    signature TEXT,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (public_key, tree_size)
);

CREATE TABLE evidence_uploads (
    id UUID PRIMARY KEY NOT NULL,
    case_id UUID NOT NULL REFERENCES cases (id),
    created_by UUID NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    size BIGINT NOT NULL,
    received BIGINT NOT NULL,
    metadata TEXT NOT NULL
);

-- One row that every writer of the custody log updates first: writers take
-- turns (on SQLite and across PostgreSQL replicas alike), so leaf indices
-- are assigned without gaps or duplicates.
CREATE TABLE custody_log_writer (
    id BIGINT PRIMARY KEY NOT NULL,
    writes BIGINT NOT NULL
);
INSERT INTO custody_log_writer (id, writes) VALUES (1, 0);
