//! Generated bindings of the `artifact-store` world. Private to the crate.

wasmtime::component::bindgen!({
    world: "artifact-store",
    path: "../wit",
    with: {
        "artifact:store/storage.writer": super::imports::StagedBlob,
    },
});
