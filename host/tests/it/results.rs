//! Workflow results by reference (issue 3), through the real `artifact` binary on the default
//! store (filesystem blobs + SQLite metadata): store templates, traversal refused before
//! anything is written, gzip interop with the system `gzip`, expiry and gc, `externalize`, and
//! every REF form in `get` and `head`.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};



/// The common home, with stdin piped to every run and failures required to exit 1.
struct Home(crate::common::Home);

impl std::ops::Deref for Home {
    type Target = crate::common::Home;
    fn deref(&self) -> &crate::common::Home {
        &self.0
    }
}

impl Home {
    fn new() -> Self {
        Home(crate::common::Home::new())
    }
    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut c = self.command(args);
        c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut pipe = child.stdin.take().unwrap();
        if let Some(d) = stdin {
            pipe.write_all(d).unwrap();
        }
        drop(pipe);
        child.wait_with_output().unwrap()
    }
    fn cmd(&self, args: &[&str]) -> Output {
        self.run(args, None)
    }
    /// Runs, asserts the exit code and parses stdout as JSON.
    fn json_in(&self, args: &[&str], stdin: Option<&[u8]>, ok: bool) -> Value {
        let o = self.run(args, stdin);
        let v = crate::common::json_of(args, &o, ok);
        if !ok {
            let kind = v["error"]["kind"].as_str().unwrap_or_default();
            assert_eq!(o.status.code(), Some(artifact_host::exit::code(kind)), "{args:?}: exit code of {kind}");
        }
        v
    }
    fn json(&self, args: &[&str], ok: bool) -> Value {
        self.json_in(args, None, ok)
    }
    /// Every file under the working directory except the SQLite files, with contents, and the
    /// number of artifact records. Covers the home, the staging area and anything a template
    /// could have escaped to beside the home.
    fn snapshot(&self) -> (Vec<(PathBuf, Vec<u8>)>, u64) {
        fn walk(p: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
            for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
                let path = e.path();
                let name = e.file_name().to_string_lossy().into_owned();
                if path.is_dir() {
                    walk(&path, out);
                } else if !name.starts_with("metadata.db") {
                    let d = std::fs::read(&path).unwrap();
                    out.push((path, d));
                }
            }
        }
        let mut files = Vec::new();
        walk(self.path(), &mut files);
        files.sort();
        let db = self.store().join("metadata.db");
        let n = if db.exists() {
            let c = rusqlite::Connection::open(db).unwrap();
            c.query_row("SELECT COUNT(*) FROM artifacts", [], |r| r.get::<_, i64>(0)).unwrap() as u64
        } else {
            0
        };
        (files, n)
    }
    /// The file behind an `fs://` object URI.
    fn object(&self, uri: &str) -> PathBuf {
        self.objects().join(uri.strip_prefix("fs://").unwrap())
    }
}

fn sha256_hex(d: &[u8]) -> String {
    Sha256::digest(d).iter().map(|b| format!("{b:02x}")).collect()
}

fn id_of(put: &Value) -> String {
    put["meta"]["id"].as_str().unwrap().to_string()
}

/// A few hundred KiB of JSON that compresses well but not trivially.
fn sample_json(n: usize) -> Vec<u8> {
    let rows: Vec<Value> = (0..n).map(|i| json!({"i": i, "sku": format!("SKU-{:06}", i * 7919 % 1_000_003), "ok": i % 3 == 0})).collect();
    serde_json::to_vec(&json!({"rows": rows, "count": n})).unwrap()
}

#[test]
fn template_stores_standard_gzip_at_the_rendered_path() {
    let h = Home::new();
    let data = sample_json(2000);
    let f = h.write("result.json", &data);
    let tpl = "fs://results/{{ execution_id }}/{{ step }}/{{ name }}.json.gz";
    let put = h.json(
        &["put", &f, "--store", tpl, "--execution-id", "E", "--step", "S", "--name", "N", "--compression", "gzip"],
        true,
    );
    assert_eq!(put["meta"]["storage"]["uri"], "fs://results/E/S/N.json.gz");
    assert_eq!(put["meta"]["compression"], "gzip");
    assert_eq!(put["meta"]["sha256"], sha256_hex(&data), "SHA-256 of the logical bytes");
    assert!(put["ref"].as_str().unwrap().starts_with("noetl://execution/E/result/N/"), "{}", put["ref"]);
    let path = h.objects().join("results/E/S/N.json.gz");
    assert!(path.is_file(), "{} exists", path.display());
    let stored = std::fs::read(&path).unwrap();
    assert!(stored.len() < data.len(), "stored compressed");
    // Standard RFC 1952: the system gzip reads it.
    let o = Command::new("gzip").arg("-dc").arg(&path).output().expect("the system gzip runs");
    assert!(o.status.success(), "gzip -dc: {}", String::from_utf8_lossy(&o.stderr));
    assert!(o.stdout == data, "gzip -dc gives the input back");
    // And it reads back through the component.
    let out = h.path().join("back.json");
    let o = h.cmd(&["get", &id_of(&put), "--mode", "bytes", "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read(&out).unwrap() == data);
}

#[test]
fn traversal_unknown_variables_and_bad_drivers_write_nothing() {
    let h = Home::new();
    let f = h.write("r.json", br#"{"x":1}"#);
    // A first artifact, so the store exists and the snapshot covers a live database.
    h.json(&["put", &f, "--name", "first"], true);
    let before = h.snapshot();
    assert_eq!(before.1, 1);
    let cases: &[(&str, &[&str])] = &[
        ("fs://results/{{ execution_id }}/x.json", &["--execution-id", ".."]),
        ("fs://results/{{ execution_id }}/{{ step }}.json", &["--execution-id", "..", "--step", ".."]),
        ("fs://results/{{ name }}.json", &["--name", "../../escaped"]),
        ("fs://../escaped/{{ name }}.json", &["--name", "n"]),
        ("fs://results/../../escaped.json", &[]),
        ("fs:///tmp/escaped-{{ name }}.json", &["--name", "n"]),
        ("fs://{{ execution_id }}/x.json", &["--execution-id", "/etc"]),
        ("fs://results/{{ nope }}/x.json", &[]),
        ("fs://results/{{ execution_id }}/x.json", &[]),
        ("fs://results/{{ step }}/x.json", &["--step", ""]),
        ("nosuchdriver://results/{{ name }}.json", &["--name", "n"]),
    ];
    for (tpl, extra) in cases {
        let mut args = vec!["put", f.as_str(), "--store", tpl];
        args.extend_from_slice(extra);
        let e = h.json(&args, false);
        assert_eq!(e["status"], "error", "{tpl} {extra:?}");
        assert_eq!(e["error"]["kind"], "invalid-argument", "{tpl} {extra:?}: {e}");
        assert!(h.snapshot() == before, "{tpl} {extra:?}: the store changed");
    }
    assert!(!Path::new("/tmp/escaped-n.json").exists());
}

#[test]
fn system_gzip_blob_registered_as_precompressed_reads_back() {
    let h = Home::new();
    let data = sample_json(3000);
    let f = h.write("prices.json", &data);
    let gz = h.path().join("prices.json.gz");
    let st = Command::new("gzip")
        .arg("-c")
        .arg(&f)
        .stdout(std::fs::File::create(&gz).unwrap())
        .status()
        .expect("the system gzip runs");
    assert!(st.success());
    let gz_bytes = std::fs::read(&gz).unwrap();
    let put = h.json(&["put", gz.to_str().unwrap(), "--compression", "gzip", "--precompressed"], true);
    assert_eq!(put["meta"]["sha256"], sha256_hex(&data), "SHA-256 of the uncompressed bytes");
    assert_eq!(put["meta"]["bytes"], data.len());
    assert_eq!(put["meta"]["stored_bytes"], gz_bytes.len());
    assert_eq!(put["meta"]["compression"], "gzip");
    let blob = h.object(put["meta"]["storage"]["uri"].as_str().unwrap());
    assert!(std::fs::read(blob).unwrap() == gz_bytes, "the blob is gzip's output, as it was");
    let out = h.path().join("back.json");
    let o = h.cmd(&["get", &id_of(&put), "--mode", "bytes", "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let back = std::fs::read(&out).unwrap();
    assert!(back == data, "byte-identical to the uncompressed file");
    assert_eq!(sha256_hex(&back), sha256_hex(&data));
    // A range addresses the logical bytes.
    let g = h.json(&["get", &id_of(&put), "--mode", "text", "--range", "0-7"], true);
    assert_eq!(g["data"], String::from_utf8_lossy(&data[..8]).as_ref());
}

#[test]
fn expired_artifacts_cannot_be_read_and_gc_removes_only_them() {
    let h = Home::new();
    let short = h.write("short.json", br#"{"lives":"briefly"}"#);
    let long = h.write("long.json", br#"{"lives":"long"}"#);
    let templated = h.write("tpl.json", br#"{"lives":"at a template path"}"#);
    let gone = h.json(&["put", &short, "--ttl", "1s", "--execution-id", "E", "--step", "s"], true);
    assert!(gone["expires_at"].is_string(), "{gone}");
    let kept = h.json(&["put", &long, "--ttl", "1d"], true);
    let tpl = h.json(&["put", &templated, "--store", "fs://results/{{ name }}.json", "--name", "kept"], true);
    std::thread::sleep(std::time::Duration::from_millis(1500));

    let gone_id = id_of(&gone);
    let e = h.json(&["get", &gone_id], false);
    assert_eq!(e["error"]["kind"], "expired", "{e}");
    let e = h.json(&["get", gone["ref"].as_str().unwrap(), "--mode", "bytes"], false);
    assert_eq!(e["error"]["kind"], "expired", "{e}");

    let gone_blob = h.object(gone["meta"]["storage"]["uri"].as_str().unwrap());
    let (before, n) = h.snapshot();
    assert_eq!(n, 3);
    let report = h.runtime().gc().unwrap();
    assert_eq!(report.records, vec![gone_id.clone()]);
    assert_eq!(report.blobs, vec![gone["meta"]["storage"]["uri"].as_str().unwrap().to_string()]);
    let (after, n) = h.snapshot();
    assert_eq!(n, 2);
    let gone_index = h.object(&format!("fs://index/{}", gone["meta"]["storage"]["uri"].as_str().unwrap().strip_prefix("fs://").unwrap()));
    let expected: Vec<_> = before.into_iter().filter(|(p, _)| *p != gone_blob && *p != gone_index).collect();
    assert!(after == expected, "gc removed the expired blob (and its chunk index) and nothing else");
    assert!(!gone_blob.exists());

    assert_eq!(h.json(&["get", &gone_id], false)["error"]["kind"], "not-found");
    for p in [&kept, &tpl] {
        let g = h.json(&["get", &id_of(p)], true);
        assert_eq!(g["meta"]["sha256"], p["meta"]["sha256"]);
    }
    // A second gc finds nothing.
    let again = h.runtime().gc().unwrap();
    assert!(again.records.is_empty() && again.blobs.is_empty(), "{again:?}");
}

#[test]
fn externalize_under_and_over_the_threshold() {
    let h = Home::new();
    let text = "{\"status\":\"ok\",\"data\":{\"items\":[{\"id\":7},{\"id\":8}],\"count\": 2}}";
    let f = h.write("result.json", format!("  {text}\n").as_bytes());
    let sel = ["--select", "data.count", "--select", "data.items[1].id", "--select", "missing.path"];

    // Under the threshold: the exact text comes back inline, nothing is stored.
    let mut args = vec!["externalize", f.as_str()];
    args.extend_from_slice(&sel);
    let o = h.run(&args, None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let line = String::from_utf8(o.stdout).unwrap();
    assert!(line.contains(&format!("\"inline\":{text}")), "inline keeps the exact text: {line}");
    let x: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(x["status"], "success");
    assert!(x.get("ref").is_none() && x.get("error").is_none(), "{x}");
    assert_eq!(x["preview"], serde_json::from_str::<Value>(text).unwrap());
    assert_eq!(x["extracted"], json!({"count": 2, "id": 8}));
    assert_eq!(h.snapshot().1, 0, "nothing stored");

    // Over it (from stdin): a ResultRef, a preview and the selected fields, never the payload.
    let big = sample_json(3000);
    let mut args = vec!["externalize", "-", "--inline-max-bytes", "1024", "--preview-max-bytes", "256"];
    args.extend_from_slice(&["--select", "count", "--select", "rows[2].sku", "--execution-id", "E", "--step", "fetch"]);
    let x = h.json_in(&args, Some(&big), true);
    assert!(x.get("inline").is_none(), "no inline payload");
    let rr = &x["ref"];
    assert_eq!(rr["kind"], "result_ref");
    assert!(rr["ref"].as_str().unwrap().starts_with("noetl://execution/E/result/"), "{rr}");
    assert_eq!(rr["meta"]["bytes"], big.len());
    assert_eq!(rr["meta"]["sha256"], sha256_hex(&big));
    assert_eq!(x["extracted"], json!({"count": 3000, "sku": "SKU-015838"}));
    assert_eq!(rr["extracted"], x["extracted"]);
    assert!(serde_json::to_string(&x["preview"]).unwrap().len() <= 256, "bounded preview");
    assert!(x["preview"].to_string().contains("_truncated"), "{}", x["preview"]);
    let g = h.json(&["get", &rr.to_string()], true);
    assert_eq!(g["data"], serde_json::from_slice::<Value>(&big).unwrap());

    // Storing fails: preview and selected fields with the error, exit 1, nothing written.
    let before = h.snapshot();
    let args = ["externalize", "-", "--inline-max-bytes", "8", "--select", "count", "--store", "nosuchdriver"];
    let x = h.json_in(&args, Some(br#"{"count": 5, "pad": "xxxxxxxx"}"#), false);
    assert_eq!(x["status"], "error");
    assert_eq!(x["error"]["kind"], "invalid-argument", "{x}");
    assert!(x.get("inline").is_none() && x.get("ref").is_none(), "{x}");
    assert_eq!(x["extracted"], json!({"count": 5}));
    assert_eq!(x["preview"]["count"], 5);
    assert!(h.snapshot() == before, "nothing written");

    // Not JSON: a decode error.
    let x = h.json_in(&["externalize", "-"], Some(b"not json"), false);
    assert_eq!(x["error"]["kind"], "decode", "{x}");
}

#[test]
fn every_ref_form_works_in_get_and_head() {
    let h = Home::new();
    let body = br#"{"quarter":"q1","total":1234.5}"#;
    let f = h.write("q1.json", body);
    let in_exec = h.json(&["put", &f, "--bucket", "reports", "--name", "2026/q1 final.json", "--execution-id", "E9", "--step", "sum"], true);
    let plain = h.json(&["put", &f, "--bucket", "vendor", "--name", "2026/q1.json", "--content-type", "text/plain"], true);
    let want: Value = serde_json::from_slice(body).unwrap();

    for (put, bucket_name) in [(&in_exec, "reports/2026/q1 final.json"), (&plain, "vendor/2026/q1.json")] {
        let id = id_of(put);
        let uri = put["ref"].as_str().unwrap();
        // NoETL's own shape: no `created`, meta without our extra fields, and unknown fields.
        let noetl = json!({
            "kind": "temp_ref",
            "ref": uri,
            "store": "kv",
            "scope": "execution",
            "expires_at": null,
            "meta": {
                "content_type": put["meta"]["content_type"],
                "bytes": put["meta"]["bytes"],
                "sha256": put["meta"]["sha256"],
                "compression": "none",
                "encoding": "utf-8",
                "created_at": put["meta"]["created_at"],
                "worker_pool": "cpu-01"
            },
            "preview": {"quarter": "q1"},
            "extracted": {"total": 1234.5},
            "event_id": 812734,
            "_noetl": {"version": "2.4", "trace": ["a", "b"]}
        });
        let forms = [put.to_string(), noetl.to_string(), uri.to_string(), bucket_name.to_string(), id.clone()];
        for r in &forms {
            let g = h.json(&["get", r, "--mode", "text"], true);
            assert_eq!(serde_json::from_str::<Value>(g["data"].as_str().unwrap()).unwrap(), want, "get {r}");
            assert_eq!(g["meta"]["id"], id.as_str(), "get {r}");
            let hd = h.json(&["head", r], true);
            assert_eq!(hd["status"], "success");
            assert_eq!(hd["meta"]["id"], id.as_str(), "head {r}");
            assert_eq!(hd["meta"]["sha256"], sha256_hex(body), "head {r}");
        }
    }
    assert!(in_exec["ref"].as_str().unwrap().starts_with("noetl://execution/E9/result/2026%2Fq1%20final.json/"));
    assert!(plain["ref"].as_str().unwrap().starts_with("noetl://artifact/vendor/2026%2Fq1.json/"));

    // A ResultRef whose digest does not match the artifact is refused, not silently served.
    let mut lying = in_exec.clone();
    lying["meta"]["sha256"] = json!(sha256_hex(b"something else"));
    for cmd in ["get", "head"] {
        let e = h.json(&[cmd, &lying.to_string()], false);
        assert_eq!(e["error"]["kind"], "integrity", "{cmd}: {e}");
    }
    // Malformed forms are invalid-ref; well-formed ones that name nothing are not-found (NoETL's
    // parser drops empty segments, so `//` is well-formed; a blank segment is not).
    for (r, kind) in [
        ("noetl://execution/E9//x", "not-found"),
        ("noetl://execution/E9/%20/x", "invalid-ref"),
        ("noetl://execution/E9/result/x/id?x=1", "invalid-ref"),
        ("s3://bucket/key", "invalid-ref"),
        ("reports/2026/none.json", "not-found"),
        ("01ARZ3NDEKTSV4RRFFQ69G5FAV", "not-found"),
    ] {
        assert_eq!(h.json(&["get", r], false)["error"]["kind"], kind, "get {r}");
        assert_eq!(h.json(&["head", r], false)["error"]["kind"], kind, "head {r}");
    }
}
