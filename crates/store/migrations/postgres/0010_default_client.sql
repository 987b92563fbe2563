-- The client created with an application, as the hosted platform answers it with the
-- application (`client_id`). No foreign key: the client may be deleted later, and then the
-- application simply has no default client. Keep in step with the other dialect's
-- 0010_default_client.sql.
ALTER TABLE applications ADD COLUMN default_client_id TEXT;
