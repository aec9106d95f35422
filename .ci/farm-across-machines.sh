#!/usr/bin/env bash
# A farm across three machines, for real, on this one: three network namespaces joined by veth
# pairs (root <-> leaf-a on 10.77.1.0/24, root <-> leaf-b on 10.77.2.0/24), a root farm and two
# leaf farms joined to it, and a canary client (revm with a planted MCOPY bug) on leaf-a only.
# Checks that:
#   1. the root files leaf-a's finding, with `"nodes": ["leaf-a"]` in report.json;
#   2. corpus entries flow both ways (each node's metrics count entries sent and received);
#   3. killing leaf-b (kill -9) leaves the root and leaf-a fuzzing, and leaf-b rejoins;
#   4. with the root's link to leaf-a down, leaf-a fuzzes on, reconnects when it comes back,
#      and every folder it filed meanwhile reaches the root;
#   5. a root killed and restarted resumes from its corpus and crashes folder, the leaves
#      reconnect, and nothing is filed twice.
# Prints the figures (executions per node and in total, the leaf-to-root filing time, what
# happened on each kill) and writes them to target/ci-fuzz/farm-across-machines.txt.
# Needs root (ip netns) and iproute2; all traffic stays inside the namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v ip > /dev/null; then
    apt-get install -y iproute2 > /dev/null
fi
schism=${SCHISM:-target/release/schism}
[ -x "$schism" ] || cargo build --release -p schism-engine
schism=$(realpath "$schism")
out=$(realpath -m target/ci-fuzz/mm)
rm -rf "$out"
mkdir -p "$out"
report=target/ci-fuzz/farm-across-machines.txt
tag="s$$"                       # namespace and link names unique to this run
ns_root="$tag-root" ns_a="$tag-a" ns_b="$tag-b"
pids=()

cleanup() {
    set +e
    for pid in "${pids[@]}"; do kill -INT "$pid" 2> /dev/null; done
    sleep 2
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2> /dev/null; done
    for ns in "$ns_root" "$ns_a" "$ns_b"; do ip netns del "$ns" 2> /dev/null; done
}
trap cleanup EXIT INT TERM

say() { echo "[$(date +%T)] $*" | tee -a "$out/log"; }
fail() { say "FAIL: $*"; for f in "$out"/*.err; do [ -f "$f" ] || continue; echo "--- $f"; tr '\r' '\n' < "$f" | grep -v '^\[' | tail -20; done; exit 1; }

# The three hosts.
for ns in "$ns_root" "$ns_a" "$ns_b"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
done
ip link add "$tag-ra" netns "$ns_root" type veth peer name "$tag-ar" netns "$ns_a"
ip link add "$tag-rb" netns "$ns_root" type veth peer name "$tag-br" netns "$ns_b"
ip -n "$ns_root" addr add 10.77.1.1/24 dev "$tag-ra"
ip -n "$ns_a" addr add 10.77.1.2/24 dev "$tag-ar"
ip -n "$ns_root" addr add 10.77.2.1/24 dev "$tag-rb"
ip -n "$ns_b" addr add 10.77.2.2/24 dev "$tag-br"
for pair in "$ns_root:$tag-ra" "$ns_root:$tag-rb" "$ns_a:$tag-ar" "$ns_b:$tag-br"; do
    ip -n "${pair%%:*}" link set "${pair#*:}" up
done
ip -n "$ns_a" route get 10.77.1.1 > /dev/null || fail "leaf-a has no route to the root"

# start NAME NS ARGS...: a farm in a namespace, its output in $out/NAME.{out,err}; its pid in
# $started. Each farm's job binds to the first core the farm may use: leaf-a gets the second
# core, the others the first (three machines' worth of farms on two cores).
start() {
    local name=$1 ns=$2 cores=0
    shift 2
    if [ "$name" = leaf-a ] && [ "$(nproc)" -gt 1 ]; then cores=1; fi
    ip netns exec "$ns" taskset -c "$cores" "$schism" fuzz --jobs 1 --duration 10m --no-minimize --node-name "$name" \
        --corpus "$out/$name/corpus" --crashes "$out/$name/crashes" --metrics 127.0.0.1:9100 "$@" \
        >> "$out/$name.out" 2>> "$out/$name.err" &
    started=$!
    pids+=("$started")
}

# metric NS NAME LABELS: one value from a node's metrics endpoint (empty if absent).
metric() {
    ip netns exec "$1" bash -c 'exec 3<>/dev/tcp/127.0.0.1/9100 && printf "GET /metrics HTTP/1.0\r\n\r\n" >&3 && cat <&3' 2> /dev/null \
        | grep -F "$2{$3}" | awk '{print $2}' | head -1 || true
}

# executions EACH TOTAL: says each node's executions as the root's metrics give them ("of NAME
# EACH"), then their sum ("in total TOTAL").
executions() {
    local total=0 name n
    for name in root leaf-a leaf-b; do
        n=$(metric "$ns_root" schism_executions_total "node=\"$name\"")
        say "executions of $name $1: ${n:-?}"
        total=$((total + ${n:-0}))
    done
    say "executions in total${2:+ $2}: $total"
}

# wait_for SECONDS DESCRIPTION COMMAND...: polls every 0.2 s.
wait_for() {
    local limit=$1 what=$2
    shift 2
    local until=$((SECONDS + limit))
    while ! "$@" > /dev/null 2>&1; do
        [ "$SECONDS" -lt "$until" ] || fail "no $what within ${limit}s"
        sleep 0.2
    done
}

filed_by() { grep -l "\"$2\"" "$1"/*/report.json 2> /dev/null | head -1 | grep -q .; }
# counts DIR: "folder count" for each filed folder.
counts() { for f in "$1"/*/report.json; do echo "$(basename "$(dirname "$f")") $(grep -m1 '"count"' "$f" | tr -dc 0-9)"; done; }
folders() { find "$1" -mindepth 2 -maxdepth 2 -name report.json 2> /dev/null | awk -F/ '{print $(NF-1)}' | sort; }
# Whether the root has filed every folder leaf-a filed. A folder leaf-a files just now reaches
# the root within seconds, so the checks wait for this rather than look once (a look 5 s after
# a reconnection failed when leaf-a filed a new folder at that very moment).
all_at_root() { [ -z "$(comm -23 <(folders "$out/leaf-a/crashes") <(folders "$out/root/crashes"))" ]; }

say "root, leaf-a (canary revm~mcopy-overlap) and leaf-b in namespaces $ns_root, $ns_a, $ns_b"
start root "$ns_root" --client revm --node-listen 0.0.0.0:7700
root_pid=$started
start leaf-a "$ns_a" --client revm --client revm~mcopy-overlap --parent 10.77.1.1:7700
a_pid=$started
start leaf-b "$ns_b" --client revm --parent 10.77.2.1:7700
b_pid=$started

# 1. The finding: when leaf-a files it, and when the root has it.
wait_for 120 "finding on leaf-a" bash -c "ls $out/leaf-a/crashes/*/report.json"
t_leaf=$(date +%s.%N)
wait_for 60 "leaf-a's finding at the root" filed_by "$out/root/crashes" leaf-a
t_root=$(date +%s.%N)
latency=$(awk "BEGIN{printf \"%.1f\", $t_root - $t_leaf}")
first=$(folders "$out/root/crashes" | head -1)
say "1. leaf-a filed a finding; the root filed it ${latency}s later: $first, nodes $(grep -A2 '"nodes"' "$out/root/crashes/$first/report.json" | tr -d ' \n')"

# 2. Corpus entries both ways.
sleep 5
for node in root:"$ns_root" leaf-a:"$ns_a" leaf-b:"$ns_b"; do
    name=${node%%:*} ns=${node#*:}
    sent=$(metric "$ns" schism_link_sent_total "node=\"$name\"")
    received=$(metric "$ns" schism_link_received_total "node=\"$name\"")
    say "2. $name: $sent corpus entries sent, $received received"
    [ "${received:-0}" -gt 0 ] || fail "$name received no corpus entry"
done

# 3. Kill leaf-b; the others go on; leaf-b rejoins.
before_a=$(metric "$ns_a" schism_executions_total 'node="leaf-a"')
before_root=$(metric "$ns_root" schism_executions_total 'node="root"')
kill -KILL "$b_pid"
say "3. leaf-b killed (kill -9)"
sleep 15
after_a=$(metric "$ns_a" schism_executions_total 'node="leaf-a"')
after_root=$(metric "$ns_root" schism_executions_total 'node="root"')
[ "$after_a" -gt "$before_a" ] && [ "$after_root" -gt "$before_root" ] || fail "the farm stopped with leaf-b"
children=$(metric "$ns_root" schism_children 'node="root"')
say "3. 15 s later: root ${before_root}->${after_root} executions, leaf-a ${before_a}->${after_a}; root has $children child(ren)"
start leaf-b "$ns_b" --client revm --parent 10.77.2.1:7700
b_pid=$started
wait_for 30 "leaf-b rejoining" bash -c "[ \"\$(ip netns exec $ns_b bash -c 'exec 3<>/dev/tcp/127.0.0.1/9100 && printf \"GET /metrics HTTP/1.0\r\n\r\n\" >&3 && cat <&3' | grep -F 'schism_parent_connected{node=\"leaf-b\"}' | awk '{print \$2}')\" = 1 ]"
say "3. leaf-b restarted and rejoined; it resumed from $(ls "$out/leaf-b/corpus" | wc -l) corpus entries"

# 4. The root's link to leaf-a goes down for 30 s.
ip -n "$ns_root" link set "$tag-ra" down
t_down=$SECONDS
say "4. root's link to leaf-a down"
wait_for 40 "leaf-a noticing" bash -c "tr '\r' '\n' < $out/leaf-a.err | grep -q 'lost parent'"
say "4. leaf-a noticed after $((SECONDS - t_down)) s"
down_a=$(metric "$ns_a" schism_executions_total 'node="leaf-a"')
sleep $((30 - (SECONDS - t_down) > 0 ? 30 - (SECONDS - t_down) : 0))
up_a=$(metric "$ns_a" schism_executions_total 'node="leaf-a"')
[ "$up_a" -gt "$down_a" ] || fail "leaf-a stopped fuzzing without its parent"
ip -n "$ns_root" link set "$tag-ra" up
say "4. link up again after $((SECONDS - t_down)) s; leaf-a fuzzed on meanwhile (${down_a}->${up_a} executions)"
wait_for 40 "leaf-a reconnecting" bash -c "tr '\r' '\n' < $out/leaf-a.err | grep -q 'connected to parent .* again'"
say "4. leaf-a reconnected $((SECONDS - t_down)) s after the link went down"
wait_for 30 "arrival at the root of every folder leaf-a filed" all_at_root
say "4. every folder leaf-a filed ($(folders "$out/leaf-a/crashes" | wc -l)) is in the root's crashes folder"

# Executions so far, per node, as the root sees them (the root's restart below starts its own
# count again).
executions "before the root's restart" "before the root's restart"

# 5. The root dies and comes back.
counts "$out/root/crashes" > "$out/counts-before"
kill -KILL "$root_pid"
say "5. root killed (kill -9) with $(folders "$out/root/crashes" | wc -l) folders and $(ls "$out/root/corpus" | wc -l) corpus entries"
sleep 5
grep -q . <(tr '\r' '\n' < "$out/leaf-a.err" | grep 'lost parent' | sed -n 2p) || fail "leaf-a did not notice the root's death"
start root "$ns_root" --client revm --node-listen 0.0.0.0:7700
root_pid=$started
t_restart=$SECONDS
wait_for 40 "leaf-a back at the restarted root" bash -c "[ \$(tr '\r' '\n' < $out/leaf-a.err | grep -c 'connected to parent .* again') -ge 2 ]"
wait_for 40 "leaf-b back at the restarted root" bash -c "[ \$(tr '\r' '\n' < $out/leaf-b.err | grep -c 'connected to parent .* again') -ge 1 ]"
sleep 6
counts "$out/root/crashes" > "$out/counts-after"
changed=$(comm -23 "$out/counts-before" "$out/counts-after" | tr '\n' ' ')
[ -z "$changed" ] || fail "the restarted root counted findings again: $changed"
wait_for 30 "arrival at the restarted root of every folder leaf-a filed" all_at_root
say "5. root restarted (resumed from $(ls "$out/root/corpus" | wc -l) corpus entries); both leaves reconnected within $((SECONDS - t_restart)) s and announced their findings again; no count changed: $(tr '\n' ' ' < "$out/counts-after")"
for name in root leaf-a leaf-b; do
    wait_for 60 "statistics of $name at the root" bash -c "[ \"\$(ip netns exec $ns_root bash -c 'exec 3<>/dev/tcp/127.0.0.1/9100 && printf \"GET /metrics HTTP/1.0\r\n\r\n\" >&3 && cat <&3' | grep -F 'schism_executions_total{node=\"$name\"}' | awk '{print \$2}')\" -gt 0 ]"
done

# Figures: executions per node and in total, from the root's metrics.
executions "(since its last start, as the root sees them)" ""

for pid in "${pids[@]}"; do kill -INT "$pid" 2> /dev/null || true; done
sleep 8
say "summaries:"
for name in root leaf-a leaf-b; do
    say "$name: $(grep -h 'executions' "$out/$name.out" | tr '\n' ';')"
done
cp "$out/log" "$report"
say "PASS: farm across machines (figures in $report)"
