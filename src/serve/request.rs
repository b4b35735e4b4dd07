//! Reading a bundle from a request: cookie `sg_bundle`, or header `Sg-Bundle`
//! for API clients.

/// The cookie that carries the bundle.
pub const BUNDLE_COOKIE: &str = "sg_bundle";
/// The header API clients may use instead.
pub const BUNDLE_HEADER: &str = "Sg-Bundle";

/// The bundle from the `Sg-Bundle` header if present (and not empty), else
/// from the `sg_bundle` cookie in the `Cookie` header. Never panics on any input.
///
/// ```
/// use signalgate::serve::bundle_from;
/// assert_eq!(bundle_from(None, Some("a=1; sg_bundle=x.y.z; b=2")), Some("x.y.z"));
/// assert_eq!(bundle_from(Some(" h.p.s "), Some("sg_bundle=c")), Some("h.p.s"));
/// assert_eq!(bundle_from(None, Some("sg_bundlex=1")), None);
/// ```
pub fn bundle_from<'a>(header: Option<&'a str>, cookie: Option<&'a str>) -> Option<&'a str> {
    if let Some(h) = header.map(str::trim).filter(|h| !h.is_empty()) {
        return Some(h);
    }
    cookie?
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| name.trim() == BUNDLE_COOKIE)
        .map(|(_, value)| value.trim().trim_matches('"'))
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_edge_cases() {
        assert_eq!(bundle_from(None, None), None);
        assert_eq!(bundle_from(Some("  "), Some("sg_bundle=\"q\"")), Some("q"));
        assert_eq!(bundle_from(None, Some("sg_bundle=")), None);
        assert_eq!(bundle_from(None, Some(";;=;sg_bundle")), None);
        assert_eq!(bundle_from(None, Some(" sg_bundle = v ;x=1")), Some("v"));
        // The first cookie of that name wins.
        assert_eq!(bundle_from(None, Some("sg_bundle=a; sg_bundle=b")), Some("a"));
    }
}
