#!/usr/bin/env bash
# raftkv vs redis-server (durable: appendonly yes, appendfsync always),
# side by side in one run on free 127.0.0.1 ports. See bench/README.md.
#
# usage: bench/run.sh                 build (release) if needed, then run
#        RAFTKV_SERVER=path bench/run.sh   use this binary, no build
#        N=200000 KEYS=1000000 BUDGET=280 bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

for tool in redis-server redis-cli redis-benchmark; do
    command -v "$tool" >/dev/null || { echo "bench: $tool not found (apt-get install redis-server redis-tools)"; exit 2; }
done

if [ -z "${RAFTKV_SERVER:-}" ]; then
    dir=${BUILD_DIR:-$root/build-bench}
    if [ ! -f "$dir/build.ninja" ]; then
        echo "bench: configuring a release build in $dir"
        log=$(mktemp)
        meson setup "$dir" -Dbuildtype=release -Dtests=disabled >"$log" 2>&1 \
            || { cat "$log"; rm -f "$log"; exit 1; }
        rm -f "$log"
    fi
    echo "bench: ninja -C $dir server/raftkv-server"
    ninja -C "$dir" server/raftkv-server >"$dir/bench-build.log" 2>&1 \
        || { tail -n 40 "$dir/bench-build.log"; exit 1; }
    RAFTKV_SERVER=$dir/server/raftkv-server
fi

# bench.py kills every server it started on exit (normal, error or signal);
# timeout bounds the whole run even if something hangs.
exec timeout -k 10 "${HARD_LIMIT:-300}" /usr/bin/python3 "$root/bench/bench.py" "$RAFTKV_SERVER"
