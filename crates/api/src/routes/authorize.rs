//! The authorization endpoint and its hosted login (`tessera_identity::authorize`):
//! `GET|POST /oidc/auth`, `GET /oidc/login?request=` (the page) and
//! `POST /oidc/login/complete` (the page's form). Anyone may call them: the rules (which
//! client, which `redirect_uri`, the login cookie that binds a request to its browser) are
//! the component's; these handlers read parameters and cookies and render pages and
//! redirects.
//!
//! Every answer is `Cache-Control: no-store`; a POST whose `Origin` is not this server's is
//! refused before anything else.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tessera_identity::authorize::{AuthorizeOutcome, CibaDecision, LoginCompletion};
use tessera_identity::Error;

use crate::cookies;
use crate::error::error_page_for;
use crate::extract::OAuthForm;
use crate::hosted::{
    choose_lang, ciba_approval_page, ciba_done_page, login_page, CibaApprovalPage, JourneyStart,
    Lang, LoginPage, PageContext,
};
use crate::state::AppState;

/// The hosted login page's path.
pub const LOGIN_PATH: &str = "/oidc/login";

fn lang_of(headers: &HeaderMap, ui_locales: Option<&str>) -> Lang {
    choose_lang(ui_locales, headers.get(header::ACCEPT_LANGUAGE))
}

/// A 303 to `location`, not stored.
fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A form POST of a hosted page from another site is refused (the cookies are SameSite=Lax
/// as well, and the forms carry CSRF tokens). The pages send `Referrer-Policy: no-referrer`,
/// so a browser's own same-origin form POST carries `Origin: null`: that, or no `Origin`, is
/// judged by `Sec-Fetch-Site` when the browser sends it.
fn foreign_origin(state: &AppState, headers: &HeaderMap) -> bool {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site" || v.as_bytes() == b"same-site")
    {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    if origin.as_bytes() == b"null" {
        return false;
    }
    let ours = url::Url::parse(state.identity.issuer())
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    origin.to_str().map_or(true, |o| o != ours)
}

/// The error page for a hosted form POST from another site, if it is one.
fn refuse_foreign(state: &AppState, headers: &HeaderMap, lang: Lang) -> Option<Response> {
    foreign_origin(state, headers).then(|| {
        error_page_for(
            &Error::new(
                tessera_identity::Code::Forbidden,
                "cross-origin form posts are refused",
            ),
            lang,
        )
    })
}

async fn authorize(state: &AppState, form: &OAuthForm) -> Response {
    let authz = &state.identity.authorize;
    let secure = authz.secure_cookies();
    let session = cookies::get(&form.headers, cookies::SESSION, secure);
    match authz.authorize(form, session).await {
        AuthorizeOutcome::ErrorPage(e) => {
            let locales = form.single("ui_locales").ok().flatten();
            error_page_for(&e, lang_of(&form.headers, locales))
        }
        AuthorizeOutcome::Redirect(url) => see_other(&url),
        AuthorizeOutcome::Login { request_id, csrf } => {
            let location = format!(
                "{}{LOGIN_PATH}?request={request_id}",
                state.identity.issuer()
            );
            let mut response = see_other(&location);
            response.headers_mut().append(
                header::SET_COOKIE,
                cookies::set(
                    cookies::LOGIN,
                    &csrf,
                    secure,
                    Some(cookies::LOGIN_MAX_AGE_S),
                ),
            );
            response
        }
    }
}

/// `GET /oidc/auth`: the parameters are the query's.
pub async fn authorize_get(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let form = OAuthForm::parse(uri.query().unwrap_or("").as_bytes(), headers);
    authorize(&state, &form).await
}

/// `POST /oidc/auth`: the parameters are the form's (OIDC Core §3.1.2.1). It comes from the
/// client's own pages, so another origin is expected here.
pub async fn authorize_post(State(state): State<AppState>, form: OAuthForm) -> Response {
    authorize(&state, &form).await
}

/// `GET /oidc/login?request=`: the hosted login page of a pending request.
pub async fn login(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let authz = &state.identity.authorize;
    let query = OAuthForm::parse(uri.query().unwrap_or("").as_bytes(), HeaderMap::new());
    let request = query
        .single("request")
        .ok()
        .flatten()
        .unwrap_or("")
        .to_string();
    let context = match authz.login_context(&request).await {
        Ok(c) => c,
        Err(e) => return error_page_for(&e, lang_of(&headers, None)),
    };
    let lang = lang_of(&headers, context.ui_locales.as_deref());
    let Some(csrf) = cookies::get(&headers, cookies::LOGIN, authz.secure_cookies()) else {
        return error_page_for(
            &Error::invalid(
                "this browser did not keep the login cookie; allow cookies for this site and \
                 start again from the application",
            ),
            lang,
        );
    };
    let mut ctx = PageContext::new(lang);
    // The page context keeps only the URI's origin (nothing for a private-use scheme).
    ctx.form_action_origins = vec![context.redirect_uri];
    login_page(&LoginPage {
        ctx,
        client_name: context.client_name,
        journey: JourneyStart {
            client_id: context.client_id,
            journey_id: context.journey_id,
            code_challenge: context.code_challenge,
            login_hint: context.login_hint,
        },
        request,
        csrf: csrf.to_string(),
    })
}

/// `POST /oidc/login/complete`: the login journey's code; on success a redirect to the client
/// with its code and the browser session's cookie (a new token at every login).
pub async fn login_complete(State(state): State<AppState>, form: OAuthForm) -> Response {
    let lang = lang_of(&form.headers, None);
    if let Some(refused) = refuse_foreign(&state, &form.headers, lang) {
        return refused;
    }
    let authz = &state.identity.authorize;
    let secure = authz.secure_cookies();
    let field = |name: &str| form.single(name).ok().flatten().unwrap_or("");
    let completion = LoginCompletion {
        request_id: field("request"),
        csrf_field: field("csrf"),
        csrf_cookie: cookies::get(&form.headers, cookies::LOGIN, secure),
        code: field("code"),
        session_cookie: cookies::get(&form.headers, cookies::SESSION, secure),
    };
    match authz.complete_login(completion).await {
        Ok(done) => {
            let mut response = see_other(&done.redirect);
            let h = response.headers_mut();
            h.append(
                header::SET_COOKIE,
                cookies::set(cookies::SESSION, done.session_token.expose(), secure, None),
            );
            h.append(header::SET_COOKIE, cookies::clear(cookies::LOGIN, secure));
            response
        }
        Err(e) => error_page_for(&e, lang),
    }
}

/// `GET /oidc/ciba/approve?auth_req_id=`: the hosted CIBA approval page (clients without a
/// `login_uri`): the login journey, then the client's name, the binding message and the
/// decision. Sets the page's CSRF cookie.
pub async fn ciba_page(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let lang = lang_of(&headers, None);
    let query = OAuthForm::parse(uri.query().unwrap_or("").as_bytes(), HeaderMap::new());
    let auth_req_id = query.single("auth_req_id").ok().flatten().unwrap_or("");
    let authz = &state.identity.authorize;
    let approval = match authz.ciba_approval(auth_req_id).await {
        Ok(a) => a,
        Err(e) => return error_page_for(&e, lang),
    };
    let mut response = ciba_approval_page(&CibaApprovalPage {
        ctx: PageContext::new(lang),
        client_name: approval.client_name,
        binding_message: approval.binding_message,
        journey: JourneyStart {
            client_id: approval.client_id,
            journey_id: approval.journey_id,
            code_challenge: approval.code_challenge,
            login_hint: None,
        },
        action: tessera_identity::ciba::HOSTED_APPROVAL_PATH.to_string(),
        csrf: approval.csrf.clone(),
        hidden: vec![("auth_req_id".to_string(), auth_req_id.to_string())],
    });
    response.headers_mut().append(
        header::SET_COOKIE,
        cookies::set(
            cookies::CIBA,
            &approval.csrf,
            authz.secure_cookies(),
            Some(cookies::LOGIN_MAX_AGE_S),
        ),
    );
    response
}

/// `POST /oidc/ciba/approve`: the decision (`decision=approve|deny`), with the login
/// journey's code, the CSRF field and `auth_req_id`.
pub async fn ciba_decide(State(state): State<AppState>, form: OAuthForm) -> Response {
    let lang = lang_of(&form.headers, None);
    if let Some(refused) = refuse_foreign(&state, &form.headers, lang) {
        return refused;
    }
    let authz = &state.identity.authorize;
    let secure = authz.secure_cookies();
    let field = |name: &str| form.single(name).ok().flatten().unwrap_or("");
    let approve = match field("decision") {
        "approve" => true,
        "deny" => false,
        _ => {
            return error_page_for(
                &Error::invalid("`decision` must be `approve` or `deny`"),
                lang,
            )
        }
    };
    let decision = CibaDecision {
        auth_req_id: field("auth_req_id"),
        csrf_field: field("csrf"),
        csrf_cookie: cookies::get(&form.headers, cookies::CIBA, secure),
        code: field("code"),
        approve,
    };
    match authz.ciba_decide(decision).await {
        Ok(()) => {
            let mut response = ciba_done_page(lang, approve);
            response
                .headers_mut()
                .append(header::SET_COOKIE, cookies::clear(cookies::CIBA, secure));
            response
        }
        Err(e) => error_page_for(&e, lang),
    }
}
