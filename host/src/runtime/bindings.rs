//! Generated bindings of the `artifact-store` world. Private to the crate.

wasmtime::component::bindgen!({
    world: "artifact-store",
    path: "../wit",
    // The world's generated `add_to_linker` (unused: see `embed::add_to_linker`) must type-check
    // with WASI's `wasi:io`, which wants store data that is `Send`.
    require_store_data_send: true,
    with: {
        // `storage.read-verified` hands out WASI's own input-stream.
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "artifact:store/storage.writer": super::imports::StagedBlob,
    },
});
