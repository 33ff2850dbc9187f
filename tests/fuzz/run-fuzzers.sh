#!/bin/sh
# Run each libFuzzer target for a bounded time from its seeds.
# Usage: run-fuzzers.sh SECONDS TARGET...
# Prints "fuzz: N passed, N failed" (one per target); non-zero on a crash.
set -u
secs=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
passed=0
failed=0
for t in "$@"; do
    name=$(basename "$t")
    work=$(mktemp -d)
    [ -d "$here/seeds/$name" ] && cp "$here/seeds/$name"/* "$work/" 2>/dev/null
    if "$t" -max_total_time="$secs" -max_len=8192 -timeout=10 \
            -artifact_prefix="$work/" "$work" > "$work.log" 2>&1; then
        echo "fuzz $name: ok ($(grep -Eo 'Done [0-9]+ runs' "$work.log" | tail -1))"
        passed=$((passed + 1))
    else
        echo "fuzz $name: FAILED"
        tail -n 40 "$work.log"
        failed=$((failed + 1))
    fi
    rm -rf "$work" "$work.log"
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
