//! `PUT /v1/uploads?grant=…&sig=…`: a signed upload (grants in [`crate::sign::upload`]).
//!
//! - the grant is checked first; anything wrong with it is 403 (expired ones too) and the body
//!   is not read;
//! - a `Content-Length` past the granted size is 413 before the body is read; without one, the
//!   size is enforced while streaming (413 as soon as it is passed);
//! - the body streams into the store's writer in chunks, never whole in memory;
//! - 201 with the ResultRef JSON (plus `"created": true`) when stored, 200 with the existing
//!   artifact's when the pair already existed (get-or-create);
//! - on any failure (a cut body, the size, a storage error) the writer is aborted: nothing is
//!   stored.

use super::{error_response, from_error, json_response, Request, Response};
use crate::model::{Error, PutOptions};
use crate::sign::upload::verify_upload;
use crate::sign::{Config, Keys};
use crate::store::Store;

/// Largest chunk read from the request body at a time.
const CHUNK: usize = 256 << 10;

/// A request body, pulled in chunks.
pub trait RequestBody {
    /// The next chunk of at most `max` bytes; empty at the end. `Err` (with a reason) when the
    /// client's body failed: cut, stalled, malformed.
    fn next_chunk(&mut self, max: usize) -> Result<Vec<u8>, String>;
}

/// No body (requests that carry none, and tests).
impl RequestBody for &[u8] {
    fn next_chunk(&mut self, max: usize) -> Result<Vec<u8>, String> {
        let n = max.min(self.len());
        let (head, rest) = self.split_at(n);
        *self = rest;
        Ok(head.to_vec())
    }
}

/// Handles `PUT /v1/uploads`.
pub fn handle(store: &Store, cfg: &dyn Config, req: &Request, body: &mut dyn RequestBody, now_ms: u64) -> Response {
    if req.method != "PUT" {
        let mut r = error_response(405, "method-not-allowed", &format!("method {} is not allowed here; upload with PUT", req.method));
        r.headers.push(("allow".into(), "PUT".into()));
        return r;
    }
    let query = req.path_with_query.split_once('?').map_or("", |(_, q)| q);
    let keys = match Keys::for_verifying(cfg) {
        Ok(k) => k,
        Err(e) => return error_response(500, "configuration", &format!("the server cannot verify signatures: {e}")),
    };
    let grant = match verify_upload(&keys, query, now_ms / 1000) {
        Ok(g) => g,
        Err(e) => return from_error(&e),
    };
    stream_put(store, &grant.put_options(), req, body)
}

/// Streams the request body into a put with `opts` (its `max_bytes` bounds the body): 201 with
/// the ResultRef plus `"created": true`, 200 with the existing artifact's when get-or-create
/// found the pair; on any failure the writer is aborted and nothing is stored.
pub(crate) fn stream_put(store: &Store, opts: &PutOptions, req: &Request, body: &mut dyn RequestBody) -> Response {
    if let (Some(len), Some(limit)) = (req.header("content-length").and_then(|v| v.parse::<u64>().ok()), opts.max_bytes) {
        if len > limit {
            return from_error(&Error::TooLarge { limit, needed: len });
        }
    }
    let mut w = match store.open_writer(opts) {
        Ok(w) => w,
        Err(e) => return from_error(&e),
    };
    loop {
        let chunk = match body.next_chunk(CHUNK) {
            Ok(c) => c,
            Err(why) => {
                w.abort();
                return error_response(400, "invalid-argument", &format!("the request body failed, nothing was stored: {why}"));
            }
        };
        if chunk.is_empty() {
            break;
        }
        if let Err(e) = w.write(&chunk) {
            w.abort();
            return from_error(&e);
        }
    }
    match w.finish() {
        Ok(p) => {
            json_response(if p.created { 201 } else { 200 }, with_created(&p))
        }
        Err(e) => from_error(&e),
    }
}

/// The ResultRef JSON with `"created"` added, as `artifact put` prints it.
pub(crate) fn with_created(p: &crate::model::PutResult) -> String {
    format!("{},\"created\":{}}}\n", p.result_ref.trim_end().trim_end_matches('}'), p.created)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::mem::{MemMetadata, MemStorage};
    use crate::backend::Storage;
    use crate::encoding::base64url;
    use crate::sign::upload::{sign_upload, UploadOptions};
    use std::collections::BTreeMap;
    use std::rc::Rc;

    const NOW_MS: u64 = 1_780_000_000_000;

    fn now() -> u64 {
        NOW_MS
    }

    /// A store over memory backends, and its storage (to see what was written).
    fn mem_store() -> (Store, MemStorage) {
        let mem = MemStorage::default();
        let mut st = Store::new(Rc::new(mem.clone()), Rc::new(MemMetadata::default()));
        st.now = now;
        (st, mem)
    }

    fn blobs(mem: &MemStorage) -> usize {
        mem.list_objects("", None, 1000).unwrap().0.iter().filter(|u| u.contains("blobs/")).count()
    }

    fn cfg() -> BTreeMap<String, String> {
        BTreeMap::from([("signing_keys".to_string(), format!("k:{}", base64url(&[5u8; 32])))])
    }

    fn url(max: u64) -> String {
        let keys = Keys::from_config(&cfg()).unwrap();
        let o = UploadOptions { content_type: Some("text/plain".into()), max_bytes: max, ..Default::default() };
        sign_upload(&keys, "up", "a.txt", NOW_MS / 1000, 60, &o).unwrap()
    }

    fn put(store: &Store, url: &str, body: &[u8], headers: &[(&str, &str)]) -> Response {
        let headers: Vec<(String, Vec<u8>)> = headers.iter().map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())).collect();
        let req = Request { method: "PUT", path_with_query: url, headers: &headers };
        let mut b = body;
        super::super::route(store, &cfg(), &req, &mut b, NOW_MS)
    }

    #[test]
    fn stores_once_then_gets_and_refuses_what_the_grant_does_not_allow() {
        let (store, mem) = mem_store();
        let u = url(10);
        assert_eq!(put(&store, &u, b"0123456789", &[]).status, 201);
        assert_eq!(store.find("up", "a.txt").unwrap().content_type, "text/plain");
        let stored = blobs(&mem);
        assert!(stored > 0);
        let again = put(&store, &u, b"other", &[]);
        assert_eq!(again.status, 200, "get-or-create");
        assert_eq!(blobs(&mem), stored, "the second body is not kept");
        let (fresh, mem) = mem_store();
        assert_eq!(put(&fresh, &u, b"0123456789a", &[]).status, 413, "past the size while streaming");
        assert_eq!(put(&fresh, &u, b"0", &[("content-length", "11")]).status, 413, "past the size by its length");
        assert_eq!(put(&fresh, &u.replace("sig=", "sig=A"), b"0", &[]).status, 403);
        assert_eq!(put(&fresh, "/v1/uploads", b"0", &[]).status, 403);
        assert!(fresh.list(&crate::model::ListQuery { limit: 100, ..Default::default() }).unwrap().records.is_empty(), "no record on failure");
        assert_eq!(blobs(&mem), 0, "no blob on failure");
        assert_eq!(put(&fresh, &u, b"", &[]).status, 201, "an empty body is a valid upload");
    }

    struct Failing(u32);
    impl RequestBody for Failing {
        fn next_chunk(&mut self, _: usize) -> Result<Vec<u8>, String> {
            if self.0 == 0 {
                return Err("the client went away".into());
            }
            self.0 -= 1;
            Ok(vec![7; 3])
        }
    }

    #[test]
    fn a_body_that_fails_midway_stores_nothing() {
        let (store, mem) = mem_store();
        let req = Request { method: "PUT", path_with_query: &url(100), headers: &[] };
        let r = handle(&store, &cfg(), &req, &mut Failing(2), NOW_MS);
        assert_eq!(r.status, 400);
        assert!(store.list(&crate::model::ListQuery { limit: 100, ..Default::default() }).unwrap().records.is_empty());
        assert_eq!(blobs(&mem), 0);
        let get = Request { method: "GET", path_with_query: &url(100), headers: &[] };
        assert_eq!(handle(&store, &cfg(), &get, &mut Failing(0), NOW_MS).status, 405);
    }
}
