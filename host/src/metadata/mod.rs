//! Metadata backends, selected by URI.

pub mod postgres;
pub mod reads;
mod sql;
pub mod sqlite;

pub use artifact_component::backend::mem::MemMetadata;
pub use artifact_component::backend::{Inserted, Metadata};
use artifact_component::model::Error;
use crate::blocking::leave_runtime;
use std::sync::Arc;

/// A metadata backend shared across threads.
pub type SharedMetadata = Arc<dyn Metadata + Send + Sync>;

/// Opens a backend from its URI: `sqlite:///abs/path.db`, `sqlite://./rel.db`, `mem://` or
/// `postgres://user:password@host:port/database` (also `postgresql://`; see [`postgres`]).
pub fn open(uri: &str) -> Result<SharedMetadata, Error> {
    if uri.starts_with("postgres://") || uri.starts_with("postgresql://") {
        return Ok(Arc::new(OffRuntime::new(postgres::PostgresMetadata::open(uri)?)));
    }
    if let Some(path) = uri.strip_prefix("sqlite://") {
        return Ok(Arc::new(sqlite::SqliteMetadata::open(path)?));
    }
    if uri == "mem://" || uri == "mem" {
        return Ok(Arc::new(MemMetadata::default()));
    }
    Err(Error::InvalidArgument(format!(
        "unsupported metadata URI {uri:?} (expected sqlite:///path, mem:// or postgres://…)"
    )))
}

/// A metadata backend whose calls may wait on the network: each leaves the async runtime it is
/// called from (see [`crate::blocking`]), and so does dropping it (the `postgres` client closes
/// its connections by blocking on them, which panics on a runtime's thread).
pub struct OffRuntime<M: Send>(Option<M>);

impl<M: Send> OffRuntime<M> {
    pub fn new(backend: M) -> Self {
        OffRuntime(Some(backend))
    }
    fn inner(&self) -> &M {
        self.0.as_ref().expect("taken only by drop")
    }
}

impl<M: Send> Drop for OffRuntime<M> {
    fn drop(&mut self) {
        if let Some(backend) = self.0.take() {
            leave_runtime(move || drop(backend));
        }
    }
}

impl<M: Metadata + Sync + Send> Metadata for OffRuntime<M> {
    fn insert_if_absent(&self, rec: &artifact_component::model::Record) -> Result<Inserted, Error> {
        leave_runtime(|| self.inner().insert_if_absent(rec))
    }
    fn update(&self, rec: &artifact_component::model::Record) -> Result<(), Error> {
        leave_runtime(|| self.inner().update(rec))
    }
    fn get_by_id(&self, id: &str) -> Result<Option<artifact_component::model::Record>, Error> {
        leave_runtime(|| self.inner().get_by_id(id))
    }
    fn get_by_ref(&self, r: &str) -> Result<Option<artifact_component::model::Record>, Error> {
        leave_runtime(|| self.inner().get_by_ref(r))
    }
    fn get_by_name(&self, bucket: &str, name: &str) -> Result<Option<artifact_component::model::Record>, Error> {
        leave_runtime(|| self.inner().get_by_name(bucket, name))
    }
    fn list(&self, q: &artifact_component::model::ListQuery) -> Result<artifact_component::model::Page, Error> {
        leave_runtime(|| self.inner().list(q))
    }
    fn summary(&self, bucket: &str) -> Result<artifact_component::model::BucketSummary, Error> {
        leave_runtime(|| self.inner().summary(bucket))
    }
    fn delete(&self, id: &str) -> Result<bool, Error> {
        leave_runtime(|| self.inner().delete(id))
    }
    fn touch(&self, id: &str, at: artifact_component::model::Timestamp) -> Result<(), Error> {
        leave_runtime(|| self.inner().touch(id, at))
    }
    fn pin_object(&self, uri: &str, holder: &str, now: u64, until: u64) -> Result<bool, Error> {
        leave_runtime(|| self.inner().pin_object(uri, holder, now, until))
    }
    fn unpin_object(&self, uri: &str, holder: &str) -> Result<(), Error> {
        leave_runtime(|| self.inner().unpin_object(uri, holder))
    }
    fn claim_delete(&self, uri: &str, now: u64, until: u64) -> Result<bool, Error> {
        leave_runtime(|| self.inner().claim_delete(uri, now, until))
    }
    fn finish_delete(&self, uri: &str) -> Result<(), Error> {
        leave_runtime(|| self.inner().finish_delete(uri))
    }
    fn stale_claims(&self, before: u64, limit: u32) -> Result<Vec<String>, Error> {
        leave_runtime(|| self.inner().stale_claims(before, limit))
    }
}
