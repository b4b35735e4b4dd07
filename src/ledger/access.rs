//! Who may call the origin. Servers present a tenant's API key; browsers
//! act only for their own subject through a signed session cookie. Both are
//! checked without a clock or randomness of their own: the binding passes
//! `now` and fresh random bytes in.
//!
//! - An API key reads `sgk.<tenant, base64url>.<key id>.<secret>`. The ledger
//!   stores only the SHA-256 of the secret, found by tenant and key id and
//!   compared in constant time; a key can only ever act for its tenant.
//! - A session reads `s1.<tenant, base64url>.<subject>.<expiry>.<mac>`, the
//!   MAC an HMAC-SHA256 of the rest under the origin's session secret.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::codec::b64;
use crate::model::is_ident;
use crate::time::{Span, UnixTime};

/// The name of the browser's session cookie over plain http (local
/// development only).
pub const SESSION_COOKIE: &str = "sg_session";
/// The name of the session cookie over https. The `__Host-` prefix makes
/// browsers refuse it unless it is `Secure`, `Path=/` and without `Domain`,
/// so a sibling subdomain cannot plant a session of its own choosing.
pub const SECURE_SESSION_COOKIE: &str = "__Host-sg_session";
/// How long a session lasts from its last renewal.
pub const SESSION_TTL: Span = Span::days(30);

/// The session cookie's name for a site served over https or not.
pub fn session_cookie(https: bool) -> &'static str {
    if https {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// The session cookie's value in a `Cookie` header: exactly one cookie of
/// that name, or none (two cookies of the same name are how a planted
/// session would ride along, so then there is no session at all).
pub fn session_cookie_value<'h>(cookie_header: &'h str, name: &str) -> Option<&'h str> {
    let mut found = cookie_header.split(';').filter_map(|p| p.split_once('=')).filter(|(n, _)| n.trim() == name);
    let first = found.next()?.1;
    found.next().is_none().then_some(first.trim())
}

/// An API key as presented by a server caller.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The tenant the key acts for.
    pub tenant: String,
    /// The key's id (stored in clear, shown in events as the actor).
    pub key_id: String,
    secret: String,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("tenant", &self.tenant)
            .field("key_id", &self.key_id)
            .field("secret", &"[redacted]")
            .finish()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl ApiKey {
    /// A new key for `tenant` from 40 random bytes (8 for the id, 32 for
    /// the secret). Returns the key and the token to hand out once.
    pub fn generate(tenant: &str, random: &[u8; 40]) -> Option<(ApiKey, String)> {
        if !is_ident(tenant) {
            return None;
        }
        let key = ApiKey {
            tenant: tenant.to_string(),
            key_id: format!("k_{}", b64::encode(&random[..8])),
            secret: b64::encode(&random[8..]),
        };
        let token = format!("sgk.{}.{}.{}", b64::encode(tenant.as_bytes()), key.key_id, key.secret);
        Some((key, token))
    }

    /// Reads a presented token (`Authorization: Bearer <token>`).
    pub fn parse(token: &str) -> Option<ApiKey> {
        let mut parts = token.trim().split('.');
        let (Some("sgk"), Some(tenant), Some(key_id), Some(secret), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let tenant = String::from_utf8(b64::decode(tenant)?).ok().filter(|t| is_ident(t))?;
        let ok = is_ident(key_id) && secret.len() == 43 && b64::decode(secret).is_some_and(|s| s.len() == 32);
        ok.then(|| ApiKey { tenant, key_id: key_id.to_string(), secret: secret.to_string() })
    }

    /// A cache key for this whole credential (tenant, key id and secret):
    /// a key checked once may be trusted again only as exactly itself.
    pub fn cache_id(&self) -> String {
        hex(&Sha256::digest(format!("{}\0{}\0{}", self.tenant, self.key_id, self.secret).as_bytes()))
    }

    /// What the ledger stores: the SHA-256 of the secret, hex.
    pub fn secret_hash(&self) -> String {
        hex(&Sha256::digest(self.secret.as_bytes()))
    }

    /// Whether the stored hash is this key's, compared in constant time.
    pub fn matches(&self, stored_hash: &str) -> bool {
        let mine = self.secret_hash();
        mine.len() == stored_hash.len() && bool::from(mine.as_bytes().ct_eq(stored_hash.as_bytes()))
    }
}

/// A browser's session: the subject it acts for, in which tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The tenant.
    pub tenant: String,
    /// The subject.
    pub subject: String,
    /// When it stops being accepted.
    pub expires_at: UnixTime,
}

fn mac(secret: &[u8], text: &str) -> Option<Vec<u8>> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).ok()?;
    m.update(text.as_bytes());
    Some(m.finalize().into_bytes().to_vec())
}

impl Session {
    /// A session for `subject` in `tenant` until `now` + [`SESSION_TTL`].
    pub fn new(tenant: &str, subject: &str, now: UnixTime) -> Session {
        Session { tenant: tenant.to_string(), subject: subject.to_string(), expires_at: now.after(SESSION_TTL) }
    }

    /// The cookie value, signed with `secret` (at least 32 bytes).
    pub fn seal(&self, secret: &[u8]) -> Option<String> {
        if secret.len() < 32 {
            return None;
        }
        let text = format!("s1.{}.{}.{}", b64::encode(self.tenant.as_bytes()), self.subject, self.expires_at.0);
        Some(format!("{text}.{}", b64::encode(&mac(secret, &text)?)))
    }

    /// Whether the session should be renewed at `now` (less than half of
    /// its life left), so an active browser keeps it and an idle one loses
    /// it after [`SESSION_TTL`].
    pub fn needs_renewal(&self, now: UnixTime) -> bool {
        self.expires_at.0 - now.0 < SESSION_TTL.0 / 2
    }

    /// Reads a cookie value: a good MAC under `secret` and not expired.
    pub fn open(value: &str, secret: &[u8], now: UnixTime) -> Option<Session> {
        let (text, tag) = value.trim().rsplit_once('.')?;
        let mut h = Hmac::<Sha256>::new_from_slice(secret).ok()?;
        h.update(text.as_bytes());
        h.verify_slice(&b64::decode(tag)?).ok()?;
        let mut parts = text.split('.');
        let (Some("s1"), Some(tenant), Some(subject), Some(exp), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let tenant = String::from_utf8(b64::decode(tenant)?).ok().filter(|t| is_ident(t))?;
        let expires_at = UnixTime(exp.parse().ok()?);
        (is_ident(subject) && now < expires_at).then(|| Session { tenant, subject: subject.to_string(), expires_at })
    }
}

/// A new pseudonymous subject id from 16 random bytes: `s_` and base64url.
pub fn new_subject_id(random: &[u8; 16]) -> String {
    format!("s_{}", b64::encode(random))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_round_trip_and_compare_by_hash_only() {
        let random: [u8; 40] = std::array::from_fn(|i| (i * 7) as u8);
        let (key, token) = ApiKey::generate("demo-shop", &random).unwrap();
        let parsed = ApiKey::parse(&token).unwrap();
        assert_eq!(parsed, key);
        assert!(parsed.matches(&key.secret_hash()));
        let mut forged = token.clone();
        forged.replace_range(forged.len() - 3.., "AAA");
        assert!(!ApiKey::parse(&forged).is_some_and(|k| k.matches(&key.secret_hash())));
        assert!(!format!("{key:?}").contains(&token[token.len() - 10..]), "Debug hides the secret");
        for bad in ["", "sgk", "sgk.x.y", "Bearer x", "sgk.ZGVtbw.k.short", "sgk.!!.k_x.AAAA"] {
            assert!(ApiKey::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn one_session_cookie_or_none() {
        assert_eq!(session_cookie_value("a=1; sg_session=x; b=2", SESSION_COOKIE), Some("x"));
        assert_eq!(session_cookie_value("sg_session=x; sg_session=y", SESSION_COOKIE), None, "a planted second one");
        assert_eq!(session_cookie_value("sg_session=x", SECURE_SESSION_COOKIE), None, "https reads only __Host-");
        assert_eq!(session_cookie_value("__Host-sg_session=z", session_cookie(true)), Some("z"));
        let s = Session::new("t", "s_1", UnixTime(0));
        assert!(!s.needs_renewal(UnixTime(SESSION_TTL.0 / 2 - 1)));
        assert!(s.needs_renewal(UnixTime(SESSION_TTL.0 / 2 + 1)));
    }

    #[test]
    fn sessions_need_the_secret_and_expire() {
        let secret = [9u8; 32];
        let s = Session::new("demo-shop", "s_abc", UnixTime(1000));
        let sealed = s.seal(&secret).unwrap();
        assert_eq!(Session::open(&sealed, &secret, UnixTime(2000)), Some(s.clone()));
        assert_eq!(Session::open(&sealed, &[8u8; 32], UnixTime(2000)), None, "another secret");
        assert_eq!(Session::open(&sealed, &secret, s.expires_at), None, "expired");
        let other_subject = sealed.replacen("s_abc", "s_xyz", 1);
        assert_eq!(Session::open(&other_subject, &secret, UnixTime(2000)), None, "the subject is under the MAC");
        assert!(s.seal(&[1; 16]).is_none(), "a short secret is refused");
    }
}
