//! Validation of client settings and application names: what an admin may store.

use serde_json::{Map, Value};

use crate::error::Error;
use crate::model::ClientSettings;

/// The token lifetimes the platform groups under `token_expiration`; Tessera stores them as
/// top-level settings and still accepts them there.
const TOKEN_EXPIRATION_FIELDS: [&str; 3] = [
    "access_token_ttl",
    "refresh_token_ttl",
    "max_refresh_rotate",
];

/// Rewrites today's names in a client body into the platform's, the public shape:
/// `allowed_resources` → `resources`, top-level `access_token_ttl`, `refresh_token_ttl`,
/// `max_refresh_rotate` → `token_expiration.*`. Giving one value under both names is an
/// error.
pub(crate) fn to_public_names(obj: &mut Map<String, Value>) -> Result<(), Error> {
    if let Some(v) = obj.remove("allowed_resources") {
        if obj.contains_key("resources") {
            return Err(Error::invalid(
                "give `resources` or its alias `allowed_resources`, not both",
            ));
        }
        obj.insert("resources".into(), v);
    }
    for field in TOKEN_EXPIRATION_FIELDS {
        let Some(v) = obj.remove(field) else {
            continue;
        };
        let expiration = obj
            .entry("token_expiration")
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(expiration) = expiration else {
            return Err(Error::invalid("`token_expiration` must be an object"));
        };
        if expiration.contains_key(field) {
            return Err(Error::invalid(format!(
                "give `token_expiration.{field}` or `{field}`, not both"
            )));
        }
        expiration.insert(field.into(), v);
    }
    Ok(())
}

/// The reverse of [`to_public_names`]: the public shape in the stored names.
fn to_stored_names(obj: &mut Map<String, Value>) -> Result<(), Error> {
    if let Some(v) = obj.remove("resources") {
        obj.insert("allowed_resources".into(), v);
    }
    match obj.remove("token_expiration") {
        None | Some(Value::Null) => {}
        Some(Value::Object(expiration)) => {
            for (k, v) in expiration {
                if !TOKEN_EXPIRATION_FIELDS.contains(&k.as_str()) {
                    return Err(Error::invalid(format!(
                        "unknown field `token_expiration.{}`",
                        crate::util::field_label(&k)
                    )));
                }
                if !v.is_null() {
                    obj.insert(k, v);
                }
            }
        }
        Some(_) => return Err(Error::invalid("`token_expiration` must be an object")),
    }
    Ok(())
}

/// The public JSON of client settings: the stored form in the platform's names.
pub(crate) fn public_settings(settings: &ClientSettings) -> Map<String, Value> {
    let mut obj = match serde_json::to_value(settings) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    // Cannot fail: the stored form holds no name twice.
    let _ = to_public_names(&mut obj);
    obj
}

pub(crate) fn validate_name(field: &str, name: &str) -> Result<(), Error> {
    let len = name.trim().chars().count();
    if len == 0 || len > 200 {
        return Err(Error::invalid(format!(
            "`{field}` must be 1 to 200 characters"
        )));
    }
    validate_text(field, name)
}

/// Free text (names, descriptions): no control characters, which no name needs and some
/// databases refuse (NUL on PostgreSQL).
pub(crate) fn validate_text(field: &str, text: &str) -> Result<(), Error> {
    if text.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "`{field}` must not contain control characters"
        )));
    }
    if text.chars().count() > 1000 {
        return Err(Error::invalid(format!(
            "`{field}` is longer than 1000 characters"
        )));
    }
    Ok(())
}

/// Whether `host` is a loopback host (RFC 8252 §7.3: `http` redirects are allowed there only).
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// A registered redirect URI (SPEC §5, RFC 8252): `https`; `http` only on a loopback host;
/// or a private-use scheme of a native app, which is a reverse domain name (it contains a
/// dot, RFC 8252 §7.1). Never `javascript:`, `data:`, `file:` and the like, never a fragment.
pub(crate) fn validate_redirect_uri(field: &str, uri: &str) -> Result<(), Error> {
    let parsed = url::Url::parse(uri)
        .map_err(|_| Error::invalid(format!("`{field}` must hold absolute URIs")))?;
    if parsed.fragment().is_some() {
        return Err(Error::invalid(format!(
            "`{field}` must not contain fragments"
        )));
    }
    if uri.chars().any(char::is_control) || uri.len() > 2000 {
        return Err(Error::invalid(format!(
            "`{field}` must hold URIs of at most 2000 printable characters"
        )));
    }
    let ok = match parsed.scheme() {
        "https" => parsed.has_host(),
        "http" => is_loopback(&parsed),
        scheme => scheme.contains('.'),
    };
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "`{field}` must hold https URIs, http URIs on a loopback host, or a native app's \
             private-use scheme (a reverse domain name such as com.example.app:/callback)"
        )))
    }
}

/// Most names in a client's `default_custom_claims` (the platform lists 38 claims).
const MAX_DEFAULT_CLAIMS: usize = 64;

/// Most origins in a client's `allowed_origins`.
const MAX_ALLOWED_ORIGINS: usize = 32;

/// An origin as browsers send it in `Origin`: `http` or `https`, a host, an optional port,
/// nothing else (no path, not even `/`), in its serialized form (lowercase, no default port).
pub(crate) fn validate_origin(origin: &str) -> Result<(), Error> {
    let bad = || {
        Error::invalid(
            "each of `allowed_origins` must be an origin: `https://host[:port]` (or `http://`), \
             no path, lowercase, without a default port",
        )
    };
    let url = url::Url::parse(origin).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") || url.origin().ascii_serialization() != origin {
        return Err(bad());
    }
    Ok(())
}

/// Client settings from a body in the public shape, today's names accepted as aliases.
pub(crate) fn parse_settings(body: Value) -> Result<ClientSettings, Error> {
    let Value::Object(mut obj) = body else {
        return Err(Error::invalid("the body must be a JSON object"));
    };
    to_public_names(&mut obj)?;
    to_stored_names(&mut obj)?;
    let settings: ClientSettings = serde_json::from_value(Value::Object(obj))
        .map_err(|e| Error::invalid(format!("invalid client: {}", e)))?;
    validate_settings(&settings)?;
    Ok(settings)
}

fn validate_settings(s: &ClientSettings) -> Result<(), Error> {
    validate_name("name", &s.name)?;
    if let Some(d) = &s.description {
        validate_text("description", d)?;
    }
    for uri in &s.redirect_uris {
        validate_redirect_uri("redirect_uris", uri)?;
    }
    for r in &s.allowed_resources {
        let parsed = url::Url::parse(r)
            .map_err(|_| Error::invalid("`resources` must hold absolute URIs"))?;
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
    for journey in s.login_journey_id.iter().chain(&s.login_journeys) {
        if !crate::journeys::valid_journey_id(journey) {
            return Err(Error::invalid(
                "`login_journey_id` and `login_journeys` must hold journey ids",
            ));
        }
    }
    if s.login_journeys.len() > MAX_ALLOWED_ORIGINS {
        return Err(Error::invalid(format!(
            "`login_journeys` holds at most {MAX_ALLOWED_ORIGINS} journeys"
        )));
    }
    if s.allowed_origins.len() > MAX_ALLOWED_ORIGINS {
        return Err(Error::invalid(format!(
            "`allowed_origins` holds at most {MAX_ALLOWED_ORIGINS} origins"
        )));
    }
    for origin in &s.allowed_origins {
        validate_origin(origin)?;
    }
    if s.default_custom_claims.len() > MAX_DEFAULT_CLAIMS
        || s.default_custom_claims.iter().any(|c| {
            c.is_empty()
                || c.len() > 64
                || !c
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '.')
        })
    {
        return Err(Error::invalid(format!(
            "`default_custom_claims` holds at most {MAX_DEFAULT_CLAIMS} claim names of 1 to 64 \
             letters, digits, `_` or `.`"
        )));
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
    match (
        s.backchannel_token_delivery_mode.as_str(),
        &s.backchannel_client_notification_endpoint,
    ) {
        ("poll", _) | ("ping", Some(_)) => {}
        ("ping", None) => {
            return Err(Error::invalid(
                "`backchannel_token_delivery_mode` \"ping\" needs \
                 `backchannel_client_notification_endpoint`",
            ))
        }
        _ => {
            return Err(Error::invalid(
                "`backchannel_token_delivery_mode` must be \"poll\" or \"ping\"",
            ))
        }
    }
    Ok(())
}

/// The CIBA notification endpoint (Core §4): an absolute `https` URL without a fragment, or
/// `http` to an IP address inside `allow` (the operator's `outbound.allow_cidrs`: local
/// demos and tests). The outbound client checks every resolved address again at send time.
pub(crate) fn validate_notification_endpoint(
    s: &ClientSettings,
    allow: &[ipnet::IpNet],
) -> Result<(), Error> {
    let Some(uri) = &s.backchannel_client_notification_endpoint else {
        return Ok(());
    };
    let field = "backchannel_client_notification_endpoint";
    let parsed = url::Url::parse(uri)
        .map_err(|_| Error::invalid(format!("`{field}` must be an absolute URL")))?;
    if parsed.fragment().is_some() || uri.chars().any(char::is_control) || uri.len() > 2000 {
        return Err(Error::invalid(format!(
            "`{field}` must be at most 2000 printable characters without a fragment"
        )));
    }
    let ip = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
        _ => None,
    };
    let ok = match parsed.scheme() {
        "https" => parsed.has_host(),
        "http" => ip.is_some_and(|ip| allow.iter().any(|net| net.contains(&ip))),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "`{field}` must be an https URL (http only to an address inside outbound.allow_cidrs)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redirect_uris_are_https_loopback_http_or_private_use_schemes() {
        for good in [
            "https://app.example/cb",
            "http://127.0.0.1:8080/cb",
            "http://[::1]/cb",
            "http://localhost:3000/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(
                validate_redirect_uri("redirect_uris", good).is_ok(),
                "{good}"
            );
        }
        for bad in [
            "javascript:alert(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
            "http://app.example/cb",
            "https://app.example/cb#frag",
            "myapp:/cb",
            "relative/path",
        ] {
            assert!(
                validate_redirect_uri("redirect_uris", bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn notification_endpoints_are_https_or_allowed_http() {
        let allow: Vec<ipnet::IpNet> = vec!["127.0.0.0/8".parse().unwrap()];
        let with = |uri: &str| {
            let mut s = ClientSettings::named("c");
            s.backchannel_token_delivery_mode = "ping".into();
            s.backchannel_client_notification_endpoint = Some(uri.into());
            s
        };
        for good in ["https://rp.example/cb", "http://127.0.0.1:9000/cb"] {
            assert!(
                validate_notification_endpoint(&with(good), &allow).is_ok(),
                "{good}"
            );
        }
        for bad in [
            "http://rp.example/cb",
            "http://10.0.0.1/cb",
            "https://rp.example/cb#f",
            "ftp://rp.example/cb",
            "relative",
        ] {
            assert!(
                validate_notification_endpoint(&with(bad), &allow).is_err(),
                "{bad}"
            );
        }
        assert!(validate_notification_endpoint(&with("http://127.0.0.1/cb"), &[]).is_err());
        let mut ping_without = ClientSettings::named("c");
        ping_without.backchannel_token_delivery_mode = "ping".into();
        assert!(validate_settings(&ping_without).is_err());
        ping_without.backchannel_token_delivery_mode = "push".into();
        assert!(validate_settings(&ping_without).is_err());
    }

    #[test]
    fn allowed_origins_are_serialized_origins() {
        for ok in [
            "https://app.example",
            "http://127.0.0.1:8000",
            "https://a.example:8443",
        ] {
            assert!(validate_origin(ok).is_ok(), "{ok}");
        }
        for bad in [
            "https://app.example/",
            "https://app.example/path",
            "HTTPS://APP.EXAMPLE",
            "https://app.example:443",
            "ftp://app.example",
            "*",
            "null",
            "https://user@app.example",
        ] {
            assert!(validate_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_refuse_control_characters() {
        assert!(validate_name("name", "ok name").is_ok());
        assert!(validate_name("name", "bad\u{0}name").is_err());
        assert!(validate_name("name", "bad\nname").is_err());
        assert!(validate_text("description", "tab\there").is_err());
    }

    #[test]
    fn platform_and_stored_names_map_both_ways() {
        let s = parse_settings(json!({
            "name": "x",
            "resources": ["https://api.example"],
            "token_expiration": {"access_token_ttl": 60, "max_refresh_rotate": 600},
            "refresh_token_ttl": 300,
        }))
        .unwrap();
        assert_eq!(s.allowed_resources, vec!["https://api.example".to_string()]);
        assert_eq!(
            (
                s.access_token_ttl,
                s.refresh_token_ttl,
                s.max_refresh_rotate
            ),
            (60, 300, 600)
        );
        let public = public_settings(&s);
        assert_eq!(public["resources"], json!(["https://api.example"]));
        assert_eq!(
            public["token_expiration"],
            json!({"access_token_ttl": 60, "refresh_token_ttl": 300, "max_refresh_rotate": 600})
        );
        assert!(!public.contains_key("allowed_resources"));
        assert!(!public.contains_key("access_token_ttl"));
        assert_eq!(parse_settings(Value::Object(public)).unwrap(), s);
        for both in [
            json!({"name": "x", "resources": [], "allowed_resources": []}),
            json!({"name": "x", "access_token_ttl": 1, "token_expiration": {"access_token_ttl": 1}}),
            json!({"name": "x", "token_expiration": {"lifetime": 1}}),
            json!({"name": "x", "token_expiration": 5}),
            json!({"name": "x", "client_type": "desktop"}),
            json!({"name": "x", "pkce": "always"}),
        ] {
            assert!(parse_settings(both.clone()).is_err(), "{both}");
        }
    }

    #[test]
    fn unknown_client_fields_are_rejected_with_their_name() {
        let err = parse_settings(json!({"name": "x", "colour": "red"})).unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }
}
