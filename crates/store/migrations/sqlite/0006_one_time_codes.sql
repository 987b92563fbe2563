-- One-time codes (sqlite): email/SMS passcodes and email magic links. Keep in step with
-- migrations/postgres/0006_one_time_codes.sql: the same table, columns and constraints, only
-- the types differ.

-- The code itself is never stored: `code_hash` is base64url(HMAC-SHA-256) under a key
-- derived from the KEK (passcodes hashed with their user id). `kind` is the amr the code
-- proves (`eotp`, `sms`, `eml`). `consumed_at` is set when the code is redeemed or replaced
-- by a newer code of the same user, client and kind; redeeming is one conditional UPDATE
-- `... WHERE consumed_at IS NULL`, so a code is redeemed at most once.
CREATE TABLE one_time_codes (
    code_id      TEXT PRIMARY KEY,
    code_hash    TEXT NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    client_id    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    destination  TEXT,
    redirect_uri TEXT,
    state        TEXT,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    consumed_at  INTEGER
);

CREATE INDEX one_time_codes_code_hash ON one_time_codes (code_hash);
CREATE INDEX one_time_codes_user_client_kind ON one_time_codes (user_id, client_id, kind);
CREATE INDEX one_time_codes_expires_at ON one_time_codes (expires_at);
