//! Golden vectors for webhook signatures (`tests/vectors/webhooks/signatures.json`,
//! format in that directory's README): the cases are built here with
//! `ledger::webhook_sign` (the signed ones with [`WebhookHeaders::new`], the
//! others by spoiling a signed one), and the file must equal what is built;
//! with `SG_REGENERATE=1` the file is rewritten instead, and
//! `git diff tests/vectors/webhooks` shows what changed. Every case on disk
//! is then verified with [`verify`] and must come out as its `valid` member
//! says. `tests/js/webhook_signatures.test.mjs` checks the same file with
//! the npm package `standardwebhooks`, an independent implementation.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use signalgate::ledger::entropy::{Entropy, SeededEntropy};
use signalgate::ledger::webhook_sign::{verify, WebhookHeaders, WebhookSecret, DEFAULT_TOLERANCE};
use signalgate::UnixTime;

/// The Standard Webhooks test vector, from the "sign function works" test of
/// the reference JavaScript library (standard-webhooks/standard-webhooks,
/// `libraries/javascript/src/webhook.test.ts`).
const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SPEC_TS: i64 = 1_614_265_330;
const SPEC_BODY: &str = r#"{"test": 2432232314}"#;
const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

/// The delivery time of the other cases (2027-01-15T08:00:00Z).
const T: i64 = 1_800_000_000;
const ID: &str = "msg_2f6c1e0a9b7d4c3e";
/// A realistic body with non-ASCII text (signed as its UTF-8 bytes).
const BODY: &str = r#"{"type":"signal.revoked","tenant":"demo-shop","data":{"signal":"sig_3","city":"Zürich ✓"}}"#;

fn path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/webhooks/signatures.json")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    description: String,
    tolerance_seconds: i64,
    cases: Vec<Case>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    description: String,
    /// The secret the receiver verifies with.
    secret: String,
    /// The receiver's clock, Unix seconds.
    now: i64,
    headers: Headers,
    /// The body, sent as its UTF-8 bytes.
    body: String,
    valid: bool,
    /// The code of signalgate's `WebhookVerifyError` for an invalid case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Headers {
    #[serde(rename = "webhook-id")]
    id: String,
    #[serde(rename = "webhook-timestamp")]
    timestamp: String,
    #[serde(rename = "webhook-signature")]
    signature: String,
}

impl From<&WebhookHeaders> for Headers {
    fn from(h: &WebhookHeaders) -> Self {
        let value = |name: &str| h.pairs().into_iter().find(|(n, _)| *n == name).map(|(_, v)| v).unwrap();
        Headers {
            id: value("webhook-id"),
            timestamp: value("webhook-timestamp"),
            signature: value("webhook-signature"),
        }
    }
}

/// What [`verify`] says of a case: `None` if it verifies, else the code.
fn outcome(case: &Case, tolerance: i64) -> Option<String> {
    let secret = WebhookSecret::parse(&case.secret).unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let h = &case.headers;
    let checked = WebhookHeaders::from_values(&h.id, &h.timestamp, &h.signature).and_then(|headers| {
        verify(&secret, &headers, case.body.as_bytes(), UnixTime(case.now), signalgate::Span(tolerance))
    });
    checked.err().map(|e| e.code().to_string())
}

struct Secrets {
    spec: WebhookSecret,
    new: WebhookSecret,
    long: WebhookSecret,
    other: WebhookSecret,
}

fn secrets() -> Secrets {
    let mut long = [0u8; 64];
    SeededEntropy::new(64).fill(&mut long).unwrap();
    Secrets {
        spec: WebhookSecret::parse(SPEC_SECRET).unwrap(),
        new: WebhookSecret::generate(&mut SeededEntropy::new(2026)).unwrap(),
        long: WebhookSecret::parse(&format!("whsec_{}", STANDARD.encode(long))).unwrap(),
        other: WebhookSecret::generate(&mut SeededEntropy::new(9)).unwrap(),
    }
}

/// Builds every case; `error` is filled in from [`verify`] afterwards.
fn build() -> File {
    let s = secrets();
    let signed = |signers: &[&WebhookSecret], id: &str, ts: i64, body: &str| {
        Headers::from(&WebhookHeaders::new(signers, id, ts, body.as_bytes()))
    };
    let case = |name: &str, description: &str, secret: &WebhookSecret, now: i64, headers: Headers, body: &str| Case {
        name: name.into(),
        description: description.into(),
        secret: secret.to_string(),
        now,
        headers,
        body: body.into(),
        valid: false,
        error: None,
    };
    let good = signed(&[&s.new], ID, T, BODY);
    let rotation = signed(&[&s.new, &s.spec], ID, T, BODY);
    let sig = good.signature.strip_prefix("v1,").unwrap().to_string();
    let with = |f: &dyn Fn(&mut Headers)| {
        let mut h = good.clone();
        f(&mut h);
        h
    };
    // One base64 character of the signature changed (the first: 6 bits).
    let flipped = {
        let first = if sig.starts_with('A') { "B" } else { "A" };
        format!("v1,{first}{}", &sig[1..])
    };

    let mut cases = vec![
        case(
            "spec-vector",
            "the Standard Webhooks published test vector (24-byte secret), checked at its own time",
            &s.spec,
            SPEC_TS,
            signed(&[&s.spec], SPEC_ID, SPEC_TS, SPEC_BODY),
            SPEC_BODY,
        ),
        case(
            "secret-24-bytes",
            "signed with the 24-byte spec secret",
            &s.spec,
            T + 10,
            signed(&[&s.spec], ID, T, BODY),
            BODY,
        ),
        case("secret-32-bytes", "signed with a generated 32-byte secret", &s.new, T + 10, good.clone(), BODY),
        case("secret-64-bytes", "signed with a 64-byte secret", &s.long, T + 10, signed(&[&s.long], ID, T, BODY), BODY),
        case("empty-body", "an empty body is signed as no bytes", &s.new, T + 10, signed(&[&s.new], ID, T, ""), ""),
        case(
            "rotation-new-secret",
            "during a rotation both secrets sign (new first); the new one verifies",
            &s.new,
            T + 10,
            rotation.clone(),
            BODY,
        ),
        case(
            "rotation-old-secret",
            "during a rotation both secrets sign (new first); the old one verifies",
            &s.spec,
            T + 10,
            rotation.clone(),
            BODY,
        ),
        case(
            "rotation-unrelated-secret",
            "a rotation header does not verify under a third secret",
            &s.other,
            T + 10,
            rotation,
            BODY,
        ),
        case(
            "other-versions-skipped",
            "entries of other versions and a wrong v1 entry are skipped; the good v1 entry verifies",
            &s.new,
            T + 10,
            with(&|h| h.signature = format!("v1a,{sig} v2,{sig} v1,bm9wZQ== {}", h.signature)),
            BODY,
        ),
        case(
            "timestamp-old-edge",
            "received exactly the tolerance (300 s) after the timestamp",
            &s.new,
            T + 300,
            good.clone(),
            BODY,
        ),
        case(
            "timestamp-new-edge",
            "received exactly the tolerance (300 s) before the timestamp",
            &s.new,
            T - 300,
            good.clone(),
            BODY,
        ),
        case(
            "tampered-body",
            "the body changed after signing",
            &s.new,
            T + 10,
            good.clone(),
            &BODY.replace("sig_3", "sig_4"),
        ),
        case(
            "tampered-body-whitespace",
            "the body re-serialized with a trailing newline",
            &s.new,
            T + 10,
            good.clone(),
            &format!("{BODY}\n"),
        ),
        case(
            "tampered-id",
            "the webhook-id changed after signing",
            &s.new,
            T + 10,
            with(&|h| h.id = "msg_2f6c1e0a9b7d4c3f".into()),
            BODY,
        ),
        case(
            "tampered-timestamp",
            "the webhook-timestamp moved by one second (still within the tolerance)",
            &s.new,
            T + 10,
            with(&|h| h.timestamp = (T + 1).to_string()),
            BODY,
        ),
        case(
            "wrong-secret",
            "signed with another endpoint's secret",
            &s.new,
            T + 10,
            signed(&[&s.other], ID, T, BODY),
            BODY,
        ),
        case(
            "flipped-signature",
            "one base64 character of the signature changed",
            &s.new,
            T + 10,
            with(&|h| h.signature = flipped.clone()),
            BODY,
        ),
        case(
            "truncated-signature",
            "the signature cut short",
            &s.new,
            T + 10,
            with(&|h| h.signature = h.signature[..12].to_string()),
            BODY,
        ),
        case(
            "no-v1-signature",
            "the right signature under another version tag only",
            &s.new,
            T + 10,
            with(&|h| h.signature = format!("v1a,{sig}")),
            BODY,
        ),
        case(
            "signature-without-version",
            "the right signature without its `v1,` tag",
            &s.new,
            T + 10,
            with(&|h| h.signature = sig.clone()),
            BODY,
        ),
        case(
            "timestamp-too-old",
            "received one second later than the tolerance allows",
            &s.new,
            T + 301,
            good.clone(),
            BODY,
        ),
        case(
            "timestamp-too-new",
            "received one second earlier than the tolerance allows",
            &s.new,
            T - 301,
            good.clone(),
            BODY,
        ),
        case("replayed-next-day", "a valid message replayed a day later", &s.new, T + 86_400, good.clone(), BODY),
        case("empty-id", "an empty webhook-id (signed as such)", &s.new, T + 10, signed(&[&s.new], "", T, BODY), BODY),
        case(
            "non-numeric-timestamp",
            "a webhook-timestamp that is not a number",
            &s.new,
            T + 10,
            with(&|h| h.timestamp = "hello".into()),
            BODY,
        ),
    ];
    for c in &mut cases {
        c.error = outcome(c, DEFAULT_TOLERANCE.0);
        c.valid = c.error.is_none();
    }
    File {
        description: "Standard Webhooks signatures made by signalgate (ledger::webhook_sign); \
                      see README.md. Regenerate with SG_REGENERATE=1."
            .into(),
        tolerance_seconds: DEFAULT_TOLERANCE.0,
        cases,
    }
}

fn pretty(v: &impl Serialize) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap();
    s.push('\n');
    s
}

#[test]
fn webhook_signature_vectors() {
    let built = build();

    // The intent of each case, fixed here rather than by what the code says.
    let expected_valid = [
        "spec-vector",
        "secret-24-bytes",
        "secret-32-bytes",
        "secret-64-bytes",
        "empty-body",
        "rotation-new-secret",
        "rotation-old-secret",
        "other-versions-skipped",
        "timestamp-old-edge",
        "timestamp-new-edge",
    ];
    for c in &built.cases {
        assert_eq!(c.valid, expected_valid.contains(&c.name.as_str()), "{}: {:?}", c.name, c.error);
    }
    let spec = &built.cases[0];
    assert_eq!(spec.headers.signature, SPEC_SIGNATURE, "the published signature");
    assert_eq!((spec.headers.id.as_str(), spec.headers.timestamp.as_str()), (SPEC_ID, "1614265330"));
    let rotation = built.cases.iter().find(|c| c.name == "rotation-old-secret").unwrap();
    assert_eq!(rotation.headers.signature.split(' ').count(), 2);

    let path = path();
    if std::env::var("SG_REGENERATE").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, pretty(&built)).unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let on_disk: File = serde_json::from_str(&text).unwrap();
    assert!(
        on_disk == built && text == pretty(&built),
        "tests/vectors/webhooks/signatures.json is stale (regenerate with SG_REGENERATE=1)"
    );

    // Every case on disk, through the verifier.
    for c in &on_disk.cases {
        let error = outcome(c, on_disk.tolerance_seconds);
        assert_eq!(error, c.error, "{}", c.name);
        assert_eq!(error.is_none(), c.valid, "{}", c.name);
    }
}
