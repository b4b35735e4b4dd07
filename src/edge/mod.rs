//! The edge gate's plumbing that does not need a JS runtime: configuration
//! from Worker variables, reading the bundle from a request, and the bounded
//! cache of verified bundles. The Worker binding (`worker` feature) is a thin
//! layer over this and [`crate::eval::Gate`].

pub mod cache;
pub mod config;
pub mod request;
pub mod url;
pub mod view;

pub use cache::{decide_with_cache, BundleCache};
pub use config::{EdgeConfig, EdgeError};
pub use request::{bundle_from, BUNDLE_COOKIE, BUNDLE_HEADER};
pub use view::PageView;
