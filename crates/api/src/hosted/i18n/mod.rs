//! The languages of the hosted pages: one table of strings per language (`en.rs` is the
//! reference and the fallback for a key another table lacks), and the choice of a language
//! from the authorization request's `ui_locales` and the browser's `Accept-Language`.
//!
//! To add a language: write its table (a copy of `en.rs` with the texts translated) and add
//! it to [`LANGUAGES`]. Nothing else changes.

mod en;

use axum::http::HeaderValue;

/// One language's strings: `(key, text)` pairs.
#[derive(Debug)]
pub struct Table {
    /// The BCP 47 tag, lowercase (`en`, `pt-br`): `<html lang>` and what requests match.
    pub tag: &'static str,
    pub entries: &'static [(&'static str, &'static str)],
}

/// Every shipped language; the first is the fallback.
static LANGUAGES: &[&Table] = &[&en::EN];

/// A language of the hosted pages.
#[derive(Debug, Clone, Copy)]
pub struct Lang(&'static Table);

impl Lang {
    /// English, the fallback.
    pub fn fallback() -> Self {
        Self(LANGUAGES[0])
    }

    /// The language tag (`<html lang>`).
    pub fn tag(&self) -> &'static str {
        self.0.tag
    }

    /// The text of `key` in this language, else in English, else the key itself (a missing
    /// key is a bug the tests catch, never a failure of the page).
    pub fn text(&self, key: &str) -> &'static str {
        lookup(self.0, key)
            .or_else(|| lookup(LANGUAGES[0], key))
            .unwrap_or_else(|| {
                tracing::warn!(key, "hosted pages: missing string");
                ""
            })
    }

    /// Every key of the English table with this language's text: what the script gets.
    pub fn all(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        LANGUAGES[0]
            .entries
            .iter()
            .map(move |(k, _)| (*k, self.text(k)))
    }

    /// The shipped language whose tag matches `tag` (exactly, or by its primary subtag:
    /// `en-GB` finds `en`), ASCII case-insensitive.
    pub fn find(tag: &str) -> Option<Self> {
        let tag = tag.trim();
        if tag.is_empty() || tag == "*" {
            return None;
        }
        let exact = LANGUAGES.iter().find(|t| t.tag.eq_ignore_ascii_case(tag));
        let primary = tag.split('-').next().unwrap_or(tag);
        exact
            .or_else(|| {
                LANGUAGES
                    .iter()
                    .find(|t| t.tag.eq_ignore_ascii_case(primary))
            })
            .map(|t| Self(t))
    }
}

fn lookup(table: &Table, key: &str) -> Option<&'static str> {
    table
        .entries
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| *v)
}

/// The page's language: the first of `ui_locales` (space-separated, in order of preference,
/// OpenID Connect Core §3.1.2.1) that a table exists for, else the best of `Accept-Language`
/// (RFC 9110 §12.5.4: by `q`, ties in the header's order, `q=0` never), else English.
pub fn choose_lang(ui_locales: Option<&str>, accept_language: Option<&HeaderValue>) -> Lang {
    if let Some(found) = ui_locales
        .into_iter()
        .flat_map(str::split_whitespace)
        .find_map(Lang::find)
    {
        return found;
    }
    let Some(header) = accept_language.and_then(|v| v.to_str().ok()) else {
        return Lang::fallback();
    };
    let mut ranges: Vec<(u16, usize, &str)> = header
        .split(',')
        .take(32)
        .enumerate()
        .filter_map(|(i, item)| {
            let mut parts = item.split(';');
            let tag = parts.next()?.trim();
            let mut q = 1000u16;
            for p in parts {
                if let Some(v) = p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")) {
                    q = parse_q(v)?;
                }
            }
            (q > 0).then_some((q, i, tag))
        })
        .collect();
    ranges.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    ranges
        .into_iter()
        .find_map(|(_, _, tag)| Lang::find(tag))
        .unwrap_or_else(Lang::fallback)
}

/// A qvalue (`0`, `0.5`, `1.000`) in thousandths; `None` when malformed.
fn parse_q(v: &str) -> Option<u16> {
    let v = v.trim();
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let whole: u16 = match int {
        "0" => 0,
        "1" => 1000,
        _ => return None,
    };
    let mut thousandths = 0u16;
    for (i, c) in frac.chars().enumerate() {
        let d = c.to_digit(10)? as u16;
        thousandths += d * [100, 10, 1][i];
    }
    let q = whole + thousandths;
    (q <= 1000).then_some(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ui_locales_come_first_then_accept_language_then_english() {
        let al = HeaderValue::from_static("de-DE, en-GB;q=0.8");
        assert_eq!(choose_lang(Some("fr en"), Some(&al)).tag(), "en");
        assert_eq!(choose_lang(None, Some(&al)).tag(), "en");
        assert_eq!(choose_lang(Some("zz"), None).tag(), "en");
        assert_eq!(choose_lang(None, None).tag(), "en");
        let odd = HeaderValue::from_static("en;q=0, *;q=0.5, ;;;, q=2");
        assert_eq!(choose_lang(None, Some(&odd)).tag(), "en");
    }

    #[test]
    fn tags_match_exactly_or_by_primary_subtag() {
        assert_eq!(Lang::find("EN-us").map(|l| l.tag()), Some("en"));
        assert_eq!(Lang::find("en").map(|l| l.tag()), Some("en"));
        assert!(Lang::find("fr").is_none());
        assert!(Lang::find("*").is_none());
        assert!(Lang::find("").is_none());
    }

    #[test]
    fn q_values_parse_strictly() {
        assert_eq!(parse_q("1"), Some(1000));
        assert_eq!(parse_q("0.5"), Some(500));
        assert_eq!(parse_q("0.125"), Some(125));
        assert_eq!(parse_q("1.000"), Some(1000));
        assert_eq!(parse_q("1.5"), None);
        assert_eq!(parse_q("0.1234"), None);
        assert_eq!(parse_q("x"), None);
    }

    #[test]
    fn every_table_has_the_english_keys_and_no_others() {
        for table in LANGUAGES {
            for (key, _) in LANGUAGES[0].entries {
                assert!(lookup(table, key).is_some(), "{}: missing {key}", table.tag);
            }
            for (key, _) in table.entries {
                assert!(
                    lookup(LANGUAGES[0], key).is_some(),
                    "{}: unknown {key}",
                    table.tag
                );
            }
            let mut keys: Vec<_> = table.entries.iter().map(|(k, _)| *k).collect();
            keys.sort_unstable();
            keys.dedup();
            assert_eq!(
                keys.len(),
                table.entries.len(),
                "{}: duplicate keys",
                table.tag
            );
        }
    }
}
