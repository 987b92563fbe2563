//! [`SettingsStore`] over SQL: the `settings` table of tenant settings documents (JSON text,
//! one row per name). Putting one records a `Settings` change keyed by its name, so every
//! node reloads it.

use async_trait::async_trait;
use tessera_identity::ports::{SettingsStore, StoreResult};
use tessera_identity::ChangeKind;

use crate::error::backend;
use crate::rows::column;
use crate::sql_store::SqlStore;

#[async_trait]
impl SettingsStore for SqlStore {
    async fn get_setting(&self, name: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT doc FROM settings WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.as_ref()
            .map(|r| column(r, "doc", &format!("setting {name}")))
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
