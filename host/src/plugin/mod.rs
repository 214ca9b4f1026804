//! Plugins: untrusted components that keep results in an artifact store (the `plugin` world in
//! `wit/world.wit`: they import `artifact:store/artifacts` and export `run`).
//!
//! [`compose`] plugs a plugin's `artifacts` import into the artifact component (wac-graph), so
//! the plugin talks only to the component; [`run`] instantiates the composition over a store
//! [scoped](scope) to the plugin and calls `run` under a memory limit and a deadline. The
//! scoping lives in the host's backends, below the component: a plugin sees one bucket of its
//! own store, and its quotas and read-only mode are checked there, not by the plugin.
//!
//! A plugin may import only `artifact:store/artifacts` (with its `types`) and WASI; it gets no
//! filesystem, network, environment or configuration (so no signing keys).

pub mod scope;

use crate::embed::{ArtifactCtx, ArtifactCtxView, ArtifactView};
use crate::metadata::SharedMetadata;
use crate::storage::SharedStorage;
use crate::{HostError, Runtime};
pub use scope::{Scope, ScopedMetadata, ScopedStorage, Usage};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wac_graph::types::Package;
use wac_graph::CompositionGraph;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

const ARTIFACTS: &str = "artifact:store/artifacts@0.1.0";
const TYPES: &str = "artifact:store/types@0.1.0";
const TICK: Duration = Duration::from_millis(5);

/// Limits of one plugin run besides its [`Scope`].
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest linear memory of any instance in the composition.
    pub memory_bytes: usize,
    /// Wall-clock time for the whole run (epoch interruption).
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { memory_bytes: 256 << 20, timeout: Duration::from_secs(30) }
    }
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// `run`'s answer.
    pub output: String,
    /// Bytes the run read from and wrote to storage.
    pub moved: u64,
}

/// Why an import of `plugin` is not allowed, if one is not.
fn refused_import(name: &str) -> Option<String> {
    let ok = name.starts_with("artifact:store/artifacts@") || name.starts_with("artifact:store/types@")
        || (name.starts_with("wasi:") && !name.starts_with("wasi:config/"));
    (!ok).then(|| format!("the plugin imports {name}; a plugin may import only {ARTIFACTS} and WASI"))
}

/// The plugin composed with the artifact component: one component importing the store's
/// backends (`storage`, `metadata`, `types`, `wasi:config`) and WASI, exporting only `run`.
pub fn compose(plugin: &[u8]) -> Result<Vec<u8>, HostError> {
    let load = |what: &str, e: &dyn std::fmt::Display| HostError::Load(format!("{what}: {e:#}"));
    let mut graph = CompositionGraph::new();
    let store = Package::from_bytes("artifact:component", None, crate::runtime::EMBEDDED_COMPONENT.to_vec(), graph.types_mut())
        .map_err(|e| load("the artifact component", &e))?;
    let store = graph.register_package(store).map_err(|e| load("the artifact component", &e))?;
    let store = graph.instantiate(store);
    let pkg = Package::from_bytes("artifact:plugin", None, plugin.to_vec(), graph.types_mut())
        .map_err(|e| load("the plugin is not a component", &e))?;
    let world = pkg.ty();
    let imports: Vec<String> = graph.types()[world].imports.keys().cloned().collect();
    if let Some(why) = imports.iter().find_map(|i| refused_import(i)) {
        return Err(HostError::Load(why));
    }
    if !graph.types()[world].exports.contains_key("run") {
        return Err(HostError::Load("the plugin does not export `run` (see the `plugin` world in wit/world.wit)".into()));
    }
    let pkg = graph.register_package(pkg).map_err(|e| load("the plugin", &e))?;
    let plugin = graph.instantiate(pkg);
    for import in imports.iter().filter(|i| i.as_str() == ARTIFACTS) {
        let node = graph.alias_instance_export(store, import).map_err(|e| load("the component's artifacts export", &e))?;
        graph.set_instantiation_argument(plugin, import, node).map_err(|e| load("plugging artifacts", &e))?;
    }
    let _ = TYPES; // shared by both: stays one import of the composition
    let run = graph.alias_instance_export(plugin, "run").map_err(|e| load("the plugin's run", &e))?;
    graph.export(run, "run").map_err(|e| load("exporting run", &e))?;
    graph.encode(Default::default()).map_err(|e| load("the composition does not validate", &e))
}

struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    artifacts: ArtifactCtx,
    memory_bytes: usize,
    memory_denied: bool,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl ArtifactView for State {
    fn artifact(&mut self) -> ArtifactCtxView<'_> {
        ArtifactCtxView { ctx: &self.artifacts, table: &mut self.table }
    }
}

impl wasmtime::ResourceLimiter for State {
    fn memory_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.memory_denied = true;
            return Ok(false);
        }
        Ok(true)
    }
    fn table_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// Runs `plugin` (a component of the `plugin` world) on `input`, over the plugin's own store
/// (`storage`, `metadata`) limited to `scope`. The plugin's own failure (`run` returned an
/// error) is [`HostError::Plugin`]; a trap, the deadline or the memory limit are the usual
/// [`HostError`] kinds. Compiled code is cached in `cache_dir` when given.
pub fn run(
    plugin: &[u8],
    storage: SharedStorage,
    metadata: SharedMetadata,
    scope: Scope,
    limits: &Limits,
    cache_dir: Option<&std::path::Path>,
    input: &str,
) -> Result<Outcome, HostError> {
    let load = |e: wasmtime::Error| HostError::Load(format!("{e:#}"));
    let scope = Arc::new(scope);
    let usage = Arc::new(Usage::default());
    let held = metadata.summary(&scope.bucket)?.total_bytes;
    let storage = Arc::new(ScopedStorage { inner: storage, scope: scope.clone(), usage: usage.clone(), held });
    let metadata = Arc::new(ScopedMetadata { inner: metadata, scope: scope.clone() });
    let artifacts = Runtime::builder().storage(storage).metadata(metadata).into_ctx()?;

    let composed = compose(plugin)?;
    let mut cfg = Config::new();
    cfg.epoch_interruption(true);
    let engine = Engine::new(&cfg).map_err(load)?;
    let component: Component = crate::runtime::load_component(&engine, &composed, cache_dir)?;
    let mut linker: Linker<State> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(load)?;
    crate::embed::add_to_linker(&mut linker)?;
    let state = State {
        wasi: WasiCtx::builder().build(),
        table: ResourceTable::new(),
        artifacts,
        memory_bytes: limits.memory_bytes,
        memory_denied: false,
    };
    let mut store = Store::new(&engine, state);
    store.limiter(|s| s);
    store.set_epoch_deadline((limits.timeout.as_millis() / TICK.as_millis()).max(1) as u64);
    store.epoch_deadline_trap();

    let stop = Arc::new(AtomicBool::new(false));
    let ticker = {
        let (engine, stop) = (engine.clone(), stop.clone());
        std::thread::Builder::new().name("artifact-plugin-epoch".into()).spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(TICK);
                engine.increment_epoch();
            }
        })?
    };
    let called = (|| {
        let instance = linker.instantiate(&mut store, &component)?;
        let f = instance.get_typed_func::<(String,), (Result<String, String>,)>(&mut store, "run")?;
        let (r,) = f.call(&mut store, (input.to_string(),))?;
        Ok::<_, wasmtime::Error>(r)
    })();
    stop.store(true, Ordering::Relaxed);
    let _ = ticker.join();
    let moved = usage.moved.load(Ordering::Relaxed);
    if usage.exceeded.load(Ordering::Relaxed) {
        // Past the run's byte budget: `too-large` to the host, whatever the plugin made of it.
        return Err(HostError::Artifact(artifact_component::model::Error::TooLarge { limit: scope.max_moved, needed: moved }));
    }
    match called {
        Ok(Ok(output)) => Ok(Outcome { output, moved }),
        Ok(Err(msg)) => Err(HostError::Plugin(msg)),
        Err(e) => {
            if store.data().memory_denied {
                return Err(HostError::Memory(limits.memory_bytes));
            }
            if matches!(e.downcast_ref::<wasmtime::Trap>(), Some(wasmtime::Trap::Interrupt)) {
                return Err(HostError::Deadline(limits.timeout));
            }
            Err(HostError::Trap(format!("{e:#}")))
        }
    }
}

/// Whether `bucket` can name a plugin's store directory: 1–63 of `A-Z a-z 0-9 . _ -`, not
/// starting with a dot.
pub fn valid_bucket(bucket: &str) -> bool {
    (1..=63).contains(&bucket.len())
        && !bucket.starts_with('.')
        && bucket.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}
