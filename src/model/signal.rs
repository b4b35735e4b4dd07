//! The claims of a signal bundle (schema version 1).
//!
//! Claim names are short so that a typical 16-signal bundle fits in one
//! cookie. Field by field:
//!
//! | claim | meaning |
//! |---|---|
//! | `v` | schema version, `1` |
//! | `iss` | issuer: the origin that signed the bundle |
//! | `sub` | subject: a stable pseudonymous id (an identifier, never an email or device id) |
//! | `ten` | tenant the signals belong to |
//! | `aud` | audience: the gate deployment the bundle is meant for |
//! | `iat`, `nbf`, `exp` | issued at, not before, expires (Unix seconds) |
//! | `jti` | bundle id, for revocation |
//! | `pv` | version of the policy the origin applied |
//! | `idc` | identity-resolution confidence, 0 to 1 |
//! | `cons` | consent records by id: `st` status (`granted`, `denied`, `revoked`), `pur` purposes, `scp` scopes, `lb` legal basis |
//! | `sig` | the signals |
//!
//! Each signal: `id`, `cls` (a policy class), `val` (a controlled value, never
//! free text), `src` (source channel), `cap` (captured at), `exp` (expires at),
//! `rcf` (last reconfirmed at, optional), `ver` (version, from 1), `con` (the id
//! of its consent record in `cons`), `prv` (provenance hash: 16 bytes, base64url).
//!
//! ```
//! use signalgate::model::Claims;
//! let json = r#"{"v":1,"iss":"https://origin.example","sub":"u-1","ten":"demo-shop",
//!   "aud":"signalgate","iat":100,"nbf":100,"exp":200,"jti":"b-1","pv":"p1","idc":0.9,
//!   "cons":{"c1":{"st":"granted","pur":["personalization"],"scp":["web"],"lb":"consent"}},
//!   "sig":[{"id":"s1","cls":"interest","val":"running","src":"web","cap":100,"exp":900,
//!           "ver":1,"con":"c1","prv":"AAAAAAAAAAAAAAAAAAAAAA"}]}"#;
//! let claims: Claims = serde_json::from_str(json).unwrap();
//! claims.validate().unwrap();
//! assert_eq!(claims.signals[0].class, "interest");
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::ident::{is_ident, is_uriish, is_value};
use crate::time::{UnixTime, CLOCK_SKEW};

/// The claims schema version this build reads and writes.
pub const CLAIMS_VERSION: u32 = 1;
/// Most signals one bundle may carry.
pub const MAX_SIGNALS: usize = 256;
/// Most consent records one bundle may carry.
pub const MAX_CONSENTS: usize = 64;
/// Most purposes or scopes one consent record may list.
pub const MAX_LIST: usize = 16;

/// A bundle's claims. See the module docs for the schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// `v`: the claims schema version; must be [`CLAIMS_VERSION`] (1).
    #[serde(rename = "v")]
    pub version: u32,
    /// `iss`: the origin that signed the bundle (a URL or name: 1 to 200 printable
    /// ASCII characters, no spaces, quotes or backslashes).
    #[serde(rename = "iss")]
    pub issuer: String,
    /// `sub`: a stable pseudonymous subject id, an identifier (never an email or device id).
    #[serde(rename = "sub")]
    pub subject: String,
    /// `ten`: the tenant the signals belong to, an identifier.
    #[serde(rename = "ten")]
    pub tenant: String,
    /// `aud`: the gate deployment the bundle is meant for (a URL or name, like `iss`).
    #[serde(rename = "aud")]
    pub audience: String,
    /// `iat`: when the bundle was signed, Unix seconds.
    #[serde(rename = "iat")]
    pub issued_at: UnixTime,
    /// `nbf`: not valid before this, Unix seconds.
    #[serde(rename = "nbf")]
    pub not_before: UnixTime,
    /// `exp`: not valid from this on, Unix seconds; after both `iat` and `nbf`.
    #[serde(rename = "exp")]
    pub expires_at: UnixTime,
    /// `jti`: the bundle id, an identifier; revocation lists name it.
    #[serde(rename = "jti")]
    pub bundle_id: String,
    /// `pv`: the version of the policy the origin applied, an identifier
    /// (informational: the gate does not compare it).
    #[serde(rename = "pv")]
    pub policy_version: String,
    /// `idc`: identity-resolution confidence, from 0 to 1.
    #[serde(rename = "idc")]
    pub identity_confidence: f64,
    /// `cons`: the consent records by id (identifiers), at most [`MAX_CONSENTS`].
    #[serde(rename = "cons")]
    pub consents: BTreeMap<String, ConsentRecord>,
    /// `sig`: the signals, at most [`MAX_SIGNALS`], with distinct ids.
    #[serde(rename = "sig")]
    pub signals: Vec<Signal>,
}

/// One zero-party signal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signal {
    /// `id`: the signal's id, an identifier, unique within the bundle.
    pub id: String,
    /// `cls`: the policy class the signal belongs to, an identifier.
    #[serde(rename = "cls")]
    pub class: String,
    /// `val`: the value, a lowercase vocabulary value (1 to 64 of `a-z 0-9 _ -`),
    /// never free text.
    #[serde(rename = "val")]
    pub value: String,
    /// `src`: the source channel the signal was captured on (e.g. `web`), an identifier.
    #[serde(rename = "src")]
    pub source: String,
    /// `cap`: when it was captured, Unix seconds; at most `iat` plus [`CLOCK_SKEW`].
    #[serde(rename = "cap")]
    pub captured_at: UnixTime,
    /// `exp`: the signal's own expiry, Unix seconds; after `cap`.
    #[serde(rename = "exp")]
    pub expires_at: UnixTime,
    /// `rcf`: when the subject last reconfirmed it, Unix seconds (optional); not
    /// before `cap`, and at most `iat` plus [`CLOCK_SKEW`].
    #[serde(rename = "rcf", default, skip_serializing_if = "Option::is_none")]
    pub reconfirmed_at: Option<UnixTime>,
    /// `ver`: the signal's version, from 1.
    #[serde(rename = "ver")]
    pub version: u32,
    /// `con`: the id of its consent record, a key of [`Claims::consents`].
    #[serde(rename = "con")]
    pub consent: String,
    /// `prv`: the provenance hash, 16 bytes in unpadded base64url (22 characters).
    #[serde(rename = "prv")]
    pub provenance: String,
}

impl Signal {
    /// When the subject last confirmed this signal: the later of capture and reconfirmation.
    pub fn confirmed_at(&self) -> UnixTime {
        self.reconfirmed_at.map_or(self.captured_at, |r| r.max(self.captured_at))
    }
}

/// A consent record, shared by the signals captured under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentRecord {
    /// `st`: where the record stands.
    #[serde(rename = "st")]
    pub status: ConsentStatus,
    /// `pur`: the purposes consented to, identifiers, at most [`MAX_LIST`].
    #[serde(rename = "pur")]
    pub purposes: Vec<String>,
    /// `scp`: the scopes the consent covers (each gate serves one, e.g. `web`),
    /// identifiers, at most [`MAX_LIST`].
    #[serde(rename = "scp")]
    pub scopes: Vec<String>,
    /// `lb`: the legal basis of the processing.
    #[serde(rename = "lb")]
    pub legal_basis: LegalBasis,
}

/// Where a consent record stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentStatus {
    /// `granted`: the subject agreed to the listed purposes and scopes.
    Granted,
    /// `denied`: the subject declined; its signals are withheld (`consent_not_granted`).
    Denied,
    /// `revoked`: the subject withdrew consent; its signals are withheld (`consent_revoked`).
    Revoked,
}

/// The GDPR Art. 6 legal bases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegalBasis {
    /// `consent`: the subject's consent (Art. 6(1)(a)).
    Consent,
    /// `contract`: needed for a contract with the subject (Art. 6(1)(b)).
    Contract,
    /// `legal_obligation`: needed to meet a legal obligation (Art. 6(1)(c)).
    LegalObligation,
    /// `vital_interest`: needed to protect someone's vital interests (Art. 6(1)(d)).
    VitalInterest,
    /// `public_task`: needed for a task in the public interest (Art. 6(1)(e)).
    PublicTask,
    /// `legitimate_interest`: the controller's or a third party's legitimate interests (Art. 6(1)(f)).
    LegitimateInterest,
}

/// A claim that parsed as JSON but breaks the schema: which field, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimError {
    /// The claim's path in the payload (`idc`, `cons.c1.pur[0]`, `sig[2].val`, ...).
    pub field: String,
    /// What is wrong, in one line.
    pub problem: String,
}

impl fmt::Display for ClaimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "claim `{}`: {}", self.field, self.problem)
    }
}

impl std::error::Error for ClaimError {}

fn bad(field: impl Into<String>, problem: impl Into<String>) -> ClaimError {
    ClaimError { field: field.into(), problem: problem.into() }
}

fn check_ident(field: &str, s: &str) -> Result<(), ClaimError> {
    if is_ident(s) {
        Ok(())
    } else {
        Err(bad(field, format!("expected an identifier (1-64 of A-Z a-z 0-9 . _ : -), found {s:?}")))
    }
}

fn check_list(field: &str, items: &[String]) -> Result<(), ClaimError> {
    if items.len() > MAX_LIST {
        return Err(bad(field, format!("at most {MAX_LIST} entries, found {}", items.len())));
    }
    for (i, item) in items.iter().enumerate() {
        check_ident(&format!("{field}[{i}]"), item)?;
    }
    Ok(())
}

/// True for a base64url (no padding) encoding of exactly 16 bytes.
fn is_provenance(s: &str) -> bool {
    use base64::Engine as _;
    s.len() == 22 && crate::codec::b64::URL.decode(s).is_ok_and(|b| b.len() == 16)
}

impl Claims {
    /// Checks everything the types cannot: versions, identifiers, vocabulary
    /// shape, bounds, time order and consent references.
    pub fn validate(&self) -> Result<(), ClaimError> {
        if self.version != CLAIMS_VERSION {
            return Err(bad(
                "v",
                format!("unsupported schema version {}, this gate reads {CLAIMS_VERSION}", self.version),
            ));
        }
        if !is_uriish(&self.issuer) {
            return Err(bad("iss", "expected a URL or name without spaces or quotes"));
        }
        check_ident("sub", &self.subject)?;
        check_ident("ten", &self.tenant)?;
        if !is_uriish(&self.audience) {
            return Err(bad("aud", "expected a URL or name without spaces or quotes"));
        }
        check_ident("jti", &self.bundle_id)?;
        check_ident("pv", &self.policy_version)?;
        if !(self.identity_confidence.is_finite() && (0.0..=1.0).contains(&self.identity_confidence)) {
            return Err(bad("idc", format!("expected a number from 0 to 1, found {}", self.identity_confidence)));
        }
        if self.expires_at <= self.issued_at {
            return Err(bad("exp", "must be after `iat`"));
        }
        if self.expires_at <= self.not_before {
            return Err(bad("exp", "must be after `nbf`"));
        }
        if self.consents.len() > MAX_CONSENTS {
            return Err(bad("cons", format!("at most {MAX_CONSENTS} records, found {}", self.consents.len())));
        }
        for (id, record) in &self.consents {
            check_ident(&format!("cons.{id}"), id)?;
            check_list(&format!("cons.{id}.pur"), &record.purposes)?;
            check_list(&format!("cons.{id}.scp"), &record.scopes)?;
        }
        if self.signals.len() > MAX_SIGNALS {
            return Err(bad("sig", format!("at most {MAX_SIGNALS} signals, found {}", self.signals.len())));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, s) in self.signals.iter().enumerate() {
            let at = |f: &str| format!("sig[{i}].{f}");
            check_ident(&at("id"), &s.id)?;
            if !seen.insert(s.id.as_str()) {
                return Err(bad(at("id"), format!("duplicate signal id {:?}", s.id)));
            }
            check_ident(&at("cls"), &s.class)?;
            if !is_value(&s.value) {
                return Err(bad(
                    at("val"),
                    format!("expected a vocabulary value (1-64 of a-z 0-9 _ -), found {:?}", s.value),
                ));
            }
            check_ident(&at("src"), &s.source)?;
            if s.expires_at <= s.captured_at {
                return Err(bad(at("exp"), "must be after `cap`"));
            }
            if s.reconfirmed_at.is_some_and(|r| r < s.captured_at) {
                return Err(bad(at("rcf"), "must not be before `cap`"));
            }
            // A capture or reconfirmation the origin could not have seen when
            // it signed would extend the signal's life: refused.
            let latest = self.issued_at.after(CLOCK_SKEW);
            if s.captured_at > latest {
                return Err(bad(at("cap"), "must not be after `iat`"));
            }
            if s.reconfirmed_at.is_some_and(|r| r > latest) {
                return Err(bad(at("rcf"), "must not be after `iat`"));
            }
            if s.version == 0 {
                return Err(bad(at("ver"), "versions start at 1"));
            }
            if !self.consents.contains_key(&s.consent) {
                return Err(bad(at("con"), format!("no consent record {:?} in `cons`", s.consent)));
            }
            if !is_provenance(&s.provenance) {
                return Err(bad(at("prv"), "expected 16 bytes in unpadded base64url (22 characters)"));
            }
        }
        Ok(())
    }
}
