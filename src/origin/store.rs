//! [`Store`] over a Durable Object's SQLite storage: the same schema and SQL
//! as natively. A batch runs inside `storage.transactionSync`, so a failing
//! statement (or a crash) rolls the whole batch back.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::{SqlStorage, SqlStorageValue};

use crate::ledger::{open_schema, Row, Statement, Store, StoreError, Value};

/// A Durable Object's storage as a ledger store.
pub struct DoStore {
    sql: SqlStorage,
    /// The raw `DurableObjectStorage` (for `transactionSync`).
    storage: JsValue,
    /// Tests only (`SG_FAULT_INJECTION=ledger-crash`): the next batch longer
    /// than N statements throws after its N-th statement, inside the
    /// transaction.
    crash_after: Option<usize>,
}

fn store_error(message: String) -> StoreError {
    if message.contains("UNIQUE constraint failed") || message.contains("constraint failed") {
        StoreError::Conflict(message)
    } else {
        StoreError::Database(message)
    }
}

fn js_message(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "storage error".into())
}

fn to_sql(v: &Value) -> SqlStorageValue {
    match v {
        Value::Null => SqlStorageValue::Null,
        Value::Int(i) => SqlStorageValue::Integer(*i),
        Value::Text(s) => SqlStorageValue::String(s.clone()),
    }
}

fn from_sql(v: SqlStorageValue) -> Value {
    match v {
        SqlStorageValue::Null => Value::Null,
        SqlStorageValue::Integer(i) => Value::Int(i),
        SqlStorageValue::Boolean(b) => Value::Int(i64::from(b)),
        SqlStorageValue::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::Int(f as i64),
        SqlStorageValue::Float(f) => Value::Text(f.to_string()),
        SqlStorageValue::String(s) => Value::Text(s),
        SqlStorageValue::Blob(b) => Value::Text(String::from_utf8_lossy(&b).into_owned()),
    }
}

impl DoStore {
    /// The store of the Durable Object whose storage is `storage`, with the
    /// schema applied.
    pub fn open(storage: &worker::Storage, crash_after: Option<usize>) -> Result<DoStore, StoreError> {
        let mut store = DoStore { sql: storage.sql(), storage: storage.as_raw().into(), crash_after: None };
        open_schema(&mut store)?;
        store.crash_after = crash_after;
        Ok(store)
    }
}

impl Store for DoStore {
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let cursor = self
            .sql
            .exec(sql, params.iter().map(to_sql).collect::<Vec<_>>())
            .map_err(|e| store_error(e.to_string()))?;
        cursor
            .raw()
            .map(|row| row.map(|r| r.into_iter().map(from_sql).collect()).map_err(|e| store_error(e.to_string())))
            .collect()
    }

    fn apply(&mut self, batch: &[Statement]) -> Result<(), StoreError> {
        let sql = self.sql.clone();
        let owned: Vec<(&'static str, Vec<SqlStorageValue>)> =
            batch.iter().map(|s| (s.sql, s.params.iter().map(to_sql).collect())).collect();
        let crash_after =
            if self.crash_after.is_some_and(|n| batch.len() > n) { self.crash_after.take() } else { None };
        let failure: Rc<RefCell<Option<String>>> = Rc::new(RefCell::new(None));
        let seen = failure.clone();
        let body = Closure::once(move || -> Result<(), JsValue> {
            for (i, (q, params)) in owned.into_iter().enumerate() {
                if crash_after == Some(i) {
                    *seen.borrow_mut() = Some("fault injection: crash between writes".into());
                    return Err(JsValue::from_str("fault injection: crash between writes"));
                }
                if let Err(e) = sql.exec(q, params) {
                    let message = e.to_string();
                    *seen.borrow_mut() = Some(message.clone());
                    return Err(JsValue::from_str(&message));
                }
            }
            Ok(())
        });
        let transaction_sync: js_sys::Function =
            js_sys::Reflect::get(&self.storage, &JsValue::from_str("transactionSync"))
                .ok()
                .and_then(|f| f.dyn_into().ok())
                .ok_or_else(|| StoreError::Database("this storage has no transactionSync".into()))?;
        match transaction_sync.call1(&self.storage, body.as_ref().unchecked_ref()) {
            Ok(_) => Ok(()),
            Err(e) => Err(store_error(failure.borrow_mut().take().unwrap_or_else(|| js_message(&e)))),
        }
    }
}
