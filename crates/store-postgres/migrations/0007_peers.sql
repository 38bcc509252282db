-- Other nodes this node knows, with the keys pinned when they were added
-- (their signed node document is kept as received).
CREATE TABLE peers (
    node_id TEXT PRIMARY KEY NOT NULL,
    base_url TEXT NOT NULL,
    organisation TEXT NOT NULL,
    country TEXT NOT NULL,
    kind TEXT NOT NULL,
    signing_key TEXT NOT NULL,
    signing_fingerprint TEXT NOT NULL,
    encryption_key TEXT NOT NULL,
    document TEXT NOT NULL,
    signature TEXT NOT NULL,
    status TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX peers_signing_key ON peers (signing_key);
