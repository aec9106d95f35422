#!/usr/bin/env bash
# Total executions per second of a farm of two nodes on this machine (a root and a leaf on
# loopback, one job each, each pinned to a core of its own) or of one node alone with two jobs,
# the same clients, seed and duration. Run by hand, not by .ci/run; pair the two under a
# benchmark runner and compare the TOTAL lines:
#     .ci/two-nodes-vs-one.sh two 15
#     .ci/two-nodes-vs-one.sh one 15
# Prints "TOTAL <executions> <seconds> <executions per second>".
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?two or one}
seconds=${2:-15}
schism=$(realpath "${SCHISM:-target/release/schism}")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
common=(--client revm --client levm --seed 1 --no-minimize --duration "${seconds}s")
count() { grep -o '[0-9]* executions' "$1" | awk '{s += $1} END {print s + 0}'; }
case "$mode" in
two)
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    taskset -c 0 "$schism" fuzz "${common[@]}" --jobs 1 --node-name root --node-listen "127.0.0.1:$port" \
        --corpus "$dir/root/corpus" --crashes "$dir/root/crashes" > "$dir/root.out" 2> /dev/null &
    root=$!
    taskset -c 1 "$schism" fuzz "${common[@]}" --jobs 1 --node-name leaf --parent "127.0.0.1:$port" \
        --corpus "$dir/leaf/corpus" --crashes "$dir/leaf/crashes" > "$dir/leaf.out" 2> /dev/null &
    leaf=$!
    wait "$root" "$leaf" || true
    total=$(( $(count "$dir/root.out") + $(count "$dir/leaf.out") ))
    ;;
one)
    "$schism" fuzz "${common[@]}" --jobs 2 --corpus "$dir/one/corpus" --crashes "$dir/one/crashes" > "$dir/one.out" 2> /dev/null || true
    total=$(count "$dir/one.out")
    ;;
*) echo "usage: $0 two|one [SECONDS]" >&2; exit 2 ;;
esac
echo "TOTAL $total $seconds $(awk "BEGIN {printf \"%.0f\", $total / $seconds}")"
