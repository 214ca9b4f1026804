//! `_native.Store`: one `Runtime` over a home. Every call releases the GIL while the component
//! runs, so Python threads put and get in parallel (each call gets its own instance).

use crate::convert::{self, err, invalid, opt};
use artifact_component::manifest::{ManifestOptions, Strategy};
use artifact_component::model::{self as m, Body};
use artifact_host::{HostError, Runtime};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyIterator};
use std::io::{Read, Write};
use std::path::PathBuf;

#[pyclass(frozen, module = "artifact_host._native")]
pub struct Store {
    rt: Runtime,
}

/// Put options from keyword arguments (the WIT `put-options` fields, snake_case); an unknown
/// keyword is `invalid-argument`, not silently ignored.
fn put_options(kw: Option<&Bound<'_, PyDict>>) -> PyResult<m::PutOptions> {
    let mut o = m::PutOptions::default();
    let Some(kw) = kw else { return Ok(o) };
    for (k, v) in kw.iter() {
        if v.is_none() {
            continue;
        }
        let key: String = k.extract()?;
        let text = || v.extract::<String>();
        match key.as_str() {
            "content_type" => o.content_type = Some(text()?),
            "compression" => o.compression = opt(Some(&text()?), m::Compression::parse)?,
            "bucket" => o.bucket = Some(text()?),
            "name" => o.name = Some(text()?),
            "if_exists" => o.if_exists = opt(Some(&text()?), m::IfExists::parse)?,
            "created_by" => o.created_by = Some(text()?),
            "store" => o.store = Some(text()?),
            "execution_id" => o.execution_id = Some(text()?),
            "step" => o.step = Some(text()?),
            "scope" => o.scope = opt(Some(&text()?), m::Scope::parse)?,
            "ttl" => o.ttl = Some(text()?),
            "kind" => o.kind = opt(Some(&text()?), m::Kind::parse)?,
            "max_bytes" => o.max_bytes = Some(v.extract()?),
            "precompressed" => o.precompressed = Some(v.extract()?),
            other => return Err(invalid(m::Error::InvalidArgument(format!("unknown put option {other:?}")))),
        }
    }
    Ok(o)
}

/// Get options from keyword arguments: `mode`, `max_bytes`, `resolve_manifest` and the range
/// flattened by `native.py` (`start` + `end`, `start`, or `suffix`); unknown keywords refused.
fn get_options(kw: Option<&Bound<'_, PyDict>>) -> PyResult<m::GetOptions> {
    let mut o = m::GetOptions::default();
    let (mut start, mut end, mut suffix) = (None, None, None);
    if let Some(kw) = kw {
        for (k, v) in kw.iter() {
            if v.is_none() {
                continue;
            }
            let key: String = k.extract()?;
            match key.as_str() {
                "mode" => o.mode = opt(Some(&v.extract::<String>()?), m::Mode::parse)?,
                "max_bytes" => o.max_bytes = Some(v.extract()?),
                "resolve_manifest" => o.resolve_manifest = Some(v.extract()?),
                "start" => start = Some(v.extract()?),
                "end" => end = Some(v.extract()?),
                "suffix" => suffix = Some(v.extract()?),
                other => return Err(invalid(m::Error::InvalidArgument(format!("unknown get option {other:?}")))),
            }
        }
    }
    o.range = convert::range(start, end, suffix)?;
    Ok(o)
}

/// Get options of the streaming reads, whose body is always bytes.
fn stream_options(kw: Option<&Bound<'_, PyDict>>) -> PyResult<m::GetOptions> {
    let o = get_options(kw)?;
    if o.mode.is_some_and(|m| m != m::Mode::Bytes) {
        return Err(invalid(m::Error::InvalidArgument("streamed reads are bytes: leave mode unset".into())));
    }
    Ok(m::GetOptions { mode: Some(m::Mode::Bytes), ..o })
}

/// A Python iterable of `bytes` as a `Read`; the GIL is taken for each chunk only.
struct PyChunks {
    iter: Py<PyIterator>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for PyChunks {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.chunk.len() {
            let next = Python::attach(|py| -> PyResult<Option<Vec<u8>>> {
                match self.iter.bind(py).clone().next() {
                    None => Ok(None),
                    Some(item) => Ok(Some(item?.extract::<Vec<u8>>()?)),
                }
            })
            .map_err(|e| std::io::Error::other(format!("reading the chunks: {e}")))?;
            match next {
                None => return Ok(0),
                Some(c) => (self.chunk, self.pos) = (c, 0),
            }
        }
        let n = out.len().min(self.chunk.len() - self.pos);
        out[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A Python callable given each chunk as `bytes` (the GIL taken per chunk).
struct PySink(Py<PyAny>);

impl Write for PySink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Python::attach(|py| self.0.call1(py, (PyBytes::new(py, buf),)).map(drop))
            .map_err(|e| std::io::Error::other(format!("the chunk callback failed: {e}")))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn record_json(r: &m::Record) -> String {
    convert::record(r).to_string()
}

#[pymethods]
impl Store {
    /// Opens the store in `home` (created if missing), as the `artifact` CLI does.
    #[new]
    fn new(py: Python<'_>, home: PathBuf) -> PyResult<Self> {
        let rt = py.detach(|| artifact_host::home::builder(&home)?.build()).map_err(err)?;
        Ok(Store { rt })
    }

    /// Stores `data`; the put result as JSON.
    #[pyo3(signature = (data, **options))]
    fn put(&self, py: Python<'_>, data: &[u8], options: Option<&Bound<'_, PyDict>>) -> PyResult<String> {
        let o = put_options(options)?;
        let p = py.detach(|| self.rt.put(data, &o)).map_err(err)?;
        Ok(convert::put_result(&p))
    }

    /// Streams a file (read here, never through Python) into an artifact.
    #[pyo3(signature = (path, **options))]
    fn put_file(&self, py: Python<'_>, path: PathBuf, options: Option<&Bound<'_, PyDict>>) -> PyResult<String> {
        let o = put_options(options)?;
        let p = py
            .detach(|| {
                let mut f = std::fs::File::open(&path)
                    .map_err(|e| HostError::Io(std::io::Error::new(e.kind(), format!("open {}: {e}", path.display()))))?;
                self.rt.put_stream(&mut f, &o)
            })
            .map_err(err)?;
        Ok(convert::put_result(&p))
    }

    /// Streams an iterable of `bytes` chunks into an artifact.
    #[pyo3(signature = (chunks, **options))]
    fn put_stream(&self, py: Python<'_>, chunks: &Bound<'_, PyAny>, options: Option<&Bound<'_, PyDict>>) -> PyResult<String> {
        let o = put_options(options)?;
        let mut src = PyChunks { iter: chunks.try_iter()?.unbind(), chunk: Vec::new(), pos: 0 };
        let p = py.detach(|| self.rt.put_stream(&mut src, &o)).map_err(err)?;
        Ok(convert::put_result(&p))
    }

    /// Reads a body: `(tag, value, record JSON)`, value `bytes` for mode bytes, else `str`.
    #[pyo3(signature = (r#ref, **options))]
    fn get<'py>(
        &self, py: Python<'py>, r#ref: &str, options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<(&'static str, Bound<'py, PyAny>, String)> {
        let o = get_options(options)?;
        let g = py.detach(|| self.rt.get(r#ref, &o)).map_err(err)?;
        let meta = record_json(&g.meta);
        Ok(match g.data {
            Body::Json(s) => ("json", s.into_pyobject(py)?.into_any(), meta),
            Body::Text(s) => ("text", s.into_pyobject(py)?.into_any(), meta),
            Body::Bytes(b) => ("bytes", PyBytes::new(py, &b).into_any(), meta),
        })
    }

    /// Streams the logical body to `sink(chunk: bytes)`, verified as the CLI's `get` is; the
    /// record JSON. A failed check raises after the chunks already given: the caller discards.
    #[pyo3(signature = (r#ref, sink, **options))]
    fn get_stream(&self, py: Python<'_>, r#ref: &str, sink: Py<PyAny>, options: Option<&Bound<'_, PyDict>>) -> PyResult<String> {
        let o = stream_options(options)?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, PySink(sink));
        let rec = py
            .detach(|| {
                let rec = self.rt.get_stream(r#ref, &o, &mut out)?;
                out.flush()?;
                Ok::<_, HostError>(rec)
            })
            .map_err(err)?;
        Ok(record_json(&rec))
    }

    /// Writes the logical body to `path` (through a temp file beside it, renamed when whole and
    /// verified: a failed read leaves `path` as it was).
    #[pyo3(signature = (r#ref, path, **options))]
    fn get_file(&self, py: Python<'_>, r#ref: &str, path: PathBuf, options: Option<&Bound<'_, PyDict>>) -> PyResult<String> {
        let o = stream_options(options)?;
        let rec = py
            .detach(|| artifact_host::atomic::write_atomically(&path, |out| self.rt.get_stream(r#ref, &o, out)))
            .map_err(err)?;
        Ok(record_json(&rec))
    }

    /// The record JSON, without reading the body.
    fn head(&self, py: Python<'_>, r#ref: &str) -> PyResult<String> {
        py.detach(|| self.rt.head(r#ref)).map(|r| record_json(&r)).map_err(err)
    }

    /// The record of `bucket` + `name`, as JSON.
    fn find(&self, py: Python<'_>, bucket: &str, name: &str) -> PyResult<String> {
        py.detach(|| self.rt.find(bucket, name)).map(|r| record_json(&r)).map_err(err)
    }

    /// The CLI's JSON for the record (`artifact head`'s `meta`): what every host prints.
    fn meta_json(&self, py: Python<'_>, r#ref: &str) -> PyResult<String> {
        let rec = py.detach(|| self.rt.head(r#ref)).map_err(err)?;
        Ok(artifact_component::result_ref::meta_json(&rec).to_string())
    }

    /// A page of records: `{"records": [...], "next_cursor": …}`.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (*, bucket=None, name=None, name_prefix=None, created_by=None, created_after=None,
        created_before=None, uri=None, expired_before=None, order=None, cursor=None, limit=100))]
    fn list(
        &self, py: Python<'_>, bucket: Option<String>, name: Option<String>, name_prefix: Option<String>,
        created_by: Option<String>, created_after: Option<u64>, created_before: Option<u64>, uri: Option<String>,
        expired_before: Option<u64>, order: Option<&str>, cursor: Option<String>, limit: u32,
    ) -> PyResult<String> {
        let order = match order {
            None | Some("oldest-first") => m::Order::OldestFirst,
            Some("newest-first") => m::Order::NewestFirst,
            Some(o) => return Err(invalid(m::Error::InvalidArgument(format!("unknown order {o:?} (oldest-first or newest-first)")))),
        };
        let q = m::ListQuery { bucket, name, name_prefix, created_by, created_after, created_before, uri, expired_before, order, cursor, limit };
        let page = py.detach(|| self.rt.list(&q)).map_err(err)?;
        let records: Vec<_> = page.records.iter().map(convert::record).collect();
        Ok(serde_json::json!({ "records": records, "next_cursor": page.next_cursor }).to_string())
    }

    /// `(count, total_bytes)` of a bucket.
    fn summary(&self, py: Python<'_>, bucket: &str) -> PyResult<(u64, u64)> {
        let s = py.detach(|| self.rt.summary(bucket)).map_err(err)?;
        Ok((s.count, s.total_bytes))
    }

    /// Deletes an artifact; its id.
    fn delete(&self, py: Python<'_>, r#ref: &str) -> PyResult<String> {
        py.detach(|| self.rt.delete(r#ref)).map_err(err)
    }

    /// A signed read URL path (`ARTIFACT_SIGNING_KEYS` must be set), valid `ttl_seconds`.
    #[pyo3(signature = (r#ref, ttl_seconds, *, method=None, kid=None))]
    fn sign(&self, py: Python<'_>, r#ref: &str, ttl_seconds: u64, method: Option<String>, kid: Option<String>) -> PyResult<String> {
        let o = artifact_component::sign::SignOptions { method, range: None, kid };
        py.detach(|| self.rt.sign(r#ref, ttl_seconds, &o)).map_err(err)
    }

    /// Makes a manifest of `parts` (refs); the put result as JSON.
    #[pyo3(signature = (parts, *, strategy=None, bucket=None, name=None, execution_id=None, step=None))]
    #[allow(clippy::too_many_arguments)]
    fn manifest_create(
        &self, py: Python<'_>, parts: Vec<String>, strategy: Option<&str>, bucket: Option<String>, name: Option<String>,
        execution_id: Option<String>, step: Option<String>,
    ) -> PyResult<String> {
        let o = ManifestOptions {
            strategy: opt(strategy, Strategy::parse)?.unwrap_or_default(),
            put: m::PutOptions { bucket, name, execution_id, step, ..Default::default() },
            ..Default::default()
        };
        let p = py.detach(|| self.rt.manifest_create(&o, &parts)).map_err(err)?;
        Ok(convert::put_result(&p))
    }

    /// Adds a part to an open manifest (at `index`, else at the end).
    #[pyo3(signature = (manifest, part, index=None))]
    fn manifest_add(&self, py: Python<'_>, manifest: &str, part: &str, index: Option<u32>) -> PyResult<String> {
        let p = py.detach(|| self.rt.manifest_add(manifest, part, index)).map_err(err)?;
        Ok(convert::put_result(&p))
    }

    /// Completes a manifest: no more parts.
    fn manifest_complete(&self, py: Python<'_>, manifest: &str) -> PyResult<String> {
        let p = py.detach(|| self.rt.manifest_complete(manifest)).map_err(err)?;
        Ok(convert::put_result(&p))
    }
}
