//! The HTTP server behind `artifact serve`: the `edge` component (the artifact store plus the
//! standard `wasi:http/incoming-handler`) run by `wasmtime-wasi-http` on hyper and tokio.
//!
//! One compiled component and one `ProxyPre`; every request gets a fresh instance (from the
//! pooling allocator when configured) with the same backends, `wasi:config` values and sandbox
//! limits as the CLI runtime ([`RuntimeBuilder`]), unless instance reuse is asked for
//! ([`reuse`]: `ServeOptions::reuse`, `artifact serve --reuse N`). The guest cannot make
//! outgoing requests.
//! Each request is logged as one line on stderr (the query, which holds the signature, is not).
//!
//! Under load every request gets an answer ([`ServeOptions`] has the knobs):
//! - at most `instances` requests run at once; the rest wait in a bounded queue for a bounded
//!   time, then get `503` with `Retry-After` ([`gate`]); requests with a body (uploads) may
//!   hold at most half the instances, so slow uploaders cannot starve reads;
//! - at most `max_connections` are open; when full, the idle connection that waited longest is
//!   closed for the new one; a connection must send its request head within the header timeout
//!   and a keep-alive connection its next one within the idle timeout ([`conn`]);
//! - out of file descriptors, accepting backs off and logs once per episode ([`accept`]);
//! - the component's own work has a deadline (`call_timeout`): until the response head, and then
//!   between two writes of the body, so a long download to a slow but live client finishes;
//!   a client that reads nothing for the write timeout is cut, and so is an upload whose
//!   client sends nothing for as long (its body ends in an error and nothing is stored);
//!   bytes received count as progress, like bytes sent;
//! - a failure before the head is a `500` JSON answer, not a dropped connection; a failure while
//!   streaming closes the connection before the body's end (the client sees a short body).

/// One log line on stderr, written with a single `write` (stderr is unbuffered: `eprintln!`
/// makes a system call per formatted piece, ~20 per access line).
macro_rules! log_line {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut line = format!($($arg)*);
        line.push('\n');
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }};
}

pub mod accept;
pub mod body;
pub mod conn;
pub mod gate;
mod native;
pub mod reuse;

use crate::runtime::{Base, Ctx, Shared};
use crate::{HostError, RuntimeBuilder};
use conn::{Busy, ConnState, Conns, Timeouts};
use gate::{Gate, Refused};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::Linker;
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

/// How the server treats connections and load. See the module docs; `artifact serve --help`
/// documents the same knobs.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Requests that may run at once (each holds one component instance until its body is sent).
    pub instances: usize,
    /// Requests that may wait for an instance; past it, `503` at once.
    pub queue: usize,
    /// How long a request may wait for an instance before `503`.
    pub queue_timeout: Duration,
    /// Open connections; when full, the longest-idle one is closed for a new one.
    pub max_connections: usize,
    /// Header, keep-alive idle and write timeouts.
    pub timeouts: Timeouts,
    /// Seconds in `Retry-After` of a `503`.
    pub retry_after_secs: u32,
    /// How long to wait at shutdown for requests in flight.
    pub drain: Duration,
    /// Requests one instance may serve ([`reuse`]); 0 (the default) gives every request a fresh
    /// instance.
    pub reuse: u32,
    /// Answer with the handler compiled into the host instead of the component ([`native`]): a
    /// reference for benchmarks, not a serving mode (no isolation, reads only).
    pub native: bool,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            instances: 64,
            queue: 1024,
            queue_timeout: Duration::from_secs(10),
            max_connections: default_max_connections(64),
            timeouts: Timeouts {
                header: Duration::from_secs(10),
                idle: Duration::from_secs(60),
                write: Duration::from_secs(30),
            },
            retry_after_secs: 1,
            drain: Duration::from_secs(30),
            reuse: 0,
            native: false,
        }
    }
}

/// File descriptors kept out of the connection budget: the listener, stdio, the database and
/// its journal, the code cache, and two per running request (an object and its chunk index).
fn reserved_fds(instances: usize) -> u64 {
    32 + 2 * instances as u64
}

/// The connection limit that fits the process's file limit (after [`raise_fd_limit`]): the
/// soft `RLIMIT_NOFILE` minus [`reserved_fds`], between 16 and 10,000.
pub fn default_max_connections(instances: usize) -> usize {
    fd_limit().saturating_sub(reserved_fds(instances)).clamp(16, 10_000) as usize
}

/// Connections the kernel may queue before `accept` (capped by `net.core.somaxconn`): a burst of
/// clients waits there while the server is full instead of having its handshakes dropped.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds `addr` (`host:port`; port 0 picks one) with [`LISTEN_BACKLOG`].
pub async fn bind(addr: &str) -> std::io::Result<tokio::net::TcpListener> {
    let mut last = None;
    for a in tokio::net::lookup_host(addr).await? {
        let sock = if a.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
        #[cfg(unix)]
        sock.set_reuseaddr(true)?;
        match sock.bind(a).and_then(|()| sock.listen(LISTEN_BACKLOG)) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{addr} names no address"))))
}

/// The soft limit on open files (1024 when unknown).
pub fn fd_limit() -> u64 {
    #[cfg(unix)]
    {
        let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit writes into the struct we own.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } == 0 {
            #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
            return r.rlim_cur as u64;
        }
    }
    1024
}

/// Raises the soft limit on open files to the hard limit (what servers such as nginx and the Go
/// runtime do at start); the limit stays whatever it was if that is refused.
pub fn raise_fd_limit() {
    #[cfg(unix)]
    {
        let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: plain syscalls on a struct we own.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
                r.rlim_cur = r.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &r);
            }
        }
    }
}

/// The `edge` component built from this repository, embedded at compile time.
pub const EMBEDDED_EDGE_COMPONENT: &[u8] = include_bytes!(env!("ARTIFACT_EDGE_WASM"));

/// Refuses every outgoing request: the edge handler only reads from its own backends.
pub struct NoOutbound;

impl WasiHttpHooks for NoOutbound {
    fn send_request(
        &mut self,
        _request: hyper::http::Request<wasmtime_wasi_http::WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        hyper::http::Response<wasmtime_wasi_http::WasiBody>,
                        Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}

/// Per-request store data: the runtime's [`Ctx`] plus the `wasi:http` context.
pub(crate) struct ServeCtx {
    ctx: Ctx,
    http: WasiHttpCtx,
    hooks: NoOutbound,
}

impl WasiView for ServeCtx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.ctx.wasi, table: &mut self.ctx.table }
    }
}

impl crate::embed::ArtifactView for ServeCtx {
    fn artifact(&mut self) -> crate::embed::ArtifactCtxView<'_> {
        crate::embed::ArtifactView::artifact(&mut self.ctx)
    }
}

impl WasiHttpView for ServeCtx {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.ctx.table, hooks: &mut self.hooks }
    }
}

/// A loaded edge component ready to serve.
pub struct EdgeServer {
    pre: ProxyPre<ServeCtx>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    budget: Duration,
    opts: ServeOptions,
    gate: Gate,
    /// Requests with a body (uploads, API writes) that may run at once: half the instances, so
    /// slow uploaders can never hold every instance and reads always get one.
    bodies: Arc<tokio::sync::Semaphore>,
    /// `artifact console`: the web UI's routes, beside the signed reads.
    console: Option<Arc<crate::console::Console>>,
    /// Idle instances kept for later requests (`opts.reuse > 0`).
    pool: Option<Arc<reuse::Pool>>,
}

impl Drop for EdgeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Epoch ticks between two checks of a running request's deadline; each check also yields to
/// the other requests on the same thread.
const SLICE_TICKS: u64 = 20;

impl EdgeServer {
    /// Loads the edge component (the builder's `.wasm`, else the embedded one) over the
    /// builder's backends, config and limits. Use `.pooling(opts.instances)` on the builder to
    /// bound and speed up concurrent instances.
    pub fn new(builder: RuntimeBuilder, opts: ServeOptions) -> Result<EdgeServer, HostError> {
        let load = |e: wasmtime::Error| HostError::Load(format!("{e:#}"));
        let budget = builder.current_limits().call_timeout;
        let Base { engine, component, shared, stop } = builder.base(EMBEDDED_EDGE_COMPONENT)?;
        let mut linker: Linker<ServeCtx> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(load)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(load)?;
        crate::embed::add_to_linker(&mut linker)?;
        let pre = ProxyPre::new(linker.instantiate_pre(&component).map_err(load)?).map_err(load)?;
        let gate = Gate::new(opts.instances, opts.queue, opts.queue_timeout);
        let bodies = Arc::new(tokio::sync::Semaphore::new((opts.instances / 2).max(1)));
        let pool = (opts.reuse > 0).then(|| Arc::new(reuse::Pool::new(opts.reuse)));
        Ok(EdgeServer { pre, shared, stop, budget, opts, gate, bodies, console: None, pool })
    }

    /// Serves the web console's pages too: every path outside `/v1/` goes to it.
    pub fn with_console(mut self, console: Arc<crate::console::Console>) -> EdgeServer {
        self.console = Some(console);
        self
    }

    /// Serves HTTP/1.1 on `listener` until `shutdown` resolves, then stops accepting and waits
    /// (at most the drain time) for requests in flight to finish.
    pub async fn serve(self: Arc<Self>, listener: tokio::net::TcpListener, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut tasks = tokio::task::JoinSet::new();
        let conns = Arc::new(Conns::new(self.opts.max_connections));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut backoff = accept::Backoff::default();
        loop {
            // One over the limit (the connection just accepted): shed an idle one if one has
            // waited long enough, and take no new one until a connection closes (new clients wait
            // in the listen backlog meanwhile).
            if conns.over_limit() {
                conns.shed_oldest_idle();
                tokio::select! {
                    () = conns.wait_freed() => continue,
                    () = tokio::time::sleep(conn::SHED_GRACE / 5) => continue,
                    () = &mut shutdown => break,
                }
            }
            let (sock, peer) = tokio::select! {
                r = listener.accept() => match r {
                    Ok(x) => {
                        backoff.succeeded();
                        x
                    }
                    Err(e) => {
                        let wait = backoff.failed(&e, &conns);
                        tokio::select! {
                            () = tokio::time::sleep(wait) => continue,
                            () = &mut shutdown => break,
                        }
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = sock.set_nodelay(true);
            let registered = conns.register();
            let server = self.clone();
            let stop_rx = stop_rx.clone();
            tasks.spawn(async move { server.connection(sock, peer, registered, stop_rx).await });
            // Reap finished connections so the set stays small.
            while tasks.try_join_next().is_some() {}
        }
        drop(listener);
        let _ = stop_tx.send(true);
        let _ = tokio::time::timeout(self.opts.drain, async { while tasks.join_next().await.is_some() {} }).await;
        Ok(())
    }

    async fn connection(
        self: Arc<Self>,
        sock: tokio::net::TcpStream,
        peer: SocketAddr,
        registered: conn::Registered,
        mut stop_rx: tokio::sync::watch::Receiver<bool>,
    ) {
        let state = registered.state.clone();
        let io = conn::hyper_io(sock, state.clone(), self.opts.timeouts);
        let svc = {
            let state = state.clone();
            hyper::service::service_fn(move |req| {
                let (server, state) = (self.clone(), state.clone());
                async move { Ok::<_, std::convert::Infallible>(server.handle(req, peer, state).await) }
            })
        };
        let conn = http1::Builder::new().keep_alive(true).serve_connection(io, svc);
        let mut conn = std::pin::pin!(conn);
        tokio::select! {
            // Timeouts, resets and sheds are the normal end of many connections: not logged.
            _ = conn.as_mut() => return,
            () = state.evicted() => return,
            _ = stop_rx.changed() => conn.as_mut().graceful_shutdown(),
        }
        let _ = conn.await;
        drop(registered);
    }

    async fn handle(self: Arc<Self>, req: hyper::Request<Incoming>, peer: SocketAddr, conn: Arc<ConnState>) -> hyper::Response<HyperOutgoingBody> {
        let busy = Busy::new(&conn);
        let started = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let ms = || started.elapsed().as_secs_f64() * 1e3;
        let console = self.console.clone().filter(|_| crate::console::Console::owns(&path));
        let mut slot = None;
        let resp = if let Some(console) = console {
            let resp = console.handle(req).await;
            log_line!("{peer} \"{method} {path}\" {} - {:.1}ms", resp.status().as_u16(), ms());
            resp
        } else if let Err(refused) = self.body_slot(&req).map(|p| slot = p) {
            log_line!("{peer} \"{method} {path}\" 503 - {:.1}ms (every upload slot is taken)", ms());
            refused
        } else {
            match self.gate.enter().await {
            Err(why) => {
                let m = match why {
                    Refused::QueueFull => "the server is at capacity and its queue is full; retry later",
                    Refused::TimedOut => "the server is at capacity; retry later",
                };
                log_line!("{peer} \"{method} {path}\" 503 - {:.1}ms", ms());
                let mut r = json_error(503, "unavailable", m);
                r.headers_mut().insert("retry-after", self.opts.retry_after_secs.into());
                r
            }
            Ok(permit) => match self.run(req, permit, conn).await {
                Ok((resp, served)) => {
                    let len = resp.headers().get("content-length").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    let status = resp.status().as_u16();
                    match served {
                        None => log_line!("{peer} \"{method} {path}\" {status} {len} {:.1}ms", ms()),
                        Some(n) => log_line!("{peer} \"{method} {path}\" {status} {len} {:.1}ms reused={n}", ms()),
                    }
                    resp
                }
                Err(e) => {
                    log_line!("{peer} \"{method} {path}\" 500 - {:.1}ms error: {e:#}", ms());
                    json_error(500, "internal", "the server failed to handle the request")
                }
            },
            }
        };
        // The connection stays busy until the body is sent or dropped.
        resp.map(|b| {
            b.map_frame(move |f| {
                let _held = (&busy, &slot);
                f
            })
            .boxed_unsync()
        })
    }

    /// A request with a body takes an upload slot, held until its response is sent; `Err(503)`
    /// when none is free. (The error is the response itself, built once and returned at once.)
    #[allow(clippy::result_large_err)]
    fn body_slot(&self, req: &hyper::Request<Incoming>) -> Result<Option<tokio::sync::OwnedSemaphorePermit>, hyper::Response<HyperOutgoingBody>> {
        if !has_body(req) {
            return Ok(None);
        }
        self.bodies.clone().try_acquire_owned().map(Some).map_err(|_| {
            let mut r = json_error(503, "unavailable", "every upload slot is in use; retry later");
            r.headers_mut().insert("retry-after", self.opts.retry_after_secs.into());
            r
        })
    }

    /// Runs the component for one request; the response, and with `--reuse` how many requests
    /// its instance served before this one (0: a new instance).
    async fn run(
        &self,
        req: hyper::Request<Incoming>,
        permit: tokio::sync::OwnedSemaphorePermit,
        conn: Arc<ConnState>,
    ) -> Result<(hyper::Response<HyperOutgoingBody>, Option<u32>), wasmtime::Error> {
        if self.opts.native {
            let resp = native::respond(&self.shared, &req, has_body(&req));
            drop(permit);
            return Ok((resp, None));
        }
        let (mut store, proxy, served) = match self.pool.as_ref().and_then(|p| p.take()) {
            Some(w) => (w.store, Some(w.proxy), w.served),
            None => {
                let data = ServeCtx { ctx: Ctx::new(self.shared.clone()), http: WasiHttpCtx::new(), hooks: NoOutbound };
                let mut store = Store::new(self.pre.engine(), data);
                store.limiter(|c| &mut c.ctx as &mut dyn wasmtime::ResourceLimiter);
                (store, None, 0)
            }
        };
        // The component's budget: until the head is sent, then between two writes of the body.
        let budget_ms = self.budget.as_millis() as u64;
        let started = conn::now_ms();
        let head_sent = Arc::new(AtomicBool::new(false));
        // Progress: the last byte of the request body received (an upload), then of the
        // response sent.
        let last_read = Arc::new(AtomicU64::new(started));
        {
            let (head_sent, last_read) = (head_sent.clone(), last_read.clone());
            store.epoch_deadline_callback(move |_| {
                let now = conn::now_ms();
                let mut since = started.max(last_read.load(Ordering::Relaxed));
                if head_sent.load(Ordering::Acquire) {
                    since = since.max(conn.last_write());
                }
                if now.saturating_sub(since) > budget_ms {
                    return Err(wasmtime::format_err!("request deadline exceeded ({budget_ms} ms of component time without progress)"));
                }
                Ok(UpdateDeadline::Yield(SLICE_TICKS))
            });
        }
        store.set_epoch_deadline(SLICE_TICKS);
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let req = req.map(|b| body::TimedBody::new(b, self.opts.timeouts.write, last_read));
        let req = store.data_mut().http().new_incoming_request(Scheme::Http, req)?;
        let out = store.data_mut().http().new_response_outparam(sender)?;
        let pre = self.pre.clone();
        let pool = self.pool.clone();
        // The guest keeps running after the head is sent, streaming the body; the instance slot
        // is given back only once its store is gone or back in the pool.
        let task = tokio::task::spawn(async move {
            let r = async {
                let proxy = match proxy {
                    Some(p) => p,
                    None => pre.instantiate_async(&mut store).await?,
                };
                proxy.wasi_http_incoming_handler().call_handle(&mut store, req, out).await?;
                Ok::<_, wasmtime::Error>(proxy)
            }
            .await;
            let r = match (r, &pool) {
                (Ok(proxy), Some(pool)) => {
                    // Idle, it holds nothing of this request's connection.
                    store.epoch_deadline_callback(|_| Ok(UpdateDeadline::Continue(SLICE_TICKS)));
                    pool.put(reuse::Warm { store, proxy, served: served + 1 });
                    Ok(())
                }
                (r, _) => {
                    drop(store);
                    r.map(drop)
                }
            };
            drop(permit);
            r
        });
        let served = self.pool.as_ref().map(|_| served);
        match receiver.await {
            Ok(Ok(resp)) => {
                head_sent.store(true, Ordering::Release);
                // Failures after the head (a trap or deadline while streaming) cut the body; say so.
                tokio::task::spawn(async move {
                    match task.await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => log_line!("artifact serve: response body aborted: {e:#}"),
                        Err(e) => log_line!("artifact serve: request task failed: {e}"),
                    }
                });
                Ok((resp, served))
            }
            Ok(Err(e)) => Err(e.into()),
            Err(_) => {
                let e = match task.await {
                    Ok(Ok(())) => wasmtime::format_err!("the component returned no response"),
                    Ok(Err(e)) => e,
                    Err(e) => wasmtime::format_err!("request task failed: {e}"),
                };
                Err(e.context("the component failed before responding"))
            }
        }
    }
}

/// Whether `req` carries a body (a non-zero `Content-Length` or any `Transfer-Encoding`).
fn has_body(req: &hyper::Request<Incoming>) -> bool {
    let h = req.headers();
    h.get("content-length").and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim() != "0") || h.contains_key("transfer-encoding")
}

/// A response body of bytes already in memory.
pub fn full_body(b: bytes::Bytes) -> HyperOutgoingBody {
    http_body_util::Full::new(b).map_err(|never: std::convert::Infallible| -> wasmtime_wasi_http::Error { match never {} }).boxed_unsync()
}

/// A JSON error answer in the component's own format.
fn json_error(status: u16, kind: &str, message: &str) -> hyper::Response<HyperOutgoingBody> {
    let body = serde_json::json!({ "error": { "status": status, "kind": kind, "message": message } }).to_string() + "\n";
    let len = body.len();
    let mut r = hyper::Response::new(full_body(body.into()));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert("content-type", hyper::header::HeaderValue::from_static("application/json"));
    h.insert("content-length", len.into());
    h.insert("cache-control", hyper::header::HeaderValue::from_static("no-store"));
    r
}
