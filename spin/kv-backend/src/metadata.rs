//! `artifact:store/metadata` over the key-value store.
//!
//! Keys (all values JSON or plain ids):
//! - `a/r/{id}`: the record (JSON), and for an artifact of at most [`EMBED`] bytes whose object
//!   this instance has just written or read, `\n` and a copy of that object's value (see below);
//! - `a/n/{h(bucket, name)}`: id owning the (bucket, name) pair — the get-or-create claim;
//! - `a/f/{h(logical-ref)}`: id owning the logical ref;
//! - `a/i/records`: every `[created_at, id]`, sorted — the listing order and cursor space;
//! - `a/t/{id}`: a read counter that earlier versions kept (`touch`); deleted with its record.
//!   `touch` now writes nothing: a signed read at the edge costs no key-value transaction.
//! - `a/u/{h(uri)}`: what uses the object at `uri` ([`Uses`], JSON): ids of the records whose
//!   `location.uri` it is, writers' pins (holder → until) and the delete claim (until);
//! - `a/i/claims`: sorted URIs that have (or recently had) a pin or delete claim, for
//!   `stale-claims`;
//! - `a/i/uses-ready`: present once every record's id is in its URI's `a/u/…` (records inserted
//!   by a backend version without `a/u/…` are added by the first `claim-delete`).
//!
//! `insert-if-absent` writes the record under its fresh id, then claims the pair with
//! compare-and-swap on `a/n/…` (absent, or owned by a record that no longer exists): exactly one
//! of racing inserts wins; a loser deletes its record and returns the winner's.
//!
//! **Object claims.** Every change to `a/u/{h(uri)}` is a compare-and-swap of the whole value
//! ([`kv::update`]): `pin-object`, `claim-delete`, and the record id an insert or update adds
//! *before* its record is written (a delete or move removes it after). So `claim-delete` decides
//! on one consistent view — no live pin, no live delete claim, none of the listed ids a record that
//! still uses the URI — and records its claim only if that view is still current at the swap; a
//! concurrent pin, claim or insert changes the value and makes the swap fail and the decision run
//! again. Ids whose record is gone (a killed insert, delete or move) are checked against the
//! record and dropped when the claim is recorded (see [`Uses::claim_delete`] for why that is
//! safe). The value is never deleted — `wasi:keyvalue` has no compare-and-delete, and a plain
//! delete could erase a pin written in between — so one small value per URI ever used remains.
//!
//! **Small artifacts' bytes ride with their record.** A signed read at the edge needs the record,
//! then the object; on Spin each is a host call, and a host call costs about as much as the rest
//! of a small read. So a record saved right after its (inline, at most [`EMBED`] bytes) object was
//! committed or read by the same instance carries a copy of the object's value, and loading the
//! record primes the instance's head cache with it (`storage::prime`): the read that follows
//! makes no second call. The copy is only a cache: it names its URI, is used only for the
//! record's own `location.uri`, never over a head the instance already has, and whatever it holds
//! is checked by the component against the record's SHA-256 like any stored byte.
//!
//! `a/i/claims` is kept a superset of the URIs with claims: a pin adds its URI before and after
//! its swap, a successful `claim-delete` before and after; a URI left without claims is removed
//! and, if a claim appeared meanwhile, added back (whoever removes looks again afterwards).

use crate::exports::artifact::store::types::{
    ArtifactKind, ArtifactRecord, BucketSummary, Compression, Error, ListQuery, Location, Order, Page, Scope,
    Timestamp,
};
use crate::exports::artifact::store::metadata::{Guest, Inserted};
use crate::kv::{self, Step};
use crate::uses::Uses;
use serde::{Deserialize, Serialize};
use std::cell::Cell;

const RECORDS: &str = "a/i/records";
/// Largest artifact whose bytes a record carries (see the module docs): small enough that
/// listing a thousand such records moves a few MiB at most.
pub const EMBED: u64 = 8 << 10;
const CLAIMS: &str = "a/i/claims";
const USES_READY: &str = "a/i/uses-ready";

thread_local! {
    /// Whether `a/i/uses-ready` was seen by this instance.
    static USES_OK: Cell<bool> = const { Cell::new(false) };
}

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
fn uses_key(uri: &str) -> String {
    format!("a/u/{}", kv::h(&[uri]))
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
            // Compact JSON has no raw newline: what follows one is the embedded object.
            let (json, embedded) = match v.iter().position(|&b| b == b'\n') {
                Some(i) => (&v[..i], Some(&v[i + 1..])),
                None => (&v[..], None),
            };
            let s: Stored = serde_json::from_slice(json).map_err(|e| me(format!("record {id} is corrupt: {e}")))?;
            let r = from_stored(s)?;
            if let Some(obj) = embedded {
                crate::storage::prime(&r.location.uri, obj);
            }
            Ok(Some(r))
        }
    }
}

fn save(r: &ArtifactRecord) -> Result<(), Error> {
    let mut v = serde_json::to_vec(&to_stored(r)).unwrap();
    if r.stored_bytes <= EMBED {
        if let Some(obj) = crate::storage::cached_inline(&r.location.uri) {
            v.push(b'\n');
            v.extend_from_slice(&obj);
        }
    }
    kv::set(&rec_key(&r.id), &v).map_err(me)
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

/// Applies `f` to what uses `uri`, atomically (compare-and-swap; `f` runs again when the value
/// changed under it); writes only when `f` changed something. Returns `f`'s result, the value
/// after it and whether it was written.
fn modify_uses<R>(uri: &str, mut f: impl FnMut(&mut Uses) -> Result<R, Error>) -> Result<(R, Uses, bool), Error> {
    let mut err = None;
    let out = kv::update(&uses_key(uri), |cur| {
        let mut u = Uses::parse(uri, cur)?;
        let before = u.clone();
        match f(&mut u) {
            Ok(r) if u == before => Ok(Step::Keep(Some((r, u, false)))),
            Ok(r) => Ok(Step::Write(u.to_bytes(), Some((r, u, true)))),
            Err(e) => {
                err = Some(e);
                Ok(Step::Keep(None))
            }
        }
    })
    .map_err(me)?;
    match (out, err) {
        (Some(out), _) => Ok(out),
        (None, Some(e)) => Err(e),
        (None, None) => unreachable!(),
    }
}

/// Notes that record `id` uses `uri` (before the record says so).
fn add_use(uri: &str, id: &str) -> Result<(), Error> {
    modify_uses(uri, |u| {
        u.add_id(id);
        Ok(())
    })
    .map(|_| ())
}

/// Forgets that record `id` uses `uri` (after the record no longer says so). Best effort: an id
/// left behind is checked against its record by `claim-delete`.
fn drop_use(uri: &str, id: &str) {
    let _ = modify_uses(uri, |u| {
        u.remove_id(id);
        Ok(())
    });
}

/// Whether record `id` exists and uses `uri`.
fn record_uses(id: &str, uri: &str) -> Result<bool, Error> {
    Ok(load(id)?.is_some_and(|r| r.location.uri == uri))
}

/// Lists `uri` in `a/i/claims`.
fn index_claim(uri: &str) -> Result<(), Error> {
    kv::edit_index(CLAIMS, &uri.to_string(), true).map(|_| ()).map_err(me)
}

/// Removes `uri` from `a/i/claims`; if a claim was made meanwhile (its own add may have come
/// before this removal), lists it again. Best effort: an entry left behind is pruned by
/// `stale-claims`.
fn unindex_if_unclaimed(uri: &str) {
    if let Ok(true) = kv::edit_index(CLAIMS, &uri.to_string(), false) {
        let claimed = kv::get(&uses_key(uri))
            .map_err(me)
            .and_then(|v| Uses::parse(uri, v.as_deref()).map_err(me))
            .map_or(true, |u| u.has_claims());
        if claimed {
            let _ = index_claim(uri);
        }
    }
}

/// Forgets that this instance saw `a/i/uses-ready` (tests start from an empty store).
#[cfg(test)]
pub(crate) fn forget_uses_ready() {
    USES_OK.with(|c| c.set(false));
}

/// Makes sure every record's id is in its URI's `a/u/…` (records a backend version without
/// `a/u/…` inserted), once per store: `claim-delete` relies on it.
fn ensure_uses_ready() -> Result<(), Error> {
    if USES_OK.with(Cell::get) {
        return Ok(());
    }
    if !kv::exists(USES_READY).map_err(me)? {
        // Idempotent: racing instances add the same ids; inserts meanwhile add their own.
        for (_, id) in kv::load_index::<(u64, String)>(RECORDS).map_err(me)? {
            if let Some(r) = load(&id)? {
                add_use(&r.location.uri, &r.id)?;
            }
        }
        kv::set(USES_READY, b"1").map_err(me)?;
    }
    USES_OK.with(|c| c.set(true));
    Ok(())
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
            // The record's use of its URI first (so `claim-delete` never misses a record that
            // exists), then the record (nobody knows its fresh id yet), then the claim on the pair.
            let uri = &rec.location.uri;
            add_use(uri, &rec.id)?;
            if let Err(e) = save(&rec) {
                drop_use(uri, &rec.id);
                return Err(e);
            }
            let winner = claim(&nk, &rec.id, |id| Ok(load(id)?.is_some_and(|r| same_pair(&r))));
            let unsave = || {
                if kv::delete(&rec_key(&rec.id)).is_ok() {
                    drop_use(uri, &rec.id);
                }
            };
            match winner {
                Ok(None) => {
                    kv::set(&ref_key(&rec.logical_ref), rec.id.as_bytes()).map_err(me)?;
                    kv::edit_index(RECORDS, &index_entry(&rec), true).map_err(me)?;
                    return Ok(Inserted { record: rec, created: true });
                }
                Ok(Some(id)) => {
                    unsave();
                    if let Some(r) = load(&id)?.filter(same_pair) {
                        return Ok(Inserted { record: r, created: false });
                    }
                    // The winner was deleted meanwhile: try again.
                }
                Err(e) => {
                    unsave();
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
        let moved = old.location.uri != rec.location.uri;
        if moved {
            // The new URI's use before the record says so, the old one's removed after.
            add_use(&rec.location.uri, &rec.id)?;
        }
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
        if moved {
            drop_use(&old.location.uri, &rec.id);
        }
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
        drop_use(&r.location.uri, &id);
        kv::edit_index(RECORDS, &index_entry(&r), false).map_err(me)?;
        let _ = kv::delete(&touch_key(&id));
        Ok(true)
    }

    fn touch(_id: String, _at: Timestamp) -> Result<(), Error> {
        // Best effort by contract, and here deliberately nothing: an increment per read was a
        // key-value transaction on every request at the edge, for a counter nobody reads.
        Ok(())
    }

    fn pin_object(uri: String, holder: String, now: Timestamp, until: Timestamp) -> Result<bool, Error> {
        // Listed before the swap, so a writer killed right after it is still found by
        // `stale-claims`; and after it, in case a concurrent unindex removed it in between.
        index_claim(&uri)?;
        let (pinned, _, _) = modify_uses(&uri, |u| Ok(u.pin(&holder, now, until)))?;
        if pinned {
            let _ = index_claim(&uri);
        }
        Ok(pinned)
    }

    fn unpin_object(uri: String, holder: String) -> Result<(), Error> {
        let (_, u, _) = modify_uses(&uri, |u| {
            u.unpin(&holder);
            Ok(())
        })?;
        if !u.has_claims() {
            unindex_if_unclaimed(&uri);
        }
        Ok(())
    }

    fn claim_delete(uri: String, now: Timestamp, until: Timestamp) -> Result<bool, Error> {
        ensure_uses_ready()?;
        let key = uses_key(&uri);
        // Like `modify_uses`, except that a claim about to be recorded is first listed in
        // `a/i/claims` (then decided again), so a deleter killed after recording it is found
        // by `stale-claims`; refusals, the common case, touch no index.
        let mut indexed = false;
        loop {
            let mut err = None;
            let mut written = false;
            let out = kv::update(&key, |cur| {
                written = false;
                let mut u = Uses::parse(&uri, cur)?;
                let before = u.clone();
                let ok = match u.claim_delete(now, until, |id| record_uses(id, &uri)) {
                    Ok(ok) => ok,
                    Err(e) => {
                        err = Some(e);
                        return Ok(Step::Keep(None));
                    }
                };
                if ok && !indexed {
                    return Ok(Step::Keep(Some(None)));
                }
                let r = Some(Some((ok, u.has_claims())));
                if u == before {
                    return Ok(Step::Keep(r));
                }
                written = true;
                Ok(Step::Write(u.to_bytes(), r))
            })
            .map_err(me)?;
            if let Some(e) = err {
                return Err(e);
            }
            match out {
                None => unreachable!(),
                Some(None) => {
                    index_claim(&uri)?;
                    indexed = true;
                }
                Some(Some((true, _))) => {
                    let _ = index_claim(&uri);
                    return Ok(true);
                }
                Some(Some((false, claimed))) => {
                    // Expired claims dropped and none left: the URI leaves the index.
                    if !claimed && (written || indexed) {
                        unindex_if_unclaimed(&uri);
                    }
                    return Ok(false);
                }
            }
        }
    }

    fn finish_delete(uri: String) -> Result<(), Error> {
        let (_, u, _) = modify_uses(&uri, |u| {
            u.finish_delete();
            Ok(())
        })?;
        if !u.has_claims() {
            unindex_if_unclaimed(&uri);
        }
        Ok(())
    }

    fn stale_claims(before: Timestamp, limit: u32) -> Result<Vec<String>, Error> {
        let limit = limit.clamp(1, 1000) as usize;
        let mut out = Vec::new();
        for uri in kv::load_index::<String>(CLAIMS).map_err(me)? {
            let u = Uses::parse(&uri, kv::get(&uses_key(&uri)).map_err(me)?.as_deref()).map_err(me)?;
            if u.stale(before) {
                out.push(uri);
                if out.len() >= limit {
                    break;
                }
            } else if !u.has_claims() {
                // Left by a process killed between its swap and its unindex.
                unindex_if_unclaimed(&uri);
            }
        }
        Ok(out)
    }
}
