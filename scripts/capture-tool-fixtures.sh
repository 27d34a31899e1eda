#!/usr/bin/env bash
# Regenerates crates/sip/tests/fixtures/tools/<run>/NNNN.sip: the exact SIP requests
# that real scanners / test tools send, captured by scripts/sip-responder.py (a fake
# Asterisk PBX) on loopback.  One folder per tool invocation, one raw message per file,
# at most $MAX_FILES files per folder (the first ones, in arrival order).
#
# Needs: python3, sipvicious (pip install sipvicious), nmap, sipsak, sipp (apt: sip-tester),
# baresip (apt: baresip-core).
# Needs root for nmap -sU.  All traffic goes to 127.0.0.0/8 or ::1 only; every tool
# runs under `timeout` with small counts.  A full run takes about 70 seconds.
# Exits 1 if any run captured nothing.
#
# Usage: scripts/capture-tool-fixtures.sh [RUN...]   (default: all runs)
#   KEEP_WORK=1  keep the work dir (responder logs, tool output) instead of deleting it
#   OUT_DIR=DIR  write the runs under DIR instead of the fixtures folder (scripts/check-real-tools.sh)
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT_DIR:-$ROOT/crates/sip/tests/fixtures/tools}
RESPONDER=$ROOT/scripts/sip-responder.py
SIPP_XML=$ROOT/scripts/sipp
MAX_FILES=${MAX_FILES:-40}
PORT=5060
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sip-capture.XXXXXX")
RESP_PID=

cleanup() {
    [ -n "$RESP_PID" ] && kill "$RESP_PID" 2>/dev/null
    if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

for bin in python3 sipvicious_svmap sipvicious_svwar sipvicious_svcrack nmap sipsak sipp baresip timeout; do
    command -v "$bin" >/dev/null || { echo "missing: $bin" >&2; exit 1; }
done

start_responder() { # DIR ADDR...
    local dir=$1; shift
    local binds=() i
    for a in "$@"; do binds+=(--bind "$a"); done
    python3 "$RESPONDER" "${binds[@]}" --port $PORT --out "$dir/raw" --max-seconds 120 \
        2>"$dir/responder.log" &
    RESP_PID=$!
    for i in $(seq 50); do
        grep -q '^ready' "$dir/responder.log" 2>/dev/null && return 0
        kill -0 "$RESP_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "responder did not start:" >&2; cat "$dir/responder.log" >&2
    return 1
}

stop_responder() {
    sleep 0.5 # late retransmissions / ACKs
    kill "$RESP_PID" 2>/dev/null
    wait "$RESP_PID" 2>/dev/null
    RESP_PID=
}

SUMMARY=()
FAILED=0
# capture NAME SECONDS "ADDR..." CMD...
capture() {
    local name=$1 secs=$2 addrs=$3; shift 3
    if [ ${#SELECTED[@]} -gt 0 ] && [[ " ${SELECTED[*]} " != *" $name "* ]]; then return; fi
    local dir=$WORK/$name dest=$OUT/$name rc total kept
    mkdir -p "$dir/raw"
    # shellcheck disable=SC2086 # addrs is a word list on purpose
    start_responder "$dir" $addrs || exit 1 # e.g. port 5060 already taken
    echo "== $name: $*" | tee "$dir/command"
    (cd "$dir" && timeout -k 2 "$secs" "$@" >"$dir/tool.log" 2>&1)
    rc=$?
    stop_responder
    total=$(find "$dir/raw" -name '*.sip' | wc -l)
    rm -rf "$dest" && mkdir -p "$dest"
    find "$dir/raw" -name '*.sip' | sort | head -n "$MAX_FILES" | xargs -r cp -t "$dest"
    kept=$(find "$dest" -name '*.sip' | wc -l)
    [ "$rc" = 124 ] && rc="$rc (timeout)"
    SUMMARY+=("$(printf '%-22s %3d kept / %3d captured, tool exit %s' "$name" "$kept" "$total" "$rc")")
    if [ "$total" -eq 0 ]; then
        SUMMARY+=("  ^ FAILED: nothing captured, see tool.log (KEEP_WORK=1)")
        FAILED=1
    fi
}

SELECTED=("$@")
LO=127.0.0.1
SV=(-b $LO -x $LO) # sipvicious: bind + Via/Contact on loopback, not the host IP (svwar/svcrack ignore -b)
printf '100\n101\n' >"$WORK/users.txt"
printf '1234\n100\nsecret\n' >"$WORK/passwords.txt"

echo "== versions"
{
    sipvicious_svmap --version 2>&1 | head -1
    nmap --version | head -1
    sipsak --version 2>&1 | head -1
    sipp -v 2>&1 | grep -o 'SIPp v[^ ]*' | head -1
    baresip -h 2>&1 | head -1 | cut -d' ' -f1-2
} | tee "$WORK/versions.txt"

# --- SIPVicious: svmap (OPTIONS scan by default), svwar (extension enumeration),
#     svcrack (online digest password guessing)
capture svmap 30 "$LO" sipvicious_svmap "${SV[@]}" $LO
capture svmap-range 30 "$LO 127.0.0.2 127.0.0.3" sipvicious_svmap "${SV[@]}" $LO-127.0.0.3
capture svmap-invite 30 "$LO" sipvicious_svmap "${SV[@]}" -m INVITE $LO
capture svmap-register 30 "$LO" sipvicious_svmap "${SV[@]}" -m REGISTER $LO
capture svmap-compact 30 "$LO" sipvicious_svmap "${SV[@]}" -c $LO
capture svmap-ipv6 30 "::1" sipvicious_svmap -6 -b ::1 -x ::1 ::1
capture svwar 30 "$LO" sipvicious_svwar "${SV[@]}" -e100-105 $LO
capture svwar-invite 30 "$LO" sipvicious_svwar "${SV[@]}" -e100-105 -m INVITE $LO
capture svwar-options 30 "$LO" sipvicious_svwar "${SV[@]}" -e100-105 -m OPTIONS $LO
capture svwar-ipv6 30 "::1" sipvicious_svwar -6 -x ::1 -e100-101 ::1
capture svcrack 30 "$LO" sipvicious_svcrack "${SV[@]}" -u100 -r100-110 $LO
capture svcrack-miss 30 "$LO" sipvicious_svcrack "${SV[@]}" -u101 -r100-104 --maximumtime 2 $LO

# --- nmap: UDP port probe + the three SIP NSE scripts; -sV SIP probe; TCP sip-methods
capture nmap 60 "$LO" nmap -n -Pn -sU -p$PORT --script sip-methods,sip-enum-users,sip-brute \
    --script-args "sip-enum-users.minext=100,sip-enum-users.maxext=105,userdb=$WORK/users.txt,passdb=$WORK/passwords.txt" $LO
capture nmap-sv 60 "$LO" nmap -n -Pn -sU -sV -p$PORT $LO
capture nmap-tcp 60 "$LO" nmap -n -Pn -sT -p$PORT --script sip-methods $LO

# --- sipsak: OPTIONS ping (UDP and TCP), registration with right and wrong password
capture sipsak 20 "$LO" sipsak -vv -s sip:100@$LO
capture sipsak-tcp 20 "$LO" sipsak -vv --transport=tcp -s sip:100@$LO
capture sipsak-register 20 "$LO" sipsak -vv -U -a 100 -u 100 -s sip:100@$LO
capture sipsak-register-badpw 20 "$LO" sipsak -vv -U -a wrongpass -u 100 -s sip:100@$LO

# --- SIPp: built-in uac scenario (1 call), REGISTER and INVITE with digest auth
SIPP=(-m 1 -i $LO -p 5071 -nostdin -timeout 15s -trace_err)
capture sipp-uac 30 "$LO" sipp -sn uac "${SIPP[@]}" $LO:$PORT
capture sipp-register 30 "$LO" sipp -sf "$SIPP_XML/register-auth.xml" -s 100 -au 100 -ap 100 "${SIPP[@]}" $LO:$PORT
capture sipp-invite-auth 30 "$LO" sipp -sf "$SIPP_XML/uac-auth.xml" -s 100 -au 100 -ap 100 "${SIPP[@]}" $LO:$PORT

# --- baresip: a softphone registering (digest auth), then unregistering when -t ends it. Only
#     the account module: no audio devices, no stdin interface.
mkdir -p "$WORK/baresip"
printf 'sip_listen\t%s:0\nmodule_path\t/usr/lib/baresip/modules\nmodule\taccount.so\n' $LO >"$WORK/baresip/config"
printf '<sip:100@%s>;auth_pass=100;regint=60\n' $LO >"$WORK/baresip/accounts"
capture baresip-register 20 "$LO" baresip -f "$WORK/baresip" -t 2

echo
echo "== fixtures in ${OUT#"$ROOT"/}"
printf '%s\n' "${SUMMARY[@]}"
echo "total: $(find "$OUT" -name '*.sip' | wc -l) files, $(find "$OUT" -name '*.sip' -printf '%s\n' | awk '{s+=$1} END {print s+0}') bytes"
exit $FAILED
