//! Connections of `artifact serve`: their state, the registry that bounds how many are open and
//! sheds idle ones first, and the socket wrapper that enforces the read and write timeouts.
//!
//! A connection is *busy* from the moment a request head has been read until its response body
//! is finished or dropped; otherwise it is *idle* (a fresh connection, one between keep-alive
//! requests, or one trickling in a request head). Only idle connections time out on reads and
//! only idle ones are shed when the server is full: a client in the middle of a request is never
//! cut for someone else.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Sleep;

/// Milliseconds on a monotonic clock shared by the server (first call is 0).
pub fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// How long an idle connection must have been waiting (read and found with nothing more to
/// read) before it may be shed for a new one. As nginx does with its "reusable" connections,
/// a connection that has sent nothing yet is fair game too: under a flood of stalled
/// connections, new clients must get through within a second.
pub const SHED_GRACE: Duration = Duration::from_millis(50);

/// Timeouts of one connection.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// Time allowed for a request head, from the connection's start or from its first byte.
    pub header: Duration,
    /// Time a keep-alive connection may wait for its next request.
    pub idle: Duration,
    /// Time one write to the client may wait (a client that reads nothing for this long is cut);
    /// also how long a request body (an upload) may stall ([`super::body`]).
    pub write: Duration,
}

/// Shared state of one open connection.
pub struct ConnState {
    id: u64,
    /// Requests in progress (head read, response not yet finished).
    busy: AtomicU32,
    /// When the connection last became idle.
    idle_since: AtomicU64,
    /// Whether it has served a request (then its idle wait is the keep-alive timeout).
    served: AtomicBool,
    /// When the first byte of the next request head arrived (0: none yet).
    head_started: AtomicU64,
    /// Last time a write to the client made progress.
    last_write: AtomicU64,
    /// Whether an idle read found nothing to read (so it is really waiting on the client).
    waiting: AtomicBool,
    /// Set when the server sheds this connection.
    evicted: AtomicBool,
    close: Notify,
}

impl ConnState {
    /// The last time bytes went out to this client.
    pub fn last_write(&self) -> u64 {
        self.last_write.load(Ordering::Relaxed)
    }

    /// Resolves when the server sheds this connection.
    pub async fn evicted(&self) {
        self.close.notified().await
    }

    fn is_idle(&self) -> bool {
        self.busy.load(Ordering::Acquire) == 0
    }

    /// When an idle connection's read must have completed a request head (`None` while busy).
    fn read_deadline(&self, t: &Timeouts) -> Option<u64> {
        if !self.is_idle() {
            return None;
        }
        let started = self.head_started.load(Ordering::Relaxed);
        Some(if started != 0 {
            started + t.header.as_millis() as u64
        } else if self.served.load(Ordering::Relaxed) {
            self.idle_since.load(Ordering::Relaxed) + t.idle.as_millis() as u64
        } else {
            self.idle_since.load(Ordering::Relaxed) + t.header.as_millis() as u64
        })
    }
}

/// Marks a connection busy for as long as it lives: create it when a request head arrives and
/// drop it with the response body.
pub struct Busy(Arc<ConnState>);

impl Busy {
    pub fn new(c: &Arc<ConnState>) -> Busy {
        c.busy.fetch_add(1, Ordering::AcqRel);
        c.head_started.store(0, Ordering::Relaxed);
        c.waiting.store(false, Ordering::Relaxed);
        Busy(c.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let c = &self.0;
        c.served.store(true, Ordering::Relaxed);
        c.idle_since.store(now_ms(), Ordering::Relaxed);
        c.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The open connections, bounded by a limit.
pub struct Conns {
    limit: AtomicUsize,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<ConnState>>>,
    freed: Notify,
}

impl Conns {
    pub fn new(limit: usize) -> Conns {
        Conns { limit: AtomicUsize::new(limit.max(1)), next_id: AtomicU64::new(1), open: Mutex::new(HashMap::new()), freed: Notify::new() }
    }

    /// Open connections.
    pub(crate) fn len(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Registers a new connection; the returned guard unregisters it when dropped.
    pub fn register(self: &Arc<Self>) -> Registered {
        let now = now_ms();
        let state = Arc::new(ConnState {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            busy: AtomicU32::new(0),
            idle_since: AtomicU64::new(now),
            served: AtomicBool::new(false),
            head_started: AtomicU64::new(0),
            last_write: AtomicU64::new(now),
            waiting: AtomicBool::new(false),
            evicted: AtomicBool::new(false),
            close: Notify::new(),
        });
        self.open.lock().unwrap_or_else(|e| e.into_inner()).insert(state.id, state.clone());
        Registered { conns: self.clone(), state }
    }

    /// Whether more connections are open than the limit (the accept loop holds at most one
    /// over it: the one just accepted, for which room is being made).
    pub fn over_limit(&self) -> bool {
        self.len() > self.limit()
    }

    /// The connection limit in force.
    pub fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    /// Lowers the limit to `n` (at least 1) when the system says it cannot hold more (out of
    /// file descriptors): the rest of the descriptors stay for the requests themselves.
    pub fn lower_limit(&self, n: usize) -> usize {
        let n = n.max(1);
        self.limit.fetch_min(n, Ordering::Relaxed).min(n)
    }

    /// Sheds one idle connection to make room: the one that stalled in a request head the
    /// longest, else the longest-idle keep-alive one, else the longest-silent new one, each
    /// only once it has waited [`SHED_GRACE`]. `false` when none qualifies: every connection is
    /// busy or just arrived, and new clients wait in the listen backlog.
    pub fn shed_oldest_idle(&self) -> bool {
        let now = now_ms();
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let victim = open
            .values()
            .filter(|c| c.is_idle() && c.waiting.load(Ordering::Relaxed) && !c.evicted.load(Ordering::Relaxed))
            .filter_map(|c| {
                let head = c.head_started.load(Ordering::Relaxed);
                let (class, since) = if head != 0 {
                    (0, head)
                } else if c.served.load(Ordering::Relaxed) {
                    (1, c.idle_since.load(Ordering::Relaxed))
                } else {
                    (2, c.idle_since.load(Ordering::Relaxed))
                };
                let waited = now.saturating_sub(c.idle_since.load(Ordering::Relaxed));
                (waited >= SHED_GRACE.as_millis() as u64).then_some(((class, since), c))
            })
            .min_by_key(|(key, _)| *key)
            .map(|(_, c)| c);
        match victim {
            Some(c) => {
                c.evicted.store(true, Ordering::Relaxed);
                c.close.notify_one();
                true
            }
            None => false,
        }
    }

    /// Waits until a connection closes.
    pub async fn wait_freed(&self) {
        self.freed.notified().await
    }
}

/// A registered connection; unregisters on drop.
pub struct Registered {
    conns: Arc<Conns>,
    pub state: Arc<ConnState>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.conns.open.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.state.id);
        self.conns.freed.notify_one();
    }
}

/// A socket that fails reads of an idle connection past its header or keep-alive deadline and
/// writes that make no progress for the write timeout (`io::ErrorKind::TimedOut`).
pub struct TimedStream<S> {
    inner: S,
    state: Arc<ConnState>,
    timeouts: Timeouts,
    read_timer: Option<Pin<Box<Sleep>>>,
    write_timer: Option<Pin<Box<Sleep>>>,
}

impl<S> TimedStream<S> {
    pub fn new(inner: S, state: Arc<ConnState>, timeouts: Timeouts) -> Self {
        TimedStream { inner, state, timeouts, read_timer: None, write_timer: None }
    }
}

/// The I/O `hyper` serves a connection on: the timed socket, its vectored writes visible to
/// hyper. Seeing them, hyper queues a response's body chunks and hands them to `writev` as they
/// are; not seeing them (`wasmtime_wasi_http::io::TokioIo` does not forward them), it copies
/// every body byte into its own buffer first, which was 7 % of the server's CPU on 1 MiB reads.
pub fn hyper_io<S: AsyncRead + AsyncWrite + Unpin>(
    inner: S,
    state: Arc<ConnState>,
    timeouts: Timeouts,
) -> hyper_util::rt::TokioIo<TimedStream<S>> {
    hyper_util::rt::TokioIo::new(TimedStream::new(inner, state, timeouts))
}

fn timer_at(slot: &mut Option<Pin<Box<Sleep>>>, at_ms: u64) -> &mut Pin<Box<Sleep>> {
    let now = now_ms();
    let when = tokio::time::Instant::now() + Duration::from_millis(at_ms.saturating_sub(now));
    match slot {
        Some(t) => {
            if t.deadline() != when {
                t.as_mut().reset(when);
            }
        }
        None => *slot = Some(Box::pin(tokio::time::sleep_until(when))),
    }
    slot.as_mut().expect("set above")
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what.to_string())
}

impl<S: AsyncRead + Unpin> AsyncRead for TimedStream<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before && this.state.is_idle() {
                    let _ = this.state.head_started.compare_exchange(0, now_ms().max(1), Ordering::Relaxed, Ordering::Relaxed);
                }
                this.read_timer = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let Some(deadline) = this.state.read_deadline(&this.timeouts) else {
                    this.read_timer = None;
                    return Poll::Pending;
                };
                this.state.waiting.store(true, Ordering::Relaxed);
                if now_ms() >= deadline || timer_at(&mut this.read_timer, deadline).as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(timed_out("no complete request head within the timeout")));
                }
                Poll::Pending
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> TimedStream<S> {
    fn on_write<T>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<T>>, progressed: bool) -> Poll<io::Result<T>> {
        match r {
            Poll::Ready(r) => {
                if progressed {
                    self.state.last_write.store(now_ms(), Ordering::Relaxed);
                }
                self.write_timer = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                // Started by the first write that must wait; ended only by one that completes.
                let write = self.timeouts.write;
                let t = self.write_timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(write)));
                if t.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(timed_out("the client read nothing within the write timeout")));
                }
                Poll::Pending
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TimedStream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        let progressed = matches!(r, Poll::Ready(Ok(n)) if n > 0);
        self.on_write(cx, r, progressed)
    }
    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        let progressed = matches!(r, Poll::Ready(Ok(n)) if n > 0);
        self.on_write(cx, r, progressed)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        self.on_write(cx, r, false)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.on_write(cx, r, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// hyper writes bodies without copying them only when the I/O it is given reports vectored
    /// writes; a TCP socket has them, and the timed wrapper must not hide them.
    #[tokio::test]
    async fn hyper_sees_the_sockets_vectored_writes() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, _server) = tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
        let client = client.unwrap();
        assert!(client.is_write_vectored());
        let registered = Arc::new(Conns::new(4)).register();
        let t = Duration::from_secs(5);
        let io = hyper_io(client, registered.state.clone(), Timeouts { header: t, idle: t, write: t });
        assert!(hyper::rt::Write::is_write_vectored(&io));
    }
}
