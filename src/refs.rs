//! References: logical `noetl://` URIs, bucket/name rules, and the one parser that turns any ref
//! string (ResultRef JSON, logical URI, `bucket/name`, id) into a [`Ref`].

use crate::model::Error;

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
    let t = s.trim();
    if t.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(t)
            .map_err(|e| Error::InvalidRef(format!("ResultRef is not valid JSON: {e}")))?;
        let uri = v.get("ref").and_then(|r| r.as_str()).ok_or_else(|| {
            Error::InvalidRef("ResultRef has no string field \"ref\"".into())
        })?;
        let logical = Logical::parse(uri)?.to_string();
        let sha256 = v
            .get("meta")
            .and_then(|m| m.get("sha256"))
            .and_then(|d| d.as_str())
            .map(str::to_string);
        return Ok(Ref::ResultRef { logical, sha256 });
    }
    if t.starts_with("noetl:") {
        return Ok(Ref::Logical(Logical::parse(t)?.to_string()));
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
    Err(Error::InvalidRef(format!(
        "{t:?} is not an artifact id, a noetl:// URI, bucket/name or a ResultRef object"
    )))
}

fn as_ref_error(e: Error) -> Error {
    match e {
        Error::InvalidArgument(m) => Error::InvalidRef(m),
        other => other,
    }
}

/// A logical URI: `noetl://` followed by one or more non-empty, individually percent-encoded
/// segments. Holds the decoded segments; printing re-encodes them canonically.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logical {
    pub segments: Vec<String>,
}

const SCHEME: &str = "noetl://";

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
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

fn decode_segment(seg: &str, uri: &str) -> Result<String, Error> {
    let bad = |why: &str| Error::InvalidRef(format!("{why} in {uri:?}"));
    if seg.is_empty() {
        return Err(bad("empty segment"));
    }
    let bytes = seg.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'%' => {
                let (h, l) = match (bytes.get(i + 1).and_then(|&x| hex(x)), bytes.get(i + 2).and_then(|&x| hex(x))) {
                    (Some(h), Some(l)) => (h, l),
                    _ => return Err(bad("bad percent-encoding (expected %XX, uppercase hex)")),
                };
                let v = h << 4 | l;
                if is_unreserved(v) {
                    return Err(bad("needlessly percent-encoded character"));
                }
                out.push(v);
                i += 3;
            }
            b'?' => return Err(bad("query not allowed")),
            b'#' => return Err(bad("fragment not allowed")),
            b';' => return Err(bad("parameters not allowed")),
            b if is_unreserved(b) => {
                out.push(b);
                i += 1;
            }
            _ => return Err(bad(&format!("character {:?} must be percent-encoded", b as char))),
        }
    }
    String::from_utf8(out).map_err(|_| bad("segment is not UTF-8 after decoding"))
}

impl Logical {
    /// Parses a canonical logical URI.
    pub fn parse(uri: &str) -> Result<Self, Error> {
        let rest = uri
            .strip_prefix(SCHEME)
            .ok_or_else(|| Error::InvalidRef(format!("{uri:?} does not start with noetl://")))?;
        if rest.is_empty() {
            return Err(Error::InvalidRef(format!("{uri:?} has no segments")));
        }
        let segments = rest
            .split('/')
            .map(|s| decode_segment(s, uri))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Logical { segments })
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
mod tests {
    use super::*;

    #[test]
    fn round_trips_awkward_names() {
        for name in ["a/b", "snake_case", "50%", "with space", "ünï", "x.json.gz"] {
            let l = Logical::execution("e1", false, name, "01ARZ3NDEKTSV4RRFFQ69G5FAV");
            let s = l.to_string();
            assert_eq!(Logical::parse(&s).unwrap(), l, "{s}");
            assert_eq!(Logical::parse(&s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn rejects_malformed_uris() {
        for bad in [
            "noetl://", "noetl://a//b", "noetl://a/", "noetl://a?x=1", "noetl://a#f", "noetl://a;p",
            "noetl://a%2", "noetl://a%zz", "noetl://a%2f", "noetl://a%41", "http://a/b", "noetl:/a",
            "noetl://a b", "noetl://%FF",
        ] {
            assert!(matches!(Logical::parse(bad), Err(Error::InvalidRef(_))), "{bad}");
        }
    }

    #[test]
    fn parses_every_ref_form() {
        let id = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
        assert_eq!(parse_ref(id).unwrap(), Ref::Id(id.into()));
        assert_eq!(
            parse_ref("vendor_prices/2026/a.xls").unwrap(),
            Ref::Name { bucket: "vendor_prices".into(), name: "2026/a.xls".into() }
        );
        assert!(matches!(parse_ref("noetl://execution/1/result/x/y").unwrap(), Ref::Logical(_)));
        let rr = r#"{"kind":"result_ref","ref":"noetl://execution/1/result/x/y","meta":{"sha256":"ab"},"extra":1}"#;
        assert_eq!(
            parse_ref(rr).unwrap(),
            Ref::ResultRef { logical: "noetl://execution/1/result/x/y".into(), sha256: Some("ab".into()) }
        );
        for bad in ["", "nope", "{not json", r#"{"kind":"result_ref"}"#, "s3://x/y", "Bad/x", "b/../x"] {
            assert!(matches!(parse_ref(bad), Err(Error::InvalidRef(_))), "{bad}");
        }
    }

    #[test]
    fn bucket_and_name_rules() {
        assert!(validate_bucket("vendor_prices").is_ok());
        for b in ["", "Upper", "-x", "a/b", &"a".repeat(64)] {
            assert!(validate_bucket(b).is_err(), "{b}");
        }
        assert!(validate_name("VectorAnalitico_2026_03_15.xls").is_ok());
        assert!(validate_name("folder/sub/file.txt").is_ok());
        for n in ["", "/abs", "a//b", "a/./b", "../x", "tab\tx", "back\\slash", "trailing/"] {
            assert!(validate_name(n).is_err(), "{n}");
        }
    }
}
