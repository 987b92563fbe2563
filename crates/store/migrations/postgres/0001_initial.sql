-- Initial schema (PostgreSQL). Keep in step with migrations/sqlite/0001_initial.sql: the same
-- tables, columns and constraints, only the types differ. Times are epoch seconds except
-- `*_ms` columns; booleans are 0/1 integers so both backends decode them the same way.

-- Exactly one row once bootstrapped. The CHECK and the primary key make a second bootstrap
-- (from this or another node) a no-op `INSERT ... ON CONFLICT DO NOTHING`.
CREATE TABLE tenant (
    id            BIGINT PRIMARY KEY CHECK (id = 1),
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    kid                TEXT PRIMARY KEY,
    alg                TEXT NOT NULL,
    public_jwk         TEXT NOT NULL,
    sealed_private_key BYTEA NOT NULL,
    created_at         BIGINT NOT NULL,
    activate_at        BIGINT NOT NULL,
    retire_at          BIGINT
);

CREATE TABLE applications (
    app_id      TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT,
    management  BIGINT NOT NULL DEFAULT 0 CHECK (management IN (0, 1)),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- At most one management application.
CREATE UNIQUE INDEX applications_one_management ON applications (management) WHERE management = 1;

CREATE TABLE clients (
    client_id                  TEXT PRIMARY KEY,
    app_id                     TEXT NOT NULL REFERENCES applications (app_id) ON DELETE CASCADE,
    secret_hash                BYTEA NOT NULL,
    previous_secret_hash       BYTEA,
    previous_secret_expires_at BIGINT,
    settings                   TEXT NOT NULL,
    created_at                 BIGINT NOT NULL,
    updated_at                 BIGINT NOT NULL
);

CREATE INDEX clients_app_id ON clients (app_id);

CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);

-- The change feed other nodes poll to invalidate caches.
CREATE TABLE changes (
    seq   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind  TEXT NOT NULL,
    key   TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);

CREATE INDEX changes_at_ms ON changes (at_ms);
