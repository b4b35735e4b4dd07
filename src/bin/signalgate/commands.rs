//! What each subcommand does. Every command writes its results to `out`
//! (standard output) and notes to standard error; text that comes from a
//! bundle or a file is escaped on the way out (see [`crate::safe`]).

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::path::Path;

use signalgate::bundle::{Expectations, KeySet, Signer, SigningKey, UnverifiedBundle};
use signalgate::eval::{Context, Decision, Gate};
use signalgate::model::{Claims, Policy, PolicyError};
use signalgate::UnixTime;

use crate::cli::{
    Command, CompletionsArgs, EvalArgs, InspectArgs, KeygenArgs, PolicyCheckArgs, PolicyCommand, PolicyDiffArgs,
    SignArgs, VerifyArgs,
};
use crate::safe::{self, Esc};

/// Why a command did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// The operation failed (exit status 1). The message is one lowercase
    /// line; it may quote untrusted input and is escaped when printed.
    Failed(String),
    /// A policy file with problems (exit status 1), printed one problem a line.
    Policy { path: String, error: PolicyError },
    /// Standard output could not be written (a closed pipe, a full disk).
    Output(io::Error),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Output(e)
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Failed(message)
    }
}

impl From<signalgate::ledger::LedgerError> for Failure {
    fn from(e: signalgate::ledger::LedgerError) -> Self {
        Failure::Failed(format!("{} ({})", e, e.code()))
    }
}

impl Failure {
    /// Writes the failure to `err` as `error: ...`, escaped.
    pub fn report(&self, err: &mut dyn Write) -> io::Result<()> {
        match self {
            Failure::Failed(message) => writeln!(err, "error: {}", Esc(message)),
            Failure::Policy { path, error } => {
                let n = error.problems.len();
                writeln!(err, "error: `{}`: policy has {n} problem{}", Esc(path), if n == 1 { "" } else { "s" })?;
                for p in &error.problems {
                    if p.path.is_empty() {
                        writeln!(err, "  {}", Esc(&p.message))?;
                    } else {
                        writeln!(err, "  {}: {}", Esc(&p.path), Esc(&p.message))?;
                    }
                }
                Ok(())
            }
            Failure::Output(e) => writeln!(err, "error: writing standard output: {e}"),
        }
    }
}

type Outcome = Result<(), Failure>;

/// Runs one command.
pub fn run(command: Command, out: &mut dyn Write) -> Outcome {
    match command {
        Command::Keygen(a) => keygen(&a, out),
        Command::Sign(a) => sign(&a, out),
        Command::Verify(a) => verify(&a, out),
        Command::Inspect(a) => inspect(&a, out),
        Command::Eval(a) => eval(&a, out),
        Command::Policy(PolicyCommand::Check(a)) => policy_check(&a, out),
        Command::Policy(PolicyCommand::Diff(a)) => policy_diff(&a, out),
        Command::Completions(a) => completions(&a, out),
        Command::Ledger(c) => crate::ledger_cli::run(c, out),
    }
}

/// A note for the operator on standard error, escaped. A closed standard
/// error is not worth failing over.
pub(crate) fn note(text: &str) {
    let _ = writeln!(io::stderr(), "{}", Esc(text));
}

/// One line of human-readable output, escaped.
pub(crate) fn line(out: &mut dyn Write, text: &str) -> io::Result<()> {
    writeln!(out, "{}", Esc(text))
}

/// JSON output, pretty-printed, with the characters serde_json leaves alone escaped.
pub(crate) fn json(out: &mut dyn Write, value: &impl serde::Serialize) -> Outcome {
    let text = serde_json::to_string_pretty(value).map_err(|e| format!("writing JSON: {e}"))?;
    writeln!(out, "{}", safe::json(&text))?;
    Ok(())
}

pub(crate) fn shown(path: &Path) -> String {
    path.display().to_string()
}

pub(crate) fn read(path: &Path) -> Result<String, Failure> {
    if path == Path::new("-") {
        let mut s = String::new();
        io::stdin().read_to_string(&mut s).map_err(|e| format!("reading standard input: {e}"))?;
        return Ok(s);
    }
    Ok(std::fs::read_to_string(path).map_err(|e| format!("reading `{}`: {e}", shown(path)))?)
}

fn read_bundle(path: &Path) -> Result<String, Failure> {
    Ok(read(path)?.trim().to_string())
}

fn write_private(path: &Path, text: &str) -> Outcome {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(path)
        .map_err(|e| format!("creating `{}`: {e} (an existing key is never overwritten)", shown(path)))?;
    f.write_all(text.as_bytes()).map_err(|e| format!("writing `{}`: {e}", shown(path)))?;
    Ok(())
}

pub(crate) fn clock() -> UnixTime {
    UnixTime(chrono::Utc::now().timestamp())
}

pub(crate) fn keys(path: &Path) -> Result<KeySet, Failure> {
    Ok(KeySet::from_json(&read(path)?).map_err(|e| format!("`{}`: {e}", shown(path)))?)
}

pub(crate) fn policy(path: &Path) -> Result<Policy, Failure> {
    Policy::from_json(&read(path)?).map_err(|error| Failure::Policy { path: shown(path), error })
}

/// Reads a context file; `now` defaults to the clock.
fn context(path: &Path) -> Result<Context, Failure> {
    let mut value: serde_json::Value =
        serde_json::from_str(&read(path)?).map_err(|e| format!("`{}`: not JSON: {e}", shown(path)))?;
    if let Some(obj) = value.as_object_mut() {
        obj.entry("now").or_insert(serde_json::json!(clock().0));
    }
    Ok(serde_json::from_value(value).map_err(|e| format!("`{}`: {e}", shown(path)))?)
}

fn keygen(a: &KeygenArgs, out: &mut dyn Write) -> Outcome {
    let mut key = SigningKey::generate().map_err(|e| e.to_string())?;
    if let Some(kid) = &a.kid {
        key = key.with_kid(kid).map_err(|e| e.to_string())?;
    }
    match &a.private_out {
        Some(path) => {
            write_private(path, &key.to_private_jwk_json())?;
            note(&format!(
                "private key `{}` written to {} (mode 600; keep it secret, never commit it)",
                key.kid(),
                shown(path)
            ));
        }
        None => {
            note("private key (keep it secret; use --private-out FILE to write it to a file):");
            writeln!(out, "{}", safe::json(&key.to_private_jwk_json()))?;
        }
    }
    match &a.public_out {
        Some(path) => {
            std::fs::write(path, key.public_jwks_json()).map_err(|e| format!("writing `{}`: {e}", shown(path)))?
        }
        None => writeln!(out, "{}", safe::json(&key.public_jwks_json()))?,
    }
    Ok(())
}

fn sign(a: &SignArgs, out: &mut dyn Write) -> Outcome {
    let key = SigningKey::from_jwk_json(&read(&a.key)?).map_err(|e| format!("`{}`: {e}", shown(&a.key)))?;
    let claims: Claims = serde_json::from_str(&read(&a.claims)?).map_err(|e| format!("`{}`: {e}", shown(&a.claims)))?;
    let token = Signer::new(key).sign(&claims).map_err(|e| e.to_string())?;
    line(out, &token)?;
    Ok(())
}

fn verify(a: &VerifyArgs, out: &mut dyn Write) -> Outcome {
    let keys = keys(&a.keys)?;
    let expect = Expectations::new(&a.audience, a.tenant.as_deref());
    let token = read_bundle(&a.bundle)?;
    let now = a.now.map_or_else(clock, UnixTime);
    let bundle = UnverifiedBundle::parse(&token)
        .and_then(|b| b.verify(&keys, &expect, now))
        .map_err(|e| format!("not verified: {e}"))?;
    note(&format!("verified with key `{}`", bundle.kid()));
    json(out, bundle.claims())
}

fn inspect(a: &InspectArgs, out: &mut dyn Write) -> Outcome {
    let token = read_bundle(&a.bundle)?;
    let b = UnverifiedBundle::parse(&token).map_err(|e| format!("cannot decode: {e}"))?;
    let h = b.header();
    line(out, "UNVERIFIED: decoded without checking the signature; do not trust these claims")?;
    json(
        out,
        &serde_json::json!({ "header": { "alg": h.alg, "kid": h.kid, "typ": h.typ }, "claims": b.claims_unverified() }),
    )
}

/// The decision as text, one line per fact (unescaped: printed through [`line()`]).
fn explain(d: &Decision) -> Vec<String> {
    let mut lines = vec![format!("tier: {}", d.tier.as_str()), format!("segments: {}", d.segments.join(" "))];
    if let Some(e) = &d.error {
        lines.push(format!("error: {} ({})", e.message, e.code));
    }
    lines.push(format!("freshness: {}", d.freshness.as_str()));
    if !d.allowed_categories.is_empty() {
        lines.push(format!("allowed categories: {}", d.allowed_categories.join(" ")));
    }
    if !d.allowed_channels.is_empty() {
        lines.push(format!("allowed channels: {}", d.allowed_channels.join(" ")));
    }
    for e in &d.expiring {
        lines.push(format!("expiring: {} ({}) at {}", e.signal, e.class, e.deadline));
    }
    for s in &d.reasons.signals {
        let mut text = format!("signal {} ({}): ", s.signal, s.class);
        if s.used_for.is_empty() {
            text += "withheld";
        } else {
            let _ = write!(text, "used for {}", s.used_for.join(", "));
        }
        let why: Vec<String> = s
            .withheld
            .iter()
            .map(|w| match &w.purpose {
                Some(p) => format!("{p}: {}", w.reason.as_str()),
                None => w.reason.as_str().to_string(),
            })
            .collect();
        if !why.is_empty() {
            let _ = write!(text, "; {}", why.join(", "));
        }
        lines.push(text);
    }
    for s in &d.reasons.segments {
        lines.push(format!("segment {}: {}", s.segment, s.outcome.as_str()));
    }
    lines
}

fn eval(a: &EvalArgs, out: &mut dyn Write) -> Outcome {
    let mut gate = Gate::new(policy(&a.policy)?, keys(&a.keys)?, &a.audience);
    let ctx = context(&a.context)?;
    let token = read_bundle(&a.bundle)?;
    let d = gate.decide(Some(token.as_str()).filter(|t| !t.is_empty()), &ctx);
    if a.json {
        return json(out, &d);
    }
    for text in explain(&d) {
        line(out, &text)?;
    }
    Ok(())
}

fn policy_check(a: &PolicyCheckArgs, out: &mut dyn Write) -> Outcome {
    let p = policy(&a.policy)?;
    line(
        out,
        &format!(
            "{}: valid policy `{}`: {} purposes, {} classes, {} segments",
            shown(&a.policy),
            p.version(),
            p.purposes().len(),
            p.classes().len(),
            p.segments().len()
        ),
    )?;
    Ok(())
}

fn policy_diff(a: &PolicyDiffArgs, out: &mut dyn Write) -> Outcome {
    let keys = keys(&a.keys)?;
    let mut old_gate = Gate::new(policy(&a.old)?, keys.clone(), &a.audience);
    let mut new_gate = Gate::new(policy(&a.new)?, keys, &a.audience);
    let ctx = context(&a.context)?;
    let mut files: Vec<_> = std::fs::read_dir(&a.bundles)
        .map_err(|e| format!("reading `{}`: {e}", shown(&a.bundles)))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let mut changed = 0;
    for path in &files {
        let token = read_bundle(path)?;
        let (before, after) = (old_gate.decide(Some(&token), &ctx), new_gate.decide(Some(&token), &ctx));
        if before.tier == after.tier && before.segments == after.segments {
            continue;
        }
        changed += 1;
        let added: Vec<&String> = after.segments.iter().filter(|s| !before.segments.contains(s)).collect();
        let removed: Vec<&String> = before.segments.iter().filter(|s| !after.segments.contains(s)).collect();
        line(
            out,
            &format!(
                "{}: tier {} -> {}; segments added {:?}, removed {:?}",
                path.display(),
                before.tier.as_str(),
                after.tier.as_str(),
                added,
                removed
            ),
        )?;
    }
    line(out, &format!("{changed} of {} decisions would change", files.len()))?;
    Ok(())
}

fn completions(a: &CompletionsArgs, out: &mut dyn Write) -> Outcome {
    use clap::CommandFactory;
    // clap_complete panics when its writer fails: generate into memory, then
    // write (so a closed pipe is an ordinary error).
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut crate::cli::Cli::command(), "signalgate", &mut script);
    out.write_all(&script)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_problems_are_escaped_one_per_line() {
        let error = PolicyError {
            problems: vec![
                signalgate::model::policy::PolicyProblem {
                    path: "classes.x\u{1b}]0;t\u{7}".into(),
                    message: "unknown \u{202e}`x`".into(),
                },
                signalgate::model::policy::PolicyProblem { path: String::new(), message: "a\nb".into() },
            ],
        };
        let mut err = Vec::new();
        let reported = Failure::Policy { path: "p.json".into(), error }.report(&mut err);
        assert!(reported.is_ok());
        assert_eq!(
            String::from_utf8_lossy(&err),
            "error: `p.json`: policy has 2 problems\n  classes.x\\u{1b}]0;t\\u{7}: unknown \\u{202e}`x`\n  a\\u{a}b\n"
        );
    }
}
