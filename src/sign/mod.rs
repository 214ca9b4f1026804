//! Signed URLs: HMAC-SHA256 over a canonical string of method, artifact id, expiry, optional
//! byte range and key id. Keys come from configuration (`wasi:config/store` in the component, a
//! map natively), never from the URL or the request:
//!
//! - `signing_keys` = `kid:base64key,kid2:base64key2` (standard or URL-safe base64, padding
//!   optional; keys of at least 16 bytes; key ids of 1–64 `A-Z a-z 0-9 . _ -`);
//! - `active_kid` = the key new URLs are signed with (default: the first key).
//!
//! Keep an old key in `signing_keys` after switching `active_kid` and URLs minted with it keep
//! working until they expire; remove it to revoke them all.
//!
//! Signed uploads (`PUT`) are in [`upload`]: same keys, their own canonical form.
//!
//! A URL path is `/v1/artifacts/<id>?exp=<unix seconds>&kid=<kid>&sig=<base64url>[&range=a-b]`.
//! The canonical string is
//! `ARTIFACT-HMAC-SHA256\n<METHOD>\n<id>\n<exp>\n<range or empty>\n<kid>`; a URL signed for `GET`
//! also allows `HEAD`. Expiry is at most [`MAX_TTL_SECS`] (7 days, as S3 presigned URLs) ahead,
//! both when minting and when verifying. Comparison is constant-time (`hmac`'s `verify_slice`).
//!
//! A URL may also carry the record a read needs (`&rec=…`, [`carried`]), so that its read looks
//! nothing up in the metadata store.

use crate::codec;
use crate::encoding::{base64_decode, base64url};
use crate::model::{ByteRange, Error};
use crate::store::Store;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub mod carried;
pub mod upload;

use carried::Carried;

/// Longest validity of a signed URL, seconds.
pub const MAX_TTL_SECS: u64 = 7 * 24 * 3600;
/// Path prefix of signed artifact URLs.
pub const PATH_PREFIX: &str = "/v1/artifacts/";
/// Shortest accepted key, bytes.
pub const MIN_KEY_BYTES: usize = 16;
/// Config key holding the keys.
pub const KEYS_CONFIG: &str = "signing_keys";
/// Config key naming the key new URLs are signed with.
pub const ACTIVE_KID_CONFIG: &str = "active_kid";

const SCHEME: &str = "ARTIFACT-HMAC-SHA256";

/// Read-only configuration: `wasi:config/store` in the component, a map natively.
pub trait Config {
    /// The value of `key`, or `None` when it is not set.
    fn get(&self, key: &str) -> Result<Option<String>, Error>;
}

impl Config for std::collections::BTreeMap<String, String> {
    fn get(&self, key: &str) -> Result<Option<String>, Error> {
        Ok(std::collections::BTreeMap::get(self, key).cloned())
    }
}

impl Config for std::collections::HashMap<String, String> {
    fn get(&self, key: &str) -> Result<Option<String>, Error> {
        Ok(std::collections::HashMap::get(self, key).cloned())
    }
}

/// The configured signing keys.
pub struct Keys {
    keys: Vec<(String, Vec<u8>)>,
    active: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        let kids: Vec<&str> = self.keys.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Keys").field("kids", &kids).field("active", &self.active).finish()
    }
}

fn valid_kid(k: &str) -> bool {
    (1..=64).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

impl Keys {
    /// Reads `signing_keys` and `active_kid`. A missing or malformed configuration is
    /// `invalid-argument` (the message never contains key material).
    pub fn from_config(c: &dyn Config) -> Result<Keys, Error> {
        let keys = c.get(KEYS_CONFIG)?.filter(|s| !s.trim().is_empty()).ok_or_else(|| {
            Error::InvalidArgument(format!("signing is not configured: set {KEYS_CONFIG} (kid:base64key,...)"))
        })?;
        let active = c.get(ACTIVE_KID_CONFIG)?.filter(|s| !s.trim().is_empty());
        Keys::parse(&keys, active.as_deref())
    }

    /// Reads only `signing_keys`: enough to verify (the active key only matters for minting).
    /// One configuration lookup less per signed request, which on hosts where a host call
    /// costs as much as the request's own work (Spin) is measurable.
    pub fn for_verifying(c: &dyn Config) -> Result<Keys, Error> {
        let keys = c.get(KEYS_CONFIG)?.filter(|s| !s.trim().is_empty()).ok_or_else(|| {
            Error::InvalidArgument(format!("signing is not configured: set {KEYS_CONFIG} (kid:base64key,...)"))
        })?;
        Keys::parse(&keys, None)
    }

    /// Parses `kid:base64key,...` and the active key id.
    pub fn parse(signing_keys: &str, active_kid: Option<&str>) -> Result<Keys, Error> {
        let bad = |m: String| Error::InvalidArgument(format!("{KEYS_CONFIG}: {m}"));
        let mut keys: Vec<(String, Vec<u8>)> = Vec::new();
        for (i, entry) in signing_keys.split(',').map(str::trim).enumerate() {
            if entry.is_empty() {
                continue;
            }
            let (kid, b64) = entry.split_once(':').ok_or_else(|| bad(format!("entry {} is not kid:base64key", i + 1)))?;
            let kid = kid.trim();
            if !valid_kid(kid) {
                return Err(bad(format!("invalid key id {kid:?} (1-64 of A-Z a-z 0-9 . _ -)")));
            }
            let key = base64_decode(b64.trim()).ok_or_else(|| bad(format!("key {kid:?} is not valid base64")))?;
            if key.len() < MIN_KEY_BYTES {
                return Err(bad(format!("key {kid:?} has {} bytes; at least {MIN_KEY_BYTES} are needed", key.len())));
            }
            if keys.iter().any(|(k, _)| k == kid) {
                return Err(bad(format!("key id {kid:?} appears twice")));
            }
            keys.push((kid.to_string(), key));
        }
        let first = keys.first().map(|(k, _)| k.clone()).ok_or_else(|| bad("no keys".into()))?;
        let active = match active_kid.map(str::trim) {
            None => first,
            Some(a) if keys.iter().any(|(k, _)| k == a) => a.to_string(),
            Some(a) => return Err(Error::InvalidArgument(format!("{ACTIVE_KID_CONFIG} {a:?} is not in {KEYS_CONFIG}"))),
        };
        Ok(Keys { keys, active })
    }

    /// The key id new URLs are signed with.
    pub fn active(&self) -> &str {
        &self.active
    }

    pub(crate) fn key(&self, kid: &str) -> Option<&[u8]> {
        self.keys.iter().find(|(k, _)| k == kid).map(|(_, v)| v.as_slice())
    }
}

/// Options of [`sign_path`]; mirrors WIT `sign-options`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignOptions {
    /// `GET` (default; also allows `HEAD`) or `HEAD`.
    pub method: Option<String>,
    /// Restricts the URL to these bytes of the logical body.
    pub range: Option<ByteRange>,
    /// Key id to sign with; default the active one.
    pub kid: Option<String>,
}

/// `a-b`, `a-` or `-n`.
pub fn range_text(r: ByteRange) -> String {
    match r {
        ByteRange::Bounded { start, end } => format!("{start}-{end}"),
        ByteRange::From(s) => format!("{s}-"),
        ByteRange::Suffix(n) => format!("-{n}"),
    }
}

/// `s` as unpadded base64url in its one spelling (and of `len` bytes, when given).
pub(crate) fn b64_exact(s: &str, len: Option<usize>) -> Option<Vec<u8>> {
    base64_decode(s).filter(|b| len.is_none_or(|l| b.len() == l) && base64url(b) == s)
}

/// A decimal number in its one spelling: digits only, no leading zeros, at most 20 of them.
pub(crate) fn number_exact(s: &str) -> Option<u64> {
    let n: u64 = s.parse().ok().filter(|_| s.bytes().all(|b| b.is_ascii_digit()) && s.len() <= 20)?;
    (n.to_string() == s).then_some(n)
}

/// The signed string; a carried record (its canonical text) is signed under its own scheme line.
/// The MAC of the canonical message of a signed read, fed in pieces (no message string is built
/// per request): scheme, method, id, expiry, range, kid and, for a URL carrying its record, the
/// record's text, one per line.
fn canonical_mac(key: &[u8], method: &str, id: &str, exp: u64, range: &str, kid: &str, carried: Option<&str>) -> Hmac<Sha256> {
    let mut m = mac(key, if carried.is_some() { carried::SCHEME } else { SCHEME });
    let mut digits = [0u8; 20];
    for part in [method, id, crate::encoding::decimal(exp, &mut digits), range, kid].into_iter().chain(carried) {
        m.update(b"\n");
        m.update(part.as_bytes());
    }
    m
}

pub(crate) fn mac(key: &[u8], msg: &str) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(msg.as_bytes());
    m
}

fn normalize_method(m: Option<&str>) -> Result<&'static str, Error> {
    match m.map(|s| s.trim().to_ascii_uppercase()).as_deref() {
        None | Some("") | Some("GET") => Ok("GET"),
        Some("HEAD") => Ok("HEAD"),
        Some(other) => Err(Error::InvalidArgument(format!(
            "signed URLs are read-only: method {other:?} is not GET or HEAD"
        ))),
    }
}

/// Mints the URL path for artifact `id`, valid for `ttl_secs` from `now_secs`.
pub fn sign_path(keys: &Keys, id: &str, now_secs: u64, ttl_secs: u64, o: &SignOptions) -> Result<String, Error> {
    mint(keys, id, None, now_secs, ttl_secs, o)
}

/// Mints a URL path for `rec` that carries what its read needs ([`carried`]): the read looks
/// nothing up. Refuses manifests.
pub fn sign_carried(keys: &Keys, rec: &crate::model::Record, now_secs: u64, ttl_secs: u64, o: &SignOptions) -> Result<String, Error> {
    mint(keys, &rec.id, Some(&Carried::of(rec)?), now_secs, ttl_secs, o)
}

fn mint(keys: &Keys, id: &str, carried: Option<&Carried>, now_secs: u64, ttl_secs: u64, o: &SignOptions) -> Result<String, Error> {
    if ttl_secs == 0 || ttl_secs > MAX_TTL_SECS {
        return Err(Error::InvalidArgument(format!(
            "ttl must be between 1 second and 7 days ({MAX_TTL_SECS} s), got {ttl_secs} s"
        )));
    }
    if !crate::ids::is_valid(id) {
        return Err(Error::InvalidArgument(format!("{id:?} is not an artifact id")));
    }
    let method = normalize_method(o.method.as_deref())?;
    let kid = o.kid.as_deref().unwrap_or(keys.active());
    let key = keys.key(kid).ok_or_else(|| Error::InvalidArgument(format!("unknown key id {kid:?}")))?;
    let range = match o.range {
        None => None,
        Some(ByteRange::Bounded { start, end }) if end < start => {
            return Err(Error::InvalidArgument(format!("range end {end} is before start {start}")))
        }
        Some(ByteRange::Suffix(0)) => return Err(Error::InvalidArgument("range -0 selects no bytes".into())),
        Some(r) => Some(range_text(r)),
    };
    let exp = now_secs.saturating_add(ttl_secs);
    let r = range.as_deref().unwrap_or("");
    let text = carried.map(Carried::text);
    let sig = base64url(&canonical_mac(key, method, id, exp, r, kid, text.as_deref()).finalize().into_bytes());
    let mut url = format!("{PATH_PREFIX}{id}?exp={exp}&kid={kid}&sig={sig}");
    if let Some(c) = carried {
        url.push_str(&format!("&{}={}", carried::PARAM, c.param()));
    }
    if let Some(r) = range {
        url.push_str("&range=");
        url.push_str(&r);
    }
    if method == "HEAD" {
        url.push_str("&method=HEAD");
    }
    Ok(url)
}

/// What a verified URL grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Expiry, unix seconds.
    pub exp: u64,
    /// Key that signed it.
    pub kid: String,
    /// The only bytes it may read, if restricted.
    pub range: Option<ByteRange>,
    /// The record it carries, if any: then the read looks nothing up.
    pub carried: Option<Carried>,
}

pub(crate) fn forbidden(m: &str) -> Error {
    Error::Forbidden(m.to_string())
}

/// Verifies the query of a request for artifact `id` with `method` (`GET` or `HEAD`) at
/// `now_secs`. Missing, malformed, tampered, unknown-kid and too-long-lived signatures are
/// `forbidden`; a correctly signed URL past its expiry is `expired`.
pub fn verify(keys: &Keys, method: &str, id: &str, query: &str, now_secs: u64) -> Result<Grant, Error> {
    let (mut exp, mut kid, mut sig, mut range, mut signed_method, mut rec) = (None, None, None, None, None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match k {
            "exp" => &mut exp,
            "kid" => &mut kid,
            "sig" => &mut sig,
            "range" => &mut range,
            "method" => &mut signed_method,
            carried::PARAM => &mut rec,
            _ => continue,
        };
        if slot.is_some() {
            return Err(forbidden("malformed signature: a signed parameter appears twice"));
        }
        // One spelling per signed URL: no signed parameter ever needs escapes, and only the
        // form `sign_path` writes is accepted (no padding, no other alphabet, no leading zeros).
        if v.contains('%') {
            return Err(forbidden("malformed signature: escaped characters in a signed parameter"));
        }
        *slot = Some(v.to_string());
    }
    let (exp, kid, sig) = match (exp, kid, sig) {
        (Some(e), Some(k), Some(s)) => (e, k, s),
        _ => return Err(forbidden("missing signature: exp, kid and sig are required")),
    };
    let exp_n = number_exact(&exp).ok_or_else(|| forbidden("malformed signature: exp is not unix seconds in canonical form"))?;
    let sig_bytes = b64_exact(&sig, Some(32))
        .ok_or_else(|| forbidden("malformed signature: sig is not 32 bytes of unpadded base64url"))?;
    let granted_range = match &range {
        None => None,
        Some(r) => Some(codec::parse_range(r).map_err(|_| forbidden("malformed signature: bad range"))?),
    };
    let signed_as = match signed_method.as_deref() {
        None => "GET",
        Some("HEAD") => "HEAD",
        Some(_) => return Err(forbidden("malformed signature: bad method")),
    };
    if signed_as == "HEAD" && method != "HEAD" {
        return Err(forbidden("this URL is signed for HEAD only"));
    }
    // An unknown kid costs the same MAC work as a known one, so timing does not tell which
    // key ids exist.
    let carried = rec.as_deref().map(Carried::parse_param).transpose()?;
    let known = keys.key(&kid);
    let range_text = range.as_deref().unwrap_or("");
    let carried_text = carried.as_ref().map(|(_, t)| t.as_str());
    let checked = canonical_mac(known.unwrap_or(&[0u8; 32]), signed_as, id, exp_n, range_text, &kid, carried_text).verify_slice(&sig_bytes);
    if known.is_none() || checked.is_err() {
        return Err(forbidden("invalid signature"));
    }
    if exp_n <= now_secs {
        return Err(Error::Expired(format!(
            "signed URL expired at {}",
            crate::time::format_rfc3339(exp_n.saturating_mul(1000))
        )));
    }
    if exp_n - now_secs > MAX_TTL_SECS {
        return Err(forbidden("signature expiry is more than 7 days ahead"));
    }
    Ok(Grant { exp: exp_n, kid, range: granted_range, carried: carried.map(|(c, _)| c) })
}

impl Store {
    /// Mints a signed URL path for `r` (any ref form) with keys from `cfg`; `ttl_secs` at most
    /// 7 days. The artifact must exist and be live.
    pub fn sign(&self, cfg: &dyn Config, r: &str, ttl_secs: u64, o: &SignOptions) -> Result<String, Error> {
        let keys = Keys::from_config(cfg)?;
        let rec = self.resolve_live(r)?;
        sign_path(&keys, &rec.id, (self.now)() / 1000, ttl_secs, o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const ID: &str = "01M84EG4VHHF84MF34ZRCQAC3P";
    const OTHER: &str = "01M84EG4VHHF84MF34ZRCQAC3Q";
    const NOW: u64 = 1_780_000_000;

    fn keys() -> Keys {
        // k1 = 32 bytes of 0x01, k2 = 16 bytes of 0x02.
        let k1 = base64url(&[1u8; 32]);
        let k2 = "AgICAgICAgICAgICAgICAg==";
        Keys::parse(&format!("k1:{k1}, k2:{k2}"), Some("k2")).unwrap()
    }

    fn query(url: &str) -> (&str, &str) {
        let (p, q) = url.split_once('?').unwrap();
        (p.strip_prefix(PATH_PREFIX).unwrap(), q)
    }

    #[test]
    fn key_config_is_validated_without_leaking_keys() {
        let k = base64url(&[7u8; 16]);
        assert_eq!(Keys::parse(&format!("a:{k}"), None).unwrap().active(), "a");
        for bad in [
            "".to_string(),
            "nocolon".into(),
            format!("bad kid!:{k}"),
            "a:c2hvcnQ=".into(),
            format!("a:{k},a:{k}"),
            "a:!!!!".into(),
        ] {
            let e = Keys::parse(&bad, None).unwrap_err();
            assert_eq!(e.kind(), "invalid-argument", "{bad}");
            assert!(!e.to_string().contains(&k), "{e}");
        }
        assert!(Keys::parse(&format!("a:{k}"), Some("zz")).is_err());
        let mut m = BTreeMap::new();
        assert_eq!(Keys::from_config(&m).unwrap_err().kind(), "invalid-argument");
        m.insert("signing_keys".to_string(), format!("a:{k}"));
        assert!(!format!("{:?}", Keys::from_config(&m).unwrap()).contains(&k));
    }

    fn carried_rec() -> crate::model::Record {
        crate::model::Record {
            id: ID.into(),
            content_type: "application/json".into(),
            bytes: 10,
            stored_bytes: 10,
            sha256: "0f".repeat(32),
            location: crate::model::Location { driver: "fs".into(), uri: "fs://blobs/sha256/0f/x".into() },
            updated_at: 5,
            ..Default::default()
        }
    }

    /// A carried URL verifies to its record; it never verifies as a plain URL or the other way
    /// round, and no carried field can be changed.
    #[test]
    fn carried_urls_bind_the_record() {
        let ks = keys();
        let url = sign_carried(&ks, &carried_rec(), NOW, 900, &SignOptions::default()).unwrap();
        let (id, q) = query(&url);
        let g = verify(&ks, "GET", id, q, NOW + 1).unwrap();
        assert_eq!(g.carried, Some(Carried::of(&carried_rec()).unwrap()));
        // Without its record, or with a plain URL's signature, nothing verifies.
        let plain: Vec<&str> = q.split('&').filter(|p| !p.starts_with("rec=")).collect();
        assert!(matches!(verify(&ks, "GET", id, &plain.join("&"), NOW), Err(Error::Forbidden(_))));
        let plain_url = sign_path(&ks, ID, NOW, 900, &SignOptions::default()).unwrap();
        let rec_param = q.split('&').find(|p| p.starts_with("rec=")).unwrap();
        let (_, pq) = query(&plain_url);
        assert!(matches!(verify(&ks, "GET", id, &format!("{pq}&{rec_param}"), NOW), Err(Error::Forbidden(_))));
        // Each carried field changed, re-encoded canonically: forbidden.
        let c = Carried::of(&carried_rec()).unwrap();
        let forged = [
            Carried { uri: "fs://blobs/sha256/0f/y".into(), ..c.clone() },
            Carried { bytes: 11, ..c.clone() },
            Carried { sha256: "0e".repeat(32), ..c.clone() },
            Carried { content_type: "text/html".into(), ..c.clone() },
            Carried { updated_at: 6, ..c.clone() },
            Carried { expires_at: Some(1), ..c.clone() },
            Carried { compression: crate::model::Compression::Gzip, ..c.clone() },
        ];
        for f in forged {
            let fq = q.replace(rec_param, &format!("rec={}", f.param()));
            assert!(matches!(verify(&ks, "GET", id, &fq, NOW), Err(Error::Forbidden(_))), "{f:?}");
        }
        // Twice is malformed.
        assert!(matches!(verify(&ks, "GET", id, &format!("{q}&{rec_param}"), NOW), Err(Error::Forbidden(_))));
    }

    #[test]
    fn sign_then_verify() {
        let ks = keys();
        let url = sign_path(&ks, ID, NOW, 900, &SignOptions::default()).unwrap();
        assert!(url.starts_with(&format!("/v1/artifacts/{ID}?exp={}&kid=k2&sig=", NOW + 900)), "{url}");
        let (id, q) = query(&url);
        let g = verify(&ks, "GET", id, q, NOW + 10).unwrap();
        assert_eq!(g, Grant { exp: NOW + 900, kid: "k2".into(), range: None, carried: None });
        assert!(verify(&ks, "HEAD", id, q, NOW).is_ok(), "GET URLs allow HEAD");
        // Parameter order and unknown parameters do not matter.
        let shuffled: Vec<&str> = q.split('&').rev().collect();
        assert!(verify(&ks, "GET", id, &format!("{}&x=1", shuffled.join("&")), NOW).is_ok());
        // The other key signs too.
        let url = sign_path(&ks, ID, NOW, 60, &SignOptions { kid: Some("k1".into()), ..Default::default() }).unwrap();
        let (id, q) = query(&url);
        assert_eq!(verify(&ks, "GET", id, q, NOW).unwrap().kid, "k1");
    }

    #[test]
    fn every_tampering_is_forbidden() {
        let ks = keys();
        let o = SignOptions { range: Some(ByteRange::Bounded { start: 0, end: 99 }), ..Default::default() };
        let url = sign_path(&ks, ID, NOW, 900, &o).unwrap();
        let (id, q) = query(&url);
        assert_eq!(verify(&ks, "GET", id, q, NOW).unwrap().range, Some(ByteRange::Bounded { start: 0, end: 99 }));
        let sig = q.split('&').find_map(|p| p.strip_prefix("sig=")).unwrap();
        let mut flipped = sig.to_string().into_bytes();
        flipped[5] = if flipped[5] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        let cases = [
            (ID, q.replace(sig, &flipped)),
            (ID, q.replace(&format!("exp={}", NOW + 900), &format!("exp={}", NOW + 901))),
            (ID, q.replace("range=0-99", "range=0-100")),
            (ID, q.replace("&range=0-99", "")),
            (ID, q.replace("kid=k2", "kid=k1")),
            (ID, q.replace("kid=k2", "kid=k9")),
            (OTHER, q.to_string()),
            (ID, q.replace("&sig=", "&sig=x&sig=")),
            (ID, q.replace(&format!("sig={sig}"), "")),
            (ID, q.replace(&format!("sig={sig}"), "sig=%zz")),
            (ID, q.replace(&format!("exp={}", NOW + 900), "exp=-1")),
            (ID, String::new()),
            // Other spellings of the same URL: one spelling is accepted, these are not.
            (ID, q.replace(&format!("sig={sig}"), &format!("sig={sig}="))),
            (ID, q.replace(&format!("sig={sig}"), &format!("sig=%{:02X}{}", sig.as_bytes()[0], &sig[1..]))),
            (ID, q.replace("kid=k2", "kid=%6B2")),
            (ID, q.replace(&format!("exp={}", NOW + 900), &format!("exp=0{}", NOW + 900))),
            (ID, q.replace("range=0-99", "range=0%2D99")),
        ];
        for (id, q) in cases {
            let e = verify(&ks, "GET", id, &q, NOW).unwrap_err();
            assert_eq!(e.kind(), "forbidden", "{id} {q}: {e}");
        }
        // A key that is no longer configured.
        let rotated = Keys::parse(&format!("k1:{}", base64url(&[1u8; 32])), None).unwrap();
        assert_eq!(verify(&rotated, "GET", id, q, NOW).unwrap_err().kind(), "forbidden");
    }

    #[test]
    fn expiry_and_ttl_bounds() {
        let ks = keys();
        let url = sign_path(&ks, ID, NOW, 60, &SignOptions::default()).unwrap();
        let (id, q) = query(&url);
        assert!(verify(&ks, "GET", id, q, NOW + 59).is_ok());
        let e = verify(&ks, "GET", id, q, NOW + 60).unwrap_err();
        assert_eq!(e.kind(), "expired", "{e}");
        assert!(sign_path(&ks, ID, NOW, MAX_TTL_SECS, &SignOptions::default()).is_ok());
        for ttl in [0, MAX_TTL_SECS + 1] {
            assert_eq!(sign_path(&ks, ID, NOW, ttl, &SignOptions::default()).unwrap_err().kind(), "invalid-argument");
        }
        // A URL minted (with a stolen clock) further ahead than 7 days is refused.
        let far = sign_path(&ks, ID, NOW + 1000, MAX_TTL_SECS, &SignOptions::default()).unwrap();
        let (id, q) = query(&far);
        assert_eq!(verify(&ks, "GET", id, q, NOW).unwrap_err().kind(), "forbidden");
    }

    #[test]
    fn head_only_urls_and_bad_options() {
        let ks = keys();
        let o = SignOptions { method: Some("head".into()), ..Default::default() };
        let url = sign_path(&ks, ID, NOW, 60, &o).unwrap();
        let (id, q) = query(&url);
        assert!(verify(&ks, "HEAD", id, q, NOW).is_ok());
        assert_eq!(verify(&ks, "GET", id, q, NOW).unwrap_err().kind(), "forbidden");
        // Dropping method=HEAD turns it into a (forged) GET URL.
        assert_eq!(verify(&ks, "GET", id, &q.replace("&method=HEAD", ""), NOW).unwrap_err().kind(), "forbidden");
        for o in [
            SignOptions { method: Some("PUT".into()), ..Default::default() },
            SignOptions { kid: Some("nope".into()), ..Default::default() },
            SignOptions { range: Some(ByteRange::Bounded { start: 5, end: 4 }), ..Default::default() },
            SignOptions { range: Some(ByteRange::Suffix(0)), ..Default::default() },
        ] {
            assert_eq!(sign_path(&ks, ID, NOW, 60, &o).unwrap_err().kind(), "invalid-argument", "{o:?}");
        }
        assert!(sign_path(&ks, "not-an-id", NOW, 60, &SignOptions::default()).is_err());
    }

    #[test]
    fn store_sign_resolves_refs() {
        use crate::backend::mem::{MemMetadata, MemStorage};
        use std::rc::Rc;
        let st = Store::new(Rc::new(MemStorage::default()), Rc::new(MemMetadata::default()));
        let p = st
            .put(b"a,b\n1,2\n", &crate::model::PutOptions { name: Some("x.csv".into()), ..Default::default() })
            .unwrap();
        let mut cfg = BTreeMap::new();
        assert_eq!(st.sign(&cfg, "default/x.csv", 60, &SignOptions::default()).unwrap_err().kind(), "invalid-argument");
        cfg.insert("signing_keys".to_string(), format!("main:{}", base64url(&[9u8; 32])));
        let url = st.sign(&cfg, "default/x.csv", 60, &SignOptions::default()).unwrap();
        assert!(url.starts_with(&format!("/v1/artifacts/{}?", p.record.id)));
        assert_eq!(st.sign(&cfg, "default/missing", 60, &SignOptions::default()).unwrap_err().kind(), "not-found");
    }
}
