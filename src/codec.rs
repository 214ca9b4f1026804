//! Body encodings: compression pipelines, range resolution and mode decoding.

use crate::backend::{DigestWriter, Storage};
use crate::chunks::{ChunkHasher, ChunkIndex};
use crate::model::{Body, ByteRange, Compression, Error, Mode};
use std::io::{self, Read, Write};

/// Resolves `range` against a body of `size` bytes into `(offset, len)`, `len >= 1`.
pub fn resolve_range(range: ByteRange, size: u64) -> Result<(u64, u64), Error> {
    let unsatisfiable = Err(Error::RangeNotSatisfiable(size));
    match range {
        ByteRange::Bounded { start, end } => {
            if end < start {
                return Err(Error::InvalidArgument(format!("range end {end} is before start {start}")));
            }
            if start >= size {
                return unsatisfiable;
            }
            Ok((start, end.min(size - 1) - start + 1))
        }
        ByteRange::From(start) => {
            if start >= size {
                return unsatisfiable;
            }
            Ok((start, size - start))
        }
        ByteRange::Suffix(n) => {
            if n == 0 || size == 0 {
                return unsatisfiable;
            }
            let n = n.min(size);
            Ok((size - n, n))
        }
    }
}

/// Parses `START-END`, `START-` or `-N` (HTTP byte-range syntax without the `bytes=` prefix).
pub fn parse_range(s: &str) -> Result<ByteRange, Error> {
    let bad = || Error::InvalidArgument(format!("invalid range {s:?} (expected START-END, START- or -N)"));
    let (a, b) = s.trim().split_once('-').ok_or_else(bad)?;
    // Digits only: no sign, no blanks inside (RFC 9110 `1*DIGIT`). A position too large for
    // u64 is still a position (past any body): it saturates, so `99999999999999999999-` is
    // unsatisfiable rather than malformed.
    let num = |x: &str| {
        if !x.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        Ok(x.parse::<u64>().unwrap_or(u64::MAX))
    };
    match (a.is_empty(), b.is_empty()) {
        (false, false) => {
            let (start, end) = (num(a)?, num(b)?);
            if end < start {
                return Err(bad());
            }
            Ok(ByteRange::Bounded { start, end })
        }
        (false, true) => Ok(ByteRange::From(num(a)?)),
        (true, false) => Ok(ByteRange::Suffix(num(b)?)),
        (true, true) => Err(bad()),
    }
}

/// Decodes logical bytes into the requested mode.
pub fn decode_body(bytes: Vec<u8>, mode: Mode) -> Result<Body, Error> {
    match mode {
        Mode::Bytes => Ok(Body::Bytes(bytes)),
        Mode::Text => String::from_utf8(bytes)
            .map(Body::Text)
            .map_err(|e| Error::Decode(format!("body is not valid UTF-8: {e}"))),
        Mode::Json => {
            // Checked, never re-encoded: the stored text is returned byte for byte.
            crate::json_syntax::validate(&bytes).map_err(|e| Error::Decode(format!("body is not valid JSON: {e}")))?;
            String::from_utf8(bytes)
                .map(Body::Json)
                .map_err(|e| Error::Decode(format!("body is not valid UTF-8: {e}")))
        }
    }
}

/// Largest single storage read the component asks for.
pub const READ_CHUNK: u64 = 4 << 20;

/// `io::Read` over `[offset, offset+len)` of a stored object, in storage-sized chunks. A
/// *verified* source (with a [`ChunkIndex`]) reads whole chunks and hands out no byte of a chunk
/// that fails its digest; an unverified one can report what streamed past to a [`ChunkHasher`]
/// (building an index).
pub struct BlobSource {
    pub storage: std::rc::Rc<dyn Storage>,
    pub uri: String,
    pub offset: u64,
    pub remaining: u64,
    buf: Vec<u8>,
    pos: usize,
    /// Verified bytes of the current chunk not handed out yet.
    stash: Vec<u8>,
    stash_pos: usize,
    index: Option<std::rc::Rc<ChunkIndex>>,
    /// Sees every stored byte an unverified source reads.
    pub tap: Option<std::rc::Rc<std::cell::RefCell<ChunkHasher>>>,
    /// A verified source whose object size was not checked with `stat`: its last read asks for
    /// one byte more, so an object longer than its index fails (see [`BlobSource::probing_end`]).
    probe_end: bool,
}

/// The arguments of WIT `storage.read-verified` for the rest of a verified read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedPlan {
    pub uri: String,
    /// The object's size, as its index records it.
    pub size: u64,
    pub chunk: u64,
    /// Recorded digests of the chunks under the range, concatenated, in each hash the index
    /// has, the fastest first (a host that does not compute one is asked with the next).
    pub expected: Vec<(crate::digest::ChunkHash, Vec<u8>)>,
    pub offset: u64,
    pub len: u64,
}

impl VerifiedPlan {
    /// What a `not-found` from the storage host means for this read of `artifact`'s body: the
    /// record names an object that is not there.
    pub fn missing(&self, artifact: &str) -> Error {
        Error::Integrity(format!("artifact {artifact}: its stored object {} is missing", self.uri))
    }

    /// Asks `read` (a host's `storage.read-verified`) for a stream with each hash of the plan in
    /// turn, the fastest first: `Ok(None)` (the host does not compute that hash) moves on to the
    /// next; the first stream or error ends it. `Ok(None)` when no hash got a stream: read the
    /// chunks instead.
    pub fn first_stream<S, E>(
        &self,
        mut read: impl FnMut(crate::digest::ChunkHash, &[u8]) -> Result<Option<S>, E>,
    ) -> Result<Option<S>, E> {
        for (hash, expected) in &self.expected {
            if let Some(s) = read(*hash, expected)? {
                return Ok(Some(s));
            }
        }
        Ok(None)
    }
}

impl BlobSource {
    /// An unverified source (index building, content-address checks).
    pub fn new(storage: std::rc::Rc<dyn Storage>, uri: &str, offset: u64, len: u64) -> Self {
        BlobSource {
            storage,
            uri: uri.to_string(),
            offset,
            remaining: len,
            buf: Vec::new(),
            pos: 0,
            stash: Vec::new(),
            stash_pos: 0,
            index: None,
            tap: None,
            probe_end: false,
        }
    }

    /// This verified source proves the object's size itself instead of a `stat`: the read of
    /// the last chunk asks for one byte past the indexed end, so a longer object fails that
    /// chunk's check, a shorter one fails it too, and a missing one is an integrity error.
    pub fn probing_end(mut self) -> Self {
        self.probe_end = true;
        self
    }

    /// Whether every byte of the range has been handed out (none left in storage or held back
    /// from a verified chunk).
    pub fn is_done(&self) -> bool {
        self.remaining == 0 && self.stash_pos >= self.stash.len()
    }

    /// A source that checks every chunk against `index` before handing out any of its bytes.
    pub fn verified(storage: std::rc::Rc<dyn Storage>, uri: &str, offset: u64, len: u64, index: std::rc::Rc<ChunkIndex>) -> Self {
        BlobSource { index: Some(index), ..BlobSource::new(storage, uri, offset, len) }
    }

    /// What a storage host needs to stream the rest of this verified source and check it
    /// itself (WIT `read-verified`): `None` for an unverified source, one that has handed out
    /// bytes already, or an empty one.
    pub fn verified_plan(&self) -> Option<VerifiedPlan> {
        let ix = self.index.as_ref()?;
        if self.remaining == 0 || self.stash_pos < self.stash.len() || self.pos < self.buf.len() {
            return None;
        }
        let end = self.offset.checked_add(self.remaining).filter(|&e| e <= ix.object_size)?;
        let cs = ix.chunk_size;
        Some(VerifiedPlan {
            uri: self.uri.clone(),
            size: ix.object_size,
            chunk: cs,
            expected: Some(ix.digests_of(self.offset / cs, (end - 1) / cs)).filter(|d| !d.is_empty())?,
            offset: self.offset,
            len: self.remaining,
        })
    }

    /// Next chunk of at most `max` bytes, or `None` at the end.
    pub fn next_chunk(&mut self, max: u64) -> Result<Option<Vec<u8>>, Error> {
        let max = max.max(1);
        if self.stash_pos < self.stash.len() {
            let n = (self.stash.len() - self.stash_pos).min(max as usize);
            let out = self.stash[self.stash_pos..self.stash_pos + n].to_vec();
            self.stash_pos += n;
            return Ok(Some(out));
        }
        if self.remaining == 0 {
            return Ok(None);
        }
        if let Some(ix) = self.index.clone() {
            return self.next_verified(&ix, max).map(Some);
        }
        let want = self.remaining.min(max);
        let chunk = self.storage.read(&self.uri, self.offset, want)?;
        if chunk.is_empty() {
            return Err(Error::Integrity(format!(
                "stored blob {} ends {} bytes early",
                self.uri, self.remaining
            )));
        }
        if chunk.len() as u64 > want {
            return Err(Error::Storage(format!("storage returned more bytes than asked from {}", self.uri)));
        }
        if let Some(t) = &self.tap {
            t.borrow_mut().update(&chunk);
        }
        self.offset += chunk.len() as u64;
        self.remaining -= chunk.len() as u64;
        Ok(Some(chunk))
    }

    /// Reads the whole chunks `[start, end)` (`start` on a chunk boundary, `end` on one or at the
    /// object's end) with the storage host's digests, and checks every chunk against the index.
    fn read_verified(&self, ix: &ChunkIndex, start: u64, end: u64) -> Result<Vec<u8>, Error> {
        let cs = ix.chunk_size;
        let mut out: Vec<u8> = Vec::new();
        let mut at = start;
        // One byte past the object's end, when that has to be proven here.
        let ask_end = if self.probe_end && end == ix.object_size { end + 1 } else { end };
        while at < end {
            let (got, digests) = match self.storage.read_chunks(&self.uri, at, ask_end - at, cs) {
                Err(Error::NotFound(_)) => {
                    return Err(Error::Integrity(format!("stored blob {} is missing", self.uri)));
                }
                r => r?,
            };
            if got.is_empty() {
                return Err(Error::Integrity(format!("stored blob {} ends at byte {at}, before its recorded size", self.uri)));
            }
            if got.len() as u64 > ask_end - at {
                return Err(Error::Storage(format!("storage returned more bytes than asked from {}", self.uri)));
            }
            if digests.len() as u64 != (got.len() as u64).div_ceil(cs) {
                return Err(Error::Storage(format!(
                    "storage returned {} chunk digests for {} bytes of {}",
                    digests.len(),
                    got.len(),
                    self.uri
                )));
            }
            for (i, d) in digests.iter().enumerate() {
                let k = at / cs + i as u64;
                let len = (got.len() as u64 - i as u64 * cs).min(cs);
                if !ix.matches(k, len, d) {
                    let first = k * cs;
                    return Err(Error::Integrity(format!(
                        "stored blob {} fails the check of chunk {k} (bytes {first}-{}): it was changed after it was written",
                        self.uri,
                        (first + ix.chunk_len(k)).max(first + 1) - 1
                    )));
                }
            }
            at += got.len() as u64;
            if at > end {
                // Unreachable: the probe byte makes the last piece fail its check above.
                return Err(Error::Integrity(format!("stored blob {} is longer than its index", self.uri)));
            }
            if out.is_empty() {
                out = got;
            } else {
                out.extend_from_slice(&got);
            }
        }
        Ok(out)
    }

    fn next_verified(&mut self, ix: &ChunkIndex, max: u64) -> Result<Vec<u8>, Error> {
        let cs = ix.chunk_size;
        let start = self.offset / cs * cs;
        if self.offset >= ix.object_size {
            return Err(Error::Integrity(format!("read of {} past its indexed size {}", self.uri, ix.object_size)));
        }
        // The whole chunks under what is left of the range, up to READ_CHUNK bytes per round and
        // no more than the chunks under the `max` bytes asked for: a caller that streams in small
        // pieces (the HTTP server, 256 KiB) then gets each piece from its own storage read, with
        // no remainder copied aside, and its heap stays as small as one piece.
        let want_end = self.offset.saturating_add(self.remaining).min(ix.object_size);
        let per_round = (self.offset - start).saturating_add(max).div_ceil(cs).saturating_mul(cs).clamp(cs, READ_CHUNK.max(cs));
        let end = want_end.div_ceil(cs).saturating_mul(cs).min(ix.object_size).min(start + per_round);
        let bytes = self.read_verified(ix, start, end)?;
        let from = (self.offset - start) as usize;
        let take = (end - self.offset).min(self.remaining) as usize;
        self.offset += take as u64;
        self.remaining -= take as u64;
        let n = take.min(max as usize);
        if n < take {
            self.stash = bytes[from + n..from + take].to_vec();
            self.stash_pos = 0;
        }
        if from == 0 && n == bytes.len() {
            return Ok(bytes);
        }
        Ok(bytes[from..from + n].to_vec())
    }
}

impl Read for BlobSource {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.buf.len() {
            match self.next_chunk(READ_CHUNK).map_err(io::Error::other)? {
                None => return Ok(0),
                Some(c) => {
                    self.buf = c;
                    self.pos = 0;
                }
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Wraps a stored-bytes reader in the decoder for `compression`.
pub fn decoder(c: Compression, src: BlobSource) -> Box<dyn Read> {
    match c {
        Compression::None => Box::new(src),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(src)),
        Compression::Deflate => Box::new(flate2::read::ZlibDecoder::new(src)),
    }
}

/// Maps an error out of a decoding pipeline: storage errors keep their type, anything else means
/// the stored bytes are corrupt.
pub fn pipeline_error(e: io::Error, uri: &str) -> Error {
    if e.get_ref().is_some_and(|i| i.is::<Error>()) {
        return *e.into_inner().expect("checked").downcast::<Error>().expect("checked");
    }
    Error::Integrity(format!("stored blob {uri} does not decode: {e}"))
}

/// Buffers encoded output and forwards it to a storage writer in large chunks. The writer
/// digests what it stores (the object's chunk index, and for unencoded bodies the logical
/// digest), natively in the storage host.
pub struct Sink {
    pub writer: Box<dyn DigestWriter + Send>,
    buf: Vec<u8>,
    pub written: u64,
}

/// Chunk size of writes to storage: small writes are batched up to this size, large ones are
/// split into pieces of at most [`WRITE_CHUNK_MAX`] (hosts cap the bytes of one call).
pub const WRITE_CHUNK: usize = 1 << 20;
/// Largest single write handed to storage.
pub const WRITE_CHUNK_MAX: usize = 1 << 20;

impl Sink {
    pub fn new(writer: Box<dyn DigestWriter + Send>) -> Self {
        Sink { writer, buf: Vec::new(), written: 0 }
    }
    fn flush_buf(&mut self) -> Result<(), Error> {
        if !self.buf.is_empty() {
            self.writer.write(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
    /// Flushes everything to the storage writer.
    pub fn finish(&mut self) -> Result<(), Error> {
        self.flush_buf()
    }
}

impl Write for Sink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.written += data.len() as u64;
        if self.buf.is_empty() && data.len() >= WRITE_CHUNK {
            for piece in data.chunks(WRITE_CHUNK_MAX) {
                self.writer.write(piece).map_err(io::Error::other)?;
            }
            return Ok(data.len());
        }
        self.buf.extend_from_slice(data);
        if self.buf.len() >= WRITE_CHUNK {
            self.flush_buf().map_err(io::Error::other)?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The encoder in front of a [`Sink`].
pub enum Encoder {
    None(Sink),
    Gzip(flate2::write::GzEncoder<Sink>),
    Deflate(flate2::write::ZlibEncoder<Sink>),
}

impl Encoder {
    pub fn new(c: Compression, sink: Sink) -> Self {
        let level = flate2::Compression::default();
        match c {
            Compression::None => Encoder::None(sink),
            Compression::Gzip => Encoder::Gzip(flate2::GzBuilder::new().write(sink, level)),
            Compression::Deflate => Encoder::Deflate(flate2::write::ZlibEncoder::new(sink, level)),
        }
    }
    pub fn write_all(&mut self, data: &[u8]) -> Result<(), Error> {
        let r = match self {
            Encoder::None(s) => s.write_all(data),
            Encoder::Gzip(e) => e.write_all(data),
            Encoder::Deflate(e) => e.write_all(data),
        };
        r.map_err(|e| pipeline_error(e, "staged blob"))
    }
    /// Finishes the stream and returns the sink with every byte handed to storage.
    pub fn finish(self) -> Result<Sink, Error> {
        let mut sink = match self {
            Encoder::None(s) => s,
            Encoder::Gzip(e) => e.finish().map_err(|e| pipeline_error(e, "staged blob"))?,
            Encoder::Deflate(e) => e.finish().map_err(|e| pipeline_error(e, "staged blob"))?,
        };
        sink.finish()?;
        Ok(sink)
    }
    pub fn sink_mut(&mut self) -> &mut Sink {
        match self {
            Encoder::None(s) => s,
            Encoder::Gzip(e) => e.get_mut(),
            Encoder::Deflate(e) => e.get_mut(),
        }
    }
}

/// Counts and hashes logical bytes coming out of a [`Verifier`], refusing more than `limit`.
pub struct Tally {
    /// SHA-256 over every logical byte seen.
    pub hasher: sha2::Sha256,
    /// Logical bytes seen.
    pub count: u64,
    /// Cap on `count`; exceeding it fails the write with [`Error::TooLarge`].
    pub limit: Option<u64>,
}

impl Write for Tally {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        use sha2::Digest;
        self.count = self.count.saturating_add(data.len() as u64);
        if let Some(limit) = self.limit {
            if self.count > limit {
                return Err(io::Error::other(Error::TooLarge { limit, needed: self.count }));
            }
        }
        self.hasher.update(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Without an explicit cap, a precompressed upload may decode to at most this many times its
/// encoded size ([`Verifier::for_upload`]): real data rarely compresses past 20:1, a gzip bomb
/// reaches about 1000:1.
pub const MAX_EXPANSION: u64 = 128;
/// ... or to this many bytes, whichever is larger, so small highly compressible uploads pass.
pub const EXPANSION_FLOOR: u64 = 64 << 20;

/// Write-side decoder for blobs that arrive already encoded (`precompressed` puts): the encoded
/// bytes are stored unchanged while this decodes them once to learn the logical size and SHA-256.
/// Gzip input may have several members (as `cat a.gz b.gz` makes); deflate input is one zlib
/// stream. Anything that does not decode completely, including trailing garbage and truncated
/// streams, is [`Error::Decode`]; decoding past the cap is [`Error::TooLarge`].
pub struct Verifier {
    dec: Decoder,
    /// Encoded bytes fed so far.
    encoded: u64,
    /// Whether the cap follows the encoded size ([`MAX_EXPANSION`]) instead of being fixed.
    expansion_guard: bool,
}

enum Decoder {
    /// RFC 1952, every member.
    Gzip(flate2::write::MultiGzDecoder<Tally>),
    /// RFC 1950 (zlib).
    Deflate(flate2::write::ZlibDecoder<Tally>),
}

impl Verifier {
    /// A verifier for `c` that refuses more than `limit` decoded bytes (`None`: no cap, for
    /// bytes whose size is already bounded); `none` has nothing to decode and is
    /// [`Error::InvalidArgument`].
    pub fn new(c: Compression, limit: Option<u64>) -> Result<Self, Error> {
        let tally = Tally { hasher: sha2::Digest::new(), count: 0, limit };
        let dec = match c {
            Compression::Gzip => Decoder::Gzip(flate2::write::MultiGzDecoder::new(tally)),
            Compression::Deflate => Decoder::Deflate(flate2::write::ZlibDecoder::new(tally)),
            Compression::None => {
                return Err(Error::InvalidArgument("precompressed data needs compression gzip or deflate".into()))
            }
        };
        Ok(Verifier { dec, encoded: 0, expansion_guard: false })
    }

    /// A verifier for an upload: capped at `max_bytes` when given, else at [`MAX_EXPANSION`]
    /// times the encoded bytes seen (at least [`EXPANSION_FLOOR`]).
    pub fn for_upload(c: Compression, max_bytes: Option<u64>) -> Result<Self, Error> {
        let mut v = Verifier::new(c, Some(max_bytes.unwrap_or(EXPANSION_FLOOR)))?;
        v.expansion_guard = max_bytes.is_none();
        Ok(v)
    }

    fn compression(&self) -> &'static str {
        match self.dec {
            Decoder::Gzip(_) => "gzip",
            Decoder::Deflate(_) => "deflate",
        }
    }

    fn tally_mut(&mut self) -> &mut Tally {
        match &mut self.dec {
            Decoder::Gzip(d) => d.get_mut(),
            Decoder::Deflate(d) => d.get_mut(),
        }
    }

    fn error(&self, e: io::Error) -> Error {
        if e.get_ref().is_some_and(|i| i.is::<Error>()) {
            return *e.into_inner().expect("checked").downcast::<Error>().expect("checked");
        }
        Error::Decode(format!("precompressed data is not valid {}: {e}", self.compression()))
    }

    /// Feeds encoded bytes.
    pub fn write_all(&mut self, data: &[u8]) -> Result<(), Error> {
        self.encoded = self.encoded.saturating_add(data.len() as u64);
        if self.expansion_guard {
            let cap = self.encoded.saturating_mul(MAX_EXPANSION).max(EXPANSION_FLOOR);
            self.tally_mut().limit = Some(cap);
        }
        let r = match &mut self.dec {
            Decoder::Gzip(d) => d.write_all(data),
            Decoder::Deflate(d) => d.write_all(data),
        };
        r.map_err(|e| self.error(e))
    }

    /// Checks that the input ended exactly at the end of a complete stream and returns the tally.
    pub fn finish(mut self) -> Result<Tally, Error> {
        let r = match &mut self.dec {
            Decoder::Gzip(d) => d.try_finish(),
            Decoder::Deflate(d) => d.try_finish(),
        };
        r.map_err(|e| self.error(e))?;
        let r = match self.dec {
            Decoder::Gzip(d) => d.finish(),
            Decoder::Deflate(d) => d.finish(),
        };
        r.map_err(|e| Error::Decode(format!("precompressed data does not decode: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_inclusively() {
        let b = |start, end| ByteRange::Bounded { start, end };
        assert_eq!(resolve_range(b(0, 9), 100).unwrap(), (0, 10));
        assert_eq!(resolve_range(b(90, 200), 100).unwrap(), (90, 10));
        assert_eq!(resolve_range(ByteRange::From(99), 100).unwrap(), (99, 1));
        assert_eq!(resolve_range(ByteRange::Suffix(10), 100).unwrap(), (90, 10));
        assert_eq!(resolve_range(ByteRange::Suffix(500), 100).unwrap(), (0, 100));
        assert_eq!(resolve_range(b(100, 100), 100), Err(Error::RangeNotSatisfiable(100)));
        assert_eq!(resolve_range(ByteRange::From(5), 0), Err(Error::RangeNotSatisfiable(0)));
        assert_eq!(resolve_range(ByteRange::Suffix(0), 10), Err(Error::RangeNotSatisfiable(10)));
        assert!(matches!(resolve_range(b(5, 4), 10), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn parses_range_text() {
        assert_eq!(parse_range("0-9").unwrap(), ByteRange::Bounded { start: 0, end: 9 });
        assert_eq!(parse_range("5-").unwrap(), ByteRange::From(5));
        assert_eq!(parse_range("-3").unwrap(), ByteRange::Suffix(3));
        assert_eq!(parse_range("99999999999999999999-").unwrap(), ByteRange::From(u64::MAX));
        assert_eq!(parse_range("0-99999999999999999999").unwrap(), ByteRange::Bounded { start: 0, end: u64::MAX });
        for bad in ["", "-", "a-b", "9-0", "1-2-3", "x"] {
            assert!(parse_range(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_verified_read_asks_each_hash_in_turn_until_one_streams_or_fails() {
        use crate::digest::ChunkHash::{Blake3, Sha256};
        let plan = VerifiedPlan {
            uri: "fs://o".into(),
            size: 10,
            chunk: 4,
            expected: vec![(Blake3, b"b3".to_vec()), (Sha256, b"s2".to_vec())],
            offset: 0,
            len: 10,
        };
        // A host without BLAKE3 (`none`) is asked again with SHA-256 and its digests.
        let mut asked = Vec::new();
        let got: Result<Option<&str>, ()> = plan.first_stream(|h, d| {
            asked.push((h, d.to_vec()));
            Ok((h == Sha256).then_some("stream"))
        });
        assert_eq!(got, Ok(Some("stream")));
        assert_eq!(asked, vec![(Blake3, b"b3".to_vec()), (Sha256, b"s2".to_vec())]);
        // A host with BLAKE3 is asked once.
        let mut n = 0;
        assert_eq!(plan.first_stream(|_, _| -> Result<_, ()> { n += 1; Ok(Some(n)) }), Ok(Some(1)));
        // A refusal (a failed first chunk, a missing object) ends it: no second hash.
        let mut n = 0;
        assert_eq!(plan.first_stream(|_, _| -> Result<Option<()>, u32> { n += 1; Err(n) }), Err(1));
        // No hash streams: read the chunks.
        assert_eq!(plan.first_stream(|_, _| -> Result<Option<()>, ()> { Ok(None) }), Ok(None));
        let none = VerifiedPlan { expected: Vec::new(), ..plan };
        assert_eq!(none.first_stream(|_, _| -> Result<Option<()>, ()> { panic!("nothing to ask") }), Ok(None));
    }

    #[test]
    fn modes_reject_bad_input() {
        assert_eq!(decode_body(b"{\"a\":1}".to_vec(), Mode::Json).unwrap(), Body::Json("{\"a\":1}".into()));
        assert!(matches!(decode_body(b"{nope".to_vec(), Mode::Json), Err(Error::Decode(_))));
        assert!(matches!(decode_body(vec![0xff, 0xfe], Mode::Text), Err(Error::Decode(_))));
        assert_eq!(decode_body(vec![0xff], Mode::Bytes).unwrap(), Body::Bytes(vec![0xff]));
    }
}
