//! Property test: random syntax trees are rendered to source, and for each
//! parse(print(parse(s))) == parse(s), and printing is stable.

use proptest::prelude::*;
use tessera_expr::compile;

/// A test-side syntax tree, rendered to source text with extra parentheses where harmless.
#[derive(Debug, Clone)]
enum G {
    Num(f64),
    Str(String),
    Bool(bool),
    Null,
    Var(&'static str),
    Unary(&'static str, Box<G>),
    Binary(&'static str, Box<G>, Box<G>),
    Cond(Box<G>, Box<G>, Box<G>),
    Member(Box<G>, &'static str, bool),
    Index(Box<G>, Box<G>, bool),
    Array(Vec<G>),
    Object(Vec<(String, G)>),
    Template(Vec<(String, G)>, String),
    Let(Vec<(&'static str, G)>, Box<G>),
    Try(Box<G>, Box<G>),
    Lambda(Vec<&'static str>, Box<G>),
    Call(&'static str, Vec<G>),
    CallLambda(Box<G>, Vec<G>),
}

const NAMES: &[&str] = &["a", "b", "user", "x1", "_y", "é"];
const KEYS: &[&str] = &["k", "name", "null", "return", "ü", "x_2"];
const BINARY: &[&str] = &[
    "*", "/", "%", "+", "-", "<<", ">>", "<", "<=", ">", ">=", "==", "!=", "&", "^", "|", "&&",
    "||", "??",
];

fn text() -> impl Strategy<Value = String> {
    prop::string::string_regex("[a-z $`\\\\{}\"\n\t\u{1}é😀]{0,6}").unwrap()
}

fn leaf() -> impl Strategy<Value = G> {
    prop_oneof![
        (0u32..100000).prop_map(|n| G::Num(f64::from(n))),
        (0.0f64..1e30).prop_map(G::Num),
        prop::num::f64::POSITIVE
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(G::Num),
        text().prop_map(G::Str),
        any::<bool>().prop_map(G::Bool),
        Just(G::Null),
        prop::sample::select(NAMES).prop_map(G::Var),
        Just(G::Call("@time()", vec![])),
        Just(G::Call("@time.now", vec![])),
        Just(G::Call("@policy.isUserAuthenticated", vec![])),
        Just(G::Call("@std.uuid()", vec![])),
    ]
}

fn tree() -> impl Strategy<Value = G> {
    leaf().prop_recursive(4, 48, 4, |inner| {
        let boxed = inner.clone().prop_map(Box::new);
        prop_oneof![
            (prop::sample::select(&["-", "!", "~"][..]), boxed.clone())
                .prop_map(|(o, e)| G::Unary(o, e)),
            (prop::sample::select(BINARY), boxed.clone(), boxed.clone())
                .prop_map(|(o, a, b)| G::Binary(o, a, b)),
            (boxed.clone(), boxed.clone(), boxed.clone()).prop_map(|(a, b, c)| G::Cond(a, b, c)),
            (boxed.clone(), prop::sample::select(KEYS), any::<bool>())
                .prop_map(|(o, k, opt)| G::Member(o, k, opt)),
            (boxed.clone(), boxed.clone(), any::<bool>())
                .prop_map(|(o, i, opt)| G::Index(o, i, opt)),
            prop::collection::vec(inner.clone(), 0..3).prop_map(G::Array),
            prop::collection::vec((text(), inner.clone()), 0..3).prop_map(G::Object),
            (prop::collection::vec((text(), inner.clone()), 0..3), text())
                .prop_map(|(parts, tail)| G::Template(parts, tail)),
            (
                prop::collection::vec((prop::sample::select(NAMES), inner.clone()), 1..3),
                boxed.clone()
            )
                .prop_map(|(b, body)| G::Let(b, body)),
            (boxed.clone(), boxed.clone()).prop_map(|(a, b)| G::Try(a, b)),
            (prop::sample::subsequence(NAMES, 0..3), boxed.clone())
                .prop_map(|(p, body)| G::Lambda(p, body)),
            prop::collection::vec(inner.clone(), 2..3).prop_map(|a| G::Call("@std.contains", a)),
            prop::collection::vec(inner.clone(), 1..2).prop_map(|a| G::Call("@std.len", a)),
            prop::collection::vec(inner.clone(), 0..3).prop_map(|a| G::Call("@webrequests.svc", a)),
            (boxed, prop::collection::vec(inner, 0..3)).prop_map(|(c, a)| G::CallLambda(c, a)),
        ]
    })
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn template_text(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if matches!(c, '`' | '$' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn list(items: &[G]) -> String {
    items.iter().map(render).collect::<Vec<_>>().join(", ")
}

/// Renders with parentheses around every operand, so the intended tree is unambiguous.
fn render(g: &G) -> String {
    match g {
        G::Num(n) => tessera_expr::js_number_to_string(*n),
        G::Str(s) => quote(s),
        G::Bool(b) => b.to_string(),
        G::Null => "null".into(),
        G::Var(v) => (*v).into(),
        G::Unary(o, e) => format!("{o}({})", render(e)),
        G::Binary(o, a, b) => format!("({}) {o} ({})", render(a), render(b)),
        G::Cond(a, b, c) => format!("({}) ? ({}) : ({})", render(a), render(b), render(c)),
        G::Member(o, k, opt) => format!("({}){}{k}", render(o), if *opt { "?." } else { "." }),
        G::Index(o, i, opt) => format!(
            "({}){}{}]",
            render(o),
            if *opt { "?.[" } else { "[" },
            render(i)
        ),
        G::Array(items) => format!("[{}]", list(items)),
        G::Object(entries) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(k, v)| format!("{}: {}", quote(k), render(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        G::Template(parts, tail) => {
            let mut s = String::from("`");
            for (t, e) in parts {
                s.push_str(&template_text(t));
                s.push_str("${");
                s.push_str(&render(e));
                s.push('}');
            }
            s.push_str(&template_text(tail));
            s.push('`');
            s
        }
        G::Let(bindings, body) => format!(
            "(let {} return {})",
            bindings
                .iter()
                .map(|(n, v)| format!("{n} = ({})", render(v)))
                .collect::<Vec<_>>()
                .join(", "),
            render(body)
        ),
        G::Try(a, b) => format!("(try ({}) catch ({}))", render(a), render(b)),
        G::Lambda(params, body) => {
            let mut unique: Vec<&str> = Vec::new();
            for p in params {
                if !unique.contains(p) {
                    unique.push(p);
                }
            }
            format!("(({}) => {})", unique.join(", "), render(body))
        }
        G::Call(name, args) => {
            if args.is_empty() && !name.starts_with("@webrequests") {
                (*name).into()
            } else {
                format!("{name}({})", list(args))
            }
        }
        G::CallLambda(c, args) => format!("@({})({})", render(c), list(args)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_print_parse(g in tree()) {
        let src = render(&g);
        let first = compile(&src).map_err(|e| TestCaseError::fail(format!("{}\n{src}", e.render())))?;
        let printed = first.to_source();
        let second = compile(&printed).map_err(|e| TestCaseError::fail(format!("{}\n{printed}", e.render())))?;
        prop_assert_eq!(&first, &second, "source: {}\nprinted: {}", src, printed);
        prop_assert_eq!(second.to_source(), printed);
    }
}

#[test]
fn printer_examples() {
    for (src, printed) in [
        ("1+2*3", "1 + 2 * 3"),
        ("(1+2)*3", "(1 + 2) * 3"),
        ("1-(2-3)", "1 - (2 - 3)"),
        ("(1-2)-3", "1 - 2 - 3"),
        ("a || b ?? c", "a || b ?? c"),
        ("a ?? (b || c)", "a ?? (b || c)"),
        ("-(-1)", "--1"),
        ("-(1+2)", "-(1 + 2)"),
        ("(-a).b", "(-a).b"),
        ("a ? b : c ? d : e", "a ? b : c ? d : e"),
        ("(a ? b : c) ? d : e", "(a ? b : c) ? d : e"),
        ("1 + (x => x)", "1 + (x) => x"),
        ("(1 + (x => x)) + 2", "1 + ((x) => x) + 2"),
        ("-(x => x)", "-(x) => x"),
        ("a?.b?.[\"c\"].d", "a?.b?.[\"c\"].d"),
        (
            "let a = 1, b = a return @(x => x + b)(a)",
            "let a = 1, b = a return @((x) => x + b)(a)",
        ),
        (
            "{\"a b\": `t ${1e21} \\$`, c: -0.5}",
            "{\"a b\": `t ${1e+21} \\$`, c: -0.5}",
        ),
        ("@policy.isUserAuthenticated", "@policy.isUserAuthenticated"),
        ("try 1/0 catch e => e.code", "try 1 / 0 catch (e) => e.code"),
    ] {
        assert_eq!(compile(src).unwrap().to_source(), printed, "`{src}`");
    }
}
