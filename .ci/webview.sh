#!/usr/bin/env bash
# The findings web view in a real browser: starts `schism serve` on a loopback port over a
# crashes folder, loads the index and a finding page in Debian's headless Chromium
# (--dump-dom, after the page has loaded) and checks what they show; saves a screenshot of
# each. Installs chromium when it is missing (as root, non-interactively).
#
# Usage: .ci/webview.sh [CRASHES_DIR] [SCREENSHOT_DIR]
# (default: the committed fixture engine/tests/data/crashes, screenshots in target/webview).
set -euo pipefail
cd "$(dirname "$0")/.."
crashes=${1:-engine/tests/data/crashes}
screens=${2:-target/webview}
mkdir -p "$screens"

if ! command -v chromium > /dev/null; then
    started=$(date +%s)
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core > /dev/null
    echo "installed chromium in $(( $(date +%s) - started )) s"
fi

cargo build --release -q -p schism-engine
log=$(mktemp)
profile=$(mktemp -d)
target/release/schism serve "$crashes" --listen 127.0.0.1:0 > "$log" 2>&1 &
server=$!
trap 'kill "$server" 2> /dev/null || true; rm -rf "$profile" "$log"' EXIT
for _ in $(seq 50); do
    grep -q 'serving' "$log" && break
    sleep 0.1
done
url=$(grep -o 'http://[0-9.:]*/' "$log" | head -n 1)
if [ -z "$url" ]; then
    echo "error: schism serve did not start:" >&2
    cat "$log" >&2
    exit 1
fi

browser() {
    # A browser that hangs fails the check rather than the whole CI run's time.
    timeout 90 chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
        --user-data-dir="$profile" "$@" 2> /dev/null
}
fail() {
    echo "error: $1" >&2
    exit 1
}

# The index: every folder's signature, its clients with versions, filter and sort links.
index=$(browser --dump-dom "$url")
signatures=$(find "$crashes" -mindepth 2 -maxdepth 2 -name report.json -printf '%h\n' | xargs -n 1 basename | sort)
[ -n "$signatures" ] || fail "$crashes holds no finding"
for sig in $signatures; do
    grep -q "href=\"/finding/$sig\"" <<< "$index" || fail "index does not list $sig"
done
first=$(head -n 1 <<< "$signatures")
for client in $(python3 -c 'import json,sys; print(" ".join(c["id"] for c in json.load(open(sys.argv[1]))["clients"]))' "$crashes/$first/report.json"); do
    grep -q ">$client<" <<< "$index" || fail "index does not offer client $client as a filter"
done
grep -q 'sort=count' <<< "$index" || fail "index has no sort links"
filtered=$(browser --dump-dom "${url}?kind=fault")
grep -q "0 of $(wc -w <<< "$signatures") findings shown" <<< "$filtered" || grep -q 'kind-fault' <<< "$filtered" || fail "the kind filter does not filter"

# A finding page: signature, the clients, the reproduce command with its copy button, the
# trace alignment, the post-state differences and the links to case.json and the traces.
page=$(browser --dump-dom "${url}finding/$first")
grep -q "<h1>$first</h1>" <<< "$page" || fail "finding page has no heading $first"
command=$(python3 -c 'import json,sys,html; print(html.escape(json.load(open(sys.argv[1]))["reproduce"][0]["command"], quote=False))' "$crashes/$first/report.json")
grep -qF "$command" <<< "$page" || fail "finding page lacks the reproduce command: $command"
grep -q 'data-copy="cmd-1"' <<< "$page" || fail "finding page has no copy button"
grep -q 'id="alignment"' <<< "$page" || grep -q 'do not differ' <<< "$page" || grep -q 'No trace comparison' <<< "$page" || fail "finding page has no trace section"
grep -q "href=\"/files/$first/case.json\"" <<< "$page" || fail "finding page does not link case.json"
grep -q "href=\"/files/$first/traces/" <<< "$page" || fail "finding page does not link the traces"
# The linked files are served; what is outside the folder is not.
curl -sf "${url}files/$first/case.json" | python3 -m json.tool > /dev/null || fail "case.json is not served"
status=$(curl -s -o /dev/null -w '%{http_code}' --path-as-is "${url}files/../../etc/passwd")
[ "$status" != 200 ] || fail "a path outside the folder was served"
status=$(curl -s -o /dev/null -w '%{http_code}' "${url}files/%2e%2e/%2e%2e/etc/passwd")
[ "$status" != 200 ] || fail "an encoded path outside the folder was served"
stats=$(browser --dump-dom "${url}stats")
grep -q '<h1>Statistics</h1>' <<< "$stats" || fail "no statistics page"
if [ -s "$crashes/.history.jsonl" ]; then
    [ "$(grep -o '<svg' <<< "$stats" | wc -l)" -eq 5 ] || fail "the statistics page does not chart the farm's history"
fi

browser --screenshot="$screens/index.png" --window-size=1280,900 "$url" > /dev/null
browser --screenshot="$screens/finding.png" --window-size=1280,900 "${url}finding/$first" > /dev/null
browser --screenshot="$screens/stats.png" --window-size=1280,900 "${url}stats" > /dev/null
echo "web view checked in chromium ($(chromium --version)): index of $(wc -w <<< "$signatures") findings, finding $first; screenshots in $screens"
