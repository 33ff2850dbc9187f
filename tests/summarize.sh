#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# Run each given command; each ends with a line "<name>: N passed, N failed".
# Print a last line adding them up, and exit non-zero if any command failed.
# Usage: summarize.sh LABEL 'command 1' 'command 2' ...
set -u
label=$1
shift
tp=0
tf=0
rc_all=0
log=$(mktemp)
for c in "$@"; do
    { sh -c "$c"; echo $? > "$log.rc"; } 2>&1 | tee "$log"
    rc=$(cat "$log.rc")
    [ "$rc" -eq 0 ] || rc_all=1
    line=$(grep -E '^[a-z-]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
    if [ -z "$line" ]; then
        echo "$label: '$c' printed no summary line"
        tf=$((tf + 1))
        rc_all=1
        continue
    fi
    p=$(echo "$line" | sed 's/^[a-z-]*: \([0-9]*\) passed.*/\1/')
    f=$(echo "$line" | sed 's/.* passed, \([0-9]*\) failed.*/\1/')
    tp=$((tp + p))
    tf=$((tf + f))
done
rm -f "$log" "$log.rc"
[ "$tf" -eq 0 ] || rc_all=1
echo "$label: $tp passed, $tf failed"
exit $rc_all
