//! [`SqlStore`]: the [`Store`] port over SQL, one implementation for both backends.
//!
//! Reads go to the reader pool (SQLite: `query_only` connections that WAL lets run while the
//! writer writes); every mutation goes through [`Writer`] and records its change rows in the
//! same transaction.

use async_trait::async_trait;
use sqlx::AnyPool;
use tessera_identity::store::StoreResult;
use tessera_identity::{
    Application, BootstrapOutcome, BootstrapPlan, Change, ChangeKind, Client, ConnectionRecord,
    JourneyRecord, Store, StoreError, StoredSigningKey, TraceRecord,
};

use crate::error::{backend, write_error};
use crate::rows::{
    self, APPLICATION_COLUMNS, CLIENT_COLUMNS, CONNECTION_COLUMNS, JOURNEY_COLUMNS,
    SIGNING_KEY_COLUMNS, TRACE_COLUMNS,
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
}

#[async_trait]
impl Store for SqlStore {
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
        let client_id = client_id.to_string();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let deleted = sqlx::query("DELETE FROM clients WHERE client_id = $1")
                        .bind(&client_id)
                        .execute(tx.conn())
                        .await
                        .map_err(backend)?
                        .rows_affected();
                    if deleted == 0 {
                        return Err(StoreError::NotFound);
                    }
                    tx.record_change(ChangeKind::Client, &client_id).await
                })
            })
            .await
    }

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
        let name = name.to_string();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let deleted = sqlx::query("DELETE FROM connections WHERE name = $1")
                        .bind(&name)
                        .execute(tx.conn())
                        .await
                        .map_err(backend)?
                        .rows_affected();
                    if deleted == 0 {
                        return Err(StoreError::NotFound);
                    }
                    tx.record_change(ChangeKind::Connection, &name).await
                })
            })
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
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    Ok(
                        sqlx::query("DELETE FROM journey_traces WHERE created_at_ms < $1")
                            .bind(before_ms)
                            .execute(tx.conn())
                            .await
                            .map_err(backend)?
                            .rows_affected(),
                    )
                })
            })
            .await
    }

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

    async fn purge(&self, now_s: i64, changes_before_ms: i64) -> StoreResult<u64> {
        // Housekeeping records no change: expired revocations and old change rows are already
        // meaningless to every cache.
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let revocations =
                        sqlx::query("DELETE FROM revoked_tokens WHERE expires_at <= $1")
                            .bind(now_s)
                            .execute(tx.conn())
                            .await
                            .map_err(backend)?
                            .rows_affected();
                    let changes = sqlx::query("DELETE FROM changes WHERE at_ms < $1")
                        .bind(changes_before_ms)
                        .execute(tx.conn())
                        .await
                        .map_err(backend)?
                        .rows_affected();
                    Ok(revocations.saturating_add(changes))
                })
            })
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

/// A row count as `u64` (a `usize` always fits on supported platforms).
fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
