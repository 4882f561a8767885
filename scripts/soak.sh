#!/usr/bin/env bash
# Soak: one `tether serve` under every kind of traffic at once for DURATION seconds
# (examples/soak_traffic.rs: closed-loop calls, connections opened and closed, idle connections
# past the idle timeout, pipelined calls, hostile bytes, slow readers; the server recycles
# connections with --max-requests), sampling its RSS, open fds and threads every second.
#
#   scripts/soak.sh [DURATION_SECONDS]      (default 60; run it for hours by hand)
#
# Fails if a well-formed call fails, if the server logs a panic or does not drain cleanly, or if
# RSS, fds or threads keep growing: the least-squares slope over the second half, projected
# over that half, must stay below max(10% of the median, a floor of 8 MiB / 32 fds / 32
# threads). Loopback only; the load is paced and stops by itself.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
duration=${1:-60}

cargo build --quiet --bin tether --example soak_traffic
work=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        { kill -KILL "$server_pid" && wait "$server_pid"; } 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

idle_ms=2000
# 500 requests: connections of the busy loops recycle every fraction of a second.
# 1 s request and write timeouts: hostile partial frames and slow readers are cut quickly.
"$root/target/debug/tether" serve --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
    --idle-timeout "${idle_ms}ms" --max-requests 500 --request-timeout 1s --write-timeout 1s \
    >"$work/serve.out" 2>"$work/serve.log" &
server_pid=$!
for _ in $(seq 1 250); do
    grep -q '^listening on ' "$work/serve.out" 2>/dev/null && break
    sleep 0.02
done
addr=$(sed -n 's/^listening on //p' "$work/serve.out")
admin=$(sed -n 's|^admin on http://||p' "$work/serve.out")
[ -n "$addr" ] || { echo "FAIL: server did not start" >&2; cat "$work/serve.log" >&2; exit 1; }
echo "soak: ${duration}s against $addr (pid $server_pid)"

sample() {
    local rss threads fds
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$server_pid/status")
    threads=$(awk '/^Threads:/ { print $2 }' "/proc/$server_pid/status")
    fds=$(find "/proc/$server_pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    echo "$1 $rss $fds $threads"
}

"$root/target/debug/examples/soak_traffic" "$addr" --seconds "$duration" \
    --idle-timeout-ms "$idle_ms" >"$work/traffic.json" 2>"$work/traffic.log" &
traffic_pid=$!
echo "second rss_kib fds threads" >"$work/samples.txt"
second=0
while kill -0 "$traffic_pid" 2>/dev/null; do
    sample "$second" >>"$work/samples.txt"
    second=$((second + 1))
    sleep 1
done
traffic_status=0
wait "$traffic_pid" || traffic_status=$?
sample "$second" >>"$work/samples.txt"
metrics=$(curl -fsS "http://$admin/metrics" || true)

kill -TERM "$server_pid"
server_status=0
wait "$server_pid" || server_status=$?
server_pid=""

failed=0
echo "traffic: $(cat "$work/traffic.json")"
if [ "$traffic_status" -ne 0 ]; then
    echo "FAIL: well-formed calls failed:" >&2
    head -10 "$work/traffic.log" >&2
    failed=1
fi
if [ "$server_status" -ne 0 ]; then
    echo "FAIL: the server exited $server_status after SIGTERM" >&2
    failed=1
fi
if grep -i 'panicked' "$work/serve.log"; then
    echo "FAIL: the server panicked" >&2
    failed=1
fi
echo "$metrics" | grep -E '^tether_connections_closed_total|^tether_requests_total\{service="Echo",method="echo",outcome="ok"\}' |
    sed 's/^/  /' || true
grep 'drained ' "$work/serve.log" | sed 's/^.*drained/  server drained/' || true

python3 - "$work/samples.txt" <<'EOF' || failed=1
import sys
rows = [list(map(int, line.split())) for line in open(sys.argv[1]).read().splitlines()[1:]]
if len(rows) < 6:
    print("FAIL: too few samples", file=sys.stderr)
    sys.exit(1)
half = rows[len(rows) // 2:]
failed = False
for column, name, floor in ((1, "rss_kib", 8192), (2, "fds", 32), (3, "threads", 32)):
    values = [row[column] for row in rows]
    xs = [row[0] for row in half]
    ys = [row[column] for row in half]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    growth = slope * (xs[-1] - xs[0])
    median = sorted(values)[len(values) // 2]
    limit = max(0.10 * median, floor)
    verdict = "ok" if growth < limit else "GROWING"
    print(f"  {name:8} start {values[0]:>7} end {values[-1]:>7} min {min(values):>7} "
          f"max {max(values):>7}  second-half slope {slope:+.2f}/s "
          f"(+{growth:.0f} over it, limit {limit:.0f}) {verdict}")
    failed |= growth >= limit
sys.exit(1 if failed else 0)
EOF

if [ "$failed" -ne 0 ]; then
    echo "soak: FAILED"
    exit 1
fi
echo "soak: passed"
