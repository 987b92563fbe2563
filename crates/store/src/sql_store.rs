//! [`SqlStore`]: the [`Store`] port over SQL, one implementation for both backends.
//!
//! Reads go to the reader pool (SQLite: `query_only` connections that WAL lets run while the
//! writer writes); every mutation goes through [`Writer`] and records its change rows in the
//! same transaction.

use async_trait::async_trait;
use sqlx::AnyPool;
use tessera_delivery::OutboxRecord;
use tessera_identity::ports::*;
use tessera_identity::{
    Application, AuthFailures, BootstrapOutcome, BootstrapPlan, Change, ChangeKind, Client,
    ConnectionRecord, FailurePolicy, JourneyRecord, SessionRecord, StoreError, StoredSigningKey,
    TraceRecord, User, UserFilter, UserLookup, UserPage,
};
use tessera_identity::{CodeRedemption, OneTimeCode, Redemption};
use tessera_identity::{RefreshFamily, RefreshRotation, Rotation};

use crate::error::{backend, violation, write_error, Violation};
use crate::outbox::{outbox_record, OUTBOX_COLUMNS};
use crate::refresh;
use crate::rows::{
    self, APPLICATION_COLUMNS, AUTH_FAILURE_COLUMNS, CLIENT_COLUMNS, CONNECTION_COLUMNS,
    JOURNEY_COLUMNS, SESSION_COLUMNS, SIGNING_KEY_COLUMNS, TRACE_COLUMNS, USER_COLUMNS,
};
use crate::writer::{WriteTx, Writer};

/// The SQL implementation of [`Store`], shared by SQLite and PostgreSQL.
pub(crate) struct SqlStore {
    backend: &'static str,
    reader: AnyPool,
    writer: Writer,
}

impl SqlStore {
    pub(crate) fn new(backend: &'static str, reader: AnyPool, writer: Writer) -> Self {
        Self {
            backend,
            reader,
            writer,
        }
    }

    /// Deletes the row whose key column equals `key` (`sql` binds it as `$1`) and records a
    /// change of `kind`; `NotFound` when no row matched.
    async fn delete_one(&self, sql: &'static str, key: &str, kind: ChangeKind) -> StoreResult<()> {
        let key = key.to_string();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let deleted = sqlx::query(sql)
                        .bind(&key)
                        .execute(tx.conn())
                        .await
                        .map_err(backend)?
                        .rows_affected();
                    if deleted == 0 {
                        return Err(StoreError::NotFound);
                    }
                    tx.record_change(kind, &key).await
                })
            })
            .await
    }

    /// Runs one `DELETE … WHERE <column> < $1` (`sql` binds `bound` as `$1`) and returns how
    /// many rows went: the housekeeping purges.
    async fn delete_older(&self, sql: &'static str, bound: i64) -> StoreResult<u64> {
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    Ok(sqlx::query(sql)
                        .bind(bound)
                        .execute(tx.conn())
                        .await
                        .map_err(backend)?
                        .rows_affected())
                })
            })
            .await
    }
}

#[async_trait]
impl TenantStore for SqlStore {
    fn backend(&self) -> &'static str {
        self.backend
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn bootstrap(&self, plan: &BootstrapPlan) -> StoreResult<BootstrapOutcome> {
        let plan = plan.clone();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    // First, so the loser of a race stops here: the primary key makes the
                    // second insert wait for the first transaction and then do nothing.
                    let created = sqlx::query(
                        "INSERT INTO tenant (id, created_at_ms) VALUES (1, $1) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(tx.now_ms())
                    .execute(tx.conn())
                    .await
                    .map_err(backend)?
                    .rows_affected();
                    if created == 0 {
                        return Ok(BootstrapOutcome::AlreadyBootstrapped);
                    }
                    for key in &plan.signing_keys {
                        insert_signing_key(tx, key).await?;
                    }
                    let management_app = Application {
                        management: true,
                        ..plan.management_app.clone()
                    };
                    insert_application(tx, &management_app).await?;
                    insert_client(tx, &plan.admin_client).await?;
                    Ok(BootstrapOutcome::Created)
                })
            })
            .await
    }

    async fn management_application(&self) -> StoreResult<Option<Application>> {
        let sql = format!("SELECT {APPLICATION_COLUMNS} FROM applications WHERE management = 1");
        sqlx::query(&sql)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?
            .as_ref()
            .map(rows::application)
            .transpose()
    }
}

#[async_trait]
impl KeyStore for SqlStore {
    async fn list_signing_keys(&self) -> StoreResult<Vec<StoredSigningKey>> {
        let sql =
            format!("SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys ORDER BY created_at, kid");
        sqlx::query(&sql)
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?
            .iter()
            .map(rows::signing_key)
            .collect()
    }

    async fn rotate_signing_keys(
        &self,
        new_keys: &[StoredSigningKey],
        retire: &[(String, i64)],
    ) -> StoreResult<()> {
        let new_keys = new_keys.to_vec();
        let retire = retire.to_vec();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    for key in &new_keys {
                        insert_signing_key(tx, key).await?;
                    }
                    for (kid, retire_at) in &retire {
                        let updated =
                            sqlx::query("UPDATE signing_keys SET retire_at = $2 WHERE kid = $1")
                                .bind(kid)
                                .bind(*retire_at)
                                .execute(tx.conn())
                                .await
                                .map_err(backend)?
                                .rows_affected();
                        if updated == 0 {
                            return Err(StoreError::NotFound);
                        }
                        tx.record_change(ChangeKind::SigningKeys, kid).await?;
                    }
                    Ok(())
                })
            })
            .await
    }

    async fn delete_retired_signing_keys(&self, now_s: i64) -> StoreResult<u64> {
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let deleted = sqlx::query_scalar::<_, String>(
                        "DELETE FROM signing_keys \
                         WHERE retire_at IS NOT NULL AND retire_at < $1 RETURNING kid",
                    )
                    .bind(now_s)
                    .fetch_all(tx.conn())
                    .await
                    .map_err(backend)?;
                    for kid in &deleted {
                        tx.record_change(ChangeKind::SigningKeys, kid).await?;
                    }
                    Ok(count(deleted.len()))
                })
            })
            .await
    }
}

#[async_trait]
impl ClientStore for SqlStore {
    async fn create_application(&self, app: &Application) -> StoreResult<()> {
        let app = app.clone();
        self.writer
            .run(move |tx| Box::pin(async move { insert_application(tx, &app).await }))
            .await
    }

    async fn get_application(&self, app_id: &str) -> StoreResult<Option<Application>> {
        let sql = format!("SELECT {APPLICATION_COLUMNS} FROM applications WHERE app_id = $1");
        sqlx::query(&sql)
            .bind(app_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?
            .as_ref()
            .map(rows::application)
            .transpose()
    }

    async fn list_applications(&self) -> StoreResult<Vec<Application>> {
        let sql =
            format!("SELECT {APPLICATION_COLUMNS} FROM applications ORDER BY created_at, app_id");
        sqlx::query(&sql)
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?
            .iter()
            .map(rows::application)
            .collect()
    }

    async fn update_application(&self, app: &Application) -> StoreResult<()> {
        let app = app.clone();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let updated = sqlx::query(
                        "UPDATE applications SET name = $2, description = $3, updated_at = $4 \
                         WHERE app_id = $1",
                    )
                    .bind(&app.app_id)
                    .bind(&app.name)
                    .bind(&app.description)
                    .bind(app.updated_at)
                    .execute(tx.conn())
                    .await
                    .map_err(backend)?
                    .rows_affected();
                    if updated == 0 {
                        return Err(StoreError::NotFound);
                    }
                    tx.record_change(ChangeKind::Application, &app.app_id).await
                })
            })
            .await
    }

    async fn delete_application(&self, app_id: &str) -> StoreResult<()> {
        let app_id = app_id.to_string();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    // The clients go with the application (ON DELETE CASCADE); name them in
                    // the change feed so other nodes drop them from their caches too.
                    let client_ids = sqlx::query_scalar::<_, String>(
                        "SELECT client_id FROM clients WHERE app_id = $1 ORDER BY client_id",
                    )
                    .bind(&app_id)
                    .fetch_all(tx.conn())
                    .await
                    .map_err(backend)?;
                    let deleted = sqlx::query("DELETE FROM applications WHERE app_id = $1")
                        .bind(&app_id)
                        .execute(tx.conn())
                        .await
                        .map_err(backend)?
                        .rows_affected();
                    if deleted == 0 {
                        return Err(StoreError::NotFound);
                    }
                    tx.record_change(ChangeKind::Application, &app_id).await?;
                    for client_id in &client_ids {
                        tx.record_change(ChangeKind::Client, client_id).await?;
                    }
                    Ok(())
                })
            })
            .await
    }

    async fn create_client(&self, client: &Client) -> StoreResult<()> {
        let client = client.clone();
        self.writer
            .run(move |tx| Box::pin(async move { insert_client(tx, &client).await }))
            .await
    }

    async fn get_client(&self, client_id: &str) -> StoreResult<Option<Client>> {
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id = $1");
        sqlx::query(&sql)
            .bind(client_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?
            .as_ref()
            .map(rows::client)
            .transpose()
    }

    async fn list_clients(&self, app_id: &str) -> StoreResult<Vec<Client>> {
        let sql = format!(
            "SELECT {CLIENT_COLUMNS} FROM clients WHERE app_id = $1 ORDER BY created_at, client_id"
        );
        sqlx::query(&sql)
            .bind(app_id)
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?
            .iter()
            .map(rows::client)
            .collect()
    }

    async fn update_client(&self, client: &Client) -> StoreResult<()> {
        let client = client.clone();
        let settings = rows::to_json(&client.settings, "client settings")?;
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let updated = sqlx::query(
                        "UPDATE clients SET secret_hash = $2, previous_secret_hash = $3, \
                         previous_secret_expires_at = $4, settings = $5, updated_at = $6 \
                         WHERE client_id = $1",
                    )
                    .bind(&client.client_id)
                    .bind(&client.secret_hash)
                    .bind(&client.previous_secret_hash)
                    .bind(client.previous_secret_expires_at)
                    .bind(&settings)
                    .bind(client.updated_at)
                    .execute(tx.conn())
                    .await
                    .map_err(backend)?
                    .rows_affected();
                    if updated == 0 {
                        return Err(StoreError::NotFound);
                    }
                    tx.record_change(ChangeKind::Client, &client.client_id)
                        .await
                })
            })
            .await
    }

    async fn delete_client(&self, client_id: &str) -> StoreResult<()> {
        self.delete_one(
            "DELETE FROM clients WHERE client_id = $1",
            client_id,
            ChangeKind::Client,
        )
        .await
    }
}

#[async_trait]
impl RevocationStore for SqlStore {
    async fn revoke_jti(&self, jti: &str, expires_at_s: i64) -> StoreResult<()> {
        let jti = jti.to_string();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let inserted = sqlx::query(
                        "INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) \
                         ON CONFLICT (jti) DO NOTHING",
                    )
                    .bind(&jti)
                    .bind(expires_at_s)
                    .execute(tx.conn())
                    .await
                    .map_err(backend)?
                    .rows_affected();
                    // Revoking twice changes nothing, so it announces nothing.
                    if inserted > 0 {
                        tx.record_change(ChangeKind::RevokedToken, &jti).await?;
                    }
                    Ok(())
                })
            })
            .await
    }

    async fn is_jti_revoked(&self, jti: &str) -> StoreResult<bool> {
        let found =
            sqlx::query_scalar::<_, String>("SELECT jti FROM revoked_tokens WHERE jti = $1")
                .bind(jti)
                .fetch_optional(&self.reader)
                .await
                .map_err(backend)?;
        Ok(found.is_some())
    }

    async fn list_revoked_jtis(&self, now_s: i64) -> StoreResult<Vec<String>> {
        // A token is invalid from its `exp` on, so its revocation matters only before that.
        sqlx::query_scalar::<_, String>(
            "SELECT jti FROM revoked_tokens WHERE expires_at > $1 ORDER BY jti",
        )
        .bind(now_s)
        .fetch_all(&self.reader)
        .await
        .map_err(backend)
    }

    async fn purge_revocations(&self, now_s: i64) -> StoreResult<u64> {
        // A token is invalid from its `exp` on, so its revocation matters only before that.
        self.delete_older("DELETE FROM revoked_tokens WHERE expires_at <= $1", now_s)
            .await
    }
}

#[async_trait]
impl JourneyStore for SqlStore {
    async fn put_journey(
        &self,
        journey_id: &str,
        format: &str,
        source: &str,
        now_s: i64,
    ) -> StoreResult<JourneyRecord> {
        let mut record = JourneyRecord {
            journey_id: journey_id.to_string(),
            version: 0,
            format: format.to_string(),
            source: source.to_string(),
            created_at: now_s,
        };
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    // The head row numbers the versions. Concurrent writers of one id queue on
                    // it (PostgreSQL: the row lock, or the pending insert of a new id; SQLite:
                    // the write lock), so each gets the next number and never a duplicate key.
                    // A deleted journey comes back to life with the next number.
                    record.version = sqlx::query_scalar::<_, i64>(
                        "INSERT INTO journey_heads (journey_id, latest_version, deleted) \
                         VALUES ($1, 1, 0) \
                         ON CONFLICT (journey_id) DO UPDATE \
                         SET latest_version = journey_heads.latest_version + 1, deleted = 0 \
                         RETURNING latest_version",
                    )
                    .bind(&record.journey_id)
                    .fetch_one(tx.conn())
                    .await
                    .map_err(backend)?;
                    sqlx::query(
                        "INSERT INTO journeys (journey_id, version, format, source, created_at) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&record.journey_id)
                    .bind(record.version)
                    .bind(&record.format)
                    .bind(&record.source)
                    .bind(record.created_at)
                    .execute(tx.conn())
                    .await
                    .map_err(|e| {
                        write_error(e, || {
                            format!(
                                "journey {} version {} already exists",
                                record.journey_id, record.version
                            )
                        })
                    })?;
                    tx.record_change(ChangeKind::Journey, &record.journey_id)
                        .await?;
                    Ok(record)
                })
            })
            .await
    }

    async fn latest_journey(&self, journey_id: &str) -> StoreResult<Option<JourneyRecord>> {
        let sql = format!(
            "SELECT {JOURNEY_COLUMNS} FROM journeys JOIN journey_heads USING (journey_id) \
             WHERE journey_id = $1 AND version = latest_version AND deleted = 0"
        );
        sqlx::query(&sql)
            .bind(journey_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?
            .as_ref()
            .map(rows::journey)
            .transpose()
    }

    async fn journey_version(
        &self,
        journey_id: &str,
        version: i64,
    ) -> StoreResult<Option<JourneyRecord>> {
        let sql = format!(
            "SELECT {JOURNEY_COLUMNS} FROM journeys WHERE journey_id = $1 AND version = $2"
        );
        sqlx::query(&sql)
            .bind(journey_id)
            .bind(version)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?
            .as_ref()
            .map(rows::journey)
            .transpose()
    }

    async fn list_journeys(&self) -> StoreResult<Vec<JourneyRecord>> {
        let sql = format!(
            "SELECT {JOURNEY_COLUMNS} FROM journeys JOIN journey_heads USING (journey_id) \
             WHERE version = latest_version AND deleted = 0 ORDER BY journey_id"
        );
        sqlx::query(&sql)
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?
            .iter()
            .map(rows::journey)
            .collect()
    }

    async fn delete_journey(&self, journey_id: &str) -> StoreResult<()> {
        let journey_id = journey_id.to_string();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    // The versions stay (runs in flight finish on theirs), and so does the
                    // head row: its number continues if the journey is stored again.
                    let deleted = sqlx::query(
                        "UPDATE journey_heads SET deleted = 1 \
                         WHERE journey_id = $1 AND deleted = 0",
                    )
                    .bind(&journey_id)
                    .execute(tx.conn())
                    .await
                    .map_err(backend)?
                    .rows_affected();
                    if deleted == 0 {
                        return Err(StoreError::NotFound);
                    }
                    tx.record_change(ChangeKind::Journey, &journey_id).await
                })
            })
            .await
    }

    async fn put_connection(&self, connection: &ConnectionRecord) -> StoreResult<()> {
        let connection = connection.clone();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO connections (name, definition, updated_at) \
                         VALUES ($1, $2, $3) \
                         ON CONFLICT (name) DO UPDATE \
                         SET definition = excluded.definition, updated_at = excluded.updated_at",
                    )
                    .bind(&connection.name)
                    .bind(&connection.definition)
                    .bind(connection.updated_at)
                    .execute(tx.conn())
                    .await
                    .map_err(backend)?;
                    tx.record_change(ChangeKind::Connection, &connection.name)
                        .await
                })
            })
            .await
    }

    async fn get_connection(&self, name: &str) -> StoreResult<Option<ConnectionRecord>> {
        let sql = format!("SELECT {CONNECTION_COLUMNS} FROM connections WHERE name = $1");
        sqlx::query(&sql)
            .bind(name)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?
            .as_ref()
            .map(rows::connection)
            .transpose()
    }

    async fn list_connections(&self) -> StoreResult<Vec<ConnectionRecord>> {
        let sql = format!("SELECT {CONNECTION_COLUMNS} FROM connections ORDER BY name");
        sqlx::query(&sql)
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?
            .iter()
            .map(rows::connection)
            .collect()
    }

    async fn delete_connection(&self, name: &str) -> StoreResult<()> {
        self.delete_one(
            "DELETE FROM connections WHERE name = $1",
            name,
            ChangeKind::Connection,
        )
        .await
    }

    async fn insert_traces(&self, traces: &[TraceRecord]) -> StoreResult<()> {
        if traces.is_empty() {
            return Ok(());
        }
        let traces = traces.to_vec();
        // Traces are not cached anywhere, so they record no change rows.
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    for trace in &traces {
                        sqlx::query(
                            "INSERT INTO journey_traces \
                             (trace_id, journey_id, created_at_ms, trace) \
                             VALUES ($1, $2, $3, $4)",
                        )
                        .bind(&trace.trace_id)
                        .bind(&trace.journey_id)
                        .bind(trace.created_at_ms)
                        .bind(&trace.trace)
                        .execute(tx.conn())
                        .await
                        .map_err(|e| {
                            write_error(e, || format!("trace {} already exists", trace.trace_id))
                        })?;
                    }
                    Ok(())
                })
            })
            .await
    }

    async fn get_trace(
        &self,
        journey_id: &str,
        trace_id: &str,
    ) -> StoreResult<Option<TraceRecord>> {
        let sql = format!(
            "SELECT {TRACE_COLUMNS} FROM journey_traces WHERE trace_id = $1 AND journey_id = $2"
        );
        sqlx::query(&sql)
            .bind(trace_id)
            .bind(journey_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?
            .as_ref()
            .map(rows::trace)
            .transpose()
    }

    async fn purge_traces(&self, before_ms: i64) -> StoreResult<u64> {
        self.delete_older(
            "DELETE FROM journey_traces WHERE created_at_ms < $1",
            before_ms,
        )
        .await
    }
}

#[async_trait]
impl UserStore for SqlStore {
    async fn create_user(&self, user: &User) -> StoreResult<()> {
        let row = UserRow::new(user)?;
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO users \
                         (user_id, username_norm, email_norm, phone_number, doc, password_hash, \
                          status, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(&row.user_id)
                    .bind(&row.username_norm)
                    .bind(&row.email_norm)
                    .bind(&row.phone_number)
                    .bind(&row.doc)
                    .bind(&row.password_hash)
                    .bind(row.status)
                    .bind(row.created_at)
                    .bind(row.updated_at)
                    .execute(tx.conn())
                    .await
                    .map_err(user_write_error)?;
                    tx.record_change(ChangeKind::User, &row.user_id).await
                })
            })
            .await
    }

    async fn get_user(&self, user_id: &str) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE user_id = $1");
        sqlx::query(&sql)
            .bind(user_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?
            .as_ref()
            .map(rows::user)
            .transpose()
    }

    async fn get_user_by(&self, lookup: &UserLookup) -> StoreResult<Option<User>> {
        let (column, value) = match lookup {
            UserLookup::EmailNorm(v) => ("email_norm", v),
            UserLookup::Phone(v) => ("phone_number", v),
            UserLookup::UsernameNorm(v) => ("username_norm", v),
        };
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {column} = $1");
        sqlx::query(&sql)
            .bind(value)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?
            .as_ref()
            .map(rows::user)
            .transpose()
    }

    async fn update_user(&self, user: &User) -> StoreResult<()> {
        let row = UserRow::new(user)?;
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let updated = sqlx::query(
                        "UPDATE users SET username_norm = $2, email_norm = $3, \
                         phone_number = $4, doc = $5, password_hash = $6, status = $7, \
                         updated_at = $8 WHERE user_id = $1",
                    )
                    .bind(&row.user_id)
                    .bind(&row.username_norm)
                    .bind(&row.email_norm)
                    .bind(&row.phone_number)
                    .bind(&row.doc)
                    .bind(&row.password_hash)
                    .bind(row.status)
                    .bind(row.updated_at)
                    .execute(tx.conn())
                    .await
                    .map_err(user_write_error)?
                    .rows_affected();
                    if updated == 0 {
                        return Err(StoreError::NotFound);
                    }
                    tx.record_change(ChangeKind::User, &row.user_id).await
                })
            })
            .await
    }

    async fn delete_user(&self, user_id: &str) -> StoreResult<()> {
        self.delete_one(
            "DELETE FROM users WHERE user_id = $1",
            user_id,
            ChangeKind::User,
        )
        .await
    }

    async fn list_users(&self, filter: &UserFilter) -> StoreResult<UserPage> {
        // Only the given filters become conditions (binding NULL for "any" would need a
        // type PostgreSQL cannot infer through the Any driver).
        let mut conditions = Vec::new();
        let mut values = Vec::new();
        if let Some(email) = &filter.email_norm {
            values.push(email.clone());
            conditions.push(format!("email_norm = ${}", values.len()));
        }
        if let Some(phone) = &filter.phone_number {
            values.push(phone.clone());
            conditions.push(format!("phone_number = ${}", values.len()));
        }
        let where_clause = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        let count_sql = format!("SELECT COUNT(*) FROM users{where_clause}");
        let mut count_query = sqlx::query_scalar::<_, i64>(&count_sql);
        for v in &values {
            count_query = count_query.bind(v);
        }
        let total = count_query.fetch_one(&self.reader).await.map_err(backend)?;
        let list_sql = format!(
            "SELECT {USER_COLUMNS} FROM users{where_clause} ORDER BY created_at, user_id \
             LIMIT {} OFFSET {}",
            filter.limit, filter.offset
        );
        let mut list_query = sqlx::query(&list_sql);
        for v in &values {
            list_query = list_query.bind(v);
        }
        let users = list_query
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?
            .iter()
            .map(rows::user)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(UserPage {
            users,
            total: u64::try_from(total).unwrap_or(0),
        })
    }
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn create_session(&self, session: &SessionRecord) -> StoreResult<()> {
        let session = session.clone();
        let methods = rows::to_json(&session.methods, "session methods")?;
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO sessions \
                         (session_hash, user_id, client_id, methods, auth_time, created_at, \
                          last_used_at, expires_at, ended_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)",
                    )
                    .bind(&session.session_hash)
                    .bind(&session.user_id)
                    .bind(&session.client_id)
                    .bind(&methods)
                    .bind(session.auth_time)
                    .bind(session.created_at)
                    .bind(session.last_used_at)
                    .bind(session.expires_at)
                    .execute(tx.conn())
                    .await
                    .map_err(|e| write_error(e, || "session already exists".to_string()))?;
                    tx.record_change(ChangeKind::Session, &session.session_hash)
                        .await
                })
            })
            .await
    }

    async fn get_session(&self, session_hash: &str) -> StoreResult<Option<SessionRecord>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE session_hash = $1");
        sqlx::query(&sql)
            .bind(session_hash)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?
            .as_ref()
            .map(rows::session)
            .transpose()
    }

    async fn add_session_method(
        &self,
        session_hash: &str,
        user_id: &str,
        method: &str,
        now_s: i64,
        min_last_used_s: i64,
    ) -> StoreResult<Option<SessionRecord>> {
        let session_hash = session_hash.to_string();
        let user_id = user_id.to_string();
        let method = method.to_string();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    // Compare-and-swap on the methods document: a concurrent change of the
                    // same session (PostgreSQL) makes the update miss, and we read again.
                    for _ in 0..8 {
                        let Some(mut session) =
                            live_session(tx, &session_hash, now_s, min_last_used_s).await?
                        else {
                            return Ok(None);
                        };
                        if session.user_id != user_id {
                            return Ok(None);
                        }
                        let old_methods = rows::to_json(&session.methods, "session methods")?;
                        if !session.methods.contains(&method) {
                            session.methods.push(method.clone());
                        }
                        let new_methods = rows::to_json(&session.methods, "session methods")?;
                        let updated = sqlx::query(
                            "UPDATE sessions SET methods = $2, auth_time = $3, \
                             last_used_at = $3 \
                             WHERE session_hash = $1 AND methods = $4 AND ended_at IS NULL",
                        )
                        .bind(&session_hash)
                        .bind(&new_methods)
                        .bind(now_s)
                        .bind(&old_methods)
                        .execute(tx.conn())
                        .await
                        .map_err(backend)?
                        .rows_affected();
                        if updated == 1 {
                            session.auth_time = now_s;
                            session.last_used_at = now_s;
                            tx.record_change(ChangeKind::Session, &session_hash).await?;
                            return Ok(Some(session));
                        }
                    }
                    Err(StoreError::Backend(
                        "session changed concurrently too often".into(),
                    ))
                })
            })
            .await
    }

    async fn touch_session(
        &self,
        session_hash: &str,
        now_s: i64,
        min_last_used_s: i64,
    ) -> StoreResult<Option<SessionRecord>> {
        let session_hash = session_hash.to_string();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let updated = sqlx::query(
                        "UPDATE sessions SET last_used_at = $2 \
                         WHERE session_hash = $1 AND ended_at IS NULL AND expires_at > $2 \
                         AND last_used_at >= $3",
                    )
                    .bind(&session_hash)
                    .bind(now_s)
                    .bind(min_last_used_s)
                    .execute(tx.conn())
                    .await
                    .map_err(backend)?
                    .rows_affected();
                    if updated == 0 {
                        return Ok(None);
                    }
                    live_session(tx, &session_hash, now_s, min_last_used_s).await
                })
            })
            .await
    }

    async fn end_session(&self, session_hash: &str, now_s: i64) -> StoreResult<bool> {
        let session_hash = session_hash.to_string();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let updated = sqlx::query(
                        "UPDATE sessions SET ended_at = $2 \
                         WHERE session_hash = $1 AND ended_at IS NULL AND expires_at > $2",
                    )
                    .bind(&session_hash)
                    .bind(now_s)
                    .execute(tx.conn())
                    .await
                    .map_err(backend)?
                    .rows_affected();
                    if updated == 0 {
                        return Ok(false);
                    }
                    refresh::revoke_session_in(tx, &session_hash, now_s).await?;
                    tx.record_change(ChangeKind::Session, &session_hash).await?;
                    Ok(true)
                })
            })
            .await
    }

    async fn purge_sessions(&self, now_s: i64) -> StoreResult<u64> {
        // A session past its absolute end is dead whether or not it ended.
        self.delete_older("DELETE FROM sessions WHERE expires_at <= $1", now_s)
            .await
    }
}

#[async_trait]
impl CodeStore for SqlStore {
    async fn create_one_time_code(&self, code: &OneTimeCode) -> StoreResult<()> {
        let code = code.clone();
        // Codes are not cached anywhere, so they record no change rows.
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    sqlx::query(
                        "UPDATE one_time_codes SET consumed_at = $4 \
                         WHERE user_id = $1 AND client_id = $2 AND kind = $3 \
                         AND consumed_at IS NULL",
                    )
                    .bind(&code.user_id)
                    .bind(&code.client_id)
                    .bind(&code.kind)
                    .bind(code.created_at)
                    .execute(tx.conn())
                    .await
                    .map_err(backend)?;
                    sqlx::query(
                        "INSERT INTO one_time_codes \
                         (code_id, code_hash, user_id, client_id, kind, destination, \
                          redirect_uri, state, created_at, expires_at, consumed_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)",
                    )
                    .bind(&code.code_id)
                    .bind(&code.code_hash)
                    .bind(&code.user_id)
                    .bind(&code.client_id)
                    .bind(&code.kind)
                    .bind(code.destination.as_deref())
                    .bind(code.redirect_uri.as_deref())
                    .bind(code.state.as_deref())
                    .bind(code.created_at)
                    .bind(code.expires_at)
                    .execute(tx.conn())
                    .await
                    .map_err(|e| write_error(e, || "one-time code already exists".to_string()))?;
                    Ok(())
                })
            })
            .await
    }

    async fn redeem_one_time_code(&self, redemption: &CodeRedemption) -> StoreResult<Redemption> {
        const COLUMNS: &str = "code_id, code_hash, user_id, client_id, kind, destination, \
             redirect_uri, state, created_at, expires_at, consumed_at";
        fn decode(row: &sqlx::any::AnyRow) -> StoreResult<OneTimeCode> {
            let what = "one-time code";
            Ok(OneTimeCode {
                code_id: rows::column(row, "code_id", what)?,
                code_hash: rows::column(row, "code_hash", what)?,
                user_id: rows::column(row, "user_id", what)?,
                client_id: rows::column(row, "client_id", what)?,
                kind: rows::column(row, "kind", what)?,
                destination: rows::column(row, "destination", what)?,
                redirect_uri: rows::column(row, "redirect_uri", what)?,
                state: rows::column(row, "state", what)?,
                created_at: rows::column(row, "created_at", what)?,
                expires_at: rows::column(row, "expires_at", what)?,
                consumed_at: rows::column(row, "consumed_at", what)?,
            })
        }
        if redemption.kinds.is_empty() {
            return Ok(Redemption::Invalid);
        }
        let r = redemption.clone();
        // $1 = now, $2 = code_hash, then the kinds, then user_id and client_id when given.
        let mut next = 3;
        let mut matching = String::from("code_hash = $2 AND consumed_at IS NULL AND kind IN (");
        for i in 0..r.kinds.len() {
            if i > 0 {
                matching.push_str(", ");
            }
            matching.push_str(&format!("${next}"));
            next += 1;
        }
        matching.push(')');
        if r.user_id.is_some() {
            matching.push_str(&format!(" AND user_id = ${next}"));
            next += 1;
        }
        if r.client_id.is_some() {
            matching.push_str(&format!(" AND client_id = ${next}"));
        }
        // One conditional update: the inner SELECT picks the newest live match, and the outer
        // `consumed_at IS NULL` is re-checked on the row itself, so a concurrent redeem that
        // got there first (PostgreSQL: after waiting for its row lock) makes this one miss.
        let consume = format!(
            "UPDATE one_time_codes SET consumed_at = $1 \
             WHERE code_id = (SELECT code_id FROM one_time_codes \
               WHERE {matching} AND expires_at > $1 ORDER BY created_at DESC LIMIT 1) \
             AND consumed_at IS NULL \
             RETURNING {COLUMNS}"
        );
        let expired = format!(
            "SELECT code_id FROM one_time_codes WHERE {matching} AND expires_at <= $1 LIMIT 1"
        );
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let mut q = sqlx::query(&consume).bind(r.now_s).bind(&r.code_hash);
                    for k in &r.kinds {
                        q = q.bind(k);
                    }
                    if let Some(u) = &r.user_id {
                        q = q.bind(u);
                    }
                    if let Some(c) = &r.client_id {
                        q = q.bind(c);
                    }
                    if let Some(row) = q.fetch_optional(tx.conn()).await.map_err(backend)? {
                        return Ok(Redemption::Consumed(Box::new(decode(&row)?)));
                    }
                    let mut q = sqlx::query(&expired).bind(r.now_s).bind(&r.code_hash);
                    for k in &r.kinds {
                        q = q.bind(k);
                    }
                    if let Some(u) = &r.user_id {
                        q = q.bind(u);
                    }
                    if let Some(c) = &r.client_id {
                        q = q.bind(c);
                    }
                    let found = q.fetch_optional(tx.conn()).await.map_err(backend)?;
                    Ok(if found.is_some() {
                        Redemption::Expired
                    } else {
                        Redemption::Invalid
                    })
                })
            })
            .await
    }

    async fn purge_one_time_codes(&self, expired_before_s: i64) -> StoreResult<u64> {
        self.delete_older(
            "DELETE FROM one_time_codes WHERE expires_at < $1",
            expired_before_s,
        )
        .await
    }
}

#[async_trait]
impl LockoutStore for SqlStore {
    async fn record_auth_failure(
        &self,
        user_id: &str,
        method: &str,
        policy: FailurePolicy,
    ) -> StoreResult<AuthFailures> {
        let user_id = user_id.to_string();
        let method = method.to_string();
        // Failure counters are not cached anywhere, so they record no change rows.
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let now = policy.now_s;
                    let window_start_before = now - policy.window_s;
                    // One statement increments (or starts over) atomically: concurrent
                    // failures serialise on the row and every one of them counts.
                    let sql = format!(
                        "INSERT INTO auth_failures \
                         (user_id, method, count, window_started_at, locked_until) \
                         VALUES ($1, $2, 1, $3, NULL) \
                         ON CONFLICT (user_id, method) DO UPDATE SET \
                         count = CASE WHEN {stale} THEN 1 ELSE auth_failures.count + 1 END, \
                         window_started_at = CASE WHEN {stale} THEN $3 \
                           ELSE auth_failures.window_started_at END, \
                         locked_until = CASE WHEN {stale} THEN NULL \
                           ELSE auth_failures.locked_until END \
                         RETURNING {AUTH_FAILURE_COLUMNS}",
                        stale = "(auth_failures.window_started_at <= $4 \
                                  OR auth_failures.locked_until <= $3)",
                    );
                    let row = sqlx::query(&sql)
                        .bind(&user_id)
                        .bind(&method)
                        .bind(now)
                        .bind(window_start_before)
                        .fetch_one(tx.conn())
                        .await
                        .map_err(|e| write_error(e, String::new))?;
                    let mut failures = rows::auth_failures(&row)?;
                    if failures.count >= policy.max_failures && failures.locked_until.is_none() {
                        let until = now + policy.lockout_s;
                        sqlx::query(
                            "UPDATE auth_failures SET locked_until = $3 \
                             WHERE user_id = $1 AND method = $2",
                        )
                        .bind(&user_id)
                        .bind(&method)
                        .bind(until)
                        .execute(tx.conn())
                        .await
                        .map_err(backend)?;
                        failures.locked_until = Some(until);
                    }
                    Ok(failures)
                })
            })
            .await
    }

    async fn reset_auth_failures(&self, user_id: &str, method: &str) -> StoreResult<()> {
        let user_id = user_id.to_string();
        let method = method.to_string();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    sqlx::query("DELETE FROM auth_failures WHERE user_id = $1 AND method = $2")
                        .bind(&user_id)
                        .bind(&method)
                        .execute(tx.conn())
                        .await
                        .map_err(backend)?;
                    Ok(())
                })
            })
            .await
    }

    async fn get_lock(&self, user_id: &str, method: &str) -> StoreResult<Option<AuthFailures>> {
        let sql = format!(
            "SELECT {AUTH_FAILURE_COLUMNS} FROM auth_failures WHERE user_id = $1 AND method = $2"
        );
        sqlx::query(&sql)
            .bind(user_id)
            .bind(method)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?
            .as_ref()
            .map(rows::auth_failures)
            .transpose()
    }

    async fn purge_lockouts(&self, now_s: i64) -> StoreResult<u64> {
        // An expired lock has already started the count over.
        self.delete_older("DELETE FROM auth_failures WHERE locked_until <= $1", now_s)
            .await
    }
}

#[async_trait]
impl SettingsStore for SqlStore {
    async fn get_setting(&self, name: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT doc FROM settings WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.as_ref()
            .map(|r| rows::column(r, "doc", &format!("setting {name}")))
            .transpose()
    }

    async fn put_setting(&self, name: &str, doc: &str, now_s: i64) -> StoreResult<()> {
        let name = name.to_string();
        let doc = doc.to_string();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO settings (name, doc, updated_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (name) DO UPDATE \
                         SET doc = excluded.doc, updated_at = excluded.updated_at",
                    )
                    .bind(&name)
                    .bind(&doc)
                    .bind(now_s)
                    .execute(tx.conn())
                    .await
                    .map_err(backend)?;
                    tx.record_change(ChangeKind::Settings, &name).await
                })
            })
            .await
    }
}

#[async_trait]
impl DevOutboxStore for SqlStore {
    async fn insert_outbox(&self, record: &OutboxRecord) -> StoreResult<()> {
        let record = record.clone();
        // Nothing caches the outbox, so no change row.
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO outbox \
                         (id, channel, to_addr, subject, text, created_at_ms) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&record.id)
                    .bind(record.channel.as_str())
                    .bind(&record.to)
                    .bind(record.subject.as_deref())
                    .bind(&record.text)
                    .bind(record.created_at_ms)
                    .execute(tx.conn())
                    .await
                    .map_err(|e| {
                        write_error(e, || format!("outbox message {} already exists", record.id))
                    })?;
                    Ok(())
                })
            })
            .await
    }

    async fn list_outbox(&self, to: Option<&str>, limit: u32) -> StoreResult<Vec<OutboxRecord>> {
        let limit = i64::from(limit);
        let rows = match to {
            Some(to) => {
                let sql = format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE to_addr = $1 \
                     ORDER BY created_at_ms DESC, seq DESC LIMIT $2"
                );
                sqlx::query(&sql)
                    .bind(to)
                    .bind(limit)
                    .fetch_all(&self.reader)
                    .await
            }
            None => {
                let sql = format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox \
                     ORDER BY created_at_ms DESC, seq DESC LIMIT $1"
                );
                sqlx::query(&sql).bind(limit).fetch_all(&self.reader).await
            }
        }
        .map_err(backend)?;
        rows.iter().map(outbox_record).collect()
    }

    async fn purge_outbox(&self, before_ms: i64) -> StoreResult<u64> {
        self.delete_older("DELETE FROM outbox WHERE created_at_ms < $1", before_ms)
            .await
    }
}

#[async_trait]
impl RefreshStore for SqlStore {
    async fn create_refresh_family(&self, family: &RefreshFamily) -> StoreResult<()> {
        refresh::create(&self.writer, family).await
    }

    async fn get_refresh_family(&self, family_id: &str) -> StoreResult<Option<RefreshFamily>> {
        refresh::get(&self.reader, family_id).await
    }

    async fn rotate_refresh_token(&self, rotation: &RefreshRotation) -> StoreResult<Rotation> {
        refresh::rotate(&self.writer, rotation.clone()).await
    }

    async fn revoke_refresh_family(&self, family_id: &str, now_s: i64) -> StoreResult<u64> {
        refresh::revoke_family(&self.writer, family_id, now_s).await
    }

    async fn purge_refresh_families(&self, now_s: i64) -> StoreResult<u64> {
        self.writer
            .run(move |tx| Box::pin(async move { refresh::purge_in(tx, now_s).await }))
            .await
    }
}

#[async_trait]
impl ChangeStore for SqlStore {
    async fn changes_since(&self, since_ms: i64) -> StoreResult<Vec<Change>> {
        sqlx::query("SELECT seq, kind, key, at_ms FROM changes WHERE at_ms >= $1 ORDER BY seq")
            .bind(since_ms)
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?
            .iter()
            .map(rows::change)
            .collect()
    }

    async fn purge_changes(&self, before_ms: i64) -> StoreResult<u64> {
        // Housekeeping records no change: old change rows are meaningless to every cache.
        self.delete_older("DELETE FROM changes WHERE at_ms < $1", before_ms)
            .await
    }
}

async fn insert_signing_key(tx: &mut WriteTx, key: &StoredSigningKey) -> StoreResult<()> {
    let public_jwk = rows::to_json(&key.public_jwk, "public JWK")?;
    sqlx::query(
        "INSERT INTO signing_keys \
         (kid, alg, public_jwk, sealed_private_key, created_at, activate_at, retire_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&key.kid)
    .bind(key.alg.as_str())
    .bind(&public_jwk)
    .bind(&key.sealed_private_key)
    .bind(key.created_at)
    .bind(key.activate_at)
    .bind(key.retire_at)
    .execute(tx.conn())
    .await
    .map_err(|e| write_error(e, || format!("signing key {} already exists", key.kid)))?;
    tx.record_change(ChangeKind::SigningKeys, &key.kid).await
}

async fn insert_application(tx: &mut WriteTx, app: &Application) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO applications \
         (app_id, name, description, management, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&app.app_id)
    .bind(&app.name)
    .bind(&app.description)
    .bind(i64::from(app.management))
    .bind(app.created_at)
    .bind(app.updated_at)
    .execute(tx.conn())
    .await
    .map_err(|e| {
        write_error(e, || {
            if app.management {
                format!(
                    "application {} or another management application already exists",
                    app.app_id
                )
            } else {
                format!("application {} already exists", app.app_id)
            }
        })
    })?;
    tx.record_change(ChangeKind::Application, &app.app_id).await
}

async fn insert_client(tx: &mut WriteTx, client: &Client) -> StoreResult<()> {
    let settings = rows::to_json(&client.settings, "client settings")?;
    sqlx::query(
        "INSERT INTO clients \
         (client_id, app_id, secret_hash, previous_secret_hash, previous_secret_expires_at, \
          settings, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&client.client_id)
    .bind(&client.app_id)
    .bind(&client.secret_hash)
    .bind(&client.previous_secret_hash)
    .bind(client.previous_secret_expires_at)
    .bind(&settings)
    .bind(client.created_at)
    .bind(client.updated_at)
    .execute(tx.conn())
    .await
    .map_err(|e| write_error(e, || format!("client {} already exists", client.client_id)))?;
    tx.record_change(ChangeKind::Client, &client.client_id)
        .await
}

/// The session if it is live at `now_s`: not ended, not expired, used since
/// `min_last_used_s`. Read inside the write transaction.
async fn live_session(
    tx: &mut WriteTx,
    session_hash: &str,
    now_s: i64,
    min_last_used_s: i64,
) -> StoreResult<Option<SessionRecord>> {
    let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE session_hash = $1");
    let row = sqlx::query(&sql)
        .bind(session_hash)
        .fetch_optional(tx.conn())
        .await
        .map_err(backend)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let session = rows::session(&row)?;
    let live = session.ended_at.is_none()
        && session.expires_at > now_s
        && session.last_used_at >= min_last_used_s;
    Ok(live.then_some(session))
}

/// The columns of a `users` row, computed from the record before the write transaction.
struct UserRow {
    user_id: String,
    username_norm: Option<String>,
    email_norm: Option<String>,
    phone_number: Option<String>,
    doc: String,
    password_hash: Option<String>,
    status: &'static str,
    created_at: i64,
    updated_at: i64,
}

impl UserRow {
    fn new(user: &User) -> StoreResult<Self> {
        Ok(Self {
            user_id: user.user_id.clone(),
            username_norm: user.username_norm(),
            email_norm: user.email_norm(),
            phone_number: user.phone_number.clone(),
            doc: rows::to_json(user, "user")?,
            password_hash: user.password_hash.as_ref().map(|h| h.0.clone()),
            status: user.status.as_str(),
            created_at: user.created_at,
            updated_at: user.updated_at,
        })
    }
}

/// A failed user write; a unique violation names the field (`email`, `phone_number`,
/// `username` or `user_id`) from the constraint or column the database reports.
fn user_write_error(error: sqlx::Error) -> StoreError {
    if violation(&error) != Some(Violation::Unique) {
        return write_error(error, String::new);
    }
    let text = match &error {
        sqlx::Error::Database(db) => {
            format!("{} {}", db.message(), db.constraint().unwrap_or_default())
        }
        _ => String::new(),
    };
    let field = if text.contains("email_norm") {
        "email"
    } else if text.contains("phone_number") {
        "phone_number"
    } else if text.contains("username_norm") {
        "username"
    } else {
        "user_id"
    };
    StoreError::Conflict(field.to_string())
}

/// A row count as `u64` (a `usize` always fits on supported platforms).
fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
