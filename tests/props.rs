//! Property tests of the pure parts: refs, byte ranges, store templates, merge paths and signed
//! URLs. Cases per property: `PROPTEST_CASES` (default 256, so CI stays fast);
//! `scripts/props.sh` runs them with 100000 in release mode.

use artifact_component::backend::mem::{MemMetadata, MemStorage};
use artifact_component::codec::{parse_range, resolve_range};
use artifact_component::manifest::parse_merge_path;
use artifact_component::model::PutOptions;
use artifact_component::model::{ByteRange, Error};
use artifact_component::refs::{self, noetl, Logical, Ref};
use artifact_component::sign::{self, Keys, SignOptions, MAX_TTL_SECS};
use artifact_component::store::Store;
use artifact_component::template::{Template, VARIABLES};
use proptest::prelude::*;
use proptest::test_runner::Config;
use std::rc::Rc;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256);
    // No regression files in the tree: a failure prints its minimal input instead.
    Config {
        cases,
        max_local_rejects: cases.saturating_mul(4).max(65_536),
        max_global_rejects: cases.max(1024),
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Refs

/// Characters that make URIs interesting: escapes, delimiters, blanks (Python's and others),
/// controls, non-ASCII, and the characters NFKC turns into delimiters.
fn uri_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range('a', 'z'),
        1 => proptest::char::range('A', 'Z'),
        1 => proptest::char::range('0', '9'),
        3 => proptest::sample::select(
            "%/?#;@[]:.~+-_ =&!$'()*,".chars().collect::<Vec<_>>()
        ),
        1 => proptest::sample::select(vec![
            '\t', '\n', '\r', '\u{b}', '\u{c}', '\u{0}', '\u{1}', '\u{1c}', '\u{1f}', '\u{7f}', '\u{85}',
            '\u{a0}', '\u{2000}', '\u{2028}', '\u{3000}', '\u{feff}',
        ]),
        1 => proptest::sample::select(vec!['é', 'ü', 'ß', '€', '😀', '\u{fffd}', '\u{2100}', '\u{ff0f}', '\u{ff20}', '\u{2a74}']),
        1 => any::<char>(),
    ]
}

fn uri_string() -> impl Strategy<Value = String> {
    proptest::collection::vec(uri_char(), 0..24).prop_map(|v| v.into_iter().collect())
}

/// A segment that prints and parses back to itself: non-empty, no blanks NoETL would trim.
fn canonical_segment() -> impl Strategy<Value = String> {
    proptest::collection::vec(uri_char(), 1..12).prop_map(|v| {
        let s: String = v.into_iter().collect();
        match noetl::py_strip(&s) {
            "" => "x".to_string(),
            t => t.to_string(),
        }
    })
}

fn canonical_segments() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(canonical_segment(), 1..6)
}

/// Everything but `A-Z a-z 0-9 - . _ ~` as uppercase `%XX`.
fn is_canonical_text(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("noetl://") else { return false };
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = |x: Option<&u8>| x.is_some_and(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c));
                if !(hex(b.get(i + 1)) && hex(b.get(i + 2))) {
                    return false;
                }
                i += 3;
            }
            c if c.is_ascii_alphanumeric() || b"-._~/".contains(&c) => i += 1,
            _ => return false,
        }
    }
    !rest.is_empty() && !rest.starts_with('/') && !rest.ends_with('/') && !rest.contains("//")
}

/// Characters that may stand unescaped in a lenient locator without changing its segments:
/// not a delimiter, not removed by urlsplit (tab, CR, LF), not an authority check trigger.
fn may_stand_raw(c: char) -> bool {
    !matches!(c, '/' | '?' | '#' | '%' | '[' | ']' | '\t' | '\r' | '\n')
        && !"\u{2047}\u{2048}\u{2049}\u{2100}\u{2101}\u{2105}\u{2106}\u{2a74}\u{fe13}\u{fe16}\u{fe55}\u{fe56}\u{fe5f}\u{fe6b}\u{ff03}\u{ff0f}\u{ff1a}\u{ff1f}\u{ff20}"
            .contains(c)
}

/// One segment written leniently: per character, canonical escape, lowercase escape, raw
/// character (where harmless) or a needless escape of an unreserved one; `+` raw.
fn lenient_segment(seg: &str, picks: &[u8]) -> String {
    let mut out = String::new();
    for (i, c) in seg.chars().enumerate() {
        let pick = picks[i % picks.len()] % 4;
        let mut buf = [0u8; 4];
        let bytes = c.encode_utf8(&mut buf).as_bytes().to_vec();
        let escaped = |lower: bool| {
            bytes.iter().map(|b| if lower { format!("%{b:02x}") } else { format!("%{b:02X}") }).collect::<String>()
        };
        match pick {
            0 => out.push_str(&refs::encode_segment(&c.to_string())),
            1 => out.push_str(&escaped(true)),
            2 if may_stand_raw(c) => out.push(c),
            3 => out.push_str(&escaped(false)),
            _ => out.push_str(&escaped(false)),
        }
    }
    out
}

const PY_BLANKS: &[char] = &[
    ' ', '\t', '\n', '\r', '\u{b}', '\u{c}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{1f}', '\u{85}', '\u{a0}', '\u{3000}',
    '\u{2029}',
];

#[derive(Debug, Clone)]
struct Lenient {
    scheme_case: Vec<bool>,
    slashes: u8,
    lead: Vec<char>,
    trail: Vec<char>,
    c0: Vec<char>,
    trailing_slash: bool,
    doubled: Vec<bool>,
    picks: Vec<u8>,
    tail: u8,
    tabs: Vec<(usize, char)>,
}

fn lenient() -> impl Strategy<Value = Lenient> {
    (
        proptest::collection::vec(any::<bool>(), 5),
        0u8..4,
        proptest::collection::vec(proptest::sample::select(PY_BLANKS), 0..3),
        proptest::collection::vec(proptest::sample::select(PY_BLANKS), 0..3),
        proptest::collection::vec(proptest::sample::select(vec!['\u{0}', '\u{1}', '\u{8}', '\u{1b}', ' ']), 0..3),
        any::<bool>(),
        proptest::collection::vec(any::<bool>(), 6),
        proptest::collection::vec(any::<u8>(), 1..8),
        0u8..4,
        proptest::collection::vec((any::<usize>(), proptest::sample::select(vec!['\t', '\r', '\n'])), 0..3),
    )
        .prop_map(|(scheme_case, slashes, lead, trail, c0, trailing_slash, doubled, picks, tail, tabs)| Lenient {
            scheme_case,
            slashes,
            lead,
            trail,
            c0,
            trailing_slash,
            doubled,
            picks,
            tail,
            tabs,
        })
}

/// Writes `segments` the lenient ways NoETL reads back as the same segments.
fn write_lenient(segments: &[String], l: &Lenient) -> String {
    let scheme: String =
        "noetl".chars().zip(&l.scheme_case).map(|(c, up)| if *up { c.to_ascii_uppercase() } else { c }).collect();
    // `noetl://a/b`, `noetl:a/b`, `noetl:/a/b` or `noetl:///a/b`.
    let sep = ["//", "", "/", "///"][l.slashes as usize];
    let mut body = String::new();
    for (i, s) in segments.iter().enumerate() {
        if i > 0 {
            body.push('/');
            if l.doubled[i % l.doubled.len()] {
                body.push('/');
            }
        }
        body.push_str(&lenient_segment(s, &l.picks));
    }
    if l.trailing_slash {
        body.push('/');
    }
    body.push_str(["", "?", "#", "?#"][l.tail as usize]);
    let mut uri = format!("{scheme}:{sep}{body}");
    // urlsplit removes tab, CR and LF wherever they are.
    for (at, c) in &l.tabs {
        let mut cut = at % (uri.len() + 1);
        while !uri.is_char_boundary(cut) {
            cut -= 1;
        }
        uri.insert(cut, *c);
    }
    let lead: String = l.lead.iter().collect();
    let c0: String = l.c0.iter().collect();
    let trail: String = l.trail.iter().collect();
    format!("{lead}{c0}{uri}{trail}")
}

#[test]
fn refs_print_then_parse_is_identity() {
    proptest!(config(), |(segments in canonical_segments())| {
        let l = Logical { segments: segments.clone() };
        let printed = l.to_string();
        prop_assert!(is_canonical_text(&printed), "{printed}");
        let back = Logical::parse(&printed).map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?;
        prop_assert_eq!(&back, &l);
        prop_assert_eq!(back.to_string(), printed.clone());
        prop_assert_eq!(refs::parse_ref(&printed).ok(), Some(Ref::Logical(printed.clone())));
        // NoETL itself reads the same segments, unless one holds a '/' (which it refuses).
        let slash = segments.iter().any(|s| s.contains('/'));
        match noetl::parse(&printed) {
            Ok(s) => prop_assert!(!slash && s == segments),
            Err(r) => prop_assert!(slash && r == noetl::Reject::SlashInSegment, "{:?}", r),
        }
    });
}

#[test]
fn refs_lenient_forms_parse_to_the_same_segments() {
    proptest!(config(), |(segments in canonical_segments(), l in lenient())| {
        let uri = write_lenient(&segments, &l);
        let got = Logical::parse(&uri).map_err(|e| TestCaseError::fail(format!("{uri:?}: {e}")))?;
        prop_assert_eq!(&got.segments, &segments, "{:?}", uri);
        let canonical = Logical { segments: segments.clone() }.to_string();
        prop_assert_eq!(got.to_string(), canonical.clone());
        prop_assert_eq!(refs::parse_ref(&uri).ok(), Some(Ref::Logical(canonical)), "{:?}", uri);
        if !segments.iter().any(|s| s.contains('/')) {
            prop_assert_eq!(noetl::parse(&uri).ok(), Some(segments), "{:?}", uri);
        }
    });
}

#[test]
fn refs_parse_never_panics_and_only_yields_canonical_refs() {
    let tokens = proptest::sample::select(vec![
        "noetl:", "NOETL://", "noetl://", "//", "/", "%", "%2F", "%2f", "%20", "%C3", "%A9", "%FF", "%25", "?", "#",
        ";", "[", "]", "::1", "v1.", "@", ":", " ", "\t", "\u{0}", "\u{3000}", "é", "\u{2100}", "a", "x", ".", "..",
        "{", "\"ref\":", "}",
    ]);
    let tokenised = proptest::collection::vec(tokens, 0..16).prop_map(|v| v.concat());
    proptest!(config(), |(s in prop_oneof![any::<String>(), uri_string(), tokenised])| {
        let parsed = Logical::parse(&s);
        let _ = noetl::parse(&s);
        let _ = refs::validate_bucket(&s);
        let _ = refs::validate_name(&s);
        match refs::parse_ref(&s) {
            Ok(Ref::Logical(uri)) | Ok(Ref::ResultRef { logical: uri, .. }) => {
                prop_assert!(is_canonical_text(&uri), "{:?} -> {}", s, uri)
            }
            Ok(_) => {}
            Err(e) => prop_assert_eq!(e.kind(), "invalid-ref", "{:?}", s),
        }
        match parsed {
            Ok(l) => {
                prop_assert!(l.is_canonical(), "{:?}", s);
                let printed = l.to_string();
                prop_assert!(is_canonical_text(&printed), "{}", printed);
                prop_assert_eq!(Logical::parse(&printed).ok(), Some(l));
            }
            Err(e) => prop_assert!(matches!(e, Error::InvalidRef(_)), "{:?}: {:?}", s, e),
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Byte ranges

fn edge_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..64,
        any::<u64>(),
        (0u64..8).prop_map(|d| u64::MAX - d),
        (0u64..8).prop_map(|d| (1u64 << 63) - 4 + d),
    ]
}

fn byte_range() -> impl Strategy<Value = ByteRange> {
    prop_oneof![
        (edge_u64(), edge_u64()).prop_map(|(start, end)| ByteRange::Bounded { start, end }),
        edge_u64().prop_map(ByteRange::From),
        edge_u64().prop_map(ByteRange::Suffix),
    ]
}

#[test]
fn ranges_resolve_within_the_body() {
    proptest!(config(), |(r in byte_range(), size in edge_u64())| {
        match resolve_range(r, size) {
            Ok((off, len)) => {
                prop_assert!(len >= 1);
                let end = off.checked_add(len);
                prop_assert!(end.is_some_and(|e| e <= size), "{:?} {} -> {} {}", r, size, off, len);
                let last = off + len - 1; // the inclusive end
                match r {
                    ByteRange::Bounded { start, end } => {
                        prop_assert_eq!(off, start);
                        prop_assert_eq!(last, end.min(size - 1));
                    }
                    ByteRange::From(start) => {
                        prop_assert_eq!(off, start);
                        prop_assert_eq!(last, size - 1);
                    }
                    ByteRange::Suffix(n) => {
                        prop_assert_eq!(len, n.min(size));
                        prop_assert_eq!(last, size - 1);
                    }
                }
            }
            Err(Error::RangeNotSatisfiable(n)) => {
                prop_assert_eq!(n, size);
                let empty = match r {
                    ByteRange::Bounded { start, end } => end >= start && start >= size,
                    ByteRange::From(start) => start >= size,
                    ByteRange::Suffix(n) => n == 0 || size == 0,
                };
                prop_assert!(empty, "{:?} {}", r, size);
            }
            Err(Error::InvalidArgument(_)) => {
                prop_assert!(matches!(r, ByteRange::Bounded { start, end } if end < start), "{:?}", r)
            }
            Err(e) => prop_assert!(false, "{:?} {}: unexpected {:?}", r, size, e),
        }
    });
}

#[test]
fn range_text_parses_back() {
    proptest!(config(), |(r in byte_range(), s in "[ 0-9-]{0,24}", junk in any::<String>())| {
        let _ = parse_range(&s);
        let _ = parse_range(&junk);
        let valid = !matches!(r, ByteRange::Bounded { start, end } if end < start);
        let text = sign::range_text(r);
        prop_assert_eq!(parse_range(&text).ok(), valid.then_some(r), "{}", text);
    });
}

// ---------------------------------------------------------------------------------------------
// Store templates

fn template_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => proptest::sample::select(vec![
            "a", "b", "/", "//", ".", "..", "./", "../", "blobs", "blobs/", "x.json", "-", "_", " ", "{", "}", "\\", "?", "é",
        ])
        .prop_map(str::to_string),
        2 => proptest::sample::select(VARIABLES.to_vec()).prop_map(|v| format!("{{{{ {v} }}}}")),
        1 => "[a-z./{} ]{0,6}",
    ];
    // Often starting at the content-addressed area, literally or through a variable.
    let start =
        proptest::sample::select(vec!["", "", "blobs/", "blobs/", "blobs", "{{ bucket }}/", "{{ name }}", "./"]);
    (proptest::sample::select(vec!["fs", "s3", "mem", "kv", ""]), start, proptest::collection::vec(piece, 0..8))
        .prop_map(|(d, s, p)| format!("{d}://{s}{}", p.concat()))
}

fn template_value() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        4 => proptest::sample::select(vec![
            "e1", "out", "blobs", "blobs/x", "..", ".", "a/b", "/abs", "a/", "", "x.json", "a/../b", "a\\b", "ü", "a b",
        ])
        .prop_map(|s| Some(s.to_string())),
        1 => "[a-z./]{0,8}".prop_map(Some),
        1 => Just(None),
    ]
}

fn template_vars() -> impl Strategy<Value = Vec<Option<String>>> {
    proptest::collection::vec(template_value(), VARIABLES.len())
}

fn render(t: &Template, vals: &[Option<String>]) -> Result<String, Error> {
    t.render(&|k| VARIABLES.iter().position(|v| *v == k).and_then(|i| vals[i].clone()))
}

#[test]
fn templates_never_escape_their_root() {
    proptest!(config(), |(text in template_text(), vals in template_vars(), junk in any::<String>())| {
        let _ = Template::parse(&junk);
        let Ok(t) = Template::parse(&text) else { return Ok(()) };
        if let Ok(uri) = render(&t, &vals) {
            let path = uri.split_once("://").map(|(_, p)| p).unwrap_or("");
            prop_assert!(!path.is_empty() && !path.starts_with('/'), "{} -> {}", text, uri);
            for seg in path.split('/') {
                prop_assert!(!seg.is_empty() && seg != "." && seg != "..", "{} -> {}", text, uri);
            }
        }
    });
}

/// `blobs/` (content-addressed blobs) and `index/` (chunk indexes) belong to the store: no
/// template may put an artifact there. The rule is the store's (`store.rs`, `template_uri`), not
/// `Template::render`'s, so this goes through `Store::put` with templates whose variables come
/// from the put options.
#[test]
fn templates_never_target_the_store_namespaces() {
    let word = || proptest::sample::select(vec!["blobs", "index", "e1", "x.json", "blobs/x", "index/y", "a/b"]);
    let opts =
        (proptest::option::of(word()), proptest::option::of(word()), proptest::option::of(word()), any::<bool>());
    let mem_template = template_text().prop_map(|t| format!("mem://{}", t.split_once("://").map_or("", |(_, p)| p)));
    proptest!(config(), |(text in mem_template, (name, eid, step, in_bucket) in opts)| {
        let st = Store::new(Rc::new(MemStorage::default()), Rc::new(MemMetadata::default()));
        let o = PutOptions {
            store: Some(text.clone()),
            bucket: in_bucket.then(|| "blobs".to_string()),
            name: name.map(str::to_string),
            execution_id: eid.map(str::to_string),
            step: step.map(str::to_string),
            content_type: Some("text/plain".into()),
            ..Default::default()
        };
        if let Ok(put) = st.put(b"hello", &o) {
            let uri = &put.record.location.uri;
            let path = uri.split_once("://").map_or(uri.as_str(), |(_, p)| p);
            let first = path.split('/').next().unwrap_or("");
            prop_assert!(first != "blobs" && first != "index", "{} with {:?} stored at {}", text, o, uri);
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Merge paths

fn merge_key() -> impl Strategy<Value = String> {
    // Inner blanks only: the path is trimmed at its ends.
    "[A-Za-z0-9_$-]([A-Za-z0-9_$ -]{0,6}[A-Za-z0-9_$-])?"
}

#[test]
fn merge_paths_split_into_their_keys() {
    // `$` alone is the root, and `$.` a prefix: a first key `$` would read differently.
    let keys = proptest::collection::vec(merge_key(), 1..6).prop_filter("first key is not $", |k| k[0] != "$");
    proptest!(config(), |(keys in keys, dollar in any::<bool>(), pad in "[ \t]{0,2}", junk in any::<String>())| {
        let _ = parse_merge_path(&junk);
        let joined = keys.join(".");
        let p = format!("{pad}{}{joined}{pad}", if dollar { "$." } else { "" });
        if p.len() > 1024 {
            prop_assert!(parse_merge_path(&p).is_err());
        } else {
            prop_assert_eq!(parse_merge_path(&p).ok(), Some(keys), "{:?}", p);
        }
    });
}

#[test]
fn merge_paths_never_yield_empty_keys() {
    let text = prop_oneof![any::<String>(), "[$. a]{0,12}", "\\$\\.[a.]{0,6}"];
    proptest!(config(), |(p in text)| {
        match parse_merge_path(&p) {
            Ok(keys) => {
                prop_assert!(p.len() <= 1024);
                prop_assert!(keys.iter().all(|k| !k.is_empty() && !k.contains('.')), "{:?} -> {:?}", p, keys);
                let t = p.trim();
                if keys.is_empty() {
                    prop_assert_eq!(t, "$");
                } else {
                    prop_assert_eq!(keys.join("."), t.strip_prefix("$.").unwrap_or(t));
                }
            }
            Err(e) => prop_assert_eq!(e.kind(), "invalid-argument"),
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Signed URLs

const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn artifact_id() -> impl Strategy<Value = String> {
    (0usize..8, proptest::collection::vec(0usize..32, 25)).prop_map(|(first, rest)| {
        std::iter::once(ALPHABET[first]).chain(rest.into_iter().map(|i| ALPHABET[i])).map(char::from).collect()
    })
}

fn keys() -> impl Strategy<Value = (Keys, Vec<String>)> {
    proptest::collection::vec(proptest::collection::vec(any::<u8>(), 16..48), 1..4).prop_map(|ks| {
        let kids: Vec<String> = (0..ks.len()).map(|i| format!("k{i}")).collect();
        let text: Vec<String> =
            ks.iter().zip(&kids).map(|(k, kid)| format!("{kid}:{}", artifact_component::encoding::base64url(k))).collect();
        (Keys::parse(&text.join(","), None).expect("valid keys"), kids)
    })
}

fn sign_range() -> impl Strategy<Value = Option<ByteRange>> {
    prop_oneof![
        Just(None),
        (0u64..1 << 40, 0u64..1 << 20).prop_map(|(s, n)| Some(ByteRange::Bounded { start: s, end: s + n })),
        (0u64..1 << 40).prop_map(|s| Some(ByteRange::From(s))),
        (1u64..1 << 40).prop_map(|n| Some(ByteRange::Suffix(n))),
    ]
}

#[derive(Debug, Clone)]
struct Signed {
    id: String,
    now: u64,
    ttl: u64,
    head: bool,
    kid: usize,
    range: Option<ByteRange>,
}

fn signed() -> impl Strategy<Value = Signed> {
    // Clocks from 1970 to 2500.
    (artifact_id(), 0u64..16_725_225_600, 1..=MAX_TTL_SECS, any::<bool>(), 0usize..4, sign_range())
        .prop_map(|(id, now, ttl, head, kid, range)| Signed { id, now, ttl, head, kid, range })
}

fn mint(keys: &Keys, kids: &[String], s: &Signed) -> String {
    let o = SignOptions {
        method: s.head.then(|| "HEAD".to_string()),
        range: s.range,
        kid: Some(kids[s.kid % kids.len()].clone()),
    };
    sign::sign_path(keys, &s.id, s.now, s.ttl, &o).expect("signable")
}

fn query(url: &str) -> &str {
    url.split_once('?').map(|(_, q)| q).unwrap_or("")
}

#[test]
fn signatures_verify_until_expiry() {
    proptest!(config(), |((keys, kids) in keys(), s in signed(), at in any::<u64>())| {
        let url = mint(&keys, &kids, &s);
        prop_assert_eq!(url.split_once('?').map(|(p, _)| p.to_string()), Some(format!("{}{}", sign::PATH_PREFIX, s.id)));
        let exp = s.now + s.ttl;
        let when = s.now + at % s.ttl; // now <= when < exp
        let method = if s.head { "HEAD" } else { "GET" };
        let g = sign::verify(&keys, method, &s.id, query(&url), when).map_err(|e| TestCaseError::fail(format!("{url}: {e}")))?;
        prop_assert_eq!(g.exp, exp);
        prop_assert_eq!(&g.kid, &kids[s.kid % kids.len()]);
        prop_assert_eq!(g.range, s.range);
        // A GET URL also allows HEAD; a HEAD URL does not allow GET.
        prop_assert_eq!(sign::verify(&keys, "HEAD", &s.id, query(&url), when).is_ok(), true);
        prop_assert_eq!(sign::verify(&keys, "GET", &s.id, query(&url), when).is_ok(), !s.head);
        // At and after expiry it is `expired`.
        let late = exp + at % (1 << 32);
        let e = sign::verify(&keys, method, &s.id, query(&url), late).expect_err("expired");
        prop_assert_eq!(e.kind(), "expired");
    });
}

#[test]
fn any_one_character_change_to_a_signed_query_fails() {
    let replacement = prop_oneof![
        proptest::char::range('!', '~'),
        proptest::sample::select(vec!['/', '+', '_', '-', '=', '%', '&', ' ', 'A', 'B', 'C', 'D', 'é', '\u{0}']),
    ];
    proptest!(config(), |((keys, kids) in keys(), s in signed(), pos in any::<usize>(), c in replacement)| {
        let url = mint(&keys, &kids, &s);
        let q = query(&url);
        let chars: Vec<char> = q.chars().collect();
        let i = pos % chars.len();
        prop_assume!(chars[i] != c);
        let mut m = chars.clone();
        m[i] = c;
        let mutated: String = m.into_iter().collect();
        let method = if s.head { "HEAD" } else { "GET" };
        let got = sign::verify(&keys, method, &s.id, &mutated, s.now);
        prop_assert!(got.is_err(), "{:?} -> {:?} still verifies: {:?}", q, mutated, got);
        prop_assert!(matches!(got, Err(Error::Forbidden(_))), "{:?}: {:?}", mutated, got);
    });
}

/// The same, exhaustively over every position of a few URLs and a replacement alphabet, so
/// the rare cases (one position, one character) are not left to chance.
#[test]
fn every_one_character_change_to_a_signed_query_fails() {
    let keys = Keys::parse("k0:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", None).unwrap();
    let mut alphabet: Vec<char> = ('!'..='~').collect();
    alphabet.extend([' ', 'é', '\u{0}']);
    let mut survivors = Vec::new();
    for (n, range) in
        [None, Some(ByteRange::Bounded { start: 0, end: 9 }), Some(ByteRange::Suffix(5))].into_iter().enumerate()
    {
        for head in [false, true] {
            let id = format!("01ARZ3NDEKTSV4RRFFQ69G5FA{n}");
            let o = SignOptions { method: head.then(|| "HEAD".into()), range, kid: None };
            let url = sign::sign_path(&keys, &id, 1_700_000_000, 3600, &o).unwrap();
            let q: Vec<char> = query(&url).chars().collect();
            let method = if head { "HEAD" } else { "GET" };
            for i in 0..q.len() {
                for &c in &alphabet {
                    if c == q[i] {
                        continue;
                    }
                    let mut m = q.clone();
                    m[i] = c;
                    let m: String = m.into_iter().collect();
                    if sign::verify(&keys, method, &id, &m, 1_700_000_000).is_ok() {
                        survivors.push(format!("{}: position {i} {:?} -> {c:?}: {m}", url, q[i]));
                    }
                }
            }
        }
    }
    assert!(
        survivors.is_empty(),
        "{} mutations still verify, e.g.\n{}",
        survivors.len(),
        survivors[..survivors.len().min(8)].join("\n")
    );
}

#[test]
fn verification_never_panics_on_arbitrary_queries() {
    let token = proptest::sample::select(vec![
        "exp=",
        "kid=",
        "sig=",
        "range=",
        "method=",
        "HEAD",
        "k0",
        "&",
        "=",
        "%",
        "%2",
        "%zz",
        "%FF",
        "+",
        "1700000000",
        "99999999999999999999",
        "0-9",
        "-0",
        "5-",
        "AAAA",
        "-_",
        "//",
        "é",
    ]);
    let tokenised = proptest::collection::vec(token, 0..12).prop_map(|v| v.concat());
    let text = prop_oneof![any::<String>(), tokenised];
    proptest!(config(), |(q in text, method in prop_oneof![Just("GET".to_string()), Just("HEAD".to_string()), any::<String>()], id in any::<String>(), now in edge_u64(), cfg in any::<String>())| {
        let keys = Keys::parse("k0:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", None).unwrap();
        if let Err(e) = sign::verify(&keys, &method, &id, &q, now) {
            prop_assert!(matches!(e, Error::Forbidden(_)), "{:?}: {:?}", q, e);
        }
        let _ = Keys::parse(&cfg, None);
        let _ = Keys::parse(&cfg, Some(&q));
        let _ = artifact_component::encoding::base64_decode(&q);
    });
}

/// A correctly signed URL is refused once expired, whatever the clocks: minted at `now`, checked
/// later. (Verification formats the expiry into the `expired` message.)
#[test]
fn verification_never_panics_for_any_clock() {
    proptest!(config(), |((keys, kids) in keys(), id in artifact_id(), now in edge_u64(), ttl in 1..=MAX_TTL_SECS, later in edge_u64())| {
        let s = Signed { id, now, ttl, head: false, kid: 0, range: None };
        let url = mint(&keys, &kids, &s);
        let at = now.saturating_add(ttl).saturating_add(later % 1000);
        let r = std::panic::catch_unwind(|| sign::verify(&keys, "GET", &s.id, query(&url), at).map_err(|e| e.kind()));
        prop_assert!(r.is_ok(), "verify panicked for a URL minted at {} (ttl {}) checked at {}", now, ttl, at);
    });
}

#[test]
fn base64url_round_trips() {
    proptest!(config(), |(data in proptest::collection::vec(any::<u8>(), 0..80))| {
        let text = artifact_component::encoding::base64url(&data);
        prop_assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        prop_assert_eq!(artifact_component::encoding::base64_decode(&text), Some(data));
    });
}
