#!/usr/bin/env bash
# Apache Thrift's Python client (pip `thrift`, code from Debian's thrift-compiler) against
# `tether serve`, over TFramedTransport and TBufferedTransport (and TMultiplexedProtocol over
# framed); then SIGTERM must exit 0.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
command -v thrift >/dev/null || { echo "thrift compiler not found (apt install thrift-compiler)"; exit 1; }
python3 -c 'import thrift' 2>/dev/null || { echo "python thrift not found (pip install thrift)"; exit 1; }

tmp="$(mktemp -d)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid"; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

thrift --gen py -out "$tmp" idl/echo.thrift
cargo build --quiet --bin tether
bin="${CARGO_TARGET_DIR:-$root/target}/debug/tether"

mkfifo "$tmp/stdout"
"$bin" serve --listen 127.0.0.1:0 >"$tmp/stdout" &
server_pid=$!
exec 3<"$tmp/stdout"
read -r -t 10 first <&3 || { echo "FAIL: no output from tether serve"; exit 1; }
[[ "$first" == "listening on "* ]] || { echo "FAIL: first line was: $first"; exit 1; }
port="${first##*:}"
echo "tether serve on port $port (pid $server_pid)"
# Keep the pipe drained.
cat <&3 >/dev/null &

python3 scripts/interop/server_python.py "$tmp" "$port"

kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
server_pid=""
[[ $status -eq 0 ]] || { echo "FAIL: tether serve exited $status after SIGTERM"; exit 1; }
echo "server_python: passed (clean drain, exit 0)"
