//! A readable HTML page of an evidence pack ([`super::evidence`]), for an
//! auditor or for the person the pack is about.
//!
//! The page is self-contained (no scripts, no external resources, a small
//! inline style sheet, a Content-Security-Policy that allows nothing else)
//! and prints. It renders the pack as given: it checks nothing, so the
//! signed pack stays the record and this page only a view of it. Every text
//! taken from the pack is HTML-escaped; a missing or odd member shows as
//! "—" rather than failing.

use serde_json::Value as Json;

/// What a missing, null or unreadable member shows as.
const MISSING: &str = "—";

/// Characters of an event hash shown in the event history.
const HASH_PREFIX: usize = 12;

const STYLE: &str = "\
:root{color-scheme:light}
body{margin:0;background:#fff;color:#1b1b1b;font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif}
main{max-width:84rem;margin:0 auto;padding:1.5rem}
h1{font-size:1.6rem;line-height:1.25;margin:0 0 .5rem}
h2{font-size:1.2rem;margin:2rem 0 .5rem;padding-bottom:.2rem;border-bottom:1px solid #b8bcc2}
p{margin:.4rem 0;max-width:60rem}
.note{color:#454a50}
nav ol{margin:.25rem 0;padding-left:1.5rem}
a{color:#0b4f9c}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1.25rem;margin:.5rem 0}
dt{font-weight:600}
dd{margin:0;min-width:0}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.875rem;margin:.25rem 0 1rem}
caption{text-align:left;font-weight:600;padding:.25rem 0;color:#2c3035}
th,td{border:1px solid #b8bcc2;padding:.3rem .45rem;text-align:left;vertical-align:top}
thead th{background:#e9ecf0}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85em;overflow-wrap:anywhere}
pre{white-space:pre-wrap;margin:.3rem 0 0;padding:.4rem;background:#f3f5f7;border:1px solid #d5d9de}
summary{cursor:pointer;white-space:nowrap}
time,.hash{white-space:nowrap}
.tag{display:inline-block;padding:0 .35em;border:1px solid currentColor;border-radius:3px;font-size:.8em;font-weight:600}
.ok{color:#0a5a1c}
.bad{color:#9e0d0d}
.muted{color:#454a50}
@media print{
body{font-size:9.5pt}
main{max-width:none;padding:0}
.scroll{overflow:visible}
nav{display:none}
h2{break-after:avoid}
tr{break-inside:avoid}
thead{display:table-header-group}
details::details-content{content-visibility:visible;display:block}
}
";

/// The page's sections, in order: (id, heading).
const SECTIONS: [(&str, &str); 8] = [
    ("summary", "Summary"),
    ("collected", "What was collected"),
    ("consents", "Consents"),
    ("uses", "Uses"),
    ("erasures", "Erasures — proof of suppression"),
    ("merges", "Merges"),
    ("webhooks", "Webhook deliveries"),
    ("events", "Event history"),
];

/// Renders an evidence pack (the JSON of [`super::Ledger::evidence`], or
/// the `pack` of a [`super::evidence::Checked`]) as a complete HTML5 page:
/// a summary (tenant, subject, when it was generated, issuer, policy
/// versions, whether the hash chain verified, the retention lock), then
/// what was collected, the consents, the uses (bundles issued), the
/// erasures, the merges, the webhook deliveries and the whole event
/// history.
///
/// The page shows the pack as given and checks nothing: check a signed
/// pack with [`super::evidence::check`] first. Every text from the pack is
/// escaped; times show as `YYYY-MM-DD HH:MM:SS UTC`; a missing or odd
/// member shows as "—", so any JSON value renders.
///
/// ```
/// use serde_json::json;
/// use signalgate::ledger::evidence_html::render;
///
/// let pack = json!({
///     "pack": "signalgate-evidence/1",
///     "tenant": "demo-shop",
///     "subject_id": "u-1",
///     "generated_at": 1_800_000_000,
///     "collected": [{ "signal_id": "<script>alert(1)</script>", "version": 1, "value": null,
///                     "erased_at": 1_800_000_000 }],
/// });
/// let html = render(&pack);
/// assert!(html.starts_with("<!DOCTYPE html>"));
/// assert!(html.contains("u-1"));
/// assert!(html.contains("2027-01-15 08:00:00 UTC"));
/// assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
/// assert!(!html.contains("<script>"));
/// ```
pub fn render(pack: &Json) -> String {
    let tenant = text(field(pack, "tenant"));
    let subject = text(field(pack, "subject_id"));
    let mut out = String::with_capacity(16 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
    );
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!("<title>Evidence pack: {subject} at {tenant}</title>\n"));
    out.push_str(&format!("<style>\n{STYLE}</style>\n</head>\n<body>\n<main>\n"));
    out.push_str(&format!("<h1>Evidence pack for subject <code>{subject}</code></h1>\n"));
    out.push_str(&format!(
        "<p class=\"note\">Everything tenant <code>{tenant}</code> holds about this subject in its signal ledger: \
         what was collected and under which consent, where it was used, what was erased, and the full audited \
         history. This page is a readable view of the signed evidence pack; the signed pack is the record, and \
         it can be checked offline with the tenant's published keys.</p>\n"
    ));
    out.push_str("<nav aria-label=\"Sections\">\n<ol>\n");
    for (id, heading) in SECTIONS {
        out.push_str(&format!("<li><a href=\"#{id}\">{}</a></li>\n", escape(heading)));
    }
    out.push_str("</ol>\n</nav>\n");
    summary(&mut out, pack);
    collected(&mut out, pack);
    consents(&mut out, pack);
    uses(&mut out, pack);
    erasures(&mut out, pack);
    merges(&mut out, pack);
    webhooks(&mut out, pack);
    events(&mut out, pack);
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

/// Escapes text for HTML content and quoted attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A member of an object, if present and not null.
fn field<'a>(v: &'a Json, name: &str) -> Option<&'a Json> {
    v.get(name).filter(|x| !x.is_null())
}

/// A list member (empty when missing or not a list).
fn list<'a>(v: &'a Json, name: &str) -> &'a [Json] {
    v.get(name).and_then(Json::as_array).map_or(&[], Vec::as_slice)
}

/// Any value as escaped text: strings as they are, numbers and booleans
/// printed, lists joined with commas, objects as JSON, nothing as "—".
fn text(v: Option<&Json>) -> String {
    match v {
        None | Some(Json::Null) => MISSING.to_string(),
        Some(Json::String(s)) if s.is_empty() => MISSING.to_string(),
        Some(Json::String(s)) => escape(s),
        Some(Json::Array(items)) if items.is_empty() => MISSING.to_string(),
        Some(Json::Array(items)) => items.iter().map(|i| text(Some(i))).collect::<Vec<_>>().join(", "),
        Some(other) => escape(&other.to_string()),
    }
}

/// Escaped text in `<code>`, or "—".
fn code(v: Option<&Json>) -> String {
    match v {
        None | Some(Json::Null) => MISSING.to_string(),
        Some(_) => format!("<code>{}</code>", text(v)),
    }
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC` (in a `<time>`), or "—".
fn time(v: Option<&Json>) -> String {
    v.and_then(Json::as_i64).and_then(utc).unwrap_or_else(|| MISSING.to_string())
}

fn utc(secs: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(secs, 0).map(|t| {
        format!("<time datetime=\"{}\">{}</time>", t.format("%Y-%m-%dT%H:%M:%SZ"), t.format("%Y-%m-%d %H:%M:%S UTC"))
    })
}

/// Signal versions given as `[signal_id, version]` pairs, as `id v2, …`.
fn versions(v: Option<&Json>) -> String {
    let Some(items) = v.and_then(Json::as_array).filter(|i| !i.is_empty()) else { return MISSING.to_string() };
    items
        .iter()
        .map(|item| match item.as_array().map(Vec::as_slice) {
            Some([id, version]) => format!("<code>{}</code> v{}", text(Some(id)), text(Some(version))),
            _ => text(Some(item)),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// How many items a list member holds (or the number it is), or "—".
fn count(v: Option<&Json>) -> String {
    match v {
        Some(Json::Array(items)) => items.len().to_string(),
        Some(Json::Number(n)) => escape(&n.to_string()),
        _ => MISSING.to_string(),
    }
}

fn section(out: &mut String, id: &str, heading: &str) {
    out.push_str(&format!("<section aria-labelledby=\"{id}\">\n<h2 id=\"{id}\">{}</h2>\n", escape(heading)));
}

/// A table with a caption and column headers, or `empty` when there are no
/// rows. Cells are HTML already (escaped by the caller).
fn table(out: &mut String, caption: &str, headers: &[&str], rows: &[Vec<String>], empty: &str) {
    if rows.is_empty() {
        out.push_str(&format!("<p class=\"muted\">{}</p>\n", escape(empty)));
        return;
    }
    out.push_str(&format!("<div class=\"scroll\">\n<table>\n<caption>{}</caption>\n<thead>\n<tr>", escape(caption)));
    for h in headers {
        out.push_str(&format!("<th scope=\"col\">{}</th>", escape(h)));
    }
    out.push_str("</tr>\n</thead>\n<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            out.push_str(&format!("<td>{cell}</td>"));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
}

fn window_text(pack: &Json) -> String {
    let window = field(pack, "window");
    let from = window.and_then(|w| field(w, "from"));
    let to = window.and_then(|w| field(w, "to"));
    match (from, to) {
        _ if window.is_none() => MISSING.to_string(),
        (None, None) => "the whole history".to_string(),
        (from, to) => format!(
            "from {} to {} (the chain is always whole; the lists are narrowed to this window)",
            from.map_or_else(|| "the beginning".to_string(), |f| time(Some(f))),
            to.map_or_else(|| "the end".to_string(), |t| time(Some(t))),
        ),
    }
}

fn summary(out: &mut String, pack: &Json) {
    section(out, "summary", "Summary");
    let chain = field(pack, "chain");
    let at = |name: &str| chain.and_then(|c| field(c, name));
    let verified = match at("verified").and_then(Json::as_bool) {
        Some(true) => "<span class=\"ok\">Yes: every event's hash recomputes and links to the one before</span>".into(),
        Some(false) => format!(
            "<span class=\"bad\">No: broken at event index {}: {}</span>",
            text(at("first_bad_index")),
            text(at("problem"))
        ),
        None => MISSING.to_string(),
    };
    let events = match at("events") {
        Some(n) => text(Some(n)),
        None => {
            pack.get("events").and_then(Json::as_array).map_or_else(|| MISSING.to_string(), |e| e.len().to_string())
        }
    };
    let lock = match pack.get("retention_lock") {
        None => MISSING.to_string(),
        Some(Json::Null) => "None".to_string(),
        Some(l) => format!(
            "Values are kept until {} (reason: {}); use is still suppressed as usual",
            time(field(l, "until")),
            code(field(l, "reason"))
        ),
    };
    let rows = [
        ("Tenant", code(field(pack, "tenant"))),
        ("Subject", code(field(pack, "subject_id"))),
        ("Generated at", time(field(pack, "generated_at"))),
        ("Issuer", code(field(pack, "issuer"))),
        ("Pack format", code(field(pack, "pack"))),
        ("Time window", window_text(pack)),
        ("Policy versions", text(field(pack, "policy_versions"))),
        ("Hash chain verified", verified),
        ("Events in the chain", events),
        ("Head hash", code(at("head"))),
        ("Retention lock", lock),
    ];
    out.push_str("<dl>\n");
    for (name, value) in rows {
        out.push_str(&format!("<dt>{}</dt><dd>{value}</dd>\n", escape(name)));
    }
    out.push_str("</dl>\n</section>\n");
}

fn collected(out: &mut String, pack: &Json) {
    section(out, "collected", "What was collected");
    out.push_str(
        "<p>Each version of each signal, with its value while the ledger keeps it. An erased value is gone for good: \
         the chain keeps only a salted digest of it, which no longer reveals it.</p>\n",
    );
    let rows: Vec<Vec<String>> = list(pack, "collected")
        .iter()
        .map(|c| {
            let value = match c.get("value") {
                Some(Json::String(v)) => {
                    let sealed = c.get("encrypted_at_rest").and_then(Json::as_bool) == Some(true);
                    format!("<code>{}</code>{}", escape(v), if sealed { " (encrypted at rest)" } else { "" })
                }
                _ if field(c, "erased_at").is_some() => "<span class=\"tag\">erased</span>".to_string(),
                _ => "<span class=\"tag\">withheld</span>".to_string(),
            };
            let consent = match (field(c, "consent_id"), field(c, "consent_status")) {
                (None, None) => MISSING.to_string(),
                (id, status) => format!("{} ({})", code(id), text(status)),
            };
            vec![
                code(field(c, "signal_id")),
                text(field(c, "version")),
                text(field(c, "signal_type")),
                value,
                time(field(c, "captured_at")),
                text(field(c, "source_channel")),
                consent,
                text(field(c, "status")),
                time(field(c, "erased_at")),
                time(field(c, "retention_until")),
            ]
        })
        .collect();
    table(
        out,
        "Signal versions collected",
        &[
            "Signal",
            "Version",
            "Class",
            "Value",
            "Captured",
            "Channel",
            "Consent",
            "Status",
            "Erased at",
            "Retention until",
        ],
        &rows,
        "No signals in this pack.",
    );
    out.push_str("</section>\n");
}

fn consents(out: &mut String, pack: &Json) {
    section(out, "consents", "Consents");
    let rows: Vec<Vec<String>> = list(pack, "consents")
        .iter()
        .map(|c| {
            vec![
                code(field(c, "consent_id")),
                text(field(c, "purposes")),
                text(field(c, "scopes")),
                text(field(c, "legal_basis")),
                text(field(c, "status")),
                time(field(c, "granted_at")),
                time(field(c, "revoked_at")),
            ]
        })
        .collect();
    table(
        out,
        "Consent records",
        &["Consent", "Purposes", "Scopes", "Legal basis", "Status", "Granted", "Revoked"],
        &rows,
        "No consent records in this pack.",
    );
    out.push_str("</section>\n");
}

fn uses(out: &mut String, pack: &Json) {
    section(out, "uses", "Uses");
    out.push_str("<p>Each signed bundle issued to the gate, with the policy version that allowed it.</p>\n");
    let rows: Vec<Vec<String>> = list(pack, "uses")
        .iter()
        .map(|u| {
            vec![
                code(field(u, "bundle_id")),
                time(field(u, "issued_at")),
                time(field(u, "expires_at")),
                text(field(u, "policy_version")),
                count(field(u, "signals")),
                text(field(u, "consents")),
                text(field(u, "event_seq")),
            ]
        })
        .collect();
    table(
        out,
        "Bundles issued",
        &["Bundle", "Issued", "Expires", "Policy version", "Signals", "Consents", "Event"],
        &rows,
        "No bundles were issued.",
    );
    out.push_str("</section>\n");
}

fn erasures(out: &mut String, pack: &Json) {
    section(out, "erasures", "Erasures — proof of suppression");
    out.push_str(
        "<p>When values were erased, why, and which signal versions: the values and their salts are gone, \
         and the events below stay in the chain as proof.</p>\n",
    );
    let rows: Vec<Vec<String>> = list(pack, "erasures")
        .iter()
        .map(|e| {
            vec![
                time(field(e, "at")),
                code(field(e, "reason")),
                versions(field(e, "signals")),
                text(field(e, "event_seq")),
            ]
        })
        .collect();
    table(out, "Erasures", &["When", "Why", "Signal versions", "Event"], &rows, "No values were erased.");
    out.push_str("</section>\n");
}

fn merges(out: &mut String, pack: &Json) {
    section(out, "merges", "Merges");
    let rows: Vec<Vec<String>> = list(pack, "merges")
        .iter()
        .map(|m| {
            let split = m.get("split").and_then(Json::as_bool) == Some(true);
            let what = match (m.get("role").and_then(Json::as_str), split) {
                (Some("source"), false) => "merged into the other subject".to_string(),
                (Some("source"), true) => "given back by the other subject (split)".to_string(),
                (Some("target"), false) => "took in the other subject".to_string(),
                (Some("target"), true) => "gave back to the other subject (split)".to_string(),
                _ => text(field(m, "role")),
            };
            let confidence = match field(m, "confidence").and_then(Json::as_f64) {
                Some(c) => format!("{:.0}%", c * 100.0),
                None => MISSING.to_string(),
            };
            vec![
                code(field(m, "merge_id")),
                what,
                code(field(m, "other")),
                time(field(m, "at")),
                text(field(m, "signals")),
                confidence,
                text(field(m, "evidence")),
                text(field(m, "event_seq")),
            ]
        })
        .collect();
    table(
        out,
        "Merges and splits",
        &["Merge", "What happened", "Other subject", "When", "Signals", "Confidence", "Evidence", "Event"],
        &rows,
        "No merges.",
    );
    out.push_str("</section>\n");
}

fn webhooks(out: &mut String, pack: &Json) {
    section(out, "webhooks", "Webhook deliveries");
    let rows: Vec<Vec<String>> = list(pack, "webhooks")
        .iter()
        .map(|w| {
            vec![
                code(field(w, "msg_id")),
                code(field(w, "endpoint_id")),
                text(field(w, "event_type")),
                text(field(w, "state")),
                text(field(w, "attempts")),
                time(field(w, "created_at")),
                time(field(w, "delivered_at")),
                text(field(w, "last_status")),
                text(field(w, "last_error")),
            ]
        })
        .collect();
    table(
        out,
        "Webhook deliveries",
        &[
            "Message",
            "Endpoint",
            "Event type",
            "State",
            "Attempts",
            "Created",
            "Delivered",
            "Last status",
            "Last error",
        ],
        &rows,
        "No webhook deliveries.",
    );
    out.push_str("</section>\n");
}

fn events(out: &mut String, pack: &Json) {
    section(out, "events", "Event history");
    out.push_str(
        "<p>Every event of the subject's history, in order. Each event's hash covers its fields and the previous \
         event's hash, so changing, removing or reordering any event breaks the chain.</p>\n",
    );
    let rows: Vec<Vec<String>> = list(pack, "events")
        .iter()
        .map(|e| {
            let actor = match (field(e, "actor_type"), field(e, "actor_id")) {
                (None, None) => MISSING.to_string(),
                (kind, id) => format!("{}: {}", text(kind), code(id)),
            };
            let actor = match field(e, "source_ui") {
                Some(ui) => format!("{actor} via {}", code(Some(ui))),
                None => actor,
            };
            let hash = match field(e, "hash").and_then(Json::as_str) {
                Some(h) => {
                    let prefix: String = h.chars().take(HASH_PREFIX).collect();
                    let more = if h.chars().count() > HASH_PREFIX { "…" } else { "" };
                    format!("<code class=\"hash\" title=\"{}\">{}{more}</code>", escape(h), escape(&prefix))
                }
                None => text(field(e, "hash")),
            };
            vec![
                text(field(e, "seq")),
                time(field(e, "at")),
                code(field(e, "op")),
                actor,
                text(field(e, "legal_basis")),
                text(field(e, "justification")),
                text(field(e, "policy_version")),
                hash,
                payload(field(e, "payload")),
            ]
        })
        .collect();
    table(
        out,
        "Events",
        &["Seq", "Time", "Operation", "Actor", "Legal basis", "Justification", "Policy", "Hash", "Payload"],
        &rows,
        "No events in this pack.",
    );
    out.push_str("</section>\n");
}

/// An event's payload (JSON text) in a `<details>`, pretty-printed when it
/// parses.
fn payload(v: Option<&Json>) -> String {
    let shown = match v {
        None => return MISSING.to_string(),
        Some(Json::String(s)) => serde_json::from_str::<Json>(s)
            .ok()
            .and_then(|j| serde_json::to_string_pretty(&j).ok())
            .unwrap_or_else(|| s.clone()),
        Some(other) => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    format!("<details><summary>Payload</summary><pre>{}</pre></details>", escape(&shown))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn evil(tag: &str) -> String {
        format!("<script>alert('{tag}')</script>\"{tag}")
    }

    fn escaped(tag: &str) -> String {
        format!("&lt;script&gt;alert(&#39;{tag}&#39;)&lt;/script&gt;&quot;{tag}")
    }

    #[test]
    fn escape_handles_the_five_characters() {
        assert_eq!(escape(r#"a&b<c>d"e'f"#), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
        assert_eq!(escape("plain é"), "plain é");
    }

    #[test]
    fn every_rendered_field_is_escaped() {
        let tags = [
            "tenant",
            "subject",
            "issuer",
            "pack",
            "policy",
            "problem",
            "head",
            "lockreason",
            "sigid",
            "class",
            "value",
            "channel",
            "consentid",
            "cstatus",
            "status",
            "purpose",
            "scope",
            "basis",
            "bundle",
            "upolicy",
            "ucons",
            "ereason",
            "esig",
            "merge",
            "other",
            "evidence",
            "msg",
            "endpoint",
            "etype",
            "wstate",
            "lasterr",
            "op",
            "actortype",
            "actor",
            "ui",
            "justification",
            "epolicy",
            "hash",
        ];
        let e = |t: &str| json!(evil(t));
        let pack = json!({
            "pack": e("pack"), "generated_at": 1_800_000_000, "issuer": e("issuer"),
            "tenant": e("tenant"), "subject_id": e("subject"), "window": { "from": null, "to": null },
            "policy_versions": [e("policy")],
            "chain": { "events": 1, "head": e("head"), "verified": false, "first_bad_index": 0, "problem": e("problem") },
            "retention_lock": { "until": 1_800_000_000, "reason": e("lockreason") },
            "collected": [{
                "signal_id": e("sigid"), "version": 1, "signal_type": e("class"), "value": e("value"),
                "source_channel": e("channel"), "consent_id": e("consentid"), "consent_status": e("cstatus"),
                "status": e("status"), "captured_at": 1_800_000_000,
            }],
            "consents": [{ "consent_id": "c-1", "purposes": [e("purpose")], "scopes": [e("scope")],
                           "legal_basis": e("basis"), "status": "granted", "granted_at": 1 }],
            "uses": [{ "bundle_id": e("bundle"), "policy_version": e("upolicy"), "consents": [e("ucons")],
                       "signals": [["s", 1]] }],
            "erasures": [{ "reason": e("ereason"), "signals": [[e("esig"), 1]] }],
            "merges": [{ "merge_id": e("merge"), "role": "source", "other": e("other"), "evidence": [e("evidence")] }],
            "webhooks": [{ "msg_id": e("msg"), "endpoint_id": e("endpoint"), "event_type": e("etype"),
                           "state": e("wstate"), "last_error": e("lasterr") }],
            "events": [{
                "seq": 1, "at": 1, "op": e("op"), "actor_type": e("actortype"), "actor_id": e("actor"),
                "source_ui": e("ui"), "justification": e("justification"), "policy_version": e("epolicy"),
                "hash": e("hash"),
                "payload": json!({ "op": "signal_expired", "signal_id": evil("payload") }).to_string(),
            }],
        });
        let html = render(&pack);
        assert!(!html.contains("<script"), "raw script tag in:\n{html}");
        assert!(!html.contains("alert('"));
        for tag in tags {
            assert!(html.contains(&escaped(tag)), "{tag} is not escaped in:\n{html}");
        }
        // The payload is pretty-printed JSON, whose own escaping comes first.
        assert!(html.contains("&lt;script&gt;alert(&#39;payload&#39;)&lt;/script&gt;\\&quot;payload"));
        // The title and the hash's title attribute too.
        assert!(html.contains(&format!(
            "<title>Evidence pack: {} at {}</title>",
            escaped("subject"),
            escaped("tenant")
        )));
        assert!(html.contains(&format!("title=\"{}\"", escaped("hash"))));
        assert!(!html.contains("alert('hash')"));
    }

    #[test]
    fn erased_and_withheld_values_say_so() {
        let pack = json!({
            "collected": [
                { "signal_id": "s-1", "version": 1, "value": null, "salt": null, "erased_at": 1_800_000_000 },
                { "signal_id": "s-2", "version": 1, "value": null, "salt": null, "erased_at": null },
                { "signal_id": "s-3", "version": 2, "value": "de", "salt": "x", "encrypted_at_rest": true },
            ],
        });
        let html = render(&pack);
        assert!(html.contains("<span class=\"tag\">erased</span>"));
        assert!(html.contains("<span class=\"tag\">withheld</span>"));
        assert!(html.contains("<code>de</code> (encrypted at rest)"));
        assert!(html.contains("<td><time datetime=\"2027-01-15T08:00:00Z\">2027-01-15 08:00:00 UTC</time></td>"));
    }

    #[test]
    fn anything_renders_without_panicking() {
        for pack in [
            json!({}),
            Json::Null,
            json!([]),
            json!("text"),
            json!({ "chain": 3, "events": "x", "collected": [1, null, "a", []], "window": 7, "retention_lock": [] }),
            json!({ "generated_at": i64::MAX, "events": [{ "at": -1e300, "hash": 5, "payload": {"a": 1} }] }),
            json!({ "uses": [{ "signals": 3 }], "erasures": [{ "signals": [1, [2], ["a", 1, 2]] }] }),
        ] {
            let html = render(&pack);
            assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>\n"));
            assert!(html.contains(MISSING));
        }
        let html = render(&json!({}));
        assert!(html.contains("<title>Evidence pack: — at —</title>"));
        assert!(html.contains("No signals in this pack."));
    }

    #[test]
    fn times_are_utc() {
        assert_eq!(time(Some(&json!(0))), "<time datetime=\"1970-01-01T00:00:00Z\">1970-01-01 00:00:00 UTC</time>");
        assert!(time(Some(&json!(1_800_000_000))).contains(">2027-01-15 08:00:00 UTC<"));
        assert_eq!(time(Some(&json!("1800000000"))), MISSING);
        assert_eq!(time(Some(&json!(i64::MAX))), MISSING);
        assert_eq!(time(None), MISSING);
    }

    #[test]
    fn headings_are_one_h1_then_h2s_and_tables_are_labelled() {
        let pack: Json = serde_json::from_str(include_str!("../../tests/vectors/evidence/sample-pack.json")).unwrap();
        let html = render(&pack);
        let levels: Vec<u8> =
            html.match_indices("<h").filter_map(|(i, _)| html.as_bytes().get(i + 2).copied()).collect();
        let levels: Vec<u8> = levels.into_iter().filter(u8::is_ascii_digit).collect();
        assert_eq!(levels.first(), Some(&b'1'));
        assert_eq!(levels.iter().filter(|l| **l == b'1').count(), 1);
        assert!(levels[1..].iter().all(|l| *l == b'2'), "{levels:?}");
        let headings: Vec<&str> =
            html.split("<h2 id=\"").skip(1).filter_map(|s| s.split_once("\">")).map(|(id, _)| id).collect();
        assert_eq!(headings, SECTIONS.iter().map(|(id, _)| *id).collect::<Vec<_>>());
        assert!(html.contains("<html lang=\"en\">") && html.contains("<main>") && html.contains("<title>"));
        assert!(!html.contains("<script") && !html.contains("src=") && !html.contains("http://"));
        let tables = html.matches("<table>").count();
        assert!(tables >= 6, "the sample fills every list");
        assert_eq!(html.matches("<table>\n<caption>").count(), tables);
        assert!(!html.contains("<th>"), "every header cell has a scope");
    }

    #[test]
    fn the_sample_pack_renders_its_facts() {
        let pack: Json = serde_json::from_str(include_str!("../../tests/vectors/evidence/sample-pack.json")).unwrap();
        let html = render(&pack);
        assert!(html.contains("Yes: every event"));
        assert!(html.contains("<span class=\"tag\">erased</span>"));
        for op in ["signal_captured", "bundle_issued", "values_erased", "merge_imported", "retention_locked"] {
            assert!(html.contains(&format!("<code>{op}</code>")), "{op}");
        }
    }
}
