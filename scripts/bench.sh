#!/usr/bin/env bash
# Every benchmark scenario (issue 9) from a fresh clone, in one command:
#   bash scripts/bench.sh [--quick] [--only 1,2,6] [--budget-ms N]   (options go to artifact-bench)
# Installs the reference tools (wrk, nginx) and PostgreSQL when missing, starts a throwaway
# PostgreSQL on 127.0.0.1 for scenarios 4 and 7, builds the bench and the `artifact` binary together and
# prints the table (progress on stderr). See benches/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-wasip2 >/dev/null
# PostgreSQL (and moto, which services.sh starts with it) only when scenario 4 (its carried-URL
# row) or 7 runs: nothing else shares the machine with the other scenarios.
only=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    if [ "${args[i]}" = --only ]; then only=${args[i + 1]:-}; fi
done
if [ -z "$only" ] || [[ ",${only// /}," == *",7,"* ]] || [[ ",${only// /}," == *",4,"* ]]; then
    bash scripts/deps.sh postgresql moto wrk nginx binaryen
    eval "$(bash scripts/services.sh start)"
    trap 'bash scripts/services.sh stop' EXIT
    export ARTIFACT_BENCH_POSTGRES=${ARTIFACT_BENCH_POSTGRES:-$ARTIFACT_TEST_POSTGRES}
else
    bash scripts/deps.sh wrk nginx binaryen
fi
export ARTIFACT_REQUIRE_WASM_OPT=1

# Spin 4.0.2 (../shared/tools, when beside the clone) for the Spin row of scenario 4.
if [ -x ../shared/tools/unpack ] && ! command -v spin >/dev/null; then
    PATH="$(bash ../shared/tools/unpack "$PWD/target/tools"):$PATH"
    export PATH
fi

PROFILE=${ARTIFACT_BENCH_PROFILE:-benchmark}
# Without the S3 backend (--no-default-features): no scenario uses it, and it is a third of the
# host's compile time. bench/src/cli.rs builds the artifact binary with the same flags.
echo "== building (cargo build --profile $PROFILE -p artifact-bench -p artifact-host --bins --no-default-features)" >&2
cargo build --locked --profile "$PROFILE" -p artifact-bench -p artifact-host --bins --no-default-features
# The null wasi:http handler of scenario 4 (the per-request floor of `artifact serve`).
cargo build --locked --release --target wasm32-wasip2 --manifest-path bench/null-handler/Cargo.toml --target-dir target/null-handler
export ARTIFACT_BENCH_NULL_WASM="$PWD/target/null-handler/wasm32-wasip2/release/null_handler.wasm"
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
"$target/$PROFILE/artifact-bench" "$@"
