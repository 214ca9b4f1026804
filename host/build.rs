//! Builds the component (the root crate) for `wasm32-wasip2` in release mode and hands its path
//! to the host as `ARTIFACT_COMPONENT_WASM`, so `cargo build -p artifact-host` always embeds a
//! component that matches the sources. The nested build uses its own target directory (sharing
//! the outer one would deadlock on Cargo's build lock).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    for p in ["src", "wit", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }
    println!("cargo:rerun-if-env-changed=ARTIFACT_COMPONENT_WASM_OVERRIDE");
    if let Ok(p) = std::env::var("ARTIFACT_COMPONENT_WASM_OVERRIDE") {
        println!("cargo:rustc-env=ARTIFACT_COMPONENT_WASM={p}");
        return;
    }
    // OUT_DIR = <target>/<profile>/build/<pkg>/out; the guest gets <target>/guest.
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let target_dir = out.ancestors().nth(4).map(Path::to_path_buf).unwrap_or_else(|| root.join("target"));
    let guest_dir = target_dir.join("guest");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args(["build", "--release", "--lib", "--locked", "-p", "artifact-component", "--target", "wasm32-wasip2", "--target-dir"])
        .arg(&guest_dir);
    for var in ["CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS", "CARGO_BUILD_TARGET", "CARGO_TARGET_DIR", "CARGO_PRIMARY_PACKAGE", "RUSTC_WORKSPACE_WRAPPER", "CARGO_PROFILE_RELEASE_DEBUG"] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("failed to run cargo for the component");
    if !status.success() {
        panic!(
            "building the component for wasm32-wasip2 failed; if the target is missing run \
             `rustup target add wasm32-wasip2`"
        );
    }
    let wasm = guest_dir.join("wasm32-wasip2/release/artifact_component.wasm");
    assert!(wasm.exists(), "component not found at {}", wasm.display());
    println!("cargo:rustc-env=ARTIFACT_COMPONENT_WASM={}", wasm.display());
}
