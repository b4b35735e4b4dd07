//! Negative security suite for signed signal bundles.
//!
//! Every row of the tables builds one bad (or boundary) token from a valid
//! bundle signed by a fixed-seed key and states the exact [`BundleError`]
//! that `UnverifiedBundle::parse` + `verify` must give. Key and key-set
//! problems have their own table with exact [`KeyError`]s. Then: key
//! rotation, secrets never shown by `Debug`, and the compact size of
//! realistic bundles.

use ed25519_dalek::Signer as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use signalgate::bundle::{
    jws, BundleError, Expectations, KeyError, KeySet, Part, PublicKey, Revocations, Signer, SigningKey,
    UnverifiedBundle, VerifiedBundle, DEFAULT_SKEW, MAX_BUNDLE_BYTES,
};
use signalgate::codec::b64;
use signalgate::model::Claims;
use signalgate::{Span, UnixTime};

/// 2026-01-01T00:00:00Z: `iat` and `nbf` of the base bundle.
const T0: i64 = 1_767_225_600;
/// `exp` of the base bundle: one hour after `T0`.
const EXP: i64 = T0 + 3600;
/// The default "now": ten minutes into the bundle's life.
const NOW: i64 = T0 + 600;
/// The default skew (`DEFAULT_SKEW`) in seconds.
const SKEW: i64 = 60;

const SEED_A: [u8; 32] = [0xa1; 32];
const KID_A: &str = "k-2026-01";
const SEED_B: [u8; 32] = [0xb2; 32];
const KID_B: &str = "k-2026-07";

const AUD: &str = "https://gate.shop.example";
const TEN: &str = "demo-shop";
const TYP: &str = "signalgate-bundle+jwt";

/// The group order L of edwards25519, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

// ------------------------------------------------------------------ helpers

fn key_a() -> SigningKey {
    SigningKey::from_seed(&SEED_A, Some(KID_A))
}

fn key_b() -> SigningKey {
    SigningKey::from_seed(&SEED_B, Some(KID_B))
}

fn set(keys: &[&SigningKey]) -> KeySet {
    KeySet::new(keys.iter().map(|k| k.public_key()).collect()).unwrap()
}

fn expect() -> Expectations {
    Expectations::new(AUD, Some(TEN))
}

fn header() -> Value {
    json!({"alg": "EdDSA", "kid": KID_A, "typ": TYP})
}

/// 16 bytes 0..16 in base64url: a well-formed provenance hash.
const PRV: &str = "AAECAwQFBgcICQoLDA0ODw";

fn claims() -> Value {
    json!({
        "v": 1, "iss": "https://shop.example", "sub": "u-7f3a9c", "ten": TEN, "aud": AUD,
        "iat": T0, "nbf": T0, "exp": EXP, "jti": "b-0001", "pv": "p-2026.01", "idc": 0.9,
        "cons": {"c1": {"st": "granted", "pur": ["personalization"], "scp": ["web"], "lb": "consent"}},
        "sig": [
            {"id": "s01", "cls": "interest", "val": "running", "src": "quiz",
             "cap": T0 - 86_400, "exp": T0 + 180 * 86_400, "ver": 1, "con": "c1", "prv": PRV},
            {"id": "s02", "cls": "size", "val": "eu-42", "src": "profile",
             "cap": T0 - 2 * 86_400, "exp": T0 + 90 * 86_400, "rcf": T0 - 3600, "ver": 2, "con": "c1", "prv": PRV}
        ]
    })
}

fn claims_with(f: impl FnOnce(&mut Value)) -> Value {
    let mut c = claims();
    f(&mut c);
    c
}

/// A compact JWS over raw header and payload bytes, signed with `seed`
/// (directly with dalek, so that headers and payloads serde cannot produce,
/// such as duplicate members, can be signed too).
fn sign_raw_with(seed: &[u8; 32], header: &str, payload: &[u8]) -> String {
    let input = format!("{}.{}", b64::encode(header.as_bytes()), b64::encode(payload));
    let sig = ed25519_dalek::SigningKey::from_bytes(seed).sign(input.as_bytes()).to_bytes();
    format!("{input}.{}", b64::encode(&sig))
}

fn sign_raw(header: &str, payload: &str) -> String {
    sign_raw_with(&SEED_A, header, payload.as_bytes())
}

/// Key A's signature over `header` and `claims`.
fn token(header: &Value, claims: &Value) -> String {
    sign_raw(&header.to_string(), &claims.to_string())
}

fn valid_token() -> String {
    token(&header(), &claims())
}

fn parts(token: &str) -> [String; 3] {
    let v: Vec<String> = token.split('.').map(str::to_string).collect();
    <[String; 3]>::try_from(v).unwrap()
}

fn join(p: &[String; 3]) -> String {
    p.join(".")
}

fn with_part(token: &str, i: usize, f: impl FnOnce(&str) -> String) -> String {
    let mut p = parts(token);
    p[i] = f(&p[i]);
    join(&p)
}

fn with_sig_bytes(token: &str, f: impl FnOnce(&mut Vec<u8>)) -> String {
    with_part(token, 2, |s| {
        let mut bytes = b64::decode(s).unwrap();
        f(&mut bytes);
        b64::encode(&bytes)
    })
}

/// The same text with `=` padding added (there must be some to add).
fn padded(part: &str) -> String {
    let pad = (4 - part.len() % 4) % 4;
    assert!(pad > 0, "part of length {} takes no padding", part.len());
    format!("{part}{}", "=".repeat(pad))
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The same bytes with non-zero unused bits in the last character.
fn noncanonical_tail(part: &str) -> String {
    assert!(part.len() % 4 != 0, "part of length {} has no unused bits", part.len());
    let (head, last) = part.split_at(part.len() - 1);
    let v = ALPHABET.iter().position(|&c| c == last.as_bytes()[0]).unwrap();
    let tweaked = ALPHABET[v | 1] as char;
    assert_ne!(tweaked.to_string(), last);
    let out = format!("{head}{tweaked}");
    assert_eq!(b64::decode(&out), None);
    out
}

/// S + L: the same scalar modulo L, but not its canonical encoding.
fn s_plus_l(sig: &mut [u8]) {
    let mut carry = 0u16;
    for (s, l) in sig[32..].iter_mut().zip(L) {
        let sum = u16::from(*s) + u16::from(l) + carry;
        *s = (sum & 0xff) as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0, "S + L overflows 256 bits");
}

fn parse_and_verify(
    token: &str,
    keys: &KeySet,
    expect: &Expectations,
    now: UnixTime,
) -> Result<VerifiedBundle, BundleError> {
    UnverifiedBundle::parse(token)?.verify(keys, expect, now)
}

fn invalid_claim(field: &str, problem: &str) -> BundleError {
    BundleError::InvalidClaim { field: field.to_string(), problem: problem.to_string() }
}

fn not_ident(field: &str, found: &str) -> BundleError {
    invalid_claim(field, &format!("expected an identifier (1-64 of A-Z a-z 0-9 . _ : -), found {found:?}"))
}

fn not_value(field: &str, found: &str) -> BundleError {
    invalid_claim(field, &format!("expected a vocabulary value (1-64 of a-z 0-9 _ -), found {found:?}"))
}

fn json_err(part: Part, detail: &str) -> BundleError {
    BundleError::Json { part, detail: detail.to_string() }
}

fn dup(part: Part, name: &str) -> BundleError {
    BundleError::DuplicateMember { part, name: name.to_string() }
}

fn unsupported_alg(alg: &str) -> BundleError {
    BundleError::UnsupportedAlgorithm { alg: alg.to_string() }
}

fn too_large(size: usize) -> BundleError {
    BundleError::TooLarge { size, max: MAX_BUNDLE_BYTES }
}

// ------------------------------------------------------------- the table

struct Case {
    name: &'static str,
    token: String,
    keys: KeySet,
    expect: Expectations,
    now: i64,
    want: Result<(), BundleError>,
}

fn case(name: &'static str, token: String, want: BundleError) -> Case {
    Case { name, token, keys: set(&[&key_a()]), expect: expect(), now: NOW, want: Err(want) }
}

/// A row that must verify (the other side of a boundary).
fn accepted(name: &'static str, token: String) -> Case {
    Case { name, token, keys: set(&[&key_a()]), expect: expect(), now: NOW, want: Ok(()) }
}

impl Case {
    fn at(mut self, now: i64) -> Self {
        self.now = now;
        self
    }
    fn keys(mut self, keys: KeySet) -> Self {
        self.keys = keys;
        self
    }
    fn expecting(mut self, expect: Expectations) -> Self {
        self.expect = expect;
        self
    }
}

fn structure_cases() -> Vec<Case> {
    let valid = valid_token();
    let odd = odd_header_token();
    let [h, p, s] = parts(&valid);
    let big_bundle = {
        // A correctly signed bundle with 257 signals (also over the signal
        // limit): the size limit refuses it before anything is parsed.
        let c = claims_with(|c| {
            let sigs: Vec<Value> = (0..257)
                .map(|i| {
                    json!({"id": format!("s{i:03}"), "cls": "interest", "val": "running", "src": "quiz",
                           "cap": T0, "exp": EXP, "ver": 1, "con": "c1", "prv": PRV})
                })
                .collect();
            c["sig"] = Value::Array(sigs);
        });
        token(&header(), &c)
    };
    vec![
        case("too large: 20 KiB of garbage", "#".repeat(20 * 1024), too_large(20 * 1024)),
        case("too large: one byte over the limit", "#".repeat(MAX_BUNDLE_BYTES + 1), too_large(MAX_BUNDLE_BYTES + 1)),
        case(
            "at the limit: garbage is parsed, not size-refused",
            "#".repeat(MAX_BUNDLE_BYTES),
            BundleError::NotCompactJws,
        ),
        case("too large: 20 KiB of dots", ".".repeat(20 * 1024), too_large(20 * 1024)),
        case("too large: a correctly signed 257-signal bundle", big_bundle.clone(), too_large(big_bundle.len())),
        case(
            "too large: multi-byte characters count as bytes",
            "é".repeat(MAX_BUNDLE_BYTES / 2 + 1),
            too_large(MAX_BUNDLE_BYTES + 2),
        ),
        case("empty string", String::new(), BundleError::NotCompactJws),
        case("no dots", format!("{h}{p}{s}"), BundleError::NotCompactJws),
        case("two parts", format!("{h}.{p}"), BundleError::NotCompactJws),
        case("four parts", format!("{valid}.{s}"), BundleError::NotCompactJws),
        case("five parts (JWE shape)", format!("{h}.{p}.{s}.{p}.{s}"), BundleError::NotCompactJws),
        case("only dots", "..".to_string(), BundleError::NotCompactJws),
        case("empty header", format!(".{p}.{s}"), BundleError::NotCompactJws),
        case("empty signature", format!("{h}.{p}."), BundleError::NotCompactJws),
        case(
            "empty payload, correctly signed",
            sign_raw(&header().to_string(), ""),
            json_err(Part::Payload, "EOF while parsing a value at line 1 column 0"),
        ),
        accepted("a header whose encoding takes padding, unpadded", odd.clone()),
        case("padded header", with_part(&odd, 0, padded), BundleError::Base64 { part: Part::Header }),
        case("padded signature", with_part(&valid, 2, padded), BundleError::Base64 { part: Part::Signature }),
        case(
            "non-canonical trailing bits in header",
            with_part(&odd, 0, noncanonical_tail),
            BundleError::Base64 { part: Part::Header },
        ),
        case(
            "non-canonical trailing bits in signature",
            with_part(&valid, 2, noncanonical_tail),
            BundleError::Base64 { part: Part::Signature },
        ),
        case(
            "standard-alphabet signature",
            with_part(&valid, 2, |s| {
                assert!(s.contains(['-', '_']), "signature {s} has no URL-only characters");
                s.replace('-', "+").replace('_', "/")
            }),
            BundleError::Base64 { part: Part::Signature },
        ),
        case(
            "standard-alphabet character in header",
            with_part(&valid, 0, |h| format!("+{}", &h[1..])),
            BundleError::Base64 { part: Part::Header },
        ),
        case(
            "standard-alphabet character in payload",
            with_part(&valid, 1, |p| format!("{}/{}", &p[..4], &p[5..])),
            BundleError::Base64 { part: Part::Payload },
        ),
        case(
            "line break inside the payload",
            with_part(&valid, 1, |p| format!("{}\n{}", &p[..40], &p[40..])),
            BundleError::Base64 { part: Part::Payload },
        ),
        case(
            "impossible base64 length",
            with_part(&valid, 2, |s| format!("{s}AAA")),
            BundleError::Base64 { part: Part::Signature },
        ),
        case(
            "signature one byte short",
            with_sig_bytes(&valid, |b| {
                b.pop();
            }),
            BundleError::BadSignature,
        ),
        case("signature one byte long", with_sig_bytes(&valid, |b| b.push(0)), BundleError::BadSignature),
        case(
            "header is not JSON",
            format!("{}.{p}.{s}", b64::encode(b"not json")),
            json_err(Part::Header, "expected ident at line 1 column 2"),
        ),
        case(
            "header is a JSON array of the header fields, correctly signed",
            sign_raw(&format!(r#"["EdDSA","{KID_A}","{TYP}"]"#), &claims().to_string()),
            json_err(Part::Header, "expected a JSON object"),
        ),
        case(
            "header is a JSON string",
            format!("{}.{p}.{s}", b64::encode(br#""EdDSA""#)),
            json_err(Part::Header, "expected a JSON object"),
        ),
        case(
            "claims are a JSON array of the claim fields, correctly signed",
            sign_raw(&header().to_string(), &positional_claims()),
            json_err(Part::Payload, "a list directly inside a list at line 1 column 215"),
        ),
        case(
            "header has trailing data",
            sign_raw(&format!("{} {{}}", header()), &claims().to_string()),
            json_err(Part::Header, "trailing characters at line 1 column 65"),
        ),
        case(
            "header nested too deep",
            sign_raw(
                &format!(r#"{{"alg":"EdDSA","x":{}1{}}}"#, r#"{"y":"#.repeat(20), "}".repeat(20)),
                &claims().to_string(),
            ),
            json_err(Part::Header, "nested deeper than 16 levels at line 1 column 95"),
        ),
        case(
            "payload is not JSON",
            sign_raw(&header().to_string(), "hello"),
            json_err(Part::Payload, "expected value at line 1 column 1"),
        ),
    ]
}

fn header_cases() -> Vec<Case> {
    let payload = claims().to_string();
    let signed = |h: Value| token(&h, &claims());
    let raw = |h: &str| sign_raw(h, &payload);
    let hs256 = {
        // An HMAC-shaped signature: 32 bytes of SHA-256 over the signing input.
        let h = b64::encode(json!({"alg": "HS256", "kid": KID_A, "typ": TYP}).to_string().as_bytes());
        let input = format!("{h}.{}", b64::encode(payload.as_bytes()));
        let mac = Sha256::digest(input.as_bytes());
        format!("{input}.{}", b64::encode(&mac))
    };
    let alg_none_unsigned = {
        let h = b64::encode(json!({"alg": "none", "kid": KID_A, "typ": TYP}).to_string().as_bytes());
        format!("{h}.{}.", b64::encode(payload.as_bytes()))
    };
    vec![
        case(
            "header repeats alg (none first)",
            raw(&format!(r#"{{"alg":"none","kid":"{KID_A}","typ":"{TYP}","alg":"EdDSA"}}"#)),
            dup(Part::Header, "alg"),
        ),
        case(
            "header repeats kid",
            raw(&format!(r#"{{"alg":"EdDSA","kid":"{KID_A}","typ":"{TYP}","kid":"{KID_B}"}}"#)),
            dup(Part::Header, "kid"),
        ),
        case(
            "header repeats kid through an escape",
            raw(&format!(r#"{{"alg":"EdDSA","kid":"{KID_A}","typ":"{TYP}","\u006bid":"{KID_B}"}}"#)),
            dup(Part::Header, "kid"),
        ),
        case("alg none, signed", signed(json!({"alg": "none", "kid": KID_A, "typ": TYP})), unsupported_alg("none")),
        case("alg none, empty signature", alg_none_unsigned, BundleError::NotCompactJws),
        case("alg HS256 with a MAC-like signature", hs256, unsupported_alg("HS256")),
        case(
            "alg eddsa (lower case)",
            signed(json!({"alg": "eddsa", "kid": KID_A, "typ": TYP})),
            unsupported_alg("eddsa"),
        ),
        case(
            "alg Ed25519 (RFC 9864 name)",
            signed(json!({"alg": "Ed25519", "kid": KID_A, "typ": TYP})),
            unsupported_alg("Ed25519"),
        ),
        case("alg RS256", signed(json!({"alg": "RS256", "kid": KID_A, "typ": TYP})), unsupported_alg("RS256")),
        case("alg empty", signed(json!({"alg": "", "kid": KID_A, "typ": TYP})), unsupported_alg("")),
        case(
            "alg missing",
            signed(json!({"kid": KID_A, "typ": TYP})),
            json_err(Part::Header, "missing field `alg` at line 1 column 49"),
        ),
        case(
            "alg not a string",
            signed(json!({"alg": 1, "kid": KID_A, "typ": TYP})),
            json_err(Part::Header, "invalid type: integer `1`, expected a string at line 1 column 8"),
        ),
        case("kid missing", signed(json!({"alg": "EdDSA", "typ": TYP})), BundleError::MissingKeyId),
        case("kid empty", signed(json!({"alg": "EdDSA", "kid": "", "typ": TYP})), BundleError::MissingKeyId),
        case("kid null", signed(json!({"alg": "EdDSA", "kid": null, "typ": TYP})), BundleError::MissingKeyId),
        case("typ missing", signed(json!({"alg": "EdDSA", "kid": KID_A})), BundleError::WrongType { typ: None }),
        case(
            "typ JWT",
            signed(json!({"alg": "EdDSA", "kid": KID_A, "typ": "JWT"})),
            BundleError::WrongType { typ: Some("JWT".into()) },
        ),
        case(
            "typ with a suffix",
            signed(json!({"alg": "EdDSA", "kid": KID_A, "typ": "signalgate-bundle+jwt2"})),
            BundleError::WrongType { typ: Some("signalgate-bundle+jwt2".into()) },
        ),
        accepted(
            "typ compares case-insensitively (RFC 7515 4.1.9)",
            signed(json!({"alg": "EdDSA", "kid": KID_A, "typ": "SignalGate-Bundle+JWT"})),
        ),
        case(
            "crit with an unknown name",
            signed(json!({"alg": "EdDSA", "kid": KID_A, "typ": TYP, "crit": ["exp"], "exp": 1})),
            BundleError::UnsupportedCritical { name: "exp".into() },
        ),
        case(
            "crit names a member that is absent",
            signed(json!({"alg": "EdDSA", "kid": KID_A, "typ": TYP, "crit": ["b64"]})),
            BundleError::UnsupportedCritical { name: "b64".into() },
        ),
        case(
            "crit empty array",
            signed(json!({"alg": "EdDSA", "kid": KID_A, "typ": TYP, "crit": []})),
            BundleError::UnsupportedCritical { name: "[]".into() },
        ),
        case(
            "crit null is malformed, not absent",
            signed(json!({"alg": "EdDSA", "crit": null, "kid": KID_A, "typ": TYP})),
            json_err(Part::Header, "invalid type: null, expected a sequence at line 1 column 26"),
        ),
        case(
            "crit not an array",
            signed(json!({"alg": "EdDSA", "crit": "exp", "kid": KID_A, "typ": TYP})),
            json_err(Part::Header, "invalid type: string \"exp\", expected a sequence at line 1 column 27"),
        ),
        accepted(
            "unknown header members are ignored when not critical",
            signed(json!({"alg": "EdDSA", "kid": KID_A, "typ": TYP, "x-trace": "abc"})),
        ),
    ]
}

fn key_and_signature_cases() -> Vec<Case> {
    let valid = valid_token();
    let by_b_as_a = sign_raw_with(&SEED_B, &header().to_string(), claims().to_string().as_bytes());
    let by_b = token_b(&claims());
    let spliced = {
        // Header and signature of one bundle with the payload of another,
        // both validly signed by the same key.
        let other = token(&header(), &claims_with(|c| c["sub"] = json!("u-other")));
        let [h, _, s] = parts(&valid);
        let [_, p, _] = parts(&other);
        format!("{h}.{p}.{s}")
    };
    vec![
        accepted("the untouched bundle verifies", valid.clone()),
        case(
            "unknown kid",
            token(&json!({"alg": "EdDSA", "kid": "k-unknown", "typ": TYP}), &claims()),
            BundleError::UnknownKey { kid: "k-unknown".into() },
        ),
        case("retired key: set no longer holds it", valid.clone(), BundleError::UnknownKey { kid: KID_A.into() })
            .keys(set(&[&key_b()])),
        case("signature bit flipped", with_sig_bytes(&valid, |b| b[17] ^= 0x04), BundleError::BadSignature),
        case("signature R bit flipped", with_sig_bytes(&valid, |b| b[0] ^= 0x01), BundleError::BadSignature),
        case("non-canonical S (S + L)", with_sig_bytes(&valid, |b| s_plus_l(b)), BundleError::BadSignature),
        case("all-zero signature", with_sig_bytes(&valid, |b| b.fill(0)), BundleError::BadSignature),
        case("signature by another key under our kid", by_b_as_a, BundleError::BadSignature)
            .keys(set(&[&key_a(), &key_b()])),
        case("key B's bundle checked against key A's set", by_b, BundleError::UnknownKey { kid: KID_B.into() }),
        case("payload spliced from another bundle", spliced, BundleError::BadSignature),
        case(
            "payload re-encoded with a changed claim, old signature",
            with_part(&valid, 1, |_| b64::encode(claims_with(|c| c["idc"] = json!(1.0)).to_string().as_bytes())),
            BundleError::BadSignature,
        ),
    ]
}

/// A valid bundle whose header's base64url length is not a multiple of 4
/// (so it can be padded and has unused bits in its last character).
fn odd_header_token() -> String {
    let h = (0..3)
        .map(|n| json!({"alg": "EdDSA", "kid": KID_A, "typ": TYP, "x-pad": "p".repeat(n)}))
        .find(|h| b64::encode(h.to_string().as_bytes()).len() % 4 != 0)
        .unwrap();
    token(&h, &claims())
}

/// The fixture's claims as a JSON array of the fields in declaration order,
/// nested records and signals still objects.
fn positional_claims() -> String {
    let c = claims();
    let order = ["v", "iss", "sub", "ten", "aud", "iat", "nbf", "exp", "jti", "pv", "idc", "cons", "sig"];
    Value::Array(order.iter().map(|k| c[*k].clone()).collect()).to_string()
}

fn token_b(claims: &Value) -> String {
    sign_raw_with(
        &SEED_B,
        &json!({"alg": "EdDSA", "kid": KID_B, "typ": TYP}).to_string(),
        claims.to_string().as_bytes(),
    )
}

fn time_and_audience_cases() -> Vec<Case> {
    let valid = valid_token();
    let future_iat = token(&header(), &claims_with(|c| c["iat"] = json!(T0 + 1000)));
    let later_nbf = token(&header(), &claims_with(|c| c["nbf"] = json!(T0 + 1800)));
    let zero_skew = Expectations { max_skew: Span::seconds(0), ..expect() };
    let expired = |now: i64| BundleError::Expired { expired_at: UnixTime(EXP), now: UnixTime(now) };
    let early = |nbf: i64, now: i64| BundleError::NotYetValid { not_before: UnixTime(nbf), now: UnixTime(now) };
    vec![
        case("expired long ago", valid.clone(), expired(EXP + 86_400)).at(EXP + 86_400),
        case("expired: exactly exp + skew", valid.clone(), expired(EXP + SKEW)).at(EXP + SKEW),
        accepted("not expired: one second before exp + skew", valid.clone()).at(EXP + SKEW - 1),
        accepted("not expired: at exp, within skew", valid.clone()).at(EXP),
        case("expired: zero skew, at exp", valid.clone(), expired(EXP)).at(EXP).expecting(zero_skew.clone()),
        accepted("zero skew, one second before exp", valid.clone()).at(EXP - 1).expecting(zero_skew.clone()),
        case("not yet valid: nbf - skew - 1", later_nbf.clone(), early(T0 + 1800, T0 + 1800 - SKEW - 1))
            .at(T0 + 1800 - SKEW - 1),
        accepted("valid: exactly nbf - skew", later_nbf.clone()).at(T0 + 1800 - SKEW),
        case("not yet valid: long before nbf", valid.clone(), early(T0, T0 - 86_400)).at(T0 - 86_400),
        case("zero skew, one second before nbf", later_nbf.clone(), early(T0 + 1800, T0 + 1799))
            .at(T0 + 1799)
            .expecting(zero_skew.clone()),
        accepted("zero skew, at nbf", later_nbf).at(T0 + 1800).expecting(zero_skew),
        case("iat in the future: iat - skew - 1", future_iat.clone(), early(T0 + 1000, T0 + 1000 - SKEW - 1))
            .at(T0 + 1000 - SKEW - 1),
        accepted("iat in the future but within skew", future_iat).at(T0 + 1000 - SKEW),
        case("time far beyond i64 range of the bundle (saturating)", valid.clone(), expired(i64::MAX)).at(i64::MAX),
        case("time at i64::MIN", valid.clone(), early(T0, i64::MIN)).at(i64::MIN),
        case(
            "wrong audience",
            token(&header(), &claims_with(|c| c["aud"] = json!("https://other-gate.example"))),
            BundleError::WrongAudience { expected: AUD.into(), found: "https://other-gate.example".into() },
        ),
        case(
            "audience differs only in a trailing slash",
            token(&header(), &claims_with(|c| c["aud"] = json!(format!("{AUD}/")))),
            BundleError::WrongAudience { expected: AUD.into(), found: format!("{AUD}/") },
        ),
        case(
            "wrong tenant",
            token(&header(), &claims_with(|c| c["ten"] = json!("other-shop"))),
            BundleError::WrongTenant { expected: TEN.into(), found: "other-shop".into() },
        ),
        case(
            "tenant differs only in case",
            token(&header(), &claims_with(|c| c["ten"] = json!("Demo-Shop"))),
            BundleError::WrongTenant { expected: TEN.into(), found: "Demo-Shop".into() },
        ),
        accepted(
            "any tenant when the gate expects none",
            token(&header(), &claims_with(|c| c["ten"] = json!("other-shop"))),
        )
        .expecting(Expectations::new(AUD, None)),
    ]
}

/// Claims rows. The columns in serde's messages are positions in the
/// fixture's serialized payload (serde_json writes members sorted by name).
fn payload_cases() -> Vec<Case> {
    let payload = claims().to_string();
    let raw = |p: String| sign_raw(&header().to_string(), &p);
    let signed = |c: Value| token(&header(), &c);
    let replace_once = |from: &str, to: &str| {
        assert_eq!(payload.matches(from).count(), 1, "{from} must occur once in {payload}");
        raw(payload.replacen(from, to, 1))
    };
    vec![
        case("payload repeats sub", raw(format!(r#"{{"sub":"u-evil",{}"#, &payload[1..])), dup(Part::Payload, "sub")),
        case(
            "payload repeats sub through an escape",
            raw(format!(r#"{{"s\u0075b":"u-evil",{}"#, &payload[1..])),
            dup(Part::Payload, "sub"),
        ),
        case(
            "payload repeats a member inside a consent record",
            replace_once(r#""st":"granted""#, r#""st":"granted","st":"denied""#),
            dup(Part::Payload, "st"),
        ),
        case(
            "payload repeats a member inside a signal",
            replace_once(r#""val":"running""#, r#""val":"running","val":"walking""#),
            dup(Part::Payload, "val"),
        ),
        case(
            "payload repeats a consent id",
            replace_once(r#""cons":{"#, r#""cons":{"c1":{"st":"denied","pur":[],"scp":[],"lb":"consent"},"#),
            dup(Part::Payload, "c1"),
        ),
        case(
            "unknown top-level claim",
            raw(format!(r#"{{"xtra":1,{}"#, &payload[1..])),
            json_err(
                Part::Payload,
                "unknown field `xtra`, expected one of `v`, `iss`, `sub`, `ten`, `aud`, `iat`, `nbf`, `exp`, `jti`, \
                 `pv`, `idc`, `cons`, `sig` at line 1 column 7",
            ),
        ),
        case(
            "unknown field in a signal",
            replace_once(r#""val":"running""#, r#""val":"running","note":"free text""#),
            json_err(
                Part::Payload,
                "unknown field `note`, expected one of `id`, `cls`, `val`, `src`, `cap`, `exp`, `rcf`, `ver`, `con`, \
                 `prv` at line 1 column 390",
            ),
        ),
        case(
            "unknown field in a consent record",
            replace_once(r#""st":"granted""#, r#""st":"granted","why":"x""#),
            json_err(
                Part::Payload,
                "unknown field `why`, expected one of `st`, `pur`, `scp`, `lb` at line 1 column 124",
            ),
        ),
        case(
            "missing claim",
            signed(claims_with(|c| {
                c.as_object_mut().unwrap().remove("jti");
            })),
            json_err(Part::Payload, "missing field `jti` at line 1 column 577"),
        ),
        case(
            "unknown consent status",
            replace_once(r#""st":"granted""#, r#""st":"maybe""#),
            json_err(
                Part::Payload,
                "unknown variant `maybe`, expected one of `granted`, `denied`, `revoked` at line 1 column 116",
            ),
        ),
        case(
            "idc is a string",
            signed(claims_with(|c| c["idc"] = json!("0.9"))),
            json_err(Part::Payload, "invalid type: string \"0.9\", expected f64 at line 1 column 166"),
        ),
        case(
            "time is fractional",
            signed(claims_with(|c| c["iat"] = json!(1.5))),
            json_err(Part::Payload, "invalid type: floating point `1.5`, expected i64 at line 1 column 147"),
        ),
        case(
            "v = 2",
            signed(claims_with(|c| c["v"] = json!(2))),
            invalid_claim("v", "unsupported schema version 2, this gate reads 1"),
        ),
        case(
            "v = 0",
            signed(claims_with(|c| c["v"] = json!(0))),
            invalid_claim("v", "unsupported schema version 0, this gate reads 1"),
        ),
        case(
            "iss with a space",
            signed(claims_with(|c| c["iss"] = json!("shop example"))),
            invalid_claim("iss", "expected a URL or name without spaces or quotes"),
        ),
        case(
            "sub is an email ('@')",
            signed(claims_with(|c| c["sub"] = json!("jane@example.com"))),
            not_ident("sub", "jane@example.com"),
        ),
        case("sub empty", signed(claims_with(|c| c["sub"] = json!(""))), not_ident("sub", "")),
        case(
            "sub 65 characters",
            signed(claims_with(|c| c["sub"] = json!("u".repeat(65)))),
            not_ident("sub", &"u".repeat(65)),
        ),
        case("ten with a slash", signed(claims_with(|c| c["ten"] = json!("demo/shop"))), not_ident("ten", "demo/shop")),
        case(
            "aud with a quote",
            signed(claims_with(|c| c["aud"] = json!("gate\"x"))),
            invalid_claim("aud", "expected a URL or name without spaces or quotes"),
        ),
        case("jti with a space", signed(claims_with(|c| c["jti"] = json!("b 1"))), not_ident("jti", "b 1")),
        case("pv non-ASCII", signed(claims_with(|c| c["pv"] = json!("p-é"))), not_ident("pv", "p-é")),
        case(
            "idc 1.5",
            signed(claims_with(|c| c["idc"] = json!(1.5))),
            invalid_claim("idc", "expected a number from 0 to 1, found 1.5"),
        ),
        case(
            "idc -0.1",
            signed(claims_with(|c| c["idc"] = json!(-0.1))),
            invalid_claim("idc", "expected a number from 0 to 1, found -0.1"),
        ),
        accepted("idc exactly 0", signed(claims_with(|c| c["idc"] = json!(0)))),
        accepted("idc exactly 1", signed(claims_with(|c| c["idc"] = json!(1.0)))),
        case(
            "exp equal to iat",
            signed(claims_with(|c| {
                c["exp"] = json!(T0);
            })),
            invalid_claim("exp", "must be after `iat`"),
        ),
        case(
            "exp before iat",
            signed(claims_with(|c| c["exp"] = json!(T0 - 1))),
            invalid_claim("exp", "must be after `iat`"),
        ),
        case(
            "exp equal to nbf (after iat)",
            signed(claims_with(|c| {
                c["nbf"] = json!(T0 + 100);
                c["exp"] = json!(T0 + 100);
            })),
            invalid_claim("exp", "must be after `nbf`"),
        ),
        case(
            "consent id with a space",
            signed(claims_with(|c| c["cons"]["c 1"] = json!({"st": "granted", "pur": [], "scp": [], "lb": "consent"}))),
            not_ident("cons.c 1", "c 1"),
        ),
        case(
            "65 consent records",
            signed(claims_with(|c| {
                for i in 0..64 {
                    c["cons"][format!("k{i:02}")] = json!({"st": "denied", "pur": [], "scp": [], "lb": "consent"});
                }
            })),
            invalid_claim("cons", "at most 64 records, found 65"),
        ),
        case(
            "17 purposes",
            signed(claims_with(|c| {
                c["cons"]["c1"]["pur"] = json!((0..17).map(|i| format!("p{i}")).collect::<Vec<_>>())
            })),
            invalid_claim("cons.c1.pur", "at most 16 entries, found 17"),
        ),
        case(
            "purpose with a space",
            signed(claims_with(|c| c["cons"]["c1"]["pur"] = json!(["personalization", "ads and more"]))),
            not_ident("cons.c1.pur[1]", "ads and more"),
        ),
        case(
            "scope empty",
            signed(claims_with(|c| c["cons"]["c1"]["scp"] = json!([""]))),
            not_ident("cons.c1.scp[0]", ""),
        ),
        case(
            "signal id with '#'",
            signed(claims_with(|c| c["sig"][0]["id"] = json!("s#1"))),
            not_ident("sig[0].id", "s#1"),
        ),
        case(
            "duplicate signal id",
            signed(claims_with(|c| c["sig"][1]["id"] = json!("s01"))),
            invalid_claim("sig[1].id", "duplicate signal id \"s01\""),
        ),
        case(
            "signal class empty",
            signed(claims_with(|c| c["sig"][0]["cls"] = json!(""))),
            not_ident("sig[0].cls", ""),
        ),
        case(
            "signal value upper case",
            signed(claims_with(|c| c["sig"][0]["val"] = json!("Running"))),
            not_value("sig[0].val", "Running"),
        ),
        case(
            "signal value free text (spaces)",
            signed(claims_with(|c| c["sig"][0]["val"] = json!("i love running"))),
            not_value("sig[0].val", "i love running"),
        ),
        case(
            "signal value starts with '-'",
            signed(claims_with(|c| c["sig"][1]["val"] = json!("-42"))),
            not_value("sig[1].val", "-42"),
        ),
        case(
            "signal value with a dot",
            signed(claims_with(|c| c["sig"][0]["val"] = json!("a.b"))),
            not_value("sig[0].val", "a.b"),
        ),
        case(
            "signal value non-ASCII",
            signed(claims_with(|c| c["sig"][0]["val"] = json!("café"))),
            not_value("sig[0].val", "café"),
        ),
        case(
            "signal value 65 characters",
            signed(claims_with(|c| c["sig"][0]["val"] = json!("r".repeat(65)))),
            not_value("sig[0].val", &"r".repeat(65)),
        ),
        case(
            "signal source with a space",
            signed(claims_with(|c| c["sig"][0]["src"] = json!("web form"))),
            not_ident("sig[0].src", "web form"),
        ),
        case(
            "signal expires at capture",
            signed(claims_with(|c| c["sig"][0]["exp"] = c["sig"][0]["cap"].clone())),
            invalid_claim("sig[0].exp", "must be after `cap`"),
        ),
        case(
            "signal reconfirmed before capture",
            signed(claims_with(|c| c["sig"][1]["rcf"] = json!(T0 - 3 * 86_400))),
            invalid_claim("sig[1].rcf", "must not be before `cap`"),
        ),
        case(
            "signal captured after iat plus the skew",
            signed(claims_with(|c| c["sig"][0]["cap"] = json!(T0 + SKEW + 1))),
            invalid_claim("sig[0].cap", "must not be after `iat`"),
        ),
        accepted(
            "signal captured within the skew after iat",
            signed(claims_with(|c| c["sig"][0]["cap"] = json!(T0 + SKEW))),
        ),
        case(
            "signal reconfirmed after iat plus the skew",
            signed(claims_with(|c| c["sig"][1]["rcf"] = json!(T0 + 3600))),
            invalid_claim("sig[1].rcf", "must not be after `iat`"),
        ),
        case(
            "signal version 0",
            signed(claims_with(|c| c["sig"][0]["ver"] = json!(0))),
            invalid_claim("sig[0].ver", "versions start at 1"),
        ),
        case(
            "signal consent reference missing",
            signed(claims_with(|c| c["sig"][0]["con"] = json!("c9"))),
            invalid_claim("sig[0].con", "no consent record \"c9\" in `cons`"),
        ),
        case(
            "provenance 21 characters",
            signed(claims_with(|c| c["sig"][0]["prv"] = json!(&PRV[..21]))),
            invalid_claim("sig[0].prv", "expected 16 bytes in unpadded base64url (22 characters)"),
        ),
        case(
            "provenance 18 bytes",
            signed(claims_with(|c| c["sig"][0]["prv"] = json!(b64::encode(&[7u8; 18])))),
            invalid_claim("sig[0].prv", "expected 16 bytes in unpadded base64url (22 characters)"),
        ),
        case(
            "provenance padded",
            signed(claims_with(|c| c["sig"][0]["prv"] = json!(format!("{PRV}==")))),
            invalid_claim("sig[0].prv", "expected 16 bytes in unpadded base64url (22 characters)"),
        ),
        case(
            "provenance with non-canonical trailing bits",
            signed(claims_with(|c| c["sig"][0]["prv"] = json!(noncanonical_tail(PRV)))),
            invalid_claim("sig[0].prv", "expected 16 bytes in unpadded base64url (22 characters)"),
        ),
        accepted("no signals at all", signed(claims_with(|c| c["sig"] = json!([])))),
    ]
}

fn run(cases: Vec<Case>) -> usize {
    let mut mismatches = Vec::new();
    let n = cases.len();
    for c in cases {
        let got = parse_and_verify(&c.token, &c.keys, &c.expect, UnixTime(c.now)).map(|_| ());
        if got != c.want {
            mismatches.push(format!("{}:\n    got  {got:?}\n    want {:?}", c.name, c.want));
        }
    }
    assert!(mismatches.is_empty(), "{} of {n} rows disagree:\n{}", mismatches.len(), mismatches.join("\n"));
    println!("{n} rows, all as expected");
    n
}

#[test]
fn the_fixture_is_a_valid_bundle() {
    // Everything below starts from this bundle: it must verify, and the
    // hand-rolled signer must agree with the crate's own.
    assert_eq!(DEFAULT_SKEW, Span::seconds(SKEW));
    let token = valid_token();
    let typed: Claims = serde_json::from_value(claims()).unwrap();
    let from_signer = Signer::new(key_a()).sign(&typed).unwrap();
    let verified = parse_and_verify(&from_signer, &set(&[&key_a()]), &expect(), UnixTime(NOW)).unwrap();
    assert_eq!(verified.claims(), &typed);
    assert_eq!(verified.kid(), KID_A);
    let ours = parse_and_verify(&token, &set(&[&key_a()]), &expect(), UnixTime(NOW)).unwrap();
    assert_eq!(ours.claims(), &typed);
    assert_eq!(
        jws::sign_compact(&header(), claims().to_string().as_bytes(), &key_a()),
        token,
        "sign_compact and the raw dalek signer must produce the same token"
    );
}

#[test]
fn structure_and_encoding() {
    assert!(run(structure_cases()) >= 30);
}

#[test]
fn protected_header() {
    assert!(run(header_cases()) >= 20);
}

#[test]
fn keys_and_signatures() {
    assert!(run(key_and_signature_cases()) >= 10);
}

#[test]
fn time_window_audience_and_tenant() {
    assert!(run(time_and_audience_cases()) >= 18);
}

#[test]
fn claims_schema() {
    assert!(run(payload_cases()) >= 45);
}

#[test]
fn s_plus_l_is_the_same_scalar_but_refused() {
    // The forged S is S + L: congruent to S modulo L, so a verifier that
    // reduces S instead of requiring S < L would accept it. Check the
    // construction itself: the high bits show S + L >= L.
    let token = valid_token();
    let sig = b64::decode(&parts(&token)[2]).unwrap();
    let mut forged = sig.clone();
    s_plus_l(&mut forged);
    assert_ne!(forged, sig);
    assert_eq!(forged[..32], sig[..32], "R is unchanged");
    assert!(forged[63] >= 0x10, "S + L is at least L");
    assert!(forged[63] < 0x20, "S + L < 2^253");
}

#[test]
fn signer_validates_before_signing() {
    let signer = Signer::new(key_a());
    let sign = |c: Value| signer.sign(&serde_json::from_value::<Claims>(c).unwrap());
    let many = claims_with(|c| {
        c["sig"] = Value::Array(
            (0..257)
                .map(|i| {
                    json!({"id": format!("s{i:03}"), "cls": "interest", "val": "running", "src": "quiz",
                           "cap": T0, "exp": EXP, "ver": 1, "con": "c1", "prv": PRV})
                })
                .collect(),
        );
    });
    assert_eq!(sign(many), Err(invalid_claim("sig", "at most 256 signals, found 257")));
    assert_eq!(
        sign(claims_with(|c| c["v"] = json!(2))),
        Err(invalid_claim("v", "unsupported schema version 2, this gate reads 1"))
    );
    assert_eq!(sign(claims_with(|c| c["sub"] = json!("a@b.example"))), Err(not_ident("sub", "a@b.example")));
    assert_eq!(sign(claims_with(|c| c["sig"][0]["val"] = json!("Running"))), Err(not_value("sig[0].val", "Running")));
    assert!(sign(claims()).is_ok());
}

#[test]
fn most_signals_that_fit_the_size_limit() {
    // MAX_SIGNALS is 256, but a bundle is refused above MAX_BUNDLE_BYTES
    // before its signals are counted. Find how many compact signals fit.
    let build = |n: usize| {
        let c = claims_with(|c| {
            c["sig"] = Value::Array(
                (0..n)
                    .map(|i| {
                        json!({"id": format!("s{i:03}"), "cls": "interest", "val": "running", "src": "quiz",
                               "cap": T0, "exp": EXP, "ver": 1, "con": "c1", "prv": PRV})
                    })
                    .collect(),
            );
        });
        token(&header(), &c)
    };
    let fits = (1..=256).take_while(|&n| build(n).len() <= MAX_BUNDLE_BYTES).last().unwrap();
    println!("at most {fits} compact signals fit in {MAX_BUNDLE_BYTES} bytes");
    let keys = set(&[&key_a()]);
    let largest = build(fits);
    let verified = parse_and_verify(&largest, &keys, &expect(), UnixTime(NOW)).unwrap();
    // The worst case for the edge cache: what one entry of the largest bundle
    // costs, and how many of them the default budget holds.
    let entry = signalgate::serve::entry_bytes(&largest, &verified);
    let per_budget = signalgate::serve::DEFAULT_MAX_BYTES / entry;
    println!("a cache entry of the largest bundle: {entry} bytes; the default 8 MiB budget holds {per_budget}");
    assert!(entry > largest.len() && entry < 4 * MAX_BUNDLE_BYTES, "{entry}");
    let over = build(fits + 1);
    assert_eq!(parse_and_verify(&over, &keys, &expect(), UnixTime(NOW)).map(|_| ()), Err(too_large(over.len())));
}

// ------------------------------------------------------------ revocation

#[test]
fn revoked_ids_and_subjects() {
    let verified = parse_and_verify(&valid_token(), &set(&[&key_a()]), &expect(), UnixTime(NOW)).unwrap();
    let by_id = Revocations::from_json(r#"{"bundles":["b-0001"]}"#).unwrap();
    assert_eq!(by_id.check(&verified), Err(BundleError::Revoked { what: "id" }));
    let by_sub = Revocations::from_json(r#"{"subjects":["u-7f3a9c"]}"#).unwrap();
    assert_eq!(by_sub.check(&verified), Err(BundleError::Revoked { what: "subject" }));
    let other = Revocations::from_json(r#"{"bundles":["b-0002"],"subjects":["u-other"]}"#).unwrap();
    assert_eq!(other.check(&verified), Ok(()));
    assert_eq!(Revocations::from_json(r#"{"bundles":["b-0002"],"bundles":[]}"#), Err(dup(Part::Payload, "bundles")));
    assert_eq!(Revocations::from_json(r#"["b-0001"]"#), Err(json_err(Part::Payload, "expected a JSON object")));
    assert_eq!(
        Revocations::from_json(r#"[["b-0001"],[]]"#),
        Err(json_err(Part::Payload, "a list directly inside a list at line 1 column 2"))
    );
}

#[test]
fn cached_bundle_recheck_expires() {
    let verified = parse_and_verify(&valid_token(), &set(&[&key_a()]), &expect(), UnixTime(NOW)).unwrap();
    assert_eq!(verified.recheck(&expect(), UnixTime(EXP + SKEW - 1)), Ok(()));
    assert_eq!(
        verified.recheck(&expect(), UnixTime(EXP + SKEW)),
        Err(BundleError::Expired { expired_at: UnixTime(EXP), now: UnixTime(EXP + SKEW) })
    );
    assert_eq!(
        verified.recheck(&Expectations::new("https://elsewhere.example", Some(TEN)), UnixTime(NOW)),
        Err(BundleError::WrongAudience { expected: "https://elsewhere.example".into(), found: AUD.into() })
    );
}

// ------------------------------------------------------------ keys

fn x_of(seed: &[u8; 32]) -> String {
    b64::encode(SigningKey::from_seed(seed, None).public_key().verifying_key().as_bytes())
}

use crate::fixtures::unhex32;

#[test]
fn key_set_errors() {
    let xa = x_of(&SEED_A);
    let xb = x_of(&SEED_B);
    let d_a = b64::encode(&SEED_A);
    let identity = b64::encode(&unhex32("0100000000000000000000000000000000000000000000000000000000000000"));
    let order8 = b64::encode(&unhex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"));
    let order2 = b64::encode(&unhex32("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"));
    let okp = |x: &str, kid: &str| format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{x}","kid":"{kid}"}}"#);
    let jwks = |keys: &[String]| format!(r#"{{"keys":[{}]}}"#, keys.join(","));
    let unsupported = |member: &'static str, found: &str| KeyError::Unsupported { member, found: found.to_string() };
    // Some key whose x uses the URL-only characters, written in the standard alphabet.
    let xa_standard = (1..=255u8)
        .map(|i| x_of(&[i; 32]))
        .find(|x| x.contains(['-', '_']))
        .unwrap()
        .replace('-', "+")
        .replace('_', "/");
    let seventeen: Vec<String> = (0..17u8).map(|i| okp(&x_of(&[i + 1; 32]), &format!("k{i}"))).collect();

    let rows: Vec<(&str, String, KeyError)> = vec![
        ("small-order key (identity) in a JWKS", jwks(&[okp(&xa, "k1"), okp(&identity, "k2")]), KeyError::WeakPublicKey),
        ("small-order key (order 8)", jwks(&[okp(&order8, "k1")]), KeyError::WeakPublicKey),
        ("small-order key (order 2), single JWK", okp(&order2, "k1"), KeyError::WeakPublicKey),
        (
            "private d in a public JWKS",
            jwks(&[okp(&xb, "kb"), format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{xa}","d":"{d_a}","kid":"ka"}}"#)]),
            KeyError::PrivateInPublicSet { kid: "ka".into() },
        ),
        (
            "alg RS256",
            jwks(&[format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{xa}","kid":"k1","alg":"RS256"}}"#)]),
            unsupported("alg", "RS256"),
        ),
        ("crv X25519", jwks(&[format!(r#"{{"kty":"OKP","crv":"X25519","x":"{xa}","kid":"k1"}}"#)]), unsupported("crv", "X25519")),
        (
            "kty EC",
            jwks(&[r#"{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","kid":"1"}"#.to_string()]),
            unsupported("kty", "EC"),
        ),
        ("kty RSA", r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#.to_string(), unsupported("kty", "RSA")),
        (
            "use enc",
            jwks(&[format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{xa}","kid":"k1","use":"enc"}}"#)]),
            unsupported("use", "enc"),
        ),
        (
            "key_ops encrypt",
            jwks(&[format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{xa}","kid":"k1","key_ops":["verify","encrypt"]}}"#)]),
            unsupported("key_ops", "encrypt"),
        ),
        ("duplicate kid in a set", jwks(&[okp(&xa, "k1"), okp(&xb, "k1")]), KeyError::DuplicateKid { kid: "k1".into() }),
        (
            "the same key twice without kid (same thumbprint)",
            jwks(&[
                format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{xa}"}}"#),
                format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{xa}"}}"#),
            ]),
            KeyError::DuplicateKid { kid: SigningKey::from_seed(&SEED_A, None).kid().to_string() },
        ),
        ("kid with a space", jwks(&[okp(&xa, "key one")]), KeyError::BadKid { kid: "key one".into() }),
        ("x of 31 bytes", jwks(&[okp(&b64::encode(&[9u8; 31]), "k1")]), KeyError::BadKeyBytes { member: "x" }),
        ("x padded", jwks(&[okp(&format!("{xa}="), "k1")]), KeyError::BadKeyBytes { member: "x" }),
        ("x standard alphabet", jwks(&[okp(&xa_standard, "k1")]), KeyError::BadKeyBytes { member: "x" }),
        ("empty key set", r#"{"keys":[]}"#.to_string(), KeyError::SetSize { found: 0 }),
        ("17 keys", jwks(&seventeen), KeyError::SetSize { found: 17 }),
        (
            "duplicate member in a JWK",
            format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{xa}","x":"{xb}"}}"#),
            KeyError::Json { detail: "member `x` appears twice in one object".into() },
        ),
        ("not JSON", "-----BEGIN PUBLIC KEY-----".to_string(), KeyError::Json { detail: "not valid JSON: invalid number at line 1 column 2".into() }),
    ];

    let mut mismatches = Vec::new();
    for (name, text, want) in &rows {
        let got = KeySet::from_json(text).map(|_| ());
        if got != Err(want.clone()) {
            mismatches.push(format!("{name}:\n    got  {got:?}\n    want {want:?}"));
        }
    }
    assert!(mismatches.is_empty(), "{} of {} rows disagree:\n{}", mismatches.len(), rows.len(), mismatches.join("\n"));

    // The other side: a well-formed two-key set with pinned members is accepted.
    let good = jwks(&[
        format!(
            r#"{{"kty":"OKP","crv":"Ed25519","x":"{xa}","kid":"k1","alg":"EdDSA","use":"sig","key_ops":["verify"]}}"#
        ),
        okp(&xb, "k2"),
    ]);
    assert_eq!(KeySet::from_json(&good).unwrap().keys().len(), 2);
}

#[test]
fn private_key_errors() {
    let xa = x_of(&SEED_A);
    let xb = x_of(&SEED_B);
    let d_a = b64::encode(&SEED_A);
    let private = |x: &str, d: &str| format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{x}","d":"{d}","kid":"k1"}}"#);
    assert_eq!(SigningKey::from_jwk_json(&private(&xb, &d_a)).map(|_| ()), Err(KeyError::Mismatch));
    assert_eq!(
        SigningKey::from_jwk_json(&format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{xa}"}}"#)).map(|_| ()),
        Err(KeyError::BadKeyBytes { member: "d" })
    );
    assert_eq!(
        SigningKey::from_jwk_json(&private(&xa, &d_a[..42])).map(|_| ()),
        Err(KeyError::BadKeyBytes { member: "d" })
    );
    let key = SigningKey::from_jwk_json(&private(&xa, &d_a)).unwrap();
    assert_eq!(key.kid(), "k1");
    // The private JWK round-trips.
    let again = SigningKey::from_jwk_json(&key.to_private_jwk_json()).unwrap();
    assert_eq!(again.public_key(), key.public_key());
}

#[test]
fn public_key_from_bytes_refuses_weak_points() {
    let identity = unhex32("0100000000000000000000000000000000000000000000000000000000000000");
    assert_eq!(PublicKey::from_bytes(&identity, None), Err(KeyError::WeakPublicKey));
    let ok = SigningKey::from_seed(&SEED_A, None).public_key();
    assert_eq!(PublicKey::from_bytes(ok.verifying_key().as_bytes(), None).unwrap(), ok);
}

// ------------------------------------------------------------ rotation

#[test]
fn key_rotation() {
    let (old, new) = (key_a(), key_b());
    let old_token = token(&header(), &claims());
    let new_token = token_b(&claims_with(|c| c["jti"] = json!("b-0002")));
    let verify =
        |t: &str, keys: &KeySet| parse_and_verify(t, keys, &expect(), UnixTime(NOW)).map(|v| v.kid().to_string());

    // Before: only the old key.
    let before = set(&[&old]);
    assert_eq!(verify(&old_token, &before), Ok(KID_A.to_string()));
    assert_eq!(verify(&new_token, &before), Err(BundleError::UnknownKey { kid: KID_B.into() }));

    // During: both active, from a published JWKS; bundles from each verify.
    let both = KeySet::from_json(&set(&[&old, &new]).to_json()).unwrap();
    assert_eq!(verify(&old_token, &both), Ok(KID_A.to_string()));
    assert_eq!(verify(&new_token, &both), Ok(KID_B.to_string()));

    // After retiring the old key: its bundles are unknown, the new ones verify.
    let after = KeySet::from_json(&new.public_jwks_json()).unwrap();
    assert_eq!(verify(&old_token, &after), Err(BundleError::UnknownKey { kid: KID_A.into() }));
    assert_eq!(verify(&new_token, &after), Ok(KID_B.to_string()));

    // A kid cannot be moved to other key material within one set.
    let hijack = SigningKey::from_seed(&SEED_B, Some(KID_A));
    assert_eq!(
        KeySet::new(vec![old.public_key(), hijack.public_key()]),
        Err(KeyError::DuplicateKid { kid: KID_A.into() })
    );
    // And if a set names other material under the old kid, old bundles fail the signature.
    let swapped = set(&[&hijack]);
    assert_eq!(verify(&old_token, &swapped), Err(BundleError::BadSignature));
}

// ------------------------------------------------------------ secrets in Debug

#[test]
fn debug_output_never_shows_the_private_key() {
    let key = SigningKey::from_seed(&SEED_A, Some(KID_A));
    let d = b64::encode(&SEED_A);
    let d_hex: String = SEED_A.iter().map(|b| format!("{b:02x}")).collect();
    let d_array = format!("{:?}", &SEED_A[..4]).trim_end_matches(']').to_string();
    assert!(key.to_private_jwk_json().contains(&d), "the private JWK does carry d");
    let secret_forms = [d.as_str(), &d[..16], d_hex.as_str(), &d_hex[..16], d_array.as_str()];
    let mut shown = vec![
        ("SigningKey Debug", format!("{key:?}")),
        ("SigningKey pretty Debug", format!("{key:#?}")),
        ("Signer Debug", format!("{:?}", Signer::new(key.clone()))),
    ];

    // KeyErrors raised while reading private material.
    let xa = x_of(&SEED_A);
    let xb = x_of(&SEED_B);
    let bad_private = [
        format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{xb}","d":"{d}"}}"#),
        format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{xa}","d":"{d}","alg":"ES256"}}"#),
        format!(r#"{{"kty":"EC","crv":"Ed25519","x":"{xa}","d":"{d}"}}"#),
        format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{xa}","d":"{d}=","kid":"k1"}}"#),
        format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{xa}","d":"{d}","d":"{d}"}}"#),
        format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{xa}","d":"{d}","key_ops":"sign"}}"#),
        format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{xa}","d":"{d}","kid":"bad kid"}}"#),
    ];
    for text in &bad_private {
        let err = SigningKey::from_jwk_json(text).unwrap_err();
        shown.push(("KeyError Debug (SigningKey::from_jwk_json)", format!("{err:?}")));
        shown.push(("KeyError Display (SigningKey::from_jwk_json)", err.to_string()));
        if let Err(err) = KeySet::from_json(text) {
            shown.push(("KeyError Debug (KeySet::from_json)", format!("{err:?}")));
            shown.push(("KeyError Display (KeySet::from_json)", err.to_string()));
        }
    }
    let in_set = KeySet::from_json(&format!(r#"{{"keys":[{}]}}"#, key.to_private_jwk_json())).unwrap_err();
    assert_eq!(in_set, KeyError::PrivateInPublicSet { kid: KID_A.into() });
    shown.push(("PrivateInPublicSet Debug", format!("{in_set:?}")));
    shown.push(("PrivateInPublicSet Display", in_set.to_string()));

    for (what, text) in &shown {
        for secret in &secret_forms {
            assert!(!text.contains(secret), "{what} shows the private key ({secret}): {text}");
        }
    }
    assert!(shown.len() >= 18, "only {} outputs checked", shown.len());
}

// ------------------------------------------------------------ sizes

const CLASSES: [(&str, &[&str]); 8] = [
    ("interest", &["running", "trail-running", "cycling", "yoga", "hiking", "swimming"]),
    ("size", &["eu-42", "m", "l", "w32-l34"]),
    ("style", &["minimal", "classic", "outdoor", "streetwear"]),
    ("budget", &["mid", "premium", "value"]),
    ("brand-affinity", &["acme", "northpeak", "zephyr"]),
    ("diet", &["vegetarian", "vegan", "no-preference"]),
    ("fit", &["regular", "slim", "relaxed"]),
    ("channel-pref", &["email", "web", "none"]),
];
const SOURCES: [&str; 4] = ["quiz", "profile", "survey", "preference-center"];

/// A realistic bundle: two consent records, signals of the shapes a shop
/// would ask for, a pseudonymous subject, a ULID-style bundle id, and a
/// thumbprint kid (43 characters, the longest a default key gets).
fn realistic_claims(n: usize) -> Claims {
    let day = 86_400;
    let signals: Vec<Value> = (0..n)
        .map(|i| {
            let (cls, values) = CLASSES[i % CLASSES.len()];
            let id = format!("s{:02}", i + 1);
            let cap = T0 - (i as i64 % 90 + 1) * day - 3_217 * i as i64;
            let prv = b64::encode(&Sha256::digest(format!("provenance:{id}").as_bytes())[..16]);
            let mut s = json!({
                "id": id, "cls": cls, "val": values[i % values.len()], "src": SOURCES[i % SOURCES.len()],
                "cap": cap, "exp": cap + 180 * day, "ver": 1 + (i % 3), "con": if i % 4 == 3 { "c-2" } else { "c-1" },
                "prv": prv,
            });
            if i % 3 == 0 {
                s["rcf"] = json!(T0 - 3_600 - i as i64);
            }
            s
        })
        .collect();
    serde_json::from_value(json!({
        "v": 1, "iss": "https://shop.example.com", "sub": "u-8f14e45fceea167a", "ten": "acme-shop",
        "aud": "https://edge.shop.example.com", "iat": T0, "nbf": T0, "exp": T0 + 7 * day,
        "jti": "b-01JGZ5T3K8Q4W9N2M7X6V1R0PA", "pv": "2026-01-01.3", "idc": 0.92,
        "cons": {
            "c-1": {"st": "granted", "pur": ["personalization", "analytics"], "scp": ["web", "email"], "lb": "consent"},
            "c-2": {"st": "granted", "pur": ["personalization"], "scp": ["web"], "lb": "consent"}
        },
        "sig": signals,
    }))
    .unwrap()
}

#[test]
fn compact_size_of_realistic_bundles() {
    let key = SigningKey::from_seed(&SEED_A, None);
    assert_eq!(key.kid().len(), 43, "thumbprint kid");
    let keys = set(&[&key]);
    let expect = Expectations::new("https://edge.shop.example.com", Some("acme-shop"));
    let signer = Signer::new(key);
    let mut sizes = Vec::new();
    for n in [1usize, 16, 64] {
        let claims = realistic_claims(n);
        let token = signer.sign(&claims).unwrap();
        let verified = parse_and_verify(&token, &keys, &expect, UnixTime(T0 + 60)).unwrap();
        assert_eq!(verified.claims(), &claims);
        let cookie = format!("sg_bundle={token}");
        println!(
            "{n:>2} signals: compact JWS {} bytes, cookie `sg_bundle=...` {} bytes, payload JSON {} bytes",
            token.len(),
            cookie.len(),
            serde_json::to_vec(&claims).unwrap().len()
        );
        sizes.push((n, token.len(), cookie.len()));
    }
    let (_, _, cookie16) = sizes[1];
    assert!(cookie16 <= 4096, "a 16-signal bundle must fit one 4096-byte cookie, is {cookie16}");
    let (_, token64, _) = sizes[2];
    assert!(token64 <= MAX_BUNDLE_BYTES, "a 64-signal bundle must stay under the parse limit, is {token64}");
}

#[test]
fn lifetime_is_bounded_when_expected() {
    let long = token(&header(), &claims_with(|c| c["exp"] = json!(T0 + 8 * 86_400)));
    let keys = set(&[&key_a()]);
    let bounded = Expectations { max_lifetime: Some(Span::days(7)), ..expect() };
    let got = UnverifiedBundle::parse(&long).unwrap().verify(&keys, &bounded, UnixTime(NOW)).map(|_| ());
    assert_eq!(got, Err(BundleError::LifetimeTooLong { lifetime: Span::days(8), max: Span::days(7) }));
    assert_eq!(got.unwrap_err().code(), "lifetime_too_long");
    // Exactly the bound is accepted; without a bound any lifetime is.
    let week = token(&header(), &claims_with(|c| c["exp"] = json!(T0 + 7 * 86_400)));
    assert!(UnverifiedBundle::parse(&week).unwrap().verify(&keys, &bounded, UnixTime(NOW)).is_ok());
    assert!(UnverifiedBundle::parse(&long).unwrap().verify(&keys, &expect(), UnixTime(NOW)).is_ok());
}

#[test]
fn keys_can_be_tied_to_tenants() {
    let tenants = |pairs: &[(&str, &[&str])]| {
        pairs.iter().map(|(k, ts)| (k.to_string(), ts.iter().map(|t| t.to_string()).collect())).collect()
    };
    let any = Expectations::new(AUD, None);
    let verify = |keys: &KeySet, token: &str| {
        UnverifiedBundle::parse(token).unwrap().verify(keys, &any, UnixTime(NOW)).map(|b| b.claims().tenant.clone())
    };
    let for_other = token(&header(), &claims_with(|c| c["ten"] = json!("other-shop")));
    // Key A may sign for demo-shop only; key B for other-shop.
    let bound =
        set(&[&key_a(), &key_b()]).with_key_tenants(tenants(&[(KID_A, &[TEN]), (KID_B, &["other-shop"])])).unwrap();
    assert_eq!(verify(&bound, &valid_token()), Ok(TEN.to_string()));
    assert_eq!(
        verify(&bound, &for_other),
        Err(BundleError::KeyNotForTenant { kid: KID_A.into(), tenant: "other-shop".into() })
    );
    assert_eq!(verify(&bound, &token_b(&claims_with(|c| c["ten"] = json!("other-shop")))), Ok("other-shop".into()));
    // A key the binding does not name signs for no tenant.
    let only_b = set(&[&key_a(), &key_b()]).with_key_tenants(tenants(&[(KID_B, &[TEN])])).unwrap();
    assert_eq!(
        verify(&only_b, &valid_token()),
        Err(BundleError::KeyNotForTenant { kid: KID_A.into(), tenant: TEN.into() })
    );
    // Without a binding, any key signs for any tenant.
    assert_eq!(verify(&set(&[&key_a()]), &for_other), Ok("other-shop".into()));
    // A binding must name keys of the set.
    assert_eq!(
        set(&[&key_a()]).with_key_tenants(tenants(&[("k-unknown", &[TEN])])),
        Err(KeyError::UnknownKidInBinding { kid: "k-unknown".into() })
    );
}
