//! The HTTP server behind `artifact serve`: the `edge` component (the artifact store plus the
//! standard `wasi:http/incoming-handler`) run by `wasmtime-wasi-http` on hyper and tokio.
//!
//! One compiled component and one `ProxyPre`; every request gets a fresh instance (from the
//! pooling allocator when configured) with the same backends, `wasi:config` values and sandbox
//! limits as the CLI runtime ([`RuntimeBuilder`]); the whole request, body streaming included,
//! runs under the call deadline. The guest cannot make outgoing requests. Each request is
//! logged as one line on stderr (the query, which holds the signature, is not logged).

use crate::runtime::{add_artifact_imports, deadline_ticks_for, Base, Ctx, Shared};
use crate::{HostError, RuntimeBuilder};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::Linker;
use wasmtime::Store;
use wasmtime_wasi::{WasiCtxView, WasiView};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

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
struct ServeCtx {
    ctx: Ctx,
    http: WasiHttpCtx,
    hooks: NoOutbound,
}

impl WasiView for ServeCtx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.ctx.wasi, table: &mut self.ctx.table }
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
    deadline_ticks: u64,
}

impl Drop for EdgeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl EdgeServer {
    /// Loads the edge component (the builder's `.wasm`, else the embedded one) over the
    /// builder's backends, config and limits. Use `.pooling(n)` on the builder to bound and
    /// speed up concurrent instances.
    pub fn new(builder: RuntimeBuilder) -> Result<EdgeServer, HostError> {
        let load = |e: wasmtime::Error| HostError::Load(format!("{e:#}"));
        let deadline_ticks = deadline_ticks_for(builder.current_limits().call_timeout);
        let Base { engine, component, shared, stop } = builder.base(EMBEDDED_EDGE_COMPONENT)?;
        let mut linker: Linker<ServeCtx> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(load)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(load)?;
        add_artifact_imports(&mut linker, |c| &mut c.ctx)?;
        let pre = ProxyPre::new(linker.instantiate_pre(&component).map_err(load)?).map_err(load)?;
        Ok(EdgeServer { pre, shared, stop, deadline_ticks })
    }

    /// Serves HTTP/1.1 on `listener` until `shutdown` resolves, then stops accepting and waits
    /// (at most `drain`) for requests in flight to finish.
    pub async fn serve(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()>,
        drain: std::time::Duration,
    ) -> std::io::Result<()> {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut conns = tokio::task::JoinSet::new();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        loop {
            let (sock, peer) = tokio::select! {
                r = listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        eprintln!("artifact serve: accept failed: {e}");
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let server = self.clone();
            let mut stop_rx = stop_rx.clone();
            conns.spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let server = server.clone();
                    async move { server.handle(req, peer).await }
                });
                let conn = http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(sock), svc);
                let mut conn = std::pin::pin!(conn);
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            eprintln!("artifact serve: connection from {peer}: {e}");
                        }
                        return;
                    }
                    _ = stop_rx.changed() => conn.as_mut().graceful_shutdown(),
                }
                let _ = conn.await;
            });
            // Reap finished connections so the set stays small.
            while conns.try_join_next().is_some() {}
        }
        drop(listener);
        let _ = stop_tx.send(true);
        let _ = tokio::time::timeout(drain, async { while conns.join_next().await.is_some() {} }).await;
        Ok(())
    }

    async fn handle(
        self: Arc<Self>,
        req: hyper::Request<Incoming>,
        peer: SocketAddr,
    ) -> Result<hyper::Response<HyperOutgoingBody>, wasmtime::Error> {
        let started = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let r = self.run(req).await;
        match &r {
            Ok(resp) => {
                let len = resp.headers().get("content-length").and_then(|v| v.to_str().ok()).unwrap_or("-");
                eprintln!(
                    "{peer} \"{method} {path}\" {} {len} {:.1}ms",
                    resp.status().as_u16(),
                    started.elapsed().as_secs_f64() * 1e3
                );
            }
            Err(e) => eprintln!("{peer} \"{method} {path}\" 500 - {:.1}ms error: {e:#}", started.elapsed().as_secs_f64() * 1e3),
        }
        r
    }

    async fn run(&self, req: hyper::Request<Incoming>) -> Result<hyper::Response<HyperOutgoingBody>, wasmtime::Error> {
        let data = ServeCtx { ctx: Ctx::new(self.shared.clone()), http: WasiHttpCtx::new(), hooks: NoOutbound };
        let mut store = Store::new(self.pre.engine(), data);
        store.limiter(|c| &mut c.ctx as &mut dyn wasmtime::ResourceLimiter);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(self.deadline_ticks);
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let req = store.data_mut().http().new_incoming_request(Scheme::Http, req)?;
        let out = store.data_mut().http().new_response_outparam(sender)?;
        let pre = self.pre.clone();
        // The guest keeps running after the head is sent, streaming the body.
        let task = tokio::task::spawn(async move {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy.wasi_http_incoming_handler().call_handle(&mut store, req, out).await
        });
        match receiver.await {
            Ok(Ok(resp)) => {
                // Failures after the head (a trap or deadline while streaming) cut the body; say so.
                tokio::task::spawn(async move {
                    match task.await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => eprintln!("artifact serve: response body aborted: {e:#}"),
                        Err(e) => eprintln!("artifact serve: request task failed: {e}"),
                    }
                });
                Ok(resp)
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
