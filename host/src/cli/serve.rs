//! `artifact serve [--listen 127.0.0.1:8080]`: serves signed reads
//! (`GET`/`HEAD /v1/artifacts/<id>?exp=…&kid=…&sig=…`) with the edge component on the same
//! backends as the other commands, until Ctrl-C or SIGTERM (requests in flight may finish).
//! Prints `listening on http://ADDR` on stderr, then one access log line per request.

use super::common::Env;
use artifact_component::model::Error;
use artifact_host::serve::EdgeServer;
use artifact_host::{HostError, Limits};
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Instances that may run at once (slots of the pooling allocator).
    #[arg(long, default_value_t = 64)]
    pub max_instances: u32,
    /// Budget of one request, body streaming included: `30s`, `10m`, ...
    #[arg(long, default_value = "60s")]
    pub request_timeout: String,
    /// How long to wait for requests in flight at shutdown.
    #[arg(long, default_value = "30s")]
    pub drain: String,
}

fn duration(what: &str, s: &str) -> Result<Duration, HostError> {
    let ms = artifact_component::time::parse_ttl(s)?
        .ok_or_else(|| Error::InvalidArgument(format!("{what} cannot be forever")))?;
    Ok(Duration::from_millis(ms))
}

pub fn run(env: &Env, a: Args) -> Result<(), HostError> {
    let timeout = duration("--request-timeout", &a.request_timeout)?;
    let drain = duration("--drain", &a.drain)?;
    let builder = env
        .builder()?
        .pooling(a.max_instances.max(1))
        .limits(Limits::default().call_timeout(timeout));
    let server = Arc::new(EdgeServer::new(builder)?);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&a.listen).await?;
        eprintln!("artifact serve: listening on http://{}", listener.local_addr()?);
        server.serve(listener, shutdown_signal(), drain).await?;
        eprintln!("artifact serve: stopped");
        Ok(())
    })
}

async fn shutdown_signal() {
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
