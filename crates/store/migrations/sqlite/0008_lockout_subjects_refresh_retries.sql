-- Lockout subjects and refresh retries (sqlite). Keep in step with
-- migrations/postgres/0008_lockout_subjects_refresh_retries.sql.

-- Failure counters are keyed by a subject: a user id, or, for an identifier that names no
-- user, `id:` and a keyed hash of the normalised identifier. Unknown identifiers then follow
-- the same visible counter and lockout as known ones, so the lockout cannot tell which
-- accounts exist. Subjects are no longer only users, so the foreign key goes; deleting a
-- user deletes its counters explicitly, and housekeeping deletes stale ones.
CREATE TABLE auth_failures_v2 (
    subject           TEXT NOT NULL,
    method            TEXT NOT NULL,
    count             INTEGER NOT NULL,
    window_started_at INTEGER NOT NULL,
    locked_until      INTEGER,
    PRIMARY KEY (subject, method)
);
INSERT INTO auth_failures_v2 (subject, method, count, window_started_at, locked_until)
    SELECT user_id, method, count, window_started_at, locked_until FROM auth_failures;
DROP TABLE auth_failures;
ALTER TABLE auth_failures_v2 RENAME TO auth_failures;
CREATE INDEX auth_failures_window_started_at ON auth_failures (window_started_at);

-- A family keeps its current token sealed (AES-256-GCM) under a key derived from the
-- previous token, so the client that presents the previous token again within the reuse
-- window (a retry after a lost answer) gets the same successor; the database alone never
-- holds a usable token.
ALTER TABLE refresh_families ADD COLUMN successor_sealed TEXT;
