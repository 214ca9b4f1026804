#!/usr/bin/env bash
# Throwaway PostgreSQL and S3 (moto) servers on 127.0.0.1 for the remote-backend tests.
#
#   eval "$(bash scripts/services.sh start)"   # starts both, prints `export …` lines
#   bash scripts/services.sh stop              # stops both and removes their data
#
# start [--dir DIR] [--owner PID]
#   DIR (default $ARTIFACT_SERVICES_DIR or /tmp/artifact-services) holds the cluster, logs, pids
#   and `env` (the printed exports). Starting again while they run just prints the exports.
#   With --owner, a watchdog stops the servers when process PID exits (used by the Rust test
#   fixture when the variables are not set).
# stop [--dir DIR]
#
# Needs PostgreSQL server binaries (Debian: apt-get install -y postgresql) and moto
# (pip install 'moto[server]'); scripts/test.sh installs both.
set -euo pipefail

cmd=${1:-}
shift || true
dir=${ARTIFACT_SERVICES_DIR:-/tmp/artifact-services}
owner=""
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) dir=$2; shift 2 ;;
        --owner) owner=$2; shift 2 ;;
        *) echo "services.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

pg_bin() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$d" ] || [ ! -x "$d/pg_ctl" ]; then
        echo "services.sh: PostgreSQL server binaries not found; install them: apt-get install -y postgresql" >&2
        exit 1
    fi
    echo "$d"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Runs a PostgreSQL command as the `postgres` user when we are root (initdb refuses root).
as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

running() {
    [ -f "$dir/env" ] && [ -f "$dir/moto.pid" ] && kill -0 "$(cat "$dir/moto.pid")" 2>/dev/null &&
        as_pg "$(pg_bin)/pg_ctl" status -D "$dir/pg" >/dev/null 2>&1
}

stop() {
    [ -d "$dir" ] || return 0
    if [ -d "$dir/pg" ]; then
        as_pg "$(pg_bin)/pg_ctl" stop -D "$dir/pg" -m immediate >/dev/null 2>&1 || true
    fi
    for f in moto.pid watchdog.pid; do
        # (the watchdog itself runs `stop`, possibly exec-ed in its place: do not kill it)
        if [ -f "$dir/$f" ] && [ "$(cat "$dir/$f")" != "$PPID" ] && [ "$(cat "$dir/$f")" != "$$" ]; then
            kill "$(cat "$dir/$f")" 2>/dev/null || true
        fi
    done
    rm -rf "$dir"
}

start() {
    if running; then
        cat "$dir/env"
        return 0
    fi
    stop
    command -v moto_server >/dev/null ||
        { echo "services.sh: moto_server not found; install it: pip install 'moto[server]'" >&2; exit 1; }
    local bin pg_port s3_port
    bin=$(pg_bin)
    mkdir -p "$dir"
    chmod 755 "$dir"
    pg_port=$(free_port)
    s3_port=$(free_port)

    # PostgreSQL: a fresh cluster, trust auth, TCP on 127.0.0.1 only, socket in the data dir.
    mkdir -p "$dir/pg"
    [ "$(id -u)" = 0 ] && chown postgres "$dir/pg"
    as_pg "$bin/initdb" -D "$dir/pg" -U artifact -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; exit 1; }
    as_pg "$bin/pg_ctl" start -D "$dir/pg" -l "$dir/pg/server.log" -w -t 30 \
        -o "-p $pg_port -k $dir/pg -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" \
        >/dev/null || { cat "$dir/pg/server.log" >&2; exit 1; }
    as_pg "$bin/createdb" -h 127.0.0.1 -p "$pg_port" -U artifact artifact

    # moto: an S3 API on 127.0.0.1 and one bucket.
    nohup moto_server -H 127.0.0.1 -p "$s3_port" >"$dir/moto.log" 2>&1 &
    echo $! >"$dir/moto.pid"
    python3 - "$s3_port" <<'EOF'
import sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/artifact-test"
for _ in range(100):
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="PUT"), timeout=2)
        sys.exit(0)
    except Exception as e:
        err = e
        time.sleep(0.1)
sys.exit(f"services.sh: moto did not come up: {err}")
EOF

    cat >"$dir/env" <<EOF
export ARTIFACT_TEST_POSTGRES='postgres://artifact@127.0.0.1:$pg_port/artifact'
export ARTIFACT_TEST_S3='s3://artifact-test/ci?endpoint=http://127.0.0.1:$s3_port&region=us-east-1'
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
EOF
    if [ -n "$owner" ]; then
        nohup bash -c "while kill -0 $owner 2>/dev/null; do sleep 1; done; bash '$0' stop --dir '$dir'" \
            >/dev/null 2>&1 &
        echo $! >"$dir/watchdog.pid"
    fi
    cat "$dir/env"
}

case "$cmd" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: services.sh start|stop [--dir DIR] [--owner PID]" >&2; exit 2 ;;
esac
