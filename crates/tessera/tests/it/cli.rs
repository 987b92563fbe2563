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

#[test]
fn journey_check_accepts_the_example_and_refuses_a_broken_file() {
    let (ok, text) = tessera(&[
        "journey",
        "check",
        "examples/journeys/validate-transaction.yaml",
    ]);
    assert!(ok, "{text}");
    assert!(
        text.contains("extractTokenClaims") || text.contains("unverified"),
        "the unverified-decoding warning is shown: {text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "id: broken\ntype: backend_api\nsteps:\n  - {id: a, type: condition, expression: \"1 +\", on_true: b, on_false: b}\n  - {id: b, type: http_complete, status: 200}\n").unwrap();
    let (ok, text) = tessera(&["journey", "check", broken.to_str().unwrap()]);
    assert!(!ok, "{text}");
    assert!(text.contains("a:expression:1:"), "{text}");
}
