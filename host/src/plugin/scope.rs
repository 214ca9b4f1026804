//! A plugin's store, as the host enforces it: the plugin's own backends wrapped so that only its
//! bucket exists, writes are refused when it runs read-only, and its bucket stays within a byte
//! and a count quota; every byte it reads or writes counts toward a per-run budget. The wrappers
//! sit below the artifact component, so nothing a plugin sends through `artifacts` (whatever ref
//! it forges) gets past them.
//!
//! Quotas are checked against the bucket as each put's record is inserted: two runs of one
//! plugin at the same moment can each fit and together pass the quota by their last puts.

use artifact_component::backend::{BlobWriter, Inserted, Metadata, Publish, Storage};
use artifact_component::model::{BucketSummary, Error, ListQuery, Page, Record, Timestamp};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// What a plugin may do with its store.
#[derive(Clone, Debug)]
pub struct Scope {
    /// The one bucket the plugin sees and writes.
    pub bucket: String,
    /// Refuse every write (put, delete, gc's deletions).
    pub read_only: bool,
    /// Largest total size of the bucket's artifacts (their logical bytes).
    pub max_bytes: u64,
    /// Most artifacts the bucket may hold.
    pub max_count: u64,
    /// Most bytes one run may read and write in storage together.
    pub max_moved: u64,
}

/// The per-run counters the wrappers share.
#[derive(Debug, Default)]
pub struct Usage {
    /// Bytes read from and written to storage in this run.
    pub moved: AtomicU64,
    /// Whether a call was refused for going past `max_moved` (the run then fails `too-large`
    /// whatever the plugin made of the refusal).
    pub exceeded: std::sync::atomic::AtomicBool,
}

fn forbidden(what: &str, s: &Scope) -> Error {
    Error::Forbidden(format!("{what}: this plugin may use only bucket {:?}", s.bucket))
}

fn read_only(s: &Scope) -> Error {
    Error::Forbidden(format!("the plugin runs read-only: no writes to bucket {:?}", s.bucket))
}

/// Counts `n` more bytes moved; `too-large` past the run's budget.
fn spend(scope: &Scope, usage: &Usage, n: u64) -> Result<(), Error> {
    let total = usage.moved.fetch_add(n, Ordering::Relaxed).saturating_add(n);
    if total > scope.max_moved {
        usage.exceeded.store(true, Ordering::Relaxed);
        return Err(Error::TooLarge { limit: scope.max_moved, needed: total });
    }
    Ok(())
}

/// The metadata of a plugin's store, limited to its scope.
pub struct ScopedMetadata {
    pub inner: Arc<dyn Metadata + Send + Sync>,
    pub scope: Arc<Scope>,
}

impl ScopedMetadata {
    fn mine(&self, r: Option<Record>) -> Option<Record> {
        r.filter(|r| r.bucket == self.scope.bucket)
    }

    fn writable(&self, rec: &Record) -> Result<(), Error> {
        if rec.bucket != self.scope.bucket {
            return Err(forbidden(&format!("bucket {:?}", rec.bucket), &self.scope));
        }
        if self.scope.read_only {
            return Err(read_only(&self.scope));
        }
        Ok(())
    }

    /// Refuses a bucket that would hold `count` artifacts of `bytes` in all.
    fn within_quota(&self, count: u64, bytes: u64) -> Result<(), Error> {
        if count > self.scope.max_count {
            return Err(Error::TooLarge { limit: self.scope.max_count, needed: count });
        }
        if bytes > self.scope.max_bytes {
            return Err(Error::TooLarge { limit: self.scope.max_bytes, needed: bytes });
        }
        Ok(())
    }
}

impl Metadata for ScopedMetadata {
    fn insert_if_absent(&self, rec: &Record) -> Result<Inserted, Error> {
        self.writable(rec)?;
        if let Some(existing) = self.inner.get_by_name(&rec.bucket, &rec.name)? {
            // Get-or-create finds the pair: nothing is added.
            return Ok(Inserted { record: existing, created: false });
        }
        let now = self.inner.summary(&self.scope.bucket)?;
        self.within_quota(now.count + 1, now.total_bytes.saturating_add(rec.bytes))?;
        self.inner.insert_if_absent(rec)
    }
    fn update(&self, rec: &Record) -> Result<(), Error> {
        self.writable(rec)?;
        let old = self.mine(self.inner.get_by_id(&rec.id)?).ok_or_else(|| Error::NotFound(format!("no artifact {}", rec.id)))?;
        let now = self.inner.summary(&self.scope.bucket)?;
        self.within_quota(now.count, now.total_bytes.saturating_sub(old.bytes).saturating_add(rec.bytes))?;
        self.inner.update(rec)
    }
    fn get_by_id(&self, id: &str) -> Result<Option<Record>, Error> {
        Ok(self.mine(self.inner.get_by_id(id)?))
    }
    fn get_by_ref(&self, logical_ref: &str) -> Result<Option<Record>, Error> {
        Ok(self.mine(self.inner.get_by_ref(logical_ref)?))
    }
    fn get_by_name(&self, bucket: &str, name: &str) -> Result<Option<Record>, Error> {
        if bucket != self.scope.bucket {
            return Ok(None);
        }
        Ok(self.mine(self.inner.get_by_name(bucket, name)?))
    }
    fn list(&self, q: &ListQuery) -> Result<Page, Error> {
        if q.bucket.as_ref().is_some_and(|b| *b != self.scope.bucket) {
            return Ok(Page { records: Vec::new(), next_cursor: None });
        }
        let mut q = q.clone();
        q.bucket = Some(self.scope.bucket.clone());
        self.inner.list(&q)
    }
    fn summary(&self, bucket: &str) -> Result<BucketSummary, Error> {
        if bucket != self.scope.bucket {
            return Ok(BucketSummary::default());
        }
        self.inner.summary(bucket)
    }
    fn delete(&self, id: &str) -> Result<bool, Error> {
        let Some(rec) = self.mine(self.inner.get_by_id(id)?) else { return Ok(false) };
        self.writable(&rec)?;
        self.inner.delete(id)
    }
    fn touch(&self, id: &str, at: Timestamp) -> Result<(), Error> {
        match self.mine(self.inner.get_by_id(id)?) {
            Some(_) => self.inner.touch(id, at),
            None => Ok(()),
        }
    }
    fn pin_object(&self, uri: &str, holder: &str, now: Timestamp, until: Timestamp) -> Result<bool, Error> {
        self.inner.pin_object(uri, holder, now, until)
    }
    fn unpin_object(&self, uri: &str, holder: &str) -> Result<(), Error> {
        self.inner.unpin_object(uri, holder)
    }
    fn claim_delete(&self, uri: &str, now: Timestamp, until: Timestamp) -> Result<bool, Error> {
        if self.scope.read_only {
            return Err(read_only(&self.scope));
        }
        self.inner.claim_delete(uri, now, until)
    }
    fn finish_delete(&self, uri: &str) -> Result<(), Error> {
        if self.scope.read_only {
            return Err(read_only(&self.scope));
        }
        self.inner.finish_delete(uri)
    }
    fn stale_claims(&self, before: Timestamp, limit: u32) -> Result<Vec<String>, Error> {
        self.inner.stale_claims(before, limit)
    }
}

/// The storage of a plugin's store: writes refused read-only, every byte counted, a writer cut
/// once the bucket could no longer fit its bytes.
pub struct ScopedStorage {
    pub inner: Arc<dyn Storage + Send + Sync>,
    pub scope: Arc<Scope>,
    pub usage: Arc<Usage>,
    /// Bytes the bucket held when the run began: a writer may add at most the rest of the quota.
    pub held: u64,
}

struct CountedWriter {
    inner: Box<dyn BlobWriter + Send>,
    scope: Arc<Scope>,
    usage: Arc<Usage>,
    room: u64,
    written: u64,
}

impl BlobWriter for CountedWriter {
    fn write(&mut self, chunk: &[u8]) -> Result<(), Error> {
        self.written = self.written.saturating_add(chunk.len() as u64);
        if self.written > self.room {
            return Err(Error::TooLarge { limit: self.scope.max_bytes, needed: self.written });
        }
        spend(&self.scope, &self.usage, chunk.len() as u64)?;
        self.inner.write(chunk)
    }
    fn commit(&mut self, uri: &str, publish: Publish) -> Result<bool, Error> {
        self.inner.commit(uri, publish)
    }
    fn abort(&mut self) {
        self.inner.abort()
    }
}

impl Storage for ScopedStorage {
    fn drivers(&self) -> Vec<String> {
        self.inner.drivers()
    }
    fn create_writer(&self, driver: &str) -> Result<Box<dyn BlobWriter + Send>, Error> {
        if self.scope.read_only {
            return Err(read_only(&self.scope));
        }
        Ok(Box::new(CountedWriter {
            inner: self.inner.create_writer(driver)?,
            scope: self.scope.clone(),
            usage: self.usage.clone(),
            // Stored bytes may exceed logical ones a little (an index, a gzip header): the
            // record's quota check is exact; this one only stops a runaway stream early.
            room: self.scope.max_bytes.saturating_sub(self.held).saturating_add(64 << 10),
            written: 0,
        }))
    }
    fn read(&self, uri: &str, offset: u64, len: u64) -> Result<Vec<u8>, Error> {
        let got = self.inner.read(uri, offset, len)?;
        spend(&self.scope, &self.usage, got.len() as u64)?;
        Ok(got)
    }
    fn stat(&self, uri: &str) -> Result<Option<u64>, Error> {
        self.inner.stat(uri)
    }
    fn list_objects(&self, prefix: &str, cursor: Option<&str>, limit: u32) -> Result<(Vec<String>, Option<String>), Error> {
        self.inner.list_objects(prefix, cursor, limit)
    }
    fn delete(&self, uri: &str) -> Result<bool, Error> {
        if self.scope.read_only {
            return Err(read_only(&self.scope));
        }
        self.inner.delete(uri)
    }
    fn collect_staging(&self, before: Timestamp) -> Result<u32, Error> {
        self.inner.collect_staging(before)
    }
}
