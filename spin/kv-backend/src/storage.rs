//! `artifact:store/storage` over the key-value store.
//!
//! An object is a small JSON *head* at `a/o/{h(uri)}` naming a generation `gen`, and its bytes in
//! chunks of [`CHUNK`] bytes at `a/c/{gen}/{i}`. A writer stages chunks under a fresh random
//! generation as they arrive (memory stays bounded) and `commit` publishes by writing the head,
//! one key-value write, so readers see the whole object or nothing. `if-absent` publishes with
//! compare-and-swap on the head key (exactly one winner among racing writers); `overwrite`
//! replaces the head, then deletes the old generation's chunks. URIs are `kv://…`; the sorted
//! list of URIs (for `list-objects`) is one JSON value at `a/i/objects`.
//!
//! **Small objects** (at most [`INLINE`] bytes, written in one go) keep their bytes in the head
//! value itself, after the JSON and a newline, so a small object is one key-value value: its
//! `stat` and `read` are one host call, and its commit one write with no staging.
//!
//! **Heads are cached per instance.** Spin makes an instance per request and a host call costs
//! about as much as the rest of a small read (benches/README.md), so a head read once is reused
//! for the instance's later `stat`s and `read`s (a signed read asks for the same object's size,
//! its index and its bytes). The instance's own writes and deletes update the cache; a chunk
//! gone under a cached head (another instance overwrote the object) reads the head again, as
//! before. So a read sees one version of the object per instance, like a read that started
//! before a concurrent overwrite.
//!
//! **Staging.** Staged chunks persist in the store, so a writer whose instance is killed (its
//! `Drop` never runs) leaves them behind. A writer lists `[started_ms, gen]` in the sorted value
//! `a/i/staging` before its first chunk and takes itself off when it is discarded (after deleting
//! its chunks) or, on `commit`, just before the head is published. `collect-staging` takes every
//! entry started before its cutoff off the list in one compare-and-swap, then deletes those
//! generations' chunks. Chunks are written in order and deleted last first, so what is left of a
//! generation is always chunks `0..n`: collect finds `n` by probing. A commit that finds its entry
//! already gone (collected: the writer outlived the caller's grace period) fails rather than
//! publish a head over deleted chunks. Not tracked: a writer killed between taking its entry off
//! and publishing the head (one compare-and-swap apart), and old generations an overwrite or
//! `delete` was killed while deleting.

use crate::exports::artifact::store::types::Error;
use crate::digests;
use crate::exports::artifact::store::storage::{
    ChunkedBytes, Digests, Guest, GuestWriter, ObjectPage, ObjectStat, Publish, Writer,
};
use crate::kv::{self, Step};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Bytes per key-value value. 256 KiB stays under the value limits of Spin's key-value backends
/// (DynamoDB's 400 KB item limit is the smallest) and of hosts that cap one host call.
pub const CHUNK: usize = 256 << 10;
/// Largest `read` answered in one call; callers loop (the WIT allows hosts to cap `len`).
const MAX_READ: u64 = 8 << 20;
/// Largest object kept inside its head value (see the module docs): 64 KiB, a quarter of a
/// chunk, so a head stays far below every backend's value limit.
pub const INLINE: usize = 64 << 10;
/// Heads an instance keeps (see the module docs); past it the cache starts over.
const CACHED_HEADS: usize = 64;
const OBJECTS: &str = "a/i/objects";
/// Sorted `[started_ms, gen]` of writers that have staged chunks and neither committed nor
/// discarded them (see the module docs).
const STAGING: &str = "a/i/staging";
pub const DRIVER: &str = "kv";

#[derive(Serialize, Deserialize)]
struct Head {
    uri: String,
    size: u64,
    chunks: u64,
    chunk: u64,
    gen: String,
    /// The bytes follow the JSON in the same value (no chunks).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    inline: bool,
}

/// A head and, for an inline object, its bytes.
struct Object {
    head: Head,
    data: Vec<u8>,
}

impl Object {
    /// The stored value: the head's JSON, then for an inline object `\n` and the bytes (compact
    /// JSON never contains a raw newline).
    fn encode(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec(&self.head).unwrap();
        if self.head.inline {
            v.push(b'\n');
            v.extend_from_slice(&self.data);
        }
        v
    }

    fn decode(uri: &str, v: &[u8]) -> Result<Object, Error> {
        let corrupt = |m: String| st(format!("object head of {uri} is corrupt: {m}"));
        let (json, data) = match v.iter().position(|&b| b == b'\n') {
            Some(i) => (&v[..i], &v[i + 1..]),
            None => (v, &[][..]),
        };
        let head: Head = serde_json::from_slice(json).map_err(|e| corrupt(e.to_string()))?;
        if head.inline && (head.chunks != 0 || data.len() as u64 != head.size) {
            return Err(corrupt(format!("inline object of {} bytes holds {}", head.size, data.len())));
        }
        if !head.inline && !data.is_empty() {
            return Err(corrupt("bytes after a chunked head".into()));
        }
        Ok(Object { head, data: data.to_vec() })
    }
}

thread_local! {
    /// Heads read or written by this instance, by URI (see the module docs).
    static HEADS: RefCell<HashMap<String, Rc<Object>>> = RefCell::new(HashMap::new());
}

fn remember(uri: &str, obj: Option<Rc<Object>>) {
    HEADS.with(|c| {
        let mut c = c.borrow_mut();
        match obj {
            None => {
                c.remove(uri);
            }
            Some(o) => {
                if c.len() >= CACHED_HEADS {
                    c.clear();
                }
                c.insert(uri.to_string(), o);
            }
        }
    })
}

/// The stored value of the inline object at `uri` if this instance has it cached (what a
/// record saved now may carry; see `metadata`).
pub fn cached_inline(uri: &str) -> Option<Vec<u8>> {
    HEADS.with(|c| c.borrow().get(uri).filter(|o| o.head.inline && o.head.size <= crate::metadata::EMBED).map(|o| o.encode()))
}

/// Caches `value`, a copy of the object value at `uri` that a record carried, unless the
/// instance already has a head for `uri` or the copy is not an intact inline object of `uri`.
pub fn prime(uri: &str, value: &[u8]) {
    if HEADS.with(|c| c.borrow().contains_key(uri)) {
        return;
    }
    if let Ok(o) = Object::decode(uri, value) {
        if o.head.inline && o.head.uri == uri {
            remember(uri, Some(Rc::new(o)));
        }
    }
}

/// Forgets every cached head (tests that change the store behind the backend's back).
#[cfg(test)]
pub fn forget_heads() {
    HEADS.with(|c| c.borrow_mut().clear());
}

fn head_key(uri: &str) -> String {
    format!("a/o/{}", kv::h(&[uri]))
}

fn chunk_key(gen: &str, i: u64) -> String {
    format!("a/c/{gen}/{i}")
}

fn st(e: String) -> Error {
    Error::Storage(e)
}

/// The object at `uri`: from this instance's cache unless `fresh`.
fn head(uri: &str, fresh: bool) -> Result<Option<Rc<Object>>, Error> {
    if !fresh {
        if let Some(o) = HEADS.with(|c| c.borrow().get(uri).cloned()) {
            return Ok(Some(o));
        }
    }
    let found = match kv::get(&head_key(uri)).map_err(st)? {
        None => None,
        Some(v) => Some(Object::decode(uri, &v)?).filter(|o| o.head.uri == uri).map(Rc::new),
    };
    remember(uri, found.clone());
    Ok(found)
}

/// Deletes chunks `0..chunks` of `gen`, last first, so that an interrupted deletion leaves a
/// prefix (what `collect-staging` expects).
fn delete_chunks(gen: &str, chunks: u64) {
    for i in (0..chunks).rev() {
        let _ = kv::delete(&chunk_key(gen, i));
    }
}

/// Milliseconds since the Unix epoch (`wasi:clocks/wall-clock`).
fn now_ms() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

pub struct KvWriter(RefCell<Staged>);

struct Staged {
    gen: String,
    /// When the writer was created (ms since the epoch): its `a/i/staging` entry's time.
    started: u64,
    /// Whether the writer's entry is (as far as it knows) in `a/i/staging`.
    registered: bool,
    buf: Vec<u8>,
    chunks: u64,
    size: u64,
    done: bool,
    /// What `writer.digests` reports.
    digests: digests::Stream,
}

impl Staged {
    fn flush(&mut self, all: bool) -> Result<(), Error> {
        while self.buf.len() >= CHUNK || (all && !self.buf.is_empty()) {
            if !self.registered {
                kv::edit_index(STAGING, &self.entry(), true).map_err(st)?;
                self.registered = true;
            }
            let n = self.buf.len().min(CHUNK);
            kv::set(&chunk_key(&self.gen, self.chunks), &self.buf[..n]).map_err(st)?;
            self.buf.drain(..n);
            self.chunks += 1;
        }
        Ok(())
    }
    fn entry(&self) -> (u64, String) {
        (self.started, self.gen.clone())
    }
    fn discard(&mut self) {
        if !self.done {
            self.done = true;
            self.buf = Vec::new();
            delete_chunks(&self.gen, self.chunks);
            if self.registered {
                // Best effort: an entry left behind is removed by `collect-staging`.
                let _ = kv::edit_index(STAGING, &self.entry(), false);
                self.registered = false;
            }
        }
    }
}

impl KvWriter {
    pub(crate) fn new(digest_chunk: u64) -> KvWriter {
        KvWriter(RefCell::new(Staged {
            gen: kv::random_hex(),
            started: now_ms(),
            registered: false,
            buf: Vec::new(),
            chunks: 0,
            size: 0,
            done: false,
            digests: digests::Stream::new(digest_chunk),
        }))
    }
}

impl Drop for KvWriter {
    fn drop(&mut self) {
        self.0.borrow_mut().discard();
    }
}

impl GuestWriter for KvWriter {
    fn write(&self, chunk: Vec<u8>) -> Result<(), Error> {
        let mut s = self.0.borrow_mut();
        if s.done {
            return Err(Error::InvalidArgument("writer already committed or aborted".into()));
        }
        s.size += chunk.len() as u64;
        s.buf.extend_from_slice(&chunk);
        s.digests.update(&chunk);
        s.flush(false)
    }

    fn digests(&self) -> Result<Digests, Error> {
        let s = self.0.borrow();
        if s.done {
            return Err(Error::InvalidArgument("writer already committed or aborted".into()));
        }
        Ok(s.digests.result())
    }

    fn commit(&self, uri: String, publish: Publish) -> Result<bool, Error> {
        let mut s = self.0.borrow_mut();
        if s.done {
            return Err(Error::InvalidArgument("writer already committed or aborted".into()));
        }
        if !uri.starts_with("kv://") || uri.len() <= "kv://".len() {
            s.discard();
            return Err(Error::InvalidArgument(format!("{uri:?} is not a kv:// URI")));
        }
        let inline = !s.registered && s.chunks == 0 && s.buf.len() <= INLINE;
        if !inline {
            if let Err(e) = s.flush(true) {
                s.discard();
                return Err(e);
            }
        }
        if s.registered {
            // Off the staging list before the head names these chunks (so `collect-staging` never
            // deletes a published object's chunks); gone already means collected.
            let listed = kv::edit_index(STAGING, &s.entry(), false).map_err(st);
            match listed {
                Ok(true) => s.registered = false,
                Ok(false) => {
                    s.registered = false;
                    s.discard();
                    return Err(st(format!(
                        "staged write for {uri} was collected by collect-staging (it outlived the grace period)"
                    )));
                }
                Err(e) => {
                    s.discard();
                    return Err(e);
                }
            }
        }
        let head = Head { uri: uri.clone(), size: s.size, chunks: s.chunks, chunk: CHUNK as u64, gen: s.gen.clone(), inline };
        let obj = Rc::new(Object { head, data: if inline { std::mem::take(&mut s.buf) } else { Vec::new() } });
        let body = obj.encode();
        let key = head_key(&uri);
        let r = kv::update(&key, |cur| {
            let old: Option<Head> = cur.and_then(|b| Object::decode(&uri, b).ok()).map(|o| o.head);
            Ok(match publish {
                Publish::IfAbsent if cur.is_some() => Step::Keep(None),
                _ => Step::Write(body.clone(), Some(old)),
            })
        });
        match r {
            Err(e) => {
                s.discard();
                Err(st(e))
            }
            Ok(None) => {
                s.discard();
                remember(&uri, None);
                Ok(false)
            }
            Ok(Some(old)) => {
                s.done = true;
                remember(&uri, Some(obj));
                if let Some(old) = old.filter(|o| o.gen != s.gen) {
                    delete_chunks(&old.gen, old.chunks);
                }
                kv::edit_index(OBJECTS, &uri, true).map_err(st)?;
                Ok(true)
            }
        }
    }

    fn abort(&self) {
        self.0.borrow_mut().discard();
    }
}

impl Guest for crate::Backend {
    type Writer = KvWriter;

    fn drivers() -> Vec<String> {
        vec![DRIVER.into()]
    }

    fn create_writer(driver: String, chunk_size: u64) -> Result<Writer, Error> {
        if driver != DRIVER {
            return Err(Error::InvalidArgument(format!("driver {driver:?} is not configured (this host has \"kv\")")));
        }
        Ok(Writer::new(KvWriter::new(digests::check_chunk_size(chunk_size)?)))
    }

    fn read_chunks(uri: String, offset: u64, len: u64, chunk_size: u64) -> Result<ChunkedBytes, Error> {
        let chunk = digests::check_chunk_size(chunk_size)?;
        // Whole chunks per answer, as the WIT promises of a host that caps `len`.
        let want = len.min((MAX_READ / chunk).max(1) * chunk);
        let mut bytes: Vec<u8> = Vec::new();
        while (bytes.len() as u64) < want {
            let part = Self::read(uri.clone(), offset + bytes.len() as u64, want - bytes.len() as u64)?;
            if part.is_empty() {
                break;
            }
            bytes.extend_from_slice(&part);
        }
        let chunks = digests::pieces(&bytes, chunk);
        Ok(ChunkedBytes { bytes, chunks })
    }

    /// A component cannot make a `wasi:io` stream of its own: the artifact component reads
    /// with `read-chunks` instead (the WIT's answer for hosts that do not stream).
    fn read_verified(
        _uri: String,
        _size: u64,
        _chunk_size: u64,
        _hash: crate::exports::artifact::store::storage::ChunkHash,
        _expected: Vec<u8>,
        _offset: u64,
        _len: u64,
    ) -> Result<Option<crate::wasi::io::streams::InputStream>, Error> {
        Ok(None)
    }

    fn read(uri: String, offset: u64, len: u64) -> Result<Vec<u8>, Error> {
        // A concurrent overwrite or delete may remove the generation being read: read the head
        // again once, then report it.
        for attempt in 0..2 {
            let obj = head(&uri, attempt == 1)?.ok_or_else(|| Error::NotFound(format!("no object at {uri}")))?;
            let h = &obj.head;
            let end = offset.saturating_add(len.min(MAX_READ)).min(h.size);
            if offset >= end {
                return Ok(Vec::new());
            }
            if h.inline {
                return Ok(obj.data[offset as usize..end as usize].to_vec());
            }
            let mut out = Vec::with_capacity((end - offset) as usize);
            let mut missing = false;
            for i in offset / h.chunk..=(end - 1) / h.chunk {
                let Some(c) = kv::get(&chunk_key(&h.gen, i)).map_err(st)? else {
                    missing = true;
                    break;
                };
                let base = i * h.chunk;
                let lo = offset.max(base) - base;
                let hi = (end.min(base + c.len() as u64)).saturating_sub(base);
                if lo < hi {
                    out.extend_from_slice(&c[lo as usize..hi as usize]);
                }
            }
            if !missing && out.len() as u64 == end - offset {
                return Ok(out);
            }
            if attempt == 1 {
                return Err(st(format!("object {uri} changed or lost chunks while being read")));
            }
        }
        unreachable!()
    }

    fn stat(uri: String) -> Result<Option<ObjectStat>, Error> {
        Ok(head(&uri, false)?.map(|o| ObjectStat { size: o.head.size }))
    }

    fn list_objects(prefix: String, cursor: Option<String>, limit: u32) -> Result<ObjectPage, Error> {
        let all: Vec<String> = kv::load_index(OBJECTS).map_err(st)?;
        let limit = limit.clamp(1, 1000) as usize;
        let mut uris: Vec<String> = all
            .into_iter()
            .filter(|u| u.starts_with(&prefix) && cursor.as_deref().is_none_or(|c| u.as_str() > c))
            .take(limit + 1)
            .collect();
        let next_cursor = if uris.len() > limit {
            uris.truncate(limit);
            uris.last().cloned()
        } else {
            None
        };
        Ok(ObjectPage { uris, next_cursor })
    }

    fn delete(uri: String) -> Result<bool, Error> {
        let Some(obj) = head(&uri, true)? else {
            return Ok(false);
        };
        kv::delete(&head_key(&uri)).map_err(st)?;
        remember(&uri, None);
        kv::edit_index(OBJECTS, &uri, false).map_err(st)?;
        delete_chunks(&obj.head.gen, obj.head.chunks);
        Ok(true)
    }

    fn collect_staging(before: u64) -> Result<u32, Error> {
        // Take the old entries off the list first, in one swap: a writer still alive finds its
        // entry gone at commit and fails instead of publishing over deleted chunks.
        let gone = kv::update(STAGING, |cur| {
            let all: Vec<(u64, String)> = match cur {
                None => return Ok(Step::Keep(Vec::new())),
                Some(b) => serde_json::from_slice(b).map_err(|e| format!("index {STAGING:?} is corrupt: {e}"))?,
            };
            let (gone, kept): (Vec<_>, Vec<_>) = all.into_iter().partition(|(t, _)| *t < before);
            Ok(if gone.is_empty() { Step::Keep(gone) } else { Step::Write(serde_json::to_vec(&kept).unwrap(), gone) })
        })
        .map_err(st)?;
        for (_, gen) in &gone {
            let mut n = 0;
            while kv::exists(&chunk_key(gen, n)).map_err(st)? {
                n += 1;
            }
            delete_chunks(gen, n);
        }
        Ok(gone.len() as u32)
    }
}
