//! The hosted pages of the authorization endpoint (issue 13): the login page that runs a
//! client journey with `tessera-ido.js` (`assets/login.js`), the error page for requests that
//! must not redirect, RP-initiated logout's confirmation and logged-out pages, and the CIBA
//! approval page; and `GET /oidc/assets/{name}` for the script and the stylesheet.
//!
//! The route handlers (`routes/authorize.rs` and friends) decide *what* to show; these
//! functions only render it. Every page:
//! - is a complete response with `Content-Security-Policy` (no inline script or style,
//!   `frame-ancestors 'none'`, `form-action 'self'` plus the origins the page's
//!   [`PageContext`] names), `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer`,
//!   `X-Content-Type-Options: nosniff` and `Cache-Control: no-store`;
//! - HTML-escapes every interpolated text; the script's data is JSON in
//!   `<script type="application/json" id="tessera-page">` with `<`, `>`, `&`, U+2028 and
//!   U+2029 escaped, so no value can close the element;
//! - is written in the language [`choose_lang`] picked (English shipped; a language is one
//!   table in `i18n/`), and `login.js` takes every visible string from the page data.

mod assets;
mod html;
mod i18n;
mod pages;

pub use assets::{asset, etag_of, LOGIN_JS, TESSERA_CSS};
pub use html::{content_security_policy, escape, json_for_script};
pub use i18n::{choose_lang, Lang};
pub use pages::{
    ciba_approval_page, error_page, logged_out_page, login_page, logout_confirm_page,
    CibaApprovalPage, JourneyStart, LoginPage, LogoutConfirmPage, PageContext, LOGIN_COMPLETE_PATH,
    LOGOUT_CONFIRM_PATH,
};

#[cfg(test)]
mod tests;
