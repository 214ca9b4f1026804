//! The `noetl://` table: what NoETL's `NoetlResourceLocator.parse` (noetl/core/resource_locator.py)
//! does with each locator, derived from its code (and checked by running that code under CPython
//! 3.12 and 3.13), against `noetl::parse` (NoETL exactly) and `Logical::parse` (ours).

use super::*;
use crate::model::Error;

/// NoETL's outcome for a locator.
#[derive(Debug)]
enum Noetl {
    /// Accepted: the segments, and what NoETL's `str(locator)` prints (our canonical form too).
    Accept(&'static [&'static str], &'static str),
    /// Refused (`ResourceLocatorError` or urlsplit's `ValueError`): `invalid-ref` here.
    Reject,
    /// Refused by NoETL only because a decoded segment holds '/': we accept it (see
    /// `ACCEPT_ESCAPED_SLASH`) with these segments and this canonical form.
    RejectSlash(&'static [&'static str], &'static str),
}
use Noetl::*;

const ID: &str = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

#[rustfmt::skip]
const TABLE: &[(&str, Noetl)] = &[
    // canonical forms (what NoETL's __str__ prints: quote(segment, safe=''))
    ("noetl://execution/e1/result/out/01ARZ3NDEKTSV4RRFFQ69G5FAV", Accept(&["execution", "e1", "result", "out", "01ARZ3NDEKTSV4RRFFQ69G5FAV"], "noetl://execution/e1/result/out/01ARZ3NDEKTSV4RRFFQ69G5FAV")),
    ("noetl://execution/e1/manifest/parts/01ARZ3NDEKTSV4RRFFQ69G5FAV", Accept(&["execution", "e1", "manifest", "parts", "01ARZ3NDEKTSV4RRFFQ69G5FAV"], "noetl://execution/e1/manifest/parts/01ARZ3NDEKTSV4RRFFQ69G5FAV")),
    ("noetl://artifact/default/report.csv/01ARZ3NDEKTSV4RRFFQ69G5FAV", Accept(&["artifact", "default", "report.csv", "01ARZ3NDEKTSV4RRFFQ69G5FAV"], "noetl://artifact/default/report.csv/01ARZ3NDEKTSV4RRFFQ69G5FAV")),
    ("noetl://tenant/t1/org/o1/cluster/prod/node/node-a/worker/cpu-01", Accept(&["tenant", "t1", "org", "o1", "cluster", "prod", "node", "node-a", "worker", "cpu-01"], "noetl://tenant/t1/org/o1/cluster/prod/node/node-a/worker/cpu-01")),
    ("noetl://single", Accept(&["single"], "noetl://single")),
    ("noetl://execution/e1/result/with%20space/x", Accept(&["execution", "e1", "result", "with space", "x"], "noetl://execution/e1/result/with%20space/x")),
    ("noetl://execution/e1/result/50%25/x", Accept(&["execution", "e1", "result", "50%", "x"], "noetl://execution/e1/result/50%25/x")),
    ("noetl://execution/e1/result/%C3%BCn%C3%AF/x", Accept(&["execution", "e1", "result", "\u{fc}n\u{ef}", "x"], "noetl://execution/e1/result/%C3%BCn%C3%AF/x")),
    ("noetl://execution/e1/result/snake_case-name.v2~x/x", Accept(&["execution", "e1", "result", "snake_case-name.v2~x", "x"], "noetl://execution/e1/result/snake_case-name.v2~x/x")),
    ("noetl://%3F%23%3B%40", Accept(&["?#;@"], "noetl://%3F%23%3B%40")),
    // scheme: urlsplit lowercases it; parse() wants parsed.scheme == 'noetl', '//' optional
    ("NOETL://a/b", Accept(&["a", "b"], "noetl://a/b")),
    ("NoEtL://execution/e1/result/out/01ARZ3NDEKTSV4RRFFQ69G5FAV", Accept(&["execution", "e1", "result", "out", "01ARZ3NDEKTSV4RRFFQ69G5FAV"], "noetl://execution/e1/result/out/01ARZ3NDEKTSV4RRFFQ69G5FAV")),
    ("noetl:a/b", Accept(&["a", "b"], "noetl://a/b")),
    ("noetl:/a", Accept(&["a"], "noetl://a")),
    ("noetl:///a", Accept(&["a"], "noetl://a")),
    ("http://a/b", Reject), // locator must use noetl:// scheme
    ("s3://bucket/key", Reject), // locator must use noetl:// scheme
    ("noetl//a", Reject), // locator must use noetl:// scheme
    ("noetl-x://a", Reject), // locator must use noetl:// scheme
    ("xnoetl://a", Reject), // locator must use noetl:// scheme
    ("noetl", Reject), // locator must use noetl:// scheme
    ("noetl :a", Reject), // locator must use noetl:// scheme
    // blanks and controls: value.strip(), then urlsplit's lstrip of C0/space and removal of tab/CR/LF
    ("  noetl://a/b  ", Accept(&["a", "b"], "noetl://a/b")),
    ("\u{9}noetl://a\u{a}", Accept(&["a"], "noetl://a")),
    ("\u{3000}noetl://a\u{a0}", Accept(&["a"], "noetl://a")),
    ("\u{1c}noetl://a\u{1f}", Accept(&["a"], "noetl://a")),
    ("\u{0}\u{1}noetl://a", Accept(&["a"], "noetl://a")),
    ("no\u{9}etl://a", Accept(&["a"], "noetl://a")),
    ("noe\u{a}tl://a/b\u{d}", Accept(&["a", "b"], "noetl://a/b")),
    ("noetl://a\u{0}", Accept(&["a\u{0}"], "noetl://a%00")),
    ("\u{0} \u{3000}noetl://a", Reject), // locator must use noetl:// scheme
    ("", Reject), // locator must be a non-empty string
    (" \u{9}\u{a}", Reject), // locator must be a non-empty string
    // empty segments: `part for part in parsed.path.split('/') if part`, netloc only if non-empty
    ("noetl://a/b/", Accept(&["a", "b"], "noetl://a/b")),
    ("noetl://a//b", Accept(&["a", "b"], "noetl://a/b")),
    ("noetl://a/b//", Accept(&["a", "b"], "noetl://a/b")),
    ("noetl://", Reject), // locator must include at least one segment
    ("noetl:", Reject), // locator must include at least one segment
    ("noetl:///", Reject), // locator must include at least one segment
    ("noetl:////", Reject), // locator must include at least one segment
    // query, fragment, params: only non-empty ones are refused; ';' is never split for noetl
    ("noetl://a?x=1", Reject), // locator must not include params, query, or fragment
    ("noetl://a/b#frag", Reject), // locator must not include params, query, or fragment
    ("noetl://a?", Accept(&["a"], "noetl://a")),
    ("noetl://a#", Accept(&["a"], "noetl://a")),
    ("noetl://a?#", Accept(&["a"], "noetl://a")),
    ("noetl://a#?x", Reject), // locator must not include params, query, or fragment
    ("noetl://a/b;p=1", Accept(&["a", "b;p=1"], "noetl://a/b%3Bp%3D1")),
    ("noetl://a;p", Accept(&["a;p"], "noetl://a%3Bp")),
    ("noetl://a/b?x/c", Reject), // locator must not include params, query, or fragment
    ("noetl://?", Reject), // locator must include at least one segment
    ("noetl:?", Reject), // locator must include at least one segment
    // escapes: unquote() decodes %XX in either case, keeps malformed ones, U+FFFD for bad UTF-8; '+' is literal
    ("noetl://a+b", Accept(&["a+b"], "noetl://a%2Bb")),
    ("noetl://a%2Bb", Accept(&["a+b"], "noetl://a%2Bb")),
    ("noetl://a%2bb", Accept(&["a+b"], "noetl://a%2Bb")),
    ("noetl://a%41", Accept(&["aA"], "noetl://aA")),
    ("noetl://a%5Fb", Accept(&["a_b"], "noetl://a_b")),
    ("noetl://a%2", Accept(&["a%2"], "noetl://a%252")),
    ("noetl://a%", Accept(&["a%"], "noetl://a%25")),
    ("noetl://a%zz", Accept(&["a%zz"], "noetl://a%25zz")),
    ("noetl://%FF", Accept(&["\u{fffd}"], "noetl://%EF%BF%BD")),
    ("noetl://%C3%A9", Accept(&["\u{e9}"], "noetl://%C3%A9")),
    ("noetl://%c3%a9", Accept(&["\u{e9}"], "noetl://%C3%A9")),
    ("noetl://%C3\u{e9}", Accept(&["\u{fffd}\u{e9}"], "noetl://%EF%BF%BD%C3%A9")),
    ("noetl://%E2%82", Accept(&["\u{fffd}"], "noetl://%EF%BF%BD")),
    ("noetl://%ED%A0%80", Accept(&["\u{fffd}\u{fffd}\u{fffd}"], "noetl://%EF%BF%BD%EF%BF%BD%EF%BF%BD")),
    ("noetl://%F0%9F%98%80", Accept(&["\u{1f600}"], "noetl://%F0%9F%98%80")),
    ("noetl://a b", Accept(&["a b"], "noetl://a%20b")),
    ("noetl://a/\u{fc}", Accept(&["a", "\u{fc}"], "noetl://a/%C3%BC")),
    ("noetl://%00", Accept(&["\u{0}"], "noetl://%00")),
    ("noetl://~", Accept(&["~"], "noetl://~")),
    ("noetl://%7E", Accept(&["~"], "noetl://~")),
    // segment trimming: _normalize_segment strips each decoded segment and refuses an empty one
    ("noetl://%20a%20/b", Accept(&["a", "b"], "noetl://a/b")),
    ("noetl://%20", Reject), // locator segments must be non-empty
    ("noetl://a/%09/b", Reject), // locator segments must be non-empty
    ("noetl://a/%E2%80%83", Reject), // locator segments must be non-empty
    ("noetl://a%0A", Accept(&["a"], "noetl://a")),
    ("noetl://\u{3000}/a", Reject), // locator segments must be non-empty
    ("noetl://a/%1C", Reject), // locator segments must be non-empty
    ("noetl://./..", Accept(&[".", ".."], "noetl://./..")),
    ("noetl://a/.. ", Accept(&["a", ".."], "noetl://a/..")),
    // escaped '/': _normalize_segment refuses it (we accept it, see ACCEPT_ESCAPED_SLASH)
    ("noetl://a%2Fb", RejectSlash(&["a/b"], "noetl://a%2Fb")),
    ("noetl://a%2fb", RejectSlash(&["a/b"], "noetl://a%2Fb")),
    ("noetl://execution/e%2F1/result/a%2Fb/01ARZ3NDEKTSV4RRFFQ69G5FAV", RejectSlash(&["execution", "e/1", "result", "a/b", "01ARZ3NDEKTSV4RRFFQ69G5FAV"], "noetl://execution/e%2F1/result/a%2Fb/01ARZ3NDEKTSV4RRFFQ69G5FAV")),
    ("noetl://%2F", RejectSlash(&["/"], "noetl://%2F")),
    ("noetl://%2F/x%20", RejectSlash(&["/", "x"], "noetl://%2F/x")),
    // authority: urlsplit's bracket and NFKC checks (ValueError)
    ("noetl://user@host:80/x", Accept(&["user@host:80", "x"], "noetl://user%40host%3A80/x")),
    ("noetl://[::1]/x", Accept(&["[::1]", "x"], "noetl://%5B%3A%3A1%5D/x")),
    ("noetl://[fe80::1%25eth0]/x", Accept(&["[fe80::1%eth0]", "x"], "noetl://%5Bfe80%3A%3A1%25eth0%5D/x")),
    ("noetl://[v1.x]/y", Accept(&["[v1.x]", "y"], "noetl://%5Bv1.x%5D/y")),
    ("noetl://[1.2.3.4]/x", Reject), // An IPv4 address cannot be in brackets
    ("noetl://[::1%]/x", Reject), // '::1%' does not appear to be an IPv4 or IPv6 address
    ("noetl://[1:2:3:4:5:6:7:8:9]/x", Reject), // '1:2:3:4:5:6:7:8:9' does not appear to be an IPv4 or IPv6 address
    ("noetl://[::ffff:1.2.3.4]/x", Accept(&["[::ffff:1.2.3.4]", "x"], "noetl://%5B%3A%3Affff%3A1.2.3.4%5D/x")),
    ("noetl://[::ffff:01.2.3.4]/x", Reject), // '::ffff:01.2.3.4' does not appear to be an IPv4 or IPv6 address
    ("noetl://[x/y", Reject), // Invalid IPv6 URL
    ("noetl://a]/y", Reject), // Invalid IPv6 URL
    ("noetl://[V1.x]/y", Reject), // 'V1.x' does not appear to be an IPv4 or IPv6 address
    ("noetl://\u{2100}/x", Reject), // netloc '℀' contains invalid characters under NFKC normalization
    ("noetl://x/\u{2100}", Accept(&["x", "\u{2100}"], "noetl://x/%E2%84%80")),
    ("noetl://\u{ff0f}a/x", Reject), // netloc '／a' contains invalid characters under NFKC normalization
    ("noetl://a\u{ff20}b/x", Reject), // netloc 'a＠b' contains invalid characters under NFKC normalization
    ("noetl://\u{e9}/x", Accept(&["\u{e9}", "x"], "noetl://%C3%A9/x")),
];

#[test]
fn table_is_big_enough() {
    assert!(TABLE.len() >= 40, "{}", TABLE.len());
    let accepted = TABLE.iter().filter(|(_, o)| matches!(o, Accept(..))).count();
    let rejected = TABLE.iter().filter(|(_, o)| matches!(o, Reject)).count();
    assert!(accepted >= 20 && rejected >= 20, "{accepted} accepted, {rejected} rejected");
}

#[test]
fn noetl_parse_is_noetls_parser() {
    for (input, want) in TABLE {
        let got = noetl::parse(input);
        match want {
            Accept(segments, _) => assert_eq!(got, Ok(segments.iter().map(|s| s.to_string()).collect()), "{input:?}"),
            Reject => assert!(got.is_err(), "{input:?} gave {got:?}"),
            RejectSlash(..) => assert_eq!(got, Err(noetl::Reject::SlashInSegment), "{input:?}"),
        }
    }
}

#[test]
fn logical_parse_follows_noetl_and_prints_canonically() {
    for (input, want) in TABLE {
        let got = Logical::parse(input);
        match want {
            Accept(segments, printed) | RejectSlash(segments, printed) => {
                let l = got.unwrap_or_else(|e| panic!("{input:?}: {e}"));
                assert_eq!(l.segments, *segments, "{input:?}");
                assert_eq!(l.to_string(), *printed, "{input:?} prints canonically");
                assert!(l.is_canonical(), "{input:?}");
                // The canonical form is a fixed point, and is what the ref parser hands on.
                assert_eq!(Logical::parse(printed).unwrap(), l, "{printed:?}");
                assert_eq!(parse_ref(input).unwrap(), Ref::Logical(printed.to_string()), "{input:?}");
                let rr = serde_json::json!({"kind": "temp_ref", "ref": input}).to_string();
                assert_eq!(
                    parse_ref(&rr).unwrap(),
                    Ref::ResultRef { logical: printed.to_string(), sha256: None },
                    "{rr}"
                );
            }
            Reject => {
                assert!(matches!(got, Err(Error::InvalidRef(_))), "{input:?} gave {got:?}");
                assert!(matches!(parse_ref(input), Err(Error::InvalidRef(_))), "{input:?} through parse_ref");
            }
        }
    }
}

#[test]
fn round_trips_awkward_names() {
    for name in ["a/b", "snake_case", "50%", "with space", "ünï", "x.json.gz", "a+b", "?#;@", "~", "..", "%2F"] {
        let l = Logical::execution("e1", false, name, ID);
        let s = l.to_string();
        assert!(l.is_canonical());
        assert_eq!(Logical::parse(&s).unwrap(), l, "{s}");
        assert_eq!(Logical::parse(&s).unwrap().to_string(), s);
        assert_eq!(Logical::parse(&s.to_uppercase().replacen("NOETL", "NoEtL", 1)).map(|l| l.segments.len()), Ok(5));
    }
    // Names NoETL would trim are not canonical: their URI resolves to the trimmed name.
    let l = Logical::artifact("b", " padded ", ID);
    assert!(!l.is_canonical());
    assert_eq!(Logical::parse(&l.to_string()).unwrap().segments[2], "padded");
}

#[test]
fn error_kinds_and_messages() {
    for (input, why) in [
        ("noetl://a?x=1", "a query is not allowed"),
        ("noetl://a#f", "a fragment is not allowed"),
        ("noetl://", "it has no segments"),
        ("noetl://a/%20", "a segment is empty once decoded and trimmed"),
        ("NOETLX://a", "it does not use the noetl: scheme"),
        ("noetl://[1.2.3.4]/x", "its bracketed authority is not an IPv6 or IPvFuture literal"),
    ] {
        match Logical::parse(input) {
            Err(Error::InvalidRef(m)) => assert!(m.contains(why), "{input:?}: {m}"),
            other => panic!("{input:?}: {other:?}"),
        }
    }
}

#[test]
fn parses_every_ref_form() {
    assert_eq!(parse_ref(ID).unwrap(), Ref::Id(ID.into()));
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
    // NoETL's lenient spellings land on the canonical URI, whichever way they arrive.
    let canonical = Ref::Logical("noetl://execution/1/result/x/y".into());
    for lenient in
        [" NOETL://execution/1/result/x/y/ ", "noetl:execution//1/result/x/y", "Noetl:///execution/1/result/x/y?#"]
    {
        assert_eq!(parse_ref(lenient).unwrap(), canonical, "{lenient:?}");
    }
    for bad in
        ["", "nope", "{not json", r#"{"kind":"result_ref"}"#, "s3://x/y", "Bad/x", "b/../x", "noetl://a?q", "noetl:"]
    {
        assert!(matches!(parse_ref(bad), Err(Error::InvalidRef(_))), "{bad}");
    }
}

#[test]
fn py_strip_is_pythons() {
    // str.isspace() in CPython 3.12/3.13: 29 code points.
    let all: Vec<u32> =
        (0..=0x10FFFF).filter_map(char::from_u32).filter(|&c| noetl::is_py_space(c)).map(u32::from).collect();
    assert_eq!(all.len(), 29);
    assert_eq!(noetl::py_strip("\u{1c}\u{85} a \u{3000}"), "a");
    assert_eq!(noetl::py_strip("\u{0}a"), "\u{0}a");
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
