//! `artifact plugin run`: plugins in Rust (wit-bindgen), Python (componentize-py) and
//! JavaScript (componentize-js), composed with the artifact component, each on a store of its
//! own. The same commands go to all three (examples/plugins/rust/src/lib.rs documents them); forged refs to another plugin's artifacts,
//! quotas, read-only runs and the run limits are checked on the real `.wasm` files.

use crate::common::artifact;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The Rust plugin, built the way a plugin author would.
fn rust_plugin() -> PathBuf {
    let st = Command::new("cargo")
        .args(["build", "--release", "--locked", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(root().join("examples/plugins/rust/Cargo.toml"))
        .arg("--target-dir")
        .arg(root().join("target/plugins"))
        .status()
        .unwrap();
    assert!(st.success(), "building examples/plugins/rust failed");
    root().join("target/plugins/wasm32-wasip2/release/example_plugin.wasm")
}

/// The Python plugin, built with componentize-py from PyPI (`scripts/deps.sh plugins` installs
/// it into target/plugins/venv). `None` (and a SKIPPED line) without it, unless
/// ARTIFACT_REQUIRE_PLUGINS is set.
fn python_plugin() -> Option<PathBuf> {
    let tool = root().join("target/plugins/venv/bin/componentize-py");
    if !tool.is_file() {
        assert!(std::env::var_os("ARTIFACT_REQUIRE_PLUGINS").is_none(), "ARTIFACT_REQUIRE_PLUGINS is set but {} is missing (bash scripts/deps.sh plugins)", tool.display());
        eprintln!("SKIPPED: the Python plugin needs componentize-py (bash scripts/deps.sh plugins)");
        return None;
    }
    let out = root().join("target/plugins/python-plugin.wasm");
    let st = Command::new(&tool)
        .arg("-d")
        .arg(root().join("wit"))
        .args(["-w", "artifact:store/plugin", "componentize", "-p"])
        .arg(root().join("examples/plugins/python"))
        .arg("app")
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success(), "componentize-py failed");
    Some(out)
}

/// The JavaScript plugin, built with componentize-js from npm (`scripts/deps.sh plugins`
/// installs it under examples/plugins/js). `None` without it, unless ARTIFACT_REQUIRE_PLUGINS.
fn js_plugin() -> Option<PathBuf> {
    let dir = root().join("examples/plugins/js");
    if !dir.join("node_modules/@bytecodealliance/componentize-js").is_dir() {
        assert!(std::env::var_os("ARTIFACT_REQUIRE_PLUGINS").is_none(), "ARTIFACT_REQUIRE_PLUGINS is set but componentize-js is missing (bash scripts/deps.sh plugins)");
        eprintln!("SKIPPED: the JavaScript plugin needs componentize-js (bash scripts/deps.sh plugins)");
        return None;
    }
    let out = root().join("target/plugins/js-plugin.wasm");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let st = Command::new("node").arg(dir.join("build.mjs")).arg(&out).status().unwrap();
    assert!(st.success(), "componentize-js failed");
    Some(out)
}

/// `artifact --home HOME plugin run PLUGIN --bucket B EXTRA… --input CMD`.
fn run(home: &Path, plugin: &Path, bucket: &str, extra: &[&str], cmd: &Value) -> Output {
    let mut args = vec!["--home", home.to_str().unwrap(), "plugin", "run", plugin.to_str().unwrap(), "--bucket", bucket];
    args.extend_from_slice(extra);
    let input = cmd.to_string();
    args.extend_from_slice(&["--input", &input]);
    artifact(&args).output().unwrap()
}

/// The JSON `run` answered (the run must succeed).
fn answer(o: &Output) -> Value {
    assert!(o.status.success(), "status {:?}\nstdout {}\nstderr {}", o.status, String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&o.stdout)))
}

/// The error kind of a failed run (the CLI's JSON error on stdout).
fn failed_kind(o: &Output) -> String {
    assert!(!o.status.success(), "the run should fail: {}", String::from_utf8_lossy(&o.stdout));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    v["error"]["kind"].as_str().unwrap_or_default().to_string()
}

/// What `artifact ls` shows in a plugin's own store, and the files under its objects/.
fn store_state(home: &Path, bucket: &str) -> (Vec<Value>, Vec<PathBuf>) {
    let h = home.join("plugins").join(bucket);
    let o = artifact(&["--home", h.to_str().unwrap(), "ls", bucket, "--json"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows = String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut files = Vec::new();
    let mut stack = vec![h.join("objects")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                files.push(e.path());
            }
        }
    }
    files.sort();
    (rows, files)
}

/// One plugin through every check; `lang` names it in messages.
fn check_plugin(lang: &str, plugin: &Path) {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();

    // put / get / list in its own bucket.
    let a = answer(&run(home, plugin, "alpha", &[], &json!({"op": "demo", "bucket": "alpha", "name": "a.txt", "text": format!("from {lang}")})));
    assert_eq!(a["got"], json!(format!("from {lang}")), "{lang}: {a}");
    assert_eq!(a["names"], json!(["a.txt"]), "{lang}: {a}");
    // Another plugin (bucket beta) with a secret.
    let b = answer(&run(home, plugin, "beta", &[], &json!({"op": "demo", "bucket": "beta", "name": "b.txt", "text": "beta's secret"})));
    let beta_id = b["id"].as_str().unwrap().to_string();
    let bh = home.join("plugins/beta");
    let head: Value = serde_json::from_slice(&artifact(&["--home", bh.to_str().unwrap(), "head", &beta_id]).output().unwrap().stdout).unwrap();
    let logical = head["meta"]["ref"].as_str().unwrap_or_else(|| panic!("{head}")).to_string();
    let result_ref = b["result_ref"].as_str().unwrap_or_else(|| panic!("{lang}: demo answers its ResultRef: {b}")).to_string();

    // Forged refs from alpha: every attempt is not-found or forbidden, and beta is untouched.
    let before = store_state(home, "beta");
    let refs = [
        beta_id.clone(),
        "beta/b.txt".into(),
        logical.clone(),
        result_ref,
        "alpha/b.txt".into(),
        "default/b.txt".into(),
        "noetl://beta/b.txt".into(),
        logical.replace("/beta/", "/alpha/"),
    ];
    let tried = answer(&run(home, plugin, "alpha", &[], &json!({"op": "try", "refs": refs})));
    let outcomes = tried.as_array().unwrap();
    assert!(outcomes.len() >= 30, "{lang}: {} attempts", outcomes.len());
    for (i, o) in outcomes.iter().enumerate() {
        assert!(o == "not-found" || o == "forbidden", "{lang}: attempt {i} ({}) answered {o}", refs[i / 4]);
    }
    assert_eq!(store_state(home, "beta"), before, "{lang}: beta's store changed");
    let listed = answer(&run(home, plugin, "alpha", &[], &json!({"op": "list", "bucket": "beta"})));
    assert_eq!(listed, json!([]), "{lang}: another bucket lists as empty");

    // Past the byte quota: too-large, nothing stored.
    let before = store_state(home, "alpha");
    let q = answer(&run(home, plugin, "alpha", &["--quota", "64KiB"], &json!({"op": "put", "bucket": "alpha", "name": "big", "size": 100_000})));
    assert_eq!(q, json!({"error": "too-large"}), "{lang}");
    assert_eq!(store_state(home, "alpha"), before, "{lang}: a refused put stored something");
    // Past the count quota (alpha holds one artifact).
    let q = answer(&run(home, plugin, "alpha", &["--max-artifacts", "1"], &json!({"op": "put", "bucket": "alpha", "name": "second", "size": 10})));
    assert_eq!(q, json!({"error": "too-large"}), "{lang}");
    assert_eq!(store_state(home, "alpha"), before, "{lang}");
    // Read-only: no writes at all.
    let q = answer(&run(home, plugin, "alpha", &["--read-only"], &json!({"op": "put", "bucket": "alpha", "name": "ro", "size": 10})));
    assert_eq!(q, json!({"error": "forbidden"}), "{lang}");
    // Its own bucket only, even for writes it is allowed.
    let q = answer(&run(home, plugin, "alpha", &[], &json!({"op": "put", "bucket": "beta", "name": "planted", "size": 10})));
    assert_eq!(q, json!({"error": "forbidden"}), "{lang}");
    assert_eq!(store_state(home, "alpha"), before, "{lang}");
    // Within the quota the same put works (the refusals above are not a broken path).
    let q = answer(&run(home, plugin, "alpha", &["--quota", "64KiB"], &json!({"op": "put", "bucket": "alpha", "name": "fits", "size": 1000})));
    assert!(q["id"].is_string(), "{lang}: {q}");
    // Bytes moved per run: past the budget the run fails too-large for the host, whatever the
    // plugin does with the refused call.
    let o = run(home, plugin, "alpha", &["--max-moved", "100"], &json!({"op": "demo", "bucket": "alpha", "name": "c.txt", "text": "x".repeat(500)}));
    assert_eq!(failed_kind(&o), "too-large", "{lang}: {}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn plugins_in_rust_python_and_js_keep_to_their_own_store() {
    let rust = rust_plugin();
    check_plugin("rust", &rust);

    // Run limits, typed: the deadline and the memory limit stop a runaway plugin.
    let home = tempfile::tempdir().unwrap();
    let o = run(home.path(), &rust, "alpha", &["--timeout", "2s"], &json!({"op": "spin"}));
    assert_eq!(failed_kind(&o), "deadline", "{}", String::from_utf8_lossy(&o.stdout));
    let o = run(home.path(), &rust, "alpha", &["--max-memory", "64MiB"], &json!({"op": "grow"}));
    assert_eq!(failed_kind(&o), "memory-limit", "{}", String::from_utf8_lossy(&o.stdout));
    // A component that imports the store's backends itself (here the artifact component) is
    // refused before it runs.
    let greedy = home.path().join("greedy.wasm");
    std::fs::write(&greedy, artifact_host::runtime::EMBEDDED_COMPONENT).unwrap();
    let o = run(home.path(), &greedy, "alpha", &[], &json!({}));
    assert_eq!(failed_kind(&o), "load", "{}", String::from_utf8_lossy(&o.stdout));
    assert!(String::from_utf8_lossy(&o.stdout).contains("may import only"), "{}", String::from_utf8_lossy(&o.stdout));

    if let Some(py) = python_plugin() {
        check_plugin("python", &py);
    }
    if let Some(js) = js_plugin() {
        check_plugin("js", &js);
    }
}
