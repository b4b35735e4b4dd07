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
