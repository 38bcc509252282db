-- The signatures of federation requests accepted here, kept until they
-- expire: a request whose signature is already here is a replay and is
-- refused. Only the SHA-256 of the signature is kept (hex), with the node
-- that signed it and when the signature expires (Unix milliseconds).
CREATE TABLE seen_signatures (
    signature_sha256 TEXT PRIMARY KEY,
    sender TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX seen_signatures_expiry ON seen_signatures (expires_at);
