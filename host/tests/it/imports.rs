//! The shipped components import only what they use: every import costs each instantiation
//! (wasmtime wires each lowered import into a fresh instance) and every host has to supply it.
//! `src/component/no_cli.rs` keeps the `wasi:cli` interfaces that Rust's std on `wasm32-wasip2`
//! would otherwise pull in (environment, exit, stdin, stdout, terminals) out of both components;
//! this fails if they come back (a toolchain whose wasi-libc names its import glue differently,
//! so those definitions stop matching). A dependency that starts writing stdout would not bring
//! the import back: its call reaches `no_cli.rs`'s trap.

use wac_graph::types::{Package, Types};

/// The component's import names, read from its type (no compilation).
fn imports(wasm: &[u8]) -> Vec<String> {
    let mut types = Types::default();
    let package = Package::from_bytes("component", None, wasm.to_vec(), &mut types).expect("the component parses");
    types[package.ty()].imports.keys().cloned().collect()
}

/// The interface part of an import name (`wasi:cli/stderr@0.2.6` -> `wasi:cli/stderr`).
fn interface(name: &str) -> &str {
    name.split_once('@').map_or(name, |(i, _)| i)
}

#[test]
fn the_components_import_no_wasi_cli_interface_but_stderr() {
    for (which, wasm, expect) in [
        (
            "artifact-store",
            artifact_host::runtime::EMBEDDED_COMPONENT,
            &["artifact:store/storage", "artifact:store/metadata", "wasi:config/store", "wasi:cli/stderr", "wasi:clocks/wall-clock"][..],
        ),
        (
            "edge",
            artifact_host::serve::EMBEDDED_EDGE_COMPONENT,
            &["artifact:store/storage", "artifact:store/metadata", "wasi:config/store", "wasi:cli/stderr", "wasi:http/types"][..],
        ),
    ] {
        let names = imports(wasm);
        let ifaces: Vec<&str> = names.iter().map(|n| interface(n)).collect();
        // What the component does use is still imported (the check reads real imports).
        for e in expect {
            assert!(ifaces.contains(e), "{which}: {e} missing from {names:?}");
        }
        let cli: Vec<&&str> = ifaces.iter().filter(|i| i.starts_with("wasi:cli/") && **i != "wasi:cli/stderr").collect();
        assert!(cli.is_empty(), "{which} imports {cli:?} (all imports: {names:?})");
        // Nothing else std could bring in either.
        for gone in ["wasi:filesystem/", "wasi:sockets/"] {
            assert!(!ifaces.iter().any(|i| i.starts_with(gone)), "{which} imports {gone}*: {names:?}");
        }
    }
}
