//! The origin's API at the gate: which paths go to the `ORIGIN` service
//! binding, which of them the gate refuses, which request headers it keeps
//! back, and the problem documents it answers itself.
//!
//! - `/v1/...` and `/.well-known/jwks.json` are the origin's: they go to the
//!   origin unchanged (same host, so the browser's cookies apply), never to
//!   the page upstream, not even when the gate fails.
//! - `/v1/admin/...` is refused with 404: operators reach the origin
//!   directly, not through the shop's public host. `SG_FORWARD_ADMIN=1`
//!   forwards it anyway, for local development and tests only (the demo and
//!   the workerd suites run the origin behind the gate on one port).
//! - Test-only request headers (`Sg-Test-*`) never leave the gate.
//! - When the origin cannot be reached, the gate answers 502
//!   `origin_unavailable` itself.

use super::url::{in_route, normalize_path};

/// Every path under this prefix belongs to the origin's API.
pub const API_PREFIX: &str = "/v1/";
/// Other paths of the origin's API.
pub const API_PATHS: [&str; 1] = ["/.well-known/jwks.json"];
/// The origin's operator routes (compared on the normalised path).
pub const ADMIN_ROUTE: &str = "/v1/admin";
/// Request headers starting with this (compared without case) are for
/// tests of the origin and are never forwarded.
pub const TEST_HEADER_PREFIX: &str = "sg-test-";
/// The type of the gate's own problem documents (RFC 9457).
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// Where the gate sends a request path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiRoute {
    /// Not the origin's API: a page (or `/__sg/`).
    Page,
    /// The origin's API: to the `ORIGIN` binding.
    Origin,
    /// The origin's operator routes: answered 404 at the gate.
    Refused,
}

/// The route of `path` (the request URL's path). Admin routes are found on
/// the normalised path (case, repeated slashes, dot segments and escapes
/// of unreserved characters do not hide them).
///
/// ```
/// use signalgate::serve::forward::{api_route, ApiRoute};
/// assert_eq!(api_route("/v1/signals", false), ApiRoute::Origin);
/// assert_eq!(api_route("/v1//Admin/api-keys", false), ApiRoute::Refused);
/// assert_eq!(api_route("/v1/admin/api-keys", true), ApiRoute::Origin);
/// assert_eq!(api_route("/deals/", false), ApiRoute::Page);
/// ```
pub fn api_route(path: &str, forward_admin: bool) -> ApiRoute {
    if !path.starts_with(API_PREFIX) && !API_PATHS.contains(&path) {
        return ApiRoute::Page;
    }
    if !forward_admin && in_route(&normalize_path(path), ADMIN_ROUTE) {
        return ApiRoute::Refused;
    }
    ApiRoute::Origin
}

/// Whether `SG_FORWARD_ADMIN` (its value, if set) turns admin forwarding
/// on: only `1` or `true` do; anything else, or nothing, leaves it off.
pub fn forward_admin(value: Option<&str>) -> bool {
    matches!(value.map(str::trim), Some("1" | "true"))
}

/// Whether a request header goes on to the origin (test-only headers do not).
pub fn forwards_header(name: &str) -> bool {
    !name.get(..TEST_HEADER_PREFIX.len()).is_some_and(|p| p.eq_ignore_ascii_case(TEST_HEADER_PREFIX))
}

/// A problem document as the origin writes them: `type`, `title`, `status`,
/// `detail` and the stable `code`.
pub fn problem(code: &str, title: &str, status: u16, detail: &str) -> serde_json::Value {
    serde_json::json!({
        "type": format!("urn:signalgate:problem:{code}"),
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    })
}

/// 502: the origin could not be reached (the binding failed, or the gate
/// itself failed while forwarding).
pub fn origin_unavailable() -> serde_json::Value {
    problem("origin_unavailable", "Origin unavailable", 502, "the origin could not be reached; try again later")
}

/// 404: what the gate answers for the origin's admin routes.
pub fn not_found() -> serde_json::Value {
    problem("not_found", "Not found", 404, "no such resource")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_and_admin_routes() {
        for path in ["/v1/signals", "/v1/tenants/t/revocations", "/.well-known/jwks.json", "/v1/administrator"] {
            assert_eq!(api_route(path, false), ApiRoute::Origin, "{path}");
        }
        for path in ["/v1/admin", "/v1/admin/", "/v1/admin/api-keys", "/v1//admin/x", "/v1/ADMIN/x", "/v1/%61dmin/x"] {
            assert_eq!(api_route(path, false), ApiRoute::Refused, "{path}");
            assert_eq!(api_route(path, true), ApiRoute::Origin, "{path}");
        }
        for path in ["/", "/v1", "/v2/x", "/.well-known/other", "/__sg/health"] {
            assert_eq!(api_route(path, false), ApiRoute::Page, "{path}");
        }
    }

    #[test]
    fn admin_forwarding_is_off_unless_asked_for() {
        assert!(!forward_admin(None));
        for off in ["", "0", "false", "yes", "TRUE "] {
            assert!(!forward_admin(Some(off)), "{off:?}");
        }
        assert!(forward_admin(Some("1")) && forward_admin(Some("true")));
    }

    #[test]
    fn test_headers_stay_at_the_gate() {
        for name in ["Sg-Test-Crash-After", "sg-test-crash-after", "SG-TEST-X"] {
            assert!(!forwards_header(name), "{name}");
        }
        for name in ["authorization", "cookie", "sg-bundle", "sg-test", "x-sg-test-y", "é"] {
            assert!(forwards_header(name), "{name}");
        }
    }

    #[test]
    fn problems_have_the_origins_shape() {
        let p = origin_unavailable();
        assert_eq!(p["type"], "urn:signalgate:problem:origin_unavailable");
        assert_eq!((p["status"].as_u64(), p["code"].as_str()), (Some(502), Some("origin_unavailable")));
        assert!(p["title"].is_string() && p["detail"].is_string());
        assert_eq!(not_found()["status"], 404);
    }
}
