//! `artifact cat REF`: streams the artifact's raw (logical, decompressed) bytes to stdout in
//! 1 MiB chunks, verifying size and SHA-256 at the end. Manifests are written as their JSON
//! document, not resolved (use `get` for that).

use super::common::{quiet_broken_pipe, Env};
use artifact_component::model::{GetOptions, Mode};
use artifact_host::HostError;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// bucket/name, artifact id, noetl:// URI or ResultRef JSON.
    pub r#ref: String,
}

pub fn run(env: &Env, a: Args) -> Result<(), HostError> {
    let rt = env.runtime()?;
    let opts = GetOptions { mode: Some(Mode::Bytes), ..Default::default() };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    quiet_broken_pipe(rt.get_stream(&a.r#ref, &opts, &mut out).and_then(|_| Ok(out.flush()?)))
}
