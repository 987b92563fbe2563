//! Which database to open: a SQLite file or a PostgreSQL server, parsed from the
//! `--database-url` value (or a data-dir path).

use std::fmt;
use std::path::{Path, PathBuf};

use tessera_identity::StoreError;

/// The database a [`crate::Database`] opens.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    /// A SQLite database file (created if missing; its directory must exist).
    Sqlite(PathBuf),
    /// A PostgreSQL (≥ 14) connection URL, `postgres://` or `postgresql://`.
    Postgres(String),
}

impl DatabaseTarget {
    /// `postgres://…` and `postgresql://…` are PostgreSQL; `sqlite://path`, `sqlite:path` or a
    /// plain path is a SQLite file. In-memory SQLite is refused: nothing would be durable and
    /// every pooled connection would see a different database.
    pub fn parse(url_or_path: &str) -> Result<Self, StoreError> {
        let value = url_or_path.trim();
        if value.is_empty() {
            return Err(StoreError::Backend("empty database URL".to_string()));
        }
        let lower = value.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return Ok(Self::Postgres(value.to_string()));
        }
        let path = if lower.starts_with("sqlite://") {
            &value["sqlite://".len()..]
        } else if lower.starts_with("sqlite:") {
            &value["sqlite:".len()..]
        } else if has_url_scheme(value) {
            return Err(StoreError::Backend(format!(
                "unsupported database URL scheme in `{}` (use postgres://, sqlite:// or a path)",
                scheme_of(value)
            )));
        } else {
            value
        };
        if path.is_empty() || path.contains(":memory:") || path.contains("mode=memory") {
            return Err(StoreError::Backend(
                "a SQLite database must be a file path".to_string(),
            ));
        }
        if path.contains('?') {
            return Err(StoreError::Backend(
                "SQLite URL parameters are not supported; give a plain path".to_string(),
            ));
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }

    /// "sqlite" or "postgres".
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// The SQLite path, if this is a SQLite target.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Self::Sqlite(path) => Some(path),
            Self::Postgres(_) => None,
        }
    }
}

/// Never prints a PostgreSQL password: URLs end up in logs.
impl fmt::Debug for DatabaseTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Self::Postgres(url) => f.debug_tuple("Postgres").field(&redact_url(url)).finish(),
        }
    }
}

impl fmt::Display for DatabaseTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Self::Postgres(url) => f.write_str(&redact_url(url)),
        }
    }
}

/// The URL with any password replaced by `***`.
fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut parsed) => {
            if parsed.password().is_some() && parsed.set_password(Some("***")).is_err() {
                return "postgres://***".to_string();
            }
            parsed.to_string()
        }
        Err(_) => "postgres://***".to_string(),
    }
}

/// Whether `value` starts with `scheme:` followed by `//`, the shape of a URL rather than a
/// path. A Windows drive letter (`C:\…`) has no `//` and stays a path.
fn has_url_scheme(value: &str) -> bool {
    match value.split_once("://") {
        Some((scheme, _)) => {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

fn scheme_of(value: &str) -> &str {
    value.split_once("://").map_or(value, |(scheme, _)| scheme)
}

/// The sqlx connection URL of a SQLite file: absolute, percent-encoded, created if missing.
pub(crate) fn sqlite_url(path: &Path) -> Result<String, StoreError> {
    let absolute = std::path::absolute(path)
        .map_err(|e| StoreError::Backend(format!("cannot resolve {}: {e}", path.display())))?;
    let text = absolute.to_str().ok_or_else(|| {
        StoreError::Backend(format!(
            "the SQLite path {} is not valid UTF-8",
            absolute.display()
        ))
    })?;
    let mut encoded = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '%' | '?' | '#' | ' ' | '"' | '<' | '>' | '`' | '{' | '}' => {
                let mut buf = [0u8; 4];
                for byte in c.encode_utf8(&mut buf).bytes() {
                    encoded.push_str(&format!("%{byte:02X}"));
                }
            }
            _ => encoded.push(c),
        }
    }
    // A Windows path (`C:\…`) needs a leading slash to be a URL path.
    let slash = if encoded.starts_with('/') { "" } else { "/" };
    Ok(format!("sqlite://{slash}{encoded}?mode=rwc"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_postgres_urls() {
        for url in [
            "postgres://u@h/db",
            "postgresql://u:p@h:5432/db",
            "POSTGRES://h/db",
        ] {
            assert_eq!(
                DatabaseTarget::parse(url).unwrap(),
                DatabaseTarget::Postgres(url.to_string())
            );
        }
    }

    #[test]
    fn parses_sqlite_urls_and_paths() {
        let cases = [
            ("sqlite://data/t.db", "data/t.db"),
            ("sqlite:///abs/t.db", "/abs/t.db"),
            ("sqlite:rel.db", "rel.db"),
            ("./tessera-data/tessera.db", "./tessera-data/tessera.db"),
            ("/var/lib/tessera/db.sqlite", "/var/lib/tessera/db.sqlite"),
        ];
        for (input, path) in cases {
            assert_eq!(
                DatabaseTarget::parse(input).unwrap(),
                DatabaseTarget::Sqlite(PathBuf::from(path)),
                "{input}"
            );
        }
    }

    #[test]
    fn refuses_memory_other_schemes_and_empty() {
        for input in [
            "",
            "sqlite::memory:",
            "sqlite://",
            "mysql://h/db",
            "sqlite://a.db?mode=ro",
        ] {
            assert!(DatabaseTarget::parse(input).is_err(), "{input}");
        }
    }

    #[test]
    fn debug_and_display_hide_the_password() {
        let target = DatabaseTarget::parse("postgres://u:secret@h/db").unwrap();
        assert!(!format!("{target:?}").contains("secret"));
        assert!(!format!("{target}").contains("secret"));
    }

    #[test]
    fn sqlite_url_is_absolute_and_encoded() {
        let url = sqlite_url(Path::new("/tmp/a b?#%.db")).unwrap();
        assert_eq!(url, "sqlite:///tmp/a%20b%3F%23%25.db?mode=rwc");
    }
}
