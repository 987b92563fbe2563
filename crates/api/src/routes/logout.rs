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

use crate::error::{log_internal, shown_message, status_of};
use crate::extract::OAuthForm;
use crate::hosted::{
    choose_lang, error_page, logged_out_page, logout_confirm_page, Lang, LogoutConfirmPage,
    PageContext,
};
use crate::state::AppState;

/// The names of the browser-session and logout cookies for an issuer, and whether they are
/// `Secure` (`__Host-` prefixed) — only on an https issuer.
struct Cookies {
    session: &'static str,
    logout: &'static str,
    secure: bool,
}

fn cookies(issuer: &str) -> Cookies {
    if issuer.starts_with("https://") {
        Cookies {
            session: "__Host-tessera-session",
            logout: "__Host-tessera-logout",
            secure: true,
        }
    } else {
        Cookies {
            session: "tessera-session",
            logout: "tessera-logout",
            secure: false,
        }
    }
}

/// The first value of the cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

fn set_cookie(name: &str, value: &str, max_age_s: i64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}"
    ))
    .ok()
}

fn lang_of(form: &OAuthForm) -> Lang {
    let ui_locales = form.single("ui_locales").ok().flatten();
    choose_lang(ui_locales, form.headers.get(header::ACCEPT_LANGUAGE))
}

/// An error as a page: its status, its code, its message (internal ones logged, not shown).
fn error_response(e: &Error, lang: Lang) -> Response {
    let _ = log_internal(e);
    error_page(status_of(e.code()), lang, e.code().name(), shown_message(e))
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
    let names = cookies(state.identity.issuer());
    let outcome = match request_of(&form) {
        Ok(req) => {
            state
                .identity
                .logout
                .end_session(&req, cookie(&form.headers, names.session))
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
            if let Some(v) = set_cookie(names.logout, &pending.csrf, CONFIRM_TTL_S, names.secure) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
            response
        }
        Ok(EndSession::Done { redirect, .. }) => done(&form.headers, &names, redirect, lang),
        Err(e) => error_response(&e, lang),
    }
}

/// `POST /oidc/session/end/confirm`: the confirmation form (`pending`, `csrf`).
pub async fn confirm(State(state): State<AppState>, form: OAuthForm) -> Response {
    let lang = lang_of(&form);
    let names = cookies(state.identity.issuer());
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
                    cookie(&form.headers, names.logout),
                    cookie(&form.headers, names.session),
                )
                .await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(EndSession::Done { redirect, .. }) => {
            let mut response = done(&form.headers, &names, redirect, lang);
            if let Some(v) = set_cookie(names.logout, "", 0, names.secure) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
            response
        }
        // A confirmation never asks again.
        Ok(EndSession::Confirm(_)) => error_response(&Error::internal("logout asked twice"), lang),
        Err(e) => error_response(&e, lang),
    }
}

/// The end of a logout: the session cookie cleared (when the browser sent one), then 303 to
/// the registered URI or the "logged out" page.
fn done(headers: &HeaderMap, names: &Cookies, redirect: Option<String>, lang: Lang) -> Response {
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
    if cookie(headers, names.session).is_some() {
        if let Some(v) = set_cookie(names.session, "", 0, names.secure) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; tessera-session-x=2; tessera-session=abc"),
        );
        h.append(
            header::COOKIE,
            HeaderValue::from_static("tessera-logout=zz"),
        );
        assert_eq!(cookie(&h, "tessera-session"), Some("abc"));
        assert_eq!(cookie(&h, "tessera-logout"), Some("zz"));
        assert_eq!(cookie(&h, "missing"), None);
    }

    #[test]
    fn https_issuers_use_host_prefixed_secure_cookies() {
        let c = cookies("https://id.example");
        assert_eq!(
            (c.session, c.logout, c.secure),
            ("__Host-tessera-session", "__Host-tessera-logout", true)
        );
        let c = cookies("http://127.0.0.1:8080");
        assert_eq!((c.session, c.secure), ("tessera-session", false));
        assert_eq!(
            set_cookie("n", "", 0, true).unwrap(),
            "n=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure"
        );
    }
}
