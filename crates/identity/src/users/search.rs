//! The `search` parameter of `GET /cis/v1/users`: the hosted platform's SCIM-like filter
//! (RFC 7644 §3.4.2.2 syntax), of which Tessera supports the part that names a user by an
//! identifier:
//!
//! - fields `user_id`, `email` (or `email.value`), `phone_number` (or `phone_number.value`),
//!   `username`, `external_user_id`, `external_account_id`;
//! - operators `eq` (every field) and `sw` ("starts with": `email`, `phone_number`,
//!   `username`, compared on their normalised forms);
//! - `and` between expressions, and parentheses, as in `(email sw "sales")and(username eq "x")`.
//!
//! Everything else the platform's syntax has (`or`, `not`, `ne`, `pr`, `gt`…, other fields
//! such as `name.first_name` or `custom_app_data.*`) is refused with a 400 naming what is not
//! supported, so a search never silently matches more or fewer users than asked.

use crate::error::Error;
use crate::model::{email_norm, username_norm, UserCondition, UserField, UserMatch};

use super::fields::normalize_phone;

/// The longest `search` expression accepted, in bytes.
pub const MAX_SEARCH_BYTES: usize = 2048;

/// The most comparisons one expression may hold.
const MAX_TERMS: usize = 16;

/// How deep parentheses may nest.
const MAX_DEPTH: usize = 8;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Word(String),
    Text(String),
}

fn unsupported(what: impl std::fmt::Display) -> Error {
    Error::invalid(format!(
        "`search`: {what} is not supported (supported: `eq` on user_id, email, phone_number, \
         username, external_user_id, external_account_id; `sw` on email, phone_number, \
         username; `and`; parentheses)"
    ))
}

fn malformed(what: impl std::fmt::Display) -> Error {
    Error::invalid(format!("`search` is malformed: {what}"))
}

fn tokens(text: &str) -> Result<Vec<Token>, Error> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Token::Open);
            }
            ')' => {
                chars.next();
                out.push(Token::Close);
            }
            '"' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        None => return Err(malformed("a quoted value is not closed")),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\')) => value.push(e),
                            _ => return Err(malformed("only \\\" and \\\\ may be escaped")),
                        },
                        Some(c) if c.is_control() => {
                            return Err(malformed("a value contains a control character"))
                        }
                        Some(c) => value.push(c),
                    }
                }
                out.push(Token::Text(value));
            }
            c if c.is_ascii_alphanumeric() || c == '_' || c == '.' => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                        word.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Token::Word(word));
            }
            _ => {
                return Err(malformed(format!(
                    "unexpected character `{}`",
                    if c.is_control() { '?' } else { c }
                )))
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    out: Vec<UserCondition>,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    /// expression := term (`and` term)*
    fn expression(&mut self, depth: usize) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Err(malformed(format!(
                "parentheses nest deeper than {MAX_DEPTH}"
            )));
        }
        self.term(depth)?;
        while let Some(Token::Word(w)) = self.peek() {
            match w.to_ascii_lowercase().as_str() {
                "and" => {
                    self.next();
                    self.term(depth)?;
                }
                "or" => return Err(unsupported("`or`")),
                other => return Err(malformed(format!("expected `and`, found `{other}`"))),
            }
        }
        Ok(())
    }

    /// term := `(` expression `)` | field op "value"
    fn term(&mut self, depth: usize) -> Result<(), Error> {
        match self.next() {
            Some(Token::Open) => {
                self.expression(depth + 1)?;
                match self.next() {
                    Some(Token::Close) => Ok(()),
                    _ => Err(malformed("a parenthesis is not closed")),
                }
            }
            Some(Token::Word(field)) => {
                if field.eq_ignore_ascii_case("not") {
                    return Err(unsupported("`not`"));
                }
                let op = match self.next() {
                    Some(Token::Word(op)) => op.to_ascii_lowercase(),
                    _ => {
                        return Err(malformed(format!(
                            "`{field}` is not followed by an operator"
                        )))
                    }
                };
                let how = match op.as_str() {
                    "eq" => UserMatch::Equals,
                    "sw" => UserMatch::StartsWith,
                    "ne" | "co" | "ew" | "pr" | "gt" | "ge" | "lt" | "le" => {
                        return Err(unsupported(format!("the operator `{op}`")))
                    }
                    _ => return Err(malformed(format!("`{op}` is not an operator"))),
                };
                let value = match self.next() {
                    Some(Token::Text(v)) => v,
                    _ => {
                        return Err(malformed(format!(
                            "`{field} {op}` is not followed by a quoted value"
                        )))
                    }
                };
                if self.out.len() == MAX_TERMS {
                    return Err(malformed(format!("more than {MAX_TERMS} comparisons")));
                }
                let condition = condition(&field, how, &value)?;
                self.out.push(condition);
                Ok(())
            }
            Some(Token::Close) => Err(malformed("unexpected `)`")),
            Some(Token::Text(_)) => Err(malformed("a value where a field name belongs")),
            None => Err(malformed("the expression ends too early")),
        }
    }
}

/// One comparison, its value normalised as the column holds it.
fn condition(field: &str, how: UserMatch, value: &str) -> Result<UserCondition, Error> {
    let name = field.to_ascii_lowercase();
    let (field, value) = match name.as_str() {
        "user_id" => (UserField::UserId, value.to_string()),
        "email" | "email.value" => (UserField::EmailNorm, email_norm(value)),
        "phone_number" | "phone_number.value" => match how {
            // A prefix of a number is matched as written (`+1212`).
            UserMatch::StartsWith => (UserField::Phone, value.trim().to_string()),
            UserMatch::Equals => (UserField::Phone, normalize_phone(value)?),
        },
        "username" => (UserField::UsernameNorm, username_norm(value)),
        "external_user_id" => (UserField::ExternalUserId, value.to_string()),
        "external_account_id" => (UserField::ExternalAccountId, value.to_string()),
        _ => {
            let shown = crate::util::field_label(field);
            return Err(unsupported(format!("the field `{shown}`")));
        }
    };
    let prefix_ok = matches!(
        field,
        UserField::EmailNorm | UserField::Phone | UserField::UsernameNorm
    );
    if how == UserMatch::StartsWith && !prefix_ok {
        return Err(unsupported(format!("`sw` on `{name}`")));
    }
    if value.is_empty() || value.len() > 1024 {
        return Err(Error::invalid(format!(
            "`search`: the value compared with `{name}` must be 1 to 1024 bytes"
        )));
    }
    Ok(UserCondition { field, how, value })
}

/// Parses a `search` expression into the conditions that must all hold.
pub fn parse_search(text: &str) -> Result<Vec<UserCondition>, Error> {
    if text.len() > MAX_SEARCH_BYTES {
        return Err(Error::invalid(format!(
            "`search` is longer than {MAX_SEARCH_BYTES} bytes"
        )));
    }
    let tokens = tokens(text)?;
    if tokens.is_empty() {
        return Err(malformed("the expression is empty"));
    }
    let mut parser = Parser {
        tokens,
        at: 0,
        out: Vec::new(),
    };
    parser.expression(0)?;
    if parser.at < parser.tokens.len() {
        return Err(malformed("unexpected text after the expression"));
    }
    Ok(parser.out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(field: UserField, how: UserMatch, value: &str) -> UserCondition {
        UserCondition {
            field,
            how,
            value: value.to_string(),
        }
    }

    #[test]
    fn the_platform_examples_parse() {
        assert_eq!(
            parse_search(r#"email.value eq "Ann@Example.com""#).unwrap(),
            vec![one(
                UserField::EmailNorm,
                UserMatch::Equals,
                "ann@example.com"
            )]
        );
        assert_eq!(
            parse_search(r#"(email sw "Sales")and(username eq "Bob")"#).unwrap(),
            vec![
                one(UserField::EmailNorm, UserMatch::StartsWith, "sales"),
                one(UserField::UsernameNorm, UserMatch::Equals, "bob"),
            ]
        );
        assert_eq!(
            parse_search(
                r#"phone_number eq "+1 (415) 555-0100" AND external_account_id eq "a\"b""#
            )
            .unwrap(),
            vec![
                one(UserField::Phone, UserMatch::Equals, "+14155550100"),
                one(UserField::ExternalAccountId, UserMatch::Equals, "a\"b"),
            ]
        );
        assert_eq!(
            parse_search(r#"user_id eq "u1" and external_user_id eq "X""#).unwrap(),
            vec![
                one(UserField::UserId, UserMatch::Equals, "u1"),
                one(UserField::ExternalUserId, UserMatch::Equals, "X"),
            ]
        );
    }

    #[test]
    fn what_is_not_supported_is_refused_by_name() {
        for (text, needle) in [
            (r#"email eq "a" or email eq "b""#, "`or`"),
            (r#"not (email eq "a")"#, "`not`"),
            (r#"email ne "a""#, "`ne`"),
            (r#"name.first_name eq "John""#, "`name.first_name`"),
            (r#"user_id sw "u""#, "`sw` on `user_id`"),
            (r#"last_auth gt "2023-01-01""#, "`gt`"),
            (r#"last_auth eq "2023-01-01""#, "`last_auth`"),
        ] {
            let e = parse_search(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text}: {e}");
            assert!(e.contains("not supported"), "{text}: {e}");
        }
    }

    #[test]
    fn malformed_expressions_are_refused() {
        for text in [
            "",
            "   ",
            "email",
            "email eq",
            "email eq a",
            r#"email eq "a"#,
            r#"(email eq "a""#,
            r#"email eq "a")"#,
            r#"email eq "a" and"#,
            r#"email eq "a" email eq "b""#,
            r#"email eq "a\x""#,
            r#"email ~ "a""#,
            r#"email eq """#,
            "\u{0}",
        ] {
            assert!(parse_search(text).is_err(), "{text:?}");
        }
        let deep = format!("{}email eq \"a\"{}", "(".repeat(20), ")".repeat(20));
        assert!(parse_search(&deep).is_err());
        let many = vec![r#"email eq "a""#; 17].join(" and ");
        assert!(parse_search(&many).is_err());
        assert!(parse_search(&"a".repeat(MAX_SEARCH_BYTES + 1)).is_err());
    }
}
