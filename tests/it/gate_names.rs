//! The names the gate keeps from the page upstream are the origin's own:
//! the session cookies the ledger sets (`ledger::access`) must be among the
//! gate's cookies (`serve::markup::GATE_COOKIES`), and so must the bundle
//! cookie, or a renamed cookie would reach the site's server again.

use signalgate::ledger::access::{session_cookie, SECURE_SESSION_COOKIE, SESSION_COOKIE};
use signalgate::serve::markup::{DROPPED_HEADERS, GATE_COOKIES};
use signalgate::serve::{without_cookies, BUNDLE_COOKIE, BUNDLE_HEADER};

#[test]
fn the_gate_drops_every_cookie_the_origin_sets_for_itself() {
    for name in [SESSION_COOKIE, SECURE_SESSION_COOKIE, session_cookie(true), session_cookie(false), BUNDLE_COOKIE] {
        assert!(GATE_COOKIES.contains(&name), "`{name}` would reach the page upstream");
        let header = format!("site=1; {name}=secret; other=2");
        assert_eq!(without_cookies(&header, &GATE_COOKIES).as_deref(), Some("site=1; other=2"));
    }
    assert!(DROPPED_HEADERS.contains(&BUNDLE_HEADER));
}
