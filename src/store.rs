//! The artifact engine: put / get / head / find / list / delete / gc over any [`Storage`] and
//! [`Metadata`]. The component exports exactly this; native code (tests, benchmarks) calls it
//! directly.

use crate::backend::{DigestWriter, Metadata, Publish, Storage};
use crate::chunks::{index_uri, object_of_index, ChunkHasher, ChunkIndex, INDEX_PREFIX};
use crate::codec::{self, BlobSource, Encoder, Sink, Verifier};
use crate::ids;
use crate::model::*;
use crate::refs::{self, Logical, Ref};
use crate::sign::carried::REVOKED_PREFIX;
use crate::template::Template;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::rc::Rc;

/// Default cap of `get` (bytes fetched and decompressed) when the caller gives none.
pub const DEFAULT_GET_MAX_BYTES: u64 = 256 << 20;
/// Default bucket of artifacts put without one.
pub const DEFAULT_BUCKET: &str = "default";
/// How long a put's pin on its object URI lasts (WIT `metadata.pin-object`): the time from just
/// before its object is committed until its record is inserted must stay under this, or a `gc`
/// may treat the object as left behind by a killed put.
pub const PIN_LEASE_MS: u64 = 15 * 60 * 1000;
/// How long a delete claim lasts: between the claim and the end of the storage delete.
pub const DELETE_LEASE_MS: u64 = 60 * 1000;
/// How long `gc` leaves staged writes alone by default (a put streaming for longer than this
/// while `gc` runs may lose its staging and fail cleanly).
pub const DEFAULT_STAGING_GRACE_MS: u64 = 60 * 60 * 1000;
/// Pause between pin attempts while a delete of the same URI is under way.
const PIN_RETRY: std::time::Duration = std::time::Duration::from_millis(5);
/// The reserved first segment of content-addressed object paths.
const CONTENT_PREFIX: &str = "blobs";
/// Latest accepted expiry: 9999-12-31T23:59:59.999Z (timestamps print as RFC 3339).
const MAX_TIMESTAMP: Timestamp = 253_402_300_799_999;

/// The engine. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub storage: Rc<dyn Storage>,
    pub metadata: Rc<dyn Metadata>,
    /// Clock in ms; replaceable for tests.
    pub now: fn() -> Timestamp,
}

use crate::encoding::hex;

/// Extension used by the `ext` template variable.
fn ext_for(content_type: &str, c: Compression) -> String {
    let ct = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let base = match ct.as_str() {
        "application/json" => "json",
        "text/plain" => "txt",
        "text/csv" => "csv",
        "text/html" => "html",
        "application/xml" | "text/xml" => "xml",
        "application/vnd.ms-excel" => "xls",
        "application/pdf" => "pdf",
        t if t.ends_with("+json") => "json",
        _ => "bin",
    };
    format!("{base}{}", c.blob_suffix())
}

impl Store {
    pub fn new(storage: Rc<dyn Storage>, metadata: Rc<dyn Metadata>) -> Self {
        Store { storage, metadata, now: ids::now_ms }
    }

    /// The same store on another clock (tests).
    pub fn clone_with_now(&self, now: fn() -> Timestamp) -> Store {
        Store { now, ..self.clone() }
    }

    /// Resolves any ref form to its record; `not-found` when it names nothing.
    pub fn resolve(&self, r: &str) -> Result<Record, Error> {
        let parsed = refs::parse_ref(r)?;
        let (found, promised) = match &parsed {
            Ref::Id(id) => (self.metadata.get_by_id(id)?, None),
            Ref::Logical(l) => (self.metadata.get_by_ref(l)?, None),
            Ref::Name { bucket, name } => (self.metadata.get_by_name(bucket, name)?, None),
            Ref::ResultRef { logical, sha256 } => (self.metadata.get_by_ref(logical)?, sha256.clone()),
        };
        let rec = found.ok_or_else(|| Error::NotFound(format!("no artifact for {}", short(r))))?;
        if let Some(d) = promised {
            if !d.eq_ignore_ascii_case(&rec.sha256) {
                return Err(Error::Integrity(format!(
                    "ResultRef promises sha256 {d} but the artifact has {}",
                    rec.sha256
                )));
            }
        }
        Ok(rec)
    }

    /// Resolves and refuses expired artifacts.
    pub fn resolve_live(&self, r: &str) -> Result<Record, Error> {
        self.live(self.resolve(r)?)
    }

    /// `rec` unless it has expired (`expired`).
    pub(crate) fn live(&self, rec: Record) -> Result<Record, Error> {
        if let Some(e) = rec.expires_at {
            if e <= (self.now)() {
                return Err(Error::Expired(format!(
                    "artifact {} expired at {}",
                    rec.id,
                    crate::time::format_rfc3339(e)
                )));
            }
        }
        Ok(rec)
    }

    /// The record, without reading the body.
    pub fn head(&self, r: &str) -> Result<Record, Error> {
        self.resolve_live(r)
    }

    /// Exactly one artifact by bucket + name.
    pub fn find(&self, bucket: &str, name: &str) -> Result<Record, Error> {
        refs::validate_bucket(bucket)?;
        refs::validate_name(name)?;
        self.metadata
            .get_by_name(bucket, name)?
            .ok_or_else(|| Error::NotFound(format!("no artifact {bucket}/{name}")))
    }

    /// Reads a body.
    pub fn get(&self, r: &str, opts: &GetOptions) -> Result<GetResult, Error> {
        let mode = opts.mode.unwrap_or_default();
        let max = opts.max_bytes.unwrap_or(DEFAULT_GET_MAX_BYTES);
        let rec = self.resolve_live(r)?;
        if rec.kind == Kind::Manifest && opts.resolve_manifest.unwrap_or(true) {
            return self.get_resolved_manifest(rec, opts);
        }
        // The record moves through the reader and back (no copy of its strings per read).
        let mut reader = Reader::open(self, rec, opts.range, Some(max))?;
        let bytes = reader.read_to_end()?;
        let rec = reader.into_meta();
        let data = codec::decode_body(bytes, mode)?;
        let _ = self.metadata.touch(&rec.id, (self.now)());
        Ok(GetResult { data, meta: rec })
    }

    /// Logical bytes of `rec` (all, or `range`), bounded by `max`.
    pub fn read_logical(&self, rec: &Record, range: Option<ByteRange>, max: u64) -> Result<Vec<u8>, Error> {
        let mut reader = Reader::open(self, rec.clone(), range, Some(max))?;
        reader.read_to_end()
    }

    /// Opens a streaming reader.
    pub fn open_reader(&self, r: &str, opts: &GetOptions) -> Result<Reader, Error> {
        let rec = self.resolve_live(r)?;
        let _ = self.metadata.touch(&rec.id, (self.now)());
        Reader::open(self, rec, opts.range, opts.max_bytes)
    }

    /// Stores a body in one call.
    pub fn put(&self, data: &[u8], opts: &PutOptions) -> Result<PutResult, Error> {
        self.put_as(data, opts, false)
    }

    /// [`Store::put`] on behalf of the manifest operations; see [`Store::open_writer_as`].
    pub(crate) fn put_as(&self, data: &[u8], opts: &PutOptions, manifest_api: bool) -> Result<PutResult, Error> {
        let mut w = self.open_writer_as(opts, manifest_api)?;
        w.write(data)?;
        w.finish()
    }

    /// Opens a streaming writer. All validation happens here, before anything is written.
    pub fn open_writer(&self, opts: &PutOptions) -> Result<Writer, Error> {
        self.open_writer_as(opts, false)
    }

    /// [`Store::open_writer`]; `manifest_api` is true only for the manifest operations, which are
    /// the one way to create or change a manifest (so a completed one stays immutable).
    pub(crate) fn open_writer_as(&self, opts: &PutOptions, manifest_api: bool) -> Result<Writer, Error> {
        if opts.kind == Some(Kind::Manifest) && !manifest_api {
            return Err(Error::InvalidArgument(
                "manifests are created and changed with manifest-create / manifest-add / manifest-complete".into(),
            ));
        }
        let now = (self.now)();
        let bucket = opts.bucket.clone().unwrap_or_else(|| DEFAULT_BUCKET.to_string());
        refs::validate_bucket(&bucket)?;
        if let Some(n) = &opts.name {
            refs::validate_name(n)?;
        }
        for (what, v) in [("execution id", &opts.execution_id), ("step", &opts.step), ("created-by", &opts.created_by)] {
            if let Some(v) = v {
                if v.is_empty() || v.len() > 256 || v.chars().any(char::is_control) {
                    return Err(Error::InvalidArgument(format!("invalid {what} {v:?}")));
                }
            }
        }
        let content_type = opts.content_type.clone().unwrap_or_else(|| "application/json".into());
        if content_type.is_empty() || content_type.len() > 255 || content_type.chars().any(char::is_control) {
            return Err(Error::InvalidArgument(format!("invalid content type {content_type:?}")));
        }
        let compression = opts.compression.unwrap_or_default();
        let precompressed = opts.precompressed.unwrap_or(false);
        if precompressed && compression == Compression::None {
            return Err(Error::InvalidArgument(
                "precompressed data needs compression gzip or deflate (got none)".into(),
            ));
        }
        let expires_at = match &opts.ttl {
            None => None,
            Some(t) => crate::time::parse_ttl(t)?.map(|ms| now.saturating_add(ms)),
        };
        if let Some(e) = expires_at.filter(|e| *e > MAX_TIMESTAMP) {
            return Err(Error::InvalidArgument(format!(
                "ttl {:?} puts the expiry past year 9999 ({e} ms since the epoch)",
                opts.ttl.as_deref().unwrap_or_default()
            )));
        }
        let kind = opts.kind.unwrap_or_default();
        let drivers = self.storage.drivers();
        let default_driver = drivers
            .first()
            .cloned()
            .ok_or_else(|| Error::Storage("the host configured no storage driver".into()))?;
        let target = match opts.store.as_deref() {
            None | Some("") => Target::Content(default_driver),
            Some(s) if !s.contains("://") => Target::Content(s.to_string()),
            Some(s) => Target::Template(Template::parse(s)?),
        };
        let driver = match &target {
            Target::Content(d) => d.clone(),
            Target::Template(t) => t.driver.clone(),
        };
        if !drivers.contains(&driver) {
            return Err(Error::InvalidArgument(format!(
                "storage driver {driver:?} is not configured (configured: {})",
                drivers.join(", ")
            )));
        }
        let if_exists = opts.if_exists.unwrap_or_default();
        let existing = match &opts.name {
            Some(n) => self.metadata.get_by_name(&bucket, n)?,
            None => None,
        };
        if let (Some(e), IfExists::Overwrite, false) = (&existing, if_exists, manifest_api) {
            if e.kind == Kind::Manifest {
                return Err(Error::Conflict(format!(
                    "{bucket}/{} is a manifest; change it with manifest-add / manifest-complete",
                    e.name
                )));
            }
        }
        if let (Some(e), IfExists::Fail) = (&existing, if_exists) {
            return Err(Error::Conflict(format!("{bucket}/{} already exists as {}", e.name, e.id)));
        }
        let id = match (&existing, if_exists) {
            (Some(e), IfExists::Overwrite) => e.id.clone(),
            _ => ids::new_id(now),
        };
        let name = opts.name.clone().unwrap_or_else(|| id.clone());
        let scope = opts.scope.unwrap_or(if opts.execution_id.is_some() { Scope::Execution } else { Scope::Permanent });
        let logical_ref = match &opts.execution_id {
            Some(eid) => Logical::execution(eid, kind == Kind::Manifest, &name, &id),
            None => Logical::artifact(&bucket, &name, &id),
        }
        .to_string();
        let rec = Record {
            id,
            bucket,
            name,
            logical_ref,
            kind,
            content_type,
            compression,
            bytes: 0,
            stored_bytes: 0,
            sha256: String::new(),
            location: Location { driver: driver.clone(), uri: String::new() },
            scope,
            store_tier: driver.clone(),
            execution_id: opts.execution_id.clone(),
            created_by: opts.created_by.clone(),
            created_at: existing.as_ref().filter(|_| if_exists == IfExists::Overwrite).map_or(now, |e| e.created_at),
            updated_at: now,
            expires_at,
            preview: None,
            extracted: None,
        };
        // Validate the template now, with every variable that will exist at finish.
        if let Target::Template(t) = &target {
            let fake = "0".repeat(64);
            template_uri(t, &|v| template_var(&rec, opts, v, &fake))?;
        }
        // Precompressed writes count encoded bytes here; the verifier enforces the cap on the
        // logical size instead.
        let raw_cap = if precompressed { None } else { opts.max_bytes };
        if let (Some(e), IfExists::Get) = (existing, if_exists) {
            return Ok(Writer { store: self.clone(), state: WriterState::Existing(Box::new(e)), max_bytes: raw_cap, written: 0 });
        }
        let verifier = if precompressed { Some(Verifier::for_upload(compression, opts.max_bytes)?) } else { None };
        let w = self.storage.open_writer(&driver, crate::chunks::CHUNK)?;
        // Precompressed chunks pass to storage unchanged.
        let stored_as = if precompressed { Compression::None } else { compression };
        // Bytes stored as given are digested by the storage host; only bodies this put encodes
        // are hashed here (precompressed ones by their verifier).
        let hash_here = !precompressed && stored_as != Compression::None;
        Ok(Writer {
            store: self.clone(),
            state: WriterState::Open(Box::new(OpenWriter {
                rec,
                opts: opts.clone(),
                target,
                hasher: hash_here.then(Sha256::new),
                encoder: Some(Encoder::new(stored_as, Sink::new(w))),
                verifier,
                if_exists,
            })),
            max_bytes: raw_cap,
            written: 0,
        })
    }

    /// Lists records.
    pub fn list(&self, q: &ListQuery) -> Result<Page, Error> {
        if let Some(b) = &q.bucket {
            refs::validate_bucket(b)?;
        }
        self.metadata.list(q)
    }

    /// Bucket count and bytes.
    pub fn summary(&self, bucket: &str) -> Result<BucketSummary, Error> {
        refs::validate_bucket(bucket)?;
        self.metadata.summary(bucket)
    }

    /// Revokes the record's version (its tombstone, for signed URLs that carry the record),
    /// deletes the record, then the blob if no other record points to it.
    pub fn delete(&self, r: &str) -> Result<String, Error> {
        let mut rec = self.resolve(r)?;
        // Revoke the version that is deleted: one an overwrite made meanwhile is revoked too.
        for round in 0.. {
            self.revoke(&rec)?;
            match self.metadata.get_by_id(&rec.id)? {
                Some(_) if round == 100 => {
                    return Err(Error::Conflict(format!("{} keeps being overwritten; retry the delete", rec.id)))
                }
                Some(now) if now.updated_at != rec.updated_at => rec = now,
                _ => break,
            }
        }
        self.metadata.delete(&rec.id)?;
        self.release_blob(&rec.location.uri)?;
        Ok(rec.id)
    }

    /// Deletes the object at `uri` if nothing uses it and no put is about to (the deletion
    /// contract of WIT `metadata`: claim, delete, finish). Returns whether it was deleted.
    pub(crate) fn release_blob(&self, uri: &str) -> Result<bool, Error> {
        let now = (self.now)();
        if !self.metadata.claim_delete(uri, now, now.saturating_add(DELETE_LEASE_MS))? {
            return Ok(false);
        }
        let deleted = self.storage.delete(uri);
        if deleted.is_ok() {
            if let Some(ix) = index_uri(uri) {
                let _ = self.storage.delete(&ix);
            }
        }
        let finished = self.metadata.finish_delete(uri);
        let deleted = deleted?;
        finished?;
        Ok(deleted)
    }

    /// Pins `uri` for `holder` before its object is committed, waiting while a delete of the same
    /// URI is under way (at most one delete lease).
    fn pin(&self, uri: &str, holder: &str) -> Result<(), Error> {
        let start = (self.now)();
        loop {
            let now = (self.now)();
            if self.metadata.pin_object(uri, holder, now, now.saturating_add(PIN_LEASE_MS))? {
                return Ok(());
            }
            if now.saturating_sub(start) > DELETE_LEASE_MS + 1000 {
                return Err(Error::Conflict(format!("{uri} is being deleted; retry the put")));
            }
            std::thread::sleep(PIN_RETRY);
        }
    }

    /// Removes expired artifacts, unreferenced content-addressed blobs, objects of puts and
    /// deletes that were killed half-way, and staged writes older than the default grace period.
    pub fn gc(&self) -> Result<GcReport, Error> {
        self.gc_with(&GcOptions::default())
    }

    /// [`Store::gc`] with options.
    pub fn gc_with(&self, opts: &GcOptions) -> Result<GcReport, Error> {
        let now = (self.now)();
        let mut report = GcReport::default();
        // A metadata table may be shared by hosts with other storage drivers: what lives on a
        // driver this host does not have is left to a host that has it.
        let drivers = self.storage.drivers();
        let ours = |uri: &str| uri.split_once("://").is_some_and(|(d, _)| drivers.iter().any(|x| x == d));
        let mut cursor = None;
        loop {
            let q = ListQuery { expired_before: Some(now), limit: 500, cursor: cursor.take(), ..Default::default() };
            let page = self.metadata.list(&q)?;
            for r in page.records {
                if !ours(&r.location.uri) {
                    continue;
                }
                // An overwrite may have given it a new expiry since the listing.
                match self.metadata.get_by_id(&r.id)? {
                    Some(now) if now.updated_at == r.updated_at => {}
                    _ => continue,
                }
                self.metadata.delete(&r.id)?;
                report.records.push(r.id);
                if self.release_blob(&r.location.uri)? {
                    report.blobs.push(r.location.uri);
                }
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        // Claims that outlived their lease: a killed put's object (deleted unless a record uses
        // it) or a killed delete (finished). Each URI handled is pruned, so every round lists new
        // ones; a round with none of this host's drivers ends it.
        for _ in 0..10_000 {
            let stale: Vec<String> = self.metadata.stale_claims(now, 1000)?.into_iter().filter(|u| ours(u)).collect();
            if stale.is_empty() {
                break;
            }
            for u in stale {
                if self.release_blob(&u)? && !report.blobs.contains(&u) {
                    report.blobs.push(u);
                }
            }
        }
        self.each_object(CONTENT_PREFIX, &mut |u| {
            if self.release_blob(&u)? {
                report.blobs.push(u);
            }
            Ok(())
        })?;
        // Indexes whose object is gone (a delete killed between the two). An index written for
        // an object a moment after this check is at worst rebuilt by its next read.
        self.each_object(INDEX_PREFIX, &mut |u| {
            let gone = match object_of_index(&u) {
                Some(o) => self.storage.stat(&o)?.is_none(),
                None => false,
            };
            if gone && self.storage.delete(&u)? {
                report.blobs.push(u);
            }
            Ok(())
        })?;
        report.blobs.extend(self.collect_tombstones(now)?);
        let grace = opts.staging_grace_ms.unwrap_or(DEFAULT_STAGING_GRACE_MS);
        report.staging = self.storage.collect_staging(now.saturating_sub(grace))?;
        Ok(report)
    }

    /// Calls `f` with every object under `<driver>://<namespace>/`, for every driver, page by page.
    fn each_object(&self, namespace: &str, f: &mut dyn FnMut(String) -> Result<(), Error>) -> Result<(), Error> {
        for d in self.storage.drivers() {
            let prefix = format!("{d}://{namespace}/");
            let mut cursor: Option<String> = None;
            loop {
                let (uris, next) = self.storage.list_objects(&prefix, cursor.as_deref(), 1000)?;
                for u in uris {
                    f(u)?;
                }
                match next {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
        }
        Ok(())
    }

    /// Reads the object at `uri` whole and checks that it holds exactly the logical bytes `rec`
    /// describes (size and SHA-256, decoded per `rec.compression`, no trailing bytes). Returns
    /// its chunk index; `Integrity` (or `NotFound`) when it does not check out.
    pub(crate) fn verify_object(&self, rec: &Record, uri: &str) -> Result<ChunkIndex, Error> {
        let stored = self.storage.stat(uri)?.ok_or_else(|| Error::NotFound(format!("no object at {uri}")))?;
        // With an intact index bound to this digest, one pass checks every chunk against it.
        if let Some(ix) = self.load_index(rec, uri, stored)? {
            let mut src = BlobSource::verified(self.storage.clone(), uri, 0, stored, Rc::new(ix.clone()));
            while src.next_chunk(crate::chunks::CHUNK)?.is_some() {}
            return Ok(ix);
        }
        self.full_verify(rec, uri, stored)
    }

    /// [`Store::verify_object`] without an index: decodes the whole object, checks size, trailing
    /// bytes and `meta.sha256`, and builds the index on the way.
    fn full_verify(&self, rec: &Record, uri: &str, stored: u64) -> Result<ChunkIndex, Error> {
        let integrity = |why: String| Error::Integrity(format!("artifact {} ({uri}): {why}", rec.id));
        if rec.compression == Compression::None && stored != rec.bytes {
            return Err(integrity(format!("stored object has {stored} bytes, recorded {}", rec.bytes)));
        }
        let tap = Rc::new(std::cell::RefCell::new(ChunkHasher::default()));
        let mut src = BlobSource::new(self.storage.clone(), uri, 0, stored);
        src.tap = Some(tap.clone());
        let mut logical = Sha256::new();
        let mut count = 0u64;
        let mut buf = vec![0u8; 256 << 10];
        let mut drain = |r: &mut dyn Read| -> Result<(), Error> {
            loop {
                let n = r.read(&mut buf).map_err(|e| codec::pipeline_error(e, uri))?;
                if n == 0 {
                    return Ok(());
                }
                count += n as u64;
                if count > rec.bytes {
                    return Err(integrity("stored blob is longer than recorded".into()));
                }
                logical.update(&buf[..n]);
            }
        };
        // Compressed input the decoder did not use: bytes after the stream.
        let unused = match rec.compression {
            // A zlib stream ends on its own; what follows it in the object is not part of it.
            Compression::Deflate => {
                let mut d = flate2::read::ZlibDecoder::new(src);
                drain(&mut d)?;
                stored - d.total_in().min(stored)
            }
            c => {
                let mut d = codec::decoder(c, src);
                drain(&mut d)?;
                drop(d);
                stored - tap.borrow().total().min(stored)
            }
        };
        if unused > 0 {
            return Err(integrity(format!("stored blob has {unused} bytes after its compressed stream")));
        }
        let hasher = tap.borrow().clone();
        if count != rec.bytes {
            return Err(integrity("stored blob is shorter than recorded".into()));
        }
        let got = hex(&logical.finalize());
        if got != rec.sha256 {
            return Err(integrity(format!("sha256 mismatch: recorded {}, stored bytes hash to {got}", rec.sha256)));
        }
        let ix = hasher.finish(&rec.sha256)?;
        // Best effort: without it the next read verifies the whole object again.
        let _ = self.write_index(uri, &ix);
        Ok(ix)
    }

    /// The chunk index of the object at `uri` (`stored` bytes) that `rec` describes: loaded when
    /// the stored one verifies, else built by [`Store::verify_object`] and stored for next time.
    /// An uncompressed object of one chunk needs no stored index ([`ChunkIndex::implied`]): a
    /// small read is then one storage call fewer (on Spin, a host call is most of a 4 KiB read).
    pub(crate) fn chunk_index(&self, rec: &Record, uri: &str, stored: u64) -> Result<Rc<ChunkIndex>, Error> {
        if rec.compression == Compression::None && stored == rec.bytes {
            if let Some(ix) = ChunkIndex::implied(stored, &rec.sha256) {
                return Ok(Rc::new(ix));
            }
        }
        if let Some(ix) = self.load_index(rec, uri, stored)? {
            return Ok(Rc::new(ix));
        }
        Ok(Rc::new(self.full_verify(rec, uri, stored)?))
    }

    /// The stored index of the object at `uri`, if it is intact and describes `stored` bytes
    /// with `rec`'s logical digest.
    fn load_index(&self, rec: &Record, uri: &str, stored: u64) -> Result<Option<ChunkIndex>, Error> {
        let ix_uri = index_uri(uri).ok_or_else(|| Error::Storage(format!("object URI {uri} has no scheme")))?;
        // Either form of the index (SHA-256 chunk digests, or SHA-256 and BLAKE3 ones).
        let Some(want) = self.storage.stat(&ix_uri)?.filter(|n| ChunkIndex::encoded_lens(stored).contains(n)) else {
            return Ok(None);
        };
        let src = BlobSource::new(self.storage.clone(), &ix_uri, 0, want);
        let mut bytes = Vec::with_capacity(want as usize);
        if codec::decoder(Compression::None, src).read_to_end(&mut bytes).is_err() {
            return Ok(None);
        }
        Ok(ChunkIndex::decode(&bytes, stored, &rec.sha256))
    }

    /// The stored (still encoded) bytes of `rec`'s object as a verified source, and their size.
    pub fn stored_source(&self, rec: &Record) -> Result<(BlobSource, u64), Error> {
        let uri = &rec.location.uri;
        let stored = self
            .storage
            .stat(uri)?
            .ok_or_else(|| Error::Integrity(format!("artifact {} ({uri}): its stored object is missing", rec.id)))?;
        let index = self.chunk_index(rec, uri, stored)?;
        Ok((BlobSource::verified(self.storage.clone(), uri, 0, stored, index), stored))
    }

    /// Stores `ix` as the index of the object at `uri` (replacing any other).
    fn write_index(&self, uri: &str, ix: &ChunkIndex) -> Result<(), Error> {
        if ix.is_implied() {
            return Ok(());
        }
        let (driver, _) = uri.split_once("://").ok_or_else(|| Error::Storage(format!("object URI {uri} has no scheme")))?;
        let ix_uri = index_uri(uri).ok_or_else(|| Error::Storage(format!("object URI {uri} has no scheme")))?;
        let mut w = self.storage.create_writer(driver)?;
        let enc = ix.encode();
        for piece in enc.chunks(codec::WRITE_CHUNK_MAX) {
            if let Err(e) = w.write(piece) {
                w.abort();
                return Err(e);
            }
        }
        w.commit(&ix_uri, Publish::Overwrite).map(drop)
    }
}

/// Options of [`Store::gc_with`].
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct GcOptions {
    /// Staged writes begun more than this long ago are removed (default one hour).
    pub staging_grace_ms: Option<u64>,
}

impl GcOptions {
    pub fn staging_grace_ms(mut self, ms: u64) -> Self {
        self.staging_grace_ms = Some(ms);
        self
    }
}

/// Renders a store template and refuses what would land in the content-addressed namespace.
fn template_uri(t: &Template, var: &dyn Fn(&str) -> Option<String>) -> Result<String, Error> {
    let uri = t.render(var)?;
    let path = uri.split_once("://").map_or(uri.as_str(), |(_, p)| p);
    let first = path.split('/').next().unwrap_or_default();
    if first == CONTENT_PREFIX || first == INDEX_PREFIX || first == REVOKED_PREFIX {
        return Err(Error::InvalidArgument(format!(
            "store template renders {uri:?}, inside {first}/, a namespace only the store writes (content-addressed blobs, chunk indexes and tombstones)"
        )));
    }
    Ok(uri)
}

fn short(s: &str) -> String {
    let s = s.trim();
    if s.len() > 120 {
        let mut end = 120;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    } else {
        s.to_string()
    }
}

fn template_var(rec: &Record, opts: &PutOptions, v: &str, sha: &str) -> Option<String> {
    match v {
        "execution_id" => opts.execution_id.clone(),
        "step" => opts.step.clone(),
        "name" => Some(rec.name.clone()),
        "bucket" => Some(rec.bucket.clone()),
        "id" => Some(rec.id.clone()),
        "sha256" => Some(sha.to_string()),
        "ext" => Some(ext_for(&rec.content_type, rec.compression)),
        _ => None,
    }
}

enum Target {
    Content(String),
    Template(Template),
}

struct OpenWriter {
    rec: Record,
    opts: PutOptions,
    target: Target,
    /// The logical digest, computed here for bodies this put compresses; `None` when the storage
    /// host's digest of the stored bytes is the logical one, or a verifier computes it.
    hasher: Option<Sha256>,
    encoder: Option<Encoder>,
    /// Set for precompressed puts: decodes the written (encoded) bytes to learn the logical size
    /// and digest.
    verifier: Option<Verifier>,
    if_exists: IfExists,
}

enum WriterState {
    Open(Box<OpenWriter>),
    /// get-or-create found the pair: writes are counted and dropped.
    Existing(Box<Record>),
    Done,
}

/// A streaming put. Nothing is visible until [`Writer::finish`] returns.
pub struct Writer {
    store: Store,
    state: WriterState,
    /// Cap on `written` (`None` for precompressed puts, whose cap is on the decoded size).
    max_bytes: Option<u64>,
    /// Bytes passed to [`Writer::write`]: logical bytes, or encoded ones when precompressed.
    written: u64,
}

impl Writer {
    /// Sets the preview and extracted fields (JSON text) the record is published with. Has no
    /// effect when get-or-create found an existing artifact: that record is returned unchanged.
    pub fn annotate(&mut self, preview: Option<String>, extracted: Option<String>) {
        if let WriterState::Open(w) = &mut self.state {
            w.rec.preview = preview;
            w.rec.extracted = extracted;
        }
    }

    /// Appends bytes: the logical body, or for precompressed puts the encoded blob.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), Error> {
        self.written += chunk.len() as u64;
        if let Some(limit) = self.max_bytes {
            if self.written > limit {
                self.abort();
                return Err(Error::TooLarge { limit, needed: self.written });
            }
        }
        match &mut self.state {
            WriterState::Open(w) => {
                let r = match (&mut w.verifier, &mut w.hasher) {
                    (Some(v), _) => v.write_all(chunk),
                    (None, Some(h)) => {
                        h.update(chunk);
                        Ok(())
                    }
                    (None, None) => Ok(()),
                }
                .and_then(|()| w.encoder.as_mut().expect("open writer has an encoder").write_all(chunk));
                if r.is_err() {
                    self.abort();
                }
                r
            }
            WriterState::Existing(_) => Ok(()),
            WriterState::Done => Err(Error::InvalidArgument("writer is finished".into())),
        }
    }

    /// The record this writer publishes (id and logical ref are final; size, digest and location
    /// are filled in by `finish`) and whether it is an existing artifact found by get-or-create.
    /// `None` once finished or aborted.
    pub fn planned(&self) -> Option<(&Record, bool)> {
        match &self.state {
            WriterState::Open(w) => Some((&w.rec, false)),
            WriterState::Existing(r) => Some((r, true)),
            WriterState::Done => None,
        }
    }

    /// Discards everything. Idempotent.
    pub fn abort(&mut self) {
        if let WriterState::Open(w) = &mut self.state {
            if let Some(mut e) = w.encoder.take() {
                e.sink_mut().writer.abort();
            }
        }
        self.state = WriterState::Done;
    }

    /// Publishes the blob, then the record.
    pub fn finish(&mut self) -> Result<PutResult, Error> {
        match std::mem::replace(&mut self.state, WriterState::Done) {
            WriterState::Done => Err(Error::InvalidArgument("writer is finished".into())),
            WriterState::Existing(rec) => {
                Ok(PutResult { result_ref: crate::result_ref::to_json(&rec), record: *rec, created: false })
            }
            WriterState::Open(mut w) => {
                let r = self.publish(&mut w);
                if r.is_err() {
                    if let Some(mut e) = w.encoder.take() {
                        e.sink_mut().writer.abort();
                    }
                }
                r
            }
        }
    }

    fn publish(&self, w: &mut OpenWriter) -> Result<PutResult, Error> {
        let store = &self.store;
        // A precompressed blob must decode completely before anything is published.
        let logical = match w.verifier.take() {
            Some(v) => {
                let t = v.finish()?;
                Some((hex(&t.hasher.finalize()), t.count))
            }
            None => w.hasher.take().map(|h| (hex(&h.finalize()), self.written)),
        };
        let mut sink = w.encoder.take().expect("open writer has an encoder").finish()?;
        // What the storage host digested must be exactly what was handed to it.
        let digests = sink.writer.digests()?;
        if digests.size != sink.written {
            return Err(Error::Storage(format!(
                "storage digested {} bytes of a staged object, {} were written",
                digests.size, sink.written
            )));
        }
        let (sha, logical_bytes) = logical.unwrap_or_else(|| (hex(&digests.sha256), self.written));
        let chunks = ChunkIndex::from_digests(digests.size, &sha, digests.chunks, digests.blake3)?;
        let mut blob: Box<dyn DigestWriter + Send> = sink.writer;
        let mut rec = w.rec.clone();
        rec.bytes = logical_bytes;
        rec.stored_bytes = sink.written;
        rec.sha256 = sha.clone();
        let (uri, content_addressed) = match &w.target {
            Target::Content(d) => (
                format!("{d}://{CONTENT_PREFIX}/sha256/{}/{sha}{}", &sha[..2], rec.compression.blob_suffix()),
                true,
            ),
            Target::Template(t) => (template_uri(t, &|v| template_var(&rec, &w.opts, v, &sha))?, false),
        };
        rec.location.uri = uri.clone();
        let overwrite = w.if_exists == IfExists::Overwrite;
        if !overwrite && w.opts.name.is_some() && !content_addressed {
            // The pair may have been created while we streamed: then publish nothing at all (a
            // template's location may be the winner's own). A content address needs no second
            // lookup: the insert below finds the winner, and our object is released unless the
            // winner's record uses it too (same answer, one metadata round trip less per put).
            if let Some(existing) = store.metadata.get_by_name(&rec.bucket, &rec.name)? {
                blob.abort();
                if w.if_exists == IfExists::Fail {
                    return Err(Error::Conflict(format!("{}/{} already exists as {}", rec.bucket, rec.name, existing.id)));
                }
                return Ok(PutResult { result_ref: crate::result_ref::to_json(&existing), record: existing, created: false });
            }
        }
        let old = if overwrite { store.metadata.get_by_id(&rec.id)? } else { None };
        // The deletion contract: pin the URI before the object is committed, until the record
        // that uses it is in; objects to release go only after the pin is gone.
        let holder = ids::new_id((store.now)());
        store.pin(&uri, &holder)?;
        let mut release = Vec::new();
        let out = self.publish_pinned(&mut rec, blob.as_mut(), &chunks, content_addressed, old, w.if_exists, &mut release);
        let unpinned = store.metadata.unpin_object(&uri, &holder);
        if out.is_err() {
            blob.abort();
            release.push(uri);
        }
        for u in release {
            // Best effort: what stays behind is an orphan that `gc` removes.
            let _ = store.release_blob(&u);
        }
        let out = out?;
        unpinned?;
        Ok(out)
    }

    /// The part of [`Writer::publish`] that runs under the pin: commit (or verify and reuse) the
    /// object, then insert or update the record. URIs to release afterwards go to `release`.
    #[allow(clippy::too_many_arguments)]
    fn publish_pinned(
        &self,
        rec: &mut Record,
        blob: &mut (dyn DigestWriter + Send),
        chunks: &ChunkIndex,
        content_addressed: bool,
        old: Option<Record>,
        if_exists: IfExists,
        release: &mut Vec<String>,
    ) -> Result<PutResult, Error> {
        let store = &self.store;
        let uri = rec.location.uri.clone();
        // Content addresses are verified, not trusted: an object already there is reused only
        // when it holds exactly these logical bytes; otherwise ours replaces it.
        let reusable = |rec: &Record| match store.verify_object(rec, &uri) {
            Ok(ix) => Ok(Some(ix)),
            Err(Error::Integrity(_) | Error::Decode(_) | Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        };
        let index = if content_addressed {
            let existing = store.storage.stat(&uri)?;
            let reused = match existing {
                Some(_) => reusable(rec)?,
                None => None,
            };
            match reused {
                // A reused object keeps its index (verified, or rebuilt by the check).
                Some(ix) => {
                    blob.abort();
                    ix
                }
                None => {
                    let publish = if existing.is_some() { Publish::Overwrite } else { Publish::IfAbsent };
                    if blob.commit(&uri, publish)? {
                        // Best effort: a missing index is rebuilt by the first read.
                        let _ = store.write_index(&uri, chunks);
                        chunks.clone()
                    } else {
                        // Another put committed the same address a moment ago.
                        reusable(rec)?.ok_or_else(|| {
                            Error::Storage(format!("{uri} was replaced by bytes that do not verify; retry the put"))
                        })?
                    }
                }
            }
        } else {
            // A template may replace only this artifact's own object.
            let own = old.as_ref().is_some_and(|o| o.location.uri == uri);
            let publish = if own { Publish::Overwrite } else { Publish::IfAbsent };
            if !blob.commit(&uri, publish)? {
                return Err(Error::Conflict(format!("storage location {uri} is already taken")));
            }
            let _ = store.write_index(&uri, chunks);
            chunks.clone()
        };
        // A reused blob's encoding (so its size) may differ from ours, e.g. one made by `gzip -9`.
        rec.stored_bytes = index.object_size;
        if let Some(old) = old {
            // The version replaced now (read again: another overwrite may have come in while
            // this one committed) stops being served by URLs that carry its record. Versions are
            // told apart by `updated_at`, so the new one is later even within a millisecond.
            let old = store.metadata.get_by_id(&rec.id)?.unwrap_or(old);
            rec.updated_at = rec.updated_at.max(old.updated_at.saturating_add(1));
            store.revoke(&old)?;
            store.metadata.update(rec)?;
            if old.location.uri != uri {
                release.push(old.location.uri);
            }
            return Ok(PutResult { result_ref: crate::result_ref::to_json(rec), record: rec.clone(), created: true });
        }
        let ins = store.metadata.insert_if_absent(rec)?;
        if !ins.created {
            // Lost a get-or-create race: withdraw our object unless the winner uses it too.
            release.push(uri);
            if if_exists == IfExists::Fail {
                return Err(Error::Conflict(format!("{}/{} already exists as {}", rec.bucket, rec.name, ins.record.id)));
            }
        }
        Ok(PutResult { result_ref: crate::result_ref::to_json(&ins.record), record: ins.record, created: ins.created })
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.abort();
    }
}

/// A streaming read of one artifact's logical bytes.
pub struct Reader {
    meta: Record,
    uri: String,
    /// Direct chunks (uncompressed) or a decoding pipeline.
    src: Source,
    /// Logical bytes still to return.
    remaining: u64,
    /// Logical bytes to discard first (ranges over compressed blobs).
    skip: u64,
    /// Set for a full read of a decoded body, which must end on `meta.sha256` with no bytes left
    /// in the decoder (chunks read as stored are verified by the index as they go).
    hasher: Option<Sha256>,
    produced: u64,
    done: bool,
}

enum Source {
    Direct(BlobSource),
    Decoded(Box<dyn Read>),
}

impl Reader {
    pub(crate) fn open(store: &Store, rec: Record, range: Option<ByteRange>, max: Option<u64>) -> Result<Self, Error> {
        let size = rec.bytes;
        let (offset, len, full) = match range {
            None => (0, size, true),
            Some(r) => {
                let (o, l) = codec::resolve_range(r, size)?;
                (o, l, o == 0 && l == size)
            }
        };
        if let Some(limit) = max {
            if len > limit {
                return Err(Error::TooLarge { limit, needed: len });
            }
        }
        let uri = rec.location.uri.clone();
        let storage = store.storage.clone();
        // A small object stored as is has an implied index (its one chunk's digest is the
        // record's): no `stat` is needed, the read itself proves the size (it asks for one byte
        // more than recorded, which then fails its chunk's check).
        if rec.compression == Compression::None {
            if let Some(ix) = ChunkIndex::implied(size, &rec.sha256) {
                let src = BlobSource::verified(storage, &uri, offset, len, Rc::new(ix)).probing_end();
                return Ok(Reader::new(rec, uri, Source::Direct(src), len, 0, false));
            }
        }
        // The object's own size: a shared blob may be encoded differently from ours.
        let stored = storage.stat(&uri)?.ok_or_else(|| {
            Error::Integrity(format!("artifact {} ({uri}): its stored object is missing", rec.id))
        })?;
        if rec.compression == Compression::None && stored != size {
            return Err(Error::Integrity(format!(
                "artifact {} ({uri}): stored object has {stored} bytes, recorded {size}",
                rec.id
            )));
        }
        // Every chunk is checked against the index before any of its bytes is handed out.
        let index = store.chunk_index(&rec, &uri, stored)?;
        let (src, skip) = match rec.compression {
            Compression::None => (Source::Direct(BlobSource::verified(storage, &uri, offset, len, index)), 0),
            c => (Source::Decoded(codec::decoder(c, BlobSource::verified(storage, &uri, 0, stored, index))), offset),
        };
        // Verified chunks of an uncompressed object are its logical bytes; decoded ones are hashed
        // again so a full read also ends on `meta.sha256`.
        let hash_logical = full && rec.compression != Compression::None;
        Ok(Reader::new(rec, uri, src, len, skip, hash_logical))
    }

    fn new(meta: Record, uri: String, src: Source, len: u64, skip: u64, hash_logical: bool) -> Self {
        Reader {
            uri,
            src,
            remaining: len,
            skip,
            hasher: hash_logical.then(Sha256::new),
            produced: 0,
            done: false,
            meta,
        }
    }

    pub fn meta(&self) -> &Record {
        &self.meta
    }

    /// How a storage host could stream this read's bytes, checking each chunk against the
    /// index itself (WIT `read-verified`): only for bytes stored as they are read (no decoding,
    /// so no logical digest to finish on) and before anything was read.
    pub fn verified_plan(&self) -> Option<crate::codec::VerifiedPlan> {
        match &self.src {
            Source::Direct(s) if !self.done && self.hasher.is_none() && self.produced == 0 => {
                s.verified_plan().filter(|p| p.len == self.remaining)
            }
            _ => None,
        }
    }

    /// The record, giving up the reader.
    pub fn into_meta(self) -> Record {
        self.meta
    }

    fn integrity(&self, why: &str) -> Error {
        Error::Integrity(format!("artifact {} ({}): {why}", self.meta.id, self.uri))
    }

    /// Next chunk of at most `max` bytes; empty at the (verified) end.
    pub fn read(&mut self, max: usize) -> Result<Vec<u8>, Error> {
        if self.done {
            return Ok(Vec::new());
        }
        if self.remaining == 0 {
            return self.finish().map(|_| Vec::new());
        }
        let want = (max.max(1) as u64).min(self.remaining);
        let chunk = match &mut self.src {
            Source::Direct(s) => s.next_chunk(want)?.unwrap_or_default(),
            Source::Decoded(r) => {
                while self.skip > 0 {
                    let mut sink = [0u8; 16 << 10];
                    let n = (self.skip as usize).min(sink.len());
                    let got = r.read(&mut sink[..n]).map_err(|e| codec::pipeline_error(e, &self.uri))?;
                    if got == 0 {
                        return Err(Error::Integrity(format!(
                            "artifact {} ({}): stored blob decodes to fewer bytes than recorded",
                            self.meta.id, self.uri
                        )));
                    }
                    self.skip -= got as u64;
                }
                let mut buf = vec![0u8; want as usize];
                let mut filled = 0;
                while filled < buf.len() {
                    let n = r.read(&mut buf[filled..]).map_err(|e| codec::pipeline_error(e, &self.uri))?;
                    if n == 0 {
                        break;
                    }
                    filled += n;
                }
                buf.truncate(filled);
                buf
            }
        };
        if chunk.is_empty() {
            return Err(self.integrity("stored blob is shorter than recorded"));
        }
        if chunk.len() as u64 > self.remaining {
            return Err(self.integrity("stored blob is longer than recorded"));
        }
        self.remaining -= chunk.len() as u64;
        self.produced += chunk.len() as u64;
        if let Some(h) = &mut self.hasher {
            h.update(&chunk);
        }
        if self.remaining == 0 {
            self.finish()?;
        }
        Ok(chunk)
    }

    /// Verifies a full read at the end: no extra bytes, digest matches.
    fn finish(&mut self) -> Result<(), Error> {
        if self.done {
            return Ok(());
        }
        if self.hasher.is_some() {
            let extra = match &mut self.src {
                // Its size was checked at open and every chunk against the index.
                Source::Direct(_) => false,
                Source::Decoded(r) => {
                    let mut b = [0u8; 1];
                    r.read(&mut b).map_err(|e| codec::pipeline_error(e, &self.uri))? > 0
                }
            };
            if extra {
                self.done = true;
                return Err(self.integrity("stored blob is longer than recorded"));
            }
            let h = self.hasher.take().expect("checked above");
            let got = hex(&h.finalize());
            if got != self.meta.sha256 {
                self.done = true;
                return Err(self.integrity(&format!("sha256 mismatch: recorded {}, stored bytes hash to {got}", self.meta.sha256)));
            }
        }
        self.done = true;
        Ok(())
    }

    /// Reads everything left, verifying a full read.
    pub fn read_to_end(&mut self) -> Result<Vec<u8>, Error> {
        let mut out: Vec<u8> = Vec::new();
        loop {
            let chunk = self.read(self.remaining.min(64 << 20) as usize)?;
            if chunk.is_empty() {
                return Ok(out);
            }
            if out.is_empty() {
                out = chunk;
            } else {
                out.extend_from_slice(&chunk);
            }
        }
    }
}

mod revocation;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod precompressed_tests;

#[cfg(test)]
mod integrity_tests;
