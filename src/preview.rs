//! Bounded JSON previews: a JSON value whose compact serialization fits a byte budget.
//!
//! Rules (deterministic; the same input and budget always give the same preview):
//! - A value whose compact serialization fits the budget is returned unchanged, with no marker.
//! - A string that is cut keeps a prefix of whole characters and ends with `…` (U+2026).
//! - An object that is cut keeps a selection of its entries, in key order (serde_json orders keys
//!   by their UTF-8 bytes); entries whose value does not fit whole are themselves summarised or
//!   left out. It gains `"_truncated": true` and `"_count": N`, N being its original number of
//!   entries. (An original `_truncated` or `_count` key is replaced by the marker.) An entry
//!   that does not fit whole is summarised in the room left minus what the next few entries
//!   need (but at least half of it); an array item that does not fit whole gets half of the room
//!   left (all of it when little is left), so first items are shown in most detail. A nested
//!   summary that would keep no entries is left out.
//! - An array that is cut becomes the object `{"_count": N, "_items": [first items…],
//!   "_truncated": true}`; `_items` is a prefix of the array, its last item possibly summarised.
//! - Selected fields ([`field`]) follow the nested rules: a cut string stays a string.
//! - At the top level a cut string becomes `{"_bytes": N, "_truncated": true, "_value": "…"}`
//!   (N = UTF-8 length of the original), so `preview._truncated` is `true` whenever the preview
//!   is not the whole value.
//!
//! Budgets below [`MIN_PREVIEW_MAX_BYTES`] are refused by the callers; every preview of a value
//! is then at most the budget, which [`preview`] checks before returning.

use serde_json::{Map, Value};

/// Default preview budget in bytes of compact JSON.
pub const DEFAULT_PREVIEW_MAX_BYTES: u64 = 1024;
/// Smallest accepted budget: room for the largest marker object.
pub const MIN_PREVIEW_MAX_BYTES: u64 = 64;

/// Marker key set on every cut container (and the top level of every cut preview).
pub const TRUNCATED: &str = "_truncated";
/// Original number of entries of a cut object or array.
pub const COUNT: &str = "_count";
/// The kept items of a cut array.
pub const ITEMS: &str = "_items";
/// The cut text of a top-level string.
pub const VALUE: &str = "_value";
/// Original UTF-8 length of a cut top-level string.
pub const BYTES: &str = "_bytes";

/// The ellipsis that ends a cut string.
pub const ELLIPSIS: char = '…';

/// Smallest budget worth spending on a summary of one nested value.
const MIN_SUMMARY: usize = 24;

/// Compact JSON size of one character inside a string literal, as serde_json writes it.
fn char_size(c: char) -> usize {
    match c {
        '"' | '\\' | '\u{08}' | '\u{0c}' | '\n' | '\r' | '\t' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

/// Compact size of a JSON string literal.
fn str_size(s: &str) -> usize {
    2 + s.chars().map(char_size).sum::<usize>()
}

/// Compact JSON size of `v`, exact when `<= cap`; otherwise some number `> cap` (counting stops
/// early, so the cost is bounded by `cap` rather than the size of `v`).
pub fn size_capped(v: &Value, cap: usize) -> usize {
    match v {
        Value::Null => 4,
        Value::Bool(true) => 4,
        Value::Bool(false) => 5,
        Value::Number(n) => n.to_string().len(),
        Value::String(s) => {
            let mut n = 2;
            for c in s.chars() {
                n += char_size(c);
                if n > cap {
                    return n;
                }
            }
            n
        }
        Value::Array(a) => {
            let mut n = 2 + a.len().saturating_sub(1);
            for x in a {
                if n > cap {
                    return n;
                }
                n += size_capped(x, cap - n);
            }
            n
        }
        Value::Object(o) => {
            let mut n = 2 + o.len().saturating_sub(1);
            for (k, x) in o {
                if n > cap {
                    return n;
                }
                n += str_size(k) + 1;
                if n > cap {
                    return n;
                }
                n += size_capped(x, cap - n);
            }
            n
        }
    }
}

fn size(v: &Value) -> usize {
    size_capped(v, usize::MAX)
}

/// The longest prefix of `s` such that the literal `"prefix…"` takes at most `budget` bytes.
fn cut_string(s: &str, budget: usize) -> Option<String> {
    let fixed = 2 + ELLIPSIS.len_utf8();
    if budget < fixed {
        return None;
    }
    let mut room = budget - fixed;
    let mut end = 0;
    for (i, c) in s.char_indices() {
        let n = char_size(c);
        if n > room {
            break;
        }
        room -= n;
        end = i + c.len_utf8();
    }
    let mut out = String::with_capacity(end + 3);
    out.push_str(&s[..end]);
    out.push(ELLIPSIS);
    Some(out)
}

/// Budget handed to one nested value that does not fit whole in `avail`: half of it while that
/// is roomy, so later entries still get space; all of it near the end.
fn share(avail: usize) -> Option<usize> {
    if avail >= 4 * MIN_SUMMARY {
        Some(avail / 2)
    } else if avail >= MIN_SUMMARY {
        Some(avail)
    } else {
        None
    }
}

/// `v` itself if it fits `budget`, else its summary, else `None`. A nested container summary
/// that kept nothing (only its markers) is not worth its bytes and is `None` too.
fn fit(v: &Value, budget: usize) -> Option<Value> {
    if size_capped(v, budget) <= budget {
        return Some(v.clone());
    }
    match v {
        Value::String(s) => cut_string(s, budget).map(Value::String),
        Value::Array(a) => fit_array(a, budget).filter(|p| p[ITEMS].as_array().is_some_and(|i| !i.is_empty())),
        Value::Object(o) => fit_object(o, budget).filter(|p| p.as_object().is_some_and(|m| m.len() > 2)),
        _ => None,
    }
}

fn marker(count: usize) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(COUNT.into(), Value::from(count as u64));
    m.insert(TRUNCATED.into(), Value::Bool(true));
    m
}

fn fit_array(a: &[Value], budget: usize) -> Option<Value> {
    let mut m = marker(a.len());
    m.insert(ITEMS.into(), Value::Array(Vec::new()));
    let base = size(&Value::Object(m.clone()));
    let mut remaining = budget.checked_sub(base)?;
    let mut items = Vec::new();
    for x in a {
        let sep = usize::from(!items.is_empty());
        let Some(avail) = remaining.checked_sub(sep) else { break };
        let full = size_capped(x, avail);
        let kept = if full <= avail {
            x.clone()
        } else {
            match share(avail).and_then(|b| fit(x, b)) {
                Some(p) => p,
                None => break,
            }
        };
        remaining -= sep + size(&kept);
        items.push(kept);
    }
    m.insert(ITEMS.into(), Value::Array(items));
    Some(Value::Object(m))
}

fn fit_object(o: &Map<String, Value>, budget: usize) -> Option<Value> {
    let mut m = marker(o.len());
    let mut remaining = budget.checked_sub(size(&Value::Object(m.clone())))?;
    // Each added entry costs `,"key":value`.
    const SMALLEST_ENTRY: usize = 1 + 2 + 1 + 1;
    let entries: Vec<(&String, &Value)> = o.iter().collect();
    for (i, &(k, x)) in entries.iter().enumerate() {
        if remaining < SMALLEST_ENTRY {
            break;
        }
        if k == TRUNCATED || k == COUNT {
            continue;
        }
        let Some(avail) = remaining.checked_sub(1 + str_size(k) + 1) else { continue };
        let full = size_capped(x, avail);
        let kept = if full <= avail {
            x.clone()
        } else {
            // Leave room for what the next few entries plausibly need, at most half.
            let reserve: usize = entries[i + 1..]
                .iter()
                .take(8)
                .map(|(k, v)| (2 + str_size(k) + size_capped(v, 32)).min(40))
                .sum();
            let b = avail.saturating_sub(reserve).max(avail / 2);
            match (avail >= MIN_SUMMARY).then(|| fit(x, b.max(MIN_SUMMARY))).flatten() {
                Some(p) => p,
                None => continue,
            }
        };
        remaining -= 1 + str_size(k) + 1 + size(&kept);
        m.insert(k.clone(), kept);
    }
    Some(Value::Object(m))
}

/// The preview of `v` within `budget` bytes of compact JSON (see the module docs for the rules).
/// `budget` should be at least [`MIN_PREVIEW_MAX_BYTES`]; below that a cut preview may be just
/// `{"_truncated":true}` or, below 19 bytes, `null`.
pub fn preview(v: &Value, budget: usize) -> Value {
    if size_capped(v, budget) <= budget {
        return v.clone();
    }
    let p = match v {
        Value::String(s) => {
            let mut m = Map::new();
            m.insert(BYTES.into(), Value::from(s.len() as u64));
            m.insert(TRUNCATED.into(), Value::Bool(true));
            m.insert(VALUE.into(), Value::String(String::new()));
            budget
                .checked_sub(size(&Value::Object(m.clone())) - 2)
                .and_then(|room| cut_string(s, room))
                .map(|cut| {
                    m.insert(VALUE.into(), Value::String(cut));
                    Value::Object(m)
                })
        }
        Value::Array(a) => fit_array(a, budget),
        Value::Object(o) => fit_object(o, budget),
        _ => None,
    };
    match p {
        Some(p) if size(&p) <= budget => p,
        _ => {
            let mut m = Map::new();
            m.insert(TRUNCATED.into(), Value::Bool(true));
            let m = Value::Object(m);
            if size(&m) <= budget {
                m
            } else {
                Value::Null
            }
        }
    }
}

/// A selected field within `budget`: the value itself when it fits, else its summary under the
/// nested rules (a cut string stays a string ending in `…`, a cut array becomes the `_items`
/// object), falling back to [`preview`] when no nested summary fits.
pub fn field(v: &Value, budget: usize) -> Value {
    fit(v, budget).filter(|p| size(p) <= budget).unwrap_or_else(|| preview(v, budget))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(v: &Value, budget: usize) -> Value {
        let p = preview(v, budget);
        let text = p.to_string();
        assert!(text.len() <= budget, "{} > {budget}: {text}", text.len());
        assert_eq!(p, preview(v, budget), "deterministic");
        p
    }

    #[test]
    fn sizes_match_serde_json() {
        let v = json!({"a\"b": ["x\u{1}\n\t…é", 1.5, -3, null, true, false, {}, []], "": {"k": 1e300}});
        assert_eq!(size(&v), v.to_string().len());
        assert!(size_capped(&v, 10) > 10);
    }

    #[test]
    fn small_values_are_unchanged() {
        let v = json!({"id": 7, "tags": ["a", "b"]});
        assert_eq!(check(&v, 64), v);
    }

    #[test]
    fn long_strings_are_cut_with_an_ellipsis() {
        let v = json!({"id": 1, "text": "x".repeat(5000)});
        let p = check(&v, 128);
        assert_eq!(p["id"], 1);
        assert_eq!(p["_truncated"], true);
        assert_eq!(p["_count"], 2);
        assert!(p["text"].as_str().unwrap().ends_with('…'));
        let top = check(&json!("é".repeat(1000)), 64);
        assert_eq!(top["_truncated"], true);
        assert_eq!(top["_bytes"], 2000);
        assert!(top["_value"].as_str().unwrap().starts_with("éé"));
    }

    #[test]
    fn long_arrays_keep_first_items_and_a_count() {
        let v = Value::Array((0..1000).map(|i| json!({"i": i, "name": format!("row {i}")})).collect());
        let p = check(&v, 256);
        assert_eq!(p["_truncated"], true);
        assert_eq!(p["_count"], 1000);
        let items = p["_items"].as_array().unwrap();
        assert!(items.len() >= 3, "{p}");
        assert_eq!(items[0], json!({"i": 0, "name": "row 0"}));
    }

    #[test]
    fn nested_structures_stay_within_budget() {
        let mut v = json!("leaf ".repeat(100));
        for i in 0..100 {
            v = json!({ format!("level{i}"): [v.clone(), i], "pad": "p".repeat(i) });
        }
        for budget in [64, 65, 100, 333, 1024, 4096] {
            check(&v, budget);
        }
    }

    #[test]
    fn tiny_budgets_degrade_to_markers() {
        let v = json!(["x".repeat(100)]);
        assert_eq!(preview(&v, 20), json!({"_truncated": true}));
        assert_eq!(preview(&v, 5), Value::Null);
    }
}
