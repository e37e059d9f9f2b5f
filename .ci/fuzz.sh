#!/usr/bin/env bash
# Fuzzes caseledger's parsers with cargo-fuzz (libFuzzer), each target for a bounded time:
#   audit_verify       the offline `audit verify` reader: export lines, chain verifier, checkpoints
#   chain_seal_verify  whatever the store seals, the export verifier accepts with the same hash
#   event_decode       stored envelopes and events decode without panics and round-trip
#
# Usage: bash .ci/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
#
# cargo-fuzz needs nightly compiler flags (-Z sanitizer=address); on a stable toolchain
# RUSTC_BOOTSTRAP=1 unlocks them. The fuzz crate is its own workspace (fuzz/Cargo.toml, own
# Cargo.lock and target dir). Corpora grow in fuzz/corpus/<target> (not committed) from the
# committed seeds in fuzz/seeds/<target>; a crash leaves its input in fuzz/artifacts/<target>
# and fails this script.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-60}
export RUSTC_BOOTSTRAP=1
export CARGO_INCREMENTAL=0

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "installing cargo-fuzz from crates.io"
    cargo install cargo-fuzz --locked --version 0.13.2
fi

cargo fuzz build -O
for target in $(cargo fuzz list); do
    mkdir -p "corpus/$target"
    echo "=== fuzzing $target for ${seconds}s ($(date -u +%H:%M:%S))"
    cargo fuzz run -O "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
done
echo "fuzzing passed: no crash in $(cargo fuzz list | wc -l) targets, ${seconds}s each"
