#!/usr/bin/env bash
# The full suite: what CI runs (.ci/run) and what "the tests pass" means.
#
#   scripts/test.sh
#
# Works on a fresh Debian machine as root: it installs what it needs (apt packages, the Python
# `thrift` package) before running rustfmt, clippy, the tests, the docs, the golden-vector check
# and the interop scripts. Exits non-zero at the first failure.
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export DEBIAN_FRONTEND=noninteractive

# Each stage prints its name and the time so far; on exit (pass or fail) a table gives every
# stage's own duration, so a slow stage is visible at a glance.
started=$(date +%s)
stage_name=""
stage_began=$started
stage_times=()
end_stage() {
    [ -n "$stage_name" ] && stage_times+=("$(printf '%5ss  %s' $(($(date +%s) - stage_began)) "$stage_name")")
    stage_name=""
}
section() {
    end_stage
    stage_name="$*"
    stage_began=$(date +%s)
    echo
    echo "==== $* ($((stage_began - started))s)"
}
stage_summary() {
    local status=$?
    end_stage
    echo
    echo "==== stage times (total $(($(date +%s) - started))s, exit $status)"
    printf '%s\n' "${stage_times[@]}"
}
trap stage_summary EXIT

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "need root to run: $*" >&2
        return 1
    fi
}

section "setup: system packages"
# command -> Debian package that provides it
declare -A wanted=(
    [thrift]=thrift-compiler
    [strace]=strace
    [python3]=python3
    [cc]=gcc
)
missing=()
for command in "${!wanted[@]}"; do
    command -v "$command" >/dev/null 2>&1 || missing+=("${wanted[$command]}")
done
if ! python3 -m pip --version >/dev/null 2>&1; then
    missing+=(python3-pip)
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    as_root apt-get update
    as_root apt-get install -y --no-install-recommends "${missing[@]}"
else
    echo "all present: ${!wanted[*]} pip"
fi

section "setup: python thrift"
# uuid (TType 16) is only in recent releases of the Python library (0.25.0 has it); older ones
# cannot write the golden_protocols vectors, so they are upgraded.
has_thrift='from thrift.protocol.TCompactProtocol import CompactType; CompactType.UUID'
if python3 -c "$has_thrift" 2>/dev/null; then
    echo "python thrift present"
else
    # Debian marks its Python as externally managed (PEP 668); the package only serves the
    # golden and interop scripts, so installing next to the system's is what we want.
    python3 -m pip install --quiet --upgrade thrift ||
        python3 -m pip install --quiet --upgrade --break-system-packages thrift
    python3 -c "$has_thrift"
fi

section "setup: rust toolchain"
if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo not found: install a stable Rust toolchain (rustup) first" >&2
    exit 1
fi
if command -v rustup >/dev/null 2>&1; then
    for component in rustfmt clippy; do
        rustup component list --installed 2>/dev/null | grep -q "^$component" ||
            rustup component add "$component"
    done
fi
cargo --version
rustc --version

section "cargo fmt --check"
cargo fmt --all -- --check

section "cargo clippy"
cargo clippy --all-targets -- -D warnings

section "cargo test"
# --all-targets runs the lib, binaries, integration tests, examples and benches (once each, as
# tests); doc tests need their own run.
cargo test --all-targets
cargo test --doc

section "runtime only: --no-default-features"
# What a library user builds with `tether = { default-features = false }`: the runtime without
# the code generator or the CLI. The tests that need either are gated in Cargo.toml.
direct=$(cargo tree --no-default-features --edges normal --depth 1 --prefix none --format '{p}' |
    tail -n +2 | awk '{print $1}' | sort -u | tr '\n' ' ')
echo "runtime dependencies: $direct"
for dep in $direct; do
    case "$dep" in
    mio | crossbeam-channel | parking_lot | log | byteorder | socket2 | signal-hook | flate2 | uuid) ;;
    *)
        echo "unexpected runtime dependency without default features: $dep" >&2
        exit 1
        ;;
    esac
done
cargo clippy --no-default-features --all-targets -- -D warnings
cargo test --no-default-features --all-targets

section "example crate: examples/kv"
# A user's crate: tether without default features for the runtime, `codegen` for build.rs,
# generated from IDL, served and called; its test also checks docs/guide.md's snippets.
# It shares tether's target directory so the dependencies it has in common build once.
(
    cd examples/kv
    export CARGO_TARGET_DIR="$PWD/../../target/kv"
    cargo fmt -- --check
    cargo clippy --locked --all-targets -- -D warnings
    cargo test --locked
)

section "cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps

section "golden vectors"
python3 scripts/golden.py --check
python3 scripts/golden_protocols.py --check

section "interop"
bash scripts/interop.sh

section "rolling restarts"
bash scripts/rolling_restart.sh

section "soak (60 s)"
bash scripts/soak.sh 60

section "all passed"
