#!/usr/bin/env bash
# User-space instructions per request of `tether serve`, counted by callgrind: steady on a noisy
# shared machine where CPU time per call varies by 10% from run to run.
#
# For each connection count the release server runs under callgrind twice, serving SMALL and
# then LARGE echo calls from `tether bench --driver events`; the figure is
# (Ir(LARGE) - Ir(SMALL)) / (LARGE - SMALL), so start-up, connection set-up and shutdown cancel.
# Kernel time is not counted (callgrind sees user space only). The callgrind files are left in
# the work directory for `callgrind_annotate --inclusive=yes FILE`.
#
# Loopback only, port 0, every bench bounded by --requests; the servers are stopped by SIGINT
# (a drain), killed on exit if still running.
#
# Usage: scripts/server_instructions.sh [--connections "1 16"] [--small N] [--large N]
#                                       [--payload BYTES] [--work DIR] [--no-build]
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CONNECTIONS="1 16"
SMALL=2000
LARGE=12000
PAYLOAD=64
WORK=""
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --small) SMALL="$2"; shift 2 ;;
    --large) LARGE="$2"; shift 2 ;;
    --payload) PAYLOAD="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v valgrind > /dev/null || { echo "valgrind is not installed" >&2; exit 1; }
[ "$LARGE" -gt "$SMALL" ] || { echo "--large must exceed --small" >&2; exit 2; }
[ -n "$WORK" ] || WORK=$(mktemp -d)
mkdir -p "$WORK"
TETHER="$ROOT/target/release/tether"
if [ "$BUILD" = 1 ]; then
  (cd "$ROOT" && nice cargo build --release --quiet) || exit 1
fi

SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2> /dev/null; }
trap cleanup EXIT

# run CONNS REQUESTS: prints the server's total instructions.
run() {
  local conns="$1" requests="$2" out="$WORK/callgrind.$1.$2" log="$WORK/server.$1.$2"
  : > "$log"
  valgrind --tool=callgrind --callgrind-out-file="$out" "$TETHER" serve --listen 127.0.0.1:0 \
    > "$log" 2> "$log.err" &
  SERVER_PID=$!
  local addr="" i
  for i in $(seq 300); do
    addr=$(awk '/^listening on /{print $3; exit}' "$log")
    [ -n "$addr" ] && break
    sleep 0.1
  done
  if [ -z "$addr" ]; then
    echo "server did not start: $(tail -n 2 "$log.err")" >&2
    return 1
  fi
  if ! "$TETHER" bench "$addr" --requests "$requests" --connections "$conns" \
      --payload "$PAYLOAD" --driver events --warmup 0s > "$WORK/bench.$conns.$requests" 2>&1; then
    echo "bench failed: $(tail -n 2 "$WORK/bench.$conns.$requests")" >&2
    return 1
  fi
  kill -INT "$SERVER_PID"
  wait "$SERVER_PID" 2> /dev/null
  SERVER_PID=""
  awk '/^summary:/{print $2; exit}' "$out"
}

echo "| conns | Ir per request | Ir at $SMALL | Ir at $LARGE |"
echo "|---:|---:|---:|---:|"
for conns in $CONNECTIONS; do
  small=$(run "$conns" "$SMALL") || exit 1
  large=$(run "$conns" "$LARGE") || exit 1
  echo "| $conns | $(( (large - small) / (LARGE - SMALL) )) | $small | $large |"
done
echo "callgrind files in $WORK"
