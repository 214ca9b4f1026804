//! The key-value store the backend keeps everything in: Spin's `wasi:keyvalue@0.2.0-draft2`
//! (`store` for reads and writes, `atomics` for compare-and-swap).
//!
//! Native unit tests (`cargo test`) get the same functions over an in-memory map instead
//! ([`mem`]); everything else in this file is shared.

use sha2::{Digest, Sha256};
use std::cell::Cell;

#[cfg(not(test))]
pub use spin_store::*;
#[cfg(test)]
pub use mem::*;

/// Attempts of one compare-and-swap loop before giving up with an error.
#[cfg_attr(feature = "wasmtime", allow(dead_code))]
const CAS_ATTEMPTS: u32 = 200;

/// What a [`update`] step decides from the current value.
pub enum Step<R> {
    /// Store this value (only if the key still holds what the step saw), then return `R`.
    Write(Vec<u8>, R),
    /// Leave the key alone and return `R`.
    Keep(R),
}

/// The store itself: Spin's `wasi:keyvalue` (or, `--features wasmtime`, `wasmtime serve`'s).
#[cfg(not(test))]
mod spin_store {
    use super::Step;
    #[cfg(not(feature = "wasmtime"))]
    use super::CAS_ATTEMPTS;
    #[cfg(not(feature = "wasmtime"))]
    use crate::wasi::keyvalue0_2_0_draft2 as keyvalue;
    #[cfg(feature = "wasmtime")]
    use crate::wasi::keyvalue0_2_0_draft as keyvalue;
    #[cfg(not(feature = "wasmtime"))]
    use keyvalue::atomics::{self, Cas, CasError};
    use keyvalue::store::{self, Bucket, Error};
    use std::cell::RefCell;
    #[cfg(not(feature = "wasmtime"))]
    use std::cell::Cell;
    use std::rc::Rc;

    /// The Spin key-value store label the backend opens (`key_value_stores = ["default"]`).
    #[cfg(not(feature = "wasmtime"))]
    pub const STORE: &str = "default";
    /// `wasmtime serve`'s in-memory store.
    #[cfg(feature = "wasmtime")]
    pub const STORE: &str = "";

    /// A value as the store holds it: as is, or for `wasmtime serve` base64 text (see the
    /// `kv-backend-wasmtime` world).
    #[cfg(not(feature = "wasmtime"))]
    fn stored(v: &[u8]) -> std::borrow::Cow<'_, [u8]> {
        v.into()
    }
    #[cfg(not(feature = "wasmtime"))]
    fn loaded(v: Vec<u8>) -> Result<Vec<u8>, String> {
        Ok(v)
    }
    #[cfg(feature = "wasmtime")]
    fn stored(v: &[u8]) -> std::borrow::Cow<'_, [u8]> {
        crate::text::encode(v).into_bytes().into()
    }
    #[cfg(feature = "wasmtime")]
    fn loaded(v: Vec<u8>) -> Result<Vec<u8>, String> {
        crate::text::decode(&v).ok_or_else(|| "a value in the key-value store is not base64 text".to_string())
    }

    fn raw_get(b: &Bucket, key: &str) -> Result<Option<Vec<u8>>, String> {
        b.get(key).map_err(|e| err_text(&e))?.map(loaded).transpose()
    }

    fn raw_set(b: &Bucket, key: &str, value: &[u8]) -> Result<(), String> {
        b.set(key, &stored(value)).map_err(|e| err_text(&e))
    }

    thread_local! {
        static BUCKET: RefCell<Option<Rc<Bucket>>> = const { RefCell::new(None) };
        #[cfg(not(feature = "wasmtime"))]
        /// Whether `atomics.cas` works on this store; cleared the first time `cas.new` fails.
        static CAS_OK: Cell<bool> = const { Cell::new(true) };
    }

    pub fn err_text(e: &Error) -> String {
        match e {
            Error::NoSuchStore => format!("key-value store {STORE:?} does not exist"),
            Error::AccessDenied => format!(
                "access to key-value store {STORE:?} denied (list it in key_value_stores and let the dependency \
                 inherit it: inherit_configuration = [\"key_value_stores\", ...])"
            ),
            Error::Other(s) => s.clone(),
        }
    }

    /// The opened store, once per instance.
    pub fn bucket() -> Result<Rc<Bucket>, String> {
        BUCKET.with(|b| {
            if let Some(b) = &*b.borrow() {
                return Ok(b.clone());
            }
            let opened = Rc::new(store::open(STORE).map_err(|e| err_text(&e))?);
            *b.borrow_mut() = Some(opened.clone());
            Ok(opened)
        })
    }

    pub fn get(key: &str) -> Result<Option<Vec<u8>>, String> {
        let b = bucket()?;
        raw_get(&b, key)
    }

    pub fn set(key: &str, value: &[u8]) -> Result<(), String> {
        let b = bucket()?;
        raw_set(&b, key, value)
    }

    pub fn delete(key: &str) -> Result<(), String> {
        bucket()?.delete(key).map_err(|e| err_text(&e))
    }

    pub fn exists(key: &str) -> Result<bool, String> {
        bucket()?.exists(key).map_err(|e| err_text(&e))
    }

    /// Reads `key` and writes what `f` decides, atomically when the store supports
    /// `wasi:keyvalue/atomics` compare-and-swap: the write only lands if the key still holds the
    /// value `f` saw, otherwise `f` runs again on the new value. On a store without CAS it is a
    /// plain read then write (last writer wins; see the README).
    #[cfg(not(feature = "wasmtime"))]
    pub fn update<R>(key: &str, mut f: impl FnMut(Option<&[u8]>) -> Result<Step<R>, String>) -> Result<R, String> {
        let b = bucket()?;
        for _ in 0..CAS_ATTEMPTS {
            let cas = if CAS_OK.with(Cell::get) {
                match Cas::new(&*b, key) {
                    Ok(c) => Some(c),
                    Err(_) => {
                        CAS_OK.with(|c| c.set(false));
                        None
                    }
                }
            } else {
                None
            };
            let Some(cas) = cas else {
                let cur = raw_get(&b, key)?;
                return match f(cur.as_deref())? {
                    Step::Keep(r) => Ok(r),
                    Step::Write(v, r) => {
                        raw_set(&b, key, &v)?;
                        Ok(r)
                    }
                };
            };
            let cur = cas.current().map_err(|e| err_text(&e))?;
            match f(cur.as_deref())? {
                Step::Keep(r) => return Ok(r),
                Step::Write(v, r) => match atomics::swap(cas, &v) {
                    Ok(()) => return Ok(r),
                    Err(CasError::CasFailed(_)) => continue,
                    Err(CasError::StoreError(e)) => return Err(err_text(&e)),
                },
            }
        }
        Err(format!("key {key:?} kept changing: gave up after {CAS_ATTEMPTS} compare-and-swap attempts"))
    }

    /// `wasmtime serve`'s store has no compare-and-swap: a plain read, then a write.
    #[cfg(feature = "wasmtime")]
    pub fn update<R>(key: &str, mut f: impl FnMut(Option<&[u8]>) -> Result<Step<R>, String>) -> Result<R, String> {
        let b = bucket()?;
        let cur = raw_get(&b, key)?;
        match f(cur.as_deref())? {
            Step::Keep(r) => Ok(r),
            Step::Write(v, r) => {
                raw_set(&b, key, &v)?;
                Ok(r)
            }
        }
    }
}

/// 128 bits of SHA-256 in hex: fixed-length keys for unbounded strings (URIs, names, refs).
pub fn h(parts: &[&str]) -> String {
    let mut d = Sha256::new();
    for p in parts {
        d.update((p.len() as u64).to_le_bytes());
        d.update(p.as_bytes());
    }
    d.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh random 128-bit hex string (std's `RandomState` is seeded from `wasi:random`).
pub fn random_hex() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    thread_local!(static N: Cell<u64> = const { Cell::new(0) });
    let n = N.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    (0..2u64)
        .map(|i| {
            let mut x = RandomState::new().build_hasher();
            x.write_u64(n);
            x.write_u64(i);
            format!("{:016x}", x.finish())
        })
        .collect()
}

/// A JSON index value (a sorted list) read whole.
pub fn load_index<T: serde::de::DeserializeOwned>(key: &str) -> Result<Vec<T>, String> {
    match get(key)? {
        None => Ok(Vec::new()),
        Some(v) => serde_json::from_slice(&v).map_err(|e| format!("index {key:?} is corrupt: {e}")),
    }
}

/// Inserts into or removes from a sorted JSON index value, atomically (see [`update`]). Returns
/// whether this call changed the index (`false`: the item was already there / already gone).
pub fn edit_index<T>(key: &str, item: &T, insert: bool) -> Result<bool, String>
where
    T: serde::Serialize + serde::de::DeserializeOwned + Ord + Clone,
{
    update(key, |cur| {
        let mut v: Vec<T> = match cur {
            None => Vec::new(),
            Some(b) => serde_json::from_slice(b).map_err(|e| format!("index {key:?} is corrupt: {e}"))?,
        };
        match (v.binary_search(item), insert) {
            (Ok(_), true) | (Err(_), false) => Ok(Step::Keep(false)),
            (Err(i), true) => {
                v.insert(i, item.clone());
                Ok(Step::Write(serde_json::to_vec(&v).unwrap(), true))
            }
            (Ok(i), false) => {
                v.remove(i);
                Ok(Step::Write(serde_json::to_vec(&v).unwrap(), true))
            }
        }
    })
}

/// For native unit tests: the same functions over an in-memory map (one per test thread), with
/// compare-and-swap by value, and a hook that runs between an [`update`]'s read and its swap so a
/// test can interleave a concurrent change there.
#[cfg(test)]
pub mod mem {
    use super::Step;
    #[cfg(not(feature = "wasmtime"))]
    use super::CAS_ATTEMPTS;
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    type Hook = Box<dyn FnMut(&str)>;

    thread_local! {
        static MAP: RefCell<BTreeMap<String, Vec<u8>>> = const { RefCell::new(BTreeMap::new()) };
        static HOOK: RefCell<Option<Hook>> = const { RefCell::new(None) };
        static GETS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }

    /// How many `get`s this thread has made (what a host call count would be on Spin).
    pub fn gets() -> u64 {
        GETS.with(|g| g.get())
    }

    /// Runs `hook(key)` inside every later [`update`] between its read and its swap (not inside
    /// the updates the hook itself makes), until [`clear_hook`] (called outside the hook).
    pub fn set_hook(hook: impl FnMut(&str) + 'static) {
        HOOK.with(|h| *h.borrow_mut() = Some(Box::new(hook)));
    }

    pub fn clear_hook() {
        HOOK.with(|h| *h.borrow_mut() = None);
    }

    /// Empties the store and removes the hook.
    pub fn reset() {
        MAP.with(|m| m.borrow_mut().clear());
        clear_hook();
    }

    /// Every key currently stored.
    pub fn keys() -> Vec<String> {
        MAP.with(|m| m.borrow().keys().cloned().collect())
    }

    pub fn get(key: &str) -> Result<Option<Vec<u8>>, String> {
        GETS.with(|g| g.set(g.get() + 1));
        Ok(MAP.with(|m| m.borrow().get(key).cloned()))
    }

    pub fn set(key: &str, value: &[u8]) -> Result<(), String> {
        MAP.with(|m| m.borrow_mut().insert(key.to_string(), value.to_vec()));
        Ok(())
    }

    pub fn delete(key: &str) -> Result<(), String> {
        MAP.with(|m| m.borrow_mut().remove(key));
        Ok(())
    }

    pub fn exists(key: &str) -> Result<bool, String> {
        Ok(MAP.with(|m| m.borrow().contains_key(key)))
    }

    pub fn update<R>(key: &str, mut f: impl FnMut(Option<&[u8]>) -> Result<Step<R>, String>) -> Result<R, String> {
        for _ in 0..CAS_ATTEMPTS {
            let seen = get(key)?;
            let step = f(seen.as_deref())?;
            // Taken out while it runs, so the updates it makes do not call it again.
            if let Some(mut hook) = HOOK.with(|h| h.borrow_mut().take()) {
                hook(key);
                HOOK.with(|h| {
                    let mut h = h.borrow_mut();
                    if h.is_none() {
                        *h = Some(hook);
                    }
                });
            }
            match step {
                Step::Keep(r) => return Ok(r),
                Step::Write(v, r) if get(key)? == seen => {
                    set(key, &v)?;
                    return Ok(r);
                }
                Step::Write(..) => continue,
            }
        }
        Err(format!("key {key:?} kept changing: gave up after {CAS_ATTEMPTS} compare-and-swap attempts"))
    }
}
