//! A Spin HTTP component written with spin-sdk that uses the artifact component as a component
//! dependency: `GET /summary?ref=BUCKET/NAME` reads a CSV artifact through
//! `artifact:store/artifacts.get` (verified by the store) and answers an HTML summary: its
//! record, the columns with their numeric ranges, and the first rows.

use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;

mod bindings {
    // The store's WIT package (with its vendored deps) first, then this example's world.
    wit_bindgen::generate!({ world: "example:csv-summary/summary", path: ["../../wit", "wit"], generate_all });
}

use bindings::artifact::store::artifacts::{self, GetOptions, Mode};
use bindings::artifact::store::types::Error;

/// The most of a CSV the summary reads.
const MAX_BYTES: u64 = 8 << 20;
const ROWS_SHOWN: usize = 10;

#[http_component]
fn handle(req: Request) -> anyhow::Result<impl IntoResponse> {
    let query = req.query();
    let Some(r) = query.split('&').find_map(|p| p.strip_prefix("ref=")).and_then(decode) else {
        return Ok(page(400, "Give the artifact as ?ref=BUCKET/NAME (or any ref form).".into()));
    };
    let opts = GetOptions { mode: Some(Mode::Text), max_bytes: Some(MAX_BYTES), range: None, resolve_manifest: None, manifest_limits: None };
    Ok(match artifacts::get(&r, opts) {
        Ok(g) => match g.data {
            artifacts::Body::Text(t) => page(200, summary(&g.meta.bucket, &g.meta.name, g.meta.bytes, &g.meta.sha256, &t)),
            _ => page(500, "the store answered a text read with another body".into()),
        },
        Err(Error::NotFound(m)) | Err(Error::InvalidRef(m)) => page(404, esc(&m)),
        Err(Error::TooLarge(_)) => page(413, format!("the CSV is larger than the {MAX_BYTES} bytes this summary reads")),
        Err(Error::Decode(m)) => page(415, format!("not text: {}", esc(&m))),
        Err(e) => page(500, esc(&format!("{e:?}"))),
    })
}

fn page(status: u16, body: String) -> Response {
    let html = format!("<!doctype html><meta charset=utf-8><title>CSV summary</title><body>{body}</body>\n");
    Response::builder().status(status).header("content-type", "text/html; charset=utf-8").body(html).build()
}

/// `%XX` and `+` decoding of one query value. (The store has one, `artifact_component::encoding`,
/// but linking that crate would bring its component exports into this one.)
fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Splits one CSV line (RFC 4180 quotes; no newlines inside fields).
fn fields(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn summary(bucket: &str, name: &str, bytes: u64, sha256: &str, text: &str) -> String {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().map(fields).unwrap_or_default();
    let rows: Vec<Vec<String>> = lines.map(fields).collect();
    let mut cols = String::new();
    for (i, h) in header.iter().enumerate() {
        let nums: Vec<f64> = rows.iter().filter_map(|r| r.get(i)?.trim().parse().ok()).collect();
        let range = if nums.len() == rows.len() && !nums.is_empty() {
            let (lo, hi) = nums.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
            let mean = nums.iter().sum::<f64>() / nums.len() as f64;
            format!("numeric: min {lo}, max {hi}, mean {mean:.2}")
        } else {
            "text".into()
        };
        cols.push_str(&format!("<tr><td class=col>{}</td><td>{range}</td></tr>", esc(h)));
    }
    let mut first = String::from("<tr>");
    for h in &header {
        first.push_str(&format!("<th>{}</th>", esc(h)));
    }
    first.push_str("</tr>");
    for r in rows.iter().take(ROWS_SHOWN) {
        first.push_str("<tr>");
        for c in r {
            first.push_str(&format!("<td>{}</td>", esc(c)));
        }
        first.push_str("</tr>");
    }
    format!(
        "<h1>{}/{}</h1><p id=shape><span id=rows>{}</span> rows, <span id=cols>{}</span> columns, {bytes} bytes, sha-256 <code>{}</code></p>\
<h2>columns</h2><table id=columns>{cols}</table><h2>first rows</h2><table id=first>{first}</table>",
        esc(bucket),
        esc(name),
        rows.len(),
        header.len(),
        esc(sha256)
    )
}
