//! [`Store`] over SQLite (rusqlite, bundled), for the CLI, the tests and any
//! Rust service that embeds the ledger. A batch runs in one `IMMEDIATE`
//! transaction: all of it commits or none of it does.

use std::path::Path;
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{Connection, ErrorCode, TransactionBehavior};

use super::store::{open_schema, Row, Statement, Store, StoreError, Value};

/// A ledger database file (or an in-memory one).
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Owned(SqlValue::Null),
            Value::Int(i) => ToSqlOutput::Owned(SqlValue::Integer(*i)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

fn store_error(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation) => StoreError::Conflict(e.to_string()),
        _ => StoreError::Database(e.to_string()),
    }
}

impl SqliteStore {
    /// Opens (or creates) the database at `path` and makes sure the schema
    /// exists. Several processes may share the file: writers wait for each
    /// other (WAL mode, a busy timeout).
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path).map_err(store_error)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(store_error)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(store_error)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(store_error)?;
        Self::with_connection(conn)
    }

    /// A private in-memory database with the schema.
    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        Self::with_connection(Connection::open_in_memory().map_err(store_error)?)
    }

    fn with_connection(conn: Connection) -> Result<SqliteStore, StoreError> {
        let mut store = SqliteStore { conn };
        open_schema(&mut store)?;
        Ok(store)
    }

    /// The underlying connection (for tools and tests that need raw SQL).
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl Store for SqliteStore {
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(store_error)?;
        let columns = stmt.column_count();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params.iter()), |row| {
                (0..columns)
                    .map(|i| {
                        Ok(match row.get_ref(i)? {
                            ValueRef::Null => Value::Null,
                            ValueRef::Integer(n) => Value::Int(n),
                            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                            ValueRef::Real(f) => Value::Text(f.to_string()),
                            ValueRef::Blob(b) => Value::Text(String::from_utf8_lossy(b).into_owned()),
                        })
                    })
                    .collect::<rusqlite::Result<Row>>()
            })
            .map_err(store_error)?;
        rows.collect::<rusqlite::Result<Vec<Row>>>().map_err(store_error)
    }

    fn apply(&mut self, batch: &[Statement]) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(store_error)?;
        for s in batch {
            if s.params.is_empty() {
                tx.execute_batch(s.sql).map_err(store_error)?;
            } else {
                tx.prepare_cached(s.sql)
                    .and_then(|mut stmt| stmt.execute(rusqlite::params_from_iter(s.params.iter())))
                    .map_err(store_error)?;
            }
        }
        tx.commit().map_err(store_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_statement_leaves_nothing_behind() {
        let mut store = SqliteStore::in_memory().unwrap();
        let insert = "INSERT INTO ledger_meta (key, value) VALUES (?, ?)";
        let batch = vec![
            Statement::new(insert, vec!["a".into(), "1".into()]),
            Statement::new(insert, vec!["a".into(), "2".into()]),
        ];
        assert!(matches!(store.apply(&batch), Err(StoreError::Conflict(_))));
        assert!(store.query("SELECT key FROM ledger_meta", &[]).unwrap().is_empty());
        store.apply(&batch[..1]).unwrap();
        assert_eq!(
            store.query("SELECT value FROM ledger_meta WHERE key = ?", &["a".into()]).unwrap(),
            vec![vec![Value::Text("1".into())]]
        );
    }
}
