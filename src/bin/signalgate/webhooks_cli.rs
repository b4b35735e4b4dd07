//! `signalgate ledger webhooks ...`: the tenant's webhook endpoints and
//! their deliveries, and the sender: `deliver` posts every due message over
//! HTTP with its Standard Webhooks signature headers and records what the
//! endpoint answered (retried with backoff until 2xx, dead after the last
//! try).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::json;
use signalgate::ledger::entropy::{Entropy, OsEntropy};
use signalgate::ledger::webhook_sign::is_dead;
use signalgate::ledger::webhooks::EVENT_TYPES;
use signalgate::ledger::{Outgoing, ROTATION_OVERLAP};
use signalgate::UnixTime;

use crate::commands::{json, line, note, Failure};
use crate::ledger_ctx::{at, table, when, when_opt, with_local, DirArgs, Setup};

/// How long one delivery may take, connection to last byte.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Most bytes of an endpoint's reply read (and discarded).
const REPLY_READ: u64 = 4096;
/// Most deliveries fetched at once.
const BATCH: i64 = 100;

/// The webhook subcommands.
#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Add an endpoint for some event types; prints its id and its secret (shown once)
    Add(AddArgs),
    /// List the tenant's endpoints
    List(ListArgs),
    /// Give an endpoint a new secret (the old one keeps signing for 24 h)
    Rotate(EndpointArgs),
    /// Disable an endpoint (its pending deliveries are cancelled)
    Disable(EndpointArgs),
    /// List deliveries, by state or subject
    Deliveries(DeliveriesArgs),
    /// Send a dead message again (from the first try's schedule)
    Retry(RetryArgs),
    /// Send every due delivery over HTTP and record each result (once, or every N seconds)
    Deliver(DeliverArgs),
}

/// `webhooks add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// Where to POST: an https URL (plain http only to localhost), without credentials
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// The event types to send there
    #[arg(long, value_name = "TYPE[,TYPE...]", value_delimiter = ',', required = true,
          value_parser = clap::builder::PossibleValuesParser::new(EVENT_TYPES.iter().copied()))]
    pub events: Vec<String>,
    /// Print the endpoint (and its secret) as JSON
    #[arg(long)]
    pub json: bool,
}

/// `webhooks list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// Print the endpoints as JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

/// `webhooks rotate` and `disable`.
#[derive(Debug, Args)]
pub struct EndpointArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// The endpoint
    #[arg(value_name = "ENDPOINT_ID")]
    pub endpoint_id: String,
}

/// `webhooks deliveries`.
#[derive(Debug, Args)]
pub struct DeliveriesArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// Only deliveries in this state
    #[arg(long, value_name = "STATE", value_parser = ["pending", "delivered", "dead", "cancelled"])]
    pub state: Option<String>,
    /// Only deliveries about this subject
    #[arg(long, value_name = "SUBJECT")]
    pub subject: Option<String>,
    /// Print the records as JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

/// `webhooks retry`.
#[derive(Debug, Args)]
pub struct RetryArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// The endpoint
    #[arg(value_name = "ENDPOINT_ID")]
    pub endpoint_id: String,
    /// The dead message (`webhook-id`)
    #[arg(value_name = "MSG_ID")]
    pub msg_id: String,
}

/// `webhooks deliver`.
#[derive(Debug, Args)]
pub struct DeliverArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// Policy file: with it, each pass first sweeps the subjects' outboxes (messages a write left behind)
    #[arg(long, value_name = "POLICY")]
    pub policy: Option<PathBuf>,
    /// Keep going, a pass every SECONDS, until interrupted (with `--now`, each pass is SECONDS later)
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub watch: Option<u64>,
}

/// Runs one webhooks subcommand.
pub fn run(command: WebhooksCommand, out: &mut dyn Write) -> Result<(), Failure> {
    match command {
        WebhooksCommand::Add(a) => add(&a, out),
        WebhooksCommand::List(a) => list(&a, out),
        WebhooksCommand::Rotate(a) => rotate(&a, out),
        WebhooksCommand::Disable(a) => {
            a.dir.with_directory(|d, now| Ok(d.disable_endpoint(&a.dir.tenant, &a.endpoint_id, now)?))?;
            line(out, &format!("endpoint {} disabled; its pending deliveries are cancelled", a.endpoint_id))?;
            Ok(())
        }
        WebhooksCommand::Deliveries(a) => deliveries(&a, out),
        WebhooksCommand::Retry(a) => {
            a.dir.with_directory(|d, now| Ok(d.retry_dead(&a.dir.tenant, &a.endpoint_id, &a.msg_id, now)?))?;
            line(out, &format!("message {} to {} is pending again", a.msg_id, a.endpoint_id))?;
            Ok(())
        }
        WebhooksCommand::Deliver(a) => deliver(&a, out),
    }
}

fn add(a: &AddArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let (id, secret) =
        a.dir.with_directory(|d, now| Ok(d.add_endpoint(&a.dir.tenant, &a.url, &a.events, &mut OsEntropy, now)?))?;
    if a.json {
        json(out, &json!({ "endpoint_id": id, "url": a.url, "events": a.events, "secret": secret.to_string() }))?;
    } else {
        line(out, &format!("endpoint: {id}"))?;
        line(out, &format!("secret: {secret}"))?;
    }
    note("store the secret now, where the receiver verifies signatures: it is not shown again");
    Ok(())
}

fn list(a: &ListArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let endpoints = a.dir.with_directory(|d, _| Ok(d.endpoints(&a.dir.tenant)?))?;
    if a.json {
        return json(out, &endpoints);
    }
    let rows: Vec<Vec<String>> = endpoints
        .iter()
        .map(|e| {
            vec![
                e.endpoint_id.clone(),
                e.url.clone(),
                e.events.join(","),
                when(e.created_at),
                if e.rotating { "yes" } else { "no" }.to_string(),
                when_opt(e.disabled_at),
            ]
        })
        .collect();
    table(out, &["ENDPOINT", "URL", "EVENTS", "CREATED", "ROTATING", "DISABLED"], &rows)?;
    writeln!(out, "{} endpoint(s)", endpoints.len())?;
    Ok(())
}

fn rotate(a: &EndpointArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let (secret, now) = a.dir.with_directory(|d, now| {
        Ok((d.rotate_endpoint_secret(&a.dir.tenant, &a.endpoint_id, &mut OsEntropy, now)?, now))
    })?;
    line(out, &format!("endpoint: {}", a.endpoint_id))?;
    line(out, &format!("secret: {secret}"))?;
    note(&format!(
        "store the new secret now (it is not shown again); the old one keeps signing too for 24 h, until {}, \
         so the receiver can switch without losing a message",
        when(now.after(ROTATION_OVERLAP).0)
    ));
    Ok(())
}

fn deliveries(a: &DeliveriesArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let list =
        a.dir.with_directory(|d, _| Ok(d.deliveries(&a.dir.tenant, a.subject.as_deref(), a.state.as_deref())?))?;
    if a.json {
        return json(out, &list);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|d| {
            vec![
                d.endpoint_id.clone(),
                d.msg_id.clone(),
                d.event_type.clone(),
                d.subject_id.clone(),
                d.state.clone(),
                d.attempts.to_string(),
                when(d.created_at),
                when_opt(d.delivered_at),
                d.last_status.map_or_else(|| "-".into(), |s| s.to_string()),
                d.last_error.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    table(
        out,
        &["ENDPOINT", "MESSAGE", "TYPE", "SUBJECT", "STATE", "TRIES", "CREATED", "DELIVERED", "STATUS", "LAST ERROR"],
        &rows,
    )?;
    writeln!(out, "{} deliveries", list.len())?;
    Ok(())
}

/// What one pass did.
#[derive(Debug, Default)]
struct Pass {
    sent: usize,
    delivered: usize,
    failed: usize,
    dead: usize,
}

/// The HTTP clients: one for https (through a proxy the environment names),
/// one for the plain http endpoints, which are on this machine.
struct Http {
    remote: ureq::Agent,
    local: ureq::Agent,
}

impl Http {
    fn new() -> Http {
        let config = || {
            ureq::Agent::config_builder()
                .timeout_global(Some(TIMEOUT))
                .max_redirects(0)
                .http_status_as_error(false)
                .user_agent(concat!("signalgate-webhooks/", env!("CARGO_PKG_VERSION")))
        };
        Http { remote: config().build().into(), local: config().proxy(None).build().into() }
    }

    /// Posts one delivery: the status (any 2xx is delivered), or why there
    /// was none. A redirect is not followed: it is a failure.
    fn send(&self, o: &Outgoing) -> (Option<u16>, Option<String>) {
        let agent =
            if o.url.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("http://")) { &self.local } else { &self.remote };
        let mut request = agent.post(&o.url);
        for (name, value) in &o.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        match request.send(o.body.as_bytes()) {
            Ok(response) => {
                let status = response.status().as_u16();
                let mut body = response.into_body();
                let _ = std::io::copy(&mut body.as_reader().take(REPLY_READ), &mut std::io::sink());
                let error = (300..400).contains(&status).then(|| format!("redirect (status {status}) not followed"));
                (Some(status), error)
            }
            Err(e) => (None, Some(e.to_string())),
        }
    }
}

/// One pass: every delivery due at `now`, sent and recorded.
fn pass(a: &DeliverArgs, http: &Http, now: UnixTime, out: &mut dyn Write) -> Result<Pass, Failure> {
    let tenant = &a.dir.tenant;
    if let Some(policy) = &a.policy {
        let setup = Setup { db: &a.dir.db, policy, tenant, now: Some(now.0), key: None, sweep: true };
        with_local(&setup, |_, _| Ok(()))?;
    }
    let mut done = Pass::default();
    let mut store = crate::ledger_cli::open(&a.dir.db.db)?;
    let mut directory = signalgate::ledger::Directory::new(&mut store);
    // A failed try is due again only later, so each round sends new ones;
    // the bound keeps a pass finite whatever the store holds.
    for _round in 0..1000 {
        let due = directory.due_deliveries(tenant, now, BATCH)?;
        if due.is_empty() {
            break;
        }
        for o in &due {
            let (status, error) = http.send(o);
            done.sent += 1;
            let ok = error.is_none() && status.is_some_and(|s| (200..300).contains(&s));
            let jitter: [u8; 4] = OsEntropy.bytes()?;
            directory.delivery_result(tenant, o, status, error.as_deref(), jitter, now)?;
            if ok {
                done.delivered += 1;
                continue;
            }
            done.failed += 1;
            let dead = is_dead(o.attempts + 1);
            done.dead += usize::from(dead);
            let why = match (&error, status) {
                (Some(e), _) => e.clone(),
                (None, Some(s)) => format!("status {s}"),
                (None, None) => "no answer".into(),
            };
            let fate = if dead {
                "dead, no more tries (`webhooks retry` sends it again)".to_string()
            } else {
                format!("try {}", o.attempts + 1)
            };
            line(out, &format!("failed: endpoint {} message {}: {why} ({fate})", o.endpoint_id, o.msg_id))?;
        }
    }
    Ok(done)
}

fn deliver(a: &DeliverArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let http = Http::new();
    let mut now = at(a.dir.now);
    loop {
        let p = pass(a, &http, now, out)?;
        line(
            out,
            &format!(
                "{}: sent {}, delivered {}, failed {}, dead {}",
                when(now.0),
                p.sent,
                p.delivered,
                p.failed,
                p.dead
            ),
        )?;
        out.flush()?;
        let Some(seconds) = a.watch else { return Ok(()) };
        std::thread::sleep(Duration::from_secs(seconds));
        now = match a.dir.now {
            Some(_) => UnixTime(now.0.saturating_add(i64::try_from(seconds).unwrap_or(i64::MAX))),
            None => at(None),
        };
    }
}
