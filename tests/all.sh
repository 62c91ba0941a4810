#!/usr/bin/env bash
# Every test of coordsim: the README's test command, and what .ci/run runs.
#   1. the Rust tests (unit, integration, doc), compiled with optimizations, and the example
#      examples/custom_protocol.rs (a protocol defined outside the crate), run; then the API
#      documentation built with warnings as errors;
#   2. the notebooks, executed headless against a fresh run of sweeps/quick.toml (the case
#      studies against fresh runs of sweeps/cases/), and the
#      Python interop tests (pandas, DuckDB, polars) on the same run, in a virtual
#      environment (target/venv) built from notebooks/requirements.txt, every package's
#      version pinned by notebooks/constraints.txt;
#   3. the performance regression gate: instruction counts of the reference models' trial
#      loops against benches/instructions.baseline (valgrind; see BENCHMARKS.md);
#   4. the Slurm test: a one-node cluster on localhost (installs Slurm and MUNGE from
#      Debian's packages when missing; needs root).
# On a fresh Debian machine it installs what is missing from Debian's packages (as root):
# python3 and python3-venv for step 2, valgrind for step 3, Slurm and MUNGE for step 4.
# Cargo's output goes to $CARGO_TARGET_DIR when set, as usual, and to target/ otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
  echo "installing $* from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

cargo test --locked --profile ci
# The API documentation builds without a warning: no broken links, none into private items.
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps --profile ci

venv=target/venv
pins() { cat notebooks/requirements.txt notebooks/constraints.txt; }
if ! pins | cmp -s - "$venv/pins.txt" 2>/dev/null; then
  rm -rf "$venv"
  command -v python3 >/dev/null || apt_install python3
  # Debian's python3 has no ensurepip, so no venv, until python3-venv is installed.
  if ! python3 -m venv "$venv" 2>/dev/null; then
    rm -rf "$venv"
    apt_install python3-venv
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    -r notebooks/requirements.txt -c notebooks/constraints.txt
  pins > "$venv/pins.txt"
fi
run=$(mktemp -d)/quick
trap 'rm -rf "$(dirname "$run")"' EXIT
"${CARGO_TARGET_DIR:-target}/ci/coordsim" run sweeps/quick.toml --out "$run" --quiet
# A protocol defined outside the crate, swept through the same engine into the same files;
# it checks its success rates against their closed form and verifies what it wrote.
"${CARGO_TARGET_DIR:-target}/ci/examples/custom_protocol" "$(dirname "$run")/example" >/dev/null
"$venv/bin/python" tests/python/interop.py "$run"
COORDSIM_RUN="$run" "$venv/bin/python" tests/python/run_notebooks.py \
  notebooks/coordination-ladder.ipynb notebooks/latency-cdf.ipynb notebooks/essay-check.ipynb
# The case studies read one run of each sweep in sweeps/cases/.
cases="$(dirname "$run")/cases"
for sweep in sweeps/cases/*.toml; do
  "${CARGO_TARGET_DIR:-target}/ci/coordsim" run "$sweep" --out "$cases/$(basename "$sweep" .toml)" --quiet
done
COORDSIM_CASES="$cases" "$venv/bin/python" tests/python/run_notebooks.py notebooks/case-studies.ipynb

command -v valgrind >/dev/null || apt_install valgrind
benches/gate.sh

cargo test --locked --profile ci --test slurm -- --ignored
