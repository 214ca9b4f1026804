//! Signed URLs that carry their record (`artifact sign --carry`, issue 15): served from storage
//! alone (here by a server whose metadata store is empty), and still stopped by `rm` and by an
//! overwrite, even while the deleted version's content-addressed blob lives on for another
//! artifact; `gc` does not bring them back.

use super::{get, Home, KEYS};

#[test]
fn carried_urls_read_storage_only_and_stop_at_rm_and_overwrite() {
    let home = Home::new();
    let data = super::csv();
    let a = home.put("a.csv", &data, &["--content-type", "text/csv"]);
    let b = home.put("b.csv", &data, &["--content-type", "text/csv"]);
    let c = home.put("c.csv", b"v1\n", &["--content-type", "text/csv"]);
    // A server over the same objects whose metadata store knows nothing.
    let empty = home.path().join("empty.db");
    let server = home.serve_with(&[], None, &[("ARTIFACT_METADATA", &format!("sqlite://{}", empty.display()))]);
    let base = server.base.clone();
    let carried = |id: &str| home.sign(&base, id, &["--carry", "--ttl", "10m"]);
    let (url_a, url_b, url_c) = (carried(&a), carried(&b), carried(&c));
    assert!(url_a.contains("&rec="), "{url_a}");

    let r = get(&url_a, &[]);
    assert_eq!((r.status, r.body == data), (200, true));
    assert_eq!(r.header("content-type"), Some("text/csv"));
    let r = get(&url_a, &[("Range", "bytes=0-9")]);
    assert_eq!((r.status, r.body.as_slice()), (206, &data[..10]));
    assert_eq!(get(&home.sign(&base, &a, &[]), &[]).status, 404, "a URL by lookup needs the record");

    // Any change to the carried text: 403, nothing read.
    let rec = url_a.split("&rec=").nth(1).unwrap().split('&').next().unwrap();
    let text = String::from_utf8(artifact_component::encoding::base64_decode(rec).unwrap()).unwrap();
    for (from, to) in [("text/csv", "text/html"), ("fs://blobs", "fs://index/blobs")] {
        let forged = artifact_component::encoding::base64url(text.replacen(from, to, 1).as_bytes());
        assert_eq!(get(&url_a.replace(rec, &forged), &[]).status, 403, "{from} -> {to}");
    }

    // rm: a stops, b (same blob) reads on; gc keeps the tombstone.
    home.run(&["rm", &a], KEYS);
    assert_eq!(get(&url_a, &[]).status, 404);
    assert_eq!(get(&url_b, &[]).body, data);
    home.run(&["gc"], KEYS);
    assert_eq!(get(&url_a, &[]).status, 404, "gc brought a deleted version back");

    // Overwrite: the old version stops, a URL for the new one reads the new bytes.
    home.put("c.csv", b"v2\n", &["--content-type", "text/csv", "--if-exists", "overwrite"]);
    assert_eq!(get(&url_c, &[]).status, 404);
    assert_eq!(get(&carried(&c), &[]).body, b"v2\n");

    // Not for manifests, nor uploads; not with --no-lookup.
    for args in [vec!["sign", "x/y", "--method", "PUT", "--carry"], vec!["sign", &b, "--carry", "--no-lookup"]] {
        let o = home.signed(&args, KEYS).output().unwrap();
        assert!(!o.status.success(), "{args:?}");
    }
}
