//! The pretty-printer: syntax tree → source text that parses back to the same tree.
//!
//! It adds only the parentheses the tree needs (by precedence and associativity): the parser's
//! nesting limit counts parentheses, so a printer that parenthesized every operand could turn a
//! program that compiles into one that does not. Numbers print the way JavaScript prints them,
//! which the lexer reads back exactly.

use crate::ast::{Expr, ExprKind, Function, TemplatePart};
use crate::number_format::write_js_number;
use crate::parser::is_identifier;

/// Prints an expression.
pub fn print_expr(e: &Expr) -> String {
    let mut out = String::new();
    write_full(&mut out, e);
    out
}

/// Prints the parts of an interpolated-string field (no surrounding backticks).
pub(crate) fn print_template_field(e: &Expr) -> String {
    let mut out = String::new();
    match &e.kind {
        ExprKind::Template(parts) => write_template_parts(&mut out, parts),
        _ => {
            out.push_str("${");
            write_full(&mut out, e);
            out.push('}');
        }
    }
    out
}

/// Whether `e` needs parentheses as the object of `.`/`[…]`.
fn is_compound(e: &Expr) -> bool {
    matches!(
        e.kind,
        ExprKind::Binary(..)
            | ExprKind::Unary(..)
            | ExprKind::Conditional(..)
            | ExprKind::Let { .. }
            | ExprKind::Try(..)
            | ExprKind::Lambda(_)
    )
}

/// Whether `e` extends as far right as possible (and so must be parenthesized as an operand).
fn is_open_ended(e: &Expr) -> bool {
    matches!(
        e.kind,
        ExprKind::Conditional(..) | ExprKind::Let { .. } | ExprKind::Try(..) | ExprKind::Lambda(_)
    )
}

fn write_parenthesized(out: &mut String, e: &Expr, parens: bool, tail: bool) {
    if parens {
        out.push('(');
        write_node(out, e, true);
        out.push(')');
    } else {
        write_node(out, e, tail);
    }
}

/// Whether an open-ended `e` needs parentheses as an operand. A lambda is a primary, so at the
/// very end of an expression (`tail`) it needs none; `let`, `try` and `?:` always do.
fn operand_needs_parens(e: &Expr, tail: bool) -> bool {
    match e.kind {
        ExprKind::Lambda(_) => !tail,
        _ => is_open_ended(e),
    }
}

/// Writes an operand of a binary operator with precedence `parent`; `right` for the right side
/// (all binary operators are left-associative).
fn write_binary_operand(out: &mut String, e: &Expr, parent: u8, right: bool, tail: bool) {
    let tail = right && tail;
    let parens = match &e.kind {
        ExprKind::Binary(op, ..) => {
            let p = op.precedence();
            p < parent || (right && p == parent)
        }
        _ => operand_needs_parens(e, tail),
    };
    write_parenthesized(out, e, parens, tail);
}

/// Writes `e` in a position that accepts any expression (delimited by `,`, `)`, `]`, `}`, or
/// the end of input).
fn write_full(out: &mut String, e: &Expr) {
    write_node(out, e, true);
}

/// Writes `e` as an operand, parenthesized when compound.
fn write_operand(out: &mut String, e: &Expr) {
    write_parenthesized(out, e, is_compound(e), false);
}

fn write_list(out: &mut String, items: &[Expr]) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_full(out, item);
    }
}

/// Writes `e`; `tail` says nothing follows it up to a delimiter, so an open-ended lambda there
/// needs no parentheses.
fn write_node(out: &mut String, e: &Expr, tail: bool) {
    match &e.kind {
        ExprKind::Null => out.push_str("null"),
        ExprKind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        ExprKind::Number(n) => write_js_number(out, *n),
        ExprKind::String(s) => write_string_literal(out, s),
        ExprKind::Template(parts) => {
            out.push('`');
            write_template_parts(out, parts);
            out.push('`');
        }
        ExprKind::Array(items) => {
            out.push('[');
            write_list(out, items);
            out.push(']');
        }
        ExprKind::Object(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                if is_identifier(k) {
                    out.push_str(k);
                } else {
                    write_string_literal(out, k);
                }
                out.push_str(": ");
                write_full(out, v);
            }
            out.push('}');
        }
        ExprKind::Global(name) | ExprKind::Local { name, .. } => out.push_str(name),
        ExprKind::Member {
            object,
            key,
            optional,
        } => {
            write_operand(out, object);
            out.push_str(if *optional { "?." } else { "." });
            out.push_str(key);
        }
        ExprKind::Index {
            object,
            index,
            optional,
        } => {
            write_operand(out, object);
            out.push_str(if *optional { "?.[" } else { "[" });
            write_full(out, index);
            out.push(']');
        }
        ExprKind::Unary(op, operand) => {
            out.push_str(op.symbol());
            let parens =
                matches!(operand.kind, ExprKind::Binary(..)) || operand_needs_parens(operand, tail);
            write_parenthesized(out, operand, parens, tail);
        }
        ExprKind::Binary(op, lhs, rhs) => {
            write_binary_operand(out, lhs, op.precedence(), false, tail);
            out.push(' ');
            out.push_str(op.symbol());
            out.push(' ');
            write_binary_operand(out, rhs, op.precedence(), true, tail);
        }
        ExprKind::Conditional(c, a, b) => {
            write_parenthesized(out, c, is_open_ended(c), false);
            out.push_str(" ? ");
            write_full(out, a);
            out.push_str(" : ");
            write_node(out, b, tail);
        }
        ExprKind::Let { bindings, body } => {
            out.push_str("let ");
            for (i, (name, value)) in bindings.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(name);
                out.push_str(" = ");
                write_full(out, value);
            }
            out.push_str(" return ");
            write_node(out, body, tail);
        }
        ExprKind::Try(body, alternative) => {
            out.push_str("try ");
            write_full(out, body);
            out.push_str(" catch ");
            write_node(out, alternative, tail);
        }
        ExprKind::Lambda(def) => {
            out.push('(');
            for (i, p) in def.params.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(p);
            }
            out.push_str(") => ");
            write_node(out, &def.body, tail);
        }
        ExprKind::Call {
            function,
            args,
            parens,
        } => {
            out.push('@');
            match function {
                Function::Builtin(b) => {
                    out.push_str(b.namespace);
                    out.push('.');
                    out.push_str(b.name);
                }
                Function::Policy(p) => {
                    out.push_str("policy.");
                    out.push_str(p.name());
                }
                Function::VerifyToken => out.push_str("crypto.verifyToken"),
                Function::WebRequest(name) => {
                    out.push_str("webrequests.");
                    out.push_str(name);
                }
            }
            if *parens {
                out.push('(');
                write_list(out, args);
                out.push(')');
            }
        }
        ExprKind::CallLambda { callee, args } => {
            out.push_str("@(");
            write_full(out, callee);
            out.push_str(")(");
            write_list(out, args);
            out.push(')');
        }
        ExprKind::TimeObject => out.push_str("@time()"),
    }
}

fn write_template_parts(out: &mut String, parts: &[TemplatePart]) {
    for part in parts {
        match part {
            TemplatePart::Text(t) => {
                for c in t.chars() {
                    match c {
                        '`' | '$' | '\\' => {
                            out.push('\\');
                            out.push(c);
                        }
                        c => out.push(c),
                    }
                }
            }
            TemplatePart::Expr(e) => {
                out.push_str("${");
                write_full(out, e);
                out.push('}');
            }
        }
    }
}

fn write_string_literal(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
