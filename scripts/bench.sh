#!/usr/bin/env bash
# Side-by-side benchmark of `tether serve` against three baselines, all serving the Echo
# service of idl/echo.thrift (framed transport, binary protocol), driven by the same
# `tether bench` client:
#   raw_echo     the floor: thread per connection, frames echoed back, no Thrift decoding
#   apache_rust  Apache Thrift's Rust TServer (thrift crate from crates.io)
#   apache_cpp   Apache Thrift's C++ TThreadedServer (Debian's libthrift-dev)
# and tether_nopark, `tether serve --no-park` (one thread per open connection), so the grid
# shows idle parking on vs off side by side.
# For every payload and connection count the servers run in turn, interleaved, each on a fresh
# process, so a drift of the machine touches all of them alike; their order rotates from point
# to point and round to round (A B C, then B C A, ...), so no server always runs first.
# Also measured: server RSS per point, RSS per idle connection (1,000 idle), syscalls per request
# of tether (strace -c -f), tether with pipelined calls (--pipeline 32), and the idle scale:
# N idle connections (N = the descriptor hard limit less 1,000, so 19,000 under 20,000), each
# after one call, their client sockets spread over 127.0.0.2-9 (scripts/idle_scale.py): threads,
# RSS before/after, accept time, first call on a parked vs an unparked connection, per server.
#
# The client is `tether bench --driver events`: a few event loops drive every connection, so
# with 1,000 connections on a small machine the client's own threads do not compete with the
# server's and the fairness figures are the server's. The pipelined point also runs through
# tether's own client (--driver threads: MuxConnection) when that driver supports it.
# Run client and servers at the same niceness (nice the whole script, not parts of it).
#
# Loopback only; every run is bounded by --duration; every server is killed on exit, failure
# included. Results: benches/results/latest.md (printed too).
#
# Usage: scripts/bench.sh [--quick] [--duration DUR] [--warmup DUR] [--connections "1 16 ..."]
#                         [--payloads "64 1024"] [--servers "tether raw_echo ..."] [--out FILE]
#                         [--rounds N] [--idle-scale N] [--no-build] [--baseline BIN]
# --baseline BIN adds the server `tether_before`: another build of `tether` (say, main before a
# change) run exactly like `tether`, interleaved with it, so before/after ratios come from one run.
# --rounds N repeats the whole interleaved grid N times and reports, per point and server, the
# run with the median calls/s (steadier figures on a shared machine). --idle-scale N sets the
# idle-scale connection count (0 leaves the section out; --quick uses 2,000).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=5s
WARMUP=1s
CONNECTIONS="1 16 64 256 1000"
PAYLOADS="64 1024"
SERVERS="tether tether_nopark raw_echo apache_rust apache_cpp"
OUT="$ROOT/benches/results/latest.md"
BUILD=1
# 1,000 idle connections: the RSS-per-connection probe.
IDLE_CONNECTIONS=1000
# Calls counted under strace: enough that start-up syscalls are noise (< 0.05 per call).
STRACE_REQUESTS=10000
PIPELINE=32
PIPELINE_CONNECTIONS="1 16"
QUICK=0
ROUNDS=1
TETHER_BEFORE=""
# Idle-scale connections; empty: the descriptor hard limit less 1,000 (the server's own
# descriptors and its reserve of 16 stay well inside that).
IDLE_SCALE=""
# Bound on opening the idle-scale connections and their first calls, per server.
IDLE_SCALE_TIMEOUT=60
# Most connections the tether servers accept (the idle scale raises it past N).
TETHER_MAX_CONNECTIONS=10000

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; DURATION=1s; WARMUP=250ms; STRACE_REQUESTS=2000; IDLE_SCALE=${IDLE_SCALE:-2000} ;;
    --duration) DURATION="$2"; shift ;;
    --warmup) WARMUP="$2"; shift ;;
    --connections) CONNECTIONS="$2"; shift ;;
    --payloads) PAYLOADS="$2"; shift ;;
    --servers) SERVERS="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    --rounds) ROUNDS="$2"; shift ;;
    --idle-scale) IDLE_SCALE="$2"; shift ;;
    --no-build) BUILD=0 ;;
    --baseline) TETHER_BEFORE="$2"; shift ;;
    -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tether-bench.XXXXXX")
PIDS_FILE="$WORK/pids"
: > "$PIDS_FILE"
NOTES="$WORK/notes"
: > "$NOTES"
INDEX="$WORK/index.tsv"
: > "$INDEX"

log() { echo "bench.sh: $*" >&2; }
note() { echo "$*" >> "$NOTES"; log "$*"; }

# Every process started here is recorded and killed on exit, whatever the exit path.
cleanup() {
  local pid
  while read -r pid; do
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
  done < "$PIDS_FILE"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Thread-per-connection servers and a client with 1,000 sockets each need well over 1,024 fds;
# the idle scale takes what the hard limit allows.
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 8192 ]; then
  ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi
if [ "$IDLE_SCALE" != 0 ]; then
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi
if [ -z "$IDLE_SCALE" ]; then
  if [ "$(ulimit -n)" = unlimited ]; then IDLE_SCALE=19000; else IDLE_SCALE=$(( $(ulimit -n) - 1000 )); fi
  [ "$IDLE_SCALE" -ge 1000 ] || IDLE_SCALE=1000
fi
log "open files limit $(ulimit -n); idle scale $IDLE_SCALE connections"

if [ -n "$TETHER_BEFORE" ]; then
  [ -x "$TETHER_BEFORE" ] || { log "--baseline $TETHER_BEFORE is not an executable"; exit 2; }
  case " $SERVERS " in
    *" tether_before "*) ;;
    *) SERVERS="$SERVERS tether_before" ;;
  esac
fi

TETHER="$ROOT/target/release/tether"
RAW_ECHO="$ROOT/benches/anchors/raw_echo/target/release/raw_echo"
APACHE_RUST="$ROOT/benches/anchors/apache_rust/target/release/apache_rust"
APACHE_CPP="$ROOT/benches/anchors/apache_cpp/apache_cpp"

APT_UPDATED=0
apt_install() {
  command -v apt-get > /dev/null || return 1
  [ "$(id -u)" = 0 ] || return 1
  if [ "$APT_UPDATED" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq > /dev/null 2>&1 || true
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" > /dev/null 2>&1
}

need_thrift_compiler() {
  command -v thrift > /dev/null || apt_install thrift-compiler
  command -v thrift > /dev/null
}

build_tether() {
  (cd "$ROOT" && nice cargo build --release --bin tether 2>&1 | tail -3 >&2)
  [ -x "$TETHER" ]
}

build_raw_echo() {
  nice cargo build --release --manifest-path "$ROOT/benches/anchors/raw_echo/Cargo.toml" \
    2>&1 | tail -3 >&2
  [ -x "$RAW_ECHO" ]
}

build_apache_rust() {
  local dir="$ROOT/benches/anchors/apache_rust"
  need_thrift_compiler || { echo "thrift-compiler missing and not installable"; return 1; }
  thrift --gen rs -out "$dir/src" "$ROOT/idl/echo.thrift" || return 1
  nice cargo build --release --manifest-path "$dir/Cargo.toml" 2>&1 | tail -3 >&2
  [ -x "$APACHE_RUST" ]
}

build_apache_cpp() {
  local dir="$ROOT/benches/anchors/apache_cpp"
  need_thrift_compiler || { echo "thrift-compiler missing and not installable"; return 1; }
  if [ ! -f /usr/include/thrift/server/TThreadedServer.h ] || [ ! -d /usr/include/boost ]; then
    apt_install libthrift-dev libboost-dev g++ || true
  fi
  command -v g++ > /dev/null || apt_install g++ || return 1
  rm -rf "$dir/gen-cpp" && mkdir -p "$dir/gen-cpp"
  thrift --gen cpp -out "$dir/gen-cpp" "$ROOT/idl/echo.thrift" || return 1
  rm -f "$dir/gen-cpp/"*skeleton*
  nice g++ -O2 -std=c++17 -I"$dir/gen-cpp" -o "$APACHE_CPP" "$dir/main.cpp" \
    "$dir/gen-cpp/Echo.cpp" "$dir/gen-cpp/echo_types.cpp" -lthrift -pthread >&2
}

command -v python3 > /dev/null || apt_install python3 || { log "python3 is needed for the report"; exit 1; }

if [ "$BUILD" = 1 ]; then
  log "building tether (release)"
  build_tether || { log "tether did not build; it is the client too, so nothing can run"; exit 1; }
fi
[ -x "$TETHER" ] || { log "no $TETHER (run without --no-build)"; exit 1; }

AVAILABLE=""
for server in $SERVERS; do
  case "$server" in
    tether|tether_nopark) AVAILABLE="$AVAILABLE $server"; continue ;;
    tether_before)
      if [ -x "$TETHER_BEFORE" ]; then AVAILABLE="$AVAILABLE tether_before"
      else note "tether_before needs --baseline BIN; left out"; fi
      continue ;;
    raw_echo|apache_rust|apache_cpp) ;;
    *) log "unknown server $server (tether tether_nopark tether_before raw_echo apache_rust apache_cpp)"; exit 2 ;;
  esac
  if [ "$BUILD" = 1 ]; then
    log "building $server"
    if ! build_"$server" > "$WORK/build-$server.log" 2>&1; then
      note "could not build $server: $(tail -n 3 "$WORK/build-$server.log" | tr '\n' ' ')"
      continue
    fi
  fi
  binary_var=$(echo "$server" | tr '[:lower:]' '[:upper:]')
  if [ -x "${!binary_var}" ]; then
    AVAILABLE="$AVAILABLE $server"
  else
    note "no binary for $server; left out"
  fi
done
log "servers:$AVAILABLE"

# start_server NAME: starts it on 127.0.0.1:0; sets SERVER_PID and SERVER_ADDR.
start_server() {
  local name="$1" out="$WORK/server-$1.out"
  : > "$out"
  case "$name" in
    tether) RUST_LOG=warn "$TETHER" serve --listen 127.0.0.1:0 \
              --max-connections "$TETHER_MAX_CONNECTIONS" > "$out" 2> "$WORK/server-$name.err" & ;;
    tether_nopark) RUST_LOG=warn "$TETHER" serve --listen 127.0.0.1:0 --no-park \
              --max-connections "$TETHER_MAX_CONNECTIONS" > "$out" 2> "$WORK/server-$name.err" & ;;
    tether_before) RUST_LOG=warn "$TETHER_BEFORE" serve --listen 127.0.0.1:0 \
              --max-connections "$TETHER_MAX_CONNECTIONS" > "$out" 2> "$WORK/server-$name.err" & ;;
    raw_echo) "$RAW_ECHO" 127.0.0.1:0 > "$out" 2> "$WORK/server-$name.err" & ;;
    apache_rust) "$APACHE_RUST" 127.0.0.1:0 > "$out" 2> "$WORK/server-$name.err" & ;;
    apache_cpp) "$APACHE_CPP" 127.0.0.1:0 > "$out" 2> "$WORK/server-$name.err" & ;;
  esac
  SERVER_PID=$!
  echo "$SERVER_PID" >> "$PIDS_FILE"
  SERVER_ADDR=""
  local i
  for i in $(seq 100); do
    SERVER_ADDR=$(awk '/^listening on /{print $3; exit}' "$out")
    [ -n "$SERVER_ADDR" ] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  log "$name did not start: $(tail -n 2 "$WORK/server-$name.err" | tr '\n' ' ')"
  stop_server
  return 1
}

stop_server() {
  [ -n "${SERVER_PID:-}" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null
  local i
  for i in $(seq 40); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=""
}

status_kib() { awk -v key="$2:" '$1 == key {print $2}' "/proc/$1/status" 2>/dev/null; }

# CPU ticks (user + system, 1/100 s) a process has used; fields counted after the ")" of its name.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}'; }

# point NAME KIND CONNECTIONS PAYLOAD PIPELINE [DRIVER]: one bounded run of tether bench.
point() {
  local name="$1" kind="$2" conns="$3" payload="$4" pipeline="$5" driver="${6:-events}"
  local tag="$kind-$name-c$conns-p$payload-q$pipeline-$driver${7:+-$7}" json rc peak
  json="$WORK/$tag.json"
  if ! start_server "$name"; then
    printf '%s\t%s\t%s\t%s\t%s\t\t\tno-start\t%s\t\n' "$kind" "$name" "$conns" "$payload" \
      "$pipeline" "$driver" >> "$INDEX"
    return
  fi
  log "$kind $name: $conns connections, $payload B, pipeline $pipeline, $driver"
  local cpu_before cpu_used
  cpu_before=$(cpu_ticks "$SERVER_PID")
  "$TETHER" bench "$SERVER_ADDR" --connections "$conns" --payload "$payload" \
    --pipeline "$pipeline" --driver "$driver" --duration "$DURATION" --warmup "$WARMUP" \
    --json "$json" > "$WORK/$tag.txt" 2>&1
  rc=$?
  peak=$(status_kib "$SERVER_PID" VmHWM)
  cpu_used=$(( $(cpu_ticks "$SERVER_PID") - cpu_before ))
  stop_server
  [ "$rc" = 0 ] || log "  bench exited $rc: $(tail -n 1 "$WORK/$tag.txt")"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\trc=%s\t%s\t%s\n' "$kind" "$name" "$conns" "$payload" \
    "$pipeline" "$json" "$peak" "$rc" "$driver" "$cpu_used" >> "$INDEX"
}

# idle_rss NAME: RSS before and with IDLE_CONNECTIONS connections that made one call each.
idle_rss() {
  local name="$1" before during port i
  start_server "$name" || return
  sleep 0.2
  before=$(status_kib "$SERVER_PID" VmRSS)
  port="${SERVER_ADDR##*:}"
  # Each connection makes one call, then idles; the run is bounded by --duration in any case.
  "$TETHER" bench "$SERVER_ADDR" --connections "$IDLE_CONNECTIONS" --idle-between 60s \
    --driver threads --duration 15s --warmup 0s > "$WORK/idle-$name.txt" 2>&1 &
  local bench_pid=$!
  echo "$bench_pid" >> "$PIDS_FILE"
  # Wait (10 s at most) until the server holds them all; without ss, wait the 10 s.
  command -v ss > /dev/null || apt_install iproute2 || true
  for i in $(seq 100); do
    command -v ss > /dev/null &&
      [ "$(ss -tnH state established "sport = :$port" | wc -l)" -ge "$IDLE_CONNECTIONS" ] && break
    sleep 0.1
  done
  # Time for every connection's one call to be served.
  sleep 1
  during=$(status_kib "$SERVER_PID" VmRSS)
  kill -TERM "$bench_pid" 2>/dev/null
  wait "$bench_pid" 2>/dev/null
  stop_server
  printf 'idle\t%s\t%s\t%s\t%s\n' "$name" "$IDLE_CONNECTIONS" "$before" "$during" >> "$INDEX"
}

# syscalls NAME: syscalls per request of a server, strace -c -f attached over STRACE_REQUESTS
# echo calls on one connection (its accept and worker start included: they are one-off).
syscalls() {
  local name="$1"
  command -v strace > /dev/null || apt_install strace || { note "strace unavailable"; return; }
  start_server "$name" || return
  local trace="$WORK/strace-$name.txt"
  strace -f -c -o "$trace" -p "$SERVER_PID" 2> "$WORK/strace-$name.err" &
  local strace_pid=$!
  echo "$strace_pid" >> "$PIDS_FILE"
  # strace prints "attached" on stderr once it traces the process.
  local i
  for i in $(seq 40); do
    grep -q attached "$WORK/strace-$name.err" 2>/dev/null && break
    sleep 0.05
  done
  "$TETHER" bench "$SERVER_ADDR" --connections 1 --requests "$STRACE_REQUESTS" --warmup 0s \
    --payload 64 --driver events > "$WORK/strace-bench-$name.txt" 2>&1
  kill -INT "$strace_pid" 2>/dev/null
  wait "$strace_pid" 2>/dev/null
  stop_server
  if [ -s "$trace" ]; then
    printf 'strace\t%s\t%s\t%s\n' "$name" "$STRACE_REQUESTS" "$trace" >> "$INDEX"
  else
    note "strace of $name produced nothing: $(head -c 300 "$WORK/strace-$name.err")"
  fi
}

# rotated K WORDS...: WORDS rotated left by K. The servers' order turns by one from point to
# point and from round to round: the server run second at a point measured up to 8% more calls/s
# than the same build run first (tether vs --no-park, both orders, 3 rounds each), so a fixed
# order biases every ratio. With --rounds a multiple of the server count, each server takes each
# place equally often at every point.
rotated() {
  local k="$1"; shift
  local words=("$@") n=$# i
  for i in $(seq 0 $(( n - 1 ))); do
    printf '%s ' "${words[$(( (i + k) % n ))]}"
  done
}

point_index=0
for round in $(seq "$ROUNDS"); do
  [ "$ROUNDS" -gt 1 ] && log "round $round of $ROUNDS"
  point_index=$(( round - 1 ))
  for payload in $PAYLOADS; do
    for conns in $CONNECTIONS; do
      # shellcheck disable=SC2086
      for server in $(rotated "$point_index" $AVAILABLE); do
        point "$server" grid "$conns" "$payload" 1 events "r$round"
      done
      point_index=$(( point_index + 1 ))
    done
  done
done

case " $AVAILABLE " in
  *" tether "*)
    for conns in $PIPELINE_CONNECTIONS; do
      point tether pipelined "$conns" 64 "$PIPELINE" events
      point tether pipelined "$conns" 64 "$PIPELINE" threads
    done
    ;;
esac

for server in $AVAILABLE; do
  syscalls "$server"
done

for server in $AVAILABLE; do
  idle_rss "$server"
done

# idle_scale NAME ROUND: IDLE_SCALE idle connections, each after one call
# (scripts/idle_scale.py).
idle_scale() {
  local name="$1" json="$WORK/idlescale-$1-$2.json"
  TETHER_MAX_CONNECTIONS=$(( IDLE_SCALE + 1000 ))
  start_server "$name" || { TETHER_MAX_CONNECTIONS=10000; return; }
  TETHER_MAX_CONNECTIONS=10000
  sleep 0.2
  log "idle scale $name: $IDLE_SCALE connections"
  # The probe bounds every wait itself; timeout(1) bounds the probe in case it does not.
  timeout $(( IDLE_SCALE_TIMEOUT + 120 )) python3 "$ROOT/scripts/idle_scale.py" "$SERVER_ADDR" \
    "$IDLE_SCALE" --pid "$SERVER_PID" --json "$json" --timeout "$IDLE_SCALE_TIMEOUT" \
    > "$WORK/idlescale-$name.txt" 2>&1 || log "  probe of $name: $(tail -n 1 "$WORK/idlescale-$name.txt")"
  stop_server
  if [ -s "$json" ]; then
    printf 'idlescale\t%s\t%s\n' "$name" "$json" >> "$INDEX"
  else
    note "idle scale of $name produced nothing: $(tail -n 2 "$WORK/idlescale-$name.txt" | tr '\n' ' ')"
  fi
}

# One idle-scale run per round too: a p99 of 200 first calls moves by hundreds of microseconds
# from run to run here, so the report takes each server's median run and lists the others.
if [ "$IDLE_SCALE" -gt 0 ]; then
  for round in $(seq "$ROUNDS"); do
    # shellcheck disable=SC2086
    for server in $(rotated "$(( round - 1 ))" $AVAILABLE); do
      idle_scale "$server" "$round"
    done
  done
fi

mkdir -p "$(dirname "$OUT")"
python3 "$ROOT/scripts/bench_report.py" "$INDEX" "$NOTES" "$OUT" "$DURATION" "$WARMUP" "$QUICK" "$ROOT" "$ROUNDS"
log "results written to $OUT"
