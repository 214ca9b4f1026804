//! The CLI details people expect: exit codes by error kind (the README's table), impossible
//! dates and the TTL bound, the content type `auto` picks, shell completions, and progress bars
//! drawn on stderr under a real pseudo-terminal while stdout stays JSON.

use crate::common::Home;
use artifact_host::exit;
use serde_json::Value;
use std::process::{Command, Output};

fn kind_and_code(o: &Output) -> (String, i32) {
    let kind = serde_json::from_slice::<Value>(&o.stdout)
        .ok()
        .and_then(|v| v["error"]["kind"].as_str().map(str::to_string))
        .unwrap_or_else(|| "usage".into());
    (kind, o.status.code().unwrap_or(-1))
}

fn put_id(h: &Home, args: &[&str]) -> String {
    h.json(args, true)["meta"]["id"].as_str().unwrap().to_string()
}

#[test]
fn exit_codes_by_error_kind() {
    let h = Home::new();
    let csv = h.write("a.csv", b"a,b\n1,2\n");
    let id = put_id(&h, &["put", &csv, "--name", "a.csv"]);
    let short = put_id(&h, &["put", &csv, "--name", "short.csv", "--ttl", "1ms"]);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let bin = h.write("d.bin", &[7u8; 5000]);
    let corrupt = put_id(&h, &["put", &bin, "--name", "d.bin"]);
    let blob = h.blob_files().into_iter().find(|p| std::fs::read(p).unwrap() == [7u8; 5000]).unwrap();
    std::fs::write(&blob, [8u8; 5000]).unwrap();
    let m = h.json(&["manifest", "create", &id, "--strategy", "concat"], true)["meta"]["id"].as_str().unwrap().to_string();

    let cases: &[(&[&str], &str, i32)] = &[
        (&["get", "01M84EG4VHHF84MF34ZRCQAC3P"], "not-found", 3),
        (&["find", "default", "missing.csv"], "not-found", 3),
        (&["get", "nope"], "invalid-ref", 2),
        (&["get", &id, "--mode", "json"], "decode", 2),
        (&["get", &id, "--mode", "bytes", "--range", "100-"], "range-not-satisfiable", 2),
        (&["put", &csv, "--ttl", "5y"], "invalid-argument", 2),
        (&["put", &csv, "--no-such-flag"], "usage", 2),
        (&["get", &short], "expired", 4),
        (&["manifest", "add", &m, &id], "conflict", 5),
        (&["put", &csv, "--name", "big.csv", "--max-bytes", "3"], "too-large", 6),
        (&["get", &corrupt, "--mode", "bytes"], "integrity", 7),
        (&["--metadata", "sqlite:///proc/no-such-dir/x.db", "ls"], "metadata", 9),
        (&["put", "no-such-file.csv"], "io", 9),
    ];
    for (args, want_kind, want_code) in cases {
        let o = h.cmd(args);
        let (kind, code) = kind_and_code(&o);
        assert_eq!((kind.as_str(), code), (*want_kind, *want_code), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(code, exit::code(&kind), "{args:?}: the table agrees");
    }
    // --quiet keeps stderr empty; stdout and the exit code still tell.
    let o = h.cmd(&["--quiet", "get", "01M84EG4VHHF84MF34ZRCQAC3P"]);
    assert_eq!(kind_and_code(&o), ("not-found".into(), 3));
    assert!(o.stderr.is_empty(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn impossible_dates_and_the_ttl_bound() {
    let h = Home::new();
    let csv = h.write("a.csv", b"a\n");
    h.json(&["put", &csv, "--name", "a.csv"], true);
    for bad in ["2025-02-31T00:00:00Z", "2025-02-29T00:00:00Z", "2025-04-31T00:00:00Z", "2025-13-01T00:00:00Z"] {
        let o = h.cmd(&["ls", "--since", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad} is not a date: {}", String::from_utf8_lossy(&o.stderr));
        assert!(String::from_utf8_lossy(&o.stderr).contains("invalid time"), "{bad}");
    }
    assert!(h.cmd(&["ls", "--since", "2024-02-29T00:00:00Z"]).status.success(), "a leap day is a date");
    // An expiry past year 9999 is refused (RFC 3339 has four-digit years) and stores nothing.
    let before = h.json(&["summary", "default"], true);
    let o = h.cmd(&["put", &csv, "--name", "b.csv", "--ttl", "1000000000d"]);
    assert_eq!(kind_and_code(&o), ("invalid-argument".into(), 2));
    assert_eq!(h.json(&["summary", "default"], true), before);
    // The largest TTLs that stay inside year 9999 work and print a valid RFC 3339 expiry.
    let v = h.json(&["put", &csv, "--name", "c.csv", "--ttl", "2000000d"], true);
    let exp = v["expires_at"].as_str().unwrap();
    assert!(exp.len() == 24 && exp.ends_with('Z'), "{exp}");
    artifact_component::time::parse_rfc3339(exp).unwrap();
}

#[test]
fn content_type_auto_is_the_default() {
    let h = Home::new();
    let ct = |args: &[&str], stdin: Option<&[u8]>| -> String {
        let mut c = h.command(args);
        c.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        {
            use std::io::Write;
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(stdin.unwrap_or_default()).unwrap();
        }
        let o = child.wait_with_output().unwrap();
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v["meta"]["content_type"].as_str().unwrap().to_string()
    };
    let json_noext = h.write("result", b" {\"rows\": [1, 2, 3]}\n");
    let text_noext = h.write("notes", b"just words\n");
    let big_json = h.write("big", format!("[{}0]", "1,".repeat(1 << 20)).as_bytes());
    let gz = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b"a,b\n1,2\n").unwrap();
        h.write("report.csv.gz", &e.finish().unwrap())
    };
    type Case<'a> = (Vec<&'a str>, Option<&'a [u8]>, &'a str); // args, stdin, content type
    let cases: Vec<Case> = vec![
        (vec!["put", h.write("r.csv", b"a,b\n").leak()], None, "text/csv"),
        (vec!["put", h.write("r.json", b"not json at all").leak()], None, "application/json"),
        (vec!["put", h.write("t.parquet", b"PAR1").leak()], None, "application/vnd.apache.parquet"),
        (vec!["put", json_noext.as_str()], None, "application/json"),
        (vec!["put", text_noext.as_str()], None, "application/octet-stream"),
        (vec!["put", big_json.as_str()], None, "application/json"),
        (vec!["put", "-"], Some(b"{\"a\":1}"), "application/json"),
        (vec!["put", "-"], Some(b"\x00\x01binary"), "application/octet-stream"),
        (vec!["put", "-", "--content-type", "text/plain"], Some(b"{\"a\":1}"), "text/plain"),
        (vec!["put", &gz, "--precompressed", "--compression", "gzip"], None, "text/csv"),
    ];
    for (args, stdin, want) in cases {
        assert_eq!(ct(&args, stdin), want, "{args:?}");
    }
    // The bytes read ahead to judge the body are stored, in order.
    let id = put_id(&h, &["put", big_json.as_str(), "--name", "big2"]);
    let o = h.cmd(&["get", &id, "--mode", "bytes"]);
    assert_eq!(o.stdout, std::fs::read(h.path().join("big")).unwrap());
    // upload guesses the same way.
    let dir = h.path().join("drop");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("x.csv"), "a\n").unwrap();
    std::fs::write(dir.join("y"), "[1]").unwrap();
    assert!(h.cmd(&["upload", dir.to_str().unwrap(), "--bucket", "drop", "--json"]).status.success());
    for (name, want) in [("x.csv", "text/csv"), ("y", "application/json")] {
        assert_eq!(h.json(&["find", "drop", name], true)["meta"]["content_type"], want, "{name}");
    }
}

#[test]
fn shell_completions() {
    let h = Home::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = h.cmd(&["completions", shell]);
        assert!(o.status.success(), "{shell}");
        let s = String::from_utf8(o.stdout).unwrap();
        assert!(s.contains("upload") && s.contains("manifest"), "{shell}: {s}");
    }
    assert_eq!(h.cmd(&["completions", "tcsh"]).status.code(), Some(2));
}

/// Runs `sh_line` under a pseudo-terminal (`script`), so stderr is a terminal; returns what was
/// drawn on the terminal.
fn under_pty(h: &Home, sh_line: &str) -> String {
    let artifact = env!("CARGO_BIN_EXE_artifact");
    let line = sh_line.replace("artifact ", &format!("'{artifact}' "));
    let o = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(h.path())
        .env("ARTIFACT_HOME", h.store())
        .env("ARTIFACT_CACHE_DIR", crate::common::cache_dir())
        .env_remove("ARTIFACT_STORAGE")
        .env_remove("ARTIFACT_METADATA")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("`script` (util-linux) is needed for this test: {e}"));
    assert!(o.status.success(), "{line}: {}", String::from_utf8_lossy(&o.stdout));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn progress_draws_on_stderr_and_stdout_stays_json() {
    let h = Home::new();
    let big: Vec<u8> = (0..(48u32 << 20)).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    std::fs::write(h.path().join("big.bin"), &big).unwrap();
    let tty = under_pty(&h, "artifact put big.bin --name big.bin > put.json");
    let v: Value = serde_json::from_slice(&std::fs::read(h.path().join("put.json")).unwrap()).unwrap();
    assert_eq!(v["meta"]["bytes"], big.len() as u64, "stdout is the JSON, whole");
    assert!(tty.contains("MiB"), "a byte progress bar was drawn on the terminal: {tty:?}");

    let tty = under_pty(&h, "artifact get default/big.bin --mode bytes -o out.bin > get.out");
    assert!(std::fs::read(h.path().join("out.bin")).unwrap() == big);
    assert!(tty.contains("MiB"), "get -o draws progress: {tty:?}");

    let tty = under_pty(&h, "artifact --quiet put big.bin --name quiet.bin > quiet.json");
    assert!(!tty.contains("MiB"), "--quiet draws nothing: {tty:?}");
    serde_json::from_slice::<Value>(&std::fs::read(h.path().join("quiet.json")).unwrap()).unwrap();

    // upload: one JSON object per line on stdout while the bar draws on the terminal.
    let dir = h.path().join("drop");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(h.path().join("big.bin"), dir.join("a.bin")).unwrap();
    std::fs::write(dir.join("b.txt"), "b\n").unwrap();
    let tty = under_pty(&h, "artifact upload drop --bucket drop --json > upload.jsonl");
    let lines = std::fs::read_to_string(h.path().join("upload.jsonl")).unwrap();
    let parsed: Vec<Value> = lines.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}"))).collect();
    assert_eq!(parsed.len(), 3, "two files and the summary: {lines}");
    assert!(tty.contains("MiB"), "upload draws progress: {tty:?}");
    // Without a terminal there is no bar at all.
    let o = h.cmd(&["put", "big.bin", "--name", "piped.bin"]);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("MiB"));
}
