#!/usr/bin/env bash
# The performance regression gate: instructions executed in the trial loops of the reference
# models, counted by valgrind (callgrind), against benches/instructions.baseline.
#
#   benches/gate.sh            fails if any count grew by more than the threshold below
#   benches/gate.sh --update   rewrites the baseline with today's counts (commit it)
#
# Instruction counts, unlike times, repeat exactly run after run on a busy machine: callgrind
# counts only inside `Simulate::run_streams` (--toggle-collect), the loop over trials, and
# in `upper_tail_knots`, the part of a direct sampler's table building that runs on a thread
# of its own, so start-up, parsing and writing do not blur them. They depend on the pinned toolchain and the
# C library (libm's exp and log), so update the baseline when either changes on purpose.
set -euo pipefail
cd "$(dirname "$0")/.."

threshold_percent=2
baseline=benches/instructions.baseline
# Enough trials that the trial loop outweighs building the direct samplers' tables (which
# runs inside the first chunk and is counted too). A case marked `whole` counts the whole
# process instead: the wide sweep's cost is per cell (building models and tables, tallies,
# writing rows), outside the trial loop, and must not creep back.
cases=(
  "quorum sweeps/bench/quorum.toml 2000000"
  "quorum-per-node sweeps/bench/quorum-per-node.toml 100000"
  "2pc sweeps/bench/2pc.toml 1000000"
  "gossip sweeps/bench/gossip.toml 2000"
  "wide sweeps/bench/wide.toml 1024 whole"
)

command -v valgrind >/dev/null || { echo "gate: valgrind is needed" >&2; exit 1; }
cargo build --locked --release --quiet
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

declare -A counts
for case in "${cases[@]}"; do
  read -r name sweep trials scope <<<"$case"
  toggles=(--toggle-collect='*Simulate*run_streams*' --toggle-collect='*upper_tail_knots*')
  [ "${scope:-}" = whole ] && toggles=()
  valgrind --tool=callgrind --callgrind-out-file="$scratch/$name.out" "${toggles[@]}" \
    "${CARGO_TARGET_DIR:-target}/release/coordsim" run "$sweep" --trials "$trials" --threads 1 \
    --out "$scratch/$name" --quiet >/dev/null 2>"$scratch/$name.log"
  counts[$name]=$(awk '/^totals:/ {print $2}' "$scratch/$name.out")
done

if [ "${1:-}" = "--update" ]; then
  {
    echo "# Instructions in the trial loops (benches/gate.sh); update with benches/gate.sh --update"
    for case in "${cases[@]}"; do
      read -r name _ <<<"$case"
      echo "$name ${counts[$name]}"
    done
  } >"$baseline"
  cat "$baseline"
  exit 0
fi

status=0
printf '%-16s %15s %15s %9s\n' model baseline today change
for case in "${cases[@]}"; do
  read -r name _ <<<"$case"
  before=$(awk -v n="$name" '$1 == n {print $2}' "$baseline")
  now=${counts[$name]}
  if [ -z "$before" ]; then
    echo "gate: no baseline for $name in $baseline" >&2
    status=1
    continue
  fi
  change=$(awk -v a="$before" -v b="$now" 'BEGIN {printf "%+.2f%%", (b - a) * 100 / a}')
  printf '%-16s %15s %15s %9s\n' "$name" "$before" "$now" "$change"
  if awk -v a="$before" -v b="$now" -v t="$threshold_percent" 'BEGIN {exit !(b > a * (1 + t / 100))}'; then
    echo "gate: $name runs more than $threshold_percent% more instructions than the baseline" >&2
    status=1
  fi
done
exit $status
