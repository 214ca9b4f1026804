#!/usr/bin/env bash
# Builds the Python package's wheel (hosts/python, maturin; the native extension embeds the
# component) into hosts/python/dist:
#   bash scripts/wheel.sh [--release | --profile NAME]      (default: the dev profile, as the tests)
# maturin comes from PyPI into target/wheel/venv when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=(--profile dev)
case "${1:-}" in
    --release) profile=(--release) ;;
    --profile) profile=(--profile "$2") ;;
    "") ;;
    *) echo "wheel.sh: unknown option $1" >&2; exit 2 ;;
esac
venv=target/wheel/venv
if [ ! -x "$venv/bin/maturin" ]; then
    echo "== installing maturin (pip, $venv)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q 'maturin==1.9.6'
fi
# The schema's one home is the Rust host's; the package carries a copy.
cp host/src/metadata/schema.sql hosts/python/artifact_host/schema.sql
rm -rf hosts/python/dist
(cd hosts/python && ../../"$venv"/bin/maturin build --locked "${profile[@]}" -o dist --quiet)
ls -l hosts/python/dist/*.whl
