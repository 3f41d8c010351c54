#!/usr/bin/env bash
# Installs everything raftkv needs to build and test on Debian 12 (bookworm).
# Idempotent; run as root. Enables bookworm-backports from the mirror that the
# machine's own apt sources already name (no host is written here), because
# libraft 0.22.x lives there (bookworm's 0.15.0 has an unsafe commit rule).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: run as root (apt-get install needs it)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive

have_backports() {
    grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null
}

# Find the URI of the main bookworm entry (deb822 first, then one-line form).
debian_uri() {
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        uri=$(awk '
            /^[[:space:]]*$/ { if (u != "" && s ~ /(^| )bookworm( |$)/) { print u; exit } u=""; s=""; next }
            /^URIs:/ { u=$2 }
            /^Suites:/ { $1=""; s=$0 " " }
            END { if (u != "" && s ~ /(^| )bookworm( |$)/) print u }' "$f" | head -n1)
        if [ -n "$uri" ]; then echo "$uri"; return 0; fi
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        uri=$(awk '$1=="deb" && $3=="bookworm" { print $2; exit }' "$f")
        if [ -z "$uri" ]; then
            uri=$(awk '$1=="deb" { for (i=2;i<=NF;i++) if ($(i+1)=="bookworm") { print $i; exit } }' "$f")
        fi
        if [ -n "$uri" ]; then echo "$uri"; return 0; fi
    done
    return 1
}

if ! have_backports; then
    uri=$(debian_uri) || { echo "setup.sh: no bookworm apt source found to derive backports from" >&2; exit 1; }
    cat > /etc/apt/sources.list.d/raftkv-backports.sources <<SRC
Types: deb
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    echo "setup.sh: enabled bookworm-backports from $uri"
fi

pkgs_main=(build-essential pkg-config meson ninja-build libuv1-dev liblz4-dev
    libcriterion-dev redis-server redis-tools python3-redis libhiredis-dev
    curl procps iproute2 clang llvm lsof libhttp-parser-dev
    libclang-rt-14-dev)
pkgs_bp=(libraft-dev)

missing=()
for p in "${pkgs_main[@]}" "${pkgs_bp[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
raft_ok=0
if v=$(dpkg-query -W -f='${Version}' libraft-dev 2>/dev/null); then
    case "$v" in 0.2[2-9]*|0.[3-9]*) raft_ok=1 ;; esac
fi

if [ ${#missing[@]} -gt 0 ] || [ $raft_ok -eq 0 ]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${pkgs_main[@]}" >/dev/null
    apt-get install -y -qq --no-install-recommends -t bookworm-backports "${pkgs_bp[@]}" >/dev/null
fi

# redis-server is used as a reference and by the bench; never leave the
# distro's service running on the default port where tests start their own.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
    systemctl stop redis-server || true
    systemctl disable redis-server >/dev/null 2>&1 || true
fi
pkill -x redis-server 2>/dev/null || true

# The dashboard's browser test: Debian's chromium driven by playwright-core
# from npm (which must not download a browser of its own). Optional: the
# test skips itself when either is missing.
web_missing=()
# A machine may already have node and npm from elsewhere (Debian's npm
# package then conflicts with them): ask for a package only when its
# command is missing.
command -v chromium >/dev/null 2>&1 || web_missing+=(chromium)
command -v node >/dev/null 2>&1 || web_missing+=(nodejs)
command -v npm >/dev/null 2>&1 || web_missing+=(npm)
if [ ${#web_missing[@]} -gt 0 ]; then
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${web_missing[@]}" >/dev/null; } ||
        echo "setup.sh: could not install ${web_missing[*]}; the dashboard test will skip" >&2
fi
here=$(cd "$(dirname "$0")/.." && pwd)
if command -v npm >/dev/null 2>&1 && [ -f "$here/tests/http/package-lock.json" ] &&
   [ ! -f "$here/tests/http/node_modules/playwright-core/package.json" ]; then
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$here/tests/http" --no-audit --no-fund >/dev/null ||
        echo "setup.sh: npm ci in tests/http failed; the dashboard test will skip" >&2
fi

echo "setup.sh: libraft-dev $(dpkg-query -W -f='${Version}' libraft-dev), libuv1-dev $(dpkg-query -W -f='${Version}' libuv1-dev), meson $(meson --version)"
