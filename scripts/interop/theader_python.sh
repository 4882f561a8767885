#!/usr/bin/env bash
# Apache Thrift's Python THeader client (pip `thrift`, code from Debian's thrift-compiler),
# binary and compact inside, against `tether serve`, detected (auto) and fixed (--transport
# header): every Echo method, zlib, info headers; under auto also TCompactProtocol over framed
# and buffered transports; then SIGTERM under --drain-announce must put `:drain` on the replies
# and the server must exit 0. tether's own THeader client against Python's THeader server is in
# client_python.sh.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
command -v thrift >/dev/null || { echo "thrift compiler not found (apt install thrift-compiler)"; exit 1; }
python3 -c 'import thrift' 2>/dev/null || { echo "python thrift not found (pip install thrift)"; exit 1; }

protocols=(binary compact)

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

for transport in auto header; do
    echo "tether serve --transport $transport:"
    fifo="$tmp/stdout-$transport"
    mkfifo "$fifo"
    "$bin" serve --listen 127.0.0.1:0 --transport "$transport" --drain-announce 1s >"$fifo" &
    server_pid=$!
    exec 3<"$fifo"
    read -r -t 10 first <&3 || { echo "FAIL: no output from tether serve"; exit 1; }
    [[ "$first" == "listening on "* ]] || { echo "FAIL: first line was: $first"; exit 1; }
    port="${first##*:}"
    # Keep the pipe drained.
    cat <&3 >/dev/null &
    exec 3<&-

    python3 scripts/interop/theader_python.py "$tmp" "$port" "$server_pid" "$transport" "${protocols[@]}"

    status=0
    wait "$server_pid" || status=$?
    server_pid=""
    [[ $status -eq 0 ]] || { echo "FAIL: tether serve exited $status after SIGTERM"; exit 1; }
done
echo "theader_python: passed (auto and header; THeader ${protocols[*]}, zlib; THeader in a frame; compact framed and buffered; :drain; clean exit)"
