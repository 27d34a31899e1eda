#!/usr/bin/env bash
# PBX log parser throughput on one core (issue 15: at least 1 M lines/s): builds the
# benchmark example in release and runs it pinned to CPU 0 for both formats, then reads the
# same kind of log end to end with `sipscope logs` into a fresh store (parse + SQLite) for
# comparison. See crates/sipscope/examples/pbx_logs_bench.rs for the line mix.
#
# Usage: bench/logs-parse.sh [LINES]      (default 2000000)
# Needs: cargo, taskset (util-linux).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
LINES=${1:-2000000}

if [ -r /proc/loadavg ]; then
    read -r load1 _ < /proc/loadavg
    echo "1-minute load average: $load1 (above ~0.5 the numbers are noisy)" >&2
fi
cargo build -q --release -p sipscope --example pbx_logs_bench --bin sipscope
for format in asterisk freeswitch; do
    taskset -c 0 target/release/examples/pbx_logs_bench --lines "$LINES" --rounds 5 --format "$format" | tail -1
done

# End to end: every fixture line repeated, into a scratch store.
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FIX=crates/sipscope/tests/fixtures/pbx_logs
python3 - "$TMP/messages" "$LINES" "$FIX/asterisk-security.log" "$FIX/asterisk-messages.log" "$FIX/asterisk-pjsip.log" "$FIX/asterisk-services.log" <<'PY'
import sys
out, n, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
lines = [l for f in files for l in open(f, 'rb').read().split(b'\n') if l]
ordinary = b"[2024-01-10 12:36:07] VERBOSE[4242] res_pjsip_registrar.c: Added contact 'sip:101@192.0.2.50:5060;ob' to AOR '101' with expiration of 300 seconds"
with open(out, 'wb') as f:
    for i in range(n):
        f.write((lines[(i // 4) % len(lines)] if i % 4 == 0 else ordinary) + b'\n')
PY
start=$(date +%s.%N)
taskset -c 0 target/release/sipscope logs --format asterisk --db "$TMP/s.db" --json "$TMP/messages" >"$TMP/summary.json"
end=$(date +%s.%N)
python3 - "$TMP/summary.json" "$start" "$end" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); secs = float(sys.argv[3]) - float(sys.argv[2])
print(f"sipscope logs end to end: {s['lines']} lines, {s['attempts']} attempts stored in {secs:.2f} s: "
      f"{s['lines'] / secs / 1e6:.2f} M lines/s, {s['attempts'] / secs / 1e3:.0f} k attempts/s")
PY
