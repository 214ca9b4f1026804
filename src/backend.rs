//! The two things the component needs from its host, as Rust traits. Inside the component they
//! are implemented over the WIT imports; natively (unit tests, benchmarks) by [`mem`].

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

/// The byte store; see WIT `storage`.
pub trait Storage {
    fn drivers(&self) -> Vec<String>;
    fn create_writer(&self, driver: &str) -> Result<Box<dyn BlobWriter + Send>, Error>;
    fn read(&self, uri: &str, offset: u64, len: u64) -> Result<Vec<u8>, Error>;
    fn stat(&self, uri: &str) -> Result<Option<u64>, Error>;
    fn list_objects(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<String>, Option<String>), Error>;
    fn delete(&self, uri: &str) -> Result<bool, Error>;
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
}

/// Opaque listing cursors: `created_at` and `id` of the last record returned. Shared by every
/// metadata backend so cursors mean the same thing everywhere.
pub mod cursor {
    use crate::model::{Error, Timestamp};

    pub fn encode(created_at: Timestamp, id: &str) -> String {
        format!("{created_at}.{id}")
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
    use std::collections::BTreeMap;
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
            let limit = limit.clamp(1, 1000) as usize;
            let mut uris: Vec<String> = o
                .keys()
                .filter(|k| k.starts_with(prefix) && cursor.is_none_or(|c| k.as_str() > c))
                .take(limit + 1)
                .cloned()
                .collect();
            let next = if uris.len() > limit {
                uris.truncate(limit);
                uris.last().cloned()
            } else {
                None
            };
            Ok((uris, next))
        }
        fn delete(&self, uri: &str) -> Result<bool, Error> {
            Ok(lock(&self.objects).remove(uri).is_some())
        }
    }

    /// Records in a map keyed by id.
    #[derive(Clone, Default)]
    pub struct MemMetadata {
        pub records: Arc<Mutex<BTreeMap<String, Record>>>,
    }

    impl Metadata for MemMetadata {
        fn insert_if_absent(&self, rec: &Record) -> Result<Inserted, Error> {
            let mut m = lock(&self.records);
            if let Some(existing) =
                m.values().find(|r| r.bucket == rec.bucket && r.name == rec.name)
            {
                return Ok(Inserted { record: existing.clone(), created: false });
            }
            if m.contains_key(&rec.id) || m.values().any(|r| r.logical_ref == rec.logical_ref) {
                return Err(Error::Conflict(format!("id or ref of {} already taken", rec.id)));
            }
            m.insert(rec.id.clone(), rec.clone());
            Ok(Inserted { record: rec.clone(), created: true })
        }
        fn update(&self, rec: &Record) -> Result<(), Error> {
            let mut m = lock(&self.records);
            match m.get_mut(&rec.id) {
                Some(r) => {
                    *r = rec.clone();
                    Ok(())
                }
                None => Err(Error::NotFound(format!("no artifact with id {}", rec.id))),
            }
        }
        fn get_by_id(&self, id: &str) -> Result<Option<Record>, Error> {
            Ok(lock(&self.records).get(id).cloned())
        }
        fn get_by_ref(&self, r: &str) -> Result<Option<Record>, Error> {
            Ok(lock(&self.records).values().find(|x| x.logical_ref == r).cloned())
        }
        fn get_by_name(&self, bucket: &str, name: &str) -> Result<Option<Record>, Error> {
            Ok(lock(&self.records)
                .values()
                .find(|x| x.bucket == bucket && x.name == name)
                .cloned())
        }
        fn list(&self, q: &ListQuery) -> Result<Page, Error> {
            let after = q.cursor.as_deref().map(cursor::decode).transpose()?;
            let m = lock(&self.records);
            let mut rows: Vec<&Record> = m.values().filter(|r| q.matches(r)).collect();
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
            let limit = q.limit.clamp(1, 1000) as usize;
            let mut records: Vec<Record> = rows.take(limit + 1).cloned().collect();
            let next_cursor = if records.len() > limit {
                records.truncate(limit);
                records.last().map(|r| cursor::encode(r.created_at, &r.id))
            } else {
                None
            };
            Ok(Page { records, next_cursor })
        }
        fn summary(&self, bucket: &str) -> Result<BucketSummary, Error> {
            let m = lock(&self.records);
            let mut s = BucketSummary::default();
            for r in m.values().filter(|r| r.bucket == bucket) {
                s.count += 1;
                s.total_bytes += r.bytes;
            }
            Ok(s)
        }
        fn delete(&self, id: &str) -> Result<bool, Error> {
            Ok(lock(&self.records).remove(id).is_some())
        }
        fn touch(&self, _id: &str, _at: Timestamp) -> Result<(), Error> {
            Ok(())
        }
    }
}
