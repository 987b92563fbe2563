//! The hosted pages: login, error, logout confirmation, logged out, CIBA approval. Each
//! function renders one page as a complete response (HTML, security headers, no-store).
//! Every interpolated text is HTML-escaped; page data for the script is JSON in a
//! non-executable `<script type="application/json" id="tessera-page">`.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::html::{
    content_security_policy, escape, hidden_inputs, json_for_script, respond, Shell,
};
use super::i18n::Lang;

/// Where the login page's completion form posts.
pub const LOGIN_COMPLETE_PATH: &str = "/oidc/login/complete";
/// Where the logout confirmation posts.
pub const LOGOUT_CONFIRM_PATH: &str = "/oidc/session/end/confirm";

/// What every page needs: its language and the origins its forms may post to besides its own
/// (the `form-action` of the policy: Chrome applies it to the redirect that follows a form
/// POST, so a page whose POST ends in a redirect to the relying party names the RP's origin).
/// Each entry may be an origin or any URL of it; anything that is not an http(s) URL is left
/// out of the policy.
#[derive(Debug, Clone)]
pub struct PageContext {
    pub lang: Lang,
    pub form_action_origins: Vec<String>,
}

impl PageContext {
    pub fn new(lang: Lang) -> Self {
        Self {
            lang,
            form_action_origins: Vec::new(),
        }
    }

    fn csp(&self) -> String {
        content_security_policy(&self.form_action_origins)
    }

    /// The text of `key` with `{client}` replaced by the client's name.
    fn text(&self, key: &str, client_name: &str) -> String {
        self.lang.text(key).replace("{client}", client_name)
    }
}

/// The login journey a page runs with `tessera-ido.js`.
#[derive(Debug, Clone)]
pub struct JourneyStart {
    /// The clientId the journey is started with (the IDO `clientId`).
    pub client_id: String,
    /// The client journey to run.
    pub journey_id: String,
    /// The S256 PKCE challenge given to `startJourney` (the server keeps the verifier).
    pub code_challenge: String,
    /// Prefills the username field (and reaches the journey as `params.login_hint`).
    pub login_hint: Option<String>,
}

/// The hosted login page (`GET /oidc/login?request=…`).
#[derive(Debug, Clone)]
pub struct LoginPage {
    pub ctx: PageContext,
    /// The client's display name (the heading names it).
    pub client_name: String,
    pub journey: JourneyStart,
    /// The authorization request id (hidden field `request`).
    pub request: String,
    /// The login cookie's value (hidden field `csrf`).
    pub csrf: String,
}

/// The hosted CIBA approval page: the login journey first, then Approve / Deny.
#[derive(Debug, Clone)]
pub struct CibaApprovalPage {
    pub ctx: PageContext,
    pub client_name: String,
    /// The request's binding message, shown to compare with the consumption device.
    pub binding_message: Option<String>,
    pub journey: JourneyStart,
    /// Where the decision form posts (a path on this server).
    pub action: String,
    pub csrf: String,
    /// Further hidden fields of the decision form (`name`, `value`).
    pub hidden: Vec<(String, String)>,
}

/// The RP-initiated logout confirmation.
#[derive(Debug, Clone)]
pub struct LogoutConfirmPage {
    pub ctx: PageContext,
    /// The client that asked, when known.
    pub client_name: Option<String>,
    pub csrf: String,
    /// Hidden fields posted back to `/oidc/session/end/confirm` (e.g. `post_logout_redirect_uri`,
    /// `state`, `client_id`, a handle derived from `id_token_hint`).
    pub hidden: Vec<(String, String)>,
}

/// The page data `login.js` reads: the journey to run, the mode, and the strings.
fn page_data(ctx: &PageContext, mode: &str, journey: &JourneyStart, client_name: &str) -> Value {
    let strings: Map<String, Value> = ctx
        .lang
        .all()
        .map(|(k, v)| {
            (
                k.to_string(),
                Value::String(v.replace("{client}", client_name)),
            )
        })
        .collect();
    json!({
        "mode": mode,
        "clientId": journey.client_id,
        "journeyId": journey.journey_id,
        "codeChallenge": journey.code_challenge,
        "loginHint": journey.login_hint,
        "strings": strings,
    })
}

/// The container the script renders steps into, the `<noscript>` notice, and the page data.
fn journey_block(ctx: &PageContext, data: &Value) -> String {
    format!(
        "<noscript><p class=\"tessera-notice\">{noscript}</p></noscript>\n\
         <div id=\"tessera-steps\" aria-live=\"polite\"></div>\n\
         <script type=\"application/json\" id=\"tessera-page\">{json}</script>\n",
        noscript = escape(ctx.lang.text("login.noscript")),
        json = json_for_script(data),
    )
}

/// The hosted login page. The script runs the journey and, on `journey_success` with a
/// `code`, fills the completion form's `code` and submits it to `/oidc/login/complete`.
pub fn login_page(p: &LoginPage) -> Response {
    let ctx = &p.ctx;
    let data = page_data(ctx, "login", &p.journey, &p.client_name);
    let heading = ctx.text("login.heading", &p.client_name);
    let hidden = hidden_inputs(&[
        ("request".into(), p.request.clone()),
        ("csrf".into(), p.csrf.clone()),
        ("code".into(), String::new()),
    ]);
    let main = format!(
        "<h1 id=\"tessera-heading\">{heading}</h1>\n{block}\
         <form id=\"tessera-complete\" method=\"post\" action=\"{action}\" hidden>\n{hidden}</form>\n",
        heading = escape(&heading),
        block = journey_block(ctx, &data),
        action = LOGIN_COMPLETE_PATH,
    );
    let title = format!("{} – {}", ctx.lang.text("login.title"), p.client_name);
    let body = Shell {
        lang: ctx.lang,
        title: &title,
        script: true,
        main,
    }
    .render();
    respond(StatusCode::OK, &ctx.csp(), body)
}

/// The CIBA approval page: names the client, shows the binding message, runs the login
/// journey (the script's `ciba` mode), then shows the decision form (hidden until then):
/// `csrf`, the hidden fields, the journey's `code`, and the buttons `decision=approve` /
/// `decision=deny`.
pub fn ciba_approval_page(p: &CibaApprovalPage) -> Response {
    let ctx = &p.ctx;
    let data = page_data(ctx, "ciba", &p.journey, &p.client_name);
    let mut fields = vec![("csrf".to_string(), p.csrf.clone())];
    fields.extend(p.hidden.iter().cloned());
    fields.push(("code".into(), String::new()));
    let binding = match &p.binding_message {
        Some(m) if !m.is_empty() => format!(
            "<p>{label}</p>\n<p class=\"tessera-binding\" id=\"tessera-binding\">{m}</p>\n",
            label = escape(&ctx.text("ciba.binding", &p.client_name)),
            m = escape(m),
        ),
        _ => String::new(),
    };
    let main = format!(
        "<h1 id=\"tessera-heading\">{heading}</h1>\n{binding}\
         <p id=\"tessera-sign-in-first\">{first}</p>\n{block}\
         <form id=\"tessera-complete\" method=\"post\" action=\"{action}\" hidden>\n{hidden}\
         <p>{question}</p>\n<div class=\"tessera-actions\">\n\
         <button type=\"submit\" id=\"tessera-approve\" name=\"decision\" value=\"approve\">{approve}</button>\n\
         <button type=\"submit\" id=\"tessera-deny\" name=\"decision\" value=\"deny\" class=\"tessera-secondary\">{deny}</button>\n\
         </div>\n</form>\n",
        heading = escape(&ctx.text("ciba.heading", &p.client_name)),
        first = escape(ctx.lang.text("ciba.sign_in_first")),
        block = journey_block(ctx, &data),
        action = escape(&p.action),
        hidden = hidden_inputs(&fields),
        question = escape(ctx.lang.text("ciba.question")),
        approve = escape(ctx.lang.text("ciba.approve")),
        deny = escape(ctx.lang.text("ciba.deny")),
    );
    let body = Shell {
        lang: ctx.lang,
        title: ctx.lang.text("ciba.title"),
        script: true,
        main,
    }
    .render();
    respond(StatusCode::OK, &ctx.csp(), body)
}

/// An error that must not redirect (an unknown client, a `redirect_uri` not registered):
/// the code and the description shown as text, no script.
pub fn error_page(status: StatusCode, lang: Lang, error: &str, description: &str) -> Response {
    let main = format!(
        "<h1 id=\"tessera-heading\">{heading}</h1>\n\
         <p class=\"tessera-error\" role=\"alert\">{description}</p>\n\
         <dl class=\"tessera-details\">\n<dt>{code_label}</dt>\n<dd><code id=\"tessera-error-code\">{error}</code></dd>\n</dl>\n",
        heading = escape(lang.text("error.heading")),
        description = escape(description),
        code_label = escape(lang.text("error.code")),
        error = escape(error),
    );
    let body = Shell {
        lang,
        title: lang.text("error.title"),
        script: false,
        main,
    }
    .render();
    respond(status, &content_security_policy(&[]), body)
}

/// The logout confirmation: a form POST to `/oidc/session/end/confirm` with `csrf` and the
/// hidden fields.
pub fn logout_confirm_page(p: &LogoutConfirmPage) -> Response {
    let ctx = &p.ctx;
    let question = match &p.client_name {
        Some(name) => ctx.text("logout.question_client", name),
        None => ctx.lang.text("logout.question").to_string(),
    };
    let mut fields = vec![("csrf".to_string(), p.csrf.clone())];
    fields.extend(p.hidden.iter().cloned());
    let main = format!(
        "<h1 id=\"tessera-heading\">{heading}</h1>\n<p>{question}</p>\n\
         <form id=\"tessera-logout\" method=\"post\" action=\"{action}\">\n{hidden}\
         <button type=\"submit\" id=\"tessera-logout-button\" autofocus>{button}</button>\n</form>\n",
        heading = escape(ctx.lang.text("logout.heading")),
        question = escape(&question),
        action = LOGOUT_CONFIRM_PATH,
        hidden = hidden_inputs(&fields),
        button = escape(ctx.lang.text("logout.button")),
    );
    let body = Shell {
        lang: ctx.lang,
        title: ctx.lang.text("logout.title"),
        script: false,
        main,
    }
    .render();
    respond(StatusCode::OK, &ctx.csp(), body)
}

/// After a logout without a (valid) `post_logout_redirect_uri`.
pub fn logged_out_page(lang: Lang) -> Response {
    let main = format!(
        "<h1 id=\"tessera-heading\">{heading}</h1>\n<p>{text}</p>\n",
        heading = escape(lang.text("logged_out.heading")),
        text = escape(lang.text("logged_out.text")),
    );
    let body = Shell {
        lang,
        title: lang.text("logged_out.title"),
        script: false,
        main,
    }
    .render();
    respond(StatusCode::OK, &content_security_policy(&[]), body)
}
