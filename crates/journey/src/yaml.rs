//! Safe loading of definition text: YAML (without anchors, aliases or merge keys) or JSON into
//! a `serde_json::Value`, with a nesting bound. Positions of the loaded nodes are read
//! separately ([`crate::source_map`]); `step_line` is the text search used when that fails.

use serde_json::Value;

use crate::error::ValidationError;
use crate::source_map::Position;

/// Deepest accepted nesting of arrays/objects in a definition.
pub(crate) const MAX_NESTING: usize = 64;

/// Why text could not be loaded, and where, when the parser says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoadError {
    pub message: String,
    pub position: Option<Position>,
}

impl LoadError {
    /// A parser error at `line:column` (1-based) of `text`, described by `message` from the
    /// position. Parsers may report the end of the input one line past a missing final line
    /// break; the position is kept inside the text.
    fn new(
        text: &str,
        line: usize,
        column: usize,
        message: impl FnOnce(usize, usize) -> String,
    ) -> Self {
        let line = line.max(1);
        let lines: Vec<&str> = text.split('\n').collect();
        let width = |l: &str| l.trim_end_matches('\r').chars().count();
        let (line, width) = match lines.get(line - 1) {
            Some(l) => (line, width(l)),
            None => (lines.len(), lines.last().map_or(0, |l| width(l))),
        };
        let column = column.clamp(1, width + 1);
        let position = match (u32::try_from(line), u32::try_from(column)) {
            (Ok(line), Ok(column)) => Some(Position { line, column }),
            _ => None,
        };
        LoadError {
            message: message(line, column),
            position,
        }
    }
}

impl LoadError {
    /// The journey-level finding for it, placed where the parser said.
    pub(crate) fn into_validation_error(self) -> ValidationError {
        ValidationError {
            line: self.position.map(|p| p.line),
            column: self.position.map(|p| p.column),
            ..ValidationError::new(None, "", self.message)
        }
    }
}

impl From<LoadError> for String {
    fn from(e: LoadError) -> String {
        e.message
    }
}

/// Parses YAML text, refusing anchors/aliases and deep nesting.
pub(crate) fn load_yaml(text: &str) -> Result<Value, LoadError> {
    if let Some((line, column)) = find_anchor_or_alias(text) {
        return Err(LoadError::new(text, line, column, |line, _| {
            format!("YAML anchors, aliases and merge keys are not allowed (line {line})")
        }));
    }
    let value: Value = serde_yaml_ng::from_str(text).map_err(|e| yaml_error(text, &e))?;
    check_depth(&value).map_err(|message| LoadError {
        message,
        position: None,
    })?;
    Ok(value)
}

/// Parses JSON text with the nesting bound.
pub(crate) fn load_json(text: &str) -> Result<Value, LoadError> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        LoadError::new(text, e.line(), e.column(), |line, column| {
            format!("invalid JSON at {line}:{column}")
        })
    })?;
    check_depth(&value).map_err(|message| LoadError {
        message,
        position: None,
    })?;
    Ok(value)
}

fn yaml_error(text: &str, e: &serde_yaml_ng::Error) -> LoadError {
    match e.location() {
        Some(loc) => LoadError::new(text, loc.line(), loc.column(), |line, column| {
            format!("invalid YAML at {line}:{column}")
        }),
        None => LoadError {
            message: "invalid YAML".to_string(),
            position: None,
        },
    }
}

fn check_depth(value: &Value) -> Result<(), String> {
    // Iterative, so a hostile document cannot exhaust the stack here.
    let mut stack = vec![(value, 1usize)];
    while let Some((v, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        if depth > MAX_NESTING {
            return Err(format!("nesting deeper than {MAX_NESTING} levels"));
        }
        stack.extend(children.map(|c| (c, depth + 1)));
    }
    Ok(())
}

/// Finds the first YAML anchor (`&a`), alias (`*a`) or merge key (`<<:`) outside quoted
/// strings, comments and block scalars: its line and column (1-based, in characters).
/// Conservative: a plain scalar continuation line starting with `*name` is also reported.
pub(crate) fn find_anchor_or_alias(text: &str) -> Option<(usize, usize)> {
    let mut block_indent: Option<usize> = None;
    let mut in_double = false;
    let mut in_single = false;
    for (index, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start().len();
        if let Some(parent) = block_indent {
            if line.trim().is_empty() || indent > parent {
                continue;
            }
            block_indent = None;
        }
        let chars: Vec<char> = line.chars().collect();
        let mut node_start = !in_double && !in_single;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if in_double {
                if c == '\\' {
                    i += 2;
                    continue;
                }
                if c == '"' {
                    in_double = false;
                }
                i += 1;
                continue;
            }
            if in_single {
                if c == '\'' {
                    in_single = false;
                }
                i += 1;
                continue;
            }
            if c == ' ' || c == '\t' {
                i += 1;
                continue;
            }
            if c == '#' && (i == 0 || chars[i - 1] == ' ' || chars[i - 1] == '\t') {
                break;
            }
            if node_start {
                let next = chars.get(i + 1).copied().unwrap_or(' ');
                let name_char = next.is_alphanumeric() || next == '_' || next == '-';
                if (c == '&' || c == '*') && name_char {
                    return Some((index + 1, i + 1));
                }
                if c == '<' && next == '<' && chars.get(i + 2) == Some(&':') {
                    return Some((index + 1, i + 1));
                }
                if c == '"' {
                    in_double = true;
                    node_start = false;
                    i += 1;
                    continue;
                }
                if c == '\'' {
                    in_single = true;
                    node_start = false;
                    i += 1;
                    continue;
                }
                if c == '|' || c == '>' {
                    let rest: String = chars[i + 1..].iter().collect();
                    let rest = rest.split(" #").next().unwrap_or("").trim();
                    if rest
                        .chars()
                        .all(|r| r.is_ascii_digit() || r == '+' || r == '-')
                    {
                        block_indent = Some(indent);
                        break;
                    }
                }
            }
            node_start = match c {
                '-' | '[' | '{' | ',' | '?' => {
                    chars.get(i + 1).is_none_or(|n| *n == ' ') || c != '-' && c != '?'
                }
                ':' => chars.get(i + 1).is_none_or(|n| *n == ' '),
                _ => false,
            };
            i += 1;
        }
    }
    None
}

/// The 1-based line where the step with this id is declared (`id: <id>`), if found.
pub(crate) fn step_line(text: &str, id: &str) -> Option<u32> {
    for (index, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(pos) = rest.find("id") {
            let before = rest[..pos].chars().last();
            let after = &rest[pos + 2..];
            rest = after;
            if before.is_some_and(|b| b.is_alphanumeric() || b == '_') {
                continue;
            }
            let after = after.trim_start_matches(['"', '\'']).trim_start();
            let Some(value) = after.strip_prefix(':') else {
                continue;
            };
            let value = value.trim_start().trim_start_matches(['"', '\'']);
            if let Some(tail) = value.strip_prefix(id) {
                if tail
                    .chars()
                    .next()
                    .is_none_or(|t| matches!(t, '"' | '\'' | ',' | '}' | ' ' | '\t' | '#'))
                {
                    return u32::try_from(index + 1).ok();
                }
            }
        }
    }
    None
}
