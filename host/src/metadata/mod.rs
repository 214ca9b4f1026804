//! Metadata backends, selected by URI.

pub mod sqlite;

pub use artifact_component::backend::mem::MemMetadata;
pub use artifact_component::backend::{Inserted, Metadata};
use artifact_component::model::Error;
use std::sync::Arc;

/// A metadata backend shared across threads.
pub type SharedMetadata = Arc<dyn Metadata + Send + Sync>;

/// Opens a backend from its URI: `sqlite:///abs/path.db`, `sqlite://./rel.db` or `mem://`.
pub fn open(uri: &str) -> Result<SharedMetadata, Error> {
    if let Some(path) = uri.strip_prefix("sqlite://") {
        return Ok(Arc::new(sqlite::SqliteMetadata::open(path)?));
    }
    if uri == "mem://" || uri == "mem" {
        return Ok(Arc::new(MemMetadata::default()));
    }
    Err(Error::InvalidArgument(format!(
        "unsupported metadata URI {uri:?} (expected sqlite:///path or mem://)"
    )))
}
