//! The gate's side of the revocation feed: what one poll of an origin's
//! `GET /v1/tenants/{tenant}/revocations?since=N` says, and when to poll.
//!
//! A revocation at the origin must reach every gate isolate within one
//! second. An isolate polls off the request path: a request that finds the
//! feed older than [`BACKGROUND_AFTER_MS`] starts a refresh in the
//! background and is decided at once; one that finds it older than
//! [`AWAIT_AFTER_MS`] waits for the refresh first; and if the feed cannot be
//! read and is older than [`STALE_AFTER_MS`], decisions fail closed (the
//! gate cannot know what was revoked).

use serde::Deserialize;

/// Refresh in the background when the feed is older than this.
pub const BACKGROUND_AFTER_MS: f64 = 250.0;
/// Wait for a refresh when the feed is older than this (under the 1 s bound).
pub const AWAIT_AFTER_MS: f64 = 800.0;
/// Fail closed when the feed could not be read for this long.
pub const STALE_AFTER_MS: f64 = 2_000.0;

/// One page of the feed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedPage {
    /// The last sequence number this page covers: ask with it next time.
    pub seq: i64,
    /// Revoked bundles (`bundle_id`, `expires_at`).
    pub bundles: Vec<FeedEntry>,
    /// More entries wait after this page.
    pub more: bool,
}

/// One revoked bundle.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedEntry {
    /// `jti` of the revoked bundle.
    pub bundle_id: String,
    /// When it expires anyway (Unix seconds).
    pub expires_at: i64,
}

impl FeedPage {
    /// Reads a feed page (strict JSON: no duplicate members).
    pub fn parse(text: &str) -> Result<FeedPage, String> {
        let page: FeedPage = crate::codec::json::from_slice_strict(text.as_bytes()).map_err(|e| e.to_string())?;
        if page.bundles.iter().any(|b| !crate::model::is_ident(&b.bundle_id)) {
            return Err("a bundle id is not an identifier".into());
        }
        Ok(page)
    }
}

/// What a request should do about the feed, given its age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedAction {
    /// Fresh enough: decide.
    Decide,
    /// Decide, and refresh in the background.
    RefreshInBackground,
    /// Refresh first, then decide.
    RefreshFirst,
}

/// The action for a feed last read at `fetched_ms` (0: never), at `now_ms`.
pub fn feed_action(fetched_ms: f64, now_ms: f64) -> FeedAction {
    let age = now_ms - fetched_ms;
    if age > AWAIT_AFTER_MS {
        FeedAction::RefreshFirst
    } else if age > BACKGROUND_AFTER_MS {
        FeedAction::RefreshInBackground
    } else {
        FeedAction::Decide
    }
}

/// Whether a feed last read at `fetched_ms` is too old to decide on.
pub fn feed_is_stale(fetched_ms: f64, now_ms: f64) -> bool {
    now_ms - fetched_ms > STALE_AFTER_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_parse_strictly() {
        let page = FeedPage::parse(r#"{"seq":3,"bundles":[{"bundle_id":"b_1","expires_at":9}],"more":false}"#).unwrap();
        assert_eq!((page.seq, page.bundles.len()), (3, 1));
        assert!(FeedPage::parse(r#"{"seq":3,"seq":4,"bundles":[],"more":false}"#).is_err());
        assert!(FeedPage::parse(r#"{"seq":3,"bundles":[{"bundle_id":"a b","expires_at":9}],"more":false}"#).is_err());
        assert!(FeedPage::parse("<html>").is_err());
    }

    #[test]
    fn the_age_decides() {
        assert_eq!(feed_action(1000.0, 1100.0), FeedAction::Decide);
        assert_eq!(feed_action(1000.0, 1500.0), FeedAction::RefreshInBackground);
        assert_eq!(feed_action(1000.0, 1900.0), FeedAction::RefreshFirst);
        assert_eq!(feed_action(0.0, 5.0e12), FeedAction::RefreshFirst);
        assert!(!feed_is_stale(1000.0, 2900.0) && feed_is_stale(1000.0, 3100.0));
    }
}
