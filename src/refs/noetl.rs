//! NoETL's own reading of `noetl://` locators, reproduced step by step so that every locator
//! NoETL accepts resolves here to the same segments and every one it rejects is refused.
//!
//! The reference is `NoetlResourceLocator.parse` and `from_segments` in
//! `noetl/core/resource_locator.py` (lines 87-108 at noetl commit 99692f7; NoETL requires
//! Python >= 3.12), with `_normalize_segment` further down:
//!
//! ```text
//! if not isinstance(value, str) or not value.strip(): raise          # (1)
//! parsed = urlparse(value.strip())                                   # (2)
//! if parsed.scheme != "noetl": raise                                 # (3)
//! if parsed.params or parsed.query or parsed.fragment: raise         # (4)
//! raw_segments = [parsed.netloc] if parsed.netloc else []            # (5)
//! raw_segments += [part for part in parsed.path.split("/") if part]  # (6)
//! segments = tuple(unquote(part) for part in raw_segments)           # (7)
//! from_segments(segments):  each str(segment).strip(); empty -> raise; "/" in it -> raise;
//!                           no segments -> raise                     # (8)
//! ```
//!
//! and the CPython 3.12/3.13 `urllib.parse` functions it calls (`urlsplit`, `_splitnetloc`,
//! `_check_bracketed_host`, `_checknetloc`, `unquote`), whose details decide the lenient forms:
//! the scheme is case-insensitive; blanks around the locator go; leading C0 controls go and tab,
//! CR and LF go from anywhere; `noetl:a/b`, `noetl:/a` and `noetl:///a` are locators too; empty
//! segments (`a//b`, a trailing `/`) are dropped; `;` is an ordinary character (params are only
//! split for http-like schemes); an empty `?` or `#` is no query or fragment; escapes are decoded
//! with either hex case, malformed ones stay literal and undecodable bytes become U+FFFD; each
//! decoded segment is trimmed of blanks; a bracketed authority must be an IPv6 (or IPvFuture)
//! literal; and an authority with a character that NFKC-normalises to `/ ? # @ :` is refused.

/// Why NoETL (or CPython's `urlsplit`, which raises `ValueError`) refuses a locator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    /// (1): nothing but blanks.
    Blank,
    /// (3): the scheme is not `noetl`.
    Scheme,
    /// (4): a non-empty query.
    Query,
    /// (4): a non-empty fragment.
    Fragment,
    /// `urlsplit`: unbalanced brackets, or a bracketed host that is not IPv6/IPvFuture.
    BracketedHost,
    /// `urlsplit` (`_checknetloc`): the authority has a character whose NFKC form has `/?#@:`.
    NetlocNfkc,
    /// (8): a segment that is empty once decoded and trimmed.
    EmptySegment,
    /// (8): a decoded segment contains `/`.
    SlashInSegment,
    /// (8): no segments at all.
    NoSegments,
}

impl Reject {
    pub fn why(self) -> &'static str {
        match self {
            Reject::Blank => "it is empty",
            Reject::Scheme => "it does not use the noetl: scheme",
            Reject::Query => "a query is not allowed",
            Reject::Fragment => "a fragment is not allowed",
            Reject::BracketedHost => "its bracketed authority is not an IPv6 or IPvFuture literal",
            Reject::NetlocNfkc => "its authority has a character that NFKC-normalises to '/', '?', '#', '@' or ':'",
            Reject::EmptySegment => "a segment is empty once decoded and trimmed",
            Reject::SlashInSegment => "a decoded segment contains '/'",
            Reject::NoSegments => "it has no segments",
        }
    }
}

/// NoETL's parse, exactly: the decoded, trimmed segments, or why NoETL refuses the locator.
pub fn parse(value: &str) -> Result<Vec<String>, Reject> {
    parse_with(value, false)
}

/// [`parse`], except that with `allow_slash` a decoded segment may contain `/` (an escaped
/// `%2F`), which NoETL refuses (see the crate's `Logical::parse` for why we accept it).
pub(crate) fn parse_with(value: &str, allow_slash: bool) -> Result<Vec<String>, Reject> {
    let stripped = py_strip(value); // (1), (2): value.strip()
    if stripped.is_empty() {
        return Err(Reject::Blank);
    }
    let url = prepare(stripped);
    let split = urlsplit(&url)?;
    if !split.noetl_scheme {
        return Err(Reject::Scheme); // (3)
    }
    // (4): params are never split off for the noetl scheme (`uses_params` lists only http-like
    // schemes), so `;` stays part of the path; only non-empty query/fragment count.
    if !split.query.is_empty() {
        return Err(Reject::Query);
    }
    if !split.fragment.is_empty() {
        return Err(Reject::Fragment);
    }
    let mut raw: Vec<&str> = Vec::new();
    if !split.netloc.is_empty() {
        raw.push(split.netloc); // (5)
    }
    raw.extend(split.path.split('/').filter(|p| !p.is_empty())); // (6)
    let mut segments = Vec::with_capacity(raw.len());
    for part in raw {
        let decoded = unquote(part); // (7)
        let value = py_strip(&decoded); // (8): _normalize_segment
        if value.is_empty() {
            return Err(Reject::EmptySegment);
        }
        if !allow_slash && value.contains('/') {
            return Err(Reject::SlashInSegment);
        }
        segments.push(value.to_string());
    }
    if segments.is_empty() {
        return Err(Reject::NoSegments);
    }
    Ok(segments)
}

/// Whether NoETL would read `value` as having the `noetl` scheme (whatever follows it), so
/// that the ref parser sends it to the logical-URI parser rather than treating it as a name.
pub fn has_noetl_scheme(value: &str) -> bool {
    // `prepare` without building the string: only its first six bytes matter (tab, CR and LF are
    // ASCII, so dropping them byte-wise is dropping them char-wise).
    let mut head = py_strip(value).trim_start_matches(|c: char| c <= ' ').bytes().filter(|b| !matches!(b, b'\t' | b'\r' | b'\n'));
    let mut six = [0u8; 6];
    for slot in &mut six {
        match head.next() {
            Some(b) => *slot = b,
            None => return false,
        }
    }
    six[5] == b':' && six[..5].eq_ignore_ascii_case(b"noetl")
}

/// Python's `str.isspace()` (what `str.strip()` removes): Unicode White_Space plus the
/// information separators U+001C..U+001F, which Python counts and Rust's `char::is_whitespace`
/// does not.
pub fn is_py_space(c: char) -> bool {
    matches!(
        c,
        '\u{9}'..='\u{d}'
            | '\u{1c}'..='\u{20}'
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// Python's `str.strip()` without arguments.
pub fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// The start of CPython's `urlsplit`: `url.lstrip(_WHATWG_C0_CONTROL_OR_SPACE)` (U+0000..U+0020)
/// then removal of every tab, CR and LF (`_UNSAFE_URL_BYTES_TO_REMOVE`).
fn prepare(s: &str) -> String {
    s.trim_start_matches(|c: char| c <= ' ').chars().filter(|c| !matches!(c, '\t' | '\r' | '\n')).collect()
}

struct Split<'a> {
    noetl_scheme: bool,
    netloc: &'a str,
    path: &'a str,
    query: &'a str,
    fragment: &'a str,
}

/// CPython's `urlsplit` (3.12, 3.13) on an already [`prepare`]d url, as far as NoETL looks.
fn urlsplit(url: &str) -> Result<Split<'_>, Reject> {
    // `i = url.find(':')`; the scheme is `url[:i].lower()` when `i > 0`, `url[0]` is an ASCII
    // letter and every character before `i` is in `scheme_chars`; NoETL then wants "noetl", so
    // exactly those five letters, in any case, followed by the first ':'.
    let (noetl_scheme, mut rest) = match url.find(':') {
        Some(5) if url[..5].eq_ignore_ascii_case("noetl") => (true, &url[6..]),
        _ => (false, url),
    };
    let mut netloc = "";
    if let Some(after) = rest.strip_prefix("//") {
        // `_splitnetloc(url, 2)`: the authority runs to the first '/', '?' or '#'.
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        netloc = &after[..end];
        rest = &after[end..];
        let (open, close) = (netloc.contains('['), netloc.contains(']'));
        if open != close {
            return Err(Reject::BracketedHost); // "Invalid IPv6 URL"
        }
        if open {
            // `_check_bracketed_host(netloc.partition('[')[2].partition(']')[0])`
            let (_, after_open) = netloc.split_once('[').unwrap_or(("", ""));
            let host = after_open.split(']').next().unwrap_or("");
            if !bracketed_host_ok(host) {
                return Err(Reject::BracketedHost);
            }
        }
    }
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if !netloc_nfkc_ok(netloc) {
        return Err(Reject::NetlocNfkc);
    }
    Ok(Split { noetl_scheme, netloc, path, query, fragment })
}

/// `_check_bracketed_host`: `v<hex>+.<anything>` (IPvFuture, matched by
/// `\Av[a-fA-F0-9]+\..+\Z`), or else `ipaddress.ip_address(host)` must give an IPv6 address
/// (an IPv4 one is refused too).
fn bracketed_host_ok(host: &str) -> bool {
    if let Some(rest) = host.strip_prefix('v') {
        let hex = rest.bytes().take_while(u8::is_ascii_hexdigit).count();
        // `.` in the regex matches anything but '\n', and prepare() removed every '\n'.
        return hex > 0 && rest[hex..].starts_with('.') && rest.len() > hex + 1;
    }
    py_ipv6(host)
}

/// `ipaddress.IPv6Address(s)` accepts `s` (CPython 3.12/3.13 `_split_scope_id` and
/// `_ip_int_from_string`).
fn py_ipv6(s: &str) -> bool {
    if s.contains('/') {
        return false;
    }
    let addr = match s.split_once('%') {
        None => s,
        Some((_, scope)) if scope.is_empty() || scope.contains('%') => return false,
        Some((addr, _)) => addr,
    };
    if addr.is_empty() {
        return false;
    }
    let mut parts: Vec<&str> = addr.split(':').collect();
    if parts.len() < 3 {
        return false;
    }
    if parts.last().is_some_and(|p| p.contains('.')) {
        if !py_ipv4(parts.pop().unwrap_or("")) {
            return false;
        }
        parts.extend(["0", "0"]); // two hextets, always well-formed
    }
    if parts.len() > 9 {
        return false;
    }
    let mut skip = None;
    for (i, p) in parts.iter().enumerate().take(parts.len() - 1).skip(1) {
        if p.is_empty() {
            if skip.is_some() {
                return false;
            }
            skip = Some(i);
        }
    }
    let n = parts.len();
    let (hi, lo) = match skip {
        Some(k) => {
            let (mut hi, mut lo) = (k, n - k - 1);
            if parts[0].is_empty() {
                hi -= 1;
                if hi > 0 {
                    return false;
                }
            }
            if parts[n - 1].is_empty() {
                lo -= 1;
                if lo > 0 {
                    return false;
                }
            }
            if hi + lo >= 8 {
                return false;
            }
            (hi, lo)
        }
        None => {
            if n != 8 || parts[0].is_empty() || parts[n - 1].is_empty() {
                return false;
            }
            (n, 0)
        }
    };
    // `_parse_hextet`: 1-4 ASCII hex digits (an empty one fails `int('', 16)`).
    let hextet = |h: &str| (1..=4).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_hexdigit());
    parts[..hi].iter().all(|h| hextet(h)) && parts[n - lo..].iter().all(|h| hextet(h))
}

/// `ipaddress.IPv4Address(s)` accepts `s`: four octets of 1-3 ASCII digits, no leading zero,
/// at most 255.
fn py_ipv4(s: &str) -> bool {
    let octets: Vec<&str> = s.split('.').collect();
    octets.len() == 4
        && octets.iter().all(|o| {
            !o.is_empty()
                && o.len() <= 3
                && o.bytes().all(|b| b.is_ascii_digit())
                && (*o == "0" || !o.starts_with('0'))
                && o.parse::<u16>().is_ok_and(|v| v <= 255)
        })
}

/// The characters whose NFKC form contains '/', '?', '#', '@' or ':' (computed with
/// `unicodedata` of CPython 3.12 (Unicode 15.0) and 3.13 (15.1): the same 19).
const NFKC_DELIMITERS: [char; 19] = [
    '\u{2047}', '\u{2048}', '\u{2049}', '\u{2100}', '\u{2101}', '\u{2105}', '\u{2106}', '\u{2a74}', '\u{fe13}',
    '\u{fe16}', '\u{fe55}', '\u{fe56}', '\u{fe5f}', '\u{fe6b}', '\u{ff03}', '\u{ff0f}', '\u{ff1a}', '\u{ff1f}',
    '\u{ff20}',
];

/// `_checknetloc`: a non-ASCII authority (minus '@', ':', '#', '?') is NFKC-normalised and must
/// not then contain any of '/', '?', '#', '@', ':'. Normalisation works character by character
/// here (those five are starters that nothing composes with), so a table of the characters
/// whose NFKC form contains one of them decides it exactly.
fn netloc_nfkc_ok(netloc: &str) -> bool {
    netloc.is_ascii() || !netloc.chars().any(|c| NFKC_DELIMITERS.contains(&c))
}

/// `urllib.parse.unquote(s)` (UTF-8, errors='replace'): each maximal run of ASCII characters
/// has its `%XX` escapes (either hex case) decoded to bytes, a '%' not followed by two hex
/// digits kept as it is, and the bytes decoded as UTF-8 with U+FFFD for each maximal invalid
/// subsequence; non-ASCII characters pass through (so an escape sequence never joins them).
pub fn unquote(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut run: Vec<u8> = Vec::new();
    let flush = |run: &mut Vec<u8>, out: &mut String| {
        out.push_str(&String::from_utf8_lossy(run));
        run.clear();
    };
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !c.is_ascii() {
            flush(&mut run, &mut out);
            let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
            out.push(ch);
            i += ch.len_utf8();
            continue;
        }
        if c == b'%' && i + 2 < b.len() && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit() {
            run.push(hex_val(b[i + 1]) << 4 | hex_val(b[i + 2]));
            i += 3;
        } else {
            run.push(c);
            i += 1;
        }
    }
    flush(&mut run, &mut out);
    out
}

fn hex_val(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `has_noetl_scheme` skips building `prepare`'s string; it must answer as the definition does.
    #[test]
    fn scheme_check_agrees_with_prepare() {
        let by_definition = |v: &str| {
            let url = prepare(py_strip(v));
            url.len() >= 6 && url.as_bytes()[5] == b':' && url[..5].eq_ignore_ascii_case("noetl")
        };
        let mut cases: Vec<String> = ["", "noetl", "noetl:", "NoEtL://x", " \u{1c}noetl:a", "n\toetl:", "noe\r\ntl:x", "noetl\t:",
            "noetlx:", "noet:", "\u{a0}noetl:", "\u{2003}noetl:x", "é:noetl", "noetlé", "\u{0}\u{1f} noetl:", "noetl\u{a0}:", "noét:l"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for base in cases.clone() {
            cases.push(format!("{base}\u{85}"));
            cases.push(format!("\t{base}"));
        }
        for c in &cases {
            assert_eq!(has_noetl_scheme(c), by_definition(c), "{c:?}");
        }
    }
}
