//! Decoding rows into model types and encoding the JSON documents stored as text.
//! A value that does not decode is [`StoreError::Corrupt`], naming the row it came from.

use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Decode, Row, Type};
use tessera_identity::ports::StoreResult;
use tessera_identity::{
    Application, AuthFailures, Change, ChangeKind, Client, ConnectionRecord, JourneyRecord,
    PasswordHash, SessionRecord, StoreError, StoredSigningKey, TraceRecord, User,
};
use tessera_jose::Algorithm;

use crate::error::corrupt;

/// The columns [`application`] reads, in `SELECT` order.
pub(crate) const APPLICATION_COLUMNS: &str =
    "app_id, name, description, management, created_at, updated_at";

/// The columns [`client`] reads.
pub(crate) const CLIENT_COLUMNS: &str = "client_id, app_id, secret_hash, previous_secret_hash, \
     previous_secret_expires_at, settings, created_at, updated_at";

/// The columns [`signing_key`] reads.
pub(crate) const SIGNING_KEY_COLUMNS: &str =
    "kid, alg, public_jwk, sealed_private_key, created_at, activate_at, retire_at";

/// The columns [`journey`] reads (unqualified: queries join `journey_heads` `USING
/// (journey_id)`, whose other columns have other names).
pub(crate) const JOURNEY_COLUMNS: &str = "journey_id, version, format, source, created_at";

/// The columns [`connection`] reads.
pub(crate) const CONNECTION_COLUMNS: &str = "name, definition, updated_at";

/// The columns [`trace`] reads.
pub(crate) const TRACE_COLUMNS: &str = "trace_id, journey_id, created_at_ms, trace";

/// The columns [`user`] reads.
pub(crate) const USER_COLUMNS: &str = "user_id, doc, password_hash";

/// The columns [`session`] reads.
pub(crate) const SESSION_COLUMNS: &str = "session_hash, user_id, client_id, methods, auth_time, \
     created_at, last_used_at, expires_at, ended_at";

/// The columns [`auth_failures`] reads.
pub(crate) const AUTH_FAILURE_COLUMNS: &str = "count, window_started_at, locked_until";

pub(crate) fn session(row: &AnyRow) -> StoreResult<SessionRecord> {
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
        session_hash,
    })
}

pub(crate) fn auth_failures(row: &AnyRow) -> StoreResult<AuthFailures> {
    let what = "auth failure counter";
    Ok(AuthFailures {
        count: column(row, "count", what)?,
        window_started_at: column(row, "window_started_at", what)?,
        locked_until: column(row, "locked_until", what)?,
    })
}

pub(crate) fn application(row: &AnyRow) -> StoreResult<Application> {
    let app_id: String = column(row, "app_id", "application")?;
    let what = || format!("application {app_id}");
    let management: i64 = column(row, "management", &what())?;
    Ok(Application {
        name: column(row, "name", &what())?,
        description: column(row, "description", &what())?,
        management: management != 0,
        created_at: column(row, "created_at", &what())?,
        updated_at: column(row, "updated_at", &what())?,
        app_id,
    })
}

pub(crate) fn client(row: &AnyRow) -> StoreResult<Client> {
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

pub(crate) fn signing_key(row: &AnyRow) -> StoreResult<StoredSigningKey> {
    let kid: String = column(row, "kid", "signing key")?;
    let what = format!("signing key {kid}");
    let alg: String = column(row, "alg", &what)?;
    let public_jwk: String = column(row, "public_jwk", &what)?;
    Ok(StoredSigningKey {
        alg: Algorithm::from_str(&alg).map_err(|e| corrupt(format!("{what} alg {alg:?}"), e))?,
        public_jwk: from_json(&public_jwk, &format!("{what} public_jwk"))?,
        sealed_private_key: column(row, "sealed_private_key", &what)?,
        created_at: column(row, "created_at", &what)?,
        activate_at: column(row, "activate_at", &what)?,
        retire_at: column(row, "retire_at", &what)?,
        kid,
    })
}

pub(crate) fn journey(row: &AnyRow) -> StoreResult<JourneyRecord> {
    let journey_id: String = column(row, "journey_id", "journey")?;
    let what = format!("journey {journey_id}");
    Ok(JourneyRecord {
        version: column(row, "version", &what)?,
        format: column(row, "format", &what)?,
        source: column(row, "source", &what)?,
        created_at: column(row, "created_at", &what)?,
        journey_id,
    })
}

pub(crate) fn connection(row: &AnyRow) -> StoreResult<ConnectionRecord> {
    let name: String = column(row, "name", "connection")?;
    let what = format!("connection {name}");
    Ok(ConnectionRecord {
        definition: column(row, "definition", &what)?,
        updated_at: column(row, "updated_at", &what)?,
        name,
    })
}

pub(crate) fn trace(row: &AnyRow) -> StoreResult<TraceRecord> {
    let trace_id: String = column(row, "trace_id", "trace")?;
    let what = format!("trace {trace_id}");
    Ok(TraceRecord {
        journey_id: column(row, "journey_id", &what)?,
        created_at_ms: column(row, "created_at_ms", &what)?,
        trace: column(row, "trace", &what)?,
        trace_id,
    })
}

pub(crate) fn user(row: &AnyRow) -> StoreResult<User> {
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

pub(crate) fn change(row: &AnyRow) -> StoreResult<Change> {
    let kind: String = column(row, "kind", "change")?;
    Ok(Change {
        seq: column(row, "seq", "change")?,
        kind: ChangeKind::parse(&kind),
        key: column(row, "key", "change")?,
        at_ms: column(row, "at_ms", "change")?,
    })
}

/// A JSON document to store as text.
pub(crate) fn to_json<T: Serialize>(value: &T, what: &str) -> StoreResult<String> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Backend(format!("cannot encode {what}: {e}")))
}

fn from_json<T: DeserializeOwned>(text: &str, what: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}

/// One column of `row`; a missing column or a value of the wrong type is corrupt data.
pub(crate) fn column<'r, T>(row: &'r AnyRow, name: &str, what: &str) -> StoreResult<T>
where
    T: Decode<'r, Any> + Type<Any>,
{
    row.try_get(name)
        .map_err(|e| corrupt(format!("{what} column {name}"), e))
}
