//! Spin: `spin.toml` describes a real Spin application, and the application it describes serves
//! signed reads.
//!
//! `real_spin_up_serves_signed_reads_and_uploads` runs the real `spin up` (Spin 4.0.2 from ../shared/tools,
//! when on PATH). The other tests do what Spin does with the manifest: they run the
//! component's `build` commands (which plug spin/kv-backend into the edge component: the app is
//! one component with no dependencies), check that every import left is one Spin provides, then
//! run it in wasmtime with only interfaces Spin provides: WASI 0.2, `wasi:http`,
//! `wasi:keyvalue@0.2.0-draft2` (in memory here, with compare-and-swap as Spin implements it) and
//! `wasi:config/store@0.2.0-draft-2024-09-27` (the component's variables). Artifacts are seeded
//! and URLs signed through a composition of the store component over the same backend and the
//! same in-memory store. The spin-sdk example (examples/spin-csv-summary) does use a component
//! dependency: it is composed by Spin's rules (a dependency name matches imports by package /
//! interface / version; one instance per entry; exports type-checked against imports); Spin's
//! extra wrapping (environment isolation, the deny adapter for non-inherited configuration) is
//! left out.


use artifact_host::serve::NoOutbound;
use crate::common::request;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use wac_graph::types::{ItemKind, Package, Type, Types};
use wac_graph::CompositionGraph;
use wasmtime::component::{Component, HasSelf, Linker, Resource, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};
use artifact_component::encoding::hex;

use crate::edge::KEYS;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn manifest() -> toml::Table {
    let text = std::fs::read_to_string(root().join("spin.toml")).expect("spin.toml at the repository root");
    text.parse::<toml::Table>().expect("spin.toml is TOML")
}

fn component(m: &toml::Table) -> &toml::Table {
    m["component"]["artifact"].as_table().expect("[component.artifact]")
}

/// Runs the component's `build` commands once per test process (both tests need the output).
fn build(m: &toml::Table) {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| run_build(&component(m)["build"], &root()));
}

/// Runs a component's `[build]` commands in `dir`, as `spin build` does.
fn run_build(b: &toml::Value, dir: &Path) {
    {
        let cmds: Vec<String> = match &b["command"] {
            toml::Value::String(s) => vec![s.clone()],
            toml::Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
            v => panic!("build.command is {v:?}"),
        };
        for c in cmds {
            let mut cmd = Command::new("sh");
            cmd.arg("-c").arg(&c).current_dir(dir);
            // As host/build.rs: the outer cargo's flags must not leak into the guest builds.
            for var in ["CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS", "CARGO_BUILD_TARGET", "CARGO_TARGET_DIR", "CARGO_PRIMARY_PACKAGE", "RUSTC_WORKSPACE_WRAPPER", "CARGO_PROFILE_RELEASE_DEBUG"] {
                cmd.env_remove(var);
            }
            let st = cmd.status().unwrap_or_else(|e| panic!("{c}: {e}"));
            assert!(st.success(), "build command failed: {c}");
        }
    }
}

/// A component dependency: a `[component.X.dependencies]` entry of a Spin manifest.
struct Dep {
    name: String,
    path: PathBuf,
    export: Option<String>,
}

/// Spin's dependency-name matching: `pkg:name[/iface][@version]` against an import name.
fn dep_matches(dep: &str, import: &str) -> bool {
    let (dpkg_iface, dver) = match dep.split_once('@') {
        Some((a, v)) => (a, Some(v)),
        None => (dep, None),
    };
    let (dpkg, diface) = match dpkg_iface.split_once('/') {
        Some((p, i)) => (p, Some(i)),
        None => (dpkg_iface, None),
    };
    let Some((ipkg, rest)) = import.split_once('/') else {
        return dep == import;
    };
    let (iiface, iver) = match rest.split_once('@') {
        Some((i, v)) => (i, Some(v)),
        None => (rest, None),
    };
    ipkg == dpkg && diface.is_none_or(|d| d == iiface) && dver.is_none_or(|d| Some(d) == iver)
}

/// Interfaces released Spin (4.0.x) provides to every component (its `platform` world), for the
/// ones this application could use. WASI 0.2: Spin links 0.2.6, and wasmtime satisfies any
/// 0.2.x import from it (semver-compatible names).
fn spin_provides(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "wasi:keyvalue/store@0.2.0-draft2",
        "wasi:keyvalue/atomics@0.2.0-draft2",
        "wasi:keyvalue/batch@0.2.0-draft2",
        "wasi:config/store@0.2.0-draft-2024-09-27",
        "fermyon:spin/key-value@2.0.0",
        "fermyon:spin/variables@2.0.0",
    ];
    if EXACT.contains(&name) {
        return true;
    }
    let Some((iface, ver)) = name.split_once('@') else {
        return false;
    };
    let wasi02 = ["wasi:cli/", "wasi:clocks/", "wasi:filesystem/", "wasi:io/", "wasi:random/", "wasi:sockets/", "wasi:http/types", "wasi:http/outgoing-handler"];
    wasi02.iter().any(|p| iface.starts_with(p)) && ver.starts_with("0.2.") && !ver.contains('-')
}

/// An instance import that only names types needs no implementation (wasmtime, and so Spin,
/// accept it missing).
fn types_only(types: &Types, kind: &ItemKind) -> bool {
    match kind {
        ItemKind::Instance(id) => {
            types[*id].exports.values().all(|k| matches!(k, ItemKind::Type(t) if !matches!(t, Type::Resource(_))))
        }
        _ => false,
    }
}

/// The component Spin runs (`source`).
fn source(m: &toml::Table) -> PathBuf {
    root().join(component(m)["source"].as_str().expect("source is a local path"))
}

/// The edge component and the backend the last build command plugs together into `source`
/// (`spin-http-only EDGE OUT BACKEND`).
fn plugged(m: &toml::Table) -> (PathBuf, PathBuf) {
    let cmds = component(m)["build"]["command"].as_array().expect("build.command is a list");
    let last = cmds.last().and_then(|c| c.as_str()).expect("a build command");
    let args: Vec<&str> = last.split_whitespace().collect();
    assert!(last.contains("spin/http-only") && args.len() >= 3, "the last build command plugs the backend: {last}");
    let [edge, out, backend] = args[args.len() - 3..] else { unreachable!() };
    assert_eq!(root().join(out), source(m), "the plugged component is the source");
    (root().join(edge), root().join(backend))
}

#[test]
fn spin_manifest_is_valid_and_every_import_is_satisfied() {
    let m = manifest();
    assert_eq!(m["spin_manifest_version"].as_integer(), Some(2));
    assert_eq!(m["application"]["name"].as_str(), Some("artifact"));
    let triggers = m["trigger"]["http"].as_array().expect("[[trigger.http]]");
    assert!(
        triggers.iter().any(|t| t["route"].as_str() == Some("/v1/...") && t["component"].as_str() == Some("artifact")),
        "{triggers:?}"
    );
    let vars = m["variables"].as_table().unwrap();
    assert_eq!(vars["signing_keys"]["secret"].as_bool(), Some(true));
    assert_eq!(vars["signing_keys"]["required"].as_bool(), Some(true));
    assert!(vars.contains_key("active_kid"));
    let c = component(&m);
    let cvars = c["variables"].as_table().unwrap();
    assert_eq!(cvars["signing_keys"].as_str(), Some("{{ signing_keys }}"));
    assert_eq!(cvars["active_kid"].as_str(), Some("{{ active_kid }}"));
    assert_eq!(c["key_value_stores"].as_array().unwrap(), &vec![toml::Value::from("default")]);
    // One component: Spin would instantiate dependencies behind adapters for every request.
    assert!(!c.contains_key("dependencies"), "the backend is plugged at build time, not a dependency");

    build(&m);
    let source = source(&m);
    let (edge, backend) = plugged(&m);
    for p in [&source, &edge, &backend] {
        assert!(p.exists(), "{} missing after the build", p.display());
    }
    let mut graph = CompositionGraph::new();
    let world = |graph: &mut CompositionGraph, p: &Path| {
        Package::from_bytes("x", None, std::fs::read(p).unwrap(), graph.types_mut()).unwrap().ty()
    };
    let (edge_world, app_world) = (world(&mut graph, &edge), world(&mut graph, &source));
    // The finding behind plugging config too: the edge imports wasi:config rc.1, which Spin
    // does not provide (it has draft-2024-09-27); the backend exports rc.1 over Spin's draft.
    let edge_imports = &graph.types()[edge_world].imports;
    assert!(edge_imports.contains_key("wasi:config/store@0.2.0-rc.1"), "{:?}", edge_imports.keys());
    assert!(edge_imports.keys().any(|i| i.starts_with("artifact:store/")));
    assert!(!spin_provides("wasi:config/store@0.2.0-rc.1"));
    for (import, kind) in &graph.types()[app_world].imports {
        assert!(spin_provides(import) || types_only(graph.types(), kind), "the app imports {import}, which Spin does not provide");
    }
    let exports: Vec<&String> = graph.types()[app_world].exports.keys().collect();
    assert!(exports.len() == 1 && exports[0].starts_with("wasi:http/incoming-handler@0.2"), "{exports:?}");
}

// ---------- composing ----------

/// The component Spin runs, per spin.toml.
fn compose_spin(m: &toml::Table) -> Vec<u8> {
    std::fs::read(source(m)).unwrap()
}

/// The store component (the `artifact-store` world, exporting `artifact:store/artifacts`; the
/// edge world exports only its handler) over the same backend: seeds and reads the same
/// key-value store. Storage, metadata and config come from three instances here so that
/// `types` stays an import and the `artifacts` export is nameable (test only).
fn compose_seeder(m: &toml::Table) -> Vec<u8> {
    let (_, backend) = plugged(m);
    let dep = |name: &str| Dep { name: name.into(), path: backend.clone(), export: None };
    let (storage, metadata, config) = (dep("artifact:store/storage@0.1.0"), dep("artifact:store/metadata@0.1.0"), dep("wasi:config/store@0.2.0-rc.1"));
    // The store component the CLI embeds (host/build.rs builds it from these sources).
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.wasm");
    std::fs::write(&store, artifact_host::runtime::EMBEDDED_COMPONENT).unwrap();
    compose(
        &store,
        &[("kv-storage".into(), &storage), ("kv-metadata".into(), &metadata), ("kv-config".into(), &config)],
        Some("artifact:store/artifacts@0.1.0"),
    )
}

/// Spin's composition: each dependency instantiated once (registered as `name`) and aliased
/// into every import its dependency name matches; then the main component's exports (all, or
/// `only`) re-exported.
fn compose(source: &Path, deps: &[(String, &Dep)], only: Option<&str>) -> Vec<u8> {
    let mut graph = CompositionGraph::new();
    let main = Package::from_bytes("artifact", None, std::fs::read(source).unwrap(), graph.types_mut()).unwrap();
    let main_world = main.ty();
    let main_id = graph.register_package(main).unwrap();
    let main_inst = graph.instantiate(main_id);
    let imports: Vec<String> = graph.types()[main_world].imports.keys().cloned().collect();
    for (pkg, d) in deps {
        let p = Package::from_bytes(pkg, None, std::fs::read(&d.path).unwrap(), graph.types_mut()).unwrap();
        let id = graph.register_package(p).unwrap_or_else(|e| panic!("dependency {}: {e}", d.name));
        let inst = graph.instantiate(id);
        for import in imports.iter().filter(|i| dep_matches(&d.name, i)) {
            let export = d.export.clone().unwrap_or_else(|| import.clone());
            let node = graph.alias_instance_export(inst, &export).unwrap();
            graph.set_instantiation_argument(main_inst, import, node).unwrap();
        }
    }
    for name in graph.types()[main_world].exports.keys().cloned().collect::<Vec<_>>() {
        if only.is_none_or(|o| o == name) {
            let node = graph.alias_instance_export(main_inst, &name).unwrap();
            graph.export(node, &name).unwrap();
        }
    }
    graph.encode(Default::default()).expect("composition encodes and validates")
}

// ---------- what Spin provides, in memory ----------

mod kvb {
    wasmtime::component::bindgen!({
        path: "../spin/kv-backend/wit/deps/keyvalue-2024-10-17",
        world: "imports",
        with: {
            "wasi:keyvalue/store.bucket": super::MemBucket,
            "wasi:keyvalue/atomics.cas": super::MemCas,
        },
    });
}

mod cfgb {
    wasmtime::component::bindgen!({
        path: "../spin/kv-backend/wit/deps/config-2024-09-27",
        world: "imports",
    });
}

/// The artifact-store exports, to seed and sign through the same composition.
mod art {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "artifact-store",
        exports: { default: async },
    });
}

use kvb::wasi::keyvalue::{atomics, batch, store as kvs};

type Kv = Arc<Mutex<BTreeMap<String, Vec<u8>>>>;

pub struct MemBucket;

/// A compare-and-swap handle: the value seen when it was made.
pub struct MemCas {
    key: String,
    seen: Option<Vec<u8>>,
}

struct Host {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    hooks: NoOutbound,
    kv: Kv,
    vars: Arc<BTreeMap<String, String>>,
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for Host {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}


impl kvs::Host for Host {
    fn open(&mut self, identifier: String) -> Result<Resource<MemBucket>, kvs::Error> {
        // key_value_stores = ["default"]
        if identifier != "default" {
            return Err(kvs::Error::AccessDenied);
        }
        self.table.push(MemBucket).map_err(|e| kvs::Error::Other(e.to_string()))
    }
}

impl kvs::HostBucket for Host {
    fn get(&mut self, _b: Resource<MemBucket>, key: String) -> Result<Option<Vec<u8>>, kvs::Error> {
        Ok(self.kv.lock().unwrap().get(&key).cloned())
    }
    fn set(&mut self, _b: Resource<MemBucket>, key: String, value: Vec<u8>) -> Result<(), kvs::Error> {
        self.kv.lock().unwrap().insert(key, value);
        Ok(())
    }
    fn delete(&mut self, _b: Resource<MemBucket>, key: String) -> Result<(), kvs::Error> {
        self.kv.lock().unwrap().remove(&key);
        Ok(())
    }
    fn exists(&mut self, _b: Resource<MemBucket>, key: String) -> Result<bool, kvs::Error> {
        Ok(self.kv.lock().unwrap().contains_key(&key))
    }
    fn list_keys(&mut self, _b: Resource<MemBucket>, cursor: Option<String>) -> Result<kvs::KeyResponse, kvs::Error> {
        // As Spin: every key at once, no cursors.
        if cursor.is_some() {
            return Err(kvs::Error::Other("list_keys: cursor not supported".into()));
        }
        Ok(kvs::KeyResponse { keys: self.kv.lock().unwrap().keys().cloned().collect(), cursor: None })
    }
    fn drop(&mut self, b: Resource<MemBucket>) -> wasmtime::Result<()> {
        self.table.delete(b)?;
        Ok(())
    }
}

impl atomics::Host for Host {
    fn increment(&mut self, _b: Resource<MemBucket>, key: String, delta: i64) -> Result<i64, kvs::Error> {
        let mut kv = self.kv.lock().unwrap();
        let cur = match kv.get(&key) {
            None => 0,
            Some(v) => std::str::from_utf8(v).ok().and_then(|s| s.parse::<i64>().ok()).ok_or_else(|| kvs::Error::Other("not a number".into()))?,
        };
        kv.insert(key, (cur + delta).to_string().into_bytes());
        Ok(cur + delta)
    }
    fn swap(&mut self, cas: Resource<MemCas>, value: Vec<u8>) -> Result<(), atomics::CasError> {
        let c = self.table.delete(cas).map_err(|e| atomics::CasError::StoreError(kvs::Error::Other(e.to_string())))?;
        let mut kv = self.kv.lock().unwrap();
        if kv.get(&c.key) == c.seen.as_ref() {
            kv.insert(c.key, value);
            return Ok(());
        }
        let fresh = MemCas { seen: kv.get(&c.key).cloned(), key: c.key };
        drop(kv);
        let r = self.table.push(fresh).map_err(|e| atomics::CasError::StoreError(kvs::Error::Other(e.to_string())))?;
        Err(atomics::CasError::CasFailed(r))
    }
}

impl atomics::HostCas for Host {
    fn new(&mut self, _b: Resource<MemBucket>, key: String) -> Result<Resource<MemCas>, kvs::Error> {
        let seen = self.kv.lock().unwrap().get(&key).cloned();
        self.table.push(MemCas { key, seen }).map_err(|e| kvs::Error::Other(e.to_string()))
    }
    fn current(&mut self, cas: Resource<MemCas>) -> Result<Option<Vec<u8>>, kvs::Error> {
        Ok(self.table.get(&cas).map_err(|e| kvs::Error::Other(e.to_string()))?.seen.clone())
    }
    fn drop(&mut self, cas: Resource<MemCas>) -> wasmtime::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}

impl batch::Host for Host {
    fn get_many(&mut self, _b: Resource<MemBucket>, keys: Vec<String>) -> Result<Vec<(String, Option<Vec<u8>>)>, kvs::Error> {
        let kv = self.kv.lock().unwrap();
        Ok(keys.into_iter().map(|k| (k.clone(), kv.get(&k).cloned())).collect())
    }
    fn set_many(&mut self, _b: Resource<MemBucket>, kvsv: Vec<(String, Vec<u8>)>) -> Result<(), kvs::Error> {
        self.kv.lock().unwrap().extend(kvsv);
        Ok(())
    }
    fn delete_many(&mut self, _b: Resource<MemBucket>, keys: Vec<String>) -> Result<(), kvs::Error> {
        let mut kv = self.kv.lock().unwrap();
        for k in keys {
            kv.remove(&k);
        }
        Ok(())
    }
}

impl cfgb::wasi::config::store::Host for Host {
    fn get(&mut self, key: String) -> Result<Option<String>, cfgb::wasi::config::store::Error> {
        Ok(self.vars.get(&key).cloned())
    }
    fn get_all(&mut self) -> Result<Vec<(String, String)>, cfgb::wasi::config::store::Error> {
        Ok(self.vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }
}

/// The composed application with Spin's interfaces, one fresh instance per request or call.
struct App {
    engine: Engine,
    pre: ProxyPre<Host>,
    seeder: wasmtime::component::InstancePre<Host>,
    kv: Kv,
    vars: Arc<BTreeMap<String, String>>,
}

impl App {
    fn new(composed: &[u8], seeder: &[u8], vars: BTreeMap<String, String>) -> App {
        let engine = Engine::default();
        let component = Component::new(&engine, composed).expect("composed component compiles");
        let seeder = Component::new(&engine, seeder).expect("seeder compiles");
        let mut linker: Linker<Host> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).unwrap();
        kvb::Imports::add_to_linker::<_, HasSelf<_>>(&mut linker, |h| h).unwrap();
        cfgb::Imports::add_to_linker::<_, HasSelf<_>>(&mut linker, |h| h).unwrap();
        // Instantiating with exactly this linker proves every import is one Spin provides.
        let pre = ProxyPre::new(linker.instantiate_pre(&component).expect("every import is Spin-provided")).unwrap();
        let seeder = linker.instantiate_pre(&seeder).unwrap();
        App { engine, pre, seeder, kv: Default::default(), vars: Arc::new(vars) }
    }

    fn store(&self) -> Store<Host> {
        let host = Host {
            wasi: WasiCtx::builder().inherit_stderr().build(),
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            hooks: NoOutbound,
            kv: self.kv.clone(),
            vars: self.vars.clone(),
        };
        Store::new(&self.engine, host)
    }

    async fn artifacts(&self) -> (Store<Host>, art::ArtifactStore) {
        let mut store = self.store();
        let inst = self.seeder.instantiate_async(&mut store).await.unwrap();
        let a = art::ArtifactStore::new(&mut store, &inst).unwrap();
        (store, a)
    }

    async fn put(&self, data: &[u8], name: &str, content_type: &str) -> art::exports::artifact::store::artifacts::PutResult {
        let (mut store, a) = self.artifacts().await;
        let opts = put_options(name, content_type);
        a.artifact_store_artifacts().call_put(&mut store, data, &opts).await.unwrap().unwrap_or_else(|e| panic!("put {name}: {e:?}"))
    }

    async fn sign(&self, id: &str, range: Option<(u64, u64)>) -> String {
        let (mut store, a) = self.artifacts().await;
        use art::artifact::store::types::{BoundedRange, ByteRange};
        let o = art::exports::artifact::store::artifacts::SignOptions {
            method: None,
            range: range.map(|(start, end)| ByteRange::Bounded(BoundedRange { start, end })),
            kid: None,
        };
        a.artifact_store_artifacts().call_sign(&mut store, id, 900, &o).await.unwrap().unwrap_or_else(|e| panic!("sign: {e:?}"))
    }

    async fn handle(self: Arc<Self>, req: hyper::Request<hyper::body::Incoming>) -> wasmtime::Result<hyper::Response<HyperOutgoingBody>> {
        let mut store = self.store();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let req = store.data_mut().http().new_incoming_request(Scheme::Http, req)?;
        let out = store.data_mut().http().new_response_outparam(tx)?;
        let pre = self.pre.clone();
        let task = tokio::task::spawn(async move {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy.wasi_http_incoming_handler().call_handle(&mut store, req, out).await
        });
        match rx.await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(match task.await {
                Ok(Ok(())) => wasmtime::format_err!("no response"),
                Ok(Err(e)) => e,
                Err(e) => wasmtime::format_err!("{e}"),
            }),
        }
    }
}

fn put_options(name: &str, content_type: &str) -> art::exports::artifact::store::artifacts::PutOptions {
    art::exports::artifact::store::artifacts::PutOptions {
        content_type: Some(content_type.into()),
        compression: None,
        bucket: Some("edge".into()),
        name: Some(name.into()),
        if_exists: None,
        created_by: Some("spin-test".into()),
        store: None,
        execution_id: None,
        step: None,
        scope: None,
        ttl: None,
        kind: None,
        max_bytes: None,
        precompressed: None,
    }
}

// ---------- HTTP client side ----------



fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn composed_spin_app_serves_signed_reads() {
    let m = manifest();
    build(&m);
    let composed = compose_spin(&m);
    let seeder = compose_seeder(&m);
    // The values spin.toml maps into the component: signing_keys and active_kid.
    let vars = BTreeMap::from([
        ("signing_keys".to_string(), KEYS.to_string()),
        ("active_kid".to_string(), String::new()),
        ("api_tokens".to_string(), API_TOKENS.to_string()),
    ]);
    let app = Arc::new(App::new(&composed, &seeder, vars));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

    // Seed through the same composition: a body of several key-value chunks, and a small one.
    let data: Vec<u8> = (0..700_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let put = rt.block_on(app.put(&data, "big.bin", "application/octet-stream"));
    assert!(put.created);
    let id = put.record.id.clone();
    assert_eq!(put.record.location.driver, "kv");
    let other = rt.block_on(app.put(b"x,y\n1,2\n", "other.csv", "text/csv")).record.id;
    {
        let kv = app.kv.lock().unwrap();
        let chunks = kv.keys().filter(|k| k.starts_with("a/c/")).count();
        // The small body and the big one's chunk index (182 bytes) live inside their heads; an
        // uncompressed body of one chunk needs no index at all.
        assert_eq!(chunks, 3, "700,000 bytes in 256 KiB chunks, nothing else chunked: {:?}", kv.keys().collect::<Vec<_>>());
        let heads = kv.keys().filter(|k| k.starts_with("a/o/")).count();
        assert_eq!(heads, 3, "big body, its index, the small body");
        assert!(kv.values().all(|v| v.len() <= 256 << 10));
    }

    // Get-or-create through the key-value claim: concurrent puts of one pair, one winner.
    let results: Vec<_> = rt.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..8u8 {
            let app = app.clone();
            tasks.push(tokio::spawn(async move { app.put(&[i; 1000], "race.bin", "application/octet-stream").await }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    assert_eq!(results.iter().filter(|r| r.created).count(), 1);
    assert!(results.iter().all(|r| r.record.id == results[0].record.id));

    let base = serve_in_process(&rt, app.clone());
    let path = rt.block_on(app.sign(&id, None));
    let url = if path.starts_with('/') { format!("{base}{path}") } else { path.clone() };
    assert!(url.starts_with(&format!("{base}/v1/artifacts/{id}?exp=")), "{url}");

    // 200.
    let r = request("GET", &url, &[]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.body.len(), data.len());
    assert!(r.body == data);
    let etag = format!("\"{}\"", hex(&Sha256::digest(&data)));
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert_eq!(r.header("content-length").unwrap(), data.len().to_string());
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    let h = request("HEAD", &url, &[]);
    assert_eq!((h.status, h.body.len()), (200, 0));

    // 206, across a chunk boundary and as a suffix; a URL signed for a range.
    let n = data.len();
    for (range, lo, hi) in [("bytes=262000-262999", 262_000, 262_999), ("bytes=0-99", 0, 99), ("bytes=-64", n - 64, n - 1)] {
        let r = request("GET", &url, &[("Range", range)]);
        assert_eq!(r.status, 206, "{range}");
        assert!(r.body == data[lo..=hi], "{range}");
        assert_eq!(r.header("content-range").unwrap(), format!("bytes {lo}-{hi}/{n}"));
    }
    let ranged = format!("{base}{}", rt.block_on(app.sign(&id, Some((0, 99)))));
    let r = request("GET", &ranged, &[]);
    assert_eq!((r.status, r.body.as_slice()), (206, &data[..100]));

    // 304.
    let r = request("GET", &url, &[("If-None-Match", &etag)]);
    assert_eq!((r.status, r.body.len()), (304, 0));

    // 403: tampered signature, another artifact's id, a range outside the signed one, a key the
    // application does not have, no signature.
    let sig = url.split("sig=").nth(1).unwrap().split('&').next().unwrap();
    let mut flipped = sig.as_bytes().to_vec();
    flipped[10] = if flipped[10] == b'a' { b'b' } else { b'a' };
    let rogue_keys = artifact_component::sign::Keys::parse("k9:CQkJCQkJCQkJCQkJCQkJCQ==", None).unwrap();
    let rogue = artifact_component::sign::sign_path(&rogue_keys, &id, now_secs(), 600, &Default::default()).unwrap();
    type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>); // what, url, headers
    let cases: Vec<Case> = vec![
        ("flipped sig", url.replace(sig, std::str::from_utf8(&flipped).unwrap()), vec![]),
        ("another id", url.replace(&id, &other), vec![]),
        ("outside the signed range", ranged.clone(), vec![("Range", "bytes=100-199")]),
        ("unknown kid", format!("{base}{rogue}"), vec![]),
        ("no signature", url.split('?').next().unwrap().to_string(), vec![]),
    ];
    for (what, u, hs) in &cases {
        let r = request("GET", u, hs);
        assert_eq!(r.status, 403, "{what}");
        assert!(r.body.len() < 1000, "{what}: body leaked");
    }

    // 404 for a validly signed id that names nothing.
    let keys = artifact_component::sign::Keys::parse(KEYS, None).unwrap();
    let ghost = artifact_component::sign::sign_path(&keys, "01M84EG4VHHF84MF34ZRCQAC3P", now_secs(), 600, &Default::default()).unwrap();
    assert_eq!(request("GET", &format!("{base}{ghost}"), &[]).status, 404);
    uploads_work_and_refusals_store_nothing(&base, &|| app.kv.lock().unwrap().len());
    token_api_works(&base, &id);
    rt.shutdown_timeout(Duration::from_secs(1));
}

/// Serves `app` on 127.0.0.1 the way Spin's HTTP trigger does (one instance per request);
/// returns its base URL.
fn serve_in_process(rt: &tokio::runtime::Runtime, app: Arc<App>) -> String {
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(async move {
        loop {
            let (sock, _) = listener.accept().await.unwrap();
            let app = app.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| app.clone().handle(req));
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(sock), svc).await;
            });
        }
    });
    base
}

/// Writes `kv` as Spin's default key-value store in `state` (`sqlite_key_value.db`).
fn seed_spin_state(state: &Path, kv: &BTreeMap<String, Vec<u8>>) {
    let db = rusqlite::Connection::open(state.join("sqlite_key_value.db")).unwrap();
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS spin_key_value (store TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (store, key))",
    )
    .unwrap();
    for (k, v) in kv {
        db.execute("INSERT INTO spin_key_value (store, key, value) VALUES ('default', ?1, ?2)", rusqlite::params![k, v]).unwrap();
    }
}

/// A `spin up` child process in a process group of its own; the whole group is killed when
/// dropped (killing `spin up` alone orphans its `spin trigger http` child, still listening).
struct SpinUp {
    child: crate::common::Reaped,
    base: String,
}

impl Drop for SpinUp {
    fn drop(&mut self) {
        // SAFETY: a plain kill(2) of the group `spin_up` created (pgid = the child's pid).
        unsafe { libc::kill(-(self.child.0.id() as i32), libc::SIGKILL) };
    }
}


/// `spin up --from manifest` on `state`, with `--variable` values; waits until it listens.
fn spin_up(spin: &Path, manifest: &Path, state: &Path, vars: &[(&str, &str)]) -> SpinUp {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = std::fs::File::create(state.join("spin.log")).unwrap();
    let mut cmd = Command::new(spin);
    cmd.args(["up", "--from"]).arg(manifest).arg("--state-dir").arg(state).args(["--listen", &format!("127.0.0.1:{port}")]);
    for (k, v) in vars {
        cmd.args(["--variable", &format!("{k}={v}")]);
    }
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd.stdout(log.try_clone().unwrap()).stderr(log).spawn().unwrap();
    let mut up = SpinUp { child: crate::common::Reaped(child), base: format!("http://127.0.0.1:{port}") };
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        let spin_log = std::fs::read_to_string(state.join("spin.log")).unwrap_or_default();
        if let Ok(Some(st)) = up.child.0.try_wait() {
            panic!("spin up exited with {st}:\n{spin_log}");
        }
        assert!(started.elapsed() < Duration::from_secs(300), "spin up did not listen in 300 s:\n{spin_log}");
        std::thread::sleep(Duration::from_millis(200));
    }
    up
}

/// The token API's configuration in the Spin tests: one writer scoped to bucket `api`.
const API_TOKENS: &str = "spin-api-writer-token:rw:api";

/// The token API against an app at `base`: put, list, a manifest of the put, and a seeded
/// artifact of bucket `edge` (`seeded`, an id) that the token's scope hides.
fn token_api_works(base: &str, seeded: &str) {
    let auth = [("Authorization", "Bearer spin-api-writer-token")];
    let call = |m: &str, op: &str, body: Option<&[u8]>| {
        let r = crate::common::send(m, &format!("{base}/v1/api/{op}"), body, &auth);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null);
        (r.status, v)
    };
    let (s, v) = call("PUT", "put?bucket=api&name=rows.json&content_type=application/json", Some(br#"{"rows":[1,2,3]}"#));
    assert_eq!(s, 201, "{v}");
    let id = v["meta"]["id"].as_str().unwrap().to_string();
    let (s, v) = call("GET", "list?bucket=api", None);
    assert_eq!((s, v["records"][0]["id"].clone()), (200, serde_json::json!(id)), "{v}");
    let (s, v) = call("POST", "manifest/create?bucket=api&name=all&strategy=append", Some(format!("[\"{id}\"]").as_bytes()));
    assert_eq!(s, 201, "{v}");
    let (s, v) = call("GET", "manifest/parts?manifest=api%2Fall", None);
    assert_eq!((s, v["parts"].as_array().map(Vec::len)), (200, Some(1)), "{v}");
    let (s, v) = call("GET", "get?ref=api%2Fall", None);
    assert_eq!((s, v["data"]["parts"][0]["data"].clone()), (200, serde_json::json!({"rows": [1, 2, 3]})), "{v}");
    for op in [format!("head?ref={seeded}"), "list?bucket=edge".into(), format!("get?ref={seeded}&mode=bytes")] {
        assert_eq!(call("GET", &op, None).0, 404, "{op}: outside the token's scope");
    }
    assert_eq!(call("PUT", "put?bucket=edge&name=x", Some(b"x")).0, 403);
    let r = crate::common::send("GET", &format!("{base}/v1/api/list?bucket=api"), None, &[]);
    assert_eq!(r.status, 401);
}

/// Signed uploads against an app at `base`: one stored and read back with a signed GET, then a
/// forged and an oversized one, after which `kv_rows()` (the key-value store's size) is unchanged.
fn uploads_work_and_refusals_store_nothing(base: &str, kv_rows: &dyn Fn() -> usize) {
    use artifact_component::sign::upload::{sign_upload, UploadOptions};
    let keys = artifact_component::sign::Keys::parse(KEYS, None).unwrap();
    let opts = UploadOptions { content_type: Some("text/csv".into()), max_bytes: 400_000, ..Default::default() };
    let url = format!("{base}{}", sign_upload(&keys, "edge", "uploaded.csv", now_secs(), 600, &opts).unwrap());
    let body: Vec<u8> = (0..300_000u32).map(|i| b"0123456789,\n"[(i % 12) as usize]).collect();
    let r = crate::common::send("PUT", &url, Some(&body), &[]);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["meta"]["sha256"], hex(&Sha256::digest(&body)));
    let id = v["meta"]["id"].as_str().unwrap();
    let read = artifact_component::sign::sign_path(&keys, id, now_secs(), 600, &Default::default()).unwrap();
    let back = request("GET", &format!("{base}{read}"), &[]);
    assert!(back.status == 200 && back.body == body, "read back: {}", back.status);
    assert_eq!(crate::common::send("PUT", &url, Some(b"x"), &[]).status, 200, "get-or-create");
    let before = kv_rows();
    let fresh = format!("{base}{}", sign_upload(&keys, "edge", "refused.csv", now_secs(), 600, &opts).unwrap());
    let forged = crate::edge::upload::forge(&fresh, 1, |_| "other".into());
    assert_eq!(crate::common::send("PUT", &forged, Some(b"x"), &[]).status, 403);
    // Oversized by its Content-Length: refused before the body is read. The answer is read
    // right after the head: a client still pushing the body when the server answers and closes
    // can lose the answer to the connection reset.
    let status = {
        use std::io::{BufRead, Write};
        let (host, path) = fresh.strip_prefix("http://").unwrap().split_once('/').unwrap();
        let mut s = std::net::TcpStream::connect(host).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        write!(s, "PUT /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 400001\r\nConnection: close\r\n\r\n").unwrap();
        let mut line = String::new();
        std::io::BufReader::new(s).read_line(&mut line).unwrap();
        line
    };
    assert!(status.starts_with("HTTP/1.1 413"), "{status:?}");
    assert_eq!(kv_rows(), before, "a refused upload wrote to the key-value store");
}

/// The runtime `name` on PATH, if any. `scripts/test.sh` puts Spin 4.0.2 and wasmtime-cli 48.0.8
/// from `../shared/tools` there and sets `ARTIFACT_REQUIRE_SPIN=1`, so CI never skips these tests.
fn tool_bin(name: &str) -> Option<PathBuf> {
    let found = crate::common::on_path(name, &[]);
    if found.is_none() {
        assert!(std::env::var_os("ARTIFACT_REQUIRE_SPIN").is_none(), "ARTIFACT_REQUIRE_SPIN is set but `{name}` is not on PATH");
        eprintln!("SKIPPED: `{name}` is not on PATH (../shared/tools has it; scripts/test.sh unpacks it)");
    }
    found
}

/// `spin up` on the repository's own spin.toml, on a key-value store seeded through the same
/// backend: the real Spin accepts the manifest (its dependency wrapping included) and answers
/// signed reads with 200, 206, 304, 403 and 404, and signed uploads (201, 200, 403, 413).
#[test]
fn real_spin_up_serves_signed_reads_and_uploads() {
    let Some(spin) = tool_bin("spin") else { return };
    let m = manifest();
    build(&m);
    let vars = BTreeMap::from([
        ("signing_keys".to_string(), KEYS.to_string()),
        ("active_kid".to_string(), String::new()),
        ("api_tokens".to_string(), API_TOKENS.to_string()),
    ]);
    let app = App::new(&compose_spin(&m), &compose_seeder(&m), vars);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let data: Vec<u8> = (0..600_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 9) as u8).collect();
    let id = rt.block_on(app.put(&data, "big.bin", "application/octet-stream")).record.id;
    let path = rt.block_on(app.sign(&id, None));

    // Spin's default key-value store: `<state-dir>/sqlite_key_value.db`, table `spin_key_value`.
    let state = tempfile::tempdir().unwrap();
    seed_spin_state(state.path(), &app.kv.lock().unwrap());
    let up = spin_up(&spin, &root().join("spin.toml"), state.path(), &[("signing_keys", KEYS), ("api_tokens", API_TOKENS)]);
    let base = up.base.clone();
    let url = format!("{base}{path}");
    let r = request("GET", &url, &[]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.body == data, "the whole body, verified");
    let r = request("GET", &url, &[("Range", "bytes=262100-262199")]);
    assert_eq!((r.status, r.body.as_slice()), (206, &data[262_100..262_200]));
    let etag = format!("\"{}\"", hex(&Sha256::digest(&data)));
    assert_eq!(request("GET", &url, &[("If-None-Match", &etag)]).status, 304);
    let sig = url.split("sig=").nth(1).unwrap().split('&').next().unwrap();
    let mut flipped = sig.as_bytes().to_vec();
    flipped[10] = if flipped[10] == b'a' { b'b' } else { b'a' };
    assert_eq!(request("GET", &url.replace(sig, std::str::from_utf8(&flipped).unwrap()), &[]).status, 403);
    let keys = artifact_component::sign::Keys::parse(KEYS, None).unwrap();
    let ghost = artifact_component::sign::sign_path(&keys, "01M84EG4VHHF84MF34ZRCQAC3P", now_secs(), 600, &Default::default()).unwrap();
    assert_eq!(request("GET", &format!("{base}{ghost}"), &[]).status, 404);
    // A read writes nothing: the key-value store is as seeded.
    let db = rusqlite::Connection::open(state.path().join("sqlite_key_value.db")).unwrap();
    let mut q = db.prepare("SELECT key, value FROM spin_key_value WHERE store = 'default'").unwrap();
    let after: BTreeMap<String, Vec<u8>> = q.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
    assert!(after == *app.kv.lock().unwrap(), "reads left the key-value store as seeded");
    drop(q);
    let rows = || db.query_row("SELECT COUNT(*) FROM spin_key_value", [], |r| r.get::<_, i64>(0)).unwrap() as usize;
    uploads_work_and_refusals_store_nothing(&base, &rows);
    token_api_works(&base, &id);
}

/// examples/spin-csv-summary: a spin-sdk component that uses the store as a component
/// dependency. Built by its own spin.toml's commands, composed the way Spin composes it and
/// served in process, then (when `spin` is on PATH) under the real `spin up`, on a key-value
/// store seeded through the main app's backend.
#[test]
fn spin_sdk_example_summarizes_a_csv_through_the_store() {
    let m = manifest();
    build(&m);
    let dir = root().join("examples/spin-csv-summary");
    let em: toml::Table = std::fs::read_to_string(dir.join("spin.toml")).unwrap().parse().unwrap();
    let comp = em["component"]["csv-summary"].as_table().expect("[component.csv-summary]");
    run_build(&comp["build"], &dir);
    let (pkg, dep) = comp["dependencies"].as_table().unwrap().iter().next().expect("the store dependency");
    let dep = Dep { name: pkg.clone(), path: dir.join(dep["path"].as_str().unwrap()), export: None };
    let composed = compose(&dir.join(comp["source"].as_str().unwrap()), &[("artifact:store".into(), &dep)], None);
    let app = Arc::new(App::new(&composed, &compose_seeder(&m), BTreeMap::new()));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let csv = "sku,price,name\n1,2.5,bolt\n2,4.0,\"nut, <b>hex</b>\"\n3,1.5,washer\n";
    let sha = hex(&Sha256::digest(csv.as_bytes()));
    rt.block_on(app.put(csv.as_bytes(), "prices.csv", "text/csv"));
    let check = |base: &str| {
        let r = request("GET", &format!("{base}/summary?ref=edge%2Fprices.csv"), &[]);
        let html = String::from_utf8_lossy(&r.body).to_string();
        assert_eq!(r.status, 200, "{html}");
        for want in ["<span id=rows>3</span>", "<span id=cols>3</span>", "numeric: min 1, max 3", "numeric: min 1.5, max 4, mean 2.67", &sha] {
            assert!(html.contains(want), "{want} in {html}");
        }
        assert!(html.contains("nut, &lt;b&gt;hex&lt;/b&gt;") && !html.contains("<b>hex"), "cells are escaped: {html}");
        assert_eq!(request("GET", &format!("{base}/summary?ref=edge%2Fmissing.csv"), &[]).status, 404);
        assert_eq!(request("GET", &format!("{base}/summary"), &[]).status, 400);
    };
    check(&serve_in_process(&rt, app.clone()));
    if let Some(spin) = tool_bin("spin") {
        let state = tempfile::tempdir().unwrap();
        seed_spin_state(state.path(), &app.kv.lock().unwrap());
        let up = spin_up(&spin, &dir.join("spin.toml"), state.path(), &[]);
        check(&up.base);
    }
    rt.shutdown_timeout(Duration::from_secs(1));
}

/// Stock `wasmtime serve` (wasmtime-cli 48) runs the edge app built by scripts/wasmtime-app.sh:
/// its key-value store seeded with `-S keyvalue-in-memory-data` (the same layout the Spin
/// backend writes, values as base64 text), its keys from `-S config-var`. Signed reads answer
/// 200, 206, 304, 403 and 404 as under `artifact serve` and Spin.
#[test]
fn wasmtime_serve_answers_signed_reads() {
    let Some(wasmtime) = tool_bin("wasmtime") else { return };
    let m = manifest();
    build(&m);
    let st = Command::new("bash").arg(root().join("scripts/wasmtime-app.sh")).stdout(std::process::Stdio::null()).status().unwrap();
    assert!(st.success(), "scripts/wasmtime-app.sh failed");
    // `-S` splits its value on commas, so wasmtime serve gets one `kid:key` pair.
    let one_key = KEYS.split(',').next().unwrap();
    let vars = BTreeMap::from([("signing_keys".to_string(), one_key.to_string()), ("active_kid".to_string(), String::new())]);
    let app = App::new(&compose_spin(&m), &compose_seeder(&m), vars);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    // wasmtime 48 takes its in-memory key-value data only as arguments, each at most 128 KiB
    // (Linux's MAX_ARG_STRLEN) and all together about 2 MiB: a body of up to 64 KiB is one
    // value (kept inside its head), which fits as base64.
    let data: Vec<u8> = (0..60_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    let id = rt.block_on(app.put(&data, "w.bin", "application/octet-stream")).record.id;
    let small = rt.block_on(app.put(b"a,b\n1,2\n", "w.csv", "text/csv")).record.id;
    let path = rt.block_on(app.sign(&id, None));
    let small_path = rt.block_on(app.sign(&small, None));

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let log = std::fs::File::create(dir.path().join("wasmtime.log")).unwrap();
    let mut cmd = Command::new(wasmtime);
    cmd.args(["serve", "-S", "cli", "-S", "keyvalue", "-S", "config", "-S"]).arg(format!("config-var=signing_keys={one_key}"));
    for (k, v) in app.kv.lock().unwrap().iter() {
        cmd.arg("-S").arg(format!("keyvalue-in-memory-data={k}={}", artifact_component::encoding::base64(v)));
    }
    cmd.args(["--addr", &format!("127.0.0.1:{port}")]).arg(root().join("target/wasmtime/artifact_edge_wasmtime.wasm"));
    let mut child = crate::common::Reaped(cmd.stdout(log.try_clone().unwrap()).stderr(log).spawn().unwrap());
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        let text = std::fs::read_to_string(dir.path().join("wasmtime.log")).unwrap_or_default();
        if let Ok(Some(st)) = child.0.try_wait() {
            panic!("wasmtime serve exited with {st}:\n{text}");
        }
        assert!(started.elapsed() < Duration::from_secs(120), "wasmtime serve did not listen in 120 s:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let base = format!("http://127.0.0.1:{port}");
    let url = format!("{base}{path}");
    let r = request("GET", &url, &[]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.body == data, "the whole body, verified");
    let r = request("GET", &format!("{base}{small_path}"), &[]);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"a,b\n1,2\n"[..]));
    let r = request("GET", &url, &[("Range", "bytes=40100-40199")]);
    assert_eq!((r.status, r.body.as_slice()), (206, &data[40_100..40_200]));
    let etag = format!("\"{}\"", hex(&Sha256::digest(&data)));
    assert_eq!(request("GET", &url, &[("If-None-Match", &etag)]).status, 304);
    let sig = url.split("sig=").nth(1).unwrap().split('&').next().unwrap();
    let mut flipped = sig.as_bytes().to_vec();
    flipped[10] = if flipped[10] == b'a' { b'b' } else { b'a' };
    assert_eq!(request("GET", &url.replace(sig, std::str::from_utf8(&flipped).unwrap()), &[]).status, 403);
    let keys = artifact_component::sign::Keys::parse(one_key, None).unwrap();
    let ghost = artifact_component::sign::sign_path(&keys, "01M84EG4VHHF84MF34ZRCQAC3P", now_secs(), 600, &Default::default()).unwrap();
    assert_eq!(request("GET", &format!("{base}{ghost}"), &[]).status, 404);
}
