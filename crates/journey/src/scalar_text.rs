//! Decoding a scalar's source text again, keeping for every decoded character the line and
//! column it came from, so a position inside an expression can be mapped to the file.
//!
//! Covered: YAML plain, single- and double-quoted scalars (line folding, `''`, every escape of
//! YAML 1.2, escaped line breaks), literal (`|`) and folded (`>`) block scalars with any
//! chomping, and JSON strings. Not covered: block scalars with a tag (`!!str |`), whose span
//! starts at the tag. The caller compares the result with the text the expression was compiled
//! from and only trusts it when they are equal, so an unusual case gives an approximate
//! position, never a wrong one.

use crate::source_map::{Mark, Position, Style};

/// A decoded scalar: each character with the position of the source text it came from (for an
/// escape or a folded line break: where the escape or break starts), and the position just
/// after the content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decoded {
    chars: Vec<(char, Position)>,
    /// Just after the last character (the closing quote of a quoted scalar).
    pub end: Position,
}

impl Decoded {
    /// Whether the decoded text is exactly `text`.
    pub(crate) fn text_equals(&self, text: &str) -> bool {
        self.chars.iter().map(|(c, _)| *c).eq(text.chars())
    }

    /// The decoded text.
    pub(crate) fn text(&self) -> String {
        self.chars.iter().map(|(c, _)| *c).collect()
    }

    /// The source position of the character at `index` (in characters), or the end position
    /// for `index` = length.
    pub(crate) fn position_of(&self, index: usize) -> Option<Position> {
        match self.chars.get(index) {
            Some((_, p)) => Some(*p),
            None if index == self.chars.len() => Some(self.end),
            None => None,
        }
    }
}

/// Decodes the scalar written in `chars[start.index..end.index]`. `expected` is the text the
/// value loader produced; it is only used to count the leading and trailing line breaks of a
/// block scalar, which lie outside its span or depend on its chomping indicator.
pub(crate) fn decode(
    chars: &[char],
    start: Mark,
    end: Mark,
    style: Style,
    tagged: bool,
    expected: &str,
) -> Option<Decoded> {
    let mut raw = Raw {
        chars,
        index: start.index,
        limit: end.index.min(chars.len()),
        position: start.position,
    };
    if tagged {
        if matches!(style, Style::Literal | Style::Folded) {
            return None;
        }
        raw.skip_tag();
    }
    match style {
        Style::Plain => Some(flow(&mut raw, Quote::None)),
        Style::SingleQuoted => {
            raw.open_quote('\'')?;
            Some(flow(&mut raw, Quote::Single))
        }
        Style::DoubleQuoted => {
            raw.open_quote('"')?;
            flow_double(&mut raw)
        }
        Style::Literal | Style::Folded => block(&mut raw, style == Style::Folded, expected),
        Style::JsonString => decode_json_string(chars, start).map(|(d, _)| d),
    }
}

/// Decodes a JSON string whose opening quote is at `start`; also returns the character index
/// just after the closing quote.
pub(crate) fn decode_json_string(chars: &[char], start: Mark) -> Option<(Decoded, usize)> {
    let mut raw = Raw {
        chars,
        index: start.index,
        limit: chars.len(),
        position: start.position,
    };
    if raw.bump()? != '"' {
        return None;
    }
    let mut out = Vec::new();
    loop {
        let at = raw.position;
        match raw.bump()? {
            '"' => {
                return Some((
                    Decoded {
                        chars: out,
                        end: at,
                    },
                    raw.index,
                ));
            }
            '\\' => {
                let c = match raw.bump()? {
                    '"' => '"',
                    '\\' => '\\',
                    '/' => '/',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    'u' => {
                        let high = raw.hex(4)?;
                        if (0xD800..0xDC00).contains(&high) {
                            if raw.bump()? != '\\' || raw.bump()? != 'u' {
                                return None;
                            }
                            let low = raw.hex(4)?;
                            if !(0xDC00..0xE000).contains(&low) {
                                return None;
                            }
                            char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))?
                        } else {
                            char::from_u32(high)?
                        }
                    }
                    _ => return None,
                };
                out.push((c, at));
            }
            c => out.push((c, at)),
        }
    }
}

/// A cursor over the source characters of one scalar.
struct Raw<'a> {
    chars: &'a [char],
    index: usize,
    limit: usize,
    position: Position,
}

fn is_break(c: char) -> bool {
    c == '\n' || c == '\r'
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

impl Raw<'_> {
    fn peek(&self) -> Option<char> {
        if self.index < self.limit {
            self.chars.get(self.index).copied()
        } else {
            None
        }
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        let i = self.index + n;
        if i < self.limit {
            self.chars.get(i).copied()
        } else {
            None
        }
    }

    fn at_break(&self) -> bool {
        self.peek().is_some_and(is_break)
    }

    /// Moves one character on. A line ends at `\n`, at `\r\n` (the `\r` counts as the end of
    /// the line) and at a lone `\r`.
    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.index += 1;
        let ends_line = c == '\n' || (c == '\r' && self.peek() != Some('\n'));
        if ends_line {
            self.position.line += 1;
            self.position.column = 1;
        } else {
            self.position.column += 1;
        }
        Some(c)
    }

    fn consume_break(&mut self) {
        if self.peek() == Some('\r') {
            self.bump();
        }
        if self.peek() == Some('\n') {
            self.bump();
        }
    }

    fn skip_blanks(&mut self) {
        while self.peek().is_some_and(is_blank) {
            self.bump();
        }
    }

    /// Skips a tag (`!!str`) and the white space after it.
    fn skip_tag(&mut self) {
        while self.peek().is_some_and(|c| !is_blank(c) && !is_break(c)) {
            self.bump();
        }
        while self.peek().is_some_and(|c| is_blank(c) || is_break(c)) {
            self.bump();
        }
    }

    /// Moves past the opening quote and stops the cursor before the closing one.
    fn open_quote(&mut self, quote: char) -> Option<()> {
        if self.peek()? != quote {
            return None;
        }
        self.bump();
        if self.limit > self.index && self.chars.get(self.limit - 1) == Some(&quote) {
            self.limit -= 1;
            Some(())
        } else {
            None
        }
    }

    fn hex(&mut self, digits: usize) -> Option<u32> {
        let mut value = 0u32;
        for _ in 0..digits {
            value = value * 16 + self.bump()?.to_digit(16)?;
        }
        Some(value)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Single,
}

/// White space seen on the current line but not yet known to be content: it is dropped if a
/// line break follows.
type Pending = Vec<(char, Position)>;

/// At a line break inside a flow scalar (the cursor on the break): consumes it, the
/// indentation and any empty lines after it, and folds them as YAML does: one break becomes a
/// space, each empty line after it a newline.
fn fold_break(raw: &mut Raw<'_>, out: &mut Vec<(char, Position)>) {
    let first = raw.position;
    raw.consume_break();
    raw.skip_blanks();
    let mut empty_lines = Vec::new();
    while raw.at_break() {
        empty_lines.push(raw.position);
        raw.consume_break();
        raw.skip_blanks();
    }
    if empty_lines.is_empty() {
        out.push((' ', first));
    } else {
        out.extend(empty_lines.into_iter().map(|p| ('\n', p)));
    }
}

/// A plain or single-quoted scalar (the cursor after any opening quote).
fn flow(raw: &mut Raw<'_>, quote: Quote) -> Decoded {
    let mut out = Vec::new();
    let mut pending: Pending = Vec::new();
    while let Some(c) = raw.peek() {
        let at = raw.position;
        if is_break(c) {
            pending.clear();
            fold_break(raw, &mut out);
        } else if is_blank(c) {
            pending.push((c, at));
            raw.bump();
        } else if quote == Quote::Single && c == '\'' && raw.peek_at(1) == Some('\'') {
            out.append(&mut pending);
            out.push(('\'', at));
            raw.bump();
            raw.bump();
        } else {
            out.append(&mut pending);
            out.push((c, at));
            raw.bump();
        }
    }
    // Blanks before a closing quote are content; a plain scalar's span has none at its end.
    out.append(&mut pending);
    Decoded {
        chars: out,
        end: raw.position,
    }
}

/// A double-quoted YAML scalar (the cursor after the opening quote).
fn flow_double(raw: &mut Raw<'_>) -> Option<Decoded> {
    let mut out = Vec::new();
    let mut pending: Pending = Vec::new();
    while let Some(c) = raw.peek() {
        let at = raw.position;
        if is_break(c) {
            pending.clear();
            fold_break(raw, &mut out);
        } else if is_blank(c) {
            pending.push((c, at));
            raw.bump();
        } else if c == '\\' {
            raw.bump();
            out.append(&mut pending);
            if raw.at_break() {
                // An escaped line break joins the lines without a space; empty lines after it
                // still give newlines.
                raw.consume_break();
                raw.skip_blanks();
                while raw.at_break() {
                    out.push(('\n', raw.position));
                    raw.consume_break();
                    raw.skip_blanks();
                }
                continue;
            }
            let decoded = match raw.bump()? {
                '0' => '\0',
                'a' => '\u{7}',
                'b' => '\u{8}',
                't' | '\t' => '\t',
                'n' => '\n',
                'v' => '\u{b}',
                'f' => '\u{c}',
                'r' => '\r',
                'e' => '\u{1b}',
                ' ' => ' ',
                '"' => '"',
                '/' => '/',
                '\\' => '\\',
                'N' => '\u{85}',
                '_' => '\u{a0}',
                'L' => '\u{2028}',
                'P' => '\u{2029}',
                'x' => char::from_u32(raw.hex(2)?)?,
                'u' => char::from_u32(raw.hex(4)?)?,
                'U' => char::from_u32(raw.hex(8)?)?,
                _ => return None,
            };
            out.push((decoded, at));
        } else {
            out.append(&mut pending);
            out.push((c, at));
            raw.bump();
        }
    }
    out.append(&mut pending);
    Some(Decoded {
        chars: out,
        end: raw.position,
    })
}

/// One line of a block scalar's content.
struct BlockLine {
    content: Vec<(char, Position)>,
    /// Where the line ends (its line break, or the end of the text).
    end: Position,
}

impl BlockLine {
    fn is_empty(&self) -> bool {
        self.content.is_empty()
    }

    /// A "more indented" line of a folded scalar, whose breaks are kept.
    fn is_spaced(&self) -> bool {
        self.content.first().is_some_and(|(c, _)| is_blank(*c))
    }
}

/// A literal or folded block scalar. Its span starts on the first content line, after the
/// indentation, so the span's column is the content indentation; empty lines before it are
/// counted from `expected`.
fn block(raw: &mut Raw<'_>, folded: bool, expected: &str) -> Option<Decoded> {
    let indent = usize::try_from(raw.position.column).ok()?.checked_sub(1)?;
    let first_line = raw.position.line;
    let mut lines: Vec<BlockLine> = Vec::new();
    let mut first = true;
    loop {
        if !first {
            let mut spaces = 0;
            while spaces < indent && raw.peek() == Some(' ') {
                raw.bump();
                spaces += 1;
            }
            match raw.peek() {
                None => break,
                Some(c) if is_break(c) => {
                    lines.push(BlockLine {
                        content: Vec::new(),
                        end: raw.position,
                    });
                    raw.consume_break();
                    continue;
                }
                // Less indented text ends the scalar.
                Some(_) if spaces < indent => break,
                Some(_) => {}
            }
        }
        first = false;
        let mut content = Vec::new();
        while let Some(c) = raw.peek().filter(|c| !is_break(*c)) {
            content.push((c, raw.position));
            raw.bump();
        }
        lines.push(BlockLine {
            content,
            end: raw.position,
        });
        if !raw.at_break() {
            break;
        }
        raw.consume_break();
    }
    // Trailing empty lines belong to the chomping, handled below.
    let last_text = lines.iter().rposition(|l| !l.is_empty())?;
    let end = lines.get(last_text)?.end;
    let mut out = Vec::new();
    let leading = expected.chars().take_while(|c| *c == '\n').count();
    let leading_u32 = u32::try_from(leading).ok()?;
    for k in 0..leading_u32 {
        let line = first_line.checked_sub(leading_u32 - k)?;
        out.push(('\n', Position { line, column: 1 }));
    }
    let mut previous: Option<&BlockLine> = None;
    let mut empty_since: Vec<Position> = Vec::new();
    for line in &lines {
        if line.is_empty() {
            empty_since.push(line.end);
            continue;
        }
        if let Some(p) = previous {
            if folded && !p.is_spaced() && !line.is_spaced() {
                if empty_since.is_empty() {
                    out.push((' ', p.end));
                }
            } else {
                out.push(('\n', p.end));
            }
            out.extend(empty_since.drain(..).map(|e| ('\n', e)));
        }
        empty_since.clear();
        out.extend(line.content.iter().copied());
        previous = Some(line);
    }
    // Chomping: as many final line breaks as the loaded value has.
    let wanted = expected.chars().rev().take_while(|c| *c == '\n').count();
    let mut breaks = std::iter::once(end).chain(empty_since);
    for _ in 0..wanted {
        let at = breaks.next().unwrap_or(end);
        out.push(('\n', at));
    }
    Some(Decoded { chars: out, end })
}
