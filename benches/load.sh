#!/usr/bin/env bash
# Loopback load run: the same handler bare and behind PaymentLayer (402),
# measured with wrk in one run and reported as ratios to the bare handler.
#
# Usage: benches/load.sh [DURATION_SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

duration=${1:-10}
connections=${2:-64}
port=${PORT:-3100}

if ! command -v wrk >/dev/null; then
    echo "installing wrk"
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

cargo build --release --quiet --example load_target
ADDR="127.0.0.1:$port" target/release/examples/load_target >/dev/null &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$port/bare" && break
    sleep 0.1
done

# wrk prints latency percentiles with --latency; keep requests/s and p99.
run() {
    local out rps p99
    out=$(wrk -t2 -c"$connections" -d"${duration}s" --latency "http://127.0.0.1:$port$1")
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    echo "$rps $p99"
}

read -r bare_rps bare_p99 < <(run /bare)
read -r paid_rps paid_p99 < <(run /paid)
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/paid")

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "wrk: 2 threads, $connections connections, ${duration}s per route (server and wrk share the machine)"
printf '%-22s %12s %10s %8s\n' route 'requests/s' p99 ratio
printf '%-22s %12s %10s %8s\n' 'bare handler' "$bare_rps" "$bare_p99" 1.00
printf '%-22s %12s %10s %8.2f\n' "PaymentLayer ($status)" "$paid_rps" "$paid_p99" "$(awk -v a="$paid_rps" -v b="$bare_rps" 'BEGIN {print a / b}')"
