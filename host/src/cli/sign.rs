//! `artifact sign REF [--ttl 15m] [--range a-b] [--base-url URL]`: prints a signed URL for
//! reading the artifact through `artifact serve` (or any host running the edge component with
//! the same keys). Keys: `ARTIFACT_SIGNING_KEYS` = `kid:base64key,...`, `ARTIFACT_ACTIVE_KID`.

use super::common::Env;
use artifact_component::codec::parse_range;
use artifact_component::model::Error;
use artifact_component::sign::SignOptions;
use artifact_host::HostError;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Artifact id, noetl:// URI, bucket/name or ResultRef JSON.
    pub r#ref: String,
    /// How long the URL is valid: `30s`, `15m`, `2h`, `1d` (at most 7 days).
    #[arg(long, default_value = "15m")]
    pub ttl: String,
    /// Restrict the URL to a byte range: `START-END`, `START-` or `-N`.
    #[arg(long)]
    pub range: Option<String>,
    /// Scheme and authority the path is appended to.
    #[arg(long, env = "ARTIFACT_BASE_URL", default_value = "http://127.0.0.1:8080")]
    pub base_url: String,
    /// `GET` (also allows `HEAD`) or `HEAD`.
    #[arg(long)]
    pub method: Option<String>,
    /// Key id to sign with (default: the active one).
    #[arg(long)]
    pub kid: Option<String>,
}

pub fn run(env: &Env, a: Args) -> Result<(), HostError> {
    let ttl_ms = artifact_component::time::parse_ttl(&a.ttl)?
        .ok_or_else(|| Error::InvalidArgument("a signed URL cannot live forever; the longest ttl is 7d".into()))?;
    if ttl_ms < 1000 {
        return Err(Error::InvalidArgument(format!("ttl {} is shorter than one second", a.ttl)).into());
    }
    let range = a.range.as_deref().map(parse_range).transpose()?;
    let opts = SignOptions { method: a.method, range, kid: a.kid };
    let path = env.runtime()?.sign(&a.r#ref, ttl_ms / 1000, &opts)?;
    println!("{}{path}", a.base_url.trim_end_matches('/'));
    Ok(())
}
