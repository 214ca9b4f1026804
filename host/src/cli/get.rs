//! `artifact get REF`: prints `{"status":"success","data":…,"meta":{…}}`; in bytes mode writes
//! the raw bytes to `-o FILE` (atomically: a temp file renamed on success) or to stdout.

use super::common::{success_with_data, Env};
use super::progress;
use artifact_component::codec::parse_range;
use artifact_component::model::{ByteRange, GetOptions, Mode};
use artifact_host::HostError;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Artifact id, noetl:// URI, bucket/name or ResultRef JSON.
    pub r#ref: String,
    /// json | text | bytes.
    #[arg(long, default_value = "json", value_parser = parse_mode)]
    pub mode: Mode,
    /// Inclusive byte range: START-END, START- or -N (last N bytes).
    #[arg(long, value_parser = parse_range_arg, allow_hyphen_values = true)]
    pub range: Option<ByteRange>,
    /// Refuse to fetch or decompress more than this many bytes.
    #[arg(long)]
    pub max_bytes: Option<u64>,
    /// Return a manifest document itself instead of resolving its parts.
    #[arg(long)]
    pub no_resolve: bool,
    /// Write the body here (bytes mode; other modes write the JSON envelope).
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    Mode::parse(s).map_err(|e| e.to_string())
}
fn parse_range_arg(s: &str) -> Result<ByteRange, String> {
    parse_range(s).map_err(|e| e.to_string())
}

pub fn run(env: &Env, a: Args) -> Result<(), HostError> {
    let opts = GetOptions {
        mode: Some(a.mode),
        max_bytes: a.max_bytes,
        range: a.range,
        resolve_manifest: a.no_resolve.then_some(false),
        manifest_limits: None,
    };
    let rt = env.runtime()?;
    if a.mode == Mode::Bytes {
        return match &a.output {
            Some(path) => {
                // The size first (a head, no body read) for the progress bar of large bodies, only
                // when a bar can be drawn: scripts and pipes pay for no extra call.
                let total = if progress::enabled(env.quiet) && a.range.is_none() { rt.head(&a.r#ref).ok().map(|r| r.bytes) } else { None };
                let bar = total.and_then(|n| progress::for_body(n, env.quiet));
                let r = artifact_host::atomic::write_atomically(path, |out| {
                    let mut out = progress::Writing { inner: out, bar: bar.as_ref() };
                    rt.get_stream(&a.r#ref, &opts, &mut out).map(|_| ())
                });
                if let Some(b) = &bar {
                    b.finish_and_clear();
                }
                r
            }
            None => {
                let stdout = std::io::stdout();
                let mut out = std::io::BufWriter::new(stdout.lock());
                rt.get_stream(&a.r#ref, &opts, &mut out)?;
                out.flush()?;
                Ok(())
            }
        };
    }
    let g = rt.get(&a.r#ref, &opts)?;
    let envelope = success_with_data(g.data, &g.meta);
    match &a.output {
        Some(path) => artifact_host::atomic::write_atomically(path, |out| Ok(writeln!(out, "{envelope}")?)),
        None => {
            println!("{envelope}");
            Ok(())
        }
    }
}
