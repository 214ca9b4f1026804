//! The token API of the edge world: `/v1/api/<operation>?<parameters>` with
//! `Authorization: Bearer <token>`, for callers that hold a token instead of a signed URL
//! (workers, dashboards, `curl`). Tokens and their bucket scopes come from `api_tokens`
//! ([`crate::scope`]); without it the API answers 404.
//!
//! | method | operation | parameters (query) | answer |
//! | --- | --- | --- | --- |
//! | GET | `list` | `bucket`, `prefix`, `created_by`, `since`, `until` (RFC 3339), `newest`, `cursor`, `limit` | `{"records":[meta…],"next_cursor":…}` |
//! | GET | `summary` | `bucket` | `{"bucket","count","total_bytes"}` |
//! | GET | `head` | `ref` | `{"meta":{…}}` |
//! | GET | `get` | `ref`, `mode` (json, text, bytes), `range` (`a-b`, `a-`, `-n`), `max_bytes` | json/text: `{"data":…,"meta":…}`; bytes: the raw bytes, verified as they stream |
//! | PUT | `put` | `bucket`, `name`, `content_type`, `compression`, `if_exists`, `ttl`, `max_bytes`, `created_by`; body = the bytes | 201/200 + ResultRef (`created`) |
//! | DELETE | `delete` | `ref` | `{"deleted":id}` |
//! | POST | `manifest/create` | `bucket`, `name`, `strategy`, `merge_path`; body = JSON array of part refs (may be empty: open) | ResultRef |
//! | POST | `manifest/add` | `manifest`, `part`, `index` | ResultRef |
//! | POST | `manifest/complete` | `manifest` | ResultRef |
//! | GET | `manifest/parts` | `manifest` | `{"meta":…,"completed_at":…,"parts":[…]}` |
//! | POST | `sign` | `ref`, `ttl` (default 15m), `range`, `method` (GET, HEAD), `carry` (`true`: the URL carries the record, its read looks nothing up) | `{"url":"/v1/artifacts/…"}` |
//! | POST | `sign-upload` | `bucket`, `name`, `ttl`, `max_bytes` (default 100 MiB), `content_type`, `compression` | `{"url":"/v1/uploads?…"}` |
//!
//! Every answer is JSON with `"status":"success"` (but `get` in bytes mode), or the edge's error
//! shape with the typed kind. No token or an unknown one is 401. A ref outside the token's
//! buckets is `not-found` exactly as a missing one; a write outside them, or any write with a
//! `ro` token, is 403. A manifest is read or resolved only when every part is in scope.

use super::upload::{stream_put, with_created, RequestBody};
use super::{error_response, from_error, json_response, Body, Request, Response};
use crate::codec;
use crate::manifest::{ManifestOptions, Strategy};
use crate::model::{Compression, Error, GetOptions, IfExists, Kind, ListQuery, Mode, Order, PutOptions, Record};
use crate::result_ref::meta_json;
use crate::scope::{Scope, Tokens};
use crate::sign::upload::{sign_upload, UploadOptions};
use crate::sign::{sign_path, Config, Keys, SignOptions};
use crate::store::Store;
use serde_json::{json, Value};

/// Path prefix of the API.
pub const API_PREFIX: &str = "/v1/api/";
/// Largest JSON request body (a manifest's part list).
const JSON_BODY_BYTES: usize = 1 << 20;
/// Parts checked for scope when a manifest is read (nested manifests included).
const MANIFEST_CHECK_PARTS: usize = 10_000;

const ROUTES: &[(&str, &str)] = &[
    ("list", "GET"),
    ("summary", "GET"),
    ("head", "GET"),
    ("get", "GET"),
    ("put", "PUT"),
    ("delete", "DELETE"),
    ("manifest/create", "POST"),
    ("manifest/add", "POST"),
    ("manifest/complete", "POST"),
    ("manifest/parts", "GET"),
    ("sign", "POST"),
    ("sign-upload", "POST"),
];

/// Decoded query parameters; a parameter given twice is refused.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(q: &str) -> Result<Query, Error> {
        let mut out: Vec<(String, String)> = Vec::new();
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| {
                crate::encoding::percent_decode(s, true).ok_or_else(|| Error::InvalidArgument(format!("malformed %-escape in parameter {k:?}")))
            };
            let (k, v) = (dec(k)?, dec(v)?);
            if out.iter().any(|(key, _)| *key == k) {
                return Err(Error::InvalidArgument(format!("parameter {k:?} appears twice")));
            }
            out.push((k, v));
        }
        Ok(Query(out))
    }
    fn opt(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }
    fn req(&self, k: &str) -> Result<&str, Error> {
        self.opt(k).ok_or_else(|| Error::InvalidArgument(format!("parameter {k:?} is required")))
    }
    fn num(&self, k: &str) -> Result<Option<u64>, Error> {
        self.opt(k).map(|v| v.parse::<u64>().map_err(|_| Error::InvalidArgument(format!("{k} must be a whole number, not {v:?}")))).transpose()
    }
    fn time(&self, k: &str) -> Result<Option<u64>, Error> {
        self.opt(k).map(crate::time::parse_rfc3339).transpose()
    }
}

fn success(mut v: Value) -> Response {
    if let Some(o) = v.as_object_mut() {
        o.insert("status".into(), "success".into());
    }
    json_response(200, v.to_string() + "\n")
}

/// Handles a request under [`API_PREFIX`].
pub fn handle(store: &Store, cfg: &dyn Config, req: &Request, body: &mut dyn RequestBody, now_ms: u64) -> Response {
    let tokens = match Tokens::from_config(cfg) {
        Ok(Some(t)) => t,
        Ok(None) => return error_response(404, "not-found", "the token API is not enabled on this server (no api_tokens configured)"),
        Err(e) => return error_response(500, "configuration", &format!("the server's api_tokens are invalid: {e}")),
    };
    let presented = req.header("authorization").and_then(|h| h.split_once(' ')).filter(|(s, _)| s.eq_ignore_ascii_case("bearer")).map(|(_, t)| t.trim());
    let Some(scope) = presented.and_then(|t| tokens.authenticate(t)) else {
        let mut r = error_response(401, "unauthorized", "a valid token is required: Authorization: Bearer <token>");
        r.headers.push(("www-authenticate".into(), "Bearer".into()));
        return r;
    };
    let (path, query) = req.path_with_query.split_once('?').unwrap_or((req.path_with_query, ""));
    let op = path.strip_prefix(API_PREFIX).unwrap_or("");
    let Some((_, method)) = ROUTES.iter().find(|(o, _)| *o == op) else {
        return error_response(404, "not-found", &format!("no API operation {op:?}; see the README's token API table"));
    };
    if req.method != *method {
        let mut r = error_response(405, "method-not-allowed", &format!("{op} takes {method}"));
        r.headers.push(("allow".into(), method.to_string()));
        return r;
    }
    let q = match Query::parse(query) {
        Ok(q) => q,
        Err(e) => return from_error(&e),
    };
    let api = Api { store, cfg, scope, now_ms };
    let r = match op {
        "list" => api.list(&q),
        "summary" => api.summary(&q),
        "head" => api.head(&q),
        "get" => api.get(&q),
        "put" => api.put(&q, req, body),
        "delete" => api.delete(&q),
        "manifest/create" => api.manifest_create(&q, body),
        "manifest/add" => api.manifest_add(&q),
        "manifest/complete" => api.manifest_complete(&q),
        "manifest/parts" => api.manifest_parts(&q),
        "sign" => api.sign(&q),
        _ => api.sign_upload(&q),
    };
    r.unwrap_or_else(|e| from_error(&e))
}

struct Api<'a> {
    store: &'a Store,
    cfg: &'a dyn Config,
    scope: &'a Scope,
    now_ms: u64,
}

impl Api<'_> {
    fn list(&self, q: &Query) -> Result<Response, Error> {
        let bucket = q.req("bucket")?;
        self.scope.read_bucket(bucket, bucket)?;
        let query = ListQuery {
            bucket: Some(bucket.into()),
            name_prefix: q.opt("prefix").map(String::from),
            created_by: q.opt("created_by").map(String::from),
            created_after: q.time("since")?,
            created_before: q.time("until")?,
            order: if q.opt("newest").is_some_and(|v| v == "true" || v == "1") { Order::NewestFirst } else { Order::OldestFirst },
            cursor: q.opt("cursor").map(String::from),
            limit: q.num("limit")?.unwrap_or(100).min(1000) as u32,
            ..Default::default()
        };
        let page = self.store.list(&query)?;
        let records: Vec<Value> = page.records.iter().map(meta_json).collect();
        Ok(success(json!({ "records": records, "next_cursor": page.next_cursor })))
    }

    fn summary(&self, q: &Query) -> Result<Response, Error> {
        let bucket = q.req("bucket")?;
        self.scope.read_bucket(bucket, bucket)?;
        let s = self.store.summary(bucket)?;
        Ok(success(json!({ "bucket": bucket, "count": s.count, "total_bytes": s.total_bytes })))
    }

    fn head(&self, q: &Query) -> Result<Response, Error> {
        let rec = self.scope.resolve(self.store, q.req("ref")?)?;
        Ok(success(json!({ "meta": meta_json(&rec) })))
    }

    /// Refuses a manifest with a part (at any depth) outside the scope.
    fn check_parts(&self, rec: &Record) -> Result<(), Error> {
        let mut todo = vec![rec.clone()];
        let mut seen = 0usize;
        while let Some(m) = todo.pop() {
            for p in self.store.load_manifest(&m)?.parts {
                seen += 1;
                if seen > MANIFEST_CHECK_PARTS {
                    return Err(Error::InvalidArgument(format!("the manifest has more than {MANIFEST_CHECK_PARTS} parts to check")));
                }
                let part = self.scope.resolve(self.store, &p.logical_ref).map_err(|e| match e {
                    Error::NotFound(_) => Error::Forbidden(format!("part {} of the manifest is missing or outside this token's scope", p.index)),
                    e => e,
                })?;
                if part.kind == Kind::Manifest {
                    todo.push(part);
                }
            }
        }
        Ok(())
    }

    fn get(&self, q: &Query) -> Result<Response, Error> {
        let rec = self.scope.resolve(self.store, q.req("ref")?)?;
        let mode = match q.opt("mode").unwrap_or("json") {
            "json" => Mode::Json,
            "text" => Mode::Text,
            "bytes" => Mode::Bytes,
            m => return Err(Error::InvalidArgument(format!("mode {m:?} is not json, text or bytes"))),
        };
        let range = q.opt("range").map(codec::parse_range).transpose()?;
        let resolving = rec.kind == Kind::Manifest && mode != Mode::Bytes;
        if rec.kind == Kind::Manifest {
            self.check_parts(&rec)?;
        }
        let opts = GetOptions { mode: Some(mode), max_bytes: q.num("max_bytes")?, range, resolve_manifest: Some(resolving), ..Default::default() };
        if mode == Mode::Bytes {
            let reader = self.store.open_reader(&rec.id, &opts)?;
            return Ok(Response {
                status: 200,
                headers: vec![
                    ("content-type".into(), rec.content_type.clone()),
                    ("etag".into(), format!("\"{}\"", rec.sha256)),
                    ("cache-control".into(), "no-store".into()),
                ],
                body: Body::Logical(Box::new(reader)),
            });
        }
        let g = self.store.get(&rec.id, &opts)?;
        let data = match g.data {
            crate::model::Body::Json(s) => serde_json::from_str::<Box<serde_json::value::RawValue>>(&s).map_err(|e| Error::Decode(e.to_string()))?,
            crate::model::Body::Text(s) => serde_json::value::to_raw_value(&s).map_err(|e| Error::Decode(e.to_string()))?,
            crate::model::Body::Bytes(_) => unreachable!("bytes mode is streamed above"),
        };
        let meta = meta_json(&g.meta).to_string();
        Ok(json_response(200, format!("{{\"status\":\"success\",\"data\":{},\"meta\":{meta}}}\n", data.get())))
    }

    fn put(&self, q: &Query, req: &Request, body: &mut dyn RequestBody) -> Result<Response, Error> {
        let bucket = q.req("bucket")?;
        self.scope.write_bucket(bucket)?;
        let content_type = q.opt("content_type").or_else(|| req.header("content-type")).unwrap_or("application/octet-stream");
        let opts = PutOptions {
            bucket: Some(bucket.into()),
            name: Some(q.req("name")?.into()),
            content_type: Some(content_type.into()),
            compression: q.opt("compression").map(Compression::parse).transpose()?,
            if_exists: q.opt("if_exists").map(|v| match v {
                "get" => Ok(IfExists::Get),
                "overwrite" => Ok(IfExists::Overwrite),
                "fail" => Ok(IfExists::Fail),
                v => Err(Error::InvalidArgument(format!("if_exists {v:?} is not get, overwrite or fail"))),
            }).transpose()?,
            ttl: q.opt("ttl").map(String::from),
            max_bytes: q.num("max_bytes")?,
            created_by: q.opt("created_by").map(String::from),
            ..Default::default()
        };
        Ok(stream_put(self.store, &opts, req, body))
    }

    fn delete(&self, q: &Query) -> Result<Response, Error> {
        let rec = self.scope.resolve(self.store, q.req("ref")?)?;
        self.scope.write_bucket(&rec.bucket)?;
        let id = self.store.delete(&rec.id)?;
        Ok(success(json!({ "deleted": id })))
    }

    fn manifest_create(&self, q: &Query, body: &mut dyn RequestBody) -> Result<Response, Error> {
        let bucket = q.req("bucket")?;
        self.scope.write_bucket(bucket)?;
        let mut raw = Vec::new();
        loop {
            let c = body.next_chunk(64 << 10).map_err(|e| Error::InvalidArgument(format!("the request body failed: {e}")))?;
            if c.is_empty() {
                break;
            }
            raw.extend_from_slice(&c);
            if raw.len() > JSON_BODY_BYTES {
                return Err(Error::TooLarge { limit: JSON_BODY_BYTES as u64, needed: raw.len() as u64 });
            }
        }
        let refs: Vec<String> = if raw.iter().all(u8::is_ascii_whitespace) {
            Vec::new()
        } else {
            serde_json::from_slice(&raw).map_err(|e| Error::InvalidArgument(format!("the body must be a JSON array of part refs: {e}")))?
        };
        let mut ids = Vec::with_capacity(refs.len());
        for r in &refs {
            ids.push(self.scope.resolve(self.store, r)?.id);
        }
        let opts = ManifestOptions {
            strategy: Strategy::parse(q.req("strategy")?)?,
            merge_path: q.opt("merge_path").map(String::from),
            put: PutOptions { bucket: Some(bucket.into()), name: q.opt("name").map(String::from), ..Default::default() },
            ..Default::default()
        };
        let p = self.store.manifest_create(&opts, &ids)?;
        Ok(json_response(201, with_created(&p)))
    }

    fn manifest_target(&self, q: &Query) -> Result<Record, Error> {
        let m = self.scope.resolve(self.store, q.req("manifest")?)?;
        self.scope.write_bucket(&m.bucket)?;
        Ok(m)
    }

    fn manifest_add(&self, q: &Query) -> Result<Response, Error> {
        let m = self.manifest_target(q)?;
        let part = self.scope.resolve(self.store, q.req("part")?)?;
        let index = q.num("index")?.map(|i| u32::try_from(i).map_err(|_| Error::InvalidArgument("index is too large".into()))).transpose()?;
        let p = self.store.manifest_add(&m.id, &part.id, index)?;
        Ok(json_response(200, p.result_ref + "\n"))
    }

    fn manifest_complete(&self, q: &Query) -> Result<Response, Error> {
        let m = self.manifest_target(q)?;
        let p = self.store.manifest_complete(&m.id)?;
        Ok(json_response(200, p.result_ref + "\n"))
    }

    fn manifest_parts(&self, q: &Query) -> Result<Response, Error> {
        let rec = self.scope.resolve(self.store, q.req("manifest")?)?;
        self.check_parts(&rec)?;
        let m = self.store.load_manifest(&rec)?;
        Ok(success(json!({ "meta": meta_json(&rec), "completed_at": m.completed_at, "parts": m.parts })))
    }

    fn ttl_secs(q: &Query) -> Result<u64, Error> {
        let t = q.opt("ttl").unwrap_or("15m");
        let ms = crate::time::parse_ttl(t)?.ok_or_else(|| Error::InvalidArgument("a signed URL cannot live forever".into()))?;
        Ok((ms / 1000).max(1))
    }

    fn sign(&self, q: &Query) -> Result<Response, Error> {
        let rec = self.scope.resolve(self.store, q.req("ref")?)?;
        let keys = Keys::from_config(self.cfg)?;
        let o = SignOptions { method: q.opt("method").map(String::from), range: q.opt("range").map(codec::parse_range).transpose()?, kid: None };
        let url = match q.opt("carry") {
            None | Some("false") => sign_path(&keys, &rec.id, self.now_ms / 1000, Self::ttl_secs(q)?, &o)?,
            Some("true") => self.store.sign_carried_record(&keys, &rec, Self::ttl_secs(q)?, &o)?,
            Some(v) => return Err(Error::InvalidArgument(format!("carry is true or false, not {v:?}"))),
        };
        Ok(success(json!({ "url": url })))
    }

    fn sign_upload(&self, q: &Query) -> Result<Response, Error> {
        let bucket = q.req("bucket")?;
        self.scope.write_bucket(bucket)?;
        let keys = Keys::from_config(self.cfg)?;
        let o = UploadOptions {
            content_type: q.opt("content_type").map(String::from),
            max_bytes: q.num("max_bytes")?.unwrap_or(100 << 20),
            compression: q.opt("compression").map(Compression::parse).transpose()?,
            kid: None,
        };
        let url = sign_upload(&keys, bucket, q.req("name")?, self.now_ms / 1000, Self::ttl_secs(q)?, &o)?;
        Ok(success(json!({ "url": url })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::mem::{MemMetadata, MemStorage};
    use crate::encoding::{base64url, percent_encode};
    use std::collections::BTreeMap;
    use std::rc::Rc;

    const NOW_MS: u64 = 1_780_000_000_000;
    const A: &str = "token-for-bucket-a-only";
    const RO: &str = "reader-of-everything-0";

    fn now() -> u64 {
        NOW_MS
    }

    struct Fx {
        st: Store,
        cfg: BTreeMap<String, String>,
    }

    fn fx() -> Fx {
        let mut st = Store::new(Rc::new(MemStorage::default()), Rc::new(MemMetadata::default()));
        st.now = now;
        let cfg = BTreeMap::from([
            ("signing_keys".to_string(), format!("k:{}", base64url(&[3u8; 32]))),
            ("api_tokens".to_string(), format!("{A}:rw:a,{RO}:ro:*")),
        ]);
        Fx { st, cfg }
    }

    impl Fx {
        fn call(&self, method: &str, path: &str, token: &str, body: &[u8]) -> (u16, Value, Vec<u8>) {
            let auth = format!("Bearer {token}");
            let headers = vec![("authorization".to_string(), auth.into_bytes())];
            let mut b = body;
            let mut r = super::super::route(&self.st, &self.cfg, &Request { method, path_with_query: path, headers: &headers }, &mut b, NOW_MS);
            let mut out = Vec::new();
            loop {
                let c = r.body.next_chunk(1 << 16).unwrap();
                if c.is_empty() {
                    break;
                }
                out.extend_from_slice(&c);
            }
            let v = serde_json::from_slice(&out).unwrap_or(Value::Null);
            (r.status, v, out)
        }
        fn put(&self, bucket: &str, name: &str, data: &[u8]) -> Record {
            let o = PutOptions { bucket: Some(bucket.into()), name: Some(name.into()), content_type: Some("application/json".into()), ..Default::default() };
            self.st.put(data, &o).unwrap().record
        }
        fn state(&self) -> String {
            let page = self.st.list(&ListQuery { limit: 1000, ..Default::default() }).unwrap();
            page.records.iter().map(|r| format!("{}:{}:{}\n", r.id, r.bucket, r.name)).collect()
        }
    }

    #[test]
    fn a_token_does_what_its_scope_allows() {
        let f = fx();
        let (s, v, _) = f.call("PUT", "/v1/api/put?bucket=a&name=x.json", A, br#"{"n":1}"#);
        assert_eq!(s, 201, "{v}");
        let id = v["meta"]["id"].as_str().unwrap().to_string();
        let (s, v, _) = f.call("GET", &format!("/v1/api/get?ref={id}"), A, b"");
        assert_eq!((s, v["data"].clone()), (200, json!({"n": 1})));
        let (s, _, raw) = f.call("GET", &format!("/v1/api/get?ref={id}&mode=bytes&range=1-3"), A, b"");
        assert_eq!((s, raw.as_slice()), (200, &br#""n""#[..]));
        let (s, v, _) = f.call("GET", "/v1/api/list?bucket=a", A, b"");
        assert_eq!((s, v["records"].as_array().unwrap().len()), (200, 1));
        let (s, v, _) = f.call("GET", "/v1/api/summary?bucket=a", RO, b"");
        assert_eq!((s, v["count"].clone()), (200, json!(1)));
        let (s, v, _) = f.call("POST", "/v1/api/manifest/create?bucket=a&name=m&strategy=append", A, format!("[\"{id}\"]").as_bytes());
        assert_eq!(s, 201, "{v}");
        let (s, v, _) = f.call("GET", "/v1/api/manifest/parts?manifest=a%2Fm", A, b"");
        assert_eq!((s, v["parts"].as_array().unwrap().len()), (200, 1), "{v}");
        let (s, v, _) = f.call("POST", &format!("/v1/api/sign?ref={id}&ttl=5m"), A, b"");
        assert!(s == 200 && v["url"].as_str().unwrap().starts_with("/v1/artifacts/"), "{v}");
        let (s, v, _) = f.call("POST", &format!("/v1/api/sign?ref={id}&ttl=5m&carry=true"), A, b"");
        assert!(s == 200 && v["url"].as_str().unwrap().contains("&rec="), "{v}");
        assert_eq!(f.call("POST", &format!("/v1/api/sign?ref={id}&carry=yes"), A, b"").0, 400);
        let (s, v, _) = f.call("POST", "/v1/api/sign-upload?bucket=a&name=up.bin&max_bytes=10", A, b"");
        assert!(s == 200 && v["url"].as_str().unwrap().starts_with("/v1/uploads?"), "{v}");
        let (s, _, _) = f.call("DELETE", &format!("/v1/api/delete?ref={id}"), A, b"");
        assert_eq!(s, 200);
        assert_eq!(f.call("GET", &format!("/v1/api/head?ref={id}"), A, b"").0, 404);
    }

    #[test]
    fn no_token_or_a_wrong_one_is_401_and_a_read_only_token_cannot_write() {
        let f = fx();
        for t in ["", "nope", "token-for-bucket-a-onl", "token-for-bucket-a-only2"] {
            assert_eq!(f.call("GET", "/v1/api/list?bucket=a", t, b"").0, 401, "{t:?}");
        }
        assert_eq!(f.call("PUT", "/v1/api/put?bucket=a&name=x", RO, b"x").0, 403);
        assert_eq!(f.call("GET", "/v1/api/put?bucket=a&name=x", A, b"").0, 405);
        assert_eq!(f.call("GET", "/v1/api/nothing", A, b"").0, 404);
        assert_eq!(f.call("GET", "/v1/api/list?bucket=a&bucket=b", A, b"").0, 400, "a parameter twice");
        assert_eq!(f.state(), "");
        let off = Fx { st: f.st.clone_with_now(now), cfg: BTreeMap::new() };
        assert_eq!(off.call("GET", "/v1/api/list?bucket=a", A, b"").0, 404, "no api_tokens: no API");
    }

    #[test]
    fn a_token_scoped_to_a_cannot_read_list_sign_or_write_b() {
        let f = fx();
        let b = f.put("b", "secret.json", br#"{"secret":true}"#);
        let a = f.put("a", "mine.json", br#"{"mine":true}"#);
        let m = f.st.manifest_create(&ManifestOptions { put: PutOptions { bucket: Some("a".into()), name: Some("mixed".into()), ..Default::default() }, ..Default::default() }, &[a.id.clone(), b.id.clone()]).unwrap().record;
        let before = f.state();
        let rr = crate::result_ref::to_json(&b);
        let rr_wrong = rr.replace(&b.sha256, &"0".repeat(64));
        let refs = [
            b.id.clone(),
            "b/secret.json".into(),
            b.logical_ref.clone(),
            rr.clone(),
            rr_wrong,
            b.logical_ref.replace("/b/", "/a/"),
            "a/../b/secret.json".to_string(),
        ];
        let mut attempts: Vec<(String, String, Vec<u8>)> = Vec::new();
        for r in &refs {
            let e = percent_encode(r);
            attempts.push(("GET".into(), format!("/v1/api/head?ref={e}"), vec![]));
            attempts.push(("GET".into(), format!("/v1/api/get?ref={e}"), vec![]));
            attempts.push(("GET".into(), format!("/v1/api/get?ref={e}&mode=bytes"), vec![]));
            attempts.push(("DELETE".into(), format!("/v1/api/delete?ref={e}"), vec![]));
            attempts.push(("POST".into(), format!("/v1/api/sign?ref={e}"), vec![]));
            attempts.push(("POST".into(), format!("/v1/api/sign?ref={e}&carry=true"), vec![]));
            attempts.push(("POST".into(), format!("/v1/api/manifest/add?manifest=a%2Fmixed&part={e}"), vec![]));
            attempts.push(("POST".into(), "/v1/api/manifest/create?bucket=a&strategy=append".into(), format!("[{}]", json!(r)).into_bytes()));
        }
        for (m_, p) in [
            ("GET", "/v1/api/list?bucket=b"),
            ("GET", "/v1/api/summary?bucket=b"),
            ("PUT", "/v1/api/put?bucket=b&name=new"),
            ("POST", "/v1/api/sign-upload?bucket=b&name=new"),
            ("POST", "/v1/api/manifest/create?bucket=b&strategy=append"),
            ("GET", "/v1/api/manifest/parts?manifest=a%2Fmixed"),
            ("GET", "/v1/api/get?ref=a%2Fmixed"),
        ] {
            attempts.push((m_.into(), p.into(), b"[]".to_vec()));
        }
        assert!(attempts.len() >= 50);
        for (method, path, body) in &attempts {
            let (s, v, raw) = f.call(method, path, A, body);
            assert!(matches!(s, 400 | 403 | 404), "{method} {path}: {s} {v}");
            // The answer holds nothing of b's record or body beyond what the request named.
            let text = String::from_utf8_lossy(&raw);
            assert!(!text.contains("\"secret\":true") && !text.contains("created_at") && !text.contains("/v1/"), "{method} {path} leaked: {text}");
            let asked = format!("{path} {}", String::from_utf8_lossy(body));
            if !asked.contains(&b.id) && !asked.contains(&percent_encode(&rr)) && !asked.contains(&json!(rr).to_string()) {
                assert!(!text.contains(&b.id), "{method} {path} named b's id: {text}");
            }
        }
        assert_eq!(f.state(), before, "a refused call changed the store");
        let _ = m;
    }
}
