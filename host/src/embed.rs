//! Embed the artifact store in your own wasmtime host, in the idiom of `wasmtime-wasi`: your
//! store data holds an [`ArtifactCtx`] (the backends, `wasi:config` values and per-call limits,
//! built with [`RuntimeBuilder::into_ctx`](crate::RuntimeBuilder::into_ctx)) and implements
//! [`ArtifactView`]; [`add_to_linker`] adds `artifact:store/{types,storage,metadata}` and
//! `wasi:config/store` to your `Linker<T>`. Any component with those imports links: the
//! artifact component ([`EMBEDDED_COMPONENT`](crate::runtime::EMBEDDED_COMPONENT)) or a
//! composition of it with a plugin that imports `artifact:store/artifacts`.
//!
//! What the host enforces through this module: every read and write the guest asks for is
//! clamped to the context's `max_bytes_per_call`; writers live in your [`ResourceTable`] and die
//! with the store. What stays yours: the engine, WASI, memory limits (`ResourceLimiter`) and
//! deadlines (epoch or fuel), as with any component you run.
//!
//! ```
//! use artifact_host::embed::{self, ArtifactCtx, ArtifactCtxView, ArtifactView};
//! use artifact_host::{metadata, storage, Runtime};
//! use wasmtime::component::{Component, Linker, ResourceTable, Val};
//! use wasmtime::{Engine, Store};
//! use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
//!
//! // Your store data: WASI, a resource table, and the artifact store's context.
//! struct Plugin {
//!     wasi: WasiCtx,
//!     table: ResourceTable,
//!     artifacts: ArtifactCtx,
//! }
//! impl WasiView for Plugin {
//!     fn ctx(&mut self) -> WasiCtxView<'_> {
//!         WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
//!     }
//! }
//! impl ArtifactView for Plugin {
//!     fn artifact(&mut self) -> ArtifactCtxView<'_> {
//!         ArtifactCtxView { ctx: &self.artifacts, table: &mut self.table }
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Backends by URI, as the CLI takes them (`fs:///…`, `s3://…`, `sqlite://…`, `postgres://…`).
//! let artifacts = Runtime::builder()
//!     .storage(storage::open("mem://")?)
//!     .metadata(metadata::open("mem://")?)
//!     .into_ctx()?;
//! let engine = Engine::default();
//! let mut linker: Linker<Plugin> = Linker::new(&engine);
//! wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
//! embed::add_to_linker(&mut linker)?;
//!
//! // The artifact component itself here; a plugin composed with it links the same way.
//! let component = Component::new(&engine, artifact_host::runtime::EMBEDDED_COMPONENT)?;
//! let pre = linker.instantiate_pre(&component)?;
//! let data = Plugin { wasi: WasiCtx::builder().build(), table: ResourceTable::new(), artifacts: artifacts.clone() };
//! let mut store = Store::new(&engine, data);
//! let instance = pre.instantiate(&mut store)?;
//!
//! // Call an export dynamically: `head` of an artifact that does not exist is a typed error.
//! let iface = instance.get_export_index(&mut store, None, "artifact:store/artifacts@0.1.0").expect("the export");
//! let head = instance.get_export_index(&mut store, Some(&iface), "head").expect("head");
//! let head = instance.get_func(&mut store, head).expect("a function");
//! let mut out = [Val::Bool(false)];
//! head.call(&mut store, &[Val::String("default/missing.csv".into())], &mut out)?;
//! let Val::Result(Err(Some(err))) = &out[0] else { panic!("{:?}", out[0]) };
//! assert!(matches!(&**err, Val::Variant(kind, _) if kind == "not-found"));
//! # Ok(())
//! # }
//! ```

use crate::runtime::Shared;
use crate::HostError;
use std::sync::Arc;
use wasmtime::component::{HasData, Linker, ResourceTable};

/// The artifact store's host state: backends, `wasi:config` values and limits. Cheap to clone
/// (one `Arc`); give each store its own clone, and they all share the same backends.
pub struct ArtifactCtx {
    pub(crate) shared: Arc<Shared>,
    /// Open `read-verified` streams of the store using this context: each holds up to one chunk
    /// outside the guest's memory, so their number is capped per store (a clone starts at 0).
    pub(crate) streams: Arc<std::sync::atomic::AtomicUsize>,
}

impl ArtifactCtx {
    pub(crate) fn new(shared: Arc<Shared>) -> ArtifactCtx {
        ArtifactCtx { shared, streams: Arc::default() }
    }
}

impl Clone for ArtifactCtx {
    /// The same backends; its own count of open streams.
    fn clone(&self) -> Self {
        ArtifactCtx::new(self.shared.clone())
    }
}

/// What the imports work on: the context and the store's resource table (where staged writers
/// live).
pub struct ArtifactCtxView<'a> {
    pub ctx: &'a ArtifactCtx,
    pub table: &'a mut ResourceTable,
}

/// Implemented by your store data to give the imports their view.
pub trait ArtifactView: Send {
    fn artifact(&mut self) -> ArtifactCtxView<'_>;
}

struct HasArtifact;

impl HasData for HasArtifact {
    type Data<'a> = ArtifactCtxView<'a>;
}

/// Adds `artifact:store/types`, `storage`, `metadata` and `wasi:config/store` to `linker`
/// (WASI itself is yours to add, sync or async: these imports are synchronous either way).
pub fn add_to_linker<T: ArtifactView + 'static>(linker: &mut Linker<T>) -> Result<(), HostError> {
    use crate::runtime::bindings::{artifact::store as a, wasi::config::store as config};
    // Interface by interface: the world's own `add_to_linker` would add `wasi:io` too (the
    // stream `storage.read-verified` returns), which is WASI's, added with the rest of WASI.
    let load = |e: wasmtime::Error| HostError::Load(format!("{e:#}"));
    a::types::add_to_linker::<T, HasArtifact>(linker, T::artifact).map_err(load)?;
    a::storage::add_to_linker::<T, HasArtifact>(linker, T::artifact).map_err(load)?;
    a::metadata::add_to_linker::<T, HasArtifact>(linker, T::artifact).map_err(load)?;
    config::add_to_linker::<T, HasArtifact>(linker, T::artifact).map_err(load)
}
