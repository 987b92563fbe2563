//! [`UserStore`] over SQL: the `users` table, one row per user — the whole record as a JSON
//! `doc`, the password hash in its own column, and the normalised unique keys
//! (`username_norm`, `email_norm`, `phone_number`) as `UNIQUE` columns, so the database
//! enforces uniqueness and a violation becomes `Conflict` naming the field. Every write
//! records a `User` change.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use tessera_identity::ports::{StoreResult, UserStore};
use tessera_identity::{
    ChangeKind, PasswordHash, StoreError, User, UserFilter, UserLookup, UserPage, UserStatus,
};

use crate::error::{backend, corrupt, violation, write_error, Violation};
use crate::query::{execute, fetch_all, fetch_optional};
use crate::rows::{column, from_json, to_json};
use crate::sql_store::SqlStore;

/// The columns [`decode_user`] reads.
const USER_COLUMNS: &str = "user_id, doc, password_hash";

#[async_trait]
impl UserStore for SqlStore {
    async fn create_user(&self, user: &User) -> StoreResult<()> {
        let row = UserRow::new(user)?;
        let statement = sqlx::query(
            "INSERT INTO users \
             (user_id, username_norm, email_norm, phone_number, doc, password_hash, \
              status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(row.user_id)
        .bind(row.username_norm)
        .bind(row.email_norm)
        .bind(row.phone_number)
        .bind(row.doc)
        .bind(row.password_hash)
        .bind(row.status)
        .bind(row.created_at)
        .bind(row.updated_at);
        self.write_recording(statement, user_write_error, ChangeKind::User, &user.user_id)
            .await
    }

    async fn get_user(&self, user_id: &str) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE user_id = $1");
        fetch_optional(&self.reader, sqlx::query(&sql).bind(user_id), decode_user).await
    }

    async fn get_user_by(&self, lookup: &UserLookup) -> StoreResult<Option<User>> {
        let (column, value) = match lookup {
            UserLookup::EmailNorm(v) => ("email_norm", v),
            UserLookup::Phone(v) => ("phone_number", v),
            UserLookup::UsernameNorm(v) => ("username_norm", v),
        };
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {column} = $1");
        fetch_optional(&self.reader, sqlx::query(&sql).bind(value), decode_user).await
    }

    async fn update_user(&self, user: &User) -> StoreResult<()> {
        let row = UserRow::new(user)?;
        let statement = sqlx::query(
            "UPDATE users SET username_norm = $2, email_norm = $3, \
             phone_number = $4, doc = $5, password_hash = $6, status = $7, \
             updated_at = $8 WHERE user_id = $1",
        )
        .bind(row.user_id)
        .bind(row.username_norm)
        .bind(row.email_norm)
        .bind(row.phone_number)
        .bind(row.doc)
        .bind(row.password_hash)
        .bind(row.status)
        .bind(row.updated_at);
        self.write_one(statement, user_write_error, ChangeKind::User, &user.user_id)
            .await
    }

    async fn delete_user(&self, user_id: &str) -> StoreResult<()> {
        self.delete_one(
            "DELETE FROM users WHERE user_id = $1",
            user_id,
            ChangeKind::User,
        )
        .await?;
        // Failure counters are keyed by subject, not a foreign key: drop the user's.
        let statement =
            sqlx::query("DELETE FROM auth_failures WHERE subject = $1").bind(user_id.to_string());
        self.write(statement, backend).await?;
        Ok(())
    }

    async fn record_authentication(&self, user_id: &str, at_ms: i64) -> StoreResult<bool> {
        let user_id = user_id.to_string();
        // `last_auth_ms` is in no document any node caches: no change row. The conditional
        // update first, so of two concurrent first logins exactly one sees `IS NULL`
        // (PostgreSQL re-checks the condition after waiting for the row lock; SQLite has one
        // writer).
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let first = sqlx::query(
                        "UPDATE users SET last_auth_ms = $2 \
                         WHERE user_id = $1 AND last_auth_ms IS NULL",
                    )
                    .bind(&user_id)
                    .bind(at_ms);
                    if execute(tx.conn(), first, backend).await? > 0 {
                        return Ok(true);
                    }
                    let later =
                        sqlx::query("UPDATE users SET last_auth_ms = $2 WHERE user_id = $1")
                            .bind(&user_id)
                            .bind(at_ms);
                    execute(tx.conn(), later, backend).await?;
                    Ok(false)
                })
            })
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
        let users = fetch_all(&self.reader, list_query, decode_user).await?;
        Ok(UserPage {
            users,
            total: u64::try_from(total).unwrap_or(0),
        })
    }
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
            doc: to_json(user, "user")?,
            password_hash: user.password_hash.as_ref().map(|h| h.0.clone()),
            // The column (whose CHECK allows `active` and `disabled`) says whether the user
            // may authenticate; the document keeps the exact status, `pending` included.
            status: match user.status {
                UserStatus::Active => "active",
                UserStatus::Disabled | UserStatus::Pending => "disabled",
            },
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

fn decode_user(row: &AnyRow) -> StoreResult<User> {
    let user_id: String = column(row, "user_id", "user")?;
    let what = format!("user {user_id}");
    let doc: String = column(row, "doc", &what)?;
    let password_hash: Option<String> = column(row, "password_hash", &what)?;
    let mut user: User = from_json(&doc, &format!("{what} doc"))?;
    if user.user_id != user_id {
        return Err(corrupt(&what, "doc names another user_id"));
    }
    user.password_hash = password_hash.map(PasswordHash);
    Ok(user)
}
