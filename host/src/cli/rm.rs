//! `artifact rm REF`: deletes the record, then its blob when no other record points to it
//! (content-addressed blobs are shared by every artifact with the same bytes).

use super::common::{print_json, Env};
use artifact_host::HostError;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// bucket/name, artifact id, noetl:// URI or ResultRef JSON.
    pub r#ref: String,
}

pub fn run(env: &Env, a: Args) -> Result<(), HostError> {
    let id = env.runtime()?.delete(&a.r#ref)?;
    print_json(&serde_json::json!({ "status": "success", "deleted": id }));
    Ok(())
}
