//! `artifact serve [--listen 127.0.0.1:8080]`: serves signed reads
//! (`GET`/`HEAD /v1/artifacts/<id>?exp=…&kid=…&sig=…`) and signed uploads
//! (`PUT /v1/uploads?grant=…&sig=…`) with the edge component on the same
//! backends as the other commands, until Ctrl-C or SIGTERM (requests in flight may finish).
//! Prints `listening on http://ADDR` on stderr, then one access log line per request. Load
//! handling (queue, connection limit, timeouts) is described in `artifact_host::serve`.

use super::common::Env;
use artifact_component::model::Error;
use artifact_host::serve::conn::Timeouts;
use artifact_host::serve::{default_max_connections, raise_fd_limit, EdgeServer, ServeOptions};
use artifact_host::{HostError, Limits};
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Requests that may run at once, each in its own component instance (slots of the pooling
    /// allocator). A request holds its instance until its body is sent.
    #[arg(long, default_value_t = 64)]
    pub max_instances: u32,
    /// Requests that may wait for a free instance; past it they get 503 with Retry-After.
    #[arg(long, default_value_t = 1024)]
    pub queue: usize,
    /// How long a request may wait for a free instance before 503.
    #[arg(long, default_value = "10s")]
    pub queue_timeout: String,
    /// Open connections; when full, the connection idle the longest is closed for a new one.
    /// Default: what the open-file limit allows (raised to its hard limit), at most 10,000.
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// The component's budget for one request: until the response head, then between two
    /// writes of the body (a long download to a live client is not cut).
    #[arg(long, default_value = "60s")]
    pub request_timeout: String,
    /// Time a client has to send a request head (from connecting, or from its first byte).
    #[arg(long, default_value = "10s")]
    pub header_timeout: String,
    /// Time a keep-alive connection may wait for its next request.
    #[arg(long, default_value = "60s")]
    pub idle_timeout: String,
    /// Time one write may wait for the client to read, and an upload's body for the client to
    /// send; a client that stalls this long is cut (a cut upload stores nothing).
    #[arg(long, default_value = "30s")]
    pub write_timeout: String,
    /// How long to wait for requests in flight at shutdown.
    #[arg(long, default_value = "30s")]
    pub drain: String,
    /// Let one component instance serve up to N requests, one after another, instead of a fresh
    /// instance per request (0, the default). Faster (no instantiation per request; measured in
    /// benches/README.md); the guest's memory then carries over between requests of one
    /// instance (each request still gets its own resources, deadline and limits). An instance
    /// is dropped after a failure, a trap or a large memory growth. The access log then ends
    /// each line with `reused=K` (requests the instance served before; 0: new).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub reuse: u32,
    /// Serve another `wasi:http` component (a `.wasm` file) with the same server instead of the
    /// embedded edge component: `benches/`'s null handler measures the server's own floor this
    /// way. It may import what the edge component may (WASI, `wasi:http`, the store's imports).
    #[arg(long, value_name = "WASM", conflicts_with = "native")]
    pub component: Option<std::path::PathBuf>,
    /// For benchmarks only: answer with the same handler compiled into this binary, outside any
    /// sandbox, instead of the component (benches/README.md compares the two). Reads only: a
    /// request with a body gets 501. Bodies are built whole before they are sent (at most 8 MiB).
    #[arg(long)]
    pub native: bool,
}

pub(crate) fn duration(what: &str, s: &str) -> Result<Duration, HostError> {
    let ms = artifact_component::time::parse_ttl(s)?
        .ok_or_else(|| Error::InvalidArgument(format!("{what} cannot be forever")))?;
    Ok(Duration::from_millis(ms))
}

pub fn run(env: &Env, a: Args) -> Result<(), HostError> {
    if a.native && a.reuse > 0 {
        return Err(Error::InvalidArgument("--native has no instances to reuse: drop --reuse".into()).into());
    }
    raise_fd_limit();
    let instances = a.max_instances.max(1);
    let opts = ServeOptions {
        instances: instances as usize,
        queue: a.queue,
        queue_timeout: duration("--queue-timeout", &a.queue_timeout)?,
        max_connections: a.max_connections.unwrap_or_else(|| default_max_connections(instances as usize)).max(1),
        timeouts: Timeouts {
            header: duration("--header-timeout", &a.header_timeout)?,
            idle: duration("--idle-timeout", &a.idle_timeout)?,
            write: duration("--write-timeout", &a.write_timeout)?,
        },
        retry_after_secs: 1,
        drain: duration("--drain", &a.drain)?,
        reuse: a.reuse,
        native: a.native,
    };
    let timeout = duration("--request-timeout", &a.request_timeout)?;
    let mut builder = env.builder()?.pooling(instances).limits(Limits::default().call_timeout(timeout));
    if let Some(path) = &a.component {
        let wasm = std::fs::read(path)
            .map_err(|e| Error::InvalidArgument(format!("--component {}: {e}", path.display())))?;
        builder = builder.wasm(wasm);
    }
    let server = Arc::new(EdgeServer::new(builder, opts)?);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let listener = artifact_host::serve::bind(&a.listen).await?;
        eprintln!("artifact serve: listening on http://{}", listener.local_addr()?);
        server.serve(listener, shutdown_signal()).await?;
        eprintln!("artifact serve: stopped");
        Ok(())
    })
}

pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
