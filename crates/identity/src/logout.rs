//! [`Logout`]: OpenID Connect RP-Initiated Logout 1.0 (the `end_session_endpoint`) and
//! Back-Channel Logout 1.0 (a signed `logout_token` POSTed to each client of an ended browser
//! session that registered a `backchannel_logout_uri`).
//!
//! Rules:
//! - `id_token_hint` must be an ID token we issued: our signature, `typ: JWT`, our issuer;
//!   an expired one is accepted (RP-Initiated Logout §2). Its `aud` names the client; a
//!   `client_id` sent too must be the same. Its `sid` names the session.
//! - `post_logout_redirect_uri` must equal one of the client's `post_logout_redirect_uris`
//!   byte for byte, and needs the client identified (hint or `client_id`). Every error is
//!   shown to the user (the HTTP layer renders a page), never redirected.
//! - The session to end is the browser's (its cookie). When the hint's `sid` is that
//!   session, it ends at once; otherwise (no hint, a hint of another session) the user
//!   confirms: the pending request is sealed with the KEK (it cannot be altered, and expires
//!   after [`CONFIRM_TTL_S`]) and bound to a double-submit CSRF token (cookie + form field,
//!   whose hash the sealed request carries). Without a live browser session there is
//!   nothing to end: the request completes at once.
//! - Back-channel: every ended session (whatever ended it, see `sessions.rs`) queues one
//!   job per client in `session_clients` with a `backchannel_logout_uri`, in the durable
//!   delivery queue (`deliveries.rs`), which signs the token at send time and retries.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tessera_jose::{b64url_decode, b64url_encode, Kek};

use crate::clients::Clients;
use crate::clock::Clock;
use crate::deliveries::{Deliveries, Job};
use crate::error::{Code, Error};
use crate::keys::Keys;
use crate::model::ClientRecord;
use crate::sessions::{SessionEndListener, Sessions};
use crate::util::sha256_b64url;

/// How long a confirmation page stays valid.
pub const CONFIRM_TTL_S: i64 = 600;
/// The associated data of a sealed pending logout.
const PENDING_AAD: &[u8] = b"logout:pending";
/// Longest `id_token_hint` accepted.
const MAX_HINT_LEN: usize = 16 * 1024;
/// Longest `state`, `client_id` and `post_logout_redirect_uri` accepted.
const MAX_PARAM_LEN: usize = 2000;

/// The parameters of an end-session request (RP-Initiated Logout §2). `ui_locales` and
/// `logout_hint` concern the pages only.
#[derive(Debug, Default, Clone)]
pub struct EndSessionRequest {
    pub id_token_hint: Option<String>,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
}

/// What an end-session request (or its confirmation) comes to.
#[derive(Debug)]
pub enum EndSession {
    /// Done: the browser session ended (`ended`) or there was none. Go to `redirect` (the
    /// registered URI with `state`), else show the "signed out" page.
    Done {
        redirect: Option<String>,
        ended: bool,
    },
    /// Ask the user first: a form POSTing `pending` and `csrf` to the confirm endpoint,
    /// with `csrf` also set in the logout cookie.
    Confirm(PendingLogout),
}

/// A logout waiting for the user's confirmation. No `Debug` of the token.
pub struct PendingLogout {
    /// The sealed request (base64url), for a hidden form field.
    pub pending: String,
    /// The CSRF token: the logout cookie's value and the form's `csrf` field.
    pub csrf: String,
    /// The display name of the client that asked, when known.
    pub client_name: Option<String>,
    /// Where the browser goes afterwards (for the page's `form-action`).
    pub redirect: Option<String>,
}

impl std::fmt::Debug for PendingLogout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogout")
            .field("client_name", &self.client_name)
            .field("redirect", &self.redirect)
            .finish_non_exhaustive()
    }
}

/// The sealed content of a pending logout.
#[derive(Serialize, Deserialize)]
struct Pending {
    redirect: Option<String>,
    csrf_hash: String,
    exp: i64,
}

/// A verified `id_token_hint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutHint {
    pub client_id: String,
    pub sub: String,
    pub sid: Option<String>,
}

fn bad_hint() -> Error {
    Error::invalid("`id_token_hint` is not an ID token issued by this server")
}

/// A single-valued parameter: absent when empty, refused when too long.
fn bounded<'a>(name: &str, v: &'a Option<String>, max: usize) -> Result<Option<&'a str>, Error> {
    match v.as_deref() {
        None | Some("") => Ok(None),
        Some(s) if s.len() > max || s.chars().any(char::is_control) => Err(Error::invalid(
            format!("`{name}` is longer than {max} bytes or contains control characters"),
        )),
        Some(s) => Ok(Some(s)),
    }
}

pub struct Logout {
    keys: Arc<Keys>,
    clients: Arc<Clients>,
    sessions: Arc<Sessions>,
    deliveries: Arc<Deliveries>,
    kek: Arc<Kek>,
    clock: Arc<dyn Clock>,
    issuer: String,
}

impl Logout {
    pub fn new(
        keys: Arc<Keys>,
        clients: Arc<Clients>,
        sessions: Arc<Sessions>,
        deliveries: Arc<Deliveries>,
        kek: Arc<Kek>,
        clock: Arc<dyn Clock>,
        issuer: String,
    ) -> Self {
        Self {
            keys,
            clients,
            sessions,
            deliveries,
            kek,
            clock,
            issuer,
        }
    }

    /// Verifies an `id_token_hint`: our signature, `typ: JWT`, our issuer, one audience;
    /// its expiry is not checked (RP-Initiated Logout §2).
    pub fn verify_hint(&self, hint: &str) -> Result<LogoutHint, Error> {
        if hint.len() > MAX_HINT_LEN {
            return Err(bad_hint());
        }
        let signed = self.keys.verify(hint).ok_or_else(bad_hint)?;
        if signed.typ.as_deref() != Some("JWT") {
            return Err(bad_hint());
        }
        let c = signed.claims;
        if c.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(bad_hint());
        }
        let client_id = match c.get("aud") {
            Some(Value::String(aud)) => aud.clone(),
            Some(Value::Array(auds)) if auds.len() == 1 => {
                auds[0].as_str().map(str::to_string).ok_or_else(bad_hint)?
            }
            _ => return Err(bad_hint()),
        };
        let sub = c
            .get("sub")
            .and_then(Value::as_str)
            .ok_or_else(bad_hint)?
            .to_string();
        let sid = c.get("sid").and_then(Value::as_str).map(str::to_string);
        Ok(LogoutHint {
            client_id,
            sub,
            sid,
        })
    }

    async fn client(&self, client_id: &str) -> Result<Arc<ClientRecord>, Error> {
        match self.clients.record(client_id).await? {
            Some(r) if r.client.settings.enabled => Ok(r),
            _ => Err(Error::invalid(
                "`client_id` does not name an enabled client",
            )),
        }
    }

    /// The end-session endpoint: validates the request, then ends the browser session
    /// behind `session_cookie` when the hint names it, or asks for a confirmation.
    pub async fn end_session(
        &self,
        req: &EndSessionRequest,
        session_cookie: Option<&str>,
    ) -> Result<EndSession, Error> {
        let hint = match bounded("id_token_hint", &req.id_token_hint, MAX_HINT_LEN)? {
            Some(h) => Some(self.verify_hint(h)?),
            None => None,
        };
        let client_id = bounded("client_id", &req.client_id, MAX_PARAM_LEN)?;
        let redirect_uri = bounded(
            "post_logout_redirect_uri",
            &req.post_logout_redirect_uri,
            MAX_PARAM_LEN,
        )?;
        let state = bounded("state", &req.state, MAX_PARAM_LEN)?;
        let client_id = match (&hint, client_id) {
            (Some(h), Some(c)) if h.client_id != c => {
                return Err(Error::invalid(
                    "`client_id` is not the audience of `id_token_hint`",
                ))
            }
            (Some(h), _) => Some(h.client_id.as_str()),
            (None, c) => c,
        };
        let client = match client_id {
            Some(id) => Some(self.client(id).await?),
            None => None,
        };
        let redirect = match redirect_uri {
            None => None,
            Some(uri) => {
                let Some(client) = &client else {
                    return Err(Error::invalid(
                        "`post_logout_redirect_uri` needs `id_token_hint` or `client_id`",
                    ));
                };
                if !client
                    .settings()
                    .post_logout_redirect_uris
                    .iter()
                    .any(|u| u == uri)
                {
                    return Err(Error::new(
                        Code::InvalidRedirectUri,
                        "`post_logout_redirect_uri` is not one of the client's \
                         post_logout_redirect_uris",
                    ));
                }
                Some(with_state(uri, state)?)
            }
        };
        let session = match session_cookie {
            Some(token) => self.sessions.browser(token).await?,
            None => None,
        };
        let Some(session) = session else {
            return Ok(EndSession::Done {
                redirect,
                ended: false,
            });
        };
        if hint.as_ref().and_then(|h| h.sid.as_deref()) == Some(session.session_hash.as_str()) {
            let ended = self.sessions.end_by_sid(&session.session_hash).await?;
            return Ok(EndSession::Done { redirect, ended });
        }
        let csrf = tessera_jose::random_token_b64url(32)?;
        let pending = Pending {
            redirect: redirect.clone(),
            csrf_hash: sha256_b64url(&csrf),
            exp: self.clock.now_s() + CONFIRM_TTL_S,
        };
        let json =
            serde_json::to_vec(&pending).map_err(|e| Error::internal(format!("logout: {e}")))?;
        let sealed = self.kek.seal(&json, PENDING_AAD)?;
        Ok(EndSession::Confirm(PendingLogout {
            pending: b64url_encode(&sealed),
            csrf,
            client_name: client.map(|c| c.settings().name.clone()),
            redirect,
        }))
    }

    /// The user confirmed: `pending` and `csrf_field` from the form, `csrf_cookie` and
    /// `session_cookie` from the cookies. The CSRF token must be the cookie's and the one the
    /// pending request was made for (403 `forbidden` otherwise); an altered or expired
    /// request is 400 `invalid_request`. Ends the browser's session, if it still has one.
    pub async fn confirm(
        &self,
        pending: &str,
        csrf_field: &str,
        csrf_cookie: Option<&str>,
        session_cookie: Option<&str>,
    ) -> Result<EndSession, Error> {
        let expired = || Error::invalid("the logout request is invalid or has expired");
        if pending.len() > 8 * 1024 {
            return Err(expired());
        }
        let sealed = b64url_decode(pending).map_err(|_| expired())?;
        let json = self.kek.open(&sealed, PENDING_AAD).map_err(|_| expired())?;
        let pending: Pending = serde_json::from_slice(&json).map_err(|_| expired())?;
        if pending.exp <= self.clock.now_s() {
            return Err(expired());
        }
        let forged = || Error::new(Code::Forbidden, "the logout form's CSRF token is wrong");
        let Some(cookie) = csrf_cookie else {
            return Err(forged());
        };
        if csrf_field.is_empty()
            || !tessera_jose::constant_time_eq(csrf_field.as_bytes(), cookie.as_bytes())
            || !tessera_jose::constant_time_eq(
                sha256_b64url(csrf_field).as_bytes(),
                pending.csrf_hash.as_bytes(),
            )
        {
            return Err(forged());
        }
        let session = match session_cookie {
            Some(token) => self.sessions.browser(token).await?,
            None => None,
        };
        let ended = match session {
            Some(s) => self.sessions.end_by_sid(&s.session_hash).await?,
            None => false,
        };
        Ok(EndSession::Done {
            redirect: pending.redirect,
            ended,
        })
    }

    /// Queues the back-channel logouts of one ended session.
    async fn notify_clients(&self, sid: &str, sub: &str) -> Result<(), Error> {
        for client_id in self.sessions.clients_of(sid).await? {
            let Some(record) = self.clients.record(&client_id).await? else {
                continue;
            };
            let settings = record.settings();
            let Some(url) = &settings.backchannel_logout_uri else {
                continue;
            };
            if !settings.enabled {
                continue;
            }
            let job = Job::BackchannelLogout {
                url: url.clone(),
                client_id: client_id.clone(),
                alg: settings.id_token_signed_response_alg,
                sub: sub.to_string(),
                sid: sid.to_string(),
            };
            self.deliveries.enqueue(&job).await?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl SessionEndListener for Logout {
    async fn sessions_ended(&self, ended: Vec<(String, String)>) {
        for (sid, sub) in ended {
            if let Err(e) = self.notify_clients(&sid, &sub).await {
                // The session has ended; only the notification is lost.
                tracing::warn!(error = %e, "queueing back-channel logouts failed");
            }
        }
    }
}

/// `uri` with `state` appended to its query (RP-Initiated Logout §3).
fn with_state(uri: &str, state: Option<&str>) -> Result<String, Error> {
    let Some(state) = state else {
        return Ok(uri.to_string());
    };
    let mut url = url::Url::parse(uri)
        .map_err(|_| Error::invalid("`post_logout_redirect_uri` is not an absolute URI"))?;
    url.query_pairs_mut().append_pair("state", state);
    Ok(url.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_appended_to_the_query() {
        assert_eq!(
            with_state("https://rp.example/bye", Some("a b&c")).unwrap(),
            "https://rp.example/bye?state=a+b%26c"
        );
        assert_eq!(
            with_state("https://rp.example/bye?x=1", Some("s")).unwrap(),
            "https://rp.example/bye?x=1&state=s"
        );
        assert_eq!(
            with_state("https://rp.example/bye", None).unwrap(),
            "https://rp.example/bye"
        );
    }

    #[test]
    fn parameters_are_bounded() {
        assert_eq!(bounded("s", &Some(String::new()), 5).unwrap(), None);
        assert_eq!(bounded("s", &Some("abc".into()), 5).unwrap(), Some("abc"));
        assert!(bounded("s", &Some("abcdef".into()), 5).is_err());
        assert!(bounded("s", &Some("a\nb".into()), 5).is_err());
    }
}
