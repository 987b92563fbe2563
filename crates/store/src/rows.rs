//! Shared decoding helpers: one column of a row, and the JSON documents stored as text. Each
//! aggregate's file has its own row decoders, built on these. A value that does not decode
//! is [`StoreError::Corrupt`], naming the row it came from.

use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Decode, Row, Type};
use tessera_identity::ports::StoreResult;
use tessera_identity::StoreError;

use crate::error::corrupt;

/// One column of `row`; a missing column or a value of the wrong type is corrupt data.
pub(crate) fn column<'r, T>(row: &'r AnyRow, name: &str, what: &str) -> StoreResult<T>
where
    T: Decode<'r, Any> + Type<Any>,
{
    row.try_get(name)
        .map_err(|e| corrupt(format!("{what} column {name}"), e))
}

/// A JSON document to store as text.
pub(crate) fn to_json<T: Serialize>(value: &T, what: &str) -> StoreResult<String> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Backend(format!("cannot encode {what}: {e}")))
}

/// A JSON document stored as text; one that does not parse is corrupt data.
pub(crate) fn from_json<T: DeserializeOwned>(text: &str, what: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}
