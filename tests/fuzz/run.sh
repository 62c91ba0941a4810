#!/usr/bin/env bash
# Fuzzes the sweep parser and validator, and a few trials of every cell it accepts, for a
# bounded time (default 300 s):
#   tests/fuzz/run.sh [SECONDS]
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a nightly toolchain (`cargo +nightly`).
# Builds into $CARGO_TARGET_DIR/fuzz (target/fuzz without it). The corpus starts from the
# shipped sweeps; a crash is saved under tests/fuzz/artifacts/sweep/, and its input belongs
# in tests/fuzz_regressions.rs (or tests/catalogue.rs, for an input that must be refused).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-300}
mkdir -p tests/fuzz/corpus/sweep
cp sweeps/*.toml sweeps/bench/*.toml tests/data/tiny.toml tests/fuzz/seeds/*.toml \
  tests/fuzz/corpus/sweep/
cargo +nightly fuzz run --fuzz-dir tests/fuzz --target-dir "${CARGO_TARGET_DIR:-target}/fuzz" \
  sweep tests/fuzz/corpus/sweep -- -max_total_time="$seconds" -max_len=4096
