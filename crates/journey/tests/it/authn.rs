//! Authentication steps of client journeys (password, email/SMS OTP) and the user steps
//! (create_user, get_user), against a scripted directory.

use std::sync::Mutex;

use indexmap::IndexMap;
use serde_json::json;
use tessera_journey::{
    check_journey, mask_email, mask_phone, start_client, submit_client, BoxFuture, ClientOutcome,
    ClientResult, ClientRunState, ClientSubmit, CompiledJourney, Directory, DirectoryError, Format,
    FrozenClock, JwksCache, NewUser, Outbound, PasscodeChannel, RunEnv, RunUser, SeededRandom,
    StubOutbound, UserInfo, UserRef,
};

use crate::support::journey;

const NOW_S: i64 = 1_700_000_000;

/// Users ann (password "right", passcode 123456, email and phone) and bob (password "b").
/// Failing passwords count; the third wrong one locks (like the identity core).
struct Dir {
    failures: Mutex<u32>,
    sent: Mutex<Vec<(String, PasscodeChannel)>>,
    created: Mutex<Vec<NewUser>>,
    expire: bool,
    rate_limit_resend: bool,
}

impl Dir {
    fn new() -> Dir {
        Dir {
            failures: Mutex::new(0),
            sent: Mutex::new(Vec::new()),
            created: Mutex::new(Vec::new()),
            expire: false,
            rate_limit_resend: false,
        }
    }
}

fn user(name: &str) -> RunUser {
    RunUser {
        user_id: format!("id-{name}"),
        username: Some(name.into()),
        email: Some(format!("{name}@example.com")),
    }
}

fn err(code: &str) -> DirectoryError {
    DirectoryError {
        code: code.into(),
        message: format!("{code} happened"),
    }
}

impl Directory for Dir {
    fn find_user<'a>(
        &'a self,
        username: &'a str,
    ) -> BoxFuture<'a, Result<Option<RunUser>, DirectoryError>> {
        let found = matches!(username, "ann" | "bob").then(|| user(username));
        Box::pin(async move { Ok(found) })
    }
    fn create_user<'a>(&'a self, u: &'a str) -> BoxFuture<'a, Result<RunUser, DirectoryError>> {
        Box::pin(async move { Ok(user(u)) })
    }
    fn issue_tokens<'a>(
        &'a self,
        _: &'a RunUser,
        _: &'a [String],
        _: i64,
    ) -> BoxFuture<'a, Result<serde_json::Value, DirectoryError>> {
        Box::pin(async move { Err(err("not_available")) })
    }
    fn authenticate_password<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, Result<RunUser, DirectoryError>> {
        let ok = matches!((username, password), ("ann", "right") | ("bob", "b"));
        let mut failures = self.failures.lock().unwrap();
        let r = if *failures >= 3 {
            Err(err("auth_locked"))
        } else if ok {
            Ok(user(username))
        } else {
            *failures += 1;
            if *failures >= 3 {
                Err(err("auth_locked"))
            } else {
                Err(err("invalid_credentials"))
            }
        };
        Box::pin(async move { r })
    }
    fn send_passcode<'a>(
        &'a self,
        user_id: &'a str,
        channel: PasscodeChannel,
    ) -> BoxFuture<'a, Result<String, DirectoryError>> {
        let mut sent = self.sent.lock().unwrap();
        let r = if self.rate_limit_resend && !sent.is_empty() {
            Err(err("rate_limited"))
        } else {
            sent.push((user_id.to_string(), channel));
            Ok(match channel {
                PasscodeChannel::Email => "ann@example.com".to_string(),
                PasscodeChannel::Sms => "+12025550100".to_string(),
            })
        };
        Box::pin(async move { r })
    }
    fn verify_passcode<'a>(
        &'a self,
        user_id: &'a str,
        _: PasscodeChannel,
        passcode: &'a str,
    ) -> BoxFuture<'a, Result<RunUser, DirectoryError>> {
        let r = if self.expire {
            Err(err("expired_otp_passcode"))
        } else if passcode == "000000" {
            Err(err("auth_locked"))
        } else if passcode == "123456" {
            Ok(user(user_id.trim_start_matches("id-")))
        } else {
            Err(err("invalid_credentials"))
        };
        Box::pin(async move { r })
    }
    fn get_user<'a>(
        &'a self,
        u: UserRef<'a>,
    ) -> BoxFuture<'a, Result<Option<UserInfo>, DirectoryError>> {
        let found = match u {
            UserRef::Username("ann") | UserRef::UserId("id-ann") => Some(UserInfo {
                user_id: "id-ann".into(),
                username: Some("ann".into()),
                email: Some("ann@example.com".into()),
                phone_number: Some("+12025550100".into()),
            }),
            _ => None,
        };
        Box::pin(async move { Ok(found) })
    }
    fn create_user_with<'a>(
        &'a self,
        new: &'a NewUser,
    ) -> BoxFuture<'a, Result<UserInfo, DirectoryError>> {
        self.created.lock().unwrap().push(new.clone());
        let r = if new.username.as_deref() == Some("ann") {
            Err(err("user_already_exists"))
        } else {
            Ok(UserInfo {
                user_id: "id-new".into(),
                username: new.username.clone(),
                email: new.email.clone(),
                phone_number: new.phone_number.clone(),
            })
        };
        Box::pin(async move { r })
    }
}

struct Env {
    conns: IndexMap<String, std::sync::Arc<tessera_journey::Connection>>,
    out: StubOutbound,
    jwks: JwksCache,
    random: SeededRandom,
    dir: Dir,
}

impl Env {
    fn new(dir: Dir) -> Env {
        Env {
            conns: IndexMap::new(),
            out: StubOutbound::new(Vec::new()),
            jwks: JwksCache::new(),
            random: SeededRandom::new(3),
            dir,
        }
    }
    fn env(&self) -> RunEnv<'_> {
        RunEnv::new(
            NOW_S * 1000,
            &FrozenClock,
            &self.random,
            &self.conns,
            &self.out as &dyn Outbound,
            &self.jwks,
        )
        .with_directory(&self.dir)
    }
    async fn start(&self, j: &CompiledJourney, params: serde_json::Value) -> ClientOutcome {
        let params = params.as_object().cloned().unwrap_or_default();
        start_client(j, params, &self.env()).await
    }
    async fn submit(
        &self,
        j: &CompiledJourney,
        state: ClientRunState,
        option: &str,
        data: serde_json::Value,
    ) -> ClientOutcome {
        // The state goes through JSON between requests, as in the identity core.
        let state = serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
        let submit = ClientSubmit {
            option: option.into(),
            data,
        };
        submit_client(j, state, submit, &self.env()).await
    }
}

/// (step id, data, option ids, error)
fn waiting(
    o: &ClientOutcome,
) -> (
    &str,
    &serde_json::Value,
    Vec<&str>,
    Option<&serde_json::Value>,
) {
    match &o.result {
        ClientResult::InputRequired {
            step_id,
            data,
            options,
            error,
            ..
        } => (
            step_id.as_str(),
            data,
            options.iter().map(|o| o.id.as_str()).collect(),
            error.as_ref(),
        ),
        other => panic!("expected input required, got {other:?}"),
    }
}

fn failed(o: &ClientOutcome) -> (&str, &str) {
    match &o.result {
        ClientResult::Failed(f) => (f.step_id.as_str(), f.code.as_str()),
        other => panic!("expected failure, got {other:?}"),
    }
}

fn success(o: &ClientOutcome) -> &serde_json::Value {
    match &o.result {
        ClientResult::Success { data } => data,
        other => panic!("expected success, got {other:?}"),
    }
}

const PASSWORD: &str = r#"id: pwd
type: client
steps:
  - id: login
    type: password_authentication
  - id: done
    type: complete
    data: '{user: @policy.userContext().username}'
"#;

#[tokio::test]
async fn password_step_waits_checks_and_authenticates() {
    let j = journey(PASSWORD);
    let e = Env::new(Dir::new());
    let o = e.start(&j, json!({})).await;
    assert_eq!(
        waiting(&o),
        ("login", &json!({}), vec!["client_input"], None)
    );
    // Wrong, then missing input, then right.
    let o = e
        .submit(
            &j,
            o.state,
            "client_input",
            json!({"username": "ann", "password": "no"}),
        )
        .await;
    let (step, _, _, error) = waiting(&o);
    assert_eq!(step, "login");
    assert_eq!(error.unwrap()["code"], "invalid_credentials");
    assert!(o.state.user.is_none());
    let o = e
        .submit(&j, o.state, "client_input", json!({"username": "ann"}))
        .await;
    assert_eq!(waiting(&o).3.unwrap()["code"], "invalid_input");
    let o = e
        .submit(
            &j,
            o.state,
            "client_input",
            json!({"username": "ann", "password": "right"}),
        )
        .await;
    assert_eq!(success(&o)["user"], "ann");
    assert_eq!(o.state.user.as_ref().unwrap().user_id, "id-ann");
    assert_eq!(o.state.methods, ["pwd"]);
    assert_eq!(o.state.auth_time, Some(NOW_S));
    // The password never lands in a variable.
    assert!(!serde_json::to_string(&o.state).unwrap().contains("right"));
}

#[tokio::test]
async fn password_step_locked_fails_or_takes_the_failure_branch() {
    let j = journey(PASSWORD);
    let e = Env::new(Dir::new());
    let mut o = e.start(&j, json!({})).await;
    for _ in 0..2 {
        o = e
            .submit(
                &j,
                o.state,
                "client_input",
                json!({"username": "ann", "password": "x"}),
            )
            .await;
        assert_eq!(waiting(&o).3.unwrap()["code"], "invalid_credentials");
    }
    let o = e
        .submit(
            &j,
            o.state,
            "client_input",
            json!({"username": "ann", "password": "x"}),
        )
        .await;
    assert_eq!(failed(&o), ("login", "auth_locked"));

    let j = journey(
        r#"id: pwd
type: client
steps:
  - id: login
    type: password_authentication
    username: "@policy.request().params.username"
    on_failure: locked
    error_variable: why
  - id: done
    type: complete
  - id: locked
    type: reject
    data: why
"#,
    );
    let e = Env::new(Dir::new());
    *e.dir.failures.lock().unwrap() = 3;
    let o = e.start(&j, json!({"username": "ann"})).await;
    assert_eq!(waiting(&o).1, &json!({"username": "ann"}));
    let o = e
        .submit(&j, o.state, "client_input", json!({"password": "right"}))
        .await;
    match &o.result {
        ClientResult::Rejected { data } => {
            assert_eq!(data["code"], "auth_locked");
            assert!(data["message"].is_string());
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn password_step_refuses_another_user_than_the_authenticated_one() {
    let j = journey(
        r#"id: two
type: client
steps:
  - id: first
    type: password_authentication
  - id: second
    type: password_authentication
  - id: done
    type: complete
"#,
    );
    let e = Env::new(Dir::new());
    let o = e.start(&j, json!({})).await;
    let o = e
        .submit(
            &j,
            o.state,
            "client_input",
            json!({"username": "ann", "password": "right"}),
        )
        .await;
    assert_eq!(waiting(&o).0, "second");
    let o = e
        .submit(
            &j,
            o.state,
            "client_input",
            json!({"username": "bob", "password": "b"}),
        )
        .await;
    assert_eq!(failed(&o), ("second", "user_mismatch"));
}

const OTP: &str = r#"id: otp
type: client
steps:
  - id: login
    type: password_authentication
  - id: code
    type: email_otp_authentication
    cancel: cancelled
  - id: done
    type: complete
  - id: cancelled
    type: reject
    data: '{reason: "cancelled"}'
"#;

async fn at_otp(e: &Env, j: &CompiledJourney) -> ClientOutcome {
    let o = e.start(j, json!({})).await;
    e.submit(
        j,
        o.state,
        "client_input",
        json!({"username": "ann", "password": "right"}),
    )
    .await
}

#[tokio::test]
async fn email_otp_sends_to_the_authenticated_user_and_adds_eotp() {
    let j = journey(OTP);
    let e = Env::new(Dir::new());
    let o = at_otp(&e, &j).await;
    let (step, data, options, error) = waiting(&o);
    assert_eq!(step, "code");
    assert_eq!(data, &json!({"email": "a***@example.com"}));
    assert_eq!(options, ["client_input", "resend", "cancel"]);
    assert!(error.is_none());
    assert_eq!(
        *e.dir.sent.lock().unwrap(),
        [("id-ann".to_string(), PasscodeChannel::Email)]
    );
    let o = e
        .submit(&j, o.state, "client_input", json!({"passcode": "999999"}))
        .await;
    assert_eq!(waiting(&o).3.unwrap()["code"], "invalid_credentials");
    assert_eq!(waiting(&o).1, &json!({"email": "a***@example.com"}));
    let o = e.submit(&j, o.state, "resend", json!({})).await;
    assert_eq!(waiting(&o).0, "code");
    assert_eq!(e.dir.sent.lock().unwrap().len(), 2);
    let o = e
        .submit(&j, o.state, "client_input", json!({"passcode": "123456"}))
        .await;
    success(&o);
    assert_eq!(o.state.methods, ["pwd", "eotp"]);
}

#[tokio::test]
async fn otp_resend_limited_expired_locked_and_cancel() {
    let j = journey(OTP);
    let mut dir = Dir::new();
    dir.rate_limit_resend = true;
    let e = Env::new(dir);
    let o = at_otp(&e, &j).await;
    let o = e.submit(&j, o.state, "resend", json!({})).await;
    assert_eq!(waiting(&o).3.unwrap()["code"], "rate_limited");
    let cancelled = e.submit(&j, o.state.clone(), "cancel", json!({})).await;
    assert!(matches!(cancelled.result, ClientResult::Rejected { .. }));
    let locked = e
        .submit(&j, o.state, "client_input", json!({"passcode": "000000"}))
        .await;
    assert_eq!(failed(&locked), ("code", "auth_locked"));

    let mut dir = Dir::new();
    dir.expire = true;
    let e = Env::new(dir);
    let o = at_otp(&e, &j).await;
    let o = e
        .submit(&j, o.state, "client_input", json!({"passcode": "123456"}))
        .await;
    assert_eq!(waiting(&o).3.unwrap()["code"], "expired_otp_passcode");
    // Password steps offer no resend.
    let o = e.start(&j, json!({})).await;
    let o = e.submit(&j, o.state, "resend", json!({})).await;
    assert_eq!(failed(&o).1, "invalid_option");
}

#[tokio::test]
async fn sms_otp_names_the_user_and_needs_someone() {
    let j = journey(
        r#"id: sms
type: client
steps:
  - id: code
    type: sms_otp_authentication
    username: "@policy.request().params?.who"
  - id: done
    type: complete
"#,
    );
    let e = Env::new(Dir::new());
    let o = e.start(&j, json!({"who": "ann"})).await;
    assert_eq!(waiting(&o).1, &json!({"phone_number": "+1******0100"}));
    let o = e
        .submit(&j, o.state, "client_input", json!({"passcode": "123456"}))
        .await;
    success(&o);
    assert_eq!(o.state.methods, ["sms"]);
    assert_eq!(o.state.user.unwrap().user_id, "id-ann");

    let o = e.start(&j, json!({"who": "nobody"})).await;
    assert_eq!(failed(&o), ("code", "user_not_found"));
    let o = e.start(&j, json!({})).await;
    assert_eq!(failed(&o), ("code", "not_authenticated"));
}

#[tokio::test]
async fn create_user_and_get_user() {
    let j = journey(
        r#"id: users
type: client
steps:
  - id: make
    type: create_user
    username: "@policy.request().params.name"
    email: '"x@example.com"'
    output: made
  - id: find
    type: get_user
    user_id: '"id-ann"'
    output: found
  - id: none
    type: get_user
    username: '"zed"'
    output: missing
  - id: done
    type: complete
    data: '{made: made.user_id, found: found.phone_number, missing: missing == null, auth: @policy.isUserAuthenticated()}'
"#,
    );
    let e = Env::new(Dir::new());
    let o = e.start(&j, json!({"name": "new"})).await;
    assert_eq!(
        success(&o),
        &json!({"made": "id-new", "found": "+12025550100", "missing": true, "auth": false})
    );
    assert!(o.state.user.is_none());
    assert_eq!(
        e.dir.created.lock().unwrap()[0],
        NewUser {
            username: Some("new".into()),
            email: Some("x@example.com".into()),
            phone_number: None
        }
    );
    let o = e.start(&j, json!({"name": "ann"})).await;
    assert_eq!(failed(&o), ("make", "user_already_exists"));
}

#[test]
fn validation_of_the_new_steps() {
    let errs = |y: &str| match check_journey(y, Format::Yaml) {
        Ok(_) => Vec::new(),
        Err(e) => e.into_iter().map(|e| e.message).collect::<Vec<_>>(),
    };
    let backend = "id: b\ntype: backend_api\nsteps:\n  - id: a\n    type: password_authentication\n  - id: z\n    type: http_complete\n    status: 200\n";
    assert!(
        errs(backend).iter().any(|m| m.contains("client step")),
        "{:?}",
        errs(backend)
    );
    let get = "id: c\ntype: client\nsteps:\n  - id: a\n    type: get_user\n    output: x\n  - id: z\n    type: complete\n";
    assert!(errs(get).iter().any(|m| m.contains("exactly one")));
    let create = "id: c\ntype: client\nsteps:\n  - id: a\n    type: create_user\n  - id: z\n    type: complete\n";
    assert!(errs(create).iter().any(|m| m.contains("at least one")));
    let bad_target = "id: c\ntype: client\nsteps:\n  - id: a\n    type: email_otp_authentication\n    on_failure: nowhere\n  - id: z\n    type: complete\n";
    assert!(errs(bad_target)
        .iter()
        .any(|m| m.contains("does not exist")));
    // get_user works in backend journeys too.
    let ok = "id: b\ntype: backend_api\nsteps:\n  - id: a\n    type: get_user\n    username: x\n    output: u\n  - id: z\n    type: http_complete\n    status: 200\n";
    assert!(errs(ok).is_empty(), "{:?}", errs(ok));
}

#[test]
fn masks() {
    assert_eq!(mask_email("ann@example.com"), "a***@example.com");
    assert_eq!(mask_phone("+12025550100"), "+1******0100");
    assert_eq!(mask_phone("+12"), "***");
}

#[tokio::test]
async fn test_cases_script_passwords_and_passcodes() {
    let j = journey(OTP);
    let cases = tessera_journey::parse_test_cases(
        r#"
- name: both factors
  users: [{username: ann, email: ann@example.com, password: pw, passcode: "4242"}]
  respond:
    - {option: client_input, data: {username: ann, password: nope}}
    - {option: client_input, data: {username: ann, password: pw}}
    - {option: resend}
    - {option: client_input, data: {passcode: "4242"}}
  expect: {result: success, user_id: user-ann, methods: [pwd, eotp], path: [login, code, done]}
- name: locked user
  users: [{username: ann, password: pw, locked: true}]
  respond: [{option: client_input, data: {username: ann, password: pw}}]
  expect: {result: failed, error_code: auth_locked}
- name: no email
  users: [{username: ann, password: pw}]
  respond: [{option: client_input, data: {username: ann, password: pw}}]
  expect: {result: failed, error_code: user_email_address_missing}
"#,
    )
    .unwrap();
    for (i, c) in cases.iter().enumerate() {
        let r = tessera_journey::run_test_case(c, &j, &format!("case {i}")).await;
        assert!(r.passed, "{}: {:?}", r.name, r.diff);
    }
}
