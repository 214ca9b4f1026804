#!/usr/bin/env bash
# Soak test of `artifact serve` (not part of CI or the test suite), in one command:
#   bash scripts/soak.sh [soak.py options]     e.g. --duration 600 --burst 2000 --strict
#                                              or   --serve-arg=--max-instances=16
# Builds the `artifact` binary exactly as scripts/bench.sh does (same cargo command, profile and
# flags, so both scripts share one build and neither makes the other rebuild), then runs
# scripts/soak.py on it; the report (Markdown) goes to stdout, progress to stderr. The load, the
# classification and the options are described in scripts/soak.py (`python3 scripts/soak.py -h`).
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-wasip2 >/dev/null

PROFILE=${ARTIFACT_BENCH_PROFILE:-benchmark}
echo "== building (cargo build --profile $PROFILE -p artifact-bench -p artifact-host --bins --no-default-features)" >&2
cargo build --locked --profile "$PROFILE" -p artifact-bench -p artifact-host --bins --no-default-features
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

# The compiled-code cache is kept between runs (a later --cache-dir in "$@" wins).
mkdir -p "$target/soak-data"
exec python3 scripts/soak.py --artifact "$target/$PROFILE/artifact" --cache-dir "$target/soak-data/code-cache" "$@"
