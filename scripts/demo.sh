#!/usr/bin/env bash
# Demo on the embedded default store (filesystem blobs + SQLite metadata under $ARTIFACT_HOME):
# puts the sample files in examples/, then heads and gets them back through the component.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-wasip2 >/dev/null
# The `quick` profile and no S3 backend: the first build takes minutes, not a quarter hour.
cargo build --locked --profile quick -p artifact-host --bin artifact --no-default-features
A=target/quick/artifact
export ARTIFACT_HOME="${ARTIFACT_HOME:-$PWD/.artifacts}"
echo "store: $ARTIFACT_HOME"

step() { echo; echo "\$ artifact $*"; "$A" "$@"; }

step put examples/prices.json --bucket demo --name prices.json --created-by demo
step put examples/report.csv --bucket demo --name report.csv --content-type text/csv --compression gzip
step head demo/prices.json
step get demo/prices.json
step get demo/report.csv --mode text
step get demo/report.csv --mode bytes --range 0-15
echo
echo "\$ artifact get demo/report.csv --mode json   # not JSON: a typed decode error, exit 2"
"$A" get demo/report.csv --mode json || echo "(exit $?)"
