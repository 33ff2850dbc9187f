#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# Give every source file git knows the licence's SPDX line, as its first
# comment line (after a #! line): C and headers "/* ... */", the others
# "# ...".  Files that have one are left alone, so it can run again after
# a merge brings new files.
# Usage: scripts/spdx.sh [--check]   (--check: list the files without
#                                     the line, change nothing; exit 1
#                                     if there are any)
set -eu
cd "$(dirname "$0")/.."
tag='SPDX-License-Identifier: LGPL-2.1-only'
check=false
[ "${1:-}" = --check ] && check=true

out=$(git ls-files -- '*.c' '*.h' '*.sh' '*.service' '*.pc.in' Makefile \
        debian/rules .ci/run 'tools/completion/*' |
while IFS= read -r f; do
    [ -f "$f" ] || continue
    head -n 3 "$f" | grep -q 'SPDX-License-Identifier' && continue
    if $check; then
        echo "$f"
        continue
    fi
    tmp=$(mktemp)
    case $f in
    *.c|*.h)
        { printf '/* %s */\n' "$tag"; cat "$f"; } > "$tmp" ;;
    *)
        if head -n 1 "$f" | grep -q '^#!'; then
            { head -n 1 "$f"; printf '# %s\n' "$tag"; tail -n +2 "$f"; } > "$tmp"
        else
            { printf '# %s\n' "$tag"; cat "$f"; } > "$tmp"
        fi ;;
    esac
    cat "$tmp" > "$f"       # keeps the file's mode
    rm -f "$tmp"
    echo "spdx: $f"
done)
[ -z "$out" ] || echo "$out"
if $check && [ -n "$out" ]; then
    exit 1
fi
