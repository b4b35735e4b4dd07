//! The request context a decision is made in. Built by the caller (the
//! Worker from the request, the browser SDK from the page); `now` is an input.

use serde::{Deserialize, Serialize};

use crate::time::UnixTime;

/// Where and why signals would be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    /// The evaluation instant.
    pub now: UnixTime,
    /// The purposes of the route (e.g. `["personalization"]`).
    pub purposes: Vec<String>,
    /// The delivery channel (`web`, `email`, `sms`, `app`, ...).
    pub channel: String,
    /// The gate's tenant.
    pub tenant: String,
    /// The gate's scope (e.g. `web`): consent records must list it.
    pub scope: String,
    /// The request carried Global Privacy Control (`Sec-GPC: 1`).
    #[serde(default)]
    pub gpc: bool,
}
