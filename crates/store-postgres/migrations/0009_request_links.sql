-- Requests exchanged with a peer: which node holds the other side, and its
-- id for the request there (known once the peer has told it).
CREATE TABLE request_links (
    request_id UUID PRIMARY KEY NOT NULL REFERENCES requests (id),
    peer_node TEXT NOT NULL,
    peer_request_id UUID,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX request_links_peer ON request_links (peer_node, peer_request_id) WHERE peer_request_id IS NOT NULL;
