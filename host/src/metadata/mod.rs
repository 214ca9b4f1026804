//! Metadata backends, selected by URI.

pub mod postgres;
mod sql;
pub mod sqlite;

pub use artifact_component::backend::mem::MemMetadata;
pub use artifact_component::backend::{Inserted, Metadata};
use artifact_component::model::Error;
use std::sync::Arc;

/// A metadata backend shared across threads.
pub type SharedMetadata = Arc<dyn Metadata + Send + Sync>;

/// Opens a backend from its URI: `sqlite:///abs/path.db`, `sqlite://./rel.db`, `mem://` or
/// `postgres://user:password@host:port/database` (also `postgresql://`; see [`postgres`]).
pub fn open(uri: &str) -> Result<SharedMetadata, Error> {
    if uri.starts_with("postgres://") || uri.starts_with("postgresql://") {
        return Ok(Arc::new(OffRuntime(postgres::PostgresMetadata::open(uri)?)));
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

/// Runs `f` on a scoped thread when called from inside a tokio runtime (the HTTP server runs
/// instances on one), directly otherwise. Backends whose client drives its own runtime, like the
/// `postgres` crate, panic when blocked on from inside another runtime.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| match s.spawn(f).join() {
            Ok(v) => v,
            Err(p) => std::panic::resume_unwind(p),
        })
    } else {
        f()
    }
}

/// A metadata backend whose calls are moved off any async runtime (see [`off_runtime`]).
pub struct OffRuntime<M>(pub M);

impl<M: Metadata + Sync> Metadata for OffRuntime<M> {
    fn insert_if_absent(&self, rec: &artifact_component::model::Record) -> Result<Inserted, Error> {
        off_runtime(|| self.0.insert_if_absent(rec))
    }
    fn update(&self, rec: &artifact_component::model::Record) -> Result<(), Error> {
        off_runtime(|| self.0.update(rec))
    }
    fn get_by_id(&self, id: &str) -> Result<Option<artifact_component::model::Record>, Error> {
        off_runtime(|| self.0.get_by_id(id))
    }
    fn get_by_ref(&self, r: &str) -> Result<Option<artifact_component::model::Record>, Error> {
        off_runtime(|| self.0.get_by_ref(r))
    }
    fn get_by_name(&self, bucket: &str, name: &str) -> Result<Option<artifact_component::model::Record>, Error> {
        off_runtime(|| self.0.get_by_name(bucket, name))
    }
    fn list(&self, q: &artifact_component::model::ListQuery) -> Result<artifact_component::model::Page, Error> {
        off_runtime(|| self.0.list(q))
    }
    fn summary(&self, bucket: &str) -> Result<artifact_component::model::BucketSummary, Error> {
        off_runtime(|| self.0.summary(bucket))
    }
    fn delete(&self, id: &str) -> Result<bool, Error> {
        off_runtime(|| self.0.delete(id))
    }
    fn touch(&self, id: &str, at: artifact_component::model::Timestamp) -> Result<(), Error> {
        off_runtime(|| self.0.touch(id, at))
    }
    fn pin_object(&self, uri: &str, holder: &str, now: u64, until: u64) -> Result<bool, Error> {
        off_runtime(|| self.0.pin_object(uri, holder, now, until))
    }
    fn unpin_object(&self, uri: &str, holder: &str) -> Result<(), Error> {
        off_runtime(|| self.0.unpin_object(uri, holder))
    }
    fn claim_delete(&self, uri: &str, now: u64, until: u64) -> Result<bool, Error> {
        off_runtime(|| self.0.claim_delete(uri, now, until))
    }
    fn finish_delete(&self, uri: &str) -> Result<(), Error> {
        off_runtime(|| self.0.finish_delete(uri))
    }
    fn stale_claims(&self, before: u64, limit: u32) -> Result<Vec<String>, Error> {
        off_runtime(|| self.0.stale_claims(before, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_runtime_leaves_the_runtime_thread() {
        let outer = std::thread::current().id();
        assert_eq!(off_runtime(|| std::thread::current().id()), outer);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let inner = rt.block_on(async { off_runtime(|| std::thread::current().id()) });
        assert_ne!(inner, outer);
        // A nested runtime can be driven there, which would panic on the runtime's own thread.
        let v = rt.block_on(async {
            off_runtime(|| tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async { 7 }))
        });
        assert_eq!(v, 7);
    }
}
