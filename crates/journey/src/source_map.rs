//! Where the parts of a definition are in its text, so that validation findings can name the
//! line and column of the uploaded file (SPEC §7.1), not only a path such as `steps[2].expression`.
//!
//! The values a journey is built from come from `serde_yaml_ng`/`serde_json`, which keep no
//! positions. A [`SourceMap`] is a second, position-only reading of the same text: a tree of
//! mappings, sequences and scalars with the start of every node and key. YAML is read with
//! `saphyr-parser`'s events (they carry spans); JSON with the small scanner below (JSON's
//! `\uD83D\uDE00` surrogate escapes are not YAML, so a YAML parser cannot read every JSON text).
//! A map that cannot be built is empty and every lookup answers `None`: positions are a help for
//! the author, never a reason to refuse a definition.
//!
//! A position inside an expression is found by decoding the scalar's source text again, keeping
//! the position of every character ([`crate::scalar_text`]), and is only trusted when that
//! decoding yields exactly the text the expression was compiled from; otherwise the scalar's
//! own start is given and marked approximate.

use saphyr_parser::{Event, Marker, Parser, ScalarStyle};

use crate::scalar_text::{self, Decoded};
use crate::yaml::MAX_NESTING;

/// A 1-based line and column in the definition text; columns count characters (Unicode scalar
/// values), as the expression language's own positions do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

/// One step of a path from the document root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// A position found in the text, and whether it is the exact spot that was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found {
    pub position: Position,
    /// False when a fallback was used (the scalar's start instead of a spot inside it).
    pub exact: bool,
}

/// A character offset into the text with its line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mark {
    pub index: usize,
    pub position: Position,
}

/// How a scalar is written, which decides how its text decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// YAML plain scalar, or a JSON number/literal.
    Plain,
    /// `'…'`.
    SingleQuoted,
    /// YAML `"…"`.
    DoubleQuoted,
    /// `|` block.
    Literal,
    /// `>` block.
    Folded,
    /// A JSON string.
    JsonString,
}

#[derive(Debug)]
struct Node {
    start: Mark,
    end: Mark,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Scalar { style: Style, tagged: bool },
    Sequence(Vec<Node>),
    Mapping(Vec<Entry>),
}

#[derive(Debug)]
struct Entry {
    /// `None` for a key that is not a scalar.
    key: Option<String>,
    key_start: Mark,
    value: Node,
}

/// The positions of a definition's nodes; see the module documentation.
#[derive(Debug)]
pub(crate) struct SourceMap {
    chars: Vec<char>,
    root: Option<Node>,
    /// Just past the last character: no position given out is later than this.
    end: Position,
}

/// The map of no text (for text that could not be loaded): every lookup answers `None`.
impl Default for SourceMap {
    fn default() -> Self {
        SourceMap {
            chars: Vec::new(),
            root: None,
            end: Position { line: 1, column: 1 },
        }
    }
}

/// The position just past the last character of `chars`, counting `\n`, `\r\n` and a lone
/// `\r` as one line break each (the most breaks any reader of the text may count).
fn end_position(chars: &[char]) -> Position {
    let (mut line, mut column) = (1u32, 1u32);
    let mut iter = chars.iter().peekable();
    while let Some(c) = iter.next() {
        let is_break = match c {
            '\r' => {
                iter.next_if_eq(&&'\n');
                true
            }
            '\n' => true,
            _ => false,
        };
        if is_break {
            line = line.saturating_add(1);
            column = 1;
        } else {
            column = column.saturating_add(1);
        }
    }
    Position { line, column }
}

impl SourceMap {
    /// Reads the positions of YAML text (empty map if it cannot).
    pub(crate) fn yaml(text: &str) -> SourceMap {
        let chars: Vec<char> = text.chars().collect();
        let end = end_position(&chars);
        SourceMap {
            chars,
            root: yaml_tree(text),
            end,
        }
    }

    /// Reads the positions of JSON text (empty map if it cannot).
    pub(crate) fn json(text: &str) -> SourceMap {
        let chars: Vec<char> = text.chars().collect();
        let root = JsonScanner::new(&chars).document();
        let end = end_position(&chars);
        SourceMap { chars, root, end }
    }

    /// `position`, or the end of the text when it lies past it: a parser may place an empty
    /// value at the end of the input one line past a missing final line break (`---`).
    fn within(&self, position: Position) -> Position {
        if (position.line, position.column) > (self.end.line, self.end.column) {
            self.end
        } else {
            position
        }
    }

    /// Where the node at `path` is: its key (`key`, when the last step is a mapping key) or its
    /// value. A missing node gives the nearest existing ancestor, which is where a missing field
    /// belongs. An empty value (`on_true:` with nothing after it) gives its key.
    pub(crate) fn node_position(&self, path: &[Seg], key: bool) -> Option<Position> {
        let (node, key_start, complete) = self.walk(path)?;
        let position = match key_start {
            Some(k) if complete && key => k.position,
            _ => value_position(node, key_start),
        };
        Some(self.within(position))
    }

    /// Where `line:column` of an expression (1-based, as the expression compiler reports it) is
    /// in the text, for the expression written at `path` whose decoded text is `source`. When
    /// the spot cannot be mapped exactly, the position of the scalar itself, not exact.
    pub(crate) fn expression_position(
        &self,
        path: &[Seg],
        source: &str,
        line: u32,
        column: u32,
    ) -> Option<Found> {
        let (node, key_start, complete) = self.walk(path)?;
        let exact = match node.kind {
            Kind::Scalar { style, tagged } if complete => {
                scalar_text::decode(&self.chars, node.start, node.end, style, tagged, source)
                    .filter(|d| d.text_equals(source))
                    .and_then(|d| position_in(&d, source, line, column))
            }
            _ => None,
        };
        Some(match exact {
            Some(position) => Found {
                position: self.within(position),
                exact: true,
            },
            None => Found {
                position: self.within(value_position(node, key_start)),
                exact: false,
            },
        })
    }

    /// Follows `path` as far as it exists: the deepest node reached, the key of that node (when
    /// it was reached through a mapping key), and whether the whole path was found.
    fn walk(&self, path: &[Seg]) -> Option<(&Node, Option<Mark>, bool)> {
        let mut node = self.root.as_ref()?;
        let mut key_start = None;
        for seg in path {
            let next = match (&node.kind, seg) {
                (Kind::Mapping(entries), Seg::Key(k)) => entries
                    .iter()
                    .rev()
                    .find(|e| e.key.as_deref() == Some(k.as_str()))
                    .map(|e| (&e.value, Some(e.key_start))),
                (Kind::Sequence(items), Seg::Index(i)) => items.get(*i).map(|n| (n, None)),
                _ => None,
            };
            match next {
                Some((n, k)) => {
                    node = n;
                    key_start = k;
                }
                None => return Some((node, key_start, false)),
            }
        }
        Some((node, key_start, true))
    }
}

/// Where a value is: its start, or its key when the value is empty (`on_true:` with nothing
/// after it, or an empty block scalar, whose span starts at the next token).
fn value_position(node: &Node, key_start: Option<Mark>) -> Position {
    match key_start {
        Some(k) if node.start.index == node.end.index => k.position,
        _ => node.start.position,
    }
}

/// The text position of `line:column` of the decoded text. A column past the end of its line
/// (an error "at the end") maps to the end of that line.
fn position_in(decoded: &Decoded, source: &str, line: u32, column: u32) -> Option<Position> {
    let (mut l, mut c) = (1u32, 1u32);
    for (index, ch) in source.chars().enumerate() {
        if l == line && (c == column || ch == '\n') {
            return decoded.position_of(index);
        }
        if ch == '\n' {
            l += 1;
            c = 1;
        } else {
            c += 1;
        }
    }
    (l == line).then_some(decoded.end)
}

fn mark_of(m: Marker) -> Mark {
    Mark {
        index: m.index(),
        position: Position {
            line: u32::try_from(m.line()).unwrap_or(u32::MAX),
            column: u32::try_from(m.col().saturating_add(1)).unwrap_or(u32::MAX),
        },
    }
}

enum Frame {
    Sequence(Mark, Vec<Node>),
    Mapping(Mark, Vec<Entry>, Option<(Option<String>, Mark)>),
}

/// Builds the tree of the first YAML document from saphyr's events, without recursion.
fn yaml_tree(text: &str) -> Option<Node> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    while let Some(event) = parser.next_event() {
        let (event, span) = event.ok()?;
        let (node, scalar) = match event {
            Event::Scalar(value, style, _, tag) => {
                let style = match style {
                    ScalarStyle::Plain => Style::Plain,
                    ScalarStyle::SingleQuoted => Style::SingleQuoted,
                    ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
                    ScalarStyle::Literal => Style::Literal,
                    ScalarStyle::Folded => Style::Folded,
                };
                let node = Node {
                    start: mark_of(span.start),
                    end: mark_of(span.end),
                    kind: Kind::Scalar {
                        style,
                        tagged: tag.is_some(),
                    },
                };
                (node, Some(value.into_owned()))
            }
            Event::SequenceStart(..) => {
                stack.push(Frame::Sequence(mark_of(span.start), Vec::new()));
                if stack.len() > MAX_NESTING + 1 {
                    return None;
                }
                continue;
            }
            Event::MappingStart(..) => {
                stack.push(Frame::Mapping(mark_of(span.start), Vec::new(), None));
                if stack.len() > MAX_NESTING + 1 {
                    return None;
                }
                continue;
            }
            Event::SequenceEnd => match stack.pop()? {
                Frame::Sequence(start, items) => (
                    Node {
                        start,
                        end: mark_of(span.end),
                        kind: Kind::Sequence(items),
                    },
                    None,
                ),
                Frame::Mapping(..) => return None,
            },
            Event::MappingEnd => match stack.pop()? {
                Frame::Mapping(start, entries, _) => (
                    Node {
                        start,
                        end: mark_of(span.end),
                        kind: Kind::Mapping(entries),
                    },
                    None,
                ),
                Frame::Sequence(..) => return None,
            },
            // Aliases are refused before a map is built; anything else carries no node.
            Event::Alias(_) => return None,
            Event::StreamEnd | Event::DocumentEnd => return None,
            _ => continue,
        };
        match stack.last_mut() {
            None => return Some(node),
            Some(Frame::Sequence(_, items)) => items.push(node),
            Some(Frame::Mapping(_, entries, pending)) => match pending.take() {
                None => *pending = Some((scalar, node.start)),
                Some((key, key_start)) => entries.push(Entry {
                    key,
                    key_start,
                    value: node,
                }),
            },
        }
    }
    None
}

/// A JSON reader that keeps positions. It only runs on text `serde_json` accepted, so it
/// gives up (`None`) instead of reporting syntax errors.
struct JsonScanner<'a> {
    chars: &'a [char],
    mark: Mark,
}

impl<'a> JsonScanner<'a> {
    fn new(chars: &'a [char]) -> Self {
        JsonScanner {
            chars,
            mark: Mark {
                index: 0,
                position: Position { line: 1, column: 1 },
            },
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.mark.index).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.mark.index += 1;
        if c == '\n' {
            self.mark.position.line += 1;
            self.mark.position.column = 1;
        } else {
            self.mark.position.column += 1;
        }
        Some(c)
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r')) {
            self.bump();
        }
    }

    fn expect(&mut self, c: char) -> Option<()> {
        self.skip_whitespace();
        (self.bump()? == c).then_some(())
    }

    fn document(mut self) -> Option<Node> {
        self.value(0)
    }

    fn value(&mut self, depth: usize) -> Option<Node> {
        if depth > MAX_NESTING + 1 {
            return None;
        }
        self.skip_whitespace();
        let start = self.mark;
        let kind = match self.peek()? {
            '{' => {
                self.bump();
                let mut entries = Vec::new();
                self.skip_whitespace();
                if self.peek() == Some('}') {
                    self.bump();
                } else {
                    loop {
                        self.skip_whitespace();
                        let key_start = self.mark;
                        let key = self.string()?.text();
                        self.expect(':')?;
                        let value = self.value(depth + 1)?;
                        entries.push(Entry {
                            key: Some(key),
                            key_start,
                            value,
                        });
                        self.skip_whitespace();
                        match self.bump()? {
                            ',' => continue,
                            '}' => break,
                            _ => return None,
                        }
                    }
                }
                Kind::Mapping(entries)
            }
            '[' => {
                self.bump();
                let mut items = Vec::new();
                self.skip_whitespace();
                if self.peek() == Some(']') {
                    self.bump();
                } else {
                    loop {
                        items.push(self.value(depth + 1)?);
                        self.skip_whitespace();
                        match self.bump()? {
                            ',' => continue,
                            ']' => break,
                            _ => return None,
                        }
                    }
                }
                Kind::Sequence(items)
            }
            '"' => {
                self.string()?;
                Kind::Scalar {
                    style: Style::JsonString,
                    tagged: false,
                }
            }
            _ => {
                while self
                    .peek()
                    .is_some_and(|c| !matches!(c, ',' | ']' | '}' | ' ' | '\t' | '\n' | '\r'))
                {
                    self.bump();
                }
                if self.mark.index == start.index {
                    return None;
                }
                Kind::Scalar {
                    style: Style::Plain,
                    tagged: false,
                }
            }
        };
        Some(Node {
            start,
            end: self.mark,
            kind,
        })
    }

    /// Reads a string starting at its opening quote and moves past the closing one.
    fn string(&mut self) -> Option<Decoded> {
        let (decoded, end) = scalar_text::decode_json_string(self.chars, self.mark)?;
        while self.mark.index < end {
            self.bump();
        }
        Some(decoded)
    }
}
