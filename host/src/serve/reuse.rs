//! Opt-in reuse of component instances across requests (`artifact serve --reuse N`).
//!
//! By default every request gets a fresh instance: nothing a request leaves in the guest's
//! memory can reach the next one (the `wasi:http` proxy model). With reuse, an instance whose
//! call ended cleanly goes back to an idle list and serves up to `N` requests, one at a time,
//! which saves the instantiation and the reset of its memory on each request.
//!
//! What stays isolated: every request still gets its own `wasi:http` resources, its own deadline
//! and the same limits. What does not: the guest's heap and statics carry over from one request
//! to the next request of the same instance. The edge component keeps no state between requests
//! (no cache of records, keys or bytes: a delete or overwrite is seen by the next request), so
//! this only matters if a guest bug corrupts its own memory. An instance is never reused after
//! a trap, a deadline, a refused memory growth, resources left behind in its table, or memory
//! grown past [`MAX_REUSED_MEMORY`]; it is dropped instead and the next request gets a new one.
//! Idle instances hold their pooling-allocator slots, never more than the server's `instances`.

use super::ServeCtx;
use std::sync::Mutex;
use wasmtime::Store;
use wasmtime_wasi_http::p2::bindings::Proxy;

/// An instance that grew its linear memory past this is not reused (a large upload or listing
/// grew its heap): idle instances keep their memory, and a fresh one starts small.
pub const MAX_REUSED_MEMORY: usize = 8 << 20;

/// An instance between two requests.
pub(crate) struct Warm {
    pub(crate) store: Store<ServeCtx>,
    pub(crate) proxy: Proxy,
    /// Requests it has served so far.
    pub(crate) served: u32,
}

/// Idle instances, newest last (the most recently used one is handed out first: its pages are
/// the warmest).
pub(crate) struct Pool {
    idle: Mutex<Vec<Warm>>,
    max_uses: u32,
}

impl Pool {
    /// A pool whose instances serve at most `max_uses` requests each (at least 1).
    pub(crate) fn new(max_uses: u32) -> Pool {
        Pool { idle: Mutex::new(Vec::new()), max_uses: max_uses.max(1) }
    }

    /// An idle instance, if any.
    pub(crate) fn take(&self) -> Option<Warm> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    /// Keeps `w` for a later request if it has uses left and ended clean (see the module docs);
    /// drops it otherwise.
    pub(crate) fn put(&self, w: Warm) {
        if w.served < self.max_uses && w.store.data().ctx.clean_for_reuse(MAX_REUSED_MEMORY) {
            self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(w);
        }
    }
}
