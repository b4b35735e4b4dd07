//! Text from bundles and files, made safe to print.
//!
//! A bundle is attacker-controlled: its `kid`, `typ`, claims and anything an
//! error message quotes from it must not be able to move the cursor, recolour
//! or retitle an operator's terminal, or reorder what they read. Human-readable
//! output goes through [`Esc`]; JSON output through [`json`].

use std::fmt::{self, Write as _};

/// Characters never printed as they are: the C0 and C1 controls and DEL
/// (Unicode category Cc), the Unicode bidi controls (ALM, LRM, RLM, the
/// embeddings and overrides U+202A..U+202E, the isolates U+2066..U+2069) and
/// the line and paragraph separators.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}'
        )
}

/// Displays a string with every [unsafe](is_unsafe) character written as
/// `\u{..}` (Rust's notation: `\u{1b}`, `\u{202e}`).
pub struct Esc<'a>(pub &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if is_unsafe(c) {
                write!(f, "\\u{{{:x}}}", u32::from(c))?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// JSON text as serde_json writes it, with the unsafe characters serde_json
/// leaves as they are (DEL, C1, bidi controls, separators) written as `\uXXXX`
/// JSON escapes: the same JSON value, nothing a terminal acts on. serde_json
/// already escapes C0 inside strings, and outside strings those characters
/// cannot occur, so the pretty printer's own newlines are left alone.
pub fn json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c > '\u{1f}' && is_unsafe(c) {
            // Every such character is in the Basic Multilingual Plane.
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// Multi-line text (an HTML page) with every [unsafe](is_unsafe) character
/// but the line feed and the tab written as `\u{..}`, like [`Esc`].
pub fn block(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_unsafe(c) && c != '\n' && c != '\t' {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_bidi() {
        let s = "a\u{1b}[31mb\u{7f}\u{85}\u{9b}c\u{202e}d\u{2066}\n\té";
        assert_eq!(Esc(s).to_string(), r"a\u{1b}[31mb\u{7f}\u{85}\u{9b}c\u{202e}d\u{2066}\u{a}\u{9}é");
        assert_eq!(Esc("plain `text`: ok").to_string(), "plain `text`: ok");
    }

    #[test]
    fn blocks_keep_their_lines() {
        assert_eq!(
            block("<p>a\u{1b}[2J</p>\n\t<p>\u{202e}b</p>\r\n"),
            "<p>a\\u{1b}[2J</p>\n\t<p>\\u{202e}b</p>\\u{d}\n"
        );
    }

    #[test]
    fn json_stays_the_same_value() {
        let v = serde_json::json!({"kid": "\u{1b}[31m\u{7f}\u{85}\u{202e}x\u{2069}", "n": 1});
        let raw = serde_json::to_string_pretty(&v).unwrap_or_default();
        let safe = json(&raw);
        assert!(!safe.chars().any(|c| is_unsafe(c) && c != '\n'), "{safe}");
        assert!(safe.contains(r"\u001b[31m\u007f\u0085\u202ex\u2069"), "{safe}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&safe).ok(), Some(v));
    }
}
