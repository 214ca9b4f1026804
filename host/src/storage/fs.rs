//! Filesystem storage (driver `fs`). TODO: implemented by the backends work.
use super::{BlobWriter, Storage};
use artifact_component::model::Error;

pub struct FsStorage;

impl FsStorage {
    pub fn open(_root: &str) -> Result<Self, Error> {
        Err(Error::Storage("fs storage not implemented yet".into()))
    }
}

impl Storage for FsStorage {
    fn drivers(&self) -> Vec<String> { vec!["fs".into()] }
    fn create_writer(&self, _d: &str) -> Result<Box<dyn BlobWriter + Send>, Error> { unimplemented!() }
    fn read(&self, _u: &str, _o: u64, _l: u64) -> Result<Vec<u8>, Error> { unimplemented!() }
    fn stat(&self, _u: &str) -> Result<Option<u64>, Error> { unimplemented!() }
    fn list_objects(&self, _p: &str, _c: Option<&str>, _l: u32) -> Result<(Vec<String>, Option<String>), Error> { unimplemented!() }
    fn delete(&self, _u: &str) -> Result<bool, Error> { unimplemented!() }
}
