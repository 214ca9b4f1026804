//! Manifests: an artifact that lists ordered parts, each itself an artifact (possibly another
//! manifest), and says how they combine.
//!
//! # The document
//!
//! Stored as an artifact of kind [`Kind::Manifest`] with content type [`CONTENT_TYPE`]:
//!
//! ```json
//! {"kind": "manifest", "ref": "noetl://…", "strategy": "concat", "merge_path": "items",
//!  "parts": [{"ref": "noetl://…", "index": 0, "bytes": 12, "sha256": "…",
//!             "meta": {"id": "…", "kind": "result_ref", "content_type": "…", "compression": "none"}}],
//!  "total_parts": 1, "total_bytes": 12, "created_at": "…", "completed_at": null,
//!  "correlation": null, "metadata": null}
//! ```
//!
//! Parts are kept sorted by `index`. A part that is a manifest must be completed when it is added
//! (`conflict` otherwise), since an open one still changes and its digest would go stale. `ref` is the part's canonical logical URI; `bytes` and
//! `sha256` are read from the part's record, never from the caller. `total_parts`/`total_bytes` are
//! recomputed on every change. `completed_at` is `null` while the manifest is open; once set the
//! manifest is immutable (`conflict` on add, complete, or create-with-overwrite).
//!
//! Building: [`Store::manifest_create`] (open, or completed in one shot from a list of refs),
//! [`Store::manifest_add`], [`Store::manifest_complete`]. Adding and completing rewrite the
//! document in place (same id, bucket, name and logical ref; `if-exists = overwrite`); the new
//! body is stored content-addressed on the manifest's driver, and the old blob is released. Each
//! add rewrites the whole document, so building very large manifests is cheaper in one shot.
//! Concurrent adds to one manifest are not serialized (the metadata interface has no
//! compare-and-swap): append from one producer.
//!
//! # Resolution (`get` with `resolve_manifest`, the default)
//!
//! The body is always `json`; `mode` applies to the parts. A part's data is encoded in the
//! output as: `json` → the part's JSON text unchanged; `text` → a JSON string; `bytes` → a JSON
//! string of standard base64 (with padding). Shapes by strategy:
//!
//! - `append`: `{"manifest": M, "parts": [{"index": i, "data": D_i, "meta": META_i}, …]}`
//! - `concat`, `merge`, `replace`: `{"manifest": M, "data": COMBINED, "parts": [{"index": i,
//!   "meta": META_i}, …]}` (parts carry no data, so the body holds each byte once), where
//!   - `concat`, mode `json`: one array. With `merge_path` (dotted keys, `$.` prefix allowed,
//!     `$` alone is the root) the array at that path in each part is spliced, in part order;
//!     without, each part must itself be an array. A part without an array there is `decode`.
//!     Mode `text`: the texts joined into one string; mode `bytes`: the bytes joined, base64.
//!     `merge_path` with mode `text`/`bytes` is `invalid-argument`.
//!   - `merge` (mode `json` only, else `invalid-argument`): objects deep-merged in part order;
//!     on a shared key two objects merge recursively, anything else is replaced by the later
//!     part (arrays are replaced, not concatenated). Zero parts give `null`.
//!   - `replace`: the last part's data; zero parts give `null`.
//!
//! `M` is the manifest document, `META_i` is the part's ResultRef `meta`
//! ([`crate::result_ref::meta_json`]). A `range` together with resolution is `invalid-argument`.
//! With `resolve_manifest = false`, `get` returns the document itself. Open manifests resolve
//! too (`manifest.completed_at` is then `null`).
//!
//! A part that is itself a manifest contributes its *value*: for `append` the array of its parts'
//! data, otherwise its combined data. Under an outer `concat` a nested manifest's value must be an
//! array (or text/bytes in those modes) and is spliced as is (`merge_path` was applied inside).
//!
//! # Limits and errors
//!
//! - `max_parts` (default [`DEFAULT_MAX_PARTS`]) bounds the parts counted across the whole
//!   resolution, nested manifests included: `too-large {limit: max_parts, needed: parts seen}`
//!   (the numbers are part counts here, not bytes).
//! - `max_bytes` of `get` (default 256 MiB) bounds the logical bytes of all leaf parts together:
//!   `too-large {limit, needed}`.
//! - `max_depth` (default [`DEFAULT_MAX_DEPTH`]): the top manifest is at depth 0, a manifest part
//!   of it at depth 1, and so on; a manifest deeper than `max_depth` is `invalid-argument`
//!   (`max_depth = 0` forbids nested manifests).
//! - A cycle (a manifest that contains itself, directly or through others) is `conflict` with the
//!   chain in the message: `manifest cycle: A -> B -> A`. It is checked before the depth limit at
//!   each manifest, so a cycle of at most `max_depth` manifests is always reported as a cycle.
//! - A missing, expired or corrupt part (or one whose SHA-256 changed since it was added) fails
//!   the whole resolution with the part's own error kind and a message prefixed
//!   `part <index> (<ref>): `; nested failures chain the prefixes. `too-large` and
//!   `range-not-satisfiable` carry no message and are passed through unchanged.
//!
//! # Part reader
//!
//! [`Store::open_parts`] yields one resolved part at a time ([`Part`], data in the requested mode,
//! not base64) holding only the manifest document and at most one part body. There `max_bytes`
//! caps each part (default 256 MiB), not the total; a nested manifest part is yielded as its value
//! and is bounded as a whole by that cap.

use crate::model::*;
use crate::result_ref::meta_json;
use crate::store::{Store, DEFAULT_GET_MAX_BYTES};
use crate::time::format_rfc3339;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};

/// Content type of manifest documents.
pub const CONTENT_TYPE: &str = "application/vnd.artifact.manifest+json";
/// Default of [`ManifestLimits::max_depth`].
pub const DEFAULT_MAX_DEPTH: u32 = 4;
/// Default of [`ManifestLimits::max_parts`].
pub const DEFAULT_MAX_PARTS: u32 = 100_000;
/// Cap on one manifest document's size when it is read.
pub const MAX_DOCUMENT_BYTES: u64 = 256 << 20;

/// How a manifest's parts combine when resolved. See the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    #[default]
    Append,
    Concat,
    Merge,
    Replace,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Append => "append",
            Strategy::Concat => "concat",
            Strategy::Merge => "merge",
            Strategy::Replace => "replace",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "append" => Ok(Strategy::Append),
            "concat" => Ok(Strategy::Concat),
            "merge" => Ok(Strategy::Merge),
            "replace" => Ok(Strategy::Replace),
            other => Err(Error::InvalidArgument(format!(
                "unknown strategy {other:?} (expected append, concat, merge or replace)"
            ))),
        }
    }
}

/// Options of [`Store::manifest_create`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ManifestOptions {
    pub strategy: Strategy,
    /// Dotted path (`$.` prefix allowed) whose arrays `concat` splices; only with `concat`.
    pub merge_path: Option<String>,
    /// Where and how to store the document. `kind` and `content_type` are forced to
    /// [`Kind::Manifest`] and [`CONTENT_TYPE`]; `precompressed` is ignored.
    pub put: PutOptions,
    /// JSON object text copied into the document as `correlation`.
    pub correlation: Option<String>,
    /// JSON object text copied into the document as `metadata`.
    pub metadata: Option<String>,
}

/// One entry of a manifest's `parts`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartEntry {
    /// The part's canonical logical URI.
    #[serde(rename = "ref")]
    pub logical_ref: String,
    pub index: u32,
    /// Logical size, from the part's record.
    pub bytes: u64,
    /// SHA-256 of the logical body, from the part's record; checked on every resolution.
    pub sha256: String,
    /// `{id, kind, content_type, compression}` of the part.
    pub meta: Value,
}

/// The manifest document. Field names and order are the stored JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `"manifest"`.
    pub kind: String,
    /// The manifest's own logical URI.
    #[serde(rename = "ref")]
    pub logical_ref: String,
    pub strategy: Strategy,
    pub merge_path: Option<String>,
    /// Sorted by index, indexes unique.
    pub parts: Vec<PartEntry>,
    pub total_parts: u64,
    pub total_bytes: u64,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; `None` (JSON `null`) while open.
    pub completed_at: Option<String>,
    pub correlation: Option<Value>,
    pub metadata: Option<Value>,
}

impl Manifest {
    /// Parses and checks a stored document.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let mut m: Manifest = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if m.kind != "manifest" {
            return Err(format!("kind is {:?}, expected \"manifest\"", m.kind));
        }
        if let Some(p) = &m.merge_path {
            parse_merge_path(p).map_err(|e| e.to_string())?;
        }
        m.parts.sort_by_key(|p| p.index);
        if let Some(w) = m.parts.windows(2).find(|w| w[0].index == w[1].index) {
            return Err(format!("index {} appears twice", w[0].index));
        }
        Ok(m)
    }

    /// The document as stored.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a manifest serializes")
    }

    /// Whether `completed_at` is set.
    pub fn is_completed(&self) -> bool {
        self.completed_at.is_some()
    }

    fn recount(&mut self) {
        self.total_parts = self.parts.len() as u64;
        self.total_bytes = self.parts.iter().map(|p| p.bytes).sum();
    }
}

/// One resolved part, as the part reader yields it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub index: u32,
    /// The body in the requested mode; a nested manifest's value (see module docs).
    pub data: Body,
    /// The part's record.
    pub meta: Record,
}

/// Splits a merge path into keys: `items`, `data.items`, `$.data.items`; `$` is the root (no keys).
pub fn parse_merge_path(p: &str) -> Result<Vec<String>, Error> {
    let bad = |why: &str| Error::InvalidArgument(format!("invalid merge path {p:?}: {why}"));
    if p.len() > 1024 {
        return Err(bad("longer than 1024 bytes"));
    }
    let t = p.trim();
    if t == "$" {
        return Ok(Vec::new());
    }
    let t = t.strip_prefix("$.").unwrap_or(t);
    if t.is_empty() {
        return Err(bad("empty"));
    }
    let keys: Vec<String> = t.split('.').map(str::to_string).collect();
    if keys.iter().any(String::is_empty) {
        return Err(bad("empty segment"));
    }
    Ok(keys)
}

fn object_option(what: &str, text: &Option<String>) -> Result<Option<Value>, Error> {
    match text {
        None => Ok(None),
        Some(t) => match serde_json::from_str::<Value>(t) {
            Ok(v @ Value::Object(_)) => Ok(Some(v)),
            Ok(_) => Err(Error::InvalidArgument(format!("{what} must be a JSON object"))),
            Err(e) => Err(Error::InvalidArgument(format!("{what} is not valid JSON: {e}"))),
        },
    }
}

impl Store {
    /// Resolves a part to add to manifest `owner`: live, not the manifest itself, and, when it
    /// is a manifest, completed (a part's content is pinned by its SHA-256).
    fn admit_part(&self, owner_id: &str, r: &str, index: u32) -> Result<PartEntry, Error> {
        let named = |e| in_part(e, index, r);
        let rec = self.resolve_live(r).map_err(named)?;
        if rec.id == owner_id {
            return Err(named(Error::InvalidArgument("a manifest cannot contain itself".into())));
        }
        if rec.kind == Kind::Manifest && !self.load_manifest(&rec).map_err(named)?.is_completed() {
            return Err(named(Error::Conflict(
                "an open manifest cannot be a part (its content is not final); complete it first".into(),
            )));
        }
        Ok(entry(&rec, index))
    }
}

fn entry(rec: &Record, index: u32) -> PartEntry {
    PartEntry {
        logical_ref: rec.logical_ref.clone(),
        index,
        bytes: rec.bytes,
        sha256: rec.sha256.clone(),
        meta: json!({
            "id": rec.id,
            "kind": rec.kind.as_str(),
            "content_type": rec.content_type,
            "compression": rec.compression.as_str(),
        }),
    }
}

/// Prefixes `e`'s message with the part it concerns; the kind is kept.
fn in_part(e: Error, index: u32, r: &str) -> Error {
    let p = |m: String| format!("part {index} ({r}): {m}");
    match e {
        Error::NotFound(m) => Error::NotFound(p(m)),
        Error::InvalidRef(m) => Error::InvalidRef(p(m)),
        Error::InvalidArgument(m) => Error::InvalidArgument(p(m)),
        Error::Integrity(m) => Error::Integrity(p(m)),
        Error::Decode(m) => Error::Decode(p(m)),
        Error::Conflict(m) => Error::Conflict(p(m)),
        Error::Forbidden(m) => Error::Forbidden(p(m)),
        Error::Expired(m) => Error::Expired(p(m)),
        Error::Storage(m) => Error::Storage(p(m)),
        Error::Metadata(m) => Error::Metadata(p(m)),
        e @ (Error::TooLarge { .. } | Error::RangeNotSatisfiable(_)) => e,
    }
}

/// A body as JSON text: JSON unchanged, text as a string, bytes as a base64 string.
fn json_text(b: &Body) -> String {
    match b {
        Body::Json(s) => s.clone(),
        Body::Text(t) => Value::String(t.clone()).to_string(),
        Body::Bytes(v) => format!("\"{}\"", crate::encoding::base64(v)),
    }
}

fn json_array<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::from("[");
    for (i, s) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(s);
    }
    out.push(']');
    out
}

/// Later wins; objects merge key by key.
fn deep_merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(slot) => deep_merge(slot, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// The JSON text at `path` inside `text`.
fn at_path<'a>(text: &'a str, path: &[String]) -> Result<&'a RawValue, Error> {
    let mut cur: &'a RawValue = serde_json::from_str(text).map_err(|e| Error::Decode(format!("not valid JSON: {e}")))?;
    for (depth, key) in path.iter().enumerate() {
        let here = || if depth == 0 { "the body".to_string() } else { format!("${}", path[..depth].iter().map(|k| format!(".{k}")).collect::<String>()) };
        let obj: std::collections::BTreeMap<String, &'a RawValue> = serde_json::from_str(cur.get())
            .map_err(|_| Error::Decode(format!("{} is not an object (merge path {})", here(), path.join("."))))?;
        cur = obj
            .get(key.as_str())
            .copied()
            .ok_or_else(|| Error::Decode(format!("{} has no key {key:?} (merge path {})", here(), path.join("."))))?;
    }
    Ok(cur)
}

/// A part resolved during a manifest resolution.
struct Resolved {
    index: u32,
    meta: Record,
    data: Body,
    nested: bool,
}

/// Limits shared by `get` and the part reader.
#[derive(Clone, Copy)]
struct Limits {
    mode: Mode,
    max_bytes: u64,
    max_parts: u64,
    max_depth: u32,
}

impl Limits {
    fn of(opts: &GetOptions) -> Self {
        let l = opts.manifest_limits.unwrap_or_default();
        Limits {
            mode: opts.mode.unwrap_or_default(),
            max_bytes: opts.max_bytes.unwrap_or(DEFAULT_GET_MAX_BYTES),
            max_parts: l.max_parts.unwrap_or(DEFAULT_MAX_PARTS) as u64,
            max_depth: l.max_depth.unwrap_or(DEFAULT_MAX_DEPTH),
        }
    }
}

/// One resolution: budgets and the chain of manifests being resolved (for cycles and depth).
struct Resolver<'a> {
    store: &'a Store,
    limits: Limits,
    used_bytes: u64,
    parts_seen: u64,
    /// (id, logical ref) of the manifests being resolved, outermost first.
    stack: Vec<(String, String)>,
}

impl<'a> Resolver<'a> {
    fn new(store: &'a Store, limits: Limits) -> Self {
        Resolver { store, limits, used_bytes: 0, parts_seen: 0, stack: Vec::new() }
    }

    fn count_parts(&mut self, n: usize) -> Result<(), Error> {
        self.parts_seen += n as u64;
        if self.parts_seen > self.limits.max_parts {
            return Err(Error::TooLarge { limit: self.limits.max_parts, needed: self.parts_seen });
        }
        Ok(())
    }

    /// Refuses strategy/mode combinations that have no meaning, before reading anything.
    fn check_shape(&self, doc: &Manifest) -> Result<(), Error> {
        let mode = self.limits.mode;
        let path = doc.merge_path.as_deref().map(parse_merge_path).transpose()?.unwrap_or_default();
        match doc.strategy {
            Strategy::Merge if mode != Mode::Json => {
                Err(Error::InvalidArgument("strategy merge needs mode json".into()))
            }
            Strategy::Concat if mode != Mode::Json && !path.is_empty() => {
                Err(Error::InvalidArgument("a concat merge path needs mode json".into()))
            }
            _ => Ok(()),
        }
    }

    /// Resolves every part of `doc` (whose record is `rec`), in index order.
    fn parts(&mut self, rec: &Record, doc: &Manifest) -> Result<Vec<Resolved>, Error> {
        self.check_shape(doc)?;
        self.count_parts(doc.parts.len())?;
        self.stack.push((rec.id.clone(), rec.logical_ref.clone()));
        let mut out = Vec::with_capacity(doc.parts.len());
        for e in &doc.parts {
            out.push(self.part(e).map_err(|err| in_part(err, e.index, &e.logical_ref))?);
        }
        self.stack.pop();
        Ok(out)
    }

    /// Resolves one entry (errors not yet prefixed with the part).
    fn part(&mut self, e: &PartEntry) -> Result<Resolved, Error> {
        let rec = self.store.resolve_live(&e.logical_ref)?;
        // Cycles first: digests pin content, so a real cycle always has a stale digest somewhere.
        if let Some(pos) = self.stack.iter().position(|(id, _)| *id == rec.id) {
            let mut chain: Vec<&str> = self.stack[pos..].iter().map(|(_, r)| r.as_str()).collect();
            chain.push(&rec.logical_ref);
            return Err(Error::Conflict(format!("manifest cycle: {}", chain.join(" -> "))));
        }
        if !rec.sha256.eq_ignore_ascii_case(&e.sha256) {
            return Err(Error::Integrity(format!(
                "the manifest recorded sha256 {} but the artifact now has {}",
                e.sha256, rec.sha256
            )));
        }
        if rec.kind == Kind::Manifest {
            let depth = self.stack.len() as u32;
            if depth > self.limits.max_depth {
                return Err(Error::InvalidArgument(format!(
                    "manifest nesting depth {depth} exceeds max_depth {}",
                    self.limits.max_depth
                )));
            }
            let doc = self.store.load_manifest(&rec)?;
            let parts = self.parts(&rec, &doc)?;
            let data = combine(&doc, parts, self.limits.mode)?.0;
            return Ok(Resolved { index: e.index, meta: rec, data, nested: true });
        }
        let remaining = self.limits.max_bytes - self.used_bytes;
        if rec.bytes > remaining {
            return Err(Error::TooLarge { limit: self.limits.max_bytes, needed: self.used_bytes + rec.bytes });
        }
        let bytes = self.store.read_logical(&rec, None, remaining)?;
        self.used_bytes += bytes.len() as u64;
        let data = crate::codec::decode_body(bytes, self.limits.mode)?;
        Ok(Resolved { index: e.index, meta: rec, data, nested: false })
    }
}

/// A manifest's value from its resolved parts; also hands the parts back (data taken out unless
/// the strategy is `append`, where the value is built from copies).
fn combine(doc: &Manifest, parts: Vec<Resolved>, mode: Mode) -> Result<(Body, Vec<Resolved>), Error> {
    let named = |p: &Resolved, e: Error| in_part(e, p.index, &p.meta.logical_ref);
    let value = match doc.strategy {
        Strategy::Append => {
            let texts: Vec<String> = parts.iter().map(|p| json_text(&p.data)).collect();
            Body::Json(json_array(texts.iter().map(String::as_str)))
        }
        Strategy::Replace => parts.last().map_or(Body::Json("null".into()), |p| p.data.clone()),
        Strategy::Merge => {
            let mut acc: Option<Value> = None;
            for p in &parts {
                let Body::Json(t) = &p.data else {
                    return Err(named(p, Error::Decode("merge needs JSON data".into())));
                };
                let v: Value = serde_json::from_str(t).map_err(|e| named(p, Error::Decode(e.to_string())))?;
                match &mut acc {
                    None => acc = Some(v),
                    Some(a) => deep_merge(a, v),
                }
            }
            Body::Json(acc.unwrap_or(Value::Null).to_string())
        }
        Strategy::Concat => match mode {
            Mode::Json => {
                let path = doc.merge_path.as_deref().map(parse_merge_path).transpose()?.unwrap_or_default();
                let mut items: Vec<&RawValue> = Vec::new();
                for p in &parts {
                    let Body::Json(t) = &p.data else {
                        return Err(named(p, Error::Decode("concat needs JSON data".into())));
                    };
                    let (at, what) = if p.nested || path.is_empty() {
                        (serde_json::from_str(t).map_err(|e| named(p, Error::Decode(e.to_string())))?, "the body".to_string())
                    } else {
                        (at_path(t, &path).map_err(|e| named(p, e))?, format!("merge path {}", path.join(".")))
                    };
                    let arr: Vec<&RawValue> = serde_json::from_str(at.get())
                        .map_err(|_| named(p, Error::Decode(format!("{what} is not an array"))))?;
                    items.extend(arr);
                }
                Body::Json(json_array(items.iter().map(|r| r.get())))
            }
            Mode::Text => {
                let mut s = String::new();
                for p in &parts {
                    match &p.data {
                        Body::Text(t) => s.push_str(t),
                        _ => return Err(named(p, Error::Decode("concat in text mode needs text data".into()))),
                    }
                }
                Body::Text(s)
            }
            Mode::Bytes => {
                let mut v = Vec::new();
                for p in &parts {
                    match &p.data {
                        Body::Bytes(b) => v.extend_from_slice(b),
                        _ => return Err(named(p, Error::Decode("concat in bytes mode needs bytes data".into()))),
                    }
                }
                Body::Bytes(v)
            }
        },
    };
    Ok((value, parts))
}

/// The resolved `get` body: see the module docs for the shapes.
fn envelope(doc: &Manifest, parts: Vec<Resolved>, mode: Mode) -> Result<String, Error> {
    let with_data = doc.strategy == Strategy::Append;
    let (value, parts) = if with_data { (None, parts) } else {
        let (v, p) = combine(doc, parts, mode)?;
        (Some(v), p)
    };
    let mut out = String::from("{\"manifest\":");
    out.push_str(&serde_json::to_string(doc).expect("a manifest serializes"));
    if let Some(v) = &value {
        out.push_str(",\"data\":");
        out.push_str(&json_text(v));
    }
    out.push_str(",\"parts\":[");
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!("{{\"index\":{}", p.index));
        if with_data {
            out.push_str(",\"data\":");
            out.push_str(&json_text(&p.data));
        }
        out.push_str(",\"meta\":");
        out.push_str(&meta_json(&p.meta).to_string());
        out.push('}');
    }
    out.push_str("]}");
    Ok(out)
}

impl Store {
    /// The record and document of a manifest ref.
    pub fn manifest(&self, r: &str) -> Result<(Record, Manifest), Error> {
        let rec = self.resolve_live(r)?;
        let doc = self.load_manifest(&rec)?;
        Ok((rec, doc))
    }

    /// Reads and checks the document of a manifest record.
    pub fn load_manifest(&self, rec: &Record) -> Result<Manifest, Error> {
        if rec.kind != Kind::Manifest {
            return Err(Error::InvalidArgument(format!("{} is a {}, not a manifest", rec.logical_ref, rec.kind.as_str())));
        }
        let bytes = self.read_logical(rec, None, MAX_DOCUMENT_BYTES)?;
        Manifest::parse(&bytes).map_err(|e| Error::Decode(format!("manifest {} is not a valid manifest document: {e}", rec.logical_ref)))
    }

    /// Creates a manifest: open when `parts` is empty, else completed with `parts` at indexes
    /// 0, 1, … (each resolved now; a failing one is named). Get-or-create on bucket + name returns
    /// an existing manifest unchanged; an existing non-manifest, or overwriting a completed
    /// manifest, is `conflict`.
    pub fn manifest_create(&self, opts: &ManifestOptions, parts: &[String]) -> Result<PutResult, Error> {
        if let Some(p) = &opts.merge_path {
            parse_merge_path(p)?;
            if opts.strategy != Strategy::Concat {
                return Err(Error::InvalidArgument(format!(
                    "merge path applies to strategy concat only, not {}",
                    opts.strategy.as_str()
                )));
            }
        }
        let correlation = object_option("correlation", &opts.correlation)?;
        let metadata = object_option("metadata", &opts.metadata)?;
        let put = PutOptions {
            kind: Some(Kind::Manifest),
            content_type: Some(CONTENT_TYPE.into()),
            precompressed: None,
            ..opts.put.clone()
        };
        if let Some(name) = &put.name {
            let bucket = put.bucket.as_deref().unwrap_or(crate::store::DEFAULT_BUCKET);
            if let Some(e) = self.metadata.get_by_name(bucket, name)? {
                let if_exists = put.if_exists.unwrap_or_default();
                if if_exists != IfExists::Fail && e.kind != Kind::Manifest {
                    return Err(Error::Conflict(format!("{bucket}/{name} exists and is not a manifest")));
                }
                if if_exists == IfExists::Overwrite && self.load_manifest(&e)?.is_completed() {
                    return Err(Error::Conflict(format!("manifest {} is completed and immutable", e.logical_ref)));
                }
            }
        }
        let mut w = self.open_writer_as(&put, true)?;
        let (planned, existing) = match w.planned() {
            Some((r, e)) => (r.clone(), e),
            None => return Err(Error::Storage("manifest writer closed before use".into())),
        };
        if existing {
            return w.finish();
        }
        let mut doc = Manifest {
            kind: "manifest".into(),
            logical_ref: planned.logical_ref.clone(),
            strategy: opts.strategy,
            merge_path: opts.merge_path.clone(),
            parts: Vec::with_capacity(parts.len()),
            total_parts: 0,
            total_bytes: 0,
            created_at: format_rfc3339(planned.created_at),
            completed_at: None,
            correlation,
            metadata,
        };
        if !parts.is_empty() {
            for (i, r) in parts.iter().enumerate() {
                let index = u32::try_from(i).map_err(|_| Error::InvalidArgument("too many parts".into()))?;
                doc.parts.push(self.admit_part(&planned.id, r, index)?);
            }
            doc.completed_at = Some(format_rfc3339((self.now)()));
        }
        doc.recount();
        w.write(&doc.to_bytes())?;
        w.finish()
    }

    /// Adds `part` to an open manifest at `index`, or after the last part. A taken index or a
    /// completed manifest is `conflict`. Returns the rewritten manifest (`created` false).
    pub fn manifest_add(&self, manifest: &str, part: &str, index: Option<u32>) -> Result<PutResult, Error> {
        let (rec, mut doc) = self.manifest(manifest)?;
        if doc.is_completed() {
            return Err(Error::Conflict(format!("manifest {} is completed and immutable", rec.logical_ref)));
        }
        let index = match index {
            Some(i) => i,
            None => match doc.parts.last() {
                None => 0,
                Some(p) => p.index.checked_add(1).ok_or_else(|| Error::InvalidArgument("part index overflow".into()))?,
            },
        };
        let pos = match doc.parts.binary_search_by_key(&index, |p| p.index) {
            Ok(_) => {
                return Err(Error::Conflict(format!("manifest {} already has a part at index {index}", rec.logical_ref)))
            }
            Err(pos) => pos,
        };
        doc.parts.insert(pos, self.admit_part(&rec.id, part, index)?);
        doc.recount();
        self.rewrite_manifest(&rec, &doc)
    }

    /// Completes an open manifest: indexes must be 0..n without gaps (`invalid-argument`), every
    /// part must still resolve with the digest it was added with, and the totals are recomputed
    /// from the parts' records. Completed manifests are immutable (`conflict`).
    pub fn manifest_complete(&self, manifest: &str) -> Result<PutResult, Error> {
        let (rec, mut doc) = self.manifest(manifest)?;
        if doc.is_completed() {
            return Err(Error::Conflict(format!("manifest {} is already completed", rec.logical_ref)));
        }
        for (pos, p) in doc.parts.iter().enumerate() {
            if p.index as usize != pos {
                return Err(Error::InvalidArgument(format!(
                    "manifest {} has no part at index {pos} (parts must be numbered from 0 without gaps)",
                    rec.logical_ref
                )));
            }
        }
        for p in &mut doc.parts {
            let prec = self.resolve_live(&p.logical_ref).map_err(|e| in_part(e, p.index, &p.logical_ref))?;
            if !prec.sha256.eq_ignore_ascii_case(&p.sha256) {
                return Err(in_part(
                    Error::Integrity(format!("the manifest recorded sha256 {} but the artifact now has {}", p.sha256, prec.sha256)),
                    p.index,
                    &p.logical_ref,
                ));
            }
            p.bytes = prec.bytes;
        }
        doc.completed_at = Some(format_rfc3339((self.now)()));
        doc.recount();
        self.rewrite_manifest(&rec, &doc)
    }

    /// Replaces the document of `rec`, keeping its identity, scope, producer and expiry.
    fn rewrite_manifest(&self, rec: &Record, doc: &Manifest) -> Result<PutResult, Error> {
        let now = (self.now)();
        let put = PutOptions {
            content_type: Some(CONTENT_TYPE.into()),
            compression: Some(rec.compression),
            bucket: Some(rec.bucket.clone()),
            name: Some(rec.name.clone()),
            if_exists: Some(IfExists::Overwrite),
            created_by: rec.created_by.clone(),
            store: Some(rec.location.driver.clone()),
            execution_id: rec.execution_id.clone(),
            scope: Some(rec.scope),
            ttl: rec.expires_at.map(|e| format!("{}ms", e.saturating_sub(now).max(1))),
            kind: Some(Kind::Manifest),
            ..Default::default()
        };
        let mut res = self.put_as(&doc.to_bytes(), &put, true)?;
        if res.record.id != rec.id || res.record.logical_ref != rec.logical_ref {
            return Err(Error::Metadata(format!(
                "rewriting manifest {} produced {} ({})",
                rec.logical_ref, res.record.logical_ref, res.record.id
            )));
        }
        if res.record.expires_at != rec.expires_at {
            res.record.expires_at = rec.expires_at;
            self.metadata.update(&res.record)?;
            res.result_ref = crate::result_ref::to_json(&res.record);
        }
        res.created = false;
        Ok(res)
    }

    /// `get` of a manifest record with `resolve_manifest` on: the body is JSON, shaped as the
    /// module docs say.
    pub(crate) fn get_resolved_manifest(&self, rec: Record, opts: &GetOptions) -> Result<GetResult, Error> {
        if opts.range.is_some() {
            return Err(Error::InvalidArgument(
                "a range cannot apply to a resolved manifest (set resolve_manifest to false to read the document)".into(),
            ));
        }
        let limits = Limits::of(opts);
        let doc = self.load_manifest(&rec)?;
        let mut r = Resolver::new(self, limits);
        let parts = r.parts(&rec, &doc)?;
        let body = envelope(&doc, parts, limits.mode)?;
        let _ = self.metadata.touch(&rec.id, (self.now)());
        Ok(GetResult { data: Body::Json(body), meta: rec })
    }

    /// Opens a reader yielding `manifest`'s parts one at a time. `max_bytes` caps each part
    /// (default 256 MiB); `mode` and the manifest limits apply as for `get`.
    pub fn open_parts(&self, manifest: &str, opts: &GetOptions) -> Result<PartReader, Error> {
        if opts.range.is_some() {
            return Err(Error::InvalidArgument("a range cannot apply to a part reader".into()));
        }
        let (rec, doc) = self.manifest(manifest)?;
        let limits = Limits::of(opts);
        let mut probe = Resolver::new(self, limits);
        probe.check_shape(&doc)?;
        probe.count_parts(doc.parts.len())?;
        let _ = self.metadata.touch(&rec.id, (self.now)());
        Ok(PartReader {
            store: self.clone(),
            meta: rec,
            doc,
            next: 0,
            limits,
            failed: None,
            held: 0,
            peak_held_parts: 0,
            peak_held_bytes: 0,
        })
    }
}

/// Yields a manifest's resolved parts in index order. Holds the manifest document and, only while
/// [`PartReader::next`] runs, one part body. After an error every later call returns that error.
pub struct PartReader {
    store: Store,
    meta: Record,
    doc: Manifest,
    next: usize,
    limits: Limits,
    failed: Option<Error>,
    held: u32,
    peak_held_parts: u32,
    peak_held_bytes: u64,
}

impl PartReader {
    /// The manifest's record.
    pub fn meta(&self) -> &Record {
        &self.meta
    }

    /// The manifest document.
    pub fn manifest(&self) -> &Manifest {
        &self.doc
    }

    /// Part bodies held by the reader right now (0 between calls).
    pub fn held_parts(&self) -> u32 {
        self.held
    }

    /// Most part bodies the reader ever held at once.
    pub fn peak_held_parts(&self) -> u32 {
        self.peak_held_parts
    }

    /// Largest part body (logical bytes, or a nested manifest's value) the reader held.
    pub fn peak_held_bytes(&self) -> u64 {
        self.peak_held_bytes
    }

    /// The next part, or `None` after the last.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Part>, Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let Some(e) = self.doc.parts.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        let mut r = Resolver::new(&self.store, self.limits);
        r.parts_seen = self.doc.parts.len() as u64;
        r.stack.push((self.meta.id.clone(), self.meta.logical_ref.clone()));
        match r.part(e) {
            Ok(p) => {
                let size = match &p.data {
                    Body::Json(s) | Body::Text(s) => s.len() as u64,
                    Body::Bytes(b) => b.len() as u64,
                };
                self.held += 1;
                self.peak_held_parts = self.peak_held_parts.max(self.held);
                self.peak_held_bytes = self.peak_held_bytes.max(size);
                let part = Part { index: p.index, data: p.data, meta: p.meta };
                self.held -= 1;
                Ok(Some(part))
            }
            Err(err) => {
                let err = in_part(err, e.index, &e.logical_ref);
                self.failed = Some(err.clone());
                Err(err)
            }
        }
    }
}

#[cfg(test)]
mod tests;
