//! `artifact put FILE|-`: streams a file into a new artifact and prints its ResultRef.

use super::common::{guess_content_type, open_input, print_json, Env};
use artifact_component::model::{Compression, IfExists, Kind, PutOptions, Scope};
use artifact_host::HostError;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// File to store, or `-` for stdin.
    pub file: PathBuf,
    #[command(flatten)]
    pub opts: PutArgs,
}

/// Options shared by every command that stores artifacts.
#[derive(clap::Args, Debug, Clone)]
pub struct PutArgs {
    /// Bucket (default `default`).
    #[arg(long)]
    pub bucket: Option<String>,
    /// Name within the bucket (default: the new artifact's id).
    #[arg(long)]
    pub name: Option<String>,
    /// MIME type; `auto` guesses from the file extension (default application/json).
    #[arg(long)]
    pub content_type: Option<String>,
    /// none | gzip | deflate.
    #[arg(long, value_parser = parse_compression)]
    pub compression: Option<Compression>,
    /// The input is already compressed with --compression: store it as-is.
    #[arg(long)]
    pub precompressed: bool,
    /// Producer label recorded as created_by.
    #[arg(long)]
    pub created_by: Option<String>,
    /// When bucket/name exists: get (return it, default) | overwrite | fail.
    #[arg(long, value_parser = parse_if_exists)]
    pub if_exists: Option<IfExists>,
    /// Driver name or URI template, e.g. `fs://results/{{ execution_id }}/{{ step }}/{{ name }}.json.gz`.
    #[arg(long)]
    pub store: Option<String>,
    /// Workflow execution id.
    #[arg(long)]
    pub execution_id: Option<String>,
    /// Workflow step.
    #[arg(long)]
    pub step: Option<String>,
    /// step | execution | workflow | permanent.
    #[arg(long, value_parser = parse_scope)]
    pub scope: Option<Scope>,
    /// Time to live: 30s, 15m, 2h, 1d, forever.
    #[arg(long)]
    pub ttl: Option<String>,
    /// Store as a temp_ref instead of a result_ref.
    #[arg(long)]
    pub temp: bool,
    /// Refuse bodies larger than this many bytes.
    #[arg(long)]
    pub max_bytes: Option<u64>,
}

pub(super) fn parse_compression(s: &str) -> Result<Compression, String> {
    Compression::parse(s).map_err(|e| e.to_string())
}
fn parse_if_exists(s: &str) -> Result<IfExists, String> {
    IfExists::parse(s).map_err(|e| e.to_string())
}
fn parse_scope(s: &str) -> Result<Scope, String> {
    Scope::parse(s).map_err(|e| e.to_string())
}

impl PutArgs {
    /// Engine options; `file_name` feeds `--content-type auto`.
    pub fn options(&self, file_name: Option<&str>) -> PutOptions {
        let content_type = match self.content_type.as_deref() {
            Some("auto") => Some(guess_content_type(file_name.unwrap_or("")).to_string()),
            other => other.map(str::to_string),
        };
        PutOptions {
            content_type,
            compression: self.compression,
            bucket: self.bucket.clone(),
            name: self.name.clone(),
            if_exists: self.if_exists,
            created_by: self.created_by.clone(),
            store: self.store.clone(),
            execution_id: self.execution_id.clone(),
            step: self.step.clone(),
            scope: self.scope,
            ttl: self.ttl.clone(),
            kind: self.temp.then_some(Kind::TempRef),
            max_bytes: self.max_bytes,
            precompressed: self.precompressed.then_some(true),
        }
    }
}

pub fn run(env: &Env, a: Args) -> Result<(), HostError> {
    let is_stdin = a.file.as_os_str() == "-";
    // Open the input before touching the store, so an unreadable file changes nothing.
    let mut input: Box<dyn std::io::Read> = if is_stdin {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(open_input(&a.file)?)
    };
    let name = a.file.file_name().and_then(|n| n.to_str());
    let opts = a.opts.options(name);
    let rt = env.runtime()?;
    let p = rt.put_stream(&mut input, &opts)?;
    let mut v: serde_json::Value = serde_json::from_str(&p.result_ref).map_err(|e| HostError::Trap(e.to_string()))?;
    v["created"] = serde_json::Value::Bool(p.created);
    print_json(&v);
    Ok(())
}
