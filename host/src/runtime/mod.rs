//! The sandboxed runtime: one `Engine` and `InstancePre`, a fresh instance per call, and the
//! component's imports wired to the configured backends.
//!
//! Sandbox: each instance has a memory limit, each call an epoch deadline, and each host call a
//! cap on the bytes it moves. Exceeding one returns a [`HostError`]; the host never crashes.

pub(crate) mod bindings;
pub(crate) mod convert;
mod exports;
mod imports;
mod stream;

use crate::metadata::SharedMetadata;
use crate::storage::{Router, SharedStorage};
use artifact_component::manifest::{ManifestOptions, Part};
use artifact_component::model as m;
use artifact_component::sign::upload::UploadOptions;
use artifact_component::sign::SignOptions;
pub use artifact_component::store::GcOptions;
use bindings::exports::artifact::store::artifacts as wa;
use exports::Exports;
use convert::*;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::{Component, Instance, Linker, ResourceAny, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// The component built from this repository, embedded at compile time.
pub const EMBEDDED_COMPONENT: &[u8] = include_bytes!(env!("ARTIFACT_COMPONENT_WASM"));

const TICK: Duration = Duration::from_millis(5);

/// Per-component maxima of the pooling allocator (the artifact and edge components fit).
const MAX_CORE_INSTANCES: u32 = 8;
const MAX_MEMORIES: u32 = 2;
const MAX_TABLES: u32 = 4;

/// Errors of the host library.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The component returned a typed artifact error.
    #[error("{0}")]
    Artifact(#[from] m::Error),
    /// A call ran past its deadline and was interrupted.
    #[error("the component call exceeded its deadline of {0:?}")]
    Deadline(Duration),
    /// The instance tried to grow its memory past the limit.
    #[error("the component exceeded its memory limit of {0} bytes")]
    Memory(usize),
    /// Any other trap inside the component.
    #[error("the component trapped: {0}")]
    Trap(String),
    /// The component could not be loaded or instantiated.
    #[error("loading the component failed: {0}")]
    Load(String),
    /// Local I/O of the host (reading an input file, writing output).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A plugin's `run` returned an error (see [`crate::plugin`]).
    #[error("the plugin failed: {0}")]
    Plugin(String),
}

impl HostError {
    /// The error kind as printed by the CLI (`not-found`, `deadline`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            HostError::Artifact(e) => e.kind(),
            HostError::Deadline(_) => "deadline",
            HostError::Memory(_) => "memory-limit",
            HostError::Trap(_) => "trap",
            HostError::Load(_) => "load",
            HostError::Io(_) => "io",
            HostError::Plugin(_) => "plugin",
        }
    }
}

/// Sandbox limits. `#[non_exhaustive]`: build with [`Limits::default`] and the setters.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Limits {
    /// Linear memory of one instance, bytes (default 768 MiB).
    pub memory_bytes: usize,
    /// Wall-clock budget of one export call (default 60 s).
    pub call_timeout: Duration,
    /// Largest read or chunk a single storage host call moves (default 64 MiB, at least 1 MiB:
    /// the component writes chunks of up to 1 MiB).
    pub max_bytes_per_call: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { memory_bytes: 768 << 20, call_timeout: Duration::from_secs(60), max_bytes_per_call: 64 << 20 }
    }
}

impl Limits {
    pub fn memory_bytes(mut self, v: usize) -> Self {
        self.memory_bytes = v;
        self
    }
    pub fn call_timeout(mut self, v: Duration) -> Self {
        self.call_timeout = v;
        self
    }
    pub fn max_bytes_per_call(mut self, v: u64) -> Self {
        self.max_bytes_per_call = v.max(1 << 20);
        self
    }
}

pub(crate) struct Shared {
    pub storage: Router,
    pub metadata: SharedMetadata,
    pub config: BTreeMap<String, String>,
    pub limits: Limits,
}

/// Per-instance state: WASI, the resource table and the shared backends.
pub struct Ctx {
    artifacts: crate::embed::ArtifactCtx,
    pub(crate) table: ResourceTable,
    pub(crate) wasi: WasiCtx,
    memory_denied: bool,
    /// Largest linear memory size granted so far (bytes); memory never shrinks.
    memory_peak: usize,
}

impl Ctx {
    /// Fresh per-instance state over the shared backends.
    pub(crate) fn new(shared: Arc<Shared>) -> Ctx {
        Ctx {
            artifacts: crate::embed::ArtifactCtx::new(shared),
            table: ResourceTable::new(),
            wasi: WasiCtx::builder().build(),
            memory_denied: false,
            memory_peak: 0,
        }
    }

    /// Whether an instance whose call just returned may serve another call (`serve --reuse`):
    /// no resource left in its table, no memory growth refused, linear memory at most
    /// `max_memory` bytes.
    pub(crate) fn clean_for_reuse(&self, max_memory: usize) -> bool {
        self.table.is_empty() && !self.memory_denied && self.memory_peak <= max_memory
    }
}

impl crate::embed::ArtifactView for Ctx {
    fn artifact(&mut self) -> crate::embed::ArtifactCtxView<'_> {
        crate::embed::ArtifactCtxView { ctx: &self.artifacts, table: &mut self.table }
    }
}

impl WasiView for Ctx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Bytes of each pooled linear memory kept resident between instances (see `base`): a small
/// request's working set (the component's data, stack and heap) fits. Measured with `wrk` on
/// signed 4 KiB reads (benches/README.md): 1 MiB served as many requests as 4 MiB, both ~20 %
/// more than none; the server's peak RSS under a 256 MiB upload stayed at 59–61 MiB with each.
const KEEP_RESIDENT: usize = 1 << 20;

impl wasmtime::ResourceLimiter for Ctx {
    fn memory_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.artifacts.shared.limits.memory_bytes {
            self.memory_denied = true;
            return Ok(false);
        }
        self.memory_peak = self.memory_peak.max(desired);
        Ok(true)
    }
    fn table_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// Builder of a [`Runtime`] (wasmtime's ctx-builder idiom).
#[must_use]
pub struct RuntimeBuilder {
    storage: Vec<SharedStorage>,
    metadata: Option<SharedMetadata>,
    config: BTreeMap<String, String>,
    limits: Limits,
    wasm: Option<Vec<u8>>,
    cache_dir: Option<PathBuf>,
    pooling: Option<u32>,
}

impl RuntimeBuilder {
    /// Adds a storage backend; the first one added is the default driver for new blobs.
    pub fn storage(mut self, s: SharedStorage) -> Self {
        self.storage.push(s);
        self
    }
    /// Sets the metadata backend.
    pub fn metadata(mut self, m: SharedMetadata) -> Self {
        self.metadata = Some(m);
        self
    }
    /// A `wasi:config/store` value seen by the component (e.g. `signing_keys`, `active_kid`).
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.insert(key.into(), value.into());
        self
    }
    /// `wasi:config` values from the process environment, as the CLI takes them:
    /// `ARTIFACT_SIGNING_KEYS` (`signing_keys`), `ARTIFACT_ACTIVE_KID` (`active_kid`), and any
    /// `ARTIFACT_CONFIG_<KEY>` (`<key>`, lowercased).
    pub fn config_from_env(mut self) -> Self {
        for (k, v) in std::env::vars() {
            if let Some(key) = k.strip_prefix("ARTIFACT_CONFIG_") {
                self = self.config(key.to_ascii_lowercase(), v);
            }
        }
        for (var, key) in [("ARTIFACT_SIGNING_KEYS", "signing_keys"), ("ARTIFACT_ACTIVE_KID", "active_kid")] {
            if let Ok(v) = std::env::var(var) {
                self = self.config(key, v);
            }
        }
        self
    }
    /// Sandbox limits.
    pub fn limits(mut self, l: Limits) -> Self {
        self.limits = l;
        self
    }
    /// Runs this component instead of the embedded one.
    pub fn wasm(mut self, bytes: Vec<u8>) -> Self {
        self.wasm = Some(bytes);
        self
    }
    /// Caches compiled code in `dir` (keyed by the engine and the `.wasm` hash).
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }
    /// Uses the pooling allocator with room for `instances` concurrent instances.
    pub fn pooling(mut self, instances: u32) -> Self {
        self.pooling = Some(instances);
        self
    }

    pub fn build(self) -> Result<Runtime, HostError> {
        let load = |e: wasmtime::Error| HostError::Load(format!("{e:#}"));
        let Base { engine, component, shared, stop } = self.base(EMBEDDED_COMPONENT)?;
        let mut linker: Linker<Ctx> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(load)?;
        crate::embed::add_to_linker(&mut linker)?;
        let exports = Exports::new(linker.instantiate_pre(&component).map_err(load)?)?;
        Ok(Runtime { engine, exports, shared, stop })
    }

    /// The backends, config and limits, for [`crate::embed`]: what the component's imports need,
    /// without an engine or a component of this crate's choosing.
    pub fn into_ctx(mut self) -> Result<crate::embed::ArtifactCtx, HostError> {
        Ok(crate::embed::ArtifactCtx::new(self.take_shared()?))
    }

    fn take_shared(&mut self) -> Result<Arc<Shared>, HostError> {
        let metadata = self.metadata.take().ok_or_else(|| HostError::Load("no metadata backend configured".into()))?;
        if self.storage.is_empty() {
            return Err(HostError::Load("no storage backend configured".into()));
        }
        Ok(Arc::new(Shared {
            storage: Router::new(std::mem::take(&mut self.storage)),
            metadata,
            config: std::mem::take(&mut self.config),
            limits: self.limits.clone(),
        }))
    }

    /// What every host of the component shares (the CLI runtime and the HTTP server): the
    /// engine (epoch interruption, optional pooling allocator), the compiled component (this
    /// builder's `.wasm`, else `default_wasm`), the backends and the epoch ticker thread.
    pub(crate) fn base(mut self, default_wasm: &[u8]) -> Result<Base, HostError> {
        let load = |e: wasmtime::Error| HostError::Load(format!("{e:#}"));
        let shared = self.take_shared()?;
        let mut cfg = Config::new();
        cfg.epoch_interruption(true);
        if let Some(n) = self.pooling {
            let mut p = wasmtime::PoolingAllocationConfig::default();
            // Room for `n` instances of any component within the per-component maxima below
            // (the edge component has several core instances and two memories: totals of `n`
            // let only a third of the requested instances run).
            p.total_component_instances(n)
                .total_core_instances(n * MAX_CORE_INSTANCES)
                .total_memories(n * MAX_MEMORIES)
                .total_tables(n * MAX_TABLES)
                .total_stacks(n)
                .max_memory_size(self.limits.memory_bytes)
                .max_component_instance_size(1 << 20)
                .max_core_instances_per_component(MAX_CORE_INSTANCES)
                .max_memories_per_component(MAX_MEMORIES)
                .max_tables_per_component(MAX_TABLES)
                // Return freed slots' pages to the kernel in batches: one madvise (and, in a
                // multi-threaded server, one round of TLB-shootdown IPIs) per batch of instances
                // instead of per instance. Slots are reclaimed early when the pool runs dry.
                .decommit_batch_size((n as usize / 4).clamp(1, 16))
                // Keep the pages an instance touched resident and reset them in place (memset
                // from the memory image, only the dirty ones where the kernel has PAGEMAP_SCAN):
                // the next instance in the slot then takes no copy-on-write page faults, and
                // no madvise means no TLB shootdowns (see benches/README.md, per-request cost).
                .linear_memory_keep_resident(KEEP_RESIDENT)
                .table_keep_resident(64 << 10)
                .pagemap_scan(wasmtime::Enabled::Auto);
            cfg.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(p));
        }
        let engine = Engine::new(&cfg).map_err(load)?;
        let wasm = self.wasm.as_deref().unwrap_or(default_wasm);
        let component = load_component(&engine, wasm, self.cache_dir.as_deref())?;
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (engine, stop) = (engine.clone(), stop.clone());
            std::thread::Builder::new()
                .name("artifact-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(TICK);
                        engine.increment_epoch();
                    }
                })
                .map_err(HostError::Io)?;
        }
        Ok(Base { engine, component, shared, stop })
    }
}

/// See [`RuntimeBuilder::base`]. Setting `stop` ends the epoch ticker.
pub(crate) struct Base {
    pub engine: Engine,
    pub component: Component,
    pub shared: Arc<Shared>,
    pub stop: Arc<AtomicBool>,
}

impl RuntimeBuilder {
    /// The limits this builder will apply.
    pub fn current_limits(&self) -> &Limits {
        &self.limits
    }
}

/// Hands the heap Cranelift freed back to the OS. Compiling the component peaks at ~100 MiB of
/// malloc'd memory that glibc otherwise keeps resident for the life of the process, so a server
/// that compiled (no cache entry) idled at about twice the RSS of one that loaded from the cache.
fn release_freed_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free pages of glibc's heap; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

pub(crate) fn load_component(engine: &Engine, wasm: &[u8], cache: Option<&std::path::Path>) -> Result<Component, HostError> {
    let load = |e: wasmtime::Error| HostError::Load(format!("{e:#}"));
    let Some(dir) = cache else {
        let component = Component::new(engine, wasm).map_err(load);
        release_freed_heap();
        return component;
    };
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    let digest = Sha256::digest(wasm);
    let key = artifact_component::encoding::hex(&digest[..16]);
    let path = dir.join(format!("{key}-{:016x}.cwasm", h.finish()));
    // An entry is the SHA-256 of the compiled code, then the code: anything that does not hash
    // right (truncated, corrupted, replaced by hand) is recompiled, never deserialized.
    if let Ok(entry) = std::fs::read(&path) {
        if entry.len() > 32 && Sha256::digest(&entry[32..]).as_slice() == &entry[..32] {
            // SAFETY: the bytes are exactly what `serialize` produced for this engine
            // configuration (the digest checks them; the key covers the wasm bytes and engine
            // compatibility), written by this function into the host's own cache directory.
            if let Ok(c) = unsafe { Component::deserialize(engine, &entry[32..]) } {
                return Ok(c);
            }
        }
    }
    let component = Component::new(engine, wasm).map_err(load)?;
    if let Ok(bytes) = component.serialize() {
        let _ = std::fs::create_dir_all(dir);
        let tmp = dir.join(format!(".{key}.{}.tmp", std::process::id()));
        let mut entry = Sha256::digest(&bytes).to_vec();
        entry.extend_from_slice(&bytes);
        if std::fs::write(&tmp, entry).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
    release_freed_heap();
    Ok(component)
}

/// A loaded component plus backends. Cheap to share (`Arc`); every call gets a fresh instance.
pub struct Runtime {
    engine: Engine,
    exports: Exports,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One instance and its store, for calls that span several export calls (streams).
pub struct Session<'a> {
    rt: &'a Runtime,
    store: Store<Ctx>,
    inst: Instance,
    /// Every export, type-checked; loaded by the first call that is not `head` or `get`.
    api: Option<wa::Guest>,
    /// `head` and `get` of `inst`, once called.
    found: exports::Found,
}

impl Runtime {
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder {
            storage: Vec::new(),
            metadata: None,
            config: BTreeMap::new(),
            limits: Limits::default(),
            wasm: None,
            cache_dir: None,
            pooling: None,
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.shared.limits
    }

    /// A fresh instance.
    pub fn session(&self) -> Result<Session<'_>, HostError> {
        let ctx = Ctx::new(self.shared.clone());
        let mut store = Store::new(&self.engine, ctx);
        store.limiter(|c| c as &mut dyn wasmtime::ResourceLimiter);
        // A body the guest returns (up to the documented 256 MiB get cap, and anything else its
        // memory can hold) may cross in one call; the memory limit bounds it.
        store.set_hostcall_fuel(self.shared.limits.memory_bytes);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(self.deadline_ticks());
        let inst = self.exports.instantiate(&mut store).map_err(|e| self.trap(e, &store))?;
        Ok(Session { rt: self, store, inst, api: None, found: exports::Found::default() })
    }

    fn deadline_ticks(&self) -> u64 {
        (self.shared.limits.call_timeout.as_millis() / TICK.as_millis()).max(1) as u64
    }

    fn trap(&self, e: wasmtime::Error, store: &Store<Ctx>) -> HostError {
        if store.data().memory_denied {
            return HostError::Memory(self.shared.limits.memory_bytes);
        }
        if let Some(wasmtime::Trap::Interrupt) = e.downcast_ref::<wasmtime::Trap>() {
            return HostError::Deadline(self.shared.limits.call_timeout);
        }
        HostError::Trap(format!("{e:#}"))
    }

    pub fn put(&self, data: &[u8], opts: &m::PutOptions) -> Result<m::PutResult, HostError> {
        self.session()?.put(data, opts)
    }
    pub fn get(&self, r: &str, opts: &m::GetOptions) -> Result<m::GetResult, HostError> {
        self.session()?.get(r, opts)
    }
    pub fn head(&self, r: &str) -> Result<m::Record, HostError> {
        self.session()?.head(r)
    }
    pub fn find(&self, bucket: &str, name: &str) -> Result<m::Record, HostError> {
        self.session()?.find(bucket, name)
    }
    pub fn list(&self, q: &m::ListQuery) -> Result<m::Page, HostError> {
        self.session()?.list(q)
    }
    pub fn summary(&self, bucket: &str) -> Result<m::BucketSummary, HostError> {
        self.session()?.summary(bucket)
    }
    pub fn delete(&self, r: &str) -> Result<String, HostError> {
        self.session()?.delete(r)
    }
    /// Garbage collection with the default options (see [`Runtime::gc_with`]).
    pub fn gc(&self) -> Result<m::GcReport, HostError> {
        self.session()?.gc_with(&GcOptions::default())
    }
    /// Removes expired artifacts, unreferenced blobs, objects of killed puts and staged writes
    /// older than the grace period; safe next to concurrent puts and deletes.
    pub fn gc_with(&self, opts: &GcOptions) -> Result<m::GcReport, HostError> {
        self.session()?.gc_with(opts)
    }
    /// Mints a signed URL path for `r` valid for `ttl_secs` (keys from the `signing_keys` and
    /// `active_kid` config values).
    pub fn sign(&self, r: &str, ttl_secs: u64, opts: &SignOptions) -> Result<String, HostError> {
        self.session()?.sign(r, ttl_secs, opts)
    }
    /// Mints a signed URL path for `r` that carries its record, so its read looks nothing up
    /// (`artifact_component::sign::carried`): the record comes from the component, the
    /// revocation check and the signature are made here, natively.
    pub fn sign_carried(&self, r: &str, ttl_secs: u64, opts: &SignOptions) -> Result<String, HostError> {
        let rec = self.head(r)?;
        let keys = artifact_component::sign::Keys::from_config(&self.shared.config)?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Ok(artifact_component::sign::carried::sign_unrevoked(&self.shared.storage, &keys, &rec, now, ttl_secs, opts)?)
    }
    /// Mints a signed upload URL path for `bucket` + `name` valid for `ttl_secs`: a `PUT` of it to
    /// the edge component stores the body within the bounds of `opts`.
    pub fn sign_upload(&self, bucket: &str, name: &str, ttl_secs: u64, opts: &UploadOptions) -> Result<String, HostError> {
        self.session()?.sign_upload(bucket, name, ttl_secs, opts)
    }
    /// Keeps a JSON result inline or stores it (see [`Session::externalize`]).
    pub fn externalize(&self, value_json: &str, opts: &m::ExternalizeOptions) -> Result<m::Externalized, HostError> {
        self.session()?.externalize(value_json, opts)
    }
    /// Streams `src` into a new artifact through the component's writer, in 1 MiB chunks.
    pub fn put_stream(&self, src: &mut dyn Read, opts: &m::PutOptions) -> Result<m::PutResult, HostError> {
        self.session()?.put_stream(src, opts)
    }
    /// Streams an artifact's logical bytes into `out` through the component's reader.
    pub fn get_stream(&self, r: &str, opts: &m::GetOptions, out: &mut dyn Write) -> Result<m::Record, HostError> {
        self.session()?.get_stream(r, opts, out)
    }
    /// Creates a manifest: open without `parts`, completed in one shot with them.
    pub fn manifest_create(&self, opts: &ManifestOptions, parts: &[String]) -> Result<m::PutResult, HostError> {
        self.session()?.manifest_create(opts, parts)
    }
    /// Adds a part to an open manifest, at `index` or after the last part.
    pub fn manifest_add(&self, manifest: &str, part: &str, index: Option<u32>) -> Result<m::PutResult, HostError> {
        self.session()?.manifest_add(manifest, part, index)
    }
    /// Completes an open manifest (totals computed by the component).
    pub fn manifest_complete(&self, manifest: &str) -> Result<m::PutResult, HostError> {
        self.session()?.manifest_complete(manifest)
    }
    /// Iterates a manifest's resolved parts on a fresh instance; see [`Parts`].
    pub fn open_parts(&self, manifest: &str, opts: &m::GetOptions) -> Result<Parts<'_>, HostError> {
        self.session()?.open_parts(manifest, opts)
    }
}

/// Chunk size of host-driven streams.
pub const STREAM_CHUNK: usize = 1 << 20;

impl Session<'_> {
    /// Runs one export call under a fresh deadline and maps traps.
    fn call<T>(
        &mut self,
        f: impl FnOnce(&wa::Guest, &mut Store<Ctx>) -> wasmtime::Result<Result<T, wa::Error>>,
    ) -> Result<T, HostError> {
        self.store.set_epoch_deadline(self.rt.deadline_ticks());
        let api = match &self.api {
            Some(api) => api.clone(),
            None => {
                let api = self.rt.exports.load(&mut self.store, &self.inst).map_err(|e| self.rt.trap(e, &self.store))?;
                self.api.insert(api).clone()
            }
        };
        let r = f(&api, &mut self.store);
        self.result(r)
    }

    /// Runs one call of [`Exports`]' fast path (`head`, `get`) under a fresh deadline.
    fn call_fast<T>(
        &mut self,
        f: impl FnOnce(&Exports, &mut Store<Ctx>, &Instance, &mut exports::Found) -> wasmtime::Result<Result<T, wa::Error>>,
    ) -> Result<T, HostError> {
        self.store.set_epoch_deadline(self.rt.deadline_ticks());
        let r = f(&self.rt.exports, &mut self.store, &self.inst, &mut self.found);
        self.result(r)
    }

    fn result<T>(&self, r: wasmtime::Result<Result<T, wa::Error>>) -> Result<T, HostError> {
        match r {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(HostError::Artifact(err_in(e))),
            Err(e) => Err(self.rt.trap(e, &self.store)),
        }
    }

    pub fn put(&mut self, data: &[u8], opts: &m::PutOptions) -> Result<m::PutResult, HostError> {
        let o = put_options_out(opts);
        self.call(|a, s| a.call_put(s, data, &o)).map(put_result_in)
    }
    pub fn get(&mut self, r: &str, opts: &m::GetOptions) -> Result<m::GetResult, HostError> {
        let o = get_options_out(opts);
        let g = self.call_fast(|x, s, i, f| x.get(s, i, f, r, o))?;
        Ok(m::GetResult { data: body_in(g.data), meta: record_in(g.meta) })
    }
    pub fn head(&mut self, r: &str) -> Result<m::Record, HostError> {
        self.call_fast(|x, s, i, f| x.head(s, i, f, r)).map(record_in)
    }
    pub fn find(&mut self, bucket: &str, name: &str) -> Result<m::Record, HostError> {
        self.call(|a, s| a.call_find(s, bucket, name)).map(record_in)
    }
    pub fn list(&mut self, q: &m::ListQuery) -> Result<m::Page, HostError> {
        let q = query_out(q);
        self.call(|a, s| a.call_list(s, &q)).map(page_in)
    }
    pub fn summary(&mut self, bucket: &str) -> Result<m::BucketSummary, HostError> {
        self.call(|a, s| a.call_summary(s, bucket))
            .map(|b| m::BucketSummary { count: b.count, total_bytes: b.total_bytes })
    }
    pub fn delete(&mut self, r: &str) -> Result<String, HostError> {
        self.call(|a, s| a.call_delete(s, r))
    }
    pub fn gc_with(&mut self, opts: &GcOptions) -> Result<m::GcReport, HostError> {
        let o = wa::GcOptions { staging_grace_ms: opts.staging_grace_ms };
        self.call(|a, s| a.call_gc(s, o)).map(|g| m::GcReport { records: g.records, blobs: g.blobs, staging: g.staging })
    }
    pub fn sign(&mut self, r: &str, ttl_secs: u64, opts: &SignOptions) -> Result<String, HostError> {
        let o = wa::SignOptions { method: opts.method.clone(), range: opts.range.map(range_out), kid: opts.kid.clone() };
        self.call(|a, s| a.call_sign(s, r, ttl_secs, &o))
    }
    pub fn sign_upload(&mut self, bucket: &str, name: &str, ttl_secs: u64, opts: &UploadOptions) -> Result<String, HostError> {
        let o = wa::UploadOptions {
            content_type: opts.content_type.clone(),
            max_bytes: opts.max_bytes,
            compression: opts.compression.map(compression_out),
            kid: opts.kid.clone(),
        };
        self.call(|a, s| a.call_sign_upload(s, bucket, name, ttl_secs, &o))
    }
    /// Keeps `value_json` inline when its text is at most `inline_max_bytes`, or stores it and
    /// returns the ResultRef with a bounded preview and the selected fields. A failure to store
    /// is reported in [`m::Externalized::error`] (with the preview, never the payload); `Err` is
    /// only for a failure of the call itself (trap, deadline, memory limit).
    pub fn externalize(&mut self, value_json: &str, opts: &m::ExternalizeOptions) -> Result<m::Externalized, HostError> {
        let o = externalize_options_out(opts);
        // The generated binding wants `&String` (WIT `json` is a string alias).
        let v = value_json.to_owned();
        self.call(|a, s| a.call_externalize(s, &v, &o).map(Ok::<_, wa::Error>)).map(externalized_in)
    }

    pub fn put_stream(&mut self, src: &mut dyn Read, opts: &m::PutOptions) -> Result<m::PutResult, HostError> {
        let o = put_options_out(opts);
        let w: ResourceAny = self.call(|a, s| a.call_open_writer(s, &o))?;
        let r = self.pump_into(w, src);
        let _ = w.resource_drop(&mut self.store);
        r
    }

    fn pump_into(&mut self, w: ResourceAny, src: &mut dyn Read) -> Result<m::PutResult, HostError> {
        let mut buf = vec![0u8; STREAM_CHUNK];
        loop {
            let n = match read_full(src, &mut buf) {
                Ok(n) => n,
                Err(e) => {
                    let _ = self.call(|a, s| a.writer().call_abort(s, w).map(Ok::<_, wa::Error>));
                    return Err(HostError::Io(e));
                }
            };
            if n == 0 {
                break;
            }
            let chunk = &buf[..n];
            self.call(|a, s| a.writer().call_write(s, w, chunk))?;
        }
        self.call(|a, s| a.writer().call_finish(s, w)).map(put_result_in)
    }

    pub fn get_stream(&mut self, r: &str, opts: &m::GetOptions, out: &mut dyn Write) -> Result<m::Record, HostError> {
        let o = get_options_out(opts);
        let rd: ResourceAny = self.call(|a, s| a.call_open_reader(s, r, o))?;
        let res = self.pump_out(rd, out);
        let _ = rd.resource_drop(&mut self.store);
        res
    }

    fn pump_out(&mut self, rd: ResourceAny, out: &mut dyn Write) -> Result<m::Record, HostError> {
        let meta = self.call(|a, s| a.reader().call_meta(s, rd).map(Ok::<_, wa::Error>))?;
        loop {
            let chunk = self.call(|a, s| a.reader().call_read(s, rd, STREAM_CHUNK as u32))?;
            if chunk.is_empty() {
                break;
            }
            out.write_all(&chunk)?;
        }
        Ok(record_in(meta))
    }
}

/// Manifests.
impl<'a> Session<'a> {
    pub fn manifest_create(&mut self, opts: &ManifestOptions, parts: &[String]) -> Result<m::PutResult, HostError> {
        let o = manifest_options_out(opts)?;
        self.call(|a, s| a.call_manifest_create(s, &o, parts)).map(put_result_in)
    }
    pub fn manifest_add(&mut self, manifest: &str, part: &str, index: Option<u32>) -> Result<m::PutResult, HostError> {
        self.call(|a, s| a.call_manifest_add(s, manifest, part, index)).map(put_result_in)
    }
    pub fn manifest_complete(&mut self, manifest: &str) -> Result<m::PutResult, HostError> {
        self.call(|a, s| a.call_manifest_complete(s, manifest)).map(put_result_in)
    }

    /// Opens the component's `part-reader` on this instance and returns an iterator over the
    /// resolved parts, in index order. The session moves into the iterator, which drops the
    /// resource when it is dropped.
    pub fn open_parts(mut self, manifest: &str, opts: &m::GetOptions) -> Result<Parts<'a>, HostError> {
        let o = get_options_out(opts);
        let reader: ResourceAny = self.call(|a, s| a.call_open_parts(s, manifest, o))?;
        let meta = match self.call(|a, s| a.part_reader().call_meta(s, reader).map(Ok::<_, wa::Error>)) {
            Ok(m) => record_in(m),
            Err(e) => {
                let _ = reader.resource_drop(&mut self.store);
                return Err(e);
            }
        };
        Ok(Parts { session: self, reader: Some(reader), meta })
    }

    /// High-water mark of the instance's linear memory, in bytes (memory never shrinks).
    pub fn memory_peak(&self) -> usize {
        self.store.data().memory_peak
    }
}

/// A manifest's resolved parts, one per [`Iterator::next`] call through the component's
/// `part-reader` resource: the guest holds the manifest document and at most one part body.
/// Yields `Err` once (the part's error names its index and ref) and then ends.
pub struct Parts<'a> {
    session: Session<'a>,
    reader: Option<ResourceAny>,
    meta: m::Record,
}

impl Parts<'_> {
    /// The manifest's record.
    pub fn meta(&self) -> &m::Record {
        &self.meta
    }
    /// High-water mark of the guest's linear memory so far; see [`Session::memory_peak`].
    pub fn memory_peak(&self) -> usize {
        self.session.memory_peak()
    }
    fn close(&mut self) {
        if let Some(r) = self.reader.take() {
            let _ = r.resource_drop(&mut self.session.store);
        }
    }
}

impl Iterator for Parts<'_> {
    type Item = Result<Part, HostError>;
    fn next(&mut self) -> Option<Self::Item> {
        let r = self.reader?;
        match self.session.call(|a, s| a.part_reader().call_next(s, r)) {
            Ok(Some(p)) => Some(Ok(part_in(p))),
            Ok(None) => {
                self.close();
                None
            }
            Err(e) => {
                self.close();
                Some(Err(e))
            }
        }
    }
}

impl Drop for Parts<'_> {
    fn drop(&mut self) {
        self.close();
    }
}

fn read_full(src: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match src.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
