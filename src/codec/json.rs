//! Strict JSON for bundles, keys and policies: the document is an object,
//! duplicate member names anywhere are rejected (serde_json keeps the last
//! one silently), no list sits directly inside a list (none of our schemas
//! has one, and serde would otherwise read a struct from a list of its
//! fields: a second encoding of the same data), and nesting is bounded.

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Deepest nesting accepted.
pub const MAX_DEPTH: usize = 16;

/// Why a JSON document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonProblem {
    /// A member name appears twice in one object.
    Duplicate(String),
    /// Not JSON, or nested too deep.
    Syntax(String),
}

impl fmt::Display for JsonProblem {
    /// The one wording of a JSON problem, used by every layer's error.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonProblem::Duplicate(name) => write!(f, "member `{name}` appears twice in one object"),
            JsonProblem::Syntax(detail) => write!(f, "not valid JSON: {detail}"),
        }
    }
}

impl std::error::Error for JsonProblem {}

/// Checks `bytes` (see the module docs), then deserializes `T`.
pub fn from_slice_strict<T: de::DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonProblem> {
    check(bytes)?;
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(JsonProblem::Syntax("expected a JSON object".into()));
    }
    serde_json::from_slice(bytes).map_err(|e| JsonProblem::Syntax(e.to_string()))
}

/// Checks `bytes` for duplicate member names and depth without building anything.
pub fn check(bytes: &[u8]) -> Result<(), JsonProblem> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let dup = std::cell::RefCell::new(None);
    let result = Walk { depth: 0, in_list: false, dup: &dup }.deserialize(&mut de).and_then(|()| de.end());
    if let Some(name) = dup.into_inner() {
        return Err(JsonProblem::Duplicate(name));
    }
    result.map_err(|e| JsonProblem::Syntax(e.to_string()))
}

#[derive(Clone, Copy)]
struct Walk<'a> {
    depth: usize,
    /// The value being visited is an element of a list.
    in_list: bool,
    dup: &'a std::cell::RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.in_list {
            return Err(de::Error::custom("a list directly inside a list"));
        }
        let inner = Walk { in_list: true, ..self.nested::<A::Error>()? };
        while seq.next_element_seed(inner)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let inner = Walk { in_list: false, ..self.nested::<A::Error>()? };
        let mut names = BTreeSet::new();
        while let Some(name) = map.next_key::<String>()? {
            if names.contains(&name) {
                *self.dup.borrow_mut() = Some(name);
                return Err(de::Error::custom("duplicate member name"));
            }
            map.next_value_seed(inner)?;
            names.insert(name);
        }
        Ok(())
    }
}

impl Walk<'_> {
    fn nested<E: de::Error>(self) -> Result<Self, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(Walk { depth: self.depth + 1, in_list: self.in_list, dup: self.dup })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_found_at_any_depth() {
        assert_eq!(check(br#"{"a":1,"a":2}"#), Err(JsonProblem::Duplicate("a".into())));
        assert_eq!(check(br#"{"x":[{"b":1,"c":{"d":1,"d":1}}]}"#), Err(JsonProblem::Duplicate("d".into())));
        // Escapes name the same member.
        assert_eq!(check(br#"{"a":1,"\u0061":2}"#), Err(JsonProblem::Duplicate("a".into())));
        assert!(check(br#"{"a":{"a":1},"b":[1,"a",null,true,-1.5]}"#).is_ok());
    }

    #[test]
    fn structs_written_as_lists_are_refused() {
        // A signal or consent record as a positional list, inside a list.
        assert!(matches!(check(br#"{"sig":[["s1","interest","hiking"]]}"#), Err(JsonProblem::Syntax(_))));
        assert!(matches!(check(br#"{"keys":[["OKP","Ed25519","x"]]}"#), Err(JsonProblem::Syntax(_))));
        let top: Result<serde_json::Value, _> = from_slice_strict(br#" ["EdDSA","k1"]"#);
        assert_eq!(top, Err(JsonProblem::Syntax("expected a JSON object".into())));
        // Lists of objects and of scalars are fine.
        assert!(check(br#"{"sig":[{"a":[1,2]},{"b":"x"}],"pur":["a","b"]}"#).is_ok());
    }

    #[test]
    fn depth_and_syntax_are_bounded() {
        let deep = "{\"a\":".repeat(40) + "1" + &"}".repeat(40);
        assert!(matches!(check(deep.as_bytes()), Err(JsonProblem::Syntax(_))));
        assert!(matches!(check(b"{\"a\":1} trailing"), Err(JsonProblem::Syntax(_))));
        assert!(matches!(check(b"{"), Err(JsonProblem::Syntax(_))));
    }
}
