//! Shared and deep values (review of the running server): one expression must never overflow
//! the stack, allocate without bound or run for minutes, whatever it builds. Every bug here is
//! answered with a result or `limit_exceeded`, quickly, on a 2 MiB stack (an HTTP worker's).

use std::sync::atomic::{AtomicU32, Ordering};

use tessera_expr::{
    compile, eval_sync, Context, ConvertError, Deadline, EmptyScope, ErrorCode, EvalError, Limits,
    NoHost, SeededRandom, Value,
};

use crate::support::{run, NOW_MS};

/// Runs `f` on a thread with a 2 MiB stack (tokio's worker default) and returns its result.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

fn limit_message(src: &str) -> String {
    let src = src.to_string();
    on_small_stack(move || {
        let e = run(&src).expect_err("expected limit_exceeded");
        assert_eq!(e.code, ErrorCode::LimitExceeded, "{e}");
        e.message
    })
}

/// `let a0 = <leaf>, a1 = [a0, a0], …, aN = [aN-1, aN-1]` bindings (no `return`).
fn doubling(name: &str, leaf: &str, n: usize) -> String {
    let mut s = format!("{name}0 = {leaf}");
    for i in 1..=n {
        s.push_str(&format!(", {name}{i} = [{name}{p}, {name}{p}]", p = i - 1));
    }
    s
}

/// The review's first crash: `v1 = [x], v2 = [v1], …, v2000 = [v1999]`, each variable an array
/// holding the previous one. Unbounded, a later walk (or the drop) overflowed the stack.
#[test]
fn chain_of_2000_nested_lets_is_limit_exceeded() {
    let mut src = String::from("let v0 = 1");
    for i in 1..=2000 {
        src.push_str(&format!(", v{i} = [v{}]", i - 1));
    }
    src.push_str(" return v2000");
    assert_eq!(limit_message(&src), "value nesting depth limit exceeded");
    // Looped: each round nests the accumulator once more.
    let looped = "@std.reduce(@std.range(2000), (acc, i) => \
                  let v1 = [acc], v2 = [v1], v3 = [v2] return v3, 0)";
    assert_eq!(limit_message(looped), "value nesting depth limit exceeded");
}

/// The review's second crash: doubling a shared value 34 times is cheap (34 arrays), but its
/// text is 2^34 leaves long: `"" + a34` allocated 4 GiB and aborted. The expanded size is
/// cached in each array, so the conversion is refused before anything is written.
#[test]
fn doubling_34_times_then_to_string_is_refused_before_allocating() {
    let lets = doubling("a", "\"x\"", 34);
    for tail in [
        "\"\" + a34",
        "a34 + \"\"",
        "`${a34}`",
        "@strings.toJson(a34)",
        "@json.stringify(a34)",
        "@strings.join([a34], \",\")",
        "@std.jsonPath(a34, \"$[0]\")",
    ] {
        let src = format!("let {lets} return {tail}");
        let message = limit_message(&src);
        assert_eq!(message, "string length limit exceeded", "{tail}");
    }
    // Building the DAG itself is fine, and so are cheap questions about it.
    let src = format!("let {lets} return [@std.len(a34), @std.typeOf(a34), a34 == a34]");
    assert_eq!(run(&src).unwrap(), serde_json::json!([2, "array", true]));
}

/// The review's stall: `==` between two separately built 29-level trees walked 2^29 leaf pairs
/// (12 s; 34 levels took minutes) on the worker thread. Equal pairs of shared nodes are now
/// compared once.
#[test]
fn equality_of_separately_built_29_and_34_level_trees_is_fast() {
    for levels in [29, 34] {
        let lets = format!(
            "{}, {}",
            doubling("a", "1", levels),
            doubling("b", "1", levels)
        );
        let (a, b) = (format!("a{levels}"), format!("b{levels}"));
        for (tail, expected) in [
            (format!("{a} == {b}"), serde_json::json!(true)),
            (format!("{a} != {b}"), serde_json::json!(false)),
            (
                format!("@std.contains([{b}], {a})"),
                serde_json::json!(true),
            ),
            (format!("@std.find([1, {b}], {a})"), serde_json::json!(1)),
            (
                format!("@std.len(@std.distinct([{a}, {b}]))"),
                serde_json::json!(1),
            ),
        ] {
            let src = format!("let {lets} return {tail}");
            let result = on_small_stack(move || run(&src));
            assert_eq!(result.unwrap(), expected, "{tail}");
        }
        // One different leaf: found at the first leaf pair compared.
        let lets = format!(
            "{}, {}",
            doubling("a", "1", levels),
            doubling("b", "2", levels)
        );
        let src = format!("let {lets} return {a} == {b}");
        assert_eq!(run(&src).unwrap(), serde_json::json!(false));
    }
}

/// Equality work is charged: comparing many distinct large values runs out of steps.
#[test]
fn equality_is_charged_per_node_compared() {
    let src = "let r = @std.range(40000), s = @std.range(40000) \
               return [r == s, r == s, r == s]";
    assert_eq!(limit_message(src), "evaluation step limit exceeded");
    let long = "let s = \"x\" * 1000000, t = \"x\" * 1000000 \
                return @std.map(@std.range(1000), i => s == t)";
    assert_eq!(limit_message(long), "evaluation step limit exceeded");
}

/// Deep JSON text is `limit_exceeded` (measured before parsing), not a parser error or a crash.
#[test]
fn deep_json_parse_input_is_limit_exceeded() {
    for depth in [128, 129, 100_000] {
        let src = format!(
            "@json.parse(\"{}1{}\")",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        assert_eq!(limit_message(&src), "value nesting depth limit exceeded");
    }
    let src = format!("@json.parse(\"{}1{}\")", "[".repeat(127), "]".repeat(127));
    assert!(run(&src).is_ok());
    // Brackets inside strings do not count.
    let src = format!("@json.parse(\"[\\\"{}\\\"]\")", "[".repeat(1000));
    assert!(run(&src).is_ok());
    // Nor can a decoded token smuggle a deep document in.
    let payload = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
    let jwt = format!(
        "eyJhbGciOiJub25lIn0.{}.",
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
    );
    let src = format!("@crypto.extractTokenClaims(\"{jwt}\")");
    assert_eq!(limit_message(&src), "value nesting depth limit exceeded");
}

/// Long strings cost their length: scanning a 1 MB string in a loop runs out of steps
/// instead of running for seconds.
#[test]
fn string_work_is_charged_by_length() {
    for body in [
        "@strings.length(s)",
        "@strings.indexOf(s, \"y\")",
        "try @std.strToInt(s) catch 0",
        "s[999999]",
        "s < t",
        "@crypto.sha256(s)",
        "{a: 1}?.[s]",
    ] {
        let src = format!(
            "let s = \"x\" * 1000000, t = \"x\" * 1000000 \
             return @std.map(@std.range(1000), i => {body})"
        );
        assert_eq!(
            limit_message(&src),
            "evaluation step limit exceeded",
            "{body}"
        );
    }
}

/// A deadline that expires on its `n`-th check; counts checks.
struct ExpiresAfter {
    checks: AtomicU32,
    n: u32,
}

impl Deadline for ExpiresAfter {
    fn expired(&self) -> bool {
        self.checks.fetch_add(1, Ordering::SeqCst) + 1 >= self.n
    }
}

fn eval_with(src: &str, ctx: &Context<'_>) -> Result<Value, EvalError> {
    eval_sync(&compile(src).unwrap(), &EmptyScope, ctx)
}

/// The time budget is asked inside evaluation (every `DEADLINE_CHECK_INTERVAL` steps), so one
/// long expression stops at the deadline; a caught time-out stays a time-out.
#[test]
fn deadline_stops_a_long_evaluation() {
    let random = SeededRandom::new(1);
    let limits = Limits {
        max_steps: u64::MAX,
        max_total_steps: u64::MAX,
        ..Limits::default()
    };
    for src in [
        "@std.map(@std.range(90000), x => @std.map(@std.range(90000), y => y))",
        "@std.map(@std.range(90000), x => try @std.map(@std.range(90000), y => y) catch 0)",
        "@std.map(@std.range(90000), x => try @std.range(90000) catch e => e)",
    ] {
        let deadline = ExpiresAfter {
            checks: AtomicU32::new(0),
            n: 3,
        };
        let ctx = Context::new(NOW_MS, &random, &NoHost)
            .with_limits(limits)
            .with_deadline(&deadline);
        let e = eval_with(src, &ctx).unwrap_err();
        assert_eq!(e.code, ErrorCode::LimitExceeded, "{src}");
        assert_eq!(e.message, "evaluation time limit exceeded", "{src}");
        assert_eq!(deadline.checks.load(Ordering::SeqCst), 3, "{src}");
    }
    // Short evaluations never ask.
    let deadline = ExpiresAfter {
        checks: AtomicU32::new(0),
        n: 1,
    };
    let ctx = Context::new(NOW_MS, &random, &NoHost).with_deadline(&deadline);
    assert_eq!(eval_with("1 + 2", &ctx).unwrap(), Value::Number(3.0));
    assert_eq!(deadline.checks.load(Ordering::SeqCst), 0);
}

/// `max_total_steps` spans every evaluation through one context (a journey run): once spent,
/// every later evaluation fails the same way.
#[test]
fn total_steps_are_counted_across_evaluations() {
    let random = SeededRandom::new(1);
    let limits = Limits {
        max_total_steps: 10_000,
        ..Limits::default()
    };
    let ctx = Context::new(NOW_MS, &random, &NoHost).with_limits(limits);
    let src = "@std.len(@std.range(4000))";
    assert!(eval_with(src, &ctx).is_ok());
    assert!(eval_with(src, &ctx).is_ok());
    assert!(ctx.steps_used() >= 8000);
    for _ in 0..3 {
        let e = eval_with(src, &ctx).unwrap_err();
        assert_eq!(e.code, ErrorCode::LimitExceeded);
        assert_eq!(e.message, "total evaluation step limit exceeded");
    }
    assert!(ctx.steps_used() <= 10_000);
}

/// Freeing a value never recurses without bound, however it was built (the public
/// constructors do not check depth); walks refuse such values instead of overflowing.
#[test]
fn very_deep_values_drop_and_convert_safely() {
    on_small_stack(|| {
        let mut v = Value::Number(1.0);
        for _ in 0..100_000 {
            v = Value::array(vec![v]);
        }
        assert_eq!(v.depth(), 100_000);
        assert_eq!(v.to_json_string(usize::MAX), Err(ConvertError::TooDeep));
        assert_eq!(v.to_json().unwrap_err(), ConvertError::TooDeep);
        assert!(serde_json::to_string(&v).is_err());
        assert!(format!("{v:?}").starts_with("<array len=1 depth=100000"));
        let w = v.clone();
        assert!(v.deep_eq(&w));
        let mut u = Value::Number(1.0);
        for _ in 0..100_000 {
            u = Value::array(vec![u]);
        }
        assert!(v.deep_eq(&u));
        drop((v, w, u));
    });
}

/// Every operator and library function that walks, compares or prints a value, applied to
/// huge shared values and to values at the depth limit: a result or an error, never a panic,
/// a stack overflow or a hang.
#[test]
fn no_operator_panics_on_deep_or_shared_values() {
    let deep = format!("{}1{}", "[".repeat(60), "]".repeat(60));
    let lets = format!(
        "let {}, {}, d = {deep}, d2 = [[[[d]]]], e = @std.reduce(@std.range(126), (acc, i) => [acc], 0), \
         f = x => [e, x], s = \"é\\n\" * 1000",
        doubling("a", "\"x\"", 34),
        doubling("b", "{k: [1, \"y\"]}", 30),
    );
    let values = ["a34", "b30", "d", "d2", "e", "f", "s", "[a34, b30, e]"];
    let forms = [
        "X == Y",
        "X != Y",
        "X + Y",
        "X < Y",
        "X * 2",
        "X && Y",
        "X ?? Y",
        "X ? Y : X",
        "`${X}`",
        "[X, Y]",
        "{k: X}",
        "[X]",
        "[[X]]",
        "X[0]",
        "X?.[\"k\"]",
        "!X",
        "-X",
        "@std.len(X)",
        "@std.contains([X], Y)",
        "@std.distinct([X, Y, X])",
        "@std.find([X], Y)",
        "@std.sort([X, Y])",
        "@std.reverse(X)",
        "@std.keys(X)",
        "@std.values(X)",
        "@std.kv(null, \"k\", X)",
        "@std.map([X, Y], v => [v])",
        "@std.filter([X], v => v == Y)",
        "@std.reduce([X, Y], (acc, v) => [acc, v], [])",
        "@std.jsonPath(X, \"$..*\")",
        "@std.typeOf(X)",
        "@std.slice(X, 1)",
        "@std.splice([X], 0, 0, Y)",
        "@strings.toJson(X)",
        "@json.stringify(X)",
        "@json.parse(@json.stringify(X))",
        "@strings.join([X, Y])",
        "@strings.length(X)",
        "@crypto.sha256(X)",
        "@(v => [v, v])(X)",
        "try [X] catch Y",
        "@(v => w => [v, w])(X)",
    ];
    let mut sources = Vec::new();
    for form in forms {
        for x in values {
            for y in ["a34", "e"] {
                sources.push(format!(
                    "{lets} return {}",
                    form.replace('X', x).replace('Y', y)
                ));
            }
        }
    }
    let outcomes = on_small_stack(move || {
        sources
            .iter()
            .map(|src| {
                let program = compile(src).unwrap();
                let random = SeededRandom::new(1);
                let ctx = Context::new(NOW_MS, &random, &NoHost);
                match eval_sync(&program, &EmptyScope, &ctx) {
                    Ok(v) => {
                        // Whatever came out can be printed, converted and dropped safely.
                        let _ = v.to_json_string(1 << 20);
                        let _ = v.to_json();
                        let _ = format!("{v:?}");
                        Ok(())
                    }
                    Err(e) => Err(e.code),
                }
            })
            .collect::<Vec<_>>()
    });
    assert!(outcomes.iter().any(Result::is_ok));
    assert!(outcomes.contains(&Err(ErrorCode::LimitExceeded)));
}
