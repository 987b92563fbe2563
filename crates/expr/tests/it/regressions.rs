//! Regression tests, each named after the bug it pins (fuzzing finds go here too).

use crate::support::run;

#[test]
fn optional_access_on_scalar_is_null() {
    assert_eq!(run("n?.x").unwrap(), serde_json::json!(null));
}

/// Fuzzing (parse target): the printer wrapped every unary operand in parentheses, so
/// `~~~…~x` (40 deep, fine) printed as `~(~(~(…)))`, which exceeds the parser's nesting limit.
#[test]
fn printer_adds_no_parentheses_that_break_the_nesting_limit() {
    for src in [
        format!("{}`H ${{oi*body}} ${{a*3}}@`", "~".repeat(40)),
        vec!["1"; 60].join(" + "),
        vec!["a"; 60].join(" && "),
        format!("x{}", ".y".repeat(60)),
        // Fuzzing (parse target), second find: lambdas as right operands were parenthesized.
        format!("t{} + e", " + q => v".repeat(25)),
    ] {
        let program = tessera_expr::compile(&src).unwrap();
        let printed = program.to_source();
        let again =
            tessera_expr::compile(&printed).unwrap_or_else(|e| panic!("{}\n{printed}", e.render()));
        assert_eq!(again, program);
    }
}
