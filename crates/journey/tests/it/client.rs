//! Client journeys: waiting steps, submits, custom_authentication, @policy user functions,
//! state round trips.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use indexmap::IndexMap;
use serde_json::json;
use tessera_jose::{Algorithm, JwkSet, SigningKey};
use tessera_journey::{
    check_journey, start_client, submit_client, BoxFuture, ClientOutcome, ClientResult,
    ClientRunState, ClientSubmit, CompiledJourney, Directory, DirectoryError, Format, FrozenClock,
    JwksCache, Outbound, RunEnv, RunResult, RunUser, SeededRandom, StubOutbound, StubResponse,
    TraceOutcome,
};

use crate::support::{connections, journey, request, stub};

const NOW_S: i64 = 1_700_000_000;

/// A directory holding users by (case-insensitive) username.
#[derive(Default)]
struct StubDirectory {
    users: Mutex<Vec<RunUser>>,
    disabled: Vec<String>,
    issued: AtomicU32,
}

impl StubDirectory {
    fn with(users: &[&str]) -> Self {
        StubDirectory {
            users: Mutex::new(
                users
                    .iter()
                    .map(|u| RunUser {
                        user_id: format!("id-{u}"),
                        username: Some(u.to_string()),
                        email: Some(format!("{u}@example.com")),
                    })
                    .collect(),
            ),
            ..Default::default()
        }
    }
}

impl Directory for StubDirectory {
    fn find_user<'a>(
        &'a self,
        username: &'a str,
    ) -> BoxFuture<'a, Result<Option<RunUser>, DirectoryError>> {
        let disabled = self
            .disabled
            .iter()
            .any(|d| d.eq_ignore_ascii_case(username));
        let found = self
            .users
            .lock()
            .unwrap()
            .iter()
            .find(|u| {
                u.username
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(username))
            })
            .cloned();
        Box::pin(async move {
            if disabled {
                return Err(DirectoryError {
                    code: "user_not_active".into(),
                    message: "the user is disabled".into(),
                });
            }
            Ok(found)
        })
    }

    fn create_user<'a>(
        &'a self,
        username: &'a str,
    ) -> BoxFuture<'a, Result<RunUser, DirectoryError>> {
        let user = RunUser {
            user_id: format!("new-{username}"),
            username: Some(username.to_string()),
            email: None,
        };
        self.users.lock().unwrap().push(user.clone());
        Box::pin(async move { Ok(user) })
    }

    fn issue_tokens<'a>(
        &'a self,
        user: &'a RunUser,
        methods: &'a [String],
        auth_time: i64,
    ) -> BoxFuture<'a, Result<serde_json::Value, DirectoryError>> {
        self.issued.fetch_add(1, Ordering::SeqCst);
        let v = json!({
            "access_token": format!("at-{}-{}", user.user_id, methods.join("+")),
            "id_token": "idt",
            "refresh_token": "rt",
            "session_id": format!("s-{auth_time}"),
        });
        Box::pin(async move { Ok(v) })
    }
}

struct Env {
    conns: IndexMap<String, std::sync::Arc<tessera_journey::Connection>>,
    out: StubOutbound,
    jwks: JwksCache,
    random: SeededRandom,
    dir: StubDirectory,
}

impl Env {
    fn new(conns_yaml: &str, stubs: Vec<StubResponse>, dir: StubDirectory) -> Env {
        Env {
            conns: if conns_yaml.is_empty() {
                IndexMap::new()
            } else {
                connections(conns_yaml)
            },
            out: StubOutbound::new(stubs),
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
        let submit = ClientSubmit {
            option: option.into(),
            data,
        };
        submit_client(j, state, submit, &self.env()).await
    }
}

/// Serializes and parses the state, as the identity core does between requests.
fn round_trip(state: &ClientRunState) -> ClientRunState {
    let text = serde_json::to_string(state).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn waiting_at(o: &ClientOutcome) -> (&str, &serde_json::Value, Vec<&str>) {
    match &o.result {
        ClientResult::InputRequired {
            step_id,
            data,
            options,
            ..
        } => (
            step_id.as_str(),
            data,
            options.iter().map(|o| o.id.as_str()).collect(),
        ),
        other => panic!("expected input required, got {other:?}"),
    }
}

fn failure(o: &ClientOutcome) -> (&str, &str) {
    match &o.result {
        ClientResult::Failed(f) => (f.step_id.as_str(), f.code.as_str()),
        other => panic!("expected failure, got {other:?}"),
    }
}

const FORM: &str = r#"id: signup
type: client
steps:
  - id: hello
    type: information
    title: "Hello ${@policy.request().params.name}"
    text: Welcome
    button_text: Go
  - id: form
    type: collect
    fields:
      - {name: email, type: email, required: true, label: Email}
      - {name: age, type: number}
      - {name: phone, type: phone}
      - {name: born, type: date}
      - {name: news, type: boolean}
    output: profile
    branches:
      - {id: skip, next: skipped, label: Skip}
    cancel: cancelled
  - id: done
    type: complete
    data: "{email: profile.email, age: profile?.age, seen: client_response.email}"
  - {id: skipped, type: complete, data: '"skipped"'}
  - {id: cancelled, type: reject, data: '{reason: "cancelled"}'}
"#;

#[tokio::test]
async fn information_then_collect_then_complete_with_state_round_trips() {
    let j = journey(FORM);
    let e = Env::new("", vec![], StubDirectory::default());
    let o = e.start(&j, json!({"name": "Ann"})).await;
    let (step, data, options) = waiting_at(&o);
    assert_eq!(step, "hello");
    assert_eq!(
        *data,
        json!({"title": "Hello Ann", "text": "Welcome", "button_text": "Go"})
    );
    assert_eq!(options, ["client_input"]);
    assert_eq!(o.trace.steps[0].decision, "waiting");
    assert_eq!(
        o.trace.outcome,
        TraceOutcome::Waiting {
            step_id: "hello".into()
        }
    );
    assert_eq!(o.state.waiting.as_deref(), Some("hello"));
    assert_eq!(o.state.run.steps_taken, 1);

    let o = e
        .submit(&j, round_trip(&o.state), "client_input", json!(null))
        .await;
    let (step, data, options) = waiting_at(&o);
    assert_eq!(step, "form");
    assert_eq!(
        data["fields"][0],
        json!({"name": "email", "type": "email", "required": true, "label": "Email"})
    );
    assert_eq!(
        data["fields"][1],
        json!({"name": "age", "type": "number", "required": false})
    );
    assert_eq!(options, ["client_input", "skip", "cancel"]);
    assert_eq!(o.trace.steps[0].decision, "submit:client_input");
    assert_eq!(o.state.run.steps_taken, 2);

    let o = e
        .submit(
            &j,
            round_trip(&o.state),
            "client_input",
            json!({"email": "ann@example.com", "age": 31, "phone": "+4915112345678", "born": "1990-01-31", "news": true}),
        )
        .await;
    assert_eq!(
        o.result,
        ClientResult::Success {
            data: json!({"email": "ann@example.com", "age": 31, "seen": "ann@example.com"})
        }
    );
    assert_eq!(o.trace.outcome, TraceOutcome::Success);
    assert_eq!(o.trace.path(), ["form", "done"]);
    assert_eq!(o.state.waiting, None);
    assert_eq!(o.state.run.steps_taken, 3);

    // Nothing waits any more.
    let again = e
        .submit(&j, o.state.clone(), "client_input", json!({}))
        .await;
    assert_eq!(failure(&again).1, "invalid_state");
    assert_eq!(again.state, o.state);
}

#[tokio::test]
async fn bad_collect_input_stays_at_the_step_with_an_error() {
    let j = journey(FORM);
    let e = Env::new("", vec![], StubDirectory::default());
    let o = e.start(&j, json!({"name": "Ann"})).await;
    let o = e.submit(&j, o.state, "client_input", json!(null)).await;
    let at_form = o.state.clone();
    for (data, fields) in [
        (json!({}), json!(["email"])),
        (json!({"email": "not-an-email"}), json!(["email"])),
        (json!({"email": "a@b.co", "age": "31"}), json!(["age"])),
        (json!({"email": "a@b.co", "phone": "12"}), json!(["phone"])),
        (
            json!({"email": "a@b.co", "born": "2023-02-30"}),
            json!(["born"]),
        ),
        (json!({"email": "a@b.co", "news": "yes"}), json!(["news"])),
        (json!({"email": "a@b.co", "admin": true}), json!(["admin"])),
        (json!("a@b.co"), json!([])),
    ] {
        let o = e
            .submit(&j, at_form.clone(), "client_input", data.clone())
            .await;
        match &o.result {
            ClientResult::InputRequired { step_id, error, .. } => {
                assert_eq!(step_id, "form");
                let error = error.as_ref().expect("an error");
                assert_eq!(error["code"], "invalid_input", "{data}");
                assert_eq!(error["fields"], fields, "{data}");
                if let Some(name) = fields.get(0).and_then(|f| f.as_str()) {
                    assert!(error["message"].as_str().unwrap().contains(name));
                }
            }
            other => panic!("{data}: expected input required, got {other:?}"),
        }
        assert_eq!(o.state, at_form, "the state is unchanged");
    }
    // An option the step does not offer.
    let o = e.submit(&j, at_form.clone(), "resend", json!({})).await;
    assert_eq!(failure(&o), ("form", "invalid_option"));
    assert_eq!(o.state, at_form);
}

#[tokio::test]
async fn custom_branch_and_cancel_go_to_their_steps() {
    let j = journey(FORM);
    let e = Env::new("", vec![], StubDirectory::default());
    let o = e.start(&j, json!({"name": "Bo"})).await;
    let o = e.submit(&j, o.state, "client_input", json!(null)).await;
    let at_form = o.state;
    let skipped = e
        .submit(&j, at_form.clone(), "skip", json!({"why": 1}))
        .await;
    assert_eq!(
        skipped.result,
        ClientResult::Success {
            data: json!("skipped")
        }
    );
    assert_eq!(skipped.trace.steps[0].decision, "submit:skip");
    let mut deep = json!(1);
    for _ in 0..200 {
        deep = json!([deep]);
    }
    let refused = e.submit(&j, at_form.clone(), "skip", deep).await;
    assert_eq!(failure(&refused), ("form", "invalid_input"));
    assert_eq!(refused.state, at_form);
    let cancelled = e.submit(&j, at_form, "cancel", json!(null)).await;
    assert_eq!(
        cancelled.result,
        ClientResult::Rejected {
            data: json!({"reason": "cancelled"})
        }
    );
    assert_eq!(cancelled.trace.outcome, TraceOutcome::Rejected);
}

fn sign(key: &SigningKey, claims: serde_json::Value) -> String {
    key.sign_jwt("JWT", claims.to_string().as_bytes()).unwrap()
}

fn jwt_connection(key: &SigningKey) -> String {
    let jwks = serde_json::to_string(&JwkSet {
        keys: vec![key.public_jwk()],
    })
    .unwrap();
    format!("legacy:\n  type: jwt_validator\n  issuer: https://legacy\n  audience: tessera\n  algorithms: [ES256]\n  username_claim: preferred_username\n  jwks: {jwks}\n")
}

fn legacy_token(key: &SigningKey, username: &str) -> String {
    sign(
        key,
        json!({"iss": "https://legacy", "aud": "tessera", "sub": "x", "preferred_username": username, "exp": NOW_S + 600}),
    )
}

fn migrate(extra: &str) -> CompiledJourney {
    journey(&format!(
        r#"id: migrate
type: client
steps:
  - id: auth
    type: custom_authentication
    username: "@policy.request().params.username"
    token: "@policy.request().params.externalToken"
    validator: legacy
{extra}  - id: done
    type: complete
    data: "{{user: @policy.userContext(), authenticated: @policy.isUserAuthenticated()}}"
  - id: failed
    type: reject
    data: '"oops"'
"#
    ))
}

#[tokio::test]
async fn custom_authentication_with_a_jwt_validator() {
    let key = SigningKey::generate(Algorithm::ES256, "k1").unwrap();
    let e = Env::new(
        &jwt_connection(&key),
        vec![],
        StubDirectory::with(&["alice", "bob"]),
    );
    let j = migrate("");

    // Valid token of the user.
    let o = e
        .start(
            &j,
            json!({"username": "alice", "externalToken": legacy_token(&key, "alice")}),
        )
        .await;
    assert_eq!(
        o.result,
        ClientResult::Success {
            data: json!({"user": {"user_id": "id-alice", "username": "alice", "email": "alice@example.com"}, "authenticated": true})
        }
    );
    assert_eq!(o.state.user.as_ref().unwrap().user_id, "id-alice");
    assert_eq!(o.state.methods, ["flex.login"]);
    assert_eq!(o.state.auth_time, Some(NOW_S));

    // Bob's token for alice.
    let o = e
        .start(
            &j,
            json!({"username": "alice", "externalToken": legacy_token(&key, "bob")}),
        )
        .await;
    assert_eq!(failure(&o), ("auth", "invalid_token"));
    assert_eq!(o.state.user, None);

    // A token signed by another key.
    let other = SigningKey::generate(Algorithm::ES256, "k1").unwrap();
    let o = e
        .start(
            &j,
            json!({"username": "alice", "externalToken": legacy_token(&other, "alice")}),
        )
        .await;
    assert_eq!(failure(&o), ("auth", "invalid_token"));

    // Unknown user, without and with create_user_if_missing.
    let o = e
        .start(
            &j,
            json!({"username": "carol", "externalToken": legacy_token(&key, "carol")}),
        )
        .await;
    assert_eq!(failure(&o), ("auth", "user_not_found"));
    let j2 = migrate("    create_user_if_missing: true\n");
    let o = e
        .start(
            &j2,
            json!({"username": "carol", "externalToken": legacy_token(&key, "carol")}),
        )
        .await;
    assert!(
        matches!(o.result, ClientResult::Success { .. }),
        "{:?}",
        o.result
    );
    assert_eq!(o.state.user.as_ref().unwrap().user_id, "new-carol");
}

#[tokio::test]
async fn custom_authentication_failure_branch_and_amr() {
    let key = SigningKey::generate(Algorithm::ES256, "k1").unwrap();
    let mut dir = StubDirectory::with(&["alice", "dora"]);
    dir.disabled.push("dora".into());
    let e = Env::new(&jwt_connection(&key), vec![], dir);
    let j = journey(
        r#"id: migrate
type: client
steps:
  - id: auth
    type: custom_authentication
    username: "@policy.request().params.username"
    token: "@policy.request().params.externalToken"
    validator: legacy
    amr: "legacy.${@policy.request().params.amr}"
    error_variable: why
    on_failure: failed
  - id: done
    type: complete
  - id: failed
    type: reject
    data: "why"
"#,
    );
    let o = e
        .start(
            &j,
            json!({"username": "alice", "externalToken": legacy_token(&key, "alice"), "amr": "pwd"}),
        )
        .await;
    assert_eq!(o.result, ClientResult::Success { data: json!(null) });
    assert_eq!(o.state.methods, ["legacy.pwd"]);

    let o = e
        .start(
            &j,
            json!({"username": "alice", "externalToken": legacy_token(&key, "bob"), "amr": "pwd"}),
        )
        .await;
    match &o.result {
        ClientResult::Rejected { data } => {
            assert_eq!(data["code"], "invalid_token");
            assert!(data["message"].as_str().unwrap().contains("does not match"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(o.trace.steps[0].decision, "failure:invalid_token");
    assert_eq!(o.state.user, None);

    // The directory's error code (a disabled user) goes to the branch too.
    let o = e
        .start(
            &j,
            json!({"username": "dora", "externalToken": legacy_token(&key, "dora"), "amr": "x"}),
        )
        .await;
    assert!(
        matches!(&o.result, ClientResult::Rejected { data } if data["code"] == "user_not_active"),
        "{:?}",
        o.result
    );

    // No directory at all.
    let env = RunEnv::new(
        NOW_S * 1000,
        &FrozenClock,
        &e.random,
        &e.conns,
        &e.out as &dyn Outbound,
        &e.jwks,
    );
    let plain = migrate("");
    let params = json!({"username": "alice", "externalToken": legacy_token(&key, "alice")});
    let o = start_client(&plain, params.as_object().cloned().unwrap(), &env).await;
    assert_eq!(failure(&o), ("auth", "directory_unavailable"));
}

const TOKEN_VALIDATOR: &str = "legacy:\n  type: token_validator\n  url: https://legacy.example.com/check\n  valid_when: 'status == 200 && body.valid == true'\n";

#[tokio::test]
async fn custom_authentication_with_a_token_validator() {
    let j = migrate("");
    let params = json!({"username": "alice", "externalToken": "opaque"});
    let valid = Env::new(
        TOKEN_VALIDATOR,
        vec![stub("legacy", 200, json!({"valid": true}))],
        StubDirectory::with(&["alice"]),
    );
    let o = valid.start(&j, params.clone()).await;
    assert!(
        matches!(o.result, ClientResult::Success { .. }),
        "{:?}",
        o.result
    );
    let sent = valid.out.requests();
    assert_eq!(sent.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(sent[0].body.as_ref().unwrap()).unwrap();
    assert_eq!(body, json!({"user_id": "alice", "token": "opaque"}));

    let invalid = Env::new(
        TOKEN_VALIDATOR,
        vec![stub("legacy", 200, json!({"valid": false}))],
        StubDirectory::with(&["alice"]),
    );
    let o = invalid.start(&j, params.clone()).await;
    assert_eq!(failure(&o), ("auth", "invalid_token"));

    // No stub: the transport fails.
    let down = Env::new(TOKEN_VALIDATOR, vec![], StubDirectory::with(&["alice"]));
    let o = down.start(&j, params.clone()).await;
    assert_eq!(failure(&o), ("auth", "outbound_error"));
    let branch = migrate("    on_failure: failed\n");
    let o = down.start(&branch, params.clone()).await;
    assert_eq!(
        o.result,
        ClientResult::Rejected {
            data: json!("oops")
        }
    );

    // Without valid_when the connection cannot decide.
    let lax = Env::new(
        "legacy:\n  type: token_validator\n  url: https://legacy.example.com/check\n",
        vec![stub("legacy", 200, json!({}))],
        StubDirectory::with(&["alice"]),
    );
    let o = lax.start(&j, params).await;
    assert_eq!(failure(&o), ("auth", "invalid_connection"));
}

#[tokio::test]
async fn user_tokens_in_a_backend_journey() {
    let key = SigningKey::generate(Algorithm::ES256, "k1").unwrap();
    let e = Env::new(
        &jwt_connection(&key),
        vec![],
        StubDirectory::with(&["alice"]),
    );
    let j = journey(
        r#"id: exchange
type: backend_api
steps:
  - id: before
    type: set_variables
    variables:
      authed: "@policy.isUserAuthenticated()"
      early: "try @policy.userTokens() catch (e) => e.message"
  - id: auth
    type: custom_authentication
    username: "@policy.request().body.username"
    token: "@policy.request().body.token"
    validator: legacy
    amr: custom
  - id: tokens
    type: set_variables
    variables:
      t: "@policy.userTokens()"
      again: "@policy.userTokens().session_id"
  - id: ok
    type: http_complete
    status: 200
    body: "{authed: authed, early: early, t: t, again: again, user: @policy.userContext().user_id}"
"#,
    );
    let out = tessera_journey::run_backend(
        &j,
        request(json!({"username": "alice", "token": legacy_token(&key, "alice")})),
        &e.env(),
    )
    .await;
    let RunResult::Completed(r) = out.result else {
        panic!("{:?}", out.result)
    };
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["authed"], false);
    assert!(body["early"]
        .as_str()
        .unwrap()
        .contains("not_authenticated"));
    assert_eq!(body["t"]["access_token"], "at-id-alice-custom");
    assert_eq!(body["t"]["session_id"], format!("s-{NOW_S}"));
    assert_eq!(body["again"], format!("s-{NOW_S}"));
    assert_eq!(body["user"], "id-alice");
    assert_eq!(
        e.dir.issued.load(Ordering::SeqCst),
        1,
        "issued once per run"
    );

    // Before any authentication the step fails with not_authenticated.
    let j = journey(
        "id: early\ntype: backend_api\nsteps:\n  - {id: t, type: set_variables, variables: {t: '@policy.userTokens()'}}\n  - {id: ok, type: http_complete, status: 200}\n",
    );
    let out = tessera_journey::run_backend(&j, request(json!({})), &e.env()).await;
    let RunResult::Failed(f) = out.result else {
        panic!("{:?}", out.result)
    };
    assert_eq!(
        (f.step_id.as_str(), f.code.as_str()),
        ("t", "not_authenticated")
    );
}

#[test]
fn client_steps_are_refused_in_backend_journeys_and_http_complete_in_client_ones() {
    let backend = "id: b\ntype: backend_api\nsteps:\n  - {id: hi, type: information, title: x}\n  - {id: done, type: http_complete, status: 200}\n";
    let errors = check_journey(backend, Format::Yaml).unwrap_err();
    assert_eq!(errors[0].step_id.as_deref(), Some("hi"));
    assert_eq!(errors[0].field, "type");
    assert!(errors[0]
        .message
        .contains("only allowed in client journeys"));
    assert_eq!((errors[0].line, errors[0].column), (Some(4), Some(20)));

    let client = "id: c\ntype: client\nsteps:\n  - {id: done, type: http_complete, status: 200}\n";
    let errors = check_journey(client, Format::Yaml).unwrap_err();
    assert!(errors[0]
        .message
        .contains("only allowed in backend_api journeys"));

    // custom_authentication is fine in both; a client journey must end in a terminal step.
    let ok = "id: c\ntype: client\nsteps:\n  - {id: a, type: custom_authentication, username: '\"u\"', token: '\"t\"', validator: v, on_failure: r}\n  - {id: done, type: complete}\n  - {id: r, type: reject}\n";
    assert!(check_journey(ok, Format::Yaml).is_ok());
    let open = "id: c\ntype: client\nsteps:\n  - {id: a, type: information}\n";
    let errors = check_journey(open, Format::Yaml).unwrap_err();
    assert!(errors[0].message.contains("terminal step"), "{errors:?}");

    // Bad fields are placed.
    let bad = "id: c\ntype: client\nsteps:\n  - id: f\n    type: collect\n    output: v\n    fields:\n      - {name: a, type: colour}\n    branches:\n      - {id: cancel, next: done}\n  - {id: done, type: complete}\n";
    let errors = check_journey(bad, Format::Yaml).unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["fields[0].type", "branches[0].id"], "{errors:?}");
    assert_eq!(errors[0].line, Some(8));
}

#[tokio::test]
async fn step_limit_applies_per_request_and_steps_add_up() {
    let j = journey(
        "id: c\ntype: client\nsteps:\n  - {id: a, type: set_variables, variables: {x: '1'}}\n  - {id: b, type: set_variables, variables: {y: '2'}}\n  - {id: hi, type: information}\n  - {id: c2, type: set_variables, variables: {z: 'x + y'}}\n  - {id: done, type: complete, data: z}\n",
    );
    let e = Env::new("", vec![], StubDirectory::default());
    let limits = tessera_journey::RunLimits {
        max_steps: 3,
        ..Default::default()
    };
    let env = e.env().with_limits(limits);
    let o = start_client(&j, serde_json::Map::new(), &env).await;
    assert_eq!(o.state.run.steps_taken, 3);
    let submit = ClientSubmit {
        option: "client_input".into(),
        data: json!(null),
    };
    let o = submit_client(&j, round_trip(&o.state), submit, &env).await;
    assert_eq!(o.result, ClientResult::Success { data: json!(3) });
    assert_eq!(o.state.run.steps_taken, 5);

    let tight = e.env().with_limits(tessera_journey::RunLimits {
        max_steps: 2,
        ..Default::default()
    });
    let o = start_client(&j, serde_json::Map::new(), &tight).await;
    assert_eq!(failure(&o), ("hi", "limit_exceeded"));
}

#[tokio::test]
async fn test_cases_script_client_responses_with_a_stub_directory() {
    let j = journey(FORM);
    let cases = tessera_journey::parse_test_cases(
        r#"
- name: fills the form
  params: {name: Ann}
  respond:
    - {option: client_input}
    - {option: client_input, data: {email: ann@example.com, age: 3}}
  expect:
    result: success
    data: {email: ann@example.com, age: 3, seen: ann@example.com}
    path: [hello, form, done]
- name: bad input keeps the form waiting
  params: {name: Ann}
  respond:
    - {option: client_input}
    - {option: client_input, data: {email: nope}}
  expect: {result: input_required, step_id: form}
- name: cancel
  params: {name: Ann}
  respond: [{option: client_input}, {option: cancel}]
  expect: {result: rejected, data: {reason: cancelled}}
- name: a wrong expectation fails
  params: {name: Ann}
  respond: [{option: client_input}, {option: skip}, {option: client_input}]
  expect: {result: rejected}
"#,
    )
    .unwrap();
    let results: Vec<_> = {
        let mut v = Vec::new();
        for (i, c) in cases.iter().enumerate() {
            v.push(tessera_journey::run_test_case(c, &j, &format!("case {i}")).await);
        }
        v
    };
    for r in &results[..3] {
        assert!(r.passed, "{}: {:?}", r.name, r.diff);
    }
    assert!(!results[3].passed);
    assert_eq!(
        results[3].diff,
        [
            "respond: 1 scripted response(s) left unused (the run ended)",
            "result: expected rejected, got success"
        ]
    );

    // custom_authentication against listed users, with a stubbed token validator.
    let migrate = migrate(
        "    create_user_if_missing: false\n    amr: '${@policy.request().params?.amr ?? \"\"}'\n",
    );
    let cases = tessera_journey::parse_test_cases(
        r#"
- params: {username: alice, externalToken: t, amr: legacy.pwd}
  users: [{username: Alice, user_id: u1, email: a@example.com}]
  connections:
    legacy: {type: token_validator, url: "https://legacy.example.com", valid_when: "body.ok == true"}
  stubs: [{connection: legacy, body: {ok: true}}]
  expect: {result: success, user_id: u1, methods: [legacy.pwd]}
- params: {username: bob, externalToken: t}
  users: [{username: alice}]
  connections:
    legacy: {type: token_validator, url: "https://legacy.example.com", valid_when: "body.ok == true"}
  stubs: [{connection: legacy, body: {ok: true}}]
  expect: {result: failed, error_code: user_not_found}
"#,
    )
    .unwrap();
    for c in &cases {
        let r = tessera_journey::run_test_case(c, &migrate, "c").await;
        assert!(r.passed, "{:?}", r.diff);
    }
}
