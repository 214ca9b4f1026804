//! `artifact summary BUCKET`: how many artifacts a bucket holds and their total logical bytes.

use super::common::{print_json, Env};
use artifact_host::HostError;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Bucket, e.g. `vendor_prices`.
    pub bucket: String,
}

pub fn run(env: &Env, a: Args) -> Result<(), HostError> {
    let s = env.runtime()?.summary(&a.bucket)?;
    print_json(&serde_json::json!({
        "status": "success", "bucket": a.bucket, "count": s.count, "total_bytes": s.total_bytes,
    }));
    Ok(())
}
