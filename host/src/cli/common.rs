//! Shared CLI plumbing: opening the runtime on the configured backends, printing JSON.

use artifact_host::runtime::HostError;
use artifact_host::{metadata, storage, Runtime, RuntimeBuilder};
use std::path::PathBuf;

/// Where the store lives, resolved from the global options.
pub struct Env {
    pub storage: Vec<String>,
    pub metadata: String,
    pub cache_dir: PathBuf,
    /// The home, when storage is its default `objects/` (migrated from older layouts at open).
    home: Option<PathBuf>,
    /// `--quiet`: no progress bars, no error sentence on stderr.
    pub quiet: bool,
    /// `--home`, whatever the backends (plugins keep their stores under it).
    home_dir: PathBuf,
}

impl Env {
    pub fn new(cli: &super::Cli) -> Self {
        let home = cli.home.clone();
        let abs = std::path::absolute(&home).unwrap_or_else(|_| home.clone());
        let default_storage = cli.storage.is_empty();
        let storage = if default_storage {
            vec![format!("fs://{}", abs.join(artifact_host::home::OBJECTS).display())]
        } else {
            cli.storage.clone()
        };
        let metadata =
            cli.metadata.clone().unwrap_or_else(|| format!("sqlite://{}", abs.join("metadata.db").display()));
        let cache_dir = cli.cache_dir.clone().unwrap_or_else(|| home.join("cache"));
        Env { storage, metadata, cache_dir, home: default_storage.then_some(abs.clone()), quiet: cli.quiet, home_dir: abs }
    }

    /// The home directory (`--home`, absolute).
    pub fn home_dir(&self) -> &std::path::Path {
        &self.home_dir
    }

    /// Opens the backends and loads the component (compiled code cached under the home).
    pub fn runtime(&self) -> Result<Runtime, HostError> {
        self.builder()?.build()
    }

    /// The runtime builder on the configured backends, before the component is loaded (shared
    /// by the CLI runtime and `artifact serve`). `wasi:config` values come from the environment
    /// ([`RuntimeBuilder::config_from_env`]).
    pub fn builder(&self) -> Result<RuntimeBuilder, HostError> {
        if let Some(home) = &self.home {
            artifact_host::home::objects_root(home)?;
        }
        let mut b = Runtime::builder().cache_dir(&self.cache_dir);
        for s in &self.storage {
            if let Some(root) = s.strip_prefix("fs://") {
                let db = self.metadata.strip_prefix("sqlite://").map(std::path::Path::new);
                let mut own = vec![("code cache", self.cache_dir.as_path())];
                own.extend(db.map(|p| ("metadata database", p)));
                artifact_host::home::check_separate(std::path::Path::new(root), &own)?;
            }
            b = b.storage(storage::open(s)?);
        }
        Ok(b.metadata(metadata::open(&self.metadata)?).config_from_env())
    }
}

/// Prints a JSON value on stdout, one line.
pub fn print_json(v: &serde_json::Value) {
    println!("{v}");
}

/// A body as JSON text for output: mode `json` exactly as stored (never re-parsed, so number
/// spellings, key order, duplicate keys and any nesting depth survive), text as a JSON string,
/// bytes as a base64 string.
pub fn body_json(b: artifact_component::model::Body) -> String {
    use artifact_component::model::Body;
    match b {
        Body::Json(s) => s,
        Body::Text(s) => serde_json::Value::String(s).to_string(),
        Body::Bytes(b) => serde_json::Value::String(artifact_component::encoding::base64(&b)).to_string(),
    }
}

/// One JSON object from members whose values are already JSON text, in the given order.
pub fn object_of(members: &[(&str, &str)]) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::Value::String(k.to_string()).to_string());
        out.push(':');
        out.push_str(v);
    }
    out.push('}');
    out
}

/// `{"status":"success","data":…,"meta":{…}}` with the body inserted verbatim (see [`body_json`]).
pub fn success_with_data(data: artifact_component::model::Body, meta: &artifact_component::model::Record) -> String {
    let meta = artifact_component::result_ref::meta_json(meta).to_string();
    object_of(&[("status", "\"success\""), ("data", &body_json(data)), ("meta", &meta)])
}

/// Prints the error as JSON on stdout and as a sentence on stderr.
pub fn print_error(e: &HostError, quiet: bool) {
    let v = serde_json::json!({
        "status": "error",
        "error": { "kind": e.kind(), "message": e.to_string() },
    });
    println!("{v}");
    if !quiet {
        eprintln!("artifact: {} error: {e}", e.kind());
    }
}

/// Opens a local file for reading, with a message that names it. Directories and dangling
/// symlinks are refused here rather than failing on the first read with a bare OS error.
pub fn open_input(path: &std::path::Path) -> Result<std::fs::File, HostError> {
    let fail = |kind: std::io::ErrorKind, why: String| {
        HostError::Io(std::io::Error::new(kind, format!("cannot read {}: {why}", path.display())))
    };
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => return Err(fail(std::io::ErrorKind::IsADirectory, "it is a directory".into())),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && std::fs::symlink_metadata(path).is_ok() => {
            return Err(fail(e.kind(), "it is a dangling symbolic link".into()));
        }
        Err(e) => return Err(fail(e.kind(), e.to_string())),
    }
    std::fs::File::open(path).map_err(|e| fail(e.kind(), e.to_string()))
}

/// Treats a closed stdout (`artifact ls | head`) as a normal end rather than an error.
pub fn quiet_broken_pipe(r: Result<(), HostError>) -> Result<(), HostError> {
    match r {
        Err(HostError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
