#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# Write every xlmigd.conf the project shows into DIR, one file each, and
# print their paths, one a line:
#   doc-PATH-N.conf    the N-th block tagged ```conf of the Markdown file
#                      PATH (README.md, docs/..., '/' written '-')
#   default.conf       etc/xlmigd.conf as installed (its keys commented out)
#   default-x509.conf  etc/xlmigd.conf with its keys uncommented ("#key ="
#                      lines), all but psk-file
#   default-psk.conf   the same with psk-file instead of tls-cert, tls-key
#                      and tls-ca
# A block left open at the end of its file is an error.
# Usage: conf-examples.sh SRCDIR DIR
set -eu
src=$1
out=$2
mkdir -p "$out"
cd "$src"
for md in README.md docs/*.md docs/*/*.md; do
    [ -f "$md" ] || continue
    base=$(printf '%s' "${md%.md}" | tr '/' '-')
    awk -v out="$out" -v base="$base" -v md="$md" '
        /^```conf[ \t]*$/ {
            n++
            f = sprintf("%s/doc-%s-%d.conf", out, base, n)
            printf "" > f
            print f
            open = 1
            next
        }
        open && /^```/ { close(f); open = 0; next }
        open { print > f }
        END {
            if (open) {
                print md ": a ```conf block is not closed" > "/dev/stderr"
                exit 1
            }
        }' "$md"
done
cp etc/xlmigd.conf "$out/default.conf"
echo "$out/default.conf"
uncomment='s/^#\([a-z][a-z0-9-]* =\)/\1/'
sed -e "$uncomment" -e '/^psk-file =/d' etc/xlmigd.conf > "$out/default-x509.conf"
echo "$out/default-x509.conf"
sed -e "$uncomment" -e '/^tls-\(cert\|key\|ca\) =/d' etc/xlmigd.conf \
    > "$out/default-psk.conf"
echo "$out/default-psk.conf"
