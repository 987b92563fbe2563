//! The syntax tree produced by the parser and walked by the evaluator and the printer.
//!
//! Names are resolved while parsing: function calls point at their builtin entry or host
//! function, and identifiers bound by `let` or lambda parameters become frame slots, so
//! evaluation never looks names up in a table except for the caller's scope variables.
//!
//! Equality ignores source positions ([`Span`] always compares equal), so two trees compare equal
//! when they have the same structure; the print/parse round-trip test relies on this.

use std::sync::Arc;

use crate::functions::Builtin;

/// A 1-based source position. Spans never take part in equality (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub struct Span {
    /// 1-based line.
    pub line: u32,
    /// 1-based column in characters.
    pub column: u32,
}

impl PartialEq for Span {
    fn eq(&self, _other: &Span) -> bool {
        true
    }
}

/// A node of the tree: what it is, where it starts, and how deep the subtree below it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// The node.
    pub kind: ExprKind,
    /// Where the node starts in the source.
    pub span: Span,
    /// Height of the subtree (a leaf is 1); bounded by `Limits::max_nesting_depth`.
    pub depth: u32,
}

impl Expr {
    /// Builds a node, computing its height from its children.
    pub(crate) fn new(kind: ExprKind, span: Span) -> Expr {
        let child = match &kind {
            ExprKind::Null
            | ExprKind::Bool(_)
            | ExprKind::Number(_)
            | ExprKind::String(_)
            | ExprKind::Global(_)
            | ExprKind::Local { .. }
            | ExprKind::TimeObject => 0,
            ExprKind::Template(parts) => parts
                .iter()
                .map(|p| match p {
                    TemplatePart::Text(_) => 0,
                    TemplatePart::Expr(e) => e.depth,
                })
                .max()
                .unwrap_or(0),
            ExprKind::Array(items) => items.iter().map(|e| e.depth).max().unwrap_or(0),
            ExprKind::Object(entries) => entries.iter().map(|(_, e)| e.depth).max().unwrap_or(0),
            ExprKind::Member { object, .. } => object.depth,
            ExprKind::Index { object, index, .. } => object.depth.max(index.depth),
            ExprKind::Unary(_, e) => e.depth,
            ExprKind::Binary(_, a, b) | ExprKind::Try(a, b) => a.depth.max(b.depth),
            ExprKind::Conditional(a, b, c) => a.depth.max(b.depth).max(c.depth),
            ExprKind::Let { bindings, body } => bindings
                .iter()
                .map(|(_, e)| e.depth)
                .max()
                .unwrap_or(0)
                .max(body.depth),
            ExprKind::Lambda(def) => def.body.depth,
            ExprKind::Call { args, .. } => args.iter().map(|e| e.depth).max().unwrap_or(0),
            ExprKind::CallLambda { callee, args } => args
                .iter()
                .map(|e| e.depth)
                .max()
                .unwrap_or(0)
                .max(callee.depth),
        };
        Expr {
            kind,
            span,
            depth: child.saturating_add(1),
        }
    }
}

/// Every kind of expression.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number literal (never negative: `-1` is a unary minus applied to `1`).
    Number(f64),
    /// A string literal.
    String(Arc<str>),
    /// A backtick template or a compiled interpolated-string field.
    Template(Vec<TemplatePart>),
    /// `[a, b]`
    Array(Vec<Expr>),
    /// `{a: 1, "b": 2}`
    Object(Vec<(Arc<str>, Expr)>),
    /// A variable from the caller's [`crate::Scope`].
    Global(Arc<str>),
    /// A variable bound by `let` or a lambda parameter, as a slot in the current frame.
    Local {
        /// The name as written.
        name: Arc<str>,
        /// Slot index in the current frame.
        slot: u32,
    },
    /// `a.b` or `a?.b`
    Member {
        /// The object.
        object: Box<Expr>,
        /// The key.
        key: Arc<str>,
        /// Written with `?.`.
        optional: bool,
    },
    /// `a[k]` or `a?.[k]`
    Index {
        /// The object or array.
        object: Box<Expr>,
        /// The key or index.
        index: Box<Expr>,
        /// Written with `?.`.
        optional: bool,
    },
    /// `-a`, `!a`, `~a`
    Unary(UnaryOp, Box<Expr>),
    /// `a op b`
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `c ? a : b`
    Conditional(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `let a = 1, b = a return body`; binding `i` lives in slot `first_slot + i`.
    Let {
        /// The bindings in order.
        bindings: Vec<(Arc<str>, Expr)>,
        /// The `return` expression.
        body: Box<Expr>,
    },
    /// `try body catch alternative`
    Try(Box<Expr>, Box<Expr>),
    /// `(a, b) => body`
    Lambda(Arc<LambdaDef>),
    /// `@ns.fn(args)`, or `@ns.fn` without parentheses (a zero-argument call).
    Call {
        /// The resolved function.
        function: Function,
        /// The arguments.
        args: Vec<Expr>,
        /// False when written without parentheses.
        parens: bool,
    },
    /// `@(callee)(args)`
    CallLambda {
        /// The expression yielding the lambda.
        callee: Box<Expr>,
        /// The arguments.
        args: Vec<Expr>,
    },
    /// `@time()`, which yields `{now, nowISO}`.
    TimeObject,
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplatePart {
    /// Literal text (escapes already resolved).
    Text(Arc<str>),
    /// `${expr}`
    Expr(Expr),
}

/// A lambda's definition: its parameters and body, plus how many enclosing slots it captures.
#[derive(Debug, PartialEq)]
pub struct LambdaDef {
    /// Parameter names.
    pub params: Vec<Arc<str>>,
    /// The body. Inside it slots `0..captured` are the captured locals, then the parameters.
    pub body: Expr,
    /// Number of enclosing frame slots visible at the lambda's definition.
    pub captured: u32,
}

/// A function reference resolved at compile time.
#[derive(Debug, Clone, PartialEq)]
pub enum Function {
    /// A pure function implemented in this crate.
    Builtin(&'static Builtin),
    /// `@policy.*`: a synchronous host lookup.
    Policy(crate::PolicyFunction),
    /// `@crypto.verifyToken(token, connection)`: an asynchronous host call.
    VerifyToken,
    /// `@webrequests.<name>(args)`: an asynchronous host call.
    WebRequest(Arc<str>),
}

/// Prefix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-`
    Neg,
    /// `!`
    Not,
    /// `~`
    BitNot,
}

/// Infix operators, with precedence given by [`BinaryOp::precedence`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `<<`
    Shl,
    /// `>>`
    Shr,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `&`
    BitAnd,
    /// `^`
    BitXor,
    /// `|`
    BitOr,
    /// `&&`
    And,
    /// `||`
    Or,
    /// `??`
    Nullish,
}

impl BinaryOp {
    /// Binding strength: higher binds tighter. All binary operators are left-associative.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => 10,
            BinaryOp::Add | BinaryOp::Sub => 9,
            BinaryOp::Shl | BinaryOp::Shr => 8,
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => 7,
            BinaryOp::Eq | BinaryOp::Ne => 6,
            BinaryOp::BitAnd => 5,
            BinaryOp::BitXor => 4,
            BinaryOp::BitOr => 3,
            BinaryOp::And => 2,
            BinaryOp::Or | BinaryOp::Nullish => 1,
        }
    }

    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Shl => "<<",
            BinaryOp::Shr => ">>",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::BitAnd => "&",
            BinaryOp::BitXor => "^",
            BinaryOp::BitOr => "|",
            BinaryOp::And => "&&",
            BinaryOp::Or => "||",
            BinaryOp::Nullish => "??",
        }
    }
}

impl UnaryOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            UnaryOp::Neg => "-",
            UnaryOp::Not => "!",
            UnaryOp::BitNot => "~",
        }
    }
}
