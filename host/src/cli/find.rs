//! `artifact find BUCKET NAME`: exactly one artifact by bucket and name, or `not-found`.

use super::common::{print_json, Env};
use artifact_component::result_ref::meta_json;
use artifact_host::HostError;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Bucket, e.g. `vendor_prices`.
    pub bucket: String,
    /// Name within the bucket (may contain `/`).
    pub name: String,
}

pub fn run(env: &Env, a: Args) -> Result<(), HostError> {
    let rec = env.runtime()?.find(&a.bucket, &a.name)?;
    print_json(&serde_json::json!({ "status": "success", "meta": meta_json(&rec) }));
    Ok(())
}
