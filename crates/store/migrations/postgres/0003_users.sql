-- Users (PostgreSQL). Keep in step with migrations/sqlite/0003_users.sql: the same tables,
-- columns and constraints, only the types differ.

-- One row per user. `doc` is the whole record as JSON (without the password hash); the
-- normalised unique keys are columns so the database enforces uniqueness (several NULLs are
-- allowed: an address is unique only when present).
CREATE TABLE users (
    user_id       TEXT PRIMARY KEY,
    username_norm TEXT UNIQUE,
    email_norm    TEXT UNIQUE,
    phone_number  TEXT UNIQUE,
    doc           TEXT NOT NULL,
    password_hash TEXT,
    status        TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE INDEX users_created_at ON users (created_at, user_id);
