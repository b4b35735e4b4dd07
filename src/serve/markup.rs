//! The names the page filter and the edge share, in one place: the markup
//! pages use to mark personalised blocks, the decision script, the request
//! headers and cookies the gate never forwards to the page upstream, the
//! `Vary` of every response, and the origin API's paths and problem. The
//! Worker's JS shim receives these at start-up (`shimConfig`), so the Rust
//! filter and the shim's fail-closed filter cannot drift apart.

use super::request::{BUNDLE_COOKIE, BUNDLE_HEADER};

/// Elements kept only if every token they name is permitted.
pub const SEGMENT_ATTR: &str = "data-sg-segment";
/// Elements kept only if they list the decision's tier.
pub const TIER_ATTR: &str = "data-sg-tier";
/// Selects elements with [`SEGMENT_ATTR`].
pub const SEGMENT_SELECTOR: &str = "[data-sg-segment]";
/// Selects elements with [`TIER_ATTR`].
pub const TIER_SELECTOR: &str = "[data-sg-tier]";
/// Any element from upstream whose id is `sg-decision` in any letter case,
/// dropped before the gate injects its own: `document.getElementById` returns
/// the first element with an id, so an earlier `<div id="sg-decision">` (of any
/// tag) would otherwise stand in front of the gate's script.
pub const DECISION_SELECTOR: &str = r#"[id="sg-decision" i]"#;
/// Where the decision script is injected (at its end; else at the document's end).
pub const INJECT_SELECTOR: &str = "head";
/// The response header with which a page's origin declares that the page
/// carries no gate markup (value `none`): the gate then streams it without
/// the HTML filter, guarded by [`PLAIN_PAGE_MARKERS`]. Never sent on to the
/// visitor.
pub const MARKUP_HEADER: &str = "Sg-Markup";
/// What a page served without the filter must not contain (compared without
/// case): the gate's attribute names and the decision script's id. A page
/// that does is cut off before it.
pub const PLAIN_PAGE_MARKERS: [&str; 3] = [SEGMENT_ATTR, TIER_ATTR, "sg-decision"];
/// The decision anyone sees when nothing can be decided.
pub const GENERIC_JSON: &str = r#"{"tier":"generic","segments":[]}"#;

/// Request headers never forwarded to the page upstream: the decision
/// headers (so a client cannot forge them), the conditional ones (a 304 would
/// let a browser reuse a page filtered for another decision), and the bundle
/// (the upstream gets the decision, never the signed signals).
pub const DROPPED_HEADERS: [&str; 8] = [
    "Sg-Segments",
    "Sg-Tier",
    "Sg-Decision",
    "If-None-Match",
    "If-Modified-Since",
    "If-Match",
    "If-Range",
    BUNDLE_HEADER,
];

/// The browser's session cookie at the origin over plain http (the name the
/// origin's ledger gives it, `ledger::access::SESSION_COOKIE`).
pub const SESSION_COOKIE: &str = "sg_session";
/// The session cookie over https (`ledger::access::SECURE_SESSION_COOKIE`).
pub const SECURE_SESSION_COOKIE: &str = "__Host-sg_session";

/// Cookies never forwarded to the page upstream: the bundle and the origin's
/// session are for the gate and the origin's API only. Every other cookie of
/// the site goes through unchanged.
pub const GATE_COOKIES: [&str; 3] = [BUNDLE_COOKIE, SESSION_COOKIE, SECURE_SESSION_COOKIE];

/// The `Vary` value of every response the gate serves.
pub const VARY: &str = "Cookie, Sg-Bundle, Sec-GPC";

/// The `<script>` element carrying `json` (already escaped for a script).
pub fn decision_script(json: &str) -> String {
    format!(r#"<script type="application/json" id="sg-decision">{json}</script>"#)
}

/// Everything above as one JSON object, for the Worker's JS shim.
pub fn shim_config_json() -> String {
    serde_json::json!({
        "segmentSelector": SEGMENT_SELECTOR,
        "tierSelector": TIER_SELECTOR,
        "tierAttr": TIER_ATTR,
        "decisionSelector": DECISION_SELECTOR,
        "injectSelector": INJECT_SELECTOR,
        "genericJson": GENERIC_JSON,
        "genericScript": decision_script(GENERIC_JSON),
        "droppedHeaders": DROPPED_HEADERS,
        "gateCookies": GATE_COOKIES,
        "vary": VARY,
        "pageTypes": super::view::PAGE_TYPES,
        "apiPrefix": super::forward::API_PREFIX,
        "apiPaths": super::forward::API_PATHS,
        "problemType": super::forward::PROBLEM_CONTENT_TYPE,
        "originUnavailable": super::forward::origin_unavailable().to_string(),
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shim_takes_every_name_from_here() {
        let config: serde_json::Value = serde_json::from_str(&shim_config_json()).unwrap_or_default();
        assert_eq!(config["droppedHeaders"].as_array().map(Vec::len), Some(DROPPED_HEADERS.len()));
        assert_eq!(config["gateCookies"].as_array().map(Vec::len), Some(GATE_COOKIES.len()));
        assert_eq!(config["genericScript"], decision_script(GENERIC_JSON));
        // No copy of a name the shim gets from `shimConfig` may be written
        // into the shim itself.
        let shim = include_str!("../worker/shim.mjs");
        for name in [
            SEGMENT_ATTR,
            TIER_ATTR,
            "sg-decision",
            VARY,
            "If-None-Match",
            "if-none-match",
            "text/html",
            BUNDLE_COOKIE,
            SESSION_COOKIE,
            BUNDLE_HEADER,
            "sg-bundle",
            "/v1/",
            "jwks.json",
            "problem+json",
            "origin_unavailable",
        ] {
            assert!(!shim.contains(name), "src/worker/shim.mjs repeats `{name}`");
        }
    }
}
