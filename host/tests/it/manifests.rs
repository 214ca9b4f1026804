//! Manifests end to end through the real `.wasm`: the `artifact manifest` CLI on the embedded
//! default store (filesystem + SQLite), and the host library's part iterator on memory backends.

use artifact_component::manifest::{ManifestOptions, Strategy, CONTENT_TYPE};
use artifact_component::model::{
    Body, Error, GetOptions, IfExists, Kind, ManifestLimits, Mode, PutOptions, Record,
};
use artifact_host::storage::MemStorage;
use artifact_host::{metadata::MemMetadata, HostError, Runtime};
use serde_json::{json, Value};
use std::sync::Arc;


use crate::common::{cache_dir, Home};

impl Home {
    /// Runs and parses stdout as JSON lines.
    fn lines(&self, args: &[&str], ok: bool) -> Vec<Value> {
        let o = self.cmd(args);
        assert_eq!(o.status.success(), ok, "{args:?}: stderr {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
    /// Stores `data` as a JSON file and returns the part's logical ref.
    fn put_json(&self, file: &str, data: &Value) -> String {
        let p = self.path().join(file);
        std::fs::write(&p, data.to_string()).unwrap();
        let put = self.json(&["put", p.to_str().unwrap()], true);
        put["ref"].as_str().unwrap().to_string()
    }
}

fn items_parts(h: &Home) -> Vec<String> {
    [json!({"items": [1, 2]}), json!({"items": [3]}), json!({"items": [4, 5, 6], "page": 3})]
        .iter()
        .enumerate()
        .map(|(i, v)| h.put_json(&format!("p{i}.json"), v))
        .collect()
}

fn args<'a>(head: &[&'a str], refs: &'a [String]) -> Vec<&'a str> {
    head.iter().copied().chain(refs.iter().map(String::as_str)).collect()
}

#[test]
fn concat_round_trip_through_the_cli() {
    let h = Home::new();
    let parts = items_parts(&h);
    let m = h.json(&args(&["manifest", "create", "--strategy", "concat", "--merge-path", "items", "--bucket", "runs", "--name", "r1/pages"], &parts), true);
    assert_eq!(m["kind"], "manifest");
    assert_eq!(m["created"], true);
    assert_eq!(m["meta"]["content_type"], CONTENT_TYPE);
    let mref = m["ref"].as_str().unwrap();

    // get resolves: one array with every item, in order; parts carry index + meta, no data.
    let g = h.json(&["get", mref], true);
    assert_eq!(g["status"], "success");
    assert_eq!(g["data"]["data"], json!([1, 2, 3, 4, 5, 6]));
    let doc = &g["data"]["manifest"];
    assert_eq!(doc["ref"], mref);
    assert_eq!(doc["total_parts"], 3);
    assert!(doc["completed_at"].is_string());
    let listed: Vec<_> = g["data"]["parts"].as_array().unwrap().iter().map(|p| (p["index"].clone(), p["meta"]["ref"].clone())).collect();
    assert_eq!(listed, parts.iter().enumerate().map(|(i, r)| (json!(i), json!(r))).collect::<Vec<_>>());
    assert!(g["data"]["parts"][0].get("data").is_none());

    // The bucket/name form resolves too; show is the document (== get --no-resolve).
    let by_name = h.json(&["get", "runs/r1/pages"], true);
    assert_eq!(by_name["data"]["data"], g["data"]["data"]);
    let show = h.json(&["manifest", "show", "runs/r1/pages"], true);
    assert_eq!(show["data"], h.json(&["get", mref, "--no-resolve"], true)["data"]);
    assert_eq!(show["data"]["strategy"], "concat");
    assert_eq!(show["data"]["merge_path"], "items");
    assert_eq!(show["data"]["parts"].as_array().unwrap().len(), 3);
    assert_eq!(show["meta"]["ref"], mref);
    let e = h.json(&["manifest", "show", &parts[0]], false);
    assert_eq!(e["error"]["kind"], "invalid-argument");

    // parts streams one line per part, data decoded, naming the manifest.
    let lines = h.lines(&["manifest", "parts", mref], true);
    assert_eq!(lines.len(), 3);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["manifest"], mref);
        assert_eq!(l["index"], i);
        assert_eq!(l["meta"]["ref"], parts[i].as_str());
    }
    assert_eq!(lines[2]["data"], json!({"items": [4, 5, 6], "page": 3}));
    // The merge path is JSON-only, also for the part reader.
    assert_eq!(h.lines(&["manifest", "parts", mref, "--mode", "text"], false)[0]["error"]["kind"], "invalid-argument");

    // Same parts, every strategy, as `get` prints them.
    let create = |s: &str| {
        let m = h.json(&args(&["manifest", "create", "--strategy", s], &parts), true);
        let r = m["ref"].as_str().unwrap().to_string();
        (h.json(&["get", &r], true)["data"].clone(), r)
    };
    let (append, aref) = create("append");
    let text = h.lines(&["manifest", "parts", &aref, "--mode", "text"], true);
    assert_eq!(text[1]["data"], json!({"items": [3]}).to_string());
    let bytes = h.lines(&["manifest", "parts", &aref, "--mode", "bytes"], true);
    assert_eq!(bytes[1]["data"], "eyJpdGVtcyI6WzNdfQ==");
    let datas: Vec<_> = append["parts"].as_array().unwrap().iter().map(|p| p["data"].clone()).collect();
    assert_eq!(datas, vec![json!({"items": [1, 2]}), json!({"items": [3]}), json!({"items": [4, 5, 6], "page": 3})]);
    assert_eq!(append["parts"][1]["index"], 1);
    assert!(append.get("data").is_none());
    assert_eq!(create("merge").0["data"], json!({"items": [4, 5, 6], "page": 3}));
    assert_eq!(create("replace").0["data"], json!({"items": [4, 5, 6], "page": 3}));
    // concat without a merge path needs array parts: a typed decode error naming the part.
    let bad = h.json(&args(&["manifest", "create", "--strategy", "concat"], &parts), true);
    let e = h.json(&["get", bad["ref"].as_str().unwrap()], false);
    assert_eq!(e["error"]["kind"], "decode");
    assert!(e["error"]["message"].as_str().unwrap().starts_with(&format!("part 0 ({})", parts[0])), "{e}");
}

#[test]
fn open_add_complete_then_immutable() {
    let h = Home::new();
    let parts = items_parts(&h);
    let m = h.json(&["manifest", "create", "--strategy", "concat", "--merge-path", "$.items", "--name", "open-one"], true);
    let mref = m["ref"].as_str().unwrap().to_string();
    let show = h.json(&["manifest", "show", &mref], true);
    assert!(show["data"]["completed_at"].is_null());
    assert_eq!(show["data"]["parts"], json!([]));

    let add = |r: &str, index: Option<&str>, ok: bool| {
        let mut a = vec!["manifest", "add", &mref, r];
        if let Some(i) = index {
            a.extend(["--index", i]);
        }
        h.json(&a, ok)
    };
    assert_eq!(add(&parts[0], None, true)["ref"], mref.as_str());
    add(&parts[2], Some("2"), true);
    let dup = add(&parts[1], Some("2"), false);
    assert_eq!(dup["error"]["kind"], "conflict", "{dup}");
    add(&parts[1], Some("1"), true);
    // An open manifest resolves too.
    let g = h.json(&["get", &mref], true);
    assert!(g["data"]["manifest"]["completed_at"].is_null());
    assert_eq!(g["data"]["data"], json!([1, 2, 3, 4, 5, 6]));

    let done = h.json(&["manifest", "complete", &mref], true);
    assert_eq!(done["ref"], mref.as_str());
    let doc = h.json(&["manifest", "show", &mref], true)["data"].clone();
    assert!(doc["completed_at"].is_string());
    assert_eq!(doc["total_parts"], 3);
    let sizes: u64 = doc["parts"].as_array().unwrap().iter().map(|p| p["bytes"].as_u64().unwrap()).sum();
    assert_eq!(doc["total_bytes"], sizes);
    assert_eq!(h.json(&["get", &mref], true)["data"]["data"], json!([1, 2, 3, 4, 5, 6]));

    // Completed: immutable.
    assert_eq!(add(&parts[0], None, false)["error"]["kind"], "conflict");
    assert_eq!(h.json(&["manifest", "complete", &mref], false)["error"]["kind"], "conflict");
    assert_eq!(h.json(&["manifest", "show", &mref], true)["data"], doc);

    // Completing with a gap is refused.
    let gap = h.json(&["manifest", "create", "--strategy", "append"], true);
    let gref = gap["ref"].as_str().unwrap();
    h.json(&["manifest", "add", gref, &parts[0]], true);
    h.json(&["manifest", "add", gref, &parts[1], "--index", "3"], true);
    assert_eq!(h.json(&["manifest", "complete", gref], false)["error"]["kind"], "invalid-argument");
}

#[test]
fn a_deleted_part_fails_the_resolution_naming_its_index() {
    let h = Home::new();
    let parts = items_parts(&h);
    let m = h.json(&args(&["manifest", "create", "--strategy", "concat", "--merge-path", "items"], &parts), true);
    let mref = m["ref"].as_str().unwrap();
    h.runtime().delete(&parts[1]).unwrap();
    let e = h.json(&["get", mref], false);
    assert_eq!(e["error"]["kind"], "not-found", "{e}");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(msg.starts_with(&format!("part 1 ({}): ", parts[1])), "{msg}");
    // The part reader yields part 0, then the same error as its last line, and exits 1.
    let lines = h.lines(&["manifest", "parts", mref], false);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["index"], 0);
    assert_eq!(lines[1]["error"]["kind"], "not-found");
    assert!(lines[1]["error"]["message"].as_str().unwrap().starts_with("part 1 ("));
}

// ---------- the host library, memory backends ----------

fn mem_runtime() -> Runtime {
    Runtime::builder()
        .storage(Arc::new(MemStorage::default()))
        .metadata(Arc::new(MemMetadata::default()))
        .cache_dir(cache_dir())
        .build()
        .unwrap()
}

fn put(rt: &Runtime, v: &Value) -> Record {
    rt.put(v.to_string().as_bytes(), &PutOptions::default()).unwrap().record
}

fn manifest(rt: &Runtime, strategy: Strategy, parts: &[&Record]) -> Record {
    let opts = ManifestOptions { strategy, ..Default::default() };
    let refs: Vec<String> = parts.iter().map(|r| r.logical_ref.clone()).collect();
    rt.manifest_create(&opts, &refs).unwrap().record
}

fn limited(depth: Option<u32>, parts: Option<u32>, max_bytes: Option<u64>) -> GetOptions {
    GetOptions { max_bytes, manifest_limits: Some(ManifestLimits { max_depth: depth, max_parts: parts }), ..Default::default() }
}

fn artifact_err(r: Result<impl std::fmt::Debug, HostError>) -> Error {
    match r {
        Err(HostError::Artifact(e)) => e,
        other => panic!("expected an artifact error, got {other:?}"),
    }
}

#[test]
fn depth_count_and_byte_limits_are_typed() {
    let rt = mem_runtime();
    let a = put(&rt, &json!([1, 2, 3]));
    let b = put(&rt, &json!([4]));
    let inner = manifest(&rt, Strategy::Concat, &[&a, &b]);
    let outer = manifest(&rt, Strategy::Concat, &[&inner, &a]);
    let whole = rt.get(&outer.id, &GetOptions::default()).unwrap();
    let Body::Json(body) = whole.data else { panic!() };
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["data"], json!([1, 2, 3, 4, 1, 2, 3]));

    // Depth: the nested manifest is at depth 1.
    match artifact_err(rt.get(&outer.id, &limited(Some(0), None, None))) {
        Error::InvalidArgument(m) => assert!(m.starts_with(&format!("part 0 ({})", inner.logical_ref)), "{m}"),
        e => panic!("{e:?}"),
    }
    assert!(rt.get(&outer.id, &limited(Some(1), None, None)).is_ok());
    // Count: 2 outer + 2 nested parts; the numbers are part counts.
    match artifact_err(rt.get(&outer.id, &limited(None, Some(3), None))) {
        Error::TooLarge { limit: 3, needed } => assert!(needed > 3, "{needed}"),
        e => panic!("{e:?}"),
    }
    assert!(rt.get(&outer.id, &limited(None, Some(4), None)).is_ok());
    // Bytes: max_bytes bounds all leaf parts together (7 + 3 + 7 bytes).
    match artifact_err(rt.get(&outer.id, &limited(None, None, Some(16)))) {
        Error::TooLarge { limit: 16, needed } => assert!(needed > 16, "{needed}"),
        e => panic!("{e:?}"),
    }
    assert!(rt.get(&outer.id, &limited(None, None, Some(17))).is_ok());
    // The part reader applies the depth and count limits too.
    let mut parts = rt.open_parts(&outer.id, &limited(Some(0), None, None)).unwrap();
    assert!(matches!(parts.next(), Some(Err(HostError::Artifact(Error::InvalidArgument(_))))));
    assert!(parts.next().is_none(), "the iterator ends after an error");
    assert!(matches!(
        artifact_err(rt.open_parts(&outer.id, &limited(None, Some(1), None)).map(|_| ())),
        Error::TooLarge { limit: 1, .. }
    ));
    // ManifestOptions.metadata has no WIT field: refused, not dropped.
    let opts = ManifestOptions { metadata: Some("{}".into()), ..Default::default() };
    assert!(matches!(artifact_err(rt.manifest_create(&opts, &[])), Error::InvalidArgument(_)));
}

/// A manifest changes only through the manifest API: a plain `put` can neither create a
/// manifest-kind artifact nor overwrite one, so a completed manifest stays immutable and no cycle
/// can be built through the exports (cycle detection itself is unit-tested natively in
/// src/manifest/tests.rs on hand-written documents).
#[test]
fn plain_puts_cannot_forge_or_overwrite_manifests() {
    let rt = mem_runtime();
    let part = rt.put(b"[1]", &PutOptions::default()).unwrap().record;
    let mut opts = ManifestOptions::default();
    opts.put.name = Some("m".into());
    let m = rt.manifest_create(&opts, std::slice::from_ref(&part.logical_ref)).unwrap().record;
    let before = rt.get(&m.id, &GetOptions { resolve_manifest: Some(false), ..Default::default() }).unwrap();
    let forged = PutOptions { kind: Some(Kind::Manifest), content_type: Some(CONTENT_TYPE.into()), ..Default::default() };
    assert!(matches!(artifact_err(rt.put(b"{}", &forged)), Error::InvalidArgument(_)));
    let overwrite = PutOptions {
        name: Some("m".into()),
        if_exists: Some(IfExists::Overwrite),
        ..Default::default()
    };
    assert!(matches!(artifact_err(rt.put(b"[]", &overwrite)), Error::Conflict(_)));
    let after = rt.get(&m.id, &GetOptions { resolve_manifest: Some(false), ..Default::default() }).unwrap();
    assert_eq!(before.data, after.data);
    // The manifest API refuses a manifest as its own part.
    assert!(matches!(artifact_err(rt.manifest_add(&m.id, &m.id, None)), Error::InvalidArgument(_) | Error::Conflict(_)));
}

fn rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn ten_thousand_parts_stream_with_bounded_memory() {
    const N: usize = 10_000;
    let rt = mem_runtime();
    let refs: Vec<String> = {
        let mut s = rt.session().unwrap();
        (0..N)
            .map(|i| {
                let body = json!({"i": i, "pad": "x".repeat(i % 64)}).to_string();
                s.put(body.as_bytes(), &PutOptions::default()).unwrap().record.logical_ref
            })
            .collect()
    };
    let opts = ManifestOptions { strategy: Strategy::Append, ..Default::default() };
    let m = rt.manifest_create(&opts, &refs).unwrap().record;
    assert_eq!(m.kind, Kind::Manifest);

    let get = GetOptions { mode: Some(Mode::Json), ..Default::default() };
    let mut parts = rt.open_parts(&m.logical_ref, &get).unwrap();
    assert_eq!(parts.meta().id, m.id);
    let mut seen = 0usize;
    let (mut guest_at_100, mut rss_at_100) = (0usize, None);
    while let Some(p) = parts.next() {
        let p = p.unwrap();
        assert_eq!(p.index as usize, seen);
        assert_eq!(p.meta.logical_ref, refs[seen]);
        let Body::Json(text) = p.data else { panic!("json mode") };
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["i"], seen);
        seen += 1;
        if seen == 100 {
            (guest_at_100, rss_at_100) = (parts.memory_peak(), rss_kib());
        }
    }
    assert_eq!(seen, N);
    // The guest holds the document and one part: its linear memory does not grow while the
    // remaining 9,900 parts stream through (a reader that kept them would grow by megabytes).
    let guest_end = parts.memory_peak();
    drop(parts);
    assert!(guest_at_100 > 0);
    assert!(
        guest_end <= guest_at_100 + (1 << 20),
        "guest memory grew from {guest_at_100} to {guest_end} bytes while streaming"
    );
    if let (Some(a), Some(b)) = (rss_at_100, rss_kib()) {
        assert!(b.saturating_sub(a) < 64 << 10, "host RSS grew by {} KiB while streaming", b.saturating_sub(a));
    }
}
