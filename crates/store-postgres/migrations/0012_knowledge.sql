-- The knowledge repository: every document (an instrument, one of its
-- articles, a treaty, a country profile, a decision, a good practice, an
-- offence category) as JSON, with the columns needed to find it. An import
-- replaces whole units (a law with its articles, or one item) in one
-- transaction and moves the generation on; the search index records the
-- generation it was built from.
CREATE TABLE knowledge_documents (
    id TEXT PRIMARY KEY,
    unit TEXT NOT NULL,
    kind TEXT NOT NULL,
    instrument TEXT,
    jurisdiction TEXT NOT NULL,
    position BIGINT NOT NULL,
    body TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX knowledge_documents_unit ON knowledge_documents (unit);
CREATE INDEX knowledge_documents_instrument ON knowledge_documents (instrument, position);
CREATE INDEX knowledge_documents_kind ON knowledge_documents (kind);

CREATE TABLE knowledge_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO knowledge_state (id, generation) VALUES (1, 0);
