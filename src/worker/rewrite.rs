//! Applies a [`PageView`] to a response with workerd's built-in
//! `HTMLRewriter` (lol_html inside the runtime), so the Worker streams pages
//! without shipping a second HTML parser in its wasm. The decisions
//! (`keeps_segment`, `keeps_tier`) are the same Rust code the native
//! [`crate::html`] filter uses.

use std::cell::Cell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::serve::markup::{
    DECISION_SELECTOR, INJECT_SELECTOR, SEGMENT_ATTR, SEGMENT_SELECTOR, TIER_ATTR, TIER_SELECTOR,
};
use crate::serve::PageView;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = HTMLRewriter)]
    type HtmlRewriter;
    #[wasm_bindgen(constructor, js_class = "HTMLRewriter")]
    fn new() -> HtmlRewriter;
    #[wasm_bindgen(method, js_class = "HTMLRewriter")]
    fn on(this: &HtmlRewriter, selector: &str, handlers: &js_sys::Object) -> HtmlRewriter;
    #[wasm_bindgen(method, js_class = "HTMLRewriter", js_name = onDocument)]
    fn on_document(this: &HtmlRewriter, handlers: &js_sys::Object) -> HtmlRewriter;
    #[wasm_bindgen(method, catch, js_class = "HTMLRewriter")]
    fn transform(this: &HtmlRewriter, response: &web_sys::Response) -> Result<web_sys::Response, JsValue>;

    /// An element seen by the rewriter (also a document end: both have `append`).
    type RewriterElement;
    #[wasm_bindgen(method, js_name = getAttribute)]
    fn get_attribute(this: &RewriterElement, name: &str) -> Option<String>;
    #[wasm_bindgen(method)]
    fn remove(this: &RewriterElement);
    #[wasm_bindgen(method)]
    fn append(this: &RewriterElement, content: &str, options: &JsValue);
}

fn handlers(key: &str, mut f: impl FnMut(RewriterElement) + 'static) -> js_sys::Object {
    let obj = js_sys::Object::new();
    let closure = Closure::<dyn FnMut(JsValue)>::new(move |v: JsValue| f(v.unchecked_into()));
    // The closure is owned by the JS object from here on (freed with it).
    let _ = js_sys::Reflect::set(&obj, &JsValue::from_str(key), &closure.into_js_value());
    obj
}

fn html_option() -> JsValue {
    let opts = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&opts, &JsValue::from_str("html"), &JsValue::TRUE);
    opts.into()
}

/// The response with the view applied (streamed by the runtime).
pub fn apply(view: PageView, response: web_sys::Response) -> Result<web_sys::Response, JsValue> {
    let view = Rc::new(view);
    let injected = Rc::new(Cell::new(false));
    let (v1, v2, v3, v4) = (view.clone(), view.clone(), view.clone(), view);
    let (i1, i2) = (injected.clone(), injected);
    HtmlRewriter::new()
        .on(
            SEGMENT_SELECTOR,
            &handlers("element", move |el| {
                if !v1.keeps_segment(&el.get_attribute(SEGMENT_ATTR).unwrap_or_default()) {
                    el.remove();
                }
            }),
        )
        .on(
            TIER_SELECTOR,
            &handlers("element", move |el| {
                if !v2.keeps_tier(&el.get_attribute(TIER_ATTR).unwrap_or_default()) {
                    el.remove();
                }
            }),
        )
        .on(DECISION_SELECTOR, &handlers("element", |el| el.remove()))
        .on(
            INJECT_SELECTOR,
            &handlers("element", move |el| {
                if !i1.replace(true) {
                    el.append(v3.script(), &html_option());
                }
            }),
        )
        .on_document(&handlers("end", move |end| {
            if !i2.replace(true) {
                end.append(v4.script(), &html_option());
            }
        }))
        .transform(&response)
}
