//! The small storage trait the ledger is written against: read with
//! [`Store::query`], write with [`Store::apply`], which applies a whole batch
//! of statements or none of them. Two implementations run the same SQL:
//! SQLite natively (`SqliteStore`, feature `sqlite`) and a Durable Object's
//! SQLite storage in the origin Worker.

use std::fmt;

/// The schema every store runs (`CREATE TABLE IF NOT EXISTS ...`).
pub const SCHEMA: &str = include_str!("schema.sql");

/// A SQL value. The ledger stores integers and text only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// A 64-bit integer (times, sequence numbers, versions).
    Int(i64),
    /// UTF-8 text (identifiers, JSON).
    Text(String),
}

impl Value {
    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The text, if this is some.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<u32> for Value {
    fn from(i: u32) -> Self {
        Value::Int(i64::from(i))
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// One result row, its columns in `SELECT` order.
pub type Row = Vec<Value>;

/// One statement of a write batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// SQL with `?` placeholders.
    pub sql: &'static str,
    /// The values for the placeholders, in order.
    pub params: Vec<Value>,
}

impl Statement {
    /// A statement with its parameters.
    pub fn new(sql: &'static str, params: Vec<Value>) -> Statement {
        Statement { sql, params }
    }
}

/// Why a store could not read or write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// A uniqueness constraint failed: another writer got there first.
    Conflict(String),
    /// Anything else the database reported.
    Database(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Conflict(m) => write!(f, "storage conflict: {m}"),
            StoreError::Database(m) => write!(f, "storage error: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// Where the ledger keeps its rows.
pub trait Store {
    /// Runs a `SELECT` and returns its rows.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError>;

    /// Applies every statement of `batch` in order, atomically: after an
    /// error (or a crash) none of them has taken effect.
    fn apply(&mut self, batch: &[Statement]) -> Result<(), StoreError>;
}

/// The schema as statements, for [`Store::apply`].
pub fn schema_statements() -> Vec<Statement> {
    split_sql(SCHEMA).into_iter().map(|sql| Statement { sql, params: Vec::new() }).collect()
}

/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: u32 = 2;

/// Columns added by each schema version after the first, to tell a store
/// written by an earlier, incompatible build from a current one.
const SCHEMA_PROBES: &[&str] =
    &["SELECT value_digest, erased_at, first_bundled_at FROM signals LIMIT 0", "SELECT role FROM api_keys LIMIT 0"];

/// Applies the schema and checks that the store is of this build's schema
/// version. A store written by an earlier build (before
/// [`SCHEMA_VERSION`]) is refused with a message saying so: there is no
/// migration from pre-release schemas.
pub fn open_schema(store: &mut impl Store) -> Result<(), StoreError> {
    store.apply(&schema_statements())?;
    for probe in SCHEMA_PROBES {
        if store.query(probe, &[]).is_err() {
            return Err(StoreError::Database(format!(
                "this store was written by an earlier signalgate with an incompatible schema (this build reads \
                 schema version {SCHEMA_VERSION}); pre-release stores are not migrated: start from an empty one"
            )));
        }
    }
    Ok(())
}

/// `text` split into its statements (at `;`), without blank ones. The
/// schema keeps `;` out of its comments (a test checks).
fn split_sql(text: &'static str) -> Vec<&'static str> {
    text.split(';')
        .map(str::trim)
        .filter(|s| s.lines().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--")))
        .collect()
}

/// Integer column `i` of `row`.
pub(crate) fn int(row: &Row, i: usize) -> Result<i64, StoreError> {
    row.get(i).and_then(Value::as_int).ok_or_else(|| StoreError::Database(format!("column {i} is not an integer")))
}

/// Optional integer column `i` of `row`.
pub(crate) fn opt_int(row: &Row, i: usize) -> Result<Option<i64>, StoreError> {
    match row.get(i) {
        Some(Value::Null) => Ok(None),
        _ => int(row, i).map(Some),
    }
}

/// Text column `i` of `row`.
pub(crate) fn text(row: &Row, i: usize) -> Result<String, StoreError> {
    row.get(i)
        .and_then(Value::as_text)
        .map(str::to_string)
        .ok_or_else(|| StoreError::Database(format!("column {i} is not text")))
}

/// Optional text column `i` of `row`.
pub(crate) fn opt_text(row: &Row, i: usize) -> Result<Option<String>, StoreError> {
    match row.get(i) {
        Some(Value::Null) => Ok(None),
        _ => text(row, i).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_splits_into_create_statements() {
        let statements = schema_statements();
        assert!(statements.len() >= 8, "{statements:?}");
        assert!(statements.iter().all(|s| s.sql.contains("CREATE TABLE IF NOT EXISTS")));
        let comment_with_semicolon = SCHEMA.lines().find(|l| l.split_once("--").is_some_and(|(_, c)| c.contains(';')));
        assert_eq!(comment_with_semicolon, None, "a `;` in a schema comment would split a statement");
    }
}
