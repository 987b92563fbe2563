-- Initial schema (SQLite). Keep in step with migrations/postgres/0001_initial.sql: the same
-- tables, columns and constraints, only the types differ. Times are epoch seconds except
-- `*_ms` columns; booleans are 0/1 integers so both backends decode them the same way.

-- Exactly one row once bootstrapped. The CHECK and the primary key make a second bootstrap
-- (from this or another node) a no-op `INSERT ... ON CONFLICT DO NOTHING`.
CREATE TABLE tenant (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    created_at_ms INTEGER NOT NULL
);

CREATE TABLE signing_keys (
    kid                TEXT PRIMARY KEY,
    alg                TEXT NOT NULL,
    public_jwk         TEXT NOT NULL,
    sealed_private_key BLOB NOT NULL,
    created_at         INTEGER NOT NULL,
    activate_at        INTEGER NOT NULL,
    retire_at          INTEGER
);

CREATE TABLE applications (
    app_id      TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT,
    management  INTEGER NOT NULL DEFAULT 0 CHECK (management IN (0, 1)),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- At most one management application.
CREATE UNIQUE INDEX applications_one_management ON applications (management) WHERE management = 1;

CREATE TABLE clients (
    client_id                  TEXT PRIMARY KEY,
    app_id                     TEXT NOT NULL REFERENCES applications (app_id) ON DELETE CASCADE,
    secret_hash                BLOB NOT NULL,
    previous_secret_hash       BLOB,
    previous_secret_expires_at INTEGER,
    settings                   TEXT NOT NULL,
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL
);

CREATE INDEX clients_app_id ON clients (app_id);

CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);

CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);

-- The change feed other nodes poll to invalidate caches. AUTOINCREMENT keeps sequence numbers
-- from being reused after `purge` deletes the newest rows.
CREATE TABLE changes (
    seq   INTEGER PRIMARY KEY AUTOINCREMENT,
    kind  TEXT NOT NULL,
    key   TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);

CREATE INDEX changes_at_ms ON changes (at_ms);
