//! Externalizing a workflow result: what a workflow server does before it records an event.
//!
//! [`Store::externalize`] takes a result as JSON text and:
//! 1. parses it (invalid JSON is a `decode` error; nothing else happens);
//! 2. measures it: the size is the byte length of the text with surrounding JSON whitespace
//!    removed (that exact text is what is returned inline or stored);
//! 3. always computes a bounded preview ([`crate::preview`]) and the selected fields
//!    ([`crate::select`]); a selected value larger than the preview budget is summarised
//!    within that budget ([`crate::preview::field`]: a long string is cut and ends in `…`), so
//!    `extracted` stays small however large the selection;
//! 4. at or under `inline_max_bytes` (default 65536) returns the text as `inline`; over it, puts
//!    the text (content type `application/json` unless `put.content_type` says otherwise, with
//!    every other `put` option honoured) with the preview and extracted fields stored in the
//!    record, and returns the ResultRef JSON (which carries `preview` and `extracted` too).
//!
//! If storing fails, the result holds the preview, the extracted fields and the error, never the
//! payload. Malformed options (a preview budget under 64, a malformed select path,
//! `put.precompressed`) are `invalid-argument` errors reported the same way, with nothing stored.

use crate::model::{Error, ExternalizeOptions, Externalized};
use crate::preview::{self, DEFAULT_PREVIEW_MAX_BYTES, MIN_PREVIEW_MAX_BYTES};
use crate::select;
use crate::store::Store;
use serde_json::{json, Map, Value};

/// Default inline threshold in bytes of JSON text.
pub const DEFAULT_INLINE_MAX_BYTES: u64 = 65536;

/// JSON whitespace (RFC 8259), the only characters trimmed from the input.
fn trim_json_ws(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\n', '\r'])
}

/// Preview and extracted fields of `value` (both JSON text), as [`Store::externalize`] makes them.
pub fn summarize(value: &Value, paths: &[select::Path], budget: usize) -> (String, String) {
    let pv = preview::preview(value, budget).to_string();
    let mut extracted = Map::new();
    for p in paths {
        if let Some(v) = p.lookup(value) {
            extracted.insert(p.key.clone(), preview::field(v, budget));
        }
    }
    (pv, Value::Object(extracted).to_string())
}

fn failed(error: Error) -> Externalized {
    Externalized { inline: None, result_ref: None, preview: "null".into(), extracted: "{}".into(), error: Some(error) }
}

impl Store {
    /// Keeps a JSON result inline or stores it, always returning a preview and the selected
    /// fields (see the module docs). Never panics and never returns the payload of a result over
    /// the threshold.
    pub fn externalize(&self, value_json: &str, opts: &ExternalizeOptions) -> Externalized {
        let budget = opts.preview_max_bytes.unwrap_or(DEFAULT_PREVIEW_MAX_BYTES);
        if budget < MIN_PREVIEW_MAX_BYTES {
            return failed(Error::InvalidArgument(format!(
                "preview-max-bytes must be at least {MIN_PREVIEW_MAX_BYTES} (got {budget})"
            )));
        }
        let budget = usize::try_from(budget).unwrap_or(usize::MAX);
        let paths = match select::parse_all(&opts.select) {
            Ok(p) => p,
            Err(e) => return failed(e),
        };
        let text = trim_json_ws(value_json);
        let value: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => return failed(Error::Decode(format!("result is not valid JSON: {e}"))),
        };
        let (preview, extracted) = summarize(&value, &paths, budget);
        drop(value);
        let mut out = Externalized { inline: None, result_ref: None, preview, extracted, error: None };
        let threshold = opts.inline_max_bytes.unwrap_or(DEFAULT_INLINE_MAX_BYTES);
        if text.len() as u64 <= threshold {
            out.inline = Some(text.to_string());
            return out;
        }
        match self.store_result(text, opts, &out) {
            Ok(r) => out.result_ref = Some(r),
            Err(e) => out.error = Some(e),
        }
        out
    }

    fn store_result(&self, text: &str, opts: &ExternalizeOptions, out: &Externalized) -> Result<String, Error> {
        if opts.put.precompressed == Some(true) {
            return Err(Error::InvalidArgument("externalize stores JSON text; put.precompressed does not apply".into()));
        }
        let mut w = self.open_writer(&opts.put)?;
        w.annotate(Some(out.preview.clone()), Some(out.extracted.clone()));
        w.write(text.as_bytes())?;
        Ok(w.finish()?.result_ref)
    }
}

impl Externalized {
    /// The JSON the CLI prints and the test vectors describe:
    /// `{"inline": <value>}` or `{"ref": <ResultRef>}`, then `"preview"`, `"extracted"` and,
    /// when set, `"error": {"kind": "<wit case>", "message": "..."}`.
    pub fn to_value(&self) -> Value {
        let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
        let mut m = Map::new();
        if let Some(i) = &self.inline {
            m.insert("inline".into(), parse(i));
        }
        if let Some(r) = &self.result_ref {
            m.insert("ref".into(), parse(r));
        }
        m.insert("preview".into(), parse(&self.preview));
        m.insert("extracted".into(), parse(&self.extracted));
        if let Some(e) = &self.error {
            m.insert("error".into(), json!({"kind": e.kind(), "message": e.to_string()}));
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::mem::{MemMetadata, MemStorage};
    use crate::model::{GetOptions, PutOptions};
    use std::rc::Rc;

    fn store() -> (Store, MemStorage) {
        let s = MemStorage::default();
        (Store::new(Rc::new(s.clone()), Rc::new(MemMetadata::default())), s)
    }

    fn big() -> String {
        let rows: Vec<Value> = (0..5000).map(|i| json!({"id": i, "name": format!("row {i}")})).collect();
        json!({"status": "ok", "data": {"count": 5000, "rows": rows}}).to_string()
    }

    #[test]
    fn small_results_stay_inline() {
        let (st, mem) = store();
        let x = st.externalize(" {\"a\": 1}\n", &ExternalizeOptions { select: vec!["a".into()], ..Default::default() });
        assert_eq!(x.inline.as_deref(), Some("{\"a\": 1}"));
        assert_eq!((x.result_ref, x.error), (None, None));
        assert_eq!(x.preview, r#"{"a":1}"#);
        assert_eq!(x.extracted, r#"{"a":1}"#);
        assert!(mem.objects.lock().unwrap().is_empty());
    }

    #[test]
    fn large_results_are_stored_with_preview_and_extracted() {
        let (st, _) = store();
        let body = big();
        let opts = ExternalizeOptions {
            select: vec!["status".into(), "$.data.count".into(), "data.rows[1].name".into(), "missing.x".into()],
            put: PutOptions { execution_id: Some("e1".into()), step: Some("fetch".into()), ..Default::default() },
            ..Default::default()
        };
        let x = st.externalize(&body, &opts);
        assert_eq!(x.error, None);
        assert_eq!(x.inline, None);
        let extracted: Value = serde_json::from_str(&x.extracted).unwrap();
        assert_eq!(extracted, json!({"status": "ok", "count": 5000, "name": "row 1"}));
        let preview: Value = serde_json::from_str(&x.preview).unwrap();
        assert!(x.preview.len() <= 1024);
        assert_eq!(preview["_truncated"], true);
        assert_eq!(preview["status"], "ok");
        let rr: Value = serde_json::from_str(x.result_ref.as_deref().unwrap()).unwrap();
        assert_eq!(rr["kind"], "result_ref");
        assert!(rr["ref"].as_str().unwrap().starts_with("noetl://execution/e1/result/"));
        assert_eq!(rr["preview"], preview);
        assert_eq!(rr["extracted"], extracted);
        assert_eq!(rr["meta"]["content_type"], "application/json");
        assert_eq!(rr["meta"]["bytes"], body.len());
        let g = st.get(x.result_ref.as_deref().unwrap(), &GetOptions::default()).unwrap();
        assert_eq!(g.data, crate::model::Body::Json(body));
        assert_eq!(g.meta.preview.as_deref(), Some(x.preview.as_str()));
        let v = x.to_value();
        assert!(v.get("inline").is_none() && v["ref"]["ref"] == rr["ref"]);
    }

    #[test]
    fn storage_failure_keeps_preview_and_never_the_payload() {
        let (st, mem) = store();
        let body = big();
        let opts = ExternalizeOptions {
            select: vec!["status".into()],
            put: PutOptions { store: Some("s3://nowhere/{{ id }}".into()), ..Default::default() },
            ..Default::default()
        };
        let x = st.externalize(&body, &opts);
        assert!(matches!(x.error, Some(Error::InvalidArgument(_))), "{:?}", x.error);
        assert_eq!((x.inline, x.result_ref), (None, None));
        assert_eq!(x.extracted, r#"{"status":"ok"}"#);
        assert!(x.preview.len() <= 1024 && x.preview.contains("_truncated"));
        assert!(mem.objects.lock().unwrap().is_empty());
    }

    #[test]
    fn bad_input_and_options_are_typed_errors() {
        let (st, _) = store();
        let e = |json: &str, o: ExternalizeOptions| st.externalize(json, &o).error.map(|e| e.kind());
        assert_eq!(e("{nope", Default::default()), Some("decode"));
        assert_eq!(e("", Default::default()), Some("decode"));
        assert_eq!(e("1 2", Default::default()), Some("decode"));
        assert_eq!(e("1", ExternalizeOptions { preview_max_bytes: Some(10), ..Default::default() }), Some("invalid-argument"));
        assert_eq!(e("1", ExternalizeOptions { select: vec!["a..b".into()], ..Default::default() }), Some("invalid-argument"));
        let pre = ExternalizeOptions {
            inline_max_bytes: Some(0),
            put: PutOptions { precompressed: Some(true), ..Default::default() },
            ..Default::default()
        };
        assert_eq!(e("1", pre), Some("invalid-argument"));
    }

    #[test]
    fn threshold_is_inclusive() {
        let (st, _) = store();
        let o = |n| ExternalizeOptions { inline_max_bytes: Some(n), ..Default::default() };
        assert!(st.externalize("[1,2,3]", &o(7)).inline.is_some());
        let x = st.externalize("[1,2,3]", &o(6));
        assert!(x.inline.is_none() && x.result_ref.is_some(), "{x:?}");
    }
}
