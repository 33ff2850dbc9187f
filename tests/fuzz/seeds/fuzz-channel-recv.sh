#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# The seeds of fuzz-channel-recv, made when it runs (none is committed):
# built frames (mode 2, 3 with the page transform) of each kind and
# codec, and a raw header (mode 0).  See the target's comment for the
# layout: type codec flags raw(2) out(2) len(2) payload.
# Usage: fuzz-channel-recv.sh DIR
set -eu
out=$1
end='\002\000\000\000\000\000\000\000\000'
# mode 2: END alone; DATA none "hello" then END; ABORT "why".
printf "\\002$end" > "$out/end"
printf "\\002\\001\\000\\000\\000\\005\\000\\005\\000\\005hello$end" > "$out/none"
printf "\\002\\003\\000\\000\\000\\000\\000\\000\\000\\003why" > "$out/abort"
# mode 3: a page frame, codec none: LITERAL "abc", ZERO pfn 7, DROP pfn 7.
printf "\\003\\001\\000\\001\\000\\032\\020\\003\\000\\032\\001\\000\\000\\000\\003abc\\002\\000\\000\\000\\000\\000\\000\\000\\007\\005\\000\\000\\000\\000\\000\\000\\000\\007$end" > "$out/page"
# mode 0: a frame header as it is, its checksum wrong.
printf '\000\001\000\000\000\000\000\000\005\000\000\000\005\000\000\000\000\000\000\000\000hello' > "$out/raw"
# DATA zstd and lz4 of 64 bytes, when the tools are here.
payload=$(printf '%064d' 0)
for c in zstd:2 lz4:3; do
    tool=${c%:*}
    id=${c#*:}
    command -v "$tool" > /dev/null 2>&1 || continue
    printf %s "$payload" | "$tool" -q -c > "$out/.body" 2> /dev/null || continue
    len=$(wc -c < "$out/.body")
    [ "$len" -lt 256 ] || continue
    {
        printf "\\002\\001\\$(printf %03o "$id")\\000\\000\\100\\000\\100\\000\\$(printf %03o "$len")"
        cat "$out/.body"
        printf "$end"
    } > "$out/$tool"
done
rm -f "$out/.body"
