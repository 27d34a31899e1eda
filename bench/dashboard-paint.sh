#!/usr/bin/env bash
# The dashboard's first paint over a large store, in headless Chromium (playwright-core,
# crates/sipscope/tests/browser/paint.mjs):
#   STORE=/path/to/store.db bench/dashboard-paint.sh [ROUNDS]   (default 5)
# Starts `sipscope serve` on the store (only read; the tokens file goes to $WORK) on
# 127.0.243.201, then opens the overview ROUNDS times in fresh pages and prints, per round,
# first-contentful-paint and the time until the overview's numbers (the summary table) are
# drawn, in ms from the start of navigation: first as the dashboard opens (no filter: the
# overview the server built when it started), then with a time range the server has not
# seen (a new `from` per round: the overview built for it while the page waits).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ROUNDS=${1:-5}
STORE=${STORE:?STORE=/path/to/store.db}
WORK=${WORK:-/tmp/sipscope-paint-bench}
ADDR=${ADDR:-127.0.243.201:18444}
BROWSER=$ROOT/crates/sipscope/tests/browser
mkdir -p "$WORK"
cargo build -q --release -p sipscope --bin sipscope
[ -d "$BROWSER/node_modules/playwright-core" ] || (cd "$BROWSER" && npm ci --silent)
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -f "$WORK/serve.tokens"
"$ROOT/target/release/sipscope" serve --db "$STORE" --tokens "$WORK/serve.tokens" --listen "$ADDR" \
  --rate 1000000 --burst 1000000 2>"$WORK/serve.err" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q '#token=' "$WORK/serve.err" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[^ ]*#token=sst_[0-9a-f]*' "$WORK/serve.err")
# The overview the server builds when it starts: wait for it, as a user opening the dashboard
# a little after the server would.
token=${url##*#token=}
curl -s -o /dev/null -H "Authorization: Bearer $token" "http://$ADDR/api/v1/report"
echo "overview as the dashboard opens (kept since the server started):"
node "$BROWSER/paint.mjs" --url "$url" --rounds "$ROUNDS"
echo "overview for a time range the server has not seen (one per round):"
for i in $(seq "$ROUNDS"); do
  node "$BROWSER/paint.mjs" --url "$url" --rounds 1 --query "from=$((1000 + i))"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
