//! `--content-type auto` (the default of `put` and `upload`): the type registered for the file
//! name's extension (the `mime_guess` table), else `application/json` when the body parses as
//! JSON, else `application/octet-stream`. Bodies longer than [`SNIFF`] are judged by their
//! first [`SNIFF`] bytes: JSON when they open an object or array and are UTF-8.

use std::io::{Chain, Cursor, Read};

/// Bytes read ahead to judge a body without a known extension.
pub const SNIFF: usize = 1 << 20;

/// A body with the bytes read ahead of it put back in front.
pub type Replayed<R> = Chain<Cursor<Vec<u8>>, R>;

/// The content type for `--content-type given` (`auto` or a type) of the body `input` named
/// `name`: reads ahead only when the type must be judged from the body, and returns the body
/// with those bytes first again.
pub fn resolve<R: Read>(given: &str, name: Option<&str>, mut input: R) -> std::io::Result<(String, Replayed<R>)> {
    if given != "auto" {
        return Ok((given.to_string(), Cursor::new(Vec::new()).chain(input)));
    }
    let (head, complete) = match name.and_then(by_name) {
        Some(_) => (Vec::new(), false),
        None => read_head(&mut input)?,
    };
    Ok((auto(name, &head, complete), Cursor::new(head).chain(input)))
}

/// The type registered for `name`'s extension, if any.
pub fn by_name(name: &str) -> Option<&'static str> {
    mime_guess::from_path(name).first_raw()
}

/// The content type for a body named `name` (if any) whose first bytes are `head`;
/// `complete`: `head` is the whole body.
fn auto(name: Option<&str>, head: &[u8], complete: bool) -> String {
    if let Some(m) = name.and_then(by_name) {
        return m.to_string();
    }
    if looks_like_json(head, complete) { "application/json" } else { "application/octet-stream" }.to_string()
}

fn looks_like_json(head: &[u8], complete: bool) -> bool {
    if complete {
        return !head.is_empty() && artifact_component::json_syntax::validate(head).is_ok();
    }
    let first = head.iter().find(|b| !b" \t\r\n".contains(b));
    // UTF-8 throughout, except a character cut by the end of the window.
    let utf8 = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    };
    matches!(first, Some(b'{' | b'[')) && utf8
}

/// The name of the logical content of a precompressed file: `report.csv.gz` → `report.csv`.
pub fn logical_name(name: &str) -> &str {
    [".gz", ".gzip", ".zz", ".deflate"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext).filter(|n| !n.is_empty()))
        .unwrap_or(name)
}

/// Reads up to [`SNIFF`] bytes; returns them and whether the input ended within them.
fn read_head(input: &mut dyn Read) -> std::io::Result<(Vec<u8>, bool)> {
    let mut head = Vec::new();
    input.take(SNIFF as u64 + 1).read_to_end(&mut head)?;
    let complete = head.len() <= SNIFF;
    Ok((head, complete))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_then_body() {
        assert_eq!(auto(Some("a.csv"), b"x", true), "text/csv");
        assert_eq!(auto(Some("R.JSON"), b"not json", true), "application/json");
        assert_eq!(auto(Some("t.parquet"), b"PAR1", true), "application/vnd.apache.parquet");
        assert_eq!(auto(Some("data"), b" {\"a\": [1, 2]}\n", true), "application/json");
        assert_eq!(auto(None, b"42", true), "application/json");
        assert_eq!(auto(None, b"{\"a\": ", true), "application/octet-stream", "truncated JSON");
        assert_eq!(auto(None, b"", true), "application/octet-stream");
        assert_eq!(auto(Some("noext"), &[0xff, 0x00], true), "application/octet-stream");
        // Longer than the window: judged by its start.
        let mut big = b"[".to_vec();
        big.extend(std::iter::repeat_n(b"1,".as_slice(), SNIFF).flatten());
        assert_eq!(auto(None, &big[..SNIFF], false), "application/json");
        let mut cut = vec![b'['];
        cut.extend("é".repeat(SNIFF).as_bytes());
        assert_eq!(auto(None, &cut[..SNIFF], false), "application/json", "a character cut at the window's end");
        assert_eq!(auto(None, &vec![b'x'; SNIFF], false), "application/octet-stream");
    }

    #[test]
    fn precompressed_files_are_typed_by_their_content() {
        assert_eq!(logical_name("report.csv.gz"), "report.csv");
        assert_eq!(logical_name("data.json.zz"), "data.json");
        assert_eq!(logical_name(".gz"), ".gz");
        assert_eq!(logical_name("plain.csv"), "plain.csv");
    }

    #[test]
    fn read_head_keeps_every_byte() {
        let data: Vec<u8> = (0..SNIFF + 10).map(|i| i as u8).collect();
        let mut r = &data[..];
        let (head, complete) = read_head(&mut r).unwrap();
        assert!(!complete);
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert_eq!([head, rest].concat(), data);
        let (head, complete) = read_head(&mut &b"{}"[..]).unwrap();
        assert!(complete && head == b"{}");
        // Through resolve: every byte, in order, whether or not it read ahead.
        for (given, name) in [("auto", None), ("auto", Some("x.csv")), ("text/plain", None)] {
            let (_, mut body) = resolve(given, name, &data[..]).unwrap();
            let mut all = Vec::new();
            body.read_to_end(&mut all).unwrap();
            assert!(all == data, "{given} {name:?}");
        }
        assert_eq!(resolve("text/plain", None, &b"{}"[..]).unwrap().0, "text/plain");
    }
}
