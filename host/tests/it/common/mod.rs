//! Shared by the integration tests that run the `artifact` binary: the compiled-code cache every
//! test process shares, and a temporary home on the embedded default store (filesystem blobs +
//! SQLite metadata). Each test file adds its own helpers in its own `impl Home` block.
#![allow(dead_code)] // not every helper is used by every module

use artifact_host::Runtime;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

/// Held by the tests that load the machine with racing processes and by the tests whose server
/// (moto) decides a race of conditional writes: moto's If-None-Match check is not atomic under
/// heavy load, so those must not run during a storm. Poison is ignored (a failed test already
/// reported itself).
pub fn heavy() -> std::sync::MutexGuard<'static, ()> {
    static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    HEAVY.lock().unwrap_or_else(|p| p.into_inner())
}

/// Every object URI under `prefix`, following the listing's cursors.
pub fn all_uris(s: &dyn artifact_component::backend::Storage, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let (uris, next) = s.list_objects(prefix, cursor.as_deref(), 1000).unwrap();
        out.extend(uris);
        match next {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

/// `n` pseudo-random bytes (xorshift), the same for the same `seed`: incompressible test data.
pub fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The first `name` in the directories of `PATH`, then in `extra`.
pub fn on_path(name: &str, extra: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).chain(extra.iter().map(PathBuf::from)).map(|d| d.join(name)).find(|p| p.is_file())
}

/// The code cache, shared across test processes so the `.wasm` is compiled once.
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("artifact-code-cache")
}

/// The `artifact` binary with `args`, on the shared code cache.
pub fn artifact(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_artifact"));
    c.args(args).env("ARTIFACT_CACHE_DIR", cache_dir());
    c
}

/// Asserts that `o` (the output of `args`) succeeded iff `ok`; parses its stdout as JSON.
pub fn json_of(args: &[&str], o: &Output, ok: bool) -> Value {
    assert_eq!(
        o.status.success(),
        ok,
        "{args:?}: status {:?}\nstdout {}\nstderr {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{args:?}: stdout not JSON ({e}): {:?}", o.stdout))
}

/// A temporary working directory whose `store/` is `ARTIFACT_HOME`.
/// Starts every command at once (output captured), waits for all, and returns each one's stdout
/// as JSON, in order; a command that fails fails the test with its stderr.
pub fn run_concurrently(cmds: impl IntoIterator<Item = Command>) -> Vec<Value> {
    let children: Vec<_> = cmds
        .into_iter()
        .map(|mut c| c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap())
        .collect();
    children
        .into_iter()
        .map(|c| {
            let o = c.wait_with_output().unwrap();
            assert!(o.status.success(), "command failed: {}", String::from_utf8_lossy(&o.stderr));
            serde_json::from_slice(&o.stdout).unwrap()
        })
        .collect()
}

pub struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Self {
        Home { dir: tempfile::tempdir().unwrap() }
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    /// `ARTIFACT_HOME`: metadata in `metadata.db`, code in `cache/`, objects in `objects/`.
    pub fn store(&self) -> PathBuf {
        self.path().join("store")
    }
    /// The fs storage root of the default store: `ARTIFACT_HOME/objects`.
    pub fn objects(&self) -> PathBuf {
        self.store().join("objects")
    }
    /// `artifact args` on this home's default store (whatever ARTIFACT_STORAGE / ARTIFACT_METADATA
    /// say in the environment), run in the working directory.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = artifact(args);
        c.env("ARTIFACT_HOME", self.store())
            .env_remove("ARTIFACT_STORAGE")
            .env_remove("ARTIFACT_METADATA")
            .current_dir(self.path());
        c
    }
    pub fn cmd(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }
    /// Runs and parses stdout as JSON; asserts the exit status.
    pub fn json(&self, args: &[&str], ok: bool) -> Value {
        json_of(args, &self.cmd(args), ok)
    }
    /// Writes `data` to `name` in the working directory; returns its path.
    pub fn write(&self, name: &str, data: &[u8]) -> String {
        let p = self.path().join(name);
        std::fs::write(&p, data).unwrap();
        p.to_str().unwrap().to_string()
    }
    /// The blob files of the store, sorted.
    pub fn blob_files(&self) -> Vec<PathBuf> {
        fn walk(p: &Path, out: &mut Vec<PathBuf>) {
            if let Ok(rd) = std::fs::read_dir(p) {
                for e in rd.flatten() {
                    let path = e.path();
                    if path.is_dir() {
                        walk(&path, out);
                    } else {
                        out.push(path);
                    }
                }
            }
        }
        let mut v = Vec::new();
        walk(&self.objects().join("blobs"), &mut v);
        v.sort();
        v
    }
    /// The host library on the same store as the binary.
    pub fn runtime(&self) -> Runtime {
        let root = std::path::absolute(self.store()).unwrap();
        std::fs::create_dir_all(&root).unwrap();
        Runtime::builder()
            .cache_dir(cache_dir())
            .storage(artifact_host::storage::open(&format!("fs://{}", root.join("objects").display())).unwrap())
            .metadata(artifact_host::metadata::open(&format!("sqlite://{}", root.join("metadata.db").display())).unwrap())
            .build()
            .unwrap()
    }
}

// ---------- HTTP client (edge and Spin tests) ----------

/// An HTTP response read whole (test bodies are bounded).
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn error_kind(&self) -> String {
        let v: serde_json::Value = serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("error body is not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)));
        v["error"]["kind"].as_str().unwrap().to_string()
    }
}

/// A client with a generous timeout (large bodies in debug builds).
pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().timeout(std::time::Duration::from_secs(600)).build()
}

/// Sends one request over 127.0.0.1 with a real HTTP client; error statuses are responses too.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)]) -> Resp {
    send(method, url, None, headers)
}

/// [`request`] with a body.
pub fn send(method: &str, url: &str, body: Option<&[u8]>, headers: &[(&str, &str)]) -> Resp {
    send_with(&agent(), method, url, body, headers)
}

/// [`send`] through `agent` (e.g. one that does not follow redirects).
pub fn send_with(agent: &ureq::Agent, method: &str, url: &str, body: Option<&[u8]>, headers: &[(&str, &str)]) -> Resp {
    let mut r = agent.request(method, url);
    for (k, v) in headers {
        r = r.set(k, v);
    }
    let sent = match body {
        Some(b) => r.send_bytes(b),
        None => r.call(),
    };
    let resp = match sent {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = resp.status();
    let headers = resp.headers_names().iter().map(|n| (n.clone(), resp.header(n).unwrap_or("").to_string())).collect();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut body).unwrap();
    Resp { status, headers, body }
}

/// A child process (a server under test) killed and reaped when dropped.
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
