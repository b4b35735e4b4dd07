//! The names the page filter and the edge share, in one place: the markup
//! pages use to mark personalised blocks, the decision script, the request
//! headers the gate never forwards, and the `Vary` of every response. The
//! Worker's JS shim receives these at start-up (`shimConfig`), so the Rust
//! filter and the shim's fail-closed filter cannot drift apart.

/// Elements kept only if every token they name is permitted.
pub const SEGMENT_ATTR: &str = "data-sg-segment";
/// Elements kept only if they list the decision's tier.
pub const TIER_ATTR: &str = "data-sg-tier";
/// Selects elements with [`SEGMENT_ATTR`].
pub const SEGMENT_SELECTOR: &str = "[data-sg-segment]";
/// Selects elements with [`TIER_ATTR`].
pub const TIER_SELECTOR: &str = "[data-sg-tier]";
/// Any decision script from upstream, dropped before the gate injects its own.
pub const DECISION_SELECTOR: &str = "script#sg-decision";
/// Where the decision script is injected (at its end; else at the document's end).
pub const INJECT_SELECTOR: &str = "head";
/// The decision anyone sees when nothing can be decided.
pub const GENERIC_JSON: &str = r#"{"tier":"generic","segments":[]}"#;

/// Request headers never forwarded upstream: the decision headers (so a
/// client cannot forge them) and the conditional ones (a 304 would let a
/// browser reuse a page filtered for another decision).
pub const DROPPED_HEADERS: [&str; 7] =
    ["Sg-Segments", "Sg-Tier", "Sg-Decision", "If-None-Match", "If-Modified-Since", "If-Match", "If-Range"];

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
        "vary": VARY,
        "pageTypes": super::view::PAGE_TYPES,
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
        assert_eq!(config["genericScript"], decision_script(GENERIC_JSON));
        // No copy of a name the shim gets from `shimConfig` may be written
        // into the shim itself.
        let shim = include_str!("../worker/shim.mjs");
        for name in [SEGMENT_ATTR, TIER_ATTR, "sg-decision", VARY, "If-None-Match", "if-none-match", "text/html"] {
            assert!(!shim.contains(name), "src/worker/shim.mjs repeats `{name}`");
        }
    }
}
