//! [`TenantStore`] over SQL: the database's liveness, bootstrap (the `tenant` row with the
//! first signing keys, the management application and its admin client, in one transaction)
//! and the management application.

use async_trait::async_trait;
use tessera_identity::ports::{StoreResult, TenantStore};
use tessera_identity::{Application, BootstrapOutcome, BootstrapPlan};

use crate::clients::{decode_application, insert_application, insert_client, APPLICATION_COLUMNS};
use crate::error::backend;
use crate::keys::insert_signing_key;
use crate::query::{execute, fetch_optional};
use crate::sql_store::SqlStore;

#[async_trait]
impl TenantStore for SqlStore {
    fn backend(&self) -> &'static str {
        self.backend
    }

    /// The database answers a read, and this node can write (see `Writer::ready`).
    async fn ping(&self) -> StoreResult<()> {
        execute(&self.reader, sqlx::query("SELECT 1"), backend).await?;
        self.writer.ready().await
    }

    async fn bootstrap(&self, plan: &BootstrapPlan) -> StoreResult<BootstrapOutcome> {
        let plan = plan.clone();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    // First, so the loser of a race stops here: the primary key makes the
                    // second insert wait for the first transaction and then do nothing.
                    let statement = sqlx::query(
                        "INSERT INTO tenant (id, created_at_ms) VALUES (1, $1) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(tx.now_ms());
                    if execute(tx.conn(), statement, backend).await? == 0 {
                        return Ok(BootstrapOutcome::AlreadyBootstrapped);
                    }
                    for key in &plan.signing_keys {
                        insert_signing_key(tx, key).await?;
                    }
                    let management_app = Application {
                        management: true,
                        default_client_id: None,
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
        fetch_optional(&self.reader, sqlx::query(&sql), decode_application).await
    }
}
