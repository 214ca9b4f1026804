//! Calling the component's exports without bindgen's per-instance load.
//!
//! `ArtifactStorePre::instantiate` (bindgen) type-checks every export of the component at each
//! instantiation: in a `perf` of scenario 1 of `scripts/bench.sh` that was a quarter of an
//! instantiation. A runtime that instantiates per call needs one export per instance, so
//! instances are created bare ([`Exports::instantiate`]), the hot calls (`head`, `get`) look up
//! their one function ([`Export::typed`]), and the full bindgen view is loaded only when another
//! export is called ([`Exports::load`]).

use super::bindings::exports::artifact::store::artifacts as wa;
use super::bindings::ArtifactStoreIndices;
use super::{Ctx, HostError};
use std::sync::atomic::{AtomicBool, Ordering};
use wasmtime::component::{ComponentExportIndex, ComponentNamedList, Func, Instance, InstancePre, Lift, Lower, TypedFunc};
use wasmtime::Store;

/// The exported interface's name in the component.
const INTERFACE: &str = "artifact:store/artifacts@0.1.0";

/// One exported function, looked up once per component.
pub(crate) struct Export {
    index: ComponentExportIndex,
    /// Set once an instance of this component had the function type-checked.
    checked: AtomicBool,
}

impl Export {
    fn new(pre: &InstancePre<Ctx>, name: &str) -> Result<Export, HostError> {
        let component = pre.component();
        let missing = || HostError::Load(format!("the component does not export `{INTERFACE}#{name}`"));
        let iface = component.get_export_index(None, INTERFACE).ok_or_else(missing)?;
        let index = component.get_export_index(Some(&iface), name).ok_or_else(missing)?;
        Ok(Export { index, checked: AtomicBool::new(false) })
    }

    /// The function in `inst` as `TypedFunc<P, R>`, found once per instance (`slot` keeps it).
    /// The first call on any instance type-checks it; later ones (on any instance of the same
    /// component: an export's type belongs to the component) trust that check. Each `Export`
    /// is used with one `P, R` (one call site each, below).
    fn typed<P, R>(&self, store: &mut Store<Ctx>, inst: &Instance, slot: &mut Option<Func>) -> wasmtime::Result<TypedFunc<P, R>>
    where
        P: ComponentNamedList + Lower,
        R: ComponentNamedList + Lift,
    {
        if let Some(f) = *slot {
            // SAFETY: `f` was found in this instance by this `Export` (below), whose type was
            // checked as `P, R` on its first use.
            return Ok(unsafe { TypedFunc::new_unchecked(f) });
        }
        if self.checked.load(Ordering::Acquire) {
            let f = inst.get_func(&mut *store, self.index).ok_or_else(|| wasmtime::format_err!("export vanished"))?;
            *slot = Some(f);
            // SAFETY: `f` is the same export of the same component that `get_typed_func::<P, R>`
            // checked below on an earlier instance, and this `Export` is only used with `P, R`.
            return Ok(unsafe { TypedFunc::new_unchecked(f) });
        }
        let f = inst.get_typed_func::<P, R>(&mut *store, self.index)?;
        self.checked.store(true, Ordering::Release);
        *slot = Some(*f.func());
        Ok(f)
    }
}

/// The fast-path exports of one instance, once looked up (see [`Export::typed`]).
#[derive(Default)]
pub(crate) struct Found {
    head: Option<Func>,
    get: Option<Func>,
}

/// What a runtime needs to instantiate the component and call its exports.
pub(crate) struct Exports {
    pre: InstancePre<Ctx>,
    indices: ArtifactStoreIndices,
    head: Export,
    get: Export,
}

impl Exports {
    /// Looks up every export once; fails when the component lacks one.
    pub(crate) fn new(pre: InstancePre<Ctx>) -> Result<Exports, HostError> {
        let indices = ArtifactStoreIndices::new(&pre).map_err(|e| HostError::Load(format!("{e:#}")))?;
        let head = Export::new(&pre, "head")?;
        let get = Export::new(&pre, "get")?;
        Ok(Exports { pre, indices, head, get })
    }

    /// A bare instance: no export is looked up or type-checked yet.
    pub(crate) fn instantiate(&self, store: &mut Store<Ctx>) -> wasmtime::Result<Instance> {
        self.pre.instantiate(store)
    }

    /// Every export of `inst`, type-checked (bindgen's view).
    pub(crate) fn load(&self, store: &mut Store<Ctx>, inst: &Instance) -> wasmtime::Result<wa::Guest> {
        Ok(self.indices.load(store, inst)?.artifact_store_artifacts().clone())
    }

    /// `head(ref)`.
    pub(crate) fn head(&self, store: &mut Store<Ctx>, inst: &Instance, found: &mut Found, r: &str) -> wasmtime::Result<Result<wa::ArtifactRecord, wa::Error>> {
        let f = self.head.typed::<(&str,), (Result<wa::ArtifactRecord, wa::Error>,)>(store, inst, &mut found.head)?;
        Ok(f.call(store, (r,))?.0)
    }

    /// `get(ref, options)`.
    pub(crate) fn get(&self, store: &mut Store<Ctx>, inst: &Instance, found: &mut Found, r: &str, o: wa::GetOptions) -> wasmtime::Result<Result<wa::GetResult, wa::Error>> {
        let f = self.get.typed::<(&str, wa::GetOptions), (Result<wa::GetResult, wa::Error>,)>(store, inst, &mut found.get)?;
        Ok(f.call(store, (r, o))?.0)
    }
}
