//! Shared by `journey_yaml` and `journey_json`: what the admin API does with an uploaded
//! definition (`check_journey`), and the properties every outcome must have.

use tessera_journey::{check_journey, compile_journey, parse_definition, Format, StepKind};

/// Lines of `text` under any line-break convention YAML knows (`\n`, `\r\n`, `\r`), plus
/// Unicode breaks, as an upper bound for reported line numbers.
fn max_line(text: &str) -> u32 {
    let breaks = text
        .chars()
        .filter(|c| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'))
        .count();
    u32::try_from(breaks + 1).unwrap_or(u32::MAX)
}

pub fn check(data: &[u8], format: Format) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match check_journey(text, format) {
        Ok(checked) => {
            // Every accepted definition compiles the same way through the two-step API.
            let def = parse_definition(text, format).unwrap_or_else(|e| {
                panic!("check_journey accepted, parse_definition refused: {e:?}")
            });
            let again = compile_journey(&def).unwrap_or_else(|e| {
                panic!("check_journey accepted, compile_journey refused: {e:?}")
            });
            let journey = &checked.journey;
            assert_eq!(journey.id, def.id);
            assert_eq!(journey.id, again.journey.id);
            assert_eq!(journey.steps.len(), def.steps.len());
            assert_eq!(journey.steps.len(), again.journey.steps.len());
            assert_eq!(checked.warnings.len(), again.warnings.len());
            // Every resolved target is a step of the journey.
            let n = journey.steps.len();
            for step in &journey.steps {
                assert!(step.next.is_none_or(|t| t < n), "next out of range");
                assert!(step.on_error.is_none_or(|t| t < n), "on_error out of range");
                match &step.kind {
                    StepKind::Condition {
                        on_true, on_false, ..
                    } => {
                        assert!(
                            *on_true < n && *on_false < n,
                            "condition target out of range"
                        );
                    }
                    StepKind::Match {
                        cases, otherwise, ..
                    } => {
                        assert!(
                            cases.iter().all(|(_, t)| *t < n),
                            "case target out of range"
                        );
                        assert!(otherwise.is_none_or(|t| t < n), "otherwise out of range");
                    }
                    StepKind::HttpComplete { status, .. } => {
                        assert!((200..=599).contains(status), "status out of range");
                    }
                    _ => {}
                }
                assert_eq!(
                    journey
                        .step_index(&step.id)
                        .map(|i| journey.steps[i].id.as_str()),
                    Some(step.id.as_str())
                );
            }
            for w in &checked.warnings {
                let _ = w.to_string();
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "refused without an error");
            let max = max_line(text);
            for e in &errors {
                if let Some(line) = e.line {
                    assert!(
                        line >= 1 && line <= max,
                        "line {line} outside the text ({max} lines): {e:?}"
                    );
                }
                if let Some(column) = e.column {
                    assert!(column >= 1, "column 0: {e:?}");
                }
                let _ = e.to_string();
            }
            let _ = serde_json::to_string(&errors);
            // The two-step API refuses it too.
            if let Ok(def) = parse_definition(text, format) {
                assert!(
                    compile_journey(&def).is_err(),
                    "check_journey refused, parse_definition + compile_journey accepted"
                );
            }
        }
    }
}
