//! `signalgate`: keys, bundles and decisions from the command line.
//!
//! ```text
//! signalgate keygen  [--kid KID] [--private-out FILE] [--public-out FILE]
//! signalgate sign    --key PRIVATE_JWK [CLAIMS_JSON|-]
//! signalgate verify  --keys JWKS [--audience AUD] [--tenant T] [--now UNIX] [BUNDLE|-]
//! signalgate inspect [BUNDLE|-]
//! signalgate eval    --policy P --keys JWKS --context CTX_JSON [--audience AUD] [--json] [BUNDLE|-]
//! signalgate policy check FILE
//! signalgate policy diff OLD NEW --bundles DIR --keys JWKS --context CTX_JSON [--audience AUD]
//! ```

use std::collections::BTreeMap;
use std::io::Read;
use std::process::ExitCode;

use signalgate::bundle::{Expectations, KeySet, Signer, SigningKey, UnverifiedBundle};
use signalgate::eval::{Context, Decision, Gate};
use signalgate::model::{Claims, Policy};
use signalgate::UnixTime;

const USAGE: &str = "usage:
  signalgate keygen  [--kid KID] [--private-out FILE] [--public-out FILE]
  signalgate sign    --key PRIVATE_JWK [CLAIMS_JSON|-]
  signalgate verify  --keys JWKS [--audience AUD] [--tenant T] [--now UNIX] [BUNDLE|-]
  signalgate inspect [BUNDLE|-]
  signalgate eval    --policy POLICY --keys JWKS --context CONTEXT_JSON [--audience AUD] [--json] [BUNDLE|-]
  signalgate policy check POLICY
  signalgate policy diff OLD NEW --bundles DIR --keys JWKS --context CONTEXT_JSON [--audience AUD]

Files may be `-` for standard input. --audience defaults to `signalgate`.
A context file is JSON: {\"now\": UNIX (optional), \"purposes\": [...], \"channel\": \"web\",
\"tenant\": \"...\", \"scope\": \"web\", \"gpc\": false}.";

const SWITCHES: [&str; 1] = ["--json"];

struct Args {
    positional: Vec<String>,
    flags: BTreeMap<String, String>,
}

impl Args {
    fn parse(raw: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut positional = Vec::new();
        let mut flags = BTreeMap::new();
        let mut raw = raw.peekable();
        while let Some(a) = raw.next() {
            if SWITCHES.contains(&a.as_str()) {
                flags.insert(a, String::new());
            } else if a.starts_with("--") && a.len() > 2 {
                let v = raw.next().ok_or(format!("`{a}` needs a value"))?;
                flags.insert(a, v);
            } else {
                positional.push(a);
            }
        }
        Ok(Args { positional, flags })
    }

    fn flag(&self, name: &str) -> Option<&str> {
        self.flags.get(name).map(String::as_str)
    }

    fn required(&self, name: &str) -> Result<&str, String> {
        self.flag(name).ok_or(format!("`{name}` is required"))
    }

    fn only(&self, allowed: &[&str]) -> Result<(), String> {
        match self.flags.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(format!("unknown option `{k}`")),
            None => Ok(()),
        }
    }
}

fn read(path: &str) -> Result<String, String> {
    if path == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map_err(|e| format!("reading standard input: {e}"))?;
        return Ok(s);
    }
    std::fs::read_to_string(path).map_err(|e| format!("reading `{path}`: {e}"))
}

fn write_private(path: &str, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f =
        opts.open(path).map_err(|e| format!("creating `{path}`: {e} (an existing key is never overwritten)"))?;
    f.write_all(text.as_bytes()).map_err(|e| format!("writing `{path}`: {e}"))
}

fn clock() -> UnixTime {
    UnixTime(chrono::Utc::now().timestamp())
}

fn now_from(args: &Args) -> Result<UnixTime, String> {
    match args.flag("--now") {
        Some(n) => n.parse().map(UnixTime).map_err(|_| format!("`--now` expects Unix seconds, found {n:?}")),
        None => Ok(clock()),
    }
}

fn bundle_arg(args: &Args, index: usize) -> Result<String, String> {
    let path = args.positional.get(index).map_or("-", String::as_str);
    Ok(read(path)?.trim().to_string())
}

fn keys(args: &Args) -> Result<KeySet, String> {
    let path = args.required("--keys")?;
    KeySet::from_json(&read(path)?).map_err(|e| format!("`{path}`: {e}"))
}

fn policy(path: &str) -> Result<Policy, String> {
    Policy::from_json(&read(path)?).map_err(|e| format!("`{path}`: {e}"))
}

fn context(args: &Args) -> Result<Context, String> {
    let path = args.required("--context")?;
    let mut value: serde_json::Value =
        serde_json::from_str(&read(path)?).map_err(|e| format!("`{path}`: not JSON: {e}"))?;
    if let Some(obj) = value.as_object_mut() {
        obj.entry("now").or_insert(serde_json::json!(clock().0));
    }
    serde_json::from_value(value).map_err(|e| format!("`{path}`: {e}"))
}

fn pretty(v: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn keygen(args: &Args) -> Result<(), String> {
    args.only(&["--kid", "--private-out", "--public-out"])?;
    let mut key = SigningKey::generate().map_err(|e| e.to_string())?;
    if let Some(kid) = args.flag("--kid") {
        key = key.with_kid(kid).map_err(|e| e.to_string())?;
    }
    match args.flag("--private-out") {
        Some(path) => {
            write_private(path, &key.to_private_jwk_json())?;
            eprintln!("private key `{}` written to {path} (mode 600; keep it secret, never commit it)", key.kid());
        }
        None => {
            eprintln!("private key (keep it secret; use --private-out FILE to write it to a file):");
            println!("{}", key.to_private_jwk_json());
        }
    }
    match args.flag("--public-out") {
        Some(path) => std::fs::write(path, key.public_jwks_json()).map_err(|e| format!("writing `{path}`: {e}"))?,
        None => println!("{}", key.public_jwks_json()),
    }
    Ok(())
}

fn sign(args: &Args) -> Result<(), String> {
    args.only(&["--key"])?;
    let key_path = args.required("--key")?;
    let key = SigningKey::from_jwk_json(&read(key_path)?).map_err(|e| format!("`{key_path}`: {e}"))?;
    let claims_path = args.positional.first().map_or("-", String::as_str);
    let claims: Claims = serde_json::from_str(&read(claims_path)?).map_err(|e| format!("`{claims_path}`: {e}"))?;
    println!("{}", Signer::new(key).sign(&claims).map_err(|e| e.to_string())?);
    Ok(())
}

fn verify(args: &Args) -> Result<(), String> {
    args.only(&["--keys", "--audience", "--tenant", "--now"])?;
    let keys = keys(args)?;
    let expect = Expectations::new(args.flag("--audience").unwrap_or("signalgate"), args.flag("--tenant"));
    let token = bundle_arg(args, 0)?;
    let now = now_from(args)?;
    let bundle = UnverifiedBundle::parse(&token)
        .and_then(|b| b.verify(&keys, &expect, now))
        .map_err(|e| format!("not verified: {e}"))?;
    eprintln!("verified with key `{}`", bundle.kid());
    println!("{}", pretty(bundle.claims()));
    Ok(())
}

fn inspect(args: &Args) -> Result<(), String> {
    args.only(&[])?;
    let token = bundle_arg(args, 0)?;
    let b = UnverifiedBundle::parse(&token).map_err(|e| format!("cannot decode: {e}"))?;
    let h = b.header();
    println!("UNVERIFIED: decoded without checking the signature; do not trust these claims");
    println!(
        "{}",
        pretty(
            &serde_json::json!({ "header": { "alg": h.alg, "kid": h.kid, "typ": h.typ }, "claims": b.claims_unverified() })
        )
    );
    Ok(())
}

fn explain(d: &Decision) -> String {
    let mut out = format!("tier: {}\nsegments: {}\n", d.tier.as_str(), d.segments.join(" "));
    if let Some(e) = &d.error {
        out += &format!("error: {} ({})\n", e.message, e.code);
    }
    out += &format!("freshness: {:?}\n", d.freshness).to_lowercase();
    if !d.allowed_categories.is_empty() {
        out += &format!("allowed categories: {}\n", d.allowed_categories.join(" "));
    }
    if !d.allowed_channels.is_empty() {
        out += &format!("allowed channels: {}\n", d.allowed_channels.join(" "));
    }
    for e in &d.expiring {
        out += &format!("expiring: {} ({}) at {}\n", e.signal, e.class, e.deadline);
    }
    for s in &d.reasons.signals {
        let used =
            if s.used_for.is_empty() { "withheld".to_string() } else { format!("used for {}", s.used_for.join(", ")) };
        let why: Vec<String> = s
            .withheld
            .iter()
            .map(|w| match &w.purpose {
                Some(p) => {
                    format!("{}: {}", p, serde_json::to_value(w.reason).unwrap_or_default().as_str().unwrap_or(""))
                }
                None => serde_json::to_value(w.reason).unwrap_or_default().as_str().unwrap_or("").to_string(),
            })
            .collect();
        out += &format!(
            "signal {} ({}): {used}{}\n",
            s.signal,
            s.class,
            if why.is_empty() { String::new() } else { format!("; {}", why.join(", ")) }
        );
    }
    for s in &d.reasons.segments {
        out += &format!(
            "segment {}: {}\n",
            s.segment,
            serde_json::to_value(s.outcome).unwrap_or_default().as_str().unwrap_or("")
        );
    }
    out
}

fn eval(args: &Args) -> Result<(), String> {
    args.only(&["--policy", "--keys", "--context", "--audience", "--json"])?;
    let mut gate =
        Gate::new(policy(args.required("--policy")?)?, keys(args)?, args.flag("--audience").unwrap_or("signalgate"));
    let ctx = context(args)?;
    let token = bundle_arg(args, 0)?;
    let d = gate.decide(Some(&token).filter(|t| !t.is_empty()).map(String::as_str), &ctx);
    if args.flag("--json").is_some() {
        println!("{}", pretty(&d));
    } else {
        print!("{}", explain(&d));
    }
    Ok(())
}

fn policy_cmd(args: &Args) -> Result<(), String> {
    match args.positional.get(1).map(String::as_str) {
        Some("check") => {
            args.only(&[])?;
            let path = args.positional.get(2).ok_or("`policy check` needs a file")?;
            let p = policy(path)?;
            println!(
                "{path}: valid policy `{}`: {} purposes, {} classes, {} segments",
                p.version(),
                p.purposes().len(),
                p.classes().len(),
                p.segments().len()
            );
            Ok(())
        }
        Some("diff") => {
            args.only(&["--bundles", "--keys", "--context", "--audience"])?;
            let (Some(old), Some(new)) = (args.positional.get(2), args.positional.get(3)) else {
                return Err("`policy diff` needs OLD and NEW policy files".into());
            };
            let audience = args.flag("--audience").unwrap_or("signalgate");
            let keys = keys(args)?;
            let mut old_gate = Gate::new(policy(old)?, keys.clone(), audience);
            let mut new_gate = Gate::new(policy(new)?, keys, audience);
            let ctx = context(args)?;
            let dir = args.required("--bundles")?;
            let mut files: Vec<_> = std::fs::read_dir(dir)
                .map_err(|e| format!("reading `{dir}`: {e}"))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            let mut changed = 0;
            for path in &files {
                let token = read(&path.to_string_lossy())?.trim().to_string();
                let (a, b) = (old_gate.decide(Some(&token), &ctx), new_gate.decide(Some(&token), &ctx));
                if a.tier == b.tier && a.segments == b.segments {
                    continue;
                }
                changed += 1;
                let added: Vec<&String> = b.segments.iter().filter(|s| !a.segments.contains(s)).collect();
                let removed: Vec<&String> = a.segments.iter().filter(|s| !b.segments.contains(s)).collect();
                println!(
                    "{}: tier {} -> {}; segments added {:?}, removed {:?}",
                    path.display(),
                    a.tier.as_str(),
                    b.tier.as_str(),
                    added,
                    removed
                );
            }
            println!("{changed} of {} decisions would change", files.len());
            Ok(())
        }
        _ => Err("`policy` takes `check` or `diff`".into()),
    }
}

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match args.positional.first().map(String::as_str) {
        Some("keygen") => keygen(&args),
        Some("sign") => sign(&Args { positional: args.positional[1..].to_vec(), flags: args.flags.clone() }),
        Some("verify") => verify(&Args { positional: args.positional[1..].to_vec(), flags: args.flags.clone() }),
        Some("inspect") => inspect(&Args { positional: args.positional[1..].to_vec(), flags: args.flags.clone() }),
        Some("eval") => eval(&Args { positional: args.positional[1..].to_vec(), flags: args.flags.clone() }),
        Some("policy") => policy_cmd(&args),
        Some("help") | Some("--help") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
