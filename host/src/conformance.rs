//! One conformance suite for every backend: plain functions taking a `&dyn` backend that panic
//! with a clear message on the first violation. Every backend's tests call them.
//!
//! Each run works under fresh, unique names (a `conformance/<run>/` URI prefix, `conf-<run>-*`
//! buckets and creators), so the suites can run concurrently against a shared server.
//! A backend that cannot support a case turns the matching capability off; the suite then prints
//! `skipped: <case> (capability <name> off)`.

use crate::metadata::{Inserted, Metadata};
use crate::storage::{BlobWriter, Publish, Storage};
use artifact_component::backend::cursor;
use artifact_component::ids;
use artifact_component::model::*;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;

/// What a storage backend supports; [`Default`] is everything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StorageCaps {
    /// Writers on several threads may commit to one URI at once.
    pub concurrent_writers: bool,
    /// Malformed or escaping object URIs (`..`, absolute, other scheme, ...) are rejected.
    pub validates_uris: bool,
}

impl Default for StorageCaps {
    fn default() -> Self {
        StorageCaps {
            concurrent_writers: true,
            validates_uris: true,
        }
    }
}

impl StorageCaps {
    pub fn concurrent_writers(mut self, on: bool) -> Self {
        self.concurrent_writers = on;
        self
    }
    pub fn validates_uris(mut self, on: bool) -> Self {
        self.validates_uris = on;
        self
    }
}

/// What a metadata backend supports; [`Default`] is everything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetadataCaps {
    /// Several threads may call `insert_if_absent` at once.
    pub concurrent_writers: bool,
}

impl Default for MetadataCaps {
    fn default() -> Self {
        MetadataCaps {
            concurrent_writers: true,
        }
    }
}

impl MetadataCaps {
    pub fn concurrent_writers(mut self, on: bool) -> Self {
        self.concurrent_writers = on;
        self
    }
}

fn skipped(case: &str, cap: &str) {
    eprintln!("skipped: {case} (capability {cap} off)");
}

/// A token unique to this run (process, time, counter), in lowercase base32 so it is a valid
/// path segment, bucket name and ULID-compatible character set.
fn run_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let id = ids::new_id(ids::now_ms());
    format!("{}{}{n}", id.to_ascii_lowercase(), std::process::id())
}

// ---------------------------------------------------------------------------------------------
// Storage
// ---------------------------------------------------------------------------------------------

/// Runs every storage case.
pub fn storage_suite(s: &(dyn Storage + Sync), caps: StorageCaps) {
    storage_roundtrip(s);
    storage_ranged_reads(s);
    storage_delete(s);
    storage_staging(s);
    storage_publish(s);
    storage_list(s);
    if caps.concurrent_writers {
        storage_concurrent_commits(s);
    } else {
        skipped("storage_concurrent_commits", "concurrent_writers");
    }
    if caps.validates_uris {
        storage_rejects_invalid_uris(s);
    } else {
        skipped("storage_rejects_invalid_uris", "validates_uris");
    }
}

/// A fresh URI prefix (ending in `/`) on the backend's default driver.
fn storage_base(s: &dyn Storage) -> (String, String) {
    let driver = s
        .drivers()
        .into_iter()
        .next()
        .expect("storage: drivers() is empty");
    let base = format!("{driver}://conformance/{}/", run_id());
    (driver, base)
}

fn writer(s: &dyn Storage, driver: &str) -> Box<dyn BlobWriter + Send> {
    s.create_writer(driver)
        .unwrap_or_else(|e| panic!("storage: create_writer({driver:?}) failed: {e:?}"))
}

fn put(s: &dyn Storage, driver: &str, uri: &str, data: &[u8], publish: Publish) -> bool {
    let mut w = writer(s, driver);
    w.write(data)
        .unwrap_or_else(|e| panic!("storage: write for {uri} failed: {e:?}"));
    w.commit(uri, publish)
        .unwrap_or_else(|e| panic!("storage: commit {uri} failed: {e:?}"))
}

fn read_all(s: &dyn Storage, uri: &str) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let chunk = s
            .read(uri, out.len() as u64, 1 << 20)
            .unwrap_or_else(|e| panic!("storage: read {uri} at {} failed: {e:?}", out.len()));
        assert!(
            chunk.len() <= 1 << 20,
            "storage: read {uri} returned more than len"
        );
        if chunk.is_empty() {
            return out;
        }
        out.extend_from_slice(&chunk);
    }
}

fn list_all(s: &dyn Storage, prefix: &str, limit: u32) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let (uris, next) = s
            .list_objects(prefix, cursor.as_deref(), limit)
            .unwrap_or_else(|e| panic!("storage: list_objects({prefix:?}) failed: {e:?}"));
        let cap = limit.clamp(1, 1000) as usize;
        assert!(
            uris.len() <= cap,
            "storage: list_objects returned {} > limit {cap}",
            uris.len()
        );
        if next.is_some() {
            assert_eq!(
                next.as_ref(),
                uris.last(),
                "storage: next cursor is not the last URI"
            );
        }
        out.extend(uris);
        match next {
            Some(n) => cursor = Some(n),
            None => return out,
        }
    }
    panic!("storage: list_objects({prefix:?}) never ended");
}

/// Deterministic, non-repeating-looking test bytes.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + i / 251) as u8).wrapping_add(seed))
        .collect()
}

/// Write in odd-sized chunks, commit, read back whole; stat; a second writer after commit fails.
pub fn storage_roundtrip(s: &dyn Storage) {
    let (driver, base) = storage_base(s);
    assert!(
        matches!(
            s.create_writer("no-such-driver"),
            Err(Error::InvalidArgument(_))
        ),
        "storage: create_writer with an unknown driver must fail with invalid-argument"
    );
    let data = pattern(3 * (1 << 20) + 12_345, 7);
    let uri = format!("{base}blobs/big.bin");
    let mut w = writer(s, &driver);
    let mut at = 0;
    for size in [0usize, 1, 7, 4096, 65_537, 1 << 20].iter().cycle() {
        if at >= data.len() {
            break;
        }
        let end = (at + size).min(data.len());
        w.write(&data[at..end]).expect("storage: write failed");
        at = end;
    }
    assert!(
        w.commit(&uri, Publish::IfAbsent)
            .expect("storage: commit failed"),
        "storage: first commit returned false"
    );
    assert!(
        w.write(b"x").is_err(),
        "storage: write after commit must fail"
    );
    assert!(
        w.commit(&uri, Publish::Overwrite).is_err(),
        "storage: second commit must fail"
    );
    w.abort();
    assert_eq!(
        s.stat(&uri).expect("storage: stat failed"),
        Some(data.len() as u64)
    );
    assert!(
        read_all(s, &uri) == data,
        "storage: bytes read back differ from bytes written"
    );

    let empty = format!("{base}empty");
    assert!(put(s, &driver, &empty, b"", Publish::IfAbsent));
    assert_eq!(
        s.stat(&empty).unwrap(),
        Some(0),
        "storage: empty object must stat as 0 bytes"
    );
    assert_eq!(s.read(&empty, 0, 10).unwrap(), Vec::<u8>::new());
    assert_eq!(
        s.stat(&format!("{base}missing")).unwrap(),
        None,
        "storage: stat of a missing object"
    );
    assert!(
        matches!(
            s.read(&format!("{base}missing"), 0, 1),
            Err(Error::NotFound(_))
        ),
        "storage: read of a missing object must be not-found"
    );
}

/// Ranges: exact, clamped at the end, at and past the end, zero length.
pub fn storage_ranged_reads(s: &dyn Storage) {
    let (driver, base) = storage_base(s);
    let uri = format!("{base}ranged");
    let data = pattern(1000, 3);
    assert!(put(s, &driver, &uri, &data, Publish::IfAbsent));
    let cases: [(u64, u64, &[u8]); 8] = [
        (0, 1000, &data[..]),
        (0, 10, &data[..10]),
        (10, 20, &data[10..30]),
        (990, 100, &data[990..]),
        (999, u64::MAX, &data[999..]),
        (1000, 10, &[]),
        (5000, 10, &[]),
        (10, 0, &[]),
    ];
    for (offset, len, want) in cases {
        let got = s
            .read(&uri, offset, len)
            .unwrap_or_else(|e| panic!("storage: read({offset}, {len}) failed: {e:?}"));
        assert!(
            got == want,
            "storage: read({offset}, {len}) returned {} bytes, want {}",
            got.len(),
            want.len()
        );
    }
    for len in [10, u64::MAX] {
        assert_eq!(
            s.read(&uri, u64::MAX, len).unwrap(),
            Vec::<u8>::new(),
            "storage: read({len}) at u64::MAX"
        );
    }
    // A "directory" (the prefix of another object) is no object, for small and large reads.
    let inner = format!("{base}ranged-dir/inner");
    assert!(put(s, &driver, &inner, b"x", Publish::IfAbsent));
    for len in [10, u64::MAX] {
        assert!(
            matches!(s.read(&format!("{base}ranged-dir"), 0, len), Err(Error::NotFound(_))),
            "storage: read({len}) of a prefix is not NotFound"
        );
    }
}

/// Delete returns whether something was there; the object is gone afterwards.
pub fn storage_delete(s: &dyn Storage) {
    let (driver, base) = storage_base(s);
    let uri = format!("{base}dir/victim");
    let keep = format!("{base}dir/keep");
    assert!(put(s, &driver, &uri, b"bye", Publish::IfAbsent));
    assert!(put(s, &driver, &keep, b"stay", Publish::IfAbsent));
    assert!(
        s.delete(&uri).expect("storage: delete failed"),
        "storage: delete of an existing object returned false"
    );
    assert_eq!(
        s.stat(&uri).unwrap(),
        None,
        "storage: deleted object still has a stat"
    );
    assert!(
        matches!(s.read(&uri, 0, 10), Err(Error::NotFound(_))),
        "storage: deleted object still readable"
    );
    assert!(
        !s.delete(&uri).unwrap(),
        "storage: second delete returned true"
    );
    assert!(
        !s.delete(&format!("{base}never")).unwrap(),
        "storage: delete of a missing object returned true"
    );
    assert_eq!(
        read_all(s, &keep),
        b"stay",
        "storage: delete touched a sibling"
    );
    assert!(
        put(s, &driver, &uri, b"again", Publish::IfAbsent),
        "storage: re-creating a deleted object failed"
    );
    assert_eq!(read_all(s, &uri), b"again");
}

/// Staged bytes are invisible until commit; abort and drop leave nothing.
pub fn storage_staging(s: &dyn Storage) {
    let (driver, base) = storage_base(s);
    let uri = format!("{base}staged");
    let mut w = writer(s, &driver);
    w.write(b"not yet").unwrap();
    assert_eq!(
        s.stat(&uri).unwrap(),
        None,
        "storage: staged object visible via stat before commit"
    );
    assert!(
        list_all(s, &base, 100).is_empty(),
        "storage: staged object listed before commit"
    );
    assert!(w.commit(&uri, Publish::IfAbsent).unwrap());
    assert_eq!(read_all(s, &uri), b"not yet");

    let aborted = format!("{base}aborted");
    let mut w = writer(s, &driver);
    w.write(b"discard me").unwrap();
    w.abort();
    w.abort(); // idempotent
    assert!(
        w.commit(&aborted, Publish::IfAbsent).is_err(),
        "storage: commit after abort must fail"
    );
    assert!(
        w.write(b"x").is_err(),
        "storage: write after abort must fail"
    );
    drop(w);

    let dropped = format!("{base}dropped");
    let mut w = writer(s, &driver);
    w.write(b"dropped").unwrap();
    drop(w);

    assert_eq!(
        s.stat(&aborted).unwrap(),
        None,
        "storage: aborted object is visible"
    );
    assert_eq!(
        s.stat(&dropped).unwrap(),
        None,
        "storage: dropped writer's object is visible"
    );
    assert_eq!(
        list_all(s, &base, 100),
        vec![uri.clone()],
        "storage: only the committed object may be listed"
    );

    // collect_staging removes only writes begun before its cutoff, never committed objects.
    let mut live = writer(s, &driver);
    live.write(b"still streaming").unwrap();
    let now = ids::now_ms();
    s.collect_staging(now.saturating_sub(60_000)).unwrap();
    s.collect_staging(0).unwrap();
    let later = format!("{base}later");
    assert!(
        live.commit(&later, Publish::IfAbsent).unwrap(),
        "storage: collect_staging took a live writer's staged bytes"
    );
    assert_eq!(read_all(s, &later), b"still streaming");
    s.collect_staging(now + 60_000).unwrap();
    assert_eq!(read_all(s, &uri), b"not yet", "storage: collect_staging touched a committed object");
    assert_eq!(read_all(s, &later), b"still streaming", "storage: collect_staging touched a committed object");
}

/// `IfAbsent` keeps the first object; `Overwrite` replaces it.
pub fn storage_publish(s: &dyn Storage) {
    let (driver, base) = storage_base(s);
    let uri = format!("{base}p/obj");
    assert!(
        put(s, &driver, &uri, b"first", Publish::IfAbsent),
        "storage: IfAbsent on a free URI returned false"
    );
    assert!(
        !put(s, &driver, &uri, b"second!", Publish::IfAbsent),
        "storage: IfAbsent on a taken URI returned true"
    );
    assert_eq!(
        read_all(s, &uri),
        b"first",
        "storage: IfAbsent replaced the first object"
    );
    assert!(
        put(s, &driver, &uri, b"third, longer", Publish::Overwrite),
        "storage: Overwrite returned false"
    );
    assert_eq!(
        read_all(s, &uri),
        b"third, longer",
        "storage: Overwrite did not replace the object"
    );
    assert!(put(s, &driver, &uri, b"4", Publish::Overwrite));
    assert_eq!(
        read_all(s, &uri),
        b"4",
        "storage: Overwrite with a shorter body left stale bytes"
    );
    let fresh = format!("{base}p/fresh");
    assert!(
        put(s, &driver, &fresh, b"new", Publish::Overwrite),
        "storage: Overwrite on a free URI failed"
    );
    assert_eq!(read_all(s, &fresh), b"new");
    assert_eq!(
        list_all(s, &base, 10),
        vec![fresh, uri],
        "storage: listing after publishes"
    );
}

/// Ascending URI order (including `-` vs `/` subtleties), prefixes, cursor paging, limit clamps.
pub fn storage_list(s: &dyn Storage) {
    let (driver, base) = storage_base(s);
    let rels = [
        "a-b", "a.", "a/x", "a/y/z", "a/y/zz", "a0", "b-", "b/c/d/e", "blob", "z.gz", "A", "_",
    ];
    let mut want: Vec<String> = rels.iter().map(|r| format!("{base}{r}")).collect();
    for i in 0..23 {
        want.push(format!("{base}many/{i:03}"));
    }
    for (i, uri) in want.iter().enumerate() {
        assert!(
            put(s, &driver, uri, &[i as u8], Publish::IfAbsent),
            "storage: commit {uri} returned false"
        );
    }
    want.sort();
    for limit in [1, 2, 3, 7, 1000] {
        assert_eq!(
            list_all(s, &base, limit),
            want,
            "storage: full listing with limit {limit}"
        );
    }
    let (page, next) = s.list_objects(&base, None, 0).unwrap();
    assert_eq!(page.len(), 1, "storage: limit 0 must clamp to 1");
    assert!(next.is_some(), "storage: limit 0 page must have a cursor");

    let sub =
        |p: &str| -> Vec<String> { want.iter().filter(|u| u.starts_with(p)).cloned().collect() };
    for p in [
        "a", "a/", "a/y/", "b", "b/c/", "many/", "many/01", "nothing", "a/y/z",
    ] {
        let prefix = format!("{base}{p}");
        assert_eq!(
            list_all(s, &prefix, 2),
            sub(&prefix),
            "storage: listing with prefix {prefix:?}"
        );
    }
    // A cursor need not be a listed URI: everything after it, in order.
    for c in ["a/", "a/y", "b/c/d/e", "m", "zzz"] {
        let c = format!("{base}{c}");
        let (uris, _) = s.list_objects(&base, Some(&c), 1000).unwrap();
        let expect: Vec<String> = want
            .iter()
            .filter(|u| u.as_str() > c.as_str())
            .cloned()
            .collect();
        assert_eq!(uris, expect, "storage: listing after cursor {c:?}");
    }
}

/// Eight writers race `IfAbsent` on one URI: exactly one wins and its bytes are stored whole;
/// eight writers racing `Overwrite` leave one of their bodies, whole.
pub fn storage_concurrent_commits(s: &(dyn Storage + Sync)) {
    let (driver, base) = storage_base(s);
    const N: usize = 8;
    let bodies: Vec<Vec<u8>> = (0..N)
        .map(|i| pattern(100_000 + i * 1000, i as u8))
        .collect();
    for publish in [Publish::IfAbsent, Publish::Overwrite] {
        let uri = format!("{base}race-{publish:?}");
        let barrier = Barrier::new(N);
        let results: Vec<bool> = std::thread::scope(|scope| {
            let handles: Vec<_> = bodies
                .iter()
                .map(|body| {
                    let (barrier, uri, driver) = (&barrier, &uri, &driver);
                    scope.spawn(move || {
                        let mut w = writer(s, driver);
                        w.write(body).unwrap();
                        barrier.wait();
                        w.commit(uri, publish)
                            .unwrap_or_else(|e| panic!("storage: concurrent commit failed: {e:?}"))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("storage: commit thread panicked"))
                .collect()
        });
        let stored = read_all(s, &uri);
        let winner = bodies.iter().position(|b| *b == stored);
        assert!(
            winner.is_some(),
            "storage: {publish:?} race left a body nobody wrote ({} bytes)",
            stored.len()
        );
        if publish == Publish::IfAbsent {
            let won: Vec<usize> = (0..N).filter(|&i| results[i]).collect();
            assert_eq!(
                won.len(),
                1,
                "storage: {N} racing IfAbsent commits, {} returned true",
                won.len()
            );
            assert_eq!(
                winner,
                Some(won[0]),
                "storage: stored body is not the IfAbsent winner's"
            );
        } else {
            assert!(
                results.iter().all(|&r| r),
                "storage: an Overwrite commit returned false"
            );
        }
    }
    assert_eq!(
        list_all(s, &base, 10).len(),
        2,
        "storage: racing writers left extra objects"
    );
}

/// Escaping or malformed object URIs and foreign schemes are rejected with invalid-argument by
/// commit, read, stat and delete.
pub fn storage_rejects_invalid_uris(s: &dyn Storage) {
    let (driver, base) = storage_base(s);
    let bad = [
        format!("{driver}://../x"),
        format!("{driver}:///etc/passwd"),
        format!("{driver}://a/../../x"),
        format!("{driver}://a/./b"),
        format!("{driver}://a//b"),
        format!("{driver}://a/"),
        format!("{driver}://"),
        format!("{driver}://a\\..\\b"),
        format!("{driver}://a\0b"),
        format!("{base}.."),
        "other-scheme://x".to_string(),
        "no-scheme".to_string(),
        String::new(),
    ];
    for uri in &bad {
        let invalid = |what: &str, r: Result<(), Error>| {
            assert!(
                matches!(r, Err(Error::InvalidArgument(_))),
                "storage: {what} of {uri:?} must fail with invalid-argument, got {r:?}"
            )
        };
        let mut w = writer(s, &driver);
        w.write(b"evil").unwrap();
        invalid("commit", w.commit(uri, Publish::Overwrite).map(drop));
        invalid("read", s.read(uri, 0, 10).map(drop));
        invalid("stat", s.stat(uri).map(drop));
        invalid("delete", s.delete(uri).map(drop));
    }
    invalid_prefix(s, "other-scheme://");
    invalid_prefix(s, &format!("{driver}://../"));
    assert!(
        list_all(s, &base, 10).is_empty(),
        "storage: rejected commits left objects behind"
    );
}

fn invalid_prefix(s: &dyn Storage, prefix: &str) {
    let r = s.list_objects(prefix, None, 10);
    assert!(
        matches!(r, Err(Error::InvalidArgument(_))),
        "storage: list_objects({prefix:?}) must fail with invalid-argument, got {r:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Metadata
// ---------------------------------------------------------------------------------------------

/// Runs every metadata case.
pub fn metadata_suite(m: &(dyn Metadata + Sync), caps: MetadataCaps) {
    metadata_crud(m);
    metadata_conflicts(m);
    metadata_filters(m);
    metadata_paging(m);
    metadata_summary(m);
    metadata_claims(m);
    if caps.concurrent_writers {
        metadata_concurrent_insert(m);
        metadata_concurrent_claims(m);
    } else {
        skipped("metadata_concurrent_insert", "concurrent_writers");
        skipped("metadata_concurrent_claims", "concurrent_writers");
    }
}

/// A fresh record; `created_at` also seeds the id so ids sort like creation times.
pub(crate) fn record(bucket: &str, name: &str, created_at: Timestamp) -> Record {
    let id = ids::new_id(created_at);
    Record {
        logical_ref: format!("noetl://artifact/{id}"),
        id,
        bucket: bucket.into(),
        name: name.into(),
        kind: Kind::ResultRef,
        content_type: "application/json".into(),
        compression: Compression::Gzip,
        bytes: 100,
        stored_bytes: 60,
        sha256: "ab".repeat(32),
        location: Location {
            driver: "fs".into(),
            uri: format!("fs://blobs/{bucket}/{name}"),
        },
        scope: Scope::Permanent,
        store_tier: "default".into(),
        execution_id: None,
        created_by: None,
        created_at,
        updated_at: created_at,
        expires_at: None,
        preview: None,
        extracted: None,
    }
}

fn insert_new(m: &dyn Metadata, r: &Record) {
    let got = m.insert_if_absent(r).unwrap_or_else(|e| {
        panic!(
            "metadata: insert_if_absent({}/{}) failed: {e:?}",
            r.bucket, r.name
        )
    });
    assert!(
        got.created,
        "metadata: insert of a fresh (bucket, name) {}/{} was not created",
        r.bucket, r.name
    );
    assert_eq!(
        &got.record, r,
        "metadata: insert returned a different record"
    );
}

fn list(m: &dyn Metadata, q: &ListQuery) -> Page {
    m.list(q)
        .unwrap_or_else(|e| panic!("metadata: list({q:?}) failed: {e:?}"))
}

/// All ids matching `q`, following cursors.
fn list_ids(m: &dyn Metadata, q: &ListQuery) -> Vec<String> {
    let mut q = q.clone();
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let page = list(m, &q);
        assert!(
            page.records.len() <= q.limit.clamp(1, 1000) as usize,
            "metadata: page exceeds limit"
        );
        out.extend(page.records.iter().map(|r| r.id.clone()));
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => return out,
        }
    }
    panic!("metadata: list({q:?}) never ended");
}

/// Insert and read back by id, ref and name (every field round-trips); update; touch; delete.
pub fn metadata_crud(m: &dyn Metadata) {
    let run = run_id();
    let bucket = format!("conf-{run}");
    let now = ids::now_ms();
    let mut full = record(&bucket, "dir/ünïcode 'name\"; --", now);
    full.kind = Kind::Manifest;
    full.compression = Compression::Deflate;
    full.scope = Scope::Execution;
    full.bytes = 1 << 40;
    full.stored_bytes = (1 << 40) + 17;
    full.execution_id = Some("exec-1".into());
    full.created_by = Some(format!("conf-{run}-alice"));
    full.updated_at = now + 5;
    full.expires_at = Some(now + 86_400_000);
    full.preview = Some("{\"a\": [1, 2, \"\\u0000\"]}".into());
    full.extracted = Some(String::new());
    full.store_tier = "hot".into();
    insert_new(m, &full);
    let mut minimal = record(&bucket, "minimal", now);
    minimal.kind = Kind::TempRef;
    minimal.compression = Compression::None;
    minimal.scope = Scope::Step;
    insert_new(m, &minimal);

    for r in [&full, &minimal] {
        assert_eq!(
            m.get_by_id(&r.id).unwrap().as_ref(),
            Some(r),
            "metadata: get_by_id round trip"
        );
        assert_eq!(
            m.get_by_ref(&r.logical_ref).unwrap().as_ref(),
            Some(r),
            "metadata: get_by_ref round trip"
        );
        assert_eq!(
            m.get_by_name(&bucket, &r.name).unwrap().as_ref(),
            Some(r),
            "metadata: get_by_name round trip"
        );
    }
    let missing = ids::new_id(now);
    assert_eq!(
        m.get_by_id(&missing).unwrap(),
        None,
        "metadata: get_by_id of a missing id"
    );
    assert_eq!(m.get_by_ref("noetl://artifact/missing").unwrap(), None);
    assert_eq!(m.get_by_name(&bucket, "missing").unwrap(), None);
    assert_eq!(
        m.get_by_name(&format!("{bucket}-other"), &full.name)
            .unwrap(),
        None,
        "metadata: get_by_name ignores the bucket"
    );

    // insert_if_absent of a taken (bucket, name) returns the stored winner, even with a new id.
    let mut loser = record(&bucket, "minimal", now + 1);
    loser.bytes = 9;
    let got = m.insert_if_absent(&loser).unwrap();
    assert!(
        !got.created,
        "metadata: insert of a taken (bucket, name) reported created"
    );
    assert_eq!(
        got.record, minimal,
        "metadata: insert_if_absent must return the existing record"
    );
    let again = m.insert_if_absent(&minimal).unwrap();
    assert_eq!(
        again,
        Inserted {
            record: minimal.clone(),
            created: false
        },
        "metadata: re-inserting the same record"
    );
    assert_eq!(
        m.get_by_id(&loser.id).unwrap(),
        None,
        "metadata: the losing insert was stored"
    );

    // update replaces every field but the id.
    let mut updated = minimal.clone();
    updated.bytes = 12_345;
    updated.stored_bytes = 999;
    updated.sha256 = "cd".repeat(32);
    updated.location = Location {
        driver: "mem".into(),
        uri: format!("mem://{run}/moved"),
    };
    updated.updated_at = now + 100;
    updated.expires_at = Some(now + 1);
    updated.created_by = Some("someone".into());
    updated.preview = Some("p".into());
    m.update(&updated)
        .unwrap_or_else(|e| panic!("metadata: update failed: {e:?}"));
    assert_eq!(
        m.get_by_id(&minimal.id).unwrap(),
        Some(updated.clone()),
        "metadata: update not visible"
    );
    assert_eq!(
        m.get_by_name(&bucket, "minimal").unwrap(),
        Some(updated.clone())
    );
    let ghost = record(&bucket, "ghost", now);
    assert!(
        matches!(m.update(&ghost), Err(Error::NotFound(_))),
        "metadata: update of a missing id must be not-found"
    );
    assert_eq!(
        m.get_by_id(&ghost.id).unwrap(),
        None,
        "metadata: update of a missing id inserted it"
    );

    // touch is best effort and never changes the record.
    m.touch(&full.id, now + 10)
        .unwrap_or_else(|e| panic!("metadata: touch failed: {e:?}"));
    m.touch(&full.id, now + 20).unwrap();
    assert_eq!(
        m.get_by_id(&full.id).unwrap().as_ref(),
        Some(&full),
        "metadata: touch changed the record"
    );
    let r = m.touch(&missing, now);
    assert!(
        matches!(r, Ok(()) | Err(Error::NotFound(_))),
        "metadata: touch of a missing id: {r:?}"
    );

    assert!(
        m.delete(&full.id).unwrap(),
        "metadata: delete of an existing id returned false"
    );
    assert!(
        !m.delete(&full.id).unwrap(),
        "metadata: second delete returned true"
    );
    assert_eq!(
        m.get_by_id(&full.id).unwrap(),
        None,
        "metadata: deleted record still found by id"
    );
    assert_eq!(
        m.get_by_ref(&full.logical_ref).unwrap(),
        None,
        "metadata: deleted record still found by ref"
    );
    assert_eq!(
        m.get_by_name(&bucket, &full.name).unwrap(),
        None,
        "metadata: deleted record still found by name"
    );
    // The name is free again.
    let reborn = record(&bucket, &full.name, now + 2);
    insert_new(m, &reborn);
    assert!(
        !m.delete(&missing).unwrap(),
        "metadata: delete of a missing id returned true"
    );
}

/// A new (bucket, name) whose id or logical ref is taken is a conflict, not a silent success.
pub fn metadata_conflicts(m: &dyn Metadata) {
    let bucket = format!("conf-{}", run_id());
    let now = ids::now_ms();
    let first = record(&bucket, "first", now);
    insert_new(m, &first);
    let mut same_id = record(&bucket, "second", now);
    same_id.id = first.id.clone();
    let r = m.insert_if_absent(&same_id);
    assert!(
        matches!(r, Err(Error::Conflict(_))),
        "metadata: insert with a taken id must conflict, got {r:?}"
    );
    let mut same_ref = record(&bucket, "third", now);
    same_ref.logical_ref = first.logical_ref.clone();
    let r = m.insert_if_absent(&same_ref);
    assert!(
        matches!(r, Err(Error::Conflict(_))),
        "metadata: insert with a taken ref must conflict, got {r:?}"
    );
    assert_eq!(
        m.get_by_name(&bucket, "second").unwrap(),
        None,
        "metadata: conflicting insert was stored"
    );
    assert_eq!(
        m.get_by_name(&bucket, "third").unwrap(),
        None,
        "metadata: conflicting insert was stored"
    );
    assert_eq!(
        m.get_by_id(&first.id).unwrap(),
        Some(first),
        "metadata: conflict changed the original"
    );
}

/// Every `ListQuery` filter, alone (where the value is unique to this run) or with the bucket.
pub fn metadata_filters(m: &dyn Metadata) {
    let run = run_id();
    let (b1, b2) = (format!("conf-{run}-1"), format!("conf-{run}-2"));
    let alice = format!("conf-{run}-alice");
    let shared_uri = format!("fs://blobs/conf/{run}/shared");
    let t0 = ids::now_ms();
    let mut all = Vec::new();
    for i in 0..12u64 {
        let bucket = if i % 3 == 2 { &b2 } else { &b1 };
        let name = match i {
            0 => "same".to_string(),
            1 => "pre%_x".to_string(),
            2 => "same".to_string(),
            3 => "pre%_y".to_string(),
            4 => "prefix".to_string(),
            5 => "PRE%_z".to_string(),
            _ => format!("n{i:02}"),
        };
        let mut r = record(bucket, &name, t0 + i / 2);
        if i % 2 == 0 {
            r.created_by = Some(alice.clone());
        }
        if i % 4 == 1 {
            r.location.uri = shared_uri.clone();
        }
        r.expires_at = match i % 3 {
            0 => None,
            1 => Some(t0 + i),
            _ => Some(t0 + 100 + i),
        };
        insert_new(m, &r);
        all.push(r);
    }
    let check = |what: &str, q: ListQuery| {
        let mut expect: Vec<&Record> = all.iter().filter(|r| q.matches(r)).collect();
        expect.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let mut expect: Vec<String> = expect.into_iter().map(|r| r.id.clone()).collect();
        for order in [Order::OldestFirst, Order::NewestFirst] {
            for limit in [1, 3, 1000] {
                let q = ListQuery {
                    order,
                    limit,
                    ..q.clone()
                };
                let got = list_ids(m, &q);
                assert_eq!(
                    got, expect,
                    "metadata: filter {what}, {order:?}, limit {limit}"
                );
            }
            expect.reverse();
        }
        let page = list(
            m,
            &ListQuery {
                limit: 1000,
                ..q.clone()
            },
        );
        for r in &page.records {
            let orig = all
                .iter()
                .find(|o| o.id == r.id)
                .expect("metadata: listed an unknown record");
            assert_eq!(
                r, orig,
                "metadata: listed record differs from the inserted one"
            );
        }
    };
    let q = |f: &dyn Fn(&mut ListQuery)| {
        let mut q = ListQuery {
            bucket: Some(b1.clone()),
            ..Default::default()
        };
        f(&mut q);
        q
    };
    check("bucket", q(&|_| {}));
    check("bucket 2", q(&|q| q.bucket = Some(b2.clone())));
    check(
        "missing bucket",
        q(&|q| q.bucket = Some(format!("conf-{run}-none"))),
    );
    check("name", q(&|q| q.name = Some("same".into())));
    check(
        "name across buckets",
        ListQuery {
            name: Some("same".into()),
            created_by: Some(alice.clone()),
            ..Default::default()
        },
    );
    check(
        "name prefix with wildcards",
        q(&|q| q.name_prefix = Some("pre%_".into())),
    );
    check("name prefix", q(&|q| q.name_prefix = Some("pre".into())));
    check(
        "name prefix (case)",
        q(&|q| {
            q.bucket = Some(b2.clone());
            q.name_prefix = Some("PRE".into());
        }),
    );
    check(
        "empty name prefix",
        q(&|q| q.name_prefix = Some(String::new())),
    );
    check(
        "created_by",
        ListQuery {
            created_by: Some(alice.clone()),
            ..Default::default()
        },
    );
    check("created_after", q(&|q| q.created_after = Some(t0 + 2)));
    check("created_before", q(&|q| q.created_before = Some(t0 + 2)));
    check(
        "created window",
        q(&|q| {
            q.created_after = Some(t0 + 1);
            q.created_before = Some(t0 + 4);
        }),
    );
    check(
        "created_after max",
        q(&|q| q.created_after = Some(u64::MAX)),
    );
    check(
        "created_before max",
        q(&|q| q.created_before = Some(u64::MAX)),
    );
    check(
        "uri",
        ListQuery {
            uri: Some(shared_uri.clone()),
            ..Default::default()
        },
    );
    check("expired_before", q(&|q| q.expired_before = Some(t0 + 6)));
    check(
        "expired_before max",
        q(&|q| q.expired_before = Some(u64::MAX)),
    );
    check(
        "all filters",
        ListQuery {
            bucket: Some(b1.clone()),
            name_prefix: Some("n".into()),
            created_by: Some(alice.clone()),
            created_after: Some(t0 + 3),
            created_before: Some(t0 + 6),
            expired_before: Some(t0 + 10),
            ..Default::default()
        },
    );

    let bad = ListQuery {
        bucket: Some(b1.clone()),
        cursor: Some("garbage".into()),
        ..Default::default()
    };
    assert!(
        matches!(m.list(&bad), Err(Error::InvalidArgument(_))),
        "metadata: malformed cursor must be invalid-argument"
    );
    let page = list(m, &q(&|q| q.limit = 0));
    assert_eq!(page.records.len(), 1, "metadata: limit 0 must clamp to 1");
    assert!(
        page.next_cursor.is_some(),
        "metadata: limit 0 page must have a cursor"
    );
    // A cursor past the end (max timestamp) gives an empty page oldest-first, everything newest-first.
    let end = cursor::encode(u64::MAX, &ids::new_id(0));
    let page = list(
        m,
        &q(&|q| {
            q.cursor = Some(end.clone());
            q.limit = 1000;
        }),
    );
    assert!(
        page.records.is_empty() && page.next_cursor.is_none(),
        "metadata: cursor past the end"
    );
    let page = list(
        m,
        &q(&|q| {
            q.cursor = Some(end.clone());
            q.order = Order::NewestFirst;
            q.limit = 1000;
        }),
    );
    assert_eq!(
        page.records.len(),
        8,
        "metadata: newest-first from a cursor past the end"
    );
}

/// 250 records paged 40 at a time, in both orders, while new records land between pages (before,
/// inside and after the remaining range): every original record exactly once, no duplicates,
/// in order.
pub fn metadata_paging(m: &dyn Metadata) {
    let bucket = format!("conf-{}", run_id());
    let t0 = ids::now_ms();
    let mut old: HashSet<String> = HashSet::new();
    for i in 0..250u64 {
        // Three records share each timestamp, so the id breaks ties.
        let r = record(&bucket, &format!("old-{i:03}"), t0 + i / 3);
        insert_new(m, &r);
        old.insert(r.id);
    }
    let mut extra = 0u64;
    for order in [Order::OldestFirst, Order::NewestFirst] {
        let mut q = ListQuery {
            bucket: Some(bucket.clone()),
            order,
            limit: 40,
            ..Default::default()
        };
        let mut seen: Vec<(Timestamp, String)> = Vec::new();
        let mut pages = 0;
        loop {
            let page = list(m, &q);
            pages += 1;
            assert!(pages < 100, "metadata: paging never ends");
            assert!(
                page.records.len() <= 40,
                "metadata: page of {} > limit 40",
                page.records.len()
            );
            seen.extend(page.records.iter().map(|r| (r.created_at, r.id.clone())));
            let Some(c) = page.next_cursor else { break };
            q.cursor = Some(c);
            for at in [t0, t0 + 40, t0 + 83, t0 + 200] {
                extra += 1;
                insert_new(m, &record(&bucket, &format!("new-{extra:04}"), at));
            }
        }
        let ids: Vec<&String> = seen.iter().map(|(_, id)| id).collect();
        let unique: HashSet<&String> = ids.iter().copied().collect();
        assert_eq!(
            unique.len(),
            ids.len(),
            "metadata: {order:?} paging returned duplicates"
        );
        let got_old: HashSet<&String> =
            ids.iter().copied().filter(|id| old.contains(*id)).collect();
        assert_eq!(
            got_old.len(),
            old.len(),
            "metadata: {order:?} paging missed original records"
        );
        let mut sorted = seen.clone();
        sorted.sort();
        if order == Order::NewestFirst {
            sorted.reverse();
        }
        assert!(seen == sorted, "metadata: {order:?} paging out of order");
    }
}

/// Count and total bytes per bucket.
pub fn metadata_summary(m: &dyn Metadata) {
    let run = run_id();
    let bucket = format!("conf-{run}");
    assert_eq!(
        m.summary(&bucket).unwrap(),
        BucketSummary::default(),
        "metadata: summary of an empty bucket"
    );
    let now = ids::now_ms();
    let mut ids_ = Vec::new();
    for (i, bytes) in [10u64, 0, 1 << 33].into_iter().enumerate() {
        let mut r = record(&bucket, &format!("s{i}"), now);
        r.bytes = bytes;
        insert_new(m, &r);
        ids_.push(r.id);
    }
    insert_new(m, &record(&format!("conf-{run}-other"), "s0", now));
    let s = m.summary(&bucket).unwrap();
    assert_eq!(
        s,
        BucketSummary {
            count: 3,
            total_bytes: 10 + (1 << 33)
        },
        "metadata: summary"
    );
    assert!(m.delete(&ids_[0]).unwrap());
    let s = m.summary(&bucket).unwrap();
    assert_eq!(
        s,
        BucketSummary {
            count: 2,
            total_bytes: 1 << 33
        },
        "metadata: summary after delete"
    );
}

/// Sixteen threads race `insert_if_absent` on one (bucket, name): exactly one creates, all see
/// the same winner.
pub fn metadata_concurrent_insert(m: &(dyn Metadata + Sync)) {
    const N: usize = 16;
    let bucket = format!("conf-{}", run_id());
    let now = ids::now_ms();
    let records: Vec<Record> = (0..N)
        .map(|i| {
            let mut r = record(&bucket, "contended", now);
            r.bytes = i as u64;
            r
        })
        .collect();
    let barrier = Barrier::new(N);
    let results: Vec<Inserted> = std::thread::scope(|scope| {
        let handles: Vec<_> = records
            .iter()
            .map(|r| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    m.insert_if_absent(r).unwrap_or_else(|e| {
                        panic!("metadata: concurrent insert_if_absent failed: {e:?}")
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("metadata: insert thread panicked"))
            .collect()
    });
    let created: Vec<&Inserted> = results.iter().filter(|r| r.created).collect();
    assert_eq!(
        created.len(),
        1,
        "metadata: {N} racing inserts, {} created",
        created.len()
    );
    let winner = &created[0].record;
    let winners: BTreeSet<&str> = results.iter().map(|r| r.record.id.as_str()).collect();
    assert_eq!(
        winners.len(),
        1,
        "metadata: racing inserts saw different winners: {winners:?}"
    );
    assert!(
        results.iter().all(|r| r.record == *winner),
        "metadata: racing inserts returned differing records"
    );
    assert_eq!(
        m.get_by_name(&bucket, "contended").unwrap().as_ref(),
        Some(winner)
    );
    let by_bytes: HashMap<u64, &Record> = records.iter().map(|r| (r.bytes, r)).collect();
    assert_eq!(
        by_bytes[&winner.bytes], winner,
        "metadata: the winner is not one of the inserted records"
    );
    assert_eq!(
        m.summary(&bucket).unwrap().count,
        1,
        "metadata: racing inserts stored more than one record"
    );
}

/// The object-claim rules of WIT `metadata`, one by one.
pub fn metadata_claims(m: &dyn Metadata) {
    let run = run_id();
    let uri = |n: &str| format!("fs://conformance/{run}/claims/{n}");
    let (a, b, c) = (uri("a"), uri("b"), uri("c"));
    let t = 1_000_000u64;
    // Nothing uses `a`: a delete claim succeeds; a second one is refused while it lives.
    assert!(m.claim_delete(&a, t, t + 100).unwrap(), "metadata: claim_delete of an unused URI refused");
    assert!(!m.claim_delete(&a, t + 1, t + 100).unwrap(), "metadata: two live delete claims on one URI");
    // A live delete claim refuses pins; an expired one does not.
    assert!(!m.pin_object(&a, "w1", t + 1, t + 500).unwrap(), "metadata: pin granted during a live delete claim");
    m.finish_delete(&a).unwrap();
    m.finish_delete(&a).unwrap(); // idempotent
    assert!(m.pin_object(&a, "w1", t + 2, t + 500).unwrap(), "metadata: pin refused after finish_delete");
    // A live pin refuses delete claims until it is removed.
    assert!(!m.claim_delete(&a, t + 3, t + 100).unwrap(), "metadata: delete claimed under a live pin");
    m.unpin_object(&a, "w2").unwrap(); // someone else's token removes nothing
    assert!(!m.claim_delete(&a, t + 3, t + 100).unwrap(), "metadata: unpin by another holder removed the pin");
    m.unpin_object(&a, "w1").unwrap();
    m.unpin_object(&a, "w1").unwrap();
    assert!(m.claim_delete(&a, t + 4, t + 100).unwrap(), "metadata: delete refused after unpin");
    m.finish_delete(&a).unwrap();
    // A record using the URI refuses delete claims; deleting the record allows them.
    let bucket = format!("conf-{run}");
    let mut r = record(&bucket, "claimed", ids::now_ms());
    r.location.uri = b.clone();
    insert_new(m, &r);
    assert!(!m.claim_delete(&b, t, t + 100).unwrap(), "metadata: delete claimed while a record uses the URI");
    let mut moved = r.clone();
    moved.location.uri = c.clone();
    m.update(&moved).unwrap();
    assert!(!m.claim_delete(&c, t, t + 100).unwrap(), "metadata: update did not move the URI's use");
    assert!(m.claim_delete(&b, t, t + 100).unwrap(), "metadata: the old URI of an updated record is still in use");
    m.finish_delete(&b).unwrap();
    assert!(m.delete(&r.id).unwrap());
    assert!(m.claim_delete(&c, t, t + 100).unwrap(), "metadata: URI still in use after its record was deleted");
    m.finish_delete(&c).unwrap();
    // Expired claims: reported by stale_claims, pruned by claim_delete.
    assert!(m.pin_object(&a, "killed", t, t + 10).unwrap());
    assert!(m.claim_delete(&b, t, t + 20).unwrap());
    let stale: Vec<String> = m.stale_claims(t + 20, 1000).unwrap().into_iter().filter(|u| u.contains(&run)).collect();
    assert_eq!(stale, vec![a.clone(), b.clone()], "metadata: stale_claims");
    let early: Vec<String> = m.stale_claims(t + 10, 1000).unwrap().into_iter().filter(|u| u.contains(&run)).collect();
    assert_eq!(early, vec![a.clone()], "metadata: stale_claims counts a claim that has not expired");
    assert!(m.pin_object(&b, "w3", t + 21, t + 50).unwrap(), "metadata: an expired delete claim still refuses pins");
    m.unpin_object(&b, "w3").unwrap();
    assert!(m.claim_delete(&a, t + 11, t + 30).unwrap(), "metadata: an expired pin still blocks deletion");
    m.finish_delete(&a).unwrap();
    assert!(m.claim_delete(&b, t + 21, t + 30).unwrap(), "metadata: an expired delete claim blocks a new one");
    m.finish_delete(&b).unwrap();
    let left: Vec<String> = m.stale_claims(u64::MAX / 2, 1000).unwrap().into_iter().filter(|u| u.contains(&run)).collect();
    assert!(left.is_empty(), "metadata: claims left after finish: {left:?}");
}

/// Pins and delete claims racing on one URI from many threads: at every moment at most one side
/// holds it, so a delete claim is never granted while a pin is live.
pub fn metadata_concurrent_claims(m: &(dyn Metadata + Sync)) {
    const N: usize = 8;
    const ROUNDS: usize = 25;
    let uri = format!("fs://conformance/{}/contended", run_id());
    let t = 2_000_000u64;
    let live_pins = std::sync::atomic::AtomicI64::new(0);
    let deleting = std::sync::atomic::AtomicI64::new(0);
    let barrier = Barrier::new(N);
    std::thread::scope(|scope| {
        for i in 0..N {
            let (uri, live_pins, deleting, barrier) = (&uri, &live_pins, &deleting, &barrier);
            scope.spawn(move || {
                barrier.wait();
                for round in 0..ROUNDS {
                    if (i + round) % 2 == 0 {
                        let holder = format!("w{i}-{round}");
                        if m.pin_object(uri, &holder, t, t + 1_000_000).unwrap() {
                            live_pins.fetch_add(1, Ordering::SeqCst);
                            assert_eq!(deleting.load(Ordering::SeqCst), 0, "metadata: pin granted while a delete claim is held");
                            std::thread::yield_now();
                            live_pins.fetch_sub(1, Ordering::SeqCst);
                            m.unpin_object(uri, &holder).unwrap();
                        }
                    } else if m.claim_delete(uri, t, t + 1_000_000).unwrap() {
                        assert_eq!(deleting.fetch_add(1, Ordering::SeqCst), 0, "metadata: two delete claims granted at once");
                        assert_eq!(live_pins.load(Ordering::SeqCst), 0, "metadata: delete claim granted under a live pin");
                        std::thread::yield_now();
                        deleting.fetch_sub(1, Ordering::SeqCst);
                        m.finish_delete(uri).unwrap();
                    }
                }
            });
        }
    });
    assert!(m.claim_delete(&uri, t, t + 1).unwrap(), "metadata: claims left behind by the race");
    m.finish_delete(&uri).unwrap();
}
