//! The artifact store's `storage` and `metadata` over Spin's key-value store, plugged into the
//! `edge` component at build time (spin/http-only; see `spin.toml` and the README's "Deploy on
//! Spin"), and into the store component by spin/plug-store.
//!
//! Imports `wasi:keyvalue/store` + `atomics` `@0.2.0-draft2` (what Spin provides; its
//! compare-and-swap makes get-or-create atomic) and Spin's `wasi:config/store@0.2.0-draft-2024-09-27`;
//! exports `artifact:store/storage@0.1.0`, `artifact:store/metadata@0.1.0` and
//! `wasi:config/store@0.2.0-rc.1` — the config version the artifact component imports, which
//! Spin does not provide — forwarded to Spin's variables.

#[cfg(not(feature = "wasmtime"))]
wit_bindgen::generate!({
    path: ["../../wit", "wit"],
    world: "artifact:spin-kv-backend/kv-backend",
    generate_all,
});

// `--features wasmtime`: the `kv-backend-wasmtime` world (wit/world.wit) for `wasmtime serve`.
#[cfg(feature = "wasmtime")]
wit_bindgen::generate!({
    path: ["../../wit", "wit"],
    world: "artifact:spin-kv-backend/kv-backend-wasmtime",
    generate_all,
});

mod digests;
mod kv;
mod metadata;
mod storage;
#[cfg(any(test, feature = "wasmtime"))]
mod text;
mod uses;

#[cfg(test)]
mod tests;

/// The exported implementation.
pub struct Backend;

#[cfg(not(feature = "wasmtime"))]
mod config {
    use super::Backend;
    use crate::exports::wasi::config0_2_0_rc_1::store as cfg_out;
    use crate::wasi::config0_2_0_draft_2024_09_27::store as cfg_in;

    fn cfg_err(e: cfg_in::Error) -> cfg_out::Error {
        match e {
            cfg_in::Error::Upstream(s) => cfg_out::Error::Upstream(s),
            cfg_in::Error::Io(s) => cfg_out::Error::Io(s),
        }
    }

    impl cfg_out::Guest for Backend {
        fn get(key: String) -> Result<Option<String>, cfg_out::Error> {
            cfg_in::get(&key).map_err(cfg_err)
        }
        fn get_all() -> Result<Vec<(String, String)>, cfg_out::Error> {
            cfg_in::get_all().map_err(cfg_err)
        }
    }
}

export!(Backend);
