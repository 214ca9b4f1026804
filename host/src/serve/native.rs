//! `artifact serve --native`: the benchmarks' reference for what the sandbox costs per request.
//!
//! The same handler the edge component runs ([`artifact_component::http::route`]), compiled
//! into this binary and called on the server's own backends and config, in the same server (the
//! same accept loop, connection limits, gate and access log). What it is not: a serving mode.
//! Nothing isolates one request from another or from the host, there is no per-request deadline,
//! it answers only requests without a body (uploads and API writes get `501`), and it builds a
//! response body whole before sending the head (at most [`MAX_BODY`]; larger reads get `501`),
//! so a read that fails its integrity check is a `500` rather than a cut body. Bodies the
//! component splices from storage (`read-verified`) are read here with the same host-side check
//! and the same hash (`storage::verified`), the others through the handler's own reader. A built body does
//! not hold a request slot while a client reads it (a component instance does), so slow readers
//! may keep up to `--max-connections` bodies of at most [`MAX_BODY`] each in memory.
//! scripts/bench.sh (scenario 4) serves the same signed URLs both ways side by side;
//! benches/README.md has the figures.

use super::{full_body, json_error};
use crate::runtime::Shared;
use crate::storage::verified::VerifiedRead;
use artifact_component::model::Error;
use artifact_component::http::{self, Request, RequestBody};
use artifact_component::store::Store;
use hyper::body::Incoming;
use std::rc::Rc;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// Pieces pulled from the body per call, as the edge component pulls them.
const CHUNK: usize = 256 << 10;

/// Largest body built (whole, in memory): larger reads get `501` before anything is read.
pub(crate) const MAX_BODY: u64 = 8 << 20;

/// A request without a body (the only kind answered here).
struct NoBody;

impl RequestBody for NoBody {
    fn next_chunk(&mut self, _max: usize) -> Result<Vec<u8>, String> {
        Ok(Vec::new())
    }
}

/// Answers `req` with the handler compiled into the host. `has_body`: the request carries one.
pub(crate) fn respond(shared: &Shared, req: &hyper::Request<Incoming>, has_body: bool) -> hyper::Response<HyperOutgoingBody> {
    if has_body {
        return json_error(501, "not-implemented", "the native reference answers requests without a body only");
    }
    let headers: Vec<(String, Vec<u8>)> =
        req.headers().iter().map(|(k, v)| (k.as_str().to_string(), v.as_bytes().to_vec())).collect();
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let store = Store::new(Rc::new(shared.storage.clone()), Rc::new(shared.metadata.clone()));
    let r = Request { method: req.method().as_str(), path_with_query: path, headers: &headers };
    let mut resp = http::route(&store, &shared.config, &r, &mut NoBody, artifact_component::ids::now_ms());
    let too_large = || json_error(501, "not-implemented", "the native reference builds bodies whole and serves at most 8 MiB");
    // HEAD and 304 have no body to build, whatever their `Content-Length` says.
    let sized = |n: u64| n > MAX_BODY && !matches!(resp.body, http::Body::Empty);
    if resp.header("content-length").and_then(|v| v.parse::<u64>().ok()).is_some_and(sized) {
        return too_large();
    }
    let mut body = Vec::new();
    let mut pieces = match spliced(shared, &resp.body) {
        Ok(p) => p,
        Err(e) => return json_error(500, e.kind(), &format!("the read failed ({})", e.kind())),
    };
    loop {
        let next = match &mut pieces {
            // As the component's spliced reads: pieces checked by `storage::verified`.
            Some(read) => read.next_piece().map(Option::unwrap_or_default),
            None => resp.body.next_chunk(CHUNK),
        };
        match next {
            Ok(c) if c.is_empty() => break,
            Ok(c) if (body.len() + c.len()) as u64 > MAX_BODY => return too_large(),
            Ok(c) => body.extend_from_slice(&c),
            Err(e) => return json_error(500, e.kind(), &format!("the read failed ({})", e.kind())),
        }
    }
    let mut out = hyper::Response::new(full_body(body.into()));
    *out.status_mut() = hyper::StatusCode::from_u16(resp.status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in &resp.headers {
        match (hyper::header::HeaderName::from_bytes(k.as_bytes()), hyper::header::HeaderValue::from_str(v)) {
            (Ok(k), Ok(v)) => {
                out.headers_mut().append(k, v);
            }
            _ => return json_error(500, "internal", &format!("bad header {k:?}")),
        }
    }
    out
}

/// The host-side read the edge component would splice for `body` (WIT `read-verified`, with the
/// chunk index's fastest hash), so the reference does the same hashing as the component:
/// `None` for bodies the component reads itself.
fn spliced(shared: &Shared, body: &http::Body) -> Result<Option<VerifiedRead>, Error> {
    let http::Body::Logical(r) = body else { return Ok(None) };
    let Some(p) = r.verified_plan() else { return Ok(None) };
    let storage = shared.storage.route(&p.uri)?;
    // This host computes every hash, so the first (fastest) one streams.
    p.first_stream(|hash, expected| {
        VerifiedRead::open(storage.clone(), &p.uri, p.size, p.chunk, (hash, expected), p.offset, p.len).map(Some)
    })
    .map_err(|e| match e {
        Error::NotFound(_) => p.missing(&r.meta().id),
        e => e,
    })
}
