//! `artifact put FILE|-`: streams a file into a new artifact and prints its ResultRef.

use super::common::{open_input, print_json, Env};
use super::{content_type, progress};
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
    /// MIME type, or `auto`: from the file extension, else JSON when the body parses as JSON,
    /// else application/octet-stream.
    #[arg(long, default_value = "auto")]
    pub content_type: String,
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
    /// Engine options; `auto` gives the content type for `--content-type auto` (see
    /// [`content_type`]; `None` leaves it to the component).
    pub fn options(&self, auto: impl FnOnce() -> Option<String>) -> PutOptions {
        let content_type = match self.content_type.as_str() {
            "auto" => auto(),
            t => Some(t.to_string()),
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
    let input: Box<dyn std::io::Read> = if is_stdin {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(open_input(&a.file)?)
    };
    let name = if is_stdin { None } else { a.file.file_name().and_then(|n| n.to_str()) };
    // A precompressed file is typed by what it holds: `report.csv.gz` is text/csv.
    let name = name.map(|n| if a.opts.precompressed { content_type::logical_name(n) } else { n });
    let (auto_type, input) = content_type::resolve(&a.opts.content_type, name, input)?;
    let opts = a.opts.options(|| Some(auto_type));
    let rt = env.runtime()?;
    let size = if is_stdin { None } else { std::fs::metadata(&a.file).ok().map(|m| m.len()) };
    let bar = size.and_then(|n| progress::for_body(n, env.quiet));
    let mut input = progress::Reading { inner: input, bar: bar.as_ref() };
    let p = rt.put_stream(&mut input, &opts);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let p = p?;
    let mut v: serde_json::Value = serde_json::from_str(&p.result_ref).map_err(|e| HostError::Trap(e.to_string()))?;
    v["created"] = serde_json::Value::Bool(p.created);
    print_json(&v);
    Ok(())
}
