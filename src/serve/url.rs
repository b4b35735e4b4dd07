//! The few pieces of a request URL the gate reads, taken from the URL string
//! the runtime has already parsed and serialised (WHATWG form), without
//! linking a URL parser into the wasm: the host, the path and query, one
//! query parameter, and the path as routes see it.

/// The host of a serialised absolute URL, lowercased, without userinfo or
/// port (`https://User@Shop.Example:8443/x` gives `shop.example`; an IPv6
/// literal keeps its brackets). Empty when there is none.
///
/// ```
/// use signalgate::serve::url::host_of;
/// assert_eq!(host_of("https://Shop.EXAMPLE:8443/a?b"), "shop.example");
/// assert_eq!(host_of("http://[::1]:8787/"), "[::1]");
/// ```
pub fn host_of(url: &str) -> String {
    let Some((_, rest)) = url.split_once("://") else { return String::new() };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        host_port.split_inclusive(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    host.to_ascii_lowercase()
}

/// The path and query of a serialised absolute URL (`/a/b?c`), `/` when it
/// has no path. The fragment is dropped.
///
/// ```
/// use signalgate::serve::url::path_and_query;
/// assert_eq!(path_and_query("https://shop.example//evil.example/x?y=1#f"), "//evil.example/x?y=1");
/// assert_eq!(path_and_query("https://shop.example"), "/");
/// ```
pub fn path_and_query(url: &str) -> &str {
    let url = url.split('#').next().unwrap_or_default();
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[after_scheme..];
    match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('/') => &rest[i..],
        _ => "/",
    }
}

/// The path alone (what [`path_and_query`] gives, before `?`).
pub fn path_of(url: &str) -> &str {
    let pq = path_and_query(url);
    pq.split('?').next().unwrap_or(pq)
}

/// The percent-decoded value of the first query parameter `name`, if present
/// and valid UTF-8 (`+` is a space, as in forms).
///
/// ```
/// use signalgate::serve::url::query_param;
/// assert_eq!(query_param("https://s.example/x?a=1&path=%2Fdeals%2F", "path").as_deref(), Some("/deals/"));
/// assert_eq!(query_param("https://s.example/x?pathx=1", "path"), None);
/// ```
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = path_and_query(url).split_once('?')?.1;
    query.split('&').filter_map(|pair| pair.split_once('=').or(Some((pair, "")))).find_map(|(k, v)| {
        (percent_decode(k, false)? == name).then(|| percent_decode(&v.replace('+', " "), false)).flatten()
    })
}

/// Decodes `%XX` escapes. With `unreserved_only`, only escapes of unreserved
/// characters (`A-Z a-z 0-9 - . _ ~`) are decoded and every other escape is
/// kept as it is (so `%2F` never becomes a path separator). `None` when the
/// result is not UTF-8.
pub fn percent_decode(text: &str, unreserved_only: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => hex(h).zip(hex(l)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match escaped {
            Some(b) if !unreserved_only || b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') => {
                out.push(b);
                i += 3;
            }
            _ => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The path as routes see it: escapes of unreserved characters decoded,
/// empty segments (repeated slashes) and `.` segments dropped, `..` segments
/// resolved, ASCII lowercase, no trailing slash (except the root `/`).
/// Matching on this form means `/Deals`, `//deals/`, `/%64eals` and
/// `/x/../deals` all reach the `/deals` route, as an origin that normalises
/// paths (or compares them without case) would serve them.
///
/// ```
/// use signalgate::serve::url::normalize_path;
/// assert_eq!(normalize_path("//Deals/./today/../%74oday/"), "/deals/today");
/// assert_eq!(normalize_path("/a%2Fb"), "/a%2fb");
/// ```
pub fn normalize_path(path: &str) -> String {
    let decoded = percent_decode(path, true).unwrap_or_else(|| path.to_string());
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(decoded.len() + 1);
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    if out.is_empty() {
        out.push('/');
    }
    out.make_ascii_lowercase();
    out
}

/// Whether the normalised `path` is inside the route `prefix` (itself
/// normalised): the same path, or below it on a segment boundary, so that
/// `/deals` covers `/deals/today` but not `/dealers`.
pub fn in_route(path: &str, prefix: &str) -> bool {
    prefix == "/" || path == prefix || path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(host_of("https://a.example"), "a.example");
        assert_eq!(host_of("https://u:p@A.Example:1/x"), "a.example");
        assert_eq!(host_of("https://a.example?x=//b.example"), "a.example");
        assert_eq!(host_of("https://[2001:DB8::1]:443/"), "[2001:db8::1]");
        assert_eq!(host_of("not a url"), "");
    }

    #[test]
    fn paths_and_queries() {
        assert_eq!(path_and_query("https://a.example/x?y"), "/x?y");
        assert_eq!(path_and_query("https://a.example?y"), "/");
        assert_eq!(path_of("https://a.example/x/y?z=/w"), "/x/y");
        assert_eq!(query_param("https://a.example/?path=/a+b%20c", "path").as_deref(), Some("/a b c"));
        assert_eq!(query_param("https://a.example/?path", "path").as_deref(), Some(""));
        assert_eq!(query_param("https://a.example/?path=%FF", "path"), None);
        assert_eq!(query_param("https://a.example/?p%61th=1", "path").as_deref(), Some("1"));
    }

    #[test]
    fn normalisation() {
        for (raw, want) in [
            ("/", "/"),
            ("", "/"),
            ("/deals", "/deals"),
            ("/deals/", "/deals"),
            ("//deals", "/deals"),
            ("/DEALS/Today", "/deals/today"),
            ("/%64eals", "/deals"),
            ("/x/../deals", "/deals"),
            ("/../../deals", "/deals"),
            ("/deals/%2e%2e/kids", "/kids"),
            ("/a%2Fb", "/a%2fb"),
            ("/%C3%A9t%C3%A9", "/%c3%a9t%c3%a9"),
            ("/a%", "/a%"),
            ("/a%zz", "/a%zz"),
        ] {
            assert_eq!(normalize_path(raw), want, "{raw}");
        }
    }

    #[test]
    fn routes_match_whole_segments() {
        assert!(in_route("/deals", "/deals"));
        assert!(in_route("/deals/today", "/deals"));
        assert!(!in_route("/dealers", "/deals"));
        assert!(!in_route("/deal", "/deals"));
        assert!(in_route("/anything", "/"));
    }

    #[test]
    fn decoding_never_panics_on_odd_input() {
        for text in ["%", "%%", "%e", "%é", "é%41", "%41%", "%ZZ%41"] {
            let _ = percent_decode(text, true);
            let _ = percent_decode(text, false);
            let _ = normalize_path(text);
        }
        assert_eq!(percent_decode("%41%", false).as_deref(), Some("A%"));
    }
}
