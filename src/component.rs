//! Component glue: the generated bindings (private), the WIT imports presented as the engine's
//! [`Storage`]/[`Metadata`] traits, and the `artifacts` export delegating to [`Store`]. No
//! semantics live here, only conversions.

mod bindings {
    #[cfg(not(feature = "edge"))]
    wit_bindgen::generate!({
        world: "artifact-store",
        path: "wit",
        generate_all,
    });
    // The `edge` world: everything above plus the `wasi:http` incoming handler.
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

use crate::backend::{BlobWriter, DigestWriter, Inserted, Metadata, Publish, Storage};
use crate::digest::{self, Digests};
use crate::manifest;
use crate::model as m;
use crate::store::{self, Store};
use bindings::artifact::store::{metadata as wm, storage as ws, types as wt};
use bindings::exports::artifact::store::artifacts as wa;
use std::cell::RefCell;
use std::rc::Rc;

struct Component;
bindings::export!(Component with_types_in bindings);

/// 64 bits from the host's CSPRNG (`wasi:random/random`), for ids and claim tokens.
pub(crate) fn random_u64() -> u64 {
    wasip2::random::random::get_random_u64()
}

// ---------- conversions ----------

crate::wit_type_conversions!();

fn get_options_in(o: wa::GetOptions) -> m::GetOptions {
    m::GetOptions {
        mode: o.mode.map(mode_in),
        max_bytes: o.max_bytes,
        range: o.range.map(range_in),
        resolve_manifest: o.resolve_manifest,
        manifest_limits: o.manifest_limits.map(|l| m::ManifestLimits { max_depth: l.max_depth, max_parts: l.max_parts }),
    }
}

fn put_options_in(o: wa::PutOptions) -> m::PutOptions {
    m::PutOptions {
        content_type: o.content_type,
        compression: o.compression.map(compression_in),
        bucket: o.bucket,
        name: o.name,
        if_exists: o.if_exists.map(if_exists_in),
        created_by: o.created_by,
        store: o.store,
        execution_id: o.execution_id,
        step: o.step,
        scope: o.scope.map(scope_in),
        ttl: o.ttl,
        kind: o.kind.map(kind_in),
        max_bytes: o.max_bytes,
        precompressed: o.precompressed,
    }
}

fn body_out(b: m::Body) -> wa::Body {
    match b {
        m::Body::Json(s) => wa::Body::Json(s),
        m::Body::Text(s) => wa::Body::Text(s),
        m::Body::Bytes(v) => wa::Body::Bytes(v),
    }
}

fn put_result_out(p: m::PutResult) -> wa::PutResult {
    wa::PutResult { record: record_out(p.record), created: p.created, result_ref: p.result_ref }
}

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
        Ok(Digests { size: d.size, sha256: digest::sha_of(&d.sha256)?, chunks: digest::unflatten(&d.chunks)? })
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

fn externalize_options_in(o: wa::ExternalizeOptions) -> m::ExternalizeOptions {
    m::ExternalizeOptions {
        inline_max_bytes: o.inline_max_bytes,
        preview_max_bytes: o.preview_max_bytes,
        select: o.select,
        put: put_options_in(o.put),
    }
}

fn externalized_out(x: m::Externalized) -> wa::Externalized {
    wa::Externalized {
        inline: x.inline,
        result_ref: x.result_ref,
        preview: x.preview,
        extracted: x.extracted,
        error: x.error.map(err_out),
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

fn engine() -> Store {
    Store::new(Rc::new(ImportedStorage), Rc::new(ImportedMetadata))
}

// ---------- exports ----------

struct ReaderRes(RefCell<store::Reader>);
struct WriterRes(RefCell<store::Writer>);
struct PartsRes(RefCell<manifest::PartReader>);

impl wa::GuestReader for ReaderRes {
    fn meta(&self) -> wt::ArtifactRecord {
        record_out(self.0.borrow().meta().clone())
    }
    fn read(&self, max: u32) -> Result<Vec<u8>, wt::Error> {
        self.0.borrow_mut().read(max as usize).map_err(err_out)
    }
}

impl wa::GuestWriter for WriterRes {
    fn write(&self, chunk: Vec<u8>) -> Result<(), wt::Error> {
        self.0.borrow_mut().write(&chunk).map_err(err_out)
    }
    fn finish(&self) -> Result<wa::PutResult, wt::Error> {
        self.0.borrow_mut().finish().map(put_result_out).map_err(err_out)
    }
    fn abort(&self) {
        self.0.borrow_mut().abort()
    }
}

fn strategy_in(s: wa::Strategy) -> manifest::Strategy {
    match s {
        wa::Strategy::Append => manifest::Strategy::Append,
        wa::Strategy::Concat => manifest::Strategy::Concat,
        wa::Strategy::Merge => manifest::Strategy::Merge,
        wa::Strategy::Replace => manifest::Strategy::Replace,
    }
}

fn manifest_options_in(o: wa::ManifestOptions) -> manifest::ManifestOptions {
    manifest::ManifestOptions {
        strategy: strategy_in(o.strategy),
        merge_path: o.merge_path,
        put: put_options_in(o.put),
        correlation: o.correlation,
        metadata: None,
    }
}

fn part_out(p: manifest::Part) -> wa::Part {
    wa::Part { index: p.index, data: body_out(p.data), meta: record_out(p.meta) }
}

impl wa::GuestPartReader for PartsRes {
    fn meta(&self) -> wt::ArtifactRecord {
        record_out(self.0.borrow().meta().clone())
    }
    fn next(&self) -> Result<Option<wa::Part>, wt::Error> {
        self.0.borrow_mut().next().map(|p| p.map(part_out)).map_err(err_out)
    }
}

impl wa::Guest for Component {
    type Reader = ReaderRes;
    type Writer = WriterRes;
    type PartReader = PartsRes;

    fn get(r: String, options: wa::GetOptions) -> Result<wa::GetResult, wt::Error> {
        let g = engine().get(&r, &get_options_in(options)).map_err(err_out)?;
        Ok(wa::GetResult { data: body_out(g.data), meta: record_out(g.meta) })
    }
    fn head(r: String) -> Result<wt::ArtifactRecord, wt::Error> {
        engine().head(&r).map(record_out).map_err(err_out)
    }
    fn put(data: Vec<u8>, options: wa::PutOptions) -> Result<wa::PutResult, wt::Error> {
        engine().put(&data, &put_options_in(options)).map(put_result_out).map_err(err_out)
    }
    fn open_reader(r: String, options: wa::GetOptions) -> Result<wa::Reader, wt::Error> {
        let rd = engine().open_reader(&r, &get_options_in(options)).map_err(err_out)?;
        Ok(wa::Reader::new(ReaderRes(RefCell::new(rd))))
    }
    fn open_writer(options: wa::PutOptions) -> Result<wa::Writer, wt::Error> {
        let w = engine().open_writer(&put_options_in(options)).map_err(err_out)?;
        Ok(wa::Writer::new(WriterRes(RefCell::new(w))))
    }
    fn find(bucket: String, name: String) -> Result<wt::ArtifactRecord, wt::Error> {
        engine().find(&bucket, &name).map(record_out).map_err(err_out)
    }
    fn list(query: wt::ListQuery) -> Result<wt::Page, wt::Error> {
        engine().list(&query_in(query)).map(page_out).map_err(err_out)
    }
    fn summary(bucket: String) -> Result<wt::BucketSummary, wt::Error> {
        engine()
            .summary(&bucket)
            .map(|s| wt::BucketSummary { count: s.count, total_bytes: s.total_bytes })
            .map_err(err_out)
    }
    fn delete(r: String) -> Result<String, wt::Error> {
        engine().delete(&r).map_err(err_out)
    }
    fn gc(options: wa::GcOptions) -> Result<wa::GcReport, wt::Error> {
        let mut o = store::GcOptions::default();
        o.staging_grace_ms = options.staging_grace_ms;
        engine()
            .gc_with(&o)
            .map(|g| wa::GcReport { records: g.records, blobs: g.blobs, staging: g.staging })
            .map_err(err_out)
    }
    fn externalize(result: String, options: wa::ExternalizeOptions) -> wa::Externalized {
        externalized_out(engine().externalize(&result, &externalize_options_in(options)))
    }
    fn sign(r: String, ttl: u64, o: wa::SignOptions) -> Result<String, wt::Error> {
        let opts = crate::sign::SignOptions { method: o.method, range: o.range.map(range_in), kid: o.kid };
        engine().sign(&ConfigStore, &r, ttl, &opts).map_err(err_out)
    }
    fn sign_upload(bucket: String, name: String, ttl: u64, o: wa::UploadOptions) -> Result<String, wt::Error> {
        let opts = crate::sign::upload::UploadOptions {
            content_type: o.content_type,
            max_bytes: o.max_bytes,
            compression: o.compression.map(compression_in),
            kid: o.kid,
        };
        engine().sign_upload(&ConfigStore, &bucket, &name, ttl, &opts).map_err(err_out)
    }
    fn manifest_create(options: wa::ManifestOptions, parts: Vec<String>) -> Result<wa::PutResult, wt::Error> {
        engine().manifest_create(&manifest_options_in(options), &parts).map(put_result_out).map_err(err_out)
    }
    fn manifest_add(manifest: String, part: String, index: Option<u32>) -> Result<wa::PutResult, wt::Error> {
        engine().manifest_add(&manifest, &part, index).map(put_result_out).map_err(err_out)
    }
    fn manifest_complete(manifest: String) -> Result<wa::PutResult, wt::Error> {
        engine().manifest_complete(&manifest).map(put_result_out).map_err(err_out)
    }
    fn open_parts(manifest: String, options: wa::GetOptions) -> Result<wa::PartReader, wt::Error> {
        let r = engine().open_parts(&manifest, &get_options_in(options)).map_err(err_out)?;
        Ok(wa::PartReader::new(PartsRes(RefCell::new(r))))
    }
}

