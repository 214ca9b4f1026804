//! A small synchronous WebDriver (W3C) client for browser tests: drives headless Chromium through
//! a `chromedriver` child process (Debian packages `chromium` and `chromium-driver`, installed by
//! `scripts/deps.sh chromium`). Check [`available`] first and skip when it is false.
//!
//! Commands panic with the WebDriver error (this is a test helper); the calls that can fail in a
//! working test (starting the browser, element lookups, alerts) return `Result<_, String>`.
#![allow(dead_code)] // not every test uses every command

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tempfile::TempDir;

/// The W3C key under which WebDriver returns element references.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Chromium's command line, before `--user-data-dir`.
const ARGS: &str = "--headless=new --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-dev-shm-usage --window-size=1280,900";

/// Whether `chromedriver` and `chromium` are both on `PATH`.
pub fn available() -> bool {
    ["chromedriver", "chromium"]
        .iter()
        .all(|name| crate::common::on_path(name, &[]).is_some())
}

/// A headless Chromium session driven through its own `chromedriver` process. Dropping it ends the
/// session (closing the browser) and kills `chromedriver`.
pub struct Browser {
    agent: ureq::Agent,
    driver: Child,
    /// `http://127.0.0.1:{port}`: chromedriver's root.
    root: String,
    /// The WebDriver session id; empty until the session exists.
    session: String,
    /// The browser profile (`--user-data-dir`), removed after the browser is gone.
    profile: TempDir,
}

/// A reference to an element of the page that was current when it was found.
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

impl Browser {
    /// Starts `chromedriver` on a free local port and opens a headless Chromium session whose
    /// downloads go, without prompting, to `download_dir` (which must exist).
    pub fn start(download_dir: &Path) -> Result<Browser, String> {
        let downloads = download_dir
            .canonicalize()
            .map_err(|e| format!("download dir: {e}"))?;
        let downloads = utf8(&downloads)?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|e| format!("finding a free port: {e}"))?
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting chromedriver: {e}"))?;
        // From here on, an early return drops `browser`, which kills chromedriver.
        let mut browser = Browser {
            agent: ureq::AgentBuilder::new()
                .timeout_connect(Duration::from_secs(5))
                .timeout_read(Duration::from_secs(60))
                .build(),
            driver,
            root: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            profile: TempDir::new().map_err(|e| format!("browser profile dir: {e}"))?,
        };
        browser.wait_ready(Duration::from_secs(10))?;

        let mut args: Vec<String> = ARGS.split_whitespace().map(String::from).collect();
        args.push(format!("--user-data-dir={}", utf8(browser.profile.path())?));
        let mut options = json!({
            "args": args,
            "prefs": {
                "download.default_directory": downloads,
                "download.prompt_for_download": false,
                "download.directory_upgrade": true,
                "safebrowsing.enabled": false,
            },
        });
        if Path::new("/usr/bin/chromium").exists() {
            options["binary"] = json!("/usr/bin/chromium");
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}});
        let created = browser.send("POST", "/session", Some(caps))?;
        let session = created["sessionId"]
            .as_str()
            .ok_or("new session: no sessionId")?;
        browser.session = session.to_string();
        browser.cmd("POST", "/timeouts", json!({"script": 30_000}))?;
        // Belt and braces with the prefs above: the CDP way to allow headless downloads into
        // `download_dir`. Best effort (either one alone works with Chromium 156).
        let params = json!({"behavior": "allow", "downloadPath": downloads});
        let cdp = json!({"cmd": "Browser.setDownloadBehavior", "params": params});
        let _ = browser.cmd("POST", "/goog/cdp/execute", cdp);
        Ok(browser)
    }

    /// Polls chromedriver's `/status` until it reports ready.
    fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let status = self.send("GET", "/status", None);
            if status.as_ref().is_ok_and(|status| status["ready"] == true) {
                return Ok(());
            }
            if let Ok(Some(exit)) = self.driver.try_wait() {
                return Err(format!("chromedriver exited early: {exit}"));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "chromedriver not ready after {timeout:?}: {status:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// One WebDriver round trip to chromedriver's `path`: the response's `value`, or its `error`
    /// and `message` as the error (ureq reports 4xx/5xx as `Error::Status`, body included).
    fn send(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.root);
        let request = self.agent.request(method, &url);
        let sent = match body {
            Some(body) => request
                .set("Content-Type", "application/json")
                .send_string(&body.to_string()),
            None => request.call(),
        };
        let response = match sent {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(e) => return Err(format!("{method} {url}: {e}")),
        };
        // Not `into_string`: it stops at 10 MiB, and screenshots can be larger.
        let mut text = String::new();
        response
            .into_reader()
            .read_to_string(&mut text)
            .map_err(|e| format!("{method} {url}: reading the response: {e}"))?;
        let mut reply: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{method} {url}: response is not JSON ({e}): {text}"))?;
        let value = reply.get_mut("value").map(Value::take).unwrap_or_default();
        match value["error"].as_str() {
            Some(error) => {
                let message = value["message"].as_str().unwrap_or_default();
                Err(format!("{method} {url}: {error}: {message}"))
            }
            None => Ok(value),
        }
    }

    /// A command on this session (`path` follows the session id); `body` is sent for POST only.
    fn cmd(&self, method: &str, path: &str, body: Value) -> Result<Value, String> {
        let path = format!("/session/{}{path}", self.session);
        self.send(method, &path, (method == "POST").then_some(body))
    }

    /// A session POST, panicking with the WebDriver error.
    fn post(&self, path: &str, body: Value) -> Value {
        self.cmd("POST", path, body)
            .unwrap_or_else(|e| panic!("webdriver: {e}"))
    }

    /// A session GET, panicking with the WebDriver error.
    fn get(&self, path: &str) -> Value {
        self.cmd("GET", path, Value::Null)
            .unwrap_or_else(|e| panic!("webdriver: {e}"))
    }

    /// Navigates to `url` and waits for the page to load.
    pub fn goto(&self, url: &str) {
        self.post("/url", json!({"url": url}));
    }

    /// The current page's URL.
    pub fn url(&self) -> String {
        string(self.get("/url"))
    }

    /// The current page's title.
    pub fn title(&self) -> String {
        string(self.get("/title"))
    }

    /// The first element matching the CSS selector, waiting up to 5 s for it to exist.
    pub fn find(&self, css: &str) -> Result<Element<'_>, String> {
        self.wait_for(css, Duration::from_secs(5))
    }

    /// Every element matching the CSS selector now (no waiting).
    pub fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        let found = self.post("/elements", json!({"using": "css selector", "value": css}));
        let found = found.as_array().expect("find_all: an array of elements");
        found
            .iter()
            .map(|it| self.element(it).expect("find_all: an element"))
            .collect()
    }

    /// The first element matching the CSS selector, polling every 50 ms for up to `timeout`.
    pub fn wait_for(&self, css: &str, timeout: Duration) -> Result<Element<'_>, String> {
        let deadline = Instant::now() + timeout;
        let by_css = json!({"using": "css selector", "value": css});
        loop {
            match self.cmd("POST", "/element", by_css.clone()) {
                Ok(reference) => return self.element(&reference),
                Err(e) if !e.contains("no such element") => return Err(e),
                Err(_) if Instant::now() > deadline => {
                    return Err(format!("no {css} in {timeout:?}"))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    fn element(&self, reference: &Value) -> Result<Element<'_>, String> {
        let id = reference[ELEMENT_KEY]
            .as_str()
            .ok_or(format!("not an element: {reference}"))?;
        Ok(Element {
            browser: self,
            id: id.to_string(),
        })
    }

    /// Runs `script` as a function body with `arguments` = `args`; returns what it returns.
    pub fn exec(&self, script: &str, args: Vec<Value>) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": args}))
    }

    /// Runs `script` with `args` plus a callback as the last argument
    /// (`arguments[arguments.length - 1]`); returns the value passed to the callback (30 s limit).
    pub fn exec_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.post("/execute/async", json!({"script": script, "args": args}))
    }

    /// Saves a PNG screenshot of the viewport to `path`.
    pub fn screenshot(&self, path: &Path) {
        let encoded = string(self.get("/screenshot"));
        let png =
            artifact_component::encoding::base64_decode(&encoded).expect("screenshot: base64");
        std::fs::write(path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }

    /// Accepts the open `alert`/`confirm`/`prompt` (an error if none is open).
    pub fn accept_alert(&self) -> Result<(), String> {
        self.cmd("POST", "/alert/accept", json!({})).map(drop)
    }

    /// Dismisses the open `alert`/`confirm`/`prompt` (an error if none is open).
    pub fn dismiss_alert(&self) -> Result<(), String> {
        self.cmd("POST", "/alert/dismiss", json!({})).map(drop)
    }

    /// Resizes the window to `width` x `height` CSS pixels.
    pub fn set_window_size(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({"width": width, "height": height}));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.cmd("DELETE", "", Value::Null);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Element<'_> {
    fn path(&self, what: &str) -> String {
        format!("/element/{}/{what}", self.id)
    }

    /// Clicks the element (scrolling it into view first).
    pub fn click(&self) {
        self.browser.post(&self.path("click"), json!({}));
    }

    /// Types `text` into the element; for `<input type=file>`, sets the file path instead.
    pub fn send_keys(&self, text: &str) {
        self.browser
            .post(&self.path("value"), json!({"text": text}));
    }

    /// Empties an editable element.
    pub fn clear(&self) {
        self.browser.post(&self.path("clear"), json!({}));
    }

    /// The element's rendered text.
    pub fn text(&self) -> String {
        string(self.browser.get(&self.path("text")))
    }

    /// The element's attribute `name` as written in the markup, if present.
    pub fn attr(&self, name: &str) -> Option<String> {
        self.browser
            .get(&self.path(&format!("attribute/{name}")))
            .as_str()
            .map(String::from)
    }

    /// The element's DOM property `name` (e.g. `value`, `checked`), `null` if it has none.
    pub fn prop(&self, name: &str) -> Value {
        self.browser.get(&self.path(&format!("property/{name}")))
    }

    /// This element as an argument for [`Browser::exec`] and [`Browser::exec_async`].
    pub fn arg(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }
}

fn string(value: Value) -> String {
    match value {
        Value::String(s) => s,
        other => panic!("webdriver: expected a string, got {other}"),
    }
}

fn utf8(path: &Path) -> Result<&str, String> {
    path.to_str()
        .ok_or(format!("{} is not UTF-8", path.display()))
}
