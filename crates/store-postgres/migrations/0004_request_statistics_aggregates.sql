-- Statistics kept pre-aggregated per day (of creation), updated in the same
-- transaction as every request write, so the figures over millions of
-- requests are read from a few thousand rows.

CREATE TABLE request_stat_counts (
    day BIGINT NOT NULL,
    kind TEXT NOT NULL,
    direction TEXT NOT NULL,
    state TEXT NOT NULL,
    country TEXT NOT NULL,
    ground TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (day, kind, direction, state, country, ground)
);

CREATE TABLE request_stat_durations (
    day BIGINT NOT NULL,
    measure TEXT NOT NULL,
    hours BIGINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (day, measure, hours)
);

-- Existing requests are counted by `entraide requests rebuild-statistics`.
