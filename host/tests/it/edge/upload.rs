//! Signed uploads over HTTP (`PUT /v1/uploads?grant=…&sig=…`): the real binary (`sign --method
//! PUT`, `serve`) and real clients (ureq, curl, raw sockets). Every refused or broken upload
//! leaves the store as it was.

use super::{get, KEYS, ROGUE};
use crate::common::{on_path, random_bytes, send, Home, Resp};
use artifact_component::encoding::{base64_decode, base64url, hex};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

fn put(url: &str, body: &[u8], headers: &[(&str, &str)]) -> Resp {
    send("PUT", url, Some(body), headers)
}

/// What the store holds: the CLI's listing and the blob files.
fn snapshot(h: &Home) -> (String, Vec<PathBuf>) {
    let o = h.cmd(&["ls", "--json", "--all"]);
    assert!(o.status.success());
    (String::from_utf8(o.stdout).unwrap(), h.blob_files())
}

/// The upload URL with line `line` of its grant replaced by `f(old)` (the signature kept).
/// Lines: 1 bucket, 2 name, 3 content type, 4 max bytes, 5 compression, 6 expiry, 7 key id.
pub(crate) fn forge(url: &str, line: usize, f: impl Fn(&str) -> String) -> String {
    let (head, rest) = url.split_once("grant=").unwrap();
    let (grant, tail) = rest.split_once('&').unwrap();
    let text = String::from_utf8(base64_decode(grant).unwrap()).unwrap();
    let mut lines: Vec<String> = text.split('\n').map(String::from).collect();
    lines[line] = f(&lines[line]);
    let forged = lines.join("\n");
    assert_ne!(forged, text);
    format!("{head}grant={}&{tail}", base64url(forged.as_bytes()))
}

/// Sends a request head and part of a body by hand, then hangs up.
fn cut_upload(url: &str, promised: usize, sent: &[u8], chunked: bool) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    let framing = if chunked { "Transfer-Encoding: chunked".to_string() } else { format!("Content-Length: {promised}") };
    write!(s, "PUT /{path} HTTP/1.1\r\nHost: {host}\r\n{framing}\r\n\r\n").unwrap();
    if chunked {
        write!(s, "{:x}\r\n", sent.len()).unwrap();
        s.write_all(sent).unwrap();
        s.write_all(b"\r\n").unwrap();
    } else {
        s.write_all(sent).unwrap();
    }
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
}

#[test]
fn signed_uploads_store_within_the_grant_and_nothing_otherwise() {
    let home = Home::new();
    let server = home.serve(&[]);
    let base = server.base.clone();
    let data = super::csv();
    let sign_put = |r: &str, extra: &[&str]| home.sign(&base, r, &[&["--method", "PUT"], extra].concat());
    let url = sign_put("vendor/2026/q4.csv", &["--max-bytes", "300000"]);
    assert!(url.starts_with(&format!("{base}/v1/uploads?grant=")), "{url}");

    // 201 with the ResultRef; the signed read gives the bytes back.
    let r = put(&url, &data, &[]);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["created"], true);
    assert_eq!(v["meta"]["bucket"], "vendor");
    assert_eq!(v["meta"]["name"], "2026/q4.csv");
    assert_eq!(v["meta"]["content_type"], "text/csv", "typed from the name when signing");
    assert_eq!(v["meta"]["sha256"], hex(&Sha256::digest(&data)));
    let back = get(&home.sign(&base, "vendor/2026/q4.csv", &[]), &[]);
    assert_eq!((back.status, back.body == data), (200, true));
    // --no-lookup signs an id of another store (an edge app's) with the keys alone.
    let id = v["meta"]["id"].as_str().unwrap();
    let back = get(&home.sign(&base, id, &["--no-lookup"]), &[]);
    assert_eq!((back.status, back.body == data), (200, true));
    let ghost = "01M84EG4VHHF84MF34ZRCQAC3P";
    assert_eq!(home.signed(&["sign", ghost], KEYS).output().unwrap().status.code(), Some(3), "looked up here: not found");
    assert_eq!(get(&home.sign(&base, ghost, &["--no-lookup"]), &[]).status, 404, "signed, and not found by the server");

    // Get-or-create: the pair exists, 200 with the existing artifact, its bytes unchanged.
    let r = put(&url, b"other bytes", &[]);
    assert_eq!(r.status, 200);
    let again: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!((again["created"].clone(), again["meta"]["id"].clone()), (serde_json::json!(false), v["meta"]["id"].clone()));

    // curl -T, as the README shows, with compression bound in the grant.
    if on_path("curl", &[]).is_some() {
        let file = home.write("big.bin", &random_bytes(2_000_000, 5));
        let gz = sign_put("vendor/big.bin", &["--max-bytes", "2000000", "--compression", "gzip"]);
        let o = std::process::Command::new("curl").args(["-sS", "-T", &file, &gz]).output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("curl: {}", String::from_utf8_lossy(&o.stdout)));
        assert_eq!((v["created"].clone(), v["meta"]["compression"].clone()), (serde_json::json!(true), serde_json::json!("gzip")));
        assert_eq!(home.cmd(&["cat", "vendor/big.bin"]).stdout, random_bytes(2_000_000, 5));
    } else {
        eprintln!("curl is not installed: the curl -T case is skipped");
    }

    // Everything below is refused and changes nothing.
    let before = snapshot(&home);
    let fresh = sign_put("vendor/new.csv", &["--max-bytes", "1000"]);
    let refused: Vec<(&str, Resp, u16)> = vec![
        ("other bucket", put(&forge(&fresh, 1, |_| "other".into()), b"x", &[]), 403),
        ("other name", put(&forge(&fresh, 2, |_| "new2.csv".into()), b"x", &[]), 403),
        ("other type", put(&forge(&fresh, 3, |_| "text/html".into()), b"x", &[]), 403),
        ("larger bound", put(&forge(&fresh, 4, |_| "9000".into()), b"x", &[]), 403),
        ("other compression", put(&forge(&fresh, 5, |_| "gzip".into()), b"x", &[]), 403),
        ("later expiry", put(&forge(&fresh, 6, |e| (e.parse::<u64>().unwrap() + 3600).to_string()), b"x", &[]), 403),
        ("other key id", put(&forge(&fresh, 7, |_| "k2".into()), b"x", &[]), 403),
        ("changed signature", put(&fresh.replacen("sig=", "sig=A", 1), b"x", &[]), 403),
        ("no signature", put(fresh.split("&sig=").next().unwrap(), b"x", &[]), 403),
        ("rogue key", put(&home.sign_with(&base, "vendor/new.csv", &["--method", "PUT", "--kid", "k9"], &format!("{KEYS},{ROGUE}")), b"x", &[]), 403),
        ("too large", put(&fresh, &random_bytes(1001, 9), &[]), 413),
        ("a read URL used to write", put(&home.sign(&base, "vendor/2026/q4.csv", &[]), b"x", &[]), 405),
        ("GET of an upload URL", get(&fresh, &[]), 405),
    ];
    for (what, r, want) in &refused {
        assert_eq!(r.status, *want, "{what}: {}", String::from_utf8_lossy(&r.body));
    }
    let expiring = sign_put("vendor/late.csv", &["--ttl", "1s"]);
    std::thread::sleep(Duration::from_millis(2100));
    let r = put(&expiring, b"x", &[]);
    assert_eq!((r.status, r.error_kind()), (403, "expired".to_string()));
    // Past the bound with no length announced (chunked), and bodies cut by a client that left.
    let chunked = sign_put("vendor/chunked.bin", &["--max-bytes", "1000"]);
    cut_upload(&chunked, 0, &random_bytes(5000, 1), true);
    let cut = sign_put("vendor/cut.bin", &["--max-bytes", "100000"]);
    cut_upload(&cut, 50_000, &random_bytes(10_000, 2), false);
    cut_upload(&cut, 0, &random_bytes(10_000, 3), true);
    std::thread::sleep(Duration::from_millis(500));
    for name in ["vendor/new.csv", "vendor/late.csv", "vendor/chunked.bin", "vendor/cut.bin"] {
        assert_eq!(home.cmd(&["head", name]).status.code(), Some(3), "{name} was stored");
    }
    assert_eq!(snapshot(&home), before, "a refused upload changed the store");
    // The URL that was refused for its size still works for a body within it.
    assert_eq!(put(&fresh, b"a,b\n1,2\n", &[]).status, 201);
}

/// Sends `data` in `pieces` with `pause` between them, then reads the answer's status line.
fn slow_upload(url: &str, data: &[u8], pieces: usize, pause: Duration) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(s, "PUT /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", data.len()).unwrap();
    for piece in data.chunks(data.len().div_ceil(pieces)) {
        if s.write_all(piece).is_err() {
            break;
        }
        std::thread::sleep(pause);
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.lines().next().unwrap_or("").to_string()
}

#[test]
fn a_slow_upload_finishes_past_the_request_timeout_and_a_stalled_one_is_cut() {
    let home = Home::new();
    let server = home.serve(&["--request-timeout", "2s", "--write-timeout", "3s"]);
    let base = server.base.clone();
    // Ten pieces a second apart: 9 s in all, past the 2 s budget, but never 3 s without a byte.
    let data = random_bytes(1_000_000, 4);
    let url = home.sign(&base, "slow/steady.bin", &["--method", "PUT", "--max-bytes", "1000000"]);
    let status = slow_upload(&url, &data, 10, Duration::from_millis(900));
    assert!(status.contains(" 201 "), "{status}");
    assert_eq!(home.cmd(&["cat", "slow/steady.bin"]).stdout, data);
    // Half the body, then silence: cut after the write timeout, nothing stored.
    let url = home.sign(&base, "slow/stalled.bin", &["--method", "PUT", "--max-bytes", "1000000"]);
    let started = std::time::Instant::now();
    let status = slow_upload(&url, &data, 2, Duration::from_secs(8));
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(!status.contains(" 201 "), "a stalled upload was stored: {status}");
    assert_eq!(home.cmd(&["head", "slow/stalled.bin"]).status.code(), Some(3));
}

/// A large upload streams: the server's peak RSS stays bounded whatever the size. 256 MiB here
/// (`ARTIFACT_BIG_UPLOAD_MIB=1024` for the 1 GiB; the bytes are generated, not read
/// from a file, and the store keeps one copy).
#[test]
fn a_large_upload_streams_in_bounded_memory() {
    let _heavy = crate::common::heavy();
    let mib = super::big_upload_mib();
    let home = Home::new();
    let server = home.serve(&[]);
    let url = home.sign(&server.base, "big/upload.bin", &["--method", "PUT", "--max-bytes", &(mib << 20).to_string()]);
    let peak = server.put_big(url.strip_prefix(&server.base).unwrap(), "", mib);
    eprintln!("upload of {mib} MiB: server peak RSS {} MiB", peak >> 20);
}

#[test]
fn slow_uploaders_cannot_take_every_instance() {
    let home = Home::new();
    let id = home.put("small.txt", b"still readable", &[]);
    // Four instances: two upload slots.
    let server = home.serve(&["--max-instances", "4"]);
    let base = server.base.clone();
    let host = base.strip_prefix("http://").unwrap().to_string();
    let mut stalled = Vec::new();
    for name in ["slow/a.bin", "slow/b.bin"] {
        let url = home.sign(&base, name, &["--method", "PUT", "--max-bytes", "1000"]);
        let path = url.strip_prefix(&base).unwrap().to_string();
        let mut s = std::net::TcpStream::connect(&host).unwrap();
        write!(s, "PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 1000\r\n\r\n").unwrap();
        s.write_all(&[1u8; 10]).unwrap();
        stalled.push(s);
    }
    std::thread::sleep(Duration::from_millis(500));
    let third = home.sign(&base, "slow/c.bin", &["--method", "PUT", "--max-bytes", "1000"]);
    let r = put(&third, b"x", &[]);
    assert_eq!((r.status, r.header("retry-after")), (503, Some("1")), "{}", String::from_utf8_lossy(&r.body));
    for _ in 0..3 {
        let r = get(&home.sign(&base, &id, &[]), &[]);
        assert_eq!((r.status, r.body.as_slice()), (200, &b"still readable"[..]), "reads keep their instances");
    }
    drop(stalled);
    let started = std::time::Instant::now();
    loop {
        let r = put(&third, b"x", &[]);
        if r.status == 201 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the slots came back: {}", r.status);
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `kill -9` of the server while an upload streams: no record, and the staged bytes are
/// collected by the next `gc`; the store is as it was.
#[test]
fn a_server_killed_mid_upload_leaves_nothing_behind() {
    let home = Home::new();
    home.put("keep.txt", b"keep", &[]);
    let mut server = home.serve(&[]);
    let url = home.sign(&server.base, "killed/mid.bin", &["--method", "PUT", "--max-bytes", "8000000"]);
    let before = snapshot(&home);
    let host = server.base.strip_prefix("http://").unwrap().to_string();
    let path = url.strip_prefix(&server.base).unwrap().to_string();
    let mut s = std::net::TcpStream::connect(&host).unwrap();
    write!(s, "PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 8000000\r\n\r\n").unwrap();
    s.write_all(&random_bytes(3_000_000, 6)).unwrap();
    // Let the server stage a good part of it, then kill it without warning.
    let staging = home.objects().join(".staging");
    let started = std::time::Instant::now();
    while std::fs::read_dir(&staging).map_or(0, |d| d.count()) == 0 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(std::fs::read_dir(&staging).map_or(0, |d| d.count()) > 0, "the upload was being staged");
    server.child.0.kill().unwrap();
    server.child.0.wait().unwrap();
    assert_eq!(home.cmd(&["head", "killed/mid.bin"]).status.code(), Some(3), "no record");
    std::thread::sleep(Duration::from_millis(1200));
    let gc = home.cmd(&["gc", "--grace", "1s"]);
    assert!(gc.status.success(), "{}", String::from_utf8_lossy(&gc.stderr));
    assert_eq!(std::fs::read_dir(&staging).map_or(0, |d| d.count()), 0, "staging left behind after gc");
    assert_eq!(snapshot(&home), before, "the store is as before the upload");
}
