//! Who may do what in the console.
//!
//! - **Reads** are open on a loopback listener and need a signed-in browser (or a bearer token)
//!   when the console listens elsewhere (`--allow-remote`).
//! - **Writes** (upload, delete) need the token (`ARTIFACT_CONSOLE_TOKEN`): as
//!   `Authorization: Bearer …`, or as a session cookie set by signing in. With the cookie, a write
//!   must also carry the CSRF value of the page (form field `csrf` or header `x-csrf-token`), and
//!   may not come from another origin (`Origin`, `Sec-Fetch-Site`); the cookie is `HttpOnly` and
//!   `SameSite=Strict`. Without a configured token the console is read-only.
//! - **Host**: on loopback, a request whose `Host` is not the listener's own loopback name is
//!   refused, so a page on another site cannot reach the console by DNS rebinding.
//!
//! Secrets are compared through HMACs under a per-process key, in constant time; the cookie is an
//! HMAC of the token (never the token itself), so restarting the console signs everyone out.

use artifact_component::encoding::hex;
use hmac::{Hmac, Mac};
use hyper::HeaderMap;
use sha2::Sha256;

/// The session cookie's name.
pub const COOKIE: &str = "artifact_console";

/// Why a request may not proceed.
#[derive(Debug, PartialEq, Eq)]
pub enum Denied {
    /// No credentials: 401, sign in first.
    Unauthenticated,
    /// Credentials or request shape refused: 403 with the reason.
    Forbidden(&'static str),
    /// The `Host` header names something else: 421.
    WrongHost,
}

/// The console's access policy for one process.
pub struct Auth {
    token: Option<String>,
    key: [u8; 32],
    remote: bool,
    hosts: Vec<String>,
}

fn mac(key: &[u8], parts: &[&[u8]]) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    for p in parts {
        m.update(&(p.len() as u64).to_be_bytes());
        m.update(p);
    }
    m
}

impl Auth {
    /// `token`: the write token (None: read-only console). `remote`: listening beyond loopback.
    /// `port`: the listener's port, for the accepted loopback `Host` names.
    pub fn new(token: Option<String>, key: [u8; 32], remote: bool, port: u16) -> Auth {
        let hosts = ["127.0.0.1", "localhost", "[::1]"].iter().map(|h| format!("{h}:{port}")).collect();
        Auth { token: token.filter(|t| !t.is_empty()), key, remote, hosts }
    }

    /// Whether writes are possible at all.
    pub fn writes(&self) -> bool {
        self.token.is_some()
    }

    /// Constant-time equality of two secrets (through their HMACs, so lengths do not leak).
    fn same(&self, a: &str, b: &str) -> bool {
        let want = mac(&self.key, &[b"cmp", b.as_bytes()]).finalize().into_bytes();
        mac(&self.key, &[b"cmp", a.as_bytes()]).verify_slice(&want).is_ok()
    }

    /// The cookie value a signed-in browser holds.
    pub fn session_value(&self) -> Option<String> {
        let t = self.token.as_ref()?;
        Some(hex(&mac(&self.key, &[b"session", t.as_bytes()]).finalize().into_bytes()))
    }

    /// `Set-Cookie` for signing in with `candidate`, if it is the token.
    pub fn sign_in(&self, candidate: &str) -> Option<String> {
        let t = self.token.as_ref()?;
        if !self.same(candidate, t) {
            return None;
        }
        Some(format!("{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict", self.session_value()?))
    }

    /// `Set-Cookie` that signs out.
    pub fn sign_out() -> String {
        format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
    }

    fn cookie(headers: &HeaderMap) -> Option<&str> {
        headers
            .get_all(hyper::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == COOKIE)
            .map(|(_, v)| v)
    }

    /// The bearer token, if an `Authorization` header is present at all (any other scheme, or
    /// an empty one, yields `""`, which never matches: a wrong credential is refused, not ignored).
    fn bearer(headers: &HeaderMap) -> Option<&str> {
        let v = headers.get(hyper::header::AUTHORIZATION)?.to_str().unwrap_or("");
        Some(match v.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ => "",
        })
    }

    /// Whether the request carries a valid session cookie.
    pub fn signed_in(&self, headers: &HeaderMap) -> bool {
        match (Self::cookie(headers), self.session_value()) {
            (Some(c), Some(s)) => self.same(c, &s),
            _ => false,
        }
    }

    /// The CSRF value for pages shown with these headers: bound to the session, so it is useless
    /// without the cookie and cannot be read by another origin.
    pub fn csrf(&self, headers: &HeaderMap) -> String {
        let session = if self.signed_in(headers) { Self::cookie(headers).unwrap_or("") } else { "" };
        hex(&mac(&self.key, &[b"csrf", session.as_bytes()]).finalize().into_bytes()[..16])
    }

    /// Refuses a `Host` other than the listener's own loopback names (loopback mode only).
    pub fn check_host(&self, headers: &HeaderMap) -> Result<(), Denied> {
        if self.remote {
            return Ok(());
        }
        let host = headers.get(hyper::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
        if self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
            Ok(())
        } else {
            Err(Denied::WrongHost)
        }
    }

    /// May this request read? Always on loopback; elsewhere only signed in or with the token.
    pub fn check_read(&self, headers: &HeaderMap) -> Result<(), Denied> {
        if !self.remote || self.signed_in(headers) {
            return Ok(());
        }
        match (Self::bearer(headers), &self.token) {
            (Some(b), Some(t)) if self.same(b, t) => Ok(()),
            (Some(_), _) => Err(Denied::Forbidden("the token is not valid")),
            (None, _) => Err(Denied::Unauthenticated),
        }
    }

    /// May this request write? `form_csrf`: the `csrf` field of a submitted form, if any.
    pub fn check_write(&self, headers: &HeaderMap, form_csrf: Option<&str>) -> Result<(), Denied> {
        let Some(token) = &self.token else {
            return Err(Denied::Forbidden("writes are disabled: start the console with ARTIFACT_CONSOLE_TOKEN set"));
        };
        if let Some(b) = Self::bearer(headers) {
            return if self.same(b, token) { Ok(()) } else { Err(Denied::Forbidden("the token is not valid")) };
        }
        if Self::cookie(headers).is_none() {
            return Err(Denied::Unauthenticated);
        }
        if !self.signed_in(headers) {
            return Err(Denied::Forbidden("the session is not valid (the console restarted or the token changed): sign in again"));
        }
        self.check_same_origin(headers)?;
        let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).or(form_csrf).unwrap_or("");
        if !self.same(sent, &self.csrf(headers)) {
            return Err(Denied::Forbidden("the form is stale or came from another page: reload and try again"));
        }
        Ok(())
    }

    /// The sign-in form's own check: same origin and the anonymous CSRF value.
    pub fn check_sign_in_form(&self, headers: &HeaderMap, form_csrf: Option<&str>) -> Result<(), Denied> {
        self.check_same_origin(headers)?;
        let want = hex(&mac(&self.key, &[b"csrf", b""]).finalize().into_bytes()[..16]);
        if !self.same(form_csrf.unwrap_or(""), &want) {
            return Err(Denied::Forbidden("the form is stale or came from another page: reload and try again"));
        }
        Ok(())
    }

    fn check_same_origin(&self, headers: &HeaderMap) -> Result<(), Denied> {
        if headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()).is_some_and(|s| s == "cross-site" || s == "same-site") {
            return Err(Denied::Forbidden("cross-site requests may not write"));
        }
        if let Some(origin) = headers.get(hyper::header::ORIGIN).and_then(|v| v.to_str().ok()) {
            let host = headers.get(hyper::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
            let own = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
            if own.is_none_or(|o| !o.eq_ignore_ascii_case(host)) {
                return Err(Denied::Forbidden("cross-origin requests may not write"));
            }
        }
        Ok(())
    }
}

/// 32 bytes from the operating system's random source.
pub fn random_key() -> std::io::Result<[u8; 32]> {
    use std::io::Read;
    let mut k = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut k)?;
    Ok(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn auth(token: Option<&str>, remote: bool) -> Auth {
        Auth::new(token.map(String::from), [7; 32], remote, 8081)
    }

    #[test]
    fn writes_need_the_token_and_a_fresh_csrf_value() {
        let a = auth(Some("s3cret"), false);
        let host = ("host", "127.0.0.1:8081");
        assert_eq!(a.check_write(&headers(&[host]), None), Err(Denied::Unauthenticated));
        assert!(matches!(a.check_write(&headers(&[host, ("authorization", "Bearer nope")]), None), Err(Denied::Forbidden(_))));
        assert_eq!(a.check_write(&headers(&[host, ("authorization", "Bearer s3cret")]), None), Ok(()));

        let cookie = a.sign_in("s3cret").unwrap();
        assert!(a.sign_in("s3cre").is_none() && a.sign_in("").is_none());
        let value = cookie.split(';').next().unwrap().to_string();
        assert!(!value.contains("s3cret"));
        let signed = headers(&[host, ("cookie", &value)]);
        let csrf = a.csrf(&signed);
        assert_ne!(csrf, a.csrf(&headers(&[host])), "the CSRF value is bound to the session");
        assert!(matches!(a.check_write(&signed, None), Err(Denied::Forbidden(_))));
        assert!(matches!(a.check_write(&signed, Some("00")), Err(Denied::Forbidden(_))));
        assert_eq!(a.check_write(&signed, Some(&csrf)), Ok(()));
        let cross = headers(&[host, ("cookie", &value), ("origin", "http://evil.example")]);
        assert!(matches!(a.check_write(&cross, Some(&csrf)), Err(Denied::Forbidden(_))));
        let forged = headers(&[host, ("cookie", "artifact_console=00")]);
        assert!(matches!(a.check_write(&forged, Some(&csrf)), Err(Denied::Forbidden(_))));
    }

    #[test]
    fn any_authorization_header_that_is_not_the_token_is_refused() {
        let a = auth(Some("t"), false);
        for v in ["Bearer", "Bearer ", "Basic dDp0", "bearer  t ", "t"] {
            let r = a.check_write(&headers(&[("authorization", v)]), None);
            if v == "bearer  t " {
                assert_eq!(r, Ok(()), "{v:?}");
            } else {
                assert!(matches!(r, Err(Denied::Forbidden(_))), "{v:?}: {r:?}");
            }
        }
    }

    #[test]
    fn read_only_without_a_token() {
        let a = auth(None, false);
        assert!(!a.writes());
        assert!(matches!(a.check_write(&headers(&[("authorization", "Bearer x")]), None), Err(Denied::Forbidden(_))));
        assert!(a.sign_in("").is_none());
    }

    #[test]
    fn loopback_refuses_other_hosts_and_remote_needs_credentials() {
        let a = auth(Some("t"), false);
        assert_eq!(a.check_host(&headers(&[("host", "localhost:8081")])), Ok(()));
        assert_eq!(a.check_host(&headers(&[("host", "evil.example:8081")])), Err(Denied::WrongHost));
        assert_eq!(a.check_host(&headers(&[])), Err(Denied::WrongHost));
        assert_eq!(a.check_read(&headers(&[])), Ok(()));
        let r = auth(Some("t"), true);
        assert_eq!(r.check_host(&headers(&[("host", "anything")])), Ok(()));
        assert_eq!(r.check_read(&headers(&[])), Err(Denied::Unauthenticated));
        assert_eq!(r.check_read(&headers(&[("authorization", "Bearer t")])), Ok(()));
    }
}
