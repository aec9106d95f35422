#!/usr/bin/env bash
# The hostile-input table (issue 16): every careless or hostile case run against the built
# `schism`, with its exit code, wall time and peak memory (GNU time), as a Markdown table.
# Small hostile clients and fixtures are made in a temporary folder; nothing outside it is
# touched. Usage: scripts/hostile-table.sh [path/to/schism]  (default: target/release/schism;
# needs ../shared/fixtures and /usr/bin/time).
set -uo pipefail
cd "$(dirname "$0")/.."
SCHISM=$(realpath "${1:-target/release/schism}")
FIXTURES=$(realpath ../shared/fixtures)
T=$(mktemp -d /tmp/schism-hostile.XXXXXX)
trap 'rm -rf "$T"' EXIT
TIMEOUT=5

# One case: Cancun's value transfer, whose expected root the fakes answer with.
VT=engine/src/bench/value-transfer.json
mkdir -p "$T/one" && cp "$VT" "$T/one/case.json"

# A fake `evm` speaking geth's batch statetest protocol; $MODE says how it misbehaves after
# (or instead of) a correct answer. Tests only: schism itself starts clients without a shell.
fake() {
    local name=$1 mode=$2
    cat > "$T/$name" <<EOF
#!/bin/sh
MODE=$mode
if [ "\$1" = "--version" ]; then
  [ "\$MODE" = version-hang ] && sleep 1000
  echo "evm version 9.9.9-fake"; exit 0
fi
if [ "\$1" = "blocktest" ]; then yes 'garbage, not a verdict'; exit 0; fi
while read -r file; do
  [ -z "\$file" ] && exit 0
  root=\$(sed -n 's/.*"hash":"\(0x[0-9a-f]*\)".*/\1/p' "\$file")
  answer() {
    echo "{\"stateRoot\": \"\$root\"}" >&2
    printf '[\n  {"name": "value-transfer", "pass": true, "stateRoot": "%s", "fork": "Cancun"}\n]\n' "\$root"
  }
  case "\$MODE" in
    flood-stderr) printf '[\n  {"name": "value-transfer", "pass": true, "stateRoot": "%s", "fork": "Cancun"}\n]\n' "\$root"; yes 'log noise' >&2 ;;
    endless-line) tr -d '\n' < /dev/zero | tr '\0' y ;;
    long-array) echo '['; i=0; while [ \$i -lt 40000 ]; do echo '  {"a": 1},'; i=\$((i+1)); done; echo '  {"a": 2}'; echo ']' ;;
    grandchild) (while true; do touch "$T/grandchild-alive"; sleep 0.1; done) & sleep 1000 ;;
    *) answer ;;
  esac
done
EOF
    chmod +x "$T/$name"
}

ROWS=()
# row NAME TEST COMMAND...: runs the command under GNU time and records its row.
row() {
    local name=$1 test=$2
    shift 2
    /usr/bin/time -f "%e %M" -o "$T/time" "$@" > "$T/out" 2> "$T/err"
    local code=$?
    read -r wall kb < <(tail -1 "$T/time")
    local shown=${*/#$SCHISM/schism}
    shown=${shown//$T/\$T}
    shown=${shown//$FIXTURES/fixtures}
    ROWS+=("| $name | \`$shown\` | $code | ${wall}s | $((kb / 1024)) MB | $test |")
}

fake evm-flood flood-stderr
row "subprocess answers, then floods stderr" "faults::every_fault_is_a_finding_and_no_case_is_lost; process::tests::noise_cannot_extend_the_deadline" \
    "$SCHISM" run "$T/one" --fork Cancun --client "geth=$T/evm-flood" --timeout ${TIMEOUT}s
fake evm-line endless-line
row "subprocess prints one endless line" "process::tests::a_line_that_never_ends_is_too_large_not_a_memory_hog" \
    "$SCHISM" run "$T/one" --fork Cancun --client "geth=$T/evm-line" --timeout ${TIMEOUT}s
fake evm-array long-array
row "subprocess prints a 40,000-line JSON array" "process::tests::a_long_json_array_parses_in_linear_time" \
    "$SCHISM" run "$T/one" --fork Cancun --client "geth=$T/evm-array" --timeout ${TIMEOUT}s
fake evm-blocktest plain
row "evm blocktest prints noise for ever" "process::tests::noise_cannot_extend_the_deadline (read_blocktest)" \
    "$SCHISM" run "$FIXTURES/BlockchainTests/ValidBlocks/bcExample/mergeExample.json" --client "geth=$T/evm-blocktest" --timeout ${TIMEOUT}s
fake evm-version version-hang
row "--version hangs" "process::tests::a_short_command_finishes_within_its_deadline (version_of)" \
    "$SCHISM" run "$T/one" --fork Cancun --client "geth=$T/evm-version" --timeout ${TIMEOUT}s
fake evm-grandchild grandchild
row "wrapper's grandchild keeps the pipe open" "process::tests::a_timeout_kills_the_grandchildren_too" \
    "$SCHISM" run "$T/one" --fork Cancun --client "geth=$T/evm-grandchild" --timeout ${TIMEOUT}s
sleep 0.5; rm -f "$T/grandchild-alive"; sleep 0.5
[ -e "$T/grandchild-alive" ] && ROWS+=("| (grandchild survived the run) | | | | | |")

# In-process: an excess blob gas no header can carry (revm 43 computes its fee for hours).
mkdir -p "$T/blob"
cp "$VT" "$T/blob/fine.json"
sed 's/"currentExcessBlobGas": "0x00"/"currentExcessBlobGas": "0xffffffffffffffff"/; s/"value-transfer"/"huge-excess"/' "$VT" > "$T/blob/huge.json"
row "in-process: excess blob gas 2^64-1" "faults::an_unreachable_excess_blob_gas_is_refused_on_time_and_the_other_cases_run; deadline::tests::*" \
    "$SCHISM" run "$T/blob" --timeout ${TIMEOUT}s

# Crash folders are data.
mkdir -p "$T/folder"
cp "$VT" "$T/folder/case.json"
printf '#!/bin/sh\ntouch %s/ran\n' "$T" > "$T/evil.sh" && chmod +x "$T/evil.sh"
echo "{\"signature\": \"../../escaped\", \"clients\": [\"revm\", \"geth=$T/evil.sh\"]}" > "$T/folder/report.json"
row "repro of a folder naming a program" "cli::a_crash_folder_is_data_nothing_it_names_runs" "$SCHISM" repro "$T/folder"
[ -e "$T/ran" ] && ROWS+=("| (the folder's program ran) | | | | | |")
echo '{"clients": ["revm", "geth@/a/evm", "geth@/b/evm"]}' > "$T/folder/report.json"
row "repro of a folder of two builds" "cli::tests::a_folder_of_two_builds_names_the_command_that_replays_it" "$SCHISM" repro "$T/folder"
# A real filed folder (a canary's), its signature edited to climb out of the destination.
"$SCHISM" selftest --mutant sar-negative-shift --budget 60s --seed 1 --crashes "$T/st" > /dev/null 2>&1
filed=$(dirname "$(find "$T/st" -name report.json | head -1)")
sed -i 's/"signature": *"[^"]*"/"signature": "..\/..\/escaped"/' "$filed/report.json"
row "promote with signature ../../escaped" "cli::promote_writes_only_inside_its_destination" \
    "$SCHISM" promote "$filed" --expect revm --to "$T/to/regressions"
[ -e "$T/escaped.json" ] || [ -e "$T/to/escaped.json" ] && ROWS+=("| (promote wrote outside --to) | | | | | |")

# Careless invocations.
row "--duration too large for a clock" "cli::tests::durations_take_units_or_plain_seconds" "$SCHISM" fuzz --duration 500000000y
mkdir -p "$T/fifo" && cp "$VT" "$T/fifo/ok.json" && mkfifo "$T/fifo/pipe.json"
row "a FIFO named *.json" "cli::a_fifo_named_json_is_an_input_error_and_the_rest_runs" "$SCHISM" run "$T/fifo"
mkdir -p "$T/locked/sub" && cp "$VT" "$T/locked/ok.json" && cp "$VT" "$T/locked/sub/x.json" && chmod 000 "$T/locked/sub"
row "an unreadable subfolder (root reads it anyway)" "cli::careless_invocations_fail_fast_with_the_reason" "$SCHISM" run "$T/locked"
chmod 755 "$T/locked/sub"
mkdir -p "$T/empty"
row "a path with no fixture" "cli::careless_invocations_fail_fast_with_the_reason" "$SCHISM" run "$T/empty"
row "run --jobs 100000" "cli::careless_invocations_fail_fast_with_the_reason" "$SCHISM" run "$T/one" --jobs 100000
row "report path in a missing folder" "cli::careless_invocations_fail_fast_with_the_reason" "$SCHISM" run "$T/one" --report /nonexistent/r.json
row "bench --json to a missing folder" "cli::output_paths_are_checked_before_the_work" "$SCHISM" bench --json /nonexistent/b.json
sed 's/"network" *: *"[A-Za-z]*"/"network" : "CancunToPragueAtTime99999999999999999999k"/' \
    "$FIXTURES/BlockchainTests/ValidBlocks/bcExample/mergeExample.json" > "$T/network.json"
row "network transition time beyond u64" "sequence::blockchain::tests::networks_parse" "$SCHISM" run "$T/network.json" --client revm

# A farm killed with SIGKILL: its jobs must go with it.
"$SCHISM" fuzz --duration 60s --jobs 1 --corpus "$T/farm-corpus" --crashes "$T/farm-crashes" > /dev/null 2>&1 &
farm=$!
sleep 8
kill -9 "$farm"; wait "$farm" 2> /dev/null
sleep 2
left=$(pgrep -f "$T/farm-corpus" | wc -l)
ROWS+=("| farm main process killed -9 | \`kill -9\` of \`schism fuzz --jobs 1\` after 8 s | 137 | - | - | filing::farm_jobs_die_with_a_farm_killed_by_sigkill ($left processes left) |")

echo "| case | command | exit | wall | peak RSS | kept by |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
