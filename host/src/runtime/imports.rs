//! The host side of the component's imports: `storage` and `metadata` routed to the configured
//! backends, and `wasi:config/store` answered from the runtime's configuration. Every size the
//! guest asks for is clamped to the runtime's limits.

use super::bindings::artifact::store::{metadata, storage, types};
use super::bindings::wasi::config::store as config;
use super::convert::*;
use crate::embed::ArtifactCtxView;
use crate::storage::verified::VerifiedRead;
use super::stream::{StreamSlot, MAX_STREAM_CHUNK};
use artifact_component::backend::{DigestWriter, Publish};
use artifact_component::digest::{self, ChunkHash};
use artifact_component::model as m;
use wasmtime::component::Resource;

/// A staged write held in the resource table on behalf of the guest; it digests what it is
/// given (natively, see `artifact_component::digest`).
pub struct StagedBlob(Box<dyn DigestWriter + Send>);

type WResult<T> = Result<T, types::Error>;

fn table_err(e: wasmtime::component::ResourceTableError) -> types::Error {
    types::Error::Storage(format!("invalid writer handle: {e}"))
}

impl types::Host for ArtifactCtxView<'_> {}

impl storage::Host for ArtifactCtxView<'_> {
    fn drivers(&mut self) -> Vec<String> {
        use artifact_component::backend::Storage;
        self.ctx.shared.storage.drivers()
    }
    fn create_writer(&mut self, driver: String, chunk_size: u64) -> WResult<Resource<StagedBlob>> {
        use artifact_component::backend::Storage;
        let w = self.ctx.shared.storage.open_writer(&driver, chunk_size).map_err(err_out)?;
        self.table.push(StagedBlob(w)).map_err(table_err)
    }
    fn read(&mut self, uri: String, offset: u64, len: u64) -> WResult<Vec<u8>> {
        use artifact_component::backend::Storage;
        let len = len.min(self.ctx.shared.limits.max_bytes_per_call);
        self.ctx.shared.storage.read(&uri, offset, len).map_err(err_out)
    }
    fn read_chunks(&mut self, uri: String, offset: u64, len: u64, chunk_size: u64) -> WResult<storage::ChunkedBytes> {
        use artifact_component::backend::Storage;
        digest::check_chunk_size(chunk_size).map_err(err_out)?;
        // Capped at whole chunks, as the WIT promises (the limit is at least 1 MiB, a chunk at
        // most 16 MiB: never less than one chunk).
        let cap = (self.ctx.shared.limits.max_bytes_per_call / chunk_size).max(1) * chunk_size;
        let (bytes, chunks) =
            self.ctx.shared.storage.read_chunks(&uri, offset, len.min(cap), chunk_size).map_err(err_out)?;
        Ok(storage::ChunkedBytes { bytes, chunks: digest::flatten(&chunks) })
    }
    fn read_verified(
        &mut self,
        uri: String,
        size: u64,
        chunk_size: u64,
        hash: storage::ChunkHash,
        expected: Vec<u8>,
        offset: u64,
        len: u64,
    ) -> WResult<Option<Resource<wasmtime_wasi::p2::DynInputStream>>> {
        // A stream holds up to one chunk outside the guest's memory: chunks over 1 MiB, or more
        // than a few streams open at once, are read with `read-chunks` instead (into the
        // guest's memory, which its limit bounds). The component uses one 256 KiB stream.
        let Some(slot) = StreamSlot::take(&self.ctx.streams) else { return Ok(None) };
        if chunk_size > MAX_STREAM_CHUNK.min(self.ctx.shared.limits.max_bytes_per_call) {
            return Ok(None);
        }
        let backend = self.ctx.shared.storage.route(&uri).map_err(err_out)?.clone();
        let hash = match hash {
            storage::ChunkHash::Sha256 => ChunkHash::Sha256,
            storage::ChunkHash::Blake3 => ChunkHash::Blake3,
        };
        let read = VerifiedRead::open(backend, &uri, size, chunk_size, (hash, &expected), offset, len).map_err(err_out)?;
        let stream: wasmtime_wasi::p2::DynInputStream = Box::new(super::stream::VerifiedStream::new(read, slot));
        Ok(Some(self.table.push(stream).map_err(|e| types::Error::Storage(format!("resource table: {e}")))?))
    }
    fn stat(&mut self, uri: String) -> WResult<Option<storage::ObjectStat>> {
        use artifact_component::backend::Storage;
        let s = self.ctx.shared.storage.stat(&uri).map_err(err_out)?;
        Ok(s.map(|size| storage::ObjectStat { size }))
    }
    fn list_objects(&mut self, prefix: String, cursor: Option<String>, limit: u32) -> WResult<storage::ObjectPage> {
        use artifact_component::backend::Storage;
        let (uris, next_cursor) =
            self.ctx.shared.storage.list_objects(&prefix, cursor.as_deref(), limit.min(1000)).map_err(err_out)?;
        Ok(storage::ObjectPage { uris, next_cursor })
    }
    fn delete(&mut self, uri: String) -> WResult<bool> {
        use artifact_component::backend::Storage;
        self.ctx.shared.storage.delete(&uri).map_err(err_out)
    }
    fn collect_staging(&mut self, before: u64) -> WResult<u32> {
        use artifact_component::backend::Storage;
        self.ctx.shared.storage.collect_staging(before).map_err(err_out)
    }
}

impl storage::HostWriter for ArtifactCtxView<'_> {
    fn write(&mut self, w: Resource<StagedBlob>, chunk: Vec<u8>) -> WResult<()> {
        let limit = self.ctx.shared.limits.max_bytes_per_call;
        if chunk.len() as u64 > limit {
            return Err(err_out(m::Error::TooLarge { limit, needed: chunk.len() as u64 }));
        }
        self.table.get_mut(&w).map_err(table_err)?.0.write(&chunk).map_err(err_out)
    }
    fn digests(&mut self, w: Resource<StagedBlob>) -> WResult<storage::Digests> {
        let d = self.table.get_mut(&w).map_err(table_err)?.0.digests().map_err(err_out)?;
        Ok(storage::Digests {
            size: d.size,
            sha256: d.sha256.to_vec(),
            chunks: digest::flatten(&d.chunks),
            blake3_chunks: d.blake3.as_deref().map(digest::flatten),
        })
    }
    fn commit(&mut self, w: Resource<StagedBlob>, uri: String, publish: storage::Publish) -> WResult<bool> {
        let p = match publish {
            storage::Publish::IfAbsent => Publish::IfAbsent,
            storage::Publish::Overwrite => Publish::Overwrite,
        };
        self.table.get_mut(&w).map_err(table_err)?.0.commit(&uri, p).map_err(err_out)
    }
    fn abort(&mut self, w: Resource<StagedBlob>) {
        if let Ok(b) = self.table.get_mut(&w) {
            b.0.abort();
        }
    }
    fn drop(&mut self, w: Resource<StagedBlob>) -> wasmtime::Result<()> {
        let mut b = self.table.delete(w)?;
        b.0.abort();
        Ok(())
    }
}

impl metadata::Host for ArtifactCtxView<'_> {
    fn insert_if_absent(&mut self, rec: types::ArtifactRecord) -> WResult<metadata::Inserted> {
        let i = self.ctx.shared.metadata.insert_if_absent(&record_in(rec)).map_err(err_out)?;
        Ok(metadata::Inserted { record: record_out(i.record), created: i.created })
    }
    fn update(&mut self, rec: types::ArtifactRecord) -> WResult<()> {
        self.ctx.shared.metadata.update(&record_in(rec)).map_err(err_out)
    }
    fn get_by_id(&mut self, id: String) -> WResult<Option<types::ArtifactRecord>> {
        Ok(self.ctx.shared.metadata.get_by_id(&id).map_err(err_out)?.map(record_out))
    }
    fn get_by_ref(&mut self, r: String) -> WResult<Option<types::ArtifactRecord>> {
        Ok(self.ctx.shared.metadata.get_by_ref(&r).map_err(err_out)?.map(record_out))
    }
    fn get_by_name(&mut self, bucket: String, name: String) -> WResult<Option<types::ArtifactRecord>> {
        Ok(self.ctx.shared.metadata.get_by_name(&bucket, &name).map_err(err_out)?.map(record_out))
    }
    fn list(&mut self, q: types::ListQuery) -> WResult<types::Page> {
        Ok(page_out(self.ctx.shared.metadata.list(&query_in(q)).map_err(err_out)?))
    }
    fn summary(&mut self, bucket: String) -> WResult<types::BucketSummary> {
        let s = self.ctx.shared.metadata.summary(&bucket).map_err(err_out)?;
        Ok(types::BucketSummary { count: s.count, total_bytes: s.total_bytes })
    }
    fn delete(&mut self, id: String) -> WResult<bool> {
        self.ctx.shared.metadata.delete(&id).map_err(err_out)
    }
    fn touch(&mut self, id: String, at: u64) -> WResult<()> {
        self.ctx.shared.metadata.touch(&id, at).map_err(err_out)
    }
    fn pin_object(&mut self, uri: String, holder: String, now: u64, until: u64) -> WResult<bool> {
        self.ctx.shared.metadata.pin_object(&uri, &holder, now, until).map_err(err_out)
    }
    fn unpin_object(&mut self, uri: String, holder: String) -> WResult<()> {
        self.ctx.shared.metadata.unpin_object(&uri, &holder).map_err(err_out)
    }
    fn claim_delete(&mut self, uri: String, now: u64, until: u64) -> WResult<bool> {
        self.ctx.shared.metadata.claim_delete(&uri, now, until).map_err(err_out)
    }
    fn finish_delete(&mut self, uri: String) -> WResult<()> {
        self.ctx.shared.metadata.finish_delete(&uri).map_err(err_out)
    }
    fn stale_claims(&mut self, before: u64, limit: u32) -> WResult<Vec<String>> {
        self.ctx.shared.metadata.stale_claims(before, limit).map_err(err_out)
    }
}

impl config::Host for ArtifactCtxView<'_> {
    fn get(&mut self, key: String) -> Result<Option<String>, config::Error> {
        Ok(self.ctx.shared.config.get(&key).cloned())
    }
    fn get_all(&mut self) -> Result<Vec<(String, String)>, config::Error> {
        Ok(self.ctx.shared.config.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }
}
