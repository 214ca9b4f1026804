//! Scenario 8: what composition costs a plugin. The same `head` call into the artifact
//! component, made by the Rust example plugin through the composition (plugin → component, its
//! `artifacts` import wired to the component's export, the store scoped by the host) and by the
//! host on a warm instance (host → component, `Session::head`), on one in-memory store.

use crate::measure::{self, fmt_dur};
use crate::{Opts, Row};
use artifact_host::plugin::{self, Limits, Scope};
use artifact_host::{metadata, storage, Runtime};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn build_plugin() -> Result<PathBuf, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().ok_or("no repository root")?;
    let st = Command::new("cargo")
        .args(["build", "--release", "--locked", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(root.join("examples/plugins/rust/Cargo.toml"))
        .arg("--target-dir")
        .arg(root.join("target/plugins"))
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("cargo: {e}"))?;
    if !st.success() {
        return Err("building examples/plugins/rust failed".into());
    }
    Ok(root.join("target/plugins/wasm32-wasip2/release/example_plugin.wasm"))
}

pub fn composition(o: &Opts) -> Result<Vec<Row>, String> {
    let wasm = std::fs::read(build_plugin()?).map_err(|e| e.to_string())?;
    let s = storage::open("mem://").map_err(|e| e.to_string())?;
    let m = metadata::open("mem://").map_err(|e| e.to_string())?;
    let scope = Scope { bucket: "bench".into(), read_only: false, max_bytes: u64::MAX, max_count: u64::MAX, max_moved: u64::MAX };
    let limits = Limits { memory_bytes: 256 << 20, timeout: Duration::from_secs(600) };
    let cache = o.data_dir.join("plugin-code-cache");
    let call = |input: &str| plugin::run(&wasm, s.clone(), m.clone(), scope.clone(), &limits, Some(&cache), input).map_err(|e| e.to_string());
    let demo = call(r#"{"op":"demo","bucket":"bench","name":"h.json","text":"{}"}"#)?;
    let id = serde_json::from_str::<serde_json::Value>(&demo.output).map_err(|e| e.to_string())?["id"]
        .as_str()
        .ok_or("demo answered no id")?
        .to_string();
    // Per call from the plugin: (a run with n heads − a run with none) / n, best of three each
    // (the runs share everything else: engine, instantiation, composition from the code cache).
    let n: u64 = o.size(20_000, 2_000);
    let best = |k: u64| -> Result<Duration, String> {
        let mut best = Duration::MAX;
        for _ in 0..3 {
            let t = Instant::now();
            call(&format!(r#"{{"op":"heads","ref":"{id}","n":{k}}}"#))?;
            best = best.min(t.elapsed());
        }
        Ok(best)
    };
    let (empty, full) = (best(0)?, best(n)?);
    let per_plugin = full.saturating_sub(empty) / n as u32;
    // The host on a warm instance over the same store.
    let rt = Runtime::builder().storage(s.clone()).metadata(m.clone()).cache_dir(o.data_dir.join("code-cache")).build().map_err(|e| e.to_string())?;
    let mut sess = rt.session().map_err(|e| e.to_string())?;
    let host = measure::run(o.budget, 100, || sess.head(&id).expect("head"));
    Ok(vec![Row::new(
        format!("8 head from a plugin through the composition (per call, {n} calls; run without calls {})", fmt_dur(empty)),
        fmt_dur(per_plugin),
        format!("{} host → component, warm instance", fmt_dur(host.median())),
    )
    .ratio_info(host.median().as_secs_f64() / per_plugin.as_secs_f64().max(1e-9))])
}
