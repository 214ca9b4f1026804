//! The request body as the component reads it: each frame received is recorded as progress
//! (the request's deadline counts from the last one), and a body whose client sends nothing
//! for the stall time is ended with an error the component sees (an upload then stores nothing).

use super::conn::now_ms;
use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Sleep;

/// A request body with a stall timeout and a progress clock.
pub struct TimedBody {
    inner: Incoming,
    stall: Duration,
    timer: Option<Pin<Box<Sleep>>>,
    /// When the last frame arrived (`now_ms`).
    progress: Arc<AtomicU64>,
}

impl TimedBody {
    pub fn new(inner: Incoming, stall: Duration, progress: Arc<AtomicU64>) -> TimedBody {
        TimedBody { inner, stall, timer: None, progress }
    }
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(r) => {
                this.timer = None;
                this.progress.store(now_ms(), Ordering::Relaxed);
                Poll::Ready(r.map(|r| r.map_err(Into::into)))
            }
            Poll::Pending => {
                let stall = this.stall;
                let t = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
                if t.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Some(Err(wasmtime_wasi_http::Error::ConnectionReadTimeout)));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
