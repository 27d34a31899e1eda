#!/usr/bin/env bash
# Runs the parse benchmark (crates/sip/benches/parse.rs: sipscope vs rsip vs ezk-sip-types on
# the message mix in crates/sip/benches/messages/) and prints a comparison table from
# criterion's target/criterion/<group>/<bench>/new/estimates.json (mean, ns per iteration;
# one iteration parses the whole mix once).
#
# Usage: bench/parse-compare.sh [CRITERION-ARGS...]
#   default args: --measurement-time 3 --warm-up-time 1   (about 1.5 minutes on 2 cores)
#   SKIP_RUN=1   only print the table from the last run's results
# Needs: cargo, python3 (standard library only).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

if [ "$#" -eq 0 ]; then
    set -- --measurement-time 3 --warm-up-time 1
fi

if [ "${SKIP_RUN:-0}" != "1" ]; then
    # Other work on the machine (a build, a test run) skews the numbers badly on 2 cores.
    if [ -r /proc/loadavg ]; then
        read -r load1 _ < /proc/loadavg
        if python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > 0.5 else 1)" "$load1"; then
            echo "warning: 1-minute load average is $load1; results will be noisy" >&2
        fi
    fi
    cargo bench -p sipscope-sip --bench parse -- "$@"
fi

TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

python3 - "$TARGET_DIR/criterion" <<'PY'
import json
import os
import sys

crit = sys.argv[1]

try:
    with open(os.path.join(crit, "mix.json")) as f:
        mix = json.load(f)
except OSError:
    sys.exit(f"no {crit}/mix.json: run the benchmark first")
n_msgs, n_bytes = mix["messages"], mix["bytes"]

# (bench id, parser label, tier, sipscope bench of the same tier)
ROWS = [
    ("sipscope_parse", "sipscope", "parse", "sipscope_parse"),
    ("rsip_parse", "rsip", "parse", "sipscope_parse"),
    ("ezk_parse", "ezk-sip-types", "parse", "sipscope_parse"),
    ("sipscope_typed", "sipscope", "typed", "sipscope_typed"),
    ("rsip_typed", "rsip", "typed", "sipscope_typed"),
    ("ezk_typed", "ezk-sip-types", "typed", "sipscope_typed"),
    ("sipscope_anomalies", "sipscope", "checked", "sipscope_anomalies"),
]


def mean_ns(group, bench):
    path = os.path.join(crit, group, bench, "new", "estimates.json")
    try:
        with open(path) as f:
            est = json.load(f)
    except OSError:
        return None
    m = est["mean"]
    ci = m["confidence_interval"]
    half = (ci["upper_bound"] - ci["lower_bound"]) / 2
    return m["point_estimate"], half


print(f"mix: {n_msgs} messages, {n_bytes} bytes ({n_bytes / n_msgs:.0f} B/message on average)")
print("messages/s from group parse_msgs, MB/s (10^6 bytes) from group parse_bytes;")
print("'vs sipscope' = how this parser's time compares with sipscope's on the same tier")
print("(parse: the crate's message parser alone; typed: + CSeq, From, To and every Via;")
print(" checked: sipscope parse() + anomalies(), i.e. every validation; no other crate does this)")
print()
head = f"{'parser':<14} {'tier':<7} {'ns/msg':>9} {'±':>6} {'messages/s':>12} {'MB/s':>8} {'vs sipscope':>13}"
print(head)
print("-" * len(head))
missing = False
spread = []
for bench, label, tier, ref in ROWS:
    msgs = mean_ns("parse_msgs", bench)
    byts = mean_ns("parse_bytes", bench)
    ref_msgs = mean_ns("parse_msgs", ref)
    if msgs is None:
        print(f"{label:<14} {tier:<7} {'(no result)':>9}")
        missing = True
        continue
    ns, half = msgs
    if byts:
        spread.append((abs(ns - byts[0]) / min(ns, byts[0]), bench))
    per_msg = ns / n_msgs
    rate = n_msgs / (ns * 1e-9)
    mbps = n_bytes / (byts[0] * 1e-9) / 1e6 if byts else float("nan")
    if bench == ref or not ref_msgs:
        ratio = "-"
    elif ns >= ref_msgs[0]:
        ratio = f"{ns / ref_msgs[0]:.1f}x slower"
    else:
        ratio = f"{ref_msgs[0] / ns:.1f}x faster"
    print(f"{label:<14} {tier:<7} {per_msg:>9.0f} {100 * half / ns:>5.1f}% {rate:>12,.0f} {mbps:>8.1f} {ratio:>13}")
if spread:
    worst, which = max(spread)
    print()
    print(f"noise check: both groups time the same work; their means differ by up to "
          f"{100 * worst:.0f}% ({which}). Over ~10% means a noisy machine: rerun, or pass a "
          "longer --measurement-time.")
sys.exit(1 if missing else 0)
PY
