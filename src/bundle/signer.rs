//! The origin's side: turning claims into a signed bundle.

use super::error::BundleError;
use super::jws;
use super::keys::SigningKey;
use super::BUNDLE_TYP;
use crate::model::Claims;

/// Signs bundles with one key (the current one of a rotation).
///
/// ```
/// use signalgate::bundle::{Signer, SigningKey, UnverifiedBundle};
/// # let claims: signalgate::model::Claims = serde_json::from_str(r#"{"v":1,"iss":"o","sub":"u-1",
/// #   "ten":"t","aud":"signalgate","iat":100,"nbf":100,"exp":200,"jti":"b-1","pv":"p1","idc":1,
/// #   "cons":{},"sig":[]}"#).unwrap();
/// let signer = Signer::new(SigningKey::from_seed(&[1; 32], Some("k1")));
/// let token = signer.sign(&claims).unwrap();
/// assert_eq!(UnverifiedBundle::parse(&token).unwrap().kid(), "k1");
/// ```
#[derive(Debug, Clone)]
pub struct Signer {
    key: SigningKey,
}

impl Signer {
    /// A signer using `key`.
    pub fn new(key: SigningKey) -> Self {
        Signer { key }
    }

    /// The key it signs with.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// Validates the claims against the schema, then signs them with header
    /// `{"alg":"EdDSA","kid":...,"typ":"signalgate-bundle+jwt"}`.
    pub fn sign(&self, claims: &Claims) -> Result<String, BundleError> {
        claims.validate()?;
        let payload = serde_json::to_vec(claims)
            .map_err(|e| BundleError::InvalidClaim { field: String::new(), problem: e.to_string() })?;
        let header = serde_json::json!({ "alg": "EdDSA", "kid": self.key.kid(), "typ": BUNDLE_TYP });
        Ok(jws::sign_compact(&header, &payload, &self.key))
    }
}
