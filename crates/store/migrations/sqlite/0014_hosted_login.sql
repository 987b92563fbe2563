-- The authorization endpoint's state (sqlite). Keep in step with the other dialect's
-- 0014_hosted_login.sql: the same tables, columns and constraints, only the types differ.

-- Browser sessions are rows of `sessions` with a browser token: the cookie holds a random
-- token whose base64url(SHA-256) is here (rotated at every login), never the session id. A
-- backend session has none, so neither kind can be used as the other.
ALTER TABLE sessions ADD COLUMN browser_token_hash TEXT;
CREATE UNIQUE INDEX sessions_browser_token_hash ON sessions (browser_token_hash);

-- The clients that got tokens from a browser session (single sign-on, back-channel logout).
CREATE TABLE session_clients (
    session_hash TEXT NOT NULL REFERENCES sessions (session_hash) ON DELETE CASCADE,
    client_id    TEXT NOT NULL,
    first_at     INTEGER NOT NULL,
    PRIMARY KEY (session_hash, client_id)
);

-- A pending authorization request waiting for the hosted login, keyed by base64url(SHA-256)
-- of its id (the id is in the login page's URL). Single use: the login that completes it
-- deletes it. `csrf_hash` binds it to the browser's login cookie.
CREATE TABLE authorization_requests (
    request_hash  TEXT PRIMARY KEY,
    client_id     TEXT NOT NULL,
    request_json  TEXT NOT NULL,
    csrf_hash     TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL
);

CREATE INDEX authorization_requests_expires_at_ms ON authorization_requests (expires_at_ms);

-- What the first exchange of a code issued (refresh family, access token id), so a replay
-- can revoke exactly those tokens.
ALTER TABLE authorization_codes ADD COLUMN first_use TEXT;
