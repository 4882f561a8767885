#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each (default 60) and prints its exec count.
#
#   scripts/fuzz.sh 300          # five minutes per target
#   scripts/fuzz.sh 60 parse_frame
#
# cargo-fuzz wants nightly for -Zsanitizer; RUSTC_BOOTSTRAP=1 lets the stable toolchain accept
# it, so no second toolchain is needed. Findings land in fuzz/artifacts/TARGET/ and the script
# exits non-zero; turn each into a unit test.
set -euo pipefail

seconds="${1:-60}"
shift || true
cd "$(dirname "$0")/.."

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi

echo "== building fuzz targets"
# AddressSanitizer by default; without its runtime, plain libFuzzer still finds panics,
# hangs and (with -malloc_limit_mb) oversized allocations.
sanitizer=()
if ! nice -n 15 cargo fuzz build -O; then
    echo "== AddressSanitizer build failed; building without a sanitizer"
    sanitizer=(--sanitizer none)
    nice -n 15 cargo fuzz build -O "${sanitizer[@]}"
fi

failed=0
summary=()
for target in "${targets[@]}"; do
    corpus="fuzz/corpus/$target"
    mkdir -p "$corpus"
    # The golden vectors are real Thrift messages: a good place to start mutating from.
    for dir in tests/golden tests/golden_protocols; do
        if compgen -G "$dir/*.bin" >/dev/null; then
            cp -n "$dir"/*.bin "$corpus"/ 2>/dev/null || true
        fi
    done
    log="fuzz/$target.log"
    echo "== fuzzing $target for ${seconds}s (log: $log)"
    # 64 MB per allocation: inputs are at most a few KiB, so anything near that is a finding.
    if nice -n 15 cargo fuzz run -O "${sanitizer[@]}" "$target" "$corpus" -- \
        -max_total_time="$seconds" -malloc_limit_mb=64 -rss_limit_mb=1024 \
        -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result=FAILED
        failed=1
        tail -n 40 "$log"
    fi
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    summary+=("$target: $result, $execs execs in ${seconds}s")
done

echo "== fuzz summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
