//! Recursive-descent parser (precedence climbing for binary operators) with name resolution.
//!
//! Recursion is bounded by `max_nesting_depth`, and so is the height of the tree it builds
//! (left-associative chains such as `a+b+c+…` are built in a loop but still counted), so neither
//! the parser nor the evaluator can overflow the stack on hostile input.

use std::sync::Arc;

use crate::ast::{BinaryOp, Expr, ExprKind, Function, LambdaDef, Span, TemplatePart, UnaryOp};
use crate::error::ParseError;
use crate::functions;
use crate::lexer::{Chunk, LexError, Lexer, Token};
use crate::PolicyFunction;

type PResult<T> = Result<T, ParseError>;

const KEYWORDS: &[&str] = &["true", "false", "null", "let", "return", "try", "catch"];

/// Whether `name` can be written as a bare identifier (and is not a keyword).
pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&name)
}

/// The result of parsing: the tree plus facts the compiler records on the program.
pub(crate) struct Parsed {
    pub root: Expr,
    pub is_async: bool,
}

pub(crate) struct Parser<'s> {
    src: &'s str,
    lexer: Lexer<'s>,
    peeked: Option<(Token, Span)>,
    recursion: u32,
    max_depth: u32,
    /// Names of the slots of every open frame; the current frame starts at `frame_base`.
    locals: Vec<Arc<str>>,
    frame_base: usize,
    is_async: bool,
}

impl<'s> Parser<'s> {
    pub fn new(src: &'s str, max_depth: u32) -> Self {
        Parser {
            src,
            lexer: Lexer::new(src),
            peeked: None,
            recursion: 0,
            max_depth,
            locals: Vec::new(),
            frame_base: 0,
            is_async: false,
        }
    }

    /// Parses a whole expression.
    pub fn parse_program(mut self) -> PResult<Parsed> {
        let root = self.expr()?;
        let (tok, span) = self.next()?;
        if tok != Token::Eof {
            return Err(self.error_at(span, format!("unexpected {}", describe(&tok))));
        }
        Ok(Parsed {
            root,
            is_async: self.is_async,
        })
    }

    /// Parses a whole interpolated-string field (text with `${…}` parts, no backticks).
    pub fn parse_template_program(mut self) -> PResult<Parsed> {
        let span = self.lexer.span();
        let root = self.template(true, span)?;
        Ok(Parsed {
            root,
            is_async: self.is_async,
        })
    }

    fn error_at(&self, span: Span, message: impl Into<String>) -> ParseError {
        ParseError::new(self.src, span.line, span.column, message)
    }

    fn lex_error(&self, e: LexError) -> ParseError {
        self.error_at(e.span, e.message)
    }

    fn peek(&mut self) -> PResult<&Token> {
        if self.peeked.is_none() {
            let t = self.lexer.next_token().map_err(|e| self.lex_error(e))?;
            self.peeked = Some(t);
        }
        match &self.peeked {
            Some((t, _)) => Ok(t),
            None => Ok(&Token::Eof),
        }
    }

    fn peek_span(&mut self) -> PResult<Span> {
        self.peek()?;
        Ok(self.peeked.as_ref().map(|(_, s)| *s).unwrap_or_default())
    }

    fn next(&mut self) -> PResult<(Token, Span)> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lexer.next_token().map_err(|e| self.lex_error(e)),
        }
    }

    fn at_punct(&mut self, p: &str) -> PResult<bool> {
        Ok(matches!(self.peek()?, Token::Punct(q) if *q == p))
    }

    fn eat_punct(&mut self, p: &str) -> PResult<bool> {
        if self.at_punct(p)? {
            self.next()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn at_keyword(&mut self, k: &str) -> PResult<bool> {
        Ok(matches!(self.peek()?, Token::Ident(name) if name == k))
    }

    fn expect_punct(&mut self, p: &str) -> PResult<Span> {
        let (tok, span) = self.next()?;
        match tok {
            Token::Punct(q) if q == p => Ok(span),
            other => Err(self.error_at(
                span,
                format!("expected `{p}` but found {}", describe(&other)),
            )),
        }
    }

    fn expect_keyword(&mut self, k: &str) -> PResult<Span> {
        let (tok, span) = self.next()?;
        match tok {
            Token::Ident(name) if name == k => Ok(span),
            other => Err(self.error_at(
                span,
                format!("expected `{k}` but found {}", describe(&other)),
            )),
        }
    }

    fn expect_name(&mut self, what: &str) -> PResult<(String, Span)> {
        let (tok, span) = self.next()?;
        match tok {
            Token::Ident(name) => Ok((name, span)),
            other => Err(self.error_at(
                span,
                format!("expected {what} but found {}", describe(&other)),
            )),
        }
    }

    /// Builds a node and enforces the tree-height limit.
    fn node(&self, kind: ExprKind, span: Span) -> PResult<Expr> {
        let e = Expr::new(kind, span);
        if e.depth > self.max_depth {
            return Err(self.error_at(span, "expression is nested too deeply"));
        }
        Ok(e)
    }

    fn enter(&mut self, span: Span) -> PResult<()> {
        self.recursion += 1;
        if self.recursion > self.max_depth {
            return Err(self.error_at(span, "expression is nested too deeply"));
        }
        Ok(())
    }

    /// expr := let | try | lambda | conditional
    fn expr(&mut self) -> PResult<Expr> {
        let span = self.peek_span()?;
        self.enter(span)?;
        let result = self.expr_inner(span);
        self.recursion -= 1;
        result
    }

    fn expr_inner(&mut self, span: Span) -> PResult<Expr> {
        if self.at_keyword("let")? {
            return self.let_expr();
        }
        if self.at_keyword("try")? {
            self.next()?;
            let body = self.expr()?;
            self.expect_keyword("catch")?;
            let alternative = self.expr()?;
            return self.node(ExprKind::Try(Box::new(body), Box::new(alternative)), span);
        }
        let condition = self.binary(1)?;
        if self.eat_punct("?")? {
            let then = self.expr()?;
            self.expect_punct(":")?;
            let otherwise = self.expr()?;
            return self.node(
                ExprKind::Conditional(Box::new(condition), Box::new(then), Box::new(otherwise)),
                span,
            );
        }
        Ok(condition)
    }

    fn let_expr(&mut self) -> PResult<Expr> {
        let (_, span) = self.next()?;
        let pushed_before = self.locals.len();
        let mut bindings = Vec::new();
        loop {
            let (name, name_span) = self.expect_name("a variable name")?;
            if !is_identifier(&name) {
                return Err(self.error_at(name_span, format!("`{name}` is a reserved word")));
            }
            self.expect_punct("=")?;
            let value = self.expr()?;
            let name: Arc<str> = Arc::from(name);
            self.locals.push(name.clone());
            bindings.push((name, value));
            if !self.eat_punct(",")? {
                break;
            }
        }
        let body = self.expect_keyword("return").and_then(|_| self.expr());
        self.locals.truncate(pushed_before);
        let body = body?;
        self.node(
            ExprKind::Let {
                bindings,
                body: Box::new(body),
            },
            span,
        )
    }

    fn binary(&mut self, min_precedence: u8) -> PResult<Expr> {
        let mut lhs = self.unary()?;
        while let Some(op) = self.peek_binary_op(min_precedence)? {
            let (_, op_span) = self.next()?;
            self.enter(op_span)?;
            let rhs = self.binary(op.precedence() + 1);
            self.recursion -= 1;
            let rhs = rhs?;
            let span = lhs.span;
            lhs = self.node(ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), span)?;
        }
        Ok(lhs)
    }

    fn peek_binary_op(&mut self, min_precedence: u8) -> PResult<Option<BinaryOp>> {
        Ok(match self.peek()? {
            Token::Punct(p) => binary_op(p).filter(|op| op.precedence() >= min_precedence),
            _ => None,
        })
    }

    fn unary(&mut self) -> PResult<Expr> {
        let span = self.peek_span()?;
        let op = match self.peek()? {
            Token::Punct("-") => Some(UnaryOp::Neg),
            Token::Punct("!") => Some(UnaryOp::Not),
            Token::Punct("~") => Some(UnaryOp::BitNot),
            _ => None,
        };
        match op {
            Some(op) => {
                self.next()?;
                self.enter(span)?;
                let operand = self.unary();
                self.recursion -= 1;
                let operand = operand?;
                self.node(ExprKind::Unary(op, Box::new(operand)), span)
            }
            None => self.postfix(),
        }
    }

    fn postfix(&mut self) -> PResult<Expr> {
        let mut e = self.primary()?;
        loop {
            let span = e.span;
            if self.eat_punct(".")? {
                let (key, _) = self.expect_name("a key name after `.`")?;
                e = self.node(
                    ExprKind::Member {
                        object: Box::new(e),
                        key: Arc::from(key),
                        optional: false,
                    },
                    span,
                )?;
            } else if self.eat_punct("?.")? {
                if self.eat_punct("[")? {
                    let index = self.expr()?;
                    self.expect_punct("]")?;
                    e = self.node(
                        ExprKind::Index {
                            object: Box::new(e),
                            index: Box::new(index),
                            optional: true,
                        },
                        span,
                    )?;
                } else {
                    let (key, _) = self.expect_name("a key name after `?.`")?;
                    e = self.node(
                        ExprKind::Member {
                            object: Box::new(e),
                            key: Arc::from(key),
                            optional: true,
                        },
                        span,
                    )?;
                }
            } else if self.eat_punct("[")? {
                let index = self.expr()?;
                self.expect_punct("]")?;
                e = self.node(
                    ExprKind::Index {
                        object: Box::new(e),
                        index: Box::new(index),
                        optional: false,
                    },
                    span,
                )?;
            } else {
                return Ok(e);
            }
        }
    }

    fn primary(&mut self) -> PResult<Expr> {
        let (tok, span) = self.next()?;
        match tok {
            Token::Number(n) => self.node(ExprKind::Number(n), span),
            Token::String(s) => self.node(ExprKind::String(Arc::from(s)), span),
            Token::Backtick => self.template(false, span),
            Token::Ident(name) => match name.as_str() {
                "true" => self.node(ExprKind::Bool(true), span),
                "false" => self.node(ExprKind::Bool(false), span),
                "null" => self.node(ExprKind::Null, span),
                "let" | "try" => {
                    // `1 + let a = 1 return a` would be ambiguous about where the body ends.
                    Err(self.error_at(
                        span,
                        format!("`{name}` must be wrapped in parentheses here"),
                    ))
                }
                "return" | "catch" => Err(self.error_at(span, format!("unexpected `{name}`"))),
                _ => {
                    if self.at_punct("=>")? {
                        self.next()?;
                        return self.lambda_body(vec![Arc::from(name)], span);
                    }
                    Ok(self.variable(name, span)?)
                }
            },
            Token::Punct("(") => {
                if let Some(params) = self.try_lambda_params()? {
                    return self.lambda_body(params, span);
                }
                let inner = self.expr()?;
                self.expect_punct(")")?;
                Ok(inner)
            }
            Token::Punct("[") => {
                let mut items = Vec::new();
                if !self.eat_punct("]")? {
                    loop {
                        items.push(self.expr()?);
                        if self.eat_punct("]")? {
                            break;
                        }
                        self.expect_punct(",")?;
                        if self.eat_punct("]")? {
                            break;
                        }
                    }
                }
                self.node(ExprKind::Array(items), span)
            }
            Token::Punct("{") => self.object(span),
            Token::Punct("@") => self.call(span),
            other => Err(self.error_at(span, format!("unexpected {}", describe(&other)))),
        }
    }

    fn variable(&mut self, name: String, span: Span) -> PResult<Expr> {
        let frame = &self.locals[self.frame_base..];
        if let Some(slot) = frame.iter().rposition(|n| **n == *name) {
            return self.node(
                ExprKind::Local {
                    name: frame[slot].clone(),
                    slot: slot as u32,
                },
                span,
            );
        }
        self.node(ExprKind::Global(Arc::from(name)), span)
    }

    fn object(&mut self, span: Span) -> PResult<Expr> {
        let mut entries: Vec<(Arc<str>, Expr)> = Vec::new();
        if self.eat_punct("}")? {
            return self.node(ExprKind::Object(entries), span);
        }
        loop {
            let (tok, key_span) = self.next()?;
            let key = match tok {
                Token::Ident(name) => name,
                Token::String(s) => s,
                other => {
                    return Err(self.error_at(
                        key_span,
                        format!("expected an object key but found {}", describe(&other)),
                    ))
                }
            };
            self.expect_punct(":")?;
            let value = self.expr()?;
            entries.push((Arc::from(key), value));
            if self.eat_punct("}")? {
                break;
            }
            self.expect_punct(",")?;
            if self.eat_punct("}")? {
                break;
            }
        }
        self.node(ExprKind::Object(entries), span)
    }

    /// After `(`: if what follows is `ident, ident) =>` or `) =>`, consumes it and returns the
    /// parameter names; otherwise rewinds and returns `None`.
    fn try_lambda_params(&mut self) -> PResult<Option<Vec<Arc<str>>>> {
        let saved_lexer = self.lexer.clone();
        let saved_peek = self.peeked.clone();
        let mut params = Vec::new();
        let ok = (|| -> PResult<bool> {
            if !self.eat_punct(")")? {
                loop {
                    match self.next()? {
                        (Token::Ident(name), _) if is_identifier(&name) => {
                            params.push(Arc::from(name))
                        }
                        _ => return Ok(false),
                    }
                    if self.eat_punct(")")? {
                        break;
                    }
                    if !self.eat_punct(",")? {
                        return Ok(false);
                    }
                }
            }
            self.eat_punct("=>")
        })();
        match ok {
            Ok(true) => Ok(Some(params)),
            _ => {
                self.lexer = saved_lexer;
                self.peeked = saved_peek;
                Ok(None)
            }
        }
    }

    fn lambda_body(&mut self, params: Vec<Arc<str>>, span: Span) -> PResult<Expr> {
        if let Some((_, p)) = params
            .iter()
            .enumerate()
            .find(|(i, p)| params[..*i].contains(p))
        {
            return Err(self.error_at(span, format!("duplicate parameter `{p}`")));
        }
        let outer_base = self.frame_base;
        let outer_len = self.locals.len();
        let captured: Vec<Arc<str>> = self.locals[outer_base..].to_vec();
        let captured_count = captured.len() as u32;
        self.frame_base = outer_len;
        self.locals.extend(captured);
        self.locals.extend(params.iter().cloned());
        let body = self.expr();
        self.locals.truncate(outer_len);
        self.frame_base = outer_base;
        let body = body?;
        self.node(
            ExprKind::Lambda(Arc::new(LambdaDef {
                params,
                body,
                captured: captured_count,
            })),
            span,
        )
    }

    fn call(&mut self, span: Span) -> PResult<Expr> {
        if self.eat_punct("(")? {
            let callee = self.expr()?;
            self.expect_punct(")")?;
            self.expect_punct("(")?;
            let args = self.args()?;
            return self.node(
                ExprKind::CallLambda {
                    callee: Box::new(callee),
                    args,
                },
                span,
            );
        }
        let (namespace, _) = self.expect_name("a namespace after `@`")?;
        if namespace == "time" && self.at_punct("(")? {
            self.next()?;
            self.expect_punct(")")?;
            return self.node(ExprKind::TimeObject, span);
        }
        self.expect_punct(".")?;
        let (name, _) = self.expect_name("a function name")?;
        let function = match (namespace.as_str(), name.as_str()) {
            ("webrequests", _) => Function::WebRequest(Arc::from(name.as_str())),
            ("crypto", "verifyToken") => Function::VerifyToken,
            ("policy", _) => match PolicyFunction::from_name(&name) {
                Some(p) => Function::Policy(p),
                None => {
                    return Err(self.error_at(span, format!("unknown function `@policy.{name}`")))
                }
            },
            _ => match functions::lookup(&namespace, &name) {
                Some(b) => Function::Builtin(b),
                None => {
                    return Err(
                        self.error_at(span, format!("unknown function `@{namespace}.{name}`"))
                    )
                }
            },
        };
        let (args, parens) = if self.eat_punct("(")? {
            (self.args()?, true)
        } else {
            (Vec::new(), false)
        };
        let (min, max) = match &function {
            Function::Builtin(b) => (b.min_args, b.max_args),
            Function::VerifyToken => (2, 2),
            Function::Policy(_) => (0, 0),
            Function::WebRequest(_) => (0, usize::MAX),
        };
        if args.len() < min || args.len() > max {
            let expected = if min == max {
                format!("{min}")
            } else if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(self.error_at(
                span,
                format!(
                    "`@{namespace}.{name}` takes {expected} argument(s), got {}",
                    args.len()
                ),
            ));
        }
        if matches!(function, Function::VerifyToken | Function::WebRequest(_)) {
            self.is_async = true;
        }
        self.node(
            ExprKind::Call {
                function,
                args,
                parens,
            },
            span,
        )
    }

    fn args(&mut self) -> PResult<Vec<Expr>> {
        let mut args = Vec::new();
        if self.eat_punct(")")? {
            return Ok(args);
        }
        loop {
            args.push(self.expr()?);
            if self.eat_punct(")")? {
                return Ok(args);
            }
            self.expect_punct(",")?;
        }
    }

    /// Template text and `${…}` parts up to the closing backtick (or the end when `top_level`).
    fn template(&mut self, top_level: bool, span: Span) -> PResult<Expr> {
        let mut parts = Vec::new();
        loop {
            debug_assert!(self.peeked.is_none());
            let chunk = self
                .lexer
                .template_chunk(top_level, span)
                .map_err(|e| self.lex_error(e))?;
            match chunk {
                Chunk::Last(text) => {
                    if !text.is_empty() {
                        parts.push(TemplatePart::Text(Arc::from(text)));
                    }
                    break;
                }
                Chunk::BeforeExpr(text) => {
                    if !text.is_empty() {
                        parts.push(TemplatePart::Text(Arc::from(text)));
                    }
                    let e = self.expr()?;
                    self.expect_punct("}")?;
                    parts.push(TemplatePart::Expr(e));
                }
            }
        }
        self.node(ExprKind::Template(parts), span)
    }
}

fn binary_op(p: &str) -> Option<BinaryOp> {
    Some(match p {
        "*" => BinaryOp::Mul,
        "/" => BinaryOp::Div,
        "%" => BinaryOp::Rem,
        "+" => BinaryOp::Add,
        "-" => BinaryOp::Sub,
        "<<" => BinaryOp::Shl,
        ">>" => BinaryOp::Shr,
        "<" => BinaryOp::Lt,
        "<=" => BinaryOp::Le,
        ">" => BinaryOp::Gt,
        ">=" => BinaryOp::Ge,
        "==" => BinaryOp::Eq,
        "!=" => BinaryOp::Ne,
        "&" => BinaryOp::BitAnd,
        "^" => BinaryOp::BitXor,
        "|" => BinaryOp::BitOr,
        "&&" => BinaryOp::And,
        "||" => BinaryOp::Or,
        "??" => BinaryOp::Nullish,
        _ => return None,
    })
}

fn describe(tok: &Token) -> String {
    match tok {
        Token::Number(_) => "a number".to_string(),
        Token::String(_) => "a string".to_string(),
        Token::Ident(name) => format!("`{name}`"),
        Token::Backtick => "a template".to_string(),
        Token::Punct(p) => format!("`{p}`"),
        Token::Eof => "the end of the expression".to_string(),
    }
}
