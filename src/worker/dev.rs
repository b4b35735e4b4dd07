//! The development endpoints, compiled only into development Worker builds
//! (feature `dev-signer`, `pkg-scripts/build worker-dev`):
//! `POST /__sg/dev/bundle` and `POST /__sg/dev/clear`, a development origin
//! that signs a bundle from the demo page's form. They answer only requests
//! to a loopback host and only when the `SG_DEV_SIGNING_KEY` secret is set,
//! and the body's declared length is checked before it is read.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use worker::{Env, Method, Request, Response, Result};

use super::endpoints::json;
use super::state::GateState;
use crate::bundle::{Signer, SigningKey};
use crate::codec::b64;
use crate::model::{Claims, ConsentRecord, ConsentStatus, LegalBasis, Signal, CLAIMS_VERSION};
use crate::serve::url::host_of;
use crate::serve::BUNDLE_COOKIE;
use crate::time::{Span, UnixTime};

/// Largest request body the dev endpoint reads.
const MAX_BODY: usize = 16 * 1024;

/// The development endpoints. Only in development builds (`dev-signer`), and
/// even there only for requests to a loopback host (`localhost`,
/// `127.0.0.1`, `[::1]`): a request for any other host is answered 404, as
/// if the endpoints did not exist.
pub async fn api(mut req: Request, env: &Env, path: &str) -> Result<Response> {
    if !is_loopback(&host_of(&req.inner().url())) {
        return json(&serde_json::json!({ "error": "not found" }), 404);
    }
    match (req.method(), path) {
        (Method::Post, "/__sg/dev/bundle") => {
            let Some(key) = env.secret("SG_DEV_SIGNING_KEY").ok().map(|s| s.to_string()) else {
                return json(&serde_json::json!({ "error": "the development signer is not enabled" }), 404);
            };
            // The declared length is checked before any byte of the body is read.
            let declared = req.headers().get("Content-Length")?.and_then(|v| v.trim().parse::<usize>().ok());
            match declared {
                None => return json(&serde_json::json!({ "error": "Content-Length is required" }), 411),
                Some(n) if n > MAX_BODY => return json(&serde_json::json!({ "error": "request body too large" }), 413),
                Some(_) => {}
            }
            let body = req.text().await?;
            if body.len() > MAX_BODY {
                return json(&serde_json::json!({ "error": "request body too large" }), 413);
            }
            match dev_bundle(env, &key, &body, secure(&req)).await {
                Ok((token, cookie)) => {
                    let mut resp = json(&serde_json::json!({ "bundle": token }), 201)?;
                    resp.headers_mut().set("Set-Cookie", &cookie)?;
                    Ok(resp)
                }
                Err(msg) => json(&serde_json::json!({ "error": msg }), 400),
            }
        }
        (Method::Post, "/__sg/dev/clear") => {
            let mut resp = json(&serde_json::json!({ "cleared": true }), 200)?;
            let cookie = format!(
                "{BUNDLE_COOKIE}=; Path=/; Max-Age=0; SameSite=Lax{}",
                if secure(&req) { "; Secure" } else { "" }
            );
            resp.headers_mut().set("Set-Cookie", &cookie)?;
            Ok(resp)
        }
        _ => json(&serde_json::json!({ "error": "not found" }), 404),
    }
}

/// A loopback host name, as [`host_of`] gives it.
fn is_loopback(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

fn secure(req: &Request) -> bool {
    req.inner().url().starts_with("https:")
}

/// The demo form's choices.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DevRequest {
    signals: Vec<DevSignal>,
    #[serde(default)]
    purposes: Option<Vec<String>>,
    #[serde(default)]
    confidence: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DevSignal {
    class: String,
    value: String,
    /// Pretend the signal was captured this many days ago (to show staleness).
    #[serde(default)]
    age_days: Option<u32>,
}

fn random_id(prefix: &str) -> std::result::Result<String, String> {
    let mut bytes = [0u8; 9];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    Ok(format!("{prefix}{}", b64::encode(&bytes)))
}

async fn dev_bundle(
    env: &Env,
    key_jwk: &str,
    body: &str,
    secure: bool,
) -> std::result::Result<(String, String), String> {
    let req: DevRequest = serde_json::from_str(body).map_err(|e| format!("request: {e}"))?;
    let key = SigningKey::from_jwk_json(key_jwk).map_err(|e| format!("SG_DEV_SIGNING_KEY: {e}"))?;
    let state = GateState::load(env).await.map_err(|e| e.to_string())?;
    let st = state.borrow();
    let policy_version = st.policy_version();
    let now = crate::clock::now();
    let jti = random_id("b-")?;
    let signals: Vec<Signal> = req
        .signals
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let captured = now.before(Span::days(i64::from(s.age_days.unwrap_or(0))));
            let digest = Sha256::digest(format!("{jti}|{i}|{}|{}", s.class, s.value).as_bytes());
            Signal {
                id: format!("s{}", i + 1),
                class: s.class.clone(),
                value: s.value.clone(),
                source: "web".into(),
                captured_at: captured,
                expires_at: captured.after(Span::days(365)),
                reconfirmed_at: None,
                version: 1,
                consent: "c1".into(),
                provenance: b64::encode(&digest[..16]),
            }
        })
        .collect();
    let consent = ConsentRecord {
        status: ConsentStatus::Granted,
        purposes: req.purposes.unwrap_or_else(|| vec!["personalization".into()]),
        scopes: vec![st.config.scope.clone()],
        legal_basis: LegalBasis::Consent,
    };
    let claims = Claims {
        version: CLAIMS_VERSION,
        issuer: "signalgate-dev-origin".into(),
        subject: random_id("u-")?,
        tenant: st.config.tenant.clone().unwrap_or_default(),
        audience: st.config.audience.clone(),
        issued_at: now,
        not_before: now,
        expires_at: UnixTime(now.0 + 86_400),
        bundle_id: jti,
        policy_version,
        identity_confidence: req.confidence.unwrap_or(0.9),
        consents: [("c1".to_string(), consent)].into_iter().collect(),
        signals,
    };
    let token = Signer::new(key).sign(&claims).map_err(|e| e.to_string())?;
    let cookie =
        format!("{BUNDLE_COOKIE}={token}; Path=/; Max-Age=86400; SameSite=Lax{}", if secure { "; Secure" } else { "" });
    Ok((token, cookie))
}
