//! HTTP semantics of the edge handler, independent of `wasi:http` so they unit-test natively:
//! a request (method, path with query, headers) becomes a [`Response`] with a status, headers
//! and a [`Body`] that is pulled in bounded chunks, never built whole.
//!
//! `GET`/`HEAD /v1/artifacts/<id>?exp=…&kid=…&sig=…[&range=a-b]`:
//! - the signature is checked first (see [`crate::sign`]); anything wrong with it is 403 and
//!   nothing about the artifact (not even whether it exists) is revealed;
//! - unknown artifact 404, expired artifact 410, other methods 405, a malformed path 400;
//! - `If-None-Match` → 304, or without it `If-Modified-Since` (a valid HTTP-date not before
//!   `Last-Modified`) → 304 (RFC 9110 §13.2.2 order);
//! - on `GET`, one `Range: bytes=a-b | a- | -n` → 206 with `Content-Range`, an unsatisfiable
//!   one → 416 with `Content-Range: bytes */size`; several ranges, other units or bad syntax are
//!   ignored (RFC 9110 allows it) and the whole body is sent; `If-Range` with a different ETag
//!   also sends the whole body; `HEAD` ignores `Range` and describes the whole body (200);
//! - a URL signed for a range serves only bytes inside it: a `GET` without `Range` gets the
//!   signed range (206), a `Range` reaching outside it is 403;
//! - a gzip-stored artifact is sent as stored with `Content-Encoding: gzip` when the request's
//!   `Accept-Encoding` lists `gzip` (or `*`) with q > 0 and no range is involved; otherwise it is
//!   decompressed. The stored stream is still verified (it is decoded alongside and the SHA-256
//!   checked before its last chunk goes out).
//!
//! `PUT /v1/uploads?grant=…&sig=…` stores the request body (see [`upload`]), `/v1/api/…` is the
//! token API (see [`api`]); [`route`] sends each request to the right handler.
//!
//! Errors are small JSON bodies: `{"error":{"status":403,"kind":"forbidden","message":"…"}}`.

use crate::codec::{self, BlobSource, Verifier};
use crate::encoding::decimal;
use crate::model::{ByteRange, Compression, Error, Record};
use crate::sign::{self, Config, Keys, PATH_PREFIX};
use crate::store::{Reader, Store};
use sha2::Digest;

pub mod api;
pub mod upload;
pub use upload::RequestBody;

/// Sends a request to its handler: signed uploads to [`upload::handle`], the token API to
/// [`api::handle`], everything else to [`handle`] (signed reads). `body` is read only by
/// uploads and API writes.
pub fn route(store: &Store, cfg: &dyn Config, req: &Request, body: &mut dyn RequestBody, now_ms: u64) -> Response {
    let path = req.path_with_query.split_once('?').map_or(req.path_with_query, |(p, _)| p);
    if path == sign::upload::UPLOAD_PATH {
        upload::handle(store, cfg, req, body, now_ms)
    } else if path.starts_with(api::API_PREFIX) {
        api::handle(store, cfg, req, body, now_ms)
    } else {
        handle(store, cfg, req, now_ms)
    }
}

/// A request as the handler sees it. Header names are matched case-insensitively.
pub struct Request<'a> {
    pub method: &'a str,
    /// Path and query, e.g. `/v1/artifacts/01…?exp=…`.
    pub path_with_query: &'a str,
    pub headers: &'a [(String, Vec<u8>)],
}

impl Request<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
            .map(str::trim)
    }
}

/// Decided response. `Content-Length` is among the headers of every status but 304.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Response {
    /// The value of header `name`, if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A response body, pulled chunk by chunk.
pub enum Body {
    /// No body (HEAD, 304).
    Empty,
    /// A small in-memory body (JSON errors).
    Bytes(Vec<u8>),
    /// Logical bytes from the engine's reader (verified on full reads).
    Logical(Box<Reader>),
    /// Stored (encoded) bytes, verified by decoding alongside.
    Stored(Box<StoredStream>),
}

impl Body {
    /// Next chunk of at most `max` bytes; empty at the end. An error mid-body means the bytes
    /// sent so far must be abandoned (the connection is cut without finishing the body).
    pub fn next_chunk(&mut self, max: usize) -> Result<Vec<u8>, Error> {
        match self {
            Body::Empty => Ok(Vec::new()),
            Body::Bytes(b) => Ok(std::mem::take(b)),
            Body::Logical(r) => r.read(max),
            Body::Stored(s) => s.next_chunk(max),
        }
    }
}

/// The stored bytes of a compressed artifact, checked against the record as they pass.
pub struct StoredStream {
    src: BlobSource,
    verifier: Option<Verifier>,
    rec: Record,
}

impl StoredStream {
    fn next_chunk(&mut self, max: usize) -> Result<Vec<u8>, Error> {
        let Some(chunk) = self.src.next_chunk(max.max(1) as u64)? else {
            return Ok(Vec::new());
        };
        let integrity = |m: String| Error::Integrity(format!("artifact {}: {m}", self.rec.id));
        let v = self.verifier.as_mut().ok_or_else(|| integrity("read past the end".into()))?;
        v.write_all(&chunk).map_err(|e| integrity(e.to_string()))?;
        if self.src.is_done() {
            let t = self.verifier.take().expect("checked").finish().map_err(|e| integrity(e.to_string()))?;
            let got = crate::encoding::hex(&t.hasher.finalize());
            if got != self.rec.sha256 || t.count != self.rec.bytes {
                return Err(integrity(format!(
                    "stored blob decodes to {} bytes with sha256 {got}, recorded {} bytes with {}",
                    t.count, self.rec.bytes, self.rec.sha256
                )));
            }
        }
        Ok(chunk)
    }
}

fn json_escape(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// A JSON error response.
pub fn error_response(status: u16, kind: &str, message: &str) -> Response {
    json_response(
        status,
        format!("{{\"error\":{{\"status\":{status},\"kind\":{},\"message\":{}}}}}\n", json_escape(kind), json_escape(message)),
    )
}

/// A JSON answer from memory (errors, upload results, the token API).
pub fn json_response(status: u16, json: String) -> Response {
    Response {
        status,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("content-length".into(), json.len().to_string()),
            ("cache-control".into(), "no-store".into()),
            ("x-content-type-options".into(), "nosniff".into()),
        ],
        body: Body::Bytes(json.into_bytes()),
    }
}

/// The error response for `e` (its status and JSON body).
pub(crate) fn from_error(e: &Error) -> Response {
    let status = match e {
        Error::Forbidden(_) | Error::Expired(_) => 403,
        Error::NotFound(_) | Error::InvalidRef(_) => 404,
        Error::InvalidArgument(_) => 400,
        Error::RangeNotSatisfiable(_) => 416,
        Error::TooLarge { .. } => 413,
        Error::Conflict(_) => 409,
        _ => 500,
    };
    error_response(status, e.kind(), &e.to_string())
}

/// Whether `Accept-Encoding` explicitly allows gzip (`gzip` or `*` with q > 0, and gzip not
/// refused with q=0). An absent header means identity: that is what curl and most libraries
/// without decompression expect.
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    let Some(h) = accept_encoding else { return false };
    let mut star = None;
    for item in h.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match coding.as_str() {
            "gzip" | "x-gzip" => return q > 0.0,
            "*" => star = Some(q > 0.0),
            _ => {}
        }
    }
    star.unwrap_or(false)
}

/// The single byte range of a `Range` header, or `None` when the header must be ignored.
/// The grammar is RFC 9110 §14.1.2: `bytes=` (unit case-insensitive, no space around `=`), then
/// one range spec of digits (`a-b`, `a-`, `-n`); empty list elements and whitespace around
/// commas are allowed, as for any list. Several ranges are ignored (the whole body is sent,
/// which RFC 9110 §14.2 allows), as is any other unit or any syntax error.
pub fn parse_range_header(h: &str) -> Option<ByteRange> {
    let h = h.trim();
    let (unit, spec) = h.split_once('=')?;
    if !unit.eq_ignore_ascii_case("bytes") {
        return None;
    }
    let mut specs = spec.split(',').map(|e| e.trim_matches([' ', '\t'])).filter(|e| !e.is_empty());
    let one = specs.next()?;
    if specs.next().is_some() {
        return None;
    }
    codec::parse_range(one).ok()
}

/// Whether `If-Modified-Since` says the client's copy is current (RFC 9110 §13.1.3): the
/// header is a valid HTTP-date and the last modification (to the second) is not after it.
fn not_modified_since(if_modified_since: &str, updated_at_ms: u64) -> bool {
    crate::time::parse_http_date(if_modified_since).is_some_and(|since| updated_at_ms / 1000 <= since)
}

fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let want = bare(etag);
    if_none_match.split(',').any(|t| t.trim() == "*" || bare(t) == want)
}

/// Handles one request against `store` with keys from `cfg` at `now_ms`.
pub fn handle(store: &Store, cfg: &dyn Config, req: &Request, now_ms: u64) -> Response {
    let head = match req.method {
        "GET" => false,
        "HEAD" => true,
        other => {
            let mut r = error_response(405, "method-not-allowed", &format!("method {other} is not allowed; use GET or HEAD"));
            r.headers.push(("allow".into(), "GET, HEAD".into()));
            return r;
        }
    };
    let (path, query) = req.path_with_query.split_once('?').unwrap_or((req.path_with_query, ""));
    let Some(id) = path.strip_prefix(PATH_PREFIX) else {
        return error_response(404, "not-found", &format!("no route for {path}; signed reads are under {PATH_PREFIX}<id>"));
    };
    if !crate::ids::is_valid(id) {
        return error_response(400, "invalid-ref", "malformed artifact id in the path");
    }
    let keys = match Keys::for_verifying(cfg) {
        Ok(k) => k,
        Err(e) => return error_response(500, "configuration", &format!("the server cannot verify signatures: {e}")),
    };
    let grant = match sign::verify(&keys, req.method, id, query, now_ms / 1000) {
        Ok(g) => g,
        Err(e) => return from_error(&e),
    };
    // A URL that carries the record is served without a metadata lookup (nor a `touch`).
    let carried = grant.carried.is_some();
    let rec = match &grant.carried {
        Some(c) => store.carried_live(id, c),
        None => store.resolve_live(id),
    };
    let rec = match rec {
        Ok(r) => r,
        Err(Error::Expired(m)) => return error_response(410, "expired", &m),
        Err(e) => return from_error(&e),
    };
    let touch = |rec: &Record| {
        if !carried {
            let _ = store.metadata.touch(&rec.id, now_ms);
        }
    };
    let size = rec.bytes;
    let gzip_stored = rec.compression == Compression::Gzip;
    let base_etag = ["\"", rec.sha256.as_str(), "\""].concat();

    // Range: the request's (unless If-Range says the representation changed), else the grant's.
    // Range is defined for GET only (RFC 9110 §14.2): a HEAD describes the whole body.
    let mut requested = if head { None } else { req.header("range").and_then(parse_range_header) };
    if let Some(ir) = req.header("if-range") {
        if ir.trim() != base_etag {
            requested = None;
        }
    }
    let effective = if head { None } else { requested.or(grant.range) };
    let gzip = gzip_stored && effective.is_none() && accepts_gzip(req.header("accept-encoding"));
    let etag = if gzip { format!("\"{}-gzip\"", rec.sha256) } else { base_etag };

    let max_age = grant.exp.saturating_sub(now_ms / 1000);
    let mut headers: Vec<(String, String)> = vec![
        ("etag".into(), etag.clone()),
        ("last-modified".into(), crate::time::format_http_date(rec.updated_at)),
        ("cache-control".into(), ["private, max-age=", decimal(max_age, &mut [0; 20])].concat()),
        ("accept-ranges".into(), "bytes".into()),
        ("x-content-type-options".into(), "nosniff".into()),
    ];
    if gzip_stored {
        headers.push(("vary".into(), "Accept-Encoding".into()));
    }
    // RFC 9110 §13.2.2: If-None-Match decides when present; only without it is
    // If-Modified-Since evaluated.
    let not_modified = match req.header("if-none-match") {
        Some(inm) => etag_matches(inm, &etag),
        None => req.header("if-modified-since").is_some_and(|ims| not_modified_since(ims, rec.updated_at)),
    };
    if not_modified {
        return Response { status: 304, headers, body: Body::Empty };
    }

    let (status, offset, len) = match effective {
        None => (200, 0, size),
        Some(r) => {
            let (o, l) = match codec::resolve_range(r, size) {
                Ok(x) => x,
                Err(_) => {
                    let mut resp = error_response(416, "range-not-satisfiable", &format!("range not satisfiable for a body of {size} bytes"));
                    resp.headers.push(("content-range".into(), format!("bytes */{size}")));
                    return resp;
                }
            };
            if let (Some(_), Some(g)) = (requested, grant.range) {
                let inside = codec::resolve_range(g, size).is_ok_and(|(go, gl)| o >= go && o + l <= go + gl);
                if !inside {
                    return error_response(403, "forbidden", "the requested range is outside the range this URL is signed for");
                }
            }
            (206, o, l)
        }
    };
    headers.push(("content-type".into(), rec.content_type.clone()));
    if status == 206 {
        headers.push(("content-range".into(), format!("bytes {offset}-{}/{size}", offset + len - 1)));
    }
    // The stored gzip bytes go out as they are, from a chunk-verified source (its size is the
    // object's own: a shared blob may be encoded differently from this record's put).
    let stored = if gzip {
        match store.stored_source(&rec) {
            Ok(s) => Some(s),
            Err(e) => return from_error(&e),
        }
    } else {
        None
    };
    match &stored {
        Some((_, n)) => {
            headers.push(("content-encoding".into(), "gzip".into()));
            headers.push(("content-length".into(), n.to_string()));
        }
        None => headers.push(("content-length".into(), decimal(len, &mut [0; 20]).into())),
    }
    if head || len == 0 {
        touch(&rec);
        return Response { status, headers, body: Body::Empty };
    }
    let body = if let Some((src, _)) = stored {
        touch(&rec);
        // Capped at the recorded size: a corrupt blob cannot make the server inflate more.
        let verifier = match Verifier::new(Compression::Gzip, Some(rec.bytes)) {
            Ok(v) => v,
            Err(e) => return from_error(&e),
        };
        Body::Stored(Box::new(StoredStream { src, verifier: Some(verifier), rec }))
    } else {
        let range = (status == 206).then_some(ByteRange::Bounded { start: offset, end: offset + len - 1 });
        // The record looked up above, not a second lookup (one metadata call per read; and the
        // headers already sent can never describe another version than the bytes).
        touch(&rec);
        match Reader::open(store, rec, range, None) {
            Ok(r) => Body::Logical(Box::new(r)),
            Err(e) => return from_error(&e),
        }
    };
    Response { status, headers, body }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::mem::{MemMetadata, MemStorage};
    use crate::model::PutOptions;
    use crate::encoding::base64url;
    use crate::sign::SignOptions;
    use std::collections::BTreeMap;
    use std::io::Write;
    use std::rc::Rc;

    const NOW: u64 = 1_780_000_000_000;

    struct Fx {
        st: Store,
        mem: MemStorage,
        cfg: BTreeMap<String, String>,
    }

    fn now() -> u64 {
        NOW
    }

    fn fx() -> Fx {
        let mem = MemStorage::default();
        let mut st = Store::new(Rc::new(mem.clone()), Rc::new(MemMetadata::default()));
        st.now = now;
        let mut cfg = BTreeMap::new();
        cfg.insert("signing_keys".into(), format!("old:{},new:{}", base64url(&[1; 32]), base64url(&[2; 32])));
        cfg.insert("active_kid".into(), "new".into());
        Fx { st, mem, cfg }
    }

    fn body() -> Vec<u8> {
        (0..100_000u32).map(|i| (i * 31 % 253) as u8).collect()
    }

    impl Fx {
        fn put(&self, data: &[u8], c: Compression) -> Record {
            let o = PutOptions { compression: Some(c), content_type: Some("text/csv".into()), ..Default::default() };
            self.st.put(data, &o).unwrap().record
        }
        fn url(&self, id: &str, range: Option<ByteRange>) -> String {
            self.st.sign(&self.cfg, id, 600, &SignOptions { range, ..Default::default() }).unwrap()
        }
        fn req(&self, method: &str, url: &str, headers: &[(&str, &str)]) -> (Response, Vec<u8>) {
            let h: Vec<(String, Vec<u8>)> = headers.iter().map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())).collect();
            let mut r = handle(&self.st, &self.cfg, &Request { method, path_with_query: url, headers: &h }, NOW + 1000);
            let mut out = Vec::new();
            loop {
                let c = r.body.next_chunk(7000).unwrap();
                if c.is_empty() {
                    break;
                }
                out.extend_from_slice(&c);
            }
            if let Some(n) = r.header("content-length") {
                if method == "GET" && r.status != 304 {
                    assert_eq!(n.parse::<usize>().unwrap(), out.len(), "content-length");
                }
            }
            (r, out)
        }
    }

    #[test]
    fn full_get_and_head() {
        let f = fx();
        let data = body();
        let rec = f.put(&data, Compression::None);
        let url = f.url(&rec.id, None);
        let (r, b) = f.req("GET", &url, &[]);
        assert_eq!(r.status, 200);
        assert_eq!(b, data);
        assert_eq!(r.header("content-type"), Some("text/csv"));
        assert_eq!(r.header("etag").unwrap(), format!("\"{}\"", rec.sha256));
        assert_eq!(r.header("cache-control"), Some("private, max-age=599"));
        assert_eq!(r.header("accept-ranges"), Some("bytes"));
        assert!(r.header("last-modified").unwrap().ends_with(" GMT"));
        let (h, hb) = f.req("HEAD", &url, &[]);
        assert_eq!((h.status, hb.len()), (200, 0));
        assert_eq!(h.header("content-length"), Some("100000"));
    }

    #[test]
    fn ranges_416_and_304() {
        let f = fx();
        let data = body();
        for c in [Compression::None, Compression::Gzip, Compression::Deflate] {
            let rec = f.put(&data, c);
            let url = f.url(&rec.id, None);
            for (h, lo, hi) in [("bytes=10-19", 10, 19), ("bytes=99990-", 99_990, 99_999), ("bytes=-5", 99_995, 99_999), ("bytes=99999-200000", 99_999, 99_999)] {
                let (r, b) = f.req("GET", &url, &[("Range", h)]);
                assert_eq!(r.status, 206, "{h}");
                assert_eq!(b, &data[lo..=hi], "{h} {c:?}");
                assert_eq!(r.header("content-range").unwrap(), format!("bytes {lo}-{hi}/100000"));
                assert!(r.header("content-encoding").is_none());
            }
            let (r, b) = f.req("GET", &url, &[("Range", "bytes=100000-")]);
            assert_eq!(r.status, 416);
            assert_eq!(r.header("content-range"), Some("bytes */100000"));
            assert!(String::from_utf8(b).unwrap().contains("range-not-satisfiable"));
            // Ignored forms: several ranges, other units, garbage.
            for h in ["bytes=0-1,5-6", "items=0-1", "bytes=x"] {
                assert_eq!(f.req("GET", &url, &[("Range", h)]).0.status, 200, "{h}");
            }
            let etag = format!("\"{}\"", rec.sha256);
            let (r, b) = f.req("GET", &url, &[("If-None-Match", &etag)]);
            assert_eq!((r.status, b.len()), (304, 0));
            assert_eq!(r.header("etag"), Some(etag.as_str()));
            assert_eq!(f.req("GET", &url, &[("If-None-Match", "\"other\", W/".to_string().as_str())]).0.status, 200);
            assert_eq!(f.req("GET", &url, &[("If-None-Match", "*")]).0.status, 304);
            // If-Range with another ETag: the whole body.
            assert_eq!(f.req("GET", &url, &[("Range", "bytes=0-1"), ("If-Range", "\"x\"")]).0.status, 200);
            assert_eq!(f.req("GET", &url, &[("Range", "bytes=0-1"), ("If-Range", &etag)]).0.status, 206);
        }
    }

    #[test]
    fn gzip_negotiation() {
        let f = fx();
        let data = body();
        let rec = f.put(&data, Compression::Gzip);
        let url = f.url(&rec.id, None);
        let (r, b) = f.req("GET", &url, &[("Accept-Encoding", "br, gzip;q=0.8")]);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-encoding"), Some("gzip"));
        assert_eq!(r.header("vary"), Some("Accept-Encoding"));
        assert_eq!(b.len() as u64, rec.stored_bytes);
        let mut d = flate2::write::GzDecoder::new(Vec::new());
        d.write_all(&b).unwrap();
        assert_eq!(d.finish().unwrap(), data);
        assert_eq!(r.header("etag").unwrap(), format!("\"{}-gzip\"", rec.sha256));
        for ae in [None, Some("identity"), Some("gzip;q=0"), Some("*;q=0"), Some("br")] {
            let h: Vec<(&str, &str)> = ae.map(|v| ("Accept-Encoding", v)).into_iter().collect();
            let (r, b) = f.req("GET", &url, &h);
            assert!(r.header("content-encoding").is_none(), "{ae:?}");
            assert_eq!(b, data, "{ae:?}");
        }
        assert!(accepts_gzip(Some("*")));
        assert!(accepts_gzip(Some("deflate, GZIP")));
    }

    #[test]
    fn stored_gzip_streams_whole_in_small_pulls() {
        let f = fx();
        // Incompressible, so the stored object spans several verified chunks.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let data: Vec<u8> = (0..700_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let rec = f.put(&data, Compression::Gzip);
        assert!(rec.stored_bytes > 2 * crate::chunks::CHUNK);
        let url = f.url(&rec.id, None);
        let h: Vec<(String, Vec<u8>)> = vec![("accept-encoding".into(), b"gzip".to_vec())];
        let mut r = handle(&f.st, &f.cfg, &Request { method: "GET", path_with_query: &url, headers: &h }, NOW);
        assert_eq!(r.status, 200);
        let mut gz = Vec::new();
        loop {
            let c = r.body.next_chunk(4096).unwrap();
            if c.is_empty() {
                break;
            }
            gz.extend_from_slice(&c);
        }
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut out).unwrap();
        assert!(out == data, "the stored gzip bytes, whole");
    }

    #[test]
    fn corrupt_stored_gzip_fails_before_its_last_chunk() {
        let f = fx();
        let data = body();
        let rec = f.put(&data, Compression::Gzip);
        let url = f.url(&rec.id, None);
        // Replace the blob with a valid gzip stream of other bytes of the same stored length.
        let other: Vec<u8> = data.iter().map(|b| b ^ 1).collect();
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&other).unwrap();
        let gz = e.finish().unwrap();
        f.mem.objects.lock().unwrap().insert(rec.location.uri.clone(), std::sync::Arc::new(gz.clone()));
        let h: Vec<(String, Vec<u8>)> = vec![("accept-encoding".into(), b"gzip".to_vec())];
        let mut r = handle(&f.st, &f.cfg, &Request { method: "GET", path_with_query: &url, headers: &h }, NOW);
        // Refused before the headers (the object no longer matches its chunk index), or cut
        // before any byte of a failing chunk leaves.
        if r.status != 200 {
            assert_eq!(r.status, 500, "an integrity failure is a server error");
            let body = r.body.next_chunk(1 << 20).unwrap();
            assert!(String::from_utf8_lossy(&body).contains("integrity"));
            return;
        }
        let mut sent = 0;
        let err = loop {
            match r.body.next_chunk(4096) {
                Ok(c) if c.is_empty() => panic!("corrupt body fully sent"),
                Ok(c) => sent += c.len(),
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), "integrity");
        assert_eq!(sent, 0, "no byte of a failing chunk leaves");
    }

    #[test]
    fn signed_ranges() {
        let f = fx();
        let data = body();
        let rec = f.put(&data, Compression::None);
        let url = f.url(&rec.id, Some(ByteRange::Bounded { start: 100, end: 199 }));
        let (r, b) = f.req("GET", &url, &[]);
        assert_eq!(r.status, 206);
        assert_eq!(b, &data[100..200]);
        let (r, b) = f.req("GET", &url, &[("Range", "bytes=150-199")]);
        assert_eq!((r.status, b.as_slice()), (206, &data[150..200]));
        for h in ["bytes=0-10", "bytes=150-200", "bytes=-5", "bytes=100-"] {
            let (r, b) = f.req("GET", &url, &[("Range", h)]);
            assert_eq!(r.status, 403, "{h}");
            assert!(!String::from_utf8_lossy(&b).contains("\"status\":206"));
        }
    }

    #[test]
    fn errors() {
        let f = fx();
        let rec = f.put(b"a,b\n", Compression::None);
        let url = f.url(&rec.id, None);
        assert_eq!(f.req("POST", &url, &[]).0.status, 405);
        assert_eq!(f.req("DELETE", &url, &[]).0.header("allow"), Some("GET, HEAD"));
        assert_eq!(f.req("GET", "/v1/other", &[]).0.status, 404);
        assert_eq!(f.req("GET", "/v1/artifacts/nope?exp=1", &[]).0.status, 400);
        let (r, b) = f.req("GET", &url.replace("sig=", "sig=A"), &[]);
        assert_eq!(r.status, 403);
        assert_eq!(r.header("content-type"), Some("application/json"));
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["error"]["kind"], "forbidden");
        assert_eq!(f.req("GET", url.split('?').next().unwrap(), &[]).0.status, 403);
        // A valid signature for an id that names nothing: 404 (after the signature check).
        let ghost = "01M84EG4VHHF84MF34ZRCQAC3P";
        let keys = Keys::from_config(&f.cfg).unwrap();
        let gurl = sign::sign_path(&keys, ghost, NOW / 1000, 600, &SignOptions::default()).unwrap();
        assert_eq!(f.req("GET", &gurl, &[]).0.status, 404);
        // Without keys the server cannot verify anything.
        let h: Vec<(String, Vec<u8>)> = vec![];
        let r = handle(&f.st, &BTreeMap::new(), &Request { method: "GET", path_with_query: &url, headers: &h }, NOW);
        assert_eq!(r.status, 500);
        // Expired URL.
        let r = handle(&f.st, &f.cfg, &Request { method: "GET", path_with_query: &url, headers: &h }, NOW + 601_000);
        assert_eq!(r.status, 403);
        assert!(matches!(&r.body, Body::Bytes(b) if String::from_utf8_lossy(b).contains("expired")));
    }

    #[test]
    fn if_modified_since() {
        let f = fx();
        let rec = f.put(&body(), Compression::None);
        let url = f.url(&rec.id, None);
        let lm = crate::time::format_http_date(rec.updated_at);
        let later = crate::time::format_http_date(rec.updated_at + 3_600_000);
        let earlier = crate::time::format_http_date(rec.updated_at.saturating_sub(1000));
        let (r, b) = f.req("GET", &url, &[("If-Modified-Since", &lm)]);
        assert_eq!((r.status, b.len()), (304, 0));
        assert_eq!(r.header("last-modified"), Some(lm.as_str()));
        assert_eq!(f.req("HEAD", &url, &[("If-Modified-Since", &later)]).0.status, 304);
        assert_eq!(f.req("GET", &url, &[("If-Modified-Since", &earlier)]).0.status, 200);
        // Not an HTTP-date: ignored.
        for bad in ["yesterday", "Sat, 31 Feb 2025 00:00:00 GMT", &format!("{lm}, {lm}")] {
            assert_eq!(f.req("GET", &url, &[("If-Modified-Since", bad)]).0.status, 200, "{bad}");
        }
        // If-None-Match takes precedence, both ways.
        let etag = format!("\"{}\"", rec.sha256);
        assert_eq!(f.req("GET", &url, &[("If-None-Match", "\"other\""), ("If-Modified-Since", &later)]).0.status, 200);
        assert_eq!(f.req("GET", &url, &[("If-None-Match", &etag), ("If-Modified-Since", &earlier)]).0.status, 304);
        // A condition that holds wins over Range; one that fails lets Range through.
        assert_eq!(f.req("GET", &url, &[("Range", "bytes=0-9"), ("If-Modified-Since", &lm)]).0.status, 304);
        assert_eq!(f.req("GET", &url, &[("Range", "bytes=0-9"), ("If-Modified-Since", &earlier)]).0.status, 206);
    }

    #[test]
    fn head_ignores_range() {
        let f = fx();
        let data = body();
        let rec = f.put(&data, Compression::Gzip);
        for url in [f.url(&rec.id, None), f.url(&rec.id, Some(ByteRange::Bounded { start: 0, end: 9 }))] {
            for range in ["bytes=0-9", "bytes=-1", "bytes=100000-"] {
                let (r, b) = f.req("HEAD", &url, &[("Range", range)]);
                assert_eq!((r.status, b.len()), (200, 0), "{range}");
                assert_eq!(r.header("content-length"), Some("100000"));
                assert!(r.header("content-range").is_none());
            }
        }
    }

    #[test]
    fn range_header_grammar() {
        let b = |start, end| Some(ByteRange::Bounded { start, end });
        assert_eq!(parse_range_header("bytes=0-9"), b(0, 9));
        assert_eq!(parse_range_header("BYTES=0-9"), b(0, 9));
        assert_eq!(parse_range_header(" bytes=0-9 "), b(0, 9));
        assert_eq!(parse_range_header("bytes=0-9, "), b(0, 9));
        assert_eq!(parse_range_header("bytes=, 0-9"), b(0, 9));
        assert_eq!(parse_range_header("bytes=5-"), Some(ByteRange::From(5)));
        assert_eq!(parse_range_header("bytes=-5"), Some(ByteRange::Suffix(5)));
        // Too large for u64 is still a position, past any body (416 later).
        assert_eq!(parse_range_header("bytes=99999999999999999999999-"), Some(ByteRange::From(u64::MAX)));
        for ignored in [
            "bytes=+0-9", "bytes=0-+9", "bytes= 0 - 9", "bytes =0-9", "bytes= =0-9", "bytes=0-9,10-19", "bytes=0x1-2",
            "bytes=-", "bytes=", "items=0-9", "bytes=9-0", "bytes=0-9-", "bytes=\u{661}-2",
        ] {
            assert_eq!(parse_range_header(ignored), None, "{ignored:?}");
        }
    }

    // ---------- URLs that carry their record ----------

    impl Fx {
        fn carried(&self, id: &str) -> String {
            self.st.sign_carried(&self.cfg, id, 600, &SignOptions::default()).unwrap()
        }
        /// The same request against a store with the same storage and an empty metadata store.
        fn req_without_metadata(&self, url: &str, headers: &[(&str, &str)]) -> (Response, Vec<u8>) {
            let bare = Fx { st: Store { metadata: Rc::new(MemMetadata::default()), ..self.st.clone() }, mem: self.mem.clone(), cfg: self.cfg.clone() };
            bare.req("GET", url, headers)
        }
        fn named(&self, data: &[u8], name: &str, overwrite: bool) -> Record {
            let o = PutOptions {
                name: Some(name.into()),
                content_type: Some("text/csv".into()),
                if_exists: overwrite.then_some(crate::model::IfExists::Overwrite),
                ..Default::default()
            };
            self.st.put(data, &o).unwrap().record
        }
    }

    /// A carried URL is served from storage alone: the same bytes, ranges and gzip as a read by
    /// lookup, with no record in the metadata store at all.
    #[test]
    fn carried_reads_look_nothing_up() {
        let f = fx();
        let data = body();
        for c in [Compression::None, Compression::Gzip] {
            let rec = f.put(&data, c);
            let url = f.carried(&rec.id);
            assert!(url.contains("&rec="), "{url}");
            let (r, b) = f.req_without_metadata(&url, &[]);
            assert_eq!((r.status, b == data), (200, true), "{c:?}");
            assert_eq!(r.header("content-type"), Some("text/csv"));
            assert_eq!(r.header("etag").unwrap(), format!("\"{}\"", rec.sha256));
            let (r, b) = f.req_without_metadata(&url, &[("Range", "bytes=10-19")]);
            assert_eq!((r.status, b.as_slice()), (206, &data[10..20]));
            if c == Compression::Gzip {
                let (r, _) = f.req_without_metadata(&url, &[("Accept-Encoding", "gzip")]);
                assert_eq!(r.header("content-encoding"), Some("gzip"));
            }
        }
        // Manifests are read by lookup only.
        let part = f.put(b"p", Compression::None);
        let m = f.st.manifest_create(&Default::default(), std::slice::from_ref(&part.id)).unwrap().record;
        assert!(matches!(f.st.sign_carried(&f.cfg, &m.id, 600, &SignOptions::default()), Err(Error::InvalidArgument(_))));
    }

    /// Deleting or replacing an artifact stops its carried URLs, even while its content-addressed
    /// blob lives on for another artifact with the same bytes; the other artifact is untouched.
    #[test]
    fn a_deleted_or_replaced_version_is_refused_though_its_blob_lives_on() {
        let f = fx();
        let data = body();
        let a = f.named(&data, "a", false);
        let b = f.named(&data, "b", false);
        assert_eq!(a.location.uri, b.location.uri, "one blob for both");
        let (url_a, url_b) = (f.carried(&a.id), f.carried(&b.id));
        assert_eq!(f.req_without_metadata(&url_a, &[]).0.status, 200);
        f.st.delete(&a.id).unwrap();
        let (r, body_a) = f.req_without_metadata(&url_a, &[]);
        assert_eq!((r.status, body_a.len() < 1000), (404, true), "a deleted artifact is not served");
        assert_eq!(f.req_without_metadata(&url_b, &[]).1, data, "the other artifact still is");
        // Overwrite: the old version is refused, the new one is served; same bytes or not.
        for new in [b"v0".to_vec(), b"new content".to_vec()] {
            let before = f.named(b"v0", "c", true);
            let old_url = f.carried(&before.id);
            let after = f.named(&new, "c", true);
            assert_eq!(after.id, before.id);
            assert_eq!(f.req_without_metadata(&old_url, &[]).0.status, 404);
            assert_eq!(f.req_without_metadata(&f.carried(&after.id), &[]).1, new);
        }
        // A killed delete (tombstone written, record not yet deleted): nothing carried is served
        // for that version, and no new carried URL is minted for it.
        let d = f.named(b"d", "d", false);
        let url_d = f.carried(&d.id);
        f.st.revoke(&d).unwrap();
        assert_eq!(f.req_without_metadata(&url_d, &[]).0.status, 404);
        assert!(matches!(f.st.sign_carried(&f.cfg, &d.id, 600, &SignOptions::default()), Err(Error::Conflict(_))));
        assert_eq!(f.req("GET", &f.url(&d.id, None), &[]).0.status, 200, "a URL by lookup still reads it");
    }

    #[test]
    fn carried_expiry_tombstone_gc_and_reserved_paths() {
        let f = fx();
        let o = PutOptions { ttl: Some("5s".into()), ..Default::default() };
        let rec = f.st.put(b"short-lived", &o).unwrap().record;
        let url = f.carried(&rec.id);
        assert_eq!(f.req_without_metadata(&url, &[]).0.status, 200);
        let later = Fx { st: f.st.clone_with_now(|| NOW + 6000), mem: f.mem.clone(), cfg: f.cfg.clone() };
        assert_eq!(later.req_without_metadata(&url, &[]).0.status, 410, "past the carried expiry");
        // Tombstones outlive every URL that could name them, then gc removes them.
        let gone = f.named(b"gone", "gone", false);
        let url = f.carried(&gone.id);
        f.st.delete(&gone.id).unwrap();
        let tombstone = crate::sign::carried::revoked_uri(&gone.location.uri, &gone.id, gone.updated_at).unwrap();
        assert!(f.st.gc().unwrap().blobs.iter().all(|u| u != &tombstone));
        assert_eq!(f.req_without_metadata(&url, &[]).0.status, 404, "kept by gc while a URL may name it");
        fn much_later() -> u64 {
            NOW + crate::sign::carried::TOMBSTONE_KEEP_MS + 1
        }
        assert!(f.st.clone_with_now(much_later).gc().unwrap().blobs.contains(&tombstone));
        // Nobody else writes there: a store template into revoked/ is refused, nothing written.
        use crate::backend::Storage;
        let before = f.mem.list_objects("", None, 1000).unwrap().0;
        let o = PutOptions { store: Some(format!("mem://revoked/{}/{}", rec.id, rec.updated_at)), ..Default::default() };
        assert!(matches!(f.st.put(b"forged", &o), Err(Error::InvalidArgument(_))));
        assert_eq!(f.mem.list_objects("", None, 1000).unwrap().0, before);
    }
}
