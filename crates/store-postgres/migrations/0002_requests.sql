-- Cooperation requests and their history.

CREATE TABLE requests (
    id UUID PRIMARY KEY,
    case_id UUID NOT NULL REFERENCES cases (id),
    reference TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    direction TEXT NOT NULL,
    state TEXT NOT NULL,
    legal_basis TEXT,
    requested_country TEXT,
    counterpart TEXT NOT NULL,
    content TEXT NOT NULL,
    drafted_by UUID REFERENCES users (id),
    approved_by UUID REFERENCES users (id),
    approved_digest TEXT,
    refusal_ground TEXT,
    deadline_due BIGINT,
    deadline_source TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    sent_at BIGINT,
    acknowledged_at BIGINT,
    first_data_at BIGINT,
    closed_at BIGINT
);
CREATE INDEX requests_case ON requests (case_id);
CREATE INDEX requests_state ON requests (state);
CREATE INDEX requests_deadline ON requests (deadline_due) WHERE deadline_due IS NOT NULL;

CREATE TABLE request_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id UUID NOT NULL REFERENCES requests (id),
    at BIGINT NOT NULL,
    actor_id UUID,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX request_events_request ON request_events (request_id);
