//! The main data-driven table: expression → expected JSON value.

use serde_json::{json, Value as Json};

use crate::support::run;

fn check_all(cases: &[(&str, Json)]) {
    let mut failures = Vec::new();
    for (src, expected) in cases {
        match run(src) {
            Ok(v) if &v == expected => {}
            Ok(v) => failures.push(format!("`{src}`: expected {expected}, got {v}")),
            Err(e) => failures.push(format!(
                "`{src}`: expected {expected}, got error {e} ({})",
                e.code
            )),
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
fn seed_expressions() {
    check_all(&[
        (
            "@std.strToInt(access_token.exp) > @time.now()/1000 && @std.strToInt(id_token.exp)> (@time.now()/1000)",
            json!(true),
        ),
        ("@std.contains(id_token.amr, \"mfa\")", json!(true)),
        (
            "@crypto.extractTokenClaims(@policy.request().body.external_access_token)",
            json!({"sub": "alice", "exp": 1_800_000_000, "amr": ["pwd", "mfa"]}),
        ),
        (
            "@crypto.extractTokenClaims(@policy.request().body.external_access_token).sub",
            json!("alice"),
        ),
        ("@std.strToInt(expired_token.exp) > @time.now()/1000", json!(false)),
        ("@std.strToInt(1700000000)", json!(1_700_000_000)),
    ]);
}

#[test]
fn mosaic_doc_examples() {
    check_all(&[
        (
            "{\"firstItem\":3,\"secondItem\":4}[\"first\"+\"Item\"]",
            json!(3),
        ),
        ("try 3/2 catch 10", json!(1.5)),
        ("try 3/0 catch 10", json!(10)),
        ("let x = null return x ? 1 : 0", json!(0)),
        ("`One plus one is ${1+1}`", json!("One plus one is 2")),
        ("0x12", json!(18)),
        ("0o52", json!(42)),
        ("\"a\"*3", json!("aaa")),
        ("123.2", json!(123.2)),
        ("10/2", json!(5)),
        ("3*2", json!(6)),
        ("10%3", json!(1)),
        ("let a=1 return (let a=9 return a)+a", json!(10)),
        ("! @policy.isUserAuthenticated()", json!(false)),
        ("@policy.isUserAuthenticated", json!(true)),
        ("@time().now", json!(1_700_000_000_000i64)),
        ("@time().nowISO", json!("2023-11-14T22:13:20.000Z")),
        ("@policy.userContext().username", json!("ann")),
    ]);
}

#[test]
fn literals() {
    check_all(&[
        ("1", json!(1)),
        ("1.5", json!(1.5)),
        ("1e3", json!(1000)),
        ("2.5e-3", json!(0.0025)),
        ("0xff", json!(255)),
        ("0XFF", json!(255)),
        ("0o17", json!(15)),
        ("\"a\\\"b\\\\c\"", json!("a\"b\\c")),
        ("\"line\\nnext\\ttab\"", json!("line\nnext\ttab")),
        ("\"\\u00e9\\u20AC\"", json!("é€")),
        ("\"\\ud83d\\ude00\"", json!("😀")),
        ("\"ünï\"", json!("ünï")),
        ("true", json!(true)),
        ("false", json!(false)),
        ("null", json!(null)),
        ("[]", json!([])),
        ("[1, \"x\", null, [true]]", json!([1, "x", null, [true]])),
        ("[1, 2,]", json!([1, 2])),
        ("{}", json!({})),
        (
            "{a: 1, \"b c\": 2, d: {e: [3]}}",
            json!({"a": 1, "b c": 2, "d": {"e": [3]}}),
        ),
        ("{a: 1,}", json!({"a": 1})),
        ("{a: 1, a: 2}", json!({"a": 2})),
    ]);
}

#[test]
fn templates() {
    check_all(&[
        ("``", json!("")),
        ("`plain`", json!("plain")),
        ("`Hi ${user.name}!`", json!("Hi Ann!")),
        ("`${1}${2}`", json!("12")),
        ("`esc \\` \\$ \\\\ \\n`", json!("esc ` $ \\ \\n")),
        ("`$ alone and {braces}`", json!("$ alone and {braces}")),
        (
            "`n=${n}, f=${1.5}, b=${true}, z=${null}`",
            json!("n=7, f=1.5, b=true, z=null"),
        ),
        (
            "`${[1, \"a\", {b: null}]}`",
            json!("[1,\"a\",{\"b\":null}]"),
        ),
        ("`nested ${`inner ${1 + 1}`}`", json!("nested inner 2")),
        ("`obj ${ {a: 1}.a }`", json!("obj 1")),
        ("`${ {\"k\": \"v\\\"q\"} }`", json!("{\"k\":\"v\\\"q\"}")),
        ("`a\nb`", json!("a\nb")),
    ]);
}

#[test]
fn js_number_printing() {
    check_all(&[
        ("`${1}`", json!("1")),
        ("`${1.5}`", json!("1.5")),
        ("`${-0.5}`", json!("-0.5")),
        ("`${0.1 + 0.2}`", json!("0.30000000000000004")),
        ("`${1e21}`", json!("1e+21")),
        ("`${1e20}`", json!("100000000000000000000")),
        ("`${123456789012345680000}`", json!("123456789012345680000")),
        ("`${1.5e-7}`", json!("1.5e-7")),
        ("`${0.000001}`", json!("0.000001")),
        ("`${1e-7}`", json!("1e-7")),
        ("`${@math.pow(2, 53)}`", json!("9007199254740992")),
        ("`${0/1}`", json!("0")),
        ("`${-0}`", json!("0")),
        ("`${@math.sqrt(-1)}`", json!("NaN")),
        ("`${@math.pow(10, 400)}`", json!("Infinity")),
        ("`${-@math.pow(10, 400)}`", json!("-Infinity")),
        ("`${1/3}`", json!("0.3333333333333333")),
        ("`${100}`", json!("100")),
        (
            "`${1.7976931348623157e308}`",
            json!("1.7976931348623157e+308"),
        ),
        ("`${5e-324}`", json!("5e-324")),
        ("1 + \"\"", json!("1")),
        ("\"x\" + 2.50", json!("x2.5")),
    ]);
}

#[test]
fn access() {
    check_all(&[
        ("user.name", json!("Ann")),
        ("user[\"email\"]", json!("ann@example.com")),
        ("user.tags[1]", json!("b")),
        ("user?.missing", json!(null)),
        ("user?.[\"missing\"]", json!(null)),
        ("nothing?.x", json!(null)),
        ("nothing?.[0]", json!(null)),
        ("nums?.[5]", json!(null)),
        ("nums[0]", json!(3)),
        ("s[1]", json!("e")),
        ("{\"1\": \"one\"}[1]", json!("one")),
        ("[[1, 2], [3]][1][0]", json!(3)),
        ("user?.missing ?? \"default\"", json!("default")),
        ("@std.len(user.tags)", json!(2)),
    ]);
}

#[test]
fn operators_and_precedence() {
    check_all(&[
        ("-3", json!(-3)),
        ("- -3", json!(3)),
        ("!true", json!(false)),
        ("!0", json!(true)),
        ("!\"\"", json!(true)),
        ("![]", json!(false)),
        ("~5", json!(-6)),
        ("~-1", json!(0)),
        ("~4294967296", json!(-1)),
        ("2 + 3 * 4", json!(14)),
        ("(2 + 3) * 4", json!(20)),
        ("10 - 4 - 3", json!(3)),
        ("12 / 3 / 2", json!(2)),
        ("-7 % 3", json!(-1)),
        ("7.5 % 2", json!(1.5)),
        ("-2 * 3", json!(-6)),
        ("\"ab\" * 2", json!("abab")),
        ("3 * \"ab\"", json!("ababab")),
        ("\"x\" * 0", json!("")),
        ("\"a\" + \"b\"", json!("ab")),
        ("\"n\" + 1 + 2", json!("n12")),
        ("1 + 2 + \"n\"", json!("3n")),
        ("\"v\" + true + null", json!("vtruenull")),
        ("\"arr\" + [1, 2]", json!("arr[1,2]")),
        ("[1] + [2, 3]", json!([1, 2, 3])),
        ("1 << 4", json!(16)),
        ("1 << 31", json!(-2147483648)),
        ("1 << 32", json!(1)),
        ("-16 >> 2", json!(-4)),
        ("2147483648 >> 0", json!(-2147483648)),
        ("1 + 1 << 2", json!(8)),
        ("1 < 2", json!(true)),
        ("2 <= 2", json!(true)),
        ("3 > 4", json!(false)),
        ("4 >= 5", json!(false)),
        ("\"a\" < \"b\"", json!(true)),
        ("\"b\" >= \"ab\"", json!(true)),
        ("1 < 2 == true", json!(true)),
        ("1 == 1", json!(true)),
        ("1 == \"1\"", json!(false)),
        ("null == null", json!(true)),
        ("null == false", json!(false)),
        ("[1, {a: [2]}] == [1, {a: [2]}]", json!(true)),
        ("{a: 1, b: 2} == {b: 2, a: 1}", json!(true)),
        ("[1, 2] != [2, 1]", json!(true)),
        ("@math.sqrt(-1) == @math.sqrt(-1)", json!(false)),
        ("6 & 3", json!(2)),
        ("6 ^ 3", json!(5)),
        ("6 | 3", json!(7)),
        ("1 | 2 ^ 3 & 4", json!(3)),
        ("1.9 | 0", json!(1)),
        ("-1.9 | 0", json!(-1)),
        ("0 && x_undefined", json!(0)),
        ("\"\" || \"fallback\"", json!("fallback")),
        ("\"first\" || x_undefined", json!("first")),
        ("1 && \"last\"", json!("last")),
        ("null && 1", json!(null)),
        ("[] || 1", json!([])),
        ("{} && 2", json!(2)),
        ("@math.sqrt(-1) || \"nan is falsy\"", json!("nan is falsy")),
        ("0 ?? 5", json!(0)),
        ("null ?? 5", json!(5)),
        ("false || null ?? 3", json!(3)),
        ("true || false && false", json!(true)),
        ("1 ? 2 : 3", json!(2)),
        ("0 ? 2 : 3", json!(3)),
        ("false ? 1 : true ? 2 : 3", json!(2)),
        ("1 + 1 == 2 ? \"yes\" : \"no\"", json!("yes")),
        ("true ? false ? 1 : 2 : 3", json!(2)),
        ("1 == 1 && 2 < 3 || false", json!(true)),
    ]);
}

#[test]
fn let_try_lambdas() {
    check_all(&[
        ("let a = 1, b = a + 1 return a + b", json!(3)),
        ("let n = 2 return n * n", json!(4)),
        ("let s = \"shadow\" return s", json!("shadow")),
        ("let f = x => x * 2 return @(f)(21)", json!(42)),
        ("@((a, b) => a - b)(10, 3)", json!(7)),
        ("@(() => 5)()", json!(5)),
        ("@((a, b) => b)(1)", json!(null)),
        ("@(x => x)(1, 2, 3)", json!(1)),
        ("let k = 10, add = x => x + k return @(add)(5)", json!(15)),
        (
            "let mk = k => (x => x + k), add3 = @(mk)(3) return @(add3)(4)",
            json!(7),
        ),
        ("@(@((x) => (y) => x * y)(6))(7)", json!(42)),
        ("try 1 catch 2", json!(1)),
        ("try missing_var catch \"fallback\"", json!("fallback")),
        ("try user.nope catch e => e.code", json!("missing_key")),
        (
            "try 1/0 catch e => e",
            json!({"code": "division_by_zero", "message": "division by zero at 1:5"}),
        ),
        (
            "try (try 1/0 catch e => e.nope) catch e2 => e2.code",
            json!("missing_key"),
        ),
        ("try @std.strToInt(\"abc\") catch -1", json!(-1)),
        (
            "let fact = (f, n) => n <= 1 ? 1 : n * @(f)(f, n - 1) return @(fact)(fact, 10)",
            json!(3_628_800),
        ),
    ]);
}

#[test]
fn std_functions() {
    check_all(&[
        ("@std.len(\"héllo\")", json!(5)),
        ("@std.len([1, 2, 3])", json!(3)),
        ("@std.len({a: 1})", json!(1)),
        ("@std.contains([1, 2, 3], 2)", json!(true)),
        ("@std.contains([{a: 1}], {a: 1})", json!(true)),
        ("@std.contains([1, 2], \"1\")", json!(false)),
        ("@std.contains(\"user_already_exists\", \"already\")", json!(true)),
        ("@std.containsIf(nums, x => x > 2)", json!(true)),
        ("@std.containsIf(nums, x => x > 5)", json!(false)),
        ("@std.keys({a: 1, b: 2})", json!(["a", "b"])),
        ("@std.values({a: 1, b: [2]})", json!([1, [2]])),
        ("@std.kv({a: 1}, \"b\", 2)", json!({"a": 1, "b": 2})),
        ("@std.kv({a: 1}, \"a\", 5)", json!({"a": 5})),
        ("@std.map([1, 2, 3], x => x * 10)", json!([10, 20, 30])),
        ("@std.map([\"a\", \"b\"], (x, i) => `${i}:${x}`)", json!(["0:a", "1:b"])),
        ("@std.filter([1, 2, 3, 4], x => x % 2 == 0)", json!([2, 4])),
        ("@std.reduce([1, 2, 3], (acc, x) => acc + x, 0)", json!(6)),
        (
            "@std.reduce([\"a\", \"b\"], (t, k) => @std.kv(t, k, @std.len(t)), {})",
            json!({"a": 0, "b": 1}),
        ),
        ("@std.find([5, 6, 5], 5)", json!(0)),
        ("@std.rfind([5, 6, 5], 5)", json!(2)),
        ("@std.find([5, 6], 7)", json!(-1)),
        ("@std.find([5, 6, 7], x => x > 5)", json!(1)),
        ("@std.findFirst([5, 6, 7], x => x > 5)", json!(6)),
        ("@std.findFirst([5], x => x > 5)", json!(null)),
        ("@std.distinct([1, 2, 1, [3], [3]])", json!([1, 2, [3]])),
        ("@std.reverse([1, 2, 3])", json!([3, 2, 1])),
        ("@std.reverse(\"abc\")", json!("cba")),
        ("@std.sort([3, 1, 2])", json!([1, 2, 3])),
        ("@std.sort([\"b\", \"a\", \"C\"])", json!(["C", "a", "b"])),
        ("@std.sort([3, 1, 2], (a, b) => b - a)", json!([3, 2, 1])),
        (
            "@std.sort([{n: 2, k: \"x\"}, {n: 1, k: \"y\"}, {n: 2, k: \"z\"}], (a, b) => a.n - b.n)",
            json!([{"n": 1, "k": "y"}, {"n": 2, "k": "x"}, {"n": 2, "k": "z"}]),
        ),
        ("@std.sort([])", json!([])),
        ("@std.slice([1, 2, 3, 4], 1, 3)", json!([2, 3])),
        ("@std.slice([1, 2, 3, 4], -2)", json!([3, 4])),
        ("@std.slice([1, 2], 5)", json!([])),
        ("@std.slice(\"hello\", 1, -1)", json!("ell")),
        ("@std.splice([1, 2, 3, 4], 1, 2)", json!([1, 4])),
        ("@std.splice([1, 2, 3], 1, 0, \"a\", \"b\")", json!([1, "a", "b", 2, 3])),
        ("@std.splice([1, 2, 3], 1)", json!([1])),
        ("@std.range(4)", json!([0, 1, 2, 3])),
        ("@std.range(2, 5)", json!([2, 3, 4])),
        ("@std.range(5, 0, -2)", json!([5, 3, 1])),
        ("@std.range(0)", json!([])),
        ("@std.sum([1, 2, 3.5])", json!(6.5)),
        ("@std.sum([])", json!(0)),
        ("@std.avg([1, 2, 3, 4])", json!(2.5)),
        ("@std.avg([])", json!(null)),
        ("@std.min([3, 1, 2])", json!(1)),
        ("@std.max([3, 1, 2])", json!(3)),
        ("@std.min(4, 2, 8)", json!(2)),
        ("@std.max([])", json!(null)),
        ("@std.stdev([2, 4, 4, 4, 5, 5, 7, 9])", json!(2)),
        ("@std.strToInt(\"42\")", json!(42)),
        ("@std.strToInt(\" -17 \")", json!(-17)),
        ("@std.strToInt(\"3.9\")", json!(3)),
        ("@std.strToInt(-3.9)", json!(-3)),
        ("@std.strToInt(\"1e3\")", json!(1000)),
        ("@std.strToDouble(\"2.5\")", json!(2.5)),
        ("@std.strToDouble(2.5)", json!(2.5)),
        ("@std.typeOf(1)", json!("number")),
        ("@std.typeOf(\"s\")", json!("string")),
        ("@std.typeOf(true)", json!("boolean")),
        ("@std.typeOf(null)", json!("null")),
        ("@std.typeOf({})", json!("object")),
        ("@std.typeOf([])", json!("array")),
        ("@std.typeOf(x => x)", json!("lambda")),
        ("@std.len(@std.uuid())", json!(36)),
        ("@std.uuid()[14]", json!("4")),
        ("@std.contains(\"89ab\", @std.uuid()[19])", json!(true)),
        ("@std.uuid() != @std.uuid()", json!(true)),
        ("@std.len(@std.randomBase64(32))", json!(44)),
        ("@std.randomBase64(0)", json!("")),
        ("@std.jsonPath({a: [{b: 1}, {b: 2}]}, \"$.a[*].b\")", json!([1, 2])),
        ("@std.jsonPath({a: 1}, \"$.missing\")", json!([])),
        ("@std.isValidE164Number(\"+14155552671\")", json!(true)),
        ("@std.isValidE164Number(\"14155552671\")", json!(false)),
        ("@std.isValidE164Number(\"+0123\")", json!(false)),
        ("@std.isValidE164Number(\"+1234567890123456\")", json!(false)),
        ("@std.isValidE164Number(42)", json!(false)),
        ("@std.getE164Number(\"+1 (415) 555-2671\")", json!("+14155552671")),
        ("@std.getE164Number(\"0044 20 7946 0958\")", json!("+442079460958")),
        ("@std.getE164Number(\"020 7946 0958\", \"44\")", json!("+442079460958")),
        ("@std.getE164Number(\"020 7946 0958\", 44)", json!("+442079460958")),
        ("@std.getE164Number(\"020 7946 0958\")", json!(null)),
        ("@std.getE164Number(\"not a phone\")", json!(null)),
    ]);
}

#[test]
fn strings_functions() {
    check_all(&[
        (
            "@strings.toJson({a: [1, \"x\"], b: null})",
            json!("{\"a\":[1,\"x\"],\"b\":null}"),
        ),
        ("@strings.toJson(\"q\\\"\")", json!("\"q\\\"\"")),
        ("@strings.length(\"héllo\")", json!(5)),
        ("@strings.substring(\"hello\", 1, 3)", json!("el")),
        ("@strings.substring(\"hello\", 3, 1)", json!("el")),
        ("@strings.substring(\"hello\", 2)", json!("llo")),
        ("@strings.substring(\"hello\", -5, 99)", json!("hello")),
        ("@strings.toUpperCase(\"abc\")", json!("ABC")),
        ("@strings.toLowerCase(\"ÀBC\")", json!("àbc")),
        ("@strings.trim(\"  x y \\n\")", json!("x y")),
        (
            "@strings.split(\"a,b,,c\", \",\")",
            json!(["a", "b", "", "c"]),
        ),
        ("@strings.split(\"abc\", \"\")", json!(["a", "b", "c"])),
        ("@strings.join([\"a\", 1, true], \"-\")", json!("a-1-true")),
        ("@strings.join([\"a\", \"b\"])", json!("a,b")),
        ("@strings.replace(\"a.b.c\", \".\", \"/\")", json!("a/b/c")),
        ("@strings.replace(\"aaa\", \"aa\", \"b\")", json!("ba")),
        ("@strings.replace(\"x\", \"\", \"-\")", json!("-x-")),
        ("@strings.startsWith(\"hello\", \"he\")", json!(true)),
        ("@strings.endsWith(\"hello\", \"lo\")", json!(true)),
        ("@strings.endsWith(\"hello\", \"he\")", json!(false)),
        ("@strings.indexOf(\"héllo\", \"llo\")", json!(2)),
        ("@strings.indexOf(\"hello\", \"z\")", json!(-1)),
    ]);
}

#[test]
fn time_functions() {
    check_all(&[
        ("@time.now()", json!(1_700_000_000_000i64)),
        ("@time.now", json!(1_700_000_000_000i64)),
        ("@time.nowISO()", json!("2023-11-14T22:13:20.000Z")),
        ("@time.toISO(0)", json!("1970-01-01T00:00:00.000Z")),
        ("@time.toISO(-1)", json!("1969-12-31T23:59:59.999Z")),
        (
            "@time.toISO(951782400123)",
            json!("2000-02-29T00:00:00.123Z"),
        ),
        ("@time.parseISO(\"1970-01-01T00:00:00Z\")", json!(0)),
        (
            "@time.parseISO(\"2024-02-29T12:00:00+02:00\")",
            json!(1_709_200_800_000i64),
        ),
        (
            "@time.parseISO(\"2024-02-29\")",
            json!(1_709_164_800_000i64),
        ),
        (
            "@time.parseISO(\"2000-02-29T00:00:00.123Z\")",
            json!(951_782_400_123i64),
        ),
        ("@time.parseISO(@time.nowISO()) == @time.now()", json!(true)),
    ]);
}

#[test]
fn json_math_crypto_functions() {
    check_all(&[
        (
            "@json.parse(\"{\\\"a\\\": [1, 2.5, null]}\")",
            json!({"a": [1, 2.5, null]}),
        ),
        ("@json.parse(\"3\")", json!(3)),
        ("@json.stringify({a: [1, true]})", json!("{\"a\":[1,true]}")),
        ("@json.stringify(\"s\")", json!("\"s\"")),
        ("@math.abs(-2.5)", json!(2.5)),
        ("@math.ceil(1.2)", json!(2)),
        ("@math.floor(-1.2)", json!(-2)),
        ("@math.round(2.5)", json!(3)),
        ("@math.round(-2.5)", json!(-2)),
        ("@math.round(0.49999999999999994)", json!(0)),
        ("@math.min(3, 1, 2)", json!(1)),
        ("@math.max([3, 1, 2])", json!(3)),
        ("@math.pow(2, 10)", json!(1024)),
        ("@math.sqrt(16)", json!(4)),
        ("let r = @math.random() return r >= 0 && r < 1", json!(true)),
        (
            "@crypto.sha256(\"abc\")",
            json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ),
        (
            "@crypto.hmacSha256(\"key\", \"The quick brown fox jumps over the lazy dog\")",
            json!("f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"),
        ),
        ("@crypto.base64Encode(\"hello\")", json!("aGVsbG8=")),
        ("@crypto.base64Decode(\"aGVsbG8=\")", json!("hello")),
        ("@crypto.base64UrlEncode(\"hi?>\")", json!("aGk_Pg")),
        ("@crypto.base64UrlDecode(\"aGk_Pg\")", json!("hi?>")),
        (
            "@crypto.extractTokenHeader(@policy.request().body.external_access_token)",
            json!({"alg": "RS256", "kid": "k1"}),
        ),
    ]);
}

#[test]
fn template_fields() {
    use tessera_expr::{compile_template, eval_sync, Context, SeededRandom};
    let host = crate::support::TestHost::default();
    let random = SeededRandom::new(1);
    let ctx = Context::new(crate::support::NOW_MS, &random, &host);
    let scope = crate::support::scope();
    for (src, expected) in [
        ("Hi ${user.name}", "Hi Ann"),
        (
            "plain text with `backticks` and \"quotes\"",
            "plain text with `backticks` and \"quotes\"",
        ),
        ("${n}", "7"),
        ("", ""),
        ("cost: \\${n} = ${n * 2}", "cost: ${n} = 14"),
        ("${ {a: 1} }", "{\"a\":1}"),
    ] {
        let program = compile_template(src).unwrap();
        assert!(program.is_template());
        let v = eval_sync(&program, &scope, &ctx).unwrap();
        assert_eq!(v.as_str(), Some(expected), "template `{src}`");
        let reparsed = compile_template(&program.to_source()).unwrap();
        assert_eq!(reparsed, program, "template round trip `{src}`");
    }
}
