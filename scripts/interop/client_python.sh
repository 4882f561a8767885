#!/usr/bin/env bash
# tether's generated client (Connection, Pool, MuxConnection) against Apache Thrift's own Python
# servers, TSimpleServer, TThreadedServer and a TThreadedServer with TMultiplexedProcessor (the
# client prefixing "Echo:"), each over TFramedTransport, TBufferedTransport and THeaderProtocol
# (THeaderTransport, binary inside).
# The Python handler is scripts/interop/client_python.py; its code is from Debian's thrift-compiler.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
command -v thrift >/dev/null || { echo "thrift compiler not found (apt install thrift-compiler)"; exit 1; }
python3 -c 'import thrift' 2>/dev/null || { echo "python thrift not found (pip install thrift)"; exit 1; }

tmp="$(mktemp -d)"
server_pid=""
stop_server() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -KILL "$server_pid"
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
}
cleanup() {
    stop_server
    rm -rf "$tmp"
}
trap cleanup EXIT

thrift --gen py -out "$tmp" idl/echo.thrift
cargo build --quiet --example interop_client
client="${CARGO_TARGET_DIR:-$root/target}/debug/examples/interop_client"

for kind in simple threaded multiplexed; do
    for framing in framed buffered header; do
        echo "Apache Python $kind server, $framing:"
        fifo="$tmp/stdout-$kind-$framing"
        mkfifo "$fifo"
        python3 scripts/interop/client_python.py "$tmp" "$kind" "$framing" >"$fifo" &
        server_pid=$!
        exec 3<"$fifo"
        read -r -t 10 first <&3 || { echo "FAIL: no output from the Python server"; exit 1; }
        [[ "$first" == "listening on "* ]] || { echo "FAIL: first line was: $first"; exit 1; }
        exec 3<&-
        "$client" "${first#listening on }" "$framing" "$kind"
        stop_server
    done
done
echo "client_python: passed (6 server/transport combinations)"
