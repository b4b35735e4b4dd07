//! The gate's side of the revocation feed: what one poll of an origin's
//! `GET /v1/tenants/{tenant}/revocations?since=N` says, and, per tenant, when
//! to poll, when a request waits, and when it fails closed.
//!
//! The bound that holds: **every decision for a tenant is made on a read of
//! that tenant's feed that started at most [`STALE_AFTER_MS`] (700 ms)
//! before**, or the decision fails closed (`revocations_stale`: generic, no
//! tokens). So a bundle listed in the feed is refused by every request that
//! reaches the gate more than 700 ms after the origin listed it, in every
//! isolate, which keeps the promise of "within one second" with the poll
//! timeout ([`POLL_TIMEOUT_MS`], 300 ms) to spare: 700 ms is one second minus
//! the longest a request waits for a poll.
//!
//! How a request gets there, by the age of its tenant's last complete read
//! ([`feed_action`]):
//!
//! - at most [`BACKGROUND_AFTER_MS`]: decided at once;
//! - older: decided at once, and a refresh starts in the background unless
//!   one is under way;
//! - older than [`AWAIT_AFTER_MS`] (or never read): the request waits for the
//!   tenant's refresh (one shared by every waiting request), at most the poll
//!   timeout;
//! - then, older than [`STALE_AFTER_MS`]: it fails closed.
//!
//! Each tenant is read, timed and judged on its own ([`TenantFeed`]): a
//! tenant whose feed is slow or down never holds up another's decisions.

use serde::Deserialize;

/// Longest wait for one page of the feed; the poll is abandoned after it.
pub const POLL_TIMEOUT_MS: f64 = 300.0;
/// Refresh in the background when the feed is older than this.
pub const BACKGROUND_AFTER_MS: f64 = 250.0;
/// Wait for a refresh when the feed is older than this.
pub const AWAIT_AFTER_MS: f64 = 400.0;
/// Fail closed when the last complete read started longer ago than this:
/// one second minus the poll timeout.
pub const STALE_AFTER_MS: f64 = 1_000.0 - POLL_TIMEOUT_MS;
/// A refresh that has made no progress for this long is taken for dead (its
/// request was cancelled, say): the next request starts another.
pub const STUCK_AFTER_MS: f64 = 2.0 * POLL_TIMEOUT_MS;
/// Most pages one refresh reads; the next refresh goes on from there.
pub const MAX_PAGES: usize = 16;

// The bound, checked when the crate compiles: what a decision uses plus the
// longest wait for a poll stays within the one-second promise, and the
// thresholds come in order.
const _: () = assert!(STALE_AFTER_MS + POLL_TIMEOUT_MS <= 1_000.0);
const _: () = assert!(BACKGROUND_AFTER_MS < AWAIT_AFTER_MS && AWAIT_AFTER_MS < STALE_AFTER_MS);

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
    /// When it expires anyway (Unix seconds): the gate forgets the entry
    /// once the bundle could no longer verify.
    pub expires_at: i64,
}

impl FeedPage {
    /// Reads a feed page (strict JSON: no duplicate members).
    pub fn parse(text: &str) -> Result<FeedPage, String> {
        let page: FeedPage = crate::codec::json::from_slice_strict(text.as_bytes()).map_err(|e| e.to_string())?;
        if page.bundles.iter().any(|b| !crate::model::is_ident(&b.bundle_id)) {
            return Err("a bundle id is not an identifier".into());
        }
        if page.seq < 0 {
            return Err("a negative sequence number".into());
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

/// One refresh of one tenant's feed, as [`TenantFeed::begin`] hands it out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Refresh {
    /// Which refresh this is (a later one supersedes it).
    pub generation: u64,
    /// Where to start reading.
    pub since: i64,
    /// When it started: the age of what it reads, once it completes.
    pub started_ms: f64,
}

/// What to do after a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Ask again from this sequence number (0 after a renumbered feed).
    Next(i64),
    /// The read is complete: the tenant's feed is fresh as of the refresh's start.
    Done,
    /// A later refresh has taken over: stop without writing anything.
    Superseded,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Running {
    generation: u64,
    /// When it started or last read a page.
    progress_ms: f64,
}

/// What an isolate knows of one tenant's feed: where to read from, when
/// the last complete read started, and the refresh under way, if any.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantFeed {
    since: i64,
    fetched_ms: f64,
    running: Option<Running>,
    generations: u64,
}

impl TenantFeed {
    /// Where the next read starts.
    pub fn since(&self) -> i64 {
        self.since
    }

    /// When the last complete read started (ms since the epoch; 0: never).
    pub fn fetched_ms(&self) -> f64 {
        self.fetched_ms
    }

    /// Whether the last complete read is too old to decide on at `now_ms`.
    pub fn is_stale(&self, now_ms: f64) -> bool {
        feed_is_stale(self.fetched_ms, now_ms)
    }

    /// The refresh under way at `now_ms`, unless it has made no progress for
    /// [`STUCK_AFTER_MS`] (then it counts as dead).
    pub fn running(&self, now_ms: f64) -> Option<u64> {
        self.running.filter(|r| now_ms - r.progress_ms < STUCK_AFTER_MS).map(|r| r.generation)
    }

    /// A new refresh from where the last one left off, unless one is under way.
    pub fn begin(&mut self, now_ms: f64) -> Option<Refresh> {
        if self.running(now_ms).is_some() {
            return None;
        }
        self.generations += 1;
        self.running = Some(Running { generation: self.generations, progress_ms: now_ms });
        Some(Refresh { generation: self.generations, since: self.since, started_ms: now_ms })
    }

    /// What a request at `now_ms` does: the refresh it starts (if any), and
    /// whether it waits for the tenant's refresh before deciding.
    pub fn plan(&mut self, now_ms: f64) -> (Option<Refresh>, bool) {
        match feed_action(self.fetched_ms, now_ms) {
            FeedAction::Decide => (None, false),
            FeedAction::RefreshInBackground => (self.begin(now_ms), false),
            FeedAction::RefreshFirst => (self.begin(now_ms), true),
        }
    }

    /// Takes in `page`, the answer to a read from `asked` within `refresh`.
    /// A page that answers a sequence number lower than `asked` means the
    /// feed was rebuilt and renumbered: the tenant's feed is read again from
    /// 0, as a new feed (every live entry again), rather than waiting for the
    /// new numbers to catch up and skipping what they cover.
    pub fn apply(&mut self, refresh: &Refresh, asked: i64, page: &FeedPage, now_ms: f64) -> Result<Step, String> {
        match self.running {
            Some(r) if r.generation == refresh.generation => {}
            _ => return Ok(Step::Superseded),
        }
        if page.more && page.seq == asked {
            self.running = None;
            return Err(format!("the feed says more follows {asked} but moved no further"));
        }
        // Below what was asked: renumbered, read again from 0 (a page never
        // answers below 0, so this happens at most once in a row).
        let next = if page.seq < asked { 0 } else { page.seq };
        self.since = next;
        if page.more || page.seq < asked {
            self.running = Some(Running { generation: refresh.generation, progress_ms: now_ms });
            return Ok(Step::Next(next));
        }
        self.running = None;
        self.fetched_ms = refresh.started_ms;
        Ok(Step::Done)
    }

    /// Forgets what was read (the gate that held it was replaced): the next
    /// read starts from 0 and nothing counts as read yet. A refresh under way
    /// is superseded, and writes nothing when it ends.
    pub fn forget(&mut self) {
        *self = TenantFeed { generations: self.generations + 1, ..TenantFeed::default() };
    }

    /// Ends `refresh` without a complete read (an error, a timeout, too many
    /// pages): the feed stays as old as it was.
    pub fn fail(&mut self, refresh: &Refresh) {
        if self.running.is_some_and(|r| r.generation == refresh.generation) {
            self.running = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(seq: i64, more: bool) -> FeedPage {
        FeedPage { seq, bundles: Vec::new(), more }
    }

    #[test]
    fn pages_parse_strictly() {
        let page = FeedPage::parse(r#"{"seq":3,"bundles":[{"bundle_id":"b_1","expires_at":9}],"more":false}"#).unwrap();
        assert_eq!((page.seq, page.bundles.len(), page.bundles[0].expires_at), (3, 1, 9));
        assert!(FeedPage::parse(r#"{"seq":3,"seq":4,"bundles":[],"more":false}"#).is_err());
        assert!(FeedPage::parse(r#"{"seq":3,"bundles":[{"bundle_id":"a b","expires_at":9}],"more":false}"#).is_err());
        assert!(FeedPage::parse(r#"{"seq":-1,"bundles":[],"more":false}"#).is_err());
        assert!(FeedPage::parse("<html>").is_err());
    }

    #[test]
    fn the_age_decides() {
        assert_eq!(feed_action(1000.0, 1200.0), FeedAction::Decide);
        assert_eq!(feed_action(1000.0, 1300.0), FeedAction::RefreshInBackground);
        assert_eq!(feed_action(1000.0, 1500.0), FeedAction::RefreshFirst);
        assert_eq!(feed_action(0.0, 5.0e12), FeedAction::RefreshFirst);
        assert!(!feed_is_stale(1000.0, 1700.0) && feed_is_stale(1000.0, 1701.0));
    }

    #[test]
    fn one_refresh_at_a_time_and_a_stuck_one_expires() {
        let mut t = TenantFeed::default();
        let (first, wait) = t.plan(10_000.0);
        let first = first.unwrap();
        assert!(wait, "never read: the request waits");
        // Others meanwhile wait for the same refresh instead of starting one.
        assert_eq!(t.plan(10_010.0), (None, true));
        assert_eq!(t.running(10_010.0), Some(first.generation));
        // A refresh whose request was cancelled never reports back: after
        // STUCK_AFTER_MS without progress, another one starts.
        assert_eq!(t.running(10_000.0 + STUCK_AFTER_MS), None);
        let second = t.begin(10_000.0 + STUCK_AFTER_MS).unwrap();
        assert_ne!(second.generation, first.generation);
        // The first one, should it ever resume, writes nothing.
        assert_eq!(t.apply(&first, 0, &page(5, false), 10_700.0), Ok(Step::Superseded));
        assert_eq!((t.since(), t.fetched_ms()), (0, 0.0));
        assert_eq!(t.apply(&second, 0, &page(5, false), 10_700.0), Ok(Step::Done));
        assert_eq!((t.since(), t.fetched_ms()), (5, second.started_ms));
        assert_eq!(t.running(10_700.0), None);
    }

    #[test]
    fn pages_are_followed_and_failures_leave_the_age_alone() {
        let mut t = TenantFeed::default();
        let r = t.begin(1_000.0).unwrap();
        assert_eq!(t.apply(&r, 0, &page(1000, true), 1_100.0), Ok(Step::Next(1000)));
        assert_eq!(t.apply(&r, 1000, &page(1500, false), 1_200.0), Ok(Step::Done));
        assert_eq!((t.since(), t.fetched_ms()), (1500, 1_000.0));
        let r = t.begin(2_000.0).unwrap();
        t.fail(&r);
        assert_eq!((t.since(), t.fetched_ms(), t.running(2_001.0)), (1500, 1_000.0, None));
        assert!(t.is_stale(2_001.0));
        // A feed that says "more" without moving is an error, not a loop.
        let r = t.begin(3_000.0).unwrap();
        assert!(t.apply(&r, 1500, &page(1500, true), 3_001.0).is_err());
        assert_eq!(t.running(3_001.0), None);
    }

    #[test]
    fn a_forgotten_feed_is_read_again_and_ignores_the_old_refresh() {
        let mut t = TenantFeed::default();
        let r = t.begin(1_000.0).unwrap();
        assert_eq!(t.apply(&r, 0, &page(50, false), 1_010.0), Ok(Step::Done));
        let old = t.begin(2_000.0).unwrap();
        t.forget();
        assert_eq!((t.since(), t.fetched_ms(), t.running(2_001.0)), (0, 0.0, None));
        let new = t.begin(2_001.0).unwrap();
        assert_eq!(new.since, 0);
        assert_ne!(new.generation, old.generation, "the old refresh cannot pass for the new one");
        assert_eq!(t.apply(&old, 50, &page(60, false), 2_010.0), Ok(Step::Superseded));
        assert_eq!(t.apply(&new, 0, &page(60, false), 2_020.0), Ok(Step::Done));
    }

    #[test]
    fn a_renumbered_feed_is_read_again_from_zero() {
        let mut t = TenantFeed::default();
        let r = t.begin(1_000.0).unwrap();
        assert_eq!(t.apply(&r, 0, &page(900, false), 1_010.0), Ok(Step::Done));
        // The origin's feed was rebuilt: it now answers its head, 40, below
        // what the gate asks from. The gate does not wait at 900 (skipping
        // entries 41 to 900 of the new numbering): it reads again from 0.
        let r = t.begin(2_000.0).unwrap();
        assert_eq!(r.since, 900);
        assert_eq!(t.apply(&r, 900, &page(40, false), 2_010.0), Ok(Step::Next(0)));
        assert_eq!(t.since(), 0);
        assert_eq!(t.fetched_ms(), 1_000.0, "not complete until the re-read is");
        assert_eq!(t.apply(&r, 0, &page(40, false), 2_020.0), Ok(Step::Done));
        assert_eq!((t.since(), t.fetched_ms()), (40, 2_000.0));
        // An empty rebuilt feed (head 0) is read again from 0 and completes.
        let r = t.begin(3_000.0).unwrap();
        assert_eq!(t.apply(&r, 40, &page(0, false), 3_010.0), Ok(Step::Next(0)));
        assert_eq!(t.apply(&r, 0, &page(0, false), 3_020.0), Ok(Step::Done));
        assert_eq!(t.since(), 0);
    }
}
