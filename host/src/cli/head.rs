//! `artifact head REF`: metadata only; the body is never read.

use super::common::{print_json, Env};
use artifact_component::result_ref::meta_json;
use artifact_host::HostError;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Artifact id, noetl:// URI, bucket/name or ResultRef JSON.
    pub r#ref: String,
}

pub fn run(env: &Env, a: Args) -> Result<(), HostError> {
    let rec = env.runtime()?.head(&a.r#ref)?;
    print_json(&serde_json::json!({ "status": "success", "meta": meta_json(&rec) }));
    Ok(())
}
