#!/usr/bin/env bash
# Every test of coordsim: the README's test command, and what .ci/run runs.
#   1. the Rust tests (unit, integration, doc), compiled with optimizations;
#   2. the notebooks, executed headless against a fresh run of sweeps/quick.toml, and the
#      Python interop tests (pandas, DuckDB, polars) on the same run, in a virtual
#      environment (target/venv) built from notebooks/requirements.txt;
#   3. the performance regression gate: instruction counts of the reference models' trial
#      loops against benches/instructions.baseline (valgrind; see BENCHMARKS.md);
#   4. the Slurm test: a one-node cluster on localhost (installs Slurm and MUNGE from
#      Debian's packages when missing; needs root).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --locked --profile ci

venv=target/venv
if ! cmp -s notebooks/requirements.txt "$venv/requirements.txt" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r notebooks/requirements.txt
  cp notebooks/requirements.txt "$venv/requirements.txt"
fi
run=$(mktemp -d)/quick
trap 'rm -rf "$(dirname "$run")"' EXIT
target/ci/coordsim run sweeps/quick.toml --out "$run" --quiet
"$venv/bin/python" tests/python/interop.py "$run"
COORDSIM_RUN="$run" "$venv/bin/python" tests/python/run_notebooks.py \
  notebooks/coordination-ladder.ipynb notebooks/latency-cdf.ipynb notebooks/essay-check.ipynb

benches/gate.sh

cargo test --locked --profile ci --test slurm -- --ignored
