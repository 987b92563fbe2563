//! Parse errors: line, column, message and the caret snippet.

use tessera_expr::{compile, compile_template, ParseError};

fn err(src: &str) -> ParseError {
    match compile(src) {
        Ok(_) => panic!("`{src}` should not compile"),
        Err(e) => e,
    }
}

#[test]
fn position_and_snippet() {
    let e = err("1 + * 2");
    assert_eq!((e.line, e.column), (1, 5));
    assert_eq!(e.message, "unexpected `*`");
    assert_eq!(e.snippet(), "1 + * 2\n    ^");
    assert_eq!(e.to_string(), "unexpected `*` at 1:5");
    assert_eq!(e.render(), "unexpected `*` at 1:5\n1 + * 2\n    ^");
}

#[test]
fn multi_line_positions() {
    let e = err("let a = 1,\n    b = 2\n  retrun a + b");
    assert_eq!((e.line, e.column), (3, 3));
    assert_eq!(e.message, "expected `return` but found `retrun`");
    assert_eq!(e.snippet(), "  retrun a + b\n  ^");
}

#[test]
fn columns_count_characters_not_bytes() {
    let e = err("\"héllo\" + + ");
    assert_eq!(
        (e.line, e.column, e.message.as_str()),
        (1, 11, "unexpected `+`")
    );
    let e = err("\"é\" + §");
    assert_eq!((e.line, e.column), (1, 7));
    assert_eq!(e.message, "unexpected character `\\u{a7}`");
}

#[test]
fn unknown_functions_are_compile_errors() {
    let e = err("1 + @std.nope(1)");
    assert_eq!((e.line, e.column), (1, 5));
    assert_eq!(e.message, "unknown function `@std.nope`");
    let e = err("@nospace.fn()");
    assert_eq!(e.message, "unknown function `@nospace.fn`");
    // Functions the validator says do not exist.
    for src in [
        "@std.if(1, 2, 3)",
        "@std.default(1, 2)",
        "@std.now()",
        "@std.concat(1, 2)",
        "@std.join([], \"\")",
        "@policy.nope()",
    ] {
        assert!(compile(src).is_err(), "{src}");
    }
    // Any web request name is accepted.
    assert!(compile("@webrequests.anything(1, 2)").is_ok());
}

#[test]
fn arity_is_checked_at_compile_time() {
    let e = err("@std.len()");
    assert_eq!(e.message, "`@std.len` takes 1 argument(s), got 0");
    let e = err("@std.slice([1], 1, 2, 3)");
    assert_eq!(e.message, "`@std.slice` takes 2 to 3 argument(s), got 4");
    let e = err("@crypto.verifyToken(\"t\")");
    assert_eq!(
        e.message,
        "`@crypto.verifyToken` takes 2 argument(s), got 1"
    );
}

#[test]
fn assorted_syntax_errors() {
    let cases: &[(&str, u32, &str)] = &[
        ("", 1, "unexpected the end of the expression"),
        (
            "(1 + 2",
            7,
            "expected `)` but found the end of the expression",
        ),
        (
            "[1, 2",
            6,
            "expected `,` but found the end of the expression",
        ),
        ("{a 1}", 4, "expected `:` but found a number"),
        (
            "'single'",
            1,
            "single-quoted strings are not supported; use \"…\"",
        ),
        ("\"unterminated", 1, "unterminated string"),
        ("\"bad \\q escape\"", 6, "unknown escape sequence"),
        ("`open ${1}", 1, "unterminated template"),
        ("1 2", 3, "unexpected a number"),
        ("0x", 1, "expected digits after the number prefix"),
        ("12abc", 3, "unexpected character after number"),
        ("1e999", 1, "number literal out of range"),
        (
            "a.",
            3,
            "expected a key name after `.` but found the end of the expression",
        ),
        ("let return 1", 5, "`return` is a reserved word"),
        (
            "let 1 = 1 return 1",
            5,
            "expected a variable name but found a number",
        ),
        ("let true = 1 return 1", 5, "`true` is a reserved word"),
        (
            "try 1",
            6,
            "expected `catch` but found the end of the expression",
        ),
        (
            "1 + let a = 1 return a",
            5,
            "`let` must be wrapped in parentheses here",
        ),
        ("(a, a) => a", 1, "duplicate parameter `a`"),
        ("\"\\ud800\"", 2, "unpaired surrogate in \\u escape"),
        ("@time(1)", 7, "expected `)` but found a number"),
    ];
    for (src, column, message) in cases {
        let e = err(src);
        assert_eq!(
            (e.column, e.message.as_str()),
            (*column, *message),
            "`{src}`"
        );
    }
}

#[test]
fn template_field_errors() {
    let e = compile_template("Hello ${user.}").err().unwrap();
    assert_eq!((e.line, e.column), (1, 14));
    let e = compile_template("Hello ${").err().unwrap();
    assert_eq!(e.message, "unexpected the end of the expression");
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for open in ["(", "[", "-", "!", "{a:", "@(", "`${"] {
        let src = open.repeat(100_000);
        let e = err(&src);
        assert_eq!(e.message, "expression is nested too deeply", "{open}");
    }
    // Long flat chains build deep trees too.
    let chain = vec!["1"; 100_000].join(" + ");
    assert_eq!(err(&chain).message, "expression is nested too deeply");
    let members = format!("a{}", ".b".repeat(100_000));
    assert_eq!(err(&members).message, "expression is nested too deeply");
    // Moderate nesting is fine.
    let ok = format!("{}1{}", "(".repeat(50), ")".repeat(50));
    assert!(compile(&ok).is_ok());
}
