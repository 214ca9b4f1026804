//! `spin-http-only IN.wasm OUT.wasm`: wraps the `edge` component into one that exports only its
//! `wasi:http/incoming-handler@0.2.x` and imports everything the edge component imports.
//!
//! Why: Spin composes component dependencies into the component and re-exports all of its
//! exports. An edge component that also exported `artifact:store/artifacts` (as the `edge` world
//! once did) takes that export's types from `artifact:store/types`; once the dependency supplies
//! `types`, they live inside the composition and the re-exported `artifacts` is not a valid
//! export ("instance not valid to be used as export"). Spin serves only the HTTP handler, so
//! the wrapper keeps only that. Today's `edge` world exports nothing else, so for Spin this is a
//! pass-through that guards the manifest against a wider edge build.
//!
//! `spin-http-only IN.wasm OUT.wasm BACKEND.wasm` also plugs every import of IN that BACKEND
//! exports (`artifact:store/*`; the Spin build of spin/kv-backend also `wasi:config` rc.1, which
//! it forwards to Spin's variables) from one instance of BACKEND: one component with no
//! dependencies. spin.toml ships the edge so (Spin instantiates a component's dependencies
//! behind capability adapters for every request; the composed app measured 20-30 % more
//! signed reads a second, benches/README.md), and `wasmtime serve` runs it with the backend
//! built `--features wasmtime` (see the README, "Other runtimes"). What BACKEND does not supply
//! (WASI, and there `wasi:config`) stays an import.

use wac_graph::types::Package;
use wac_graph::CompositionGraph;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (input, output, backend) = match args.as_slice() {
        [_, i, o] => (i, o, None),
        [_, i, o, b] => (i, o, Some(b)),
        _ => {
            eprintln!("usage: spin-http-only IN.wasm OUT.wasm [BACKEND.wasm]");
            std::process::exit(2);
        }
    };
    let read = |p: &str| std::fs::read(p).unwrap_or_else(|e| panic!("{p}: {e}"));
    let mut graph = CompositionGraph::new();
    let pkg = Package::from_bytes("artifact:edge", None, read(input), graph.types_mut()).expect("a component");
    let world = pkg.ty();
    let id = graph.register_package(pkg).unwrap();
    let inst = graph.instantiate(id);
    if let Some(backend) = backend {
        let kv = Package::from_bytes("artifact:backend", None, read(backend), graph.types_mut()).expect("the backend is a component");
        let exported: Vec<String> = graph.types()[kv.ty()].exports.keys().cloned().collect();
        let kv = graph.register_package(kv).unwrap();
        let kv = graph.instantiate(kv);
        let imports: Vec<String> = graph.types()[world].imports.keys().filter(|i| exported.contains(i)).cloned().collect();
        assert!(imports.iter().any(|i| i.starts_with("artifact:store/")), "{backend} exports none of the artifact:store imports");
        for import in imports {
            let node = graph.alias_instance_export(kv, &import).unwrap_or_else(|e| panic!("the backend does not export {import}: {e}"));
            graph.set_instantiation_argument(inst, &import, node).unwrap();
        }
    }
    let handlers: Vec<String> =
        graph.types()[world].exports.keys().filter(|k| k.starts_with("wasi:http/incoming-handler@0.2")).cloned().collect();
    assert_eq!(handlers.len(), 1, "{input} must export one wasi:http/incoming-handler@0.2.x");
    let node = graph.alias_instance_export(inst, &handlers[0]).unwrap();
    graph.export(node, &handlers[0]).unwrap();
    let out = graph.encode(Default::default()).expect("the wrapper encodes and validates");
    if let Some(dir) = std::path::Path::new(output).parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(output, out).unwrap_or_else(|e| panic!("{output}: {e}"));
}
