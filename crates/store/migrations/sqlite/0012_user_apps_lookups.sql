-- Users: the lookup columns of the platform's identifiers, application membership, and
-- per-application login preferences (SQLite). Keep in step with
-- migrations/postgres/0011_user_apps_lookups.sql: the same tables, columns and constraints,
-- only the types and the JSON functions of the backfill differ.

-- `external_user_id` is the platform's "unique tenant-level identifier in your system":
-- unique when present, as a UNIQUE index (several NULLs allowed). `external_account_id` is
-- "set by the app" and not unique: an ordinary index. Both are copies of the document's
-- fields, written with every user write.
ALTER TABLE users ADD COLUMN external_user_id TEXT;
ALTER TABLE users ADD COLUMN external_account_id TEXT;

UPDATE users SET external_account_id = json_extract(doc, '$.external_account_id');

-- Before this migration `external_user_id` was not unique: if two users shared one, the
-- oldest keeps it as its identifier (the other's document still holds it, and that user's
-- next write answers 409 until its `external_user_id` changes).
UPDATE users SET external_user_id = json_extract(doc, '$.external_user_id')
WHERE NOT EXISTS (
    SELECT 1 FROM users AS older
    WHERE json_extract(older.doc, '$.external_user_id') = json_extract(users.doc, '$.external_user_id')
      AND (older.created_at < users.created_at
           OR (older.created_at = users.created_at AND older.user_id < users.user_id))
);

CREATE UNIQUE INDEX users_external_user_id ON users (external_user_id);
CREATE INDEX users_external_account_id ON users (external_account_id, user_id);

-- Which applications a user belongs to (the platform's "app users"). Users created before
-- this migration belong to none. Rows go with the user and with the application.
CREATE TABLE user_apps (
    user_id    TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    app_id     TEXT NOT NULL REFERENCES applications (app_id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, app_id)
);

CREATE INDEX user_apps_app_id ON user_apps (app_id, user_id);

-- An application's own login preferences (`/cis/v1/loginPreferences/{app_id}`): the whole
-- document, which overrides the tenant's (`settings.login_preferences`) for logins by the
-- application's clients. Goes with the application.
CREATE TABLE app_login_preferences (
    app_id     TEXT PRIMARY KEY REFERENCES applications (app_id) ON DELETE CASCADE,
    doc        TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
