#!/usr/bin/env bash
# Cross-checks tether's generated code with Apache Thrift's Python library, both ways:
# Python encodes fixed values, Rust decodes them into the same values and re-encodes the same
# bytes; Rust encodes the values, Python decodes and compares.
# Needs `thrift` (Debian's thrift-compiler) and the Python package `thrift`.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

command -v thrift >/dev/null || { echo "codegen_python: thrift compiler not found" >&2; exit 1; }
python3 -c 'import thrift' || { echo "codegen_python: python package thrift missing" >&2; exit 1; }

mkdir -p "$work/gen" "$work/py" "$work/rust"
thrift --gen py -r -out "$work/gen" "$root/tests/codegen/kitchen_sink.thrift" >"$work/thrift.log" 2>&1 \
    || { cat "$work/thrift.log" >&2; exit 1; }

python3 "$root/scripts/interop/codegen_python.py" encode "$work/gen" "$work/py"

cd "$root"
TETHER_CODEGEN_INTEROP_DIR="$work" cargo test --quiet --test codegen_kitchen_sink \
    -- --ignored --exact python_cross_check

python3 "$root/scripts/interop/codegen_python.py" check "$work/gen" "$work/rust"
echo "codegen_python: ok"
