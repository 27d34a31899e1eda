#!/usr/bin/env bash
# The honeypot's answered rate with the rules on (the built-in pack) and off, flooded the same
# way by bench/sipflood, alternating, several rounds: the issue's budget is "within 10%".
#   bench/honeypot-rules-compare.sh [REQUESTS] [ROUNDS]   (defaults 100,000 and 2)
# Env: HP_ADDR (127.0.215.2), HP_PORT (5060), WINDOW (256), MIX (both), SOURCES (1),
#      DURATION (60: cap per flood, seconds).
# Needs: cargo, python3. Loopback only; every process runs under `timeout`, and the trap ends
# what this script started on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
REQUESTS=${1:-100000}
ROUNDS=${2:-2}
HP_ADDR=${HP_ADDR:-127.0.215.2} HP_PORT=${HP_PORT:-5060}
WINDOW=${WINDOW:-256} MIX=${MIX:-both} SOURCES=${SOURCES:-1} DURATION=${DURATION:-60}
TMP=$(mktemp -d /tmp/honeypot-rules.XXXXXX)
BG=()
cleanup() {
    for p in "${BG[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${BG[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

timeout 1200 cargo build -q --release --manifest-path bench/sipflood/Cargo.toml
timeout 1800 cargo build -q --release -p sipscope
FLOOD=$ROOT/bench/sipflood/target/release/sipflood
SIPSCOPE=$ROOT/target/release/sipscope

run() { # LABEL ENABLED ROUND
    local label=$1 enabled=$2 round=$3 out="$TMP/$1-$3.json"
    rm -f "$TMP"/hp.db*
    cat >"$TMP/hp.toml" <<TOML
sensor = "bench"
store = "$TMP/hp.db"
profile = "asterisk-chan-sip"
human_log = "off"
[[listen]]
transport = "udp"
address = "$HP_ADDR"
port = $HP_PORT
[[extension]]
user = "1000"
password = "1000"
[limits]
per_source_rate = 1000000
per_source_burst = 1000000
global_rate = 10000000
amplification_factor = 100.0
[rules]
enabled = $enabled
TOML
    timeout $((DURATION + 180)) "$SIPSCOPE" honeypot --config "$TMP/hp.toml" >"$TMP/hp.log" 2>&1 &
    local wrap=$!
    BG+=("$wrap")
    for _ in $(seq 100); do
        "$FLOOD" --target "$HP_ADDR:$HP_PORT" --count 1 --timeout 0.2 >/dev/null 2>&1 && break
        sleep 0.2
    done
    timeout $((DURATION + 60)) "$FLOOD" --target "$HP_ADDR:$HP_PORT" --count "$REQUESTS" --duration "$DURATION" \
        --mix "$MIX" --window "$WINDOW" --sources "$SOURCES" >"$out" 2>"$out.err" || true
    local pid
    pid=$(pgrep -P "$wrap" || true)
    [ -n "$pid" ] && kill -TERM "$pid"
    wait "$wrap" 2>/dev/null || true
    local alerts
    alerts=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM alerts').fetchone()[0])" "$TMP/hp.db" 2>/dev/null || echo "?")
    echo "$label $round $(tail -1 "$out") $alerts" >>"$TMP/results"
    echo "round $round rules $label: $(tail -1 "$out" | head -c 200) alerts=$alerts" >&2
}

for round in $(seq "$ROUNDS"); do
    run on true "$round"
    run off false "$round"
done
python3 - "$TMP/results" <<'PY'
import json, sys
best = {}
print(f"{'rules':<6} {'round':>5} {'sent':>9} {'answered':>9} {'answered/s':>11} {'p99 ms':>7} {'alerts':>7}")
for line in open(sys.argv[1]):
    label, rnd, rest = line.split(" ", 2)
    payload, alerts = rest.rsplit(" ", 1)
    try:
        r = json.loads(payload)
    except ValueError:
        print(f"{label:<6} {rnd:>5} (no result)")
        continue
    best[label] = max(best.get(label, 0), r["answered_per_s"])
    print(f"{label:<6} {rnd:>5} {r['sent']:>9} {r['answered']:>9} {r['answered_per_s']:>11.0f} "
          f"{r['latency_ms']['p99']:>7.2f} {alerts.strip():>7}")
if "on" in best and "off" in best and best["off"]:
    print(f"\nbest answered/s: rules on {best['on']:.0f}, off {best['off']:.0f}: on/off = {best['on'] / best['off']:.3f} (budget >= 0.90)")
PY
