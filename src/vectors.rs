//! Runs the shared test vectors (`tests/vectors.json`) against the native modules, and feeds
//! hostile input to every parser. The file describes its own format: each section has a `how`
//! that says what the native run (this module) and a run through the component check.

use crate::backend::mem::{MemMetadata, MemStorage};
use crate::backend::{BlobWriter, Storage};
use crate::codec::{self, Verifier};
use crate::model::*;
use crate::refs::{self, Logical, Ref};
use crate::store::Store;
use crate::{preview, select, template, time};
use serde_json::{json, Value};
use std::rc::Rc;

const VECTORS: &str = include_str!("../tests/vectors.json");

fn vectors() -> Value {
    serde_json::from_str(VECTORS).expect("tests/vectors.json is valid JSON")
}

fn cases<'a>(v: &'a Value, section: &str) -> &'a Vec<Value> {
    v[section]["cases"].as_array().unwrap_or_else(|| panic!("section {section} has cases"))
}

fn s<'a>(c: &'a Value, k: &str) -> &'a str {
    c[k].as_str().unwrap_or_else(|| panic!("{k} is a string in {c}"))
}

/// The vectors' storage: the in-memory backend under the driver name `fs`.
#[derive(Clone, Default)]
struct Fs(MemStorage);

impl Storage for Fs {
    fn drivers(&self) -> Vec<String> {
        vec!["fs".into()]
    }
    fn create_writer(&self, driver: &str) -> Result<Box<dyn BlobWriter + Send>, Error> {
        if driver != "fs" {
            return Err(Error::InvalidArgument(format!("driver {driver:?} is not configured")));
        }
        self.0.create_writer("mem")
    }
    fn read(&self, uri: &str, offset: u64, len: u64) -> Result<Vec<u8>, Error> {
        self.0.read(uri, offset, len)
    }
    fn stat(&self, uri: &str) -> Result<Option<u64>, Error> {
        self.0.stat(uri)
    }
    fn list_objects(&self, prefix: &str, cursor: Option<&str>, limit: u32) -> Result<(Vec<String>, Option<String>), Error> {
        self.0.list_objects(prefix, cursor, limit)
    }
    fn delete(&self, uri: &str) -> Result<bool, Error> {
        self.0.delete(uri)
    }
    fn collect_staging(&self, before: u64) -> Result<u32, Error> {
        self.0.collect_staging(before)
    }
}

fn store() -> (Store, Fs) {
    let fs = Fs::default();
    (Store::new(Rc::new(fs.clone()), Rc::new(MemMetadata::default())), fs)
}

fn nothing_written(st: &Store, fs: &Fs) -> bool {
    fs.0.objects.lock().unwrap().is_empty() && st.list(&ListQuery { limit: 10, ..Default::default() }).unwrap().records.is_empty()
}

/// PutOptions from the vectors' snake_case JSON; unknown fields fail the test.
fn put_options(v: &Value) -> PutOptions {
    let mut o = PutOptions::default();
    let Some(m) = v.as_object() else { return o };
    for (k, x) in m {
        let st = || x.as_str().unwrap_or_else(|| panic!("{k} is a string")).to_string();
        match k.as_str() {
            "content_type" => o.content_type = Some(st()),
            "compression" => o.compression = Some(Compression::parse(&st()).unwrap()),
            "bucket" => o.bucket = Some(st()),
            "name" => o.name = Some(st()),
            "if_exists" => o.if_exists = Some(IfExists::parse(&st()).unwrap()),
            "created_by" => o.created_by = Some(st()),
            "store" => o.store = Some(st()),
            "execution_id" => o.execution_id = Some(st()),
            "step" => o.step = Some(st()),
            "scope" => o.scope = Some(Scope::parse(&st()).unwrap()),
            "ttl" => o.ttl = Some(st()),
            "kind" => o.kind = Some(Kind::parse(&st()).unwrap()),
            "max_bytes" => o.max_bytes = x.as_u64(),
            "precompressed" => o.precompressed = x.as_bool(),
            other => panic!("unknown put option {other:?} in the vectors"),
        }
    }
    o
}

fn range(v: &Value) -> ByteRange {
    match (v.get("start").and_then(Value::as_u64), v.get("end").and_then(Value::as_u64), v.get("suffix").and_then(Value::as_u64)) {
        (Some(start), Some(end), None) => ByteRange::Bounded { start, end },
        (Some(start), None, None) => ByteRange::From(start),
        (None, None, Some(n)) => ByteRange::Suffix(n),
        _ => panic!("bad range {v}"),
    }
}

fn unhex(s: &str) -> Vec<u8> {
    let digit = |b: u8| crate::encoding::hex_digit(b).expect("hex digit");
    s.as_bytes().chunks(2).map(|p| digit(p[0]) << 4 | digit(p[1])).collect()
}

#[test]
fn the_file_describes_itself() {
    let v = vectors();
    assert_eq!(v["format"], "artifact-test-vectors");
    assert_eq!(v["version"], 1);
    for section in ["logical_uris", "refs", "ranges", "ttls", "templates", "precompressed", "externalize"] {
        assert!(v[section]["how"].is_string(), "{section} says how to run it");
    }
}

#[test]
fn logical_uris() {
    let v = vectors();
    let (st, _) = store();
    let valid = v["logical_uris"]["valid"].as_array().unwrap();
    let invalid = v["logical_uris"]["invalid"].as_array().unwrap();
    assert!(valid.len() >= 8 && invalid.len() >= 15);
    for c in valid {
        let uri = s(c, "uri");
        let l = Logical::parse(uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
        assert_eq!(json!(l.segments), c["segments"], "{uri}");
        assert_eq!(l.to_string(), uri, "round trip");
        assert_eq!(st.head(uri).map_err(|e| e.kind()), Err("not-found"), "{uri}");
    }
    for c in invalid {
        let uri = s(c, "uri");
        let e = Logical::parse(uri).expect_err(uri);
        assert_eq!(e.kind(), s(c, "error"), "{uri} ({})", c["why"]);
        assert_eq!(st.head(uri).map_err(|e| e.kind()), Err(s(c, "error")), "{uri} through head");
    }
}

#[test]
fn refs() {
    let v = vectors();
    let (st, _) = store();
    for c in cases(&v, "refs") {
        let input = s(c, "input");
        let got = refs::parse_ref(input);
        if let Some(kind) = c["error"].as_str() {
            assert_eq!(got.map_err(|e| e.kind()).err(), Some(kind), "{input:?}");
            assert_eq!(st.head(input).map_err(|e| e.kind()), Err(kind), "{input:?} through head");
            continue;
        }
        let got = got.unwrap_or_else(|e| panic!("{input:?}: {e}"));
        let as_json = match got {
            Ref::Id(id) => json!({"form": "id", "id": id}),
            Ref::Logical(uri) => json!({"form": "logical", "uri": uri}),
            Ref::Name { bucket, name } => json!({"form": "name", "bucket": bucket, "name": name}),
            Ref::ResultRef { logical, sha256 } => json!({"form": "result_ref", "uri": logical, "sha256": sha256}),
        };
        let mut want = c.clone();
        want.as_object_mut().unwrap().remove("input");
        assert_eq!(as_json, want, "{input:?}");
        assert_eq!(st.head(input).map_err(|e| e.kind()), Err("not-found"), "{input:?} through head");
    }
}

#[test]
fn ranges() {
    let v = vectors();
    for c in cases(&v, "ranges") {
        let r = range(&c["range"]);
        if let Some(t) = c["text"].as_str() {
            assert_eq!(codec::parse_range(t).unwrap(), r, "{t}");
        }
        let size = c["size"].as_u64().unwrap();
        let got = codec::resolve_range(r, size);
        match c["error"].as_str() {
            Some(kind) => {
                let e = got.expect_err(&c.to_string());
                assert_eq!(e.kind(), kind, "{c}");
                if let Error::RangeNotSatisfiable(n) = e {
                    assert_eq!(n, size);
                }
            }
            None => assert_eq!(got.unwrap(), (c["offset"].as_u64().unwrap(), c["len"].as_u64().unwrap()), "{c}"),
        }
    }
    for t in v["ranges"]["bad_text"]["cases"].as_array().unwrap() {
        let t = t.as_str().unwrap();
        assert_eq!(codec::parse_range(t).map_err(|e| e.kind()).err(), Some("invalid-argument"), "{t:?}");
    }
}

#[test]
fn ranges_through_the_store() {
    let v = vectors();
    let (st, _) = store();
    for c in cases(&v, "ranges") {
        let size = c["size"].as_u64().unwrap();
        let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        for comp in [Compression::None, Compression::Gzip, Compression::Deflate] {
            let o = PutOptions { compression: Some(comp), content_type: Some("application/octet-stream".into()), ..Default::default() };
            let id = st.put(&body, &o).unwrap().record.id;
            let g = GetOptions { mode: Some(Mode::Bytes), range: Some(range(&c["range"])), ..Default::default() };
            let got = st.get(&id, &g).map(|g| g.data);
            match c["error"].as_str() {
                Some(kind) => assert_eq!(got.map_err(|e| e.kind()).err(), Some(kind), "{c} {comp:?}"),
                None => {
                    let (o, l) = (c["offset"].as_u64().unwrap() as usize, c["len"].as_u64().unwrap() as usize);
                    assert_eq!(got.unwrap(), Body::Bytes(body[o..o + l].to_vec()), "{c} {comp:?}");
                }
            }
        }
    }
}

#[test]
fn ttls() {
    let v = vectors();
    let (st, _) = store();
    for c in cases(&v, "ttls") {
        let ttl = s(c, "ttl");
        let put = st.put(b"{}", &PutOptions { ttl: Some(ttl.into()), ..Default::default() });
        match c["error"].as_str() {
            Some(kind) => {
                assert_eq!(time::parse_ttl(ttl).map_err(|e| e.kind()).err(), Some(kind), "{ttl:?}");
                assert_eq!(put.map_err(|e| e.kind()).err(), Some(kind), "{ttl:?} through put");
            }
            None => {
                let ms = c["ms"].as_u64();
                assert_eq!(time::parse_ttl(ttl).unwrap(), ms, "{ttl:?}");
                let r = put.unwrap().record;
                assert_eq!(r.expires_at.map(|e| e - r.created_at), ms, "{ttl:?} through put");
            }
        }
    }
}

#[test]
fn templates() {
    let v = vectors();
    let body = v["templates"]["body_text"].as_str().unwrap().as_bytes();
    for c in cases(&v, "templates") {
        let (st, fs) = store();
        let t = s(c, "template");
        let mut o = put_options(&c["put"]);
        o.store = Some(t.into());
        let got = st.put(body, &o);
        match c["error"].as_str() {
            Some(kind) => {
                assert_eq!(got.map_err(|e| e.kind()).err(), Some(kind), "{t} ({})", c["why"]);
                assert!(nothing_written(&st, &fs), "{t}: something was written");
            }
            None => {
                let rec = got.unwrap_or_else(|e| panic!("{t}: {e}")).record;
                assert_eq!(rec.location.uri, s(c, "rendered"), "{t}");
                assert!(fs.0.objects.lock().unwrap().contains_key(&rec.location.uri));
            }
        }
        if let Ok(tp) = template::Template::parse(t) {
            assert!(t.starts_with(&format!("{}://", tp.driver)));
        }
    }
}

#[test]
fn precompressed() {
    let v = vectors();
    for c in cases(&v, "precompressed") {
        let (st, fs) = store();
        let blob = unhex(s(c, "stored_hex"));
        let o = PutOptions {
            compression: Some(Compression::parse(s(c, "compression")).unwrap()),
            precompressed: Some(true),
            content_type: Some("text/plain".into()),
            max_bytes: c["max_bytes"].as_u64(),
            ..Default::default()
        };
        let got = st.put(&blob, &o);
        let about = &c["about"];
        match c["error"].as_str() {
            Some(kind) => {
                assert_eq!(got.map_err(|e| e.kind()).err(), Some(kind), "{about}");
                assert!(nothing_written(&st, &fs), "{about}");
            }
            None => {
                let r = got.unwrap_or_else(|e| panic!("{about}: {e}")).record;
                assert_eq!(r.bytes, c["bytes"].as_u64().unwrap(), "{about}");
                assert_eq!(r.sha256, s(c, "sha256"), "{about}");
                assert_eq!(**fs.0.objects.lock().unwrap().get(&r.location.uri).unwrap(), blob, "{about}");
                let g = st.get(&r.id, &GetOptions { mode: Some(Mode::Text), ..Default::default() }).unwrap();
                assert_eq!(g.data, Body::Text(s(c, "text").into()), "{about}");
            }
        }
    }
}

fn externalize_options(v: &Value) -> ExternalizeOptions {
    for k in v.as_object().map(|m| m.keys().collect::<Vec<_>>()).unwrap_or_default() {
        assert!(["inline_max_bytes", "preview_max_bytes", "select", "put"].contains(&k.as_str()), "unknown option {k}");
    }
    ExternalizeOptions {
        inline_max_bytes: v["inline_max_bytes"].as_u64(),
        preview_max_bytes: v["preview_max_bytes"].as_u64(),
        select: v["select"].as_array().map(|a| a.iter().map(|p| p.as_str().unwrap().to_string()).collect()).unwrap_or_default(),
        put: put_options(&v["put"]),
    }
}

#[test]
fn externalize() {
    let v = vectors();
    let all = cases(&v, "externalize");
    assert!(all.len() >= 10);
    for c in all {
        let (st, fs) = store();
        let name = s(c, "name");
        let input = s(c, "input_text");
        let e = &c["expect"];
        let x = st.externalize(input, &externalize_options(&c["options"]));
        let parse = |t: &str| serde_json::from_str::<Value>(t).unwrap();
        assert_eq!(parse(&x.preview), e["preview"], "{name}: preview");
        assert_eq!(parse(&x.extracted), e["extracted"], "{name}: extracted");
        assert_eq!(x.error.as_ref().map(Error::kind), e["error"].as_str(), "{name}: error {:?}", x.error);
        assert_eq!(x.inline.as_deref(), e["inline_text"].as_str(), "{name}: inline");
        let trimmed = input.trim_matches([' ', '\t', '\n', '\r']);
        if let Some(n) = e["bytes"].as_u64() {
            assert_eq!(trimmed.len() as u64, n, "{name}: bytes");
        }
        if e["stored"] == true {
            let rr = parse(x.result_ref.as_deref().unwrap_or_else(|| panic!("{name}: no ref")));
            assert_eq!(rr["meta"]["bytes"], e["bytes"], "{name}");
            assert_eq!(rr["meta"]["sha256"], e["sha256"], "{name}");
            assert_eq!(rr["preview"], e["preview"], "{name}");
            assert_eq!(rr["extracted"], e["extracted"], "{name}");
            if let Some(p) = e["ref_prefix"].as_str() {
                assert!(rr["ref"].as_str().unwrap().starts_with(p), "{name}: {}", rr["ref"]);
            }
            for (k, want) in e["meta"].as_object().into_iter().flatten() {
                assert_eq!(&rr["meta"][k], want, "{name}: meta.{k}");
            }
            let g = st.get(x.result_ref.as_deref().unwrap(), &GetOptions::default()).unwrap();
            assert_eq!(g.data, Body::Json(trimmed.into()), "{name}");
        } else {
            assert_eq!(x.result_ref, None, "{name}");
            assert!(nothing_written(&st, &fs), "{name}: something was stored");
        }
        if x.error.is_some() || x.result_ref.is_some() {
            assert_eq!(x.inline, None, "{name}: payload returned inline");
        }
    }
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// Random text: raw bytes, or characters that matter to the parsers, or a mutated seed.
    fn text(&mut self, seeds: &[String]) -> String {
        const ALPHABET: &[&str] = &[
            "noetl://", "/", "%", "%2F", "%C3", "%zz", "?", "#", ";", "{", "}", "[", "]", "{{", "}}", "$", ".", "..",
            "0", "9", "-", "a", "Z", "é", "…", "\"", "\\", ":", ",", " ", "\n", "\u{0}", "_", "~", "s", "m", "h", "d",
            "T", "Z", "+01:00", "2026-01-01T00:00:00", "forever", "execution", "ref", "null", "true", "1e999",
        ];
        match self.below(3) {
            0 => {
                let n = self.below(64);
                String::from_utf8_lossy(&(0..n).map(|_| self.next() as u8).collect::<Vec<_>>()).into_owned()
            }
            1 => (0..self.below(24)).map(|_| ALPHABET[self.below(ALPHABET.len())]).collect(),
            _ => {
                let mut b = seeds[self.below(seeds.len())].clone().into_bytes();
                for _ in 0..=self.below(4) {
                    let at = self.below(b.len() + 1);
                    match self.below(3) {
                        0 if at < b.len() => {
                            b.remove(at);
                        }
                        1 if at < b.len() => b[at] = self.next() as u8,
                        _ => {
                            let piece = ALPHABET[self.below(ALPHABET.len())];
                            b.splice(at..at, piece.bytes());
                        }
                    }
                }
                String::from_utf8_lossy(&b).into_owned()
            }
        }
    }
}

/// Every string that appears in the vectors file, as seeds for mutation.
fn seed_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| seed_strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| seed_strings(x, out)),
        _ => {}
    }
}

#[test]
fn hostile_input_never_panics() {
    let mut seeds = Vec::new();
    seed_strings(&vectors(), &mut seeds);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (st, _) = store();
    let vars = |k: &str| (k != "id").then(|| "v".to_string());
    // Inputs that once panicked come first.
    let regressions = ["2026-01-01T00:00:00+aé:0", "2026-01-01T00:00:00+é:00"];
    for i in 0..20_000 {
        let t = match regressions.get(i) {
            Some(r) => r.to_string(),
            None => rng.text(&seeds),
        };
        let _ = Logical::parse(&t);
        let _ = refs::parse_ref(&t);
        let _ = refs::validate_name(&t);
        let _ = refs::validate_bucket(&t);
        let _ = codec::parse_range(&t);
        let _ = time::parse_ttl(&t);
        let _ = time::parse_rfc3339(&t);
        if let Ok(tp) = template::Template::parse(&t) {
            let _ = tp.render(&vars);
        }
        if let Ok(p) = select::Path::parse(&t) {
            let _ = p.lookup(&json!({"a": [1, {"b": 2}]}));
        }
        if let Ok(v) = serde_json::from_str::<Value>(&t) {
            for budget in [0, 5, 19, 64, 100] {
                let p = preview::preview(&v, budget);
                assert!(budget < 64 || p.to_string().len() <= budget, "{t:?} at {budget}: {p}");
            }
        }
        let _ = codec::decode_body(t.clone().into_bytes(), Mode::Json);
        for c in [Compression::Gzip, Compression::Deflate] {
            let mut v = Verifier::new(c, Some(1 << 20)).unwrap();
            if v.write_all(t.as_bytes()).is_ok() {
                let _ = v.finish();
            }
        }
        if i % 20 == 0 {
            let opts = ExternalizeOptions {
                inline_max_bytes: Some(8),
                preview_max_bytes: Some(64),
                select: vec![rng.text(&seeds)],
                put: PutOptions { store: Some(rng.text(&seeds)).filter(|_| rng.below(2) == 0), ..Default::default() },
            };
            let x = st.externalize(&t, &opts);
            assert!(x.preview.len() <= 64, "{t:?}");
            if x.error.is_some() {
                assert_eq!(x.inline, None);
            }
        }
    }
}



