//! `artifact gc`: removes expired artifacts, blobs no record points to, objects of puts killed
//! before their record was written, and staged writes older than `--grace`; prints what it
//! removed: `{"status":"success","records":[ids…],"blobs":[uris…],"staging":N}`.

use super::common::{print_json, Env};
use artifact_host::{GcOptions, HostError};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Staged writes idle for longer than this are removed (`30s`, `15m`, `1h`, …; default 1h).
    /// Use a short grace only when no put is running.
    #[arg(long)]
    grace: Option<String>,
}

pub fn run(env: &Env, a: Args) -> Result<(), HostError> {
    let mut opts = GcOptions::default();
    if let Some(g) = &a.grace {
        let ms = artifact_component::time::parse_ttl(g)
            .map_err(HostError::Artifact)?
            .ok_or_else(|| HostError::Artifact(artifact_component::model::Error::InvalidArgument(
                "--grace needs a duration, not `forever`".into(),
            )))?;
        opts = opts.staging_grace_ms(ms);
    }
    let r = env.runtime()?.gc_with(&opts)?;
    print_json(&serde_json::json!({ "status": "success", "records": r.records, "blobs": r.blobs, "staging": r.staging }));
    Ok(())
}
