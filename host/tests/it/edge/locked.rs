//! A metadata database locked by another process (a `gc`, a backup, a `sqlite3` shell holding a
//! write transaction) while `artifact serve` runs: the uploads that must write wait for the lock,
//! and nothing else waits for them.

use super::*;
use crate::common::send_with;

/// A GET that gives up after `within`: `None` when no complete answer came by then.
fn get_within(url: &str, within: Duration) -> Option<(u16, Vec<u8>)> {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(within)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).ok()?;
    let head_end = all.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let status = String::from_utf8_lossy(&all[..head_end]).split_whitespace().nth(1)?.parse().ok()?;
    Some((status, all[head_end..].to_vec()))
}

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
    assert_eq!(get_within(&url, Duration::from_secs(30)).map(|(s, b)| (s, b == data)), Some((200, true)));

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
    let got = get_within(&url, Duration::from_secs(3));
    db.execute_batch("ROLLBACK").unwrap();
    let got = got.map(|(status, body)| (status, body == data));
    assert_eq!(got, Some((200, true)), "a read behind {} uploads waiting for the lock (None: no answer in 3 s)", workers + 2);
    for w in waiting {
        assert_eq!(w.join().unwrap(), 201, "an upload that waited for the lock");
    }
    for (i, (_, body)) in uploads.iter().enumerate() {
        let o = home.cmd(&["cat", &format!("locked/u{i}.bin")]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(&o.stdout == body, "upload {i} stored other bytes");
    }
}
