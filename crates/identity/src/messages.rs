//! The texts of the messages Tessera sends: one-time passcodes (email and SMS), magic links,
//! CIBA authentication links and password resets (passcode or link). Operators replace them with `[messages]` in the
//! configuration. Placeholders: `{{app}}` (the client's application name), `{{code}}` (the
//! passcode), `{{link}}` (the magic or CIBA link), `{{minutes}}` (its lifetime), `{{message}}`
//! (CIBA: the request's `custom_message`, else "{app} asks you to confirm a request."). A
//! passcode template must contain `{{code}}` and a link template `{{link}}`;
//! [`MessageTemplates::validate`] refuses the others.
//!
//! A send may shape its own message as the hosted platform allows: [`EmailContent`] (the
//! platform's `email_content`) gives an email its subject and texts around the operator's
//! rendered text, which keeps the code or link; [`SmsInput`] (`custom_sms_input`) replaces
//! the SMS text with the caller's `custom_message`, which must hold `{otp}` and `{app}`.
//! Messages are plain text, so the colour, logo, button label and sender name are checked
//! and accepted but not rendered.

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::error::Error;

/// Longest `email_content.subject`, in characters.
pub const MAX_SUBJECT_CHARS: usize = 200;
/// Longest text of `email_content` (`headerText`, `bodyText`, …), in characters.
pub const MAX_EMAIL_TEXT_CHARS: usize = 2000;
/// Longest `email_content.base64logo`, in characters (the platform's limit).
pub const MAX_LOGO_CHARS: usize = 20_000;
/// Longest `email_content.senderName`, in characters.
pub const MAX_SENDER_NAME_CHARS: usize = 100;
/// Longest `custom_sms_input.custom_message`, in characters (the platform's limit).
pub const MAX_SMS_MESSAGE_CHARS: usize = 140;
/// Longest `custom_sms_input.sender_id`, in characters (the platform's limit).
pub const MAX_SENDER_ID_CHARS: usize = 11;

/// The platform's `email_content` (its `EmailContentAttributes`): how a send's email looks.
/// Unknown members are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct EmailContent {
    /// Replaces the operator's subject; required, one line.
    #[serde(default)]
    pub subject: Option<String>,
    /// A hex colour (`#RGB` or `#RRGGBB`); accepted, not rendered (plain text).
    #[serde(default, rename = "primaryColor")]
    pub primary_color: Option<String>,
    /// A base64 image; accepted, not rendered (plain text).
    #[serde(default, rename = "base64logo")]
    pub base64_logo: Option<String>,
    /// First paragraph of the text.
    #[serde(default, rename = "headerText")]
    pub header_text: Option<String>,
    /// Second paragraph, before the operator's text with the code or link.
    #[serde(default, rename = "bodyText")]
    pub body_text: Option<String>,
    /// The label of the link button; accepted, not rendered (the link is in the text).
    #[serde(default, rename = "linkText")]
    pub link_text: Option<String>,
    /// A paragraph after the operator's text.
    #[serde(default, rename = "infoText")]
    pub info_text: Option<String>,
    /// The last paragraph.
    #[serde(default, rename = "footerText")]
    pub footer_text: Option<String>,
    /// The sender's display name; accepted, not applied (the operator's `From` is used).
    #[serde(default, rename = "senderName")]
    pub sender_name: Option<String>,
}

/// The platform's `custom_sms_input` (its `BaseSmsOtpInput`). Unknown members are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SmsInput {
    /// The SMS text: `{otp}` becomes the code and `{app}` the application's name; both must
    /// be present, at most 140 characters.
    #[serde(default)]
    pub custom_message: Option<String>,
    /// The sender name shown on phones (1–11 letters and digits); accepted, not applied (the
    /// SMS webhook sends `to` and `text`).
    #[serde(default)]
    pub sender_id: Option<String>,
}

fn too_long(field: &str, max: usize) -> Error {
    Error::invalid(format!("`{field}` is longer than {max} characters"))
}

/// A text of at most `max` characters with no control characters except `\n` and `\t`
/// when `multiline`.
fn check_text(field: &str, value: &str, max: usize, multiline: bool) -> Result<(), Error> {
    if value.chars().count() > max {
        return Err(too_long(field, max));
    }
    let allowed = |c: char| multiline && (c == '\n' || c == '\t');
    if value.chars().any(|c| c.is_control() && !allowed(c)) {
        let what = if multiline {
            "control characters other than line breaks"
        } else {
            "line breaks or other control characters"
        };
        return Err(Error::invalid(format!("`{field}` must not contain {what}")));
    }
    Ok(())
}

impl EmailContent {
    /// Checks every member (400 naming the member).
    pub fn validate(&self) -> Result<(), Error> {
        match self.subject.as_deref() {
            None => return Err(Error::invalid("`email_content.subject` is required")),
            Some(s) if s.trim().is_empty() => {
                return Err(Error::invalid("`email_content.subject` must not be empty"))
            }
            // One line: a CR or LF would let the caller add mail headers.
            Some(s) => check_text("email_content.subject", s, MAX_SUBJECT_CHARS, false)?,
        }
        if let Some(c) = self.primary_color.as_deref() {
            let hex = c.strip_prefix('#').unwrap_or("");
            if !matches!(hex.len(), 3 | 6) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::invalid(
                    "`email_content.primaryColor` must be a hex colour such as #6981FF",
                ));
            }
        }
        if let Some(logo) = self.base64_logo.as_deref() {
            if logo.chars().count() > MAX_LOGO_CHARS {
                return Err(too_long("email_content.base64logo", MAX_LOGO_CHARS));
            }
            let body = match logo.split_once(";base64,") {
                Some((prefix, body)) if prefix.starts_with("data:image/") => body,
                _ => logo,
            };
            let base64 = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
            if !body.bytes().all(base64) {
                return Err(Error::invalid(
                    "`email_content.base64logo` must be base64 (or a data:image/… URL)",
                ));
            }
        }
        for (field, value) in [
            ("email_content.headerText", &self.header_text),
            ("email_content.bodyText", &self.body_text),
            ("email_content.infoText", &self.info_text),
            ("email_content.footerText", &self.footer_text),
        ] {
            if let Some(v) = value {
                check_text(field, v, MAX_EMAIL_TEXT_CHARS, true)?;
            }
        }
        if let Some(v) = &self.link_text {
            check_text("email_content.linkText", v, MAX_SUBJECT_CHARS, false)?;
        }
        if let Some(v) = &self.sender_name {
            check_text("email_content.senderName", v, MAX_SENDER_NAME_CHARS, false)?;
        }
        Ok(())
    }
}

impl SmsInput {
    /// Checks both members (400 naming the member).
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(m) = self.custom_message.as_deref() {
            check_text(
                "custom_sms_input.custom_message",
                m,
                MAX_SMS_MESSAGE_CHARS,
                true,
            )?;
            if !m.contains("{otp}") || !m.contains("{app}") {
                return Err(Error::invalid(
                    "`custom_sms_input.custom_message` must contain {otp} and {app}",
                ));
            }
        }
        if let Some(id) = self.sender_id.as_deref() {
            if id.is_empty()
                || id.chars().count() > MAX_SENDER_ID_CHARS
                || !id.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                return Err(Error::invalid(
                    "`custom_sms_input.sender_id` must be 1 to 11 letters and digits",
                ));
            }
        }
        Ok(())
    }
}

/// An email's subject and text: the operator's templates rendered with `vars`, shaped by the
/// caller's (validated) `content` — its subject replaces the operator's, and its header and
/// body come before the operator's text (which holds the code or link), its info and footer
/// after, one paragraph each.
pub fn compose_email(
    subject_template: &str,
    text_template: &str,
    vars: &MessageVars<'_>,
    content: Option<&EmailContent>,
) -> (Zeroizing<String>, Zeroizing<String>) {
    let text = render(text_template, vars);
    let Some(content) = content else {
        return (render(subject_template, vars), text);
    };
    let subject = match content.subject.as_deref() {
        Some(s) => Zeroizing::new(s.trim().to_string()),
        None => render(subject_template, vars),
    };
    let mut out = Zeroizing::new(String::with_capacity(text.len() + 256));
    for part in [
        content.header_text.as_deref(),
        content.body_text.as_deref(),
        Some(text.as_str()),
        content.info_text.as_deref(),
        content.footer_text.as_deref(),
    ]
    .into_iter()
    .flatten()
    .map(str::trim)
    .filter(|p| !p.is_empty())
    {
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(part);
    }
    (subject, out)
}

/// An SMS text: the caller's `custom_message` with `{otp}` → the code and `{app}` → the
/// application's name (one pass, so neither value is read as a placeholder), else the
/// operator's template.
pub fn compose_sms(
    template: &str,
    vars: &MessageVars<'_>,
    input: Option<&SmsInput>,
) -> Zeroizing<String> {
    let Some(message) = input.and_then(|i| i.custom_message.as_deref()) else {
        return render(template, vars);
    };
    let mut out = Zeroizing::new(String::with_capacity(message.len() + 64));
    let mut rest = message;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let (value, len) = if after.starts_with("{otp}") {
            (vars.secret, 5)
        } else if after.starts_with("{app}") {
            (vars.app, 5)
        } else {
            ("{", 1)
        };
        out.push_str(value);
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// The message templates (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageTemplates {
    /// Subject of a passcode email.
    pub otp_email_subject: String,
    /// Body of a passcode email.
    pub otp_email_text: String,
    /// Text of a passcode SMS.
    pub otp_sms_text: String,
    /// Subject of a magic-link email.
    pub magic_link_subject: String,
    /// Body of a magic-link email.
    pub magic_link_text: String,
    /// Subject of a CIBA authentication-link email.
    pub ciba_email_subject: String,
    /// Body of a CIBA authentication-link email or SMS.
    pub ciba_text: String,
    /// Subject of a password-reset email (passcode or link).
    pub reset_email_subject: String,
    /// Body of a password-reset passcode email or SMS.
    pub reset_code_text: String,
    /// Body of a password-reset link email.
    pub reset_link_text: String,
}

impl Default for MessageTemplates {
    fn default() -> Self {
        Self {
            otp_email_subject: "Verification code for {{app}}".into(),
            otp_email_text:
                "{{code}} is your verification code for {{app}}. It expires in {{minutes}} minutes."
                    .into(),
            otp_sms_text:
                "{{code}} is your verification code for {{app}}. It expires in {{minutes}} minutes."
                    .into(),
            magic_link_subject: "Sign in to {{app}}".into(),
            magic_link_text: "Sign in to {{app}} with this link:\n\n{{link}}\n\nIt expires in \
                 {{minutes}} minutes. If you did not ask for it, ignore this email."
                .into(),
            ciba_email_subject: "Confirm a request from {{app}}".into(),
            ciba_text: "{{message}}\n{{link}}\nIt expires in {{minutes}} minutes.".into(),
            reset_email_subject: "Reset your {{app}} password".into(),
            reset_code_text: "{{code}} is your code to reset your {{app}} password. It expires \
                 in {{minutes}} minutes. If you did not ask for it, ignore this message."
                .into(),
            reset_link_text: "Reset your {{app}} password with this link:\n\n{{link}}\n\nIt \
                 expires in {{minutes}} minutes. If you did not ask for it, ignore this email."
                .into(),
        }
    }
}

/// The values a template may use.
pub struct MessageVars<'a> {
    pub app: &'a str,
    /// The passcode or the link.
    pub secret: &'a str,
    pub minutes: i64,
    /// CIBA: the request's custom message (empty elsewhere).
    pub message: &'a str,
}

impl MessageTemplates {
    /// Refuses a template without the secret it exists to carry, naming the key.
    pub fn validate(&self) -> Result<(), String> {
        for (key, template, needs) in [
            ("otp_email_text", &self.otp_email_text, "{{code}}"),
            ("otp_sms_text", &self.otp_sms_text, "{{code}}"),
            ("magic_link_text", &self.magic_link_text, "{{link}}"),
            ("ciba_text", &self.ciba_text, "{{link}}"),
            ("reset_code_text", &self.reset_code_text, "{{code}}"),
            ("reset_link_text", &self.reset_link_text, "{{link}}"),
        ] {
            if !template.contains(needs) {
                return Err(format!("messages.{key} must contain {needs}"));
            }
        }
        for (key, subject) in [
            ("otp_email_subject", &self.otp_email_subject),
            ("magic_link_subject", &self.magic_link_subject),
            ("ciba_email_subject", &self.ciba_email_subject),
            ("reset_email_subject", &self.reset_email_subject),
        ] {
            if subject.contains("{{code}}") || subject.contains("{{link}}") {
                return Err(format!(
                    "messages.{key} must not contain the code or link (subjects are shown in \
                     notifications and logs of mail servers)"
                ));
            }
            if subject.contains(['\r', '\n']) {
                return Err(format!("messages.{key} must be one line"));
            }
        }
        Ok(())
    }
}

/// Replaces the placeholders of `template`; `{{code}}` and `{{link}}` both take the secret.
/// The result holds the secret, so it is zeroized when dropped.
pub fn render(template: &str, vars: &MessageVars<'_>) -> Zeroizing<String> {
    let minutes = vars.minutes.to_string();
    let mut out = Zeroizing::new(String::with_capacity(template.len() + 64));
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let (value, len) = if after.starts_with("{{app}}") {
            (vars.app, 7)
        } else if after.starts_with("{{code}}") || after.starts_with("{{link}}") {
            (vars.secret, 8)
        } else if after.starts_with("{{minutes}}") {
            (minutes.as_str(), 11)
        } else if after.starts_with("{{message}}") {
            (vars.message, 11)
        } else {
            ("{{", 2)
        };
        out.push_str(value);
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> MessageVars<'static> {
        MessageVars {
            app: "Shop {otp}",
            secret: "123456",
            minutes: 5,
            message: "",
        }
    }

    #[test]
    fn email_content_shapes_the_email_around_the_code() {
        let content = EmailContent {
            subject: Some(" Approve your payment ".into()),
            header_text: Some("Hello".into()),
            body_text: Some("Use this code:".into()),
            info_text: Some("".into()),
            footer_text: Some("Not you? Ignore it.".into()),
            primary_color: Some("#6981FF".into()),
            ..EmailContent::default()
        };
        content.validate().unwrap();
        let (subject, text) = compose_email(
            "S {{app}}",
            "{{code}} ({{minutes}})",
            &vars(),
            Some(&content),
        );
        assert_eq!(subject.as_str(), "Approve your payment");
        assert_eq!(
            text.as_str(),
            "Hello\n\nUse this code:\n\n123456 (5)\n\nNot you? Ignore it."
        );
        let (subject, text) = compose_email("S {{app}}", "{{code}}", &vars(), None);
        assert_eq!(
            (subject.as_str(), text.as_str()),
            ("S Shop {otp}", "123456")
        );
    }

    #[test]
    fn email_content_refuses_header_injection_and_bad_members() {
        let ok = EmailContent {
            subject: Some("Hi".into()),
            ..EmailContent::default()
        };
        ok.validate().unwrap();
        for bad in [
            EmailContent {
                subject: None,
                ..ok.clone()
            },
            EmailContent {
                subject: Some("  ".into()),
                ..ok.clone()
            },
            EmailContent {
                subject: Some("Hi\r\nBcc: x@evil.test".into()),
                ..ok.clone()
            },
            EmailContent {
                subject: Some("x".repeat(201)),
                ..ok.clone()
            },
            EmailContent {
                primary_color: Some("red".into()),
                ..ok.clone()
            },
            EmailContent {
                primary_color: Some("#12345".into()),
                ..ok.clone()
            },
            EmailContent {
                base64_logo: Some("a".repeat(20_001)),
                ..ok.clone()
            },
            EmailContent {
                base64_logo: Some("not base64!".into()),
                ..ok.clone()
            },
            EmailContent {
                body_text: Some("a\u{7}b".into()),
                ..ok.clone()
            },
            EmailContent {
                sender_name: Some("A\nB".into()),
                ..ok.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        let logo = EmailContent {
            base64_logo: Some("data:image/png;base64,iVBORw0KGgo=".into()),
            body_text: Some("two\nlines".into()),
            ..ok
        };
        logo.validate().unwrap();
    }

    #[test]
    fn a_custom_sms_keeps_the_code_and_is_rendered_in_one_pass() {
        let input = SmsInput {
            custom_message: Some("{app}: {otp} is your code {x}".into()),
            sender_id: Some("Shop".into()),
        };
        input.validate().unwrap();
        assert_eq!(
            compose_sms("{{code}}", &vars(), Some(&input)).as_str(),
            "Shop {otp}: 123456 is your code {x}"
        );
        assert_eq!(
            compose_sms("T {{code}}", &vars(), None).as_str(),
            "T 123456"
        );
        for bad in [
            SmsInput {
                custom_message: Some("{app} only".into()),
                sender_id: None,
            },
            SmsInput {
                custom_message: Some("{otp} only".into()),
                sender_id: None,
            },
            SmsInput {
                custom_message: Some(format!("{{otp}}{{app}}{}", "x".repeat(131))),
                sender_id: None,
            },
            SmsInput {
                custom_message: None,
                sender_id: Some("TwelveLetter".into()),
            },
            SmsInput {
                custom_message: None,
                sender_id: Some("Sh op".into()),
            },
            SmsInput {
                custom_message: None,
                sender_id: Some("".into()),
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn placeholders_are_replaced_and_unknown_ones_kept() {
        let vars = MessageVars {
            app: "Shop",
            secret: "123456",
            minutes: 5,
            message: "",
        };
        assert_eq!(
            render("{{code}} for {{app}} ({{minutes}} min) {{other}} {{", &vars).as_str(),
            "123456 for Shop (5 min) {{other}} {{"
        );
        let defaults = MessageTemplates::default();
        defaults.validate().unwrap();
        assert_eq!(
            render(&defaults.otp_sms_text, &vars).as_str(),
            "123456 is your verification code for Shop. It expires in 5 minutes."
        );
    }

    #[test]
    fn templates_without_their_secret_or_with_it_in_a_subject_are_refused() {
        let mut t = MessageTemplates {
            otp_sms_text: "your code".into(),
            ..MessageTemplates::default()
        };
        assert!(t.validate().unwrap_err().contains("otp_sms_text"));
        t = MessageTemplates {
            magic_link_subject: "go to {{link}}".into(),
            ..MessageTemplates::default()
        };
        assert!(t.validate().unwrap_err().contains("magic_link_subject"));
    }
}
