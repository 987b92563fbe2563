//! The tokenizer. It is driven lazily by the parser (one token of lookahead) because template
//! text between `${…}` parts is scanned in a different mode from ordinary tokens.

use crate::ast::Span;

/// A token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    Number(f64),
    String(String),
    Ident(String),
    /// `` ` ``, which starts a template; the parser then reads template chunks.
    Backtick,
    Punct(&'static str),
    Eof,
}

/// A piece of template text as scanned by [`Lexer::template_chunk`].
pub(crate) enum Chunk {
    /// Text followed by `${`.
    BeforeExpr(String),
    /// Text followed by the closing backtick (or end of input in a top-level template).
    Last(String),
}

/// Why scanning failed, with where.
pub(crate) struct LexError {
    pub span: Span,
    pub message: String,
}

#[derive(Clone)]
pub(crate) struct Lexer<'s> {
    src: &'s str,
    pos: usize,
    line: u32,
    column: u32,
}

/// Punctuation, longest first so that `?.` wins over `?` and `<=` over `<`.
const PUNCTS: &[&str] = &[
    "?.", "??", "=>", "==", "!=", "<=", ">=", "<<", ">>", "&&", "||", "(", ")", "[", "]", "{", "}",
    ",", ":", ".", "?", "@", "+", "-", "*", "/", "%", "<", ">", "&", "^", "|", "!", "~", "=",
];

impl<'s> Lexer<'s> {
    pub fn new(src: &'s str) -> Self {
        Lexer {
            src,
            pos: 0,
            line: 1,
            column: 1,
        }
    }

    pub fn span(&self) -> Span {
        Span {
            line: self.line,
            column: self.column,
        }
    }

    fn peek_char(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek_char_at(&self, n: usize) -> Option<char> {
        self.src[self.pos..].chars().nth(n)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek_char()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn error<T>(&self, span: Span, message: impl Into<String>) -> Result<T, LexError> {
        Err(LexError {
            span,
            message: message.into(),
        })
    }

    fn skip_whitespace(&mut self) {
        while let Some(c) = self.peek_char() {
            if c.is_whitespace() {
                self.bump();
            } else {
                break;
            }
        }
    }

    /// Scans the next ordinary token, returning it with its start position.
    pub fn next_token(&mut self) -> Result<(Token, Span), LexError> {
        self.skip_whitespace();
        let span = self.span();
        let Some(c) = self.peek_char() else {
            return Ok((Token::Eof, span));
        };
        if c.is_ascii_digit() {
            return Ok((self.number(span)?, span));
        }
        if c.is_alphabetic() || c == '_' {
            let start = self.pos;
            while let Some(c) = self.peek_char() {
                if c.is_alphanumeric() || c == '_' {
                    self.bump();
                } else {
                    break;
                }
            }
            return Ok((Token::Ident(self.src[start..self.pos].to_string()), span));
        }
        if c == '"' {
            self.bump();
            return Ok((Token::String(self.string_body(span)?), span));
        }
        if c == '`' {
            self.bump();
            return Ok((Token::Backtick, span));
        }
        let rest = &self.src[self.pos..];
        for p in PUNCTS {
            if rest.starts_with(p) {
                // `?.5` is `? .5`-style ternary in JS; we have no `.5` literals, so `?.` is
                // always optional access unless followed by a digit.
                if *p == "?." && rest[2..].starts_with(|c: char| c.is_ascii_digit()) {
                    continue;
                }
                for _ in 0..p.len() {
                    self.bump();
                }
                return Ok((Token::Punct(p), span));
            }
        }
        if c == '\'' {
            return self.error(span, "single-quoted strings are not supported; use \"…\"");
        }
        self.error(
            span,
            format!("unexpected character `{}`", c.escape_default()),
        )
    }

    fn number(&mut self, span: Span) -> Result<Token, LexError> {
        let radix = match (self.peek_char(), self.peek_char_at(1)) {
            (Some('0'), Some('x' | 'X')) => 16,
            (Some('0'), Some('o' | 'O')) => 8,
            _ => 10,
        };
        let value = if radix != 10 {
            self.bump();
            self.bump();
            let mut value = 0f64;
            let mut any = false;
            while let Some(d) = self.peek_char().and_then(|c| c.to_digit(radix)) {
                value = value * f64::from(radix) + f64::from(d);
                any = true;
                self.bump();
            }
            if !any {
                return self.error(span, "expected digits after the number prefix");
            }
            value
        } else {
            let start = self.pos;
            self.digits();
            if self.peek_char() == Some('.')
                && self.peek_char_at(1).is_some_and(|c| c.is_ascii_digit())
            {
                self.bump();
                self.digits();
            }
            if matches!(self.peek_char(), Some('e' | 'E')) {
                let sign = matches!(self.peek_char_at(1), Some('+' | '-'));
                let digit_at = if sign { 2 } else { 1 };
                if self
                    .peek_char_at(digit_at)
                    .is_some_and(|c| c.is_ascii_digit())
                {
                    for _ in 0..digit_at {
                        self.bump();
                    }
                    self.digits();
                }
            }
            match self.src[start..self.pos].parse::<f64>() {
                Ok(v) => v,
                Err(_) => return self.error(span, "malformed number"),
            }
        };
        if !value.is_finite() {
            return self.error(span, "number literal out of range");
        }
        if self
            .peek_char()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            return self.error(self.span(), "unexpected character after number");
        }
        Ok(Token::Number(value))
    }

    fn digits(&mut self) {
        while self.peek_char().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
    }

    /// Scans a `"…"` string after the opening quote.
    fn string_body(&mut self, start: Span) -> Result<String, LexError> {
        let mut out = String::new();
        loop {
            let span = self.span();
            match self.bump() {
                None => return self.error(start, "unterminated string"),
                Some('"') => return Ok(out),
                Some('\\') => match self.bump() {
                    Some('"') => out.push('"'),
                    Some('\\') => out.push('\\'),
                    Some('/') => out.push('/'),
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some('u') => out.push(self.unicode_escape(span)?),
                    _ => return self.error(span, "unknown escape sequence"),
                },
                Some(c) => out.push(c),
            }
        }
    }

    fn hex4(&mut self, span: Span) -> Result<u32, LexError> {
        let mut v = 0;
        for _ in 0..4 {
            match self.peek_char().and_then(|c| c.to_digit(16)) {
                Some(d) => {
                    v = v * 16 + d;
                    self.bump();
                }
                None => return self.error(span, "\\u needs four hex digits"),
            }
        }
        Ok(v)
    }

    fn unicode_escape(&mut self, span: Span) -> Result<char, LexError> {
        let first = self.hex4(span)?;
        let code = if (0xD800..0xDC00).contains(&first) {
            if self.peek_char() == Some('\\') && self.peek_char_at(1) == Some('u') {
                self.bump();
                self.bump();
                let second = self.hex4(span)?;
                if !(0xDC00..0xE000).contains(&second) {
                    return self.error(span, "unpaired surrogate in \\u escape");
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            } else {
                return self.error(span, "unpaired surrogate in \\u escape");
            }
        } else {
            first
        };
        match char::from_u32(code) {
            Some(c) => Ok(c),
            None => self.error(span, "unpaired surrogate in \\u escape"),
        }
    }

    /// Scans template text up to `${`, the closing backtick, or (when `top_level`) the end.
    /// Escapes: `` \` `` `\$` `\\`; any other backslash is kept as written.
    pub fn template_chunk(&mut self, top_level: bool, start: Span) -> Result<Chunk, LexError> {
        let mut out = String::new();
        loop {
            match self.peek_char() {
                None if top_level => return Ok(Chunk::Last(out)),
                None => return self.error(start, "unterminated template"),
                Some('`') if !top_level => {
                    self.bump();
                    return Ok(Chunk::Last(out));
                }
                Some('$') if self.peek_char_at(1) == Some('{') => {
                    self.bump();
                    self.bump();
                    return Ok(Chunk::BeforeExpr(out));
                }
                Some('\\') => {
                    self.bump();
                    match self.peek_char() {
                        Some(c @ ('`' | '$' | '\\')) => {
                            self.bump();
                            out.push(c);
                        }
                        _ => out.push('\\'),
                    }
                }
                Some(c) => {
                    self.bump();
                    out.push(c);
                }
            }
        }
    }
}
