//! Reading a bundle from a request: cookie `sg_bundle`, or header `Sg-Bundle`
//! for API clients; and taking the gate's cookies out of a `Cookie` header
//! before a page request goes upstream.

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

/// The `Cookie` header without the cookies named in `names` (compared as
/// [`bundle_from`] reads names: trimmed, case-sensitive), `None` when none is
/// left. Pairs are split at `;`, and also at `,`, since a runtime joins
/// repeated `Cookie` headers with `, `. The other cookies are kept byte for
/// byte, in their order, with their separators; a header that names none of
/// `names` comes back as it is.
///
/// ```
/// use signalgate::serve::without_cookies;
/// let names = ["sg_bundle", "sg_session"];
/// assert_eq!(without_cookies("a=1; sg_bundle=x.y.z; sg_session=s; b=2", &names).as_deref(), Some("a=1; b=2"));
/// assert_eq!(without_cookies("sg_bundle=x", &names), None);
/// assert_eq!(without_cookies("a=1;b=2,3", &names).as_deref(), Some("a=1;b=2,3"));
/// ```
pub fn without_cookies(header: &str, names: &[&str]) -> Option<String> {
    let named = |piece: &str| names.contains(&piece.split_once('=').map_or(piece, |(name, _)| name).trim());
    let mut kept = String::with_capacity(header.len());
    let mut removed = false;
    let mut start = 0;
    // Each piece with the separator before it (none for the first).
    for end in header.match_indices([';', ',']).map(|(i, _)| i).chain([header.len()]) {
        let (separator, piece) = match start {
            0 => ("", &header[..end]),
            _ => header[start - 1..end].split_at(1),
        };
        if named(piece) {
            removed = true;
        } else {
            if !kept.is_empty() {
                kept.push_str(separator);
            }
            kept.push_str(piece);
        }
        start = end + 1;
    }
    if !removed {
        return Some(header.to_string());
    }
    let rest = kept.trim_start();
    (!rest.trim().is_empty()).then(|| rest.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gates_cookies_are_taken_out_and_nothing_else_changes() {
        let names = ["sg_bundle", "sg_session", "__Host-sg_session"];
        for (given, want) in [
            ("a=1; sg_bundle=h.p.s; sg_session=x; b=2", Some("a=1; b=2")),
            ("sg_bundle=h.p.s; a=1", Some("a=1")),
            ("a=1; __Host-sg_session=x", Some("a=1")),
            ("a=1;sg_bundle=t;b=\"q; r\"", Some("a=1;b=\"q; r\"")),
            (" sg_bundle = t ;x=1", Some("x=1")),
            ("sg_bundle=a; sg_bundle=b", None),
            ("sg_session=x;  ", None),
            ("a=1;  b=2 ;;c", Some("a=1;  b=2 ;;c")),
            ("sg_bundlex=1; xsg_bundle=2; SG_BUNDLE=3", Some("sg_bundlex=1; xsg_bundle=2; SG_BUNDLE=3")),
            ("", Some("")),
            // Repeated Cookie headers, joined by the runtime.
            ("a=1, sg_bundle=t; b=2", Some("a=1; b=2")),
            ("a=1,sg_session=x", Some("a=1")),
            ("x=1,2; sg_bundle=t", Some("x=1,2")),
        ] {
            assert_eq!(without_cookies(given, &names).as_deref(), want, "{given}");
        }
    }

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
