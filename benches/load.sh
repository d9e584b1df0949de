#!/usr/bin/env bash
# Loopback load run: the same handler bare and behind PaymentLayer (402),
# measured with wrk and reported as ratios to the bare handler. A third
# route replays one 402 of the layer from a bare handler: the cost of the
# 402's bytes on the wire (the server's writes, wrk's reads) without the
# work of issuing a challenge. A fourth fills that 402 in as a template
# with a fresh nonce, `opaque` and id: the least work any fresh 402 takes.
#
# Usage: benches/load.sh [DURATION_SECONDS] [CONNECTIONS] [ROUNDS]
#
# The routes take turns, ROUNDS times (default 3), so that other work on
# the machine weighs on all of them alike; the table gives the median of
# each route's requests/s and of the per-round ratios to the bare handler,
# and the CPU time per request of the server and of wrk (steadier than
# requests/s when other work shares the machine).
# PIN=1 pins the server to CPU 0 and wrk (one thread) to CPU 1, so that
# neither takes the other's core.
# LOAD_TARGET=path runs that load_target binary instead of building one
# (to compare two builds in the same conditions).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

duration=${1:-10}
connections=${2:-64}
rounds=${3:-3}
port=${PORT:-3100}
target_dir=${CARGO_TARGET_DIR:-target}

if ! command -v wrk >/dev/null || [ ! -x /usr/bin/time ]; then
    echo "installing wrk and time"
    apt-get update -qq && apt-get install -y -qq wrk time >/dev/null
fi

binary=${LOAD_TARGET:-}
if [ -z "$binary" ]; then
    cargo build --release --quiet --example load_target
    binary="$target_dir/release/examples/load_target"
fi
server_cpu=() wrk_cpu=() wrk_threads=2 sharing="server and wrk share the machine"
if [ "${PIN:-0}" = 1 ]; then
    server_cpu=(taskset -c 0) wrk_cpu=(taskset -c 1) wrk_threads=1
    sharing="server pinned to CPU 0, wrk to CPU 1"
fi
ADDR="127.0.0.1:$port" "${server_cpu[@]}" "$binary" >/dev/null &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$port/bare" && break
    sleep 0.1
done

# CPU time (user + system, in clock ticks) the server has used so far.
server_ticks() {
    awk '{print $14 + $15}' "/proc/$server/stat"
}
tick_us=$((1000000 / $(getconf CLK_TCK)))

# One wrk run: requests/s, p99, and the CPU time per request (µs) of the
# server and of wrk itself. Both share the two cores, so the CPU time per
# request bounds the throughput more steadily than the requests/s of one
# run on a machine where other work runs too.
run() {
    local out before after
    before=$(server_ticks)
    out=$(/usr/bin/time -f 'wrk-cpu %U %S' "${wrk_cpu[@]}" wrk -t"$wrk_threads" -c"$connections" -d"${duration}s" --latency "http://127.0.0.1:$port$1" 2>&1)
    after=$(server_ticks)
    awk -v ticks=$((after - before)) -v tick_us="$tick_us" '
        /^Requests\/sec/ {rps = $2}
        $1 == "99%" {p99 = $2}
        / requests in / {n = $1}
        $1 == "wrk-cpu" {wrk = ($2 + $3) * 1e6}
        END {printf "%s %s %.2f %.2f\n", rps, p99, ticks * tick_us / n, wrk / n}' <<<"$out"
}

median() {
    sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

# Bytes of one response as wrk reads them: status line, headers, body.
size() {
    curl -s -i "http://127.0.0.1:$port$1" | wc -c
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
routes=(/bare /same-size /floor /paid)
declare -A rps p99 ratios server_us wrk_us
for round in $(seq "$rounds"); do
    declare -A this
    for route in "${routes[@]}"; do
        read -r r p s w < <(run "$route")
        rps[$route]+="$r "
        p99[$route]=$p
        server_us[$route]+="$s "
        wrk_us[$route]+="$w "
        this[$route]=$r
    done
    for route in "${routes[@]}"; do
        ratios[$route]+="$(awk -v a="${this[$route]}" -v b="${this[/bare]}" 'BEGIN {print a / b}') "
    done
    echo "round $round: bare ${this[/bare]}, same-size ${this[/same-size]}, floor ${this[/floor]}, 402 ${this[/paid]} requests/s" >&2
done
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/paid")

med() {
    tr ' ' '\n' <<<"$1" | grep . | median
}
cpu() {
    awk -v s="$(med "${server_us[$1]}")" -v w="$(med "${wrk_us[$1]}")" 'BEGIN {print s + w}'
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "wrk: $wrk_threads threads, $connections connections, ${duration}s per route, $rounds rounds ($sharing)"
echo "load average (1, 5, 15 min): $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after"
echo "medians over the rounds; CPU µs per request: user + system time of the server and of wrk"
printf '%-32s %6s %11s %8s %9s %7s %10s %10s\n' route bytes 'requests/s' ratio 'p99 last' server wrk 'CPU ratio'
for route in "${routes[@]}"; do
    case $route in
        /bare) name='bare handler' ;;
        /same-size) name='bare handler, the 402 replayed' ;;
        /floor) name='the 402 as a filled-in template' ;;
        /paid) name="PaymentLayer ($status)" ;;
    esac
    printf '%-32s %6s %11.0f %8.2f %9s %7.2f %10.2f %10.2f\n' "$name" "$(size "$route")" \
        "$(med "${rps[$route]}")" "$(med "${ratios[$route]}")" "${p99[$route]}" \
        "$(med "${server_us[$route]}")" "$(med "${wrk_us[$route]}")" \
        "$(awk -v a="$(cpu /bare)" -v b="$(cpu "$route")" 'BEGIN {print a / b}')"
done
