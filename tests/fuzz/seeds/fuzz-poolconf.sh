#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# The seeds of fuzz-poolconf, made when it runs (none is committed): the
# configurations the project shows (tests/tools/conf-examples.sh) and
# some it refuses, a NUL byte and an overlong line among them.
# Usage: fuzz-poolconf.sh DIR
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$1
sh "$here/../../tools/conf-examples.sh" "$here/../../.." "$out" > /dev/null
good=$out/default-x509.conf
{ echo "pool_name = p"; cat "$good"; } > "$out/bad-unknown-key"
{ cat "$good"; echo "name = h9"; } > "$out/bad-repeated-key"
{ echo "name = # this host"; cat "$good"; } > "$out/bad-comment-value"
{ printf 'name = h\0002\n'; cat "$good"; } > "$out/bad-nul"
{ printf 'tls-cert = /%01100d\n' 0; cat "$good"; } > "$out/bad-long-line"
grep -v '^master' "$good" > "$out/bad-no-master"
printf 'name = "h2\nname = h2#x\nstate-dir = "/a #b" c\n' > "$out/bad-quotes"
