-- The number of the last request reference allocated in a case: a request's
-- reference is `CASE/R{n}` with n taken from this sequence, incremented in
-- the transaction that inserts the request, so concurrent creators never
-- pick the same one. Starts from the highest number already used.
ALTER TABLE cases ADD COLUMN request_seq INTEGER NOT NULL DEFAULT 0;
UPDATE cases SET request_seq = COALESCE((
    SELECT MAX(CAST(substr(r.reference, length(cases.reference) + 3) AS INTEGER))
    FROM requests r
    WHERE r.case_id = cases.id AND substr(r.reference, 1, length(cases.reference) + 2) = cases.reference || '/R'
), 0);
