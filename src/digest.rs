//! SHA-256 (and natively BLAKE3) over bytes as they move through storage: what a storage host
//! reports with `writer.digests` and `read-chunks` (WIT `storage`). Natively (the Rust host,
//! unit tests, benchmarks) this module *is* that host side, the default of
//! [`crate::backend::Storage`]'s digesting methods; inside the component the host's answers
//! replace it, so no byte is hashed in wasm on the common paths. BLAKE3 exists only natively:
//! the component never computes it (it would cost the component's size for no read it makes).

use crate::backend::{BlobWriter, Publish};
use crate::model::Error;
use sha2::{Digest as _, Sha256};

/// One SHA-256.
pub type Sha = [u8; 32];

/// Smallest chunk size a host digests for (WIT `create-writer`): a writer holds 32 bytes per
/// chunk until it commits, so this bounds that memory at 1/2048 of the bytes written.
pub const MIN_CHUNK: u64 = 64 << 10;
/// Largest chunk size a host digests for.
pub const MAX_CHUNK: u64 = 16 << 20;

/// `InvalidArgument` unless `chunk` is a power of two in `MIN_CHUNK..=MAX_CHUNK`.
pub fn check_chunk_size(chunk: u64) -> Result<(), Error> {
    if (MIN_CHUNK..=MAX_CHUNK).contains(&chunk) && chunk.is_power_of_two() {
        return Ok(());
    }
    Err(Error::InvalidArgument(format!("chunk size {chunk} is not a power of two from 64 KiB to 16 MiB")))
}

/// Which hash chunk digests are in (WIT `chunk-hash`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkHash {
    Sha256,
    Blake3,
}

/// What a writer reports: size, whole digest and chunk digests of every byte it was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digests {
    pub size: u64,
    pub sha256: Sha,
    /// SHA-256 of each chunk.
    pub chunks: Vec<Sha>,
    /// BLAKE3 of the same chunks, from a host that computes it.
    pub blake3: Option<Vec<Sha>>,
}

/// The `hash` digest of `bytes`; `None` where `hash` is not computed (BLAKE3 inside the
/// component).
pub fn digest_in(hash: ChunkHash, bytes: &[u8]) -> Option<Sha> {
    match hash {
        ChunkHash::Sha256 => Some(Sha256::digest(bytes).into()),
        #[cfg(not(target_arch = "wasm32"))]
        ChunkHash::Blake3 => Some(*blake3::hash(bytes).as_bytes()),
        #[cfg(target_arch = "wasm32")]
        ChunkHash::Blake3 => None,
    }
}

/// The `hash` digests of each `chunk`-byte piece of `bytes` (see [`digest_in`]).
pub fn pieces_in(hash: ChunkHash, bytes: &[u8], chunk: u64) -> Option<Vec<Sha>> {
    bytes.chunks(chunk.max(1) as usize).map(|c| digest_in(hash, c)).collect()
}

/// A hash [`Pieces`] can run per piece: SHA-256 everywhere, BLAKE3 natively.
pub trait PieceHash: Clone + Default {
    fn feed(&mut self, data: &[u8]);
    /// The digest of what was fed since the last call; the hasher starts over.
    fn take(&mut self) -> Sha;
}

impl PieceHash for Sha256 {
    fn feed(&mut self, data: &[u8]) {
        sha2::Digest::update(self, data);
    }
    fn take(&mut self) -> Sha {
        std::mem::take(self).finalize().into()
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl PieceHash for blake3::Hasher {
    fn feed(&mut self, data: &[u8]) {
        blake3::Hasher::update(self, data);
    }
    fn take(&mut self) -> Sha {
        let d = *self.finalize().as_bytes();
        self.reset();
        d
    }
}

/// The digest of each consecutive `chunk`-byte piece of a stream (the last one may be
/// shorter), in SHA-256 unless another [`PieceHash`] is named.
#[derive(Clone)]
pub struct Pieces<H: PieceHash = Sha256> {
    chunk: u64,
    cur: H,
    in_cur: u64,
    digests: Vec<Sha>,
    total: u64,
}

impl<H: PieceHash> Pieces<H> {
    pub fn new(chunk: u64) -> Self {
        Pieces { chunk: chunk.max(1), cur: H::default(), in_cur: 0, digests: Vec::new(), total: 0 }
    }

    pub fn update(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        while !data.is_empty() {
            let take = ((self.chunk - self.in_cur) as usize).min(data.len());
            self.cur.feed(&data[..take]);
            self.in_cur += take as u64;
            data = &data[take..];
            if self.in_cur == self.chunk {
                self.digests.push(self.cur.take());
                self.in_cur = 0;
            }
        }
    }

    /// Bytes seen so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The digests of every piece, the unfinished last one included.
    pub fn finish(mut self) -> Vec<Sha> {
        if self.in_cur > 0 {
            self.digests.push(self.cur.take());
        }
        self.digests
    }
}

/// The chunk digests of `bytes` (a whole read), `chunk` bytes each.
pub fn pieces(bytes: &[u8], chunk: u64) -> Vec<Sha> {
    bytes.chunks(chunk.max(1) as usize).map(|c| Sha256::digest(c).into()).collect()
}

/// Digests, concatenated (the WIT form).
pub fn flatten(digests: &[Sha]) -> Vec<u8> {
    digests.concat()
}

/// The WIT form back into digests; `Storage` error for a length that is not a multiple of 32.
pub fn unflatten(b: &[u8]) -> Result<Vec<Sha>, Error> {
    if !b.len().is_multiple_of(32) {
        return Err(Error::Storage(format!("host returned {} bytes of digests, not a multiple of 32", b.len())));
    }
    Ok(b.chunks_exact(32).map(|c| c.try_into().expect("32 bytes")).collect())
}

/// One 32-byte digest from the WIT form.
pub fn sha_of(b: &[u8]) -> Result<Sha, Error> {
    b.try_into().map_err(|_| Error::Storage(format!("host returned a {}-byte SHA-256", b.len())))
}

/// A writer that digests what passes through it into any [`BlobWriter`]: the native
/// `writer.digests`.
pub struct Digesting {
    inner: Box<dyn BlobWriter + Send>,
    whole: Sha256,
    pieces: Pieces,
    #[cfg(not(target_arch = "wasm32"))]
    blake3: Pieces<blake3::Hasher>,
}

impl Digesting {
    pub fn new(inner: Box<dyn BlobWriter + Send>, chunk: u64) -> Self {
        Digesting {
            inner,
            whole: Sha256::new(),
            pieces: Pieces::new(chunk),
            #[cfg(not(target_arch = "wasm32"))]
            blake3: Pieces::new(chunk),
        }
    }
}

impl BlobWriter for Digesting {
    fn write(&mut self, chunk: &[u8]) -> Result<(), Error> {
        self.inner.write(chunk)?;
        // Hashed after the driver took the bytes: a failed write is not counted.
        self.whole.update(chunk);
        self.pieces.update(chunk);
        #[cfg(not(target_arch = "wasm32"))]
        self.blake3.update(chunk);
        Ok(())
    }
    fn commit(&mut self, uri: &str, publish: Publish) -> Result<bool, Error> {
        self.inner.commit(uri, publish)
    }
    fn abort(&mut self) {
        self.inner.abort()
    }
}

impl crate::backend::DigestWriter for Digesting {
    fn digests(&mut self) -> Result<Digests, Error> {
        Ok(Digests {
            size: self.pieces.total(),
            sha256: self.whole.clone().finalize().into(),
            chunks: self.pieces.clone().finish(),
            #[cfg(not(target_arch = "wasm32"))]
            blake3: Some(self.blake3.clone().finish()),
            #[cfg(target_arch = "wasm32")]
            blake3: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{mem::MemStorage, Storage};

    const P: usize = MIN_CHUNK as usize;

    #[test]
    fn pieces_of_a_stream_match_pieces_of_the_whole() {
        let data: Vec<u8> = (0..(3 * P + 100)).map(|i| (i * 7 % 253) as u8).collect();
        let mut p = Pieces::<Sha256>::new(P as u64);
        for part in data.chunks(1000) {
            p.update(part);
        }
        assert_eq!(p.total(), data.len() as u64);
        let got = p.finish();
        assert_eq!(got.len(), 4);
        assert_eq!(got, pieces(&data, P as u64));
        assert_eq!(got[3], <[u8; 32]>::from(Sha256::digest(&data[3 * P..])));
        assert!(pieces(b"", P as u64).is_empty());
        assert_eq!(unflatten(&flatten(&got)).unwrap(), got);
        assert!(matches!(unflatten(&[0; 33]), Err(Error::Storage(_))));
    }

    #[test]
    fn chunk_sizes_outside_the_contract_are_refused() {
        for ok in [64 << 10, 256 << 10, 16 << 20] {
            check_chunk_size(ok).unwrap();
        }
        for bad in [0, 1, 4096, 65535, 65537, 3 << 20, 32 << 20, u64::MAX] {
            assert!(matches!(check_chunk_size(bad), Err(Error::InvalidArgument(_))), "{bad}");
        }
    }

    #[test]
    fn the_default_storage_methods_digest_what_they_move() {
        let s = MemStorage::default();
        let data: Vec<u8> = (0..(2 * P + 5)).map(|i| (i % 251) as u8).collect();
        let mut w = s.open_writer("mem", P as u64).unwrap();
        w.write(&data[..70_000]).unwrap();
        w.write(&data[70_000..]).unwrap();
        let d = w.digests().unwrap();
        assert_eq!(d.size, data.len() as u64);
        assert_eq!(d.sha256, <[u8; 32]>::from(Sha256::digest(&data)));
        assert_eq!(d.chunks, pieces(&data, P as u64));
        assert_eq!(d.blake3.as_deref(), pieces_in(ChunkHash::Blake3, &data, P as u64).as_deref());
        assert_eq!(d.blake3.as_ref().unwrap()[2], *blake3::hash(&data[2 * P..]).as_bytes());
        assert!(w.commit("mem://x", Publish::IfAbsent).unwrap());
        // A whole read, and one capped by the caller's length, digest what they return.
        let (bytes, digests) = s.read_chunks("mem://x", 0, 1 << 20, P as u64).unwrap();
        assert_eq!(bytes, data);
        assert_eq!(digests, d.chunks);
        let (bytes, digests) = s.read_chunks("mem://x", P as u64, P as u64, P as u64).unwrap();
        assert_eq!(bytes, &data[P..2 * P]);
        assert_eq!(digests, vec![d.chunks[1]]);
        assert!(matches!(s.read_chunks("mem://x", 0, 10, 1000), Err(Error::InvalidArgument(_))));
        assert!(matches!(s.open_writer("mem", 3), Err(Error::InvalidArgument(_))));
    }
}
