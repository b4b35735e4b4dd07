//! Protection at rest for single ledger values: AES-256-GCM under a key per
//! tenant, derived with HKDF-SHA256 from a master key of the origin's
//! keyring (`SG_DATA_KEYS`).
//!
//! A sealed value is one line of text, `v1.<kid>.<nonce>.<ciphertext>`, with
//! the nonce (12 random bytes from the ledger's [`Entropy`]) and the
//! ciphertext with its 16-byte tag in unpadded base64url. The tenant is bound
//! through the key (a value copied to another tenant does not open there) and
//! the caller's `aad` through the tag (say, the table, column and row the
//! value belongs to, so it cannot be moved to another). `kid` names the
//! master key it was sealed under, so the keyring can be rotated: new values
//! are sealed under the active key, older ones still open under theirs until
//! they are sealed again ([`DataKeys::needs_rotation`]).
//!
//! ```
//! use signalgate::ledger::entropy::SeededEntropy;
//! use signalgate::ledger::DataKeys;
//!
//! let mut entropy = SeededEntropy::new(1); // production: `OsEntropy`
//! let keys = DataKeys::from_json(&DataKeys::generate("k1", &mut entropy).unwrap()).unwrap();
//! let sealed = keys.seal("demo-shop", b"signals.value", b"de", &mut entropy).unwrap();
//! assert!(sealed.starts_with("v1.k1."));
//! assert_eq!(keys.open("demo-shop", b"signals.value", &sealed).unwrap(), b"de");
//! assert!(keys.open("other-shop", b"signals.value", &sealed).is_err());
//! ```

use std::collections::BTreeMap;
use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::Aes256Gcm;
use hkdf::Hkdf;
use serde_json::{Map, Value as Json};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use super::entropy::Entropy;
use super::error::{echo, LedgerError};
use crate::codec::{b64, json};
use crate::model::is_ident;

/// The version prefix of a sealed value.
const VERSION: &str = "v1";
/// Bytes of a master or tenant key.
pub const KEY_LEN: usize = 32;
/// Bytes of a nonce.
pub const NONCE_LEN: usize = 12;
/// Bytes of the authentication tag that ends the ciphertext.
pub const TAG_LEN: usize = 16;
/// The HKDF salt of tenant keys (the tenant id is the `info`).
const TENANT_SALT: &[u8] = b"signalgate data key v1";
/// The setting the keyring comes from, as error messages name it.
const SETTING: &str = "SG_DATA_KEYS";

/// A master key's bytes, zeroed on drop.
type Secret = Zeroizing<[u8; KEY_LEN]>;

/// The origin's data keyring: master keys by key id (`kid`), and the active
/// one that new values are sealed under. Debug shows the key ids only, and
/// the key bytes are zeroed when the keyring is dropped.
#[derive(Clone)]
pub struct DataKeys {
    active: String,
    keys: BTreeMap<String, Secret>,
}

impl fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKeys")
            .field("active", &self.active)
            .field("kids", &self.keys.keys())
            .finish_non_exhaustive()
    }
}

impl DataKeys {
    /// Reads a keyring: `{"active": "k2", "keys": {"k1": "<key>", "k2": "<key>"}}`
    /// where each key is 32 bytes in unpadded base64url and each key id an
    /// identifier. Strict: unknown or duplicate members, a key of another
    /// length and an `active` id that is not in `keys` are refused with
    /// [`LedgerError::Config`] naming the member; no message echoes key bytes.
    pub fn from_json(text: &str) -> Result<DataKeys, LedgerError> {
        let doc = Scrubbed(json::from_slice_strict::<Json>(text.as_bytes()).map_err(|e| config("", &e.to_string()))?);
        let Json::Object(top) = &doc.0 else {
            return Err(config("", "expected a JSON object"));
        };
        if let Some(name) = top.keys().find(|name| !matches!(name.as_str(), "active" | "keys")) {
            return Err(config(&member(name), "unknown member (expected `active` and `keys`)"));
        }
        let keys = match top.get("keys") {
            None => return Err(config(".keys", "is required")),
            Some(Json::Object(keys)) => read_keys(keys)?,
            Some(_) => return Err(config(".keys", "expected an object of key id to base64url key")),
        };
        let active = match top.get("active") {
            None => return Err(config(".active", "is required")),
            Some(Json::String(kid)) if !is_ident(kid) => {
                return Err(config(".active", "expected a key id (1 to 64 of `A-Z a-z 0-9 . _ : -`)"))
            }
            Some(Json::String(kid)) => kid.clone(),
            Some(_) => return Err(config(".active", "expected a key id (a string)")),
        };
        if !keys.contains_key(&active) {
            return Err(config(".active", &format!("no key `{active}` in `keys`")));
        }
        Ok(DataKeys { active, keys })
    }

    /// A new keyring's JSON with one fresh key, `kid`, active (for
    /// `SG_DATA_KEYS`; it holds the key, so treat it as a secret).
    pub fn generate(kid: &str, entropy: &mut impl Entropy) -> Result<String, LedgerError> {
        let keys = BTreeMap::from([(checked_kid(kid)?.to_string(), fresh_key(entropy)?)]);
        Ok(render(kid, &keys))
    }

    /// This keyring's JSON with a fresh key `kid` added and made active, the
    /// others kept so that values sealed under them still open: the rotation
    /// step. `kid` must be new.
    pub fn with_new_key(&self, kid: &str, entropy: &mut impl Entropy) -> Result<String, LedgerError> {
        if self.keys.contains_key(checked_kid(kid)?) {
            return Err(config(
                &member_of_keys(kid),
                "a key with this id exists already (a rotation needs a new key id)",
            ));
        }
        let mut keys = self.keys.clone();
        keys.insert(kid.to_string(), fresh_key(entropy)?);
        Ok(render(kid, &keys))
    }

    /// The key id new values are sealed under.
    pub fn active_kid(&self) -> &str {
        &self.active
    }

    /// Encrypts `plaintext` for `tenant` under the active key, with a fresh
    /// nonce from `entropy`, binding `aad` (which [`open`](Self::open) must be
    /// given again). Returns `v1.<kid>.<nonce>.<ciphertext and tag>`.
    pub fn seal(
        &self,
        tenant: &str,
        aad: &[u8],
        plaintext: &[u8],
        entropy: &mut impl Entropy,
    ) -> Result<String, LedgerError> {
        let key = self.tenant_key(&self.active, tenant)?;
        let mut nonce = [0u8; NONCE_LEN];
        entropy.fill(&mut nonce)?;
        let sealed = gcm_encrypt(&key, &nonce, aad, plaintext)
            .map_err(|_| LedgerError::Storage { detail: "a value could not be encrypted (too large)".into() })?;
        Ok(format!("{VERSION}.{}.{}.{}", self.active, b64::encode(&nonce), b64::encode(&sealed)))
    }

    /// Decrypts a value [`seal`](Self::seal)ed for `tenant` with this `aad`,
    /// under whichever key of the keyring its `kid` names.
    ///
    /// A value that is not of the sealed form, or fails authentication
    /// (changed, moved to another row or tenant, or given another `aad`), is
    /// [`LedgerError::Integrity`]; a `kid` that the keyring does not hold is
    /// [`LedgerError::Config`].
    pub fn open(&self, tenant: &str, aad: &[u8], sealed: &str) -> Result<Vec<u8>, LedgerError> {
        let parsed = parse(sealed).map_err(|what| LedgerError::Integrity {
            detail: format!("an encrypted value is malformed ({what}; expected `v1.<kid>.<nonce>.<ciphertext>`)"),
        })?;
        let key = self.tenant_key(parsed.kid, tenant)?;
        gcm_decrypt(&key, &parsed.nonce, aad, &parsed.ciphertext).map_err(|_| LedgerError::Integrity {
            detail: "an encrypted value fails authentication (tampered, moved or under another tenant)".into(),
        })
    }

    /// Whether `sealed` was sealed under a key other than the active one, so
    /// that sealing it again would move it to the active key. `false` for
    /// text that is not a sealed value.
    pub fn needs_rotation(&self, sealed: &str) -> bool {
        sealed_kid(sealed).is_some_and(|kid| kid != self.active)
    }

    /// The key of `tenant` under master key `kid`.
    fn tenant_key(&self, kid: &str, tenant: &str) -> Result<Secret, LedgerError> {
        let master = self.keys.get(kid).ok_or_else(|| LedgerError::Config {
            detail: format!("no data key {}: was it removed from {SETTING}?", shown_kid(kid)),
        })?;
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        hkdf_sha256(&master[..], TENANT_SALT, tenant.as_bytes(), &mut key[..])?;
        Ok(key)
    }
}

/// The key id of a sealed value, if `sealed` has the sealed form.
pub fn sealed_kid(sealed: &str) -> Option<&str> {
    parse(sealed).ok().map(|p| p.kid)
}

/// Whether `s` has the sealed form `v1.<kid>.<nonce>.<ciphertext>` (it may
/// still fail to open).
pub fn is_sealed(s: &str) -> bool {
    parse(s).is_ok()
}

/// A sealed value taken apart.
struct Parsed<'a> {
    kid: &'a str,
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
}

/// Takes `v1.<kid>.<nonce>.<ciphertext>` apart. A key id may hold dots, so
/// the nonce and ciphertext (base64url, no dots) are split off the end.
fn parse(sealed: &str) -> Result<Parsed<'_>, &'static str> {
    let rest = sealed.strip_prefix(VERSION).and_then(|r| r.strip_prefix('.')).ok_or("not version `v1`")?;
    let mut parts = rest.rsplitn(3, '.');
    let (Some(ciphertext), Some(nonce), Some(kid)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("too few parts");
    };
    if !is_ident(kid) {
        return Err("the key id is not an identifier");
    }
    let nonce = b64::decode(nonce)
        .and_then(|n| <[u8; NONCE_LEN]>::try_from(n).ok())
        .ok_or("the nonce is not 12 bytes of base64url")?;
    let ciphertext = b64::decode(ciphertext)
        .filter(|c| c.len() >= TAG_LEN)
        .ok_or("the ciphertext is not at least 16 bytes of base64url")?;
    Ok(Parsed { kid, nonce, ciphertext })
}

/// HKDF-SHA256 (RFC 5869) of `ikm` with `salt` and `info`, filling `okm`
/// (at most 8160 bytes).
fn hkdf_sha256(ikm: &[u8], salt: &[u8], info: &[u8], okm: &mut [u8]) -> Result<(), LedgerError> {
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, okm)
        .map_err(|_| LedgerError::Config { detail: "HKDF output longer than 8160 bytes".into() })
}

/// AES-256-GCM encryption: the ciphertext followed by the 16-byte tag.
fn gcm_encrypt(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, aes_gcm::Error> {
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| aes_gcm::Error)?;
    cipher.encrypt(&(*nonce).into(), Payload { msg: plaintext, aad })
}

/// AES-256-GCM decryption of ciphertext followed by tag; fails unless the tag
/// authenticates the ciphertext and `aad` under `key` and `nonce`.
fn gcm_decrypt(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, aes_gcm::Error> {
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| aes_gcm::Error)?;
    cipher.decrypt(&(*nonce).into(), Payload { msg: ciphertext, aad })
}

/// Reads the `keys` member: key id -> 32 bytes of base64url.
fn read_keys(keys: &Map<String, Json>) -> Result<BTreeMap<String, Secret>, LedgerError> {
    if keys.is_empty() {
        return Err(config(".keys", "holds no key"));
    }
    let mut out = BTreeMap::new();
    for (kid, value) in keys {
        let at = member_of_keys(kid);
        if !is_ident(kid) {
            return Err(config(&at, "a key id must be an identifier (1 to 64 of `A-Z a-z 0-9 . _ : -`)"));
        }
        let Json::String(text) = value else {
            return Err(config(&at, "expected 32 bytes of base64url (a string)"));
        };
        let Some(bytes) = b64::decode(text).map(Zeroizing::new) else {
            return Err(config(&at, "expected 32 bytes of base64url, found text that is not unpadded base64url"));
        };
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        if bytes.len() != KEY_LEN {
            return Err(config(&at, &format!("expected 32 bytes of base64url, found {}", bytes.len())));
        }
        key.copy_from_slice(&bytes);
        out.insert(kid.clone(), key);
    }
    Ok(out)
}

/// 32 fresh key bytes.
fn fresh_key(entropy: &mut impl Entropy) -> Result<Secret, LedgerError> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    entropy.fill(&mut key[..])?;
    Ok(key)
}

/// `kid` if it is an identifier.
fn checked_kid(kid: &str) -> Result<&str, LedgerError> {
    if is_ident(kid) {
        Ok(kid)
    } else {
        Err(LedgerError::Config {
            detail: format!("key id {}: expected an identifier (1 to 64 of `A-Z a-z 0-9 . _ : -`)", echo(kid)),
        })
    }
}

/// A keyring's JSON. Key ids are identifiers and keys base64url, neither
/// needs escaping; written by hand so no serializer keeps copies of the keys.
fn render(active: &str, keys: &BTreeMap<String, Secret>) -> String {
    let mut out = format!("{{\"active\": \"{active}\", \"keys\": {{");
    for (i, (kid, key)) in keys.iter().enumerate() {
        let encoded = Zeroizing::new(b64::encode(&key[..]));
        out.push_str(if i == 0 { "\"" } else { ", \"" });
        out.push_str(kid);
        out.push_str("\": \"");
        out.push_str(&encoded);
        out.push('"');
    }
    out.push_str("}}");
    out
}

/// A configuration error at `SG_DATA_KEYS<path>`.
fn config(path: &str, what: &str) -> LedgerError {
    LedgerError::Config { detail: format!("{SETTING}{path}: {what}") }
}

/// `.name` for a top-level member, as error messages show it.
fn member(name: &str) -> String {
    if is_ident(name) {
        format!(".{name}")
    } else {
        " (a member whose name is not an identifier)".into()
    }
}

/// `.keys.kid`, as error messages show it.
fn member_of_keys(kid: &str) -> String {
    if is_ident(kid) {
        format!(".keys.{kid}")
    } else {
        ".keys (a key id that is not an identifier)".into()
    }
}

/// A key id as error messages show it: in backticks when an identifier.
fn shown_kid(kid: &str) -> String {
    if is_ident(kid) {
        format!("`{kid}`")
    } else {
        "(a key id that is not an identifier)".into()
    }
}

/// A parsed keyring document whose strings (the encoded keys) are zeroed on drop.
struct Scrubbed(Json);

impl Drop for Scrubbed {
    fn drop(&mut self) {
        fn scrub(value: &mut Json) {
            match value {
                Json::String(s) => s.zeroize(),
                Json::Array(list) => list.iter_mut().for_each(scrub),
                Json::Object(map) => map.values_mut().for_each(scrub),
                _ => {}
            }
        }
        scrub(&mut self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::entropy::SeededEntropy;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn hex_of(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Master key `k1` = bytes 0..32, `k2` = bytes 32..64.
    const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    const K2: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8";

    fn keyring(active: &str) -> DataKeys {
        DataKeys::from_json(&format!(r#"{{"active": "{active}", "keys": {{"k1": "{K1}", "k2": "{K2}"}}}}"#)).unwrap()
    }

    fn integrity(r: Result<Vec<u8>, LedgerError>) -> String {
        match r {
            Err(LedgerError::Integrity { detail }) => detail,
            other => panic!("expected an integrity error, got {other:?}"),
        }
    }

    fn config_detail<T: fmt::Debug>(r: Result<T, LedgerError>) -> String {
        match r {
            Err(LedgerError::Config { detail }) => detail,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    /// McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", 2005,
    /// appendix B, test cases 15 (no AAD) and 16 (with AAD): AES-256.
    #[test]
    fn aes_256_gcm_matches_the_gcm_spec_test_cases_15_and_16() {
        let key: [u8; 32] = hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308").try_into().unwrap();
        let nonce: [u8; 12] = hex("cafebabefacedbaddecaf888").try_into().unwrap();
        let p15 = hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72
                       1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255");
        let c15 = hex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa
                       8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad
                       b094dac5d93471bdec1a502270e3cc6c");
        assert_eq!(hex_of(&gcm_encrypt(&key, &nonce, b"", &p15).unwrap()), hex_of(&c15));
        assert_eq!(gcm_decrypt(&key, &nonce, b"", &c15).unwrap(), p15);

        let aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
        let p16 = &p15[..60];
        let c16 = hex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa
                       8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662
                       76fc6ece0f4e1768cddf8853bb2d551b");
        assert_eq!(hex_of(&gcm_encrypt(&key, &nonce, &aad, p16).unwrap()), hex_of(&c16));
        assert_eq!(gcm_decrypt(&key, &nonce, &aad, &c16).unwrap(), p16);
        assert!(gcm_decrypt(&key, &nonce, b"", &c16).is_err(), "the AAD is authenticated");
    }

    /// RFC 5869, appendix A.1 (test case 1) and A.3 (test case 3: empty salt and info).
    #[test]
    fn hkdf_sha256_matches_rfc_5869_test_cases_1_and_3() {
        let ikm = [0x0b; 22];
        let mut okm = [0u8; 42];
        hkdf_sha256(&ikm, &hex("000102030405060708090a0b0c"), &hex("f0f1f2f3f4f5f6f7f8f9"), &mut okm).unwrap();
        assert_eq!(
            hex_of(&okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
        hkdf_sha256(&ikm, b"", b"", &mut okm).unwrap();
        assert_eq!(
            hex_of(&okm),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
        );
    }

    /// The tenant key and a whole sealed value, computed independently (Python
    /// `hmac`/`hashlib` for HKDF and `SeededEntropy`, and `cryptography`'s
    /// AESGCM), so that the salt, the info and the layout are pinned.
    #[test]
    fn tenant_key_and_sealed_form_match_an_independent_computation() {
        let keys = keyring("k1");
        assert_eq!(
            hex_of(&keys.tenant_key("k1", "demo-shop").unwrap()[..]),
            "e748342518b643d41840fd7d26c728fb12fca01867f9987a9cacb8189a7e2189"
        );
        let sealed = keys.seal("demo-shop", b"signals.value", b"de", &mut SeededEntropy::new(7)).unwrap();
        assert_eq!(sealed, "v1.k1.JjyvvYoM8RMo8AxK.dDblthWKhAnhvAhU8l-H2RVO");
    }

    #[test]
    fn a_value_round_trips_with_fresh_nonces() {
        let keys = keyring("k2");
        let mut entropy = SeededEntropy::new(1);
        for plaintext in [&b""[..], b"de", &[0u8; 1000][..]] {
            let a = keys.seal("t1", b"aad", plaintext, &mut entropy).unwrap();
            let b = keys.seal("t1", b"aad", plaintext, &mut entropy).unwrap();
            assert_ne!(a, b, "a fresh nonce each time");
            assert!(a.starts_with("v1.k2.") && is_sealed(&a), "{a}");
            assert_eq!(keys.open("t1", b"aad", &a).unwrap(), plaintext);
            assert_eq!(keys.open("t1", b"aad", &b).unwrap(), plaintext);
        }
    }

    #[test]
    fn tenants_have_their_own_keys() {
        let keys = keyring("k1");
        assert_ne!(keys.tenant_key("k1", "t1").unwrap(), keys.tenant_key("k1", "t2").unwrap());
        assert_ne!(keys.tenant_key("k1", "t1").unwrap(), keys.tenant_key("k2", "t1").unwrap());
        let (a, b) = (
            keys.seal("t1", b"x", b"same", &mut SeededEntropy::new(3)).unwrap(),
            keys.seal("t2", b"x", b"same", &mut SeededEntropy::new(3)).unwrap(),
        );
        let (pa, pb) = (parse(&a).unwrap(), parse(&b).unwrap());
        assert_eq!(pa.nonce, pb.nonce, "same entropy, same nonce");
        assert_ne!(pa.ciphertext, pb.ciphertext, "but another key");
        assert!(integrity(keys.open("t2", b"x", &a)).contains("fails authentication"));
        assert!(integrity(keys.open("t1", b"x", &b)).contains("fails authentication"));
        assert!(integrity(keys.open("t", b"x", &a)).contains("fails authentication"));
    }

    #[test]
    fn another_aad_fails() {
        let keys = keyring("k1");
        let sealed = keys.seal("t1", b"signals.value:s-1", b"de", &mut SeededEntropy::new(1)).unwrap();
        assert_eq!(keys.open("t1", b"signals.value:s-1", &sealed).unwrap(), b"de");
        for aad in [&b""[..], b"signals.value:s-2", b"signals.value:s-1\0"] {
            assert!(integrity(keys.open("t1", aad, &sealed)).contains("fails authentication"));
        }
    }

    #[test]
    fn every_changed_byte_of_nonce_ciphertext_or_tag_fails() {
        let keys = keyring("k1");
        let sealed = keys.seal("t1", b"aad", b"a preference", &mut SeededEntropy::new(5)).unwrap();
        let p = parse(&sealed).unwrap();
        let mut tried = 0;
        for i in 0..p.nonce.len() {
            for bit in [0x01, 0x80] {
                let mut nonce = p.nonce;
                nonce[i] ^= bit;
                let forged = format!("v1.k1.{}.{}", b64::encode(&nonce), b64::encode(&p.ciphertext));
                assert!(integrity(keys.open("t1", b"aad", &forged)).contains("fails authentication"), "nonce {i}");
                tried += 1;
            }
        }
        for i in 0..p.ciphertext.len() {
            for bit in [0x01, 0x80] {
                let mut ct = p.ciphertext.clone();
                ct[i] ^= bit;
                let forged = format!("v1.k1.{}.{}", b64::encode(&p.nonce), b64::encode(&ct));
                assert!(integrity(keys.open("t1", b"aad", &forged)).contains("fails authentication"), "byte {i}");
                tried += 1;
            }
        }
        assert_eq!(tried, 2 * (12 + 12 + 16));
        // And every change of one character of the text: malformed or unauthentic.
        for i in "v1.k1.".len()..sealed.len() {
            let mut text = sealed.clone().into_bytes();
            text[i] = if text[i] == b'A' { b'B' } else { b'A' };
            let text = String::from_utf8(text).unwrap();
            integrity(keys.open("t1", b"aad", &text));
        }
        // Cutting the value anywhere.
        for cut in 0..sealed.len() {
            let r = keys.open("t1", b"aad", &sealed[..cut]);
            assert!(matches!(r, Err(LedgerError::Integrity { .. }) | Err(LedgerError::Config { .. })), "{cut}: {r:?}");
        }
    }

    #[test]
    fn an_unknown_kid_is_a_config_error_naming_it() {
        let sealed = keyring("k1").seal("t1", b"", b"de", &mut SeededEntropy::new(1)).unwrap();
        let only_k2 = DataKeys::from_json(&format!(r#"{{"active": "k2", "keys": {{"k2": "{K2}"}}}}"#)).unwrap();
        assert_eq!(
            config_detail(only_k2.open("t1", b"", &sealed)),
            "no data key `k1`: was it removed from SG_DATA_KEYS?"
        );
        let forged = sealed.replacen("v1.k1.", "v1.k0.", 1);
        assert_eq!(
            config_detail(keyring("k1").open("t1", b"", &forged)),
            "no data key `k0`: was it removed from SG_DATA_KEYS?"
        );
    }

    #[test]
    fn malformed_values_are_integrity_errors() {
        let keys = keyring("k1");
        let sealed = keys.seal("t1", b"", b"de", &mut SeededEntropy::new(1)).unwrap();
        let p = parse(&sealed).unwrap();
        let (n, c) = (b64::encode(&p.nonce), b64::encode(&p.ciphertext));
        let cases = [
            (String::new(), "not version `v1`"),
            ("de".into(), "not version `v1`"),
            (format!("v2.k1.{n}.{c}"), "not version `v1`"),
            (format!("V1.k1.{n}.{c}"), "not version `v1`"),
            (format!("v1k1.{n}.{c}"), "not version `v1`"),
            (format!("v1.{n}.{c}"), "too few parts"),
            (format!("v1.k 1.{n}.{c}"), "the key id is not"),
            (format!("v1..{n}.{c}"), "the key id is not"),
            (format!("v1.k1.{n}.{c}.x"), "the nonce is not"),
            (format!("v1.k1.{n}={c}"), "too few parts"),
            (format!("v1.k1.{}.{c}", b64::encode(&p.nonce[..11])), "the nonce is not"),
            (format!("v1.k1.{}.{c}", b64::encode(&[0; 13])), "the nonce is not"),
            (format!("v1.k1.{n}=.{c}"), "the nonce is not"),
            (format!("v1.k1.{n}.{}", b64::encode(&p.ciphertext[..15])), "the ciphertext is not"),
            (format!("v1.k1.{n}.{c}="), "the ciphertext is not"),
            (format!("v1.k1.{n}.+{}", &c[1..]), "the ciphertext is not"),
        ];
        for (text, what) in &cases {
            let detail = integrity(keys.open("t1", b"", text));
            assert!(detail.contains("malformed") && detail.contains(what), "{text}: {detail}");
            assert!(!is_sealed(text) && sealed_kid(text).is_none(), "{text}");
        }
        // Well formed under a dotted key id the keyring does not hold: not malformed.
        let dotted = format!("v1.k1.{n}.{n}.{c}");
        assert_eq!(sealed_kid(&dotted), Some(format!("k1.{n}").as_str()));
        assert!(config_detail(keys.open("t1", b"", &dotted)).starts_with(&format!("no data key `k1.{n}`")));
        // A tag-only value (empty plaintext) has exactly 16 bytes and is well formed.
        let empty = keys.seal("t1", b"", b"", &mut SeededEntropy::new(1)).unwrap();
        assert_eq!(parse(&empty).unwrap().ciphertext.len(), TAG_LEN);
        assert_eq!(keys.open("t1", b"", &empty).unwrap(), b"");
    }

    #[test]
    fn rotation_keeps_old_values_readable_and_seals_under_the_new_key() {
        let mut entropy = SeededEntropy::new(11);
        let v1 = DataKeys::from_json(&DataKeys::generate("k1", &mut entropy).unwrap()).unwrap();
        assert_eq!(v1.active_kid(), "k1");
        let old = v1.seal("t1", b"aad", b"de", &mut entropy).unwrap();
        assert!(!v1.needs_rotation(&old));

        let v2 = DataKeys::from_json(&v1.with_new_key("k2", &mut entropy).unwrap()).unwrap();
        assert_eq!(v2.active_kid(), "k2");
        assert_eq!(v2.open("t1", b"aad", &old).unwrap(), b"de");
        assert!(v2.needs_rotation(&old));
        assert_eq!(sealed_kid(&old), Some("k1"));

        let new = v2.seal("t1", b"aad", b"de", &mut entropy).unwrap();
        assert_eq!(sealed_kid(&new), Some("k2"));
        assert!(!v2.needs_rotation(&new));
        assert!(!v2.needs_rotation("not sealed"));
        assert_eq!(v2.open("t1", b"aad", &new).unwrap(), b"de");
        assert!(matches!(v1.open("t1", b"aad", &new), Err(LedgerError::Config { .. })), "k1-only keyring");
        // The old key is the same bytes in both keyrings.
        assert_eq!(v1.tenant_key("k1", "t1").unwrap(), v2.tenant_key("k1", "t1").unwrap());

        assert!(config_detail(v2.with_new_key("k1", &mut entropy))
            .contains("SG_DATA_KEYS.keys.k1: a key with this id exists"));
        assert!(config_detail(DataKeys::generate("no spaces", &mut entropy)).contains("expected an identifier"));
        assert!(config_detail(v2.with_new_key("", &mut entropy)).contains("expected an identifier"));
    }

    #[test]
    fn key_ids_may_hold_dots_and_colons() {
        let mut entropy = SeededEntropy::new(2);
        let keys = DataKeys::from_json(&DataKeys::generate("2026.05:a-b_c", &mut entropy).unwrap()).unwrap();
        let sealed = keys.seal("t1", b"", b"de", &mut entropy).unwrap();
        assert_eq!(sealed_kid(&sealed), Some("2026.05:a-b_c"));
        assert_eq!(keys.open("t1", b"", &sealed).unwrap(), b"de");
    }

    #[test]
    fn keyring_errors_name_the_member() {
        let k31 = b64::encode(&[7; 31]);
        let k33 = b64::encode(&[7; 33]);
        let cases = [
            (
                format!(r#"{{"active": "k1", "keys": {{"k1": "{k31}"}}}}"#),
                "SG_DATA_KEYS.keys.k1: expected 32 bytes of base64url, found 31",
            ),
            (
                format!(r#"{{"active": "k1", "keys": {{"k1": "{k33}"}}}}"#),
                "SG_DATA_KEYS.keys.k1: expected 32 bytes of base64url, found 33",
            ),
            (
                format!(r#"{{"active": "k1", "keys": {{"k1": "{K1}="}}}}"#),
                "SG_DATA_KEYS.keys.k1: expected 32 bytes of base64url, found text that is not",
            ),
            (
                r#"{"active": "k1", "keys": {"k1": 5}}"#.into(),
                "SG_DATA_KEYS.keys.k1: expected 32 bytes of base64url (a string)",
            ),
            (
                format!(r#"{{"active": "k1", "keys": {{"k 1": "{K1}"}}}}"#),
                "SG_DATA_KEYS.keys (a key id that is not an identifier)",
            ),
            (format!(r#"{{"active": "k2", "keys": {{"k1": "{K1}"}}}}"#), "SG_DATA_KEYS.active: no key `k2` in `keys`"),
            (format!(r#"{{"keys": {{"k1": "{K1}"}}}}"#), "SG_DATA_KEYS.active: is required"),
            (format!(r#"{{"active": 1, "keys": {{"k1": "{K1}"}}}}"#), "SG_DATA_KEYS.active: expected a key id"),
            (format!(r#"{{"active": "", "keys": {{"k1": "{K1}"}}}}"#), "SG_DATA_KEYS.active: expected a key id"),
            (r#"{"active": "k1"}"#.into(), "SG_DATA_KEYS.keys: is required"),
            (r#"{"active": "k1", "keys": {}}"#.into(), "SG_DATA_KEYS.keys: holds no key"),
            (format!(r#"{{"active": "k1", "keys": ["{K1}"]}}"#), "SG_DATA_KEYS.keys: expected an object"),
            (
                format!(r#"{{"active": "k1", "keys": {{"k1": "{K1}"}}, "kyes": {{}}}}"#),
                "SG_DATA_KEYS.kyes: unknown member",
            ),
            (
                format!(r#"{{"active": "k1", "keys": {{"k1": "{K1}"}}, "a b": 1}}"#),
                "SG_DATA_KEYS (a member whose name is not an identifier)",
            ),
            (
                format!(r#"{{"active": "k1", "keys": {{"k1": "{K1}", "k1": "{K2}"}}}}"#),
                "SG_DATA_KEYS: member `k1` appears twice",
            ),
            (
                format!(r#"{{"active": "k1", "active": "k1", "keys": {{"k1": "{K1}"}}}}"#),
                "SG_DATA_KEYS: member `active` appears twice",
            ),
            (format!(r#"{{"active": "k1", "keys": {{"k1": "{K1}"}}"#), "SG_DATA_KEYS: not valid JSON"),
            (format!(r#"[{{"active": "k1", "keys": {{"k1": "{K1}"}}}}]"#), "SG_DATA_KEYS: not valid JSON"),
            ("".into(), "SG_DATA_KEYS: not valid JSON"),
        ];
        for (text, expected) in &cases {
            let detail = config_detail(DataKeys::from_json(text));
            assert!(detail.starts_with(expected), "{text}\n  got: {detail}\n  expected: {expected}");
            for secret in [K1, K2, &k31, &k33] {
                assert!(!detail.contains(secret), "{detail} echoes a key");
            }
        }
    }

    #[test]
    fn debug_and_errors_show_no_key_material() {
        let keys = keyring("k2");
        let debug = format!("{keys:?} {keys:#?}");
        assert!(debug.contains("k1") && debug.contains("k2") && debug.contains("active"), "{debug}");
        for (encoded, bytes) in [(K1, b64::decode(K1).unwrap()), (K2, b64::decode(K2).unwrap())] {
            assert!(!debug.contains(encoded), "{debug}");
            assert!(!debug.to_lowercase().contains(&hex_of(&bytes)), "{debug}");
            assert!(!debug.contains(&hex_of(&bytes[..4])), "{debug}");
            assert!(!debug.contains(&format!("{:?}", &bytes[..4])), "{debug}");
        }
    }

    #[test]
    fn generate_writes_a_keyring_that_reads_back() {
        let text = DataKeys::generate("k1", &mut SeededEntropy::new(1)).unwrap();
        let keys = DataKeys::from_json(&text).unwrap();
        assert_eq!(keys.active_kid(), "k1");
        assert_ne!(text, DataKeys::generate("k1", &mut SeededEntropy::new(2)).unwrap(), "keys come from the entropy");
        let rotated = keys.with_new_key("k2", &mut SeededEntropy::new(9)).unwrap();
        assert!(rotated.starts_with(r#"{"active": "k2", "keys": {"k1": ""#), "{rotated}");
        assert_eq!(DataKeys::from_json(&rotated).unwrap().keys.len(), 2);
    }
}
