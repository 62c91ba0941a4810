#!/usr/bin/env bash
# Fuzzes for a bounded time (default 300 s) one of the two targets (default sweep):
#   tests/fuzz/run.sh [SECONDS] [sweep|files]
# sweep: the sweep parser and validator, and a few trials of every cell it accepts; the
# corpus starts from the shipped sweeps.
# files: the files of real run directories altered (bytes flipped, cut short, spliced, Parquet
# metadata and run file entries rewritten; tests/fuzz/damage.rs), then read by verify, show,
# merge and --resume; the corpus starts with one input per damaged file.
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a nightly toolchain (`cargo +nightly`).
# Builds into $CARGO_TARGET_DIR/fuzz (target/fuzz without it). A crash is saved under
# tests/fuzz/artifacts/TARGET/; its input belongs in tests/fuzz_regressions.rs (a sweep) or
# tests/damaged_files.rs (a damage), or tests/catalogue.rs for what must be refused.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-300}
target=${2:-sweep}
corpus=tests/fuzz/corpus/$target
mkdir -p "$corpus"
case "$target" in
  sweep)
    cp sweeps/*.toml sweeps/bench/*.toml tests/data/tiny.toml tests/fuzz/seeds/*.toml "$corpus/"
    max_len=4096
    extra=()
    ;;
  files)
    # Each damaged file once with a byte flipped near its end and once with its work items
    # (or first run file entry) rewritten.
    for k in 0 1 2 3 4 5 6 7 8; do
      printf "\\x0$k\\x00\\xf0\\xff\\x01" >"$corpus/flip-$k"
      printf "\\x0$k\\x05\\x0d\\x06" >"$corpus/items-$k"
      printf "\\x0$k\\x07\\x03\\x14" >"$corpus/run-file-$k"
    done
    max_len=256
    # Inputs are short: try every length at once instead of growing to it.
    extra=(-len_control=0)
    ;;
  *)
    echo "unknown target $target (sweep or files)" >&2
    exit 2
    ;;
esac
cargo +nightly fuzz run --fuzz-dir tests/fuzz --target-dir "${CARGO_TARGET_DIR:-target}/fuzz" \
  "$target" "$corpus" -- -max_total_time="$seconds" -max_len="$max_len" "${extra[@]}"
