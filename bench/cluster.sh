#!/usr/bin/env bash
# bench/cluster.sh: a 3-node raftkv cluster against a 3-member etcd cluster,
# both on loopback, in the same run and at the same client concurrency.
#
#   bench/cluster.sh                      # defaults: 2 rounds of 6 s phases
#   ROUNDS=1 PHASE_SECS=10 bench/cluster.sh
#
# Measures (raftkv with redis-benchmark, etcd with wrk on its v3 JSON gateway):
#   - write throughput on the leader and through a follower (SET vs put),
#   - linearizable read throughput on the leader and on a follower (GET vs
#     range without "serializable"), and a single-node raftkv GET baseline,
#   - the leader's verify probe latency: one client doing sequential GETs on
#     an idle cluster (p50/p99), next to etcd's and a single node's.
# raftkv and etcd phases alternate (and the order flips every round) so that
# machine noise is shared fairly; the final table gives the ratios and the
# targets. Everything runs under a temp dir that is removed on exit, and every
# process started here is stopped on exit.
#
# Environment:
#   RAFTKV_SERVER  server binary (default: build-bench/server/raftkv-server,
#                  built with meson/ninja if missing)
#   ROUNDS         measurement rounds, averaged (default 2)
#   PHASE_SECS     seconds per throughput phase (default 6)
#   CONCURRENCY    clients for throughput phases, both systems (default 50)
#   PROBE_N        sequential GETs for the probe (default 20000)
#   BENCH_TMP      parent of the temp dir (default $TMPDIR or /tmp); keep it on
#                  a real disk: both systems fsync and tmpfs would hide that
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

ROUNDS=${ROUNDS:-2}
PHASE_SECS=${PHASE_SECS:-6}
CONC=${CONCURRENCY:-50}
PROBE_N=${PROBE_N:-20000}
WRITE_KEYSPACE=100000 # SET/put keys: key:000000000000 .. key:000000099999
READ_KEYSPACE=1000    # GET/range keys, all written before the read phases
VALUE_BYTES=32

log() { printf '[cluster.sh %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- tools ---
need_pkgs=()
command -v redis-benchmark >/dev/null || need_pkgs+=(redis-tools)
command -v redis-cli >/dev/null || need_pkgs+=(redis-tools)
command -v wrk >/dev/null || need_pkgs+=(wrk)
command -v etcd >/dev/null || need_pkgs+=(etcd-server)
command -v etcdctl >/dev/null || need_pkgs+=(etcd-client)
command -v curl >/dev/null || need_pkgs+=(curl)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        die "missing packages: ${need_pkgs[*]} (run as root to install them)"
    fi
    log "installing ${need_pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${need_pkgs[@]}" >/dev/null
fi

SERVER=${RAFTKV_SERVER:-$root/build-bench/server/raftkv-server}
if [ ! -x "$SERVER" ]; then
    [ -z "${RAFTKV_SERVER:-}" ] || die "$SERVER is not executable"
    log "building $SERVER"
    if [ ! -d "$root/build-bench" ]; then
        meson setup "$root/build-bench" "$root" -Dbuildtype=release -Dtests=disabled >/dev/null
    fi
    ninja -C "$root/build-bench" server/raftkv-server >/dev/null
fi

# ------------------------------------------------------ temp and cleanup ---
tmp=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/raftkv-cluster-bench.XXXXXX")
pids=()
cleanup() {
    local rc=$? p
    trap - EXIT INT TERM HUP PIPE
    set +e
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    if [ "$rc" -ne 0 ] && [ -z "${KEEP_TMP:-}" ]; then
        log "failed (rc=$rc); last lines of the server logs:"
        for f in "$tmp"/*.log; do
            [ -f "$f" ] && { echo "== $f" >&2; tail -n 5 "$f" >&2; }
        done
    fi
    if [ -n "${KEEP_TMP:-}" ]; then log "kept $tmp"; else rm -rf "$tmp"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE

# Free TCP ports on 127.0.0.1, below the ephemeral range so that no outgoing
# connection takes one between the check and the bind.
# free_port sets $port (not echoed: a subshell would forget what it handed out).
declare -A taken=()
listening=" $(ss -Htln 2>/dev/null | awk '{ sub(/.*:/, "", $4); printf "%s ", $4 }') "
free_port() {
    while :; do
        port=$((20000 + RANDOM % 12000))
        [ -z "${taken[$port]:-}" ] || continue
        [[ "$listening" == *" $port "* ]] && continue
        taken[$port]=1
        return
    done
}

# ------------------------------------------------------------ raftkv ---
declare -a R_REDIS R_PEER R_HTTP R_PID
cluster_arg=""
for i in 1 2 3; do
    free_port; R_PEER[i]=$port; free_port; R_REDIS[i]=$port; free_port; R_HTTP[i]=$port
    cluster_arg+="${cluster_arg:+,}$i=127.0.0.1:${R_PEER[$i]}"
done
for i in 1 2 3; do
    "$SERVER" --id "$i" --cluster "$cluster_arg" --data-dir "$tmp/raftkv$i" \
        --redis "127.0.0.1:${R_REDIS[$i]}" --peer "127.0.0.1:${R_PEER[$i]}" \
        --http "127.0.0.1:${R_HTTP[$i]}" --log-level warn >"$tmp/raftkv$i.log" 2>&1 &
    R_PID[i]=$!; pids+=($!)
done
free_port; S_REDIS=$port; free_port; S_PEER=$port; free_port; S_HTTP=$port
"$SERVER" --id 1 --data-dir "$tmp/single" --redis "127.0.0.1:$S_REDIS" \
    --peer "127.0.0.1:$S_PEER" --http "127.0.0.1:$S_HTTP" --log-level warn \
    >"$tmp/single.log" 2>&1 &
S_PID=$!; pids+=($!)

# ------------------------------------------------------------- etcd ---
declare -a E_CLIENT E_PEER E_PID E_URL
initial_cluster=""
for i in 1 2 3; do
    free_port; E_PEER[i]=$port; free_port; E_CLIENT[i]=$port
    E_URL[i]="http://127.0.0.1:${E_CLIENT[$i]}"
    initial_cluster+="${initial_cluster:+,}e$i=http://127.0.0.1:${E_PEER[$i]}"
done
for i in 1 2 3; do
    # etcd's defaults otherwise, including an fsync per raft batch and per
    # backend commit: raftkv fsyncs every entry, so durability is equal.
    etcd --name "e$i" --data-dir "$tmp/etcd$i" \
        --listen-client-urls "${E_URL[$i]}" --advertise-client-urls "${E_URL[$i]}" \
        --listen-peer-urls "http://127.0.0.1:${E_PEER[$i]}" \
        --initial-advertise-peer-urls "http://127.0.0.1:${E_PEER[$i]}" \
        --initial-cluster "$initial_cluster" --initial-cluster-state new \
        --initial-cluster-token "bench-$$" \
        --logger zap --log-level warn >"$tmp/etcd$i.log" 2>&1 &
    E_PID[i]=$!; pids+=($!)
done

# ---------------------------------------------------- wait for leaders ---
raft_field() { # port field
    redis-cli -p "$1" info raft 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"
}
R_LEADER=""
for _ in $(seq 150); do
    ids=""
    for i in 1 2 3; do ids+="$(raft_field "${R_REDIS[$i]}" leader_id) "; done
    # shellcheck disable=SC2086 # split the three ids
    set -- $ids
    if [ $# -eq 3 ] && [ "$1" = "$2" ] && [ "$2" = "$3" ] && [ "$1" != 0 ]; then
        if [ "$(raft_field "${R_REDIS[$1]}" role)" = leader ]; then R_LEADER=$1; break; fi
    fi
    sleep 0.1
done
[ -n "$R_LEADER" ] || die "raftkv cluster elected no leader in 15 s"
R_FOLLOWER=$(( R_LEADER % 3 + 1 ))
for _ in $(seq 100); do
    [ "$(raft_field "$S_REDIS" role)" = leader ] && break
    sleep 0.1
done
[ "$(raft_field "$S_REDIS" role)" = leader ] || die "single raftkv node did not become leader"

etcd_status() { # i -> "member_id leader_id"
    curl -s -m 2 -X POST "${E_URL[$1]}/v3/maintenance/status" -d '{}' |
        sed -n 's/.*"member_id":"\([0-9]*\)".*"leader":"\([0-9]*\)".*/\1 \2/p'
}
E_LEADER=""
for _ in $(seq 150); do
    for i in 1 2 3; do
        read -r mid lid _ <<<"$(etcd_status "$i") x" || true
        if [ -n "$mid" ] && [ "$mid" = "$lid" ]; then E_LEADER=$i; fi
    done
    [ -n "$E_LEADER" ] && break
    sleep 0.1
done
[ -n "$E_LEADER" ] || die "etcd cluster elected no leader in 15 s"
E_FOLLOWER=$(( E_LEADER % 3 + 1 ))
log "raftkv leader n$R_LEADER (:${R_REDIS[$R_LEADER]}), follower n$R_FOLLOWER; etcd leader e$E_LEADER (:${E_CLIENT[$E_LEADER]}), follower e$E_FOLLOWER; data under $tmp"

# ----------------------------------------------------------- prefill ---
# READ_KEYSPACE keys with VALUE_BYTES-byte values on both systems, so every
# GET and range returns a value.
value=$(printf "%${VALUE_BYTES}s" "" | tr ' ' x)
resp_sets() {
    local k key
    for ((k = 0; k < READ_KEYSPACE; k++)); do
        printf -v key 'key:%012d' "$k"
        # shellcheck disable=SC2016 # RESP's $ is literal
        printf '*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n' \
            "${#key}" "$key" "${#value}" "$value"
    done
}
for port in "${R_REDIS[$R_LEADER]}" "$S_REDIS"; do
    resp_sets | redis-cli -p "$port" --pipe >"$tmp/prefill.out" 2>&1 ||
        die "raftkv prefill on :$port failed: $(cat "$tmp/prefill.out")"
done
# etcd: one etcdctl txn per 100 puts (the default --max-txn-ops is 128).
for ((k = 0; k < READ_KEYSPACE; k += 100)); do
    {
        echo # no compares
        for ((j = k; j < k + 100 && j < READ_KEYSPACE; j++)); do
            printf 'put key:%012d %s\n' "$j" "$value"
        done
        printf '\n\n' # end of success ops; no failure ops
    } | ETCDCTL_API=3 etcdctl --endpoints="127.0.0.1:${E_CLIENT[$E_LEADER]}" txn \
        >"$tmp/prefill.out" 2>&1 || die "etcd prefill failed: $(cat "$tmp/prefill.out")"
    grep -q '^SUCCESS' "$tmp/prefill.out" || die "etcd prefill: $(cat "$tmp/prefill.out")"
done
# Check a sample on each system (range_end "\0" = every key >= key, count only).
cnt=$(curl -s -X POST "${E_URL[$E_FOLLOWER]}/v3/kv/range" \
    -d "{\"key\":\"$(printf 'key:' | base64 -w0)\",\"range_end\":\"$(printf 'key;' | base64 -w0)\",\"count_only\":true}" |
    sed -n 's/.*"count":"\([0-9]*\)".*/\1/p')
[ "${cnt:-0}" -ge "$READ_KEYSPACE" ] || die "etcd holds ${cnt:-0} keys after prefill"
last=$(printf 'key:%012d' $((READ_KEYSPACE - 1)))
[ "$(redis-cli -p "${R_REDIS[$R_FOLLOWER]}" get "$last")" = "$value" ] ||
    die "raftkv follower does not see the prefill"
[ "$(redis-cli -p "$S_REDIS" get "$last")" = "$value" ] || die "single-node prefill failed"

# ------------------------------------------------------ measurements ---
CLK_TCK=$(getconf CLK_TCK)
NCPU=$(nproc)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
cpu_ticks() { # pid -> utime+stime (ticks)
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
machine_ticks() { # -> "busy total"
    awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}
# CPU% per process over a phase, written by measure() into $cpu_note.
cpu_watch=()
cpu_begin() { # pids...
    cpu_watch=("$@"); cpu_t0=(); local p
    for p in "$@"; do cpu_t0+=("$(cpu_ticks "$p")"); done
    cpu_m0=$(machine_ticks); cpu_s0=$(date +%s.%N)
}
cpu_end() { # labels... (same order as cpu_begin's pids)
    local labels=("$@") s1 m1 el i t1 out="" busy0 tot0 busy1 tot1
    s1=$(date +%s.%N); m1=$(machine_ticks)
    el=$(awk -v a="$cpu_s0" -v b="$s1" 'BEGIN { print b - a }')
    for i in "${!cpu_watch[@]}"; do
        t1=$(cpu_ticks "${cpu_watch[$i]}")
        out+=$(awk -v a="${cpu_t0[$i]}" -v b="$t1" -v el="$el" -v hz="$CLK_TCK" \
            -v l="${labels[$i]}" 'BEGIN { printf "%s %3.0f%%  ", l, (b - a) / hz / el * 100 }')
        out+=" "
    done
    read -r busy0 tot0 <<<"$cpu_m0"; read -r busy1 tot1 <<<"$m1"
    # machine: all cores busy (not idle, not iowait), as % of one core, so
    # that "machine - nodes" is what the load generator and everything else
    # on the host used.
    out+=$(awk -v b0="$busy0" -v t0="$tot0" -v b1="$busy1" -v t1="$tot1" -v n="$NCPU" \
        'BEGIN { printf "| machine %3.0f%% of %d00%%", (b1 - b0) / (t1 - t0) * 100 * n, n }')
    cpu_note=$out
}

declare -A SUM CNT
record() { # metric value
    SUM[$1]=$(awk -v a="${SUM[$1]:-0}" -v b="$2" 'BEGIN { print a + b }')
    CNT[$1]=$(( ${CNT[$1]:-0} + 1 ))
}
avg() { awk -v s="${SUM[$1]:-0}" -v n="${CNT[$1]:-0}" 'BEGIN { if (n) print s / n; else print "nan" }'; }

# redis-benchmark has no duration option: size -n from a short calibration
# run so that the phase lasts about PHASE_SECS.
rb_csv() { # port test n clients -> CSV data line (rps, avg, min, p50, p95, p99, max)
    timeout $((PHASE_SECS * 4 + 20)) redis-benchmark -p "$1" -t "$2" -n "$3" -c "$4" \
        -r "$5" -d "$VALUE_BYTES" --csv 2>"$tmp/rb.err" | tr -d '"' | awk -F, 'NR == 2' ||
        die "redis-benchmark -p $1 -t $2 failed: $(cat "$tmp/rb.err")"
}
rb_rate() { # port test keyspace -> requests per second over ~PHASE_SECS
    local cal n line
    cal=$(rb_csv "$1" "$2" 3000 "$CONC" "$3" | cut -d, -f2)
    n=$(awk -v r="$cal" -v s="$PHASE_SECS" 'BEGIN { n = int(r * s); if (n < 5000) n = 5000; print n }')
    line=$(rb_csv "$1" "$2" "$n" "$CONC" "$3")
    [ -n "$line" ] || die "redis-benchmark -p $1 -t $2 printed no result"
    echo "$line" | cut -d, -f2
}
wrk_rate() { # url script args... -> requests per second
    local url=$1 script=$2 out rps errs; shift 2
    out=$(timeout $((PHASE_SECS + 30)) wrk -t2 -c"$CONC" -d"${PHASE_SECS}s" \
        -s "$script" "$url" -- "$@" 2>&1) || die "wrk $url failed: $out"
    errs=$(sed -n 's/.*Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' <<<"$out")
    [ -z "$errs" ] || die "etcd answered $errs requests with an error status: $out"
    grep -q 'Socket errors' <<<"$out" && log "wrk: $(grep 'Socket errors' <<<"$out")"
    rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' <<<"$out")
    [ -n "$rps" ] || die "wrk printed no rate: $out"
    echo "$rps"
}
to_ms() { # wrk latency ("812.00us", "1.20ms", "2.00s") -> ms
    awk -v v="$1" 'BEGIN { u = v; sub(/^[0-9.]+/, "", u); x = v + 0;
        if (u == "us") x /= 1000; else if (u == "s") x *= 1000; printf "%.3f", x }'
}

R_PIDS=("${R_PID[1]}" "${R_PID[2]}" "${R_PID[3]}")
E_PIDS=("${E_PID[1]}" "${E_PID[2]}" "${E_PID[3]}")
r_labels() { local i; for i in 1 2 3; do [ "$i" = "$R_LEADER" ] && echo "n$i(L)" || echo "n$i"; done; }
e_labels() { local i; for i in 1 2 3; do [ "$i" = "$E_LEADER" ] && echo "e$i(L)" || echo "e$i"; done; }
mapfile -t RL < <(r_labels); mapfile -t EL < <(e_labels)

# One phase: run, record, and log the rate with each node's CPU.
phase() { # metric system(raftkv|etcd|single) command...
    local metric=$1 sys=$2 rate; shift 2
    case $sys in
    raftkv) cpu_begin "${R_PIDS[@]}"; rate=$("$@"); cpu_end "${RL[@]}" ;;
    etcd) cpu_begin "${E_PIDS[@]}"; rate=$("$@"); cpu_end "${EL[@]}" ;;
    single) cpu_begin "$S_PID"; rate=$("$@"); cpu_end single ;;
    esac
    record "$metric" "$rate"
    log "$(printf '%-22s %10.0f req/s   cpu: %s' "$metric" "$rate" "$cpu_note")"
    sleep 1
}

# Probe latency first, while both clusters are idle: one client, sequential
# linearizable reads. A raftkv leader GET waits for one verify round (a
# heartbeat acknowledged by a majority), so its latency bounds the probe's.
log "probe latency: $PROBE_N sequential GETs (one client) per system"
probe=$(rb_csv "${R_REDIS[$R_LEADER]}" get "$PROBE_N" 1 "$READ_KEYSPACE")
P_R50=$(cut -d, -f5 <<<"$probe"); P_R99=$(cut -d, -f7 <<<"$probe")
probe=$(rb_csv "${R_REDIS[$R_FOLLOWER]}" get "$PROBE_N" 1 "$READ_KEYSPACE")
P_F50=$(cut -d, -f5 <<<"$probe"); P_F99=$(cut -d, -f7 <<<"$probe")
probe=$(rb_csv "$S_REDIS" get "$PROBE_N" 1 "$READ_KEYSPACE")
P_S50=$(cut -d, -f5 <<<"$probe"); P_S99=$(cut -d, -f7 <<<"$probe")
out=$(timeout 60 wrk -t1 -c1 -d3s --latency -s "$here/etcd_range.lua" \
    "${E_URL[$E_LEADER]}/v3/kv/range" -- "$READ_KEYSPACE" 2>&1) || die "wrk probe failed: $out"
P_E50=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
P_E99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
log "leader GET p50 $P_R50 ms p99 $P_R99 ms; follower GET p50 $P_F50 p99 $P_F99; single node p50 $P_S50 p99 $P_S99; etcd range p50 $P_E50 p99 $P_E99"

RLp=${R_REDIS[$R_LEADER]}; RFp=${R_REDIS[$R_FOLLOWER]}
ELu=${E_URL[$E_LEADER]}; EFu=${E_URL[$E_FOLLOWER]}
for ((round = 1; round <= ROUNDS; round++)); do
    log "round $round/$ROUNDS (${PHASE_SECS} s phases, $CONC clients)"
    # Pairs (raftkv, etcd) alternate; odd rounds start with raftkv, even
    # rounds with etcd.
    pairs=(
        "set_leader|raftkv|rb_rate $RLp set $WRITE_KEYSPACE"
        "put_leader|etcd|wrk_rate $ELu/v3/kv/put $here/etcd_put.lua $WRITE_KEYSPACE $VALUE_BYTES"
        "set_follower|raftkv|rb_rate $RFp set $WRITE_KEYSPACE"
        "put_follower|etcd|wrk_rate $EFu/v3/kv/put $here/etcd_put.lua $WRITE_KEYSPACE $VALUE_BYTES"
        "get_leader|raftkv|rb_rate $RLp get $READ_KEYSPACE"
        "range_leader|etcd|wrk_rate $ELu/v3/kv/range $here/etcd_range.lua $READ_KEYSPACE"
        "get_follower|raftkv|rb_rate $RFp get $READ_KEYSPACE"
        "range_follower|etcd|wrk_rate $EFu/v3/kv/range $here/etcd_range.lua $READ_KEYSPACE"
        "get_single|single|rb_rate $S_REDIS get $READ_KEYSPACE"
    )
    order=(0 1 2 3 4 5 6 7 8)
    [ $((round % 2)) -eq 0 ] && order=(1 0 3 2 8 5 4 7 6)
    for idx in "${order[@]}"; do
        IFS='|' read -r metric sys cmd <<<"${pairs[$idx]}"
        # shellcheck disable=SC2086 # cmd is a word list built above
        phase "$metric" "$sys" $cmd
    done
done

# -------------------------------------------------------------- table ---
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { if (a !~ /^[0-9.]+$/) print "-"; else print (a >= b) ? "yes" : "NO" }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { if (a !~ /^[0-9.]+$/) print "-"; else print (a < b) ? "yes" : "NO" }'; }
fmt() { awk -v a="$1" 'BEGIN { printf "%.0f/s", a }'; }
row() { printf '| %-38s | %-15s | %-23s | %-5s | %-6s | %-4s |\n' "$@"; }

set_l=$(avg set_leader); put_l=$(avg put_leader)
set_f=$(avg set_follower); put_f=$(avg put_follower)
get_l=$(avg get_leader); get_f=$(avg get_follower); get_s=$(avg get_single)
rng_l=$(avg range_leader); rng_f=$(avg range_follower)

echo
echo "load average before: $LOAD0; after: $(cut -d' ' -f1-3 /proc/loadavg) (anything else running shares these cores)"
echo "raftkv 3 nodes vs etcd $(etcd --version | sed -n 's/^etcd Version: //p') 3 members, loopback, $NCPU cores," \
    "$CONC clients, ${VALUE_BYTES}-byte values, mean of $ROUNDS x ${PHASE_SECS} s"
row "metric" "raftkv" "etcd / baseline" "ratio" "target" "met?"
row "--------------------------------------" "---------------" "-----------------------" "-----" "------" "----"
r=$(ratio "$set_l" "$put_l")
row "write, leader (SET vs put)" "$(fmt "$set_l")" "etcd $(fmt "$put_l")" "$r" ">= 2.0" "$(ge "$r" 2.0)"
r=$(ratio "$set_f" "$put_f")
row "write via follower (SET vs put)" "$(fmt "$set_f")" "etcd $(fmt "$put_f")" "$r" "-" "-"
r=$(ratio "$get_l" "$get_s")
row "linearizable GET, leader" "$(fmt "$get_l")" "1-node GET $(fmt "$get_s")" "$r" ">= 0.7" "$(ge "$r" 0.7)"
r=$(ratio "$get_f" "$get_s")
row "linearizable GET, follower" "$(fmt "$get_f")" "1-node GET $(fmt "$get_s")" "$r" ">= 0.5" "$(ge "$r" 0.5)"
r=$(ratio "$get_l" "$rng_l")
row "linearizable read, leader (vs range)" "$(fmt "$get_l")" "etcd $(fmt "$rng_l")" "$r" "-" "-"
r=$(ratio "$get_f" "$rng_f")
row "linearizable read, follower (vs range)" "$(fmt "$get_f")" "etcd $(fmt "$rng_f")" "$r" "-" "-"
row "probe p50 (leader GET, 1 client)" "$P_R50 ms" "etcd $P_E50 ms" "-" "-" "-"
row "probe p99 (leader GET, 1 client)" "$P_R99 ms" "etcd $P_E99 ms" "-" "< 2 ms" "$(lt "$P_R99" 2)"
row "follower GET p50/p99, 1 client" "$P_F50/$P_F99 ms" "1-node $P_S50/$P_S99 ms" "-" "-" "-"
