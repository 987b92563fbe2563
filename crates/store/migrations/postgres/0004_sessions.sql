-- Sessions and authentication failures (postgres). Keep in step with
-- migrations/sqlite/0004_sessions.sql: the same tables, columns and constraints, only the types
-- differ.

-- One row per backend session. The session id itself (≥ 256 random bits) is never stored:
-- `session_hash` is base64url(SHA-256(session id)), which is also the public `sid` claim.
-- `methods` is a JSON array of amr values.
CREATE TABLE sessions (
    session_hash TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    client_id    TEXT NOT NULL,
    methods      TEXT NOT NULL,
    auth_time    BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    ended_at     BIGINT
);

CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- Failed authentications per (user, method), incremented atomically (one upsert) before
-- the count is compared with the limit.
CREATE TABLE auth_failures (
    user_id           TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    method            TEXT NOT NULL,
    count             BIGINT NOT NULL,
    window_started_at BIGINT NOT NULL,
    locked_until      BIGINT,
    PRIMARY KEY (user_id, method)
);
