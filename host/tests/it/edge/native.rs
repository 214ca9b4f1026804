//! `artifact serve --native` (the benchmarks' reference: the edge handler compiled into the
//! server) answers every read exactly as the component does, never serves a corrupted byte, and
//! refuses what it does not do (bodies over 8 MiB, requests with a body, `--reuse`) without
//! storing anything.

use super::{get, Home, KEYS};
use crate::common::{request, Resp};

/// Status, headers (without the ones that depend on the second they were made) and the body's
/// length and SHA-256.
fn comparable(r: &Resp) -> (u16, Vec<(String, String)>, usize, String) {
    let mut h: Vec<(String, String)> = r
        .headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("date") && !k.eq_ignore_ascii_case("cache-control"))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    h.sort();
    (r.status, h, r.body.len(), artifact_component::encoding::hex(&<sha2::Sha256 as sha2::Digest>::digest(&r.body)))
}

/// Method, path with query, request headers.
type Case<'a> = (&'a str, String, Vec<(&'a str, String)>);

#[test]
fn the_native_reference_answers_reads_as_the_component_does() {
    let home = Home::new();
    let data = super::csv();
    let id = home.put("prices.csv", &data, &["--content-type", "text/csv"]);
    let gz = home.put("prices-gz.csv", &data, &["--content-type", "text/csv", "--compression", "gzip"]);
    let big = crate::common::random_bytes(700 << 10, 9);
    let big_id = home.put("big.bin", &big, &[]);
    let gone = home.put("gone.txt", b"soon gone", &[]);
    let component = home.serve(&[]);
    let native = home.serve(&["--native"]);

    // Signatures cover the path and query, not the host: one URL path for both servers.
    let path = |url: String| url.strip_prefix(&component.base).unwrap().to_string();
    let plain = path(home.sign(&component.base, &id, &[]));
    let ranged = path(home.sign(&component.base, &id, &["--range", "100-199"]));
    let packed = path(home.sign(&component.base, &gz, &[]));
    let large = path(home.sign(&component.base, &big_id, &[]));
    let deleted = path(home.sign(&component.base, &gone, &[]));
    home.run(&["rm", &gone], KEYS);
    let n = data.len();
    let etag = format!("\"{}\"", artifact_component::encoding::hex(&<sha2::Sha256 as sha2::Digest>::digest(&data)));
    let cases: Vec<Case> = vec![
        ("GET", plain.clone(), vec![]),
        ("HEAD", plain.clone(), vec![]),
        ("GET", plain.clone(), vec![("Range", "bytes=0-99".into())]),
        ("GET", plain.clone(), vec![("Range", "bytes=-64".into())]),
        ("GET", plain.clone(), vec![("Range", format!("bytes={n}-"))]),
        ("GET", plain.clone(), vec![("If-None-Match", etag)]),
        ("GET", ranged.clone(), vec![]),
        ("GET", ranged, vec![("Range", "bytes=0-999".into())]),
        ("GET", packed.clone(), vec![("Accept-Encoding", "gzip".into())]),
        ("GET", packed, vec![]),
        ("GET", large, vec![]),
        ("GET", plain.replace("sig=", "sig=A"), vec![]),
        ("GET", deleted, vec![]),
        ("GET", "/v1/artifacts/nothing-here".into(), vec![]),
        ("DELETE", plain.clone(), vec![]),
    ];
    for (method, p, headers) in &cases {
        let hs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let a = request(method, &format!("{}{p}", component.base), &hs);
        let b = request(method, &format!("{}{p}", native.base), &hs);
        assert_eq!(comparable(&a), comparable(&b), "{method} {p} {headers:?}");
        assert_eq!(a.header("cache-control").is_some(), b.header("cache-control").is_some(), "{method} {p}");
    }
    // The cases above are not all alike (a test that compared two broken servers would pass).
    let statuses: Vec<u16> = cases
        .iter()
        .map(|(m, p, h)| request(m, &format!("{}{p}", native.base), &h.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>()).status)
        .collect();
    assert_eq!(statuses, [200, 200, 206, 206, 416, 304, 206, 403, 200, 200, 200, 403, 404, 400, 405]);
    assert_eq!(get(&format!("{}{plain}", native.base), &[]).body, data);

    // A corrupted object: the component cuts the body, the native reference (which builds the
    // body before the head) answers 500; neither hands out the wrong bytes.
    let blob = home.blob_files().into_iter().find(|p| std::fs::read(p).unwrap() == big).unwrap();
    let mut bad = big.clone();
    bad[600 << 10] ^= 1;
    std::fs::write(&blob, &bad).unwrap();
    let large = path(home.sign(&component.base, &big_id, &[]));
    let r = get(&format!("{}{large}", native.base), &[]);
    assert_eq!((r.status, r.error_kind()), (500, "integrity".to_string()));
    assert!(!r.body.windows(64).any(|w| bad[(600 << 10) - 32..(600 << 10) + 32] == *w), "corrupted bytes were served");
    std::fs::write(&blob, &big).unwrap();
    assert_eq!(get(&format!("{}{large}", native.base), &[]).body, big);

    // Bodies are built whole: past 8 MiB the reference refuses before reading, the component serves.
    let huge = crate::common::random_bytes((8 << 20) + 1, 10);
    let huge_id = home.put("huge.bin", &huge, &[]);
    let huge_url = path(home.sign(&component.base, &huge_id, &[]));
    assert_eq!(get(&format!("{}{huge_url}", native.base), &[]).status, 501);
    let h = request("HEAD", &format!("{}{huge_url}", native.base), &[]);
    assert_eq!((h.status, h.header("content-length")), (200, Some(huge.len().to_string().as_str())));
    let r = get(&format!("{}{huge_url}", component.base), &[("Range", "bytes=-10")]);
    assert_eq!((r.status, r.body.as_slice()), (206, &huge[huge.len() - 10..]));
    let r = get(&format!("{}{huge_url}", native.base), &[("Range", "bytes=-10")]);
    assert_eq!((r.status, r.body.as_slice()), (206, &huge[huge.len() - 10..]));

    // Requests with a body are not the reference's business: 501, nothing stored.
    let before = home.blob_files().len();
    let r = crate::common::send("PUT", &format!("{}/v1/uploads?grant=x&sig=y", native.base), Some(b"abc"), &[]);
    assert_eq!(r.status, 501);
    assert_eq!(home.blob_files().len(), before);

    // `--native` has no instances to reuse.
    let o = home.signed(&["serve", "--native", "--reuse", "2", "--listen", "127.0.0.1:0"], KEYS).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--native has no instances to reuse"), "{}", String::from_utf8_lossy(&o.stderr));
}
