//! `storage.read-verified` as a `wasi:io` input-stream: [`crate::storage::verified`] supplies
//! checked pieces; this hands them out in the sizes the reader asks for. A `splice` into an
//! HTTP body moves them from here to the body in the host, never through guest memory.

use crate::storage::verified::VerifiedRead;
use bytes::Bytes;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use wasmtime_wasi::p2::{InputStream, Pollable, StreamError, StreamResult};

/// Largest chunk a stream holds (the component's are 256 KiB).
pub const MAX_STREAM_CHUNK: u64 = 1 << 20;
/// Streams one context may have open at once (the edge component opens one per response).
pub const MAX_STREAMS: usize = 4;

/// One of a context's [`MAX_STREAMS`], given back when the stream is dropped.
pub struct StreamSlot(Arc<AtomicUsize>);

impl StreamSlot {
    /// A slot, or `None` when [`MAX_STREAMS`] are open.
    pub fn take(open: &Arc<AtomicUsize>) -> Option<StreamSlot> {
        open.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < MAX_STREAMS).then_some(n + 1)).ok()?;
        Some(StreamSlot(open.clone()))
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The stream handed to the guest; it holds at most one checked piece.
pub struct VerifiedStream {
    read: Option<VerifiedRead>,
    cur: Bytes,
    _slot: StreamSlot,
}

impl VerifiedStream {
    pub fn new(read: VerifiedRead, slot: StreamSlot) -> Self {
        VerifiedStream { read: Some(read), cur: Bytes::new(), _slot: slot }
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for VerifiedStream {
    /// Storage reads are synchronous here (as every other storage call): always ready.
    async fn ready(&mut self) {}
}

impl InputStream for VerifiedStream {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        if self.cur.is_empty() {
            let Some(r) = self.read.as_mut() else { return Err(StreamError::Closed) };
            match r.next_piece() {
                Ok(Some(p)) => self.cur = Bytes::from(p),
                Ok(None) => {
                    self.read = None;
                    return Err(StreamError::Closed);
                }
                Err(e) => {
                    // Failed once, closed after: nothing of the failed piece is ever handed out.
                    self.read = None;
                    return Err(StreamError::LastOperationFailed(wasmtime::format_err!("{} error: {e}", e.kind())));
                }
            }
        }
        Ok(self.cur.split_to(size.min(self.cur.len())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_and_given_back() {
        let open = Arc::new(AtomicUsize::new(0));
        let slots: Vec<StreamSlot> = (0..MAX_STREAMS).map(|_| StreamSlot::take(&open).unwrap()).collect();
        assert!(StreamSlot::take(&open).is_none(), "one over the cap");
        drop(slots);
        assert_eq!(open.load(Ordering::Acquire), 0);
        assert!(StreamSlot::take(&open).is_some());
    }
}
