//! S3-compatible object storage (driver `s3`), through the `object_store` crate.
//!
//! # Configuration
//!
//! `s3://BUCKET[/PREFIX][?endpoint=URL&region=R]`. The bucket and prefix belong to the backend:
//! the object URI `s3://blobs/sha256/ab/abcd…` is the key `PREFIX/blobs/sha256/ab/abcd…` in
//! `BUCKET`, just as `fs://blobs/…` is a path under the fs root. Credentials and everything else
//! come from the usual environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT`, `AWS_ALLOW_HTTP`, …, read by
//! `AmazonS3Builder::from_env`); the URI's query overrides them. Requests are path-style; an
//! `http://` endpoint is allowed (local servers). Object URIs are validated as for `fs`: relative,
//! no empty, `.` or `..` segments, no backslash or control characters, and not under the reserved
//! `.staging/` directory.
//!
//! # Atomicity
//!
//! A writer buffers up to [`SINGLE_PUT_MAX`] in memory and publishes with one `PUT`
//! (`IfAbsent` sends `If-None-Match: *`, so concurrent committers race safely at the server and
//! exactly one wins). A larger body is streamed as a multipart upload of [`PART_SIZE`] parts to a
//! unique key under `PREFIX/.staging/` while it is written; commit completes that upload and then
//! copies it server-side to the final key (`IfAbsent`: a multipart copy completed with
//! `If-None-Match: *`; `Overwrite`: `CopyObject`) and deletes the staging object. An incomplete
//! multipart upload is invisible; a process killed between completing and deleting leaves an
//! object under `.staging/`, which is never listed nor addressable. Add a bucket lifecycle rule
//! that aborts incomplete multipart uploads and expires `PREFIX/.staging/` after a day.
//! Server-side copies of a single object are limited by S3 to 5 GiB, so bodies over
//! [`SINGLE_PUT_MAX`] must stay below that.
//!
//! # Threads and runtimes
//!
//! `object_store` is async; the storage trait is not. Each backend owns a small multi-thread
//! tokio runtime; every call spawns its future there and waits on a channel. This is safe from
//! any thread, including a worker of another tokio runtime (there is no nested `block_on`). The
//! wait blocks the calling thread for the duration of the request, so it leaves the caller's
//! runtime first ([`crate::blocking::leave_runtime`]): in `artifact serve`, a stalled endpoint
//! holds up the requests that read from it, not the server's other connections.

use super::{BlobWriter, Publish, Storage};
use artifact_component::backend::{clamp_limit, page, READ_CAP};
use artifact_component::model::Error;
use futures::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder, S3CopyIfNotExists};
use object_store::path::Path;
use object_store::{
    ClientOptions, CopyMode, CopyOptions, MultipartUpload, ObjectStore, ObjectStoreExt, PutMode,
    PutOptions, PutPayload, RetryConfig,
};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

const SCHEME: &str = "s3://";
const DRIVER: &str = "s3";
const STAGING: &str = ".staging";
/// Bodies up to this size are published with a single `PUT`.
pub const SINGLE_PUT_MAX: usize = 8 << 20;
/// Part size of multipart uploads (S3's minimum is 5 MiB, except for the last part).
pub const PART_SIZE: usize = 8 << 20;
const MAX_PATH_LEN: usize = 1024;

/// Where an `s3://` backend URI points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Key prefix without leading or trailing `/`; may be empty.
    pub prefix: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
}

impl S3Location {
    /// Parses what follows `s3://` in a backend URI.
    pub fn parse(rest: &str) -> Result<Self, Error> {
        let bad = |why: String| Error::InvalidArgument(format!("invalid s3 URI s3://{rest}: {why}"));
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
        if bucket.is_empty() {
            return Err(bad("no bucket".into()));
        }
        let prefix = prefix.trim_matches('/').to_string();
        if !prefix.is_empty() {
            validate_rel(&prefix).map_err(bad)?;
        }
        let (mut endpoint, mut region) = (None, None);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "endpoint" => endpoint = Some(v.to_string()),
                "region" => region = Some(v.to_string()),
                other => return Err(bad(format!("unknown parameter {other:?} (endpoint, region)"))),
            }
        }
        Ok(S3Location { bucket: bucket.into(), prefix, endpoint, region })
    }
}

fn store_err(op: &str, what: &str, e: object_store::Error) -> Error {
    match e {
        object_store::Error::NotFound { .. } => Error::NotFound(format!("no object at {what}")),
        e => Error::Storage(format!("s3 {op} {what}: {e}")),
    }
}

/// Checks a relative object path; the reason on failure.
fn validate_rel(rel: &str) -> Result<(), String> {
    if rel.is_empty() {
        return Err("empty path".into());
    }
    if rel.len() > MAX_PATH_LEN {
        return Err("path too long".into());
    }
    if rel.starts_with('/') {
        return Err("absolute paths are not allowed".into());
    }
    if rel.contains('\\') || rel.chars().any(|c| c.is_control()) {
        return Err("backslash or control character in path".into());
    }
    for seg in rel.split('/') {
        match seg {
            "" => return Err("empty path segment".into()),
            "." | ".." => return Err("relative path segment".into()),
            _ => {}
        }
    }
    Ok(())
}

/// A tokio runtime owned by the backend; see the module docs.
struct Rt(Option<tokio::runtime::Runtime>);

impl Drop for Rt {
    /// Without waiting: dropping a runtime blocks on its threads, which panics when the last
    /// holder of this backend goes away on an async runtime's thread (`artifact serve` shutting
    /// down). Nothing is in flight by then: every call holds the backend until it returns.
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl Rt {
    fn new() -> Result<Self, Error> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("artifact-s3")
            .enable_all()
            .build()
            .map(|rt| Rt(Some(rt)))
            .map_err(|e| Error::Storage(format!("start the s3 runtime: {e}")))
    }

    /// Runs `fut` on the backend's runtime and waits for it from this (non-async or async) thread.
    fn run<T: Send + 'static>(&self, fut: impl Future<Output = T> + Send + 'static) -> Result<T, Error> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let rt = self.0.as_ref().ok_or_else(|| Error::Storage("the s3 runtime stopped".into()))?;
        rt.spawn(async move {
            let _ = tx.send(fut.await);
        });
        // The wait leaves the caller's runtime: a stalled endpoint holds up only this request.
        crate::blocking::leave_runtime(move || rx.recv()).map_err(|_| Error::Storage("the s3 runtime stopped".into()))
    }
}

/// Objects in one bucket under one key prefix.
pub struct S3Storage {
    store: Arc<AmazonS3>,
    loc: S3Location,
    rt: Arc<Rt>,
}

impl std::fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Storage").field("loc", &self.loc).finish_non_exhaustive()
    }
}

impl S3Storage {
    /// Opens the backend for what follows `s3://` in a backend URI. Does not contact the server.
    pub fn open(rest: &str) -> Result<Self, Error> {
        let loc = S3Location::parse(rest)?;
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(&loc.bucket)
            .with_virtual_hosted_style_request(false)
            .with_copy_if_not_exists(S3CopyIfNotExists::Multipart)
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(30),
                ..Default::default()
            })
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(300)),
            );
        if let Some(e) = &loc.endpoint {
            b = b.with_endpoint(e).with_allow_http(e.starts_with("http://"));
        }
        if let Some(r) = &loc.region {
            b = b.with_region(r);
        }
        let store = b
            .build()
            .map_err(|e| Error::InvalidArgument(format!("s3://{rest}: {e}")))?;
        Ok(S3Storage { store: Arc::new(store), loc, rt: Arc::new(Rt::new()?) })
    }

    /// The bucket, prefix and endpoint this backend uses.
    pub fn location(&self) -> &S3Location {
        &self.loc
    }

    fn key(&self, rel: &str) -> String {
        if self.loc.prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{rel}", self.loc.prefix)
        }
    }

    /// The key of an object URI, after validating the URI.
    fn path_of(&self, uri: &str) -> Result<Path, Error> {
        object_key(&self.loc.prefix, uri)
    }

    /// The object URI of a listed key, or `None` for keys outside the prefix or in staging.
    fn uri_of(&self, key: &str) -> Option<String> {
        let rel = if self.loc.prefix.is_empty() {
            key
        } else {
            key.strip_prefix(self.loc.prefix.as_str())?.strip_prefix('/')?
        };
        if rel.starts_with(".staging/") {
            return None;
        }
        Some(format!("{SCHEME}{rel}"))
    }

    /// Reachability and write permission: writes, reads back and deletes a probe object under
    /// `.staging/`. Returns a short description of the server.
    pub fn probe(&self) -> Result<String, Error> {
        let path = Path::parse(self.key(&format!("{STAGING}/doctor-{}", super::unique_name())))
            .map_err(|e| Error::Storage(e.to_string()))?;
        let store = self.store.clone();
        let p = path.clone();
        self.rt.run(async move {
            store.put(&p, PutPayload::from_static(b"artifact doctor probe")).await?;
            let back = store.get_range(&p, 0..21).await?;
            store.delete(&p).await?;
            if back.as_ref() != b"artifact doctor probe" {
                return Err(object_store::Error::Generic { store: "S3", source: "probe read back different bytes".into() });
            }
            Ok(())
        })?
        .map_err(|e| store_err("probe", path.as_ref(), e))?;
        let endpoint = self.loc.endpoint.as_deref().unwrap_or("the AWS default endpoint");
        Ok(format!("S3 API at {endpoint}, bucket {}, prefix {:?}", self.loc.bucket, self.loc.prefix))
    }

    async fn head_size(store: &AmazonS3, path: &Path) -> Result<Option<u64>, object_store::Error> {
        match store.head(path).await {
            Ok(m) => Ok(Some(m.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}


enum State {
    /// Everything so far is in `buf`.
    Buffering,
    /// A multipart upload to `staging` is under way; `buf` holds the next part.
    Uploading { staging: Path, upload: Box<dyn MultipartUpload> },
    Finished,
}

struct S3Writer {
    store: Arc<AmazonS3>,
    rt: Arc<Rt>,
    /// The backend's key prefix (see [`S3Location::prefix`]).
    prefix: String,
    staging_key: String,
    buf: Vec<u8>,
    state: State,
}

impl S3Writer {
    fn finished() -> Error {
        Error::Storage("writer is finished".into())
    }

    fn fail(&mut self, e: Error) -> Error {
        self.abort();
        e
    }

    /// Sends `buf` as the next part.
    fn send_part(&mut self) -> Result<(), Error> {
        let State::Uploading { upload, staging } = &mut self.state else {
            return Err(Self::finished());
        };
        let what = staging.to_string();
        let part = upload.put_part(PutPayload::from(std::mem::take(&mut self.buf)));
        self.rt.run(part)?.map_err(|e| store_err("upload part", &what, e))
    }

    fn start_upload(&mut self) -> Result<(), Error> {
        let staging = Path::parse(&self.staging_key).map_err(|e| Error::Storage(e.to_string()))?;
        let (store, p) = (self.store.clone(), staging.clone());
        let upload = self
            .rt
            .run(async move { store.put_multipart(&p).await })?
            .map_err(|e| store_err("start upload", staging.as_ref(), e))?;
        self.state = State::Uploading { staging, upload };
        Ok(())
    }

    fn publish_small(&mut self, dest: Path, publish: Publish) -> Result<bool, Error> {
        let payload = PutPayload::from(std::mem::take(&mut self.buf));
        let mode = match publish {
            Publish::IfAbsent => PutMode::Create,
            Publish::Overwrite => PutMode::Overwrite,
        };
        let store = self.store.clone();
        let d = dest.clone();
        let r = self.rt.run(async move { store.put_opts(&d, payload, PutOptions::from(mode)).await })?;
        match r {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(store_err("put", dest.as_ref(), e)),
        }
    }

    fn publish_large(
        &mut self,
        staging: Path,
        mut upload: Box<dyn MultipartUpload>,
        dest: Path,
        publish: Publish,
    ) -> Result<bool, Error> {
        let last = PutPayload::from(std::mem::take(&mut self.buf));
        let store = self.store.clone();
        let (s, d) = (staging.clone(), dest.clone());
        let r = self.rt.run(async move {
            let done = async {
                if last.content_length() > 0 {
                    upload.put_part(last).await?;
                }
                upload.complete().await
            }
            .await;
            if let Err(e) = done {
                let _ = upload.abort().await;
                return Err(e);
            }
            let mode = match publish {
                Publish::IfAbsent => CopyMode::Create,
                Publish::Overwrite => CopyMode::Overwrite,
            };
            let copied = store.copy_opts(&s, &d, CopyOptions::new().with_mode(mode)).await;
            let _ = store.delete(&s).await;
            match copied {
                Ok(()) => Ok(true),
                Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
                Err(e) => Err(e),
            }
        })?;
        r.map_err(|e| store_err("publish", dest.as_ref(), e))
    }
}

impl BlobWriter for S3Writer {
    fn write(&mut self, mut chunk: &[u8]) -> Result<(), Error> {
        if matches!(self.state, State::Finished) {
            return Err(Self::finished());
        }
        while !chunk.is_empty() {
            let cap = match self.state {
                State::Buffering => SINGLE_PUT_MAX + 1,
                _ => PART_SIZE,
            };
            let take = (cap - self.buf.len()).min(chunk.len());
            self.buf.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if self.buf.len() >= cap {
                if matches!(self.state, State::Buffering) {
                    // Over the single-PUT bound: switch to a staged multipart upload. The
                    // buffer may exceed one part; send it whole (parts may be larger).
                    self.start_upload().map_err(|e| self.fail(e))?;
                }
                self.send_part().map_err(|e| self.fail(e))?;
            }
        }
        Ok(())
    }

    fn commit(&mut self, uri: &str, publish: Publish) -> Result<bool, Error> {
        if matches!(self.state, State::Finished) {
            return Err(Self::finished());
        }
        // An invalid URI fails the commit; the writer is finished either way.
        let dest = object_key(&self.prefix, uri).map_err(|e| self.fail(e))?;
        match std::mem::replace(&mut self.state, State::Finished) {
            State::Buffering => self.publish_small(dest, publish),
            State::Uploading { staging, upload } => self.publish_large(staging, upload, dest, publish),
            State::Finished => Err(Self::finished()),
        }
    }

    fn abort(&mut self) {
        self.buf = Vec::new();
        if let State::Uploading { mut upload, .. } = std::mem::replace(&mut self.state, State::Finished) {
            let _ = self.rt.run(async move { upload.abort().await });
        }
        self.state = State::Finished;
    }
}

/// The key of the object URI `uri` under `prefix`, after validating the URI.
fn object_key(prefix: &str, uri: &str) -> Result<Path, Error> {
    let rel = uri
        .strip_prefix(SCHEME)
        .ok_or_else(|| Error::InvalidArgument(format!("{uri:?} is not an s3:// URI")))?;
    let invalid = |why: &str| Error::InvalidArgument(format!("invalid object URI {uri:?}: {why}"));
    validate_rel(rel).map_err(|why| invalid(&why))?;
    if rel == STAGING || rel.starts_with(".staging/") {
        return Err(invalid("reserved path"));
    }
    let key = if prefix.is_empty() { rel.to_string() } else { format!("{prefix}/{rel}") };
    Path::parse(key).map_err(|e| invalid(&e.to_string()))
}

impl Drop for S3Writer {
    fn drop(&mut self) {
        self.abort();
    }
}

impl Storage for S3Storage {
    fn drivers(&self) -> Vec<String> {
        vec![DRIVER.into()]
    }

    fn create_writer(&self, driver: &str) -> Result<Box<dyn BlobWriter + Send>, Error> {
        if driver != DRIVER {
            return Err(Error::InvalidArgument(format!("driver {driver:?} is not configured")));
        }
        Ok(Box::new(S3Writer {
            store: self.store.clone(),
            rt: self.rt.clone(),
            prefix: self.loc.prefix.clone(),
            staging_key: self.key(&format!("{STAGING}/{}", super::unique_name())),
            buf: Vec::new(),
            state: State::Buffering,
        }))
    }

    fn read(&self, uri: &str, offset: u64, len: u64) -> Result<Vec<u8>, Error> {
        let path = self.path_of(uri)?;
        let len = len.min(READ_CAP);
        let store = self.store.clone();
        let p = path.clone();
        let r = self.rt.run(async move {
            let end = offset.saturating_add(len);
            if len == 0 || end == offset {
                // No bytes wanted: only existence matters.
                return Self::head_size(&store, &p).await.map(|s| s.map(|_| Vec::new()));
            }
            match store.get_range(&p, offset..end).await {
                Ok(b) => Ok(Some(b.to_vec())),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                // A range starting at or past the end is a 416; tell it from real failures.
                Err(e) => match Self::head_size(&store, &p).await {
                    Ok(None) => Ok(None),
                    Ok(Some(size)) if offset >= size => Ok(Some(Vec::new())),
                    _ => Err(e),
                },
            }
        })?;
        match r.map_err(|e| store_err("read", uri, e))? {
            Some(b) => Ok(b),
            None => Err(Error::NotFound(format!("no object at {uri}"))),
        }
    }

    fn stat(&self, uri: &str) -> Result<Option<u64>, Error> {
        let path = self.path_of(uri)?;
        let store = self.store.clone();
        self.rt
            .run(async move { Self::head_size(&store, &path).await })?
            .map_err(|e| store_err("stat", uri, e))
    }

    fn list_objects(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<String>, Option<String>), Error> {
        let rel = prefix
            .strip_prefix(SCHEME)
            .ok_or_else(|| Error::InvalidArgument(format!("{prefix:?} is not an s3:// prefix")))?;
        let bad = || Err(Error::InvalidArgument(format!("invalid prefix {prefix:?}")));
        if rel.starts_with('/') || rel.contains('\\') || rel.chars().any(|c| c.is_control()) {
            return bad();
        }
        // Every complete segment must be valid; the last (partial) one may be anything but `..`.
        let (dirs, last) = rel.rsplit_once('/').unwrap_or(("", rel));
        if (rel.contains('/') && validate_rel(dirs).is_err()) || last == ".." {
            return bad();
        }
        let limit = clamp_limit(limit);
        let dir = if dirs.is_empty() { self.loc.prefix.clone() } else { self.key(dirs) };
        let dir = Path::parse(&dir).map_err(|e| Error::InvalidArgument(format!("invalid prefix {prefix:?}: {e}")))?;
        let want = format!("{SCHEME}{rel}");
        let cursor = cursor.map(str::to_string);
        // S3 lists keys in byte order, which is URI order. `start-after` from the cursor's key
        // (or a prefix of it, which is no later) skips what came before; the exact comparison is
        // made here.
        let offset = cursor
            .as_deref()
            .and_then(|c| c.strip_prefix(SCHEME))
            .and_then(|c| Path::parse(self.key(c)).ok());
        let this = S3Storage { store: self.store.clone(), loc: self.loc.clone(), rt: self.rt.clone() };
        let rt = self.rt.clone();
        let r = rt.run(async move {
            let mut stream = match &offset {
                Some(o) => this.store.list_with_offset(Some(&dir), o),
                None => this.store.list(Some(&dir)),
            };
            let mut out = Vec::new();
            while let Some(meta) = stream.next().await {
                let meta = meta?;
                let Some(uri) = this.uri_of(meta.location.as_ref()) else { continue };
                if cursor.as_deref().is_some_and(|c| uri.as_str() <= c) {
                    continue;
                }
                if !uri.starts_with(&want) {
                    if uri.as_str() > want.as_str() {
                        break; // sorted: nothing later can match
                    }
                    continue;
                }
                out.push(uri);
                if out.len() > limit {
                    break;
                }
            }
            Ok::<_, object_store::Error>(out)
        })?;
        Ok(page(r.map_err(|e| store_err("list", prefix, e))?, limit, String::clone))
    }

    fn delete(&self, uri: &str) -> Result<bool, Error> {
        let path = self.path_of(uri)?;
        let store = self.store.clone();
        // S3's DELETE succeeds on missing keys; a HEAD first tells whether something was there.
        let r = self.rt.run(async move {
            if Self::head_size(&store, &path).await?.is_none() {
                return Ok(false);
            }
            match store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(true),
                Err(e) => Err(e),
            }
        })?;
        r.map_err(|e| store_err("delete", uri, e))
    }

    /// Deletes completed staging objects under `PREFIX/.staging/` last modified before `before`
    /// (a process killed between completing and deleting). Incomplete multipart uploads are not
    /// listed by S3; the bucket's lifecycle rule aborts them.
    fn collect_staging(&self, before: u64) -> Result<u32, Error> {
        let dir = Path::parse(self.key(STAGING)).map_err(|e| Error::Storage(e.to_string()))?;
        let store = self.store.clone();
        let r = self.rt.run(async move {
            let mut stream = store.list(Some(&dir));
            let mut old = Vec::new();
            while let Some(meta) = stream.next().await {
                let meta = meta?;
                if (meta.last_modified.timestamp_millis().max(0) as u64) < before {
                    old.push(meta.location);
                }
            }
            let mut n = 0u32;
            for p in old {
                match store.delete(&p).await {
                    Ok(()) => n += 1,
                    Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(n)
        })?;
        r.map_err(|e| store_err("collect staging", STAGING, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_backend_uris() {
        let l = S3Location::parse("bkt/some/prefix/?endpoint=http://127.0.0.1:9000&region=us-east-1").unwrap();
        assert_eq!(l.bucket, "bkt");
        assert_eq!(l.prefix, "some/prefix");
        assert_eq!(l.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(l.region.as_deref(), Some("us-east-1"));
        let l = S3Location::parse("bkt").unwrap();
        assert_eq!((l.prefix.as_str(), l.endpoint, l.region), ("", None, None));
        for bad in ["", "/x", "bkt/a/../b", "bkt?foo=1", "bkt/a//b"] {
            assert!(S3Location::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn object_uris_map_under_the_prefix() {
        assert_eq!(object_key("p/q", "s3://blobs/a").unwrap().as_ref(), "p/q/blobs/a");
        assert_eq!(object_key("", "s3://blobs/a").unwrap().as_ref(), "blobs/a");
        for bad in ["s3://", "s3://../x", "s3:///abs", "s3://a//b", "s3://.staging/x", "fs://a", "s3://a\u{1}b"] {
            assert!(matches!(object_key("", bad), Err(Error::InvalidArgument(_))), "{bad:?}");
        }
    }
}
