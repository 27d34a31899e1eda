#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from the parser's test fixtures (fuzz/corpus is gitignored).
#
#   fuzz/seed.sh            # all targets
#   fuzz/seed.sh parse uri  # only these
#
# parse:  every fixture message as is (RFC 4475, RFC 5118, captured tool traffic).
# frame:  the same messages prefixed with the control byte the frame target reads first
#         (read size and limits), plus two messages back to back.
# uri:    request-URIs and From/To/Contact/Via values cut out of the fixtures.
# digest: Authorization / WWW-Authenticate / Proxy-* values cut out of the fixtures.
# hep:    the HEP fixtures (crates/hep/tests/fixtures/*.hep), each also twice in a row (a stream).
# capture: the application's test captures up to 16 KB (crates/sipscope/tests/golden/), as
#         they are, gzip- and zstd-compressed, and converted by editcap (pcapng, µs pcap) when
#         it is installed; the larger ones cut to their first 4 KB.
# wire:   the frames of the same captures in the wire target's format (a control byte for the
#         link type, default or small limits and 1 ms time steps, then [length][step][frame]
#         per frame), one seed per capture and link type, at most 16 KB each.
# pbx:    each captured tool message (fixtures/tools) as one record of the pbx target, over UDP
#         (control 0x00) and TCP (0x08), and each tool's messages in order from one source,
#         a second apart.
# client_hello: ClientHellos Python's ssl module writes (TLS 1.3 and 1.2, with SNI), whole and
#         cut short, and an SSLv2-format hello.
# Previously found crashes (crates/sip/tests/fixtures/fuzz-regressions/) are added to every
# target but capture, wire, pbx and client_hello (they are SIP messages, not these targets' formats) so they are re-run
# first.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fixtures="$here/../crates/sip/tests/fixtures"
corpus="$here/corpus"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(parse frame uri digest hep capture wire pbx client_hello)
captures="$here/../crates/sipscope/tests/golden"

messages=()
while IFS= read -r -d '' f; do
    messages+=("$f")
done < <(find "$fixtures/rfc4475" "$fixtures/rfc5118" "$fixtures/tools" -type f \
    \( -name '*.dat' -o -name '*.sip' -o -path '*/rfc5118/*' \) ! -name 'INDEX.tsv' ! -name '*.md' \
    -size +0 -print0 2>/dev/null | sort -z)

# name of a seed: the fixture path below fixtures/, with / turned into _
seed_name() { local rel="${1#"$fixtures"/}"; echo "${rel//\//_}"; }

# Header values of the given names (case-insensitive, compact forms too), one file each.
values_of() { # <out dir> <prefix> <sed -E name alternation>
    local out="$1" prefix="$2" names="$3" f n=0
    for f in "${messages[@]}"; do
        # Header section only; unfold continuation lines; keep `value` of matching headers.
        tr -d '\r' <"$f" | sed -n '1,/^$/p' | sed -E ':a;N;$!ba;s/\n[ \t]+/ /g' |
            sed -nE "s/^($names)[ \t]*:[ \t]*//Ip" |
            while IFS= read -r value; do
                printf '%s' "$value" >"$out/$prefix-$(seed_name "$f")-$((n += 1))"
            done || true
    done
}

for target in "${targets[@]}"; do
    out="$corpus/$target"
    mkdir -p "$out"
    case "$target" in
    parse)
        for f in "${messages[@]}"; do cp "$f" "$out/$(seed_name "$f")"; done
        ;;
    frame)
        for f in "${messages[@]}"; do
            # 0x00: 1-byte reads, default limits; 0x47: 8-byte reads, tight limits.
            { printf '\x00'; cat "$f"; } >"$out/r1-$(seed_name "$f")"
            { printf '\x47'; cat "$f"; } >"$out/r8-$(seed_name "$f")"
        done
        for f in "${messages[@]:0:20}"; do
            { printf '\x0f'; cat "$f" "$f"; } >"$out/twice-$(seed_name "$f")"
        done
        ;;
    uri)
        for f in "${messages[@]}"; do
            head -n 1 "$f" | tr -d '\r' | awk '{ if (NF >= 2) printf "%s", $2 }' >"$out/ruri-$(seed_name "$f")"
        done
        values_of "$out" hdr 'from|f|to|t|contact|m|route|record-route|via|v'
        ;;
    digest)
        values_of "$out" auth 'authorization|proxy-authorization|www-authenticate|proxy-authenticate'
        ;;
    hep)
        for f in "$here"/../crates/hep/tests/fixtures/*.hep; do
            cp "$f" "$out/$(basename "$f")"
            cat "$f" "$f" >"$out/twice-$(basename "$f")"
        done
        ;;
    capture)
        while IFS= read -r -d '' f; do
            name="$(basename "$(dirname "$f")")-$(basename "$f")"
            if [ "$(stat -c %s "$f")" -le 16384 ]; then
                cp "$f" "$out/$name"
            else
                head -c 4096 "$f" >"$out/head-$name"
                continue
            fi
            gzip -9nc "$f" >"$out/$name.gz"
            if command -v zstd >/dev/null; then zstd -q -19 -c "$f" >"$out/$name.zst"; fi
            if command -v editcap >/dev/null; then
                editcap -F pcapng "$f" "$out/$name.pcapng" 2>/dev/null || true
                editcap -F pcap "$f" "$out/$name.usec" 2>/dev/null || true
            fi
        done < <(find "$captures" -type f \( -name '*.pcap' -o -name '*.pcapng' \) -print0 | sort -z)
        ;;
    pbx)
        python3 - "$out" "$fixtures/tools" <<'PY'
import os, struct, sys
out, tools = sys.argv[1], sys.argv[2]
def record(message, step=1, source=0):
    return struct.pack(">HBB", len(message), step, source) + message
for tool in sorted(os.listdir(tools)):
    folder = os.path.join(tools, tool)
    if not os.path.isdir(folder):
        continue
    messages = [open(os.path.join(folder, f), "rb").read() for f in sorted(os.listdir(folder)) if f.endswith(".sip")]
    for i, m in enumerate(messages):
        for control in (0x00, 0x08):
            open(os.path.join(out, f"{tool}-{i:04}-{control:02x}"), "wb").write(bytes([control]) + record(m))
    together = b"".join(record(m, 20) for m in messages)[:16384]
    open(os.path.join(out, f"{tool}-all"), "wb").write(b"\x00" + together)
PY
        ;;
    client_hello)
        python3 - "$out" <<'PY'
import os, ssl, sys
out = sys.argv[1]
for name, sni, top in [("tls13", "sip.example.com", None), ("tls12", "pbx.test", ssl.TLSVersion.TLSv1_2)]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    if top:
        ctx.maximum_version = top
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    try:
        ctx.wrap_bio(incoming, outgoing, server_hostname=sni).do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    open(os.path.join(out, name), "wb").write(hello)
    open(os.path.join(out, name + "-cut"), "wb").write(hello[: len(hello) // 2])
open(os.path.join(out, "sslv2"), "wb").write(bytes([0x80, 0x2E, 0x01, 0x00, 0x02]) + bytes(45))
PY
        ;;
    wire)
        find "$captures" -type f \( -name '*.pcap' -o -name '*.pcapng' \) -print0 | sort -z |
            xargs -0 python3 "$here/wire_seeds.py" "$out"
        ;;
    *)
        echo "unknown target: $target" >&2
        exit 2
        ;;
    esac
    if [ -d "$fixtures/fuzz-regressions" ] && [ "$target" != capture ] && [ "$target" != wire ] &&
        [ "$target" != pbx ] && [ "$target" != client_hello ]; then
        find "$fixtures/fuzz-regressions" -type f -exec cp {} "$out/" \;
    fi
    find "$out" -type f -size 0 -delete
    echo "$target: $(find "$out" -type f | wc -l) seeds in $out"
done
