//! Runs the shared test vectors (`tests/vectors.json`) through the real `.wasm`: every case goes
//! through the component's exported functions (`head`, `get`, `put`, `externalize`) on a
//! `Runtime` with the filesystem storage driver (`fs`) and SQLite metadata, as each section's
//! `how` describes. The native run of the same file is `src/vectors.rs`.
//!
//! Nothing is skipped silently: every section of the file must be known here, and each test
//! asserts how many cases it ran.

use artifact_component::model::{
    Body, ByteRange, Compression, Error, ExternalizeOptions, GetOptions, IfExists, Kind, ListQuery, Mode, PutOptions,
    Scope,
};
use artifact_host::{metadata, storage, HostError, Runtime};
use serde_json::Value;
use std::path::{Path, PathBuf};

const VECTORS: &str = include_str!("../../../tests/vectors.json");

/// The sections this runner executes, each by the test of the same name.
const SECTIONS: &[&str] = &["logical_uris", "refs", "ranges", "ttls", "templates", "precompressed", "externalize"];
/// Top-level fields that describe the file rather than hold cases.
const ABOUT: &[&str] = &["format", "version", "about", "conventions"];

fn vectors() -> Value {
    serde_json::from_str(VECTORS).expect("tests/vectors.json is valid JSON")
}

fn cases<'a>(v: &'a Value, section: &str) -> &'a Vec<Value> {
    v[section]["cases"].as_array().unwrap_or_else(|| panic!("section {section} has cases"))
}

fn s<'a>(c: &'a Value, k: &str) -> &'a str {
    c[k].as_str().unwrap_or_else(|| panic!("{k} is a string in {c}"))
}

/// A fresh, empty store: `fs` blobs under `root`, SQLite metadata beside it (not under the root,
/// so the files under `root` are exactly the blobs written).
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    rt: Runtime,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("blobs-root");
        let rt = Runtime::builder()
            .storage(storage::open(&format!("fs://{}", root.display())).unwrap())
            .metadata(metadata::open(&format!("sqlite://{}", dir.path().join("metadata.db").display())).unwrap())
            .cache_dir(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("artifact-code-cache"))
            .build()
            .unwrap();
        let root = root.canonicalize().unwrap();
        Fixture { _dir: dir, root, rt }
    }

    /// Every file under the storage root (the `.staging` directory included), with contents.
    fn files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        fn walk(p: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
            for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
                let path = e.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    let d = std::fs::read(&path).unwrap();
                    out.push((path, d));
                }
            }
        }
        let mut v = Vec::new();
        walk(&self.root, &mut v);
        v.sort();
        v
    }

    fn records(&self) -> usize {
        self.rt.list(&ListQuery { limit: 1000, ..Default::default() }).unwrap().records.len()
    }

    fn nothing_written(&self) -> bool {
        self.files().is_empty() && self.records() == 0
    }

    /// The stored object behind an `fs://` URI.
    fn object(&self, uri: &str) -> Vec<u8> {
        let rel = uri.strip_prefix("fs://").unwrap_or_else(|| panic!("{uri} is an fs:// URI"));
        std::fs::read(self.root.join(rel)).unwrap_or_else(|e| panic!("{uri}: {e}"))
    }
}

/// The error kind of a failed call (the WIT `error` case name for component errors).
fn kind<T>(r: Result<T, HostError>) -> Result<T, &'static str> {
    r.map_err(|e| e.kind())
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
    let f = |k: &str| v.get(k).and_then(Value::as_u64);
    match (f("start"), f("end"), f("suffix")) {
        (Some(start), Some(end), None) => ByteRange::Bounded { start, end },
        (Some(start), None, None) => ByteRange::From(start),
        (None, None, Some(n)) => ByteRange::Suffix(n),
        _ => panic!("bad range {v}"),
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn every_section_is_run_here() {
    let v = vectors();
    assert_eq!(v["format"], "artifact-test-vectors");
    assert_eq!(v["version"], 1, "a new format version needs this runner updated");
    let mut in_file: Vec<&str> =
        v.as_object().unwrap().keys().map(String::as_str).filter(|k| !ABOUT.contains(k)).collect();
    in_file.sort();
    let mut known = SECTIONS.to_vec();
    known.sort();
    assert_eq!(in_file, known, "a section of tests/vectors.json has no component runner (or one went away)");
    for section in SECTIONS {
        assert!(v[section]["how"].is_string(), "{section} says how to run it");
    }
}

#[test]
fn logical_uris() {
    let v = vectors();
    let fx = Fixture::new();
    let (mut valid, mut invalid) = (0, 0);
    for c in v["logical_uris"]["valid"].as_array().unwrap() {
        let uri = s(c, "uri");
        assert_eq!(kind(fx.rt.head(uri)).err(), Some("not-found"), "{uri}");
        assert_eq!(kind(fx.rt.get(uri, &GetOptions::default())).err(), Some("not-found"), "{uri} through get");
        valid += 1;
    }
    for c in v["logical_uris"]["invalid"].as_array().unwrap() {
        let uri = s(c, "uri");
        let want = s(c, "error");
        assert_eq!(kind(fx.rt.head(uri)).err(), Some(want), "{uri} ({})", c["why"]);
        assert_eq!(kind(fx.rt.get(uri, &GetOptions::default())).err(), Some(want), "{uri} through get");
        invalid += 1;
    }
    assert!(valid > 0 && invalid > 0, "ran {valid} valid and {invalid} invalid URIs");
    assert!(fx.nothing_written());
}

#[test]
fn refs() {
    let v = vectors();
    let fx = Fixture::new();
    let mut ran = 0;
    for c in cases(&v, "refs") {
        let input = s(c, "input");
        let want = c["error"].as_str().unwrap_or("not-found");
        assert_eq!(kind(fx.rt.head(input)).err(), Some(want), "{input:?}");
        assert_eq!(kind(fx.rt.get(input, &GetOptions::default())).err(), Some(want), "{input:?} through get");
        ran += 1;
    }
    assert!(ran > 0);
    assert_eq!(ran, cases(&v, "refs").len());
}

#[test]
fn ranges() {
    let v = vectors();
    let fx = Fixture::new();
    let mut ran = 0;
    for c in cases(&v, "ranges") {
        let size = c["size"].as_u64().unwrap();
        let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        for comp in [Compression::None, Compression::Gzip, Compression::Deflate] {
            let o = PutOptions {
                compression: Some(comp),
                content_type: Some("application/octet-stream".into()),
                ..Default::default()
            };
            let id = fx.rt.put(&body, &o).unwrap().record.id;
            let g = GetOptions { mode: Some(Mode::Bytes), range: Some(range(&c["range"])), ..Default::default() };
            let got = fx.rt.get(&id, &g).map(|g| g.data);
            match c["error"].as_str() {
                Some(want) => {
                    let e = got.expect_err(&format!("{c} {comp:?}"));
                    assert_eq!(e.kind(), want, "{c} {comp:?}");
                    if let HostError::Artifact(Error::RangeNotSatisfiable(n)) = e {
                        assert_eq!(n, size, "{c} {comp:?}: the error carries the size");
                    }
                }
                None => {
                    let (o, l) = (c["offset"].as_u64().unwrap() as usize, c["len"].as_u64().unwrap() as usize);
                    let got = got.unwrap_or_else(|e| panic!("{c} {comp:?}: {e}"));
                    assert_eq!(got, Body::Bytes(body[o..o + l].to_vec()), "{c} {comp:?}");
                }
            }
            ran += 1;
        }
    }
    assert!(ran > 0);
    assert_eq!(ran, 3 * cases(&v, "ranges").len());
}

#[test]
fn ttls() {
    let v = vectors();
    let fx = Fixture::new();
    let mut ran = 0;
    for c in cases(&v, "ttls") {
        let ttl = s(c, "ttl");
        let put = fx.rt.put(b"{}", &PutOptions { ttl: Some(ttl.into()), ..Default::default() });
        match c["error"].as_str() {
            Some(want) => assert_eq!(kind(put).err(), Some(want), "{ttl:?}"),
            None => {
                let r = put.unwrap_or_else(|e| panic!("{ttl:?}: {e}")).record;
                assert_eq!(r.expires_at.map(|e| e - r.created_at), c["ms"].as_u64(), "{ttl:?}");
            }
        }
        ran += 1;
    }
    assert!(ran > 0);
    assert_eq!(ran, cases(&v, "ttls").len());
}

#[test]
fn templates() {
    let v = vectors();
    let body = v["templates"]["body_text"].as_str().unwrap().as_bytes();
    let mut ran = 0;
    for c in cases(&v, "templates") {
        let fx = Fixture::new();
        let t = s(c, "template");
        let mut o = put_options(&c["put"]);
        o.store = Some(t.into());
        let got = fx.rt.put(body, &o);
        match c["error"].as_str() {
            Some(want) => {
                assert_eq!(kind(got).err(), Some(want), "{t} ({})", c["why"]);
                assert!(fx.nothing_written(), "{t}: something was written: {:?}", fx.files());
            }
            None => {
                let rec = got.unwrap_or_else(|e| panic!("{t}: {e}")).record;
                let rendered = s(c, "rendered");
                assert_eq!(rec.location.uri, rendered, "{t}");
                let rel = rendered.strip_prefix("fs://").unwrap();
                // The object at the rendered path, and its chunk index under index/ (none for an
                // uncompressed body of one chunk: its digest is the record's, ChunkIndex::implied).
                let files: Vec<_> = fx.files().into_iter().filter(|(p, _)| !p.starts_with(fx.root.join("index"))).collect();
                assert_eq!(files.len(), 1, "{t}: {files:?}");
                assert_eq!(files[0].0, fx.root.join(rel), "{t}: the blob is at the rendered path");
                let implied = rec.compression == Compression::None
                    && (1..=artifact_component::chunks::CHUNK).contains(&(body.len() as u64));
                assert_eq!(fx.root.join("index").join(rel).is_file(), !implied, "{t}: its chunk index (implied: {implied})");
                let g = fx.rt.get(&rec.id, &GetOptions { mode: Some(Mode::Bytes), ..Default::default() }).unwrap();
                assert_eq!(g.data, Body::Bytes(body.to_vec()), "{t}: reads back");
            }
        }
        ran += 1;
    }
    assert!(ran > 0);
    assert_eq!(ran, cases(&v, "templates").len());
}

#[test]
fn precompressed() {
    let v = vectors();
    let mut ran = 0;
    for c in cases(&v, "precompressed") {
        let fx = Fixture::new();
        let blob = unhex(s(c, "stored_hex"));
        let o = PutOptions {
            compression: Some(Compression::parse(s(c, "compression")).unwrap()),
            precompressed: Some(true),
            content_type: Some("text/plain".into()),
            max_bytes: c["max_bytes"].as_u64(),
            ..Default::default()
        };
        let got = fx.rt.put(&blob, &o);
        let about = &c["about"];
        match c["error"].as_str() {
            Some(want) => {
                assert_eq!(kind(got).err(), Some(want), "{about}");
                assert!(fx.nothing_written(), "{about}: something was written");
            }
            None => {
                let r = got.unwrap_or_else(|e| panic!("{about}: {e}")).record;
                assert_eq!(r.bytes, c["bytes"].as_u64().unwrap(), "{about}");
                assert_eq!(r.sha256, s(c, "sha256"), "{about}");
                assert_eq!(fx.object(&r.location.uri), blob, "{about}: stored as given");
                let g = fx.rt.get(&r.id, &GetOptions { mode: Some(Mode::Text), ..Default::default() }).unwrap();
                assert_eq!(g.data, Body::Text(s(c, "text").into()), "{about}");
            }
        }
        ran += 1;
    }
    assert!(ran > 0);
    assert_eq!(ran, cases(&v, "precompressed").len());
}

fn externalize_options(v: &Value) -> ExternalizeOptions {
    for k in v.as_object().map(|m| m.keys().collect::<Vec<_>>()).unwrap_or_default() {
        assert!(["inline_max_bytes", "preview_max_bytes", "select", "put"].contains(&k.as_str()), "unknown option {k}");
    }
    ExternalizeOptions {
        inline_max_bytes: v["inline_max_bytes"].as_u64(),
        preview_max_bytes: v["preview_max_bytes"].as_u64(),
        select: v["select"]
            .as_array()
            .map(|a| a.iter().map(|p| p.as_str().unwrap().to_string()).collect())
            .unwrap_or_default(),
        put: put_options(&v["put"]),
    }
}

#[test]
fn externalize() {
    let v = vectors();
    let mut ran = 0;
    for c in cases(&v, "externalize") {
        let fx = Fixture::new();
        let name = s(c, "name");
        let input = s(c, "input_text");
        let e = &c["expect"];
        let x = fx
            .rt
            .externalize(input, &externalize_options(&c["options"]))
            .unwrap_or_else(|err| panic!("{name}: the call itself failed: {err}"));
        let parse = |t: &str| serde_json::from_str::<Value>(t).unwrap_or_else(|err| panic!("{name}: {t}: {err}"));
        assert_eq!(parse(&x.preview), e["preview"], "{name}: preview");
        assert_eq!(parse(&x.extracted), e["extracted"], "{name}: extracted");
        assert_eq!(x.error.as_ref().map(Error::kind), e["error"].as_str(), "{name}: error {:?}", x.error);
        assert_eq!(x.inline.as_deref(), e["inline_text"].as_str(), "{name}: inline");
        let trimmed = input.trim_matches([' ', '\t', '\n', '\r']);
        if let Some(n) = e["bytes"].as_u64() {
            assert_eq!(trimmed.len() as u64, n, "{name}: bytes");
        }
        if e["stored"] == true {
            let text = x.result_ref.as_deref().unwrap_or_else(|| panic!("{name}: no ref"));
            let rr = parse(text);
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
            let g = fx.rt.get(text, &GetOptions::default()).unwrap_or_else(|err| panic!("{name}: get(ref): {err}"));
            assert_eq!(g.data, Body::Json(trimmed.into()), "{name}");
        } else {
            assert_eq!(x.result_ref, None, "{name}");
            assert!(fx.nothing_written(), "{name}: something was stored");
        }
        if x.error.is_some() || x.result_ref.is_some() {
            assert_eq!(x.inline, None, "{name}: payload returned inline");
        }
        ran += 1;
    }
    assert!(ran > 0);
    assert_eq!(ran, cases(&v, "externalize").len());
}
