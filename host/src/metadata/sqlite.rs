//! SQLite metadata (WAL). TODO: implemented by the backends work.
use super::{Inserted, Metadata};
use artifact_component::model::*;

pub struct SqliteMetadata;

impl SqliteMetadata {
    pub fn open(_path: &str) -> Result<Self, Error> {
        Err(Error::Metadata("sqlite metadata not implemented yet".into()))
    }
}

impl Metadata for SqliteMetadata {
    fn insert_if_absent(&self, _r: &Record) -> Result<Inserted, Error> { unimplemented!() }
    fn update(&self, _r: &Record) -> Result<(), Error> { unimplemented!() }
    fn get_by_id(&self, _i: &str) -> Result<Option<Record>, Error> { unimplemented!() }
    fn get_by_ref(&self, _r: &str) -> Result<Option<Record>, Error> { unimplemented!() }
    fn get_by_name(&self, _b: &str, _n: &str) -> Result<Option<Record>, Error> { unimplemented!() }
    fn list(&self, _q: &ListQuery) -> Result<Page, Error> { unimplemented!() }
    fn summary(&self, _b: &str) -> Result<BucketSummary, Error> { unimplemented!() }
    fn delete(&self, _i: &str) -> Result<bool, Error> { unimplemented!() }
    fn touch(&self, _i: &str, _a: Timestamp) -> Result<(), Error> { unimplemented!() }
}
