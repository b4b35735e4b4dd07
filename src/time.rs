//! Instants and spans as plain integers. The core never reads a clock: every
//! function that needs "now" takes a [`UnixTime`] from its caller.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch (UTC). Bundle claims carry times in this form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// The instant `span` after this one, saturating at the ends of `i64`.
    pub fn after(self, span: Span) -> UnixTime {
        UnixTime(self.0.saturating_add(span.0))
    }

    /// The instant `span` before this one, saturating at the ends of `i64`.
    pub fn before(self, span: Span) -> UnixTime {
        UnixTime(self.0.saturating_sub(span.0))
    }

    /// RFC 3339 form for people (`2026-11-30T12:00:00Z`); the raw number when out of range.
    pub fn rfc3339(self) -> String {
        match chrono::DateTime::from_timestamp(self.0, 0) {
            Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            None => self.0.to_string(),
        }
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

/// A length of time in whole seconds, written in documents as `"180d"`, `"12h"`,
/// `"30m"`, `"45s"` or `"2w"`.
///
/// ```
/// use signalgate::Span;
/// assert_eq!(Span::parse("2w").unwrap(), Span::days(14));
/// assert!(Span::parse("soon").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(pub i64);

/// How far apart two honest clocks may be: the allowance for a bundle's time
/// claims against the gate's clock, and for a signal's times against the
/// bundle's `iat`.
pub const CLOCK_SKEW: Span = Span(60);

/// The longest span a document may name: 100 years.
pub const MAX_SPAN: Span = Span(100 * 366 * 86_400);

impl Span {
    /// `n` days.
    pub const fn days(n: i64) -> Span {
        Span(n * 86_400)
    }

    /// `n` seconds.
    pub const fn seconds(n: i64) -> Span {
        Span(n)
    }

    /// Parses `<digits><unit>` with unit one of `s m h d w`; the result is
    /// positive and at most [`MAX_SPAN`]. The error is the expectation, for
    /// messages like `expected a duration like "180d", found "soon"`.
    pub fn parse(text: &str) -> Result<Span, String> {
        let expected = || format!("expected a duration like \"180d\", found {text:?}");
        // Split before the last character, not the last byte: the text is
        // untrusted and may end in a multi-byte character.
        let cut = text.char_indices().next_back().map_or(0, |(i, _)| i);
        let (digits, unit) = text.split_at(cut);
        if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(expected());
        }
        let n: i64 = digits.parse().map_err(|_| expected())?;
        let unit_seconds = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            "w" => 7 * 86_400,
            _ => return Err(expected()),
        };
        let span = Span(n.saturating_mul(unit_seconds));
        if span.0 <= 0 {
            return Err(format!("expected a positive duration, found {text:?}"));
        }
        if span > MAX_SPAN {
            return Err(format!("expected a duration of at most 100 years, found {text:?}"));
        }
        Ok(span)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if s % 86_400 == 0 {
            write!(f, "{}d", s / 86_400)
        } else if s % 3_600 == 0 {
            write!(f, "{}h", s / 3_600)
        } else if s % 60 == 0 {
            write!(f, "{}m", s / 60)
        } else {
            write!(f, "{s}s")
        }
    }
}

impl Serialize for Span {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Span::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_parse_and_print_round_trip() {
        for (text, secs) in [("45s", 45), ("30m", 1800), ("12h", 43_200), ("180d", 15_552_000), ("2w", 1_209_600)] {
            let span = Span::parse(text).unwrap();
            assert_eq!(span.0, secs, "{text}");
            assert_eq!(Span::parse(&span.to_string()).unwrap(), span);
        }
    }

    #[test]
    fn bad_spans_say_what_was_expected() {
        for text in ["", "d", "soon", "10", "-5d", "0d", "1.5d", "99999999999d", "5y", "١٠d"] {
            let err = Span::parse(text).unwrap_err();
            assert!(err.starts_with("expected"), "{text}: {err}");
        }
    }

    #[test]
    fn spans_ending_in_a_multi_byte_character_are_errors_not_panics() {
        for text in ["3ƛ", "ƛ", "10д", "7€", "d\u{10FFFF}"] {
            let err = Span::parse(text).unwrap_err();
            assert!(err.starts_with("expected"), "{text}: {err}");
        }
    }

    #[test]
    fn instants_saturate() {
        assert_eq!(UnixTime(i64::MAX).after(Span::days(1)), UnixTime(i64::MAX));
        assert_eq!(UnixTime(10).before(Span(3)), UnixTime(7));
        assert_eq!(UnixTime(0).rfc3339(), "1970-01-01T00:00:00Z");
    }
}
