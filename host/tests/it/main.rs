//! The host's integration tests, in one binary: every module below loads the real `.wasm` (built by
//! `host/build.rs`) or talks to a real backend. One binary instead of one per file keeps the link
//! step and the disk footprint of `cargo test` small (each wasmtime-linked test binary is large).

mod common;

mod backends;
mod buckets;
mod cli;
mod cli_ux;
mod console;
mod edge;
mod faults;
mod imports;
mod manifests;
mod plugins;
#[cfg(feature = "s3")]
mod remote_backends;
mod results;
mod sandbox;
mod spin;
mod vectors;
mod webdriver;
