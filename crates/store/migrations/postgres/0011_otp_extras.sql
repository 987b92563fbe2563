-- One-time passcode extras and the users' last authentication (postgres). Keep in step with
-- migrations/sqlite/0011_otp_extras.sql: the same columns, only the types differ.

-- A code sent to an address the caller chose (`custom_email` / `custom_phone_number`):
-- redeeming it marks none of the user's addresses verified (0/1).
ALTER TABLE one_time_codes ADD COLUMN custom_destination BIGINT NOT NULL DEFAULT 0
    CHECK (custom_destination IN (0, 1));
-- The send's `approval_data` (a JSON object of strings), carried into the ID token of the
-- login that redeems the code.
ALTER TABLE one_time_codes ADD COLUMN approval_data TEXT;

-- When the user last completed an authentication (epoch ms); NULL until the first one, which
-- is how the `new_user` claim knows the first login. Users who logged in before this
-- column existed are taken from their sessions still stored.
ALTER TABLE users ADD COLUMN last_auth_ms BIGINT;
UPDATE users SET last_auth_ms =
    (SELECT MAX(s.auth_time) * 1000 FROM sessions s WHERE s.user_id = users.user_id);
