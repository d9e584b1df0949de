#!/usr/bin/env bash
# wrk on loopback against every route of src/lib.rs in one run: a bare
# handler, a canned 402 (the bytes of ours, no payment code), tower-mpp and
# the `mpp` crate (each through its tower layer and its axum extractor)
# answering 402 and serving paid proof requests. The routes are run in
# turn, ROUNDS times over (so that drift of the machine hits all of them);
# prints the median requests/s and p99 latency of each, as ratios to the
# bare handler's medians, and the range of the per-round ratios.
#
# Usage: benches/compare/load.sh [SECONDS_PER_RUN] [CONNECTIONS]
#   ROUNDS  runs per route (default 3)
#   PORT    where the server listens (default 3200)
#   RATE    credentials signed per second of run, per proof route (default
#           15000); a run that outlasts them reports refused requests
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

duration=${1:-5}
connections=${2:-64}
rounds=${ROUNDS:-3}
port=${PORT:-3200}
rate=${RATE:-15000}
threads=2
base="http://127.0.0.1:$port"

if ! command -v wrk >/dev/null; then
    echo "wrk is missing: installing it with apt-get"
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

cargo build --release --quiet --bin load_server
bin="${CARGO_TARGET_DIR:-target}/release/load_server"

work=$(mktemp -d)
server=
cleanup() {
    if [[ -n $server ]]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$bin" serve "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do
    curl -s -o /dev/null "$base/bare" && break
    kill -0 "$server" 2>/dev/null || { cat "$work/server.log"; exit 1; }
    sleep 0.1
done

status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

# run PATH [CREDENTIALS]: one wrk run; prints requests/s, p99 in ms, responses
# over 399 and socket errors.
run() {
    local args=() out
    [[ $# -gt 1 ]] && args=(-- "$2" "$threads")
    out=$(wrk -t"$threads" -c"$connections" -d"${duration}s" -s load.lua "$base$1" "${args[@]}")
    awk '/^result/ {printf "%.0f %.2f %d %d\n", $2 / $3, $4 / 1000, $5, $6}' <<<"$out"
}

routes=(/bare /bare/402 /ours/layer/paid /ours/axum/paid /mpp/layer/paid /mpp/axum/paid
    /ours/layer/proof /ours/axum/proof /mpp/layer/proof /mpp/axum/proof)
declare -A rps p99 ratios code notes

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wrk: $threads threads, $connections connections, $rounds rounds of ${duration}s per route; server and wrk share the machine"
for round in $(seq "$rounds"); do
    for path in "${routes[@]}"; do
        if [[ $path == */proof ]]; then
            # One credential per request: each side claims a challenge once.
            "$bin" credentials "$path" $((rate * duration + 1)) >"$work/credentials"
            code[$path]=$(status -H "authorization: $(head -1 "$work/credentials")" "$base$path")
            sed -i 1d "$work/credentials"
            read -r r p refused errors < <(run "$path" "$work/credentials")
            ((refused == 0)) || notes[$path]+=" $refused refused (raise RATE?)"
            rm -f "$work/credentials"
        else
            code[$path]=$(status "$base$path")
            read -r r p refused errors < <(run "$path")
        fi
        ((errors == 0)) || notes[$path]+=" $errors socket errors"
        rps[$path]+=" $r"
        p99[$path]+=" $p"
        [[ $path == /bare ]] && bare=$r
        ratios[$path]+=" $(awk -v a="$r" -v b="$bare" 'BEGIN {printf "%.2f", a / b}')"
    done
done

median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
range() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {print lo "-" hi}'; }

bare_rps=$(median "${rps[/bare]}")
bare_p99=$(median "${p99[/bare]}")
printf '%-18s %6s %11s %8s %9s %10s %9s %s\n' route status requests/s p99_ms rps/bare 'per round' p99/bare notes
for path in "${routes[@]}"; do
    r=$(median "${rps[$path]}")
    p=$(median "${p99[$path]}")
    printf '%-18s %6s %11s %8s %9.2f %10s %9.2f %s\n' "$path" "${code[$path]}" "$r" "$p" \
        "$(awk -v a="$r" -v b="$bare_rps" 'BEGIN {print a / b}')" "$(range "${ratios[$path]}")" \
        "$(awk -v a="$p" -v b="$bare_p99" 'BEGIN {print a / b}')" "${notes[$path]:-}"
done
echo "medians over $rounds rounds; 'per round' is the range of each round's ratio to that round's bare run. load after: $(cut -d' ' -f1-3 /proc/loadavg)"
