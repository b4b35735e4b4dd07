//! The direction of dependencies between the library's top-level modules:
//! time and the leaf codecs, then the model, bundles, the evaluator, serving,
//! and the bindings on top. Every `crate::...` path in a module's sources
//! must point to a module of a lower layer, so arrows run one way and no two
//! folders depend on each other.

use std::collections::BTreeSet;
use std::path::Path;

/// Each top-level module and its layer; a module may use only lower layers.
const LAYERS: &[(&str, u32)] = &[
    ("time", 0),
    ("codec", 0),
    ("failure", 0),
    ("model", 1),
    ("bundle", 2),
    ("eval", 3),
    ("serve", 4),
    ("ledger", 4),
    ("html", 5),
    ("clock", 5),
    ("js", 6),
    ("worker", 6),
    ("origin", 6),
];

fn layer(module: &str) -> Option<u32> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules named by `crate::<name>` in `text`, outside comments.
fn uses(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines().map(str::trim_start).filter(|l| !l.starts_with("//")) {
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

#[test]
fn dependencies_between_modules_run_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut edges = BTreeSet::new();
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if matches!(name.as_str(), "lib" | "bin") {
            continue;
        }
        let Some(own) = layer(&name) else {
            problems.push(format!("src/{name}: a new top-level module: give it a layer in tests/it/layers.rs"));
            continue;
        };
        let mut files = Vec::new();
        if path.is_dir() {
            sources(&path, &mut files);
        } else {
            files.push(path.clone());
        }
        for file in files {
            for used in uses(&std::fs::read_to_string(&file).unwrap()) {
                if used == name {
                    continue;
                }
                edges.insert(format!("{name} -> {used}"));
                match layer(&used) {
                    Some(l) if l < own => {}
                    _ => problems.push(format!("{}: `{name}` uses `crate::{used}`", file.display())),
                }
            }
        }
    }
    println!("module dependencies:\n  {}", edges.into_iter().collect::<Vec<_>>().join("\n  "));
    assert!(problems.is_empty(), "dependencies against the layers:\n{}", problems.join("\n"));
}

#[test]
fn the_check_sees_a_backwards_arrow() {
    // A model file naming the bundle layer would be reported.
    assert!(uses("use crate::bundle::b64;\n// crate::eval in a comment").contains("bundle"));
    assert!(!uses("// use crate::eval::Gate;").contains("eval"));
    assert!(layer("bundle") > layer("model"));
}
