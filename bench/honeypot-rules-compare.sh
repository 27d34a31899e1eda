#!/usr/bin/env bash
# The honeypot's answered rate with the rules on (the built-in pack) and off, flooded the same
# way by bench/sipflood, alternating, several rounds: the issue's budget is "within 10%".
#   bench/honeypot-rules-compare.sh [REQUESTS] [ROUNDS]   (defaults 300,000 and 7)
# Prints each round, the median and best answered rates with their on/off ratios, and the
# honeypot's CPU time (every thread, user + system, over the flood) per answered request: on a
# shared or virtual machine the rates move by 10-20 % between identical rounds, so use 5 or
# more rounds and read the medians and the CPU per answer. A round of 300,000 requests floods
# for about 5 s on a 2-core VM; rounds of 100,000 (under 2 s) are dominated by that noise.
# Env: HP_ADDR (127.0.215.2), HP_PORT (5060), WINDOW (256), MIX (both), SOURCES (1),
#      DURATION (60: cap per flood, seconds), SIPSCOPE (a given binary; default: built here).
# Needs: cargo, python3. Loopback only; every process runs under `timeout`, and the trap ends
# what this script started on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
REQUESTS=${1:-300000}
ROUNDS=${2:-7}
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
[ -n "${SIPSCOPE:-}" ] || timeout 1800 cargo build -q --release -p sipscope
FLOOD=$ROOT/bench/sipflood/target/release/sipflood
SIPSCOPE=${SIPSCOPE:-$ROOT/target/release/sipscope}

# CPU ticks (user + system, every thread) a process has used so far; 0 when it is gone.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

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
    local pid cpu_before cpu_after
    pid=$(pgrep -P "$wrap" || true)
    cpu_before=$(cpu_ticks "$pid")
    timeout $((DURATION + 60)) "$FLOOD" --target "$HP_ADDR:$HP_PORT" --count "$REQUESTS" --duration "$DURATION" \
        --mix "$MIX" --window "$WINDOW" --sources "$SOURCES" >"$out" 2>"$out.err" || true
    cpu_after=$(cpu_ticks "$pid")
    [ -n "$pid" ] && kill -TERM "$pid"
    wait "$wrap" 2>/dev/null || true
    local alerts
    alerts=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM alerts').fetchone()[0])" "$TMP/hp.db" 2>/dev/null || echo "?")
    echo "$label $round $(tail -1 "$out") $alerts $((cpu_after - cpu_before))" >>"$TMP/results"
    echo "round $round rules $label: $(tail -1 "$out" | head -c 200) alerts=$alerts" >&2
}

# Which side goes first alternates, so neither always follows the other's leftovers.
for round in $(seq "$ROUNDS"); do
    if ((round % 2)); then
        run on true "$round"
        run off false "$round"
    else
        run off false "$round"
        run on true "$round"
    fi
done
python3 - "$TMP/results" "$(getconf CLK_TCK)" <<'PY'
import json, statistics, sys
tick = 1e6 / int(sys.argv[2])
rates, cpu = {}, {}
print(f"{'rules':<6} {'round':>5} {'sent':>9} {'answered':>9} {'answered/s':>11} {'p99 ms':>7} {'alerts':>7} {'CPU us/answer':>14}")
for line in open(sys.argv[1]):
    label, rnd, rest = line.split(" ", 2)
    payload, alerts, ticks = rest.rsplit(" ", 2)
    try:
        r = json.loads(payload)
    except ValueError:
        print(f"{label:<6} {rnd:>5} (no result)")
        continue
    rates.setdefault(label, []).append(r["answered_per_s"])
    per = int(ticks) * tick / r["answered"] if r["answered"] else float("nan")
    cpu.setdefault(label, []).append(per)
    print(f"{label:<6} {rnd:>5} {r['sent']:>9} {r['answered']:>9} {r['answered_per_s']:>11.0f} "
          f"{r['latency_ms']['p99']:>7.2f} {alerts.strip():>7} {per:>14.2f}")
if "on" in rates and "off" in rates:
    best = {k: max(v) for k, v in rates.items()}
    med = {k: statistics.median(v) for k, v in rates.items()}
    cmed = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"\nmedian answered/s: rules on {med['on']:.0f}, off {med['off']:.0f}: on/off = {med['on'] / med['off']:.3f} (budget >= 0.90)")
    print(f"best answered/s:   rules on {best['on']:.0f}, off {best['off']:.0f}: on/off = {best['on'] / best['off']:.3f}")
    print(f"median honeypot CPU per answer (every thread): on {cmed['on']:.2f} us, off {cmed['off']:.2f} us: "
          f"off/on = {cmed['off'] / cmed['on']:.3f} (the answered rate a CPU-bound honeypot keeps)")
PY
