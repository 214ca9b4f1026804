//! A metadata database locked by another process (a `gc`, a backup, a `sqlite3` shell holding a
//! write transaction) while `artifact serve` runs: the uploads that must write wait for the lock,
//! and nothing else waits for them.

use super::*;
use crate::common::send_with;
use crate::faults::raw_get_within;

/// More uploads wait for the database's write lock than the server has worker threads; a read
/// is still answered at once (each waiting write used to block a worker, so the server stopped
/// accepting until the lock came free or the busy timeout ran out), and once the lock is free
/// every waiting upload is stored.
#[test]
fn uploads_waiting_for_a_locked_database_do_not_hold_up_reads() {
    let home = Home::new();
    let data = crate::common::random_bytes(4096, 9);
    let id = home.put("a.bin", &data, &[]);
    let server = home.serve(&[]);
    let url = home.sign(&server.base, &id, &[]);
    let (status, body) = raw_get_within(&url, &[], Duration::from_secs(30));
    assert!(status == 200 && body == data, "before the lock: HTTP {status}");

    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let uploads: Vec<(String, Vec<u8>)> = (0..workers + 2)
        .map(|i| {
            let name = format!("locked/u{i}.bin");
            let url = home.sign(&server.base, &name, &["--method", "PUT", "--max-bytes", "10000"]);
            (url, crate::common::random_bytes(1000 + i, 100 + i as u64))
        })
        .collect();
    let db = rusqlite::Connection::open(home.store().join("metadata.db")).unwrap();
    db.execute_batch("BEGIN IMMEDIATE").unwrap();
    let waiting: Vec<_> = uploads
        .iter()
        .cloned()
        .map(|(url, body)| std::thread::spawn(move || send_with(&agent(), "PUT", &url, Some(&body), &[]).status))
        .collect();
    // Let them reach the insert (SQLite's busy timeout is 5 s; the lock is released within it).
    std::thread::sleep(Duration::from_millis(1000));
    let (status, body) = raw_get_within(&url, &[], Duration::from_secs(3));
    db.execute_batch("ROLLBACK").unwrap();
    assert!(status == 200 && body == data, "a read behind {} uploads waiting for the lock: HTTP {status} (0: no answer in 3 s)", workers + 2);
    for w in waiting {
        assert_eq!(w.join().unwrap(), 201, "an upload that waited for the lock");
    }
    for (i, (_, body)) in uploads.iter().enumerate() {
        let o = home.cmd(&["cat", &format!("locked/u{i}.bin")]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(&o.stdout == body, "upload {i} stored other bytes");
    }
}
