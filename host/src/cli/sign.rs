//! `artifact sign REF [--ttl 15m] [--range a-b] [--carry] [--base-url URL]`: prints a signed URL for
//! reading the artifact through `artifact serve` (or any host running the edge component with
//! the same keys). Keys: `ARTIFACT_SIGNING_KEYS` = `kid:base64key,...`, `ARTIFACT_ACTIVE_KID`.
//!
//! `artifact sign --method PUT BUCKET/NAME [--max-bytes N] [--content-type T|auto]
//! [--compression C]`: prints a signed upload URL instead (`curl -T FILE URL` stores the file as
//! BUCKET/NAME, get-or-create, within those bounds).

use super::common::Env;
use artifact_component::codec::parse_range;
use artifact_component::model::{Compression, Error};
use artifact_component::sign::upload::UploadOptions;
use artifact_component::sign::SignOptions;
use artifact_host::HostError;

/// An upload URL's size bound when `--max-bytes` is not given.
const DEFAULT_UPLOAD_MAX: u64 = 100 << 20;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Artifact id, noetl:// URI, bucket/name or ResultRef JSON; with `--method PUT`, the
    /// BUCKET/NAME the upload will be stored as.
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
    /// `GET` (also allows `HEAD`), `HEAD`, or `PUT` (an upload URL).
    #[arg(long)]
    pub method: Option<String>,
    /// Key id to sign with (default: the active one).
    #[arg(long)]
    pub kid: Option<String>,
    /// PUT: the largest body the upload accepts, bytes [default: 104857600].
    #[arg(long)]
    pub max_bytes: Option<u64>,
    /// PUT: the stored content type, or `auto` (from the name's extension).
    #[arg(long, default_value = "auto")]
    pub content_type: String,
    /// PUT: how the store compresses the body: none | gzip | deflate.
    #[arg(long)]
    pub compression: Option<String>,
    /// REF is the id of an artifact in another store (an edge app's, e.g. on Spin): sign it
    /// without looking it up here. Only the keys are needed.
    #[arg(long, conflicts_with = "carry")]
    pub no_lookup: bool,
    /// The URL carries the record its read needs (location, size, SHA-256, content type,
    /// version, expiry, all signed), so the server reads storage only, never the metadata
    /// store. Deleting or replacing the artifact still stops it (README, "Signed URLs").
    #[arg(long)]
    pub carry: bool,
}

pub fn run(env: &Env, a: Args) -> Result<(), HostError> {
    let ttl_ms = artifact_component::time::parse_ttl(&a.ttl)?
        .ok_or_else(|| Error::InvalidArgument("a signed URL cannot live forever; the longest ttl is 7d".into()))?;
    if ttl_ms < 1000 {
        return Err(Error::InvalidArgument(format!("ttl {} is shorter than one second", a.ttl)).into());
    }
    let put = a.method.as_deref().is_some_and(|m| m.eq_ignore_ascii_case("PUT"));
    let path = if put {
        if a.range.is_some() || a.carry {
            return Err(Error::InvalidArgument("--range and --carry apply to reads, not to an upload URL".into()).into());
        }
        let (bucket, name) = a
            .r#ref
            .split_once('/')
            .ok_or_else(|| Error::InvalidArgument(format!("an upload URL needs BUCKET/NAME, got {:?}", a.r#ref)))?;
        let content_type = match a.content_type.as_str() {
            "auto" => super::content_type::by_name(name).unwrap_or("application/octet-stream").to_string(),
            t => t.to_string(),
        };
        let opts = UploadOptions {
            content_type: Some(content_type),
            max_bytes: a.max_bytes.unwrap_or(DEFAULT_UPLOAD_MAX),
            compression: a.compression.as_deref().map(Compression::parse).transpose()?,
            kid: a.kid,
        };
        env.runtime()?.sign_upload(bucket, name, ttl_ms / 1000, &opts)?
    } else {
        if a.max_bytes.is_some() || a.compression.is_some() || a.content_type != "auto" {
            return Err(Error::InvalidArgument("--max-bytes, --content-type and --compression apply to upload URLs (--method PUT)".into()).into());
        }
        let range = a.range.as_deref().map(parse_range).transpose()?;
        let opts = SignOptions { method: a.method, range, kid: a.kid };
        if a.no_lookup {
            let keys = artifact_component::sign::Keys::parse(
                &std::env::var("ARTIFACT_SIGNING_KEYS").map_err(|_| Error::InvalidArgument("--no-lookup needs ARTIFACT_SIGNING_KEYS".into()))?,
                std::env::var("ARTIFACT_ACTIVE_KID").ok().as_deref().filter(|k| !k.is_empty()),
            )?;
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            artifact_component::sign::sign_path(&keys, &a.r#ref, now, ttl_ms / 1000, &opts)?
        } else if a.carry {
            env.runtime()?.sign_carried(&a.r#ref, ttl_ms / 1000, &opts)?
        } else {
            env.runtime()?.sign(&a.r#ref, ttl_ms / 1000, &opts)?
        }
    };
    println!("{}{path}", a.base_url.trim_end_matches('/'));
    Ok(())
}
