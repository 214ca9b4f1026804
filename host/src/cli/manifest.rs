//! `artifact manifest …`: build manifests (create / add / complete), print the document (show)
//! and stream its resolved parts (parts). Every command prints JSON naming the manifest's ref.

use super::common::{body_json, object_of, print_json, success_with_data, Env};
use super::put::PutArgs;
use artifact_component::manifest::{ManifestOptions, Strategy};
use artifact_component::model::{Body, Error, GetOptions, Kind, ManifestLimits, Mode, PutResult};
use artifact_component::result_ref::meta_json;
use artifact_host::HostError;
use serde_json::Value;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(clap::Subcommand, Debug)]
pub enum Sub {
    /// Create a manifest: open (no REFs) or completed in one shot from REFs, in order.
    Create(Box<CreateArgs>),
    /// Add a part to an open manifest (after the last part, or at --index).
    Add(AddArgs),
    /// Complete an open manifest; it is immutable afterwards.
    Complete(RefArg),
    /// Print the manifest document itself (like `get --no-resolve`).
    Show(RefArg),
    /// Stream the resolved parts, one JSON line each, through the component's part reader.
    Parts(PartsArgs),
}

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// append | concat | merge | replace.
    #[arg(long, value_parser = parse_strategy)]
    pub strategy: Strategy,
    /// Dotted path (`$.` prefix allowed) whose arrays `concat` splices, e.g. `items`.
    #[arg(long)]
    pub merge_path: Option<String>,
    /// JSON object copied into the manifest as `correlation`.
    #[arg(long)]
    pub correlation: Option<String>,
    #[command(flatten)]
    pub put: PutArgs,
    /// Parts (any ref form); with none the manifest stays open.
    pub refs: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct AddArgs {
    /// The open manifest.
    pub manifest: String,
    /// The part to add (any ref form).
    pub r#ref: String,
    /// Position of the part; a taken index is a conflict. Default: after the last part.
    #[arg(long)]
    pub index: Option<u32>,
}

#[derive(clap::Args, Debug)]
pub struct RefArg {
    /// The manifest (any ref form).
    pub manifest: String,
}

#[derive(clap::Args, Debug)]
pub struct PartsArgs {
    /// The manifest (any ref form).
    pub manifest: String,
    /// json | text | bytes (bytes are printed as base64 strings).
    #[arg(long, default_value = "json", value_parser = parse_mode)]
    pub mode: Mode,
    /// Cap on each part's bytes (default 256 MiB).
    #[arg(long)]
    pub max_bytes: Option<u64>,
    /// Nesting depth limit (default 4).
    #[arg(long)]
    pub max_depth: Option<u32>,
    /// Part count limit across nested manifests (default 100000).
    #[arg(long)]
    pub max_parts: Option<u32>,
}

fn parse_strategy(s: &str) -> Result<Strategy, String> {
    Strategy::parse(s).map_err(|e| e.to_string())
}
fn parse_mode(s: &str) -> Result<Mode, String> {
    Mode::parse(s).map_err(|e| e.to_string())
}

pub fn run(env: &Env, a: Args) -> Result<(), HostError> {
    match a.command {
        Sub::Create(a) => create(env, *a),
        Sub::Add(a) => print_put(env.runtime()?.manifest_add(&a.manifest, &a.r#ref, a.index)?),
        Sub::Complete(a) => print_put(env.runtime()?.manifest_complete(&a.manifest)?),
        Sub::Show(a) => show(env, a),
        Sub::Parts(a) => parts(env, a),
    }
}

fn create(env: &Env, a: CreateArgs) -> Result<(), HostError> {
    if let Some(c) = &a.correlation {
        let v: Value = serde_json::from_str(c)
            .map_err(|e| Error::InvalidArgument(format!("--correlation is not JSON: {e}")))?;
        if !v.is_object() {
            return Err(Error::InvalidArgument("--correlation must be a JSON object".into()).into());
        }
    }
    let opts = ManifestOptions {
        strategy: a.strategy,
        merge_path: a.merge_path,
        put: a.put.options(|| None),
        correlation: a.correlation,
        metadata: None,
    };
    print_put(env.runtime()?.manifest_create(&opts, &a.refs)?)
}

/// The manifest's ResultRef plus `created`, as `put` prints it.
fn print_put(p: PutResult) -> Result<(), HostError> {
    let mut v: Value = serde_json::from_str(&p.result_ref)
        .map_err(|e| HostError::Trap(format!("component returned a bad ResultRef: {e}")))?;
    v["created"] = Value::Bool(p.created);
    print_json(&v);
    Ok(())
}

fn show(env: &Env, a: RefArg) -> Result<(), HostError> {
    let opts = GetOptions { mode: Some(Mode::Json), resolve_manifest: Some(false), ..Default::default() };
    let g = env.runtime()?.get(&a.manifest, &opts)?;
    if g.meta.kind != Kind::Manifest {
        return Err(Error::InvalidArgument(format!("{} is a {}, not a manifest", a.manifest, g.meta.kind.as_str())).into());
    }
    if !matches!(g.data, Body::Json(_)) {
        return Err(HostError::Trap("component returned a non-JSON manifest document".into()));
    }
    println!("{}", success_with_data(g.data, &g.meta));
    Ok(())
}

fn parts(env: &Env, a: PartsArgs) -> Result<(), HostError> {
    let limits = (a.max_depth.is_some() || a.max_parts.is_some())
        .then_some(ManifestLimits { max_depth: a.max_depth, max_parts: a.max_parts });
    let opts = GetOptions { mode: Some(a.mode), max_bytes: a.max_bytes, manifest_limits: limits, ..Default::default() };
    let rt = env.runtime()?;
    let mut parts = rt.open_parts(&a.manifest, &opts)?;
    let manifest = parts.meta().logical_ref.clone();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for p in &mut parts {
        let p = p?;
        let line = object_of(&[
            ("manifest", &Value::String(manifest.clone()).to_string()),
            ("index", &p.index.to_string()),
            ("data", &body_json(p.data)),
            ("meta", &meta_json(&p.meta).to_string()),
        ]);
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(())
}

