//! Native tests of the exported functions over the in-memory store (`kv::mem`): the deletion
//! contract's claims, the record uses they check, and staged-write collection.

use crate::exports::artifact::store::metadata::Guest as Meta;
use crate::exports::artifact::store::storage::{Guest as Sto, GuestWriter, Publish};
use crate::exports::artifact::store::types::{ArtifactKind, ArtifactRecord, Compression, Location, Scope};
use crate::kv::{self, mem};
use crate::storage::{KvWriter, CHUNK};
use crate::uses::Uses;
use crate::Backend as B;
use std::cell::Cell;
use std::rc::Rc;

const U: &str = "kv://blobs/sha256/ab/ab12";

fn fresh() {
    mem::reset();
    crate::metadata::forget_uses_ready();
    crate::storage::forget_heads();
}

fn rec(id: &str, name: &str, uri: &str) -> ArtifactRecord {
    ArtifactRecord {
        id: id.into(),
        bucket: "b".into(),
        name: name.into(),
        logical_ref: format!("noetl://b/{name}"),
        kind: ArtifactKind::ResultRef,
        content_type: "application/json".into(),
        compression: Compression::None,
        bytes: 2,
        stored_bytes: 2,
        sha256: "0".repeat(64),
        location: Location { driver: "kv".into(), uri: uri.into() },
        scope: Scope::Permanent,
        store_tier: "kv".into(),
        execution_id: None,
        created_by: None,
        created_at: 1,
        updated_at: 1,
        expires_at: None,
        preview: None,
        extracted: None,
    }
}

fn insert(id: &str, name: &str, uri: &str) {
    assert!(B::insert_if_absent(rec(id, name, uri)).unwrap().created);
}

fn uses_key(uri: &str) -> String {
    format!("a/u/{}", kv::h(&[uri]))
}

fn uses(uri: &str) -> Uses {
    Uses::parse(uri, kv::get(&uses_key(uri)).unwrap().as_deref()).unwrap()
}

fn claims_index() -> Vec<String> {
    kv::load_index("a/i/claims").unwrap()
}

fn claim(uri: &str, now: u64, until: u64) -> bool {
    B::claim_delete(uri.into(), now, until).unwrap()
}

fn pin(uri: &str, holder: &str, now: u64, until: u64) -> bool {
    B::pin_object(uri.into(), holder.into(), now, until).unwrap()
}

/// Runs `f` once, inside the `n`th compare-and-swap on `key` from now on (counting from 1),
/// between its read and its swap.
fn interleave_at(key: String, n: u32, f: impl FnOnce() + 'static) {
    let seen = Rc::new(Cell::new(0));
    let mut f = Some(f);
    mem::set_hook(move |k| {
        if k == key {
            seen.set(seen.get() + 1);
            if seen.get() == n {
                if let Some(f) = f.take() {
                    f();
                }
            }
        }
    });
}

#[test]
fn delete_claim_waits_for_every_record_using_the_uri() {
    fresh();
    insert("A", "a", U);
    insert("B", "b", U);
    assert_eq!(uses(U).ids, ["A", "B"]);
    assert!(!claim(U, 10, 20));
    assert!(claims_index().is_empty(), "a refusal touches no index");
    assert!(<B as Meta>::delete("A".into()).unwrap());
    assert!(!claim(U, 10, 20));
    assert!(<B as Meta>::delete("B".into()).unwrap());
    assert!(uses(U).ids.is_empty());
    assert!(claim(U, 10, 20));
    assert_eq!(claims_index(), [U]);
    B::finish_delete(U.into()).unwrap();
    B::finish_delete(U.into()).unwrap();
    assert_eq!(uses(U), Uses { uri: U.into(), ..Uses::default() });
    assert!(claims_index().is_empty());
}

#[test]
fn pins_and_delete_claims_exclude_each_other() {
    fresh();
    assert!(pin(U, "w1", 0, 100));
    assert!(pin(U, "w2", 0, 100));
    assert_eq!(claims_index(), [U]);
    assert!(!claim(U, 10, 20));
    B::unpin_object(U.into(), "w1".into()).unwrap();
    assert!(!claim(U, 10, 20), "w2 still pins");
    B::unpin_object(U.into(), "w2".into()).unwrap();
    B::unpin_object(U.into(), "w2".into()).unwrap();
    assert!(claims_index().is_empty());
    assert!(claim(U, 10, 20));
    assert!(!pin(U, "w3", 19, 100), "refused while the delete claim lives");
    assert!(uses(U).pins.is_empty(), "a refused pin records nothing");
    assert!(!claim(U, 19, 30), "one delete claim at a time");
    B::finish_delete(U.into()).unwrap();
    assert!(pin(U, "w3", 19, 100));
    assert_eq!(claims_index(), [U]);
}

#[test]
fn dead_delete_claim_lets_pins_and_claims_through() {
    fresh();
    assert!(claim(U, 10, 20));
    // The deleter was killed: at its claim's `until` it no longer counts.
    assert!(pin(U, "w", 20, 100));
    B::unpin_object(U.into(), "w".into()).unwrap();
    assert!(claim(U, 20, 40));
    assert_eq!(uses(U).del, Some(40));
}

#[test]
fn killed_put_is_stale_and_gc_round_prunes_it() {
    fresh();
    // A put pinned, committed and was killed before inserting its record.
    assert!(pin(U, "w", 0, 100));
    assert!(B::stale_claims(99, 10).unwrap().is_empty());
    assert_eq!(B::stale_claims(100, 10).unwrap(), [U]);
    // gc: claim at `now` drops the expired pin and succeeds (nothing uses the object).
    assert!(claim(U, 100, 160));
    assert_eq!(B::stale_claims(100, 10).unwrap(), Vec::<String>::new());
    B::finish_delete(U.into()).unwrap();
    assert!(B::stale_claims(u64::MAX, 10).unwrap().is_empty());
    assert!(claims_index().is_empty());
}

#[test]
fn stale_pin_of_a_used_uri_is_dropped_by_a_refused_claim() {
    fresh();
    // The put inserted its record, then was killed before unpinning.
    assert!(pin(U, "w", 0, 100));
    insert("A", "a", U);
    assert_eq!(B::stale_claims(100, 10).unwrap(), [U]);
    assert!(!claim(U, 100, 160));
    assert!(uses(U).pins.is_empty());
    assert!(B::stale_claims(100, 10).unwrap().is_empty(), "so gc's stale-claims loop ends");
    assert!(claims_index().is_empty());
}

#[test]
fn stale_claims_ascending_and_limited() {
    fresh();
    for u in ["kv://c", "kv://a", "kv://b", "kv://d"] {
        assert!(pin(u, "w", 0, 10));
    }
    assert!(pin("kv://e", "w", 0, 1000));
    assert_eq!(B::stale_claims(10, 2).unwrap(), ["kv://a", "kv://b"]);
    assert_eq!(B::stale_claims(10, 0).unwrap(), ["kv://a"], "limit clamped to at least 1");
    assert_eq!(B::stale_claims(10, 100).unwrap(), ["kv://a", "kv://b", "kv://c", "kv://d"]);
    assert_eq!(B::stale_claims(1000, 100).unwrap().len(), 5);
}

#[test]
fn stale_claims_prunes_index_entries_without_claims() {
    fresh();
    // A process killed between unpinning and unindexing.
    kv::edit_index("a/i/claims", &U.to_string(), true).unwrap();
    assert!(B::stale_claims(u64::MAX, 10).unwrap().is_empty());
    assert!(claims_index().is_empty());
}

#[test]
fn update_moves_the_use_to_the_new_uri() {
    fresh();
    let u2 = "kv://blobs/other";
    insert("A", "a", U);
    let mut r = rec("A", "a", u2);
    r.updated_at = 5;
    B::update(r).unwrap();
    assert!(uses(U).ids.is_empty());
    assert_eq!(uses(u2).ids, ["A"]);
    assert!(claim(U, 10, 20));
    assert!(!claim(u2, 10, 20));
}

#[test]
fn losing_insert_leaves_no_use() {
    fresh();
    insert("A", "a", U);
    let got = B::insert_if_absent(rec("B", "a", "kv://blobs/loser")).unwrap();
    assert!(!got.created);
    assert_eq!(got.record.id, "A");
    assert!(claim("kv://blobs/loser", 10, 20));
}

#[test]
fn ids_of_vanished_records_do_not_block_and_are_dropped() {
    fresh();
    insert("A", "a", U);
    // A delete killed after removing the record but before removing its use.
    kv::delete("a/r/A").unwrap();
    assert_eq!(uses(U).ids, ["A"]);
    assert!(claim(U, 10, 20));
    assert!(uses(U).ids.is_empty());
}

#[test]
fn records_from_before_uses_existed_are_found() {
    fresh();
    insert("A", "a", U);
    // As a store written by a backend version without `a/u/…`.
    kv::delete(&uses_key(U)).unwrap();
    kv::delete("a/i/uses-ready").unwrap();
    assert!(!claim(U, 10, 20));
    assert_eq!(uses(U).ids, ["A"]);
    assert!(kv::exists("a/i/uses-ready").unwrap());
}

#[test]
fn pin_landing_inside_claim_delete_wins() {
    fresh();
    // Pass 1 of claim-delete decides "claim", lists the URI, pass 2 decides again: the pin lands
    // between pass 2's read and its swap.
    interleave_at(uses_key(U), 2, || assert!(pin(U, "w", 10, 100)));
    assert!(!claim(U, 10, 20));
    mem::clear_hook();
    let u = uses(U);
    assert_eq!(u.del, None);
    assert_eq!(u.pins["w"], 100);
    assert_eq!(claims_index(), [U]);
}

#[test]
fn insert_landing_inside_claim_delete_wins() {
    fresh();
    interleave_at(uses_key(U), 2, || insert("A", "a", U));
    assert!(!claim(U, 10, 20));
    mem::clear_hook();
    assert_eq!(uses(U).del, None);
    assert!(B::get_by_id("A".into()).unwrap().is_some());
    assert!(claims_index().is_empty(), "the refused claim's index entry is gone");
}

#[test]
fn claim_landing_inside_pin_wins() {
    fresh();
    interleave_at(uses_key(U), 1, || assert!(claim(U, 10, 20)));
    assert!(!pin(U, "w", 10, 100));
    mem::clear_hook();
    let u = uses(U);
    assert_eq!(u.del, Some(20));
    assert!(u.pins.is_empty());
}

/// The sequence of the hosts' conformance suite (`host/src/conformance.rs`, `metadata_claims`).
#[test]
fn conformance_claim_sequence() {
    fresh();
    let (a, b, c) = ("kv://claims/a", "kv://claims/b", "kv://claims/c");
    let t = 1_000_000u64;
    assert!(claim(a, t, t + 100));
    assert!(!claim(a, t + 1, t + 100));
    assert!(!pin(a, "w1", t + 1, t + 500));
    B::finish_delete(a.into()).unwrap();
    B::finish_delete(a.into()).unwrap();
    assert!(pin(a, "w1", t + 2, t + 500));
    assert!(!claim(a, t + 3, t + 100));
    B::unpin_object(a.into(), "w2".into()).unwrap();
    assert!(!claim(a, t + 3, t + 100));
    B::unpin_object(a.into(), "w1".into()).unwrap();
    B::unpin_object(a.into(), "w1".into()).unwrap();
    assert!(claim(a, t + 4, t + 100));
    B::finish_delete(a.into()).unwrap();
    insert("R", "claimed", b);
    assert!(!claim(b, t, t + 100));
    B::update(rec("R", "claimed", c)).unwrap();
    assert!(!claim(c, t, t + 100));
    assert!(claim(b, t, t + 100));
    B::finish_delete(b.into()).unwrap();
    assert!(<B as Meta>::delete("R".into()).unwrap());
    assert!(claim(c, t, t + 100));
    B::finish_delete(c.into()).unwrap();
    assert!(pin(a, "killed", t, t + 10));
    assert!(claim(b, t, t + 20));
    assert_eq!(B::stale_claims(t + 20, 1000).unwrap(), [a, b]);
    assert_eq!(B::stale_claims(t + 10, 1000).unwrap(), [a]);
    assert!(pin(b, "w3", t + 21, t + 50));
    B::unpin_object(b.into(), "w3".into()).unwrap();
    assert!(claim(a, t + 11, t + 30));
    B::finish_delete(a.into()).unwrap();
    assert!(claim(b, t + 21, t + 30));
    B::finish_delete(b.into()).unwrap();
    assert!(B::stale_claims(u64::MAX / 2, 1000).unwrap().is_empty());
    assert!(claims_index().is_empty());
}

// ---------- staging ----------

fn chunk_keys() -> usize {
    mem::keys().iter().filter(|k| k.starts_with("a/c/")).count()
}

fn staging() -> Vec<(u64, String)> {
    kv::load_index("a/i/staging").unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

#[test]
fn killed_writer_chunks_are_collected_after_the_cutoff() {
    fresh();
    let t0 = now();
    let w = KvWriter::new(1 << 18);
    w.write(vec![7; 2 * CHUNK + 10]).unwrap();
    std::mem::forget(w); // killed: no drop, no abort
    assert_eq!(chunk_keys(), 2);
    let st = staging();
    assert_eq!(st.len(), 1);
    assert!(st[0].0 >= t0);
    assert_eq!(B::collect_staging(st[0].0).unwrap(), 0, "begun at the cutoff: kept");
    assert_eq!(chunk_keys(), 2);
    assert_eq!(B::collect_staging(st[0].0 + 1).unwrap(), 1);
    assert_eq!(chunk_keys(), 0);
    assert!(staging().is_empty());
    assert_eq!(B::collect_staging(u64::MAX).unwrap(), 0);
}

#[test]
fn partly_deleted_staging_is_collected_whole() {
    fresh();
    let w = KvWriter::new(1 << 18);
    w.write(vec![1; 3 * CHUNK]).unwrap();
    std::mem::forget(w);
    // A discard killed half-way deletes the last chunks first: chunks 0..2 remain.
    let gen = staging()[0].1.clone();
    kv::delete(&format!("a/c/{gen}/2")).unwrap();
    assert_eq!(chunk_keys(), 2);
    assert_eq!(B::collect_staging(u64::MAX).unwrap(), 1);
    assert_eq!(chunk_keys(), 0);
}

#[test]
fn committed_and_discarded_writes_leave_nothing_staged() {
    fresh();
    let big = (0..2 * CHUNK + 5).map(|i| i as u8).collect::<Vec<_>>();
    let w = KvWriter::new(1 << 18);
    w.write(big.clone()).unwrap();
    assert_eq!(staging().len(), 1);
    assert!(w.commit("kv://o/big".into(), Publish::IfAbsent).unwrap());
    drop(w);
    let small = KvWriter::new(1 << 18);
    small.write(b"hi".to_vec()).unwrap();
    assert!(small.commit("kv://o/small".into(), Publish::IfAbsent).unwrap());
    let empty = KvWriter::new(1 << 18);
    assert!(empty.commit("kv://o/empty".into(), Publish::IfAbsent).unwrap());
    assert!(staging().is_empty());
    assert_eq!(B::collect_staging(u64::MAX).unwrap(), 0);
    assert_eq!(B::read("kv://o/big".into(), 0, u64::MAX).unwrap(), big);
    assert_eq!(B::read("kv://o/small".into(), 0, 10).unwrap(), b"hi");
    assert_eq!(B::stat("kv://o/empty".into()).unwrap().map(|s| s.size), Some(0));
    let committed = chunk_keys();

    let aborted = KvWriter::new(1 << 18);
    aborted.write(vec![0; CHUNK]).unwrap();
    aborted.abort();
    let dropped = KvWriter::new(1 << 18);
    dropped.write(vec![0; CHUNK]).unwrap();
    drop(dropped);
    let lost = KvWriter::new(1 << 18);
    lost.write(b"other".to_vec()).unwrap();
    assert!(!lost.commit("kv://o/small".into(), Publish::IfAbsent).unwrap());
    assert!(staging().is_empty());
    assert_eq!(chunk_keys(), committed);
    assert_eq!(B::read("kv://o/small".into(), 0, 10).unwrap(), b"hi");
}

#[test]
fn collected_writer_cannot_commit() {
    fresh();
    let w = KvWriter::new(1 << 18);
    w.write(vec![3; CHUNK + 1]).unwrap();
    assert_eq!(B::collect_staging(u64::MAX).unwrap(), 1);
    assert!(w.commit("kv://o/late".into(), Publish::Overwrite).is_err());
    assert_eq!(B::stat("kv://o/late".into()).unwrap().map(|s| s.size), None);
    assert_eq!(chunk_keys(), 0);
    assert!(staging().is_empty());
}

// ---------- small objects and the head cache ----------

#[test]
fn small_objects_are_one_value_and_read_back() {
    fresh();
    let small = (0..crate::storage::INLINE).map(|i| (i * 7) as u8).collect::<Vec<_>>();
    let w = KvWriter::new(1 << 18);
    w.write(small[..1000].to_vec()).unwrap();
    w.write(small[1000..].to_vec()).unwrap();
    assert!(w.commit("kv://o/s".into(), Publish::IfAbsent).unwrap());
    assert_eq!(chunk_keys(), 0, "an inline object has no chunks");
    assert!(staging().is_empty());
    crate::storage::forget_heads();
    assert_eq!(B::stat("kv://o/s".into()).unwrap().map(|s| s.size), Some(small.len() as u64));
    assert_eq!(B::read("kv://o/s".into(), 0, u64::MAX).unwrap(), small);
    assert_eq!(B::read("kv://o/s".into(), 5, 3).unwrap(), small[5..8]);
    assert_eq!(B::read("kv://o/s".into(), small.len() as u64 + 9, 3).unwrap(), b"");
    // One byte more is chunked.
    let w = KvWriter::new(1 << 18);
    w.write(vec![1; crate::storage::INLINE + 1]).unwrap();
    assert!(w.commit("kv://o/b".into(), Publish::IfAbsent).unwrap());
    assert_eq!(chunk_keys(), 1);
    // Overwriting a chunked object with an inline one deletes the old chunks.
    let w = KvWriter::new(1 << 18);
    w.write(b"tiny".to_vec()).unwrap();
    assert!(w.commit("kv://o/b".into(), Publish::Overwrite).unwrap());
    assert_eq!(chunk_keys(), 0);
    assert_eq!(B::read("kv://o/b".into(), 0, 100).unwrap(), b"tiny");
    assert!(<B as Sto>::delete("kv://o/b".into()).unwrap());
    assert!(B::stat("kv://o/b".into()).unwrap().is_none());
}

#[test]
fn a_corrupt_inline_head_is_an_error_not_bytes() {
    fresh();
    let w = KvWriter::new(1 << 18);
    w.write(b"hello".to_vec()).unwrap();
    assert!(w.commit("kv://o/c".into(), Publish::IfAbsent).unwrap());
    let key = mem::keys().into_iter().find(|k| k.starts_with("a/o/")).unwrap();
    let mut v = kv::get(&key).unwrap().unwrap();
    v.push(b'!'); // one byte more than the head says
    kv::set(&key, &v).unwrap();
    crate::storage::forget_heads();
    assert!(B::read("kv://o/c".into(), 0, 10).is_err());
    assert!(B::stat("kv://o/c".into()).is_err());
}

#[test]
fn a_cached_head_whose_chunks_vanished_is_read_again() {
    fresh();
    let w = KvWriter::new(1 << 18);
    w.write(vec![9; CHUNK + 1]).unwrap();
    assert!(w.commit("kv://o/x".into(), Publish::IfAbsent).unwrap());
    assert_eq!(B::stat("kv://o/x".into()).unwrap().map(|s| s.size), Some(CHUNK as u64 + 1));
    // Another instance overwrites with a small object: its head replaces ours, our chunks go.
    let key = mem::keys().into_iter().find(|k| k.starts_with("a/o/")).unwrap();
    let old = kv::get(&key).unwrap().unwrap();
    let gen = serde_json::from_slice::<serde_json::Value>(&old).unwrap()["gen"].as_str().unwrap().to_string();
    for i in 0..2 {
        kv::delete(&format!("a/c/{gen}/{i}")).unwrap();
    }
    let mut v = serde_json::to_vec(&serde_json::json!({"uri":"kv://o/x","size":3,"chunks":0,"chunk":CHUNK,"gen":"g2","inline":true})).unwrap();
    v.extend_from_slice(b"\nnew");
    v.truncate(v.len() - 1);
    v.push(b'w');
    kv::set(&key, &v).unwrap();
    // The cache still says chunked: the missing chunk makes the read look again.
    assert_eq!(B::read("kv://o/x".into(), 0, 100).unwrap(), b"new");
    assert_eq!(B::stat("kv://o/x".into()).unwrap().map(|s| s.size), Some(3));
}

fn put_object(uri: &str, bytes: &[u8]) {
    let w = KvWriter::new(1 << 18);
    w.write(bytes.to_vec()).unwrap();
    assert!(w.commit(uri.into(), Publish::Overwrite).unwrap());
}

#[test]
fn a_small_artifact_is_read_with_one_get_after_its_record() {
    fresh();
    let uri = "kv://blobs/small";
    put_object(uri, b"hi");
    insert("S", "s", uri); // the same instance: the record carries the object
    crate::storage::forget_heads(); // a new instance (a new request)
    let before = mem::gets();
    let r = B::get_by_id("S".into()).unwrap().unwrap();
    assert_eq!(B::stat(r.location.uri.clone()).unwrap().map(|s| s.size), Some(2));
    assert_eq!(B::read(r.location.uri, 0, 10).unwrap(), b"hi");
    assert_eq!(mem::gets() - before, 1, "record and bytes in one get");

    // A record never carries another URI's object, nor a large one.
    let big = vec![5u8; crate::metadata::EMBED as usize + 1];
    put_object("kv://blobs/big", &big);
    let mut rb = rec("L", "l", "kv://blobs/big");
    rb.stored_bytes = big.len() as u64;
    assert!(B::insert_if_absent(rb).unwrap().created);
    crate::storage::forget_heads();
    let before = mem::gets();
    let r = B::get_by_id("L".into()).unwrap().unwrap();
    assert_eq!(B::read(r.location.uri, 0, u64::MAX).unwrap(), big);
    assert_eq!(mem::gets() - before, 2, "record, then the object");

    // A copy that does not decode as an inline object of its URI is ignored, not served.
    let key = "a/r/S";
    let mut v = kv::get(key).unwrap().unwrap();
    let at = v.iter().position(|&b| b == b'\n').unwrap();
    v.truncate(at + 1);
    v.extend_from_slice(br#"{"uri":"kv://blobs/other","size":2,"chunks":0,"chunk":1,"gen":"g","inline":true}"#);
    v.extend_from_slice(b"\nXX");
    kv::set(key, &v).unwrap();
    crate::storage::forget_heads();
    let r = B::get_by_id("S".into()).unwrap().unwrap();
    assert_eq!(B::read(r.location.uri, 0, 10).unwrap(), b"hi", "read from the object itself");
}

#[test]
fn writers_and_chunked_reads_report_the_digests_of_their_bytes() {
    use sha2::{Digest, Sha256};
    fresh();
    let data: Vec<u8> = (0..CHUNK + 9000).map(|i| (i * 13 % 251) as u8).collect();
    let sha = |b: &[u8]| Sha256::digest(b).to_vec();
    const P: usize = 64 << 10;
    let w = KvWriter::new(P as u64);
    w.write(data[..70_000].to_vec()).unwrap();
    w.write(data[70_000..].to_vec()).unwrap();
    let d = w.digests().unwrap();
    assert_eq!(d.size, data.len() as u64);
    assert_eq!(d.sha256, sha(&data));
    let expect: Vec<u8> = data.chunks(P).flat_map(sha).collect();
    assert_eq!(d.chunks, expect);
    assert!(w.commit(U.into(), Publish::IfAbsent).unwrap());
    assert!(w.digests().is_err(), "finished writer");
    let r = B::read_chunks(U.into(), P as u64, 3 * P as u64, P as u64).unwrap();
    assert_eq!(r.bytes, &data[P..4 * P]);
    assert_eq!(r.chunks, &expect[32..4 * 32]);
    let tail = B::read_chunks(U.into(), (data.len() / P * P) as u64, 1 << 20, P as u64).unwrap();
    assert_eq!(tail.chunks, &expect[expect.len() - 32..]);
    assert!(B::read_chunks(U.into(), 0, 10, 5000).is_err(), "not a power of two");
    assert!(B::create_writer("kv".into(), 1 << 30).is_err(), "chunk size too large");
    assert!(B::create_writer("kv".into(), 4096).is_err(), "chunk size too small (digest memory)");
}
