//! Signed read URLs that carry the record a read needs (`artifact sign --carry`), so a read
//! touches storage only, never the metadata store: the answer for many edges sharing one
//! database (issue 15).
//!
//! The URL is a plain signed URL plus `rec=<base64url of the carried text>`, and the signature
//! covers that text under its own scheme line (`ARTIFACT-HMAC-SHA256-RECORD`), so a carried URL
//! never verifies as a plain one or the other way round. The text is one field per line:
//!
//! ```text
//! c1
//! <object URI>
//! <logical bytes>
//! <stored bytes>
//! <sha256, 64 lowercase hex>
//! <compression: none | gzip | deflate>
//! <content type>
//! <updated_at, unix ms: the version>
//! <expires_at, unix ms, or empty>
//! ```
//!
//! Every byte served is still verified against the carried SHA-256 (and the object's chunk
//! index, which is bound to it), so a carried URL can never serve other bytes than the version
//! it was signed for.
//!
//! **Revocation.** A read by lookup stops the moment a record is deleted. A carried read does
//! not see the record, and a content-addressed object can outlive its artifact (another
//! artifact with the same bytes keeps it), so the store leaves a *tombstone* for every version
//! it deletes or replaces: the object `<driver>://revoked/<id>/<updated_at>` on the version's
//! own storage, written before the record changes. A carried read `stat`s that one URI and
//! refuses the version if it exists; an expired version is refused by its carried expiry. `gc`
//! removes tombstones once every URL that could name them has expired ([`TOMBSTONE_KEEP_MS`]).
//! The trade-off: one small storage write per delete or overwrite, and one `stat` per carried
//! read instead of one metadata lookup; reads by carried URL do not count in `access_count`.

use super::{b64_exact, number_exact, Keys, SignOptions};
use crate::backend::Storage;
use crate::encoding::base64url;
use crate::model::{Compression, Error, Kind, Location, Record, Timestamp};

/// First segment of tombstone paths: reserved, like `blobs/` and `index/`.
pub const REVOKED_PREFIX: &str = "revoked";
/// How long `gc` keeps a tombstone: the longest URL lifetime plus a day of clock skew.
pub const TOMBSTONE_KEEP_MS: u64 = (super::MAX_TTL_SECS + 24 * 3600) * 1000;
/// The query parameter holding the carried text.
pub const PARAM: &str = "rec";
/// Scheme line of the canonical string of a carried URL.
pub(crate) const SCHEME: &str = "ARTIFACT-HMAC-SHA256-RECORD";
const VERSION: &str = "c1";

/// What a read needs of a record, carried under a URL's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Carried {
    pub uri: String,
    pub bytes: u64,
    pub stored_bytes: u64,
    pub sha256: String,
    pub compression: Compression,
    pub content_type: String,
    pub updated_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

fn bad(m: &str) -> Error {
    super::forbidden(&format!("malformed signature: {m}"))
}

/// A field fits on one line of the carried text.
fn one_line(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(char::is_control)
}

fn is_sha(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Carried {
    /// What `rec` lets a read carry. Manifests are refused: their body is assembled from other
    /// records, so they are read by lookup.
    pub fn of(rec: &Record) -> Result<Carried, Error> {
        if rec.kind == Kind::Manifest {
            return Err(Error::InvalidArgument(format!(
                "{} is a manifest; its parts are looked up, so it cannot be signed with the record carried",
                rec.id
            )));
        }
        if !one_line(&rec.location.uri) || !one_line(&rec.content_type) || !is_sha(&rec.sha256) {
            return Err(Error::InvalidArgument(format!("record {} cannot be carried in a URL", rec.id)));
        }
        Ok(Carried {
            uri: rec.location.uri.clone(),
            bytes: rec.bytes,
            stored_bytes: rec.stored_bytes,
            sha256: rec.sha256.clone(),
            compression: rec.compression,
            content_type: rec.content_type.clone(),
            updated_at: rec.updated_at,
            expires_at: rec.expires_at,
        })
    }

    /// The canonical text (signed, and base64url-encoded into the URL).
    pub fn text(&self) -> String {
        let exp = self.expires_at.map(|e| e.to_string()).unwrap_or_default();
        format!(
            "{VERSION}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{exp}",
            self.uri,
            self.bytes,
            self.stored_bytes,
            self.sha256,
            self.compression.as_str(),
            self.content_type,
            self.updated_at
        )
    }

    /// The value of the URL's `rec` parameter.
    pub fn param(&self) -> String {
        base64url(self.text().as_bytes())
    }

    /// Parses a `rec` parameter: exactly the spelling [`Carried::param`] writes, else
    /// `forbidden`. Returns the carried record and its text (what the signature covers).
    pub fn parse_param(v: &str) -> Result<(Carried, String), Error> {
        let raw = b64_exact(v, None).ok_or_else(|| bad("rec is not unpadded base64url"))?;
        let text = String::from_utf8(raw).map_err(|_| bad("rec is not UTF-8"))?;
        let f: Vec<&str> = text.split('\n').collect();
        let [version, uri, bytes, stored, sha, compression, content_type, updated, expires] = f[..] else {
            return Err(bad("rec has the wrong number of fields"));
        };
        if version != VERSION {
            return Err(bad("rec is of an unknown version"));
        }
        let c = Carried {
            uri: uri.to_string(),
            bytes: number_exact(bytes).ok_or_else(|| bad("rec bytes"))?,
            stored_bytes: number_exact(stored).ok_or_else(|| bad("rec stored bytes"))?,
            sha256: sha.to_string(),
            compression: Compression::parse(compression).map_err(|_| bad("rec compression"))?,
            content_type: content_type.to_string(),
            updated_at: number_exact(updated).ok_or_else(|| bad("rec updated_at"))?,
            expires_at: match expires {
                "" => None,
                e => Some(number_exact(e).ok_or_else(|| bad("rec expires_at"))?),
            },
        };
        if !one_line(&c.uri) || !c.uri.contains("://") || !one_line(&c.content_type) || !is_sha(&c.sha256) {
            return Err(bad("rec fields"));
        }
        // The one spelling: what we would write for these fields.
        if c.text() != text {
            return Err(bad("rec is not in canonical form"));
        }
        Ok((c, text))
    }

    /// The record a read of artifact `id` works from (fields a read does not use are empty).
    pub fn record(&self, id: &str) -> Record {
        Record {
            id: id.to_string(),
            content_type: self.content_type.clone(),
            compression: self.compression,
            bytes: self.bytes,
            stored_bytes: self.stored_bytes,
            sha256: self.sha256.clone(),
            location: Location {
                driver: self.uri.split_once("://").map_or("", |(d, _)| d).to_string(),
                uri: self.uri.clone(),
            },
            created_at: self.updated_at,
            updated_at: self.updated_at,
            expires_at: self.expires_at,
            ..Default::default()
        }
    }
}

/// Whether version `updated_at` of artifact `id`, stored at `object_uri`, is revoked (its
/// tombstone exists on `storage`). One `stat`.
pub fn is_revoked(storage: &dyn Storage, object_uri: &str, id: &str, updated_at: Timestamp) -> Result<bool, Error> {
    match revoked_uri(object_uri, id, updated_at) {
        Some(t) => Ok(storage.stat(&t)?.is_some()),
        None => Ok(false),
    }
}

/// Mints a carried URL path for `rec` (looked up live by the caller) unless its version is
/// revoked (a delete or overwrite under way, or killed half-way): then `conflict`.
pub fn sign_unrevoked(storage: &dyn Storage, keys: &Keys, rec: &Record, now_secs: u64, ttl_secs: u64, o: &SignOptions) -> Result<String, Error> {
    if is_revoked(storage, &rec.location.uri, &rec.id, rec.updated_at)? {
        return Err(Error::Conflict(format!(
            "artifact {} is being deleted or replaced (its version is revoked); sign it without carrying the record",
            rec.id
        )));
    }
    super::sign_carried(keys, rec, now_secs, ttl_secs, o)
}

/// The tombstone URI of version `updated_at` of artifact `id` whose object is at `object_uri`
/// (on the same driver); `None` for a URI without a scheme.
pub fn revoked_uri(object_uri: &str, id: &str, updated_at: Timestamp) -> Option<String> {
    let (driver, _) = object_uri.split_once("://")?;
    Some(format!("{driver}://{REVOKED_PREFIX}/{id}/{updated_at}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> Record {
        Record {
            id: "01M84EG4VHHF84MF34ZRCQAC3P".into(),
            kind: Kind::ResultRef,
            content_type: "text/csv; charset=utf-8".into(),
            compression: Compression::Gzip,
            bytes: 4096,
            stored_bytes: 1000,
            sha256: "ab".repeat(32),
            location: Location { driver: "fs".into(), uri: "fs://blobs/sha256/ab/x.gz".into() },
            updated_at: 1_780_000_000_123,
            expires_at: Some(1_790_000_000_000),
            ..Default::default()
        }
    }

    #[test]
    fn the_param_round_trips_in_one_spelling() {
        let c = Carried::of(&rec()).unwrap();
        let (back, text) = Carried::parse_param(&c.param()).unwrap();
        assert_eq!(back, c);
        assert_eq!(text, c.text());
        let r = back.record(&rec().id);
        assert_eq!((r.location.driver.as_str(), r.bytes, r.expires_at), ("fs", 4096, rec().expires_at));
        let no_exp = Carried { expires_at: None, ..c.clone() };
        assert_eq!(Carried::parse_param(&no_exp.param()).unwrap().0, no_exp);
    }

    #[test]
    fn other_spellings_and_bad_fields_are_forbidden() {
        let c = Carried::of(&rec()).unwrap();
        let text = c.text();
        let variants = [
            text.replace("\n4096\n", "\n04096\n"),
            text.replace("c1\n", "c2\n"),
            text.replace("gzip", "GZIP"),
            text.replace(&"ab".repeat(32), &"AB".repeat(32)),
            text.replace("fs://blobs", "blobs"),
            format!("{text}\nextra"),
            text.replace("\n1790000000000", "\n+1790000000000"),
            text.replace("text/csv", "text/\u{7}csv"),
        ];
        for v in &variants {
            let e = Carried::parse_param(&base64url(v.as_bytes())).unwrap_err();
            assert!(matches!(e, Error::Forbidden(_)), "{v:?}: {e:?}");
        }
        // Padded or standard-alphabet base64 of the right text is another spelling.
        let p = c.param();
        for v in [format!("{p}="), p.replace('-', "+").replace('_', "/"), "%41".into(), String::new()] {
            if v != p {
                assert!(matches!(Carried::parse_param(&v), Err(Error::Forbidden(_))), "{v:?}");
            }
        }
    }

    #[test]
    fn manifests_and_uncarriable_records_are_refused() {
        let mut m = rec();
        m.kind = Kind::Manifest;
        assert!(matches!(Carried::of(&m), Err(Error::InvalidArgument(_))));
        let mut r = rec();
        r.content_type = "a\nb".into();
        assert!(matches!(Carried::of(&r), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn tombstones_live_on_the_objects_driver() {
        assert_eq!(revoked_uri("s3://bucket/blobs/x", "ID", 7).as_deref(), Some("s3://revoked/ID/7"));
        assert_eq!(revoked_uri("no-scheme", "ID", 7), None);
    }
}
