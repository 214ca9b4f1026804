//! The listing statement of the SQL metadata backends: one `ListQuery` → `SELECT … WHERE …
//! ORDER BY … LIMIT` builder, keyset-paginated on (`created_at`, `id`) with the shared cursor
//! encoding. Each backend supplies a [`Dialect`]: its placeholder style, the value type its driver
//! binds, its false literal, its byte-wise name-prefix test and the key that finds a row.
//!
//! The page is chosen on keys only, then its rows are read: `WHERE key IN (SELECT key … ORDER BY
//! … LIMIT n) ORDER BY …`. With an index holding the filtered and ordered columns (e.g. `bucket,
//! name, created_at, id` for a name prefix) the inner query filters and sorts on the index alone
//! and at most `n` full rows are read, instead of every matching row (scenario 7 of benches/: a
//! prefix holding 1,000 of 1,000,000 rows).

use artifact_component::backend::cursor;
use artifact_component::model::{Error, ListQuery, Order};

/// What differs between the SQL backends' listing statements.
pub(crate) trait Dialect {
    /// A bound value as the driver takes it.
    type Value;
    /// A condition no row satisfies.
    const FALSE: &'static str;
    /// A unique column of `artifacts` that finds a row cheaply (`rowid` on SQLite).
    const ROW_KEY: &'static str;
    /// Inserted after `FROM artifacts` when choosing a page by bucket and name prefix.
    const BUCKET_PREFIX_HINT: &'static str = "";
    /// The placeholder of the `n`th bound value (1-based).
    fn placeholder(n: usize) -> String;
    fn text(s: String) -> Self::Value;
    fn int(i: i64) -> Self::Value;
    /// Adds the conditions that `name` starts with `prefix` (non-empty), byte-wise.
    fn name_prefix(prefix: &str, w: &mut Where<Self>);
}

/// Conditions joined by `AND`, and the values their placeholders bind, in placeholder order.
pub(crate) struct Where<D: Dialect + ?Sized> {
    clauses: Vec<String>,
    args: Vec<D::Value>,
}

impl<D: Dialect + ?Sized> Where<D> {
    /// Binds `v`; returns its placeholder.
    pub(crate) fn arg(&mut self, v: D::Value) -> String {
        self.args.push(v);
        D::placeholder(self.args.len())
    }

    pub(crate) fn push(&mut self, clause: impl Into<String>) {
        self.clauses.push(clause.into());
    }
}

/// `SELECT {columns} FROM artifacts` filtered by `q`, from after its cursor in its order, at most
/// `limit + 1` rows (`limit` already clamped), with the values to bind. The rows come in the
/// order of the page; the outer `ORDER BY` repeats the inner one (an `IN` list has no order).
pub(crate) fn list<D: Dialect>(
    q: &ListQuery,
    columns: &str,
    limit: usize,
) -> Result<(String, Vec<D::Value>), Error> {
    let after = q.cursor.as_deref().map(cursor::decode).transpose()?;
    let mut w = Where::<D> { clauses: Vec::new(), args: Vec::new() };
    // Timestamps beyond i64 cannot be stored: such a bound excludes every row or none.
    let bound = |t: u64| i64::try_from(t).ok();
    if let Some(b) = &q.bucket {
        let b = w.arg(D::text(b.clone()));
        w.push(format!("bucket = {b}"));
    }
    if let Some(n) = &q.name {
        let n = w.arg(D::text(n.clone()));
        w.push(format!("name = {n}"));
    }
    if let Some(p) = q.name_prefix.as_deref().filter(|p| !p.is_empty()) {
        D::name_prefix(p, &mut w);
    }
    if let Some(c) = &q.created_by {
        let c = w.arg(D::text(c.clone()));
        w.push(format!("created_by = {c}"));
    }
    if let Some(t) = q.created_after {
        match bound(t) {
            Some(t) => {
                let t = w.arg(D::int(t));
                w.push(format!("created_at >= {t}"));
            }
            None => w.push(D::FALSE),
        }
    }
    if let Some(t) = q.created_before.and_then(bound) {
        let t = w.arg(D::int(t));
        w.push(format!("created_at < {t}"));
    }
    if let Some(u) = &q.uri {
        let u = w.arg(D::text(u.clone()));
        w.push(format!("uri = {u}"));
    }
    if let Some(t) = q.expired_before {
        match bound(t) {
            Some(t) => {
                let t = w.arg(D::int(t));
                w.push(format!("expires_at < {t}"));
            }
            None => w.push("expires_at IS NOT NULL"),
        }
    }
    let (cmp, dir) = match q.order {
        Order::OldestFirst => (">", "ASC"),
        Order::NewestFirst => ("<", "DESC"),
    };
    if let Some((t, id)) = after {
        match bound(t) {
            Some(t) => {
                let t = w.arg(D::int(t));
                let id = w.arg(D::text(id));
                w.push(format!("(created_at, id) {cmp} ({t}, {id})"));
            }
            None if q.order == Order::OldestFirst => w.push(D::FALSE),
            None => {}
        }
    }
    let limit_arg = w.arg(D::int(limit as i64 + 1));
    let filter = if w.clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", w.clauses.join(" AND "))
    };
    let key = D::ROW_KEY;
    let has_prefix = q.name_prefix.as_deref().is_some_and(|p| !p.is_empty());
    let hint = if q.bucket.is_some() && has_prefix { D::BUCKET_PREFIX_HINT } else { "" };
    let order = format!("ORDER BY created_at {dir}, id {dir}");
    let sql = format!(
        "SELECT {columns} FROM artifacts WHERE {key} IN \
         (SELECT {key} FROM artifacts {hint} {filter} {order} LIMIT {limit_arg}) {order}"
    );
    Ok((sql, w.args))
}

/// The object-claim statements (WIT `metadata`, "object claims") on the `object_claims` table,
/// shared by the SQL backends. Placeholders are `$n` (SQLite reads them as `?n`). A pin's
/// `holder` is the writer's token; the delete claim has the empty holder. Each operation runs
/// these in one transaction that excludes concurrent claims on the same URI.
pub(crate) mod claims {
    /// `(uri, now)` → whether a live delete claim exists.
    pub const LIVE_DELETE: &str =
        "SELECT EXISTS (SELECT 1 FROM object_claims WHERE uri = $1 AND holder = '' AND until > $2)";
    /// `(uri, holder, until)`: sets the pin.
    pub const PIN: &str = "INSERT INTO object_claims (uri, holder, until) VALUES ($1, $2, $3) \
        ON CONFLICT (uri, holder) DO UPDATE SET until = excluded.until";
    /// `(uri, holder)`.
    pub const UNPIN: &str = "DELETE FROM object_claims WHERE uri = $1 AND holder = $2 AND holder <> ''";
    /// `(uri, now)`: drops expired claims of the URI.
    pub const PRUNE: &str = "DELETE FROM object_claims WHERE uri = $1 AND until <= $2";
    /// `(uri)` → whether a record uses the URI or a claim on it remains.
    pub const BUSY: &str = "SELECT EXISTS (SELECT 1 FROM artifacts WHERE uri = $1) \
        OR EXISTS (SELECT 1 FROM object_claims WHERE uri = $1)";
    /// `(uri, until)`: records the delete claim.
    pub const CLAIM: &str = "INSERT INTO object_claims (uri, holder, until) VALUES ($1, '', $2)";
    /// `(uri)`: ends the delete claim.
    pub const FINISH: &str = "DELETE FROM object_claims WHERE uri = $1 AND holder = ''";
    /// `(before, limit)` → URIs with a claim at or before `before`.
    pub const STALE: &str =
        "SELECT DISTINCT uri FROM object_claims WHERE until <= $1 ORDER BY uri LIMIT $2";
}
