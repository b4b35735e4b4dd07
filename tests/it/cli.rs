//! The `signalgate` command line, run as a user would.

use std::path::Path;
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_signalgate"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

use crate::fixtures::scratch;

fn claims(now: i64, interest: &str) -> String {
    format!(
        r#"{{"v":1,"iss":"https://origin.example","sub":"u-1","ten":"demo-shop","aud":"signalgate","iat":{now},"nbf":{now},
        "exp":{exp},"jti":"b-{interest}","pv":"demo-2026-11","idc":0.9,
        "cons":{{"c1":{{"st":"granted","pur":["personalization"],"scp":["web"],"lb":"consent"}}}},
        "sig":[{{"id":"s1","cls":"interest","val":"{interest}","src":"web","cap":{now},"exp":{far},"ver":1,"con":"c1",
        "prv":"AAAAAAAAAAAAAAAAAAAAAA"}}]}}"#,
        exp = now + 3600,
        far = now + 86400 * 100
    )
}

fn keygen(dir: &Path) -> (String, String) {
    let (k, p) = (dir.join("k.jwk"), dir.join("k.jwks"));
    let out =
        run(&["keygen", "--kid", "cli-1", "--private-out", k.to_str().unwrap(), "--public-out", p.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    (k.to_str().unwrap().into(), p.to_str().unwrap().into())
}

fn sign(key: &str, dir: &Path, name: &str, claims: &str) -> String {
    let c = dir.join(format!("{name}.json"));
    std::fs::write(&c, claims).unwrap();
    let out = run(&["sign", "--key", key, c.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let b = dir.join(format!("{name}.jws"));
    std::fs::write(&b, text(&out.stdout).trim()).unwrap();
    b.to_str().unwrap().into()
}

const NOW: i64 = 1_790_000_000;

#[test]
fn keygen_sign_verify_inspect() {
    let dir = scratch("basic");
    let (key, keys) = keygen(&dir);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert!(!std::fs::read_to_string(&keys).unwrap().contains("\"d\""), "public key set holds a private key");
    // An existing key file is never overwritten.
    let again = run(&["keygen", "--private-out", &key]);
    assert!(!again.status.success());
    let bundle = sign(&key, &dir, "b", &claims(NOW, "hiking"));
    let now = (NOW + 10).to_string();
    let ok = run(&["verify", "--keys", &keys, "--now", &now, &bundle]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("\"sub\": \"u-1\""));
    let expired = run(&["verify", "--keys", &keys, "--now", &(NOW + 7200).to_string(), &bundle]);
    assert!(!expired.status.success());
    assert!(text(&expired.stderr).contains("not verified: bundle expired at"), "{}", text(&expired.stderr));
    let aud = run(&["verify", "--keys", &keys, "--now", &now, "--audience", "other", &bundle]);
    assert!(text(&aud.stderr).contains("claim `aud` is `signalgate`, expected `other`"));
    let inspect = run(&["inspect", &bundle]);
    assert!(text(&inspect.stdout).starts_with("UNVERIFIED"));
    assert!(text(&inspect.stdout).contains("\"kid\": \"cli-1\""));
}

#[test]
fn sign_refuses_bad_claims_with_the_field() {
    let dir = scratch("bad");
    let (key, _) = keygen(&dir);
    let c = dir.join("c.json");
    std::fs::write(&c, claims(NOW, "hiking").replace(r#""val":"hiking""#, r#""val":"Free Text""#)).unwrap();
    let out = run(&["sign", "--key", &key, c.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("claim `sig[0].val`"), "{}", text(&out.stderr));
}

fn context(dir: &Path, gpc: bool) -> String {
    let p = dir.join("ctx.json");
    std::fs::write(
        &p,
        format!(
            r#"{{"now":{},"purposes":["personalization"],"channel":"web","tenant":"demo-shop","scope":"web","gpc":{gpc}}}"#,
            NOW + 10
        ),
    )
    .unwrap();
    p.to_str().unwrap().into()
}

#[test]
fn eval_explains_the_decision() {
    let dir = scratch("eval");
    let (key, keys) = keygen(&dir);
    let bundle = sign(&key, &dir, "b", &claims(NOW, "trail-running"));
    let policy = concat!(env!("CARGO_MANIFEST_DIR"), "/www/policy.json");
    let ctx = context(&dir, false);
    let out = run(&["eval", "--policy", policy, "--keys", &keys, "--context", &ctx, &bundle]);
    let s = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(s.contains("tier: curated\nsegments: sgt_5d1e9a20c4\n"), "{s}");
    assert!(s.contains("signal s1 (interest): used for personalization"), "{s}");
    assert!(s.contains("segment outdoor-fans: rule_not_satisfied"), "{s}");
    let json = run(&["eval", "--json", "--policy", policy, "--keys", &keys, "--context", &ctx, &bundle]);
    let d: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(d["segments"], serde_json::json!(["sgt_5d1e9a20c4"]));
}

#[test]
fn policy_check_and_diff() {
    let dir = scratch("diff");
    let policy = concat!(env!("CARGO_MANIFEST_DIR"), "/www/policy.json");
    let ok = run(&["policy", "check", policy]);
    assert!(text(&ok.stdout).contains("valid policy `demo-2026-11`"), "{}", text(&ok.stderr));
    let bad = dir.join("bad.json");
    std::fs::write(&bad, std::fs::read_to_string(policy).unwrap().replacen("\"180d\"", "\"soon\"", 1)).unwrap();
    let out = run(&["policy", "check", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains(r#"classes.interest.ttl: expected a duration like "180d", found "soon""#));

    // NEW drops running from the runners segment: only the running bundle changes.
    let new = dir.join("new.json");
    std::fs::write(
        &new,
        std::fs::read_to_string(policy).unwrap().replacen(
            r#""trail-running": "running""#,
            r#""trail-running": "outdoor""#,
            1,
        ),
    )
    .unwrap();
    let (key, keys) = keygen(&dir);
    let bundles = dir.join("bundles");
    std::fs::create_dir_all(&bundles).unwrap();
    for interest in ["trail-running", "yoga"] {
        let b = sign(&key, &dir, interest, &claims(NOW, interest));
        std::fs::copy(&b, bundles.join(format!("{interest}.jws"))).unwrap();
    }
    let ctx = context(&dir, false);
    let out = run(&[
        "policy",
        "diff",
        policy,
        new.to_str().unwrap(),
        "--bundles",
        bundles.to_str().unwrap(),
        "--keys",
        &keys,
        "--context",
        &ctx,
    ]);
    let s = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(s.contains("trail-running.jws: tier curated -> curated; segments added [\"sgt_a83f01b7e2\"], removed [\"sgt_5d1e9a20c4\"]"), "{s}");
    assert!(!s.contains("yoga.jws"), "{s}");
    assert!(s.contains("1 of 2 decisions would change"), "{s}");
}

#[test]
fn usage_errors_exit_2_with_a_hint() {
    // A missing required option, an unknown subcommand, an unknown option:
    // usage errors (status 2, clap's wording), unlike failed operations (1).
    let out = run(&["verify"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).starts_with("error: the following required arguments were not provided"));
    assert!(text(&out.stderr).contains("--keys <JWKS>"), "{}", text(&out.stderr));
    let out = run(&["policy", "diff", "old.json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = run(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("error: unrecognized subcommand 'frobnicate'"), "{}", text(&out.stderr));
    let out = run(&["verfy"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("similar subcommand exists: 'verify'"), "{}", text(&out.stderr));
    let out = run(&["inspect", "--bogus", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("error: unexpected argument '--bogus'"), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("tip:"), "{}", text(&out.stderr));
    let out = run(&["verify", "--key", "k.jwks", "b.jws"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("similar argument exists: '--keys'"), "{}", text(&out.stderr));
    let out = run(&["verify", "--keys", "k.jwks", "--now", "soon", "b.jws"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("Usage: signalgate <COMMAND>"), "{}", text(&out.stderr));
    // A failed operation is 1, one lowercase line naming the input.
    let out = run(&["inspect", "/nonexistent/b.jws"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.starts_with("error: reading `/nonexistent/b.jws`: ") && err.lines().count() == 1, "{err}");
}

#[test]
fn help_and_version() {
    for args in [&["--help"][..], &["-h"], &["help"], &["eval", "--help"], &["policy", "diff", "--help"]] {
        let out = run(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains("Usage: signalgate"), "{args:?}: {}", text(&out.stdout));
    }
    let help = text(&run(&["--help"]).stdout);
    for word in ["keygen", "sign", "verify", "inspect", "eval", "policy", "completions", "Exit status", "usage error"] {
        assert!(help.contains(word), "{word}: {help}");
    }
    for sub in ["keygen", "sign", "verify", "inspect", "eval", "completions", "policy check", "policy diff"] {
        let mut args: Vec<&str> = sub.split(' ').collect();
        args.push("-h");
        let out = run(&args);
        assert!(out.status.success(), "{sub}");
        assert!(text(&out.stdout).contains("Example:\n  signalgate "), "{sub}: {}", text(&out.stdout));
    }
    let eval = text(&run(&["eval", "--help"]).stdout);
    assert!(eval.contains("--context <CONTEXT>") && eval.contains("\"purposes\""), "{eval}");
    assert!(eval.contains("[default: signalgate]"), "{eval}");
    let out = run(&["--version"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), format!("signalgate {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn completion_scripts() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        assert!(script.contains("signalgate") && script.contains("policy"), "{shell}: {script}");
    }
    assert_eq!(run(&["completions", "tcsh"]).status.code(), Some(2));
}

/// A validly signed bundle whose header `kid` and `typ` could repaint and
/// reorder a terminal.
const HOSTILE_KID: &str = "\u{1b}[31mred\u{202e}gnp.exe\u{9b}2J\u{7}";

fn hostile_bundle(dir: &Path, typ: &str) -> String {
    use signalgate::bundle::{jws, SigningKey};
    let key = SigningKey::from_seed(&[7; 32], None);
    let header = serde_json::json!({ "alg": "EdDSA", "typ": typ, "kid": HOSTILE_KID });
    let token = jws::sign_compact(&header, claims(NOW, "hiking").as_bytes(), &key);
    let path = dir.join(format!("hostile-{}.jws", typ.len()));
    std::fs::write(&path, token).unwrap();
    path.to_str().unwrap().into()
}

fn assert_no_raw_controls(what: &str, out: &Output) {
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let s = text(bytes);
        let bad = s
            .chars()
            .find(|&c| (c.is_control() && c != '\n') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'));
        assert_eq!(bad, None, "{what}: raw control character on {stream}: {s:?}");
        assert!(!bytes.contains(&0x1b), "{what}: ESC on {stream}");
    }
}

#[test]
fn untrusted_text_is_printed_escaped() {
    let dir = scratch("hostile");
    let (_, keys) = keygen(&dir);
    let bundle = hostile_bundle(&dir, "signalgate-bundle+jwt");

    let inspect = run(&["inspect", &bundle]);
    assert!(inspect.status.success(), "{}", text(&inspect.stderr));
    assert_no_raw_controls("inspect", &inspect);
    let s = text(&inspect.stdout);
    assert!(s.contains(r#""kid": "\u001b[31mred\u202egnp.exe\u009b2J\u0007""#), "{s}");
    // Still JSON after the label, with the same kid.
    let json: serde_json::Value = serde_json::from_str(s.split_once('\n').unwrap().1).unwrap();
    assert_eq!(json["header"]["kid"], HOSTILE_KID);

    let verify = run(&["verify", "--keys", &keys, "--now", &(NOW + 10).to_string(), &bundle]);
    assert_eq!(verify.status.code(), Some(1));
    assert_no_raw_controls("verify", &verify);
    let err = text(&verify.stderr);
    assert!(err.contains(r"no active key with `kid` `\u{1b}[31mred\u{202e}gnp.exe\u{9b}2J\u{7}`"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    let ctx = context(&dir, false);
    let policy = concat!(env!("CARGO_MANIFEST_DIR"), "/www/policy.json");
    let eval = run(&["eval", "--policy", policy, "--keys", &keys, "--context", &ctx, &bundle]);
    assert!(eval.status.success(), "{}", text(&eval.stderr));
    assert_no_raw_controls("eval", &eval);
    assert!(text(&eval.stdout).contains(r"`\u{1b}[31mred\u{202e}"), "{}", text(&eval.stdout));
    let eval = run(&["eval", "--json", "--policy", policy, "--keys", &keys, "--context", &ctx, &bundle]);
    assert_no_raw_controls("eval --json", &eval);
    let d: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    assert!(d["error"]["message"].as_str().unwrap().contains(HOSTILE_KID));

    // An error message quoting the header (a foreign `typ`).
    let foreign = hostile_bundle(&dir, "x\u{1b}]0;owned\u{7}\u{2066}");
    let inspect = run(&["inspect", &foreign]);
    assert_eq!(inspect.status.code(), Some(1));
    assert_no_raw_controls("inspect foreign typ", &inspect);
    assert!(text(&inspect.stderr).contains(r"found `x\u{1b}]0;owned\u{7}\u{2066}`"), "{}", text(&inspect.stderr));
}

#[test]
fn policy_problems_quoting_input_are_escaped() {
    let dir = scratch("hostile-policy");
    let policy = concat!(env!("CARGO_MANIFEST_DIR"), "/www/policy.json");
    let bad = dir.join("bad.json");
    std::fs::write(&bad, std::fs::read_to_string(policy).unwrap().replacen("\"180d\"", r#""\u001b[2J\u202e""#, 1))
        .unwrap();
    let out = run(&["policy", "check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_no_raw_controls("policy check", &out);
    assert!(text(&out.stderr).contains(r"classes.interest.ttl: "), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(r"\u{1b}[2J\u{202e}"), "{}", text(&out.stderr));
}

#[test]
fn a_closed_pipe_ends_quietly() {
    use std::io::Write;
    use std::process::Stdio;
    let dir = scratch("pipe");
    let (key, _) = keygen(&dir);
    let bundle = std::fs::read_to_string(sign(&key, &dir, "b", &claims(NOW, "hiking"))).unwrap();
    for args in [&["inspect", "-"][..], &["inspect"], &["completions", "bash"]] {
        let mut child =
            bin().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        // The reader goes away before the command has read its input, so
        // its first write meets a closed pipe.
        drop(child.stdout.take());
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(bundle.as_bytes());
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        let err = text(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert_eq!(err, "", "{args:?}");
    }
}

#[test]
fn ledger_submit_list_revoke_and_verify_the_chain() {
    let dir = scratch("ledger");
    let (key, keys) = keygen(&dir);
    let db = dir.join("ledger.db");
    let db = db.to_str().unwrap();
    let policy = concat!(env!("CARGO_MANIFEST_DIR"), "/www/policy.json");
    assert!(run(&["ledger", "init", "--db", db]).status.success());
    let body = dir.join("capture.json");
    std::fs::write(
        &body,
        r#"{"signal_type":"language","value":"Deutsch","purpose":"personalization","consent_reference":"c-1",
            "source_context":{"channel":"web","ui":"cli"}}"#,
    )
    .unwrap();
    let now = NOW.to_string();
    let who = ["--db", db, "--policy", policy, "--tenant", "demo-shop", "--subject", "u-1", "--now", now.as_str()];
    let submit =
        run(&[&["ledger", "submit"][..], &who, &["--key", &key, "--idempotency-key", "k-1", body.to_str().unwrap()]]
            .concat());
    assert!(submit.status.success(), "{}", text(&submit.stderr));
    let reply: serde_json::Value = serde_json::from_slice(&submit.stdout).unwrap();
    assert_eq!(reply["signal"]["value"], "de");
    // The bundle it issued verifies with the public key set.
    let bundle = dir.join("issued.jws");
    std::fs::write(&bundle, reply["bundle"]["token"].as_str().unwrap()).unwrap();
    let verify = run(&["verify", "--keys", &keys, "--now", &now, bundle.to_str().unwrap()]);
    assert!(verify.status.success(), "{}", text(&verify.stderr));
    let list = run(&[&["ledger", "list"][..], &who].concat());
    assert!(text(&list.stdout).contains("\"value\": \"de\""), "{}", text(&list.stdout));
    // Free text is refused with the field named, exit status 1.
    std::fs::write(&body, text(&std::fs::read(&body).unwrap()).replace("Deutsch", "a little of everything")).unwrap();
    let refused = run(&[&["ledger", "submit"][..], &who, &["--key", &key, body.to_str().unwrap()]].concat());
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("`value`"), "{}", text(&refused.stderr));
    let revoke = run(&[&["ledger", "revoke"][..], &who, &["--key", &key, "c-1"]].concat());
    assert!(revoke.status.success(), "{}", text(&revoke.stderr));
    let chain = run(&["ledger", "verify-chain", "--db", db, "--policy", policy, "--tenant", "demo-shop"]);
    assert!(
        chain.status.success() && text(&chain.stdout).contains("u-1: 5 events, chain ok"),
        "{}",
        text(&chain.stdout)
    );
    let replay = run(&["ledger", "replay", "--db", db, "--policy", policy, "--tenant", "demo-shop"]);
    assert!(text(&replay.stdout).contains("projection matches the events"), "{}", text(&replay.stdout));
}

/// A ledger file with the demo policy and an origin key, driven through
/// `signalgate ledger ...` as an operator would.
struct Origin {
    dir: std::path::PathBuf,
    db: String,
    key: String,
    jwks: String,
}

const POLICY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/www/policy.json");
const DAY: i64 = 86_400;

impl Origin {
    fn new(name: &str) -> Origin {
        let dir = scratch(name);
        let (key, jwks) = keygen(&dir);
        let db = dir.join("ledger.db").to_str().unwrap().to_string();
        let init = run(&["ledger", "init", "--db", &db]);
        assert!(init.status.success(), "{}", text(&init.stderr));
        Origin { dir, db, key, jwks }
    }

    /// `ledger CMD` on the tenant at `now`, with the key when `write`.
    fn run(&self, cmd: &str, now: i64, write: bool, args: &[&str]) -> Output {
        let now = now.to_string();
        let mut all = vec!["ledger", cmd, "--db", &self.db, "--policy", POLICY, "--tenant", "demo-shop", "--now", &now];
        if write {
            all.extend(["--key", self.key.as_str()]);
        }
        all.extend(args);
        run(&all)
    }

    /// The same, which must succeed: its standard output.
    fn ok(&self, cmd: &str, now: i64, write: bool, args: &[&str]) -> String {
        let out = self.run(cmd, now, write, args);
        assert!(out.status.success(), "{cmd} {args:?}: {}{}", text(&out.stderr), text(&out.stdout));
        text(&out.stdout)
    }

    /// A write whose reply is JSON.
    fn reply(&self, cmd: &str, now: i64, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(cmd, now, true, args)).unwrap()
    }

    /// A command on the tenant's directory only (`merges`, `webhooks ...`).
    fn dir(&self, cmd: &[&str], now: i64, args: &[&str]) -> Output {
        let now = now.to_string();
        let all = [cmd, &["--db", &self.db, "--tenant", "demo-shop", "--now", &now], args].concat();
        run(&[&["ledger"][..], &all].concat())
    }

    /// Captures `class = value` for `subject` under consent `consent`.
    fn capture(&self, subject: &str, class: &str, value: &str, consent: &str, now: i64) -> serde_json::Value {
        let body = self.dir.join(format!("capture-{subject}-{now}.json"));
        std::fs::write(
            &body,
            format!(
                r#"{{"signal_type":"{class}","value":"{value}","purpose":"personalization",
                "consent_reference":"{consent}","source_context":{{"channel":"web"}}}}"#
            ),
        )
        .unwrap();
        self.reply("submit", now, &["--subject", subject, body.to_str().unwrap()])
    }

    fn values(&self, subject: &str, now: i64) -> Vec<String> {
        let list: serde_json::Value =
            serde_json::from_str(&self.ok("list", now, false, &["--subject", subject])).unwrap();
        let mut v: Vec<String> =
            list["signals"].as_array().unwrap().iter().map(|s| s["value"].as_str().unwrap().to_string()).collect();
        v.sort();
        v
    }
}

#[test]
fn ledger_merge_review_approve_and_split_round_trip() {
    let o = Origin::new("merge");
    o.capture("anon-1", "interest", "hiking", "c-a", NOW);
    o.capture("user-1", "interest", "yoga", "c-u", NOW + 1);
    // `device` alone is below the policy's threshold: the merge waits for review.
    let queued = o.run("merge", NOW + 10, true, &["--source", "anon-1", "--target", "user-1", "--evidence", "device"]);
    assert_eq!(queued.status.code(), Some(0), "{}", text(&queued.stderr));
    assert!(text(&queued.stderr).contains("waiting for review"), "{}", text(&queued.stderr));
    let record: serde_json::Value = serde_json::from_slice(&queued.stdout).unwrap();
    assert_eq!(record["merge"]["state"], "review");
    let id = record["merge"]["merge_id"].as_str().unwrap().to_string();
    assert_eq!(o.values("user-1", NOW + 11), ["yoga"], "nothing moves while it waits");
    let queue = o.dir(&["merges"], NOW + 12, &["--state", "review"]);
    assert!(text(&queue.stdout).contains(&id) && text(&queue.stdout).contains("device"), "{}", text(&queue.stdout));
    let listed: serde_json::Value =
        serde_json::from_slice(&o.dir(&["merges"], NOW + 12, &["--state", "merged", "--json"]).stdout).unwrap();
    assert_eq!(listed, serde_json::json!([]));
    // Approved, it is carried out.
    let approved = o.reply("review", NOW + 60, &["approve", &id, "--note", "same_person"]);
    assert_eq!(approved["merge"]["state"], "merged", "{approved}");
    assert_eq!(
        (approved["merge"]["decided_by"].as_str(), approved["merge"]["note"].as_str()),
        (Some("operator"), Some("same_person"))
    );
    assert_eq!(o.values("user-1", NOW + 61), ["hiking", "yoga"]);
    let merged = o.run("list", NOW + 61, false, &["--subject", "anon-1"]);
    assert_eq!(merged.status.code(), Some(1));
    assert!(text(&merged.stderr).contains("subject_merged"), "{}", text(&merged.stderr));
    // Deciding it again conflicts; a note must be an identifier (a usage error).
    let again = o.run("review", NOW + 62, true, &["reject", &id]);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("merge_conflict"), "{}", text(&again.stderr));
    assert_eq!(o.run("review", NOW + 62, true, &["approve", &id, "--note", "two words"]).status.code(), Some(2));
    // Split back: each side has its own again.
    let split = o.reply("split", NOW + 120, &[&id]);
    assert_eq!(split["merge"]["state"], "split", "{split}");
    assert_eq!(o.values("user-1", NOW + 121), ["yoga"]);
    assert_eq!(o.values("anon-1", NOW + 121), ["hiking"]);
    // Strong evidence merges at once (200), and a rejected review stays rejected.
    o.capture("anon-2", "language", "de", "c-b", NOW + 130);
    let direct = o.reply("merge", NOW + 131, &["--source", "anon-2", "--target", "user-2", "--evidence", "login"]);
    assert_eq!(direct["merge"]["state"], "merged", "{direct}");
    let weak = o.reply("merge", NOW + 132, &["--source", "anon-3", "--target", "user-3", "--evidence", "device"]);
    let weak_id = weak["merge"]["merge_id"].as_str().unwrap();
    assert_eq!(
        o.reply("review", NOW + 133, &["reject", weak_id, "--note", "different_people"])["merge"]["state"],
        "rejected"
    );
    let all: serde_json::Value = serde_json::from_slice(&o.dir(&["merges"], NOW + 134, &["--json"]).stdout).unwrap();
    let mut states: Vec<&str> = all.as_array().unwrap().iter().map(|m| m["state"].as_str().unwrap()).collect();
    states.sort();
    assert_eq!(states, ["merged", "rejected", "split"]);
    let chain = run(&["ledger", "verify-chain", "--db", &o.db, "--policy", POLICY, "--tenant", "demo-shop"]);
    assert!(chain.status.success(), "{}", text(&chain.stdout));
}

#[test]
fn ledger_erasure_evidence_pack_checks_offline_and_tampering_fails() {
    let o = Origin::new("evidence");
    o.capture("u-e", "interest", "trail-running", "c-1", NOW);
    o.capture("u-e", "health_goal", "injury-recovery", "c-2", NOW + 1);
    o.capture("u-e", "contact_channel", "sms", "c-3", NOW + 2);
    let erased = o.reply("delete", NOW + 10, &["--subject", "u-e", "--erase", "--reason", "subject_request"]);
    assert_eq!(erased["status"], "erased", "{erased}");
    // The JSON pack has the proof of suppression and no erased value.
    let json = o.ok("evidence", NOW + 20, false, &["--subject", "u-e", "--format", "json"]);
    let pack: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(pack["erasures"][0]["reason"], "subject_request", "{pack}");
    assert!(!pack["erasures"][0]["signals"].as_array().unwrap().is_empty());
    for raw in ["trail-running", "injury-recovery"] {
        assert!(!json.contains(raw), "{raw} in the pack");
    }
    let html = o.ok("evidence", NOW + 20, false, &["--subject", "u-e", "--format", "html"]);
    assert!(html.to_ascii_lowercase().starts_with("<!doctype html"), "{}", &html[..80.min(html.len())]);
    assert!(!html.contains("trail-running") && !html.contains("injury-recovery"));
    // A signed pack needs the key; signed, it checks offline with the public key set alone.
    let unsigned = o.run("evidence", NOW + 20, false, &["--subject", "u-e"]);
    assert_eq!(unsigned.status.code(), Some(1));
    assert!(text(&unsigned.stderr).contains("--key"), "{}", text(&unsigned.stderr));
    let pack_file = o.dir.join("u-e.jws");
    let pack_path = pack_file.to_str().unwrap();
    o.ok("evidence", NOW + 20, true, &["--subject", "u-e", "--out", pack_path]);
    let checked = run(&["ledger", "check-evidence", pack_path, "--jwks", &o.jwks]);
    assert_eq!(checked.status.code(), Some(0), "{}", text(&checked.stderr));
    assert_eq!(
        text(&checked.stdout),
        format!(
            "pack verified: {} events, chain ok, 1 values checked against their digests, 2 erased\n",
            pack["chain"]["events"]
        ),
        "interest and health_goal erased, the contact channel kept as a suppression marker"
    );
    // One character of the payload changed: the signature says no.
    let token = std::fs::read_to_string(&pack_file).unwrap();
    let token = token.trim();
    let (start, end) = (token.find('.').unwrap() + 1, token.rfind('.').unwrap());
    let at = start + (end - start) / 2;
    let swapped = if &token[at..=at] == "A" { "B" } else { "A" };
    let tampered = o.dir.join("tampered.jws");
    std::fs::write(&tampered, format!("{}{swapped}{}", &token[..at], &token[at + 1..])).unwrap();
    let refused = run(&["ledger", "check-evidence", tampered.to_str().unwrap(), "--jwks", &o.jwks]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("pack NOT verified: the signature does not verify"),
        "{}",
        text(&refused.stderr)
    );
    // Re-signed with another key of the same id: refused too.
    let other_dir = o.dir.join("other");
    std::fs::create_dir_all(&other_dir).unwrap();
    let (other_key, _) = keygen(&other_dir);
    let forged = o.dir.join("forged.jws");
    let now = (NOW + 20).to_string();
    let out = run(&[
        "ledger",
        "evidence",
        "--db",
        &o.db,
        "--policy",
        POLICY,
        "--tenant",
        "demo-shop",
        "--now",
        &now,
        "--subject",
        "u-e",
        "--key",
        &other_key,
        "--out",
        forged.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let refused = run(&["ledger", "check-evidence", forged.to_str().unwrap(), "--jwks", &o.jwks]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("the signature does not verify"), "{}", text(&refused.stderr));
    // Not a pack at all.
    let refused = run(&["ledger", "check-evidence", &o.jwks, "--jwks", &o.jwks]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("pack NOT verified: not a signed pack"), "{}", text(&refused.stderr));
}

#[test]
fn ledger_deletion_restore_and_retention_with_a_lock() {
    let o = Origin::new("retention");
    // price_band: ttl 90d, retention 180d; the first version is retired by the second.
    o.capture("u-r", "price_band", "premium", "c-1", NOW);
    o.capture("u-r", "price_band", "budget", "c-1", NOW + DAY);
    let retention = |now: i64| o.ok("retention", now, false, &[]);
    assert!(retention(NOW + 179 * DAY).contains("u-r: 0 erased, 0 intake purged, 0 deferred"));
    let lock = o.reply(
        "lock",
        NOW + 170 * DAY,
        &["--subject", "u-r", "--until", &(NOW + 400 * DAY).to_string(), "--reason", "legal_hold"],
    );
    assert_eq!(lock["locked_until"], NOW + 400 * DAY);
    let held = retention(NOW + 200 * DAY);
    assert!(held.contains("u-r: 0 erased, 0 intake purged, 2 deferred"), "{held}");
    assert!(held.contains("total: 0 erased, 0 intake purged, 2 deferred over 1 subject(s)"), "{held}");
    assert_eq!(o.reply("unlock", NOW + 250 * DAY, &["--subject", "u-r"])["locked_until"], serde_json::Value::Null);
    assert!(retention(NOW + 250 * DAY).contains("u-r: 2 erased, 0 intake purged, 0 deferred"));
    // A lock needs an identifier as its reason and a time in the future.
    assert_eq!(
        o.run("lock", NOW + 251 * DAY, true, &["--subject", "u-r", "--until", "1", "--reason", "no way"]).status.code(),
        Some(2)
    );
    let past = o.run("lock", NOW + 251 * DAY, true, &["--subject", "u-r", "--until", "1", "--reason", "hold"]);
    assert_eq!(past.status.code(), Some(1));
    assert!(text(&past.stderr).contains("`until`"), "{}", text(&past.stderr));
    // One signal deleted: erased as its class says.
    let sig = o.capture("u-d", "interest", "climbing", "c-1", NOW);
    let id = sig["signal"]["signal_id"].as_str().unwrap();
    let deleted = o.reply("delete-signal", NOW + 5, &["--subject", "u-d", id]);
    assert_eq!(
        (deleted["deletion"].as_str(), deleted["values_erased"].as_u64()),
        (Some("erase"), Some(1)),
        "{deleted}"
    );
    assert!(o.values("u-d", NOW + 6).is_empty());
    // A soft deletion stops use and can be undone.
    o.capture("u-s", "language", "de", "c-1", NOW);
    assert_eq!(o.reply("delete", NOW + 5, &["--subject", "u-s"])["status"], "deleted");
    let gone = o.run("list", NOW + 6, false, &["--subject", "u-s"]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(text(&gone.stderr).contains("subject_deleted"), "{}", text(&gone.stderr));
    assert_eq!(o.reply("restore", NOW + 7, &["--subject", "u-s"])["status"], "active");
    assert_eq!(o.values("u-s", NOW + 8), ["de"]);
}

#[test]
fn ledger_intake_list_map_discard_and_history() {
    let o = Origin::new("intake");
    let body = |answer: &str| {
        let file = o.dir.join(format!("intake-{}.json", answer.len()));
        let json = serde_json::json!({"signal_type": "language", "answer": answer, "purpose": "personalization",
            "consent_reference": "c-1", "source_context": {"channel": "web"}});
        std::fs::write(&file, json.to_string()).unwrap();
        file.to_str().unwrap().to_string()
    };
    // An answer the aliases map is captured at once.
    let mapped = o.reply("intake", NOW, &["--subject", "u-i", &body("Deutsch")]);
    assert_eq!(mapped["signal"]["value"], "de", "{mapped}");
    // Others wait for an operator (exit 0, 202).
    let waiting = o.run("intake", NOW + 1, true, &["--subject", "u-i", &body("Schwiizerdütsch \u{202e}mostly")]);
    assert_eq!(waiting.status.code(), Some(0), "{}", text(&waiting.stderr));
    let id = serde_json::from_slice::<serde_json::Value>(&waiting.stdout).unwrap()["intake"]["intake_id"]
        .as_str()
        .unwrap()
        .to_string();
    let table = o.ok("intake-list", NOW + 2, false, &["--subject", "u-i"]);
    assert!(table.contains(&id) && table.contains("language"), "{table}");
    assert!(table.contains("Schwiizerdütsch \\u{202e}mostly") && !table.contains('\u{202e}'), "escaped: {table}");
    let items: serde_json::Value =
        serde_json::from_str(&o.ok("intake-list", NOW + 2, false, &["--subject", "u-i", "--json"])).unwrap();
    assert_eq!(items["pending"][0]["answer"], "Schwiizerdütsch \u{202e}mostly");
    let captured = o.reply("intake-map", NOW + 60, &["--subject", "u-i", &id, "german"]);
    assert_eq!(captured["signal"]["value"], "de");
    assert!(o.ok("intake-list", NOW + 61, false, &["--subject", "u-i"]).contains("0 waiting"));
    let again = o.run("intake-map", NOW + 62, true, &["--subject", "u-i", &id, "de"]);
    assert!(text(&again.stderr).contains("unknown_intake"), "{}", text(&again.stderr));
    // Discarded: gone.
    let other = o.reply("intake", NOW + 70, &["--subject", "u-i", &body("a bit of everything")]);
    let other_id = other["intake"]["intake_id"].as_str().unwrap();
    assert_eq!(o.reply("intake-discard", NOW + 71, &["--subject", "u-i", other_id])["state"], "discarded");
    // The history holds the chain, not the raw answers.
    let history = o.ok("history", NOW + 80, false, &["--subject", "u-i"]);
    let h: serde_json::Value = serde_json::from_str(&history).unwrap();
    assert_eq!(h["chain_ok"], true);
    assert!(h["events"].as_array().unwrap().iter().any(|e| e["op"] == "intake_resolved"));
    assert!(!history.contains("Schwiizer") && !history.contains("a bit of everything"));
    // Roles: the support role sees the language, the engine no value; an unknown role is named.
    let support: serde_json::Value =
        serde_json::from_str(&o.ok("list", NOW + 81, false, &["--subject", "u-i", "--role", "support"])).unwrap();
    assert_eq!(support["signals"][0]["value"], "de");
    let engine: serde_json::Value =
        serde_json::from_str(&o.ok("list", NOW + 81, false, &["--subject", "u-i", "--role", "engine"])).unwrap();
    assert!(engine["signals"][0].get("value").is_none() && engine.get("consents").is_none(), "{engine}");
    let unknown = o.run("list", NOW + 81, false, &["--subject", "u-i", "--role", "nobody"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        text(&unknown.stderr).contains("no role `nobody` (its roles: audit, engine, ingest, service, support)"),
        "{}",
        text(&unknown.stderr)
    );
}

#[test]
fn ledger_metrics_in_prometheus_and_json() {
    let o = Origin::new("metrics");
    o.capture("u-m1", "interest", "hiking", "c-1", NOW);
    o.capture("u-m2", "price_band", "mid", "c-1", NOW);
    let prom = o.ok("metrics", NOW + 85 * DAY, false, &[]);
    assert!(prom.lines().all(|l| l.starts_with('#') || l.starts_with("signalgate_")), "{prom}");
    assert!(prom.contains("signalgate_subjects{tenant=\"demo-shop\"} 2"), "{prom}");
    let j: serde_json::Value =
        serde_json::from_str(&o.ok("metrics", NOW + 85 * DAY, false, &["--format", "json"])).unwrap();
    assert_eq!((j["signals_active"].as_u64(), j["signals_fresh"].as_u64()), (Some(2), Some(1)), "{j}");
    assert_eq!(j["tenant"], "demo-shop");
}

#[test]
fn ledger_rotate_data_keys_reseals_encrypted_values_under_the_new_key() {
    let o = Origin::new("rotate");
    // health_goal is `sensitivity: special`: encrypted at rest.
    o.capture("u-k", "health_goal", "injury-recovery", "c-1", NOW);
    o.capture("u-k", "language", "de", "c-1", NOW);
    let stored = || -> Vec<String> {
        let mut store = signalgate::ledger::SqliteStore::open(Path::new(&o.db)).unwrap();
        let mut st = store.connection().prepare("SELECT value FROM signal_values ORDER BY value").unwrap();
        st.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap).collect()
    };
    let before = stored();
    assert_eq!(before.len(), 2);
    assert_eq!(before[0], "de", "not encrypted");
    assert!(before[1].starts_with("v1.k1."), "{before:?}");
    let out = run(&["ledger", "rotate-data-keys", "--db", &o.db]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("1 value(s) of 1 subject(s) re-sealed under `k2`"), "{}", text(&out.stdout));
    let after = stored();
    assert!(after[1].starts_with("v1.k2."), "{after:?}");
    assert_eq!(after[0], "de");
    let keyring: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{}.keys.json", o.db)).unwrap()).unwrap();
    assert_eq!(keyring["active"], "k2");
    assert_eq!(keyring["keys"].as_object().unwrap().len(), 2, "the old key is kept");
    assert_eq!(o.values("u-k", NOW + 1), ["de", "injury-recovery"], "still opens");
    // Again: the value moves on; a key id in use is refused; a keyring from the environment is not rotated here.
    let again = run(&["ledger", "rotate-data-keys", "--db", &o.db, "--kid", "k9"]);
    assert!(text(&again.stdout).contains("1 value(s) of 1 subject(s) re-sealed under `k9`"), "{}", text(&again.stdout));
    assert!(stored()[1].starts_with("v1.k9."));
    let taken = run(&["ledger", "rotate-data-keys", "--db", &o.db, "--kid", "k9"]);
    assert_eq!(taken.status.code(), Some(1));
    assert!(text(&taken.stderr).contains("exists already"), "{}", text(&taken.stderr));
    let env = bin()
        .args(["ledger", "rotate-data-keys", "--db", &o.db])
        .env("SG_DATA_KEYS", std::fs::read_to_string(format!("{}.keys.json", o.db)).unwrap())
        .output()
        .unwrap();
    assert_eq!(env.status.code(), Some(1));
    assert!(text(&env.stderr).contains("SG_DATA_KEYS: add the new key to that secret"), "{}", text(&env.stderr));
}

#[test]
fn ledger_webhooks_to_a_closed_port_fail_go_dead_and_can_be_sent_again() {
    let o = Origin::new("webhooks");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let refused = o.dir(&["webhooks", "add"], NOW, &["--url", "http://hooks.example/in", "--events", "signal.created"]);
    assert_eq!(refused.status.code(), Some(1), "plain http only to this machine");
    assert_eq!(o.dir(&["webhooks", "add"], NOW, &["--url", &url, "--events", "signal.nope"]).status.code(), Some(2));
    let added = o.dir(&["webhooks", "add"], NOW, &["--url", &url, "--events", "signal.created", "--json"]);
    assert!(added.status.success() && text(&added.stderr).contains("store the secret"), "{}", text(&added.stderr));
    let added: serde_json::Value = serde_json::from_slice(&added.stdout).unwrap();
    let endpoint = added["endpoint_id"].as_str().unwrap().to_string();
    assert!(added["secret"].as_str().unwrap().starts_with("whsec_"));
    o.capture("u-w", "interest", "hiking", "c-1", NOW + 1);
    let pending = o.dir(&["webhooks", "deliveries"], NOW + 1, &["--state", "pending", "--json"]);
    let pending: serde_json::Value = serde_json::from_slice(&pending.stdout).unwrap();
    assert_eq!(pending[0]["event_type"], "signal.created", "the write was swept to the directory: {pending}");
    let msg = pending[0]["msg_id"].as_str().unwrap().to_string();
    // Every try fails; after the last one the message is dead.
    let mut now = NOW + 1;
    let mut last = String::new();
    for _ in 0..signalgate::ledger::webhook_sign::MAX_ATTEMPTS {
        let pass = o.dir(&["webhooks", "deliver"], now, &[]);
        assert!(pass.status.success(), "{}", text(&pass.stderr));
        last = text(&pass.stdout);
        assert!(last.contains(&format!("failed: endpoint {endpoint} message {msg}")), "{last}");
        now += 8 * 3600;
    }
    assert!(last.contains("sent 1, delivered 0, failed 1, dead 1"), "{last}");
    let dead = o.dir(&["webhooks", "deliveries"], now, &["--state", "dead"]);
    assert!(text(&dead.stdout).contains(&msg) && text(&dead.stdout).contains("1 deliveries"), "{}", text(&dead.stdout));
    assert!(o.dir(&["webhooks", "retry"], now, &[&endpoint, &msg]).status.success());
    let table = text(&o.dir(&["webhooks", "deliveries"], now, &["--state", "pending"]).stdout);
    assert!(table.contains(&msg), "{table}");
    // Rotation gives a new secret; a disabled endpoint gets nothing more.
    let rotated = o.dir(&["webhooks", "rotate"], now, &[&endpoint]);
    assert!(text(&rotated.stdout).contains("secret: whsec_") && text(&rotated.stderr).contains("24 h"));
    let listed = text(&o.dir(&["webhooks", "list"], now, &[]).stdout);
    assert!(listed.contains(&endpoint) && listed.contains("yes"), "rotating: {listed}");
    assert!(o.dir(&["webhooks", "disable"], now, &[&endpoint]).status.success());
    let cancelled = text(&o.dir(&["webhooks", "deliveries"], now, &["--state", "cancelled"]).stdout);
    assert!(cancelled.contains(&msg), "{cancelled}");
    assert!(text(&o.dir(&["webhooks", "deliver"], now, &[]).stdout).contains("sent 0"));
}
