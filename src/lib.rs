#![doc = include_str!("../README.md")]

pub mod bundle;
pub mod edge;
pub mod eval;
#[cfg(feature = "html")]
pub mod html;
pub mod model;
pub mod time;

#[cfg(all(feature = "js", target_arch = "wasm32"))]
pub mod js;

#[cfg(all(feature = "worker", target_arch = "wasm32"))]
pub mod worker;

pub use time::{Span, UnixTime};
