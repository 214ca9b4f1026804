//! Artifact ids: 26 characters of Crockford base32 (a ULID layout): 48 bits of creation time in
//! milliseconds, then 80 random bits, so ids sort by creation time. Inside the component the
//! random bits come from `wasi:random/random` (the host's CSPRNG); natively from std's
//! OS-seeded hasher keys plus a counter.
//!
//! Within one instance (one thread natively) ids are strictly increasing: an id made in the same
//! millisecond as the one before it (or with a clock that stepped back) is the previous id plus
//! one, the monotonic variant of the ULID layout. So records created one after another by one
//! store list in creation order, since listings order by (`created_at`, `id`). Ids made by
//! different instances in the same millisecond have no defined order between them.

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Current time in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(target_arch = "wasm32")]
fn random_u64(_salt: u64) -> u64 {
    crate::component::random_u64()
}

#[cfg(not(target_arch = "wasm32"))]
fn random_u64(salt: u64) -> u64 {
    use std::cell::Cell;
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    thread_local! {
        static SEED: RandomState = RandomState::new();
        static COUNTER: Cell<u64> = const { Cell::new(0) };
    }
    let n = COUNTER.with(|c| {
        let v = c.get().wrapping_add(1);
        c.set(v);
        v
    });
    SEED.with(|s| {
        let mut h = s.build_hasher();
        h.write_u64(n);
        h.write_u64(salt);
        h.finish()
    })
}

/// A new id for an artifact created at `now` (ms): greater than every id this instance made
/// before (see the module doc).
pub fn new_id(now: u64) -> String {
    use std::cell::Cell;
    thread_local! {
        static LAST: Cell<u128> = const { Cell::new(0) };
    }
    let ms = now as u128 & ((1 << 48) - 1);
    let value = LAST.with(|last| {
        let prev = last.get();
        // Same millisecond (or an earlier one): one past the previous id, no random bits drawn.
        // The id space ends at 2^128 - 1; past it (10889 AD) a fresh id is used and
        // monotonicity is given up.
        let next = if prev != 0 && ms <= prev >> 80 { prev.checked_add(1) } else { None };
        let v = next.unwrap_or_else(|| {
            let rand = ((random_u64(1) as u128) << 64 | random_u64(2) as u128) & ((1u128 << 80) - 1);
            (ms << 80) | rand
        });
        last.set(v);
        v
    });
    let mut out = [0u8; 26];
    for (i, slot) in out.iter_mut().enumerate() {
        let shift = 125 - 5 * i as u32;
        *slot = ALPHABET[((value >> shift) & 31) as usize];
    }
    String::from_utf8(out.to_vec()).expect("alphabet is ASCII")
}

/// Whether `s` has the shape of an id.
pub fn is_valid(s: &str) -> bool {
    s.len() == 26 && s.bytes().all(|b| IN_ALPHABET[b as usize]) && s.as_bytes()[0] <= b'7'
}

/// `IN_ALPHABET[b]`: whether byte `b` is in [`ALPHABET`] (a table: every ref is checked).
const IN_ALPHABET: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        t[ALPHABET[i] as usize] = true;
        i += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_valid_unique_and_time_sorted() {
        let a = new_id(1_700_000_000_000);
        let b = new_id(1_700_000_000_000);
        let c = new_id(1_700_000_000_001);
        assert!(is_valid(&a) && is_valid(&b) && is_valid(&c), "{a} {b} {c}");
        assert_ne!(a, b);
        assert!(a[..10] == b[..10] && c > a && c > b);
    }

    #[test]
    fn ids_made_in_one_millisecond_increase() {
        let ids: Vec<String> = (0..1000).map(|_| new_id(1_800_000_000_000)).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "not increasing");
        assert!(ids.iter().all(|i| is_valid(i) && i[..10] == ids[0][..10]));
        // A clock that steps back still yields a larger id; a later millisecond starts afresh.
        let back = new_id(1_799_999_999_000);
        assert!(back > ids[999]);
        let later = new_id(1_800_000_000_001);
        assert!(later > back && later[..10] > ids[0][..10]);
    }

    #[test]
    fn rejects_other_shapes() {
        for s in ["", "abc", "01ARZ3NDEKTSV4RRFFQ69G5FAVX", "01arz3ndektsv4rrffq69g5fav", "81ARZ3NDEKTSV4RRFFQ69G5FAV", "01ARZ3NDEKTSV4RRFFQ69G5FAI"] {
            assert!(!is_valid(s), "{s}");
        }
        assert!(is_valid("01ARZ3NDEKTSV4RRFFQ69G5FAV"));
    }
}
