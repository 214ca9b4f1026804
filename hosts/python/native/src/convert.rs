//! Python values ↔ the host's model: option strings parsed with the component's own parsers
//! (one home for each spelling), records as the JSON objects the pure-Python host returns (the
//! WIT record with snake_case keys and WIT case names).

use artifact_component::model::{self as m, ByteRange, Kind};
use artifact_host::HostError;
use pyo3::prelude::*;
use serde_json::{json, Value};

/// A host error as `_native.Error(kind, message)`.
pub fn err(e: HostError) -> PyErr {
    crate::Error::new_err((e.kind(), e.to_string()))
}

/// An invalid option, as the component would report it.
pub fn invalid(e: m::Error) -> PyErr {
    err(HostError::Artifact(e))
}

/// The WIT case name of a kind (the CLI's JSON uses `result_ref`; the WIT enum `result-ref`).
fn kind_case(k: Kind) -> &'static str {
    match k {
        Kind::ResultRef => "result-ref",
        Kind::TempRef => "temp-ref",
        Kind::Manifest => "manifest",
    }
}

/// The record as the pure-Python host's dict, in JSON.
pub fn record(r: &m::Record) -> Value {
    json!({
        "id": r.id,
        "bucket": r.bucket,
        "name": r.name,
        "logical_ref": r.logical_ref,
        "kind": kind_case(r.kind),
        "content_type": r.content_type,
        "compression": r.compression.as_str(),
        "bytes": r.bytes,
        "stored_bytes": r.stored_bytes,
        "sha256": r.sha256,
        "location": { "driver": r.location.driver, "uri": r.location.uri },
        "scope": r.scope.as_str(),
        "store_tier": r.store_tier,
        "execution_id": r.execution_id,
        "created_by": r.created_by,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "expires_at": r.expires_at,
        "preview": r.preview,
        "extracted": r.extracted,
    })
}

pub fn put_result(p: &m::PutResult) -> String {
    json!({ "record": record(&p.record), "created": p.created, "result_ref": p.result_ref }).to_string()
}

/// `(start, end)`, `(start, None)` or `(None, suffix)`: a range as `native.py` flattens it.
pub fn range(start: Option<u64>, end: Option<u64>, suffix: Option<u64>) -> PyResult<Option<ByteRange>> {
    Ok(match (start, end, suffix) {
        (None, None, None) => None,
        (Some(start), Some(end), None) => Some(ByteRange::Bounded { start, end }),
        (Some(s), None, None) => Some(ByteRange::From(s)),
        (None, None, Some(n)) => Some(ByteRange::Suffix(n)),
        _ => return Err(invalid(m::Error::InvalidArgument("a range is {start, end}, {start} or {suffix}".into()))),
    })
}

/// Parses an optional option string with `parse`.
pub fn opt<T>(v: Option<&str>, parse: fn(&str) -> Result<T, m::Error>) -> PyResult<Option<T>> {
    v.map(parse).transpose().map_err(invalid)
}
