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

use serde::Serialize;
use zeroize::Zeroizing;

use crate::messages::{render, MessageVars};

use crate::codes::{link_hash, new_code_id, CodeRedemption, OneTimeCode, Redemption, Secret, EML};
use crate::error::{Error, Rejection};
use crate::model::{Permission, UserStatus};
use crate::otp::{
    delivery_failed, email_missing, expiry_minutes, method_enabled, user_not_found, Identifier,
};
use crate::service::Identity;
use crate::sessions::{invalid_credentials, not_active, AuthTokens, LoginOptions};
use crate::tokens::AccessContext;
use crate::users::{email_norm, require_permission};

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
            _ => Err(Error::InvalidInput(
                "`channel` must be one of email, direct".into(),
            )),
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

fn invalid_redirect_uri() -> Error {
    Error::rejected(
        Rejection::BadRequest,
        "invalid_redirect_uri",
        "`redirect_uri` is not one of the client's redirect_uris",
    )
}

fn link_expired() -> Error {
    Error::rejected(
        Rejection::BadRequest,
        "auth_link_expired",
        "the magic link has expired",
    )
}

/// `redirect_uri` with `code` (and `state`) appended to its query.
fn build_link(redirect_uri: &str, code: &str, state: Option<&str>) -> Result<String, Error> {
    let mut url = url::Url::parse(redirect_uri).map_err(|_| invalid_redirect_uri())?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("code", code);
        if let Some(s) = state {
            q.append_pair("state", s);
        }
    }
    Ok(url.into())
}

impl Identity {
    /// `POST /cis/v1/auth/link/email/send`: needs `auth`, and `auth:direct` for `direct`.
    pub async fn magic_link_send(
        &self,
        ctx: &AccessContext,
        req: LinkSend,
    ) -> Result<LinkSent, Error> {
        require_permission(ctx, Permission::Auth)?;
        if req.channel == LinkChannel::Direct {
            require_permission(ctx, Permission::AuthDirect)?;
        }
        let settings = &ctx.client.client.settings;
        if !settings.redirect_uris.contains(&req.redirect_uri) {
            return Err(invalid_redirect_uri());
        }
        if req.state.as_ref().is_some_and(|s| s.len() > MAX_STATE_LEN) {
            return Err(Error::InvalidInput(format!(
                "`state` is longer than {MAX_STATE_LEN} bytes"
            )));
        }
        let prefs = self.login_preferences();
        method_enabled(&prefs, EML)?;
        let minutes = expiry_minutes(
            "email_expiration",
            req.email_expiration,
            prefs.magic_link.expires_in,
        )?;
        let user = self
            .user_by_identifier(&req.identifier, true)
            .await?
            .ok_or_else(user_not_found)?;
        if user.status != UserStatus::Active {
            return Err(not_active());
        }
        let destination = match req.channel {
            LinkChannel::Email => Some(user.email.clone().ok_or_else(email_missing)?),
            LinkChannel::Direct => user.email.clone(),
        };
        let client_id = &ctx.client.client.client_id;
        let limit_key = match &destination {
            Some(d) => email_norm(d),
            None => format!("user:{}", user.user_id),
        };
        self.limits
            .check_send(self.clock.now_ms(), client_id, &limit_key)?;

        let code = Secret::new(tessera_jose::random_token_b64url(32)?);
        let link = Secret::new(build_link(
            &req.redirect_uri,
            code.expose(),
            req.state.as_deref(),
        )?);
        let now = self.clock.now_s();
        let record = OneTimeCode {
            code_id: new_code_id()?,
            code_hash: link_hash(&self.code_hasher, code.expose()),
            user_id: user.user_id.clone(),
            client_id: client_id.clone(),
            kind: EML.to_string(),
            destination: destination.clone(),
            redirect_uri: Some(req.redirect_uri.clone()),
            state: req.state.clone(),
            created_at: now,
            expires_at: now + minutes * 60,
            consumed_at: None,
        };
        if req.channel == LinkChannel::Email {
            if let Some(to) = destination {
                let vars = MessageVars {
                    app: &ctx.client.app.name,
                    secret: link.expose(),
                    minutes,
                };
                let templates = &self.settings.messages;
                let m = tessera_delivery::Message::email(
                    to,
                    render(&templates.magic_link_subject, &vars).as_str(),
                    render(&templates.magic_link_text, &vars).as_str(),
                );
                let sent = self.messenger.deliver(&m).await;
                drop(Zeroizing::new(m.text));
                if let Err(e) = sent {
                    return Err(delivery_failed("magic link", "email", &e));
                }
            }
        }
        self.store.create_one_time_code(&record).await?;
        let direct = req.channel == LinkChannel::Direct;
        Ok(LinkSent {
            message: "Magic link sent",
            link: direct.then_some(link),
            code: direct.then_some(code),
        })
    }

    /// `POST /cis/v1/auth/link/email/authenticate`: needs `auth`.
    pub async fn magic_link_authenticate(
        &self,
        ctx: &AccessContext,
        login: LinkLogin,
    ) -> Result<AuthTokens, Error> {
        require_permission(ctx, Permission::Auth)?;
        let client_id = &ctx.client.client.client_id;
        self.limits
            .check_authenticate(self.clock.now_ms(), client_id, None)?;
        self.precheck_login(ctx, &login.options).await?;
        let code = login.code.trim();
        if code.is_empty() || code.len() > MAX_CODE_LEN {
            return Err(invalid_credentials());
        }
        let redemption = CodeRedemption {
            code_hash: link_hash(&self.code_hasher, code),
            user_id: None,
            kinds: vec![EML.to_string()],
            client_id: Some(client_id.clone()),
            now_s: self.clock.now_s(),
        };
        let record = match self.store.redeem_one_time_code(&redemption).await? {
            Redemption::Consumed(r) => r,
            Redemption::Expired => return Err(link_expired()),
            Redemption::Invalid => return Err(invalid_credentials()),
        };
        method_enabled(&self.login_preferences(), EML)?;
        let mut user = self
            .store
            .get_user(&record.user_id)
            .await?
            .ok_or_else(invalid_credentials)?;
        if user.status != UserStatus::Active {
            return Err(not_active());
        }
        self.mark_verified(&mut user, EML, record.destination.as_deref())
            .await?;
        self.complete_login(ctx, &user, EML, login.options).await
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
