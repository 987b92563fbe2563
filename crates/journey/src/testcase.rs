//! Journey test cases (`*.tests/*.yaml`): a request, a clock, connections, canned outbound
//! responses (stubs) and the expected answer. [`run_test_case`] is pure apart from the stubbed
//! outbound port; reading files is the CLI's job.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Deserialize;
use serde_json::Value as Json;
use tessera_expr::{compile, eval_sync, BoxFuture, Context, NoHost, SeededRandom, Value};

use crate::client::{
    start_client, submit_client, ClientResult, ClientSubmit, Directory, DirectoryError, NewUser,
    PasscodeChannel, RunUser, UserInfo, UserRef,
};
use crate::clock::FrozenClock;
use crate::compile::CompiledJourney;
use crate::connection::connections_from_value;
use crate::definition::JourneyType;
use crate::exec::{run_backend, RunEnv, RunRequest, RunResult};
use crate::jwks::JwksCache;
use crate::outbound::{
    Outbound, OutboundError, OutboundErrorKind, OutboundRequest, OutboundResponse,
};
use crate::yaml;

/// One test case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// Case name (defaults to the file name and index).
    #[serde(default)]
    pub name: Option<String>,
    /// Journey file, relative to the case file (default: `<dir>.yaml` next to `<dir>.tests/`).
    #[serde(default)]
    pub journey: Option<String>,
    /// The run clock, RFC 3339 (default 2023-11-14T22:13:20Z).
    #[serde(default)]
    pub now: Option<String>,
    /// The invoking request (backend journeys).
    #[serde(default)]
    pub request: RunRequest,
    /// Client journeys: the `additionalParams` the run starts with.
    #[serde(default)]
    pub params: serde_json::Map<String, Json>,
    /// Client journeys: the client's scripted answers to the waiting steps, in order.
    #[serde(default)]
    pub respond: Vec<TestResponse>,
    /// Users of the stub directory (`custom_authentication`, `@policy.userTokens()`).
    #[serde(default)]
    pub users: Vec<TestUser>,
    /// Connection definitions by name.
    #[serde(default)]
    pub connections: serde_json::Map<String, Json>,
    /// Canned outbound responses; a call without a stub fails.
    #[serde(default)]
    pub stubs: Vec<StubResponse>,
    /// What must come out.
    pub expect: TestExpect,
}

/// A scripted client answer: `{option, data}`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TestResponse {
    /// Option id (`client_input`, `cancel`, a branch id).
    pub option: String,
    /// Submitted data.
    #[serde(default)]
    pub data: Json,
}

/// A user of a test case's stub directory.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TestUser {
    /// Username (matched case-insensitively).
    pub username: String,
    /// User id (default `user-<username>`).
    #[serde(default)]
    pub user_id: Option<String>,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// A disabled user: finding it is a `user_not_active` error.
    #[serde(default)]
    pub disabled: bool,
    /// Phone number (`sms_otp_authentication`, `get_user`).
    #[serde(default)]
    pub phone_number: Option<String>,
    /// The password `password_authentication` accepts (none: every password is wrong).
    #[serde(default)]
    pub password: Option<String>,
    /// The passcode the OTP steps "send" and accept.
    #[serde(default)]
    pub passcode: Option<String>,
    /// Locked out: password and passcode checks answer `auth_locked`.
    #[serde(default)]
    pub locked: bool,
}

/// A canned response, matched by connection name or exact URL.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StubResponse {
    /// Matches calls made by this connection.
    #[serde(default)]
    pub connection: Option<String>,
    /// Matches calls to exactly this URL (JWKS fetches have no connection).
    #[serde(default)]
    pub url: Option<String>,
    /// Status (default 200).
    #[serde(default = "default_status")]
    pub status: u16,
    /// Response headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A string is sent as is; anything else as JSON; absent = empty body.
    #[serde(default)]
    pub body: Option<Json>,
}

fn default_status() -> u16 {
    200
}

/// Expectations; only the members given are checked.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestExpect {
    /// HTTP status (500 for a failed run).
    #[serde(default)]
    pub status: Option<u16>,
    /// Headers that must be present with these values (names case-insensitive).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Exact body: a string compares as text, anything else as JSON.
    #[serde(default)]
    pub body: Option<Json>,
    /// Visited step ids in order.
    #[serde(default)]
    pub path: Option<Vec<String>>,
    /// Failure code of a failed run (`journey_failed` answers).
    #[serde(default)]
    pub error_code: Option<String>,
    /// Client journeys: `success`, `rejected`, `input_required` or `failed`.
    #[serde(default)]
    pub result: Option<String>,
    /// Client journeys: the final data (of `complete`/`reject`, or of the waiting step).
    #[serde(default)]
    pub data: Option<Json>,
    /// Client journeys: the step waiting at the end.
    #[serde(default)]
    pub step_id: Option<String>,
    /// The authenticated user's id at the end (client journeys).
    #[serde(default)]
    pub user_id: Option<String>,
    /// The run's amr values at the end (client journeys).
    #[serde(default)]
    pub methods: Option<Vec<String>>,
}

/// The result of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    /// Case name.
    pub name: String,
    /// Whether every expectation held.
    pub passed: bool,
    /// One line per mismatch.
    pub diff: Vec<String>,
    /// Visited step ids.
    pub path: Vec<String>,
}

/// Parses a case file: one case (a mapping) or a list of cases.
pub fn parse_test_cases(text: &str) -> Result<Vec<TestCase>, String> {
    let value = yaml::load_yaml(text)?;
    let items = match value {
        Json::Array(items) => items,
        other => vec![other],
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| serde_json::from_value(v).map_err(|e| format!("case {i}: {e}")))
        .collect()
}

/// Parses an RFC 3339 date-time into epoch milliseconds.
pub fn parse_rfc3339_ms(text: &str) -> Result<i64, String> {
    let program = compile("@time.parseISO(t)").map_err(|e| e.to_string())?;
    let mut scope = indexmap::IndexMap::<String, Value>::new();
    scope.insert("t".into(), Value::from(text));
    let random = SeededRandom::new(0);
    let ctx = Context::new(0, &random, &NoHost);
    match eval_sync(&program, &scope, &ctx) {
        Ok(Value::Number(n)) if n.is_finite() => Ok(n as i64),
        _ => Err("not an RFC 3339 date-time".to_string()),
    }
}

/// Runs one case against a compiled journey with stubbed outbound calls.
pub async fn run_test_case(case: &TestCase, journey: &CompiledJourney, name: &str) -> CaseResult {
    let name = case.name.clone().unwrap_or_else(|| name.to_string());
    let mut diff = Vec::new();
    let now_ms = match case.now.as_deref().map(parse_rfc3339_ms) {
        None => 1_700_000_000_000,
        Some(Ok(ms)) => ms,
        Some(Err(e)) => return failed(name, vec![format!("now: {e}")]),
    };
    let connections = match connections_from_value(&Json::Object(case.connections.clone())) {
        Ok(c) => c,
        Err(errors) => {
            return failed(
                name,
                errors.iter().map(|e| format!("connections: {e}")).collect(),
            );
        }
    };
    let outbound = StubOutbound::new(case.stubs.clone());
    let random = SeededRandom::new(1);
    let jwks = JwksCache::new();
    let directory = StubDirectory::new(&case.users);
    // A frozen clock: a case's outcome never depends on the machine's speed; the count-based
    // limits still bound every run.
    let env = RunEnv::new(
        now_ms,
        &FrozenClock,
        &random,
        &connections,
        &outbound,
        &jwks,
    )
    .with_directory(&directory);
    if journey.journey_type == JourneyType::Client {
        return run_client_case(case, journey, name, &env).await;
    }
    if !case.respond.is_empty() {
        diff.push("respond: only client journeys take scripted responses".into());
    }
    let outcome = run_backend(journey, case.request.clone(), &env).await;
    let path: Vec<String> = outcome
        .trace
        .path()
        .into_iter()
        .map(str::to_string)
        .collect();
    let expect = &case.expect;
    match &outcome.result {
        RunResult::Completed(response) => {
            if let Some(s) = expect.status {
                if s != response.status {
                    diff.push(format!("status: expected {s}, got {}", response.status));
                }
            }
            for (k, v) in &expect.headers {
                match response.header(k) {
                    Some(got) if got == v => {}
                    Some(got) => diff.push(format!("header {k}: expected {v:?}, got {got:?}")),
                    None => diff.push(format!("header {k}: expected {v:?}, missing")),
                }
            }
            if let Some(body) = &expect.body {
                check_body(body, &response.body, &mut diff);
            }
            if let Some(code) = &expect.error_code {
                diff.push(format!(
                    "error_code: expected {code}, but the run completed"
                ));
            }
        }
        RunResult::Failed(f) => {
            if expect.status.is_some_and(|s| s != 500) || expect.error_code.is_none() {
                diff.push(format!(
                    "run failed at step `{}`: {}: {}",
                    f.step_id, f.code, f.message
                ));
            }
            if let Some(code) = &expect.error_code {
                if *code != f.code {
                    diff.push(format!("error_code: expected {code}, got {}", f.code));
                }
            }
        }
    }
    verdict(name, diff, path, expect.path.as_deref())
}

/// A client case: start with `params`, answer each waiting step with the next scripted
/// response, then compare the final result. The path lists executed steps (not submits).
async fn run_client_case(
    case: &TestCase,
    journey: &CompiledJourney,
    name: String,
    env: &RunEnv<'_>,
) -> CaseResult {
    let mut diff = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut record = |trace: &crate::trace::Trace| {
        path.extend(
            trace
                .steps
                .iter()
                .filter(|s| !s.decision.starts_with("submit:"))
                .map(|s| s.step_id.clone()),
        );
    };
    let mut outcome = start_client(journey, case.params.clone(), env).await;
    record(&outcome.trace);
    let mut responses = case.respond.iter();
    while let ClientResult::InputRequired { .. } = outcome.result {
        let Some(answer) = responses.next() else {
            break;
        };
        let submit = ClientSubmit {
            option: answer.option.clone(),
            data: answer.data.clone(),
        };
        outcome = submit_client(journey, outcome.state, submit, env).await;
        record(&outcome.trace);
    }
    let unused = responses.count();
    if unused > 0 {
        diff.push(format!(
            "respond: {unused} scripted response(s) left unused (the run ended)"
        ));
    }
    let expect = &case.expect;
    if expect.status.is_some() || !expect.headers.is_empty() || expect.body.is_some() {
        diff.push("status/headers/body apply to backend journeys; use result/data".into());
    }
    let (kind, data, step, code) = match &outcome.result {
        ClientResult::Success { data } => ("success", Some(data), None, None),
        ClientResult::Rejected { data } => ("rejected", Some(data), None, None),
        ClientResult::InputRequired { step_id, data, .. } => {
            ("input_required", Some(data), Some(step_id), None)
        }
        ClientResult::Failed(f) => ("failed", None, None, Some(f)),
    };
    match (&expect.result, code) {
        (Some(r), _) if r != kind => {
            let detail = code
                .map(|f| format!(" at step `{}`: {}: {}", f.step_id, f.code, f.message))
                .unwrap_or_default();
            diff.push(format!("result: expected {r}, got {kind}{detail}"));
        }
        (None, Some(f)) if expect.error_code.is_none() => diff.push(format!(
            "run failed at step `{}`: {}: {}",
            f.step_id, f.code, f.message
        )),
        _ => {}
    }
    if let Some(c) = &expect.error_code {
        match code {
            Some(f) if f.code == *c => {}
            Some(f) => diff.push(format!("error_code: expected {c}, got {}", f.code)),
            None => diff.push(format!(
                "error_code: expected {c}, but the run ended {kind}"
            )),
        }
    }
    if let Some(want) = &expect.data {
        match data {
            Some(got) if got == want => {}
            Some(got) => diff.push(format!("data: expected {want}, got {got}")),
            None => diff.push(format!("data: expected {want}, but the run failed")),
        }
    }
    if let Some(want) = &expect.step_id {
        if step != Some(want) {
            diff.push(format!(
                "step_id: expected {want}, got {}",
                step.map_or("none", String::as_str)
            ));
        }
    }
    let state = &outcome.state;
    if let Some(want) = &expect.user_id {
        let got = state.user.as_ref().map(|u| u.user_id.as_str());
        if got != Some(want.as_str()) {
            diff.push(format!(
                "user_id: expected {want}, got {}",
                got.unwrap_or("none")
            ));
        }
    }
    if let Some(want) = &expect.methods {
        if *want != state.methods {
            diff.push(format!(
                "methods: expected [{}], got [{}]",
                want.join(", "),
                state.methods.join(", ")
            ));
        }
    }
    verdict(name, diff, path, expect.path.as_deref())
}

/// The directory of a test case: its listed users; created users are remembered for the
/// case; tokens are fixed fake values naming the user and methods; passwords and passcodes
/// are the users' scripted ones (a passcode is "sent" by doing nothing).
struct StubDirectory {
    users: Mutex<Vec<TestUser>>,
}

fn stub_error(code: &str, message: &str) -> DirectoryError {
    DirectoryError {
        code: code.into(),
        message: message.into(),
    }
}

impl TestUser {
    fn id(&self) -> String {
        self.user_id
            .clone()
            .unwrap_or_else(|| format!("user-{}", self.username))
    }

    fn run_user(&self) -> RunUser {
        RunUser {
            user_id: self.id(),
            username: Some(self.username.clone()),
            email: self.email.clone(),
        }
    }

    fn info(&self) -> UserInfo {
        UserInfo {
            user_id: self.id(),
            username: Some(self.username.clone()),
            email: self.email.clone(),
            phone_number: self.phone_number.clone(),
        }
    }
}

impl StubDirectory {
    fn new(users: &[TestUser]) -> Self {
        StubDirectory {
            users: Mutex::new(users.to_vec()),
        }
    }

    fn by_name(&self, username: &str) -> Option<TestUser> {
        self.users.lock().ok().and_then(|users| {
            users
                .iter()
                .find(|u| u.username.to_lowercase() == username.to_lowercase())
                .cloned()
        })
    }

    fn by_id(&self, user_id: &str) -> Option<TestUser> {
        self.users
            .lock()
            .ok()
            .and_then(|users| users.iter().find(|u| u.id() == user_id).cloned())
    }
}

impl Directory for StubDirectory {
    fn find_user<'a>(
        &'a self,
        username: &'a str,
    ) -> BoxFuture<'a, Result<Option<RunUser>, DirectoryError>> {
        let found = self.by_name(username);
        Box::pin(async move {
            match found {
                Some(u) if u.disabled => {
                    Err(stub_error("user_not_active", "the user is not active"))
                }
                Some(u) => Ok(Some(u.run_user())),
                None => Ok(None),
            }
        })
    }

    fn create_user<'a>(
        &'a self,
        username: &'a str,
    ) -> BoxFuture<'a, Result<RunUser, DirectoryError>> {
        let user = TestUser {
            username: username.to_string(),
            ..TestUser::default()
        };
        let run_user = user.run_user();
        if let Ok(mut users) = self.users.lock() {
            users.push(user);
        }
        Box::pin(async move { Ok(run_user) })
    }

    fn issue_tokens<'a>(
        &'a self,
        user: &'a RunUser,
        methods: &'a [String],
        auth_time: i64,
    ) -> BoxFuture<'a, Result<Json, DirectoryError>> {
        let tokens = serde_json::json!({
            "access_token": format!("test-access-token:{}:{}", user.user_id, methods.join(" ")),
            "id_token": format!("test-id-token:{}", user.user_id),
            "refresh_token": format!("test-refresh-token:{}", user.user_id),
            "session_id": format!("test-session:{auth_time}"),
        });
        Box::pin(async move { Ok(tokens) })
    }

    fn authenticate_password<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, Result<RunUser, DirectoryError>> {
        let found = self.by_name(username);
        Box::pin(async move {
            let wrong = || {
                stub_error(
                    "invalid_credentials",
                    "the username or password is incorrect",
                )
            };
            let user = found.ok_or_else(wrong)?;
            if user.locked {
                return Err(stub_error("auth_locked", "too many failed attempts"));
            }
            if user.password.as_deref() != Some(password) {
                return Err(wrong());
            }
            if user.disabled {
                return Err(stub_error("user_not_active", "the user is not active"));
            }
            Ok(user.run_user())
        })
    }

    fn send_passcode<'a>(
        &'a self,
        user_id: &'a str,
        channel: PasscodeChannel,
    ) -> BoxFuture<'a, Result<String, DirectoryError>> {
        let found = self.by_id(user_id);
        Box::pin(async move {
            let user = found.ok_or_else(|| stub_error("user_not_found", "no such user"))?;
            match channel {
                PasscodeChannel::Email => user.email.ok_or_else(|| {
                    stub_error("user_email_address_missing", "the user has no email")
                }),
                PasscodeChannel::Sms => user.phone_number.ok_or_else(|| {
                    stub_error("user_phone_number_missing", "the user has no phone number")
                }),
            }
        })
    }

    fn verify_passcode<'a>(
        &'a self,
        user_id: &'a str,
        _channel: PasscodeChannel,
        passcode: &'a str,
    ) -> BoxFuture<'a, Result<RunUser, DirectoryError>> {
        let found = self.by_id(user_id);
        Box::pin(async move {
            let user = found.ok_or_else(|| stub_error("user_not_found", "no such user"))?;
            if user.locked {
                return Err(stub_error("auth_locked", "too many failed attempts"));
            }
            if user.passcode.as_deref() != Some(passcode) {
                return Err(stub_error(
                    "invalid_credentials",
                    "the passcode is incorrect",
                ));
            }
            Ok(user.run_user())
        })
    }

    fn get_user<'a>(
        &'a self,
        user: UserRef<'a>,
    ) -> BoxFuture<'a, Result<Option<UserInfo>, DirectoryError>> {
        let found = match user {
            UserRef::Username(name) => self.by_name(name),
            UserRef::UserId(id) => self.by_id(id),
        };
        Box::pin(async move { Ok(found.map(|u| u.info())) })
    }

    fn create_user_with<'a>(
        &'a self,
        new: &'a NewUser,
    ) -> BoxFuture<'a, Result<UserInfo, DirectoryError>> {
        let result = (|| {
            let mut users = self
                .users
                .lock()
                .map_err(|_| stub_error("internal_error", "poisoned"))?;
            let username = new
                .username
                .clone()
                .or_else(|| new.email.clone())
                .or_else(|| new.phone_number.clone())
                .unwrap_or_default();
            let taken = users.iter().any(|u| {
                u.username.to_lowercase() == username.to_lowercase()
                    || (new.email.is_some() && u.email == new.email)
                    || (new.phone_number.is_some() && u.phone_number == new.phone_number)
            });
            if taken {
                return Err(stub_error(
                    "user_already_exists",
                    "a user with these identifiers already exists",
                ));
            }
            let user = TestUser {
                username,
                email: new.email.clone(),
                phone_number: new.phone_number.clone(),
                ..TestUser::default()
            };
            let info = user.info();
            users.push(user);
            Ok(info)
        })();
        Box::pin(async move { result })
    }
}

fn failed(name: String, diff: Vec<String>) -> CaseResult {
    CaseResult {
        name,
        passed: false,
        diff,
        path: Vec::new(),
    }
}

fn check_body(expected: &Json, actual: &str, diff: &mut Vec<String>) {
    match expected {
        Json::String(text) => {
            if text != actual {
                diff.push(format!("body: expected {text:?}, got {actual:?}"));
            }
        }
        other => match serde_json::from_str::<Json>(actual) {
            Ok(got) if got == *other => {}
            Ok(got) => diff.push(format!("body: expected {other}, got {got}")),
            Err(_) => diff.push(format!("body: expected JSON {other}, got {actual:?}")),
        },
    }
}

/// An [`Outbound`] answering from stubs and recording every request.
#[derive(Debug, Default)]
pub struct StubOutbound {
    stubs: Vec<StubResponse>,
    requests: Mutex<Vec<OutboundRequest>>,
}

impl StubOutbound {
    /// A stub outbound with these canned responses.
    pub fn new(stubs: Vec<StubResponse>) -> Self {
        StubOutbound {
            stubs,
            requests: Mutex::new(Vec::new()),
        }
    }

    /// Every request sent so far.
    pub fn requests(&self) -> Vec<OutboundRequest> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    fn answer(&self, request: &OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        let stub = self.stubs.iter().find(|s| {
            s.url.as_deref() == Some(request.url.as_str())
                || (s.connection.is_some() && s.connection == request.connection)
        });
        let Some(stub) = stub else {
            let what = match &request.connection {
                Some(c) => format!("connection `{c}`"),
                None => "this URL".to_string(),
            };
            return Err(OutboundError::new(
                OutboundErrorKind::NoStub,
                format!("no stub for {what}"),
            ));
        };
        let body = match &stub.body {
            None => Vec::new(),
            Some(Json::String(s)) => s.clone().into_bytes(),
            Some(other) => other.to_string().into_bytes(),
        };
        Ok(OutboundResponse {
            status: stub.status,
            headers: stub
                .headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                .collect(),
            body,
        })
    }
}

impl Outbound for StubOutbound {
    fn send<'a>(
        &'a self,
        request: OutboundRequest,
    ) -> BoxFuture<'a, Result<OutboundResponse, OutboundError>> {
        let answer = self.answer(&request);
        if let Ok(mut r) = self.requests.lock() {
            r.push(request);
        }
        Box::pin(async move { answer })
    }
}

/// A case's result: the differences found, plus the step path's if one was expected.
fn verdict(
    name: String,
    mut diff: Vec<String>,
    path: Vec<String>,
    expected_path: Option<&[String]>,
) -> CaseResult {
    if let Some(p) = expected_path {
        if p != path.as_slice() {
            diff.push(format!(
                "path: expected [{}], got [{}]",
                p.join(", "),
                path.join(", ")
            ));
        }
    }
    CaseResult {
        name,
        passed: diff.is_empty(),
        diff,
        path,
    }
}
