#!/usr/bin/env bash
# Runs every scripts/interop/*.sh (tether against Apache Thrift's own libraries), prints each
# one's result and fails if any failed. Each script is self-contained: it builds what it needs,
# uses port 0 or a free port on loopback, and cleans up after itself.
set -euo pipefail

cd "$(dirname "$0")/.."

shopt -s nullglob
scripts=(scripts/interop/*.sh)
if [ ${#scripts[@]} -eq 0 ]; then
    echo "interop: no scripts in scripts/interop/ yet; nothing to run"
    exit 0
fi

results=()
failed=0
for script in "${scripts[@]}"; do
    name=$(basename "$script" .sh)
    echo "---- interop: $name"
    begin=$(date +%s)
    if bash "$script"; then
        results+=("PASS $name ($(($(date +%s) - begin))s)")
    else
        status=$?
        results+=("FAIL $name (exit $status, $(($(date +%s) - begin))s)")
        failed=1
    fi
done

echo "---- interop results"
printf '%s\n' "${results[@]}"
passed=$(printf '%s\n' "${results[@]}" | grep -c '^PASS' || true)
echo "interop: $passed passed, $((${#results[@]} - passed)) failed"
exit "$failed"
