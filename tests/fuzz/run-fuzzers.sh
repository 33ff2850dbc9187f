#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-only
# Run each libFuzzer target for a bounded time from its seeds (the files
# of seeds/NAME/, and those seeds/NAME.sh writes), as many at once as
# there are CPUs ($FUZZ_JOBS overrides; each target is one process, so
# two CPUs run two targets in the time of one).
# Usage: run-fuzzers.sh SECONDS TARGET...
# Prints one line per target, in the order given, then "fuzz: N passed,
# N failed"; non-zero on a crash.
set -u
secs=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
jobs=${FUZZ_JOBS:-$(nproc 2> /dev/null || echo 1)}
[ "$jobs" -ge 1 ] 2> /dev/null || jobs=1
top=$(mktemp -d)
trap 'rm -rf "$top"' EXIT

# run_one INDEX TARGET: its verdict in $top/INDEX.res, its log beside it.
run_one() {
    local t=$2 name work
    name=$(basename "$t")
    work="$top/$1.d"
    mkdir -p "$work"
    [ -d "$here/seeds/$name" ] && cp "$here/seeds/$name"/* "$work/" 2> /dev/null
    # Seeds made at run time (seeds/NAME.sh DIR), from files of the tree.
    if [ -f "$here/seeds/$name.sh" ] &&
            ! sh "$here/seeds/$name.sh" "$work" > "$top/$1.log" 2>&1; then
        { echo "fuzz $name: FAILED (its seeds)"; cat "$top/$1.log"; } > "$top/$1.res"
        return
    fi
    if "$t" -max_total_time="$secs" -max_len=8192 -timeout=10 \
            -artifact_prefix="$work/" "$work" > "$top/$1.log" 2>&1; then
        echo "fuzz $name: ok ($(grep -Eo 'Done [0-9]+ runs' "$top/$1.log" | tail -1))" > "$top/$1.res"
    else
        { echo "fuzz $name: FAILED"; tail -n 40 "$top/$1.log"; } > "$top/$1.res"
    fi
}

i=0
for t in "$@"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
        wait -n
    done
    run_one "$i" "$t" &
    i=$((i + 1))
done
wait

passed=0
failed=0
for ((k = 0; k < i; k++)); do
    if [ -f "$top/$k.res" ]; then
        cat "$top/$k.res"
        if head -1 "$top/$k.res" | grep -q ': ok ('; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
        fi
    else
        echo "fuzz target $k: no verdict"
        failed=$((failed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
