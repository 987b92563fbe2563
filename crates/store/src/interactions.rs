//! [`InteractionStore`] over SQL: `journey_interactions` and `authorization_codes`. Every
//! continuation of an interaction and every code exchange is one conditional statement, so
//! of two nodes racing exactly one wins.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use tessera_identity::ports::{InteractionStore, StoreResult};
use tessera_identity::{
    AuthorizationCode, AuthorizationRequestRecord, CodeExchange, CodeFirstUse, InteractionRecord,
};

use crate::error::{backend, write_error};
use crate::query::fetch_optional;
use crate::rows::{column, from_json, to_json};
use crate::sql_store::SqlStore;

const INTERACTION_COLUMNS: &str = "interaction_id, client_id, journey_id, state_sealed, \
     version, code_challenge, created_at_ms, expires_at_ms";

const CODE_COLUMNS: &str = "code_hash, client_id, user_id, grant_json, created_at_ms, \
     expires_at_ms, consumed_at_ms, sid, first_use";

const REQUEST_COLUMNS: &str =
    "request_hash, client_id, request_json, csrf_hash, created_at_ms, expires_at_ms";

#[async_trait]
impl InteractionStore for SqlStore {
    async fn create_interaction(&self, record: &InteractionRecord) -> StoreResult<()> {
        let r = record.clone();
        let statement = sqlx::query(
            "INSERT INTO journey_interactions \
             (interaction_id, client_id, journey_id, state_sealed, version, code_challenge, \
              created_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(r.interaction_id)
        .bind(r.client_id)
        .bind(r.journey_id)
        .bind(r.state_sealed)
        .bind(r.version)
        .bind(r.code_challenge)
        .bind(r.created_at_ms)
        .bind(r.expires_at_ms);
        self.write(statement, |e| {
            write_error(e, || "interaction exists".to_string())
        })
        .await?;
        Ok(())
    }

    async fn get_interaction(
        &self,
        interaction_id: &str,
    ) -> StoreResult<Option<InteractionRecord>> {
        let sql = format!(
            "SELECT {INTERACTION_COLUMNS} FROM journey_interactions WHERE interaction_id = $1"
        );
        let query = sqlx::query(&sql).bind(interaction_id);
        fetch_optional(&self.reader, query, decode_interaction).await
    }

    async fn update_interaction(
        &self,
        interaction_id: &str,
        expected_version: i64,
        state_sealed: &str,
        expires_at_ms: i64,
    ) -> StoreResult<bool> {
        let statement = sqlx::query(
            "UPDATE journey_interactions SET state_sealed = $3, version = version + 1, \
             expires_at_ms = $4 WHERE interaction_id = $1 AND version = $2",
        )
        .bind(interaction_id.to_string())
        .bind(expected_version)
        .bind(state_sealed.to_string())
        .bind(expires_at_ms);
        Ok(self.write(statement, backend).await? == 1)
    }

    async fn finish_interaction(
        &self,
        interaction_id: &str,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let statement = sqlx::query(
            "DELETE FROM journey_interactions WHERE interaction_id = $1 AND version = $2",
        )
        .bind(interaction_id.to_string())
        .bind(expected_version);
        Ok(self.write(statement, backend).await? == 1)
    }

    async fn purge_interactions(&self, before_ms: i64) -> StoreResult<u64> {
        let statement = sqlx::query("DELETE FROM journey_interactions WHERE expires_at_ms < $1")
            .bind(before_ms);
        self.write(statement, backend).await
    }

    async fn create_authorization_code(&self, code: &AuthorizationCode) -> StoreResult<()> {
        let c = code.clone();
        let grant = to_json(&c.grant, "authorization code grant")?;
        let statement = sqlx::query(
            "INSERT INTO authorization_codes \
             (code_hash, client_id, user_id, grant_json, created_at_ms, expires_at_ms, \
              consumed_at_ms, sid) VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL)",
        )
        .bind(c.code_hash)
        .bind(c.client_id)
        .bind(c.user_id)
        .bind(grant)
        .bind(c.created_at_ms)
        .bind(c.expires_at_ms);
        self.write(statement, |e| {
            write_error(e, || "authorization code exists".to_string())
        })
        .await?;
        Ok(())
    }

    async fn exchange_authorization_code(
        &self,
        code_hash: &str,
        client_id: &str,
        now_ms: i64,
    ) -> StoreResult<CodeExchange> {
        let hash = code_hash.to_string();
        let client = client_id.to_string();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let sql = format!(
                        "UPDATE authorization_codes SET consumed_at_ms = $3 \
                         WHERE code_hash = $1 AND client_id = $2 AND consumed_at_ms IS NULL \
                         AND expires_at_ms > $3 RETURNING {CODE_COLUMNS}"
                    );
                    let query = sqlx::query(&sql).bind(&hash).bind(&client).bind(now_ms);
                    if let Some(code) = fetch_optional(tx.conn(), query, decode_code).await? {
                        return Ok(CodeExchange::Consumed(Box::new(code)));
                    }
                    let sql = format!(
                        "SELECT {CODE_COLUMNS} FROM authorization_codes \
                         WHERE code_hash = $1 AND client_id = $2 AND consumed_at_ms IS NOT NULL"
                    );
                    let query = sqlx::query(&sql).bind(&hash).bind(&client);
                    Ok(match fetch_optional(tx.conn(), query, decode_code).await? {
                        Some(code) => CodeExchange::Replayed(Box::new(code)),
                        None => CodeExchange::Invalid,
                    })
                })
            })
            .await
    }

    async fn set_authorization_code_sid(&self, code_hash: &str, sid: &str) -> StoreResult<()> {
        let statement = sqlx::query("UPDATE authorization_codes SET sid = $2 WHERE code_hash = $1")
            .bind(code_hash.to_string())
            .bind(sid.to_string());
        self.write(statement, backend).await?;
        Ok(())
    }

    async fn set_authorization_code_first_use(
        &self,
        code_hash: &str,
        first_use: &CodeFirstUse,
    ) -> StoreResult<()> {
        let json = to_json(first_use, "authorization code first use")?;
        let statement =
            sqlx::query("UPDATE authorization_codes SET first_use = $2 WHERE code_hash = $1")
                .bind(code_hash.to_string())
                .bind(json);
        self.write(statement, backend).await?;
        Ok(())
    }

    async fn purge_authorization_codes(&self, before_ms: i64) -> StoreResult<u64> {
        let statement =
            sqlx::query("DELETE FROM authorization_codes WHERE expires_at_ms < $1").bind(before_ms);
        self.write(statement, backend).await
    }

    async fn create_authorization_request(
        &self,
        record: &AuthorizationRequestRecord,
    ) -> StoreResult<()> {
        let r = record.clone();
        let request = to_json(&r.request, "authorization request")?;
        let statement = sqlx::query(
            "INSERT INTO authorization_requests \
             (request_hash, client_id, request_json, csrf_hash, created_at_ms, expires_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(r.request_hash)
        .bind(r.client_id)
        .bind(request)
        .bind(r.csrf_hash)
        .bind(r.created_at_ms)
        .bind(r.expires_at_ms);
        self.write(statement, |e| {
            write_error(e, || "authorization request exists".to_string())
        })
        .await?;
        Ok(())
    }

    async fn get_authorization_request(
        &self,
        request_hash: &str,
        now_ms: i64,
    ) -> StoreResult<Option<AuthorizationRequestRecord>> {
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM authorization_requests \
             WHERE request_hash = $1 AND expires_at_ms > $2"
        );
        let query = sqlx::query(&sql).bind(request_hash).bind(now_ms);
        fetch_optional(&self.reader, query, decode_request).await
    }

    async fn take_authorization_request(
        &self,
        request_hash: &str,
        now_ms: i64,
    ) -> StoreResult<Option<AuthorizationRequestRecord>> {
        let hash = request_hash.to_string();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let sql = format!(
                        "DELETE FROM authorization_requests \
                         WHERE request_hash = $1 AND expires_at_ms > $2 \
                         RETURNING {REQUEST_COLUMNS}"
                    );
                    let query = sqlx::query(&sql).bind(&hash).bind(now_ms);
                    fetch_optional(tx.conn(), query, decode_request).await
                })
            })
            .await
    }

    async fn purge_authorization_requests(&self, before_ms: i64) -> StoreResult<u64> {
        let statement = sqlx::query("DELETE FROM authorization_requests WHERE expires_at_ms < $1")
            .bind(before_ms);
        self.write(statement, backend).await
    }
}

fn decode_interaction(row: &AnyRow) -> StoreResult<InteractionRecord> {
    let what = "interaction";
    Ok(InteractionRecord {
        interaction_id: column(row, "interaction_id", what)?,
        client_id: column(row, "client_id", what)?,
        journey_id: column(row, "journey_id", what)?,
        state_sealed: column(row, "state_sealed", what)?,
        version: column(row, "version", what)?,
        code_challenge: column(row, "code_challenge", what)?,
        created_at_ms: column(row, "created_at_ms", what)?,
        expires_at_ms: column(row, "expires_at_ms", what)?,
    })
}

fn decode_code(row: &AnyRow) -> StoreResult<AuthorizationCode> {
    let what = "authorization code";
    let grant: String = column(row, "grant_json", what)?;
    Ok(AuthorizationCode {
        code_hash: column(row, "code_hash", what)?,
        client_id: column(row, "client_id", what)?,
        user_id: column(row, "user_id", what)?,
        grant: from_json(&grant, "authorization code grant")?,
        created_at_ms: column(row, "created_at_ms", what)?,
        expires_at_ms: column(row, "expires_at_ms", what)?,
        consumed_at_ms: column(row, "consumed_at_ms", what)?,
        sid: column(row, "sid", what)?,
        first_use: column::<Option<String>>(row, "first_use", what)?
            .map(|j| from_json(&j, "authorization code first use"))
            .transpose()?,
    })
}

fn decode_request(row: &AnyRow) -> StoreResult<AuthorizationRequestRecord> {
    let what = "authorization request";
    let request: String = column(row, "request_json", what)?;
    Ok(AuthorizationRequestRecord {
        request_hash: column(row, "request_hash", what)?,
        client_id: column(row, "client_id", what)?,
        request: from_json(&request, what)?,
        csrf_hash: column(row, "csrf_hash", what)?,
        created_at_ms: column(row, "created_at_ms", what)?,
        expires_at_ms: column(row, "expires_at_ms", what)?,
    })
}
