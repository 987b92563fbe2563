-- Lockout subjects and refresh retries (postgres). Keep in step with
-- migrations/sqlite/0008_lockout_subjects_refresh_retries.sql.

-- Failure counters are keyed by a subject: a user id, or, for an identifier that names no
-- user, `id:` and a keyed hash of the normalised identifier (see the SQLite migration).
ALTER TABLE auth_failures DROP CONSTRAINT auth_failures_user_id_fkey;
ALTER TABLE auth_failures RENAME COLUMN user_id TO subject;
CREATE INDEX auth_failures_window_started_at ON auth_failures (window_started_at);

-- The current token sealed under a key derived from the previous token (see the SQLite
-- migration).
ALTER TABLE refresh_families ADD COLUMN successor_sealed TEXT;
