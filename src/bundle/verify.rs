//! Bundles in their two states: [`UnverifiedBundle`] (parsed, untrusted) and
//! [`VerifiedBundle`] (signature, time, audience and tenant checked). Only a
//! `VerifiedBundle` can be evaluated.

use super::error::{BundleError, Part};
use super::jws::{self, strict_json, Header};
use super::keys::{KeySet, PublicKey};
use super::BUNDLE_TYP;
use crate::model::Claims;
use crate::time::{Span, UnixTime};

/// Largest bundle accepted, in bytes of compact serialization.
pub const MAX_BUNDLE_BYTES: usize = 16 * 1024;

/// Default allowance for clocks that disagree.
pub const DEFAULT_SKEW: Span = crate::time::CLOCK_SKEW;

/// What the verifying gate expects of a bundle besides a good signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectations {
    /// Required `aud`.
    pub audience: String,
    /// Required `ten`, if the gate serves one tenant.
    pub tenant: Option<String>,
    /// Allowed clock disagreement for `nbf`, `iat` and `exp`.
    pub max_skew: Span,
    /// Longest accepted `exp - iat`, if bounded.
    pub max_lifetime: Option<Span>,
}

impl Expectations {
    /// Expect `audience` and `tenant`, with the default skew.
    pub fn new(audience: &str, tenant: Option<&str>) -> Self {
        Expectations {
            audience: audience.to_string(),
            tenant: tenant.map(str::to_string),
            max_skew: DEFAULT_SKEW,
            max_lifetime: None,
        }
    }
}

/// A bundle that has been parsed but not verified. Its claims can be read
/// for inspection only; nothing evaluates them.
#[derive(Debug, Clone)]
pub struct UnverifiedBundle {
    signing_input_len: usize,
    token: String,
    header: Header,
    claims: Claims,
    signature: [u8; 64],
}

impl UnverifiedBundle {
    /// Parses a compact JWS bundle: size bound, canonical base64url, strict
    /// JSON (no duplicate members), `alg` `EdDSA`, `kid` present, the bundle
    /// `typ`, no `crit`, and claims that follow the schema.
    pub fn parse(token: &str) -> Result<Self, BundleError> {
        Self::parse_with_limit(token, MAX_BUNDLE_BYTES)
    }

    /// [`parse`](Self::parse) with another size limit (in bytes), for
    /// deployments that carry bundles in headers rather than cookies.
    pub fn parse_with_limit(token: &str, max_bytes: usize) -> Result<Self, BundleError> {
        Self::split(token, max_bytes)?.parse_claims()
    }

    /// The steps of [`parse_with_limit`](Self::parse_with_limit) before the
    /// claims: size, the three parts in canonical base64url, the header (strict
    /// JSON, `alg`, `crit`, `typ`, `kid`) and the signature's length. What the
    /// signature covers is then known, so a host's Ed25519 can start checking
    /// it while [`SplitBundle::parse_claims`] does the rest (the order in which
    /// failures are reported stays that of `parse` then `verify`).
    pub fn split(token: &str, max_bytes: usize) -> Result<SplitBundle, BundleError> {
        let parsed = jws::parse_compact(token, max_bytes)?;
        let typ_ok = parsed.header.typ.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(BUNDLE_TYP));
        if !typ_ok {
            return Err(BundleError::WrongType { typ: parsed.header.typ.clone() });
        }
        if parsed.header.kid.as_deref().is_none_or(str::is_empty) {
            return Err(BundleError::MissingKeyId);
        }
        Ok(SplitBundle {
            signing_input_len: parsed.signing_input.len(),
            token: token.to_string(),
            header: parsed.header,
            payload: parsed.payload,
            signature: parsed.signature,
        })
    }

    /// The protected header, untrusted.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The claims, untrusted: for inspection and diagnostics only.
    pub fn claims_unverified(&self) -> &Claims {
        &self.claims
    }

    /// The `kid` the bundle names.
    pub fn kid(&self) -> &str {
        self.header.kid.as_deref().unwrap_or_default()
    }

    /// Checks the signature with the key named by `kid`, then the time window
    /// (with skew), audience and tenant.
    pub fn verify(self, keys: &KeySet, expect: &Expectations, now: UnixTime) -> Result<VerifiedBundle, BundleError> {
        self.prepare(keys)?.verify(keys, expect, now)
    }

    /// The steps of [`verify`](Self::verify) before the curve arithmetic:
    /// finds the key named by `kid` and makes the checks of strict Ed25519
    /// that need none (canonical `S`, `R` not of small order; see
    /// [`strict`](super::strict)). The result is verified with
    /// [`PreparedBundle::verify`]; inside the crate, a host's Ed25519 may
    /// check the equation instead (the JS bindings use WebCrypto or Node's
    /// `crypto`), with exactly the same outcome.
    pub fn prepare(self, keys: &KeySet) -> Result<PreparedBundle, BundleError> {
        let key = keys.get(self.kid()).ok_or_else(|| BundleError::UnknownKey { kid: self.kid().to_string() })?;
        if !super::strict::passes_prechecks(&self.signature) {
            return Err(BundleError::BadSignature);
        }
        Ok(PreparedBundle { key: key.clone(), bundle: self })
    }
}

/// A bundle split and decoded with its header checked, its claims not yet
/// parsed ([`UnverifiedBundle::split`]).
#[derive(Debug, Clone)]
pub struct SplitBundle {
    signing_input_len: usize,
    token: String,
    header: Header,
    payload: Vec<u8>,
    signature: [u8; 64],
}

impl SplitBundle {
    /// The `kid` the bundle names (present and not empty).
    pub fn kid(&self) -> &str {
        self.header.kid.as_deref().unwrap_or_default()
    }

    /// The signed bytes, `BASE64URL(header) '.' BASE64URL(payload)`.
    pub fn signing_input(&self) -> &[u8] {
        &self.token.as_bytes()[..self.signing_input_len]
    }

    /// The 64-byte Ed25519 signature (`R || S`).
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }

    /// The rest of parsing: the claims are strict JSON and follow the schema.
    pub fn parse_claims(self) -> Result<UnverifiedBundle, BundleError> {
        let claims: Claims = strict_json(Part::Payload, &self.payload)?;
        claims.validate()?;
        Ok(UnverifiedBundle {
            signing_input_len: self.signing_input_len,
            token: self.token,
            header: self.header,
            claims,
            signature: self.signature,
        })
    }
}

/// A bundle whose key is found and whose signature passed the checks that
/// need no curve arithmetic ([`UnverifiedBundle::prepare`]): what is left is
/// the Ed25519 equation, then the tenant, time window, audience and lifetime.
/// Still untrusted: only [`verify`](Self::verify) makes a [`VerifiedBundle`].
#[derive(Debug, Clone)]
pub struct PreparedBundle {
    bundle: UnverifiedBundle,
    key: PublicKey,
}

impl PreparedBundle {
    /// The signed bytes, `BASE64URL(header) '.' BASE64URL(payload)`.
    pub fn signing_input(&self) -> &[u8] {
        &self.bundle.token.as_bytes()[..self.bundle.signing_input_len]
    }

    /// The 64-byte Ed25519 signature (`R || S`).
    pub fn signature(&self) -> &[u8; 64] {
        &self.bundle.signature
    }

    /// The key the bundle names (its `kid`), from the key set.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// Verifies the signature with `verify_strict`, then the rest as
    /// [`UnverifiedBundle::verify`] does.
    pub fn verify(self, keys: &KeySet, expect: &Expectations, now: UnixTime) -> Result<VerifiedBundle, BundleError> {
        let signature = ed25519_dalek::Signature::from_bytes(&self.bundle.signature);
        let good = self.key.verifying_key().verify_strict(self.signing_input(), &signature).is_ok();
        self.finish(good, keys, expect, now)
    }

    /// Finishes with the verdict of a host's Ed25519 on the equation over
    /// [`signing_input`](Self::signing_input), [`signature`](Self::signature)
    /// and [`key`](Self::key). Crate-private: only the bindings that called
    /// the host may vouch for its answer.
    #[cfg(feature = "js")]
    pub(crate) fn verified_by_host(
        self,
        good: bool,
        keys: &KeySet,
        expect: &Expectations,
        now: UnixTime,
    ) -> Result<VerifiedBundle, BundleError> {
        self.finish(good, keys, expect, now)
    }

    fn finish(
        self,
        good: bool,
        keys: &KeySet,
        expect: &Expectations,
        now: UnixTime,
    ) -> Result<VerifiedBundle, BundleError> {
        if !good {
            return Err(BundleError::BadSignature);
        }
        let (bundle, key) = (self.bundle, self.key);
        if !keys.allows_tenant(key.kid(), &bundle.claims.tenant) {
            return Err(BundleError::KeyNotForTenant { kid: key.kid().to_string(), tenant: bundle.claims.tenant });
        }
        check_claims(&bundle.claims, expect, now)?;
        Ok(VerifiedBundle { kid: key.kid().to_string(), signature: bundle.signature, claims: bundle.claims })
    }
}

/// The time window, audience and tenant checks, shared by first verification
/// and by re-checks of a cached bundle.
fn check_claims(c: &Claims, expect: &Expectations, now: UnixTime) -> Result<(), BundleError> {
    {
        let late = now.before(expect.max_skew);
        let early = now.after(expect.max_skew);
        if late >= c.expires_at {
            return Err(BundleError::Expired { expired_at: c.expires_at, now });
        }
        if early < c.not_before {
            return Err(BundleError::NotYetValid { not_before: c.not_before, now });
        }
        if early < c.issued_at {
            return Err(BundleError::NotYetValid { not_before: c.issued_at, now });
        }
        if c.audience != expect.audience {
            return Err(BundleError::WrongAudience { expected: expect.audience.clone(), found: c.audience.clone() });
        }
        if let Some(tenant) = expect.tenant.as_deref().filter(|t| *t != c.tenant) {
            return Err(BundleError::WrongTenant { expected: tenant.to_string(), found: c.tenant.clone() });
        }
        let lifetime = Span(c.expires_at.0.saturating_sub(c.issued_at.0));
        if let Some(max) = expect.max_lifetime.filter(|max| lifetime > *max) {
            return Err(BundleError::LifetimeTooLong { lifetime, max });
        }
        Ok(())
    }
}

/// A bundle whose signature, time window, audience and tenant have been
/// checked. Only [`UnverifiedBundle::verify`] makes one.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedBundle {
    kid: String,
    signature: [u8; 64],
    claims: Claims,
}

impl VerifiedBundle {
    /// A bundle this process has just signed itself with the key `kid`
    /// (`Signer::sign` validated the claims, and the signature is over
    /// exactly them): the origin's own bundle, trusted without checking its
    /// signature again. Only the ledger's issuer makes one.
    pub(crate) fn own(kid: &str, signature: [u8; 64], claims: Claims) -> VerifiedBundle {
        VerifiedBundle { kid: kid.to_string(), signature, claims }
    }

    /// The verified claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The `kid` of the key that verified it.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Re-checks the time window, audience and tenant, for a bundle verified
    /// earlier and kept in a cache: the signature need not be checked again.
    pub fn recheck(&self, expect: &Expectations, now: UnixTime) -> Result<(), BundleError> {
        check_claims(&self.claims, expect, now)
    }

    /// The signature bytes: a unique key for caching this bundle.
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }
}
