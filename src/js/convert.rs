//! Decisions to JS values, with as few calls across the boundary as
//! possible. The values are exactly what `serde-wasm-bindgen`'s
//! JSON-compatible serializer made of them before (plain objects with the
//! same members in the same order, arrays, strings, numbers, `null`), down
//! to its one refusal: an integer beyond 2^53 - 1, for which the whole result
//! was `null`.
//!
//! - Small results (the page view) are built member by member, with the
//!   strings made once per gate ([`Strings`]) instead of once per call.
//! - The full decision (reasons: a few hundred objects for a large bundle)
//!   is encoded by [`Ops`] into one string and two arrays, and built by a
//!   short JS function in one call ([`decision`]), shipped with each build
//!   (CommonJS for Node, an ES module for browsers and workerd). A value
//!   with a NUL in a string is handed over as JSON for `JSON.parse` instead.

use std::collections::HashMap;

use js_sys::{Array, Object, Reflect};
use serde::ser::{self, Serialize};
use serde_json::Value;
use wasm_bindgen::prelude::*;

use super::glue::sg_build;

/// 2^53 - 1: larger integers are not exact as JS numbers.
const MAX_SAFE: u64 = (1 << 53) - 1;

/// JS strings made once and reused (tier names, segment tokens, member
/// names: a set the policy bounds). Kept below a size so that odd inputs
/// cannot grow it without end.
#[derive(Default)]
pub(super) struct Strings {
    made: HashMap<String, JsValue>,
}

impl Strings {
    const MAX: usize = 4096;

    fn get(&mut self, s: &str) -> JsValue {
        if let Some(v) = self.made.get(s) {
            return v.clone();
        }
        if self.made.len() >= Self::MAX {
            self.made.clear();
        }
        let v = JsValue::from_str(s);
        self.made.insert(s.to_string(), v.clone());
        v
    }

    /// A JSON value as serde-wasm-bindgen's JSON-compatible serializer made
    /// it; `None` where that refused (an integer beyond 2^53 - 1).
    pub(super) fn value(&mut self, v: &Value) -> Option<JsValue> {
        Some(match v {
            Value::Null => JsValue::NULL,
            Value::Bool(b) => JsValue::from_bool(*b),
            Value::Number(n) => number(n)?,
            Value::String(s) => self.get(s),
            Value::Array(items) => {
                let out = Array::new_with_length(items.len() as u32);
                for (i, item) in items.iter().enumerate() {
                    out.set(i as u32, self.value(item)?);
                }
                out.into()
            }
            Value::Object(members) => {
                let out = Object::new();
                for (name, item) in members {
                    let item = self.value(item)?;
                    Reflect::set(&out, &self.get(name), &item).ok()?;
                }
                out.into()
            }
        })
    }
}

fn number(n: &serde_json::Number) -> Option<JsValue> {
    if let Some(u) = n.as_u64() {
        return (u <= MAX_SAFE).then(|| JsValue::from_f64(u as f64));
    }
    if let Some(i) = n.as_i64() {
        return (i.unsigned_abs() <= MAX_SAFE).then(|| JsValue::from_f64(i as f64));
    }
    n.as_f64().map(JsValue::from_f64)
}

/// A value encoded for the JS builder: its strings joined by NUL in one
/// string, its numbers in one array, and its shape in `ops`, one `u32` per
/// node (tag in the low 3 bits, a string index or a count above them):
/// `STR` index, `ARR` count then the items, `OBJ` count then (member-name
/// index, value) pairs, `NUM` (the next number), `NULL`, `TRUE`, `FALSE`.
/// Member names and other `&'static str` are stored once per value, and so
/// are repeated short strings (a class or purpose named by every signal's
/// reasons): fewer strings for JS to cut out and allocate.
#[derive(Default)]
pub(super) struct Ops {
    text: String,
    strings: u32,
    ops: Vec<u32>,
    nums: Vec<f64>,
    /// `&'static str` already stored: (address, length, index), by address.
    statics: Vec<(usize, usize, u32)>,
    /// Short strings already stored: (hash, offset in `text`, length, index).
    short: Vec<(u32, u32, u32, u32)>,
    /// A string contains NUL: the encoding cannot be used.
    has_nul: bool,
}

const STR: u32 = 0;
const ARR: u32 = 1;
const OBJ: u32 = 2;
const NUM: u32 = 3;
const NULL: u32 = 4;
const TRUE: u32 = 5;
const FALSE: u32 = 6;
const STATIC_SLOTS: usize = 64;
const SHORT_SLOTS: usize = 256;
/// Strings up to this length (bytes) are looked up before being stored.
const SHORT_MAX: usize = 32;

/// FNV-1a over a short string (its length bounded by [`SHORT_MAX`]).
fn short_hash(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

#[derive(Debug)]
pub(super) struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not representable as a JSON-compatible JS value")
    }
}
impl std::error::Error for Refused {}
impl ser::Error for Refused {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Refused
    }
}

impl Ops {
    /// Encodes `value`; `false` where serde-wasm-bindgen refused it.
    pub(super) fn encode<T: Serialize>(&mut self, value: &T) -> bool {
        self.text.clear();
        self.ops.clear();
        self.nums.clear();
        self.strings = 0;
        self.has_nul = false;
        self.statics.clear();
        self.statics.resize(STATIC_SLOTS, (0, 0, u32::MAX));
        self.short.clear();
        self.short.resize(SHORT_SLOTS, (0, 0, 0, u32::MAX));
        value.serialize(&mut *self).is_ok()
    }

    fn string(&mut self, s: &str) -> u32 {
        if s.len() > SHORT_MAX {
            return self.store(s);
        }
        let hash = short_hash(s);
        let slot = hash as usize % SHORT_SLOTS;
        let (h, at, len, index) = self.short[slot];
        if index != u32::MAX && h == hash && self.text.get(at as usize..(at + len) as usize) == Some(s) {
            return index;
        }
        let at = self.text.len() + usize::from(self.strings > 0);
        let index = self.store(s);
        self.short[slot] = (hash, at as u32, s.len() as u32, index);
        index
    }

    fn store(&mut self, s: &str) -> u32 {
        if self.strings > 0 {
            self.text.push('\0');
        }
        self.has_nul |= s.contains('\0');
        self.text.push_str(s);
        self.strings += 1;
        self.strings - 1
    }

    fn static_string(&mut self, s: &'static str) -> u32 {
        let at = s.as_ptr() as usize;
        let slot = (at ^ (at >> 6)) % STATIC_SLOTS;
        let (a, len, index) = self.statics[slot];
        if a == at && len == s.len() && index != u32::MAX {
            return index;
        }
        let index = self.store(s);
        self.statics[slot] = (at, s.len(), index);
        index
    }

    fn op(&mut self, tag: u32, arg: u32) {
        self.ops.push(tag | arg << 3);
    }

    /// Starts a list or object whose count is patched in at its end.
    fn open(&mut self, tag: u32) -> usize {
        self.ops.push(tag);
        self.ops.len() - 1
    }

    fn close(&mut self, at: usize, count: u32) {
        if let Some(op) = self.ops.get_mut(at) {
            *op |= count << 3;
        }
    }

    fn int(&mut self, v: f64) -> Result<(), Refused> {
        self.ops.push(NUM);
        self.nums.push(v);
        Ok(())
    }
}

/// A list or object being encoded.
pub(super) struct Open<'a> {
    ops: &'a mut Ops,
    at: usize,
    count: u32,
}

impl<'a> Open<'a> {
    fn new(ops: &'a mut Ops, tag: u32) -> Self {
        let at = ops.open(tag);
        Open { ops, at, count: 0 }
    }
    fn item<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Refused> {
        self.count += 1;
        value.serialize(&mut *self.ops)
    }
    fn member<T: ?Sized + Serialize>(&mut self, name: &'static str, value: &T) -> Result<(), Refused> {
        let name = self.ops.static_string(name);
        self.ops.ops.push(name);
        self.item(value)
    }
    fn end(self) -> Result<(), Refused> {
        self.ops.close(self.at, self.count);
        Ok(())
    }
}

impl<'a> ser::Serializer for &'a mut Ops {
    type Ok = ();
    type Error = Refused;
    type SerializeSeq = Open<'a>;
    type SerializeTuple = Open<'a>;
    type SerializeTupleStruct = Open<'a>;
    type SerializeTupleVariant = ser::Impossible<(), Refused>;
    type SerializeMap = ser::Impossible<(), Refused>;
    type SerializeStruct = Open<'a>;
    type SerializeStructVariant = ser::Impossible<(), Refused>;

    fn serialize_bool(self, v: bool) -> Result<(), Refused> {
        self.op(if v { TRUE } else { FALSE }, 0);
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Refused> {
        self.int(f64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), Refused> {
        self.int(f64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), Refused> {
        self.int(f64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), Refused> {
        if v.unsigned_abs() > MAX_SAFE {
            return Err(Refused);
        }
        self.int(v as f64)
    }
    fn serialize_u8(self, v: u8) -> Result<(), Refused> {
        self.int(f64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), Refused> {
        self.int(f64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), Refused> {
        self.int(f64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), Refused> {
        if v > MAX_SAFE {
            return Err(Refused);
        }
        self.int(v as f64)
    }
    fn serialize_f32(self, v: f32) -> Result<(), Refused> {
        self.int(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Refused> {
        self.int(v)
    }
    fn serialize_char(self, v: char) -> Result<(), Refused> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), Refused> {
        let index = self.string(v);
        self.op(STR, index);
        Ok(())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), Refused> {
        Err(Refused)
    }
    fn serialize_none(self) -> Result<(), Refused> {
        self.op(NULL, 0);
        Ok(())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), Refused> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Refused> {
        self.op(NULL, 0);
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Refused> {
        self.op(NULL, 0);
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<(), Refused> {
        let index = self.static_string(variant);
        self.op(STR, index);
        Ok(())
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, value: &T) -> Result<(), Refused> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Refused> {
        Err(Refused)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Open<'a>, Refused> {
        Ok(Open::new(self, ARR))
    }
    fn serialize_tuple(self, _: usize) -> Result<Open<'a>, Refused> {
        Ok(Open::new(self, ARR))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Open<'a>, Refused> {
        Ok(Open::new(self, ARR))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Refused> {
        Err(Refused)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Refused> {
        Err(Refused)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Open<'a>, Refused> {
        Ok(Open::new(self, OBJ))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Refused> {
        Err(Refused)
    }
}

impl ser::SerializeSeq for Open<'_> {
    type Ok = ();
    type Error = Refused;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Refused> {
        self.item(value)
    }
    fn end(self) -> Result<(), Refused> {
        Open::end(self)
    }
}

impl ser::SerializeTuple for Open<'_> {
    type Ok = ();
    type Error = Refused;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Refused> {
        self.item(value)
    }
    fn end(self) -> Result<(), Refused> {
        Open::end(self)
    }
}

impl ser::SerializeTupleStruct for Open<'_> {
    type Ok = ();
    type Error = Refused;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Refused> {
        self.item(value)
    }
    fn end(self) -> Result<(), Refused> {
        Open::end(self)
    }
}

impl ser::SerializeStruct for Open<'_> {
    type Ok = ();
    type Error = Refused;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, name: &'static str, value: &T) -> Result<(), Refused> {
        self.member(name, value)
    }
    fn end(self) -> Result<(), Refused> {
        Open::end(self)
    }
}

/// `value` (a struct such as a `Decision`) as a JS value, in one call.
pub(super) fn decision<T: Serialize>(value: &T, ops: &mut Ops) -> JsValue {
    if !ops.encode(value) {
        return JsValue::NULL;
    }
    if !ops.has_nul {
        return sg_build(&ops.text, &ops.ops, &ops.nums);
    }
    serde_json::to_string(value).ok().and_then(|text| js_sys::JSON::parse(&text).ok()).unwrap_or(JsValue::NULL)
}
