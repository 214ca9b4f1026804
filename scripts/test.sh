#!/usr/bin/env bash
# The whole test suite, from a fresh machine that has only the Rust toolchain.
# Installs what the tests need (the wasm target, PostgreSQL, an S3 server (moto); later: Node, Python
# packages), then runs every test, including those that load the built .wasm.
set -euo pipefail
cd "$(dirname "$0")/.."
# One-shot builds: incremental caches only cost disk here (~1 GB).
export CARGO_INCREMENTAL=0

rustup target add wasm32-wasip2 >/dev/null

# PostgreSQL and an S3 server (moto) for the remote-backend tests (host/tests/it/remote_backends.rs);
# nginx, the oracle of host/tests/it/edge/nginx.rs; Chromium and chromedriver, the browser of
# host/tests/it/console.rs (required here, so the console test cannot skip); binaryen, whose
# `wasm-opt` every wasm32-wasip2 link runs (scripts/wasm-ld-opt; required here, so the tests
# load the component as shipped).
bash scripts/deps.sh postgresql moto nginx chromium binaryen plugins
export ARTIFACT_REQUIRE_BROWSER=1 ARTIFACT_REQUIRE_PLUGINS=1 ARTIFACT_REQUIRE_WASM_OPT=1
eval "$(bash scripts/services.sh start)"
trap 'bash scripts/services.sh stop' EXIT

# Spin 4.0.2 and wasmtime-cli 48 (built from source, ../shared/tools) for the tests on the real
# runtimes, when that folder is beside the clone (as on CI).
if [ -x ../shared/tools/unpack ]; then
    PATH="$(bash ../shared/tools/unpack "$PWD/target/tools"):$PATH"
    export PATH ARTIFACT_REQUIRE_SPIN=1
fi

echo "== native unit tests, component build, host tests (through the real .wasm)"
cargo test --workspace --locked
echo "== Python package: the wheel (maturin; its native extension reuses the build above)"
bash scripts/wheel.sh
# The CLI of the cross-host tests (hosts/python/tests/test_package.py), kept past the prune.
mkdir -p target/bin && cp target/debug/artifact target/bin/artifact
export ARTIFACT_CLI="$PWD/target/bin/artifact" ARTIFACT_REQUIRE_PACKAGES=1
# On CI (a fresh clone on a small disk) the debug build is not needed past this point.
if [ -n "${ARTIFACT_CI_PRUNE:-}" ]; then rm -rf target/debug; fi

echo "== component builds for wasm32-wasip2 with plain cargo"
cargo build --locked --profile guest --target wasm32-wasip2 -p artifact-component --lib --target-dir target/guest
ls -l target/guest/wasm32-wasip2/guest/artifact_component.wasm

echo "== component also builds with cargo component (installed from crates.io when missing)"
command -v cargo-component >/dev/null || cargo install --locked --quiet cargo-component@0.21.1
cargo component build --locked --profile guest -p artifact-component --target-dir target/component
ls -l target/component/wasm32-wasip1/guest/artifact_component.wasm

echo "== Node host (hosts/node): shared vectors, round trips, blob hashes, SQLite metadata, the CLI's home through jco"
export ARTIFACT_WASM="$PWD/target/guest/wasm32-wasip2/guest/artifact_component.wasm"
(cd hosts/node && npm ci --no-audit --no-fund --loglevel=error && npm test)
echo "== Node package: npm pack, installed into an empty project away from the checkout"
(cd hosts/node && npm run test:pack)

echo "== Python host (hosts/python): the same through wasmtime-py; the wheel installed away from the checkout; one home shared by Python, Node and the CLI"
PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install -q -r hosts/python/requirements.txt pytest  # also on a PEP 668 system Python
# A hung test ends the run with its traceback (SIGINT) instead of running into the CI limit.
timeout --signal=INT --kill-after=30 1800 python3 -m pytest -q hosts/python
