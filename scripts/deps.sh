#!/usr/bin/env bash
# Installs what the test and bench scripts need beyond the Rust toolchain, when missing:
#   bash scripts/deps.sh [postgresql] [moto] [wrk] [nginx] [chromium] [binaryen] [plugins]
# postgresql, wrk, nginx, chromium (with chromedriver), binaryen (`wasm-opt`, which
# scripts/wasm-ld-opt runs on every wasm32-wasip2 link) come from the distribution (apt-get);
# moto (an S3 server) from PyPI; plugins = componentize-py 0.25.1 (PyPI) in target/plugins/venv
# and componentize-js 0.23.0 (npm, examples/plugins/js/node_modules), which build the Python and
# JavaScript example plugins.
set -euo pipefail

apt=()
pip=()
plugins=
for want in "$@"; do
    case "$want" in
        postgresql) ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || apt+=(postgresql) ;;
        wrk) command -v wrk >/dev/null || apt+=(wrk) ;;
        nginx) command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || apt+=(nginx) ;;
        binaryen) command -v wasm-opt >/dev/null || apt+=(binaryen) ;;
        chromium) command -v chromedriver >/dev/null || apt+=(chromium chromium-driver) ;;
        moto) command -v moto_server >/dev/null || pip+=('moto[server]') ;;
        plugins)
            plugins=1
            python3 -c 'import ensurepip' 2>/dev/null || apt+=(python3-venv) ;;
        *) echo "deps.sh: unknown dependency $want" >&2; exit 2 ;;
    esac
done
if [ ${#apt[@]} -gt 0 ]; then
    echo "== installing ${apt[*]} (apt-get)"
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${apt[@]}" >/dev/null
fi
if [ ${#pip[@]} -gt 0 ]; then
    echo "== installing ${pip[*]} (pip)"
    PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install -q "${pip[@]}"
fi
if [ -n "$plugins" ]; then
    venv="$(dirname "$0")/../target/plugins/venv"
    if [ ! -x "$venv/bin/componentize-py" ]; then
        echo "== installing componentize-py 0.25.1 (pip, target/plugins/venv)"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q componentize-py==0.25.1
    fi
    js="$(dirname "$0")/../examples/plugins/js"
    if [ ! -d "$js/node_modules/@bytecodealliance/componentize-js" ]; then
        echo "== installing componentize-js (npm ci, examples/plugins/js)"
        (cd "$js" && npm ci --no-audit --no-fund --silent)
    fi
fi
