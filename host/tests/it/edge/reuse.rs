//! `artifact serve --reuse N` (issue 15): one instance serves up to N requests, one after
//! another. Every answer is still right (other artifacts, other sizes, a delete or an
//! overwrite by another process in between), an instance is replaced after N requests (seen in
//! the access log's `reused=K`), a corrupted object read by a reused instance is still cut, not
//! served, and uploads through reused instances store their own bytes.

use super::{get, Home, Server, KEYS};
use std::time::{Duration, Instant};

/// The `reused=K` values of the access-log lines of GETs so far, in order.
fn reuse_counts(server: &Server) -> Vec<u32> {
    // The line is written after the answer is handed over: give the last one a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = 0;
    loop {
        let counts: Vec<u32> = server
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("\"GET /v1/artifacts/"))
            .map(|l| l.rsplit_once(" reused=").unwrap_or_else(|| panic!("no reused= in {l:?}")).1.parse().unwrap())
            .collect();
        if counts.len() == last || Instant::now() > deadline {
            return counts;
        }
        last = counts.len();
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn reused_instances_answer_right_and_are_replaced_after_n_requests() {
    let home = Home::new();
    let small = crate::common::random_bytes(4096, 1);
    let big = crate::common::random_bytes(700 << 10, 2);
    let a = home.put("a.bin", &small, &[]);
    let b = home.put("b.bin", &big, &[]);
    let server = home.serve(&["--reuse", "4"]);
    let (url_a, url_b) = (home.sign(&server.base, &a, &[]), home.sign(&server.base, &b, &[]));

    // One client, one request at a time.
    for i in 0..10 {
        let (url, want) = if i % 2 == 0 { (&url_a, &small) } else { (&url_b, &big) };
        let r = get(url, &[]);
        assert_eq!((r.status, r.body.len(), &r.body == want), (200, want.len(), true), "request {i}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let r = get(&url_a, &[("Range", "bytes=10-19")]);
    assert_eq!((r.status, r.body.as_slice()), (206, &small[10..20]));
    // An instance goes back to the pool only once its body is sent, which may be just after the
    // client has read it (hence the pauses: without them the next request may find a second
    // instance). Either way no instance serves more than 4, some serve 4, and 11 requests
    // cannot have needed fewer than 3 instances.
    let counts = reuse_counts(&server);
    assert_eq!(counts.len(), 11, "{counts:?}");
    assert_eq!(counts.iter().max(), Some(&3), "{counts:?}");
    assert!(counts.iter().filter(|&&k| k == 0).count() >= 3, "{counts:?}");

    // Another process deletes `a`: the instance that served it says 404 at once (no state kept).
    home.run(&["rm", &a], KEYS);
    assert_eq!(get(&url_a, &[]).status, 404);
    assert_eq!(get(&url_b, &[]).body, big);

    // A corrupted object through a reused instance: the body is cut, never served whole.
    let blob = home.blob_files().into_iter().find(|p| std::fs::read(p).unwrap() == big).unwrap();
    let mut bad = big.clone();
    bad[600 << 10] ^= 1;
    std::fs::write(&blob, &bad).unwrap();
    let (status, body) = crate::faults::raw_get(&url_b, &[]);
    assert!(status == 0 || status >= 500 || body.len() < big.len(), "a corrupted body was served whole ({status})");
    assert!(big.starts_with(&body), "a wrong byte was served");
    std::fs::write(&blob, &big).unwrap();
    assert_eq!(get(&url_b, &[]).body, big, "the next request is served right");

    // Another process overwrites `b`: the next request serves the new version, whole and verified.
    let newer = crate::common::random_bytes(9000, 5);
    home.put("b.bin", &newer, &["--if-exists", "overwrite"]);
    assert_eq!(get(&url_b, &[]).body, newer, "a reused instance served a replaced version");

    // Uploads through reused instances store exactly their own bytes.
    for (i, data) in [crate::common::random_bytes(300 << 10, 3), crate::common::random_bytes(5000, 4)].iter().enumerate() {
        let name = format!("up/{i}.bin");
        let put = home.sign(&server.base, &name, &["--method", "PUT", "--max-bytes", "1000000"]);
        let r = crate::common::send("PUT", &put, Some(data), &[]);
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(get(&home.sign(&server.base, &name, &[]), &[]).body, *data);
    }
}

#[test]
fn reused_instances_under_concurrent_clients_mix_nothing() {
    let home = Home::new();
    let blobs: Vec<Vec<u8>> = (0..4).map(|i| crate::common::random_bytes(1000 + 3000 * i, 10 + i as u64)).collect();
    let ids: Vec<String> = blobs.iter().enumerate().map(|(i, d)| home.put(&format!("f{i}.bin"), d, &[])).collect();
    let server = home.serve(&["--reuse", "1000", "--max-instances", "4"]);
    let urls: Vec<String> = ids.iter().map(|id| home.sign(&server.base, id, &[])).collect();
    std::thread::scope(|s| {
        for t in 0..8 {
            let (urls, blobs) = (&urls, &blobs);
            s.spawn(move || {
                for i in 0..25 {
                    let k = (t + i) % urls.len();
                    let r = get(&urls[k], &[]);
                    assert_eq!((r.status, r.body == blobs[k]), (200, true), "thread {t} request {i}");
                }
            });
        }
    });
    let counts = reuse_counts(&server);
    assert_eq!(counts.len(), 200);
    // At most 4 instances ever ran: every other request was served by one already warm.
    assert!(counts.iter().filter(|&&k| k == 0).count() <= 4, "{counts:?}");
}
