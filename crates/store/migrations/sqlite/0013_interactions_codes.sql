-- Client-journey interactions and authorization codes (sqlite). Keep in step with the other
-- dialect's 0013_interactions_codes.sql: the same tables, columns and constraints, only the
-- types differ.

-- A client journey in progress. The run state is sealed with the KEK; every continuation is
-- one conditional UPDATE on version, so two nodes never both apply a submit.
CREATE TABLE journey_interactions (
    interaction_id TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL,
    journey_id     TEXT NOT NULL,
    state_sealed   TEXT NOT NULL,
    version        INTEGER NOT NULL,
    code_challenge TEXT,
    created_at_ms  INTEGER NOT NULL,
    expires_at_ms  INTEGER NOT NULL
);

CREATE INDEX journey_interactions_expires_at_ms ON journey_interactions (expires_at_ms);

-- One-time authorization codes, keyed by base64url(SHA-256) of the code, which is never
-- stored. Consumed by one conditional UPDATE; a consumed row stays until it expires, so a
-- replay is recognised and the session the first exchange created (sid) can be ended.
CREATE TABLE authorization_codes (
    code_hash      TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    grant_json     TEXT NOT NULL,
    created_at_ms  INTEGER NOT NULL,
    expires_at_ms  INTEGER NOT NULL,
    consumed_at_ms INTEGER,
    sid            TEXT
);

CREATE INDEX authorization_codes_expires_at_ms ON authorization_codes (expires_at_ms);
