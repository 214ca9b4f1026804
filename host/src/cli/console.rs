//! `artifact console [--listen 127.0.0.1:8081]`: the web console (see `artifact_host::console`)
//! and the signed reads its download links point at, on one listener, until Ctrl-C or SIGTERM.
//!
//! Loopback only unless `--allow-remote`, which also needs `ARTIFACT_CONSOLE_TOKEN` (every page
//! then asks for it). Writes (upload, delete) need the token in any case. Without
//! `ARTIFACT_SIGNING_KEYS`, download links are signed with a key made for this process.

use super::common::Env;
use super::serve::{duration, shutdown_signal};
use artifact_component::model::Error;
use artifact_host::console::{Console, ConsoleOptions};
use artifact_host::serve::conn::Timeouts;
use artifact_host::serve::{default_max_connections, raise_fd_limit, EdgeServer, ServeOptions};
use artifact_host::HostError;
use std::sync::Arc;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub listen: String,
    /// Allow a non-loopback --listen address. Requires ARTIFACT_CONSOLE_TOKEN; every page then
    /// asks for it. Put TLS in front: the console itself speaks plain HTTP.
    #[arg(long)]
    pub allow_remote: bool,
    /// Largest upload, bytes.
    #[arg(long, default_value_t = 4 << 30)]
    pub max_upload: u64,
}

pub fn run(env: &Env, a: Args) -> Result<(), HostError> {
    let token = std::env::var("ARTIFACT_CONSOLE_TOKEN").ok().filter(|t| !t.is_empty());
    raise_fd_limit();
    let signing = std::env::var("ARTIFACT_SIGNING_KEYS").is_err().then(|| {
        let key = artifact_host::console::auth::random_key().map(|k| artifact_component::encoding::base64url(&k));
        key.map(|k| format!("console:{k}"))
    });
    let builder = || -> Result<_, HostError> {
        let mut b = env.builder()?;
        if let Some(Ok(keys)) = &signing {
            b = b.config("signing_keys", keys.clone()).config("active_kid", "console");
        }
        Ok(b)
    };
    if let Some(Err(e)) = signing {
        return Err(e.into());
    }
    let instances = 16;
    let opts = ServeOptions {
        instances,
        queue: 256,
        queue_timeout: duration("queue timeout", "10s")?,
        max_connections: default_max_connections(instances).max(1),
        timeouts: Timeouts {
            header: duration("header timeout", "10s")?,
            idle: duration("idle timeout", "60s")?,
            write: duration("write timeout", "30s")?,
        },
        retry_after_secs: 1,
        drain: duration("drain", "10s")?,
        reuse: 0,
        native: false,
    };
    let console_rt = builder()?.build()?;
    let edge = EdgeServer::new(builder()?.pooling(instances as u32), opts)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let listener = artifact_host::serve::bind(&a.listen).await?;
        let addr = listener.local_addr()?;
        let remote = !addr.ip().is_loopback();
        if remote && !a.allow_remote {
            return Err(Error::InvalidArgument(format!(
                "{addr} is not a loopback address: the console would show every artifact to the network; pass --allow-remote (with ARTIFACT_CONSOLE_TOKEN set) to allow it"
            ))
            .into());
        }
        if remote && token.is_none() {
            return Err(Error::InvalidArgument("--allow-remote needs ARTIFACT_CONSOLE_TOKEN: every page then asks for it".into()).into());
        }
        let writes = if token.is_some() { "uploads and deletes need the token" } else { "read-only (set ARTIFACT_CONSOLE_TOKEN to allow uploads and deletes)" };
        let console = Console::new(console_rt, ConsoleOptions { token, remote, port: addr.port(), max_upload: a.max_upload })?;
        let server = Arc::new(edge.with_console(Arc::new(console)));
        eprintln!("artifact console: listening on http://{addr}/ ({writes})");
        server.serve(listener, shutdown_signal()).await?;
        eprintln!("artifact console: stopped");
        Ok(())
    })
}
