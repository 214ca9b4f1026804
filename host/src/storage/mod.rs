//! Storage backends, selected by URI, and the router that presents them to the component as one
//! `storage` import (routing each object URI by its scheme).

pub mod fs;
#[cfg(feature = "s3")]
pub mod s3;
pub mod verified;

pub use artifact_component::backend::mem::MemStorage;
pub use artifact_component::backend::{BlobWriter, Publish, Storage};
use artifact_component::model::Error;
use std::sync::Arc;

/// A name no other writer of this host uses at the same time (process id, clock, counter), for
/// staging files and probe objects.
pub(crate) fn unique_name() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}-{nanos:x}-{n}", std::process::id())
}

/// A storage backend shared across threads.
pub type SharedStorage = Arc<dyn Storage + Send + Sync>;

/// Opens a backend from its URI: `fs:///abs/path`, `fs://./rel/path`, `mem://` or
/// `s3://bucket/prefix?endpoint=…&region=…` (see [`s3`]).
pub fn open(uri: &str) -> Result<SharedStorage, Error> {
    if let Some(path) = uri.strip_prefix("fs://") {
        return Ok(Arc::new(fs::FsStorage::open(path)?));
    }
    if let Some(rest) = uri.strip_prefix("s3://") {
        #[cfg(feature = "s3")]
        return Ok(Arc::new(s3::S3Storage::open(rest)?));
        #[cfg(not(feature = "s3"))]
        return Err(Error::InvalidArgument(format!(
            "storage URI s3://{rest}: this build has no S3 support (cargo feature `s3`, on by default)"
        )));
    }
    if uri == "mem://" || uri == "mem" {
        return Ok(Arc::new(MemStorage::default()));
    }
    Err(Error::InvalidArgument(format!(
        "unsupported storage URI {uri:?} (expected fs:///path, mem:// or s3://bucket/prefix)"
    )))
}

/// Routes object URIs to the backend whose driver matches their scheme.
#[derive(Clone)]
pub struct Router {
    backends: Vec<(String, SharedStorage)>,
}

impl Router {
    /// The first backend is the default driver for new blobs.
    pub fn new(backends: Vec<SharedStorage>) -> Self {
        let backends = backends
            .into_iter()
            .flat_map(|b| b.drivers().into_iter().map(move |d| (d, b.clone())))
            .collect();
        Router { backends }
    }

    /// The backend that serves `uri`; `invalid-argument` for a scheme no backend has.
    pub(crate) fn route(&self, uri: &str) -> Result<&SharedStorage, Error> {
        let scheme = uri.split_once("://").map(|(s, _)| s).unwrap_or("");
        self.backends
            .iter()
            .find(|(d, _)| d == scheme)
            .map(|(_, b)| b)
            .ok_or_else(|| Error::InvalidArgument(format!("no storage driver configured for {uri:?}")))
    }
}

impl Storage for Router {
    fn drivers(&self) -> Vec<String> {
        self.backends.iter().map(|(d, _)| d.clone()).collect()
    }
    fn create_writer(&self, driver: &str) -> Result<Box<dyn BlobWriter + Send>, Error> {
        self.route(&format!("{driver}://"))?.create_writer(driver)
    }
    fn read(&self, uri: &str, offset: u64, len: u64) -> Result<Vec<u8>, Error> {
        self.route(uri)?.read(uri, offset, len)
    }
    // The digesting calls go to the backend too, so one that does them better than the
    // defaults (over `read` and `create_writer`) is used.
    fn open_writer(&self, driver: &str, chunk: u64) -> Result<Box<dyn artifact_component::backend::DigestWriter + Send>, Error> {
        self.route(&format!("{driver}://"))?.open_writer(driver, chunk)
    }
    fn read_chunks(&self, uri: &str, offset: u64, len: u64, chunk: u64) -> Result<(Vec<u8>, Vec<artifact_component::digest::Sha>), Error> {
        self.route(uri)?.read_chunks(uri, offset, len, chunk)
    }
    fn stat(&self, uri: &str) -> Result<Option<u64>, Error> {
        self.route(uri)?.stat(uri)
    }
    fn list_objects(&self, prefix: &str, cursor: Option<&str>, limit: u32) -> Result<(Vec<String>, Option<String>), Error> {
        self.route(prefix)?.list_objects(prefix, cursor, limit)
    }
    fn delete(&self, uri: &str) -> Result<bool, Error> {
        self.route(uri)?.delete(uri)
    }
    fn collect_staging(&self, before: u64) -> Result<u32, Error> {
        let mut n = 0;
        for (i, (_, b)) in self.backends.iter().enumerate() {
            // One backend may serve several drivers: collect once.
            if !self.backends[..i].iter().any(|(_, o)| Arc::ptr_eq(o, b)) {
                n += b.collect_staging(before)?;
            }
        }
        Ok(n)
    }
}
