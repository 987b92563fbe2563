//! The texts of the messages Tessera sends: one-time passcodes (email and SMS), magic links,
//! CIBA authentication links and password resets (passcode or link). Operators replace them with `[messages]` in the
//! configuration. Placeholders: `{{app}}` (the client's application name), `{{code}}` (the
//! passcode), `{{link}}` (the magic or CIBA link), `{{minutes}}` (its lifetime), `{{message}}`
//! (CIBA: the request's `custom_message`, else "{app} asks you to confirm a request."). A
//! passcode template must contain `{{code}}` and a link template `{{link}}`;
//! [`MessageTemplates::validate`] refuses the others.

use zeroize::Zeroizing;

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
