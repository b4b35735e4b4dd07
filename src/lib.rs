#![doc = include_str!("../README.md")]

pub mod bundle;
pub mod codec;
pub mod eval;
pub mod failure;
#[cfg(feature = "html")]
pub mod html;
pub mod model;
pub mod serve;
pub mod time;

#[cfg(any(feature = "js", feature = "worker"))]
pub mod clock;
#[cfg(feature = "js")]
pub mod js;

#[cfg(feature = "worker")]
pub mod worker;

pub use time::{Span, UnixTime};
