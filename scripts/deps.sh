#!/usr/bin/env bash
# Installs what the test and bench scripts need beyond the Rust toolchain, when missing:
#   bash scripts/deps.sh [postgresql] [moto] [wrk] [nginx] [chromium]
# postgresql, wrk, nginx, chromium (with chromedriver) come from the distribution (apt-get);
# moto (an S3 server) from PyPI.
set -euo pipefail

apt=()
pip=()
for want in "$@"; do
    case "$want" in
        postgresql) ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || apt+=(postgresql) ;;
        wrk) command -v wrk >/dev/null || apt+=(wrk) ;;
        nginx) command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || apt+=(nginx) ;;
        chromium) command -v chromedriver >/dev/null || apt+=(chromium chromium-driver) ;;
        moto) command -v moto_server >/dev/null || pip+=('moto[server]') ;;
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
