//! An example plugin in Rust: its `run` takes a JSON command and answers JSON, using only the
//! `artifact:store/artifacts` import the host composed it with. The Python plugin
//! (`examples/plugins/python`) answers the same commands the same way, so one test drives both:
//!
//! Every command names the bucket to use (`"bucket"`): the host scopes the plugin to one, and
//! the plugin is told which.
//!
//! - `{"op":"demo","bucket":B,"name":N,"text":T}`: put T as B/N (text/plain), get it back, list
//!   the bucket; answers `{"id", "result_ref", "got", "names"}`.
//! - `{"op":"put","bucket":B,"name":N,"size":S}`: put S bytes; answers `{"id"}` or
//!   `{"error": kind}`.
//! - `{"op":"try","refs":[R…]}`: for each ref, `head`, `get`, `open-reader` and `delete`;
//!   answers one outcome per attempt (`"ok"` or the error kind).
//! - `{"op":"list","bucket":B}`: the names `list` shows for bucket B.
//! - `{"op":"heads","ref":R,"n":N}`: `head(R)` N times (the composition-cost benchmark);
//!   answers N.
//! - `{"op":"spin"}`: never returns (the host's deadline must stop it);
//!   `{"op":"grow"}`: allocates until memory runs out (the host's memory limit must stop it).

wit_bindgen::generate!({
    path: "../../../wit",
    world: "artifact:store/plugin",
    generate_all,
});

use artifact::store::artifacts::{self as store, GetOptions, PutOptions};
use artifact::store::types::{Error, ListQuery, Mode, Order};
use serde_json::{json, Value};

struct Plugin;

fn kind(e: &Error) -> &'static str {
    match e {
        Error::NotFound(_) => "not-found",
        Error::InvalidRef(_) => "invalid-ref",
        Error::InvalidArgument(_) => "invalid-argument",
        Error::TooLarge(_) => "too-large",
        Error::RangeNotSatisfiable(_) => "range-not-satisfiable",
        Error::Integrity(_) => "integrity",
        Error::Decode(_) => "decode",
        Error::Conflict(_) => "conflict",
        Error::Forbidden(_) => "forbidden",
        Error::Expired(_) => "expired",
        Error::Storage(_) => "storage",
        Error::Metadata(_) => "metadata",
    }
}

fn outcome<T>(r: Result<T, Error>) -> Value {
    match r {
        Ok(_) => json!("ok"),
        Err(e) => json!(kind(&e)),
    }
}

fn put_options(bucket: &str, name: &str, content_type: &str) -> PutOptions {
    PutOptions {
        content_type: Some(content_type.into()),
        compression: None,
        bucket: Some(bucket.into()),
        name: Some(name.into()),
        if_exists: None,
        created_by: Some("example-plugin (rust)".into()),
        store: None,
        execution_id: None,
        step: None,
        scope: None,
        ttl: None,
        kind: None,
        max_bytes: None,
        precompressed: None,
    }
}

fn get_options(mode: Mode) -> GetOptions {
    GetOptions { mode: Some(mode), max_bytes: None, range: None, resolve_manifest: None, manifest_limits: None }
}

fn names(bucket: Option<String>) -> Result<Vec<String>, Error> {
    let q = ListQuery {
        bucket,
        name: None,
        name_prefix: None,
        created_by: None,
        created_after: None,
        created_before: None,
        uri: None,
        expired_before: None,
        order: Order::OldestFirst,
        cursor: None,
        limit: 1000,
    };
    Ok(store::list(&q)?.records.into_iter().map(|r| r.name).collect())
}

fn body_text(b: store::Body) -> String {
    match b {
        store::Body::Json(j) => j,
        store::Body::Text(t) => t,
        store::Body::Bytes(b) => String::from_utf8_lossy(&b).into_owned(),
    }
}

fn handle(cmd: &Value) -> Result<Value, String> {
    let s = |k: &str| cmd[k].as_str().unwrap_or_default().to_string();
    match cmd["op"].as_str() {
        Some("demo") => {
            let put = store::put(s("text").as_bytes(), &put_options(&s("bucket"), &s("name"), "text/plain")).map_err(|e| kind(&e).to_string())?;
            let got = store::get(&put.record.id, get_options(Mode::Text)).map_err(|e| kind(&e).to_string())?;
            let names = names(Some(s("bucket"))).map_err(|e| kind(&e).to_string())?;
            Ok(json!({"id": put.record.id, "result_ref": put.result_ref, "got": body_text(got.data), "names": names}))
        }
        Some("put") => {
            let n = cmd["size"].as_u64().unwrap_or(0) as usize;
            match store::put(&vec![7u8; n], &put_options(&s("bucket"), &s("name"), "application/octet-stream")) {
                Ok(p) => Ok(json!({"id": p.record.id})),
                Err(e) => Ok(json!({"error": kind(&e)})),
            }
        }
        Some("try") => {
            let mut out = Vec::new();
            for r in cmd["refs"].as_array().cloned().unwrap_or_default() {
                let r = r.as_str().unwrap_or_default().to_string();
                out.push(outcome(store::head(&r)));
                out.push(outcome(store::get(&r, get_options(Mode::Bytes))));
                out.push(outcome(store::open_reader(&r, get_options(Mode::Bytes))));
                out.push(outcome(store::delete(&r)));
            }
            Ok(json!(out))
        }
        Some("heads") => {
            let n = cmd["n"].as_u64().unwrap_or(0);
            for _ in 0..n {
                store::head(&s("ref")).map_err(|e| kind(&e).to_string())?;
            }
            Ok(json!(n))
        }
        Some("spin") => loop {
            std::hint::black_box(0u64);
        },
        Some("grow") => {
            let mut held: Vec<Vec<u8>> = Vec::new();
            loop {
                held.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&held);
            }
        }
        Some("list") => names(Some(s("bucket"))).map(|n| json!(n)).map_err(|e| kind(&e).to_string()),
        _ => Err(format!("unknown command {cmd}")),
    }
}

impl Guest for Plugin {
    fn run(input: String) -> Result<String, String> {
        let cmd: Value = serde_json::from_str(&input).map_err(|e| format!("input is not JSON: {e}"))?;
        handle(&cmd).map(|v| v.to_string())
    }
}

export!(Plugin);
