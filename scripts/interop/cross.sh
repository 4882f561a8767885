#!/usr/bin/env bash
# Apache Thrift's cross-test matrix: tether's examples/cross_server against a Python client and
# tether's examples/cross_client against a Python server, both written with PyPI's `thrift` and
# code from Debian's `thrift --gen py`, for every protocol (binary, compact, header, multi,
# multic, multih) and transport (buffered, framed). Prints a table; combinations tether does not
# speak yet say "skipped: <reason>"; exits non-zero if any row failed. Loopback, port 0.
# `scripts/interop/cross.sh --reference` adds Python-against-Python rows (checks the test
# programs themselves).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
command -v thrift >/dev/null || { echo "cross: thrift compiler not found (apt-get install thrift-compiler)"; exit 1; }
python3 -c 'import thrift' 2>/dev/null || { echo "cross: python thrift not found (pip install thrift)"; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Debian's compiler (0.17) has no `uuid` type (Apache added testUuid after v0.16): should
# idl/ThriftTest.thrift gain uuid lines, the Python code is generated from a copy without them.
idl="$tmp/ThriftTest.thrift"
# Comment lines stay; a line that uses the type goes.
uses_uuid='^[[:space:]]*[^[:space:]/*#].*\<uuid\>'
grep -vE "$uses_uuid" idl/ThriftTest.thrift >"$idl" || true
if ! cmp -s idl/ThriftTest.thrift "$idl"; then
    echo "cross: the Python side leaves out idl/ThriftTest.thrift's uuid lines (thrift 0.17 has no uuid):"
    grep -E "$uses_uuid" idl/ThriftTest.thrift | sed 's/^/    /'
fi
mkdir -p "$tmp/gen"
thrift --gen py -out "$tmp/gen" "$idl" >"$tmp/thrift.log" 2>&1 ||
    { cat "$tmp/thrift.log"; exit 1; }

cargo build --quiet --example cross_server --example cross_client
python3 scripts/interop/cross.py --gen "$tmp/gen" \
    --examples "${CARGO_TARGET_DIR:-$root/target}/debug/examples" "$@"
