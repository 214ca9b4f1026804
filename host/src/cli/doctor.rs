//! `artifact doctor`: connects to the configured storage and metadata backends and reports, for
//! each, what it is (server version where the backend has one), whether it is reachable and
//! whether this host may write there (a probe object / row is written, read back and deleted).
//! Prints one JSON object; exits 1 if any check failed.

use super::common::{print_json, Env};
use artifact_host::metadata::postgres::PostgresMetadata;
#[cfg(feature = "s3")]
use artifact_host::storage::s3::S3Storage;
use artifact_host::{metadata, storage, HostError};
use artifact_component::backend::{Publish, Storage};
use artifact_component::model::{Error, Record};
use serde_json::{json, Value};

#[derive(clap::Args, Debug)]
pub struct Args {}

/// Hides the password of a URI like `postgres://user:secret@host/db`.
fn redact(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else { return uri.to_string() };
    match rest.split_once('@') {
        Some((auth, host)) if auth.contains(':') => {
            let user = auth.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        _ => uri.to_string(),
    }
}

fn report(uri: &str, kind: &str, r: Result<String, Error>) -> Value {
    match r {
        Ok(version) => json!({ "uri": redact(uri), "backend": kind, "ok": true, "reachable": true,
                               "writable": true, "version": version }),
        Err(e) => json!({ "uri": redact(uri), "backend": kind, "ok": false, "error": e.to_string(),
                          "kind": e.kind() }),
    }
}

/// Generic write probe through the storage trait (fs, mem): write, read back, delete.
fn probe_storage(s: &dyn Storage) -> Result<(), Error> {
    let driver = s.drivers().into_iter().next().unwrap_or_default();
    let uri = format!("{driver}://.doctor/probe-{}", std::process::id());
    let mut w = s.create_writer(&driver)?;
    w.write(b"artifact doctor probe")?;
    w.commit(&uri, Publish::Overwrite)?;
    let back = s.read(&uri, 0, 64)?;
    s.delete(&uri)?;
    if back != b"artifact doctor probe" {
        return Err(Error::Storage(format!("probe {uri} read back different bytes")));
    }
    Ok(())
}

fn check_storage(uri: &str) -> Value {
    #[cfg(feature = "s3")]
    if let Some(rest) = uri.strip_prefix("s3://") {
        return report(uri, "s3", S3Storage::open(rest).and_then(|s| s.probe()));
    }
    let r = storage::open(uri).and_then(|s| probe_storage(s.as_ref()).map(|()| "local".to_string()));
    report(uri, uri.split("://").next().unwrap_or(""), r)
}

fn check_metadata(uri: &str) -> Value {
    if uri.starts_with("postgres://") || uri.starts_with("postgresql://") {
        let r = PostgresMetadata::open(uri).and_then(|m| {
            let v = m.server_version()?;
            m.probe()?;
            Ok(format!("PostgreSQL {v}"))
        });
        return report(uri, "postgres", r);
    }
    let r = metadata::open(uri).and_then(|m| {
        // Insert-if-absent, read back and delete a probe record.
        let now = artifact_component::ids::now_ms();
        let id = artifact_component::ids::new_id(now);
        let rec = Record {
            bucket: "_doctor".into(),
            name: id.clone(),
            logical_ref: format!("doctor:{id}"),
            id: id.clone(),
            created_at: now,
            ..Default::default()
        };
        m.insert_if_absent(&rec)?;
        let found = m.get_by_id(&id)?.is_some();
        m.delete(&id)?;
        if !found {
            return Err(Error::Metadata("probe record did not read back".into()));
        }
        Ok(if uri.starts_with("sqlite://") { format!("SQLite {}", rusqlite::version()) } else { "memory".into() })
    });
    report(uri, uri.split("://").next().unwrap_or(""), r)
}

pub fn run(env: &Env, _a: Args) -> Result<bool, HostError> {
    let storage: Vec<Value> = env.storage.iter().map(|u| check_storage(u)).collect();
    let metadata = check_metadata(&env.metadata);
    let ok = storage.iter().all(|s| s["ok"] == true) && metadata["ok"] == true;
    print_json(&json!({
        "status": if ok { "success" } else { "error" },
        "version": env!("CARGO_PKG_VERSION"),
        "storage": storage,
        "metadata": metadata,
    }));
    if !ok {
        eprintln!("artifact: doctor found problems (see the JSON report)");
    }
    Ok(ok)
}
