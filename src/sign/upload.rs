//! Signed uploads: `PUT /v1/uploads?grant=<g>&sig=<s>` stores the request body as bucket + name,
//! within the bounds the signer chose. Same keys as signed reads ([`super::Keys`]).
//!
//! The grant is the canonical text below, in unpadded base64url; `sig` is the HMAC-SHA256 of that
//! text under key `kid`, also unpadded base64url:
//!
//! ```text
//! ARTIFACT-HMAC-SHA256-PUT
//! <bucket>
//! <name>
//! <content type>
//! <max bytes>
//! <compression: none | gzip | deflate>
//! <exp: unix seconds>
//! <kid>
//! ```
//!
//! Everything a client could want to change is under the signature, and each grant has one
//! spelling: the base64url must be canonical, numbers have no leading zeros, no field may hold a
//! line break (the bucket and name rules already forbid control characters). The stored
//! artifact gets exactly the signed bucket, name, content type and compression, and the body
//! may not exceed the signed size (checked while streaming). Uploads keep get-or-create: a pair
//! that exists is returned as it is.

use super::{b64_exact, forbidden, mac, number_exact, Keys, MAX_TTL_SECS};
use crate::encoding::base64url;
use crate::model::{Compression, Error, PutOptions};
use hmac::Mac;

/// Path of signed uploads.
pub const UPLOAD_PATH: &str = "/v1/uploads";
/// Largest size a grant may allow (1 TiB).
pub const MAX_GRANT_BYTES: u64 = 1 << 40;

const SCHEME: &str = "ARTIFACT-HMAC-SHA256-PUT";

/// What the signer binds besides bucket, name and lifetime. Mirrors WIT `upload-options`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadOptions {
    /// The stored content type; default `application/octet-stream`.
    pub content_type: Option<String>,
    /// The largest body accepted, bytes (1 to 1 TiB). Required.
    pub max_bytes: u64,
    /// How the store compresses the body; default none.
    pub compression: Option<Compression>,
    /// Key id to sign with; default the active one.
    pub kid: Option<String>,
}

/// What a verified upload URL allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadGrant {
    pub bucket: String,
    pub name: String,
    pub content_type: String,
    pub max_bytes: u64,
    pub compression: Compression,
    /// Expiry, unix seconds.
    pub exp: u64,
    pub kid: String,
}

impl UploadGrant {
    fn text(&self) -> String {
        format!(
            "{SCHEME}\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.bucket,
            self.name,
            self.content_type,
            self.max_bytes,
            self.compression.as_str(),
            self.exp,
            self.kid
        )
    }

    /// The put this grant allows: get-or-create on the signed pair, capped at the signed size.
    pub fn put_options(&self) -> PutOptions {
        PutOptions {
            bucket: Some(self.bucket.clone()),
            name: Some(self.name.clone()),
            content_type: Some(self.content_type.clone()),
            compression: Some(self.compression),
            max_bytes: Some(self.max_bytes),
            ..Default::default()
        }
    }
}

fn check_content_type(ct: &str) -> Result<(), Error> {
    if ct.is_empty() || ct.len() > 255 || ct.chars().any(|c| c.is_control()) {
        return Err(Error::InvalidArgument(format!("content type {ct:?} must be 1-255 characters without control characters")));
    }
    Ok(())
}

/// Mints the upload URL (path and query) for `bucket` + `name`, valid for `ttl_secs` from
/// `now_secs` (at most 7 days).
pub fn sign_upload(keys: &Keys, bucket: &str, name: &str, now_secs: u64, ttl_secs: u64, o: &UploadOptions) -> Result<String, Error> {
    if ttl_secs == 0 || ttl_secs > MAX_TTL_SECS {
        return Err(Error::InvalidArgument(format!("ttl must be between 1 second and 7 days ({MAX_TTL_SECS} s), got {ttl_secs} s")));
    }
    crate::refs::validate_bucket(bucket)?;
    crate::refs::validate_name(name)?;
    if o.max_bytes == 0 || o.max_bytes > MAX_GRANT_BYTES {
        return Err(Error::InvalidArgument(format!("an upload's max-bytes must be between 1 and {MAX_GRANT_BYTES}, got {}", o.max_bytes)));
    }
    let content_type = o.content_type.clone().unwrap_or_else(|| "application/octet-stream".into());
    check_content_type(&content_type)?;
    let kid = o.kid.clone().unwrap_or_else(|| keys.active().to_string());
    let key = keys.key(&kid).ok_or_else(|| Error::InvalidArgument(format!("unknown key id {kid:?}")))?;
    let g = UploadGrant {
        bucket: bucket.into(),
        name: name.into(),
        content_type,
        max_bytes: o.max_bytes,
        compression: o.compression.unwrap_or_default(),
        exp: now_secs.saturating_add(ttl_secs),
        kid,
    };
    let text = g.text();
    let sig = base64url(&mac(key, &text).finalize().into_bytes());
    Ok(format!("{UPLOAD_PATH}?grant={}&sig={sig}", base64url(text.as_bytes())))
}

impl crate::store::Store {
    /// Mints a signed upload URL for `bucket` + `name` with keys from `cfg`.
    pub fn sign_upload(&self, cfg: &dyn super::Config, bucket: &str, name: &str, ttl_secs: u64, o: &UploadOptions) -> Result<String, Error> {
        sign_upload(&Keys::from_config(cfg)?, bucket, name, (self.now)() / 1000, ttl_secs, o)
    }
}

/// Verifies an upload URL's query at `now_secs`. Missing, malformed, tampered and unknown-kid
/// grants are `forbidden`; a correctly signed grant past its expiry is `expired`.
pub fn verify_upload(keys: &Keys, query: &str, now_secs: u64) -> Result<UploadGrant, Error> {
    let (mut grant, mut sig) = (None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match k {
            "grant" => &mut grant,
            "sig" => &mut sig,
            _ => continue,
        };
        if slot.is_some() {
            return Err(forbidden("malformed upload grant: a signed parameter appears twice"));
        }
        *slot = Some(v);
    }
    let (Some(grant), Some(sig)) = (grant, sig) else {
        return Err(forbidden("missing upload grant: grant and sig are required"));
    };
    let sig_bytes = b64_exact(sig, Some(32)).ok_or_else(|| forbidden("malformed upload grant: sig is not 32 bytes of unpadded base64url"))?;
    let text = b64_exact(grant, None)
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| forbidden("malformed upload grant: grant is not unpadded base64url of UTF-8"))?;
    let f: Vec<&str> = text.split('\n').collect();
    let bad = || forbidden("malformed upload grant");
    if f.len() != 8 || f[0] != SCHEME {
        return Err(bad());
    }
    let g = UploadGrant {
        bucket: f[1].into(),
        name: f[2].into(),
        content_type: f[3].into(),
        max_bytes: number_exact(f[4]).ok_or_else(bad)?,
        compression: Compression::parse(f[5]).ok().filter(|c| c.as_str() == f[5]).ok_or_else(bad)?,
        exp: number_exact(f[6]).ok_or_else(bad)?,
        kid: f[7].into(),
    };
    // An unknown kid costs the same MAC work as a known one.
    let known = keys.key(&g.kid);
    let checked = mac(known.unwrap_or(&[0u8; 32]), &text).verify_slice(&sig_bytes);
    if known.is_none() || checked.is_err() {
        return Err(forbidden("invalid signature"));
    }
    // Signed by us, so well-formed unless the rules changed since: check anyway.
    if crate::refs::validate_bucket(&g.bucket).is_err()
        || crate::refs::validate_name(&g.name).is_err()
        || check_content_type(&g.content_type).is_err()
        || g.max_bytes == 0
        || g.max_bytes > MAX_GRANT_BYTES
    {
        return Err(bad());
    }
    if g.exp <= now_secs {
        return Err(Error::Expired(format!("upload URL expired at {}", crate::time::format_rfc3339(g.exp.saturating_mul(1000)))));
    }
    if g.exp - now_secs > MAX_TTL_SECS {
        return Err(forbidden("signature expiry is more than 7 days ahead"));
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_780_000_000;

    fn keys() -> Keys {
        Keys::parse(&format!("k1:{}, k2:{}", base64url(&[1u8; 32]), base64url(&[2u8; 32])), Some("k1")).unwrap()
    }

    fn opts() -> UploadOptions {
        UploadOptions { content_type: Some("text/csv".into()), max_bytes: 1000, compression: Some(Compression::Gzip), kid: None }
    }

    fn query(url: &str) -> &str {
        url.strip_prefix(UPLOAD_PATH).unwrap().strip_prefix('?').unwrap()
    }

    #[test]
    fn a_grant_round_trips_and_binds_every_field() {
        let url = sign_upload(&keys(), "vendor", "2026/q4 report.csv", NOW, 600, &opts()).unwrap();
        assert!(url.bytes().all(|b| b.is_ascii_alphanumeric() || b"/?=&-_".contains(&b)), "{url}");
        let g = verify_upload(&keys(), query(&url), NOW + 10).unwrap();
        assert_eq!((g.bucket.as_str(), g.name.as_str(), g.content_type.as_str()), ("vendor", "2026/q4 report.csv", "text/csv"));
        assert_eq!((g.max_bytes, g.compression, g.exp, g.kid.as_str()), (1000, Compression::Gzip, NOW + 600, "k1"));
        let p = g.put_options();
        assert_eq!(p.max_bytes, Some(1000));
        assert_eq!(p.bucket.as_deref(), Some("vendor"));
    }

    #[test]
    fn any_change_to_the_grant_is_forbidden() {
        let url = sign_upload(&keys(), "vendor", "a.csv", NOW, 600, &opts()).unwrap();
        let q = query(&url);
        let (g, s) = q.split_once("&sig=").unwrap();
        let text = String::from_utf8(crate::encoding::base64_decode(g.strip_prefix("grant=").unwrap()).unwrap()).unwrap();
        for (from, to) in [("vendor", "vendos"), ("a.csv", "b.csv"), ("1000", "10000"), ("gzip", "none"), ("text/csv", "text/html"), ("\nk1", "\nk2")] {
            let forged = text.replacen(from, to, 1);
            assert_ne!(forged, text);
            let fq = format!("grant={}&sig={s}", base64url(forged.as_bytes()));
            assert!(matches!(verify_upload(&keys(), &fq, NOW), Err(Error::Forbidden(_))), "{from} -> {to}");
        }
        // Another key's signature, a truncated or padded sig, a duplicated or missing parameter.
        let other = sign_upload(&keys(), "vendor", "a.csv", NOW, 600, &UploadOptions { kid: Some("k2".into()), ..opts() }).unwrap();
        let other_sig = query(&other).split_once("&sig=").unwrap().1;
        for bad in [
            format!("{g}&sig={other_sig}"),
            format!("{g}&sig={}", &s[1..]),
            format!("{g}&sig={s}="),
            format!("{g}&sig={s}&sig={s}"),
            format!("{g}&{g}&sig={s}"),
            g.to_string(),
            format!("sig={s}"),
            format!("{g}=&sig={s}"),
            String::new(),
        ] {
            assert!(matches!(verify_upload(&keys(), &bad, NOW), Err(Error::Forbidden(_))), "{bad}");
        }
    }

    #[test]
    fn expiry_and_bounds() {
        let url = sign_upload(&keys(), "vendor", "a.csv", NOW, 60, &opts()).unwrap();
        assert!(matches!(verify_upload(&keys(), query(&url), NOW + 60), Err(Error::Expired(_))));
        assert!(verify_upload(&keys(), query(&url), NOW + 59).is_ok());
        for (bucket, name, ttl, max, ct) in [
            ("Vendor", "a", 60, 1, "x/y"),
            ("vendor", "", 60, 1, "x/y"),
            ("vendor", "a\nb", 60, 1, "x/y"),
            ("vendor", "a", 0, 1, "x/y"),
            ("vendor", "a", MAX_TTL_SECS + 1, 1, "x/y"),
            ("vendor", "a", 60, 0, "x/y"),
            ("vendor", "a", 60, MAX_GRANT_BYTES + 1, "x/y"),
            ("vendor", "a", 60, 1, "text/plain\nx"),
            ("vendor", "a", 60, 1, ""),
        ] {
            let o = UploadOptions { content_type: Some(ct.into()), max_bytes: max, ..Default::default() };
            assert!(matches!(sign_upload(&keys(), bucket, name, NOW, ttl, &o), Err(Error::InvalidArgument(_))), "{bucket:?} {name:?} {ttl} {max} {ct:?}");
        }
        let o = UploadOptions { kid: Some("nope".into()), ..opts() };
        assert!(sign_upload(&keys(), "vendor", "a", NOW, 60, &o).is_err());
    }
}
