//! `artifact console`: the web UI over the real binary and store. The access rules are checked
//! with a plain HTTP client (every write refused without the token, the store unchanged); the
//! pages are driven in headless Chromium (`webdriver`), which writes a screenshot of each page to
//! `target/console-screenshots/`. Without Chromium the browser test skips, unless
//! `ARTIFACT_REQUIRE_BROWSER=1` (set by scripts/test.sh, which installs it).

use crate::common::{random_bytes, request, send_with, Home, Reaped, Resp};
use crate::webdriver::{self, Browser};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// `artifact console` as a child process; killed when dropped.
struct Console {
    _child: Reaped,
    base: String,
    host: String,
}

fn console(h: &Home, token: Option<&str>) -> Console {
    console_with(h, token, &[])
}

fn console_with(h: &Home, token: Option<&str>, extra: &[&str]) -> Console {
    let mut cmd = h.command(&[&["console", "--listen", "127.0.0.1:0"], extra].concat());
    cmd.env_remove("ARTIFACT_SIGNING_KEYS").env_remove("ARTIFACT_CONSOLE_TOKEN");
    if let Some(t) = token {
        cmd.env("ARTIFACT_CONSOLE_TOKEN", t);
    }
    let mut child = cmd.stderr(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("artifact console: listening on ") {
                let _ = tx.send(rest.split_whitespace().next().unwrap_or("").trim_end_matches('/').to_string());
            }
        }
    });
    let base = rx.recv_timeout(Duration::from_secs(300)).expect("the console did not start");
    let host = base.trim_start_matches("http://").to_string();
    Console { _child: Reaped(child), base, host }
}

/// What a store holds, as the CLI lists it, and its blob files.
fn snapshot(h: &Home) -> (String, Vec<PathBuf>) {
    let o = h.cmd(&["ls", "--json", "--all"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (String::from_utf8(o.stdout).unwrap(), h.blob_files())
}

fn put(h: &Home, bucket: &str, name: &str, data: &[u8], content_type: &str) -> serde_json::Value {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let file = h.write(&format!("in-{}", N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)), data);
    h.json(&["put", &file, "--bucket", bucket, "--name", name, "--content-type", content_type], true)
}

fn meta_csrf(page: &Resp) -> String {
    let html = String::from_utf8_lossy(&page.body);
    let at = html.find("<meta name=\"csrf\" content=\"").expect("the page carries a CSRF value") + 27;
    html[at..at + 32].to_string()
}

/// Signs in over HTTP; returns the cookie (`name=value`) and the CSRF value of a signed-in page.
fn sign_in(c: &Console, token: &str) -> (String, String) {
    let login = request("GET", &format!("{}/login", c.base), &[]);
    let form = format!("csrf={}&next=%2F&token={token}", meta_csrf(&login));
    let r = post(c, "/login", &form, &[]);
    assert_eq!(r.status, 303, "{}", String::from_utf8_lossy(&r.body));
    let cookie = r.header("set-cookie").expect("sign-in sets the session cookie").split(';').next().unwrap().to_string();
    let page = request("GET", &format!("{}/", c.base), &[("cookie", &cookie)]);
    (cookie.clone(), meta_csrf(&page))
}

fn post(c: &Console, path: &str, form: &str, headers: &[(&str, &str)]) -> Resp {
    send(c, "POST", path, form.as_bytes(), &[&[("content-type", "application/x-www-form-urlencoded")], headers].concat())
}

/// One request to the console, redirects not followed (they are what some answers are).
fn send(c: &Console, method: &str, path: &str, body: &[u8], headers: &[(&str, &str)]) -> Resp {
    let agent = ureq::AgentBuilder::new().redirects(0).timeout(Duration::from_secs(120)).build();
    send_with(&agent, method, &format!("{}{path}", c.base), Some(body), headers)
}

#[test]
fn without_the_token_every_write_is_refused_and_changes_nothing() {
    let h = Home::new();
    let keep = put(&h, "b", "keep.txt", b"keep me", "text/plain");
    let id = keep["meta"]["id"].as_str().unwrap().to_string();
    let before = snapshot(&h);
    let c = console(&h, Some("s3cret"));
    let (cookie, csrf) = sign_in(&c, "s3cret");
    let anon_csrf = meta_csrf(&request("GET", &format!("{}/", c.base), &[]));
    let evil_host = "evil.example:80".to_string();
    let upload = "/b/b/upload?name=new.txt";
    let delete = format!("/a/{id}/delete");
    let del_form = |v: &str| format!("csrf={v}");
    let attempts: Vec<(&str, Resp, u16)> = vec![
        ("upload, no credentials", send(&c, "PUT", upload, b"x", &[]), 401),
        ("upload, wrong bearer", send(&c, "PUT", upload, b"x", &[("authorization", "Bearer s3cre")]), 403),
        ("upload, empty bearer", send(&c, "PUT", upload, b"x", &[("authorization", "Bearer ")]), 403),
        ("upload, forged cookie", send(&c, "PUT", upload, b"x", &[("cookie", "artifact_console=00ff"), ("x-csrf-token", &csrf)]), 403),
        ("upload, token as cookie", send(&c, "PUT", upload, b"x", &[("cookie", "artifact_console=s3cret"), ("x-csrf-token", &csrf)]), 403),
        ("upload, cookie without CSRF", send(&c, "PUT", upload, b"x", &[("cookie", &cookie)]), 403),
        ("upload, cookie with anonymous CSRF", send(&c, "PUT", upload, b"x", &[("cookie", &cookie), ("x-csrf-token", &anon_csrf)]), 403),
        (
            "upload, other origin",
            send(&c, "PUT", upload, b"x", &[("cookie", &cookie), ("x-csrf-token", &csrf), ("origin", "http://evil.example")]),
            403,
        ),
        (
            "upload, cross-site fetch",
            send(&c, "PUT", upload, b"x", &[("cookie", &cookie), ("x-csrf-token", &csrf), ("sec-fetch-site", "cross-site")]),
            403,
        ),
        ("upload, DNS-rebound host", send(&c, "PUT", upload, b"x", &[("host", &evil_host), ("authorization", "Bearer s3cret")]), 421),
        ("delete, no credentials", post(&c, &delete, &del_form(&csrf), &[]), 401),
        ("delete, cookie, wrong CSRF", post(&c, &delete, &del_form("0123456789abcdef0123456789abcdef"), &[("cookie", &cookie)]), 403),
        ("delete, cookie, no CSRF", post(&c, &delete, "", &[("cookie", &cookie)]), 403),
        ("delete, cookie, anonymous CSRF", post(&c, &delete, &del_form(&anon_csrf), &[("cookie", &cookie)]), 403),
        ("delete, wrong bearer", post(&c, &delete, "", &[("authorization", "Bearer nope")]), 403),
        ("delete, other origin", post(&c, &delete, &del_form(&csrf), &[("cookie", &cookie), ("origin", "null")]), 403),
        ("delete, DNS-rebound host", post(&c, &delete, &del_form(&csrf), &[("cookie", &cookie), ("host", &evil_host)]), 421),
        ("sign-in, wrong token", post(&c, "/login", &format!("csrf={anon_csrf}&token=s3cre"), &[]), 403),
        ("sign-in, no CSRF", post(&c, "/login", "token=s3cret", &[]), 403),
        ("sign-out, no credentials", post(&c, "/logout", "", &[]), 401),
    ];
    for (what, r, want) in &attempts {
        assert_eq!(r.status, *want, "{what}: {}", String::from_utf8_lossy(&r.body));
        assert!(r.header("set-cookie").is_none(), "{what} set a cookie");
    }
    assert_eq!(snapshot(&h), before, "a refused write changed the store");

    // A console started without a token takes no writes at all, whatever is sent.
    drop(c);
    let ro = console(&h, None);
    for r in [
        send(&ro, "PUT", upload, b"x", &[("authorization", "Bearer ")]),
        send(&ro, "PUT", upload, b"x", &[("authorization", "Bearer s3cret")]),
        post(&ro, &delete, "", &[("authorization", "Bearer s3cret")]),
        post(&ro, "/login", &format!("csrf={}&token=", meta_csrf(&request("GET", &format!("{}/", ro.base), &[]))), &[]),
    ] {
        assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    }
    assert_eq!(snapshot(&h), before, "a read-only console changed the store");
    drop(ro);

    // The same requests with the token do write: the refusals above were not a broken route.
    let c = console(&h, Some("s3cret"));
    let (cookie, csrf) = sign_in(&c, "s3cret");
    let r = send(&c, "PUT", upload, b"new bytes", &[("authorization", "Bearer s3cret"), ("content-type", "text/plain")]);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let r = send(&c, "PUT", upload, b"new bytes", &[("cookie", &cookie), ("x-csrf-token", &csrf), ("origin", &format!("http://{}", c.host))]);
    assert_eq!(r.status, 200, "the pair exists: get-or-create answers 200; {}", String::from_utf8_lossy(&r.body));
    assert_eq!(h.cmd(&["cat", "b/new.txt"]).stdout, b"new bytes");
    let r = post(&c, &delete, &del_form(&csrf), &[("cookie", &cookie)]);
    assert_eq!(r.status, 303, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(h.cmd(&["head", "b/keep.txt"]).status.code(), Some(3), "deleted through the console");
}

#[test]
fn an_upload_that_is_cut_or_too_large_stores_nothing() {
    use std::io::Write;
    let h = Home::new();
    put(&h, "b", "keep.txt", b"keep me", "text/plain");
    let before = snapshot(&h);
    let c = console_with(&h, Some("tok"), &["--max-upload", "100000"]);

    // Past --max-upload: 413, typed, nothing stored.
    let r = send(&c, "PUT", "/b/b/big.bin?name=x", &[], &[]);
    assert_eq!(r.status, 404, "not an upload route");
    let r = send(&c, "PUT", "/b/b/upload?name=big.bin", &random_bytes(100_001, 1), &[("authorization", "Bearer tok")]);
    assert_eq!(r.status, 413, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.error_kind(), "too-large");
    // No name: 400.
    let r = send(&c, "PUT", "/b/b/upload", b"x", &[("authorization", "Bearer tok")]);
    assert_eq!(r.status, 400);

    // A client that promises 90,000 bytes, sends 30,000 and goes away.
    let mut s = std::net::TcpStream::connect(&c.host).unwrap();
    write!(s, "PUT /b/b/upload?name=cut.bin HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer tok\r\nContent-Length: 90000\r\n\r\n", c.host).unwrap();
    s.write_all(&random_bytes(30_000, 2)).unwrap();
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    drop(s);
    // The console notices and gives the upload up; the next request is served as usual.
    wait_until("the cut upload to be given up", Duration::from_secs(20), || {
        request("GET", &format!("{}/b/b", c.base), &[]).status == 200 && snapshot(&h) == before
    });
    assert_eq!(h.cmd(&["head", "b/cut.bin"]).status.code(), Some(3));
    assert_eq!(snapshot(&h), before, "a refused or cut upload changed the store");
    let r = send(&c, "PUT", "/b/b/upload?name=whole.bin", &random_bytes(100_000, 3), &[("authorization", "Bearer tok")]);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(h.cmd(&["cat", "b/whole.bin"]).stdout, random_bytes(100_000, 3));
}

#[test]
fn a_bucket_pages_with_the_cursor_and_filters_by_date_and_producer() {
    let h = Home::new();
    let rt = h.runtime();
    for i in 0..57 {
        let o = artifact_host::model::PutOptions {
            bucket: Some("many".into()),
            name: Some(format!("f{i:02}.txt")),
            created_by: Some(if i % 2 == 0 { "even" } else { "odd" }.into()),
            ..Default::default()
        };
        rt.put(format!("{i}").as_bytes(), &o).unwrap();
    }
    let c = console(&h, None);
    let rows = |html: &str| html.matches("<tr><td><a href=\"/a/").count();
    let first = request("GET", &format!("{}/b/many", c.base), &[]);
    let html = String::from_utf8_lossy(&first.body).to_string();
    assert_eq!(rows(&html), 50);
    assert!(html.contains("57 artifacts"), "the bucket's count");
    let at = html.find("id=\"next-page\"").expect("a next page link");
    let href = html[..at].rsplit("href=\"").next().unwrap().split('"').next().unwrap().replace("&amp;", "&");
    let second = request("GET", &format!("{}{href}", c.base), &[]);
    assert_eq!(rows(&String::from_utf8_lossy(&second.body)), 7, "{href}");
    let odd = request("GET", &format!("{}/b/many?created_by=odd", c.base), &[]);
    assert_eq!(rows(&String::from_utf8_lossy(&odd.body)), 28);
    let later = request("GET", &format!("{}/b/many?after=2999-01-01", c.base), &[]);
    assert!(String::from_utf8_lossy(&later.body).contains("No artifact matches these filters"));
    let bad = request("GET", &format!("{}/b/many?after=yesterday", c.base), &[]);
    assert_eq!(bad.status, 400, "a bad date is a clear error, not a crash");
    assert!(String::from_utf8_lossy(&bad.body).contains("2026-12-01"));
}

#[test]
fn refuses_a_network_address_unless_told_and_then_needs_the_token() {
    let h = Home::new();
    let o = h.command(&["console", "--listen", "0.0.0.0:0"]).env_remove("ARTIFACT_CONSOLE_TOKEN").output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("--allow-remote"));
    let o = h.command(&["console", "--listen", "0.0.0.0:0", "--allow-remote"]).env_remove("ARTIFACT_CONSOLE_TOKEN").output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("ARTIFACT_CONSOLE_TOKEN"));
}

fn screenshots() -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots");
    // Only this run's pictures.
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The texts of the links in the first column of a table.
fn first_column(b: &Browser, table: &str) -> Vec<String> {
    let v = b.exec(&format!("return [...document.querySelectorAll('{table} tbody tr td:first-child')].map(td => td.textContent)"), vec![]);
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

#[test]
fn a_person_browses_previews_downloads_uploads_and_deletes_in_chromium() {
    if !webdriver::available() {
        assert!(std::env::var("ARTIFACT_REQUIRE_BROWSER").is_err(), "ARTIFACT_REQUIRE_BROWSER is set but chromium/chromedriver are not on PATH");
        eprintln!("skipped: chromium and chromedriver are not installed (scripts/deps.sh chromium)");
        return;
    }
    let h = Home::new();
    let csv = "id,name,score\n1,\"Smith, Jane\",3.5\n2,\"say \"\"hi\"\"\",4\n3,<b>bold</b>,5\n";
    put(&h, "reports", "2026/report.csv", csv.as_bytes(), "text/csv");
    put(&h, "reports", "2026/notes.txt", b"plain notes\n", "text/plain");
    put(&h, "reports", "summary.json", br#"{"rows":3,"tags":["a","b"],"nested":{"ok":true}}"#, "application/json");
    let binary = random_bytes(300_000, 7);
    put(&h, "reports", "blob.bin", &binary, "application/octet-stream");
    let p1 = put(&h, "parts", "p1.json", br#"{"items":[1]}"#, "application/json");
    let p2 = put(&h, "parts", "p2.json", br#"{"items":[2]}"#, "application/json");
    let m = h.json(
        &["manifest", "create", "--strategy", "concat", "--merge-path", "items", "--bucket", "parts", "--name", "all", p1["meta"]["id"].as_str().unwrap(), p2["meta"]["id"].as_str().unwrap()],
        true,
    );
    let hostile = [
        "<script>window.__pwned=1</script>".to_string(),
        "\"quotes' & <img src=x onerror=\"window.__pwned=2\">".to_string(),
        "\u{202e}fdp.exe".to_string(),
        format!("long-{}", "n".repeat(1019)),
    ];
    assert_eq!(hostile[3].len(), 1024);
    for n in &hostile {
        put(&h, "hostile", n, b"x", "text/plain");
    }
    let shots = screenshots();
    let downloads = tempfile::tempdir().unwrap();
    let c = console(&h, Some("tok"));
    let b = Browser::start(downloads.path()).expect("chromium starts");

    // Buckets, with counts.
    b.goto(&format!("{}/", c.base));
    assert_eq!(first_column(&b, "#buckets"), ["hostile", "parts", "reports"]);
    b.screenshot(&shots.join("01-buckets.png"));

    // A bucket, then a filter on the name prefix.
    b.find("#buckets a[href='/b/reports']").unwrap().click();
    b.find("#artifacts").unwrap();
    let mut names = first_column(&b, "#artifacts");
    names.sort();
    assert_eq!(names, ["2026/notes.txt", "2026/report.csv", "blob.bin", "summary.json"]);
    b.screenshot(&shots.join("02-bucket.png"));
    b.find("input[name=prefix]").unwrap().send_keys("2026/");
    b.find("form.filters button[type=submit]").unwrap().click();
    wait_until("the filtered list", Duration::from_secs(10), || b.url().contains("prefix=2026%2F"));
    let mut names = first_column(&b, "#artifacts");
    names.sort();
    assert_eq!(names, ["2026/notes.txt", "2026/report.csv"]);
    b.screenshot(&shots.join("03-filtered.png"));

    // The CSV's page: its first rows as a table, quoted fields intact, markup as text.
    b.exec("[...document.querySelectorAll('#artifacts a')].find(a => a.textContent === '2026/report.csv').click()", vec![]);
    b.find("#preview table.csv").unwrap();
    let cells = b.exec("return [...document.querySelectorAll('#preview table.csv tr')].map(tr => [...tr.children].map(c => c.textContent))", vec![]);
    assert_eq!(
        cells,
        serde_json::json!([["id", "name", "score"], ["1", "Smith, Jane", "3.5"], ["2", "say \"hi\"", "4"], ["3", "<b>bold</b>", "5"]])
    );
    assert!(b.find("#result-ref").unwrap().text().contains("\"ref\": \"noetl://"));
    b.screenshot(&shots.join("04-artifact-csv.png"));

    // Download through the signed link: the file that lands is the stored bytes.
    b.find("#download").unwrap().click();
    let landed = downloads.path().join("report.csv");
    wait_until("the download", Duration::from_secs(30), || std::fs::read(&landed).is_ok_and(|d| d.len() == csv.len()));
    assert_eq!(std::fs::read(&landed).unwrap(), csv.as_bytes());
    let href = b.find("#download").unwrap().attr("href").unwrap();
    let signed = send(&c, "GET", &href, b"", &[]);
    assert_eq!(signed.status, 303);
    assert!(signed.header("location").unwrap().starts_with("/v1/"), "a signed URL: {:?}", signed.header("location"));

    // JSON as a tree; bytes as hex; a manifest as its ordered parts.
    b.goto(&format!("{}/b/reports", c.base));
    b.exec("[...document.querySelectorAll('#artifacts a')].find(a => a.textContent === 'summary.json').click()", vec![]);
    b.find("#preview .json details").unwrap();
    assert!(b.find("#preview .json").unwrap().text().contains("nested"));
    b.screenshot(&shots.join("05-artifact-json.png"));
    b.goto(&format!("{}/b/reports", c.base));
    b.exec("[...document.querySelectorAll('#artifacts a')].find(a => a.textContent === 'blob.bin').click()", vec![]);
    let dump = b.find("#preview pre.hex").unwrap().text();
    assert!(dump.starts_with(&format!("00000000  {:02x} {:02x}", binary[0], binary[1])), "{}", &dump[..80.min(dump.len())]);
    b.goto(&format!("{}/a/{}", c.base, m["meta"]["id"].as_str().unwrap()));
    assert_eq!(first_column(&b, "#parts"), ["0", "1"]);
    let states = b.exec("return [...document.querySelectorAll('#parts tbody tr td:last-child')].map(td => td.textContent)", vec![]);
    assert_eq!(states, serde_json::json!(["present", "present"]));
    b.screenshot(&shots.join("06-manifest.png"));

    // Sign in, upload by choosing a file and by dropping one, then delete one with confirmation.
    b.goto(&format!("{}/b/reports", c.base));
    assert!(b.find_all("#upload").is_empty(), "no upload area before signing in");
    b.goto(&format!("{}/login?next=%2Fb%2Freports", c.base));
    b.screenshot(&shots.join("07-sign-in.png"));
    b.find("#token").unwrap().send_keys("tok");
    b.find("form.login button[type=submit]").unwrap().click();
    wait_until("the bucket after signing in", Duration::from_secs(10), || b.url().ends_with("/b/reports"));
    let chosen = random_bytes(200_000, 11);
    let chosen_path = h.write("chosen.bin", &chosen);
    b.find("#upload-input").unwrap().send_keys(&chosen_path);
    b.wait_for("#upload-status li.created", Duration::from_secs(60)).unwrap();
    assert_eq!(h.cmd(&["cat", "reports/chosen.bin"]).stdout, chosen);
    b.exec(
        "const dt = new DataTransfer(); dt.items.add(new File(['dropped text'], 'dropped.txt', {type: 'text/plain'})); \
         document.getElementById('upload').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));",
        vec![],
    );
    wait_until("the dropped upload", Duration::from_secs(60), || b.find_all("#upload-status li.created").len() == 2);
    assert_eq!(h.cmd(&["cat", "reports/dropped.txt"]).stdout, b"dropped text");
    b.screenshot(&shots.join("08-uploaded.png"));
    b.exec("[...document.querySelectorAll('#upload-status a')].find(a => a.textContent === 'dropped.txt').click()", vec![]);
    b.find("#delete").unwrap().click();
    b.find("#confirm-delete").unwrap();
    b.screenshot(&shots.join("09-confirm-delete.png"));
    b.find("#confirm-delete").unwrap().click();
    b.wait_for(".notice", Duration::from_secs(10)).unwrap();
    assert!(b.find(".notice").unwrap().text().contains("dropped.txt"));
    assert_eq!(h.cmd(&["head", "reports/dropped.txt"]).status.code(), Some(3), "deleted");
    assert_eq!(h.cmd(&["cat", "reports/chosen.bin"]).stdout, chosen, "the other upload is untouched");

    // Hostile names render as text, on the list and on their own pages; no script runs.
    b.goto(&format!("{}/b/hostile", c.base));
    b.find("#artifacts").unwrap();
    let mut shown = first_column(&b, "#artifacts");
    shown.sort();
    let mut want = hostile.to_vec();
    want.sort();
    assert_eq!(shown, want);
    b.screenshot(&shots.join("10-hostile.png"));
    for n in &hostile {
        b.goto(&format!("{}/b/hostile", c.base));
        b.exec("[...document.querySelectorAll('#artifacts a')].find(a => a.textContent === arguments[0]).click()", vec![serde_json::json!(n)]);
        wait_until("the artifact page", Duration::from_secs(10), || b.url().contains("/a/"));
        assert_eq!(b.find("h1").unwrap().prop("textContent"), serde_json::json!(n));
        assert_eq!(b.exec("return window.__pwned === undefined && document.scripts.length", vec![]), serde_json::json!(1), "{n:?}");
    }

    // An address that names nothing: a page that says so and links back.
    b.goto(&format!("{}/a/01M84EG4VHHF84MF34ZRCQAC3P", c.base));
    assert_eq!(b.find("h1").unwrap().text(), "not found");
    assert!(b.find(".error").unwrap().text().contains("no artifact"));
    b.screenshot(&shots.join("11-not-found.png"));

    // A phone-sized window still shows the bucket table.
    b.set_window_size(390, 844);
    b.goto(&format!("{}/b/reports", c.base));
    b.find("#artifacts").unwrap();
    b.screenshot(&shots.join("12-phone.png"));
}
