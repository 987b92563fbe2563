//! Tessera's journey expression language, compatible with Mosaic's "AuthScript".
//!
//! Expressions are compiled once ([`compile`], [`compile_template`]) into a [`Program`] and
//! evaluated many times against a [`Scope`] of variables and a [`Context`] (clock, randomness,
//! [`Limits`], an optional [`Deadline`], [`Host`]). Every evaluation is bounded in steps, time,
//! value depth and sizes; shared values are never expanded without a bound. Pure programs run with [`eval_sync`]; programs that make IO calls
//! (`@webrequests.*`, `@crypto.verifyToken`) need [`eval`], which is async. See `README.md` in
//! this crate for the language reference.
//!
//! Architecture invariant: this crate does no IO and depends on no other workspace crate.
//!
//! **Security note:** `@crypto.extractTokenClaims` and `@crypto.extractTokenHeader` decode a JWT
//! **without verifying its signature**. Never base a decision on their output; use
//! `@crypto.verifyToken`. [`Program::uses_unverified_token_decoding`] lets tools warn.

mod ast;
mod context;
mod convert;
mod equality;
mod error;
mod eval;
mod functions;
mod lexer;
mod number_format;
mod ops;
mod parser;
mod print;
mod value;

use std::sync::Arc;

pub use ast::{BinaryOp, Expr, ExprKind, Function, LambdaDef, Span, TemplatePart, UnaryOp};
pub use context::{
    BoxFuture, Context, Deadline, EmptyScope, Host, HostCall, Limits, NoHost, PolicyFunction,
    RandomSource, Scope, SeededRandom, DEADLINE_CHECK_INTERVAL,
};
pub use convert::{ConvertError, DEFAULT_MAX_CONVERSION_SIZE};
pub use error::{ErrorCode, EvalError, HostError, ParseError};
pub use functions::{all_builtins, iso_from_ms, Builtin};
pub use number_format::js_number_to_string;
pub use print::print_expr;
pub use value::{Array, Children, Lambda, Map, Object, Shared, Value, VALUE_DEPTH_CEILING};

use eval::{Evaluator, Replay};

/// A compiled expression or interpolated-string field.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    root: Expr,
    is_async: bool,
    is_template: bool,
}

impl Program {
    /// True when the program calls asynchronous host functions and must be run with [`eval`].
    pub fn is_async(&self) -> bool {
        self.is_async
    }

    /// True when compiled with [`compile_template`].
    pub fn is_template(&self) -> bool {
        self.is_template
    }

    /// The syntax tree.
    pub fn root(&self) -> &Expr {
        &self.root
    }

    /// Source text that compiles (with the same function) to an equal program.
    pub fn to_source(&self) -> String {
        if self.is_template {
            print::print_template_field(&self.root)
        } else {
            print_expr(&self.root)
        }
    }

    /// True when the program calls `@crypto.extractTokenClaims` or `extractTokenHeader`, which
    /// do not verify signatures (for `journey check` warnings).
    pub fn uses_unverified_token_decoding(&self) -> bool {
        let mut found = false;
        visit(&self.root, &mut |e| {
            if let ExprKind::Call {
                function: Function::Builtin(b),
                ..
            } = &e.kind
            {
                if b.namespace == "crypto" && b.name.starts_with("extractToken") {
                    found = true;
                }
            }
        });
        found
    }

    /// Names of the scope variables the program reads, in first-use order, without repeats.
    pub fn global_variables(&self) -> Vec<Arc<str>> {
        let mut names: Vec<Arc<str>> = Vec::new();
        visit(&self.root, &mut |e| {
            if let ExprKind::Global(name) = &e.kind {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        });
        names
    }
}

/// Calls `f` on every node (pre-order). Recursion is bounded by the tree height limit.
fn visit(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match &e.kind {
        ExprKind::Template(parts) => {
            for p in parts {
                if let TemplatePart::Expr(x) = p {
                    visit(x, f);
                }
            }
        }
        ExprKind::Array(items) | ExprKind::Call { args: items, .. } => {
            items.iter().for_each(|x| visit(x, f))
        }
        ExprKind::Object(entries) => entries.iter().for_each(|(_, x)| visit(x, f)),
        ExprKind::Member { object, .. } => visit(object, f),
        ExprKind::Index { object, index, .. } => {
            visit(object, f);
            visit(index, f);
        }
        ExprKind::Unary(_, x) => visit(x, f),
        ExprKind::Binary(_, a, b) | ExprKind::Try(a, b) => {
            visit(a, f);
            visit(b, f);
        }
        ExprKind::Conditional(a, b, c) => {
            visit(a, f);
            visit(b, f);
            visit(c, f);
        }
        ExprKind::Let { bindings, body } => {
            bindings.iter().for_each(|(_, x)| visit(x, f));
            visit(body, f);
        }
        ExprKind::Lambda(def) => visit(&def.body, f),
        ExprKind::CallLambda { callee, args } => {
            visit(callee, f);
            args.iter().for_each(|x| visit(x, f));
        }
        ExprKind::Null
        | ExprKind::Bool(_)
        | ExprKind::Number(_)
        | ExprKind::String(_)
        | ExprKind::Global(_)
        | ExprKind::Local { .. }
        | ExprKind::TimeObject => {}
    }
}

/// Compiles an expression field with the default nesting limit.
pub fn compile(source: &str) -> Result<Program, ParseError> {
    compile_with_limits(source, &Limits::default())
}

/// Compiles an expression field using `limits.max_nesting_depth`.
pub fn compile_with_limits(source: &str, limits: &Limits) -> Result<Program, ParseError> {
    let parsed = parser::Parser::new(source, limits.max_nesting_depth).parse_program()?;
    Ok(Program {
        root: parsed.root,
        is_async: parsed.is_async,
        is_template: false,
    })
}

/// Compiles an interpolated-string field: literal text with `${expr}` parts (escapes
/// `` \` `` `\$` `\\`). Evaluating it always yields a string.
pub fn compile_template(source: &str) -> Result<Program, ParseError> {
    compile_template_with_limits(source, &Limits::default())
}

/// [`compile_template`] using `limits.max_nesting_depth`.
pub fn compile_template_with_limits(source: &str, limits: &Limits) -> Result<Program, ParseError> {
    let parsed = parser::Parser::new(source, limits.max_nesting_depth).parse_template_program()?;
    Ok(Program {
        root: parsed.root,
        is_async: parsed.is_async,
        is_template: true,
    })
}

/// Evaluates a program that makes no IO calls. A program with [`Program::is_async`] fails with
/// [`ErrorCode::AsyncRequired`] (so does calling, from a pure program, a lambda value that makes
/// IO calls).
pub fn eval_sync(
    program: &Program,
    scope: &dyn Scope,
    ctx: &Context<'_>,
) -> Result<Value, EvalError> {
    if program.is_async {
        return Err(EvalError::new(
            ErrorCode::AsyncRequired,
            "this expression makes IO calls and needs asynchronous evaluation",
            program.root.span,
        ));
    }
    let mut evaluator = Evaluator::new(ctx, scope, None);
    let result = evaluator.eval(&program.root);
    ctx.record_steps(evaluator.steps());
    result
}

/// Evaluates any program; IO calls go to [`Host::call`] and count against
/// `ctx.limits.max_outbound_calls`. For programs without IO this is [`eval_sync`].
///
/// IO calls are handled by deterministic replay: when evaluation reaches a call whose result is
/// unknown it stops, the call is awaited, and evaluation restarts from the beginning with the
/// recorded results (and recorded random bytes). Expressions are pure apart from host calls, so
/// the replay takes the same path; `@policy.*` lookups are repeated and must be stable.
pub async fn eval(
    program: &Program,
    scope: &(dyn Scope + Sync),
    ctx: &Context<'_>,
) -> Result<Value, EvalError> {
    if !program.is_async {
        return eval_sync(program, scope, ctx);
    }
    let mut replay = Replay::default();
    loop {
        replay.next = 0;
        replay.random_pos = 0;
        replay.pending = None;
        // A block, not `drop`: the evaluator (which is not `Send`) must not live across the
        // `.await` below, or the future would not be `Send`.
        let result = {
            let mut evaluator = Evaluator::new(ctx, scope, Some(&mut replay));
            let result = evaluator.eval(&program.root);
            ctx.record_steps(evaluator.steps());
            result
        };
        match result {
            Err(e) if e.code == ErrorCode::Suspended => {
                let Some((call, span)) = replay.pending.take() else {
                    return Err(EvalError::new(
                        ErrorCode::HostError,
                        "internal: evaluation suspended without a call",
                        program.root.span,
                    ));
                };
                let outcome = if ctx.reserve_outbound_call() {
                    ctx.host
                        .call(call)
                        .await
                        .map_err(|e| EvalError::new(ErrorCode::HostError, e.message, span))
                } else {
                    Err(EvalError::new(
                        ErrorCode::LimitExceeded,
                        "outbound call limit exceeded",
                        span,
                    ))
                };
                replay.results.push(outcome);
            }
            other => return other,
        }
    }
}
