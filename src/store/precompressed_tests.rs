//! `PutOptions.precompressed`: blobs encoded elsewhere are stored byte for byte and decoded once
//! for the logical size and SHA-256.

use super::*;
use crate::backend::mem::{MemMetadata, MemStorage};
use std::io::Write;

fn store() -> (Store, MemStorage) {
    let s = MemStorage::default();
    (Store::new(Rc::new(s.clone()), Rc::new(MemMetadata::default())), s)
}

fn gzip(data: &[u8], level: u32) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn sha(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn opts(c: Compression) -> PutOptions {
    PutOptions { compression: Some(c), precompressed: Some(true), content_type: Some("text/plain".into()), ..Default::default() }
}

fn read_all(st: &Store, r: &str) -> Result<Vec<u8>, Error> {
    st.get(r, &GetOptions { mode: Some(Mode::Bytes), ..Default::default() }).map(|g| match g.data {
        Body::Bytes(b) => b,
        other => panic!("{other:?}"),
    })
}

fn logical_body() -> Vec<u8> {
    (0..50_000u32).flat_map(|i| format!("line {i}\n").into_bytes()).collect()
}

#[test]
fn flate2_gzip_is_stored_unchanged_and_reads_back() {
    let (st, mem) = store();
    let body = logical_body();
    let blob = gzip(&body, 9);
    let p = st.put(&blob, &opts(Compression::Gzip)).unwrap();
    assert_eq!(p.record.bytes, body.len() as u64);
    assert_eq!(p.record.stored_bytes, blob.len() as u64);
    assert_eq!(p.record.sha256, sha(&body));
    assert_eq!(p.record.compression, Compression::Gzip);
    assert_eq!(**mem.objects.lock().unwrap().get(&p.record.location.uri).unwrap(), blob, "byte for byte");
    assert_eq!(read_all(&st, &p.record.id).unwrap(), body);
    let r = st
        .get(&p.record.id, &GetOptions { mode: Some(Mode::Bytes), range: Some(ByteRange::Suffix(6)), ..Default::default() })
        .unwrap();
    assert_eq!(r.data, Body::Bytes(body[body.len() - 6..].to_vec()));
}

#[test]
fn multi_member_gzip_decodes_every_member() {
    let (st, _) = store();
    let (a, b) = (b"first member\n".repeat(1000), b"second member\n".repeat(700));
    let mut blob = gzip(&a, 6);
    blob.extend_from_slice(&gzip(&b, 1));
    blob.extend_from_slice(&gzip(b"", 6));
    let logical = [a.clone(), b.clone()].concat();
    let p = st.put(&blob, &opts(Compression::Gzip)).unwrap();
    assert_eq!(p.record.bytes, logical.len() as u64);
    assert_eq!(p.record.sha256, sha(&logical));
    assert_eq!(read_all(&st, &p.record.logical_ref).unwrap(), logical);
}

#[test]
fn streamed_in_tiny_chunks_and_deflate() {
    let (st, _) = store();
    let body = logical_body();
    for (c, blob) in [(Compression::Gzip, gzip(&body, 6)), (Compression::Deflate, zlib(&body))] {
        let mut w = st.open_writer(&opts(c)).unwrap();
        for piece in blob.chunks(7) {
            w.write(piece).unwrap();
        }
        let p = w.finish().unwrap();
        assert_eq!((p.record.bytes, p.record.sha256.clone()), (body.len() as u64, sha(&body)), "{c:?}");
        assert_eq!(read_all(&st, &p.record.id).unwrap(), body, "{c:?}");
    }
}

#[test]
fn blobs_that_do_not_decode_publish_nothing() {
    let body = b"hello hello hello\n".repeat(100);
    let good = gzip(&body, 6);
    let mut trailing = good.clone();
    trailing.extend_from_slice(b"garbage");
    let mut bad_crc = good.clone();
    let n = bad_crc.len();
    bad_crc[n - 8] ^= 0xff;
    let mut zl_trailing = zlib(&body);
    zl_trailing.push(0);
    let cases: Vec<(Compression, Vec<u8>, &str)> = vec![
        (Compression::Gzip, Vec::new(), "empty"),
        (Compression::Gzip, body.clone(), "plain text"),
        (Compression::Gzip, good[..good.len() - 4].to_vec(), "truncated trailer"),
        (Compression::Gzip, good[..good.len() / 2].to_vec(), "truncated body"),
        (Compression::Gzip, trailing, "trailing garbage"),
        (Compression::Gzip, bad_crc, "bad crc"),
        (Compression::Gzip, zlib(&body), "zlib as gzip"),
        (Compression::Deflate, good.clone(), "gzip as deflate"),
        (Compression::Deflate, zl_trailing, "zlib trailing byte"),
        (Compression::Deflate, Vec::new(), "empty zlib"),
    ];
    for (c, blob, what) in cases {
        let (st, mem) = store();
        let r = st.put(&blob, &PutOptions { name: Some("x".into()), ..opts(c) });
        assert!(matches!(r, Err(Error::Decode(_))), "{what}: {r:?}");
        assert!(mem.objects.lock().unwrap().is_empty(), "{what}: a blob was published");
        assert!(st.find("default", "x").is_err(), "{what}: a record was published");
    }
}

#[test]
fn max_bytes_caps_the_logical_size() {
    let (st, mem) = store();
    let body = vec![b'a'; 100_000];
    let blob = gzip(&body, 9);
    assert!(blob.len() < 1000);
    let r = st.put(&blob, &PutOptions { max_bytes: Some(99_999), ..opts(Compression::Gzip) });
    assert!(matches!(r, Err(Error::TooLarge { limit: 99_999, .. })), "{r:?}");
    assert!(mem.objects.lock().unwrap().is_empty());
    let p = st.put(&blob, &PutOptions { max_bytes: Some(100_000), ..opts(Compression::Gzip) }).unwrap();
    assert_eq!(p.record.bytes, 100_000);
}

#[test]
fn without_max_bytes_a_bomb_is_refused_and_ordinary_ratios_pass() {
    use crate::codec::{EXPANSION_FLOOR, MAX_EXPANSION};
    let (st, mem) = store();
    // 200 MiB of zeros: about 200 KiB of gzip, a ratio near 1000:1.
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(9));
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..200 {
        e.write_all(&zeros).unwrap();
    }
    let bomb = e.finish().unwrap();
    assert!((bomb.len() as u64) * MAX_EXPANSION < 200 << 20);
    let r = st.put(&bomb, &opts(Compression::Gzip));
    assert!(matches!(r, Err(Error::TooLarge { .. })), "{r:?}");
    assert!(mem.objects.lock().unwrap().is_empty(), "nothing stored");
    // The same bomb with an explicit cap that allows it is accepted.
    let p = st.put(&bomb, &PutOptions { max_bytes: Some(200 << 20), ..opts(Compression::Gzip) }).unwrap();
    assert_eq!(p.record.bytes, 200 << 20);
    // A small highly compressible body passes under the floor, and text (~5:1) at any size.
    let small = gzip(&vec![b'a'; (EXPANSION_FLOOR / 2) as usize], 9);
    assert!(st.put(&small, &opts(Compression::Gzip)).is_ok());
    let text: Vec<u8> = (0..3_000_000u32).flat_map(|i| format!("{i},{}\n", i % 97).into_bytes()).collect();
    assert!(text.len() as u64 > EXPANSION_FLOOR / 4);
    let p = st.put(&gzip(&text, 6), &opts(Compression::Gzip)).unwrap();
    assert_eq!(p.record.bytes, text.len() as u64);
}

#[test]
fn precompressed_without_compression_is_invalid() {
    let (st, _) = store();
    for c in [None, Some(Compression::None)] {
        let r = st.open_writer(&PutOptions { compression: c, precompressed: Some(true), ..Default::default() });
        assert!(matches!(r, Err(Error::InvalidArgument(_))), "{c:?}");
    }
}

#[test]
fn dedup_onto_a_differently_encoded_blob_keeps_the_right_stored_size() {
    let (st, _) = store();
    let body = logical_body();
    let ours = st.put(&body, &PutOptions { compression: Some(Compression::Gzip), ..Default::default() }).unwrap();
    let theirs = gzip(&body, 1);
    let p = st.put(&theirs, &opts(Compression::Gzip)).unwrap();
    assert_eq!(p.record.location.uri, ours.record.location.uri, "content-addressed by logical sha256");
    assert_eq!(p.record.stored_bytes, ours.record.stored_bytes);
    assert_eq!(read_all(&st, &p.record.id).unwrap(), body);
}
