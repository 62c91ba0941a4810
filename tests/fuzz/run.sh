#!/usr/bin/env bash
# Fuzzes the sweep parser and validator for a bounded time (default 300 s):
#   tests/fuzz/run.sh [SECONDS]
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and the nightly toolchain. The corpus starts
# from the shipped sweeps; a crash is saved under tests/fuzz/artifacts/sweep/, and its input
# belongs in tests/catalogue.rs or tests/fuzz_regressions.rs as a regression test.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-300}
mkdir -p tests/fuzz/corpus/sweep
cp sweeps/*.toml sweeps/bench/*.toml tests/data/tiny.toml tests/fuzz/corpus/sweep/
cargo +nightly fuzz run --fuzz-dir tests/fuzz sweep tests/fuzz/corpus/sweep -- \
  -max_total_time="$seconds" -max_len=4096
