//! `[delivery]` deserialisation: keys, defaults, unknown keys, env-style strings, redaction.

use tessera_delivery::{DeliveryConfig, TlsMode};

fn parse(text: &str) -> Result<DeliveryConfig, toml::de::Error> {
    toml::from_str(text)
}

#[test]
fn full_section() {
    let cfg = parse(
        r#"
        outbox = false
        [smtp]
        host = "smtp.example.com"
        port = 2525
        tls = "tls"
        username = "mailer"
        password = "hunter2-secret"
        from = "Tessera <noreply@example.com>"
        timeout_ms = 3000
        [sms]
        url = "https://sms.example.com/send?key=apikey-secret"
        headers = { authorization = "Bearer header-secret" }
        body_template = '{"to":"{{to}}","msg":"{{text}}"}'
        timeout_ms = 4000
        "#,
    )
    .unwrap();
    let smtp = cfg.smtp.as_ref().unwrap();
    assert_eq!(smtp.effective_port(), 2525);
    assert_eq!(smtp.tls, TlsMode::Tls);
    assert_eq!(smtp.password.as_ref().unwrap().expose(), "hunter2-secret");
    assert_eq!(smtp.timeout().as_millis(), 3000);
    let sms = cfg.sms.as_ref().unwrap();
    assert_eq!(sms.headers["authorization"], "Bearer header-secret");
    assert_eq!(sms.timeout_ms, 4000);
    let debug = format!("{cfg:?}");
    for secret in ["hunter2-secret", "header-secret", "apikey-secret"] {
        assert!(!debug.contains(secret), "{debug}");
    }
    assert!(debug.contains("***"));
}

#[test]
fn defaults() {
    let cfg = parse("").unwrap();
    assert!(!cfg.outbox && cfg.smtp.is_none() && cfg.sms.is_none());
    let cfg = parse("[smtp]\nhost = \"h\"\nfrom = \"a@b.c\"\n[sms]\nurl = \"https://x\"").unwrap();
    let smtp = cfg.smtp.unwrap();
    assert_eq!(smtp.tls, TlsMode::Starttls);
    assert_eq!(smtp.effective_port(), 587);
    assert_eq!(smtp.timeout_ms, 10_000);
    assert!(smtp.username.is_none() && smtp.password.is_none());
    let sms = cfg.sms.unwrap();
    assert!(sms.headers.is_empty() && sms.body_template.is_none());
    assert_eq!(sms.timeout_ms, 10_000);
}

#[test]
fn env_style_strings_are_accepted() {
    let cfg = parse(
        "outbox = \"true\"\n[smtp]\nhost = \"h\"\nfrom = \"a@b.c\"\nport = \"2525\"\ntimeout_ms = \"100\"\ntls = \"none\"",
    )
    .unwrap();
    assert!(cfg.outbox);
    let smtp = cfg.smtp.unwrap();
    assert_eq!(smtp.port, Some(2525));
    assert_eq!(smtp.timeout_ms, 100);
    assert_eq!(smtp.tls, TlsMode::None);
    assert!(parse("outbox = \"maybe\"").is_err());
    assert!(parse("[smtp]\nhost = \"h\"\nfrom = \"a@b.c\"\nport = 70000").is_err());
}

#[test]
fn unknown_keys_are_refused() {
    assert!(parse("nope = 1").is_err());
    assert!(parse("[smtp]\nhost = \"h\"\nfrom = \"a@b.c\"\nhots = \"x\"").is_err());
    assert!(parse("[sms]\nurl = \"https://x\"\nbody = \"x\"").is_err());
    assert!(parse("[smtp]\nhost = \"h\"\nfrom = \"a@b.c\"\ntls = \"ssl\"").is_err());
}
