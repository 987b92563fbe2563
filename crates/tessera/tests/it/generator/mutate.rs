//! Turning one route of the table into one request: path parameters, query, credentials,
//! content type, body and framing, each either valid for the route or mutated. Every choice
//! comes from the case's own [`Rng`], so a case is the same whatever ran before it.

use base64::Engine;
use serde_json::{Map, Value};
use tessera_api::{Access, Endpoint};

use super::fixture::Values;
use super::raw::{Framing, RawRequest};
use super::templates::{self, Body};
use super::Rng;

/// One generated request and what it exercises.
#[derive(Debug, Clone)]
pub struct Case {
    pub index: usize,
    /// `METHOD template` of the route aimed at ("unknown" routes included).
    pub route: String,
    /// Statistics group: the route's area (`oauth`, `users`, …).
    pub family: &'static str,
    /// Errors must be RFC 6749 bodies (`{error, error_description}`) rather than
    /// `{error_code, message}`.
    pub oauth: bool,
    /// Either error format is right (an OAuth route's path was changed into an unknown one).
    pub either_format: bool,
    /// A browser-facing page (the authorization endpoint, its hosted login, RP-initiated
    /// logout, the CIBA approval page): an error may be the HTML error page naming its code, as
    /// the specifications want, or (the target mutated into another route) either JSON format.
    pub html: bool,
    /// Valid HTTP/1.1: Tessera's router must answer it. Otherwise the HTTP parser may refuse
    /// it without a JSON body, or close the connection.
    pub well_formed: bool,
    /// The mutations applied (for statistics and reports).
    pub labels: Vec<&'static str>,
    pub request: RawRequest,
}

/// The route's area, for the statistics.
pub fn family(path: &str) -> &'static str {
    let families: [(&str, &str); 13] = [
        ("/.well-known/", "discovery"),
        ("/oidc/.well-known/", "discovery"),
        ("/cis/oidc/.well-known/", "discovery"),
        ("/oidc/userinfo", "userinfo"),
        ("/oidc/assets/", "assets"),
        ("/oidc/", "oauth"),
        ("/cis/oidc/", "oauth"),
        ("/cis/auth/backchannel", "ciba-complete"),
        ("/cis/v1/auth/backchannel", "ciba-complete"),
        ("/cis/v1/auth/", "auth"),
        ("/cis/v1/users", "users"),
        ("/cis/v1/", "admin"),
        ("/ido/api/v2/invoke-api-journey/", "invoke"),
    ];
    for (prefix, name) in families {
        if path.starts_with(prefix) {
            return name;
        }
    }
    if path.starts_with("/ido/") {
        "journeys"
    } else if ["/healthz", "/readyz", "/metrics", "/openapi.json"].contains(&path) {
        "ops"
    } else {
        "unknown-route"
    }
}

/// Path segments no route expects (already percent-encoded where needed).
const HOSTILE_SEGMENTS: &[(&str, &str)] = &[
    ("path:nul", "a%00b"),
    ("path:control", "%01%1f%7f"),
    ("path:crlf", "x%0d%0aX-Injected:%201"),
    ("path:dotdot", ".."),
    ("path:dotdot-encoded", "%2e%2e"),
    ("path:dot", "."),
    ("path:slash-encoded", "a%2Fb"),
    ("path:invalid-utf8", "%ff%fe"),
    ("path:overlong-utf8", "%c0%af"),
    ("path:surrogate-utf8", "%ed%a0%80"),
    ("path:bad-percent", "%zz"),
    ("path:lone-percent", "%"),
    ("path:unicode", "%C3%A9t%C3%A9"),
    ("path:emoji", "%F0%9F%98%80"),
    ("path:rtl", "%E2%80%AEevil"),
    ("path:bom", "%EF%BB%BFid"),
    (
        "path:fullwidth",
        "%EF%BD%81%EF%BD%84%EF%BD%8D%EF%BD%89%EF%BD%8E",
    ),
    ("path:space", "a%20b"),
    ("path:plus", "a+b"),
    ("path:star", "*"),
    ("path:braces", "%7Bapp_id%7D"),
    ("path:sql", "x'%20OR%20'1'='1"),
    ("path:number", "18446744073709551616"),
    ("path:negative", "-1"),
    ("path:quote", "%22%3Cscript%3E"),
];

/// Values for string fields and parameters no route expects.
const HOSTILE_STRINGS: &[(&str, &str)] = &[
    ("string:nul", "a\u{0}b"),
    ("string:control", "\u{1}\u{7}\u{1b}[31m\u{7f}"),
    ("string:crlf", "line\r\nX-Injected: 1"),
    ("string:tab", "\t"),
    ("string:empty", ""),
    ("string:spaces", "   "),
    ("string:unicode", "été ünïcödé"),
    ("string:emoji", "😀🔥"),
    ("string:rtl", "\u{202e}evil"),
    ("string:bom", "\u{feff}x"),
    ("string:replacement", "\u{fffd}"),
    ("string:combining", "a\u{301}\u{301}\u{301}"),
    ("string:fullwidth", "ａｄｍｉｎ"),
    ("string:html", "<script>alert(1)</script>"),
    ("string:sql", "x' OR '1'='1"),
    ("string:dotdot", "../../etc/passwd"),
    ("string:url", "javascript:alert(1)"),
    ("string:json", "{\"a\": [1, 2"),
    ("string:expr", "@std.strToInt(\"1\")"),
    ("string:template", "${1+1}"),
];

/// Numbers as raw JSON text (some are not representable in any Rust integer or float).
const HUGE_NUMBERS: &[(&str, &str)] = &[
    ("number:1e400", "1e400"),
    ("number:-1e400", "-1e400"),
    ("number:2^64", "18446744073709551616"),
    ("number:2^63", "9223372036854775808"),
    ("number:-2^63-1", "-9223372036854775809"),
    ("number:-0", "-0"),
    ("number:-0.0", "-0.0"),
    ("number:1e-400", "1e-400"),
    (
        "number:long-decimal",
        "123456789012345678901234567890.123456789",
    ),
    ("number:negative", "-1"),
    ("number:zero", "0"),
    ("number:fraction", "0.5"),
    ("number:2^32", "4294967296"),
    ("number:2^53+1", "9007199254740993"),
];

/// Byte sequences that are not UTF-8 (a lone byte, a bad continuation, an encoded
/// surrogate, a 5-byte form, an overlong slash).
const INVALID_UTF8: &[&[u8]] = &[
    b"\xff",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b"\xf8\x88\x80\x80\x80",
    b"\xc0\xaf",
];

/// Whole bodies that replace the route's.
const WHOLE_BODIES: &[(&str, &[u8])] = &[
    ("json:null", b"null"),
    ("json:array", b"[]"),
    ("json:string", b"\"text\""),
    ("json:number", b"0"),
    ("json:empty-object", b"{}"),
    ("json:empty", b""),
    ("json:whitespace", b" \n\t "),
    ("json:nan", b"{\"a\": NaN}"),
    ("json:comment", b"/* c */ {}"),
    ("json:bom", b"\xef\xbb\xbf{}"),
    ("json:trailing-garbage", b"{} x"),
    ("json:two-documents", b"{}{}"),
    ("json:single-quotes", b"{'a': 1}"),
    ("json:trailing-comma", b"{\"a\": 1,}"),
];

/// Headers no route expects (valid HTTP/1.1: obs-text bytes are allowed in values).
const ODD_HEADERS: &[(&str, &[u8], &[u8])] = &[
    (
        "header:duplicate-content-type",
        b"content-type",
        b"text/plain",
    ),
    ("header:non-ascii-value", b"x-note", b"\xff\xfe\xc3\x28"),
    (
        "header:accept-weird",
        b"accept",
        b"application/x-nonsense;q=abc, */*;q=-1",
    ),
    ("header:content-encoding", b"content-encoding", b"gzip"),
    ("header:expect", b"expect", b"100-continue"),
    (
        "header:forwarded",
        b"x-forwarded-for",
        b"not-an-ip, 999.999.1.1",
    ),
    ("header:huge", b"x-huge", &[b'h'; 30_000]),
];

/// Bytes HTTP/1.1 does not allow in a request target, sent raw.
const RAW_TARGET_BYTES: &[(&str, &[u8])] = &[
    ("target:raw-control", b"\x01"),
    ("target:raw-utf8", "é".as_bytes()),
    ("target:raw-invalid-utf8", b"\xff"),
    ("target:raw-space", b"a b"),
    ("target:raw-del", b"\x7f"),
];

fn insert_at(text: &[u8], at: usize, bytes: &[u8]) -> Vec<u8> {
    let at = at.min(text.len());
    let mut out = Vec::with_capacity(text.len() + bytes.len());
    out.extend_from_slice(&text[..at]);
    out.extend_from_slice(bytes);
    out.extend_from_slice(&text[at..]);
    out
}

const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "application/json; charset=utf-16",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=iso-8859-1",
    "text/plain",
    "text/yaml",
    "application/yaml",
    "application/xml",
    "multipart/form-data; boundary=xyz",
    "application/jsonx",
    "application/json, text/plain",
    ";;;",
    "",
    "*/*",
];

/// Which caller the route expects, as a header.
fn right_auth(access: Access, v: &Values, rng: &mut Rng) -> Option<Vec<u8>> {
    let bearer = |t: &str| Some(format!("Bearer {t}").into_bytes());
    match access {
        Access::Public | Access::ClientAuth | Access::NamedClient | Access::Interaction => None,
        Access::Admin => bearer(&v.admin_token),
        Access::Permission(_) => {
            if rng.chance(20) {
                bearer(&v.admin_token)
            } else {
                bearer(&v.client_token)
            }
        }
        Access::User => bearer(&v.user_token),
        Access::JourneyClient => bearer(&v.client_token),
    }
}

/// Some other `Authorization` header (or none).
fn other_auth(v: &Values, rng: &mut Rng) -> (&'static str, Option<Vec<u8>>) {
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let b64url = |s: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let jwt_none = format!(
        "{}.{}.",
        b64url(br#"{"alg":"none","typ":"at+jwt"}"#),
        b64url(br#"{"sub":"x","aud":"userid-api"}"#)
    );
    let choices: Vec<(&'static str, Option<Vec<u8>>)> = vec![
        ("auth:none", None),
        (
            "auth:admin",
            Some(format!("Bearer {}", v.admin_token).into_bytes()),
        ),
        (
            "auth:client",
            Some(format!("Bearer {}", v.client_token).into_bytes()),
        ),
        (
            "auth:weak-client",
            Some(format!("Bearer {}", v.weak_token).into_bytes()),
        ),
        (
            "auth:user",
            Some(format!("Bearer {}", v.user_token).into_bytes()),
        ),
        (
            "auth:garbage-bearer",
            Some(b"Bearer garbage.token.value".to_vec()),
        ),
        ("auth:empty-bearer", Some(b"Bearer ".to_vec())),
        ("auth:bearer-only", Some(b"Bearer".to_vec())),
        (
            "auth:lowercase-bearer",
            Some(format!("bearer {}", v.client_token).into_bytes()),
        ),
        (
            "auth:alg-none",
            Some(format!("Bearer {jwt_none}").into_bytes()),
        ),
        (
            "auth:huge-bearer",
            Some(format!("Bearer {}", "A".repeat(20_000)).into_bytes()),
        ),
        (
            "auth:refresh-as-bearer",
            Some(format!("Bearer {}", v.refresh_token).into_bytes()),
        ),
        (
            "auth:non-ascii-bearer",
            Some(b"Bearer \xff\xfe\xc3\x28".to_vec()),
        ),
        (
            "auth:basic-admin",
            Some(format!("Basic {}", v.admin_basic).into_bytes()),
        ),
        (
            "auth:basic-garbage",
            Some(b"Basic !!!not-base64!!!".to_vec()),
        ),
        (
            "auth:basic-no-colon",
            Some(format!("Basic {}", b64(b"justanid")).into_bytes()),
        ),
        (
            "auth:basic-invalid-utf8",
            Some(format!("Basic {}", b64(b"\xff\xfe:\xc3\x28")).into_bytes()),
        ),
        (
            "auth:basic-bad-percent",
            Some(format!("Basic {}", b64(b"%zz:%ff")).into_bytes()),
        ),
        ("auth:basic-empty", Some(b"Basic ".to_vec())),
        ("auth:digest", Some(b"Digest username=\"x\"".to_vec())),
        (
            "auth:two-schemes",
            Some(format!("Bearer {} Basic {}", v.client_token, v.admin_basic).into_bytes()),
        ),
    ];
    choices[rng.below(choices.len())].clone()
}

/// Replaces each `{param}` of `template`; returns the target and the labels used.
fn fill_path(
    template: &str,
    method: &str,
    v: &Values,
    rng: &mut Rng,
    labels: &mut Vec<&'static str>,
) -> Vec<u8> {
    let ids = if method == "GET" { &v.stable } else { &v.spare };
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
        let name = &rest[open + 1..close];
        rest = &rest[(close + 1).min(rest.len())..];
        if rng.chance(65) {
            let value = if template.starts_with("/ido/api/v2/invoke-api-journey/") {
                if rng.chance(50) {
                    "reading"
                } else {
                    "plain"
                }
            } else if template.starts_with("/oidc/assets/") {
                if rng.chance(50) {
                    "login.js"
                } else {
                    "tessera.css"
                }
            } else {
                ids.param(name).unwrap_or("unknown-parameter")
            };
            out.push_str(&percent_encode_segment(value));
            continue;
        }
        match rng.below(4) {
            0 => {
                labels.push("path:unknown-id");
                out.push_str("does-not-exist-0123");
            }
            1 => {
                labels.push("path:huge");
                out.push_str(&"x".repeat(*rng.pick(&[300, 5_000, 60_000])));
            }
            _ => {
                let &(label, segment) = rng.pick(HOSTILE_SEGMENTS);
                labels.push(label);
                out.push_str(segment);
            }
        }
    }
    out.push_str(rest);
    out.into_bytes()
}

fn percent_encode_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn form_encode(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A query string (without `?`), valid for the route or mutated.
fn query(
    valid: Option<Vec<(String, String)>>,
    rng: &mut Rng,
    labels: &mut Vec<&'static str>,
) -> Option<String> {
    let Some(mut pairs) = valid else {
        if !rng.chance(15) {
            return None;
        }
        labels.push("query:unexpected");
        return Some(raw_query_junk(rng).to_string());
    };
    if rng.chance(50) {
        return Some(form_encode(&pairs));
    }
    match rng.below(7) {
        0 => {
            labels.push("query:raw-junk");
            let mut q = form_encode(&pairs);
            q.push('&');
            q.push_str(raw_query_junk(rng));
            Some(q)
        }
        1 => {
            labels.push("query:repeated");
            if let Some(first) = pairs.first().cloned() {
                pairs.push(first);
            }
            Some(form_encode(&pairs))
        }
        2 => {
            labels.push("query:unknown-param");
            pairs.push(("unknown".into(), "1".into()));
            Some(form_encode(&pairs))
        }
        3 => {
            let &(label, n) = rng.pick(HUGE_NUMBERS);
            labels.push(label);
            for (k, val) in pairs.iter_mut() {
                if k == "limit" || k == "offset" || rng.chance(30) {
                    *val = n.to_string();
                }
            }
            Some(form_encode(&pairs))
        }
        4 => {
            labels.push("query:missing-param");
            if !pairs.is_empty() {
                pairs.remove(rng.below(pairs.len()));
            }
            Some(form_encode(&pairs))
        }
        _ => {
            let &(label, s) = rng.pick(HOSTILE_STRINGS);
            labels.push(label);
            if !pairs.is_empty() {
                let i = rng.below(pairs.len());
                pairs[i].1 = s.to_string();
            }
            Some(form_encode(&pairs))
        }
    }
}

/// Form fragments with bad percent-encoding or no structure.
const FORM_JUNK: &[&str] = &[
    "a=%zz",
    "a=%",
    "a=%f",
    "%ff%fe=%c3%28",
    "a=%00",
    "&&&",
    "=",
    "x",
    "a=b=c",
    "grant_type=%ZZ",
];

/// Query strings no route expects.
const QUERY_JUNK: &[&str] = &[
    "%zz=1",
    "a=%ff%fe",
    "a=%00",
    "&&&==&",
    "=x",
    "limit=1e400&offset=-0",
    "limit=18446744073709551616",
    "a=%",
    "a=%c3%28",
    "to[]=1&to[x]=2",
    "clientId=%00",
    "email=a%00b",
    "a=b=c",
    "%e2%80%ae=1",
];

fn raw_query_junk(rng: &mut Rng) -> &'static str {
    QUERY_JUNK[rng.below(QUERY_JUNK.len())]
}

/// Serialises `value`, putting the raw JSON `raw` where the string `SENTINEL` is.
const SENTINEL: &str = "\u{1}__generator_raw__\u{1}";

fn to_text(value: &Value, raw: Option<&str>) -> Vec<u8> {
    let text = serde_json::to_string(value).unwrap_or_default();
    match raw {
        Some(raw) => {
            let quoted = serde_json::to_string(SENTINEL).unwrap_or_default();
            text.replacen(&quoted, raw, 1).into_bytes()
        }
        None => text.into_bytes(),
    }
}

/// Paths (keys and indexes) of every member of `value`.
fn members(value: &Value, prefix: &mut Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                prefix.push(PathStep::Key(k.clone()));
                out.push(prefix.clone());
                members(v, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                prefix.push(PathStep::Index(i));
                out.push(prefix.clone());
                members(v, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn member_mut<'a>(value: &'a mut Value, path: &[PathStep]) -> Option<&'a mut Value> {
    let mut cur = value;
    for step in path {
        cur = match step {
            PathStep::Key(k) => cur.get_mut(k.as_str())?,
            PathStep::Index(i) => cur.get_mut(*i)?,
        };
    }
    Some(cur)
}

fn random_member(value: &Value, rng: &mut Rng) -> Option<Vec<PathStep>> {
    let mut all = Vec::new();
    members(value, &mut Vec::new(), &mut all);
    (!all.is_empty()).then(|| all[rng.below(all.len())].clone())
}

fn nested(depth: usize, object: bool) -> String {
    if object {
        format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
    } else {
        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
    }
}

/// A mutated JSON body.
fn mutate_json(mut value: Value, rng: &mut Rng, labels: &mut Vec<&'static str>) -> Vec<u8> {
    let target = random_member(&value, rng);
    match rng.below(16) {
        0 => {
            labels.push("json:wrong-type");
            let replacement = rng
                .pick(&[
                    Value::from(5),
                    Value::from(-1),
                    Value::from(1.5),
                    Value::Bool(true),
                    Value::Null,
                    Value::Array(vec![]),
                    Value::Object(Map::new()),
                    Value::from("text"),
                    serde_json::json!([1, "two", null]),
                    serde_json::json!({"nested": {"deeper": [true]}}),
                ])
                .clone();
            match target.as_deref().and_then(|p| member_mut(&mut value, p)) {
                Some(slot) => *slot = replacement,
                None => value = replacement,
            }
            to_text(&value, None)
        }
        1 => {
            let &(label, raw) = rng.pick(HUGE_NUMBERS);
            labels.push(label);
            match target.as_deref().and_then(|p| member_mut(&mut value, p)) {
                Some(slot) => *slot = Value::from(SENTINEL),
                None => value = Value::from(SENTINEL),
            }
            to_text(&value, Some(raw))
        }
        2 => {
            let depth = *rng.pick(&[64usize, 127, 128, 129, 200, 1_000, 10_000]);
            labels.push(if depth > 128 {
                "json:deep-nesting"
            } else {
                "json:nesting"
            });
            let raw = nested(depth, rng.chance(50));
            match target.as_deref().and_then(|p| member_mut(&mut value, p)) {
                Some(slot) => *slot = Value::from(SENTINEL),
                None => value = Value::from(SENTINEL),
            }
            to_text(&value, Some(&raw))
        }
        3 => {
            let len = *rng.pick(&[300usize, 5_000, 60_000, 70_000]);
            labels.push(if len > 65_000 {
                "json:too-long-string"
            } else {
                "json:long-string"
            });
            let long = Value::from("a".repeat(len));
            match target.as_deref().and_then(|p| member_mut(&mut value, p)) {
                Some(slot) => *slot = long,
                None => value = long,
            }
            to_text(&value, None)
        }
        4 | 5 => {
            let &(label, s) = rng.pick(HOSTILE_STRINGS);
            labels.push(label);
            let hostile = Value::from(s);
            match target.as_deref().and_then(|p| member_mut(&mut value, p)) {
                Some(slot) => *slot = hostile,
                None => value = hostile,
            }
            to_text(&value, None)
        }
        6 => {
            labels.push("json:lone-surrogate");
            match target.as_deref().and_then(|p| member_mut(&mut value, p)) {
                Some(slot) => *slot = Value::from(SENTINEL),
                None => value = Value::from(SENTINEL),
            }
            to_text(
                &value,
                Some(*rng.pick(&["\"\\ud800\"", "\"\\udfff x\"", "\"\\u0000\""])),
            )
        }
        7 => {
            labels.push("json:duplicate-key");
            let mut text = to_text(&value, None);
            let key = value
                .as_object()
                .and_then(|m| m.keys().next().cloned())
                .unwrap_or_else(|| "name".into());
            if text.last() == Some(&b'}') {
                text.pop();
                let sep = if text.len() > 1 { "," } else { "" };
                text.extend_from_slice(format!("{sep}\"{key}\":\"duplicate\"}}").as_bytes());
            }
            text
        }
        8 => {
            labels.push("json:missing-field");
            if let Some(PathStep::Key(k)) = target.and_then(|p| p.first().cloned()) {
                if let Some(m) = value.as_object_mut() {
                    m.remove(&k);
                }
            }
            to_text(&value, None)
        }
        9 => {
            labels.push("json:truncated");
            let text = to_text(&value, None);
            let cut = rng.below(text.len().max(1));
            text[..cut].to_vec()
        }
        10 => {
            labels.push("json:invalid-utf8");
            let text = to_text(&value, None);
            let bad = *rng.pick(INVALID_UTF8);
            // Inside a string when there is one, else anywhere.
            let at = match text.iter().position(|&b| b == b'"') {
                Some(p) => p + 1,
                None => rng.below(text.len() + 1),
            };
            insert_at(&text, at, bad)
        }
        11 => {
            labels.push("json:raw-control-byte");
            let mut text = to_text(&value, None);
            let at = text.iter().position(|&b| b == b'"').map_or(0, |p| p + 1);
            let byte = *rng.pick(&[0u8, 1, 0x1b, b'\n', 0x7f]);
            text.insert(at, byte);
            text
        }
        12 => {
            let &(label, raw) = rng.pick(WHOLE_BODIES);
            labels.push(label);
            raw.to_vec()
        }
        13 => {
            labels.push("json:unknown-field");
            if let Some(m) = value.as_object_mut() {
                m.insert("unexpected_field".into(), Value::from("x"));
                m.insert("__proto__".into(), serde_json::json!({"admin": true}));
            }
            to_text(&value, None)
        }
        14 => {
            labels.push("json:escaped-key");
            let text = to_text(&value, None);
            if text.first() == Some(&b'{') {
                insert_at(&text, 1, "\"k\\u0000ey\": 1, \"é\": 2,".as_bytes())
            } else {
                text
            }
        }
        _ => {
            labels.push("json:many-members");
            let mut m = Map::new();
            for i in 0..2_000 {
                m.insert(format!("k{i}"), Value::from(i));
            }
            match target.as_deref().and_then(|p| member_mut(&mut value, p)) {
                Some(slot) => *slot = Value::Object(m),
                None => value = Value::Object(m),
            }
            to_text(&value, None)
        }
    }
}

/// A mutated form.
fn mutate_form(
    mut pairs: Vec<(String, String)>,
    rng: &mut Rng,
    labels: &mut Vec<&'static str>,
) -> Vec<u8> {
    let i = rng
        .below(pairs.len().max(1))
        .min(pairs.len().saturating_sub(1));
    match rng.below(9) {
        0 => {
            labels.push("form:missing-param");
            if !pairs.is_empty() {
                pairs.remove(i);
            }
            form_encode(&pairs).into_bytes()
        }
        1 => {
            labels.push("form:repeated-param");
            if let Some(p) = pairs.get(i).cloned() {
                pairs.push(p);
            }
            form_encode(&pairs).into_bytes()
        }
        2 | 3 => {
            let &(label, s) = rng.pick(HOSTILE_STRINGS);
            labels.push(label);
            if let Some(p) = pairs.get_mut(i) {
                p.1 = s.to_string();
            }
            form_encode(&pairs).into_bytes()
        }
        4 => {
            let &(label, n) = rng.pick(HUGE_NUMBERS);
            labels.push(label);
            if let Some(p) = pairs.get_mut(i) {
                p.1 = n.to_string();
            }
            form_encode(&pairs).into_bytes()
        }
        5 => {
            labels.push("form:long-value");
            if let Some(p) = pairs.get_mut(i) {
                p.1 = "v".repeat(*rng.pick(&[5_000usize, 60_000, 70_000]));
            }
            form_encode(&pairs).into_bytes()
        }
        6 => {
            labels.push("form:bad-percent");
            let mut text = form_encode(&pairs);
            text.push('&');
            text.push_str(FORM_JUNK[rng.below(FORM_JUNK.len())]);
            text.into_bytes()
        }
        7 => {
            labels.push("form:json-inside");
            if let Some(p) = pairs.get_mut(i) {
                p.1 = rng
                    .pick(&[
                        "{\"channel\": [[[[[[[[[[[[]]]]]]]]]]]]}",
                        "{\"channel\": 1e400}",
                        "{\"channel\": \"\\ud800\"}",
                        "[]",
                        "{",
                        "null",
                    ])
                    .to_string();
            }
            form_encode(&pairs).into_bytes()
        }
        _ => {
            labels.push("form:invalid-utf8");
            let mut text = form_encode(&pairs).into_bytes();
            text.extend_from_slice(b"&x=\xff\xfe");
            text
        }
    }
}

/// A mutated YAML journey definition.
fn mutate_yaml(text: String, rng: &mut Rng, labels: &mut Vec<&'static str>) -> Vec<u8> {
    let (label, out): (&'static str, Vec<u8>) = match rng.below(9) {
        0 => {
            let cut = rng.below(text.len().max(1));
            ("yaml:truncated", text.as_bytes()[..cut].to_vec())
        }
        1 => ("yaml:invalid-utf8", {
            let mut b = text.into_bytes();
            b.extend_from_slice(b"\nname: \xff\xfe\n");
            b
        }),
        2 => (
            "yaml:aliases",
            b"id: spare-journey\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\ntype: backend_api\nsteps: []\n".to_vec(),
        ),
        3 => ("yaml:deep-nesting", {
            let depth = *rng.pick(&[100usize, 1_000, 10_000]);
            format!("id: spare-journey\nx: {}{}\n", "[".repeat(depth), "]".repeat(depth)).into_bytes()
        }),
        4 => ("yaml:tabs", text.replace("  ", "\t").into_bytes()),
        5 => ("yaml:duplicate-keys", format!("{text}type: backend_api\n").into_bytes()),
        6 => ("yaml:nul", {
            let mut b = text.into_bytes();
            b.insert(b.len() / 2, 0);
            b
        }),
        7 => (
            "yaml:tags",
            b"id: !!binary aGVsbG8=\ntype: !!python/object:os.system backend_api\nsteps: !!set {a}\n"
                .to_vec(),
        ),
        _ => ("yaml:documents", format!("{text}---\n{text}").into_bytes()),
    };
    labels.push(label);
    out
}

/// Builds case `index` of `seed` against one of `routes`.
pub fn case(routes: &[Endpoint], v: &Values, seed: u64, index: usize) -> Case {
    let mut rng = Rng::for_case(seed, index);
    let mut labels = Vec::new();
    // Mostly the table's routes; sometimes a method or path the table does not have.
    let (method, template, access) = if rng.chance(4) {
        let e = rng.pick(routes);
        let m = *rng.pick(&["PATCH", "OPTIONS", "HEAD", "TRACE", "FOO", "get", "CONNECT"]);
        labels.push("route:other-method");
        (m.to_string(), e.path.to_string(), e.access)
    } else if rng.chance(3) {
        labels.push("route:unknown-path");
        let p = *rng.pick(&[
            "/",
            "//",
            "/cis/v1/nope",
            "/oidc/token/extra",
            "/cis/v1/users/",
            "/oidc/../cis/v1/applications",
            "/%2e%2e/oidc/jwks",
            "/cis//v1/users",
            "/healthz/",
            "/OIDC/TOKEN",
        ]);
        ("GET".to_string(), p.to_string(), Access::Public)
    } else {
        let e = rng.pick(routes);
        (e.method.as_str().to_string(), e.path.to_string(), e.access)
    };
    let family = family(&template);
    let oauth = access == Access::ClientAuth && method == "POST";

    let mut target = fill_path(&template, &method, v, &mut rng, &mut labels);
    if let Some(q) = query(
        templates::query(&method, &template, v),
        &mut rng,
        &mut labels,
    ) {
        target.push(b'?');
        target.extend_from_slice(q.as_bytes());
    }

    let mut headers: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let auth = if rng.chance(60) {
        right_auth(access, v, &mut rng)
    } else {
        let (label, auth) = other_auth(v, &mut rng);
        labels.push(label);
        auth
    };
    if let Some(a) = auth {
        headers.push((b"authorization".to_vec(), a));
    }

    let template_body = templates::body(&method, &template, v, index);
    let (mut body, mut content_type): (Vec<u8>, Option<&str>) = match &template_body {
        Some(b) => {
            let ct = Some(b.content_type());
            let bytes = if rng.chance(25) {
                labels.push("body:valid");
                match b {
                    Body::Json(j) => to_text(j, None),
                    Body::Form(p) => form_encode(p).into_bytes(),
                    Body::Yaml(y) => y.clone().into_bytes(),
                }
            } else {
                match b.clone() {
                    Body::Json(j) => mutate_json(j, &mut rng, &mut labels),
                    Body::Form(p) => mutate_form(p, &mut rng, &mut labels),
                    Body::Yaml(y) => mutate_yaml(y, &mut rng, &mut labels),
                }
            };
            (bytes, ct)
        }
        None if rng.chance(20) => {
            labels.push("body:unexpected");
            let junk = mutate_json(serde_json::json!({"a": "b"}), &mut rng, &mut labels);
            (junk, Some("application/json"))
        }
        None => (Vec::new(), None),
    };
    // OAuth routes: the client's credentials in HTTP Basic instead of the form, sometimes.
    if oauth && rng.chance(20) && !headers.iter().any(|(n, _)| n == b"authorization") {
        labels.push("auth:basic-client");
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", v.client_id, v.client_secret));
        headers.push((
            b"authorization".to_vec(),
            format!("Basic {basic}").into_bytes(),
        ));
    }
    if rng.chance(20) {
        labels.push("content-type:other");
        content_type = match rng.below(CONTENT_TYPES.len() + 1) {
            0 => None,
            i => Some(CONTENT_TYPES[i - 1]),
        };
    }
    if let Some(ct) = content_type {
        headers.push((b"content-type".to_vec(), ct.as_bytes().to_vec()));
    }
    if rng.chance(5) {
        let &(label, name, value) = rng.pick(ODD_HEADERS);
        labels.push(label);
        headers.push((name.to_vec(), value.to_vec()));
    }

    let framing = if rng.chance(94) {
        if rng.chance(4) && !body.is_empty() {
            Framing::Chunked
        } else if rng.chance(2) && body.len() > 1 {
            Framing::ShortLength
        } else {
            Framing::Exact
        }
    } else {
        if body.is_empty() {
            body = b"{}".to_vec();
        }
        *rng.pick(&[
            Framing::LongLengthThenEof,
            Framing::InvalidLength("abc"),
            Framing::InvalidLength("-1"),
            Framing::InvalidLength("18446744073709551616"),
            Framing::InvalidLength("1e3"),
            Framing::ConflictingLengths,
            Framing::LengthAndChunked,
        ])
    };
    if framing != Framing::Exact {
        labels.push(framing.label());
    }
    let mut route_changed = false;
    // CONNECT takes an authority, not a path: the parser may refuse it before the router.
    let mut well_formed = framing.is_well_formed() && method != "CONNECT";
    // Raw bytes in the target that HTTP/1.1 does not allow there.
    if rng.chance(2) {
        let &(label, raw) = rng.pick(RAW_TARGET_BYTES);
        labels.push(label);
        target.extend_from_slice(raw);
        well_formed = false;
        // The bytes may make the path another (unknown) route, answered in the REST format.
        route_changed = true;
    }
    // The `http` crate refuses a target over 64 KiB (414, from the parser): valid HTTP/1.1,
    // but beyond what the server accepts before routing.
    if target.len() >= 65_534 {
        labels.push("target:over-64k");
        well_formed = false;
    }
    let method_bytes = method.into_bytes();
    let route_template = template;
    Case {
        index,
        route: format!(
            "{} {route_template}",
            String::from_utf8_lossy(&method_bytes)
        ),
        family,
        oauth: oauth && !route_changed,
        either_format: oauth && route_changed,
        html: templates::is_page(&route_template),
        well_formed,
        labels,
        request: RawRequest {
            method: method_bytes,
            target,
            headers,
            body,
            framing,
        },
    }
}
