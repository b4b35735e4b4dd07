//! Webhook endpoints and deliveries, in the tenant's directory. Messages
//! from subjects' outboxes are fanned out to the endpoints subscribed to
//! their type, one delivery row per (endpoint, message); a delivery is
//! retried with exponential backoff and jitter
//! ([`super::webhook_sign::retry_delay`]) until the endpoint answers 2xx,
//! and is dead after [`super::webhook_sign::MAX_ATTEMPTS`] tries (a dead
//! letter an operator can send again). Every try of a message carries the
//! same `webhook-id`, so a consumer that de-duplicates on it sees each
//! event once.
//!
//! Pure like the rest of the ledger: [`Directory::due_deliveries`] says
//! what to send (signed), the binding sends it (a Durable Object alarm, or
//! natively a sweep), and [`Directory::delivery_result`] records what
//! happened.

use serde::Serialize;
use serde_json::Value as Json;

use super::directory::Directory;
use super::entropy::Entropy;
use super::error::LedgerError;
use super::outbox::{Kind, Message};
use super::store::{int, opt_int, opt_text, text, Statement, Store};
use super::webhook_sign::{is_dead, retry_delay, WebhookHeaders, WebhookSecret};
use super::webhooks::EVENT_TYPES;
use crate::codec::b64;
use crate::time::{Span, UnixTime};

/// How long the previous secret keeps signing after a rotation.
pub const ROTATION_OVERLAP: Span = Span::days(1);
/// How long a delivered, dead or cancelled message keeps its body after
/// that happened (for a retry or a look); its record stays for the
/// evidence. Bodies past it are blanked when the directory next takes
/// messages in.
pub const PAYLOAD_KEPT: Span = Span::days(7);
/// Most endpoints per tenant.
pub const MAX_ENDPOINTS: usize = 16;

/// An endpoint as operators see it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    /// Its id.
    pub endpoint_id: String,
    /// Where messages go.
    pub url: String,
    /// The event types it receives.
    pub events: Vec<String>,
    /// When it was added.
    pub created_at: i64,
    /// Whether a previous secret still signs too (a rotation in progress).
    pub rotating: bool,
    /// When it was disabled, if it was.
    pub disabled_at: Option<i64>,
}

/// A message to send now: where, the signed headers and the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outgoing {
    /// The endpoint.
    pub endpoint_id: String,
    /// Its URL.
    pub url: String,
    /// The message id (`webhook-id`).
    pub msg_id: String,
    /// Tries so far.
    pub attempts: u32,
    /// The headers to send, signed.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: String,
}

/// A delivery's record, for operators and evidence packs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct DeliveryRecord {
    /// The endpoint.
    pub endpoint_id: String,
    /// The message id.
    pub msg_id: String,
    /// Its event type.
    pub event_type: String,
    /// The subject it is about.
    pub subject_id: String,
    /// `pending`, `delivered`, `dead` or `cancelled`.
    pub state: String,
    /// Tries so far.
    pub attempts: u32,
    /// When it was created.
    pub created_at: i64,
    /// When it was delivered.
    pub delivered_at: Option<i64>,
    /// The last HTTP status received.
    pub last_status: Option<i64>,
    /// The last error (status line or transport error).
    pub last_error: Option<String>,
}

/// Takes an erased value (and its category) out of the deliveries of a
/// version, pending or kept.
const DELIVERY_REDACT: &str = "UPDATE webhook_deliveries SET payload = json_set(json_remove(payload, '$.data.value', \
     '$.data.category'), '$.data.value_erased', json('true')) WHERE tenant_id = ? AND subject_id = ? AND payload <> '' \
     AND json_extract(payload, '$.data.signal_id') = ? AND json_extract(payload, '$.data.version') = ?";

/// Whether a URL is one the directory sends to: https, or plain http to
/// this machine (local development and tests).
pub fn acceptable_url(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else { return false };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_only = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let name = if host_only.starts_with('[') {
        host_only.split(']').next().map(|h| format!("{h}]")).unwrap_or_default()
    } else {
        host_only.split(':').next().unwrap_or("").to_ascii_lowercase()
    };
    let local = matches!(name.as_str(), "localhost" | "127.0.0.1" | "[::1]");
    !name.is_empty()
        && url.len() <= 2048
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
        && !host.contains('@')
        && (scheme.eq_ignore_ascii_case("https") || (scheme.eq_ignore_ascii_case("http") && local))
}

impl<S: Store> Directory<'_, S> {
    /// Adds an endpoint for `events` (each one of [`EVENT_TYPES`]) and
    /// returns its id and its new secret (shown once).
    pub fn add_endpoint(
        &mut self,
        tenant: &str,
        url: &str,
        events: &[String],
        entropy: &mut impl Entropy,
        now: UnixTime,
    ) -> Result<(String, WebhookSecret), LedgerError> {
        if !acceptable_url(url) {
            return Err(LedgerError::InvalidField {
                field: "url",
                detail: "expected an https URL (http only to localhost), without credentials".into(),
            });
        }
        if events.is_empty() || events.iter().any(|e| !EVENT_TYPES.contains(&e.as_str())) {
            return Err(LedgerError::InvalidField {
                field: "events",
                detail: format!("expected a list of event types from: {}", EVENT_TYPES.join(", ")),
            });
        }
        if self.endpoints(tenant)?.iter().filter(|e| e.disabled_at.is_none()).count() >= MAX_ENDPOINTS {
            return Err(LedgerError::Forbidden { detail: format!("at most {MAX_ENDPOINTS} endpoints per tenant") });
        }
        let mut random = [0u8; 12];
        entropy.fill(&mut random)?;
        let endpoint_id = format!("ep_{}", b64::encode(&random));
        let secret = WebhookSecret::generate(entropy)?;
        let mut sorted = events.to_vec();
        sorted.sort();
        sorted.dedup();
        self.store.apply(&[Statement::new(
            "INSERT INTO webhook_endpoints (tenant_id, endpoint_id, url, events, secret, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
            vec![
                tenant.into(),
                endpoint_id.as_str().into(),
                url.into(),
                serde_json::to_string(&sorted).unwrap_or_default().into(),
                secret.to_string().into(),
                now.0.into(),
            ],
        )])?;
        Ok((endpoint_id, secret))
    }

    /// The tenant's endpoints.
    pub fn endpoints(&mut self, tenant: &str) -> Result<Vec<Endpoint>, LedgerError> {
        let rows = self.store.query(
            "SELECT endpoint_id, url, events, created_at, previous_until, disabled_at FROM webhook_endpoints \
             WHERE tenant_id = ? ORDER BY created_at, endpoint_id",
            &[tenant.into()],
        )?;
        rows.iter()
            .map(|r| {
                Ok(Endpoint {
                    endpoint_id: text(r, 0)?,
                    url: text(r, 1)?,
                    events: serde_json::from_str(&text(r, 2)?).unwrap_or_default(),
                    created_at: int(r, 3)?,
                    rotating: opt_int(r, 4)?.is_some(),
                    disabled_at: opt_int(r, 5)?,
                })
            })
            .collect()
    }

    /// Rotates an endpoint's secret: the new one signs from now on, and the
    /// old one too for [`ROTATION_OVERLAP`], so the consumer can switch
    /// without losing a message. Returns the new secret.
    pub fn rotate_endpoint_secret(
        &mut self,
        tenant: &str,
        endpoint_id: &str,
        entropy: &mut impl Entropy,
        now: UnixTime,
    ) -> Result<WebhookSecret, LedgerError> {
        let rows = self.store.query(
            "SELECT secret FROM webhook_endpoints WHERE tenant_id = ? AND endpoint_id = ? AND disabled_at IS NULL",
            &[tenant.into(), endpoint_id.into()],
        )?;
        let old = text(rows.first().ok_or(LedgerError::NotFound)?, 0)?;
        let secret = WebhookSecret::generate(entropy)?;
        self.store.apply(&[Statement::new(
            "UPDATE webhook_endpoints SET secret = ?, previous_secret = ?, previous_until = ? \
             WHERE tenant_id = ? AND endpoint_id = ?",
            vec![
                secret.to_string().into(),
                old.into(),
                now.after(ROTATION_OVERLAP).0.into(),
                tenant.into(),
                endpoint_id.into(),
            ],
        )])?;
        Ok(secret)
    }

    /// Disables an endpoint: nothing more is sent to it (pending messages
    /// are cancelled).
    pub fn disable_endpoint(&mut self, tenant: &str, endpoint_id: &str, now: UnixTime) -> Result<(), LedgerError> {
        if !self.endpoints(tenant)?.iter().any(|e| e.endpoint_id == endpoint_id && e.disabled_at.is_none()) {
            return Err(LedgerError::NotFound);
        }
        self.store.apply(&[
            Statement::new(
                "UPDATE webhook_endpoints SET disabled_at = ? WHERE tenant_id = ? AND endpoint_id = ?",
                vec![now.0.into(), tenant.into(), endpoint_id.into()],
            ),
            Statement::new(
                "UPDATE webhook_deliveries SET state = 'cancelled' WHERE tenant_id = ? AND endpoint_id = ? AND state = 'pending'",
                vec![tenant.into(), endpoint_id.into()],
            ),
        ])?;
        Ok(())
    }

    /// Fans webhook messages out to the endpoints subscribed to their type
    /// (idempotent: a message received twice is one delivery). A
    /// `subject.erased` message first cancels the subject's pending
    /// deliveries and blanks the bodies kept of its earlier ones.
    pub(crate) fn fan_out(&mut self, tenant: &str, messages: &[&Message], now: UnixTime) -> Result<usize, LedgerError> {
        let endpoints: Vec<Endpoint> =
            self.endpoints(tenant)?.into_iter().filter(|e| e.disabled_at.is_none()).collect();
        let mut batch = vec![Statement::new(
            "UPDATE webhook_deliveries SET payload = '' WHERE tenant_id = ? AND state <> 'pending' \
             AND CASE WHEN state = 'delivered' THEN delivered_at ELSE next_at END <= ?",
            vec![tenant.into(), now.before(PAYLOAD_KEPT).0.into()],
        )];
        let mut fanned = 0;
        for m in messages.iter().filter(|m| m.kind == Kind::Webhook) {
            let kind = m.payload.get("type").and_then(Json::as_str).unwrap_or_default().to_string();
            let subject = m
                .payload
                .get("data")
                .and_then(|d| d.get("subject_id"))
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_string();
            if kind == "signal.erased" {
                let erased: Vec<(String, u32)> = m
                    .payload
                    .pointer("/data/signals")
                    .and_then(|v| serde_json::from_value(v.clone()).ok())
                    .unwrap_or_default();
                batch.extend(
                    erased.iter().map(|(id, v)| super::webhooks::redact(DELIVERY_REDACT, tenant, &subject, id, *v)),
                );
            }
            if kind == "subject.erased" {
                batch.push(Statement::new(
                    "UPDATE webhook_deliveries SET state = CASE WHEN state = 'pending' THEN 'cancelled' ELSE state END, \
                     payload = '' WHERE tenant_id = ? AND subject_id = ?",
                    vec![tenant.into(), subject.as_str().into()],
                ));
            }
            for e in endpoints.iter().filter(|e| e.events.contains(&kind)) {
                batch.push(Statement::new(
                    "INSERT OR IGNORE INTO webhook_deliveries (tenant_id, endpoint_id, msg_id, event_type, subject_id, \
                     payload, created_at, attempts, next_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, 'pending')",
                    vec![
                        tenant.into(),
                        e.endpoint_id.as_str().into(),
                        m.msg_id.as_str().into(),
                        kind.as_str().into(),
                        subject.as_str().into(),
                        m.payload.to_string().into(),
                        now.0.into(),
                        now.0.into(),
                    ],
                ));
                fanned += 1;
            }
        }
        self.store.apply(&batch)?;
        Ok(fanned)
    }

    /// The deliveries due at `now`, oldest first, signed (with the previous
    /// secret too while a rotation overlaps).
    pub fn due_deliveries(&mut self, tenant: &str, now: UnixTime, limit: i64) -> Result<Vec<Outgoing>, LedgerError> {
        let rows = self.store.query(
            "SELECT d.endpoint_id, e.url, d.msg_id, d.attempts, d.payload, e.secret, e.previous_secret, e.previous_until \
             FROM webhook_deliveries d JOIN webhook_endpoints e ON e.tenant_id = d.tenant_id AND e.endpoint_id = d.endpoint_id \
             WHERE d.tenant_id = ? AND d.state = 'pending' AND d.next_at <= ? AND e.disabled_at IS NULL \
             ORDER BY d.next_at, d.created_at, d.msg_id LIMIT ?",
            &[tenant.into(), now.0.into(), limit.into()],
        )?;
        let mut out = Vec::new();
        for r in &rows {
            let body = text(r, 4)?;
            let current = WebhookSecret::parse(&text(r, 5)?)?;
            let previous = match (opt_text(r, 6)?, opt_int(r, 7)?) {
                (Some(p), Some(until)) if until > now.0 => Some(WebhookSecret::parse(&p)?),
                _ => None,
            };
            let mut secrets = vec![&current];
            secrets.extend(previous.as_ref());
            let msg_id = text(r, 2)?;
            let headers = WebhookHeaders::new(&secrets, &msg_id, now.0, body.as_bytes());
            out.push(Outgoing {
                endpoint_id: text(r, 0)?,
                url: text(r, 1)?,
                msg_id,
                attempts: u32::try_from(int(r, 3)?).unwrap_or(0),
                headers: headers.pairs().into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
                body,
            });
        }
        Ok(out)
    }

    /// Records a try: delivered on a 2xx status; otherwise the next try is
    /// scheduled (with jitter from `jitter`), or the message is dead after
    /// the last one.
    pub fn delivery_result(
        &mut self,
        tenant: &str,
        sent: &Outgoing,
        status: Option<u16>,
        error: Option<&str>,
        jitter: [u8; 4],
        now: UnixTime,
    ) -> Result<(), LedgerError> {
        let attempts = sent.attempts + 1;
        let ok = status.is_some_and(|s| (200..300).contains(&s));
        let (state, next_at) = if ok {
            ("delivered", now)
        } else if is_dead(attempts) {
            ("dead", now)
        } else {
            ("pending", now.after(retry_delay(attempts, jitter)))
        };
        let error: Option<String> = if ok {
            None
        } else {
            Some(
                error
                    .map(|e| e.chars().take(200).collect())
                    .unwrap_or_else(|| format!("status {}", status.unwrap_or(0))),
            )
        };
        self.store.apply(&[Statement::new(
            "UPDATE webhook_deliveries SET attempts = ?, next_at = ?, state = ?, last_status = ?, last_error = ?, \
             delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END \
             WHERE tenant_id = ? AND endpoint_id = ? AND msg_id = ? AND state = 'pending'",
            vec![
                attempts.into(),
                next_at.0.into(),
                state.into(),
                status.map(i64::from).into(),
                error.into(),
                state.into(),
                now.0.into(),
                tenant.into(),
                sent.endpoint_id.as_str().into(),
                sent.msg_id.as_str().into(),
            ],
        )])?;
        Ok(())
    }

    /// Sends a dead message again (from the first try's schedule).
    pub fn retry_dead(
        &mut self,
        tenant: &str,
        endpoint_id: &str,
        msg_id: &str,
        now: UnixTime,
    ) -> Result<(), LedgerError> {
        let rows = self.store.query(
            "SELECT payload FROM webhook_deliveries WHERE tenant_id = ? AND endpoint_id = ? AND msg_id = ? AND state = 'dead'",
            &[tenant.into(), endpoint_id.into(), msg_id.into()],
        )?;
        let row = rows.first().ok_or(LedgerError::NotFound)?;
        if text(row, 0)?.is_empty() {
            return Err(LedgerError::Forbidden { detail: "the message's body is no longer kept".into() });
        }
        self.store.apply(&[Statement::new(
            "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_at = ? \
             WHERE tenant_id = ? AND endpoint_id = ? AND msg_id = ?",
            vec![now.0.into(), tenant.into(), endpoint_id.into(), msg_id.into()],
        )])?;
        Ok(())
    }

    /// When the next delivery is due, if any (for alarms).
    pub fn next_delivery(&mut self, tenant: &str) -> Result<Option<UnixTime>, LedgerError> {
        let rows = self.store.query(
            "SELECT MIN(next_at) FROM webhook_deliveries WHERE tenant_id = ? AND state = 'pending'",
            &[tenant.into()],
        )?;
        Ok(rows.first().and_then(|r| r.first()).and_then(super::store::Value::as_int).map(UnixTime))
    }

    /// Delivery records, for one subject or all, in one state or all.
    pub fn deliveries(
        &mut self,
        tenant: &str,
        subject: Option<&str>,
        state: Option<&str>,
    ) -> Result<Vec<DeliveryRecord>, LedgerError> {
        let rows = self.store.query(
            "SELECT endpoint_id, msg_id, event_type, subject_id, state, attempts, created_at, delivered_at, last_status, \
             last_error FROM webhook_deliveries WHERE tenant_id = ? AND (? IS NULL OR subject_id = ?) \
             AND (? IS NULL OR state = ?) ORDER BY created_at, msg_id, endpoint_id LIMIT 10000",
            &[tenant.into(), subject.into(), subject.into(), state.into(), state.into()],
        )?;
        rows.iter()
            .map(|r| {
                Ok(DeliveryRecord {
                    endpoint_id: text(r, 0)?,
                    msg_id: text(r, 1)?,
                    event_type: text(r, 2)?,
                    subject_id: text(r, 3)?,
                    state: text(r, 4)?,
                    attempts: u32::try_from(int(r, 5)?).unwrap_or(0),
                    created_at: int(r, 6)?,
                    delivered_at: opt_int(r, 7)?,
                    last_status: opt_int(r, 8)?,
                    last_error: opt_text(r, 9)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_local_http_urls() {
        for ok in ["https://hooks.example/in", "http://localhost:8080/hook", "http://127.0.0.1:9/x", "http://[::1]:9/x"]
        {
            assert!(acceptable_url(ok), "{ok}");
        }
        for bad in [
            "http://hooks.example/in",
            "ftp://x",
            "https://",
            "https://user:pw@hooks.example/",
            "https://hooks.example/ in",
            "http://localhost.evil.example/",
            "javascript:alert(1)",
        ] {
            assert!(!acceptable_url(bad), "{bad}");
        }
    }
}
