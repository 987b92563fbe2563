//! A valid request body (and query) for every route that takes one: the starting point the
//! mutations change. `openapi.json` documents which content types a route accepts but has no
//! examples, so the bodies are written here, filled with the tenant's real values; the
//! generator's own test holds this table to the document (every route with a documented
//! body has a template of a documented content type, with only documented fields).

use serde_json::{json, Value};

use super::fixture::{journey_source, Values, PLAIN_JOURNEY};
use crate::harness::SECRET;

/// A valid body.
#[derive(Debug, Clone)]
pub enum Body {
    Json(Value),
    /// `application/x-www-form-urlencoded` pairs, credentials of the client included.
    Form(Vec<(String, String)>),
    /// A journey definition in YAML.
    Yaml(String),
}

impl Body {
    pub fn content_type(&self) -> &'static str {
        match self {
            Body::Json(_) => "application/json",
            Body::Form(_) => "application/x-www-form-urlencoded",
            Body::Yaml(_) => "application/yaml",
        }
    }
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The valid body of `method path` (`index` makes names unique, so creations succeed), or
/// `None` for a route without a body.
pub fn body(method: &str, path: &str, v: &Values, index: usize) -> Option<Body> {
    let creds = [
        ("client_id", v.client_id.as_str()),
        ("client_secret", v.client_secret.as_str()),
    ];
    let with_creds = |extra: &[(&str, &str)]| {
        let mut p = pairs(&creds);
        p.extend(pairs(extra));
        Body::Form(p)
    };
    let oauth = path.strip_prefix("/cis").unwrap_or(path);
    Some(match (method, oauth) {
        ("POST", "/oidc/token") => match index % 3 {
            0 => with_creds(&[("grant_type", "client_credentials")]),
            1 => with_creds(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &v.refresh_token),
            ]),
            _ => with_creds(&[
                ("grant_type", "urn:openid:params:grant-type:ciba"),
                ("auth_req_id", &v.auth_req_id),
            ]),
        },
        ("POST", "/oidc/introspect")
        | ("POST", "/oidc/revoke")
        | ("POST", "/oidc/token/revocation") => with_creds(&[
            ("token", &v.spare_token),
            ("token_type_hint", "access_token"),
        ]),
        ("POST", "/oidc/backchannel") => with_creds(&[
            ("scope", "openid"),
            ("login_hint", &v.username),
            ("binding_message", "Sign in 42"),
            ("request_context", r#"{"channel": "link"}"#),
            ("requested_expiry", "120"),
        ]),
        ("POST", "/oidc/auth") => Body::Form(pairs(&[
            ("response_type", "code"),
            ("client_id", &v.client_id),
            ("redirect_uri", "https://app.example/cb"),
            ("scope", "openid"),
            ("state", "s"),
        ])),
        ("POST", "/oidc/login/complete") => Body::Form(pairs(&[
            ("request", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            ("csrf", "c"),
            ("code", "x"),
        ])),
        _ => return rest_body(method, path, v, index),
    })
}

fn rest_body(method: &str, path: &str, v: &Values, index: usize) -> Option<Body> {
    let json = match (method, path) {
        ("POST", "/cis/v1/applications") => {
            json!({"app_name": format!("Generated app {index}"), "app_description": "made by the generator"})
        }
        ("PUT", "/cis/v1/applications/{app_id}") => {
            json!({"app_name": "Renamed app", "app_description": "changed"})
        }
        ("POST", "/cis/v1/applications/{app_id}/clients") => json!({
            "name": format!("Generated client {index}"),
            "description": "made by the generator",
            "redirect_uris": [v.redirect_uri],
            "permissions": ["auth"],
            "token_expiration": {"access_token_ttl": 600},
        }),
        ("PUT", "/cis/v1/applications/{app_id}/clients/{client_id}") => {
            json!({"name": "Renamed client", "description": "changed"})
        }
        ("POST", "/cis/v1/applications/{app_id}/clients/{client_id}/secret") => {
            json!({"grace_period_s": 60})
        }
        ("PUT", "/cis/v1/login-preferences") => json!({
            "otp": {"code_length": 6, "expires_in": 5},
            "magic_link": {"expires_in": 15},
        }),
        ("PUT", "/cis/v1/loginPreferences/{app_id}/authMethods") => json!({
            "password": {"passwordMinLength": 8, "maxPasswordFailures": 20},
            "email": {"expiresIn": 15},
        }),
        ("POST", "/cis/v1/users") => json!({
            "username": format!("gen-{index}"),
            "email": format!("gen-{index}@example.com"),
            "name": {"first_name": "Gen", "last_name": "Erated"},
            "custom_data": {"index": index},
            "credentials": {"password": SECRET},
        }),
        ("PATCH" | "PUT", "/cis/v1/users/{user_id}") => {
            json!({"external_user_id": format!("ext-{index}"), "custom_data": {"k": "v"}})
        }
        ("POST", "/cis/v1/auth/password/authenticate") => {
            json!({"username": v.username, "password": SECRET})
        }
        ("POST" | "PUT", "/cis/v1/users/{user_id}/password") => {
            json!({"password": SECRET, "force_replace": false})
        }
        ("POST", "/cis/v1/auth/password/reset/email/link") => {
            json!({"email": v.email, "redirect_uri": v.redirect_uri})
        }
        ("POST", "/cis/v1/auth/password/reset/email/otp") => json!({"email": v.email}),
        ("POST", "/cis/v1/auth/password/reset/email/otp/validate") => {
            json!({"email": v.email, "passcode": "123456"})
        }
        ("POST", "/cis/v1/auth/password/reset/sms/otp") => {
            json!({"phone_number": "+14155550100"})
        }
        ("POST", "/cis/v1/auth/password/reset/sms/otp/validate") => {
            json!({"phone_number": "+14155550100", "passcode": "123456"})
        }
        ("POST", "/cis/v1/auth/password/reset") => {
            json!({"reset_token": "not-a-token", "new_password": SECRET})
        }
        ("POST", "/cis/v1/auth/password/validate") => json!({"password": SECRET}),
        ("POST", "/cis/v1/auth/session/authenticate") | ("POST", "/cis/v1/auth/session/logout") => {
            json!({"session_id": v.session_id})
        }
        ("POST", "/cis/v1/auth/token/refresh") => json!({"refresh_token": v.refresh_token}),
        ("POST", "/cis/v1/auth/otp/send") => json!({
            "channel": "direct", "identifier_type": "email", "identifier": v.email,
            "approval_data": {"transaction_id": "tx-1", "sum": "200"},
            "email_content": {"subject": "Your code", "bodyText": "Here it is"},
        }),
        ("POST", "/cis/v1/auth/otp/authenticate") => json!({
            "passcode": "123456", "identifier_type": "email", "identifier": v.email,
        }),
        ("POST", "/cis/v1/auth/link/email/send") => json!({
            "channel": "direct", "redirect_uri": v.redirect_uri,
            "identifier_type": "email", "identifier": v.email, "state": "s",
        }),
        ("POST", "/cis/v1/auth/link/email/authenticate") => json!({"code": "not-a-code"}),
        ("POST", "/cis/auth/backchannel/complete")
        | ("POST", "/cis/v1/auth/backchannel/complete") => {
            json!({"auth_req_id": v.auth_req_id, "approved": index & 1 == 0})
        }
        ("PUT", "/ido/api/v2/journeys/{journey_id}") => {
            return Some(Body::Yaml(journey_source(
                &v.spare.journey_id,
                PLAIN_JOURNEY,
            )));
        }
        ("PUT", "/ido/api/v2/connections/{name}") => {
            json!({"type": "web_service", "url": "https://api.example.com/x"})
        }
        ("POST", "/ido/api/v2/invoke-api-journey/{journey_id}") => json!({"amount": "12"}),
        ("POST", "/ido/api/v2/journeys/{journey_id}/start") => {
            json!({"additionalParams": {"username": format!("gen-{index}")}})
        }
        ("POST", "/ido/api/v2/interactions/{interaction_id}/submit") => {
            json!({"option": "client_input", "data": {}})
        }
        _ => return None,
    };
    Some(Body::Json(json))
}

/// The valid query of `method path` (without `?`), or `None` for a route without one.
/// The browser-facing routes answered with HTML error pages.
pub fn is_page(path: &str) -> bool {
    matches!(
        path,
        "/oidc/auth" | "/cis/oidc/auth" | "/oidc/login" | "/oidc/login/complete"
    )
}

pub fn query(method: &str, path: &str, v: &Values) -> Option<Vec<(String, String)>> {
    Some(match (method, path) {
        ("GET", "/oidc/auth") | ("GET", "/cis/oidc/auth") => pairs(&[
            ("response_type", "code"),
            ("client_id", &v.client_id),
            ("redirect_uri", "https://app.example/cb"),
            ("scope", "openid"),
            ("state", "s"),
        ]),
        ("GET", "/oidc/login") => {
            pairs(&[("request", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")])
        }
        ("GET", "/cis/v1/users") => pairs(&[("email", &v.email), ("limit", "10"), ("offset", "0")]),
        ("GET", "/cis/v1/dev/outbox") => pairs(&[("to", &v.email)]),
        (_, "/ido/api/v2/invoke-api-journey/{journey_id}")
        | (_, "/ido/api/v2/journeys/{journey_id}/start") => pairs(&[("clientId", &v.client_id)]),
        _ => return None,
    })
}
