//! `wasi:http/incoming-handler` glue of the `edge` world (cargo feature `edge`): converts the
//! request, lets [`crate::http::handle`] decide, and streams the body to the outgoing-body
//! stream in chunks, waiting on the stream's pollable whenever `check-write` grants nothing.
//! A body that fails mid-way (e.g. an integrity error at the end of a full read) is dropped
//! without `finish`, so the host aborts the response instead of completing it. Bytes stored as
//! they are served go from storage to the body inside the host when it can stream them
//! (`storage.read-verified`, checked there against the chunk digests the engine supplies);
//! otherwise they pass through here.

use super::bindings::exports::wasi::http::incoming_handler as wh;
use super::bindings::wasi::http::types as ht;
use super::bindings::artifact::store::{storage as ws, types as wt};
use super::bindings::wasi::io::streams::{InputStream, OutputStream};
use crate::http::{self, Body};

/// Largest chunk pulled from the engine per write round.
const CHUNK: usize = 256 << 10;

fn method_name(m: ht::Method) -> String {
    match m {
        ht::Method::Get => "GET".into(),
        ht::Method::Head => "HEAD".into(),
        ht::Method::Post => "POST".into(),
        ht::Method::Put => "PUT".into(),
        ht::Method::Delete => "DELETE".into(),
        ht::Method::Connect => "CONNECT".into(),
        ht::Method::Options => "OPTIONS".into(),
        ht::Method::Trace => "TRACE".into(),
        ht::Method::Patch => "PATCH".into(),
        ht::Method::Other(s) => s,
    }
}

impl wh::Guest for super::Component {
    fn handle(request: ht::IncomingRequest, out: ht::ResponseOutparam) {
        let method = method_name(request.method());
        let path = request.path_with_query().unwrap_or_else(|| "/".into());
        let headers = request.headers().entries();
        let mut body = IncomingBody::new(request.consume().ok());
        drop(request);
        let store = super::engine();
        let now = (store.now)();
        let req = http::Request { method: &method, path_with_query: &path, headers: &headers };
        let resp = http::route(&store, &super::ConfigStore, &req, &mut body, now);
        drop(body);
        send(resp, out);
    }
}

/// The request body as [`http::RequestBody`]: read only when a handler asks (uploads).
struct IncomingBody {
    body: Option<ht::IncomingBody>,
    stream: Option<super::bindings::wasi::io::streams::InputStream>,
}

impl IncomingBody {
    fn new(body: Option<ht::IncomingBody>) -> Self {
        IncomingBody { body, stream: None }
    }
}

impl Drop for IncomingBody {
    fn drop(&mut self) {
        // The stream is a child of the body: it goes first.
        self.stream.take();
        self.body.take();
    }
}

impl http::RequestBody for IncomingBody {
    fn next_chunk(&mut self, max: usize) -> Result<Vec<u8>, String> {
        use super::bindings::wasi::io::streams::StreamError;
        if self.stream.is_none() {
            let Some(b) = &self.body else { return Ok(Vec::new()) };
            self.stream = Some(b.stream().map_err(|()| "the request body was already taken".to_string())?);
        }
        let stream = self.stream.as_ref().expect("opened above");
        loop {
            match stream.blocking_read(max as u64) {
                Ok(c) if c.is_empty() => continue,
                Ok(c) => return Ok(c),
                Err(StreamError::Closed) => return Ok(Vec::new()),
                Err(StreamError::LastOperationFailed(e)) => return Err(e.to_debug_string()),
            }
        }
    }
}

/// A host stream of the body's checked bytes (WIT `storage.read-verified`), for a read of bytes
/// stored as they are served: `Ok(None)` when the body is another kind or the host does not
/// stream; `Err` when the host refused the read (its first chunk failed, or it is gone).
fn host_stream(body: &Body) -> Result<Option<(InputStream, u64)>, crate::model::Error> {
    let Body::Logical(r) = body else { return Ok(None) };
    let Some(p) = r.verified_plan() else { return Ok(None) };
    // The index's fastest hash first; a host that does not compute it answers `none`.
    let stream = p.first_stream(|hash, expected| {
        let hash = match hash {
            crate::digest::ChunkHash::Sha256 => ws::ChunkHash::Sha256,
            crate::digest::ChunkHash::Blake3 => ws::ChunkHash::Blake3,
        };
        ws::read_verified(&p.uri, p.size, p.chunk, hash, expected, p.offset, p.len)
    });
    match stream {
        Ok(s) => Ok(s.map(|s| (s, p.len))),
        Err(wt::Error::NotFound(_)) => Err(p.missing(&r.meta().id)),
        Err(e) => Err(super::err_in(e)),
    }
}

fn send(mut resp: http::Response, out: ht::ResponseOutparam) {
    let spliced = match host_stream(&resp.body) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("artifact edge: refusing the read: {} error: {e}", e.kind());
            resp = http::from_error(&e);
            None
        }
    };
    // Otherwise the first chunk is pulled before the head is made: one that fails (its check,
    // or the object is gone) is answered as an error, as the host stream's first chunk is.
    let mut first = Vec::new();
    if spliced.is_none() {
        match resp.body.next_chunk(CHUNK) {
            Ok(c) => first = c,
            Err(e) => {
                eprintln!("artifact edge: refusing the read: {} error: {e}", e.kind());
                resp = http::from_error(&e);
                first = resp.body.next_chunk(CHUNK).unwrap_or_default();
            }
        }
    }
    let list: Vec<(String, Vec<u8>)> = resp.headers.iter().map(|(k, v)| (k.clone(), v.as_bytes().to_vec())).collect();
    let fields = match ht::Fields::from_list(&list) {
        Ok(f) => f,
        Err(e) => {
            ht::ResponseOutparam::set(out, Err(ht::ErrorCode::InternalError(Some(format!("bad header: {e:?}")))));
            return;
        }
    };
    let r = ht::OutgoingResponse::new(fields);
    let _ = r.set_status_code(resp.status);
    let mut body_src = resp.body;
    if matches!(body_src, Body::Empty) {
        // HEAD and 304 keep their Content-Length; a body resource would insist on that many bytes.
        ht::ResponseOutparam::set(out, Ok(r));
        return;
    }
    let body = r.body().expect("the body is taken once");
    let stream = body.write().expect("the stream is taken once");
    if let Some((input, len)) = spliced {
        // Storage to the body inside the host: as much as the stream takes now goes out with
        // the head (see below), the rest as the client takes it.
        let first = stream.splice(&input, len);
        ht::ResponseOutparam::set(out, Ok(r));
        // A failed splice may have taken bytes from the storage stream that never reached the
        // body: nothing after them may follow, so any failure cuts the body there.
        let ok = match first {
            Ok(n) => splice_all(&input, &stream, len - n.min(len)) && stream.blocking_flush().is_ok(),
            Err(_) => false,
        };
        drop(input);
        drop(stream);
        drop(body_src);
        if ok {
            let _ = ht::OutgoingBody::finish(body, None);
        }
        return;
    }
    // As much of the first chunk as the stream takes without waiting is written before the head
    // is handed over: the server then sends head and body together. Head first and body later
    // made two small TCP segments, and on a server without TCP_NODELAY (Spin) Nagle held the
    // second until the client's delayed ACK: ~40 ms on every small response. (The spliced path
    // above does the same with its first splice.)
    let mut rest: &[u8] = &first;
    if let Ok(n) = stream.check_write() {
        let k = (n as usize).min(rest.len());
        if k > 0 && stream.write(&rest[..k]).is_ok() {
            rest = &rest[k..];
        }
    }
    ht::ResponseOutparam::set(out, Ok(r));
    let ok = write_all(&stream, rest) && pump(&mut body_src, &stream);
    drop(stream);
    if ok {
        let _ = ht::OutgoingBody::finish(body, None);
    }
    // Otherwise `body` drops unfinished and the host reports the response as failed.
}

/// Splices `left` more bytes from a host stream into the body; `false` if the stream failed
/// (a chunk failed its check: nothing of it was passed on) or ended early, or the client went.
fn splice_all(input: &InputStream, stream: &OutputStream, mut left: u64) -> bool {
    use super::bindings::wasi::io::streams::StreamError;
    let mut idle = 0;
    while left > 0 {
        match stream.blocking_splice(input, left) {
            Ok(0) if idle < 16 => idle += 1,
            Ok(0) => return false,
            Ok(n) => {
                idle = 0;
                left = left.saturating_sub(n);
            }
            // The storage stream's failure, or the client's: either way the body ends here.
            Err(StreamError::LastOperationFailed(e)) => {
                eprintln!("artifact edge: aborting response body: {}", e.to_debug_string());
                return false;
            }
            Err(StreamError::Closed) => {
                eprintln!("artifact edge: aborting response body: the storage stream ended {left} bytes early");
                return false;
            }
        }
    }
    true
}

/// Writes the whole body, honouring backpressure; `false` if it could not be completed.
fn pump(src: &mut Body, stream: &OutputStream) -> bool {
    loop {
        let chunk = match src.next_chunk(CHUNK) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("artifact edge: aborting response body: {} error: {e}", e.kind());
                return false;
            }
        };
        if chunk.is_empty() {
            return stream.blocking_flush().is_ok();
        }
        if !write_all(stream, &chunk) {
            return false;
        }
    }
}

/// Writes `bytes`, waiting whenever the stream grants nothing; `false` if the stream failed.
fn write_all(stream: &OutputStream, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        let n = match stream.check_write() {
            Ok(n) => n as usize,
            Err(_) => return false,
        };
        if n == 0 {
            stream.subscribe().block();
            continue;
        }
        let k = n.min(bytes.len());
        if stream.write(&bytes[..k]).is_err() {
            return false;
        }
        bytes = &bytes[k..];
    }
    true
}
