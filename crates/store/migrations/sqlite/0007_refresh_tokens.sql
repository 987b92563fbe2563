-- Refresh tokens (sqlite). Keep in step with migrations/postgres/0007_refresh_tokens.sql: the same
-- tables, columns and constraints, only the types differ.

-- One row per refresh-token family (one backend authentication), updated in place by every
-- rotation, so the table grows with logins, not with refreshes. A token is
-- `<family_id>.<generation>.<256 random bits>`; only base64url(SHA-256(token)) of the current
-- generation (`token_hash`) and of the one before (`previous_hash`) are stored. A rotation
-- is one conditional UPDATE by primary key that only the holder of the current generation
-- can win; presenting an older generation revokes the family (`revoked_at`). The family's
-- client, user, session, the session id sealed with the KEK (AES-256-GCM, the family id as
-- associated data) and the grant (JSON: resource and requested claims) are fixed at creation.
CREATE TABLE refresh_families (
    family_id         TEXT PRIMARY KEY,
    generation        INTEGER NOT NULL,
    token_hash        TEXT NOT NULL,
    previous_hash     TEXT,
    client_id         TEXT NOT NULL,
    user_id           TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    session_hash      TEXT NOT NULL,
    session_sealed    TEXT NOT NULL,
    grant_doc         TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    rotated_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    family_expires_at INTEGER NOT NULL,
    revoked_at        INTEGER
);

CREATE INDEX refresh_families_user_id ON refresh_families (user_id);
CREATE INDEX refresh_families_session_hash ON refresh_families (session_hash);
CREATE INDEX refresh_families_family_expires_at ON refresh_families (family_expires_at);
