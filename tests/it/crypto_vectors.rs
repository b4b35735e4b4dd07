//! Published Ed25519 and JWS test vectors, run through signalgate's key
//! import and JWS codec. Sources are noted in `tests/vectors/ed25519/README.md`.
//!
//! * RFC 8032 section 7.1: signing with each secret reproduces the published
//!   signature byte for byte, and the signature verifies.
//! * Project Wycheproof `ed25519_test.json`: every `valid` case verifies with
//!   `verify_strict`, every `invalid` case is refused.
//! * RFC 8037 appendix A: the private JWK, its thumbprint and the signed JWS.

use ed25519_dalek::Signature;
use serde::Deserialize;
use signalgate::bundle::{jws, thumbprint, KeyError, KeySet, PublicKey, SigningKey};
use signalgate::codec::b64;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/ed25519");

fn read_vector_file(name: &str) -> String {
    let path = format!("{VECTORS}/{name}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

use crate::fixtures::{hex, unhex};

fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    <[u8; N]>::try_from(bytes).unwrap_or_else(|_| panic!("expected {N} bytes, found {}", bytes.len()))
}

// ---------------------------------------------------------------- RFC 8032

#[derive(Deserialize)]
struct Rfc8032File {
    vectors: Vec<Rfc8032Vector>,
}

#[derive(Deserialize)]
struct Rfc8032Vector {
    name: String,
    secret_key: String,
    public_key: String,
    message_len: usize,
    message: String,
    signature: String,
}

/// Signs raw bytes with the dalek key built from an RFC 8032 secret (the JWS
/// signer only signs JWS signing inputs, and the RFC messages are raw bytes).
fn dalek_sign(seed: &[u8; 32], message: &[u8]) -> [u8; 64] {
    use ed25519_dalek::Signer as _;
    ed25519_dalek::SigningKey::from_bytes(seed).sign(message).to_bytes()
}

#[test]
fn rfc8032_section_7_1_vectors() {
    let file: Rfc8032File = serde_json::from_str(&read_vector_file("rfc8032_ed25519.json")).unwrap();
    let names: Vec<&str> = file.vectors.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["TEST 1", "TEST 2", "TEST 3", "TEST 1024", "TEST SHA(abc)"]);

    for v in &file.vectors {
        let seed = array::<32>(&unhex(&v.secret_key));
        let public = array::<32>(&unhex(&v.public_key));
        let message = unhex(&v.message);
        let signature = array::<64>(&unhex(&v.signature));
        assert_eq!(message.len(), v.message_len, "{}: message length", v.name);

        // Our key type derives the published public key from the secret.
        let key = SigningKey::from_seed(&seed, None);
        assert_eq!(hex(key.public_key().verifying_key().as_bytes()), v.public_key, "{}: public key", v.name);
        // The kid of a key without one is its RFC 7638 thumbprint.
        assert_eq!(key.kid(), thumbprint(key.public_key().verifying_key()), "{}: default kid", v.name);

        // Ed25519 is deterministic: signing reproduces the published signature.
        assert_eq!(hex(&dalek_sign(&seed, &message)), v.signature, "{}: signature", v.name);

        // The published public key imports (it is not weak) and verifies strictly.
        let imported = PublicKey::from_bytes(&public, Some("rfc8032")).unwrap();
        imported.verifying_key().verify_strict(&message, &Signature::from_bytes(&signature)).unwrap();

        // One flipped message bit, or one flipped signature bit, fails.
        let mut other = message.clone();
        match other.first_mut() {
            Some(b) => *b ^= 1,
            None => other.push(0),
        }
        assert!(imported.verifying_key().verify_strict(&other, &Signature::from_bytes(&signature)).is_err());
        let mut bad_sig = signature;
        bad_sig[10] ^= 0x20;
        assert!(imported.verifying_key().verify_strict(&message, &Signature::from_bytes(&bad_sig)).is_err());
    }
}

#[test]
fn rfc8032_signatures_through_the_jws_signer() {
    // The JWS signer signs `BASE64URL(header) . BASE64URL(payload)`; with the
    // RFC 8032 TEST 1 key the result must verify under the published public
    // key and match an independent signature over the same signing input.
    let seed = array::<32>(&unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
    let public = array::<32>(&unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"));
    let key = SigningKey::from_seed(&seed, Some("t1"));
    let token = jws::sign_compact(&serde_json::json!({"alg": "EdDSA", "kid": "t1"}), b"payload", &key);
    let parsed = jws::parse_compact(&token, 1024).unwrap();
    assert_eq!(parsed.signature, dalek_sign(&seed, parsed.signing_input.as_bytes()));
    let published = PublicKey::from_bytes(&public, None).unwrap();
    jws::verify_signature(&parsed, published.verifying_key()).unwrap();
}

// ---------------------------------------------------------------- Wycheproof

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WycheproofFile {
    algorithm: String,
    number_of_tests: usize,
    test_groups: Vec<WycheproofGroup>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WycheproofGroup {
    public_key: WycheproofKey,
    tests: Vec<WycheproofTest>,
}

#[derive(Deserialize)]
struct WycheproofKey {
    curve: String,
    pk: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WycheproofTest {
    tc_id: u32,
    comment: String,
    flags: Vec<String>,
    msg: String,
    sig: String,
    result: String,
}

/// How one vector went through signalgate's key import and strict verification.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Verified,
    /// `PublicKey::from_bytes` refused the key (weak or not a point).
    KeyRejected(KeyError),
    /// Not 64 bytes: cannot even be a signature.
    WrongLength(usize),
    /// `verify_strict` said no.
    SignatureRejected,
}

fn wycheproof_outcome(pk: &[u8], msg: &[u8], sig: &[u8]) -> Outcome {
    let key = match PublicKey::from_bytes(&array::<32>(pk), Some("wycheproof")) {
        Ok(key) => key,
        Err(e) => return Outcome::KeyRejected(e),
    };
    let Ok(sig) = <[u8; 64]>::try_from(sig) else {
        return Outcome::WrongLength(sig.len());
    };
    match key.verifying_key().verify_strict(msg, &Signature::from_bytes(&sig)) {
        Ok(()) => Outcome::Verified,
        Err(_) => Outcome::SignatureRejected,
    }
}

#[test]
fn wycheproof_ed25519() {
    let file: WycheproofFile = serde_json::from_str(&read_vector_file("wycheproof_ed25519_test.json")).unwrap();
    assert_eq!(file.algorithm, "EDDSA");

    let (mut valid, mut invalid, mut acceptable) = (0usize, 0usize, 0usize);
    let (mut key_rejected, mut wrong_length, mut sig_rejected) = (0usize, 0usize, 0usize);
    let mut tampered_checked = 0usize;
    let mut failures = Vec::new();
    for group in &file.test_groups {
        assert_eq!(group.public_key.curve, "edwards25519");
        let pk = unhex(&group.public_key.pk);
        for t in &group.tests {
            let (msg, sig) = (unhex(&t.msg), unhex(&t.sig));
            let outcome = wycheproof_outcome(&pk, &msg, &sig);
            let label = format!("tcId {} ({}; {:?}): {:?}", t.tc_id, t.comment, t.flags, outcome);
            match t.result.as_str() {
                "valid" => {
                    valid += 1;
                    if outcome != Outcome::Verified {
                        failures.push(format!("valid case refused: {label}"));
                    } else {
                        // The check is live: the same case with the message
                        // changed must now fail.
                        let mut other = msg.clone();
                        other.push(0x5a);
                        assert_eq!(wycheproof_outcome(&pk, &other, &sig), Outcome::SignatureRejected, "{label}");
                        tampered_checked += 1;
                    }
                }
                "invalid" => {
                    invalid += 1;
                    match outcome {
                        Outcome::Verified => failures.push(format!("invalid case accepted: {label}")),
                        Outcome::KeyRejected(_) => key_rejected += 1,
                        Outcome::WrongLength(_) => wrong_length += 1,
                        Outcome::SignatureRejected => sig_rejected += 1,
                    }
                }
                "acceptable" => {
                    acceptable += 1;
                    println!("acceptable: {label}");
                }
                other => panic!("unknown result {other:?} in tcId {}", t.tc_id),
            }
        }
    }
    println!(
        "wycheproof ed25519: {} tests: {valid} valid (all verified), {invalid} invalid \
         ({key_rejected} key rejected, {wrong_length} wrong signature length, {sig_rejected} signature rejected), \
         {acceptable} acceptable",
        valid + invalid + acceptable
    );
    assert!(failures.is_empty(), "{} disagreements:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(valid + invalid + acceptable, file.number_of_tests);
    // The file in this repository has 88 valid and 63 invalid cases; a smaller
    // count would mean the vectors were not all read.
    assert!(valid >= 88 && invalid >= 63, "valid {valid}, invalid {invalid}");
    assert_eq!(tampered_checked, valid);
}

#[test]
fn small_order_keys_are_refused_on_import() {
    // Points of small order (the identity, order 2, order 4 and an order-8
    // point): a signature "verifies" under them for many messages, which is
    // why key import refuses them.
    for pk in [
        "0100000000000000000000000000000000000000000000000000000000000000",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    ] {
        assert_eq!(PublicKey::from_bytes(&array::<32>(&unhex(pk)), None), Err(KeyError::WeakPublicKey), "{pk}");
    }
}

// ---------------------------------------------------------------- RFC 8037

/// RFC 8037 A.1: the Ed25519 private key as a JWK.
const RFC8037_PRIVATE_JWK: &str = r#"{"kty":"OKP","crv":"Ed25519",
   "d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
   "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
/// RFC 8037 A.2: the public key.
const RFC8037_PUBLIC_JWK: &str = r#"{"kty":"OKP","crv":"Ed25519",
   "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
/// RFC 8037 A.3: the RFC 7638 thumbprint of the key.
const RFC8037_THUMBPRINT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";
/// RFC 8037 A.4: the JWS over "Example of Ed25519 signing" with header {"alg":"EdDSA"}.
const RFC8037_JWS: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.\
hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
const RFC8037_PAYLOAD: &[u8] = b"Example of Ed25519 signing";

#[test]
fn rfc8037_a1_a2_a3_keys_and_thumbprint() {
    let key = SigningKey::from_jwk_json(RFC8037_PRIVATE_JWK).unwrap();
    // Without a `kid` the key is named by its thumbprint (A.3).
    assert_eq!(key.kid(), RFC8037_THUMBPRINT);
    assert_eq!(thumbprint(key.public_key().verifying_key()), RFC8037_THUMBPRINT);
    // The key bytes are those of RFC 8032 TEST 1.
    assert_eq!(
        hex(key.public_key().verifying_key().as_bytes()),
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );

    // A.2 as a public key set gets the same kid.
    let set = KeySet::from_json(RFC8037_PUBLIC_JWK).unwrap();
    assert_eq!(set.keys().len(), 1);
    assert_eq!(set.keys()[0].kid(), RFC8037_THUMBPRINT);
    assert_eq!(set.keys()[0], key.public_key());

    // A.1 is private: a public key set refuses it.
    assert_eq!(
        KeySet::from_json(RFC8037_PRIVATE_JWK),
        Err(KeyError::PrivateInPublicSet { kid: RFC8037_THUMBPRINT.to_string() })
    );
    // And a private JWK whose `x` is not `d`'s public key is refused.
    let mismatched = RFC8037_PRIVATE_JWK.replace("11qYAYKx", "11qYAYKy");
    assert!(SigningKey::from_jwk_json(&mismatched).is_err());
}

#[test]
fn rfc8037_a4_jws_verifies_and_is_reproduced() {
    let key = SigningKey::from_jwk_json(RFC8037_PRIVATE_JWK).unwrap();
    let public = KeySet::from_json(RFC8037_PUBLIC_JWK).unwrap();
    let verifying = public.keys()[0].verifying_key();

    // A.4 parses and verifies with the A.2 public key.
    let parsed = jws::parse_compact(RFC8037_JWS, 4096).unwrap();
    assert_eq!(parsed.header.alg, "EdDSA");
    assert_eq!(parsed.header.kid, None);
    assert_eq!(parsed.payload, RFC8037_PAYLOAD);
    jws::verify_signature(&parsed, verifying).unwrap();

    // Signing the same payload under the same header reproduces the token exactly.
    let token = jws::sign_compact(&serde_json::json!({"alg": "EdDSA"}), RFC8037_PAYLOAD, &key);
    assert_eq!(token, RFC8037_JWS);

    // The check is live: a different payload under the A.4 signature fails.
    let (input, sig) = RFC8037_JWS.rsplit_once('.').unwrap();
    let (header, _) = input.split_once('.').unwrap();
    let forged = format!("{header}.{}.{sig}", b64::encode(b"Example of Ed25519 signinG"));
    let parsed = jws::parse_compact(&forged, 4096).unwrap();
    assert_eq!(jws::verify_signature(&parsed, verifying), Err(signalgate::bundle::BundleError::BadSignature));
}
