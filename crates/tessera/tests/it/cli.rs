//! The journey CLI on the shipped example: `journey check` and `journey test` through the
//! real binary, as CI and users run them.

use std::process::Command;

fn tessera(args: &[&str]) -> (bool, String) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .current_dir(root)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn example_journey_tests_pass_through_the_cli() {
    let (ok, text) = tessera(&["journey", "test", "examples/journeys"]);
    assert!(ok, "{text}");
    let last = text.lines().rev().find(|l| l.contains("passed")).unwrap();
    assert!(last.ends_with(" 0 failed"), "{text}");
    assert!(!last.starts_with("0 passed"), "{text}");
}

/// The built-in login journeys of the hosted login page pass `journey check` (without
/// warnings) and their test cases.
#[test]
fn builtin_login_journeys_check_and_pass_their_tests() {
    let dir = "crates/identity/src/builtin_journeys";
    let (ok, text) = tessera(&[
        "journey",
        "check",
        &format!("{dir}/tessera-login-password.yaml"),
        &format!("{dir}/tessera-login-email-otp.yaml"),
    ]);
    assert!(ok, "{text}");
    assert!(!text.contains("warning"), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.contains(": ok (")).count(),
        2,
        "{text}"
    );
    let (ok, text) = tessera(&["journey", "test", dir]);
    assert!(ok, "{text}");
    let last = text.lines().rev().find(|l| l.contains("passed")).unwrap();
    assert!(last.ends_with(" 0 failed"), "{text}");
    let passed: usize = last.split(' ').next().unwrap().parse().unwrap();
    assert!(passed >= 14, "{text}");
}

#[test]
fn journey_check_accepts_the_example_and_refuses_a_broken_file() {
    let (ok, text) = tessera(&[
        "journey",
        "check",
        "examples/journeys/validate-transaction.yaml",
    ]);
    assert!(ok, "{text}");
    // Warnings name the file position of the expression, as editors link it.
    assert!(
        text.lines().any(|l| l.starts_with(
            "examples/journeys/validate-transaction.yaml:22:17: warning: step `check_mfa`, field `expression`: this decision rests on @crypto.extractTokenClaims"
        ) && l.ends_with(" [unverified_token_decision]")),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "id: broken\ntype: backend_api\nsteps:\n  - {id: a, type: condition, expression: \"1 +\", on_true: b, on_false: b}\n  - {id: b, type: http_complete, status: 200}\n").unwrap();
    let (ok, text) = tessera(&["journey", "check", broken.to_str().unwrap()]);
    assert!(!ok, "{text}");
    let prefix = format!("{}:4:", broken.display());
    assert!(
        text.lines()
            .any(|l| l.starts_with(&prefix) && l.contains(": step `a`, field `expression`: ")),
        "{text}"
    );
}

#[test]
fn journey_check_prints_file_line_column_inside_multi_line_expressions() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("check.yaml");
    std::fs::write(
        &file,
        "id: broken\ntype: backend_api\nsteps:\n  - id: check\n    type: condition\n    expression: |\n      @std.len(x) > 0 &&\n        1 + * 2\n    on_true: done\n    on_false: nowhere\n  - {id: done, type: http_complete, status: 200}\n",
    )
    .unwrap();
    let (ok, text) = tessera(&["journey", "check", file.to_str().unwrap()]);
    assert!(!ok, "{text}");
    let name = file.display();
    let lines: Vec<&str> = text.lines().collect();
    // The `*` on line 8, column 13 of the file (line 2, column 7 of the expression).
    let expression = format!("{name}:8:13: step `check`, field `expression`: ");
    assert!(lines.iter().any(|l| l.starts_with(&expression)), "{text}");
    let target = format!(
        "{name}:10:15: step `check`, field `on_false`: target step `nowhere` does not exist"
    );
    assert!(lines.contains(&target.as_str()), "{text}");

    // JSON sources too.
    let json = dir.path().join("check.json");
    std::fs::write(
        &json,
        "{\"id\": \"broken\", \"type\": \"backend_api\", \"steps\": [\n  {\"id\": \"a\", \"type\": \"condition\",\n   \"expression\": \"\\\"\\u00e9\\\" == * 1\", \"on_true\": \"b\", \"on_false\": \"b\"},\n  {\"id\": \"b\", \"type\": \"http_complete\", \"status\": 200}]}\n",
    )
    .unwrap();
    let (ok, text) = tessera(&["journey", "check", json.to_str().unwrap()]);
    assert!(!ok, "{text}");
    let expression = format!("{}:3:33: step `a`, field `expression`: ", json.display());
    assert!(text.lines().any(|l| l.starts_with(&expression)), "{text}");

    // A syntax error: the parser's position.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "id: j\ntype: backend_api\nsteps:\n  - {id: a\n").unwrap();
    let (ok, text) = tessera(&["journey", "check", bad.to_str().unwrap()]);
    assert!(!ok, "{text}");
    let syntax = format!("{}:", bad.display());
    assert!(
        text.lines()
            .any(|l| l.starts_with(&syntax) && l.contains(": invalid YAML at ")),
        "{text}"
    );
}

/// The first start printed the generated admin secret on standard output; SPEC §2 says the
/// output names the file and never the secret.
#[test]
fn the_first_start_names_the_credentials_file_and_never_prints_the_secret() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::Stdio;

    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data_dir)
        .env_remove("TESSERA_ADMIN_CLIENT_ID")
        .env_remove("TESSERA_ADMIN_CLIENT_SECRET")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    // The notice comes once the server is up; the process keeps running afterwards.
    while !printed.contains("admin-credentials.json") {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            break;
        }
        printed.push_str(&line);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let mut logged = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logged)
        .unwrap();
    let creds: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(data_dir.join("admin-credentials.json")).unwrap(),
    )
    .unwrap();
    let secret = creds["client_secret"].as_str().unwrap();
    assert!(secret.len() >= 32);
    assert!(printed.contains("admin-credentials.json"), "{printed}");
    assert!(printed.contains("cat "), "says how to read it: {printed}");
    assert!(
        !printed.contains(secret),
        "the secret was printed: {printed}"
    );
    assert!(!logged.contains(secret), "the secret was logged");
}
