//! The `signalgate` command line, run as a user would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
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

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sg-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

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
fn usage_errors_are_one_clear_line() {
    let out = run(&["verify"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).starts_with("error: `--keys` is required"));
    let out = run(&["frobnicate"]);
    assert!(text(&out.stderr).starts_with("error: unknown command `frobnicate`"));
    let out = run(&["inspect", "--bogus", "x"]);
    assert!(text(&out.stderr).starts_with("error: unknown option `--bogus`"));
}
