-- CIBA requests and the delivery queue (sqlite). Keep in step with the other dialect's
-- 0009_ciba_deliveries.sql: the same tables, columns and constraints, only the types differ.

-- Backchannel authentication requests (CIBA Core 1.0), keyed by base64url(SHA-256) of the
-- auth_req_id, which is never stored. Every state change is one conditional UPDATE
-- (pending -> approved|denied by the user, approved -> consumed by the one poll that gets the
-- tokens), so two nodes can never both decide a request or both hand out its tokens.
CREATE TABLE ciba_requests (
    request_hash              TEXT PRIMARY KEY,
    client_id                 TEXT NOT NULL,
    user_id                   TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    scope                     TEXT NOT NULL,
    binding_message           TEXT,
    delivery_mode             TEXT NOT NULL,
    notification_token_sealed TEXT,
    created_at_ms             INTEGER NOT NULL,
    expires_at_ms             INTEGER NOT NULL,
    interval_s                INTEGER NOT NULL,
    last_polled_at_ms         INTEGER,
    status                    TEXT NOT NULL,
    decided_at_ms             INTEGER,
    auth_time                 INTEGER,
    methods                   TEXT NOT NULL
);

CREATE INDEX ciba_requests_expires_at_ms ON ciba_requests (expires_at_ms);

-- Deliveries with retries (SPEC §8): CIBA auth links by email or SMS, CIBA pings. A job is
-- claimed with a lease (FOR UPDATE SKIP LOCKED on PostgreSQL), so two nodes never work on one
-- at the same time, and claimed again when its claimer dies before finishing it. The payload
-- is sealed with the KEK.
CREATE TABLE deliveries (
    id                 TEXT PRIMARY KEY,
    kind               TEXT NOT NULL,
    payload_sealed     TEXT NOT NULL,
    attempts           INTEGER NOT NULL,
    next_attempt_at_ms INTEGER NOT NULL,
    lease_until_ms     INTEGER,
    created_at_ms      INTEGER NOT NULL,
    done_at_ms         INTEGER
);

CREATE INDEX deliveries_due ON deliveries (done_at_ms, next_attempt_at_ms);
