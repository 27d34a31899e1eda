#!/usr/bin/env bash
# The dashboard's first paint over a large store, in headless Chromium (playwright-core,
# crates/sipscope/tests/browser/paint.mjs):
#   STORE=/path/to/store.db bench/dashboard-paint.sh [ROUNDS]   (default 5)
# Starts `sipscope serve` on the store (only read; the tokens file goes to $WORK) on
# 127.0.243.201, then opens the overview ROUNDS times in fresh pages and prints, per round,
# first-contentful-paint and the time until the overview's numbers (the summary table) are
# drawn, in ms from the start of navigation: first as the dashboard opens (no filter: the
# overview the server built when it started), then with a time range the server has not
# seen (a new `from` per round: the overview built for it while the page waits), then with
# the dashboard's "24 h" quick range as a click sets it (its start from /api/v1/ranges, asked
# after the server has built it; NOW, Unix seconds, default a second after the newest stored
# event, is the instant the quick ranges count back from: `serve --now`).
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
NOW=${NOW:-$(python3 -c "import sqlite3,sys; print(sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True).execute('select max(ts_ns) / 1000000000 + 1 from events').fetchone()[0])" "$STORE")}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -f "$WORK/serve.tokens"
"$ROOT/target/release/sipscope" serve --db "$STORE" --tokens "$WORK/serve.tokens" --listen "$ADDR" \
  --rate 1000000 --burst 1000000 --now "$NOW" 2>"$WORK/serve.err" &
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
# The quick range "24 h" as a click sets it, once the server has built it (its counter).
day=$(python3 - "$ADDR" "$token" <<'PY'
import calendar, json, sys, time, urllib.request
addr, token = sys.argv[1], sys.argv[2]
def get(path):
    req = urllib.request.Request(f"http://{addr}{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return r.read().decode()
ranges = json.loads(get("/api/v1/ranges"))["ranges"]
while int(next(l.split()[-1] for l in get("/metrics").splitlines()
               if l.startswith('sipscope_api_reports_total{how="prebuilt"}'))) < 1 + sum(1 for r in ranges if r["from"]):
    time.sleep(0.05)
day = next(r["from"] for r in ranges if r["label"] == "24 h").replace(".000000000Z", "Z")
print(day, calendar.timegm(time.strptime(day, "%Y-%m-%dT%H:%M:%SZ")))
PY
)
read -r day day_s <<<"$day"
echo "overview for the quick range \"24 h\" (from=$day, kept since the server built it):"
node "$BROWSER/paint.mjs" --url "$url" --rounds "$ROUNDS" --query "from=$day"
echo "the same range but a few seconds later, never seen: built while the page waits (one per round):"
for i in $(seq "$ROUNDS"); do
  node "$BROWSER/paint.mjs" --url "$url" --rounds 1 --query "from=$((day_s + i))"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
