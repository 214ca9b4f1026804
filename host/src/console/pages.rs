//! What each console page shows. Every page gathers its data through the component's calls
//! (`list`, `head`, `get`, `sign`, `delete`: the same as the CLI's) and renders HTML with the
//! helpers of [`super::html`].

use super::html::{artifact_href, bucket_href, esc, link, name, size, time, with_query};
use super::preview;
use crate::{HostError, Runtime};
use artifact_component::manifest::Manifest;
use artifact_component::model::{self as m, ByteRange, Error, GetOptions, ListQuery, Mode, Order};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Records the buckets page reads at most (1000 per `list` call).
pub const SCAN_LIMIT: usize = 100_000;
/// Artifacts per bucket page.
pub const PAGE_SIZE: u32 = 50;
/// Manifest parts shown (each is checked with a `head`).
const PARTS_SHOWN: usize = 500;

/// A rendered page: its title, breadcrumbs (href, text) and body HTML.
pub struct View {
    pub title: String,
    pub crumbs: Vec<(String, String)>,
    pub body: String,
}

/// What the viewer may do, and the CSRF value for forms.
pub struct Viewer<'a> {
    /// Signed in to a console that takes writes: upload and delete are offered.
    pub writes: bool,
    /// The console takes writes but this browser has not signed in.
    pub may_sign_in: bool,
    pub csrf: &'a str,
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

struct BucketRow {
    count: u64,
    bytes: u64,
    last: u64,
}

/// `/`: every bucket with its artifact count, total size and last upload.
pub fn buckets(rt: &Runtime) -> Result<View, HostError> {
    let mut rows: BTreeMap<String, BucketRow> = BTreeMap::new();
    let mut q = ListQuery { limit: 1000, order: Order::OldestFirst, ..Default::default() };
    let mut seen = 0usize;
    let mut cut = false;
    loop {
        let page = rt.list(&q)?;
        seen += page.records.len();
        for r in &page.records {
            let row = rows.entry(r.bucket.clone()).or_insert(BucketRow { count: 0, bytes: 0, last: 0 });
            row.count += 1;
            row.bytes += r.bytes;
            row.last = row.last.max(r.created_at);
        }
        match page.next_cursor {
            Some(c) if seen < SCAN_LIMIT => q.cursor = Some(c),
            Some(_) => {
                cut = true;
                break;
            }
            None => break,
        }
    }
    let now = now_ms();
    let mut body = String::new();
    if rows.is_empty() {
        body.push_str(
            "<div class=\"empty\"><p>This store has no artifacts yet.</p>\
<p>Open a bucket by name below and drop files into it, or put one from a terminal: \
<code>artifact put report.csv --bucket reports --name report.csv</code></p></div>",
        );
    } else {
        body.push_str("<div class=\"scroll\"><table id=\"buckets\"><thead><tr><th>bucket</th><th class=\"num\">artifacts</th><th class=\"num\">size</th><th>last upload</th></tr></thead><tbody>");
        for (b, r) in &rows {
            let _ = write!(
                body,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\" title=\"{} bytes\">{}</td><td>{}</td></tr>",
                link(&bucket_href(b), b),
                r.count,
                r.bytes,
                size(r.bytes),
                time(r.last, now)
            );
        }
        body.push_str("</tbody></table></div>");
        if cut {
            let _ = write!(body, "<p class=\"muted\">Counted from the first {SCAN_LIMIT} artifacts; open any bucket by name below.</p>");
        }
    }
    body.push_str(
        "<form class=\"open\" method=\"get\" action=\"/open\"><label for=\"open-bucket\">open a bucket</label> \
<input id=\"open-bucket\" name=\"bucket\" required maxlength=\"1024\" placeholder=\"bucket name\"> <button type=\"submit\">open</button></form>",
    );
    Ok(View { title: "buckets".into(), crumbs: vec![], body })
}

/// Filters of the bucket page, as given in its query string.
#[derive(Default)]
pub struct Filters {
    pub prefix: String,
    pub created_by: String,
    pub after: String,
    pub before: String,
    pub cursor: String,
}

/// `2026-12-01` (a day, UTC) or an RFC 3339 instant, to milliseconds.
fn day_or_instant(what: &str, s: &str) -> Result<Option<u64>, HostError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let full = if s.len() == 10 { format!("{s}T00:00:00Z") } else { s.to_string() };
    artifact_component::time::parse_rfc3339(&full)
        .map(Some)
        .map_err(|_| Error::InvalidArgument(format!("{what} must be a date like 2026-12-01 or an RFC 3339 time, not {s:?}")).into())
}

/// `/b/<bucket>`: the bucket's artifacts, newest first, paged with the cursor, with filters and
/// (for writers) an upload area.
pub fn bucket(rt: &Runtime, bucket: &str, f: &Filters, notice: Option<&str>, who: &Viewer<'_>) -> Result<View, HostError> {
    let q = ListQuery {
        bucket: Some(bucket.to_string()),
        name_prefix: Some(f.prefix.clone()).filter(|s| !s.is_empty()),
        created_by: Some(f.created_by.clone()).filter(|s| !s.is_empty()),
        created_after: day_or_instant("from", &f.after)?,
        created_before: day_or_instant("until", &f.before)?,
        order: Order::NewestFirst,
        cursor: Some(f.cursor.clone()).filter(|s| !s.is_empty()),
        limit: PAGE_SIZE,
        ..Default::default()
    };
    let page = rt.list(&q)?;
    let summary = rt.summary(bucket)?;
    let now = now_ms();
    let here = bucket_href(bucket);
    let mut body = String::new();
    if let Some(n) = notice {
        let _ = write!(body, "<p class=\"notice\" role=\"status\">{}</p>", esc(n));
    }
    let _ = write!(body, "<p class=\"muted\">{} artifacts, {}</p>", summary.count, size(summary.total_bytes));
    let _ = write!(
        body,
        "<form class=\"filters\" method=\"get\" action=\"{here}\">\
<label>name starts with <input name=\"prefix\" value=\"{}\" maxlength=\"1024\"></label>\
<label>created by <input name=\"created_by\" value=\"{}\" maxlength=\"1024\"></label>\
<label>from <input type=\"date\" name=\"after\" value=\"{}\"></label>\
<label>until <input type=\"date\" name=\"before\" value=\"{}\"></label>\
<button type=\"submit\">filter</button> <a href=\"{here}\">clear</a></form>",
        esc(&f.prefix),
        esc(&f.created_by),
        esc(&f.after),
        esc(&f.before),
        here = esc(&here),
    );
    if who.writes {
        let _ = write!(
            body,
            "<section id=\"upload\" class=\"drop\" data-bucket=\"{}\" tabindex=\"-1\"><h2>upload</h2>\
<p>Drop files here, or <label class=\"button\">choose files<input type=\"file\" id=\"upload-input\" multiple></label></p>\
<p><label>name <input id=\"upload-name\" maxlength=\"1024\" placeholder=\"the file's name\"></label></p>\
<ul id=\"upload-status\" aria-live=\"polite\"></ul></section>",
            esc(bucket)
        );
    } else if who.may_sign_in {
        let next = artifact_component::encoding::percent_encode(&here);
        let _ = write!(body, "<p class=\"muted\"><a href=\"/login?next={next}\">Sign in</a> to upload files here.</p>");
    }
    if page.records.is_empty() {
        let filtered = !(f.prefix.is_empty() && f.created_by.is_empty() && f.after.is_empty() && f.before.is_empty());
        body.push_str(if filtered {
            "<p class=\"empty\">No artifact matches these filters. <a href=\"?\">Clear them</a> to see all.</p>"
        } else if who.writes {
            "<p class=\"empty\">This bucket is empty: drop a file above to add one.</p>"
        } else {
            "<p class=\"empty\">This bucket is empty. Put a file with <code>artifact put FILE --bucket … --name …</code>, or sign in to upload here.</p>"
        });
    } else {
        body.push_str("<div class=\"scroll\"><table id=\"artifacts\"><thead><tr><th>name</th><th class=\"num\">size</th><th>type</th><th>created</th><th>by</th><th>expires</th></tr></thead><tbody>");
        for r in &page.records {
            let expires = match r.expires_at {
                Some(t) if t <= now => format!("<span class=\"badge\">expired</span> {}", time(t, now)),
                Some(t) => time(t, now),
                None => "never".into(),
            };
            let _ = write!(
                body,
                "<tr><td>{}</td><td class=\"num\" title=\"{} bytes\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{expires}</td></tr>",
                link(&artifact_href(&r.id), &r.name),
                r.bytes,
                size(r.bytes),
                if r.kind == m::Kind::Manifest { "manifest".to_string() } else { esc(&r.content_type) },
                time(r.created_at, now),
                r.created_by.as_deref().map(name).unwrap_or_default(),
            );
        }
        body.push_str("</tbody></table></div>");
    }
    let mut nav = String::new();
    if !f.cursor.is_empty() {
        let first = with_query(&here, &[("prefix", &f.prefix), ("created_by", &f.created_by), ("after", &f.after), ("before", &f.before)]);
        let _ = write!(nav, "<a href=\"{}\">first page</a> ", esc(&first));
    }
    if let Some(c) = &page.next_cursor {
        let next = with_query(&here, &[("prefix", &f.prefix), ("created_by", &f.created_by), ("after", &f.after), ("before", &f.before), ("cursor", c)]);
        let _ = write!(nav, "<a href=\"{}\" rel=\"next\" id=\"next-page\">next page</a>", esc(&next));
    }
    if !nav.is_empty() {
        let _ = write!(body, "<nav class=\"pages\" aria-label=\"pages\">{nav}</nav>");
    }
    Ok(View { title: bucket.to_string(), crumbs: vec![], body })
}

fn row(out: &mut String, k: &str, v: &str) {
    let _ = write!(out, "<dt>{k}</dt><dd>{v}</dd>");
}

/// `/a/<id>`: the record, its ResultRef, a preview or a manifest's parts, download and delete.
pub fn artifact(rt: &Runtime, id: &str, who: &Viewer<'_>) -> Result<View, HostError> {
    let r = rt.head(id)?;
    let now = now_ms();
    let expired = r.expires_at.is_some_and(|t| t <= now);
    let mut body = String::new();
    let href = artifact_href(&r.id);
    body.push_str("<div class=\"actions\">");
    if !expired {
        let file = r.name.rsplit('/').next().unwrap_or(&r.name);
        let _ = write!(body, "<a class=\"button\" id=\"download\" href=\"{}/download\" download=\"{}\">download</a> ", esc(&href), esc(file));
    }
    if who.writes {
        let _ = write!(body, "<a class=\"button danger\" id=\"delete\" href=\"{}/delete\">delete…</a>", esc(&href));
    }
    body.push_str("</div><dl class=\"record\">");
    row(&mut body, "bucket", &link(&bucket_href(&r.bucket), &r.bucket));
    row(&mut body, "name", &name(&r.name));
    row(&mut body, "id", &format!("<code>{}</code>", esc(&r.id)));
    row(&mut body, "uri", &format!("<code>{}</code>", esc(&r.logical_ref)));
    row(&mut body, "size", &format!("{} <span class=\"muted\">({} bytes; {} stored)</span>", size(r.bytes), r.bytes, r.stored_bytes));
    row(&mut body, "type", &esc(&r.content_type));
    row(&mut body, "kind", r.kind.as_str());
    row(&mut body, "compression", r.compression.as_str());
    row(&mut body, "sha-256", &format!("<code>{}</code>", esc(&r.sha256)));
    row(&mut body, "created", &time(r.created_at, now));
    if let Some(by) = &r.created_by {
        row(&mut body, "created by", &name(by));
    }
    if let Some(x) = &r.execution_id {
        row(&mut body, "execution", &name(x));
    }
    let expires = match r.expires_at {
        Some(t) if expired => format!("<span class=\"badge\">expired</span> {}", time(t, now)),
        Some(t) => time(t, now),
        None => "never".into(),
    };
    row(&mut body, "expires", &expires);
    body.push_str("</dl>");

    body.push_str("<section id=\"preview\"><h2>");
    if r.kind == m::Kind::Manifest {
        body.push_str("parts</h2>");
        manifest_parts(rt, &r, &mut body)?;
    } else {
        body.push_str("preview</h2>");
        if expired {
            body.push_str("<p class=\"empty\">This artifact has expired: its bytes are no longer served, and the next <code>artifact gc</code> removes it.</p>");
        } else if r.bytes == 0 {
            body.push_str("<p class=\"empty\">empty (0 bytes)</p>");
        } else {
            let end = r.bytes.min(preview::READ_BYTES) - 1;
            let opts = GetOptions { mode: Some(Mode::Bytes), range: Some(ByteRange::Bounded { start: 0, end }), ..Default::default() };
            match rt.get(&r.id, &opts) {
                Ok(g) => {
                    let bytes = match g.data {
                        m::Body::Bytes(b) => b,
                        m::Body::Text(s) | m::Body::Json(s) => s.into_bytes(),
                    };
                    body.push_str(&preview::render(&r.content_type, &r.name, &bytes, end + 1 == r.bytes));
                }
                Err(e) => {
                    let _ = write!(body, "<p class=\"error\" role=\"alert\">The preview could not be read: {} ({})</p>", esc(&e.to_string()), e.kind());
                }
            }
        }
    }
    body.push_str("</section>");
    let result_ref = artifact_component::result_ref::to_value(&r);
    let pretty = serde_json::to_string_pretty(&result_ref).unwrap_or_default();
    let _ = write!(
        body,
        "<section><h2>ResultRef <button type=\"button\" class=\"copy\" data-copy=\"result-ref\">copy</button></h2><pre id=\"result-ref\">{}</pre></section>",
        esc(&pretty)
    );

    let crumbs = vec![(bucket_href(&r.bucket), r.bucket.clone())];
    Ok(View { title: r.name.clone(), crumbs, body })
}

fn manifest_parts(rt: &Runtime, r: &m::Record, body: &mut String) -> Result<(), HostError> {
    let opts = GetOptions { mode: Some(Mode::Bytes), resolve_manifest: Some(false), ..Default::default() };
    let doc = match rt.get(&r.id, &opts)?.data {
        m::Body::Bytes(b) => b,
        m::Body::Text(s) | m::Body::Json(s) => s.into_bytes(),
    };
    let man = Manifest::parse(&doc).map_err(|e| HostError::Trap(format!("the manifest document does not parse: {e}")))?;
    let now = now_ms();
    let state = match &man.completed_at {
        Some(at) => format!("completed {}", esc(at)),
        None => "open (parts may still be added)".into(),
    };
    let _ = write!(
        body,
        "<p>{} parts, {}, strategy <code>{}</code>, {state}</p>",
        man.total_parts,
        size(man.total_bytes),
        man.strategy.as_str()
    );
    if man.parts.is_empty() {
        body.push_str("<p class=\"empty\">no parts yet</p>");
        return Ok(());
    }
    body.push_str("<div class=\"scroll\"><table id=\"parts\"><thead><tr><th class=\"num\">#</th><th>part</th><th class=\"num\">size</th><th>state</th></tr></thead><tbody>");
    for p in man.parts.iter().take(PARTS_SHOWN) {
        let (label, state) = match rt.head(&p.logical_ref) {
            Ok(rec) if rec.sha256 != p.sha256 => (link(&artifact_href(&rec.id), &rec.name), "<span class=\"badge\">changed</span>".to_string()),
            Ok(rec) if rec.expires_at.is_some_and(|t| t <= now) => (link(&artifact_href(&rec.id), &rec.name), "<span class=\"badge\">expired</span>".to_string()),
            Ok(rec) => (link(&artifact_href(&rec.id), &rec.name), "present".to_string()),
            Err(HostError::Artifact(Error::NotFound(_))) => (name(&p.logical_ref), "<span class=\"badge\">missing</span>".to_string()),
            Err(e) => (name(&p.logical_ref), format!("<span class=\"badge\">{}</span>", esc(e.kind()))),
        };
        let _ = write!(body, "<tr><td class=\"num\">{}</td><td>{label}</td><td class=\"num\">{}</td><td>{state}</td></tr>", p.index, size(p.bytes));
    }
    body.push_str("</tbody></table></div>");
    if man.parts.len() > PARTS_SHOWN {
        let _ = write!(body, "<p class=\"muted\">the first {PARTS_SHOWN} of {} parts are shown</p>", man.parts.len());
    }
    Ok(())
}

/// `/a/<id>/delete`: what will be deleted, and the form that does it.
pub fn confirm_delete(rt: &Runtime, id: &str, who: &Viewer<'_>) -> Result<View, HostError> {
    let r = rt.head(id)?;
    let href = artifact_href(&r.id);
    let body = format!(
        "<p>Delete {} ({}) from bucket {}? Its record is removed now and its bytes at the next <code>artifact gc</code>; this cannot be undone.</p>\
<form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<button type=\"submit\" class=\"danger\" id=\"confirm-delete\" autofocus>delete</button> <a href=\"{back}\">cancel</a></form>",
        name(&r.name),
        size(r.bytes),
        name(&r.bucket),
        action = esc(&format!("{href}/delete")),
        csrf = esc(who.csrf),
        back = esc(&href),
    );
    let crumbs = vec![(bucket_href(&r.bucket), r.bucket.clone()), (href, r.name.clone())];
    Ok(View { title: "delete".into(), crumbs, body })
}

/// `/login`.
pub fn login(csrf: &str, next: &str, error: Option<&str>) -> View {
    let mut body = String::new();
    if let Some(e) = error {
        let _ = write!(body, "<p class=\"error\" role=\"alert\">{}</p>", esc(e));
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/login\" class=\"login\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
<input type=\"hidden\" name=\"next\" value=\"{}\">\
<label for=\"token\">console token</label> <input type=\"password\" id=\"token\" name=\"token\" required autofocus autocomplete=\"current-password\"> \
<button type=\"submit\">sign in</button></form>\
<p class=\"muted\">The token is the value of <code>ARTIFACT_CONSOLE_TOKEN</code> the console was started with.</p>",
        esc(csrf),
        esc(next)
    );
    View { title: "sign in".into(), crumbs: vec![], body }
}

/// An error page that says what happened and what to do.
pub fn error(status: u16, e: &str, hint: &str) -> View {
    let title = match status {
        400 => "bad request",
        401 => "sign in needed",
        403 => "not allowed",
        404 => "not found",
        410 => "expired",
        413 => "too large",
        421 => "wrong address",
        _ => "something went wrong",
    };
    let body = format!("<p class=\"error\" role=\"alert\">{}</p><p>{}</p>", esc(e), hint);
    View { title: title.into(), crumbs: vec![], body }
}
