//! The `artifacts` export of the `artifact-store` world, delegating to [`Store`]: conversions
//! between its WIT types and the engine's, and its resources (reader, writer, part reader).
//! The `edge` world does not export `artifacts` (it serves HTTP only), so this module is built
//! for the plain component alone.

use super::bindings::exports::artifact::store::artifacts as wa;
use super::*;
use crate::manifest;
use crate::store;
use std::cell::RefCell;

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


pub(super) struct ReaderRes(RefCell<store::Reader>);
pub(super) struct WriterRes(RefCell<store::Writer>);
pub(super) struct PartsRes(RefCell<manifest::PartReader>);

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
        let o = store::GcOptions { staging_grace_ms: options.staging_grace_ms, ..Default::default() };
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

