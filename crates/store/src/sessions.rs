//! [`SessionStore`] over SQL: the `sessions` table, keyed by the hash of the session id (the id
//! itself is never stored). Creating, gaining a method and ending record a `Session` change,
//! so other nodes drop what they cached; ending a session also revokes its refresh families
//! (`refresh.rs`) in the same transaction.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use tessera_identity::ports::{SessionStore, StoreResult};
use tessera_identity::{ChangeKind, SessionRecord, StoreError};

use crate::error::{backend, write_error};
use crate::query::{execute, fetch_all, fetch_optional};
use crate::refresh::revoke_session_in;
use crate::rows::{column, from_json, to_json};
use crate::sql_store::SqlStore;
use crate::writer::WriteTx;

/// The columns [`decode_session`] reads.
const SESSION_COLUMNS: &str = "session_hash, user_id, client_id, methods, auth_time, \
     created_at, last_used_at, expires_at, ended_at, browser_token_hash";

#[async_trait]
impl SessionStore for SqlStore {
    async fn create_session(&self, session: &SessionRecord) -> StoreResult<()> {
        let methods = to_json(&session.methods, "session methods")?;
        let s = session.clone();
        let statement = sqlx::query(
            "INSERT INTO sessions \
             (session_hash, user_id, client_id, methods, auth_time, created_at, \
              last_used_at, expires_at, ended_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)",
        )
        .bind(s.session_hash)
        .bind(s.user_id)
        .bind(s.client_id)
        .bind(methods)
        .bind(s.auth_time)
        .bind(s.created_at)
        .bind(s.last_used_at)
        .bind(s.expires_at);
        let key = &session.session_hash;
        let on_error = |e| write_error(e, || "session already exists".to_string());
        self.write_recording(statement, on_error, ChangeKind::Session, key)
            .await
    }

    async fn get_session(&self, session_hash: &str) -> StoreResult<Option<SessionRecord>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE session_hash = $1");
        let query = sqlx::query(&sql).bind(session_hash);
        fetch_optional(&self.reader, query, decode_session).await
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
                        if session.user_id != user_id || session.browser {
                            return Ok(None);
                        }
                        let old_methods = to_json(&session.methods, "session methods")?;
                        if !session.methods.contains(&method) {
                            session.methods.push(method.clone());
                        }
                        let new_methods = to_json(&session.methods, "session methods")?;
                        let statement = sqlx::query(
                            "UPDATE sessions SET methods = $2, auth_time = $3, \
                             last_used_at = $3 \
                             WHERE session_hash = $1 AND methods = $4 AND ended_at IS NULL \
                             AND browser_token_hash IS NULL",
                        )
                        .bind(&session_hash)
                        .bind(&new_methods)
                        .bind(now_s)
                        .bind(&old_methods);
                        if execute(tx.conn(), statement, backend).await? == 1 {
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
                    let statement = sqlx::query(
                        "UPDATE sessions SET last_used_at = $2 \
                         WHERE session_hash = $1 AND ended_at IS NULL AND expires_at > $2 \
                         AND last_used_at >= $3 AND browser_token_hash IS NULL",
                    )
                    .bind(&session_hash)
                    .bind(now_s)
                    .bind(min_last_used_s);
                    if execute(tx.conn(), statement, backend).await? == 0 {
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
                    let statement = sqlx::query(
                        "UPDATE sessions SET ended_at = $2 \
                         WHERE session_hash = $1 AND ended_at IS NULL AND expires_at > $2",
                    )
                    .bind(&session_hash)
                    .bind(now_s);
                    if execute(tx.conn(), statement, backend).await? == 0 {
                        return Ok(false);
                    }
                    revoke_session_in(tx, &session_hash, now_s).await?;
                    tx.record_change(ChangeKind::Session, &session_hash).await?;
                    Ok(true)
                })
            })
            .await
    }

    async fn list_user_sessions(
        &self,
        user_id: &str,
        now_s: i64,
        min_last_used_s: i64,
    ) -> StoreResult<Vec<SessionRecord>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 AND ended_at IS NULL \
             AND expires_at > $2 AND last_used_at >= $3 ORDER BY created_at, session_hash"
        );
        let query = sqlx::query(&sql)
            .bind(user_id)
            .bind(now_s)
            .bind(min_last_used_s);
        fetch_all(&self.reader, query, decode_session).await
    }

    async fn end_user_sessions(&self, user_id: &str, now_s: i64) -> StoreResult<Vec<String>> {
        let user_id = user_id.to_string();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let sql = format!(
                        "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 \
                         AND ended_at IS NULL AND expires_at > $2"
                    );
                    let query = sqlx::query(&sql).bind(&user_id).bind(now_s);
                    let live = fetch_all(tx.conn(), query, decode_session).await?;
                    let mut ended = Vec::with_capacity(live.len());
                    for session in live {
                        let statement = sqlx::query(
                            "UPDATE sessions SET ended_at = $2 \
                             WHERE session_hash = $1 AND ended_at IS NULL",
                        )
                        .bind(&session.session_hash)
                        .bind(now_s);
                        if execute(tx.conn(), statement, backend).await? == 0 {
                            continue;
                        }
                        revoke_session_in(tx, &session.session_hash, now_s).await?;
                        tx.record_change(ChangeKind::Session, &session.session_hash)
                            .await?;
                        ended.push(session.session_hash);
                    }
                    Ok(ended)
                })
            })
            .await
    }

    async fn purge_sessions(&self, now_s: i64) -> StoreResult<u64> {
        // A session past its absolute end is dead whether or not it ended.
        self.delete_older("DELETE FROM sessions WHERE expires_at <= $1", now_s)
            .await
    }

    async fn create_browser_session(
        &self,
        session: &SessionRecord,
        token_hash: &str,
    ) -> StoreResult<()> {
        let methods = to_json(&session.methods, "session methods")?;
        let s = session.clone();
        let token_hash = token_hash.to_string();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let statement = sqlx::query(
                        "INSERT INTO sessions \
                         (session_hash, user_id, client_id, methods, auth_time, created_at, \
                          last_used_at, expires_at, ended_at, browser_token_hash) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9)",
                    )
                    .bind(&s.session_hash)
                    .bind(&s.user_id)
                    .bind(&s.client_id)
                    .bind(&methods)
                    .bind(s.auth_time)
                    .bind(s.created_at)
                    .bind(s.last_used_at)
                    .bind(s.expires_at)
                    .bind(&token_hash);
                    execute(tx.conn(), statement, |e| {
                        write_error(e, || "session already exists".to_string())
                    })
                    .await?;
                    insert_session_client(tx, &s.session_hash, &s.client_id, s.created_at).await?;
                    tx.record_change(ChangeKind::Session, &s.session_hash)
                        .await?;
                    Ok(())
                })
            })
            .await
    }

    async fn browser_session(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE browser_token_hash = $1");
        let query = sqlx::query(&sql).bind(token_hash);
        fetch_optional(&self.reader, query, decode_session).await
    }

    async fn relogin_browser_session(
        &self,
        session_hash: &str,
        old_token_hash: &str,
        new_token_hash: &str,
        methods: &[String],
        auth_time: i64,
        now_s: i64,
        min_last_used_s: i64,
    ) -> StoreResult<Option<SessionRecord>> {
        let session_hash = session_hash.to_string();
        let old = old_token_hash.to_string();
        let new = new_token_hash.to_string();
        let methods = methods.to_vec();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let Some(mut session) =
                        live_session(tx, &session_hash, now_s, min_last_used_s).await?
                    else {
                        return Ok(None);
                    };
                    let old_methods = to_json(&session.methods, "session methods")?;
                    for m in &methods {
                        if !session.methods.contains(m) {
                            session.methods.push(m.clone());
                        }
                    }
                    let new_methods = to_json(&session.methods, "session methods")?;
                    let statement = sqlx::query(
                        "UPDATE sessions SET methods = $4, auth_time = $5, last_used_at = $6, \
                         browser_token_hash = $3 \
                         WHERE session_hash = $1 AND browser_token_hash = $2 AND methods = $7 \
                         AND ended_at IS NULL",
                    )
                    .bind(&session_hash)
                    .bind(&old)
                    .bind(&new)
                    .bind(&new_methods)
                    .bind(auth_time)
                    .bind(now_s)
                    .bind(&old_methods);
                    if execute(tx.conn(), statement, backend).await? == 0 {
                        return Ok(None);
                    }
                    session.auth_time = auth_time;
                    session.last_used_at = now_s;
                    tx.record_change(ChangeKind::Session, &session_hash).await?;
                    Ok(Some(session))
                })
            })
            .await
    }

    async fn add_session_client(
        &self,
        session_hash: &str,
        client_id: &str,
        now_s: i64,
    ) -> StoreResult<()> {
        let session_hash = session_hash.to_string();
        let client_id = client_id.to_string();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    insert_session_client(tx, &session_hash, &client_id, now_s).await
                })
            })
            .await
    }

    async fn session_clients(&self, session_hash: &str) -> StoreResult<Vec<String>> {
        let query = sqlx::query(
            "SELECT client_id FROM session_clients WHERE session_hash = $1 \
             ORDER BY first_at, client_id",
        )
        .bind(session_hash);
        fetch_all(&self.reader, query, |row| {
            column::<String>(row, "client_id", "session client")
        })
        .await
    }
}

/// Records that `client_id` got tokens from the session, once.
async fn insert_session_client(
    tx: &mut WriteTx,
    session_hash: &str,
    client_id: &str,
    now_s: i64,
) -> StoreResult<()> {
    let statement = sqlx::query(
        "INSERT INTO session_clients (session_hash, client_id, first_at) VALUES ($1, $2, $3) \
         ON CONFLICT (session_hash, client_id) DO NOTHING",
    )
    .bind(session_hash.to_string())
    .bind(client_id.to_string())
    .bind(now_s);
    execute(tx.conn(), statement, |e| {
        write_error(e, || "session not found".to_string())
    })
    .await?;
    Ok(())
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
    let query = sqlx::query(&sql).bind(session_hash);
    let session = fetch_optional(tx.conn(), query, decode_session).await?;
    Ok(session.filter(|s| {
        s.ended_at.is_none() && s.expires_at > now_s && s.last_used_at >= min_last_used_s
    }))
}

fn decode_session(row: &AnyRow) -> StoreResult<SessionRecord> {
    let session_hash: String = column(row, "session_hash", "session")?;
    let what = format!("session {session_hash}");
    let methods: String = column(row, "methods", &what)?;
    Ok(SessionRecord {
        user_id: column(row, "user_id", &what)?,
        client_id: column(row, "client_id", &what)?,
        methods: from_json(&methods, &format!("{what} methods"))?,
        auth_time: column(row, "auth_time", &what)?,
        created_at: column(row, "created_at", &what)?,
        last_used_at: column(row, "last_used_at", &what)?,
        expires_at: column(row, "expires_at", &what)?,
        ended_at: column(row, "ended_at", &what)?,
        browser: column::<Option<String>>(row, "browser_token_hash", &what)?.is_some(),
        session_hash,
    })
}
