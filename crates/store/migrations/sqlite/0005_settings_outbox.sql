-- Tenant settings and the development outbox (SQLite). Keep in step with
-- migrations/postgres/0005_settings_outbox.sql: the same tables, columns and constraints, only
-- the types differ.

-- Tenant-wide settings documents, one row per name (today only `login_preferences`). `doc` is
-- JSON; a missing row means "all defaults". Writes record a `settings` change so every node
-- reloads its copy.
CREATE TABLE settings (
    name       TEXT PRIMARY KEY,
    doc        TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Messages the development outbox stored instead of sending (SPEC §5), listed newest first
-- at `GET /cis/v1/dev/outbox` and purged by age. `seq` orders messages stored in the same
-- millisecond; AUTOINCREMENT keeps it from going back after a purge.
CREATE TABLE outbox (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    channel       TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    to_addr       TEXT NOT NULL,
    subject       TEXT,
    text          TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
);

CREATE INDEX outbox_to_addr ON outbox (to_addr, created_at_ms, seq);
CREATE INDEX outbox_created_at_ms ON outbox (created_at_ms, seq);
