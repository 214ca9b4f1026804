//! Scenario 7: metadata at scale. 1,000,000 records in SQLite (and PostgreSQL when
//! `ARTIFACT_BENCH_POSTGRES` is set, or else `ARTIFACT_TEST_POSTGRES` as `scripts/services.sh`
//! prints it): find by bucket + name, a page of 100 by prefix, and get-or-create (hit and miss),
//! each through the component and directly on the backend.

use crate::measure::{self, fmt_dur, Samples};
use crate::{Opts, Row};
use artifact_component::backend::mem::MemStorage;
use artifact_component::model::{IfExists, ListQuery, PutOptions, Record};
use artifact_component::refs::Logical;
use artifact_host::metadata::SharedMetadata;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BUCKET: &str = "bench";
/// Distinct name prefixes; each holds N / PREFIXES records spread over the whole creation order.
const PREFIXES: u64 = 1000;
const BASE_MS: u64 = 1_767_225_600_000; // 2026-01-01

fn name(i: u64) -> String {
    format!("t{:03}/{i:07}.json", i % PREFIXES)
}

/// Valid ids (26 Crockford base32 characters) in creation order.
fn id(i: u64) -> String {
    format!("{i:026}")
}

fn columns(i: u64) -> (String, String, String, i64) {
    let (id, name) = (id(i), name(i));
    let r = Logical::artifact(BUCKET, &name, &id).to_string();
    (id, name, r, (BASE_MS + i) as i64)
}

const SHA: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Creates (or reuses) a SQLite database with `n` records; returns its backend URI.
fn sqlite_db(o: &Opts, n: u64) -> Result<String, String> {
    let path = o.data_dir.join(format!("metadata-{n}.db"));
    let uri = format!("sqlite://{}", path.display());
    if path.exists() {
        let conn = rusqlite::Connection::open(&path).map_err(|e| e.to_string())?;
        let have: i64 = conn
            .query_row("SELECT count(*) FROM artifacts WHERE bucket = ?1 AND name < 'u'", [BUCKET], |r| r.get(0))
            .unwrap_or(0);
        if have as u64 == n {
            eprintln!("[bench] reusing {} ({n} records)", path.display());
            return Ok(uri);
        }
        drop(conn);
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
        }
    }
    // Let the backend create its schema, then bulk-load in one transaction.
    drop(artifact_host::metadata::open(&uri).map_err(|e| e.to_string())?);
    let t = Instant::now();
    let mut conn = rusqlite::Connection::open(&path).map_err(|e| e.to_string())?;
    conn.execute_batch("PRAGMA synchronous = OFF; PRAGMA cache_size = -262144;").map_err(|e| e.to_string())?;
    let tx = conn.transaction().map_err(|e| e.to_string())?;
    {
        let mut st = tx
            .prepare(
                "INSERT INTO artifacts (id, bucket, name, logical_ref, kind, content_type, compression, bytes, \
                 stored_bytes, sha256, driver, uri, scope, store_tier, created_by, created_at, updated_at) \
                 VALUES (?1, 'bench', ?2, ?3, 'result_ref', 'application/json', 'none', 0, 0, ?4, 'mem', ?5, \
                 'permanent', 'mem', 'bench', ?6, ?6)",
            )
            .map_err(|e| e.to_string())?;
        let uri = format!("mem://blobs/sha256/e3/{SHA}");
        for i in 0..n {
            let (id, name, r, at) = columns(i);
            st.execute(rusqlite::params![id, name, r, SHA, uri, at]).map_err(|e| e.to_string())?;
        }
    }
    tx.commit().map_err(|e| e.to_string())?;
    conn.execute_batch("ANALYZE;").map_err(|e| e.to_string())?;
    eprintln!("[bench] loaded {n} records into SQLite in {:.1} s", t.elapsed().as_secs_f64());
    Ok(uri)
}

/// Loads `n` records into PostgreSQL (server-side, with generate_series) unless present.
fn postgres_db(url: &str, n: u64) -> Result<(), String> {
    // The backend applies its schema on open.
    drop(artifact_host::metadata::open(url).map_err(|e| e.to_string())?);
    let mut c = postgres::Client::connect(url, postgres::NoTls).map_err(|e| e.to_string())?;
    let have: i64 = c
        .query_one("SELECT count(*) FROM artifacts WHERE bucket = $1 AND name < 'u'", &[&BUCKET])
        .map_err(|e| e.to_string())?
        .get(0);
    if have as u64 == n {
        eprintln!("[bench] reusing PostgreSQL table ({n} records)");
        return Ok(());
    }
    let t = Instant::now();
    c.execute("DELETE FROM artifacts WHERE bucket = $1", &[&BUCKET]).map_err(|e| e.to_string())?;
    // Same ids, names and refs as `columns` (refs percent-encode '/' in the name).
    let sql = format!(
        "INSERT INTO artifacts (id, bucket, name, ref, kind, content_type, compression, bytes, stored_bytes, \
         sha256, driver, uri, scope, store_tier, created_by, created_at, updated_at) \
         SELECT lpad(i::text, 26, '0'), 'bench', nm, \
                'noetl://artifact/bench/' || replace(nm, '/', '%2F') || '/' || lpad(i::text, 26, '0'), \
                'result_ref', 'application/json', 'none', 0, 0, '{SHA}', 'mem', 'mem://blobs/sha256/e3/{SHA}', \
                'permanent', 'mem', 'bench', {BASE_MS} + i, {BASE_MS} + i \
         FROM (SELECT i, 't' || lpad((i % {PREFIXES})::text, 3, '0') || '/' || lpad(i::text, 7, '0') || '.json' AS nm \
               FROM generate_series(0, {}) AS i) s",
        n - 1
    );
    c.batch_execute(&sql).map_err(|e| e.to_string())?;
    // VACUUM too, as autovacuum would soon: index-only scans need the visibility map.
    c.batch_execute("VACUUM ANALYZE artifacts").map_err(|e| e.to_string())?;
    eprintln!("[bench] loaded {n} records into PostgreSQL in {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}

fn lcg(state: &mut u64) -> u64 {
    *state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *state >> 17
}

fn p99_row(label: String, ours: &Samples, direct: &Samples) -> Row {
    let ok = ours.p99() <= Duration::from_millis(1);
    let mut r = Row::new(
        label,
        format!("p99 {} (median {})", fmt_dur(ours.p99()), fmt_dur(ours.median())),
        format!("p99 {} (median {}) backend direct", fmt_dur(direct.p99()), fmt_dur(direct.median())),
    )
    .check(ok, "p99 ≤ 1 ms");
    r.ratio = format!("{:.2}× direct", ours.p99().as_secs_f64() / direct.p99().as_secs_f64());
    r
}

static UNIQUE: AtomicU64 = AtomicU64::new(0);

fn run_backend(o: &Opts, what: &str, n: u64, meta: SharedMetadata) -> Result<Vec<Row>, String> {
    let rt = crate::engine::builder(o)
        .storage(Arc::new(MemStorage::default()))
        .metadata(meta.clone())
        .pooling(4)
        .build()
        .map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    let min = 30;
    let label = |op: &str| format!("7 {what} {n} records: {op}");

    let mut s = 1u64;
    let mut s2 = 2u64;
    let (ours, direct) = measure::pair(
        o.budget,
        min,
        || rt.find(BUCKET, &name(lcg(&mut s) % n)).expect("find"),
        || meta.get_by_name(BUCKET, &name(lcg(&mut s2) % n)).expect("get_by_name").expect("present"),
    );
    rows.push(p99_row(label("find bucket + name"), &ours, &direct));

    let query = |k: u64| ListQuery { bucket: Some(BUCKET.into()), name_prefix: Some(format!("t{:03}/", k % PREFIXES)), limit: 100, ..Default::default() };
    let (mut s, mut s2) = (3u64, 4u64);
    let (ours, direct) = measure::pair(
        o.budget,
        min,
        || {
            let p = rt.list(&query(lcg(&mut s))).expect("list");
            assert_eq!(p.records.len(), 100.min(n as usize / PREFIXES as usize));
        },
        || meta.list(&query(lcg(&mut s2))).expect("list"),
    );
    rows.push(p99_row(label("list 100 by prefix"), &ours, &direct));

    // get-or-create of an existing bucket + name: returns the existing record.
    let (mut s, mut s2) = (5u64, 6u64);
    let (ours, direct) = measure::pair(
        o.budget,
        min,
        || {
            let opts = PutOptions { bucket: Some(BUCKET.into()), name: Some(name(lcg(&mut s) % n)), if_exists: Some(IfExists::Get), ..Default::default() };
            let r = rt.put(b"{}", &opts).expect("put");
            assert!(!r.created);
        },
        || {
            let mut rec = template(&meta);
            let i = lcg(&mut s2) % n;
            rec.name = name(i);
            rec.id = format!("7{:025}", UNIQUE.fetch_add(1, Ordering::Relaxed));
            rec.logical_ref = Logical::artifact(BUCKET, &rec.name, &rec.id).to_string();
            assert!(!meta.insert_if_absent(&rec).expect("insert").created);
        },
    );
    rows.push(p99_row(label("get-or-create, existing"), &ours, &direct));

    // get-or-create of a new name: inserts (one committed transaction each).
    let run = format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    let (ours, direct) = measure::pair(
        o.budget,
        min,
        || {
            let k = UNIQUE.fetch_add(1, Ordering::Relaxed);
            let opts = PutOptions { bucket: Some(BUCKET.into()), name: Some(format!("u/{run}/c{k}")), ..Default::default() };
            assert!(rt.put(b"{}", &opts).expect("put").created);
        },
        || {
            let k = UNIQUE.fetch_add(1, Ordering::Relaxed);
            let mut rec = template(&meta);
            rec.name = format!("u/{run}/d{k}");
            rec.id = artifact_component::ids::new_id(artifact_component::ids::now_ms());
            rec.logical_ref = Logical::artifact(BUCKET, &rec.name, &rec.id).to_string();
            assert!(meta.insert_if_absent(&rec).expect("insert").created);
        },
    );
    rows.push(p99_row(label("get-or-create, new (insert)"), &ours, &direct));
    Ok(rows)
}

fn template(meta: &SharedMetadata) -> Record {
    thread_local! {
        static T: std::cell::RefCell<Option<Record>> = const { std::cell::RefCell::new(None) };
    }
    T.with(|t| {
        t.borrow_mut()
            .get_or_insert_with(|| meta.get_by_name(BUCKET, &name(0)).expect("lookup").expect("record 0"))
            .clone()
    })
}

pub fn scale(o: &Opts) -> Result<Vec<Row>, String> {
    let n: u64 = o.size(1_000_000, 20_000);
    let uri = sqlite_db(o, n)?;
    let meta = artifact_host::metadata::open(&uri).map_err(|e| e.to_string())?;
    let mut rows = run_backend(o, "SQLite", n, meta)?;
    let postgres = o.postgres.clone().or_else(|| std::env::var("ARTIFACT_TEST_POSTGRES").ok().filter(|s| !s.is_empty()));
    match &postgres {
        Some(url) => {
            postgres_db(url, n)?;
            let meta = artifact_host::metadata::open(url).map_err(|e| e.to_string())?;
            rows.extend(run_backend(o, "PostgreSQL", n, meta)?);
        }
        None => rows.push(Row::new("7 PostgreSQL", "not run", "—").pending("set ARTIFACT_BENCH_POSTGRES=postgres://…")),
    }
    Ok(rows)
}
