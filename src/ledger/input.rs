//! Request bodies, read strictly and checked against the policy, each
//! problem naming its field. Free text never passes: a value is a
//! vocabulary value (or an answer the policy maps to one), everything else
//! an identifier.

use serde_json::{Map, Value as Json};

use super::error::LedgerError;
use super::event::CaptureContext;
use crate::codec::json::from_slice_strict;
use crate::model::policy::Class;
use crate::model::{is_ident, LegalBasis, Policy};
use crate::time::{Span, UnixTime, CLOCK_SKEW};

/// How late a choice may be delivered (`captured_at` at most this long ago).
pub const MAX_DELAY: Span = Span::days(30);

/// Largest request body the API reads.
pub const MAX_BODY: usize = 16 * 1024;
/// Longest answer (`value`) read, in characters.
const MAX_ANSWER: usize = 200;
/// Longest page path in a capture context.
const MAX_PAGE: usize = 200;

/// A capture the policy allows, ready to become events.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Capture {
    /// The class.
    pub signal_type: String,
    /// The vocabulary value (after mapping the answer).
    pub value: String,
    /// The purposes the consent grants (known to the policy, allowed for the class).
    pub purposes: Vec<String>,
    /// The consent reference.
    pub consent_reference: String,
    /// The consent's scopes.
    pub scopes: Vec<String>,
    /// The consent's legal basis.
    pub legal_basis: LegalBasis,
    /// Where it was captured.
    pub context: CaptureContext,
    /// The subject named in the body (server callers), if any.
    pub subject_id: Option<String>,
    /// When the person made the choice, if earlier than its delivery (a
    /// choice kept offline and sent later).
    pub captured_at: Option<UnixTime>,
}

/// The optional body of reconfirm and revoke requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Action {
    /// Where the person acted.
    pub context: Option<CaptureContext>,
    /// Why, as an identifier (`user_request`, ...).
    pub justification: Option<String>,
    /// The subject named in the body (server callers), if any.
    pub subject_id: Option<String>,
}

/// The body as a JSON object (strict: no duplicate members, bounded size).
pub fn object(body: &[u8]) -> Result<Map<String, Json>, LedgerError> {
    if body.len() > MAX_BODY {
        return Err(LedgerError::BodyTooLarge { max: MAX_BODY });
    }
    match from_slice_strict::<Json>(body) {
        Ok(Json::Object(m)) => Ok(m),
        Ok(_) => Err(LedgerError::MalformedBody { detail: "expected a JSON object".into() }),
        Err(p) => Err(LedgerError::MalformedBody { detail: p.to_string() }),
    }
}

fn only(m: &Map<String, Json>, allowed: &[&'static str]) -> Result<(), LedgerError> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(LedgerError::MalformedBody {
            detail: format!("unknown member {}; expected one of {}", super::error::echo(k), allowed.join(", ")),
        }),
        None => Ok(()),
    }
}

fn ident(m: &Map<String, Json>, field: &'static str) -> Result<Option<String>, LedgerError> {
    match m.get(field) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) if is_ident(s) => Ok(Some(s.clone())),
        Some(_) => Err(LedgerError::InvalidField {
            field,
            detail: "expected an identifier (1-64 of A-Z a-z 0-9 . _ : -)".into(),
        }),
    }
}

fn required_ident(m: &Map<String, Json>, field: &'static str) -> Result<String, LedgerError> {
    ident(m, field)?.ok_or(LedgerError::MissingField { field })
}

fn ident_list(m: &Map<String, Json>, field: &'static str) -> Result<Option<Vec<String>>, LedgerError> {
    let bad = || LedgerError::InvalidField { field, detail: "expected a list of 1 to 16 identifiers".into() };
    match m.get(field) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Array(items)) if !items.is_empty() && items.len() <= 16 => {
            let mut out: Vec<String> = Vec::new();
            for item in items {
                match item.as_str().filter(|s| is_ident(s)) {
                    Some(s) if !out.iter().any(|o| o == s) => out.push(s.to_string()),
                    Some(_) => {}
                    None => return Err(bad()),
                }
            }
            Ok(Some(out))
        }
        Some(_) => Err(bad()),
    }
}

/// `source_context`: `{channel, ui?, page?}`.
fn context(m: &Map<String, Json>, field: &'static str) -> Result<Option<CaptureContext>, LedgerError> {
    let Some(v) = m.get(field).filter(|v| !v.is_null()) else { return Ok(None) };
    let bad = |detail: &str| LedgerError::InvalidField { field, detail: detail.to_string() };
    let Json::Object(c) = v else { return Err(bad("expected an object {channel, ui?, page?}")) };
    if let Some(k) = c.keys().find(|k| !matches!(k.as_str(), "channel" | "ui" | "page")) {
        return Err(bad(&format!("unknown member {k:?}; expected channel, ui, page")));
    }
    let channel = c
        .get("channel")
        .and_then(Json::as_str)
        .filter(|s| is_ident(s))
        .ok_or_else(|| bad("`channel` is required: an identifier such as \"web\""))?;
    let ui = match c.get("ui") {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) if is_ident(s) => Some(s.clone()),
        Some(_) => return Err(bad("`ui` must be an identifier")),
    };
    let page = match c.get("page") {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) if is_path(s) => Some(s.clone()),
        Some(_) => return Err(bad("`page` must be a path (/, letters, digits, - _ . ~ /), at most 200 bytes")),
    };
    Ok(Some(CaptureContext { channel: channel.to_string(), ui, page }))
}

fn is_path(s: &str) -> bool {
    s.starts_with('/')
        && s.len() <= MAX_PAGE
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~'))
}

fn legal_basis(m: &Map<String, Json>) -> Result<Option<LegalBasis>, LegalBasisError> {
    match m.get("legal_basis") {
        None | Some(Json::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone()).map(Some).map_err(|_| LegalBasisError),
    }
}

struct LegalBasisError;

/// Reads a `POST /v1/signals` body and checks it against the policy.
/// `default_scope` is the gate scope consents cover when the body names none.
pub fn capture(body: &[u8], policy: &Policy, default_scope: &str, now: UnixTime) -> Result<Capture, LedgerError> {
    let (mut c, answer) = read(body, policy, default_scope, now, "value", MAX_ANSWER)?;
    let class =
        policy.class(&c.signal_type).ok_or_else(|| LedgerError::UnknownClass { class: c.signal_type.clone() })?;
    c.value = class
        .map_answer(&answer)
        .ok_or_else(|| LedgerError::ValueNotInVocabulary { class: c.signal_type.clone(), allowed: allowed(class) })?
        .to_string();
    Ok(c)
}

/// Longest free-text answer the intake keeps, in characters.
pub const MAX_INTAKE_ANSWER: usize = 500;

/// Reads a `POST /v1/intake` body: a capture whose `answer` is free text.
/// Returns the capture (its `value` is the vocabulary value the policy maps
/// the answer to, or empty when it maps to none) and the answer.
pub fn intake(
    body: &[u8],
    policy: &Policy,
    default_scope: &str,
    now: UnixTime,
) -> Result<(Capture, String), LedgerError> {
    let (mut c, answer) = read(body, policy, default_scope, now, "answer", MAX_INTAKE_ANSWER)?;
    if answer.trim().is_empty() || answer.chars().any(|ch| ch.is_control()) {
        return Err(LedgerError::InvalidField {
            field: "answer",
            detail: "expected text without control characters".into(),
        });
    }
    let class =
        policy.class(&c.signal_type).ok_or_else(|| LedgerError::UnknownClass { class: c.signal_type.clone() })?;
    c.value = class.map_answer(&answer).unwrap_or_default().to_string();
    Ok((c, answer))
}

/// Reads a capture whose answer is in member `answer_field` (at most
/// `max` characters), checking everything else against the policy.
fn read(
    body: &[u8],
    policy: &Policy,
    default_scope: &str,
    now: UnixTime,
    answer_field: &'static str,
    max: usize,
) -> Result<(Capture, String), LedgerError> {
    let m = object(body)?;
    only(
        &m,
        &[
            "signal_type",
            answer_field,
            "purpose",
            "purposes",
            "consent_reference",
            "source_context",
            "subject_id",
            "legal_basis",
            "scopes",
            "captured_at",
        ],
    )?;
    let signal_type = required_ident(&m, "signal_type")?;
    let class = policy.class(&signal_type).ok_or_else(|| LedgerError::UnknownClass { class: signal_type.clone() })?;
    let answer = match m.get(answer_field) {
        None | Some(Json::Null) => return Err(LedgerError::MissingField { field: answer_field }),
        Some(Json::String(s)) if s.chars().count() <= max => s.clone(),
        Some(_) => {
            return Err(LedgerError::InvalidField {
                field: answer_field,
                detail: format!("expected a string of at most {max} characters"),
            })
        }
    };
    let purposes = match (m.get("purpose"), ident_list(&m, "purposes")?) {
        (Some(_), Some(_)) => {
            return Err(LedgerError::InvalidField {
                field: "purposes",
                detail: "give `purpose` or `purposes`, not both".into(),
            })
        }
        (Some(_), None) => vec![ident(&m, "purpose")?.ok_or(LedgerError::MissingField { field: "purpose" })?],
        (None, Some(list)) => list,
        (None, None) => return Err(LedgerError::MissingField { field: "purpose" }),
    };
    for p in &purposes {
        let bit = policy.purpose_index(p).map(|i| 1u64 << i);
        if bit.is_none_or(|b| class.purposes & b == 0) {
            return Err(LedgerError::PurposeNotAllowed { class: signal_type.clone(), purpose: p.clone() });
        }
    }
    let consent_reference = required_ident(&m, "consent_reference")?;
    let context = context(&m, "source_context")?.ok_or(LedgerError::MissingField { field: "source_context" })?;
    let legal_basis = legal_basis(&m)
        .map_err(|_| LedgerError::InvalidField {
            field: "legal_basis",
            detail: "expected a GDPR Art. 6 basis such as \"consent\"".into(),
        })?
        .unwrap_or(LegalBasis::Consent);
    if !class.legal_bases.contains(&legal_basis) {
        return Err(LedgerError::InvalidField {
            field: "legal_basis",
            detail: format!("the policy does not allow this legal basis for `{signal_type}`"),
        });
    }
    let scopes = ident_list(&m, "scopes")?.unwrap_or_else(|| vec![default_scope.to_string()]);
    let subject_id = ident(&m, "subject_id")?;
    let captured_at = match m.get("captured_at") {
        None | Some(Json::Null) => None,
        Some(v) => match v.as_i64() {
            Some(t) if t <= now.after(CLOCK_SKEW).0 && t >= now.before(MAX_DELAY).0 => Some(UnixTime(t.min(now.0))),
            _ => {
                return Err(LedgerError::InvalidField {
                    field: "captured_at",
                    detail: format!("expected Unix seconds, not in the future, at most {MAX_DELAY} before now"),
                })
            }
        },
    };
    let capture = Capture {
        signal_type,
        value: String::new(),
        purposes,
        consent_reference,
        scopes,
        legal_basis,
        context,
        subject_id,
        captured_at,
    };
    Ok((capture, answer))
}

/// The vocabulary for an error message (the first 24 values).
fn allowed(class: &Class) -> String {
    let mut list: Vec<&str> = class.values.iter().take(24).map(String::as_str).collect();
    if class.values.len() > 24 {
        list.push("...");
    }
    list.join(", ")
}

/// Reads the optional body of a reconfirm or revoke request (`{}` or empty).
pub fn action(body: &[u8]) -> Result<Action, LedgerError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Action::default());
    }
    let m = object(body)?;
    only(&m, &["source_context", "justification", "subject_id"])?;
    Ok(Action {
        context: context(&m, "source_context")?,
        justification: ident(&m, "justification")?,
        subject_id: ident(&m, "subject_id")?,
    })
}

/// Reads the body of a bundle request: empty, `{}`, or `{"subject_id": ...}`
/// (server callers name the subject; a browser's session does).
pub fn bundle_request(body: &[u8]) -> Result<Option<String>, LedgerError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let m = object(body)?;
    only(&m, &["subject_id"])?;
    ident(&m, "subject_id")
}

/// An operator's request for a new API key: the tenant, and a label
/// (`api-key` when none is given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRequest {
    /// The tenant the key acts for.
    pub tenant: String,
    /// A label for operators (an identifier).
    pub label: String,
    /// The role the key acts in (one of the policy's; `service` by default).
    pub role: String,
}

/// Reads an operator's request for a new API key, strictly.
pub fn api_key_request(body: &[u8]) -> Result<ApiKeyRequest, LedgerError> {
    let m = object(body)?;
    only(&m, &["tenant", "label", "role"])?;
    Ok(ApiKeyRequest {
        tenant: required_ident(&m, "tenant")?,
        label: ident(&m, "label")?.unwrap_or_else(|| "api-key".into()),
        role: ident(&m, "role")?.unwrap_or_else(|| "service".into()),
    })
}

/// The `subject_id` a request body names, if any (an empty body names
/// none): how a front end routes a server caller's request to the subject's
/// ledger before the ledger reads the whole body.
pub fn subject_in(body: &[u8]) -> Result<Option<String>, LedgerError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    ident(&object(body)?, "subject_id")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::from_json(include_str!("../../www/policy.json")).unwrap()
    }

    fn body(extra: &str) -> String {
        format!(
            r#"{{"signal_type":"language","value":"Deutsch","purpose":"personalization","consent_reference":"c-1",
                "source_context":{{"channel":"web","ui":"preference-centre","page":"/account"}}{extra}}}"#
        )
    }

    #[test]
    fn bundle_and_api_key_requests_are_read_strictly() {
        assert_eq!(bundle_request(b"").unwrap(), None);
        assert_eq!(bundle_request(br#"{"subject_id":"u-1"}"#).unwrap().as_deref(), Some("u-1"));
        assert_eq!(bundle_request(br#"{"subject":"u-1"}"#).unwrap_err().code(), "malformed_body");
        let k = api_key_request(br#"{"tenant":"shop"}"#).unwrap();
        assert_eq!((k.tenant.as_str(), k.label.as_str()), ("shop", "api-key"));
        let e = api_key_request(br#"{"tenant":"shop","label":"has space"}"#).unwrap_err();
        assert_eq!((e.code(), e.field()), ("invalid_field", Some("label")));
        assert_eq!(api_key_request(br#"{"label":"x"}"#).unwrap_err().field(), Some("tenant"));
        assert_eq!(api_key_request(br#"{"tenant":"shop","role":"engine"}"#).unwrap().role, "engine");
        assert_eq!(k.role, "service", "the built-in role by default");
        assert_eq!(api_key_request(br#"{"tenant":"shop","scope":"x"}"#).unwrap_err().code(), "malformed_body");
    }

    #[test]
    fn a_good_capture_maps_the_answer() {
        let c = capture(body("").as_bytes(), &policy(), "web", UnixTime(1_800_000_000)).unwrap();
        assert_eq!(
            (c.value.as_str(), c.purposes.as_slice(), c.scopes.as_slice()),
            ("de", &["personalization".to_string()][..], &["web".to_string()][..])
        );
        assert_eq!(c.context.ui.as_deref(), Some("preference-centre"));
    }

    #[test]
    fn each_problem_names_its_field() {
        let p = policy();
        let field = |text: &str| capture(text.as_bytes(), &p, "web", UnixTime(1_800_000_000)).unwrap_err().field();
        assert_eq!(field(&body("").replace("\"Deutsch\"", "\"I mostly read English and some Dutch\"")), Some("value"));
        assert_eq!(field(&body("").replace("\"language\"", "\"shoe_size\"")), Some("signal_type"));
        assert_eq!(field(&body("").replace(r#""consent_reference":"c-1","#, "")), Some("consent_reference"));
        assert_eq!(field(&body("").replace("personalization", "targeted_advertising")), Some("purpose"));
        assert_eq!(field(&body(r#","legal_basis":"vibes""#)), Some("legal_basis"));
        assert_eq!(field(&body("").replace("/account", "javascript:alert(1)")), Some("source_context"));
        assert_eq!(capture(b"[1]", &p, "web", UnixTime(0)).unwrap_err().code(), "malformed_body");
        assert_eq!(capture(br#"{"a":1,"a":2}"#, &p, "web", UnixTime(0)).unwrap_err().code(), "malformed_body");
        assert_eq!(capture(&vec![b' '; MAX_BODY + 1], &p, "web", UnixTime(0)).unwrap_err().code(), "body_too_large");
        assert_eq!(
            capture(body(r#","note":"x""#).as_bytes(), &p, "web", UnixTime(0)).unwrap_err().code(),
            "malformed_body"
        );
    }
}
