//! OpenID Connect RP-Initiated Logout 1.0: `GET|POST /oidc/session/end` (the
//! `end_session_endpoint`) and `POST /oidc/session/end/confirm` (the confirmation form). The
//! rules are `tessera_identity::logout`'s; this module reads the parameters and cookies and
//! renders the hosted pages.
//!
//! Cookies (issue 13 contract): the browser session is `__Host-tessera-session` when the
//! issuer is https, else `tessera-session` (dev, plain http); the confirmation's
//! double-submit CSRF token is `__Host-tessera-logout` / `tessera-logout` (HttpOnly,
//! SameSite=Lax, Path=/, Secure on https, 10 minutes). Ending clears the session cookie with
//! the same name and attributes (Max-Age=0). Errors are pages (never redirects).

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tessera_identity::logout::{EndSession, EndSessionRequest, CONFIRM_TTL_S};
use tessera_identity::Error;

use crate::cookies;
use crate::error::error_page_for;
use crate::extract::OAuthForm;
use crate::hosted::{
    choose_lang, logged_out_page, logout_confirm_page, Lang, LogoutConfirmPage, PageContext,
};
use crate::state::AppState;

/// Whether this server's cookies are `Secure` (`__Host-` prefixed): an https issuer.
fn secure(state: &AppState) -> bool {
    state.identity.authorize.secure_cookies()
}

fn lang_of(form: &OAuthForm) -> Lang {
    let ui_locales = form.single("ui_locales").ok().flatten();
    choose_lang(ui_locales, form.headers.get(header::ACCEPT_LANGUAGE))
}

fn request_of(form: &OAuthForm) -> Result<EndSessionRequest, Error> {
    let get = |name: &str| -> Result<Option<String>, Error> {
        Ok(form.single(name)?.map(str::to_string))
    };
    Ok(EndSessionRequest {
        id_token_hint: get("id_token_hint")?,
        client_id: get("client_id")?,
        post_logout_redirect_uri: get("post_logout_redirect_uri")?,
        state: get("state")?,
    })
}

/// `GET /oidc/session/end`: the parameters in the query.
pub async fn end_session_get(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let form = OAuthForm::parse(query.unwrap_or_default().as_bytes(), headers);
    end_session(&state, form).await
}

/// `POST /oidc/session/end`: the parameters in a form body.
pub async fn end_session_post(State(state): State<AppState>, form: OAuthForm) -> Response {
    end_session(&state, form).await
}

async fn end_session(state: &AppState, form: OAuthForm) -> Response {
    let lang = lang_of(&form);
    let secure = secure(state);
    let outcome = match request_of(&form) {
        Ok(req) => {
            state
                .identity
                .logout
                .end_session(&req, cookies::get(&form.headers, cookies::SESSION, secure))
                .await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(EndSession::Confirm(pending)) => {
            let mut hidden = vec![("pending".to_string(), pending.pending)];
            if let Ok(Some(locales)) = form.single("ui_locales") {
                hidden.push(("ui_locales".into(), locales.to_string()));
            }
            let mut ctx = PageContext::new(lang);
            ctx.form_action_origins = pending.redirect.into_iter().collect();
            let mut response = logout_confirm_page(&LogoutConfirmPage {
                ctx,
                client_name: pending.client_name,
                csrf: pending.csrf.clone(),
                hidden,
            });
            response.headers_mut().append(
                header::SET_COOKIE,
                cookies::set(cookies::LOGOUT, &pending.csrf, secure, Some(CONFIRM_TTL_S)),
            );
            response
        }
        Ok(EndSession::Done { redirect, .. }) => done(&form.headers, secure, redirect, lang),
        Err(e) => error_page_for(&e, lang),
    }
}

/// `POST /oidc/session/end/confirm`: the confirmation form (`pending`, `csrf`).
pub async fn confirm(State(state): State<AppState>, form: OAuthForm) -> Response {
    let lang = lang_of(&form);
    let secure = secure(&state);
    let fields = form
        .single("pending")
        .and_then(|p| Ok((p, form.single("csrf")?)));
    let outcome = match fields {
        Ok((pending, csrf)) => {
            state
                .identity
                .logout
                .confirm(
                    pending.unwrap_or_default(),
                    csrf.unwrap_or_default(),
                    cookies::get(&form.headers, cookies::LOGOUT, secure),
                    cookies::get(&form.headers, cookies::SESSION, secure),
                )
                .await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(EndSession::Done { redirect, .. }) => {
            let mut response = done(&form.headers, secure, redirect, lang);
            response
                .headers_mut()
                .append(header::SET_COOKIE, cookies::clear(cookies::LOGOUT, secure));
            response
        }
        // A confirmation never asks again.
        Ok(EndSession::Confirm(_)) => error_page_for(&Error::internal("logout asked twice"), lang),
        Err(e) => error_page_for(&e, lang),
    }
}

/// The end of a logout: the session cookie cleared (when the browser sent one), then 303 to
/// the registered URI or the "logged out" page.
fn done(headers: &HeaderMap, secure: bool, redirect: Option<String>, lang: Lang) -> Response {
    let mut response = match redirect.and_then(|r| HeaderValue::from_str(&r).ok()) {
        Some(location) => {
            let mut r = StatusCode::SEE_OTHER.into_response();
            r.headers_mut().insert(header::LOCATION, location);
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r.headers_mut().insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            r
        }
        None => logged_out_page(lang),
    };
    if cookies::get(headers, cookies::SESSION, secure).is_some() {
        response
            .headers_mut()
            .append(header::SET_COOKIE, cookies::clear(cookies::SESSION, secure));
    }
    response
}
