//! `artifact ls [BUCKET]`: lists artifacts, oldest first (or `--newest`), one page of `--limit`
//! records at a time. A table by default; with `--json`, one `meta` object per line and, when
//! there is a next page, a last line `{"next_cursor":"…"}`. The cursor is a position, not an
//! offset, so paging stays exact while new artifacts are inserted. `--all` follows the cursors.

use super::common::{quiet_broken_pipe, Env};
use artifact_component::model::{Error, ListQuery, Order, Record};
use artifact_component::result_ref::meta_json;
use artifact_component::time::{format_rfc3339, parse_rfc3339, parse_ttl};
use artifact_host::HostError;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only this bucket (default: every bucket).
    pub bucket: Option<String>,
    /// Only names starting with this prefix, e.g. `2026/03/`.
    #[arg(long)]
    pub prefix: Option<String>,
    /// Only this exact name.
    #[arg(long)]
    pub name: Option<String>,
    /// Only artifacts with this created_by label.
    #[arg(long)]
    pub created_by: Option<String>,
    /// Created at or after: RFC 3339, epoch milliseconds, or an age such as 2h or 7d.
    #[arg(long, value_parser = parse_time)]
    pub since: Option<u64>,
    /// Created before: same forms as --since.
    #[arg(long, value_parser = parse_time)]
    pub until: Option<u64>,
    /// Newest first (default oldest first).
    #[arg(long)]
    pub newest: bool,
    /// Records per page (the backend caps it at 1000).
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    /// Continue after this cursor (printed by the previous page).
    #[arg(long)]
    pub cursor: Option<String>,
    /// Follow cursors to the end instead of printing one page.
    #[arg(long)]
    pub all: bool,
    /// JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// An RFC 3339 timestamp, epoch milliseconds, or an age (`30m`, `2h`, `7d`) counted back from now.
fn parse_time(s: &str) -> Result<u64, String> {
    if let Ok(t) = parse_rfc3339(s) {
        return Ok(t);
    }
    match parse_ttl(s) {
        Ok(Some(age)) => Ok(artifact_component::ids::now_ms().saturating_sub(age)),
        _ => Err(format!("invalid time {s:?}: expected RFC 3339 (2026-03-15T00:00:00Z), epoch ms, or an age like 2h or 7d")),
    }
}

pub fn run(env: &Env, a: Args) -> Result<(), HostError> {
    quiet_broken_pipe(list(env, a))
}

fn list(env: &Env, a: Args) -> Result<(), HostError> {
    if a.limit == 0 {
        return Err(Error::InvalidArgument("--limit must be at least 1".into()).into());
    }
    let rt = env.runtime()?;
    let mut q = ListQuery {
        bucket: a.bucket.clone(),
        name: a.name.clone(),
        name_prefix: a.prefix.clone(),
        created_by: a.created_by.clone(),
        created_after: a.since,
        created_before: a.until,
        order: if a.newest { Order::NewestFirst } else { Order::OldestFirst },
        cursor: a.cursor.clone(),
        limit: a.limit,
        ..Default::default()
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut table = (!a.json).then(Table::default);
    let mut printed = 0u64;
    loop {
        let page = rt.list(&q)?;
        for r in &page.records {
            match &mut table {
                Some(t) => t.row(&mut out, r)?,
                None => writeln!(out, "{}", meta_json(r))?,
            }
            printed += 1;
        }
        match page.next_cursor {
            Some(c) if a.all => q.cursor = Some(c),
            Some(c) => {
                match table {
                    Some(_) => writeln!(out, "next page: --cursor {c}")?,
                    None => writeln!(out, "{}", serde_json::json!({ "next_cursor": c }))?,
                }
                break;
            }
            None => break,
        }
        out.flush()?;
    }
    if table.is_some() && printed == 0 {
        writeln!(out, "(no artifacts)")?;
    }
    out.flush()?;
    Ok(())
}

/// A fixed-width table, so pages streamed one after another line up.
#[derive(Default)]
struct Table {
    header: bool,
}

impl Table {
    fn row(&mut self, out: &mut dyn Write, r: &Record) -> std::io::Result<()> {
        if !self.header {
            writeln!(out, "{:<20}  {:>9}  {:<20}  {:<26}  BUCKET/NAME", "CREATED", "SIZE", "CREATED_BY", "ID")?;
            self.header = true;
        }
        let created = format_rfc3339(r.created_at);
        let created = created.get(..19).map_or(created.clone(), |s| format!("{s}Z"));
        writeln!(
            out,
            "{created:<20}  {:>9}  {:<20}  {:<26}  {}/{}",
            indicatif::HumanBytes(r.bytes).to_string(),
            clip(r.created_by.as_deref().unwrap_or("-"), 20),
            r.id,
            r.bucket,
            r.name
        )
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}
