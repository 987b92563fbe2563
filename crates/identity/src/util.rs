//! Small helpers every component uses: random identifiers and secrets, plausibility checks
//! of ids before they reach the database, printable field names for messages, and RFC 7396
//! JSON Merge Patch.

use serde_json::{Map, Value};

use crate::error::Error;

const ID_LEN: usize = 22;
const SECRET_LEN: usize = 48;

/// A new random identifier for applications, clients and users (22 alphanumerics, ~131
/// bits).
/// An epoch-milliseconds time as an RFC 3339 date-time (`2026-12-07T03:30:00.000Z`).
/// base64url(SHA-256(value)): how every one-time secret (session ids, cookie tokens, codes,
/// request ids, refresh tokens) is keyed in the store, and a PKCE S256 challenge.
pub fn sha256_b64url(value: &str) -> String {
    tessera_jose::b64url_encode(&tessera_jose::sha256(value.as_bytes()))
}

pub fn iso_from_ms(ms: i64) -> String {
    tessera_expr::iso_from_ms(ms as f64)
}

pub fn new_id() -> Result<String, Error> {
    Ok(tessera_jose::random_alphanumeric(ID_LEN)?)
}

/// A new client secret: 48 alphanumerics, about 285 bits.
pub fn new_secret() -> Result<String, Error> {
    Ok(tessera_jose::random_alphanumeric(SECRET_LEN)?)
}

/// Whether `id` could be an identifier at all: 1 to 128 characters, none of them control
/// characters. Anything else is answered as "not found" without asking the database (which
/// may refuse NUL bytes outright).
pub fn plausible_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && !id.chars().any(char::is_control)
}

/// Whether `key` could name a stored user by one of its addresses: like [`plausible_id`]
/// but up to 1 KiB (emails are longer than ids).
pub fn plausible_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= 1024 && !key.chars().any(char::is_control)
}

/// A field name fit for an error message, whatever the caller sent: printable and short.
pub fn field_label(name: &str) -> String {
    name.chars().filter(|c| !c.is_control()).take(64).collect()
}

/// RFC 7396 JSON Merge Patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_obj) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target_obj) = target {
        for (k, v) in patch_obj {
            if v.is_null() {
                target_obj.remove(k);
            } else {
                merge_patch(target_obj.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc7396_examples() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut t, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(t, json!({"a": "z", "c": {"d": "e"}}));
        let mut t = json!({"a": ["b"]});
        merge_patch(&mut t, &json!({"a": "c"}));
        assert_eq!(t, json!({"a": "c"}));
        let mut t = json!({"e": null});
        merge_patch(&mut t, &json!({"a": 1}));
        assert_eq!(t, json!({"e": null, "a": 1}));
    }

    #[test]
    fn implausible_ids_never_reach_the_database() {
        assert!(plausible_id("abc"));
        assert!(!plausible_id(""));
        assert!(!plausible_id("a\u{0}b"));
        assert!(!plausible_id(&"a".repeat(129)));
        assert_eq!(field_label("a\u{7}b"), "ab");
    }
}
