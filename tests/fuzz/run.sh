#!/usr/bin/env bash
# Runs one libFuzzer target of tests/fuzz and reports in TAP:
#   ok 1 - replay resp: 15 corpus, 2 regression inputs
#   ok 2 - fuzz resp 15s, 123456 execs
#   1..2
# Step 1 runs every seed (corpus/NAME/) and kept crash input
# (regressions/NAME/) once; step 2 fuzzes for SECONDS starting from them.
# A crashing, leaking or hanging input is written to a work directory
# outside the repository and its path is printed in the "not ok" line;
# once the bug is fixed, copy it to tests/fuzz/regressions/NAME/.
#
# Usage:
#   tests/fuzz/run.sh NAME [SECONDS]
#       A campaign by hand (default 600 s). Configures build-fuzz
#       (CC=clang-14 -Dfuzzing=true) if needed and builds the target; the
#       grown corpus is kept in build-fuzz/fuzz-work/NAME/ for the next run.
#   tests/fuzz/run.sh --bin PATH NAME [SECONDS]
#       What the 'fuzz' meson suite runs (default 15 s); works in a fresh
#       temporary directory, removed unless something was found.
# NAME is one of: resp logcmd peer snapshot http.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

bin=
if [ "${1:-}" = --bin ]; then
    bin=$2
    shift 2
fi
name=${1:?usage: run.sh [--bin PATH] NAME [SECONDS]}
case "$name" in
    resp | logcmd | peer | snapshot) extra=() ;;
    # Room for a header block past SRV_HTTP_MAX_HEADER_BYTES (431).
    http) extra=(-max_len=20480) ;;
    *)
        echo "run.sh: unknown target '$name'" >&2
        exit 2
        ;;
esac

if [ -z "$bin" ]; then
    secs=${2:-600}
    build=${FUZZ_BUILD:-$root/build-fuzz}
    if [ ! -f "$build/build.ninja" ]; then
        CC=clang-14 meson setup "$build" -Dfuzzing=true ||
            exit 1
    fi
    ninja -C "$build" "tests/fuzz/fuzz_$name" || exit 1
    bin=$build/tests/fuzz/fuzz_$name
    work=$build/fuzz-work/$name
    keep_work=1
else
    secs=${2:-15}
    work=$(mktemp -d "${TMPDIR:-/tmp}/raftkv-fuzz-$name.XXXXXX") || exit 1
    keep_work=0
fi
mkdir -p "$work/corpus"
log=$work/fuzz.log
opts=(-rss_limit_mb=1024 -timeout=5 "${extra[@]}" "-artifact_prefix=$work/")

dirs=()
inputs=()
counts=()
for d in "$here/corpus/$name" "$here/regressions/$name"; do
    n=0
    if [ -d "$d" ]; then
        dirs+=("$d")
        while IFS= read -r -d '' f; do
            inputs+=("$f")
            n=$((n + 1))
        done < <(find "$d" -maxdepth 1 -type f ! -name '.*' -print0 | sort -z)
    fi
    counts+=("$n")
done

failed=0

# Prints the end of the log as TAP diagnostics.
diag() {
    grep -E 'ERROR|SUMMARY|check failed|runtime error|^    #[0-9]' "$log" |
        head -n 40 | sed 's/^/# /'
}

# Step 1: every kept input, once.
what="replay $name: ${counts[0]} corpus, ${counts[1]} regression inputs"
if [ ${#inputs[@]} -eq 0 ]; then
    echo "ok 1 - $what"
elif "$bin" "${opts[@]}" "${inputs[@]}" >"$log" 2>&1; then
    echo "ok 1 - $what"
else
    bad=$(grep -o 'Running: .*' "$log" | tail -n 1 | cut -d' ' -f2-)
    echo "not ok 1 - $what: ${bad:-?} fails"
    diag
    failed=1
fi

# Step 2: fuzz for a bounded time.
start=$(date +%s)
"$bin" "${opts[@]}" -max_total_time="$secs" -print_final_stats=1 \
    "$work/corpus" "${dirs[@]}" >"$log" 2>&1
rv=$?
elapsed=$(($(date +%s) - start))
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
if [ $rv -eq 0 ]; then
    echo "ok 2 - fuzz $name ${elapsed}s, ${execs:-?} execs"
else
    found=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    echo "not ok 2 - fuzz $name ${elapsed}s, ${execs:-?} execs: exit $rv," \
        "input saved to ${found:-(none; see $log)}"
    diag
    echo "# full log: $log"
    failed=1
fi
echo "1..2"

if [ $failed -eq 0 ] && [ $keep_work -eq 0 ]; then
    rm -rf "$work"
fi
exit $failed
