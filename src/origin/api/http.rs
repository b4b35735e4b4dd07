//! What every route needs: who calls, reading bodies within bounds,
//! answering JSON or RFC 9457 problem documents, cookies.

use worker::{Env, Request, Response, Result};

use super::super::config::OriginConfig;
use super::super::protocol::CallReply;
use crate::ledger::access::{new_subject_id, session_cookie, session_cookie_value, ApiKey, Session, SESSION_TTL};
use crate::ledger::{LedgerError, MAX_BODY};
use crate::model::policy::Role;
use crate::serve::url::{host_of, query_param};
use crate::serve::BUNDLE_COOKIE;

/// Who is calling.
pub(crate) enum Principal {
    /// A server with the tenant's API key, in the key's role.
    Service { tenant: String, key_id: String, role: String },
    /// A browser with its session.
    Subject(Session),
    /// A browser without a session.
    Visitor,
}

/// A problem document; a 401 says how to authenticate and a 405 names the
/// methods the path has (`allow`).
pub(crate) fn problem_response(e: &LedgerError, allow: &str) -> Result<Response> {
    let mut resp = Response::from_json(&e.problem())?.with_status(e.status());
    let headers = resp.headers_mut();
    headers.set("Content-Type", "application/problem+json")?;
    headers.set("Cache-Control", "no-store")?;
    match e {
        LedgerError::Unauthenticated { .. } => headers.set("WWW-Authenticate", r#"Bearer realm="signalgate""#)?,
        LedgerError::MethodNotAllowed => headers.set("Allow", allow)?,
        _ => {}
    }
    Ok(resp)
}

pub(crate) fn json_response(status: u16, body: &serde_json::Value) -> Result<Response> {
    let mut resp = Response::from_json(body)?.with_status(status);
    resp.headers_mut().set("Cache-Control", "no-store")?;
    if status >= 400 {
        resp.headers_mut().set("Content-Type", "application/problem+json")?;
    }
    Ok(resp)
}

pub(crate) fn secure(url: &str) -> bool {
    url.starts_with("https:")
}

pub(crate) fn cookie(name: &str, value: &str, max_age: i64, secure: bool) -> String {
    format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{}", if secure { "; Secure" } else { "" })
}

/// A session for a new subject of the tenant this request's host serves (a
/// new visitor's first capture, or `POST /v1/session`).
pub(crate) fn visitor_session(config: &OriginConfig, url: &str) -> std::result::Result<Session, LedgerError> {
    let tenant =
        config.tenant_for(&host_of(url)).ok_or(LedgerError::Forbidden { detail: "no tenant for this host".into() })?;
    Ok(Session::new(tenant, &new_subject_id(&random::<16>()?), crate::clock::now()))
}

/// The `Set-Cookie` value that gives the browser `session`, or `None` when
/// the session secret cannot sign.
pub(crate) fn session_set_cookie(session: &Session, config: &OriginConfig, url: &str) -> Option<String> {
    let sealed = session.seal(&config.session_secret)?;
    Some(cookie(session_cookie(secure(url)), &sealed, SESSION_TTL.0, secure(url)))
}

/// The whole request body, refused above [`MAX_BODY`]: before reading when
/// the length is declared, and otherwise as soon as the stream passes the
/// limit (a chunked body is never buffered whole).
pub(crate) async fn body(req: &mut Request) -> std::result::Result<String, LedgerError> {
    use futures_util::StreamExt;
    let declared = req.headers().get("Content-Length").ok().flatten().and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return Err(LedgerError::BodyTooLarge { max: MAX_BODY });
    }
    if req.inner().body().is_none() {
        return Ok(String::new());
    }
    let malformed =
        |e: worker::Error| LedgerError::MalformedBody { detail: format!("the body could not be read: {e}") };
    let mut stream = req.stream().map_err(malformed)?;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.map_err(malformed)?);
        if bytes.len() > MAX_BODY {
            return Err(LedgerError::BodyTooLarge { max: MAX_BODY });
        }
    }
    String::from_utf8(bytes).map_err(|_| LedgerError::MalformedBody { detail: "the body is not UTF-8".into() })
}

/// The bearer token of `Authorization`, if the header is there; any other
/// scheme is refused rather than ignored.
pub(crate) fn bearer(req: &Request) -> std::result::Result<Option<String>, LedgerError> {
    let Some(h) = req.headers().get("Authorization").ok().flatten() else { return Ok(None) };
    match h.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("Bearer") && !token.trim().is_empty() => {
            Ok(Some(token.trim().to_string()))
        }
        _ => Err(LedgerError::Unauthenticated { detail: "expected `Authorization: Bearer <token>`".into() }),
    }
}

pub(crate) fn random<const N: usize>() -> std::result::Result<[u8; N], LedgerError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| LedgerError::Config { detail: format!("no randomness: {e}") })?;
    Ok(b)
}

/// Who is calling: an API key (checked against the tenant's directory), a
/// valid session for this host's tenant, or nobody known.
pub(crate) async fn principal(
    req: &Request,
    env: &Env,
    config: &OriginConfig,
    url: &str,
) -> std::result::Result<Principal, LedgerError> {
    if let Some(token) = bearer(req)? {
        let key = ApiKey::parse(&token)
            .filter(|k| config.serves(&k.tenant))
            .ok_or(LedgerError::Unauthenticated { detail: "not an API key of this origin".into() })?;
        let role = super::super::key_role(env, &key, &token)
            .await?
            .ok_or(LedgerError::Unauthenticated { detail: "unknown or retired API key".into() })?;
        return Ok(Principal::Service { tenant: key.tenant, key_id: key.key_id, role });
    }
    let host_tenant = config.tenant_for(&host_of(url));
    let cookies = req.headers().get("Cookie").ok().flatten().unwrap_or_default();
    let session = session_cookie_value(&cookies, session_cookie(secure(url)))
        .and_then(|v| Session::open(v, &config.session_secret, crate::clock::now()))
        .filter(|s| Some(s.tenant.as_str()) == host_tenant);
    Ok(session.map_or(Principal::Visitor, Principal::Subject))
}

/// Cookie-authenticated writes: JSON only, and from this origin when the
/// browser names its origin (against cross-site request forgery, on top of
/// `SameSite=Lax`).
pub(crate) fn same_origin_json(req: &Request, url: &str, has_body: bool) -> std::result::Result<(), LedgerError> {
    let headers = req.headers();
    if has_body {
        let ct = headers.get("Content-Type").ok().flatten().unwrap_or_default().to_ascii_lowercase();
        if !ct.starts_with("application/json") {
            return Err(LedgerError::Forbidden {
                detail: "browser writes must be `Content-Type: application/json`".into(),
            });
        }
    }
    if let Some(origin) = headers.get("Origin").ok().flatten() {
        let scheme_host = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
        if !origin.eq_ignore_ascii_case(&scheme_host) {
            return Err(LedgerError::Forbidden { detail: "cross-origin writes are refused".into() });
        }
    }
    Ok(())
}

/// An identifier in the query (`field`), if given; a malformed one is
/// refused, naming it.
pub(crate) fn ident_param(url: &str, field: &'static str) -> std::result::Result<Option<String>, LedgerError> {
    match query_param(url, field) {
        None => Ok(None),
        Some(v) if crate::model::is_ident(&v) => Ok(Some(v)),
        Some(_) => Err(LedgerError::InvalidField {
            field,
            detail: "expected an identifier (1-64 of A-Z a-z 0-9 . _ : -)".into(),
        }),
    }
}

pub(crate) fn segments(path: &str) -> Vec<&str> {
    path.trim_matches('/').split('/').collect()
}

/// `POST /v1/session/clear`: the browser forgets its session and bundle
/// (a shared device after "forget me"). Nothing is stored, so nothing needs
/// authenticating: it only tells this browser to drop two cookies (from
/// this origin only, like every browser write).
pub(crate) fn clear_session(url: &str) -> std::result::Result<Response, LedgerError> {
    let storage = |e: worker::Error| LedgerError::Storage { detail: e.to_string() };
    let mut resp = Response::empty().map_err(storage)?.with_status(204);
    let headers = resp.headers_mut();
    headers.set("Cache-Control", "no-store").map_err(storage)?;
    for name in [session_cookie(secure(url)), BUNDLE_COOKIE] {
        headers.append("Set-Cookie", &cookie(name, "", 0, secure(url))).map_err(storage)?;
    }
    Ok(resp)
}

pub(crate) fn check_admin(req: &Request, config: &OriginConfig) -> std::result::Result<(), LedgerError> {
    let Some(expected) = &config.admin_token else { return Err(LedgerError::NotFound) };
    let given = bearer(req)?.unwrap_or_default();
    let ok = given.len() == expected.len()
        && bool::from(subtle::ConstantTimeEq::ct_eq(given.as_bytes(), expected.as_bytes()));
    if ok {
        Ok(())
    } else {
        Err(LedgerError::Unauthenticated { detail: "admin token required".into() })
    }
}

/// The role of a service caller, as the policy defines it (a key whose role
/// the policy no longer has may do nothing).
pub(crate) fn role<'c>(config: &'c OriginConfig, name: &str) -> std::result::Result<&'c Role, LedgerError> {
    config
        .policy
        .role(name)
        .ok_or_else(|| LedgerError::Forbidden { detail: "this API key's role is not in the policy any more".into() })
}

/// Refuses unless `allowed` (a role's permission) holds.
pub(crate) fn permit(allowed: bool, what: &str) -> std::result::Result<(), LedgerError> {
    if allowed {
        Ok(())
    } else {
        Err(LedgerError::Forbidden { detail: format!("this API key's role may not {what}") })
    }
}

/// Answers with what a Durable Object replied.
pub(crate) fn relay(reply: &CallReply) -> std::result::Result<Response, LedgerError> {
    json_response(reply.status, &reply.body).map_err(storage)
}

/// A response failure as a ledger error.
pub(crate) fn storage(e: worker::Error) -> LedgerError {
    LedgerError::Storage { detail: e.to_string() }
}

/// The tenant an admin call names (`?tenant=`), which this origin serves.
pub(crate) fn admin_tenant(config: &OriginConfig, url: &str) -> std::result::Result<String, LedgerError> {
    let tenant = ident_param(url, "tenant")?.ok_or(LedgerError::MissingField { field: "tenant" })?;
    if config.serves(&tenant) {
        Ok(tenant)
    } else {
        Err(LedgerError::NotFound)
    }
}

/// Whether the request carries the admin token (without failing when it
/// carries something else).
pub(crate) fn is_admin(req: &Request, config: &OriginConfig) -> bool {
    check_admin(req, config).is_ok()
}
