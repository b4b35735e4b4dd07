//! Ed25519 keys as JWK (RFC 7517, `kty` `OKP`, RFC 8037), key sets for
//! rotation, RFC 7638 thumbprints and key generation.
//!
//! ```
//! use signalgate::bundle::{KeySet, SigningKey};
//! let key = SigningKey::generate().unwrap();
//! let set = KeySet::from_json(&key.public_jwks_json()).unwrap();
//! assert!(set.get(key.kid()).is_some());
//! // Private keys never show in Debug output.
//! assert!(!format!("{key:?}").contains(&key.to_private_jwk_json()[..20]));
//! ```

use std::fmt;

use ed25519_dalek::{SigningKey as DalekSigning, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::error::KeyError;
use crate::codec::b64;
use crate::codec::json::from_slice_strict;
use crate::model::ident::is_ident;

/// Most keys one key set may hold.
pub const MAX_KEYS: usize = 16;

/// A JWK as it travels: only the members signalgate reads.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Jwk {
    /// The key type; must be `OKP`.
    pub kty: String,
    /// The curve; must be `Ed25519` (empty when absent).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub crv: String,
    /// The public key: 32 bytes in unpadded base64url.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub x: String,
    /// The private key (the RFC 8032 seed): 32 bytes in unpadded base64url.
    /// Only in private JWKs; a public key set that carries it is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    /// The key id, an identifier; without one, a key gets its RFC 7638 thumbprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// The algorithm; if present, must be `EdDSA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// `use`: the intended use; if present, must be `sig`.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// The permitted operations; if present, each must be `verify` or `sign`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct JwkSetDoc {
    keys: Vec<Jwk>,
}

fn key_bytes(member: &'static str, text: &str) -> Result<[u8; 32], KeyError> {
    b64::decode(text).and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok()).ok_or(KeyError::BadKeyBytes { member })
}

/// RFC 7638 thumbprint of an Ed25519 public key: SHA-256 over
/// `{"crv":"Ed25519","kty":"OKP","x":"..."}`, base64url.
pub fn thumbprint(key: &VerifyingKey) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, b64::encode(key.as_bytes()));
    b64::encode(&Sha256::digest(canonical.as_bytes()))
}

impl Jwk {
    /// Checks the members that pin a key to Ed25519 signatures with EdDSA.
    fn check_pinned(&self) -> Result<(), KeyError> {
        let unsupported = |member, found: &str| Err(KeyError::Unsupported { member, found: found.to_string() });
        if self.kty != "OKP" {
            return unsupported("kty", &self.kty);
        }
        if self.crv != "Ed25519" {
            return unsupported("crv", &self.crv);
        }
        if let Some(alg) = self.alg.as_deref().filter(|a| *a != "EdDSA") {
            return unsupported("alg", alg);
        }
        if let Some(u) = self.use_.as_deref().filter(|u| *u != "sig") {
            return unsupported("use", u);
        }
        if let Some(op) = self.key_ops.iter().flatten().find(|op| !matches!(op.as_str(), "verify" | "sign")) {
            return unsupported("key_ops", op);
        }
        if let Some(kid) = self.kid.as_deref().filter(|k| !is_ident(k)) {
            return Err(KeyError::BadKid { kid: kid.to_string() });
        }
        Ok(())
    }

    fn verifying_key(&self) -> Result<VerifyingKey, KeyError> {
        self.check_pinned()?;
        let x = key_bytes("x", &self.x)?;
        let key = VerifyingKey::from_bytes(&x).map_err(|_| KeyError::WeakPublicKey)?;
        if key.is_weak() {
            return Err(KeyError::WeakPublicKey);
        }
        Ok(key)
    }
}

/// A public key allowed to sign bundles, with its `kid`.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    kid: String,
    key: VerifyingKey,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey").field("kid", &self.kid).field("x", &b64::encode(self.key.as_bytes())).finish()
    }
}

impl PublicKey {
    /// Reads a public JWK. A key without `kid` gets its RFC 7638 thumbprint.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, KeyError> {
        let key = jwk.verifying_key()?;
        let kid = jwk.kid.clone().unwrap_or_else(|| thumbprint(&key));
        Ok(PublicKey { kid, key })
    }

    /// Wraps raw key bytes; the `kid` defaults to the thumbprint.
    pub fn from_bytes(bytes: &[u8; 32], kid: Option<&str>) -> Result<Self, KeyError> {
        let jwk = Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: b64::encode(bytes),
            kid: kid.map(str::to_string),
            ..Jwk::default()
        };
        Self::from_jwk(&jwk)
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The dalek verifying key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The public JWK, pinned to EdDSA.
    pub fn to_jwk(&self) -> Jwk {
        Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: b64::encode(self.key.as_bytes()),
            kid: Some(self.kid.clone()),
            alg: Some("EdDSA".into()),
            use_: Some("sig".into()),
            ..Jwk::default()
        }
    }
}

/// The keys a gate accepts, found by `kid`. Several may be active at once so
/// that keys rotate without breaking bundles in flight: add the new key,
/// start signing with it, and remove (retire) the old one once its bundles
/// have expired.
///
/// When several tenants share a gate, each key can be tied to the tenants it
/// may sign for ([`KeySet::with_key_tenants`]); a bundle signed by a key for
/// another tenant is then refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySet {
    keys: Vec<PublicKey>,
    /// `kid` -> the tenants it may sign for; `None`: every key, every tenant.
    tenants: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

impl KeySet {
    /// Builds a set from keys; `kid`s must be distinct.
    pub fn new(keys: Vec<PublicKey>) -> Result<Self, KeyError> {
        if keys.is_empty() || keys.len() > MAX_KEYS {
            return Err(KeyError::SetSize { found: keys.len() });
        }
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].iter().any(|other| other.kid == k.kid) {
                return Err(KeyError::DuplicateKid { kid: k.kid.clone() });
            }
        }
        Ok(KeySet { keys, tenants: None })
    }

    /// Ties each key to the tenants it may sign for (`{"kid": ["tenant", ...]}`).
    /// Keys the map does not name may then sign for no tenant. Every `kid` in
    /// the map must be in the set, and every tenant an identifier.
    pub fn with_key_tenants(mut self, map: std::collections::BTreeMap<String, Vec<String>>) -> Result<Self, KeyError> {
        for (kid, tenants) in &map {
            if self.get(kid).is_none() {
                return Err(KeyError::UnknownKidInBinding { kid: kid.clone() });
            }
            if let Some(t) = tenants.iter().find(|t| !is_ident(t)) {
                return Err(KeyError::BadKid { kid: format!("{kid}: tenant {t:?}") });
            }
        }
        self.tenants = Some(map);
        Ok(self)
    }

    /// Whether the key `kid` may sign bundles for `tenant`.
    pub fn allows_tenant(&self, kid: &str, tenant: &str) -> bool {
        self.tenants.as_ref().is_none_or(|m| m.get(kid).is_some_and(|ts| ts.iter().any(|t| t == tenant)))
    }

    /// Reads a JWK Set (`{"keys":[...]}`) or a single public JWK. Private
    /// members (`d`) are refused: a gate never holds signing keys.
    pub fn from_json(text: &str) -> Result<Self, KeyError> {
        let value: serde_json::Value = from_slice_strict(text.as_bytes())?;
        let jwks: Vec<Jwk> = if value.get("keys").is_some() {
            serde_json::from_value::<JwkSetDoc>(value).map_err(|e| KeyError::Json { detail: e.to_string() })?.keys
        } else {
            vec![serde_json::from_value(value).map_err(|e| KeyError::Json { detail: e.to_string() })?]
        };
        let mut keys = Vec::with_capacity(jwks.len());
        for jwk in &jwks {
            let key = PublicKey::from_jwk(jwk)?;
            if jwk.d.is_some() {
                return Err(KeyError::PrivateInPublicSet { kid: key.kid });
            }
            keys.push(key);
        }
        Self::new(keys)
    }

    /// The key with this `kid`.
    pub fn get(&self, kid: &str) -> Option<&PublicKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// All keys, in the order given.
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// The set as a JWK Set document.
    pub fn to_json(&self) -> String {
        let keys: Vec<Jwk> = self.keys.iter().map(PublicKey::to_jwk).collect();
        serde_json::json!({ "keys": keys }).to_string()
    }
}

/// An Ed25519 signing key with its `kid`. Its `Debug` output never shows the
/// private half, and the secret is zeroed when dropped.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    key: DalekSigning,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("d", &"[redacted]").finish()
    }
}

impl SigningKey {
    /// A new key from the operating system's (or WebCrypto's) randomness; its
    /// `kid` is the RFC 7638 thumbprint.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut()).map_err(|e| KeyError::Randomness { detail: e.to_string() })?;
        Ok(Self::from_seed(&seed, None))
    }

    /// A key from its 32-byte seed (RFC 8032 secret key).
    pub fn from_seed(seed: &[u8; 32], kid: Option<&str>) -> Self {
        let key = DalekSigning::from_bytes(seed);
        let kid = kid.map_or_else(|| thumbprint(&key.verifying_key()), str::to_string);
        SigningKey { kid, key }
    }

    /// Reads a private JWK (with `d`); `d` must match `x`.
    pub fn from_jwk_json(text: &str) -> Result<Self, KeyError> {
        let jwk: Jwk = from_slice_strict(text.as_bytes())?;
        let public = jwk.verifying_key()?;
        let d = Zeroizing::new(key_bytes("d", jwk.d.as_deref().unwrap_or_default())?);
        let key = DalekSigning::from_bytes(&d);
        if key.verifying_key() != public {
            return Err(KeyError::Mismatch);
        }
        let kid = jwk.kid.clone().unwrap_or_else(|| thumbprint(&public));
        Ok(SigningKey { kid, key })
    }

    /// The same key under another `kid` (an identifier).
    pub fn with_kid(self, kid: &str) -> Result<Self, KeyError> {
        if !is_ident(kid) {
            return Err(KeyError::BadKid { kid: kid.to_string() });
        }
        Ok(SigningKey { kid: kid.to_string(), key: self.key })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey { kid: self.kid.clone(), key: self.key.verifying_key() }
    }

    /// The private JWK (contains `d`: keep it secret).
    pub fn to_private_jwk_json(&self) -> String {
        let mut jwk = self.public_key().to_jwk();
        jwk.d = Some(b64::encode(self.key.as_bytes()));
        jwk.key_ops = None;
        serde_json::to_string(&jwk).unwrap_or_default()
    }

    /// A JWK Set holding only the public half.
    pub fn public_jwks_json(&self) -> String {
        KeySet { keys: vec![self.public_key()], tenants: None }.to_json()
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer as _;
        self.key.sign(message).to_bytes()
    }
}
