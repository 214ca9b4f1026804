//! Bucket scopes: which buckets a caller may see, and whether it may change them. The edge
//! world's token API ([`crate::http::api`]) gives each token one.
//!
//! Out-of-scope artifacts do not exist for the caller: any ref to one (id, `bucket/name`,
//! `noetl://` URI, ResultRef JSON, with or without a digest) is `not-found` with the same message
//! as an artifact that is really missing, and a digest is compared only after the scope check,
//! so nothing about another bucket leaks. Writing to a bucket outside the scope, or writing at
//! all with a read-only scope, is `forbidden`.
//!
//! Tokens come from the `api_tokens` config value: entries `TOKEN:MODE:BUCKETS` separated by
//! `,`, where MODE is `ro` or `rw` and BUCKETS is `*` (all) or bucket names joined by `+`, e.g.
//! `t0k3n-for-vendor-uploads:rw:vendor,dashboard-reader-2026:ro:reports+vendor`. A token has at
//! least 16 characters of `A-Z a-z 0-9 . _ ~ -`. Tokens are compared in constant time (HMACs of
//! both sides), against every configured token whatever matched first.

use crate::model::{Error, Record};
use crate::refs::{self, Ref};
use crate::sign::Config;
use crate::store::Store;
use hmac::Mac;

/// Config key holding the API tokens.
pub const TOKENS_CONFIG: &str = "api_tokens";
/// Shortest accepted token.
pub const MIN_TOKEN_CHARS: usize = 16;

/// What one caller may touch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// `None`: every bucket.
    buckets: Option<Vec<String>>,
    write: bool,
}

impl Scope {
    /// Every bucket, read and write.
    pub fn all() -> Scope {
        Scope { buckets: None, write: true }
    }

    /// `ro:*`, `rw:a+b`, …
    pub fn parse(spec: &str) -> Result<Scope, Error> {
        let bad = |m: &str| Error::InvalidArgument(format!("scope {spec:?}: {m}"));
        let (mode, buckets) = spec.split_once(':').ok_or_else(|| bad("expected MODE:BUCKETS"))?;
        let write = match mode {
            "ro" => false,
            "rw" => true,
            _ => return Err(bad("MODE is ro or rw")),
        };
        let buckets = if buckets == "*" {
            None
        } else {
            let list: Vec<String> = buckets.split('+').map(String::from).collect();
            for b in &list {
                refs::validate_bucket(b)?;
            }
            Some(list)
        };
        Ok(Scope { buckets, write })
    }

    /// Whether `bucket` is visible.
    pub fn sees(&self, bucket: &str) -> bool {
        self.buckets.as_ref().is_none_or(|l| l.iter().any(|b| b == bucket))
    }

    /// Whether writes are allowed at all.
    pub fn writes(&self) -> bool {
        self.write
    }

    /// Refuses a read of `bucket` (as `not-found` for `what`) outside the scope.
    pub fn read_bucket(&self, bucket: &str, what: &str) -> Result<(), Error> {
        if self.sees(bucket) {
            Ok(())
        } else {
            Err(not_found(what))
        }
    }

    /// Refuses a write to `bucket` outside the scope or with a read-only scope.
    pub fn write_bucket(&self, bucket: &str) -> Result<(), Error> {
        if !self.write {
            return Err(Error::Forbidden("this token is read-only".into()));
        }
        if !self.sees(bucket) {
            return Err(Error::Forbidden(format!("bucket {bucket:?} is outside this token's scope")));
        }
        Ok(())
    }

    /// Resolves `r` as [`Store::resolve_live`] does, but only to artifacts in scope.
    pub fn resolve(&self, store: &Store, r: &str) -> Result<Record, Error> {
        let parsed = refs::parse_ref(r)?;
        let (lookup, promised) = match &parsed {
            Ref::Name { bucket, .. } if !self.sees(bucket) => return Err(not_found(r)),
            Ref::ResultRef { logical, sha256 } => (logical.as_str(), sha256.clone()),
            _ => (r, None),
        };
        let rec = match store.resolve(lookup) {
            Ok(rec) if self.sees(&rec.bucket) => rec,
            Ok(_) | Err(Error::NotFound(_)) => return Err(not_found(r)),
            Err(e) => return Err(e),
        };
        if let Some(d) = promised {
            if !d.eq_ignore_ascii_case(&rec.sha256) {
                return Err(Error::Integrity(format!("ResultRef promises sha256 {d} but the artifact has {}", rec.sha256)));
            }
        }
        // Expiry, as resolve_live reports it.
        store.resolve_live(&rec.id)
    }
}

/// The same message as [`Store::resolve`] gives for a missing artifact.
fn not_found(r: &str) -> Error {
    let short: String = r.chars().take(120).collect();
    Error::NotFound(format!("no artifact for {short}"))
}

/// The configured API tokens.
pub struct Tokens {
    entries: Vec<(String, Scope)>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a token.
        f.debug_struct("Tokens").field("count", &self.entries.len()).finish()
    }
}

fn valid_token(t: &str) -> bool {
    t.len() >= MIN_TOKEN_CHARS && t.len() <= 256 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b))
}

impl Tokens {
    /// Reads `api_tokens`; `None` when it is unset or empty (the API is off).
    pub fn from_config(c: &dyn Config) -> Result<Option<Tokens>, Error> {
        match c.get(TOKENS_CONFIG)?.filter(|s| !s.trim().is_empty()) {
            None => Ok(None),
            Some(s) => Tokens::parse(&s).map(Some),
        }
    }

    /// Parses `TOKEN:MODE:BUCKETS,…`. Errors never contain a token.
    pub fn parse(s: &str) -> Result<Tokens, Error> {
        let mut entries: Vec<(String, Scope)> = Vec::new();
        for (i, e) in s.split(',').map(str::trim).filter(|e| !e.is_empty()).enumerate() {
            let bad = |m: &str| Error::InvalidArgument(format!("{TOKENS_CONFIG}: entry {}: {m}", i + 1));
            let (token, scope) = e.split_once(':').ok_or_else(|| bad("expected TOKEN:MODE:BUCKETS"))?;
            if !valid_token(token) {
                return Err(bad(&format!("a token is {MIN_TOKEN_CHARS}-256 characters of A-Z a-z 0-9 . _ ~ -")));
            }
            if entries.iter().any(|(t, _)| t == token) {
                return Err(bad("a token appears twice"));
            }
            let scope = Scope::parse(scope).map_err(|e| bad(&e.to_string()))?;
            entries.push((token.to_string(), scope));
        }
        if entries.is_empty() {
            return Err(Error::InvalidArgument(format!("{TOKENS_CONFIG}: no tokens")));
        }
        Ok(Tokens { entries })
    }

    /// The scope of the token `presented`, comparing it with every configured token in constant
    /// time.
    pub fn authenticate(&self, presented: &str) -> Option<&Scope> {
        let digest = |t: &str| {
            let mut m = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(b"artifact api token").expect("any key length");
            m.update(t.as_bytes());
            m
        };
        let mut found = None;
        for (token, scope) in &self.entries {
            let want = digest(token).finalize().into_bytes();
            if digest(presented).verify_slice(&want).is_ok() && found.is_none() {
                found = Some(scope);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_and_authenticate() {
        let t = Tokens::parse("aaaaaaaaaaaaaaaa:rw:vendor, bbbbbbbbbbbbbbbb:ro:*").unwrap();
        let a = t.authenticate("aaaaaaaaaaaaaaaa").unwrap();
        assert!(a.sees("vendor") && !a.sees("reports") && a.writes());
        let b = t.authenticate("bbbbbbbbbbbbbbbb").unwrap();
        assert!(b.sees("anything") && !b.writes());
        for wrong in ["", "aaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaa", "AAAAAAAAAAAAAAAA"] {
            assert!(t.authenticate(wrong).is_none(), "{wrong}");
        }
        for bad in ["short:rw:*", "aaaaaaaaaaaaaaaa:rx:*", "aaaaaaaaaaaaaaaa:rw:Bad", "aaaaaaaaaaaaaaaa", "x,y", "aaaaaaaaaaaaaaaa:rw:*,aaaaaaaaaaaaaaaa:ro:*", ""] {
            let e = Tokens::parse(bad).unwrap_err().to_string();
            assert!(!e.contains("aaaaaaaaaaaaaaaa"), "a token leaked into {e}");
        }
    }

    #[test]
    fn writes_need_rw_and_the_bucket() {
        let s = Scope::parse("rw:a+b").unwrap();
        assert!(s.write_bucket("a").is_ok() && s.write_bucket("b").is_ok());
        assert!(matches!(s.write_bucket("c"), Err(Error::Forbidden(_))));
        assert!(matches!(Scope::parse("ro:*").unwrap().write_bucket("a"), Err(Error::Forbidden(_))));
        assert!(matches!(s.read_bucket("c", "c/x"), Err(Error::NotFound(_))));
    }
}
