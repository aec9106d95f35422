#!/usr/bin/env bash
# JUnit output read by a standard parser: `schism run --junit` over a sample of the
# conformance fixtures and `schism fuzz --junit` over a short farm, both read by Python's
# junitparser (from PyPI, in a throw-away venv) through .ci/junit.py.
#
# Usage: .ci/junit.sh [OUT_DIR] (default target/ci-junit)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/ci-junit}
mkdir -p "$out"
cargo build --release -q -p schism-engine
venv="$out/venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q junitparser==3.2.0

# Exit 1 (failures or divergences found) is an answer, not an error of this script.
set +e
target/release/schism run ../shared/fixtures/GeneralStateTests/stExample ../shared/fixtures/BlockchainTests/ValidBlocks/bcExample \
    --junit "$out/run.xml" --show 0 > /dev/null
status=$?
[ "$status" -le 1 ] || { echo "error: schism run --junit failed (exit $status)" >&2; exit 1; }
target/release/schism fuzz --duration 10s --jobs 1 --seed 1 --corpus "$out/corpus" --crashes "$out/crashes" --junit "$out/fuzz.xml" > /dev/null
status=$?
set -e
[ "$status" -le 1 ] || { echo "error: schism fuzz --junit failed (exit $status)" >&2; exit 1; }
"$venv/bin/python" .ci/junit.py "$out/run.xml" "$out/fuzz.xml"
