//! English, the reference table: every key the pages and `login.js` use. `{client}`,
//! `{address}` are filled in where the text is used.

use super::Table;

pub static EN: Table = Table {
    tag: "en",
    entries: &[
        // The login page.
        ("login.title", "Sign in"),
        ("login.heading", "Sign in to {client}"),
        (
            "login.noscript",
            "This sign-in page needs JavaScript. Turn JavaScript on for this site and reload the page.",
        ),
        ("login.loading", "Loading…"),
        ("login.redirecting", "Signed in. Continuing…"),
        // Steps.
        ("step.information", "Information"),
        ("step.collect", "A few details"),
        ("step.password", "Enter your username and password"),
        ("step.otp", "Enter the code we sent you"),
        ("step.otp_email", "We sent a code to {address}."),
        ("step.otp_sms", "We sent a code by text message to {address}."),
        ("field.username", "Username"),
        ("field.password", "Password"),
        ("field.passcode", "Code"),
        ("field.required", "(required)"),
        ("button.continue", "Continue"),
        ("button.sign_in", "Sign in"),
        ("button.verify", "Verify"),
        ("button.resend", "Send a new code"),
        ("button.cancel", "Cancel"),
        ("button.start_again", "Start again"),
        ("otp.resent", "We sent you a new code."),
        // Errors a step shows while it waits again, by code.
        ("error.invalid_credentials", "The username or password is incorrect."),
        ("error.invalid_code", "The code is incorrect."),
        ("error.expired_otp_passcode", "The code has expired. Send a new one."),
        ("error.rate_limited", "Too many attempts. Wait a moment and try again."),
        ("error.invalid_input", "Check the fields and try again."),
        ("error.auth_locked", "Too many failed attempts. Try again later."),
        ("error.user_not_active", "This account cannot sign in."),
        (
            "error.password_reset_required",
            "Your password must be changed before you can sign in.",
        ),
        (
            "error.network",
            "The server could not be reached. Check your connection and try again.",
        ),
        ("error.expired", "This sign-in took too long. Start again."),
        ("error.generic", "Something went wrong. Start again."),
        // The end of a journey without success.
        ("rejected.heading", "Sign-in did not succeed"),
        // The error page.
        ("error.title", "Error"),
        ("error.heading", "This request cannot be completed"),
        ("error.code", "Error code:"),
        ("error.description", "Details:"),
        // Logout.
        ("logout.title", "Log out"),
        ("logout.heading", "Log out"),
        ("logout.question", "Do you want to log out?"),
        ("logout.question_client", "{client} asks you to log out. Do you want to log out?"),
        ("logout.button", "Log out"),
        ("logged_out.title", "Logged out"),
        ("logged_out.heading", "You are logged out"),
        ("logged_out.text", "You can close this window."),
        // CIBA approval.
        ("ciba.title", "Approve a request"),
        ("ciba.heading", "{client} asks for your approval"),
        ("ciba.sign_in_first", "Sign in to review the request."),
        ("ciba.binding", "Check that this code matches the one shown by {client}:"),
        ("ciba.question", "Do you approve this request?"),
        ("ciba.approve", "Approve"),
        ("ciba.deny", "Deny"),
    ],
};
