-- Refresh tokens (sqlite). Keep in step with migrations/postgres/0007_refresh_tokens.sql: the same
-- tables, columns and constraints, only the types differ.

-- One row per refresh token ever issued, until its family expires. The token itself (256
-- random bits) is never stored: `token_hash` is base64url(SHA-256(token)). Every rotation
-- consumes one row (`used_at`) and inserts its successor in the same family; presenting a
-- consumed token revokes the whole family (`revoked_at` on every row). The family's
-- client, user, session and grant (JSON: resource and requested claims) are copied to each
-- row so a rotation is one conditional UPDATE plus one INSERT. `session_sealed` is the
-- session id sealed with the KEK (AES-256-GCM, the family id as associated data), so a
-- refresh can answer the `session_id` the token response carries.
CREATE TABLE refresh_tokens (
    token_hash        TEXT PRIMARY KEY,
    family_id         TEXT NOT NULL,
    client_id         TEXT NOT NULL,
    user_id           TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    session_hash      TEXT NOT NULL,
    session_sealed    TEXT NOT NULL,
    grant_doc         TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    family_expires_at INTEGER NOT NULL,
    used_at           INTEGER,
    revoked_at        INTEGER
);

CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_session_hash ON refresh_tokens (session_hash);
CREATE INDEX refresh_tokens_family_expires_at ON refresh_tokens (family_expires_at);
