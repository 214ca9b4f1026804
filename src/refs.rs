//! References: logical `noetl://` URIs, bucket/name rules, and the one parser that turns any ref
//! string (ResultRef JSON, logical URI, `bucket/name`, id) into a [`Ref`].

use crate::model::Error;

pub mod noetl;

/// A parsed reference, before lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ref {
    /// An artifact id.
    Id(String),
    /// A canonical logical URI.
    Logical(String),
    /// Bucket and name.
    Name { bucket: String, name: String },
    /// A ResultRef JSON object: its logical URI and, when present, the digest it promises.
    ResultRef { logical: String, sha256: Option<String> },
}

/// Parses any accepted ref form; see WIT `artifacts` for the order.
pub fn parse_ref(s: &str) -> Result<Ref, Error> {
    // The common case first: a bare id (its alphabet has no blank, `{`, `:` or `/`, so no rule
    // below could read it otherwise).
    if crate::ids::is_valid(s) {
        return Ok(Ref::Id(s.into()));
    }
    let t = s.trim();
    if t.starts_with('{') {
        let v: serde_json::Value =
            serde_json::from_str(t).map_err(|e| Error::InvalidRef(format!("ResultRef is not valid JSON: {e}")))?;
        let uri = v
            .get("ref")
            .and_then(|r| r.as_str())
            .ok_or_else(|| Error::InvalidRef("ResultRef has no string field \"ref\"".into()))?;
        let logical = Logical::parse(uri)?.to_string();
        let sha256 = v.get("meta").and_then(|m| m.get("sha256")).and_then(|d| d.as_str()).map(str::to_string);
        return Ok(Ref::ResultRef { logical, sha256 });
    }
    // Whatever NoETL reads as a `noetl:` locator (any case, after the blanks and controls its
    // parser skips) is a logical URI, never a bucket/name or an id.
    if noetl::has_noetl_scheme(s) {
        return Ok(Ref::Logical(Logical::parse(s)?.to_string()));
    }
    if t.contains("://") {
        return Err(Error::InvalidRef(format!("unsupported ref scheme in {t:?} (expected noetl://)")));
    }
    if let Some((bucket, name)) = t.split_once('/') {
        validate_bucket(bucket).map_err(as_ref_error)?;
        validate_name(name).map_err(as_ref_error)?;
        return Ok(Ref::Name { bucket: bucket.into(), name: name.into() });
    }
    if crate::ids::is_valid(t) {
        return Ok(Ref::Id(t.into()));
    }
    Err(Error::InvalidRef(format!("{t:?} is not an artifact id, a noetl:// URI, bucket/name or a ResultRef object")))
}

fn as_ref_error(e: Error) -> Error {
    match e {
        Error::InvalidArgument(m) => Error::InvalidRef(m),
        other => other,
    }
}

/// A logical URI: `noetl://` followed by one or more non-empty, individually percent-encoded
/// segments. Holds the decoded segments; printing re-encodes them canonically.
///
/// Parsing reads a locator exactly as NoETL does (see [`noetl`]): lenient about the scheme's
/// case, blanks, empty segments and escapes, but refusing what NoETL refuses. Printing is
/// always canonical: `noetl://`, the segments joined by `/`, each with every byte but
/// `A-Z a-z 0-9 - . _ ~` escaped as uppercase `%XX` (what NoETL's `str(locator)` prints too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logical {
    pub segments: Vec<String>,
}

const SCHEME: &str = "noetl://";

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Percent-encodes one segment: every byte except unreserved ones becomes `%XX` (uppercase).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if is_unreserved(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether a decoded segment may contain `/`. NoETL refuses it (its segments never hold one),
/// but our own URIs escape the `/` of folder-style names and execution ids as `%2F`
/// (`noetl://artifact/vendor/2026%2Fq1.json/<id>`), and those must keep resolving. This is the
/// one place where we accept a locator NoETL refuses; NoETL never writes such a locator.
const ACCEPT_ESCAPED_SLASH: bool = true;

impl Logical {
    /// Parses a logical URI as NoETL does: every locator NoETL accepts gives the same segments,
    /// every one it refuses is `invalid-ref` (except an escaped `/`, see `ACCEPT_ESCAPED_SLASH`).
    pub fn parse(uri: &str) -> Result<Self, Error> {
        noetl::parse_with(uri, ACCEPT_ESCAPED_SLASH)
            .map(|segments| Logical { segments })
            .map_err(|r| Error::InvalidRef(format!("invalid logical URI {uri:?}: {}", r.why())))
    }

    /// Whether printing and parsing back gives these segments again: each is non-empty and has
    /// no leading or trailing blanks (NoETL trims them).
    pub fn is_canonical(&self) -> bool {
        !self.segments.is_empty() && self.segments.iter().all(|s| !s.is_empty() && noetl::py_strip(s).len() == s.len())
    }

    /// `noetl://execution/<eid>/result/<name>/<id>` (or `manifest` for manifests).
    pub fn execution(eid: &str, manifest: bool, name: &str, id: &str) -> Self {
        let kind = if manifest { "manifest" } else { "result" };
        Logical { segments: vec!["execution".into(), eid.into(), kind.into(), name.into(), id.into()] }
    }

    /// `noetl://artifact/<bucket>/<name>/<id>`: the form of artifacts put outside an execution.
    pub fn artifact(bucket: &str, name: &str, id: &str) -> Self {
        Logical { segments: vec!["artifact".into(), bucket.into(), name.into(), id.into()] }
    }
}

impl std::fmt::Display for Logical {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(SCHEME)?;
        for (i, s) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            f.write_str(&encode_segment(s))?;
        }
        Ok(())
    }
}

/// Bucket rule: 1–63 characters of `a-z 0-9 . _ -`, starting with a letter or digit.
pub fn validate_bucket(b: &str) -> Result<(), Error> {
    let ok = !b.is_empty()
        && b.len() <= 63
        && b.as_bytes()[0].is_ascii_alphanumeric()
        && b.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "invalid bucket {b:?}: use 1-63 characters a-z, 0-9, '.', '_', '-', starting with a letter or digit"
        )))
    }
}

/// Name rule: 1–1024 bytes of UTF-8 without control characters or `\`; `/` separates
/// folder-style segments, which must be non-empty and not `.` or `..`.
pub fn validate_name(n: &str) -> Result<(), Error> {
    let why = if n.is_empty() {
        Some("it is empty")
    } else if n.len() > 1024 {
        Some("it is longer than 1024 bytes")
    } else if n.chars().any(|c| c.is_control() || c == '\\') {
        Some("it contains a control character or '\\'")
    } else if n.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        Some("a '/'-separated segment is empty, '.' or '..'")
    } else {
        None
    };
    match why {
        None => Ok(()),
        Some(w) => Err(Error::InvalidArgument(format!("invalid name {n:?}: {w}"))),
    }
}

#[cfg(test)]
mod tests;
