//! Signing the origin's webhooks the Standard Webhooks way
//! (<https://www.standardwebhooks.com>), so that a consumer can check them
//! with any of that convention's libraries, and the retry schedule of a
//! delivery.
//!
//! - A secret is `whsec_` and 24 to 64 random bytes in standard base64
//!   ([`WebhookSecret`]); one per endpoint.
//! - A signature is `v1,` and the standard base64 of
//!   HMAC-SHA256(secret, `{msg_id}.{timestamp}.{body}`) ([`sign`]).
//! - A request carries `webhook-id`, `webhook-timestamp` (Unix seconds) and
//!   `webhook-signature`, a space-separated list of signatures: while a
//!   secret is rotated, the new and the old one both sign
//!   ([`signature_header`], [`WebhookHeaders`]).
//! - A consumer recomputes the signature, compares in constant time, and
//!   refuses a timestamp too far from its clock ([`verify`]).
//!
//! The message id and the delivery time are the caller's: the id stays the
//! same across the retries of one event (consumers use it to drop
//! duplicates), the timestamp is the time of each attempt. Pure like the
//! rest of the ledger: no clock, and random bytes come from an [`Entropy`].
//!
//! ```
//! use signalgate::ledger::entropy::SeededEntropy;
//! use signalgate::ledger::webhook_sign::{verify, WebhookHeaders, WebhookSecret, DEFAULT_TOLERANCE};
//! use signalgate::UnixTime;
//!
//! let mut entropy = SeededEntropy::new(1); // production: `OsEntropy`
//! let secret = WebhookSecret::generate(&mut entropy).unwrap();
//! assert!(secret.to_string().starts_with("whsec_"));
//!
//! let body = br#"{"type":"signal.revoked"}"#;
//! let headers = WebhookHeaders::new(&[&secret], "msg_1", 1_800_000_000, body);
//! assert!(headers.signature.starts_with("v1,"));
//! assert!(verify(&secret, &headers, body, UnixTime(1_800_000_010), DEFAULT_TOLERANCE).is_ok());
//! assert!(verify(&secret, &headers, b"{}", UnixTime(1_800_000_010), DEFAULT_TOLERANCE).is_err());
//! ```

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};
use zeroize::Zeroizing;

use super::entropy::Entropy;
use super::error::LedgerError;
use crate::time::{Span, UnixTime};

/// The prefix of a serialized secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// The fewest secret bytes accepted (the convention's minimum, 192 bits).
pub const MIN_SECRET_LEN: usize = 24;
/// The most secret bytes accepted (512 bits).
pub const MAX_SECRET_LEN: usize = 64;
/// The bytes of a secret made by [`WebhookSecret::generate`].
pub const GENERATED_SECRET_LEN: usize = 32;
/// The version tag of an HMAC-SHA256 signature.
pub const SIGNATURE_VERSION: &str = "v1";
/// How far a timestamp may be from the verifier's clock, either way: five
/// minutes, the convention's libraries' fixed tolerance.
pub const DEFAULT_TOLERANCE: Span = Span(300);

/// The header with the message id.
pub const HEADER_ID: &str = "webhook-id";
/// The header with the attempt's Unix time in seconds.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// The header with the space-separated signatures.
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// The field named by the errors of [`WebhookSecret::parse`].
const SECRET_FIELD: &str = "secret";

/// An endpoint's signing secret: 24 to 64 bytes, written `whsec_<base64>`
/// (standard alphabet, canonical padding).
///
/// `Debug` shows `WebhookSecret(..)` only; [`Display`](fmt::Display) writes
/// the secret itself (for handing it to the endpoint's owner once, or for
/// storing it sealed). The bytes are zeroed when the value is dropped.
#[derive(Clone)]
pub struct WebhookSecret {
    key: Zeroizing<Vec<u8>>,
}

impl WebhookSecret {
    /// Reads `whsec_<base64>`. Strict: the prefix is required, the rest must
    /// be standard base64 with canonical padding, and decode to 24 to 64
    /// bytes. Errors are [`LedgerError::InvalidField`] for `secret` and never
    /// repeat the text.
    pub fn parse(text: &str) -> Result<WebhookSecret, LedgerError> {
        let Some(encoded) = text.strip_prefix(SECRET_PREFIX) else {
            return Err(invalid_secret("expected `whsec_` followed by the secret in base64"));
        };
        let key =
            Zeroizing::new(STANDARD.decode(encoded).map_err(|_| {
                invalid_secret("the part after `whsec_` is not standard base64 with canonical padding")
            })?);
        if !(MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&key.len()) {
            return Err(LedgerError::InvalidField {
                field: SECRET_FIELD,
                detail: format!(
                    "expected {MIN_SECRET_LEN} to {MAX_SECRET_LEN} bytes after `whsec_`, found {}",
                    key.len()
                ),
            });
        }
        Ok(WebhookSecret { key })
    }

    /// A new secret of 32 bytes from `entropy`.
    pub fn generate(entropy: &mut impl Entropy) -> Result<WebhookSecret, LedgerError> {
        let mut key = Zeroizing::new(vec![0u8; GENERATED_SECRET_LEN]);
        entropy.fill(&mut key)?;
        Ok(WebhookSecret { key })
    }

    /// The HMAC-SHA256 of `{msg_id}.{timestamp}.{body}` under this secret.
    fn mac(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
        // HMAC takes a key of any length (longer than a block it is hashed
        // first), so `new_from_slice` cannot fail; without the `else`
        // branch the compiler could not know it.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            return [0; 32];
        };
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }
}

fn invalid_secret(detail: &str) -> LedgerError {
    LedgerError::InvalidField { field: SECRET_FIELD, detail: detail.to_string() }
}

impl FromStr for WebhookSecret {
    type Err = LedgerError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        WebhookSecret::parse(text)
    }
}

impl fmt::Display for WebhookSecret {
    /// Writes the secret: `whsec_<base64>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let encoded = Zeroizing::new(STANDARD.encode(&*self.key));
        f.write_str(SECRET_PREFIX)?;
        f.write_str(&encoded)
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

/// The signature of one message under one secret:
/// `v1,<base64 of HMAC-SHA256(secret, "{msg_id}.{timestamp}.{body}")>`.
///
/// `msg_id` must not contain `.` (the signed text would be ambiguous, and
/// [`verify`] refuses such ids), and `body` must be the exact bytes sent.
pub fn sign(secret: &WebhookSecret, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    format!("{SIGNATURE_VERSION},{}", STANDARD.encode(secret.mac(msg_id, timestamp, body)))
}

/// The `webhook-signature` value: one signature per secret, in the order
/// given, separated by spaces. During a rotation pass the new and the old
/// secret, so that the consumer accepts the message under either.
pub fn signature_header(secrets: &[&WebhookSecret], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets.iter().map(|secret| sign(secret, msg_id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

/// The webhook headers of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookHeaders {
    /// `webhook-id`: the message id, the same on every attempt.
    pub id: String,
    /// `webhook-timestamp`: the attempt's time, Unix seconds.
    pub timestamp: i64,
    /// `webhook-signature`: space-separated `v1,<base64>` signatures.
    pub signature: String,
}

impl WebhookHeaders {
    /// The headers of a message `id` sent at `timestamp` with `body`, signed
    /// with each of `secrets` ([`signature_header`]).
    pub fn new(secrets: &[&WebhookSecret], id: &str, timestamp: i64, body: &[u8]) -> WebhookHeaders {
        WebhookHeaders { id: id.to_string(), timestamp, signature: signature_header(secrets, id, timestamp, body) }
    }

    /// Reads the three header values as received. The timestamp must be
    /// decimal digits only; an empty or missing value is refused.
    pub fn from_values(id: &str, timestamp: &str, signature: &str) -> Result<WebhookHeaders, WebhookVerifyError> {
        let bad_timestamp =
            || WebhookVerifyError::InvalidHeader { header: HEADER_TIMESTAMP, detail: "expected Unix seconds (digits)" };
        if timestamp.is_empty() || timestamp.len() > 18 || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad_timestamp());
        }
        let timestamp = timestamp.parse().map_err(|_| bad_timestamp())?;
        Ok(WebhookHeaders { id: id.to_string(), timestamp, signature: signature.to_string() })
    }

    /// The request headers, names in lowercase: `webhook-id`,
    /// `webhook-timestamp`, `webhook-signature` and
    /// `content-type: application/json`.
    pub fn pairs(&self) -> [(&'static str, String); 4] {
        [
            (HEADER_ID, self.id.clone()),
            (HEADER_TIMESTAMP, self.timestamp.to_string()),
            (HEADER_SIGNATURE, self.signature.clone()),
            ("content-type", "application/json".to_string()),
        ]
    }
}

/// Why [`verify`] refused a message.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookVerifyError {
    /// A header is missing or malformed.
    InvalidHeader {
        /// The header.
        header: &'static str,
        /// What is wrong.
        detail: &'static str,
    },
    /// `webhook-timestamp` is further in the past than the tolerance.
    TimestampTooOld,
    /// `webhook-timestamp` is further in the future than the tolerance.
    TimestampTooNew,
    /// `webhook-signature` holds no `v1` signature.
    NoSignature,
    /// No `v1` signature matches the body, id and timestamp under the secret.
    SignatureMismatch,
}

impl WebhookVerifyError {
    /// The stable code: `invalid_header`, `timestamp_too_old`,
    /// `timestamp_too_new`, `no_signature` or `signature_mismatch`.
    pub fn code(&self) -> &'static str {
        match self {
            WebhookVerifyError::InvalidHeader { .. } => "invalid_header",
            WebhookVerifyError::TimestampTooOld => "timestamp_too_old",
            WebhookVerifyError::TimestampTooNew => "timestamp_too_new",
            WebhookVerifyError::NoSignature => "no_signature",
            WebhookVerifyError::SignatureMismatch => "signature_mismatch",
        }
    }
}

impl fmt::Display for WebhookVerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebhookVerifyError::InvalidHeader { header, detail } => write!(f, "`{header}`: {detail}"),
            WebhookVerifyError::TimestampTooOld => {
                write!(f, "`{HEADER_TIMESTAMP}` is older than the tolerance allows (a replay, or a clock behind)")
            }
            WebhookVerifyError::TimestampTooNew => {
                write!(f, "`{HEADER_TIMESTAMP}` is further ahead than the tolerance allows (a clock ahead)")
            }
            WebhookVerifyError::NoSignature => write!(f, "`{HEADER_SIGNATURE}` holds no `v1` signature"),
            WebhookVerifyError::SignatureMismatch => {
                write!(f, "no `v1` signature in `{HEADER_SIGNATURE}` matches the body, id and timestamp")
            }
        }
    }
}

impl std::error::Error for WebhookVerifyError {}

/// Checks a received message: `headers.timestamp` within `tolerance` of
/// `now` either way (a negative tolerance counts as zero), then any `v1`
/// signature of `headers.signature` equal, compared in constant time, to the
/// one [`sign`] computes. Entries of other versions (`v1a`, ...) are
/// skipped. An empty id, or one containing `.`, is refused.
pub fn verify(
    secret: &WebhookSecret,
    headers: &WebhookHeaders,
    body: &[u8],
    now: UnixTime,
    tolerance: Span,
) -> Result<(), WebhookVerifyError> {
    if headers.id.is_empty() {
        return Err(WebhookVerifyError::InvalidHeader { header: HEADER_ID, detail: "is empty" });
    }
    if headers.id.contains('.') {
        return Err(WebhookVerifyError::InvalidHeader { header: HEADER_ID, detail: "must not contain `.`" });
    }
    let tolerance = Span(tolerance.0.max(0));
    if headers.timestamp < now.before(tolerance).0 {
        return Err(WebhookVerifyError::TimestampTooOld);
    }
    if headers.timestamp > now.after(tolerance).0 {
        return Err(WebhookVerifyError::TimestampTooNew);
    }
    let expected = sign(secret, &headers.id, headers.timestamp, body);
    let Some((_, expected)) = expected.split_once(',') else {
        return Err(WebhookVerifyError::SignatureMismatch);
    };
    let mut any = false;
    let mut matched = Choice::from(0);
    for entry in headers.signature.split(' ') {
        let Some((version, signature)) = entry.split_once(',') else { continue };
        if version != SIGNATURE_VERSION {
            continue;
        }
        any = true;
        matched |= signature.as_bytes().ct_eq(expected.as_bytes());
    }
    if !any {
        return Err(WebhookVerifyError::NoSignature);
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(WebhookVerifyError::SignatureMismatch)
    }
}

/// How many deliveries of a message are tried before it is given up
/// ([`is_dead`]).
pub const MAX_ATTEMPTS: u32 = 18;
/// The wait after the first failed delivery, before jitter.
pub const RETRY_BASE: Span = Span(5);
/// The longest wait between two deliveries, before jitter.
pub const RETRY_CAP: Span = Span(6 * 3_600);

/// How long to wait after the `attempt`-th failed delivery (counting from
/// 1; 0 counts as 1) before the next: 5 s doubling per attempt, at most 6 h,
/// times a jitter factor in [0.8, 1.2) read from `jitter` (four random
/// bytes, a little-endian `u32` spread evenly over the range), rounded down
/// to whole seconds. For a fixed `jitter` the delay never decreases as
/// `attempt` grows.
///
/// The schedule, with [`MAX_ATTEMPTS`] = 18 (times since the first delivery
/// are nominal, without jitter):
///
/// | failed attempts | wait (nominal) | next delivery at |
/// |-----------------|----------------|------------------|
/// | 1               | 5 s            | 5 s              |
/// | 2               | 10 s           | 15 s             |
/// | 3               | 20 s           | 35 s             |
/// | 4               | 40 s           | 1 min 15 s       |
/// | 5               | 80 s           | 2 min 35 s       |
/// | 6               | 160 s          | 5 min 15 s       |
/// | 7               | 320 s          | 10 min 35 s      |
/// | 8               | 640 s          | 21 min 15 s      |
/// | 9               | 21 min 20 s    | 42 min 35 s      |
/// | 10              | 42 min 40 s    | 1 h 25 min 15 s  |
/// | 11              | 1 h 25 min 20 s | 2 h 50 min 35 s |
/// | 12              | 2 h 50 min 40 s | 5 h 41 min 15 s |
/// | 13              | 5 h 41 min 20 s | 11 h 22 min 35 s |
/// | 14 to 17        | 6 h (the cap)  | 17 h 22 min 35 s to 35 h 22 min 35 s |
/// | 18              | none: the message is dead ([`is_dead`]) | |
///
/// So a consumer that is down for up to about a day and a half still gets
/// every message; the jitter (x0.8 to x1.2 per wait) spreads the retries of
/// many messages out.
pub fn retry_delay(attempt: u32, jitter: [u8; 4]) -> Span {
    // 5 s << 12 is below the cap and 5 s << 13 above it, so the shift is
    // bounded well before it could overflow.
    let doublings = attempt.max(1).saturating_sub(1).min(13);
    let nominal = (RETRY_BASE.0 << doublings).min(RETRY_CAP.0);
    // factor = 0.8 + 0.4 * u / 2^32 = (8 * 2^32 + 4 * u) / (10 * 2^32).
    let u = i128::from(u32::from_le_bytes(jitter));
    let delay = i128::from(nominal) * ((8_i128 << 32) + 4 * u) / (10_i128 << 32);
    Span(i64::try_from(delay).unwrap_or(RETRY_CAP.0))
}

/// Whether a message delivered `attempts` times without success is given
/// up: `attempts >= MAX_ATTEMPTS`.
pub fn is_dead(attempts: u32) -> bool {
    attempts >= MAX_ATTEMPTS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::entropy::SeededEntropy;

    // The Standard Webhooks test vector: the "sign function works" test of
    // the reference JavaScript library
    // (standard-webhooks/standard-webhooks, libraries/javascript/src/webhook.test.ts).
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TS: i64 = 1_614_265_330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn spec_secret() -> WebhookSecret {
        WebhookSecret::parse(SPEC_SECRET).unwrap()
    }

    fn at(ts: i64) -> UnixTime {
        UnixTime(ts)
    }

    #[test]
    fn the_published_vector_signs_and_verifies() {
        let secret = spec_secret();
        assert_eq!(sign(&secret, SPEC_ID, SPEC_TS, SPEC_BODY), SPEC_SIGNATURE);
        let headers = WebhookHeaders { id: SPEC_ID.into(), timestamp: SPEC_TS, signature: SPEC_SIGNATURE.into() };
        assert_eq!(verify(&secret, &headers, SPEC_BODY, at(SPEC_TS), DEFAULT_TOLERANCE), Ok(()));
        assert_eq!(WebhookHeaders::new(&[&secret], SPEC_ID, SPEC_TS, SPEC_BODY), headers);
    }

    #[test]
    fn secrets_round_trip_and_generate() {
        assert_eq!(spec_secret().to_string(), SPEC_SECRET);
        let mut entropy = SeededEntropy::new(7);
        let a = WebhookSecret::generate(&mut entropy).unwrap();
        let b = WebhookSecret::generate(&mut entropy).unwrap();
        assert_ne!(a.to_string(), b.to_string());
        let text = a.to_string();
        assert_eq!(text.len(), SECRET_PREFIX.len() + 44, "32 bytes in padded base64");
        assert_eq!(text.parse::<WebhookSecret>().unwrap().to_string(), text);
        let again = WebhookSecret::generate(&mut SeededEntropy::new(7)).unwrap();
        assert_eq!(again.to_string(), text, "deterministic under a seeded stream");
    }

    #[test]
    fn debug_hides_the_secret() {
        let secret = spec_secret();
        assert_eq!(format!("{secret:?}"), "WebhookSecret(..)");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(WebhookSecret(..))");
        assert!(!format!("{secret:#?}").contains("MfKQ"));
    }

    #[test]
    fn bad_secrets_are_refused_without_echo() {
        let b64 = |n: usize| STANDARD.encode(vec![7u8; n]);
        let cases = [
            ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string(), "expected `whsec_`"),
            ("WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string(), "expected `whsec_`"),
            (String::new(), "expected `whsec_`"),
            ("whsec_".to_string(), "found 0"),
            ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!".to_string(), "not standard base64"),
            ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw ".to_string(), "not standard base64"),
            (format!("whsec_{}", b64(32).trim_end_matches('=')), "not standard base64"), // padding required
            (format!("whsec_{}", crate::codec::b64::encode(&[0xfb; 30])), "not standard base64"), // url alphabet
            (format!("whsec_{}", b64(23)), "expected 24 to 64 bytes after `whsec_`, found 23"),
            (format!("whsec_{}", b64(65)), "expected 24 to 64 bytes after `whsec_`, found 65"),
        ];
        for (text, expect) in &cases {
            let err = WebhookSecret::parse(text).unwrap_err();
            assert_eq!(err.code(), "invalid_field", "{text}");
            assert_eq!(err.field(), Some("secret"));
            let message = err.to_string();
            assert!(message.contains(expect), "{text}: {message}");
            if text.len() > 8 {
                assert!(!message.contains(&text[6..]), "{text}: {message} repeats the secret");
            }
        }
        for n in [24, 32, 64] {
            let text = format!("whsec_{}", b64(n));
            assert_eq!(WebhookSecret::parse(&text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn a_rotation_header_verifies_under_either_secret() {
        let mut entropy = SeededEntropy::new(1);
        let new = WebhookSecret::generate(&mut entropy).unwrap();
        let old = spec_secret();
        let other = WebhookSecret::generate(&mut entropy).unwrap();
        let headers = WebhookHeaders::new(&[&new, &old], SPEC_ID, SPEC_TS, SPEC_BODY);
        assert_eq!(headers.signature, format!("{} {SPEC_SIGNATURE}", sign(&new, SPEC_ID, SPEC_TS, SPEC_BODY)));
        for secret in [&new, &old] {
            assert_eq!(verify(secret, &headers, SPEC_BODY, at(SPEC_TS), DEFAULT_TOLERANCE), Ok(()));
        }
        assert_eq!(
            verify(&other, &headers, SPEC_BODY, at(SPEC_TS), DEFAULT_TOLERANCE),
            Err(WebhookVerifyError::SignatureMismatch)
        );
        assert_eq!(signature_header(&[], SPEC_ID, SPEC_TS, SPEC_BODY), "");
    }

    #[test]
    fn tampering_fails() {
        let secret = spec_secret();
        let good = WebhookHeaders::new(&[&secret], SPEC_ID, SPEC_TS, SPEC_BODY);
        let check = |h: &WebhookHeaders, body: &[u8]| verify(&secret, h, body, at(SPEC_TS), DEFAULT_TOLERANCE);
        assert_eq!(check(&good, SPEC_BODY), Ok(()));
        let mismatch = Err(WebhookVerifyError::SignatureMismatch);
        assert_eq!(check(&good, br#"{"test": 2432232315}"#), mismatch, "body");
        assert_eq!(check(&good, br#"{"test":2432232314}"#), mismatch, "whitespace of the body");
        assert_eq!(check(&WebhookHeaders { id: "msg_other".into(), ..good.clone() }, SPEC_BODY), mismatch, "id");
        assert_eq!(check(&WebhookHeaders { timestamp: SPEC_TS + 1, ..good.clone() }, SPEC_BODY), mismatch, "ts");
        let flipped = good.signature.replacen("g0hM", "g0hN", 1);
        assert_eq!(check(&WebhookHeaders { signature: flipped, ..good.clone() }, SPEC_BODY), mismatch, "bit");
        let truncated = good.signature[..good.signature.len() - 1].to_string();
        assert_eq!(check(&WebhookHeaders { signature: truncated, ..good.clone() }, SPEC_BODY), mismatch, "cut");
        let other_version = good.signature.replacen("v1,", "v1a,", 1);
        assert_eq!(
            check(&WebhookHeaders { signature: other_version, ..good.clone() }, SPEC_BODY),
            Err(WebhookVerifyError::NoSignature)
        );
        for signature in ["", " ", "v1", "garbage"] {
            let h = WebhookHeaders { signature: signature.into(), ..good.clone() };
            assert_eq!(check(&h, SPEC_BODY), Err(WebhookVerifyError::NoSignature), "{signature:?}");
        }
        let mixed = format!("v1a,AAAA v2,{0}  v1,bm9wZQ== {SPEC_SIGNATURE}", &SPEC_SIGNATURE[3..]);
        assert_eq!(check(&WebhookHeaders { signature: mixed, ..good.clone() }, SPEC_BODY), Ok(()));
    }

    #[test]
    fn ids_must_be_present_and_free_of_dots() {
        let secret = spec_secret();
        for id in ["", "msg.1"] {
            let headers = WebhookHeaders::new(&[&secret], id, SPEC_TS, SPEC_BODY);
            let err = verify(&secret, &headers, SPEC_BODY, at(SPEC_TS), DEFAULT_TOLERANCE).unwrap_err();
            assert_eq!(err.code(), "invalid_header", "{id:?}");
            assert!(err.to_string().starts_with("`webhook-id`"), "{err}");
        }
    }

    #[test]
    fn timestamps_outside_the_tolerance_are_refused() {
        let secret = spec_secret();
        let headers = WebhookHeaders::new(&[&secret], SPEC_ID, SPEC_TS, SPEC_BODY);
        let check = |now: i64, tolerance: Span| verify(&secret, &headers, SPEC_BODY, at(now), tolerance);
        assert_eq!(check(SPEC_TS + 300, DEFAULT_TOLERANCE), Ok(()));
        assert_eq!(check(SPEC_TS - 300, DEFAULT_TOLERANCE), Ok(()));
        assert_eq!(check(SPEC_TS + 301, DEFAULT_TOLERANCE), Err(WebhookVerifyError::TimestampTooOld));
        assert_eq!(check(SPEC_TS - 301, DEFAULT_TOLERANCE), Err(WebhookVerifyError::TimestampTooNew));
        assert_eq!(check(1_800_000_000, Span::days(1)), Err(WebhookVerifyError::TimestampTooOld));
        assert_eq!(check(SPEC_TS, Span(-5)), Ok(()), "a negative tolerance counts as zero");
        assert_eq!(check(SPEC_TS + 1, Span(-5)), Err(WebhookVerifyError::TimestampTooOld));
        // No overflow at the ends.
        assert_eq!(check(0, Span(i64::MAX)), Ok(()));
        assert_eq!(check(i64::MIN, Span(i64::MAX)), Err(WebhookVerifyError::TimestampTooNew));
        let far = WebhookHeaders { timestamp: i64::MIN, ..headers.clone() };
        assert_eq!(
            verify(&secret, &far, SPEC_BODY, at(i64::MAX), DEFAULT_TOLERANCE),
            Err(WebhookVerifyError::TimestampTooOld)
        );
    }

    #[test]
    fn header_values_parse_strictly() {
        let h = WebhookHeaders::from_values(SPEC_ID, "1614265330", SPEC_SIGNATURE).unwrap();
        assert_eq!(h, WebhookHeaders { id: SPEC_ID.into(), timestamp: SPEC_TS, signature: SPEC_SIGNATURE.into() });
        for ts in ["", "-1", "+1", " 1", "1 ", "1.5", "1e9", "hello", "9999999999999999999"] {
            let err = WebhookHeaders::from_values(SPEC_ID, ts, SPEC_SIGNATURE).unwrap_err();
            assert_eq!(err.code(), "invalid_header", "{ts:?}");
            assert!(err.to_string().starts_with("`webhook-timestamp`"), "{err}");
        }
        let names: Vec<&str> = h.pairs().iter().map(|(name, _)| *name).collect();
        assert_eq!(names, ["webhook-id", "webhook-timestamp", "webhook-signature", "content-type"]);
        assert_eq!(h.pairs()[1].1, "1614265330");
        assert_eq!(h.pairs()[3].1, "application/json");
    }

    #[test]
    fn error_codes_are_stable() {
        let codes: Vec<&str> = [
            WebhookVerifyError::InvalidHeader { header: HEADER_ID, detail: "is empty" },
            WebhookVerifyError::TimestampTooOld,
            WebhookVerifyError::TimestampTooNew,
            WebhookVerifyError::NoSignature,
            WebhookVerifyError::SignatureMismatch,
        ]
        .iter()
        .map(WebhookVerifyError::code)
        .collect();
        assert_eq!(
            codes,
            ["invalid_header", "timestamp_too_old", "timestamp_too_new", "no_signature", "signature_mismatch"]
        );
    }

    #[test]
    fn the_retry_schedule() {
        // Jitter bytes giving the factor's lowest value, 1.0, and the highest.
        let low = [0; 4];
        let middle = 0x8000_0000u32.to_le_bytes();
        let high = [0xff; 4];
        let nominal: Vec<i64> = (1..=8).map(|a| retry_delay(a, middle).0).collect();
        assert_eq!(nominal, [5, 10, 20, 40, 80, 160, 320, 640]);
        let lows: Vec<i64> = (1..=8).map(|a| retry_delay(a, low).0).collect();
        assert_eq!(lows, [4, 8, 16, 32, 64, 128, 256, 512]);
        let highs: Vec<i64> = (1..=8).map(|a| retry_delay(a, high).0).collect();
        assert_eq!(highs, [5, 11, 23, 47, 95, 191, 383, 767]);
        assert_eq!(retry_delay(0, middle), retry_delay(1, middle), "attempt 0 counts as 1");
        assert_eq!(retry_delay(13, middle), Span(20_480));
        assert_eq!(retry_delay(14, middle), RETRY_CAP);
        assert_eq!(retry_delay(u32::MAX, middle), RETRY_CAP);
        assert_eq!(retry_delay(u32::MAX, high), Span(25_919));
    }

    #[test]
    fn retry_delays_grow_and_stay_in_the_jitter_band() {
        let mut entropy = SeededEntropy::new(3);
        let mut jitters: Vec<[u8; 4]> = vec![[0; 4], [0xff; 4], 0x8000_0000u32.to_le_bytes()];
        for _ in 0..200 {
            jitters.push(entropy.bytes().unwrap());
        }
        for jitter in jitters {
            let mut previous = Span(0);
            for attempt in 0..=40 {
                let delay = retry_delay(attempt, jitter);
                assert!(delay >= previous, "{jitter:?}: attempt {attempt} waits less than the one before");
                previous = delay;
                let nominal = (5i64 << attempt.max(1).saturating_sub(1).min(20)).min(21_600);
                // 0.8 * nominal <= delay < 1.2 * nominal, in tenths.
                assert!(8 * nominal <= 10 * delay.0 && 10 * delay.0 < 12 * nominal, "{jitter:?} {attempt}: {delay:?}");
            }
        }
    }

    #[test]
    fn messages_die_after_max_attempts() {
        assert_eq!(MAX_ATTEMPTS, 18);
        assert!((0..MAX_ATTEMPTS).all(|a| !is_dead(a)));
        assert!(is_dead(MAX_ATTEMPTS));
        assert!(is_dead(MAX_ATTEMPTS + 1));
        assert!(is_dead(u32::MAX));
    }
}
