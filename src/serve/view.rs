//! What page code may see: the tier, the permitted tokens and the decision
//! JSON to inject. Shared by the lol_html page filter ([`crate::html`]) and
//! the Worker, which applies it with workerd's built-in HTMLRewriter.

use crate::eval::Tier;

/// What the filter lets through: the tier, the permitted tokens and the
/// exposure-filtered decision JSON for page code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageView {
    /// The decision's tier; `data-sg-tier` elements that list it are kept.
    pub tier: Tier,
    /// The permitted segment tokens; a `data-sg-segment` element is kept only
    /// if every token it names is here.
    pub tokens: Vec<String>,
    /// The `<script type="application/json" id="sg-decision">` element,
    /// escaped for a script by [`PageView::new`] (hence private).
    script: String,
}

/// Escapes JSON for a `<script>` element: no `<`, `>`, `&` or line separators.
fn script_safe(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Whether a response with this `Content-Type` is a page the filter must
/// see: HTML, XHTML, or no type at all (which a browser may sniff as HTML).
/// Anything else (CSS, scripts, images, JSON) passes untouched.
///
/// ```
/// use signalgate::serve::is_page;
/// assert!(is_page(Some("text/html; charset=utf-8")) && is_page(Some("application/xhtml+xml")) && is_page(None));
/// assert!(!is_page(Some("text/css")) && !is_page(Some("application/json")));
/// ```
pub fn is_page(content_type: Option<&str>) -> bool {
    let essence = content_type.unwrap_or_default().split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence.is_empty() || PAGE_TYPES.contains(&essence.as_str())
}

/// The media types of pages (besides a missing type).
pub const PAGE_TYPES: [&str; 2] = ["text/html", "application/xhtml+xml"];

impl PageView {
    /// The decision script to inject (escaped for a `<script>` element).
    pub fn script(&self) -> &str {
        &self.script
    }

    /// A view for `tier` and `tokens`, with `page_json` (the decision as page
    /// code may see it) injected as `#sg-decision`.
    pub fn new(tier: Tier, tokens: Vec<String>, page_json: String) -> PageView {
        let script = super::markup::decision_script(&script_safe(&page_json));
        PageView { tier, tokens, script }
    }

    /// Keep an element marked with `data-sg-segment` = `attr`?
    pub fn keeps_segment(&self, attr: &str) -> bool {
        let mut names = attr.split_ascii_whitespace().peekable();
        names.peek().is_some() && names.all(|t| self.tokens.iter().any(|p| p == t))
    }

    /// Keep an element marked with `data-sg-tier` = `attr`?
    pub fn keeps_tier(&self, attr: &str) -> bool {
        attr.split(|c: char| c == '|' || c == ',' || c.is_ascii_whitespace()).any(|t| t == self.tier.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_and_tier_rules() {
        let v = PageView::new(Tier::Contextual, vec!["a".into(), "b".into()], "{}".into());
        assert!(v.keeps_segment("a") && v.keeps_segment(" a  b "));
        assert!(!v.keeps_segment("a c") && !v.keeps_segment("") && !v.keeps_segment("   "));
        assert!(v.keeps_tier("curated|contextual") && v.keeps_tier("generic, contextual"));
        assert!(!v.keeps_tier("curated") && !v.keeps_tier("") && !v.keeps_tier("contextualx"));
    }
}
