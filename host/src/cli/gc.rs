//! `artifact gc`: removes expired artifacts and blobs no record points to, and prints what it
//! removed: `{"status":"success","records":[ids…],"blobs":[uris…]}`.

use super::common::{print_json, Env};
use artifact_host::HostError;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(env: &Env, _a: Args) -> Result<(), HostError> {
    let r = env.runtime()?.gc()?;
    print_json(&serde_json::json!({ "status": "success", "records": r.records, "blobs": r.blobs }));
    Ok(())
}
