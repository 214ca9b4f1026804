//! Plain Rust mirrors of the WIT types. The component glue converts these to and from the
//! generated bindings; the host reuses them as its public vocabulary.

use std::fmt;

/// Milliseconds since the Unix epoch, UTC.
pub type Timestamp = u64;

/// Encoding of stored bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Deflate,
}

impl Compression {
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Deflate => "deflate",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "none" | "" => Ok(Compression::None),
            "gzip" => Ok(Compression::Gzip),
            "deflate" => Ok(Compression::Deflate),
            other => Err(Error::InvalidArgument(format!(
                "unknown compression {other:?} (expected none, gzip or deflate)"
            ))),
        }
    }
    /// File suffix of content-addressed blobs in this encoding.
    pub fn blob_suffix(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Deflate => ".zz",
        }
    }
}

/// Presentation of a body returned by `get`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Json,
    Text,
    Bytes,
}

impl Mode {
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "json" => Ok(Mode::Json),
            "text" => Ok(Mode::Text),
            "bytes" => Ok(Mode::Bytes),
            other => Err(Error::InvalidArgument(format!(
                "unknown mode {other:?} (expected json, text or bytes)"
            ))),
        }
    }
}

/// Lifetime class of a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Scope {
    Step,
    Execution,
    Workflow,
    #[default]
    Permanent,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Step => "step",
            Scope::Execution => "execution",
            Scope::Workflow => "workflow",
            Scope::Permanent => "permanent",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "step" => Ok(Scope::Step),
            "execution" => Ok(Scope::Execution),
            "workflow" => Ok(Scope::Workflow),
            "permanent" => Ok(Scope::Permanent),
            other => Err(Error::InvalidArgument(format!("unknown scope {other:?}"))),
        }
    }
}

/// What an artifact is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Kind {
    #[default]
    ResultRef,
    TempRef,
    Manifest,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ResultRef => "result_ref",
            Kind::TempRef => "temp_ref",
            Kind::Manifest => "manifest",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "result_ref" | "result-ref" => Ok(Kind::ResultRef),
            "temp_ref" | "temp-ref" => Ok(Kind::TempRef),
            "manifest" => Ok(Kind::Manifest),
            other => Err(Error::InvalidArgument(format!("unknown kind {other:?}"))),
        }
    }
}

/// A range over the logical body; ends are inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// `start..=end`.
    Bounded { start: u64, end: u64 },
    /// `start..` to the end.
    From(u64),
    /// The last N bytes.
    Suffix(u64),
}

/// Where stored bytes live.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Location {
    pub driver: String,
    pub uri: String,
}

/// One artifact's metadata row.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Record {
    pub id: String,
    pub bucket: String,
    pub name: String,
    pub logical_ref: String,
    pub kind: Kind,
    pub content_type: String,
    pub compression: Compression,
    pub bytes: u64,
    pub stored_bytes: u64,
    pub sha256: String,
    pub location: Location,
    pub scope: Scope,
    pub store_tier: String,
    pub execution_id: Option<String>,
    pub created_by: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub preview: Option<String>,
    pub extracted: Option<String>,
}

/// Get-or-create policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IfExists {
    #[default]
    Get,
    Overwrite,
    Fail,
}

impl IfExists {
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "get" | "skip" => Ok(IfExists::Get),
            "overwrite" => Ok(IfExists::Overwrite),
            "fail" => Ok(IfExists::Fail),
            other => Err(Error::InvalidArgument(format!(
                "unknown if-exists policy {other:?} (expected get, overwrite or fail)"
            ))),
        }
    }
}

/// Sort order of listings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    OldestFirst,
    NewestFirst,
}

/// Listing filters.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ListQuery {
    pub bucket: Option<String>,
    pub name: Option<String>,
    pub name_prefix: Option<String>,
    pub created_by: Option<String>,
    pub created_after: Option<Timestamp>,
    pub created_before: Option<Timestamp>,
    pub uri: Option<String>,
    pub expired_before: Option<Timestamp>,
    pub order: Order,
    pub cursor: Option<String>,
    pub limit: u32,
}

impl ListQuery {
    /// Whether `r` passes every filter (cursor and limit aside).
    pub fn matches(&self, r: &Record) -> bool {
        fn eq(f: &Option<String>, v: &str) -> bool {
            f.as_deref().is_none_or(|f| f == v)
        }
        eq(&self.bucket, &r.bucket)
            && eq(&self.name, &r.name)
            && self.name_prefix.as_deref().is_none_or(|p| r.name.starts_with(p))
            && self.created_by.as_deref().is_none_or(|c| r.created_by.as_deref() == Some(c))
            && self.created_after.is_none_or(|t| r.created_at >= t)
            && self.created_before.is_none_or(|t| r.created_at < t)
            && eq(&self.uri, &r.location.uri)
            && self
                .expired_before
                .is_none_or(|t| r.expires_at.is_some_and(|e| e < t))
    }
}

/// A page of records.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Page {
    pub records: Vec<Record>,
    pub next_cursor: Option<String>,
}

/// Count and total bytes of a bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct BucketSummary {
    pub count: u64,
    pub total_bytes: u64,
}

/// The closed error set. Mirrors WIT `types.error`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    NotFound(String),
    InvalidRef(String),
    InvalidArgument(String),
    TooLarge { limit: u64, needed: u64 },
    RangeNotSatisfiable(u64),
    Integrity(String),
    Decode(String),
    Conflict(String),
    Forbidden(String),
    Expired(String),
    Storage(String),
    Metadata(String),
}

impl Error {
    /// The WIT case name, e.g. `too-large`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NotFound(_) => "not-found",
            Error::InvalidRef(_) => "invalid-ref",
            Error::InvalidArgument(_) => "invalid-argument",
            Error::TooLarge { .. } => "too-large",
            Error::RangeNotSatisfiable(_) => "range-not-satisfiable",
            Error::Integrity(_) => "integrity",
            Error::Decode(_) => "decode",
            Error::Conflict(_) => "conflict",
            Error::Forbidden(_) => "forbidden",
            Error::Expired(_) => "expired",
            Error::Storage(_) => "storage",
            Error::Metadata(_) => "metadata",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TooLarge { limit, needed: 0 } => {
                write!(f, "body exceeds the limit of {limit} bytes")
            }
            Error::TooLarge { limit, needed } => {
                write!(f, "body of {needed} bytes exceeds the limit of {limit} bytes")
            }
            Error::RangeNotSatisfiable(size) => {
                write!(f, "range not satisfiable for a body of {size} bytes")
            }
            Error::NotFound(m)
            | Error::InvalidRef(m)
            | Error::InvalidArgument(m)
            | Error::Integrity(m)
            | Error::Decode(m)
            | Error::Conflict(m)
            | Error::Forbidden(m)
            | Error::Expired(m)
            | Error::Storage(m)
            | Error::Metadata(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

/// Options of `put` (all optional, defaults documented in the WIT).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PutOptions {
    pub content_type: Option<String>,
    pub compression: Option<Compression>,
    pub bucket: Option<String>,
    pub name: Option<String>,
    pub if_exists: Option<IfExists>,
    pub created_by: Option<String>,
    pub store: Option<String>,
    pub execution_id: Option<String>,
    pub step: Option<String>,
    pub scope: Option<Scope>,
    pub ttl: Option<String>,
    pub kind: Option<Kind>,
    pub max_bytes: Option<u64>,
    pub precompressed: Option<bool>,
}

/// Bounds on manifest resolution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ManifestLimits {
    pub max_depth: Option<u32>,
    pub max_parts: Option<u32>,
}

/// Options of `get`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GetOptions {
    pub mode: Option<Mode>,
    pub max_bytes: Option<u64>,
    pub range: Option<ByteRange>,
    pub resolve_manifest: Option<bool>,
    pub manifest_limits: Option<ManifestLimits>,
}

/// A decoded body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    Json(String),
    Text(String),
    Bytes(Vec<u8>),
}

/// Result of `get`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetResult {
    pub data: Body,
    pub meta: Record,
}

/// Result of `put`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutResult {
    pub record: Record,
    pub created: bool,
    pub result_ref: String,
}

/// What `gc` removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    pub records: Vec<String>,
    pub blobs: Vec<String>,
    /// Staged writes of killed puts removed.
    pub staging: u32,
}

/// Options of `externalize` (defaults documented in the WIT and [`crate::externalize`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExternalizeOptions {
    /// Results whose JSON text is longer than this are stored; default 65536.
    pub inline_max_bytes: Option<u64>,
    /// Budget of the preview, in bytes of compact JSON; default 1024, at least 64.
    pub preview_max_bytes: Option<u64>,
    /// Selection paths copied into `extracted` (see [`crate::select`]).
    pub select: Vec<String>,
    /// Where and how to store when over the threshold.
    pub put: PutOptions,
}

/// Result of `externalize`. Never carries the full payload when it was over the threshold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Externalized {
    /// The result's JSON text, when at or under the threshold.
    pub inline: Option<String>,
    /// The ResultRef JSON, when stored.
    pub result_ref: Option<String>,
    /// The bounded preview, as JSON text.
    pub preview: String,
    /// The selected fields, as a JSON object text.
    pub extracted: String,
    /// Why the call could not store (or could not even start); `inline` is then `None`.
    pub error: Option<Error>,
}
