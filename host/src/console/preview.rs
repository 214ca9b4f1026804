//! Bounded previews of an artifact's first bytes: a JSON tree, the first rows of a CSV as a
//! table, text, or a hex dump. Each has a cap on what it renders; all text is escaped.

use super::html::esc;
use artifact_component::encoding::hex;
use std::fmt::Write;

/// Bytes of the body a preview reads (a verified range read).
pub const READ_BYTES: u64 = 64 << 10;
const JSON_NODES: usize = 2000;
const JSON_DEPTH: usize = 32;
const STRING_CHARS: usize = 500;
const CSV_ROWS: usize = 50;
const CSV_COLS: usize = 50;
const CELL_CHARS: usize = 200;
const HEX_BYTES: usize = 4096;

/// Which preview fits a body.
#[derive(Debug, PartialEq, Eq)]
pub enum Kind {
    Json,
    Csv,
    Text,
    Hex,
}

/// Picks the preview from the content type and name; `head` decides between text and hex when
/// the type says neither.
pub fn kind_of(content_type: &str, name: &str, head: &[u8]) -> Kind {
    let ct = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let lower = name.to_ascii_lowercase();
    if ct == "text/csv" || ct == "text/tab-separated-values" || lower.ends_with(".csv") || lower.ends_with(".tsv") {
        Kind::Csv
    } else if ct.ends_with("json") || ct.ends_with("+json") {
        Kind::Json
    } else if ct.starts_with("text/") || looks_like_text(head) {
        Kind::Text
    } else {
        Kind::Hex
    }
}

fn looks_like_text(b: &[u8]) -> bool {
    // A cut may split the last character: allow an incomplete UTF-8 tail.
    let valid = match std::str::from_utf8(b) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    };
    valid && !b.iter().any(|&c| c == 0 || (c < 0x20 && !b"\t\n\r\x0c".contains(&c)))
}

fn text_of(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// The preview as HTML. `complete`: whether `head` is the whole body.
pub fn render(content_type: &str, name: &str, head: &[u8], complete: bool) -> String {
    let note = if complete { String::new() } else { format!("<p class=\"muted\">the first {} are shown</p>", super::html::size(head.len() as u64)) };
    let body = match kind_of(content_type, name, head) {
        Kind::Json if complete => match serde_json::from_slice::<serde_json::Value>(head) {
            Ok(v) => json_tree(&v),
            Err(_) => pre(head),
        },
        Kind::Json | Kind::Text => pre(head),
        Kind::Csv => csv_table(head, complete, if name.to_ascii_lowercase().ends_with(".tsv") || content_type.contains("tab-separated") { b'\t' } else { b',' }),
        Kind::Hex => hex_dump(head),
    };
    format!("{note}{body}")
}

fn pre(b: &[u8]) -> String {
    format!("<pre class=\"text\">{}</pre>", esc(&text_of(b)))
}

/// A JSON value as nested `<details>` (objects, arrays) and typed leaves.
pub fn json_tree(v: &serde_json::Value) -> String {
    let mut out = String::from("<div class=\"json\">");
    let mut budget = JSON_NODES;
    node(&mut out, None, v, 0, &mut budget);
    if budget == 0 {
        out.push_str("<p class=\"muted\">the tree is cut at 2000 values</p>");
    }
    out.push_str("</div>");
    out
}

fn node(out: &mut String, key: Option<&str>, v: &serde_json::Value, depth: usize, budget: &mut usize) {
    use serde_json::Value;
    if *budget == 0 {
        return;
    }
    *budget -= 1;
    let label = key.map(|k| format!("<span class=\"key\">{}</span>: ", esc(&clip(k, STRING_CHARS)))).unwrap_or_default();
    let leaf = |class: &str, text: String| format!("<div class=\"leaf\">{label}<span class=\"{class}\">{}</span></div>", esc(&text));
    match v {
        Value::Null => out.push_str(&leaf("null", "null".into())),
        Value::Bool(b) => out.push_str(&leaf("bool", b.to_string())),
        Value::Number(n) => out.push_str(&leaf("num", n.to_string())),
        Value::String(s) => out.push_str(&leaf("str", format!("\"{}\"", clip(s, STRING_CHARS)))),
        Value::Array(_) | Value::Object(_) if depth >= JSON_DEPTH => out.push_str(&leaf("muted", "…".into())),
        Value::Array(items) => {
            let _ = write!(out, "<details{}><summary>{label}<span class=\"muted\">[{} items]</span></summary>", open(depth), items.len());
            for (i, item) in items.iter().enumerate() {
                node(out, Some(&i.to_string()), item, depth + 1, budget);
            }
            out.push_str("</details>");
        }
        Value::Object(map) => {
            let _ = write!(out, "<details{}><summary>{label}<span class=\"muted\">{{{} keys}}</span></summary>", open(depth), map.len());
            for (k, item) in map {
                node(out, Some(k), item, depth + 1, budget);
            }
            out.push_str("</details>");
        }
    }
}

fn open(depth: usize) -> &'static str {
    if depth < 2 {
        " open"
    } else {
        ""
    }
}

/// RFC 4180 records: quoted fields may hold separators, quotes (`""`) and newlines. Stops after
/// `max` records; a record cut by the end of a partial body is dropped.
pub fn csv_records(b: &[u8], complete: bool, sep: u8, max: usize) -> Vec<Vec<String>> {
    let text = text_of(b);
    let mut rows = Vec::new();
    let (mut row, mut field) = (Vec::new(), String::new());
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                if rows.len() == max {
                    return rows;
                }
            }
            c if c as u32 == sep as u32 => row.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    if complete && (!field.is_empty() || !row.is_empty()) {
        row.push(field);
        rows.push(row);
    }
    rows
}

fn csv_table(b: &[u8], complete: bool, sep: u8) -> String {
    let rows = csv_records(b, complete, sep, CSV_ROWS + 1);
    let Some((header, body)) = rows.split_first() else {
        return "<p class=\"muted\">empty</p>".into();
    };
    let cell = |tag: &str, s: &str| format!("<{tag}>{}</{tag}>", esc(&clip(s, CELL_CHARS)));
    let mut out = String::from("<div class=\"scroll\"><table class=\"csv\"><thead><tr>");
    for h in header.iter().take(CSV_COLS) {
        out.push_str(&cell("th", h));
    }
    out.push_str("</tr></thead><tbody>");
    for r in body {
        out.push_str("<tr>");
        for c in r.iter().take(CSV_COLS) {
            out.push_str(&cell("td", c));
        }
        out.push_str("</tr>");
    }
    let _ = write!(out, "</tbody></table></div><p class=\"muted\">{} rows shown</p>", body.len());
    out
}

/// `offset  hex bytes  ascii`, 16 bytes a line, at most 4 KiB.
pub fn hex_dump(b: &[u8]) -> String {
    let mut out = String::from("<pre class=\"hex\">");
    for (i, line) in b[..b.len().min(HEX_BYTES)].chunks(16).enumerate() {
        let h = hex(line);
        let pairs: Vec<&str> = (0..line.len()).map(|j| &h[2 * j..2 * j + 2]).collect();
        let ascii: String = line.iter().map(|&c| if c.is_ascii_graphic() || c == b' ' { c as char } else { '.' }).collect();
        let _ = writeln!(out, "{:08x}  {:<47}  {}", i * 16, pairs.join(" "), esc(&ascii));
    }
    out.push_str("</pre>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_by_type_then_name_then_bytes() {
        assert_eq!(kind_of("text/csv", "x", b""), Kind::Csv);
        assert_eq!(kind_of("application/octet-stream", "Report.CSV", b""), Kind::Csv);
        assert_eq!(kind_of("application/json", "x", b""), Kind::Json);
        assert_eq!(kind_of("application/vnd.api+json", "x", b""), Kind::Json);
        assert_eq!(kind_of("application/octet-stream", "x", b"hello\n"), Kind::Text);
        assert_eq!(kind_of("application/octet-stream", "x", b"\x00\x01"), Kind::Hex);
    }

    #[test]
    fn csv_quotes_newlines_and_cut_records() {
        let b = b"a,b\n\"x,1\",\"say \"\"hi\"\"\nthere\"\r\nlast,cut";
        let r = csv_records(b, false, b',', 10);
        assert_eq!(r, vec![vec!["a", "b"], vec!["x,1", "say \"hi\"\nthere"]]);
        assert_eq!(csv_records(b, true, b',', 10).len(), 3);
        assert_eq!(csv_records(b"1\n2\n3\n", true, b',', 2).len(), 2);
    }

    #[test]
    fn every_preview_escapes() {
        let evil = b"<script>alert(1)</script>";
        for (ct, name) in [("text/plain", "t"), ("text/csv", "t.csv"), ("application/octet-stream", "b")] {
            let h = render(ct, name, evil, true);
            assert!(!h.contains("<script>"), "{ct}: {h}");
        }
        let j = render("application/json", "j", br#"{"<img src=x>":"</details><script>"}"#, true);
        assert!(!j.contains("<img") && !j.contains("<script>"), "{j}");
        assert!(j.contains("&lt;img src=x&gt;"));
    }

    #[test]
    fn json_tree_is_bounded() {
        let big: Vec<u32> = (0..5000).collect();
        let h = json_tree(&serde_json::json!(big));
        assert!(h.matches("class=\"leaf\"").count() < JSON_NODES);
        assert!(h.contains("cut at 2000"));
        let mut deep = serde_json::json!(1);
        for _ in 0..100 {
            deep = serde_json::json!([deep]);
        }
        assert!(json_tree(&deep).matches("<details").count() <= JSON_DEPTH);
    }

    #[test]
    fn hex_dump_lines() {
        let h = hex_dump(&(0u8..20).collect::<Vec<_>>());
        assert!(h.contains("00000000  00 01 02"), "{h}");
        assert!(h.contains("00000010  10 11 12 13"), "{h}");
    }
}
