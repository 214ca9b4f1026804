//! Selection paths for `externalize`'s `extracted` fields: dotted names with `[i]` indexes.
//!
//! Grammar: an optional `$.` prefix (or `$` directly before `[`, or `$` alone for the whole
//! value), then segments separated by `.`; a segment is a name of any characters except `.`, `[`
//! and `]`, followed by zero or more `[i]` (decimal, no sign). Only the first segment may have an
//! empty name, and only when an index follows (`[0].id`). Examples: `data.items[0].id`,
//! `$.rows[2][1]`, `status`.
//!
//! Lookup: a name selects an object member, an index an array element. A path that does not
//! match the value (missing key, index out of bounds, wrong type) selects nothing, and the field
//! is simply absent from `extracted`. A name made of digits is still a name (`a.0` never indexes
//! an array). A malformed path is [`Error::InvalidArgument`].
//!
//! The key of a selected value is its path's last name without indexes (`data.items[0].id` →
//! `id`, `data.items[0]` → `items`); a path with no name at all (`$[0]`, `$`) is keyed by its own
//! text. When several paths share a key, the last path that selects something wins.

use crate::model::Error;
use serde_json::Value;

/// Longest accepted path text, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;
/// Most accepted steps (names plus indexes) in one path.
pub const MAX_STEPS: usize = 64;
/// Most accepted paths in one call.
pub const MAX_PATHS: usize = 256;

/// One step of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// An object member.
    Key(String),
    /// An array element.
    Index(usize),
}

/// A parsed selection path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path {
    /// The path as written.
    pub text: String,
    /// The steps, outermost first.
    pub steps: Vec<Step>,
    /// The key `extracted` uses for this path's value.
    pub key: String,
}

impl Path {
    /// Parses one path (see the module docs for the grammar).
    pub fn parse(text: &str) -> Result<Path, Error> {
        let bad = |why: &str| Error::InvalidArgument(format!("invalid select path {:?}: {why}", short(text)));
        if text.is_empty() {
            return Err(bad("it is empty"));
        }
        if text.len() > MAX_PATH_BYTES {
            return Err(bad(&format!("it is longer than {MAX_PATH_BYTES} bytes")));
        }
        let rest = match text.strip_prefix('$') {
            Some("") => "",
            Some(r) if r.starts_with('.') => &r[1..],
            Some(r) if r.starts_with('[') => r,
            _ => text,
        };
        let mut steps = Vec::new();
        if !rest.is_empty() || text != "$" {
            for (i, seg) in rest.split('.').enumerate() {
                let name_end = seg.find(['[', ']']).unwrap_or(seg.len());
                let (name, mut idx) = seg.split_at(name_end);
                if name.is_empty() && (i > 0 || idx.is_empty()) {
                    return Err(bad("a segment has an empty name"));
                }
                if !name.is_empty() {
                    steps.push(Step::Key(name.to_string()));
                }
                while !idx.is_empty() {
                    let inner = idx.strip_prefix('[').ok_or_else(|| bad("expected '[' after a name"))?;
                    let close = inner.find(']').ok_or_else(|| bad("unclosed '['"))?;
                    let digits = &inner[..close];
                    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(bad("an index must be a decimal number"));
                    }
                    let n = digits.parse::<usize>().map_err(|_| bad("an index is too large"))?;
                    steps.push(Step::Index(n));
                    idx = &inner[close + 1..];
                }
                if steps.len() > MAX_STEPS {
                    return Err(bad(&format!("it has more than {MAX_STEPS} steps")));
                }
            }
        }
        let key = steps
            .iter()
            .rev()
            .find_map(|s| match s {
                Step::Key(k) => Some(k.clone()),
                Step::Index(_) => None,
            })
            .unwrap_or_else(|| text.to_string());
        Ok(Path { text: text.to_string(), steps, key })
    }

    /// The value this path selects in `v`, if any.
    pub fn lookup<'a>(&self, v: &'a Value) -> Option<&'a Value> {
        self.steps.iter().try_fold(v, |cur, s| match s {
            Step::Key(k) => cur.as_object()?.get(k),
            Step::Index(i) => cur.as_array()?.get(*i),
        })
    }
}

fn short(s: &str) -> &str {
    let mut end = s.len().min(80);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Parses every path; the first malformed one is the error.
pub fn parse_all(paths: &[String]) -> Result<Vec<Path>, Error> {
    if paths.len() > MAX_PATHS {
        return Err(Error::InvalidArgument(format!("more than {MAX_PATHS} select paths")));
    }
    paths.iter().map(|p| Path::parse(p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn steps(p: &str) -> Vec<Step> {
        Path::parse(p).unwrap().steps
    }

    #[test]
    fn parses_the_grammar() {
        use Step::{Index as I, Key as K};
        assert_eq!(steps("data.items[0].id"), vec![K("data".into()), K("items".into()), I(0), K("id".into())]);
        assert_eq!(steps("$.data.items[0].id"), steps("data.items[0].id"));
        assert_eq!(steps("$.rows[2][10]"), vec![K("rows".into()), I(2), I(10)]);
        assert_eq!(steps("[1].x"), vec![I(1), K("x".into())]);
        assert_eq!(steps("$[1]"), vec![I(1)]);
        assert_eq!(steps("$"), vec![]);
        assert_eq!(steps("$ref.a"), vec![K("$ref".into()), K("a".into())]);
        assert_eq!(steps("with space.0"), vec![K("with space".into()), K("0".into())]);
        assert_eq!(Path::parse("data.items[0].id").unwrap().key, "id");
        assert_eq!(Path::parse("data.items[3]").unwrap().key, "items");
        assert_eq!(Path::parse("$[0]").unwrap().key, "$[0]");
        for bad in ["", ".", "a.", ".a", "a..b", "a.[0]", "a[", "a[]", "a[-1]", "a[x]", "a]", "a[0]b", "[0", "$.", "$..a"] {
            assert!(matches!(Path::parse(bad), Err(Error::InvalidArgument(_))), "{bad:?}");
        }
        assert!(Path::parse("a[99999999999999999999999]").is_err());
        assert!(Path::parse("a.".repeat(100).trim_end_matches('.')).is_err());
    }

    #[test]
    fn looks_up_or_selects_nothing() {
        let v = json!({"data": {"items": [{"id": 7}, {"id": 8}], "0": "zero"}, "n": null});
        let get = |p: &str| Path::parse(p).unwrap().lookup(&v).cloned();
        assert_eq!(get("data.items[1].id"), Some(json!(8)));
        assert_eq!(get("n"), Some(Value::Null));
        assert_eq!(get("data.0"), Some(json!("zero")));
        assert_eq!(get("$"), Some(v.clone()));
        for missing in ["nope", "data.items[2]", "data.items.id", "n.x", "data[0]", "$[0]"] {
            assert_eq!(get(missing), None, "{missing}");
        }
    }
}
