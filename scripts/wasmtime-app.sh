#!/usr/bin/env bash
# Builds the edge app for stock `wasmtime serve` (wasmtime-cli 48) into one component:
#   target/wasmtime/artifact_edge_wasmtime.wasm
# = the edge component (the same build as spin.toml's first command) with its artifact:store
# imports plugged from spin/kv-backend built `--features wasmtime` (wasmtime's
# wasi:keyvalue@0.2.0-draft, values as base64 text). wasi:config and WASI stay imports, which
# `wasmtime serve -S cli -S keyvalue -S config` provides. See the README, "Other runtimes".
#
#   bash scripts/wasmtime-app.sh
#   wasmtime serve -S cli -S keyvalue -S config -S config-var=signing_keys=KID:BASE64KEY \
#       [-S keyvalue-in-memory-data=KEY=BASE64VALUE ...] --addr 127.0.0.1:8080 \
#       target/wasmtime/artifact_edge_wasmtime.wasm
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-wasip2 >/dev/null 2>&1 || true
cargo build --profile guest --lib --locked -p artifact-component --target wasm32-wasip2 --features edge --target-dir target/guest
cargo build --release --locked --target wasm32-wasip2 --features wasmtime --manifest-path spin/kv-backend/Cargo.toml --target-dir target/wasmtime-kv
cargo run --release --locked --manifest-path spin/http-only/Cargo.toml --target-dir target/spin-tools -- \
    target/guest/wasm32-wasip2/guest/artifact_component.wasm target/wasmtime/artifact_edge_wasmtime.wasm \
    target/wasmtime-kv/wasm32-wasip2/release/kv_backend.wasm
echo target/wasmtime/artifact_edge_wasmtime.wasm
