//! The integrity contract on the engine itself (in-memory backends): corrupted objects never
//! hand out a wrong byte, content addresses are verified, reserved namespaces stay out of reach,
//! the deletion claims hold, and failures leave nothing behind.

use super::*;
use crate::backend::mem::{MemMetadata, MemStorage};
use std::sync::Arc;

fn store() -> (Store, MemStorage, MemMetadata) {
    let s = MemStorage::default();
    let m = MemMetadata::default();
    (Store::new(Rc::new(s.clone()), Rc::new(m.clone())), s, m)
}

fn put(st: &Store, data: &[u8], f: impl FnOnce(&mut PutOptions)) -> PutResult {
    let mut o = PutOptions { content_type: Some("application/octet-stream".into()), ..Default::default() };
    f(&mut o);
    st.put(data, &o).unwrap()
}

/// Every byte `read` handed out, and how the read ended.
fn stream(st: &Store, id: &str, range: Option<ByteRange>) -> (Vec<u8>, Result<(), Error>) {
    let mut out = Vec::new();
    let mut r = match st.open_reader(id, &GetOptions { range, ..Default::default() }) {
        Ok(r) => r,
        Err(e) => return (out, Err(e)),
    };
    loop {
        match r.read(100_000) {
            Ok(c) if c.is_empty() => return (out, Ok(())),
            Ok(c) => out.extend_from_slice(&c),
            Err(e) => return (out, Err(e)),
        }
    }
}

fn body(n: usize, seed: u32) -> Vec<u8> {
    (0..n as u32).map(|i| (i.wrapping_mul(2654435761).wrapping_add(seed) >> 13) as u8).collect()
}

fn set(mem: &MemStorage, uri: &str, bytes: Vec<u8>) {
    mem.objects.lock().unwrap().insert(uri.to_string(), Arc::new(bytes));
}

fn get_obj(mem: &MemStorage, uri: &str) -> Vec<u8> {
    mem.objects.lock().unwrap()[uri].to_vec()
}

/// Every corruption, every compression, every read shape: an integrity error, and whatever was
/// handed out before it is a prefix of the right bytes (never a wrong byte).
#[test]
fn corrupted_objects_never_hand_out_a_wrong_byte() {
    let n = (crate::chunks::CHUNK as usize) * 3 + 12345;
    for c in [Compression::None, Compression::Gzip, Compression::Deflate] {
        type Corrupt = fn(&mut Vec<u8>, &[u8]);
        let corruptions: [(&str, Corrupt); 5] = [
            ("flip early", |b, _| b[10] ^= 1),
            ("flip late", |b, _| {
                let i = b.len() - 3;
                b[i] ^= 0x80
            }),
            ("truncate", |b, _| b.truncate(b.len() - 1)),
            ("append", |b, _| b.push(0)),
            ("swap", |b, other| *b = other.to_vec()),
        ];
        for (what, corrupt) in corruptions {
            let (st, mem, _) = store();
            let data = body(n, 1);
            let p = put(&st, &data, |o| o.compression = Some(c));
            let other = put(&st, &body(n, 2), |o| o.compression = Some(c));
            let uri = p.record.location.uri.clone();
            let mut b = get_obj(&mem, &uri);
            let other_bytes = get_obj(&mem, &other.record.location.uri);
            corrupt(&mut b, &other_bytes);
            set(&mem, &uri, b);
            let ranges = [
                None,
                Some(ByteRange::Bounded { start: 5, end: 20 }),
                Some(ByteRange::Bounded { start: n as u64 - 10, end: n as u64 - 1 }),
                Some(ByteRange::Suffix(3)),
                Some(ByteRange::From(crate::chunks::CHUNK)),
            ];
            for range in ranges {
                let (got, end) = stream(&st, &p.record.id, range);
                let (o, l) = range.map_or((0, n as u64), |r| codec::resolve_range(r, n as u64).unwrap());
                let want = &data[o as usize..(o + l) as usize];
                match end {
                    Err(Error::Integrity(_)) => {
                        assert!(want.starts_with(&got), "{c:?} {what} {range:?}: a wrong byte was handed out")
                    }
                    // A ranged read may succeed only with exactly the right bytes (the damage
                    // is in chunks it does not touch); a full read must always fail.
                    Ok(()) => {
                        assert_eq!(got, want, "{c:?} {what} {range:?}: wrong bytes handed out");
                        assert!(range.is_some(), "{c:?} {what}: corruption not detected by a full read");
                    }
                    Err(e) => panic!("{c:?} {what} {range:?}: {e:?}"),
                }
            }
            let full = st.get(&p.record.id, &GetOptions { mode: Some(Mode::Bytes), ..Default::default() });
            assert!(matches!(full, Err(Error::Integrity(_))), "{c:?} {what}: {full:?}");
        }
    }
}

#[test]
fn a_flip_in_the_chunk_a_range_reads_is_caught_before_any_byte() {
    let (st, mem, _) = store();
    let n = crate::chunks::CHUNK as usize * 2;
    let data = body(n, 3);
    let p = put(&st, &data, |_| {});
    let uri = p.record.location.uri.clone();
    let mut b = get_obj(&mem, &uri);
    b[n - 100] ^= 4;
    set(&mem, &uri, b);
    // A range in the intact first chunk still reads; one in the damaged chunk fails whole.
    let (ok, end) = stream(&st, &p.record.id, Some(ByteRange::Bounded { start: 0, end: 99 }));
    assert!(end.is_ok() && ok == data[..100]);
    let (got, end) = stream(&st, &p.record.id, Some(ByteRange::Bounded { start: n as u64 - 200, end: n as u64 - 150 }));
    assert!(matches!(end, Err(Error::Integrity(_))) && got.is_empty(), "{end:?} {}", got.len());
}

#[test]
fn objects_without_an_index_are_indexed_on_first_read() {
    let (st, mem, _) = store();
    let data = body(3_000_000, 4);
    let p = put(&st, &data, |_| {});
    let ix = crate::chunks::index_uri(&p.record.location.uri).unwrap();
    assert!(mem.objects.lock().unwrap().remove(&ix).is_some(), "put wrote an index");
    let r = Some(ByteRange::Bounded { start: 2_000_000, end: 2_000_009 });
    let (got, end) = stream(&st, &p.record.id, r);
    assert!(end.is_ok() && got == data[2_000_000..2_000_010]);
    assert!(mem.objects.lock().unwrap().contains_key(&ix), "the index was rebuilt");
    // A corrupted index is ignored and rebuilt, not trusted.
    let mut bad = get_obj(&mem, &ix);
    bad[60] ^= 1;
    set(&mem, &ix, bad);
    let (got, end) = stream(&st, &p.record.id, r);
    assert!(end.is_ok() && got == data[2_000_000..2_000_010]);
    // No index can be built for a corrupted object: the read fails.
    mem.objects.lock().unwrap().remove(&ix);
    let mut b = get_obj(&mem, &p.record.location.uri);
    b[0] ^= 1;
    set(&mem, &p.record.location.uri, b);
    assert!(matches!(stream(&st, &p.record.id, r).1, Err(Error::Integrity(_))));
}

/// An uncompressed object of one chunk is its own index: none is written or read, and a
/// flipped byte anywhere in it still fails the read before any byte; compressed small objects
/// and larger ones keep a stored index.
#[test]
fn one_raw_chunk_needs_no_stored_index_and_is_still_verified() {
    let (st, mem, _) = store();
    let objects = |mem: &MemStorage| mem.objects.lock().unwrap().keys().filter(|k| k.contains("://index/")).count();
    for n in [1, 4096, crate::chunks::CHUNK as usize] {
        let data = body(n, n as u32);
        let p = put(&st, &data, |_| {});
        assert_eq!(objects(&mem), 0, "{n} bytes: no index written");
        assert_eq!(stream(&st, &p.record.id, None), (data.clone(), Ok(())));
        let r = Some(ByteRange::Bounded { start: (n / 2) as u64, end: (n / 2) as u64 });
        assert_eq!(stream(&st, &p.record.id, r).0, data[n / 2..=n / 2]);
        let mut b = data.clone();
        b[n - 1] ^= 1;
        set(&mem, &p.record.location.uri, b);
        for range in [None, r] {
            let (got, end) = stream(&st, &p.record.id, range);
            assert!(got.is_empty() && matches!(end, Err(Error::Integrity(_))), "{n} bytes {range:?}: {end:?}");
        }
    }
    let before = objects(&mem);
    put(&st, &body(crate::chunks::CHUNK as usize + 1, 9), |_| {});
    put(&st, &body(5000, 10), |o| o.compression = Some(Compression::Gzip));
    assert_eq!(objects(&mem), before + 2, "two chunks, or compressed: indexed");
}

#[test]
fn a_squatted_content_address_is_replaced_not_trusted() {
    let (st, mem, _) = store();
    let x = b"the real bytes".to_vec();
    let sha = hex(&Sha256::digest(&x));
    let uri = format!("mem://blobs/sha256/{}/{sha}", &sha[..2]);
    set(&mem, &uri, b"squatter".to_vec());
    let p = put(&st, &x, |_| {});
    assert_eq!(p.record.location.uri, uri);
    assert_eq!(get_obj(&mem, &uri), x, "the put stored the right bytes over the squatter");
    assert_eq!(stream(&st, &p.record.id, None).0, x);
    // Templates cannot write there (nor into the index namespace) in the first place.
    for t in [format!("mem://blobs/sha256/{}/{{{{ sha256 }}}}", &sha[..2]), "mem://index/x/{{ id }}".into(), "mem://blobs".into()] {
        let e = st.put(b"y", &PutOptions { store: Some(t.clone()), ..Default::default() });
        assert!(matches!(e, Err(Error::InvalidArgument(_))), "{t}: {e:?}");
    }
}

/// A streamed read fetches its object piece by piece: when an overwrite in place (a template
/// path) or an rm lands between two pieces, the read either ends with exactly the old version
/// or fails, and whatever it handed out is the old version's, never a mix of the two.
#[test]
fn an_overwrite_or_rm_between_two_pieces_never_mixes_versions() {
    let n = (crate::chunks::CHUNK as usize) * 3 + 12345;
    let (old, new) = (body(n, 1), body(n, 2));
    let named = |o: &mut PutOptions| {
        o.name = Some("t".into());
        o.store = Some("mem://shared/{{ name }}".into());
        o.if_exists = Some(IfExists::Overwrite);
    };
    for what in ["overwrite", "rm"] {
        let (st, _, _) = store();
        let p = put(&st, &old, named);
        let mut r = st.open_reader(&p.record.id, &GetOptions::default()).unwrap();
        let mut got = r.read(100_000).unwrap();
        if what == "overwrite" {
            assert_eq!(put(&st, &new, named).record.location.uri, p.record.location.uri, "replaced in place");
        } else {
            st.delete(&p.record.id).unwrap();
        }
        let end = loop {
            match r.read(100_000) {
                Ok(c) if c.is_empty() => break Ok(()),
                Ok(c) => got.extend_from_slice(&c),
                Err(e) => break Err(e),
            }
        };
        match end {
            Ok(()) => assert!(got == old, "{what}: the read finished with other bytes than the old version"),
            Err(_) => assert!(old.starts_with(&got), "{what}: a byte of another version was handed out"),
        }
    }
}

#[test]
fn overwrite_replaces_only_its_own_object() {
    let (st, mem, _) = store();
    let a = put(&st, b"a", |o| {
        o.name = Some("a".into());
        o.store = Some("mem://shared/{{ name }}".into());
    });
    // `b` overwrites itself onto a's object path: refused, a's bytes untouched.
    put(&st, b"b", |o| o.name = Some("b".into()));
    let e = st.put(
        b"evil",
        &PutOptions { name: Some("b".into()), if_exists: Some(IfExists::Overwrite), store: Some("mem://shared/a".into()), ..Default::default() },
    );
    assert!(matches!(e, Err(Error::Conflict(_))), "{e:?}");
    assert_eq!(get_obj(&mem, &a.record.location.uri), b"a");
    // Its own template object is replaced in place.
    let again = put(&st, b"a2", |o| {
        o.name = Some("a".into());
        o.if_exists = Some(IfExists::Overwrite);
        o.store = Some("mem://shared/{{ name }}".into());
    });
    assert_eq!(again.record.location.uri, a.record.location.uri);
    assert_eq!(stream(&st, &a.record.id, None).0, b"a2");
}

#[test]
fn deletion_waits_for_pins_and_gc_finishes_what_killed_processes_left() {
    let (st, mem, meta) = store();
    let p = put(&st, b"shared bytes", |o| o.name = Some("one".into()));
    let uri = p.record.location.uri.clone();
    // A put of the same bytes is between its pin and its insert: rm must keep the object.
    let now = (st.now)();
    assert!(meta.pin_object(&uri, "other-writer", now, now + PIN_LEASE_MS).unwrap());
    st.delete(&p.record.id).unwrap();
    assert!(mem.objects.lock().unwrap().contains_key(&uri), "rm deleted an object a put had pinned");
    assert!(st.gc().unwrap().blobs.is_empty(), "gc deleted a pinned object");
    // That writer was killed: once its pin expires, gc removes the orphan and its index.
    fn later() -> u64 {
        crate::ids::now_ms() + PIN_LEASE_MS + 1000
    }
    st.clone_with_now(later).gc().unwrap();
    assert!(!mem.objects.lock().unwrap().contains_key(&uri));
    // What is left is the deleted version's tombstone (kept while a signed URL may name it).
    let left: Vec<String> = mem.objects.lock().unwrap().keys().filter(|k| !k.starts_with("mem://revoked/")).cloned().collect();
    assert!(left.is_empty(), "index left behind: {left:?}");
    // A live delete claim makes a put of the same bytes wait, then store them again.
    let q = put(&st, b"again", |_| {});
    st.delete(&q.record.id).unwrap();
    assert!(meta.claim_delete(&q.record.location.uri, (st.now)(), (st.now)() + 50).unwrap());
    let r = put(&st, b"again", |_| {});
    assert_eq!(stream(&st, &r.record.id, None).0, b"again");
}

/// A metadata table whose inserts fail: the put must withdraw the object it committed.
#[derive(Clone, Default)]
struct FailingInserts(MemMetadata);

impl Metadata for FailingInserts {
    fn insert_if_absent(&self, _rec: &Record) -> Result<crate::backend::Inserted, Error> {
        Err(Error::Metadata("disk full".into()))
    }
    fn update(&self, rec: &Record) -> Result<(), Error> {
        self.0.update(rec)
    }
    fn get_by_id(&self, id: &str) -> Result<Option<Record>, Error> {
        self.0.get_by_id(id)
    }
    fn get_by_ref(&self, r: &str) -> Result<Option<Record>, Error> {
        self.0.get_by_ref(r)
    }
    fn get_by_name(&self, b: &str, n: &str) -> Result<Option<Record>, Error> {
        self.0.get_by_name(b, n)
    }
    fn list(&self, q: &ListQuery) -> Result<Page, Error> {
        self.0.list(q)
    }
    fn summary(&self, b: &str) -> Result<BucketSummary, Error> {
        self.0.summary(b)
    }
    fn delete(&self, id: &str) -> Result<bool, Error> {
        self.0.delete(id)
    }
    fn touch(&self, id: &str, at: Timestamp) -> Result<(), Error> {
        self.0.touch(id, at)
    }
    fn pin_object(&self, u: &str, h: &str, n: Timestamp, t: Timestamp) -> Result<bool, Error> {
        self.0.pin_object(u, h, n, t)
    }
    fn unpin_object(&self, u: &str, h: &str) -> Result<(), Error> {
        self.0.unpin_object(u, h)
    }
    fn claim_delete(&self, u: &str, n: Timestamp, t: Timestamp) -> Result<bool, Error> {
        self.0.claim_delete(u, n, t)
    }
    fn finish_delete(&self, u: &str) -> Result<(), Error> {
        self.0.finish_delete(u)
    }
    fn stale_claims(&self, b: Timestamp, l: u32) -> Result<Vec<String>, Error> {
        self.0.stale_claims(b, l)
    }
}

#[test]
fn a_put_whose_record_fails_leaves_no_object() {
    let mem = MemStorage::default();
    let st = Store::new(Rc::new(mem.clone()), Rc::new(FailingInserts::default()));
    for store in [None, Some("mem://results/{{ id }}".to_string())] {
        let e = st.put(b"orphan?", &PutOptions { store, ..Default::default() });
        assert!(matches!(e, Err(Error::Metadata(_))), "{e:?}");
        assert!(mem.objects.lock().unwrap().is_empty(), "left behind: {:?}", mem.objects.lock().unwrap().keys());
    }
}

#[test]
fn ttls_past_year_9999_are_invalid() {
    let (st, mem, _) = store();
    for ttl in ["1000000000d", "999999999w"] {
        let e = st.put(b"x", &PutOptions { ttl: Some(ttl.into()), ..Default::default() });
        assert!(matches!(e, Err(Error::InvalidArgument(_))), "{ttl}: {e:?}");
    }
    assert!(mem.objects.lock().unwrap().is_empty());
}

#[test]
fn gc_leaves_what_lives_on_other_hosts_drivers() {
    let (st, _mem, meta) = store();
    // Another host (driver `s3`) shares this metadata table: its expired record and its stale
    // claim are not this host's to collect, and must not fail this host's gc.
    let foreign = Record {
        id: crate::ids::new_id(1),
        bucket: "b".into(),
        name: "foreign".into(),
        logical_ref: "noetl://artifact/b/foreign/x".into(),
        location: Location { driver: "s3".into(), uri: "s3://blobs/sha256/aa/x".into() },
        expires_at: Some(1),
        ..Default::default()
    };
    meta.insert_if_absent(&foreign).unwrap();
    assert!(meta.pin_object("s3://blobs/sha256/bb/y", "killed", 1, 2).unwrap());
    let mine = put(&st, b"expiring", |o| o.ttl = Some("1ms".into()));
    std::thread::sleep(std::time::Duration::from_millis(5));
    let report = st.gc().unwrap();
    assert_eq!(report.records, vec![mine.record.id.clone()]);
    assert!(meta.get_by_id(&foreign.id).unwrap().is_some(), "gc deleted another host's record");
    assert_eq!(meta.stale_claims(u64::MAX / 2, 10).unwrap(), vec!["s3://blobs/sha256/bb/y".to_string()]);
}

/// Small objects stored as is are read without a `stat` (the index is implied): appended,
/// truncated, flipped and deleted objects are still integrity errors, for every read shape, and
/// sizes at the chunk boundary included.
#[test]
fn small_objects_read_without_stat_still_prove_their_size() {
    let chunk = crate::chunks::CHUNK as usize;
    for n in [1, 100, chunk - 1, chunk] {
        let (st, mem, _) = store();
        let data = body(n, n as u32);
        let r = put(&st, &data, |_| {});
        let uri = r.record.location.uri.clone();
        let (got, end) = stream(&st, &r.record.id, None);
        assert_eq!((got, end), (data.clone(), Ok(())));
        let cases: [(&str, Option<Vec<u8>>); 4] = [
            ("appended", Some([data.clone(), b"x".to_vec()].concat())),
            ("truncated", Some(data[..n - 1].to_vec())),
            ("flipped", Some({
                let mut b = data.clone();
                b[n / 2] ^= 4;
                b
            })),
            ("deleted", None),
        ];
        for (what, obj) in cases {
            match obj {
                Some(b) => set(&mem, &uri, b),
                None => {
                    mem.objects.lock().unwrap().remove(&uri);
                }
            }
            for range in [None, Some(ByteRange::From(0)), Some(ByteRange::Suffix(1))] {
                let (got, end) = stream(&st, &r.record.id, range);
                assert!(matches!(end, Err(Error::Integrity(_))), "{n} bytes, {what}, {range:?}: {end:?}");
                assert!(got.is_empty(), "{n} bytes, {what}: no byte of a failed chunk leaves");
            }
            assert!(matches!(st.get(&r.record.id, &GetOptions::default()), Err(Error::Integrity(_))), "{n} {what}");
            set(&mem, &uri, data.clone());
        }
    }
}

/// What a small read costs in storage calls: one `read-chunks` for a whole or ranged read of a
/// small object stored as is (no `stat`, no index object).
#[test]
fn a_small_read_is_one_storage_call() {
    let counting = Rc::new(Counting::default());
    let st = Store::new(counting.clone(), Rc::new(MemMetadata::default()));
    let data = body(4096, 9);
    let id = put(&st, &data, |_| {}).record.id;
    for (range, want) in [(None, &data[..]), (Some(ByteRange::Bounded { start: 1024, end: 3071 }), &data[1024..3072])] {
        counting.1.borrow_mut().clear();
        let got = st.get(&id, &GetOptions { range, mode: Some(Mode::Bytes), ..Default::default() }).unwrap();
        assert!(matches!(got.data, Body::Bytes(ref b) if b == want));
        assert_eq!(counting.ops(), vec!["read-chunks"], "{range:?}");
    }
}

/// A reader asked for pieces of one chunk (as the HTTP server streams) reads one chunk per
/// piece from storage, none ahead: nothing is read twice or copied aside, and the heap holds one
/// piece. A caller asking for more gets up to 4 MiB (`READ_CHUNK`) per storage read.
#[test]
fn a_streamed_read_asks_storage_for_the_piece_it_hands_out() {
    let counting = Rc::new(Counting::default());
    let st = Store::new(counting.clone(), Rc::new(MemMetadata::default()));
    let data = body(4 * crate::chunks::CHUNK as usize + 100, 3);
    let id = put(&st, &data, |_| {}).record.id;
    let cs = crate::chunks::CHUNK;
    for (piece, want_lens) in [(cs, vec![cs, cs, cs, cs, 100]), (4 * cs, vec![4 * cs, 100]), (64 << 20, vec![4 * cs + 100])] {
        let mut r = st.open_reader(&id, &GetOptions::default()).unwrap();
        counting.1.borrow_mut().clear();
        let mut got = Vec::new();
        loop {
            let c = r.read(piece as usize).unwrap();
            if c.is_empty() {
                break;
            }
            assert!(c.len() as u64 <= piece);
            got.extend_from_slice(&c);
        }
        assert!(got == data, "piece {piece}");
        let lens: Vec<u64> = counting.1.borrow().iter().filter(|(op, _)| *op == "read-chunks").map(|(_, l)| *l).collect();
        assert_eq!(lens, want_lens, "piece {piece}");
    }
}

/// A storage that logs each call (and the length each read asked for).
#[derive(Default)]
struct Counting(MemStorage, std::cell::RefCell<Vec<(&'static str, u64)>>);

impl Counting {
    fn ops(&self) -> Vec<&'static str> {
        self.1.borrow().iter().map(|(op, _)| *op).collect()
    }
}

impl Storage for Counting {
    fn drivers(&self) -> Vec<String> {
        self.0.drivers()
    }
    fn create_writer(&self, d: &str) -> Result<Box<dyn crate::backend::BlobWriter + Send>, Error> {
        self.0.create_writer(d)
    }
    fn read(&self, u: &str, o: u64, l: u64) -> Result<Vec<u8>, Error> {
        self.1.borrow_mut().push(("read", l));
        self.0.read(u, o, l)
    }
    fn read_chunks(&self, u: &str, o: u64, l: u64, c: u64) -> Result<(Vec<u8>, Vec<crate::digest::Sha>), Error> {
        self.1.borrow_mut().push(("read-chunks", l));
        self.0.read_chunks(u, o, l, c)
    }
    fn stat(&self, u: &str) -> Result<Option<u64>, Error> {
        self.1.borrow_mut().push(("stat", 0));
        self.0.stat(u)
    }
    fn list_objects(&self, p: &str, c: Option<&str>, l: u32) -> Result<(Vec<String>, Option<String>), Error> {
        self.0.list_objects(p, c, l)
    }
    fn delete(&self, u: &str) -> Result<bool, Error> {
        self.0.delete(u)
    }
    fn collect_staging(&self, b: Timestamp) -> Result<u32, Error> {
        self.0.collect_staging(b)
    }
}

/// A storage that breaks the `read` contract (returns fewer bytes than asked before the end of
/// the object, as a truncated response would) makes `read-chunks` stop early: the chunk it
/// cut fails its digest, so reads end in an integrity error and no byte of that chunk leaves.
#[test]
fn a_read_cut_short_mid_object_is_an_integrity_error_not_a_short_body() {
    struct ShortReads(MemStorage);
    impl Storage for ShortReads {
        fn drivers(&self) -> Vec<String> {
            self.0.drivers()
        }
        fn create_writer(&self, d: &str) -> Result<Box<dyn crate::backend::BlobWriter + Send>, Error> {
            self.0.create_writer(d)
        }
        fn read(&self, u: &str, o: u64, l: u64) -> Result<Vec<u8>, Error> {
            self.0.read(u, o, l.min(100 << 10))
        }
        fn stat(&self, u: &str) -> Result<Option<u64>, Error> {
            self.0.stat(u)
        }
        fn list_objects(&self, p: &str, c: Option<&str>, l: u32) -> Result<(Vec<String>, Option<String>), Error> {
            self.0.list_objects(p, c, l)
        }
        fn delete(&self, u: &str) -> Result<bool, Error> {
            self.0.delete(u)
        }
        fn collect_staging(&self, b: Timestamp) -> Result<u32, Error> {
            self.0.collect_staging(b)
        }
    }
    let mem = MemStorage::default();
    let meta = Rc::new(MemMetadata::default());
    // Written through a storage that keeps the contract, read through one that does not.
    let data = body(600_000, 4);
    let id = put(&Store::new(Rc::new(mem.clone()), meta.clone()), &data, |_| {}).record.id;
    let st = Store::new(Rc::new(ShortReads(mem)), meta);
    assert!(matches!(st.get(&id, &GetOptions::default()), Err(Error::Integrity(_))));
    for range in [None, Some(ByteRange::Bounded { start: 300_000, end: 599_999 })] {
        let (got, end) = stream(&st, &id, range);
        assert!(matches!(end, Err(Error::Integrity(_))), "{range:?}: {end:?}");
        assert!(got.is_empty(), "{range:?}: no byte of a cut chunk leaves");
    }
}

/// What a storage host is asked to stream and check (WIT `read-verified`): exactly the range,
/// with the digests recorded at put time for the chunks under it; nothing for decoded bodies or
/// a read already under way. The storage here reports BLAKE3 chunk digests (natively it does):
/// they come first, the SHA-256 ones second.
#[test]
fn a_verified_plan_names_the_range_and_the_recorded_digests() {
    use crate::chunks::CHUNK;
    use crate::digest::{flatten, pieces_in, ChunkHash::*};
    let (st, _, _) = store();
    let data = body(2 * CHUNK as usize + 100_000, 7);
    let pieces = crate::digest::pieces(&data, CHUNK);
    let b3 = pieces_in(Blake3, &data, CHUNK).unwrap();
    let id = put(&st, &data, |_| {}).record.id;
    let open = |range| st.open_reader(&id, &GetOptions { range, ..Default::default() }).unwrap();
    let p = open(None).verified_plan().unwrap();
    assert_eq!((p.offset, p.len, p.size, p.chunk), (0, data.len() as u64, data.len() as u64, CHUNK));
    assert_eq!(p.expected, vec![(Blake3, flatten(&b3)), (Sha256, flatten(&pieces))]);
    assert!(p.uri.contains("://"));
    let p = open(Some(ByteRange::Bounded { start: CHUNK + 5, end: 2 * CHUNK + 9 })).verified_plan().unwrap();
    assert_eq!((p.offset, p.len), (CHUNK + 5, CHUNK + 5));
    assert_eq!(p.expected, vec![(Blake3, flatten(&b3[1..3])), (Sha256, flatten(&pieces[1..3]))]);
    let mut r = open(None);
    r.read(10).unwrap();
    assert!(r.verified_plan().is_none(), "bytes were handed out already");

    // One chunk, no stored index: the record's digest is the chunk's (SHA-256 only).
    let small = body(4096, 8);
    let id = put(&st, &small, |_| {}).record.id;
    let p = st.open_reader(&id, &GetOptions::default()).unwrap().verified_plan().unwrap();
    assert_eq!((p.size, p.len, p.expected), (4096, 4096, vec![(Sha256, flatten(&crate::digest::pieces(&small, CHUNK)))]));

    let id = put(&st, &data, |o| o.compression = Some(Compression::Gzip)).record.id;
    assert!(st.open_reader(&id, &GetOptions::default()).unwrap().verified_plan().is_none(), "decoded bytes");
}
