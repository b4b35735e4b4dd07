//! The JSON walker every section parser uses: it reads values of the
//! expected kinds and records each problem with its dotted path, so that one
//! pass reports every problem of a document.

use serde_json::{Map, Value};

use crate::model::ident::{is_ident, is_value};
use crate::model::policy::PolicyProblem;
use crate::time::Span;

pub(super) struct Walker {
    pub(super) problems: Vec<PolicyProblem>,
}

pub(super) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

pub(super) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl Walker {
    pub(super) fn problem(&mut self, path: &str, message: impl Into<String>) {
        self.problems.push(PolicyProblem { path: path.to_string(), message: message.into() });
    }

    /// The member `key` of `obj`, or a "missing" problem.
    pub(super) fn required<'v>(&mut self, obj: &'v Map<String, Value>, path: &str, key: &str) -> Option<&'v Value> {
        let v = obj.get(key);
        if v.is_none() {
            self.problem(&join(path, key), "is required");
        }
        v
    }

    pub(super) fn object<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v Map<String, Value>> {
        match v {
            Value::Object(m) => Some(m),
            other => {
                self.problem(path, format!("expected an object, found {}", kind(other)));
                None
            }
        }
    }

    pub(super) fn only(&mut self, obj: &Map<String, Value>, path: &str, allowed: &[&str]) {
        for key in obj.keys().filter(|k| !allowed.contains(&k.as_str())) {
            self.problem(&join(path, key), format!("unknown member; expected one of {}", allowed.join(", ")));
        }
    }

    pub(super) fn string<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v str> {
        match v {
            Value::String(s) => Some(s),
            other => {
                self.problem(path, format!("expected a string, found {}", kind(other)));
                None
            }
        }
    }

    pub(super) fn ident(&mut self, v: &Value, path: &str) -> Option<String> {
        let s = self.string(v, path)?;
        if is_ident(s) {
            Some(s.to_string())
        } else {
            self.problem(path, format!("expected an identifier (1-64 of A-Z a-z 0-9 . _ : -), found {s:?}"));
            None
        }
    }

    pub(super) fn name_ok(&mut self, name: &str, path: &str) -> bool {
        if is_ident(name) {
            return true;
        }
        self.problem(path, format!("{name:?} is not an identifier (1-64 of A-Z a-z 0-9 . _ : -)"));
        false
    }

    pub(super) fn value(&mut self, v: &Value, path: &str) -> Option<String> {
        let s = self.string(v, path)?;
        if is_value(s) {
            Some(s.to_string())
        } else {
            self.problem(path, format!("expected a vocabulary value (1-64 of a-z 0-9 _ -), found {s:?}"));
            None
        }
    }

    pub(super) fn span(&mut self, v: &Value, path: &str) -> Option<Span> {
        let s = self.string(v, path)?;
        Span::parse(s).map_err(|e| self.problem(path, e)).ok()
    }

    pub(super) fn opt_span(&mut self, obj: &Map<String, Value>, path: &str, key: &str, default: Span) -> Span {
        obj.get(key).and_then(|v| self.span(v, &join(path, key))).unwrap_or(default)
    }

    pub(super) fn bool_or(&mut self, obj: &Map<String, Value>, path: &str, key: &str, default: bool) -> bool {
        match obj.get(key) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                self.problem(&join(path, key), format!("expected true or false, found {}", kind(other)));
                default
            }
        }
    }

    pub(super) fn fraction(&mut self, v: &Value, path: &str) -> Option<f64> {
        match v.as_f64() {
            Some(x) if (0.0..=1.0).contains(&x) => Some(x),
            _ => {
                self.problem(path, format!("expected a number from 0 to 1, found {v}"));
                None
            }
        }
    }

    pub(super) fn list<'v>(&mut self, v: &'v Value, path: &str, max: usize) -> &'v [Value] {
        match v {
            Value::Array(items) if items.len() <= max => items,
            Value::Array(items) => {
                self.problem(path, format!("at most {max} entries, found {}", items.len()));
                &[]
            }
            other => {
                self.problem(path, format!("expected a list, found {}", kind(other)));
                &[]
            }
        }
    }

    pub(super) fn choice<T: Copy>(&mut self, v: Option<&Value>, path: &str, options: &[(&str, T)], default: T) -> T {
        let Some(v) = v else { return default };
        let Some(s) = self.string(v, path) else { return default };
        match options.iter().find(|(name, _)| *name == s) {
            Some((_, t)) => *t,
            None => {
                let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
                self.problem(path, format!("expected one of {}, found {s:?}", names.join(", ")));
                default
            }
        }
    }
}
