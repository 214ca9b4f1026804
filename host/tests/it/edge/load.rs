//! `artifact serve` under hostile load (the real binary, raw sockets on 127.0.0.1): a burst of
//! a thousand clients, a thousand stalled connections with 256 file descriptors, a slow but
//! live download longer than the request timeout, and a client that stops reading.

use super::{csv, hex, put_big, Home, Server, BIG};
use crate::common::random_bytes;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What a client got: a status line with headers, or nothing.
#[derive(Debug)]
enum Outcome {
    Answered { status: u16, retry_after: bool, body: usize },
    Dropped(String),
}

fn addr(server: &Server) -> String {
    server.base.trim_start_matches("http://").to_string()
}

fn path_of(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    rest[rest.find('/').unwrap()..].to_string()
}

/// One `Connection: close` GET over a fresh socket, read to the end.
async fn fetch(addr: &str, path: &str, headers: &str) -> Outcome {
    let run = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
        let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{headers}\r\n");
        s.write_all(req.as_bytes()).await.map_err(|e| format!("write: {e}"))?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.map_err(|e| format!("read: {e}"))?;
        Ok::<_, String>(buf)
    };
    let buf = match tokio::time::timeout(Duration::from_secs(180), run).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => return Outcome::Dropped(e),
        Err(_) => return Outcome::Dropped("no answer in 180 s".into()),
    };
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Outcome::Dropped(format!("no complete head in {} bytes", buf.len()));
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Outcome::Answered { status, retry_after: head.contains("\r\nretry-after: "), body: buf.len() - end - 4 }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// 1000 clients at once against the default configuration: each gets an HTTP answer (200,
/// 206, 304, or 503 with Retry-After), none is dropped, none gets another 5xx.
#[test]
fn a_thousand_concurrent_clients_all_get_an_answer() {
    artifact_host::serve::raise_fd_limit();
    let home = Home::new();
    let small = home.put("small.csv", &csv(), &[]);
    let big = home.put("big.bin", &random_bytes(1 << 20, 5), &["--content-type", "application/octet-stream"]);
    let server = home.serve(&[]);
    let (small, big) = (path_of(&home.sign(&server.base, &small, &[])), path_of(&home.sign(&server.base, &big, &[])));
    let a = addr(&server);
    let far_future = "If-Modified-Since: Fri, 31 Dec 9999 23:59:59 GMT\r\n";
    let outcomes: Vec<Outcome> = runtime().block_on(async {
        let tasks: Vec<_> = (0..1000)
            .map(|i| {
                let (a, path) = (a.clone(), if i % 10 == 0 { big.clone() } else { small.clone() });
                let headers = match i % 4 {
                    1 => "Range: bytes=0-99\r\n",
                    2 => far_future,
                    _ => "",
                };
                tokio::spawn(async move { fetch(&a, &path, headers).await })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    let mut by_status = BTreeMap::new();
    let mut dropped = Vec::new();
    for o in &outcomes {
        match o {
            Outcome::Answered { status, retry_after, .. } => {
                *by_status.entry((*status, *retry_after)).or_insert(0) += 1;
            }
            Outcome::Dropped(why) => dropped.push(why.clone()),
        }
    }
    eprintln!("1000 concurrent clients: {by_status:?}, dropped {}", dropped.len());
    assert!(dropped.is_empty(), "dropped: {:?}", &dropped[..dropped.len().min(5)]);
    for ((status, retry_after), n) in &by_status {
        let ok = matches!(status, 200 | 206 | 304) || (*status == 503 && *retry_after);
        assert!(ok, "{n} answers with status {status} (Retry-After: {retry_after})");
    }
    let served: usize = by_status.iter().filter(|((s, _), _)| *s != 503).map(|(_, n)| n).sum();
    assert!(served >= 500, "most of a burst that fits the queue is served: {by_status:?}");
    // Bodies are whole: a full 1 MiB read, a 100-byte range.
    assert!(outcomes.iter().any(|o| matches!(o, Outcome::Answered { status: 200, body, .. } if *body == 1 << 20)));
    assert!(outcomes.iter().any(|o| matches!(o, Outcome::Answered { status: 206, body: 100, .. })));
}

/// Holds `n` connections open: half send part of a request head, half send nothing. Returns,
/// per connection, how long it stayed open (`None`: still open after `hold`).
async fn stall_connections(addr: String, n: usize, hold: Duration) -> Vec<Option<Duration>> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let addr = addr.clone();
            tokio::spawn(async move {
                let opened = Instant::now();
                let Ok(mut s) = tokio::net::TcpStream::connect(&addr).await else {
                    return Some(Duration::ZERO);
                };
                if i % 2 == 0 {
                    let _ = s.write_all(b"GET /v1/artifacts/01M84EG4VHHF84MF34ZRCQAC3P HTTP/1.1\r\nHost: t\r\nX-Slow: ").await;
                }
                let mut b = [0u8; 1024];
                loop {
                    match tokio::time::timeout(hold.saturating_sub(opened.elapsed()), s.read(&mut b)).await {
                        Ok(Ok(0)) | Ok(Err(_)) => return Some(opened.elapsed()),
                        Ok(Ok(_)) => continue,
                        Err(_) => return None,
                    }
                }
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Lines of the server's log that are not access-log lines.
fn other_log_lines(server: &Server) -> Vec<String> {
    server.log.lock().unwrap().iter().filter(|l| !l.contains("\" ")).cloned().collect()
}

/// 1000 stalled connections against a server with 256 file descriptors: new clients are still
/// answered within a second, the log stays short, and the stalled connections are closed by the
/// header timeout (or shed for new clients) — with the default connection limit, and with one
/// set too high for the file limit (accept then fails with EMFILE: the server lowers its limit,
/// sheds, and logs the episode once).
#[test]
fn stalled_connections_with_256_file_descriptors() {
    artifact_host::serve::raise_fd_limit();
    let home = Home::new();
    let id = home.put("small.csv", &csv(), &[]);
    for extra in [&[][..], &["--max-connections", "1000"][..]] {
        let mut args = vec!["--header-timeout", "3s"];
        args.extend_from_slice(extra);
        let server = home.serve_limited(&args, Some(256));
        let url = home.sign(&server.base, &id, &[]);
        let (a, path) = (addr(&server), path_of(&url));
        let rt = runtime();
        let stalled = rt.spawn(stall_connections(a.clone(), 1000, Duration::from_secs(20)));
        std::thread::sleep(Duration::from_millis(500));
        let mut latencies = Vec::new();
        for _ in 0..12 {
            let t = Instant::now();
            let o = rt.block_on(fetch(&a, &path, ""));
            let took = t.elapsed();
            match o {
                Outcome::Answered { status, .. } => assert_eq!(status, 200, "{extra:?}"),
                Outcome::Dropped(why) => panic!("{extra:?}: a new client was dropped: {why}\n{:#?}", other_log_lines(&server)),
            }
            latencies.push(took);
            std::thread::sleep(Duration::from_millis(250));
        }
        let worst = latencies.iter().max().unwrap();
        eprintln!("{extra:?}: new clients answered in at most {worst:?} while 1000 connections stalled");
        assert!(*worst < Duration::from_secs(1), "{extra:?}: {latencies:?}");
        let open_for = rt.block_on(stalled).unwrap();
        let still_open = open_for.iter().filter(|d| d.is_none()).count();
        let longest = open_for.iter().flatten().max().unwrap();
        eprintln!("{extra:?}: stalled connections: {still_open} open after 20 s, longest closed after {longest:?}");
        assert_eq!(still_open, 0, "{extra:?}: every stalled connection is closed");
        // Header timeout 3 s, plus the time a connection waited in the backlog before accept.
        assert!(*longest < Duration::from_secs(15), "{extra:?}: {longest:?}");
        assert_eq!(rt.block_on(fetch(&a, &path, "")).status(), Some(200), "{extra:?}: serving after the storm");
        let other = other_log_lines(&server);
        assert!(other.len() <= 6, "{extra:?}: the log stays short: {other:#?}");
        if !extra.is_empty() {
            assert!(other.iter().any(|l| l.contains("connection limit lowered")), "{other:#?}");
        }
    }
}

impl Outcome {
    fn status(&self) -> Option<u16> {
        match self {
            Outcome::Answered { status, .. } => Some(*status),
            Outcome::Dropped(_) => None,
        }
    }
}

/// A 256 MiB download read at 2 MB/s takes two minutes, far past the 10 s request timeout, and
/// completes whole (the component's deadline counts between writes); a client that stops
/// reading is cut after the 5 s write timeout instead of holding its instance forever.
#[test]
fn slow_download_completes_and_a_stalled_reader_is_cut() {
    const RATE: f64 = 2e6;
    let home = Home::new();
    let (id, expect) = put_big(&home);
    let server = home.serve(&["--request-timeout", "10s", "--write-timeout", "5s"]);
    let url = home.sign(&server.base, &id, &[]);
    let (a, path) = (addr(&server), path_of(&url));
    let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");

    let stalled = {
        let (a, request) = (a.clone(), request.clone());
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(&a).unwrap();
            s.write_all(request.as_bytes()).unwrap();
            let mut buf = vec![0u8; 1 << 20];
            let mut got = s.read(&mut buf).unwrap();
            std::thread::sleep(Duration::from_secs(15));
            s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
            loop {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got += n,
                }
            }
            got
        })
    };

    let started = Instant::now();
    let mut s = TcpStream::connect(&a).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut buf = vec![0u8; 64 << 10];
    let mut head = Vec::new();
    let mut hasher = Sha256::new();
    let mut body = 0usize;
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        let mut chunk = &buf[..n];
        if body == 0 && !head.ends_with(b"\r\n\r\n") {
            let take = head_bytes(&head, chunk);
            head.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
        }
        hasher.update(chunk);
        body += chunk.len();
        // Pace the reads: never ahead of RATE bytes per second.
        let due = Duration::from_secs_f64(body as f64 / RATE);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    eprintln!("256 MiB at {:.1} MB/s took {secs:.0} s with a 10 s request timeout", body as f64 / secs / 1e6);
    assert_eq!(body, BIG, "the whole body arrived");
    assert_eq!(hex(&hasher.finalize()), expect);
    assert!(secs > 20.0, "the download outlived the request timeout");

    let got = stalled.join().unwrap();
    eprintln!("the stalled reader got {got} bytes of {BIG} before being cut");
    assert!(got < BIG / 2, "a reader that stopped for 15 s was cut (got {got} bytes)");
    let log = server.log.lock().unwrap().join("\n");
    assert!(!log.contains("deadline exceeded"), "{log}");
}

/// How many bytes of `chunk` complete the response head collected so far in `head`.
fn head_bytes(head: &[u8], chunk: &[u8]) -> usize {
    let mut h = head.to_vec();
    for (i, b) in chunk.iter().enumerate() {
        h.push(*b);
        if h.ends_with(b"\r\n\r\n") {
            return i + 1;
        }
    }
    chunk.len()
}
