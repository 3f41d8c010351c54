#!/usr/bin/env bash
# The long Jepsen-style campaign: random seeds over every scenario in
# harness.py (registers, counters, appends; kill -9, SIGSTOP, transfers,
# partitions), alternating 3- and 5-node clusters, until SECONDS (default
# 1800) have passed; then a summary with the seed and kept artifacts of
# every failing run. Run as root for partitions (network namespaces).
#
#   tests/jepsen/campaign.sh 1800            # 30 minutes, 60 s of load per run
#   tests/jepsen/campaign.sh 600 30          # 10 minutes, 30 s per run
#
# The server is $RAFTKV_SERVER, else build/server/raftkv-server. Each run's
# output goes to a log in the campaign directory printed at the start.
set -u

here=$(cd "$(dirname "$0")" && pwd)
total=${1:-1800}
load=${2:-60}
export RAFTKV_SERVER=${RAFTKV_SERVER:-$here/../../build/server/raftkv-server}
if [ ! -x "$RAFTKV_SERVER" ]; then
    echo "campaign.sh: no server at $RAFTKV_SERVER (build first or set RAFTKV_SERVER)" >&2
    exit 2
fi
py=/usr/bin/python3
mapfile -t scenarios < <("$py" -c "import sys; sys.path.insert(0, '$here')
import harness; print('\n'.join(sorted(harness.SCENARIOS)))")
out=$(mktemp -d /tmp/raftkv-jepsen-campaign-XXXXXX)
echo "campaign: ${total}s, ${load}s of load per run, logs in $out"

end=$((SECONDS + total))
runs=0 passed=0 failed=0 unknown=0
failures=()
while [ $((end - SECONDS)) -ge $((load + 20)) ]; do
    scen=${scenarios[$((runs % ${#scenarios[@]}))]}
    nodes=$(( (runs / ${#scenarios[@]}) % 2 == 0 ? 3 : 5 ))
    seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
    log="$out/$(printf %03d "$runs")-$scen-n$nodes-$seed.log"
    "$py" "$here/harness.py" --scenario "$scen" --nodes "$nodes" --seed "$seed" \
        --time "$load" >"$log" 2>&1
    rc=$?
    runs=$((runs + 1))
    verdict=$(sed -n 's/^RESULT \([a-z]*\) .*/\1/p' "$log" | tail -n1)
    case "$verdict" in
        ok) passed=$((passed + 1)) ;;
        unknown) unknown=$((unknown + 1)) ;;
        *) failed=$((failed + 1)); failures+=("$scen nodes=$nodes seed=$seed rc=$rc: $log") ;;
    esac
    summary=$(sed -n 's/^checked //p' "$log" | head -n1)
    echo "run $runs: ${verdict:-error} $scen nodes=$nodes seed=$seed: ${summary:-see $log}"
done

echo "campaign: $runs runs, $passed passed, $failed failed, $unknown unknown (search bound)"
for f in "${failures[@]+"${failures[@]}"}"; do
    echo "FAILED $f"
done
[ "$failed" -eq 0 ]
