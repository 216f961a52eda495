#!/usr/bin/env bash
# The nightly: build, explore every variant for NIGHTLY_TIME with a fresh seed, keep the artifacts.
#
#   NIGHTLY_TIME   how long to explore (default 10m; e.g. 30s, 1h)
#   NIGHTLY_OUT    where report.json, junit.xml and fixtures go (default nightly-out)
#   NIGHTLY_SHARD  this machine's shard I/N (default 1/1)
#   NIGHTLY_SEED   the run's seed (default: today's UTC date, printed first)
#   NIGHTLY_PROPTEST_CASES  cases per differential test of the models (default 10000)
#
# Exit status: 0 when every variant met its expectation, 1 when one did not (the log ends with the
# command that reproduces each failure), 2 for bad input.
set -euo pipefail
cd "$(dirname "$0")/.."
time="${NIGHTLY_TIME:-10m}"
out="${NIGHTLY_OUT:-nightly-out}"
shard="${NIGHTLY_SHARD:-1/1}"
seed_args=()
if [[ -n "${NIGHTLY_SEED:-}" ]]; then
    seed_args=(--seed "$NIGHTLY_SEED")
fi
cargo build --release --quiet
mkdir -p "$out"
# The models' differential tests against the real OS, with many more cases than `cargo test` runs.
PROPTEST_CASES="${NIGHTLY_PROPTEST_CASES:-10000}" cargo test --release --quiet -p interleave-models --tests
./target/release/interleave nightly --time "$time" --out "$out" --shard "$shard" "${seed_args[@]}" "$@"
