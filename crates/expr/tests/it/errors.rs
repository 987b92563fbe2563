//! The error table: expression → expected error code; plus the no-values-in-messages rule.

use tessera_expr::ErrorCode;

use crate::support::run;

const CASES: &[(&str, ErrorCode)] = &[
    ("user.missing", ErrorCode::MissingKey),
    ("user[\"missing\"]", ErrorCode::MissingKey),
    ("nums[3]", ErrorCode::IndexOutOfRange),
    ("nums[-1]", ErrorCode::IndexOutOfRange),
    ("nums[0.5]", ErrorCode::IndexOutOfRange),
    ("nothing.x", ErrorCode::TypeError),
    ("n.x", ErrorCode::TypeError),
    ("nums[\"a\"]", ErrorCode::TypeError),
    ("undefined_var", ErrorCode::UnknownVariable),
    ("1/0", ErrorCode::DivisionByZero),
    ("1 % 0", ErrorCode::DivisionByZero),
    ("1 / -0", ErrorCode::DivisionByZero),
    ("1 < \"2\"", ErrorCode::TypeError),
    ("null < 1", ErrorCode::TypeError),
    ("1 + null", ErrorCode::TypeError),
    ("1 + true", ErrorCode::TypeError),
    ("{} + {}", ErrorCode::TypeError),
    ("[1] + 1", ErrorCode::TypeError),
    ("\"a\" - 1", ErrorCode::TypeError),
    ("-\"a\"", ErrorCode::TypeError),
    ("~\"a\"", ErrorCode::TypeError),
    ("true & 1", ErrorCode::TypeError),
    ("\"a\" * -1", ErrorCode::InvalidArgument),
    ("\"a\" * 1.5", ErrorCode::InvalidArgument),
    ("\"a\" + (x => x)", ErrorCode::TypeError),
    ("`${x => x}`", ErrorCode::TypeError),
    ("@(1)(2)", ErrorCode::TypeError),
    ("@std.len(1)", ErrorCode::TypeError),
    ("@std.map(1, x => x)", ErrorCode::TypeError),
    ("@std.map([1], 1)", ErrorCode::TypeError),
    ("@std.strToInt(\"12abc\")", ErrorCode::InvalidArgument),
    ("@std.strToInt(\"Infinity\")", ErrorCode::InvalidArgument),
    ("@std.strToInt(\"\")", ErrorCode::InvalidArgument),
    ("@std.strToInt(true)", ErrorCode::TypeError),
    ("@std.strToDouble(\"0x10\")", ErrorCode::InvalidArgument),
    ("@std.sort([1, \"a\"])", ErrorCode::InvalidArgument),
    (
        "@std.sort([1, 2], (a, b) => \"x\")",
        ErrorCode::InvalidArgument,
    ),
    ("@std.range(0, 1, 0)", ErrorCode::InvalidArgument),
    ("@std.range(1.5)", ErrorCode::TypeError),
    (
        "@std.jsonPath({}, \"not a path\")",
        ErrorCode::InvalidArgument,
    ),
    (
        "@std.jsonPath({f: x => x}, \"$\")",
        ErrorCode::InvalidArgument,
    ),
    ("@std.sum([1, \"2\"])", ErrorCode::InvalidArgument),
    ("@json.parse(\"{oops\")", ErrorCode::InvalidArgument),
    ("@json.stringify(x => x)", ErrorCode::TypeError),
    ("@time.parseISO(\"2023-02-29\")", ErrorCode::InvalidArgument),
    ("@time.parseISO(\"yesterday\")", ErrorCode::InvalidArgument),
    ("@time.toISO(1e300)", ErrorCode::InvalidArgument),
    (
        "@crypto.extractTokenClaims(\"not-a-jwt\")",
        ErrorCode::InvalidArgument,
    ),
    (
        "@crypto.extractTokenClaims(\"a.b.c\")",
        ErrorCode::InvalidArgument,
    ),
    ("@crypto.base64Decode(\"!!!\")", ErrorCode::InvalidArgument),
    (
        "@crypto.base64Decode(\"aGVsbG8\")",
        ErrorCode::InvalidArgument,
    ),
    (
        "@crypto.base64UrlDecode(\"_w\")",
        ErrorCode::InvalidArgument,
    ),
    ("@policy.userTokens()", ErrorCode::HostError),
    ("@webrequests.echo(1)", ErrorCode::AsyncRequired),
    ("try 1/0 catch undefined_var", ErrorCode::UnknownVariable),
];

#[test]
fn error_codes() {
    let mut failures = Vec::new();
    for (src, code) in CASES {
        match run(src) {
            Err(e) if e.code == *code => {}
            Err(e) => failures.push(format!("`{src}`: expected {code}, got {} ({e})", e.code)),
            Ok(v) => failures.push(format!("`{src}`: expected {code}, got value {v}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn error_messages_name_types_and_positions() {
    let e = run("\"secret-token\" < 5").unwrap_err();
    assert_eq!(e.to_string(), "cannot compare string with number at 1:1");
    let e = run("access_token.sub == \"x\" || id_token.nope").unwrap_err();
    assert_eq!(e.to_string(), "missing key `nope` at 1:28");
    assert_eq!((e.line, e.column), (1, 28));
    let e = run("1 +\n  2 / 0").unwrap_err();
    assert_eq!(
        (e.line, e.column, e.code),
        (2, 3, ErrorCode::DivisionByZero)
    );
    let e = run("undefined_thing").unwrap_err();
    assert_eq!(e.to_string(), "unknown variable `undefined_thing` at 1:1");
}

#[test]
fn error_messages_never_contain_values() {
    // Every value in the fixtures that could be a secret; none may appear in any message.
    let secrets = [
        "alice",
        "Ann",
        "ann@example.com",
        "hello",
        "1800000000",
        "12abc",
        "oops",
    ];
    for (src, _) in CASES {
        let message = run(src).unwrap_err().to_string();
        for s in secrets {
            assert!(!message.contains(s), "`{src}` leaks a value: {message}");
        }
    }
    let e = run("@std.strToInt(\"hunter2\")").unwrap_err();
    assert!(!e.message.contains("hunter2"), "{}", e.message);
    let e = run("@crypto.extractTokenClaims(\"hunter2.hunter2\")").unwrap_err();
    assert!(!e.message.contains("hunter2"), "{}", e.message);
    let e = run("s < 1").unwrap_err();
    assert!(!e.message.contains("hello"), "{}", e.message);
}

#[test]
fn debug_output_hides_strings() {
    let v = tessera_expr::Value::from("super-secret");
    assert_eq!(format!("{v:?}"), "<string len=12>");
}
