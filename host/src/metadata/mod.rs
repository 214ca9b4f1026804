//! Metadata backends, selected by URI.

pub mod postgres;
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
        return Ok(Arc::new(postgres::PostgresMetadata::open(uri)?));
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
