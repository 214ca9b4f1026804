//! The wasmtime host of the artifact component: backends, the sandboxed runtime, and the pieces
//! the `artifact` CLI and HTTP server are made of.

pub mod conformance;
pub mod exit;
pub mod home;
pub mod metadata;
pub mod storage;
pub mod runtime;
pub mod serve;

pub use runtime::{GcOptions, HostError, Limits, Runtime, RuntimeBuilder};
