//! The ResultRef JSON shape NoETL ships: `kind`, `ref`, `store`, `scope`, `expires_at`,
//! `meta {content_type, bytes, sha256, compression, encoding, created_at}`, `preview`, `extracted`.
//! We add `meta.id`, `meta.bucket`, `meta.name`, `meta.stored_bytes`, `meta.created_by` and
//! `meta.storage {driver, uri}`; readers ignore fields they do not know.

use crate::model::Record;
use crate::time::format_rfc3339;
use serde_json::{json, Map, Value};

fn raw_json(s: &Option<String>) -> Value {
    s.as_deref().and_then(|t| serde_json::from_str(t).ok()).unwrap_or(Value::Null)
}

/// Text encoding of the logical body when it is text, as NoETL reports it.
pub fn encoding_of(content_type: &str) -> Option<&'static str> {
    let ct = content_type.to_ascii_lowercase();
    (ct.starts_with("text/") || ct.contains("json") || ct.contains("xml") || ct.contains("csv"))
        .then_some("utf-8")
}

/// The `meta` object of a ResultRef (also what the CLI prints as `meta`).
pub fn meta_json(r: &Record) -> Value {
    json!({
        "id": r.id,
        "bucket": r.bucket,
        "name": r.name,
        "ref": r.logical_ref,
        "kind": r.kind.as_str(),
        "content_type": r.content_type,
        "compression": r.compression.as_str(),
        "encoding": encoding_of(&r.content_type),
        "bytes": r.bytes,
        "stored_bytes": r.stored_bytes,
        "sha256": r.sha256,
        "created_at": format_rfc3339(r.created_at),
        "updated_at": format_rfc3339(r.updated_at),
        "expires_at": r.expires_at.map(format_rfc3339),
        "created_by": r.created_by,
        "execution_id": r.execution_id,
        "scope": r.scope.as_str(),
        "storage": { "driver": r.location.driver, "uri": r.location.uri },
    })
}

/// The ResultRef object for `r`.
pub fn to_value(r: &Record) -> Value {
    let mut m = Map::new();
    m.insert("kind".into(), json!(r.kind.as_str()));
    m.insert("ref".into(), json!(r.logical_ref));
    m.insert("store".into(), json!(r.store_tier));
    m.insert("scope".into(), json!(r.scope.as_str()));
    m.insert("expires_at".into(), json!(r.expires_at.map(format_rfc3339)));
    m.insert("meta".into(), meta_json(r));
    if r.preview.is_some() {
        m.insert("preview".into(), raw_json(&r.preview));
    }
    if r.extracted.is_some() {
        m.insert("extracted".into(), raw_json(&r.extracted));
    }
    Value::Object(m)
}

/// The ResultRef as JSON text.
pub fn to_json(r: &Record) -> String {
    to_value(r).to_string()
}
