//! The wasmtime host of the artifact component: backends, the sandboxed runtime, and the pieces
//! the `artifact` CLI and HTTP server are made of.

pub mod atomic;
pub mod blocking;
pub mod conformance;
pub mod console;
pub mod embed;
pub mod exit;
pub mod home;
pub mod metadata;
pub mod plugin;
pub mod storage;
pub mod runtime;
pub mod serve;

pub use runtime::{GcOptions, HostError, Limits, Runtime, RuntimeBuilder};
/// The component's data types (records, options, errors), as the public methods take them.
pub use artifact_component::model;
