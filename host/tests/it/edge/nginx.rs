//! Conditional and range requests against nginx as the oracle: the same bytes served by
//! `artifact serve` (through a signed URL) and by nginx (a static file with the same
//! Last-Modified), a battery of `Range`, `If-None-Match`, `If-Modified-Since` and `If-Range`
//! headers on GET and HEAD, and the status, `Content-Range`, `Content-Length` and bytes
//! compared. Every intended difference is listed in [`DIFFERENCES`] (and in the README, with its
//! RFC reason); the test checks that each one still differs exactly so, and that nothing else
//! does.

use super::{Home, KEYS};
use crate::common::{request, Resp};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SIZE: usize = 100_000;

/// Cases (GET and HEAD) where the answer differs from nginx on purpose: (header, value, ours, nginx). Each
/// is in the README with its reason. Besides these, every HEAD with a `Range` differs: RFC 9110
/// §14.2 defines range handling for GET only and says a server MUST ignore Range on other
/// methods; nginx answers HEAD as it would GET (206 or 416).
const DIFFERENCES: &[(&str, &str, u16, u16)] = &[
    // RFC 9110 §14.2: a server MAY ignore or reject an invalid ranges-specifier; we ignore it and
    // send the whole representation, nginx rejects it with 416.
    ("Range", "bytes=+0-9", 200, 416),
    ("Range", "bytes=0-+9", 200, 416),
    ("Range", "bytes=0x1-2", 200, 416),
    ("Range", "bytes=5-4", 200, 416),
    ("Range", "bytes=x", 200, 416),
    ("Range", "bytes=-", 200, 416),
    // ... and nginx accepts blanks inside a range-spec, which the grammar does not have.
    ("Range", "bytes=0 -9", 200, 206),
    // RFC 9110 §5.6.1: a recipient MUST accept empty list elements; nginx rejects them.
    ("Range", "bytes=0-9,", 206, 416),
    ("Range", "bytes=, 0-9", 206, 416),
    // RFC 9110 §14.1.2: a last-pos past the end means "to the end", however many digits it
    // has; nginx overflows and rejects it.
    ("Range", "bytes=0-99999999999999999999", 206, 416),
    // RFC 9110 §14.2: a server MAY ignore a Range with several ranges; we send the whole body
    // (one verified stream) where nginx sends multipart/byteranges.
    ("Range", "bytes=0-9,20-29", 200, 206),
    ("Range", "bytes=0-0,-1", 200, 206),
    // RFC 9110 §13.1.3: a recipient MUST ignore If-Modified-Since that is not a valid
    // HTTP-date; nginx reads a date followed by garbage.
    ("If-Modified-Since", "{lm}x", 200, 304),
    // RFC 9110 §13.2.2: If-None-Match decides when present (If-Modified-Since is then ignored);
    // nginx lets a failing If-Modified-Since win over a matching If-None-Match.
    ("If-None-Match+If-Modified-Since", "{etag}+{earlier}", 304, 200),
];

fn nginx_bin() -> PathBuf {
    crate::common::on_path("nginx", &["/usr/sbin"])
        .unwrap_or_else(|| panic!("nginx not found (the oracle of this test): bash scripts/deps.sh nginx"))
}

/// nginx serving one directory on 127.0.0.1, in the foreground; stopped when dropped.
struct Nginx {
    _child: crate::common::Reaped,
    base: String,
}


fn start_nginx(dir: &std::path::Path, root: &std::path::Path) -> Nginx {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let d = dir.display();
    let conf = format!(
        "daemon off; master_process off; worker_processes 1; error_log {d}/error.log warn; pid {d}/nginx.pid;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp;
  uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;
  default_type application/octet-stream;
  server {{ listen 127.0.0.1:{port}; root {}; if_modified_since before; }}
}}
",
        root.display()
    );
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = Command::new(nginx_bin())
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nginx did not start: {:?}", std::fs::read_to_string(dir.join("error.log")));
        std::thread::sleep(Duration::from_millis(50));
    }
    Nginx { _child: crate::common::Reaped(child), base }
}

#[test]
fn conditional_and_range_requests_agree_with_nginx() {
    let home = Home::new();
    let data: Vec<u8> = (0..SIZE as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let id = home.put("f.bin", &data, &["--content-type", "application/octet-stream"]);
    let server = home.serve(&[]);
    let url = home.sign(&server.base, &id, &[]);
    let _ = KEYS;

    let ours0 = request("HEAD", &url, &[]);
    let lm = ours0.header("last-modified").unwrap().to_string();
    let lm_secs = artifact_component::time::parse_http_date(&lm).unwrap();
    let root = home.path().join("www");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("f.bin"), &data).unwrap();
    let st = Command::new("touch").arg("-d").arg(format!("@{lm_secs}")).arg(root.join("f.bin")).status().unwrap();
    assert!(st.success());
    let nginx = start_nginx(&home.path().join("nginx"), &root);
    let nurl = format!("{}/f.bin", nginx.base);
    let theirs0 = request("HEAD", &nurl, &[]);
    assert_eq!(theirs0.header("last-modified"), Some(lm.as_str()), "same Last-Modified on both");
    let etag = |r: &Resp| r.header("etag").unwrap().to_string();
    let (our_etag, their_etag) = (etag(&ours0), etag(&theirs0));
    let date = |secs: u64| artifact_component::time::format_http_date(secs * 1000);
    let (later, earlier) = (date(lm_secs + 3600), date(lm_secs - 3600));
    let rfc850 = {
        // Sunday, 06-Nov-94 08:49:37 GMT from the IMF-fixdate of Last-Modified.
        let p: Vec<&str> = lm.split(' ').collect();
        let day = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].iter().position(|d| p[0].starts_with(d)).unwrap();
        let long = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"][day];
        format!("{long}, {}-{}-{} {} GMT", p[1], p[2], &p[3][2..], p[4])
    };

    let ranges = [
        "bytes=0-9", "bytes=10-", "bytes=-5", "bytes=-0", "bytes=0-0", "bytes=99999-", "bytes=99990-", "bytes=100000-",
        "bytes=100005-", "bytes=5-4", "bytes=0-200000", "bytes=+0-9", "bytes=0-+9", "bytes= 0-9", "bytes =0-9", "BYTES=0-9",
        "bytes=0-9,20-29", "bytes=0-0,-1", "bytes=x", "items=0-9", "bytes=0x1-2", "bytes=-", "bytes=", "bytes=0-9,",
        "bytes=, 0-9", "bytes=0 -9", "bytes=99999999999999999999-", "bytes=0-99999999999999999999",
    ];
    // (header name, value for us, value for nginx)
    let mut cases: Vec<Vec<(&str, String, String)>> = vec![vec![]];
    for r in ranges {
        cases.push(vec![("Range", r.into(), r.into())]);
    }
    let same = |h: &'static str, v: &str| (h, v.to_string(), v.to_string());
    cases.extend([
        vec![("If-None-Match", our_etag.clone(), their_etag.clone())],
        vec![("If-None-Match", format!("W/{our_etag}"), format!("W/{their_etag}"))],
        vec![same("If-None-Match", "\"other\"")],
        vec![same("If-None-Match", "*")],
        vec![("If-None-Match", format!("\"other\", {our_etag}"), format!("\"other\", {their_etag}"))],
        vec![same("If-Modified-Since", &lm)],
        vec![same("If-Modified-Since", &later)],
        vec![same("If-Modified-Since", &earlier)],
        vec![same("If-Modified-Since", &rfc850)],
        vec![same("If-Modified-Since", "yesterday")],
        vec![same("If-Modified-Since", &format!("{lm}x"))],
        vec![same("If-Modified-Since", &format!("{earlier}x"))],
        vec![same("If-None-Match", "\"other\""), same("If-Modified-Since", &later)],
        vec![("If-None-Match", our_etag.clone(), their_etag.clone()), same("If-Modified-Since", &earlier)],
        vec![same("Range", "bytes=0-9"), same("If-Modified-Since", &lm)],
        vec![same("Range", "bytes=0-9"), same("If-Modified-Since", &earlier)],
        vec![same("Range", "bytes=0-9"), ("If-Range", our_etag.clone(), their_etag.clone())],
        vec![same("Range", "bytes=0-9"), same("If-Range", "\"other\"")],
        vec![same("Range", "bytes=0-9"), ("If-None-Match", our_etag.clone(), their_etag.clone())],
        vec![same("Range", "bytes=100000-"), same("If-Range", "\"other\"")],
    ]);

    // A listed difference for a case, if any.
    let listed = |case: &[(&str, String, String)]| -> Option<&(&str, &str, u16, u16)> {
        let name = case.iter().map(|(k, _, _)| *k).collect::<Vec<_>>().join("+");
        let value = case
            .iter()
            .map(|(_, v, _)| v.replace(&our_etag, "{etag}").replace(&earlier, "{earlier}").replace(&lm, "{lm}"))
            .collect::<Vec<_>>()
            .join("+");
        DIFFERENCES.iter().find(|d| d.0 == name && d.1 == value)
    };
    let mut compared = 0;
    let mut differences_seen = 0;
    let mut head_ranges = 0;
    let mut mismatches = Vec::new();
    let mut get_status = std::collections::HashMap::new();
    for method in ["GET", "HEAD"] {
        for case in &cases {
            let ours_h: Vec<(&str, &str)> = case.iter().map(|(k, v, _)| (*k, v.as_str())).collect();
            let theirs_h: Vec<(&str, &str)> = case.iter().map(|(k, _, v)| (*k, v.as_str())).collect();
            let ours = request(method, &url, &ours_h);
            let theirs = request(method, &nurl, &theirs_h);
            compared += 1;
            let label = format!("{method} {ours_h:?}");
            if method == "GET" {
                get_status.insert(label.clone(), theirs.status);
            } else if case.iter().any(|(k, _, _)| *k == "Range") {
                // HEAD ignores Range here: the answer is that of the same HEAD without it.
                let without: Vec<(&str, &str)> = ours_h.iter().filter(|(k, _)| *k != "Range").cloned().collect();
                let expected = request("HEAD", &url, &without).status;
                assert_eq!(ours.status, expected, "{label}: HEAD ignores Range");
                assert!(ours.header("content-range").is_none(), "{label}");
                if ours.status == 200 {
                    assert_eq!(ours.header("content-length"), Some(SIZE.to_string().as_str()), "{label}");
                }
                // nginx answers HEAD as it answers GET.
                assert_eq!(Some(&theirs.status), get_status.get(&label.replacen("HEAD", "GET", 1)), "{label}: nginx");
                head_ranges += 1;
                continue;
            }
            if let Some(d) = listed(case) {
                assert_eq!((ours.status, theirs.status), (d.2, d.3), "listed difference changed: {label}");
                differences_seen += usize::from(method == "GET");
                continue;
            }
            if ours.status != theirs.status {
                mismatches.push(format!("{label}: ours {} nginx {}", ours.status, theirs.status));
                continue;
            }
            if ours.header("content-range") != theirs.header("content-range") {
                mismatches.push(format!(
                    "{label}: Content-Range ours {:?} nginx {:?}",
                    ours.header("content-range"),
                    theirs.header("content-range")
                ));
            }
            if matches!(ours.status, 200 | 206) {
                if ours.header("content-length") != theirs.header("content-length") {
                    mismatches.push(format!(
                        "{label}: Content-Length ours {:?} nginx {:?}",
                        ours.header("content-length"),
                        theirs.header("content-length")
                    ));
                }
                if method == "GET" && ours.body != theirs.body {
                    mismatches.push(format!("{label}: bodies differ ({} vs {} bytes)", ours.body.len(), theirs.body.len()));
                }
            }
        }
    }
    eprintln!(
        "{compared} requests compared with nginx: {differences_seen} listed GET differences, {head_ranges} HEAD with Range"
    );
    assert!(mismatches.is_empty(), "unlisted differences from nginx:\n{}", mismatches.join("\n"));
    assert_eq!(differences_seen, DIFFERENCES.len(), "every listed difference is exercised");
}
