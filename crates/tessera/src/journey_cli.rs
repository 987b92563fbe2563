//! `tessera journey …`: offline tools for journey authors — `check` (validate and warn), `run`
//! (one request through the real outbound client), `test` (run `*.tests/` cases) and `apply`
//! (upload definitions to a server with an admin client's token).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _, Result};
use clap::Subcommand;
use tessera_journey::{
    check_journey, parse_connections, parse_rfc3339_ms, parse_test_cases, run_backend,
    run_test_case, Connection, Format, JwksCache, RunEnv, RunRequest, RunResult, SeededRandom,
    ValidationError,
};
use tessera_outbound::{HttpOutbound, IpNet, OutboundConfig};

/// The monotonic clock the run's time budget is measured with.
struct MonotonicRunClock(std::time::Instant);

impl tessera_journey::RunClock for MonotonicRunClock {
    fn monotonic(&self) -> std::time::Duration {
        self.0.elapsed()
    }
}

/// The `journey` subcommands.
#[derive(Debug, Subcommand)]
pub enum JourneyCommand {
    /// Validate journey files; print errors and warnings as FILE:LINE:COLUMN: message.
    Check {
        /// Journey definition files (YAML or JSON).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run a journey once, offline, with the real outbound client.
    Run {
        /// Journey definition file.
        file: PathBuf,
        /// JSON file with the request: {method, path, params, headers, body}.
        #[arg(long)]
        request: PathBuf,
        /// The run clock (RFC 3339); default: now.
        #[arg(long)]
        now: Option<String>,
        /// Connections file (YAML or JSON mapping of name to definition).
        #[arg(long)]
        connections: Option<PathBuf>,
        /// CIDR ranges exempt from the outbound special-purpose address check (repeatable).
        #[arg(long = "allow-cidr")]
        allow_cidr: Vec<String>,
    },
    /// Run the test cases in every `*.tests/` directory under DIR.
    Test {
        /// Directory to search.
        dir: PathBuf,
    },
    /// Upload journey files to a server (PUT /ido/api/v2/journeys/{id}).
    Apply {
        /// Journey definition files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Server base URL, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        server: String,
        /// Admin client id.
        #[arg(long)]
        client_id: String,
        /// Admin client secret.
        #[arg(long, env = "TESSERA_ADMIN_CLIENT_SECRET", hide_env_values = true)]
        client_secret: String,
    },
}

/// Runs a `journey` subcommand; an `Err` means exit status 1.
pub async fn run(command: JourneyCommand) -> Result<()> {
    match command {
        JourneyCommand::Check { files } => check(&files),
        JourneyCommand::Run {
            file,
            request,
            now,
            connections,
            allow_cidr,
        } => {
            run_once(
                &file,
                &request,
                now.as_deref(),
                connections.as_deref(),
                &allow_cidr,
            )
            .await
        }
        JourneyCommand::Test { dir } => test(&dir).await,
        JourneyCommand::Apply {
            files,
            server,
            client_id,
            client_secret,
        } => apply(&files, &server, &client_id, &client_secret).await,
    }
}

fn format_of(path: &Path) -> Format {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => Format::Json,
        Some("yaml" | "yml") => Format::Yaml,
        _ => Format::Auto,
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// A finding as editors and terminals link it: `FILE:LINE:COLUMN: …` when the position is
/// known (the finding's `Display` starts with `LINE:COLUMN: `), else `FILE: …`.
fn finding_line(file: &Path, positioned: bool, finding: &dyn std::fmt::Display) -> String {
    if positioned {
        format!("{}:{finding}", file.display())
    } else {
        format!("{}: {finding}", file.display())
    }
}

fn error_lines(file: &Path, errors: &[ValidationError]) -> Vec<String> {
    errors
        .iter()
        .map(|e| finding_line(file, e.line.is_some() && e.column.is_some(), e))
        .collect()
}

/// Connection errors name the connection where journey errors name the step.
fn connection_error_lines(file: &Path, errors: &[ValidationError]) -> Vec<String> {
    errors
        .iter()
        .map(|e| {
            let positioned = e.line.is_some() && e.column.is_some();
            finding_line(file, positioned, &e.describe("connection"))
        })
        .collect()
}

fn check(files: &[PathBuf]) -> Result<()> {
    let mut failed = 0;
    for file in files {
        let text = read(file)?;
        match check_journey(&text, format_of(file)) {
            Ok(checked) => {
                for w in &checked.warnings {
                    let positioned = w.line.is_some() && w.column.is_some();
                    println!("{}", finding_line(file, positioned, w));
                }
                let steps = checked.journey.steps.len();
                println!("{}: ok ({steps} steps)", file.display());
            }
            Err(errors) => {
                failed += 1;
                for line in error_lines(file, &errors) {
                    println!("{line}");
                }
            }
        }
    }
    if failed > 0 {
        bail!("{failed} file(s) with errors");
    }
    Ok(())
}

fn load_connections(path: Option<&Path>) -> Result<indexmap::IndexMap<String, Arc<Connection>>> {
    let Some(path) = path else {
        return Ok(indexmap::IndexMap::new());
    };
    parse_connections(&read(path)?, format_of(path)).map_err(|errors| {
        anyhow!(
            "invalid connections:\n{}",
            connection_error_lines(path, &errors).join("\n")
        )
    })
}

async fn run_once(
    file: &Path,
    request: &Path,
    now: Option<&str>,
    connections: Option<&Path>,
    allow_cidr: &[String],
) -> Result<()> {
    let checked = check_journey(&read(file)?, format_of(file)).map_err(|errors| {
        anyhow!(
            "invalid journey:\n{}",
            error_lines(file, &errors).join("\n")
        )
    })?;
    let request: RunRequest =
        serde_json::from_str(&read(request)?).context("parsing the request JSON")?;
    let now_ms = match now {
        Some(t) => parse_rfc3339_ms(t).map_err(|e| anyhow!("--now: {e}"))?,
        None => now_from_system(),
    };
    let connections = load_connections(connections)?;
    let allow_cidrs = allow_cidr
        .iter()
        .map(|c| {
            c.parse::<IpNet>()
                .map_err(|_| anyhow!("--allow-cidr: invalid CIDR {c:?}"))
        })
        .collect::<Result<Vec<_>>>()?;
    let outbound = HttpOutbound::new(OutboundConfig {
        allow_cidrs,
        ..OutboundConfig::default()
    })?;
    let random = SeededRandom::new(u64::try_from(now_ms).unwrap_or(0));
    let jwks = JwksCache::new();
    let clock = MonotonicRunClock(std::time::Instant::now());
    let env = RunEnv::new(now_ms, &clock, &random, &connections, &outbound, &jwks);
    let outcome = run_backend(&checked.journey, request, &env).await;
    let path = outcome.trace.path().join(" -> ");
    match outcome.result {
        RunResult::Completed(response) => {
            println!("HTTP/1.1 {}", response.status);
            for (k, v) in &response.headers {
                println!("{k}: {v}");
            }
            println!();
            println!("{}", response.body);
            println!("path: {path}");
            Ok(())
        }
        RunResult::Failed(f) => {
            println!("path: {path}");
            bail!(
                "journey failed at step `{}`: {}: {}",
                f.step_id,
                f.code,
                f.message
            )
        }
    }
}

/// The wall clock, read only here at the CLI edge (`journey run` without `--now`).
#[allow(clippy::disallowed_methods)]
fn now_from_system() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Every `*.yaml`/`*.yml` file inside a directory named `*.tests`, under `dir`.
fn find_cases(dir: &Path, inside_tests: bool, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            let is_tests = path.extension().and_then(|e| e.to_str()) == Some("tests");
            find_cases(&path, is_tests, out)?;
        } else if inside_tests
            && matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            )
        {
            out.push(path);
        }
    }
    Ok(())
}

/// The journey next to `x.tests/`: `x.yaml`, `x.yml` or `x.json`.
fn default_journey(case_file: &Path) -> Option<PathBuf> {
    let dir = case_file.parent()?;
    let stem = dir.file_stem()?.to_str()?;
    let parent = dir.parent()?;
    ["yaml", "yml", "json"]
        .iter()
        .map(|ext| parent.join(format!("{stem}.{ext}")))
        .find(|p| p.is_file())
}

async fn test(dir: &Path) -> Result<()> {
    let mut files = Vec::new();
    let is_tests = dir.extension().and_then(|e| e.to_str()) == Some("tests");
    find_cases(dir, is_tests, &mut files)?;
    let (mut passed, mut failed) = (0usize, 0usize);
    for file in files {
        let text = read(&file)?;
        let cases = match parse_test_cases(&text) {
            Ok(c) => c,
            Err(e) => {
                println!("FAIL {}: {e}", file.display());
                failed += 1;
                continue;
            }
        };
        for (i, case) in cases.iter().enumerate() {
            let label = format!("{}#{}", file.display(), i + 1);
            let journey_path = match &case.journey {
                Some(j) => file.parent().map(|p| p.join(j)),
                None => default_journey(&file),
            };
            let Some(journey_path) = journey_path else {
                println!("FAIL {label}: no journey file (set `journey:`)");
                failed += 1;
                continue;
            };
            let checked =
                match read(&journey_path).map(|t| check_journey(&t, format_of(&journey_path))) {
                    Ok(Ok(c)) => c,
                    Ok(Err(errors)) => {
                        println!("FAIL {label}: invalid journey {}", journey_path.display());
                        for line in error_lines(&journey_path, &errors) {
                            println!("    {line}");
                        }
                        failed += 1;
                        continue;
                    }
                    Err(e) => {
                        println!("FAIL {label}: {e:#}");
                        failed += 1;
                        continue;
                    }
                };
            let result = run_test_case(case, &checked.journey, &label).await;
            if result.passed {
                passed += 1;
                println!("ok   {}", result.name);
            } else {
                failed += 1;
                println!("FAIL {}", result.name);
                for line in &result.diff {
                    println!("    {line}");
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        bail!("{failed} test case(s) failed");
    }
    Ok(())
}

async fn apply(
    files: &[PathBuf],
    server: &str,
    client_id: &str,
    client_secret: &str,
) -> Result<()> {
    let server = server.trim_end_matches('/');
    let client = reqwest::Client::builder().build()?;
    let token_response = client
        .post(format!("{server}/oidc/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", client_secret),
        ])
        .send()
        .await
        .context("requesting an admin token")?;
    let status = token_response.status();
    let token_body: serde_json::Value = token_response.json().await.unwrap_or_default();
    let Some(token) = token_body.get("access_token").and_then(|t| t.as_str()) else {
        bail!("token request failed with status {status}: {token_body}");
    };
    let mut failures = 0;
    for file in files {
        let text = read(file)?;
        let id = match check_journey(&text, format_of(file)) {
            Ok(c) => c.journey.id,
            // Let the server report validation errors in its own words.
            Err(_) => tessera_journey::parse_definition(&text, format_of(file))
                .map(|d| d.id)
                .map_err(|_| anyhow!("{}: cannot read the journey id", file.display()))?,
        };
        let content_type = match format_of(file) {
            Format::Json => "application/json",
            _ => "application/yaml",
        };
        let response = client
            .put(format!("{server}/ido/api/v2/journeys/{id}"))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(text)
            .send()
            .await
            .with_context(|| format!("uploading {}", file.display()))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        println!("{}: {status} {body}", file.display());
        if !status.is_success() {
            failures += 1;
        }
    }
    if failures > 0 {
        bail!("{failures} upload(s) failed");
    }
    Ok(())
}
