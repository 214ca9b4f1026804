//! Artifact store semantics, written once. Natively this crate is a library (unit tests,
//! benchmarks, shared types for the host); built for `wasm32-wasip2` it is the component, whose
//! glue lives in the private `component` module.

pub mod backend;
pub mod chunks;
pub mod codec;
pub mod digest;
pub mod encoding;
pub mod externalize;
pub mod http;
pub mod ids;
pub mod json_syntax;
pub mod manifest;
pub mod model;
pub mod preview;
pub mod refs;
pub mod result_ref;
pub mod scope;
pub mod select;
pub mod sign;
pub mod store;
pub mod template;
pub mod time;
mod wit_convert;

#[cfg(target_arch = "wasm32")]
mod component;

#[cfg(test)]
mod vectors;
