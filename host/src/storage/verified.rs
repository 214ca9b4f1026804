//! The host's side of `storage.read-verified`: a range of an object read piece by piece, each
//! piece hashed here (natively, SHA-256 or BLAKE3 as the component asks) and compared with the
//! digest the component supplied before any of its bytes is handed on. The wasmtime `input-stream` around it is `runtime::stream`; this
//! module holds the semantics, over any [`Storage`], so it unit-tests without a runtime.

use super::SharedStorage;
use artifact_component::digest::{self, ChunkHash, Sha};
use artifact_component::model::Error;

/// An open verified read: the pieces still to check and the checked bytes of the current one.
pub struct VerifiedRead {
    storage: SharedStorage,
    uri: String,
    size: u64,
    chunk: u64,
    hash: ChunkHash,
    /// Digests of pieces `first ..`, as the component gave them.
    expected: Vec<Sha>,
    first: u64,
    /// Next byte of the range to read from storage, and the range's end.
    at: u64,
    end: u64,
    /// Checked bytes of the range not handed out yet (one piece at most).
    pending: Option<Vec<u8>>,
}

impl VerifiedRead {
    /// Checks the arguments (WIT `read-verified`; `expected`: the digests and their hash) and
    /// reads and checks the first piece.
    pub fn open(
        storage: SharedStorage,
        uri: &str,
        size: u64,
        chunk: u64,
        (hash, expected): (ChunkHash, &[u8]),
        offset: u64,
        len: u64,
    ) -> Result<Self, Error> {
        digest::check_chunk_size(chunk)?;
        let end = offset.checked_add(len).filter(|&e| len > 0 && e <= size).ok_or_else(|| {
            Error::InvalidArgument(format!("read-verified: range {offset}+{len} is empty or reaches past the object's {size} bytes"))
        })?;
        let first = offset / chunk;
        let pieces = (end - 1) / chunk - first + 1;
        if expected.len() as u64 != pieces * 32 {
            return Err(Error::InvalidArgument(format!(
                "read-verified: {} bytes of digests for {pieces} pieces (32 bytes each)",
                expected.len()
            )));
        }
        let expected = digest::unflatten(expected)?;
        let mut r =
            VerifiedRead { storage, uri: uri.to_string(), size, chunk, hash, expected, first, at: offset, end, pending: None };
        r.pending = r.next_checked()?;
        Ok(r)
    }

    /// The range's checked bytes of the next piece; `None` after the last.
    pub fn next_piece(&mut self) -> Result<Option<Vec<u8>>, Error> {
        match self.pending.take() {
            Some(p) => Ok(Some(p)),
            None => self.next_checked(),
        }
    }

    /// Reads the piece under `self.at` whole, checks it and returns the range's part of it.
    fn next_checked(&mut self) -> Result<Option<Vec<u8>>, Error> {
        if self.at >= self.end {
            return Ok(None);
        }
        let k = self.at / self.chunk;
        let start = k * self.chunk;
        let whole = (self.size - start).min(self.chunk);
        let last = start + whole == self.size;
        // One byte past the object's recorded end: a longer object then fails the check.
        let ask = whole + u64::from(last);
        let mut bytes = match self.storage.read(&self.uri, start, ask) {
            Err(Error::NotFound(_)) if k == self.first => {
                return Err(Error::NotFound(format!("no object is stored at {}", self.uri)))
            }
            Err(Error::NotFound(_)) => return Err(Error::Integrity(format!("stored blob {} has gone", self.uri))),
            r => r?,
        };
        let want = &self.expected[(k - self.first) as usize];
        if bytes.len() as u64 != whole || digest::digest_in(self.hash, &bytes).as_ref() != Some(want) {
            self.at = self.end;
            return Err(Error::Integrity(format!(
                "stored blob {} fails the check of chunk {k} (bytes {start}-{}): it was changed after it was written",
                self.uri,
                start + whole - 1
            )));
        }
        let from = (self.at - start) as usize;
        let to = (self.end.min(start + whole) - start) as usize;
        bytes.truncate(to);
        if from > 0 {
            bytes.drain(..from);
        }
        self.at = start + to as u64;
        Ok(Some(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use artifact_component::backend::mem::MemStorage;
    use artifact_component::backend::{Publish, Storage};
    use std::sync::Arc;
    use ChunkHash::{Blake3, Sha256};

    const CS: u64 = 64 << 10;

    fn store(bytes: &[u8]) -> SharedStorage {
        let s = MemStorage::default();
        let mut w = s.create_writer("mem").unwrap();
        w.write(bytes).unwrap();
        w.commit("mem://o", Publish::Overwrite).unwrap();
        Arc::new(s)
    }

    fn body(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    fn digests(b: &[u8], offset: u64, len: u64) -> Vec<u8> {
        digests_in(Sha256, b, offset, len)
    }

    fn digests_in(hash: ChunkHash, b: &[u8], offset: u64, len: u64) -> Vec<u8> {
        let all = digest::pieces_in(hash, b, CS).unwrap();
        digest::flatten(&all[(offset / CS) as usize..=((offset + len - 1) / CS) as usize])
    }

    fn read_all(r: &mut VerifiedRead) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        while let Some(p) = r.next_piece()? {
            assert!(!p.is_empty() && p.len() as u64 <= CS, "one piece at most per step");
            out.extend_from_slice(&p);
        }
        Ok(out)
    }

    #[test]
    fn yields_exactly_the_range_of_checked_pieces() {
        let b = body(3 * CS as usize + 1000);
        let n = b.len() as u64;
        let s = store(&b);
        for (hash, (o, l)) in [Sha256, Blake3].into_iter().flat_map(|h| {
            [(0, n), (0, 1), (n - 1, 1), (CS - 1, 2), (100, CS), (CS, CS), (5, n - 10), (3 * CS, 1000)].map(|r| (h, r))
        }) {
            let mut r = VerifiedRead::open(s.clone(), "mem://o", n, CS, (hash, &digests_in(hash, &b, o, l)), o, l).unwrap();
            assert_eq!(read_all(&mut r).unwrap(), &b[o as usize..(o + l) as usize], "{hash:?} range {o}+{l}");
            assert!(r.next_piece().unwrap().is_none());
        }
    }

    #[test]
    fn a_changed_piece_fails_before_any_of_its_bytes() {
        let b = body(3 * CS as usize);
        let n = b.len() as u64;
        let mut bad = b.clone();
        bad[CS as usize + 7] ^= 1;
        let s = store(&bad);
        for hash in [Sha256, Blake3] {
            let mut r = VerifiedRead::open(s.clone(), "mem://o", n, CS, (hash, &digests_in(hash, &b, 0, n)), 0, n).unwrap();
            assert_eq!(r.next_piece().unwrap().unwrap(), &b[..CS as usize]);
            let e = r.next_piece().unwrap_err();
            assert!(matches!(&e, Error::Integrity(m) if m.contains("chunk 1")), "{hash:?}: {e:?}");
            assert!(r.next_piece().unwrap().is_none(), "nothing after the failure");
        }
    }

    #[test]
    fn digests_in_the_other_hash_do_not_verify() {
        let b = body(CS as usize + 10);
        let n = b.len() as u64;
        let s = store(&b);
        for (asked, given) in [(Sha256, Blake3), (Blake3, Sha256)] {
            let e = VerifiedRead::open(s.clone(), "mem://o", n, CS, (asked, &digests_in(given, &b, 0, n)), 0, n).err().unwrap();
            assert!(matches!(e, Error::Integrity(_)), "{asked:?}: {e:?}");
        }
    }

    #[test]
    fn a_first_piece_that_fails_fails_the_open() {
        let b = body(1000);
        let mut bad = b.clone();
        bad[0] ^= 1;
        let e = VerifiedRead::open(store(&bad), "mem://o", 1000, CS, (Sha256, &digests(&b, 0, 1000)), 0, 1000).err().unwrap();
        assert!(matches!(e, Error::Integrity(_)), "{e:?}");
    }

    #[test]
    fn a_longer_or_shorter_object_fails() {
        let b = body(CS as usize + 10);
        let n = b.len() as u64;
        let d = digests(&b, 0, n);
        let mut longer = b.clone();
        longer.push(0);
        let mut r = VerifiedRead::open(store(&longer), "mem://o", n, CS, (Sha256, &d), 0, n).unwrap();
        r.next_piece().unwrap();
        assert!(matches!(r.next_piece(), Err(Error::Integrity(_))), "a byte past the recorded end");
        let e = VerifiedRead::open(store(&b[..b.len() - 1]), "mem://o", n, CS, (Sha256, &d[32..]), CS, 10).err().unwrap();
        assert!(matches!(e, Error::Integrity(_)), "{e:?}");
        // Whole pieces missing at the end: the read past the end returns nothing.
        let e = VerifiedRead::open(store(&b[..CS as usize]), "mem://o", n, CS, (Sha256, &d[32..]), CS, 10).err().unwrap();
        assert!(matches!(e, Error::Integrity(_)), "{e:?}");
    }

    #[test]
    fn bad_arguments_and_missing_objects_are_typed_errors() {
        let b = body(1000);
        let s = store(&b);
        let d = digests(&b, 0, 1000);
        let open = |size, chunk, d: &[u8], o, l| VerifiedRead::open(s.clone(), "mem://o", size, chunk, (Sha256, d), o, l).err().unwrap();
        assert!(matches!(open(1000, 1000, &d, 0, 10), Error::InvalidArgument(_)), "chunk size");
        assert!(matches!(open(1000, CS, &d, 0, 0), Error::InvalidArgument(_)), "empty range");
        assert!(matches!(open(1000, CS, &d, 990, 11), Error::InvalidArgument(_)), "past the end");
        assert!(matches!(open(1000, CS, &d, u64::MAX, 2), Error::InvalidArgument(_)), "overflow");
        assert!(matches!(open(1000, CS, &d[..31], 0, 10), Error::InvalidArgument(_)), "short digests");
        assert!(matches!(open(1000, CS, &[d.clone(), d.clone()].concat(), 0, 10), Error::InvalidArgument(_)), "too many");
        let e = VerifiedRead::open(s.clone(), "mem://none", 1000, CS, (Sha256, &d), 0, 10).err().unwrap();
        assert!(matches!(e, Error::NotFound(_)), "{e:?}");
    }

    #[test]
    fn an_object_deleted_between_pieces_is_an_integrity_error() {
        let b = body(2 * CS as usize);
        let s = store(&b);
        let n = b.len() as u64;
        let mut r = VerifiedRead::open(s.clone(), "mem://o", n, CS, (Sha256, &digests(&b, 0, n)), 0, n).unwrap();
        r.next_piece().unwrap();
        s.delete("mem://o").unwrap();
        assert!(matches!(r.next_piece(), Err(Error::Integrity(_))));
    }
}
