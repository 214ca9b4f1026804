//! The fault suite of the integrity contract (README § Integrity and concurrency), through the
//! real `artifact` binary and the real `.wasm`: hostile inputs, the store's own files out of
//! reach, processes racing put / rm / gc / overwrite, `kill -9` in the middle of puts, corrupted
//! objects read every way a byte can leave, and JSON returned exactly as stored. Every case ends
//! in a typed error or the exact bytes, and the store is checked for consistency afterwards.

use crate::common::{all_uris, Home};
use artifact_component::model::{Body, GetOptions, ListQuery, Mode};
use artifact_host::Runtime;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use artifact_component::encoding::hex;


fn sha(d: &[u8]) -> String {
    hex(&Sha256::digest(d))
}

/// A small deterministic generator (xorshift), so a failing interleaving can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// How a command ended: exit code and, for JSON errors, the error kind.
fn outcome(o: &Output) -> (i32, Option<String>) {
    let code = o.status.code().unwrap_or(-1);
    let kind = serde_json::from_slice::<Value>(&o.stdout)
        .ok()
        .and_then(|v| v["error"]["kind"].as_str().map(str::to_string));
    (code, kind)
}

/// Every file under `dir`, relative, with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, p: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        if let Ok(rd) = std::fs::read_dir(p) {
            for e in rd.flatten() {
                let path = e.path();
                if path.is_dir() {
                    walk(root, &path, out);
                } else if let Ok(d) = std::fs::read(&path) {
                    out.insert(path.strip_prefix(root).unwrap().to_path_buf(), d);
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Every record of the store, through the library.
fn all_records(rt: &Runtime) -> Vec<artifact_component::model::Record> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = rt.list(&ListQuery { limit: 1000, cursor: cursor.clone(), ..Default::default() }).unwrap();
        out.extend(page.records);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

/// The store after a storm: every record reads back whole and verified (no record without its
/// object), and after `gc` every content-addressed object and chunk index belongs to something
/// (no orphans) and staging is empty.
pub(crate) fn assert_consistent(
    rt: &Runtime,
    storage: &dyn artifact_component::backend::Storage,
    driver: &str,
    known: &BTreeSet<String>,
    bucket: Option<&str>,
) {
    let records = all_records(rt);
    for r in records.iter().filter(|r| bucket.is_none_or(|b| r.bucket == b)) {
        let g = rt
            .get(&r.id, &GetOptions { mode: Some(Mode::Bytes), ..Default::default() })
            .unwrap_or_else(|e| panic!("record {} ({}) does not read back: {e}", r.id, r.location.uri));
        let Body::Bytes(b) = g.data else { panic!("bytes mode") };
        assert_eq!(sha(&b), r.sha256, "record {} reads other bytes", r.id);
        assert!(known.contains(&r.sha256), "record {} holds bytes nobody put", r.id);
    }
    rt.gc_with(&artifact_host::GcOptions::default().staging_grace_ms(0)).unwrap();
    let used: BTreeSet<&str> = records.iter().map(|r| r.location.uri.as_str()).collect();
    for u in all_uris(storage, &format!("{driver}://blobs/")) {
        assert!(used.contains(u.as_str()), "orphan object {u} survived gc");
    }
    for u in all_uris(storage, &format!("{driver}://index/")) {
        let object = u.replacen("://index/", "://", 1);
        assert!(storage.stat(&object).unwrap().is_some(), "chunk index {u} without its object");
    }
}

// ---------------------------------------------------------------------------------------------
// Racing processes
// ---------------------------------------------------------------------------------------------

/// `workers` threads, each running `ops` `artifact` commands one after another (so as many
/// processes at once as workers), choosing among put (get-or-create, overwrite, unnamed), rm and
/// gc on a few names and bodies. Every command must succeed or fail with a kind a racing caller
/// can expect; the bodies' digests are returned.
pub(crate) fn storm(cmd: &(dyn Fn(&[&str]) -> Command + Sync), dir: &Path, tag: &str, workers: usize, ops: usize) -> BTreeSet<String> {
    let bodies: Vec<PathBuf> = (0..5)
        .map(|i| {
            let p = dir.join(format!("body{i}.bin"));
            // One body spans several chunks; each carries the tag so runs never share bytes.
            let n = if i == 0 { 2_500_000 } else { 100 + i * 37 };
            let mut b: Vec<u8> = (0..n as u32).map(|k| (k.wrapping_mul(2_654_435_761) >> (7 + i)) as u8).collect();
            b.extend_from_slice(tag.as_bytes());
            std::fs::write(&p, b).unwrap();
            p
        })
        .collect();
    let known: BTreeSet<String> = bodies.iter().map(|p| sha(&std::fs::read(p).unwrap())).collect();
    let bucket = format!("race-{}", tag.to_ascii_lowercase());
    std::thread::scope(|s| {
        for w in 0..workers {
            let (bodies, bucket) = (&bodies, &bucket);
            s.spawn(move || {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((w as u64 + 1) * 0x1000_0001));
                for _ in 0..ops {
                    let body = bodies[rng.below(bodies.len() as u64) as usize].to_str().unwrap().to_string();
                    let name = format!("n{}", rng.below(6));
                    let pair = format!("{bucket}/{name}");
                    let args: Vec<&str> = match rng.below(10) {
                        0..=3 => vec!["put", &body, "--bucket", bucket, "--name", &name, "--content-type", "application/octet-stream"],
                        4 | 5 => vec!["put", &body, "--bucket", bucket, "--name", &name, "--if-exists", "overwrite", "--content-type", "application/octet-stream"],
                        6 => vec!["put", &body, "--bucket", bucket, "--content-type", "application/octet-stream"],
                        7 | 8 => vec!["rm", &pair],
                        _ => vec!["gc"],
                    };
                    let o = cmd(&args).output().unwrap();
                    let (code, kind) = outcome(&o);
                    let expected = code == 0
                        || (matches!(kind.as_deref(), Some("not-found") | Some("conflict"))
                            && code == artifact_host::exit::code(kind.as_deref().unwrap_or_default()));
                    assert!(
                        expected,
                        "{args:?} under the race: exit {code}, kind {kind:?}\n{}\n{}",
                        String::from_utf8_lossy(&o.stdout),
                        String::from_utf8_lossy(&o.stderr)
                    );
                }
            });
        }
    });
    known
}

#[test]
fn a_thousand_racing_put_rm_gc_overwrite_processes_on_fs_and_sqlite() {
    let _heavy = crate::common::heavy();
    let h = Home::new();
    let dir = h.path().join("bodies");
    std::fs::create_dir_all(&dir).unwrap();
    // Warm the code cache so the storm measures the store, not compilation.
    h.cmd(&["gc"]);
    let known = storm(&|args| h.command(args), &dir, "FS", 4, 250);
    let objects = h.objects();
    let storage = artifact_host::storage::open(&format!("fs://{}", objects.display())).unwrap();
    assert_consistent(&h.runtime(), storage.as_ref(), "fs", &known, None);
    assert_eq!(files(&objects.join(".staging")).len(), 0, "staging left behind");
}

// ---------------------------------------------------------------------------------------------
// kill -9 in the middle of puts
// ---------------------------------------------------------------------------------------------

#[test]
fn twenty_five_puts_killed_at_random_points_leave_a_consistent_store() {
    let _heavy = crate::common::heavy();
    let h = Home::new();
    h.cmd(&["gc"]);
    let mut rng = Rng(0xDEAD_BEEF_1234_5678);
    let mut known = BTreeSet::new();
    for i in 0..25u32 {
        let p = h.path().join(format!("big{i}.bin"));
        let mut data: Vec<u8> = (0..(6u32 << 20)).map(|k| (k.wrapping_mul(2_654_435_761 + i) >> 11) as u8).collect();
        data.extend_from_slice(&i.to_le_bytes());
        std::fs::write(&p, &data).unwrap();
        known.insert(sha(&data));
        let compression = if i % 2 == 0 { "none" } else { "gzip" };
        let mut child = h
            .command(&["put", p.to_str().unwrap(), "--name", &format!("big{i}"), "--compression", compression])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.below(700)));
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
    }
    let objects = h.objects();
    // No partial object is ever visible: every content-addressed blob holds the bytes its name says.
    let rt = h.runtime();
    for (path, bytes) in files(&objects.join("blobs")) {
        let name = path.file_name().unwrap().to_str().unwrap();
        if let Some(digest) = name.strip_suffix(".gz") {
            let mut d = flate2::read::MultiGzDecoder::new(&bytes[..]);
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut d, &mut out).unwrap_or_else(|e| panic!("partial gzip blob {path:?}: {e}"));
            assert_eq!(sha(&out), digest, "blob {path:?}");
        } else {
            assert_eq!(sha(&bytes), name, "partial blob {path:?}");
        }
    }
    let storage = artifact_host::storage::open(&format!("fs://{}", objects.display())).unwrap();
    let records = all_records(&rt);
    // A put killed between committing its object and inserting its record leaves the object
    // pinned: gc keeps it until the pin's lease (15 minutes) is over. Every such object must be
    // accounted for by a pin; then let the leases run out and gc must collect them all.
    let used: BTreeSet<String> = records.iter().map(|r| r.location.uri.clone()).collect();
    let db = rusqlite::Connection::open(h.store().join("metadata.db")).unwrap();
    let pinned: BTreeSet<String> = db
        .prepare("SELECT uri FROM object_claims")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rt.gc_with(&artifact_host::GcOptions::default().staging_grace_ms(0)).unwrap();
    for u in all_uris(storage.as_ref(), "fs://blobs/") {
        assert!(used.contains(&u) || pinned.contains(&u), "orphan {u} with no pin to explain it");
    }
    db.execute("UPDATE object_claims SET until = 0", []).unwrap();
    assert_consistent(&rt, storage.as_ref(), "fs", &known, None);
    assert_eq!(files(&objects.join(".staging")).len(), 0, "staging left behind after gc");
    eprintln!("kill -9: {} of 25 puts had committed their record", records.len());
}

// ---------------------------------------------------------------------------------------------
// Corrupted objects, read every way
// ---------------------------------------------------------------------------------------------

/// A GET over a plain socket that keeps whatever arrived before the server cut the connection
/// (an HTTP client library reports a cut body only as an error). Returns status and raw body.
pub(crate) fn raw_get(url: &str, headers: &[(&str, &str)]) -> (u16, Vec<u8>) {
    raw_get_within(url, headers, Duration::from_secs(60))
}

/// [`raw_get`] that stops waiting for the response after `within` (status 0 if nothing came).
pub(crate) fn raw_get_within(url: &str, headers: &[(&str, &str)], within: Duration) -> (u16, Vec<u8>) {
    use std::io::Read;
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(within)).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all); // a reset after a cut body is an expected end
    // The connection closed before any response: the server refused to send unverified bytes.
    let Some(head_end) = all.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4) else {
        assert!(all.is_empty() || !all.starts_with(b"HTTP/1.1 2"), "a cut header block: {all:?}");
        return (0, Vec::new());
    };
    let head = String::from_utf8_lossy(&all[..head_end]).to_string();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(!head.to_ascii_lowercase().contains("transfer-encoding: chunked"), "{head}");
    (status, all[head_end..].to_vec())
}

#[test]
fn corrupted_objects_are_caught_by_every_read_and_no_wrong_byte_leaves() {
    let n = 3 * (1 << 20) + 4321;
    let data: Vec<u8> = (0..n as u32).map(|k| (k.wrapping_mul(2_246_822_519) >> 9) as u8).collect();
    let same_size_other: Vec<u8> = data.iter().map(|b| b ^ 0x5a).collect();
    type Corrupt = fn(&mut Vec<u8>, &[u8]);
    let corruptions: [(&str, Corrupt); 4] = [
        ("flipped", |b, _| b[150] ^= 1),
        ("truncated", |b, _| b.truncate(b.len() - 1)),
        ("appended", |b, _| b.extend_from_slice(b"tail")),
        ("swapped", |b, other| *b = other.to_vec()),
    ];
    let mut checked = 0;
    for compression in ["none", "gzip"] {
        for (what, corrupt) in corruptions {
            let h = Home::new();
            let f = h.path().join("data.bin");
            std::fs::write(&f, &data).unwrap();
            let g = h.path().join("other.bin");
            std::fs::write(&g, &same_size_other).unwrap();
            let put = |p: &Path, name: &str| -> Value {
                let o = h.cmd(&["put", p.to_str().unwrap(), "--name", name, "--compression", compression, "--content-type", "application/octet-stream"]);
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
                serde_json::from_slice(&o.stdout).unwrap()
            };
            let a = put(&f, "a");
            let b = put(&g, "b");
            let id = a["meta"]["id"].as_str().unwrap().to_string();
            let obj = h.objects().join(a["meta"]["storage"]["uri"].as_str().unwrap().strip_prefix("fs://").unwrap());
            let other = std::fs::read(h.objects().join(b["meta"]["storage"]["uri"].as_str().unwrap().strip_prefix("fs://").unwrap())).unwrap();
            let mut bytes = std::fs::read(&obj).unwrap();
            corrupt(&mut bytes, &other);
            std::fs::write(&obj, &bytes).unwrap();
            let label = format!("{compression} {what}");

            // Full get, to stdout and to -o.
            let o = h.cmd(&["get", &id, "--mode", "bytes"]);
            assert_eq!(outcome(&o), (7, Some("integrity".into())), "{label}: get");
            let out = h.path().join("out.bin");
            let o = h.cmd(&["get", &id, "--mode", "bytes", "-o", out.to_str().unwrap()]);
            assert_eq!(outcome(&o).1.as_deref(), Some("integrity"), "{label}: get -o");
            assert!(!out.exists(), "{label}: -o wrote a file");
            // Ranged get over the damaged region.
            let o = h.cmd(&["get", &id, "--mode", "bytes", "--range", "100-200"]);
            assert_eq!(outcome(&o).1.as_deref(), Some("integrity"), "{label}: ranged get");
            // cat streams: whatever it wrote before failing is a prefix of the right bytes.
            let o = h.cmd(&["cat", &id]);
            assert_ne!(o.status.code(), Some(0), "{label}: cat succeeded");
            // (The error report follows the raw bytes on stdout as one JSON line.)
            let marker = b"{\"error\":{\"kind\"";
            let cut = o.stdout.windows(marker.len()).rposition(|w| w == marker).unwrap_or(o.stdout.len());
            let raw = &o.stdout[..cut];
            assert!(data.starts_with(raw), "{label}: cat wrote a wrong byte");
            assert!(raw.len() < 1 << 20, "{label}: cat wrote {} bytes of a damaged first chunk", raw.len());
            // HTTP: 200 and 206 either refuse (5xx, or no response at all) or cut the body
            // before any wrong byte.
            let srv = h.serve(&[]);
            let url = h.sign(&srv.base, &id, &[]);
            for range in [None, Some("bytes=100-200")] {
                let headers: Vec<(&str, &str)> = range.map(|r| vec![("range", r)]).unwrap_or_default();
                let (status, body) = raw_get(&url, &headers);
                let want = match range {
                    None => &data[..],
                    Some(_) => &data[100..=200],
                };
                assert!(
                    status == 0 || status >= 500 || (body.len() < want.len() && want.starts_with(&body)),
                    "{label} {range:?}: HTTP {status} with {} bytes",
                    body.len()
                );
                checked += 1;
            }
            checked += 5;
        }
    }
    assert_eq!(checked, 2 * 4 * 7);
}

// ---------------------------------------------------------------------------------------------
// The store's own files, content addresses, leftovers
// ---------------------------------------------------------------------------------------------

#[test]
fn store_files_are_out_of_reach_of_templates_and_content_addresses_are_verified() {
    let h = Home::new();
    let junk = h.write("junk.bin", b"not a database");
    let x = h.write("x.json", br#"{"x": 1}"#);
    let y = h.write("y.json", br#"{"y": 2}"#);
    let put_x = h.json(&["put", &x, "--name", "x"], true);
    // Aim at the metadata database and the code cache: they are not under the storage root.
    for target in ["fs://metadata.db", "fs://metadata.db-wal", "fs://cache/evil.cwasm"] {
        h.json(&["put", &junk, "--name", &format!("evil-{target}").replace("fs://", ""), "--store", target, "--if-exists", "overwrite"], true);
    }
    assert_ne!(std::fs::read(h.store().join("metadata.db")).unwrap(), b"not a database");
    assert_eq!(h.json(&["get", "default/x"], true)["data"], serde_json::json!({"x": 1}));
    // Templates cannot name the content-addressed or index namespaces.
    let sx = put_x["meta"]["sha256"].as_str().unwrap();
    for target in [format!("fs://blobs/sha256/{}/{sx}", &sx[..2]), "fs://index/blobs/x".into(), "fs://blobs".into()] {
        let e = h.json(&["put", &y, "--name", "squat", "--store", &target], false);
        assert_eq!(e["error"]["kind"], "invalid-argument", "{target}: {e}");
    }
    // An object squatted at x's address by other means is replaced by the next put of x.
    let addr = h.objects().join(put_x["meta"]["storage"]["uri"].as_str().unwrap().strip_prefix("fs://").unwrap());
    std::fs::write(&addr, br#"{"y": 2}"#).unwrap();
    assert_eq!(h.json(&["get", "default/x"], false)["error"]["kind"], "integrity");
    h.json(&["put", &x, "--name", "x-again"], true);
    assert_eq!(std::fs::read(&addr).unwrap(), br#"{"x": 1}"#);
    assert_eq!(h.json(&["get", "default/x"], true)["data"], serde_json::json!({"x": 1}));
    // A damaged code cache entry is recompiled, never loaded.
    let cache = h.path().join("own-cache");
    let run = |args: &[&str]| h.command(args).env("ARTIFACT_CACHE_DIR", &cache).output().unwrap();
    assert!(run(&["head", "default/x"]).status.success());
    for (p, mut bytes) in files(&cache) {
        let i = bytes.len() / 2;
        bytes[i] ^= 0xff;
        std::fs::write(cache.join(p), bytes).unwrap();
    }
    let o = run(&["head", "default/x"]);
    assert!(o.status.success(), "a damaged cache entry broke the CLI: {}", String::from_utf8_lossy(&o.stderr));
    // A storage root that holds the store's own files is refused.
    let o = h.command(&["head", "default/x"]).env("ARTIFACT_STORAGE", format!("fs://{}", h.store().display())).output().unwrap();
    assert_eq!(outcome(&o), (2, Some("invalid-argument".into())), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_legacy_home_is_migrated_and_staging_leftovers_are_collected() {
    let h = Home::new();
    let f = h.write("a.json", b"[1, 2]");
    let put = h.json(&["put", &f, "--name", "a"], true);
    // Rebuild the pre-2026-12 layout: objects directly in the home.
    let objects = h.objects();
    for e in std::fs::read_dir(&objects).unwrap().flatten() {
        std::fs::rename(e.path(), h.store().join(e.file_name())).unwrap();
    }
    std::fs::remove_dir(&objects).unwrap();
    assert_eq!(h.json(&["get", "default/a"], true)["data"], serde_json::json!([1, 2]));
    assert!(objects.join(put["meta"]["storage"]["uri"].as_str().unwrap().strip_prefix("fs://").unwrap()).is_file());
    // A killed put's staging file: kept within the grace period, collected after it.
    let stale = objects.join(".staging/12345-dead-0");
    std::fs::write(&stale, vec![0u8; 1000]).unwrap();
    assert_eq!(h.json(&["gc"], true)["staging"], 0);
    assert!(stale.exists());
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(h.json(&["gc", "--grace", "1s"], true)["staging"], 1);
    assert!(!stale.exists());
    for bad in ["--grace=forever", "--grace=soon", "--grace=-1s", "--grace="] {
        assert_eq!(h.json(&["gc", bad], false)["error"]["kind"], "invalid-argument", "{bad}");
    }
}

// ---------------------------------------------------------------------------------------------
// JSON exactly as stored
// ---------------------------------------------------------------------------------------------

#[test]
fn json_comes_back_exactly_as_stored() {
    let h = Home::new();
    let deep = format!("{}\"bottom\"{}", "[".repeat(1000), "]".repeat(1000));
    let deep_obj = format!("{}1{}", "{\"k\":".repeat(1000), "}".repeat(1000));
    let corpus = [
        "0.42451918914251396",
        "[0.1, 1.0000000000000002, 2.2250738585072014e-308, 4.9406564584124654e-324]",
        "12345678901234567890123",
        "[-18446744073709551617, 18446744073709551616]",
        "[1e400, -1E-400, 1.0e+2]",
        r#"{"b": 1, "a": 2, "b": 3}"#,
        r#"{"z":{"y":{"x":[3,2,1]}},"a":null}"#,
        r#""\u00e9\ud83d\ude00 \u0000 \"quoted\" \/""#,
        "  [ 1 ,\n\t2 ]  ",
        &deep,
        &deep_obj,
    ];
    for (i, text) in corpus.iter().enumerate() {
        let f = h.write(&format!("c{i}.json"), text.as_bytes());
        let put = h.json(&["put", &f, "--name", &format!("c{i}")], true);
        let id = put["meta"]["id"].as_str().unwrap();
        for mode in ["json", "text"] {
            let o = h.cmd(&["get", id, "--mode", mode]);
            assert!(o.status.success(), "{i} {mode}: {}", String::from_utf8_lossy(&o.stderr));
            let out = String::from_utf8(o.stdout).unwrap();
            let data_json = match mode {
                "json" => text.to_string(),
                _ => serde_json::Value::String(text.to_string()).to_string(),
            };
            let prefix = format!("{{\"status\":\"success\",\"data\":{data_json},\"meta\":");
            assert!(out.starts_with(&prefix), "{i} {mode}: {:.200}", out);
        }
        // Streamed and -o reads are the raw bytes.
        let o = h.cmd(&["cat", id]);
        assert_eq!(o.stdout, text.as_bytes(), "{i}: cat");
    }
    // Manifest output carries the parts' text unchanged too (one line per part, so the parts
    // whose stored text has no line break).
    let one_line: Vec<usize> = (0..corpus.len()).filter(|i| !corpus[*i].contains('\n')).collect();
    let ids: Vec<String> = one_line.iter().map(|i| format!("default/c{i}")).collect();
    let mut args = vec!["manifest", "create", "--strategy", "append", "--name", "m"];
    args.extend(ids.iter().map(String::as_str));
    let m = h.json(&args, true);
    let o = h.cmd(&["manifest", "parts", m["meta"]["id"].as_str().unwrap(), "--mode", "json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), one_line.len());
    for (k, (line, i)) in lines.iter().zip(&one_line).enumerate() {
        let needle = format!("\"index\":{k},\"data\":{},\"meta\":", corpus[*i]);
        assert!(line.contains(&needle), "manifest part {k}: {:.200}", line);
    }
    // Not JSON: a typed decode error in json mode, never a panic.
    for (i, bad) in ["[1,]", "{\"a\"}", "[", "NaN", &"[".repeat(5000)].iter().enumerate() {
        let f = h.write(&format!("bad{i}.json"), bad.as_bytes());
        let put = h.json(&["put", &f, "--name", &format!("bad{i}")], true);
        let e = h.json(&["get", put["meta"]["id"].as_str().unwrap()], false);
        assert_eq!(e["error"]["kind"], "decode", "{bad:.20}: {e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile input: a typed error, exit 1, nothing changed
// ---------------------------------------------------------------------------------------------

#[test]
fn one_hundred_fifty_hostile_inputs_get_typed_errors_and_change_nothing() {
    let h = Home::new();
    let ok = h.write("ok.json", b"[1]");
    let seed = h.json(&["put", &ok, "--bucket", "b", "--name", "n"], true);
    let id = seed["meta"]["id"].as_str().unwrap().to_string();
    let zeros: Vec<u8> = vec![0; 4 << 20];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&zeros).unwrap();
    let bomb = h.path().join("bomb.gz");
    std::fs::write(&bomb, gz.finish().unwrap()).unwrap();
    let junk_gz = h.write("junk.gz", b"\x1f\x8b\x08\x00 definitely not deflate");
    let bomb = bomb.to_str().unwrap().to_string();
    let long_name = "n".repeat(1025);
    let long_bucket = "b".repeat(64);

    let mut cases: Vec<Vec<String>> = Vec::new();
    let mut add = |args: &[&str]| cases.push(args.iter().map(|s| s.to_string()).collect());
    // Refs.
    for r in [
        "", " ", "\t", "noetl://", "noetl:///", "noetl://x?y=1", "noetl://x#f", "noetl://%20/x", "noetl://a/%20",
        "http://x/y", "s3://b/k", "fs://blobs/x", "../../etc/passwd", "b/../x", "b/./x", "/abs", "b//x", "%", "\u{1}",
        "01ARZ3NDEKTSV4RRFFQ69G5FA", "01ARZ3NDEKTSV4RRFFQ69G5FAVX", "{", "{}", "[]", "{\"ref\": 5}", "{\"ref\": \"\"}",
        "{\"kind\":\"result_ref\",\"ref\":\"noetl://x?q\"}", "null", "B/n", "b", "b/", "noetl:x?y", "noetl://a/b#",
    ] {
        add(&["get", r]);
        add(&["head", r]);
    }
    // Ranges and caps.
    for range in ["abc", "5-1", "-", "--5", "1-2-3", "99999999999999999999-", "bytes=0-1", "+0-9", "1e3-5", " 1-2", "0x10-20", "4-"] {
        add(&["get", &id, "--range", range]);
    }
    add(&["get", &id, "--max-bytes", "1"]);
    add(&["get", &id, "--mode", "yaml"]);
    add(&["get", &id, "--max-bytes", "-1"]);
    // Templates.
    for t in [
        "fs://../x", "fs:///abs", "fs://blobs/x", "fs://index/x", "fs://a/{{ nope }}", "fs://a/{{ id", "fs://.staging/x",
        "zz://x/{{ id }}", "fs://a//b", "fs://a/./b", "fs://{{ name }}/..", "fs://{{ step }}", "fs://a\\b", "fs://",
        "s3://bucket/{{ id }}", "fs://a/{{ execution_id }}", "fs://blobs/{{ id }}", "fs://index",
    ] {
        add(&["put", &ok, "--store", t, "--name", "tpl"]);
    }
    // TTLs.
    for ttl in ["0", "-1s", "1y", "abc", "1000000000d", "99999999999999999999s", "1.5h", "", "1 d", "1d1h", "NaN"] {
        add(&["put", &ok, "--ttl", ttl, "--name", "ttl"]);
    }
    // Names and buckets.
    for name in ["../x", "/abs", "a//b", "a/./b", "a\\b", "\u{1}x", &long_name, "", ".", "..", "a/", "x\u{7f}"] {
        add(&["put", &ok, "--name", name]);
        add(&["find", "b", name]);
    }
    for bucket in ["Bad", "-x", "", &long_bucket, "a/b", "a b", "_x", "ü"] {
        add(&["put", &ok, "--bucket", bucket, "--name", "x"]);
        add(&["ls", bucket]);
        add(&["summary", bucket]);
    }
    // Other put options.
    for (k, v) in [("--content-type", ""), ("--created-by", ""), ("--execution-id", ""), ("--scope", "forever"), ("--compression", "zstd"), ("--if-exists", "maybe"), ("--max-bytes", "1")] {
        add(&["put", &ok, k, v, "--name", "opt"]);
    }
    // Precompressed bombs and lies.
    add(&["put", &bomb, "--precompressed", "--compression", "gzip", "--max-bytes", "1000", "--name", "bomb"]);
    add(&["put", &junk_gz, "--precompressed", "--compression", "gzip", "--name", "junk"]);
    add(&["put", &bomb, "--precompressed", "--compression", "deflate", "--name", "lie"]);
    add(&["put", &bomb, "--precompressed", "--name", "none"]);
    // Listing cursors.
    for c in ["x", "1.", ".01ARZ3NDEKTSV4RRFFQ69G5FAV", "-1.01ARZ3NDEKTSV4RRFFQ69G5FAV", "99999999999999999999.x"] {
        add(&["ls", "b", "--cursor", c]);
    }
    assert!(cases.len() >= 150, "{} cases", cases.len());

    let snapshot = |h: &Home| {
        let mut f = files(&h.objects());
        f.retain(|p, _| !p.starts_with(".staging"));
        (f, all_records(&h.runtime()))
    };
    let before = snapshot(&h);
    let typed = [
        "not-found", "invalid-ref", "invalid-argument", "too-large", "range-not-satisfiable", "decode", "integrity",
        "conflict", "usage",
    ];
    for args in &cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = h.cmd(&a);
        let code = o.status.code();
        // clap refuses some spellings before the store is opened (exit 2, "usage").
        let kind = outcome(&o).1.unwrap_or_else(|| if code == Some(2) { "usage".into() } else { String::new() });
        assert!(
            code == Some(artifact_host::exit::code(&kind)) && typed.contains(&kind.as_str()),
            "{a:?}: exit {code:?} kind {kind:?}\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    assert!(snapshot(&h) == before, "a refused command changed the store");
    assert_eq!(files(&h.objects().join(".staging")).len(), 0, "staging left behind");
}

// ---------------------------------------------------------------------------------------------
// Caps
// ---------------------------------------------------------------------------------------------

#[test]
fn a_text_get_between_128_and_256_mib_is_served_not_trapped() {
    let h = Home::new();
    let rt = h.runtime();
    let n = 150usize << 20;
    let line = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n";
    let data: Vec<u8> = line.iter().copied().cycle().take(n).collect();
    let put = rt
        .put(&data, &artifact_component::model::PutOptions { content_type: Some("text/plain".into()), ..Default::default() })
        .unwrap();
    let g = rt.get(&put.record.id, &GetOptions { mode: Some(Mode::Text), ..Default::default() }).unwrap();
    let Body::Text(t) = g.data else { panic!("text mode") };
    assert_eq!(t.len(), n);
    assert!(t.as_bytes() == &data[..]);
}

/// The same storm without process start-up in between, so operations on one object interleave
/// within milliseconds: two runtimes (two SQLite connections, as two processes have) shared by
/// four threads each, putting, overwriting and deleting the same two bodies under a few names
/// while `gc` runs. Without the claim protocol this leaves records whose object is gone.
#[test]
fn threads_of_two_runtimes_racing_on_the_same_bytes_lose_nothing() {
    let _heavy = crate::common::heavy();
    use artifact_component::model::{IfExists, PutOptions};
    let h = Home::new();
    let runtimes = [h.runtime(), h.runtime()];
    let bodies: Vec<Vec<u8>> = (0..2u8).map(|i| vec![b'a' + i; 5000 + i as usize]).collect();
    let known: BTreeSet<String> = bodies.iter().map(|b| sha(b)).collect();
    let failures = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let (rt, bodies, failures) = (&runtimes[(t % 2) as usize], &bodies, &failures);
            s.spawn(move || {
                let mut rng = Rng(0x1234_5678_9ABC_DEF1 ^ ((t + 1) * 0x9E37_79B9));
                for _ in 0..300 {
                    let name = format!("n{}", rng.below(3));
                    let body = &bodies[rng.below(2) as usize];
                    let r = match rng.below(10) {
                        0..=3 => rt.put(body, &PutOptions { bucket: Some("r".into()), name: Some(name), ..Default::default() }).map(drop),
                        4 | 5 => rt
                            .put(body, &PutOptions { bucket: Some("r".into()), name: Some(name), if_exists: Some(IfExists::Overwrite), ..Default::default() })
                            .map(drop),
                        6..=8 => rt.delete(&format!("r/{name}")).map(drop),
                        _ => rt.gc().map(drop),
                    };
                    if let Err(e) = r {
                        if !matches!(e.kind(), "not-found" | "conflict") {
                            failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            eprintln!("unexpected: {e}");
                        }
                    }
                }
            });
        }
    });
    assert_eq!(failures.into_inner(), 0, "operations failed with unexpected errors");
    let storage = artifact_host::storage::open(&format!("fs://{}", h.objects().display())).unwrap();
    assert_consistent(&runtimes[0], storage.as_ref(), "fs", &known, None);
}

/// Ids and claim tokens draw on the host's CSPRNG, `wasi:random/random`, not on std's
/// `RandomState` (seeded from `wasi:random/insecure-seed`, which a host may make deterministic).
#[test]
fn the_component_imports_wasi_random() {
    let mut graph = wac_graph::CompositionGraph::new();
    let pkg = wac_graph::types::Package::from_bytes(
        "artifact",
        None,
        artifact_host::runtime::EMBEDDED_COMPONENT.to_vec(),
        graph.types_mut(),
    )
    .unwrap();
    let world = pkg.ty();
    let imports = &graph.types()[world].imports;
    assert!(imports.keys().any(|k| k.starts_with("wasi:random/random@")), "{:?}", imports.keys());
}
