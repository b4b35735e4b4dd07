//! `POST /v1/session`: a browser's session before its first capture.
//!
//! A visitor's first capture would otherwise create its subject and its
//! session in one request. If that reply is lost, the session cookie is lost
//! with it, and the capture sent again (same idempotency key) arrives as
//! another new visitor: a second subject holding the same choice. A browser
//! that asks for its session first sends every capture with the cookie, so a
//! repeated capture reaches the same subject and gets its first reply.
//!
//! Nothing is written: the subject's ledger starts with its first capture.
//! A session that already holds is answered as it is (renewed when due), so
//! the call is safe to repeat from any number of tabs.

use serde_json::json;
use worker::{Env, Request, Response};

use super::super::config::OriginConfig;
use super::http::{
    body, json_response, principal, same_origin_json, session_set_cookie, storage, visitor_session, Principal,
};
use crate::ledger::access::Session;
use crate::ledger::LedgerError;

/// The browser's session: the one it has, or a new one with its cookie
/// (`created`). Services name their subjects and get `403`.
pub(crate) async fn session(
    req: &mut Request,
    env: &Env,
    config: &OriginConfig,
    url: &str,
) -> std::result::Result<Response, LedgerError> {
    let text = body(req).await?;
    if !text.trim().is_empty() {
        let members = crate::ledger::request_object(text.as_bytes())?;
        if let Some(name) = members.keys().next() {
            return Err(LedgerError::MalformedBody { detail: format!("unknown member `{name}`; expected `{{}}`") });
        }
    }
    let now = crate::clock::now();
    let (created, session, set) = match principal(req, env, config, url).await? {
        Principal::Service { .. } => {
            return Err(LedgerError::Forbidden {
                detail: "sessions are for browsers; a service names the subject in each request".into(),
            })
        }
        Principal::Subject(held) => {
            same_origin_json(req, url, !text.trim().is_empty())?;
            let renew = held.needs_renewal(now);
            let session = if renew { Session::new(&held.tenant, &held.subject, now) } else { held };
            (false, session, renew)
        }
        Principal::Visitor => {
            same_origin_json(req, url, !text.trim().is_empty())?;
            (true, visitor_session(config, url)?, true)
        }
    };
    let reply = json!({
        "subject_id": session.subject,
        "created": created,
        "expires_at": session.expires_at.0,
    });
    let mut resp = json_response(200, &reply).map_err(storage)?;
    if set {
        let header = session_set_cookie(&session, config, url)
            .ok_or(LedgerError::Config { detail: "the session secret cannot sign (SG_SESSION_SECRET)".into() })?;
        resp.headers_mut().append("Set-Cookie", &header).map_err(storage)?;
    }
    Ok(resp)
}
