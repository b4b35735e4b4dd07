#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod bundle;
pub mod model;
pub mod time;

pub use time::{Span, UnixTime};
