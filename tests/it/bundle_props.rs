//! Property tests for signed bundles: no single-byte change and no
//! truncation of a valid bundle verifies, arbitrary input never panics the
//! parser, and signing then verifying returns the claims that were signed.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::Index;
use signalgate::bundle::{BundleError, Expectations, KeySet, Signer, SigningKey, UnverifiedBundle, VerifiedBundle};
use signalgate::codec::b64;
use signalgate::model::{Claims, ConsentRecord, ConsentStatus, LegalBasis, Signal};
use signalgate::UnixTime;

const T0: i64 = 1_767_225_600;
const SEED: [u8; 32] = [0x3c; 32];
const KID: &str = "k-props";
const AUD: &str = "https://gate.shop.example";
const TEN: &str = "demo-shop";

fn key() -> SigningKey {
    SigningKey::from_seed(&SEED, Some(KID))
}

fn keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| KeySet::new(vec![key().public_key()]).unwrap())
}

fn expect() -> Expectations {
    Expectations::new(AUD, Some(TEN))
}

fn fixture_claims() -> Claims {
    serde_json::from_value(serde_json::json!({
        "v": 1, "iss": "https://shop.example", "sub": "u-7f3a9c", "ten": TEN, "aud": AUD,
        "iat": T0, "nbf": T0, "exp": T0 + 3600, "jti": "b-0001", "pv": "p-2026.01", "idc": 0.75,
        "cons": {"c1": {"st": "granted", "pur": ["personalization"], "scp": ["web"], "lb": "consent"}},
        "sig": [
            {"id": "s01", "cls": "interest", "val": "running", "src": "quiz",
             "cap": T0 - 86_400, "exp": T0 + 86_400, "ver": 1, "con": "c1", "prv": "AAECAwQFBgcICQoLDA0ODw"},
            {"id": "s02", "cls": "size", "val": "eu-42", "src": "profile",
             "cap": T0 - 86_400, "exp": T0 + 86_400, "rcf": T0, "ver": 3, "con": "c1", "prv": "AAECAwQFBgcICQoLDA0ODw"}
        ]
    }))
    .unwrap()
}

fn fixture_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| Signer::new(key()).sign(&fixture_claims()).unwrap())
}

fn check(token: &str) -> Result<VerifiedBundle, BundleError> {
    UnverifiedBundle::parse(token)?.verify(keys(), &expect(), UnixTime(T0 + 60))
}

/// Checks bytes that may not be UTF-8: a bundle arrives as text, so bytes
/// that are not UTF-8 never reach the parser; their lossy decoding (with
/// U+FFFD) must not verify either.
fn check_bytes(bytes: &[u8]) -> Result<VerifiedBundle, BundleError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => check(text),
        Err(_) => {
            let lossy = String::from_utf8_lossy(bytes);
            assert!(check(&lossy).is_err(), "lossy decoding of altered bundle verified: {lossy}");
            Err(BundleError::NotCompactJws)
        }
    }
}

#[test]
fn the_fixture_verifies() {
    let verified = check(fixture_token()).unwrap();
    assert_eq!(verified.claims(), &fixture_claims());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn flipping_any_byte_never_verifies(at in any::<Index>(), xor in 1u8..=255) {
        let token = fixture_token();
        let mut bytes = token.as_bytes().to_vec();
        let i = at.index(bytes.len());
        bytes[i] ^= xor;
        let result = check_bytes(&bytes);
        prop_assert!(result.is_err(), "byte {} ^ {:#04x} still verifies", i, xor);
    }

    #[test]
    fn truncating_anywhere_never_verifies(at in any::<Index>()) {
        let token = fixture_token();
        let cut = at.index(token.len());
        prop_assert!(check(&token[..cut]).is_err(), "prefix of {} bytes verifies", cut);
        // A suffix is not a bundle either.
        prop_assert!(check(&token[cut + 1..]).is_err(), "suffix from {} verifies", cut + 1);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let text = String::from_utf8_lossy(&bytes);
        prop_assert!(UnverifiedBundle::parse(&text).is_err());
        let _ = KeySet::from_json(&text);
    }

    #[test]
    fn random_compact_shapes_never_panic(text in "[A-Za-z0-9_=+/.-]{0,600}") {
        // Mostly the base64url alphabet and dots: gets past the splitting
        // and into base64 and JSON decoding.
        prop_assert!(UnverifiedBundle::parse(&text).is_err());
    }

    #[test]
    fn random_parts_under_a_valid_header_never_panic(
        payload in prop::collection::vec(any::<u8>(), 0..512),
        sig in prop::collection::vec(any::<u8>(), 0..80),
    ) {
        let header = fixture_token().split('.').next().unwrap().to_string();
        let text = format!("{header}.{}.{}", b64::encode(&payload), b64::encode(&sig));
        prop_assert!(check(&text).is_err());
    }

    #[test]
    fn random_json_payloads_under_a_valid_signature_never_panic(json in "[{}\\[\\]\":,a-z0-9 .-]{0,300}") {
        // Correctly signed, so parsing goes all the way into the claims.
        let header = serde_json::json!({"alg": "EdDSA", "kid": KID, "typ": "signalgate-bundle+jwt"});
        let token = signalgate::bundle::jws::sign_compact(&header, json.as_bytes(), &key());
        prop_assert!(check(&token).is_err());
    }


    #[test]
    fn sign_then_verify_round_trips(claims in claims_strategy(), seed in any::<[u8; 32]>(), into in 0.0f64..1.0) {
        let key = SigningKey::from_seed(&seed, None);
        let kid = key.kid().to_string();
        let keys = KeySet::new(vec![key.public_key()]).unwrap();
        let token = Signer::new(key).sign(&claims).unwrap();
        let start = claims.issued_at.0.max(claims.not_before.0);
        let life = claims.expires_at.0 - start;
        prop_assert!(life > 0);
        let now = UnixTime(start + (life as f64 * into) as i64);
        let expect = Expectations::new(&claims.audience, Some(&claims.tenant));
        let verified = UnverifiedBundle::parse(&token).unwrap().verify(&keys, &expect, now).unwrap();
        prop_assert_eq!(verified.kid(), kid.as_str());
        prop_assert_eq!(verified.claims(), &claims);
        // And the same bundle expires: one skew past `exp` it is refused.
        let late = UnixTime(claims.expires_at.0 + 60);
        let refused = UnverifiedBundle::parse(&token).unwrap().verify(&keys, &expect, late);
        prop_assert_eq!(refused.map(|_| ()), Err(BundleError::Expired { expired_at: claims.expires_at, now: late }));
    }

    #[test]
    fn arbitrary_confidence_survives_within_one_ulp(idc in 0.0f64..=1.0) {
        // serde_json parses floats "best effort" unless its `float_roundtrip`
        // feature is on: about one random f64 in ten comes back one unit in
        // the last place away. Everything else about the claims is exact.
        let claims = Claims { identity_confidence: idc, ..fixture_claims() };
        let token = Signer::new(key()).sign(&claims).unwrap();
        let verified = check(&token).unwrap();
        let got = verified.claims().identity_confidence;
        prop_assert!(got.to_bits().abs_diff(idc.to_bits()) <= 1, "{} came back as {}", idc, got);
        let exact = Claims { identity_confidence: idc, ..verified.claims().clone() };
        prop_assert_eq!(&exact, &claims);
    }
}

// ------------------------------------------------------------ strategies

const IDENT: &str = "[A-Za-z0-9._:-]{1,64}";
const URIISH: &str = "[A-Za-z0-9:/?#@!$&'()*+,;=._~%-]{1,120}";
const VALUE: &str = "[a-z0-9][a-z0-9_-]{0,63}";

fn consent_strategy() -> impl Strategy<Value = ConsentRecord> {
    (
        prop::sample::select(vec![ConsentStatus::Granted, ConsentStatus::Denied, ConsentStatus::Revoked]),
        prop::collection::vec(IDENT, 0..4),
        prop::collection::vec(IDENT, 0..4),
        prop::sample::select(vec![
            LegalBasis::Consent,
            LegalBasis::Contract,
            LegalBasis::LegalObligation,
            LegalBasis::VitalInterest,
            LegalBasis::PublicTask,
            LegalBasis::LegitimateInterest,
        ]),
    )
        .prop_map(|(status, purposes, scopes, legal_basis)| ConsentRecord {
            status,
            purposes,
            scopes,
            legal_basis,
        })
}

/// A signal, given the consent ids it may refer to.
fn signal_strategy(consents: Vec<String>) -> impl Strategy<Value = Signal> {
    (
        IDENT,
        IDENT,
        VALUE,
        IDENT,
        0i64..(1 << 40),
        1i64..100_000_000,
        prop::option::of(0i64..100_000_000),
        1u32..10,
        prop::sample::select(consents),
        any::<[u8; 16]>(),
    )
        .prop_map(|(id, class, value, source, cap, life, rcf, version, consent, prv)| Signal {
            id,
            class,
            value,
            source,
            captured_at: UnixTime(cap),
            expires_at: UnixTime(cap + life),
            reconfirmed_at: rcf.map(|r| UnixTime(cap + r)),
            version,
            consent,
            provenance: b64::encode(&prv),
        })
}

fn claims_strategy() -> impl Strategy<Value = Claims> {
    let head = (URIISH, IDENT, IDENT, URIISH, IDENT, IDENT, (0u32..=1000).prop_map(|k| f64::from(k) / 1000.0));
    let times = (0i64..(1 << 40), 0i64..10_000, 0i64..10_000, 1i64..10_000_000);
    let consents = prop::collection::btree_map(IDENT, consent_strategy(), 1..4);
    (head, times, consents)
        .prop_flat_map(|(head, times, consents)| {
            let ids: Vec<String> = consents.keys().cloned().collect();
            let signals = prop::collection::vec(signal_strategy(ids), 0..12);
            (Just(head), Just(times), Just(consents), signals)
        })
        .prop_map(|((iss, sub, ten, aud, jti, pv, idc), (iat, nbf_delta, iat_delta, life), consents, signals)| {
            // nbf and iat in either order; exp after both.
            let (iat, nbf) = (iat + iat_delta, iat + nbf_delta);
            Claims {
                version: 1,
                issuer: iss,
                subject: sub,
                tenant: ten,
                audience: aud,
                issued_at: UnixTime(iat),
                not_before: UnixTime(nbf),
                expires_at: UnixTime(iat.max(nbf) + life),
                bundle_id: jti,
                policy_version: pv,
                identity_confidence: idc,
                consents: consents.into_iter().collect::<BTreeMap<_, _>>(),
                signals: dedup_ids(signals).into_iter().map(|s| before_issue(s, UnixTime(iat))).collect(),
            }
        })
}

/// The signal moved back so that it was captured (and reconfirmed) no later
/// than `iat`, keeping its lifetime: a signal from the future is refused.
fn before_issue(mut s: Signal, iat: UnixTime) -> Signal {
    let shift = (s.captured_at.0 - iat.0).max(0);
    s.captured_at = UnixTime(s.captured_at.0 - shift);
    s.expires_at = UnixTime(s.expires_at.0 - shift);
    s.reconfirmed_at = s.reconfirmed_at.map(|r| UnixTime((r.0 - shift).min(iat.0)));
    s
}

fn dedup_ids(signals: Vec<Signal>) -> Vec<Signal> {
    let mut seen = std::collections::BTreeSet::new();
    signals.into_iter().filter(|s| seen.insert(s.id.clone())).collect()
}

#[test]
fn the_strategy_makes_valid_claims() {
    // The round-trip property is only meaningful if the generated claims are
    // valid: sample some and check them directly.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut with_signals = 0;
    for _ in 0..64 {
        let claims = claims_strategy().new_tree(&mut runner).unwrap().current();
        claims.validate().unwrap();
        with_signals += usize::from(!claims.signals.is_empty());
    }
    assert!(with_signals > 32, "only {with_signals} of 64 samples carry signals");
}
