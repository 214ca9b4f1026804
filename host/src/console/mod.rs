//! `artifact console`: a small web UI over the store, served beside the signed reads of
//! [`crate::serve`] (paths under `/v1/` go to the edge component; the rest are the console's).
//!
//! Pages: buckets (`/`), a bucket's artifacts (`/b/<bucket>`, filtered and paged), one artifact
//! (`/a/<id>`: record, ResultRef, preview or manifest parts), a download (`/a/<id>/download`,
//! a redirect to a signed URL valid for five minutes, served and verified by the component),
//! delete with a confirmation page, and upload (`PUT /b/<bucket>/upload?name=…`, streamed).
//! All data comes from the component's calls through a [`Runtime`], as in the CLI. The assets
//! are compiled in; nothing is fetched from elsewhere. Access rules are in [`auth`].

pub mod auth;
pub mod html;
pub mod pages;
pub mod preview;

use crate::serve::full_body;
use crate::{HostError, Runtime};
use artifact_component::encoding::percent_decode;
use artifact_component::model::{Error, PutOptions};
use auth::{Auth, Denied};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use pages::{Filters, View, Viewer};
use std::sync::Arc;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/// Form bodies (sign-in, delete) are small.
const FORM_BYTES: usize = 16 << 10;
/// Lifetime of a download link.
const DOWNLOAD_TTL_SECS: u64 = 300;
/// An upload whose client sends nothing for this long is cut (and stores nothing).
const UPLOAD_STALL: std::time::Duration = std::time::Duration::from_secs(30);

/// How the console is set up.
pub struct ConsoleOptions {
    /// The write token (`ARTIFACT_CONSOLE_TOKEN`); `None` makes the console read-only.
    pub token: Option<String>,
    /// Listening beyond loopback: every page then needs the token.
    pub remote: bool,
    /// The listener's port (for the accepted loopback `Host` names).
    pub port: u16,
    /// Largest upload, bytes.
    pub max_upload: u64,
}

/// The console's routes over one runtime.
pub struct Console {
    rt: Runtime,
    auth: Auth,
    max_upload: u64,
    /// Component calls for pages run on blocking threads; this bounds how many at once.
    calls: tokio::sync::Semaphore,
    /// Uploads in progress (each holds a blocking thread while its client sends), apart from
    /// the pages so that slow uploaders cannot make the pages wait.
    uploads: tokio::sync::Semaphore,
}

type Resp = Response<HyperOutgoingBody>;

impl Console {
    /// A console over `rt` (built with the same backends and signing keys as the edge server).
    pub fn new(rt: Runtime, o: ConsoleOptions) -> std::io::Result<Console> {
        let auth = Auth::new(o.token, auth::random_key()?, o.remote, o.port);
        let (calls, uploads) = (tokio::sync::Semaphore::new(8), tokio::sync::Semaphore::new(4));
        Ok(Console { rt, auth, max_upload: o.max_upload, calls, uploads })
    }

    /// Whether a path is the console's (everything but the signed reads under `/v1/`).
    pub fn owns(path: &str) -> bool {
        !path.starts_with("/v1/")
    }

    /// Answers one request.
    pub async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Resp {
        let headers = req.headers().clone();
        if let Err(d) = self.auth.check_host(&headers) {
            return self.denied(&headers, d);
        }
        let path = req.uri().path().to_string();
        let query = parse_pairs(req.uri().query().unwrap_or(""));
        let method = req.method().clone();
        match (&method, path.as_str()) {
            (&Method::GET, "/assets/console.css") => return asset(CSS, "text/css; charset=utf-8"),
            (&Method::GET, "/assets/console.js") => return asset(JS, "text/javascript; charset=utf-8"),
            (&Method::GET, "/login") => {
                let next = field(&query, "next").unwrap_or("/");
                return self.html(&headers, StatusCode::OK, pages::login(&self.auth.csrf(&headers), next, None));
            }
            (&Method::POST, "/login") => return self.sign_in(req).await,
            (&Method::POST, "/logout") => return self.sign_out(req).await,
            _ => {}
        }
        if let Err(d) = self.auth.check_read(&headers) {
            if d == Denied::Unauthenticated && method == Method::GET {
                return redirect(&html::with_query("/login", &[("next", &path)]), None);
            }
            return self.denied(&headers, d);
        }
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let Some(segs) = segs.iter().map(|s| percent_decode(s, false)).collect::<Option<Vec<String>>>() else {
            return self.fail(&headers, Error::InvalidArgument("the path has a malformed %-escape".into()).into());
        };
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        match (&method, segs.as_slice()) {
            (&Method::GET, [""]) => self.page(&headers, |rt, _| pages::buckets(rt)).await,
            (&Method::GET, ["open"]) => match field(&query, "bucket").filter(|b| !b.is_empty()) {
                Some(b) => redirect(&html::bucket_href(b), None),
                None => redirect("/", None),
            },
            (&Method::GET, ["b", bucket]) => {
                let bucket = bucket.to_string();
                let get = |k| field(&query, k).unwrap_or("").to_string();
                let f = Filters { prefix: get("prefix"), created_by: get("created_by"), after: get("after"), before: get("before"), cursor: get("cursor") };
                let notice = field(&query, "deleted").map(|n| format!("Deleted {n}."));
                self.page(&headers, move |rt, who| pages::bucket(rt, &bucket, &f, notice.as_deref(), who)).await
            }
            (&Method::PUT, ["b", bucket, "upload"]) => {
                let bucket = bucket.to_string();
                self.upload(req, bucket, query).await
            }
            (&Method::GET, ["a", id]) => {
                let id = id.to_string();
                self.page(&headers, move |rt, who| pages::artifact(rt, &id, who)).await
            }
            (&Method::GET, ["a", id, "download"]) => {
                let id = id.to_string();
                let opts = artifact_component::sign::SignOptions::default();
                match self.call(move |rt| rt.sign(&id, DOWNLOAD_TTL_SECS, &opts)).await {
                    Ok(url) => redirect(&url, None),
                    Err(e) => self.fail(&headers, e),
                }
            }
            (&Method::GET, ["a", id, "delete"]) => {
                if let Err(d) = self.auth.check_write(&headers, Some(&self.auth.csrf(&headers))) {
                    if d == Denied::Unauthenticated {
                        return redirect(&html::with_query("/login", &[("next", &path)]), None);
                    }
                    return self.denied(&headers, d);
                }
                let id = id.to_string();
                self.page(&headers, move |rt, who| pages::confirm_delete(rt, &id, who)).await
            }
            (&Method::POST, ["a", id, "delete"]) => {
                let id = id.to_string();
                self.delete(req, id).await
            }
            _ => self.html(&headers, StatusCode::NOT_FOUND, pages::error(404, &format!("There is no page at {path}."), "<a href=\"/\">Go to the buckets</a>.")),
        }
    }

    /// Runs a page's component calls on a blocking thread, at most 8 at once.
    async fn call<T: Send + 'static>(self: &Arc<Self>, f: impl FnOnce(&Runtime) -> Result<T, HostError> + Send + 'static) -> Result<T, HostError> {
        let _permit = self.calls.acquire().await.map_err(|_| HostError::Trap("the console is shutting down".into()))?;
        self.blocking(f).await
    }

    async fn blocking<T: Send + 'static>(self: &Arc<Self>, f: impl FnOnce(&Runtime) -> Result<T, HostError> + Send + 'static) -> Result<T, HostError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || f(&me.rt)).await.map_err(|e| HostError::Trap(format!("console call failed: {e}")))?
    }

    async fn page(
        self: &Arc<Self>,
        headers: &hyper::HeaderMap,
        f: impl FnOnce(&Runtime, &Viewer<'_>) -> Result<View, HostError> + Send + 'static,
    ) -> Resp {
        let csrf = self.auth.csrf(headers);
        let signed_in = self.auth.signed_in(headers);
        let (writes, may_sign_in) = (self.auth.writes() && signed_in, self.auth.writes() && !signed_in);
        let r = self.call(move |rt| f(rt, &Viewer { writes, may_sign_in, csrf: &csrf })).await;
        match r {
            Ok(view) => self.html(headers, StatusCode::OK, view),
            Err(e) => self.fail(headers, e),
        }
    }

    fn html(&self, headers: &hyper::HeaderMap, status: StatusCode, v: View) -> Resp {
        let csrf = self.auth.csrf(headers);
        let frame = html::Frame { title: &v.title, crumbs: &v.crumbs, signed_in: self.auth.signed_in(headers), writes: self.auth.writes(), csrf: &csrf };
        respond(status, "text/html; charset=utf-8", html::page(&frame, &v.body).into())
    }

    /// An error as a page (or JSON, for script requests).
    fn fail(&self, headers: &hyper::HeaderMap, e: HostError) -> Resp {
        let status = status_of(&e);
        if wants_json(headers) {
            return json_error(status, e.kind(), &e.to_string());
        }
        let hint = match status {
            404 => "It may have been deleted or collected. <a href=\"/\">Go to the buckets</a>.",
            400 => "Check the address or the filters and try again.",
            _ => "Try again; if it keeps failing, the console's log on stderr says more.",
        };
        self.html(headers, StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), pages::error(status, &e.to_string(), hint))
    }

    fn denied(&self, headers: &hyper::HeaderMap, d: Denied) -> Resp {
        let (status, kind, msg, hint) = denial(d);
        if wants_json(headers) {
            return json_error(status, kind, msg);
        }
        self.html(headers, StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN), pages::error(status, msg, hint))
    }

    /// Reads a submitted form and checks its request with `check` (the sign-in rules or the
    /// write rules, given the form's `csrf` field); a refusal or a bad form is the answer.
    async fn checked_form(
        &self,
        req: Request<Incoming>,
        check: fn(&Auth, &hyper::HeaderMap, Option<&str>) -> Result<(), Denied>,
    ) -> Result<(hyper::HeaderMap, Vec<(String, String)>), Resp> {
        let headers = req.headers().clone();
        let form = read_form(req).await.map_err(|e| self.fail(&headers, e))?;
        check(&self.auth, &headers, field(&form, "csrf")).map_err(|d| self.denied(&headers, d))?;
        Ok((headers, form))
    }

    async fn sign_in(self: &Arc<Self>, req: Request<Incoming>) -> Resp {
        let (headers, form) = match self.checked_form(req, Auth::check_sign_in_form).await {
            Ok(x) => x,
            Err(refused) => return refused,
        };
        let next = local_path(field(&form, "next").unwrap_or("/"));
        match self.auth.sign_in(field(&form, "token").unwrap_or("")) {
            Some(cookie) => redirect(next, Some(&cookie)),
            None => {
                // Slow down guessing.
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                let why = if self.auth.writes() { "That is not the console token." } else { "This console is read-only: it was started without ARTIFACT_CONSOLE_TOKEN." };
                self.html(&headers, StatusCode::FORBIDDEN, pages::login(&self.auth.csrf(&headers), next, Some(why)))
            }
        }
    }

    async fn sign_out(self: &Arc<Self>, req: Request<Incoming>) -> Resp {
        if let Err(refused) = self.checked_form(req, Auth::check_write).await {
            return refused;
        }
        redirect("/", Some(&Auth::sign_out()))
    }

    async fn delete(self: &Arc<Self>, req: Request<Incoming>, id: String) -> Resp {
        let (headers, _) = match self.checked_form(req, Auth::check_write).await {
            Ok(x) => x,
            Err(refused) => return refused,
        };
        let r = self
            .call(move |rt| {
                let rec = rt.head(&id)?;
                rt.delete(&rec.id)?;
                Ok(rec)
            })
            .await;
        match r {
            Ok(rec) => redirect(&html::with_query(&html::bucket_href(&rec.bucket), &[("deleted", &rec.name)]), None),
            Err(e) => self.fail(&headers, e),
        }
    }

    /// `PUT /b/<bucket>/upload?name=…`: the body streams into `put` (get-or-create on the pair;
    /// 201 when created, 200 when the pair existed), bounded by the upload limit. JSON out.
    async fn upload(self: &Arc<Self>, req: Request<Incoming>, bucket: String, query: Vec<(String, String)>) -> Resp {
        let headers = req.headers().clone();
        if let Err(d) = self.auth.check_write(&headers, None) {
            let (status, kind, msg, _) = denial(d);
            return json_error(status, kind, msg);
        }
        let Some(name) = field(&query, "name").filter(|n| !n.is_empty()).map(String::from) else {
            return json_error(400, "invalid-argument", "the upload needs ?name=");
        };
        let content_type = headers
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(String::from)
            .unwrap_or_else(|| mime_guess::from_path(&name).first_or_octet_stream().essence_str().to_string());
        let opts = PutOptions {
            bucket: Some(bucket),
            name: Some(name),
            content_type: Some(content_type),
            max_bytes: Some(self.max_upload),
            created_by: Some("console".into()),
            ..Default::default()
        };
        let Ok(_permit) = self.uploads.try_acquire() else {
            return json_error(503, "unavailable", "four uploads are already in progress; retry when one has finished");
        };
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
        let mut body = req.into_body();
        let pump = tokio::spawn(async move {
            loop {
                let item = match tokio::time::timeout(UPLOAD_STALL, body.frame()).await {
                    Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the upload stalled: nothing arrived for 30 s")),
                    Ok(None) => return,
                    Ok(Some(Ok(f))) => match f.into_data() {
                        Ok(d) => Ok(d),
                        Err(_) => continue,
                    },
                    Ok(Some(Err(e))) => Err(std::io::Error::other(format!("the upload was cut: {e}"))),
                };
                let stop = item.is_err();
                if tx.send(item).await.is_err() || stop {
                    return;
                }
            }
        });
        let r = self
            .blocking(move |rt| {
                let mut reader = ChannelReader { rx, buf: Bytes::new() };
                rt.put_stream(&mut reader, &opts)
            })
            .await;
        pump.abort();
        match r {
            Ok(p) => {
                let mut v: serde_json::Value = serde_json::from_str(&p.result_ref).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("created".into(), p.created.into());
                }
                let status = if p.created { StatusCode::CREATED } else { StatusCode::OK };
                respond(status, "application/json", (v.to_string() + "\n").into())
            }
            Err(e) => json_error(status_of(&e), e.kind(), &e.to_string()),
        }
    }
}

/// Feeds a blocking reader from the async body pump.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    buf: Bytes,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.buf.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Ok(b)) => self.buf = b,
                Some(Err(e)) => return Err(e),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf.split_to(n));
        Ok(n)
    }
}

/// Status, error kind, message and (HTML) hint of a refusal.
fn denial(d: Denied) -> (u16, &'static str, &'static str, &'static str) {
    match d {
        Denied::Unauthenticated => (401, "unauthorized", "Sign in to make changes.", "<a href=\"/login\">Sign in</a> with the console token."),
        Denied::Forbidden(why) => (403, "forbidden", why, "<a href=\"/\">Go to the buckets</a>."),
        Denied::WrongHost => (421, "forbidden", "This console answers only to its own loopback address.", "Open it as http://127.0.0.1:PORT/ (or localhost)."),
    }
}

fn status_of(e: &HostError) -> u16 {
    match e {
        HostError::Artifact(a) => match a {
            Error::NotFound(_) | Error::InvalidRef(_) => 404,
            Error::InvalidArgument(_) => 400,
            Error::Expired(_) => 410,
            Error::TooLarge { .. } => 413,
            Error::Forbidden(_) => 403,
            Error::RangeNotSatisfiable(_) => 416,
            Error::Conflict(_) => 409,
            _ => 500,
        },
        HostError::Io(_) => 400,
        _ => 500,
    }
}

fn wants_json(headers: &hyper::HeaderMap) -> bool {
    headers.get(hyper::header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("application/json"))
}

/// `k=v&k2=v2` (query strings and form bodies), decoded; malformed pairs are skipped.
fn parse_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((percent_decode(k, true)?, percent_decode(v, true)?))
        })
        .collect()
}

fn field<'a>(pairs: &'a [(String, String)], k: &str) -> Option<&'a str> {
    pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
}

/// A redirect target that stays on this site: `/path`, never `//host` or `scheme:`.
fn local_path(p: &str) -> &str {
    if p.starts_with('/') && !p.starts_with("//") && !p.starts_with("/\\") {
        p
    } else {
        "/"
    }
}

async fn read_form(req: Request<Incoming>) -> Result<Vec<(String, String)>, HostError> {
    let limited = http_body_util::Limited::new(req.into_body(), FORM_BYTES);
    let body = limited
        .collect()
        .await
        .map_err(|e| HostError::Artifact(Error::InvalidArgument(format!("the form could not be read (at most {FORM_BYTES} bytes): {e}"))))?
        .to_bytes();
    let text = std::str::from_utf8(&body).map_err(|_| HostError::Artifact(Error::InvalidArgument("the form is not UTF-8".into())))?;
    Ok(parse_pairs(text))
}

fn respond(status: StatusCode, content_type: &'static str, body: Bytes) -> Resp {
    let len = body.len();
    let mut r = Response::new(full_body(body));
    r.headers_mut().insert("content-length", len.into());
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert("content-type", hyper::header::HeaderValue::from_static(content_type));
    h.insert("cache-control", hyper::header::HeaderValue::from_static("no-store"));
    h.insert("content-security-policy", hyper::header::HeaderValue::from_static(CSP));
    h.insert("x-content-type-options", hyper::header::HeaderValue::from_static("nosniff"));
    h.insert("x-frame-options", hyper::header::HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", hyper::header::HeaderValue::from_static("same-origin"));
    r
}

fn asset(text: &'static str, content_type: &'static str) -> Resp {
    respond(StatusCode::OK, content_type, Bytes::from_static(text.as_bytes()))
}

fn json_error(status: u16, kind: &str, message: &str) -> Resp {
    let v = serde_json::json!({ "status": "error", "error": { "kind": kind, "message": message } });
    respond(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), "application/json", (v.to_string() + "\n").into())
}

fn redirect(location: &str, cookie: Option<&str>) -> Resp {
    let mut r = respond(StatusCode::SEE_OTHER, "text/plain; charset=utf-8", Bytes::new());
    if let Ok(v) = hyper::header::HeaderValue::from_str(location) {
        r.headers_mut().insert(hyper::header::LOCATION, v);
    }
    if let Some(c) = cookie.and_then(|c| hyper::header::HeaderValue::from_str(c).ok()) {
        r.headers_mut().insert(hyper::header::SET_COOKIE, c);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_and_local_paths() {
        let p = parse_pairs("a=1&b=x+y%26z&bad=%zz&c");
        assert_eq!(field(&p, "b"), Some("x y&z"));
        assert_eq!(field(&p, "bad"), None);
        assert_eq!(field(&p, "c"), Some(""));
        assert_eq!(local_path("/b/x"), "/b/x");
        for evil in ["//evil.example", "https://evil.example", "/\\evil", "javascript:alert(1)"] {
            assert_eq!(local_path(evil), "/", "{evil}");
        }
    }
}
