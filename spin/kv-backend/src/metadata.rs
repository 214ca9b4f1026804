//! `artifact:store/metadata` over the key-value store.
//!
//! Keys (all values JSON or plain ids):
//! - `a/r/{id}`: the record (JSON);
//! - `a/n/{h(bucket, name)}`: id owning the (bucket, name) pair — the get-or-create claim;
//! - `a/f/{h(logical-ref)}`: id owning the logical ref;
//! - `a/i/records`: every `[created_at, id]`, sorted — the listing order and cursor space;
//! - `a/t/{id}`: read counter (`touch`, atomic increment).
//!
//! `insert-if-absent` writes the record under its fresh id, then claims the pair with
//! compare-and-swap on `a/n/…` (absent, or owned by a record that no longer exists): exactly one
//! of racing inserts wins; a loser deletes its record and returns the winner's.

use crate::exports::artifact::store::types::{
    ArtifactKind, ArtifactRecord, BucketSummary, Compression, Error, ListQuery, Location, Order, Page, Scope,
    Timestamp,
};
use crate::exports::artifact::store::metadata::{Guest, Inserted};
use crate::kv::{self, Step};
use serde::{Deserialize, Serialize};

const RECORDS: &str = "a/i/records";

fn me(e: String) -> Error {
    Error::Metadata(e)
}

fn rec_key(id: &str) -> String {
    format!("a/r/{id}")
}
fn name_key(bucket: &str, name: &str) -> String {
    format!("a/n/{}", kv::h(&[bucket, name]))
}
fn ref_key(r: &str) -> String {
    format!("a/f/{}", kv::h(&[r]))
}
fn touch_key(id: &str) -> String {
    format!("a/t/{id}")
}

/// The record as stored: the WIT record's fields, enums as their WIT names.
#[derive(Serialize, Deserialize)]
struct Stored {
    id: String,
    bucket: String,
    name: String,
    logical_ref: String,
    kind: String,
    content_type: String,
    compression: String,
    bytes: u64,
    stored_bytes: u64,
    sha256: String,
    driver: String,
    uri: String,
    scope: String,
    store_tier: String,
    execution_id: Option<String>,
    created_by: Option<String>,
    created_at: u64,
    updated_at: u64,
    expires_at: Option<u64>,
    preview: Option<String>,
    extracted: Option<String>,
}

fn to_stored(r: &ArtifactRecord) -> Stored {
    Stored {
        id: r.id.clone(),
        bucket: r.bucket.clone(),
        name: r.name.clone(),
        logical_ref: r.logical_ref.clone(),
        kind: match r.kind {
            ArtifactKind::ResultRef => "result-ref",
            ArtifactKind::TempRef => "temp-ref",
            ArtifactKind::Manifest => "manifest",
        }
        .into(),
        content_type: r.content_type.clone(),
        compression: match r.compression {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Deflate => "deflate",
        }
        .into(),
        bytes: r.bytes,
        stored_bytes: r.stored_bytes,
        sha256: r.sha256.clone(),
        driver: r.location.driver.clone(),
        uri: r.location.uri.clone(),
        scope: match r.scope {
            Scope::Step => "step",
            Scope::Execution => "execution",
            Scope::Workflow => "workflow",
            Scope::Permanent => "permanent",
        }
        .into(),
        store_tier: r.store_tier.clone(),
        execution_id: r.execution_id.clone(),
        created_by: r.created_by.clone(),
        created_at: r.created_at,
        updated_at: r.updated_at,
        expires_at: r.expires_at,
        preview: r.preview.clone(),
        extracted: r.extracted.clone(),
    }
}

fn from_stored(s: Stored) -> Result<ArtifactRecord, Error> {
    let bad = |what: &str, v: &str| me(format!("record {}: unknown {what} {v:?}", s.id));
    Ok(ArtifactRecord {
        kind: match s.kind.as_str() {
            "result-ref" => ArtifactKind::ResultRef,
            "temp-ref" => ArtifactKind::TempRef,
            "manifest" => ArtifactKind::Manifest,
            k => return Err(bad("kind", k)),
        },
        compression: match s.compression.as_str() {
            "none" => Compression::None,
            "gzip" => Compression::Gzip,
            "deflate" => Compression::Deflate,
            c => return Err(bad("compression", c)),
        },
        scope: match s.scope.as_str() {
            "step" => Scope::Step,
            "execution" => Scope::Execution,
            "workflow" => Scope::Workflow,
            "permanent" => Scope::Permanent,
            c => return Err(bad("scope", c)),
        },
        location: Location { driver: s.driver.clone(), uri: s.uri.clone() },
        id: s.id,
        bucket: s.bucket,
        name: s.name,
        logical_ref: s.logical_ref,
        content_type: s.content_type,
        bytes: s.bytes,
        stored_bytes: s.stored_bytes,
        sha256: s.sha256,
        store_tier: s.store_tier,
        execution_id: s.execution_id,
        created_by: s.created_by,
        created_at: s.created_at,
        updated_at: s.updated_at,
        expires_at: s.expires_at,
        preview: s.preview,
        extracted: s.extracted,
    })
}

fn load(id: &str) -> Result<Option<ArtifactRecord>, Error> {
    match kv::get(&rec_key(id)).map_err(me)? {
        None => Ok(None),
        Some(v) => {
            let s: Stored = serde_json::from_slice(&v).map_err(|e| me(format!("record {id} is corrupt: {e}")))?;
            from_stored(s).map(Some)
        }
    }
}

fn save(r: &ArtifactRecord) -> Result<(), Error> {
    kv::set(&rec_key(&r.id), &serde_json::to_vec(&to_stored(r)).unwrap()).map_err(me)
}

fn id_at(key: &str) -> Result<Option<String>, Error> {
    Ok(kv::get(key).map_err(me)?.and_then(|v| String::from_utf8(v).ok()))
}

/// The live record `key` points to, if it still matches `pred`.
fn owner(key: &str, pred: impl Fn(&ArtifactRecord) -> bool) -> Result<Option<ArtifactRecord>, Error> {
    match id_at(key)? {
        None => Ok(None),
        Some(id) => Ok(load(&id)?.filter(pred)),
    }
}

/// Claims `key` for `id` unless a live record other than `id` (per `live`) holds it; returns
/// the holder's id when the claim failed.
fn claim(key: &str, id: &str, live: impl Fn(&str) -> Result<bool, Error>) -> Result<Option<String>, Error> {
    let mut err = None;
    let r = kv::update(key, |cur| {
        if let Some(cur) = cur.and_then(|b| std::str::from_utf8(b).ok()) {
            if cur == id {
                return Ok(Step::Keep(None));
            }
            match live(cur) {
                Ok(true) => return Ok(Step::Keep(Some(cur.to_string()))),
                Ok(false) => {}
                Err(e) => {
                    err = Some(e);
                    return Ok(Step::Keep(None));
                }
            }
        }
        Ok(Step::Write(id.as_bytes().to_vec(), None))
    })
    .map_err(me)?;
    match err {
        Some(e) => Err(e),
        None => Ok(r),
    }
}

fn index_entry(r: &ArtifactRecord) -> (u64, String) {
    (r.created_at, r.id.clone())
}

fn matches(q: &ListQuery, r: &ArtifactRecord) -> bool {
    fn eq(f: &Option<String>, v: &str) -> bool {
        f.as_deref().is_none_or(|f| f == v)
    }
    eq(&q.bucket, &r.bucket)
        && eq(&q.name, &r.name)
        && q.name_prefix.as_deref().is_none_or(|p| r.name.starts_with(p))
        && q.created_by.as_deref().is_none_or(|c| r.created_by.as_deref() == Some(c))
        && q.created_after.is_none_or(|t| r.created_at >= t)
        && q.created_before.is_none_or(|t| r.created_at < t)
        && eq(&q.uri, &r.location.uri)
        && q.expired_before.is_none_or(|t| r.expires_at.is_some_and(|e| e < t))
}

/// The shared cursor format of every metadata backend: `{created_at}.{id}` of the last record.
fn decode_cursor(c: &str) -> Result<(u64, String), Error> {
    let bad = || Error::InvalidArgument(format!("malformed cursor {c:?}"));
    let (t, id) = c.split_once('.').ok_or_else(bad)?;
    let t = t.parse().map_err(|_| bad())?;
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    if id.len() != 26 || !id.bytes().all(|b| ALPHABET.contains(&b)) || id.as_bytes()[0] > b'7' {
        return Err(bad());
    }
    Ok((t, id.to_string()))
}

impl Guest for crate::Backend {
    fn insert_if_absent(rec: ArtifactRecord) -> Result<Inserted, Error> {
        let nk = name_key(&rec.bucket, &rec.name);
        let same_pair = |r: &ArtifactRecord| r.bucket == rec.bucket && r.name == rec.name;
        for _ in 0..8 {
            if let Some(r) = owner(&nk, same_pair)? {
                return Ok(Inserted { record: r, created: false });
            }
            if kv::exists(&rec_key(&rec.id)).map_err(me)?
                || owner(&ref_key(&rec.logical_ref), |r| r.logical_ref == rec.logical_ref)?.is_some()
            {
                return Err(Error::Conflict(format!("id or ref of {} already taken", rec.id)));
            }
            // The record first (nobody knows its fresh id yet), then the claim on the pair.
            save(&rec)?;
            let winner = claim(&nk, &rec.id, |id| Ok(load(id)?.is_some_and(|r| same_pair(&r))));
            match winner {
                Ok(None) => {
                    kv::set(&ref_key(&rec.logical_ref), rec.id.as_bytes()).map_err(me)?;
                    kv::edit_index(RECORDS, &index_entry(&rec), true).map_err(me)?;
                    return Ok(Inserted { record: rec, created: true });
                }
                Ok(Some(id)) => {
                    let _ = kv::delete(&rec_key(&rec.id));
                    if let Some(r) = load(&id)?.filter(same_pair) {
                        return Ok(Inserted { record: r, created: false });
                    }
                    // The winner was deleted meanwhile: try again.
                }
                Err(e) => {
                    let _ = kv::delete(&rec_key(&rec.id));
                    return Err(e);
                }
            }
        }
        Err(me(format!("insert of {}/{} kept racing with deletes", rec.bucket, rec.name)))
    }

    fn update(rec: ArtifactRecord) -> Result<(), Error> {
        let Some(old) = load(&rec.id)? else {
            return Err(Error::NotFound(format!("no artifact with id {}", rec.id)));
        };
        let collide = || Error::Conflict(format!("update of {} collides with another artifact", rec.id));
        if (old.bucket.as_str(), old.name.as_str()) != (rec.bucket.as_str(), rec.name.as_str()) {
            let nk = name_key(&rec.bucket, &rec.name);
            let pair = |r: &ArtifactRecord| r.bucket == rec.bucket && r.name == rec.name;
            if claim(&nk, &rec.id, |id| Ok(load(id)?.is_some_and(|r| pair(&r))))?.is_some() {
                return Err(collide());
            }
            let ok = name_key(&old.bucket, &old.name);
            if id_at(&ok)?.as_deref() == Some(rec.id.as_str()) {
                kv::delete(&ok).map_err(me)?;
            }
        }
        if old.logical_ref != rec.logical_ref {
            let fk = ref_key(&rec.logical_ref);
            if owner(&fk, |r| r.logical_ref == rec.logical_ref && r.id != rec.id)?.is_some() {
                return Err(collide());
            }
            kv::set(&fk, rec.id.as_bytes()).map_err(me)?;
            let ofk = ref_key(&old.logical_ref);
            if id_at(&ofk)?.as_deref() == Some(rec.id.as_str()) {
                kv::delete(&ofk).map_err(me)?;
            }
        }
        save(&rec)?;
        if old.created_at != rec.created_at {
            kv::edit_index(RECORDS, &index_entry(&old), false).map_err(me)?;
            kv::edit_index(RECORDS, &index_entry(&rec), true).map_err(me)?;
        }
        Ok(())
    }

    fn get_by_id(id: String) -> Result<Option<ArtifactRecord>, Error> {
        load(&id)
    }

    fn get_by_ref(logical_ref: String) -> Result<Option<ArtifactRecord>, Error> {
        owner(&ref_key(&logical_ref), |r| r.logical_ref == logical_ref)
    }

    fn get_by_name(bucket: String, name: String) -> Result<Option<ArtifactRecord>, Error> {
        owner(&name_key(&bucket, &name), |r| r.bucket == bucket && r.name == name)
    }

    fn list(q: ListQuery) -> Result<Page, Error> {
        let after = q.cursor.as_deref().map(decode_cursor).transpose()?;
        // An exact (bucket, name) is one lookup; everything else walks the sorted index.
        let mut entries: Vec<(u64, String)> = match (&q.bucket, &q.name) {
            (Some(b), Some(n)) => Self::get_by_name(b.clone(), n.clone())?.iter().map(index_entry).collect(),
            _ => kv::load_index(RECORDS).map_err(me)?,
        };
        if q.order == Order::NewestFirst {
            entries.reverse();
        }
        let limit = q.limit.clamp(1, 1000) as usize;
        let mut records = Vec::new();
        for (t, id) in entries {
            if let Some((at, aid)) = &after {
                let beyond = match q.order {
                    Order::OldestFirst => (t, &id) > (*at, aid),
                    Order::NewestFirst => (t, &id) < (*at, aid),
                };
                if !beyond {
                    continue;
                }
            }
            if let Some(r) = load(&id)?.filter(|r| matches(&q, r)) {
                records.push(r);
                if records.len() > limit {
                    break;
                }
            }
        }
        let next_cursor = if records.len() > limit {
            records.truncate(limit);
            records.last().map(|r| format!("{}.{}", r.created_at, r.id))
        } else {
            None
        };
        Ok(Page { records, next_cursor })
    }

    fn summary(bucket: String) -> Result<BucketSummary, Error> {
        let mut s = BucketSummary { count: 0, total_bytes: 0 };
        for (_, id) in kv::load_index::<(u64, String)>(RECORDS).map_err(me)? {
            if let Some(r) = load(&id)?.filter(|r| r.bucket == bucket) {
                s.count += 1;
                s.total_bytes += r.bytes;
            }
        }
        Ok(s)
    }

    fn delete(id: String) -> Result<bool, Error> {
        let Some(r) = load(&id)? else {
            return Ok(false);
        };
        // Index keys first, while the record still exists (so no insert can take them over
        // half-way), then the record and its listing entry.
        for k in [name_key(&r.bucket, &r.name), ref_key(&r.logical_ref)] {
            if id_at(&k)?.as_deref() == Some(id.as_str()) {
                kv::delete(&k).map_err(me)?;
            }
        }
        kv::delete(&rec_key(&id)).map_err(me)?;
        kv::edit_index(RECORDS, &index_entry(&r), false).map_err(me)?;
        let _ = kv::delete(&touch_key(&id));
        Ok(true)
    }

    fn touch(id: String, _at: Timestamp) -> Result<(), Error> {
        // Best effort: one atomic increment of the read counter; errors are ignored.
        let _ = kv::increment(&touch_key(&id), 1);
        Ok(())
    }
}
