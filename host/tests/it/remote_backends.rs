//! The S3 and PostgreSQL backends against real servers on 127.0.0.1: the conformance suite,
//! backend-specific checks, and `artifact` processes sharing one PostgreSQL and one bucket.
//!
//! Servers: when `ARTIFACT_TEST_POSTGRES` and `ARTIFACT_TEST_S3` are set (as
//! `eval "$(bash scripts/services.sh start)"` does; scripts/test.sh does that), the tests use
//! them. Otherwise the first test starts a private pair with `scripts/services.sh start --owner
//! <this process>`, which stops them when the test process exits. A test that cannot get its
//! servers fails and says how to start them; none is skipped.

use artifact_component::backend::{Metadata, Publish, Storage};
use artifact_component::model::Error;
use artifact_host::conformance::{self, MetadataCaps, StorageCaps};
use crate::common::all_uris;
use artifact_host::metadata::postgres::PostgresMetadata;
use artifact_host::storage::s3::{S3Storage, SINGLE_PUT_MAX};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;
use artifact_component::encoding::hex;



struct Services {
    postgres: String,
    s3: String,
}

const HOW: &str = "start the test servers with `eval \"$(bash scripts/services.sh start)\"` \
    (needs `apt-get install -y postgresql` and `pip install 'moto[server]'`; scripts/test.sh \
    installs both), or unset ARTIFACT_TEST_POSTGRES / ARTIFACT_TEST_S3 to let the tests start them";

fn services() -> &'static Services {
    static S: OnceLock<Services> = OnceLock::new();
    S.get_or_init(|| {
        if let (Ok(postgres), Ok(s3)) = (
            std::env::var("ARTIFACT_TEST_POSTGRES"),
            std::env::var("ARTIFACT_TEST_S3"),
        ) {
            return Services { postgres, s3 };
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("services-{}", std::process::id()));
        let out = Command::new("bash")
            .arg(root.join("scripts/services.sh"))
            .args(["start", "--dir", dir.to_str().unwrap(), "--owner"])
            .arg(std::process::id().to_string())
            .stderr(Stdio::piped())
            .output()
            .unwrap_or_else(|e| panic!("cannot run scripts/services.sh: {e}; {HOW}"));
        assert!(
            out.status.success(),
            "scripts/services.sh start failed:\n{}\n{HOW}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut vars = std::collections::HashMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            for kv in line.trim_start_matches("export ").split(' ') {
                if let Some((k, v)) = kv.split_once('=') {
                    vars.insert(k.to_string(), v.trim_matches('\'').to_string());
                }
            }
        }
        for (k, v) in &vars {
            if k.starts_with("AWS_") {
                std::env::set_var(k, v);
            }
        }
        let get = |k: &str| vars.get(k).cloned().unwrap_or_else(|| panic!("services.sh printed no {k}"));
        Services { postgres: get("ARTIFACT_TEST_POSTGRES"), s3: get("ARTIFACT_TEST_S3") }
    })
}

/// The test S3 URI with `/sub` appended to its prefix.
fn s3_uri(sub: &str) -> String {
    let s3 = &services().s3;
    let (path, query) = s3.split_once('?').unwrap_or((s3, ""));
    format!("{}/{sub}?{query}", path.trim_end_matches('/'))
}

fn s3(sub: &str) -> S3Storage {
    S3Storage::open(s3_uri(sub).strip_prefix("s3://").unwrap())
        .unwrap_or_else(|e| panic!("open s3 {sub}: {e:?}; {HOW}"))
}

fn pg() -> PostgresMetadata {
    PostgresMetadata::open(&services().postgres)
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {}: {e:?}; {HOW}", services().postgres))
}

fn unique(tag: &str) -> String {
    let id = artifact_component::ids::new_id(artifact_component::ids::now_ms());
    format!("{tag}-{}", id.to_ascii_lowercase())
}

#[test]
fn s3_storage_conforms() {
    let _heavy = crate::common::heavy();
    let s = s3(&unique("conf"));
    s.probe().unwrap_or_else(|e| panic!("S3 server not reachable: {e:?}; {HOW}"));
    conformance::storage_suite(&s, StorageCaps::default());
}

#[test]
fn s3_storage_without_prefix_conforms() {
    let _heavy = crate::common::heavy();
    // The bucket root as the backend's root (the suite's own prefixes keep runs apart).
    let (path, query) = services().s3.split_once('?').unwrap();
    let bucket = path.strip_prefix("s3://").unwrap().split('/').next().unwrap();
    let s = S3Storage::open(&format!("{bucket}?{query}")).unwrap();
    conformance::storage_roundtrip(&s);
    conformance::storage_list(&s);
}

#[test]
fn postgres_metadata_conforms() {
    conformance::metadata_suite(&pg(), MetadataCaps::default());
}

#[test]
fn s3_large_bodies_stream_through_a_staged_multipart_upload() {
    let sub = unique("large");
    let s = s3(&sub);
    let staging = s3(&format!("{sub}/.staging"));
    let body: Vec<u8> = (0..SINGLE_PUT_MAX * 2 + 12_345).map(|i| (i % 251) as u8).collect();
    let write = |data: &[u8]| {
        let mut w = s.create_writer("s3").unwrap();
        for c in data.chunks(1 << 20) {
            w.write(c).unwrap();
        }
        w
    };
    let mut w = write(&body);
    assert!(all_uris(&s, "s3://").is_empty(), "a partial upload is visible");
    assert!(w.commit("s3://blobs/big", Publish::IfAbsent).unwrap());
    assert_eq!(s.stat("s3://blobs/big").unwrap(), Some(body.len() as u64));
    assert_eq!(s.read("s3://blobs/big", 9 << 20, 10).unwrap(), body[9 << 20..(9 << 20) + 10]);
    // IfAbsent on a taken key loses, Overwrite replaces; the staged copies are removed.
    let mut w = write(&body[..body.len() - 1]);
    assert!(!w.commit("s3://blobs/big", Publish::IfAbsent).unwrap());
    assert_eq!(s.stat("s3://blobs/big").unwrap(), Some(body.len() as u64));
    let mut w = write(&body[1..]);
    assert!(w.commit("s3://blobs/big", Publish::Overwrite).unwrap());
    assert_eq!(s.read("s3://blobs/big", 0, 3).unwrap(), body[1..4]);
    // An aborted (and a dropped) writer mid-upload leaves nothing, staged or final.
    let mut w = write(&body);
    w.abort();
    assert!(w.commit("s3://blobs/aborted", Publish::IfAbsent).is_err());
    drop(write(&body));
    assert_eq!(all_uris(&s, "s3://"), vec!["s3://blobs/big".to_string()]);
    assert!(all_uris(&staging, "s3://").is_empty(), "staging objects left behind");
}

#[test]
fn s3_rejects_bad_backend_uris_and_unreachable_servers_fail() {
    for bad in ["", "/x", "bkt?nope=1", "bkt/a/../b"] {
        assert!(matches!(S3Storage::open(bad), Err(Error::InvalidArgument(_))), "{bad:?}");
    }
    // Nothing listens on port 1: a clear storage error, not a hang or a panic.
    let s = S3Storage::open("bkt?endpoint=http://127.0.0.1:1&region=us-east-1").unwrap();
    assert!(matches!(s.stat("s3://x"), Err(Error::Storage(_))));
}

#[test]
fn postgres_schema_is_idempotent_and_events_are_appended() {
    let a = pg();
    let b = pg(); // applies the schema again
    let now = artifact_component::ids::now_ms();
    let id = artifact_component::ids::new_id(now);
    let rec = artifact_component::model::Record {
        id: id.clone(),
        bucket: unique("ev"),
        name: "n".into(),
        logical_ref: format!("noetl://artifact/ev/{id}"),
        created_at: now,
        ..Default::default()
    };
    assert!(a.insert_if_absent(&rec).unwrap().created);
    assert!(!b.insert_if_absent(&rec).unwrap().created);
    // Reads are held by each host and written in one batch (here when asked for: `access`).
    b.touch(&id, now + 5).unwrap();
    a.touch(&id, now + 3).unwrap();
    a.touch(&id, now + 4).unwrap();
    assert_eq!(a.access(&id).unwrap(), Some((Some(now + 4), 2)));
    assert_eq!(b.access(&id).unwrap(), Some((Some(now + 5), 3)));
    // A host's own delete writes its held reads first, so they are logged before it.
    a.touch(&id, now + 6).unwrap();
    assert!(a.delete(&id).unwrap());
    let kinds: Vec<String> = a.events(&id).unwrap().into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds, ["put", "read", "read", "read", "read", "delete"]);
    // Reads held of an artifact another host deleted are dropped without an error.
    b.touch(&id, now + 7).unwrap();
    b.flush_reads().unwrap();
    assert_eq!(b.access(&id).unwrap(), None);
    assert_eq!(a.events(&id).unwrap().len(), 6);
    // Unasked, a host writes what it holds at its first read a second after the oldest.
    let rec2 = artifact_component::model::Record {
        id: artifact_component::ids::new_id(now),
        name: "n2".into(),
        logical_ref: format!("noetl://artifact/ev2/{}", rec.id),
        ..rec.clone()
    };
    assert!(a.insert_if_absent(&rec2).unwrap().created);
    a.touch(&rec2.id, now + 1).unwrap();
    std::thread::sleep(artifact_host::metadata::reads::TOUCH_FLUSH);
    a.touch(&rec2.id, now + 2).unwrap();
    assert_eq!(pg().access(&rec2.id).unwrap(), Some((Some(now + 2), 2)), "seen from another host");
    assert!(a.server_version().unwrap().chars().next().unwrap().is_ascii_digit());
    a.probe().unwrap();
    assert!(matches!(
        PostgresMetadata::open("postgres://nobody@127.0.0.1:1/none"),
        Err(Error::Metadata(_))
    ));
}

/// A database that recorded schema version 2 before the claim functions joined it gets them at
/// the next open, and claims work there; the claim functions answer as the protocol says.
#[test]
fn postgres_claim_functions_are_added_to_an_older_version_2_database() {
    let db = unique("upgrade").replace('-', "_");
    let admin = &services().postgres;
    let mut c = postgres::Client::connect(admin, postgres::NoTls).unwrap();
    c.batch_execute(&format!("CREATE DATABASE {db}")).unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    let url = format!("{base}/{db}");
    drop(PostgresMetadata::open(&url).unwrap());
    let mut old = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    old.batch_execute(
        "DROP FUNCTION artifact_pin(text, text, bigint, bigint); DROP FUNCTION artifact_unpin(text, text); \
         DROP FUNCTION artifact_claim_delete(text, bigint, bigint); DROP FUNCTION artifact_finish_delete(text); \
         DROP FUNCTION artifact_claims_lock(text)",
    )
    .unwrap();
    let m = PostgresMetadata::open(&url).unwrap();
    let (uri, now) = ("fs://blobs/sha256/aa/upgrade", 1_000);
    assert!(m.pin_object(uri, "w1", now, now + 100).unwrap());
    assert!(!m.claim_delete(uri, now, now + 100).unwrap(), "a live pin keeps the delete claim off");
    m.unpin_object(uri, "w1").unwrap();
    assert!(m.claim_delete(uri, now, now + 100).unwrap());
    assert!(!m.pin_object(uri, "w2", now, now + 100).unwrap(), "a live delete claim refuses pins");
    assert!(m.pin_object(uri, "w2", now + 200, now + 300).unwrap(), "an expired delete claim does not");
    m.finish_delete(uri).unwrap();
    drop((m, old));
    c.batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)")).unwrap();
}

// ---------------------------------------------------------------------------------------------
// `artifact` processes sharing one PostgreSQL and one bucket
// ---------------------------------------------------------------------------------------------

fn artifact(storage: &str, args: &[&str]) -> Command {
    let mut c = crate::common::artifact(args);
    c.env("ARTIFACT_STORAGE", storage)
        .env("ARTIFACT_METADATA", &services().postgres)
        .env("ARTIFACT_HOME", PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("remote-home"));
    c
}

#[test]
fn processes_racing_get_or_create_make_one_artifact() {
    let _heavy = crate::common::heavy();
    let sub = unique("race");
    let storage = s3_uri(&sub);
    let bucket = unique("race");
    let dir = tempfile::tempdir().unwrap();
    // Warm the code cache so the processes start together.
    let o = artifact(&storage, &["head", "nothing/here"]).output().unwrap();
    assert!(!o.status.success());
    const N: usize = 4;
    let cmds: Vec<_> = (0..N)
        .map(|i| {
            let f = dir.path().join(format!("body{i}.json"));
            std::fs::write(&f, format!("{{\"writer\": {i}}}")).unwrap();
            artifact(&storage, &["put", f.to_str().unwrap(), "--bucket", &bucket, "--name", "shared.json"])
        })
        .collect();
    // Files first, then all puts at once.
    let outs = crate::common::run_concurrently(cmds);
    let created = outs.iter().filter(|o| o["created"] == Value::Bool(true)).count();
    assert_eq!(created, 1, "{N} racing puts, {created} created: {outs:#?}");
    let refs: std::collections::BTreeSet<&str> = outs.iter().map(|o| o["ref"].as_str().unwrap()).collect();
    assert_eq!(refs.len(), 1, "racing puts returned different artifacts: {refs:?}");
    let m = pg();
    let rec = m.get_by_name(&bucket, "shared.json").unwrap().expect("the artifact");
    assert_eq!(m.summary(&bucket).unwrap().count, 1);
    // The winner's blob is there, whole, and is what `get` returns.
    let s = s3(&sub);
    assert_eq!(s.stat(&rec.location.uri).unwrap(), Some(rec.stored_bytes));
    let o = artifact(&storage, &["get", &format!("{bucket}/shared.json"), "--mode", "text"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got: Value = serde_json::from_slice(&o.stdout).unwrap();
    let text = got["data"].as_str().unwrap();
    assert_eq!(hex(&Sha256::digest(text.as_bytes())), rec.sha256);
}


#[test]
fn killing_a_streaming_put_leaves_no_record_and_no_object() {
    let sub = unique("kill");
    let storage = s3_uri(&sub);
    let bucket = unique("kill");
    let mut child = artifact(&storage, &["put", "-", "--bucket", &bucket, "--name", "big.bin", "--content-type", "application/octet-stream"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // More than the single-PUT bound, so a multipart upload is under way when the process dies.
    let chunk = vec![7u8; 1 << 20];
    for _ in 0..(SINGLE_PUT_MAX >> 20) + 12 {
        if stdin.write_all(&chunk).is_err() {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    // Still running (waiting for the end of stdin) after consuming more than one PUT's worth.
    assert!(child.try_wait().unwrap().is_none(), "the put ended before it was killed");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    drop(stdin);
    let m = pg();
    assert_eq!(m.get_by_name(&bucket, "big.bin").unwrap(), None, "a record without its blob");
    assert_eq!(m.summary(&bucket).unwrap().count, 0);
    let s = s3(&sub);
    assert!(all_uris(&s, "s3://").is_empty(), "a partial object is visible: {:?}", all_uris(&s, "s3://"));
    // The same put, run to completion, works and is readable.
    let mut child = artifact(&storage, &["put", "-", "--bucket", &bucket, "--name", "big.bin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for _ in 0..(SINGLE_PUT_MAX >> 20) + 2 {
            stdin.write_all(&chunk).unwrap();
        }
    }
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    let rec = m.get_by_name(&bucket, "big.bin").unwrap().expect("record");
    assert_eq!(rec.bytes, ((SINGLE_PUT_MAX >> 20) as u64 + 2) << 20);
    let index = format!("s3://index/{}", rec.location.uri.strip_prefix("s3://").unwrap());
    assert_eq!(all_uris(&s, "s3://"), vec![rec.location.uri.clone(), index], "the object and its chunk index");
}

#[test]
fn a_thousand_racing_put_rm_gc_overwrite_processes_on_postgres_and_s3() {
    let _heavy = crate::common::heavy();
    let sub = unique("storm");
    let storage = s3_uri(&sub);
    let dir = tempfile::tempdir().unwrap();
    // Warm the code cache so the processes race on the store, not on compilation.
    let _ = artifact(&storage, &["head", "nothing/here"]).output().unwrap();
    let known = crate::faults::storm(&|args| artifact(&storage, args), dir.path(), &sub, 4, 250);
    let rt = artifact_host::Runtime::builder()
        .cache_dir(crate::common::cache_dir())
        .storage(artifact_host::storage::open(&storage).unwrap())
        .metadata(artifact_host::metadata::open(&services().postgres).unwrap())
        .build()
        .unwrap();
    let s = s3(&sub);
    // The PostgreSQL database is shared with the other remote tests (whose objects live under
    // other prefixes): check this storm's bucket.
    crate::faults::assert_consistent(&rt, &s, "s3", &known, Some(&format!("race-{}", sub.to_ascii_lowercase())));
}

// ---------------------------------------------------------------------------------------------
// A stalled S3 endpoint under `artifact serve`
// ---------------------------------------------------------------------------------------------

/// A TCP proxy on 127.0.0.1 in front of `upstream` that forwards both ways until [`stall`] is
/// called; then every connection, old and new, is held open with nothing forwarded (what a hung
/// object store looks like to its client) until [`resume`]. Its threads stop when it is dropped.
///
/// [`stall`]: StallingProxy::stall
/// [`resume`]: StallingProxy::resume
struct StallingProxy {
    addr: std::net::SocketAddr,
    stalled: std::sync::Arc<std::sync::atomic::AtomicBool>,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl StallingProxy {
    fn start(upstream: std::net::SocketAddr) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stalled, done) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
        let (st, dn) = (stalled.clone(), done.clone());
        std::thread::spawn(move || {
            while !dn.load(Ordering::Relaxed) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let Ok(server) = std::net::TcpStream::connect(upstream) else { continue };
                client.set_nonblocking(false).unwrap();
                for (from, to) in [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)] {
                    let (st, dn) = (st.clone(), dn.clone());
                    std::thread::spawn(move || pump(from, to, &st, &dn));
                }
            }
        });
        StallingProxy { addr, stalled, done }
    }
    fn stall(&self) {
        self.stalled.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    fn resume(&self) {
        self.stalled.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for StallingProxy {
    fn drop(&mut self) {
        self.done.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Copies `from` to `to` while not stalled; ends with either side or when the proxy is dropped.
fn pump(
    mut from: std::net::TcpStream,
    mut to: std::net::TcpStream,
    stalled: &std::sync::atomic::AtomicBool,
    done: &std::sync::atomic::AtomicBool,
) {
    use std::io::Read;
    use std::sync::atomic::Ordering;
    from.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let mut buf = vec![0u8; 64 << 10];
    while !done.load(Ordering::Relaxed) {
        if stalled.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// Reads waiting on a hung S3 endpoint hold up only themselves: with more of them in flight
/// than the server has worker threads, a read from the filesystem storage of the same server
/// is still answered (before, each waiting read blocked a worker, and the server stopped
/// accepting), and once the endpoint answers again the waiting reads complete, byte-exact.
#[test]
fn a_stalled_s3_endpoint_holds_up_only_the_reads_that_wait_on_it() {
    use crate::common::Home;
    use crate::faults::raw_get;
    let sub = unique("stall");
    let real = s3_uri(&sub);
    let (before, after) = real.split_once("endpoint=http://").unwrap();
    let (upstream, rest) = after.split_at(after.find(['&', '/']).unwrap_or(after.len()));
    let proxy = StallingProxy::start(upstream.parse().unwrap());
    let through_proxy = format!("{before}endpoint=http://{}{rest}", proxy.addr);

    let h = Home::new();
    let fs = format!("fs://{}", h.objects().display());
    let on_fs = crate::common::random_bytes(4096, 1);
    let on_s3 = crate::common::random_bytes(300 << 10, 2);
    let put = |file: &str, storage: &str| {
        let o = h.command(&["put", file]).env("ARTIFACT_STORAGE", storage).output().unwrap();
        assert!(o.status.success(), "put: {}", String::from_utf8_lossy(&o.stderr));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v["meta"]["id"].as_str().unwrap().to_string()
    };
    let a = put(&h.write("a.bin", &on_fs), &fs);
    let b = put(&h.write("b.bin", &on_s3), &format!("{through_proxy},{fs}"));

    let server = h.serve_with(&[], None, &[("ARTIFACT_STORAGE", &format!("{fs},{through_proxy}"))]);
    let (url_a, url_b) = (h.sign(&server.base, &a, &[]), h.sign(&server.base, &b, &[]));
    assert_eq!(raw_get(&url_b, &[]), (200, on_s3.clone()), "through the proxy before it stalls");

    proxy.stall();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let waiting: Vec<_> = (0..workers + 2)
        .map(|_| {
            let u = url_b.clone();
            std::thread::spawn(move || raw_get(&u, &[]))
        })
        .collect();
    // Let every one of them reach the backend.
    std::thread::sleep(Duration::from_millis(1500));
    let (status, body) = raw_get(&url_a, &[]);
    assert_eq!(status, 200, "a filesystem read behind {} stalled S3 reads was not answered", workers + 2);
    assert_eq!(body, on_fs);

    proxy.resume();
    for w in waiting {
        let (status, body) = w.join().unwrap();
        assert_eq!(status, 200);
        assert!(body == on_s3, "a read that waited on S3 came back with {} wrong bytes", body.len());
    }
}

/// `artifact serve` over PostgreSQL and S3 answers a read, then stops cleanly on SIGTERM: both
/// clients used to block inside the server's async runtime when dropped at shutdown (the
/// `postgres` client closing its connections, the S3 backend's own runtime), which panicked.
#[test]
fn serve_on_postgres_and_s3_stops_cleanly_on_sigterm() {
    use crate::faults::raw_get;
    let sub = unique("term");
    let h = crate::common::Home::new();
    let env = [("ARTIFACT_STORAGE", s3_uri(&sub)), ("ARTIFACT_METADATA", services().postgres.clone())];
    let data = crate::common::random_bytes(70_000, 3);
    let o = h.command(&["put", &h.write("t.bin", &data)]).envs(env.clone()).output().unwrap();
    assert!(o.status.success(), "put: {}", String::from_utf8_lossy(&o.stderr));
    let id = serde_json::from_slice::<Value>(&o.stdout).unwrap()["meta"]["id"].as_str().unwrap().to_string();
    let server = h.serve_with(&[], None, &env.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>());
    // Only the server is pointed at PostgreSQL: the URL is signed without looking the id up.
    let url = h.sign(&server.base, &id, &["--no-lookup"]);
    assert_eq!(raw_get(&url, &[]), (200, data));
    let (status, stderr) = server.terminate();
    assert!(status.success() && !stderr.contains("panicked"), "serve after SIGTERM: {status}\n{stderr}");
}
