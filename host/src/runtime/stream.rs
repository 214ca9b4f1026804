//! `storage.read-verified` as a `wasi:io` input-stream: [`crate::storage::verified`] supplies
//! checked pieces; this hands them out in the sizes the reader asks for. A `splice` into an
//! HTTP body moves them from here to the body in the host, never through guest memory.

use crate::storage::verified::VerifiedRead;
use bytes::Bytes;
use wasmtime_wasi::p2::{InputStream, Pollable, StreamError, StreamResult};

/// The stream handed to the guest; it holds at most one checked piece.
pub struct VerifiedStream {
    read: Option<VerifiedRead>,
    cur: Bytes,
}

impl VerifiedStream {
    pub fn new(read: VerifiedRead) -> Self {
        VerifiedStream { read: Some(read), cur: Bytes::new() }
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
