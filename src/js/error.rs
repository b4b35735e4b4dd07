//! What the JS API throws: an `Error` with a stable `code` and a one-line
//! `message`, never a bare string.

use std::fmt::Display;

use wasm_bindgen::JsValue;

/// `new Error(message)` with `error.code = code`.
pub(crate) fn coded(code: &str, message: impl Display) -> JsValue {
    let message = message.to_string().replace('\n', " ");
    let error = js_sys::Error::new(&message);
    let _ = js_sys::Reflect::set(&error, &JsValue::from_str("code"), &JsValue::from_str(code));
    error.into()
}
