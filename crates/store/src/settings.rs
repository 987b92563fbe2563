//! [`SettingsStore`] over SQL: the `settings` table of tenant settings documents (JSON text,
//! one row per name). Putting one records a `Settings` change keyed by its name, so every
//! node reloads it; and `app_login_preferences`, an application's own login preferences.

use async_trait::async_trait;
use tessera_identity::ports::{app_login_preferences_key, SettingsStore, StoreResult};
use tessera_identity::ChangeKind;

use crate::error::{backend, write_error};
use crate::query::{fetch_all, fetch_optional};
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

    async fn get_app_login_preferences(&self, app_id: &str) -> StoreResult<Option<String>> {
        let query =
            sqlx::query("SELECT doc FROM app_login_preferences WHERE app_id = $1").bind(app_id);
        fetch_optional(&self.reader, query, |row| {
            column(row, "doc", &format!("login preferences of {app_id}"))
        })
        .await
    }

    async fn list_app_login_preferences(&self) -> StoreResult<Vec<(String, String)>> {
        let query = sqlx::query("SELECT app_id, doc FROM app_login_preferences ORDER BY app_id");
        fetch_all(&self.reader, query, |row| {
            Ok((
                column(row, "app_id", "app login preferences")?,
                column(row, "doc", "app login preferences")?,
            ))
        })
        .await
    }

    async fn put_app_login_preferences(
        &self,
        app_id: &str,
        doc: &str,
        now_s: i64,
    ) -> StoreResult<()> {
        let statement = sqlx::query(
            "INSERT INTO app_login_preferences (app_id, doc, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (app_id) DO UPDATE \
             SET doc = excluded.doc, updated_at = excluded.updated_at",
        )
        .bind(app_id.to_string())
        .bind(doc.to_string())
        .bind(now_s);
        let key = app_login_preferences_key(app_id);
        self.write_recording(
            statement,
            |e| write_error(e, String::new),
            ChangeKind::Settings,
            &key,
        )
        .await
    }
}
