//! SHA-256 for `writer.digests` and `read-chunks` (WIT `storage`). This backend runs in wasm
//! itself, so it hashes its plain reads and writes (the WIT's "simple path" for hosts that
//! cannot hash natively). A port of the component's `digest` module: this crate builds as its
//! own component and cannot link that one.

use crate::exports::artifact::store::storage::Digests;
use crate::exports::artifact::store::types::Error;
use sha2::{Digest, Sha256};

/// `invalid-argument` unless `size` is a power of two from 64 KiB to 16 MiB.
pub(crate) fn check_chunk_size(size: u64) -> Result<u64, Error> {
    if (64 << 10..=16 << 20).contains(&size) && size.is_power_of_two() {
        return Ok(size);
    }
    Err(Error::InvalidArgument(format!("chunk size {size} is not a power of two from 64 KiB to 16 MiB")))
}

/// SHA-256 of each `chunk`-byte piece of `bytes`, concatenated.
pub(crate) fn pieces(bytes: &[u8], chunk: u64) -> Vec<u8> {
    bytes.chunks(chunk as usize).flat_map(|c| <[u8; 32]>::from(Sha256::digest(c))).collect()
}

/// Digests of a stream of writes.
pub(crate) struct Stream {
    chunk: u64,
    whole: Sha256,
    cur: Sha256,
    in_cur: u64,
    done: Vec<u8>,
    size: u64,
}

impl Stream {
    pub(crate) fn new(chunk: u64) -> Self {
        Stream { chunk, whole: Sha256::new(), cur: Sha256::new(), in_cur: 0, done: Vec::new(), size: 0 }
    }

    pub(crate) fn update(&mut self, mut data: &[u8]) {
        self.whole.update(data);
        self.size += data.len() as u64;
        while !data.is_empty() {
            let take = ((self.chunk - self.in_cur) as usize).min(data.len());
            self.cur.update(&data[..take]);
            self.in_cur += take as u64;
            data = &data[take..];
            if self.in_cur == self.chunk {
                self.done.extend_from_slice(&std::mem::take(&mut self.cur).finalize());
                self.in_cur = 0;
            }
        }
    }

    pub(crate) fn result(&self) -> Digests {
        let mut chunks = self.done.clone();
        if self.in_cur > 0 {
            chunks.extend_from_slice(&self.cur.clone().finalize());
        }
        // No BLAKE3 here (it would grow this component for reads it never streams).
        Digests { size: self.size, sha256: self.whole.clone().finalize().to_vec(), chunks, blake3_chunks: None }
    }
}
