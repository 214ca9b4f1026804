//! The two things the component needs from its host, as Rust traits. Inside the component they
//! are implemented over the WIT imports; natively (unit tests, benchmarks) by [`mem`].

use crate::digest::{Digests, Sha};
use crate::model::{BucketSummary, Error, ListQuery, Page, Record, Timestamp};

/// How a staged write is published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Publish {
    IfAbsent,
    Overwrite,
}

/// A staged object; see WIT `storage.writer`.
pub trait BlobWriter {
    fn write(&mut self, chunk: &[u8]) -> Result<(), Error>;
    /// Publishes atomically at `uri`; `Ok(false)` when `IfAbsent` found an object there.
    fn commit(&mut self, uri: &str, publish: Publish) -> Result<bool, Error>;
    fn abort(&mut self);
}

/// A staged object that reports the digests of what it was given; see WIT `writer.digests`.
pub trait DigestWriter: BlobWriter {
    /// Size, SHA-256 and chunk digests of every byte written so far.
    fn digests(&mut self) -> Result<Digests, Error>;
}

/// What one [`Storage::read`] serves at least: it returns fewer bytes than asked only at the end
/// of the object, or when asked for more than this (the host backends cap a call here).
pub const READ_CAP: u64 = 64 << 20;

/// The byte store; see WIT `storage`.
pub trait Storage {
    fn drivers(&self) -> Vec<String>;
    /// A plain staged write (what a driver implements).
    fn create_writer(&self, driver: &str) -> Result<Box<dyn BlobWriter + Send>, Error>;
    /// Up to `len` bytes at `offset`: fewer only at the end of the object (none at or past it)
    /// or when `len` is over [`READ_CAP`]; `not-found` if nothing is stored at `uri`.
    fn read(&self, uri: &str, offset: u64, len: u64) -> Result<Vec<u8>, Error>;
    /// A staged write that digests what it is given in `chunk`-byte pieces (WIT
    /// `create-writer`). The default digests here, over [`Storage::create_writer`]: natively,
    /// that is the host's side; the component overrides it with the host's.
    fn open_writer(&self, driver: &str, chunk: u64) -> Result<Box<dyn DigestWriter + Send>, Error> {
        crate::digest::check_chunk_size(chunk)?;
        Ok(Box::new(crate::digest::Digesting::new(self.create_writer(driver)?, chunk)))
    }
    /// Reads up to `len` bytes at `offset` (fewer only at the end of the object) with the digest
    /// of each `chunk`-byte piece of them (WIT `read-chunks`). The default loops over
    /// [`Storage::read`] and digests here. A `read` that returns fewer bytes than asked, when
    /// asked for at most [`READ_CAP`], has reached the end: the loop stops without a second
    /// call (on S3 that call was a `GET` answered 416 and a `HEAD`; on a file, an `open`).
    fn read_chunks(&self, uri: &str, offset: u64, len: u64, chunk: u64) -> Result<(Vec<u8>, Vec<Sha>), Error> {
        crate::digest::check_chunk_size(chunk)?;
        let mut out: Vec<u8> = Vec::new();
        while (out.len() as u64) < len {
            let want = len - out.len() as u64;
            let got = self.read(uri, offset + out.len() as u64, want)?;
            let at_end = got.is_empty() || ((got.len() as u64) < want && want <= READ_CAP);
            if out.is_empty() {
                out = got;
            } else {
                out.extend_from_slice(&got);
            }
            if at_end {
                break;
            }
        }
        out.truncate(len.min(usize::MAX as u64) as usize);
        let digests = crate::digest::pieces(&out, chunk);
        Ok((out, digests))
    }
    fn stat(&self, uri: &str) -> Result<Option<u64>, Error>;
    fn list_objects(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<String>, Option<String>), Error>;
    fn delete(&self, uri: &str) -> Result<bool, Error>;
    /// Removes staged writes begun before `before` (ms); see WIT `storage.collect-staging`.
    fn collect_staging(&self, before: Timestamp) -> Result<u32, Error>;
}

/// Outcome of [`Metadata::insert_if_absent`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inserted {
    pub record: Record,
    pub created: bool,
}

/// The metadata table; see WIT `metadata`.
pub trait Metadata {
    fn insert_if_absent(&self, rec: &Record) -> Result<Inserted, Error>;
    fn update(&self, rec: &Record) -> Result<(), Error>;
    fn get_by_id(&self, id: &str) -> Result<Option<Record>, Error>;
    fn get_by_ref(&self, logical_ref: &str) -> Result<Option<Record>, Error>;
    fn get_by_name(&self, bucket: &str, name: &str) -> Result<Option<Record>, Error>;
    fn list(&self, q: &ListQuery) -> Result<Page, Error>;
    fn summary(&self, bucket: &str) -> Result<BucketSummary, Error>;
    fn delete(&self, id: &str) -> Result<bool, Error>;
    fn touch(&self, id: &str, at: Timestamp) -> Result<(), Error>;
    /// See WIT `metadata.pin-object`: `false` while a live delete claim exists.
    fn pin_object(&self, uri: &str, holder: &str, now: Timestamp, until: Timestamp) -> Result<bool, Error>;
    /// See WIT `metadata.unpin-object`.
    fn unpin_object(&self, uri: &str, holder: &str) -> Result<(), Error>;
    /// See WIT `metadata.claim-delete`: `true` only when nothing uses or is about to use `uri`.
    fn claim_delete(&self, uri: &str, now: Timestamp, until: Timestamp) -> Result<bool, Error>;
    /// See WIT `metadata.finish-delete`.
    fn finish_delete(&self, uri: &str) -> Result<(), Error>;
    /// See WIT `metadata.stale-claims`.
    fn stale_claims(&self, before: Timestamp, limit: u32) -> Result<Vec<String>, Error>;
}

/// A shared backend is a backend: native hosts keep theirs in an `Arc` (shared by threads) and
/// hand the engine a clone (`Rc::new(arc.clone())`).
impl<M: Metadata + ?Sized> Metadata for std::sync::Arc<M> {
    fn insert_if_absent(&self, rec: &Record) -> Result<Inserted, Error> {
        (**self).insert_if_absent(rec)
    }
    fn update(&self, rec: &Record) -> Result<(), Error> {
        (**self).update(rec)
    }
    fn get_by_id(&self, id: &str) -> Result<Option<Record>, Error> {
        (**self).get_by_id(id)
    }
    fn get_by_ref(&self, logical_ref: &str) -> Result<Option<Record>, Error> {
        (**self).get_by_ref(logical_ref)
    }
    fn get_by_name(&self, bucket: &str, name: &str) -> Result<Option<Record>, Error> {
        (**self).get_by_name(bucket, name)
    }
    fn list(&self, q: &ListQuery) -> Result<Page, Error> {
        (**self).list(q)
    }
    fn summary(&self, bucket: &str) -> Result<BucketSummary, Error> {
        (**self).summary(bucket)
    }
    fn delete(&self, id: &str) -> Result<bool, Error> {
        (**self).delete(id)
    }
    fn touch(&self, id: &str, at: Timestamp) -> Result<(), Error> {
        (**self).touch(id, at)
    }
    fn pin_object(&self, uri: &str, holder: &str, now: Timestamp, until: Timestamp) -> Result<bool, Error> {
        (**self).pin_object(uri, holder, now, until)
    }
    fn unpin_object(&self, uri: &str, holder: &str) -> Result<(), Error> {
        (**self).unpin_object(uri, holder)
    }
    fn claim_delete(&self, uri: &str, now: Timestamp, until: Timestamp) -> Result<bool, Error> {
        (**self).claim_delete(uri, now, until)
    }
    fn finish_delete(&self, uri: &str) -> Result<(), Error> {
        (**self).finish_delete(uri)
    }
    fn stale_claims(&self, before: Timestamp, limit: u32) -> Result<Vec<String>, Error> {
        (**self).stale_claims(before, limit)
    }
}

/// The claims on one object URI (WIT `metadata`, "object claims"), as a value: the in-memory
/// backends keep one per URI and apply these rules; SQL backends express the same rules as
/// statements in one transaction. Pins are keyed by holder; at most one delete claim.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UriClaims {
    /// Holder → until.
    pub pins: std::collections::BTreeMap<String, Timestamp>,
    /// Until of the delete claim.
    pub delete: Option<Timestamp>,
}

impl UriClaims {
    /// Drops claims whose `until` is at or before `now`.
    pub fn prune(&mut self, now: Timestamp) {
        self.pins.retain(|_, u| *u > now);
        self.delete = self.delete.filter(|u| *u > now);
    }
    /// `pin-object`: refused while a live delete claim exists.
    pub fn pin(&mut self, holder: &str, now: Timestamp, until: Timestamp) -> bool {
        if self.delete.is_some_and(|u| u > now) {
            return false;
        }
        self.pins.insert(holder.to_string(), until);
        true
    }
    /// `claim-delete`, given whether a record uses the URI.
    pub fn claim_delete(&mut self, now: Timestamp, until: Timestamp, referenced: bool) -> bool {
        self.prune(now);
        if referenced || !self.pins.is_empty() || self.delete.is_some() {
            return false;
        }
        self.delete = Some(until);
        true
    }
    /// Whether any claim is at or before `before`.
    pub fn stale(&self, before: Timestamp) -> bool {
        self.pins.values().any(|u| *u <= before) || self.delete.is_some_and(|u| u <= before)
    }
    pub fn is_empty(&self) -> bool {
        self.pins.is_empty() && self.delete.is_none()
    }
}

/// The most entries one listing page holds; requested limits are clamped to `1..=MAX_PAGE`.
pub const MAX_PAGE: u32 = 1000;

/// A requested page size clamped to `1..=MAX_PAGE`: hostile or zero limits still list something
/// and never allocate more than [`MAX_PAGE`] entries (plus the one that tells whether more remain).
pub fn clamp_limit(limit: u32) -> usize {
    limit.clamp(1, MAX_PAGE) as usize
}

/// Cuts a listing fetched with up to `limit + 1` entries (`limit` from [`clamp_limit`]) to one
/// page: the first `limit` entries, and when more remained, the cursor of the last one kept.
pub fn page<T>(
    mut items: Vec<T>,
    limit: usize,
    cursor_of: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(cursor_of)
    } else {
        None
    };
    (items, next)
}

/// Opaque listing cursors: `created_at` and `id` of the last record returned. Shared by every
/// metadata backend so cursors mean the same thing everywhere.
pub mod cursor {
    use crate::model::{Error, Timestamp};

    pub fn encode(created_at: Timestamp, id: &str) -> String {
        format!("{created_at}.{id}")
    }

    /// The cursor that resumes a listing after `r`.
    pub fn of(r: &crate::model::Record) -> String {
        encode(r.created_at, &r.id)
    }

    pub fn decode(c: &str) -> Result<(Timestamp, String), Error> {
        let bad = || Error::InvalidArgument(format!("malformed cursor {c:?}"));
        let (t, id) = c.split_once('.').ok_or_else(bad)?;
        let t = t.parse().map_err(|_| bad())?;
        if !crate::ids::is_valid(id) {
            return Err(bad());
        }
        Ok((t, id.to_string()))
    }
}

/// In-memory backends, for unit tests, benchmarks and embedding.
pub mod mem {
    use super::*;
    use crate::model::Order;
    use std::collections::{BTreeMap, HashMap};
    use std::sync::{Arc, Mutex, MutexGuard};

    fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    type Objects = Arc<Mutex<BTreeMap<String, Arc<Vec<u8>>>>>;

    /// Objects in a map; staged writes live in their writer until commit.
    #[derive(Clone, Default)]
    pub struct MemStorage {
        pub objects: Objects,
    }

    struct MemWriter {
        objects: Objects,
        buf: Option<Vec<u8>>,
    }

    impl BlobWriter for MemWriter {
        fn write(&mut self, chunk: &[u8]) -> Result<(), Error> {
            self.buf
                .as_mut()
                .ok_or_else(|| Error::Storage("writer is finished".into()))?
                .extend_from_slice(chunk);
            Ok(())
        }
        fn commit(&mut self, uri: &str, publish: Publish) -> Result<bool, Error> {
            let buf = self.buf.take().ok_or_else(|| Error::Storage("writer is finished".into()))?;
            let mut objects = lock(&self.objects);
            if publish == Publish::IfAbsent && objects.contains_key(uri) {
                return Ok(false);
            }
            objects.insert(uri.to_string(), Arc::new(buf));
            Ok(true)
        }
        fn abort(&mut self) {
            self.buf = None;
        }
    }

    impl Storage for MemStorage {
        fn drivers(&self) -> Vec<String> {
            vec!["mem".into()]
        }
        fn create_writer(&self, driver: &str) -> Result<Box<dyn BlobWriter + Send>, Error> {
            if driver != "mem" {
                return Err(Error::InvalidArgument(format!("driver {driver:?} is not configured")));
            }
            Ok(Box::new(MemWriter { objects: self.objects.clone(), buf: Some(Vec::new()) }))
        }
        fn read(&self, uri: &str, offset: u64, len: u64) -> Result<Vec<u8>, Error> {
            let o = lock(&self.objects);
            let b = o.get(uri).ok_or_else(|| Error::NotFound(format!("no object at {uri}")))?;
            let start = offset.min(b.len() as u64) as usize;
            let end = offset.saturating_add(len).min(b.len() as u64) as usize;
            Ok(b[start..end].to_vec())
        }
        fn stat(&self, uri: &str) -> Result<Option<u64>, Error> {
            Ok(lock(&self.objects).get(uri).map(|b| b.len() as u64))
        }
        fn list_objects(
            &self,
            prefix: &str,
            cursor: Option<&str>,
            limit: u32,
        ) -> Result<(Vec<String>, Option<String>), Error> {
            let o = lock(&self.objects);
            let limit = clamp_limit(limit);
            let uris: Vec<String> = o
                .keys()
                .filter(|k| k.starts_with(prefix) && cursor.is_none_or(|c| k.as_str() > c))
                .take(limit + 1)
                .cloned()
                .collect();
            Ok(page(uris, limit, String::clone))
        }
        fn delete(&self, uri: &str) -> Result<bool, Error> {
            Ok(lock(&self.objects).remove(uri).is_some())
        }
        fn collect_staging(&self, _before: Timestamp) -> Result<u32, Error> {
            // Staged bytes live in their writer and vanish with it.
            Ok(0)
        }
    }

    /// Records in a map keyed by id, with hash indexes on (bucket, name) and logical ref, so
    /// lookups and get-or-create do not scan every record (a 10,000-part manifest does one per part).
    #[derive(Clone, Default)]
    pub struct MemMetadata {
        table: Arc<Mutex<Table>>,
    }

    #[derive(Default)]
    struct Table {
        records: BTreeMap<String, Record>,
        by_name: HashMap<(String, String), String>,
        by_ref: HashMap<String, String>,
        /// Object URI → number of records whose location it is.
        by_uri: HashMap<String, usize>,
        claims: BTreeMap<String, UriClaims>,
    }

    impl Table {
        fn index(&mut self, rec: &Record) {
            self.by_name.insert((rec.bucket.clone(), rec.name.clone()), rec.id.clone());
            self.by_ref.insert(rec.logical_ref.clone(), rec.id.clone());
            *self.by_uri.entry(rec.location.uri.clone()).or_default() += 1;
        }
        fn unindex(&mut self, rec: &Record) {
            self.by_name.remove(&(rec.bucket.clone(), rec.name.clone()));
            self.by_ref.remove(&rec.logical_ref);
            if let Some(n) = self.by_uri.get_mut(&rec.location.uri) {
                *n -= 1;
                if *n == 0 {
                    self.by_uri.remove(&rec.location.uri);
                }
            }
        }
        /// Applies `f` to the claims of `uri`, dropping the entry when it ends up empty.
        fn with_claims<T>(&mut self, uri: &str, f: impl FnOnce(&mut UriClaims, bool) -> T) -> T {
            let referenced = self.by_uri.contains_key(uri);
            let c = self.claims.entry(uri.to_string()).or_default();
            let out = f(c, referenced);
            if c.is_empty() {
                self.claims.remove(uri);
            }
            out
        }
        fn name_owner(&self, bucket: &str, name: &str) -> Option<&String> {
            self.by_name.get(&(bucket.to_string(), name.to_string()))
        }
    }

    impl Metadata for MemMetadata {
        fn insert_if_absent(&self, rec: &Record) -> Result<Inserted, Error> {
            let mut t = lock(&self.table);
            if let Some(id) = t.name_owner(&rec.bucket, &rec.name) {
                return Ok(Inserted { record: t.records[id].clone(), created: false });
            }
            if t.records.contains_key(&rec.id) || t.by_ref.contains_key(&rec.logical_ref) {
                return Err(Error::Conflict(format!("id or ref of {} already taken", rec.id)));
            }
            t.index(rec);
            t.records.insert(rec.id.clone(), rec.clone());
            Ok(Inserted { record: rec.clone(), created: true })
        }
        fn update(&self, rec: &Record) -> Result<(), Error> {
            let mut t = lock(&self.table);
            let Some(old) = t.records.get(&rec.id).cloned() else {
                return Err(Error::NotFound(format!("no artifact with id {}", rec.id)));
            };
            let name_taken = t.name_owner(&rec.bucket, &rec.name).is_some_and(|id| *id != rec.id);
            let ref_taken = t.by_ref.get(&rec.logical_ref).is_some_and(|id| *id != rec.id);
            if name_taken || ref_taken {
                return Err(Error::Conflict(format!("update of {} collides with another artifact", rec.id)));
            }
            t.unindex(&old);
            t.index(rec);
            t.records.insert(rec.id.clone(), rec.clone());
            Ok(())
        }
        fn get_by_id(&self, id: &str) -> Result<Option<Record>, Error> {
            Ok(lock(&self.table).records.get(id).cloned())
        }
        fn get_by_ref(&self, r: &str) -> Result<Option<Record>, Error> {
            let t = lock(&self.table);
            Ok(t.by_ref.get(r).map(|id| t.records[id].clone()))
        }
        fn get_by_name(&self, bucket: &str, name: &str) -> Result<Option<Record>, Error> {
            let t = lock(&self.table);
            Ok(t.name_owner(bucket, name).map(|id| t.records[id].clone()))
        }
        fn list(&self, q: &ListQuery) -> Result<Page, Error> {
            let after = q.cursor.as_deref().map(cursor::decode).transpose()?;
            let t = lock(&self.table);
            let mut rows: Vec<&Record> = t.records.values().filter(|r| q.matches(r)).collect();
            rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            if q.order == Order::NewestFirst {
                rows.reverse();
            }
            let rows = rows.into_iter().filter(|r| match &after {
                None => true,
                Some((t, id)) => {
                    let key = (r.created_at, &r.id);
                    match q.order {
                        Order::OldestFirst => key > (*t, id),
                        Order::NewestFirst => key < (*t, id),
                    }
                }
            });
            let limit = clamp_limit(q.limit);
            let records: Vec<Record> = rows.take(limit + 1).cloned().collect();
            let (records, next_cursor) = page(records, limit, cursor::of);
            Ok(Page { records, next_cursor })
        }
        fn summary(&self, bucket: &str) -> Result<BucketSummary, Error> {
            let t = lock(&self.table);
            let mut s = BucketSummary::default();
            for r in t.records.values().filter(|r| r.bucket == bucket) {
                s.count += 1;
                s.total_bytes += r.bytes;
            }
            Ok(s)
        }
        fn delete(&self, id: &str) -> Result<bool, Error> {
            let mut t = lock(&self.table);
            match t.records.remove(id) {
                Some(old) => {
                    t.unindex(&old);
                    Ok(true)
                }
                None => Ok(false),
            }
        }
        fn touch(&self, _id: &str, _at: Timestamp) -> Result<(), Error> {
            Ok(())
        }
        fn pin_object(&self, uri: &str, holder: &str, now: Timestamp, until: Timestamp) -> Result<bool, Error> {
            Ok(lock(&self.table).with_claims(uri, |c, _| c.pin(holder, now, until)))
        }
        fn unpin_object(&self, uri: &str, holder: &str) -> Result<(), Error> {
            lock(&self.table).with_claims(uri, |c, _| c.pins.remove(holder));
            Ok(())
        }
        fn claim_delete(&self, uri: &str, now: Timestamp, until: Timestamp) -> Result<bool, Error> {
            Ok(lock(&self.table).with_claims(uri, |c, referenced| c.claim_delete(now, until, referenced)))
        }
        fn finish_delete(&self, uri: &str) -> Result<(), Error> {
            lock(&self.table).with_claims(uri, |c, _| c.delete = None);
            Ok(())
        }
        fn stale_claims(&self, before: Timestamp, limit: u32) -> Result<Vec<String>, Error> {
            let t = lock(&self.table);
            let limit = clamp_limit(limit);
            Ok(t.claims.iter().filter(|(_, c)| c.stale(before)).map(|(u, _)| u.clone()).take(limit).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::mem::{MemMetadata, MemStorage};
    use super::{BlobWriter, Metadata, Storage, READ_CAP};
    use crate::model::{Error, Record};
    use std::cell::Cell;

    /// MemStorage whose `read` counts its calls and, asked for more than [`READ_CAP`], returns
    /// at most `cap_to` bytes, as a capped backend does.
    struct Capped {
        inner: MemStorage,
        cap_to: usize,
        calls: Cell<u32>,
    }

    impl Storage for Capped {
        fn drivers(&self) -> Vec<String> {
            self.inner.drivers()
        }
        fn create_writer(&self, driver: &str) -> Result<Box<dyn BlobWriter + Send>, Error> {
            self.inner.create_writer(driver)
        }
        fn read(&self, uri: &str, offset: u64, len: u64) -> Result<Vec<u8>, Error> {
            self.calls.set(self.calls.get() + 1);
            let len = if len > READ_CAP { len.min(self.cap_to as u64) } else { len };
            self.inner.read(uri, offset, len)
        }
        fn stat(&self, uri: &str) -> Result<Option<u64>, Error> {
            self.inner.stat(uri)
        }
        fn list_objects(&self, p: &str, c: Option<&str>, l: u32) -> Result<(Vec<String>, Option<String>), Error> {
            self.inner.list_objects(p, c, l)
        }
        fn delete(&self, uri: &str) -> Result<bool, Error> {
            self.inner.delete(uri)
        }
        fn collect_staging(&self, before: u64) -> Result<u32, Error> {
            self.inner.collect_staging(before)
        }
    }

    #[test]
    fn read_chunks_stops_at_a_short_read_and_loops_over_a_capped_one() {
        let inner = MemStorage::default();
        let body: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        inner.objects.lock().unwrap().insert("mem://o".into(), std::sync::Arc::new(body.clone()));
        let s = Capped { inner, cap_to: 3000, calls: Cell::new(0) };
        // Asked for one byte past the end: one call, not a second one that finds nothing.
        let (got, digests) = s.read_chunks("mem://o", 0, 5001, 64 << 10).unwrap();
        assert!(got == body, "bytes");
        assert_eq!((digests.len(), s.calls.get()), (1, 1), "digests, read calls");
        // Asked past the cap: the short first read is not the end; the loop goes on to it.
        s.calls.set(0);
        let (got, _) = s.read_chunks("mem://o", 0, READ_CAP + 1, 64 << 10).unwrap();
        assert!(got == body, "bytes");
        assert_eq!(s.calls.get(), 2, "read calls");
    }

    fn rec(id: &str, name: &str) -> Record {
        Record {
            id: id.into(),
            bucket: "b".into(),
            name: name.into(),
            logical_ref: format!("noetl://artifact/b/{name}/{id}"),
            ..Default::default()
        }
    }

    #[test]
    fn mem_metadata_indexes_follow_insert_update_delete() {
        let m = MemMetadata::default();
        let a = rec("A", "x");
        assert!(m.insert_if_absent(&a).unwrap().created);
        // Same (bucket, name): the winner comes back; a taken ref is a conflict.
        assert_eq!(m.insert_if_absent(&rec("B", "x")).unwrap().record, a);
        let mut clash = rec("C", "y");
        clash.logical_ref = a.logical_ref.clone();
        assert!(matches!(m.insert_if_absent(&clash), Err(Error::Conflict(_))));
        // A rename moves both index entries.
        let renamed = rec("A", "z");
        m.update(&renamed).unwrap();
        assert_eq!(m.get_by_name("b", "x").unwrap(), None);
        assert_eq!(m.get_by_ref(&a.logical_ref).unwrap(), None);
        assert_eq!(m.get_by_name("b", "z").unwrap(), Some(renamed.clone()));
        assert_eq!(m.get_by_ref(&renamed.logical_ref).unwrap(), Some(renamed.clone()));
        // An update onto another record's name is a conflict and changes nothing.
        let d = rec("D", "x");
        assert!(m.insert_if_absent(&d).unwrap().created);
        assert!(matches!(m.update(&rec("A", "x")), Err(Error::Conflict(_))));
        assert_eq!(m.get_by_name("b", "x").unwrap(), Some(d));
        assert_eq!(m.get_by_id("A").unwrap(), Some(renamed.clone()));
        // Delete frees the name and the ref.
        assert!(m.delete("A").unwrap());
        assert_eq!(m.get_by_name("b", "z").unwrap(), None);
        assert_eq!(m.get_by_ref(&renamed.logical_ref).unwrap(), None);
        assert!(m.insert_if_absent(&rec("E", "z")).unwrap().created);
    }
}
