//! Tombstones: how a deleted or replaced version stops being served through signed URLs that
//! carry their record (`crate::sign::carried` has the model and the trade-off).
//!
//! - `delete` and an overwriting `put` write the old version's tombstone before they change its
//!   record: a process killed between the two leaves the version refused (fail closed), never
//!   served after its record is gone;
//! - a carried read `stat`s the tombstone of the version it names;
//! - `gc` removes tombstones older than [`TOMBSTONE_KEEP_MS`] (by the time written inside them).

use super::Store;
use crate::backend::Publish;
use crate::model::{Error, Record, Timestamp};
use crate::sign::carried::{self, is_revoked, revoked_uri, Carried, REVOKED_PREFIX, TOMBSTONE_KEEP_MS};
use crate::sign::{Config, Keys, SignOptions};

impl Store {
    /// Writes the tombstone of `rec`'s current version (its body: the time, unix ms).
    pub(crate) fn revoke(&self, rec: &Record) -> Result<(), Error> {
        let Some(uri) = revoked_uri(&rec.location.uri, &rec.id, rec.updated_at) else {
            return Ok(());
        };
        let driver = uri.split_once("://").map_or("", |(d, _)| d);
        let mut w = self.storage.create_writer(driver)?;
        let written = w.write((self.now)().to_string().as_bytes()).and_then(|_| w.commit(&uri, Publish::Overwrite));
        if written.is_err() {
            w.abort();
        }
        written.map(|_| ())
    }

    /// The record a carried URL for `id` names, if that version may still be served: `expired`
    /// past its carried expiry, `not-found` once revoked. One storage `stat`, no metadata.
    pub fn carried_live(&self, id: &str, c: &Carried) -> Result<Record, Error> {
        let rec = self.live(c.record(id))?;
        if is_revoked(self.storage.as_ref(), &c.uri, id, c.updated_at)? {
            return Err(Error::NotFound(format!("artifact {id}: this version was deleted or replaced")));
        }
        Ok(rec)
    }

    /// Mints a signed URL path for `r` that carries its record (see `crate::sign::carried`):
    /// the artifact must be live, not a manifest, and its version not revoked.
    pub fn sign_carried(&self, cfg: &dyn Config, r: &str, ttl_secs: u64, o: &SignOptions) -> Result<String, Error> {
        let keys = Keys::from_config(cfg)?;
        let rec = self.resolve_live(r)?;
        self.sign_carried_record(&keys, &rec, ttl_secs, o)
    }

    /// [`Store::sign_carried`] for a record already resolved.
    pub fn sign_carried_record(&self, keys: &Keys, rec: &Record, ttl_secs: u64, o: &SignOptions) -> Result<String, Error> {
        carried::sign_unrevoked(self.storage.as_ref(), keys, rec, (self.now)() / 1000, ttl_secs, o)
    }

    /// Deletes tombstones no URL can name any more. Returns their URIs.
    pub(crate) fn collect_tombstones(&self, now: Timestamp) -> Result<Vec<String>, Error> {
        let mut gone = Vec::new();
        self.each_object(REVOKED_PREFIX, &mut |u| {
            // A tombstone that does not hold a time is kept (fail closed).
            let written = self.storage.read(&u, 0, 20).ok().and_then(|b| String::from_utf8(b).ok()?.parse::<u64>().ok());
            if written.is_some_and(|t| now.saturating_sub(t) > TOMBSTONE_KEEP_MS) && self.storage.delete(&u)? {
                gone.push(u);
            }
            Ok(())
        })?;
        Ok(gone)
    }
}
