//! The origin's HTTP API: routing, who may call, and the answers (JSON, or
//! RFC 9457 problem documents for failures). The work happens in the
//! subject's `SubjectLedger` and the tenant's `TenantDirectory` objects.
//!
//! | route | who | what |
//! |---|---|---|
//! | `POST /v1/signals` | service, subject, or a new visitor | capture a preference |
//! | `POST /v1/signals/{id}/reconfirm` | service or subject | reconfirm a signal |
//! | `POST /v1/consents/{id}/revoke` | service or subject | revoke a consent |
//! | `GET /v1/signals` | service (`?subject_id=`) or subject | active signals and consents |
//! | `POST /v1/bundles` | service or subject | a fresh bundle |
//! | `GET /v1/keys`, `GET /.well-known/jwks.json` | anyone | the public JWK Set |
//! | `GET /v1/policy` | anyone | the policy |
//! | `GET /v1/tenants/{tenant}/revocations?since=N` | anyone (the gates) | the revocation feed |
//! | `POST /v1/admin/api-keys` | admin | a new API key for a tenant |
//! | `POST /v1/admin/api-keys/{key_id}/revoke?tenant=` | admin | retire an API key |
//! | `POST /v1/session/clear` | a browser | drop the session and bundle cookies |
//! | `POST /v1/admin/subjects/{subject}/verify?tenant=` | admin | verify a subject's chain and projection |
//!
//! A service presents `Authorization: Bearer <API key>`; the key's tenant is
//! the only tenant it acts for, and it names the subject (`subject_id`). A
//! browser acts for its own subject only, through the signed, HttpOnly
//! `sg_session` cookie; its first capture creates the subject and the
//! session. Cookie-authenticated writes must be JSON and, when the browser
//! says where it comes from (`Origin`), come from this origin.

use serde_json::json;
use worker::{Env, Request, Response, Result};

use super::config::OriginConfig;
use super::protocol::{CallReply, DirectoryCall, SubjectCall, SubjectOp};
use crate::ledger::access::{new_subject_id, session_cookie, session_cookie_value, ApiKey, Session, SESSION_TTL};
use crate::ledger::{
    api_key_request, bundle_request, same_subject, subject_in, ActorType, ApiKeyRequest, LedgerError, MAX_BODY,
};
use crate::serve::url::{host_of, path_of, query_param};
use crate::serve::BUNDLE_COOKIE;

/// Who is calling.
enum Principal {
    /// A server with the tenant's API key.
    Service { tenant: String, key_id: String },
    /// A browser with its session.
    Subject(Session),
    /// A browser without a session.
    Visitor,
}

/// A problem document; a 401 says how to authenticate and a 405 names the
/// methods the path has (`allow`).
fn problem_response(e: &LedgerError, allow: &str) -> Result<Response> {
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

/// The methods a listed path has (for `Allow`).
fn allowed_methods(segs: &[&str]) -> &'static str {
    match segs {
        ["v1", "signals"] => "GET, POST",
        ["v1", "keys"] | [".well-known", "jwks.json"] | ["v1", "policy"] | ["v1", "tenants", _, "revocations"] => "GET",
        _ => "POST",
    }
}

fn json_response(status: u16, body: &serde_json::Value) -> Result<Response> {
    let mut resp = Response::from_json(body)?.with_status(status);
    resp.headers_mut().set("Cache-Control", "no-store")?;
    if status >= 400 {
        resp.headers_mut().set("Content-Type", "application/problem+json")?;
    }
    Ok(resp)
}

fn secure(url: &str) -> bool {
    url.starts_with("https:")
}

fn cookie(name: &str, value: &str, max_age: i64, secure: bool) -> String {
    format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{}", if secure { "; Secure" } else { "" })
}

/// The whole request body, refused above [`MAX_BODY`]: before reading when
/// the length is declared, and otherwise as soon as the stream passes the
/// limit (a chunked body is never buffered whole).
async fn body(req: &mut Request) -> std::result::Result<String, LedgerError> {
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
fn bearer(req: &Request) -> std::result::Result<Option<String>, LedgerError> {
    let Some(h) = req.headers().get("Authorization").ok().flatten() else { return Ok(None) };
    match h.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("Bearer") && !token.trim().is_empty() => {
            Ok(Some(token.trim().to_string()))
        }
        _ => Err(LedgerError::Unauthenticated { detail: "expected `Authorization: Bearer <token>`".into() }),
    }
}

fn random<const N: usize>() -> std::result::Result<[u8; N], LedgerError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| LedgerError::Config { detail: format!("no randomness: {e}") })?;
    Ok(b)
}

/// Who is calling: an API key (checked against the tenant's directory), a
/// valid session for this host's tenant, or nobody known.
async fn principal(
    req: &Request,
    env: &Env,
    config: &OriginConfig,
    url: &str,
) -> std::result::Result<Principal, LedgerError> {
    if let Some(token) = bearer(req)? {
        let key = ApiKey::parse(&token)
            .filter(|k| config.serves(&k.tenant))
            .ok_or(LedgerError::Unauthenticated { detail: "not an API key of this origin".into() })?;
        if !super::key_is_valid(env, &key, &token).await? {
            return Err(LedgerError::Unauthenticated { detail: "unknown or retired API key".into() });
        }
        return Ok(Principal::Service { tenant: key.tenant, key_id: key.key_id });
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
fn same_origin_json(req: &Request, url: &str, has_body: bool) -> std::result::Result<(), LedgerError> {
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
fn ident_param(url: &str, field: &'static str) -> std::result::Result<Option<String>, LedgerError> {
    match query_param(url, field) {
        None => Ok(None),
        Some(v) if crate::model::is_ident(&v) => Ok(Some(v)),
        Some(_) => Err(LedgerError::InvalidField {
            field,
            detail: "expected an identifier (1-64 of A-Z a-z 0-9 . _ : -)".into(),
        }),
    }
}

fn segments(path: &str) -> Vec<&str> {
    path.trim_matches('/').split('/').collect()
}

/// Answers one request.
pub async fn handle(mut req: Request, env: Env) -> Result<Response> {
    let url = req.inner().url();
    let path = path_of(&url).to_string();
    let method = req.inner().method();
    let config = match super::config(&env) {
        Ok(c) => c,
        Err(detail) => {
            super::log(&json!({ "sg": "origin_config_error", "problem": detail }));
            return problem_response(
                &LedgerError::Config { detail: "the origin is not configured; see its log".into() },
                "",
            );
        }
    };
    let segs = segments(&path);
    let result = match (method.as_str(), segs.as_slice()) {
        ("GET", ["v1", "keys"]) | ("GET", [".well-known", "jwks.json"]) => {
            let mut resp = Response::ok(&config.public_jwks)?;
            resp.headers_mut().set("Content-Type", "application/jwk-set+json")?;
            resp.headers_mut().set("Cache-Control", "public, max-age=300")?;
            return Ok(resp);
        }
        ("GET", ["v1", "policy"]) => {
            let text = env.var("SG_POLICY").map(|v| v.to_string()).unwrap_or_default();
            let mut resp = Response::ok(text)?;
            resp.headers_mut().set("Content-Type", "application/json")?;
            resp.headers_mut().set("Cache-Control", "public, max-age=60")?;
            return Ok(resp);
        }
        ("GET", ["v1", "tenants", tenant, "revocations"]) => feed(&env, &config, tenant, &url).await,
        ("POST", ["v1", "admin", "api-keys"]) => admin_api_key(&mut req, &env, &config).await,
        ("POST", ["v1", "admin", "api-keys", key_id, "revoke"]) => {
            admin_revoke_key(&req, &env, &config, key_id, &url).await
        }
        ("POST", ["v1", "admin", "subjects", subject, "verify"]) => {
            admin_verify(&req, &env, &config, subject, &url).await
        }
        ("POST", ["v1", "session", "clear"]) => same_origin_json(&req, &url, false).and_then(|()| clear_session(&url)),
        ("POST", ["v1", "signals"]) => subject_call(&mut req, &env, &config, &url, SubjectOp::Submit, None).await,
        ("POST", ["v1", "signals", id, "reconfirm"]) => {
            subject_call(&mut req, &env, &config, &url, SubjectOp::Reconfirm, Some(id)).await
        }
        ("POST", ["v1", "consents", id, "revoke"]) => {
            subject_call(&mut req, &env, &config, &url, SubjectOp::Revoke, Some(id)).await
        }
        ("GET", ["v1", "signals"]) => subject_call(&mut req, &env, &config, &url, SubjectOp::List, None).await,
        ("POST", ["v1", "bundles"]) => subject_call(&mut req, &env, &config, &url, SubjectOp::Bundle, None).await,
        (
            _,
            ["v1", "signals"]
            | ["v1", "signals", _, "reconfirm"]
            | ["v1", "consents", _, "revoke"]
            | ["v1", "bundles"]
            | ["v1", "keys"]
            | [".well-known", "jwks.json"]
            | ["v1", "policy"]
            | ["v1", "tenants", _, "revocations"]
            | ["v1", "admin", "api-keys"]
            | ["v1", "admin", "api-keys", _, "revoke"]
            | ["v1", "session", "clear"]
            | ["v1", "admin", "subjects", _, "verify"],
        ) => Err(LedgerError::MethodNotAllowed),
        _ => Err(LedgerError::NotFound),
    };
    match result {
        Ok(resp) => Ok(resp),
        Err(e) => problem_response(&e, allowed_methods(&segs)),
    }
}

/// `POST /v1/session/clear`: the browser forgets its session and bundle
/// (a shared device after "forget me"). Nothing is stored, so nothing needs
/// authenticating: it only tells this browser to drop two cookies (from
/// this origin only, like every browser write).
fn clear_session(url: &str) -> std::result::Result<Response, LedgerError> {
    let storage = |e: worker::Error| LedgerError::Storage { detail: e.to_string() };
    let mut resp = Response::empty().map_err(storage)?.with_status(204);
    let headers = resp.headers_mut();
    headers.set("Cache-Control", "no-store").map_err(storage)?;
    for name in [session_cookie(secure(url)), BUNDLE_COOKIE] {
        headers.append("Set-Cookie", &cookie(name, "", 0, secure(url))).map_err(storage)?;
    }
    Ok(resp)
}

async fn feed(env: &Env, config: &OriginConfig, tenant: &str, url: &str) -> std::result::Result<Response, LedgerError> {
    if !config.serves(tenant) {
        return Err(LedgerError::NotFound);
    }
    let since = query_param(url, "since").map_or(Ok(0), |s| s.parse::<u32>().map(i64::from)).map_err(|_| {
        LedgerError::InvalidField { field: "since", detail: "expected the last sequence number received".into() }
    })?;
    // Gates poll often and alike: one answer per (tenant, since) serves this
    // isolate for a moment, so a flood of polls does not reach the
    // tenant's directory object one by one.
    let reply = match super::recent_feed(tenant, since) {
        Some(r) => r,
        None => {
            let call = DirectoryCall::Feed { tenant: tenant.to_string(), since };
            let r = super::call_directory(env, tenant, &call).await?;
            if r.status == 200 {
                super::remember_feed(tenant, since, &r);
            }
            r
        }
    };
    json_response(reply.status, &reply.body).map_err(|e| LedgerError::Storage { detail: e.to_string() })
}

/// `POST /v1/admin/api-keys/{key_id}/revoke?tenant=`: retires an API key.
/// Origins that checked it recently stop accepting it within 30 s.
async fn admin_revoke_key(
    req: &Request,
    env: &Env,
    config: &OriginConfig,
    key_id: &str,
    url: &str,
) -> std::result::Result<Response, LedgerError> {
    check_admin(req, config)?;
    let tenant = ident_param(url, "tenant")?.ok_or(LedgerError::MissingField { field: "tenant" })?;
    if !config.serves(&tenant) || !crate::model::is_ident(key_id) {
        return Err(LedgerError::NotFound);
    }
    let call = DirectoryCall::RevokeKey { tenant: tenant.clone(), key_id: key_id.to_string() };
    let reply = super::call_directory(env, &tenant, &call).await?;
    json_response(reply.status, &reply.body).map_err(|e| LedgerError::Storage { detail: e.to_string() })
}

fn check_admin(req: &Request, config: &OriginConfig) -> std::result::Result<(), LedgerError> {
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

async fn admin_api_key(
    req: &mut Request,
    env: &Env,
    config: &OriginConfig,
) -> std::result::Result<Response, LedgerError> {
    check_admin(req, config)?;
    let text = body(req).await?;
    let ApiKeyRequest { tenant, label } = api_key_request(text.as_bytes())?;
    let tenant = tenant.as_str();
    if !config.serves(tenant) {
        return Err(LedgerError::InvalidField { field: "tenant", detail: "not a tenant of this origin".into() });
    }
    let (key, token) = ApiKey::generate(tenant, &random::<40>()?)
        .ok_or(LedgerError::InvalidField { field: "tenant", detail: "not an identifier".into() })?;
    let call = DirectoryCall::AddKey { tenant: tenant.to_string(), token: token.clone(), label };
    let reply = super::call_directory(env, tenant, &call).await?;
    if reply.status != 200 {
        return json_response(reply.status, &reply.body).map_err(|e| LedgerError::Storage { detail: e.to_string() });
    }
    let body = json!({ "tenant": tenant, "key_id": key.key_id, "api_key": token, "note": "shown once: store it now" });
    json_response(201, &body).map_err(|e| LedgerError::Storage { detail: e.to_string() })
}

async fn admin_verify(
    req: &Request,
    env: &Env,
    config: &OriginConfig,
    subject: &str,
    url: &str,
) -> std::result::Result<Response, LedgerError> {
    check_admin(req, config)?;
    let tenant = ident_param(url, "tenant")?.ok_or(LedgerError::MissingField { field: "tenant" })?;
    if !config.serves(&tenant) {
        return Err(LedgerError::NotFound);
    }
    if !crate::model::is_ident(subject) {
        return Err(LedgerError::NotFound);
    }
    let call = SubjectCall {
        op: SubjectOp::Verify,
        tenant,
        subject: subject.to_string(),
        actor: ActorType::Operator,
        actor_id: "admin".into(),
        key: None,
        target: None,
        body: String::new(),
        crash_after: None,
    };
    let reply = super::call_subject(env, &call).await?;
    json_response(reply.status, &reply.body).map_err(|e| LedgerError::Storage { detail: e.to_string() })
}

/// A subject route: resolve who calls and which subject, then ask the
/// subject's ledger; set the bundle (and a new session) as cookies.
async fn subject_call(
    req: &mut Request,
    env: &Env,
    config: &OriginConfig,
    url: &str,
    op: SubjectOp,
    target: Option<&str>,
) -> std::result::Result<Response, LedgerError> {
    if target.is_some_and(|t| !crate::model::is_ident(t)) {
        return Err(LedgerError::NotFound);
    }
    let has_body = op != SubjectOp::List;
    let text = if has_body { body(req).await? } else { String::new() };
    let key = req.headers().get("Idempotency-Key").ok().flatten();
    let who = principal(req, env, config, url).await?;
    let mut new_session = None;
    let (tenant, subject, actor, actor_id) = match who {
        Principal::Service { tenant, key_id } => {
            let named = match op {
                SubjectOp::List => ident_param(url, "subject_id")?,
                SubjectOp::Bundle => bundle_request(text.as_bytes())?,
                _ => subject_in(text.as_bytes())?,
            };
            let subject = named.ok_or(LedgerError::MissingField { field: "subject_id" })?;
            (tenant, subject, ActorType::Service, key_id)
        }
        Principal::Subject(session) => {
            same_origin_json(req, url, has_body && !text.trim().is_empty())?;
            if session.needs_renewal(crate::clock::now()) {
                new_session = Some(Session::new(&session.tenant, &session.subject, crate::clock::now()));
            }
            if op == SubjectOp::Bundle {
                same_subject(bundle_request(text.as_bytes())?.as_deref(), &session.subject)?;
            }
            (session.tenant, session.subject.clone(), ActorType::Subject, session.subject)
        }
        Principal::Visitor => {
            if op != SubjectOp::Submit {
                return Err(LedgerError::Unauthenticated {
                    detail: "no session: capture a preference first, or use an API key".into(),
                });
            }
            same_origin_json(req, url, true)?;
            let tenant = config
                .tenant_for(&host_of(url))
                .ok_or(LedgerError::Forbidden { detail: "no tenant for this host".into() })?
                .to_string();
            let subject = new_subject_id(&random::<16>()?);
            new_session = Some(Session::new(&tenant, &subject, crate::clock::now()));
            (tenant, subject.clone(), ActorType::Subject, subject)
        }
    };
    let actor_is_browser = actor == ActorType::Subject;
    let crash_after = req.headers().get("Sg-Test-Crash-After").ok().flatten().and_then(|n| n.parse().ok());
    let target = target.map(str::to_string);
    let call = SubjectCall { op, tenant, subject, actor, actor_id, key, target, body: text, crash_after };
    let reply: CallReply = super::call_subject(env, &call).await?;
    let mut resp =
        json_response(reply.status, &reply.body).map_err(|e| LedgerError::Storage { detail: e.to_string() })?;
    let headers = resp.headers_mut();
    let set = |headers: &mut worker::Headers, c: String| {
        headers.append("Set-Cookie", &c).map_err(|e| LedgerError::Storage { detail: e.to_string() })
    };
    // Cookies are for browsers: a server with an API key gets the bundle in
    // the body only.
    if reply.status < 400 && actor_is_browser {
        if let Some(session) = new_session.and_then(|s| s.seal(&config.session_secret)) {
            set(headers, cookie(session_cookie(secure(url)), &session, SESSION_TTL.0, secure(url)))?;
        }
        let token = reply.body.get("bundle").and_then(|b| b.get("token")).and_then(|t| t.as_str());
        let expires = reply.body.get("bundle").and_then(|b| b.get("expires_at")).and_then(|t| t.as_i64());
        if let (Some(token), Some(exp)) = (token, expires) {
            let max_age = (exp - crate::clock::now().0).max(0);
            set(headers, cookie(BUNDLE_COOKIE, token, max_age, secure(url)))?;
        }
    }
    Ok(resp)
}
