//! Email magic links (SPEC §5, Mosaic `/v1/auth/link/email/*`).
//!
//! `send` makes a 256-bit random code valid for `email_expiration` minutes (the request's,
//! else `magic_link.expires_in`) and emails the link `redirect_uri?code=<code>[&state=…]`,
//! or returns it on the `direct` channel (`auth:direct`). The app's page at `redirect_uri`
//! posts the code to `authenticate`, which completes the login with amr `eml` and marks the
//! email address verified.
//!
//! Invariants:
//! - `redirect_uri` must equal one of the client's `redirect_uris` byte for byte (else 400
//!   `invalid_redirect_uri`); the link keeps any query the registered URI has.
//! - The code is stored only as a keyed hash (`codes.rs`), is redeemable once, and only by
//!   the client that sent it (the link goes to that client's redirect URI). A new link for the
//!   same user and client replaces the older one; a failed delivery stores nothing.
//! - Errors of `authenticate`: an unknown, used or replaced code (or another client's) is 400
//!   `auth_invalid_credentials`; an expired one is 400 `auth_link_expired`. 256 random bits
//!   cannot be guessed, so there is no failure counter; the per-client authenticate rate
//!   limit applies.

use std::sync::Arc;

use serde::Serialize;
use zeroize::Zeroizing;

use super::challenge::{expiry_minutes, method_enabled, Challenges, Delivery, Outgoing};
use super::codes::{link_hash, Secret, EML};
use crate::caller::{perm, Permit};
use crate::error::{Code, Error};
use crate::issuer::IssuedTokens;
use crate::logins::LoginOptions;
use crate::messages::{compose_email, EmailContent, MessageVars};
use crate::model::{email_norm, CodeRedemption, Redemption};
use crate::users::Identifier;

/// Longest `state` accepted.
const MAX_STATE_LEN: usize = 1024;

/// Longest code looked at (codes are 43 characters).
const MAX_CODE_LEN: usize = 128;

/// How the link reaches the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkChannel {
    Email,
    /// Returned to the caller (`auth:direct`).
    Direct,
}

impl LinkChannel {
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "email" => Ok(Self::Email),
            "direct" => Ok(Self::Direct),
            _ => Err(Error::invalid("`channel` must be one of email, direct")),
        }
    }
}

/// `POST /cis/v1/auth/link/email/send`.
#[derive(Debug, Clone)]
pub struct LinkSend {
    pub redirect_uri: String,
    pub identifier: Identifier,
    pub state: Option<String>,
    /// Minutes, 1–60; default `magic_link.expires_in`.
    pub email_expiration: Option<u32>,
    pub channel: LinkChannel,
    /// The platform's `email_content`: shapes the email (`messages.rs`); the link stays in
    /// it.
    pub email_content: Option<EmailContent>,
}

/// What a send returns: the link and its code only on the `direct` channel.
#[derive(Debug, Serialize)]
pub struct LinkSent {
    pub message: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<Secret>,
}

/// `POST /cis/v1/auth/link/email/authenticate`. Its `Debug` hides the code.
pub struct LinkLogin {
    pub code: Zeroizing<String>,
    pub options: LoginOptions,
}

impl std::fmt::Debug for LinkLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkLogin")
            .field("code", &"***")
            .field("options", &self.options)
            .finish()
    }
}

/// `redirect_uri` with `code` (and `state`) appended to its query.
pub(super) fn build_link(
    redirect_uri: &str,
    code: &str,
    state: Option<&str>,
) -> Result<String, Error> {
    let mut url =
        url::Url::parse(redirect_uri).map_err(|_| Error::from(Code::InvalidRedirectUri))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("code", code);
        if let Some(s) = state {
            q.append_pair("state", s);
        }
    }
    Ok(url.into())
}

/// Email magic links.
pub struct MagicLinks {
    challenges: Arc<Challenges>,
}

impl MagicLinks {
    pub fn new(challenges: Arc<Challenges>) -> Self {
        Self { challenges }
    }

    /// `POST /cis/v1/auth/link/email/send`; `direct` also needs `auth:direct`.
    pub async fn send(
        &self,
        permit: &Permit<perm::Auth>,
        req: LinkSend,
    ) -> Result<LinkSent, Error> {
        if let Some(content) = &req.email_content {
            content.validate()?;
        }
        if req.channel == LinkChannel::Direct {
            permit.also::<perm::AuthDirect>()?;
        }
        let client = permit.client();
        let c = &self.challenges;
        if !client.settings().redirect_uris.contains(&req.redirect_uri) {
            return Err(Code::InvalidRedirectUri.into());
        }
        if req.state.as_ref().is_some_and(|s| s.len() > MAX_STATE_LEN) {
            return Err(Error::invalid(format!(
                "`state` is longer than {MAX_STATE_LEN} bytes"
            )));
        }
        if req
            .state
            .as_ref()
            .is_some_and(|s| s.chars().any(char::is_control))
        {
            return Err(Error::invalid(
                "`state` must not contain control characters",
            ));
        }
        let prefs = c.prefs(client);
        method_enabled(&prefs, EML)?;
        let minutes = expiry_minutes(
            "email_expiration",
            req.email_expiration,
            prefs.magic_link.expires_in,
        )?;
        let user =
            Challenges::require_active(c.users().by_identifier(&req.identifier, true).await?)?;
        let destination = match req.channel {
            LinkChannel::Email => Some(
                user.email
                    .clone()
                    .ok_or_else(|| Error::from(Code::UserEmailAddressMissing))?,
            ),
            LinkChannel::Direct => user.email.clone(),
        };
        let limit_key = match &destination {
            Some(d) => email_norm(d),
            None => format!("user:{}", user.user_id),
        };
        let code = Secret::new(tessera_jose::random_token_b64url(32)?);
        let link = Secret::new(build_link(
            &req.redirect_uri,
            code.expose(),
            req.state.as_deref(),
        )?);
        let mut record = c.record(
            client,
            &user,
            EML,
            link_hash(c.hasher(), code.expose()),
            destination,
            minutes,
        )?;
        record.redirect_uri = Some(req.redirect_uri.clone());
        record.state = req.state.clone();
        let delivery = match req.channel {
            LinkChannel::Email => {
                let vars = MessageVars {
                    app: &client.app.name,
                    secret: link.expose(),
                    minutes,
                    message: "",
                };
                let t = c.templates();
                let (subject, text) = compose_email(
                    &t.magic_link_subject,
                    &t.magic_link_text,
                    &vars,
                    req.email_content.as_ref(),
                );
                Delivery::Email { subject, text }
            }
            LinkChannel::Direct => Delivery::Direct,
        };
        c.send(
            client,
            Outgoing {
                record,
                delivery,
                limit_key,
                what: "magic link",
            },
        )
        .await?;
        let direct = req.channel == LinkChannel::Direct;
        Ok(LinkSent {
            message: "Magic link sent",
            link: direct.then_some(link),
            code: direct.then_some(code),
        })
    }

    /// `POST /cis/v1/auth/link/email/authenticate`.
    pub async fn authenticate(
        &self,
        permit: &Permit<perm::Auth>,
        login: LinkLogin,
    ) -> Result<IssuedTokens, Error> {
        let client = permit.client();
        let c = &self.challenges;
        c.limits()
            .check_authenticate(c.now_ms(), client.client_id(), None)?;
        c.logins().precheck(client, &login.options).await?;
        let code = login.code.trim();
        if code.is_empty() || code.len() > MAX_CODE_LEN {
            return Err(Code::AuthInvalidCredentials.into());
        }
        let redemption = CodeRedemption {
            code_hash: link_hash(c.hasher(), code),
            user_id: None,
            kinds: vec![EML.to_string()],
            client_id: Some(client.client_id().to_string()),
            now_s: c.now_s(),
        };
        let record = match c.redeem(&redemption).await? {
            Redemption::Consumed(r) => r,
            Redemption::Expired => return Err(Code::AuthLinkExpired.into()),
            Redemption::Invalid => return Err(Code::AuthInvalidCredentials.into()),
        };
        let user = c
            .users()
            .by_id(&record.user_id)
            .await?
            .ok_or_else(|| Error::from(Code::AuthInvalidCredentials))?;
        c.finish(client, user, &record, login.options).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn links_append_code_and_state_to_the_query() {
        assert_eq!(
            build_link("https://app.example/cb", "abc", Some("s 1&x")).unwrap(),
            "https://app.example/cb?code=abc&state=s+1%26x"
        );
        assert_eq!(
            build_link("https://app.example/cb?lang=en", "abc", None).unwrap(),
            "https://app.example/cb?lang=en&code=abc"
        );
    }
}
