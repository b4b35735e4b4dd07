//! The low-level JWS codec: compact serialization (RFC 7515) with EdDSA over
//! Ed25519 (RFC 8037). It knows nothing about bundle claims.
//!
//! ```
//! use signalgate::bundle::{jws, SigningKey};
//! let key = SigningKey::from_seed(&[7; 32], Some("k1"));
//! let token = jws::sign_compact(&serde_json::json!({"alg": "EdDSA", "kid": "k1"}), b"hello", &key);
//! let parsed = jws::parse_compact(&token, 1024).unwrap();
//! jws::verify_signature(&parsed, key.public_key().verifying_key()).unwrap();
//! assert_eq!(parsed.payload, b"hello");
//! ```

use ed25519_dalek::{Signature, VerifyingKey};
use serde::Deserialize;

use super::error::{BundleError, Part};
use super::keys::SigningKey;
use crate::codec::b64;
use crate::codec::json;

/// The protected header members signalgate reads. Other members are ignored
/// unless `crit` names them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Header {
    /// The signature algorithm; parsing refuses anything but `EdDSA`.
    pub alg: String,
    /// The id of the signing key; bundles require one that is not empty.
    #[serde(default)]
    pub kid: Option<String>,
    /// The media type; bundles require `signalgate-bundle+jwt` (any case).
    #[serde(default)]
    pub typ: Option<String>,
    /// Absent, or a list; `"crit": null` is malformed, not absent.
    #[serde(default, deserialize_with = "present_list")]
    pub crit: Option<Vec<String>>,
}

/// For a member that may be absent (`default` gives `None`) but, when
/// present, must be a list: `null` is refused rather than read as absent.
fn present_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    Vec::<String>::deserialize(d).map(Some)
}

/// A compact JWS split and decoded, not yet verified.
#[derive(Debug, Clone)]
pub struct CompactJws<'a> {
    /// `BASE64URL(header) '.' BASE64URL(payload)`, the signed bytes.
    pub signing_input: &'a str,
    /// The decoded protected header.
    pub header: Header,
    /// The decoded payload bytes.
    pub payload: Vec<u8>,
    /// The decoded Ed25519 signature.
    pub signature: [u8; 64],
}

/// Parses strict JSON (an object, no duplicate names, no list in a list; RFC
/// 7515 section 4 and RFC 7519 section 4 require objects), naming the part on
/// error.
pub(crate) fn strict_json<T: serde::de::DeserializeOwned>(part: Part, bytes: &[u8]) -> Result<T, BundleError> {
    json::from_slice_strict(bytes).map_err(|p| BundleError::json(part, p))
}

/// Splits and decodes a compact JWS. The size is checked before anything
/// else; only canonical unpadded base64url is accepted; `alg` must be
/// `EdDSA` and `crit`, if present, must be well formed and is refused
/// because no extension is implemented.
pub fn parse_compact(token: &str, max_size: usize) -> Result<CompactJws<'_>, BundleError> {
    if token.len() > max_size {
        return Err(BundleError::TooLarge { size: token.len(), max: max_size });
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(BundleError::NotCompactJws);
    };
    if h.is_empty() || s.is_empty() {
        return Err(BundleError::NotCompactJws);
    }
    let header_bytes = b64::decode(h).ok_or(BundleError::Base64 { part: Part::Header })?;
    let payload = b64::decode(p).ok_or(BundleError::Base64 { part: Part::Payload })?;
    let sig_bytes = b64::decode(s).ok_or(BundleError::Base64 { part: Part::Signature })?;
    let header: Header = strict_json(Part::Header, &header_bytes)?;
    if header.alg != "EdDSA" {
        return Err(BundleError::UnsupportedAlgorithm { alg: header.alg });
    }
    if let Some(crit) = &header.crit {
        // RFC 7515 4.1.11: a non-empty list; we implement no extension, so
        // any entry makes the JWS invalid.
        let name = crit.first().cloned().unwrap_or_else(|| "[]".to_string());
        return Err(BundleError::UnsupportedCritical { name });
    }
    let signature = <[u8; 64]>::try_from(sig_bytes.as_slice()).map_err(|_| BundleError::BadSignature)?;
    let signing_input = &token[..h.len() + 1 + p.len()];
    Ok(CompactJws { signing_input, header, payload, signature })
}

/// Verifies the signature with strict Ed25519 (`verify_strict`: canonical `S`,
/// no small-order keys or `R`).
pub fn verify_signature(jws: &CompactJws<'_>, key: &VerifyingKey) -> Result<(), BundleError> {
    let signature = Signature::from_bytes(&jws.signature);
    key.verify_strict(jws.signing_input.as_bytes(), &signature).map_err(|_| BundleError::BadSignature)
}

/// Signs `payload` under `header` (which should carry `"alg":"EdDSA"`).
pub fn sign_compact(header: &serde_json::Value, payload: &[u8], key: &SigningKey) -> String {
    let mut token = b64::encode(header.to_string().as_bytes());
    token.push('.');
    token.push_str(&b64::encode(payload));
    let signature = key.sign(token.as_bytes());
    token.push('.');
    token.push_str(&b64::encode(&signature));
    token
}
