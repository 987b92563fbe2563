//! Validation: every error kind with step id, field and position; warnings.

use tessera_journey::{check_journey, parse_definition, Format, ValidationError};

fn errors(yaml: &str) -> Vec<ValidationError> {
    match check_journey(yaml, Format::Yaml) {
        Ok(_) => panic!("expected validation errors"),
        Err(e) => e,
    }
}

fn has(errs: &[ValidationError], step: Option<&str>, field: &str, needle: &str) -> bool {
    errs.iter()
        .any(|e| e.step_id.as_deref() == step && e.field == field && e.message.contains(needle))
}

const HEAD: &str = "id: j\ntype: backend_api\nsteps:\n";

#[test]
fn seed_example_is_valid_and_warns_about_unverified_claims() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/journeys/validate-transaction.yaml"
    ))
    .unwrap();
    let checked = check_journey(&text, Format::Auto).unwrap();
    assert_eq!(checked.journey.id, "validate-transaction");
    assert_eq!(checked.journey.steps.len(), 6);
    assert!(checked.journey.enforce_token);
    let tainted: Vec<&str> = checked
        .warnings
        .iter()
        .filter(|w| w.code == "unverified_token_decision")
        .map(|w| w.step_id.as_str())
        .collect();
    assert_eq!(tainted, ["check_expiry", "check_mfa"]);
    assert!(!checked
        .warnings
        .iter()
        .any(|w| w.code == "unreachable_step"));
}

#[test]
fn expression_error_has_field_line_and_column() {
    let errs = errors(&format!(
        "{HEAD}  - id: c\n    type: condition\n    expression: \"1 + * 2\"\n    on_true: done\n    on_false: done\n  - {{id: done, type: http_complete, status: 200}}\n"
    ));
    let e = errs.iter().find(|e| e.field == "expression").unwrap();
    assert_eq!(e.step_id.as_deref(), Some("c"));
    assert_eq!((e.expression_line, e.expression_column), (Some(1), Some(5)));
    // `line`/`column` are the position in the file: the `*` on line 6.
    assert_eq!((e.line, e.column), (Some(6), Some(22)));
    assert_eq!(e.step_line, Some(4));
    let json = serde_json::to_value(e).unwrap();
    assert_eq!(json["line"], 6);
    assert_eq!(json["expression_line"], 1);
    assert_eq!(json["step_id"], "c");
}

#[test]
fn template_fields_are_compiled_as_templates() {
    let errs = errors(&format!(
        "{HEAD}  - id: done\n    type: http_complete\n    status: 302\n    redirect_uri: \"https://x/${{1 +}}\"\n    headers: {{X-A: \"${{a.}}\"}}\n"
    ));
    assert!(errs
        .iter()
        .any(|e| e.field == "redirect_uri" && e.line.is_some()));
    assert!(errs
        .iter()
        .any(|e| e.field == "headers.X-A" && e.line.is_some()));
    // A template without ${} is plain text and valid.
    check_journey(&format!("{HEAD}  - {{id: d, type: http_complete, status: 307, redirect_uri: \"https://a/b?c=1\"}}\n"), Format::Yaml).unwrap();
}

#[test]
fn unknown_target_and_duplicate_ids() {
    let errs = errors(&format!(
        "{HEAD}  - {{id: a, type: condition, expression: 'true', on_true: nowhere, on_false: b}}\n  - {{id: b, type: http_complete, status: 200}}\n  - {{id: b, type: http_complete, status: 201}}\n"
    ));
    assert!(has(&errs, Some("a"), "on_true", "does not exist"));
    assert!(has(&errs, Some("b"), "id", "duplicate"));
}

#[test]
fn unknown_target_is_named_in_the_message() {
    let errs = errors(&format!(
        "{HEAD}  - {{id: a, type: condition, expression: 'true', on_true: nowhere, on_false: b}}\n  - {{id: b, type: http_complete, status: 200}}\n"
    ));
    let e = errs.iter().find(|e| e.field == "on_true").unwrap();
    assert_eq!(e.message, "target step `nowhere` does not exist");
}

#[test]
fn unknown_target_in_a_message_is_printable_and_short() {
    // A control character, a bidi override and a very long name.
    let long = "x".repeat(200);
    let errs = errors(&format!(
        "{HEAD}  - id: a\n    type: match\n    expression: '1'\n    cases:\n      - {{value: '1', next: \"bad\\u0007\\u202Eid\"}}\n    otherwise: {long}\n  - {{id: b, type: http_complete, status: 200}}\n"
    ));
    let case = errs.iter().find(|e| e.field == "cases[0].next").unwrap();
    assert_eq!(case.message, "target step `badid` does not exist");
    let otherwise = errs.iter().find(|e| e.field == "otherwise").unwrap();
    let shown = format!("target step `{}…` does not exist", "x".repeat(64));
    assert_eq!(otherwise.message, shown);
}

#[test]
fn path_without_terminal_step_is_an_error() {
    let errs = errors(&format!(
        "{HEAD}  - {{id: a, type: set_variables, variables: {{x: '1'}}}}\n"
    ));
    assert!(has(
        &errs,
        Some("a"),
        "next",
        "without reaching an `http_complete`"
    ));
}

#[test]
fn client_steps_in_backend_journeys_are_refused() {
    for t in [
        "complete",
        "reject",
        "information",
        "collect",
        "password_authentication",
        "email_otp_authentication",
        "sms_otp_authentication",
    ] {
        let errs = errors(&format!(
            "{HEAD}  - {{id: a, type: {t}}}\n  - {{id: b, type: http_complete, status: 200}}\n"
        ));
        assert!(
            has(&errs, Some("a"), "type", "only allowed in client journeys"),
            "{t}"
        );
    }
    let errs =
        errors("id: j\ntype: client\nsteps:\n  - {id: a, type: http_complete, status: 200}\n");
    assert!(has(&errs, Some("a"), "type", "only allowed in backend_api"));
    let errs = errors(&format!("{HEAD}  - {{id: a, type: teleport}}\n"));
    assert!(has(&errs, Some("a"), "type", "unknown step type"));
}

#[test]
fn bad_ids_fields_and_statuses() {
    let errs = parse_definition(
        "id: Bad\ntype: backend_api\nsteps:\n  - {id: UPPER, type: condition}\n",
        Format::Yaml,
    )
    .unwrap_err();
    assert!(has(&errs, None, "id", "[a-z0-9_-]+"));
    assert!(has(&errs, None, "steps[0].id", "[a-z0-9_-]+"));
    let errs = errors(&format!(
        "{HEAD}  - {{id: a, type: http_complete, status: 99, colour: red}}\n"
    ));
    assert!(has(&errs, Some("a"), "status", "200 to 599"));
    assert!(has(&errs, Some("a"), "colour", "unknown field"));
    let errs = errors(&format!(
        "{HEAD}  - {{id: a, type: http_complete, status: 200, response_type: xml}}\n"
    ));
    assert!(has(&errs, Some("a"), "response_type", "json"));
}

#[test]
fn yaml_anchors_aliases_and_merge_keys_are_refused() {
    let anchored = format!("{HEAD}  - &s {{id: a, type: http_complete, status: 200}}\n");
    let errs = errors(&anchored);
    assert!(errs[0].message.contains("anchors"));
    let alias =
        "id: j\ntype: backend_api\nx: &v 1\nsteps:\n  - {id: a, type: http_complete, status: *v}\n";
    assert!(errors(alias)[0].message.contains("anchors"));
    let merge = format!("{HEAD}  - <<: {{id: a}}\n    type: http_complete\n");
    assert!(errors(&merge)[0].message.contains("anchors"));
    // `&&` and `*` inside expressions are fine.
    check_journey(&format!(
        "{HEAD}  - id: c\n    type: condition\n    expression: >\n      1 < 2\n      && 2 * 3 == 6\n    on_true: d\n    on_false: d\n  - {{id: d, type: http_complete, status: 200, body: '2 * 3'}}\n"
    ), Format::Yaml).unwrap();
}

#[test]
fn nesting_deeper_than_64_is_refused() {
    let deep = format!("{}1{}", "[".repeat(70), "]".repeat(70));
    let json = format!("{{\"id\":\"j\",\"type\":\"backend_api\",\"steps\":[{{\"id\":\"a\",\"type\":\"http_complete\",\"status\":200,\"x\":{deep}}}]}}");
    let errs = parse_definition(&json, Format::Json).unwrap_err();
    assert!(errs[0].message.contains("nesting"), "{errs:?}");
}

#[test]
fn json_definitions_parse_too() {
    let json = r#"{"id":"j","type":"backend_api","steps":[{"id":"a","type":"http_complete","status":204}]}"#;
    let checked = check_journey(json, Format::Auto).unwrap();
    assert_eq!(checked.journey.steps[0].id, "a");
}

#[test]
fn unreachable_steps_are_warnings() {
    let checked = check_journey(
        &format!("{HEAD}  - {{id: a, type: http_complete, status: 200}}\n  - {{id: orphan, type: http_complete, status: 500}}\n"),
        Format::Yaml,
    )
    .unwrap();
    assert_eq!(checked.warnings.len(), 1);
    assert_eq!(checked.warnings[0].code, "unreachable_step");
    assert_eq!(checked.warnings[0].step_id, "orphan");
}

#[test]
fn connections_validate_and_redact_secrets() {
    let conns = tessera_journey::parse_connections(
        "svc:\n  type: web_service\n  params: [user]\n  url: \"https://api.example.com/u/${user}\"\n  headers:\n    Authorization: {value: \"Bearer s3cr3t-value\", secret: true}\n    X-Plain: hello\n",
        Format::Yaml,
    )
    .unwrap();
    let svc = &conns["svc"];
    let public = svc.redacted().to_string();
    assert!(!public.contains("s3cr3t-value"));
    assert!(public.contains("hello"));
    assert_eq!(svc.secret_paths(), ["/headers/Authorization/value"]);
    let errs = tessera_journey::parse_connections(
        "jwt:\n  type: jwt_validator\n  issuer: https://i\n  audience: any\n  algorithms: [HS256]\n  jwks_uri: https://i/jwks\n",
        Format::Yaml,
    )
    .unwrap_err();
    assert!(errs.iter().any(|e| e.field == "algorithms[0]"));
    let errs = tessera_journey::parse_connections(
        "x:\n  type: jwt_validator\n  algorithms: [ES256]\n",
        Format::Yaml,
    )
    .unwrap_err();
    assert!(errs.iter().any(|e| e.field == "issuer"));
    assert!(errs.iter().any(|e| e.field == "audience"));
    assert!(errs.iter().any(|e| e.field == "jwks_uri"));
}

#[test]
fn connection_errors_name_the_connection_and_the_expression_position() {
    let errs = tessera_journey::parse_connections(
        "svc:\n  type: web_service\n  url: https://api.example.com\n  body: \"1 + * 2\"\n",
        Format::Yaml,
    )
    .unwrap_err();
    let e = errs.iter().find(|e| e.field == "body").unwrap();
    // Connections are not placed in a text: only the position inside the expression.
    assert_eq!((e.line, e.column), (None, None));
    assert_eq!((e.expression_line, e.expression_column), (Some(1), Some(5)));
    assert_eq!(
        e.describe("connection"),
        format!(
            "connection `svc`, field `body`: {} (at 1:5 of the expression)",
            e.message
        )
    );
}
