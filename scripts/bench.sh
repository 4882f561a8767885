#!/usr/bin/env bash
# Side-by-side benchmark of `tether serve` against three baselines, all serving the Echo
# service of idl/echo.thrift (framed transport, binary protocol), driven by the same
# `tether bench` client:
#   raw_echo     the floor: thread per connection, frames echoed back, no Thrift decoding
#   apache_rust  Apache Thrift's Rust TServer (thrift crate from crates.io)
#   apache_cpp   Apache Thrift's C++ TThreadedServer (Debian's libthrift-dev)
# For every payload and connection count the servers run in turn, interleaved (A B C D A B C D
# ...), each on a fresh process, so a drift of the machine touches all of them alike.
# Also measured: server RSS per point, RSS per idle connection (1,000 idle), syscalls per request
# of tether (strace -c -f), and tether with pipelined calls (--pipeline 32).
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
#                         [--rounds N] [--no-build]
# --rounds N repeats the whole interleaved grid N times and reports, per point and server, the
# run with the median calls/s (steadier figures on a shared machine).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=5s
WARMUP=1s
CONNECTIONS="1 16 64 256 1000"
PAYLOADS="64 1024"
SERVERS="tether raw_echo apache_rust apache_cpp"
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

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; DURATION=1s; WARMUP=250ms; STRACE_REQUESTS=2000 ;;
    --duration) DURATION="$2"; shift ;;
    --warmup) WARMUP="$2"; shift ;;
    --connections) CONNECTIONS="$2"; shift ;;
    --payloads) PAYLOADS="$2"; shift ;;
    --servers) SERVERS="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    --rounds) ROUNDS="$2"; shift ;;
    --no-build) BUILD=0 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
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

# Thread-per-connection servers and a client with 1,000 sockets each need well over 1,024 fds.
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 8192 ]; then
  ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi
log "open files limit $(ulimit -n)"

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
    tether) AVAILABLE="$AVAILABLE tether"; continue ;;
    raw_echo|apache_rust|apache_cpp) ;;
    *) log "unknown server $server (tether raw_echo apache_rust apache_cpp)"; exit 2 ;;
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
    tether) RUST_LOG=warn "$TETHER" serve --listen 127.0.0.1:0 --max-connections 10000 \
              > "$out" 2> "$WORK/server-$name.err" & ;;
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

for round in $(seq "$ROUNDS"); do
  [ "$ROUNDS" -gt 1 ] && log "round $round of $ROUNDS"
  for payload in $PAYLOADS; do
    for conns in $CONNECTIONS; do
      for server in $AVAILABLE; do
        point "$server" grid "$conns" "$payload" 1 events "r$round"
      done
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

mkdir -p "$(dirname "$OUT")"
python3 - "$INDEX" "$NOTES" "$OUT" "$DURATION" "$WARMUP" "$QUICK" "$ROOT" "$ROUNDS" <<'PY'
import json, os, platform, re, subprocess, sys, time

index, notes_path, out_path, duration, warmup, quick, root, rounds = sys.argv[1:9]
NAMES = ["tether", "raw_echo", "apache_rust", "apache_cpp"]
grid, pipelined, idle, strace = {}, {}, {}, {}
for line in open(index):
    f = line.rstrip("\n").split("\t")
    if f[0] in ("grid", "pipelined"):
        kind, name, conns, payload, pipeline, path, peak, status, driver, cpu_ticks = f
        report = json.load(open(path)) if path and os.path.exists(path) else None
        entry = {"report": report, "peak_kib": int(peak) if peak else None, "status": status,
                 "cpu_ticks": int(cpu_ticks) if cpu_ticks else None}
        if kind == "grid":
            grid.setdefault((name, int(conns), int(payload), int(pipeline)), []).append(entry)
        else:
            pipelined[(name, int(conns), int(payload), int(pipeline), driver)] = entry
    elif f[0] == "idle":
        _, name, n, before, during = f
        if before and during:
            idle[name] = (int(n), int(before), int(during))
    elif f[0] == "strace":
        strace[f[1]] = (int(f[2]), open(f[3]).read())

# Several rounds: keep, per point and server, the run with the median calls/s.
def median_run(entries):
    ran = sorted((e for e in entries if e["report"]), key=lambda e: e["report"]["calls_per_s"])
    return ran[len(ran) // 2] if ran else entries[0]
grid = {k: median_run(v) for k, v in grid.items()}
servers = [n for n in NAMES if any(k[0] == n for k in grid)]
points = sorted({(k[2], k[1]) for k in grid})

def rep(name, conns, payload, pipeline=1, table=grid):
    e = table.get((name, conns, payload, pipeline))
    return e["report"] if e else None

def fmt_rate(r):
    return f"{r['calls_per_s']:,.0f}" if r else "—"

def fmt_us(v):
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"

def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "—"

def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"

def commit():
    try:
        return subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip() or "unknown"
    except OSError:
        return "unknown"

o = []
o.append("# tether benchmark: side by side")
o.append("")
o.append(f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
o.append(f"- machine: {os.cpu_count()} cores, {cpu_model()}, Linux {platform.release()}")
o.append(f"- commit: {commit()}; client: `tether bench --driver events` (closed loop, one call in "
         f"flight per connection), {duration} measured after {warmup} warmup per point"
         + (f", median of {rounds} rounds" if rounds != "1" else "")
         + (" (--quick pass)" if quick == "1" else ""))
o.append("- servers, each a fresh process per point, run in turn (interleaved): "
         + ", ".join(servers) + "; framed transport, binary protocol, loopback")
for n in open(notes_path).read().splitlines():
    o.append(f"- note: {n}")
o.append("")

def header(cols, left=2):
    """A table header; the first `left` columns are text, the rest numbers (right-aligned)."""
    o.append("| " + " | ".join(cols) + " |")
    o.append("|" + "|".join("---:" if i >= left else "---" for i in range(len(cols))) + "|")

o.append("## Throughput (calls/s) and ratios")
o.append("")
others = [s for s in ["raw_echo", "apache_rust", "apache_cpp"] if s in servers]
header(["payload", "conns"] + servers + [f"tether/{s}" for s in others if "tether" in servers])
for payload, conns in points:
    row = [f"{payload} B", str(conns)] + [fmt_rate(rep(s, conns, payload)) for s in servers]
    t = rep("tether", conns, payload)
    if "tether" in servers:
        for s in others:
            r = rep(s, conns, payload)
            row.append(ratio(t and t["calls_per_s"], r and r["calls_per_s"]))
    o.append("| " + " | ".join(row) + " |")
o.append("")

o.append("## Latency p99 (µs)")
o.append("")
header(["payload", "conns"] + servers + (["p99 tether/raw_echo"] if "tether" in servers and "raw_echo" in servers else []))
for payload, conns in points:
    row = [f"{payload} B", str(conns)]
    for s in servers:
        r = rep(s, conns, payload)
        row.append(fmt_us(r["latency_us"]["p99"]) if r and r["calls"] else "—")
    if "tether" in servers and "raw_echo" in servers:
        t, r = rep("tether", conns, payload), rep("raw_echo", conns, payload)
        row.append(ratio(t and t["latency_us"]["p99"], r and r["latency_us"]["p99"]))
    o.append("| " + " | ".join(row) + " |")
o.append("")

o.append("## Fairness: calls per connection, min / median (starved when min < 0.5 x median)")
o.append("")
header(["payload", "conns"] + servers)
for payload, conns in points:
    row = [f"{payload} B", str(conns)]
    for s in servers:
        r = rep(s, conns, payload)
        if not r:
            row.append("—")
            continue
        c = r["calls_per_connection"]
        flag = " **starved**" if c["median"] and c["min"] < 0.5 * c["median"] else ""
        row.append(f"{c['min']:,} / {c['median']:,}{flag}")
    o.append("| " + " | ".join(row) + " |")
o.append("")

def seconds(text):
    m = re.match(r"^([\d.]+)\s*(us|ms|s|m|h)?$", text.strip())
    if not m:
        return None
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1, None: 1, "m": 60, "h": 3600}[m.group(2)]
    return float(m.group(1)) * scale

o.append("## Server CPU per call (µs; whole run incl. warmup, 10 ms clock ticks)")
o.append("")
header(["payload", "conns"] + servers)
run_s = (seconds(duration) or 0) + (seconds(warmup) or 0)
for payload, conns in points:
    row = [f"{payload} B", str(conns)]
    for s in servers:
        e = grid.get((s, conns, payload, 1))
        r = e and e["report"]
        if r and r["calls_per_s"] and e["cpu_ticks"] is not None and run_s:
            row.append(f"{e['cpu_ticks'] * 1e4 / (r['calls_per_s'] * run_s):.1f}")
        else:
            row.append("—")
    o.append("| " + " | ".join(row) + " |")
o.append("")

o.append("## Server peak RSS at the end of each point (MiB) and errors")
o.append("")
header(["payload", "conns"] + servers + ["errors"])
for payload, conns in points:
    row, errs = [f"{payload} B", str(conns)], []
    for s in servers:
        e = grid.get((s, conns, payload, 1))
        row.append(f"{e['peak_kib'] / 1024:.1f}" if e and e["peak_kib"] else "—")
        r = e and e["report"]
        if e and not r:
            errs.append(f"{s}: {e['status']}")
        elif r and r["errors"]:
            errs.append(f"{s}: " + ", ".join(f"{k} {v}" for k, v in r["errors"].items()))
    row.append("; ".join(errs) or "0")
    o.append("| " + " | ".join(row) + " |")
o.append("")

if idle:
    o.append("## RSS per idle connection (each made one call, then idles)")
    o.append("")
    header(["server", "idle conns", "RSS before (MiB)", "RSS with idle (MiB)", "per connection (KiB)"], left=1)
    for s in servers:
        if s in idle:
            n, before, during = idle[s]
            o.append(f"| {s} | {n:,} | {before / 1024:.1f} | {during / 1024:.1f} | {(during - before) / n:.1f} |")
    o.append("")

def parse_strace(text):
    total, rows = None, []
    for line in text.splitlines():
        f = line.split()
        if len(f) < 5 or not re.match(r"^[\d.]+$", f[0]):
            continue
        if f[-1] == "total":
            total = int(f[3])
        else:
            rows.append((int(f[3]), f[-1]))
    rows.sort(reverse=True)
    return total, rows

if strace:
    n = next(iter(strace.values()))[0]
    o.append(f"## Syscalls per request (strace -c -f on the server, {n:,} echo calls of 64 B, one connection)")
    o.append("")
    header(["server", "syscalls per request", "largest (per request)"], left=1)
    o[-1] = "|---|---:|---|"
    for s in servers:
        if s not in strace:
            continue
        n, text = strace[s]
        total, rows = parse_strace(text)
        top = ", ".join(f"{name} {calls / n:.2f}" for calls, name in rows[:4])
        o.append(f"| {s} | {total / n:.2f} | {top} |" if total else f"| {s} | — | no total line |")
    o.append("")

if pipelined:
    o.append(f"## Pipelined calls, tether (64 B)")
    o.append("")
    o.append("`events`: one event loop keeps the window full (the server's pipelined capacity); "
             "`threads`: tether's own client, one thread per connection keeping a window of pending calls on a MuxConnection.")
    o.append("")
    header(["driver", "conns", "in flight per conn", "calls/s", "p99 (µs)", "vs one call at a time"], left=1)
    for (name, conns, payload, pipeline, driver), e in sorted(pipelined.items(), key=lambda kv: (kv[0][1], kv[0][4])):
        r = e["report"]
        single = rep("tether", conns, payload)
        o.append(f"| {driver} | {conns} | {pipeline} | {fmt_rate(r)} | "
                 + (fmt_us(r["latency_us"]["p99"]) if r and r["calls"] else "—") + " | "
                 + ratio(r and r["calls_per_s"], single and single["calls_per_s"]) + " |")
    o.append("")

# The targets of the issue, checked against this run (reported, not asserted).
if "tether" in servers:
    o.append("## Targets")
    o.append("")
    def check(label, ok_points, all_points):
        if not all_points:
            return
        missed = [p for p in all_points if p not in ok_points]
        mark = "met" if not missed else "missed"
        detail = "" if not missed else "; missed at " + ", ".join(f"{c} conns/{p} B" for p, c in missed)
        o.append(f"- {label}: {mark} (met at {len(ok_points)} of {len(all_points)} points{detail})")
    def pts(other, pred, min_conns=1):
        all_p, ok = [], []
        for payload, conns in points:
            if conns < min_conns:
                continue
            t, r = rep("tether", conns, payload), rep(other, conns, payload)
            if not (t and r and t["calls"] and r["calls"]):
                continue
            all_p.append((payload, conns))
            if pred(t, r):
                ok.append((payload, conns))
        return ok, all_p
    if "raw_echo" in servers:
        check("tether >= 0.95x raw_echo calls/s",
              *pts("raw_echo", lambda t, r: t["calls_per_s"] >= 0.95 * r["calls_per_s"]))
        check("tether p99 <= 1.2x raw_echo p99",
              *pts("raw_echo", lambda t, r: t["latency_us"]["p99"] <= 1.2 * r["latency_us"]["p99"]))
    if "apache_rust" in servers:
        check("tether >= 1.5x apache_rust calls/s (16+ conns)",
              *pts("apache_rust", lambda t, r: t["calls_per_s"] >= 1.5 * r["calls_per_s"], 16))
    if "apache_cpp" in servers:
        check("tether >= 1.15x apache_cpp calls/s (16+ conns)",
              *pts("apache_cpp", lambda t, r: t["calls_per_s"] >= 1.15 * r["calls_per_s"], 16))
    measured = [(p, c) for p, c in points if rep("tether", c, p) and rep("tether", c, p)["calls"]]
    starved = [(p, c) for p, c in measured
               if (lambda s: s["min"] < 0.5 * s["median"])(rep("tether", c, p)["calls_per_connection"])]
    check("no starved tether connection (min >= 0.5x median calls)",
          [x for x in measured if x not in starved], measured)
    one = [e for k, e in pipelined.items() if k[1] == 1 and k[4] == "events"]
    if one and one[0]["report"] and rep("tether", 1, 64):
        x = one[0]["report"]["calls_per_s"] / max(rep("tether", 1, 64)["calls_per_s"], 1e-9)
        o.append(f"- pipelined on one connection >= 5x one call at a time: {'met' if x >= 5 else 'missed'} ({x:.1f}x)")
    o.append("")

text = "\n".join(o)
open(out_path, "w").write(text)
print(text)
PY
log "results written to $OUT"
