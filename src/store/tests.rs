use super::*;
use crate::backend::mem::{MemMetadata, MemStorage};

fn store() -> (Store, MemStorage) {
    let s = MemStorage::default();
    (Store::new(Rc::new(s.clone()), Rc::new(MemMetadata::default())), s)
}

fn put(st: &Store, data: &[u8], f: impl FnOnce(&mut PutOptions)) -> PutResult {
    let mut o = PutOptions::default();
    f(&mut o);
    st.put(data, &o).unwrap()
}

fn bytes(st: &Store, r: &str, f: impl FnOnce(&mut GetOptions)) -> Result<Vec<u8>, Error> {
    let mut o = GetOptions { mode: Some(Mode::Bytes), ..Default::default() };
    f(&mut o);
    st.get(r, &o).map(|g| match g.data {
        Body::Bytes(b) => b,
        other => panic!("{other:?}"),
    })
}

#[test]
fn put_get_head_round_trip_each_compression() {
    let (st, _) = store();
    let body: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    for c in [Compression::None, Compression::Gzip, Compression::Deflate] {
        let p = put(&st, &body, |o| o.compression = Some(c));
        assert!(p.created);
        assert_eq!(p.record.bytes, body.len() as u64);
        assert_eq!(p.record.compression, c);
        assert_eq!(bytes(&st, &p.record.id, |_| {}).unwrap(), body);
        assert_eq!(st.head(&p.record.logical_ref).unwrap(), p.record);
        assert_eq!(bytes(&st, &p.result_ref, |_| {}).unwrap(), body, "ResultRef form");
        let r = bytes(&st, &p.record.id, |o| o.range = Some(ByteRange::Bounded { start: 1000, end: 1009 })).unwrap();
        assert_eq!(r, &body[1000..1010]);
        let r = bytes(&st, &p.record.id, |o| o.range = Some(ByteRange::Suffix(5))).unwrap();
        assert_eq!(r, &body[body.len() - 5..]);
    }
}

#[test]
fn same_bytes_are_stored_once() {
    let (st, mem) = store();
    let a = put(&st, b"[1,2,3]", |o| o.name = Some("a".into()));
    let b = put(&st, b"[1,2,3]", |o| o.name = Some("b".into()));
    assert_ne!(a.record.id, b.record.id);
    assert_eq!(a.record.location.uri, b.record.location.uri);
    assert_eq!(blob_count(&mem), 1);
}

#[test]
fn modes_and_limits() {
    let (st, _) = store();
    let j = put(&st, br#"{"k":[1,2]}"#, |_| {});
    let g = st.get(&j.record.id, &GetOptions::default()).unwrap();
    assert_eq!(g.data, Body::Json(r#"{"k":[1,2]}"#.into()));
    let t = put(&st, b"not json", |o| o.content_type = Some("text/plain".into()));
    assert!(matches!(st.get(&t.record.id, &GetOptions::default()), Err(Error::Decode(_))));
    let big = vec![b'a'; 10_000];
    for c in [Compression::None, Compression::Gzip] {
        let p = put(&st, &big, |o| o.compression = Some(c));
        assert_eq!(bytes(&st, &p.record.id, |o| o.max_bytes = Some(100)), Err(Error::TooLarge { limit: 100, needed: 10_000 }));
        assert_eq!(
            bytes(&st, &p.record.id, |o| o.range = Some(ByteRange::From(10_000))),
            Err(Error::RangeNotSatisfiable(10_000))
        );
    }
}

#[test]
fn corruption_is_an_integrity_error() {
    for c in [Compression::None, Compression::Gzip] {
        let (st, mem) = store();
        let p = put(&st, &vec![7u8; 5000], |o| o.compression = Some(c));
        {
            let mut objs = mem.objects.lock().unwrap();
            let blob = objs.get_mut(&p.record.location.uri).unwrap();
            let mut v = (**blob).clone();
            let i = v.len() / 2;
            v[i] ^= 0x01;
            *blob = std::sync::Arc::new(v);
        }
        let e = bytes(&st, &p.record.id, |_| {}).unwrap_err();
        assert!(matches!(e, Error::Integrity(_)), "{c:?}: {e:?}");
    }
    let (st, mem) = store();
    let p = put(&st, b"hello", |_| {});
    mem.objects.lock().unwrap().insert(p.record.location.uri.clone(), std::sync::Arc::new(b"hello!".to_vec()));
    assert!(matches!(bytes(&st, &p.record.id, |_| {}), Err(Error::Integrity(_))));
    mem.objects.lock().unwrap().insert(p.record.location.uri.clone(), std::sync::Arc::new(b"hell".to_vec()));
    assert!(matches!(bytes(&st, &p.record.id, |_| {}), Err(Error::Integrity(_))));
}

#[test]
fn get_or_create_and_policies() {
    let (st, mem) = store();
    let a = put(&st, b"1", |o| { o.bucket = Some("b".into()); o.name = Some("n".into()); });
    let b = put(&st, b"2", |o| { o.bucket = Some("b".into()); o.name = Some("n".into()); });
    assert!(a.created && !b.created);
    assert_eq!(a.record, b.record);
    assert_eq!(blob_count(&mem), 1);
    let mut o = PutOptions { bucket: Some("b".into()), name: Some("n".into()), if_exists: Some(IfExists::Fail), ..Default::default() };
    assert!(matches!(st.put(b"3", &o), Err(Error::Conflict(_))));
    o.if_exists = Some(IfExists::Overwrite);
    let c = st.put(b"3", &o).unwrap();
    assert_eq!(c.record.id, a.record.id);
    assert_eq!(bytes(&st, "b/n", |_| {}).unwrap(), b"3");
    assert_eq!(blob_count(&mem), 1, "old blob released");
}

/// A get-or-create whose pair another put creates while its body streams answers with the
/// winner (or `conflict`), and leaves no object of its own behind: content-addressed (same or
/// other bytes than the winner's) and on a template location (which may be the winner's own).
/// An object a third artifact holds (the same bytes as the loser's, deduplicated) stays.
#[test]
fn a_pair_created_while_the_body_streamed_is_answered_with_the_winner() {
    let template = "mem://t/{{ bucket }}/{{ name }}.bin";
    for store_opt in [None, Some(template)] {
        for (mine, theirs) in [(&b"mine"[..], &b"theirs"[..]), (b"same", b"same")] {
            for policy in [IfExists::Get, IfExists::Fail] {
                for third_shares_mine in [false, true] {
                    let case = format!("{store_opt:?} {mine:?}/{theirs:?} {policy:?} third {third_shares_mine}");
                    let (st, mem) = store();
                    let opts = |p: IfExists| PutOptions {
                        bucket: Some("b".into()),
                        name: Some("n".into()),
                        store: store_opt.map(str::to_string),
                        if_exists: Some(p),
                        content_type: Some("application/octet-stream".into()),
                        ..Default::default()
                    };
                    let third = third_shares_mine.then(|| put(&st, mine, |o| o.name = Some("third".into())));
                    let mut w = st.open_writer(&opts(policy)).unwrap();
                    w.write(mine).unwrap();
                    let winner = st.put(theirs, &opts(IfExists::Get)).unwrap();
                    assert!(winner.created, "{case}");
                    match (policy, w.finish()) {
                        (IfExists::Get, Ok(p)) => {
                            assert!(!p.created, "{case}");
                            assert_eq!(p.record, winner.record, "{case}");
                        }
                        (IfExists::Fail, Err(Error::Conflict(_))) => {}
                        (_, other) => panic!("{case}: {other:?}"),
                    }
                    drop(w);
                    let mut kept = std::collections::BTreeSet::from([winner.record.location.uri.clone()]);
                    if let Some(t) = &third {
                        kept.insert(t.record.location.uri.clone());
                        assert_eq!(bytes(&st, &t.record.id, |_| {}).unwrap(), mine, "{case}: the third artifact");
                    }
                    assert_eq!(blob_count(&mem), kept.len(), "{case}: only the winner's (and the third's) objects stay");
                    assert_eq!(bytes(&st, "b/n", |_| {}).unwrap(), theirs, "{case}");
                }
            }
        }
    }
}

#[test]
fn bad_input_changes_nothing() {
    let (st, mem) = store();
    for o in [
        PutOptions { bucket: Some("Bad Bucket".into()), ..Default::default() },
        PutOptions { name: Some("../x".into()), ..Default::default() },
        PutOptions { store: Some("s3://x/{{ id }}".into()), ..Default::default() },
        PutOptions { store: Some("mem://x/{{ nope }}".into()), ..Default::default() },
        PutOptions { store: Some("mem://x/{{ step }}".into()), ..Default::default() },
        PutOptions { ttl: Some("soon".into()), ..Default::default() },
        PutOptions { max_bytes: Some(2), ..Default::default() },
    ] {
        assert!(st.put(b"[1,2,3]", &o).is_err(), "{o:?}");
    }
    assert!(mem.objects.lock().unwrap().is_empty());
    assert!(st.list(&ListQuery { limit: 10, ..Default::default() }).unwrap().records.is_empty());
    assert!(matches!(st.get("garbage ref", &GetOptions::default()), Err(Error::InvalidRef(_))));
    assert!(matches!(st.get("01ARZ3NDEKTSV4RRFFQ69G5FAV", &GetOptions::default()), Err(Error::NotFound(_))));
}

#[test]
fn templates_expiry_and_gc() {
    let (mut st, mem) = store();
    let p = put(&st, b"{}", |o| {
        o.store = Some("mem://results/{{ execution_id }}/{{ step }}/{{ name }}.{{ ext }}".into());
        o.execution_id = Some("e1".into());
        o.step = Some("s".into());
        o.name = Some("out".into());
        o.ttl = Some("1h".into());
        o.compression = Some(Compression::Gzip);
    });
    assert_eq!(p.record.location.uri, "mem://results/e1/s/out.json.gz");
    assert!(p.record.logical_ref.starts_with("noetl://execution/e1/result/out/"));
    let keep = put(&st, b"[]", |_| {});
    fn later() -> u64 { crate::ids::now_ms() + 2 * 3_600_000 }
    st.now = later;
    assert!(matches!(st.get(&p.record.id, &GetOptions::default()), Err(Error::Expired(_))));
    let report = st.gc().unwrap();
    assert_eq!(report.records, vec![p.record.id.clone()]);
    assert_eq!(report.blobs, vec![p.record.location.uri.clone()]);
    assert!(st.get(&keep.record.id, &GetOptions::default()).is_ok());
    assert_eq!(blob_count(&mem), 1);
}

#[test]
fn streaming_reader_and_writer() {
    let (st, _) = store();
    let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 13) as u8).collect();
    let mut w = st.open_writer(&PutOptions { compression: Some(Compression::Gzip), ..Default::default() }).unwrap();
    for c in body.chunks(65_536) {
        w.write(c).unwrap();
    }
    let p = w.finish().unwrap();
    let mut r = st.open_reader(&p.record.id, &GetOptions::default()).unwrap();
    let mut got = Vec::new();
    loop {
        let c = r.read(100_000).unwrap();
        if c.is_empty() { break; }
        assert!(c.len() <= 100_000);
        got.extend_from_slice(&c);
    }
    assert_eq!(got, body);
    let (st2, mem) = store();
    let mut w = st2.open_writer(&PutOptions::default()).unwrap();
    w.write(b"abc").unwrap();
    w.abort();
    assert!(w.finish().is_err());
    drop(w);
    let mut w = st2.open_writer(&PutOptions::default()).unwrap();
    w.write(b"abc").unwrap();
    drop(w);
    assert!(mem.objects.lock().unwrap().is_empty());
}

#[test]
fn listing_pages_are_stable() {
    let (st, _) = store();
    for i in 0..25 {
        put(&st, format!("{i}").as_bytes(), |o| { o.bucket = Some("b".into()); o.name = Some(format!("f{i:03}")); });
    }
    let mut seen = Vec::new();
    let mut q = ListQuery { bucket: Some("b".into()), limit: 10, ..Default::default() };
    loop {
        let p = st.list(&q).unwrap();
        seen.extend(p.records.iter().map(|r| r.name.clone()));
        match p.next_cursor { Some(c) => q.cursor = Some(c), None => break }
    }
    assert_eq!(seen.len(), 25);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 25);
    assert_eq!(st.summary("b").unwrap().count, 25);
}

/// Objects other than chunk indexes.
fn blob_count(mem: &MemStorage) -> usize {
    // Objects holding bytes: not chunk indexes, not tombstones of deleted or replaced versions.
    mem.objects.lock().unwrap().keys().filter(|k| !k.starts_with("mem://index/") && !k.starts_with("mem://revoked/")).count()
}
