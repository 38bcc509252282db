-- Cooperation requests and their history.

CREATE TABLE requests (
    id BLOB PRIMARY KEY NOT NULL,
    case_id BLOB NOT NULL REFERENCES cases (id),
    reference TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    direction TEXT NOT NULL,
    state TEXT NOT NULL,
    legal_basis TEXT,
    requested_country TEXT,
    counterpart TEXT NOT NULL,
    content TEXT NOT NULL,
    drafted_by BLOB REFERENCES users (id),
    approved_by BLOB REFERENCES users (id),
    approved_digest TEXT,
    refusal_ground TEXT,
    deadline_due INTEGER,
    deadline_source TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    sent_at INTEGER,
    acknowledged_at INTEGER,
    first_data_at INTEGER,
    closed_at INTEGER
);
CREATE INDEX requests_case ON requests (case_id);
CREATE INDEX requests_state ON requests (state);
CREATE INDEX requests_deadline ON requests (deadline_due) WHERE deadline_due IS NOT NULL;

CREATE TABLE request_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id BLOB NOT NULL REFERENCES requests (id),
    at INTEGER NOT NULL,
    actor_id BLOB,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX request_events_request ON request_events (request_id);
