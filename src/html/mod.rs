//! The page filter: streams HTML through lol_html so that page code sees only
//! what the decision permits.
//!
//! - an element with `data-sg-segment="TOKEN ..."` stays only if every token
//!   it names is permitted (an empty list never is);
//! - an element with `data-sg-tier="curated|contextual"` stays only if the
//!   decision's tier is listed;
//! - any element with the id `sg-decision` (any tag, any letter case) from
//!   upstream is dropped, and the gate's
//!   own is added at the end of `<head>` (or of the document) with only the
//!   fields the policy's exposure rules allow.
//!
//! Nothing else in the page is touched.
//!
//! ```
//! use signalgate::html::{filter_html, PageView};
//! use signalgate::eval::Tier;
//! let view = PageView::new(Tier::Curated, vec!["sgt_a".into()], "{\"tier\":\"curated\"}".into());
//! let out = filter_html(br#"<head></head><p data-sg-segment="sgt_a">A</p><p data-sg-segment="sgt_b">B</p>
//! <div data-sg-tier="generic">G</div><div data-sg-tier="curated|contextual">C</div>"#, &view).unwrap();
//! let out = String::from_utf8(out).unwrap();
//! assert!(out.contains(">A<") && !out.contains(">B<") && !out.contains(">G<") && out.contains(">C<"));
//! assert!(out.contains(r#"<script type="application/json" id="sg-decision">{"tier":"curated"}</script></head>"#));
//! ```

use std::cell::Cell;
use std::rc::Rc;

use lol_html::html_content::{ContentType, Element};
use lol_html::{element, end, HtmlRewriter, OutputSink, Settings};

use crate::serve::markup::{
    DECISION_SELECTOR, INJECT_SELECTOR, SEGMENT_ATTR, SEGMENT_SELECTOR, TIER_ATTR, TIER_SELECTOR,
};
pub use crate::serve::PageView;

/// lol_html settings that apply `view`.
pub fn settings(view: Rc<PageView>) -> Settings<'static, 'static> {
    let injected = Rc::new(Cell::new(false));
    let (v1, v2, v3, v4) = (view.clone(), view.clone(), view.clone(), view);
    let (i1, i2) = (injected.clone(), injected);
    Settings::new()
        .append_element_content_handler(element!(SEGMENT_SELECTOR, move |el: &mut Element| {
            if !v1.keeps_segment(&el.get_attribute(SEGMENT_ATTR).unwrap_or_default()) {
                el.remove();
            }
            Ok(())
        }))
        .append_element_content_handler(element!(TIER_SELECTOR, move |el: &mut Element| {
            if !v2.keeps_tier(&el.get_attribute(TIER_ATTR).unwrap_or_default()) {
                el.remove();
            }
            Ok(())
        }))
        .append_element_content_handler(element!(DECISION_SELECTOR, |el: &mut Element| {
            el.remove();
            Ok(())
        }))
        .append_element_content_handler(element!(INJECT_SELECTOR, move |el: &mut Element| {
            if !i1.replace(true) {
                el.append(v3.script(), ContentType::Html);
            }
            Ok(())
        }))
        .append_document_content_handler(end!(move |end| {
            if !i2.replace(true) {
                end.append(v4.script(), ContentType::Html);
            }
            Ok(())
        }))
}

/// A streaming rewriter applying `view`, writing to `sink`.
pub fn rewriter<O: OutputSink>(view: Rc<PageView>, sink: O) -> HtmlRewriter<'static, O> {
    HtmlRewriter::new(settings(view), sink)
}

/// Filters a whole document in one go.
pub fn filter_html(html: &[u8], view: &PageView) -> Result<Vec<u8>, lol_html::errors::RewritingError> {
    let mut out = Vec::with_capacity(html.len() + 256);
    let mut r = rewriter(Rc::new(view.clone()), |chunk: &[u8]| out.extend_from_slice(chunk));
    r.write(html)?;
    r.end()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::Tier;

    fn run(html: &str, tier: Tier, tokens: &[&str]) -> String {
        let view = PageView::new(tier, tokens.iter().map(|s| s.to_string()).collect(), r#"{"tier":"x"}"#.into());
        String::from_utf8(filter_html(html.as_bytes(), &view).unwrap()).unwrap()
    }

    #[test]
    fn segments_need_every_token_permitted() {
        let page = r#"<i data-sg-segment="a">1</i><i data-sg-segment="a b">2</i><i data-sg-segment="">3</i><i data-sg-segment=" ">4</i>"#;
        let out = run(page, Tier::Curated, &["a"]);
        assert!(out.contains(">1<"));
        assert!(!out.contains(">2<") && !out.contains(">3<") && !out.contains(">4<"), "{out}");
        assert!(run(page, Tier::Curated, &["a", "b"]).contains(">2<"));
    }

    #[test]
    fn tiers_keep_only_listed_blocks_and_nested_segments_go_too() {
        let page = r#"<div data-sg-tier="curated"><b data-sg-segment="x">X</b>C</div><div data-sg-tier="generic contextual">G</div>"#;
        let generic = run(page, Tier::Generic, &[]);
        assert!(generic.contains(">G<") && !generic.contains("C</div>") && !generic.contains(">X<"), "{generic}");
        let curated = run(page, Tier::Curated, &[]);
        assert!(curated.contains("C</div>") && !curated.contains(">X<") && !curated.contains(">G<"), "{curated}");
    }

    #[test]
    fn upstream_decision_scripts_are_replaced() {
        let page = r#"<html><head><script type="application/json" id="sg-decision">{"tier":"curated","segments":["forged"]}</script></head><body>x</body></html>"#;
        let out = run(page, Tier::Generic, &[]);
        assert!(!out.contains("forged"), "{out}");
        assert_eq!(out.matches("id=\"sg-decision\"").count(), 1);
    }

    #[test]
    fn upstream_elements_with_the_decision_id_in_any_tag_or_case_are_dropped() {
        let page = r#"<html><head><template id="sg-decision">{"tier":"curated"}</template></head><body><div id="SG-Decision">forged-1</div><script id="sg-DECISION">forged-2</script><p id="sg-decisions">kept</p></body></html>"#;
        let out = run(page, Tier::Generic, &[]);
        assert!(!out.contains("forged") && !out.contains("template"), "{out}");
        assert!(out.contains("kept"), "another id stays: {out}");
        assert_eq!(out.to_ascii_lowercase().matches("id=\"sg-decision\"").count(), 1, "{out}");
    }

    #[test]
    fn documents_without_head_get_the_script_at_the_end() {
        let out = run("<p>hi</p>", Tier::Generic, &[]);
        assert!(out.ends_with(r#"<script type="application/json" id="sg-decision">{"tier":"x"}</script>"#), "{out}");
    }

    #[test]
    fn injected_json_cannot_close_the_script() {
        let view = PageView::new(Tier::Generic, vec![], r#"{"x":"</script><b>&"}"#.into());
        let out = String::from_utf8(filter_html(b"<head></head>", &view).unwrap()).unwrap();
        assert_eq!(out.matches("</script>").count(), 1, "{out}");
        assert!(out.contains("\\u003c/script\\u003e"));
    }

    #[test]
    fn the_rest_of_the_page_is_untouched() {
        let page =
            "<!doctype html>\n<html><head><title>T</title></head><body><p class=\"a\">x &amp; y</p></body></html>\n";
        let out = run(page, Tier::Generic, &[]);
        let script = r#"<script type="application/json" id="sg-decision">{"tier":"x"}</script>"#;
        assert_eq!(out, page.replace("</head>", &format!("{script}</head>")));
    }
}
