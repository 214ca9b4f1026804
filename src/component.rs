//! Component glue: the generated bindings (private), the WIT imports presented as the engine's
//! [`Storage`]/[`Metadata`] traits, and the exports: `artifacts` ([`artifacts`], the
//! `artifact-store` world) or the HTTP handler (the `edge` world). No semantics live here, only
//! conversions.

mod bindings {
    #[cfg(not(feature = "edge"))]
    wit_bindgen::generate!({
        world: "artifact-store",
        path: "wit",
        generate_all,
    });
    // The `edge` world: the same imports, and the `wasi:http` incoming handler as its one export.
    #[cfg(feature = "edge")]
    wit_bindgen::generate!({
        world: "edge",
        path: "wit",
        generate_all,
    });
}

#[cfg(feature = "edge")]
#[path = "edge_glue.rs"]
mod edge;

#[cfg(not(feature = "edge"))]
mod artifacts;
// wasi-libc's import glue of `wasm32-wasip2` (the `cargo component` build, wasip1 plus the
// adapter, has none of these symbols).
#[cfg(target_env = "p2")]
mod no_cli;

use crate::backend::{BlobWriter, DigestWriter, Inserted, Metadata, Publish, Storage};
use crate::digest::{self, Digests};
use crate::model as m;
use crate::store::Store;
use bindings::artifact::store::{metadata as wm, storage as ws, types as wt};
use std::rc::Rc;

struct Component;
bindings::export!(Component with_types_in bindings);

/// 64 bits from the host's CSPRNG (`wasi:random/random`), for ids and claim tokens.
pub(crate) fn random_u64() -> u64 {
    wasip2::random::random::get_random_u64()
}

// ---------- conversions ----------

crate::wit_type_conversions!();

// ---------- imports as engine traits ----------

struct ImportedStorage;
struct ImportedWriter(Option<ws::Writer>);

impl BlobWriter for ImportedWriter {
    fn write(&mut self, chunk: &[u8]) -> Result<(), m::Error> {
        let w = self.0.as_ref().ok_or_else(|| m::Error::Storage("writer is finished".into()))?;
        w.write(chunk).map_err(err_in)
    }
    fn commit(&mut self, uri: &str, publish: Publish) -> Result<bool, m::Error> {
        let w = self.0.take().ok_or_else(|| m::Error::Storage("writer is finished".into()))?;
        let p = match publish {
            Publish::IfAbsent => ws::Publish::IfAbsent,
            Publish::Overwrite => ws::Publish::Overwrite,
        };
        w.commit(uri, p).map_err(err_in)
    }
    fn abort(&mut self) {
        if let Some(w) = self.0.take() {
            w.abort();
        }
    }
}

impl DigestWriter for ImportedWriter {
    fn digests(&mut self) -> Result<Digests, m::Error> {
        let w = self.0.as_ref().ok_or_else(|| m::Error::Storage("writer is finished".into()))?;
        let d = w.digests().map_err(err_in)?;
        let blake3 = d.blake3_chunks.as_deref().map(digest::unflatten).transpose()?;
        Ok(Digests { size: d.size, sha256: digest::sha_of(&d.sha256)?, chunks: digest::unflatten(&d.chunks)?, blake3 })
    }
}

impl Storage for ImportedStorage {
    fn drivers(&self) -> Vec<String> {
        ws::drivers()
    }
    fn create_writer(&self, driver: &str) -> Result<Box<dyn BlobWriter + Send>, m::Error> {
        ws::create_writer(driver, crate::chunks::CHUNK).map(|w| Box::new(ImportedWriter(Some(w))) as _).map_err(err_in)
    }
    fn open_writer(&self, driver: &str, chunk: u64) -> Result<Box<dyn DigestWriter + Send>, m::Error> {
        ws::create_writer(driver, chunk).map(|w| Box::new(ImportedWriter(Some(w))) as _).map_err(err_in)
    }
    fn read(&self, uri: &str, offset: u64, len: u64) -> Result<Vec<u8>, m::Error> {
        ws::read(uri, offset, len).map_err(err_in)
    }
    fn read_chunks(&self, uri: &str, offset: u64, len: u64, chunk: u64) -> Result<(Vec<u8>, Vec<digest::Sha>), m::Error> {
        let r = ws::read_chunks(uri, offset, len, chunk).map_err(err_in)?;
        Ok((r.bytes, digest::unflatten(&r.chunks)?))
    }
    fn stat(&self, uri: &str) -> Result<Option<u64>, m::Error> {
        ws::stat(uri).map(|s| s.map(|s| s.size)).map_err(err_in)
    }
    fn list_objects(&self, prefix: &str, cursor: Option<&str>, limit: u32) -> Result<(Vec<String>, Option<String>), m::Error> {
        ws::list_objects(prefix, cursor, limit).map(|p| (p.uris, p.next_cursor)).map_err(err_in)
    }
    fn delete(&self, uri: &str) -> Result<bool, m::Error> {
        ws::delete(uri).map_err(err_in)
    }
    fn collect_staging(&self, before: m::Timestamp) -> Result<u32, m::Error> {
        ws::collect_staging(before).map_err(err_in)
    }
}

struct ImportedMetadata;

impl Metadata for ImportedMetadata {
    fn insert_if_absent(&self, rec: &m::Record) -> Result<Inserted, m::Error> {
        wm::insert_if_absent(&record_out(rec.clone()))
            .map(|i| Inserted { record: record_in(i.record), created: i.created })
            .map_err(err_in)
    }
    fn update(&self, rec: &m::Record) -> Result<(), m::Error> {
        wm::update(&record_out(rec.clone())).map_err(err_in)
    }
    fn get_by_id(&self, id: &str) -> Result<Option<m::Record>, m::Error> {
        wm::get_by_id(id).map(|r| r.map(record_in)).map_err(err_in)
    }
    fn get_by_ref(&self, r: &str) -> Result<Option<m::Record>, m::Error> {
        wm::get_by_ref(r).map(|r| r.map(record_in)).map_err(err_in)
    }
    fn get_by_name(&self, bucket: &str, name: &str) -> Result<Option<m::Record>, m::Error> {
        wm::get_by_name(bucket, name).map(|r| r.map(record_in)).map_err(err_in)
    }
    fn list(&self, q: &m::ListQuery) -> Result<m::Page, m::Error> {
        wm::list(&query_out(q))
            .map(|p| m::Page { records: p.records.into_iter().map(record_in).collect(), next_cursor: p.next_cursor })
            .map_err(err_in)
    }
    fn summary(&self, bucket: &str) -> Result<m::BucketSummary, m::Error> {
        wm::summary(bucket).map(|s| m::BucketSummary { count: s.count, total_bytes: s.total_bytes }).map_err(err_in)
    }
    fn delete(&self, id: &str) -> Result<bool, m::Error> {
        wm::delete(id).map_err(err_in)
    }
    fn pin_object(&self, uri: &str, holder: &str, now: m::Timestamp, until: m::Timestamp) -> Result<bool, m::Error> {
        wm::pin_object(uri, holder, now, until).map_err(err_in)
    }
    fn unpin_object(&self, uri: &str, holder: &str) -> Result<(), m::Error> {
        wm::unpin_object(uri, holder).map_err(err_in)
    }
    fn claim_delete(&self, uri: &str, now: m::Timestamp, until: m::Timestamp) -> Result<bool, m::Error> {
        wm::claim_delete(uri, now, until).map_err(err_in)
    }
    fn finish_delete(&self, uri: &str) -> Result<(), m::Error> {
        wm::finish_delete(uri).map_err(err_in)
    }
    fn stale_claims(&self, before: m::Timestamp, limit: u32) -> Result<Vec<String>, m::Error> {
        wm::stale_claims(before, limit).map_err(err_in)
    }
    fn touch(&self, id: &str, at: m::Timestamp) -> Result<(), m::Error> {
        wm::touch(id, at).map_err(err_in)
    }
}

/// `wasi:config/store` as the engine's [`crate::sign::Config`].
pub(crate) struct ConfigStore;

impl crate::sign::Config for ConfigStore {
    fn get(&self, key: &str) -> Result<Option<String>, m::Error> {
        use bindings::wasi::config::store as wcfg;
        wcfg::get(key).map_err(|e| match e {
            wcfg::Error::Upstream(s) | wcfg::Error::Io(s) => m::Error::InvalidArgument(format!("wasi:config: {s}")),
        })
    }
}

thread_local! {
    /// The engine over the imports, built once per instance (a call clones two `Rc`s).
    static ENGINE: Store = Store::new(Rc::new(ImportedStorage), Rc::new(ImportedMetadata));
}

fn engine() -> Store {
    ENGINE.with(Store::clone)
}
