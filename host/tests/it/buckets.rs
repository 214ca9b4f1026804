//! Buckets and names (issue 5): get-or-create under concurrency (threads and processes),
//! directory drops, stable paging under inserts, clear errors, and blob release on `rm`.
//! Everything runs on the real default backends (filesystem blobs + SQLite) through the real
//! `.wasm`, via the `artifact` binary or `artifact_host::Runtime`.

use artifact_component::model::{ListQuery, Order, PutOptions};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};


use crate::common::Home;

impl Home {
    /// Runs, asserts the exit status, returns stdout.
    fn ok(&self, args: &[&str], ok: bool) -> (String, String) {
        let o = self.cmd(args);
        let (out, err) = (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned());
        assert_eq!(o.status.success(), ok, "{args:?}: status {:?}\nstdout {out}\nstderr {err}", o.status);
        (out, err)
    }
    fn record_count(&self) -> u64 {
        let c = rusqlite::Connection::open(self.store().join("metadata.db")).unwrap();
        c.query_row("SELECT COUNT(*) FROM artifacts", [], |r| r.get::<_, i64>(0)).unwrap() as u64
    }
}

fn named(bucket: &str, name: &str) -> PutOptions {
    PutOptions {
        bucket: Some(bucket.into()),
        name: Some(name.into()),
        content_type: Some("text/plain".into()),
        ..Default::default()
    }
}

fn assert_sync<T: Send + Sync>(_: &T) {}

#[test]
fn thirty_two_threads_racing_one_pair_get_one_artifact_and_one_blob() {
    let h = Home::new();
    let rt = h.runtime();
    assert_sync(&rt);
    let n = 32;
    let barrier = Barrier::new(n);
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (rt, barrier) = (&rt, &barrier);
                s.spawn(move || {
                    let body = format!("body of racer {i}\n").repeat(1000);
                    barrier.wait();
                    let p = rt.put(body.as_bytes(), &named("vendor_prices", "race/one.txt")).unwrap();
                    (body, p)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ids: HashSet<_> = results.iter().map(|(_, p)| p.record.id.clone()).collect();
    assert_eq!(ids.len(), 1, "every racer must get the same artifact: {ids:?}");
    let created: Vec<_> = results.iter().filter(|(_, p)| p.created).collect();
    assert_eq!(created.len(), 1, "exactly one racer creates");
    assert_eq!(results.iter().filter(|(_, p)| !p.created).count(), n - 1);
    assert_eq!(h.record_count(), 1);
    let blobs = h.blob_files();
    assert_eq!(blobs.len(), 1, "losers' blobs must not stay behind: {blobs:?}");
    // The pair reads back as the winner's body, verified.
    let winner = &created[0].0;
    let o = h.cmd(&["cat", "vendor_prices/race/one.txt"]);
    assert!(o.status.success());
    assert!(o.stdout == winner.as_bytes(), "cat returned another racer's body");
    assert!(std::fs::read(&blobs[0]).unwrap() == winner.as_bytes());
}

#[test]
fn eight_put_processes_on_one_pair_make_one_record() {
    let h = Home::new();
    // Warm the store (schema, cache) so the race is about the pair, not about creating the db.
    h.ok(&["summary", "drops"], true);
    let files: Vec<String> = (0..8)
        .map(|i| {
            let p = h.path().join(format!("in{i}.csv"));
            std::fs::write(&p, format!("price,{i}\n")).unwrap();
            p.to_str().unwrap().to_string()
        })
        .collect();
    let outs = crate::common::run_concurrently(
        files.iter().map(|f| h.command(&["put", f, "--bucket", "drops", "--name", "prices.csv", "--content-type", "auto"])),
    );
    let ids: HashSet<_> = outs.iter().map(|v| v["meta"]["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(outs.iter().filter(|v| v["created"] == true).count(), 1);
    assert_eq!(h.record_count(), 1);
    assert_eq!(h.blob_files().len(), 1);
    assert_eq!(h.json(&["summary", "drops"], true)["count"], 1);
}

/// A vendor drop: 50 files, two of them in a subfolder.
fn make_drop(dir: &Path) {
    std::fs::create_dir_all(dir.join("2026/03")).unwrap();
    for i in 0..48 {
        std::fs::write(dir.join(format!("VectorAnalitico_2026_01_{i:02}.xls")), format!("xls {i}")).unwrap();
    }
    std::fs::write(dir.join("2026/03/prices.csv"), "a,b\n1,2\n").unwrap();
    std::fs::write(dir.join("2026/03/notes.txt"), "notes").unwrap();
}

#[test]
fn upload_twice_uploads_fifty_then_skips_fifty() {
    let h = Home::new();
    let drop = h.path().join("drop");
    make_drop(&drop);
    let d = drop.to_str().unwrap();
    let (out, _) = h.ok(&["upload", d, "--bucket", "vendor_prices", "--created-by", "nightly-prices-job"], true);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.last(), Some(&"uploaded 50, skipped 0, failed 0"), "{out}");
    // Plain lines (stdout is not a terminal), in name order.
    assert!(lines[0].starts_with("uploaded 2026/03/notes.txt "), "{out}");
    assert!(lines[1].starts_with("uploaded 2026/03/prices.csv "), "{out}");
    assert!(lines[2].starts_with("uploaded VectorAnalitico_2026_01_00.xls "), "{out}");
    assert_eq!(h.record_count(), 50);

    let (out, _) = h.ok(&["upload", d, "--bucket", "vendor_prices"], true);
    assert_eq!(out.lines().last(), Some("uploaded 0, skipped 50, failed 0"), "{out}");
    assert_eq!(out.lines().filter(|l| l.starts_with("skipped ")).count(), 50);
    assert_eq!(h.record_count(), 50);

    // A new file in the drop is the only one uploaded; --json reports per file.
    std::fs::write(drop.join("VectorAnalitico_2026_03_15.xls"), "new").unwrap();
    let (out, _) = h.ok(&["upload", d, "--bucket", "vendor_prices", "--glob", "VectorAnalitico*.xls", "--json"], true);
    let objs: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(objs.len(), 50, "49 files match, plus the summary");
    let last = objs.last().unwrap();
    assert_eq!((last["uploaded"].as_u64(), last["skipped"].as_u64(), last["failed"].as_u64()), (Some(1), Some(48), Some(0)));
    assert!(objs.iter().any(|o| o["status"] == "uploaded" && o["name"] == "VectorAnalitico_2026_03_15.xls"));

    // find / cat / ls / summary on what the drop produced.
    let f = h.json(&["find", "vendor_prices", "2026/03/prices.csv"], true);
    assert_eq!(f["meta"]["content_type"], "text/csv");
    assert_eq!(f["meta"]["created_by"], "nightly-prices-job");
    assert_eq!(h.json(&["find", "vendor_prices", "VectorAnalitico_2026_01_07.xls"], true)["meta"]["content_type"], "application/vnd.ms-excel");
    let o = h.cmd(&["cat", "vendor_prices/2026/03/prices.csv"]);
    assert_eq!(o.stdout, b"a,b\n1,2\n");
    let s = h.json(&["summary", "vendor_prices"], true);
    assert_eq!(s["count"], 51);
    let (out, _) = h.ok(&["ls", "vendor_prices", "--prefix", "2026/", "--json"], true);
    let names: Vec<String> = out.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"2026/03/prices.csv".to_string()));
    let (out, _) = h.ok(&["ls", "vendor_prices", "--created-by", "nightly-prices-job", "--json", "--all", "--limit", "7"], true);
    assert_eq!(out.lines().count(), 50, "created_by filter across pages");
    let (out, _) = h.ok(&["ls", "vendor_prices", "--since", "2999-01-01T00:00:00Z", "--json"], true);
    assert_eq!(out, "");
    let (out, _) = h.ok(&["ls", "vendor_prices", "--since", "1h", "--newest", "--limit", "3"], true);
    assert!(out.starts_with("CREATED"), "a table without --json: {out}");
    assert_eq!(out.lines().count(), 5, "header, 3 rows, next cursor: {out}");
    assert!(out.lines().nth(1).unwrap().ends_with("vendor_prices/VectorAnalitico_2026_03_15.xls"), "{out}");
    assert!(out.lines().last().unwrap().starts_with("next page: --cursor "), "{out}");
}

#[test]
fn ls_pages_through_a_thousand_exactly_once_while_others_are_inserted() {
    let h = Home::new();
    let rt = h.runtime();
    let mut originals = HashSet::new();
    for i in 0..1000 {
        let p = rt.put(format!("{i}").as_bytes(), &named("paging", &format!("orig/{i:04}"))).unwrap();
        originals.insert(p.record.id);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let inserter = {
        let (rt, stop) = (h.runtime(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                rt.put(format!("new {n}").as_bytes(), &named("paging", &format!("new/{n:05}"))).unwrap();
                n += 1;
            }
            n
        })
    };
    let originals_seen = |seen: &HashMap<String, u32>| seen.keys().filter(|id| originals.contains(*id)).count();
    // Through the binary, oldest first: new artifacts land after the cursor.
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args = vec!["ls", "paging", "--limit", "100", "--json"];
        if let Some(c) = &cursor {
            args.extend(["--cursor", c.as_str()]);
        }
        let (out, _) = h.ok(&args, true);
        pages += 1;
        cursor = None;
        for l in out.lines() {
            let v: Value = serde_json::from_str(l).unwrap();
            match v.get("next_cursor") {
                Some(c) => cursor = Some(c.as_str().unwrap().to_string()),
                None => *seen.entry(v["id"].as_str().unwrap().to_string()).or_default() += 1,
            }
        }
        // Stop once every original was listed (the inserter keeps the tail growing).
        if cursor.is_none() || originals_seen(&seen) == originals.len() {
            break;
        }
        assert!(pages < 200, "paging does not end");
    }
    assert!(seen.values().all(|&n| n == 1), "an artifact was listed twice");
    assert_eq!(originals_seen(&seen), 1000);
    // Through the library, newest first: new artifacts land before the cursor.
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut q = ListQuery { bucket: Some("paging".into()), order: Order::NewestFirst, limit: 100, ..Default::default() };
    loop {
        let page = rt.list(&q).unwrap();
        assert!(page.records.len() <= 100);
        for r in page.records {
            *seen.entry(r.id).or_default() += 1;
        }
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    stop.store(true, Ordering::Relaxed);
    let inserted = inserter.join().unwrap();
    assert!(seen.values().all(|&n| n == 1), "an artifact was listed twice");
    assert_eq!(originals_seen(&seen), 1000);
    assert!(inserted > 0, "the inserter never ran concurrently");
    eprintln!("paged 1000 originals while {inserted} artifacts were inserted");
}

#[test]
fn bad_input_gives_clear_messages_and_exit_1() {
    let h = Home::new();
    let f = h.path().join("x.txt");
    std::fs::write(&f, "x").unwrap();
    let f = f.to_str().unwrap();
    let drop = h.path().join("drop");
    std::fs::create_dir_all(&drop).unwrap();
    std::fs::write(drop.join("a.csv"), "1").unwrap();
    let d = drop.to_str().unwrap();

    // Bad bucket, everywhere a bucket is taken.
    for args in [
        vec!["put", f, "--bucket", "Vendor Prices"],
        vec!["upload", d, "--bucket", "Vendor Prices"],
        vec!["ls", "Vendor Prices"],
        vec!["find", "Vendor Prices", "a.csv"],
        vec!["summary", "UPPER"],
    ] {
        let (out, err) = h.ok(&args, false);
        assert!(err.contains("invalid bucket"), "{args:?}: {err}");
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["error"]["kind"], "invalid-argument", "{args:?}");
    }
    // Bad name.
    for args in [vec!["put", f, "--bucket", "b", "--name", "a//b"], vec!["find", "b", "../x"]] {
        let (_, err) = h.ok(&args, false);
        assert!(err.contains("invalid name"), "{args:?}: {err}");
    }
    let (_, err) = h.ok(&["cat", "b/a\\b"], false);
    assert!(err.contains("invalid name"), "{err}");
    // Not found.
    let (_, err) = h.ok(&["find", "b", "nothing.csv"], false);
    assert!(err.contains("not-found") && err.contains("b/nothing.csv"), "{err}");
    // A glob matching nothing, a missing directory, a file given as the directory.
    let (_, err) = h.ok(&["upload", d, "--bucket", "b", "--glob", "VectorAnalitico*.xls"], false);
    assert!(err.contains("no file under") && err.contains("VectorAnalitico*.xls"), "{err}");
    let (_, err) = h.ok(&["upload", "no-such-dir", "--bucket", "b"], false);
    assert!(err.contains("cannot read directory no-such-dir"), "{err}");
    let (_, err) = h.ok(&["upload", f, "--bucket", "b"], false);
    assert!(err.contains("is not a directory"), "{err}");
    assert_eq!(h.json(&["summary", "b"], true)["count"], 0, "nothing was stored by failed commands");

    // put on a directory and on a dangling link.
    let dangling = h.path().join("dangling.csv");
    std::os::unix::fs::symlink(h.path().join("gone.csv"), &dangling).unwrap();
    let (_, err) = h.ok(&["put", d, "--bucket", "b"], false);
    assert!(err.contains("is a directory") && err.contains(d), "{err}");
    let (_, err) = h.ok(&["put", dangling.to_str().unwrap(), "--bucket", "b"], false);
    assert!(err.contains("dangling symbolic link"), "{err}");

    // Unreadable entries in a drop fail one by one; the rest is uploaded; exit code 1.
    std::os::unix::fs::symlink(h.path().join("gone.csv"), drop.join("b_dangling.csv")).unwrap();
    let _sock = std::os::unix::net::UnixListener::bind(drop.join("c.sock")).unwrap();
    let locked = drop.join("d_locked.csv");
    std::fs::write(&locked, "secret").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let root = std::fs::File::open(&locked).is_ok(); // root reads anything
    std::fs::write(drop.join("e.csv"), "5").unwrap();
    let (out, err) = h.ok(&["upload", d, "--bucket", "b"], false);
    let failed = if root { 2 } else { 3 };
    assert_eq!(out.lines().last().unwrap(), format!("uploaded {}, skipped 0, failed {failed}", 5 - failed), "{out}");
    assert!(out.contains("failed b_dangling.csv: cannot read") && out.contains("dangling symbolic link"), "{out}");
    assert!(out.contains("failed c.sock: cannot read") && out.contains("not a regular file"), "{out}");
    assert!(err.contains("upload of b_dangling.csv failed"), "{err}");
    if !root {
        assert!(out.contains("failed d_locked.csv: cannot read") && out.contains("ermission denied"), "{out}");
    }
    assert!(out.contains("uploaded a.csv") && out.contains("uploaded e.csv"), "{out}");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o644)).unwrap();
}

#[test]
fn rm_deletes_the_blob_only_when_no_other_record_shares_it() {
    let h = Home::new();
    let f = h.path().join("same.txt");
    std::fs::write(&f, "shared bytes").unwrap();
    let f = f.to_str().unwrap();
    let a = h.json(&["put", f, "--bucket", "b", "--name", "one.txt"], true);
    h.json(&["put", f, "--bucket", "b", "--name", "two.txt"], true);
    assert_eq!(h.blob_files().len(), 1, "same bytes, one blob");
    let r = h.json(&["rm", "b/one.txt"], true);
    assert_eq!(r["deleted"], a["meta"]["id"]);
    assert_eq!(h.blob_files().len(), 1, "two.txt still needs the blob");
    assert_eq!(h.cmd(&["cat", "b/two.txt"]).stdout, b"shared bytes");
    let (_, err) = h.ok(&["find", "b", "one.txt"], false);
    assert!(err.contains("not-found"), "{err}");
    h.json(&["rm", "b/two.txt"], true);
    assert!(h.blob_files().is_empty(), "the last record took its blob along");
    let e = h.json(&["rm", "b/two.txt"], false);
    assert_eq!(e["error"]["kind"], "not-found");
    assert_eq!(h.record_count(), 0);
    // gc reports what it removed: here an orphan blob left by hand.
    let orphan = h.objects().join("blobs/sha256/00/".to_string() + &"0".repeat(64));
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, "orphan").unwrap();
    let g = h.json(&["gc"], true);
    assert_eq!(g["blobs"].as_array().unwrap().len(), 1, "{g}");
    assert!(!orphan.exists());
}
