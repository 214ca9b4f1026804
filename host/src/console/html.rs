//! HTML building blocks of the console: escaping, the page frame, links, human sizes and times.
//! Every string that reaches a page from the store (names, buckets, previews, errors) goes
//! through [`esc`] or [`name`]; nothing is inserted raw.

use artifact_component::encoding::percent_encode;
use std::fmt::Write;

/// Escapes text for HTML element content and double- or single-quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A user-chosen name as text: escaped and bidi-isolated, so right-to-left marks inside it
/// cannot reorder the text around it.
pub fn name(s: &str) -> String {
    format!("<bdi class=\"name\">{}</bdi>", esc(s))
}

/// A link whose visible text is a user-chosen name.
pub fn link(href: &str, text: &str) -> String {
    format!("<a href=\"{}\">{}</a>", esc(href), name(text))
}

/// `/b/<bucket>`.
pub fn bucket_href(bucket: &str) -> String {
    format!("/b/{}", percent_encode(bucket))
}

/// `/a/<id>`.
pub fn artifact_href(id: &str) -> String {
    format!("/a/{}", percent_encode(id))
}

/// `path?k=v&…` with the empty values left out.
pub fn with_query(path: &str, params: &[(&str, &str)]) -> String {
    let mut out = path.to_string();
    let mut sep = '?';
    for (k, v) in params.iter().filter(|(_, v)| !v.is_empty()) {
        let _ = write!(out, "{sep}{k}={}", percent_encode(v));
        sep = '&';
    }
    out
}

/// `1.5 MiB`.
pub fn size(bytes: u64) -> String {
    indicatif::HumanBytes(bytes).to_string()
}

/// `3 min ago`, `in 2 h`, from milliseconds since the epoch.
pub fn ago(ms: u64, now_ms: u64) -> String {
    let (d, future) = if ms > now_ms { (ms - now_ms, true) } else { (now_ms - ms, false) };
    let s = d / 1000;
    let amount = match s {
        0..=59 => return if future { "in a moment".into() } else { "just now".into() },
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    };
    if future {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// A timestamp as `<time>`: relative text, the exact RFC 3339 instant in `datetime` and `title`.
pub fn time(ms: u64, now_ms: u64) -> String {
    let exact = artifact_component::time::format_rfc3339(ms);
    format!("<time datetime=\"{exact}\" title=\"{exact}\">{}</time>", ago(ms, now_ms))
}

/// What a page shows around its content.
pub struct Frame<'a> {
    /// The `<title>` and the heading, as plain text.
    pub title: &'a str,
    /// Links above the heading: (href, text), the last one is the current page.
    pub crumbs: &'a [(String, String)],
    /// Whether this browser holds the write token (shows "sign out" instead of "sign in").
    pub signed_in: bool,
    /// Whether the console takes writes at all (a token is configured).
    pub writes: bool,
    /// The CSRF value forms and scripts send back.
    pub csrf: &'a str,
}

/// The whole document: header with breadcrumbs and sign-in state, then `body` (already HTML).
pub fn page(f: &Frame<'_>, body: &str) -> String {
    let mut crumbs = String::from("<a href=\"/\">buckets</a>");
    for (href, text) in f.crumbs {
        let _ = write!(crumbs, " <span aria-hidden=\"true\">/</span> {}", link(href, text));
    }
    let account = match (f.writes, f.signed_in) {
        (false, _) => "<span class=\"muted\" title=\"start the console with ARTIFACT_CONSOLE_TOKEN to allow uploads and deletes\">read-only</span>".to_string(),
        (true, true) => format!(
            "<form method=\"post\" action=\"/logout\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\" class=\"link\">sign out</button></form>",
            esc(f.csrf)
        ),
        (true, false) => "<a href=\"/login\">sign in to make changes</a>".to_string(),
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"csrf\" content=\"{csrf}\">\
<title>{title} · artifact console</title>\
<link rel=\"stylesheet\" href=\"/assets/console.css\"><script src=\"/assets/console.js\" defer></script>\
</head><body><a class=\"skip\" href=\"#main\">skip to content</a>\
<header><nav aria-label=\"breadcrumbs\">{crumbs}</nav><div class=\"account\">{account}</div></header>\
<main id=\"main\"><h1>{heading}</h1>{body}</main></body></html>\n",
        csrf = esc(f.csrf),
        title = esc(f.title),
        heading = name(f.title),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(esc("<script>alert('x')</script>&\""), "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;");
        assert_eq!(name("\u{202e}abc"), "<bdi class=\"name\">\u{202e}abc</bdi>");
        let l = link("/b/x\"y", "<b>");
        assert!(l.contains("href=\"/b/x&quot;y\"") && l.contains("&lt;b&gt;"), "{l}");
    }

    #[test]
    fn hrefs_encode_every_reserved_character() {
        assert_eq!(bucket_href("a b/c"), "/b/a%20b%2Fc");
        assert_eq!(with_query("/b/x", &[("prefix", "a&b"), ("cursor", ""), ("by", "me")]), "/b/x?prefix=a%26b&by=me");
    }

    #[test]
    fn human_times() {
        let now = 10_000_000_000;
        assert_eq!(ago(now - 5_000, now), "just now");
        assert_eq!(ago(now - 180_000, now), "3 min ago");
        assert_eq!(ago(now + 7_200_000, now), "in 2 h");
        assert_eq!(ago(now - 3 * 86_400_000, now), "3 d ago");
        assert!(time(now, now).contains("datetime=\""));
    }
}
