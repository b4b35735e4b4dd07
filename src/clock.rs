//! The one place the JS bindings read the clock (`Date.now()`); the core
//! never does: it takes `now` as an input.

use crate::time::UnixTime;

/// Now, from the JS clock, in whole seconds.
pub fn now() -> UnixTime {
    UnixTime((js_sys::Date::now() / 1000.0).floor() as i64)
}

/// Now, from the JS clock, in milliseconds (for timers such as retry backoff).
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}
