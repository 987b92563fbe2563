//! What every answer must be, and the tally of what came back.
//!
//! A request that is valid HTTP/1.1 must be answered by Tessera's router (every router answer
//! carries `X-Content-Type-Options`, added by its outermost middleware) with a status below
//! 500; a 4xx carries the documented JSON error body — RFC 6749 `{error, error_description}`
//! at the OAuth endpoints, `{error_code, message}` everywhere else (SPEC §3) — and a 401 a
//! `WWW-Authenticate` challenge. A request that is not valid HTTP/1.1 (a raw control byte in
//! the target, an unusable `Content-Length`) may instead be refused by the HTTP parser, which
//! cannot give a JSON body, or get its connection closed; never a 5xx or a hang.

use std::collections::BTreeMap;

use serde_json::Value;

use super::mutate::Case;
use super::raw::{Framing, Outcome, RawResponse};

/// Who answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Tessera's router, with this status.
    Router(u16),
    /// The HTTP parser, before the router (the request was not valid HTTP/1.1).
    Protocol(u16),
    /// The connection was closed without an answer (the request was not valid HTTP/1.1).
    Closed,
}

impl Answer {
    fn label(self) -> String {
        match self {
            Answer::Router(s) => s.to_string(),
            Answer::Protocol(s) => format!("{s} (HTTP parser, no body)"),
            Answer::Closed => "closed without an answer".into(),
        }
    }
}

/// Judges one exchange.
pub fn judge(case: &Case, outcome: &Outcome) -> Result<Answer, String> {
    let r = match outcome {
        Outcome::TimedOut => return Err("no answer before the deadline (hang)".into()),
        Outcome::Broken(e) => return Err(format!("not an HTTP answer: {e}")),
        Outcome::Closed if case.well_formed => {
            return Err("the connection closed without an answer (crash?)".into())
        }
        Outcome::Closed => return Ok(Answer::Closed),
        Outcome::Answered(r) => r,
    };
    if r.status >= 500 {
        return Err(format!("status {}: {}", r.status, text(&r.body)));
    }
    let routed = r.header("x-content-type-options") == Some(b"nosniff".as_slice());
    if !routed {
        if case.well_formed {
            return Err(format!(
                "status {} from the HTTP layer, not the router: {}",
                r.status,
                text(&r.body)
            ));
        }
        if !(400..500).contains(&r.status) {
            return Err(format!("the HTTP parser answered {}", r.status));
        }
        return Ok(Answer::Protocol(r.status));
    }
    // A body cut short (announced longer than sent) is incomplete, not too large.
    if r.status == 413
        && case.request.framing == Framing::LongLengthThenEof
        && case.request.body.len() + 10 < 64 * 1024
    {
        return Err("an incomplete body was answered as too large (413)".into());
    }
    if (400..500).contains(&r.status) && case.request.method != b"HEAD" {
        documented_error(case, r)?;
    }
    if r.status == 401 && r.header("www-authenticate").is_none() {
        return Err("401 without WWW-Authenticate".into());
    }
    Ok(Answer::Router(r.status))
}

fn text_all(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}

fn text(body: &[u8]) -> String {
    let t = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    if body.len() > 300 {
        format!("{t}…")
    } else {
        t
    }
}

fn documented_error(case: &Case, r: &RawResponse) -> Result<(), String> {
    let html_type = r
        .header("content-type")
        .is_some_and(|v| v.starts_with(b"text/html"));
    if case.html && html_type {
        // The hosted pages' error page names the error code.
        return if text_all(&r.body).contains("id=\"tessera-error-code\"") {
            Ok(())
        } else {
            Err(format!("{} HTML page without an error code", r.status))
        };
    }
    let json_type = r
        .header("content-type")
        .is_some_and(|v| v.starts_with(b"application/json"));
    let body: Value = serde_json::from_slice(&r.body).map_err(|_| {
        format!(
            "{} with a body that is not JSON: {:?}",
            r.status,
            text(&r.body)
        )
    })?;
    if !json_type {
        return Err(format!(
            "{} JSON error without a JSON content type",
            r.status
        ));
    }
    let oauth_shape = oauth_error_body(&body);
    let rest_shape = rest_error_body(&body);
    if case.either_format && (oauth_shape || rest_shape) {
        return Ok(());
    }
    if case.oauth && !oauth_shape {
        return Err(format!("{} not an RFC 6749 error body: {body}", r.status));
    }
    if !case.oauth && !rest_shape {
        return Err(format!(
            "{} not a {{error_code, message}} body: {body}",
            r.status
        ));
    }
    Ok(())
}

/// RFC 6749 §5.2: `error` (a non-empty code) and, from Tessera always, `error_description`.
fn oauth_error_body(body: &Value) -> bool {
    let string = |k: &str| body.get(k).and_then(Value::as_str);
    string("error").is_some_and(|e| !e.is_empty()) && string("error_description").is_some()
}

/// SPEC §3: `error_code` (snake_case) and `message`.
fn rest_error_body(body: &Value) -> bool {
    let string = |k: &str| body.get(k).and_then(Value::as_str);
    let snake = string("error_code")
        .is_some_and(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
    snake && string("message").is_some()
}

/// The tally of a run.
#[derive(Debug, Default)]
pub struct Stats {
    pub sent: usize,
    pub by_answer: BTreeMap<String, usize>,
    pub by_family: BTreeMap<&'static str, BTreeMap<String, usize>>,
    pub by_label: BTreeMap<&'static str, usize>,
    pub well_formed: usize,
    pub failures: Vec<String>,
}

impl Stats {
    pub fn record(&mut self, case: &Case, verdict: Result<Answer, String>) {
        self.sent += 1;
        if case.well_formed {
            self.well_formed += 1;
        }
        for l in &case.labels {
            *self.by_label.entry(*l).or_default() += 1;
        }
        let key = match verdict {
            Ok(a) => a.label(),
            Err(why) => {
                self.failures.push(format!(
                    "case {} ({}; {}): {why}\n--- request ---\n{}",
                    case.index,
                    case.route,
                    case.labels.join(", "),
                    case.request.describe()
                ));
                "FAILED".into()
            }
        };
        *self.by_answer.entry(key.clone()).or_default() += 1;
        *self
            .by_family
            .entry(case.family)
            .or_default()
            .entry(key)
            .or_default() += 1;
    }

    /// The tally as Markdown tables.
    pub fn table(&self) -> String {
        let mut out = format!(
            "requests: {} ({} valid HTTP/1.1), failures: {}\n\n| answer | count |\n|---|---:|\n",
            self.sent,
            self.well_formed,
            self.failures.len()
        );
        for (k, n) in &self.by_answer {
            out.push_str(&format!("| {k} | {n} |\n"));
        }
        out.push_str("\n| route family | requests | answers |\n|---|---:|---|\n");
        for (family, answers) in &self.by_family {
            let total: usize = answers.values().sum();
            let list: Vec<String> = answers.iter().map(|(k, n)| format!("{k}: {n}")).collect();
            out.push_str(&format!("| {family} | {total} | {} |\n", list.join(", ")));
        }
        out.push_str(&format!(
            "\nmutations applied: {} kinds; most frequent: ",
            self.by_label.len()
        ));
        let mut labels: Vec<_> = self.by_label.iter().collect();
        labels.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let top: Vec<String> = labels
            .iter()
            .take(12)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        out.push_str(&top.join(", "));
        out.push('\n');
        out
    }
}
