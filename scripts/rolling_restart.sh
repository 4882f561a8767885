#!/usr/bin/env bash
# Zero failed calls through rolling restarts, three ways, with load running the whole time:
#
#   1. HAProxy (TCP mode, /readyz checks; the configuration is the one in docs/operations.md,
#      extracted from it) in front of 3 `tether serve`, `tether bench` through it, each
#      instance restarted in turn with SIGTERM (--drain-announce 1s);
#   2. no load balancer: a tether Pool over the 3 endpoints (examples/pool_load.rs), each
#      instance restarted in turn;
#   3. one instance replaced in place with --reuse-port: the new process binds beside the old
#      one, then the old one drains.
#
#   scripts/rolling_restart.sh
#
# Each variant prints calls, errors by kind, calls/s of a baseline run before any restart and
# of the run across the restarts, and p99 and max latency. Exits non-zero on any failed call,
# an unclean drain or a restart that outlasted its load. Loopback only; installs HAProxy from
# Debian when it is missing. Uses the debug build (what the test suite just built), so the
# figures are for correctness, not speed.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
export DEBIAN_FRONTEND=noninteractive

missing=()
for command in haproxy curl python3; do
    command -v "$command" >/dev/null 2>&1 || missing+=("$command")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update
    $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
haproxy -v | sed -n 1p

cargo build --quiet --bin tether --example pool_load
tether="$root/target/debug/tether"
pool_load="$root/target/debug/examples/pool_load"

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        { kill -KILL "$pid" && wait "$pid"; } 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# Load runs BEFORE_S as a baseline, then LOAD_S across the restarts.
BASELINE_S=3
failed=0

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_instance NAME ARGS...: starts `tether serve ARGS`, waits for its "listening on" line and
# sets the globals pid_NAME, addr_NAME, admin_NAME.
start_instance() {
    local name=$1
    shift
    local out="$work/$name.$RANDOM.out"
    "$tether" serve "$@" >"$out" 2>>"$work/$name.log" &
    local pid=$!
    pids+=("$pid")
    for _ in $(seq 1 250); do
        if grep -q '^listening on ' "$out" 2>/dev/null; then
            break
        fi
        sleep 0.02
    done
    local addr admin
    addr=$(sed -n 's/^listening on //p' "$out")
    admin=$(sed -n 's|^admin on http://||p' "$out")
    if [ -z "$addr" ]; then
        echo "FAIL: $name did not start: $(cat "$work/$name.log")" >&2
        exit 1
    fi
    printf -v "pid_$name" '%s' "$pid"
    printf -v "addr_$name" '%s' "$addr"
    printf -v "admin_$name" '%s' "$admin"
}

# stop_instance NAME: SIGTERM, wait for the exit (40 s at most), fail unless it drained cleanly.
stop_instance() {
    local name=$1
    local pid_var="pid_$name"
    local pid=${!pid_var}
    kill -TERM "$pid"
    local status=0
    wait "$pid" || status=$?
    if [ "$status" -ne 0 ]; then
        echo "FAIL: $name exited $status after SIGTERM (unclean drain)" >&2
        tail -5 "$work/$name.log" >&2
        failed=1
    fi
    grep 'drained ' "$work/$name.log" | tail -1 | sed "s/^.*drained/  $name drained/" || true
}

wait_ready() {
    local admin=$1
    for _ in $(seq 1 250); do
        if curl -fsS "http://$admin/readyz" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.02
    done
    echo "FAIL: $admin never became ready" >&2
    exit 1
}

haproxy_up() {
    # haproxy_up SERVER: whether HAProxy's runtime API reports SERVER in backend tether as UP.
    python3 - "$HAPROXY_STATS_SOCKET" "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError:
    sys.exit(1)
s.sendall(b"show stat\n")
data = b""
while chunk := s.recv(65536):
    data += chunk
for line in data.decode().splitlines():
    fields = line.split(",")
    if len(fields) > 17 and fields[0] == "tether" and fields[1] == sys.argv[2]:
        sys.exit(0 if fields[17] == "UP" else 1)
sys.exit(1)
EOF
}

wait_haproxy_up() {
    for _ in $(seq 1 250); do
        if haproxy_up "$1"; then
            return 0
        fi
        sleep 0.02
    done
    echo "FAIL: HAProxy never saw $1 up" >&2
    cat "$work/haproxy.log" >&2
    exit 1
}

# report NAME BEFORE_JSON DURING_JSON: prints the figures, fails on any error.
report() {
    python3 - "$@" <<'EOF' || failed=1
import json, sys
name, before_file, during_file = sys.argv[1:4]
before, during = (json.load(open(f)) for f in (before_file, during_file))
calls = before["calls"] + during["calls"]
errors = {}
for run in (before, during):
    for kind, n in run["errors"].items():
        errors[kind] = errors.get(kind, 0) + n
print(f"{name}: calls {calls} (baseline {before['calls']}, across restarts {during['calls']}), "
      f"errors {errors or 'none'}")
print(f"  calls/s before {before['calls_per_s']:.0f}, during restarts {during['calls_per_s']:.0f}"
      f" ({100 * during['calls_per_s'] / max(before['calls_per_s'], 1):.0f}%)")
for label, run in (("before", before), ("during", during)):
    latency = run["latency_us"]
    print(f"  latency {label}: p99 {latency['p99']:.0f} us, max {latency['max']:.0f} us")
extra = {k: during[k] for k in ("retries", "connect_failures") if k in during}
if extra:
    print(f"  pool during restarts: {extra}")
if sum(errors.values()) > 0 or during["calls"] == 0:
    print(f"FAIL: {name}: failed calls", file=sys.stderr)
    sys.exit(1)
EOF
}

# restart_each NAMES...: restarts every instance in turn on its own ports; EXTRA_FLAGS and
# HAPROXY set how.
restart_each() {
    for name in "$@"; do
        local addr_var="addr_$name" admin_var="admin_$name"
        local addr=${!addr_var} admin=${!admin_var}
        stop_instance "$name"
        start_instance "$name" --listen "$addr" --admin-listen "$admin" "${EXTRA_FLAGS[@]}"
        wait_ready "$admin"
        if [ -n "${HAPROXY:-}" ]; then
            wait_haproxy_up "$name"
        else
            # The pool skips a refused endpoint for its 5 s ejection time; the next restart
            # must not leave it with only the endpoint it is about to stop.
            sleep 1
        fi
    done
}

# run_with_load OUT LOAD_S LOAD_COMMAND... -- RESTART_COMMAND...: runs the load in the
# background for LOAD_S (its stdout to OUT), the restarts after 1 s of it, and fails if the
# restarts outlast the load.
run_with_load() {
    local out=$1 seconds=$2
    shift 2
    local load=()
    while [ "$1" != "--" ]; do
        load+=("$1")
        shift
    done
    shift
    "${load[@]}" >"$out" &
    local load_pid=$!
    local started=$SECONDS
    sleep 1
    "$@"
    if ! kill -0 "$load_pid" 2>/dev/null; then
        echo "FAIL: the restarts took $((SECONDS - started)) s, longer than the load ($seconds s)" >&2
        failed=1
    fi
    wait "$load_pid" || true
}

echo
echo "== 1. HAProxy in front of 3 instances, tether bench through it"
EXTRA_FLAGS=(--drain-announce 1s)
for name in tether1 tether2 tether3; do
    start_instance "$name" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 "${EXTRA_FLAGS[@]}"
done
export TETHER_FRONTEND="127.0.0.1:$(free_port)"
export TETHER1=$addr_tether1 TETHER2=$addr_tether2 TETHER3=$addr_tether3
export TETHER1_ADMIN_PORT=${admin_tether1##*:} TETHER2_ADMIN_PORT=${admin_tether2##*:}
export TETHER3_ADMIN_PORT=${admin_tether3##*:}
export HAPROXY_STATS_SOCKET="$work/haproxy.sock"
# The configuration is the `haproxy` block of docs/operations.md, as printed there.
awk '/^```haproxy$/ { inside = 1; next } /^```$/ { if (inside) exit } inside' \
    docs/operations.md >"$work/haproxy.cfg"
haproxy -c -q -f "$work/haproxy.cfg"
haproxy -db -f "$work/haproxy.cfg" 2>"$work/haproxy.log" &
haproxy_pid=$!
pids+=("$haproxy_pid")
HAPROXY=1
for name in tether1 tether2 tether3; do
    wait_haproxy_up "$name"
done
bench=("$tether" bench "$TETHER_FRONTEND" --connections 16 --warmup 0s)
"${bench[@]}" --duration "${BASELINE_S}s" --json "$work/lb_before.json" >/dev/null
run_with_load /dev/null 15 "${bench[@]}" --duration 15s --json "$work/lb_during.json" -- \
    restart_each tether1 tether2 tether3
report "haproxy + bench" "$work/lb_before.json" "$work/lb_during.json"
unset HAPROXY
{ kill -TERM "$haproxy_pid" && wait "$haproxy_pid"; } 2>/dev/null || true

echo
echo "== 2. No load balancer: a Pool over the 3 endpoints"
EXTRA_FLAGS=()
load=("$pool_load" "$addr_tether1" "$addr_tether2" "$addr_tether3" --threads 16)
"${load[@]}" --seconds "$BASELINE_S" >"$work/pool_before.json"
run_with_load "$work/pool_during.json" 12 "${load[@]}" --seconds 12 -- \
    restart_each tether1 tether2 tether3
report "pool over 3 endpoints" "$work/pool_before.json" "$work/pool_during.json"
for name in tether1 tether2 tether3; do
    stop_instance "$name" >/dev/null
done

echo
echo "== 3. One instance replaced in place with --reuse-port"
start_instance old --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --reuse-port
bench=("$tether" bench "$addr_old" --connections 16 --warmup 0s)
"${bench[@]}" --duration "${BASELINE_S}s" --json "$work/reuse_before.json" >/dev/null
replace_in_place() {
    start_instance new --listen "$addr_old" --admin-listen 127.0.0.1:0 --reuse-port
    wait_ready "$admin_new"
    # Both listen now; the old one drains and the kernel sends every new connect to the new.
    stop_instance old
    sleep 1
}
run_with_load /dev/null 5 "${bench[@]}" --duration 5s --json "$work/reuse_during.json" -- \
    replace_in_place
report "reuse-port replacement" "$work/reuse_before.json" "$work/reuse_during.json"
stop_instance new >/dev/null

if grep -h -i 'panicked' "$work"/*.log; then
    echo "FAIL: a server panicked" >&2
    failed=1
fi
echo
if [ "$failed" -ne 0 ]; then
    echo "rolling restarts: FAILED"
    exit 1
fi
echo "rolling restarts: no failed call"
