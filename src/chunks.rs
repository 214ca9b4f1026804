//! The chunk index: a SHA-256 per [`CHUNK`] bytes of a stored object, so every byte a read hands
//! out (ranged, streamed, HTTP 206 and 200) is verified before it leaves, with memory bounded by
//! one chunk. `meta.sha256` stays the digest of the logical bytes; the index is over the *stored*
//! bytes (compressed ones included), which is what reads fetch.
//!
//! The index of the object at `D://P` is itself an object, at `D://index/P` (a namespace only the
//! store writes, like `blobs/`). It is written when a put commits its object, and built on first
//! read for objects stored without one (that read verifies the whole object against
//! `meta.sha256` first). It is trusted only when it verifies itself:
//!
//! ```text
//! "AIDX1\n" | object size u64 LE | chunk size u64 LE | logical sha256 (32) | n × chunk sha256 (32)
//!           | sha256 of everything before (32)
//! "AIDX2\n" | the same header | n × chunk sha256 (32) | n × chunk blake3 (32)
//!           | sha256 of everything before (32)
//! ```
//! with `n = ceil(object size / chunk size)`, the object size equal to the object's, and the
//! logical digest equal to the record's. The second form is written when the storage host
//! reported BLAKE3 chunk digests (WIT `digests.blake3-chunks`): a host that streams verified
//! reads checks those (3.4× faster than SHA-256 here), any other reads the SHA-256 ones. A corrupted, truncated, stale or swapped index is
//! therefore ignored and rebuilt; a corrupted object fails the chunk it is in.

use crate::model::Error;
use crate::digest::{ChunkHash, Pieces, Sha};
use sha2::{Digest, Sha256};

/// Bytes per chunk: 256 KiB. A read fetches and hashes whole chunks, so a small range costs one
/// chunk plus the index; measured natively on a 64 MiB object (benches/README.md), a 4 KiB range
/// took 65 µs / 0.40 ms / 1.6 ms / 8.5 ms with 64 KiB / 256 KiB / 1 MiB / 4 MiB chunks, while the
/// index, hashed whole on every read, grows 4× for each step down (32 KiB at 64 KiB chunks for
/// 64 MiB, 512 KiB for 1 GiB). 256 KiB keeps both small up to a few GiB (index: 128 KiB per GiB).
pub const CHUNK: u64 = 256 << 10;
const MAGIC: &[u8; 6] = b"AIDX1\n";
const MAGIC_BLAKE3: &[u8; 6] = b"AIDX2\n";
const HEADER: usize = 6 + 8 + 8 + 32;
/// The namespace of index objects.
pub const INDEX_PREFIX: &str = "index";

/// The index URI of the object at `uri` (`None` for a URI without a scheme).
pub fn index_uri(uri: &str) -> Option<String> {
    let (driver, path) = uri.split_once("://")?;
    Some(format!("{driver}://{INDEX_PREFIX}/{path}"))
}

/// The object URI an index URI belongs to.
pub fn object_of_index(uri: &str) -> Option<String> {
    let (driver, path) = uri.split_once("://")?;
    Some(format!("{driver}://{}", path.strip_prefix(INDEX_PREFIX)?.strip_prefix('/')?))
}

/// Digests stored bytes chunk by chunk as they stream past (building an index on a read).
#[derive(Clone)]
pub struct ChunkHasher(Pieces);

impl Default for ChunkHasher {
    fn default() -> Self {
        ChunkHasher(Pieces::new(CHUNK))
    }
}

impl ChunkHasher {
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data)
    }

    /// Bytes seen so far.
    pub fn total(&self) -> u64 {
        self.0.total()
    }

    /// The index of what went past, bound to the logical digest `sha256` (hex).
    pub fn finish(self, sha256: &str) -> Result<ChunkIndex, Error> {
        let total = self.0.total();
        ChunkIndex::from_digests(total, sha256, self.0.finish(), None)
    }
}

fn parse_hex32(h: &str) -> Result<[u8; 32], Error> {
    crate::encoding::unhex(h).ok_or_else(|| Error::Integrity(format!("recorded sha256 {h:?} is not 64 hex digits")))
}

/// A verified chunk index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkIndex {
    pub object_size: u64,
    pub chunk_size: u64,
    logical: [u8; 32],
    digests: Vec<[u8; 32]>,
    /// BLAKE3 of the same chunks, when the index has them (empty otherwise).
    blake3: Vec<[u8; 32]>,
}

impl ChunkIndex {
    /// The index of an object of `object_size` bytes from the digests of its [`CHUNK`]-byte
    /// pieces (as a storage host reports them: SHA-256, and BLAKE3 from a host that has it),
    /// bound to the logical digest `sha256` (hex). `Storage` error when a count does not fit
    /// the size.
    pub fn from_digests(object_size: u64, sha256: &str, digests: Vec<Sha>, blake3: Option<Vec<Sha>>) -> Result<ChunkIndex, Error> {
        let n = object_size.div_ceil(CHUNK);
        if digests.len() as u64 != n || blake3.as_ref().is_some_and(|b| b.len() as u64 != n) {
            return Err(Error::Storage(format!(
                "host reported {} SHA-256 and {} BLAKE3 chunk digests for {object_size} bytes",
                digests.len(),
                blake3.as_ref().map_or(0, Vec::len)
            )));
        }
        let blake3 = blake3.unwrap_or_default();
        Ok(ChunkIndex { object_size, chunk_size: CHUNK, logical: parse_hex32(sha256)?, digests, blake3 })
    }

    /// Serialized sizes of the index of an object of `size` bytes: without BLAKE3 digests, and
    /// with them.
    pub fn encoded_lens(size: u64) -> [u64; 2] {
        let n = size.div_ceil(CHUNK);
        [HEADER as u64 + n * 32 + 32, HEADER as u64 + n * 64 + 32]
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + (self.digests.len() + self.blake3.len()) * 32 + 32);
        out.extend_from_slice(if self.blake3.is_empty() { MAGIC } else { MAGIC_BLAKE3 });
        out.extend_from_slice(&self.object_size.to_le_bytes());
        out.extend_from_slice(&self.chunk_size.to_le_bytes());
        out.extend_from_slice(&self.logical);
        for d in self.digests.iter().chain(&self.blake3) {
            out.extend_from_slice(d);
        }
        let seal = Sha256::digest(&out);
        out.extend_from_slice(&seal);
        out
    }

    /// The index of an object stored *as is* (no compression) in one chunk: its only chunk is the
    /// logical bytes, so its digest is the record's `sha256` and nothing needs to be stored or
    /// read to know it. `None` outside `1..=CHUNK` bytes (an empty object has no chunk to check
    /// the digest on; it takes the stored-index path) or for a malformed digest.
    pub fn implied(object_size: u64, sha256: &str) -> Option<ChunkIndex> {
        if object_size == 0 || object_size > CHUNK {
            return None;
        }
        let logical = parse_hex32(sha256).ok()?;
        Some(ChunkIndex { object_size, chunk_size: CHUNK, logical, digests: vec![logical], blake3: Vec::new() })
    }

    /// Whether this index says nothing [`ChunkIndex::implied`] does not (one chunk whose digest
    /// is the logical one): such an index is not written, even with a BLAKE3 digest (hashing
    /// one chunk of at most 256 KiB costs less than reading a second object).
    pub fn is_implied(&self) -> bool {
        self.digests.len() == 1 && self.digests[0] == self.logical
    }

    /// Parses `b` and checks it against the object it claims to describe: `None` unless it is
    /// intact, for an object of `object_size` bytes, and bound to the logical digest `sha256`.
    pub fn decode(b: &[u8], object_size: u64, sha256: &str) -> Option<ChunkIndex> {
        if b.len() < HEADER + 32 {
            return None;
        }
        let with_blake3 = match &b[..6] {
            m if m == MAGIC => false,
            m if m == MAGIC_BLAKE3 => true,
            _ => return None,
        };
        let (body, seal) = b.split_at(b.len() - 32);
        if Sha256::digest(body).as_slice() != seal {
            return None;
        }
        let size = u64::from_le_bytes(b[6..14].try_into().ok()?);
        let chunk = u64::from_le_bytes(b[14..22].try_into().ok()?);
        let logical: [u8; 32] = b[22..54].try_into().ok()?;
        if size != object_size || chunk != CHUNK || Some(logical) != parse_hex32(sha256).ok() {
            return None;
        }
        let n = size.div_ceil(CHUNK) as usize;
        let lists = if with_blake3 { 2 } else { 1 };
        if (body.len() - HEADER) as u64 != (n as u64).checked_mul(32 * lists)? {
            return None;
        }
        let mut all = body[HEADER..].chunks_exact(32).map(|c| <[u8; 32]>::try_from(c).unwrap_or([0; 32]));
        let digests: Vec<[u8; 32]> = all.by_ref().take(n).collect();
        let blake3: Vec<[u8; 32]> = all.collect();
        Some(ChunkIndex { object_size: size, chunk_size: chunk, logical, digests, blake3 })
    }

    /// Bytes in chunk `k` (0 past the end).
    pub fn chunk_len(&self, k: u64) -> u64 {
        self.object_size.saturating_sub(k.saturating_mul(self.chunk_size)).min(self.chunk_size)
    }

    /// The recorded digests of chunks `first..=last` in every hash the index has, the fastest
    /// first, each concatenated (what WIT `read-verified` takes); empty when the index has no
    /// such chunks.
    pub fn digests_of(&self, first: u64, last: u64) -> Vec<(ChunkHash, Vec<u8>)> {
        let range = first as usize..=last as usize;
        [(ChunkHash::Blake3, &self.blake3), (ChunkHash::Sha256, &self.digests)]
            .into_iter()
            .filter_map(|(hash, list)| Some((hash, list.get(range.clone())?.concat())))
            .collect()
    }

    /// Whether `digest` is the recorded one of chunk `k`, read whole (`len` bytes).
    pub fn matches(&self, k: u64, len: u64, digest: &Sha) -> bool {
        len > 0 && len == self.chunk_len(k) && self.digests.get(k as usize).is_some_and(|d| d == digest)
    }

    /// Checks chunk `k` (its bytes, whole), hashing here (reads compare the storage host's
    /// digests with [`ChunkIndex::matches`] instead).
    #[cfg(test)]
    pub fn verify(&self, k: u64, bytes: &[u8]) -> bool {
        self.matches(k, bytes.len() as u64, &Sha256::digest(bytes).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::hex;

    #[test]
    fn round_trips_and_refuses_anything_else() {
        let data: Vec<u8> = (0..(CHUNK as usize * 2 + 777)).map(|i| (i * 31 % 251) as u8).collect();
        let sha = hex(&Sha256::digest(&data));
        let mut h = ChunkHasher::default();
        for piece in data.chunks(100_003) {
            h.update(piece);
        }
        let ix = h.finish(&sha).unwrap();
        let enc = ix.encode();
        assert_eq!(enc.len() as u64, ChunkIndex::encoded_lens(data.len() as u64)[0]);
        let back = ChunkIndex::decode(&enc, data.len() as u64, &sha).unwrap();
        assert_eq!(back, ix);
        for (k, c) in data.chunks(CHUNK as usize).enumerate() {
            assert!(back.verify(k as u64, c));
        }
        let mut bad = data[..CHUNK as usize].to_vec();
        bad[5] ^= 1;
        assert!(!back.verify(0, &bad));
        assert!(!back.verify(2, &data[2 * CHUNK as usize..data.len() - 1]), "short last chunk");
        assert!(!back.verify(3, b""), "chunk past the end");
        // Another object size or logical digest, a flipped or cut index: refused.
        assert!(ChunkIndex::decode(&enc, data.len() as u64 + 1, &sha).is_none());
        assert!(ChunkIndex::decode(&enc, data.len() as u64, &"0".repeat(64)).is_none());
        for i in [0, 7, 30, HEADER + 3, enc.len() - 1] {
            let mut e = enc.clone();
            e[i] ^= 0x40;
            assert!(ChunkIndex::decode(&e, data.len() as u64, &sha).is_none(), "flip at {i}");
        }
        assert!(ChunkIndex::decode(&enc[..enc.len() - 1], data.len() as u64, &sha).is_none());
        // The empty object has no chunks.
        let e = ChunkHasher::default().finish(&hex(&Sha256::digest(b""))).unwrap();
        assert_eq!(e.digests.len(), 0);
        // Digests reported by a host: the count must fit the size.
        let d = crate::digest::pieces(&data, CHUNK);
        assert_eq!(ChunkIndex::from_digests(data.len() as u64, &sha, d.clone(), None).unwrap(), ix);
        assert!(ChunkIndex::from_digests(data.len() as u64 + CHUNK, &sha, d, None).is_err());
        assert!(ChunkIndex::decode(&e.encode(), 0, &hex(&Sha256::digest(b""))).is_some());
    }

    #[test]
    fn an_index_with_blake3_digests_round_trips_and_refuses_anything_else() {
        let data: Vec<u8> = (0..(CHUNK as usize * 3 + 5)).map(|i| (i * 17 % 251) as u8).collect();
        let n = data.len() as u64;
        let sha = hex(&Sha256::digest(&data));
        let s = crate::digest::pieces(&data, CHUNK);
        let b = crate::digest::pieces_in(ChunkHash::Blake3, &data, CHUNK).unwrap();
        assert_ne!(s, b);
        let ix = ChunkIndex::from_digests(n, &sha, s.clone(), Some(b.clone())).unwrap();
        let enc = ix.encode();
        assert_eq!(&enc[..6], MAGIC_BLAKE3);
        assert_eq!(enc.len() as u64, ChunkIndex::encoded_lens(n)[1]);
        assert_eq!(ChunkIndex::decode(&enc, n, &sha).unwrap(), ix);
        // Reads stream with the BLAKE3 digests first, the SHA-256 ones second.
        assert_eq!(ix.digests_of(1, 2), vec![(ChunkHash::Blake3, b[1..=2].concat()), (ChunkHash::Sha256, s[1..=2].concat())]);
        assert!(ix.digests_of(3, 4).is_empty(), "past the last chunk");
        // Checks on whole chunks stay SHA-256.
        assert!(ix.verify(3, &data[3 * CHUNK as usize..]));
        // Without BLAKE3 digests: the first form, SHA-256 only.
        let plain = ChunkIndex::from_digests(n, &sha, s.clone(), None).unwrap();
        assert_eq!(&plain.encode()[..6], MAGIC);
        assert_eq!(plain.digests_of(0, 0), vec![(ChunkHash::Sha256, s[0].to_vec())]);
        // A flipped byte anywhere, a cut or a grown list, the other form's magic: refused.
        for i in [0, 5, HEADER + 1, HEADER + 4 * 32 + 3, enc.len() - 33, enc.len() - 1] {
            let mut e = enc.clone();
            e[i] ^= 0x01;
            assert!(ChunkIndex::decode(&e, n, &sha).is_none(), "flip at {i}");
        }
        let reseal = |mut body: Vec<u8>| {
            let seal = Sha256::digest(&body);
            body.extend_from_slice(&seal);
            body
        };
        let body = enc[..enc.len() - 32].to_vec();
        assert!(ChunkIndex::decode(&reseal(body[..body.len() - 32].to_vec()), n, &sha).is_none(), "one BLAKE3 digest short");
        assert!(ChunkIndex::decode(&reseal([&body[..], &[0; 32]].concat()), n, &sha).is_none(), "one too many");
        let mut relabeled = body.clone();
        relabeled[..6].copy_from_slice(MAGIC);
        assert!(ChunkIndex::decode(&reseal(relabeled), n, &sha).is_none(), "the first form with two lists");
        // A host's BLAKE3 count must fit the size too.
        assert!(ChunkIndex::from_digests(n, &sha, s.clone(), Some(b[..3].to_vec())).is_err());
        assert!(ChunkIndex::from_digests(n, &sha, s, Some(Vec::new())).is_err(), "an empty list for 4 chunks");
        // A one-chunk object stored as is stays implied (no index written) with a BLAKE3 digest.
        let one = &data[..1000];
        let sha1 = hex(&Sha256::digest(one));
        let ix1 = ChunkIndex::from_digests(1000, &sha1, crate::digest::pieces(one, CHUNK), crate::digest::pieces_in(ChunkHash::Blake3, one, CHUNK)).unwrap();
        assert!(ix1.is_implied());
    }

    #[test]
    fn index_uris_mirror_object_uris() {
        assert_eq!(index_uri("fs://blobs/sha256/ab/x.gz").unwrap(), "fs://index/blobs/sha256/ab/x.gz");
        assert_eq!(object_of_index("fs://index/results/a").unwrap(), "fs://results/a");
        assert_eq!(object_of_index("fs://blobs/a"), None);
    }
}
