use super::*;
use crate::backend::mem::{MemMetadata, MemStorage};
use std::rc::Rc;

fn store() -> (Store, MemStorage) {
    let s = MemStorage::default();
    (Store::new(Rc::new(s.clone()), Rc::new(MemMetadata::default())), s)
}

fn part(st: &Store, body: &str) -> String {
    st.put(body.as_bytes(), &PutOptions::default()).unwrap().record.logical_ref
}

fn opts(strategy: Strategy, merge_path: Option<&str>) -> ManifestOptions {
    ManifestOptions { strategy, merge_path: merge_path.map(str::to_string), ..Default::default() }
}

fn create(st: &Store, strategy: Strategy, merge_path: Option<&str>, parts: &[String]) -> PutResult {
    st.manifest_create(&opts(strategy, merge_path), parts).unwrap()
}

fn get_with(st: &Store, r: &str, f: impl FnOnce(&mut GetOptions)) -> Result<Value, Error> {
    let mut o = GetOptions::default();
    f(&mut o);
    st.get(r, &o).map(|g| match g.data {
        Body::Json(s) => serde_json::from_str(&s).unwrap(),
        other => panic!("resolved manifests are JSON, got {other:?}"),
    })
}

fn get(st: &Store, r: &str) -> Value {
    get_with(st, r, |_| {}).unwrap()
}

fn limits(o: &mut GetOptions, depth: Option<u32>, parts: Option<u32>) {
    o.manifest_limits = Some(ManifestLimits { max_depth: depth, max_parts: parts });
}

#[test]
fn acceptance_concat_merge_path_flattens_items_in_order() {
    let (st, _) = store();
    let refs = vec![
        part(&st, r#"{"items":[1,2],"page":0}"#),
        part(&st, r#"{"items":[{"id":3}],"page":1}"#),
        part(&st, r#"{"items":[4,"five",6],"page":2}"#),
    ];
    for path in ["items", "$.items"] {
        let m = create(&st, Strategy::Concat, Some(path), &refs);
        assert_eq!(m.record.kind, Kind::Manifest);
        assert_eq!(m.record.content_type, CONTENT_TYPE);
        let v = get(&st, &m.record.logical_ref);
        assert_eq!(v["data"], json!([1, 2, {"id": 3}, 4, "five", 6]), "{path}");
        assert_eq!(v["manifest"]["strategy"], "concat");
        assert_eq!(v["manifest"]["total_parts"], 3);
        assert!(v["manifest"]["completed_at"].is_string());
        let idx: Vec<_> = v["parts"].as_array().unwrap().iter().map(|p| p["index"].as_u64().unwrap()).collect();
        assert_eq!(idx, [0, 1, 2]);
        assert_eq!(v["parts"][1]["meta"]["ref"], refs[1].as_str());
        assert!(v["parts"][0].get("data").is_none(), "concat parts carry meta only");
    }
}

#[test]
fn the_same_result_built_incrementally() {
    let (st, _) = store();
    let m = create(&st, Strategy::Concat, Some("data.items"), &[]);
    assert!(get(&st, &m.record.id)["manifest"]["completed_at"].is_null());
    let bodies = [r#"{"data":{"items":["c"]}}"#, r#"{"data":{"items":["a"]}}"#, r#"{"data":{"items":["b"]}}"#];
    // Out of order with explicit indexes, then completed.
    for (i, idx) in [(0, 2), (1, 0), (2, 1)] {
        let r = st.manifest_add(&m.record.logical_ref, &part(&st, bodies[i]), Some(idx)).unwrap();
        assert_eq!((r.record.id.as_str(), r.created), (m.record.id.as_str(), false));
        assert_eq!(r.record.logical_ref, m.record.logical_ref);
    }
    let c = st.manifest_complete(&m.record.logical_ref).unwrap();
    assert_eq!(c.record.id, m.record.id);
    assert_eq!(get(&st, &m.record.id)["data"], json!(["a", "b", "c"]));
}

#[test]
fn json_numbers_and_text_pass_through_unchanged() {
    let (st, _) = store();
    let refs = vec![part(&st, r#"[12345678901234567890, 1.0, 1e400]"#), part(&st, r#"[ 0.1 ]"#)];
    let m = create(&st, Strategy::Concat, None, &refs);
    let g = st.get(&m.record.id, &GetOptions::default()).unwrap();
    let Body::Json(s) = g.data else { panic!() };
    assert!(s.contains(r#""data":[12345678901234567890,1.0,1e400,0.1]"#), "{s}");
}

#[test]
fn append_lists_bodies_in_each_mode() {
    let (st, _) = store();
    let refs = vec![part(&st, r#"{"a":1}"#), part(&st, r#"[true]"#)];
    let m = create(&st, Strategy::Append, None, &refs);
    let v = get(&st, &m.record.id);
    assert!(v.get("data").is_none());
    assert_eq!(v["parts"][0]["data"], json!({"a": 1}));
    assert_eq!(v["parts"][1]["data"], json!([true]));
    assert_eq!(v["parts"][1]["meta"]["sha256"].as_str().unwrap().len(), 64);
    let t = get_with(&st, &m.record.id, |o| o.mode = Some(Mode::Text)).unwrap();
    assert_eq!(t["parts"][0]["data"], r#"{"a":1}"#);
    let b = get_with(&st, &m.record.id, |o| o.mode = Some(Mode::Bytes)).unwrap();
    assert_eq!(b["parts"][1]["data"], crate::encoding::base64(b"[true]"));
}

#[test]
fn concat_without_path_text_and_bytes() {
    let (st, _) = store();
    let refs = vec![part(&st, "[1]"), part(&st, "[]"), part(&st, "[2,3]")];
    let m = create(&st, Strategy::Concat, None, &refs);
    assert_eq!(get(&st, &m.record.id)["data"], json!([1, 2, 3]));
    assert_eq!(get_with(&st, &m.record.id, |o| o.mode = Some(Mode::Text)).unwrap()["data"], "[1][][2,3]");
    assert_eq!(get_with(&st, &m.record.id, |o| o.mode = Some(Mode::Bytes)).unwrap()["data"], crate::encoding::base64(b"[1][][2,3]"));
    let bad = create(&st, Strategy::Concat, None, &[refs[0].clone(), part(&st, r#"{"x":1}"#)]);
    match get_with(&st, &bad.record.id, |_| {}) {
        Err(Error::Decode(m)) => assert!(m.starts_with("part 1 (") && m.contains("not an array"), "{m}"),
        other => panic!("{other:?}"),
    }
    let missing = create(&st, Strategy::Concat, Some("items"), &[part(&st, r#"{"other":[]}"#)]);
    match get_with(&st, &missing.record.id, |_| {}) {
        Err(Error::Decode(m)) => assert!(m.contains("part 0") && m.contains("\"items\""), "{m}"),
        other => panic!("{other:?}"),
    }
    let empty = create(&st, Strategy::Concat, None, &[]);
    assert_eq!(get(&st, &empty.record.id)["data"], json!([]));
}

#[test]
fn merge_deep_merges_and_replace_takes_the_last() {
    let (st, _) = store();
    let refs = vec![
        part(&st, r#"{"a":{"x":1,"y":[1,2]},"b":1}"#),
        part(&st, r#"{"a":{"y":[3],"z":{"k":true}},"c":null}"#),
        part(&st, r#"{"b":{"now":"object"}}"#),
    ];
    let m = create(&st, Strategy::Merge, None, &refs);
    assert_eq!(
        get(&st, &m.record.id)["data"],
        json!({"a": {"x": 1, "y": [3], "z": {"k": true}}, "b": {"now": "object"}, "c": null})
    );
    let r = create(&st, Strategy::Replace, None, &refs);
    assert_eq!(get(&st, &r.record.id)["data"], json!({"b": {"now": "object"}}));
    let none = create(&st, Strategy::Replace, None, &[]);
    assert_eq!(get(&st, &none.record.id)["data"], Value::Null);
    assert!(matches!(get_with(&st, &m.record.id, |o| o.mode = Some(Mode::Text)), Err(Error::InvalidArgument(_))));
}

#[test]
fn unresolved_get_returns_the_document() {
    let (st, _) = store();
    let p = st.put(b"[1]", &PutOptions::default()).unwrap().record;
    let mut o = opts(Strategy::Concat, None);
    o.correlation = Some(r#"{"run":7}"#.into());
    o.put.execution_id = Some("exec-1".into());
    o.put.name = Some("pages".into());
    let m = st.manifest_create(&o, std::slice::from_ref(&p.id)).unwrap();
    assert!(m.record.logical_ref.starts_with("noetl://execution/exec-1/manifest/pages/"), "{}", m.record.logical_ref);
    let v = get_with(&st, &m.record.id, |o| o.resolve_manifest = Some(false)).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want = vec![
        "kind", "ref", "strategy", "merge_path", "parts", "total_parts", "total_bytes", "created_at",
        "completed_at", "correlation", "metadata",
    ];
    want.sort();
    assert_eq!(keys, want);
    assert_eq!(v["kind"], "manifest");
    assert_eq!(v["ref"], m.record.logical_ref.as_str());
    assert_eq!(v["correlation"], json!({"run": 7}));
    assert_eq!(v["parts"][0], json!({
        "ref": p.logical_ref, "index": 0, "bytes": 3, "sha256": p.sha256,
        "meta": {"id": p.id, "kind": "result_ref", "content_type": "application/json", "compression": "none"},
    }));
    assert_eq!(v["total_bytes"], 3);
    assert!(matches!(
        get_with(&st, &m.record.id, |o| o.range = Some(ByteRange::From(0))),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn invalid_options_are_refused() {
    let (st, _) = store();
    let bad = |o: ManifestOptions| st.manifest_create(&o, &[]).unwrap_err();
    assert!(matches!(bad(opts(Strategy::Merge, Some("items"))), Error::InvalidArgument(_)));
    assert!(matches!(bad(opts(Strategy::Concat, Some("a..b"))), Error::InvalidArgument(_)));
    assert!(matches!(bad(opts(Strategy::Concat, Some(""))), Error::InvalidArgument(_)));
    let mut o = opts(Strategy::Append, None);
    o.correlation = Some("[1]".into());
    assert!(matches!(bad(o), Error::InvalidArgument(_)));
    assert_eq!(parse_merge_path("$.a.b").unwrap(), ["a", "b"]);
    assert!(parse_merge_path("$").unwrap().is_empty());
}

#[test]
fn nested_manifests_contribute_their_value() {
    let (st, _) = store();
    let inner1 = create(&st, Strategy::Concat, Some("items"), &[part(&st, r#"{"items":[1]}"#), part(&st, r#"{"items":[2]}"#)]);
    let inner2 = create(&st, Strategy::Concat, Some("items"), &[part(&st, r#"{"items":[3]}"#)]);
    let outer = create(
        &st,
        Strategy::Concat,
        Some("items"),
        &[inner1.record.logical_ref.clone(), part(&st, r#"{"items":[2.5]}"#), inner2.record.logical_ref.clone()],
    );
    assert_eq!(get(&st, &outer.record.id)["data"], json!([1, 2, 2.5, 3]));
    let app = create(&st, Strategy::Append, None, std::slice::from_ref(&inner1.record.logical_ref));
    let v = get(&st, &app.record.id);
    assert_eq!(v["parts"][0]["data"], json!([1, 2]));
    assert_eq!(v["parts"][0]["meta"]["kind"], "manifest");
}

/// A chain of `n` manifests above one leaf; returns the outermost.
fn chain(st: &Store, n: usize) -> String {
    let mut r = part(st, "[0]");
    for _ in 0..n {
        r = create(st, Strategy::Concat, None, &[r]).record.logical_ref;
    }
    r
}

#[test]
fn depth_limit_is_invalid_argument() {
    let (st, _) = store();
    // Top at depth 0; 5 manifests means nesting depth 4: the default allows it.
    let ok = chain(&st, 5);
    assert_eq!(get(&st, &ok)["data"], json!([0]));
    let deep = chain(&st, 6);
    match get_with(&st, &deep, |_| {}) {
        Err(Error::InvalidArgument(m)) => assert!(m.contains("max_depth 4") && m.starts_with("part 0 ("), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(get_with(&st, &chain(&st, 2), |o| limits(o, Some(0), None)), Err(Error::InvalidArgument(_))));
    assert!(get_with(&st, &chain(&st, 2), |o| limits(o, Some(1), None)).is_ok());
}

#[test]
fn cycles_are_conflicts_naming_the_chain() {
    let (st, _) = store();
    // The API cannot build a cycle (manifest parts must be completed, completed ones are
    // immutable), so hand-write the documents as a hostile writer could.
    let open = || create(&st, Strategy::Append, None, &[]).record;
    let (a, b, c) = (open(), open(), open());
    let set = |m: &Record, parts: &[&Record]| {
        let m = st.resolve(&m.id).unwrap();
        let mut doc = st.load_manifest(&m).unwrap();
        doc.parts = parts.iter().enumerate().map(|(i, p)| entry(&st.resolve(&p.id).unwrap(), i as u32)).collect();
        st.rewrite_manifest(&m, &doc).unwrap();
    };
    set(&b, &[&a]);
    set(&c, &[&b]);
    set(&a, &[&c]);
    let (a, b, c) = (&a.logical_ref, &b.logical_ref, &c.logical_ref);
    for depth in [None, Some(100)] {
        match get_with(&st, a, |o| limits(o, depth, None)) {
            Err(Error::Conflict(m)) => {
                assert!(m.contains(&format!("manifest cycle: {a} -> {c} -> {b} -> {a}")), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }
    let mut parts = st.open_parts(a, &GetOptions::default()).unwrap();
    assert!(matches!(parts.next(), Err(Error::Conflict(_))));
    // Directly: a manifest listing itself.
    let d = open();
    set(&d, &[&d]);
    match get_with(&st, &d.id, |_| {}) {
        Err(Error::Conflict(m)) => assert!(m.contains(&format!("{} -> {}", d.logical_ref, d.logical_ref)), "{m}"),
        other => panic!("{other:?}"),
    }
    // The API refuses the ingredients.
    let e = open();
    match st.manifest_add(&e.id, &e.id, None) {
        Err(Error::InvalidArgument(m)) => assert!(m.contains("cannot contain itself"), "{m}"),
        other => panic!("{other:?}"),
    }
    match st.manifest_create(&opts(Strategy::Append, None), std::slice::from_ref(&e.logical_ref)) {
        Err(Error::Conflict(m)) => assert!(m.starts_with("part 0 (") && m.contains("open manifest"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn part_count_limit_is_too_large_and_counts_nested_parts() {
    let (st, _) = store();
    let refs: Vec<String> = (0..3).map(|i| part(&st, &format!("[{i}]"))).collect();
    let m = create(&st, Strategy::Concat, None, &refs);
    assert_eq!(get_with(&st, &m.record.id, |o| limits(o, None, Some(2))), Err(Error::TooLarge { limit: 2, needed: 3 }));
    assert!(get_with(&st, &m.record.id, |o| limits(o, None, Some(3))).is_ok());
    let outer = create(&st, Strategy::Concat, None, std::slice::from_ref(&m.record.logical_ref));
    assert_eq!(get_with(&st, &outer.record.id, |o| limits(o, None, Some(3))), Err(Error::TooLarge { limit: 3, needed: 4 }));
    assert!(matches!(st.open_parts(&m.record.id, &GetOptions { manifest_limits: Some(ManifestLimits { max_depth: None, max_parts: Some(1) }), ..Default::default() }), Err(Error::TooLarge { limit: 1, needed: 3 })));
}

#[test]
fn max_bytes_bounds_all_parts_together() {
    let (st, _) = store();
    let refs: Vec<String> = (0..3).map(|_| part(&st, "[1,2,3,4]")).collect(); // 9 bytes each
    let m = create(&st, Strategy::Concat, None, &refs);
    assert!(get_with(&st, &m.record.id, |o| o.max_bytes = Some(27)).is_ok());
    assert_eq!(get_with(&st, &m.record.id, |o| o.max_bytes = Some(26)), Err(Error::TooLarge { limit: 26, needed: 27 }));
    assert_eq!(get_with(&st, &m.record.id, |o| o.max_bytes = Some(10)), Err(Error::TooLarge { limit: 10, needed: 18 }));
}

#[test]
fn a_missing_expired_or_corrupt_part_fails_naming_it() {
    let (st, mem) = store();
    let refs: Vec<String> = (0..4).map(|i| part(&st, &format!("[{i}]"))).collect();
    let m = create(&st, Strategy::Concat, None, &refs);
    st.delete(&refs[2]).unwrap();
    match get_with(&st, &m.record.id, |_| {}) {
        Err(Error::NotFound(msg)) => assert!(msg.starts_with(&format!("part 2 ({}): ", refs[2])), "{msg}"),
        other => panic!("{other:?}"),
    }
    // Nested: both prefixes.
    let outer = create(&st, Strategy::Append, None, &[part(&st, "1"), m.record.logical_ref.clone()]);
    match get_with(&st, &outer.record.id, |_| {}) {
        Err(Error::NotFound(msg)) => {
            assert!(msg.starts_with(&format!("part 1 ({}): part 2 (", m.record.logical_ref)), "{msg}")
        }
        other => panic!("{other:?}"),
    }
    // Expired.
    let short = st.put(b"[9]", &PutOptions { ttl: Some("1h".into()), ..Default::default() }).unwrap().record;
    let e = create(&st, Strategy::Concat, None, &[refs[0].clone(), short.logical_ref.clone()]);
    fn later() -> Timestamp {
        crate::ids::now_ms() + 2 * 3_600_000
    }
    let st_later = Store { now: later, ..st.clone() };
    match get_with(&st_later, &e.record.id, |_| {}) {
        Err(Error::Expired(msg)) => assert!(msg.starts_with("part 1 ("), "{msg}"),
        other => panic!("{other:?}"),
    }
    // Corrupt blob.
    let rec = st.resolve(&refs[1]).unwrap();
    mem.objects.lock().unwrap().insert(rec.location.uri.clone(), std::sync::Arc::new(b"[7]".to_vec()));
    let c = create(&st, Strategy::Concat, None, &[refs[0].clone(), refs[1].clone()]);
    match get_with(&st, &c.record.id, |_| {}) {
        Err(Error::Integrity(msg)) => assert!(msg.starts_with(&format!("part 1 ({}): ", refs[1])), "{msg}"),
        other => panic!("{other:?}"),
    }
    // Part replaced by different content under the same identity.
    let named = st.put(b"[1]", &PutOptions { name: Some("p".into()), ..Default::default() }).unwrap().record;
    let r = create(&st, Strategy::Concat, None, std::slice::from_ref(&named.logical_ref));
    st.put(b"[2]", &PutOptions { name: Some("p".into()), if_exists: Some(IfExists::Overwrite), ..Default::default() }).unwrap();
    match get_with(&st, &r.record.id, |_| {}) {
        Err(Error::Integrity(msg)) => assert!(msg.starts_with("part 0 (") && msg.contains("sha256"), "{msg}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn duplicate_index_conflicts_and_gaps_block_completion() {
    let (st, _) = store();
    let m = create(&st, Strategy::Append, None, &[]).record.logical_ref;
    st.manifest_add(&m, &part(&st, "0"), None).unwrap();
    st.manifest_add(&m, &part(&st, "2"), Some(2)).unwrap();
    assert!(matches!(st.manifest_add(&m, &part(&st, "x"), Some(2)), Err(Error::Conflict(_))));
    assert!(matches!(st.manifest_add(&m, &part(&st, "x"), Some(0)), Err(Error::Conflict(_))));
    match st.manifest_complete(&m) {
        Err(Error::InvalidArgument(msg)) => assert!(msg.contains("no part at index 1"), "{msg}"),
        other => panic!("{other:?}"),
    }
    // Next index follows the highest.
    st.manifest_add(&m, &part(&st, "3"), None).unwrap();
    st.manifest_add(&m, &part(&st, "1"), Some(1)).unwrap();
    st.manifest_complete(&m).unwrap();
    let v = get(&st, &m);
    let data: Vec<_> = v["parts"].as_array().unwrap().iter().map(|p| p["data"].clone()).collect();
    assert_eq!(data, [json!(0), json!(1), json!(2), json!(3)]);
    let missing = st.manifest_add(&m, "default/nope", None).unwrap_err();
    assert!(matches!(missing, Error::Conflict(_)), "completed is checked first: {missing:?}");
}

#[test]
fn a_completed_manifest_is_immutable() {
    let (st, _) = store();
    let mut o = opts(Strategy::Concat, None);
    o.put.name = Some("m".into());
    let m = st.manifest_create(&o, &[part(&st, "[1]")]).unwrap();
    let doc_before = get_with(&st, &m.record.id, |o| o.resolve_manifest = Some(false)).unwrap();
    assert!(matches!(st.manifest_add(&m.record.id, &part(&st, "[2]"), None), Err(Error::Conflict(_))));
    assert!(matches!(st.manifest_complete(&m.record.id), Err(Error::Conflict(_))));
    o.put.if_exists = Some(IfExists::Overwrite);
    assert!(matches!(st.manifest_create(&o, &[]), Err(Error::Conflict(_))));
    // Get-or-create returns it unchanged.
    o.put.if_exists = None;
    let again = st.manifest_create(&o, &[]).unwrap();
    assert_eq!((again.created, again.record.id.as_str()), (false, m.record.id.as_str()));
    assert_eq!(get_with(&st, &m.record.id, |o| o.resolve_manifest = Some(false)).unwrap(), doc_before);
    // A name taken by a plain artifact is not turned into a manifest.
    st.put(b"1", &PutOptions { name: Some("plain".into()), ..Default::default() }).unwrap();
    o.put.name = Some("plain".into());
    assert!(matches!(st.manifest_create(&o, &[]), Err(Error::Conflict(_))));
}

#[test]
fn totals_are_computed_not_trusted() {
    let (st, _) = store();
    let a = st.put(b"[1,2]", &PutOptions::default()).unwrap().record;
    let b = st.put(b"[3]", &PutOptions::default()).unwrap().record;
    // A hand-written open manifest claiming wrong sizes and totals.
    let m = st.manifest_create(&opts(Strategy::Concat, None), &[]).unwrap().record;
    let mut doc = st.load_manifest(&m).unwrap();
    doc.parts = vec![entry(&a, 0), entry(&b, 1)];
    doc.parts[0].bytes = 999;
    doc.total_parts = 50;
    doc.total_bytes = 1 << 40;
    st.rewrite_manifest(&m, &doc).unwrap();
    st.manifest_complete(&m.id).unwrap();
    let v = get_with(&st, &m.id, |o| o.resolve_manifest = Some(false)).unwrap();
    assert_eq!((v["total_parts"].as_u64(), v["total_bytes"].as_u64()), (Some(2), Some(8)));
    assert_eq!(v["parts"][0]["bytes"], 5);
    // Adds keep running totals too.
    let o = create(&st, Strategy::Append, None, &[]).record.logical_ref;
    st.manifest_add(&o, &a.id, None).unwrap();
    let v = get_with(&st, &o, |o| o.resolve_manifest = Some(false)).unwrap();
    assert_eq!((v["total_parts"].as_u64(), v["total_bytes"].as_u64()), (Some(1), Some(5)));
}

#[test]
fn rewrites_keep_identity_and_expiry() {
    let (st, mem) = store();
    let mut o = opts(Strategy::Append, None);
    o.put.ttl = Some("1h".into());
    o.put.execution_id = Some("e1".into());
    o.put.created_by = Some("tester".into());
    let m = st.manifest_create(&o, &[]).unwrap().record;
    let r = st.manifest_add(&m.logical_ref, &part(&st, "1"), None).unwrap().record;
    assert_eq!((&r.id, &r.logical_ref, r.expires_at, &r.created_by), (&m.id, &m.logical_ref, m.expires_at, &m.created_by));
    assert_eq!(r.created_at, m.created_at);
    assert_eq!(st.head(&m.id).unwrap().expires_at, m.expires_at);
    // The old document's blob was released.
    let objs = mem.objects.lock().unwrap();
    assert!(!objs.contains_key(&m.location.uri));
    assert!(objs.contains_key(&r.location.uri));
}

#[test]
fn part_reader_streams_ten_thousand_parts_holding_one_at_a_time() {
    let (st, _) = store();
    let n = 10_000;
    let refs: Vec<String> = (0..n).map(|i| part(&st, &format!("{{\"i\":{i}}}"))).collect();
    let largest = format!("{{\"i\":{}}}", n - 1).len() as u64;
    let m = create(&st, Strategy::Append, None, &refs);
    let mut r = st.open_parts(&m.record.logical_ref, &GetOptions::default()).unwrap();
    assert_eq!(r.meta().id, m.record.id);
    assert_eq!(r.manifest().parts.len(), n);
    let mut seen = 0u32;
    while let Some(p) = r.next().unwrap() {
        assert_eq!(p.index, seen);
        assert_eq!(p.data, Body::Json(format!("{{\"i\":{seen}}}")));
        assert_eq!(p.meta.logical_ref, refs[seen as usize]);
        assert_eq!(r.held_parts(), 0);
        seen += 1;
    }
    assert_eq!(seen as usize, n);
    assert_eq!(r.peak_held_parts(), 1);
    assert!(r.peak_held_bytes() <= largest, "{} > {largest}", r.peak_held_bytes());
    assert_eq!(r.next().unwrap(), None);
}

#[test]
fn part_reader_modes_errors_and_per_part_cap() {
    let (st, _) = store();
    let refs = vec![part(&st, r#"{"a":1}"#), part(&st, "[1,2,3,4,5,6,7,8,9]"), part(&st, "[]")];
    let m = create(&st, Strategy::Concat, None, &refs);
    let mut r = st.open_parts(&m.record.id, &GetOptions { mode: Some(Mode::Bytes), ..Default::default() }).unwrap();
    assert_eq!(r.next().unwrap().unwrap().data, Body::Bytes(br#"{"a":1}"#.to_vec()));
    let mut r = st.open_parts(&m.record.id, &GetOptions { max_bytes: Some(10), ..Default::default() }).unwrap();
    assert!(r.next().unwrap().is_some());
    assert_eq!(r.next(), Err(Error::TooLarge { limit: 10, needed: 19 }));
    st.delete(&refs[2]).unwrap();
    let mut r = st.open_parts(&m.record.id, &GetOptions::default()).unwrap();
    r.next().unwrap();
    r.next().unwrap();
    let e = r.next().unwrap_err();
    assert!(matches!(&e, Error::NotFound(msg) if msg.starts_with(&format!("part 2 ({}): ", refs[2]))), "{e:?}");
    assert_eq!(r.next(), Err(e), "the error sticks");
    assert!(matches!(st.open_parts(&refs[0], &GetOptions::default()), Err(Error::InvalidArgument(_))));
}
