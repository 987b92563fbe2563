//! Validation of client settings and application names: what an admin may store.

use serde_json::Value;

use crate::error::Error;
use crate::model::ClientSettings;

pub(crate) fn validate_name(field: &str, name: &str) -> Result<(), Error> {
    let len = name.trim().chars().count();
    if len == 0 || len > 200 {
        return Err(Error::invalid(format!(
            "`{field}` must be 1 to 200 characters"
        )));
    }
    Ok(())
}

pub(crate) fn parse_settings(body: Value) -> Result<ClientSettings, Error> {
    if !body.is_object() {
        return Err(Error::invalid("the body must be a JSON object"));
    }
    let settings: ClientSettings = serde_json::from_value(body)
        .map_err(|e| Error::invalid(format!("invalid client: {}", e)))?;
    validate_settings(&settings)?;
    Ok(settings)
}

fn validate_settings(s: &ClientSettings) -> Result<(), Error> {
    validate_name("name", &s.name)?;
    for uri in &s.redirect_uris {
        let parsed = url::Url::parse(uri)
            .map_err(|_| Error::invalid("`redirect_uris` must hold absolute URIs"))?;
        if parsed.fragment().is_some() {
            return Err(Error::invalid("`redirect_uris` must not contain fragments"));
        }
    }
    for r in &s.allowed_resources {
        let parsed = url::Url::parse(r)
            .map_err(|_| Error::invalid("`allowed_resources` must hold absolute URIs"))?;
        if parsed.fragment().is_some() {
            return Err(Error::invalid(
                "`allowed_resources` must not contain fragments",
            ));
        }
    }
    for scope in s.allowed_scopes.iter().chain(&s.default_scopes) {
        if scope.is_empty()
            || !scope
                .chars()
                .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
        {
            return Err(Error::invalid(
                "scopes must be non-empty printable ASCII without spaces",
            ));
        }
    }
    let ttls = [
        ("access_token_ttl", s.access_token_ttl),
        ("id_token_ttl", s.id_token_ttl),
        ("refresh_token_ttl", s.refresh_token_ttl),
        ("max_refresh_rotate", s.max_refresh_rotate),
        ("session_expiration", s.session_expiration),
    ];
    for (field, v) in ttls {
        if v == 0 || v > 366 * 24 * 3600 {
            return Err(Error::invalid(format!(
                "`{field}` must be between 1 and 31622400 seconds"
            )));
        }
    }
    use tessera_jose::Algorithm::{EdDSA, ES256, RS256};
    for (field, alg) in [
        (
            "access_token_signed_response_alg",
            s.access_token_signed_response_alg,
        ),
        (
            "id_token_signed_response_alg",
            s.id_token_signed_response_alg,
        ),
    ] {
        if !matches!(alg, ES256 | RS256 | EdDSA) {
            return Err(Error::invalid(format!(
                "`{field}` must be ES256, RS256 or EdDSA"
            )));
        }
    }
    if let Some(uri) = &s.ciba_authorization.login_uri {
        url::Url::parse(uri).map_err(|_| {
            Error::invalid("`ciba_authorization.login_uri` must be an absolute URI")
        })?;
    }
    if s.backchannel_token_delivery_mode != "poll" {
        return Err(Error::invalid(
            "`backchannel_token_delivery_mode` must be \"poll\"",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_client_fields_are_rejected_with_their_name() {
        let err = parse_settings(json!({"name": "x", "colour": "red"})).unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }
}
