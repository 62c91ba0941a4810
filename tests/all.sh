#!/usr/bin/env bash
# Every test of coordsim: the README's test command, and what .ci/run runs.
#   1. the Rust tests (unit, integration, doc), compiled with optimizations;
#   2. the Slurm test: a one-node cluster on localhost (installs Slurm and MUNGE from
#      Debian's packages when missing; needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked --profile ci
cargo test --locked --profile ci --test slurm -- --ignored
