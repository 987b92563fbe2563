//! The OAuth 2.0 / OpenID Connect endpoints: discovery, JWKS, token, introspection and
//! revocation.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use serde_json::json;
use tessera_identity::authorize::PROMPT_VALUES;
use tessera_identity::gate::ClientAuth;
use tessera_identity::grants::{Grant, GRANT_TYPES};
use tessera_identity::model::TokenEndpointAuthMethod;
use tessera_identity::{AuthenticatedClient, Error};
use zeroize::Zeroizing;

use crate::error::OAuthApiError;
use crate::extract::OAuthForm;
use crate::metrics::GrantLabels;
use crate::respond::{no_store, oauth_tokens, oauth_tokens_with_session};
use crate::state::AppState;

/// Builds the discovery document (OIDC Discovery 1.0 / RFC 8414) for `issuer`.
pub fn discovery_document(issuer: &str) -> Bytes {
    let doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oidc/auth"),
        "token_endpoint": format!("{issuer}/oidc/token"),
        "jwks_uri": format!("{issuer}/oidc/jwks"),
        "userinfo_endpoint": format!("{issuer}/oidc/userinfo"),
        "introspection_endpoint": format!("{issuer}/oidc/introspect"),
        "revocation_endpoint": format!("{issuer}/oidc/revoke"),
        "backchannel_authentication_endpoint": format!("{issuer}/oidc/backchannel"),
        "backchannel_token_delivery_modes_supported": ["poll", "ping"],
        "backchannel_user_code_parameter_supported": false,
        "grant_types_supported": GRANT_TYPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": PROMPT_VALUES,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": ["openid", "profile", "email", "phone", "offline_access"],
        "claims_supported": [
            "iss", "sub", "aud", "iat", "exp", "jti", "auth_time", "amr", "sid",
            "client_id", "app_id", "app_name", "scope", "roles",
            "email", "email_verified", "phone_number", "phone_number_verified",
            "name", "given_name", "family_name", "external_user_id",
            "fname", "mname", "lname", "groups", "new_user", "custom_app_data", "tid",
            "approval_data"
        ],
        "access_token_signing_alg_values_supported": ["ES256", "RS256", "EdDSA"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
    });
    Bytes::from(serde_json::to_vec(&doc).unwrap_or_default())
}

fn public_json(body: Bytes, max_age: u32) -> Response {
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        h.insert(header::CACHE_CONTROL, v);
    }
    response
}

pub async fn discovery(State(state): State<AppState>) -> Response {
    public_json(state.discovery.clone(), 3600)
}

pub async fn jwks(State(state): State<AppState>) -> Response {
    let set = state.identity.keys.jwks();
    let body = Bytes::from(serde_json::to_vec(&set).unwrap_or_default());
    // Shorter than the key activation delay, so a cached copy always holds a new key before
    // it signs anything.
    let max_age = (state.identity.keys.activation_delay_s() / 2).clamp(0, 300);
    public_json(body, u32::try_from(max_age).unwrap_or(0))
}

/// Extracts the client's credentials from HTTP Basic or the form (RFC 6749 §2.3.1).
///
/// Public only for the fuzz targets (`fuzz/fuzz_targets/form_basic.rs`); handlers call
/// [`authenticated`].
#[doc(hidden)]
pub fn client_auth(form: &OAuthForm) -> Result<ClientAuth, Error> {
    let form_id = form.single("client_id")?;
    let form_secret = form.single("client_secret")?;
    if let Some(value) = form.headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| Error::invalid_client(true))?;
        if let Some((scheme, encoded)) = value.split_once(' ') {
            if scheme.eq_ignore_ascii_case("basic") {
                if form_secret.is_some() {
                    return Err(Error::invalid(
                        "use one client authentication method, not several",
                    ));
                }
                let (id, secret) =
                    decode_basic(encoded.trim()).ok_or_else(|| Error::invalid_client(true))?;
                if form_id.is_some_and(|f| f != id) {
                    return Err(Error::invalid(
                        "client_id in the form differs from the Authorization header",
                    ));
                }
                return Ok(ClientAuth {
                    client_id: id,
                    client_secret: Some(secret),
                    method: TokenEndpointAuthMethod::ClientSecretBasic,
                });
            }
        }
    }
    let Some(client_id) = form_id else {
        return Err(Error::invalid_client(false));
    };
    Ok(ClientAuth {
        client_id: client_id.to_string(),
        client_secret: form_secret.map(|s| Zeroizing::new(s.to_string())),
        method: TokenEndpointAuthMethod::ClientSecretPost,
    })
}

/// Base64 with or without padding: some clients omit the `=` of Basic credentials.
const BASIC_BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Decodes `base64(urlencode(id) ":" urlencode(secret))`, padded or not.
fn decode_basic(encoded: &str) -> Option<(String, Zeroizing<String>)> {
    let raw = Zeroizing::new(BASIC_BASE64.decode(encoded).ok()?);
    let text = std::str::from_utf8(&raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    let id = form_decode(id)?;
    let secret = Zeroizing::new(form_decode(secret)?);
    (!id.is_empty()).then_some((id, secret))
}

/// `application/x-www-form-urlencoded` decoding of one component: `+` is a space, then
/// percent-decoding; the result must be UTF-8.
fn form_decode(s: &str) -> Option<String> {
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// The client an OAuth request authenticates as (HTTP Basic or the form), checked by the
/// gate.
pub(crate) async fn authenticated(
    state: &AppState,
    form: &OAuthForm,
) -> Result<AuthenticatedClient, Error> {
    let auth = client_auth(form)?;
    state.identity.gate.authenticate_client(&auth).await
}

/// [`authenticated`], or a public client (`token_endpoint_auth_method: none`): the token and
/// revocation endpoints only.
async fn authenticated_or_public(
    state: &AppState,
    form: &OAuthForm,
) -> Result<AuthenticatedClient, Error> {
    let auth = client_auth(form)?;
    state
        .identity
        .gate
        .authenticate_client_or_public(&auth)
        .await
}

/// `POST /oidc/token`: the client authenticates, the form becomes a [`Grant`], the grants
/// component issues the tokens.
pub async fn token(
    State(state): State<AppState>,
    form: OAuthForm,
) -> Result<Response, OAuthApiError> {
    let client = authenticated_or_public(&state, &form).await?;
    let grant = Grant::parse(&form)?;
    let name = grant.name();
    let tokens = state.identity.grants.token(&client, grant).await?;
    state
        .metrics
        .tokens_issued
        .get_or_create(&GrantLabels { grant: name })
        .inc();
    if name == "ciba" {
        state.metrics.ciba("issued");
    }
    if name == "authorization_code" {
        return Ok(oauth_tokens_with_session(&tokens));
    }
    Ok(oauth_tokens(&tokens))
}

/// `POST /oidc/introspect` (RFC 7662).
pub async fn introspect(
    State(state): State<AppState>,
    form: OAuthForm,
) -> Result<Response, OAuthApiError> {
    let client = authenticated(&state, &form).await?;
    let token = form
        .single("token")?
        .ok_or_else(|| Error::invalid("`token` is required"))?;
    let _hint = form.single("token_type_hint")?;
    let body = state
        .identity
        .introspection
        .introspect(&client, token)
        .await?;
    Ok(no_store(axum::Json(body).into_response()))
}

/// `POST /oidc/revoke` (RFC 7009), also at the platform's `/oidc/token/revocation`.
pub async fn revoke(
    State(state): State<AppState>,
    form: OAuthForm,
) -> Result<Response, OAuthApiError> {
    let client = authenticated_or_public(&state, &form).await?;
    let token = form
        .single("token")?
        .ok_or_else(|| Error::invalid("`token` is required"))?;
    // RFC 7009 §2.1: an unknown hint is ignored and every supported type is searched.
    let _hint = form.single("token_type_hint")?;
    state.identity.introspection.revoke(&client, token).await?;
    Ok(no_store(axum::http::StatusCode::OK.into_response()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("my%2Dclient:s%3Ac+r%26t");
        let (id, secret) = decode_basic(&encoded).unwrap();
        assert_eq!(id, "my-client");
        assert_eq!(secret.as_str(), "s:c r&t");
    }

    #[test]
    fn basic_credentials_without_padding_are_accepted() {
        // "id:s" is 4 bytes: padded base64 ends in "==".
        let padded = base64::engine::general_purpose::STANDARD.encode("id:s");
        assert!(padded.ends_with("=="));
        let (id, secret) = decode_basic(padded.trim_end_matches('=')).unwrap();
        assert_eq!((id.as_str(), secret.as_str()), ("id", "s"));
        assert!(decode_basic(&padded).is_some());
    }

    #[test]
    fn malformed_basic_credentials_are_rejected() {
        assert!(decode_basic("not base64!").is_none());
        let no_colon = base64::engine::general_purpose::STANDARD.encode("abc");
        assert!(decode_basic(&no_colon).is_none());
    }
}
