//! Builds the component (the root crate) for `wasm32-wasip2` with the `guest` profile, twice: with
//! the crate's `edge` feature, the `edge` world whose one export is `wasi:http/incoming-handler`
//! (`ARTIFACT_EDGE_WASM`), then the default `artifact-store` world (`ARTIFACT_COMPONENT_WASM`).
//! So `cargo build -p artifact-host` always embeds components that match the sources. Both builds
//! share one nested target directory, `<target>/guest` (not the outer one: that would deadlock on
//! Cargo's build lock), so their dependencies compile once; each `.wasm` is copied into `OUT_DIR`
//! right after its build, and the default world is built last so that
//! `<target>/guest/wasm32-wasip2/guest/artifact_component.wasm` is the plain component (what
//! `scripts/test.sh` hands to the Node and Python hosts). `ARTIFACT_COMPONENT_WASM_OVERRIDE` /
//! `ARTIFACT_EDGE_WASM_OVERRIDE` skip a build.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    for p in ["src", "wit", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }
    // OUT_DIR = <target>/<profile>/build/<pkg>/out; the guests get <target>/guest[-edge].
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let target_dir = out.ancestors().nth(4).map(Path::to_path_buf).unwrap_or_else(|| root.join("target"));
    let guest = target_dir.join("guest");
    build_guest(&root, &guest, &out, Some("edge"), "ARTIFACT_EDGE_WASM");
    build_guest(&root, &guest, &out, None, "ARTIFACT_COMPONENT_WASM");
}

/// Builds the component with `features` into `guest_dir` and exports its path as `env_name`.
fn build_guest(root: &Path, guest_dir: &Path, out: &Path, features: Option<&str>, env_name: &str) {
    let override_var = format!("{env_name}_OVERRIDE");
    println!("cargo:rerun-if-env-changed={override_var}");
    if let Ok(p) = std::env::var(&override_var) {
        println!("cargo:rustc-env={env_name}={p}");
        return;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["build", "--profile", "guest", "--lib", "--locked", "-p", "artifact-component", "--target", "wasm32-wasip2"]);
    if let Some(f) = features {
        cmd.args(["--features", f]);
    }
    cmd.arg("--target-dir").arg(guest_dir);
    for var in ["CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS", "CARGO_BUILD_TARGET", "CARGO_TARGET_DIR", "CARGO_PRIMARY_PACKAGE", "RUSTC_WORKSPACE_WRAPPER", "CARGO_PROFILE_RELEASE_DEBUG"] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("failed to run cargo for the component");
    if !status.success() {
        panic!(
            "building the component ({env_name}) for wasm32-wasip2 failed; if the target is missing run \
             `rustup target add wasm32-wasip2`"
        );
    }
    let wasm = guest_dir.join("wasm32-wasip2/guest/artifact_component.wasm");
    let copy = out.join(format!("{}.wasm", env_name.to_ascii_lowercase()));
    if let Err(e) = std::fs::copy(&wasm, &copy) {
        panic!("component not found at {}: {e}", wasm.display());
    }
    println!("cargo:rustc-env={env_name}={}", copy.display());
}
