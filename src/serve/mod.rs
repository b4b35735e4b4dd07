//! Serving decisions without a JS runtime: what the Worker and the browser
//! API share. Configuration from Worker variables ([`EdgeConfig`]), reading
//! the bundle from a request ([`bundle_from`]), the pieces of a request URL
//! the gate reads ([`url`]), the bounded cache of verified bundles
//! ([`BundleCache`]), what page code may see ([`PageView`]), the revocation
//! feed's rules ([`feed`]) and what goes to the origin's API ([`forward`]). The
//! bindings (`worker`, `js`) are thin layers over this and
//! [`crate::eval::Gate`].

mod cache;
mod config;
pub mod feed;
pub mod forward;
pub mod markup;
pub mod metrics;
mod request;
pub mod url;
mod view;

pub use cache::{decide_with_cache, entry_bytes, BundleCache, DEFAULT_CAPACITY, DEFAULT_MAX_BYTES};
pub use config::{EdgeConfig, EdgeError, CACHE_BYTES_RANGE};
pub use request::{bundle_from, without_cookies, BUNDLE_COOKIE, BUNDLE_HEADER};
pub use view::{is_page, PageView, PAGE_TYPES};
