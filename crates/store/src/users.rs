//! [`UserStore`] over SQL: the `users` table, one row per user — the whole record as a JSON
//! `doc`, the password hash in its own column, and the normalised unique keys
//! (`username_norm`, `email_norm`, `phone_number`, `external_user_id`) as `UNIQUE` columns, so
//! the database enforces uniqueness and a violation becomes `Conflict` naming the field;
//! `external_account_id` is a column for searches. Every write records a `User` change.
//! `user_apps` holds which applications a user belongs to (no node caches it: no change row).

use async_trait::async_trait;
use sqlx::any::AnyRow;
use tessera_identity::ports::{StoreResult, UserStore};
use tessera_identity::{
    ChangeKind, PasswordHash, StoreError, User, UserField, UserFilter, UserLookup, UserMatch,
    UserPage, UserSort, UserStatus,
};

use crate::error::{backend, corrupt, violation, write_error, Violation};
use crate::query::{execute, fetch_all, fetch_optional, Statement};
use crate::rows::{column, from_json, to_json};
use crate::sql_store::SqlStore;

/// The columns [`decode_user`] reads.
const USER_COLUMNS: &str = "user_id, doc, password_hash";

#[async_trait]
impl UserStore for SqlStore {
    async fn create_user(&self, user: &User) -> StoreResult<()> {
        let statement = insert_user(UserRow::new(user)?);
        self.write_recording(statement, user_write_error, ChangeKind::User, &user.user_id)
            .await
    }

    async fn create_user_in_app(&self, user: &User, app_id: &str, now_s: i64) -> StoreResult<()> {
        let row = UserRow::new(user)?;
        let user_id = user.user_id.clone();
        let app_id = app_id.to_string();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    execute(tx.conn(), insert_user(row), user_write_error).await?;
                    let member = sqlx::query(
                        "INSERT INTO user_apps (user_id, app_id, created_at) VALUES ($1, $2, $3)",
                    )
                    .bind(user_id.clone())
                    .bind(app_id)
                    .bind(now_s);
                    execute(tx.conn(), member, |e| write_error(e, String::new)).await?;
                    tx.record_change(ChangeKind::User, &user_id).await
                })
            })
            .await
    }

    async fn add_user_app(&self, user_id: &str, app_id: &str, now_s: i64) -> StoreResult<bool> {
        let statement = sqlx::query(
            "INSERT INTO user_apps (user_id, app_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, app_id) DO NOTHING",
        )
        .bind(user_id.to_string())
        .bind(app_id.to_string())
        .bind(now_s);
        Ok(self
            .write(statement, |e| write_error(e, String::new))
            .await?
            > 0)
    }

    async fn remove_user_app(&self, user_id: &str, app_id: &str) -> StoreResult<bool> {
        let statement = sqlx::query("DELETE FROM user_apps WHERE user_id = $1 AND app_id = $2")
            .bind(user_id.to_string())
            .bind(app_id.to_string());
        Ok(self.write(statement, backend).await? > 0)
    }

    async fn user_in_app(&self, user_id: &str, app_id: &str) -> StoreResult<bool> {
        let query = sqlx::query("SELECT user_id FROM user_apps WHERE user_id = $1 AND app_id = $2")
            .bind(user_id)
            .bind(app_id);
        Ok(fetch_optional(&self.reader, query, |_| Ok(()))
            .await?
            .is_some())
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
            UserLookup::ExternalUserId(v) => ("external_user_id", v),
        };
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {column} = $1");
        fetch_optional(&self.reader, sqlx::query(&sql).bind(value), decode_user).await
    }

    async fn update_user(&self, user: &User) -> StoreResult<()> {
        let row = UserRow::new(user)?;
        let statement = sqlx::query(
            "UPDATE users SET username_norm = $2, email_norm = $3, \
             phone_number = $4, doc = $5, password_hash = $6, status = $7, \
             updated_at = $8, external_user_id = $9, external_account_id = $10 \
             WHERE user_id = $1",
        )
        .bind(row.user_id)
        .bind(row.username_norm)
        .bind(row.email_norm)
        .bind(row.phone_number)
        .bind(row.doc)
        .bind(row.password_hash)
        .bind(row.status)
        .bind(row.updated_at)
        .bind(row.external_user_id)
        .bind(row.external_account_id);
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
        // Only the given conditions become SQL, each value a bound parameter (binding NULL
        // for "any" would need a type PostgreSQL cannot infer through the Any driver).
        let mut conditions = Vec::new();
        let mut values = Vec::new();
        for c in &filter.conditions {
            let column = field_column(c.field);
            match c.how {
                UserMatch::Equals => {
                    values.push(c.value.clone());
                    conditions.push(format!("{column} = ${}", values.len()));
                }
                UserMatch::StartsWith => {
                    values.push(like_prefix(&c.value));
                    conditions.push(format!("{column} LIKE ${} ESCAPE '!'", values.len()));
                }
            }
        }
        if let Some(prefix) = &filter.prefix {
            values.push(like_prefix(prefix));
            let n = values.len();
            conditions.push(format!(
                "(email_norm LIKE ${n} ESCAPE '!' OR phone_number LIKE ${n} ESCAPE '!')"
            ));
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
        let dir = if filter.descending { "DESC" } else { "ASC" };
        // Users without the sorted field last in both directions, the same on both backends
        // (their NULL orders differ); `user_id` breaks ties.
        let order = match filter.sort {
            UserSort::CreatedAt => format!("created_at {dir}, user_id {dir}"),
            UserSort::Email => {
                format!("CASE WHEN email_norm IS NULL THEN 1 ELSE 0 END, email_norm {dir}, user_id {dir}")
            }
            UserSort::PhoneNumber => format!(
                "CASE WHEN phone_number IS NULL THEN 1 ELSE 0 END, phone_number {dir}, user_id {dir}"
            ),
        };
        let list_sql = format!(
            "SELECT {USER_COLUMNS} FROM users{where_clause} ORDER BY {order} \
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

/// The column holding a searchable field.
fn field_column(field: UserField) -> &'static str {
    match field {
        UserField::UserId => "user_id",
        UserField::EmailNorm => "email_norm",
        UserField::Phone => "phone_number",
        UserField::UsernameNorm => "username_norm",
        UserField::ExternalUserId => "external_user_id",
        UserField::ExternalAccountId => "external_account_id",
    }
}

/// A `LIKE` pattern matching values that start with `prefix` (`!` escapes the wildcards and
/// itself, so the prefix is matched literally).
fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '!') {
            out.push('!');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The `INSERT` of a new user row.
fn insert_user(row: UserRow) -> Statement<'static> {
    sqlx::query(
        "INSERT INTO users \
         (user_id, username_norm, email_norm, phone_number, doc, password_hash, \
          status, created_at, updated_at, external_user_id, external_account_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(row.user_id)
    .bind(row.username_norm)
    .bind(row.email_norm)
    .bind(row.phone_number)
    .bind(row.doc)
    .bind(row.password_hash)
    .bind(row.status)
    .bind(row.created_at)
    .bind(row.updated_at)
    .bind(row.external_user_id)
    .bind(row.external_account_id)
}

/// The columns of a `users` row, computed from the record before the write transaction.
struct UserRow {
    user_id: String,
    username_norm: Option<String>,
    email_norm: Option<String>,
    phone_number: Option<String>,
    external_user_id: Option<String>,
    external_account_id: Option<String>,
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
            external_user_id: user.external_user_id.clone(),
            external_account_id: user.external_account_id.clone(),
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
/// `username`, `external_user_id` or `user_id`) from the constraint or column the database reports.
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
    let field = if text.contains("external_user_id") {
        "external_user_id"
    } else if text.contains("email_norm") {
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
