#!/bin/sh
# Run every tests/integration/test-*.sh and end with one line for all:
# "integration: N passed, N failed".  Non-zero when any failed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
passed=0
failed=0
for t in "$here"/test-*.sh; do
    out=$(mktemp)
    bash "$t" 2>&1 | tee "$out"
    line=$(grep -E '^integration: [0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
    rm -f "$out"
    if [ -z "$line" ]; then
        echo "$(basename "$t"): printed no summary line"
        failed=$((failed + 1))
        continue
    fi
    p=$(echo "$line" | sed 's/^integration: \([0-9]*\) passed.*/\1/')
    f=$(echo "$line" | sed 's/.* passed, \([0-9]*\) failed.*/\1/')
    passed=$((passed + p))
    failed=$((failed + f))
done
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
