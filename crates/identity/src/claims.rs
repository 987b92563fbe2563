//! What user tokens say about their user: the `amr` of a session's methods (with `mfa`
//! across two factor classes), the OIDC standard claims a scope releases, and custom claims
//! a `claims` request names — including the hosted platform's claim names (`fname`, `lname`,
//! `mname`, `groups`, `roles`, `new_user`, `custom_app_data`, `tid`). Pure functions of the
//! user record and the [`ClaimContext`] of the issuance.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::model::User;

/// The `claims` request parameter: claim names wanted in each token (the values of the
/// request object are ignored, as `null` in OIDC Core §5.5 means "requested").
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RequestedClaims {
    pub id_token: Vec<String>,
    pub access_token: Vec<String>,
}

/// What the tokens of one issuance are for, beyond the session: kept with a refresh token
/// so refreshed tokens carry the same audience and custom claims.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UserGrant {
    pub resource: Option<String>,
    pub claims: Option<RequestedClaims>,
    /// The granted scope (space-separated), when the flow requested one (CIBA); `None`
    /// means the client's `default_scopes`.
    pub scope: Option<String>,
    /// The authorization request's `nonce`, for the ID token (authorization code flow).
    pub nonce: Option<String>,
    /// Whether the ID token carries `at_hash` (authorization code flow).
    pub at_hash: bool,
    /// What the authentication behind this issuance established. Not kept with a refresh
    /// token: refreshed tokens are no authentication (`new_user` false, no `approval_data`).
    pub facts: LoginFacts,
}

/// What one authentication established, for the tokens it ends in.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LoginFacts {
    /// This was the user's first completed authentication (the `new_user` claim): no
    /// earlier one was recorded for them (`Users::record_authentication`).
    pub new_user: bool,
    /// The `approval_data` of the one-time passcode this login redeemed: always in the ID
    /// token as the claim `approval_data`.
    pub approval_data: Option<Map<String, Value>>,
}

/// What a `claims` request may draw on besides the user record.
#[derive(Debug, Clone, Copy)]
pub struct ClaimContext<'a> {
    /// The tenant's identifier (the `tid` claim).
    pub tenant_id: &'a str,
    /// The `new_user` claim.
    pub new_user: bool,
    /// Claims for an ID token (`roles` is released only there: in access tokens only
    /// client tokens carry `roles`, SPEC §4).
    pub id_token: bool,
}

/// Claims a token's issuer sets itself: a `claims` request can never replace them.
const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "iat",
    "exp",
    "nbf",
    "jti",
    "client_id",
    "app_id",
    "app_name",
    "scope",
    "sid",
    "auth_time",
    "amr",
    "acr",
    "azp",
    "nonce",
    "typ",
    "cnf",
    "approval_data",
];

/// The custom claims a `claims` request names, from `user` and `ctx`: any OIDC standard
/// claim of the user (whatever the scopes), `username`, `external_user_id`, `custom_data`
/// (the whole object), the platform's names — `fname`, `mname`, `lname` (the name's first,
/// middle and last parts, when set), `custom_app_data` (the object), `groups` and `roles`
/// (always empty arrays: the user record holds neither; `roles` only in ID tokens),
/// `new_user` and `tid` — or else a top-level key of `custom_data`. Unknown, empty and
/// reserved names are skipped (OIDC Core §5.5: a requested claim that cannot be returned
/// is left out); claims already in `base` are kept as they are.
pub fn requested_claims(
    user: &User,
    names: &[String],
    base: &Map<String, Value>,
    ctx: &ClaimContext<'_>,
) -> Map<String, Value> {
    let mut out = Map::new();
    if names.is_empty() {
        return out;
    }
    let standard = standard_claims(user, ["email", "phone", "profile"]);
    for name in names {
        let name = name.as_str();
        if RESERVED_CLAIMS.contains(&name) || base.contains_key(name) || out.contains_key(name) {
            continue;
        }
        let part = |f: fn(&crate::model::UserName) -> &Option<String>| {
            user.name
                .as_ref()
                .and_then(|n| f(n).clone())
                .filter(|p| !p.is_empty())
                .map(Value::String)
        };
        let value = match name {
            "username" => user.username.clone().map(Value::String),
            "custom_data" => Some(Value::Object(user.custom_data.clone())),
            "fname" => part(|n| &n.first_name),
            "mname" => part(|n| &n.middle_name),
            "lname" => part(|n| &n.last_name),
            "custom_app_data" => Some(Value::Object(user.custom_app_data.clone())),
            "groups" => Some(Value::Array(Vec::new())),
            "roles" if ctx.id_token => Some(Value::Array(Vec::new())),
            "roles" => None,
            "new_user" => Some(Value::Bool(ctx.new_user)),
            "tid" => Some(Value::String(ctx.tenant_id.to_string())),
            _ => standard
                .get(name)
                .cloned()
                .or_else(|| user.custom_data.get(name).cloned()),
        };
        if let Some(value) = value {
            out.insert(name.to_string(), value);
        }
    }
    out
}

/// The factor class of an amr value (SPEC §4).
fn factor_class(method: &str) -> &'static str {
    match method {
        "pwd" => "knowledge",
        "eotp" | "eml" => "email",
        "sms" => "phone",
        "webauthn" => "authenticator",
        _ => "external",
    }
}

/// The session's methods, plus `mfa` when they span two or more factor classes.
pub fn amr(methods: &[String]) -> Vec<String> {
    let mut out: Vec<String> = methods.to_vec();
    let first = methods.first().map(|m| factor_class(m));
    if methods.iter().any(|m| Some(factor_class(m)) != first) {
        out.push("mfa".to_string());
    }
    out
}

/// The OIDC standard claims of `user` released by `scopes` (OIDC Core §5.4), and
/// `external_user_id` when set.
pub fn standard_claims<'s>(
    user: &User,
    scopes: impl IntoIterator<Item = &'s str>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for scope in scopes {
        match scope {
            "email" => {
                if let Some(email) = &user.email {
                    out.insert("email".into(), Value::String(email.clone()));
                    out.insert("email_verified".into(), Value::Bool(user.email_verified));
                }
            }
            "phone" => {
                if let Some(phone) = &user.phone_number {
                    out.insert("phone_number".into(), Value::String(phone.clone()));
                    out.insert(
                        "phone_number_verified".into(),
                        Value::Bool(user.phone_number_verified),
                    );
                }
            }
            "profile" => {
                if let Some(name) = &user.name {
                    let parts: Vec<&str> = [&name.first_name, &name.last_name]
                        .into_iter()
                        .filter_map(|p| p.as_deref())
                        .filter(|p| !p.is_empty())
                        .collect();
                    if !parts.is_empty() {
                        out.insert("name".into(), Value::String(parts.join(" ")));
                    }
                    if let Some(first) = &name.first_name {
                        out.insert("given_name".into(), Value::String(first.clone()));
                    }
                    if let Some(last) = &name.last_name {
                        out.insert("family_name".into(), Value::String(last.clone()));
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(ext) = &user.external_user_id {
        out.insert("external_user_id".into(), Value::String(ext.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::UserName;
    use serde_json::json;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_platforms_claim_names_come_from_the_user_and_the_issuance() {
        let mut user = User::new("u1".into(), 0);
        user.name = Some(UserName {
            first_name: Some("Ann".into()),
            middle_name: Some("B".into()),
            last_name: Some("Lee".into()),
            ..UserName::default()
        });
        user.custom_app_data = json!({"plan": "gold"}).as_object().cloned().unwrap();
        user.custom_data = json!({"roles": ["x"], "groups": ["y"], "colour": "red"})
            .as_object()
            .cloned()
            .unwrap();
        let ctx = ClaimContext {
            tenant_id: "t1",
            new_user: true,
            id_token: true,
        };
        let wanted = names(&[
            "fname",
            "mname",
            "lname",
            "groups",
            "roles",
            "new_user",
            "custom_app_data",
            "tid",
            "colour",
            "nothing",
            "approval_data",
            "sub",
        ]);
        let got = requested_claims(&user, &wanted, &Map::new(), &ctx);
        assert_eq!(
            Value::Object(got),
            json!({
                "fname": "Ann", "mname": "B", "lname": "Lee", "groups": [], "roles": [],
                "new_user": true, "custom_app_data": {"plan": "gold"}, "tid": "t1",
                "colour": "red",
            })
        );
        // Access tokens: no `roles`; no name parts when the user has no name.
        user.name = None;
        let ctx = ClaimContext {
            new_user: false,
            id_token: false,
            ..ctx
        };
        let got = requested_claims(&user, &wanted, &Map::new(), &ctx);
        assert!(
            got.get("roles").is_none() && got.get("fname").is_none(),
            "{got:?}"
        );
        assert_eq!(got["new_user"], json!(false));
    }

    fn methods(m: &[&str]) -> Vec<String> {
        m.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn mfa_needs_two_factor_classes() {
        assert_eq!(amr(&methods(&["pwd"])), ["pwd"]);
        assert_eq!(amr(&methods(&["eotp", "eml"])), ["eotp", "eml"]);
        assert_eq!(amr(&methods(&["pwd", "sms"])), ["pwd", "sms", "mfa"]);
        assert_eq!(
            amr(&methods(&["eml", "flex.login"])),
            ["eml", "flex.login", "mfa"]
        );
    }
}
