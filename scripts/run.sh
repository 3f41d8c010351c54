#!/usr/bin/env bash
# Builds raftkv (installing its dependencies first when run as root on a
# fresh Debian 12) and starts a single-node server with the embedded
# defaults: RESP on 127.0.0.1:6379, data in ./raftkv-data. Extra arguments
# go to raftkv-server (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -eq 0 ]; then
    bash scripts/setup.sh >&2
fi
if [ ! -f build/build.ninja ]; then
    meson setup build -Dbuildtype=release >&2
fi
ninja -C build server/raftkv-server >&2
exec build/server/raftkv-server "$@"
