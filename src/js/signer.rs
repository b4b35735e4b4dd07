//! The origin side for Node: signing and key generation. Only in the
//! `js-signer` build; the browser build has neither.

use wasm_bindgen::prelude::*;

use super::error::coded;
use super::to_js;
use crate::bundle::{Signer as CoreSigner, SigningKey};
use crate::model::Claims;

/// Signs bundles (origin side: the Node build only; the browser build has
/// no signer, so no signing key is ever useful in a page).
#[wasm_bindgen]
pub struct Signer {
    inner: CoreSigner,
}

#[wasm_bindgen]
impl Signer {
    /// `new Signer(privateJwkJson)`.
    #[wasm_bindgen(constructor)]
    pub fn new(private_jwk_json: &str) -> Result<Signer, JsValue> {
        let key = SigningKey::from_jwk_json(private_jwk_json).map_err(|e| coded("bad_key", e))?;
        Ok(Signer { inner: CoreSigner::new(key) })
    }

    /// Signs claims (an object or a JSON string); throws if they break the schema.
    pub fn sign(&self, claims: JsValue) -> Result<String, JsValue> {
        let claims: Claims = match claims.as_string() {
            Some(text) => serde_json::from_str(&text).map_err(|e| coded("invalid_claim", format!("claims: {e}")))?,
            None => {
                serde_wasm_bindgen::from_value(claims).map_err(|e| coded("invalid_claim", format!("claims: {e}")))?
            }
        };
        self.inner.sign(&claims).map_err(|e| coded(e.code().as_str(), e))
    }

    /// The `kid` it signs with.
    #[wasm_bindgen(getter)]
    pub fn kid(&self) -> String {
        self.inner.key().kid().to_string()
    }
}

/// A new Ed25519 key from WebCrypto / OS randomness:
/// `{ kid, privateJwk, publicJwks }` (JSON strings).
#[wasm_bindgen(js_name = generateKey)]
pub fn generate_key() -> Result<JsValue, JsValue> {
    let key = SigningKey::generate().map_err(|e| coded("no_randomness", e))?;
    Ok(to_js(&serde_json::json!({
        "kid": key.kid(),
        "privateJwk": key.to_private_jwk_json(),
        "publicJwks": key.public_jwks_json(),
    })))
}
