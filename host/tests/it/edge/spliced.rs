//! Bytes stored as they are served go from storage to the response body inside the host
//! (`storage.read-verified`, spliced by the component): every piece is checked against the
//! chunk digests the component supplied before any of its bytes leaves. Seen from outside: a
//! first piece that fails is refused before the head (500), a later one cuts the body at the
//! piece boundary, and ranges read only the pieces under them.
//! In process, over a storage that counts its calls: the body's bytes come through the host
//! stream (plain reads), never through `read-chunks` into the component.

use super::{get, Home, KEYS};
use crate::faults::raw_get;
use artifact_component::backend::{BlobWriter, Storage};
use artifact_component::digest::Sha;
use artifact_component::model::{Error, PutOptions, Timestamp};
use artifact_host::storage::{MemStorage, SharedStorage};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use sha2::{Digest, Sha256};
use std::sync::Arc;

const PIECE: usize = 256 << 10;

#[test]
fn storage_bytes_reach_the_body_checked_piece_by_piece_in_the_host() {
    let home = Home::new();
    let big = crate::common::random_bytes(2 * PIECE + 100_000, 21);
    let id = home.put("big.bin", &big, &[]);
    let server = home.serve(&[]);
    let url = home.sign(&server.base, &id, &[]);
    assert_eq!(get(&url, &[]).body, big);
    let r = get(&url, &[("Range", "bytes=200000-600000")]);
    assert_eq!((r.status, r.body.as_slice()), (206, &big[200_000..=600_000]));

    let blob = home.blob_files().into_iter().find(|p| std::fs::read(p).unwrap() == big).unwrap();
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = big.clone();
        f(&mut b);
        std::fs::write(&blob, &b).unwrap();
    };

    // The first piece fails its check in the host before anything is sent: an error, no head.
    with(&|b| b[10] ^= 1);
    let r = get(&url, &[]);
    assert_eq!((r.status, r.error_kind()), (500, "integrity".to_string()));
    let r = get(&url, &[("Range", "bytes=2-20")]);
    assert_eq!((r.status, r.error_kind()), (500, "integrity".to_string()));
    // Pieces not under the range are not read.
    let r = get(&url, &[("Range", "bytes=300000-300099")]);
    assert_eq!((r.status, r.body.as_slice()), (206, &big[300_000..300_100]));

    // The last piece fails: the two before it go out, then the body is cut; none of its bytes.
    with(&|b| b[2 * PIECE + 5] ^= 1);
    let (status, body) = raw_get(&url, &[]);
    assert_eq!(status, 200);
    assert!(body.len() <= 2 * PIECE, "{} bytes: bytes of the failed piece were sent", body.len());
    assert!(big.starts_with(&body), "a wrong byte was sent");
    // One byte more than recorded, or one less: refused (the size is checked before the read),
    // or cut at the last piece, which proves the object's end.
    for (what, f) in [("appended", (|b: &mut Vec<u8>| b.push(0)) as fn(&mut Vec<u8>)), ("truncated", |b| { b.pop(); })] {
        with(&f);
        let (status, body) = raw_get(&url, &[]);
        let cut = status == 200 && body.len() <= 2 * PIECE && big.starts_with(&body);
        assert!(status == 500 || cut, "{what}: {status}, {} bytes", body.len());
    }

    // The object gone under its record: refused before the head.
    std::fs::remove_file(&blob).unwrap();
    let r = get(&url, &[]);
    assert_eq!((r.status, r.error_kind()), (500, "integrity".to_string()));

    std::fs::write(&blob, &big).unwrap();
    assert_eq!(get(&url, &[]).body, big, "served whole again once the bytes are right");
    // HEAD reads nothing: its answer does not depend on the bytes.
    assert_eq!(crate::common::request("HEAD", &url, &[]).status, 200);

    // A small object (one piece, no stored index: nothing is read before the stream) gone.
    let small = crate::common::random_bytes(4096, 22);
    let small_id = home.put("small.bin", &small, &[]);
    let small_url = home.sign(&server.base, &small_id, &[]);
    assert_eq!(get(&small_url, &[]).body, small);
    let small_blob = home.blob_files().into_iter().find(|p| std::fs::read(p).unwrap() == small).unwrap();
    std::fs::remove_file(&small_blob).unwrap();
    let r = get(&small_url, &[]);
    assert_eq!((r.status, r.error_kind()), (500, "integrity".to_string()));
}

/// The Rust host reports BLAKE3 chunk digests, so its puts write the index's second form
/// (`AIDX2`: SHA-256 and BLAKE3 per piece) and streamed reads are checked with BLAKE3; reads
/// into the component (`artifact get`) check the SHA-256 ones; an index of the first form (as
/// the Node and Python hosts write it) streams with SHA-256. Seen by rewriting the index (and
/// its seal, which a damaged disk could not): the list a path does not use may be wrong.
#[test]
fn streamed_reads_check_the_index_blake3_digests_and_older_indexes_still_stream() {
    let home = Home::new();
    let big = crate::common::random_bytes(2 * PIECE + 100_000, 24);
    let id = home.put("big.bin", &big, &[]);
    let server = home.serve(&[]);
    let url = home.sign(&server.base, &id, &[]);
    assert_eq!(get(&url, &[]).body, big);

    let blob = home.blob_files().into_iter().find(|p| std::fs::read(p).unwrap() == big).unwrap();
    // The index of `fs://blobs/P` is `fs://index/blobs/P`.
    let index = &home.objects().join("index").join(blob.strip_prefix(home.objects()).unwrap());
    let enc = std::fs::read(index).unwrap();
    const HEADER: usize = 6 + 8 + 8 + 32;
    assert_eq!(&enc[..6], b"AIDX2\n", "the index has BLAKE3 digests");
    assert_eq!(enc.len(), HEADER + 3 * 64 + 32);
    let (sha_list, b3_list) = (&enc[HEADER..HEADER + 96], &enc[HEADER + 96..HEADER + 192]);
    let pieces: Vec<&[u8]> = big.chunks(PIECE).collect();
    for (k, p) in pieces.iter().enumerate() {
        assert_eq!(&sha_list[k * 32..][..32], Sha256::digest(p).as_slice(), "SHA-256 of piece {k}");
        let b3 = artifact_component::digest::digest_in(artifact_component::digest::ChunkHash::Blake3, p).unwrap();
        assert_eq!(&b3_list[k * 32..][..32], b3.as_slice(), "BLAKE3 of piece {k}");
    }
    let sealed = |magic: &[u8], lists: &[&[u8]]| {
        let mut b = [magic, &enc[6..HEADER]].concat();
        for l in lists {
            b.extend_from_slice(l);
        }
        let seal = Sha256::digest(&b);
        b.extend_from_slice(&seal);
        std::fs::write(index, b).unwrap();
    };
    let cli_get = || {
        let out = home.path().join("out.bin");
        let o = home.cmd(&["get", &id, "--mode", "bytes", "-o", out.to_str().unwrap()]);
        (o.status.success(), std::fs::read(&out).unwrap_or_default())
    };

    // BLAKE3 list wrong (the SHA-256 one in its place): the stream refuses the first piece; a
    // read into the component, which checks SHA-256, still gets every byte.
    sealed(b"AIDX2\n", &[sha_list, sha_list]);
    let r = get(&url, &[]);
    assert_eq!((r.status, r.error_kind()), (500, "integrity".to_string()));
    assert_eq!(cli_get(), (true, big.clone()));
    // SHA-256 list wrong, BLAKE3 right: the stream serves; the component's read refuses.
    sealed(b"AIDX2\n", &[b3_list, b3_list]);
    assert_eq!(get(&url, &[]).body, big);
    assert!(!cli_get().0, "a read checked against wrong SHA-256 digests succeeded");

    // The first form (SHA-256 only): streamed, checked with SHA-256, a changed piece cuts it.
    sealed(b"AIDX1\n", &[sha_list]);
    assert_eq!(get(&url, &[]).body, big);
    assert_eq!(cli_get(), (true, big.clone()));
    let mut bad = big.clone();
    bad[PIECE + 9] ^= 1;
    std::fs::write(&blob, &bad).unwrap();
    // The server may cut the connection before its buffered head and first piece went out.
    let (status, body) = raw_get(&url, &[]);
    assert!(status == 0 || status == 200, "{status}");
    assert!(body.len() <= PIECE && big.starts_with(&body), "{} bytes, bytes of the changed piece sent", body.len());
    let r = get(&url, &[("Range", "bytes=10-99")]);
    assert_eq!((r.status, r.body.as_slice()), (206, &big[10..100]), "the unchanged piece still serves");
    let r = get(&url, &[("Range", &format!("bytes={}-{}", PIECE + 1, PIECE + 99))]);
    assert_eq!((r.status, r.error_kind()), (500, "integrity".to_string()));
}

/// A storage that counts the bytes each kind of read moved.
struct Counting {
    inner: SharedStorage,
    read: AtomicU64,
    chunked: AtomicU64,
}

impl Storage for Counting {
    fn drivers(&self) -> Vec<String> {
        self.inner.drivers()
    }
    fn create_writer(&self, driver: &str) -> Result<Box<dyn BlobWriter + Send>, Error> {
        self.inner.create_writer(driver)
    }
    fn read(&self, uri: &str, offset: u64, len: u64) -> Result<Vec<u8>, Error> {
        let b = self.inner.read(uri, offset, len)?;
        self.read.fetch_add(b.len() as u64, Relaxed);
        Ok(b)
    }
    fn read_chunks(&self, uri: &str, offset: u64, len: u64, chunk: u64) -> Result<(Vec<u8>, Vec<Sha>), Error> {
        let r = self.inner.read_chunks(uri, offset, len, chunk)?;
        self.chunked.fetch_add(r.0.len() as u64, Relaxed);
        Ok(r)
    }
    fn stat(&self, uri: &str) -> Result<Option<u64>, Error> {
        self.inner.stat(uri)
    }
    fn list_objects(&self, prefix: &str, cursor: Option<&str>, limit: u32) -> Result<(Vec<String>, Option<String>), Error> {
        self.inner.list_objects(prefix, cursor, limit)
    }
    fn delete(&self, uri: &str) -> Result<bool, Error> {
        self.inner.delete(uri)
    }
    fn collect_staging(&self, before: Timestamp) -> Result<u32, Error> {
        self.inner.collect_staging(before)
    }
}

#[test]
fn the_body_comes_through_the_host_stream_not_through_the_component() {
    use artifact_host::serve::{EdgeServer, ServeOptions};
    let storage = Arc::new(Counting { inner: Arc::new(MemStorage::default()), read: AtomicU64::new(0), chunked: AtomicU64::new(0) });
    let metadata = Arc::new(artifact_host::metadata::MemMetadata::default());
    let builder = || {
        artifact_host::Runtime::builder()
            .storage(storage.clone())
            .metadata(metadata.clone())
            .config("signing_keys", KEYS)
            .cache_dir(std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("artifact-code-cache"))
    };
    let rt = builder().build().unwrap();
    let data = crate::common::random_bytes(3 * PIECE + 12_345, 23);
    let put = rt.put(&data, &PutOptions { content_type: Some("application/octet-stream".into()), ..Default::default() }).unwrap();
    let path = rt.sign(&put.record.id, 600, &Default::default()).unwrap();

    let server = Arc::new(EdgeServer::new(builder(), ServeOptions::default()).unwrap());
    let tokio = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let listener = tokio.block_on(artifact_host::serve::bind("127.0.0.1:0")).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio.spawn(server.serve(listener, async move {
        let _ = stopped.await;
    }));

    let (read0, chunked0) = (storage.read.load(Relaxed), storage.chunked.load(Relaxed));
    let url = format!("{base}{}", &path[path.find("/v1/").expect("a signed path")..]);
    assert_eq!(get(&url, &[]).body, data);
    let r = get(&url, &[("Range", "bytes=300000-700000")]);
    assert_eq!((r.status, r.body.as_slice()), (206, &data[300_000..=700_000]));
    let read = storage.read.load(Relaxed) - read0;
    let chunked = storage.chunked.load(Relaxed) - chunked0;
    assert_eq!(chunked, 0, "the body went through read-chunks ({chunked} bytes)");
    // Whole pieces: the full body, then the two pieces under the range (plus the probe byte).
    assert!(read >= data.len() as u64 + 2 * PIECE as u64, "only {read} bytes were read");
    let _ = stop.send(());
    tokio.block_on(serving).unwrap().unwrap();
}
