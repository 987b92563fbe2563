-- Journeys, connections and journey run traces (PostgreSQL). Keep in step with
-- migrations/sqlite/0002_journeys.sql: the same tables, columns and constraints, only the
-- types differ.

-- Every stored version of every journey, also of deleted ones (in-flight runs finish on the
-- version they started with).
CREATE TABLE journeys (
    journey_id TEXT NOT NULL,
    version    BIGINT NOT NULL,
    format     TEXT NOT NULL,
    source     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (journey_id, version)
);

-- One row per journey id ever stored: its highest version and whether it is deleted. The row
-- outlives a delete, so numbering continues when the journey is stored again, and writers of
-- the same id serialise on it (`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`).
CREATE TABLE journey_heads (
    journey_id     TEXT PRIMARY KEY,
    latest_version BIGINT NOT NULL,
    deleted        BIGINT NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1))
);

-- External connections; `definition` is JSON whose secret fields the caller sealed.
CREATE TABLE connections (
    name       TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The trace of one journey run (JSON), purged by age.
CREATE TABLE journey_traces (
    trace_id      TEXT PRIMARY KEY,
    journey_id    TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    trace         TEXT NOT NULL
);

CREATE INDEX journey_traces_created_at_ms ON journey_traces (created_at_ms);
