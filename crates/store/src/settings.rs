//! [`SettingsStore`] over SQL: the `settings` table of tenant settings documents (JSON text,
//! one row per name). Putting one records a `Settings` change keyed by its name, so every
//! node reloads it.

use async_trait::async_trait;
use tessera_identity::ports::{SettingsStore, StoreResult};
use tessera_identity::ChangeKind;

use crate::error::backend;
use crate::query::fetch_optional;
use crate::rows::column;
use crate::sql_store::SqlStore;

#[async_trait]
impl SettingsStore for SqlStore {
    async fn get_setting(&self, name: &str) -> StoreResult<Option<String>> {
        let query = sqlx::query("SELECT doc FROM settings WHERE name = $1").bind(name);
        fetch_optional(&self.reader, query, |row| {
            column(row, "doc", &format!("setting {name}"))
        })
        .await
    }

    async fn put_setting(&self, name: &str, doc: &str, now_s: i64) -> StoreResult<()> {
        let statement = sqlx::query(
            "INSERT INTO settings (name, doc, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE \
             SET doc = excluded.doc, updated_at = excluded.updated_at",
        )
        .bind(name.to_string())
        .bind(doc.to_string())
        .bind(now_s);
        self.write_recording(statement, backend, ChangeKind::Settings, name)
            .await
    }
}
