#!/usr/bin/env bash
# Wire-exact field ids: for every IDL file under tests/codegen/ and idl/, Apache's compiler
# (`thrift --gen py`, Debian's thrift-compiler) and `tether gen` give every struct, union,
# exception and method argument/result struct the same field ids. Prints the count checked.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if ! command -v thrift >/dev/null; then
    echo "field_ids: skipped: thrift compiler not found (apt-get install thrift-compiler)"
    exit 0
fi

cd "$root"
cargo build --quiet --bin tether
tether="$root/target/debug/tether"
# The include directories the layout test uses (tests/codegen_layout.rs).
includes=(-I tests/codegen/layout/transit -I tests/codegen/layout/transit/services)

count=0
while IFS= read -r idl; do
    n=$((count + 1))
    mkdir -p "$work/py/$n" "$work/rs/$n"
    if ! thrift --gen py "${includes[@]}" -out "$work/py/$n" "$idl" >"$work/thrift.log" 2>&1; then
        # Apache's compiler refuses some IDL outright (naming.thrift and Apache's own
        # NameConflictTest use names it reserves); only IDL it accepts can be compared.
        # (Debian's 0.17 also rejects uuids.thrift: it predates the uuid type.) Not every
        # rejection says FAILURE, hence the first line as the fallback.
        reason=$(grep -o 'FAILURE[^[]*' "$work/thrift.log" | head -1 || true)
        reason=${reason:-$(head -1 "$work/thrift.log")}
        echo "field_ids: skipped $idl: thrift rejects it (${reason:-see its output})"
        rm -rf "$work/py/$n" "$work/rs/$n"
        continue
    fi
    count=$n
    "$tether" gen "$idl" "${includes[@]}" --out "$work/rs/$n" >/dev/null 2>"$work/tether.log" ||
        { echo "field_ids: tether gen failed on $idl" >&2; cat "$work/tether.log" >&2; exit 1; }
done < <(find tests/codegen idl -name '*.thrift' | sort)

echo "field_ids: $count IDL files"
python3 scripts/interop/field_ids.py "$work/py" "$work/rs"
