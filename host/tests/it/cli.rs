//! End-to-end tests of the `artifact` binary on the embedded default store (filesystem blobs +
//! SQLite metadata), through the real `.wasm`. These are the foundation issue's acceptance checks.

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::process::Command;


use crate::common::{random_bytes, Home};

impl Home {
    /// Everything observable about the store: blob files with contents and the record count.
    fn snapshot(&self) -> (Vec<(PathBuf, Vec<u8>)>, u64) {
        let blobs = self.blob_files().into_iter().map(|p| {
            let d = std::fs::read(&p).unwrap();
            (p, d)
        });
        let db = self.path().join("store/metadata.db");
        let n = if db.exists() {
            let c = rusqlite::Connection::open(db).unwrap();
            c.query_row("SELECT COUNT(*) FROM artifacts", [], |r| r.get::<_, i64>(0)).unwrap() as u64
        } else {
            0
        };
        (blobs.collect(), n)
    }
}

fn sha256_hex(d: &[u8]) -> String {
    artifact_component::encoding::hex(&Sha256::digest(d))
}

fn id_of(put: &Value) -> String {
    put["meta"]["id"].as_str().unwrap().to_string()
}

#[test]
fn ten_mib_round_trip_and_head() {
    let h = Home::new();
    let data = random_bytes(10 << 20, 42);
    let f = h.write("r.bin", &data);
    let put = h.json(&["put", &f, "--content-type", "application/octet-stream"], true);
    assert_eq!(put["kind"], "result_ref");
    assert_eq!(put["created"], true);
    let id = id_of(&put);
    let out = h.path().join("out.bin");
    let o = h.cmd(&["get", &id, "--mode", "bytes", "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read(&out).unwrap() == data, "bytes differ");
    // Also to stdout.
    let o = h.cmd(&["get", &id, "--mode", "bytes"]);
    assert!(o.stdout == data);

    // head reports size and SHA-256 (as sha256sum computes it) without reading the body:
    // it still answers after the blob is gone.
    let expected = sha256_hex(&data);
    if let Ok(o) = Command::new("sha256sum").arg(&f).output() {
        assert!(String::from_utf8_lossy(&o.stdout).starts_with(&expected));
    }
    for blob in h.blob_files() {
        std::fs::remove_file(blob).unwrap();
    }
    let head = h.json(&["head", &id], true);
    assert_eq!(head["status"], "success");
    assert_eq!(head["meta"]["bytes"], 10 << 20);
    assert_eq!(head["meta"]["sha256"], expected);
    // ...while get now fails with a typed error.
    let g = h.json(&["get", &id, "--mode", "bytes", "-o", out.to_str().unwrap()], false);
    assert_eq!(g["error"]["kind"], "integrity", "a record whose object is lost: {g}");
    assert!(std::fs::read(&out).unwrap() == data, "a failed get must not clobber the output file");
}

#[test]
fn same_bytes_stored_once() {
    let h = Home::new();
    let f = h.write("a.json", br#"{"same": true}"#);
    let a = h.json(&["put", &f, "--name", "one"], true);
    let b = h.json(&["put", &f, "--name", "two"], true);
    assert_ne!(id_of(&a), id_of(&b));
    assert_eq!(a["meta"]["storage"]["uri"], b["meta"]["storage"]["uri"]);
    assert_eq!(h.blob_files().len(), 1);
    // Every ref form reaches the same artifact.
    let rr = serde_json::to_string(&a).unwrap();
    for r in [id_of(&a), a["ref"].as_str().unwrap().to_string(), "default/one".to_string(), rr] {
        let g = h.json(&["get", &r], true);
        assert_eq!(g["data"], serde_json::json!({"same": true}), "{r}");
    }
}

#[test]
fn modes_ranges_and_limits() {
    let h = Home::new();
    let j = h.write("v.json", br#"{"items":[1,2,3],"name":"x"}"#);
    let t = h.write("v.txt", b"plain text, not json");
    let jid = id_of(&h.json(&["put", &j], true));
    let tid = id_of(&h.json(&["put", &t, "--content-type", "text/plain"], true));
    let g = h.json(&["get", &jid, "--mode", "json"], true);
    assert_eq!(g["data"]["items"], serde_json::json!([1, 2, 3]));
    assert_eq!(g["meta"]["content_type"], "application/json");
    let e = h.json(&["get", &tid, "--mode", "json"], false);
    assert_eq!(e["status"], "error");
    assert_eq!(e["error"]["kind"], "decode");
    let g = h.json(&["get", &tid, "--mode", "text"], true);
    assert_eq!(g["data"], "plain text, not json");

    let big = random_bytes(100_000, 7);
    let f = h.write("big.bin", &big);
    for comp in ["none", "gzip"] {
        let id = id_of(&h.json(&["put", &f, "--compression", comp, "--content-type", "application/octet-stream"], true));
        let o = h.cmd(&["get", &id, "--mode", "bytes", "--range", "0-9"]);
        assert!(o.status.success());
        assert_eq!(o.stdout, &big[..10], "{comp}");
        let o = h.cmd(&["get", &id, "--mode", "bytes", "--range", "-5"]);
        assert_eq!(o.stdout, &big[big.len() - 5..], "{comp}");
        let e = h.json(&["get", &id, "--mode", "bytes", "--range", "100000-100010"], false);
        assert_eq!(e["error"]["kind"], "range-not-satisfiable", "{comp}");
        let e = h.json(&["get", &id, "--mode", "bytes", "--max-bytes", "1000"], false);
        assert_eq!(e["error"]["kind"], "too-large", "{comp}");
        let e = h.json(&["get", &id, "--max-bytes", "1000"], false);
        assert_eq!(e["error"]["kind"], "too-large", "{comp}");
    }
}

#[test]
fn flipped_byte_is_an_integrity_error() {
    for comp in ["none", "gzip"] {
        let h = Home::new();
        let f = h.write("d.bin", &random_bytes(50_000, 3));
        let id = id_of(&h.json(&["put", &f, "--compression", comp, "--content-type", "application/octet-stream"], true));
        let blob = h.blob_files().pop().unwrap();
        let mut d = std::fs::read(&blob).unwrap();
        let i = d.len() / 2;
        d[i] ^= 0x20;
        std::fs::write(&blob, d).unwrap();
        let e = h.json(&["get", &id, "--mode", "bytes", "-o", "x.bin"], false);
        assert_eq!(e["error"]["kind"], "integrity", "{comp}: {e}");
        assert!(!h.path().join("x.bin").exists(), "no partial output on integrity failure");
    }
}

#[test]
fn bad_input_is_typed_and_changes_nothing() {
    let h = Home::new();
    let f = h.write("ok.json", b"[1]");
    h.json(&["put", &f, "--bucket", "b", "--name", "n"], true);
    let before = h.snapshot();
    for (args, kind) in [
        (vec!["get", "not a ref"], "invalid-ref"),
        (vec!["get", "noetl://execution/%20/result/x/y"], "invalid-ref"),
        (vec!["get", "noetl://execution//result/x/y"], "not-found"),
        (vec!["head", "noetl://a?b"], "invalid-ref"),
        (vec!["get", "01ARZ3NDEKTSV4RRFFQ69G5FAV"], "not-found"),
        (vec!["head", "b/missing"], "not-found"),
        (vec!["put", "/definitely/not/here.json"], "io"),
        (vec!["put", &f, "--bucket", "Bad Bucket"], "invalid-argument"),
        (vec!["put", &f, "--name", "../escape"], "invalid-argument"),
        (vec!["put", &f, "--store", "fs://x/{{ nope }}"], "invalid-argument"),
        (vec!["put", &f, "--store", "s3://bucket/{{ id }}"], "invalid-argument"),
        (vec!["put", &f, "--max-bytes", "1"], "too-large"),
    ] {
        let e = h.json(&args, false);
        assert_eq!(e["status"], "error", "{args:?}");
        assert_eq!(e["error"]["kind"], kind, "{args:?}: {e}");
        assert!(e["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(h.snapshot(), before, "a failed command changed the store");
    assert_eq!(h.objects().join(".staging").read_dir().map(|d| d.count()).unwrap_or(0), 0, "staging left behind");
}

#[test]
fn stdin_and_get_or_create() {
    let h = Home::new();
    let run = |data: &[u8]| {
        use std::io::Write;
        let mut c = h
            .command(&["put", "-", "--bucket", "vendor_prices", "--name", "2026/prices.csv", "--content-type", "text/csv"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(data).unwrap();
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success());
        serde_json::from_slice::<Value>(&o.stdout).unwrap()
    };
    let a = run(b"a,b\n1,2\n");
    let b = run(b"different,body\n");
    assert_eq!(a["created"], true);
    assert_eq!(b["created"], false);
    assert_eq!(id_of(&a), id_of(&b));
    assert_eq!(h.blob_files().len(), 1);
    let g = h.json(&["get", "vendor_prices/2026/prices.csv", "--mode", "text"], true);
    assert_eq!(g["data"], "a,b\n1,2\n");
}
