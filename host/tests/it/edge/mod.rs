//! Signed reads over HTTP: the real `artifact` binary (`put`, `sign`, `serve`) on 127.0.0.1 and a
//! real HTTP client (ureq, without gzip support so encodings are seen as sent).

use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// The signing keys of every test server (`k1` active).
pub(crate) const KEYS: &str = "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=,k2:AgICAgICAgICAgICAgICAg==";
/// A key the server does not have.
const ROGUE: &str = "k9:CQkJCQkJCQkJCQkJCQkJCQ==";


use crate::common::{agent, request, Home, Resp};
use artifact_component::encoding::hex;

mod load;
mod locked;
mod api;
mod carried;
mod native;
mod reuse;
mod spliced;
pub(crate) mod upload;
mod nginx;

impl Home {
    /// `artifact args` on this home, signing with `keys` (active key `k1`), no base URL.
    fn signed(&self, args: &[&str], keys: &str) -> Command {
        let mut c = self.command(args);
        c.env("ARTIFACT_SIGNING_KEYS", keys)
            .env("ARTIFACT_ACTIVE_KID", "k1")
            .env_remove("ARTIFACT_BASE_URL");
        c
    }
    fn run(&self, args: &[&str], keys: &str) -> Output {
        let o = self.signed(args, keys).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        o
    }
    /// Puts a file and returns the artifact id.
    fn put(&self, name: &str, data: &[u8], extra: &[&str]) -> String {
        let p = self.path().join(name);
        std::fs::write(&p, data).unwrap();
        self.put_file(&p, name, extra)
    }
    fn put_file(&self, p: &Path, name: &str, extra: &[&str]) -> String {
        let mut args = vec!["put", p.to_str().unwrap(), "--name", name];
        args.extend_from_slice(extra);
        let o = self.run(&args, KEYS);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["meta"]["id"].as_str().unwrap().to_string()
    }
    /// A signed URL for `r` on the server at `base` (`artifact sign r --base-url base extra`).
    pub(crate) fn sign(&self, base: &str, r: &str, extra: &[&str]) -> String {
        self.sign_with(base, r, extra, KEYS)
    }
    fn sign_with(&self, base: &str, r: &str, extra: &[&str], keys: &str) -> String {
        let mut args = vec!["sign", r, "--base-url", base];
        args.extend_from_slice(extra);
        let o = self.run(&args, keys);
        String::from_utf8(o.stdout).unwrap().trim().to_string()
    }
    /// Starts `artifact serve` with these extra arguments.
    pub(crate) fn serve(&self, extra: &[&str]) -> Server {
        self.serve_limited(extra, None)
    }
    /// `artifact serve` with the token API on: `ARTIFACT_CONFIG_API_TOKENS=tokens`.
    fn serve_api(&self, tokens: &str) -> Server {
        self.serve_with(&[], None, &[("ARTIFACT_CONFIG_API_TOKENS", tokens)])
    }
    /// `artifact serve` with its open-file limit (soft and hard) set to `fds` when given.
    fn serve_limited(&self, extra: &[&str], fds: Option<u32>) -> Server {
        self.serve_with(extra, fds, &[])
    }
    /// Starts `artifact serve`. The first call in a test process first starts and stops one
    /// server on a scratch home, so the shared code cache holds the edge component and no
    /// measured server compiles it: compiling touches ~35 MiB of the debug binary's code, which
    /// then counts in that server's RSS and high-water mark.
    pub(crate) fn serve_with(&self, extra: &[&str], fds: Option<u32>, env: &[(&str, &str)]) -> Server {
        static WARM: std::sync::Once = std::sync::Once::new();
        WARM.call_once(|| drop(Home::new().spawn_server(&[], None, &[])));
        self.spawn_server(extra, fds, env)
    }
    fn spawn_server(&self, extra: &[&str], fds: Option<u32>, env: &[(&str, &str)]) -> Server {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut cmd = self.signed(&args, KEYS);
        for (k, v) in env {
            cmd.env(k, v);
        }
        if let Some(n) = fds {
            let mut sh = Command::new("sh");
            sh.arg("-c").arg(format!("ulimit -n {n} && exec \"$0\" \"$@\"")).arg(cmd.get_program()).args(cmd.get_args());
            if let Some(d) = cmd.get_current_dir() {
                sh.current_dir(d);
            }
            for (k, v) in cmd.get_envs() {
                match v {
                    Some(v) => sh.env(k, v),
                    None => sh.env_remove(k),
                };
            }
            cmd = sh;
        }
        let mut child = cmd.stderr(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let reader = {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(addr) = line.strip_prefix("artifact serve: listening on ") {
                        let _ = tx.send(addr.to_string());
                    }
                    log.lock().unwrap().push(line);
                }
            })
        };
        let mut server = Server { child: crate::common::Reaped(child), base: String::new(), log, reader: Some(reader) };
        match rx.recv_timeout(Duration::from_secs(300)) {
            Ok(base) => server.base = base,
            Err(_) => panic!("server did not start: {:?}", server.log.lock().unwrap()),
        }
        server
    }
}

/// `artifact serve` as a child process; killed when dropped.
pub(crate) struct Server {
    child: crate::common::Reaped,
    /// Scheme and authority, e.g. `http://127.0.0.1:40123`.
    pub(crate) base: String,
    /// Its standard error, line by line, as far as it has come.
    log: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Sends SIGTERM and waits for the server to exit: its exit status and whole standard error.
    #[cfg_attr(not(feature = "s3"), allow(dead_code))] // used by the remote backends' tests
    pub(crate) fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.0.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let status = self.child.0.wait().unwrap();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        let log = self.log.lock().unwrap().join("\n");
        (status, log)
    }
    /// Answers one request through the component (so code is compiled and an instance has run),
    /// then resets the high-water mark of RSS, so `VmHWM` afterwards is the peak of what follows.
    fn warm_and_reset_peak(&self) {
        let r = request("GET", &format!("{}/v1/artifacts/00000000000000000000000000", self.base), &[]);
        assert!(r.status >= 400, "warm-up");
        std::fs::write(format!("/proc/{}/clear_refs", self.child.0.id()), "5").expect("resetting VmHWM (Linux /proc/PID/clear_refs)");
    }
    /// PUTs `mib` MiB of generated bytes (numbered 1 MiB blocks) to `path` (with the extra head
    /// lines `headers`, each ending in CRLF) over a raw socket, and checks what a large upload
    /// must do: 201, the body's SHA-256 and size in the answer, and a server peak RSS (measured
    /// from just before) of at most 64 MiB. Returns the peak, bytes.
    fn put_big(&self, path: &str, headers: &str, mib: usize) -> u64 {
        self.warm_and_reset_peak();
        let host = self.base.strip_prefix("http://").unwrap();
        let mut s = std::net::TcpStream::connect(host).unwrap();
        let total = mib << 20;
        write!(s, "PUT {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Content-Length: {total}\r\nConnection: close\r\n\r\n").unwrap();
        let mut sha = Sha256::new();
        let block = crate::common::random_bytes(1 << 20, 77);
        for i in 0..mib {
            let mut b = block.clone();
            b[..8].copy_from_slice(&(i as u64).to_le_bytes());
            sha.update(&b);
            if let Err(e) = s.write_all(&b) {
                let mut answer = String::new();
                let _ = s.read_to_string(&mut answer);
                panic!("write of block {i} failed: {e}; answer: {}", answer.replace("\r\n", " | "));
            }
        }
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 201"), "{}", &answer[..answer.len().min(300)]);
        let v: serde_json::Value = serde_json::from_str(&answer[answer.find("\r\n\r\n").unwrap() + 4..]).unwrap();
        assert_eq!(v["meta"]["sha256"], hex(&sha.finalize()));
        assert_eq!(v["meta"]["bytes"], total as u64);
        let peak = self.status_file("VmHWM:");
        assert!(peak <= 64 << 20, "peak RSS {} MiB", peak >> 20);
        peak
    }

    fn status_file(&self, field: &str) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.child.0.id())).unwrap();
        let line = s.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("no {field}"));
        line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
    }
}


/// Size of the large-upload tests: 256 MiB, or `ARTIFACT_BIG_UPLOAD_MIB` (1024 for 1 GiB).
fn big_upload_mib() -> usize {
    std::env::var("ARTIFACT_BIG_UPLOAD_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

fn get(url: &str, headers: &[(&str, &str)]) -> Resp {
    request("GET", url, headers)
}

fn csv() -> Vec<u8> {
    let mut s = String::from("id,name,price\n");
    for i in 0..5000 {
        s.push_str(&format!("{i},item-{i}-SECRETMARK,{}.{:02}\n", i * 3, i % 100));
    }
    s.into_bytes()
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut d = flate2::write::GzDecoder::new(Vec::new());
    d.write_all(b).unwrap();
    d.finish().unwrap()
}

#[test]
fn signed_reads_over_http() {
    let home = Home::new();
    let data = csv();
    let id = home.put("prices.csv", &data, &["--content-type", "text/csv"]);
    let gz_id = home.put("prices-gz.csv", &data, &["--content-type", "text/csv", "--compression", "gzip"]);
    let other_id = home.put("other.csv", b"x,y\n1,2\n", &["--content-type", "text/csv"]);
    let server = home.serve(&[]);
    let base = server.base.clone();
    let url = home.sign(&base, &id, &["--ttl", "15m"]);
    assert!(url.starts_with(&format!("{base}/v1/artifacts/{id}?exp=")), "{url}");

    // 200 with headers.
    let r = get(&url, &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, data);
    assert_eq!(r.header("content-type"), Some("text/csv"));
    assert_eq!(r.header("content-length").unwrap(), data.len().to_string());
    let etag = format!("\"{}\"", hex(&Sha256::digest(&data)));
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert!(r.header("cache-control").unwrap().starts_with("private, max-age="));
    assert!(r.header("last-modified").unwrap().ends_with(" GMT"));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));

    // HEAD: the same headers, no body.
    let h = request("HEAD", &url, &[]);
    assert_eq!((h.status, h.body.len()), (200, 0));
    assert_eq!(h.header("content-length").unwrap(), data.len().to_string());
    assert_eq!(h.header("etag"), Some(etag.as_str()));

    // Each Range form; 416.
    let n = data.len();
    for (range, lo, hi) in [("bytes=0-99", 0, 99), ("bytes=1000-", 1000, n - 1), ("bytes=-64", n - 64, n - 1)] {
        let r = get(&url, &[("Range", range)]);
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(r.body, &data[lo..=hi], "{range}");
        assert_eq!(r.header("content-range").unwrap(), format!("bytes {lo}-{hi}/{n}"), "{range}");
        assert_eq!(r.header("content-length").unwrap(), (hi - lo + 1).to_string());
    }
    let r = get(&url, &[("Range", &format!("bytes={n}-"))]);
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range").unwrap(), format!("bytes */{n}"));
    assert_eq!(r.error_kind(), "range-not-satisfiable");

    // 304.
    let r = get(&url, &[("If-None-Match", &etag)]);
    assert_eq!((r.status, r.body.len()), (304, 0));
    assert_eq!(get(&url, &[("If-None-Match", "\"something-else\"")]).status, 200);

    // gzip negotiation both ways.
    let gz_url = home.sign(&base, &gz_id, &[]);
    let r = get(&gz_url, &[("Accept-Encoding", "gzip, deflate")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.header("content-length").unwrap(), r.body.len().to_string());
    assert!(r.body.len() < data.len());
    assert_eq!(gunzip(&r.body), data);
    for ae in [None, Some("identity"), Some("gzip;q=0")] {
        let hs: Vec<(&str, &str)> = ae.map(|v| ("Accept-Encoding", v)).into_iter().collect();
        let r = get(&gz_url, &hs);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-encoding"), None, "{ae:?}");
        assert_eq!(r.body, data, "{ae:?}");
    }
    // Ranges of a gzip-stored artifact address the logical bytes.
    let r = get(&gz_url, &[("Range", "bytes=10-19"), ("Accept-Encoding", "gzip")]);
    assert_eq!((r.status, r.body.as_slice()), (206, &data[10..20]));

    // A URL signed for a range: the range without Range, sub-ranges, nothing outside it.
    let ranged = home.sign(&base, &id, &["--range", "0-99"]);
    let r = get(&ranged, &[]);
    assert_eq!((r.status, r.body.as_slice()), (206, &data[..100]));
    assert_eq!(get(&ranged, &[("Range", "bytes=50-99")]).body, &data[50..100]);

    // Every forbidden case: 403 and no byte of the body.
    let sig = url.split("sig=").nth(1).unwrap().split('&').next().unwrap();
    let mut flipped = sig.as_bytes().to_vec();
    flipped[10] = if flipped[10] == b'a' { b'b' } else { b'a' };
    let flipped = url.replace(sig, std::str::from_utf8(&flipped).unwrap());
    let exp = url.split("exp=").nth(1).unwrap().split('&').next().unwrap();
    let past = url.replace(&format!("exp={exp}"), &format!("exp={}", now_secs() - 60));
    let other = url.replace(&id, &other_id);
    let rogue = home.sign_with(&base, &id, &["--kid", "k9"], &format!("{KEYS},{ROGUE}"));
    let unsigned = url.split('?').next().unwrap().to_string();
    let short = home.sign(&base, &id, &["--ttl", "1s"]);
    std::thread::sleep(Duration::from_millis(2100));
    type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        ("flipped sig", flipped, vec![]),
        ("exp in the past", past, vec![]),
        ("another artifact's id", other, vec![]),
        ("range outside the signed one", ranged.clone(), vec![("Range", "bytes=100-199")]),
        ("suffix outside the signed one", ranged.clone(), vec![("Range", "bytes=-10")]),
        ("unknown kid", rogue, vec![]),
        ("no signature", unsigned, vec![]),
        ("expired", short, vec![]),
    ];
    for (what, u, hs) in &cases {
        for method in ["GET", "HEAD"] {
            let r = request(method, u, hs);
            if method == "HEAD" && what.contains("outside") {
                // HEAD ignores Range (RFC 9110 §14.2): headers of the whole body, no bytes.
                assert_eq!((r.status, r.body.len()), (200, 0), "{what} ({method})");
                assert!(r.header("content-range").is_none());
                continue;
            }
            assert_eq!(r.status, 403, "{what} ({method})");
            assert!(!String::from_utf8_lossy(&r.body).contains("SECRETMARK"), "{what}: body leaked");
            assert!(!String::from_utf8_lossy(&r.body).contains("id,name"), "{what}: body leaked");
            if method == "GET" {
                let kind = r.error_kind();
                let want = if *what == "expired" { "expired" } else { "forbidden" };
                assert_eq!(kind, want, "{what}");
            }
        }
    }

    // 404 for a validly signed id that names nothing; 405; 400.
    let keys = artifact_component::sign::Keys::parse(KEYS, Some("k1")).unwrap();
    let ghost = "01M84EG4VHHF84MF34ZRCQAC3P";
    let path = artifact_component::sign::sign_path(&keys, ghost, now_secs(), 600, &Default::default()).unwrap();
    let r = get(&format!("{base}{path}"), &[]);
    assert_eq!((r.status, r.error_kind().as_str()), (404, "not-found"));
    for m in ["POST", "PUT", "DELETE"] {
        let r = request(m, &url, &[]);
        assert_eq!(r.status, 405, "{m}");
        assert_eq!(r.header("allow"), Some("GET, HEAD"));
    }
    assert_eq!(get(&format!("{base}/v1/artifacts/not-an-id?exp=1"), &[]).status, 400);

    // One access log line per request, without the signature.
    let log = server.log.lock().unwrap().clone();
    assert!(log.iter().any(|l| l.contains(&format!("\"GET /v1/artifacts/{id}\" 200 {}", data.len()))), "{log:#?}");
    assert!(log.iter().all(|l| !l.contains("sig=")), "{log:#?}");

    // Graceful shutdown on SIGINT (Ctrl-C).
    let mut server = server;
    let st = Command::new("kill").args(["-INT", &server.child.0.id().to_string()]).status().unwrap();
    assert!(st.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(s) = server.child.0.try_wait().unwrap() {
            assert!(s.success(), "{s:?}");
            break;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}


const BIG: usize = 256 << 20;

/// Puts a 256 MiB pseudo-random artifact (through a file, removed after) and returns its id and
/// SHA-256.
fn put_big(home: &Home) -> (String, String) {
    let path = home.path().join("big.bin");
    let mut expect = Sha256::new();
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for i in 0..(BIG >> 20) as u64 {
            let block = crate::common::random_bytes(1 << 20, i + 1);
            expect.update(&block);
            f.write_all(&block).unwrap();
        }
    }
    let id = home.put_file(&path, "big.bin", &["--content-type", "application/octet-stream"]);
    std::fs::remove_file(&path).unwrap();
    (id, hex(&expect.finalize()))
}

/// A 256 MiB artifact streams through the component with the server's memory bounded.
#[test]
fn large_artifact_streams_with_bounded_memory() {
    const SIZE: usize = BIG;
    let home = Home::new();
    let (id, expect) = put_big(&home);
    let server = home.serve(&["--request-timeout", "10m"]);
    let url = home.sign(&server.base, &id, &[]);
    assert_eq!(request("HEAD", &url, &[]).status, 200, "warm-up");
    let startup_peak = server.status_file("VmHWM:");
    // Reset the high-water mark to the current RSS, so the figure below is the download's peak.
    let reset = std::fs::write(format!("/proc/{}/clear_refs", server.child.0.id()), "5").is_ok();
    let started = Instant::now();
    let resp = agent().get(&url).call().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.header("content-length").unwrap(), SIZE.to_string());
    let mut reader = resp.into_reader();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0usize;
    let mut peak_sampled = 0u64;
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n;
        if total % (16 << 20) < n {
            peak_sampled = peak_sampled.max(server.status_file("VmRSS:"));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(total, SIZE);
    assert_eq!(hex(&hasher.finalize()), expect);
    let peak = if reset { server.status_file("VmHWM:") } else { peak_sampled };
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    eprintln!(
        "256 MiB download: {:.1} s ({:.0} MB/s); server peak RSS during the download {:.1} MiB \
         (VmHWM after reset: {reset}); peak at startup {:.1} MiB",
        secs,
        SIZE as f64 / secs / 1e6,
        mib(peak),
        mib(startup_peak)
    );
    assert!(peak < 128 << 20, "server peak RSS {:.1} MiB while serving 256 MiB", mib(peak));
}
