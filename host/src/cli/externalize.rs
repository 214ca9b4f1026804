//! `artifact externalize FILE|-`: keeps a JSON result inline when it is small, or stores it and
//! prints its ResultRef with a bounded preview and the selected fields.
//!
//! Prints `{"status","inline"|"ref","preview","extracted"}` (`"error"` instead of both when
//! storing failed, with exit code 1). `inline` is the input's exact text without surrounding
//! whitespace; `ref` is the ResultRef as `put` prints it (without `created`).

use super::common::Env;
use super::put::PutArgs;
use artifact_component::model::{Error, ExternalizeOptions};
use artifact_host::HostError;
use serde_json::value::RawValue;
use std::io::Read;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// JSON file holding the result, or `-` for stdin.
    pub file: PathBuf,
    /// Dotted path (with `[i]` indexes) copied into `extracted`, keyed by its last segment; repeatable.
    #[arg(long = "select", value_name = "PATH")]
    pub select: Vec<String>,
    /// Results whose JSON text is longer than this are stored (default 65536).
    #[arg(long, value_name = "N")]
    pub inline_max_bytes: Option<u64>,
    /// Budget of the preview in bytes of JSON text (default 1024, at least 64).
    #[arg(long, value_name = "N")]
    pub preview_max_bytes: Option<u64>,
    #[command(flatten)]
    pub put: PutArgs,
}

#[derive(serde::Serialize)]
struct Output<'a> {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    inline: Option<&'a RawValue>,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    result_ref: Option<&'a RawValue>,
    preview: &'a RawValue,
    extracted: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorOut>,
}

#[derive(serde::Serialize)]
struct ErrorOut {
    kind: &'static str,
    message: String,
}

/// The component hands back JSON texts; they are embedded as they are (the inline result keeps
/// its exact formatting and number spelling).
fn raw(what: &str, t: &str) -> Result<Box<RawValue>, HostError> {
    RawValue::from_string(t.to_string())
        .map_err(|e| HostError::Trap(format!("the component returned an invalid {what} JSON text: {e}")))
}

/// Returns the exit code: 0 when the result was kept inline or stored, else that of the error
/// that kept it from being stored (already reported).
pub fn run(env: &Env, a: Args) -> Result<i32, HostError> {
    let is_stdin = a.file.as_os_str() == "-";
    let mut text = String::new();
    let read = if is_stdin {
        std::io::stdin().lock().read_to_string(&mut text)
    } else {
        std::fs::File::open(&a.file).and_then(|mut f| f.read_to_string(&mut text))
    };
    read.map_err(|e| {
        let what = if is_stdin { "stdin".to_string() } else { a.file.display().to_string() };
        match e.kind() {
            std::io::ErrorKind::InvalidData => {
                HostError::Artifact(Error::Decode(format!("{what} is not UTF-8 text, so not JSON")))
            }
            _ => HostError::Io(std::io::Error::new(e.kind(), format!("cannot read {what}: {e}"))),
        }
    })?;
    // The value is JSON: that is its content type unless one is given.
    let put = a.put.options(|| Some("application/json".into()));
    let opts = ExternalizeOptions {
        inline_max_bytes: a.inline_max_bytes,
        preview_max_bytes: a.preview_max_bytes,
        select: a.select,
        put,
    };
    let x = env.runtime()?.externalize(&text, &opts)?;

    let inline = x.inline.as_deref().map(|t| raw("inline", t)).transpose()?;
    let result_ref = x.result_ref.as_deref().map(|t| raw("ResultRef", t)).transpose()?;
    let preview = raw("preview", &x.preview)?;
    let extracted = raw("extracted", &x.extracted)?;
    let out = Output {
        status: if x.error.is_some() { "error" } else { "success" },
        inline: inline.as_deref(),
        result_ref: result_ref.as_deref(),
        preview: &preview,
        extracted: &extracted,
        error: x.error.as_ref().map(|e| ErrorOut { kind: e.kind(), message: e.to_string() }),
    };
    let line = serde_json::to_string(&out).map_err(|e| HostError::Trap(e.to_string()))?;
    println!("{line}");
    if let Some(e) = &x.error {
        eprintln!("artifact: {} error: {e}", e.kind());
        return Ok(artifact_host::exit::code(e.kind()));
    }
    Ok(0)
}
