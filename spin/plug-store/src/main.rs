//! `spin-plug-store ARTIFACT.wasm KV_BACKEND.wasm OUT.wasm`: composes the artifact component (the
//! plain `artifact-store` world) with the Spin key-value backend into one component that exports
//! `artifact:store/artifacts` and `artifact:store/types` and imports only what Spin provides
//! (`wasi:keyvalue`, `wasi:config` draft, WASI 0.2).
//!
//! Why: a Spin app that calls the store lists it as a component dependency, and Spin satisfies a
//! dependency's own imports only from the host, not from other dependencies. So the store and
//! its backend go in as one. `types` is exported beside `artifacts` because the `artifacts`
//! interface uses its types: the app's `types` import must be the same instance.

use wac_graph::types::Package;
use wac_graph::CompositionGraph;

const TYPES: &str = "artifact:store/types@0.1.0";
const ARTIFACTS: &str = "artifact:store/artifacts@0.1.0";
const CONFIG: &str = "wasi:config/store@0.2.0-rc.1";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, store, backend, output] = args.as_slice() else {
        eprintln!("usage: spin-plug-store ARTIFACT.wasm KV_BACKEND.wasm OUT.wasm");
        std::process::exit(2);
    };
    let read = |p: &str| std::fs::read(p).unwrap_or_else(|e| panic!("{p}: {e}"));
    let mut graph = CompositionGraph::new();
    let kv = Package::from_bytes("artifact:kv-backend", None, read(backend), graph.types_mut()).expect("the backend is a component");
    let kv = graph.register_package(kv).unwrap();
    let kv = graph.instantiate(kv);
    let main = Package::from_bytes("artifact:component", None, read(store), graph.types_mut()).expect("the store is a component");
    let world = main.ty();
    let main = graph.register_package(main).unwrap();
    let main = graph.instantiate(main);
    // Every artifact:store import (types, storage, metadata) and wasi:config from the backend.
    let imports: Vec<String> = graph.types()[world].imports.keys().cloned().collect();
    for import in imports.iter().filter(|i| i.starts_with("artifact:store/") || i.as_str() == CONFIG) {
        let node = graph.alias_instance_export(kv, import).unwrap_or_else(|e| panic!("the backend does not export {import}: {e}"));
        graph.set_instantiation_argument(main, import, node).unwrap();
    }
    let types = graph.alias_instance_export(kv, TYPES).expect("the backend exports types");
    graph.export(types, TYPES).unwrap();
    let artifacts = graph.alias_instance_export(main, ARTIFACTS).expect("the store exports artifacts");
    graph.export(artifacts, ARTIFACTS).unwrap();
    let out = graph.encode(Default::default()).expect("the composition encodes and validates");
    if let Some(dir) = std::path::Path::new(output).parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(output, out).unwrap_or_else(|e| panic!("{output}: {e}"));
}
