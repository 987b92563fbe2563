//! [`ClientStore`] over SQL: the `applications` table and the `clients` of each (deleted with
//! their application, `ON DELETE CASCADE`). Every write records an `Application` or `Client`
//! change, so other nodes drop the cached client and its application.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use tessera_identity::ports::{ClientStore, StoreResult};
use tessera_identity::{Application, ChangeKind, Client, StoreError};

use crate::error::{backend, write_error};
use crate::query::{execute, fetch_all, fetch_optional};
use crate::rows::{column, from_json, to_json};
use crate::sql_store::SqlStore;
use crate::writer::WriteTx;

/// The columns [`decode_application`] reads, in `SELECT` order.
pub(crate) const APPLICATION_COLUMNS: &str =
    "app_id, name, description, management, created_at, updated_at, default_client_id";

/// The columns [`decode_client`] reads.
const CLIENT_COLUMNS: &str = "client_id, app_id, secret_hash, previous_secret_hash, \
     previous_secret_expires_at, settings, created_at, updated_at";

#[async_trait]
impl ClientStore for SqlStore {
    async fn create_application(&self, app: &Application) -> StoreResult<()> {
        let app = app.clone();
        self.writer
            .run(move |tx| Box::pin(async move { insert_application(tx, &app).await }))
            .await
    }

    async fn create_application_with_client(
        &self,
        app: &Application,
        client: &Client,
    ) -> StoreResult<()> {
        let (app, client) = (app.clone(), client.clone());
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    insert_application(tx, &app).await?;
                    insert_client(tx, &client).await
                })
            })
            .await
    }

    async fn get_application(&self, app_id: &str) -> StoreResult<Option<Application>> {
        let sql = format!("SELECT {APPLICATION_COLUMNS} FROM applications WHERE app_id = $1");
        let query = sqlx::query(&sql).bind(app_id);
        fetch_optional(&self.reader, query, decode_application).await
    }

    async fn list_applications(&self) -> StoreResult<Vec<Application>> {
        let sql =
            format!("SELECT {APPLICATION_COLUMNS} FROM applications ORDER BY created_at, app_id");
        fetch_all(&self.reader, sqlx::query(&sql), decode_application).await
    }

    async fn update_application(&self, app: &Application) -> StoreResult<()> {
        let a = app.clone();
        let statement = sqlx::query(
            "UPDATE applications SET name = $2, description = $3, updated_at = $4 \
             WHERE app_id = $1",
        )
        .bind(a.app_id)
        .bind(a.name)
        .bind(a.description)
        .bind(a.updated_at);
        self.write_one(statement, backend, ChangeKind::Application, &app.app_id)
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
                    let statement =
                        sqlx::query("DELETE FROM applications WHERE app_id = $1").bind(&app_id);
                    if execute(tx.conn(), statement, backend).await? == 0 {
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
        let query = sqlx::query(&sql).bind(client_id);
        fetch_optional(&self.reader, query, decode_client).await
    }

    async fn list_clients(&self, app_id: &str) -> StoreResult<Vec<Client>> {
        let sql = format!(
            "SELECT {CLIENT_COLUMNS} FROM clients WHERE app_id = $1 ORDER BY created_at, client_id"
        );
        fetch_all(&self.reader, sqlx::query(&sql).bind(app_id), decode_client).await
    }

    async fn update_client(&self, client: &Client) -> StoreResult<()> {
        let settings = to_json(&client.settings, "client settings")?;
        let c = client.clone();
        let statement = sqlx::query(
            "UPDATE clients SET secret_hash = $2, previous_secret_hash = $3, \
             previous_secret_expires_at = $4, settings = $5, updated_at = $6 \
             WHERE client_id = $1",
        )
        .bind(c.client_id)
        .bind(c.secret_hash)
        .bind(c.previous_secret_hash)
        .bind(c.previous_secret_expires_at)
        .bind(settings)
        .bind(c.updated_at);
        self.write_one(statement, backend, ChangeKind::Client, &client.client_id)
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

/// Inserts an application and records its change, inside the caller's transaction (creation,
/// and bootstrap in `tenant.rs`).
pub(crate) async fn insert_application(tx: &mut WriteTx, app: &Application) -> StoreResult<()> {
    let statement = sqlx::query(
        "INSERT INTO applications \
         (app_id, name, description, management, created_at, updated_at, default_client_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&app.app_id)
    .bind(&app.name)
    .bind(&app.description)
    .bind(i64::from(app.management))
    .bind(app.created_at)
    .bind(app.updated_at)
    .bind(&app.default_client_id);
    execute(tx.conn(), statement, |e| {
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
    })
    .await?;
    tx.record_change(ChangeKind::Application, &app.app_id).await
}

/// Inserts a client and records its change, inside the caller's transaction (creation, and
/// bootstrap in `tenant.rs`).
pub(crate) async fn insert_client(tx: &mut WriteTx, client: &Client) -> StoreResult<()> {
    let settings = to_json(&client.settings, "client settings")?;
    let statement = sqlx::query(
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
    .bind(client.updated_at);
    execute(tx.conn(), statement, |e| {
        write_error(e, || format!("client {} already exists", client.client_id))
    })
    .await?;
    tx.record_change(ChangeKind::Client, &client.client_id)
        .await
}

/// Decodes one `applications` row ([`APPLICATION_COLUMNS`]).
pub(crate) fn decode_application(row: &AnyRow) -> StoreResult<Application> {
    let app_id: String = column(row, "app_id", "application")?;
    let what = || format!("application {app_id}");
    let management: i64 = column(row, "management", &what())?;
    Ok(Application {
        name: column(row, "name", &what())?,
        description: column(row, "description", &what())?,
        management: management != 0,
        created_at: column(row, "created_at", &what())?,
        updated_at: column(row, "updated_at", &what())?,
        default_client_id: column(row, "default_client_id", &what())?,
        app_id,
    })
}

fn decode_client(row: &AnyRow) -> StoreResult<Client> {
    let client_id: String = column(row, "client_id", "client")?;
    let what = format!("client {client_id}");
    let settings: String = column(row, "settings", &what)?;
    Ok(Client {
        app_id: column(row, "app_id", &what)?,
        secret_hash: column(row, "secret_hash", &what)?,
        previous_secret_hash: column(row, "previous_secret_hash", &what)?,
        previous_secret_expires_at: column(row, "previous_secret_expires_at", &what)?,
        settings: from_json(&settings, &format!("{what} settings"))?,
        created_at: column(row, "created_at", &what)?,
        updated_at: column(row, "updated_at", &what)?,
        client_id,
    })
}
