//! Scenario 6: size of the release component the host embeds, and its imports.

use crate::{Opts, Row};
use wasmparser::{Parser, Payload};

/// The component's top-level imports (instance names such as `wasi:io/streams@0.2.6`).
pub fn imports(wasm: &[u8]) -> Result<Vec<String>, String> {
    let mut depth = 0usize;
    let mut out = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(|e| format!("parse: {e}"))? {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(s) if depth == 1 => {
                for imp in s {
                    out.push(imp.map_err(|e| format!("parse: {e}"))?.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

pub fn size(o: &Opts) -> Result<Vec<Row>, String> {
    let wasm = o.wasm.as_deref().unwrap_or(artifact_host::runtime::EMBEDDED_COMPONENT);
    let imports = imports(wasm)?;
    let own: Vec<&str> = imports.iter().map(String::as_str).filter(|i| !i.starts_with("wasi:")).collect();
    let wasi: Vec<&str> = imports.iter().map(String::as_str).filter(|i| i.starts_with("wasi:")).collect();
    let kb = wasm.len() as f64 / 1000.0;
    Ok(vec![
        Row::new("6 component size (release .wasm, as embedded)", format!("{kb:.0} KB ({} bytes)", wasm.len()), "—")
            .check(wasm.len() <= 500_000, "≤ 500 KB"),
        Row::new(
            format!("6 imports: {} ({}); WASI: {}", imports.len(), own.join(", "), wasi.join(", ")),
            format!("{} imports", imports.len()),
            "—",
        ),
    ])
}
