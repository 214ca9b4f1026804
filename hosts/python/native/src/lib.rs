//! `artifact_host._native`: the Python package's fast path. The same `Runtime` as the `artifact`
//! CLI (wasmtime, the embedded component, the `fs` + SQLite store of an `ARTIFACT_HOME`), so bytes
//! cross into Python once, as one `bytes` object, instead of element by element as through
//! wasmtime-py's component API. `artifact_host/native.py` wraps it in the package's API; this
//! module stays a thin, typed bridge.

mod convert;
mod store;

use pyo3::prelude::*;

pyo3::create_exception!(_native, Error, pyo3::exceptions::PyException, "An artifact error: args are (kind, message).");

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<store::Store>()?;
    m.add("Error", m.py().get_type::<Error>())?;
    // The component the runtime embeds: the pure wasmtime-py host runs these same bytes.
    m.add("COMPONENT", pyo3::types::PyBytes::new(m.py(), artifact_host::runtime::EMBEDDED_COMPONENT))?;
    Ok(())
}
