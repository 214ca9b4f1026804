#!/usr/bin/env bash
# Long run of the property tests (tests/props.rs): PROPTEST_CASES cases per property (default
# 100000; `cargo test` alone runs 256), in release mode. Extra arguments go to the test binary,
# e.g. `scripts/props.sh refs_` for the ref properties only.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_INCREMENTAL=0
export PROPTEST_CASES="${PROPTEST_CASES:-100000}"
start=$(date +%s)
status=0
cargo test --locked --release -p artifact-component --test props -- "$@" || status=$?
echo "props: PROPTEST_CASES=$PROPTEST_CASES, $(( $(date +%s) - start )) s (build included), exit $status"
exit "$status"
