#!/usr/bin/env bash
# The nightly: build, explore every variant for NIGHTLY_TIME with a fresh seed, keep the artifacts.
#
#   NIGHTLY_TIME   how long to explore (default 10m; e.g. 30s, 1h); every variant gets its first
#                  chunk however short this is
#   NIGHTLY_CHUNKS at most this many chunks (500 executions) per variant; without NIGHTLY_TIME the
#                  run is bounded by this alone, by work instead of the clock
#   NIGHTLY_OUT    where junit.xml, report.json and fixtures go (default nightly-out): new, empty, or
#                  an earlier nightly's (its files are removed first; anything else is refused)
#   NIGHTLY_HTML_DIR  where a self-contained HTML page per counterexample goes (default: NIGHTLY_OUT,
#                  beside the fixtures, so the pages are uploaded and cleared with them)
#   NIGHTLY_SHARD  this machine's shard I/N (default 1/1)
#   NIGHTLY_SEED   the run's seed (default: today's UTC date, printed first)
#   NIGHTLY_PROPTEST_CASES  cases per differential test of the models (default 10000)
#
# Exit status: 0 when every variant met its expectation, 1 when one did not or was skipped (the log
# ends with the command that reproduces each failure), 2 for bad input or output that could not be
# written.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${NIGHTLY_OUT:-nightly-out}"
shard="${NIGHTLY_SHARD:-1/1}"
budget_args=()
if [[ -n "${NIGHTLY_TIME:-}" || -z "${NIGHTLY_CHUNKS:-}" ]]; then
    budget_args+=(--time "${NIGHTLY_TIME:-10m}")
fi
if [[ -n "${NIGHTLY_CHUNKS:-}" ]]; then
    budget_args+=(--chunks "$NIGHTLY_CHUNKS")
fi
seed_args=()
if [[ -n "${NIGHTLY_SEED:-}" ]]; then
    seed_args=(--seed "$NIGHTLY_SEED")
fi
cargo build --release --quiet
# The models' differential tests against the real OS, with many more cases than `cargo test` runs.
PROPTEST_CASES="${NIGHTLY_PROPTEST_CASES:-10000}" cargo test --release --quiet -p interleave-models --tests
./target/release/interleave nightly "${budget_args[@]}" --out "$out" --html-dir "${NIGHTLY_HTML_DIR:-$out}" \
    --shard "$shard" "${seed_args[@]}" "$@"
