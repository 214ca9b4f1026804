//! What uses one storage object URI, as one value: the records whose `location.uri` it is, the
//! writers' pins and the delete claim (WIT `metadata`, "object claims"). `metadata.rs` keeps one
//! per URI at `a/u/{h(uri)}` and changes it only by compare-and-swap, so every rule below is
//! applied atomically against everything else that touches the URI.
//!
//! Pure state transitions, no key-value access: unit-tested natively (`cargo test`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The value at `a/u/{h(uri)}`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Uses {
    /// The URI itself (the key only holds its hash).
    pub uri: String,
    /// Ids of records that use (or, while their insert or update is under way, are about to use)
    /// the URI; sorted. May hold ids of records since deleted or moved by a process killed
    /// half-way: `claim-delete` checks each id against its record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    /// Holder → until.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pins: BTreeMap<String, u64>,
    /// Until of the delete claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub del: Option<u64>,
}

impl Uses {
    /// The value for `uri` from the stored bytes (`None`: nothing stored yet).
    pub fn parse(uri: &str, cur: Option<&[u8]>) -> Result<Uses, String> {
        let Some(b) = cur else {
            return Ok(Uses { uri: uri.to_string(), ..Uses::default() });
        };
        let u: Uses = serde_json::from_slice(b).map_err(|e| format!("claims of {uri} are corrupt: {e}"))?;
        if u.uri != uri {
            // 128-bit hash collision: refuse rather than mix two URIs' claims.
            return Err(format!("claims key of {uri} holds {}", u.uri));
        }
        Ok(u)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap()
    }

    /// Whether any pin or delete claim exists (live or not).
    pub fn has_claims(&self) -> bool {
        !self.pins.is_empty() || self.del.is_some()
    }

    /// Whether any claim's `until` is at or before `before` (what `stale-claims` reports).
    pub fn stale(&self, before: u64) -> bool {
        self.pins.values().any(|u| *u <= before) || self.del.is_some_and(|u| u <= before)
    }

    /// Adds a record id (idempotent).
    pub fn add_id(&mut self, id: &str) {
        if let Err(i) = self.ids.binary_search_by(|x| x.as_str().cmp(id)) {
            self.ids.insert(i, id.to_string());
        }
    }

    /// Removes a record id (idempotent).
    pub fn remove_id(&mut self, id: &str) {
        if let Ok(i) = self.ids.binary_search_by(|x| x.as_str().cmp(id)) {
            self.ids.remove(i);
        }
    }

    /// `pin-object`: refused (nothing changes) while a delete claim with `until > now` exists;
    /// otherwise sets (replaces) the holder's pin.
    pub fn pin(&mut self, holder: &str, now: u64, until: u64) -> bool {
        if self.del.is_some_and(|u| u > now) {
            return false;
        }
        self.pins.insert(holder.to_string(), until);
        true
    }

    /// `unpin-object` (idempotent).
    pub fn unpin(&mut self, holder: &str) {
        self.pins.remove(holder);
    }

    /// Drops the claims whose `until` is at or before `now`.
    pub fn prune(&mut self, now: u64) {
        self.pins.retain(|_, u| *u > now);
        self.del = self.del.filter(|u| *u > now);
    }

    /// `claim-delete`: drops expired claims; then, unless a pin or delete claim remains or a
    /// listed record still uses the URI (`uses(id)`, consulted only when no claim remains),
    /// records the delete claim and forgets the ids (all of them stale, see below). Returns
    /// whether the claim was recorded.
    ///
    /// Forgetting stale ids is safe because writers pin a URI before they add their record's id
    /// and unpin after the record is in: an id whose record does not exist (yet) while no pin
    /// does belongs to an insert that was killed or lost, or to a record deleted or moved since.
    pub fn claim_delete<E>(
        &mut self,
        now: u64,
        until: u64,
        mut uses: impl FnMut(&str) -> Result<bool, E>,
    ) -> Result<bool, E> {
        self.prune(now);
        if self.has_claims() {
            return Ok(false);
        }
        for id in &self.ids {
            if uses(id)? {
                return Ok(false);
            }
        }
        self.ids.clear();
        self.del = Some(until);
        Ok(true)
    }

    /// `finish-delete` (idempotent): ends the delete claim, with the pins that had expired by the
    /// claim's own `until` (no pin can be taken while the claim lives, so a pin that old is dead),
    /// as the other hosts do.
    pub fn finish_delete(&mut self) {
        if let Some(d) = self.del.take() {
            self.pins.retain(|_, u| *u > d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    const U: &str = "kv://blobs/sha256/ab/ab12";

    fn fresh() -> Uses {
        Uses::parse(U, None).unwrap()
    }

    fn never(_: &str) -> Result<bool, Infallible> {
        Ok(false)
    }

    #[test]
    fn parse_round_trips_and_rejects_other_uri() {
        let mut u = fresh();
        assert_eq!(u.to_bytes(), br#"{"uri":"kv://blobs/sha256/ab/ab12"}"#);
        u.add_id("B");
        u.add_id("A");
        u.add_id("B");
        assert!(u.pin("w1", 0, 10));
        let b = u.to_bytes();
        assert_eq!(Uses::parse(U, Some(&b)).unwrap(), u);
        assert_eq!(u.ids, ["A", "B"]);
        assert!(Uses::parse("kv://other", Some(&b)).is_err());
        assert!(Uses::parse(U, Some(b"not json")).is_err());
    }

    #[test]
    fn pin_refused_only_by_live_delete_claim() {
        let mut u = fresh();
        assert_eq!(u.claim_delete(100, 200, never), Ok(true));
        let before = u.clone();
        assert!(!u.pin("w", 150, 500));
        assert!(!u.pin("w", 199, 500));
        assert_eq!(u, before, "a refused pin changes nothing");
        // At or after the claim's until, the claim is dead: the pin goes in.
        assert!(u.pin("w", 200, 500));
        assert_eq!(u.pins["w"], 500);
        // Pinning again replaces (extends or shortens) the holder's pin.
        assert!(u.pin("w", 201, 300));
        assert_eq!(u.pins["w"], 300);
        assert_eq!(u.pins.len(), 1);
    }

    #[test]
    fn unpin_and_finish_are_idempotent() {
        let mut u = fresh();
        assert!(u.pin("a", 0, 10));
        assert!(u.pin("b", 0, 10));
        u.unpin("a");
        u.unpin("a");
        u.unpin("nobody");
        assert_eq!(u.pins.keys().collect::<Vec<_>>(), ["b"]);
        u.unpin("b");
        assert!(!u.has_claims());
        assert_eq!(u.claim_delete(0, 10, never), Ok(true));
        u.finish_delete();
        u.finish_delete();
        assert_eq!(u, fresh());
    }

    #[test]
    fn finish_drops_pins_dead_by_the_claims_until() {
        let mut u = fresh();
        assert_eq!(u.claim_delete(0, 50, never), Ok(true));
        // Only possible once the claim is dead: a pin whose until is already past.
        assert!(u.pin("dead", 60, 40));
        assert!(u.pin("live", 60, 100));
        u.finish_delete();
        assert_eq!(u.pins.keys().collect::<Vec<_>>(), ["live"]);
        // Without a delete claim, finishing touches no pin.
        assert!(u.pin("old", 0, 1));
        u.finish_delete();
        assert_eq!(u.pins.len(), 2);
    }

    #[test]
    fn claim_delete_refused_by_live_pin_or_claim() {
        let mut u = fresh();
        assert!(u.pin("w", 0, 100));
        assert_eq!(u.claim_delete(99, 200, never), Ok(false));
        assert_eq!(u.pins["w"], 100, "a live pin is kept");
        // Expired at `now` (until <= now): dropped, then the claim succeeds.
        assert_eq!(u.claim_delete(100, 200, never), Ok(true));
        assert!(u.pins.is_empty());
        assert_eq!(u.del, Some(200));
        // A second deleter is refused while the first claim lives, and takes over once it is dead.
        assert_eq!(u.claim_delete(150, 300, never), Ok(false));
        assert_eq!(u.del, Some(200));
        assert_eq!(u.claim_delete(200, 300, never), Ok(true));
        assert_eq!(u.del, Some(300));
    }

    #[test]
    fn claim_delete_refused_while_a_record_uses_the_uri() {
        let mut u = fresh();
        u.add_id("live");
        u.add_id("gone");
        assert!(u.pin("old", 0, 5));
        let mut asked = Vec::new();
        let r = u.claim_delete(10, 20, |id| {
            asked.push(id.to_string());
            Ok::<_, Infallible>(id == "live")
        });
        assert_eq!(r, Ok(false));
        assert_eq!(asked, ["gone", "live"]);
        assert!(u.pins.is_empty(), "expired pins are dropped even when the claim is refused");
        assert_eq!(u.ids, ["gone", "live"], "ids are kept when refused");
        assert_eq!(u.del, None);
        // Records are not consulted while a live claim already refuses.
        assert!(u.pin("w", 10, 50));
        let r = u.claim_delete(10, 20, |_| -> Result<bool, Infallible> { panic!("consulted") });
        assert_eq!(r, Ok(false));
        // Once no record uses it, the stale ids go with the claim.
        u.unpin("w");
        assert_eq!(u.claim_delete(10, 20, never), Ok(true));
        assert!(u.ids.is_empty());
    }

    #[test]
    fn claim_delete_passes_lookup_errors_through() {
        let mut u = fresh();
        u.add_id("x");
        assert_eq!(u.claim_delete(0, 10, |_| Err("boom")), Err("boom"));
        assert_eq!(u.del, None);
    }

    #[test]
    fn stale_reports_claims_at_or_before() {
        let mut u = fresh();
        assert!(!u.stale(u64::MAX), "no claims, nothing stale");
        assert!(u.pin("a", 0, 100));
        assert!(!u.stale(99));
        assert!(u.stale(100));
        u.unpin("a");
        assert_eq!(u.claim_delete(0, 50, never), Ok(true));
        assert!(!u.stale(49));
        assert!(u.stale(50));
        u.add_id("r");
        u.finish_delete();
        assert!(!u.stale(u64::MAX), "record ids are not claims");
        assert!(!u.has_claims());
    }
}
