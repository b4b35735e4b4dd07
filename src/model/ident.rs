//! The only kinds of text a bundle or a decision may carry: short identifiers
//! and controlled vocabulary values. Free text never passes these checks.

/// Longest identifier (ids, classes, purposes, channels, tenants, tokens).
pub const MAX_IDENT: usize = 64;

/// Longest issuer or audience (a URL or a name).
pub const MAX_URIISH: usize = 200;

/// An identifier: 1 to 64 of `A-Z a-z 0-9 . _ : -`.
pub fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_IDENT
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// A vocabulary value or category: 1 to 64 of `a-z 0-9 _ -`, starting with a
/// letter or digit. Lower case only, so values compare exactly.
pub fn is_value(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_IDENT
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'))
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
}

/// An issuer or audience: 1 to 200 printable ASCII characters without spaces,
/// quotes or backslashes (a URL or a name).
pub fn is_uriish(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_URIISH && s.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(is_ident("s-01.a_b:c"));
        for bad in ["", "with space", "é", "a/b", &"x".repeat(65)] {
            assert!(!is_ident(bad), "{bad:?}");
        }
    }

    #[test]
    fn values_are_lower_case_vocabulary() {
        assert!(is_value("running-shoes_2"));
        for bad in ["", "Running", "-lead", "a b", "ünï", "a.b"] {
            assert!(!is_value(bad), "{bad:?}");
        }
    }

    #[test]
    fn uriish() {
        assert!(is_uriish("https://shop.example/origin"));
        assert!(!is_uriish("has space"));
        assert!(!is_uriish("quote\""));
    }
}
